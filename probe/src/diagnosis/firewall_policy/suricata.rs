//! A parser and matcher for the simple Suricata rules Network Firewall runs (R49, R51, R53):
//! actions pass/drop/reject/alert; protocols ip/tcp/udp/icmp/tls/http; address and port
//! expressions; options msg, sid, rev, priority, flow, ssl_state:client_hello, and the
//! sticky buffers tls.sni / http.host with content (nocase, startswith, endswith) and the
//! dotprefix transform. Any other keyword makes the rule *not evaluable*: it is kept with
//! its header (a header that cannot match still rules it out) and reported by name, never
//! guessed.

use super::expr::{AddrExpr, PortExpr, PortMatch, Vars};
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Action {
    Pass,
    Drop,
    Reject,
    Alert,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        match s.to_ascii_lowercase().as_str() {
            "pass" => Some(Action::Pass),
            "drop" => Some(Action::Drop),
            // rejectsrc/rejectdst/rejectboth also reset the connection (R53).
            "reject" | "rejectsrc" | "rejectdst" | "rejectboth" => Some(Action::Reject),
            "alert" => Some(Action::Alert),
            _ => None,
        }
    }
    pub(crate) fn word(self) -> &'static str {
        match self {
            Action::Pass => "pass",
            Action::Drop => "drop",
            Action::Reject => "reject",
            Action::Alert => "alert",
        }
    }
}

/// App-layer protocols Suricata detects; a rule for one of them never matches a packet
/// whose flow is known to carry another protocol, nor a TCP packet before detection.
const APP_LAYER: &[&str] = &[
    "dns",
    "ssh",
    "ftp",
    "ftp-data",
    "smb",
    "dcerpc",
    "smtp",
    "imap",
    "pop3",
    "msn",
    "krb5",
    "ikev2",
    "ike",
    "tftp",
    "ntp",
    "dhcp",
    "http2",
    "quic",
    "sip",
    "rdp",
    "rfb",
    "mqtt",
    "snmp",
    "nfs",
    "modbus",
    "dnp3",
    "enip",
    "pgsql",
    "telnet",
    "websocket",
    "ldap",
    "bittorrent-dht",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Proto {
    Ip,
    Tcp,
    Udp,
    Icmp,
    Tls,
    Http,
    /// Another app-layer or transport keyword (`dns`, `ssh`, `tcp-pkt`, …).
    Other(String),
}

impl Proto {
    fn parse(s: &str) -> Proto {
        match s.to_ascii_lowercase().as_str() {
            "ip" | "any" => Proto::Ip,
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            "icmp" => Proto::Icmp,
            "tls" => Proto::Tls,
            "http" | "http1" => Proto::Http,
            other => Proto::Other(other.to_string()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BufKind {
    /// `tls.sni`: the ClientHello's server name.
    Sni,
    /// `http.host`: the normalised (lower-case, port-less) Host header.
    Host,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Content {
    pub bytes: Vec<u8>,
    pub negated: bool,
    pub nocase: bool,
    pub startswith: bool,
    pub endswith: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BufferMatch {
    pub kind: BufKind,
    /// `dotprefix`: the buffer is inspected with a `.` in front, so `.example.com` with
    /// `endswith` matches `example.com` and every subdomain (R51 wildcards).
    pub dotprefix: bool,
    /// `to_lowercase` transform.
    pub lowercase: bool,
    pub contents: Vec<Content>,
}

/// One parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub action: Action,
    pub proto: Proto,
    pub src: AddrExpr,
    pub src_port: PortExpr,
    /// `<>`: both directions.
    pub both_ways: bool,
    pub dst: AddrExpr,
    pub dst_port: PortExpr,
    /// `flow:to_server` (Some(true)) / `flow:to_client` (Some(false)).
    pub to_server: Option<bool>,
    /// `flow:established` / `flow:not_established`.
    pub established: Option<bool>,
    pub buffers: Vec<BufferMatch>,
    /// `ssl_state:client_hello`.
    pub client_hello: bool,
    pub priority: Option<u8>,
    pub sid: Option<String>,
    pub msg: Option<String>,
    /// Keywords this engine does not evaluate; non-empty = the rule is not evaluable.
    pub unsupported: Vec<String>,
    /// The rule as written (one line).
    pub text: String,
}

/// A rule whose header could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unparsed {
    pub action: Option<Action>,
    pub sid: Option<String>,
    pub text: String,
    pub reason: String,
}

/// Splits a rules string into rules: one per line, `\` at the end of a line continues it,
/// blank lines and `#` comments are skipped.
pub(crate) fn parse_rules(s: &str) -> Vec<Result<Rule, Unparsed>> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in s.lines() {
        let line = line.trim();
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let rule = std::mem::take(&mut pending);
        let rule = rule.trim();
        if rule.is_empty() || rule.starts_with('#') {
            continue;
        }
        out.push(parse_rule(rule));
    }
    let rest = pending.trim();
    if !rest.is_empty() && !rest.starts_with('#') {
        out.push(parse_rule(rest));
    }
    out
}

/// Splits the header at whitespace outside `[…]`.
fn header_tokens(h: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    for c in h.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Splits the option block at `;` outside quotes, honouring `\` escapes.
fn option_items(body: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut escaped = false;
    for c in body.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                cur.push(c);
                escaped = true;
            }
            '"' => {
                cur.push(c);
                in_quotes = !in_quotes;
            }
            ';' if !in_quotes => items.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if in_quotes {
        return Err("unterminated quoted string in the options".into());
    }
    if !cur.trim().is_empty() {
        return Err(format!("option `{}` lacks its closing `;`", cur.trim()));
    }
    Ok(items
        .into_iter()
        .map(|i| {
            let i = i.trim();
            match i.split_once(':') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().to_string())),
                None => (i.to_ascii_lowercase(), None),
            }
        })
        .filter(|(k, _)| !k.is_empty())
        .collect())
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    let inner = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(v);
    let mut out = String::new();
    let mut esc = false;
    for c in inner.chars() {
        if esc {
            out.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// `"text|2e 63|more"` (optionally `!` before it) into bytes.
fn parse_content(v: &str) -> Result<Content, String> {
    let v = v.trim();
    let (negated, v) = match v.strip_prefix('!') {
        Some(rest) => (true, rest.trim()),
        None => (false, v),
    };
    let inner = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .ok_or_else(|| format!("content `{v}` is not a quoted string"))?;
    let mut bytes = Vec::new();
    let mut chars = inner.chars();
    let mut buf = [0u8; 4];
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let e = chars
                    .next()
                    .ok_or_else(|| "content ends in `\\`".to_string())?;
                bytes.extend_from_slice(e.encode_utf8(&mut buf).as_bytes());
            }
            '|' => {
                let mut hex = String::new();
                loop {
                    match chars.next() {
                        Some('|') => break,
                        Some(h) => hex.push(h),
                        None => return Err("content has an unclosed `|hex|` block".into()),
                    }
                }
                for pair in hex.split_whitespace().flat_map(|w| {
                    w.as_bytes()
                        .chunks(2)
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect::<Vec<_>>()
                }) {
                    let b = u8::from_str_radix(&pair, 16)
                        .ok()
                        .filter(|_| pair.len() == 2)
                        .ok_or_else(|| format!("`{pair}` is not a hex byte in content"))?;
                    bytes.push(b);
                }
            }
            c => bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
        }
    }
    Ok(Content {
        bytes,
        negated,
        ..Content::default()
    })
}

/// Parses one rule. `Err` only when the header cannot be read; unknown options make an
/// `Ok` rule with `unsupported` set.
pub(crate) fn parse_rule(text: &str) -> Result<Rule, Unparsed> {
    let text = text.trim();
    let first = text.split_whitespace().next().unwrap_or("");
    let action = Action::parse(first);
    let sid_guess = sid_in(text);
    let fail = |reason: String| Unparsed {
        action,
        sid: sid_guess.clone(),
        text: text.to_string(),
        reason,
    };
    let Some(action) = action else {
        return Err(fail(format!(
            "`{first}` is not an action this engine knows"
        )));
    };
    let (header, options) = match text.find('(') {
        Some(i) => {
            let body = text[i + 1..].trim_end();
            let body = body
                .strip_suffix(')')
                .ok_or_else(|| fail("the option block does not end with `)`".into()))?;
            (&text[..i], body)
        }
        None => (text, ""),
    };
    let tokens = header_tokens(header);
    let [_, proto, src, sport, dir, dst, dport] = tokens.as_slice() else {
        return Err(fail(format!(
            "the header has {} parts, not 7 (action protocol source port direction \
             destination port)",
            tokens.len()
        )));
    };
    let both_ways = match dir.as_str() {
        "->" => false,
        "<>" => true,
        d => return Err(fail(format!("`{d}` is not a direction (-> or <>)"))),
    };
    let addr = |s: &str| AddrExpr::parse(s).map_err(&fail);
    let port = |s: &str| PortExpr::parse(s).map_err(&fail);
    let mut rule = Rule {
        action,
        proto: Proto::parse(proto),
        src: addr(src)?,
        src_port: port(sport)?,
        both_ways,
        dst: addr(dst)?,
        dst_port: port(dport)?,
        to_server: None,
        established: None,
        buffers: Vec::new(),
        client_hello: false,
        priority: None,
        sid: None,
        msg: None,
        unsupported: Vec::new(),
        text: text.to_string(),
    };
    let items = option_items(options).map_err(&fail)?;
    rule.apply_options(items);
    Ok(rule)
}

/// The `sid:` value, found even in a rule that does not parse (for naming it).
fn sid_in(text: &str) -> Option<String> {
    let i = text.find("sid:")?;
    let before = text[..i].chars().last();
    if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
        return None;
    }
    let v: String = text[i + 4..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    (!v.is_empty()).then_some(v)
}

impl Rule {
    fn apply_options(&mut self, items: Vec<(String, Option<String>)>) {
        let mut unsupported = Vec::new();
        let mut buf: Option<usize> = None;
        let mut last_content: Option<(usize, usize)> = None;
        for (key, value) in items {
            let val = value.as_deref().unwrap_or("");
            match key.as_str() {
                // Naming and bookkeeping only: no effect on matching.
                "msg" => self.msg = Some(unquote(val)),
                "sid" => self.sid = Some(val.to_string()),
                "rev" | "gid" | "classtype" | "metadata" | "reference" | "target" | "noalert" => {}
                "priority" => match val.parse::<u8>() {
                    Ok(p) => self.priority = Some(p),
                    Err(_) => unsupported.push(format!("priority:{val}")),
                },
                "flow" => {
                    for f in val.split(',').map(|f| f.trim().to_ascii_lowercase()) {
                        match f.as_str() {
                            "to_server" | "from_client" => self.to_server = Some(true),
                            "to_client" | "from_server" => self.to_server = Some(false),
                            "established" => self.established = Some(true),
                            "not_established" => self.established = Some(false),
                            "stateless" => {}
                            other => unsupported.push(format!("flow:{other}")),
                        }
                    }
                }
                "ssl_state" if val.eq_ignore_ascii_case("client_hello") => self.client_hello = true,
                "tls.sni" | "http.host" => {
                    let kind = if key == "tls.sni" {
                        BufKind::Sni
                    } else {
                        BufKind::Host
                    };
                    self.buffers.push(BufferMatch {
                        kind,
                        dotprefix: false,
                        lowercase: false,
                        contents: Vec::new(),
                    });
                    buf = Some(self.buffers.len() - 1);
                    last_content = None;
                }
                "dotprefix" | "to_lowercase" => match buf.and_then(|b| self.buffers.get_mut(b)) {
                    Some(b) if b.contents.is_empty() => {
                        if key == "dotprefix" {
                            b.dotprefix = true;
                        } else {
                            b.lowercase = true;
                        }
                    }
                    _ => unsupported.push(format!("{key} outside tls.sni/http.host")),
                },
                "content" => match buf.and_then(|b| self.buffers.get_mut(b).map(|x| (b, x))) {
                    Some((bi, b)) => match parse_content(val) {
                        Ok(c) => {
                            b.contents.push(c);
                            last_content = Some((bi, b.contents.len() - 1));
                        }
                        Err(e) => unsupported.push(e),
                    },
                    None => unsupported.push("content on the payload".into()),
                },
                "nocase" | "startswith" | "endswith" | "fast_pattern" => {
                    match last_content
                        .and_then(|(b, c)| self.buffers.get_mut(b)?.contents.get_mut(c))
                    {
                        Some(c) => match key.as_str() {
                            "nocase" => c.nocase = true,
                            "startswith" => c.startswith = true,
                            "endswith" => c.endswith = true,
                            _ => {}
                        },
                        None => unsupported.push(format!("{key} without content")),
                    }
                }
                _ => unsupported.push(match value {
                    Some(v) if v.len() <= 40 => format!("{key}:{v}"),
                    _ => key,
                }),
            }
        }
        self.unsupported = unsupported;
    }

    /// How the rule is named in reports: `sid:N`, else its first 60 characters.
    pub(crate) fn name(&self) -> String {
        match &self.sid {
            Some(s) => format!("sid:{s}"),
            None => short(&self.text),
        }
    }
}

pub(crate) fn short(text: &str) -> String {
    let mut s: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        s.push('…');
    }
    s
}

/// Tri-state match: rules the engine cannot evaluate answer `Maybe` with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum M {
    Yes,
    No,
    Maybe(String),
}

impl M {
    fn and(self, other: impl FnOnce() -> M) -> M {
        match self {
            M::No => M::No,
            M::Yes => other(),
            M::Maybe(r) => match other() {
                M::No => M::No,
                M::Yes => M::Maybe(r),
                M::Maybe(r2) => M::Maybe(format!("{r}; {r2}")),
            },
        }
    }
    fn or(self, other: impl FnOnce() -> M) -> M {
        match self {
            M::Yes => M::Yes,
            M::No => other(),
            M::Maybe(r) => match other() {
                M::Yes => M::Yes,
                _ => M::Maybe(r),
            },
        }
    }
    fn from_bool(b: bool) -> M {
        if b { M::Yes } else { M::No }
    }
}

/// What a packet's flow carries at the application layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PktApp<'a> {
    /// Not (yet) detected: TCP handshake, or a flow with no TLS/HTTP.
    None,
    Tls {
        sni: Option<&'a str>,
    },
    Http {
        host: Option<&'a str>,
    },
}

/// One packet as the stateful engine sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IANA protocol number.
    pub transport: i16,
    /// Possible source / destination ports (inclusive); `None` for protocols without ports.
    pub src_ports: Option<(u16, u16)>,
    pub dst_ports: Option<(u16, u16)>,
    pub from_client: bool,
    pub established: bool,
    pub app: PktApp<'a>,
}

fn addr_m(e: &AddrExpr, ip: IpAddr, vars: &dyn Vars) -> M {
    match e.matches(ip, vars) {
        Ok(b) => M::from_bool(b),
        Err(r) => M::Maybe(r),
    }
}

fn port_m(e: &PortExpr, ports: Option<(u16, u16)>, vars: &dyn Vars, which: &str) -> M {
    match (e, ports) {
        (PortExpr::Any, _) => M::Yes,
        (_, None) => M::Maybe(format!("{which} port on a protocol without ports")),
        (_, Some((from, to))) => match e.covers(from, to, vars) {
            Ok(PortMatch::All) => M::Yes,
            Ok(PortMatch::None) => M::No,
            Ok(PortMatch::Some) => M::Maybe(format!(
                "{which} port: the flow's port ({from}-{to}) is not known exactly"
            )),
            Err(r) => M::Maybe(r),
        },
    }
}

fn content_matches(hay: &[u8], c: &Content) -> bool {
    let lower = |b: &[u8]| b.to_ascii_lowercase();
    let (hay, pat) = if c.nocase {
        (lower(hay), lower(&c.bytes))
    } else {
        (hay.to_vec(), c.bytes.clone())
    };
    let hit = match (c.startswith, c.endswith) {
        (true, true) => hay == pat,
        (true, false) => hay.starts_with(&pat),
        (false, true) => hay.ends_with(&pat),
        (false, false) => pat.is_empty() || hay.windows(pat.len()).any(|w| w == pat.as_slice()),
    };
    hit != c.negated
}

impl Rule {
    /// Whether this rule matches `pkt`.
    pub(crate) fn matches(&self, pkt: &Packet<'_>, vars: &dyn Vars) -> M {
        self.protocol_m(pkt)
            .and(|| self.header_m(pkt, vars))
            .and(|| self.flow_m(pkt))
            .and(|| self.app_m(pkt))
            .and(|| {
                if self.unsupported.is_empty() {
                    M::Yes
                } else {
                    M::Maybe(format!("not evaluated: {}", self.unsupported.join(", ")))
                }
            })
    }

    fn protocol_m(&self, pkt: &Packet<'_>) -> M {
        let wants_tls = self.client_hello || self.buffers.iter().any(|b| b.kind == BufKind::Sni);
        let wants_http = self.buffers.iter().any(|b| b.kind == BufKind::Host);
        let tls = matches!(pkt.app, PktApp::Tls { .. });
        let http = matches!(pkt.app, PktApp::Http { .. });
        let transport = match &self.proto {
            Proto::Ip => M::Yes,
            Proto::Tcp => M::from_bool(pkt.transport == 6),
            Proto::Udp => M::from_bool(pkt.transport == 17),
            Proto::Icmp => M::from_bool(pkt.transport == 1 || pkt.transport == 58),
            Proto::Tls => M::from_bool(tls),
            Proto::Http => M::from_bool(http),
            Proto::Other(p) => {
                if APP_LAYER.contains(&p.as_str())
                    && (tls || http || (pkt.transport == 6 && !pkt.established))
                {
                    // Another app-layer protocol was detected, or none is yet (handshake).
                    M::No
                } else {
                    M::Maybe(format!("protocol `{p}` is not evaluated"))
                }
            }
        };
        transport.and(|| M::from_bool((!wants_tls || tls) && (!wants_http || http)))
    }

    fn header_m(&self, pkt: &Packet<'_>, vars: &dyn Vars) -> M {
        let forward = || {
            addr_m(&self.src, pkt.src, vars)
                .and(|| port_m(&self.src_port, pkt.src_ports, vars, "source"))
                .and(|| addr_m(&self.dst, pkt.dst, vars))
                .and(|| port_m(&self.dst_port, pkt.dst_ports, vars, "destination"))
        };
        let reverse = || {
            addr_m(&self.src, pkt.dst, vars)
                .and(|| port_m(&self.src_port, pkt.dst_ports, vars, "source"))
                .and(|| addr_m(&self.dst, pkt.src, vars))
                .and(|| port_m(&self.dst_port, pkt.src_ports, vars, "destination"))
        };
        if self.both_ways {
            forward().or(reverse)
        } else {
            forward()
        }
    }

    fn flow_m(&self, pkt: &Packet<'_>) -> M {
        let dir_ok = self.to_server.is_none_or(|t| t == pkt.from_client);
        let est_ok = self.established.is_none_or(|e| e == pkt.established);
        M::from_bool(dir_ok && est_ok)
    }

    fn app_m(&self, pkt: &Packet<'_>) -> M {
        if self.client_hello && !(pkt.from_client && pkt.established) {
            return M::No;
        }
        for b in &self.buffers {
            // tls.sni and http.host are request-side buffers: never on server packets.
            if !pkt.from_client {
                return M::No;
            }
            let value = match (b.kind, pkt.app) {
                (BufKind::Sni, PktApp::Tls { sni }) => sni.map(str::to_string),
                (BufKind::Host, PktApp::Http { host }) => host.map(normalise_host),
                _ => None,
            };
            // An absent buffer matches nothing, not even a negated content.
            let Some(value) = value else {
                return M::No;
            };
            let mut hay = String::new();
            if b.dotprefix {
                hay.push('.');
            }
            hay.push_str(&value);
            if b.lowercase {
                hay = hay.to_ascii_lowercase();
            }
            if !b
                .contents
                .iter()
                .all(|c| content_matches(hay.as_bytes(), c))
            {
                return M::No;
            }
        }
        M::Yes
    }
}

/// `http.host` is normalised: lower case, without `:port`.
fn normalise_host(h: &str) -> String {
    let h = h.trim();
    let digits = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit());
    let name = if h.starts_with('[') {
        // `[2001:db8::1]:8080`
        match h.find(']') {
            Some(i) if h[i + 1..].strip_prefix(':').is_some_and(digits) => &h[..=i],
            _ => h,
        }
    } else {
        match h.split_once(':') {
            Some((name, port)) if digits(port) => name,
            _ => h,
        }
    };
    name.to_ascii_lowercase()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::diagnosis::firewall_policy::domain::generated_rules;
    use proptest::prelude::*;

    struct NoVars;
    impl Vars for NoVars {
        fn ip(&self, name: &str) -> Option<AddrExpr> {
            match name {
                "HOME_NET" => AddrExpr::parse("10.0.0.0/8").ok(),
                "EXTERNAL_NET" => AddrExpr::parse("!10.0.0.0/8").ok(),
                _ => None,
            }
        }
        fn port(&self, _: &str) -> Option<PortExpr> {
            None
        }
    }

    /// Rules as Network Firewall writes them for a domain list (R51), written from the
    /// fact sheet's description: one pass per target, a final drop on the ClientHello.
    const AWS_STYLE: &str = r#"
pass tls $HOME_NET any -> $EXTERNAL_NET any (tls.sni; content:"api.example.com"; startswith; nocase; endswith; msg:"matching TLS allowlisted FQDNs"; flow:to_server, established; sid:1; rev:1;)
pass tls $HOME_NET any -> $EXTERNAL_NET any (tls.sni; dotprefix; content:".example.com"; nocase; endswith; msg:"matching TLS allowlisted FQDNs"; flow:to_server, established; sid:2; rev:1;)
pass http $HOME_NET any -> $EXTERNAL_NET any (http.host; dotprefix; content:".example.com"; endswith; msg:"matching HTTP allowlisted FQDNs"; flow:to_server, established; sid:3; rev:1;)
drop tls $HOME_NET any -> $EXTERNAL_NET any (msg:"not matching any TLS allowlisted FQDNs"; flow:to_server, established; ssl_state:client_hello; sid:4; rev:1;)
"#;

    fn client_hello(sni: Option<&str>) -> Packet<'_> {
        Packet {
            src: "10.1.2.3".parse().unwrap(),
            dst: "198.51.100.10".parse().unwrap(),
            transport: 6,
            src_ports: Some((1024, 65535)),
            dst_ports: Some((443, 443)),
            from_client: true,
            established: true,
            app: PktApp::Tls { sni },
        }
    }

    #[test]
    fn r51_parses_the_rules_aws_generates_for_domain_lists() {
        let rules: Vec<Rule> = parse_rules(AWS_STYLE)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rules.len(), 4);
        let wildcard = &rules[1];
        assert_eq!(wildcard.action, Action::Pass);
        assert_eq!(wildcard.proto, Proto::Tls);
        assert_eq!(wildcard.src, AddrExpr::Var("HOME_NET".into()));
        assert_eq!(wildcard.dst, AddrExpr::Var("EXTERNAL_NET".into()));
        assert_eq!(
            (wildcard.to_server, wildcard.established),
            (Some(true), Some(true))
        );
        assert_eq!(wildcard.sid.as_deref(), Some("2"));
        assert_eq!(
            wildcard.msg.as_deref(),
            Some("matching TLS allowlisted FQDNs")
        );
        assert!(wildcard.unsupported.is_empty());
        assert_eq!(
            wildcard.buffers,
            vec![BufferMatch {
                kind: BufKind::Sni,
                dotprefix: true,
                lowercase: false,
                contents: vec![Content {
                    bytes: b".example.com".to_vec(),
                    nocase: true,
                    endswith: true,
                    ..Content::default()
                }],
            }]
        );
        assert!(rules[3].client_hello && rules[3].buffers.is_empty());
        assert_eq!(rules[2].buffers[0].kind, BufKind::Host);
        // (sni, which rules match the ClientHello)
        let cases = [
            (Some("api.example.com"), vec![0, 1, 3]),
            (Some("API.EXAMPLE.COM"), vec![0, 1, 3]),
            (Some("example.com"), vec![1, 3]),
            (Some("deep.api.example.com"), vec![1, 3]),
            (Some("notexample.com"), vec![3]),
            (None, vec![3]),
        ];
        for (sni, want) in cases {
            let pkt = client_hello(sni);
            let got: Vec<usize> = (0..rules.len())
                .filter(|&i| rules[i].matches(&pkt, &NoVars) == M::Yes)
                .collect();
            assert_eq!(got, want, "{sni:?}");
        }
        // The SYN: not established, protocol not detected yet; none of them match.
        let syn = Packet {
            established: false,
            app: PktApp::None,
            ..client_hello(None)
        };
        assert!(rules.iter().all(|r| r.matches(&syn, &NoVars) == M::No));
    }

    #[test]
    fn r51_generated_rules_parse_without_gaps() {
        let targets = vec![".example.com".to_string(), "API.test".to_string()];
        let types = vec!["TLS_SNI".to_string(), "HTTP_HOST".to_string()];
        let rules = generated_rules(&targets, &types, "ALLOWLIST").unwrap();
        // 2 targets × 2 types, then one drop per type.
        assert_eq!(rules.len(), 6);
        assert_eq!(
            rules[1],
            "pass tls $HOME_NET any -> $EXTERNAL_NET any (tls.sni; content:\"api.test\"; \
             nocase; startswith; endswith; msg:\"matching TLS allowlisted FQDNs\"; \
             flow:to_server, established; sid:2; rev:1;)"
        );
        for text in &rules {
            let r = parse_rule(text).unwrap();
            assert!(r.unsupported.is_empty(), "{text}: {:?}", r.unsupported);
        }
        assert_eq!(parse_rule(&rules[4]).unwrap().action, Action::Drop);
        assert!(parse_rule(&rules[4]).unwrap().client_hello);
        for kind in ["DENYLIST", "REJECTLIST", "ALERTLIST"] {
            let r = generated_rules(&targets, &types, kind).unwrap();
            assert_eq!(r.len(), 4, "{kind}: no final drop");
        }
        for (targets, kind, err) in [
            (
                vec!["bad\"name".to_string()],
                "ALLOWLIST",
                "target `bad\"name`",
            ),
            (
                vec!["*.example.com".to_string()],
                "ALLOWLIST",
                "target `*.example.com`",
            ),
            (
                vec!["a.test".to_string()],
                "BLOCKLIST",
                "GeneratedRulesType `BLOCKLIST`",
            ),
        ] {
            let e = generated_rules(&targets, &types, kind).unwrap_err();
            assert!(e.contains(err), "{e}");
        }
    }

    #[test]
    fn content_modifiers_and_escapes() {
        let pkt = client_hello(Some("api.example.com"));
        // (options, matches)
        let cases = [
            ("tls.sni; content:\"example\";", true),
            ("tls.sni; content:\"EXAMPLE\";", false),
            ("tls.sni; content:\"EXAMPLE\"; nocase;", true),
            ("tls.sni; content:\"api\"; startswith;", true),
            ("tls.sni; content:\"example\"; startswith;", false),
            ("tls.sni; content:\"|2e|com\"; endswith;", true),
            ("tls.sni; content:!\"evil\";", true),
            ("tls.sni; content:!\"api\"; startswith;", false),
            (
                "tls.sni; content:\"api\"; content:\".com\"; endswith;",
                true,
            ),
            (
                "tls.sni; to_lowercase; content:\"api.example.com\"; startswith; endswith;",
                true,
            ),
            ("http.host; content:\"api\";", false),
        ];
        for (opts, want) in cases {
            let r = parse_rule(&format!("drop tls any any -> any any ({opts} sid:1;)")).unwrap();
            assert!(r.unsupported.is_empty(), "{opts}: {:?}", r.unsupported);
            assert_eq!(
                r.matches(&pkt, &NoVars),
                if want { M::Yes } else { M::No },
                "{opts}"
            );
        }
    }

    #[test]
    fn unsupported_keywords_are_named() {
        let cases = [
            ("pcre:\"/a/\";", "pcre"),
            ("content:\"GET\";", "content on the payload"),
            ("tls.sni; content:\"a\"; depth:3;", "depth"),
            ("flowbits:isset,x;", "flowbits"),
            (
                "threshold: type limit, track by_src, seconds 60, count 1;",
                "threshold",
            ),
            ("app-layer-protocol:!tls;", "app-layer-protocol"),
            ("ssl_state:server_hello;", "ssl_state"),
            ("lua:script.lua;", "lua"),
            ("flow:only_stream;", "flow:only_stream"),
        ];
        for (opts, named) in cases {
            let r = parse_rule(&format!("drop tcp any any -> any any ({opts} sid:5;)")).unwrap();
            assert!(
                r.unsupported.iter().any(|u| u.contains(named)),
                "{opts}: {:?}",
                r.unsupported
            );
            let pkt = client_hello(Some("a.test"));
            assert!(matches!(r.matches(&pkt, &NoVars), M::Maybe(_)), "{opts}");
        }
    }

    #[test]
    fn broken_headers_keep_their_action_and_sid() {
        let cases = [
            (
                "drop tls any any => any any (sid:3;)",
                Some(Action::Drop),
                Some("3"),
                "direction",
            ),
            (
                "pass tcp any -> any any (sid:4;)",
                Some(Action::Pass),
                Some("4"),
                "6 parts",
            ),
            (
                "reject tcp any any -> any any (msg:\"x; sid:5;)",
                Some(Action::Reject),
                Some("5"),
                "unterminated",
            ),
            (
                "alert tcp any any -> any any (sid:6;",
                Some(Action::Alert),
                Some("6"),
                "`)`",
            ),
            (
                "block tcp any any -> any any (sid:7;)",
                None,
                Some("7"),
                "`block`",
            ),
            (
                "drop tcp 10.0.0.0/33 any -> any any (sid:8;)",
                Some(Action::Drop),
                Some("8"),
                "10.0.0.0/33",
            ),
            (
                "drop tcp any 99999 -> any any (nosid:9;)",
                Some(Action::Drop),
                None,
                "99999",
            ),
        ];
        for (text, action, sid, reason) in cases {
            let u = parse_rule(text).unwrap_err();
            assert_eq!((u.action, u.sid.as_deref()), (action, sid), "{text}");
            assert!(u.reason.contains(reason), "{text}: {}", u.reason);
        }
    }

    #[test]
    fn rule_strings_split_into_rules() {
        let s = "# a comment\n\
                 drop tcp any any -> any 22 (sid:1;)\n\n\
                 pass tcp any any -> any 443 \\\n  (flow:to_server; sid:2;)\n";
        let rules = parse_rules(s);
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1].as_ref().unwrap().sid.as_deref(), Some("2"));
        assert_eq!(rules[1].as_ref().unwrap().to_server, Some(true));
    }

    #[test]
    fn host_normalisation() {
        for (raw, want) in [
            ("API.Example.com", "api.example.com"),
            ("example.com:8080", "example.com"),
            ("[2001:db8::1]:80", "[2001:db8::1]"),
            ("[2001:db8::1]", "[2001:db8::1]"),
            ("example.com:", "example.com:"),
        ] {
            assert_eq!(normalise_host(raw), want, "{raw}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_rule_strings_never_panic(s in "\\PC{0,200}") {
            let _ = parse_rules(&s);
        }

        #[test]
        fn rule_shaped_strings_never_panic(
            action in "(pass|drop|reject|alert|x)",
            proto in "(ip|tcp|udp|tls|http|dns|)",
            addr in "(any|\\$HOME_NET|!?\\[[0-9./!, ]{0,20}\\]?|[0-9.:/]{0,18})",
            port in "(any|!?\\[?[0-9:, !$A-Z]{0,12}\\]?)",
            dir in "(->|<>|-)",
            opts in "[a-z_.:;\"|!0-9 ,\\\\()]{0,60}",
        ) {
            let text = format!("{action} {proto} {addr} {port} {dir} {addr} {port} ({opts})");
            for r in parse_rules(&text).into_iter().flatten() {
                let _ = r.matches(&client_hello(Some("a.example.com")), &NoVars);
            }
        }
    }
}
