//! Function-level rules: not in a VPC, state and last update (R1, R2), its Lambda ENIs
//! (R3), subnets that behave differently (R4). NAT in another AZ (R13) and IPv6 (R31) are
//! judged on the path (`step/nat_gateway.rs`, `step/source.rs`).

use super::catalog::Issue;
use super::index::Index;
use super::nacl::Peer;
use super::state::Source;
use crate::model::{FunctionConfig, PathEvaluation, PathVerdict, Subnet};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::collections::BTreeMap;

/// R1, R2, R3 for a function read into the snapshot.
pub(crate) fn check(ix: &Index<'_>, f: &FunctionConfig) -> Vec<Issue> {
    let mut issues = Vec::new();
    if !f.in_vpc() {
        issues.push(Issue::FunctionNotInVpc {
            function: f.name.clone(),
        });
        return issues;
    }
    let state = f.state.as_deref().unwrap_or("Active");
    let update_failed = f.last_update_status.as_deref() == Some("Failed");
    if state != "Active" || update_failed {
        let low_ip_subnets = f
            .subnet_ids
            .iter()
            .filter(|s| {
                ix.subnet(s)
                    .and_then(|s| s.available_ip_address_count)
                    .is_some_and(|n| n < 2)
            })
            .cloned()
            .collect();
        issues.push(Issue::FunctionNotActive {
            function: f.name.clone(),
            state: if state == "Active" {
                "Active with a failed last update".into()
            } else {
                state.to_string()
            },
            reason: f.state_reason_code.clone(),
            last_update: f.last_update_status.clone(),
            last_update_reason: f.last_update_status_reason_code.clone(),
            low_ip_subnets,
        });
    } else if f.last_update_status.as_deref() == Some("InProgress") {
        issues.push(Issue::FunctionUpdateInProgress {
            function: f.name.clone(),
        });
    }
    // R3: only claim an ENI is missing when ENIs were read, and the function is Active
    // (a Pending/Inactive function is already explained by R1).
    if state == "Active" && ix.gap("DescribeNetworkInterfaces").is_none() {
        for subnet in &f.subnet_ids {
            if lambda_enis(ix, subnet, &f.security_group_ids).is_empty() {
                issues.push(Issue::LambdaEniMissing {
                    function: f.name.clone(),
                    subnet: subnet.clone(),
                    security_groups: f.security_group_ids.clone(),
                });
            }
        }
    }
    issues
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let mut a: Vec<&String> = a.iter().collect();
    let mut b: Vec<&String> = b.iter().collect();
    a.sort();
    a.dedup();
    b.sort();
    b.dedup();
    a == b
}

/// R3: the Lambda (Hyperplane) ENIs of a subnet with exactly these security groups
/// (filter on interface type, subnet and groups — not on the description).
pub(crate) fn lambda_enis<'a>(
    ix: &Index<'a>,
    subnet: &str,
    sgs: &[String],
) -> Vec<&'a crate::model::NetworkInterface> {
    ix.enis_in_subnet(subnet)
        .iter()
        .copied()
        .filter(|e| e.interface_type == "lambda")
        .filter(|e| sgs.is_empty() || same_set(&e.security_group_ids, sgs))
        .collect()
}

/// The source of paths from `subnet`: the function's ENI addresses there, else the
/// subnet's CIDRs; security groups from the subject, the function, or the ENI.
pub(crate) fn source<'a>(
    ix: &Index<'a>,
    subnet: &'a Subnet,
    function: Option<&'a FunctionConfig>,
    subject_sgs: &[String],
) -> Source<'a> {
    let mut sgs: Vec<String> = if !subject_sgs.is_empty() {
        subject_sgs.to_vec()
    } else {
        function
            .map(|f| f.security_group_ids.clone())
            .unwrap_or_default()
    };
    let mut enis = lambda_enis(ix, &subnet.id, &sgs);
    if enis.is_empty() && sgs.is_empty() {
        enis = lambda_enis(ix, &subnet.id, &[]);
    }
    if sgs.is_empty()
        && let Some(e) = enis.first()
    {
        sgs = e.security_group_ids.clone();
    }
    let mut v4: Vec<Peer> = enis
        .iter()
        .flat_map(|e| e.private_ips.iter())
        .map(|a| Peer::Addr((*a).into()))
        .collect();
    let mut v6: Vec<Peer> = enis
        .iter()
        .flat_map(|e| e.ipv6_addresses.iter())
        .map(|a| Peer::Addr((*a).into()))
        .collect();
    v4.sort_by_key(|p| p.to_string());
    v4.dedup();
    v6.sort_by_key(|p| p.to_string());
    v6.dedup();
    if v4.is_empty() {
        let net = subnet.cidr_block.unwrap_or_else(|| {
            Ipv4Net::new(std::net::Ipv4Addr::UNSPECIFIED, 0).unwrap_or_default()
        });
        v4.push(Peer::Net(IpNet::V4(net)));
    }
    if v6.is_empty() {
        v6.extend(
            subnet
                .ipv6_cidr_blocks
                .iter()
                .map(|n: &Ipv6Net| Peer::Net(IpNet::V6(*n))),
        );
    }
    Source {
        subnet,
        function,
        security_groups: sgs,
        v4,
        v6,
    }
}

/// R4: for each flow target, subnets whose verdicts differ.
pub(crate) fn subnets_differ(
    function: Option<&FunctionConfig>,
    sgs: &[String],
    paths: &[&PathEvaluation],
) -> Option<Issue> {
    // target -> subnet -> worst verdict
    let mut by_target: BTreeMap<String, BTreeMap<String, PathVerdict>> = BTreeMap::new();
    for p in paths {
        let Some(t) = &p.target else { continue };
        let entry = by_target
            .entry(format!("{t}@{}", p.destination))
            .or_default()
            .entry(p.subnet_id.clone())
            .or_insert(PathVerdict::Reachable);
        if rank(p.verdict) > rank(*entry) {
            *entry = p.verdict;
        }
    }
    let mut bad = std::collections::BTreeSet::new();
    let mut good = std::collections::BTreeSet::new();
    let mut targets = std::collections::BTreeSet::new();
    for (t, subnets) in &by_target {
        if subnets.len() < 2 {
            continue;
        }
        let ok: Vec<&String> = subnets
            .iter()
            .filter(|(_, v)| **v == PathVerdict::Reachable)
            .map(|(s, _)| s)
            .collect();
        let failing: Vec<&String> = subnets
            .iter()
            .filter(|(_, v)| matches!(v, PathVerdict::Blocked | PathVerdict::Intermittent))
            .map(|(s, _)| s)
            .collect();
        if !ok.is_empty() && !failing.is_empty() {
            targets.insert(t.split('@').next().unwrap_or(t).to_string());
            bad.extend(failing.into_iter().cloned());
            good.extend(ok.into_iter().cloned());
        }
    }
    if bad.is_empty() {
        return None;
    }
    let good: Vec<String> = good.difference(&bad).cloned().collect();
    Some(Issue::FunctionSubnetsDiffer {
        function: function.map(|f| f.name.clone()),
        good,
        bad: bad.into_iter().collect(),
        targets: targets.into_iter().collect(),
        security_groups: if sgs.is_empty() {
            function
                .map(|f| f.security_group_ids.clone())
                .unwrap_or_default()
        } else {
            sgs.to_vec()
        },
    })
}

fn rank(v: PathVerdict) -> u8 {
    match v {
        PathVerdict::Reachable => 0,
        PathVerdict::NotVerifiable => 1,
        PathVerdict::Intermittent => 2,
        PathVerdict::Blocked => 3,
    }
}
