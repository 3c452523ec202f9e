//! R5-R9, R15: the function subnet's route table, the route chosen for the destination,
//! and which step its target leads to.

use crate::diagnosis::bpa::Via;
use crate::diagnosis::catalog::Issue;
use crate::diagnosis::lookup;
use crate::diagnosis::nat_choice;
use crate::diagnosis::routes;
use crate::diagnosis::state::{Next, Walk};
use crate::model::{Direction, Family, HopVerdict, RouteDestination, RouteState, RouteTarget};

pub(crate) fn function_route<'a>(w: &mut Walk<'a, '_>) -> Vec<Next<'a>> {
    let subnet = w.subnet_id();
    let Some(rtb) = w.ix.effective_route_table(&subnet) else {
        w.hop(
            Direction::Forward,
            "route_table",
            "?",
            Some(&subnet),
            HopVerdict::Unknown,
            format!("no route table for {subnet} in the snapshot"),
            &["R5"],
        );
        w.issues.push(Issue::SubnetNotInSnapshot {
            subnet,
            what: "route table".into(),
        });
        return vec![];
    };
    let Some(chosen) = routes::select(w.ix, rtb, w.dest) else {
        w.hop(
            Direction::Forward,
            "route_table",
            &rtb.id,
            Some(&subnet),
            HopVerdict::Block,
            format!("{}: no route matches {}", rtb.id, w.dest),
            &["R6", "R7"],
        );
        w.issues.push(Issue::NoRoute {
            subnet: subnet.clone(),
            rtb: rtb.id.clone(),
            family: w.family,
            nat: nat_choice::choose(w.ix, w.src.subnet, None),
            eigw: nat_choice::eigw_of(w.ix, w.vpc_id()),
            vpc: w.vpc_id().to_string(),
        });
        return vec![];
    };
    let route = w.route_ref(rtb, &chosen);
    let mut text = route.text.clone();
    if matches!(chosen.route.destination, RouteDestination::PrefixList(_)) {
        text.push_str(&format!(" [matched {}]", chosen.matched));
    }
    for n in &chosen.notes {
        text.push_str("; ");
        text.push_str(n);
    }
    if chosen.route.state == RouteState::Blackhole {
        w.hop(
            Direction::Forward,
            "route_table",
            &rtb.id,
            Some(&subnet),
            HopVerdict::Block,
            text,
            &["R6", "R8"],
        );
        let to_nat = matches!(chosen.route.target, RouteTarget::NatGateway(_));
        w.issues.push(Issue::RouteBlackhole {
            subnet,
            route,
            to_nat,
            nat: nat_choice::choose(w.ix, w.src.subnet, Some(chosen.route.target.id())),
        });
        return vec![];
    }
    w.hop(
        Direction::Forward,
        "route_table",
        &rtb.id,
        Some(&subnet),
        HopVerdict::Pass,
        text,
        &["R5", "R6"],
    );
    match &chosen.route.target {
        RouteTarget::Local => {
            w.hop(
                Direction::Forward,
                "local",
                "local",
                Some(&subnet),
                HopVerdict::Pass,
                format!(
                    "{} is inside the VPC: the local route carries it to the destination side",
                    w.dest
                ),
                &["R6"],
            );
            w.issues.push(Issue::DestinationInVpc {
                subnet,
                destination: w.dest,
            });
            vec![Next::DestinationInVpc]
        }
        RouteTarget::InternetGateway(igw) => {
            if w.family == Family::Ipv4 {
                w.hop(
                    Direction::Forward,
                    "eni",
                    &subnet,
                    Some(&subnet),
                    HopVerdict::Block,
                    "Lambda ENIs have no public IPv4 address: the internet gateway drops the traffic"
                        .into(),
                    &["R9"],
                );
                w.issues.push(Issue::RoutesToIgw {
                    subnet: subnet.clone(),
                    route: route.clone(),
                    shared_with_nat_subnet: nat_choice::table_serves_nat_subnet(w.ix, rtb),
                    nat: nat_choice::choose(w.ix, w.src.subnet, None),
                    vpc: w.vpc_id().to_string(),
                });
            }
            vec![Next::InternetGateway {
                igw: igw.clone(),
                vpc: w.vpc_id().to_string(),
                via: Via::InternetGateway,
                gateway_subnet: Some(subnet),
            }]
        }
        RouteTarget::EgressOnlyInternetGateway(eigw) => vec![Next::EgressOnlyIgw {
            eigw: eigw.clone(),
            from: w.src.subnet,
        }],
        RouteTarget::NatGateway(nat) => vec![Next::NatGateway {
            nat: nat.clone(),
            route,
            from: w.src.subnet,
        }],
        RouteTarget::VpcEndpoint(id)
            if w.ix
                .endpoint(id)
                .is_some_and(|e| e.endpoint_type.eq_ignore_ascii_case("gateway")) =>
        {
            vec![Next::GatewayEndpoint {
                endpoint: id.clone(),
            }]
        }
        // R47/R57: a firewall or Gateway Load Balancer endpoint (else R15).
        RouteTarget::VpcEndpoint(id) => lookup::endpoint_next(w, id, route, w.src.subnet),
        // R37-R45: centralised egress through a transit gateway.
        RouteTarget::TransitGateway(tgw) => vec![Next::TransitGateway {
            tgw: tgw.clone(),
            route,
            from: w.src.subnet,
        }],
        // R56: VPC peering.
        RouteTarget::VpcPeeringConnection(pcx) => vec![Next::Peering {
            pcx: pcx.clone(),
            route,
            from: w.src.subnet,
        }],
        other => vec![Next::NotVerifiable {
            route,
            target: other.clone(),
        }],
    }
}
