//! Look-ups the steps share about resources beyond the VPC: who owns a transit gateway
//! (R45), and which step a route to a `vpce-…` leads to (R47, R57, else R15).

use super::catalog::RouteRef;
use super::index::Index;
use super::state::{Next, Walk};
use crate::model::{RouteTarget, Subnet};

/// The account that owns `tgw`, as far as the snapshot says (R45).
pub(crate) fn tgw_owner(ix: &Index<'_>, tgw: &str) -> Option<String> {
    ix.snap
        .transit_gateways
        .iter()
        .find(|t| t.id == tgw)
        .and_then(|t| t.owner_id.clone())
        .or_else(|| {
            ix.snap
                .transit_gateway_attachments
                .iter()
                .find(|a| a.transit_gateway_id == tgw)
                .and_then(|a| a.transit_gateway_owner_id.clone())
        })
}

/// A route to `vpce-…`: a firewall endpoint (R47), a GWLB endpoint (R57), else R15.
pub(crate) fn endpoint_next<'a>(
    w: &Walk<'a, '_>,
    id: &str,
    route: RouteRef,
    from: &'a Subnet,
) -> Vec<Next<'a>> {
    if w.ix.snap.firewall_endpoint(id).is_some() {
        return vec![Next::FirewallEndpoint {
            endpoint: id.to_string(),
            route,
            from,
        }];
    }
    match w.ix.endpoint(id) {
        Some(ep) if ep.endpoint_type.eq_ignore_ascii_case("GatewayLoadBalancer") => {
            vec![Next::GwlbEndpoint {
                endpoint: ep,
                route,
                from,
            }]
        }
        _ if w.ix.gap("network-firewall").is_some() => vec![Next::FirewallEndpoint {
            endpoint: id.to_string(),
            route,
            from,
        }],
        _ => vec![Next::NotVerifiable {
            route,
            target: RouteTarget::VpcEndpoint(id.to_string()),
        }],
    }
}
