//! Diagnosis benchmark: a 200-subnet, 50-route-table VPC with 40-rule NACLs, built in code,
//! saved to JSON and loaded back, then every subnet × 3 targets diagnosed from the loaded
//! snapshot. Prints the median (and p10/p90) of many runs. Goal: ≤ 5 ms per diagnosis.
//!
//! Run: cargo bench -p egress-probe --bench diagnosis

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

fn main() {
    let built = build();
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
    let subject = Subject {
        function: None,
        subnet_ids: snapshot.subnets.iter().map(|s| s.id.clone()).collect(),
        security_group_ids: vec!["sg-probe".into()],
    };
    let flows: Vec<Flow> = [
        ("https://example.com/", [198, 51, 100, 10], 443u16),
        ("tcp://db.example.net:5432", [203, 0, 113, 5], 5432),
        ("http://example.org/", [192, 0, 2, 7], 80),
    ]
    .into_iter()
    .map(|(target, ip, port)| Flow {
        target: target.into(),
        host: None,
        destination: Ipv4Addr::from(ip).into(),
        protocol: Protocol::TCP,
        port,
    })
    .collect();
    // Warm up, and check the work is real: 600 paths, every hop evaluated.
    let d = diagnose(&snapshot, &subject, &flows, &[]);
    assert_eq!(d.paths.len(), SUBNETS * flows.len());
    let runs = 300;
    let mut times = Vec::with_capacity(runs);
    let cpu_start = thread_cpu_ns();
    for _ in 0..runs {
        let t = Instant::now();
        let d = diagnose(
            black_box(&snapshot),
            black_box(&subject),
            black_box(&flows),
            &[],
        );
        times.push(t.elapsed());
        black_box(d);
    }
    let cpu_per_run = cpu_start
        .zip(thread_cpu_ns())
        .map(|(a, b)| (b.saturating_sub(a)) as f64 / runs as f64 / 1e6);
    times.sort();
    println!(
        "diagnosis: {} subnets x {} targets ({} paths, {} findings), {} route tables, {}-entry NACLs",
        SUBNETS,
        flows.len(),
        d.paths.len(),
        d.findings.len(),
        snapshot.route_tables.len(),
        snapshot
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
        json.len() / 1024,
        load.as_secs_f64() * 1e3
    );
    println!(
        "diagnose: median {:.3} ms, p10 {:.3} ms, p90 {:.3} ms over {runs} runs (goal <= 5 ms)",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.1).as_secs_f64() * 1e3,
        percentile(&times, 0.9).as_secs_f64() * 1e3
    );
    if let Some(cpu) = cpu_per_run {
        println!(
            "diagnose: mean on-CPU time {cpu:.3} ms per run (schedstat; excludes waiting for a core)"
        );
    }
}
