//! SDK → model conversion, once, one small function per resource kind.
//!
//! Every function is total: a missing ID drops the resource, an unparseable field becomes
//! a default or `None`, and where that changes what the rules can prove, a note is pushed
//! onto `notes` (it ends up in `NetworkSnapshot::notes`). Nothing here panics or does I/O.

use crate::model::{
    self, AvailabilityZone, BlockPublicAccess, BpaExclusion, DhcpOptions, FunctionConfig,
    GatewayAttachment, InternetGateway, NaclEntry, NatGateway, NetworkAcl, NetworkInterface,
    PortRange, PrefixList, Protocol, Route, RouteDestination, RouteState, RouteTable, RouteTarget,
    RuleAction, SecurityGroup, SgPeer, SgRule, Subnet, Vpc, VpcEndpoint,
};
use aws_sdk_ec2::types as ec2;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Conversion notes: odd input that was skipped or defaulted.
pub type Notes = Vec<String>;

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_string).filter(|s| !s.is_empty())
}

fn name_tag(tags: &[ec2::Tag]) -> Option<String> {
    tags.iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(|t| owned(t.value()))
}

fn parse_v4(s: &str) -> Option<Ipv4Net> {
    s.trim().parse::<Ipv4Net>().ok()
}

fn parse_v6(s: &str) -> Option<Ipv6Net> {
    s.trim().parse::<Ipv6Net>().ok()
}

fn parse_net(s: &str) -> Option<IpNet> {
    s.trim().parse::<IpNet>().ok()
}

/// A port from the API's `i32`; `-1` and out-of-range values are `None`.
fn port(v: Option<i32>) -> Option<u16> {
    v.and_then(|p| u16::try_from(p).ok())
}

/// A port range for TCP/UDP rules. `None` = all ports (protocol -1, AWS's -1/-1, or absent).
fn port_range(protocol: Protocol, from: Option<i32>, to: Option<i32>) -> Option<PortRange> {
    if protocol != Protocol::TCP && protocol != Protocol::UDP {
        return None;
    }
    match (port(from), port(to)) {
        (Some(from), Some(to)) if from <= to => Some(PortRange { from, to }),
        _ => None,
    }
}

pub fn vpc(v: &ec2::Vpc, notes: &mut Notes) -> Option<Vpc> {
    let id = owned(v.vpc_id())?;
    let mut cidr_blocks = Vec::new();
    for assoc in v.cidr_block_association_set() {
        let state = assoc
            .cidr_block_state()
            .and_then(|s| s.state())
            .map(|s| s.as_str());
        if matches!(state, Some("disassociated" | "disassociating" | "failed")) {
            continue;
        }
        match assoc.cidr_block().and_then(parse_v4) {
            Some(net) => cidr_blocks.push(net),
            None => notes.push(format!(
                "{id}: unreadable IPv4 CIDR {:?}",
                assoc.cidr_block()
            )),
        }
    }
    if cidr_blocks.is_empty()
        && let Some(net) = v.cidr_block().and_then(parse_v4)
    {
        cidr_blocks.push(net);
    }
    let mut ipv6_cidr_blocks = Vec::new();
    for assoc in v.ipv6_cidr_block_association_set() {
        let state = assoc
            .ipv6_cidr_block_state()
            .and_then(|s| s.state())
            .map(|s| s.as_str());
        if matches!(state, Some("disassociated" | "disassociating" | "failed")) {
            continue;
        }
        match assoc.ipv6_cidr_block().and_then(parse_v6) {
            Some(net) => ipv6_cidr_blocks.push(net),
            None => notes.push(format!(
                "{id}: unreadable IPv6 CIDR {:?}",
                assoc.ipv6_cidr_block()
            )),
        }
    }
    Some(Vpc {
        id,
        cidr_blocks,
        ipv6_cidr_blocks,
        enable_dns_support: None,
        enable_dns_hostnames: None,
        dhcp_options_id: owned(v.dhcp_options_id()),
        block_public_access_mode: v
            .block_public_access_states()
            .and_then(|b| b.internet_gateway_block_mode())
            .map(|m| m.as_str().to_string()),
        is_default: v.is_default().unwrap_or(false),
        owner_id: owned(v.owner_id()),
    })
}

pub fn subnet(s: &ec2::Subnet, notes: &mut Notes) -> Option<Subnet> {
    let id = owned(s.subnet_id())?;
    let Some(vpc_id) = owned(s.vpc_id()) else {
        notes.push(format!("{id}: no VpcId in DescribeSubnets; subnet skipped"));
        return None;
    };
    let cidr_block = s.cidr_block().and_then(parse_v4);
    if cidr_block.is_none() && s.cidr_block().is_some() {
        notes.push(format!("{id}: unreadable CIDR {:?}", s.cidr_block()));
    }
    let ipv6_cidr_blocks = s
        .ipv6_cidr_block_association_set()
        .iter()
        // moto writes the state as a Python repr; only skip states that say "gone".
        .filter(|a| {
            !matches!(
                a.ipv6_cidr_block_state()
                    .and_then(|st| st.state())
                    .map(|st| st.as_str()),
                Some("disassociated" | "disassociating" | "failed")
            )
        })
        .filter_map(|a| a.ipv6_cidr_block().and_then(parse_v6))
        .collect();
    Some(Subnet {
        id,
        vpc_id,
        availability_zone: owned(s.availability_zone()).unwrap_or_default(),
        availability_zone_id: owned(s.availability_zone_id()),
        cidr_block,
        ipv6_cidr_blocks,
        available_ip_address_count: s.available_ip_address_count(),
        map_public_ip_on_launch: s.map_public_ip_on_launch().unwrap_or(false),
        block_public_access_mode: s
            .block_public_access_states()
            .and_then(|b| b.internet_gateway_block_mode())
            .map(|m| m.as_str().to_string()),
        name: name_tag(s.tags()),
        enable_dns64: s.enable_dns64(),
        ipv6_native: s.ipv6_native().unwrap_or(false),
    })
}

/// The target of a route. Order matters: an instance route also carries its ENI ID.
pub fn route_target(r: &ec2::Route) -> Option<RouteTarget> {
    if let Some(id) = owned(r.nat_gateway_id()) {
        return Some(RouteTarget::NatGateway(id));
    }
    if let Some(id) = owned(r.egress_only_internet_gateway_id()) {
        return Some(RouteTarget::EgressOnlyInternetGateway(id));
    }
    if let Some(id) = owned(r.transit_gateway_id()) {
        return Some(RouteTarget::TransitGateway(id));
    }
    if let Some(id) = owned(r.vpc_peering_connection_id()) {
        return Some(RouteTarget::VpcPeeringConnection(id));
    }
    if let Some(id) = owned(r.instance_id()) {
        return Some(RouteTarget::Instance(id));
    }
    if let Some(id) = owned(r.local_gateway_id()) {
        return Some(RouteTarget::LocalGateway(id));
    }
    if let Some(id) = owned(r.carrier_gateway_id()) {
        return Some(RouteTarget::CarrierGateway(id));
    }
    if let Some(id) = owned(r.core_network_arn()) {
        return Some(RouteTarget::CoreNetwork(id));
    }
    if let Some(id) = owned(r.gateway_id()) {
        return Some(if id == "local" {
            RouteTarget::Local
        } else if id.starts_with("igw-") {
            RouteTarget::InternetGateway(id)
        } else if id.starts_with("eigw-") {
            RouteTarget::EgressOnlyInternetGateway(id)
        } else if id.starts_with("vgw-") {
            RouteTarget::VirtualPrivateGateway(id)
        } else if id.starts_with("vpce-") {
            RouteTarget::VpcEndpoint(id)
        } else {
            RouteTarget::Other(id)
        });
    }
    if let Some(id) = owned(r.network_interface_id()) {
        return Some(RouteTarget::NetworkInterface(id));
    }
    owned(r.odb_network_arn())
        .or_else(|| owned(r.ip_address()))
        .map(RouteTarget::Other)
}

pub fn route(rt_id: &str, r: &ec2::Route, notes: &mut Notes) -> Option<Route> {
    let destination = if let Some(text) = r.destination_cidr_block() {
        parse_v4(text).map(RouteDestination::Ipv4)
    } else if let Some(text) = r.destination_ipv6_cidr_block() {
        parse_v6(text).map(RouteDestination::Ipv6)
    } else {
        owned(r.destination_prefix_list_id()).map(RouteDestination::PrefixList)
    };
    let Some(destination) = destination else {
        notes.push(format!(
            "{rt_id}: route with unreadable destination skipped ({:?} / {:?})",
            r.destination_cidr_block(),
            r.destination_ipv6_cidr_block()
        ));
        return None;
    };
    let target = match route_target(r) {
        Some(t) => t,
        None => {
            notes.push(format!(
                "{rt_id}: route {destination} has no target the reader knows"
            ));
            RouteTarget::Other("unknown".to_string())
        }
    };
    // R8: the state AWS reports; the engine judges the target's own state as well.
    let state = match r.state().map(|s| s.as_str()) {
        Some("active") => RouteState::Active,
        Some("blackhole") => RouteState::Blackhole,
        _ => RouteState::Unknown,
    };
    Some(Route {
        destination,
        target,
        state,
        propagated: r.origin().map(|o| o.as_str()) == Some("EnableVgwRoutePropagation"),
    })
}

/// R5: a table is `main` when one of its associations says so; explicit subnet
/// associations (not gateway edge associations) are listed.
pub fn route_table(t: &ec2::RouteTable, notes: &mut Notes) -> Option<RouteTable> {
    let id = owned(t.route_table_id())?;
    let vpc_id = owned(t.vpc_id()).unwrap_or_default();
    let live = |a: &&ec2::RouteTableAssociation| {
        !matches!(
            a.association_state()
                .and_then(|s| s.state())
                .map(|s| s.as_str()),
            Some("disassociated" | "disassociating" | "failed")
        )
    };
    let main = t
        .associations()
        .iter()
        .filter(live)
        .any(|a| a.main() == Some(true));
    let subnet_ids = t
        .associations()
        .iter()
        .filter(live)
        .filter(|a| a.main() != Some(true))
        .filter_map(|a| owned(a.subnet_id()))
        .collect();
    let routes = t
        .routes()
        .iter()
        .filter_map(|r| route(&id, r, notes))
        .collect();
    Some(RouteTable {
        id,
        vpc_id,
        main,
        subnet_ids,
        routes,
    })
}

pub fn nat_gateway(n: &ec2::NatGateway, notes: &mut Notes) -> Option<NatGateway> {
    let id = owned(n.nat_gateway_id())?;
    let mut public_ips = Vec::new();
    let mut private_ips = Vec::new();
    let mut regional_zones: Vec<String> = Vec::new();
    for a in n.nat_gateway_addresses() {
        if let Some(ip) = a.public_ip() {
            match ip.parse::<Ipv4Addr>() {
                Ok(ip) => public_ips.push(ip),
                Err(_) => notes.push(format!("{id}: unreadable public IP {ip:?}")),
            }
        }
        if let Some(ip) = a.private_ip() {
            match ip.parse::<Ipv4Addr>() {
                Ok(ip) => private_ips.push(ip),
                Err(_) => notes.push(format!("{id}: unreadable private IP {ip:?}")),
            }
        }
        // R14: a regional NAT reports its per-AZ addresses.
        if let Some(zone) = owned(a.availability_zone()).or_else(|| owned(a.availability_zone_id()))
            && !regional_zones.contains(&zone)
        {
            regional_zones.push(zone);
        }
    }
    let availability_mode = n
        .availability_mode()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "zonal".to_string());
    if availability_mode != "regional" {
        regional_zones.clear();
    }
    Some(NatGateway {
        id,
        vpc_id: owned(n.vpc_id()).unwrap_or_default(),
        subnet_id: owned(n.subnet_id()),
        state: n
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "unknown".to_string()),
        // R11: AWS (and moto) may omit it; absent means `public`.
        connectivity_type: n
            .connectivity_type()
            .map(|c| c.as_str().to_string())
            .unwrap_or_else(|| "public".to_string()),
        public_ips,
        private_ips,
        failure_code: owned(n.failure_code()),
        failure_message: owned(n.failure_message()),
        availability_mode,
        regional_zones,
        auto_provision_zones: n
            .auto_provision_zones()
            .map(|z| z.as_str().eq_ignore_ascii_case("enabled")),
    })
}

pub fn internet_gateway(g: &ec2::InternetGateway) -> Option<InternetGateway> {
    Some(InternetGateway {
        id: owned(g.internet_gateway_id())?,
        attachments: attachments(g.attachments()),
    })
}

pub fn egress_only_internet_gateway(g: &ec2::EgressOnlyInternetGateway) -> Option<InternetGateway> {
    Some(InternetGateway {
        id: owned(g.egress_only_internet_gateway_id())?,
        attachments: attachments(g.attachments()),
    })
}

/// R16: IGW attachments report `available` (outside the model's enum; read as a string).
fn attachments(list: &[ec2::InternetGatewayAttachment]) -> Vec<GatewayAttachment> {
    list.iter()
        .filter_map(|a| {
            Some(GatewayAttachment {
                vpc_id: owned(a.vpc_id())?,
                state: a
                    .state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

pub fn nacl_entry(acl_id: &str, e: &ec2::NetworkAclEntry, notes: &mut Notes) -> Option<NaclEntry> {
    let Some(rule_number) = e.rule_number() else {
        notes.push(format!("{acl_id}: entry without rule number skipped"));
        return None;
    };
    let direction = if e.egress() == Some(true) {
        "egress"
    } else {
        "ingress"
    };
    // moto stores `"tcp"` verbatim; AWS writes numbers. Both parse.
    let Some(protocol) = e.protocol().and_then(Protocol::parse) else {
        notes.push(format!(
            "{acl_id}: {direction} rule {rule_number} has unknown protocol {:?}; skipped",
            e.protocol()
        ));
        return None;
    };
    let action = match e.rule_action().map(|a| a.as_str()) {
        Some("allow") => RuleAction::Allow,
        Some("deny") => RuleAction::Deny,
        other => {
            notes.push(format!(
                "{acl_id}: {direction} rule {rule_number} has unknown action {other:?}; skipped"
            ));
            return None;
        }
    };
    let cidr = e
        .cidr_block()
        .and_then(parse_net)
        .or_else(|| e.ipv6_cidr_block().and_then(parse_net));
    let Some(cidr) = cidr else {
        notes.push(format!(
            "{acl_id}: {direction} rule {rule_number} has no readable CIDR; skipped"
        ));
        return None;
    };
    let port_range = e
        .port_range()
        .and_then(|p| port_range(protocol, p.from(), p.to()));
    let icmp_type_code = e
        .icmp_type_code()
        .and_then(|c| Some((c.r#type()?, c.code()?)));
    Some(NaclEntry {
        rule_number,
        egress: e.egress().unwrap_or(false),
        protocol,
        action,
        cidr,
        port_range,
        icmp_type_code,
    })
}

pub fn network_acl(a: &ec2::NetworkAcl, notes: &mut Notes) -> Option<NetworkAcl> {
    let id = owned(a.network_acl_id())?;
    let entries = a
        .entries()
        .iter()
        .filter_map(|e| nacl_entry(&id, e, notes))
        .collect();
    Some(NetworkAcl {
        vpc_id: owned(a.vpc_id()).unwrap_or_default(),
        is_default: a.is_default().unwrap_or(false),
        subnet_ids: a
            .associations()
            .iter()
            .filter_map(|x| owned(x.subnet_id()))
            .collect(),
        entries,
        id,
    })
}

/// Flattens one `IpPermission` into one `SgRule` per peer.
pub fn sg_rules(group_id: &str, p: &ec2::IpPermission, notes: &mut Notes) -> Vec<SgRule> {
    let Some(protocol) = p.ip_protocol().and_then(Protocol::parse) else {
        notes.push(format!(
            "{group_id}: rule with unknown protocol {:?} skipped",
            p.ip_protocol()
        ));
        return Vec::new();
    };
    let port_range = port_range(protocol, p.from_port(), p.to_port());
    let mut peers = Vec::new();
    for r in p.ip_ranges() {
        match r.cidr_ip().and_then(parse_net) {
            Some(net) => peers.push(SgPeer::Cidr(net)),
            None => notes.push(format!("{group_id}: unreadable CIDR {:?}", r.cidr_ip())),
        }
    }
    for r in p.ipv6_ranges() {
        match r.cidr_ipv6().and_then(parse_net) {
            Some(net) => peers.push(SgPeer::Cidr(net)),
            None => notes.push(format!("{group_id}: unreadable CIDR {:?}", r.cidr_ipv6())),
        }
    }
    peers.extend(
        p.prefix_list_ids()
            .iter()
            .filter_map(|x| owned(x.prefix_list_id()))
            .map(SgPeer::PrefixList),
    );
    peers.extend(
        p.user_id_group_pairs()
            .iter()
            .filter_map(|x| owned(x.group_id()))
            .map(SgPeer::SecurityGroup),
    );
    peers
        .into_iter()
        .map(|peer| SgRule {
            rule_id: None,
            protocol,
            port_range,
            peer,
        })
        .collect()
}

pub fn security_group(g: &ec2::SecurityGroup, notes: &mut Notes) -> Option<SecurityGroup> {
    let id = owned(g.group_id())?;
    let egress = g
        .ip_permissions_egress()
        .iter()
        .flat_map(|p| sg_rules(&id, p, notes))
        .collect();
    let ingress = g
        .ip_permissions()
        .iter()
        .flat_map(|p| sg_rules(&id, p, notes))
        .collect();
    Some(SecurityGroup {
        vpc_id: owned(g.vpc_id()).unwrap_or_default(),
        name: owned(g.group_name()),
        egress,
        ingress,
        id,
    })
}

pub fn dhcp_options(d: &ec2::DhcpOptions) -> Option<DhcpOptions> {
    let id = owned(d.dhcp_options_id())?;
    let values = |key: &str| -> Vec<String> {
        d.dhcp_configurations()
            .iter()
            .filter(|c| c.key() == Some(key))
            .flat_map(|c| c.values().iter().filter_map(|v| owned(v.value())))
            .collect()
    };
    Some(DhcpOptions {
        id,
        domain_name_servers: values("domain-name-servers"),
        domain_name: values("domain-name").into_iter().next(),
    })
}

pub fn vpc_endpoint(e: &ec2::VpcEndpoint) -> Option<VpcEndpoint> {
    Some(VpcEndpoint {
        id: owned(e.vpc_endpoint_id())?,
        vpc_id: owned(e.vpc_id()).unwrap_or_default(),
        service_name: owned(e.service_name()).unwrap_or_default(),
        endpoint_type: e
            .vpc_endpoint_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        // moto and AWS both send lowercase `available`, outside the model's enum.
        state: e
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        private_dns_enabled: e.private_dns_enabled().unwrap_or(false),
        subnet_ids: e.subnet_ids().to_vec(),
        security_group_ids: e
            .groups()
            .iter()
            .filter_map(|g| owned(g.group_id()))
            .collect(),
        network_interface_ids: e.network_interface_ids().to_vec(),
        route_table_ids: e.route_table_ids().to_vec(),
        dns_names: e
            .dns_entries()
            .iter()
            .filter_map(|d| owned(d.dns_name()))
            .collect(),
    })
}

pub fn prefix_list(
    id: &str,
    name: Option<String>,
    entries: &[ec2::PrefixListEntry],
    notes: &mut Notes,
) -> PrefixList {
    let mut cidrs = Vec::new();
    for e in entries {
        match e.cidr().and_then(parse_net) {
            Some(net) => cidrs.push(net),
            None => notes.push(format!("{id}: unreadable entry {:?}", e.cidr())),
        }
    }
    PrefixList {
        id: id.to_string(),
        name,
        cidrs,
    }
}

pub fn block_public_access(o: &ec2::VpcBlockPublicAccessOptions) -> BlockPublicAccess {
    BlockPublicAccess {
        internet_gateway_block_mode: o
            .internet_gateway_block_mode()
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| "off".to_string()),
        exclusions_allowed: o.exclusions_allowed().map(|x| x.as_str().to_string()),
        exclusions: Vec::new(),
    }
}

/// The resource ID at the end of an ARN (`arn:aws:ec2:…:vpc/vpc-1` → `vpc-1`).
pub fn arn_resource_id(arn: &str) -> Option<String> {
    arn.rsplit(['/', ':'])
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

pub fn bpa_exclusion(x: &ec2::VpcBlockPublicAccessExclusion) -> Option<BpaExclusion> {
    Some(BpaExclusion {
        id: owned(x.exclusion_id())?,
        resource_id: x.resource_arn().and_then(arn_resource_id)?,
        mode: x
            .internet_gateway_exclusion_mode()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default(),
        state: x.state().map(|s| s.as_str().to_string()),
    })
}

pub fn network_interface(n: &ec2::NetworkInterface, notes: &mut Notes) -> Option<NetworkInterface> {
    let id = owned(n.network_interface_id())?;
    let mut private_ips: Vec<Ipv4Addr> = n
        .private_ip_addresses()
        .iter()
        .filter_map(|p| p.private_ip_address())
        .filter_map(|p| p.parse().ok())
        .collect();
    if private_ips.is_empty()
        && let Some(ip) = n.private_ip_address().and_then(|p| p.parse().ok())
    {
        private_ips.push(ip);
    }
    let ipv6_addresses: Vec<Ipv6Addr> = n
        .ipv6_addresses()
        .iter()
        .filter_map(|a| a.ipv6_address())
        .filter_map(|a| a.parse().ok())
        .collect();
    let Some(subnet_id) = owned(n.subnet_id()) else {
        notes.push(format!("{id}: ENI without subnet skipped"));
        return None;
    };
    Some(NetworkInterface {
        subnet_id,
        vpc_id: owned(n.vpc_id()).unwrap_or_default(),
        interface_type: n
            .interface_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        status: n
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        availability_zone: owned(n.availability_zone()),
        private_ips,
        ipv6_addresses,
        security_group_ids: n
            .groups()
            .iter()
            .filter_map(|g| owned(g.group_id()))
            .collect(),
        description: owned(n.description()),
        id,
    })
}

pub fn availability_zone(z: &ec2::AvailabilityZone) -> Option<AvailabilityZone> {
    Some(AvailabilityZone {
        name: owned(z.zone_name())?,
        zone_id: owned(z.zone_id())?,
    })
}

/// R1, R3, D.4: the function's state and VPC configuration. `vpc_id` is left `None`: the
/// reader derives it from the subnets (the API's `VpcId` can be wrong, e.g. in moto).
pub fn function(
    name: &str,
    f: &aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput,
) -> FunctionConfig {
    let vpc = f.vpc_config();
    FunctionConfig {
        name: owned(f.function_name()).unwrap_or_else(|| name.to_string()),
        arn: owned(f.function_arn()),
        state: f.state().map(|s| s.as_str().to_string()),
        state_reason_code: f.state_reason_code().map(|s| s.as_str().to_string()),
        state_reason: owned(f.state_reason()),
        last_update_status: f.last_update_status().map(|s| s.as_str().to_string()),
        last_update_status_reason_code: f
            .last_update_status_reason_code()
            .map(|s| s.as_str().to_string()),
        subnet_ids: vpc.map(|v| v.subnet_ids().to_vec()).unwrap_or_default(),
        security_group_ids: vpc
            .map(|v| v.security_group_ids().to_vec())
            .unwrap_or_default(),
        vpc_id: None,
        ipv6_allowed_for_dual_stack: vpc
            .and_then(|v| v.ipv6_allowed_for_dual_stack())
            .unwrap_or(false),
    }
}

/// The AZ name ↔ ID pairs the subnets already carry (saves a DescribeAvailabilityZones).
pub fn zones_from_subnets(subnets: &[Subnet]) -> Option<Vec<AvailabilityZone>> {
    let mut zones: Vec<AvailabilityZone> = Vec::new();
    for s in subnets {
        let zone_id = s.availability_zone_id.clone()?;
        if !zones.iter().any(|z| z.name == s.availability_zone) {
            zones.push(AvailabilityZone {
                name: s.availability_zone.clone(),
                zone_id,
            });
        }
    }
    Some(zones)
}

/// Prefix lists referenced by routes and security-group rules (R6, R23), sorted, unique;
/// with `vpc_id`, only that VPC's.
pub fn referenced_prefix_lists(
    snapshot: &model::NetworkSnapshot,
    vpc_id: Option<&str>,
) -> Vec<String> {
    let in_vpc = |id: &str| vpc_id.is_none_or(|v| v == id);
    let mut ids: Vec<String> = snapshot
        .route_tables
        .iter()
        .filter(|t| in_vpc(&t.vpc_id))
        .flat_map(|t| &t.routes)
        .filter_map(|r| match &r.destination {
            RouteDestination::PrefixList(id) => Some(id.clone()),
            _ => None,
        })
        .chain(
            snapshot
                .security_groups
                .iter()
                .filter(|g| in_vpc(&g.vpc_id))
                .flat_map(|g| g.egress.iter().chain(&g.ingress))
                .filter_map(|r| match &r.peer {
                    SgPeer::PrefixList(id) => Some(id.clone()),
                    _ => None,
                }),
        )
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(proto: &str, from: Option<i32>, to: Option<i32>) -> ec2::builders::IpPermissionBuilder {
        ec2::IpPermission::builder()
            .ip_protocol(proto)
            .set_from_port(from)
            .set_to_port(to)
    }

    #[test]
    fn sg_permission_is_flattened_one_rule_per_peer() {
        let p = perm("tcp", Some(443), Some(443))
            .ip_ranges(ec2::IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .ip_ranges(ec2::IpRange::builder().cidr_ip("not-a-cidr").build())
            .ipv6_ranges(ec2::Ipv6Range::builder().cidr_ipv6("::/0").build())
            .prefix_list_ids(ec2::PrefixListId::builder().prefix_list_id("pl-1").build())
            .user_id_group_pairs(ec2::UserIdGroupPair::builder().group_id("sg-2").build())
            .build();
        let mut notes = Notes::new();
        let rules = sg_rules("sg-1", &p, &mut notes);
        let peers: Vec<&SgPeer> = rules.iter().map(|r| &r.peer).collect();
        assert_eq!(
            peers,
            [
                &SgPeer::Cidr("0.0.0.0/0".parse().unwrap()),
                &SgPeer::Cidr("::/0".parse().unwrap()),
                &SgPeer::PrefixList("pl-1".into()),
                &SgPeer::SecurityGroup("sg-2".into()),
            ]
        );
        assert!(rules.iter().all(|r| r.protocol == Protocol::TCP
            && r.port_range == Some(PortRange { from: 443, to: 443 })));
        assert_eq!(notes.len(), 1, "the unreadable CIDR is noted: {notes:?}");
    }

    #[test]
    fn sg_ports_minus_one_or_all_protocols_mean_all_ports() {
        let mut notes = Notes::new();
        let cidr = || ec2::IpRange::builder().cidr_ip("10.0.0.0/8").build();
        for p in [
            perm("-1", Some(-1), Some(-1)).ip_ranges(cidr()).build(),
            perm("6", Some(-1), Some(-1)).ip_ranges(cidr()).build(),
            perm("udp", None, None).ip_ranges(cidr()).build(),
            perm("icmp", Some(3), Some(4)).ip_ranges(cidr()).build(),
        ] {
            let rules = sg_rules("sg-1", &p, &mut notes);
            assert_eq!(rules.len(), 1);
            assert_eq!(rules[0].port_range, None, "{p:?}");
        }
        let rules = sg_rules(
            "sg-1",
            &perm("gre-ish", None, None).ip_ranges(cidr()).build(),
            &mut notes,
        );
        assert!(rules.is_empty());
        assert!(notes.iter().any(|n| n.contains("gre-ish")));
    }

    #[test]
    fn nacl_entry_normalises_protocol_and_skips_what_it_cannot_read() {
        let mut notes = Notes::new();
        let entry = |proto: &str| {
            ec2::NetworkAclEntry::builder()
                .rule_number(100)
                .egress(false)
                .protocol(proto)
                .rule_action(ec2::RuleAction::Allow)
                .cidr_block("0.0.0.0/0")
                .port_range(ec2::PortRange::builder().from(1024).to(65535).build())
                .build()
        };
        let e = nacl_entry("acl-1", &entry("tcp"), &mut notes).unwrap();
        assert_eq!(e.protocol, Protocol::TCP);
        assert_eq!(e.port_range, Some(PortRange::EPHEMERAL));
        let e = nacl_entry("acl-1", &entry("-1"), &mut notes).unwrap();
        assert_eq!(e.port_range, None, "ports mean nothing for all protocols");
        assert!(notes.is_empty());
        assert!(nacl_entry("acl-1", &entry("bogus"), &mut notes).is_none());
        let v6 = ec2::NetworkAclEntry::builder()
            .rule_number(101)
            .egress(true)
            .protocol("-1")
            .rule_action(ec2::RuleAction::Deny)
            .ipv6_cidr_block("::/0")
            .build();
        let e = nacl_entry("acl-1", &v6, &mut notes).unwrap();
        assert_eq!(e.cidr, "::/0".parse::<IpNet>().unwrap());
        assert_eq!(e.action, RuleAction::Deny);
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn route_targets_by_kind() {
        let r = |b: ec2::builders::RouteBuilder| route_target(&b.build());
        let base = || ec2::Route::builder().destination_cidr_block("0.0.0.0/0");
        assert_eq!(r(base().gateway_id("local")), Some(RouteTarget::Local));
        assert_eq!(
            r(base().gateway_id("igw-1")),
            Some(RouteTarget::InternetGateway("igw-1".into()))
        );
        assert_eq!(
            r(base().gateway_id("vpce-1")),
            Some(RouteTarget::VpcEndpoint("vpce-1".into()))
        );
        // An instance route also carries the instance's ENI: the instance wins.
        assert_eq!(
            r(base().instance_id("i-1").network_interface_id("eni-1")),
            Some(RouteTarget::Instance("i-1".into()))
        );
        assert_eq!(
            r(base().network_interface_id("eni-1")),
            Some(RouteTarget::NetworkInterface("eni-1".into()))
        );
        assert_eq!(
            r(base().transit_gateway_id("tgw-1")),
            Some(RouteTarget::TransitGateway("tgw-1".into()))
        );
        assert_eq!(r(base()), None);
        let mut notes = Notes::new();
        let odd = ec2::Route::builder()
            .destination_cidr_block("nonsense")
            .build();
        assert!(route("rtb-1", &odd, &mut notes).is_none());
        let no_target = ec2::Route::builder()
            .destination_cidr_block("198.51.100.0/24")
            .build();
        let kept = route("rtb-1", &no_target, &mut notes).unwrap();
        assert_eq!(kept.target, RouteTarget::Other("unknown".into()));
        assert_eq!(kept.state, RouteState::Unknown);
        assert_eq!(notes.len(), 2);
    }

    #[test]
    fn arn_resource_ids() {
        assert_eq!(
            arn_resource_id("arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1").as_deref(),
            Some("vpc-1")
        );
        assert_eq!(arn_resource_id("").as_deref(), None);
        assert_eq!(arn_resource_id("subnet-1").as_deref(), Some("subnet-1"));
    }

    #[test]
    fn nat_gateway_defaults_and_regional_zones() {
        let mut notes = Notes::new();
        let zonal = ec2::NatGateway::builder()
            .nat_gateway_id("nat-1")
            .state(ec2::NatGatewayState::Failed)
            .failure_code("Gateway.NotAttached")
            .nat_gateway_addresses(ec2::NatGatewayAddress::builder().public_ip("bad").build())
            .build();
        let n = nat_gateway(&zonal, &mut notes).unwrap();
        assert_eq!(
            (n.state.as_str(), n.connectivity_type.as_str()),
            ("failed", "public")
        );
        assert_eq!(n.failure_code.as_deref(), Some("Gateway.NotAttached"));
        assert_eq!(n.availability_mode, "zonal");
        assert!(n.public_ips.is_empty());
        assert_eq!(notes.len(), 1);
        let regional = ec2::NatGateway::builder()
            .nat_gateway_id("nat-2")
            .availability_mode(ec2::AvailabilityMode::from("regional"))
            .nat_gateway_addresses(
                ec2::NatGatewayAddress::builder()
                    .availability_zone("us-east-1a")
                    .public_ip("203.0.113.1")
                    .build(),
            )
            .nat_gateway_addresses(
                ec2::NatGatewayAddress::builder()
                    .availability_zone("us-east-1b")
                    .build(),
            )
            .build();
        let n = nat_gateway(&regional, &mut notes).unwrap();
        assert_eq!(n.availability_mode, "regional");
        assert_eq!(n.regional_zones, ["us-east-1a", "us-east-1b"]);
        assert_eq!(n.subnet_id, None);
    }
}
