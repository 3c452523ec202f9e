//! Transit gateways, their attachments and route tables, and VPC peering connections:
//! SDK → model conversion (total, like `convert`), and the merge rules that join the two
//! attachment calls (R37-R41, R44, R56).

use super::convert::Notes;
use crate::model::{
    NetworkSnapshot, PeeringSide, RouteDestination, TgwAssociation, TgwRoute, TgwRouteAttachment,
    TransitGateway, TransitGatewayAttachment, TransitGatewayRouteTable, VpcPeeringConnection,
};
use aws_sdk_ec2::types as ec2;
use ipnet::IpNet;

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_string).filter(|s| !s.is_empty())
}

fn name_tag(tags: &[ec2::Tag]) -> Option<String> {
    tags.iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(|t| owned(t.value()))
}

pub fn transit_gateway(t: &ec2::TransitGateway) -> Option<TransitGateway> {
    let options = t.options();
    Some(TransitGateway {
        id: owned(t.transit_gateway_id())?,
        owner_id: owned(t.owner_id()),
        state: t.state().map(|s| s.as_str().to_string()),
        association_default_route_table_id: options
            .and_then(|o| owned(o.association_default_route_table_id())),
        propagation_default_route_table_id: options
            .and_then(|o| owned(o.propagation_default_route_table_id())),
    })
}

/// `DescribeTransitGatewayAttachments`: state, association, owners (R38).
pub fn attachment(a: &ec2::TransitGatewayAttachment) -> Option<TransitGatewayAttachment> {
    Some(TransitGatewayAttachment {
        id: owned(a.transit_gateway_attachment_id())?,
        transit_gateway_id: owned(a.transit_gateway_id()).unwrap_or_default(),
        resource_type: a
            .resource_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        resource_id: owned(a.resource_id()),
        resource_owner_id: owned(a.resource_owner_id()),
        transit_gateway_owner_id: owned(a.transit_gateway_owner_id()),
        state: a
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        association: a.association().and_then(|x| {
            Some(TgwAssociation {
                route_table_id: owned(x.transit_gateway_route_table_id())?,
                state: x
                    .state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            })
        }),
        subnet_ids: Vec::new(),
        appliance_mode_support: None,
        name: name_tag(a.tags()),
    })
}

/// `DescribeTransitGatewayVpcAttachments`: subnets per AZ (R37), appliance mode (R44).
pub fn vpc_attachment(a: &ec2::TransitGatewayVpcAttachment) -> Option<TransitGatewayAttachment> {
    Some(TransitGatewayAttachment {
        id: owned(a.transit_gateway_attachment_id())?,
        transit_gateway_id: owned(a.transit_gateway_id()).unwrap_or_default(),
        resource_type: "vpc".to_string(),
        resource_id: owned(a.vpc_id()),
        resource_owner_id: owned(a.vpc_owner_id()),
        transit_gateway_owner_id: None,
        state: a
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        association: None,
        subnet_ids: a.subnet_ids().to_vec(),
        appliance_mode_support: a
            .options()
            .and_then(|o| o.appliance_mode_support())
            .map(|m| m.as_str().to_string()),
        name: name_tag(a.tags()),
    })
}

/// Adds an attachment, or fills in what the other attachment call did not say. The
/// generic call's state and association win; the VPC call's subnets and options are kept.
pub fn upsert_attachment(snap: &mut NetworkSnapshot, new: TransitGatewayAttachment) {
    let Some(old) = snap
        .transit_gateway_attachments
        .iter_mut()
        .find(|a| a.id == new.id)
    else {
        snap.transit_gateway_attachments.push(new);
        return;
    };
    if new.association.is_some() || new.transit_gateway_owner_id.is_some() {
        // From DescribeTransitGatewayAttachments.
        old.state = new.state.clone();
        old.association = new.association;
        old.transit_gateway_owner_id = new.transit_gateway_owner_id;
        old.resource_type = new.resource_type;
    }
    if old.transit_gateway_id.is_empty() {
        old.transit_gateway_id = new.transit_gateway_id;
    }
    if old.resource_id.is_none() {
        old.resource_id = new.resource_id;
    }
    if old.resource_owner_id.is_none() {
        old.resource_owner_id = new.resource_owner_id;
    }
    if old.subnet_ids.is_empty() {
        old.subnet_ids = new.subnet_ids;
    }
    if old.appliance_mode_support.is_none() {
        old.appliance_mode_support = new.appliance_mode_support;
    }
    if old.name.is_none() {
        old.name = new.name;
    }
    if old.state.is_empty() {
        old.state = new.state;
    }
}

/// One route of `SearchTransitGatewayRoutes` (R39, R40). A prefix-list reference is shown
/// per entry with its CIDR; only when the CIDR is absent is the list ID kept.
pub fn route(table_id: &str, r: &ec2::TransitGatewayRoute, notes: &mut Notes) -> Option<TgwRoute> {
    let destination = match (r.destination_cidr_block(), owned(r.prefix_list_id())) {
        (Some(text), _) => match text.trim().parse::<IpNet>() {
            Ok(IpNet::V4(n)) => RouteDestination::Ipv4(n),
            Ok(IpNet::V6(n)) => RouteDestination::Ipv6(n),
            Err(_) => {
                notes.push(format!("{table_id}: unreadable route destination {text:?}"));
                return None;
            }
        },
        (None, Some(pl)) => RouteDestination::PrefixList(pl),
        (None, None) => {
            notes.push(format!(
                "{table_id}: a route without destination was skipped"
            ));
            return None;
        }
    };
    Some(TgwRoute {
        destination,
        route_type: r
            .r#type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        state: r
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        attachments: r
            .transit_gateway_attachments()
            .iter()
            .filter_map(|a| {
                Some(TgwRouteAttachment {
                    attachment_id: owned(a.transit_gateway_attachment_id())?,
                    resource_id: owned(a.resource_id()),
                    resource_type: a.resource_type().map(|t| t.as_str().to_string()),
                })
            })
            .collect(),
    })
}

/// A route table from its routes; `complete` is false when the API said more exist.
pub fn route_table(
    table_id: &str,
    tgw_id: &str,
    routes: &[ec2::TransitGatewayRoute],
    complete: bool,
    notes: &mut Notes,
) -> TransitGatewayRouteTable {
    TransitGatewayRouteTable {
        id: table_id.to_string(),
        transit_gateway_id: tgw_id.to_string(),
        routes: routes
            .iter()
            .filter_map(|r| route(table_id, r, notes))
            .collect(),
        routes_complete: complete,
    }
}

fn side(info: Option<&ec2::VpcPeeringConnectionVpcInfo>) -> Option<PeeringSide> {
    let info = info?;
    let mut cidrs: Vec<IpNet> = info
        .cidr_block_set()
        .iter()
        .filter_map(|c| c.cidr_block())
        .chain(info.cidr_block())
        .filter_map(|c| c.trim().parse::<IpNet>().ok())
        .chain(
            info.ipv6_cidr_block_set()
                .iter()
                .filter_map(|c| c.ipv6_cidr_block())
                .filter_map(|c| c.trim().parse::<IpNet>().ok()),
        )
        .collect();
    cidrs.sort();
    cidrs.dedup();
    Some(PeeringSide {
        vpc_id: owned(info.vpc_id())?,
        owner_id: owned(info.owner_id()),
        region: owned(info.region()),
        cidrs,
    })
}

/// `DescribeVpcPeeringConnections` (R56).
pub fn peering(p: &ec2::VpcPeeringConnection) -> Option<VpcPeeringConnection> {
    Some(VpcPeeringConnection {
        id: owned(p.vpc_peering_connection_id())?,
        status: p
            .status()
            .and_then(|s| s.code())
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        requester: side(p.requester_vpc_info())?,
        accepter: side(p.accepter_vpc_info())?,
    })
}

/// Destinations that can carry internet-bound traffic: not inside private, shared or
/// link-local space. The VPCs behind such TGW routes are read (the egress VPC); routes to
/// other spokes' private CIDRs are not followed.
pub fn may_carry_internet_traffic(d: &RouteDestination) -> bool {
    const PRIVATE: &[&str] = &[
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
    ];
    let net: IpNet = match d {
        RouteDestination::Ipv4(n) => IpNet::V4(*n),
        RouteDestination::Ipv6(n) => IpNet::V6(*n),
        // A prefix list may hold anything: follow it.
        RouteDestination::PrefixList(_) => return true,
    };
    !PRIVATE
        .iter()
        .filter_map(|p| p.parse::<IpNet>().ok())
        .any(|p| p.contains(&net))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_calls_are_joined() {
        let generic = ec2::TransitGatewayAttachment::builder()
            .transit_gateway_attachment_id("tgw-attach-1")
            .transit_gateway_id("tgw-1")
            .transit_gateway_owner_id("222222222222")
            .resource_owner_id("111111111111")
            .resource_type(ec2::TransitGatewayAttachmentResourceType::Vpc)
            .resource_id("vpc-1")
            .state(ec2::TransitGatewayAttachmentState::Available)
            .association(
                ec2::TransitGatewayAttachmentAssociation::builder()
                    .transit_gateway_route_table_id("tgw-rtb-1")
                    .state(ec2::TransitGatewayAssociationState::Associated)
                    .build(),
            )
            .build();
        let vpc = ec2::TransitGatewayVpcAttachment::builder()
            .transit_gateway_attachment_id("tgw-attach-1")
            .transit_gateway_id("tgw-1")
            .vpc_id("vpc-1")
            .state(ec2::TransitGatewayAttachmentState::Available)
            .subnet_ids("subnet-a")
            .subnet_ids("subnet-b")
            .options(
                ec2::TransitGatewayVpcAttachmentOptions::builder()
                    .appliance_mode_support(ec2::ApplianceModeSupportValue::Enable)
                    .build(),
            )
            .build();
        // Either order gives the same joined attachment.
        for order in [[0, 1], [1, 0]] {
            let mut snap = NetworkSnapshot::default();
            for i in order {
                let a = if i == 0 {
                    attachment(&generic).unwrap()
                } else {
                    vpc_attachment(&vpc).unwrap()
                };
                upsert_attachment(&mut snap, a);
            }
            assert_eq!(snap.transit_gateway_attachments.len(), 1);
            let a = &snap.transit_gateway_attachments[0];
            assert_eq!(a.associated_route_table(), Some("tgw-rtb-1"));
            assert_eq!(a.subnet_ids, ["subnet-a", "subnet-b"]);
            assert!(a.appliance_mode());
            assert!(a.is_available());
            assert_eq!(a.transit_gateway_owner_id.as_deref(), Some("222222222222"));
            assert_eq!(a.resource_owner_id.as_deref(), Some("111111111111"));
            assert_eq!(a.resource_type, "vpc");
        }
    }

    #[test]
    fn routes_keep_type_state_and_targets() {
        let r = ec2::TransitGatewayRoute::builder()
            .destination_cidr_block("0.0.0.0/0")
            .r#type(ec2::TransitGatewayRouteType::Static)
            .state(ec2::TransitGatewayRouteState::Active)
            .transit_gateway_attachments(
                ec2::TransitGatewayRouteAttachment::builder()
                    .transit_gateway_attachment_id("tgw-attach-e")
                    .resource_id("vpc-e")
                    .resource_type(ec2::TransitGatewayAttachmentResourceType::Vpc)
                    .build(),
            )
            .build();
        let hole = ec2::TransitGatewayRoute::builder()
            .destination_cidr_block("203.0.113.0/24")
            .r#type(ec2::TransitGatewayRouteType::Static)
            .state(ec2::TransitGatewayRouteState::Blackhole)
            .build();
        let bad = ec2::TransitGatewayRoute::builder()
            .destination_cidr_block("nonsense")
            .build();
        let mut notes = Notes::new();
        let t = route_table("tgw-rtb-1", "tgw-1", &[r, hole, bad], false, &mut notes);
        assert_eq!(t.routes.len(), 2);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(!t.routes_complete);
        assert_eq!(t.routes[0].route_type, "static");
        assert_eq!(t.routes[0].attachments[0].attachment_id, "tgw-attach-e");
        assert_eq!(
            t.routes[0].attachments[0].resource_id.as_deref(),
            Some("vpc-e")
        );
        assert!(t.routes[1].is_blackhole() && t.routes[1].attachments.is_empty());
    }

    #[test]
    fn only_routes_that_can_carry_internet_traffic_are_followed() {
        let d = |s: &str| match s.parse::<IpNet>().unwrap() {
            IpNet::V4(n) => RouteDestination::Ipv4(n),
            IpNet::V6(n) => RouteDestination::Ipv6(n),
        };
        assert!(may_carry_internet_traffic(&d("0.0.0.0/0")));
        assert!(may_carry_internet_traffic(&d("::/0")));
        assert!(may_carry_internet_traffic(&d("203.0.113.0/24")));
        assert!(!may_carry_internet_traffic(&d("10.1.0.0/16")));
        assert!(!may_carry_internet_traffic(&d("192.168.4.0/24")));
        assert!(may_carry_internet_traffic(&RouteDestination::PrefixList(
            "pl-1".into()
        )));
    }

    #[test]
    fn peering_sides_carry_their_cidrs() {
        let info = |vpc: &str, cidr: &str| {
            ec2::VpcPeeringConnectionVpcInfo::builder()
                .vpc_id(vpc)
                .owner_id("111111111111")
                .cidr_block(cidr)
                .cidr_block_set(ec2::CidrBlock::builder().cidr_block(cidr).build())
                .build()
        };
        let p = ec2::VpcPeeringConnection::builder()
            .vpc_peering_connection_id("pcx-1")
            .status(
                ec2::VpcPeeringConnectionStateReason::builder()
                    .code(ec2::VpcPeeringConnectionStateReasonCode::Active)
                    .build(),
            )
            .requester_vpc_info(info("vpc-a", "10.0.0.0/16"))
            .accepter_vpc_info(info("vpc-b", "10.1.0.0/16"))
            .build();
        let p = peering(&p).unwrap();
        assert_eq!(p.status, "active");
        assert_eq!(p.peer_of("vpc-a").unwrap().vpc_id, "vpc-b");
        assert_eq!(
            p.peer_of("vpc-a").unwrap().cidrs,
            vec!["10.1.0.0/16".parse::<IpNet>().unwrap()]
        );
    }
}
