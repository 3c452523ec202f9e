//! Transit gateway attachments (R37, R38, R42-R45): the workload VPC's attachment a route
//! names (state, AZ coverage by AZ ID, association), the NACLs of attachment subnets, and
//! the attachment the traffic arrives by in the egress VPC (state, its subnet in the AZ,
//! appliance mode for stateful appliances).

use crate::diagnosis::catalog::{Issue, RouteRef};
use crate::diagnosis::fixes::{nacl_cidr, nacl_fix};
use crate::diagnosis::lookup;
use crate::diagnosis::nacl::Peer;
use crate::diagnosis::state::{Next, Role, Walk};
use crate::model::{
    Direction, HopVerdict, PortRange, RouteTarget, Subnet, TransitGatewayAttachment,
};

/// True when the snapshot holds anything about `tgw` (the reader followed it).
fn known(w: &Walk<'_, '_>, tgw: &str) -> bool {
    w.ix.snap.transit_gateways.iter().any(|t| t.id == tgw)
        || w.ix
            .snap
            .transit_gateway_attachments
            .iter()
            .any(|a| a.transit_gateway_id == tgw)
}

/// R37: the attachment's subnet in the AZ of `of` (by AZ ID), and whether every
/// attachment subnet was in the snapshot.
fn subnet_in_az<'a>(
    w: &Walk<'a, '_>,
    att: &TransitGatewayAttachment,
    of: &Subnet,
) -> (Option<&'a Subnet>, bool) {
    let az = w.az_id(of);
    let mut all_known = true;
    let mut found = None;
    let mut ids: Vec<&String> = att.subnet_ids.iter().collect();
    ids.sort();
    for id in ids {
        match w.ix.subnet(id) {
            Some(s) if found.is_none() && w.az_id(s) == az => found = Some(s),
            Some(_) => {}
            None => all_known = false,
        }
    }
    (found, all_known)
}

/// The route names `tgw`: the workload VPC's attachment to it.
pub(crate) fn enter<'a>(
    w: &mut Walk<'a, '_>,
    tgw: &str,
    route: RouteRef,
    from: &'a Subnet,
) -> Vec<Next<'a>> {
    let mut atts: Vec<&'a TransitGatewayAttachment> =
        w.ix.snap
            .vpc_attachments(&from.vpc_id)
            .filter(|a| a.transit_gateway_id == tgw)
            .collect();
    atts.sort_by_key(|a| (!a.is_available(), a.id.clone()));
    let Some(att) = atts.first().copied() else {
        if w.ix.gap("TransitGateway").is_some() {
            w.not_visible(
                "transit_gateway_attachment",
                tgw,
                "the attachments of transit gateway",
                lookup::tgw_owner(w.ix, tgw),
                "TransitGateway",
            );
            return vec![];
        }
        if !known(w, tgw) {
            // A snapshot without transit gateway data (R15, as before the reader read it).
            return vec![Next::NotVerifiable {
                route,
                target: RouteTarget::TransitGateway(tgw.to_string()),
            }];
        }
        w.hop(
            Direction::Forward,
            "transit_gateway_attachment",
            tgw,
            None,
            HopVerdict::Block,
            format!("{} has no attachment to {tgw}", from.vpc_id),
            &["R37", "R38"],
        );
        w.issues.push(Issue::TgwAttachmentMissing {
            subnet: w.subnet_id(),
            vpc: from.vpc_id.clone(),
            tgw: tgw.to_string(),
            route,
        });
        return vec![];
    };
    w.tgw_ingress = Some(att.id.clone());
    w.tgw = Some(tgw.to_string());
    let mut next = Vec::new();
    // R38: only an available attachment carries traffic.
    if !att.is_available() {
        w.hop(
            Direction::Forward,
            "transit_gateway_attachment",
            &att.id,
            None,
            HopVerdict::Block,
            format!("{} to {tgw} is {}", att.id, att.state),
            &["R38"],
        );
        w.issues.push(Issue::TgwAttachmentNotAvailable {
            subnet: w.subnet_id(),
            attachment: att.id.clone(),
            tgw: tgw.to_string(),
            state: att.state.clone(),
            owner: att
                .transit_gateway_owner_id
                .clone()
                .or_else(|| lookup::tgw_owner(w.ix, tgw)),
        });
    }
    // R37: the function's AZ needs an attachment subnet (compare AZ IDs).
    let (in_az, all_known) = subnet_in_az(w, att, from);
    match in_az {
        Some(s) => {
            w.hop(
                Direction::Forward,
                "transit_gateway_attachment",
                &att.id,
                Some(&s.id),
                HopVerdict::Pass,
                format!(
                    "{} ({tgw}) has {} in {} ({})",
                    att.id,
                    s.id,
                    s.availability_zone,
                    w.az_id(s)
                ),
                &["R37"],
            );
            // R43: a separate attachment subnet's NACL checks workload -> TGW traffic on
            // its inbound rules and TGW -> workload replies on its outbound rules.
            if s.id != from.id {
                next.push(Next::AttachmentNacl {
                    attachment: att.id.clone(),
                    subnet: s.id.clone(),
                    egress: false,
                    peer_is_function: true,
                    direction: Direction::Forward,
                });
            }
        }
        None if !all_known => {
            w.hop(
                Direction::Forward,
                "transit_gateway_attachment",
                &att.id,
                None,
                HopVerdict::Unknown,
                format!(
                    "the subnets of {} ({}) are not in the snapshot: AZ coverage not verifiable",
                    att.id,
                    att.subnet_ids.join(", ")
                ),
                &["R37"],
            );
            w.not_verifiable(&att.id, "attachment subnets not in the snapshot".into());
        }
        None => {
            w.hop(
                Direction::Forward,
                "transit_gateway_attachment",
                &att.id,
                None,
                HopVerdict::Block,
                format!(
                    "{} has no subnet in {} ({})",
                    att.id,
                    from.availability_zone,
                    w.az_id(from)
                ),
                &["R37"],
            );
            w.issues.push(Issue::TgwNoSubnetInAz {
                subnet: w.subnet_id(),
                attachment: att.id.clone(),
                az: from.availability_zone.clone(),
                az_id: from.availability_zone_id.clone(),
                attached: att.subnet_ids.clone(),
            });
        }
    }
    // R38/R39: the associated route table decides where the traffic goes.
    match att.associated_route_table() {
        Some(table) => next.push(Next::TgwRouteTable {
            table: table.to_string(),
            tgw: tgw.to_string(),
            from,
        }),
        None => {
            w.hop(
                Direction::Forward,
                "transit_gateway_route_table",
                &att.id,
                None,
                HopVerdict::Block,
                format!("{} is not associated with a route table", att.id),
                &["R38", "R39"],
            );
            let default =
                w.ix.snap
                    .transit_gateways
                    .iter()
                    .find(|t| t.id == tgw)
                    .and_then(|t| t.association_default_route_table_id.clone());
            w.issues.push(Issue::TgwAttachmentNotAssociated {
                subnet: w.subnet_id(),
                attachment: att.id.clone(),
                tgw: tgw.to_string(),
                table: default,
                state: att.association.as_ref().map(|a| a.state.clone()),
            });
        }
    }
    if let Some(s) = in_az
        && s.id != from.id
    {
        next.push(Next::AttachmentNacl {
            attachment: att.id.clone(),
            subnet: s.id.clone(),
            egress: true,
            peer_is_function: true,
            direction: Direction::Return,
        });
    }
    next
}

/// R43: one direction through an attachment subnet's NACL.
pub(crate) fn attachment_nacl<'a>(
    w: &mut Walk<'a, '_>,
    attachment: &str,
    subnet: &str,
    egress: bool,
    peer_is_function: bool,
    direction: Direction,
) -> Vec<Next<'a>> {
    let (peers, cidr) = if peer_is_function {
        (w.src.peers(w.family).to_vec(), w.src.cidr(w.family))
    } else {
        (vec![Peer::Addr(w.dest)], nacl_cidr(&w.dest))
    };
    // Requests travel to the destination port; replies to the function's ephemeral ports.
    let ports = if direction == Direction::Forward {
        PortRange {
            from: w.flow.port,
            to: w.flow.port,
        }
    } else {
        PortRange::EPHEMERAL
    };
    if let Some((result, acl)) = w.nacl_hop(direction, subnet, egress, &peers, ports, &["R43"])
        && result.verdict != HopVerdict::Pass
    {
        let fix = nacl_fix(acl, &result, w.flow.protocol, ports, cidr);
        w.issues.push(Issue::TgwAttachmentNacl {
            subnet: w.subnet_id(),
            attachment: attachment.to_string(),
            attachment_subnet: subnet.to_string(),
            result,
            fix,
        });
    }
    vec![]
}

/// R37, R42-R44: the traffic leaves the transit gateway by `att` into another VPC.
pub(crate) fn arrive<'a>(
    w: &mut Walk<'a, '_>,
    att: &'a TransitGatewayAttachment,
    from: &'a Subnet,
) -> Vec<Next<'a>> {
    let vpc = att.resource_id.clone().unwrap_or_default();
    if !att.is_available() {
        w.hop(
            Direction::Forward,
            "transit_gateway_attachment",
            &att.id,
            None,
            HopVerdict::Block,
            format!("{} ({vpc}) is {}", att.id, att.state),
            &["R38"],
        );
        w.issues.push(Issue::TgwAttachmentNotAvailable {
            subnet: w.subnet_id(),
            attachment: att.id.clone(),
            tgw: att.transit_gateway_id.clone(),
            state: att.state.clone(),
            owner: att.transit_gateway_owner_id.clone(),
        });
    }
    // R37: the far side is lenient: without a subnet in the source AZ the TGW uses
    // another AZ where the attachment has one.
    let (in_az, _) = subnet_in_az(w, att, from);
    let mut known: Vec<&'a Subnet> = att
        .subnet_ids
        .iter()
        .filter_map(|s| w.ix.subnet(s))
        .collect();
    known.sort_by(|a, b| a.id.cmp(&b.id));
    let Some(entry) = in_az.or(known.first().copied()) else {
        w.not_visible(
            "transit_gateway_attachment",
            &att.id,
            &format!("egress VPC {vpc} behind"),
            att.resource_owner_id.clone(),
            "DescribeSubnets",
        );
        return vec![];
    };
    w.hop(
        Direction::Forward,
        "transit_gateway_attachment",
        &att.id,
        Some(&entry.id),
        HopVerdict::Pass,
        format!(
            "{} into {vpc} by {} in {}{}",
            att.id,
            entry.id,
            entry.availability_zone,
            if in_az.is_some() {
                String::new()
            } else {
                format!(
                    " (no attachment subnet in {}: the TGW uses another AZ, R37)",
                    from.availability_zone
                )
            }
        ),
        &["R37"],
    );
    // R44: a stateful appliance in the egress VPC in more than one AZ needs appliance mode.
    let mut appliances: Vec<(String, Vec<String>)> =
        w.ix.snap
            .network_firewalls
            .iter()
            .filter(|f| f.vpc_id.as_deref() == Some(vpc.as_str()))
            .map(|f| {
                let mut azs: Vec<String> = f
                    .endpoints
                    .iter()
                    .map(|e| e.availability_zone.clone())
                    .collect();
                azs.sort();
                azs.dedup();
                (format!("firewall {}", f.name), azs)
            })
            .collect();
    let mut gwlb: Vec<String> = w
        .ix
        .snap
        .vpc_endpoints
        .iter()
        .filter(|e| e.vpc_id == vpc && e.endpoint_type.eq_ignore_ascii_case("GatewayLoadBalancer"))
        .flat_map(|e| e.subnet_ids.iter())
        .filter_map(|s| w.ix.subnet(s).map(|s| s.availability_zone.clone()))
        .collect();
    gwlb.sort();
    gwlb.dedup();
    if !gwlb.is_empty() {
        appliances.push(("Gateway Load Balancer endpoints".into(), gwlb));
    }
    if let Some((appliance, azs)) = appliances.into_iter().find(|(_, azs)| azs.len() > 1) {
        if att.appliance_mode() {
            w.hop(
                Direction::Forward,
                "transit_gateway_attachment",
                &att.id,
                Some(&entry.id),
                HopVerdict::Pass,
                format!("appliance mode on: both directions use one AZ of {appliance}"),
                &["R44"],
            );
        } else {
            w.hop(
                Direction::Forward,
                "transit_gateway_attachment",
                &att.id,
                Some(&entry.id),
                HopVerdict::Partial,
                format!(
                    "appliance mode off while {appliance} spans {}: replies may reach another AZ",
                    azs.join(", ")
                ),
                &["R44", "R48"],
            );
            w.issues.push(Issue::TgwApplianceModeDisabled {
                subnet: w.subnet_id(),
                attachment: att.id.clone(),
                vpc: vpc.clone(),
                appliance,
                azs,
            });
        }
    }
    vec![
        // R43: leaving the TGW toward the NAT: the attachment subnet's outbound rules.
        Next::AttachmentNacl {
            attachment: att.id.clone(),
            subnet: entry.id.clone(),
            egress: true,
            peer_is_function: false,
            direction: Direction::Forward,
        },
        Next::SubnetRoute {
            subnet: entry,
            role: Role::Attachment(att.id.clone()),
        },
        // R43: replies from the NAT toward the TGW: the attachment subnet's inbound rules.
        Next::AttachmentNacl {
            attachment: att.id.clone(),
            subnet: entry.id.clone(),
            egress: false,
            peer_is_function: false,
            direction: Direction::Return,
        },
    ]
}
