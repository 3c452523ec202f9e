//! AWS Network Firewall endpoints (R47-R53): the endpoint a route names must be READY and
//! in the traffic's AZ; the firewall policy's verdict for this flow (evaluated by
//! `firewall_policy`) becomes hops and FIREWALL_* findings; then the firewall subnet's
//! own route carries the traffic on.

use crate::diagnosis::catalog::{FwBlock, FwRuleText, Issue, RouteRef};
use crate::diagnosis::firewall_policy::{
    self, FwAction, FwApp, FwContext, FwDecision, FwFlow, FwStage, StatefulRules,
};
use crate::diagnosis::state::{Next, Role, Walk};
use crate::model::{Direction, HopVerdict, NetworkFirewall, RulesSource, Subnet};
use ipnet::IpNet;
use std::rc::Rc;

pub(crate) fn run<'a>(
    w: &mut Walk<'a, '_>,
    endpoint: &str,
    route: RouteRef,
    from: &'a Subnet,
) -> Vec<Next<'a>> {
    let Some((fw, ep)) = w.ix.snap.firewall_endpoint(endpoint) else {
        w.not_visible(
            "firewall_endpoint",
            endpoint,
            "the Network Firewall behind endpoint",
            None,
            "network-firewall",
        );
        return vec![];
    };
    let in_sync = fw
        .configuration_sync
        .as_deref()
        .is_none_or(|s| s == "IN_SYNC");
    if ep.is_ready() && in_sync {
        w.hop(
            Direction::Forward,
            "firewall_endpoint",
            endpoint,
            ep.subnet_id.as_deref(),
            HopVerdict::Pass,
            format!(
                "{endpoint} of {} in {} READY",
                fw.name, ep.availability_zone
            ),
            &["R47"],
        );
    } else {
        let status = if ep.is_ready() {
            format!(
                "READY but the firewall is {}",
                fw.configuration_sync.as_deref().unwrap_or("not in sync")
            )
        } else {
            ep.status.clone()
        };
        w.hop(
            Direction::Forward,
            "firewall_endpoint",
            endpoint,
            ep.subnet_id.as_deref(),
            HopVerdict::Block,
            format!("{endpoint} of {} is {status}", fw.name),
            &["R47"],
        );
        w.issues.push(Issue::FirewallEndpointNotReady {
            subnet: w.subnet_id(),
            firewall: fw.name.clone(),
            endpoint: endpoint.to_string(),
            az: ep.availability_zone.clone(),
            status,
            detail: ep.status_message.clone(),
        });
    }
    // R47/R48: the endpoint of the traffic's own AZ.
    let ep_subnet = ep.subnet_id.as_deref().and_then(|s| w.ix.subnet(s));
    let ep_az = ep_subnet
        .map(|s| w.az_id(s))
        .unwrap_or_else(|| ep.availability_zone.clone());
    let from_az = w.az_id(from);
    if ep_az != from_az && ep.availability_zone != from.availability_zone {
        let same = fw
            .endpoints
            .iter()
            .find(|e| {
                e.availability_zone == from.availability_zone
                    || e.subnet_id
                        .as_deref()
                        .and_then(|s| w.ix.subnet(s))
                        .is_some_and(|s| w.az_id(s) == from_az)
            })
            .and_then(|e| e.endpoint_id.clone());
        w.issues.push(Issue::FirewallEndpointCrossAz {
            subnet: w.subnet_id(),
            route,
            endpoint: endpoint.to_string(),
            endpoint_az: ep.availability_zone.clone(),
            subnet_az: from.availability_zone.clone(),
            same_az_endpoint: same,
        });
    }
    w.firewall_endpoints.push(endpoint.to_string());
    match w.ix.snap.firewall_policy(&fw.policy_arn) {
        Some(policy) => {
            let cidrs: Vec<IpNet> = fw
                .vpc_id
                .as_deref()
                .and_then(|v| w.ix.vpc(v))
                .map(|v| {
                    v.cidr_blocks
                        .iter()
                        .map(|c| IpNet::V4(*c))
                        .chain(v.ipv6_cidr_blocks.iter().map(|c| IpNet::V6(*c)))
                        .collect()
                })
                .unwrap_or_default();
            let ctx = FwContext::new(policy, &w.ix.snap.firewall_rule_groups, &cidrs);
            let host = w.flow.host.clone();
            let app = if w.flow.target.starts_with("https://") {
                FwApp::Tls {
                    sni: host.as_deref(),
                }
            } else if w.flow.target.starts_with("http://") {
                FwApp::Http {
                    host: host.as_deref(),
                }
            } else {
                FwApp::Other
            };
            let src = w.src.address(w.family).unwrap_or(w.dest);
            let flow = FwFlow {
                src,
                dst: w.dest,
                protocol: w.flow.protocol,
                src_port: None,
                dst_port: w.flow.port,
                app,
            };
            let rules =
                w.ix.firewall_rules
                    .borrow_mut()
                    .entry((policy.arn.clone(), fw.vpc_id.clone()))
                    .or_insert_with(|| Rc::new(StatefulRules::new(&ctx)))
                    .clone();
            let decision = firewall_policy::evaluate_with(&ctx, &flow, &rules);
            judge(w, fw, &policy.arn, &decision, host.as_deref(), &cidrs, src);
        }
        None => w.not_visible(
            "firewall_policy",
            &fw.policy_arn,
            "firewall policy",
            fw.owner_id.clone(),
            "DescribeFirewallPolicy",
        ),
    }
    match ep_subnet {
        Some(s) if s.id != from.id => vec![Next::SubnetRoute {
            subnet: s,
            role: Role::Firewall,
        }],
        _ => vec![],
    }
}

/// The rule group a decision names (by name or ARN).
fn group_of<'a>(w: &Walk<'a, '_>, g: &str) -> Option<&'a crate::model::FirewallRuleGroup> {
    w.ix.snap
        .firewall_rule_groups
        .iter()
        .find(|x| x.arn == g || x.name.as_deref() == Some(g))
}

/// Turns the policy's decision into a hop and the FIREWALL_* findings (R49-R53).
pub(crate) fn judge(
    w: &mut Walk<'_, '_>,
    fw: &NetworkFirewall,
    policy: &str,
    d: &FwDecision,
    name: Option<&str>,
    home_net: &[IpNet],
    src: std::net::IpAddr,
) {
    let application = !d.connect.blocks() && d.application.blocks();
    let action = if d.connect.blocks() || d.connect == FwAction::Unknown {
        d.connect
    } else {
        d.application
    };
    let subnet = w.subnet_id();
    if action.blocks() {
        let rule = d.decided_by.clone();
        let group = rule
            .as_ref()
            .and_then(|r| r.group.as_deref())
            .and_then(|g| group_of(w, g));
        let kind = match rule.as_ref().map(|r| r.stage) {
            Some(FwStage::Stateless | FwStage::StatelessDefault) => FwBlock::StatelessDrop,
            Some(FwStage::StatefulDefault) => FwBlock::DefaultDrop,
            _ => match group.map(|g| &g.rules) {
                Some(RulesSource::DomainList {
                    generated_rules_type,
                    ..
                }) if generated_rules_type == "ALLOWLIST" => FwBlock::DomainNotAllowed,
                Some(RulesSource::DomainList { .. }) => FwBlock::DomainDenied,
                _ if action == FwAction::Reject => FwBlock::RuleReject,
                _ => FwBlock::RuleDrop,
            },
        };
        let text = FwRuleText {
            group: rule.as_ref().and_then(|r| r.group.clone()),
            rule: rule
                .as_ref()
                .map(|r| r.rule.clone())
                .unwrap_or_else(|| "?".into()),
            detail: rule.as_ref().map(|r| r.detail.clone()).unwrap_or_default(),
        };
        let fix = match (kind, group, name) {
            (FwBlock::DomainNotAllowed | FwBlock::DomainDenied, Some(g), Some(n)) => {
                domain_fix(g, n, kind == FwBlock::DomainNotAllowed)
            }
            (FwBlock::StatelessDrop | FwBlock::DefaultDrop, _, _) => Some(format!(
                "aws network-firewall describe-firewall-policy --firewall-policy-arn {policy}"
            )),
            (_, Some(g), _) => Some(format!(
                "aws network-firewall describe-rule-group --rule-group-arn {}",
                g.arn
            )),
            _ => None,
        };
        let stage = if application {
            "the ClientHello / request"
        } else {
            "the connection"
        };
        w.hop(
            Direction::Forward,
            "firewall",
            &fw.name,
            None,
            HopVerdict::Block,
            format!(
                "{} {stage}: {}{}",
                if action == FwAction::Reject {
                    "rejects (RST)"
                } else {
                    "drops"
                },
                text.group
                    .as_deref()
                    .map(|g| format!("{g} {}: ", text.rule))
                    .unwrap_or_else(|| format!("{}: ", text.rule)),
                text.detail
            ),
            kind.rules_list(),
        );
        w.issues.push(Issue::FirewallBlocks {
            subnet: subnet.clone(),
            kind,
            firewall: fw.name.clone(),
            policy: policy.to_string(),
            rule: text,
            name: name.map(str::to_string),
            application,
            reset: action == FwAction::Reject,
            fix,
        });
    } else if action == FwAction::Unknown {
        w.hop(
            Direction::Forward,
            "firewall",
            &fw.name,
            None,
            HopVerdict::Unknown,
            format!(
                "the policy's verdict depends on rules not evaluable: {}",
                d.not_evaluable.join("; ")
            ),
            &["R49"],
        );
    } else {
        w.hop(
            Direction::Forward,
            "firewall",
            &fw.name,
            None,
            HopVerdict::Pass,
            format!("{policy} passes the flow"),
            &["R49"],
        );
    }
    if action == FwAction::Unknown || !d.not_evaluable.is_empty() {
        w.issues.push(Issue::FirewallRulesNotEvaluable {
            subnet: subnet.clone(),
            firewall: fw.name.clone(),
            policy: policy.to_string(),
            rules: if d.not_evaluable.is_empty() {
                vec!["the verdict could not be decided".into()]
            } else {
                d.not_evaluable.clone()
            },
        });
    }
    if d.home_net_excludes_source {
        let policy_home =
            w.ix.snap
                .firewall_policy(policy)
                .and_then(|p| p.home_net.clone())
                .unwrap_or_else(|| home_net.to_vec());
        w.issues.push(Issue::FirewallHomeNetExcludesSource {
            subnet,
            firewall: fw.name.clone(),
            policy: policy.to_string(),
            source: src.to_string(),
            home_net: policy_home.iter().map(|c| c.to_string()).collect(),
        });
    }
}

/// `update-rule-group` with the domain list as it should be (real targets filled in).
fn domain_fix(g: &crate::model::FirewallRuleGroup, name: &str, add: bool) -> Option<String> {
    let RulesSource::DomainList {
        targets,
        target_types,
        generated_rules_type,
    } = &g.rules
    else {
        return None;
    };
    let mut t: Vec<String> = targets.clone();
    if add {
        t.push(name.to_string());
    } else {
        t.retain(|x| {
            let x = x.to_ascii_lowercase();
            let n = name.to_ascii_lowercase();
            !(x == n || (x.starts_with('.') && (n.ends_with(&x) || n == x[1..])))
        });
    }
    let list = |v: &[String]| {
        v.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    Some(format!(
        "aws network-firewall update-rule-group --rule-group-arn {arn} --update-token \"$(aws network-firewall describe-rule-group --rule-group-arn {arn} --query UpdateToken --output text)\" --rule-group '{{\"RulesSource\":{{\"RulesSourceList\":{{\"Targets\":[{}],\"TargetTypes\":[{}],\"GeneratedRulesType\":\"{generated_rules_type}\"}}}}}}'",
        list(&t),
        list(target_types),
        arn = g.arn
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::diagnosis::Flow;
    use crate::diagnosis::index::Index;
    use crate::diagnosis::nacl::Peer;
    use crate::diagnosis::state::Source;
    use crate::model::{
        FirewallRuleGroup, HopVerdict, NetworkSnapshot, PathVerdict, Protocol, Subnet,
    };
    use std::collections::BTreeMap;

    const GROUP: &str = "arn:aws:network-firewall:us-east-1:2:stateful-rulegroup/g";

    fn snap(kind: &str) -> NetworkSnapshot {
        let rules = if kind == "list" {
            RulesSource::DomainList {
                targets: vec![".example.com".into()],
                target_types: vec!["TLS_SNI".into()],
                generated_rules_type: "ALLOWLIST".into(),
            }
        } else {
            RulesSource::RulesString {
                rules: "reject tls any any -> any any (sid:5;)".into(),
            }
        };
        NetworkSnapshot {
            subnets: vec![Subnet {
                id: "subnet-1".into(),
                vpc_id: "vpc-1".into(),
                availability_zone: "us-east-1a".into(),
                availability_zone_id: None,
                cidr_block: Some("10.0.1.0/24".parse().unwrap()),
                ipv6_cidr_blocks: vec![],
                available_ip_address_count: None,
                map_public_ip_on_launch: false,
                block_public_access_mode: None,
                name: None,
                enable_dns64: None,
                ipv6_native: false,
            }],
            firewall_rule_groups: vec![FirewallRuleGroup {
                arn: GROUP.into(),
                name: Some("g".into()),
                rule_group_type: "STATEFUL".into(),
                rule_order: None,
                ip_sets: BTreeMap::new(),
                port_sets: BTreeMap::new(),
                rules,
            }],
            ..Default::default()
        }
    }

    fn fw() -> NetworkFirewall {
        NetworkFirewall {
            name: "fw".into(),
            arn: "arn:fw".into(),
            vpc_id: Some("vpc-e".into()),
            transit_gateway_id: None,
            owner_id: None,
            policy_arn: "arn:policy".into(),
            subnet_ids: vec![],
            endpoints: vec![],
            status: None,
            configuration_sync: None,
        }
    }

    fn decision(connect: FwAction, application: FwAction, stage: FwStage) -> FwDecision {
        FwDecision {
            connect,
            application,
            decided_by: Some(crate::diagnosis::firewall_policy::FwRuleRef {
                group: Some("g".into()),
                rule: "sid:5".into(),
                stage,
                detail: "allowlist .example.com does not contain api.other.test".into(),
            }),
            home_net_excludes_source: false,
            not_evaluable: vec![],
        }
    }

    /// Runs `judge` on a fresh walk and returns (codes, last hop verdict, path verdict,
    /// application-stage flag, reset flag, fix).
    fn run(
        kind: &str,
        d: FwDecision,
    ) -> (
        Vec<&'static str>,
        HopVerdict,
        PathVerdict,
        bool,
        bool,
        Option<String>,
    ) {
        let s = snap(kind);
        let ix = Index::new(&s);
        let src = Source {
            subnet: &s.subnets[0],
            function: None,
            security_groups: vec![],
            v4: vec![Peer::Addr("10.0.1.5".parse().unwrap())],
            v6: vec![],
        };
        let flow = Flow {
            target: "https://api.other.test/".into(),
            host: Some("api.other.test".into()),
            destination: "198.51.100.7".parse().unwrap(),
            protocol: Protocol::TCP,
            port: 443,
        };
        let mut w = Walk::new(&ix, &src, &flow);
        judge(
            &mut w,
            &fw(),
            "arn:policy",
            &d,
            Some("api.other.test"),
            &[],
            "10.0.1.5".parse().unwrap(),
        );
        let codes = w.issues.iter().map(|i| i.code()).collect();
        let verdict = w.hops.last().unwrap().verdict;
        let (app, reset, fix) = match w.issues.first() {
            Some(Issue::FirewallBlocks {
                application,
                reset,
                fix,
                ..
            }) => (*application, *reset, fix.clone()),
            _ => (false, false, None),
        };
        (codes, verdict, w.verdict(), app, reset, fix)
    }

    #[test]
    fn r51_r53_allowlist_miss_is_a_tls_stall_with_the_list_fix() {
        let (codes, hop, path, app, reset, fix) = run(
            "list",
            decision(FwAction::Pass, FwAction::Drop, FwStage::Stateful),
        );
        assert_eq!(codes, vec!["FIREWALL_DOMAIN_NOT_ALLOWED"]);
        assert_eq!(hop, HopVerdict::Block);
        assert_eq!(path, PathVerdict::Blocked);
        assert!(app && !reset);
        let fix = fix.unwrap();
        assert!(
            fix.contains("\"Targets\":[\".example.com\",\"api.other.test\"]"),
            "{fix}"
        );
        assert!(fix.contains(&format!("--rule-group-arn {GROUP}")), "{fix}");
    }

    #[test]
    fn r53_reject_rule_resets_at_connect() {
        let (codes, _, _, app, reset, _) = run(
            "string",
            decision(FwAction::Reject, FwAction::Reject, FwStage::Stateful),
        );
        assert_eq!(codes, vec!["FIREWALL_RULE_REJECT"]);
        assert!(!app && reset);
    }

    #[test]
    fn r49_r50_stages_name_their_codes() {
        let (codes, ..) = run(
            "string",
            decision(FwAction::Drop, FwAction::Drop, FwStage::StatelessDefault),
        );
        assert_eq!(codes, vec!["FIREWALL_STATELESS_DROP"]);
        let (codes, ..) = run(
            "string",
            decision(FwAction::Drop, FwAction::Drop, FwStage::StatefulDefault),
        );
        assert_eq!(codes, vec!["FIREWALL_DEFAULT_DROP"]);
        let (codes, ..) = run(
            "string",
            decision(FwAction::Drop, FwAction::Drop, FwStage::Stateful),
        );
        assert_eq!(codes, vec!["FIREWALL_RULE_DROP"]);
    }

    #[test]
    fn r49_unknown_is_not_evaluable_never_pass() {
        let mut d = decision(FwAction::Unknown, FwAction::Unknown, FwStage::Stateful);
        d.not_evaluable = vec!["g: sid 9 uses pcre".into()];
        let (codes, hop, path, ..) = run("string", d);
        assert_eq!(codes, vec!["FIREWALL_RULES_NOT_EVALUABLE"]);
        assert_eq!(hop, HopVerdict::Unknown);
        assert_eq!(path, PathVerdict::NotVerifiable);
    }

    #[test]
    fn r52_home_net_and_a_pass() {
        let mut d = decision(FwAction::Pass, FwAction::Pass, FwStage::Stateful);
        d.decided_by = None;
        d.home_net_excludes_source = true;
        let (codes, hop, path, ..) = run("list", d);
        assert_eq!(codes, vec!["FIREWALL_HOME_NET_EXCLUDES_SOURCE"]);
        assert_eq!(hop, HopVerdict::Pass);
        assert_eq!(path, PathVerdict::Reachable);
    }
}
