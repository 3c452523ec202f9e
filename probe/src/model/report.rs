//! The versioned report a probe returns and logs.

use super::{Finding, Observation, PathEvaluation, Plan, SnapshotGap};
use serde::{Deserialize, Serialize};

pub const REPORT_SCHEMA: &str = "egress-probe.report/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub probe_version: String,
    pub identity: Identity,
    /// When the invocation started (RFC 3339, UTC).
    pub started_at: String,
    pub duration_ms: f64,
    /// Time the checks were allowed (remaining invocation time minus the safety margin).
    pub budget_ms: u64,
    pub resolver: ResolverInfo,
    pub plan: Plan,
    pub observations: Vec<Observation>,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    #[serde(default)]
    pub paths: Vec<PathEvaluation>,
    /// What the simulation of each finding's fix found (issue 11): the probe prints no
    /// fix it has not tried on its snapshot. `finding` indexes `findings`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fix_proofs: Vec<super::FixProof>,
    pub analysis: Analysis,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(default)]
    pub function_name: Option<String>,
    #[serde(default)]
    pub function_version: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub memory_mb: Option<u32>,
    #[serde(default)]
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub subnet_id: Option<String>,
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// From the Lambda metadata endpoint (fact sheet §D.5) when present.
    #[serde(default)]
    pub availability_zone_id: Option<String>,
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    #[serde(default)]
    pub log_group: Option<String>,
    #[serde(default)]
    pub log_stream: Option<String>,
    #[serde(default)]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResolverInfo {
    /// Where the configuration came from (`/etc/resolv.conf`).
    pub source: String,
    pub servers: Vec<String>,
    #[serde(default)]
    pub search: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Healthy,
    Degraded,
    Broken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisStatus {
    /// The snapshot was complete and the diagnosis ran.
    Complete,
    /// Some API calls failed; findings may be missing (see `gaps`).
    Partial,
    /// The diagnosis could not run (e.g. the EC2 API is unreachable from this subnet).
    Unavailable,
    /// Not requested (diagnose = never, or on_failure and nothing failed).
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub status: AnalysisStatus,
    /// Why it is partial/unavailable/skipped, and how to make it available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub gaps: Vec<SnapshotGap>,
    #[serde(default)]
    pub api_calls: u32,
    #[serde(default)]
    pub duration_ms: f64,
    /// Where the analysis ran: `probe` or `installer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performed_by: Option<String>,
}

impl Analysis {
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self {
            status: AnalysisStatus::Skipped,
            reason: Some(reason.into()),
            gaps: Vec::new(),
            api_calls: 0,
            duration_ms: 0.0,
            performed_by: None,
        }
    }
}
