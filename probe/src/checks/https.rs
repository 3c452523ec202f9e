//! HTTPS: DNS, TCP connect (or a CONNECT tunnel through `HTTPS_PROXY`), TLS handshake
//! (tokio-rustls) and a GET over hyper's HTTP/1 client connection, each phase timed on its
//! own — measured, not estimated.

use super::bound::Bound;
use super::dns::{Resolution, Want, resolve};
use super::os_error::classify_io;
use super::proxy::{ProxyConfig, connect_tunnel};
use super::{
    Checker, Failure, Timeouts, apply_failure, bare_host, ms_between, observation, tcp, tls,
};
use crate::model::{CheckKind, Family, Observation, Phase, Status, Target};
use http_body_util::BodyExt;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use std::net::SocketAddr;
use tokio::time::Instant;

/// The body is read (and dropped) up to this size, then the check stops reading.
const MAX_BODY: usize = 1024 * 1024;

/// One HTTPS target.
pub(super) struct Request<'a> {
    pub target: &'a Target,
    pub url: &'a str,
    pub host: &'a str,
    pub port: u16,
}

/// The HTTPS check: one observation.
pub(super) async fn check(
    checker: &Checker,
    req: Request<'_>,
    timeouts: Timeouts,
    deadline: Instant,
) -> Observation {
    let mut obs = observation(CheckKind::Https, req.target, req.target.to_string());
    // Built once per process, on the first HTTPS check; not part of any check's timing.
    let config = checker.tls_config();
    let start = Instant::now();
    let overall = Bound::new(start, timeouts.https, deadline);
    obs.timeout_ms = overall.ms_from(start);
    let proxy = checker
        .proxy
        .as_ref()
        .filter(|_| !checker.no_proxy.matches(req.host, req.port));
    obs.proxy = proxy.map(|p| p.display.clone());
    let result = match config {
        Ok(config) => run(checker, &req, config, proxy, timeouts, overall, &mut obs).await,
        Err(reason) => Err(Failure::new(Status::Error, Phase::Tls, reason)),
    };
    obs.phases.total_ms = ms_between(start, Instant::now());
    if let Err(failure) = result {
        apply_failure(&mut obs, failure);
    }
    obs
}

/// Aborts the spawned HTTP connection task when the check ends, whatever the outcome.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn run(
    checker: &Checker,
    req: &Request<'_>,
    config: std::sync::Arc<rustls::ClientConfig>,
    proxy: Option<&ProxyConfig>,
    timeouts: Timeouts,
    overall: Bound,
    obs: &mut Observation,
) -> Result<(), Failure> {
    let host = bare_host(req.host);
    let server_name = ServerName::try_from(host.to_string()).map_err(|e| {
        Failure::new(
            Status::Error,
            Phase::Tls,
            format!("`{host}` cannot be a TLS server name: {e}"),
        )
    })?;
    let (connect_host, connect_port) = match proxy {
        Some(p) => (p.host.as_str(), p.port),
        None => (host, req.port),
    };

    // DNS (of the proxy when one is used: the proxy resolves the destination).
    let dns_bound = overall.within(Instant::now(), timeouts.dns);
    let ip = match resolve(checker, connect_host, dns_bound, Want::PreferIpv4).await {
        Resolution::Addresses { addrs, dns_ms } => {
            obs.phases.dns_ms = dns_ms;
            match addrs.first() {
                Some(ip) => *ip,
                None => {
                    return Err(Failure::new(Status::DnsNodata, Phase::Dns, "no address"));
                }
            }
        }
        Resolution::Failed {
            mut failure,
            detail,
            dns_ms,
        } => {
            obs.phases.dns_ms = Some(dns_ms);
            obs.dns = detail;
            if let Some(p) = proxy {
                failure.detail = format!("resolving the proxy {}: {}", p.display, failure.detail);
            }
            return Err(failure);
        }
    };
    obs.address = Some(ip);
    obs.family = Some(Family::of(&ip));

    // TCP connect; with a proxy, connect_ms also covers the CONNECT exchange (the tunnel).
    let connect_start = Instant::now();
    let connect_bound = overall.within(connect_start, timeouts.connect);
    // A phase that was reached has its time, also when it failed (then `failed_phase` names
    // it); a phase without a time was not reached.
    let (mut stream, _) = match tcp::connect(SocketAddr::new(ip, connect_port), connect_bound).await
    {
        Ok(connected) => connected,
        Err(failure) => {
            obs.phases.connect_ms = Some(ms_between(connect_start, Instant::now()));
            return Err(failure);
        }
    };
    if let Some(p) = proxy
        && let Err(err) = connect_tunnel(&mut stream, p, host, req.port, overall).await
    {
        obs.http_status = err.http_status;
        obs.phases.connect_ms = Some(ms_between(connect_start, Instant::now()));
        return Err(err.failure);
    }
    obs.phases.connect_ms = Some(ms_between(connect_start, Instant::now()));

    // TLS handshake.
    let tls_start = Instant::now();
    let connector = tokio_rustls::TlsConnector::from(config);
    let tls_stream =
        match tokio::time::timeout_at(overall.end, connector.connect(server_name, stream)).await {
            Ok(Ok(s)) => s,
            Ok(Err(err)) => {
                obs.phases.tls_ms = Some(ms_between(tls_start, Instant::now()));
                let (status, os_error, detail) = tls::classify(&err);
                return Err(Failure::new(status, Phase::Tls, detail).with_os_error(os_error));
            }
            Err(_elapsed) => {
                obs.phases.tls_ms = Some(ms_between(tls_start, Instant::now()));
                return Err(overall.expired(Phase::Tls, tls_start, Status::TlsTimeout));
            }
        };
    obs.phases.tls_ms = Some(ms_between(tls_start, Instant::now()));

    // HTTP/1.1 GET: the clock runs from handing the request over to the response head.
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls_stream))
        .await
        .map_err(|e| Failure::new(Status::Error, Phase::FirstByte, format!("HTTP setup: {e}")))?;
    let _conn = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let request = build_request(req, host)?;
    let fb_start = Instant::now();
    let response = tokio::time::timeout_at(overall.end, sender.send_request(request)).await;
    obs.phases.first_byte_ms = Some(ms_between(fb_start, Instant::now()));
    let response = match response {
        Ok(Ok(resp)) => resp,
        Ok(Err(err)) => return Err(classify_hyper(&err, Phase::FirstByte)),
        Err(_elapsed) => return Err(overall.expired(Phase::FirstByte, fb_start, Status::Timeout)),
    };
    let code = response.status().as_u16();
    obs.http_status = Some(code);

    // Body, read to the end (like curl's time_total) up to MAX_BODY.
    let body_start = Instant::now();
    let mut body = response.into_body();
    let mut read = 0usize;
    while read < MAX_BODY {
        match tokio::time::timeout_at(overall.end, body.frame()).await {
            Ok(None) => break,
            Ok(Some(Ok(frame))) => {
                read += frame.data_ref().map_or(0, Bytes::len);
            }
            Ok(Some(Err(err))) => return Err(classify_hyper(&err, Phase::Body)),
            Err(_elapsed) => return Err(overall.expired(Phase::Body, body_start, Status::Timeout)),
        }
    }

    if code >= 500 {
        return Err(Failure::new(
            Status::HttpStatus,
            Phase::FirstByte,
            format!("the destination answered HTTP {code}: the path works, the service fails"),
        ));
    }
    Ok(())
}

fn build_request(
    req: &Request<'_>,
    host: &str,
) -> Result<http::Request<http_body_util::Empty<Bytes>>, Failure> {
    let path = req
        .url
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.path_and_query().map(|p| p.as_str().to_string()))
        .filter(|p| p.starts_with('/'))
        .unwrap_or_else(|| "/".to_string());
    let host_header = match (host.contains(':'), req.port) {
        (true, 443) => format!("[{host}]"),
        (true, port) => format!("[{host}]:{port}"),
        (false, 443) => host.to_string(),
        (false, port) => format!("{host}:{port}"),
    };
    http::Request::builder()
        .method(http::Method::GET)
        .uri(path)
        .header(http::header::HOST, host_header)
        .header(
            http::header::USER_AGENT,
            concat!("egress-probe/", env!("CARGO_PKG_VERSION")),
        )
        .header(http::header::CONNECTION, "close")
        .body(http_body_util::Empty::<Bytes>::new())
        .map_err(|e| Failure::new(Status::Error, Phase::FirstByte, format!("bad request: {e}")))
}

/// Classifies an error of the HTTP exchange (after the handshake): TLS alerts sent late
/// (e.g. a TLS 1.3 server rejecting the client after the handshake), resets, a server that
/// closed without answering.
fn classify_hyper(err: &hyper::Error, phase: Phase) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(tls_err) = e.downcast_ref::<rustls::Error>() {
            let (status, detail) = tls::classify_rustls(tls_err);
            return Failure::new(status, phase, detail);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(tls_err) = tls::rustls_error(io) {
                let (status, detail) = tls::classify_rustls(tls_err);
                return Failure::new(status, phase, detail);
            }
            let (status, os_error) = classify_io(io);
            return Failure::new(status, phase, format!("HTTP exchange failed: {io}"))
                .with_os_error(os_error);
        }
        source = e.source();
    }
    if err.is_incomplete_message() {
        return Failure::new(
            Status::Reset,
            phase,
            "the server closed the connection before the response was complete",
        );
    }
    Failure::new(Status::Error, phase, format!("HTTP exchange failed: {err}"))
}
