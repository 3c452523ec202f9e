//! Suricata address and port expressions (R51, R52): `any`, addresses and CIDRs, port
//! numbers and ranges `a:b`, `[lists]`, `!negation` and `$VARIABLES`, as used by rule
//! headers, `StatefulRules` and rule-group variables.

use ipnet::IpNet;
use std::net::IpAddr;

/// Deepest nesting of `[…]` and `!` accepted; deeper input is refused, not recursed into.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AddrExpr {
    Any,
    Net(IpNet),
    Var(String),
    Not(Box<AddrExpr>),
    List(Vec<AddrExpr>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PortExpr {
    Any,
    /// Inclusive range; a single port is `from == to`.
    Range(u16, u16),
    Var(String),
    Not(Box<PortExpr>),
    List(Vec<PortExpr>),
}

/// Variable definitions visible to one rule group (R52).
pub(crate) trait Vars {
    fn ip(&self, name: &str) -> Option<AddrExpr>;
    fn port(&self, name: &str) -> Option<PortExpr>;
}

/// Splits a `[a, b, [c, d]]` body at top-level commas.
fn split_list(inner: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("unbalanced `]` in `{inner}`"))?
            }
            ',' if depth == 0 => {
                parts.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced `[` in `{inner}`"));
    }
    parts.push(inner[start..].trim());
    Ok(parts)
}

/// The body of a `[…]` list, when `s` is one list as a whole.
fn list_body(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    // `[a] , [b]` is not one list: the first `[` must close at the very end.
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 && i != s.len() - 1 {
                    return None;
                }
            }
            _ => {}
        }
    }
    Some(inner)
}

fn var_name(s: &str) -> Result<String, String> {
    let name = s.strip_prefix('$').unwrap_or(s);
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("bad variable name `{s}`"));
    }
    Ok(name.to_string())
}

impl AddrExpr {
    pub(crate) fn parse(s: &str) -> Result<AddrExpr, String> {
        Self::parse_at(s.trim(), 0)
    }

    fn parse_at(s: &str, depth: usize) -> Result<AddrExpr, String> {
        if depth > MAX_DEPTH {
            return Err("address expression nested too deeply".into());
        }
        if s.is_empty() {
            return Err("empty address".into());
        }
        if let Some(rest) = s.strip_prefix('!') {
            return Ok(AddrExpr::Not(Box::new(Self::parse_at(
                rest.trim(),
                depth + 1,
            )?)));
        }
        if let Some(inner) = list_body(s) {
            let items = split_list(inner)?
                .into_iter()
                .map(|p| Self::parse_at(p, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(AddrExpr::List(items));
        }
        if s.eq_ignore_ascii_case("any") {
            return Ok(AddrExpr::Any);
        }
        if s.starts_with('$') {
            return Ok(AddrExpr::Var(var_name(s)?));
        }
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(AddrExpr::Net(net));
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(AddrExpr::Net(IpNet::from(ip)));
        }
        Err(format!("`{s}` is not an address, CIDR, list or variable"))
    }

    /// True when `ip` is in the expression; `Err` names an undefined variable.
    pub(crate) fn matches(&self, ip: IpAddr, vars: &dyn Vars) -> Result<bool, String> {
        self.matches_at(ip, vars, 0)
    }

    fn matches_at(&self, ip: IpAddr, vars: &dyn Vars, depth: usize) -> Result<bool, String> {
        if depth > MAX_DEPTH {
            return Err("variables refer to each other too deeply".into());
        }
        Ok(match self {
            AddrExpr::Any => true,
            AddrExpr::Net(n) => n.contains(&ip),
            AddrExpr::Var(v) => vars
                .ip(v)
                .ok_or_else(|| format!("variable ${v} is not defined"))?
                .matches_at(ip, vars, depth + 1)?,
            AddrExpr::Not(e) => !e.matches_at(ip, vars, depth + 1)?,
            AddrExpr::List(items) => {
                // Suricata: a list matches what any positive item matches (everything when
                // it has none) minus what any negated item matches.
                let mut any_positive = false;
                let mut positive_hit = false;
                for item in items {
                    match item {
                        AddrExpr::Not(inner) => {
                            if inner.matches_at(ip, vars, depth + 1)? {
                                return Ok(false);
                            }
                        }
                        other => {
                            any_positive = true;
                            positive_hit |= other.matches_at(ip, vars, depth + 1)?;
                        }
                    }
                }
                positive_hit || !any_positive
            }
        })
    }
}

/// A set of ports as sorted, disjoint inclusive ranges.
type PortSet = Vec<(u16, u16)>;

fn normalise(mut v: PortSet) -> PortSet {
    v.sort_unstable();
    let mut out: PortSet = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn complement(v: &[(u16, u16)]) -> PortSet {
    let mut out = Vec::new();
    let mut next: u32 = 0;
    for &(a, b) in v {
        if u32::from(a) > next {
            out.push((next as u16, a - 1));
        }
        next = u32::from(b) + 1;
    }
    if next <= 65535 {
        out.push((next as u16, 65535));
    }
    out
}

fn intersect(a: &[(u16, u16)], b: &[(u16, u16)]) -> PortSet {
    let mut out = Vec::new();
    for &(a1, a2) in a {
        for &(b1, b2) in b {
            let (lo, hi) = (a1.max(b1), a2.min(b2));
            if lo <= hi {
                out.push((lo, hi));
            }
        }
    }
    normalise(out)
}

fn parse_port(s: &str) -> Result<u16, String> {
    s.trim()
        .parse::<u16>()
        .map_err(|_| format!("`{s}` is not a port number"))
}

/// How a port expression relates to the ports a packet may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PortMatch {
    All,
    None,
    Some,
}

impl PortExpr {
    pub(crate) fn parse(s: &str) -> Result<PortExpr, String> {
        Self::parse_at(s.trim(), 0)
    }

    fn parse_at(s: &str, depth: usize) -> Result<PortExpr, String> {
        if depth > MAX_DEPTH {
            return Err("port expression nested too deeply".into());
        }
        if s.is_empty() {
            return Err("empty port".into());
        }
        if let Some(rest) = s.strip_prefix('!') {
            return Ok(PortExpr::Not(Box::new(Self::parse_at(
                rest.trim(),
                depth + 1,
            )?)));
        }
        if let Some(inner) = list_body(s) {
            let items = split_list(inner)?
                .into_iter()
                .map(|p| Self::parse_at(p, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(PortExpr::List(items));
        }
        if s.eq_ignore_ascii_case("any") {
            return Ok(PortExpr::Any);
        }
        if s.starts_with('$') {
            return Ok(PortExpr::Var(var_name(s)?));
        }
        if let Some((a, b)) = s.split_once(':') {
            let from = if a.trim().is_empty() {
                0
            } else {
                parse_port(a)?
            };
            let to = if b.trim().is_empty() {
                65535
            } else {
                parse_port(b)?
            };
            if from > to {
                return Err(format!("port range `{s}` is empty"));
            }
            return Ok(PortExpr::Range(from, to));
        }
        let p = parse_port(s)?;
        Ok(PortExpr::Range(p, p))
    }

    fn set(&self, vars: &dyn Vars, depth: usize) -> Result<PortSet, String> {
        if depth > MAX_DEPTH {
            return Err("variables refer to each other too deeply".into());
        }
        Ok(match self {
            PortExpr::Any => vec![(0, 65535)],
            PortExpr::Range(a, b) => vec![(*a, *b)],
            PortExpr::Var(v) => vars
                .port(v)
                .ok_or_else(|| format!("variable ${v} is not defined"))?
                .set(vars, depth + 1)?,
            PortExpr::Not(e) => complement(&e.set(vars, depth + 1)?),
            PortExpr::List(items) => {
                let mut pos = Vec::new();
                let mut neg = Vec::new();
                let mut any_positive = false;
                for item in items {
                    match item {
                        PortExpr::Not(inner) => neg.extend(inner.set(vars, depth + 1)?),
                        other => {
                            any_positive = true;
                            pos.extend(other.set(vars, depth + 1)?);
                        }
                    }
                }
                let pos = if any_positive {
                    normalise(pos)
                } else {
                    vec![(0, 65535)]
                };
                intersect(&pos, &complement(&normalise(neg)))
            }
        })
    }

    /// Whether the expression covers all, none or some of `from..=to` (the ports a packet
    /// may carry: one port, or the ephemeral range when the source port is not known).
    pub(crate) fn covers(&self, from: u16, to: u16, vars: &dyn Vars) -> Result<PortMatch, String> {
        let set = normalise(self.set(vars, 0)?);
        let hit = intersect(&set, &[(from, to)]);
        Ok(if hit.is_empty() {
            PortMatch::None
        } else if hit == [(from, to)] {
            PortMatch::All
        } else {
            PortMatch::Some
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct V(BTreeMap<&'static str, &'static str>);
    impl Vars for V {
        fn ip(&self, name: &str) -> Option<AddrExpr> {
            self.0.get(name).and_then(|s| AddrExpr::parse(s).ok())
        }
        fn port(&self, name: &str) -> Option<PortExpr> {
            self.0.get(name).and_then(|s| PortExpr::parse(s).ok())
        }
    }

    fn vars() -> V {
        V(BTreeMap::from([
            ("HOME_NET", "[10.0.0.0/16, 10.1.0.0/16]"),
            ("EXTERNAL_NET", "!$HOME_NET"),
            ("HTTP_PORTS", "[80, 8080]"),
        ]))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn address_expressions() {
        let v = vars();
        let cases = [
            ("any", "192.0.2.1", true),
            ("10.0.0.0/16", "10.0.3.4", true),
            ("10.0.0.0/16", "10.2.3.4", false),
            ("10.0.3.4", "10.0.3.4", true),
            ("!10.0.0.0/8", "192.0.2.1", true),
            ("!10.0.0.0/8", "10.0.0.1", false),
            ("[10.0.0.0/8, !10.1.0.0/16]", "10.1.0.1", false),
            ("[10.0.0.0/8, !10.1.0.0/16]", "10.2.0.1", true),
            ("[!10.0.0.0/8]", "198.51.100.1", true),
            ("$HOME_NET", "10.1.2.3", true),
            ("$HOME_NET", "10.9.2.3", false),
            ("$EXTERNAL_NET", "203.0.113.9", true),
            ("$EXTERNAL_NET", "10.0.0.9", false),
            ("[$HOME_NET, 192.0.2.0/24]", "192.0.2.7", true),
            ("![10.0.0.0/8, 192.0.2.0/24]", "192.0.2.7", false),
            ("2001:db8::/32", "2001:db8::1", true),
            ("2001:db8::/32", "10.0.0.1", false),
        ];
        for (expr, addr, want) in cases {
            let e = AddrExpr::parse(expr);
            assert!(e.is_ok(), "{expr}: {e:?}");
            let got = e.map(|e| e.matches(ip(addr), &v));
            assert_eq!(got, Ok(Ok(want)), "{expr} vs {addr}");
        }
    }

    #[test]
    fn undefined_variable_is_named_not_guessed() {
        let e = AddrExpr::parse("$DNS_SERVERS").map(|e| e.matches(ip("10.0.0.1"), &vars()));
        assert_eq!(
            e,
            Ok(Err("variable $DNS_SERVERS is not defined".to_string()))
        );
    }

    #[test]
    fn bad_addresses_are_errors() {
        for s in [
            "",
            "[10.0.0.0/8",
            "10.0.0.0/8]",
            "300.1.1.1",
            "$",
            "$A-B",
            "foo",
        ] {
            assert!(AddrExpr::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn port_expressions() {
        let v = vars();
        use PortMatch::*;
        let cases = [
            ("any", 443, 443, All),
            ("443", 443, 443, All),
            ("443", 80, 80, None),
            ("1024:65535", 1024, 65535, All),
            ("1024:", 2000, 2000, All),
            (":1023", 1024, 65535, None),
            ("[80, 443]", 443, 443, All),
            ("!443", 443, 443, None),
            ("!443", 80, 80, All),
            ("[1:1000, !500]", 500, 500, None),
            ("[1:1000, !500]", 499, 499, All),
            ("[!22]", 22, 22, None),
            ("$HTTP_PORTS", 8080, 8080, All),
            ("$HTTP_PORTS", 443, 443, None),
            ("32768:60999", 1024, 65535, Some),
            ("![$HTTP_PORTS, 443]", 1024, 65535, Some),
        ];
        for (expr, from, to, want) in cases {
            let e = PortExpr::parse(expr);
            assert!(e.is_ok(), "{expr}: {e:?}");
            let got = e.map(|e| e.covers(from, to, &v));
            assert_eq!(got, Ok(Ok(want)), "{expr} vs {from}-{to}");
        }
    }

    #[test]
    fn bad_ports_are_errors() {
        for s in ["", "65536", "80:70", "[80", "http", "-1"] {
            assert!(PortExpr::parse(s).is_err(), "{s}");
        }
    }
}
