//! Assembles one path, hop by hop, for a (subnet, flow): security group egress, the
//! function subnet's NACL out, its route, the next hop (NAT gateway and its subnet,
//! internet gateway, egress-only IGW, endpoint, or "not verifiable"), and the return leg.
//! Every blocker is recorded, not only the first.

use super::Flow;
use super::bpa::{self, BpaOutcome, Via};
use super::catalog::{Ipv6Gap, Issue, NaclFix, RouteRef, any_cidr};
use super::index::{Index, NaclKey, SortedAcl};
use super::nacl::{self, NaclResult, Peer};
use super::routes;
use super::security_groups::{self, Remote, SgVerdict};
use super::{dns, nat};
use crate::model::{
    Direction, Family, FunctionConfig, Hop, HopVerdict, PathEvaluation, PathVerdict, PortRange,
    Protocol, RouteState, RouteTarget, RuleAction, Subnet,
};
use ipnet::IpNet;
use std::net::IpAddr;
use std::rc::Rc;

/// The source side of a path: a subnet and the ENI the function has in it.
#[derive(Debug, Clone)]
pub(crate) struct Source<'a> {
    pub subnet: &'a Subnet,
    pub function: Option<&'a FunctionConfig>,
    pub security_groups: Vec<String>,
    /// Lambda ENI addresses in the subnet, else the subnet's CIDRs (R22: "function ENI IPs").
    pub v4: Vec<Peer>,
    pub v6: Vec<Peer>,
}

impl Source<'_> {
    pub fn peers(&self, family: Family) -> &[Peer] {
        match family {
            Family::Ipv4 => &self.v4,
            Family::Ipv6 => &self.v6,
        }
    }
    /// A CIDR standing for the function (for fix commands).
    pub fn cidr(&self, family: Family) -> String {
        match family {
            Family::Ipv4 => self
                .subnet
                .cidr_block
                .map(|c| c.to_string())
                .unwrap_or_else(|| "<function-subnet-cidr>".into()),
            Family::Ipv6 => self
                .subnet
                .ipv6_cidr_blocks
                .first()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "<function-subnet-ipv6-cidr>".into()),
        }
    }
    /// True when `addr` is inside the source subnet (NACLs are not crossed, §F).
    pub fn contains(&self, addr: &IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => self.subnet.cidr_block.is_some_and(|c| c.contains(a)),
            IpAddr::V6(a) => self.subnet.ipv6_cidr_blocks.iter().any(|c| c.contains(a)),
        }
    }
}

/// State of one path walk.
pub(crate) struct Walk<'a, 'b> {
    pub ix: &'b Index<'a>,
    pub src: &'b Source<'a>,
    pub flow: &'b Flow,
    pub dest: IpAddr,
    pub family: Family,
    pub hops: Vec<Hop>,
    pub issues: Vec<Issue>,
    blocked: bool,
    partial: bool,
    unverifiable: bool,
}

impl<'a, 'b> Walk<'a, 'b> {
    pub fn subnet_id(&self) -> String {
        self.src.subnet.id.clone()
    }
    pub fn vpc_id(&self) -> &'a str {
        &self.src.subnet.vpc_id
    }

    #[allow(clippy::too_many_arguments)]
    pub fn hop(
        &mut self,
        direction: Direction,
        component: &str,
        id: &str,
        subnet: Option<&str>,
        verdict: HopVerdict,
        decided_by: String,
        rules: &[&str],
    ) {
        match verdict {
            HopVerdict::Block => self.blocked = true,
            HopVerdict::Partial => self.partial = true,
            HopVerdict::Unknown => self.unverifiable = true,
            HopVerdict::Pass => {}
        }
        self.hops.push(Hop {
            direction,
            component: component.to_string(),
            id: id.to_string(),
            subnet_id: subnet.map(str::to_string),
            verdict,
            decided_by,
            rules: rules.iter().map(|r| r.to_string()).collect(),
        });
    }

    /// A hop that informs but does not change the path's verdict (BPA not readable).
    pub fn advisory_hop(&mut self, component: &str, id: &str, decided_by: String, rules: &[&str]) {
        self.hops.push(Hop {
            direction: Direction::Forward,
            component: component.to_string(),
            id: id.to_string(),
            subnet_id: None,
            verdict: HopVerdict::Unknown,
            decided_by,
            rules: rules.iter().map(|r| r.to_string()).collect(),
        });
    }

    pub fn not_verifiable(&mut self, component: &str, why: String) {
        self.issues.push(Issue::PathNotVerifiable {
            subnet: self.subnet_id(),
            component: component.to_string(),
            why,
        });
    }

    /// Evaluates one NACL of `subnet` for every peer and records the hop.
    #[allow(clippy::too_many_arguments)]
    pub fn nacl_hop(
        &mut self,
        direction: Direction,
        subnet: &str,
        egress: bool,
        peers: &[Peer],
        ports: PortRange,
        rules: &[&str],
    ) -> Option<(Rc<NaclResult>, &'b SortedAcl<'a>)> {
        let component = if egress { "nacl_out" } else { "nacl_in" };
        let Some(acl) = self.ix.acl_for_subnet(subnet) else {
            self.hop(
                direction,
                component,
                "?",
                Some(subnet),
                HopVerdict::Unknown,
                format!("no network ACL for {subnet} in the snapshot"),
                rules,
            );
            self.not_verifiable(subnet, "network ACL not in the snapshot".into());
            return None;
        };
        // Many subnets share a NACL and every flow repeats the same legs: evaluate each
        // (ACL, direction, protocol, peers, ports) once per diagnosis.
        let key = NaclKey {
            acl: std::ptr::from_ref(acl.acl) as usize,
            egress,
            protocol: self.flow.protocol,
            peers: peers.to_vec(),
            ports: (ports.from, ports.to),
        };
        let cached = self.ix.nacl_cache.borrow().get(&key).cloned();
        let (result, decided) = match cached {
            Some(hit) => hit,
            None => {
                let results: Vec<NaclResult> = peers
                    .iter()
                    .map(|p| nacl::evaluate(acl, egress, self.flow.protocol, *p, ports))
                    .collect();
                let result = Rc::new(nacl::combine(results)?);
                let who = peers
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(",");
                let dir = if egress { "to" } else { "from" };
                let decided: Rc<str> = format!(
                    "{} {} {dir} {who} ports {}: {}",
                    self.flow.protocol.name(),
                    if egress { "out" } else { "in" },
                    nacl::ranges_text(&[ports]),
                    result.decided_by()
                )
                .into();
                self.ix
                    .nacl_cache
                    .borrow_mut()
                    .insert(key, (result.clone(), decided.clone()));
                (result, decided)
            }
        };
        let decided = decided.to_string();
        self.hop(
            direction,
            component,
            &acl.acl.id,
            Some(subnet),
            result.verdict,
            decided,
            rules,
        );
        Some((result, acl))
    }

    pub fn route_ref(&self, rtb: &crate::model::RouteTable, c: &routes::Chosen<'_>) -> RouteRef {
        RouteRef {
            rtb: rtb.id.clone(),
            destination: c.route.destination.clone(),
            target: c.route.target.id().to_string(),
            text: routes::describe(rtb, c.route),
        }
    }

    /// R17 hop for traffic that meets an internet gateway or egress-only IGW.
    pub fn bpa_hop(&mut self, via: Via, gateway: &str, gateway_subnet: Option<&str>) {
        let vpc = self.vpc_id();
        match bpa::check(self.ix, via, gateway_subnet, vpc) {
            BpaOutcome::Pass(why) => self.hop(
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
                self.hop(
                    Direction::Forward,
                    "block_public_access",
                    gateway,
                    gateway_subnet,
                    HopVerdict::Block,
                    format!("Block Public Access {mode}, no exclusion"),
                    &["R17"],
                );
                self.issues.push(Issue::BpaBlocksEgress {
                    subnet: self.subnet_id(),
                    mode,
                    gateway_subnet: gateway_subnet.map(str::to_string),
                    vpc: vpc.to_string(),
                    gateway: gateway.to_string(),
                    exclusions_allowed,
                });
            }
            BpaOutcome::Unknown(reason) => {
                self.advisory_hop(
                    "block_public_access",
                    gateway,
                    format!("Block Public Access not readable ({reason}): not verifiable"),
                    &["R17"],
                );
                self.issues.push(Issue::BpaNotVerifiable { reason });
            }
        }
    }

    fn verdict(&self) -> PathVerdict {
        if self.blocked {
            PathVerdict::Blocked
        } else if self.partial {
            PathVerdict::Intermittent
        } else if self.unverifiable {
            PathVerdict::NotVerifiable
        } else {
            PathVerdict::Reachable
        }
    }
}

/// A NACL rule number that is free in that direction and is evaluated before `before`.
pub(crate) fn free_rule_number(acl: &SortedAcl<'_>, egress: bool, before: Option<i32>) -> i32 {
    let used: Vec<i32> = acl.entries(egress).iter().map(|e| e.rule_number).collect();
    let free = |n: &i32| !used.contains(n);
    match before {
        // After an explicit deny: the closest free multiple of 10 below it, else any.
        Some(b) => (1..b)
            .rev()
            .filter(|n| n % 10 == 0)
            .find(free)
            .or_else(|| (1..b).rev().find(free))
            .unwrap_or(1),
        None => (1..=327)
            .map(|k| k * 100)
            .find(free)
            .or_else(|| (1..32767).find(free))
            .unwrap_or(32766),
    }
}

/// The fix that makes `result` pass: widen the one partial allow entry, else add one.
pub(crate) fn nacl_fix(
    acl: &SortedAcl<'_>,
    result: &NaclResult,
    protocol: Protocol,
    ports: PortRange,
    cidr: String,
) -> NaclFix {
    let allows: Vec<&nacl::Decision> = result
        .decisions
        .iter()
        .filter(|d| d.action == RuleAction::Allow)
        .collect();
    let deny_first = result.first_deny();
    if let [only] = allows.as_slice()
        && let (Some(n), Some(c), Some(p)) = (only.rule_number, only.cidr, only.protocol)
        && matches!(p.0, 6 | 17)
        && deny_first.is_some_and(|d| d.rule_number.is_none())
    {
        return NaclFix {
            acl: acl.acl.id.clone(),
            egress: result.egress,
            replace: true,
            rule_number: n,
            protocol: p,
            ports,
            cidr: c.to_string(),
        };
    }
    let before = deny_first.and_then(|d| d.rule_number);
    NaclFix {
        acl: acl.acl.id.clone(),
        egress: result.egress,
        replace: false,
        rule_number: free_rule_number(acl, result.egress, before),
        protocol,
        ports,
        cidr,
    }
}

fn is_rfc1918(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.is_private(),
        IpAddr::V6(_) => false,
    }
}

/// True for addresses an internet gateway would forward (not private, not ULA).
pub(crate) fn is_public(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => !(a.is_private() || a.is_loopback() || a.is_link_local()),
        IpAddr::V6(a) => (a.segments()[0] & 0xfe00) != 0xfc00 && !a.is_loopback(),
    }
}

/// The CIDR a fix opens for `addr`: the whole internet for public addresses, else the host.
pub(crate) fn fix_cidr(addr: &IpAddr) -> String {
    if is_public(addr) {
        any_cidr(addr).to_string()
    } else {
        IpNet::from(*addr).to_string()
    }
}

/// Evaluates one flow from one subnet.
pub(crate) fn evaluate<'a>(
    ix: &Index<'a>,
    src: &Source<'a>,
    flow: &Flow,
) -> (PathEvaluation, Vec<Issue>) {
    let mut w = Walk {
        ix,
        src,
        flow,
        dest: flow.destination,
        family: Family::of(&flow.destination),
        hops: Vec::new(),
        issues: Vec::new(),
        blocked: false,
        partial: false,
        unverifiable: false,
    };
    walk(&mut w);
    let eval = PathEvaluation {
        subnet_id: src.subnet.id.clone(),
        target: Some(flow.target.clone()),
        destination: flow.destination,
        protocol: flow.protocol.name(),
        port: flow.port,
        family: w.family,
        verdict: w.verdict(),
        hops: w.hops,
    };
    (eval, w.issues)
}

fn walk(w: &mut Walk<'_, '_>) {
    let subnet = w.subnet_id();
    // R19/R28: Amazon DNS and the other Amazon-provided link-local services are never
    // filtered by security groups or NACLs.
    if dns::is_amazon_provided(w.ix, w.vpc_id(), &w.dest) {
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
        return;
    }
    // R29: an interface endpoint with private DNS takes the AWS service name.
    if let Some(host) = w.flow.host.clone()
        && let Some(ep) = dns::capturing_endpoint(w.ix, w.vpc_id(), &host)
    {
        w.issues.push(Issue::EndpointPrivateDnsCapture {
            subnet: subnet.clone(),
            host,
            endpoint: ep.id.clone(),
            service: ep.service_name.clone(),
        });
        dns::walk_endpoint(w, ep);
        return;
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
            return;
        }
    }
    sg_egress_hop(w, None);
    let same_subnet = w.src.contains(&w.dest);
    if same_subnet {
        w.hop(
            Direction::Forward,
            "nacl_out",
            "-",
            Some(&subnet),
            HopVerdict::Pass,
            "destination is in the same subnet: NACLs apply only at the subnet boundary".into(),
            &["R20"],
        );
    } else {
        function_nacl_out(w);
    }
    route_and_beyond(w);
    if !same_subnet {
        function_nacl_in(w, w.dest);
    }
}

/// R18: the ENI's security groups, egress (stateful: no return rule needed).
pub(crate) fn sg_egress_hop(w: &mut Walk<'_, '_>, remote_groups: Option<&[String]>) {
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
}

/// R20: function subnet NACL, outbound to the destination port.
pub(crate) fn function_nacl_out(w: &mut Walk<'_, '_>) {
    let subnet = w.subnet_id();
    let ports = PortRange {
        from: w.flow.port,
        to: w.flow.port,
    };
    let dest = w.dest;
    if let Some((result, acl)) = w.nacl_hop(
        Direction::Forward,
        &subnet,
        true,
        &[Peer::Addr(dest)],
        ports,
        &["R20"],
    ) && result.verdict != HopVerdict::Pass
    {
        let fix = nacl_fix(acl, &result, w.flow.protocol, ports, fix_cidr(&dest));
        w.issues.push(Issue::NaclOutboundDenied {
            subnet,
            result,
            protocol: w.flow.protocol,
            port: w.flow.port,
            destination: dest,
            fix,
        });
    }
}

/// R21: function subnet NACL, inbound replies from `from` on 1024-65535.
pub(crate) fn function_nacl_in(w: &mut Walk<'_, '_>, from: IpAddr) {
    let subnet = w.subnet_id();
    if let Some((result, acl)) = w.nacl_hop(
        Direction::Return,
        &subnet,
        false,
        &[Peer::Addr(from)],
        PortRange::EPHEMERAL,
        &["R21"],
    ) && result.verdict != HopVerdict::Pass
    {
        let fix = nacl_fix(
            acl,
            &result,
            w.flow.protocol,
            PortRange::EPHEMERAL,
            fix_cidr(&from),
        );
        w.issues.push(Issue::NaclInboundEphemeral {
            subnet,
            result,
            protocol: w.flow.protocol,
            source: from,
            fix,
        });
    }
}

/// R5-R17: the function subnet's route and whatever it leads to.
fn route_and_beyond(w: &mut Walk<'_, '_>) {
    let subnet = w.subnet_id();
    let Some(rtb) = w.ix.effective_route_table(&subnet) else {
        w.hop(
            Direction::Forward,
            "route_table",
            "?",
            Some(&subnet),
            HopVerdict::Unknown,
            format!("no route table for {subnet} in the snapshot"),
            &["R5"],
        );
        w.issues.push(Issue::SubnetNotInSnapshot {
            subnet,
            what: "route table".into(),
        });
        return;
    };
    let Some(chosen) = routes::select(w.ix, rtb, w.dest) else {
        w.hop(
            Direction::Forward,
            "route_table",
            &rtb.id,
            Some(&subnet),
            HopVerdict::Block,
            format!("{}: no route matches {}", rtb.id, w.dest),
            &["R6", "R7"],
        );
        w.issues.push(Issue::NoRoute {
            subnet: subnet.clone(),
            rtb: rtb.id.clone(),
            family: w.family,
            nat: nat::choose(w.ix, w.src.subnet, None),
            eigw: nat::eigw_of(w.ix, w.vpc_id()),
            vpc: w.vpc_id().to_string(),
        });
        return;
    };
    let route = w.route_ref(rtb, &chosen);
    let mut text = route.text.clone();
    if matches!(
        chosen.route.destination,
        crate::model::RouteDestination::PrefixList(_)
    ) {
        text.push_str(&format!(" [matched {}]", chosen.matched));
    }
    for n in &chosen.notes {
        text.push_str("; ");
        text.push_str(n);
    }
    if chosen.route.state == RouteState::Blackhole {
        w.hop(
            Direction::Forward,
            "route_table",
            &rtb.id,
            Some(&subnet),
            HopVerdict::Block,
            text,
            &["R6", "R8"],
        );
        let to_nat = matches!(chosen.route.target, RouteTarget::NatGateway(_));
        w.issues.push(Issue::RouteBlackhole {
            subnet,
            route,
            to_nat,
            nat: nat::choose(w.ix, w.src.subnet, Some(chosen.route.target.id())),
        });
        return;
    }
    w.hop(
        Direction::Forward,
        "route_table",
        &rtb.id,
        Some(&subnet),
        HopVerdict::Pass,
        text,
        &["R5", "R6"],
    );
    match &chosen.route.target {
        RouteTarget::Local => {
            w.hop(
                Direction::Forward,
                "local",
                "local",
                Some(&subnet),
                HopVerdict::Pass,
                format!(
                    "{} is inside the VPC: the destination's own security group and NACL are not evaluated",
                    w.dest
                ),
                &["R6"],
            );
            w.issues.push(Issue::DestinationInVpc {
                subnet,
                destination: w.dest,
            });
        }
        RouteTarget::InternetGateway(igw) => {
            if w.family == Family::Ipv4 {
                w.hop(
                    Direction::Forward,
                    "eni",
                    &subnet,
                    Some(&subnet),
                    HopVerdict::Block,
                    "Lambda ENIs have no public IPv4 address: the internet gateway drops the traffic"
                        .into(),
                    &["R9"],
                );
                w.issues.push(Issue::RoutesToIgw {
                    subnet: subnet.clone(),
                    route: route.clone(),
                    shared_with_nat_subnet: nat::table_serves_nat_subnet(w.ix, rtb),
                    nat: nat::choose(w.ix, w.src.subnet, None),
                    vpc: w.vpc_id().to_string(),
                });
            }
            igw_hop(w, igw, Via::InternetGateway, Some(&subnet));
        }
        RouteTarget::EgressOnlyInternetGateway(eigw) => {
            let attached = w.ix.eigw(eigw).map(|g| g.is_attached_to(w.vpc_id()));
            match attached {
                Some(true) => w.hop(
                    Direction::Forward,
                    "egress_only_internet_gateway",
                    eigw,
                    None,
                    HopVerdict::Pass,
                    format!("{eigw} attached to {}", w.vpc_id()),
                    &["R31"],
                ),
                Some(false) | None if w.ix.gap("DescribeEgressOnlyInternetGateways").is_none() => {
                    w.hop(
                        Direction::Forward,
                        "egress_only_internet_gateway",
                        eigw,
                        None,
                        HopVerdict::Block,
                        format!("{eigw} is not attached to {}", w.vpc_id()),
                        &["R31", "R16"],
                    );
                    w.issues.push(Issue::IgwNotAttached {
                        subnet: subnet.clone(),
                        igw: eigw.clone(),
                        vpc: w.vpc_id().to_string(),
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
            w.bpa_hop(Via::EgressOnly, eigw, Some(&subnet));
        }
        RouteTarget::NatGateway(nat_id) => nat::walk(w, rtb, &chosen, nat_id),
        RouteTarget::VpcEndpoint(id)
            if w.ix
                .endpoint(id)
                .is_some_and(|e| e.endpoint_type.eq_ignore_ascii_case("gateway")) =>
        {
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
        }
        other => {
            let kind = routes::target_kind(other);
            let check = not_verifiable_check(other, w.dest);
            w.hop(
                Direction::Forward,
                "next_hop",
                other.id(),
                None,
                HopVerdict::Unknown,
                format!("{kind} {}: not verifiable from here (R15)", other.id()),
                &["R15"],
            );
            w.issues.push(Issue::NextHopNotVerifiable {
                subnet,
                route,
                kind,
                destination: w.dest,
                check,
            });
        }
    }
}

/// An internet gateway hop: attached (R16), RFC 1918 destination (R16), BPA (R17).
pub(crate) fn igw_hop(w: &mut Walk<'_, '_>, igw: &str, via: Via, gateway_subnet: Option<&str>) {
    let subnet = w.subnet_id();
    let vpc = w.vpc_id().to_string();
    match w.ix.igw(igw) {
        Some(g) if g.is_attached_to(&vpc) => w.hop(
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
                vpc: vpc.clone(),
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
    w.bpa_hop(via, igw, gateway_subnet);
}

/// What to check beyond a next hop the snapshot cannot follow (R15).
pub(crate) fn not_verifiable_check(t: &RouteTarget, dest: IpAddr) -> String {
    match t {
        RouteTarget::TransitGateway(id) => format!(
            "the transit gateway route table of the attachment (aws ec2 search-transit-gateway-routes --transit-gateway-route-table-id <tgw-rtb-id> --filters Name=route-search.longest-prefix-match,Values={}), and the egress VPC's NAT gateway, routes and NACLs behind {id}",
            IpNet::from(dest)
        ),
        RouteTarget::VpcPeeringConnection(id) => format!(
            "the peer VPC's route back and its security groups/NACLs; a NAT gateway cannot be used through {id} (peering)"
        ),
        RouteTarget::NetworkInterface(id) | RouteTarget::Instance(id) => format!(
            "the appliance or NAT instance {id}: source/destination check disabled, its own routes, security group and OS forwarding"
        ),
        RouteTarget::VpcEndpoint(id) => format!(
            "{id} (Gateway Load Balancer / firewall endpoint): the firewall's rules and the route back from the firewall subnet"
        ),
        RouteTarget::VirtualPrivateGateway(id) => format!(
            "the on-premises network behind {id} (VPN / Direct Connect) and its internet egress"
        ),
        other => format!("the network behind {}", other.id()),
    }
}
