//! R18: the ENI's security groups, egress (stateful: no return rule needed).

use crate::diagnosis::catalog::Issue;
use crate::diagnosis::fixes::fix_cidr;
use crate::diagnosis::security_groups::{self, Remote, SgVerdict};
use crate::diagnosis::state::{Next, Walk};
use crate::model::{Direction, Family, HopVerdict};

pub(crate) fn run<'a>(w: &mut Walk<'a, '_>, remote_groups: Option<&[String]>) -> Vec<Next<'a>> {
    let subnet = w.subnet_id();
    let groups = remote_groups.or_else(|| {
        w.ix.eni_with_ip(&w.dest)
            .map(|e| e.security_group_ids.as_slice())
    });
    let verdict = security_groups::egress(
        w.ix,
        &w.src.security_groups,
        w.flow.protocol,
        w.flow.port,
        Remote {
            addr: w.dest,
            groups,
        },
    );
    let id = w.src.security_groups.join(",");
    let rules: &[&str] = if w.family == Family::Ipv6 {
        &["R18", "R31"]
    } else {
        &["R18"]
    };
    match verdict {
        SgVerdict::Allow(rule) => w.hop(
            Direction::Forward,
            "security_group",
            &id,
            Some(&subnet),
            HopVerdict::Pass,
            rule,
            rules,
        ),
        SgVerdict::Deny => {
            w.hop(
                Direction::Forward,
                "security_group",
                &id,
                Some(&subnet),
                HopVerdict::Block,
                format!(
                    "no egress rule allows {} {} to {}",
                    w.flow.protocol.name(),
                    w.flow.port,
                    w.dest
                ),
                rules,
            );
            w.issues.push(Issue::SgEgressDenied {
                subnet,
                security_groups: w.src.security_groups.clone(),
                protocol: w.flow.protocol,
                port: w.flow.port,
                destination: w.dest,
                cidr: fix_cidr(&w.dest),
            });
        }
        SgVerdict::Unknown(why) => {
            w.hop(
                Direction::Forward,
                "security_group",
                &id,
                Some(&subnet),
                HopVerdict::Unknown,
                why.clone(),
                rules,
            );
            w.not_verifiable(
                if id.is_empty() {
                    "security groups"
                } else {
                    &id
                },
                why,
            );
        }
    }
    vec![]
}
