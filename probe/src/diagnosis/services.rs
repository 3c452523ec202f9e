//! Amazon-provided services a path meets before any route: Amazon DNS and the link-local
//! services that security groups and NACLs never filter (R19, R28), and interface endpoints
//! whose private DNS takes an AWS service name (R29). Pure look-ups over the index.

use super::index::Index;
use crate::model::VpcEndpoint;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const AMAZON_DNS_LINK_LOCAL: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 253);
const AMAZON_DNS_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x253);

/// R28: the VPC resolver at the primary CIDR base + 2.
fn vpc_plus_two(ix: &Index<'_>, vpc_id: &str) -> Option<Ipv4Addr> {
    let net = ix.vpc(vpc_id)?.cidr_blocks.first()?.network();
    Some(Ipv4Addr::from(u32::from(net).wrapping_add(2)))
}

/// R19/R28: Amazon DNS (VPC+2, 169.254.169.253, fd00:ec2::253) and the other
/// Amazon-provided link-local services (metadata, Time Sync) are not filtered.
pub(crate) fn is_amazon_provided(ix: &Index<'_>, vpc_id: &str, addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            *a == AMAZON_DNS_LINK_LOCAL
                || (a.octets()[0] == 169 && a.octets()[1] == 254 && a.octets()[2] == 169)
                || Some(*a) == vpc_plus_two(ix, vpc_id)
        }
        IpAddr::V6(a) => *a == AMAZON_DNS_V6 || a.segments()[..2] == [0xfd00, 0x0ec2],
    }
}

/// Host name an interface endpoint answers for: its listed DNS names, else the name AWS
/// derives from `com.amazonaws.<region>.<service>`.
pub(crate) fn endpoint_answers(ep: &VpcEndpoint, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let listed = ep.dns_names.iter().any(|n| {
        let n = n.trim_end_matches('.').to_ascii_lowercase();
        match n.strip_prefix("*.") {
            Some(suffix) => host.ends_with(&format!(".{suffix}")),
            None => n == host,
        }
    });
    if listed {
        return true;
    }
    let parts: Vec<&str> = ep.service_name.split('.').collect();
    if let ["com", "amazonaws", region, service @ ..] = parts.as_slice()
        && !service.is_empty()
    {
        let name = format!("{}.{region}.amazonaws.com", service.join("."));
        return host == name;
    }
    false
}

/// R29: the interface endpoint with private DNS that takes `host`, when the VPC's DNS
/// attributes let private DNS work.
pub(crate) fn capturing_endpoint<'a>(
    ix: &Index<'a>,
    vpc_id: &str,
    host: &str,
) -> Option<&'a VpcEndpoint> {
    let vpc = ix.vpc(vpc_id);
    if vpc.is_some_and(|v| {
        v.enable_dns_support == Some(false) || v.enable_dns_hostnames == Some(false)
    }) {
        return None;
    }
    let mut v: Vec<&VpcEndpoint> = ix
        .snap
        .vpc_endpoints
        .iter()
        .filter(|e| {
            e.vpc_id == vpc_id
                && e.endpoint_type.eq_ignore_ascii_case("interface")
                && e.private_dns_enabled
                && e.state.eq_ignore_ascii_case("available")
                && endpoint_answers(e, host)
        })
        .collect();
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v.first().copied()
}
