//! The diagnosis engine: pure functions from a `NetworkSnapshot` and observations to
//! findings and hop-by-hop paths. No I/O, no SDK types, no clock.

mod bpa;
mod catalog;
mod dns;
mod dns64;
mod dns_forward;
mod dns_resolution;
mod firewall_policy;
mod fix_changes;
mod fixes;
mod function;
mod index;
mod lookup;
mod nacl;
mod nat_choice;
mod reconcile;
mod routes;
mod security_groups;
mod services;
pub mod simulate;
mod state;
mod step;
mod walk;

use crate::model::{
    CheckKind, Confirmation, Finding, NetworkSnapshot, Observation, PathEvaluation, Protocol,
};
use reconcile::{Evaluated, Slot};
use std::collections::{BTreeSet, HashMap};

use std::net::IpAddr;

pub use catalog::CODES as FINDING_CODES;
pub use fix_changes::{ADVICE_ONLY, advice_only};

/// Whose egress is analysed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// Function name, when the subject is a function (R1-R4 use its configuration).
    pub function: Option<String>,
    /// The subnets analysed (the function's, or the probe's own).
    pub subnet_ids: Vec<String>,
    /// Security groups of the ENI (empty: the function's from the snapshot).
    pub security_group_ids: Vec<String>,
}

/// One flow to evaluate: a destination address, protocol and port, for a planned target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// The planned target this flow serves (`tcp://host:443`), for matching observations.
    pub target: String,
    /// The host name, when the target had one (for R29 endpoint private DNS).
    pub host: Option<String>,
    pub destination: IpAddr,
    pub protocol: Protocol,
    pub port: u16,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnosis {
    pub findings: Vec<Finding>,
    pub paths: Vec<PathEvaluation>,
    /// For each finding (same index): its fix as changes, alternatives in order of
    /// preference (issue 11); empty for advice. `fix_commands` render the first.
    pub fix_changes: Vec<Vec<Vec<crate::model::Change>>>,
}

/// Evaluates every (subnet, flow) of `subject`, and reconciles the prediction with
/// `observations` (which may be empty for a configuration-only analysis).
pub fn diagnose(
    snapshot: &NetworkSnapshot,
    subject: &Subject,
    flows: &[Flow],
    observations: &[Observation],
) -> Diagnosis {
    diagnose_names(snapshot, subject, flows, &[], observations)
}

/// As `diagnose`, and predicts how each of `names` resolves from each subnet through
/// Amazon DNS (R58-R62: DNS Firewall verdict, Resolver rule, private zone, forward
/// targets), reported as a `dns:NAME` path. Names the probe observed (its `dns:` checks)
/// are analysed too, to explain what it saw, without a path of their own.
pub fn diagnose_names(
    snapshot: &NetworkSnapshot,
    subject: &Subject,
    flows: &[Flow],
    names: &[String],
    observations: &[Observation],
) -> Diagnosis {
    let ix = index::Index::new(snapshot);
    diagnose_with(&ix, subject, flows, names, observations)
}

/// [`diagnose_names`] with the snapshot's index already built (the simulation re-diagnoses
/// one copy several times). The body keeps `&ix` as `diagnose` had it (merge-friendly).
#[allow(clippy::needless_borrow)]
pub(crate) fn diagnose_with(
    ix: &index::Index<'_>,
    subject: &Subject,
    flows: &[Flow],
    names: &[String],
    observations: &[Observation],
) -> Diagnosis {
    let snapshot = ix.snap;
    let mut all_names: Vec<(String, bool)> = names
        .iter()
        .map(|n| (crate::model::normalise_name(n), true))
        .collect();
    for o in observations.iter().filter(|o| o.kind == CheckKind::Dns) {
        let n = crate::model::normalise_name(&o.host);
        if !n.is_empty() && !all_names.iter().any(|(m, _)| *m == n) {
            all_names.push((n, false));
        }
    }
    let mut name_evals: Vec<dns_resolution::NameEval> = Vec::new();
    let mut forward = dns_forward::Cache::default();
    let function = subject
        .function
        .as_deref()
        .and_then(|n| snapshot.function(n));
    let mut slots: Vec<Slot> = Vec::new();
    let add = |slots: &mut Vec<Slot>, issue: catalog::Issue| {
        slots.push(Slot {
            issue,
            explains: BTreeSet::new(),
        });
        slots.len() - 1
    };
    if let Some(f) = function {
        for i in function::check(&ix, f) {
            add(&mut slots, i);
        }
    }
    let subnet_ids: Vec<String> = if !subject.subnet_ids.is_empty() {
        subject.subnet_ids.clone()
    } else {
        function.map(|f| f.subnet_ids.clone()).unwrap_or_default()
    };
    let mut evaluated: Vec<Evaluated> = Vec::new();
    let mut vpc: Option<String> = None;
    for sid in &subnet_ids {
        let Some(subnet) = ix.subnet(sid) else {
            add(
                &mut slots,
                catalog::Issue::SubnetNotInSnapshot {
                    subnet: sid.clone(),
                    what: "subnet".into(),
                },
            );
            continue;
        };
        vpc.get_or_insert_with(|| subnet.vpc_id.clone());
        // Issue 11 (R9, R12): with no function, a subnet that hosts a NAT gateway (or uses
        // its subnet's route table) is public by design: say so, and evaluate no Lambda
        // egress from it (its only "fix" would re-route the NAT gateway's own subnet). A
        // subnet named alone is evaluated as asked (what a function there would get).
        if function.is_none()
            && subnet_ids.len() > 1
            && let Some(nat) = hosts_nat_gateway(&ix, sid)
        {
            add(
                &mut slots,
                catalog::Issue::SubnetHostsNatGateway {
                    subnet: sid.clone(),
                    nat,
                },
            );
            continue;
        }
        let src = function::source(&ix, subnet, function, &subject.security_group_ids);
        for flow in flows {
            let (eval, issues) = walk::evaluate(&ix, &src, flow);
            let ids = issues.into_iter().map(|i| add(&mut slots, i)).collect();
            evaluated.push(Evaluated {
                eval,
                slots: ids,
                dns: false,
            });
        }
        let res = dns::resolvers(&ix, &subnet.vpc_id, observations);
        let (issues, paths) = dns::analyse(&ix, &src, &res);
        let dns_slots: Vec<usize> = issues.into_iter().map(|i| add(&mut slots, i)).collect();
        // R25: with no DHCP options nothing resolves: each named target is blocked there.
        if res.none {
            for (name, _) in all_names.iter().filter(|(_, explicit)| *explicit) {
                evaluated.push(Evaluated {
                    eval: dns::no_dns_path(&ix, sid, &subnet.vpc_id, name),
                    slots: dns_slots.clone(),
                    dns: true,
                });
            }
        }
        // R63: NAT64/DNS64 for IPv6 subnets.
        for i in dns64::check(&ix, subnet, function) {
            add(&mut slots, i);
        }
        // R58-R62: names resolved through Amazon DNS (Resolver rules apply to queries
        // sent to the VPC resolver only, R25).
        if res.amazon {
            for (name, explicit) in &all_names {
                let mut ne = dns_resolution::resolve(&ix, &subnet.vpc_id, sid, name, &mut forward);
                ne.slots = std::mem::take(&mut ne.issues)
                    .into_iter()
                    .map(|i| add(&mut slots, i))
                    .collect();
                if *explicit {
                    evaluated.push(Evaluated {
                        eval: ne.eval.clone(),
                        slots: ne.slots.clone(),
                        dns: true,
                    });
                }
                name_evals.push(ne);
            }
            for (eval, issues) in forward.take_paths() {
                let ids = issues.into_iter().map(|i| add(&mut slots, i)).collect();
                evaluated.push(Evaluated {
                    eval,
                    slots: ids,
                    dns: true,
                });
            }
        }
        for (eval, issues) in paths {
            let ids = issues.into_iter().map(|i| add(&mut slots, i)).collect();
            evaluated.push(Evaluated {
                eval,
                slots: ids,
                dns: true,
            });
        }
    }
    if subnet_ids.len() > 1 {
        let flow_paths: Vec<&PathEvaluation> = evaluated
            .iter()
            .filter(|e| !e.dns)
            .map(|e| &e.eval)
            .collect();
        if function.is_some() {
            if let Some(i) =
                function::subnets_differ(function, &subject.security_group_ids, &flow_paths)
            {
                add(&mut slots, i);
            }
        } else {
            // R4 is about one function's subnets: with no function subject, compare only
            // the subnets each function of the snapshot has (issue 11).
            for f in &snapshot.functions {
                let own: Vec<&PathEvaluation> = flow_paths
                    .iter()
                    .copied()
                    .filter(|p| f.subnet_ids.contains(&p.subnet_id))
                    .collect();
                if let Some(i) = function::subnets_differ(Some(f), &[], &own) {
                    add(&mut slots, i);
                }
            }
        }
    }
    reconcile::reconcile(observations, &evaluated, &mut slots, vpc, &name_evals);
    let explicit = |subnet: &str| {
        snapshot
            .route_tables
            .iter()
            .any(|t| t.subnet_ids.iter().any(|s| s == subnet))
    };
    let (findings, fix_changes) = render(slots, &explicit);
    Diagnosis {
        findings,
        paths: evaluated.into_iter().map(|e| e.eval).collect(),
        fix_changes,
    }
}

/// The NAT gateway a subnet hosts, or whose subnet's route table it uses (R12): such a
/// subnet is public by design.
pub(crate) fn hosts_nat_gateway(ix: &index::Index<'_>, subnet_id: &str) -> Option<String> {
    let live = |n: &&crate::model::NatGateway| !matches!(n.state.as_str(), "deleted" | "deleting");
    if let Some(n) = ix
        .snap
        .nat_gateways
        .iter()
        .filter(live)
        .find(|n| n.subnet_id.as_deref() == Some(subnet_id))
    {
        return Some(n.id.clone());
    }
    let rtb = ix.effective_route_table(subnet_id)?;
    ix.snap
        .nat_gateways
        .iter()
        .filter(live)
        .find(|n| {
            n.subnet_id
                .as_deref()
                .and_then(|s| ix.effective_route_table(s))
                .is_some_and(|t| t.id == rtb.id)
        })
        .map(|n| n.id.clone())
}

/// A finding with its fix as changes: the command lines are rendered from the first
/// alternative (issue 11: one renderer). A comment the catalogue adds to a single command
/// (a side effect in words) is kept after it.
fn with_changes(mut f: Finding, alternatives: &[Vec<crate::model::Change>]) -> Finding {
    if let Some(first) = alternatives.first() {
        let comment = match f.fix_commands.as_slice() {
            [one] if first.len() == 1 => one.split_once("  # ").map(|(_, c)| c.to_string()),
            _ => None,
        };
        f.fix_commands = first.iter().map(crate::model::Change::cli).collect();
        if let (Some(c), Some(last)) = (comment, f.fix_commands.last_mut()) {
            last.push_str("  # ");
            last.push_str(&c);
        }
    }
    f
}

/// Merges issues raised by several flows/subnets into one finding each, and orders them.
type Alternatives = Vec<Vec<crate::model::Change>>;

fn render(slots: Vec<Slot>, explicit: &dyn Fn(&str) -> bool) -> (Vec<Finding>, Vec<Alternatives>) {
    let mut merged: Vec<(Finding, Alternatives)> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for s in slots {
        let confirmation = s.issue.fixed_confirmation().unwrap_or_else(|| {
            if s.issue.blocks_path() && !s.issue.is_not_verifiable() {
                Confirmation::Predicted
            } else {
                Confirmation::NotApplicable
            }
        });
        let alternatives = s.issue.changes(explicit);
        let finding = with_changes(s.issue.render(confirmation, Vec::new()), &alternatives);
        let key = catalog::dedup_key(&finding);
        let index = match by_key.get(&key) {
            Some(i) => *i,
            None => {
                by_key.insert(key, merged.len());
                merged.push((finding, alternatives));
                merged.len() - 1
            }
        };
        if let Some((m, _)) = merged.get_mut(index) {
            for id in s.explains {
                if !m.explains.contains(&id) {
                    m.explains.push(id);
                }
            }
            // Observations that a configuration cause explains confirm it; for a hop the
            // snapshot cannot follow, they point beyond what it proves.
            if !m.explains.is_empty() && s.issue.fixed_confirmation().is_none() {
                m.confirmation = if s.issue.is_not_verifiable() {
                    Confirmation::BeyondVpc
                } else {
                    Confirmation::Confirmed
                };
            }
        }
    }
    for (f, _) in &mut merged {
        f.explains.sort();
    }
    merged.sort_by(|(a, _), (b, _)| {
        (a.severity, &a.code, &a.subnet_id, &a.resources, &a.summary).cmp(&(
            b.severity,
            &b.code,
            &b.subnet_id,
            &b.resources,
            &b.summary,
        ))
    });
    merged.into_iter().unzip()
}

/// The flows behind a probe's observations (one per TCP/HTTPS address tried). DNS
/// observations are not flows: the DNS rules read their servers.
pub fn flows_from_observations(observations: &[Observation]) -> Vec<Flow> {
    let mut flows: Vec<Flow> = Vec::new();
    for o in observations {
        if !matches!(o.kind, CheckKind::Tcp | CheckKind::Https) {
            continue;
        }
        let (Some(destination), Some(port)) = (o.address, o.port) else {
            continue;
        };
        let flow = Flow {
            target: o.target.clone(),
            host: if o.host.parse::<IpAddr>().is_ok() || o.host.is_empty() {
                None
            } else {
                Some(o.host.clone())
            },
            destination,
            protocol: Protocol::TCP,
            port,
        };
        if !flows.contains(&flow) {
            flows.push(flow);
        }
    }
    flows
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{Family, Phases, Status};

    fn obs(id: &str, kind: CheckKind, addr: Option<&str>, port: Option<u16>) -> Observation {
        Observation {
            id: id.into(),
            target: "https://example.com/".into(),
            kind,
            host: "example.com".into(),
            port,
            address: addr.map(|a| a.parse().unwrap()),
            family: addr.map(|a| Family::of(&a.parse().unwrap())),
            status: Status::Ok,
            failed_phase: None,
            os_error: None,
            detail: None,
            phases: Phases::default(),
            http_status: None,
            proxy: None,
            dns: None,
            timeout_ms: 1000,
        }
    }

    #[test]
    fn flows_one_per_tcp_address_and_none_for_dns() {
        let o = vec![
            obs("a", CheckKind::Https, Some("192.0.2.1"), Some(443)),
            obs("b", CheckKind::Https, Some("2001:db8::1"), Some(443)),
            obs("c", CheckKind::Dns, None, None),
            obs("d", CheckKind::Https, Some("192.0.2.1"), Some(443)),
            obs("e", CheckKind::Tcp, None, Some(443)),
        ];
        let f = flows_from_observations(&o);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].host.as_deref(), Some("example.com"));
        assert_eq!(f[0].protocol, Protocol::TCP);
        assert_eq!(f[1].destination, "2001:db8::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn every_code_has_one_severity() {
        let mut codes: Vec<&str> = FINDING_CODES.iter().map(|(c, _)| *c).collect();
        let n = codes.len();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), n);
    }
}
