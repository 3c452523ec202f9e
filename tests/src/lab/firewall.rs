//! The lab's Network Firewall enforcer: the firewall policy (the API's JSON, see
//! [`super::nfw`]) applied to real packets by `lab-services firewall` in a firewall endpoint
//! namespace.
//!
//! Why a TUN device and a userspace engine: the endpoint namespace routes every packet that
//! arrives on its subnet link into a TUN device; the enforcer reads it, decides, and writes
//! what passes back into the TUN, from where the kernel forwards it out of the same link to
//! the VPC router (which routes it by the firewall subnet's table, as AWS does after an
//! endpoint). That gives full control with no kernel feature beyond TUN (nftables' `queue`
//! is not available here): per-flow state with no mid-stream pickup (a reply of a flow this
//! endpoint never saw is dropped — the asymmetric-routing drop of R44/R48), the TLS
//! ClientHello's SNI and the HTTP Host header read from the first payload of the client
//! (R51), a silent drop, or a reject that answers the client with a TCP RST (R53).
//!
//! Deliberately independent from the product's policy evaluation
//! (`probe/src/diagnosis/firewall_policy*`): the data plane follows what this module
//! decides, the diagnosis what that one predicts, and a bug in one cannot hide itself in the
//! other. What it implements (R49-R53): stateless default actions (`aws:pass`, `aws:drop`,
//! `aws:forward_to_sfe`; stateless rule groups are not evaluated), stateful rule groups of
//! domain lists (`ALLOWLIST | DENYLIST | REJECTLIST | ALERTLIST`, `TLS_SNI`, `HTTP_HOST`,
//! leading-dot wildcards, HOME_NET scoping) and standard rules (`PASS | DROP | REJECT |
//! ALERT`, protocols IP/TCP/UDP/ICMP/TLS/HTTP, CIDRs, `ANY`, `$HOME_NET`, `$EXTERNAL_NET`,
//! ports and ranges, direction), in action order (pass, drop, reject) or strict order with
//! `aws:drop_strict` / `aws:drop_established` defaults. Suricata rule strings are not
//! evaluated (the lab's scenarios do not use them).

use anyhow::{Context, Result};
use ipnet::Ipv4Net;
use serde_json::Value;
use std::net::Ipv4Addr;

/// What the engine does with a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Silent drop (R53).
    Drop,
    /// Drop and TCP RST to the client (R53).
    Reject,
}

/// The application layer of a flow's first client payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum App {
    /// A TLS ClientHello, with its SNI.
    Tls(Option<String>),
    /// An HTTP request, with its Host header.
    Http(Option<String>),
    /// Something else.
    Other,
}

/// A flow's 5-tuple (IPv4), client to server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// IANA protocol number.
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Pass,
    Drop,
    Reject,
    Alert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Ip,
    Tcp,
    Udp,
    Icmp,
    Tls,
    Http,
    /// A protocol the engine does not detect (never matches).
    Unsupported,
}

impl Proto {
    fn is_app(self) -> bool {
        matches!(self, Proto::Tls | Proto::Http)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum AddrSpec {
    Any,
    Nets(Vec<Ipv4Net>),
    Not(Vec<Ipv4Net>),
}

impl AddrSpec {
    fn matches(&self, a: Ipv4Addr) -> bool {
        match self {
            AddrSpec::Any => true,
            AddrSpec::Nets(n) => n.iter().any(|n| n.contains(&a)),
            AddrSpec::Not(n) => !n.iter().any(|n| n.contains(&a)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum PortSpec {
    Any,
    Ranges(Vec<(u16, u16)>),
}

impl PortSpec {
    fn matches(&self, p: u16) -> bool {
        match self {
            PortSpec::Any => true,
            PortSpec::Ranges(r) => r.iter().any(|(a, b)| (*a..=*b).contains(&p)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Rule {
    /// A generated domain-list rule (R51).
    Domain {
        action: Action,
        /// `true`: matches names in the list; `false`: matches names NOT in it (the
        /// allowlist's closing drop).
        listed: bool,
        targets: Vec<String>,
        tls: bool,
        http: bool,
        home_net: Vec<Ipv4Net>,
    },
    Standard {
        action: Action,
        proto: Proto,
        src: AddrSpec,
        src_port: PortSpec,
        dst: AddrSpec,
        dst_port: PortSpec,
        both_ways: bool,
    },
}

impl Rule {
    fn action(&self) -> Action {
        match self {
            Rule::Domain { action, .. } | Rule::Standard { action, .. } => *action,
        }
    }

    fn is_app(&self) -> bool {
        match self {
            Rule::Domain { .. } => true,
            Rule::Standard { proto, .. } => proto.is_app(),
        }
    }

    /// Whether the rule matches `flow`; `app` = None before any payload was seen.
    fn matches(&self, flow: &Flow, app: Option<&App>) -> bool {
        match self {
            Rule::Domain {
                listed,
                targets,
                tls,
                http,
                home_net,
                ..
            } => {
                // Generated as `… $HOME_NET any -> $EXTERNAL_NET any` (R51, R52).
                if !home_net.iter().any(|n| n.contains(&flow.src))
                    || home_net.iter().any(|n| n.contains(&flow.dst))
                {
                    return false;
                }
                let name = match app {
                    Some(App::Tls(sni)) if *tls => sni.as_deref(),
                    Some(App::Http(host)) if *http => host.as_deref(),
                    _ => return false,
                };
                let in_list = name.is_some_and(|n| targets.iter().any(|t| name_matches(t, n)));
                in_list == *listed
            }
            Rule::Standard {
                proto,
                src,
                src_port,
                dst,
                dst_port,
                both_ways,
                ..
            } => {
                let proto_ok = match proto {
                    Proto::Ip => true,
                    Proto::Tcp => flow.protocol == 6,
                    Proto::Udp => flow.protocol == 17,
                    Proto::Icmp => flow.protocol == 1,
                    Proto::Tls => flow.protocol == 6 && matches!(app, Some(App::Tls(_))),
                    Proto::Http => flow.protocol == 6 && matches!(app, Some(App::Http(_))),
                    Proto::Unsupported => false,
                };
                let forward = src.matches(flow.src)
                    && src_port.matches(flow.src_port)
                    && dst.matches(flow.dst)
                    && dst_port.matches(flow.dst_port);
                let backward = *both_ways
                    && src.matches(flow.dst)
                    && src_port.matches(flow.dst_port)
                    && dst.matches(flow.src)
                    && dst_port.matches(flow.src_port);
                proto_ok && (forward || backward)
            }
        }
    }
}

/// `.example.com` matches the domain and every subdomain; other targets match exactly
/// (case-insensitive).
pub fn name_matches(target: &str, name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let target = target.to_ascii_lowercase();
    match target.strip_prefix('.') {
        Some(domain) => name == domain || name.ends_with(&target),
        None => name == target,
    }
}

/// A parsed firewall policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `None`: no firewall claims the endpoint (forward everything).
    enforced: bool,
    /// First of `StatelessDefaultActions`.
    stateless_default: String,
    strict: bool,
    default_actions: Vec<String>,
    /// Rules in evaluation order (strict: group priority, then written order).
    rules: Vec<Rule>,
}

fn nets(values: &Value) -> Vec<Ipv4Net> {
    values
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|s| s.parse().ok())
        .collect()
}

fn addr_spec(text: &str, home: &[Ipv4Net]) -> AddrSpec {
    let t = text.trim();
    if t.eq_ignore_ascii_case("any") {
        return AddrSpec::Any;
    }
    if t == "$HOME_NET" {
        return AddrSpec::Nets(home.to_vec());
    }
    if t == "$EXTERNAL_NET" || t == "!$HOME_NET" {
        return AddrSpec::Not(home.to_vec());
    }
    let list = t.trim_start_matches('[').trim_end_matches(']');
    AddrSpec::Nets(
        list.split(',')
            .filter_map(|s| {
                let s = s.trim();
                s.parse::<Ipv4Net>()
                    .ok()
                    .or_else(|| s.parse::<Ipv4Addr>().ok().map(Ipv4Net::from))
            })
            .collect(),
    )
}

fn port_spec(text: &str) -> PortSpec {
    let t = text.trim();
    if t.eq_ignore_ascii_case("any") {
        return PortSpec::Any;
    }
    let list = t.trim_start_matches('[').trim_end_matches(']');
    PortSpec::Ranges(
        list.split(',')
            .filter_map(|s| {
                let s = s.trim();
                match s.split_once(':') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => s.parse().ok().map(|p| (p, p)),
                }
            })
            .collect(),
    )
}

fn action(text: &str) -> Option<Action> {
    match text.to_ascii_uppercase().as_str() {
        "PASS" => Some(Action::Pass),
        "DROP" => Some(Action::Drop),
        "REJECT" => Some(Action::Reject),
        "ALERT" => Some(Action::Alert),
        _ => None,
    }
}

impl Policy {
    /// Parses the enforcer's view ([`super::nfw::NfwData::enforcer_view`]).
    pub fn from_view(view: &Value) -> Result<Policy> {
        let policy = &view["policy"];
        if policy.is_null() {
            return Ok(Policy {
                enforced: false,
                stateless_default: "aws:pass".into(),
                strict: false,
                default_actions: Vec::new(),
                rules: Vec::new(),
            });
        }
        let vpc_cidrs = nets(&view["vpc_cidrs"]);
        // R52: HOME_NET is the policy variable when set, else the firewall VPC's CIDRs.
        let policy_home =
            nets(&policy["PolicyVariables"]["RuleVariables"]["HOME_NET"]["Definition"]);
        let policy_home = if policy_home.is_empty() {
            vpc_cidrs
        } else {
            policy_home
        };
        let strict = policy["StatefulEngineOptions"]["RuleOrder"].as_str() == Some("STRICT_ORDER");
        let mut refs: Vec<(i64, usize, String)> = policy["StatefulRuleGroupReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, r)| {
                Some((
                    r["Priority"].as_i64().unwrap_or(0),
                    i,
                    r["ResourceArn"].as_str()?.to_string(),
                ))
            })
            .collect();
        if strict {
            refs.sort();
        }
        let mut rules = Vec::new();
        for (_, _, arn) in refs {
            let group = &view["rule_groups"][&arn]["rule_group"];
            if group.is_null() {
                continue;
            }
            let group_home = nets(&group["RuleVariables"]["IPSets"]["HOME_NET"]["Definition"]);
            let home = if group_home.is_empty() {
                policy_home.clone()
            } else {
                group_home
            };
            let source = &group["RulesSource"];
            if let Some(list) = source.get("RulesSourceList") {
                let targets: Vec<String> = list["Targets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect();
                let types: Vec<&str> = list["TargetTypes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let tls = types.contains(&"TLS_SNI");
                let http = types.contains(&"HTTP_HOST");
                let domain = |action, listed| Rule::Domain {
                    action,
                    listed,
                    targets: targets.clone(),
                    tls,
                    http,
                    home_net: home.clone(),
                };
                match list["GeneratedRulesType"].as_str().unwrap_or_default() {
                    "ALLOWLIST" => {
                        rules.push(domain(Action::Pass, true));
                        rules.push(domain(Action::Drop, false));
                    }
                    "DENYLIST" => rules.push(domain(Action::Drop, true)),
                    "REJECTLIST" => rules.push(domain(Action::Reject, true)),
                    _ => rules.push(domain(Action::Alert, true)),
                }
            }
            for r in source["StatefulRules"].as_array().into_iter().flatten() {
                let Some(act) = r["Action"].as_str().and_then(action) else {
                    continue;
                };
                let h = &r["Header"];
                let s = |k: &str| h[k].as_str().unwrap_or("ANY").to_string();
                let proto = match s("Protocol").to_ascii_uppercase().as_str() {
                    "IP" => Proto::Ip,
                    "TCP" => Proto::Tcp,
                    "UDP" => Proto::Udp,
                    "ICMP" => Proto::Icmp,
                    "TLS" => Proto::Tls,
                    "HTTP" => Proto::Http,
                    _ => Proto::Unsupported,
                };
                rules.push(Rule::Standard {
                    action: act,
                    proto,
                    src: addr_spec(&s("Source"), &home),
                    src_port: port_spec(&s("SourcePort")),
                    dst: addr_spec(&s("Destination"), &home),
                    dst_port: port_spec(&s("DestinationPort")),
                    both_ways: s("Direction").eq_ignore_ascii_case("ANY"),
                });
            }
        }
        let default_actions = policy["StatefulDefaultActions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect();
        Ok(Policy {
            enforced: true,
            stateless_default: policy["StatelessDefaultActions"][0]
                .as_str()
                .unwrap_or("aws:forward_to_sfe")
                .to_string(),
            strict,
            default_actions,
            rules,
        })
    }

    /// Reads and parses a policy file.
    pub fn load(path: &std::path::Path) -> Result<Policy> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let view: Value = serde_json::from_str(&text).context("policy file is not JSON")?;
        Self::from_view(&view)
    }

    fn has_default(&self, name: &str) -> bool {
        self.default_actions.iter().any(|a| a == name)
    }

    fn final_verdict(action: Action) -> Option<Verdict> {
        match action {
            Action::Pass => Some(Verdict::Pass),
            Action::Drop => Some(Verdict::Drop),
            Action::Reject => Some(Verdict::Reject),
            Action::Alert => None,
        }
    }

    /// The decision at a flow's first packet (R49, R50): `Some` is final, `None` lets the
    /// handshake through and waits for the first client payload ([`Policy::on_payload`]).
    /// For connectionless flows `None` means pass.
    pub fn on_connect(&self, flow: &Flow) -> Option<Verdict> {
        if !self.enforced {
            return Some(Verdict::Pass);
        }
        match self.stateless_default.as_str() {
            "aws:pass" => return Some(Verdict::Pass),
            "aws:drop" => return Some(Verdict::Drop),
            _ => {}
        }
        let connect_rules = || self.rules.iter().filter(|r| !r.is_app());
        if self.strict {
            for r in connect_rules() {
                if r.matches(flow, None)
                    && let Some(v) = Self::final_verdict(r.action())
                {
                    return Some(v);
                }
            }
            if self.has_default("aws:drop_strict") {
                return Some(Verdict::Drop);
            }
            // R50: drop_established drops every packet of a connectionless flow that no
            // rule passed; TCP keeps its handshake.
            if flow.protocol != 6 && self.has_default("aws:drop_established") {
                return Some(Verdict::Drop);
            }
            return None;
        }
        // Action order: pass, then drop, then reject (R49).
        for wanted in [Action::Pass, Action::Drop, Action::Reject] {
            if connect_rules().any(|r| r.action() == wanted && r.matches(flow, None)) {
                return Self::final_verdict(wanted);
            }
        }
        None
    }

    /// The decision at the first client payload of a TCP flow still undecided.
    pub fn on_payload(&self, flow: &Flow, app: &App) -> Verdict {
        if self.strict {
            for r in &self.rules {
                if r.matches(flow, Some(app))
                    && let Some(v) = Self::final_verdict(r.action())
                {
                    return v;
                }
            }
            if self.has_default("aws:drop_established") || self.has_default("aws:drop_strict") {
                return Verdict::Drop;
            }
            return Verdict::Pass;
        }
        for wanted in [Action::Pass, Action::Drop, Action::Reject] {
            let hit = self
                .rules
                .iter()
                .any(|r| r.action() == wanted && r.matches(flow, Some(app)));
            if hit && let Some(v) = Self::final_verdict(wanted) {
                return v;
            }
        }
        Verdict::Pass
    }
}

/// Reads the application layer of a client's first payload: a TLS ClientHello (its SNI),
/// an HTTP request (its Host header), or other bytes.
pub fn classify_payload(payload: &[u8]) -> App {
    if payload.first() == Some(&0x16) {
        return App::Tls(client_hello_sni(payload));
    }
    const METHODS: &[&str] = &[
        "GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ",
    ];
    if METHODS.iter().any(|m| payload.starts_with(m.as_bytes())) {
        let text = String::from_utf8_lossy(payload);
        let host = text.split("\r\n").skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("host")
                .then(|| v.trim().split(':').next().unwrap_or_default().to_string())
        });
        return App::Http(host);
    }
    App::Other
}

/// The SNI of a TLS ClientHello record, if present and complete.
pub fn client_hello_sni(record: &[u8]) -> Option<String> {
    let hs = record.get(5..)?;
    if *hs.first()? != 1 {
        return None;
    }
    let mut i = 4 + 2 + 32; // handshake header, version, random
    let sid = *hs.get(i)? as usize;
    i += 1 + sid;
    let suites = u16::from_be_bytes([*hs.get(i)?, *hs.get(i + 1)?]) as usize;
    i += 2 + suites;
    let comp = *hs.get(i)? as usize;
    i += 1 + comp;
    let ext_len = u16::from_be_bytes([*hs.get(i)?, *hs.get(i + 1)?]) as usize;
    i += 2;
    let end = (i + ext_len).min(hs.len());
    while i + 4 <= end {
        let ty = u16::from_be_bytes([hs[i], hs[i + 1]]);
        let len = u16::from_be_bytes([hs[i + 2], hs[i + 3]]) as usize;
        let body = hs.get(i + 4..i + 4 + len)?;
        if ty == 0 {
            // server_name_list: list length, name type (0 = host_name), name length, name.
            let name_len = u16::from_be_bytes([*body.get(3)?, *body.get(4)?]) as usize;
            let name = body.get(5..5 + name_len)?;
            return String::from_utf8(name.to_vec()).ok();
        }
        i += 4 + len;
    }
    None
}

/// The per-packet stateful engine around a [`Policy`]: IPv4 packets in, packets to send
/// out (the packet itself when it passes, a TCP RST to the client on reject, nothing on a
/// drop). Flows are created only by a client's first packet (a TCP SYN without ACK, or
/// any UDP/ICMP packet); a TCP packet of a flow this engine never saw is dropped (no
/// mid-stream pickup: the stateful drop that asymmetric routing meets, R44/R48). IPv6 and
/// other protocols are forwarded.
#[derive(Debug)]
pub struct Engine {
    pub policy: Policy,
    flows: std::collections::HashMap<Flow, FlowState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlowState {
    Undecided,
    Decided(Verdict),
}

/// What happened to a packet (for the enforcer's log and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub send: Vec<Vec<u8>>,
    pub note: Option<String>,
}

struct Parsed<'a> {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    sport: u16,
    dport: u16,
    flags: u8,
    seq: u32,
    ack: u32,
    payload: &'a [u8],
}

fn parse(pkt: &[u8]) -> Option<Parsed<'_>> {
    if pkt.len() < 20 || pkt[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]])).min(pkt.len());
    let protocol = pkt[9];
    let src = Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]);
    let dst = Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]);
    let l4 = pkt.get(ihl..total)?;
    match protocol {
        6 => {
            let off = usize::from(*l4.get(12)? >> 4) * 4;
            Some(Parsed {
                src,
                dst,
                protocol,
                sport: u16::from_be_bytes([l4[0], l4[1]]),
                dport: u16::from_be_bytes([l4[2], l4[3]]),
                flags: l4[13],
                seq: u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]),
                ack: u32::from_be_bytes([l4[8], l4[9], l4[10], l4[11]]),
                payload: l4.get(off..).unwrap_or_default(),
            })
        }
        17 => Some(Parsed {
            src,
            dst,
            protocol,
            sport: u16::from_be_bytes([*l4.first()?, *l4.get(1)?]),
            dport: u16::from_be_bytes([*l4.get(2)?, *l4.get(3)?]),
            flags: 0,
            seq: 0,
            ack: 0,
            payload: l4.get(8..).unwrap_or_default(),
        }),
        _ => Some(Parsed {
            src,
            dst,
            protocol,
            sport: 0,
            dport: 0,
            flags: 0,
            seq: 0,
            ack: 0,
            payload: &[],
        }),
    }
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

fn checksum(data: &[u8], initial: u32) -> u16 {
    let mut sum = initial;
    for chunk in data.chunks(2) {
        let word = if chunk.len() == 2 {
            u16::from_be_bytes([chunk[0], chunk[1]])
        } else {
            u16::from_be_bytes([chunk[0], 0])
        };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A TCP RST (with ACK) from `src:sport` to `dst:dport`.
pub fn tcp_rst(
    src: Ipv4Addr,
    sport: u16,
    dst: Ipv4Addr,
    dport: u16,
    seq: u32,
    ack: u32,
) -> Vec<u8> {
    let mut tcp = vec![0u8; 20];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&dport.to_be_bytes());
    tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    tcp[8..12].copy_from_slice(&ack.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = RST | ACK;
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&[0, 6, 0, 20]);
    let mut sum = 0u32;
    for c in pseudo.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    let c = checksum(&tcp, sum);
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0];
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let c = checksum(&ip, 0);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&tcp);
    ip
}

impl Engine {
    pub fn new(policy: Policy) -> Self {
        Engine {
            policy,
            flows: std::collections::HashMap::new(),
        }
    }

    /// Replaces the policy (a changed policy file); flows decided so far keep their verdict.
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    pub fn process(&mut self, pkt: &[u8]) -> Outcome {
        let pass = |note: Option<String>| Outcome {
            send: vec![pkt.to_vec()],
            note,
        };
        let drop = |note: String| Outcome {
            send: Vec::new(),
            note: Some(note),
        };
        let Some(p) = parse(pkt) else {
            return pass(None);
        };
        if !matches!(p.protocol, 1 | 6 | 17) {
            return pass(None);
        }
        let fwd = Flow {
            src: p.src,
            dst: p.dst,
            protocol: p.protocol,
            src_port: p.sport,
            dst_port: p.dport,
        };
        let rev = Flow {
            src: p.dst,
            dst: p.src,
            protocol: p.protocol,
            src_port: p.dport,
            dst_port: p.sport,
        };
        let new_tcp = p.protocol == 6 && p.flags & SYN != 0 && p.flags & ACK == 0;
        let (flow, from_client) = if new_tcp {
            self.flows.remove(&fwd);
            (fwd, true)
        } else if self.flows.contains_key(&fwd) {
            (fwd, true)
        } else if self.flows.contains_key(&rev) {
            (rev, false)
        } else if p.protocol == 6 {
            return drop(format!(
                "drop {}:{} > {}:{} flags {:#04x}: no flow (stateful, no mid-stream pickup)",
                p.src, p.sport, p.dst, p.dport, p.flags
            ));
        } else {
            (fwd, true)
        };
        let rst_to_client = || {
            let data = p.payload.len() as u32
                + u32::from(p.flags & SYN != 0)
                + u32::from(p.flags & FIN != 0);
            tcp_rst(
                p.dst,
                p.dport,
                p.src,
                p.sport,
                p.ack,
                p.seq.wrapping_add(data),
            )
        };
        let state = match self.flows.get(&flow) {
            Some(s) => *s,
            None => {
                let decided = self.policy.on_connect(&flow);
                let state = match decided {
                    Some(v) => FlowState::Decided(v),
                    None if p.protocol != 6 => FlowState::Decided(Verdict::Pass),
                    None => FlowState::Undecided,
                };
                self.flows.insert(flow, state);
                if let FlowState::Decided(v) = state
                    && v != Verdict::Pass
                {
                    let note = format!("{v:?} {flow:?} at connect");
                    if v == Verdict::Reject && p.protocol == 6 {
                        return Outcome {
                            send: vec![rst_to_client()],
                            note: Some(note),
                        };
                    }
                    return drop(note);
                }
                return pass(None);
            }
        };
        match state {
            FlowState::Decided(Verdict::Pass) => pass(None),
            FlowState::Decided(Verdict::Drop) => drop(format!("drop {flow:?}")),
            FlowState::Decided(Verdict::Reject) => {
                if from_client && p.protocol == 6 && p.flags & RST == 0 {
                    Outcome {
                        send: vec![rst_to_client()],
                        note: Some(format!("reject {flow:?}")),
                    }
                } else {
                    drop(format!("reject {flow:?}"))
                }
            }
            FlowState::Undecided => {
                if !from_client || p.payload.is_empty() {
                    return pass(None);
                }
                let app = classify_payload(p.payload);
                let v = self.policy.on_payload(&flow, &app);
                self.flows.insert(flow, FlowState::Decided(v));
                let note = format!("{v:?} {flow:?} at {app:?}");
                match v {
                    Verdict::Pass => pass(Some(note)),
                    Verdict::Drop => drop(note),
                    Verdict::Reject => Outcome {
                        send: vec![rst_to_client()],
                        note: Some(note),
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(policy: Value, groups: Value) -> Value {
        json!({ "firewall": "fw", "policy": policy, "rule_groups": groups, "vpc_cidrs": ["10.200.0.0/16"] })
    }

    fn flow(dst_port: u16) -> Flow {
        Flow {
            src: "10.0.1.10".parse().unwrap(),
            dst: "203.0.113.10".parse().unwrap(),
            protocol: 6,
            src_port: 40000,
            dst_port,
        }
    }

    fn allowlist(home: Option<&[&str]>) -> Value {
        let g = super::super::nfw::domain_list_group(
            "a",
            &[".allowed.example"],
            &["TLS_SNI", "HTTP_HOST"],
            "ALLOWLIST",
            None,
        );
        let p = super::super::nfw::policy("p", &[&g], false, &[], home);
        view(
            p.policy,
            json!({ super::super::nfw::rule_group_arn("a", "STATEFUL"): { "rule_group": g.rule_group } }),
        )
    }

    #[test]
    fn allowlist_lets_the_handshake_through_and_drops_other_names_r51_r53() {
        let p = Policy::from_view(&allowlist(Some(&["10.0.0.0/8"]))).unwrap();
        let f = flow(443);
        assert_eq!(p.on_connect(&f), None, "TCP handshake passes");
        assert_eq!(
            p.on_payload(&f, &App::Tls(Some("www.lab.example".into()))),
            Verdict::Drop
        );
        assert_eq!(
            p.on_payload(&f, &App::Tls(Some("api.allowed.example".into()))),
            Verdict::Pass
        );
        assert_eq!(
            p.on_payload(&f, &App::Http(Some("allowed.example".into()))),
            Verdict::Pass
        );
        assert_eq!(p.on_payload(&f, &App::Other), Verdict::Pass, "not TLS/HTTP");
    }

    #[test]
    fn allowlist_does_not_apply_outside_home_net_r52() {
        // HOME_NET defaults to the firewall VPC (10.200.0.0/16): the workload is outside.
        let p = Policy::from_view(&allowlist(None)).unwrap();
        assert_eq!(
            p.on_payload(&flow(443), &App::Tls(Some("www.lab.example".into()))),
            Verdict::Pass
        );
    }

    #[test]
    fn reject_tls_rule_resets_after_the_handshake_and_tcp_rules_decide_at_connect() {
        let g = super::super::nfw::stateful_rules_group(
            "r",
            vec![
                super::super::nfw::stateful_rule("REJECT", "TLS", "ANY", "443", 1),
                super::super::nfw::stateful_rule("DROP", "TCP", "203.0.113.0/24", "8443", 2),
            ],
        );
        let pol = super::super::nfw::policy("p", &[&g], false, &[], None);
        let p = Policy::from_view(&view(
            pol.policy,
            json!({ super::super::nfw::rule_group_arn("r", "STATEFUL"): { "rule_group": g.rule_group } }),
        ))
        .unwrap();
        assert_eq!(p.on_connect(&flow(443)), None);
        assert_eq!(
            p.on_payload(&flow(443), &App::Tls(Some("x".into()))),
            Verdict::Reject
        );
        assert_eq!(p.on_connect(&flow(8443)), Some(Verdict::Drop));
        assert_eq!(p.on_connect(&flow(80)), None);
        assert_eq!(
            p.on_payload(&flow(80), &App::Http(Some("x".into()))),
            Verdict::Pass
        );
    }

    #[test]
    fn strict_order_defaults_r50() {
        let g = super::super::nfw::domain_list_group(
            "a",
            &["www.lab.example"],
            &["TLS_SNI"],
            "ALLOWLIST",
            Some(&["10.0.0.0/8"]),
        );
        let groups = json!({ super::super::nfw::rule_group_arn("a", "STATEFUL"): { "rule_group": g.rule_group } });
        let est = super::super::nfw::policy("p", &[&g], true, &["aws:drop_established"], None);
        let p = Policy::from_view(&view(est.policy, groups.clone())).unwrap();
        assert_eq!(p.on_connect(&flow(443)), None);
        assert_eq!(
            p.on_payload(&flow(443), &App::Tls(Some("www.lab.example".into()))),
            Verdict::Pass
        );
        assert_eq!(p.on_payload(&flow(443), &App::Other), Verdict::Drop);
        let udp = Flow {
            protocol: 17,
            ..flow(53)
        };
        assert_eq!(p.on_connect(&udp), Some(Verdict::Drop));
        let all = super::super::nfw::policy("p", &[&g], true, &["aws:drop_strict"], None);
        let p = Policy::from_view(&view(all.policy, groups)).unwrap();
        assert_eq!(p.on_connect(&flow(443)), Some(Verdict::Drop));
    }

    fn tcp_packet(
        src: &str,
        sport: u16,
        dst: &str,
        dport: u16,
        flags: u8,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut p = tcp_rst(
            src.parse().unwrap(),
            sport,
            dst.parse().unwrap(),
            dport,
            1000,
            0,
        );
        p[33] = flags;
        p.extend_from_slice(payload);
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        p
    }

    #[test]
    fn engine_keeps_state_drops_midstream_and_resets_on_reject() {
        let g = super::super::nfw::stateful_rules_group(
            "r",
            vec![super::super::nfw::stateful_rule(
                "REJECT", "TLS", "ANY", "443", 1,
            )],
        );
        let pol = super::super::nfw::policy("p", &[&g], false, &[], None);
        let policy = Policy::from_view(&view(
            pol.policy,
            json!({ super::super::nfw::rule_group_arn("r", "STATEFUL"): { "rule_group": g.rule_group } }),
        ))
        .unwrap();
        let mut e = Engine::new(policy);
        // A SYN-ACK of a flow never seen: dropped (R44/R48).
        let stray = tcp_packet("203.0.113.10", 443, "10.0.1.10", 40000, SYN | ACK, b"");
        assert!(e.process(&stray).send.is_empty());
        let syn = tcp_packet("10.0.1.10", 40000, "203.0.113.10", 443, SYN, b"");
        assert_eq!(e.process(&syn).send, vec![syn.clone()]);
        let synack = tcp_packet("203.0.113.10", 443, "10.0.1.10", 40000, SYN | ACK, b"");
        assert_eq!(e.process(&synack).send, vec![synack.clone()]);
        let hello = tcp_packet(
            "10.0.1.10",
            40000,
            "203.0.113.10",
            443,
            ACK,
            &[0x16, 3, 1, 0, 0],
        );
        let out = e.process(&hello);
        assert_eq!(out.send.len(), 1);
        let rst = &out.send[0];
        assert_eq!(
            &rst[12..16],
            &[203, 0, 113, 10],
            "from the server's address"
        );
        assert_eq!(&rst[16..20], &[10, 0, 1, 10], "to the client");
        assert_eq!(rst[33], RST | ACK);
        assert_eq!(checksum(&rst[..20], 0), 0, "IP checksum");
    }

    #[test]
    fn no_firewall_forwards_everything() {
        let p = Policy::from_view(&json!({"policy": null})).unwrap();
        assert_eq!(p.on_connect(&flow(1)), Some(Verdict::Pass));
    }

    #[test]
    fn names_and_payloads() {
        assert!(name_matches(".lab.example", "www.lab.example"));
        assert!(name_matches(".lab.example", "LAB.example."));
        assert!(!name_matches(".lab.example", "badlab.example"));
        assert!(!name_matches("lab.example", "www.lab.example"));
        assert_eq!(
            classify_payload(b"GET / HTTP/1.1\r\nHost: www.lab.example:80\r\n\r\n"),
            App::Http(Some("www.lab.example".into()))
        );
        assert_eq!(classify_payload(b"SSH-2.0-x"), App::Other);
        // A minimal ClientHello with SNI "a.example".
        let name = b"a.example";
        let mut sni = vec![0, 0];
        let list_len = (name.len() + 3) as u16;
        let mut ext_body = list_len.to_be_bytes().to_vec();
        ext_body.push(0);
        ext_body.extend_from_slice(&(name.len() as u16).to_be_bytes());
        ext_body.extend_from_slice(name);
        sni.extend_from_slice(&(ext_body.len() as u16).to_be_bytes());
        sni.extend_from_slice(&ext_body);
        let mut hello = vec![3, 3];
        hello.extend_from_slice(&[0u8; 32]);
        hello.push(0); // session id
        hello.extend_from_slice(&[0, 2, 0x13, 0x01]); // one suite
        hello.extend_from_slice(&[1, 0]); // compression
        hello.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        hello.extend_from_slice(&sni);
        let mut hs = vec![1, 0];
        hs.extend_from_slice(&(hello.len() as u16).to_be_bytes());
        hs.extend_from_slice(&hello);
        let mut rec = vec![0x16, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        assert_eq!(classify_payload(&rec), App::Tls(Some("a.example".into())));
        assert_eq!(classify_payload(&rec[..20]), App::Tls(None));
    }
}
