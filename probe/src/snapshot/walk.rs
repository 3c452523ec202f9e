//! The walk from the workload VPC outwards: its transit gateway attachments, the route
//! tables they are associated with, the VPC the internet-bound routes lead to (the egress
//! VPC, read with the same VPC reader), that VPC's attachment and the table associated with
//! it (the return path, R41), VPC peering connections the route tables name (R56), and the
//! Network Firewall in either VPC (R47-R53).
//!
//! It runs in rounds. Each round plans, from what the snapshot holds so far, every call
//! whose inputs are known and that was not made yet, makes them all concurrently, and
//! stores the answers; the walk ends when a round plans nothing. So a call waits only for
//! the calls it needs, and the number of rounds is the length of the longest chain:
//! workload VPC → its TGW attachment → TGW route table → egress VPC and attachment →
//! return route table / firewall → policy → rule groups.
//!
//! Calls for resources in another account go through the network role's clients
//! (`NetworkAccess`); without a usable role they are not made and become gaps naming the
//! owner account (R45). Answers about shared resources (everything but the workload VPC's
//! own calls) are kept in a `RunCache`, so one run over many workload VPCs reads the egress
//! VPC, the transit gateway and the firewall once.

use super::call::*;
use super::convert::Notes;
use super::read::{self, EniScope, Reader, StageTwo, StageTwoRaw, VpcRaw, VpcRequest, filter};
use super::{Clients, firewall, transit};
use crate::model::{GapKind, NetworkSnapshot, RouteTarget, SnapshotGap};
use aws_sdk_ec2::operation::search_transit_gateway_routes::SearchTransitGatewayRoutesOutput;
use aws_sdk_ec2::types as ec2;
use aws_sdk_networkfirewall::operation::describe_firewall::DescribeFirewallOutput;
use aws_sdk_networkfirewall::operation::describe_firewall_policy::DescribeFirewallPolicyOutput;
use aws_sdk_networkfirewall::operation::describe_rule_group::DescribeRuleGroupOutput;
use aws_sdk_networkfirewall::types::FirewallMetadata;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

/// Most pages of one route table read (1000 routes a page): beyond, `routes_complete` is
/// false and the engine does not conclude "no route" from it.
const MAX_ROUTE_PAGES: u32 = 5;

/// Which clients a call is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Acct {
    /// The subject's (workload) account: the caller's own credentials.
    Own,
    /// The network account, through the assumed role.
    Network,
}

/// A VPC the subject stands in.
pub struct Workload {
    pub vpc_id: String,
    /// The VPC when the identifying call already read it.
    pub known: Option<ec2::Vpc>,
    pub enis: EniScope,
}

/// Answers kept for one run (see the module text). `snapshot::take` uses a fresh one;
/// callers that take several snapshots in one run pass the same one to
/// `snapshot::take_cached`.
#[derive(Default)]
pub struct RunCache {
    done: Mutex<HashMap<String, Done>>,
}

impl std::fmt::Debug for RunCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.done.lock().map(|d| d.len()).unwrap_or(0);
        write!(f, "RunCache({n} answers)")
    }
}

impl RunCache {
    fn get(&self, key: &str) -> Option<Done> {
        self.done.lock().ok()?.get(key).cloned()
    }
    fn put(&self, key: String, done: &Done) {
        if let Ok(mut map) = self.done.lock() {
            map.insert(key, done.clone());
        }
    }
}

/// One planned piece of work (one or a few calls).
enum Work<'c> {
    Assume,
    Vpc(Box<VpcRequest<'c>>, Acct),
    StageTwo(StageTwo<'c>, Acct),
    /// The workload VPC's attachments: DescribeTransitGatewayAttachments and
    /// DescribeTransitGatewayVpcAttachments, both filtered by the VPC (R37, R38).
    AttachmentsOfVpc(String),
    /// Attachments by ID (the ones a route leads to), both calls.
    AttachmentsById(Vec<String>, Acct),
    Tgws(Vec<String>),
    Routes {
        table: String,
        tgw: String,
        acct: Acct,
    },
    /// R39: a workload's transit gateway table has no route out: the gateway's VPC
    /// attachments and the internet gateways of their VPCs (the likely egress VPC, which the
    /// fix names), two calls.
    EgressCandidates {
        tgw: String,
        acct: Acct,
    },
    Peering(Vec<String>, Acct),
    ListFirewalls(String, Acct),
    Firewall(String, Acct),
    Policy(String, Acct),
    RuleGroup(String, Acct),
    /// R58-R62: the workload VPC's DNS path (`snapshot::dns`, its own three rounds).
    Dns(String),
}

impl Work<'_> {
    /// The cache key of work that does not depend on the subject; `None` otherwise.
    fn cache_key(&self) -> Option<String> {
        let a = |acct: &Acct| format!("{acct:?}");
        match self {
            Work::Assume => Some("assume".into()),
            Work::Vpc(req, acct) if req.enis.is_none() && !req.need_bpa => {
                Some(format!("vpc:{}:{}", req.vpc_id, a(acct)))
            }
            Work::Vpc(..)
            | Work::StageTwo(..)
            | Work::AttachmentsOfVpc(_)
            | Work::EgressCandidates { .. }
            | Work::Dns(_) => None,
            Work::AttachmentsById(ids, acct) => Some(format!("att:{}:{}", ids.join(","), a(acct))),
            Work::Tgws(ids) => Some(format!("tgw:{}", ids.join(","))),
            Work::Routes { table, acct, .. } => Some(format!("rtb:{table}:{}", a(acct))),
            Work::Peering(ids, acct) => Some(format!("pcx:{}:{}", ids.join(","), a(acct))),
            Work::ListFirewalls(vpc, acct) => Some(format!("fwlist:{vpc}:{}", a(acct))),
            Work::Firewall(arn, acct) => Some(format!("fw:{arn}:{}", a(acct))),
            Work::Policy(arn, acct) => Some(format!("policy:{arn}:{}", a(acct))),
            Work::RuleGroup(arn, acct) => Some(format!("group:{arn}:{}", a(acct))),
        }
    }
}

type Answer<T> = Result<T, SnapshotGap>;

/// The answers of one piece of work.
#[derive(Clone)]
pub(super) enum Done {
    Assume(Result<(), SnapshotGap>),
    Vpc(Box<VpcRaw>, Acct, bool),
    StageTwo(Box<StageTwoRaw>, Acct),
    Attachments {
        generic: Answer<Vec<ec2::TransitGatewayAttachment>>,
        vpc: Answer<Vec<ec2::TransitGatewayVpcAttachment>>,
        /// Keep only these (the API's filters are not trusted to be applied).
        vpc_id: Option<String>,
        ids: Vec<String>,
        acct: Acct,
    },
    Tgws(Answer<Vec<ec2::TransitGateway>>),
    EgressCandidates {
        tgw: String,
        acct: Acct,
        attachments: Answer<Vec<ec2::TransitGatewayAttachment>>,
        igws: Answer<Vec<ec2::InternetGateway>>,
    },
    Routes {
        table: String,
        tgw: String,
        acct: Acct,
        answer: Answer<(Vec<ec2::TransitGatewayRoute>, bool)>,
    },
    Peering(Answer<Vec<ec2::VpcPeeringConnection>>, Acct),
    Firewalls(Answer<Vec<FirewallMetadata>>, Acct),
    Firewall(String, Answer<DescribeFirewallOutput>, Acct),
    Policy(String, Answer<DescribeFirewallPolicyOutput>, Acct),
    RuleGroup(String, Answer<DescribeRuleGroupOutput>, Acct),
    Dns(Box<super::dns::DnsRead>),
}

/// What the walk knows besides the snapshot.
struct Walk<'a> {
    r: &'a Reader<'a>,
    clients: &'a Clients,
    cache: &'a RunCache,
    workloads: Vec<Workload>,
    workload_ids: Vec<String>,
    /// Every VPC planned for stage 1, with the account it is read in.
    vpc_acct: HashMap<String, Acct>,
    stage1_done: Vec<String>,
    stage2_planned: HashSet<String>,
    table_acct: HashMap<String, Acct>,
    firewall_acct: HashMap<String, Acct>,
    policy_acct: HashMap<String, Acct>,
    listed: Vec<(String, Acct)>,
    asked: HashSet<String>,
    prefix_lists_asked: Vec<String>,
    own_account: Option<String>,
    /// `Some(false)` once assuming the network role failed.
    network_usable: Option<bool>,
    /// Egress VPC candidates found by `EgressCandidates`, to read in the next round.
    egress_pending: Vec<(String, Acct)>,
    rounds: u32,
    /// Sequential rounds the DNS reads used (they run beside the walk's own rounds).
    dns_rounds: u32,
}

/// Whether a call in an account can be made, and with which clients.
enum Access {
    Call(Acct),
    NotVisible { account: String, why: String },
}

/// Reads the workload VPCs and everything behind them into `snap`. Returns the number of
/// sequential rounds.
pub async fn run(
    r: &Reader<'_>,
    clients: &Clients,
    cache: &RunCache,
    workloads: Vec<Workload>,
    snap: &mut NetworkSnapshot,
) -> u32 {
    let mut walk = Walk {
        r,
        clients,
        cache,
        workload_ids: workloads.iter().map(|w| w.vpc_id.clone()).collect(),
        workloads,
        vpc_acct: HashMap::new(),
        stage1_done: Vec::new(),
        stage2_planned: HashSet::new(),
        table_acct: HashMap::new(),
        firewall_acct: HashMap::new(),
        policy_acct: HashMap::new(),
        listed: Vec::new(),
        asked: HashSet::new(),
        prefix_lists_asked: Vec::new(),
        own_account: None,
        network_usable: None,
        egress_pending: Vec::new(),
        rounds: 0,
        dns_rounds: 0,
    };
    loop {
        let works = walk.plan(snap);
        if works.is_empty() {
            break;
        }
        walk.rounds += 1;
        let answers = futures_util::future::join_all(works.into_iter().map(|w| walk.exec(w))).await;
        for done in answers {
            walk.merge(done, snap);
        }
    }
    walk.rounds.max(walk.dns_rounds)
}

impl<'a> Walk<'a> {
    fn ec2(&self, acct: Acct) -> &'a aws_sdk_ec2::Client {
        match (acct, &self.clients.network) {
            (Acct::Network, Some(n)) => &n.ec2,
            _ => &self.clients.ec2,
        }
    }

    fn nfw(&self, acct: Acct) -> &'a aws_sdk_networkfirewall::Client {
        match (acct, &self.clients.network) {
            (Acct::Network, Some(n)) => &n.networkfirewall,
            _ => &self.clients.networkfirewall,
        }
    }

    fn network_account(&self) -> Option<&str> {
        self.clients.network.as_ref().map(|n| n.account.as_str())
    }

    /// R45: which clients can read a resource owned by `owner`.
    fn access(&self, owner: Option<&str>) -> Access {
        let Some(owner) = owner else {
            return Access::Call(Acct::Own);
        };
        if self.own_account.as_deref().is_none_or(|own| own == owner) {
            return Access::Call(Acct::Own);
        }
        match &self.clients.network {
            Some(n) if n.account == owner => {
                if self.network_usable == Some(false) {
                    Access::NotVisible {
                        account: owner.to_string(),
                        why: format!(
                            "assuming the network role {} failed (see the {ASSUME_ROLE} gap)",
                            n.role_arn
                        ),
                    }
                } else {
                    Access::Call(Acct::Network)
                }
            }
            Some(n) => Access::NotVisible {
                account: owner.to_string(),
                why: format!(
                    "the network role {} is in account {}, not in {owner}",
                    n.role_arn, n.account
                ),
            },
            None => Access::NotVisible {
                account: owner.to_string(),
                why: format!(
                    "this account cannot read it; give a read-only role in {owner} with --network-role or {}",
                    crate::config::env::NETWORK_ROLE
                ),
            },
        }
    }

    fn not_visible(call: &str, what: &str, account: String, why: String) -> SnapshotGap {
        SnapshotGap {
            call: call.to_string(),
            kind: GapKind::Denied,
            reason: format!("not called: {what} is owned by account {account}; {why} (R45)"),
            account: Some(account),
        }
    }

    /// True the first time `key` is asked for.
    fn first(&mut self, key: String) -> bool {
        self.asked.insert(key)
    }

    fn plan(&mut self, snap: &mut NetworkSnapshot) -> Vec<Work<'a>> {
        let mut works: Vec<Work<'a>> = Vec::new();

        // The network role is assumed alongside the first round, when one is given.
        if self.clients.network.is_some() && self.first("assume".into()) {
            works.push(Work::Assume);
        }

        // The workload VPCs: stage 1 and their attachments; R58-R62: their DNS path.
        for w in std::mem::take(&mut self.workloads) {
            if self.clients.dns.is_some() && self.first(format!("dns:{}", w.vpc_id)) {
                works.push(Work::Dns(w.vpc_id.clone()));
            }
            let need_bpa = snap.block_public_access.is_none()
                && snap.gap(DESCRIBE_BPA_OPTIONS).is_none()
                && self.first("bpa".into());
            self.vpc_acct.insert(w.vpc_id.clone(), Acct::Own);
            works.push(Work::Vpc(
                Box::new(VpcRequest {
                    ec2: &self.clients.ec2,
                    vpc_id: w.vpc_id,
                    known: w.known,
                    enis: Some(w.enis),
                    need_bpa,
                }),
                Acct::Own,
            ));
        }

        // R37, R38: a workload VPC's transit gateway attachments, once its route tables
        // name a transit gateway, or send internet-bound traffic to a peering connection
        // (R56: the attachment is the fix's way out); a VPC without such a route costs no
        // call.
        for vpc in self.workload_ids.clone() {
            let names_tgw = self.stage1_done.contains(&vpc)
                && snap
                    .route_tables
                    .iter()
                    .filter(|t| t.vpc_id == vpc)
                    .flat_map(|t| &t.routes)
                    .any(|r| match &r.target {
                        RouteTarget::TransitGateway(_) => true,
                        RouteTarget::VpcPeeringConnection(_) => {
                            transit::may_carry_internet_traffic(&r.destination)
                        }
                        _ => false,
                    });
            if names_tgw && self.first(format!("attachments-of:{vpc}")) {
                works.push(Work::AttachmentsOfVpc(vpc));
            }
        }

        // Stage 2 of every VPC whose stage 1 is in.
        for vpc_id in self.stage1_done.clone() {
            if !self.stage2_planned.insert(vpc_id.clone()) {
                continue;
            }
            let acct = self.vpc_acct.get(&vpc_id).copied().unwrap_or(Acct::Own);
            let workload = self.workload_ids.contains(&vpc_id);
            let plan = read::plan_stage_two(
                self.ec2(acct),
                &vpc_id,
                workload,
                &self.prefix_lists_asked,
                snap,
            );
            if !plan.is_empty() {
                self.prefix_lists_asked
                    .extend(plan.prefix_lists().iter().cloned());
                works.push(Work::StageTwo(plan, acct));
            }
        }

        // R59: the VPC of an outbound endpoint a forward rule uses, read like the egress
        // VPC (its subnets, route tables, NACLs and security groups carry the path).
        let endpoint_vpcs: Vec<String> = snap
            .dns
            .endpoints
            .iter()
            .map(|e| e.host_vpc_id.clone())
            .filter(|v| !v.is_empty() && !self.vpc_acct.contains_key(v))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for vpc in endpoint_vpcs {
            self.vpc_acct.insert(vpc.clone(), Acct::Own);
            works.push(Work::Vpc(
                Box::new(VpcRequest {
                    ec2: &self.clients.ec2,
                    vpc_id: vpc,
                    known: None,
                    enis: None,
                    need_bpa: false,
                }),
                Acct::Own,
            ));
        }

        // Transit gateways the routes and attachments name.
        let mut tgws: BTreeSet<String> = snap
            .route_tables
            .iter()
            .flat_map(|t| &t.routes)
            .filter_map(|r| match &r.target {
                RouteTarget::TransitGateway(id) => Some(id.clone()),
                _ => None,
            })
            .chain(
                snap.transit_gateway_attachments
                    .iter()
                    .map(|a| a.transit_gateway_id.clone()),
            )
            .filter(|id| !id.is_empty())
            .collect();
        tgws.retain(|id| !snap.transit_gateways.iter().any(|t| &t.id == id));
        let tgws: Vec<String> = tgws
            .into_iter()
            .filter(|id| self.first(format!("tgw:{id}")))
            .collect();
        if !tgws.is_empty() {
            works.push(Work::Tgws(tgws));
        }

        // R38, R39, R41: the table each attachment on the path is associated with.
        let tables: Vec<(String, String, Option<String>)> = snap
            .transit_gateway_attachments
            .iter()
            .filter_map(|a| {
                let table = a.associated_route_table()?;
                let owner = a.transit_gateway_owner_id.clone().or_else(|| {
                    snap.transit_gateways
                        .iter()
                        .find(|t| t.id == a.transit_gateway_id)
                        .and_then(|t| t.owner_id.clone())
                });
                Some((table.to_string(), a.transit_gateway_id.clone(), owner))
            })
            .collect();
        for (table, tgw, owner) in tables {
            if !self.first(format!("rtb:{table}")) {
                continue;
            }
            match self.access(owner.as_deref()) {
                Access::Call(acct) => works.push(Work::Routes { table, tgw, acct }),
                Access::NotVisible { account, why } => snap.gaps.push(Self::not_visible(
                    SEARCH_TRANSIT_GATEWAY_ROUTES,
                    &format!("transit gateway route table {table} of {tgw}"),
                    account,
                    why,
                )),
            }
        }

        // R39: a table a workload attachment is associated with that has no route out
        // (none, or only blackholes): which VPC attachment of the gateway leads out is not
        // named by any route, so the gateway's VPC attachments whose VPC has an internet
        // gateway are read (two calls, once per gateway), for the fix to name one.
        let mut candidates: Vec<(String, Acct)> = Vec::new();
        for t in &snap.transit_gateway_route_tables {
            let serves_workload = snap.transit_gateway_attachments.iter().any(|a| {
                a.associated_route_table() == Some(t.id.as_str())
                    && a.resource_id
                        .as_deref()
                        .is_some_and(|v| self.workload_ids.iter().any(|w| w == v))
            });
            let way_out = t
                .routes
                .iter()
                .any(|r| !r.is_blackhole() && transit::may_carry_internet_traffic(&r.destination));
            if serves_workload
                && !way_out
                && t.routes_complete
                && self.first(format!("egress-candidates:{}", t.transit_gateway_id))
            {
                let acct = self.table_acct.get(&t.id).copied().unwrap_or(Acct::Own);
                candidates.push((t.transit_gateway_id.clone(), acct));
            }
        }
        for (tgw, acct) in candidates {
            works.push(Work::EgressCandidates { tgw, acct });
        }

        // The attachments and VPCs that internet-bound routes lead to (the egress VPC).
        let mut by_id: HashMap<Acct, Vec<String>> = HashMap::new();
        let mut egress: Vec<(String, Acct)> = Vec::new();
        for t in &snap.transit_gateway_route_tables {
            let acct = self.table_acct.get(&t.id).copied().unwrap_or(Acct::Own);
            for route in t.routes.iter().filter(|r| {
                !r.is_blackhole() && transit::may_carry_internet_traffic(&r.destination)
            }) {
                for a in &route.attachments {
                    if snap.transit_gateway_attachment(&a.attachment_id).is_none()
                        && self.asked.insert(format!("att:{}", a.attachment_id))
                    {
                        by_id.entry(acct).or_default().push(a.attachment_id.clone());
                    }
                    if a.resource_type.as_deref() == Some("vpc")
                        && let Some(vpc) = &a.resource_id
                        && !self.vpc_acct.contains_key(vpc)
                    {
                        egress.push((vpc.clone(), acct));
                    }
                }
            }
        }
        for (acct, mut ids) in by_id {
            ids.sort();
            works.push(Work::AttachmentsById(ids, acct));
        }
        egress.extend(std::mem::take(&mut self.egress_pending));
        for (vpc, acct) in egress {
            if self.vpc_acct.contains_key(&vpc) {
                continue;
            }
            self.vpc_acct.insert(vpc.clone(), acct);
            works.push(Work::Vpc(
                Box::new(VpcRequest {
                    ec2: self.ec2(acct),
                    vpc_id: vpc.clone(),
                    known: None,
                    enis: None,
                    need_bpa: false,
                }),
                acct,
            ));
            // R47: a firewall in the egress VPC (asked for at once: one call, one round less).
            if self.first(format!("fwlist:{vpc}")) {
                works.push(Work::ListFirewalls(vpc, acct));
            }
        }

        // R56: peering connections the route tables of the VPCs read so far name.
        let mut peering: HashMap<Acct, Vec<String>> = HashMap::new();
        for t in &snap.route_tables {
            let acct = self.vpc_acct.get(&t.vpc_id).copied().unwrap_or(Acct::Own);
            for r in &t.routes {
                if let RouteTarget::VpcPeeringConnection(id) = &r.target
                    && snap.vpc_peering_connection(id).is_none()
                    && self.asked.insert(format!("pcx:{id}"))
                {
                    peering.entry(acct).or_default().push(id.clone());
                }
            }
        }
        for (acct, mut ids) in peering {
            ids.sort();
            works.push(Work::Peering(ids, acct));
        }

        // R47, R57: a firewall in a workload VPC, when a CIDR route names an endpoint that
        // is not a known interface or gateway endpoint (a gateway endpoint's routes have a
        // prefix-list destination).
        for vpc in self.workload_ids.clone() {
            if !self.stage1_done.contains(&vpc) || self.asked.contains(&format!("fwlist:{vpc}")) {
                continue;
            }
            let names_appliance = snap
                .route_tables
                .iter()
                .filter(|t| t.vpc_id == vpc)
                .flat_map(|t| &t.routes)
                .filter(|r| !matches!(r.destination, crate::model::RouteDestination::PrefixList(_)))
                .any(|r| match &r.target {
                    RouteTarget::VpcEndpoint(id) => snap
                        .vpc_endpoints
                        .iter()
                        .find(|e| &e.id == id)
                        .is_none_or(|e| e.endpoint_type == "GatewayLoadBalancer"),
                    _ => false,
                });
            if names_appliance {
                self.asked.insert(format!("fwlist:{vpc}"));
                works.push(Work::ListFirewalls(vpc, Acct::Own));
            }
        }

        // Firewall → policy → rule groups.
        for (arn, acct) in self.listed.clone() {
            if self.first(format!("fw:{arn}")) {
                works.push(Work::Firewall(arn, acct));
            }
        }
        let policies: Vec<(String, Acct)> = snap
            .network_firewalls
            .iter()
            .filter(|f| !f.policy_arn.is_empty() && snap.firewall_policy(&f.policy_arn).is_none())
            .map(|f| {
                let acct = self.firewall_acct.get(&f.arn).copied().unwrap_or(Acct::Own);
                (f.policy_arn.clone(), acct)
            })
            .collect();
        for (arn, acct) in policies {
            if self.first(format!("policy:{arn}")) {
                self.policy_acct.insert(arn.clone(), acct);
                works.push(Work::Policy(arn, acct));
            }
        }
        let groups: Vec<(String, Acct)> = snap
            .firewall_policies
            .iter()
            .flat_map(|p| {
                let acct = self.policy_acct.get(&p.arn).copied().unwrap_or(Acct::Own);
                p.stateless_rule_groups
                    .iter()
                    .chain(&p.stateful_rule_groups)
                    .map(move |g| (g.arn.clone(), acct))
            })
            .filter(|(arn, _)| snap.firewall_rule_group(arn).is_none())
            .collect();
        for (arn, acct) in groups {
            if self.first(format!("group:{arn}")) {
                works.push(Work::RuleGroup(arn, acct));
            }
        }
        works
    }

    /// Runs one piece of work, or takes its answer from the run's cache.
    async fn exec(&self, work: Work<'a>) -> Done {
        let key = work.cache_key();
        if let Some(done) = key.as_ref().and_then(|k| self.cache.get(k)) {
            return done;
        }
        let done = self.call(work).await;
        if let Some(k) = key {
            self.cache.put(k, &done);
        }
        done
    }

    async fn call(&self, work: Work<'a>) -> Done {
        let r = self.r;
        match work {
            Work::Assume => {
                let Some(n) = &self.clients.network else {
                    return Done::Assume(Ok(()));
                };
                match n.assume().await {
                    Ok(called) => {
                        if called {
                            r.count();
                        }
                        Done::Assume(Ok(()))
                    }
                    Err((gap, called)) => {
                        if called {
                            r.count();
                        }
                        Done::Assume(Err(gap))
                    }
                }
            }
            Work::Dns(vpc) => {
                let region = self.clients.ec2.config().region().map(|r| r.to_string());
                match &self.clients.dns {
                    // Boxed: the DNS reads' state machine is large and would make every
                    // piece of work's future as large (a stack overflow in debug builds).
                    Some(c) => Done::Dns(Box::new(
                        Box::pin(super::dns::read(r, c, &vpc, region.as_deref())).await,
                    )),
                    None => Done::Dns(Box::new(super::dns::DnsRead {
                        config: Default::default(),
                        gaps: vec![],
                        notes: vec![],
                        rounds: 0,
                    })),
                }
            }
            Work::Vpc(req, acct) => {
                let workload = req.enis.is_some();
                Done::Vpc(Box::new(read::fetch_vpc(r, *req).await), acct, workload)
            }
            Work::StageTwo(plan, acct) => {
                Done::StageTwo(Box::new(read::fetch_stage_two(r, plan).await), acct)
            }
            Work::AttachmentsOfVpc(vpc) => {
                let client = &self.clients.ec2;
                let (generic, vpc_attachments) = tokio::join!(
                    async {
                        pages!(
                            r,
                            DESCRIBE_TRANSIT_GATEWAY_ATTACHMENTS,
                            client
                                .describe_transit_gateway_attachments()
                                .filters(filter("resource-id", [vpc.as_str()]))
                                .filters(filter("resource-type", ["vpc"])),
                            transit_gateway_attachments
                        )
                    },
                    async {
                        pages!(
                            r,
                            DESCRIBE_TRANSIT_GATEWAY_VPC_ATTACHMENTS,
                            client
                                .describe_transit_gateway_vpc_attachments()
                                .filters(filter("vpc-id", [vpc.as_str()])),
                            transit_gateway_vpc_attachments
                        )
                    },
                );
                Done::Attachments {
                    generic,
                    vpc: vpc_attachments,
                    vpc_id: Some(vpc),
                    ids: Vec::new(),
                    acct: Acct::Own,
                }
            }
            Work::AttachmentsById(ids, acct) => {
                let client = self.ec2(acct);
                let (generic, vpc_attachments) = tokio::join!(
                    async {
                        pages!(
                            r,
                            DESCRIBE_TRANSIT_GATEWAY_ATTACHMENTS,
                            client
                                .describe_transit_gateway_attachments()
                                .set_transit_gateway_attachment_ids(Some(ids.clone())),
                            transit_gateway_attachments
                        )
                    },
                    async {
                        pages!(
                            r,
                            DESCRIBE_TRANSIT_GATEWAY_VPC_ATTACHMENTS,
                            client
                                .describe_transit_gateway_vpc_attachments()
                                .set_transit_gateway_attachment_ids(Some(ids.clone())),
                            transit_gateway_vpc_attachments
                        )
                    },
                );
                Done::Attachments {
                    generic,
                    vpc: vpc_attachments,
                    vpc_id: None,
                    ids,
                    acct,
                }
            }
            Work::EgressCandidates { tgw, acct } => {
                let client = self.ec2(acct);
                let attachments = pages!(
                    r,
                    DESCRIBE_TRANSIT_GATEWAY_ATTACHMENTS,
                    client
                        .describe_transit_gateway_attachments()
                        .filters(filter("transit-gateway-id", [tgw.as_str()]))
                        .filters(filter("resource-type", ["vpc"])),
                    transit_gateway_attachments
                );
                let vpcs: BTreeSet<String> = attachments
                    .as_ref()
                    .map(|list| {
                        list.iter()
                            .filter(|a| a.transit_gateway_id() == Some(tgw.as_str()))
                            .filter_map(|a| a.resource_id().map(str::to_string))
                            .filter(|v| !self.workload_ids.contains(v))
                            .collect()
                    })
                    .unwrap_or_default();
                let igws = if vpcs.is_empty() {
                    Ok(Vec::new())
                } else {
                    pages!(
                        r,
                        DESCRIBE_INTERNET_GATEWAYS,
                        client
                            .describe_internet_gateways()
                            .filters(filter("attachment.vpc-id", vpcs)),
                        internet_gateways
                    )
                };
                Done::EgressCandidates {
                    tgw,
                    acct,
                    attachments,
                    igws,
                }
            }
            Work::Tgws(ids) => {
                let client = &self.clients.ec2;
                Done::Tgws(pages!(
                    r,
                    DESCRIBE_TRANSIT_GATEWAYS,
                    client
                        .describe_transit_gateways()
                        .set_transit_gateway_ids(Some(ids)),
                    transit_gateways
                ))
            }
            Work::Routes { table, tgw, acct } => {
                let answer = self.search_routes(&table, acct).await;
                Done::Routes {
                    table,
                    tgw,
                    acct,
                    answer,
                }
            }
            Work::Peering(ids, acct) => {
                let client = self.ec2(acct);
                Done::Peering(
                    pages!(
                        r,
                        DESCRIBE_VPC_PEERING_CONNECTIONS,
                        client
                            .describe_vpc_peering_connections()
                            .filters(filter("vpc-peering-connection-id", ids)),
                        vpc_peering_connections
                    ),
                    acct,
                )
            }
            Work::ListFirewalls(vpc, acct) => {
                let client = self.nfw(acct);
                Done::Firewalls(
                    pages!(
                        r,
                        LIST_FIREWALLS,
                        client.list_firewalls().vpc_ids(vpc),
                        firewalls
                    ),
                    acct,
                )
            }
            Work::Firewall(arn, acct) => {
                let answer = read::once(
                    r,
                    DESCRIBE_FIREWALL,
                    self.nfw(acct).describe_firewall().firewall_arn(&arn).send(),
                )
                .await;
                Done::Firewall(arn, answer, acct)
            }
            Work::Policy(arn, acct) => {
                let answer = read::once(
                    r,
                    DESCRIBE_FIREWALL_POLICY,
                    self.nfw(acct)
                        .describe_firewall_policy()
                        .firewall_policy_arn(&arn)
                        .send(),
                )
                .await;
                Done::Policy(arn, answer, acct)
            }
            Work::RuleGroup(arn, acct) => {
                let answer = read::once(
                    r,
                    DESCRIBE_RULE_GROUP,
                    self.nfw(acct)
                        .describe_rule_group()
                        .rule_group_arn(&arn)
                        .send(),
                )
                .await;
                Done::RuleGroup(arn, answer, acct)
            }
        }
    }

    /// R39-R41: the whole table, active and blackhole routes, in pages. One listing serves
    /// every destination and the return path (the engine does the longest-prefix match),
    /// so the answer does not depend on the subject and can be kept for the run.
    /// `MaxResults` is left to the API's default (1000); `AdditionalRoutesAvailable` says
    /// whether the listing is complete.
    async fn search_routes(
        &self,
        table: &str,
        acct: Acct,
    ) -> Answer<(Vec<ec2::TransitGatewayRoute>, bool)> {
        let client = self.ec2(acct);
        let mut routes = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_ROUTE_PAGES {
            let out: SearchTransitGatewayRoutesOutput = read::once(
                self.r,
                SEARCH_TRANSIT_GATEWAY_ROUTES,
                client
                    .search_transit_gateway_routes()
                    .transit_gateway_route_table_id(table)
                    .filters(filter("state", ["active", "blackhole"]))
                    .set_next_token(token.clone())
                    .send(),
            )
            .await?;
            let more = out.additional_routes_available().unwrap_or(false);
            routes.extend(out.routes.unwrap_or_default());
            token = out.next_token.filter(|t| !t.is_empty());
            match (&token, more) {
                (None, more) => return Ok((routes, !more)),
                (Some(_), _) => continue,
            }
        }
        Ok((routes, false))
    }

    fn merge(&mut self, done: Done, snap: &mut NetworkSnapshot) {
        let first_gap = snap.gaps.len();
        let acct = match &done {
            Done::Vpc(_, acct, _)
            | Done::Attachments { acct, .. }
            | Done::EgressCandidates { acct, .. }
            | Done::Routes { acct, .. }
            | Done::Peering(_, acct)
            | Done::Firewalls(_, acct)
            | Done::Firewall(_, _, acct)
            | Done::Policy(_, _, acct)
            | Done::RuleGroup(_, _, acct)
            | Done::StageTwo(_, acct) => *acct,
            Done::Assume(_) | Done::Tgws(_) | Done::Dns(_) => Acct::Own,
        };
        self.merge_inner(done, snap);
        if acct == Acct::Network
            && let Some(account) = self.network_account().map(str::to_string)
        {
            for gap in &mut snap.gaps[first_gap..] {
                gap.account.get_or_insert_with(|| account.clone());
            }
        }
    }

    fn merge_inner(&mut self, done: Done, snap: &mut NetworkSnapshot) {
        match done {
            Done::Dns(d) => {
                let d = *d;
                self.dns_rounds = self.dns_rounds.max(d.rounds);
                let mut c = d.config;
                super::dns::merge_profiles(&mut c, &mut snap.notes);
                let into = &mut snap.dns;
                into.read |= c.read;
                macro_rules! add {
                    ($field:ident, $key:expr) => {
                        for x in c.$field {
                            if !into.$field.iter().any(|y| $key(y) == $key(&x)) {
                                into.$field.push(x);
                            }
                        }
                    };
                }
                add!(
                    rule_associations,
                    |x: &crate::model::ResolverRuleAssociation| x.id.clone()
                );
                add!(rules, |x: &crate::model::ResolverRule| x.id.clone());
                add!(endpoints, |x: &crate::model::ResolverEndpoint| x.id.clone());
                add!(
                    firewall_associations,
                    |x: &crate::model::DnsFirewallAssociation| x.id.clone()
                );
                add!(
                    firewall_rule_groups,
                    |x: &crate::model::DnsFirewallRuleGroup| x.id.clone()
                );
                add!(domain_lists, |x: &crate::model::DnsFirewallDomainList| x
                    .id
                    .clone());
                add!(firewall_configs, |x: &crate::model::DnsFirewallConfig| x
                    .resource_id
                    .clone());
                add!(
                    profile_associations,
                    |x: &crate::model::ProfileAssociation| x.id.clone()
                );
                for z in c.private_zones {
                    match into.private_zones.iter_mut().find(|y| y.id == z.id) {
                        Some(y) => {
                            for v in z.vpc_ids {
                                if !y.vpc_ids.contains(&v) {
                                    y.vpc_ids.push(v);
                                }
                            }
                        }
                        None => into.private_zones.push(z),
                    }
                }
                snap.gaps.extend(d.gaps);
                snap.notes.extend(d.notes);
            }
            Done::Assume(Ok(())) => self.network_usable = Some(true),
            Done::Assume(Err(gap)) => {
                self.network_usable = Some(false);
                snap.gaps.push(gap);
            }
            Done::Vpc(raw, _, workload) => {
                let vpc_id = raw.vpc_id().to_string();
                read::merge_vpc(*raw, snap);
                if workload && self.own_account.is_none() {
                    self.own_account = snap.vpc(&vpc_id).and_then(|v| v.owner_id.clone());
                }
                self.stage1_done.push(vpc_id);
            }
            Done::StageTwo(raw, _) => read::merge_stage_two(*raw, snap),
            Done::Attachments {
                generic,
                vpc,
                vpc_id,
                ids,
                ..
            } => {
                // Both calls' filters are applied here again: an endpoint that ignores a
                // filter (moto does, for several) must not add unrelated attachments.
                let wanted = |id: Option<&str>, resource: Option<&str>| match &vpc_id {
                    Some(v) => resource == Some(v.as_str()),
                    None => id.is_some_and(|id| ids.iter().any(|x| x == id)),
                };
                match generic {
                    Ok(list) => {
                        for a in list.iter().filter(|a| {
                            wanted(a.transit_gateway_attachment_id(), a.resource_id())
                                && (vpc_id.is_none()
                                    || a.resource_type().map(|t| t.as_str()) == Some("vpc"))
                        }) {
                            if let Some(a) = transit::attachment(a) {
                                transit::upsert_attachment(snap, a);
                            }
                        }
                    }
                    Err(gap) => snap.gaps.push(gap),
                }
                match vpc {
                    Ok(list) => {
                        for a in list
                            .iter()
                            .filter(|a| wanted(a.transit_gateway_attachment_id(), a.vpc_id()))
                        {
                            if let Some(a) = transit::vpc_attachment(a) {
                                transit::upsert_attachment(snap, a);
                            }
                        }
                    }
                    Err(gap) => snap.gaps.push(gap),
                }
            }
            Done::EgressCandidates {
                tgw,
                acct,
                attachments,
                igws,
            } => {
                let (attachments, igws) = match (attachments, igws) {
                    (Ok(a), Ok(i)) => (a, i),
                    (Err(gap), _) | (_, Err(gap)) => {
                        snap.gaps.push(gap);
                        return;
                    }
                };
                // VPCs with an attached internet gateway (the filter is applied again).
                let with_igw: BTreeSet<String> = igws
                    .iter()
                    .flat_map(|g| g.attachments())
                    .filter_map(|a| a.vpc_id().map(str::to_string))
                    .collect();
                for a in attachments.iter().filter(|a| {
                    a.transit_gateway_id() == Some(tgw.as_str())
                        && a.resource_type().map(|t| t.as_str()) == Some("vpc")
                        && a.resource_id().is_some_and(|v| {
                            with_igw.contains(v) && !self.workload_ids.iter().any(|w| w == v)
                        })
                }) {
                    if let Some(att) = transit::attachment(a) {
                        if let Some(vpc) = att.resource_id.clone()
                            && !self.vpc_acct.contains_key(&vpc)
                        {
                            self.egress_pending.push((vpc, acct));
                        }
                        transit::upsert_attachment(snap, att);
                    }
                }
            }
            Done::Tgws(answer) => match answer {
                Ok(list) => {
                    for t in list.iter().filter_map(transit::transit_gateway) {
                        if snap.transit_gateways.iter().all(|x| x.id != t.id) {
                            snap.transit_gateways.push(t);
                        }
                    }
                }
                Err(gap) => snap.gaps.push(gap),
            },
            Done::Routes {
                table,
                tgw,
                acct,
                answer,
            } => match answer {
                Ok((routes, complete)) => {
                    self.table_acct.insert(table.clone(), acct);
                    let notes: &mut Notes = &mut snap.notes;
                    let t = transit::route_table(&table, &tgw, &routes, complete, notes);
                    if !complete {
                        snap.notes.push(format!(
                            "{table}: more routes than were read (AdditionalRoutesAvailable); a missing route there is not proof of none"
                        ));
                    }
                    snap.transit_gateway_route_tables.push(t);
                }
                Err(gap) => snap.gaps.push(about(&table, gap)),
            },
            Done::Peering(answer, _) => match answer {
                Ok(list) => {
                    for p in list.iter().filter_map(transit::peering) {
                        if snap.vpc_peering_connection(&p.id).is_none() {
                            snap.vpc_peering_connections.push(p);
                        }
                    }
                }
                Err(gap) => snap.gaps.push(gap),
            },
            Done::Firewalls(answer, acct) => match answer {
                Ok(list) => {
                    for f in list {
                        if let Some(arn) = f.firewall_arn().filter(|a| !a.is_empty()) {
                            self.listed.push((arn.to_string(), acct));
                        }
                    }
                }
                Err(gap) => snap.gaps.push(gap),
            },
            Done::Firewall(arn, answer, acct) => match answer {
                Ok(out) => match firewall::firewall(&out, &mut snap.notes) {
                    Some(f) => {
                        self.firewall_acct.insert(f.arn.clone(), acct);
                        if snap.network_firewalls.iter().all(|x| x.arn != f.arn) {
                            snap.network_firewalls.push(f);
                        }
                    }
                    None => snap
                        .notes
                        .push(format!("{arn}: DescribeFirewall returned no firewall")),
                },
                Err(gap) => snap.gaps.push(about(&arn, gap)),
            },
            Done::Policy(arn, answer, _) => match answer {
                Ok(out) => match firewall::policy(&arn, &out, &mut snap.notes) {
                    Some(p) => {
                        if snap.firewall_policy(&p.arn).is_none() {
                            if p.arn != arn {
                                let acct = self.policy_acct.get(&arn).copied().unwrap_or(Acct::Own);
                                self.policy_acct.insert(p.arn.clone(), acct);
                            }
                            snap.firewall_policies.push(p);
                        }
                    }
                    None => snap
                        .notes
                        .push(format!("{arn}: DescribeFirewallPolicy returned no policy")),
                },
                Err(gap) => snap.gaps.push(about(&arn, gap)),
            },
            Done::RuleGroup(arn, answer, _) => match answer {
                Ok(out) => match firewall::rule_group(&arn, &out, &mut snap.notes) {
                    Some(g) => {
                        if snap.firewall_rule_group(&g.arn).is_none() {
                            snap.firewall_rule_groups.push(g);
                        }
                    }
                    None => snap
                        .notes
                        .push(format!("{arn}: DescribeRuleGroup returned nothing")),
                },
                Err(gap) => snap.gaps.push(about(&arn, gap)),
            },
        }
    }
}

/// A gap of a call about one resource names it.
fn about(resource: &str, mut gap: SnapshotGap) -> SnapshotGap {
    gap.reason = format!("{resource}: {}", gap.reason);
    gap
}
