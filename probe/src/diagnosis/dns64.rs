//! R63: IPv6 subnets and IPv4-only names. In an IPv6-only subnet, and in a dual-stack
//! subnet with DNS64 on for a function that sends IPv6 (`Ipv6AllowedForDualStack`), names
//! with only A records are reached through NAT64: DNS64 on the subnet synthesises
//! `64:ff9b::/96` AAAA answers, and the subnet's route table must send `64:ff9b::/96` to a
//! NAT gateway. Names what is missing.

use super::catalog::Issue;
use super::catalog::dns::DnsIssue;
use super::index::Index;
use super::nat_choice;
use super::routes;
use crate::model::{FunctionConfig, RouteTarget, Subnet};
use std::net::{IpAddr, Ipv6Addr};

/// An address inside `64:ff9b::/96` (the NAT64 form of 192.0.2.1) to look the route up.
const NAT64_PROBE: Ipv6Addr = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0201);

pub(crate) fn check(
    ix: &Index<'_>,
    subnet: &Subnet,
    function: Option<&FunctionConfig>,
) -> Vec<Issue> {
    let mut issues = Vec::new();
    let dual_stack_v6 = !subnet.ipv6_native
        && !subnet.ipv6_cidr_blocks.is_empty()
        && subnet.enable_dns64 == Some(true)
        && function.is_some_and(|f| f.ipv6_allowed_for_dual_stack);
    if !subnet.ipv6_native && !dual_stack_v6 {
        return issues;
    }
    if subnet.ipv6_native && subnet.enable_dns64 == Some(false) {
        issues.push(Issue::from(DnsIssue::Dns64Disabled {
            subnet: subnet.id.clone(),
            vpc: subnet.vpc_id.clone(),
        }));
    }
    let Some(rtb) = ix.effective_route_table(&subnet.id) else {
        return issues;
    };
    let chosen = routes::select(ix, rtb, IpAddr::V6(NAT64_PROBE));
    let to_nat = chosen.as_ref().is_some_and(|c| match &c.route.target {
        RouteTarget::NatGateway(id) => ix.nat(id).is_some_and(|n| n.state == "available"),
        _ => false,
    });
    if !to_nat {
        let current = chosen.as_ref().map(|c| routes::describe(rtb, c.route));
        let exact = chosen.as_ref().is_some_and(|c| {
            matches!(&c.route.destination, crate::model::RouteDestination::Ipv6(n) if n.to_string() == "64:ff9b::/96")
        });
        issues.push(Issue::from(DnsIssue::Nat64RouteMissing {
            subnet: subnet.id.clone(),
            rtb: rtb.id.clone(),
            current,
            replace: exact,
            nat: nat_choice::choose(ix, subnet, None),
            ipv6_only: subnet.ipv6_native,
        }));
    }
    issues
}
