//! `NetworkSnapshot`: everything the diagnosis rules need about a VPC, as plain data.
//!
//! The snapshot reader (`crate::snapshot`) fills it from the EC2 and Lambda APIs; the
//! diagnosis engine reads it; a saved snapshot file is its JSON. IDs are AWS resource IDs.

use super::firewall::{FirewallPolicy, FirewallRuleGroup, NetworkFirewall};
use super::transit::{
    TransitGateway, TransitGatewayAttachment, TransitGatewayRouteTable, VpcPeeringConnection,
};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Schema tag written into every saved snapshot.
pub const SNAPSHOT_SCHEMA: &str = "egress-probe.snapshot/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkSnapshot {
    pub schema: String,
    /// Region the snapshot was read in, e.g. `us-east-1`.
    #[serde(default)]
    pub region: Option<String>,
    /// When it was taken (RFC 3339), set by the reader; the engine never reads a clock.
    #[serde(default)]
    pub taken_at: Option<String>,
    #[serde(default)]
    pub vpcs: Vec<Vpc>,
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    #[serde(default)]
    pub route_tables: Vec<RouteTable>,
    #[serde(default)]
    pub nat_gateways: Vec<NatGateway>,
    #[serde(default)]
    pub internet_gateways: Vec<InternetGateway>,
    #[serde(default)]
    pub egress_only_internet_gateways: Vec<InternetGateway>,
    #[serde(default)]
    pub network_acls: Vec<NetworkAcl>,
    #[serde(default)]
    pub security_groups: Vec<SecurityGroup>,
    #[serde(default)]
    pub dhcp_options: Vec<DhcpOptions>,
    #[serde(default)]
    pub vpc_endpoints: Vec<VpcEndpoint>,
    #[serde(default)]
    pub prefix_lists: Vec<PrefixList>,
    /// VPC Block Public Access (R17); `None` when it could not be read (see `gaps`).
    #[serde(default)]
    pub block_public_access: Option<BlockPublicAccess>,
    /// Lambda Hyperplane ENIs (interface type `lambda`, R3) and other ENIs the rules need.
    #[serde(default)]
    pub network_interfaces: Vec<NetworkInterface>,
    /// Lambda functions whose configuration was read (GetFunctionConfiguration).
    #[serde(default)]
    pub functions: Vec<FunctionConfig>,
    /// AZ name → AZ ID (`us-east-1a` → `use1-az6`).
    #[serde(default)]
    pub availability_zones: Vec<AvailabilityZone>,
    /// Transit gateways the VPC's routes or attachments name (R37-R46).
    #[serde(default)]
    pub transit_gateways: Vec<TransitGateway>,
    /// Attachments of those transit gateways that the path needs: the workload VPC's, the
    /// egress VPC's, and any a route leads to.
    #[serde(default)]
    pub transit_gateway_attachments: Vec<TransitGatewayAttachment>,
    /// Transit gateway route tables with their routes (R39, R40).
    #[serde(default)]
    pub transit_gateway_route_tables: Vec<TransitGatewayRouteTable>,
    /// VPC peering connections the route tables name (R56).
    #[serde(default)]
    pub vpc_peering_connections: Vec<VpcPeeringConnection>,
    /// Network Firewall firewalls in any VPC of the snapshot (R47-R55).
    #[serde(default)]
    pub network_firewalls: Vec<NetworkFirewall>,
    #[serde(default)]
    pub firewall_policies: Vec<FirewallPolicy>,
    #[serde(default)]
    pub firewall_rule_groups: Vec<FirewallRuleGroup>,
    /// The DNS path: Resolver rules, outbound endpoints, private hosted zones, DNS
    /// Firewall and Route 53 Profiles (R58-R62).
    #[serde(default)]
    pub dns: super::dns::DnsConfig,
    /// Calls that failed: the analysis built on this snapshot is partial.
    #[serde(default)]
    pub gaps: Vec<SnapshotGap>,
    /// Number of API requests made to take the snapshot (pages count separately).
    #[serde(default)]
    pub api_calls: u32,
    /// Number of sequential rounds of calls (each round's calls run concurrently).
    #[serde(default)]
    pub api_stages: u32,
    /// Odd input the reader skipped or defaulted (an unreadable CIDR, an unknown protocol,
    /// a function subnet that does not exist, moto's fake `VpcId`…), in plain words.
    #[serde(default)]
    pub notes: Vec<String>,
}

impl Default for NetworkSnapshot {
    fn default() -> Self {
        Self {
            schema: SNAPSHOT_SCHEMA.to_string(),
            region: None,
            taken_at: None,
            vpcs: Vec::new(),
            subnets: Vec::new(),
            route_tables: Vec::new(),
            nat_gateways: Vec::new(),
            internet_gateways: Vec::new(),
            egress_only_internet_gateways: Vec::new(),
            network_acls: Vec::new(),
            security_groups: Vec::new(),
            dhcp_options: Vec::new(),
            vpc_endpoints: Vec::new(),
            prefix_lists: Vec::new(),
            block_public_access: None,
            network_interfaces: Vec::new(),
            functions: Vec::new(),
            availability_zones: Vec::new(),
            transit_gateways: Vec::new(),
            transit_gateway_attachments: Vec::new(),
            transit_gateway_route_tables: Vec::new(),
            vpc_peering_connections: Vec::new(),
            network_firewalls: Vec::new(),
            firewall_policies: Vec::new(),
            firewall_rule_groups: Vec::new(),
            dns: super::dns::DnsConfig::default(),
            gaps: Vec::new(),
            api_calls: 0,
            api_stages: 0,
            notes: Vec::new(),
        }
    }
}

impl NetworkSnapshot {
    pub fn vpc(&self, id: &str) -> Option<&Vpc> {
        self.vpcs.iter().find(|v| v.id == id)
    }
    pub fn subnet(&self, id: &str) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.id == id)
    }
    pub fn route_table(&self, id: &str) -> Option<&RouteTable> {
        self.route_tables.iter().find(|r| r.id == id)
    }
    pub fn nat_gateway(&self, id: &str) -> Option<&NatGateway> {
        self.nat_gateways.iter().find(|n| n.id == id)
    }
    pub fn security_group(&self, id: &str) -> Option<&SecurityGroup> {
        self.security_groups.iter().find(|g| g.id == id)
    }
    pub fn prefix_list(&self, id: &str) -> Option<&PrefixList> {
        self.prefix_lists.iter().find(|p| p.id == id)
    }
    pub fn function(&self, name: &str) -> Option<&FunctionConfig> {
        self.functions
            .iter()
            .find(|f| f.name == name || f.arn.as_deref() == Some(name))
    }
    /// R5: the route table a subnet uses: its explicit association, else the VPC's main table.
    pub fn effective_route_table(&self, subnet_id: &str) -> Option<&RouteTable> {
        if let Some(rt) = self
            .route_tables
            .iter()
            .find(|r| r.subnet_ids.iter().any(|s| s == subnet_id))
        {
            return Some(rt);
        }
        let vpc_id = &self.subnet(subnet_id)?.vpc_id;
        self.route_tables
            .iter()
            .find(|r| r.main && &r.vpc_id == vpc_id)
    }
    /// The network ACL associated with a subnet (explicit, else the VPC's default).
    pub fn network_acl_for_subnet(&self, subnet_id: &str) -> Option<&NetworkAcl> {
        if let Some(acl) = self
            .network_acls
            .iter()
            .find(|a| a.subnet_ids.iter().any(|s| s == subnet_id))
        {
            return Some(acl);
        }
        let vpc_id = &self.subnet(subnet_id)?.vpc_id;
        self.network_acls
            .iter()
            .find(|a| a.is_default && &a.vpc_id == vpc_id)
    }
    pub fn transit_gateway_attachment(&self, id: &str) -> Option<&TransitGatewayAttachment> {
        self.transit_gateway_attachments.iter().find(|a| a.id == id)
    }
    pub fn transit_gateway_route_table(&self, id: &str) -> Option<&TransitGatewayRouteTable> {
        self.transit_gateway_route_tables
            .iter()
            .find(|t| t.id == id)
    }
    /// R37: the VPC attachments of `vpc_id` (any state; callers judge the state, R38).
    pub fn vpc_attachments<'a>(
        &'a self,
        vpc_id: &'a str,
    ) -> impl Iterator<Item = &'a TransitGatewayAttachment> + 'a {
        self.transit_gateway_attachments
            .iter()
            .filter(move |a| a.resource_type == "vpc" && a.resource_id.as_deref() == Some(vpc_id))
    }
    pub fn vpc_peering_connection(&self, id: &str) -> Option<&VpcPeeringConnection> {
        self.vpc_peering_connections.iter().find(|p| p.id == id)
    }
    /// R47: the firewall whose endpoint has this ID (`vpce-…`), with that endpoint.
    pub fn firewall_endpoint(
        &self,
        endpoint_id: &str,
    ) -> Option<(&NetworkFirewall, &super::firewall::FirewallEndpoint)> {
        self.network_firewalls
            .iter()
            .find_map(|f| f.endpoint(endpoint_id).map(|e| (f, e)))
    }
    pub fn firewall_policy(&self, arn: &str) -> Option<&FirewallPolicy> {
        self.firewall_policies.iter().find(|p| p.arn == arn)
    }
    pub fn firewall_rule_group(&self, arn: &str) -> Option<&FirewallRuleGroup> {
        self.firewall_rule_groups.iter().find(|g| g.arn == arn)
    }
    /// The gap recorded for an API call, if that call failed.
    pub fn gap(&self, call: &str) -> Option<&SnapshotGap> {
        self.gaps.iter().find(|g| g.call == call)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vpc {
    pub id: String,
    #[serde(default)]
    pub cidr_blocks: Vec<Ipv4Net>,
    #[serde(default)]
    pub ipv6_cidr_blocks: Vec<Ipv6Net>,
    /// `enableDnsSupport` (R24); `None` when DescribeVpcAttribute failed.
    #[serde(default)]
    pub enable_dns_support: Option<bool>,
    /// `enableDnsHostnames` (R24, R29).
    #[serde(default)]
    pub enable_dns_hostnames: Option<bool>,
    /// DHCP options set ID. Absent means AmazonProvidedDNS; `default` is no options at all
    /// when the VPC is also in `dns.no_dhcp_options` (R25), else AmazonProvidedDNS.
    #[serde(default)]
    pub dhcp_options_id: Option<String>,
    /// Per-VPC BPA state (`BlockPublicAccessStates.InternetGatewayBlockMode`), R17.
    #[serde(default)]
    pub block_public_access_mode: Option<String>,
    #[serde(default)]
    pub is_default: bool,
    /// Owner account (`OwnerId`); the egress VPC is usually in a network account (R45).
    #[serde(default)]
    pub owner_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    pub id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    #[serde(default)]
    pub availability_zone_id: Option<String>,
    #[serde(default)]
    pub cidr_block: Option<Ipv4Net>,
    #[serde(default)]
    pub ipv6_cidr_blocks: Vec<Ipv6Net>,
    #[serde(default)]
    pub available_ip_address_count: Option<i32>,
    #[serde(default)]
    pub map_public_ip_on_launch: bool,
    /// Per-subnet BPA state, R17.
    #[serde(default)]
    pub block_public_access_mode: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// `EnableDns64` (R63): Resolver synthesises `64:ff9b::/96` AAAA answers for
    /// IPv4-only names; `None` when not read.
    #[serde(default)]
    pub enable_dns64: Option<bool>,
    /// `Ipv6Native`: an IPv6-only subnet (R63).
    #[serde(default)]
    pub ipv6_native: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteTable {
    pub id: String,
    pub vpc_id: String,
    /// True for the VPC's main route table (used by subnets without an explicit association).
    #[serde(default)]
    pub main: bool,
    /// Subnets explicitly associated with this table.
    #[serde(default)]
    pub subnet_ids: Vec<String>,
    #[serde(default)]
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub destination: RouteDestination,
    pub target: RouteTarget,
    /// `active` or `blackhole` as AWS reports it (R8). Judge the target's own state too.
    pub state: RouteState,
    /// True when the route was propagated (`EnableVgwRoutePropagation`), R6 tie rules.
    #[serde(default)]
    pub propagated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteDestination {
    Ipv4(Ipv4Net),
    Ipv6(Ipv6Net),
    PrefixList(String),
}

impl std::fmt::Display for RouteDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ipv4(n) => write!(f, "{n}"),
            Self::Ipv6(n) => write!(f, "{n}"),
            Self::PrefixList(id) => write!(f, "{id}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum RouteTarget {
    Local,
    InternetGateway(String),
    EgressOnlyInternetGateway(String),
    NatGateway(String),
    TransitGateway(String),
    VpcPeeringConnection(String),
    NetworkInterface(String),
    Instance(String),
    /// `vpce-…`: a gateway endpoint (prefix-list route) or a Gateway Load Balancer endpoint.
    VpcEndpoint(String),
    VirtualPrivateGateway(String),
    LocalGateway(String),
    CarrierGateway(String),
    CoreNetwork(String),
    Other(String),
}

impl RouteTarget {
    /// The resource ID of the target (`local` for the local route).
    pub fn id(&self) -> &str {
        match self {
            Self::Local => "local",
            Self::InternetGateway(id)
            | Self::EgressOnlyInternetGateway(id)
            | Self::NatGateway(id)
            | Self::TransitGateway(id)
            | Self::VpcPeeringConnection(id)
            | Self::NetworkInterface(id)
            | Self::Instance(id)
            | Self::VpcEndpoint(id)
            | Self::VirtualPrivateGateway(id)
            | Self::LocalGateway(id)
            | Self::CarrierGateway(id)
            | Self::CoreNetwork(id)
            | Self::Other(id) => id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteState {
    Active,
    Blackhole,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NatGateway {
    pub id: String,
    pub vpc_id: String,
    /// Zonal NAT: its subnet. Regional NAT: `None`.
    #[serde(default)]
    pub subnet_id: Option<String>,
    /// `pending | failed | available | deleting | deleted` (R10); open set.
    pub state: String,
    /// `public` (default when AWS omits it) or `private` (R11).
    pub connectivity_type: String,
    #[serde(default)]
    pub public_ips: Vec<Ipv4Addr>,
    #[serde(default)]
    pub private_ips: Vec<Ipv4Addr>,
    #[serde(default)]
    pub failure_code: Option<String>,
    #[serde(default)]
    pub failure_message: Option<String>,
    /// `zonal` (default) or `regional` (R14).
    #[serde(default = "zonal")]
    pub availability_mode: String,
    /// Regional NAT: AZ names or AZ IDs it is registered in (R14).
    #[serde(default)]
    pub regional_zones: Vec<String>,
    #[serde(default)]
    pub auto_provision_zones: Option<bool>,
}

fn zonal() -> String {
    "zonal".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InternetGateway {
    pub id: String,
    #[serde(default)]
    pub attachments: Vec<GatewayAttachment>,
}

impl InternetGateway {
    /// R16: attached to the VPC (`available` for IGWs, `attached` for egress-only IGWs).
    pub fn is_attached_to(&self, vpc_id: &str) -> bool {
        self.attachments
            .iter()
            .any(|a| a.vpc_id == vpc_id && matches!(a.state.as_str(), "available" | "attached"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayAttachment {
    pub vpc_id: String,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkAcl {
    pub id: String,
    pub vpc_id: String,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub subnet_ids: Vec<String>,
    /// Entries as AWS returned them; evaluators sort by rule number (R20-R22, §F).
    #[serde(default)]
    pub entries: Vec<NaclEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NaclEntry {
    pub rule_number: i32,
    pub egress: bool,
    pub protocol: Protocol,
    pub action: RuleAction,
    /// IPv4 or IPv6 CIDR; IPv4 entries never match IPv6 traffic and vice versa.
    pub cidr: IpNet,
    #[serde(default)]
    pub port_range: Option<PortRange>,
    #[serde(default)]
    pub icmp_type_code: Option<(i32, i32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    Allow,
    Deny,
}

/// Inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

impl PortRange {
    pub const EPHEMERAL: PortRange = PortRange {
        from: 1024,
        to: 65535,
    };
    pub fn contains(&self, port: u16) -> bool {
        self.from <= port && port <= self.to
    }
}

/// IANA protocol number; -1 means all protocols. Serialised as AWS writes it (`"-1"`, `"6"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Protocol(pub i16);

impl Protocol {
    pub const ALL: Protocol = Protocol(-1);
    pub const ICMP: Protocol = Protocol(1);
    pub const TCP: Protocol = Protocol(6);
    pub const UDP: Protocol = Protocol(17);
    pub const ICMPV6: Protocol = Protocol(58);

    /// Parses AWS's spellings: `-1`, `all`, numbers, and names (`tcp`, `udp`, `icmp`, `icmpv6`).
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.trim().to_ascii_lowercase().as_str() {
            "-1" | "all" | "" => Some(Self::ALL),
            "tcp" => Some(Self::TCP),
            "udp" => Some(Self::UDP),
            "icmp" => Some(Self::ICMP),
            "icmpv6" | "icmp6" => Some(Self::ICMPV6),
            n => n
                .parse::<i16>()
                .ok()
                .filter(|v| (-1..=255).contains(v))
                .map(Protocol),
        }
    }
    /// True when a rule with this protocol applies to `other`.
    pub fn matches(&self, other: Protocol) -> bool {
        self.0 == -1 || self.0 == other.0
    }
    pub fn name(&self) -> String {
        match self.0 {
            -1 => "all".into(),
            1 => "icmp".into(),
            6 => "tcp".into(),
            17 => "udp".into(),
            58 => "icmpv6".into(),
            n => n.to_string(),
        }
    }
}

impl Serialize for Protocol {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Protocol {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor, not an untagged enum: a bad value gets a message naming what is
        // accepted (issue 12.8), not "data did not match any variant of untagged enum".
        struct Visitor;
        const EXPECTED: &str =
            "a protocol name (tcp, udp, icmp, icmpv6, all) or number (-1 to 255)";
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Protocol;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Protocol, E> {
                Protocol::parse(v).ok_or_else(|| {
                    let shown: String = v.chars().take(40).collect();
                    E::custom(format!("unknown protocol `{shown}`: expected {EXPECTED}"))
                })
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Protocol, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Protocol, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub id: String,
    pub vpc_id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// One entry per (protocol, ports, peer): AWS's IpPermissions flattened.
    #[serde(default)]
    pub egress: Vec<SgRule>,
    #[serde(default)]
    pub ingress: Vec<SgRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SgRule {
    #[serde(default)]
    pub rule_id: Option<String>,
    pub protocol: Protocol,
    /// Port range for TCP/UDP; `None` = all ports (protocol -1, or AWS's -1/-1).
    #[serde(default)]
    pub port_range: Option<PortRange>,
    pub peer: SgPeer,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum SgPeer {
    Cidr(IpNet),
    PrefixList(String),
    SecurityGroup(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DhcpOptions {
    pub id: String,
    /// `domain-name-servers` values: `AmazonProvidedDNS` or IP addresses (R25).
    #[serde(default)]
    pub domain_name_servers: Vec<String>,
    #[serde(default)]
    pub domain_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VpcEndpoint {
    pub id: String,
    pub vpc_id: String,
    /// e.g. `com.amazonaws.us-east-1.sts`.
    pub service_name: String,
    /// `Interface | Gateway | GatewayLoadBalancer | …` (R15, R29, R30).
    pub endpoint_type: String,
    pub state: String,
    #[serde(default)]
    pub private_dns_enabled: bool,
    #[serde(default)]
    pub subnet_ids: Vec<String>,
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    #[serde(default)]
    pub network_interface_ids: Vec<String>,
    #[serde(default)]
    pub route_table_ids: Vec<String>,
    /// Private DNS names the endpoint answers for (e.g. `sts.us-east-1.amazonaws.com`).
    #[serde(default)]
    pub dns_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrefixList {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub cidrs: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockPublicAccess {
    /// `off | block-bidirectional | block-ingress` (R17).
    pub internet_gateway_block_mode: String,
    /// `allowed | not-allowed`.
    #[serde(default)]
    pub exclusions_allowed: Option<String>,
    #[serde(default)]
    pub exclusions: Vec<BpaExclusion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BpaExclusion {
    pub id: String,
    /// The excluded VPC or subnet ID.
    pub resource_id: String,
    /// `allow-bidirectional | allow-egress`.
    pub mode: String,
    #[serde(default)]
    pub state: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkInterface {
    pub id: String,
    pub subnet_id: String,
    pub vpc_id: String,
    /// `lambda`, `interface`, `nat_gateway`, `vpc_endpoint`, … (R3: filter on `lambda`).
    pub interface_type: String,
    /// `available | associated | attaching | in-use | detaching`.
    pub status: String,
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub private_ips: Vec<Ipv4Addr>,
    #[serde(default)]
    pub ipv6_addresses: Vec<Ipv6Addr>,
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionConfig {
    pub name: String,
    #[serde(default)]
    pub arn: Option<String>,
    /// `Pending | Active | Inactive | Failed` (R1); open set.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub state_reason_code: Option<String>,
    #[serde(default)]
    pub state_reason: Option<String>,
    /// `Successful | Failed | InProgress`.
    #[serde(default)]
    pub last_update_status: Option<String>,
    #[serde(default)]
    pub last_update_status_reason_code: Option<String>,
    /// Empty when the function is not attached to a VPC.
    #[serde(default)]
    pub subnet_ids: Vec<String>,
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    /// VPC derived from the subnets (the API's `VpcId` can be wrong, e.g. in moto).
    #[serde(default)]
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub ipv6_allowed_for_dual_stack: bool,
}

impl FunctionConfig {
    pub fn in_vpc(&self) -> bool {
        !self.subnet_ids.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityZone {
    pub name: String,
    pub zone_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotGap {
    /// The API call, e.g. `ec2:DescribeVpcBlockPublicAccessOptions`.
    pub call: String,
    pub kind: GapKind,
    /// The error as the API reported it.
    pub reason: String,
    /// The account the call was made in, when it is not the snapshot's own (R45: the
    /// transit gateway, egress VPC and firewall usually live in a network account).
    #[serde(default)]
    pub account: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapKind {
    /// Missing IAM permission (AccessDenied, UnauthorizedOperation).
    Denied,
    /// Throttled past the SDK's retries.
    Throttled,
    /// The API or filter is not supported here (e.g. not implemented, unknown action).
    Unsupported,
    /// Could not reach the API (timeout, connection failure).
    Unreachable,
    /// Any other error.
    Error,
}
