//! R59: a FORWARD rule works only when its outbound endpoint is operational and the
//! targets are reachable from the endpoint's ENIs on UDP and TCP (the target port): the
//! endpoint's security groups, its subnets' NACLs and route tables, and whatever lies
//! behind them (transit gateway, peering, VPN) — the ordinary path engine, walked from each
//! endpoint ENI as the source. Resolver picks a target at random and retries another, so a
//! name fails (SERVFAIL) only when no ENI reaches any target over UDP.

use super::Flow;
use super::catalog::Issue;
use super::catalog::dns::DnsIssue;
use super::dns_resolution::Outcome;
use super::index::Index;
use super::nacl::Peer;
use super::state::Source;
use super::walk;
use crate::model::{
    Direction, Hop, HopVerdict, PathEvaluation, PathVerdict, Protocol, ResolverRule,
};
use std::collections::HashMap;
use std::net::IpAddr;

/// What forwarding through one rule leads to.
#[derive(Debug, Clone)]
pub(crate) struct Forwarded {
    pub outcome: Outcome,
    pub hops: Vec<Hop>,
    pub issues: Vec<Issue>,
}

/// One evaluation per rule per diagnosis; the walked paths are handed out once.
#[derive(Default)]
pub(crate) struct Cache {
    done: HashMap<String, Forwarded>,
    paths: Vec<(PathEvaluation, Vec<Issue>)>,
}

impl Cache {
    /// The endpoint → target paths walked since the last call (for the report).
    pub fn take_paths(&mut self) -> Vec<(PathEvaluation, Vec<Issue>)> {
        std::mem::take(&mut self.paths)
    }

    pub fn evaluate(&mut self, ix: &Index<'_>, vpc: &str, rule: &ResolverRule) -> &Forwarded {
        let key = format!("{vpc}|{}", rule.id);
        if !self.done.contains_key(&key) {
            let f = forward(ix, vpc, rule, &mut self.paths);
            self.done.insert(key.clone(), f);
        }
        // Inserted just above when absent.
        &self.done[&key]
    }
}

fn hop(
    component: &str,
    id: &str,
    subnet: Option<&str>,
    verdict: HopVerdict,
    decided_by: String,
) -> Hop {
    Hop {
        direction: Direction::Forward,
        component: component.to_string(),
        id: id.to_string(),
        subnet_id: subnet.map(str::to_string),
        verdict,
        decided_by,
        rules: vec!["R59".into()],
    }
}

const USABLE: &[&str] = &["OPERATIONAL", "UPDATING", "AUTO_RECOVERING"];

fn forward(
    ix: &Index<'_>,
    vpc: &str,
    rule: &ResolverRule,
    paths: &mut Vec<(PathEvaluation, Vec<Issue>)>,
) -> Forwarded {
    let mut hops = Vec::new();
    let mut issues = Vec::new();
    let dns = &ix.snap.dns;
    let Some(eid) = rule.resolver_endpoint_id.as_deref() else {
        hops.push(hop(
            "resolver_endpoint",
            &rule.id,
            None,
            HopVerdict::Block,
            format!("FORWARD rule {} names no outbound endpoint", rule.id),
        ));
        issues.push(Issue::from(DnsIssue::OutboundEndpointNotReady {
            vpc: vpc.to_string(),
            rule: rule.id.clone(),
            endpoint: None,
            why: "the rule names no outbound endpoint".into(),
            host_subnet: None,
        }));
        return Forwarded {
            outcome: Outcome::ForwardFails,
            hops,
            issues,
        };
    };
    let Some(ep) = dns.endpoint(eid) else {
        hops.push(hop(
            "resolver_endpoint",
            eid,
            None,
            HopVerdict::Unknown,
            format!("outbound endpoint {eid} is not in the snapshot: not verifiable (R59, R62)"),
        ));
        issues.push(Issue::from(DnsIssue::ConfigNotVisible {
            vpc: vpc.to_string(),
            what: format!("outbound endpoint {eid} of rule {}", rule.id),
            command: format!(
                "aws route53resolver get-resolver-endpoint --resolver-endpoint-id {eid}"
            ),
        }));
        return Forwarded {
            outcome: Outcome::Unknown,
            hops,
            issues,
        };
    };
    let host_subnet = ix
        .snap
        .subnets
        .iter()
        .filter(|s| s.vpc_id == ep.host_vpc_id)
        .map(|s| s.id.clone())
        .min();
    let attached: Vec<_> = ep
        .ip_addresses
        .iter()
        .filter(|i| {
            i.status
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case("ATTACHED"))
        })
        .collect();
    let not_ready = if !ep.direction.eq_ignore_ascii_case("OUTBOUND") {
        Some(format!(
            "{eid} is an {} endpoint, not OUTBOUND",
            ep.direction
        ))
    } else if !USABLE.contains(&ep.status.to_ascii_uppercase().as_str()) {
        Some(format!(
            "{eid} is {}{}",
            ep.status,
            ep.status_message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ))
    } else if ep.ip_addresses_read && attached.is_empty() {
        Some(format!("{eid} has no ATTACHED IP address"))
    } else {
        None
    };
    if let Some(why) = not_ready {
        hops.push(hop(
            "resolver_endpoint",
            eid,
            None,
            HopVerdict::Block,
            format!("{why}: forwarded queries get SERVFAIL (R59)"),
        ));
        issues.push(Issue::from(DnsIssue::OutboundEndpointNotReady {
            vpc: vpc.to_string(),
            rule: rule.id.clone(),
            endpoint: Some(eid.to_string()),
            why,
            host_subnet,
        }));
        return Forwarded {
            outcome: Outcome::ForwardFails,
            hops,
            issues,
        };
    }
    if !ep.ip_addresses_read {
        hops.push(hop("resolver_endpoint", eid, None, HopVerdict::Unknown, format!("the IP addresses of {eid} were not read: the path to the targets is not verifiable (R59)")));
        issues.push(Issue::from(DnsIssue::ConfigNotVisible {
            vpc: vpc.to_string(),
            what: format!("the IP addresses of outbound endpoint {eid}"),
            command: format!("aws route53resolver list-resolver-endpoint-ip-addresses --resolver-endpoint-id {eid}"),
        }));
        return Forwarded {
            outcome: Outcome::Unknown,
            hops,
            issues,
        };
    }
    if rule.target_ips.is_empty() {
        hops.push(hop(
            "resolver_rule",
            &rule.id,
            None,
            HopVerdict::Block,
            format!("FORWARD rule {} has no target IP", rule.id),
        ));
        issues.push(Issue::from(DnsIssue::OutboundEndpointNotReady {
            vpc: vpc.to_string(),
            rule: rule.id.clone(),
            endpoint: Some(eid.to_string()),
            why: format!("rule {} has no target IP", rule.id),
            host_subnet,
        }));
        return Forwarded {
            outcome: Outcome::ForwardFails,
            hops,
            issues,
        };
    }
    // (ENI, target) → UDP verdict.
    let mut udp: Vec<PathVerdict> = Vec::new();
    for ip in &attached {
        let Some(subnet) = ix.subnet(&ip.subnet_id) else {
            hops.push(hop(
                "resolver_endpoint",
                eid,
                Some(&ip.subnet_id),
                HopVerdict::Unknown,
                format!(
                    "subnet {} of {eid} is not in the snapshot: not verifiable (R59)",
                    ip.subnet_id
                ),
            ));
            udp.push(PathVerdict::NotVerifiable);
            continue;
        };
        let src = Source {
            subnet,
            function: None,
            security_groups: ep.security_group_ids.clone(),
            v4: ip
                .ip
                .map(|a| vec![Peer::Addr(IpAddr::V4(a))])
                .unwrap_or_else(|| {
                    subnet
                        .cidr_block
                        .map(|c| vec![Peer::Net(c.into())])
                        .unwrap_or_default()
                }),
            v6: ip
                .ipv6
                .map(|a| vec![Peer::Addr(IpAddr::V6(a))])
                .unwrap_or_default(),
        };
        let eni = ip
            .ip
            .map(|a| a.to_string())
            .or(ip.ipv6.map(|a| a.to_string()))
            .unwrap_or_else(|| ip.subnet_id.clone());
        for t in &rule.target_ips {
            let mut blockers = Vec::new();
            let mut fixes = Vec::new();
            let mut changes: Vec<crate::model::Change> = Vec::new();
            let mut breaking = None;
            let mut verdicts = Vec::new();
            for protocol in [Protocol::UDP, Protocol::TCP] {
                let flow = Flow {
                    target: format!("dns-forward:{}:{}", rule.id, t.ip),
                    host: None,
                    destination: t.ip,
                    protocol,
                    port: t.port,
                };
                let (eval, found) = walk::evaluate(ix, &src, &flow);
                verdicts.push(eval.verdict);
                if eval.verdict == PathVerdict::Blocked {
                    if breaking.is_none() {
                        breaking = eval
                            .hops
                            .iter()
                            .find(|h| h.verdict == HopVerdict::Block)
                            .map(|h| format!("{} {}: {}", h.component, h.id, h.decided_by));
                    }
                    for i in found.iter().filter(|i| i.blocks_path()) {
                        let c = format!("{} {}", protocol.name(), i.code());
                        if !blockers.contains(&c) {
                            blockers.push(c);
                        }
                        for f in i
                            .render(crate::model::Confirmation::Predicted, vec![])
                            .fix_commands
                        {
                            if !fixes.contains(&f) {
                                fixes.push(f);
                            }
                        }
                        // The same fix as changes (issue 11): the first alternative.
                        let explicit = |s: &str| {
                            ix.snap
                                .route_tables
                                .iter()
                                .any(|t| t.subnet_ids.iter().any(|x| x == s))
                        };
                        for c in i.changes(&explicit).into_iter().next().unwrap_or_default() {
                            if !changes.contains(&c) {
                                changes.push(c);
                            }
                        }
                    }
                }
                paths.push((eval, found));
            }
            let (v_udp, v_tcp) = (verdicts[0], verdicts[1]);
            udp.push(v_udp);
            let verdict = match (v_udp, v_tcp) {
                (PathVerdict::Blocked, _) => HopVerdict::Block,
                (_, PathVerdict::Blocked) | (PathVerdict::Intermittent, _) => HopVerdict::Partial,
                (PathVerdict::NotVerifiable, _) | (_, PathVerdict::NotVerifiable) => {
                    HopVerdict::Unknown
                }
                _ => HopVerdict::Pass,
            };
            let text = match &breaking {
                Some(b) => format!(
                    "{eni} ({}) -> {}:{}: blocked at {b}",
                    ip.subnet_id, t.ip, t.port
                ),
                None => format!(
                    "{eni} ({}) -> {}:{}: udp {}, tcp {}",
                    ip.subnet_id,
                    t.ip,
                    t.port,
                    word(v_udp),
                    word(v_tcp)
                ),
            };
            hops.push(hop(
                "resolver_endpoint",
                eid,
                Some(&ip.subnet_id),
                verdict,
                text,
            ));
            if !blockers.is_empty() {
                issues.push(Issue::from(DnsIssue::ForwardTargetUnreachable {
                    vpc: vpc.to_string(),
                    name: String::new(),
                    rule: rule.id.clone(),
                    domain: rule.domain_name.clone(),
                    endpoint: eid.to_string(),
                    endpoint_subnet: ip.subnet_id.clone(),
                    endpoint_ip: eni.clone(),
                    target: t.ip,
                    port: t.port,
                    hop: breaking.clone().unwrap_or_default(),
                    blockers,
                    fixes,
                    changes,
                    security_groups: ep.security_group_ids.clone(),
                }));
            }
        }
    }
    let blocked = udp.iter().filter(|v| **v == PathVerdict::Blocked).count();
    let outcome = if !udp.is_empty() && blocked == udp.len() {
        Outcome::ForwardFails
    } else if blocked > 0 || udp.contains(&PathVerdict::Intermittent) {
        Outcome::ForwardPartial
    } else if udp.is_empty() || udp.contains(&PathVerdict::NotVerifiable) {
        Outcome::Unknown
    } else {
        Outcome::Forwarded
    };
    Forwarded {
        outcome,
        hops,
        issues,
    }
}

fn word(v: PathVerdict) -> &'static str {
    match v {
        PathVerdict::Reachable => "reachable",
        PathVerdict::Blocked => "blocked",
        PathVerdict::Intermittent => "intermittent",
        PathVerdict::NotVerifiable => "not verifiable",
    }
}
