//! The state of one path walk: the source (subnet and ENI), the flow, the hops recorded so
//! far and the issues raised. Steps (`step/*`) read and extend it; the dispatcher
//! (`walk.rs`) owns the order. This module imports no step.

use super::Flow;
use super::catalog::{Issue, RouteRef};
use super::index::{Index, NaclKey, SortedAcl};
use super::nacl::{self, NaclResult, Peer};
use super::routes;
use crate::model::{
    Direction, Family, FunctionConfig, Hop, HopVerdict, PathVerdict, PortRange, RouteTable, Subnet,
};
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
    /// One address standing for the function (its first ENI address, else its subnet's
    /// network address), for route look-ups on the way back (R41).
    pub fn address(&self, family: Family) -> Option<IpAddr> {
        self.peers(family).first().map(|p| match p {
            Peer::Addr(a) => *a,
            Peer::Net(n) => n.network(),
        })
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
    /// Firewall endpoints the request crossed (R48: the reply must cross the same).
    pub firewall_endpoints: Vec<String>,
    /// Firewall endpoints the reply crossed.
    pub return_endpoints: Vec<String>,
    /// The transit gateway the request crossed.
    pub tgw: Option<String>,
    /// The workload VPC's attachment the request entered the transit gateway by (R41).
    pub tgw_ingress: Option<String>,
    /// Transit gateway route tables already looked up (a routing loop guard).
    pub tgw_tables_seen: Vec<String>,
    blocked: bool,
    partial: bool,
    unverifiable: bool,
}

impl<'a, 'b> Walk<'a, 'b> {
    pub fn new(ix: &'b Index<'a>, src: &'b Source<'a>, flow: &'b Flow) -> Self {
        Walk {
            ix,
            src,
            flow,
            dest: flow.destination,
            family: Family::of(&flow.destination),
            hops: Vec::new(),
            issues: Vec::new(),
            firewall_endpoints: Vec::new(),
            return_endpoints: Vec::new(),
            tgw: None,
            tgw_ingress: None,
            tgw_tables_seen: Vec::new(),
            blocked: false,
            partial: false,
            unverifiable: false,
        }
    }

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

    /// R45: records a hop and an issue for a resource the snapshot could not read; the
    /// account comes from the failed call's gap when there is one.
    pub fn not_visible(
        &mut self,
        component: &str,
        resource: &str,
        what: &str,
        account: Option<String>,
        call: &str,
    ) {
        let gap = self.ix.gap(call);
        let account = gap.and_then(|g| g.account.clone()).or(account);
        let reason = gap.map(|g| g.reason.clone());
        self.hop(
            Direction::Forward,
            component,
            resource,
            None,
            HopVerdict::Unknown,
            format!(
                "{what} {resource}{} not readable: not verifiable (R45)",
                account
                    .as_deref()
                    .map(|a| format!(" (account {a})"))
                    .unwrap_or_default()
            ),
            &["R45"],
        );
        self.issues.push(Issue::TgwNotVisible {
            subnet: self.subnet_id(),
            resource: resource.to_string(),
            what: what.to_string(),
            account,
            reason,
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

    /// The AZ ID of a subnet (R37, R45: names differ between accounts), else its name.
    pub fn az_id(&self, subnet: &Subnet) -> String {
        subnet
            .availability_zone_id
            .clone()
            .or_else(|| {
                self.ix
                    .snap
                    .availability_zones
                    .iter()
                    .find(|z| z.name == subnet.availability_zone)
                    .map(|z| z.zone_id.clone())
            })
            .unwrap_or_else(|| subnet.availability_zone.clone())
    }

    /// The workload VPC's first CIDR of the flow's family (for return-route fixes).
    pub fn workload_cidr(&self) -> String {
        let vpc = self.ix.vpc(self.vpc_id());
        match self.family {
            Family::Ipv4 => vpc
                .and_then(|v| v.cidr_blocks.first())
                .map(|c| c.to_string()),
            Family::Ipv6 => vpc
                .and_then(|v| v.ipv6_cidr_blocks.first())
                .map(|c| c.to_string()),
        }
        .unwrap_or_else(|| self.src.cidr(self.family))
    }

    pub fn route_ref(&self, rtb: &RouteTable, c: &routes::Chosen<'_>) -> RouteRef {
        RouteRef {
            rtb: rtb.id.clone(),
            destination: c.route.destination.clone(),
            target: c.route.target.id().to_string(),
            text: routes::describe(rtb, c.route),
        }
    }

    pub fn verdict(&self) -> PathVerdict {
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

/// What the walk meets next: one variant per hop kind, with what that step needs to know.
/// Steps return these; the dispatcher (`walk.rs`) runs them in order.
#[derive(Debug, Clone)]
pub(crate) enum Next<'a> {
    /// The function's ENI: Amazon-provided services, endpoint private DNS, IPv6 (R19, R29, R31).
    Start,
    /// R18: the ENI's security groups, egress; `remote_groups` for a known peer ENI.
    SecurityGroupEgress { remote_groups: Option<Vec<String>> },
    /// R20: the function subnet's NACL, outbound to the destination.
    FunctionNaclOut,
    /// R6/R18/R20/R21 on the destination side of an in-VPC destination: its subnet's NACL
    /// inbound and outbound (return), and its ENI's security group ingress (issue 11).
    DestinationInVpc,
    /// R21: the function subnet's NACL, inbound replies from `from`.
    FunctionNaclIn { from: IpAddr },
    /// R5-R9, R15: the function subnet's route for the destination.
    FunctionRoute,
    /// R10-R14, R22: a NAT gateway reached by `route` from `from` (a subnet of its VPC).
    NatGateway {
        nat: String,
        route: RouteRef,
        from: &'a Subnet,
    },
    /// R22.3/R22.4: the reply legs through a NAT gateway's subnet.
    NatReturn { nat: String, nat_subnet: String },
    /// R16: an internet gateway, for traffic of `vpc`.
    InternetGateway {
        igw: String,
        vpc: String,
        via: super::bpa::Via,
        gateway_subnet: Option<String>,
    },
    /// R31/R16: an egress-only internet gateway.
    EgressOnlyIgw { eigw: String, from: &'a Subnet },
    /// R17: Block Public Access for traffic that meets `gateway`.
    BlockPublicAccess {
        via: super::bpa::Via,
        gateway: String,
        gateway_subnet: Option<String>,
        vpc: String,
    },
    /// R30: a gateway endpoint (prefix-list route).
    GatewayEndpoint { endpoint: String },
    /// R29: an interface endpoint that took the host name.
    InterfaceEndpoint {
        endpoint: &'a crate::model::VpcEndpoint,
    },
    /// R29: the endpoint's ENI: security group ingress and its subnet's NACLs.
    EndpointEni {
        endpoint: &'a crate::model::VpcEndpoint,
        endpoint_subnet: Option<String>,
    },
    /// R15: a next hop the snapshot cannot follow.
    NotVerifiable {
        route: RouteRef,
        target: crate::model::RouteTarget,
    },
    /// R37, R38: the VPC's attachment to the transit gateway a route of `from` names.
    TransitGateway {
        tgw: String,
        route: RouteRef,
        from: &'a Subnet,
    },
    /// R43: one direction through the NACL of a transit gateway attachment subnet.
    AttachmentNacl {
        attachment: String,
        subnet: String,
        /// The NACL's outbound rules (else inbound).
        egress: bool,
        /// The peer is the function (else the destination).
        peer_is_function: bool,
        direction: Direction,
    },
    /// R39, R40: the route for the destination in a transit gateway route table.
    TgwRouteTable {
        table: String,
        tgw: String,
        from: &'a Subnet,
    },
    /// R37, R42-R44: arriving in another VPC (the egress VPC) through its attachment.
    TgwArrive {
        attachment: &'a crate::model::TransitGatewayAttachment,
        from: &'a Subnet,
    },
    /// R41, R42, R47: the route onward from a subnet behind the transit gateway, a
    /// firewall endpoint or an appliance.
    SubnetRoute { subnet: &'a Subnet, role: Role },
    /// R41, R48: the reply's route from `subnet` back toward the function.
    ReturnRoute { subnet: &'a Subnet },
    /// R41: the table associated with `vpc`'s attachment, for the function's address.
    TgwReturn { tgw: String, from: &'a Subnet },
    /// R47-R53: a Network Firewall endpoint and the policy's verdict.
    FirewallEndpoint {
        endpoint: String,
        route: RouteRef,
        from: &'a Subnet,
    },
    /// R57: a Gateway Load Balancer endpoint.
    GwlbEndpoint {
        endpoint: &'a crate::model::VpcEndpoint,
        route: RouteRef,
        from: &'a Subnet,
    },
    /// R56: a VPC peering connection.
    Peering {
        pcx: String,
        route: RouteRef,
        from: &'a Subnet,
    },
}

/// Why the walk stands in a subnet outside the function's own route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    /// The subnet of the egress VPC's transit gateway attachment (R42).
    Attachment(String),
    /// The subnet a firewall endpoint sits in (R47).
    Firewall,
    /// The subnet of a Gateway Load Balancer endpoint (R57).
    Appliance,
}
