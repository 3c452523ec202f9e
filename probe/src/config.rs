//! The probe's settings, read once from its environment (documented in the README).
//!
//! Only these variables are ever echoed into a report; credentials, session tokens and the
//! metadata token are read by the SDK or the identity module and never stored here.

use crate::checks::{CheckSettings, ProxySettings, Timeouts};
use crate::event::{EventError, parse_target};
use crate::model::{DiagnoseMode, Target};
use std::path::PathBuf;
use std::time::Duration;

/// Most targets one invocation may check.
pub const MAX_TARGETS: usize = 32;
/// Default per-check timeouts.
pub const DEFAULT_DNS_TIMEOUT: Duration = Duration::from_millis(2000);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(3000);
pub const DEFAULT_HTTPS_TIMEOUT: Duration = Duration::from_millis(5000);
/// Time kept back from the invocation's remaining time so the report always gets out.
pub const DEFAULT_SAFETY_MARGIN: Duration = Duration::from_millis(500);
/// Time the self-diagnosis may take after the checks.
pub const DEFAULT_ANALYSIS_BUDGET: Duration = Duration::from_millis(3000);
pub const DEFAULT_METRIC_NAMESPACE: &str = "EgressProbe";

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
    /// Every variable above: the only ones the probe ever echoes.
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

/// Errors in the function's own configuration (environment), naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {variable}: {message}")]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

/// Settings of this function, fixed for the life of the process.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeConfig {
    pub default_targets: Vec<Target>,
    pub timeouts: Timeouts,
    pub diagnose: DiagnoseMode,
    pub safety_margin: Duration,
    pub analysis_budget: Duration,
    pub metric_namespace: String,
    pub region: Option<String>,
    pub function_name: Option<String>,
    pub function_version: Option<String>,
    pub memory_mb: Option<u32>,
    pub log_group: Option<String>,
    pub log_stream: Option<String>,
    pub subnet_id: Option<String>,
    pub availability_zone: Option<String>,
    pub availability_zone_id: Option<String>,
    pub vpc_id: Option<String>,
    pub security_group_ids: Vec<String>,
    pub checks: CheckSettings,
    /// `EGRESS_PROBE_NETWORK_ROLE`: role ARN to assume in the network account (R45).
    pub network_role: Option<String>,
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

impl ProbeConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `get` (testable without touching the environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let nonempty = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let ms = |k: &str, default: Duration| -> Result<Duration, ConfigError> {
            match nonempty(k) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0 && *n <= 900_000)
                    .map(Duration::from_millis)
                    .ok_or_else(|| ConfigError {
                        variable: k.to_string(),
                        message: format!("`{v}` is not a number of milliseconds in 1..=900000"),
                    }),
            }
        };
        let region = nonempty("AWS_REGION").or_else(|| nonempty("AWS_DEFAULT_REGION"));
        let default_targets = match nonempty(env::TARGETS) {
            None => default_targets(region.as_deref().unwrap_or("us-east-1")),
            Some(list) => {
                let mut targets = Vec::new();
                for (i, item) in list
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .enumerate()
                {
                    let t =
                        parse_target(item).map_err(|EventError { message, .. }| ConfigError {
                            variable: env::TARGETS.to_string(),
                            message: format!("item {i} `{item}`: {message}"),
                        })?;
                    targets.push(t);
                }
                if targets.len() > MAX_TARGETS {
                    return Err(ConfigError {
                        variable: env::TARGETS.into(),
                        message: format!("{} targets; at most {MAX_TARGETS}", targets.len()),
                    });
                }
                targets
            }
        };
        let diagnose = match nonempty(env::DIAGNOSE).as_deref() {
            None => DiagnoseMode::OnFailure,
            Some(v) => parse_diagnose(v).ok_or_else(|| ConfigError {
                variable: env::DIAGNOSE.into(),
                message: format!("`{v}`: expected always, on_failure or never"),
            })?,
        };
        let proxy = ProxySettings {
            https_proxy: nonempty("HTTPS_PROXY").or_else(|| nonempty("https_proxy")),
            no_proxy: nonempty("NO_PROXY").or_else(|| nonempty("no_proxy")),
        };
        let network_role = nonempty(env::NETWORK_ROLE);
        if let Some(arn) = &network_role {
            crate::snapshot::role_account(arn).map_err(|e| ConfigError {
                variable: env::NETWORK_ROLE.into(),
                message: e.to_string(),
            })?;
        }
        Ok(Self {
            network_role,
            default_targets,
            timeouts: Timeouts {
                dns: ms(env::DNS_TIMEOUT_MS, DEFAULT_DNS_TIMEOUT)?,
                connect: ms(env::CONNECT_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT)?,
                https: ms(env::HTTPS_TIMEOUT_MS, DEFAULT_HTTPS_TIMEOUT)?,
            },
            diagnose,
            safety_margin: ms(env::SAFETY_MARGIN_MS, DEFAULT_SAFETY_MARGIN)?,
            analysis_budget: ms(env::ANALYSIS_BUDGET_MS, DEFAULT_ANALYSIS_BUDGET)?,
            metric_namespace: nonempty(env::METRIC_NAMESPACE)
                .unwrap_or_else(|| DEFAULT_METRIC_NAMESPACE.to_string()),
            region,
            function_name: nonempty("AWS_LAMBDA_FUNCTION_NAME"),
            function_version: nonempty("AWS_LAMBDA_FUNCTION_VERSION"),
            memory_mb: nonempty("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|v| v.parse().ok()),
            log_group: nonempty("AWS_LAMBDA_LOG_GROUP_NAME"),
            log_stream: nonempty("AWS_LAMBDA_LOG_STREAM_NAME"),
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
            checks: CheckSettings {
                extra_ca_file: nonempty(env::EXTRA_CA_FILE).map(PathBuf::from),
                proxy,
                resolv_conf: nonempty(env::RESOLV_CONF)
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("/etc/resolv.conf")),
            },
        })
    }
}

/// `always | on_failure | never` (also `on-failure`, `true`, `false`).
pub fn parse_diagnose(v: &str) -> Option<DiagnoseMode> {
    match v.trim().to_ascii_lowercase().as_str() {
        "always" | "true" => Some(DiagnoseMode::Always),
        "on_failure" | "on-failure" | "onfailure" => Some(DiagnoseMode::OnFailure),
        "never" | "false" => Some(DiagnoseMode::Never),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<ProbeConfig, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ProbeConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_region() {
        let c = cfg(&[("AWS_REGION", "eu-west-3")]).unwrap();
        assert!(
            c.default_targets
                .iter()
                .any(|t| t.host() == "sts.eu-west-3.amazonaws.com")
        );
        assert_eq!(c.diagnose, DiagnoseMode::OnFailure);
        assert_eq!(c.timeouts.connect, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(c.metric_namespace, "EgressProbe");
    }

    #[test]
    fn targets_from_environment() {
        let c = cfg(&[(
            env::TARGETS,
            "dns:a.example tcp://192.0.2.1:443,https://b.example/x",
        )])
        .unwrap();
        assert_eq!(c.default_targets.len(), 3);
        assert_eq!(
            c.default_targets[1],
            Target::Tcp {
                host: "192.0.2.1".into(),
                port: 443
            }
        );
    }

    #[test]
    fn bad_settings_name_the_variable() {
        let e = cfg(&[(env::TARGETS, "tcp://x:0")]).unwrap_err();
        assert_eq!(e.variable, env::TARGETS);
        let e = cfg(&[(env::CONNECT_TIMEOUT_MS, "soon")]).unwrap_err();
        assert_eq!(e.variable, env::CONNECT_TIMEOUT_MS);
        let e = cfg(&[(env::DIAGNOSE, "sometimes")]).unwrap_err();
        assert_eq!(e.variable, env::DIAGNOSE);
    }
}
