//! The validated plan of one invocation: what to check, how long each check may take.

use serde::{Deserialize, Serialize};

/// One destination to check, parsed from `dns:name`, `tcp://host:port` or `https://url`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Target {
    Dns {
        name: String,
    },
    Tcp {
        host: String,
        port: u16,
    },
    Https {
        url: String,
        host: String,
        port: u16,
    },
}

impl Target {
    pub fn host(&self) -> &str {
        match self {
            Target::Dns { name } => name,
            Target::Tcp { host, .. } | Target::Https { host, .. } => host,
        }
    }
    pub fn port(&self) -> Option<u16> {
        match self {
            Target::Dns { .. } => None,
            Target::Tcp { port, .. } | Target::Https { port, .. } => Some(*port),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Dns { name } => write!(f, "dns:{name}"),
            Target::Tcp { host, port } => {
                if host.contains(':') {
                    write!(f, "tcp://[{host}]:{port}")
                } else {
                    write!(f, "tcp://{host}:{port}")
                }
            }
            Target::Https { url, .. } => f.write_str(url),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub targets: Vec<Target>,
    /// Per-check timeouts in milliseconds.
    pub dns_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub https_timeout_ms: u64,
    /// `always`, `on_failure` or `never`.
    pub diagnose: DiagnoseMode,
    /// Where the plan came from: `defaults` (scheduled/empty event) or `event`.
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnoseMode {
    Always,
    OnFailure,
    Never,
}
