//! Route selection (R5, R6): longest prefix match over one route table, with AWS's tie
//! rules and prefix-list routes resolved through the snapshot's prefix lists.

use super::index::Index;
use crate::model::{Route, RouteDestination, RouteState, RouteTable, RouteTarget};
use ipnet::IpNet;
use std::net::IpAddr;

/// The route that carries a destination, and why.
#[derive(Debug, Clone)]
pub(crate) struct Chosen<'a> {
    pub route: &'a Route,
    /// The CIDR that matched (for a prefix-list route: the entry of the list).
    pub matched: IpNet,
    /// Notes that qualify the choice (an unresolved prefix list, an arbitrary tie).
    pub notes: Vec<String>,
}

/// Priority class on equal prefix length (R6): static CIDR route, then prefix-list route,
/// then propagated route. Lower is preferred.
fn class(route: &Route) -> u8 {
    match (&route.destination, route.propagated) {
        (RouteDestination::PrefixList(_), _) => 1,
        (_, false) => 0,
        (_, true) => 2,
    }
}

/// R6: the most specific route whose destination contains `dest`. Ties on prefix length:
/// static CIDR beats prefix list beats propagated. A blackhole route still captures the
/// traffic (it is returned; the caller drops the flow). IPv4 and IPv6 are separate.
pub(crate) fn select<'a>(ix: &Index<'a>, rtb: &'a RouteTable, dest: IpAddr) -> Option<Chosen<'a>> {
    let mut best: Option<(u8, u8, &'a Route, IpNet)> = None; // (prefix_len, class, route, net)
    let mut notes = Vec::new();
    let mut tie_lists: Vec<&str> = Vec::new();
    for route in &rtb.routes {
        let matched: Option<IpNet> = match (&route.destination, dest) {
            (RouteDestination::Ipv4(n), IpAddr::V4(a)) if n.contains(&a) => Some(IpNet::V4(*n)),
            (RouteDestination::Ipv6(n), IpAddr::V6(a)) if n.contains(&a) => Some(IpNet::V6(*n)),
            (RouteDestination::PrefixList(id), _) => match ix.prefix_list(id) {
                Some(pl) => pl
                    .cidrs
                    .iter()
                    .filter(|c| c.contains(&dest))
                    .max_by_key(|c| c.prefix_len())
                    .copied(),
                None => {
                    notes.push(format!(
                        "{id} is not in the snapshot: the route {id} -> {} was not evaluated",
                        route.target.id()
                    ));
                    None
                }
            },
            _ => None,
        };
        let Some(net) = matched else { continue };
        let key = (net.prefix_len(), class(route));
        let better = match &best {
            None => true,
            Some((len, cls, cur, _)) => {
                if key.0 != *len {
                    key.0 > *len
                } else if key.1 != *cls {
                    key.1 < *cls
                } else {
                    // Equal length and class. Two prefix lists: AWS picks one; we take the
                    // lowest ID for a deterministic answer and say so.
                    if let (RouteDestination::PrefixList(a), RouteDestination::PrefixList(b)) =
                        (&route.destination, &cur.destination)
                    {
                        tie_lists.push(a);
                        tie_lists.push(b);
                        a < b
                    } else {
                        false
                    }
                }
            }
        };
        if better {
            best = Some((key.0, key.1, route, net));
        }
    }
    let (_, _, route, matched) = best?;
    if !tie_lists.is_empty() {
        tie_lists.sort();
        tie_lists.dedup();
        notes.push(format!(
            "prefix lists {} overlap: AWS uses one of them (R6)",
            tie_lists.join(", ")
        ));
    }
    Some(Chosen {
        route,
        matched,
        notes,
    })
}

/// `rtb-1: 0.0.0.0/0 -> nat-1 (active)`.
pub(crate) fn describe(rtb: &RouteTable, route: &Route) -> String {
    let state = match route.state {
        RouteState::Active => "active",
        RouteState::Blackhole => "blackhole",
        RouteState::Unknown => "unknown state",
    };
    let prop = if route.propagated { ", propagated" } else { "" };
    format!(
        "{}: {} -> {} ({state}{prop})",
        rtb.id,
        route.destination,
        route.target.id()
    )
}

/// Human name of a next-hop kind, for "not verifiable" texts (R15).
pub(crate) fn target_kind(t: &RouteTarget) -> &'static str {
    match t {
        RouteTarget::Local => "local",
        RouteTarget::InternetGateway(_) => "internet gateway",
        RouteTarget::EgressOnlyInternetGateway(_) => "egress-only internet gateway",
        RouteTarget::NatGateway(_) => "NAT gateway",
        RouteTarget::TransitGateway(_) => "transit gateway",
        RouteTarget::VpcPeeringConnection(_) => "VPC peering connection",
        RouteTarget::NetworkInterface(_) => "network interface (appliance / NAT instance)",
        RouteTarget::Instance(_) => "instance (NAT instance / appliance)",
        RouteTarget::VpcEndpoint(_) => "VPC endpoint",
        RouteTarget::VirtualPrivateGateway(_) => "virtual private gateway (VPN / Direct Connect)",
        RouteTarget::LocalGateway(_) => "local gateway (Outposts)",
        RouteTarget::CarrierGateway(_) => "carrier gateway (Wavelength)",
        RouteTarget::CoreNetwork(_) => "Cloud WAN core network",
        RouteTarget::Other(_) => "unrecognised target",
    }
}

/// What to check beyond a next hop the snapshot cannot follow (R15).
pub(crate) fn not_verifiable_check(t: &RouteTarget, dest: IpAddr) -> String {
    match t {
        RouteTarget::TransitGateway(id) => format!(
            "the transit gateway route table of the attachment (aws ec2 search-transit-gateway-routes --transit-gateway-route-table-id <tgw-rtb-id> --filters Name=route-search.longest-prefix-match,Values={}), and the egress VPC's NAT gateway, routes and NACLs behind {id}",
            IpNet::from(dest)
        ),
        RouteTarget::VpcPeeringConnection(id) => format!(
            "the peer VPC's route back and its security groups/NACLs; a NAT gateway cannot be used through {id} (peering)"
        ),
        RouteTarget::NetworkInterface(id) | RouteTarget::Instance(id) => format!(
            "the appliance or NAT instance {id}: source/destination check disabled, its own routes, security group and OS forwarding"
        ),
        RouteTarget::VpcEndpoint(id) => format!(
            "{id} (Gateway Load Balancer / firewall endpoint): the firewall's rules and the route back from the firewall subnet"
        ),
        RouteTarget::VirtualPrivateGateway(id) => format!(
            "the on-premises network behind {id} (VPN / Direct Connect) and its internet egress"
        ),
        other => format!("the network behind {}", other.id()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{NetworkSnapshot, PrefixList};

    fn route(dest: &str, target: RouteTarget, propagated: bool) -> Route {
        let destination = if let Some(pl) = dest.strip_prefix("pl:") {
            RouteDestination::PrefixList(pl.to_string())
        } else {
            match dest.parse::<IpNet>().unwrap() {
                IpNet::V4(n) => RouteDestination::Ipv4(n),
                IpNet::V6(n) => RouteDestination::Ipv6(n),
            }
        };
        Route {
            destination,
            target,
            state: RouteState::Active,
            propagated,
        }
    }

    fn snap(routes: Vec<Route>, pls: Vec<(&str, &[&str])>) -> NetworkSnapshot {
        NetworkSnapshot {
            route_tables: vec![RouteTable {
                id: "rtb-1".into(),
                vpc_id: "vpc-1".into(),
                main: true,
                subnet_ids: vec![],
                routes,
            }],
            prefix_lists: pls
                .into_iter()
                .map(|(id, cidrs)| PrefixList {
                    id: id.into(),
                    name: None,
                    cidrs: cidrs.iter().map(|c| c.parse().unwrap()).collect(),
                })
                .collect(),
            ..Default::default()
        }
    }

    fn pick(s: &NetworkSnapshot, dest: &str) -> Option<String> {
        let ix = Index::new(s);
        let rtb = &s.route_tables[0];
        select(&ix, rtb, dest.parse().unwrap()).map(|c| c.route.target.id().to_string())
    }

    #[test]
    fn r6_longest_prefix_wins_over_default() {
        let s = snap(
            vec![
                route("0.0.0.0/0", RouteTarget::NatGateway("nat-1".into()), false),
                route(
                    "198.51.100.0/24",
                    RouteTarget::TransitGateway("tgw-1".into()),
                    false,
                ),
                route("10.0.0.0/16", RouteTarget::Local, false),
            ],
            vec![],
        );
        assert_eq!(pick(&s, "198.51.100.7").as_deref(), Some("tgw-1"));
        assert_eq!(pick(&s, "203.0.113.7").as_deref(), Some("nat-1"));
        assert_eq!(pick(&s, "10.0.3.4").as_deref(), Some("local"));
    }

    #[test]
    fn r6_static_beats_propagated_on_equal_prefix() {
        // Order in the table must not matter: propagated listed first, then static.
        let s = snap(
            vec![
                route(
                    "0.0.0.0/0",
                    RouteTarget::VirtualPrivateGateway("vgw-1".into()),
                    true,
                ),
                route("0.0.0.0/0", RouteTarget::NatGateway("nat-1".into()), false),
            ],
            vec![],
        );
        assert_eq!(pick(&s, "203.0.113.7").as_deref(), Some("nat-1"));
    }

    #[test]
    fn r6_more_specific_propagated_beats_static_default() {
        let s = snap(
            vec![
                route("0.0.0.0/0", RouteTarget::NatGateway("nat-1".into()), false),
                route(
                    "203.0.113.0/24",
                    RouteTarget::VirtualPrivateGateway("vgw-1".into()),
                    true,
                ),
            ],
            vec![],
        );
        assert_eq!(pick(&s, "203.0.113.7").as_deref(), Some("vgw-1"));
    }

    #[test]
    fn r6_cidr_route_beats_prefix_list_route_of_equal_length() {
        let s = snap(
            vec![
                route("pl:pl-s3", RouteTarget::VpcEndpoint("vpce-1".into()), false),
                route(
                    "198.51.100.0/24",
                    RouteTarget::NatGateway("nat-1".into()),
                    false,
                ),
            ],
            vec![("pl-s3", &["198.51.100.0/24"])],
        );
        assert_eq!(pick(&s, "198.51.100.9").as_deref(), Some("nat-1"));
    }

    #[test]
    fn r6_prefix_list_beats_propagated_and_default() {
        let s = snap(
            vec![
                route("0.0.0.0/0", RouteTarget::NatGateway("nat-1".into()), false),
                route(
                    "198.51.100.0/24",
                    RouteTarget::VirtualPrivateGateway("vgw-1".into()),
                    true,
                ),
                route("pl:pl-s3", RouteTarget::VpcEndpoint("vpce-1".into()), false),
            ],
            vec![("pl-s3", &["198.51.100.0/24", "192.0.2.0/25"])],
        );
        assert_eq!(pick(&s, "198.51.100.9").as_deref(), Some("vpce-1"));
        assert_eq!(pick(&s, "192.0.2.9").as_deref(), Some("vpce-1"));
        assert_eq!(pick(&s, "192.0.2.200").as_deref(), Some("nat-1"));
    }

    #[test]
    fn r6_unknown_prefix_list_is_skipped_with_a_note() {
        let s = snap(
            vec![
                route("0.0.0.0/0", RouteTarget::NatGateway("nat-1".into()), false),
                route(
                    "pl:pl-gone",
                    RouteTarget::VpcEndpoint("vpce-1".into()),
                    false,
                ),
            ],
            vec![],
        );
        let ix = Index::new(&s);
        let c = select(&ix, &s.route_tables[0], "198.51.100.1".parse().unwrap()).unwrap();
        assert_eq!(c.route.target.id(), "nat-1");
        assert!(c.notes[0].contains("pl-gone"));
    }

    #[test]
    fn r8_blackhole_that_is_most_specific_still_captures() {
        let mut s = snap(
            vec![
                route("0.0.0.0/0", RouteTarget::NatGateway("nat-1".into()), false),
                route(
                    "203.0.113.0/24",
                    RouteTarget::NatGateway("nat-old".into()),
                    false,
                ),
            ],
            vec![],
        );
        s.route_tables[0].routes[1].state = RouteState::Blackhole;
        let ix = Index::new(&s);
        let c = select(&ix, &s.route_tables[0], "203.0.113.5".parse().unwrap()).unwrap();
        assert_eq!(c.route.target.id(), "nat-old");
        assert_eq!(c.route.state, RouteState::Blackhole);
    }

    #[test]
    fn r6_ipv4_default_never_carries_ipv6() {
        let s = snap(
            vec![
                route("0.0.0.0/0", RouteTarget::NatGateway("nat-1".into()), false),
                route("10.0.0.0/16", RouteTarget::Local, false),
            ],
            vec![],
        );
        assert_eq!(pick(&s, "2001:db8::1"), None);
        let s = snap(
            vec![route(
                "::/0",
                RouteTarget::EgressOnlyInternetGateway("eigw-1".into()),
                false,
            )],
            vec![],
        );
        assert_eq!(pick(&s, "2001:db8::1").as_deref(), Some("eigw-1"));
        assert_eq!(pick(&s, "198.51.100.1"), None);
    }
}
