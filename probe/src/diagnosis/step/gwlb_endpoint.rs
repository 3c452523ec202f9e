//! Gateway Load Balancer endpoints (R57): the endpoint's state and AZ are verifiable; the
//! third-party appliance behind it is not (named with its service). The endpoint
//! subnet's route carries the traffic on.

use crate::diagnosis::catalog::{Issue, RouteRef};
use crate::diagnosis::state::{Next, Role, Walk};
use crate::model::{Direction, HopVerdict, Subnet, VpcEndpoint};

pub(crate) fn run<'a>(
    w: &mut Walk<'a, '_>,
    ep: &'a VpcEndpoint,
    _route: RouteRef,
    from: &'a Subnet,
) -> Vec<Next<'a>> {
    let from_az = w.az_id(from);
    let subnets: Vec<&'a Subnet> = ep
        .subnet_ids
        .iter()
        .filter_map(|s| w.ix.subnet(s))
        .collect();
    let in_az = subnets.iter().any(|s| w.az_id(s) == from_az);
    let why = if !ep.state.eq_ignore_ascii_case("available") {
        Some(format!("is {}", ep.state))
    } else if !subnets.is_empty() && !in_az {
        Some(format!("has no subnet in {}", from.availability_zone))
    } else {
        None
    };
    let subnet = w.subnet_id();
    if let Some(why) = why {
        w.hop(
            Direction::Forward,
            "gwlb_endpoint",
            &ep.id,
            ep.subnet_ids.first().map(String::as_str),
            HopVerdict::Block,
            format!("{} ({}) {why}", ep.id, ep.service_name),
            &["R57"],
        );
        w.issues.push(Issue::GwlbEndpointNotAvailable {
            subnet: subnet.clone(),
            endpoint: ep.id.clone(),
            service: ep.service_name.clone(),
            why,
        });
    }
    w.hop(
        Direction::Forward,
        "gwlb_endpoint",
        &ep.id,
        ep.subnet_ids.first().map(String::as_str),
        HopVerdict::Unknown,
        format!(
            "appliance behind {} ({}): its decision is not verifiable from here (R57)",
            ep.id, ep.service_name
        ),
        &["R57"],
    );
    w.issues.push(Issue::GwlbApplianceNotVerifiable {
        subnet,
        endpoint: ep.id.clone(),
        service: ep.service_name.clone(),
    });
    match subnets.first() {
        Some(s) if s.id != from.id => vec![Next::SubnetRoute {
            subnet: s,
            role: Role::Appliance,
        }],
        _ => vec![],
    }
}
