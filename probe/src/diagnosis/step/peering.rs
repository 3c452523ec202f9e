//! VPC peering as a next hop (R56): the connection must be active, and peering is not
//! transitive: a destination outside the peer VPC's CIDRs (the internet through the
//! peer's NAT or internet gateway) is dropped.

use crate::diagnosis::catalog::{Issue, RouteRef};
use crate::diagnosis::nat_choice::choose;
use crate::diagnosis::state::{Next, Walk};
use crate::model::{Direction, HopVerdict, RouteTarget, Subnet};

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
    w.issues.push(Issue::PeeringAsEgress {
        subnet,
        route,
        peer_vpc: peer.vpc_id.clone(),
        peer_cidrs: peer.cidrs.iter().map(|c| c.to_string()).collect(),
        destination: w.dest,
        nat: choose(w.ix, from, None),
    });
    vec![]
}
