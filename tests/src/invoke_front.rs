//! The Invoke front: one HTTP endpoint on 127.0.0.1 that the real `egress-probe` command
//! uses as `AWS_ENDPOINT_URL`. It answers the Lambda `Invoke` API for functions the lab
//! runs, and passes every other request through to moto unchanged (method, path, query,
//! headers including `Authorization`, body).
//!
//! For `POST /2015-03-31/functions/{name}/invocations` the front reads the function's
//! configuration from moto (GetFunctionConfiguration: VpcConfig subnets, Environment,
//! Timeout, MemorySize), picks one of its subnets (round robin, as Lambda spreads
//! invocations over its subnets), makes sure an execution environment runs there — the
//! `lab-runtime` helper started with `ip netns exec <subnet's ENI namespace>`, serving the
//! Runtime API and the metadata endpoint (AZ ID of the subnet's AZ, from DescribeSubnets) on
//! the namespace's loopback and running the real `egress-probe-lambda` — and forwards the
//! event over that environment's unix socket. Environments stay warm; a changed function
//! configuration (new `RevisionId`) replaces them, as Lambda does.
//!
//! It also answers the Network Firewall API (`X-Amz-Target: NetworkFirewall_20201112.*`,
//! awsJson1_0) from the lab's [`crate::lab::nfw::NfwStore`] — the same data the lab's
//! firewall enforcers apply — because moto has no firewall policies or rule groups.
//!
//! Answers follow Lambda: 200 with the payload; 200 with `X-Amz-Function-Error: Unhandled`
//! and the error JSON for a function error or timeout; 404 `ResourceNotFoundException`
//! (`X-Amzn-ErrorType`) for an unknown function; 202 for `InvocationType: Event`; 204 for
//! `DryRun`.

use crate::runtime_api::random_hex;
use anyhow::{Context, Result, bail};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinHandle;

/// Largest request the front reads (Lambda's synchronous payload limit is 6 MB; moto
/// requests such as CreateFunction with a zip are larger).
const MAX_BODY: usize = 128 * 1024 * 1024;
/// How long an execution environment may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Where a subnet's probe runs.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// The network namespace of the subnet's probe ENI; `None` runs the environment in the
    /// current namespace (tests without the lab).
    pub netns: Option<String>,
    /// Extra environment for the runtime process (e.g. the lab's CA bundle, resolv.conf).
    pub env: Vec<(String, String)>,
}

/// Maps a subnet ID to its placement; `None` = the lab cannot run a probe there.
pub type PlacementFn = Arc<dyn Fn(&str) -> Option<Placement> + Send + Sync>;

/// The lab's placements: every subnet with a Lambda ENI host runs its probes in that
/// host's namespace, with the lab's resolver (bind-mounted by `ip netns exec`), its test CA
/// and its AWS API address (reachable only through the subnet's own egress path).
#[derive(Clone, Default)]
pub struct LabPlacements {
    map: Arc<std::sync::RwLock<HashMap<String, Placement>>>,
}

impl LabPlacements {
    pub fn from_lab(lab: &crate::lab::Lab) -> Self {
        let p = LabPlacements::default();
        p.update(lab);
        p
    }

    /// Re-reads the lab's hosts (after [`crate::lab::Lab::add_function_eni`]).
    pub fn update(&self, lab: &crate::lab::Lab) {
        let mut map = HashMap::new();
        for host in lab.hosts() {
            if !matches!(host.kind, crate::lab::HostKind::Eni(_)) {
                continue;
            }
            map.entry(host.subnet_id.clone())
                .or_insert_with(|| Placement {
                    netns: Some(host.ns.name().to_string()),
                    env: vec![
                        ("AWS_ENDPOINT_URL".into(), lab.aws_endpoint_url()),
                        (
                            "EGRESS_PROBE_EXTRA_CA_FILE".into(),
                            lab.ca_file().display().to_string(),
                        ),
                        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
                    ],
                });
        }
        *self.map.write().unwrap_or_else(|p| p.into_inner()) = map;
    }

    pub fn as_fn(&self) -> PlacementFn {
        let map = self.map.clone();
        Arc::new(move |subnet: &str| {
            map.read()
                .unwrap_or_else(|p| p.into_inner())
                .get(subnet)
                .cloned()
        })
    }
}

/// What the front needs.
pub struct FrontConfig {
    /// moto's endpoint, `http://127.0.0.1:<port>`.
    pub moto_endpoint: String,
    /// SDK configuration pointing at moto (for the front's own lookups).
    pub sdk_config: aws_config::SdkConfig,
    /// The runtime process: the real `egress-probe-lambda`.
    pub probe_exe: PathBuf,
    /// The `lab-runtime` helper.
    pub lab_runtime_exe: PathBuf,
    /// Directory for sockets and logs (must be reachable from every namespace: the
    /// filesystem is shared).
    pub work_dir: PathBuf,
    pub placement: PlacementFn,
    /// The Network Firewall stand-in's data (the lab's [`crate::lab::Lab::nfw`]).
    pub nfw: crate::lab::nfw::NfwStore,
}

/// One invocation the front ran, for tests and the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationRecord {
    pub function: String,
    pub subnet_id: String,
    pub netns: Option<String>,
    /// `response`, `error` (function error or timeout) or `front_error`.
    pub result: String,
}

/// A warm execution environment: one `lab-runtime` process.
struct WarmEnv {
    child: Child,
    /// Held open: the helper exits when it closes.
    stdin: Option<ChildStdin>,
    socket: PathBuf,
    revision: String,
    log: PathBuf,
}

impl WarmEnv {
    /// Closes the helper's stdin (it kills its runtime process and exits), then makes sure.
    fn shutdown_blocking(&mut self) {
        self.stdin = None;
        for _ in 0..40 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.start_kill();
    }
}

impl Drop for WarmEnv {
    fn drop(&mut self) {
        self.shutdown_blocking();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Warm execution environments by (function name, code/config key).
type WarmEnvs = HashMap<(String, String), Arc<tokio::sync::Mutex<WarmEnv>>>;

struct State {
    config: FrontConfig,
    lambda: aws_sdk_lambda::Client,
    ec2: aws_sdk_ec2::Client,
    moto_addr: String,
    envs: tokio::sync::Mutex<WarmEnvs>,
    round_robin: AtomicUsize,
    records: Mutex<Vec<InvocationRecord>>,
}

/// A running front; stops (and ends every environment) when dropped.
pub struct InvokeFront {
    addr: SocketAddr,
    state: Arc<State>,
    server: JoinHandle<()>,
}

impl Drop for InvokeFront {
    fn drop(&mut self) {
        self.server.abort();
        self.shutdown_environments();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl InvokeFront {
    /// Starts the front on a free port of 127.0.0.1.
    pub async fn start(config: FrontConfig) -> Result<InvokeFront> {
        let moto_addr = config
            .moto_endpoint
            .strip_prefix("http://")
            .map(|s| s.trim_end_matches('/').to_string())
            .with_context(|| format!("moto endpoint {} is not http://", config.moto_endpoint))?;
        std::fs::create_dir_all(&config.work_dir)
            .with_context(|| format!("creating {}", config.work_dir.display()))?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the Invoke front on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            lambda: aws_sdk_lambda::Client::new(&config.sdk_config),
            ec2: aws_sdk_ec2::Client::new(&config.sdk_config),
            config,
            moto_addr,
            envs: tokio::sync::Mutex::new(HashMap::new()),
            round_robin: AtomicUsize::new(0),
            records: Mutex::new(Vec::new()),
        });
        let server = tokio::spawn(serve(listener, state.clone()));
        Ok(InvokeFront {
            addr,
            state,
            server,
        })
    }

    /// `http://127.0.0.1:<port>`: the `AWS_ENDPOINT_URL` for the installer.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every invocation so far, in order.
    pub fn invocations(&self) -> Vec<InvocationRecord> {
        lock(&self.state.records).clone()
    }

    /// Log files of the environments started so far (the runtime's "CloudWatch Logs").
    pub fn logs(&self) -> Vec<PathBuf> {
        let Ok(dir) = std::fs::read_dir(&self.state.config.work_dir) else {
            return Vec::new();
        };
        let mut logs: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        logs.sort();
        logs
    }

    /// Ends every execution environment (also done on drop).
    pub fn shutdown_environments(&self) {
        if let Ok(mut envs) = self.state.envs.try_lock() {
            for (_, env) in envs.drain() {
                if let Ok(mut e) = env.try_lock() {
                    e.shutdown_blocking();
                }
            }
        }
    }
}

async fn serve(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(route(req, state).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// `%XX` decoding of a path segment (function names may be ARNs with `%3A`).
fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The function named in an Invoke path, or `None` for any other path.
fn invoke_target(path: &str) -> Option<String> {
    let name = path
        .strip_prefix("/2015-03-31/functions/")?
        .strip_suffix("/invocations")?;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    Some(percent_decode(name))
}

fn lambda_error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    let body = json!({
        "Type": if status.is_server_error() { "Service" } else { "User" },
        "message": message,
    });
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(error_type) {
        h.insert("X-Amzn-ErrorType", v);
    }
    if let Ok(v) = HeaderValue::from_str(&random_hex(16)) {
        h.insert("x-amzn-RequestId", v);
    }
    resp
}

/// A Network Firewall API call, answered from the lab's data (awsJson1_0).
async fn network_firewall(
    req: Request<Incoming>,
    target: String,
    state: Arc<State>,
) -> Response<Full<Bytes>> {
    let body = match Limited::new(req.into_body(), 1024 * 1024).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            return lambda_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestException",
                &format!("unreadable request body: {e}"),
            );
        }
    };
    let (status, answer) = state.config.nfw.handle(&target, &body);
    let mut resp = Response::new(Full::new(Bytes::from(answer.to_string())));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    if status != 200
        && let Some(t) = answer["__type"].as_str()
        && let Ok(v) = HeaderValue::from_str(t)
    {
        h.insert("X-Amzn-ErrorType", v);
    }
    if let Ok(v) = HeaderValue::from_str(&random_hex(16)) {
        h.insert("x-amzn-RequestId", v);
    }
    resp
}

async fn route(req: Request<Incoming>, state: Arc<State>) -> Response<Full<Bytes>> {
    if let Some(target) = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .filter(|t| t.starts_with(crate::lab::nfw::TARGET_PREFIX))
        .map(str::to_string)
    {
        return network_firewall(req, target, state).await;
    }
    if req.method() == Method::POST
        && let Some(function) = invoke_target(req.uri().path())
    {
        return invoke(req, function, state).await;
    }
    match pass_through(req, &state).await {
        Ok(resp) => resp,
        Err(e) => lambda_error(
            StatusCode::BAD_GATEWAY,
            "ServiceException",
            &format!("the lab's Invoke front could not reach moto: {e:#}"),
        ),
    }
}

/// Headers that describe one hop, not the message.
fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            // The front has the whole body already; moto need not ask for it.
            | "expect"
    )
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !is_hop_by_hop(name.as_str()) {
            to.append(name.clone(), value.clone());
        }
    }
}

async fn pass_through(req: Request<Incoming>, state: &State) -> Result<Response<Full<Bytes>>> {
    let (parts, body) = req.into_parts();
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("reading the request body: {e}"))?
        .to_bytes();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut out = Request::builder()
        .method(parts.method.clone())
        .uri(path)
        .body(Full::new(body))?;
    copy_headers(&parts.headers, out.headers_mut());
    let stream = TcpStream::connect(&state.moto_addr)
        .await
        .with_context(|| format!("connecting to moto at {}", state.moto_addr))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let conn = tokio::spawn(conn);
    let resp = sender.send_request(out).await?;
    let (rparts, rbody) = resp.into_parts();
    let rbody = Limited::new(rbody, MAX_BODY)
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("reading moto's answer: {e}"))?
        .to_bytes();
    conn.abort();
    let mut back = Response::new(Full::new(rbody));
    *back.status_mut() = rparts.status;
    copy_headers(&rparts.headers, back.headers_mut());
    Ok(back)
}

/// The function's configuration as the front needs it.
struct FunctionInfo {
    name: String,
    arn: String,
    version: String,
    revision: String,
    timeout: Duration,
    memory_mb: u32,
    subnets: Vec<String>,
    environment: Vec<(String, String)>,
}

async fn function_info(
    state: &State,
    function: &str,
    qualifier: Option<&str>,
) -> Result<Option<FunctionInfo>> {
    let resp = state
        .lambda
        .get_function_configuration()
        .function_name(function)
        .set_qualifier(qualifier.map(str::to_string))
        .send()
        .await;
    let cfg = match resp {
        Ok(c) => c,
        Err(e) => {
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
            {
                return Ok(None);
            }
            return Err(anyhow::Error::new(e).context("GetFunctionConfiguration"));
        }
    };
    let name = cfg
        .function_name()
        .map(str::to_string)
        .unwrap_or_else(|| function.to_string());
    let mut environment: Vec<(String, String)> = cfg
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    environment.sort();
    Ok(Some(FunctionInfo {
        arn: cfg.function_arn().unwrap_or_default().to_string(),
        version: cfg.version().unwrap_or("$LATEST").to_string(),
        revision: format!(
            "{}|{}|{:?}",
            cfg.revision_id().unwrap_or_default(),
            cfg.last_modified().unwrap_or_default(),
            environment
        ),
        timeout: Duration::from_secs(u64::try_from(cfg.timeout().unwrap_or(3)).unwrap_or(3)),
        memory_mb: u32::try_from(cfg.memory_size().unwrap_or(128)).unwrap_or(128),
        subnets: cfg
            .vpc_config()
            .map(|v| v.subnet_ids().to_vec())
            .unwrap_or_default(),
        environment,
        name,
    }))
}

fn query_param(uri: &http::Uri, key: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

async fn invoke(
    req: Request<Incoming>,
    function: String,
    state: Arc<State>,
) -> Response<Full<Bytes>> {
    let qualifier = query_param(req.uri(), "Qualifier");
    let invocation_type = req
        .headers()
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse")
        .to_string();
    let payload = match Limited::new(req.into_body(), 6 * 1024 * 1024)
        .collect()
        .await
    {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            return lambda_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLargeException",
                &format!("request payload over 6 MB or unreadable: {e}"),
            );
        }
    };
    // An ARN or partial ARN names the function too.
    let lookup = function.clone();
    let info = match function_info(&state, &lookup, qualifier.as_deref()).await {
        Ok(Some(i)) => i,
        Ok(None) => {
            return lambda_error(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                &format!(
                    "Function not found: arn:aws:lambda:{}:123456789012:function:{function}",
                    state
                        .config
                        .sdk_config
                        .region()
                        .map(|r| r.to_string())
                        .unwrap_or_default()
                ),
            );
        }
        Err(e) => {
            return lambda_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                &format!("{e:#}"),
            );
        }
    };
    let placed: Vec<(String, Placement)> = info
        .subnets
        .iter()
        .filter_map(|s| (state.config.placement)(s).map(|p| (s.clone(), p)))
        .collect();
    if placed.is_empty() {
        return lambda_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            &format!(
                "the lab runs no subnet of function {} (VpcConfig subnets: {:?})",
                info.name, info.subnets
            ),
        );
    }
    match invocation_type.as_str() {
        "DryRun" => {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::NO_CONTENT;
            return r;
        }
        "RequestResponse" | "Event" => {}
        other => {
            return lambda_error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                &format!("InvocationType {other} is not RequestResponse, Event or DryRun"),
            );
        }
    }
    let n = state.round_robin.fetch_add(1, Ordering::Relaxed);
    let (subnet, placement) = placed[n % placed.len()].clone();
    if invocation_type == "Event" {
        let state = state.clone();
        tokio::spawn(async move {
            let _ = run_in_environment(&state, &info, &subnet, &placement, payload).await;
        });
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::ACCEPTED;
        return r;
    }
    run_in_environment(&state, &info, &subnet, &placement, payload).await
}

async fn run_in_environment(
    state: &State,
    info: &FunctionInfo,
    subnet: &str,
    placement: &Placement,
    payload: Bytes,
) -> Response<Full<Bytes>> {
    let record = |result: &str| {
        lock(&state.records).push(InvocationRecord {
            function: info.name.clone(),
            subnet_id: subnet.to_string(),
            netns: placement.netns.clone(),
            result: result.to_string(),
        });
    };
    let env = match environment(state, info, subnet, placement).await {
        Ok(e) => e,
        Err(e) => {
            record("front_error");
            return lambda_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                &format!("could not start the execution environment in {subnet}: {e:#}"),
            );
        }
    };
    let socket = env.lock().await.socket.clone();
    match forward(&socket, payload).await {
        Ok(resp) => {
            record(if resp.headers().contains_key("x-amz-function-error") {
                "error"
            } else {
                "response"
            });
            resp
        }
        Err(e) => {
            record("front_error");
            let log = env.lock().await.log.clone();
            lambda_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                &format!(
                    "execution environment in {subnet} failed: {e:#} (log: {})",
                    log.display()
                ),
            )
        }
    }
}

/// Sends the event over the environment's socket and relays the Invoke-shaped answer.
async fn forward(socket: &PathBuf, payload: Bytes) -> Result<Response<Full<Bytes>>> {
    let stream = UnixStream::connect(socket)
        .await
        .with_context(|| format!("connecting to {}", socket.display()))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let conn = tokio::spawn(conn);
    let req = Request::post("/2015-03-31/functions/function/invocations")
        .header(http::header::HOST, "lab-runtime")
        .body(Full::new(payload))?;
    let resp = sender.send_request(req).await?;
    let (parts, body) = resp.into_parts();
    let body = Limited::new(body, 8 * 1024 * 1024)
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("reading the environment's answer: {e}"))?
        .to_bytes();
    conn.abort();
    let mut back = Response::new(Full::new(body));
    *back.status_mut() = parts.status;
    copy_headers(&parts.headers, back.headers_mut());
    Ok(back)
}

/// The warm environment for (function, subnet), started or replaced as needed.
async fn environment(
    state: &State,
    info: &FunctionInfo,
    subnet: &str,
    placement: &Placement,
) -> Result<Arc<tokio::sync::Mutex<WarmEnv>>> {
    let key = (info.name.clone(), subnet.to_string());
    let mut envs = state.envs.lock().await;
    if let Some(env) = envs.get(&key) {
        let mut e = env.lock().await;
        let alive = matches!(e.child.try_wait(), Ok(None));
        if alive && e.revision == info.revision {
            drop(e);
            return Ok(env.clone());
        }
        e.shutdown_blocking();
        drop(e);
        envs.remove(&key);
    }
    let env = Arc::new(tokio::sync::Mutex::new(
        start_environment(state, info, subnet, placement).await?,
    ));
    envs.insert(key, env.clone());
    Ok(env)
}

async fn availability_zone_id(state: &State, subnet: &str) -> Result<Option<String>> {
    let out = state
        .ec2
        .describe_subnets()
        .subnet_ids(subnet)
        .send()
        .await
        .with_context(|| format!("DescribeSubnets {subnet}"))?;
    Ok(out
        .subnets()
        .first()
        .and_then(|s| s.availability_zone_id())
        .map(str::to_string))
}

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

async fn start_environment(
    state: &State,
    info: &FunctionInfo,
    subnet: &str,
    placement: &Placement,
) -> Result<WarmEnv> {
    let cfg = &state.config;
    let az_id = availability_zone_id(state, subnet).await?;
    let stem = format!(
        "{}-{}-{}",
        file_safe(&info.name),
        file_safe(subnet),
        &random_hex(4)
    );
    let socket = cfg.work_dir.join(format!("{stem}.sock"));
    let log = cfg.work_dir.join(format!("{stem}.log"));
    let region = cfg
        .sdk_config
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let mut args: Vec<String> = Vec::new();
    let program = match &placement.netns {
        Some(ns) => {
            args.extend(["netns".into(), "exec".into(), ns.clone()]);
            args.push(cfg.lab_runtime_exe.display().to_string());
            PathBuf::from("ip")
        }
        None => cfg.lab_runtime_exe.clone(),
    };
    // In its own namespace the Runtime API sits where Lambda's does; in the host namespace
    // (tests without the lab) any free loopback port.
    let listen = if placement.netns.is_some() {
        "127.0.0.1:9001"
    } else {
        "127.0.0.1:0"
    };
    args.extend([
        "--socket".into(),
        socket.display().to_string(),
        "--listen".into(),
        listen.into(),
        "--function-name".into(),
        info.name.clone(),
        "--function-arn".into(),
        info.arn.clone(),
        "--function-version".into(),
        info.version.clone(),
        "--memory-mb".into(),
        info.memory_mb.to_string(),
        "--region".into(),
        region.clone(),
        "--timeout-ms".into(),
        info.timeout.as_millis().to_string(),
        "--log".into(),
        log.display().to_string(),
    ]);
    if let Some(az) = &az_id {
        args.extend(["--az-id".into(), az.clone()]);
    }
    args.push("--".into());
    args.push(cfg.probe_exe.display().to_string());

    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("creating {}", log.display()))?;
    let mut cmd = Command::new(&program);
    cmd.args(&args)
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into()),
        )
        // Lambda gives every function credentials in its environment; these are moto's
        // dummies (the probe reaches an EC2 API only where the lab bridges one).
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_SESSION_TOKEN", "testing")
        .envs(info.environment.iter().cloned())
        .envs(placement.env.iter().cloned())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log_file)
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {} {}", program.display(), args.join(" ")))?;
    let stdin = child.stdin.take();
    let Some(stdout) = child.stdout.take() else {
        bail!("no stdout from lab-runtime");
    };
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(START_TIMEOUT, lines.next_line()).await;
    match ready {
        Ok(Ok(Some(line))) if line.trim() == "READY" => {}
        other => {
            let _ = child.start_kill();
            let log_text = std::fs::read_to_string(&log).unwrap_or_default();
            bail!(
                "lab-runtime for {} in {subnet} did not become ready ({other:?}); its log:\n{log_text}",
                info.name
            );
        }
    }
    // Keep draining stdout (nothing more is expected) so the helper never blocks on it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(WarmEnv {
        child,
        stdin,
        socket,
        revision: info.revision.clone(),
        log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoke_paths_name_the_function() {
        assert_eq!(
            invoke_target("/2015-03-31/functions/probe-a/invocations").as_deref(),
            Some("probe-a")
        );
        assert_eq!(
            invoke_target(
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Ap/invocations"
            )
            .as_deref(),
            Some("arn:aws:lambda:us-east-1:123456789012:function:p")
        );
        assert_eq!(invoke_target("/2015-03-31/functions/p/configuration"), None);
        assert_eq!(invoke_target("/2015-03-31/functions//invocations"), None);
        assert_eq!(invoke_target("/"), None);
    }

    #[test]
    fn percent_decoding_keeps_malformed_escapes() {
        assert_eq!(percent_decode("a%3Ab"), "a:b");
        assert_eq!(percent_decode("a%3"), "a%3");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
