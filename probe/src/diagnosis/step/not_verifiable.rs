//! R15: a next hop the snapshot cannot follow (VPN, Direct Connect, appliances, and any
//! gateway the snapshot holds nothing about): named, with what to check beyond it.

use crate::diagnosis::catalog::{Issue, RouteRef};
use crate::diagnosis::routes;
use crate::diagnosis::state::{Next, Walk};
use crate::model::{Direction, HopVerdict, RouteTarget};

pub(crate) fn run<'a>(
    w: &mut Walk<'a, '_>,
    route: RouteRef,
    target: &RouteTarget,
) -> Vec<Next<'a>> {
    let kind = routes::target_kind(target);
    let check = routes::not_verifiable_check(target, w.dest);
    w.hop(
        Direction::Forward,
        "next_hop",
        target.id(),
        None,
        HopVerdict::Unknown,
        format!("{kind} {}: not verifiable from here (R15)", target.id()),
        &["R15"],
    );
    w.issues.push(Issue::NextHopNotVerifiable {
        subnet: w.subnet_id(),
        route,
        kind,
        destination: w.dest,
        check,
    });
    vec![]
}
