//! The VPC lab: a VPC's configuration in moto (EC2 API), rebuilt as a data plane of Linux
//! network namespaces, veth pairs, bridges and nftables, through which real probes send real
//! packets.
//!
//! ```text
//!  ENI ns ──veth──┐                 router ns (the VPC router)              internet ns
//!  (SG: nft)      ├─ bs0 (subnet A) ─┐  ip rule iif bsN → table of N's RT   203.0.113.0/24
//!  NAT ns ──veth──┘                  ├─ NACLs: nft forward (stateless)   ── rtinet ── DNS, HTTP(S),
//!  (masquerade)   ┌─ bs1 (subnet B) ─┘  IGW: only EIP-mapped sources out     TLS alert, AWS API
//!  custom DNS ────┘                     1:1 EIP↔private translation          (→ unix → moto)
//!                                      rtdns ── Amazon DNS ns (VPC+2) ── side link ──┘
//! ```
//!
//! * One source of truth: scenarios are EC2 API calls ([`scenarios`]); the lab reads the
//!   configuration back with its own reader ([`config`]) and [`Lab::sync`] rebuilds routes,
//!   NACLs, SGs, NAT hosts and DNS from it. Faults are configuration changes + `sync`.
//! * Silent drops everywhere (blackhole routes, nft `drop`), so a broken path is a timeout.
//! * Lambda ENIs are ENIs whose description starts with `AWS Lambda VPC ENI` (moto cannot
//!   create `interface-type=lambda`); [`Lab::add_function_eni`] makes one.
//! * Amazon DNS (VPC+2) forwards to the internet DNS over a side link not subject to routes,
//!   NACLs or SGs (R19); with enableDnsSupport=false it drops queries (a DNS timeout).
//! * Amazon DNS honours the VPC's private hosted zones and DNS Firewall rules from a policy
//!   file it reads per query ([`dns`], [`Lab::dns_policy_file`]).
//! * Custom DHCP DNS servers are hosts in their subnet answering the lab zone themselves.
//! * The VPC's IPv6 block: moto only hands out 2400:6500:…/56 and ignores a caller's block,
//!   so the lab maps it to 2001:db8:100::/56 ([`addrs::map_v6`]).
//! * The probe reaches the EC2 API at `http://203.0.113.100` on the internet side — bridged
//!   to moto over a unix socket — exactly when its egress works.
//! * An `ec2` interface endpoint gets an ENI host per subnet bridged to moto the same way;
//!   [`Lab::ec2_endpoint_url_for`] is then the probe's `AWS_ENDPOINT_URL`.
//! * Benchmark (20 ms RTT via a userspace TUN delay line, [`LabOptions::internet_delay`]):
//!   `cargo bench --profile dev -p egress-probe-e2e --bench lab_latency` (as root).
//! * No link to the host namespace; documentation addresses only; every namespace and
//!   process removed on drop; stale `eplab<pid>-…` namespaces of dead pids removed at start.

pub mod addrs;
pub mod centralised;
pub mod cli_fix;
pub mod config;
pub mod dataplane;
pub mod dns;
pub mod firewall;
pub mod netns;
pub mod nft;
pub mod nfw;
pub mod probe;
pub mod scenarios;

pub use dataplane::{Host, HostKind, Lab, LabOptions, SubnetPlane, VpcPlane};

use std::process::Command;

/// Whether the lab can run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prereq {
    Ready,
    /// Missing prerequisite, with a message saying what to install or how to run.
    Missing(String),
}

/// Checks root, `ip`, `nft` and that a namespace can be created. Locally a missing
/// prerequisite is `Ok(Missing)`: print it and skip. Under `CI=true` it is an `Err`: the lab
/// must never be skipped silently in CI.
pub fn require() -> anyhow::Result<Prereq> {
    let missing = check_prerequisites();
    match missing {
        None => Ok(Prereq::Ready),
        Some(why) => {
            if std::env::var("CI")
                .map(|v| v == "true" || v == "1")
                .unwrap_or(false)
            {
                anyhow::bail!("VPC lab prerequisite missing under CI=true: {why}")
            }
            Ok(Prereq::Missing(why))
        }
    }
}

/// `require()` for tests: `true` = run; `false` = skipped (the reason printed); panics in CI.
pub fn ready_or_skip(test: &str) -> bool {
    match require() {
        Ok(Prereq::Ready) => true,
        Ok(Prereq::Missing(why)) => {
            eprintln!("SKIPPED {test}: the VPC lab needs {why}");
            false
        }
        Err(e) => panic!("{e:#}"),
    }
}

fn check_prerequisites() -> Option<String> {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(String::from))
        });
    if uid.as_deref() != Some("0") {
        return Some("root (run the tests as root, e.g. in CI or with sudo)".into());
    }
    for (tool, arg, pkg) in [
        ("ip", "-V", "iproute2"),
        ("nft", "--version", "nftables"),
        ("ss", "-V", "iproute2"),
    ] {
        if Command::new(tool)
            .arg(arg)
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            return Some(format!("`{tool}` (apt-get install {pkg})"));
        }
    }
    static CHECKS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("{}{}-chk{n}", netns::PREFIX, std::process::id());
    match netns::Netns::create(&name) {
        Ok(ns) => {
            if let Err(e) = ns.nft("table inet eplab_check { }\n") {
                return Some(format!("working nftables in a namespace ({e:#})"));
            }
            None
        }
        Err(e) => Some(format!("permission to create network namespaces ({e:#})")),
    }
}
