//! The DNS path in the VPC lab (R58-R61): Amazon DNS at VPC+2 answers from the VPC's private
//! hosted zone (created in moto's Route 53, associated with the VPC) and from DNS Firewall
//! rules (the lab's stand-in data, handed to the diagnosis too, since moto has no DNS
//! Firewall API). The real probe runs in the function subnet; each scenario asserts the DNS
//! class it observed and the finding that the diagnosis (snapshot read from moto with the
//! DNS reader) names for it.
//!
//! Forward rules (R59): the rule, the endpoint and its security group are moto's; the
//! endpoint's ENIs are lab hosts (moto creates none) with the same addresses and group,
//! running `lab-services dns-endpoint`; the "on-premises" DNS server is a lab host in the
//! public subnet. Both tests run side by side (separate labs, ~1 min).
//!
//! Needs root, iproute2 and nftables: skipped with a message locally, failing under CI=true.

use egress_probe::diagnosis::{self, Subject};
use egress_probe::model::{Confirmation, Finding, Report, Status};
use egress_probe::snapshot::{self, Clients, Scope};
use egress_probe_e2e::lab::dns::{DnsPolicy, FwRule};
use egress_probe_e2e::lab::probe::ProbeRun;
use egress_probe_e2e::lab::scenarios::{self, BaseOptions, BaseVpc};
use egress_probe_e2e::lab::{Lab, LabOptions, ready_or_skip};
use egress_probe_e2e::moto::MotoServer;

struct Env {
    lab: Lab,
    base: BaseVpc,
    moto: MotoServer,
}

impl Env {
    fn fsub(&self) -> &str {
        &self.base.function_subnets[0]
    }

    /// Runs the real probe for `targets`, then diagnoses its observations from outside with
    /// a snapshot read from moto (DNS path included) plus the policy's DNS Firewall.
    async fn probe_and_diagnose(
        &self,
        policy: &DnsPolicy,
        targets: &str,
    ) -> (Report, Vec<Finding>) {
        policy
            .write(&self.lab.dns_policy_file(0))
            .expect("write the DNS policy");
        let run = ProbeRun {
            targets: targets.into(),
            diagnose: Some("never".into()),
            ..Default::default()
        };
        let report = self
            .lab
            .run_probe_once(self.fsub(), &serde_json::json!({}), &run)
            .expect("probe report");
        let config = self.moto.sdk_config().await;
        let clients = Clients::new(&config).with_dns(&config);
        let mut snap = snapshot::take(&clients, &Scope::Subnets(vec![self.fsub().to_string()]))
            .await
            .expect("snapshot from moto");
        policy.firewall_into(&mut snap, &self.base.vpc_id);
        let subject = Subject {
            function: None,
            subnet_ids: vec![self.fsub().to_string()],
            security_group_ids: vec![self.base.sg.clone()],
        };
        let d = diagnosis::diagnose(&snap, &subject, &[], &report.observations);
        (report, d.findings)
    }
}

fn status(report: &Report, target: &str) -> Status {
    report
        .observations
        .iter()
        .find(|o| o.target == target)
        .map(|o| o.status)
        .unwrap_or_else(|| panic!("no observation for {target}: {report:?}"))
}

fn explained(findings: &[Finding], code: &str) -> Finding {
    let codes: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
    findings
        .iter()
        .find(|f| f.code == code && !f.explains.is_empty())
        .unwrap_or_else(|| panic!("no {code} explaining an observation: {codes:?}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_dns_private_zone_and_dns_firewall() {
    if !ready_or_skip("lab_dns_private_zone_and_dns_firewall") {
        return;
    }
    let moto = MotoServer::start().expect("moto");
    let config = moto.sdk_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let base = scenarios::base(&ec2, &BaseOptions::default())
        .await
        .expect("base VPC");
    // R60: private zones need enableDnsHostnames (and enableDnsSupport).
    ec2.modify_vpc_attribute()
        .vpc_id(&base.vpc_id)
        .enable_dns_hostnames(
            aws_sdk_ec2::types::AttributeBooleanValue::builder()
                .value(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // A private zone for the lab's public domain that holds one name only.
    let r53 = aws_sdk_route53::Client::new(&config);
    let zone = r53
        .create_hosted_zone()
        .name("lab.example")
        .caller_reference("lab-dns-zone")
        .vpc(
            aws_sdk_route53::types::Vpc::builder()
                .vpc_id(&base.vpc_id)
                .vpc_region(aws_sdk_route53::types::VpcRegion::UsEast1)
                .build(),
        )
        .hosted_zone_config(
            aws_sdk_route53::types::HostedZoneConfig::builder()
                .private_zone(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let zone_id = zone
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();
    use aws_sdk_route53::types::{
        Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
    };
    r53.change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Upsert)
                        .resource_record_set(
                            ResourceRecordSet::builder()
                                .name("v4.lab.example.")
                                .r#type(RrType::A)
                                .ttl(60)
                                .resource_records(
                                    ResourceRecord::builder()
                                        .value("203.0.113.14")
                                        .build()
                                        .unwrap(),
                                )
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let lab = Lab::start(
        &moto,
        &base.vpc_id,
        LabOptions::discover().expect("lab-services"),
    )
    .await
    .expect("lab");
    let env = Env { lab, base, moto };
    let zones = DnsPolicy::zones_from_moto(&config, &env.base.vpc_id)
        .await
        .unwrap();
    assert_eq!(zones.len(), 1);

    // 1. R60: the private zone shadows www.lab.example (public: 203.0.113.10): NXDOMAIN;
    // v4.lab.example, which the zone holds, still resolves.
    let policy = DnsPolicy {
        zones: zones.clone(),
        ..Default::default()
    };
    let (report, findings) = env
        .probe_and_diagnose(&policy, "dns:www.lab.example dns:v4.lab.example")
        .await;
    assert_eq!(status(&report, "dns:www.lab.example"), Status::DnsNxdomain);
    assert_eq!(status(&report, "dns:v4.lab.example"), Status::Ok);
    let f = explained(&findings, "DNS_PRIVATE_ZONE_SHADOWS");
    assert_eq!(f.confirmation, Confirmation::Confirmed);
    assert!(f.resources.contains(&zone_id), "{f:?}");
    assert!(!findings.iter().any(|f| f.code == "DNS_FAILURE_BEYOND_VPC"));

    // 2. R61: DNS Firewall BLOCK NXDOMAIN for rst.lab.example, OVERRIDE for
    // alert.lab.example (a CNAME to www.lab.example); everything else allowed. No zone.
    let firewall = vec![
        FwRule {
            name: "block-rst".into(),
            domains: vec!["rst.lab.example".into()],
            action: "BLOCK".into(),
            response: Some("NXDOMAIN".into()),
            override_domain: None,
        },
        FwRule {
            name: "override-alert".into(),
            domains: vec!["alert.lab.example".into()],
            action: "BLOCK".into(),
            response: Some("OVERRIDE".into()),
            override_domain: Some("www.lab.example".into()),
        },
        FwRule {
            name: "allow-all".into(),
            domains: vec!["*".into()],
            action: "ALLOW".into(),
            response: None,
            override_domain: None,
        },
    ];
    // The zone is still associated in moto: the diagnosis sees it; keep the lab's DNS in
    // step by leaving it in the policy (names outside lab.example are unaffected).
    let policy = DnsPolicy {
        zones: zones.clone(),
        firewall: firewall.clone(),
        ..Default::default()
    };
    let (report, findings) = env
        .probe_and_diagnose(&policy, "dns:rst.lab.example dns:alert.lab.example")
        .await;
    assert_eq!(status(&report, "dns:rst.lab.example"), Status::DnsNxdomain);
    assert_eq!(status(&report, "dns:alert.lab.example"), Status::Ok);
    let answered: Vec<String> = report
        .observations
        .iter()
        .find(|o| o.target == "dns:alert.lab.example")
        .and_then(|o| o.dns.as_ref())
        .map(|d| d.a.addresses.iter().map(|a| a.to_string()).collect())
        .unwrap_or_default();
    assert_eq!(answered, ["203.0.113.10"], "the override's answer");
    let blocks: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.code == "DNS_FIREWALL_BLOCKS")
        .collect();
    assert_eq!(blocks.len(), 2, "{findings:?}");
    assert!(blocks.iter().all(|f| !f.explains.is_empty()), "{blocks:?}");
    assert!(
        blocks
            .iter()
            .any(|f| f.summary.contains("OVERRIDE") || f.summary.contains("override"))
    );
    assert!(
        !findings.iter().any(|f| f.code == "ANALYSIS_INCONSISTENT"),
        "{findings:?}"
    );

    // 3. R61 fail-closed: DNS Firewall does not answer; every query gets SERVFAIL.
    let down = DnsPolicy {
        zones: zones.clone(),
        firewall: firewall.clone(),
        firewall_down: true,
        fail_open: false,
        ..Default::default()
    };
    let (report, findings) = env
        .probe_and_diagnose(&down, "dns:checkip.lab.example")
        .await;
    assert_eq!(
        status(&report, "dns:checkip.lab.example"),
        Status::DnsServfail
    );
    explained(&findings, "DNS_FIREWALL_FAIL_CLOSED");
    assert!(!findings.iter().any(|f| f.code == "DNS_FAILURE_BEYOND_VPC"));

    // Near miss: fail-open lets the query through (the private zone answers).
    let open = DnsPolicy {
        fail_open: true,
        ..down
    };
    let (report, findings) = env.probe_and_diagnose(&open, "dns:v4.lab.example").await;
    assert_eq!(status(&report, "dns:v4.lab.example"), Status::Ok);
    assert!(
        !findings
            .iter()
            .any(|f| f.code == "DNS_FIREWALL_FAIL_CLOSED")
    );
}

/// R59 in the lab: a forward rule for lab.example to an "on-premises" DNS server
/// (10.0.0.53) through an outbound endpoint whose ENI (10.0.1.53) sits in the function
/// subnet. With the endpoint's security group allowing only HTTPS out, the forwarded name
/// gets SERVFAIL and the diagnosis names the rule, the endpoint and the blocking security
/// group; after the fix it prints (UDP and TCP 53 to the target), the name resolves and the
/// finding is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_dns_forward_rule_through_the_outbound_endpoint() {
    if !ready_or_skip("lab_dns_forward_rule_through_the_outbound_endpoint") {
        return;
    }
    use aws_sdk_route53resolver::types::{
        IpAddressRequest, ResolverEndpointDirection, RuleTypeOption, TargetAddress,
    };
    let moto = MotoServer::start().expect("moto");
    let config = moto.sdk_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    // Two function subnets: an endpoint needs two addresses (R59).
    let base = scenarios::base(
        &ec2,
        &BaseOptions {
            function_subnets: 2,
            ..Default::default()
        },
    )
    .await
    .expect("base VPC");
    let fsub = base.function_subnets[0].clone();
    let fsub_b = base.function_subnets[1].clone();
    let sg = ec2
        .create_security_group()
        .vpc_id(&base.vpc_id)
        .group_name("resolver-outbound")
        .description("resolver-outbound")
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let perm = |proto: &str, port: i32, cidr: &str| {
        aws_sdk_ec2::types::IpPermission::builder()
            .ip_protocol(proto)
            .from_port(port)
            .to_port(port)
            .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip(cidr).build())
            .build()
    };
    ec2.revoke_security_group_egress()
        .group_id(&sg)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    ec2.authorize_security_group_egress()
        .group_id(&sg)
        .ip_permissions(perm("tcp", 443, "0.0.0.0/0"))
        .send()
        .await
        .unwrap();
    let resolver = aws_sdk_route53resolver::Client::new(&config);
    let endpoint = resolver
        .create_resolver_endpoint()
        .creator_request_id("lab-outbound")
        .direction(ResolverEndpointDirection::Outbound)
        .security_group_ids(&sg)
        .ip_addresses(
            IpAddressRequest::builder()
                .subnet_id(&fsub)
                .ip("10.0.1.53")
                .build()
                .unwrap(),
        )
        .ip_addresses(
            IpAddressRequest::builder()
                .subnet_id(&fsub_b)
                .ip("10.0.2.53")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .resolver_endpoint()
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    let rule = resolver
        .create_resolver_rule()
        .creator_request_id("lab-forward")
        .rule_type(RuleTypeOption::Forward)
        .domain_name("lab.example")
        .target_ips(TargetAddress::builder().ip("10.0.0.53").port(53).build())
        .resolver_endpoint_id(&endpoint)
        .send()
        .await
        .unwrap()
        .resolver_rule()
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    resolver
        .associate_resolver_rule()
        .resolver_rule_id(&rule)
        .vpc_id(&base.vpc_id)
        .send()
        .await
        .unwrap();
    // The endpoint's ENIs as lab hosts (moto creates none): same subnets, addresses and
    // security group, so the packets they send meet the rules the engine evaluates.
    let mut enis = Vec::new();
    for (subnet, ip) in [(&fsub, "10.0.1.53"), (&fsub_b, "10.0.2.53")] {
        let eni = ec2
            .create_network_interface()
            .subnet_id(subnet)
            .private_ip_address(ip)
            .description(format!(
                "{} -resolver-endpoint",
                egress_probe_e2e::lab::config::LAMBDA_ENI_DESCRIPTION
            ))
            .groups(&sg)
            .send()
            .await
            .unwrap()
            .network_interface()
            .unwrap()
            .network_interface_id()
            .unwrap()
            .to_string();
        enis.push(eni);
    }
    let mut lab = Lab::start(
        &moto,
        &base.vpc_id,
        LabOptions::discover().expect("lab-services"),
    )
    .await
    .expect("lab");
    lab.add_dns_server("10.0.0.53".parse().unwrap())
        .await
        .unwrap();
    let sockets: Vec<std::path::PathBuf> = enis
        .iter()
        .map(|e| lab.start_resolver_endpoint(e).unwrap())
        .collect();
    let env = Env { lab, base, moto };
    let policy = DnsPolicy {
        forward: vec![egress_probe_e2e::lab::dns::Forward {
            domain: "lab.example".into(),
            targets: vec!["10.0.0.53:53".parse().unwrap()],
            sockets,
        }],
        ..Default::default()
    };

    // The endpoint's SG allows only HTTPS: no target answers, SERVFAIL (R59).
    let (report, findings) = env.probe_and_diagnose(&policy, "dns:www.lab.example").await;
    assert_eq!(status(&report, "dns:www.lab.example"), Status::DnsServfail);
    let f = explained(&findings, "DNS_FORWARD_TARGET_UNREACHABLE");
    assert_eq!(f.confirmation, Confirmation::Confirmed);
    assert!(
        f.resources.contains(&rule) && f.resources.contains(&endpoint),
        "{f:?}"
    );
    assert!(f.resources.contains(&sg), "{f:?}");
    assert!(!findings.iter().any(|f| f.code == "DNS_FAILURE_BEYOND_VPC"));
    let fix: Vec<&String> = f
        .fix_commands
        .iter()
        .filter(|c| c.contains(&format!("authorize-security-group-egress --group-id {sg}")))
        .collect();
    assert_eq!(fix.len(), 2, "UDP and TCP 53: {:?}", f.fix_commands);
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.code == "DNS_FORWARD_TARGET_UNREACHABLE")
            .count(),
        2,
        "one per endpoint ENI"
    );

    // The fix it printed, applied: the healthy forward rule.
    for proto in ["udp", "tcp"] {
        env.lab
            .ec2()
            .authorize_security_group_egress()
            .group_id(&sg)
            .ip_permissions(perm(proto, 53, "10.0.0.53/32"))
            .send()
            .await
            .unwrap();
    }
    let mut env = env;
    env.lab.sync().await.unwrap();
    let (report, findings) = env.probe_and_diagnose(&policy, "dns:www.lab.example").await;
    assert_eq!(status(&report, "dns:www.lab.example"), Status::Ok);
    assert!(
        !findings
            .iter()
            .any(|f| f.code == "DNS_FORWARD_TARGET_UNREACHABLE"),
        "{findings:?}"
    );
}
