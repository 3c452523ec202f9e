//! Benchmark: `egress-probe install` into 100 subnets against moto, one subnet at a time
//! (`--concurrency 1`) vs bounded concurrency (`--concurrency 16`), alternated in the same
//! run against the same server; each install is undone (uninstall) before the next.
//! Prints every round, the medians and the ratio. Run: `scripts/bench-install.sh`
//! (BENCH_ROUNDS, BENCH_SUBNETS and BENCH_CONCURRENCY change the defaults 5, 100, 16).
//! BENCH_LATENCY_MS=50 puts the fault front in front of moto, adding 50 ms to every API
//! call of the installs (as AWS's latency would; the uninstalls between them run without
//! it), so the figure is about the tool, not moto's CPU (issue 14).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

#[path = "../tests/installer_common/mod.rs"]
mod installer_common;

use egress_probe_e2e::fault_front::FaultFront;
use egress_probe_e2e::moto::MotoServer;
use egress_probe_installer::artifact::Arch;
use installer_common::*;
use std::time::{Duration, Instant};

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

async fn once(
    config: &aws_config::SdkConfig,
    vpc: &str,
    zip: &str,
    concurrency: usize,
    subnets: usize,
    latency: Option<(&FaultFront, Duration)>,
) -> f64 {
    let c = concurrency.to_string();
    if let Some((front, l)) = latency {
        front.set_latency(l);
    }
    let started = Instant::now();
    let out = egress_probe(
        config,
        &["install", "--vpc", vpc, "--zip", zip, "--concurrency", &c],
    )
    .await
    .expect("install");
    let secs = started.elapsed().as_secs_f64();
    if let Some((front, _)) = latency {
        front.set_latency(Duration::ZERO);
    }
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(
        out.json["probes"].as_array().map(|a| a.len()),
        Some(subnets)
    );
    let un = egress_probe(config, &["uninstall", "--yes"])
        .await
        .expect("uninstall");
    assert_eq!(un.code, 0, "{}", un.stdout);
    secs
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run once then.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let rounds = if bench_mode {
        env_usize("BENCH_ROUNDS", 5)
    } else {
        1
    };
    let subnets = if bench_mode {
        env_usize("BENCH_SUBNETS", 100)
    } else {
        6
    };
    let concurrency = env_usize("BENCH_CONCURRENCY", 16);
    let latency_ms = env_usize("BENCH_LATENCY_MS", 0) as u64;
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
        let config = if latency_ms > 0 {
            server
                .sdk_config()
                .await
                .into_builder()
                .endpoint_url(front.endpoint())
                .build()
        } else {
            server.sdk_config().await
        };
        let latency = (latency_ms > 0).then(|| (&front, Duration::from_millis(latency_ms)));
        let azs = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"];
        let topo = build_vpc(&config, subnets, &azs).await.expect("vpc");
        let dir = tempfile::tempdir().expect("tempdir");
        let zip = write_zip(dir.path(), "bootstrap.zip", Arch::Arm64, "bench");
        let zip = zip.to_str().expect("utf-8 path").to_string();
        // Warm-up (moto loads its backends lazily).
        once(&config, &topo.vpc_id, &zip, concurrency, subnets, latency).await;
        let (mut seq, mut par) = (Vec::new(), Vec::new());
        for round in 1..=rounds {
            let s = once(&config, &topo.vpc_id, &zip, 1, subnets, latency).await;
            let p = once(&config, &topo.vpc_id, &zip, concurrency, subnets, latency).await;
            println!("round {round}: concurrency 1 {s:.2} s, concurrency {concurrency} {p:.2} s");
            seq.push(s);
            par.push(p);
        }
        let (ms, mp) = (median(&mut seq), median(&mut par));
        println!(
            "install into {subnets} subnets (moto, {latency_ms} ms added per API call, {rounds} rounds, medians): concurrency 1 {ms:.2} s, concurrency {concurrency} {mp:.2} s, ratio {:.2}x",
            ms / mp
        );
    });
}
