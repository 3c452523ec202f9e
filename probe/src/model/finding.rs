//! Findings (the named cause and its fix) and hop-by-hop path evaluations.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Breaks the path.
    Error,
    /// Works but fragile (e.g. NAT gateway in another AZ, R13).
    Warning,
    Info,
}

/// How a finding relates to what the probe observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    /// The configuration predicts the failure and the probe observed it.
    Confirmed,
    /// Predicted by the configuration; no observation covers it (configuration-only analysis).
    Predicted,
    /// Observed failure the configuration does not explain: the cause is beyond the VPC.
    BeyondVpc,
    /// The configuration says impossible, but it was observed to work (or vice versa).
    Inconsistent,
    /// Not about an observation (e.g. a warning on configuration).
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remediation {
    pub en: String,
    pub ja: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable code, e.g. `LAMBDA_SUBNET_ROUTES_TO_IGW`.
    pub code: String,
    pub severity: Severity,
    pub confirmation: Confirmation,
    /// One-line statement of the cause, in English.
    pub summary: String,
    /// The same statement in Japanese (`--lang ja`); absent in reports of older probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_ja: Option<String>,
    /// The subnet the finding is about, when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    /// Resource IDs that prove it (route table, NACL, SG, NAT, IGW, …).
    #[serde(default)]
    pub resources: Vec<String>,
    /// Rule numbers of the fact sheet (`R9`) and NACL/route details (`acl-… #100`).
    #[serde(default)]
    pub rules: Vec<String>,
    /// IDs of the observations it explains.
    #[serde(default)]
    pub explains: Vec<String>,
    pub remediation: Remediation,
    /// AWS CLI commands that would fix it (printed, never run), real IDs filled in.
    #[serde(default)]
    pub fix_commands: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathVerdict {
    Reachable,
    Blocked,
    /// Some flows pass, some are dropped (e.g. part of the ephemeral range allowed, R21).
    Intermittent,
    /// A hop the snapshot cannot follow (TGW, peering, VPN, firewall endpoint, R15).
    NotVerifiable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HopVerdict {
    Pass,
    Block,
    Partial,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Forward,
    Return,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hop {
    pub direction: Direction,
    /// Component kind: `eni`, `security_group`, `nacl_out`, `nacl_in`, `route_table`,
    /// `nat_gateway`, `internet_gateway`, `egress_only_internet_gateway`, `vpc_endpoint`, …
    pub component: String,
    /// Resource ID of the component.
    pub id: String,
    /// The subnet whose boundary/route table this hop belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    pub verdict: HopVerdict,
    /// What decided it: `rule 100 allow tcp 443 0.0.0.0/0`, `0.0.0.0/0 -> nat-…`.
    pub decided_by: String,
    /// Fact-sheet rule numbers.
    #[serde(default)]
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathEvaluation {
    pub subnet_id: String,
    /// The target this path serves (as in the plan), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub destination: std::net::IpAddr,
    pub protocol: String,
    pub port: u16,
    pub family: crate::model::Family,
    pub verdict: PathVerdict,
    pub hops: Vec<Hop>,
}
