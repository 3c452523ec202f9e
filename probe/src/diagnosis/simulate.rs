//! Every printed fix is simulated before it is shown (issue 11): its changes are applied
//! to a copy of the snapshot and the diagnosis runs again for the finding's own subject
//! (does the finding go?) and for every subnet of the snapshot whose paths cross a changed
//! resource (does a new error appear anywhere?). Where the first alternative breaks
//! something, the next one is tried (a new route table for the function's subnet instead
//! of editing one the NAT gateway's subnet shares). `what_if` answers the same question
//! for a change the operator is about to make.
//!
//! Incremental: a subnet is re-evaluated only when one of its baseline paths crosses a
//! resource the change touches, its route table or NACL is touched, or the change names
//! it; changes to VPC-wide settings (DHCP, DNS attributes, internet gateways, Block
//! Public Access, a function's configuration) re-evaluate every subnet.

use super::index::Index;
use super::{Diagnosis, Flow, Subject, diagnose_with};
pub use crate::model::FixProof;
use crate::model::{Change, Finding, NetworkSnapshot, Observation, PathVerdict, Severity};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What a change does to one subnet and target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Effect {
    pub subnet_id: String,
    /// The target, or `-` for subnet-wide findings.
    pub target: String,
    /// `fixes` (a blocked path becomes reachable / an error goes) or `breaks`.
    pub effect: &'static str,
    /// The finding code or path verdict behind it.
    pub detail: String,
}

/// The answer to `--what-if`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIf {
    pub effects: Vec<Effect>,
    /// A change AWS would refuse, and why (nothing after it is applied).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    pub evaluated_subnets: usize,
}

/// Per-subnet state of the baseline: its error keys and its paths' verdicts.
#[derive(Debug, Clone, Default)]
struct SubnetState {
    errors: BTreeSet<String>,
    /// `target|destination` → blocked?
    blocked: BTreeMap<String, bool>,
    /// Resource IDs its paths cross.
    crosses: BTreeSet<String>,
}

/// The evaluation of a set of subnets: per subnet, and the errors that name no subnet
/// (a security group's, the same from every subnet).
#[derive(Debug, Clone, Default)]
struct State {
    subnets: BTreeMap<String, SubnetState>,
    global: BTreeSet<String>,
    /// Every finding, by code, subnet, resources and summary (the finding itself).
    all: BTreeSet<String>,
}

fn finding_key(f: &Finding) -> String {
    format!(
        "{}|{}|{}|{}",
        f.code,
        f.subnet_id.as_deref().unwrap_or("-"),
        f.resources.join(","),
        f.summary
    )
}

fn error_key(f: &Finding) -> String {
    format!(
        "{} on {}",
        f.code,
        f.subnet_id.clone().unwrap_or_else(|| f.resources.join(","))
    )
}

/// The groups a subnet's ENI would use: the subject's in its VPC, else the VPC's default.
fn groups_for(snap: &NetworkSnapshot, subject: &Subject, vpc: &str) -> Vec<String> {
    let own: Vec<String> = subject
        .security_group_ids
        .iter()
        .filter(|g| snap.security_group(g).is_some_and(|sg| sg.vpc_id == vpc))
        .cloned()
        .collect();
    if !own.is_empty() {
        return own;
    }
    snap.security_groups
        .iter()
        .find(|g| g.vpc_id == vpc && g.name.as_deref() == Some("default"))
        .map(|g| vec![g.id.clone()])
        .unwrap_or_default()
}

/// Evaluates `subnets` of `snap` as functions there would see them: one diagnosis per
/// VPC. A subnet that hosts a NAT gateway is not a place for functions (R9, R12): its own
/// egress is not a function's path, and it is left out.
fn evaluate(
    ix: &Index<'_>,
    subject: &Subject,
    flows: &[Flow],
    names: &[String],
    subnets: &[String],
) -> State {
    let snap = ix.snap;
    let mut by_vpc: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for id in subnets {
        if let Some(s) = snap.subnet(id)
            && super::hosts_nat_gateway(ix, id).is_none()
        {
            by_vpc
                .entry(s.vpc_id.as_str())
                .or_default()
                .push(id.clone());
        }
    }
    let mut st = State::default();
    for (vpc, ids) in by_vpc {
        for id in &ids {
            st.subnets.insert(id.clone(), base_state(snap, id));
        }
        let sub = Subject {
            function: None,
            subnet_ids: ids,
            security_group_ids: groups_for(snap, subject, vpc),
        };
        let d = diagnose_with(ix, &sub, flows, names, &[]);
        collect(&mut st, &d);
    }
    st
}

/// A subnet's own route table, NACL and ID: what it crosses before any path.
fn base_state(snap: &NetworkSnapshot, id: &str) -> SubnetState {
    let mut sub = SubnetState::default();
    if let Some(t) = snap.effective_route_table(id) {
        sub.crosses.insert(t.id.clone());
    }
    if let Some(a) = snap.network_acl_for_subnet(id) {
        sub.crosses.insert(a.id.clone());
    }
    sub.crosses.insert(id.to_string());
    sub
}

/// Adds a diagnosis of some of `st`'s subnets to it.
fn collect(st: &mut State, d: &Diagnosis) {
    // R4 compares a function's subnets: a fix that repairs one of them first makes
    // them differ; that is progress, not a new fault.
    let compared = |f: &&Finding| f.code != "FUNCTION_SUBNETS_DIFFER";
    st.all.extend(d.findings.iter().map(finding_key));
    for f in d
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .filter(compared)
    {
        match f.subnet_id.as_ref().and_then(|s| st.subnets.get_mut(s)) {
            Some(s) => {
                s.errors.insert(error_key(f));
            }
            None => {
                st.global.insert(error_key(f));
            }
        }
    }
    for p in &d.paths {
        let Some(s) = st.subnets.get_mut(&p.subnet_id) else {
            continue;
        };
        let key = format!(
            "{}|{}",
            p.target.clone().unwrap_or_else(|| "-".into()),
            p.destination
        );
        let blocked = p.verdict == PathVerdict::Blocked;
        let e = s.blocked.entry(key).or_insert(false);
        *e |= blocked;
        for h in &p.hops {
            s.crosses.extend(h.id.split(',').map(str::to_string));
            s.crosses.extend(h.subnet_id.iter().cloned());
        }
    }
}

/// The baseline of every subnet of the snapshot.
pub struct Baseline<'a> {
    snap: &'a NetworkSnapshot,
    subject: &'a Subject,
    flows: &'a [Flow],
    /// Names whose resolution is predicted (`dns:` targets, R58-R62): a change that
    /// breaks one is a side effect like a blocked path.
    names: &'a [String],
    /// What the probe observed (the subject's): a finding raised to explain an
    /// observation (DNS Firewall failing closed, R61) is cleared only if, with the same
    /// observations, the changed configuration no longer gives it as the explanation.
    observations: &'a [Observation],
    state: State,
}

impl<'a> Baseline<'a> {
    pub fn new(
        snap: &'a NetworkSnapshot,
        subject: &'a Subject,
        flows: &'a [Flow],
        names: &'a [String],
    ) -> Self {
        let all: Vec<String> = snap.subnets.iter().map(|s| s.id.clone()).collect();
        let state = evaluate(&Index::new(snap), subject, flows, names, &all);
        Self {
            snap,
            subject,
            flows,
            names,
            observations: &[],
            state,
        }
    }

    /// The same baseline, with the observations the subject's findings explain.
    pub fn with_observations(mut self, observations: &'a [Observation]) -> Self {
        self.observations = observations;
        self
    }

    /// The baseline from the subject's own diagnosis `d`, when the subject is every
    /// function-less subnet of a one-VPC snapshot with the groups the simulation uses
    /// (`diagnose --vpc`): no second diagnosis. Else [`Baseline::new`].
    pub fn from_diagnosis(
        snap: &'a NetworkSnapshot,
        subject: &'a Subject,
        flows: &'a [Flow],
        names: &'a [String],
        d: &Diagnosis,
    ) -> Self {
        let all: BTreeSet<&str> = snap.subnets.iter().map(|s| s.id.as_str()).collect();
        let named: BTreeSet<&str> = subject.subnet_ids.iter().map(String::as_str).collect();
        let same = subject.function.is_none()
            && snap.vpcs.len() == 1
            && all.len() > 1
            && all == named
            && snap
                .vpcs
                .first()
                .is_some_and(|v| groups_for(snap, subject, &v.id) == subject.security_group_ids);
        if !same {
            return Self::new(snap, subject, flows, names);
        }
        let ix = Index::new(snap);
        let mut state = State::default();
        for id in &subject.subnet_ids {
            if super::hosts_nat_gateway(&ix, id).is_none() {
                state.subnets.insert(id.clone(), base_state(snap, id));
            }
        }
        collect(&mut state, d);
        Self {
            snap,
            subject,
            flows,
            names,
            observations: &[],
            state,
        }
    }

    /// Subnets whose paths a change can alter.
    fn affected(&self, changes: &[Change]) -> Vec<String> {
        if changes.iter().any(Change::is_global) {
            return self.snap.subnets.iter().map(|s| s.id.clone()).collect();
        }
        let touched: BTreeSet<String> = changes.iter().flat_map(Change::touched).collect();
        self.state
            .subnets
            .iter()
            .filter(|(_, st)| st.crosses.iter().any(|r| touched.contains(r)))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Applies `changes` to a copy; the copy, or the first refusal.
    fn apply(&self, changes: &[Change]) -> Result<NetworkSnapshot, String> {
        let mut copy = self.snap.clone();
        for c in changes {
            c.apply(&mut copy)
                .map_err(|e| format!("{}: {e}", verb(c)))?;
        }
        Ok(copy)
    }

    /// What a change does to every affected subnet and target.
    pub fn what_if(&self, changes: &[Change]) -> WhatIf {
        let copy = match self.apply(changes) {
            Ok(c) => c,
            Err(e) => {
                return WhatIf {
                    effects: vec![],
                    refused: Some(e),
                    evaluated_subnets: 0,
                };
            }
        };
        let affected = self.affected(changes);
        let after = evaluate(
            &Index::new(&copy),
            self.subject,
            self.flows,
            self.names,
            &affected,
        );
        let mut effects = Vec::new();
        let none = SubnetState::default();
        for id in &affected {
            let before = self.state.subnets.get(id).unwrap_or(&none);
            let now = after.subnets.get(id).unwrap_or(&none);
            for (key, was) in &before.blocked {
                let target = key.split('|').next().unwrap_or("-").to_string();
                match (was, now.blocked.get(key)) {
                    (true, Some(false)) => effects.push(Effect {
                        subnet_id: id.clone(),
                        target,
                        effect: "fixes",
                        detail: "blocked -> reachable".into(),
                    }),
                    (false, Some(true)) => effects.push(Effect {
                        subnet_id: id.clone(),
                        target,
                        effect: "breaks",
                        detail: "reachable -> blocked".into(),
                    }),
                    _ => {}
                }
            }
            for e in now.errors.difference(&before.errors) {
                effects.push(Effect {
                    subnet_id: id.clone(),
                    target: "-".into(),
                    effect: "breaks",
                    detail: e.clone(),
                });
            }
            for e in before.errors.difference(&now.errors) {
                effects.push(Effect {
                    subnet_id: id.clone(),
                    target: "-".into(),
                    effect: "fixes",
                    detail: e.clone(),
                });
            }
        }
        // Errors that name no subnet (a security group's): new ones break; gone ones
        // count only when every subnet was re-evaluated.
        for e in after.global.difference(&self.state.global) {
            effects.push(Effect {
                subnet_id: "-".into(),
                target: "-".into(),
                effect: "breaks",
                detail: e.clone(),
            });
        }
        if affected.len() == self.snap.subnets.len() {
            for e in self.state.global.difference(&after.global) {
                effects.push(Effect {
                    subnet_id: "-".into(),
                    target: "-".into(),
                    effect: "fixes",
                    detail: e.clone(),
                });
            }
        }
        // What the change opens beyond any path evaluated, in words (R20/R21).
        for detail in side_effects(self.snap, changes) {
            effects.push(Effect {
                subnet_id: "-".into(),
                target: "-".into(),
                effect: "opens",
                detail,
            });
        }
        effects.sort_by(|a, b| {
            (&a.subnet_id, &a.target, a.effect, &a.detail).cmp(&(
                &b.subnet_id,
                &b.target,
                b.effect,
                &b.detail,
            ))
        });
        effects.dedup();
        WhatIf {
            effects,
            refused: None,
            evaluated_subnets: affected.len(),
        }
    }

    /// Simulates one alternative for `finding` of the subject's diagnosis.
    fn prove_one(
        &self,
        index: usize,
        finding: &Finding,
        alt: usize,
        changes: &[Change],
    ) -> FixProof {
        let mut proof = FixProof {
            finding: index,
            code: finding.code.clone(),
            subnet_id: finding.subnet_id.clone(),
            alternative: alt,
            changes: changes.to_vec(),
            clears: false,
            breaks: vec![],
            refused: None,
            evaluated_subnets: 0,
            side_effects: side_effects(self.snap, changes),
        };
        let copy = match self.apply(changes) {
            Ok(c) => c,
            Err(e) => {
                proof.refused = Some(e);
                return proof;
            }
        };
        let ix = Index::new(&copy);
        // Does a new error appear anywhere its change reaches?
        let affected = self.affected(changes);
        proof.evaluated_subnets = affected.len();
        let now = evaluate(&ix, self.subject, self.flows, self.names, &affected);
        let none = SubnetState::default();
        let mut breaks: BTreeSet<String> =
            now.global.difference(&self.state.global).cloned().collect();
        for (id, after) in &now.subnets {
            let before = self.state.subnets.get(id).unwrap_or(&none);
            for e in after.errors.difference(&before.errors) {
                breaks.insert(e.clone());
            }
            for (key, was) in &before.blocked {
                if !was && after.blocked.get(key) == Some(&true) {
                    let target = key.split('|').next().unwrap_or("-");
                    breaks.insert(format!("{target} from {id}"));
                }
            }
        }
        // Does the finding go, for its own subject? With no function, the evaluation
        // above already holds the finding's subnet (or every subnet, for one that names
        // none); else the subject is diagnosed again.
        let covered = match &finding.subnet_id {
            Some(s) => now.subnets.contains_key(s),
            None => now.subnets.len() == self.state.subnets.len(),
        };
        // A finding that explains observations is judged with them (R61 fail-closed is
        // raised only to explain an observed failure).
        let observed = !finding.explains.is_empty();
        proof.clears = if self.subject.function.is_none() && covered && !observed {
            !now.all.contains(&finding_key(finding))
        } else {
            let mut sub = self.subject.clone();
            if let Some(s) = &finding.subnet_id
                && sub.subnet_ids.contains(s)
            {
                sub.subnet_ids = vec![s.clone()];
            }
            let obs = if observed { self.observations } else { &[] };
            let after = diagnose_with(&ix, &sub, self.flows, self.names, obs);
            !after
                .findings
                .iter()
                .any(|g| finding_key(g) == finding_key(finding))
        };
        proof.breaks = breaks.into_iter().collect();
        proof
    }
}

/// What `changes` open that a path evaluation does not show, in words: a NACL deny that
/// is deleted (or replaced by an allow) stops blocking everything it covered (R20/R21;
/// issue 11: the side effect of deleting a deliberate deny is said, never hidden).
fn side_effects(snap: &NetworkSnapshot, changes: &[Change]) -> Vec<String> {
    let mut out = Vec::new();
    for c in changes {
        let (acl, egress, n) = match c {
            Change::DeleteNaclEntry {
                acl,
                egress,
                rule_number,
            } => (acl, *egress, *rule_number),
            Change::ReplaceNaclEntry { acl, entry }
                if entry.action == crate::model::RuleAction::Allow =>
            {
                (acl, entry.egress, entry.rule_number)
            }
            _ => continue,
        };
        let Some(e) = snap
            .network_acls
            .iter()
            .find(|a| &a.id == acl)
            .and_then(|a| {
                a.entries
                    .iter()
                    .find(|e| e.egress == egress && e.rule_number == n)
            })
            .filter(|e| e.action == crate::model::RuleAction::Deny)
        else {
            continue;
        };
        out.push(format!(
            "{acl} no longer denies {} (rule {n})",
            super::fixes::deny_scope(e)
        ));
    }
    out
}

fn verb(c: &Change) -> String {
    let line = c.cli();
    line.split_whitespace()
        .find(|w| !w.contains('=') && *w != "aws" && *w != "ec2" && *w != "lambda")
        .map(|w| w.trim_start_matches("$(").to_string())
        .unwrap_or(line)
}

/// Simulates every fix of `d` (the subject's diagnosis) and chooses, per finding, the
/// first alternative that clears it and breaks nothing (else the first that applies);
/// the finding's printed commands follow the choice. One proof per finding with a fix.
pub fn prove_fixes(
    snapshot: &NetworkSnapshot,
    subject: &Subject,
    flows: &[Flow],
    names: &[String],
    d: &mut Diagnosis,
) -> Vec<FixProof> {
    let base = Baseline::from_diagnosis(snapshot, subject, flows, names, d);
    prove_with(&base, d)
}

/// [`prove_fixes`] for a diagnosis that reconciled `observations` (a probe's report):
/// findings raised to explain them are proven against them too.
pub fn prove_fixes_observed(
    snapshot: &NetworkSnapshot,
    subject: &Subject,
    flows: &[Flow],
    names: &[String],
    observations: &[Observation],
    d: &mut Diagnosis,
) -> Vec<FixProof> {
    let base = Baseline::from_diagnosis(snapshot, subject, flows, names, d)
        .with_observations(observations);
    prove_with(&base, d)
}

/// [`prove_fixes`] with a baseline already made (the benchmark and `--what-if` share it).
pub fn prove_with(base: &Baseline<'_>, d: &mut Diagnosis) -> Vec<FixProof> {
    let mut proofs = Vec::new();
    for (i, f) in d.findings.iter_mut().enumerate() {
        let Some(alternatives) = d.fix_changes.get(i) else {
            continue;
        };
        let mut chosen: Option<FixProof> = None;
        for (n, alt) in alternatives.iter().enumerate() {
            let p = base.prove_one(i, f, n, alt);
            let done = p.proven();
            if chosen
                .as_ref()
                .is_none_or(|c| c.refused.is_some() && p.refused.is_none())
                || done
            {
                chosen = Some(p);
            }
            if done {
                break;
            }
        }
        if let Some(p) = chosen {
            if p.alternative != 0 {
                f.fix_commands = p.changes.iter().map(Change::cli).collect();
            }
            proofs.push(p);
        }
    }
    proofs
}
