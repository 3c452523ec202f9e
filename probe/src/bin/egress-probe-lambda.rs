//! The Lambda bootstrap. Thin: read the configuration once, hand the handler to
//! lambda_runtime — or, with `--once`, run one invocation locally from a JSON event.

use egress_probe::config::ProbeConfig;
use egress_probe::event::EventError;
use egress_probe::handler::{Invocation, Probe};
use egress_probe::report;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Value, json};
use std::io::Read;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

const USAGE: &str = "\
egress-probe-lambda: the egress-probe AWS Lambda bootstrap.

Under Lambda (AWS_LAMBDA_RUNTIME_API set) it serves invocations. To try the probe on any
host (an EC2 instance in the subnet, a laptop):

  egress-probe-lambda --once [--event FILE] [--timeout-ms N]

reads one event (JSON; `{}` or empty = the defaults) from FILE or stdin, runs exactly what
an invocation runs with N ms of invocation time (default 20000), prints the report JSON on
stdout and exits 0 whatever the verdict. A bad event prints the error on stderr, exit 2.
Settings come from EGRESS_PROBE_* environment variables (see the README).";

struct Args {
    once: bool,
    event_file: Option<String>,
    timeout_ms: u64,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        once: false,
        event_file: None,
        timeout_ms: 20_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--once" => args.once = true,
            "--event" => {
                args.event_file = Some(it.next().ok_or("--event needs a file path")?);
            }
            "--timeout-ms" => {
                let v = it.next().ok_or("--timeout-ms needs a number")?;
                args.timeout_ms = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=900_000).contains(n))
                    .ok_or(format!("--timeout-ms `{v}`: expected 1..=900000"))?;
            }
            "-h" | "--help" => return Ok(None),
            "-V" | "--version" => {
                println!("egress-probe-lambda {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }
    if args.event_file.is_some() && !args.once {
        return Err("--event only applies with --once".into());
    }
    Ok(Some(args))
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_env("AWS_LAMBDA_LOG_LEVEL"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if json {
        builder.json().without_time().init();
    } else {
        builder.with_ansi(false).init();
    }
}

fn error_json(error_type: &str, message: &str) -> String {
    json!({"errorType": error_type, "errorMessage": message}).to_string()
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{}", error_json("InvalidArguments", &e));
            return ExitCode::from(2);
        }
    };
    init_tracing(!args.once);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}", error_json("RuntimeError", &e.to_string()));
            return ExitCode::from(2);
        }
    };
    if args.once {
        runtime.block_on(once(args))
    } else {
        runtime.block_on(serve())
    }
}

/// Builds the probe, or the error every invocation will return.
fn build_probe() -> Result<Probe, (String, String)> {
    let config =
        ProbeConfig::from_env().map_err(|e| ("InvalidConfiguration".to_string(), e.to_string()))?;
    Probe::new(config).map_err(|e| ("InvalidConfiguration".to_string(), e.to_string()))
}

async fn once(args: Args) -> ExitCode {
    let text = match &args.event_file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!(
                    "{}",
                    error_json("InvalidEvent", &format!("cannot read {path}: {e}"))
                );
                return ExitCode::from(2);
            }
        },
        None => {
            let mut t = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut t) {
                eprintln!(
                    "{}",
                    error_json("InvalidEvent", &format!("cannot read stdin: {e}"))
                );
                return ExitCode::from(2);
            }
            t
        }
    };
    let event: Value = if text.trim().is_empty() {
        Value::Null
    } else {
        match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                let err = EventError {
                    field: "(event)".into(),
                    message: format!("not valid JSON: {e}"),
                };
                eprintln!("{}", error_json(EventError::ERROR_TYPE, &err.to_string()));
                return ExitCode::from(2);
            }
        }
    };
    let probe = match build_probe() {
        Ok(p) => p,
        Err((t, m)) => {
            eprintln!("{}", error_json(&t, &m));
            return ExitCode::from(2);
        }
    };
    let inv = Invocation {
        request_id: None,
        deadline: Instant::now() + Duration::from_millis(args.timeout_ms),
    };
    match probe.handle(&event, inv).await {
        Ok(report) => match serde_json::to_string_pretty(&report) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}", error_json("SerializationError", &e.to_string()));
                ExitCode::from(2)
            }
        },
        Err(e) => {
            eprintln!("{}", error_json(EventError::ERROR_TYPE, &e.to_string()));
            ExitCode::from(2)
        }
    }
}

/// Converts the runtime's deadline (epoch ms) to an `Instant`.
fn deadline_instant(deadline_epoch_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Instant::now() + Duration::from_millis(deadline_epoch_ms.saturating_sub(now_ms))
}

async fn serve() -> ExitCode {
    // lambda_runtime reads these and panics without them: check first, say what to do.
    for var in [
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    ] {
        if std::env::var_os(var).is_none() {
            eprintln!(
                "{}",
                error_json(
                    "NotInLambda",
                    &format!(
                        "{var} is unset: this is not a Lambda execution environment. To run the probe on this host use `egress-probe-lambda --once`."
                    )
                )
            );
            return ExitCode::from(2);
        }
    }
    let probe = build_probe();
    let probe = &probe;
    let handler = service_fn(move |ev: LambdaEvent<Value>| async move {
        let probe = probe.as_ref().map_err(|(t, m)| Diagnostic {
            error_type: t.clone(),
            error_message: m.clone(),
        })?;
        let inv = Invocation {
            request_id: Some(ev.context.request_id.clone()),
            deadline: deadline_instant(ev.context.deadline),
        };
        let report = probe
            .handle(&ev.payload, inv)
            .await
            .map_err(|e| Diagnostic {
                error_type: EventError::ERROR_TYPE.to_string(),
                error_message: e.to_string(),
            })?;
        // One structured line with the whole report, then the EMF metric lines (stdout
        // goes to CloudWatch Logs, which extracts the metrics).
        println!("{}", report::log_line(&report));
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        for line in report::emf_lines(&report, &probe.config.metric_namespace, ts) {
            println!("{line}");
        }
        serde_json::to_value(&report).map_err(|e| Diagnostic {
            error_type: "SerializationError".into(),
            error_message: e.to_string(),
        })
    });
    match lambda_runtime::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", error_json("RuntimeError", &e.to_string()));
            ExitCode::from(2)
        }
    }
}
