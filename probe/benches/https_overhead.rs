//! Probe overhead: the probe's HTTPS check against a local TLS server vs
//! `curl -w '%{time_total}'` on the same request, interleaved in the same run.
//!
//! Run with `scripts/bench-https.sh` (release-like build); `BENCH_N` sets the number of
//! pairs (default 101, at least 50). The TLS server runs on its own thread and runtime, so
//! neither client shares a CPU thread with it; the probe's client runs on a current-thread
//! runtime as in Lambda. The probe's TLS configuration is built once before the runs (as in
//! a warm Lambda process); curl loads its CA file on each run, which its time_total counts.
//! Only loopback traffic.

#[path = "../tests/support/mod.rs"]
mod support;

use egress_probe::model::Status;
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn curl_ms(ca: &std::path::Path, url: &str) -> f64 {
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "--http1.1", "--cacert"])
        .arg(ca)
        .args(["-w", "%{time_total}", url])
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secs: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("time_total");
    secs * 1000.0
}

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(101)
        .max(50);
    let ca = TestCa::new();
    let ca_file = ca.ca_file();

    // The server: its own thread and runtime.
    let (tx, rx) = std::sync::mpsc::channel();
    let server_ca = ca.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let server = https_server(&server_ca, LOCAL_V4, HttpsMode::Status(200)).await;
            tx.send(server.addr()).expect("send addr");
            std::future::pending::<()>().await;
        });
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server address");
    let url = format!("https://127.0.0.1:{}/", addr.port());
    let target = https_target("127.0.0.1", addr.port(), "/");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let h = harness().ca(&ca).build();
    let run_probe = |wall: &mut Vec<f64>, total: &mut Vec<f64>| {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let started = Instant::now();
        let obs = rt.block_on(h.checker.run(&target, timeouts(5000), deadline));
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(obs[0].status, Status::Ok, "{:?}", obs[0]);
        wall.push(elapsed);
        total.push(obs[0].phases.total_ms);
    };

    // Warm-up (builds the probe's TLS configuration once, fills page caches for curl).
    let (mut sink_a, mut sink_b) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        run_probe(&mut sink_a, &mut sink_b);
        curl_ms(ca_file.path(), &url);
    }

    let mut probe_wall = Vec::with_capacity(n);
    let mut probe_total = Vec::with_capacity(n);
    let mut curl = Vec::with_capacity(n);
    for i in 0..n {
        // Alternate which goes first, so neither always follows the other.
        if i % 2 == 0 {
            run_probe(&mut probe_wall, &mut probe_total);
            curl.push(curl_ms(ca_file.path(), &url));
        } else {
            curl.push(curl_ms(ca_file.path(), &url));
            run_probe(&mut probe_wall, &mut probe_total);
        }
    }

    let m_wall = median(&mut probe_wall);
    let m_total = median(&mut probe_total);
    let m_curl = median(&mut curl);
    println!("https_overhead: {n} interleaved pairs, GET {url} (loopback, TLS, test CA)");
    println!(
        "  probe check, wall clock around Checker::run : median {m_wall:.3} ms  p90 {:.3} ms",
        percentile(&mut probe_wall, 0.9)
    );
    println!("  probe check, its own phases.total_ms        : median {m_total:.3} ms");
    println!(
        "  curl -w %{{time_total}}                       : median {m_curl:.3} ms  p90 {:.3} ms",
        percentile(&mut curl, 0.9)
    );
    println!(
        "  ratio probe/curl (wall clock)               : {:.3}x (goal <= 1.1x)",
        m_wall / m_curl
    );
}
