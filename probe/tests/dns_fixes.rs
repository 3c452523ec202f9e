//! The DNS path's fix commands (R59-R63) clear their finding: each test takes the command
//! a finding prints for a fixture, applies what that command does to the snapshot (the
//! arguments are read from the printed command, not restated here), diagnoses again and
//! checks the finding is gone. A stand-in for the fix simulation of issue 11 until it
//! covers these commands.

#![allow(clippy::unwrap_used)]

use egress_probe::diagnosis::{Diagnosis, Subject, diagnose_names};
use egress_probe::model::{
    DnsFirewallConfig, NetworkSnapshot, Observation, Protocol, Route, RouteDestination, RouteState,
    RouteTarget, SgPeer, SgRule,
};
use std::path::PathBuf;

fn fixture(name: &str) -> NetworkSnapshot {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn subject(subnet: &str) -> Subject {
    Subject {
        function: None,
        subnet_ids: vec![subnet.into()],
        security_group_ids: vec![],
    }
}

fn run(s: &NetworkSnapshot, subnet: &str, names: &[&str], obs: &[Observation]) -> Diagnosis {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    diagnose_names(s, &subject(subnet), &[], &names, obs)
}

/// The commands of the first finding with `code`.
fn fixes(d: &Diagnosis, code: &str) -> Vec<String> {
    d.findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code} in {:?}", d.findings))
        .fix_commands
        .clone()
}

fn has(d: &Diagnosis, code: &str) -> bool {
    d.findings.iter().any(|f| f.code == code)
}

/// The value after `--flag` in a printed command.
fn flag<'a>(cmd: &'a str, name: &str) -> &'a str {
    let mut words = cmd.split_whitespace();
    while let Some(w) = words.next() {
        if w == name {
            return words.next().unwrap();
        }
    }
    panic!("{name} not in `{cmd}`")
}

fn command<'a>(cmds: &'a [String], prefix: &str) -> &'a str {
    cmds.iter()
        .find(|c| c.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` in {cmds:?}"))
}

fn dns_obs(status: &str, name: &str) -> Observation {
    serde_json::from_value(serde_json::json!({
        "id": "d1", "target": format!("dns:{name}"), "kind": "dns", "host": name,
        "status": status, "phases": {"total_ms": 1.0}, "timeout_ms": 2000
    }))
    .unwrap()
}

#[test]
fn r60_disassociating_the_private_zone_clears_the_shadowing() {
    let mut s = fixture("dns_path");
    let d = run(&s, "subnet-priv-a", &["www.example.com"], &[]);
    let cmds = fixes(&d, "DNS_PRIVATE_ZONE_SHADOWS");
    let cmd = command(&cmds, "aws route53 disassociate-vpc-from-hosted-zone");
    let zone = flag(cmd, "--hosted-zone-id");
    let vpc = flag(cmd, "--vpc").split("VPCId=").nth(1).unwrap();
    let z = s
        .dns
        .private_zones
        .iter_mut()
        .find(|z| z.id == zone)
        .unwrap();
    z.vpc_ids.retain(|v| v != vpc);
    let after = run(&s, "subnet-priv-a", &["www.example.com"], &[]);
    assert!(
        !has(&after, "DNS_PRIVATE_ZONE_SHADOWS"),
        "{:?}",
        after.findings
    );
}

#[test]
fn r60_adding_the_record_clears_the_shadowing() {
    let mut s = fixture("dns_path");
    let d = run(&s, "subnet-priv-a", &["www.example.com"], &[]);
    let cmds = fixes(&d, "DNS_PRIVATE_ZONE_SHADOWS");
    let cmd = command(&cmds, "aws route53 change-resource-record-sets");
    let zone = flag(cmd, "--hosted-zone-id");
    let batch = cmd
        .split_once("--change-batch '")
        .unwrap()
        .1
        .trim_end_matches('\'');
    let batch: serde_json::Value = serde_json::from_str(batch).unwrap();
    let set = &batch["Changes"][0]["ResourceRecordSet"];
    let z = s
        .dns
        .private_zones
        .iter_mut()
        .find(|z| z.id == zone)
        .unwrap();
    z.records
        .as_mut()
        .unwrap()
        .push(egress_probe::model::DnsRecord {
            name: set["Name"].as_str().unwrap().into(),
            record_type: set["Type"].as_str().unwrap().into(),
            values: vec!["192.0.2.80".into()],
            alias_target: None,
        });
    let after = run(&s, "subnet-priv-a", &["www.example.com"], &[]);
    assert!(
        !has(&after, "DNS_PRIVATE_ZONE_SHADOWS"),
        "{:?}",
        after.findings
    );
    assert!(has(&after, "DNS_PRIVATE_ZONE_ANSWER"));
}

#[test]
fn r61_removing_the_matched_entry_clears_the_block() {
    let mut s = fixture("dns_path");
    let d = run(&s, "subnet-priv-a", &["c2.malware.test"], &[]);
    let cmds = fixes(&d, "DNS_FIREWALL_BLOCKS");
    let cmd = command(&cmds, "aws route53resolver update-firewall-domains");
    assert_eq!(flag(cmd, "--operation"), "REMOVE");
    let list = flag(cmd, "--firewall-domain-list-id");
    // Quoted for the shell (`'*.malware.test'`).
    let entry = flag(cmd, "--domains").trim_matches('\'');
    let l = s
        .dns
        .domain_lists
        .iter_mut()
        .find(|l| l.id == list)
        .unwrap();
    let before = l.domains.len();
    l.domains.retain(|d| d != entry);
    assert_eq!(l.domains.len(), before - 1);
    let after = run(&s, "subnet-priv-a", &["c2.malware.test"], &[]);
    assert!(!has(&after, "DNS_FIREWALL_BLOCKS"), "{:?}", after.findings);
    // The other entry of the list still blocks the parent name.
    let parent = run(&s, "subnet-priv-a", &["malware.test"], &[]);
    assert!(has(&parent, "DNS_FIREWALL_BLOCKS"));
}

#[test]
fn r61_fail_open_turns_the_fail_closed_finding_into_beyond_the_vpc() {
    let mut s = fixture("dns_path");
    let obs = [dns_obs("dns_servfail", "api.partner.test")];
    let d = run(&s, "subnet-priv-a", &[], &obs);
    let cmds = fixes(&d, "DNS_FIREWALL_FAIL_CLOSED");
    let cmd = command(&cmds, "aws route53resolver update-firewall-config");
    let vpc = flag(cmd, "--resource-id");
    let mode = flag(cmd, "--firewall-fail-open");
    s.dns.firewall_configs.retain(|c| c.resource_id != vpc);
    s.dns.firewall_configs.push(DnsFirewallConfig {
        resource_id: vpc.into(),
        firewall_fail_open: mode.into(),
    });
    let after = run(&s, "subnet-priv-a", &[], &obs);
    assert!(
        !has(&after, "DNS_FIREWALL_FAIL_CLOSED"),
        "{:?}",
        after.findings
    );
    assert!(has(&after, "DNS_FAILURE_BEYOND_VPC"));
}

#[test]
fn r59_the_endpoint_sg_egress_rule_clears_the_unreachable_target() {
    let mut s = fixture("dns_path");
    let d = run(&s, "subnet-priv-a", &["db.corp.example"], &[]);
    let cmds = fixes(&d, "DNS_FORWARD_TARGET_UNREACHABLE");
    // The fix names the endpoint's group and both protocols (the path engine's own fix).
    let sg_cmds: Vec<&String> = cmds
        .iter()
        .filter(|c| c.starts_with("aws ec2 authorize-security-group-egress"))
        .collect();
    assert!(!sg_cmds.is_empty(), "{cmds:?}");
    for cmd in sg_cmds {
        let group = flag(cmd, "--group-id").to_string();
        for perm in cmd
            .split(" --ip-permissions ")
            .skip(1)
            .flat_map(|p| p.split(' '))
        {
            if !perm.starts_with("IpProtocol=") {
                continue;
            }
            let field = |k: &str| {
                perm.split(',')
                    .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                    .unwrap()
            };
            let port: u16 = field("FromPort").parse().unwrap();
            let cidr = field("IpRanges=[{CidrIp")
                .trim_end_matches("}]")
                .parse()
                .unwrap();
            let g = s
                .security_groups
                .iter_mut()
                .find(|g| g.id == group)
                .unwrap();
            g.egress.push(SgRule {
                rule_id: None,
                protocol: Protocol::parse(field("IpProtocol")).unwrap(),
                port_range: Some(egress_probe::model::PortRange {
                    from: port,
                    to: port,
                }),
                peer: SgPeer::Cidr(cidr),
            });
        }
    }
    let after = run(&s, "subnet-priv-a", &["db.corp.example"], &[]);
    assert!(
        !has(&after, "DNS_FORWARD_TARGET_UNREACHABLE") && !has(&after, "SG_EGRESS_DENIED"),
        "{:?}",
        after.findings
    );
}

#[test]
fn r63_dns64_and_the_nat64_route_clear_their_findings() {
    let mut s = fixture("dns64");
    let d = run(&s, "subnet-v6-a", &[], &[]);
    let dns64 = fixes(&d, "DNS64_DISABLED");
    let cmd = command(&dns64, "aws ec2 modify-subnet-attribute");
    assert!(cmd.ends_with("--enable-dns64"));
    let subnet = flag(cmd, "--subnet-id");
    s.subnets
        .iter_mut()
        .find(|x| x.id == subnet)
        .unwrap()
        .enable_dns64 = Some(true);
    let nat64 = fixes(&d, "NAT64_ROUTE_MISSING");
    let cmd = command(&nat64, "aws ec2 create-route");
    let rtb = flag(cmd, "--route-table-id");
    let dest = flag(cmd, "--destination-ipv6-cidr-block").parse().unwrap();
    let nat = flag(cmd, "--nat-gateway-id");
    s.route_tables
        .iter_mut()
        .find(|t| t.id == rtb)
        .unwrap()
        .routes
        .push(Route {
            destination: RouteDestination::Ipv6(dest),
            target: RouteTarget::NatGateway(nat.into()),
            state: RouteState::Active,
            propagated: false,
        });
    let after = run(&s, "subnet-v6-a", &[], &[]);
    assert!(
        !has(&after, "DNS64_DISABLED") && !has(&after, "NAT64_ROUTE_MISSING"),
        "{:?}",
        after.findings
    );
}
