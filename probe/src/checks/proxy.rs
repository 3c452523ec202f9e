//! `HTTPS_PROXY` / `NO_PROXY` and the HTTP CONNECT tunnel. Applies to HTTPS checks only;
//! TCP checks are always direct. Proxy credentials never leave this module except inside
//! the `Proxy-Authorization` header sent to the proxy itself.

use super::bound::Bound;
use super::os_error::classify_io;
use super::{CheckSetupError, Failure, bare_host};
use crate::model::{Phase, Status};
use base64::Engine;
use ipnet::IpNet;
use std::net::IpAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Largest CONNECT response head we read.
const MAX_HEAD: usize = 16 * 1024;

/// A parsed `http://[user:pass@]host[:port]` proxy URL.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct ProxyConfig {
    pub host: String,
    pub port: u16,
    /// `Basic …` value of `Proxy-Authorization`, when the URL has credentials.
    authorization: Option<String>,
    /// The URL as reported: scheme, host and port, never credentials.
    pub display: String,
}

impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("display", &self.display)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl ProxyConfig {
    pub fn parse(url: &str) -> Result<Self, CheckSetupError> {
        let err = |reason: &str| CheckSetupError::Proxy {
            url: redact(url),
            reason: reason.to_string(),
        };
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => {
                return Err(err(
                    "TLS to the proxy (https://) is not supported; use an http:// proxy URL",
                ));
            }
            Some((scheme, _)) => {
                return Err(err(&format!(
                    "unsupported proxy scheme `{scheme}`; use an http:// proxy URL"
                )));
            }
            // Like curl: a bare `host:port` is an HTTP proxy.
            None => url,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport).map_err(|r| err(&r))?;
        if host.is_empty() {
            return Err(err("no host"));
        }
        let authorization = match userinfo {
            Some(info) => {
                let (user, pass) = info.split_once(':').unwrap_or((info, ""));
                let user = percent_decode(user).map_err(|r| err(&r))?;
                let pass = percent_decode(pass).map_err(|r| err(&r))?;
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                Some(format!("Basic {token}"))
            }
            None => None,
        };
        let port = port.unwrap_or(80);
        let display = if host.contains(':') {
            format!("http://[{host}]:{port}")
        } else {
            format!("http://{host}:{port}")
        };
        Ok(Self {
            host,
            port,
            authorization,
            display,
        })
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(hostport: &str) -> Result<(String, Option<u16>), String> {
    let parse_port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("bad port `{p}`"))
    };
    if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed `[` in the host".to_string())?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(parse_port(p)?),
            None if after.is_empty() => None,
            None => return Err("junk after `]`".to_string()),
        };
        return Ok((host.to_string(), port));
    }
    match hostport.rsplit_once(':') {
        Some((host, p)) if !host.contains(':') => Ok((host.to_string(), Some(parse_port(p)?))),
        Some(_) => Err("an IPv6 proxy address must be written in brackets".to_string()),
        None => Ok((hostport.to_string(), None)),
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "bad percent-encoding in the credentials".to_string())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "credentials are not UTF-8".to_string())
}

/// A URL with any `user:pass@` replaced by `***@`, for error messages.
pub(super) fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rfind('@') {
        Some(i) => format!("{scheme}***@{}{tail}", &authority[i + 1..]),
        None => url.to_string(),
    }
}

/// `NO_PROXY`: `*`, domain suffixes (`example.com` and `.example.com` both match the domain
/// and its subdomains), IP addresses and CIDRs (matched against IP-literal hosts), each
/// optionally with `:port`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct NoProxy {
    all: bool,
    entries: Vec<(Entry, Option<u16>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Domain(String),
    Ip(IpAddr),
    Net(IpNet),
}

impl NoProxy {
    pub fn parse(text: &str) -> Self {
        let mut out = Self::default();
        for raw in text.split([',', ' ', '\t', '\n']).map(str::trim) {
            if raw.is_empty() {
                continue;
            }
            if raw == "*" {
                out.all = true;
                continue;
            }
            if let Ok(net) = raw.parse::<IpNet>() {
                out.entries.push((Entry::Net(net), None));
                continue;
            }
            if let Ok(ip) = bare_host(raw).parse::<IpAddr>() {
                out.entries.push((Entry::Ip(ip), None));
                continue;
            }
            let (host, port) = match split_host_port(raw) {
                Ok((h, p)) => (h, p),
                Err(_) => (raw.to_string(), None),
            };
            if let Ok(ip) = host.parse::<IpAddr>() {
                out.entries.push((Entry::Ip(ip), port));
                continue;
            }
            let domain = host
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .trim_end_matches('.')
                .to_ascii_lowercase();
            if !domain.is_empty() {
                out.entries.push((Entry::Domain(domain), port));
            }
        }
        out
    }

    /// True when a request to `host:port` must not use the proxy.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.all {
            return true;
        }
        let host = bare_host(host).trim_end_matches('.').to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|(entry, entry_port)| {
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            match (entry, ip) {
                (Entry::Ip(e), Some(ip)) => *e == ip,
                (Entry::Net(net), Some(ip)) => net.contains(&ip),
                (Entry::Domain(d), None) => {
                    host == *d
                        || (host.len() > d.len()
                            && host.ends_with(d.as_str())
                            && host.as_bytes()[host.len() - d.len() - 1] == b'.')
                }
                _ => false,
            }
        })
    }
}

/// A failed CONNECT: the failure and the proxy's HTTP status when it answered one.
pub(super) struct TunnelError {
    pub failure: Failure,
    pub http_status: Option<u16>,
}

impl From<Failure> for TunnelError {
    fn from(failure: Failure) -> Self {
        Self {
            failure,
            http_status: None,
        }
    }
}

/// Asks the proxy on `stream` for a tunnel to `host:port` (HTTP CONNECT) within `bound`.
pub(super) async fn connect_tunnel(
    stream: &mut TcpStream,
    proxy: &ProxyConfig,
    host: &str,
    port: u16,
    bound: Bound,
) -> Result<(), TunnelError> {
    let start = Instant::now();
    match tokio::time::timeout_at(bound.end, exchange(stream, proxy, host, port)).await {
        Ok(result) => result,
        Err(_elapsed) => Err(bound.expired(Phase::Proxy, start, Status::Timeout).into()),
    }
}

async fn exchange(
    stream: &mut TcpStream,
    proxy: &ProxyConfig,
    host: &str,
    port: u16,
) -> Result<(), TunnelError> {
    let host = bare_host(host);
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut request = format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: egress-probe/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(auth) = &proxy.authorization {
        request.push_str("Proxy-Authorization: ");
        request.push_str(auth);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let io_failure = |err: std::io::Error, what: &str| {
        let (status, os_error) = classify_io(&err);
        Failure::new(
            status,
            Phase::Proxy,
            format!("{what} the proxy {}: {err}", proxy.display),
        )
        .with_os_error(os_error)
    };
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| io_failure(e, "sending CONNECT to"))?;

    // The status line decides first (issue 12.4): a proxy that refuses (407 with an HTML
    // page, 403, 5xx) often sends a body right after its head, and that body must not hide
    // the refusal. Only a 2xx answer opens the tunnel, and then nothing may follow the head.
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 1024];
    let mut status: Option<StatusLine> = None;
    let head_end = loop {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| io_failure(e, "reading the CONNECT answer of"))?;
        if n == 0 {
            // A refusal returned as soon as its status line was complete, so `status` can
            // only be a 2xx here.
            let when = if status.is_some() {
                "after accepting CONNECT, before the tunnel was usable"
            } else {
                "before answering CONNECT"
            };
            return Err(Failure::new(
                Status::Reset,
                Phase::Proxy,
                format!("the proxy {} closed the connection {when}", proxy.display),
            )
            .into());
        }
        head.extend_from_slice(&buf[..n]);
        if status.is_none() {
            status = StatusLine::parse_complete(&head);
            if let Some(line) = &status
                && !line.is_success()
            {
                return line.outcome(proxy, &authority);
            }
        }
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if head.len() > MAX_HEAD {
            return Err(Failure::new(
                Status::Error,
                Phase::Proxy,
                format!(
                    "the proxy {} sent an over-long CONNECT answer",
                    proxy.display
                ),
            )
            .into());
        }
    };
    let line = match status.or_else(|| StatusLine::parse_complete(&head)) {
        Some(line) => line,
        None => return Err(not_http(proxy, &head[..head_end]).into()),
    };
    line.outcome(proxy, &authority)?;
    if head.len() > head_end {
        return Err(Failure::new(
            Status::Error,
            Phase::Proxy,
            format!(
                "the proxy {} accepted CONNECT but sent data before the TLS handshake began",
                proxy.display
            ),
        )
        .into());
    }
    Ok(())
}

/// The first line of the proxy's answer to CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StatusLine {
    Http {
        code: u16,
        reason: String,
    },
    /// A complete first line that is not `HTTP/1.x <code> …`.
    NotHttp(String),
}

impl StatusLine {
    /// The status line of `head` once its first line is complete (ends in CRLF or LF).
    fn parse_complete(head: &[u8]) -> Option<Self> {
        let end = head.iter().position(|b| *b == b'\n')?;
        let text = String::from_utf8_lossy(&head[..end]);
        let line = text.trim_end_matches('\r');
        let mut parts = line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        let code = parts
            .next()
            .filter(|c| c.len() == 3)
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| (100..=599).contains(c));
        match code {
            Some(code) if version.starts_with("HTTP/1.") => Some(Self::Http {
                code,
                reason: printable(parts.next().unwrap_or("").trim(), 80),
            }),
            _ => Some(Self::NotHttp(printable(line, 80))),
        }
    }

    fn is_success(&self) -> bool {
        matches!(self, Self::Http { code, .. } if (200..300).contains(code))
    }

    /// `Ok` for a 2xx; a proxy refusal naming its code otherwise.
    fn outcome(&self, proxy: &ProxyConfig, authority: &str) -> Result<(), TunnelError> {
        let (code, reason) = match self {
            Self::Http { code, .. } if (200..300).contains(code) => return Ok(()),
            Self::Http { code, reason } => (*code, reason.as_str()),
            Self::NotHttp(line) => {
                return Err(Failure::new(
                    Status::Error,
                    Phase::Proxy,
                    format!(
                        "the proxy {} did not answer CONNECT with HTTP (first line: {line:?})",
                        proxy.display
                    ),
                )
                .into());
            }
        };
        let p = &proxy.display;
        let answered = if reason.is_empty() {
            code.to_string()
        } else {
            format!("{code} {reason}")
        };
        let detail = match code {
            407 => format!(
                "the proxy {p} wants authentication ({answered}): put the user and password it accepts in HTTPS_PROXY (http://user:password@host:port)"
            ),
            403 => format!(
                "the proxy {p} refused the tunnel to {authority} by its policy ({answered}): allow this destination on the proxy"
            ),
            502 | 504 => format!(
                "the proxy {p} could not reach {authority} ({answered}): the proxy's own egress or the destination fails"
            ),
            _ => format!("the proxy {p} refused the tunnel to {authority} ({answered})"),
        };
        Err(TunnelError {
            failure: Failure::new(Status::ProxyRefused, Phase::Proxy, detail),
            http_status: Some(code),
        })
    }
}

/// The first bytes of an answer that is not HTTP, for the detail.
fn not_http(proxy: &ProxyConfig, head: &[u8]) -> Failure {
    let text = String::from_utf8_lossy(head);
    Failure::new(
        Status::Error,
        Phase::Proxy,
        format!(
            "the proxy {} did not answer CONNECT with HTTP (first line: {:?})",
            proxy.display,
            printable(text.lines().next().unwrap_or(""), 80)
        ),
    )
}

/// At most `max` characters of `text`, control characters replaced (text from the network).
fn printable(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_url_with_credentials() {
        let p =
            ProxyConfig::parse("http://alice:s%40cret@proxy.corp.example:3128/").expect("parse");
        assert_eq!(p.host, "proxy.corp.example");
        assert_eq!(p.port, 3128);
        assert_eq!(p.display, "http://proxy.corp.example:3128");
        let expected = base64::engine::general_purpose::STANDARD.encode("alice:s@cret");
        assert_eq!(p.authorization, Some(format!("Basic {expected}")));
        let debug = format!("{p:?}");
        assert!(
            !debug.contains("alice") && !debug.contains(&expected),
            "{debug}"
        );
    }

    #[test]
    fn proxy_url_forms() {
        let p = ProxyConfig::parse("proxy:8080").expect("bare");
        assert_eq!((p.host.as_str(), p.port), ("proxy", 8080));
        let p = ProxyConfig::parse("http://[2001:db8::1]:3128").expect("v6");
        assert_eq!(p.host, "2001:db8::1");
        assert_eq!(p.display, "http://[2001:db8::1]:3128");
        let p = ProxyConfig::parse("HTTP://proxy").expect("default port");
        assert_eq!(p.port, 80);
        assert_eq!(p.authorization, None);
    }

    #[test]
    fn bad_proxy_urls_are_errors_without_credentials() {
        for url in [
            "https://bob:hunter2@proxy:443",
            "socks5://bob:hunter2@proxy:1080",
            "http://bob:hunter2@proxy:99999",
            "http://bob:hunter2@",
        ] {
            let err = ProxyConfig::parse(url).expect_err(url);
            let text = err.to_string();
            assert!(!text.contains("hunter2") && !text.contains("bob"), "{text}");
        }
    }

    #[test]
    fn the_status_line_is_read_as_soon_as_it_is_complete() {
        assert_eq!(StatusLine::parse_complete(b"HTTP/1.1 407 Proxy Auth"), None);
        assert_eq!(
            StatusLine::parse_complete(b"HTTP/1.1 407 Proxy Authentication Required\r\nX"),
            Some(StatusLine::Http {
                code: 407,
                reason: "Proxy Authentication Required".into()
            })
        );
        assert_eq!(
            StatusLine::parse_complete(b"HTTP/1.0 200\r\n"),
            Some(StatusLine::Http {
                code: 200,
                reason: String::new()
            })
        );
        for junk in [
            &b"SSH-2.0-OpenSSH\r\n"[..],
            b"HTTP/1.1 abc x\n",
            b"HTTP/2 200\n",
        ] {
            assert!(
                matches!(
                    StatusLine::parse_complete(junk),
                    Some(StatusLine::NotHttp(_))
                ),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn refusals_name_their_meaning() {
        let proxy = ProxyConfig::parse("http://u:pw@proxy.example:3128").expect("proxy");
        let rows = [
            (407, "wants authentication"),
            (403, "by its policy"),
            (502, "could not reach"),
            (504, "could not reach"),
            (500, "refused the tunnel"),
        ];
        for (code, words) in rows {
            let line = StatusLine::Http {
                code,
                reason: "Reason".into(),
            };
            let err = line
                .outcome(&proxy, "dest.example:443")
                .expect_err("refusal");
            assert_eq!(err.http_status, Some(code));
            assert_eq!(err.failure.status, Status::ProxyRefused);
            assert_eq!(err.failure.phase, Phase::Proxy);
            assert!(err.failure.detail.contains(words), "{}", err.failure.detail);
            assert!(err.failure.detail.contains(&code.to_string()));
            assert!(!err.failure.detail.contains("pw"), "{}", err.failure.detail);
        }
        let ok = StatusLine::Http {
            code: 200,
            reason: "Connection established".into(),
        };
        assert!(ok.outcome(&proxy, "dest.example:443").is_ok());
    }

    #[test]
    fn redact_hides_userinfo_only() {
        assert_eq!(redact("http://u:p@h:1/x"), "http://***@h:1/x");
        assert_eq!(redact("http://h:1"), "http://h:1");
    }

    #[test]
    fn no_proxy_rows() {
        let np = NoProxy::parse(
            "example.com, .internal.example, 10.0.0.0/8,192.0.2.7, [2001:db8::1], only443.example:443",
        );
        let rows = [
            ("example.com", 443, true),
            ("www.example.com", 443, true),
            ("notexample.com", 443, false),
            ("a.internal.example", 443, true),
            ("internal.example", 443, true),
            ("10.1.2.3", 443, true),
            ("198.51.100.3", 443, false),
            ("192.0.2.7", 443, true),
            ("192.0.2.8", 443, false),
            ("2001:db8::1", 443, true),
            ("[2001:db8::1]", 443, true),
            ("only443.example", 443, true),
            ("only443.example", 8443, false),
            ("EXAMPLE.COM.", 443, true),
            ("checkip.amazonaws.com", 443, false),
        ];
        for (host, port, expected) in rows {
            assert_eq!(np.matches(host, port), expected, "{host}:{port}");
        }
    }

    #[test]
    fn no_proxy_star_and_empty() {
        assert!(NoProxy::parse("*").matches("anything.example", 443));
        assert!(!NoProxy::parse("").matches("anything.example", 443));
        assert!(NoProxy::parse("*.example.com").matches("a.example.com", 443));
    }
}
