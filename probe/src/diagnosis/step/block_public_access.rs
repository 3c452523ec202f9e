//! R17: VPC Block Public Access for traffic that meets an internet gateway or an
//! egress-only internet gateway; never "assumed off" silently.

use crate::diagnosis::bpa::{self, BpaOutcome, Via};
use crate::diagnosis::catalog::Issue;
use crate::diagnosis::state::{Next, Walk};
use crate::model::{Direction, HopVerdict};

pub(crate) fn run<'a>(
    w: &mut Walk<'a, '_>,
    via: Via,
    gateway: &str,
    gateway_subnet: Option<&str>,
    vpc: &str,
) -> Vec<Next<'a>> {
    match bpa::check(w.ix, via, gateway_subnet, vpc) {
        BpaOutcome::Pass(why) => w.hop(
            Direction::Forward,
            "block_public_access",
            gateway,
            gateway_subnet,
            HopVerdict::Pass,
            why,
            &["R17"],
        ),
        BpaOutcome::Block {
            mode,
            exclusions_allowed,
        } => {
            w.hop(
                Direction::Forward,
                "block_public_access",
                gateway,
                gateway_subnet,
                HopVerdict::Block,
                format!("Block Public Access {mode}, no exclusion"),
                &["R17"],
            );
            w.issues.push(Issue::BpaBlocksEgress {
                subnet: w.subnet_id(),
                mode,
                gateway_subnet: gateway_subnet.map(str::to_string),
                vpc: vpc.to_string(),
                gateway: gateway.to_string(),
                exclusions_allowed,
            });
        }
        BpaOutcome::Unknown(reason) => {
            w.advisory_hop(
                "block_public_access",
                gateway,
                format!("Block Public Access not readable ({reason}): not verifiable"),
                &["R17"],
            );
            w.issues.push(Issue::BpaNotVerifiable { reason });
        }
    }
    vec![]
}
