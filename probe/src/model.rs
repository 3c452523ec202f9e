//! Plain, serialisable data shared by every module: no SDK types, no I/O.

pub mod change;
pub mod dns;
pub mod finding;
pub mod firewall;
pub mod fix_proof;
pub mod observation;
pub mod plan;
pub mod report;
pub mod snapshot;
pub mod transit;

pub use change::{Change, ChangeError, VpcAttribute};
pub use dns::*;
pub use finding::{
    Confirmation, Direction, Finding, Hop, HopVerdict, PathEvaluation, PathVerdict, Remediation,
    Severity,
};
pub use firewall::*;
pub use fix_proof::FixProof;
pub use observation::{
    CheckKind, DnsDetail, DnsRecordResult, Family, Observation, Phase, Phases, Status,
};
pub use plan::{DiagnoseMode, Plan, Target};
pub use report::{
    Analysis, AnalysisStatus, Identity, REPORT_SCHEMA, Report, ResolverInfo, Verdict,
};
pub use snapshot::*;
pub use transit::*;
