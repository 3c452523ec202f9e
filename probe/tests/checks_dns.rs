//! DNS checks against a local responder on 127.0.0.1 (no traffic leaves loopback).

mod support;

use egress_probe::model::{CheckKind, Phase, Status, Target};
use std::net::IpAddr;
use std::time::Duration;
use support::*;

fn dns(name: &str) -> Target {
    Target::Dns {
        name: name.to_string(),
    }
}

#[tokio::test]
async fn each_answer_class_is_classified_apart() {
    let server = dns_server().await;
    let h = harness().dns(server.addr()).build();
    let rows = [
        ("nx.test", Status::DnsNxdomain),
        ("servfail.test", Status::DnsServfail),
        ("refused.test", Status::DnsRefused),
        ("nodata.test", Status::DnsNodata),
    ];
    for (name, expected) in rows {
        let obs = h
            .checker
            .run(&dns(name), timeouts(2000), far_deadline())
            .await;
        assert_eq!(obs.len(), 1, "{name}");
        let o = &obs[0];
        assert_eq!(o.status, expected, "{name}: {o:?}");
        assert_eq!(o.failed_phase, Some(Phase::Dns), "{name}");
        assert_eq!(o.kind, CheckKind::Dns);
        let detail = o.dns.as_ref().expect("dns detail");
        assert_eq!(detail.a.status, expected, "{name} A");
        assert_eq!(detail.aaaa.status, expected, "{name} AAAA");
        assert!(detail.a.addresses.is_empty());
    }
}

#[tokio::test]
async fn a_name_without_a_and_aaaa_says_so() {
    let server = dns_server().await;
    let h = harness().dns(server.addr()).build();
    let obs = h
        .checker
        .run(&dns("nodata.test"), timeouts(2000), far_deadline())
        .await;
    let o = &obs[0];
    assert_eq!(o.status, Status::DnsNodata, "{o:?}");
    let detail = o.detail.as_deref().unwrap_or_default();
    // Issue 12.5: not "no AAAA record", which would suggest the name has an A record.
    assert!(
        detail.contains("neither an A nor an AAAA record"),
        "{detail}"
    );
}

#[tokio::test]
async fn an_a_record_is_ok_and_the_servers_used_are_reported() {
    let server = dns_server().await;
    let h = harness().dns(server.addr()).build();
    let obs = h
        .checker
        .run(&dns("a.test"), timeouts(2000), far_deadline())
        .await;
    let o = &obs[0];
    assert_eq!(o.status, Status::Ok, "{o:?}");
    assert_eq!(o.id, "dns:a.test");
    assert_eq!(o.target, "dns:a.test");
    assert_eq!(o.failed_phase, None);
    let detail = o.dns.as_ref().expect("dns detail");
    assert_eq!(detail.a.status, Status::Ok);
    assert_eq!(detail.a.addresses, vec![IpAddr::from([127, 0, 0, 1])]);
    // AAAA for a name with only an A record: NODATA, but the check is ok.
    assert_eq!(detail.aaaa.status, Status::DnsNodata);
    assert_eq!(detail.servers, vec![server.addr().to_string()]);
    assert!(o.phases.dns_ms.is_some_and(|ms| ms > 0.0));
    assert_eq!(o.timeout_ms, 2000);
    let info = h.checker.resolver_info();
    assert_eq!(info.servers, vec![server.addr().to_string()]);
    assert_eq!(info.error, None);
}

#[tokio::test]
async fn aaaa_only_name_is_ok() {
    let server = dns_server().await;
    let h = harness().dns(server.addr()).build();
    let obs = h
        .checker
        .run(&dns("v6only.test"), timeouts(2000), far_deadline())
        .await;
    let detail = obs[0].dns.as_ref().expect("dns detail");
    assert_eq!(obs[0].status, Status::Ok);
    assert_eq!(detail.a.status, Status::DnsNodata);
    assert_eq!(
        detail.aaaa.addresses,
        vec!["::1".parse::<IpAddr>().expect("ip")]
    );
}

#[tokio::test]
async fn no_answer_is_a_dns_timeout_at_our_bound() {
    let server = dns_server().await;
    let h = harness().dns(server.addr()).build();
    let obs = h
        .checker
        .run(&dns("silent.test"), timeouts(300), far_deadline())
        .await;
    let o = &obs[0];
    assert_eq!(o.status, Status::DnsTimeout, "{o:?}");
    assert_eq!(o.failed_phase, Some(Phase::Dns));
    assert_eq!(o.os_error.as_deref(), Some("ETIMEDOUT"), "{o:?}");
    assert_eq!(o.timeout_ms, 300);
    assert!(
        o.detail.as_deref().is_some_and(|d| d.contains("300 ms")),
        "{o:?}"
    );
    assert!(
        server.queries_for("silent.test") >= 2,
        "A and AAAA were asked"
    );
}

#[tokio::test]
async fn every_check_sends_real_queries() {
    let server = dns_server().await;
    let h = harness().dns(server.addr()).build();
    for _ in 0..3 {
        let obs = h
            .checker
            .run(&dns("a.test"), timeouts(2000), far_deadline())
            .await;
        assert_eq!(obs[0].status, Status::Ok);
    }
    // A and AAAA per check, three checks: nothing came from a cache.
    assert_eq!(server.queries_for("a.test"), 6);
}

#[tokio::test]
async fn the_deadline_cuts_a_dns_check_short() {
    let server = dns_server().await;
    let h = harness().dns(server.addr()).build();
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    let obs = h
        .checker
        .run(&dns("silent.test"), timeouts(10_000), deadline)
        .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    let o = &obs[0];
    assert_eq!(o.status, Status::CutShort, "{o:?}");
    assert_eq!(o.failed_phase, Some(Phase::Dns));
    assert!(o.timeout_ms <= 300, "{}", o.timeout_ms);
    assert!(
        o.detail
            .as_deref()
            .is_some_and(|d| d.contains("invocation deadline")),
        "{o:?}"
    );
}

#[tokio::test]
async fn a_missing_resolv_conf_is_reported_not_a_panic() {
    let checker = egress_probe::checks::Checker::new(egress_probe::checks::CheckSettings {
        extra_ca_file: None,
        proxy: Default::default(),
        resolv_conf: "/nonexistent/resolv.conf".into(),
    })
    .expect("checker");
    let info = checker.resolver_info();
    assert!(
        info.error
            .is_some_and(|e| e.contains("/nonexistent/resolv.conf"))
    );
    let obs = checker
        .run(&dns("a.test"), timeouts(500), far_deadline())
        .await;
    assert_eq!(obs[0].status, Status::Error);
    assert_eq!(obs[0].failed_phase, Some(Phase::Dns));
}
