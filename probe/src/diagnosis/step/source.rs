//! The start of every path, at the function's ENI: Amazon-provided services are never
//! filtered (R19, R28), an interface endpoint with private DNS takes the host name (R29),
//! and IPv6 needs the function flag and a subnet IPv6 CIDR (R31). Then the ordinary legs.

use crate::diagnosis::catalog::{Ipv6Gap, Issue};
use crate::diagnosis::services;
use crate::diagnosis::state::{Next, Walk};
use crate::model::{Direction, Family, HopVerdict};

pub(crate) fn run<'a>(w: &mut Walk<'a, '_>) -> Vec<Next<'a>> {
    let subnet = w.subnet_id();
    // R19/R28: Amazon DNS and the other Amazon-provided link-local services are never
    // filtered by security groups or NACLs.
    if services::is_amazon_provided(w.ix, w.vpc_id(), &w.dest) {
        w.hop(
            Direction::Forward,
            "amazon_provided_service",
            &w.dest.to_string(),
            Some(&subnet),
            HopVerdict::Pass,
            format!(
                "{} is an Amazon-provided service: not filtered by security groups or NACLs (R19)",
                w.dest
            ),
            &["R19", "R28"],
        );
        return vec![];
    }
    // R29: an interface endpoint with private DNS takes the AWS service name.
    if let Some(host) = w.flow.host.clone()
        && let Some(ep) = services::capturing_endpoint(w.ix, w.vpc_id(), &host)
    {
        w.issues.push(Issue::EndpointPrivateDnsCapture {
            subnet: subnet.clone(),
            host,
            endpoint: ep.id.clone(),
            service: ep.service_name.clone(),
        });
        return vec![Next::InterfaceEndpoint { endpoint: ep }];
    }
    // R31: IPv6 prerequisites. Without them no IPv6 packet ever leaves the ENI: the
    // hops after it would only restate that (e.g. an IPv4-only VPC's NACLs have no IPv6
    // entries), so the walk stops at the ENI.
    if w.family == Family::Ipv6 {
        let mut no_ipv6_source = false;
        if let Some(f) = w.src.function
            && !f.ipv6_allowed_for_dual_stack
        {
            w.hop(
                Direction::Forward,
                "eni",
                &f.name,
                Some(&subnet),
                HopVerdict::Block,
                "Ipv6AllowedForDualStack is false: the function sends no IPv6".into(),
                &["R31"],
            );
            no_ipv6_source = true;
            w.issues.push(Issue::Ipv6NotEnabled {
                subnet: subnet.clone(),
                gap: Ipv6Gap::FunctionFlag,
                function: Some(f.name.clone()),
                function_subnets: f.subnet_ids.clone(),
                security_groups: f.security_group_ids.clone(),
            });
        }
        if w.src.subnet.ipv6_cidr_blocks.is_empty() {
            w.hop(
                Direction::Forward,
                "eni",
                &subnet,
                Some(&subnet),
                HopVerdict::Block,
                "the subnet has no IPv6 CIDR".into(),
                &["R31"],
            );
            w.issues.push(Issue::Ipv6NotEnabled {
                subnet: subnet.clone(),
                gap: Ipv6Gap::SubnetCidr,
                function: None,
                function_subnets: vec![],
                security_groups: vec![],
            });
            no_ipv6_source = true;
        }
        if no_ipv6_source {
            return vec![];
        }
    }
    // The destination decides whether the subnet's NACL is crossed (R20): the NACL steps
    // look at it themselves, so their hops stay after the security group's.
    vec![
        Next::SecurityGroupEgress {
            remote_groups: None,
        },
        Next::FunctionNaclOut,
        Next::FunctionRoute,
        Next::FunctionNaclIn { from: w.dest },
    ]
}
