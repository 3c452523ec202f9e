//! Reconciles what the configuration predicts with what the probe observed: a timeout the
//! configuration explains is confirmed; one it does not explain points beyond the VPC
//! (R32-R35); a success it calls impossible is an inconsistency; a refusal, reset, TLS
//! alert or HTTP error proves the path and blames the destination (R36) — unless a
//! firewall reject on the path explains the reset, or a firewall block of the ClientHello
//! explains a TLS stall after TCP connected (R53).

use super::catalog::{DestFailure, Issue};
use crate::model::{CheckKind, Observation, PathEvaluation, PathVerdict, Status};
use std::collections::BTreeSet;

/// An issue with the observations it explains.
pub(crate) struct Slot {
    pub issue: Issue,
    pub explains: BTreeSet<String>,
}

/// An evaluated path and the slots (by index) its walk raised.
pub(crate) struct Evaluated {
    pub eval: PathEvaluation,
    pub slots: Vec<usize>,
    /// A path to a DNS server (R25), not one of the caller's flows.
    pub dns: bool,
}

fn broken(v: PathVerdict) -> bool {
    matches!(v, PathVerdict::Blocked | PathVerdict::Intermittent)
}

fn verdict_text(paths: &[&Evaluated]) -> String {
    let mut v: Vec<String> = paths
        .iter()
        .map(|p| {
            let verdict = match p.eval.verdict {
                PathVerdict::Reachable => "reachable",
                PathVerdict::Blocked => "blocked",
                PathVerdict::Intermittent => "intermittent",
                PathVerdict::NotVerifiable => "not verifiable",
            };
            format!("{verdict} from {}", p.eval.subnet_id)
        })
        .collect();
    v.dedup();
    v.join(", ")
}

pub(crate) fn reconcile(
    observations: &[Observation],
    evaluated: &[Evaluated],
    slots: &mut Vec<Slot>,
    vpc: Option<String>,
    names: &[super::dns_resolution::NameEval],
) {
    for o in observations {
        match o.kind {
            // R58-R62: the rule, zone or firewall rule that decides the name explains it.
            CheckKind::Dns if super::dns_resolution::explain(o, names, slots) => {}
            CheckKind::Dns => dns_observation(o, evaluated, slots, vpc.clone()),
            CheckKind::Tcp | CheckKind::Https => flow_observation(o, evaluated, slots),
        }
    }
}

pub(crate) fn push(slots: &mut Vec<Slot>, issue: Issue, obs: &str) {
    let mut explains = BTreeSet::new();
    explains.insert(obs.to_string());
    slots.push(Slot { issue, explains });
}

fn flow_observation(o: &Observation, evaluated: &[Evaluated], slots: &mut Vec<Slot>) {
    let Some(addr) = o.address else { return };
    let matching: Vec<&Evaluated> = evaluated
        .iter()
        .filter(|e| {
            !e.dns
                && e.eval.target.as_deref() == Some(o.target.as_str())
                && e.eval.destination == addr
        })
        .collect();
    if matching.is_empty() || matches!(o.status, Status::CutShort | Status::Error) {
        // Inconclusive: the check did not finish or could not run.
        return;
    }
    let all_blocked = matching
        .iter()
        .all(|e| e.eval.verdict == PathVerdict::Blocked);
    let inconsistent = |slots: &mut Vec<Slot>, observed: &str| {
        push(
            slots,
            Issue::AnalysisInconsistent {
                target: o.target.clone(),
                destination: Some(addr),
                observed: observed.to_string(),
                predicted: verdict_text(&matching),
            },
            &o.id,
        );
    };
    // R53: a firewall reject on the path explains a reset; a firewall block of the
    // ClientHello / request explains a TLS handshake that stalls after TCP connected.
    let firewall_explains = |slots: &mut Vec<Slot>, hit: &dyn Fn(&Issue) -> bool| {
        let mut explained = false;
        for e in matching.iter().filter(|e| broken(e.eval.verdict)) {
            for i in &e.slots {
                if let Some(s) = slots.get_mut(*i)
                    && hit(&s.issue)
                {
                    s.explains.insert(o.id.clone());
                    explained = true;
                }
            }
        }
        explained
    };
    match o.status {
        Status::Reset if firewall_explains(slots, &|i: &Issue| i.resets()) => return,
        Status::TlsTimeout if firewall_explains(slots, &|i: &Issue| i.application_stage()) => {
            return;
        }
        _ => {}
    }
    let dest_failure = match o.status {
        Status::Refused => Some(DestFailure::Refused),
        Status::Reset => Some(DestFailure::Reset),
        Status::TlsAlert | Status::TlsCertificate | Status::TlsError => Some(DestFailure::Tls),
        Status::HttpStatus => Some(DestFailure::Http(o.http_status)),
        _ => None,
    };
    if let Some(failure) = dest_failure {
        // R36: the far end answered, so the VPC path works.
        push(
            slots,
            Issue::DestinationFailed {
                target: o.target.clone(),
                destination: Some(addr),
                failure,
                detail: o.detail.clone().or(o.os_error.clone()),
            },
            &o.id,
        );
        if all_blocked {
            inconsistent(slots, o.status.as_str());
        }
        return;
    }
    match o.status {
        Status::Ok if all_blocked => inconsistent(slots, "ok"),
        Status::TlsTimeout if all_blocked => inconsistent(slots, "TCP connected, TLS timed out"),
        Status::Timeout | Status::Unreachable | Status::TlsTimeout => {
            let mut explained = false;
            for e in matching.iter().filter(|e| broken(e.eval.verdict)) {
                for i in &e.slots {
                    // A block of the ClientHello lets TCP connect: it does not explain a
                    // connect timeout (R53).
                    if let Some(s) = slots.get_mut(*i)
                        && s.issue.blocks_path()
                        && !s.issue.is_not_verifiable()
                        && !(s.issue.application_stage() && o.status != Status::TlsTimeout)
                    {
                        s.explains.insert(o.id.clone());
                        explained = true;
                    }
                }
            }
            if explained {
                return;
            }
            for e in matching
                .iter()
                .filter(|e| e.eval.verdict == PathVerdict::NotVerifiable)
            {
                for i in &e.slots {
                    if let Some(s) = slots.get_mut(*i)
                        && s.issue.is_not_verifiable()
                    {
                        s.explains.insert(o.id.clone());
                        explained = true;
                    }
                }
            }
            if explained {
                return;
            }
            let mut nats: Vec<String> = matching
                .iter()
                .flat_map(|e| e.eval.hops.iter())
                .filter(|h| h.component == "nat_gateway")
                .map(|h| h.id.clone())
                .collect();
            nats.sort();
            nats.dedup();
            push(
                slots,
                Issue::TimeoutBeyondVpc {
                    target: o.target.clone(),
                    destination: Some(addr),
                    nats,
                },
                &o.id,
            );
        }
        _ => {}
    }
}

fn dns_observation(
    o: &Observation,
    evaluated: &[Evaluated],
    slots: &mut Vec<Slot>,
    vpc: Option<String>,
) {
    // What the configuration says breaks DNS: R24, R25 and the blockers on DNS server paths.
    let mut explainers: BTreeSet<usize> = slots
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            matches!(
                s.issue,
                Issue::VpcDnsSupportDisabled { .. } | Issue::CustomDnsUnreachable { .. }
            ) || matches!(&s.issue, Issue::Dns(d) if d.ends_all_dns())
        })
        .map(|(i, _)| i)
        .collect();
    // Paths to the VPC's DNS servers (R25); a forward rule's targets (R59) only matter
    // for the names under that rule (`dns_resolution::explain`).
    for e in evaluated.iter().filter(|e| {
        e.dns
            && broken(e.eval.verdict)
            && e.eval
                .target
                .as_deref()
                .is_some_and(|t| t.starts_with("dns-server:"))
    }) {
        explainers.extend(
            e.slots
                .iter()
                .filter(|i| slots.get(**i).is_some_and(|s| s.issue.blocks_path())),
        );
    }
    match o.status {
        Status::DnsTimeout | Status::Timeout | Status::DnsServfail | Status::DnsRefused => {
            if explainers.is_empty() {
                push(
                    slots,
                    Issue::DnsFailureBeyondVpc {
                        target: o.target.clone(),
                        servers: o
                            .dns
                            .as_ref()
                            .map(|d| d.servers.clone())
                            .unwrap_or_default(),
                        vpc,
                    },
                    &o.id,
                );
            } else {
                for i in explainers {
                    if let Some(s) = slots.get_mut(i) {
                        s.explains.insert(o.id.clone());
                    }
                }
            }
        }
        Status::Ok if !explainers.is_empty() => push(
            slots,
            Issue::AnalysisInconsistent {
                target: o.target.clone(),
                destination: None,
                observed: "DNS answered".into(),
                predicted: "DNS resolution fails".into(),
            },
            &o.id,
        ),
        _ => {}
    }
}
