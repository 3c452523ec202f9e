//! VPC endpoints as next hops: a gateway endpoint carries the flow inside AWS (R30); an
//! interface endpoint whose private DNS took the host name is an ENI inside the VPC, behind
//! its own security group and its subnet's NACL (R29).

use crate::diagnosis::catalog::Issue;
use crate::diagnosis::fixes::nacl_fix;
use crate::diagnosis::nacl::Peer;
use crate::diagnosis::security_groups::{self, Remote, SgVerdict};
use crate::diagnosis::state::{Next, Walk};
use crate::model::{Direction, Family, HopVerdict, PortRange, Protocol, VpcEndpoint};
use std::net::IpAddr;

/// R30: a gateway endpoint (prefix-list route).
pub(crate) fn gateway<'a>(w: &mut Walk<'a, '_>, id: &str) -> Vec<Next<'a>> {
    w.hop(
        Direction::Forward,
        "vpc_endpoint",
        id,
        None,
        HopVerdict::Pass,
        format!(
            "gateway endpoint {id} carries the flow inside AWS; its endpoint policy may still answer HTTP 403 (R30)"
        ),
        &["R30"],
    );
    vec![]
}

/// R29: the flow goes to the endpoint's ENI inside the VPC: the function's SG egress and
/// subnet NACLs, the endpoint's SG ingress and its subnet's NACLs.
pub(crate) fn interface<'a>(w: &mut Walk<'a, '_>, ep: &'a VpcEndpoint) -> Vec<Next<'a>> {
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
    let crosses = ep_subnet.as_deref() != Some(subnet.as_str());
    let mut next = vec![Next::SecurityGroupEgress {
        remote_groups: Some(ep.security_group_ids.clone()),
    }];
    if crosses {
        next.push(Next::FunctionNaclOut);
    }
    next.push(Next::EndpointEni {
        endpoint: ep,
        endpoint_subnet: ep_subnet,
    });
    if crosses {
        next.push(Next::FunctionNaclIn { from: w.dest });
    }
    next
}

/// R29: the route to the endpoint ENI, its security group ingress and its subnet's NACLs.
pub(crate) fn eni<'a>(
    w: &mut Walk<'a, '_>,
    ep: &'a VpcEndpoint,
    ep_subnet: Option<&str>,
) -> Vec<Next<'a>> {
    let subnet = w.subnet_id();
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
            ep_subnet,
            HopVerdict::Pass,
            rule,
            &["R29", "R18"],
        ),
        SgVerdict::Deny => {
            w.hop(
                Direction::Forward,
                "vpc_endpoint",
                &ep.id,
                ep_subnet,
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
                ep_subnet,
                HopVerdict::Unknown,
                why.clone(),
                &["R29"],
            );
            w.not_verifiable(&ep.id, why);
        }
    }
    let crosses = ep_subnet != Some(subnet.as_str());
    if crosses && let Some(es) = ep_subnet {
        let peers = w.src.v4.clone();
        let port = PortRange {
            from: w.flow.port,
            to: w.flow.port,
        };
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
                let fix = nacl_fix(acl, &result, w.flow.protocol, ports, cidr.clone());
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
    vec![]
}
