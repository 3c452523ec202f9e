//! The lab's own reader of one VPC's configuration through the EC2 API (moto).
//!
//! Deliberately independent from the product's snapshot reader (`probe/src/snapshot*`):
//! the lab builds packets from what this reader sees, the probe diagnoses from what its
//! reader sees, and a bug in one cannot hide itself in the other.

use anyhow::{Context, Result, bail};
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::Filter;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

/// Description prefix that marks an ENI as a Lambda function's ENI (a probe host).
/// moto cannot create `interface-type=lambda` ENIs (moto-notes), so scenarios create
/// ordinary ENIs with this description, as Lambda does (`AWS Lambda VPC ENI-<function>`).
pub const LAMBDA_ENI_DESCRIPTION: &str = "AWS Lambda VPC ENI";

/// What the lab knows about one VPC.
#[derive(Debug, Clone, Default)]
pub struct VpcConfig {
    pub vpc_id: String,
    pub cidrs_v4: Vec<Ipv4Net>,
    /// The VPC's IPv6 block as moto reports it (AmazonProvided, 2400:6500:…/56).
    pub cidr_v6: Option<Ipv6Net>,
    pub enable_dns_support: bool,
    /// `domain-name-servers` of the VPC's DHCP options; `None` = AmazonProvidedDNS; empty
    /// when the VPC has no DHCP options at all (`default`, R25): no server is handed out.
    pub dhcp_dns_servers: Option<Vec<IpAddr>>,
    pub subnets: Vec<SubnetCfg>,
    pub route_tables: Vec<RouteTableCfg>,
    pub nat_gateways: Vec<NatCfg>,
    /// Internet gateways attached to this VPC.
    pub igws: Vec<String>,
    /// Egress-only internet gateways attached to this VPC.
    pub eigws: Vec<String>,
    pub nacls: Vec<NaclCfg>,
    pub security_groups: BTreeMap<String, SgCfg>,
    /// Lambda ENIs (probe hosts), by ENI id.
    pub enis: Vec<EniCfg>,
    /// Interface endpoints of the EC2 API (`com.amazonaws.<region>.ec2`).
    pub ec2_endpoints: Vec<EndpointCfg>,
    /// Gateway Load Balancer endpoints (a Network Firewall endpoint is one, R47), each in
    /// one subnet.
    pub gwlb_endpoints: Vec<EndpointCfg>,
}

#[derive(Debug, Clone)]
pub struct EndpointCfg {
    pub id: String,
    pub subnet_ids: Vec<String>,
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct SubnetCfg {
    pub id: String,
    pub az: String,
    pub cidr_v4: Ipv4Net,
    pub cidr_v6: Option<Ipv6Net>,
}

#[derive(Debug, Clone)]
pub struct RouteTableCfg {
    pub id: String,
    pub main: bool,
    pub subnet_ids: Vec<String>,
    pub routes: Vec<RouteCfg>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteCfg {
    pub destination: IpNet,
    pub target: RouteTarget,
    /// `active` or `blackhole` as reported (moto never reports blackhole).
    pub state: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RouteTarget {
    Local,
    InternetGateway(String),
    EgressOnlyInternetGateway(String),
    NatGateway(String),
    /// `tgw-…` (R37: to the attachment's ENI in the same AZ).
    TransitGateway(String),
    /// `vpce-…` in `GatewayId`: a Gateway Load Balancer / firewall endpoint (R47).
    VpcEndpoint(String),
    /// `pcx-…` (R56).
    Peering(String),
    /// Anything the lab does not model (ENI, VGW…): a silent drop.
    Other(String),
}

#[derive(Debug, Clone)]
pub struct NatCfg {
    pub id: String,
    pub subnet_id: String,
    pub state: String,
    pub public: bool,
    /// moto's EIP (127.x); mapped to a lab address by the data plane.
    pub public_ip: Option<Ipv4Addr>,
}

#[derive(Debug, Clone)]
pub struct NaclCfg {
    pub id: String,
    pub subnet_ids: Vec<String>,
    pub entries: Vec<NaclEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NaclEntry {
    pub rule_number: i32,
    pub egress: bool,
    /// `-1`, `6`, `17`, `1`, `58` or a name (`tcp`) as stored.
    pub protocol: String,
    pub allow: bool,
    pub cidr: IpNet,
    pub ports: Option<(u16, u16)>,
}

#[derive(Debug, Clone, Default)]
pub struct SgCfg {
    pub id: String,
    pub egress: Vec<SgRule>,
    pub ingress: Vec<SgRule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SgRule {
    pub protocol: String,
    pub ports: Option<(u16, u16)>,
    pub cidrs: Vec<IpNet>,
    /// Referenced security groups (resolved to the lab's ENI addresses).
    pub groups: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct EniCfg {
    pub id: String,
    pub subnet_id: String,
    pub private_ip: Ipv4Addr,
    pub groups: Vec<String>,
    pub description: String,
}

impl VpcConfig {
    pub fn subnet(&self, id: &str) -> Option<&SubnetCfg> {
        self.subnets.iter().find(|s| s.id == id)
    }

    /// The route table in force for a subnet: its explicit association, else the main one.
    pub fn effective_route_table(&self, subnet_id: &str) -> Option<&RouteTableCfg> {
        self.route_tables
            .iter()
            .find(|rt| rt.subnet_ids.iter().any(|s| s == subnet_id))
            .or_else(|| self.route_tables.iter().find(|rt| rt.main))
    }

    /// The NACL associated with a subnet (every subnet has exactly one).
    pub fn nacl_of(&self, subnet_id: &str) -> Option<&NaclCfg> {
        self.nacls
            .iter()
            .find(|n| n.subnet_ids.iter().any(|s| s == subnet_id))
    }

    /// Amazon DNS: the base of the VPC's primary IPv4 block plus two.
    pub fn amazon_dns(&self) -> Option<Ipv4Addr> {
        let base = self.cidrs_v4.first()?.network();
        Some(Ipv4Addr::from(u32::from(base) + 2))
    }

    pub fn nat(&self, id: &str) -> Option<&NatCfg> {
        self.nat_gateways.iter().find(|n| n.id == id)
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn port_range(from: Option<i32>, to: Option<i32>) -> Option<(u16, u16)> {
    match (from, to) {
        (Some(f), Some(t)) if f >= 0 && t >= 0 => Some((f as u16, t as u16)),
        _ => None,
    }
}

/// Reads the configuration of `vpc_id`.
pub async fn read(ec2: &Client, vpc_id: &str) -> Result<VpcConfig> {
    let vpcs = ec2
        .describe_vpcs()
        .vpc_ids(vpc_id)
        .send()
        .await
        .context("DescribeVpcs")?;
    let Some(vpc) = vpcs.vpcs().first() else {
        bail!("VPC {vpc_id} not found");
    };
    let mut cfg = VpcConfig {
        vpc_id: vpc_id.to_string(),
        ..Default::default()
    };
    for assoc in vpc.cidr_block_association_set() {
        if let Some(c) = assoc.cidr_block() {
            cfg.cidrs_v4.push(c.parse().context("VPC CIDR")?);
        }
    }
    if cfg.cidrs_v4.is_empty()
        && let Some(c) = vpc.cidr_block()
    {
        cfg.cidrs_v4.push(c.parse().context("VPC CIDR")?);
    }
    cfg.cidr_v6 = vpc
        .ipv6_cidr_block_association_set()
        .iter()
        .filter_map(|a| a.ipv6_cidr_block())
        .find_map(|c| c.parse().ok());

    let attr = ec2
        .describe_vpc_attribute()
        .vpc_id(vpc_id)
        .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport)
        .send()
        .await
        .context("DescribeVpcAttribute enableDnsSupport")?;
    cfg.enable_dns_support = attr
        .enable_dns_support()
        .and_then(|v| v.value())
        .unwrap_or(true);

    if vpc.dhcp_options_id() == Some("default") {
        cfg.dhcp_dns_servers = Some(Vec::new());
    } else if let Some(dopt) = vpc.dhcp_options_id() {
        let out = ec2
            .describe_dhcp_options()
            .dhcp_options_ids(dopt)
            .send()
            .await
            .context("DescribeDhcpOptions")?;
        for opt in out.dhcp_options() {
            for c in opt.dhcp_configurations() {
                if c.key() == Some("domain-name-servers") {
                    let values: Vec<String> = c
                        .values()
                        .iter()
                        .filter_map(|v| v.value().map(String::from))
                        .collect();
                    if values.iter().any(|v| v == "AmazonProvidedDNS") {
                        cfg.dhcp_dns_servers = None;
                    } else {
                        cfg.dhcp_dns_servers =
                            Some(values.iter().filter_map(|v| v.parse().ok()).collect());
                    }
                }
            }
        }
    }

    let subnets = ec2
        .describe_subnets()
        .filters(filter("vpc-id", vpc_id))
        .send()
        .await
        .context("DescribeSubnets")?;
    for s in subnets.subnets() {
        let (Some(id), Some(cidr)) = (s.subnet_id(), s.cidr_block()) else {
            continue;
        };
        cfg.subnets.push(SubnetCfg {
            id: id.to_string(),
            az: s.availability_zone().unwrap_or_default().to_string(),
            cidr_v4: cidr.parse().context("subnet CIDR")?,
            cidr_v6: s
                .ipv6_cidr_block_association_set()
                .iter()
                .filter_map(|a| a.ipv6_cidr_block())
                .find_map(|c| c.parse().ok()),
        });
    }
    cfg.subnets.sort_by(|a, b| a.id.cmp(&b.id));

    let rts = ec2
        .describe_route_tables()
        .filters(filter("vpc-id", vpc_id))
        .send()
        .await
        .context("DescribeRouteTables")?;
    for rt in rts.route_tables() {
        let mut table = RouteTableCfg {
            id: rt.route_table_id().unwrap_or_default().to_string(),
            main: false,
            subnet_ids: Vec::new(),
            routes: Vec::new(),
        };
        for a in rt.associations() {
            if a.main() == Some(true) {
                table.main = true;
            }
            if let Some(s) = a.subnet_id() {
                table.subnet_ids.push(s.to_string());
            }
        }
        for r in rt.routes() {
            let dest: Option<IpNet> = r
                .destination_cidr_block()
                .and_then(|c| c.parse().ok())
                .or_else(|| r.destination_ipv6_cidr_block().and_then(|c| c.parse().ok()));
            // Prefix-list destinations (gateway endpoints) are not modelled.
            let Some(destination) = dest else { continue };
            let target = if let Some(g) = r.gateway_id() {
                if g == "local" {
                    RouteTarget::Local
                } else if g.starts_with("igw-") {
                    RouteTarget::InternetGateway(g.to_string())
                } else if g.starts_with("vpce-") {
                    RouteTarget::VpcEndpoint(g.to_string())
                } else {
                    RouteTarget::Other(g.to_string())
                }
            } else if let Some(n) = r.nat_gateway_id() {
                RouteTarget::NatGateway(n.to_string())
            } else if let Some(e) = r.egress_only_internet_gateway_id() {
                RouteTarget::EgressOnlyInternetGateway(e.to_string())
            } else if let Some(t) = r.transit_gateway_id() {
                RouteTarget::TransitGateway(t.to_string())
            } else if let Some(p) = r.vpc_peering_connection_id() {
                RouteTarget::Peering(p.to_string())
            } else {
                RouteTarget::Other(r.network_interface_id().unwrap_or("unknown").to_string())
            };
            table.routes.push(RouteCfg {
                destination,
                target,
                state: r
                    .state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "active".into()),
            });
        }
        cfg.route_tables.push(table);
    }

    let nats = ec2
        .describe_nat_gateways()
        .filter(filter("vpc-id", vpc_id))
        .send()
        .await
        .context("DescribeNatGateways")?;
    for n in nats.nat_gateways() {
        let public = n
            .connectivity_type()
            .map(|c| c.as_str() != "private")
            .unwrap_or(true);
        cfg.nat_gateways.push(NatCfg {
            id: n.nat_gateway_id().unwrap_or_default().to_string(),
            subnet_id: n.subnet_id().unwrap_or_default().to_string(),
            state: n
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            public,
            public_ip: n
                .nat_gateway_addresses()
                .iter()
                .filter_map(|a| a.public_ip())
                .find_map(|ip| ip.parse().ok()),
        });
    }

    let igws = ec2
        .describe_internet_gateways()
        .filters(filter("attachment.vpc-id", vpc_id))
        .send()
        .await
        .context("DescribeInternetGateways")?;
    for g in igws.internet_gateways() {
        let attached = g.attachments().iter().any(|a| {
            a.vpc_id() == Some(vpc_id)
                && a.state()
                    .map(|s| matches!(s.as_str(), "available" | "attached"))
                    .unwrap_or(false)
        });
        if attached && let Some(id) = g.internet_gateway_id() {
            cfg.igws.push(id.to_string());
        }
    }

    let eigws = ec2
        .describe_egress_only_internet_gateways()
        .send()
        .await
        .context("DescribeEgressOnlyInternetGateways")?;
    for g in eigws.egress_only_internet_gateways() {
        let attached = g.attachments().iter().any(|a| {
            a.vpc_id() == Some(vpc_id)
                && a.state()
                    .map(|s| matches!(s.as_str(), "available" | "attached"))
                    .unwrap_or(false)
        });
        if attached && let Some(id) = g.egress_only_internet_gateway_id() {
            cfg.eigws.push(id.to_string());
        }
    }

    let nacls = ec2
        .describe_network_acls()
        .filters(filter("vpc-id", vpc_id))
        .send()
        .await
        .context("DescribeNetworkAcls")?;
    for acl in nacls.network_acls() {
        let mut n = NaclCfg {
            id: acl.network_acl_id().unwrap_or_default().to_string(),
            subnet_ids: acl
                .associations()
                .iter()
                .filter_map(|a| a.subnet_id().map(String::from))
                .collect(),
            entries: Vec::new(),
        };
        for e in acl.entries() {
            let cidr: Option<IpNet> = e
                .cidr_block()
                .and_then(|c| c.parse().ok())
                .or_else(|| e.ipv6_cidr_block().and_then(|c| c.parse().ok()));
            let Some(cidr) = cidr else { continue };
            n.entries.push(NaclEntry {
                rule_number: e.rule_number().unwrap_or(32767),
                egress: e.egress().unwrap_or(false),
                protocol: e.protocol().unwrap_or("-1").to_string(),
                allow: e
                    .rule_action()
                    .map(|a| a.as_str() == "allow")
                    .unwrap_or(false),
                cidr,
                ports: e.port_range().and_then(|p| port_range(p.from(), p.to())),
            });
        }
        cfg.nacls.push(n);
    }

    let sgs = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .send()
        .await
        .context("DescribeSecurityGroups")?;
    for sg in sgs.security_groups() {
        let convert = |perms: &[aws_sdk_ec2::types::IpPermission]| -> Vec<SgRule> {
            perms
                .iter()
                .map(|p| SgRule {
                    protocol: p.ip_protocol().unwrap_or("-1").to_string(),
                    ports: port_range(p.from_port(), p.to_port()),
                    cidrs: p
                        .ip_ranges()
                        .iter()
                        .filter_map(|r| r.cidr_ip().and_then(|c| c.parse().ok()))
                        .chain(
                            p.ipv6_ranges()
                                .iter()
                                .filter_map(|r| r.cidr_ipv6().and_then(|c| c.parse().ok())),
                        )
                        .collect(),
                    groups: p
                        .user_id_group_pairs()
                        .iter()
                        .filter_map(|g| g.group_id().map(String::from))
                        .collect(),
                })
                .collect()
        };
        let id = sg.group_id().unwrap_or_default().to_string();
        cfg.security_groups.insert(
            id.clone(),
            SgCfg {
                id,
                egress: convert(sg.ip_permissions_egress()),
                ingress: convert(sg.ip_permissions()),
            },
        );
    }

    let enis = ec2
        .describe_network_interfaces()
        .filters(filter("vpc-id", vpc_id))
        .send()
        .await
        .context("DescribeNetworkInterfaces")?;
    for e in enis.network_interfaces() {
        let description = e.description().unwrap_or_default().to_string();
        if !description.starts_with(LAMBDA_ENI_DESCRIPTION) {
            continue;
        }
        let Some(ip) = e.private_ip_address().and_then(|a| a.parse().ok()) else {
            continue;
        };
        cfg.enis.push(EniCfg {
            id: e.network_interface_id().unwrap_or_default().to_string(),
            subnet_id: e.subnet_id().unwrap_or_default().to_string(),
            private_ip: ip,
            groups: e
                .groups()
                .iter()
                .filter_map(|g| g.group_id().map(String::from))
                .collect(),
            description,
        });
    }
    cfg.enis.sort_by(|a, b| a.id.cmp(&b.id));

    let endpoints = ec2
        .describe_vpc_endpoints()
        .filters(filter("vpc-id", vpc_id))
        .send()
        .await
        .context("DescribeVpcEndpoints")?;
    for e in endpoints.vpc_endpoints() {
        let interface = e
            .vpc_endpoint_type()
            .map(|t| t.as_str().eq_ignore_ascii_case("interface"))
            .unwrap_or(false);
        let ec2_service = e.service_name().is_some_and(|s| s.ends_with(".ec2"));
        let gwlb = e
            .vpc_endpoint_type()
            .map(|t| t.as_str().eq_ignore_ascii_case("gatewayloadbalancer"))
            .unwrap_or(false);
        if gwlb {
            cfg.gwlb_endpoints.push(EndpointCfg {
                id: e.vpc_endpoint_id().unwrap_or_default().to_string(),
                subnet_ids: e.subnet_ids().to_vec(),
                state: e
                    .state()
                    .map(|s| s.as_str().to_ascii_lowercase())
                    .unwrap_or_default(),
            });
        }
        if interface && ec2_service {
            cfg.ec2_endpoints.push(EndpointCfg {
                id: e.vpc_endpoint_id().unwrap_or_default().to_string(),
                subnet_ids: e.subnet_ids().to_vec(),
                state: e
                    .state()
                    .map(|s| s.as_str().to_ascii_lowercase())
                    .unwrap_or_default(),
            });
        }
    }
    Ok(cfg)
}

/// What the lab knows about the transit gateways and peering connections between its VPCs.
#[derive(Debug, Clone, Default)]
pub struct TransitCfg {
    pub attachments: Vec<TgwAttachmentCfg>,
    pub route_tables: Vec<TgwRouteTableCfg>,
    pub peerings: Vec<PeeringCfg>,
}

/// A VPC attachment of a transit gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct TgwAttachmentCfg {
    pub id: String,
    pub tgw_id: String,
    pub vpc_id: String,
    /// One subnet per enabled AZ (R37).
    pub subnet_ids: Vec<String>,
    pub state: String,
    /// The associated route table (R38), when `associated`.
    pub route_table: Option<String>,
    /// `ApplianceModeSupport=enable` (R44).
    pub appliance_mode: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TgwRouteTableCfg {
    pub id: String,
    pub tgw_id: String,
    pub routes: Vec<TgwRouteCfg>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TgwRouteCfg {
    pub destination: Ipv4Net,
    /// `active` or `blackhole` (R40).
    pub state: String,
    /// The target attachment (none for a blackhole).
    pub attachment: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PeeringCfg {
    pub id: String,
    pub status: String,
    pub requester_vpc: String,
    pub accepter_vpc: String,
}

impl TransitCfg {
    pub fn attachment(&self, id: &str) -> Option<&TgwAttachmentCfg> {
        self.attachments.iter().find(|a| a.id == id)
    }
    pub fn route_table(&self, id: &str) -> Option<&TgwRouteTableCfg> {
        self.route_tables.iter().find(|t| t.id == id)
    }
    /// The available attachment of `vpc_id` to `tgw_id`.
    pub fn attachment_of(&self, tgw_id: &str, vpc_id: &str) -> Option<&TgwAttachmentCfg> {
        self.attachments
            .iter()
            .find(|a| a.tgw_id == tgw_id && a.vpc_id == vpc_id && a.state == "available")
    }
}

/// Reads the transit gateway attachments of `vpc_ids`, the route tables of their transit
/// gateways (routes through `SearchTransitGatewayRoutes`, active and blackhole), and the
/// peering connections between them. The moto the tests start answers these as the EC2 API
/// reference says (`tests/moto/patched_server.py`).
pub async fn read_transit(ec2: &Client, vpc_ids: &[String]) -> Result<TransitCfg> {
    let mut cfg = TransitCfg::default();
    let vpcs = ec2
        .describe_transit_gateway_vpc_attachments()
        .send()
        .await
        .context("DescribeTransitGatewayVpcAttachments")?;
    let mut tgws: Vec<String> = Vec::new();
    for a in vpcs.transit_gateway_vpc_attachments() {
        let (Some(id), Some(tgw), Some(vpc)) = (
            a.transit_gateway_attachment_id(),
            a.transit_gateway_id(),
            a.vpc_id(),
        ) else {
            continue;
        };
        if !vpc_ids.iter().any(|v| v == vpc) {
            continue;
        }
        if !tgws.iter().any(|t| t == tgw) {
            tgws.push(tgw.to_string());
        }
        cfg.attachments.push(TgwAttachmentCfg {
            id: id.to_string(),
            tgw_id: tgw.to_string(),
            vpc_id: vpc.to_string(),
            subnet_ids: a.subnet_ids().to_vec(),
            state: a
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            route_table: None,
            appliance_mode: a
                .options()
                .and_then(|o| o.appliance_mode_support())
                .is_some_and(|m| m.as_str() == "enable"),
        });
    }
    if !cfg.attachments.is_empty() {
        let ids: Vec<String> = cfg.attachments.iter().map(|a| a.id.clone()).collect();
        let out = ec2
            .describe_transit_gateway_attachments()
            .set_transit_gateway_attachment_ids(Some(ids))
            .send()
            .await
            .context("DescribeTransitGatewayAttachments")?;
        for a in out.transit_gateway_attachments() {
            let Some(id) = a.transit_gateway_attachment_id() else {
                continue;
            };
            let assoc = a
                .association()
                .filter(|x| x.state().is_some_and(|s| s.as_str() == "associated"))
                .and_then(|x| x.transit_gateway_route_table_id());
            if let Some(att) = cfg.attachments.iter_mut().find(|x| x.id == id) {
                att.route_table = assoc.map(String::from);
            }
        }
    }
    for tgw in &tgws {
        let tables = ec2
            .describe_transit_gateway_route_tables()
            .filters(filter("transit-gateway-id", tgw))
            .send()
            .await
            .context("DescribeTransitGatewayRouteTables")?;
        for t in tables.transit_gateway_route_tables() {
            let Some(id) = t.transit_gateway_route_table_id() else {
                continue;
            };
            let routes = ec2
                .search_transit_gateway_routes()
                .transit_gateway_route_table_id(id)
                .filters(
                    Filter::builder()
                        .name("state")
                        .values("active")
                        .values("blackhole")
                        .build(),
                )
                .send()
                .await
                .context("SearchTransitGatewayRoutes")?;
            let mut table = TgwRouteTableCfg {
                id: id.to_string(),
                tgw_id: tgw.clone(),
                routes: Vec::new(),
            };
            for r in routes.routes() {
                let Some(dest) = r.destination_cidr_block().and_then(|c| c.parse().ok()) else {
                    continue;
                };
                table.routes.push(TgwRouteCfg {
                    destination: dest,
                    state: r
                        .state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    attachment: r
                        .transit_gateway_attachments()
                        .first()
                        .and_then(|a| a.transit_gateway_attachment_id())
                        .map(String::from),
                });
            }
            cfg.route_tables.push(table);
        }
    }
    let peerings = ec2
        .describe_vpc_peering_connections()
        .send()
        .await
        .context("DescribeVpcPeeringConnections")?;
    for p in peerings.vpc_peering_connections() {
        let (Some(id), Some(req), Some(acc)) = (
            p.vpc_peering_connection_id(),
            p.requester_vpc_info().and_then(|i| i.vpc_id()),
            p.accepter_vpc_info().and_then(|i| i.vpc_id()),
        ) else {
            continue;
        };
        cfg.peerings.push(PeeringCfg {
            id: id.to_string(),
            status: p
                .status()
                .and_then(|s| s.code())
                .map(|c| c.as_str().to_string())
                .unwrap_or_default(),
            requester_vpc: req.to_string(),
            accepter_vpc: acc.to_string(),
        });
    }
    Ok(cfg)
}
