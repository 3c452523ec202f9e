//! TCP checks against loopback peers.

mod support;

use egress_probe::model::{CheckKind, Family, Phase, Status, Target};
use std::net::IpAddr;
use support::*;

fn tcp(host: &str, port: u16) -> Target {
    Target::Tcp {
        host: host.to_string(),
        port,
    }
}

#[tokio::test]
async fn a_listener_is_ok() {
    let server = silent_server(LOCAL_V4).await;
    let h = harness().build();
    let obs = h
        .checker
        .run(
            &tcp("127.0.0.1", server.addr.port()),
            timeouts(2000),
            far_deadline(),
        )
        .await;
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(o.status, Status::Ok, "{o:?}");
    assert_eq!(o.kind, CheckKind::Tcp);
    assert_eq!(
        o.id,
        format!("tcp://127.0.0.1:{}@127.0.0.1", server.addr.port())
    );
    assert_eq!(o.address, Some(LOCAL_V4));
    assert_eq!(o.family, Some(Family::Ipv4));
    assert_eq!(o.phases.dns_ms, None, "IP literal: no DNS");
    assert!(o.phases.connect_ms.is_some());
    assert_eq!(o.timeout_ms, 2000);
}

#[tokio::test]
async fn a_closed_port_is_refused_with_the_os_error() {
    let addr = closed_port(LOCAL_V4);
    let h = harness().build();
    let obs = h
        .checker
        .run(
            &tcp("127.0.0.1", addr.port()),
            timeouts(2000),
            far_deadline(),
        )
        .await;
    let o = &obs[0];
    assert_eq!(o.status, Status::Refused, "{o:?}");
    assert_eq!(o.os_error.as_deref(), Some("ECONNREFUSED"));
    assert_eq!(o.failed_phase, Some(Phase::Connect));
    // The connect phase was reached: it has its time although it failed.
    assert!(o.phases.connect_ms.is_some(), "{:?}", o.phases);
}

#[tokio::test]
async fn ipv6_loopback_is_reported_as_ipv6() {
    let h = harness().build();
    if ipv6_loopback() {
        let server = silent_server(LOCAL_V6).await;
        let obs = h
            .checker
            .run(
                &tcp("::1", server.addr.port()),
                timeouts(2000),
                far_deadline(),
            )
            .await;
        let o = &obs[0];
        assert_eq!(o.status, Status::Ok, "{o:?}");
        assert_eq!(o.family, Some(Family::Ipv6));
        assert_eq!(o.id, format!("tcp://[::1]:{}@::1", server.addr.port()));
    } else {
        // No ::1 in this environment: the probe must still say which family failed.
        let obs = h
            .checker
            .run(&tcp("::1", 9), timeouts(2000), far_deadline())
            .await;
        assert_eq!(obs[0].family, Some(Family::Ipv6));
        assert_ne!(obs[0].status, Status::Ok);
        assert!(obs[0].os_error.is_some());
    }
}

#[tokio::test]
async fn every_resolved_address_gets_its_own_observation() {
    let dns = dns_server().await;
    // The same port on 127.0.0.1 and ::1: a listener on v4; v6 listens when available.
    let v4 = tokio::net::TcpListener::bind((LOCAL_V4, 0))
        .await
        .expect("bind");
    let port = v4.local_addr().expect("addr").port();
    let _v4 = serve_silent(v4);
    let v6_listener = match ipv6_loopback() {
        true => tokio::net::TcpListener::bind((LOCAL_V6, port))
            .await
            .ok()
            .map(serve_silent),
        false => None,
    };
    let h = harness().dns(dns.addr()).build();
    let obs = h
        .checker
        .run(&tcp("dual.test", port), timeouts(2000), far_deadline())
        .await;
    assert_eq!(obs.len(), 2, "{obs:?}");
    let v4_obs = obs
        .iter()
        .find(|o| o.family == Some(Family::Ipv4))
        .expect("v4");
    let v6_obs = obs
        .iter()
        .find(|o| o.family == Some(Family::Ipv6))
        .expect("v6");
    assert_eq!(v4_obs.id, format!("tcp://dual.test:{port}@127.0.0.1"));
    assert_eq!(v6_obs.id, format!("tcp://dual.test:{port}@::1"));
    assert_eq!(v4_obs.status, Status::Ok);
    assert_eq!(v6_obs.address, Some("::1".parse::<IpAddr>().expect("ip")));
    if v6_listener.is_some() {
        assert_eq!(v6_obs.status, Status::Ok, "{v6_obs:?}");
    } else {
        assert_ne!(v6_obs.status, Status::Ok, "{v6_obs:?}");
    }
    for o in &obs {
        assert!(o.phases.dns_ms.is_some(), "a name was resolved");
        assert_eq!(o.target, format!("tcp://dual.test:{port}"));
    }
}

#[tokio::test]
async fn a_dns_failure_gives_one_observation_in_the_dns_phase() {
    let dns = dns_server().await;
    let h = harness().dns(dns.addr()).build();
    let obs = h
        .checker
        .run(&tcp("nx.test", 443), timeouts(2000), far_deadline())
        .await;
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(o.status, Status::DnsNxdomain, "{o:?}");
    assert_eq!(o.failed_phase, Some(Phase::Dns));
    assert_eq!(o.address, None);
    assert!(o.dns.is_some());
    assert_eq!(o.id, "tcp://nx.test:443");
}
