//! Data-plane checks: DNS (hickory, the resolver the function really has), TCP connect and
//! HTTPS (rustls over hyper's HTTP/1 client connection) with measured phase timings and a
//! precise failure class.
//!
//! A failed check is data (an `Observation`), never an `Err`. `Err` only comes from
//! `Checker::new` when the settings themselves are unusable (bad CA bundle, bad proxy URL).
//!
//! Scope of the proxy: `HTTPS_PROXY` applies to HTTPS checks only. TCP checks always connect
//! directly: they measure whether this subnet can open a TCP connection to the destination,
//! which a CONNECT proxy would hide. DNS checks always ask the resolvers of `resolv.conf`.
//!
//! Nothing is built before it is needed (cold start): the resolver configuration is read on
//! the first DNS use or `resolver_info()` call, the TLS root store on the first HTTPS check.

mod bound;
mod dns;
mod https;
mod os_error;
mod proxy;
mod resolver;
mod tcp;
mod tls;

use crate::model::{CheckKind, Observation, Phase, Phases, ResolverInfo, Status, Target};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::time::Instant;

/// Per-check timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub dns: Duration,
    pub connect: Duration,
    /// Whole HTTPS request: DNS + connect + TLS + first byte.
    pub https: Duration,
}

/// `HTTPS_PROXY` / `NO_PROXY` as read from the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    /// `http://[user:pass@]host:port`; credentials never appear in reports.
    pub https_proxy: Option<String>,
    /// Comma-separated host suffixes / IPs / CIDRs, `*` = everything.
    pub no_proxy: Option<String>,
}

/// Settings that do not change between invocations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSettings {
    /// Extra PEM CA bundle trusted in addition to the built-in roots (TLS inspection).
    pub extra_ca_file: Option<PathBuf>,
    pub proxy: ProxySettings,
    /// Resolver configuration file; `/etc/resolv.conf` in Lambda.
    pub resolv_conf: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckSetupError {
    #[error("cannot read the extra CA bundle {path} (EGRESS_PROBE_EXTRA_CA_FILE): {source}")]
    CaBundle {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the extra CA bundle {path} holds no usable certificate: {reason}")]
    CaBundleInvalid { path: PathBuf, reason: String },
    /// `url` never carries the credentials of the proxy URL.
    #[error("invalid proxy URL `{url}`: {reason}")]
    Proxy { url: String, reason: String },
}

/// Runs checks. Built once per process; the TLS configuration is built on first use.
pub struct Checker {
    settings: CheckSettings,
    /// Parsed `HTTPS_PROXY` (credentials kept apart from the display form).
    proxy: Option<proxy::ProxyConfig>,
    no_proxy: proxy::NoProxy,
    /// Certificates of the extra CA bundle, parsed and validated in `new` so that a bad
    /// file fails at setup; added to the root store on first HTTPS use.
    extra_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// Replaces the `nameserver` lines of resolv.conf (see `with_nameservers`).
    nameservers: Option<Vec<SocketAddr>>,
    resolver: OnceLock<resolver::ResolverSetup>,
    tls: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
}

impl Checker {
    pub fn new(settings: CheckSettings) -> Result<Self, CheckSetupError> {
        let proxy = match settings.proxy.https_proxy.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => Some(proxy::ProxyConfig::parse(url)?),
            _ => None,
        };
        let no_proxy = proxy::NoProxy::parse(settings.proxy.no_proxy.as_deref().unwrap_or(""));
        let extra_roots = match &settings.extra_ca_file {
            Some(path) => tls::load_extra_ca(path)?,
            None => Vec::new(),
        };
        Ok(Self {
            settings,
            proxy,
            no_proxy,
            extra_roots,
            nameservers: None,
            resolver: OnceLock::new(),
            tls: OnceLock::new(),
        })
    }

    /// Uses these name servers (address and port) instead of the `nameserver` lines of the
    /// resolv.conf file; its `search`, `domain` and `options` still apply. resolv.conf has no
    /// syntax for a port, so this is how tests and local runs point the DNS checks at a
    /// resolver on a non-standard port (e.g. `127.0.0.1:5353`). Call before the first check.
    pub fn with_nameservers(mut self, servers: Vec<SocketAddr>) -> Self {
        self.nameservers = Some(servers);
        self.resolver = OnceLock::new();
        self
    }

    /// The resolver configuration the DNS checks use (servers, search list).
    pub fn resolver_info(&self) -> ResolverInfo {
        self.resolver_setup().info.clone()
    }

    /// Runs one target. Every check stops at the earlier of its own timeout and `deadline`;
    /// a check stopped by `deadline` is `Status::CutShort`. DNS targets give one
    /// observation (A and AAAA in `dns`); TCP targets one per resolved address; HTTPS one.
    pub async fn run(
        &self,
        target: &Target,
        timeouts: Timeouts,
        deadline: Instant,
    ) -> Vec<Observation> {
        match target {
            Target::Dns { name } => vec![dns::check(self, target, name, timeouts, deadline).await],
            Target::Tcp { host, port } => {
                tcp::check(self, target, host, *port, timeouts, deadline).await
            }
            Target::Https { url, host, port } => vec![
                https::check(
                    self,
                    https::Request {
                        target,
                        url,
                        host,
                        port: *port,
                    },
                    timeouts,
                    deadline,
                )
                .await,
            ],
        }
    }

    fn resolver_setup(&self) -> &resolver::ResolverSetup {
        self.resolver.get_or_init(|| {
            resolver::ResolverSetup::load(&self.settings.resolv_conf, self.nameservers.as_deref())
        })
    }

    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        self.tls
            .get_or_init(|| tls::client_config(&self.extra_roots))
            .clone()
    }
}

/// Why a check failed: the parts of an `Observation` that describe a failure.
#[derive(Debug, Clone, PartialEq)]
struct Failure {
    status: Status,
    phase: Phase,
    os_error: Option<String>,
    detail: String,
}

impl Failure {
    fn new(status: Status, phase: Phase, detail: impl Into<String>) -> Self {
        Self {
            status,
            phase,
            os_error: None,
            detail: detail.into(),
        }
    }

    fn with_os_error(mut self, os_error: Option<String>) -> Self {
        self.os_error = os_error;
        self
    }
}

/// An observation for `target` with nothing measured yet (status `ok`).
fn observation(kind: CheckKind, target: &Target, id: String) -> Observation {
    Observation {
        id,
        target: target.to_string(),
        kind,
        host: target.host().to_string(),
        port: target.port(),
        address: None,
        family: None,
        status: Status::Ok,
        failed_phase: None,
        os_error: None,
        detail: None,
        phases: Phases::default(),
        http_status: None,
        proxy: None,
        dns: None,
        timeout_ms: 0,
    }
}

fn apply_failure(obs: &mut Observation, failure: Failure) {
    obs.status = failure.status;
    obs.failed_phase = Some(failure.phase);
    obs.os_error = failure.os_error;
    obs.detail = Some(failure.detail);
}

/// Largest extra CA bundle read (`EGRESS_PROBE_EXTRA_CA_FILE`): the whole Mozilla root
/// store is about 220 KB as PEM, so 4 MiB leaves room for any real bundle.
pub const MAX_CA_BUNDLE_BYTES: u64 = 4 * 1024 * 1024;
/// Largest resolver configuration read (`EGRESS_PROBE_RESOLV_CONF`); real ones are < 1 KB.
pub const MAX_RESOLV_CONF_BYTES: u64 = 64 * 1024;

/// Reads a settings file of at most `cap` bytes. A longer file (or an endless one such as
/// `/dev/zero`) is an `InvalidData` error that says so, after reading `cap + 1` bytes at
/// most: a setting can never make the probe exhaust its memory.
pub(crate) fn read_capped(path: &std::path::Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut data = Vec::new();
    file.take(cap.saturating_add(1)).read_to_end(&mut data)?;
    if data.len() as u64 > cap {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the file is larger than {cap} bytes, the most this setting accepts"),
        ));
    }
    Ok(data)
}

/// Milliseconds from `from` to `to`, to the microsecond (`1.929`, never
/// `1.9289070000000001`: the clock says nothing finer, and the report is read by people).
fn ms_between(from: Instant, to: Instant) -> f64 {
    round_us(to.saturating_duration_since(from).as_secs_f64() * 1000.0)
}

/// A millisecond figure rounded to whole microseconds (three decimals).
pub fn round_us(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// A host as written in a target, without the brackets of an IPv6 literal.
fn bare_host(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CheckSettings {
        CheckSettings {
            extra_ca_file: None,
            proxy: ProxySettings::default(),
            resolv_conf: PathBuf::from("/nonexistent/resolv.conf"),
        }
    }

    #[test]
    fn new_builds_nothing_before_first_use() {
        let checker = Checker::new(settings()).expect("checker");
        assert!(
            checker.resolver.get().is_none(),
            "resolv.conf read too early"
        );
        assert!(checker.tls.get().is_none(), "TLS roots built too early");
        let _ = checker.resolver_info();
        assert!(checker.resolver.get().is_some());
        assert!(checker.tls_config().is_ok());
        assert!(checker.tls.get().is_some());
    }

    #[test]
    fn checker_and_its_futures_can_be_shared_and_spawned() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: &T) {}
        let checker = Checker::new(settings()).expect("checker");
        send_sync(&checker);
        let target = Target::Dns {
            name: "example.com".into(),
        };
        let timeouts = Timeouts {
            dns: Duration::from_secs(1),
            connect: Duration::from_secs(1),
            https: Duration::from_secs(1),
        };
        let fut = checker.run(&target, timeouts, Instant::now());
        send(&fut);
    }

    #[test]
    fn proxy_setup_errors_never_carry_credentials() {
        let mut s = settings();
        s.proxy.https_proxy = Some("socks5://user:topsecret@proxy:1080".into());
        let err = Checker::new(s).err().expect("error");
        assert!(!err.to_string().contains("topsecret"), "{err}");
    }

    #[test]
    fn read_capped_accepts_the_cap_and_refuses_one_byte_more() {
        use std::io::Write;
        let mut file = tempfile::NamedTempFile::new().expect("tempfile");
        file.write_all(&[b'x'; 100]).expect("write");
        let path = file.path();
        assert_eq!(read_capped(path, 100).expect("at the cap").len(), 100);
        let err = read_capped(path, 99).expect_err("over the cap");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("larger than 99 bytes"), "{err}");
        let err = read_capped(std::path::Path::new("/nonexistent/x"), 10).expect_err("missing");
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn an_empty_proxy_variable_means_no_proxy() {
        let mut s = settings();
        s.proxy.https_proxy = Some("  ".into());
        let checker = Checker::new(s).expect("checker");
        assert!(checker.proxy.is_none());
    }
}
