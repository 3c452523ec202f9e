//! AWS Network Firewall: SDK → model conversion (total, like `convert`), R47-R53.
//!
//! Everything the API says is kept as it says it (actions, orders, Suricata strings); the
//! diagnosis engine decides what it can evaluate. Unreadable CIDRs and forms this reader
//! does not know are named in a note or as `RulesSource::Unknown`, never guessed.

use super::convert::Notes;
use crate::model::{
    FirewallEndpoint, FirewallPolicy, FirewallRuleGroup, NetworkFirewall, PortRange, RuleGroupRef,
    RulesSource, StatefulRule, StatelessRule,
};
use aws_sdk_networkfirewall::operation::describe_firewall::DescribeFirewallOutput;
use aws_sdk_networkfirewall::operation::describe_firewall_policy::DescribeFirewallPolicyOutput;
use aws_sdk_networkfirewall::operation::describe_rule_group::DescribeRuleGroupOutput;
use aws_sdk_networkfirewall::types as nfw;
use ipnet::IpNet;
use std::collections::{BTreeMap, HashMap};

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_string).filter(|s| !s.is_empty())
}

/// The account in an ARN (`arn:aws:network-firewall:us-east-1:111122223333:firewall/x`).
pub fn arn_account(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
}

/// CIDRs of a variable definition; a single address is its /32 or /128.
fn cidrs(owner: &str, what: &str, definition: &[String], notes: &mut Notes) -> Vec<IpNet> {
    let mut out = Vec::new();
    for d in definition {
        let text = d.trim();
        let parsed = text
            .parse::<IpNet>()
            .ok()
            .or_else(|| text.parse::<std::net::IpAddr>().ok().map(IpNet::from));
        match parsed {
            Some(net) => out.push(net),
            None => notes.push(format!("{owner}: {what}: unreadable CIDR {text:?} skipped")),
        }
    }
    out
}

/// `DescribeFirewall`: the firewall with one endpoint per AZ (R47), sorted by AZ.
pub fn firewall(out: &DescribeFirewallOutput, notes: &mut Notes) -> Option<NetworkFirewall> {
    let f = out.firewall()?;
    let arn = owned(f.firewall_arn())?;
    let status = out.firewall_status();
    let mut endpoints: Vec<FirewallEndpoint> = status
        .and_then(|s| s.sync_states())
        .map(|states: &HashMap<String, nfw::SyncState>| {
            states
                .iter()
                .map(|(az, state)| {
                    let a = state.attachment();
                    FirewallEndpoint {
                        availability_zone: az.clone(),
                        subnet_id: a.and_then(|a| owned(a.subnet_id())),
                        endpoint_id: a.and_then(|a| owned(a.endpoint_id())),
                        status: a
                            .and_then(|a| a.status())
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        status_message: a.and_then(|a| owned(a.status_message())),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    endpoints.sort_by(|a, b| a.availability_zone.cmp(&b.availability_zone));
    let policy_arn = f.firewall_policy_arn().to_string();
    if policy_arn.is_empty() {
        notes.push(format!("{arn}: the firewall names no policy"));
    }
    Some(NetworkFirewall {
        name: owned(f.firewall_name()).unwrap_or_else(|| arn.clone()),
        owner_id: arn_account(&arn),
        vpc_id: owned(Some(f.vpc_id())),
        transit_gateway_id: owned(f.transit_gateway_id()),
        policy_arn,
        subnet_ids: f
            .subnet_mappings()
            .iter()
            .map(|m| m.subnet_id().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        endpoints,
        status: status.map(|s| s.status().as_str().to_string()),
        configuration_sync: status
            .map(|s| s.configuration_sync_state_summary().as_str().to_string()),
        arn,
    })
}

/// `DescribeFirewallPolicy` (R49, R50, R52). `arn` is the one asked for, used when the
/// response lacks it.
pub fn policy(
    arn: &str,
    out: &DescribeFirewallPolicyOutput,
    notes: &mut Notes,
) -> Option<FirewallPolicy> {
    let p = out.firewall_policy()?;
    let response = out.firewall_policy_response();
    let arn = response
        .map(|r| r.firewall_policy_arn())
        .filter(|a| !a.is_empty())
        .unwrap_or(arn)
        .to_string();
    let mut stateless_rule_groups: Vec<RuleGroupRef> = p
        .stateless_rule_group_references()
        .iter()
        .map(|r| RuleGroupRef {
            arn: r.resource_arn().to_string(),
            priority: Some(r.priority()),
            override_action: None,
        })
        .collect();
    stateless_rule_groups.sort_by_key(|r| r.priority);
    let stateful_rule_groups = p
        .stateful_rule_group_references()
        .iter()
        .map(|r| RuleGroupRef {
            arn: r.resource_arn().to_string(),
            priority: r.priority(),
            override_action: r
                .r#override()
                .and_then(|o| o.action())
                .map(|a| a.as_str().to_string()),
        })
        .collect();
    let engine = p.stateful_engine_options();
    let home_net = p
        .policy_variables()
        .and_then(|v| v.rule_variables())
        .and_then(|vars| vars.get("HOME_NET"))
        .map(|set| cidrs(&arn, "HOME_NET", set.definition(), notes));
    Some(FirewallPolicy {
        name: response
            .map(|r| r.firewall_policy_name().to_string())
            .filter(|n| !n.is_empty()),
        stateless_default_actions: p.stateless_default_actions().to_vec(),
        stateless_fragment_default_actions: p.stateless_fragment_default_actions().to_vec(),
        stateless_rule_groups,
        stateful_rule_groups,
        stateful_rule_order: engine
            .and_then(|e| e.rule_order())
            .map(|o| o.as_str().to_string()),
        stateful_default_actions: p.stateful_default_actions().to_vec(),
        stream_exception_policy: engine
            .and_then(|e| e.stream_exception_policy())
            .map(|s| s.as_str().to_string()),
        home_net,
        tls_inspection_configuration_arn: owned(p.tls_inspection_configuration_arn()),
        arn,
    })
}

fn stateful_rule(r: &nfw::StatefulRule) -> Option<StatefulRule> {
    let h = r.header()?;
    Some(StatefulRule {
        action: r.action().as_str().to_string(),
        protocol: h.protocol().as_str().to_string(),
        source: h.source().to_string(),
        source_port: h.source_port().to_string(),
        direction: h.direction().as_str().to_string(),
        destination: h.destination().to_string(),
        destination_port: h.destination_port().to_string(),
        options: r
            .rule_options()
            .iter()
            .map(|o| (o.keyword().to_string(), o.settings().to_vec()))
            .collect(),
    })
}

fn port_ranges(list: &[nfw::PortRange]) -> Vec<PortRange> {
    list.iter()
        .filter_map(|p| {
            let from = u16::try_from(p.from_port()).ok()?;
            let to = u16::try_from(p.to_port()).ok()?;
            (from <= to).then_some(PortRange { from, to })
        })
        .collect()
}

fn stateless_rule(group: &str, r: &nfw::StatelessRule, notes: &mut Notes) -> Option<StatelessRule> {
    let def = r.rule_definition()?;
    let m = def.match_attributes();
    let addrs = |list: &[nfw::Address], what: &str, notes: &mut Notes| {
        let defs: Vec<String> = list
            .iter()
            .map(|a| a.address_definition().to_string())
            .collect();
        cidrs(group, what, &defs, notes)
    };
    Some(StatelessRule {
        priority: r.priority(),
        actions: def.actions().to_vec(),
        sources: m
            .map(|m| addrs(m.sources(), "stateless source", notes))
            .unwrap_or_default(),
        destinations: m
            .map(|m| addrs(m.destinations(), "stateless destination", notes))
            .unwrap_or_default(),
        source_ports: m.map(|m| port_ranges(m.source_ports())).unwrap_or_default(),
        destination_ports: m
            .map(|m| port_ranges(m.destination_ports()))
            .unwrap_or_default(),
        protocols: m
            .map(|m| {
                m.protocols()
                    .iter()
                    .filter_map(|p| u8::try_from(*p).ok())
                    .collect()
            })
            .unwrap_or_default(),
        has_tcp_flags: m.is_some_and(|m| !m.tcp_flags().is_empty()),
    })
}

/// `RulesSource`: exactly one form; anything else is named.
fn rules_source(group: &str, s: Option<&nfw::RulesSource>, notes: &mut Notes) -> RulesSource {
    let Some(s) = s else {
        return RulesSource::Unknown {
            what: "the rule group has no RulesSource".into(),
        };
    };
    if let Some(list) = s.rules_source_list() {
        return RulesSource::DomainList {
            targets: list.targets().to_vec(),
            target_types: list
                .target_types()
                .iter()
                .map(|t| t.as_str().to_string())
                .collect(),
            generated_rules_type: list.generated_rules_type().as_str().to_string(),
        };
    }
    if let Some(text) = s.rules_string() {
        return RulesSource::RulesString {
            rules: text.to_string(),
        };
    }
    if !s.stateful_rules().is_empty() {
        let rules: Vec<StatefulRule> = s
            .stateful_rules()
            .iter()
            .filter_map(stateful_rule)
            .collect();
        if rules.len() != s.stateful_rules().len() {
            notes.push(format!(
                "{group}: {} stateful rules without a header skipped",
                s.stateful_rules().len() - rules.len()
            ));
        }
        return RulesSource::StatefulRules { rules };
    }
    if let Some(sl) = s.stateless_rules_and_custom_actions() {
        let mut rules: Vec<StatelessRule> = sl
            .stateless_rules()
            .iter()
            .filter_map(|r| stateless_rule(group, r, notes))
            .collect();
        rules.sort_by_key(|r| r.priority);
        return RulesSource::Stateless { rules };
    }
    RulesSource::Unknown {
        what: "RulesSource in a form this reader does not know".into(),
    }
}

/// `DescribeRuleGroup` (R49, R51, R52). `arn` is the one asked for.
pub fn rule_group(
    arn: &str,
    out: &DescribeRuleGroupOutput,
    notes: &mut Notes,
) -> Option<FirewallRuleGroup> {
    let response = out.rule_group_response();
    let arn = response
        .map(|r| r.rule_group_arn())
        .filter(|a| !a.is_empty())
        .unwrap_or(arn)
        .to_string();
    let group = out.rule_group();
    let vars = group.and_then(|g| g.rule_variables());
    let mut ip_sets = BTreeMap::new();
    for (name, set) in vars.and_then(|v| v.ip_sets()).into_iter().flatten() {
        ip_sets.insert(name.clone(), cidrs(&arn, name, set.definition(), notes));
    }
    let mut port_sets = BTreeMap::new();
    for (name, set) in vars.and_then(|v| v.port_sets()).into_iter().flatten() {
        port_sets.insert(name.clone(), set.definition().to_vec());
    }
    if let Some(refs) = group
        .and_then(|g| g.reference_sets())
        .and_then(|r| r.ip_set_references())
        .filter(|r| !r.is_empty())
    {
        let mut names: Vec<&String> = refs.keys().collect();
        names.sort();
        notes.push(format!(
            "{arn}: IP set references (prefix lists) are not resolved: {}",
            names
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let rule_group_type = response
        .and_then(|r| r.r#type())
        .map(|t| t.as_str().to_string())
        .or_else(|| {
            // Without the response, the rules' form tells the type.
            group
                .and_then(|g| g.rules_source())
                .map(|s| {
                    if s.stateless_rules_and_custom_actions().is_some() {
                        "STATELESS"
                    } else {
                        "STATEFUL"
                    }
                })
                .map(str::to_string)
        })
        .unwrap_or_default();
    Some(FirewallRuleGroup {
        name: response
            .map(|r| r.rule_group_name().to_string())
            .filter(|n| !n.is_empty()),
        rule_group_type,
        rule_order: group
            .and_then(|g| g.stateful_rule_options())
            .and_then(|o| o.rule_order())
            .map(|o| o.as_str().to_string()),
        ip_sets,
        port_sets,
        rules: rules_source(&arn, group.and_then(|g| g.rules_source()), notes),
        arn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_account_is_the_fifth_field() {
        assert_eq!(
            arn_account("arn:aws:network-firewall:us-east-1:222222222222:firewall/fw").as_deref(),
            Some("222222222222")
        );
        assert_eq!(arn_account("nonsense"), None);
    }

    #[test]
    fn variables_keep_addresses_and_name_the_unreadable() {
        let mut notes = Notes::new();
        let got = cidrs(
            "g",
            "HOME_NET",
            &["10.0.0.0/16".into(), "10.9.9.9".into(), "x".into()],
            &mut notes,
        );
        assert_eq!(
            got,
            vec![
                "10.0.0.0/16".parse::<IpNet>().unwrap(),
                "10.9.9.9/32".parse::<IpNet>().unwrap()
            ]
        );
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("HOME_NET"), "{notes:?}");
    }
}
