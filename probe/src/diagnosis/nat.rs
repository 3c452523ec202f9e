//! The NAT gateway leg (R10-R14, R22): the gateway's own state, type and address, its AZ,
//! its subnet's NACL both ways and both legs, and its subnet's route to an attached IGW.

use super::bpa::Via;
use super::catalog::{Issue, NatChoice, NatLeg};
use super::index::Index;
use super::nacl::Peer;
use super::path::{Walk, fix_cidr, igw_hop, is_public, nacl_fix, not_verifiable_check};
use super::routes::{self, Chosen};
use crate::model::{
    Direction, HopVerdict, NatGateway, PortRange, RouteState, RouteTable, RouteTarget, Subnet,
};

fn usable_public(n: &NatGateway) -> bool {
    n.state == "available" && n.connectivity_type != "private" && !n.public_ips.is_empty()
}

fn nat_az<'a>(ix: &Index<'a>, n: &NatGateway) -> Option<&'a str> {
    n.subnet_id
        .as_deref()
        .and_then(|s| ix.subnet(s))
        .map(|s| s.availability_zone.as_str())
}

/// True when the table routes 0.0.0.0/0 to an IGW attached to its VPC.
fn is_public_table(ix: &Index<'_>, rtb: &RouteTable) -> bool {
    rtb.routes.iter().any(|r| {
        r.state == RouteState::Active
            && matches!(&r.destination, crate::model::RouteDestination::Ipv4(n) if n.prefix_len() == 0)
            && matches!(&r.target, RouteTarget::InternetGateway(g) if ix.igw(g).is_some_and(|g| g.is_attached_to(&rtb.vpc_id)))
    })
}

/// A working public NAT gateway for `subnet` (same AZ first), else where to create one.
pub(crate) fn choose(ix: &Index<'_>, subnet: &Subnet, exclude: Option<&str>) -> NatChoice {
    let mut cands: Vec<&NatGateway> = ix
        .snap
        .nat_gateways
        .iter()
        .filter(|n| n.vpc_id == subnet.vpc_id && Some(n.id.as_str()) != exclude && usable_public(n))
        .filter(|n| {
            // Zonal NAT must sit in a public subnet; regional NAT has no subnet.
            n.subnet_id.as_deref().is_none_or(|s| {
                ix.effective_route_table(s)
                    .is_some_and(|t| is_public_table(ix, t))
            })
        })
        .collect();
    cands.sort_by(|a, b| a.id.cmp(&b.id));
    let same_az = |n: &&&NatGateway| {
        nat_az(ix, n) == Some(subnet.availability_zone.as_str())
            || (n.availability_mode == "regional" && covers(n, subnet))
    };
    if let Some(n) = cands.iter().find(same_az) {
        return NatChoice::Existing {
            nat: n.id.clone(),
            same_az: true,
        };
    }
    if let Some(n) = cands.first() {
        return NatChoice::Existing {
            nat: n.id.clone(),
            same_az: false,
        };
    }
    NatChoice::Create {
        public_subnet: public_subnet_in_az(ix, subnet),
    }
}

/// A public subnet (routes 0.0.0.0/0 to an attached IGW) in the subnet's AZ.
pub(crate) fn public_subnet_in_az(ix: &Index<'_>, subnet: &Subnet) -> Option<String> {
    let mut v: Vec<&Subnet> = ix
        .snap
        .subnets
        .iter()
        .filter(|s| s.vpc_id == subnet.vpc_id && s.availability_zone == subnet.availability_zone)
        .filter(|s| {
            ix.effective_route_table(&s.id)
                .is_some_and(|t| is_public_table(ix, t))
        })
        .collect();
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v.first().map(|s| s.id.clone())
}

/// The VPC's attached egress-only IGW, if any (for IPv6 fixes).
pub(crate) fn eigw_of(ix: &Index<'_>, vpc: &str) -> Option<String> {
    let mut v: Vec<&str> = ix
        .snap
        .egress_only_internet_gateways
        .iter()
        .filter(|g| g.is_attached_to(vpc))
        .map(|g| g.id.as_str())
        .collect();
    v.sort();
    v.first().map(|s| s.to_string())
}

/// True when a subnet that holds a NAT gateway uses this table.
pub(crate) fn table_serves_nat_subnet(ix: &Index<'_>, rtb: &RouteTable) -> bool {
    ix.snap.nat_gateways.iter().any(|n| {
        n.subnet_id
            .as_deref()
            .and_then(|s| ix.effective_route_table(s))
            .is_some_and(|t| t.id == rtb.id)
    })
}

/// R14: a regional NAT is registered in the subnet's AZ (name or AZ ID), or provisions
/// zones automatically.
fn covers(n: &NatGateway, subnet: &Subnet) -> bool {
    n.auto_provision_zones == Some(true)
        || n.regional_zones.iter().any(|z| {
            z == &subnet.availability_zone
                || Some(z.as_str()) == subnet.availability_zone_id.as_deref()
        })
}

/// Walks the NAT gateway leg for the route `chosen` of `rtb` (target `nat_id`).
pub(crate) fn walk(w: &mut Walk<'_, '_>, rtb: &RouteTable, chosen: &Chosen<'_>, nat_id: &str) {
    let subnet = w.subnet_id();
    let route = w.route_ref(rtb, chosen);
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
                nat: choose(w.ix, w.src.subnet, Some(nat_id)),
            });
        }
        return;
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
            nat: choose(w.ix, w.src.subnet, Some(nat_id)),
        });
        return;
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
            nat: choose(w.ix, w.src.subnet, Some(nat_id)),
        });
    }
    if nat.availability_mode == "regional" {
        regional(w, nat);
        return;
    }
    let Some(nat_subnet_id) = nat.subnet_id.clone() else {
        return;
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
        return;
    };
    // R13: cross-AZ is a warning, not a failure.
    if nat_subnet.availability_zone != w.src.subnet.availability_zone {
        let choice = choose(w.ix, w.src.subnet, Some(nat_id));
        w.issues.push(Issue::NatCrossAz {
            subnet: subnet.clone(),
            subnet_az: w.src.subnet.availability_zone.clone(),
            nat_id: nat_id.to_string(),
            nat_az: nat_subnet.availability_zone.clone(),
            route: route.clone(),
            nat: match choice {
                NatChoice::Existing { same_az: true, .. } => choice,
                _ => NatChoice::Create {
                    public_subnet: public_subnet_in_az(w.ix, w.src.subnet),
                },
            },
        });
    }
    let same_subnet = nat_subnet_id == subnet;
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
        return;
    };
    let igw = w.ix.attached_igw(w.vpc_id()).map(|g| g.id.clone());
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
            vpc: w.vpc_id().to_string(),
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
                            fix_cidr(&dest),
                        );
                    }
                    let g = g.clone();
                    igw_hop(w, &g, Via::NatGateway, Some(&nat_subnet_id));
                }
                (RouteTarget::InternetGateway(_), _)
                | (RouteTarget::Local, _)
                | (RouteTarget::NatGateway(_), _) => no_igw(w, Some(text.clone()), text),
                (other, RouteState::Blackhole) => {
                    let _ = other;
                    no_igw(w, Some(text.clone()), text)
                }
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
                        check: not_verifiable_check(other, dest),
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
                            fix_cidr(&dest),
                        );
                    }
                }
            }
        }
    }
    // Return leg through the NAT subnet (R22.3, R22.4).
    if !same_subnet {
        nat_leg(
            w,
            nat_id,
            &nat_subnet_id,
            NatLeg::InFromDestination,
            false,
            &[Peer::Addr(dest)],
            PortRange::EPHEMERAL,
            fix_cidr(&dest),
        );
        nat_leg(
            w,
            nat_id,
            &nat_subnet_id,
            NatLeg::OutToFunction,
            true,
            &fn_peers,
            PortRange::EPHEMERAL,
            fn_cidr,
        );
    }
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
fn regional(w: &mut Walk<'_, '_>, nat: &NatGateway) {
    let subnet = w.subnet_id();
    if !covers(nat, w.src.subnet) {
        w.hop(
            Direction::Forward,
            "nat_gateway",
            &nat.id,
            None,
            HopVerdict::Block,
            format!(
                "regional NAT gateway not registered in {}",
                w.src.subnet.availability_zone
            ),
            &["R14"],
        );
        w.issues.push(Issue::RegionalNatAzNotCovered {
            subnet: subnet.clone(),
            az: w.src.subnet.availability_zone.clone(),
            nat_id: nat.id.clone(),
            zones: nat.regional_zones.clone(),
        });
    }
    if nat.connectivity_type == "private" {
        return;
    }
    match w.ix.attached_igw(w.vpc_id()).map(|g| g.id.clone()) {
        Some(g) => igw_hop(w, &g, Via::NatGateway, None),
        None => {
            w.hop(
                Direction::Forward,
                "internet_gateway",
                "-",
                None,
                HopVerdict::Block,
                format!("no internet gateway attached to {}", w.vpc_id()),
                &["R14", "R16"],
            );
            w.issues.push(Issue::NatSubnetNoIgwRoute {
                subnet,
                nat_id: nat.id.clone(),
                nat_subnet: None,
                nat_rtb: None,
                found: None,
                igw: None,
                vpc: w.vpc_id().to_string(),
            });
        }
    }
}
