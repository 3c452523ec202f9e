//! The DNS path (R58-R60) read from moto and diagnosed: a Resolver outbound endpoint in
//! two subnets with a security group that allows only HTTPS out, a FORWARD rule for
//! corp.example through it, associated with the VPC, and a private hosted zone for
//! example.com associated with the VPC — built through the Route 53 Resolver and Route 53
//! APIs moto implements, read back by the product's reader (`Clients::with_dns`), and
//! explained by the engine. moto has no DNS Firewall and no Route 53 Profiles (HTTP 500):
//! those calls must become `unsupported` gaps, not errors (the scripted-HTTP test
//! `probe/tests/snapshot_dns_mocked.rs` covers them).
//!
//! Each test starts its own moto server (killed on drop, also on failure) on loopback.

#![allow(clippy::unwrap_used)] // test helpers: a failed setup should fail the test

use aws_sdk_route53resolver::types::{
    IpAddressRequest, ResolverEndpointDirection, RuleTypeOption, TargetAddress,
};
use egress_probe::diagnosis::{Subject, diagnose_names};
use egress_probe::model::{GapKind, Observation};
use egress_probe::snapshot::{self, Clients, Scope, call};
use egress_probe_e2e::moto::MotoServer;
use egress_probe_e2e::topology::Topology;

/// What the engine needs to explain a name on this VPC (R58-R60).
struct Built {
    vpc: String,
    subnets: Vec<String>,
    endpoint: String,
    rule: String,
    zone: String,
}

async fn build(config: &aws_config::SdkConfig, topo: &Topology) -> Built {
    let ids = topo
        .healthy_private_with_nat(&["us-east-1a", "us-east-1b"])
        .await
        .unwrap();
    // R60: private zones need enableDnsHostnames (moto's default is off, as AWS's).
    topo.vpc_dns(&ids.vpc, None, Some(true)).await.unwrap();
    // The endpoint's security group: HTTPS out only, so DNS to the target is blocked (R59).
    let sg = topo
        .security_group(&ids.vpc, "resolver-outbound", true)
        .await
        .unwrap();
    topo.sg_egress(&sg, "tcp", Some((443, 443)), "0.0.0.0/0")
        .await
        .unwrap();
    let resolver = aws_sdk_route53resolver::Client::new(config);
    let ep = resolver
        .create_resolver_endpoint()
        .creator_request_id("egress-probe-test-endpoint")
        .name("outbound")
        .direction(ResolverEndpointDirection::Outbound)
        .security_group_ids(&sg)
        .ip_addresses(
            IpAddressRequest::builder()
                .subnet_id(&ids.lambda_subnets[0])
                .build()
                .unwrap(),
        )
        .ip_addresses(
            IpAddressRequest::builder()
                .subnet_id(&ids.lambda_subnets[1])
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let endpoint = ep.resolver_endpoint().unwrap().id().unwrap().to_string();
    let rule = resolver
        .create_resolver_rule()
        .creator_request_id("egress-probe-test-rule")
        .name("corp")
        .rule_type(RuleTypeOption::Forward)
        .domain_name("corp.example")
        .target_ips(TargetAddress::builder().ip("10.0.200.10").port(53).build())
        .resolver_endpoint_id(&endpoint)
        .send()
        .await
        .unwrap();
    let rule = rule.resolver_rule().unwrap().id().unwrap().to_string();
    resolver
        .associate_resolver_rule()
        .resolver_rule_id(&rule)
        .vpc_id(&ids.vpc)
        .send()
        .await
        .unwrap();
    let route53 = aws_sdk_route53::Client::new(config);
    let zone = route53
        .create_hosted_zone()
        .name("example.com")
        .caller_reference("egress-probe-test-zone")
        .vpc(
            aws_sdk_route53::types::Vpc::builder()
                .vpc_id(&ids.vpc)
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
    let zone = zone
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();
    Built {
        vpc: ids.vpc,
        subnets: ids.lambda_subnets,
        endpoint,
        rule,
        zone,
    }
}

fn dns_obs(status: &str, name: &str) -> Observation {
    serde_json::from_value(serde_json::json!({
        "id": "d1", "target": format!("dns:{name}"), "kind": "dns", "host": name,
        "status": status, "phases": {"total_ms": 1.0}, "timeout_ms": 2000
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolver_rules_endpoints_and_private_zones_are_read_and_explain_names() {
    let server = MotoServer::start().expect("moto server");
    let config = server.sdk_config().await;
    let topo = Topology::new(aws_sdk_ec2::Client::new(&config));
    let b = build(&config, &topo).await;

    let scope = Scope::Vpc(b.vpc.clone());
    let plain = snapshot::take(&Clients::new(&config), &scope)
        .await
        .unwrap();
    assert!(
        !plain.dns.read,
        "without DNS clients the section is not read"
    );
    let snap = snapshot::take(&Clients::new(&config).with_dns(&config), &scope)
        .await
        .unwrap();
    let dns = &snap.dns;
    assert!(dns.read);

    // R58: the association and its FORWARD rule with the target and endpoint.
    assert_eq!(dns.rule_associations.len(), 1, "{dns:#?}");
    assert_eq!(dns.rule_associations[0].resolver_rule_id, b.rule);
    assert_eq!(dns.rule_associations[0].vpc_id, b.vpc);
    let rule = dns.rule(&b.rule).unwrap();
    assert_eq!(rule.rule_type, "FORWARD");
    assert_eq!(rule.domain_name.trim_end_matches('.'), "corp.example");
    assert_eq!(rule.target_ips[0].ip.to_string(), "10.0.200.10");
    assert_eq!(rule.target_ips[0].port, 53);
    assert_eq!(
        rule.resolver_endpoint_id.as_deref(),
        Some(b.endpoint.as_str())
    );
    // R59: the endpoint with its security group and one ENI per subnet.
    let ep = dns.endpoint(&b.endpoint).unwrap();
    assert_eq!(ep.direction, "OUTBOUND");
    assert_eq!(ep.host_vpc_id, b.vpc);
    assert!(ep.ip_addresses_read);
    let mut subnets: Vec<&str> = ep
        .ip_addresses
        .iter()
        .map(|i| i.subnet_id.as_str())
        .collect();
    subnets.sort_unstable();
    let mut want: Vec<&str> = b.subnets.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(subnets, want);
    assert!(ep.ip_addresses.iter().all(|i| i.ip.is_some()));
    // R60: the private zone associated with the VPC.
    assert_eq!(dns.private_zones.len(), 1, "{dns:#?}");
    assert_eq!(dns.private_zones[0].id, b.zone);
    assert_eq!(
        dns.private_zones[0].name.trim_end_matches('.'),
        "example.com"
    );
    // No DNS Firewall or Profiles in moto: unsupported gaps, nothing invented.
    for c in [
        call::LIST_FIREWALL_RULE_GROUP_ASSOCIATIONS,
        call::LIST_PROFILE_ASSOCIATIONS,
    ] {
        let gap = snap
            .gap(c)
            .unwrap_or_else(|| panic!("no gap for {c}: {:?}", snap.gaps));
        assert_eq!(gap.kind, GapKind::Unsupported, "{gap:?}");
    }
    assert!(dns.firewall_associations.is_empty());
    // The DNS part costs: round 1 four listings, round 2 the rules and endpoints, round 3
    // the endpoint's addresses — within the budget of 8 per VPC.
    let dns_calls = snap.api_calls - plain.api_calls;
    assert_eq!(dns_calls, 4 + 2 + 1, "DNS calls");
    assert!(dns_calls <= 8);

    // The engine: the forward target is blocked by the endpoint's SG (R59), and the
    // private zone decides example.com names (R60).
    let subject = Subject {
        function: None,
        subnet_ids: vec![b.subnets[0].clone()],
        security_group_ids: vec![],
    };
    let names = vec!["db.corp.example".to_string(), "www.example.com".to_string()];
    let obs = [dns_obs("dns_nxdomain", "www.example.com")];
    let d = diagnose_names(&snap, &subject, &[], &names, &obs);
    let codes: Vec<&str> = d.findings.iter().map(|f| f.code.as_str()).collect();
    let fwd = d
        .findings
        .iter()
        .find(|f| f.code == "DNS_FORWARD_TARGET_UNREACHABLE")
        .unwrap_or_else(|| panic!("{codes:?}"));
    assert!(fwd.resources.contains(&b.rule) && fwd.resources.contains(&b.endpoint));
    assert!(
        fwd.rules.iter().any(|r| r == "udp SG_EGRESS_DENIED"),
        "{fwd:?}"
    );
    let shadow = d
        .findings
        .iter()
        .find(|f| f.code == "DNS_PRIVATE_ZONE_SHADOWS")
        .unwrap_or_else(|| panic!("{codes:?}"));
    assert_eq!(shadow.explains, vec!["d1".to_string()]);
    assert!(shadow.fix_commands.iter().any(|c| c.contains(&format!(
        "disassociate-vpc-from-hosted-zone --hosted-zone-id {} --vpc VPCRegion=us-east-1,VPCId={}",
        b.zone, b.vpc
    ))));
    let path = d
        .paths
        .iter()
        .find(|p| p.target.as_deref() == Some("dns:db.corp.example"))
        .unwrap();
    assert_eq!(
        serde_json::to_value(path.verdict).unwrap(),
        serde_json::json!("blocked")
    );
}
