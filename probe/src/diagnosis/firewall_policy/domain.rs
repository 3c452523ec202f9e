//! Domain-list rule groups (R51): Network Firewall compiles `Targets` × `TargetTypes` ×
//! `GeneratedRulesType` into Suricata rules; this module writes the same rules so they are
//! evaluated by the one Suricata matcher. Matching is on the TLS SNI / HTTP Host only, for
//! flows from `$HOME_NET` to `$EXTERNAL_NET` (R52); non-TLS/HTTP flows are not touched.

/// The list kind (`GeneratedRulesType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListKind {
    Allow,
    Deny,
    Reject,
    Alert,
}

impl ListKind {
    pub(crate) fn parse(s: &str) -> Option<ListKind> {
        match s {
            "ALLOWLIST" => Some(ListKind::Allow),
            "DENYLIST" => Some(ListKind::Deny),
            "REJECTLIST" => Some(ListKind::Reject),
            "ALERTLIST" => Some(ListKind::Alert),
            _ => None,
        }
    }
    pub(crate) fn word(self) -> &'static str {
        match self {
            ListKind::Allow => "allowlist",
            ListKind::Deny => "denylist",
            ListKind::Reject => "rejectlist",
            ListKind::Alert => "alertlist",
        }
    }
}

/// `TLS_SNI` / `HTTP_HOST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetType {
    TlsSni,
    HttpHost,
}

impl TargetType {
    pub(crate) fn parse(s: &str) -> Option<TargetType> {
        match s {
            "TLS_SNI" => Some(TargetType::TlsSni),
            "HTTP_HOST" => Some(TargetType::HttpHost),
            _ => None,
        }
    }
    pub(crate) fn label(self) -> &'static str {
        match self {
            TargetType::TlsSni => "TLS",
            TargetType::HttpHost => "HTTP",
        }
    }
}

/// A target is a host name, optionally with a leading `.` (the domain and all subdomains).
fn valid_target(t: &str) -> bool {
    let name = t.strip_prefix('.').unwrap_or(t);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// True when `name` is matched by `target` the way the generated rules match (R51):
/// `.example.com` matches `example.com` and any subdomain; otherwise the exact name.
/// Case-insensitive.
pub(crate) fn target_matches(target: &str, name: &str) -> bool {
    let (t, n) = (target.to_ascii_lowercase(), name.to_ascii_lowercase());
    match t.strip_prefix('.') {
        Some(base) => n == base || n.ends_with(&t),
        None => n == t,
    }
}

/// The Suricata rules generated for one domain list, in the order Network Firewall writes
/// them (allowlist: one `pass` per target and type, then one `drop` per type). Sids are
/// numbered from 1. `Err` names a target or setting that cannot be compiled.
pub(crate) fn generated_rules(
    targets: &[String],
    target_types: &[String],
    kind: &str,
) -> Result<Vec<String>, String> {
    let kind =
        ListKind::parse(kind).ok_or_else(|| format!("GeneratedRulesType `{kind}` is not known"))?;
    let types = target_types
        .iter()
        .map(|t| TargetType::parse(t).ok_or_else(|| format!("TargetType `{t}` is not known")))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(bad) = targets.iter().find(|t| !valid_target(t)) {
        return Err(format!("target `{bad}` is not a domain name"));
    }
    let mut out = Vec::new();
    let mut sid = 0u32;
    let mut next = || {
        sid += 1;
        sid
    };
    let action = match kind {
        ListKind::Allow => "pass",
        ListKind::Deny => "drop",
        ListKind::Reject => "reject",
        ListKind::Alert => "alert",
    };
    for ty in &types {
        let (proto, buffer, case) = match ty {
            TargetType::TlsSni => ("tls", "tls.sni", " nocase;"),
            // http.host is normalised to lower case; the content must be lower case too.
            TargetType::HttpHost => ("http", "http.host", ""),
        };
        for t in targets {
            let t = t.to_ascii_lowercase();
            let matcher = if t.starts_with('.') {
                format!("{buffer}; dotprefix; content:\"{t}\";{case} endswith;")
            } else {
                format!("{buffer}; content:\"{t}\";{case} startswith; endswith;")
            };
            out.push(format!(
                "{action} {proto} $HOME_NET any -> $EXTERNAL_NET any ({matcher} \
                 msg:\"matching {label} {word}ed FQDNs\"; flow:to_server, established; \
                 sid:{sid}; rev:1;)",
                label = ty.label(),
                word = kind.word(),
                sid = next(),
            ));
        }
    }
    if kind == ListKind::Allow {
        for ty in &types {
            let (proto, extra) = match ty {
                // R51: the TLS drop acts on the ClientHello of the established flow.
                TargetType::TlsSni => ("tls", " ssl_state:client_hello;"),
                TargetType::HttpHost => ("http", ""),
            };
            out.push(format!(
                "drop {proto} $HOME_NET any -> $EXTERNAL_NET any (msg:\"not matching any \
                 {label} allowlisted FQDNs\"; flow:to_server, established;{extra} \
                 sid:{sid}; rev:1;)",
                label = ty.label(),
                sid = next(),
            ));
        }
    }
    Ok(out)
}
