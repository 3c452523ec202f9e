//! The probe's settings, read once from its environment (documented in the README).
//!
//! Only these variables are ever echoed into a report; credentials, session tokens and the
//! metadata token are read by the SDK or the identity module and never stored here.

use crate::checks::{CheckSettings, ProxySettings, Timeouts};
use crate::model::{DiagnoseMode, Target};
use crate::settings::ProbeEnvironment;
use std::path::PathBuf;
use std::time::Duration;

// The contract shared with the installer and the template lives in `settings`.
pub use crate::settings::{
    DEFAULT_METRIC_NAMESPACE, FALLBACK_REGION, MAX_TARGETS, default_targets, env,
};
/// Default per-check timeouts.
pub const DEFAULT_DNS_TIMEOUT: Duration = Duration::from_millis(2000);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(3000);
pub const DEFAULT_HTTPS_TIMEOUT: Duration = Duration::from_millis(5000);
/// Time kept back from the invocation's remaining time so the report always gets out.
pub const DEFAULT_SAFETY_MARGIN: Duration = Duration::from_millis(500);
/// Time the self-diagnosis may take after the checks.
pub const DEFAULT_ANALYSIS_BUDGET: Duration = Duration::from_millis(3000);

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
                        message: format!(
                            "`{}` is not a number of milliseconds in 1..=900000",
                            crate::event::shown(&v)
                        ),
                    }),
            }
        };
        let region = nonempty("AWS_REGION").or_else(|| nonempty("AWS_DEFAULT_REGION"));
        // Targets, diagnose mode, namespace and placement: the deployment contract.
        let deployed = ProbeEnvironment::from_lookup(&get)?;
        let default_targets = if deployed.targets.is_empty() {
            default_targets(region.as_deref().unwrap_or(FALLBACK_REGION))
        } else {
            deployed.targets
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
            diagnose: deployed.diagnose,
            safety_margin: ms(env::SAFETY_MARGIN_MS, DEFAULT_SAFETY_MARGIN)?,
            analysis_budget: ms(env::ANALYSIS_BUDGET_MS, DEFAULT_ANALYSIS_BUDGET)?,
            metric_namespace: deployed.metric_namespace,
            region,
            function_name: nonempty("AWS_LAMBDA_FUNCTION_NAME"),
            function_version: nonempty("AWS_LAMBDA_FUNCTION_VERSION"),
            memory_mb: nonempty("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|v| v.parse().ok()),
            log_group: nonempty("AWS_LAMBDA_LOG_GROUP_NAME"),
            log_stream: nonempty("AWS_LAMBDA_LOG_STREAM_NAME"),
            subnet_id: deployed.subnet_id,
            availability_zone: deployed.availability_zone,
            availability_zone_id: deployed.availability_zone_id,
            vpc_id: deployed.vpc_id,
            security_group_ids: deployed.security_group_ids,
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
