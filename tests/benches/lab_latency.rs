//! VPC lab benchmark: the probe's healthy DNS + TCP + HTTPS checks against the physical
//! floor of round trips and against curl and dig in the same namespace, same run, with a
//! 20 ms RTT delay line on the internet link; and the time from a silent drop to a report
//! against the configured timeout.
//!
//! Run as root: `cargo bench -p egress-probe-e2e --bench lab_latency` (`LAB_BENCH_RUNS=N`,
//! default 15). Prints medians and ratios. Not a test: no assertions on timing.

use egress_probe::model::{CheckKind, Report};
use egress_probe_e2e::lab::probe::ProbeRun;
use egress_probe_e2e::lab::scenarios::{self, BaseOptions};
use egress_probe_e2e::lab::{Lab, LabOptions, Prereq, require};
use egress_probe_e2e::moto::MotoServer;
use std::time::{Duration, Instant};

const RTT: Duration = Duration::from_millis(20);

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    match require()? {
        Prereq::Ready => {}
        Prereq::Missing(why) => {
            eprintln!("lab_latency skipped: the VPC lab needs {why}");
            return Ok(());
        }
    }
    let runs: usize = std::env::var("LAB_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(bench(runs))
}

async fn bench(runs: usize) -> anyhow::Result<()> {
    let moto = MotoServer::start()?;
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
    let base = scenarios::base(&ec2, &BaseOptions::default()).await?;
    let mut options = LabOptions::discover()?;
    options.internet_delay = Some(RTT);
    let mut lab = Lab::start(&moto, &base.vpc_id, options).await?;
    let subnet = base.function_subnets[0].clone();
    let run = ProbeRun {
        targets: "dns:v4.lab.example tcp://v4.lab.example:80 https://v4.lab.example/".into(),
        diagnose: Some("never".into()),
        connect_timeout: Duration::from_secs(3),
        https_timeout: Duration::from_secs(3),
        ..Default::default()
    };
    let ca = lab.ca_file().to_string_lossy().to_string();
    let (mut p_dns, mut p_tcp, mut p_https) = (vec![], vec![], vec![]);
    let (mut c_dns, mut c_tcp, mut c_https) = (vec![], vec![], vec![]);
    let mut d_dns = vec![];
    // Warm-up (ARP/ND, conntrack, first TLS key generation on the server).
    let _ = lab.run_probe_once(&subnet, &serde_json::json!({}), &run)?;
    for _ in 0..runs {
        let report: Report = lab.run_probe_once(&subnet, &serde_json::json!({}), &run)?;
        for o in &report.observations {
            if !o.status.is_ok() {
                anyhow::bail!("unhealthy during the benchmark: {} {:?}", o.id, o.status);
            }
            match o.kind {
                CheckKind::Dns => p_dns.push(o.phases.total_ms),
                CheckKind::Tcp => p_tcp.push(o.phases.connect_ms.unwrap_or(o.phases.total_ms)),
                CheckKind::Https => p_https.push(o.phases.total_ms),
            }
        }
        let out = lab.exec_in(
            &subnet,
            "curl",
            &[
                "-sS",
                "-o",
                "/dev/null",
                "--cacert",
                &ca,
                "-w",
                "%{time_namelookup} %{time_connect} %{time_total}",
                "https://v4.lab.example/",
            ],
        )?;
        let t: Vec<f64> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|v| v.parse::<f64>().ok())
            .map(|s| s * 1000.0)
            .collect();
        if let [dns, connect, total] = t[..] {
            c_dns.push(dns);
            c_tcp.push(connect - dns);
            c_https.push(total);
        }
        let started = Instant::now();
        let out = lab.exec_in(
            &subnet,
            "dig",
            &["+tries=1", "+time=2", "+short", "v4.lab.example", "A"],
        )?;
        if out.status.success() {
            d_dns.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let rtt = RTT.as_secs_f64() * 1000.0;
    println!(
        "VPC lab, internet link RTT {rtt} ms (userspace TUN delay line), {runs} runs, medians in ms"
    );
    println!(
        "{:<28} {:>10} {:>10} {:>12} {:>14}",
        "check", "probe", "curl/dig", "floor", "probe/floor"
    );
    let row = |name: &str, p: f64, c: f64, floor: f64| {
        let ratio = if floor > 0.0 {
            format!("{:.2}", p / floor)
        } else {
            "-".into()
        };
        println!(
            "{name:<28} {p:>10.1} {c:>10.1} {floor:>12.1} {ratio:>14}   probe/curl {:.2}",
            p / c
        );
    };
    // DNS goes to Amazon DNS (VPC+2), whose upstream is a side link without the delay (R19).
    row("DNS A (VPC+2)", median(p_dns), median(d_dns.clone()), 0.0);
    row(
        "DNS (curl's lookup)",
        median(vec![]).max(0.0),
        median(c_dns),
        0.0,
    );
    row("TCP connect (1 RTT)", median(p_tcp), median(c_tcp), rtt);
    // HTTPS: TCP (1 RTT) + TLS 1.3 (1 RTT) + request/response (1 RTT).
    row(
        "HTTPS total (3 RTT)",
        median(p_https),
        median(c_https),
        3.0 * rtt,
    );
    println!(
        "dig wall time includes process start; the probe's figures are its own phase timings."
    );

    // Silent drop → report, against the configured timeout.
    base.route_functions_to_igw(lab.ec2()).await?;
    lab.sync().await?;
    let timeout = Duration::from_millis(1500);
    let drop_run = ProbeRun {
        targets: "tcp://203.0.113.14:80".into(),
        connect_timeout: timeout,
        diagnose: Some("never".into()),
        ..Default::default()
    };
    let (mut obs, mut wall) = (vec![], vec![]);
    for _ in 0..runs.min(7) {
        let started = Instant::now();
        let report = lab.run_probe_once(&subnet, &serde_json::json!({}), &drop_run)?;
        wall.push(started.elapsed().as_secs_f64() * 1000.0);
        for o in &report.observations {
            if !o.status.is_timeout_like() {
                anyhow::bail!("expected a timeout, got {:?}", o.status);
            }
            obs.push(o.phases.total_ms);
        }
    }
    let t = timeout.as_secs_f64() * 1000.0;
    let (o, w) = (median(obs), median(wall));
    println!(
        "silent drop (public subnet, R9): timeout {t:.0} ms; observation {o:.1} ms ({:.3}x); whole probe process {w:.1} ms ({:.3}x)",
        o / t,
        w / t
    );
    drop(lab);
    drop(moto);
    Ok(())
}
