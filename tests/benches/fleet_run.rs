//! Benchmark (issue 14): `egress-probe run` over 10 accounts x 3 Regions x 20 subnets (600
//! probes) against moto behind the fault front adding 50 ms to every API call (as AWS's
//! latency would; the front answers Invoke with a healthy report after the same delay),
//! concurrent (the defaults) vs serial (`--max-accounts 1 --max-regions 1 --concurrency
//! 1`), alternated in the same run against the same server. Prints every round, the
//! medians and the ratio. Run: `scripts/bench-fleet.sh` (BENCH_ROUNDS, BENCH_ACCOUNTS,
//! BENCH_SUBNETS, BENCH_LATENCY_MS change the defaults 3, 10, 20, 50).
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmarks may unwrap

#[path = "../tests/fleet_common/mod.rs"]
mod fleet_common;
#[path = "../tests/installer_common/mod.rs"]
mod installer_common;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use egress_probe_e2e::fault_front::FaultFront;
use egress_probe_e2e::moto::MotoServer;
use egress_probe_installer::artifact::Arch;
use fleet_common::*;
use installer_common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

const REGIONS: &[(&str, &[&str])] = &[
    ("us-east-1", &["us-east-1a", "us-east-1b", "us-east-1c"]),
    ("eu-west-1", &["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
    (
        "ap-southeast-2",
        &["ap-southeast-2a", "ap-southeast-2b", "ap-southeast-2c"],
    ),
];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A VPC with `count` subnets, every one tagged `fleet=bench`.
async fn vpc(config: &aws_config::SdkConfig, count: usize, azs: &[&str]) {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    for i in 0..count {
        ec2.create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(format!("10.0.{i}.0/24"))
            .availability_zone(azs[i % azs.len()])
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Subnet)
                    .tags(Tag::builder().key("fleet").value("bench").build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
}

async fn once(
    config: &aws_config::SdkConfig,
    scope: &[String],
    extra: &[&str],
    probes: usize,
) -> f64 {
    let mut args: Vec<&str> = vec!["run"];
    args.extend(scope.iter().map(String::as_str));
    args.extend_from_slice(extra);
    let started = Instant::now();
    let out = egress_probe(config, &args).await.expect("run");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.json["summary"]["total"], probes as u64);
    assert_eq!(out.json["summary"]["good"], probes as u64);
    secs
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let rounds = if bench_mode {
        env_usize("BENCH_ROUNDS", 3)
    } else {
        1
    };
    let accounts = if bench_mode {
        env_usize("BENCH_ACCOUNTS", 10)
    } else {
        2
    };
    let subnets = if bench_mode {
        env_usize("BENCH_SUBNETS", 20)
    } else {
        2
    };
    let latency = Duration::from_millis(env_usize("BENCH_LATENCY_MS", 50) as u64);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = MotoServer::start().expect("moto");
    // The front stands in for the network and AWS: it runs on its own thread, not on the
    // command's (a current-thread runtime, as in main.rs).
    let front_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("front runtime");
    let front = front_rt
        .block_on(FaultFront::start(&server.endpoint))
        .expect("front");
    rt.block_on(async {
        let direct = server.sdk_config().await;
        let names: Vec<String> = (0..accounts).map(|i| format!("bench{i}")).collect();
        let spec: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "workloads")).collect();
        let org = organisation(&direct, &spec).await.expect("organisation");
        let ids: Vec<String> = names.iter().map(|n| org.id(n)).collect();
        let setup = Instant::now();
        for id in &ids {
            for (region, azs) in REGIONS {
                vpc(&in_account(&direct, id, region).await, subnets, azs).await;
            }
        }
        let regions: Vec<&str> = REGIONS.iter().map(|(r, _)| *r).collect();
        let scope = vec![
            "--accounts".to_string(),
            ids.join(","),
            "--regions".to_string(),
            regions.join(","),
        ];
        let config = direct
            .clone()
            .into_builder()
            .endpoint_url(front.endpoint())
            .build();
        let dir = tempfile::tempdir().expect("tempdir");
        let zip = write_zip(dir.path(), "bootstrap.zip", Arch::Arm64, "bench");
        let zip = zip.to_str().expect("utf-8 path").to_string();
        let mut install: Vec<&str> = vec!["install", "--tag", "fleet=bench", "--zip", &zip, "--yes"];
        install.extend(scope.iter().map(String::as_str));
        let out = egress_probe(&config, &install).await.expect("install");
        let probes = accounts * REGIONS.len() * subnets;
        assert_eq!(out.code, 0, "{}", out.stdout);
        assert_eq!(out.json["summary"]["total"], probes as u64);
        println!(
            "setup: {accounts} accounts x {} Regions x {subnets} subnets = {probes} probes installed in {:.1} s",
            REGIONS.len(),
            setup.elapsed().as_secs_f64()
        );
        front.set_invoke_reply(Some(Arc::new(|name: &str| {
            name.strip_prefix("egress-probe-").map(|s| report(s, false))
        })));
        front.set_latency(latency);
        // Warm-up.
        once(&config, &scope, &[], probes).await;
        let serial = ["--max-accounts", "1", "--max-regions", "1", "--concurrency", "1"];
        let (mut seq, mut par) = (Vec::new(), Vec::new());
        for round in 1..=rounds {
            let s = once(&config, &scope, &serial, probes).await;
            let p = once(&config, &scope, &[], probes).await;
            println!("round {round}: serial {s:.2} s, concurrent {p:.2} s");
            seq.push(s);
            par.push(p);
        }
        let (ms, mp) = (median(&mut seq), median(&mut par));
        println!(
            "run over {probes} probes ({accounts} accounts x {} Regions x {subnets} subnets, {} ms per API call, {rounds} rounds, medians): serial {ms:.2} s, concurrent {mp:.2} s, ratio {:.1}x",
            REGIONS.len(),
            latency.as_millis(),
            ms / mp
        );
    });
}
