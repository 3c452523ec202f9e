//! DNS rules: Amazon DNS is never filtered (R19, R28), VPC DNS support (R24), custom DHCP
//! DNS servers and the path to them (R25), and interface endpoints whose private DNS
//! takes an AWS service name (R29).

use super::Flow;
use super::catalog::Issue;
use super::index::Index;
use super::nacl::Peer;
use super::path::{self, Source, Walk};
use super::security_groups::{self, Remote, SgVerdict};
use crate::model::{
    Direction, Family, HopVerdict, Observation, PathEvaluation, PathVerdict, PortRange, Protocol,
    VpcEndpoint,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

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

/// `10.0.0.2`, `10.0.0.2:53`, `[fd00:ec2::253]:53`, `udp://10.0.0.2:53` → the address.
pub(crate) fn parse_server(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s.split("://").last().unwrap_or(s);
    if let Ok(a) = s.parse::<IpAddr>() {
        return Some(a);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    None
}

/// Which resolvers the subnet uses: Amazon DNS, and custom servers from DHCP options
/// (R25) or seen by the probe (the observation's `dns.servers`).
pub(crate) struct Resolvers {
    pub amazon: bool,
    pub custom: Vec<IpAddr>,
    pub dhcp: Option<String>,
}

pub(crate) fn resolvers(ix: &Index<'_>, vpc_id: &str, observations: &[Observation]) -> Resolvers {
    let mut amazon = false;
    let mut custom = Vec::new();
    let vpc = ix.vpc(vpc_id);
    let dhcp_id = vpc.and_then(|v| v.dhcp_options_id.clone());
    let dhcp = dhcp_id
        .as_deref()
        .filter(|d| *d != "default")
        .and_then(|d| ix.snap.dhcp_options.iter().find(|o| o.id == d));
    match dhcp {
        Some(o) if !o.domain_name_servers.is_empty() => {
            for s in &o.domain_name_servers {
                if s.eq_ignore_ascii_case("AmazonProvidedDNS") {
                    amazon = true;
                } else if let Some(a) = parse_server(s) {
                    if is_amazon_provided(ix, vpc_id, &a) {
                        amazon = true;
                    } else {
                        custom.push(a);
                    }
                }
            }
        }
        _ => amazon = true,
    }
    for o in observations {
        for s in o.dns.iter().flat_map(|d| d.servers.iter()) {
            if let Some(a) = parse_server(s)
                && !is_amazon_provided(ix, vpc_id, &a)
                && !a.is_loopback()
            {
                custom.push(a);
            }
        }
    }
    custom.sort();
    custom.dedup();
    Resolvers {
        amazon,
        custom,
        dhcp: dhcp.map(|d| d.id.clone()),
    }
}

/// Host name an interface endpoint answers for: its listed DNS names, else the name AWS
/// derives from `com.amazonaws.<region>.<service>`.
fn endpoint_answers(ep: &VpcEndpoint, host: &str) -> bool {
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

/// R29: the flow goes to the endpoint's ENI inside the VPC: the function's SG egress and
/// subnet NACLs, the endpoint's SG ingress and its subnet's NACLs.
pub(crate) fn walk_endpoint(w: &mut Walk<'_, '_>, ep: &VpcEndpoint) {
    let subnet = w.subnet_id();
    let az = w.src.subnet.availability_zone.clone();
    let enis: Vec<_> = ep
        .network_interface_ids
        .iter()
        .filter_map(|id| w.ix.eni(id))
        .collect();
    let eni = enis
        .iter()
        .find(|e| {
            e.availability_zone.as_deref() == Some(az.as_str())
                || w.ix
                    .subnet(&e.subnet_id)
                    .is_some_and(|s| s.availability_zone == az)
        })
        .or(enis.first())
        .copied();
    if let Some(e) = eni
        && let Some(ip) = e.private_ips.first()
    {
        w.dest = IpAddr::V4(*ip);
        w.family = Family::Ipv4;
    }
    let ep_subnet = eni.map(|e| e.subnet_id.clone());
    path::sg_egress_hop(w, Some(&ep.security_group_ids));
    let crosses = ep_subnet.as_deref() != Some(subnet.as_str());
    if crosses {
        path::function_nacl_out(w);
    }
    w.hop(
        Direction::Forward,
        "route_table",
        "local",
        Some(&subnet),
        HopVerdict::Pass,
        format!("{} -> local (endpoint ENI inside the VPC)", w.dest),
        &["R29"],
    );
    // Endpoint security group ingress from the function (R29).
    let src_addr = match w.src.v4.first() {
        Some(Peer::Addr(a)) => *a,
        Some(Peer::Net(n)) => n.network(),
        None => w.dest,
    };
    let verdict = security_groups::ingress(
        w.ix,
        &ep.security_group_ids,
        Protocol::TCP,
        w.flow.port,
        Remote {
            addr: src_addr,
            groups: Some(&w.src.security_groups),
        },
    );
    let sgs = ep.security_group_ids.join(",");
    match verdict {
        SgVerdict::Allow(rule) => w.hop(
            Direction::Forward,
            "vpc_endpoint",
            &ep.id,
            ep_subnet.as_deref(),
            HopVerdict::Pass,
            rule,
            &["R29", "R18"],
        ),
        SgVerdict::Deny => {
            w.hop(
                Direction::Forward,
                "vpc_endpoint",
                &ep.id,
                ep_subnet.as_deref(),
                HopVerdict::Block,
                format!(
                    "no ingress rule of {sgs} allows tcp {} from the function",
                    w.flow.port
                ),
                &["R29", "R18"],
            );
            w.issues.push(Issue::EndpointSgIngressDenied {
                subnet: subnet.clone(),
                endpoint: ep.id.clone(),
                endpoint_sgs: ep.security_group_ids.clone(),
                function_sgs: w.src.security_groups.clone(),
                source_cidr: w.src.cidr(Family::Ipv4),
                port: w.flow.port,
            });
        }
        SgVerdict::Unknown(why) => {
            w.hop(
                Direction::Forward,
                "vpc_endpoint",
                &ep.id,
                ep_subnet.as_deref(),
                HopVerdict::Unknown,
                why.clone(),
                &["R29"],
            );
            w.not_verifiable(&ep.id, why);
        }
    }
    if crosses {
        let peers = w.src.v4.clone();
        let port = PortRange {
            from: w.flow.port,
            to: w.flow.port,
        };
        if let Some(es) = ep_subnet.as_deref() {
            let cidr = w.src.cidr(Family::Ipv4);
            for (direction, egress, ports) in [
                (Direction::Forward, false, port),
                (Direction::Return, true, PortRange::EPHEMERAL),
            ] {
                let rules: &[&str] = if egress {
                    &["R29", "R21"]
                } else {
                    &["R29", "R20"]
                };
                if let Some((result, acl)) = w.nacl_hop(direction, es, egress, &peers, ports, rules)
                    && result.verdict != HopVerdict::Pass
                {
                    let fix = path::nacl_fix(acl, &result, w.flow.protocol, ports, cidr.clone());
                    w.issues.push(Issue::EndpointSubnetNacl {
                        subnet: subnet.clone(),
                        endpoint: ep.id.clone(),
                        endpoint_subnet: es.to_string(),
                        result,
                        fix,
                    });
                }
            }
        }
        let dest = w.dest;
        path::function_nacl_in(w, dest);
    }
}

/// R24/R25 for one subnet: DNS support, and the path to each custom DNS server over UDP
/// and TCP 53. Returns the issues and the DNS server paths (for the report).
pub(crate) fn analyse<'a>(
    ix: &Index<'a>,
    src: &Source<'a>,
    res: &Resolvers,
) -> (Vec<Issue>, Vec<(PathEvaluation, Vec<Issue>)>) {
    let mut issues = Vec::new();
    let mut paths = Vec::new();
    let vpc_id = &src.subnet.vpc_id;
    if res.amazon
        && ix
            .vpc(vpc_id)
            .is_some_and(|v| v.enable_dns_support == Some(false))
    {
        issues.push(Issue::VpcDnsSupportDisabled {
            vpc: vpc_id.clone(),
        });
    }
    for server in &res.custom {
        let mut blockers = Vec::new();
        let mut blocked = false;
        for protocol in [Protocol::UDP, Protocol::TCP] {
            let flow = Flow {
                target: format!("dns-server:{server}"),
                host: None,
                destination: *server,
                protocol,
                port: 53,
            };
            let (eval, found) = path::evaluate(ix, src, &flow);
            if eval.verdict == PathVerdict::Blocked {
                blocked = true;
                for i in found.iter().filter(|i| i.blocks_path()) {
                    let c = format!("{} {}", protocol.name(), i.code());
                    if !blockers.contains(&c) {
                        blockers.push(c);
                    }
                }
            }
            paths.push((eval, found));
        }
        if blocked {
            issues.push(Issue::CustomDnsUnreachable {
                subnet: src.subnet.id.clone(),
                server: *server,
                dhcp: res.dhcp.clone(),
                vpc: vpc_id.clone(),
                blockers,
            });
        }
    }
    (issues, paths)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{NetworkSnapshot, Vpc};

    #[test]
    fn r28_amazon_dns_addresses() {
        let s = NetworkSnapshot {
            vpcs: vec![Vpc {
                id: "vpc-1".into(),
                cidr_blocks: vec!["10.1.0.0/16".parse().unwrap()],
                ipv6_cidr_blocks: vec![],
                enable_dns_support: Some(true),
                enable_dns_hostnames: Some(true),
                dhcp_options_id: None,
                block_public_access_mode: None,
                is_default: false,
                owner_id: None,
            }],
            ..Default::default()
        };
        let ix = Index::new(&s);
        for a in ["10.1.0.2", "169.254.169.253", "fd00:ec2::253"] {
            assert!(is_amazon_provided(&ix, "vpc-1", &a.parse().unwrap()), "{a}");
        }
        for a in ["10.1.0.3", "10.0.0.2", "198.51.100.2"] {
            assert!(
                !is_amazon_provided(&ix, "vpc-1", &a.parse().unwrap()),
                "{a}"
            );
        }
    }

    #[test]
    fn server_spellings() {
        assert_eq!(
            parse_server("10.0.0.2:53"),
            Some("10.0.0.2".parse().unwrap())
        );
        assert_eq!(
            parse_server("[fd00:ec2::253]:53"),
            Some("fd00:ec2::253".parse().unwrap())
        );
        assert_eq!(
            parse_server("udp://10.0.0.9:53"),
            Some("10.0.0.9".parse().unwrap())
        );
        assert_eq!(parse_server("AmazonProvidedDNS"), None);
    }

    #[test]
    fn r29_endpoint_name_derived_from_service() {
        let ep = VpcEndpoint {
            id: "vpce-1".into(),
            vpc_id: "vpc-1".into(),
            service_name: "com.amazonaws.us-east-1.sts".into(),
            endpoint_type: "Interface".into(),
            state: "available".into(),
            private_dns_enabled: true,
            subnet_ids: vec![],
            security_group_ids: vec![],
            network_interface_ids: vec![],
            route_table_ids: vec![],
            dns_names: vec![],
        };
        assert!(endpoint_answers(&ep, "sts.us-east-1.amazonaws.com"));
        assert!(endpoint_answers(&ep, "STS.us-east-1.amazonaws.com."));
        assert!(!endpoint_answers(&ep, "sts.amazonaws.com"));
        assert!(!endpoint_answers(&ep, "s3.us-east-1.amazonaws.com"));
    }
}
