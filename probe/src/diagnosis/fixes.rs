//! Helpers shared by the steps for fix commands and address classes: the NACL entry that
//! would make a leg pass, and which CIDR a fix opens.

use super::catalog::{NaclFix, any_cidr};
use super::index::SortedAcl;
use super::nacl::{self, NaclResult};
use crate::model::{PortRange, Protocol, RuleAction};
use ipnet::IpNet;
use std::net::IpAddr;

/// A NACL rule number that is free in that direction and is evaluated before `before`.
pub(crate) fn free_rule_number(acl: &SortedAcl<'_>, egress: bool, before: Option<i32>) -> i32 {
    let used: Vec<i32> = acl.entries(egress).iter().map(|e| e.rule_number).collect();
    let free = |n: &i32| !used.contains(n);
    match before {
        // After an explicit deny: the closest free multiple of 10 below it, else any.
        Some(b) => (1..b)
            .rev()
            .filter(|n| n % 10 == 0)
            .find(free)
            .or_else(|| (1..b).rev().find(free))
            .unwrap_or(1),
        None => (1..=327)
            .map(|k| k * 100)
            .find(free)
            .or_else(|| (1..32767).find(free))
            .unwrap_or(32766),
    }
}

/// The fix that makes `result` pass: widen the one partial allow entry, else add one.
pub(crate) fn nacl_fix(
    acl: &SortedAcl<'_>,
    result: &NaclResult,
    protocol: Protocol,
    ports: PortRange,
    cidr: String,
) -> NaclFix {
    let allows: Vec<&nacl::Decision> = result
        .decisions
        .iter()
        .filter(|d| d.action == RuleAction::Allow)
        .collect();
    let deny_first = result.first_deny();
    if let [only] = allows.as_slice()
        && let (Some(n), Some(c), Some(p)) = (only.rule_number, only.cidr, only.protocol)
        && matches!(p.0, 6 | 17)
        && deny_first.is_some_and(|d| d.rule_number.is_none())
        // Widen in place only an entry no wider than the flow's peer: widening the ports
        // of a `0.0.0.0/0` entry would open them for every source (issue 11); else a new,
        // narrow entry below.
        && c.to_string() == cidr
    {
        return NaclFix {
            acl: acl.acl.id.clone(),
            egress: result.egress,
            replace: true,
            rule_number: n,
            protocol: p,
            ports,
            cidr: c.to_string(),
            remove_deny: None,
            allow_at: None,
            deny_scope: None,
        };
    }
    // R20/R21: an explicit (numbered) deny is what blocks the flow. Never open more than
    // the flow in front of a deliberate deny (issue 11): an allow of exactly the flow's
    // peer and ports, numbered after every other deny in front of it, comes first; deleting
    // the deny is the alternative, with what else it blocks said in words.
    if let Some(d) = deny_first
        && let Some(n) = d.rule_number
    {
        let entries = acl.entries(result.egress);
        let deny_scope = entries
            .iter()
            .find(|e| e.rule_number == n)
            .map(|e| deny_scope(e));
        return NaclFix {
            acl: acl.acl.id.clone(),
            egress: result.egress,
            replace: false,
            rule_number: n,
            protocol,
            ports,
            cidr,
            remove_deny: Some(d.entry_text.clone()),
            allow_at: allow_ahead_of(acl, result.egress, n),
            deny_scope,
        };
    }
    NaclFix {
        acl: acl.acl.id.clone(),
        egress: result.egress,
        replace: false,
        rule_number: free_rule_number(acl, result.egress, None),
        protocol,
        ports,
        cidr,
        remove_deny: None,
        allow_at: None,
        deny_scope: None,
    }
}

/// A free rule number below `deny` and above every other deny in front of it (those keep
/// deciding first): the closest multiple of 10, else any (R20, R21; issue 11).
pub(crate) fn allow_ahead_of(acl: &SortedAcl<'_>, egress: bool, deny: i32) -> Option<i32> {
    let entries = acl.entries(egress);
    let low = entries
        .iter()
        .filter(|e| e.action == RuleAction::Deny && e.rule_number < deny)
        .map(|e| e.rule_number)
        .max()
        .unwrap_or(0);
    let free = |n: &i32| !entries.iter().any(|e| e.rule_number == *n);
    ((low + 1)..deny)
        .rev()
        .filter(|n| n % 10 == 0)
        .find(free)
        .or_else(|| ((low + 1)..deny).rev().find(free))
}

/// What a NACL entry covers, in words: `all traffic from 10.0.10.0/24`, `TCP 443 to any
/// IPv4 address (0.0.0.0/0)`.
pub(crate) fn deny_scope(e: &crate::model::NaclEntry) -> String {
    let what = match (e.protocol.0, e.port_range) {
        (-1, _) => "all traffic".to_string(),
        (6 | 17, Some(p)) if p.from == p.to => {
            format!("{} {}", e.protocol.name().to_uppercase(), p.from)
        }
        (6 | 17, Some(p)) if !(p.from == 0 && p.to == 65535) => {
            format!("{} {}-{}", e.protocol.name().to_uppercase(), p.from, p.to)
        }
        _ => format!("all {}", e.protocol.name().to_uppercase()),
    };
    let peer = match e.cidr.prefix_len() {
        0 if e.cidr.addr().is_ipv4() => "any IPv4 address (0.0.0.0/0)".to_string(),
        0 => "any IPv6 address (::/0)".to_string(),
        _ => e.cidr.to_string(),
    };
    format!("{what} {} {peer}", if e.egress { "to" } else { "from" })
}

pub(crate) fn is_rfc1918(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.is_private(),
        IpAddr::V6(_) => false,
    }
}

/// True for addresses an internet gateway would forward (not private, not ULA).
pub(crate) fn is_public(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => !(a.is_private() || a.is_loopback() || a.is_link_local()),
        IpAddr::V6(a) => (a.segments()[0] & 0xfe00) != 0xfc00 && !a.is_loopback(),
    }
}

/// The CIDR a security-group fix opens for `addr`: the whole internet for public
/// addresses, else the host.
pub(crate) fn fix_cidr(addr: &IpAddr) -> String {
    if is_public(addr) {
        any_cidr(addr).to_string()
    } else {
        IpNet::from(*addr).to_string()
    }
}

/// The CIDR a NACL fix opens for `addr`: the narrowest entry, the destination's (or
/// peer's) own address — never `0.0.0.0/0` (issue 11: a NACL is shared by the subnet,
/// and a fix must not open more than the flow it repairs).
pub(crate) fn nacl_cidr(addr: &IpAddr) -> String {
    IpNet::from(*addr).to_string()
}
