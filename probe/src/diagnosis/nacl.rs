//! Network ACL evaluation (R20-R22, §F): stateless, entries in rule-number order, first
//! match wins, implicit deny applied here, IPv4 and IPv6 entries evaluated apart.
//! Evaluates a whole port range at once, so a return leg on 1024-65535 can come out
//! partially allowed (R21: intermittent failures).

use super::index::SortedAcl;
use crate::model::{HopVerdict, NaclEntry, PortRange, Protocol, RuleAction};
use ipnet::IpNet;
use std::net::IpAddr;

/// The far side of the packet as the NACL sees it: the destination for an egress entry,
/// the source for an ingress entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Peer {
    Addr(IpAddr),
    /// A whole range (a subnet CIDR, when no ENI address is known): an entry matches only
    /// when its CIDR contains the whole range.
    Net(IpNet),
}

impl Peer {
    fn matched_by(&self, cidr: &IpNet) -> bool {
        match self {
            Peer::Addr(a) => cidr.contains(a),
            Peer::Net(n) => cidr.contains(n),
        }
    }
    pub fn is_ipv6(&self) -> bool {
        match self {
            Peer::Addr(a) => a.is_ipv6(),
            Peer::Net(n) => matches!(n, IpNet::V6(_)),
        }
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Addr(a) => write!(f, "{a}"),
            Peer::Net(n) => write!(f, "{n}"),
        }
    }
}

/// One entry (or the implicit deny) and the part of the queried ports it decided.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decision {
    /// `None`: the implicit `*` deny.
    pub rule_number: Option<i32>,
    pub action: RuleAction,
    pub entry_text: String,
    /// The entry's CIDR (`None` for the implicit deny).
    pub cidr: Option<IpNet>,
    /// The entry's protocol (`None` for the implicit deny).
    pub protocol: Option<Protocol>,
    pub ports: Vec<PortRange>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NaclResult {
    pub acl_id: String,
    pub egress: bool,
    pub verdict: HopVerdict,
    pub allowed: Vec<PortRange>,
    pub denied: Vec<PortRange>,
    pub decisions: Vec<Decision>,
}

impl NaclResult {
    /// The first deciding deny (explicit or implicit).
    pub fn first_deny(&self) -> Option<&Decision> {
        self.decisions.iter().find(|d| d.action == RuleAction::Deny)
    }
    /// `acl-1 rule 100 allow tcp 443 0.0.0.0/0`, or several parts for a port range.
    pub fn decided_by(&self) -> String {
        let ranged = self.decisions.len() > 1;
        let parts: Vec<String> = self
            .decisions
            .iter()
            .map(|d| {
                let head = match d.rule_number {
                    Some(n) => format!("{} rule {n} {}", self.acl_id, d.entry_text),
                    None => format!("{} implicit deny (*)", self.acl_id),
                };
                if ranged {
                    format!("{head} [ports {}]", ranges_text(&d.ports))
                } else {
                    head
                }
            })
            .collect();
        parts.join("; ")
    }
    /// `#100` / `*` references for a finding's `rules`.
    pub fn deny_refs(&self) -> Vec<String> {
        self.decisions
            .iter()
            .filter(|d| d.action == RuleAction::Deny)
            .map(|d| match d.rule_number {
                Some(n) => format!("{} #{n}", self.acl_id),
                None => format!("{} #*", self.acl_id),
            })
            .collect()
    }
}

pub(crate) fn ranges_text(r: &[PortRange]) -> String {
    r.iter()
        .map(|p| {
            if p.from == p.to {
                p.from.to_string()
            } else {
                format!("{}-{}", p.from, p.to)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn entry_text(e: &NaclEntry) -> String {
    let action = match e.action {
        RuleAction::Allow => "allow",
        RuleAction::Deny => "deny",
    };
    let ports = match (&e.port_range, e.protocol.0) {
        (_, -1) => "all".to_string(),
        (Some(p), 6 | 17) => ranges_text(&[*p]),
        (None, 6 | 17) => "all".to_string(),
        _ => String::new(),
    };
    let ports = if ports.is_empty() {
        String::new()
    } else {
        format!(" {ports}")
    };
    format!("{action} {}{ports} {}", e.protocol.name(), e.cidr)
}

/// Ports an entry covers for a flow of `protocol`: all ports unless TCP/UDP with a range.
fn entry_ports(e: &NaclEntry, protocol: Protocol) -> PortRange {
    match (e.protocol.0, protocol.0, e.port_range) {
        (6 | 17, 6 | 17, Some(p)) => p,
        _ => PortRange { from: 0, to: 65535 },
    }
}

/// Splits `ranges` into (inside `r`, outside `r`).
fn split(ranges: &[PortRange], r: PortRange) -> (Vec<PortRange>, Vec<PortRange>) {
    let mut hit = Vec::new();
    let mut rest = Vec::new();
    for p in ranges {
        let lo = p.from.max(r.from);
        let hi = p.to.min(r.to);
        if lo > hi {
            rest.push(*p);
            continue;
        }
        hit.push(PortRange { from: lo, to: hi });
        if p.from < lo {
            rest.push(PortRange {
                from: p.from,
                to: lo - 1,
            });
        }
        if hi < p.to {
            rest.push(PortRange {
                from: hi + 1,
                to: p.to,
            });
        }
    }
    (hit, rest)
}

fn width(r: &[PortRange]) -> u32 {
    r.iter()
        .map(|p| u32::from(p.to) - u32::from(p.from) + 1)
        .sum()
}

/// Evaluates `acl` for packets of `protocol` to/from `peer` on `ports`, in one direction.
pub(crate) fn evaluate(
    acl: &SortedAcl<'_>,
    egress: bool,
    protocol: Protocol,
    peer: Peer,
    ports: PortRange,
) -> NaclResult {
    let mut undecided = vec![ports];
    let mut decisions = Vec::new();
    let mut allowed = Vec::new();
    let mut denied = Vec::new();
    for e in acl.entries(egress) {
        if !e.protocol.matches(protocol) {
            continue;
        }
        // IPv4 entries never match IPv6 traffic and vice versa.
        if matches!(e.cidr, IpNet::V6(_)) != peer.is_ipv6() || !peer.matched_by(&e.cidr) {
            continue;
        }
        let (hit, rest) = split(&undecided, entry_ports(e, protocol));
        if hit.is_empty() {
            continue;
        }
        match e.action {
            RuleAction::Allow => allowed.extend(hit.iter().copied()),
            RuleAction::Deny => denied.extend(hit.iter().copied()),
        }
        decisions.push(Decision {
            rule_number: Some(e.rule_number),
            action: e.action,
            entry_text: entry_text(e),
            cidr: Some(e.cidr),
            protocol: Some(e.protocol),
            ports: hit,
        });
        undecided = rest;
        if undecided.is_empty() {
            break;
        }
    }
    if !undecided.is_empty() {
        undecided.sort_by_key(|p| p.from);
        denied.extend(undecided.iter().copied());
        decisions.push(Decision {
            rule_number: None,
            action: RuleAction::Deny,
            entry_text: "deny all".into(),
            cidr: None,
            protocol: None,
            ports: undecided,
        });
    }
    allowed.sort_by_key(|p| p.from);
    denied.sort_by_key(|p| p.from);
    let verdict = if width(&allowed) == width(&[ports]) {
        HopVerdict::Pass
    } else if allowed.is_empty() {
        HopVerdict::Block
    } else {
        HopVerdict::Partial
    };
    NaclResult {
        acl_id: acl.acl.id.clone(),
        egress,
        verdict,
        allowed,
        denied,
        decisions,
    }
}

/// Combines results for several peers (e.g. several Lambda ENI addresses): the worst one
/// stands for all (first of equals, so the answer is deterministic).
pub(crate) fn combine(results: Vec<NaclResult>) -> Option<NaclResult> {
    let rank = |v: HopVerdict| match v {
        HopVerdict::Block => 3,
        HopVerdict::Partial => 2,
        HopVerdict::Unknown => 1,
        HopVerdict::Pass => 0,
    };
    results
        .into_iter()
        .fold(None, |acc: Option<NaclResult>, r| match acc {
            Some(a) if rank(a.verdict) >= rank(r.verdict) => Some(a),
            _ => Some(r),
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::NetworkAcl;

    fn e(
        n: i32,
        egress: bool,
        proto: &str,
        action: RuleAction,
        cidr: &str,
        ports: Option<(u16, u16)>,
    ) -> NaclEntry {
        NaclEntry {
            rule_number: n,
            egress,
            protocol: Protocol::parse(proto).unwrap(),
            action,
            cidr: cidr.parse().unwrap(),
            port_range: ports.map(|(from, to)| PortRange { from, to }),
            icmp_type_code: None,
        }
    }
    fn acl(entries: Vec<NaclEntry>) -> NetworkAcl {
        NetworkAcl {
            id: "acl-1".into(),
            vpc_id: "vpc-1".into(),
            is_default: false,
            subnet_ids: vec![],
            entries,
        }
    }
    fn addr(s: &str) -> Peer {
        Peer::Addr(s.parse().unwrap())
    }
    const ALLOW: RuleAction = RuleAction::Allow;
    const DENY: RuleAction = RuleAction::Deny;

    #[test]
    fn rule_number_order_not_api_order() {
        // AWS/moto may return entries in any order: 200 allow listed before 100 deny.
        let a = acl(vec![
            e(200, true, "6", ALLOW, "0.0.0.0/0", Some((443, 443))),
            e(100, true, "-1", DENY, "198.51.100.0/24", None),
        ]);
        let s = SortedAcl::new(&a);
        let r = evaluate(
            &s,
            true,
            Protocol::TCP,
            addr("198.51.100.7"),
            PortRange { from: 443, to: 443 },
        );
        assert_eq!(r.verdict, HopVerdict::Block);
        assert_eq!(
            r.decided_by(),
            "acl-1 rule 100 deny all all 198.51.100.0/24"
        );
        let r = evaluate(
            &s,
            true,
            Protocol::TCP,
            addr("203.0.113.7"),
            PortRange { from: 443, to: 443 },
        );
        assert_eq!(r.verdict, HopVerdict::Pass);
        assert_eq!(r.decided_by(), "acl-1 rule 200 allow tcp 443 0.0.0.0/0");
    }

    #[test]
    fn implicit_deny_applied_when_moto_omits_32767() {
        let a = acl(vec![e(
            100,
            true,
            "tcp",
            ALLOW,
            "0.0.0.0/0",
            Some((80, 80)),
        )]);
        let s = SortedAcl::new(&a);
        let r = evaluate(
            &s,
            true,
            Protocol::TCP,
            addr("203.0.113.7"),
            PortRange { from: 443, to: 443 },
        );
        assert_eq!(r.verdict, HopVerdict::Block);
        assert_eq!(r.decided_by(), "acl-1 implicit deny (*)");
        assert_eq!(r.deny_refs(), vec!["acl-1 #*".to_string()]);
    }

    #[test]
    fn ipv4_entries_never_match_ipv6_and_vice_versa() {
        let a = acl(vec![
            e(100, true, "-1", ALLOW, "0.0.0.0/0", None),
            e(32767, true, "-1", DENY, "0.0.0.0/0", None),
        ]);
        let s = SortedAcl::new(&a);
        let r = evaluate(
            &s,
            true,
            Protocol::TCP,
            addr("2001:db8::1"),
            PortRange { from: 443, to: 443 },
        );
        assert_eq!(
            r.verdict,
            HopVerdict::Block,
            "IPv4 allow must not admit IPv6 (R31)"
        );
        let a = acl(vec![e(101, true, "-1", ALLOW, "::/0", None)]);
        let s = SortedAcl::new(&a);
        assert_eq!(
            evaluate(
                &s,
                true,
                Protocol::TCP,
                addr("2001:db8::1"),
                PortRange { from: 443, to: 443 }
            )
            .verdict,
            HopVerdict::Pass
        );
        assert_eq!(
            evaluate(
                &s,
                true,
                Protocol::TCP,
                addr("198.51.100.1"),
                PortRange { from: 443, to: 443 }
            )
            .verdict,
            HopVerdict::Block
        );
    }

    #[test]
    fn r21_linux_ephemeral_range_is_partial_for_lambda() {
        let a = acl(vec![e(
            100,
            false,
            "6",
            ALLOW,
            "0.0.0.0/0",
            Some((32768, 61000)),
        )]);
        let s = SortedAcl::new(&a);
        let r = evaluate(
            &s,
            false,
            Protocol::TCP,
            addr("203.0.113.7"),
            PortRange::EPHEMERAL,
        );
        assert_eq!(r.verdict, HopVerdict::Partial);
        assert_eq!(
            r.allowed,
            vec![PortRange {
                from: 32768,
                to: 61000
            }]
        );
        assert_eq!(
            r.denied,
            vec![
                PortRange {
                    from: 1024,
                    to: 32767
                },
                PortRange {
                    from: 61001,
                    to: 65535
                }
            ]
        );
    }

    #[test]
    fn r21_full_ephemeral_range_passes_and_protocol_must_match() {
        let a = acl(vec![
            e(90, false, "17", DENY, "0.0.0.0/0", None),
            e(100, false, "6", ALLOW, "0.0.0.0/0", Some((1024, 65535))),
        ]);
        let s = SortedAcl::new(&a);
        assert_eq!(
            evaluate(
                &s,
                false,
                Protocol::TCP,
                addr("203.0.113.7"),
                PortRange::EPHEMERAL
            )
            .verdict,
            HopVerdict::Pass
        );
        assert_eq!(
            evaluate(
                &s,
                false,
                Protocol::UDP,
                addr("203.0.113.7"),
                PortRange::EPHEMERAL
            )
            .verdict,
            HopVerdict::Block
        );
    }

    #[test]
    fn deny_carved_out_of_a_later_allow_is_partial() {
        let a = acl(vec![
            e(50, false, "6", DENY, "0.0.0.0/0", Some((1024, 2047))),
            e(100, false, "-1", ALLOW, "0.0.0.0/0", None),
        ]);
        let s = SortedAcl::new(&a);
        let r = evaluate(
            &s,
            false,
            Protocol::TCP,
            addr("203.0.113.7"),
            PortRange::EPHEMERAL,
        );
        assert_eq!(r.verdict, HopVerdict::Partial);
        assert_eq!(r.deny_refs(), vec!["acl-1 #50".to_string()]);
        assert!(r.decided_by().contains("rule 50 deny tcp 1024-2047"));
    }

    #[test]
    fn subnet_range_matches_only_an_entry_covering_it() {
        let a = acl(vec![
            e(100, false, "-1", ALLOW, "10.0.1.0/25", None),
            e(200, false, "-1", ALLOW, "10.0.0.0/16", None),
        ]);
        let s = SortedAcl::new(&a);
        let r = evaluate(
            &s,
            false,
            Protocol::TCP,
            Peer::Net("10.0.1.0/24".parse().unwrap()),
            PortRange { from: 443, to: 443 },
        );
        assert_eq!(r.verdict, HopVerdict::Pass);
        assert!(r.decided_by().contains("rule 200"));
    }
}
