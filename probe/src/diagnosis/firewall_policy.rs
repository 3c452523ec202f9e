//! AWS Network Firewall policy evaluation for one flow (fact sheet part 2, §B: R49-R53).
//! Pure: a policy, its rule groups and a flow in, a decision out.
//!
//! The decision follows the firewall's pipeline (R49): the stateless engine first (both
//! directions of the flow, since stateless rules see each packet on its own), the stateful
//! engine only for packets forwarded to it. The stateful engine is simulated packet by
//! packet over the phases a probe sees:
//! - *connect*: the client's SYN, then the server's SYN-ACK (not established, protocol not
//!   yet detected). For UDP and other protocols: the request, then the reply.
//! - *application* (TCP flows carrying TLS or HTTP only): the ClientHello / HTTP request on
//!   the established flow (SNI / Host known), then the server's answer.
//!
//! A `pass` on any packet passes the rest of the flow; a `drop`/`reject` blocks it (R49).
//! Under `STRICT_ORDER` the `StatefulDefaultActions` apply to packets no rule decides (R50).
//!
//! Rules this engine cannot evaluate are never guessed: they are named in
//! `FwDecision::not_evaluable`, and every action they could have taken *before* the rule
//! that decides is kept as a possible outcome. When the possible outcomes differ, the
//! verdict is `FwAction::Unknown` and `decided_by` names the rule that would block if the
//! unevaluable ones do not match. An unreadable rule group counts as one that may pass,
//! drop or reject anything.
//!
//! Not modelled (the probe's checks do not reach them): packets after the handshake of a
//! TCP flow without TLS/HTTP, `StatelessFragmentDefaultActions` (no fragments), the
//! `StreamExceptionPolicy` (midstream flows), TCP flag values of stateless rules (the
//! model keeps only that flags are set, so such a rule is named not evaluable).

mod domain;
mod expr;
mod suricata;

use crate::model::{
    FirewallPolicy, FirewallRuleGroup, PortRange, Protocol, RuleGroupRef, RulesSource,
    StatefulRule, StatelessRule,
};
use domain::{ListKind, TargetType};
use expr::{AddrExpr, PortExpr, Vars};
use ipnet::IpNet;
use std::cell::OnceCell;
use std::net::IpAddr;
use std::rc::Rc;
use suricata::{Action, M, Packet, PktApp, Rule};

/// What the application layer of the flow carries, as far as the firewall can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FwApp<'a> {
    /// TLS; `sni` is the server name the ClientHello carries.
    Tls { sni: Option<&'a str> },
    /// Plain HTTP; `host` is the Host header.
    Http { host: Option<&'a str> },
    /// Anything else (a TCP connect check, DNS over UDP, …).
    Other,
}

/// One flow, from the client (the function) to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FwFlow<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: Protocol,
    /// `None`: an ephemeral port (1024-65535), not known exactly.
    pub src_port: Option<u16>,
    pub dst_port: u16,
    pub app: FwApp<'a>,
}

/// A policy with its rule groups.
#[derive(Debug, Clone)]
pub(crate) struct FwContext<'a> {
    pub policy: &'a FirewallPolicy,
    /// The policy's groups in policy order: `stateless_rule_groups` then
    /// `stateful_rule_groups`; `None` = not readable. Groups are matched to references by
    /// ARN, so a list of only the readable groups also works.
    pub groups: Vec<Option<&'a FirewallRuleGroup>>,
    /// The CIDRs of the VPC the firewall is deployed in: the default `HOME_NET` (R52).
    pub firewall_vpc_cidrs: Rc<[IpNet]>,
}

impl<'a> FwContext<'a> {
    /// Looks the policy's groups up by ARN in `known` (e.g. `snapshot.firewall_rule_groups`).
    pub(crate) fn new(
        policy: &'a FirewallPolicy,
        known: &'a [FirewallRuleGroup],
        firewall_vpc_cidrs: &[IpNet],
    ) -> Self {
        let groups = policy
            .stateless_rule_groups
            .iter()
            .chain(&policy.stateful_rule_groups)
            .map(|r| known.iter().find(|g| g.arn == r.arn))
            .collect();
        FwContext {
            policy,
            groups,
            firewall_vpc_cidrs: firewall_vpc_cidrs.into(),
        }
    }

    /// The policy's `HOME_NET`, else the firewall VPC's CIDRs (R52); `None` when neither
    /// is known.
    fn policy_home(&self) -> Option<Rc<[IpNet]>> {
        match &self.policy.home_net {
            Some(h) => Some(h.as_slice().into()),
            None if !self.firewall_vpc_cidrs.is_empty() => Some(self.firewall_vpc_cidrs.clone()),
            None => None,
        }
    }

    /// The group a reference names: at its own position when that one has the ARN, else
    /// anywhere in `groups`.
    fn group(&self, index: usize, r: &RuleGroupRef) -> Option<&'a FirewallRuleGroup> {
        match self.groups.get(index) {
            Some(Some(g)) if g.arn == r.arn => Some(*g),
            _ => self
                .groups
                .iter()
                .flatten()
                .find(|g| g.arn == r.arn)
                .copied(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum FwAction {
    Pass,
    /// Silently dropped: the client times out (R53).
    Drop,
    /// Reset: the client sees a TCP RST (R53; TCP only).
    Reject,
    /// Rules that could decide the flow are not evaluable or not readable.
    Unknown,
}

impl FwAction {
    pub(crate) fn blocks(self) -> bool {
        matches!(self, FwAction::Drop | FwAction::Reject)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum FwStage {
    Stateless,
    Stateful,
    StatelessDefault,
    StatefulDefault,
}

/// The rule (or default action) behind a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FwRuleRef {
    /// Rule group name, or its ARN when the name is not known; `None` for a default action.
    pub group: Option<String>,
    /// `sid:5`, `priority 10`, the default action's value, or the rule's first words.
    pub rule: String,
    pub stage: FwStage,
    /// In words: `TLS allowlist (.example.com) does not contain api.other.test`.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FwDecision {
    /// What the TCP handshake (or the first packet and its reply) meets.
    pub connect: FwAction,
    /// What the ClientHello / HTTP request meets; equal to `connect` for other flows, and
    /// when the connection is already blocked.
    pub application: FwAction,
    /// The rule or default behind the blocking action (or the one that may block, when
    /// the verdict is `Unknown`).
    pub decided_by: Option<FwRuleRef>,
    /// R52: a domain list that would inspect this flow does not apply, because the source
    /// is outside its `HOME_NET`.
    pub home_net_excludes_source: bool,
    /// Rules and groups that could not be evaluated and could have mattered, in words.
    pub not_evaluable: Vec<String>,
}

/// Evaluates `flow` against the policy (R49-R53), parsing its stateful rules for this
/// flow only. [`evaluate_with`] reuses rules parsed once for many flows (the path engine).
#[cfg(test)]
pub(crate) fn evaluate(ctx: &FwContext<'_>, flow: &FwFlow<'_>) -> FwDecision {
    evaluate_inner(ctx, flow, &OnceCell::new())
}

/// [`evaluate`] with the policy's stateful rules already parsed by [`StatefulRules::new`]
/// for the same context.
pub(crate) fn evaluate_with<'a>(
    ctx: &FwContext<'a>,
    flow: &FwFlow<'_>,
    rules: &Rc<StatefulRules<'a>>,
) -> FwDecision {
    evaluate_inner(ctx, flow, &OnceCell::from(rules.clone()))
}

fn evaluate_inner<'a>(
    ctx: &FwContext<'a>,
    flow: &FwFlow<'_>,
    rules: &OnceCell<Rc<StatefulRules<'a>>>,
) -> FwDecision {
    let mut notes = Notes::default();
    let request = Leg {
        src: flow.src,
        dst: flow.dst,
        src_port: flow.src_port,
        dst_port: Some(flow.dst_port),
    };
    let reply = Leg {
        src: flow.dst,
        dst: flow.src,
        src_port: Some(flow.dst_port),
        dst_port: flow.src_port,
    };
    let out_leg = stateless(ctx, flow.protocol, &request, &mut notes);
    let back_leg = stateless(ctx, flow.protocol, &reply, &mut notes);
    let mut branches: Vec<Branch> = Vec::new();
    let mut stateful_branches: Option<Vec<Branch>> = None;
    for (out_action, out_ref) in &out_leg {
        if *out_action == SlAction::Drop {
            branches.push(Branch::blocked(FwAction::Drop, Some(out_ref.clone())));
            continue;
        }
        for (back_action, back_ref) in &back_leg {
            match (out_action, back_action) {
                (_, SlAction::Drop) => {
                    let mut r = back_ref.clone();
                    r.detail = format!("{} (the server's reply packets)", r.detail);
                    branches.push(Branch::blocked(FwAction::Drop, Some(r)));
                }
                (SlAction::Pass, SlAction::Pass) => branches.push(Branch::pass()),
                (SlAction::Forward, SlAction::Forward) => {
                    let sf = stateful_branches
                        .get_or_insert_with(|| {
                            let rules = rules.get_or_init(|| Rc::new(StatefulRules::new(ctx)));
                            stateful(ctx, rules, flow, &mut notes)
                        })
                        .clone();
                    branches.extend(sf);
                }
                _ => {
                    // R48: one direction bypasses the stateful engine, the other does not.
                    notes.push(format!(
                        "stateless stage: {} ({}) but {} ({}): asymmetric forwarding \
                         (R48), the stateful engine's verdict cannot be predicted",
                        out_action.word(),
                        out_ref.rule,
                        back_action.word(),
                        back_ref.rule
                    ));
                    branches.push(Branch {
                        connect: FwAction::Unknown,
                        application: FwAction::Unknown,
                        by: None,
                    });
                }
            }
        }
    }
    let mut decision = combine(&branches, flow);
    decision.home_net_excludes_source = home_net_excludes(ctx, flow, &mut notes);
    decision.not_evaluable = notes.0;
    decision
}

/// One possible outcome of the whole pipeline.
#[derive(Debug, Clone)]
struct Branch {
    connect: FwAction,
    application: FwAction,
    by: Option<FwRuleRef>,
}

impl Branch {
    fn pass() -> Branch {
        Branch {
            connect: FwAction::Pass,
            application: FwAction::Pass,
            by: None,
        }
    }
    fn blocked(a: FwAction, by: Option<FwRuleRef>) -> Branch {
        Branch {
            connect: a,
            application: a,
            by,
        }
    }
}

fn one_or_unknown(mut it: impl Iterator<Item = FwAction>) -> FwAction {
    let Some(first) = it.next() else {
        return FwAction::Unknown;
    };
    if it.all(|a| a == first) {
        first
    } else {
        FwAction::Unknown
    }
}

fn combine(branches: &[Branch], flow: &FwFlow<'_>) -> FwDecision {
    let connect = one_or_unknown(branches.iter().map(|b| b.connect));
    let mut application = one_or_unknown(branches.iter().map(|b| b.application));
    if app_phase(flow).is_none() || connect.blocks() {
        application = connect;
    }
    let find = |pred: &dyn Fn(&Branch) -> bool| {
        branches
            .iter()
            .find(|b| b.by.is_some() && pred(b))
            .and_then(|b| b.by.clone())
    };
    let decided_by = if connect.blocks() {
        find(&|b| b.connect == connect)
    } else if application.blocks() {
        find(&|b| b.application == application)
    } else if connect == FwAction::Unknown || application == FwAction::Unknown {
        find(&|b| b.connect.blocks() || b.application.blocks())
    } else {
        None
    };
    FwDecision {
        connect,
        application,
        decided_by,
        home_net_excludes_source: false,
        not_evaluable: Vec::new(),
    }
}

/// Rules and groups that could not be evaluated, each named once.
#[derive(Debug, Default)]
struct Notes(Vec<String>);

impl Notes {
    fn push(&mut self, s: String) {
        if !self.0.contains(&s) {
            self.0.push(s);
        }
    }
}

fn group_name(g: &FirewallRuleGroup) -> String {
    g.name.clone().unwrap_or_else(|| g.arn.clone())
}

fn sorted_refs(refs: &[RuleGroupRef], offset: usize) -> Vec<(usize, &RuleGroupRef)> {
    let mut v: Vec<(usize, &RuleGroupRef)> = refs
        .iter()
        .enumerate()
        .map(|(i, r)| (offset + i, r))
        .collect();
    v.sort_by_key(|(i, r)| (r.priority.is_none(), r.priority, *i));
    v
}

// ---------------------------------------------------------------------------------------
// Stateless engine (R49)

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlAction {
    Pass,
    Drop,
    Forward,
}

impl SlAction {
    const ALL: [SlAction; 3] = [SlAction::Pass, SlAction::Drop, SlAction::Forward];
    fn word(self) -> &'static str {
        match self {
            SlAction::Pass => "aws:pass",
            SlAction::Drop => "aws:drop",
            SlAction::Forward => "aws:forward_to_sfe",
        }
    }
    /// The standard action among `actions` (custom actions only publish metrics).
    fn of(actions: &[String]) -> Option<SlAction> {
        actions.iter().find_map(|a| match a.as_str() {
            "aws:pass" => Some(SlAction::Pass),
            "aws:drop" => Some(SlAction::Drop),
            "aws:forward_to_sfe" => Some(SlAction::Forward),
            _ => None,
        })
    }
}

/// One direction of the flow.
#[derive(Debug, Clone, Copy)]
struct Leg {
    src: IpAddr,
    dst: IpAddr,
    src_port: Option<u16>,
    dst_port: Option<u16>,
}

fn has_ports(protocol: Protocol) -> bool {
    protocol == Protocol::TCP || protocol == Protocol::UDP
}

/// Stateless port match: `None` port = any ephemeral port.
fn sl_ports(ranges: &[PortRange], port: Option<u16>) -> M {
    if ranges.is_empty() {
        return M::Yes;
    }
    match port {
        Some(p) => bool_m(ranges.iter().any(|r| r.contains(p))),
        None => {
            let e = PortRange::EPHEMERAL;
            if ranges.iter().any(|r| r.from <= e.from && e.to <= r.to) {
                M::Yes
            } else if ranges.iter().all(|r| r.to < e.from || r.from > e.to) {
                M::No
            } else {
                M::Maybe("the flow's ephemeral source port is not known exactly".into())
            }
        }
    }
}

fn bool_m(b: bool) -> M {
    if b { M::Yes } else { M::No }
}

fn sl_match(rule: &StatelessRule, protocol: Protocol, leg: &Leg) -> M {
    let proto_ok = rule.protocols.is_empty()
        || (protocol.0 >= 0 && rule.protocols.iter().any(|p| i16::from(*p) == protocol.0));
    if !proto_ok {
        return M::No;
    }
    if protocol == Protocol::ALL && !rule.protocols.is_empty() {
        return M::Maybe("the flow's protocol is not known".into());
    }
    let addr_ok =
        |nets: &[IpNet], ip: IpAddr| nets.is_empty() || nets.iter().any(|n| n.contains(&ip));
    if !addr_ok(&rule.sources, leg.src) || !addr_ok(&rule.destinations, leg.dst) {
        return M::No;
    }
    let ports = if has_ports(protocol) {
        let s = sl_ports(&rule.source_ports, leg.src_port);
        let d = sl_ports(&rule.destination_ports, leg.dst_port);
        match (s, d) {
            (M::No, _) | (_, M::No) => return M::No,
            (M::Maybe(r), _) | (_, M::Maybe(r)) => M::Maybe(r),
            _ => M::Yes,
        }
    } else if rule.source_ports.is_empty() && rule.destination_ports.is_empty() {
        M::Yes
    } else {
        return M::No;
    };
    if rule.has_tcp_flags {
        // The model keeps only that flags are set, not which: the rule matches some packets
        // of the flow (SYN or not) and the engine cannot say which.
        return M::Maybe("TCP flags are not evaluated (the rule matches only some packets)".into());
    }
    ports
}

/// The possible stateless outcomes for one direction, each with the rule or default.
fn stateless(
    ctx: &FwContext<'_>,
    protocol: Protocol,
    leg: &Leg,
    notes: &mut Notes,
) -> Vec<(SlAction, FwRuleRef)> {
    let mut out: Vec<(SlAction, FwRuleRef)> = Vec::new();
    let push = |out: &mut Vec<(SlAction, FwRuleRef)>, a: SlAction, r: FwRuleRef| {
        if !out.iter().any(|(x, _)| *x == a) {
            out.push((a, r));
        }
    };
    for (index, gref) in sorted_refs(&ctx.policy.stateless_rule_groups, 0) {
        let group = ctx.group(index, gref);
        let rules = match group.map(|g| &g.rules) {
            Some(RulesSource::Stateless { rules }) => rules,
            other => {
                let why = match other {
                    None => "is not readable",
                    Some(_) => "is not a stateless rule group",
                };
                let name = group.map(group_name).unwrap_or_else(|| gref.arn.clone());
                notes.push(format!(
                    "stateless rule group {name} {why} (it could pass, drop or forward)"
                ));
                for a in SlAction::ALL {
                    push(
                        &mut out,
                        a,
                        FwRuleRef {
                            group: Some(name.clone()),
                            rule: "(whole group)".into(),
                            stage: FwStage::Stateless,
                            detail: format!("rule group {why}"),
                        },
                    );
                }
                continue;
            }
        };
        let gname = group.map(group_name).unwrap_or_else(|| gref.arn.clone());
        let mut sorted: Vec<&StatelessRule> = rules.iter().collect();
        sorted.sort_by_key(|r| r.priority);
        for rule in sorted {
            let m = sl_match(rule, protocol, leg);
            if m == M::No {
                continue;
            }
            let rname = format!("priority {}", rule.priority);
            let actions: Vec<SlAction> = match SlAction::of(&rule.actions) {
                Some(a) => vec![a],
                None => {
                    notes.push(format!(
                        "stateless rule group {gname}: {rname}: no standard action in {:?}",
                        rule.actions
                    ));
                    SlAction::ALL.to_vec()
                }
            };
            let definite = m == M::Yes && actions.len() == 1;
            if let M::Maybe(why) = &m {
                notes.push(format!("stateless rule group {gname}: {rname}: {why}"));
            }
            for a in actions {
                push(
                    &mut out,
                    a,
                    FwRuleRef {
                        group: Some(gname.clone()),
                        rule: rname.clone(),
                        stage: FwStage::Stateless,
                        detail: format!(
                            "{} matches {} {} -> {}",
                            a.word(),
                            protocol.name(),
                            leg.src,
                            leg.dst
                        ),
                    },
                );
            }
            if definite {
                return out;
            }
        }
    }
    let defaults = &ctx.policy.stateless_default_actions;
    let actions = match SlAction::of(defaults) {
        Some(a) => vec![a],
        None => {
            notes.push(format!(
                "StatelessDefaultActions {defaults:?} has no standard action"
            ));
            SlAction::ALL.to_vec()
        }
    };
    for a in actions {
        push(
            &mut out,
            a,
            FwRuleRef {
                group: None,
                rule: "StatelessDefaultActions".into(),
                stage: FwStage::StatelessDefault,
                detail: format!("{} (no stateless rule matches)", a.word()),
            },
        );
    }
    out
}

// ---------------------------------------------------------------------------------------
// Stateful engine (R49-R53)

/// The variables a group's rules see (R52): the group's own `IPSets`/`PortSets`, then the
/// policy's `HOME_NET` (else the firewall VPC's CIDRs); `EXTERNAL_NET` is the negation of
/// the policy's `HOME_NET` unless the group defines it.
struct GroupVars<'a> {
    group: Option<&'a FirewallRuleGroup>,
    policy_home: Option<Rc<[IpNet]>>,
}

impl GroupVars<'_> {
    fn policy_home_expr(&self) -> Option<AddrExpr> {
        self.policy_home
            .as_deref()
            .map(|nets| AddrExpr::List(nets.iter().copied().map(AddrExpr::Net).collect()))
    }
}

impl Vars for GroupVars<'_> {
    fn ip(&self, name: &str) -> Option<AddrExpr> {
        if let Some(nets) = self.group.and_then(|g| g.ip_sets.get(name)) {
            return Some(AddrExpr::List(
                nets.iter().copied().map(AddrExpr::Net).collect(),
            ));
        }
        match name {
            "HOME_NET" => self.policy_home_expr(),
            "EXTERNAL_NET" => self.policy_home_expr().map(|h| AddrExpr::Not(Box::new(h))),
            _ => None,
        }
    }
    fn port(&self, name: &str) -> Option<PortExpr> {
        let defs = self.group.and_then(|g| g.port_sets.get(name))?;
        defs.iter()
            .map(|d| PortExpr::parse(d).ok())
            .collect::<Option<Vec<_>>>()
            .map(PortExpr::List)
    }
}

/// What a domain-list group holds, for wording its decisions.
struct DomainInfo {
    kind: ListKind,
    targets: Vec<String>,
}

struct GroupInfo<'a> {
    name: String,
    vars: GroupVars<'a>,
    domain: Option<DomainInfo>,
}

/// How an entry can match.
enum Matcher {
    Rule(Box<Rule>),
    /// Could match anything (an unreadable group, a rule whose header cannot be read).
    Unknown(String),
}

/// One rule with a possible verdict, in evaluation order. Alert rules never decide and are
/// left out.
struct Entry {
    group: usize,
    action: Action,
    matcher: Matcher,
    /// Set when the rule's effect is itself uncertain (e.g. DROP_TO_ALERT on a reject).
    uncertain: Option<String>,
    name: String,
    priority: u8,
}

fn standard_rule_text(r: &StatefulRule) -> String {
    let dir = if r.direction.eq_ignore_ascii_case("ANY") {
        "<>"
    } else {
        "->"
    };
    let opts: Vec<String> = r
        .options
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                format!("{k};")
            } else {
                format!("{k}:{};", v.join(","))
            }
        })
        .collect();
    format!(
        "{} {} {} {} {dir} {} {} ({})",
        r.action.to_ascii_lowercase(),
        r.protocol.to_ascii_lowercase(),
        r.source,
        r.source_port,
        r.destination,
        r.destination_port,
        opts.join(" ")
    )
}

/// A policy's stateful rules parsed once, in the policy's evaluation order (R49, R50), with
/// the variables each group's rules see (R52). Parsing is most of an evaluation's cost, so
/// the path engine keeps one per policy and firewall VPC for every flow it checks.
pub(crate) struct StatefulRules<'a> {
    groups: Vec<GroupInfo<'a>>,
    entries: Vec<Entry>,
}

impl<'a> StatefulRules<'a> {
    pub(crate) fn new(ctx: &FwContext<'a>) -> Self {
        let (groups, entries) = stateful_entries(ctx);
        StatefulRules { groups, entries }
    }
}

/// The entries of every stateful group, in the policy's evaluation order.
fn stateful_entries<'a>(ctx: &FwContext<'a>) -> (Vec<GroupInfo<'a>>, Vec<Entry>) {
    let strict = ctx.policy.strict_order();
    let policy_home = ctx.policy_home();
    let offset = ctx.policy.stateless_rule_groups.len();
    let refs: Vec<(usize, &RuleGroupRef)> = if strict {
        sorted_refs(&ctx.policy.stateful_rule_groups, offset)
    } else {
        ctx.policy
            .stateful_rule_groups
            .iter()
            .enumerate()
            .map(|(i, r)| (offset + i, r))
            .collect()
    };
    let mut groups = Vec::new();
    let mut entries = Vec::new();
    for (index, gref) in refs {
        let group = ctx.group(index, gref);
        let gi = groups.len();
        let name = group.map(group_name).unwrap_or_else(|| gref.arn.clone());
        let mut domain = None;
        let texts: Result<Vec<String>, String> = match group.map(|g| &g.rules) {
            None => Err("is not readable".into()),
            Some(RulesSource::DomainList {
                targets,
                target_types,
                generated_rules_type,
            }) => {
                if let Some(kind) = ListKind::parse(generated_rules_type) {
                    domain = Some(DomainInfo {
                        kind,
                        targets: targets.clone(),
                    });
                }
                domain::generated_rules(targets, target_types, generated_rules_type)
            }
            Some(RulesSource::StatefulRules { rules }) => {
                Ok(rules.iter().map(standard_rule_text).collect())
            }
            Some(RulesSource::RulesString { rules }) => Ok(vec![rules.clone()]),
            Some(RulesSource::Stateless { .. }) => Err("is not a stateful rule group".into()),
            Some(RulesSource::Unknown { what }) => {
                Err(format!("has rules of an unknown form ({what})"))
            }
        };
        groups.push(GroupInfo {
            name: name.clone(),
            vars: GroupVars {
                group,
                policy_home: policy_home.clone(),
            },
            domain,
        });
        let texts = match texts {
            Ok(t) => t,
            Err(why) => {
                for action in [Action::Pass, Action::Drop, Action::Reject] {
                    entries.push(Entry {
                        group: gi,
                        action,
                        matcher: Matcher::Unknown(format!("rule group {why}")),
                        uncertain: None,
                        name: "(whole group)".into(),
                        priority: 0,
                    });
                }
                continue;
            }
        };
        let drop_to_alert = gref.override_action.as_deref() == Some("DROP_TO_ALERT");
        for parsed in texts.iter().flat_map(|t| suricata::parse_rules(t)) {
            match parsed {
                Ok(rule) => {
                    let mut action = rule.action;
                    let mut uncertain = None;
                    if drop_to_alert && action == Action::Drop {
                        // The override turns the group's drops into alerts.
                        action = Action::Alert;
                    } else if drop_to_alert && action == Action::Reject {
                        uncertain = Some(
                            "DROP_TO_ALERT may or may not turn this reject into an alert"
                                .to_string(),
                        );
                    }
                    if action == Action::Alert {
                        continue;
                    }
                    entries.push(Entry {
                        group: gi,
                        action,
                        name: rule.name(),
                        priority: rule.priority.unwrap_or(3),
                        matcher: Matcher::Rule(Box::new(rule)),
                        uncertain,
                    });
                }
                Err(u) => {
                    let name = match &u.sid {
                        Some(s) => format!("sid:{s}"),
                        None => suricata::short(&u.text),
                    };
                    let actions = match u.action {
                        Some(Action::Alert) => vec![],
                        Some(Action::Drop) if drop_to_alert => vec![],
                        Some(a) => vec![a],
                        None => vec![Action::Pass, Action::Drop, Action::Reject],
                    };
                    for action in actions {
                        entries.push(Entry {
                            group: gi,
                            action,
                            matcher: Matcher::Unknown(format!("cannot be parsed: {}", u.reason)),
                            uncertain: (drop_to_alert && action == Action::Reject).then(|| {
                                "DROP_TO_ALERT may or may not turn this reject into an alert"
                                    .to_string()
                            }),
                            name: name.clone(),
                            priority: 3,
                        });
                    }
                }
            }
        }
    }
    if !strict {
        // R49 action order: all pass rules, then drop, then reject; `priority` inside a class.
        entries.sort_by_key(|e| (e.action, e.priority));
    }
    (groups, entries)
}

/// The stateful default for packets no rule decides (R50; strict order only).
#[derive(Debug, Clone, PartialEq, Eq)]
enum StatefulDefault {
    None,
    DropStrict,
    DropEstablished,
    /// A value this engine does not know: it may drop.
    Unknown(String),
}

fn stateful_default(policy: &FirewallPolicy, notes: &mut Notes) -> StatefulDefault {
    if !policy.strict_order() {
        return StatefulDefault::None;
    }
    for a in &policy.stateful_default_actions {
        match a.as_str() {
            "aws:drop_strict" => return StatefulDefault::DropStrict,
            "aws:drop_established" => return StatefulDefault::DropEstablished,
            "aws:alert_strict" | "aws:alert_established" => {}
            other => {
                notes.push(format!(
                    "StatefulDefaultActions value {other} is not known to this engine \
                     (it may drop)"
                ));
                return StatefulDefault::Unknown(other.to_string());
            }
        }
    }
    StatefulDefault::None
}

/// One packet's possible outcome.
#[derive(Debug, Clone)]
enum PktOutcome {
    PassFlow,
    Block(FwAction, FwRuleRef),
    Continue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connect,
    Application,
}

fn app_phase<'a>(flow: &FwFlow<'a>) -> Option<PktApp<'a>> {
    if flow.protocol != Protocol::TCP {
        return None;
    }
    match flow.app {
        FwApp::Tls { sni } => Some(PktApp::Tls { sni }),
        FwApp::Http { host } => Some(PktApp::Http { host }),
        FwApp::Other => None,
    }
}

/// The packets of the flow the stateful engine sees, in order, with their phase.
fn packets<'a>(flow: &FwFlow<'a>) -> Vec<(Phase, Packet<'a>, &'static str)> {
    let ports = has_ports(flow.protocol);
    let client = flow.src_port.map_or((1024, 65535), |p| (p, p));
    let server = (flow.dst_port, flow.dst_port);
    let base = |from_client: bool, established: bool, app: PktApp<'a>| Packet {
        src: if from_client { flow.src } else { flow.dst },
        dst: if from_client { flow.dst } else { flow.src },
        transport: flow.protocol.0,
        src_ports: ports.then_some(if from_client { client } else { server }),
        dst_ports: ports.then_some(if from_client { server } else { client }),
        from_client,
        established,
        app,
    };
    let mut v = Vec::new();
    if flow.protocol == Protocol::TCP {
        v.push((
            Phase::Connect,
            base(true, false, PktApp::None),
            "the TCP SYN",
        ));
        v.push((
            Phase::Connect,
            base(false, false, PktApp::None),
            "the SYN-ACK",
        ));
        if let Some(app) = app_phase(flow) {
            let what = match app {
                PktApp::Tls { .. } => "the TLS ClientHello",
                _ => "the HTTP request",
            };
            v.push((Phase::Application, base(true, true, app), what));
            v.push((
                Phase::Application,
                base(false, true, app),
                "the server's answer",
            ));
        }
    } else {
        v.push((
            Phase::Connect,
            base(true, false, PktApp::None),
            "the request packet",
        ));
        v.push((
            Phase::Connect,
            base(false, true, PktApp::None),
            "the reply packet",
        ));
    }
    v
}

fn wants_sni_words(pkt: &Packet<'_>) -> String {
    match pkt.app {
        PktApp::Tls { sni: Some(s) } => format!(" (SNI {s})"),
        PktApp::Tls { sni: None } => " (no SNI)".into(),
        PktApp::Http { host: Some(h) } => format!(" (Host {h})"),
        PktApp::Http { host: None } => " (no Host header)".into(),
        PktApp::None => String::new(),
    }
}

fn list_targets(targets: &[String]) -> String {
    let mut s = targets
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if targets.len() > 5 {
        s.push_str(&format!(", … {} more", targets.len() - 5));
    }
    s
}

/// The words for a rule that decides `pkt`.
fn detail(group: &GroupInfo<'_>, rule: &Rule, pkt: &Packet<'_>, what: &str) -> String {
    if let Some(d) = &group.domain {
        let (label, name) = match pkt.app {
            PktApp::Tls { sni } => ("TLS", sni),
            PktApp::Http { host } => ("HTTP", host),
            PktApp::None => ("", None),
        };
        let list = format!("{label} {}", d.kind.word());
        return match (d.kind, rule.action, name) {
            (ListKind::Allow, Action::Drop, Some(n)) => {
                format!("{list} ({}) does not contain {n}", list_targets(&d.targets))
            }
            (ListKind::Allow, Action::Drop, None) => format!(
                "{list} ({}): {what} carries no name",
                list_targets(&d.targets)
            ),
            (_, _, Some(n)) => match d.targets.iter().find(|t| domain::target_matches(t, n)) {
                Some(t) => format!("{list} entry {t} matches {n}"),
                None => format!("{list} rule matches {what}"),
            },
            _ => format!("{list} rule matches {what}"),
        };
    }
    match &rule.msg {
        Some(m) => format!("{} rule \"{m}\" matches {what}", rule.action.word()),
        None => format!("{} rule matches {what}", rule.action.word()),
    }
}

fn default_ref(value: &str, pkt: &Packet<'_>, what: &str) -> FwRuleRef {
    FwRuleRef {
        group: None,
        rule: value.to_string(),
        stage: FwStage::StatefulDefault,
        detail: format!(
            "no stateful rule decides {what}{}; the default drops it",
            wants_sni_words(pkt)
        ),
    }
}

fn eval_packet(
    groups: &[GroupInfo<'_>],
    entries: &[Entry],
    default: &StatefulDefault,
    pkt: &Packet<'_>,
    what: &str,
    notes: &mut Notes,
) -> Vec<PktOutcome> {
    let tcp = pkt.transport == 6;
    let mut out = Vec::new();
    for e in entries {
        let Some(g) = groups.get(e.group) else {
            continue;
        };
        if e.action == Action::Alert {
            // Alerts only log (R49); they never decide a flow.
            continue;
        }
        let m = match &e.matcher {
            Matcher::Rule(r) => r.matches(pkt, &g.vars),
            Matcher::Unknown(why) => M::Maybe(why.clone()),
        };
        let m = match (m, &e.uncertain) {
            (M::Yes, Some(u)) => M::Maybe(u.clone()),
            (M::Maybe(r), Some(u)) => M::Maybe(format!("{r}; {u}")),
            (m, _) => m,
        };
        let definite = match m {
            M::No => continue,
            M::Yes => true,
            M::Maybe(why) => {
                notes.push(format!("rule group {}: {}: {why}", g.name, e.name));
                false
            }
        };
        let rule_ref = |detail: String| FwRuleRef {
            group: Some(g.name.clone()),
            rule: e.name.clone(),
            stage: FwStage::Stateful,
            detail,
        };
        let words = match &e.matcher {
            Matcher::Rule(r) => detail(g, r, pkt, what),
            Matcher::Unknown(why) => format!("{} (may {} {what})", why, e.action.word()),
        };
        out.push(match e.action {
            Action::Pass | Action::Alert => PktOutcome::PassFlow,
            Action::Drop => PktOutcome::Block(FwAction::Drop, rule_ref(words)),
            // R53: reject resets TCP only; for other protocols it is a drop.
            Action::Reject if tcp => PktOutcome::Block(FwAction::Reject, rule_ref(words)),
            Action::Reject => PktOutcome::Block(FwAction::Drop, rule_ref(words)),
        });
        if definite {
            return out;
        }
    }
    let drops = match default {
        StatefulDefault::None => false,
        StatefulDefault::DropStrict => true,
        // R50: drops established client->server packets; UDP/ICMP have no handshake, so
        // every client packet no rule passes is dropped.
        StatefulDefault::DropEstablished => pkt.from_client && (pkt.established || !tcp),
        StatefulDefault::Unknown(_) => {
            out.push(PktOutcome::Continue);
            true
        }
    };
    let value = match default {
        StatefulDefault::DropStrict => "aws:drop_strict",
        StatefulDefault::DropEstablished => "aws:drop_established",
        StatefulDefault::Unknown(v) => v.as_str(),
        StatefulDefault::None => "",
    };
    out.push(if drops {
        PktOutcome::Block(FwAction::Drop, default_ref(value, pkt, what))
    } else {
        PktOutcome::Continue
    });
    out
}

/// The possible outcomes of the stateful engine for the flow.
fn stateful(
    ctx: &FwContext<'_>,
    rules: &StatefulRules<'_>,
    flow: &FwFlow<'_>,
    notes: &mut Notes,
) -> Vec<Branch> {
    let (groups, entries) = (&rules.groups, &rules.entries);
    let default = stateful_default(ctx.policy, notes);
    let mut done: Vec<Branch> = Vec::new();
    let mut pending = true;
    for (phase, pkt, what) in packets(flow) {
        if !pending {
            break;
        }
        pending = false;
        for o in eval_packet(groups, entries, &default, &pkt, what, notes) {
            match o {
                PktOutcome::Continue => pending = true,
                PktOutcome::PassFlow => done.push(Branch::pass()),
                PktOutcome::Block(a, r) => done.push(match phase {
                    Phase::Connect => Branch::blocked(a, Some(r)),
                    Phase::Application => Branch {
                        connect: FwAction::Pass,
                        application: a,
                        by: Some(r),
                    },
                }),
            }
        }
    }
    if pending {
        done.push(Branch::pass());
    }
    done
}

/// R52: a domain list that inspects this kind of flow, whose `HOME_NET` leaves the source
/// out.
fn home_net_excludes(ctx: &FwContext<'_>, flow: &FwFlow<'_>, notes: &mut Notes) -> bool {
    let Some(app) = app_phase(flow) else {
        return false;
    };
    let wanted = match app {
        PktApp::Tls { .. } => TargetType::TlsSni,
        _ => TargetType::HttpHost,
    };
    let policy_home = ctx.policy_home();
    let offset = ctx.policy.stateless_rule_groups.len();
    let mut excluded = false;
    for (i, gref) in ctx.policy.stateful_rule_groups.iter().enumerate() {
        let Some(g) = ctx.group(offset + i, gref) else {
            continue;
        };
        let RulesSource::DomainList { target_types, .. } = &g.rules else {
            continue;
        };
        if !target_types
            .iter()
            .any(|t| TargetType::parse(t) == Some(wanted))
        {
            continue;
        }
        let vars = GroupVars {
            group: Some(g),
            policy_home: policy_home.clone(),
        };
        match vars.ip("HOME_NET").map(|h| h.matches(flow.src, &vars)) {
            Some(Ok(inside)) => excluded |= !inside,
            Some(Err(e)) => notes.push(format!("rule group {}: HOME_NET: {e}", group_name(g))),
            None => notes.push(format!(
                "rule group {}: HOME_NET is not known (no rule-group, policy or firewall \
                 VPC value)",
                group_name(g)
            )),
        }
    }
    excluded
}

#[cfg(test)]
// Test tables are tuples of several columns.
#[allow(clippy::unwrap_used, clippy::type_complexity)]
mod tests;
