//! The diagnosis on moto-built topologies: each situation is made with EC2 API calls,
//! read back with the real snapshot reader and SDK clients, and diagnosed; the finding
//! codes are asserted (and the healthy topology must be healthy).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use egress_probe::diagnosis::{self, Flow, Subject};
use egress_probe::model::{
    CheckKind, Confirmation, Family, Observation, PathVerdict, Phase, Phases, Protocol, Severity,
    Status,
};
use egress_probe::snapshot::{self, Clients, Scope};
use egress_probe_e2e::moto::MotoServer;
use egress_probe_e2e::topology::{Ids, Topology};
use std::net::IpAddr;

const INTERNET: &str = "203.0.113.10";
const AZ: &str = "us-east-1a";

fn flow() -> Flow {
    Flow {
        target: format!("tcp://{INTERNET}:443"),
        host: None,
        destination: INTERNET.parse().unwrap(),
        protocol: Protocol::TCP,
        port: 443,
    }
}

fn timeout_observation() -> Observation {
    Observation {
        id: format!("tcp://{INTERNET}:443@{INTERNET}"),
        target: format!("tcp://{INTERNET}:443"),
        kind: CheckKind::Tcp,
        host: INTERNET.into(),
        port: Some(443),
        address: Some(INTERNET.parse::<IpAddr>().unwrap()),
        family: Some(Family::Ipv4),
        status: Status::Timeout,
        failed_phase: Some(Phase::Connect),
        os_error: Some("ETIMEDOUT".into()),
        detail: None,
        phases: Phases {
            total_ms: 3000.0,
            ..Default::default()
        },
        http_status: None,
        proxy: None,
        dns: None,
        timeout_ms: 3000,
    }
}

struct Case {
    name: &'static str,
    /// Codes of `error` findings that must be raised for the function subnet.
    expect: &'static [&'static str],
    /// Codes that must not appear.
    absent: &'static [&'static str],
}

async fn diagnose(
    clients: &Clients,
    ids: &Ids,
    observations: &[Observation],
) -> diagnosis::Diagnosis {
    let snap = snapshot::take(
        clients,
        &Scope::Subnets(vec![ids.lambda_subnets[0].clone()]),
    )
    .await
    .unwrap();
    let subject = Subject {
        function: None,
        subnet_ids: vec![ids.lambda_subnets[0].clone()],
        security_group_ids: vec![ids.lambda_sg.clone()],
    };
    diagnosis::diagnose(&snap, &subject, &[flow()], observations)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_topologies_get_the_right_findings() {
    let server = MotoServer::start().expect("moto server");
    let config = server.sdk_config().await;
    let clients = Clients::new(&config);
    let topo = Topology::new(aws_sdk_ec2::Client::new(&config));

    let cases = [
        Case {
            name: "healthy",
            expect: &[],
            absent: &[
                "NO_DEFAULT_ROUTE",
                "LAMBDA_SUBNET_ROUTES_TO_IGW",
                "SG_EGRESS_DENIED",
            ],
        },
        Case {
            name: "lambda_in_public_subnet",
            expect: &["LAMBDA_SUBNET_ROUTES_TO_IGW"],
            absent: &["NO_DEFAULT_ROUTE"],
        },
        Case {
            name: "no_default_route",
            expect: &["NO_DEFAULT_ROUTE"],
            absent: &["LAMBDA_SUBNET_ROUTES_TO_IGW"],
        },
        Case {
            name: "nat_deleted",
            expect: &["NAT_GATEWAY_NOT_AVAILABLE"],
            absent: &["NO_DEFAULT_ROUTE"],
        },
        Case {
            name: "nat_in_private_subnet",
            expect: &["NAT_SUBNET_NO_IGW_ROUTE"],
            absent: &["NAT_GATEWAY_NOT_AVAILABLE"],
        },
        Case {
            name: "nacl_denies_ephemeral",
            expect: &["NACL_INBOUND_EPHEMERAL_DENIED"],
            absent: &["NACL_INBOUND_EPHEMERAL_PARTIAL"],
        },
        Case {
            name: "nacl_partial_ephemeral",
            expect: &["NACL_INBOUND_EPHEMERAL_PARTIAL"],
            absent: &["NACL_INBOUND_EPHEMERAL_DENIED"],
        },
        Case {
            name: "nat_subnet_nacl_blocks",
            expect: &["NAT_SUBNET_NACL_DENIED"],
            absent: &["NACL_OUTBOUND_DENIED"],
        },
        Case {
            name: "sg_no_443_egress",
            expect: &["SG_EGRESS_DENIED"],
            absent: &["NACL_OUTBOUND_DENIED"],
        },
        Case {
            name: "custom_dns_unreachable",
            expect: &["CUSTOM_DNS_UNREACHABLE"],
            absent: &["VPC_DNS_SUPPORT_DISABLED"],
        },
        Case {
            name: "dns_support_off",
            expect: &["VPC_DNS_SUPPORT_DISABLED"],
            absent: &["CUSTOM_DNS_UNREACHABLE"],
        },
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let ids = match case.name {
            "healthy" => topo.healthy_private_with_nat(&[AZ]).await,
            "lambda_in_public_subnet" => topo.lambda_in_public_subnet(AZ).await,
            "no_default_route" => topo.no_default_route(AZ).await,
            "nat_deleted" => topo.nat_deleted(AZ).await,
            "nat_in_private_subnet" => topo.nat_in_private_subnet(AZ).await,
            "nacl_denies_ephemeral" => topo.nacl_denies_ephemeral(AZ).await,
            "nacl_partial_ephemeral" => topo.nacl_partial_ephemeral(AZ).await,
            "nat_subnet_nacl_blocks" => topo.nat_subnet_nacl_blocks(AZ).await,
            "sg_no_443_egress" => topo.sg_no_443_egress(AZ).await,
            "custom_dns_unreachable" => topo.custom_dns_unreachable(AZ).await,
            "dns_support_off" => topo.dns_support_off(AZ).await,
            other => panic!("no topology {other}"),
        }
        .unwrap_or_else(|e| panic!("building {}: {e:#}", case.name));
        let d = diagnose(&clients, &ids, &[]).await;
        let errors: Vec<&str> = d
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.code.as_str())
            .collect();
        for code in case.expect {
            if !errors.contains(code) {
                failures.push(format!("{}: expected {code}, got {errors:?}", case.name));
            }
        }
        for code in case.absent {
            if d.findings.iter().any(|f| f.code == *code) {
                failures.push(format!(
                    "{}: {code} must not be raised, got {errors:?}",
                    case.name
                ));
            }
        }
        if case.name == "healthy" {
            if !errors.is_empty() {
                failures.push(format!("healthy: error findings {errors:?}"));
            }
            if d.paths.iter().any(|p| p.verdict != PathVerdict::Reachable) {
                failures.push(format!("healthy: a path is not reachable: {:?}", d.paths));
            }
        } else if !case.name.contains("dns") {
            // Configuration-only: every error is a prediction, with a fix command.
            for f in d.findings.iter().filter(|f| f.severity == Severity::Error) {
                if f.confirmation != Confirmation::Predicted {
                    failures.push(format!("{}: {} is {:?}", case.name, f.code, f.confirmation));
                }
                if f.rules.is_empty() || f.remediation.ja.is_empty() {
                    failures.push(format!(
                        "{}: {} lacks rules or Japanese text",
                        case.name, f.code
                    ));
                }
            }
            if !d.paths.iter().any(|p| p.verdict != PathVerdict::Reachable) {
                failures.push(format!("{}: no blocked path", case.name));
            }
        }
    }

    // Reconciliation: a timeout on a path the configuration says works points beyond the
    // VPC (R32-R35); the same timeout on a broken path is confirmed.
    let healthy = topo.healthy_private_with_nat(&[AZ]).await.unwrap();
    let d = diagnose(&clients, &healthy, &[timeout_observation()]).await;
    if !d.findings.iter().any(|f| f.code == "TIMEOUT_BEYOND_VPC") {
        failures.push(format!(
            "observed timeout on a healthy path: {:?}",
            codes(&d)
        ));
    }
    let broken = topo.no_default_route(AZ).await.unwrap();
    let d = diagnose(&clients, &broken, &[timeout_observation()]).await;
    match d.findings.iter().find(|f| f.code == "NO_DEFAULT_ROUTE") {
        Some(f)
            if f.confirmation == Confirmation::Confirmed
                && f.explains.contains(&timeout_observation().id) => {}
        other => failures.push(format!(
            "confirmed NO_DEFAULT_ROUTE expected, got {other:?}"
        )),
    }
    if d.findings.iter().any(|f| f.code == "TIMEOUT_BEYOND_VPC") {
        failures.push("a timeout the configuration explains was blamed beyond the VPC".into());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn codes(d: &diagnosis::Diagnosis) -> Vec<String> {
    d.findings.iter().map(|f| f.code.clone()).collect()
}
