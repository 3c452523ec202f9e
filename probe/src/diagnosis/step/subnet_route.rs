//! Routes of subnets the walk reaches beyond the function's own route table: the egress
//! VPC's attachment subnet (R42), a firewall endpoint's subnet (R47) or a GWLB endpoint's
//! (R57), forward to the destination; and the reply's route back toward the function from
//! the NAT gateway's subnet and the firewall's (R41, R48).

use crate::diagnosis::bpa::Via;
use crate::diagnosis::catalog::Issue;
use crate::diagnosis::lookup;
use crate::diagnosis::nat_choice::choose;
use crate::diagnosis::routes;
use crate::diagnosis::state::{Next, Role, Walk};
use crate::model::{Direction, HopVerdict, RouteState, RouteTarget, Subnet};

/// The route onward from `subnet` toward the destination.
pub(crate) fn forward<'a>(w: &mut Walk<'a, '_>, subnet: &'a Subnet, role: Role) -> Vec<Next<'a>> {
    let Some(rtb) = w.ix.effective_route_table(&subnet.id) else {
        w.not_visible(
            "route_table",
            &subnet.id,
            "the route table of subnet",
            w.ix.vpc(&subnet.vpc_id).and_then(|v| v.owner_id.clone()),
            "DescribeRouteTables",
        );
        return vec![];
    };
    let dest = w.dest;
    let Some(chosen) = routes::select(w.ix, rtb, dest) else {
        w.hop(
            Direction::Forward,
            "route_table",
            &rtb.id,
            Some(&subnet.id),
            HopVerdict::Block,
            format!("{}: no route matches {dest}", rtb.id),
            &["R7", "R41"],
        );
        w.issues.push(Issue::EgressVpcNoRoute {
            subnet: w.subnet_id(),
            rtb: rtb.id.clone(),
            used_by: subnet.id.clone(),
            destination: dest,
            nat: choose(w.ix, subnet, None),
        });
        return vec![];
    };
    let route = w.route_ref(rtb, &chosen);
    if chosen.route.state == RouteState::Blackhole {
        w.hop(
            Direction::Forward,
            "route_table",
            &rtb.id,
            Some(&subnet.id),
            HopVerdict::Block,
            route.text.clone(),
            &["R8"],
        );
        w.issues.push(Issue::EgressVpcRouteBlackhole {
            subnet: w.subnet_id(),
            route,
            used_by: subnet.id.clone(),
            nat: choose(w.ix, subnet, Some(chosen.route.target.id())),
        });
        return vec![];
    }
    w.hop(
        Direction::Forward,
        "route_table",
        &rtb.id,
        Some(&subnet.id),
        HopVerdict::Pass,
        route.text.clone(),
        &["R6", "R41"],
    );
    match &chosen.route.target {
        RouteTarget::NatGateway(nat) => {
            let mut next = vec![Next::NatGateway {
                nat: nat.clone(),
                route,
                from: subnet,
            }];
            if let Some(ns) =
                w.ix.nat(nat)
                    .and_then(|n| n.subnet_id.as_deref())
                    .and_then(|s| w.ix.subnet(s))
            {
                next.push(Next::ReturnRoute { subnet: ns });
            }
            next
        }
        RouteTarget::InternetGateway(igw) => {
            // R42: the sources are private workload addresses: the IGW drops them.
            w.hop(
                Direction::Forward,
                "internet_gateway",
                igw,
                Some(&subnet.id),
                HopVerdict::Block,
                format!(
                    "{}: private source addresses, no NAT: the internet gateway drops the traffic",
                    route.text
                ),
                &["R42"],
            );
            let attachment = match &role {
                Role::Attachment(a) => a.clone(),
                Role::Firewall | Role::Appliance => subnet.id.clone(),
            };
            w.issues.push(Issue::EgressAttachmentPublicSubnet {
                subnet: w.subnet_id(),
                attachment,
                attachment_subnet: subnet.id.clone(),
                route,
                private_subnet: private_subnet_in_az(w, subnet),
            });
            vec![Next::InternetGateway {
                igw: igw.clone(),
                vpc: subnet.vpc_id.clone(),
                via: Via::InternetGateway,
                gateway_subnet: Some(subnet.id.clone()),
            }]
        }
        RouteTarget::VpcEndpoint(id) => lookup::endpoint_next(w, id, route, subnet),
        other => vec![Next::NotVerifiable {
            route,
            target: other.clone(),
        }],
    }
}

/// A subnet in `near`'s VPC and AZ whose 0.0.0.0/0 goes to a NAT gateway (for R42 fixes).
fn private_subnet_in_az(w: &Walk<'_, '_>, near: &Subnet) -> Option<String> {
    let mut v: Vec<&Subnet> = w
        .ix
        .snap
        .subnets
        .iter()
        .filter(|s| s.vpc_id == near.vpc_id && s.availability_zone == near.availability_zone)
        .filter(|s| {
            w.ix.effective_route_table(&s.id).is_some_and(|t| {
                t.routes.iter().any(|r| {
                    matches!(&r.destination, crate::model::RouteDestination::Ipv4(n) if n.prefix_len() == 0)
                        && matches!(r.target, RouteTarget::NatGateway(_))
                        && r.state == RouteState::Active
                })
            })
        })
        .collect();
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v.first().map(|s| s.id.clone())
}

/// R41/R48: the reply's route from `subnet` toward the function's address.
pub(crate) fn back<'a>(w: &mut Walk<'a, '_>, subnet: &'a Subnet) -> Vec<Next<'a>> {
    let Some(function) = w.src.address(w.family) else {
        return vec![];
    };
    let same_vpc = subnet.vpc_id == w.src.subnet.vpc_id;
    let cidr = if same_vpc {
        w.src.cidr(w.family)
    } else {
        w.workload_cidr()
    };
    let Some(rtb) = w.ix.effective_route_table(&subnet.id) else {
        w.not_visible(
            "route_table",
            &subnet.id,
            "the route table of subnet",
            w.ix.vpc(&subnet.vpc_id).and_then(|v| v.owner_id.clone()),
            "DescribeRouteTables",
        );
        return vec![];
    };
    let chosen = routes::select(w.ix, rtb, function);
    let text = chosen
        .as_ref()
        .map(|c| routes::describe(rtb, c.route))
        .unwrap_or_else(|| format!("{}: no route matches {function}", rtb.id));
    // Forward firewall endpoints the reply has not crossed yet (R48).
    let missing: Option<String> = w
        .firewall_endpoints
        .iter()
        .find(|e| !w.return_endpoints.contains(e))
        .cloned();
    let asymmetric = |w: &mut Walk<'a, '_>, fwd: String, found: String, replace: bool| {
        w.hop(
            Direction::Return,
            "route_table",
            &rtb.id,
            Some(&subnet.id),
            HopVerdict::Block,
            format!("{text}: the reply bypasses {fwd} (R48)"),
            &["R48"],
        );
        w.issues.push(Issue::FirewallAsymmetricRoute {
            subnet: w.subnet_id(),
            forward_endpoint: fwd,
            rtb: rtb.id.clone(),
            return_subnet: subnet.id.clone(),
            workload_cidr: cidr.clone(),
            found,
            replace,
        });
    };
    let no_return = |w: &mut Walk<'a, '_>, found: Option<String>| {
        w.hop(
            Direction::Return,
            "route_table",
            &rtb.id,
            Some(&subnet.id),
            HopVerdict::Block,
            text.clone(),
            &["R41"],
        );
        w.issues.push(Issue::EgressVpcNoReturnRoute {
            subnet: w.subnet_id(),
            rtb: rtb.id.clone(),
            from_subnet: subnet.id.clone(),
            workload_cidr: cidr.clone(),
            tgw: w.tgw.clone(),
            found,
        });
    };
    let pass = |w: &mut Walk<'a, '_>, rules: &[&str]| {
        w.hop(
            Direction::Return,
            "route_table",
            &rtb.id,
            Some(&subnet.id),
            HopVerdict::Pass,
            text.clone(),
            rules,
        );
    };
    let Some(c) = chosen else {
        no_return(w, None);
        return vec![];
    };
    let exact = c.matched.to_string() == cidr;
    if c.route.state == RouteState::Blackhole {
        no_return(w, Some(text.clone()));
        return vec![];
    }
    match &c.route.target {
        RouteTarget::Local if same_vpc => {
            if let Some(fwd) = missing {
                asymmetric(w, fwd, "local".into(), false);
            } else {
                pass(w, &["R48"]);
            }
            vec![]
        }
        RouteTarget::TransitGateway(tgw) if !same_vpc => {
            if let Some(fwd) = missing {
                asymmetric(w, fwd, tgw.clone(), exact);
            } else {
                pass(w, &["R41"]);
            }
            vec![Next::TgwReturn {
                tgw: tgw.clone(),
                from: subnet,
            }]
        }
        RouteTarget::VpcEndpoint(id) => {
            let fw = w.ix.snap.firewall_endpoint(id);
            if let Some((_, ep)) = fw {
                if w.firewall_endpoints.contains(id) {
                    pass(w, &["R48"]);
                    w.return_endpoints.push(id.clone());
                } else {
                    let fwd = missing.unwrap_or_else(|| "no firewall endpoint".into());
                    asymmetric(w, fwd, id.clone(), exact);
                }
                match ep.subnet_id.as_deref().and_then(|s| w.ix.subnet(s)) {
                    Some(s) if s.id != subnet.id => vec![Next::ReturnRoute { subnet: s }],
                    _ => vec![],
                }
            } else if let Some(ep) = w.ix.endpoint(id) {
                pass(w, &["R57"]);
                ep.subnet_ids
                    .iter()
                    .filter_map(|s| w.ix.subnet(s))
                    .find(|s| s.id != subnet.id)
                    .map(|s| vec![Next::ReturnRoute { subnet: s }])
                    .unwrap_or_default()
            } else {
                no_return(w, Some(text.clone()));
                vec![]
            }
        }
        other => {
            no_return(w, Some(other.id().to_string()));
            vec![]
        }
    }
}
