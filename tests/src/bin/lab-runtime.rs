//! lab-runtime: one emulated Lambda execution environment, run inside a lab namespace with
//! `ip netns exec <ns> lab-runtime …`.
//!
//! It serves the Lambda Runtime API (and the metadata endpoint) on the namespace's own
//! loopback, keeps the function's runtime process (the real `egress-probe-lambda`) running
//! against it, and takes invocations over a unix socket — sockets cross namespaces through
//! the filesystem, so there is no network link to the host namespace. The socket speaks the
//! Lambda `Invoke` API's shape: `POST` with the event as body; 200 with the payload, or
//! `X-Amz-Function-Error: Unhandled` with `{"errorType","errorMessage"}` (a timeout is
//! `Sandbox.Timedout`, "Task timed out after N seconds").
//!
//! Like Lambda, a timed-out or crashed runtime process is replaced on the next invocation.
//! The process prints `READY` on stdout once the socket accepts, and exits when its stdin
//! closes (its parent went away), on SIGTERM or Ctrl-C — killing the runtime process too.

use anyhow::{Context, Result, bail};
use clap::Parser;
use egress_probe_e2e::runtime_api::{
    InvokeOutcome, LambdaEnvironment, MetadataConfig, RuntimeApi, RuntimeApiConfig, random_hex,
};
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UnixListener;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

/// One emulated Lambda execution environment (see the module docs).
#[derive(Parser, Debug)]
struct Args {
    /// Unix socket to take invocations on (removed and re-created).
    #[arg(long)]
    socket: PathBuf,
    /// Where the Runtime API (and metadata endpoint) listens.
    #[arg(long, default_value = "127.0.0.1:9001")]
    listen: SocketAddr,
    #[arg(long)]
    function_name: String,
    #[arg(long)]
    function_arn: String,
    #[arg(long, default_value = "$LATEST")]
    function_version: String,
    #[arg(long, default_value_t = 128)]
    memory_mb: u32,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// The function timeout (Lambda's `Timeout`), in milliseconds.
    #[arg(long)]
    timeout_ms: u64,
    /// Serve the metadata endpoint with this AZ ID (e.g. `use1-az1`).
    #[arg(long)]
    az_id: Option<String>,
    /// Append the runtime process's stdout and stderr (its "CloudWatch Logs") here.
    #[arg(long)]
    log: Option<PathBuf>,
    /// The runtime process (`bootstrap`) and its arguments. It inherits this process's
    /// environment plus Lambda's reserved variables.
    #[arg(last = true, required = true)]
    bootstrap: Vec<String>,
}

struct Environment {
    api: RuntimeApi,
    child: Option<Child>,
}

struct Ctx {
    args: Args,
    lambda_env: LambdaEnvironment,
    env: Mutex<Environment>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lab-runtime: cannot start tokio: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lab-runtime: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn spawn_bootstrap(ctx: &Ctx) -> Result<Child> {
    let Some((program, rest)) = ctx.args.bootstrap.split_first() else {
        bail!("no bootstrap command given");
    };
    let mut cmd = Command::new(program);
    cmd.args(rest)
        .envs(ctx.lambda_env.vars())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    match &ctx.args.log {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening log {}", path.display()))?;
            cmd.stdout(file.try_clone()?).stderr(file);
        }
        None => {
            // Our stdout carries READY; the runtime's output goes to our stderr.
            cmd.stdout(std::io::stderr()).stderr(Stdio::inherit());
        }
    }
    cmd.spawn().with_context(|| format!("starting {program}"))
}

async fn run(args: Args) -> Result<()> {
    let mut config = RuntimeApiConfig::new(args.function_arn.clone());
    let token = random_hex(32);
    if let Some(az_id) = &args.az_id {
        config.metadata = Some(MetadataConfig {
            token: token.clone(),
            availability_zone_id: az_id.clone(),
        });
    }
    let api = RuntimeApi::start(args.listen, config).await?;
    let lambda_env = LambdaEnvironment {
        function_name: args.function_name.clone(),
        function_version: args.function_version.clone(),
        memory_mb: args.memory_mb,
        region: args.region.clone(),
        runtime_api: api.host_port(),
        metadata: args.az_id.as_ref().map(|_| (api.host_port(), token)),
    };
    let _ = std::fs::remove_file(&args.socket);
    let listener = UnixListener::bind(&args.socket)
        .with_context(|| format!("binding {}", args.socket.display()))?;
    let ctx = Arc::new(Ctx {
        args,
        lambda_env,
        env: Mutex::new(Environment { api, child: None }),
    });
    // Start the runtime process now (a warm environment), not on the first invocation.
    {
        let mut env = ctx.env.lock().await;
        env.child = Some(spawn_bootstrap(&ctx)?);
    }
    println!("READY");

    let accept = {
        let ctx = ctx.clone();
        async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let ctx = ctx.clone();
                        async move { Ok::<_, std::convert::Infallible>(invoke(req, &ctx).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    };
    // Our parent holds our stdin: EOF means it is gone, and so should we be.
    let (closed_tx, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 64];
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
        let _ = closed_tx.send(());
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = accept => {}
        _ = stdin_closed => {}
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let mut env = ctx.env.lock().await;
    if let Some(mut child) = env.child.take() {
        let _ = child.kill().await;
    }
    let _ = std::fs::remove_file(&ctx.args.socket);
    Ok(())
}

async fn invoke(req: Request<Incoming>, ctx: &Ctx) -> Response<Full<Bytes>> {
    let request_id = random_hex(16);
    let payload = match Limited::new(req.into_body(), 6 * 1024 * 1024)
        .collect()
        .await
    {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            return InvokeOutcome::Error {
                error_type: "RequestTooLargeException".into(),
                message: format!("request payload unreadable or over 6 MB: {e}"),
            }
            .to_invoke_response(&request_id);
        }
    };
    let timeout = Duration::from_millis(ctx.args.timeout_ms);
    let mut guard = ctx.env.lock().await;
    let Environment { api, child } = &mut *guard;
    // A fresh process when the last one timed out, failed init or exited (as Lambda does).
    let exited = match child.as_mut() {
        Some(c) => !matches!(c.try_wait(), Ok(None)),
        None => true,
    };
    if exited || api.needs_restart() {
        if let Some(mut old) = child.take() {
            let _ = old.kill().await;
        }
        api.reset_environment();
        match spawn_bootstrap(ctx) {
            Ok(c) => *child = Some(c),
            Err(e) => {
                return InvokeOutcome::Error {
                    error_type: "Runtime.ExitError".into(),
                    message: format!("{e:#}"),
                }
                .to_invoke_response(&request_id);
            }
        }
    }
    let Some(running) = child.as_mut() else {
        return InvokeOutcome::Error {
            error_type: "Runtime.ExitError".into(),
            message: "no runtime process".into(),
        }
        .to_invoke_response(&request_id);
    };
    let outcome = tokio::select! {
        o = api.invoke(payload, timeout) => o,
        status = running.wait() => {
            *child = None;
            InvokeOutcome::Error {
                error_type: "Runtime.ExitError".into(),
                message: match status {
                    Ok(s) => format!("RequestId: {request_id} Error: Runtime exited with {s}"),
                    Err(e) => format!("RequestId: {request_id} Error: Runtime wait failed: {e}"),
                },
            }
        }
    };
    outcome.to_invoke_response(&request_id)
}
