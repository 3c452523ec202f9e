//! The DNS path's fix commands (R25, R59-R63) clear their finding: each test takes the
//! command a finding prints for a fixture, parses it back into its change
//! (`Change::parse_cli`, the parser `--what-if` uses) and applies it (`Change::apply`, the
//! simulator), diagnoses again and checks the finding is gone and what else must hold.
//! The catalogue walk (tests/fix_simulation.rs) proves the same fixes break nothing
//! elsewhere; these tests pin the specific consequences of each one.

#![allow(clippy::unwrap_used)]

use egress_probe::diagnosis::{Diagnosis, Subject, diagnose_names};
use egress_probe::model::{Change, NetworkSnapshot, Observation};
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

/// Applies a printed command line as the simulation does.
fn apply(s: &mut NetworkSnapshot, line: &str) {
    let c = Change::parse_cli(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    c.apply(s).unwrap_or_else(|e| panic!("{line}: {e}"));
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
    let zone = flag(cmd, "--hosted-zone-id").to_string();
    let vpc = flag(cmd, "--vpc")
        .split("VPCId=")
        .nth(1)
        .unwrap()
        .to_string();
    // The side effect is printed next to it, in words.
    assert!(cmd.contains("# every name under example.com."), "{cmd}");
    apply(&mut s, cmd);
    let z = s.dns.private_zones.iter().find(|z| z.id == zone).unwrap();
    assert!(!z.vpc_ids.contains(&vpc));
    let after = run(&s, "subnet-priv-a", &["www.example.com"], &[]);
    assert!(
        !has(&after, "DNS_PRIVATE_ZONE_SHADOWS"),
        "{:?}",
        after.findings
    );
    // Applying it again is refused as Route 53 does.
    assert!(Change::parse_cli(cmd).unwrap().apply(&mut s).is_err());
}

#[test]
fn r60_adding_the_record_clears_the_shadowing() {
    let mut s = fixture("dns_path");
    let d = run(&s, "subnet-priv-a", &["www.example.com"], &[]);
    let i = d
        .findings
        .iter()
        .position(|f| f.code == "DNS_PRIVATE_ZONE_SHADOWS")
        .unwrap();
    // The record is the alternative (its address is the owner's to give); the text names
    // the same command.
    let record = d.fix_changes[i]
        .iter()
        .flatten()
        .find(|c| matches!(c, Change::UpsertDnsRecord { .. }))
        .unwrap()
        .cli();
    assert!(d.findings[i].remediation.en.contains(&record), "{record}");
    let line = record.replace("<address>", "192.0.2.80");
    let zone = flag(&line, "--hosted-zone-id").to_string();
    apply(&mut s, &line);
    let z = s.dns.private_zones.iter().find(|z| z.id == zone).unwrap();
    assert!(
        z.records
            .as_ref()
            .unwrap()
            .iter()
            .any(|r| r.name == "www.example.com."
                && r.record_type == "A"
                && r.values == ["192.0.2.80"])
    );
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
    let list = flag(cmd, "--firewall-domain-list-id").to_string();
    // A wildcard entry: what else it unblocks is said in words.
    assert!(
        cmd.contains("# also unblocks every other name *.malware.test matches"),
        "{cmd}"
    );
    let before = s
        .dns
        .domain_lists
        .iter()
        .find(|l| l.id == list)
        .unwrap()
        .domains
        .len();
    apply(&mut s, cmd);
    let l = s.dns.domain_lists.iter().find(|l| l.id == list).unwrap();
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
    let vpc = flag(cmd, "--resource-id").to_string();
    assert_eq!(flag(cmd, "--firewall-fail-open"), "ENABLED");
    apply(&mut s, cmd);
    assert_eq!(
        s.dns.firewall_config(&vpc).unwrap().firewall_fail_open,
        "ENABLED"
    );
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
    assert_eq!(sg_cmds.len(), 2, "{cmds:?}");
    for (cmd, proto) in sg_cmds.iter().zip(["udp", "tcp"]) {
        assert_eq!(flag(cmd, "--group-id"), "sg-resolver");
        assert!(
            cmd.contains(&format!(
                "IpProtocol={proto},FromPort=53,ToPort=53,IpRanges=[{{CidrIp=10.0.20.10/32}}]"
            )),
            "{cmd}"
        );
        apply(&mut s, cmd);
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
    let subnet = flag(cmd, "--subnet-id").to_string();
    apply(&mut s, cmd);
    assert_eq!(
        s.subnets
            .iter()
            .find(|x| x.id == subnet)
            .unwrap()
            .enable_dns64,
        Some(true)
    );
    let nat64 = fixes(&d, "NAT64_ROUTE_MISSING");
    let cmd = command(&nat64, "aws ec2 create-route");
    assert_eq!(flag(cmd, "--destination-ipv6-cidr-block"), "64:ff9b::/96");
    apply(&mut s, cmd);
    let after = run(&s, "subnet-v6-a", &[], &[]);
    assert!(
        !has(&after, "DNS64_DISABLED") && !has(&after, "NAT64_ROUTE_MISSING"),
        "{:?}",
        after.findings
    );
}

#[test]
fn r25_an_amazon_dns_set_ends_no_dhcp_options() {
    let mut s = fixture("dhcp_none");
    let d = run(&s, "subnet-priv-a", &["example.com"], &[]);
    let cmds = fixes(&d, "DHCP_OPTIONS_NONE");
    assert!(
        cmds.iter()
            .all(|c| !c.contains("--dhcp-options-id default")),
        "{cmds:?}"
    );
    for c in &cmds {
        apply(&mut s, c);
    }
    let after = run(&s, "subnet-priv-a", &["example.com"], &[]);
    assert!(!has(&after, "DHCP_OPTIONS_NONE"), "{:?}", after.findings);
}

/// R61, issue 11: a wildcard entry blocks more than the name. With a free priority in
/// front of the blocking rule, the narrowest fix comes first: a new domain list holding
/// only the name and an ALLOW rule for it just before the block; the rest of the wildcard
/// stays blocked. The printed lines run as they are in one shell (the list's ID is
/// captured), and they are what the simulation proved.
#[test]
fn r61_a_wildcard_block_gets_an_allow_rule_for_the_name_alone() {
    use egress_probe::diagnosis::simulate::prove_fixes;
    let mut s = fixture("dns_path");
    let g = &mut s.dns.firewall_rule_groups[0];
    g.rules
        .iter_mut()
        .find(|r| r.name.as_deref() == Some("override-ads"))
        .unwrap()
        .priority = 20;
    let names = vec!["x.ads.test".to_string()];
    let mut d = diagnose_names(&s, &subject("subnet-priv-a"), &[], &names, &[]);
    let proofs = prove_fixes(&s, &subject("subnet-priv-a"), &[], &names, &mut d);
    let i = d
        .findings
        .iter()
        .position(|f| f.code == "DNS_FIREWALL_BLOCKS")
        .unwrap();
    let p = proofs.iter().find(|p| p.finding == i).unwrap();
    assert!(p.proven() && p.alternative == 0, "{}", p.text(false));
    let cmds = &d.findings[i].fix_commands;
    assert_eq!(cmds.len(), 3, "{cmds:?}");
    assert!(cmds[0].starts_with("RSLVR_FDL_NEW=$(aws route53resolver create-firewall-domain-list --name allow-x-ads-test"), "{cmds:?}");
    assert!(
        cmds[1].ends_with(
            "--firewall-domain-list-id \"$RSLVR_FDL_NEW\" --operation ADD --domains x.ads.test"
        ),
        "{cmds:?}"
    );
    assert!(cmds[2].contains("--firewall-rule-group-id rslvr-frg-1 --firewall-domain-list-id \"$RSLVR_FDL_NEW\" --priority 19 --action ALLOW"), "{cmds:?}");
    for c in cmds {
        apply(&mut s, c);
    }
    let after = run(&s, "subnet-priv-a", &["x.ads.test"], &[]);
    assert!(!has(&after, "DNS_FIREWALL_BLOCKS"), "{:?}", after.findings);
    let other = run(&s, "subnet-priv-a", &["y.ads.test"], &[]);
    assert!(has(&other, "DNS_FIREWALL_BLOCKS"), "{:?}", other.findings);
}
