//! The probe's real bootstrap path: the `egress-probe-lambda` binary driven through
//! lambda_runtime against the Runtime API emulator on loopback (issue 3), and the
//! emulator's own contract (deadline enforcement, metadata endpoint).
//!
//! Traffic stays on 127.0.0.1. The probe's self-diagnosis is off (`EGRESS_PROBE_DIAGNOSE=never`)
//! and its AWS endpoint points at a closed loopback port, so nothing leaves the host.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use egress_probe_e2e::runtime_api::{
    InvokeOutcome, LambdaEnvironment, MetadataConfig, RuntimeApi, RuntimeApiConfig,
    workspace_binary,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:probe-test";
const TOKEN: &str = "test-metadata-token";

/// A free loopback port with nothing listening (connects are refused).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A listener that accepts and holds connections, never writing (TCP ok; a TLS handshake
/// on it hangs).
async fn silent_listener() -> (u16, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    (port, task)
}

async fn emulator() -> RuntimeApi {
    let mut config = RuntimeApiConfig::new(ARN);
    config.metadata = Some(MetadataConfig {
        token: TOKEN.into(),
        availability_zone_id: "use1-az1".into(),
    });
    RuntimeApi::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}

/// Starts the real probe bootstrap against `api` with `targets` as its default targets.
fn start_probe(api: &RuntimeApi, targets: &str, extra: &[(&str, &str)]) -> Child {
    let exe = workspace_binary("egress-probe-lambda").unwrap();
    let env = LambdaEnvironment {
        function_name: "probe-test".into(),
        function_version: "$LATEST".into(),
        memory_mb: 128,
        region: "us-east-1".into(),
        runtime_api: api.host_port(),
        metadata: Some((api.host_port(), TOKEN.into())),
    };
    let mut cmd = Command::new(exe);
    cmd.env_clear()
        .envs(env.vars())
        .env("EGRESS_PROBE_TARGETS", targets)
        .env("EGRESS_PROBE_DIAGNOSE", "never")
        .env("EGRESS_PROBE_SUBNET_ID", "subnet-0test")
        // Belt and braces: any AWS call would go to a closed loopback port.
        .env(
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", closed_port()),
        )
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

fn report(outcome: &InvokeOutcome) -> Value {
    match outcome {
        InvokeOutcome::Response(b) => serde_json::from_slice(b).unwrap(),
        other => panic!("expected a report, got {other:?}"),
    }
}

fn observation<'a>(report: &'a Value, target: &str) -> &'a Value {
    report["observations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["target"] == target)
        .unwrap_or_else(|| panic!("no observation for {target} in {report:#}"))
}

#[tokio::test]
async fn empty_event_returns_a_report_through_the_runtime_api() {
    let (open, _listener) = silent_listener().await;
    let closed = closed_port();
    let api = emulator().await;
    let ok_target = format!("tcp://127.0.0.1:{open}");
    let refused_target = format!("tcp://127.0.0.1:{closed}");
    let _probe = start_probe(&api, &format!("{ok_target},{refused_target}"), &[]);

    for event in ["{}", "null"] {
        let outcome = api
            .invoke(Bytes::from(event), Duration::from_secs(10))
            .await;
        let r = report(&outcome);
        assert_eq!(r["schema"], "egress-probe.report/v1", "{event}");
        assert_eq!(r["plan"]["source"], "defaults", "{event}");
        assert_eq!(observation(&r, &ok_target)["status"], "ok", "{r:#}");
        let refused = observation(&r, &refused_target);
        assert_eq!(refused["status"], "refused", "{r:#}");
        assert_eq!(refused["os_error"], "ECONNREFUSED", "{r:#}");
        assert_eq!(r["identity"]["function_name"], "probe-test");
        assert_eq!(r["identity"]["memory_mb"], 128);
        assert_eq!(r["identity"]["subnet_id"], "subnet-0test");
        // The AZ ID came from the metadata endpoint, with the token.
        assert_eq!(r["identity"]["availability_zone_id"], "use1-az1", "{r:#}");
        assert!(
            r["identity"]["request_id"]
                .as_str()
                .is_some_and(|s| s.len() == 36)
        );
        // The token never appears in the report.
        assert!(!r.to_string().contains(TOKEN));
    }
    // The runtime goes back to `/next` after each answer (it may still be on its way).
    let waited = Instant::now();
    while api.stats().next_requests < 3 && waited.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats = api.stats();
    assert_eq!(stats.responses, 2);
    assert_eq!(stats.errors, 0);
    assert_eq!(stats.next_requests, 3, "{stats:?}");
}

#[tokio::test]
async fn bad_events_give_an_error_response_naming_the_field() {
    let api = emulator().await;
    let _probe = start_probe(&api, &format!("tcp://127.0.0.1:{}", closed_port()), &[]);
    for (event, field) in [
        (r#"{"targets":["tcp://127.0.0.1:70000"]}"#, "targets[0]"),
        (r#"{"targets":"dns:x"}"#, "targets"),
        (r#"{"bogus":1}"#, "bogus"),
        (r#"[1,2]"#, "(event)"),
    ] {
        match api
            .invoke(Bytes::from(event), Duration::from_secs(10))
            .await
        {
            InvokeOutcome::Error {
                error_type,
                message,
            } => {
                assert_eq!(error_type, "InvalidEvent", "{event}");
                assert!(
                    message.contains(&format!("`{field}`")),
                    "{event}: {message}"
                );
            }
            other => panic!("{event}: expected an error, got {other:?}"),
        }
    }
    // The environment survives bad events: the next good one gets a report.
    let r = report(&api.invoke(Bytes::from("{}"), Duration::from_secs(10)).await);
    assert_eq!(r["schema"], "egress-probe.report/v1");
    assert_eq!(api.stats().errors, 4);
}

#[tokio::test]
async fn hanging_target_is_cut_short_and_the_report_beats_the_deadline() {
    let (hang, _listener) = silent_listener().await;
    let api = emulator().await;
    let target = format!("https://127.0.0.1:{hang}/");
    // The check's own timeout (30 s) is far past the function timeout (2 s): the
    // invocation's deadline must bound it.
    let _probe = start_probe(
        &api,
        &target,
        &[
            ("EGRESS_PROBE_HTTPS_TIMEOUT_MS", "30000"),
            ("EGRESS_PROBE_CONNECT_TIMEOUT_MS", "30000"),
        ],
    );
    let function_timeout = Duration::from_secs(2);
    let started = Instant::now();
    let outcome = api.invoke(Bytes::from("{}"), function_timeout).await;
    let elapsed = started.elapsed();
    assert!(
        !matches!(outcome, InvokeOutcome::Timeout { .. }),
        "a Lambda timeout is a bug: {outcome:?}"
    );
    let r = report(&outcome);
    let o = observation(&r, &target);
    assert_eq!(o["status"], "cut_short", "{r:#}");
    assert!(
        elapsed < function_timeout + Duration::from_secs(1),
        "{elapsed:?}"
    );
    assert!(!api.needs_restart());
}

// ---- the emulator's own contract, with a hand-driven "runtime" ----

async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, http::HeaderMap, Bytes) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::from(body.to_string()))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body)
}

#[tokio::test]
async fn a_runtime_that_never_answers_times_out_like_lambda() {
    let api = emulator().await;
    let addr = api.addr();
    let timeout = Duration::from_millis(300);
    let runtime = tokio::spawn(async move {
        let (status, headers, body) =
            request(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], "").await;
        (status, headers, body)
    });
    let started = Instant::now();
    let outcome = api.invoke(Bytes::from_static(b"{\"x\":1}"), timeout).await;
    let elapsed = started.elapsed();
    assert_eq!(outcome, InvokeOutcome::Timeout { after: timeout });
    assert!(elapsed >= timeout, "{elapsed:?}");
    assert!(api.needs_restart());

    let (status, headers, body) = runtime.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(&body[..], b"{\"x\":1}");
    assert_eq!(headers["lambda-runtime-invoked-function-arn"], ARN);
    assert!(headers.contains_key("lambda-runtime-trace-id"));
    let id = headers["lambda-runtime-aws-request-id"].to_str().unwrap();
    let deadline: u64 = headers["lambda-runtime-deadline-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        deadline <= now_ms,
        "the deadline ({deadline}) has passed by now ({now_ms})"
    );
    assert!(deadline + 5_000 > now_ms);

    // A late answer is refused: the invocation is over.
    let path = format!("/2018-06-01/runtime/invocation/{id}/response");
    let (status, _, _) = request(addr, "POST", &path, &[], "{}").await;
    assert_eq!(status, 400);
    assert_eq!(api.stats().responses, 0);

    let rendered = outcome.to_invoke_response(id);
    assert_eq!(rendered.headers()["x-amz-function-error"], "Unhandled");
}

#[tokio::test]
async fn error_and_init_error_reach_the_invoker() {
    let api = emulator().await;
    let addr = api.addr();
    let runtime = tokio::spawn(async move {
        let (_, headers, _) =
            request(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], "").await;
        let id = headers["lambda-runtime-aws-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        let path = format!("/2018-06-01/runtime/invocation/{id}/error");
        let (status, _, _) = request(
            addr,
            "POST",
            &path,
            &[("lambda-runtime-function-error-type", "unhandled")],
            r#"{"errorType":"InvalidEvent","errorMessage":"invalid event field `targets`"}"#,
        )
        .await;
        assert_eq!(status, 202);
        let (status, _, _) = request(
            addr,
            "POST",
            "/2018-06-01/runtime/init/error",
            &[("lambda-runtime-function-error-type", "Runtime.InitError")],
            r#"{"errorType":"InvalidConfiguration","errorMessage":"bad setting"}"#,
        )
        .await;
        assert_eq!(status, 202);
    });
    let outcome = api.invoke(Bytes::from("{}"), Duration::from_secs(5)).await;
    assert_eq!(
        outcome,
        InvokeOutcome::Error {
            error_type: "InvalidEvent".into(),
            message: "invalid event field `targets`".into()
        }
    );
    runtime.await.unwrap();
    // After an init error every invocation fails with it until the environment is reset.
    let outcome = api.invoke(Bytes::from("{}"), Duration::from_secs(5)).await;
    assert_eq!(
        outcome,
        InvokeOutcome::Error {
            error_type: "InvalidConfiguration".into(),
            message: "bad setting".into()
        }
    );
    assert!(api.needs_restart());
}

#[tokio::test]
async fn metadata_endpoint_requires_the_token() {
    let api = emulator().await;
    let path = "/2026-01-15/metadata/execution-environment";
    let good = format!("Bearer {TOKEN}");
    let (status, headers, body) =
        request(api.addr(), "GET", path, &[("authorization", &good)], "").await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["AvailabilityZoneID"], "use1-az1");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=43200")
    );
    for auth in [Some("Bearer wrong"), Some(TOKEN), None] {
        let h: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let (status, _, _) = request(api.addr(), "GET", path, &h, "").await;
        assert_eq!(status, 401, "{auth:?}");
    }
    let (status, _, _) = request(api.addr(), "POST", path, &[("authorization", &good)], "").await;
    assert_eq!(status, 405);
}
