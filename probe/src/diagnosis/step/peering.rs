//! VPC peering as a next hop (R56): the connection must be active, and peering is not
//! transitive: a destination outside the peer VPC's CIDRs (the internet through the
//! peer's NAT or internet gateway) is dropped.

use crate::diagnosis::catalog::{Issue, RouteRef};
use crate::diagnosis::nat_choice::choose;
use crate::diagnosis::state::{Next, Walk};
use crate::model::{Direction, HopVerdict, RouteDestination, RouteTarget, Subnet};

pub(crate) fn run<'a>(
    w: &mut Walk<'a, '_>,
    pcx: &str,
    route: RouteRef,
    from: &'a Subnet,
) -> Vec<Next<'a>> {
    let legacy = |route: RouteRef| {
        vec![Next::NotVerifiable {
            route,
            target: RouteTarget::VpcPeeringConnection(pcx.to_string()),
        }]
    };
    let Some(conn) = w.ix.snap.vpc_peering_connection(pcx) else {
        if w.ix.gap("VpcPeeringConnections").is_some() {
            w.not_visible(
                "vpc_peering_connection",
                pcx,
                "VPC peering connection",
                None,
                "VpcPeeringConnections",
            );
            return vec![];
        }
        return legacy(route);
    };
    let subnet = w.subnet_id();
    if conn.status != "active" {
        w.hop(
            Direction::Forward,
            "vpc_peering_connection",
            pcx,
            None,
            HopVerdict::Block,
            format!("{pcx} is {}", conn.status),
            &["R56"],
        );
        w.issues.push(Issue::PeeringNotActive {
            subnet,
            route,
            status: conn.status.clone(),
        });
        return vec![];
    }
    let Some(peer) = conn.peer_of(&from.vpc_id) else {
        return legacy(route);
    };
    if peer.cidrs.is_empty() {
        return legacy(route);
    }
    if peer.cidrs.iter().any(|c| c.contains(&w.dest)) {
        w.hop(
            Direction::Forward,
            "vpc_peering_connection",
            pcx,
            None,
            HopVerdict::Pass,
            format!("{} is inside peer {}", w.dest, peer.vpc_id),
            &["R56"],
        );
        // The peer's own security groups, NACLs and route back are beyond the snapshot.
        return legacy(route);
    }
    w.hop(
        Direction::Forward,
        "vpc_peering_connection",
        pcx,
        None,
        HopVerdict::Block,
        format!(
            "{} is outside peer {} ({}): peering is not transitive",
            w.dest,
            peer.vpc_id,
            peer.cidrs
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        &["R56"],
    );
    let tgw = attached_tgw(w, &from.vpc_id);
    w.issues.push(Issue::PeeringAsEgress {
        subnet,
        route,
        peer_vpc: peer.vpc_id.clone(),
        peer_cidrs: peer.cidrs.iter().map(|c| c.to_string()).collect(),
        destination: w.dest,
        nat: choose(w.ix, from, None),
        peer_returns: tgw
            .as_deref()
            .filter(|t| attached_tgw(w, &peer.vpc_id).as_deref() == Some(*t))
            .map(|_| peer_returns(w, pcx, &peer.vpc_id, &from.vpc_id))
            .unwrap_or_default(),
        tgw,
    });
    vec![]
}

/// R37: a transit gateway `vpc` has an available attachment to, when the snapshot holds
/// one (the reader reads a workload VPC's attachments when its internet-bound route names
/// a peering connection, for this fix). The first by ID, for a stable answer.
fn attached_tgw(w: &Walk<'_, '_>, vpc: &str) -> Option<String> {
    let mut tgws: Vec<&str> =
        w.ix.snap
            .transit_gateway_attachments
            .iter()
            .filter(|a| a.resource_type == "vpc" && a.resource_id.as_deref() == Some(vpc))
            .filter(|a| a.state == "available")
            .map(|a| a.transit_gateway_id.as_str())
            .collect();
    tgws.sort();
    tgws.first().map(|t| t.to_string())
}

/// The peer VPC's routes to `vpc`'s CIDRs over `pcx` (rtb, destination), sorted.
fn peer_returns(
    w: &Walk<'_, '_>,
    pcx: &str,
    peer_vpc: &str,
    vpc: &str,
) -> Vec<(String, RouteDestination)> {
    let Some(own) = w.ix.vpc(vpc) else {
        return vec![];
    };
    let mut out: Vec<(String, RouteDestination)> =
        w.ix.snap
            .route_tables
            .iter()
            .filter(|t| t.vpc_id == peer_vpc)
            .flat_map(|t| t.routes.iter().map(move |r| (t, r)))
            .filter(|(_, r)| matches!(&r.target, RouteTarget::VpcPeeringConnection(p) if p == pcx))
            .filter(|(_, r)| match &r.destination {
                RouteDestination::Ipv4(n) => own.cidr_blocks.iter().any(|c| c.contains(n)),
                RouteDestination::Ipv6(n) => own.ipv6_cidr_blocks.iter().any(|c| c.contains(n)),
                _ => false,
            })
            .map(|(t, r)| (t.id.clone(), r.destination.clone()))
            .collect();
    out.sort_by(|a, b| (&a.0, a.1.to_string()).cmp(&(&b.0, b.1.to_string())));
    out.dedup();
    out
}
