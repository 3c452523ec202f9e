//! The real bootstrap (`egress-probe-lambda` in Lambda mode) against a fake Lambda Runtime
//! API on loopback: what Lambda receives for payloads that are not JSON or not UTF-8, for a
//! bad event and for good ones, and what the function writes to its log (the report line,
//! the EMF lines, the heartbeat). Issue 12, items 1-3 and 8.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_egress-probe-lambda");

/// What the bootstrap posted back: `(path, body)`.
type Posts = Arc<Mutex<Vec<(String, String)>>>;

/// One HTTP/1.1 request: method, path, body (Content-Length or chunked).
fn read_request(r: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0u8; n + 2];
            r.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(length, 0);
        r.read_exact(&mut body).ok()?;
    }
    Some((method, path, body))
}

/// A Runtime API that hands out `events` in order, records every POST, and holds the
/// `next` request once the events are used up (the bootstrap then waits, as in Lambda).
fn fake_runtime(events: Vec<Vec<u8>>) -> (u16, Posts) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let events = Arc::new(Mutex::new(events.into_iter().enumerate()));
    let posts: Posts = Arc::default();
    let seen = posts.clone();
    thread::spawn(move || {
        for stream in listener.incoming().take(16).flatten() {
            let events = events.clone();
            let seen = seen.clone();
            thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                while let Some((method, path, body)) = read_request(&mut reader) {
                    if method == "GET" && path.ends_with("/runtime/invocation/next") {
                        let next = events.lock().unwrap().next();
                        let Some((i, event)) = next else {
                            // No more events: hold the request until the test ends.
                            thread::sleep(Duration::from_secs(120));
                            return;
                        };
                        let deadline = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .unwrap()
                            .as_millis()
                            + 5000;
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-{i}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:probe-test\r\nContent-Length: {}\r\n\r\n",
                            event.len()
                        );
                        let _ = writer.write_all(head.as_bytes());
                        let _ = writer.write_all(&event);
                    } else {
                        seen.lock()
                            .unwrap()
                            .push((path, String::from_utf8_lossy(&body).into_owned()));
                        let _ = writer.write_all(
                            b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n",
                        );
                    }
                }
            });
        }
    });
    (port, posts)
}

/// Kills the bootstrap when the test ends, also on a failed assertion.
struct Bootstrap(Child);

impl Drop for Bootstrap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the bootstrap until it posted `expected` answers (or 30 s passed); its stdout.
fn serve(
    events: Vec<Vec<u8>>,
    env: &[(&str, String)],
    expected: usize,
) -> (Vec<(String, String)>, String) {
    let (port, posts) = fake_runtime(events);
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "probe-test")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("EGRESS_PROBE_DIAGNOSE", "never")
        .env("EGRESS_PROBE_SUBNET_ID", "subnet-0abc")
        .env("EGRESS_PROBE_AZ", "us-east-1a")
        .env("EGRESS_PROBE_RESOLV_CONF", "/nonexistent/resolv.conf")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = Bootstrap(cmd.spawn().unwrap());
    let until = Instant::now() + Duration::from_secs(30);
    while posts.lock().unwrap().len() < expected && Instant::now() < until {
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.0.kill();
    let mut stdout = String::new();
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let posts = posts.lock().unwrap().clone();
    assert_eq!(
        posts.len(),
        expected,
        "answers: {posts:?}\nstdout: {stdout}"
    );
    (posts, stdout)
}

/// Every number in `v` has at most three decimals (`1.929`, not `1.9289070000000001`).
fn assert_microseconds(v: &Value, line: &str) {
    match v {
        Value::Number(n) => {
            let text = n.to_string();
            if let Some((_, frac)) = text.split_once('.') {
                assert!(frac.len() <= 3, "{text} in {line}");
            }
        }
        Value::Array(items) => items.iter().for_each(|i| assert_microseconds(i, line)),
        Value::Object(map) => map.values().for_each(|i| assert_microseconds(i, line)),
        _ => {}
    }
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn payloads_that_are_not_json_get_a_named_invalid_event() {
    let (posts, _) = serve(
        vec![
            b"this is not json".to_vec(),
            b"{\"targets\": [\"\xff\xfe\"]}".to_vec(),
            br#"{"bogus": 1}"#.to_vec(),
            br#"{"targets": ["https://user:SECRETPW@example.com/"]}"#.to_vec(),
        ],
        &[(
            "EGRESS_PROBE_TARGETS",
            format!("tcp://127.0.0.1:{}", closed_port()),
        )],
        4,
    );
    let rows = [
        ("req-0", "not valid JSON"),
        ("req-1", "not UTF-8 text"),
        ("req-2", "invalid event field `bogus`"),
        ("req-3", "credentials in URLs are not accepted"),
    ];
    for ((path, body), (id, words)) in posts.iter().zip(rows) {
        assert_eq!(path, &format!("/2018-06-01/runtime/invocation/{id}/error"));
        let err: Value = serde_json::from_str(body).unwrap();
        assert_eq!(err["errorType"], "InvalidEvent", "{body}");
        let message = err["errorMessage"].as_str().unwrap();
        assert!(message.contains(words), "{id}: {message}");
        assert!(
            !body.contains("DeserializeError") && !body.contains("lambda_runtime"),
            "{body}"
        );
        assert!(!body.contains("SECRETPW"), "{body}");
    }
}

#[test]
fn the_log_carries_the_report_line_and_per_target_metrics_with_a_heartbeat() {
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let open_port = open.local_addr().unwrap().port();
    let closed = closed_port();
    let targets = format!("tcp://127.0.0.1:{open_port} tcp://127.0.0.1:{closed}");
    let (posts, stdout) = serve(
        // An empty payload is the defaults, as `{}` is.
        vec![Vec::new(), b"{}".to_vec()],
        &[("EGRESS_PROBE_TARGETS", targets)],
        2,
    );
    for (i, (path, body)) in posts.iter().enumerate() {
        assert_eq!(
            path,
            &format!("/2018-06-01/runtime/invocation/req-{i}/response")
        );
        let report: Value = serde_json::from_str(body).unwrap();
        assert_eq!(report["verdict"], "broken");
        assert_eq!(report["plan"]["source"], "defaults");
    }
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with('{')).collect();
    let reports: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("\"type\":\"egress-probe.report\""))
        .collect();
    assert_eq!(reports.len(), 2, "{stdout}");
    let expected = format!(
        "{{\"verdict\":\"broken\",\"summary\":\"broken: 1 of 2 targets failed from subnet-0abc (us-east-1a) - destination: tcp://127.0.0.1:{closed} refused\",\"type\":\"egress-probe.report\",\"report\":{{\"schema\":\"egress-probe.report/v1\","
    );
    assert!(reports[0].starts_with(&expected), "{}", reports[0]);
    // Times to the microsecond: no number with more than three decimals anywhere.
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap();
        assert_microseconds(&v, l);
    }
    let emf: Vec<Value> = lines
        .iter()
        .filter(|l| l.contains("\"_aws\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let beats = emf.iter().filter(|v| v["Heartbeat"] == 1).count();
    assert_eq!(beats, 2, "one heartbeat per invocation");
    let refused: Vec<&Value> = emf
        .iter()
        .filter(|v| v["Target"] == format!("tcp://127.0.0.1:{closed}"))
        .collect();
    assert_eq!(refused.len(), 2, "one line per target and invocation");
    for v in refused {
        assert_eq!(v["CheckFailure"], 1);
        assert_eq!(
            v["DestinationFailure"], 1,
            "a refusal proves the path (R36)"
        );
        assert_eq!(
            v["EgressFailure"], 0,
            "a refusal must not page as broken egress"
        );
        assert_eq!(v["SubnetId"], "subnet-0abc");
    }
    drop(open);
}
