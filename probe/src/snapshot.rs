//! The control-plane edge: reads the VPC configuration through aws-sdk-ec2 and
//! aws-sdk-lambda into a plain `NetworkSnapshot`. The only module with SDK types.

use crate::model::NetworkSnapshot;
use std::path::Path;

mod classify;
mod convert;
mod read;

pub use classify::{FailureKind, classify};

/// The API calls the reader can make, by the names its gaps use. Each call site uses one of
/// these constants, and a test checks this list equals `permissions::{DIAGNOSIS,SELF}_ACTIONS`.
pub mod call {
    pub const GET_FUNCTION_CONFIGURATION: &str = "lambda:GetFunctionConfiguration";
    pub const DESCRIBE_AVAILABILITY_ZONES: &str = "ec2:DescribeAvailabilityZones";
    pub const DESCRIBE_DHCP_OPTIONS: &str = "ec2:DescribeDhcpOptions";
    pub const DESCRIBE_EGRESS_ONLY_INTERNET_GATEWAYS: &str =
        "ec2:DescribeEgressOnlyInternetGateways";
    pub const DESCRIBE_INTERNET_GATEWAYS: &str = "ec2:DescribeInternetGateways";
    pub const DESCRIBE_MANAGED_PREFIX_LISTS: &str = "ec2:DescribeManagedPrefixLists";
    pub const DESCRIBE_NAT_GATEWAYS: &str = "ec2:DescribeNatGateways";
    pub const DESCRIBE_NETWORK_ACLS: &str = "ec2:DescribeNetworkAcls";
    pub const DESCRIBE_NETWORK_INTERFACES: &str = "ec2:DescribeNetworkInterfaces";
    pub const DESCRIBE_ROUTE_TABLES: &str = "ec2:DescribeRouteTables";
    pub const DESCRIBE_SECURITY_GROUPS: &str = "ec2:DescribeSecurityGroups";
    pub const DESCRIBE_SUBNETS: &str = "ec2:DescribeSubnets";
    pub const DESCRIBE_VPC_ATTRIBUTE: &str = "ec2:DescribeVpcAttribute";
    pub const DESCRIBE_BPA_EXCLUSIONS: &str = "ec2:DescribeVpcBlockPublicAccessExclusions";
    pub const DESCRIBE_BPA_OPTIONS: &str = "ec2:DescribeVpcBlockPublicAccessOptions";
    pub const DESCRIBE_VPC_ENDPOINTS: &str = "ec2:DescribeVpcEndpoints";
    pub const DESCRIBE_VPCS: &str = "ec2:DescribeVpcs";
    pub const GET_MANAGED_PREFIX_LIST_ENTRIES: &str = "ec2:GetManagedPrefixListEntries";
}

/// Every call the reader can make (see `call`).
pub const CALLS: &[&str] = &[
    call::GET_FUNCTION_CONFIGURATION,
    call::DESCRIBE_AVAILABILITY_ZONES,
    call::DESCRIBE_DHCP_OPTIONS,
    call::DESCRIBE_EGRESS_ONLY_INTERNET_GATEWAYS,
    call::DESCRIBE_INTERNET_GATEWAYS,
    call::DESCRIBE_MANAGED_PREFIX_LISTS,
    call::DESCRIBE_NAT_GATEWAYS,
    call::DESCRIBE_NETWORK_ACLS,
    call::DESCRIBE_NETWORK_INTERFACES,
    call::DESCRIBE_ROUTE_TABLES,
    call::DESCRIBE_SECURITY_GROUPS,
    call::DESCRIBE_SUBNETS,
    call::DESCRIBE_VPC_ATTRIBUTE,
    call::DESCRIBE_BPA_EXCLUSIONS,
    call::DESCRIBE_BPA_OPTIONS,
    call::DESCRIBE_VPC_ENDPOINTS,
    call::DESCRIBE_VPCS,
    call::GET_MANAGED_PREFIX_LIST_ENTRIES,
];

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
///
/// Calls per VPC (pages count): 13 in the first, concurrent stage (DescribeVpcs — or the
/// identifying call for `Scope::Vpc` —, DescribeVpcAttribute ×2, DescribeSubnets,
/// DescribeRouteTables, DescribeNatGateways, DescribeInternetGateways,
/// DescribeEgressOnlyInternetGateways, DescribeNetworkAcls, DescribeSecurityGroups,
/// DescribeVpcEndpoints, DescribeVpcBlockPublicAccessOptions, DescribeNetworkInterfaces);
/// then only when needed: DescribeDhcpOptions (a custom set), DescribeManagedPrefixLists +
/// one GetManagedPrefixListEntries per referenced list, DescribeVpcBlockPublicAccessExclusions
/// (BPA on), DescribeAvailabilityZones (a subnet without AZ ID). `Scope::Subnets` adds one
/// identifying DescribeSubnets; `Scope::Function` adds GetFunctionConfiguration and one
/// DescribeSubnets to derive the VPC.
///
/// Errors only when the subject is missing or the identifying call fails; any later
/// failure is a `SnapshotGap` and the snapshot is returned (partial analysis).
pub async fn take(clients: &Clients, scope: &Scope) -> Result<NetworkSnapshot, SnapshotError> {
    take_until(clients, scope, None).await
}

/// `take`, waiting for no request past `deadline`: a call still unanswered then becomes a
/// gap (kind `unreachable`, the call named) and the snapshot is returned with everything
/// that did answer — partial analysis, not none (issue 12.7). Stage 1 may use two thirds
/// of the time left, so stage 2 keeps its turn. An identifying call that does not answer
/// in time is an error: then nothing answered.
pub async fn take_until(
    clients: &Clients,
    scope: &Scope,
    deadline: Option<tokio::time::Instant>,
) -> Result<NetworkSnapshot, SnapshotError> {
    let r = read::Reader::until(clients, deadline);
    let mut snap = NetworkSnapshot {
        region: clients.ec2.config().region().map(|r| r.to_string()),
        taken_at: now_rfc3339(),
        ..NetworkSnapshot::default()
    };
    match scope {
        Scope::Vpc(id) => {
            let vpc = read::identify_vpc(&r, id).await?;
            read::read_vpc(&r, id, Some(vpc), &read::EniScope::default(), &mut snap).await;
        }
        Scope::Subnets(ids) => {
            let subnets = read::identify_subnets(&r, ids).await?;
            for vpc_id in vpcs_of(&subnets) {
                let enis = read::EniScope {
                    subnet_ids: subnets
                        .iter()
                        .filter(|s| s.vpc_id() == Some(vpc_id.as_str()))
                        .filter_map(|s| s.subnet_id().map(str::to_string))
                        .collect(),
                    group_ids: Vec::new(),
                };
                read::read_vpc(&r, &vpc_id, None, &enis, &mut snap).await;
            }
        }
        Scope::Function(name) => {
            let out = read::identify_function(&r, name).await?;
            let mut function = convert::function(name, &out);
            let api_vpc_id = out
                .vpc_config()
                .and_then(|v| v.vpc_id())
                .filter(|v| !v.is_empty())
                .map(str::to_string);
            if function.in_vpc() {
                match read::subnets_by_id(&r, &function.subnet_ids).await {
                    Ok(subnets) => {
                        for id in &function.subnet_ids {
                            if !subnets.iter().any(|s| s.subnet_id() == Some(id.as_str())) {
                                snap.notes.push(format!(
                                    "function {name}: subnet {id} of its VpcConfig does not exist"
                                ));
                            }
                        }
                        let vpcs = vpcs_of(&subnets);
                        if vpcs.len() > 1 {
                            snap.notes.push(format!(
                                "function {name}: its subnets span several VPCs: {}",
                                vpcs.join(", ")
                            ));
                        }
                        function.vpc_id = vpcs.first().cloned();
                        if let (Some(api), Some(derived)) = (&api_vpc_id, &function.vpc_id)
                            && api != derived
                        {
                            snap.notes.push(format!(
                                "function {name}: VpcConfig.VpcId {api} differs from its subnets' VPC {derived}; using the subnets'"
                            ));
                        }
                        let enis = read::EniScope {
                            subnet_ids: function.subnet_ids.clone(),
                            group_ids: function.security_group_ids.clone(),
                        };
                        snap.functions.push(function);
                        for vpc_id in vpcs {
                            read::read_vpc(&r, &vpc_id, None, &enis, &mut snap).await;
                        }
                    }
                    Err((gap, _)) => {
                        snap.gaps.push(gap);
                        snap.functions.push(function);
                    }
                }
            } else {
                // Not in a VPC: the engine reports it (the function has internet access).
                snap.functions.push(function);
            }
        }
    }
    snap.api_calls = r.calls();
    Ok(snap)
}

/// The distinct VPCs of some subnets, in first-seen order.
fn vpcs_of(subnets: &[aws_sdk_ec2::types::Subnet]) -> Vec<String> {
    let mut vpcs: Vec<String> = Vec::new();
    for id in subnets.iter().filter_map(|s| s.vpc_id()) {
        if !vpcs.iter().any(|v| v == id) {
            vpcs.push(id.to_string());
        }
    }
    vpcs
}

/// The reader may use the clock (the engine may not).
fn now_rfc3339() -> Option<String> {
    aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .ok()
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

/// Reads a snapshot saved by `save` (or written by hand). A bad field is named by its path
/// in the file (`network_acls[0].entries[1].protocol: …`), with the line and column.
pub fn load(path: &Path) -> Result<NetworkSnapshot, SnapshotError> {
    let data = std::fs::read(path).map_err(|e| SnapshotError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let de = &mut serde_json::Deserializer::from_slice(&data);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let reason = if field == "." {
            format!("not a snapshot: {}", e.inner())
        } else {
            format!("field `{field}`: {}", e.inner())
        };
        SnapshotError::File {
            path: path.display().to_string(),
            reason,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permissions::{DIAGNOSIS_ACTIONS, SELF_ACTIONS};

    #[test]
    fn calls_equal_the_permission_lists() {
        let mut calls: Vec<&str> = CALLS.to_vec();
        calls.sort_unstable();
        let before = calls.len();
        calls.dedup();
        assert_eq!(before, calls.len(), "CALLS has duplicates");
        let mut allowed: Vec<&str> = DIAGNOSIS_ACTIONS
            .iter()
            .chain(SELF_ACTIONS)
            .copied()
            .collect();
        allowed.sort_unstable();
        assert_eq!(calls, allowed);
    }

    #[test]
    fn taken_at_is_rfc3339_utc() {
        let t = now_rfc3339().unwrap();
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
        let back =
            aws_smithy_types::DateTime::from_str(&t, aws_smithy_types::date_time::Format::DateTime);
        assert!(back.is_ok(), "{t} does not parse back as RFC 3339");
    }
}
