//! Transit gateway route tables (R39-R41, R45): the longest-prefix route for the
//! destination in the table associated with the workload attachment, and on the way back
//! the route for the function's address in the table associated with the egress VPC's
//! attachment. `routes_complete = false` means a miss is not proof of no route.

use crate::diagnosis::catalog::{Issue, RouteRef};
use crate::diagnosis::index::Index;
use crate::diagnosis::lookup;
use crate::diagnosis::state::{Next, Walk};
use crate::model::{
    Direction, HopVerdict, RouteDestination, RouteTarget, Subnet, TgwRoute,
    TransitGatewayRouteTable,
};
use ipnet::IpNet;
use std::net::IpAddr;

/// R39: on equal prefix length a static route beats a prefix-list reference, which beats
/// a propagated route. Lower is preferred.
fn class(r: &TgwRoute) -> u8 {
    match (&r.destination, r.route_type.as_str()) {
        (RouteDestination::PrefixList(_), _) => 1,
        (_, "static") => 0,
        _ => 2,
    }
}

/// R39/R40: the longest match for `addr` (a blackhole still captures the traffic).
pub(crate) fn select<'a>(
    ix: &Index<'a>,
    table: &'a TransitGatewayRouteTable,
    addr: IpAddr,
) -> Option<(&'a TgwRoute, IpNet)> {
    let mut best: Option<(u8, u8, &'a TgwRoute, IpNet)> = None;
    for r in &table.routes {
        if matches!(r.state.as_str(), "deleted" | "deleting") {
            continue;
        }
        let net: Option<IpNet> = match (&r.destination, addr) {
            (RouteDestination::Ipv4(n), IpAddr::V4(a)) if n.contains(&a) => Some(IpNet::V4(*n)),
            (RouteDestination::Ipv6(n), IpAddr::V6(a)) if n.contains(&a) => Some(IpNet::V6(*n)),
            (RouteDestination::PrefixList(id), _) => ix.prefix_list(id).and_then(|pl| {
                pl.cidrs
                    .iter()
                    .filter(|c| c.contains(&addr))
                    .max_by_key(|c| c.prefix_len())
                    .copied()
            }),
            _ => None,
        };
        let Some(net) = net else { continue };
        let key = (net.prefix_len(), class(r));
        let better = match &best {
            None => true,
            Some((len, cls, _, _)) => key.0 > *len || (key.0 == *len && key.1 < *cls),
        };
        if better {
            best = Some((key.0, key.1, r, net));
        }
    }
    best.map(|(_, _, r, n)| (r, n))
}

/// `tgw-rtb-1: 0.0.0.0/0 -> tgw-attach-2 (static, active)`.
pub(crate) fn describe(table: &str, r: &TgwRoute) -> String {
    let to = if r.attachments.is_empty() {
        "blackhole".to_string()
    } else {
        r.attachments
            .iter()
            .map(|a| a.attachment_id.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "{table}: {} -> {to} ({}, {})",
        r.destination, r.route_type, r.state
    )
}

/// A VPC attachment of `tgw` (other than the workload's) whose VPC has an internet
/// gateway: where a default route most likely belongs (for fix commands).
fn egress_attachment(w: &Walk<'_, '_>, tgw: &str) -> Option<String> {
    let mut v: Vec<&str> =
        w.ix.snap
            .transit_gateway_attachments
            .iter()
            .filter(|a| a.transit_gateway_id == tgw && a.resource_type == "vpc")
            .filter(|a| a.resource_id.as_deref() != Some(w.vpc_id()))
            .filter(|a| {
                a.resource_id
                    .as_deref()
                    .is_some_and(|v| w.ix.attached_igw(v).is_some())
            })
            .map(|a| a.id.as_str())
            .collect();
    v.sort();
    v.first().map(|s| s.to_string())
}

/// The forward look-up in the table associated with the workload attachment.
pub(crate) fn forward<'a>(
    w: &mut Walk<'a, '_>,
    table_id: &str,
    tgw: &str,
    from: &'a Subnet,
) -> Vec<Next<'a>> {
    if w.tgw_tables_seen.iter().any(|t| t == table_id) {
        w.hop(
            Direction::Forward,
            "transit_gateway_route_table",
            table_id,
            None,
            HopVerdict::Unknown,
            format!("{table_id} looked up twice: a routing loop"),
            &["R39"],
        );
        w.not_verifiable(table_id, "routing loop through the transit gateway".into());
        return vec![];
    }
    w.tgw_tables_seen.push(table_id.to_string());
    let Some(table) = w.ix.snap.transit_gateway_route_table(table_id) else {
        w.not_visible(
            "transit_gateway_route_table",
            table_id,
            "transit gateway route table",
            lookup::tgw_owner(w.ix, tgw),
            "TransitGatewayRoute",
        );
        return vec![];
    };
    let dest = w.dest;
    let Some((route, _)) = select(w.ix, table, dest) else {
        if !table.routes_complete {
            w.not_visible(
                "transit_gateway_route_table",
                table_id,
                "the full route list of transit gateway route table",
                lookup::tgw_owner(w.ix, tgw),
                "SearchTransitGatewayRoutes",
            );
            return vec![];
        }
        w.hop(
            Direction::Forward,
            "transit_gateway_route_table",
            table_id,
            None,
            HopVerdict::Block,
            format!("{table_id}: no route matches {dest}"),
            &["R39"],
        );
        w.issues.push(Issue::TgwNoRoute {
            subnet: w.subnet_id(),
            table: table_id.to_string(),
            destination: dest,
            egress: egress_attachment(w, tgw),
            why: String::new(),
        });
        return vec![];
    };
    let text = describe(table_id, route);
    if route.is_blackhole() || route.attachments.is_empty() {
        w.hop(
            Direction::Forward,
            "transit_gateway_route_table",
            table_id,
            None,
            HopVerdict::Block,
            text.clone(),
            &["R40"],
        );
        w.issues.push(Issue::TgwRouteBlackhole {
            subnet: w.subnet_id(),
            table: table_id.to_string(),
            route: text,
            destination: route.destination.to_string(),
            egress: egress_attachment(w, tgw),
        });
        return vec![];
    }
    if route.state != "active" {
        w.hop(
            Direction::Forward,
            "transit_gateway_route_table",
            table_id,
            None,
            HopVerdict::Block,
            text,
            &["R39", "R40"],
        );
        w.issues.push(Issue::TgwNoRoute {
            subnet: w.subnet_id(),
            table: table_id.to_string(),
            destination: dest,
            egress: egress_attachment(w, tgw),
            why: format!(" that is active (the match is {})", route.state),
        });
        return vec![];
    }
    w.hop(
        Direction::Forward,
        "transit_gateway_route_table",
        table_id,
        None,
        HopVerdict::Pass,
        text.clone(),
        &["R39"],
    );
    let mut targets: Vec<&str> = route
        .attachments
        .iter()
        .map(|a| a.attachment_id.as_str())
        .collect();
    targets.sort();
    let target = targets.first().copied().unwrap_or_default();
    match w.ix.snap.transit_gateway_attachment(target) {
        Some(att) if att.resource_type == "vpc" => vec![Next::TgwArrive {
            attachment: att,
            from,
        }],
        Some(att) => {
            // VPN, Direct Connect, peering, Connect, network function (R46, R55).
            vec![Next::NotVerifiable {
                route: RouteRef {
                    rtb: table_id.to_string(),
                    destination: route.destination.clone(),
                    target: att.id.clone(),
                    text,
                },
                target: RouteTarget::Other(format!("{} ({})", att.id, att.resource_type)),
            }]
        }
        None => {
            w.not_visible(
                "transit_gateway_attachment",
                target,
                "transit gateway attachment",
                lookup::tgw_owner(w.ix, tgw),
                "TransitGatewayAttachments",
            );
            vec![]
        }
    }
}

/// R41: the reply enters `tgw` from `from`'s VPC: the table associated with that VPC's
/// attachment must send the function's address back to the workload attachment.
pub(crate) fn back<'a>(w: &mut Walk<'a, '_>, tgw: &str, from: &'a Subnet) -> Vec<Next<'a>> {
    let Some(function) = w.src.address(w.family) else {
        return vec![];
    };
    let mut atts: Vec<&crate::model::TransitGatewayAttachment> =
        w.ix.snap
            .vpc_attachments(&from.vpc_id)
            .filter(|a| a.transit_gateway_id == tgw)
            .collect();
    atts.sort_by_key(|a| (!a.is_available(), a.id.clone()));
    let Some(att) = atts.first().copied() else {
        w.not_visible(
            "transit_gateway_attachment",
            tgw,
            &format!("the attachment of {} to transit gateway", from.vpc_id),
            lookup::tgw_owner(w.ix, tgw),
            "TransitGateway",
        );
        return vec![];
    };
    let workload = w.tgw_ingress.clone().unwrap_or_default();
    let Some(table_id) = att.associated_route_table() else {
        w.hop(
            Direction::Return,
            "transit_gateway_route_table",
            &att.id,
            None,
            HopVerdict::Block,
            format!("{} is not associated with a route table", att.id),
            &["R41", "R38"],
        );
        w.issues.push(Issue::TgwAttachmentNotAssociated {
            subnet: w.subnet_id(),
            attachment: att.id.clone(),
            tgw: tgw.to_string(),
            table: None,
            state: att.association.as_ref().map(|a| a.state.clone()),
        });
        return vec![];
    };
    let Some(table) = w.ix.snap.transit_gateway_route_table(table_id) else {
        w.not_visible(
            "transit_gateway_route_table",
            table_id,
            "transit gateway route table",
            lookup::tgw_owner(w.ix, tgw),
            "TransitGatewayRoute",
        );
        return vec![];
    };
    let found = select(w.ix, table, function);
    let ok = found.is_some_and(|(r, _)| {
        r.state == "active" && r.attachments.iter().any(|a| a.attachment_id == workload)
    });
    if ok {
        if let Some((r, _)) = found {
            w.hop(
                Direction::Return,
                "transit_gateway_route_table",
                table_id,
                None,
                HopVerdict::Pass,
                describe(table_id, r),
                &["R41"],
            );
        }
        return vec![];
    }
    if found.is_none() && !table.routes_complete {
        w.not_visible(
            "transit_gateway_route_table",
            table_id,
            "the full route list of transit gateway route table",
            lookup::tgw_owner(w.ix, tgw),
            "SearchTransitGatewayRoutes",
        );
        return vec![];
    }
    let text = found.map(|(r, _)| describe(table_id, r));
    w.hop(
        Direction::Return,
        "transit_gateway_route_table",
        table_id,
        None,
        HopVerdict::Block,
        text.clone()
            .unwrap_or_else(|| format!("{table_id}: no route matches {function}")),
        &["R41"],
    );
    w.issues.push(Issue::TgwReturnRouteMissing {
        subnet: w.subnet_id(),
        table: table_id.to_string(),
        egress_attachment: att.id.clone(),
        function,
        workload_attachment: if workload.is_empty() {
            "<workload-vpc-attachment-id>".into()
        } else {
            workload
        },
        workload_cidr: w.workload_cidr(),
        found: found.map(|(r, _)| {
            if r.is_blackhole() || r.attachments.is_empty() {
                "a blackhole".to_string()
            } else {
                format!(
                    "{} ({})",
                    r.attachments
                        .iter()
                        .map(|a| a.attachment_id.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    r.state
                )
            }
        }),
    });
    vec![]
}
