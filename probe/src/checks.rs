//! Data-plane checks: DNS (hickory, the resolver the function really has), TCP connect and
//! HTTPS (rustls) with measured phase timings and a precise failure class.
//!
//! A failed check is data (an `Observation`), never an `Err`.

use crate::model::{Observation, ResolverInfo, Target};
use std::path::PathBuf;
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
    #[error("cannot read the extra CA bundle {path}: {source}")]
    CaBundle {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the extra CA bundle {path} holds no usable certificate: {reason}")]
    CaBundleInvalid { path: PathBuf, reason: String },
    #[error("invalid proxy URL `{url}`: {reason}")]
    Proxy { url: String, reason: String },
}

/// Runs checks. Built once per process; the TLS configuration is built on first use.
pub struct Checker {
    _settings: CheckSettings,
}

impl Checker {
    pub fn new(settings: CheckSettings) -> Result<Self, CheckSetupError> {
        Ok(Self {
            _settings: settings,
        })
    }

    /// The resolver configuration the DNS checks use (servers, search list).
    pub fn resolver_info(&self) -> ResolverInfo {
        todo!("checks helper")
    }

    /// Runs one target. Every check stops at the earlier of its own timeout and `deadline`;
    /// a check stopped by `deadline` is `Status::CutShort`. DNS targets give one
    /// observation (A and AAAA in `dns`); TCP targets one per resolved address; HTTPS one.
    pub async fn run(
        &self,
        _target: &Target,
        _timeouts: Timeouts,
        _deadline: Instant,
    ) -> Vec<Observation> {
        todo!("checks helper")
    }
}
