//! HTTPS checks against loopback TLS peers with a test CA made at test time.

mod support;

use egress_probe::checks::{CheckSettings, CheckSetupError, Checker};
use egress_probe::model::{CheckKind, Family, Phase, Status};
use std::time::Duration;
use support::*;

#[tokio::test]
async fn ok_with_the_ca_bundle_and_every_phase_measured() {
    let ca = TestCa::new();
    let server = https_server(&ca, LOCAL_V4, HttpsMode::Status(200)).await;
    let h = harness().ca(&ca).build();
    let target = https_target("127.0.0.1", server.addr().port(), "/health?x=1");
    let obs = h.checker.run(&target, timeouts(5000), far_deadline()).await;
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(o.status, Status::Ok, "{o:?}");
    assert_eq!(o.kind, CheckKind::Https);
    assert_eq!(o.id, target.to_string());
    assert_eq!(o.http_status, Some(200));
    assert_eq!(o.address, Some(LOCAL_V4));
    assert_eq!(o.family, Some(Family::Ipv4));
    assert_eq!(o.proxy, None);
    assert_eq!(o.failed_phase, None);
    assert_eq!(o.phases.dns_ms, None, "IP literal: no DNS phase");
    let connect = o.phases.connect_ms.expect("connect");
    let tls = o.phases.tls_ms.expect("tls");
    let first_byte = o.phases.first_byte_ms.expect("first byte");
    assert!(connect > 0.0 && tls > 0.0 && first_byte > 0.0);
    assert!(
        o.phases.total_ms >= connect + tls + first_byte,
        "{:?}",
        o.phases
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let head = requests[0].to_ascii_lowercase();
    assert!(head.starts_with("get /health?x=1 http/1.1\r\n"), "{head}");
    assert!(head.contains(&format!("host: 127.0.0.1:{}\r\n", server.addr().port())));
    assert!(head.contains(&format!(
        "user-agent: egress-probe/{}\r\n",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(head.contains("connection: close\r\n"));
}

#[tokio::test]
async fn a_name_is_resolved_and_dns_time_measured() {
    let ca = TestCa::new();
    let dns = dns_server().await;
    let server = https_server(&ca, LOCAL_V4, HttpsMode::Status(204)).await;
    let h = harness().ca(&ca).dns(dns.addr()).build();
    let target = https_target("a.test", server.addr().port(), "/");
    let obs = h.checker.run(&target, timeouts(5000), far_deadline()).await;
    let o = &obs[0];
    assert_eq!(o.status, Status::Ok, "{o:?}");
    assert!(o.phases.dns_ms.is_some_and(|ms| ms > 0.0));
    assert_eq!(o.address, Some(LOCAL_V4));
    assert_eq!(o.http_status, Some(204));
}

#[tokio::test]
async fn ipv4_is_preferred_when_both_families_resolve() {
    let ca = TestCa::new();
    let dns = dns_server().await;
    let server = https_server(&ca, LOCAL_V4, HttpsMode::Status(200)).await;
    let h = harness().ca(&ca).dns(dns.addr()).build();
    let target = https_target("dual.test", server.addr().port(), "/");
    let obs = h.checker.run(&target, timeouts(5000), far_deadline()).await;
    assert_eq!(obs[0].status, Status::Ok, "{:?}", obs[0]);
    assert_eq!(obs[0].family, Some(Family::Ipv4));
}

#[tokio::test]
async fn an_unknown_issuer_is_a_certificate_failure_without_the_bundle() {
    let ca = TestCa::new();
    let server = https_server(&ca, LOCAL_V4, HttpsMode::Status(200)).await;
    let h = harness().build();
    let target = https_target("127.0.0.1", server.addr().port(), "/");
    let obs = h.checker.run(&target, timeouts(5000), far_deadline()).await;
    let o = &obs[0];
    assert_eq!(o.status, Status::TlsCertificate, "{o:?}");
    assert_eq!(o.failed_phase, Some(Phase::Tls));
    assert!(
        o.detail
            .as_deref()
            .is_some_and(|d| d.contains("unknown issuer")),
        "{o:?}"
    );
    assert!(o.phases.connect_ms.is_some());
    // The TLS phase was reached: its time is measured although it failed (issue 12.5).
    let tls = o.phases.tls_ms.expect("tls_ms of a failed handshake");
    assert!(tls > 0.0 && tls <= o.phases.total_ms, "{:?}", o.phases);
    assert_eq!(o.phases.first_byte_ms, None, "first byte not reached");
}

#[tokio::test]
async fn a_name_not_in_the_certificate_is_a_certificate_failure() {
    let ca = TestCa::new();
    let dns = dns_server().await;
    let server = https_server(&ca, LOCAL_V4, HttpsMode::Status(200)).await;
    let h = harness().ca(&ca).dns(dns.addr()).build();
    // other.test resolves to 127.0.0.1, but the certificate does not name it.
    let target = https_target("other.test", server.addr().port(), "/");
    let obs = h.checker.run(&target, timeouts(5000), far_deadline()).await;
    let o = &obs[0];
    assert_eq!(o.status, Status::TlsCertificate, "{o:?}");
    assert_eq!(o.failed_phase, Some(Phase::Tls));
    assert!(
        o.detail
            .as_deref()
            .is_some_and(|d| d.contains("not valid for this host name")),
        "{o:?}"
    );
    assert!(o.phases.tls_ms.is_some(), "{:?}", o.phases);
}

#[tokio::test]
async fn no_answer_to_the_client_hello_is_a_tls_timeout() {
    let server = silent_server(LOCAL_V4).await;
    let h = harness().build();
    let target = https_target("127.0.0.1", server.addr.port(), "/");
    let obs = h.checker.run(&target, timeouts(400), far_deadline()).await;
    let o = &obs[0];
    assert_eq!(o.status, Status::TlsTimeout, "{o:?}");
    assert_eq!(o.failed_phase, Some(Phase::Tls));
    // Our own bound, with the meaning of the kernel's ETIMEDOUT (README, issue 12.3).
    assert_eq!(o.os_error.as_deref(), Some("ETIMEDOUT"));
    assert!(
        o.detail
            .as_deref()
            .is_some_and(|d| d.contains("no answer within")),
        "{o:?}"
    );
    assert!(o.phases.connect_ms.is_some());
    // The wait in the TLS phase is its time: from the ClientHello to the timeout.
    let tls = o.phases.tls_ms.expect("tls_ms of a timed-out handshake");
    assert!(tls >= 300.0 && tls <= o.phases.total_ms, "{:?}", o.phases);
    assert_eq!(o.timeout_ms, 400);
}

#[tokio::test]
async fn no_http_response_is_a_first_byte_timeout() {
    let ca = TestCa::new();
    let server = https_server(&ca, LOCAL_V4, HttpsMode::NoResponse).await;
    let h = harness().ca(&ca).build();
    let target = https_target("127.0.0.1", server.addr().port(), "/");
    let obs = h.checker.run(&target, timeouts(600), far_deadline()).await;
    let o = &obs[0];
    assert_eq!(o.status, Status::Timeout, "{o:?}");
    assert_eq!(o.failed_phase, Some(Phase::FirstByte));
    assert_eq!(o.os_error.as_deref(), Some("ETIMEDOUT"));
    assert!(o.phases.tls_ms.is_some());
    // Reached and timed out: the first-byte phase has the time waited.
    assert!(
        o.phases.first_byte_ms.is_some_and(|ms| ms > 0.0),
        "{:?}",
        o.phases
    );
}

#[tokio::test]
async fn a_tls_alert_from_the_server_is_tls_alert() {
    let server = alert_server().await;
    let h = harness().build();
    let target = https_target("127.0.0.1", server.addr.port(), "/");
    let obs = h.checker.run(&target, timeouts(2000), far_deadline()).await;
    let o = &obs[0];
    assert_eq!(o.status, Status::TlsAlert, "{o:?}");
    assert_eq!(o.failed_phase, Some(Phase::Tls));
    assert!(o.status.proves_path());
    assert!(o.phases.tls_ms.is_some(), "{:?}", o.phases);
}

#[tokio::test]
async fn a_5xx_is_http_status_and_a_4xx_is_ok() {
    let ca = TestCa::new();
    let h = harness().ca(&ca).build();
    for (code, expected) in [
        (503, Status::HttpStatus),
        (404, Status::Ok),
        (301, Status::Ok),
    ] {
        let server = https_server(&ca, LOCAL_V4, HttpsMode::Status(code)).await;
        let target = https_target("127.0.0.1", server.addr().port(), "/");
        let obs = h.checker.run(&target, timeouts(5000), far_deadline()).await;
        let o = &obs[0];
        assert_eq!(o.status, expected, "{code}: {o:?}");
        assert_eq!(o.http_status, Some(code));
        if expected == Status::HttpStatus {
            assert_eq!(o.failed_phase, Some(Phase::FirstByte));
        }
    }
}

#[tokio::test]
async fn a_refused_connect_fails_in_the_connect_phase() {
    let addr = closed_port(LOCAL_V4);
    let h = harness().build();
    let target = https_target("127.0.0.1", addr.port(), "/");
    let obs = h.checker.run(&target, timeouts(2000), far_deadline()).await;
    let o = &obs[0];
    assert_eq!(o.status, Status::Refused, "{o:?}");
    assert_eq!(o.failed_phase, Some(Phase::Connect));
    assert_eq!(o.os_error.as_deref(), Some("ECONNREFUSED"));
    assert!(o.phases.connect_ms.is_some(), "{:?}", o.phases);
    assert_eq!(o.phases.tls_ms, None, "TLS not reached");
}

#[tokio::test]
async fn a_dns_failure_fails_in_the_dns_phase() {
    let dns = dns_server().await;
    let h = harness().dns(dns.addr()).build();
    let target = https_target("servfail.test", 443, "/");
    let obs = h.checker.run(&target, timeouts(2000), far_deadline()).await;
    let o = &obs[0];
    assert_eq!(o.status, Status::DnsServfail, "{o:?}");
    assert_eq!(o.failed_phase, Some(Phase::Dns));
    assert!(o.dns.is_some());
}

#[tokio::test]
async fn a_hanging_target_is_cut_short_by_the_deadline() {
    let server = silent_server(LOCAL_V4).await;
    let h = harness().build();
    let target = https_target("127.0.0.1", server.addr.port(), "/");
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    let obs = h.checker.run(&target, timeouts(10_000), deadline).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let o = &obs[0];
    assert_eq!(o.status, Status::CutShort, "{o:?}");
    assert_eq!(o.failed_phase, Some(Phase::Tls));
    assert!(o.timeout_ms <= 300, "{}", o.timeout_ms);
    assert!(
        o.detail
            .as_deref()
            .is_some_and(|d| d.contains("cut short by the invocation deadline")),
        "{o:?}"
    );
}

#[tokio::test]
async fn a_deadline_already_past_returns_at_once() {
    let server = silent_server(LOCAL_V4).await;
    let h = harness().build();
    let target = https_target("127.0.0.1", server.addr.port(), "/");
    let deadline = tokio::time::Instant::now();
    let obs = h.checker.run(&target, timeouts(10_000), deadline).await;
    assert_eq!(obs[0].status, Status::CutShort, "{:?}", obs[0]);
    assert_eq!(obs[0].timeout_ms, 0);
}

#[test]
fn a_bad_ca_bundle_is_a_setup_error_naming_the_file() {
    let file = temp_file("not a certificate\n");
    let err = Checker::new(CheckSettings {
        extra_ca_file: Some(file.path().to_path_buf()),
        proxy: Default::default(),
        resolv_conf: "/etc/resolv.conf".into(),
    })
    .err()
    .expect("setup error");
    assert!(
        matches!(err, CheckSetupError::CaBundleInvalid { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&file.path().display().to_string()));
}
