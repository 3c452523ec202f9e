//! Beyond the VPC: transit gateways, their attachments and route tables, and VPC peering
//! connections (fact sheet part 2, §A and §C: R37-R46, R56). Plain data, as the APIs report it.
//!
//! The egress (inspection) VPC behind a transit gateway is held in the same snapshot lists as
//! the workload VPC (`vpcs`, `subnets`, `route_tables`, `nat_gateways`, `network_acls`, …):
//! one model for every VPC, whichever account it lives in.

use super::snapshot::RouteDestination;
use serde::{Deserialize, Serialize};

/// `DescribeTransitGateways`: one transit gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitGateway {
    /// `tgw-…`
    pub id: String,
    /// Owner account (R45: only the owner can read route tables in full).
    #[serde(default)]
    pub owner_id: Option<String>,
    /// `pending | available | modifying | deleting | deleted`.
    #[serde(default)]
    pub state: Option<String>,
    /// `Options.AssociationDefaultRouteTableId`, when default association is on.
    #[serde(default)]
    pub association_default_route_table_id: Option<String>,
    /// `Options.PropagationDefaultRouteTableId`, when default propagation is on.
    #[serde(default)]
    pub propagation_default_route_table_id: Option<String>,
}

/// `DescribeTransitGatewayAttachments` joined with `DescribeTransitGatewayVpcAttachments`
/// (R37, R38, R44): one attachment of any resource type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitGatewayAttachment {
    /// `tgw-attach-…`
    pub id: String,
    pub transit_gateway_id: String,
    /// `vpc | vpn | direct-connect-gateway | connect | peering | tgw-peering |
    /// network-function | …` (open set).
    pub resource_type: String,
    /// The VPC ID for a VPC attachment, the peer TGW for peering, …
    #[serde(default)]
    pub resource_id: Option<String>,
    /// Account that owns the attached resource (the spoke account for a VPC).
    #[serde(default)]
    pub resource_owner_id: Option<String>,
    #[serde(default)]
    pub transit_gateway_owner_id: Option<String>,
    /// `available` is the only state that carries traffic (R38); open set.
    pub state: String,
    /// The one route table this attachment is associated with (R38, R39).
    #[serde(default)]
    pub association: Option<TgwAssociation>,
    /// VPC attachments: one subnet per enabled AZ (R37).
    #[serde(default)]
    pub subnet_ids: Vec<String>,
    /// VPC attachments: `Options.ApplianceModeSupport` = `enable | disable` (R44).
    #[serde(default)]
    pub appliance_mode_support: Option<String>,
    /// `Tags` `Name`, for messages.
    #[serde(default)]
    pub name: Option<String>,
}

impl TransitGatewayAttachment {
    pub fn is_available(&self) -> bool {
        self.state == "available"
    }
    /// R38: the associated route table, only while the association is `associated`.
    pub fn associated_route_table(&self) -> Option<&str> {
        self.association
            .as_ref()
            .filter(|a| a.state == "associated")
            .map(|a| a.route_table_id.as_str())
    }
    /// R44: appliance mode is on.
    pub fn appliance_mode(&self) -> bool {
        self.appliance_mode_support.as_deref() == Some("enable")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TgwAssociation {
    /// `tgw-rtb-…`
    pub route_table_id: String,
    /// `associating | associated | disassociating | disassociated`.
    pub state: String,
}

/// A transit gateway route table with the routes read from it (R39, R40).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitGatewayRouteTable {
    /// `tgw-rtb-…`
    pub id: String,
    pub transit_gateway_id: String,
    /// The routes the reader saw (`SearchTransitGatewayRoutes`, states active and blackhole).
    #[serde(default)]
    pub routes: Vec<TgwRoute>,
    /// False when the API said more routes exist than were read
    /// (`AdditionalRoutesAvailable`): a missing match is then not proof of no route.
    #[serde(default = "yes")]
    pub routes_complete: bool,
}

fn yes() -> bool {
    true
}

/// One route of a transit gateway route table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TgwRoute {
    /// A CIDR, or the prefix list it came from (entries resolved through `prefix_lists`).
    pub destination: RouteDestination,
    /// `static | propagated` (R39: static wins over propagated for the same prefix).
    pub route_type: String,
    /// `active | blackhole | pending | deleting | deleted` (R40).
    pub state: String,
    /// Where matching traffic goes; empty for a blackhole route. ECMP routes list several.
    #[serde(default)]
    pub attachments: Vec<TgwRouteAttachment>,
}

impl TgwRoute {
    pub fn is_blackhole(&self) -> bool {
        self.state == "blackhole"
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TgwRouteAttachment {
    pub attachment_id: String,
    #[serde(default)]
    pub resource_id: Option<String>,
    #[serde(default)]
    pub resource_type: Option<String>,
}

/// `DescribeVpcPeeringConnections` (R56).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VpcPeeringConnection {
    /// `pcx-…`
    pub id: String,
    /// `Status.Code`: `active` is the only state that carries traffic; open set.
    pub status: String,
    pub requester: PeeringSide,
    pub accepter: PeeringSide,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeeringSide {
    pub vpc_id: String,
    #[serde(default)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// IPv4 and IPv6 CIDRs of that VPC (`CidrBlockSet`, `Ipv6CidrBlockSet`).
    #[serde(default)]
    pub cidrs: Vec<ipnet::IpNet>,
}

impl VpcPeeringConnection {
    /// The side that is not `vpc_id` (the peer of the VPC we stand in).
    pub fn peer_of(&self, vpc_id: &str) -> Option<&PeeringSide> {
        if self.requester.vpc_id == vpc_id {
            Some(&self.accepter)
        } else if self.accepter.vpc_id == vpc_id {
            Some(&self.requester)
        } else {
            None
        }
    }
}
