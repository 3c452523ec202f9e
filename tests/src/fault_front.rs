//! A fault-injecting front for moto: one HTTP endpoint on 127.0.0.1 that passes every AWS
//! request through to moto, except the operations a test scripted a fault for. Faults:
//! an AWS error in the service's own wire format (denied, throttled, conflict …), an HTTP
//! status without an AWS error code, an answer lost after moto made the change, a delay
//! (for SIGTERM while a call is in flight) and a dropped connection.
//!
//! Operations are named as in the API reference (`AddPermission`, `DeleteRule`,
//! `ListRoleTags`, `DescribeSubnets`): from `X-Amz-Target` (EventBridge), the form
//! `Action` (EC2, IAM, STS) or the REST path (Lambda).

use anyhow::{Context, Result};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const MAX_BODY: usize = 128 * 1024 * 1024;

/// What the front does instead of (or around) passing a request through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this AWS error code and HTTP status, in the service's wire format.
    Error { status: u16, code: String },
    /// Answer with this HTTP status and an HTML body: no AWS error code.
    Status(u16),
    /// Pass the request to moto (the change is made), then answer with this AWS error: the
    /// answer was lost on the way back, so a retry finds the change already made.
    AfterPass { status: u16, code: String },
    /// Wait, then pass through.
    Delay(Duration),
    /// Close the connection without an answer.
    Drop,
}

impl Fault {
    /// `AccessDenied`-style error of the service (403).
    pub fn denied(code: &str) -> Fault {
        Fault::Error {
            status: 403,
            code: code.to_string(),
        }
    }
    /// A throttling error (400 `ThrottlingException` / `Throttling`, as the service names it).
    pub fn throttled(code: &str) -> Fault {
        Fault::Error {
            status: 400,
            code: code.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    /// The operation, or `*` for every one.
    operation: String,
    /// Only requests signed for this Region (the SigV4 credential scope).
    region: Option<String>,
    /// Only requests whose body contains this text (e.g. an account ID in a role ARN).
    body_contains: Option<String>,
    fault: Fault,
    /// How many more requests it applies to.
    remaining: usize,
}

/// Which requests a fault applies to beyond the operation (fleet tests: one Region, one
/// account's role).
#[derive(Debug, Clone, Default)]
pub struct Match {
    pub region: Option<String>,
    pub body_contains: Option<String>,
}

/// Answers `Invoke` for a function name (the body of a 200 answer), instead of moto.
pub type InvokeReply = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

#[derive(Default)]
struct State {
    moto_addr: String,
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<String>>,
    /// Added to every request (as AWS's own latency would be).
    latency: Mutex<Duration>,
    invoke_reply: Mutex<Option<InvokeReply>>,
}

/// A running front; stops when dropped.
pub struct FaultFront {
    addr: SocketAddr,
    state: Arc<State>,
    server: JoinHandle<()>,
}

impl Drop for FaultFront {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FaultFront {
    /// Starts the front on a free port of 127.0.0.1, in front of `moto_endpoint`.
    pub async fn start(moto_endpoint: &str) -> Result<FaultFront> {
        let moto_addr = moto_endpoint
            .strip_prefix("http://")
            .map(|s| s.trim_end_matches('/').to_string())
            .with_context(|| format!("moto endpoint {moto_endpoint} is not http://"))?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the fault front on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            moto_addr,
            ..State::default()
        });
        let server = tokio::spawn(serve(listener, state.clone()));
        Ok(FaultFront {
            addr,
            state,
            server,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Applies `fault` to the next `times` requests of `operation` (`None`: every one).
    pub fn inject(&self, operation: &str, fault: Fault, times: Option<usize>) {
        self.inject_where(operation, Match::default(), fault, times);
    }

    /// Applies `fault` to the next `times` requests of `operation` (`*`: any) that match
    /// `only` (`None`: every one).
    pub fn inject_where(&self, operation: &str, only: Match, fault: Fault, times: Option<usize>) {
        lock(&self.state.rules).push(Rule {
            operation: operation.to_string(),
            region: only.region,
            body_contains: only.body_contains,
            fault,
            remaining: times.unwrap_or(usize::MAX),
        });
    }

    /// Adds `latency` to every request from now on.
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.state.latency) = latency;
    }

    /// Answers `Invoke` through `reply` (the function name → the payload; `None`: pass
    /// to moto).
    pub fn set_invoke_reply(&self, reply: Option<InvokeReply>) {
        *lock(&self.state.invoke_reply) = reply;
    }

    /// Removes every fault.
    pub fn clear(&self) {
        lock(&self.state.rules).clear();
    }

    /// Every operation received so far, in order.
    pub fn seen(&self) -> Vec<String> {
        lock(&self.state.seen).clone()
    }

    /// How many requests of `operation` were received.
    pub fn count(&self, operation: &str) -> usize {
        lock(&self.state.seen)
            .iter()
            .filter(|o| *o == operation)
            .count()
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
                async move { route(req, state).await }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Which wire format errors take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// Lambda (restJson1) and EventBridge (awsJson1_1): `X-Amzn-ErrorType` + JSON.
    Json,
    /// EC2 query: `<Response><Errors><Error>`.
    Ec2,
    /// IAM and STS query: `<ErrorResponse><Error>`.
    Query,
}

fn form_value<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.split('&')
        .find_map(|kv| kv.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
}

/// The operation name and the error format of a request.
fn operation(method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> (String, Protocol) {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let op = target.rsplit('.').next().unwrap_or(target);
        return (op.to_string(), Protocol::Json);
    }
    // Asynchronous invocation configuration (the fleet manager's report destinations).
    if let Some(rest) = path.strip_prefix("/2019-09-25/functions/")
        && rest.ends_with("/event-invoke-config")
    {
        let op = match method.as_str() {
            "GET" => "GetFunctionEventInvokeConfig",
            "PUT" => "PutFunctionEventInvokeConfig",
            "POST" => "UpdateFunctionEventInvokeConfig",
            "DELETE" => "DeleteFunctionEventInvokeConfig",
            _ => "Lambda",
        };
        return (op.to_string(), Protocol::Json);
    }
    for prefix in ["/2015-03-31/functions", "/2017-03-31/tags"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
            let op = match (prefix, method.as_str(), parts.as_slice()) {
                ("/2017-03-31/tags", "POST", _) => "TagResource",
                ("/2017-03-31/tags", "GET", _) => "ListTags",
                ("/2017-03-31/tags", "DELETE", _) => "UntagResource",
                (_, "POST", []) => "CreateFunction",
                (_, "GET", []) => "ListFunctions",
                (_, "GET", [_]) => "GetFunction",
                (_, "DELETE", [_]) => "DeleteFunction",
                (_, "GET", [_, "configuration"]) => "GetFunctionConfiguration",
                (_, "PUT", [_, "configuration"]) => "UpdateFunctionConfiguration",
                (_, "PUT", [_, "code"]) => "UpdateFunctionCode",
                (_, "POST", [_, "policy"]) => "AddPermission",
                (_, "GET", [_, "policy"]) => "GetPolicy",
                (_, "DELETE", [_, "policy", _]) => "RemovePermission",
                (_, "POST", [_, "invocations"]) => "Invoke",
                (_, "POST", [_, "versions"]) => "PublishVersion",
                _ => "Lambda",
            };
            return (op.to_string(), Protocol::Json);
        }
    }
    let text = String::from_utf8_lossy(body);
    let action = form_value(&text, "Action").unwrap_or("Unknown").to_string();
    // EC2's API version is 2016-11-15; IAM's 2010-05-08, STS's 2011-06-15.
    let protocol = if form_value(&text, "Version") == Some("2016-11-15") {
        Protocol::Ec2
    } else {
        Protocol::Query
    };
    (action, protocol)
}

fn error_response(protocol: Protocol, status: u16, code: &str) -> Response<Full<Bytes>> {
    let message = format!("injected by the fault front: {code}");
    let (body, content_type) = match protocol {
        Protocol::Json => (
            serde_json::json!({"__type": code, "message": message, "Message": message}).to_string(),
            "application/json",
        ),
        Protocol::Ec2 => (
            format!(
                "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>fault</RequestID></Response>"
            ),
            "text/xml",
        ),
        Protocol::Query => (
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
            ),
            "text/xml",
        ),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    if protocol == Protocol::Json
        && let Ok(v) = HeaderValue::from_str(code)
    {
        h.insert("x-amzn-errortype", v);
    }
    resp
}

fn html_response(status: u16) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(
        b"<!DOCTYPE html><html><body><h1>Internal Server Error</h1></body></html>",
    )));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html"),
    );
    resp
}

/// The error type a connection dropped on purpose gives hyper (the connection closes).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault front")
    }
}

impl std::error::Error for Dropped {}

async fn route(
    req: Request<Incoming>,
    state: Arc<State>,
) -> std::result::Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(html_response(400)),
    };
    let path = parts.uri.path().to_string();
    let (op, protocol) = operation(&parts.method, &path, &parts.headers, &body);
    lock(&state.seen).push(op.clone());
    let latency = *lock(&state.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let region = signed_region(&parts.headers);
    let text = String::from_utf8_lossy(&body);
    let fault = {
        let mut rules = lock(&state.rules);
        rules
            .iter_mut()
            .find(|r| {
                (r.operation == op || r.operation == "*")
                    && r.remaining > 0
                    && r.region
                        .as_ref()
                        .is_none_or(|want| region.as_deref() == Some(want))
                    && r.body_contains
                        .as_ref()
                        .is_none_or(|b| text.contains(b.as_str()))
            })
            .map(|r| {
                r.remaining -= 1;
                r.fault.clone()
            })
    };
    if fault.is_none() && op == "Invoke" {
        let reply = lock(&state.invoke_reply).clone();
        let name = path
            .strip_prefix("/2015-03-31/functions/")
            .and_then(|r| r.split('/').next())
            .unwrap_or("");
        if let Some(payload) = reply.and_then(|f| f(name)) {
            let mut resp = Response::new(Full::new(Bytes::from(payload)));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return Ok(resp);
        }
    }
    let pass = |parts: http::request::Parts, body: Bytes| {
        let state = state.clone();
        async move {
            match pass_through(parts, body, &state).await {
                Ok(r) => r,
                Err(_) => html_response(502),
            }
        }
    };
    Ok(match fault {
        None => pass(parts, body).await,
        Some(Fault::Error { status, code }) => error_response(protocol, status, &code),
        Some(Fault::Status(status)) => html_response(status),
        Some(Fault::AfterPass { status, code }) => {
            let _ = pass(parts, body).await;
            error_response(protocol, status, &code)
        }
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            pass(parts, body).await
        }
        Some(Fault::Drop) => return Err(Dropped),
    })
}

/// The Region of the SigV4 credential scope (`Credential=AKID/date/REGION/service/…`).
fn signed_region(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let scope = auth.split("Credential=").nth(1)?;
    scope.split('/').nth(2).map(str::to_string)
}

fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "expect"
    )
}

async fn pass_through(
    parts: http::request::Parts,
    body: Bytes,
    state: &State,
) -> Result<Response<Full<Bytes>>> {
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut out = Request::builder()
        .method(parts.method.clone())
        .uri(path)
        .body(Full::new(body))?;
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name.as_str()) {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
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
    for (name, value) in &rparts.headers {
        if !is_hop_by_hop(name.as_str()) {
            back.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(back)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_as_in_the_api_reference() {
        let h = HeaderMap::new();
        let op = |m: Method, p: &str| operation(&m, p, &h, b"").0;
        assert_eq!(
            op(Method::POST, "/2015-03-31/functions/egress-probe-s/policy"),
            "AddPermission"
        );
        assert_eq!(
            op(
                Method::DELETE,
                "/2015-03-31/functions/egress-probe-s/policy/egress-probe-schedule"
            ),
            "RemovePermission"
        );
        assert_eq!(op(Method::GET, "/2015-03-31/functions/"), "ListFunctions");
        assert_eq!(
            op(Method::DELETE, "/2015-03-31/functions/f"),
            "DeleteFunction"
        );
        let mut events = HeaderMap::new();
        events.insert(
            "x-amz-target",
            HeaderValue::from_static("AWSEvents.PutRule"),
        );
        assert_eq!(operation(&Method::POST, "/", &events, b"").0, "PutRule");
        let (op, proto) = operation(
            &Method::POST,
            "/",
            &h,
            b"Action=ListRoleTags&Version=2010-05-08&RoleName=x",
        );
        assert_eq!((op.as_str(), proto), ("ListRoleTags", Protocol::Query));
        let (op, proto) = operation(
            &Method::POST,
            "/",
            &h,
            b"Action=DescribeSubnets&Version=2016-11-15",
        );
        assert_eq!((op.as_str(), proto), ("DescribeSubnets", Protocol::Ec2));
    }

    #[test]
    fn the_region_comes_from_the_signature_scope() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/ec2/aws4_request, SignedHeaders=host, Signature=x",
            ),
        );
        assert_eq!(signed_region(&h).as_deref(), Some("eu-west-1"));
        assert_eq!(signed_region(&HeaderMap::new()), None);
    }
}
