//! Security-group evaluation (R18): stateful, allow-only; the egress rules of every group
//! on the ENI are unioned. Protocols -1/6/17/1/58, port ranges, IPv4/IPv6 CIDRs, prefix
//! lists and security-group references.

use super::index::Index;
use crate::model::{Protocol, SgPeer, SgRule};
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SgVerdict {
    /// Allowed; `sg-1 egress tcp 443 0.0.0.0/0`.
    Allow(String),
    /// No rule of any group allows it.
    Deny,
    /// Cannot tell (a group or prefix list is missing from the snapshot, or only a
    /// security-group reference could allow it and the peer's groups are unknown).
    Unknown(String),
}

/// What the snapshot knows about the other end of the flow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Remote<'s> {
    pub addr: IpAddr,
    /// Security groups of the remote ENI, when the snapshot has it (endpoint ENIs, R29).
    pub groups: Option<&'s [String]>,
}

fn rule_ports_match(rule: &SgRule, protocol: Protocol, port: u16) -> bool {
    if !rule.protocol.matches(protocol) {
        return false;
    }
    match (rule.protocol.0, rule.port_range) {
        (6 | 17, Some(p)) => p.contains(port),
        _ => true,
    }
}

fn rule_text(sg: &str, dir: &str, r: &SgRule) -> String {
    let ports = match (r.protocol.0, r.port_range) {
        (6 | 17, Some(p)) if p.from == p.to => format!(" {}", p.from),
        (6 | 17, Some(p)) => format!(" {}-{}", p.from, p.to),
        _ => String::new(),
    };
    let peer = match &r.peer {
        SgPeer::Cidr(c) => c.to_string(),
        SgPeer::PrefixList(p) => p.clone(),
        SgPeer::SecurityGroup(g) => g.clone(),
    };
    format!("{sg} {dir} {}{ports} {peer}", r.protocol.name())
}

/// True for addresses that can belong to an ENI in this or a connected VPC.
fn is_private(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.is_private() || a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64,
        IpAddr::V6(a) => (a.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// Evaluates a list of rules (one direction of several groups) for one packet.
fn evaluate_rules<'r>(
    ix: &Index<'_>,
    groups: impl Iterator<Item = (&'r str, &'r [SgRule])>,
    dir: &str,
    protocol: Protocol,
    port: u16,
    remote: Remote<'_>,
) -> SgVerdict {
    let mut unknown: Option<String> = None;
    for (sg, rules) in groups {
        for r in rules {
            if !rule_ports_match(r, protocol, port) {
                continue;
            }
            match &r.peer {
                SgPeer::Cidr(c) => {
                    if c.contains(&remote.addr) {
                        return SgVerdict::Allow(rule_text(sg, dir, r));
                    }
                }
                SgPeer::PrefixList(id) => match ix.prefix_list(id) {
                    Some(pl) => {
                        if pl.cidrs.iter().any(|c| c.contains(&remote.addr)) {
                            return SgVerdict::Allow(rule_text(sg, dir, r));
                        }
                    }
                    None => {
                        unknown.get_or_insert(format!(
                            "{sg} rule to prefix list {id}: list not in the snapshot"
                        ));
                    }
                },
                SgPeer::SecurityGroup(g) => match remote.groups {
                    Some(groups) if groups.iter().any(|x| x == g) => {
                        return SgVerdict::Allow(rule_text(sg, dir, r));
                    }
                    Some(_) => {}
                    // A group reference only ever matches the private addresses of ENIs in
                    // that group: it cannot admit an internet address.
                    None if is_private(&remote.addr) => {
                        unknown.get_or_insert(format!(
                            "{sg} rule references {g}: whether {} is in it is not verifiable from here",
                            remote.addr
                        ));
                    }
                    None => {}
                },
            }
        }
    }
    match unknown {
        Some(why) => SgVerdict::Unknown(why),
        None => SgVerdict::Deny,
    }
}

/// R18: egress of the ENI with `sg_ids` to `remote` on `protocol`/`port`.
pub(crate) fn egress(
    ix: &Index<'_>,
    sg_ids: &[String],
    protocol: Protocol,
    port: u16,
    remote: Remote<'_>,
) -> SgVerdict {
    directed(ix, sg_ids, "ENI", "egress", protocol, port, remote)
}

/// Ingress of an ENI with `sg_ids` (an interface endpoint, R29) from `remote`.
pub(crate) fn ingress(
    ix: &Index<'_>,
    sg_ids: &[String],
    protocol: Protocol,
    port: u16,
    remote: Remote<'_>,
) -> SgVerdict {
    directed(ix, sg_ids, "endpoint", "ingress", protocol, port, remote)
}

/// The union of the groups' rules of one direction (`egress` or `ingress`).
fn directed(
    ix: &Index<'_>,
    sg_ids: &[String],
    owner: &str,
    direction: &str,
    protocol: Protocol,
    port: u16,
    remote: Remote<'_>,
) -> SgVerdict {
    if sg_ids.is_empty() {
        return SgVerdict::Unknown(format!("the {owner}'s security groups are not known"));
    }
    let mut groups = Vec::new();
    for id in sg_ids {
        match ix.sg(id) {
            Some(g) => {
                let rules = if direction == "egress" {
                    g.egress.as_slice()
                } else {
                    g.ingress.as_slice()
                };
                groups.push((g.id.as_str(), rules));
            }
            None => return SgVerdict::Unknown(format!("{id} is not in the snapshot")),
        }
    }
    evaluate_rules(ix, groups.into_iter(), direction, protocol, port, remote)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{NetworkSnapshot, PortRange, PrefixList, SecurityGroup};

    fn rule(proto: &str, ports: Option<(u16, u16)>, peer: SgPeer) -> SgRule {
        SgRule {
            rule_id: None,
            protocol: Protocol::parse(proto).unwrap(),
            port_range: ports.map(|(from, to)| PortRange { from, to }),
            peer,
        }
    }
    fn cidr(s: &str) -> SgPeer {
        SgPeer::Cidr(s.parse().unwrap())
    }
    fn snap(groups: Vec<(&str, Vec<SgRule>)>) -> NetworkSnapshot {
        NetworkSnapshot {
            security_groups: groups
                .into_iter()
                .map(|(id, egress)| SecurityGroup {
                    id: id.into(),
                    vpc_id: "vpc-1".into(),
                    name: None,
                    egress,
                    ingress: vec![],
                })
                .collect(),
            prefix_lists: vec![PrefixList {
                id: "pl-1".into(),
                name: None,
                cidrs: vec!["198.51.100.0/24".parse().unwrap()],
            }],
            ..Default::default()
        }
    }
    fn out(s: &NetworkSnapshot, sgs: &[&str], proto: Protocol, port: u16, to: &str) -> SgVerdict {
        let ix = Index::new(s);
        let ids: Vec<String> = sgs.iter().map(|x| x.to_string()).collect();
        egress(
            &ix,
            &ids,
            proto,
            port,
            Remote {
                addr: to.parse().unwrap(),
                groups: None,
            },
        )
    }

    #[test]
    fn r18_union_of_groups() {
        let s = snap(vec![
            ("sg-a", vec![rule("tcp", Some((80, 80)), cidr("0.0.0.0/0"))]),
            ("sg-b", vec![rule("6", Some((443, 443)), cidr("0.0.0.0/0"))]),
        ]);
        assert_eq!(
            out(&s, &["sg-a", "sg-b"], Protocol::TCP, 443, "203.0.113.1"),
            SgVerdict::Allow("sg-b egress tcp 443 0.0.0.0/0".into())
        );
        assert_eq!(
            out(&s, &["sg-a"], Protocol::TCP, 443, "203.0.113.1"),
            SgVerdict::Deny
        );
    }

    #[test]
    fn r18_protocol_must_match_and_all_means_all() {
        let s = snap(vec![
            (
                "sg-udp",
                vec![rule("udp", Some((53, 53)), cidr("0.0.0.0/0"))],
            ),
            ("sg-all", vec![rule("-1", None, cidr("0.0.0.0/0"))]),
            ("sg-icmp", vec![rule("icmp", None, cidr("0.0.0.0/0"))]),
        ]);
        assert_eq!(
            out(&s, &["sg-udp"], Protocol::TCP, 53, "10.0.0.53"),
            SgVerdict::Deny
        );
        assert!(matches!(
            out(&s, &["sg-udp"], Protocol::UDP, 53, "10.0.0.53"),
            SgVerdict::Allow(_)
        ));
        assert!(matches!(
            out(&s, &["sg-all"], Protocol::TCP, 8443, "203.0.113.1"),
            SgVerdict::Allow(_)
        ));
        assert_eq!(
            out(&s, &["sg-icmp"], Protocol::TCP, 443, "203.0.113.1"),
            SgVerdict::Deny
        );
    }

    #[test]
    fn r31_ipv4_rule_does_not_admit_ipv6() {
        let s = snap(vec![
            ("sg-4", vec![rule("-1", None, cidr("0.0.0.0/0"))]),
            ("sg-6", vec![rule("-1", None, cidr("::/0"))]),
        ]);
        assert_eq!(
            out(&s, &["sg-4"], Protocol::TCP, 443, "2001:db8::1"),
            SgVerdict::Deny
        );
        assert!(matches!(
            out(&s, &["sg-6"], Protocol::TCP, 443, "2001:db8::1"),
            SgVerdict::Allow(_)
        ));
    }

    #[test]
    fn r18_prefix_list_resolved_and_missing_list_unknown() {
        let s = snap(vec![
            (
                "sg-pl",
                vec![rule(
                    "tcp",
                    Some((443, 443)),
                    SgPeer::PrefixList("pl-1".into()),
                )],
            ),
            (
                "sg-gone",
                vec![rule(
                    "tcp",
                    Some((443, 443)),
                    SgPeer::PrefixList("pl-x".into()),
                )],
            ),
        ]);
        assert!(matches!(
            out(&s, &["sg-pl"], Protocol::TCP, 443, "198.51.100.4"),
            SgVerdict::Allow(_)
        ));
        assert_eq!(
            out(&s, &["sg-pl"], Protocol::TCP, 443, "203.0.113.4"),
            SgVerdict::Deny
        );
        assert!(matches!(
            out(&s, &["sg-gone"], Protocol::TCP, 443, "203.0.113.4"),
            SgVerdict::Unknown(_)
        ));
    }

    #[test]
    fn r18_group_reference_never_admits_internet_address() {
        let s = snap(vec![(
            "sg-ref",
            vec![rule(
                "tcp",
                Some((443, 443)),
                SgPeer::SecurityGroup("sg-db".into()),
            )],
        )]);
        assert_eq!(
            out(&s, &["sg-ref"], Protocol::TCP, 443, "203.0.113.4"),
            SgVerdict::Deny
        );
        assert!(matches!(
            out(&s, &["sg-ref"], Protocol::TCP, 443, "10.0.2.4"),
            SgVerdict::Unknown(_)
        ));
        let ix = Index::new(&s);
        let groups = vec!["sg-db".to_string()];
        let v = egress(
            &ix,
            &["sg-ref".to_string()],
            Protocol::TCP,
            443,
            Remote {
                addr: "10.0.2.4".parse().unwrap(),
                groups: Some(&groups),
            },
        );
        assert!(matches!(v, SgVerdict::Allow(_)));
    }

    #[test]
    fn r18_no_egress_rules_denies_and_port_range_inclusive() {
        let s = snap(vec![
            ("sg-empty", vec![]),
            (
                "sg-range",
                vec![rule("tcp", Some((440, 450)), cidr("0.0.0.0/0"))],
            ),
        ]);
        assert_eq!(
            out(&s, &["sg-empty"], Protocol::TCP, 443, "203.0.113.4"),
            SgVerdict::Deny
        );
        assert!(matches!(
            out(&s, &["sg-range"], Protocol::TCP, 450, "203.0.113.4"),
            SgVerdict::Allow(_)
        ));
        assert_eq!(
            out(&s, &["sg-range"], Protocol::TCP, 451, "203.0.113.4"),
            SgVerdict::Deny
        );
    }
}
