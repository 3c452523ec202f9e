//! The real `egress-probe` binary against moto (environment from `MotoServer::env()`):
//! install, status, an idempotent dry run, and `run` with reports queued in moto's
//! Docker-free Lambda (moto answers each Invoke with the next queued payload).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use egress_probe_e2e::moto::{MotoServer, REGION};
use egress_probe_installer::artifact::{Arch, fake_elf_header, zip_with_bootstrap};
use std::io::{Read, Write};
use std::process::{Command, Output};

fn bin(server: &MotoServer, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_egress-probe"));
    c.env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(server.env())
        .args(["--max-attempts", "1"])
        .args(args);
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Queues Invoke answers in moto's Docker-free Lambda.
fn queue_invoke_results(server: &MotoServer, results: &[String]) {
    let body = serde_json::json!({ "results": results, "region": REGION }).to_string();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        s,
        "POST /moto-api/static/lambda-simple/response HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.0 201") || answer.starts_with("HTTP/1.1 201"),
        "{answer}"
    );
}

/// A report as a probe returns it: DNS ok, TCP ok or timing out (explained by a finding).
fn report(subnet: &str, az: &str, broken: bool) -> String {
    report_in(subnet, az, "vpc-x", broken, "complete", true)
}

fn report_in(
    subnet: &str,
    az: &str,
    vpc: &str,
    broken: bool,
    analysis: &str,
    with_finding: bool,
) -> String {
    let tcp_id = format!("tcp://192.0.2.10:443@192.0.2.10#{subnet}");
    let (status, findings, verdict) = if broken && !with_finding {
        ("timeout", serde_json::json!([]), "broken")
    } else if broken {
        (
            "timeout",
            serde_json::json!([{
                "code": "NAT_ROUTE_BLACKHOLE", "severity": "error", "confirmation": "confirmed",
                "summary": "0.0.0.0/0 points at deleted NAT gateway nat-0dead",
                "subnet_id": subnet, "resources": ["rtb-0b", "nat-0dead"], "rules": ["R8"],
                "explains": [tcp_id],
                "remediation": {"en": "Point 0.0.0.0/0 at an available NAT gateway.", "ja": "NAT を直してください。"},
                "fix_commands": ["aws ec2 replace-route --route-table-id rtb-0b --destination-cidr-block 0.0.0.0/0 --nat-gateway-id nat-0live"]
            }]),
            "broken",
        )
    } else {
        ("ok", serde_json::json!([]), "healthy")
    };
    serde_json::json!({
        "schema": "egress-probe.report/v1", "probe_version": "0.1.0",
        "identity": {"subnet_id": subnet, "availability_zone": az, "vpc_id": vpc, "security_group_ids": []},
        "started_at": "2026-01-01T00:00:00Z", "duration_ms": 120.0, "budget_ms": 18000,
        "resolver": {"source": "/etc/resolv.conf", "servers": ["10.0.0.2"]},
        "plan": {"targets": [{"kind": "dns", "name": "example.com"}, {"kind": "tcp", "host": "192.0.2.10", "port": 443}],
                 "dns_timeout_ms": 2000, "connect_timeout_ms": 3000, "https_timeout_ms": 5000,
                 "diagnose": "on_failure", "source": "event"},
        "observations": [
            {"id": format!("dns#{subnet}"), "target": "dns:example.com", "kind": "dns", "host": "example.com",
             "status": "ok", "phases": {"total_ms": 2.5}, "timeout_ms": 2000},
            {"id": tcp_id, "target": "tcp://192.0.2.10:443", "kind": "tcp", "host": "192.0.2.10", "port": 443,
             "address": "192.0.2.10", "status": status, "phases": {"total_ms": if broken { 3000.0 } else { 21.0 }},
             "timeout_ms": 3000}
        ],
        "verdict": verdict, "findings": findings, "paths": [],
        "analysis": {"status": analysis, "performed_by": "probe", "reason": "EC2 API unreachable from this subnet"}
    })
    .to_string()
}

#[tokio::test]
async fn binary_installs_reports_status_and_runs_against_moto() {
    let server = MotoServer::start().unwrap();
    let config = server.sdk_config().await;
    let ec2 = aws_sdk_ec2_client(&config);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let mut subnets = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(format!("10.9.{i}.0/24"))
            .availability_zone(*az)
            .send()
            .await
            .unwrap();
        subnets.push((
            s.subnet().unwrap().subnet_id().unwrap().to_string(),
            az.to_string(),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("bootstrap.zip");
    std::fs::write(
        &zip,
        zip_with_bootstrap(&fake_elf_header(Arch::Arm64)).unwrap(),
    )
    .unwrap();
    let zip = zip.to_str().unwrap();

    let o = bin(
        &server,
        &[
            "install",
            "--vpc",
            &vpc_id,
            "--zip",
            zip,
            "--schedule",
            "rate(1 hour)",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("changes made; all done") || out.contains("change(s) made; all done"),
        "{}",
        text(&o)
    );
    assert!(
        o.stderr.is_empty(),
        "no progress when stderr is not a terminal: {}",
        text(&o)
    );

    let o = bin(
        &server,
        &[
            "install",
            "--vpc",
            &vpc_id,
            "--zip",
            zip,
            "--schedule",
            "rate(1 hour)",
            "--dry-run",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("0 change(s) planned"),
        "{}",
        text(&o)
    );

    let o = bin(&server, &["status"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    // Rows are grouped under their AZ (a line of its own), one row per subnet.
    let lines: Vec<&str> = out.lines().collect();
    for (s, az) in &subnets {
        let at = lines
            .iter()
            .position(|l| l.trim_start().starts_with(s.as_str()))
            .unwrap_or_else(|| panic!("{s} missing:\n{out}"));
        let row = lines[at];
        assert!(
            row.contains("rate(1 hour)") && row.contains("Active"),
            "{row}"
        );
        let group = lines[..at]
            .iter()
            .rev()
            .find(|l| !l.starts_with(' '))
            .unwrap_or_else(|| panic!("{s} has no AZ above it:\n{out}"));
        assert_eq!(group.trim(), az.as_str(), "{s} under the wrong AZ:\n{out}");
    }
    assert!(
        out.lines()
            .all(|l| egress_probe_installer::output::width(l) <= 80),
        "{out}"
    );

    // run: the probes answer (in function-name order with --concurrency 1) one healthy and
    // one broken report; exit 1, the matrix, the path section and the finding.
    let mut ordered = subnets.clone();
    ordered.sort_by(|a, b| a.0.cmp(&b.0));
    let (healthy, broken) = (&ordered[0], &ordered[1]);
    queue_invoke_results(
        &server,
        &[
            report(&healthy.0, &healthy.1, false),
            report(&broken.0, &broken.1, true),
        ],
    );
    let o = bin(&server, &["run", "--concurrency", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let bad_row = out.lines().find(|l| l.contains(broken.0.as_str())).unwrap();
    // The matrix row says broken with the timed-out cell (`TO`, item 19's 80-column
    // matrix); the cause is named in the failure details below it.
    assert!(
        bad_row.contains("broken") && bad_row.contains("TO"),
        "{out}"
    );
    assert!(out.contains("NAT_ROUTE_BLACKHOLE"), "{out}");
    let ok_row = out
        .lines()
        .find(|l| l.contains(healthy.0.as_str()))
        .unwrap();
    assert!(
        ok_row.contains("healthy") && ok_row.contains("21ms") && ok_row.contains("2.5ms"),
        "{out}"
    );
    assert!(out.contains("[error] NAT_ROUTE_BLACKHOLE"), "{out}");
    assert!(
        out.contains("2 probes: 1 healthy, 1 failing, 0 could not be run"),
        "{out}"
    );

    // Without queued answers moto echoes the event ("{}"): not a report, exit 2, said per probe.
    let o = bin(&server, &["run", "--output", "json"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["summary"]["errors"], 2);
    assert!(
        v["probes"][0]["error"]
            .as_str()
            .unwrap()
            .contains("did not answer with a report")
    );

    // uninstall leaves nothing of ours.
    // A typo in --subnet fails like `run --subnet` does, before anything is removed.
    let o = bin(
        &server,
        &["uninstall", "--subnet", "subnet-0nosuch", "--yes"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("no egress-probe installed for subnet subnet-0nosuch in us-east-1"),
        "{}",
        text(&o)
    );
    let o = bin(&server, &["run", "--subnet", "subnet-0nosuch"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // Without a terminal and without --yes nothing is removed.
    let o = bin(&server, &["uninstall"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("pass --yes"),
        "{}",
        text(&o)
    );
    let o = bin(&server, &["uninstall", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("account 123456789012, Region us-east-1"),
        "{}",
        text(&o)
    );
    // run in a Region without probes is not a success.
    let o = bin(&server, &["run"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no egress-probe functions in us-east-1"),
        "{}",
        text(&o)
    );
    let o = bin(&server, &["status"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("No egress-probe functions"),
        "{}",
        text(&o)
    );
}

fn aws_sdk_ec2_client(config: &aws_config::SdkConfig) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(config)
}

/// A probe whose own analysis was unavailable (its subnet cannot reach the EC2 API): `run`
/// takes the VPC's snapshot from outside and names the cause (R9: the subnet routes to an
/// internet gateway, and a Lambda ENI has no public IP).
#[tokio::test]
async fn run_diagnoses_from_outside_when_the_probe_could_not() {
    let server = MotoServer::start().unwrap();
    let config = server.sdk_config().await;
    let ec2 = aws_sdk_ec2_client(&config);
    let vpc_id = ec2
        .create_vpc()
        .cidr_block("10.8.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block("10.8.1.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_string();
    let igw = ec2
        .create_internet_gateway()
        .send()
        .await
        .unwrap()
        .internet_gateway()
        .unwrap()
        .internet_gateway_id()
        .unwrap()
        .to_string();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap();
    let rt = ec2
        .create_route_table()
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap()
        .route_table()
        .unwrap()
        .route_table_id()
        .unwrap()
        .to_string();
    ec2.create_route()
        .route_table_id(&rt)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .unwrap();
    ec2.associate_route_table()
        .route_table_id(&rt)
        .subnet_id(&subnet)
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("bootstrap.zip");
    std::fs::write(
        &zip,
        zip_with_bootstrap(&fake_elf_header(Arch::Arm64)).unwrap(),
    )
    .unwrap();
    let o = bin(
        &server,
        &[
            "install",
            "--subnet",
            &subnet,
            "--zip",
            zip.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    queue_invoke_results(
        &server,
        &[report_in(
            &subnet,
            "us-east-1a",
            &vpc_id,
            true,
            "unavailable",
            false,
        )],
    );
    let o = bin(&server, &["run", "--output", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let p = &v["probes"][0];
    assert_eq!(p["diagnosed_from_outside"], true, "{v:#}");
    assert_eq!(p["report"]["analysis"]["performed_by"], "installer");
    let codes: Vec<&str> = p["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"LAMBDA_SUBNET_ROUTES_TO_IGW"), "{codes:?}");
}
