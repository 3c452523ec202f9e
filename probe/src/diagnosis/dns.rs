//! DNS rules: VPC DNS support (R24), custom DHCP DNS servers and the path to them (R25),
//! walked like any other flow. Amazon DNS (R19, R28) and endpoint private DNS (R29) are
//! looked up in `services.rs`.

use super::Flow;
use super::catalog::Issue;
use super::index::Index;
#[cfg(test)]
use super::services::endpoint_answers;
use super::services::is_amazon_provided;
use super::state::Source;
use super::walk;
#[cfg(test)]
use crate::model::VpcEndpoint;
use crate::model::{Observation, PathEvaluation, PathVerdict, Protocol};
use std::net::{IpAddr, SocketAddr};

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
    /// The domain name of the associated set, if any.
    pub domain_name: Option<String>,
    /// R25: the VPC is associated with *no* DHCP options (`default`): no DNS server is
    /// handed out, Amazon's or any other.
    pub none: bool,
}

pub(crate) fn resolvers(ix: &Index<'_>, vpc_id: &str, observations: &[Observation]) -> Resolvers {
    let mut amazon = false;
    let mut custom = Vec::new();
    let vpc = ix.vpc(vpc_id);
    let dhcp_id = vpc.and_then(|v| v.dhcp_options_id.clone());
    // R25: no options at all is not AmazonProvidedDNS (see `DnsConfig::no_dhcp_options`).
    let none = ix.snap.dns.no_dhcp_options.iter().any(|v| v == vpc_id);
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
        _ => amazon = !none,
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
        domain_name: dhcp.and_then(|d| d.domain_name.clone()),
        none,
    }
}

/// R25: a set to associate when the VPC has none: one naming only AmazonProvidedDNS,
/// without a domain name if there is one.
fn any_amazon_dhcp_set(ix: &Index<'_>) -> Option<String> {
    amazon_dhcp_set(ix, None).or_else(|| {
        ix.snap
            .dhcp_options
            .iter()
            .find(|o| {
                o.id != "default"
                    && matches!(o.domain_name_servers.as_slice(), [s] if s.eq_ignore_ascii_case("AmazonProvidedDNS"))
            })
            .map(|o| o.id.clone())
    })
}

/// R25: the prediction for a name from a subnet of a VPC without DHCP options: nothing
/// resolves, so the `dns:` path is blocked at the DHCP options.
pub(crate) fn no_dns_path(ix: &Index<'_>, subnet: &str, vpc: &str, name: &str) -> PathEvaluation {
    let destination = ix
        .vpc(vpc)
        .and_then(|v| v.cidr_blocks.first())
        .map(|n| {
            IpAddr::V4(std::net::Ipv4Addr::from(
                u32::from(n.network()).wrapping_add(2),
            ))
        })
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::new(169, 254, 169, 253)));
    PathEvaluation {
        subnet_id: subnet.to_string(),
        target: Some(format!("dns:{}", crate::model::normalise_name(name))),
        destination,
        protocol: "udp".into(),
        port: 53,
        family: crate::model::Family::of(&destination),
        verdict: PathVerdict::Blocked,
        hops: vec![crate::model::Hop {
            direction: crate::model::Direction::Forward,
            component: "dhcp_options".into(),
            id: vpc.to_string(),
            subnet_id: Some(subnet.to_string()),
            verdict: crate::model::HopVerdict::Block,
            decided_by: format!(
                "{vpc} is associated with no DHCP options (`default`): no DNS server is given out, so {name} is never asked (R25)"
            ),
            rules: vec!["R25".into()],
        }],
    }
}

/// An existing DHCP option set whose only name server is AmazonProvidedDNS and whose domain
/// name is `domain`: associating it restores Amazon DNS and keeps the search domain (R25).
fn amazon_dhcp_set(ix: &Index<'_>, domain: Option<&str>) -> Option<String> {
    ix.snap
        .dhcp_options
        .iter()
        .find(|o| {
            o.id != "default"
                && matches!(o.domain_name_servers.as_slice(), [s] if s.eq_ignore_ascii_case("AmazonProvidedDNS"))
                && o.domain_name.as_deref() == domain
        })
        .map(|o| o.id.clone())
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
    if res.none {
        issues.push(Issue::from(super::catalog::dns::DnsIssue::NoDhcpOptions {
            subnet: src.subnet.id.clone(),
            vpc: vpc_id.clone(),
            amazon_dhcp: any_amazon_dhcp_set(ix),
        }));
    }
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
            let (eval, found) = walk::evaluate(ix, src, &flow);
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
                amazon_dhcp: amazon_dhcp_set(ix, res.domain_name.as_deref()),
                domain_name: res.domain_name.clone(),
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
