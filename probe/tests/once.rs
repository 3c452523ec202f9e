//! The real `egress-probe-lambda --once` against loopback peers: the report, bad events,
//! the deadline, the metadata endpoint, and that nothing secret leaks.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_egress-probe-lambda");

/// A listener that accepts and holds connections without ever answering.
fn hanging_listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let clone = l.try_clone().unwrap();
    thread::spawn(move || {
        let mut held = Vec::new();
        for s in clone.incoming().take(64).flatten() {
            held.push(s);
        }
    });
    (l, port)
}

fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Runs the probe once with `event` on stdin and a clean environment plus `env`.
fn run_once(event: &str, env: &[(&str, String)], args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--once")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn report(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON report")
}

fn statuses(r: &Value) -> Vec<(String, String)> {
    r["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["target"].as_str().unwrap().to_string(),
                o["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn report_for_open_and_closed_ports() {
    let (_l, open) = hanging_listener();
    let closed = closed_port();
    let out = run_once(
        "{}",
        &[
            (
                "EGRESS_PROBE_TARGETS",
                format!("tcp://127.0.0.1:{open} tcp://127.0.0.1:{closed}"),
            ),
            ("EGRESS_PROBE_DIAGNOSE", "never".into()),
            ("EGRESS_PROBE_SUBNET_ID", "subnet-0abc".into()),
            ("EGRESS_PROBE_AZ", "us-east-1a".into()),
        ],
        &[],
    );
    let r = report(&out);
    assert_eq!(r["schema"], "egress-probe.report/v1");
    assert_eq!(r["plan"]["source"], "defaults");
    assert_eq!(r["identity"]["subnet_id"], "subnet-0abc");
    assert_eq!(r["identity"]["availability_zone"], "us-east-1a");
    assert_eq!(
        statuses(&r),
        vec![
            (format!("tcp://127.0.0.1:{open}"), "ok".to_string()),
            (format!("tcp://127.0.0.1:{closed}"), "refused".to_string()),
        ]
    );
    let refused = &r["observations"][1];
    assert_eq!(refused["os_error"], "ECONNREFUSED");
    assert_eq!(refused["family"], "ipv4");
    assert_eq!(r["verdict"], "broken");
    assert_eq!(r["analysis"]["status"], "skipped");
    assert_eq!(r["findings"], serde_json::json!([]));
}

#[test]
fn event_targets_override_the_defaults() {
    let (_l, open) = hanging_listener();
    let event = format!(r#"{{"targets":["tcp://127.0.0.1:{open}"],"diagnose":"never"}}"#);
    let r = report(&run_once(&event, &[], &[]));
    assert_eq!(r["plan"]["source"], "event");
    assert_eq!(
        statuses(&r),
        vec![(format!("tcp://127.0.0.1:{open}"), "ok".into())]
    );
    assert_eq!(r["verdict"], "healthy");
}

#[test]
fn bad_event_exits_2_naming_the_field() {
    for (event, field) in [
        (r#"{"targets":["tcp://127.0.0.1:99999"]}"#, "targets[0]"),
        (r#"{"bogus":1}"#, "bogus"),
        ("{not json", "(event)"),
        (r#"{"timeouts":{"dns_ms":999999999}}"#, "timeouts.dns_ms"),
    ] {
        let out = run_once(event, &[], &[]);
        assert_eq!(out.status.code(), Some(2), "event {event}");
        assert!(out.stdout.is_empty(), "nothing on stdout for {event}");
        let err: Value = serde_json::from_slice(&out.stderr).expect("stderr is one JSON error");
        assert_eq!(err["errorType"], "InvalidEvent");
        let msg = err["errorMessage"].as_str().unwrap();
        assert!(
            msg.contains(&format!("`{field}`")),
            "{msg} should name {field}"
        );
    }
}

#[test]
fn bad_setting_exits_2_naming_the_variable() {
    let out = run_once(
        "{}",
        &[("EGRESS_PROBE_TARGETS", "tcp://nohost".into())],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["errorType"], "InvalidConfiguration");
    assert!(
        err["errorMessage"]
            .as_str()
            .unwrap()
            .contains("EGRESS_PROBE_TARGETS")
    );
}

#[test]
fn hanging_target_is_cut_short_before_the_deadline() {
    let (_l, hang) = hanging_listener();
    // 1500 ms of invocation time, 500 ms safety margin: the HTTPS check (5 s timeout)
    // must be cut short and the report must come back before the invocation ends.
    let out = run_once(
        &format!(r#"{{"targets":["https://127.0.0.1:{hang}/"],"diagnose":"never"}}"#),
        &[],
        &["--timeout-ms", "1500"],
    );
    let r = report(&out);
    // Budget = remaining invocation time at handler start minus the 500 ms margin.
    let budget = r["budget_ms"].as_u64().unwrap();
    assert!((950..=1000).contains(&budget), "budget {budget}");
    let o = &r["observations"][0];
    assert_eq!(o["status"], "cut_short", "{o}");
    assert_eq!(o["failed_phase"], "tls");
    assert!(
        r["duration_ms"].as_f64().unwrap() < 1500.0,
        "report after the deadline: {r}"
    );
}

/// A Lambda metadata endpoint (fact sheet §D.5) on loopback that checks the token.
fn metadata_server(token: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for mut s in l.incoming().take(8).flatten() {
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let ok = req.starts_with("GET /2026-01-15/metadata/execution-environment ")
                && req.contains(&format!("Bearer {token}"));
            let resp = if ok {
                let body = r#"{"AvailabilityZoneID":"use1-az1","Other":1}"#;
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = s.write_all(resp.as_bytes());
            let _ = TcpStream::shutdown(&s, std::net::Shutdown::Both);
        }
    });
    port
}

#[test]
fn az_id_from_metadata_and_nothing_secret_leaks() {
    let (_l, open) = hanging_listener();
    let closed = closed_port();
    let meta = metadata_server("META-TOKEN-7f3a");
    let out = run_once(
        r#"{"diagnose":"never"}"#,
        &[
            (
                "EGRESS_PROBE_TARGETS",
                format!("tcp://127.0.0.1:{open} https://127.0.0.1:{closed}/"),
            ),
            ("AWS_LAMBDA_METADATA_API", format!("127.0.0.1:{meta}")),
            ("AWS_LAMBDA_METADATA_TOKEN", "META-TOKEN-7f3a".into()),
            ("AWS_ACCESS_KEY_ID", "AKIDSECRETKEYID01".into()),
            ("AWS_SECRET_ACCESS_KEY", "SECRET-ACCESS-KEY-9b2c".into()),
            ("AWS_SESSION_TOKEN", "SESSION-TOKEN-55aa".into()),
            (
                "HTTPS_PROXY",
                format!("http://user:PROXY-PW-77@127.0.0.1:{closed}"),
            ),
            ("UNRELATED_SETTING", "UNRELATED-VALUE-123".into()),
        ],
        &[],
    );
    let r = report(&out);
    assert_eq!(r["identity"]["availability_zone_id"], "use1-az1");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in [
        "META-TOKEN-7f3a",
        "AKIDSECRETKEYID01",
        "SECRET-ACCESS-KEY-9b2c",
        "SESSION-TOKEN-55aa",
        "PROXY-PW-77",
        "UNRELATED-VALUE-123",
    ] {
        assert!(!all.contains(secret), "{secret} leaked into the output");
    }
    // The proxy was used for the HTTPS check and is reported without its credentials.
    let https = &r["observations"][1];
    assert_eq!(https["proxy"], format!("http://127.0.0.1:{closed}"));
}

#[test]
fn a_metadata_endpoint_that_never_answers_does_not_outlive_the_deadline() {
    // Issue 12.6: the endpoint accepts and never answers. With 200 ms of invocation time
    // (less than the 500 ms safety margin: nothing may be waited for), the report must
    // come before the invocation would end, not after the lookup's own 300 ms timeout.
    let (_meta, meta_port) = hanging_listener();
    let (_l, open) = hanging_listener();
    for timeout_ms in ["200", "700"] {
        let out = run_once(
            r#"{"diagnose":"never"}"#,
            &[
                ("EGRESS_PROBE_TARGETS", format!("tcp://127.0.0.1:{open}")),
                ("AWS_LAMBDA_METADATA_API", format!("127.0.0.1:{meta_port}")),
                ("AWS_LAMBDA_METADATA_TOKEN", "t".into()),
            ],
            &["--timeout-ms", timeout_ms],
        );
        let r = report(&out);
        let budget = r["budget_ms"].as_f64().unwrap();
        let duration = r["duration_ms"].as_f64().unwrap();
        assert!(
            duration <= budget + 50.0,
            "--timeout-ms {timeout_ms}: report after {duration} ms, budget {budget} ms"
        );
        assert!(
            duration < 300.0,
            "waited for the metadata timeout: {duration} ms"
        );
        assert_eq!(r["identity"]["availability_zone_id"], Value::Null);
    }
}

#[test]
fn bad_metadata_token_leaves_the_az_id_out() {
    let meta = metadata_server("expected-token");
    let (_l, open) = hanging_listener();
    let r = report(&run_once(
        r#"{"diagnose":"never"}"#,
        &[
            ("EGRESS_PROBE_TARGETS", format!("tcp://127.0.0.1:{open}")),
            ("AWS_LAMBDA_METADATA_API", format!("127.0.0.1:{meta}")),
            ("AWS_LAMBDA_METADATA_TOKEN", "wrong".into()),
        ],
        &[],
    ));
    assert_eq!(r["identity"]["availability_zone_id"], Value::Null);
    assert_eq!(r["verdict"], "healthy");
}

#[test]
fn analysis_unavailable_when_the_ec2_api_is_unreachable() {
    let closed = closed_port();
    let r = report(&run_once(
        &format!(r#"{{"targets":["tcp://127.0.0.1:{closed}"],"diagnose":"always"}}"#),
        &[
            ("EGRESS_PROBE_SUBNET_ID", "subnet-0abc".into()),
            ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{closed}")),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ],
        &["--timeout-ms", "8000"],
    ));
    assert_eq!(r["analysis"]["status"], "unavailable", "{}", r["analysis"]);
    let reason = r["analysis"]["reason"].as_str().unwrap();
    assert!(reason.contains("interface VPC endpoint"), "{reason}");
    assert!(reason.contains("com.amazonaws.us-east-1.ec2"), "{reason}");
    assert_eq!(r["identity"]["subnet_id"], "subnet-0abc");
}
