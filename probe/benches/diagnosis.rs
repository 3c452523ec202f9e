//! Diagnosis benchmark: a 200-subnet, 50-route-table VPC with 40-rule NACLs, built in code,
//! saved to JSON and loaded back, then every subnet × 3 targets diagnosed from the loaded
//! snapshot. Prints the median (and p10/p90) of many runs. Goal: ≤ 5 ms per diagnosis.
//! The same VPC behind one transit gateway and one egress VPC with a Network Firewall
//! (centralised egress, R37-R53) is measured in the same run, interleaved.
//!
//! Issue 11: diagnosis plus the simulation of every printed fix, for the same 200-subnet
//! VPC with one broken resource per 10 subnets (20 route tables with no default route,
//! each of one private subnet), beside plain diagnosis of that VPC, interleaved.
//!
//! Run: cargo bench -p egress-probe --bench diagnosis

use egress_probe::diagnosis::simulate::prove_fixes;
use egress_probe::diagnosis::{Flow, Subject, diagnose};
use egress_probe::model::*;
use ipnet::{IpNet, Ipv4Net};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const SUBNETS: usize = 200;
const ROUTE_TABLES: usize = 50;
const AZS: [&str; 4] = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"];
const NACLS: usize = 10;

fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::new(a, b, c, d), len).unwrap_or_default()
}

fn route(dest: Ipv4Net, target: RouteTarget, propagated: bool) -> Route {
    Route {
        destination: RouteDestination::Ipv4(dest),
        target,
        state: RouteState::Active,
        propagated,
    }
}

fn nacl_entry(
    n: i32,
    egress: bool,
    proto: Protocol,
    action: RuleAction,
    cidr: IpNet,
    ports: Option<(u16, u16)>,
) -> NaclEntry {
    NaclEntry {
        rule_number: n,
        egress,
        protocol: proto,
        action,
        cidr,
        port_range: ports.map(|(from, to)| PortRange { from, to }),
        icmp_type_code: None,
    }
}

/// Subnets 0..8 are public (two per AZ, NAT gateways in the first four); the rest are
/// private, spread over 49 private route tables, each routed to its AZ's NAT gateway with
/// 20 more specific routes (transit gateway, peering, propagated VPN).
fn build() -> NetworkSnapshot {
    let vpc = "vpc-bench".to_string();
    let mut s = NetworkSnapshot {
        region: Some("us-east-1".into()),
        vpcs: vec![Vpc {
            id: vpc.clone(),
            cidr_blocks: vec![v4(10, 0, 0, 0, 16)],
            ipv6_cidr_blocks: vec![],
            enable_dns_support: Some(true),
            enable_dns_hostnames: Some(true),
            dhcp_options_id: None,
            block_public_access_mode: None,
            is_default: false,
            owner_id: None,
        }],
        internet_gateways: vec![InternetGateway {
            id: "igw-bench".into(),
            attachments: vec![GatewayAttachment {
                vpc_id: vpc.clone(),
                state: "available".into(),
            }],
        }],
        block_public_access: Some(BlockPublicAccess {
            internet_gateway_block_mode: "off".into(),
            exclusions_allowed: None,
            exclusions: vec![],
        }),
        ..Default::default()
    };
    for i in 0..SUBNETS {
        s.subnets.push(Subnet {
            id: format!("subnet-{i:03}"),
            vpc_id: vpc.clone(),
            availability_zone: AZS[i % 4].into(),
            availability_zone_id: Some(format!("use1-az{}", i % 4 + 1)),
            cidr_block: Some(v4(10, 0, i as u8, 0, 24)),
            ipv6_cidr_blocks: vec![],
            available_ip_address_count: Some(200),
            map_public_ip_on_launch: false,
            block_public_access_mode: None,
            name: None,
            enable_dns64: None,
            ipv6_native: false,
        });
    }
    for az in 0..4 {
        s.nat_gateways.push(NatGateway {
            id: format!("nat-{az}"),
            vpc_id: vpc.clone(),
            subnet_id: Some(format!("subnet-{az:03}")),
            state: "available".into(),
            connectivity_type: "public".into(),
            public_ips: vec![Ipv4Addr::new(203, 0, 113, 10 + az as u8)],
            private_ips: vec![],
            failure_code: None,
            failure_message: None,
            availability_mode: "zonal".into(),
            regional_zones: vec![],
            auto_provision_zones: None,
        });
    }
    let local = route(v4(10, 0, 0, 0, 16), RouteTarget::Local, false);
    s.route_tables.push(RouteTable {
        id: "rtb-public".into(),
        vpc_id: vpc.clone(),
        main: true,
        subnet_ids: (0..8).map(|i| format!("subnet-{i:03}")).collect(),
        routes: vec![
            local.clone(),
            route(
                v4(0, 0, 0, 0, 0),
                RouteTarget::InternetGateway("igw-bench".into()),
                false,
            ),
        ],
    });
    for t in 1..ROUTE_TABLES {
        let mut routes = vec![local.clone()];
        for k in 0..20u8 {
            let target = match k % 3 {
                0 => RouteTarget::TransitGateway("tgw-bench".into()),
                1 => RouteTarget::VpcPeeringConnection(format!("pcx-{k}")),
                _ => RouteTarget::VirtualPrivateGateway("vgw-bench".into()),
            };
            routes.push(route(v4(172, 16 + k, 0, 0, 16), target, k % 3 == 2));
        }
        let az = t % 4;
        routes.push(route(
            v4(0, 0, 0, 0, 0),
            RouteTarget::NatGateway(format!("nat-{az}")),
            false,
        ));
        // Private subnets 8.. spread over the tables of their own AZ.
        let same_az: Vec<usize> = (1..ROUTE_TABLES).filter(|x| x % 4 == az).collect();
        let subnet_ids = (8..SUBNETS)
            .filter(|i| i % 4 == az && same_az.get((i / 4) % same_az.len()) == Some(&t))
            .map(|i| format!("subnet-{i:03}"))
            .collect();
        s.route_tables.push(RouteTable {
            id: format!("rtb-{t:02}"),
            vpc_id: vpc.clone(),
            main: false,
            subnet_ids,
            routes,
        });
    }
    let any: IpNet = "0.0.0.0/0".parse().unwrap_or(IpNet::V4(Ipv4Net::default()));
    for a in 0..NACLS {
        let mut entries = Vec::new();
        for egress in [false, true] {
            // 19 deny/allow entries for other traffic, then the allows that matter: 20 per
            // direction, 40 per ACL, listed out of order.
            for k in 0..18 {
                entries.push(nacl_entry(
                    200 - k * 10,
                    egress,
                    Protocol::TCP,
                    RuleAction::Deny,
                    IpNet::V4(v4(192, 0, 2, (k * 8) as u8, 29)),
                    Some((1000 + k as u16, 1000 + k as u16)),
                ));
            }
            entries.push(nacl_entry(
                300,
                egress,
                Protocol::TCP,
                RuleAction::Allow,
                any,
                Some((1024, 65535)),
            ));
            entries.push(nacl_entry(
                310,
                egress,
                Protocol::TCP,
                RuleAction::Allow,
                any,
                Some((0, 1023)),
            ));
        }
        s.network_acls.push(NetworkAcl {
            id: format!("acl-{a}"),
            vpc_id: vpc.clone(),
            is_default: a == 0,
            subnet_ids: (0..SUBNETS)
                .filter(|i| i % NACLS == a)
                .map(|i| format!("subnet-{i:03}"))
                .collect(),
            entries,
        });
    }
    s.security_groups.push(SecurityGroup {
        id: "sg-probe".into(),
        vpc_id: vpc.clone(),
        name: None,
        egress: (0..10u16)
            .map(|k| SgRule {
                rule_id: None,
                protocol: Protocol::TCP,
                port_range: Some(PortRange {
                    from: 8000 + k,
                    to: 8000 + k,
                }),
                peer: SgPeer::Cidr(any),
            })
            .chain([SgRule {
                rule_id: None,
                protocol: Protocol::TCP,
                port_range: Some(PortRange { from: 0, to: 1023 }),
                peer: SgPeer::Cidr(any),
            }])
            .collect(),
        ingress: vec![],
    });
    for i in 8..SUBNETS {
        s.network_interfaces.push(NetworkInterface {
            id: format!("eni-{i:03}"),
            subnet_id: format!("subnet-{i:03}"),
            vpc_id: vpc.clone(),
            interface_type: "lambda".into(),
            status: "in-use".into(),
            availability_zone: Some(AZS[i % 4].into()),
            private_ips: vec![Ipv4Addr::new(10, 0, i as u8, 50)],
            ipv6_addresses: vec![],
            security_group_ids: vec!["sg-probe".into()],
            description: None,
        });
    }
    s
}

/// The single VPC with one broken resource per 10 subnets: every tenth private subnet
/// gets its own route table with only the local route (NO_DEFAULT_ROUTE, R7).
fn build_broken() -> NetworkSnapshot {
    let mut s = build();
    let local = route(v4(10, 0, 0, 0, 16), RouteTarget::Local, false);
    for i in (8..SUBNETS).step_by(10) {
        let id = format!("subnet-{i:03}");
        for t in &mut s.route_tables {
            t.subnet_ids.retain(|x| x != &id);
        }
        s.route_tables.push(RouteTable {
            id: format!("rtb-broken-{i:03}"),
            vpc_id: "vpc-bench".into(),
            main: false,
            subnet_ids: vec![id],
            routes: vec![local.clone()],
        });
    }
    s
}

/// Issue 11: plain diagnosis vs diagnosis + simulation of every fix, interleaved.
fn bench_simulation(flows: &[Flow]) {
    let case = load(
        "single VPC, one broken route table per 10 subnets",
        build_broken(),
    );
    let mut d = diagnose(&case.snapshot, &case.subject, flows, &[]);
    let proofs = prove_fixes(&case.snapshot, &case.subject, flows, &[], &mut d);
    let broken = d
        .findings
        .iter()
        .filter(|f| f.code == "NO_DEFAULT_ROUTE")
        .count();
    assert_eq!(broken, 20, "one broken route table per 10 subnets");
    assert!(
        proofs.iter().filter(|p| p.proven()).count() >= 20,
        "every NO_DEFAULT_ROUTE fix proven"
    );
    let evaluated: usize = proofs.iter().map(|p| p.evaluated_subnets).sum();
    let runs = 60;
    let (mut plain, mut simulated) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        black_box(diagnose(
            black_box(&case.snapshot),
            &case.subject,
            flows,
            &[],
        ));
        plain.push(t.elapsed());
        let t = Instant::now();
        let mut d = diagnose(black_box(&case.snapshot), &case.subject, flows, &[]);
        black_box(prove_fixes(
            &case.snapshot,
            &case.subject,
            flows,
            &[],
            &mut d,
        ));
        simulated.push(t.elapsed());
    }
    plain.sort();
    simulated.sort();
    let (p, q) = (percentile(&plain, 0.5), percentile(&simulated, 0.5));
    println!(
        "== {}: {} findings, {} fixes simulated ({} proven), {} subnet re-evaluations in all",
        case.name,
        d.findings.len(),
        proofs.len(),
        proofs.iter().filter(|p| p.proven()).count(),
        evaluated
    );
    println!(
        "plain diagnosis: median {:.3} ms; diagnosis + simulation of every fix: median {:.3} ms; simulation adds {:.2}x the plain time (aim <= 2x), over {runs} runs",
        p.as_secs_f64() * 1e3,
        q.as_secs_f64() * 1e3,
        (q.as_secs_f64() - p.as_secs_f64()) / p.as_secs_f64()
    );
}

fn subnet(id: &str, vpc: &str, az: usize, cidr: Ipv4Net) -> Subnet {
    Subnet {
        id: id.into(),
        vpc_id: vpc.into(),
        availability_zone: AZS[az].into(),
        availability_zone_id: Some(format!("use1-az{}", az + 1)),
        cidr_block: Some(cidr),
        ipv6_cidr_blocks: vec![],
        available_ip_address_count: Some(10),
        map_public_ip_on_launch: false,
        block_public_access_mode: None,
        name: None,
        enable_dns64: None,
        ipv6_native: false,
    }
}

fn table(id: &str, vpc: &str, subnets: Vec<String>, routes: Vec<Route>) -> RouteTable {
    RouteTable {
        id: id.into(),
        vpc_id: vpc.into(),
        main: false,
        subnet_ids: subnets,
        routes,
    }
}

fn tgw_route(dest: Ipv4Net, attachment: &str, route_type: &str) -> TgwRoute {
    TgwRoute {
        destination: RouteDestination::Ipv4(dest),
        route_type: route_type.into(),
        state: "active".into(),
        attachments: vec![TgwRouteAttachment {
            attachment_id: attachment.into(),
            resource_id: None,
            resource_type: Some("vpc".into()),
        }],
    }
}

/// The same workload VPC with every private table's default route sent to a transit
/// gateway; an egress VPC (4 AZs) with attachment subnets -> firewall endpoint of the AZ
/// -> firewall subnet -> NAT gateway -> internet gateway, and replies back the same way.
fn build_central() -> NetworkSnapshot {
    build_central_with(true)
}

/// Without the firewall: attachment subnets route straight to the NAT gateway of the AZ.
fn build_central_no_firewall() -> NetworkSnapshot {
    build_central_with(false)
}

fn build_central_with(firewall: bool) -> NetworkSnapshot {
    let mut s = build();
    let work = "vpc-bench";
    let egress = "vpc-egress";
    for t in s.route_tables.iter_mut().filter(|t| t.id != "rtb-public") {
        if let Some(r) = t.routes.last_mut() {
            r.target = RouteTarget::TransitGateway("tgw-bench".into());
        }
    }
    s.vpcs.push(Vpc {
        id: egress.into(),
        cidr_blocks: vec![v4(10, 100, 0, 0, 16)],
        ipv6_cidr_blocks: vec![],
        enable_dns_support: Some(true),
        enable_dns_hostnames: Some(true),
        dhcp_options_id: None,
        block_public_access_mode: None,
        is_default: false,
        owner_id: Some("222222222222".into()),
    });
    let elocal = route(v4(10, 100, 0, 0, 16), RouteTarget::Local, false);
    let any4 = v4(0, 0, 0, 0, 0);
    let mut endpoints = Vec::new();
    for az in 0..4u8 {
        let a = usize::from(az);
        s.subnets.push(subnet(
            &format!("subnet-tgw-{az}"),
            work,
            a,
            v4(10, 0, 250, az * 16, 28),
        ));
        s.subnets.push(subnet(
            &format!("subnet-e-tgw-{az}"),
            egress,
            a,
            v4(10, 100, 0, az * 16, 28),
        ));
        s.subnets.push(subnet(
            &format!("subnet-e-fw-{az}"),
            egress,
            a,
            v4(10, 100, 1, az * 16, 28),
        ));
        s.subnets.push(subnet(
            &format!("subnet-e-pub-{az}"),
            egress,
            a,
            v4(10, 100, 2 + az, 0, 24),
        ));
        s.route_tables.push(table(
            &format!("rtb-e-tgw-{az}"),
            egress,
            vec![format!("subnet-e-tgw-{az}")],
            vec![
                elocal.clone(),
                route(
                    any4,
                    if firewall {
                        RouteTarget::VpcEndpoint(format!("vpce-fw-{az}"))
                    } else {
                        RouteTarget::NatGateway(format!("nat-e-{az}"))
                    },
                    false,
                ),
            ],
        ));
        s.route_tables.push(table(
            &format!("rtb-e-fw-{az}"),
            egress,
            vec![format!("subnet-e-fw-{az}")],
            vec![
                elocal.clone(),
                route(any4, RouteTarget::NatGateway(format!("nat-e-{az}")), false),
                route(
                    v4(10, 0, 0, 0, 8),
                    RouteTarget::TransitGateway("tgw-bench".into()),
                    false,
                ),
            ],
        ));
        s.route_tables.push(table(
            &format!("rtb-e-pub-{az}"),
            egress,
            vec![format!("subnet-e-pub-{az}")],
            vec![
                elocal.clone(),
                route(
                    any4,
                    RouteTarget::InternetGateway("igw-egress".into()),
                    false,
                ),
                route(
                    v4(10, 0, 0, 0, 8),
                    if firewall {
                        RouteTarget::VpcEndpoint(format!("vpce-fw-{az}"))
                    } else {
                        RouteTarget::TransitGateway("tgw-bench".into())
                    },
                    false,
                ),
            ],
        ));
        s.nat_gateways.push(NatGateway {
            id: format!("nat-e-{az}"),
            vpc_id: egress.into(),
            subnet_id: Some(format!("subnet-e-pub-{az}")),
            state: "available".into(),
            connectivity_type: "public".into(),
            public_ips: vec![Ipv4Addr::new(203, 0, 113, 100 + az)],
            private_ips: vec![],
            failure_code: None,
            failure_message: None,
            availability_mode: "zonal".into(),
            regional_zones: vec![],
            auto_provision_zones: None,
        });
        endpoints.push(FirewallEndpoint {
            availability_zone: AZS[a].into(),
            subnet_id: Some(format!("subnet-e-fw-{az}")),
            endpoint_id: Some(format!("vpce-fw-{az}")),
            status: "READY".into(),
            status_message: None,
        });
    }
    s.internet_gateways.push(InternetGateway {
        id: "igw-egress".into(),
        attachments: vec![GatewayAttachment {
            vpc_id: egress.into(),
            state: "available".into(),
        }],
    });
    let any: IpNet = IpNet::V4(any4);
    let allow = |n| nacl_entry(n, false, Protocol::ALL, RuleAction::Allow, any, None);
    let allow_out = |n| nacl_entry(n, true, Protocol::ALL, RuleAction::Allow, any, None);
    s.network_acls.push(NetworkAcl {
        id: "acl-egress".into(),
        vpc_id: egress.into(),
        is_default: true,
        subnet_ids: vec![],
        entries: vec![allow(100), allow_out(100)],
    });
    s.transit_gateways.push(TransitGateway {
        id: "tgw-bench".into(),
        owner_id: Some("222222222222".into()),
        state: Some("available".into()),
        association_default_route_table_id: None,
        propagation_default_route_table_id: None,
    });
    let attachment = |id: &str, vpc: &str, prefix: &str, table: &str| TransitGatewayAttachment {
        id: id.into(),
        transit_gateway_id: "tgw-bench".into(),
        resource_type: "vpc".into(),
        resource_id: Some(vpc.into()),
        resource_owner_id: None,
        transit_gateway_owner_id: Some("222222222222".into()),
        state: "available".into(),
        association: Some(TgwAssociation {
            route_table_id: table.into(),
            state: "associated".into(),
        }),
        subnet_ids: (0..4).map(|az| format!("{prefix}-{az}")).collect(),
        appliance_mode_support: Some("enable".into()),
        name: None,
    };
    s.transit_gateway_attachments = vec![
        attachment("tgw-attach-work", work, "subnet-tgw", "tgw-rtb-spoke"),
        attachment(
            "tgw-attach-egress",
            egress,
            "subnet-e-tgw",
            "tgw-rtb-egress",
        ),
    ];
    s.transit_gateway_route_tables = vec![
        TransitGatewayRouteTable {
            id: "tgw-rtb-spoke".into(),
            transit_gateway_id: "tgw-bench".into(),
            routes: vec![tgw_route(any4, "tgw-attach-egress", "static")],
            routes_complete: true,
        },
        TransitGatewayRouteTable {
            id: "tgw-rtb-egress".into(),
            transit_gateway_id: "tgw-bench".into(),
            routes: vec![tgw_route(
                v4(10, 0, 0, 0, 16),
                "tgw-attach-work",
                "propagated",
            )],
            routes_complete: true,
        },
    ];
    if !firewall {
        return s;
    }
    let policy = "arn:aws:network-firewall:us-east-1:222222222222:firewall-policy/egress";
    let group = "arn:aws:network-firewall:us-east-1:222222222222:stateful-rulegroup/allow";
    s.network_firewalls.push(NetworkFirewall {
        name: "fw-egress".into(),
        arn: "arn:aws:network-firewall:us-east-1:222222222222:firewall/fw-egress".into(),
        vpc_id: Some(egress.into()),
        transit_gateway_id: None,
        owner_id: Some("222222222222".into()),
        policy_arn: policy.into(),
        subnet_ids: (0..4).map(|az| format!("subnet-e-fw-{az}")).collect(),
        endpoints,
        status: Some("READY".into()),
        configuration_sync: Some("IN_SYNC".into()),
    });
    s.firewall_policies.push(FirewallPolicy {
        arn: policy.into(),
        name: Some("egress".into()),
        stateless_default_actions: vec!["aws:forward_to_sfe".into()],
        stateless_fragment_default_actions: vec!["aws:forward_to_sfe".into()],
        stateless_rule_groups: vec![],
        stateful_rule_groups: vec![RuleGroupRef {
            arn: group.into(),
            priority: Some(1),
            override_action: None,
        }],
        stateful_rule_order: Some("STRICT_ORDER".into()),
        stateful_default_actions: vec!["aws:drop_established".into()],
        stream_exception_policy: None,
        home_net: Some(vec!["10.0.0.0/8".parse().unwrap_or(any)]),
        tls_inspection_configuration_arn: None,
    });
    s.firewall_rule_groups.push(FirewallRuleGroup {
        arn: group.into(),
        name: Some("allow".into()),
        rule_group_type: "STATEFUL".into(),
        rule_order: Some("STRICT_ORDER".into()),
        ip_sets: Default::default(),
        port_sets: Default::default(),
        rules: RulesSource::DomainList {
            targets: vec![".example.com".into(), ".example.org".into()],
            target_types: vec!["TLS_SNI".into(), "HTTP_HOST".into()],
            generated_rules_type: "ALLOWLIST".into(),
        },
    });
    s
}

/// Nanoseconds this thread has spent on a CPU (Linux `schedstat`), so that the figure holds
/// on a loaded machine where wall time includes waiting for a core.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Case {
    name: &'static str,
    snapshot: NetworkSnapshot,
    json_len: usize,
    load: Duration,
    subject: Subject,
    times: Vec<Duration>,
    cpu_ns: u64,
}

fn load(name: &'static str, built: NetworkSnapshot) -> Case {
    let json = serde_json::to_string(&built).unwrap_or_default();
    let t = Instant::now();
    let snapshot: NetworkSnapshot = match serde_json::from_str(&json) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot load the snapshot: {e}");
            std::process::exit(1);
        }
    };
    let load = t.elapsed();
    // The workload subnets (the egress VPC's are reached through the transit gateway).
    let subject = Subject {
        function: None,
        subnet_ids: snapshot
            .subnets
            .iter()
            .filter(|s| s.vpc_id == "vpc-bench" && !s.id.starts_with("subnet-tgw"))
            .map(|s| s.id.clone())
            .collect(),
        security_group_ids: vec!["sg-probe".into()],
    };
    Case {
        name,
        snapshot,
        json_len: json.len(),
        load,
        subject,
        times: Vec::new(),
        cpu_ns: 0,
    }
}

fn main() {
    let mut cases = [
        load("single VPC", build()),
        load(
            "centralised egress (TGW + egress VPC, no firewall)",
            build_central_no_firewall(),
        ),
        load(
            "centralised egress (TGW + egress VPC + firewall)",
            build_central(),
        ),
    ];
    let flows: Vec<Flow> = [
        (
            "https://example.com/",
            "example.com",
            [198, 51, 100, 10],
            443u16,
        ),
        (
            "tcp://db.example.net:5432",
            "db.example.net",
            [203, 0, 113, 5],
            5432,
        ),
        ("http://example.org/", "example.org", [192, 0, 2, 7], 80),
    ]
    .into_iter()
    .map(|(target, host, ip, port)| Flow {
        target: target.into(),
        host: Some(host.into()),
        destination: Ipv4Addr::from(ip).into(),
        protocol: Protocol::TCP,
        port,
    })
    .collect();
    // Warm up, and check the work is real: a path per subnet and target, every hop
    // evaluated. With no function as subject, the 8 public subnets that host the NAT
    // gateways or share their route table are public by design and walk no Lambda path
    // (issue 11, R9/R12): 192 subnets x 3 targets in the single VPC.
    let mut results = Vec::new();
    for c in &cases {
        let d = diagnose(&c.snapshot, &c.subject, &flows, &[]);
        let nat_hosting = d
            .findings
            .iter()
            .filter(|f| f.code == "SUBNET_HOSTS_NAT_GATEWAY")
            .count();
        assert_eq!(d.paths.len(), (SUBNETS - nat_hosting) * flows.len());
        results.push(d);
    }
    let central_hops = results
        .last()
        .and_then(|d| d.paths.iter().map(|p| p.hops.len()).max())
        .unwrap_or(0);
    assert!(central_hops > 15, "the centralised walk must cross the TGW");
    let runs = 300;
    for _ in 0..runs {
        // Interleaved, so both see the same machine load.
        for c in cases.iter_mut() {
            let cpu = thread_cpu_ns();
            let t = Instant::now();
            let d = diagnose(
                black_box(&c.snapshot),
                black_box(&c.subject),
                black_box(&flows),
                &[],
            );
            c.times.push(t.elapsed());
            c.cpu_ns += cpu
                .zip(thread_cpu_ns())
                .map(|(a, b)| b.saturating_sub(a))
                .unwrap_or(0);
            black_box(d);
        }
    }
    bench_simulation(&flows);
    for (c, d) in cases.iter_mut().zip(&results) {
        c.times.sort();
        println!(
            "== {}: {} subnets x {} targets ({} paths, {} findings, up to {} hops), {} route tables, {}-entry NACLs",
            c.name,
            c.subject.subnet_ids.len(),
            flows.len(),
            d.paths.len(),
            d.findings.len(),
            d.paths.iter().map(|p| p.hops.len()).max().unwrap_or(0),
            c.snapshot.route_tables.len(),
            c.snapshot
                .network_acls
                .first()
                .map(|a| a.entries.len())
                .unwrap_or(0)
        );
        let mut codes = std::collections::BTreeMap::new();
        for f in &d.findings {
            *codes.entry(f.code.as_str()).or_insert(0usize) += 1;
        }
        println!("findings by code: {codes:?}");
        println!(
            "snapshot JSON {} KiB, load {:.2} ms",
            c.json_len / 1024,
            c.load.as_secs_f64() * 1e3
        );
        println!(
            "diagnose: median {:.3} ms, p10 {:.3} ms, p90 {:.3} ms over {runs} runs (goal <= 5 ms)",
            percentile(&c.times, 0.5).as_secs_f64() * 1e3,
            percentile(&c.times, 0.1).as_secs_f64() * 1e3,
            percentile(&c.times, 0.9).as_secs_f64() * 1e3
        );
        println!(
            "diagnose: mean on-CPU time {:.3} ms per run (schedstat; excludes waiting for a core)",
            c.cpu_ns as f64 / runs as f64 / 1e6
        );
    }
}
