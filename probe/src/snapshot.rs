//! The control-plane edge: reads the VPC configuration through aws-sdk-ec2 and
//! aws-sdk-lambda into a plain `NetworkSnapshot`. The only module with SDK types.

use crate::model::NetworkSnapshot;
use std::path::Path;

/// What to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A Lambda function: its configuration, its subnets' VPC, its ENIs.
    Function(String),
    /// One or more subnets (their VPC is read whole).
    Subnets(Vec<String>),
    /// A whole VPC.
    Vpc(String),
}

/// SDK clients the reader uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub lambda: aws_sdk_lambda::Client,
}

impl Clients {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            ec2: aws_sdk_ec2::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
        }
    }
}

/// Errors that stop a snapshot. Anything else becomes a `SnapshotGap` (partial analysis).
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("function `{0}` not found")]
    FunctionNotFound(String),
    #[error("subnet `{0}` not found")]
    SubnetNotFound(String),
    #[error("VPC `{0}` not found")]
    VpcNotFound(String),
    #[error("function `{0}` is not attached to a VPC")]
    NotInVpc(String),
    #[error("{call} failed: {reason}")]
    Api { call: String, reason: String },
    #[error("cannot read snapshot file {path}: {reason}")]
    File { path: String, reason: String },
}

/// Takes one snapshot of the VPC behind `scope`.
pub async fn take(_clients: &Clients, _scope: &Scope) -> Result<NetworkSnapshot, SnapshotError> {
    todo!("snapshot helper")
}

/// Writes a snapshot as pretty JSON.
pub fn save(snapshot: &NetworkSnapshot, path: &Path) -> Result<(), SnapshotError> {
    let text = serde_json::to_string_pretty(snapshot).map_err(|e| SnapshotError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    std::fs::write(path, text).map_err(|e| SnapshotError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Reads a snapshot saved by `save` (or written by hand).
pub fn load(path: &Path) -> Result<NetworkSnapshot, SnapshotError> {
    let text = std::fs::read_to_string(path).map_err(|e| SnapshotError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| SnapshotError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}
