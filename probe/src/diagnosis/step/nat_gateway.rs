//! The NAT gateway leg (R10-R14, R22): the gateway's own state, type and address, its AZ,
//! its subnet's NACL both ways and both legs, and its subnet's route to an attached IGW.
//! The same step serves a NAT gateway in the function's VPC and one in an egress VPC
//! behind a transit gateway: `from` is the subnet whose route chose it.

use crate::diagnosis::bpa::Via;
use crate::diagnosis::catalog::{Issue, NatChoice, NatLeg, RouteRef};
use crate::diagnosis::fixes::{is_public, nacl_cidr, nacl_fix};
use crate::diagnosis::nacl::Peer;
use crate::diagnosis::nat_choice::{choose, covers, public_subnet_in_az};
use crate::diagnosis::routes;
use crate::diagnosis::state::{Next, Walk};
use crate::model::{Direction, HopVerdict, NatGateway, PortRange, RouteState, RouteTarget, Subnet};

/// Walks the NAT gateway `nat_id` that `route` of `from`'s route table names.
pub(crate) fn run<'a>(
    w: &mut Walk<'a, '_>,
    nat_id: &str,
    route: RouteRef,
    from: &'a Subnet,
) -> Vec<Next<'a>> {
    let subnet = w.subnet_id();
    let Some(nat) = w.ix.nat(nat_id) else {
        if w.ix.gap("DescribeNatGateways").is_some() {
            w.hop(
                Direction::Forward,
                "nat_gateway",
                nat_id,
                None,
                HopVerdict::Unknown,
                "NAT gateways could not be read".into(),
                &["R10"],
            );
            w.not_verifiable(nat_id, "NAT gateways not in the snapshot".into());
        } else {
            w.hop(
                Direction::Forward,
                "nat_gateway",
                nat_id,
                None,
                HopVerdict::Block,
                format!("{nat_id} does not exist (deleted)"),
                &["R10", "R8"],
            );
            w.issues.push(Issue::NatNotAvailable {
                subnet,
                route,
                state: "deleted (not found)".into(),
                failure: None,
                nat: choose(w.ix, from, Some(nat_id)),
            });
        }
        return vec![];
    };
    // R8/R10: the route may say active while its NAT is deleted or failed.
    if nat.state != "available" {
        let failure = match (&nat.failure_code, &nat.failure_message) {
            (Some(c), Some(m)) => Some(format!("{c}: {m}")),
            (Some(c), None) => Some(c.clone()),
            (None, Some(m)) => Some(m.clone()),
            (None, None) => None,
        };
        w.hop(
            Direction::Forward,
            "nat_gateway",
            nat_id,
            nat.subnet_id.as_deref(),
            HopVerdict::Block,
            format!("{nat_id} is {}", nat.state),
            &["R10"],
        );
        w.issues.push(Issue::NatNotAvailable {
            subnet,
            route,
            state: nat.state.clone(),
            failure,
            nat: choose(w.ix, from, Some(nat_id)),
        });
        return vec![];
    }
    let private = nat.connectivity_type == "private";
    let addr = if private {
        "private".to_string()
    } else if nat.public_ips.is_empty() {
        "public, no Elastic IP".to_string()
    } else {
        format!(
            "public, {}",
            nat.public_ips
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let no_eip = !private && nat.public_ips.is_empty();
    w.hop(
        Direction::Forward,
        "nat_gateway",
        nat_id,
        nat.subnet_id.as_deref(),
        if no_eip {
            HopVerdict::Block
        } else {
            HopVerdict::Pass
        },
        format!("{nat_id} available, {addr}, {}", nat.availability_mode),
        &["R10", "R11"],
    );
    if no_eip {
        w.issues.push(Issue::NatNoEip {
            subnet: subnet.clone(),
            nat_id: nat_id.to_string(),
        });
    }
    if private && is_public(&w.dest) {
        w.hop(
            Direction::Forward,
            "nat_gateway",
            nat_id,
            nat.subnet_id.as_deref(),
            HopVerdict::Block,
            format!("{nat_id} is a private NAT gateway: the internet gateway drops its traffic"),
            &["R11"],
        );
        w.issues.push(Issue::NatPrivate {
            subnet: subnet.clone(),
            route: route.clone(),
            nat: choose(w.ix, from, Some(nat_id)),
        });
    }
    if nat.availability_mode == "regional" {
        return regional(w, nat, from);
    }
    let Some(nat_subnet_id) = nat.subnet_id.clone() else {
        return vec![];
    };
    let Some(nat_subnet) = w.ix.subnet(&nat_subnet_id) else {
        w.issues.push(Issue::SubnetNotInSnapshot {
            subnet: nat_subnet_id.clone(),
            what: format!("subnet of {nat_id}"),
        });
        w.hop(
            Direction::Forward,
            "nat_gateway",
            nat_id,
            Some(&nat_subnet_id),
            HopVerdict::Unknown,
            format!("{nat_subnet_id} not in the snapshot"),
            &["R12"],
        );
        return vec![];
    };
    // R13: cross-AZ is a warning, not a failure.
    if nat_subnet.availability_zone != from.availability_zone {
        let choice = choose(w.ix, from, Some(nat_id));
        w.issues.push(Issue::NatCrossAz {
            subnet: subnet.clone(),
            subnet_az: from.availability_zone.clone(),
            nat_id: nat_id.to_string(),
            nat_az: nat_subnet.availability_zone.clone(),
            route: route.clone(),
            nat: match choice {
                NatChoice::Existing { same_az: true, .. } => choice,
                _ => NatChoice::Create {
                    public_subnet: public_subnet_in_az(w.ix, from),
                },
            },
        });
    }
    let same_subnet = nat_subnet_id == from.id;
    let fn_peers: Vec<Peer> = w.src.peers(w.family).to_vec();
    let fn_cidr = w.src.cidr(w.family);
    let dest = w.dest;
    let port = PortRange {
        from: w.flow.port,
        to: w.flow.port,
    };
    // R22.1: into the NAT subnet from the function's ENI addresses.
    if !same_subnet {
        nat_leg(
            w,
            nat_id,
            &nat_subnet_id,
            NatLeg::InFromFunction,
            false,
            &fn_peers,
            port,
            fn_cidr.clone(),
        );
    }
    let mut next = Vec::new();
    // R12: the NAT subnet's own route for the destination must be an attached IGW.
    let Some(nat_rtb) = w.ix.effective_route_table(&nat_subnet_id) else {
        w.hop(
            Direction::Forward,
            "route_table",
            "?",
            Some(&nat_subnet_id),
            HopVerdict::Unknown,
            format!("no route table for {nat_subnet_id} in the snapshot"),
            &["R12"],
        );
        w.not_verifiable(&nat_subnet_id, "route table not in the snapshot".into());
        return next;
    };
    let vpc = nat.vpc_id.clone();
    let igw = w.ix.attached_igw(&vpc).map(|g| g.id.clone());
    let nat_chosen = routes::select(w.ix, nat_rtb, dest);
    let no_igw = |w: &mut Walk<'_, '_>, found: Option<String>, verdict_text: String| {
        w.hop(
            Direction::Forward,
            "route_table",
            &nat_rtb.id,
            Some(&nat_subnet_id),
            HopVerdict::Block,
            verdict_text,
            &["R12"],
        );
        w.issues.push(Issue::NatSubnetNoIgwRoute {
            subnet: w.subnet_id(),
            nat_id: nat_id.to_string(),
            nat_subnet: Some(nat_subnet_id.clone()),
            nat_rtb: Some(nat_rtb.id.clone()),
            found,
            igw: igw.clone(),
            vpc: vpc.clone(),
        });
    };
    match nat_chosen {
        None => no_igw(w, None, format!("{}: no route matches {dest}", nat_rtb.id)),
        Some(c) => {
            let text = routes::describe(nat_rtb, c.route);
            match (&c.route.target, c.route.state) {
                (RouteTarget::InternetGateway(g), RouteState::Active) => {
                    w.hop(
                        Direction::Forward,
                        "route_table",
                        &nat_rtb.id,
                        Some(&nat_subnet_id),
                        HopVerdict::Pass,
                        text,
                        &["R12"],
                    );
                    if !same_subnet {
                        nat_leg(
                            w,
                            nat_id,
                            &nat_subnet_id,
                            NatLeg::OutToDestination,
                            true,
                            &[Peer::Addr(dest)],
                            port,
                            nacl_cidr(&dest),
                        );
                    }
                    next.push(Next::InternetGateway {
                        igw: g.clone(),
                        vpc: vpc.clone(),
                        via: Via::NatGateway,
                        gateway_subnet: Some(nat_subnet_id.clone()),
                    });
                }
                (RouteTarget::InternetGateway(_), _)
                | (RouteTarget::Local, _)
                | (RouteTarget::NatGateway(_), _) => no_igw(w, Some(text.clone()), text),
                (_, RouteState::Blackhole) => no_igw(w, Some(text.clone()), text),
                (other, _) => {
                    // Centralised egress or a firewall behind the NAT subnet (R15).
                    w.hop(
                        Direction::Forward,
                        "route_table",
                        &nat_rtb.id,
                        Some(&nat_subnet_id),
                        HopVerdict::Unknown,
                        format!("{text}: not verifiable from here (R15)"),
                        &["R12", "R15"],
                    );
                    w.issues.push(Issue::NextHopNotVerifiable {
                        subnet: w.subnet_id(),
                        route: w.route_ref(nat_rtb, &c),
                        kind: routes::target_kind(other),
                        destination: dest,
                        check: routes::not_verifiable_check(other, dest),
                    });
                    if !same_subnet {
                        nat_leg(
                            w,
                            nat_id,
                            &nat_subnet_id,
                            NatLeg::OutToDestination,
                            true,
                            &[Peer::Addr(dest)],
                            port,
                            nacl_cidr(&dest),
                        );
                    }
                }
            }
        }
    }
    // Return leg through the NAT subnet (R22.3, R22.4).
    if !same_subnet {
        next.push(Next::NatReturn {
            nat: nat_id.to_string(),
            nat_subnet: nat_subnet_id.clone(),
        });
    }
    next
}

/// R22.3, R22.4: replies into the NAT subnet from the destination, and out of it to the
/// function, on 1024-65535.
pub(crate) fn reply<'a>(w: &mut Walk<'a, '_>, nat_id: &str, nat_subnet: &str) -> Vec<Next<'a>> {
    let dest = w.dest;
    let fn_peers: Vec<Peer> = w.src.peers(w.family).to_vec();
    let fn_cidr = w.src.cidr(w.family);
    nat_leg(
        w,
        nat_id,
        nat_subnet,
        NatLeg::InFromDestination,
        false,
        &[Peer::Addr(dest)],
        PortRange::EPHEMERAL,
        nacl_cidr(&dest),
    );
    nat_leg(
        w,
        nat_id,
        nat_subnet,
        NatLeg::OutToFunction,
        true,
        &fn_peers,
        PortRange::EPHEMERAL,
        fn_cidr,
    );
    vec![]
}

#[allow(clippy::too_many_arguments)]
fn nat_leg(
    w: &mut Walk<'_, '_>,
    nat_id: &str,
    nat_subnet: &str,
    leg: NatLeg,
    egress: bool,
    peers: &[Peer],
    ports: PortRange,
    fix_cidr: String,
) {
    let direction = match leg {
        NatLeg::InFromFunction | NatLeg::OutToDestination => Direction::Forward,
        NatLeg::InFromDestination | NatLeg::OutToFunction => Direction::Return,
    };
    if let Some((result, acl)) = w.nacl_hop(direction, nat_subnet, egress, peers, ports, &["R22"])
        && result.verdict != HopVerdict::Pass
    {
        let fix = nacl_fix(acl, &result, w.flow.protocol, ports, fix_cidr);
        let peer = peers
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",");
        w.issues.push(Issue::NatSubnetNacl {
            subnet: w.subnet_id(),
            nat_id: nat_id.to_string(),
            nat_subnet: nat_subnet.to_string(),
            leg,
            result,
            protocol: w.flow.protocol,
            peer,
            fix,
        });
    }
}

/// R14: a regional NAT gateway lives at VPC level; it must cover the source AZ and the VPC
/// must have an attached internet gateway.
fn regional<'a>(w: &mut Walk<'a, '_>, nat: &NatGateway, from: &'a Subnet) -> Vec<Next<'a>> {
    let subnet = w.subnet_id();
    if !covers(nat, from) {
        w.hop(
            Direction::Forward,
            "nat_gateway",
            &nat.id,
            None,
            HopVerdict::Block,
            format!(
                "regional NAT gateway not registered in {}",
                from.availability_zone
            ),
            &["R14"],
        );
        w.issues.push(Issue::RegionalNatAzNotCovered {
            subnet: subnet.clone(),
            az: from.availability_zone.clone(),
            nat_id: nat.id.clone(),
            zones: nat.regional_zones.clone(),
        });
    }
    if nat.connectivity_type == "private" {
        return vec![];
    }
    match w.ix.attached_igw(&nat.vpc_id).map(|g| g.id.clone()) {
        Some(g) => vec![Next::InternetGateway {
            igw: g,
            vpc: nat.vpc_id.clone(),
            via: Via::NatGateway,
            gateway_subnet: None,
        }],
        None => {
            w.hop(
                Direction::Forward,
                "internet_gateway",
                "-",
                None,
                HopVerdict::Block,
                format!("no internet gateway attached to {}", nat.vpc_id),
                &["R14", "R16"],
            );
            w.issues.push(Issue::NatSubnetNoIgwRoute {
                subnet,
                nat_id: nat.id.clone(),
                nat_subnet: None,
                nat_rtb: None,
                found: None,
                igw: None,
                vpc: nat.vpc_id.clone(),
            });
            vec![]
        }
    }
}
