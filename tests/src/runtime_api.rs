//! A Lambda Runtime API emulator: the HTTP endpoint a custom runtime (`bootstrap`) talks to,
//! plus the execution-environment metadata endpoint (fact sheet §D.5).
//!
//! Speaks the documented Runtime API (version 2018-06-01):
//! - `GET  /2018-06-01/runtime/invocation/next` blocks until an invocation is queued and
//!   answers with the event and the headers `Lambda-Runtime-Aws-Request-Id`,
//!   `Lambda-Runtime-Deadline-Ms` (epoch ms), `Lambda-Runtime-Invoked-Function-Arn` and
//!   `Lambda-Runtime-Trace-Id`;
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `…/{id}/error`;
//! - `POST /2018-06-01/runtime/init/error`;
//! - `GET  /2026-01-15/metadata/execution-environment` with `Authorization: Bearer <token>`
//!   → `{"AvailabilityZoneID": …}`, 401 on a missing or wrong token, 405 for other methods.
//!
//! [`RuntimeApi::invoke`] queues one event and enforces the function timeout as Lambda
//! does: the clock starts when the runtime takes the invocation from `/next`; if no answer
//! arrives by the deadline the outcome is [`InvokeOutcome::Timeout`] ("Task timed out") and
//! the environment is marked for restart — for egress-probe a Lambda timeout is a bug.
//!
//! The module also converts outcomes to and from the Lambda `Invoke` API's response shape
//! (`X-Amz-Function-Error`), which is how the lab's `lab-runtime` helper and the Invoke
//! front pass them on.

use anyhow::{Context, Result};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Path prefix of the Runtime API.
pub const RUNTIME_PREFIX: &str = "/2018-06-01/runtime";
/// Path of the execution-environment metadata (fact sheet §D.5).
pub const METADATA_PATH: &str = "/2026-01-15/metadata/execution-environment";
/// Largest synchronous response payload Lambda accepts (6 MB).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;
/// Lambda's error type for a function that ran past its timeout.
pub const TIMEOUT_ERROR_TYPE: &str = "Sandbox.Timedout";
/// Default time the runtime has to ask for its first invocation (Lambda's init limit).
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// What an invocation came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeOutcome {
    /// The runtime posted a response (the function's result payload).
    Response(Bytes),
    /// The runtime posted an error (invocation or init error), or it never came up.
    Error { error_type: String, message: String },
    /// No answer by the deadline: Lambda's "Task timed out after N seconds".
    Timeout { after: Duration },
}

impl InvokeOutcome {
    /// The Lambda message for a timeout.
    pub fn timeout_message(after: Duration) -> String {
        format!("Task timed out after {:.2} seconds", after.as_secs_f64())
    }

    /// The response the Lambda `Invoke` API gives for this outcome: 200 with the payload,
    /// or 200 with `X-Amz-Function-Error: Unhandled` and `{"errorType","errorMessage"}`.
    pub fn to_invoke_response(&self, request_id: &str) -> Response<Full<Bytes>> {
        let (body, function_error) = match self {
            InvokeOutcome::Response(b) => (b.clone(), false),
            InvokeOutcome::Error {
                error_type,
                message,
            } => (
                Bytes::from(
                    json!({"errorType": error_type, "errorMessage": message}).to_string(),
                ),
                true,
            ),
            InvokeOutcome::Timeout { after } => (
                Bytes::from(
                    json!({
                        "errorType": TIMEOUT_ERROR_TYPE,
                        "errorMessage": format!("RequestId: {request_id} Error: {}", Self::timeout_message(*after)),
                    })
                    .to_string(),
                ),
                true,
            ),
        };
        let mut resp = Response::new(Full::new(body));
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(
            "X-Amz-Executed-Version",
            HeaderValue::from_static("$LATEST"),
        );
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-amzn-RequestId", v);
        }
        if function_error {
            h.insert(
                "X-Amz-Function-Error",
                HeaderValue::from_static("Unhandled"),
            );
        }
        resp
    }

    /// Reads an `Invoke` API response (the inverse of [`Self::to_invoke_response`]).
    pub fn from_invoke_response(headers: &HeaderMap, body: Bytes) -> InvokeOutcome {
        if !headers.contains_key("x-amz-function-error") {
            return InvokeOutcome::Response(body);
        }
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let error_type = v
            .get("errorType")
            .and_then(|t| t.as_str())
            .unwrap_or("Unhandled")
            .to_string();
        let message = v
            .get("errorMessage")
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        if error_type == TIMEOUT_ERROR_TYPE {
            let after = message
                .split("Task timed out after ")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .and_then(|s| s.parse::<f64>().ok())
                .map(Duration::from_secs_f64)
                .unwrap_or_default();
            return InvokeOutcome::Timeout { after };
        }
        InvokeOutcome::Error {
            error_type,
            message,
        }
    }
}

/// The execution-environment metadata the endpoint serves.
#[derive(Debug, Clone)]
pub struct MetadataConfig {
    /// `AWS_LAMBDA_METADATA_TOKEN`: the bearer token the endpoint requires.
    pub token: String,
    /// The AZ ID of the subnet's AZ (`use1-az1`).
    pub availability_zone_id: String,
}

/// Settings of one emulated execution environment.
#[derive(Debug, Clone)]
pub struct RuntimeApiConfig {
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_arn: String,
    /// Serve the metadata endpoint on the same listener when set.
    pub metadata: Option<MetadataConfig>,
    /// How long the runtime may take to ask for an invocation that is waiting.
    pub init_timeout: Duration,
}

impl RuntimeApiConfig {
    pub fn new(function_arn: impl Into<String>) -> Self {
        Self {
            function_arn: function_arn.into(),
            metadata: None,
            init_timeout: DEFAULT_INIT_TIMEOUT,
        }
    }
}

/// An invocation waiting for the runtime's `/next`.
struct Queued {
    request_id: String,
    payload: Bytes,
    timeout: Duration,
    /// Told when the runtime takes the invocation (the function clock starts).
    picked: oneshot::Sender<()>,
}

#[derive(Default)]
struct Counters {
    next_requests: AtomicU64,
    responses: AtomicU64,
    errors: AtomicU64,
}

struct Shared {
    config: RuntimeApiConfig,
    queue_tx: mpsc::UnboundedSender<Queued>,
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    inflight: Mutex<HashMap<String, oneshot::Sender<InvokeOutcome>>>,
    init_error: Mutex<Option<(String, String)>>,
    init_error_posted: Notify,
    /// One invocation at a time per environment, as in Lambda.
    invoke_lock: tokio::sync::Mutex<()>,
    /// Set after a timeout: Lambda would tear this environment down.
    needs_restart: AtomicBool,
    counters: Counters,
}

/// Counts of Runtime API requests, for tests and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeApiStats {
    pub next_requests: u64,
    pub responses: u64,
    pub errors: u64,
}

/// A running emulator; the server stops when this is dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A random hex string of `bytes` bytes from the OS (request IDs, tokens).
pub fn random_hex(bytes: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .is_ok();
    if !filled {
        // Fall back to the std hasher's per-process random keys.
        use std::hash::{BuildHasher, Hasher};
        for (i, b) in buf.iter_mut().enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(i);
            *b = h.finish() as u8;
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A request ID in Lambda's UUID form.
fn request_id() -> String {
    let h = random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl RuntimeApi {
    /// Binds `listen` (port 0 = any free port) and serves the Runtime API there.
    pub async fn start(listen: SocketAddr, config: RuntimeApiConfig) -> Result<RuntimeApi> {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding the Runtime API on {listen}"))?;
        let addr = listener.local_addr()?;
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            config,
            queue_tx,
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            inflight: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
            init_error_posted: Notify::new(),
            invoke_lock: tokio::sync::Mutex::new(()),
            needs_restart: AtomicBool::new(false),
            counters: Counters::default(),
        });
        let server = tokio::spawn(serve(listener, shared.clone()));
        Ok(RuntimeApi {
            addr,
            shared,
            server,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API` (and `AWS_LAMBDA_METADATA_API`): `host:port`.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    pub fn stats(&self) -> RuntimeApiStats {
        let c = &self.shared.counters;
        RuntimeApiStats {
            next_requests: c.next_requests.load(Ordering::Relaxed),
            responses: c.responses.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
        }
    }

    /// True after a timeout or an init error: Lambda would start a fresh environment (a
    /// new runtime process) for the next invocation.
    pub fn needs_restart(&self) -> bool {
        self.shared.needs_restart.load(Ordering::SeqCst) || lock(&self.shared.init_error).is_some()
    }

    /// Forget the old runtime process's state before a new one starts.
    pub fn reset_environment(&self) {
        self.shared.needs_restart.store(false, Ordering::SeqCst);
        *lock(&self.shared.init_error) = None;
        lock(&self.shared.inflight).clear();
    }

    /// Runs one invocation: queues `payload` for the runtime's `/next`, then waits for the
    /// response or error, at most `timeout` after the runtime took it (the deadline it was
    /// given). Invocations are serialised, as in one Lambda execution environment.
    pub async fn invoke(&self, payload: Bytes, timeout: Duration) -> InvokeOutcome {
        let shared = &self.shared;
        let _one_at_a_time = shared.invoke_lock.lock().await;
        if let Some((error_type, message)) = lock(&shared.init_error).clone() {
            return InvokeOutcome::Error {
                error_type,
                message,
            };
        }
        let id = request_id();
        let (done_tx, done_rx) = oneshot::channel();
        lock(&shared.inflight).insert(id.clone(), done_tx);
        let (picked_tx, picked_rx) = oneshot::channel();
        let queued = Queued {
            request_id: id.clone(),
            payload,
            timeout,
            picked: picked_tx,
        };
        if shared.queue_tx.send(queued).is_err() {
            lock(&shared.inflight).remove(&id);
            return InvokeOutcome::Error {
                error_type: "Runtime.Unavailable".into(),
                message: "the Runtime API emulator has stopped".into(),
            };
        }
        // Wait for the runtime to take it (init), or for an init error.
        let init_error = shared.init_error_posted.notified();
        tokio::pin!(init_error);
        let picked_at = tokio::select! {
            r = picked_rx => match r {
                Ok(()) => Instant::now(),
                Err(_) => {
                    lock(&shared.inflight).remove(&id);
                    return InvokeOutcome::Error {
                        error_type: "Runtime.Unavailable".into(),
                        message: "the invocation was dropped before the runtime took it".into(),
                    };
                }
            },
            _ = &mut init_error => {
                lock(&shared.inflight).remove(&id);
                let (error_type, message) = lock(&shared.init_error).clone().unwrap_or_else(|| {
                    ("Runtime.InitError".into(), "init error".into())
                });
                return InvokeOutcome::Error { error_type, message };
            }
            _ = tokio::time::sleep(shared.config.init_timeout) => {
                // The queued entry's `picked` receiver is gone: `/next` skips it.
                lock(&shared.inflight).remove(&id);
                shared.needs_restart.store(true, Ordering::SeqCst);
                return InvokeOutcome::Error {
                    error_type: "Runtime.Unavailable".into(),
                    message: format!(
                        "the runtime did not ask for the invocation within {:?} (init too slow, or the process is gone)",
                        shared.config.init_timeout
                    ),
                };
            }
        };
        match tokio::time::timeout_at(picked_at + timeout, done_rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => InvokeOutcome::Error {
                error_type: "Runtime.Unavailable".into(),
                message: "the Runtime API emulator dropped the invocation".into(),
            },
            Err(_) => {
                lock(&shared.inflight).remove(&id);
                shared.needs_restart.store(true, Ordering::SeqCst);
                InvokeOutcome::Timeout { after: timeout }
            }
        }
    }
}

/// Locks a std mutex, recovering from poisoning (a panicked holder cannot corrupt the
/// plain maps kept here).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(route(req, &shared).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn api_error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    json_response(
        status,
        json!({"errorType": error_type, "errorMessage": message}),
    )
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<Full<Bytes>>> {
    match Limited::new(req.into_body(), MAX_RESPONSE_BYTES)
        .collect()
        .await
    {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &format!("payload larger than {MAX_RESPONSE_BYTES} bytes or unreadable: {e}"),
        )),
    }
}

async fn route(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    if path == METADATA_PATH {
        return metadata(&req, shared);
    }
    let Some(rest) = path.strip_prefix(RUNTIME_PREFIX) else {
        return api_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("no route {path}"),
        );
    };
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match (req.method().clone(), parts.as_slice()) {
        (Method::GET, ["invocation", "next"]) => next(shared).await,
        (Method::POST, ["invocation", id, kind @ ("response" | "error")]) => {
            let id = id.to_string();
            let is_error = *kind == "error";
            let header_type = req
                .headers()
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = match read_body(req).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            let Some(done) = lock(&shared.inflight).remove(&id) else {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestID",
                    &format!("no invocation {id} is in progress (timed out or already answered)"),
                );
            };
            let outcome = if is_error {
                shared.counters.errors.fetch_add(1, Ordering::Relaxed);
                let (error_type, message) = error_fields(&body, header_type);
                InvokeOutcome::Error {
                    error_type,
                    message,
                }
            } else {
                shared.counters.responses.fetch_add(1, Ordering::Relaxed);
                InvokeOutcome::Response(body)
            };
            let _ = done.send(outcome);
            json_response(StatusCode::ACCEPTED, json!({"status": "OK"}))
        }
        (Method::POST, ["init", "error"]) => {
            let header_type = req
                .headers()
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = match read_body(req).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            *lock(&shared.init_error) = Some(error_fields(&body, header_type));
            shared.init_error_posted.notify_waiters();
            json_response(StatusCode::ACCEPTED, json!({"status": "OK"}))
        }
        (m, _) => api_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("no route {m} {path}"),
        ),
    }
}

/// `errorType` / `errorMessage` from an error body; the header names the type when the
/// body does not.
fn error_fields(body: &Bytes, header_type: Option<String>) -> (String, String) {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let error_type = v
        .get("errorType")
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .or(header_type)
        .unwrap_or_else(|| "Unhandled".into());
    let message = v
        .get("errorMessage")
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    (error_type, message)
}

async fn next(shared: &Shared) -> Response<Full<Bytes>> {
    shared
        .counters
        .next_requests
        .fetch_add(1, Ordering::Relaxed);
    let mut rx = shared.queue_rx.lock().await;
    loop {
        let Some(q) = rx.recv().await else {
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                "the emulator is stopping",
            );
        };
        let deadline_ms = epoch_ms() + q.timeout.as_millis() as u64;
        if q.picked.send(()).is_err() {
            // The invoker gave up while the runtime was initialising.
            continue;
        }
        let mut resp = Response::new(Full::new(q.payload));
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let trace = format!(
            "Root=1-{:08x}-{};Parent={};Sampled=0",
            epoch_ms() / 1000,
            &random_hex(12),
            &random_hex(8)
        );
        for (name, value) in [
            ("Lambda-Runtime-Aws-Request-Id", q.request_id.clone()),
            ("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string()),
            (
                "Lambda-Runtime-Invoked-Function-Arn",
                shared.config.function_arn.clone(),
            ),
            ("Lambda-Runtime-Trace-Id", trace),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
        return resp;
    }
}

fn metadata(req: &Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let Some(md) = &shared.config.metadata else {
        return api_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "no metadata endpoint here",
        );
    };
    if req.method() != Method::GET {
        let mut r = api_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "only GET",
        );
        r.headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("GET"));
        return r;
    }
    let expected = format!("Bearer {}", md.token);
    let authorised = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected);
    if !authorised {
        return api_error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "missing or invalid bearer token",
        );
    }
    let mut r = json_response(
        StatusCode::OK,
        json!({"AvailabilityZoneID": md.availability_zone_id}),
    );
    r.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=43200, immutable"),
    );
    r
}

/// Lambda's reserved environment for a runtime process served by `api_host_port`.
#[derive(Debug, Clone)]
pub struct LambdaEnvironment {
    pub function_name: String,
    pub function_version: String,
    pub memory_mb: u32,
    pub region: String,
    /// `host:port` of the Runtime API.
    pub runtime_api: String,
    /// `(host:port, token)` of the metadata endpoint, when there is one.
    pub metadata: Option<(String, String)>,
}

impl LambdaEnvironment {
    /// The reserved variables (fact sheet §D.6) a runtime process gets.
    pub fn vars(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("AWS_LAMBDA_RUNTIME_API".into(), self.runtime_api.clone()),
            (
                "AWS_LAMBDA_FUNCTION_NAME".into(),
                self.function_name.clone(),
            ),
            (
                "AWS_LAMBDA_FUNCTION_VERSION".into(),
                self.function_version.clone(),
            ),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
                self.memory_mb.to_string(),
            ),
            ("AWS_REGION".into(), self.region.clone()),
            ("AWS_DEFAULT_REGION".into(), self.region.clone()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME".into(),
                format!("/aws/lambda/{}", self.function_name),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME".into(),
                format!(
                    "{}/[{}]{}",
                    "2026/01/01", self.function_version, "labenvironment"
                ),
            ),
            (
                "AWS_LAMBDA_INITIALIZATION_TYPE".into(),
                "on-demand".to_string(),
            ),
            ("LAMBDA_TASK_ROOT".into(), "/var/task".into()),
            ("LAMBDA_RUNTIME_DIR".into(), "/var/runtime".into()),
            ("TZ".into(), ":UTC".into()),
        ];
        if let Some((api, token)) = &self.metadata {
            v.push(("AWS_LAMBDA_METADATA_API".into(), api.clone()));
            v.push(("AWS_LAMBDA_METADATA_TOKEN".into(), token.clone()));
        }
        v
    }
}

/// The workspace's binaries, built once per process with the workspace's feature set
/// (`cargo build --workspace --bins --tests`, so always current) and found through cargo's own
/// report of their paths. Without cargo, looks in `$CARGO_TARGET_DIR/debug` or
/// `<workspace>/target/debug` — run `cargo build --workspace` first.
pub fn workspace_binary(name: &str) -> Result<std::path::PathBuf> {
    static BUILT: std::sync::OnceLock<Result<HashMap<String, std::path::PathBuf>, String>> =
        std::sync::OnceLock::new();
    if let Some(prebuilt) = crate::moto::prebuilt_bin(name) {
        return prebuilt;
    }
    let root = crate::moto::workspace_root();
    // Under cargo `$CARGO`; otherwise (the demo binary run directly) `cargo` from PATH when
    // the workspace is still here, so a stale or foreign build is never used.
    let cargo = std::env::var_os("CARGO").or_else(|| {
        let on_path = std::process::Command::new("cargo")
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        (on_path && root.join("Cargo.toml").is_file()).then(|| "cargo".into())
    });
    if let Some(cargo) = cargo {
        let built = BUILT.get_or_init(|| {
            let out = std::process::Command::new(cargo)
                .current_dir(&root)
                .args([
                    "build",
                    "--workspace",
                    "--bins",
                    // With the test targets the feature set is `cargo test --workspace`'s,
                    // so this reuses its build instead of rebuilding with other features.
                    "--tests",
                    "--message-format=json-render-diagnostics",
                ])
                .stderr(std::process::Stdio::inherit())
                .output()
                .map_err(|e| format!("running cargo build: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "cargo build --workspace --bins failed ({})",
                    out.status
                ));
            }
            let mut bins = HashMap::new();
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                // The real binaries, not the unit-test harnesses built from them.
                let is_bin = v
                    .pointer("/target/kind")
                    .and_then(|k| k.as_array())
                    .is_some_and(|k| k.iter().any(|x| x == "bin"));
                let is_test = v
                    .pointer("/profile/test")
                    .and_then(|t| t.as_bool())
                    .unwrap_or(true);
                if let (true, false, Some(exe), Some(n)) = (
                    is_bin,
                    is_test,
                    v.get("executable").and_then(|e| e.as_str()),
                    v.pointer("/target/name").and_then(|n| n.as_str()),
                ) {
                    bins.insert(n.to_string(), std::path::PathBuf::from(exe));
                }
            }
            Ok(bins)
        });
        return match built {
            Ok(bins) => bins
                .get(name)
                .cloned()
                .with_context(|| format!("cargo built no binary named {name}")),
            Err(e) => Err(anyhow::anyhow!("{e}")),
        };
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let path = target.join("debug").join(name);
    if path.is_file() {
        Ok(path)
    } else {
        anyhow::bail!(
            "{} not found: run `cargo build --workspace` first (with the same CARGO_TARGET_DIR)",
            path.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_through_the_invoke_response_shape() {
        for outcome in [
            InvokeOutcome::Response(Bytes::from_static(b"{\"a\":1}")),
            InvokeOutcome::Error {
                error_type: "InvalidEvent".into(),
                message: "invalid event field `targets`".into(),
            },
            InvokeOutcome::Timeout {
                after: Duration::from_secs(3),
            },
        ] {
            let resp = outcome.to_invoke_response("rid");
            let headers = resp.headers().clone();
            let body = futures_body(resp);
            assert_eq!(InvokeOutcome::from_invoke_response(&headers, body), outcome);
        }
    }

    fn futures_body(resp: Response<Full<Bytes>>) -> Bytes {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async { resp.into_body().collect().await.unwrap().to_bytes() })
    }

    #[test]
    fn request_ids_are_uuid_shaped_and_distinct() {
        let a = request_id();
        let b = request_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }
}
