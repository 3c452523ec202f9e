//! HTTPS through an HTTP CONNECT proxy on loopback; NO_PROXY; credentials never reported.

mod support;

use base64::Engine;
use egress_probe::model::{Phase, Status, Target};
use support::*;

#[tokio::test]
async fn https_goes_through_the_proxy_and_reports_it_without_credentials() {
    let ca = TestCa::new();
    let server = https_server(&ca, LOCAL_V4, HttpsMode::Status(200)).await;
    let token = base64::engine::general_purpose::STANDARD.encode("probe:s3cr@t");
    let proxy = connect_proxy(Some(format!("Basic {token}"))).await;
    let url = format!("http://probe:s3cr%40t@{}", proxy.server.addr);
    let h = harness().ca(&ca).proxy(&url, None).build();
    let target = https_target("127.0.0.1", server.addr().port(), "/via-proxy");
    let obs = h.checker.run(&target, timeouts(5000), far_deadline()).await;
    let o = &obs[0];
    assert_eq!(o.status, Status::Ok, "{o:?}");
    assert_eq!(o.http_status, Some(200));
    assert_eq!(o.proxy.as_deref(), Some(proxy.url().as_str()));
    // The address tried is the proxy's; the destination is the tunnel's end.
    assert_eq!(o.address, Some(proxy.server.addr.ip()));
    assert!(o.phases.connect_ms.is_some() && o.phases.tls_ms.is_some());
    let requests = proxy.requests();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].starts_with(&format!(
            "CONNECT 127.0.0.1:{} HTTP/1.1\r\n",
            server.addr().port()
        )),
        "{}",
        requests[0]
    );
    assert_eq!(server.requests().len(), 1, "the request reached the server");
    let json = serde_json::to_string(&obs).expect("json");
    assert!(
        !json.contains("s3cr") && !json.contains("probe:") && !json.contains(&token),
        "{json}"
    );
}

#[tokio::test]
async fn wrong_credentials_fail_in_the_proxy_phase() {
    let ca = TestCa::new();
    let server = https_server(&ca, LOCAL_V4, HttpsMode::Status(200)).await;
    let proxy = connect_proxy(Some("Basic c29tZW9uZTplbHNl".to_string())).await;
    let url = format!("http://probe:wrong@{}", proxy.server.addr);
    let h = harness().ca(&ca).proxy(&url, None).build();
    let target = https_target("127.0.0.1", server.addr().port(), "/");
    let obs = h.checker.run(&target, timeouts(5000), far_deadline()).await;
    let o = &obs[0];
    assert_eq!(o.status, Status::ProxyRefused, "{o:?}");
    assert_eq!(o.failed_phase, Some(Phase::Proxy));
    assert_eq!(o.http_status, Some(407));
    assert!(
        o.detail.as_deref().is_some_and(|d| d.contains("407")),
        "{o:?}"
    );
    assert!(!serde_json::to_string(&obs).expect("json").contains("wrong"));
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn no_proxy_bypasses_the_proxy() {
    let ca = TestCa::new();
    let server = https_server(&ca, LOCAL_V4, HttpsMode::Status(200)).await;
    let proxy = connect_proxy(None).await;
    for no_proxy in ["127.0.0.0/8", "127.0.0.1", "*"] {
        let h = harness()
            .ca(&ca)
            .proxy(&proxy.url(), Some(no_proxy))
            .build();
        let target = https_target("127.0.0.1", server.addr().port(), "/");
        let obs = h.checker.run(&target, timeouts(5000), far_deadline()).await;
        assert_eq!(obs[0].status, Status::Ok, "{no_proxy}: {:?}", obs[0]);
        assert_eq!(obs[0].proxy, None, "{no_proxy}");
        assert_eq!(obs[0].address, Some(LOCAL_V4));
    }
    assert!(proxy.requests().is_empty(), "the proxy saw no request");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn tcp_checks_never_use_the_proxy() {
    let listener = silent_server(LOCAL_V4).await;
    let proxy = connect_proxy(None).await;
    let h = harness().proxy(&proxy.url(), None).build();
    let target = Target::Tcp {
        host: "127.0.0.1".to_string(),
        port: listener.addr.port(),
    };
    let obs = h.checker.run(&target, timeouts(2000), far_deadline()).await;
    assert_eq!(obs[0].status, Status::Ok);
    assert_eq!(obs[0].proxy, None);
    assert!(proxy.requests().is_empty());
}

#[tokio::test]
async fn a_proxy_that_is_down_fails_in_the_connect_phase() {
    let addr = closed_port(LOCAL_V4);
    let h = harness().proxy(&format!("http://{addr}"), None).build();
    let target = https_target("127.0.0.1", 443, "/");
    let obs = h.checker.run(&target, timeouts(2000), far_deadline()).await;
    let o = &obs[0];
    assert_eq!(o.status, Status::Refused, "{o:?}");
    assert_eq!(o.failed_phase, Some(Phase::Connect));
    assert_eq!(o.proxy.as_deref(), Some(format!("http://{addr}").as_str()));
}

/// A proxy that answers every CONNECT with `answer` (head and body in one write, as Squid
/// does) and then keeps the connection open, so that only the status line can end the
/// exchange early.
async fn refusing_proxy(answer: &'static str) -> Server {
    let listener = tokio::net::TcpListener::bind((LOCAL_V4, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut client, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = tokio::io::AsyncReadExt::read(&mut client, &mut buf).await;
            let _ = tokio::io::AsyncWriteExt::write_all(&mut client, answer.as_bytes()).await;
            held.push(client);
        }
    });
    Server::new(addr, task)
}

const SQUID_407: &str = "HTTP/1.1 407 Proxy Authentication Required\r\nServer: squid/6.6\r\nContent-Type: text/html;charset=utf-8\r\nContent-Length: 3512\r\nProxy-Authenticate: Basic realm=\"proxy\"\r\n\r\n<!DOCTYPE html PUBLIC \"-//W3C//DTD HTML 4.01//EN\">\n<html><head><title>ERROR: Cache Access Denied</title></head><body><p>Sorry, you are not currently allowed to request this page until you have authenticated yourself.</p>";

#[tokio::test]
async fn proxy_refusals_are_reported_with_their_code_even_with_a_body() {
    let rows: [(&str, u16, &str); 5] = [
        (SQUID_407, 407, "wants authentication"),
        (
            "HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nContent-Length: 20\r\n\r\n<html>denied</html>\n",
            403,
            "by its policy",
        ),
        (
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops\n",
            500,
            "refused the tunnel",
        ),
        (
            "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
            502,
            "could not reach",
        ),
        // The status line alone, the rest of the head never comes: still a refusal.
        ("HTTP/1.1 504 Gateway Timeout\r\n", 504, "could not reach"),
    ];
    for (answer, code, words) in rows {
        let proxy = refusing_proxy(answer).await;
        let url = format!("http://probe:SECRETPW@{}", proxy.addr);
        let h = harness().proxy(&url, None).build();
        let target = https_target("192.0.2.10", 443, "/");
        let obs = h.checker.run(&target, timeouts(3000), far_deadline()).await;
        let o = &obs[0];
        assert_eq!(o.status, Status::ProxyRefused, "{code}: {o:?}");
        assert_eq!(o.failed_phase, Some(Phase::Proxy), "{code}");
        assert_eq!(o.http_status, Some(code));
        let detail = o.detail.as_deref().unwrap_or_default();
        assert!(detail.contains(&code.to_string()), "{detail}");
        assert!(detail.contains(words), "{code}: {detail}");
        assert!(!detail.contains("before the TLS handshake"), "{detail}");
        assert!(!detail.contains("SECRETPW"), "{detail}");
        // Answered at once: the refusal is not a timeout of the held connection.
        assert!(o.phases.total_ms < 2000.0, "{code}: {:?}", o.phases);
        assert!(o.phases.connect_ms.is_some());
        assert_eq!(o.phases.tls_ms, None, "TLS not reached");
    }
}

#[tokio::test]
async fn data_after_a_2xx_answer_is_still_an_error() {
    let proxy = refusing_proxy("HTTP/1.1 200 Connection established\r\n\r\nEXTRA").await;
    let h = harness()
        .proxy(&format!("http://{}", proxy.addr), None)
        .build();
    let obs = h
        .checker
        .run(
            &https_target("192.0.2.10", 443, "/"),
            timeouts(3000),
            far_deadline(),
        )
        .await;
    let o = &obs[0];
    assert_eq!(o.status, Status::Error, "{o:?}");
    assert_eq!(o.failed_phase, Some(Phase::Proxy));
    assert!(
        o.detail
            .as_deref()
            .is_some_and(|d| d.contains("before the TLS handshake began")),
        "{o:?}"
    );
}
