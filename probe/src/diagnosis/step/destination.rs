//! The destination side of an in-VPC destination (issue 11): its subnet's NACL inbound
//! from the function (R20) and outbound replies on 1024-65535 (R21), and the security
//! group ingress of its ENI when the snapshot knows the ENI (R18). Inside one subnet no
//! NACL is crossed (§F).

use crate::diagnosis::catalog::Issue;
use crate::diagnosis::fixes::nacl_fix;
use crate::diagnosis::security_groups::{self, Remote, SgVerdict};
use crate::diagnosis::state::{Next, Walk};
use crate::model::{Direction, HopVerdict, PortRange};
use std::net::IpAddr;

fn contains(s: &crate::model::Subnet, addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => s.cidr_block.is_some_and(|c| c.contains(a)),
        IpAddr::V6(a) => s.ipv6_cidr_blocks.iter().any(|c| c.contains(a)),
    }
}

pub(crate) fn run<'a>(w: &mut Walk<'a, '_>) -> Vec<Next<'a>> {
    let dest = w.dest;
    let subnet = w.subnet_id();
    let dest_subnet =
        w.ix.snap
            .subnets
            .iter()
            .find(|s| s.vpc_id == w.src.subnet.vpc_id && contains(s, &dest));
    if let Some(ds) = dest_subnet
        && ds.id != w.src.subnet.id
    {
        let peers = w.src.peers(w.family).to_vec();
        let cidr = w.src.cidr(w.family);
        let ports = PortRange {
            from: w.flow.port,
            to: w.flow.port,
        };
        let legs = [
            (false, ports, Direction::Forward, "R20"),
            (true, PortRange::EPHEMERAL, Direction::Return, "R21"),
        ];
        for (egress, ports, direction, rule) in legs {
            if let Some((result, acl)) =
                w.nacl_hop(direction, &ds.id, egress, &peers, ports, &[rule, "R6"])
                && result.verdict != HopVerdict::Pass
            {
                let fix = nacl_fix(acl, &result, w.flow.protocol, ports, cidr.clone());
                w.issues.push(Issue::DestSubnetNaclDenied {
                    subnet: subnet.clone(),
                    dest_subnet: ds.id.clone(),
                    destination: dest,
                    result,
                    fix,
                });
            }
        }
    }
    // Interface endpoint ENIs are evaluated by the endpoint step (R29).
    let Some(eni) =
        w.ix.eni_with_ip(&dest)
            .filter(|e| e.interface_type != "vpc_endpoint")
    else {
        return vec![];
    };
    let src_addr = w
        .src
        .peers(w.family)
        .iter()
        .find_map(|p| match p {
            crate::diagnosis::nacl::Peer::Addr(a) => Some(*a),
            _ => None,
        })
        .unwrap_or(dest);
    let verdict = security_groups::ingress(
        w.ix,
        &eni.security_group_ids,
        w.flow.protocol,
        w.flow.port,
        Remote {
            addr: src_addr,
            groups: Some(&w.src.security_groups),
        },
    );
    let sgs = eni.security_group_ids.join(",");
    match verdict {
        SgVerdict::Allow(rule) => w.hop(
            Direction::Forward,
            "security_group_in",
            &sgs,
            Some(&eni.subnet_id),
            HopVerdict::Pass,
            rule,
            &["R18"],
        ),
        SgVerdict::Deny => {
            w.hop(
                Direction::Forward,
                "security_group_in",
                &sgs,
                Some(&eni.subnet_id),
                HopVerdict::Block,
                format!(
                    "no ingress rule of {sgs} on {} allows {} {} from the function",
                    eni.id,
                    w.flow.protocol.name(),
                    w.flow.port
                ),
                &["R18"],
            );
            w.issues.push(Issue::DestSgIngressDenied {
                subnet,
                eni: eni.id.clone(),
                dest_sgs: eni.security_group_ids.clone(),
                function_sgs: w.src.security_groups.clone(),
                source_cidr: w.src.cidr(w.family),
                destination: dest,
                protocol: w.flow.protocol,
                port: w.flow.port,
            });
        }
        SgVerdict::Unknown(why) => {
            w.hop(
                Direction::Forward,
                "security_group_in",
                &sgs,
                Some(&eni.subnet_id),
                HopVerdict::Unknown,
                why.clone(),
                &["R18"],
            );
            w.not_verifiable(&eni.id, why);
        }
    }
    vec![]
}
