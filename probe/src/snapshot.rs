//! The control-plane edge: reads the VPC configuration through aws-sdk-ec2 and
//! aws-sdk-lambda, and what lies behind it (transit gateways, the egress VPC, VPC peering,
//! AWS Network Firewall through aws-sdk-networkfirewall), into a plain `NetworkSnapshot`.
//! The only module with SDK types.

use crate::model::NetworkSnapshot;
use std::path::Path;

mod classify;
mod convert;
mod firewall;
mod network;
#[macro_use]
mod read;
mod transit;
mod walk;

pub use classify::{FailureKind, classify};
pub use network::{NetworkAccess, role_account};
pub use walk::RunCache;

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
    pub const DESCRIBE_TRANSIT_GATEWAYS: &str = "ec2:DescribeTransitGateways";
    pub const DESCRIBE_TRANSIT_GATEWAY_ATTACHMENTS: &str = "ec2:DescribeTransitGatewayAttachments";
    pub const DESCRIBE_TRANSIT_GATEWAY_VPC_ATTACHMENTS: &str =
        "ec2:DescribeTransitGatewayVpcAttachments";
    pub const SEARCH_TRANSIT_GATEWAY_ROUTES: &str = "ec2:SearchTransitGatewayRoutes";
    pub const DESCRIBE_VPC_PEERING_CONNECTIONS: &str = "ec2:DescribeVpcPeeringConnections";
    pub const LIST_FIREWALLS: &str = "network-firewall:ListFirewalls";
    pub const DESCRIBE_FIREWALL: &str = "network-firewall:DescribeFirewall";
    pub const DESCRIBE_FIREWALL_POLICY: &str = "network-firewall:DescribeFirewallPolicy";
    pub const DESCRIBE_RULE_GROUP: &str = "network-firewall:DescribeRuleGroup";
    /// Assuming the network-account role (R45).
    pub const ASSUME_ROLE: &str = "sts:AssumeRole";
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
    call::DESCRIBE_TRANSIT_GATEWAYS,
    call::DESCRIBE_TRANSIT_GATEWAY_ATTACHMENTS,
    call::DESCRIBE_TRANSIT_GATEWAY_VPC_ATTACHMENTS,
    call::SEARCH_TRANSIT_GATEWAY_ROUTES,
    call::DESCRIBE_VPC_PEERING_CONNECTIONS,
    call::LIST_FIREWALLS,
    call::DESCRIBE_FIREWALL,
    call::DESCRIBE_FIREWALL_POLICY,
    call::DESCRIBE_RULE_GROUP,
    call::ASSUME_ROLE,
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
    pub networkfirewall: aws_sdk_networkfirewall::Client,
    /// The network account's clients, when a role to assume there was given (R45).
    pub network: Option<NetworkAccess>,
}

impl Clients {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            ec2: aws_sdk_ec2::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            networkfirewall: aws_sdk_networkfirewall::Client::new(config),
            network: None,
        }
    }

    /// The same clients plus a role to assume in the network account (R45) for what the
    /// workload account cannot read: the transit gateway's route tables, the egress VPC,
    /// its firewall. Nothing is called until a snapshot needs it. A malformed ARN is an
    /// error naming what to fix.
    pub async fn with_network_role(
        mut self,
        config: &aws_config::SdkConfig,
        role_arn: &str,
    ) -> Result<Self, SnapshotError> {
        self.network = Some(NetworkAccess::new(config, role_arn).await?);
        Ok(self)
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
    #[error("network role `{arn}`: {reason}")]
    InvalidNetworkRole { arn: String, reason: String },
}

/// Takes one snapshot of the VPC behind `scope`, and of what lies behind its transit
/// gateway (see `take_cached`).
pub async fn take(clients: &Clients, scope: &Scope) -> Result<NetworkSnapshot, SnapshotError> {
    take_cached(clients, scope, &RunCache::default()).await
}

/// Takes one snapshot; answers about shared resources (the transit gateway, its route
/// tables, the egress VPC, firewalls, peering) are taken from and kept in `cache`, so
/// several snapshots in one run read them once.
///
/// Calls per workload VPC (pages count): 13 in the first, concurrent round (DescribeVpcs —
/// or the identifying call for `Scope::Vpc` —, DescribeVpcAttribute ×2, DescribeSubnets,
/// DescribeRouteTables, DescribeNatGateways, DescribeInternetGateways,
/// DescribeEgressOnlyInternetGateways, DescribeNetworkAcls, DescribeSecurityGroups,
/// DescribeVpcEndpoints, DescribeVpcBlockPublicAccessOptions, DescribeNetworkInterfaces)
/// and, with a network role, sts:AssumeRole (1); then only when needed: its transit
/// gateway attachments when a route names a tgw- (DescribeTransitGatewayAttachments and
/// DescribeTransitGatewayVpcAttachments, 2), DescribeDhcpOptions (a custom set), DescribeManagedPrefixLists +
/// one GetManagedPrefixListEntries per referenced list, DescribeVpcBlockPublicAccessExclusions
/// (BPA on), DescribeAvailabilityZones (a subnet without AZ ID), DescribeVpcPeeringConnections
/// (routes name a pcx-), ListFirewalls (routes name an appliance endpoint).
/// Per transit gateway hop: DescribeTransitGateways, SearchTransitGatewayRoutes on the
/// associated table (1 per 1000 routes), the attachment the internet-bound routes lead to
/// (DescribeTransitGatewayAttachments + DescribeTransitGatewayVpcAttachments by ID), and
/// SearchTransitGatewayRoutes on the table associated with it (the return path); the VPC
/// behind it is read like the workload VPC but without Lambda ENIs and BPA (11).
/// Per firewall: ListFirewalls (by VPC), DescribeFirewall, DescribeFirewallPolicy, and one
/// DescribeRuleGroup per referenced group. `Scope::Subnets` adds one identifying
/// DescribeSubnets; `Scope::Function` adds GetFunctionConfiguration and one DescribeSubnets
/// to derive the VPC. `api_calls` counts them all; `api_stages` counts sequential rounds.
///
/// Errors only when the subject is missing or the identifying call fails; any later
/// failure is a `SnapshotGap` (with the account, when it was another's) and the snapshot
/// is returned (partial analysis).
pub async fn take_cached(
    clients: &Clients,
    scope: &Scope,
    cache: &RunCache,
) -> Result<NetworkSnapshot, SnapshotError> {
    take_cached_until(clients, scope, cache, None).await
}

/// `take`, waiting for no request past `deadline`: a call still unanswered then becomes a
/// gap (kind `unreachable`, the call named) and the snapshot is returned with everything
/// that did answer — partial analysis, not none (issue 12.7). The first round of a VPC may
/// use two thirds of the time left, so later rounds keep their turn. An identifying call
/// that does not answer in time is an error: then nothing answered.
pub async fn take_until(
    clients: &Clients,
    scope: &Scope,
    deadline: Option<tokio::time::Instant>,
) -> Result<NetworkSnapshot, SnapshotError> {
    take_cached_until(clients, scope, &RunCache::default(), deadline).await
}

/// `take_cached` with the deadline of `take_until`.
pub async fn take_cached_until(
    clients: &Clients,
    scope: &Scope,
    cache: &RunCache,
    deadline: Option<tokio::time::Instant>,
) -> Result<NetworkSnapshot, SnapshotError> {
    let r = read::Reader::until(clients, deadline);
    let mut snap = NetworkSnapshot {
        region: clients.ec2.config().region().map(|r| r.to_string()),
        taken_at: now_rfc3339(),
        ..NetworkSnapshot::default()
    };
    let mut workloads: Vec<walk::Workload> = Vec::new();
    let mut stages = 0;
    match scope {
        Scope::Vpc(id) => {
            let vpc = read::identify_vpc(&r, id).await?;
            workloads.push(walk::Workload {
                vpc_id: id.clone(),
                known: Some(vpc),
                enis: read::EniScope::default(),
            });
            stages += 1;
        }
        Scope::Subnets(ids) => {
            let subnets = read::identify_subnets(&r, ids).await?;
            stages += 1;
            for vpc_id in vpcs_of(&subnets) {
                let enis = read::EniScope {
                    subnet_ids: subnets
                        .iter()
                        .filter(|s| s.vpc_id() == Some(vpc_id.as_str()))
                        .filter_map(|s| s.subnet_id().map(str::to_string))
                        .collect(),
                    group_ids: Vec::new(),
                };
                workloads.push(walk::Workload {
                    vpc_id,
                    known: None,
                    enis,
                });
            }
        }
        Scope::Function(name) => {
            let out = read::identify_function(&r, name).await?;
            stages += 1;
            let mut function = convert::function(name, &out);
            let api_vpc_id = out
                .vpc_config()
                .and_then(|v| v.vpc_id())
                .filter(|v| !v.is_empty())
                .map(str::to_string);
            if function.in_vpc() {
                stages += 1;
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
                            workloads.push(walk::Workload {
                                vpc_id,
                                known: None,
                                enis: enis.clone(),
                            });
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
    if !workloads.is_empty() {
        stages += walk::run(&r, clients, cache, workloads, &mut snap).await;
    }
    snap.api_calls = r.calls();
    snap.api_stages = stages;
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
    use crate::permissions::{
        DIAGNOSIS_ACTIONS, NETWORK_ACTIONS, NETWORK_ROLE_ACTIONS, SELF_ACTIONS,
    };

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
            .chain(NETWORK_ROLE_ACTIONS)
            .copied()
            .collect();
        allowed.sort_unstable();
        assert_eq!(calls, allowed);
        // The network-account role needs a subset: what is read there.
        for a in NETWORK_ACTIONS {
            assert!(calls.contains(a), "{a} is not a call of the reader");
        }
        for a in [
            call::SEARCH_TRANSIT_GATEWAY_ROUTES,
            call::DESCRIBE_FIREWALL,
            call::DESCRIBE_ROUTE_TABLES,
        ] {
            assert!(
                NETWORK_ACTIONS.contains(&a),
                "{a} missing from NETWORK_ACTIONS"
            );
        }
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
