//! egress-probe-lab: the VPC lab from the command line.
//!
//! `egress-probe-lab demo` is the README's main job: it starts moto and the lab, builds a
//! VPC whose application function spans two subnets in two AZs, breaks one of them through
//! the EC2 API (its own route table without `0.0.0.0/0`), runs the real
//! `egress-probe install` and `egress-probe run` against the lab's Invoke front, prints the
//! per-AZ matrix and the diagnosis, and removes everything — also on Ctrl-C.
//!
//! `egress-probe-lab cleanup` removes lab namespaces (and their processes) left by a run
//! that was killed.
//!
//! Build first: `cargo build --workspace` (the demo runs `egress-probe`,
//! `egress-probe-lambda`, `lab-runtime` and `lab-services` from `$CARGO_TARGET_DIR/debug`
//! or `<workspace>/target/debug`). Needs root, iproute2 and nftables.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use egress_probe_e2e::lab::{self, Prereq};
use egress_probe_e2e::lab_run::{APP_FUNCTION, LAB_TARGETS, LabRun};
use std::process::{ExitCode, Output};

/// The egress-probe VPC lab.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build a VPC with one healthy and one broken subnet, install and run the probes,
    /// print the per-AZ matrix and the diagnosis, clean up. Exit status: that of
    /// `egress-probe run` (1 = a failure was found, as expected).
    Demo,
    /// The same behind a transit gateway: a workload VPC whose function spans two AZs, an
    /// egress VPC with Network Firewall endpoints and NAT gateways; the fault removes the
    /// workload attachment's subnet in one AZ (R37). Exit status as for `demo`.
    DemoTgw,
    /// Remove lab namespaces (and the processes in them) left behind by killed runs.
    Cleanup {
        /// Also remove namespaces of lab runs that are still alive.
        #[arg(long)]
        all: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Cleanup { all } => cleanup(all),
        Cmd::Demo | Cmd::DemoTgw => {
            let centralised = matches!(cli.command, Cmd::DemoTgw);
            match lab::require() {
                Ok(Prereq::Ready) => {}
                Ok(Prereq::Missing(why)) => {
                    eprintln!("egress-probe-lab: the VPC lab needs {why}; nothing was run.");
                    return ExitCode::from(2);
                }
                Err(e) => {
                    eprintln!("egress-probe-lab: {e:#}");
                    return ExitCode::from(2);
                }
            }
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("egress-probe-lab: cannot start tokio: {e}");
                    return ExitCode::from(2);
                }
            };
            let code = rt.block_on(async {
                // The demo runs on a worker (it has blocking steps); this thread only
                // watches for Ctrl-C, so the signal is seen whatever the demo is doing.
                let mut task = tokio::spawn(demo(centralised));
                let mut term =
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(t) => t,
                        Err(e) => {
                            eprintln!("egress-probe-lab: cannot watch SIGTERM: {e}");
                            task.abort();
                            let _ = task.await;
                            return 2;
                        }
                    };
                tokio::select! {
                    r = &mut task => match r {
                        Ok(Ok(code)) => code,
                        Ok(Err(e)) => {
                            eprintln!("egress-probe-lab: {e:#}");
                            2
                        }
                        Err(e) => {
                            eprintln!("egress-probe-lab: the demo task failed: {e}");
                            2
                        }
                    },
                    _ = async {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => {}
                            _ = term.recv() => {}
                        }
                    } => {
                        eprintln!("\negress-probe-lab: interrupted; cleaning up");
                        // Dropping the demo's state removes the front, the lab and moto;
                        // first end the installer the demo may be waiting for.
                        egress_probe_e2e::lab_run::kill_running_installer();
                        task.abort();
                        let _ = task.await;
                        130
                    }
                }
            });
            // Dropping the demo future above removed the front, the lab and moto; make
            // sure nothing of this process is left.
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
            for name in lab::netns::remove_stale() {
                eprintln!("removed stale namespace {name}");
            }
            ExitCode::from(code)
        }
    }
}

fn step(msg: &str) {
    eprintln!("==> {msg}");
}

fn print_output(out: &Output) {
    print!("{}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr);
    if !err.trim().is_empty() {
        eprint!("{err}");
    }
}

async fn demo(centralised: bool) -> Result<u8> {
    let mut run = if centralised {
        step(
            "starting moto, building a workload VPC (two AZs) behind a transit gateway, an egress VPC (firewall endpoints, NAT gateways, IGW) and the lab's namespaces",
        );
        LabRun::start_centralised().await?
    } else {
        step(
            "starting moto, building the VPC (NAT gateway, IGW, two private subnets in two AZs) and the lab's namespaces",
        );
        LabRun::start_two_az().await?
    };
    let healthy = run.base.function_subnets[0].clone();
    let broken = run.base.function_subnets[1].clone();
    eprintln!(
        "    VPC {}: function `{APP_FUNCTION}` in {healthy} ({}) and {broken} ({})",
        run.base.vpc_id,
        run.az_of(&healthy).unwrap_or_default(),
        run.az_of(&broken).unwrap_or_default()
    );
    if centralised {
        step(&format!(
            "fault: the workload's transit gateway attachment loses its subnet in the AZ of {broken} (EC2 API, then lab sync)"
        ));
        let att = run.remove_attachment_az_of(&broken).await?;
        eprintln!(
            "    {att} has no subnet in {} any more",
            run.az_of(&broken).unwrap_or_default()
        );
    } else {
        step(&format!(
            "fault: {broken} gets its own route table without 0.0.0.0/0 (EC2 API, then lab sync)"
        ));
        let rtb = run.remove_default_route_of(&broken).await?;
        eprintln!("    {broken} now uses {rtb} (local route only)");
    }

    step(&format!(
        "egress-probe install --like-function {APP_FUNCTION} {}",
        LAB_TARGETS
            .iter()
            .map(|t| format!("--target {t}"))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let out = {
        let run = &run;
        tokio::task::block_in_place(|| run.install())?
    };
    print_output(&out);
    if !out.status.success() {
        anyhow::bail!("egress-probe install failed ({})", out.status);
    }

    step("egress-probe run");
    let out = {
        let run = &run;
        tokio::task::block_in_place(|| run.run(&[]))?
    };
    print_output(&out);
    let code = out
        .status
        .code()
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or(2);
    let logs = run.front.logs();
    if code == 2 {
        eprintln!("probe logs (the functions' CloudWatch Logs):");
        for l in &logs {
            eprintln!("  {}", l.display());
            if let Ok(t) = std::fs::read_to_string(l) {
                eprintln!("{t}");
            }
        }
    }
    step("cleaning up (execution environments, namespaces, moto)");
    drop(run);
    Ok(code)
}

fn cleanup(all: bool) -> ExitCode {
    let mut removed = lab::netns::remove_stale();
    if all {
        let listed = std::process::Command::new("ip")
            .args(["netns", "list"])
            .output()
            .context("running ip netns list");
        match listed {
            Ok(out) => {
                for line in String::from_utf8_lossy(&out.stdout).lines() {
                    if let Some(name) = line.split_whitespace().next()
                        && name.starts_with(lab::netns::PREFIX)
                    {
                        lab::netns::remove_namespace(name);
                        removed.push(name.to_string());
                    }
                }
            }
            Err(e) => {
                eprintln!("egress-probe-lab: {e:#}");
                return ExitCode::from(2);
            }
        }
    }
    if removed.is_empty() {
        println!("no lab namespaces to remove");
    }
    for name in removed {
        println!("removed {name}");
    }
    ExitCode::SUCCESS
}
