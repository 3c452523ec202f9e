//! The contract between the probe and whatever deploys it (the `egress-probe` installer,
//! `template.yaml`, the cargo-lambda metadata): the target syntax, the default targets,
//! the `EGRESS_PROBE_*` variables, the diagnose modes and the on-demand event. This module
//! is the only owner of each: the probe reads its environment and events through it and
//! the installer writes environments and events through it, so whatever one accepts the
//! other accepts (issue 12, item 18).
//!
//! Target syntax (one target; a list separates them by commas or white space):
//!
//! - `dns:NAME` — resolve a host name (not an address);
//! - `tcp://HOST:PORT` — connect (IPv6 in brackets: `tcp://[2001:db8::1]:443`);
//! - `https://HOST[:PORT][/PATH]` — connect, TLS handshake, one GET (no credentials).

use crate::config::ConfigError;
use crate::model::{DiagnoseMode, Target};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

/// Environment variable names (the documented settings).
pub mod env {
    pub const TARGETS: &str = "EGRESS_PROBE_TARGETS";
    pub const DNS_TIMEOUT_MS: &str = "EGRESS_PROBE_DNS_TIMEOUT_MS";
    pub const CONNECT_TIMEOUT_MS: &str = "EGRESS_PROBE_CONNECT_TIMEOUT_MS";
    pub const HTTPS_TIMEOUT_MS: &str = "EGRESS_PROBE_HTTPS_TIMEOUT_MS";
    pub const DIAGNOSE: &str = "EGRESS_PROBE_DIAGNOSE";
    pub const ANALYSIS_BUDGET_MS: &str = "EGRESS_PROBE_ANALYSIS_BUDGET_MS";
    pub const SAFETY_MARGIN_MS: &str = "EGRESS_PROBE_SAFETY_MARGIN_MS";
    pub const METRIC_NAMESPACE: &str = "EGRESS_PROBE_METRIC_NAMESPACE";
    pub const SUBNET_ID: &str = "EGRESS_PROBE_SUBNET_ID";
    pub const AZ: &str = "EGRESS_PROBE_AZ";
    pub const AZ_ID: &str = "EGRESS_PROBE_AZ_ID";
    pub const VPC_ID: &str = "EGRESS_PROBE_VPC_ID";
    pub const SECURITY_GROUP_IDS: &str = "EGRESS_PROBE_SECURITY_GROUP_IDS";
    pub const EXTRA_CA_FILE: &str = "EGRESS_PROBE_EXTRA_CA_FILE";
    pub const RESOLV_CONF: &str = "EGRESS_PROBE_RESOLV_CONF";
    /// IAM role ARN to assume in the network account (transit gateway, egress VPC,
    /// firewall), R45.
    pub const NETWORK_ROLE: &str = "EGRESS_PROBE_NETWORK_ROLE";
    /// Every variable above: the only ones the probe reads and ever echoes.
    pub const ALL: &[&str] = &[
        TARGETS,
        DNS_TIMEOUT_MS,
        CONNECT_TIMEOUT_MS,
        HTTPS_TIMEOUT_MS,
        DIAGNOSE,
        ANALYSIS_BUDGET_MS,
        SAFETY_MARGIN_MS,
        METRIC_NAMESPACE,
        SUBNET_ID,
        AZ,
        AZ_ID,
        VPC_ID,
        SECURITY_GROUP_IDS,
        EXTRA_CA_FILE,
        RESOLV_CONF,
        NETWORK_ROLE,
    ];
}

/// Most targets one invocation may check.
pub const MAX_TARGETS: usize = 32;
/// Longest single target (a URL longer than this is not a health check).
pub const MAX_TARGET_LEN: usize = 2048;
/// The diagnose mode when none is set.
pub const DEFAULT_DIAGNOSE: DiagnoseMode = DiagnoseMode::OnFailure;
pub const DEFAULT_METRIC_NAMESPACE: &str = "EgressProbe";
/// Region of the default targets when the probe does not know its own.
pub const FALLBACK_REGION: &str = "us-east-1";
/// Longest piece of an input quoted back in an error message.
const QUOTE_MAX: usize = 60;

/// A value that does not follow the contract; the message names what to fix and quotes
/// the input cut short with any URL credentials hidden.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SettingError {
    pub message: String,
}

impl SettingError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// An input as error messages show it: credentials of a URL replaced by `***`, control
/// characters escaped, at most `QUOTE_MAX` characters, in backquotes.
pub fn quote(input: &str) -> String {
    let mut shown = input.to_string();
    // Credentials (`user:password@`) are hidden in URLs and also where there is no `//`
    // (`dns:user:pw@host`, a bare `user:pw@host`): everything before the last `@` of the
    // authority-like part.
    let start = shown.find("://").map_or(0, |i| i + 3);
    let authority_end = shown[start..]
        .find(['/', '?', '#'])
        .map_or(shown.len(), |i| start + i);
    if let Some(at) = shown[start..authority_end].rfind('@') {
        shown.replace_range(start..start + at, "***");
    }
    let mut out = String::new();
    for (n, c) in shown.chars().enumerate() {
        if n == QUOTE_MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    format!("`{out}`")
}

/// Parses one target: `dns:name`, `tcp://host:port` or `https://host[:port][/path]`.
pub fn parse_target(s: &str) -> Result<Target, SettingError> {
    let s = s.trim();
    let err = |m: String| SettingError::new(format!("{}: {m}", quote(s)));
    if s.is_empty() {
        return Err(SettingError::new(
            "empty target: expected dns:name, tcp://host:port or https://url",
        ));
    }
    if s.len() > MAX_TARGET_LEN {
        return Err(err(format!(
            "{} bytes long; a target has at most {MAX_TARGET_LEN}",
            s.len()
        )));
    }
    if s.contains(|c: char| c == ',' || c.is_whitespace()) {
        return Err(err(
            "commas and spaces separate targets in EGRESS_PROBE_TARGETS: name one target per value (in a URL write %2C and %20)".into(),
        ));
    }
    if let Some(name) = s.strip_prefix("dns:") {
        let name = name.trim_start_matches("//");
        validate_host(name).map_err(err)?;
        if name.parse::<IpAddr>().is_ok() {
            return Err(err(
                "dns: needs a host name, not an address (to check a path to an address use tcp://ADDRESS:PORT)".into(),
            ));
        }
        return Ok(Target::Dns {
            name: name.trim_end_matches('.').to_ascii_lowercase(),
        });
    }
    if let Some(rest) = s.strip_prefix("tcp://") {
        let rest = rest.trim_end_matches('/');
        let (host, port) = split_host_port(rest).map_err(err)?;
        let port = port.ok_or_else(|| err("a port is required (tcp://host:port)".into()))?;
        return Ok(Target::Tcp { host, port });
    }
    if s.starts_with("https://") {
        let uri: http::Uri = s
            .parse()
            .map_err(|e| err(format!("not a valid URL ({e})")))?;
        let authority = uri.authority().ok_or_else(|| err("missing host".into()))?;
        if authority.as_str().contains('@') {
            return Err(err("credentials in URLs are not accepted".into()));
        }
        let (host, port) = split_host_port(authority.as_str()).map_err(err)?;
        return Ok(Target::Https {
            url: s.to_string(),
            host,
            port: port.unwrap_or(443),
        });
    }
    if s.starts_with("http://") {
        return Err(err(
            "plain http is not checked; use https:// or tcp://host:80".into(),
        ));
    }
    Err(err(
        "expected dns:name, tcp://host:port or https://url".into()
    ))
}

impl FromStr for Target {
    type Err = SettingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_target(s)
    }
}

/// Parses a list of targets separated by commas or white space (`EGRESS_PROBE_TARGETS`).
/// An empty list means "the defaults".
pub fn parse_target_list(list: &str) -> Result<Vec<Target>, SettingError> {
    let items: Vec<&str> = list
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    if items.len() > MAX_TARGETS {
        return Err(SettingError::new(format!(
            "{} targets; at most {MAX_TARGETS}",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            parse_target(item).map_err(|e| SettingError::new(format!("item {i}: {}", e.message)))
        })
        .collect()
}

/// The list form of targets (`EGRESS_PROBE_TARGETS`): canonical forms, space-separated.
/// `parse_target_list` reads it back to the same targets.
pub fn format_target_list(targets: &[Target]) -> String {
    targets
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The default targets: DNS, TCP 443 and HTTPS to AWS-operated public endpoints that say
/// something real about internet egress from this Region.
pub fn default_targets(region: &str) -> Vec<Target> {
    let sts = format!("sts.{region}.amazonaws.com");
    vec![
        Target::Dns {
            name: "checkip.amazonaws.com".into(),
        },
        Target::Dns { name: sts.clone() },
        Target::Tcp {
            host: "checkip.amazonaws.com".into(),
            port: 443,
        },
        Target::Https {
            url: "https://checkip.amazonaws.com/".into(),
            host: "checkip.amazonaws.com".into(),
            port: 443,
        },
        Target::Https {
            url: format!("https://{sts}/"),
            host: sts,
            port: 443,
        },
    ]
}

/// The on-demand invocation event (also a schedule rule's input): `{}` for the probe's
/// configured targets, else `{"targets": [...]}` in canonical form; `event::parse_event`
/// reads it back.
pub fn invocation_event(targets: &[Target]) -> serde_json::Value {
    if targets.is_empty() {
        serde_json::json!({})
    } else {
        let list: Vec<String> = targets.iter().map(ToString::to_string).collect();
        serde_json::json!({ "targets": list })
    }
}

impl DiagnoseMode {
    /// Every mode, in the order of the documentation.
    pub const ALL: [DiagnoseMode; 3] = [
        DiagnoseMode::Always,
        DiagnoseMode::OnFailure,
        DiagnoseMode::Never,
    ];

    /// The canonical spelling (`always`, `on_failure`, `never`), as in JSON and the template.
    pub fn as_str(&self) -> &'static str {
        match self {
            DiagnoseMode::Always => "always",
            DiagnoseMode::OnFailure => "on_failure",
            DiagnoseMode::Never => "never",
        }
    }

    /// `always | on_failure | never`; also `on-failure`, `onfailure`, `true`, `false`, in
    /// any case.
    pub fn parse(v: &str) -> Result<Self, SettingError> {
        match v.trim().to_ascii_lowercase().as_str() {
            "always" | "true" => Ok(DiagnoseMode::Always),
            "on_failure" | "on-failure" | "onfailure" => Ok(DiagnoseMode::OnFailure),
            "never" | "false" => Ok(DiagnoseMode::Never),
            _ => Err(SettingError::new(format!(
                "{}: expected always, on_failure (or on-failure) or never",
                quote(v)
            ))),
        }
    }
}

impl std::fmt::Display for DiagnoseMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DiagnoseMode {
    type Err = SettingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DiagnoseMode::parse(s)
    }
}

/// A CloudWatch namespace for the EMF metrics: 1-255 of `A-Z a-z 0-9 . _ - / # :`, not in
/// the reserved `AWS/` space (the template's `MetricNamespace` pattern).
pub fn parse_metric_namespace(v: &str) -> Result<String, SettingError> {
    let v = v.trim();
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "._-/#:".contains(c);
    if v.is_empty() || v.len() > 255 || !v.chars().all(ok_char) {
        return Err(SettingError::new(format!(
            "{}: a metric namespace is 1-255 characters of A-Z a-z 0-9 . _ - / # :",
            quote(v)
        )));
    }
    if v.starts_with("AWS/") {
        return Err(SettingError::new(format!(
            "{}: namespaces starting with AWS/ are reserved for AWS services",
            quote(v)
        )));
    }
    Ok(v.to_string())
}

/// What a deployment puts into the probe's environment, and what the probe reads back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeEnvironment {
    /// Default targets of the function; empty = the built-in `default_targets`.
    pub targets: Vec<Target>,
    pub diagnose: DiagnoseMode,
    pub metric_namespace: String,
    pub subnet_id: Option<String>,
    pub availability_zone: Option<String>,
    pub availability_zone_id: Option<String>,
    pub vpc_id: Option<String>,
    pub security_group_ids: Vec<String>,
}

impl Default for ProbeEnvironment {
    fn default() -> Self {
        Self {
            targets: Vec::new(),
            diagnose: DEFAULT_DIAGNOSE,
            metric_namespace: DEFAULT_METRIC_NAMESPACE.to_string(),
            subnet_id: None,
            availability_zone: None,
            availability_zone_id: None,
            vpc_id: None,
            security_group_ids: Vec::new(),
        }
    }
}

impl ProbeEnvironment {
    /// The variables to set on the function. Unset parts (no targets, no subnet) are left
    /// out, so the probe uses its defaults; `from_lookup` reads the map back to `self`.
    pub fn to_env(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        if !self.targets.is_empty() {
            m.insert(env::TARGETS.into(), format_target_list(&self.targets));
        }
        m.insert(env::DIAGNOSE.into(), self.diagnose.as_str().into());
        m.insert(env::METRIC_NAMESPACE.into(), self.metric_namespace.clone());
        let optional = [
            (env::SUBNET_ID, &self.subnet_id),
            (env::AZ, &self.availability_zone),
            (env::AZ_ID, &self.availability_zone_id),
            (env::VPC_ID, &self.vpc_id),
        ];
        for (k, v) in optional {
            if let Some(v) = v {
                m.insert(k.into(), v.clone());
            }
        }
        if !self.security_group_ids.is_empty() {
            m.insert(
                env::SECURITY_GROUP_IDS.into(),
                self.security_group_ids.join(","),
            );
        }
        m
    }

    /// Reads the variables through `get` (empty values count as unset); a bad value is an
    /// error naming the variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let nonempty = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let invalid = |variable: &str, e: SettingError| ConfigError {
            variable: variable.to_string(),
            message: e.message,
        };
        let targets = match nonempty(env::TARGETS) {
            None => Vec::new(),
            Some(list) => parse_target_list(&list).map_err(|e| invalid(env::TARGETS, e))?,
        };
        let diagnose = match nonempty(env::DIAGNOSE) {
            None => DEFAULT_DIAGNOSE,
            Some(v) => DiagnoseMode::parse(&v).map_err(|e| invalid(env::DIAGNOSE, e))?,
        };
        let metric_namespace = match nonempty(env::METRIC_NAMESPACE) {
            None => DEFAULT_METRIC_NAMESPACE.to_string(),
            Some(v) => parse_metric_namespace(&v).map_err(|e| invalid(env::METRIC_NAMESPACE, e))?,
        };
        Ok(Self {
            targets,
            diagnose,
            metric_namespace,
            subnet_id: nonempty(env::SUBNET_ID),
            availability_zone: nonempty(env::AZ),
            availability_zone_id: nonempty(env::AZ_ID),
            vpc_id: nonempty(env::VPC_ID),
            security_group_ids: nonempty(env::SECURITY_GROUP_IDS)
                .map(|v| {
                    v.split(|c: char| c == ',' || c.is_whitespace())
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// Splits `host`, `host:port`, `[v6]`, `[v6]:port`; validates both.
fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed `[` in IPv6 address".to_string())?;
        h.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("{} is not an IPv6 address", quote(h)))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("unexpected {} after the address", quote(p)))?,
            ),
        };
        (h.to_string(), port)
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h.to_string(), Some(p)),
            Some(_) => {
                return Err("IPv6 addresses must be written in brackets: [2001:db8::1]".into());
            }
            None => (s.to_string(), None),
        }
    };
    if !host.contains(':') {
        validate_host(&host)?;
    }
    let port = match port {
        None => None,
        Some(p) => {
            let n: u32 = p
                .parse()
                .map_err(|_| format!("port {} is not a number", quote(p)))?;
            if !(1..=65535).contains(&n) {
                return Err(format!("port {n} out of range (1-65535)"));
            }
            Some(n as u16)
        }
    };
    Ok((host.to_ascii_lowercase(), port))
}

fn validate_host(h: &str) -> Result<(), String> {
    if h.is_empty() {
        return Err("missing host".into());
    }
    if h.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let name = h.strip_suffix('.').unwrap_or(h);
    if name.len() > 253 {
        return Err(format!(
            "host name longer than 253 characters ({})",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("{}: each label must be 1-63 characters", quote(h)));
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(format!("{} is not a valid host name", quote(h)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_form_parses_to_its_canonical_target() {
        assert_eq!(
            parse_target("dns:Example.COM.").unwrap(),
            Target::Dns {
                name: "example.com".into()
            }
        );
        assert_eq!(
            parse_target(" tcp://[2001:DB8::1]:53/ ").unwrap(),
            Target::Tcp {
                host: "2001:db8::1".into(),
                port: 53
            }
        );
        assert_eq!(
            parse_target("https://Example.com:8443/health?x=1").unwrap(),
            Target::Https {
                url: "https://Example.com:8443/health?x=1".into(),
                host: "example.com".into(),
                port: 8443
            }
        );
        assert_eq!(
            parse_target("https://example.com").unwrap().port(),
            Some(443)
        );
    }

    #[test]
    fn errors_hide_credentials_and_cut_long_inputs() {
        let e = parse_target("https://user:SECRETPW@example.com/").unwrap_err();
        assert!(e.message.contains("credentials"), "{e}");
        assert!(!e.message.contains("SECRETPW"), "{e}");
        assert!(e.message.contains("https://***@example.com/"), "{e}");
        let long = format!("dns:{}", "a".repeat(100_000));
        let e = parse_target(&long).unwrap_err();
        assert!(e.message.len() < 200, "{} bytes", e.message.len());
        let e = parse_target("dns:bad\u{7}name").unwrap_err();
        assert!(e.message.contains("\\u{7}"), "{e}");
    }

    #[test]
    fn a_list_round_trips_through_its_text_form() {
        let targets = default_targets("eu-west-3");
        let text = format_target_list(&targets);
        assert_eq!(parse_target_list(&text).unwrap(), targets);
        assert_eq!(
            parse_target_list("dns:a.example, tcp://192.0.2.1:443\nhttps://b.example/x")
                .unwrap()
                .len(),
            3
        );
        assert!(parse_target_list(" , ").unwrap().is_empty());
        let many: Vec<String> = (0..=MAX_TARGETS)
            .map(|i| format!("dns:h{i}.example"))
            .collect();
        assert!(
            parse_target_list(&many.join(" "))
                .unwrap_err()
                .message
                .contains("at most")
        );
        let e = parse_target_list("dns:ok.example tcp://x.example").unwrap_err();
        assert!(e.message.starts_with("item 1: "), "{e}");
    }

    #[test]
    fn diagnose_modes_have_one_canonical_spelling() {
        for m in DiagnoseMode::ALL {
            assert_eq!(DiagnoseMode::parse(m.as_str()).unwrap(), m);
            // The JSON spelling (serde) is the canonical one.
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
        assert_eq!(
            DiagnoseMode::parse("on-failure").unwrap(),
            DiagnoseMode::OnFailure
        );
        assert_eq!(
            DiagnoseMode::parse(" ON_FAILURE ").unwrap(),
            DiagnoseMode::OnFailure
        );
        assert_eq!(DiagnoseMode::parse("true").unwrap(), DiagnoseMode::Always);
        let e = DiagnoseMode::parse("sometimes").unwrap_err();
        assert!(e.message.contains("on_failure"), "{e}");
    }

    #[test]
    fn metric_namespaces_follow_cloudwatch() {
        assert_eq!(
            parse_metric_namespace("Team/Egress-1").unwrap(),
            "Team/Egress-1"
        );
        assert!(parse_metric_namespace("").is_err());
        assert!(parse_metric_namespace("has space").is_err());
        assert!(
            parse_metric_namespace("AWS/Lambda")
                .unwrap_err()
                .message
                .contains("reserved")
        );
        assert!(parse_metric_namespace(&"x".repeat(256)).is_err());
    }

    #[test]
    fn environment_round_trips() {
        let e = ProbeEnvironment {
            targets: vec![
                parse_target("dns:example.com").unwrap(),
                parse_target("tcp://[2001:db8::1]:443").unwrap(),
            ],
            diagnose: DiagnoseMode::Always,
            metric_namespace: "Team/Egress".into(),
            subnet_id: Some("subnet-a".into()),
            availability_zone: Some("us-east-1a".into()),
            availability_zone_id: Some("use1-az6".into()),
            vpc_id: Some("vpc-1".into()),
            security_group_ids: vec!["sg-1".into(), "sg-2".into()],
        };
        let map = e.to_env();
        assert_eq!(map[env::TARGETS], "dns:example.com tcp://[2001:db8::1]:443");
        assert_eq!(map[env::DIAGNOSE], "always");
        assert!(map.keys().all(|k| env::ALL.contains(&k.as_str())));
        let back = ProbeEnvironment::from_lookup(|k| map.get(k).cloned()).unwrap();
        assert_eq!(back, e);
        // Defaults: nothing about targets or placement is written.
        let map = ProbeEnvironment::default().to_env();
        assert_eq!(
            map.keys().map(String::as_str).collect::<Vec<_>>(),
            vec![env::DIAGNOSE, env::METRIC_NAMESPACE]
        );
        assert_eq!(map[env::DIAGNOSE], "on_failure");
    }

    #[test]
    fn bad_environment_values_name_the_variable() {
        let get = |var: &'static str, value: &'static str| {
            move |k: &str| (k == var).then(|| value.to_string())
        };
        for (var, value) in [
            (env::TARGETS, "dns:192.0.2.1"),
            (env::DIAGNOSE, "sometimes"),
            (env::METRIC_NAMESPACE, "AWS/EC2"),
        ] {
            let e = ProbeEnvironment::from_lookup(get(var, value)).unwrap_err();
            assert_eq!(e.variable, var);
        }
    }

    #[test]
    fn the_event_form_is_what_the_event_parser_reads() {
        assert_eq!(invocation_event(&[]), serde_json::json!({}));
        let t = default_targets("us-east-1");
        let v = invocation_event(&t);
        assert_eq!(v["targets"][0], "dns:checkip.amazonaws.com");
        assert_eq!(v["targets"].as_array().map(Vec::len), Some(t.len()));
    }

    proptest::proptest! {
        #[test]
        fn accepted_targets_round_trip_through_display(s in "(dns:|tcp://|https://)[a-zA-Z0-9.:\\[\\]/_-]{0,30}") {
            if let Ok(t) = parse_target(&s) {
                proptest::prop_assert_eq!(parse_target(&t.to_string()).ok(), Some(t));
            }
        }

        #[test]
        fn error_messages_stay_short(s in "\\PC{0,400}") {
            for candidate in [s.clone(), format!("https://{s}"), format!("tcp://{s}"), format!("dns:{s}")] {
                if let Err(e) = parse_target(&candidate) {
                    proptest::prop_assert!(e.message.chars().count() < 400, "{}", e.message);
                }
            }
        }
    }
}
