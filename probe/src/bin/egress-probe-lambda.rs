//! The Lambda bootstrap. Thin: read the configuration once, hand the handler to
//! lambda_runtime — or, with `--once`, run one invocation locally from a JSON event.

use egress_probe::config::ProbeConfig;
use egress_probe::event::shown;
use egress_probe::handler::{Invocation, Probe, ProbeError, parse_payload, payload_problem};
use egress_probe::report;
use hyper::body::Bytes;
use lambda_runtime::tower::Service;
use lambda_runtime::{Diagnostic, LambdaEvent, LambdaInvocation, Runtime, service_fn};
use serde_json::{Value, json};
use std::io::Read;
use std::process::ExitCode;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Largest event read by `--once`: Lambda's own limit for a synchronous invocation (6 MB).
const MAX_EVENT_BYTES: u64 = 6 * 1024 * 1024;

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
    event_file: Option<std::path::PathBuf>,
    timeout_ms: u64,
}

fn parse_args() -> Result<Option<Args>, ProbeError> {
    let bad = |m: String| ProbeError::InvalidArguments(m);
    let mut args = Args {
        once: false,
        event_file: None,
        timeout_ms: 20_000,
    };
    let mut it = std::env::args_os().skip(1);
    while let Some(a) = it.next() {
        let a = a.into_string().map_err(|a| {
            bad(format!(
                "argument `{}` is not UTF-8 text (see --help)",
                shown(&a.to_string_lossy())
            ))
        })?;
        match a.as_str() {
            "--once" => args.once = true,
            "--event" => {
                let path = it
                    .next()
                    .ok_or_else(|| bad("--event needs a file path".into()))?;
                args.event_file = Some(path.into());
            }
            "--timeout-ms" => {
                let v = it
                    .next()
                    .ok_or_else(|| bad("--timeout-ms needs a number".into()))?;
                let v = v.to_string_lossy();
                args.timeout_ms = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=900_000).contains(n))
                    .ok_or_else(|| {
                        bad(format!("--timeout-ms `{}`: expected 1..=900000", shown(&v)))
                    })?;
            }
            "-h" | "--help" => return Ok(None),
            "-V" | "--version" => {
                println!("egress-probe-lambda {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => {
                return Err(bad(format!(
                    "unknown argument `{}` (see --help)",
                    shown(other)
                )));
            }
        }
    }
    if args.event_file.is_some() && !args.once {
        return Err(bad("--event only applies with --once".into()));
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

/// Prints an error as the JSON Lambda would return and gives exit code 2.
fn fail(err: &ProbeError) -> ExitCode {
    eprintln!("{}", err.to_json());
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => return fail(&e),
    };
    init_tracing(!args.once);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&ProbeError::Runtime(e.to_string())),
    };
    if args.once {
        runtime.block_on(once(args))
    } else {
        runtime.block_on(serve())
    }
}

/// Builds the probe, or the error every invocation will return.
fn build_probe() -> Result<Probe, ProbeError> {
    // `std::env::var` treats a value that is not UTF-8 as unset: say so instead of
    // silently running with the defaults.
    for (name, value) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let ours = name.starts_with("EGRESS_PROBE_")
            || ["HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"].contains(&name.as_ref());
        if ours && value.to_str().is_none() {
            return Err(ProbeError::InvalidConfiguration(format!(
                "invalid setting {}: the value is not UTF-8 text",
                shown(&name)
            )));
        }
    }
    let config = ProbeConfig::from_env()?;
    Ok(Probe::new(config)?)
}

/// The event bytes of `--once`: the file, or stdin; at most `MAX_EVENT_BYTES`.
fn read_event(path: Option<&std::path::Path>) -> Result<Vec<u8>, ProbeError> {
    let source = path.map_or_else(|| "stdin".to_string(), |p| shown(&p.display().to_string()));
    let reader: Box<dyn Read> = match path {
        Some(p) => Box::new(
            std::fs::File::open(p)
                .map_err(|e| ProbeError::invalid_event(format!("cannot read {source}: {e}")))?,
        ),
        None => Box::new(std::io::stdin()),
    };
    let mut data = Vec::new();
    reader
        .take(MAX_EVENT_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| ProbeError::invalid_event(format!("cannot read {source}: {e}")))?;
    if data.len() as u64 > MAX_EVENT_BYTES {
        return Err(ProbeError::invalid_event(format!(
            "{source} holds more than {MAX_EVENT_BYTES} bytes, Lambda's limit for an event"
        )));
    }
    Ok(data)
}

async fn once(args: Args) -> ExitCode {
    let event = match read_event(args.event_file.as_deref()).and_then(|d| parse_payload(&d)) {
        Ok(v) => v,
        Err(e) => return fail(&e),
    };
    let probe = match build_probe() {
        Ok(p) => p,
        Err(e) => return fail(&e),
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
            Err(e) => fail(&ProbeError::Serialization(e.to_string())),
        },
        Err(e) => fail(&ProbeError::from(e)),
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

fn diagnostic(e: &ProbeError) -> Diagnostic {
    Diagnostic {
        error_type: e.error_type().to_string(),
        error_message: e.to_string(),
    }
}

/// Key of the stand-in event `CheckPayload` gives the handler for a payload that is not
/// JSON (an event may not carry it: `parse_event` rejects unknown fields).
const BAD_PAYLOAD: &str = "egress-probe:payload-problem";

/// lambda_runtime turns the payload into the handler's type before the handler runs, and
/// answers a payload that is not JSON with its own error (errorType
/// `&lambda_runtime::deserializer::DeserializeError`). This layer sees the raw bytes first:
/// an empty payload becomes `null` (the defaults), a payload that is not UTF-8 JSON becomes
/// a stand-in the handler answers with `InvalidEvent` and a message that names the problem.
struct CheckPayload<S>(S);

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for CheckPayload<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        if let Some(problem) = payload_problem(&invocation.body) {
            invocation.body = Bytes::from(json!({ BAD_PAYLOAD: problem }).to_string());
        } else if invocation.body.iter().all(u8::is_ascii_whitespace) {
            invocation.body = Bytes::from_static(b"null");
        }
        self.0.call(invocation)
    }
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
            return fail(&ProbeError::NotInLambda(format!(
                "{var} is unset: this is not a Lambda execution environment. To run the probe on this host use `egress-probe-lambda --once`."
            )));
        }
    }
    let probe = build_probe();
    let probe = &probe;
    let handler = service_fn(move |ev: LambdaEvent<Value>| async move {
        let probe = probe.as_ref().map_err(diagnostic)?;
        if let Some(problem) = ev.payload.get(BAD_PAYLOAD).and_then(Value::as_str) {
            return Err(diagnostic(&ProbeError::invalid_event(problem)));
        }
        let inv = Invocation {
            request_id: Some(ev.context.request_id.clone()),
            deadline: deadline_instant(ev.context.deadline),
        };
        let report = probe
            .handle(&ev.payload, inv)
            .await
            .map_err(|e| diagnostic(&ProbeError::from(e)))?;
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
        serde_json::to_value(&report)
            .map_err(|e| diagnostic(&ProbeError::Serialization(e.to_string())))
    });
    let runtime = Runtime::new(handler)
        .layer(lambda_runtime::tower::layer::layer_fn(CheckPayload))
        .layer(lambda_runtime::layers::TracingLayer::new());
    match runtime.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&ProbeError::Runtime(e.to_string())),
    }
}
