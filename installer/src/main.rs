//! `egress-probe`: thin edge around the library. Exit codes: `egress_probe_installer::exit`
//! (0 done/healthy, 1 failures found, 2 could not do it, 3 not evaluated (diagnose: an
//! unresolved target or a partial analysis), 130/143 interrupted after printing
//! what was done); a broken pipe exits quietly.

use clap::Parser;
use egress_probe_installer::Stop;
use egress_probe_installer::cli::Cli;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2.
    let cli = Cli::parse();
    let filter = match cli.global.verbose {
        0 => "warn,aws_config=error,aws_smithy_runtime=error",
        1 => "info,aws_config=warn,aws_smithy_runtime=warn",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EGRESS_PROBE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("egress-probe: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let result = runtime.block_on(egress_probe_installer::run_until(
        cli,
        None,
        interactive,
        stop_signal(),
    ));
    match result {
        Ok(outcome) => {
            let mut out = std::io::stdout().lock();
            match out
                .write_all(outcome.stdout.as_bytes())
                .and_then(|_| out.flush())
            {
                Ok(()) => ExitCode::from(outcome.code),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    ExitCode::from(outcome.code)
                }
                Err(e) => {
                    eprintln!("egress-probe: cannot write the result: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Err(e) => {
            eprintln!("egress-probe: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// SIGTERM or SIGINT (Ctrl-C), whichever comes first; never, if neither can be watched.
async fn stop_signal() -> Stop {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => Stop::Sigterm,
                _ = int.recv() => Stop::Sigint,
            },
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        match tokio::signal::ctrl_c().await {
            Ok(()) => Stop::Sigint,
            Err(_) => std::future::pending().await,
        }
    }
}
