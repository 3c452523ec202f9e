//! A path is a walk across VPCs and gateways: the dispatcher below runs one step per hop
//! kind (`step/*`), each of which records its hops and says what comes next. Adding a hop
//! kind means one `Next` variant, one step file and one arm here. Every blocker is
//! recorded, not only the first.

use super::Flow;
use super::catalog::Issue;
use super::index::Index;
use super::state::{Next, Source, Walk};
use super::step;
use crate::model::PathEvaluation;

/// Steps one walk may take before it is cut short (a routing loop between gateways).
const MAX_STEPS: usize = 256;

/// Evaluates one flow from one subnet.
pub(crate) fn evaluate<'a>(
    ix: &Index<'a>,
    src: &Source<'a>,
    flow: &Flow,
) -> (PathEvaluation, Vec<Issue>) {
    let mut w = Walk::new(ix, src, flow);
    // A stack of pending steps: what a step returns runs next, in order, before what
    // was already pending (the return legs queued by the steps before it).
    let mut pending: Vec<Next<'a>> = vec![Next::Start];
    let mut taken = 0;
    while let Some(next) = pending.pop() {
        taken += 1;
        if taken > MAX_STEPS {
            w.not_verifiable(
                &src.subnet.id,
                format!("the walk took more than {MAX_STEPS} steps (a routing loop?)"),
            );
            break;
        }
        let more = dispatch(&mut w, next);
        pending.extend(more.into_iter().rev());
    }
    let eval = PathEvaluation {
        subnet_id: src.subnet.id.clone(),
        target: Some(flow.target.clone()),
        destination: flow.destination,
        protocol: flow.protocol.name(),
        port: flow.port,
        family: w.family,
        verdict: w.verdict(),
        hops: std::mem::take(&mut w.hops),
    };
    (eval, w.issues)
}

fn dispatch<'a>(w: &mut Walk<'a, '_>, next: Next<'a>) -> Vec<Next<'a>> {
    match next {
        Next::Start => step::source::run(w),
        Next::SecurityGroupEgress { remote_groups } => {
            step::security_group::run(w, remote_groups.as_deref())
        }
        Next::FunctionNaclOut => step::subnet_nacl::outbound(w),
        Next::DestinationInVpc => step::destination::run(w),
        Next::FunctionNaclIn { from } => step::subnet_nacl::inbound(w, from),
        Next::FunctionRoute => step::route_table::function_route(w),
        Next::NatGateway { nat, route, from } => step::nat_gateway::run(w, &nat, route, from),
        Next::NatReturn { nat, nat_subnet } => step::nat_gateway::reply(w, &nat, &nat_subnet),
        Next::InternetGateway {
            igw,
            vpc,
            via,
            gateway_subnet,
        } => step::internet_gateway::run(w, &igw, &vpc, via, gateway_subnet),
        Next::EgressOnlyIgw { eigw, from } => step::egress_only_igw::run(w, &eigw, from),
        Next::BlockPublicAccess {
            via,
            gateway,
            gateway_subnet,
            vpc,
        } => step::block_public_access::run(w, via, &gateway, gateway_subnet.as_deref(), &vpc),
        Next::GatewayEndpoint { endpoint } => step::endpoint::gateway(w, &endpoint),
        Next::InterfaceEndpoint { endpoint } => step::endpoint::interface(w, endpoint),
        Next::EndpointEni {
            endpoint,
            endpoint_subnet,
        } => step::endpoint::eni(w, endpoint, endpoint_subnet.as_deref()),
        Next::NotVerifiable { route, target } => step::not_verifiable::run(w, route, &target),
        Next::TransitGateway { tgw, route, from } => {
            step::transit_gateway::enter(w, &tgw, route, from)
        }
        Next::AttachmentNacl {
            attachment,
            subnet,
            egress,
            peer_is_function,
            direction,
        } => step::transit_gateway::attachment_nacl(
            w,
            &attachment,
            &subnet,
            egress,
            peer_is_function,
            direction,
        ),
        Next::TgwRouteTable { table, tgw, from } => {
            step::tgw_route_table::forward(w, &table, &tgw, from)
        }
        Next::TgwArrive { attachment, from } => step::transit_gateway::arrive(w, attachment, from),
        Next::SubnetRoute { subnet, role } => step::subnet_route::forward(w, subnet, role),
        Next::ReturnRoute { subnet } => step::subnet_route::back(w, subnet),
        Next::TgwReturn { tgw, from } => step::tgw_route_table::back(w, &tgw, from),
        Next::FirewallEndpoint {
            endpoint,
            route,
            from,
        } => step::firewall_endpoint::run(w, &endpoint, route, from),
        Next::GwlbEndpoint {
            endpoint,
            route,
            from,
        } => step::gwlb_endpoint::run(w, endpoint, route, from),
        Next::Peering { pcx, route, from } => step::peering::run(w, &pcx, route, from),
    }
}
