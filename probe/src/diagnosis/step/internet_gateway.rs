//! An internet gateway: attached to the VPC whose traffic meets it (R16), no RFC 1918
//! destination (R16); then Block Public Access (R17).

use crate::diagnosis::bpa::Via;
use crate::diagnosis::catalog::Issue;
use crate::diagnosis::fixes::is_rfc1918;
use crate::diagnosis::state::{Next, Walk};
use crate::model::{Direction, HopVerdict};

pub(crate) fn run<'a>(
    w: &mut Walk<'a, '_>,
    igw: &str,
    vpc: &str,
    via: Via,
    gateway_subnet: Option<String>,
) -> Vec<Next<'a>> {
    let subnet = w.subnet_id();
    match w.ix.igw(igw) {
        Some(g) if g.is_attached_to(vpc) => w.hop(
            Direction::Forward,
            "internet_gateway",
            igw,
            None,
            HopVerdict::Pass,
            format!("{igw} attached to {vpc}"),
            &["R16"],
        ),
        None if w.ix.gap("DescribeInternetGateways").is_some() => {
            w.hop(
                Direction::Forward,
                "internet_gateway",
                igw,
                None,
                HopVerdict::Unknown,
                "internet gateways could not be read".into(),
                &["R16"],
            );
            w.not_verifiable(igw, "internet gateways not in the snapshot".into());
        }
        _ => {
            w.hop(
                Direction::Forward,
                "internet_gateway",
                igw,
                None,
                HopVerdict::Block,
                format!("{igw} is not attached to {vpc}"),
                &["R16", "R8"],
            );
            w.issues.push(Issue::IgwNotAttached {
                subnet: subnet.clone(),
                igw: igw.to_string(),
                vpc: vpc.to_string(),
            });
        }
    }
    if is_rfc1918(&w.dest) {
        w.hop(
            Direction::Forward,
            "internet_gateway",
            igw,
            None,
            HopVerdict::Block,
            format!(
                "{} is an RFC 1918 address: the internet gateway rejects it",
                w.dest
            ),
            &["R16"],
        );
        w.issues.push(Issue::IgwPrivateDestination {
            subnet,
            destination: w.dest,
            gateway: igw.to_string(),
        });
    }
    vec![Next::BlockPublicAccess {
        via,
        gateway: igw.to_string(),
        gateway_subnet,
        vpc: vpc.to_string(),
    }]
}
