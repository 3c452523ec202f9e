//! R31/R16: an egress-only internet gateway (IPv6) must be attached to the VPC; then
//! Block Public Access (R17).

use crate::diagnosis::bpa::Via;
use crate::diagnosis::catalog::Issue;
use crate::diagnosis::state::{Next, Walk};
use crate::model::{Direction, HopVerdict, Subnet};

pub(crate) fn run<'a>(w: &mut Walk<'a, '_>, eigw: &str, from: &'a Subnet) -> Vec<Next<'a>> {
    let vpc = from.vpc_id.as_str();
    let attached = w.ix.eigw(eigw).map(|g| g.is_attached_to(vpc));
    match attached {
        Some(true) => w.hop(
            Direction::Forward,
            "egress_only_internet_gateway",
            eigw,
            None,
            HopVerdict::Pass,
            format!("{eigw} attached to {vpc}"),
            &["R31"],
        ),
        Some(false) | None if w.ix.gap("DescribeEgressOnlyInternetGateways").is_none() => {
            w.hop(
                Direction::Forward,
                "egress_only_internet_gateway",
                eigw,
                None,
                HopVerdict::Block,
                format!("{eigw} is not attached to {vpc}"),
                &["R31", "R16"],
            );
            w.issues.push(Issue::IgwNotAttached {
                subnet: w.subnet_id(),
                igw: eigw.to_string(),
                vpc: vpc.to_string(),
            });
        }
        _ => {
            w.hop(
                Direction::Forward,
                "egress_only_internet_gateway",
                eigw,
                None,
                HopVerdict::Unknown,
                "egress-only internet gateways could not be read".into(),
                &["R31"],
            );
            w.not_verifiable(eigw, "not in the snapshot".into());
        }
    }
    vec![Next::BlockPublicAccess {
        via: Via::EgressOnly,
        gateway: eigw.to_string(),
        gateway_subnet: Some(from.id.clone()),
        vpc: vpc.to_string(),
    }]
}
