//! What a check saw: one `Observation` per target and address tried.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    Dns,
    Tcp,
    Https,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }
}

/// Failure class of a check. A silent drop is `Timeout`; `Refused`, `Reset` and the TLS
/// alerts prove the network path works (R36).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// No answer within the check's timeout (silent drop, `ETIMEDOUT`).
    Timeout,
    /// `ECONNREFUSED`: a RST from the far end.
    Refused,
    /// `EHOSTUNREACH` / `ENETUNREACH` (an ICMP error or no local route).
    Unreachable,
    /// `ECONNRESET` after the connection was set up.
    Reset,
    DnsNxdomain,
    DnsNodata,
    DnsServfail,
    DnsRefused,
    DnsTimeout,
    /// The certificate did not verify (unknown issuer, name mismatch, expired).
    TlsCertificate,
    /// The server answered the handshake with a TLS alert.
    TlsAlert,
    /// The handshake got no answer in time (after TCP connected).
    TlsTimeout,
    /// Any other TLS failure.
    TlsError,
    /// An HTTP response arrived with a 5xx status: the path works, the destination fails.
    HttpStatus,
    /// The proxy of `HTTPS_PROXY` answered CONNECT with a non-2xx status (`http_status`):
    /// 407 authentication, 403 policy, 502/504 the proxy could not reach the destination.
    ProxyRefused,
    /// The invocation's remaining time ran out before the check finished.
    CutShort,
    /// The check could not run (a local error that says nothing about the network).
    Error,
}

impl Status {
    pub fn is_ok(&self) -> bool {
        matches!(self, Status::Ok)
    }
    /// True for the failures that look like a silent drop somewhere on the path.
    pub fn is_timeout_like(&self) -> bool {
        matches!(
            self,
            Status::Timeout | Status::DnsTimeout | Status::TlsTimeout | Status::CutShort
        )
    }
    /// True when the answer came from the far end, proving the path (R36).
    pub fn proves_path(&self) -> bool {
        matches!(
            self,
            Status::Ok
                | Status::Refused
                | Status::Reset
                | Status::TlsCertificate
                | Status::TlsAlert
                | Status::TlsError
                | Status::HttpStatus
                | Status::DnsNxdomain
                | Status::DnsNodata
                | Status::DnsServfail
                | Status::DnsRefused
        )
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Timeout => "timeout",
            Status::Refused => "refused",
            Status::Unreachable => "unreachable",
            Status::Reset => "reset",
            Status::DnsNxdomain => "dns_nxdomain",
            Status::DnsNodata => "dns_nodata",
            Status::DnsServfail => "dns_servfail",
            Status::DnsRefused => "dns_refused",
            Status::DnsTimeout => "dns_timeout",
            Status::TlsCertificate => "tls_certificate",
            Status::TlsAlert => "tls_alert",
            Status::TlsTimeout => "tls_timeout",
            Status::TlsError => "tls_error",
            Status::HttpStatus => "http_status",
            Status::ProxyRefused => "proxy_refused",
            Status::CutShort => "cut_short",
            Status::Error => "error",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The phase in which a check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Dns,
    Proxy,
    Connect,
    Tls,
    FirstByte,
    Body,
}

/// Measured phase durations in milliseconds (fractional). `None` = phase not reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_ms: Option<f64>,
    pub total_ms: f64,
}

/// Result of one DNS record type query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsRecordResult {
    pub status: Status,
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
    pub ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A and AAAA answers for a DNS check, and the servers used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsDetail {
    pub a: DnsRecordResult,
    pub aaaa: DnsRecordResult,
    #[serde(default)]
    pub servers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Stable ID within a report, e.g. `tcp://example.com:443@192.0.2.10`.
    pub id: String,
    /// The target as planned (`dns:example.com`, `tcp://host:443`, `https://host/`).
    pub target: String,
    pub kind: CheckKind,
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The address actually tried (TCP/HTTPS), after DNS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    pub status: Status,
    /// The phase that failed, when status is not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_phase: Option<Phase>,
    /// OS error name (`ETIMEDOUT`, `ECONNREFUSED`, …) when the OS reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_error: Option<String>,
    /// Human-readable detail of the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub phases: Phases,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The proxy used for this check (HTTPS_PROXY), without credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsDetail>,
    /// The timeout applied to this check, in ms (its own, or less when the budget was shorter).
    pub timeout_ms: u64,
}
