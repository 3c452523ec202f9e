//! The diagnosis engine: pure functions from a `NetworkSnapshot` and observations to
//! findings and hop-by-hop paths. No I/O, no SDK types, no clock.

use crate::model::{Finding, NetworkSnapshot, Observation, PathEvaluation, Protocol};
use std::net::IpAddr;

/// Whose egress is analysed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// Function name, when the subject is a function (R1-R4 use its configuration).
    pub function: Option<String>,
    /// The subnets analysed (the function's, or the probe's own).
    pub subnet_ids: Vec<String>,
    /// Security groups of the ENI (empty: the function's from the snapshot).
    pub security_group_ids: Vec<String>,
}

/// One flow to evaluate: a destination address, protocol and port, for a planned target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// The planned target this flow serves (`tcp://host:443`), for matching observations.
    pub target: String,
    /// The host name, when the target had one (for R29 endpoint private DNS).
    pub host: Option<String>,
    pub destination: IpAddr,
    pub protocol: Protocol,
    pub port: u16,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnosis {
    pub findings: Vec<Finding>,
    pub paths: Vec<PathEvaluation>,
}

/// Evaluates every (subnet, flow) of `subject`, and reconciles the prediction with
/// `observations` (which may be empty for a configuration-only analysis).
pub fn diagnose(
    _snapshot: &NetworkSnapshot,
    _subject: &Subject,
    _flows: &[Flow],
    _observations: &[Observation],
) -> Diagnosis {
    todo!("diagnosis helper")
}

/// The flows behind a probe's observations (one per TCP/HTTPS address tried).
pub fn flows_from_observations(_observations: &[Observation]) -> Vec<Flow> {
    todo!("diagnosis helper")
}
