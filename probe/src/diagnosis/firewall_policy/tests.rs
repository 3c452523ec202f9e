//! Table-driven tests of the policy evaluator, one rule (R49-R53) per block.

use super::*;
use crate::model::{FirewallRuleGroup, PortRange, StatefulRule, StatelessRule};
use std::collections::BTreeMap;

const FW_VPC: &str = "10.0.0.0/16";
const WORKLOAD: &str = "10.1.2.3";
const SERVER: &str = "198.51.100.10";

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}
fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn policy(order: &str, stateful_defaults: &[&str], stateful: &[&str]) -> FirewallPolicy {
    FirewallPolicy {
        arn: "arn:aws:network-firewall:us-east-1:111122223333:firewall-policy/egress".into(),
        name: Some("egress".into()),
        stateless_default_actions: vec!["aws:forward_to_sfe".into()],
        stateless_fragment_default_actions: vec!["aws:forward_to_sfe".into()],
        stateless_rule_groups: vec![],
        stateful_rule_groups: stateful
            .iter()
            .enumerate()
            .map(|(i, a)| RuleGroupRef {
                arn: group_arn(a),
                priority: Some(10 * (i as i32 + 1)),
                override_action: None,
            })
            .collect(),
        stateful_rule_order: Some(order.into()),
        stateful_default_actions: stateful_defaults.iter().map(|s| s.to_string()).collect(),
        stream_exception_policy: None,
        home_net: None,
        tls_inspection_configuration_arn: None,
    }
}

fn group_arn(name: &str) -> String {
    format!("arn:aws:network-firewall:us-east-1:111122223333:stateful-rulegroup/{name}")
}

fn group(name: &str, rules: RulesSource) -> FirewallRuleGroup {
    FirewallRuleGroup {
        arn: group_arn(name),
        name: Some(name.into()),
        rule_group_type: "STATEFUL".into(),
        rule_order: None,
        ip_sets: BTreeMap::new(),
        port_sets: BTreeMap::new(),
        rules,
    }
}

fn domains(kind: &str, targets: &[&str], types: &[&str]) -> RulesSource {
    RulesSource::DomainList {
        targets: targets.iter().map(|s| s.to_string()).collect(),
        target_types: types.iter().map(|s| s.to_string()).collect(),
        generated_rules_type: kind.into(),
    }
}

fn suricata(s: &str) -> RulesSource {
    RulesSource::RulesString { rules: s.into() }
}

fn tls(sni: Option<&str>) -> FwFlow<'_> {
    FwFlow {
        src: ip(WORKLOAD),
        dst: ip(SERVER),
        protocol: Protocol::TCP,
        src_port: None,
        dst_port: 443,
        app: FwApp::Tls { sni },
    }
}

fn udp(port: u16) -> FwFlow<'static> {
    FwFlow {
        src: ip(WORKLOAD),
        dst: ip(SERVER),
        protocol: Protocol::UDP,
        src_port: None,
        dst_port: port,
        app: FwApp::Other,
    }
}

fn tcp(port: u16) -> FwFlow<'static> {
    FwFlow {
        protocol: Protocol::TCP,
        ..udp(port)
    }
}

fn run(p: &FirewallPolicy, groups: &[FirewallRuleGroup], flow: &FwFlow<'_>) -> FwDecision {
    let vpc = [net(FW_VPC)];
    let ctx = FwContext::new(p, groups, &vpc);
    evaluate(&ctx, flow)
}

/// The policy's HOME_NET covers the workload (the R52 fix), unless a test says otherwise.
fn with_home(mut p: FirewallPolicy) -> FirewallPolicy {
    p.home_net = Some(vec![net(FW_VPC), net("10.1.0.0/16")]);
    p
}

use FwAction::{Drop, Pass, Reject, Unknown};

#[test]
fn r51_tls_allowlist_hit_miss_and_wildcards() {
    let g = group(
        "allow",
        domains("ALLOWLIST", &[".example.com", "api.test"], &["TLS_SNI"]),
    );
    let p = with_home(policy(
        "STRICT_ORDER",
        &["aws:drop_established"],
        &["allow"],
    ));
    // (sni, connect, application)
    let cases = [
        (Some("api.test"), Pass, Pass),
        (Some("API.Test"), Pass, Pass),
        (Some("example.com"), Pass, Pass),
        (Some("a.b.example.com"), Pass, Pass),
        (Some("badexample.com"), Pass, Drop),
        (Some("api.test.evil"), Pass, Drop),
        (Some("v2.api.test"), Pass, Drop),
        (None, Pass, Drop),
    ];
    for (sni, connect, application) in cases {
        let d = run(&p, std::slice::from_ref(&g), &tls(sni));
        assert_eq!(
            (d.connect, d.application),
            (connect, application),
            "{sni:?}"
        );
        assert!(!d.home_net_excludes_source, "{sni:?}");
        assert!(d.not_evaluable.is_empty(), "{sni:?}: {:?}", d.not_evaluable);
        if application == Drop {
            // R53: the generated drop (not the default) decides: TLS stall.
            let by = d.decided_by.unwrap();
            assert_eq!(by.stage, FwStage::Stateful, "{sni:?}");
            assert_eq!(by.group.as_deref(), Some("allow"));
            assert!(
                by.detail
                    .starts_with("TLS allowlist (.example.com, api.test)")
            );
        } else {
            assert_eq!(d.decided_by, None);
        }
    }
    let d = run(&p, &[g], &tls(Some("api.other.test")));
    assert_eq!(
        d.decided_by.map(|b| b.detail),
        Some("TLS allowlist (.example.com, api.test) does not contain api.other.test".into())
    );
}

#[test]
fn r51_domain_lists_touch_only_their_protocol() {
    let g = group("allow", domains("ALLOWLIST", &["api.test"], &["TLS_SNI"]));
    let p = with_home(policy("DEFAULT_ACTION_ORDER", &[], &["allow"]));
    let http = FwFlow {
        dst_port: 80,
        app: FwApp::Http {
            host: Some("other.test"),
        },
        ..tls(None)
    };
    // A TLS-only allowlist leaves HTTP, raw TCP and UDP alone.
    for flow in [http, tcp(22), udp(53)] {
        let d = run(&p, std::slice::from_ref(&g), &flow);
        assert_eq!((d.connect, d.application), (Pass, Pass), "{flow:?}");
    }
    // HTTP_HOST: the Host header, normalised (case, port).
    let g = group(
        "allow",
        domains("ALLOWLIST", &[".example.com"], &["HTTP_HOST"]),
    );
    for (host, want) in [
        ("www.Example.com:8080", Pass),
        ("example.com", Pass),
        ("example.org", Drop),
    ] {
        let flow = FwFlow {
            dst_port: 80,
            app: FwApp::Http { host: Some(host) },
            ..tls(None)
        };
        let d = run(&p, std::slice::from_ref(&g), &flow);
        assert_eq!((d.connect, d.application), (Pass, want), "{host}");
    }
}

#[test]
fn r51_r53_deny_and_reject_lists() {
    let p = with_home(policy("DEFAULT_ACTION_ORDER", &[], &["list"]));
    // (kind, sni, application)
    let cases = [
        ("DENYLIST", "x.bad.test", Drop),
        ("DENYLIST", "good.test", Pass),
        ("REJECTLIST", "bad.test", Reject),
        ("REJECTLIST", "good.test", Pass),
        ("ALERTLIST", "bad.test", Pass),
    ];
    for (kind, sni, want) in cases {
        let g = group("list", domains(kind, &[".bad.test"], &["TLS_SNI"]));
        let d = run(&p, &[g], &tls(Some(sni)));
        assert_eq!((d.connect, d.application), (Pass, want), "{kind} {sni}");
        if want != Pass {
            let by = d.decided_by.unwrap();
            assert!(
                by.detail.contains(&format!(".bad.test matches {sni}")),
                "{by:?}"
            );
        }
    }
}

#[test]
fn r52_home_net_scoping() {
    let g = group("allow", domains("ALLOWLIST", &["api.test"], &["TLS_SNI"]));
    let mut scoped = g.clone();
    scoped
        .ip_sets
        .insert("HOME_NET".into(), vec![net(FW_VPC), net("10.1.0.0/16")]);
    // (order, defaults, policy home_net set, group HOME_NET set, sni, connect, app, excluded)
    let cases = [
        // Default HOME_NET = firewall VPC: the workload is outside, the list does not apply.
        (
            "DEFAULT_ACTION_ORDER",
            vec![],
            false,
            false,
            "other.test",
            Pass,
            Pass,
            true,
        ),
        // Strict + drop_established: even the allowlisted name hits the default drop.
        (
            "STRICT_ORDER",
            vec!["aws:drop_established"],
            false,
            false,
            "api.test",
            Pass,
            Drop,
            true,
        ),
        // Policy variable fixes it.
        (
            "STRICT_ORDER",
            vec!["aws:drop_established"],
            true,
            false,
            "api.test",
            Pass,
            Pass,
            false,
        ),
        (
            "STRICT_ORDER",
            vec!["aws:drop_established"],
            true,
            false,
            "other.test",
            Pass,
            Drop,
            false,
        ),
        // Rule-group IP set fixes it too.
        (
            "STRICT_ORDER",
            vec!["aws:drop_established"],
            false,
            true,
            "api.test",
            Pass,
            Pass,
            false,
        ),
        (
            "DEFAULT_ACTION_ORDER",
            vec![],
            false,
            true,
            "other.test",
            Pass,
            Drop,
            false,
        ),
    ];
    for (order, defaults, policy_home, group_home, sni, connect, app, excluded) in cases {
        let mut p = policy(order, &defaults, &["allow"]);
        if policy_home {
            p = with_home(p);
        }
        let grp = if group_home {
            scoped.clone()
        } else {
            g.clone()
        };
        let d = run(&p, &[grp], &tls(Some(sni)));
        let label = format!("{order} {defaults:?} {policy_home} {group_home} {sni}");
        assert_eq!((d.connect, d.application), (connect, app), "{label}");
        assert_eq!(d.home_net_excludes_source, excluded, "{label}");
    }
    // The strict default, not the list, is named when HOME_NET excludes the source.
    let p = policy("STRICT_ORDER", &["aws:drop_established"], &["allow"]);
    let by = run(&p, &[g], &tls(Some("api.test"))).decided_by.unwrap();
    assert_eq!(by.stage, FwStage::StatefulDefault);
    assert_eq!(by.rule, "aws:drop_established");
}

#[test]
fn r50_strict_default_actions() {
    let g = group("allow", domains("ALLOWLIST", &["api.test"], &["TLS_SNI"]));
    // (defaults, flow, connect, application, decided by)
    let cases: Vec<(Vec<&str>, FwFlow<'_>, FwAction, FwAction, Option<&str>)> = vec![
        // drop_strict drops the SYN itself: even an allowlisted name cannot connect.
        (
            vec!["aws:drop_strict"],
            tls(Some("api.test")),
            Drop,
            Drop,
            Some("aws:drop_strict"),
        ),
        (
            vec!["aws:drop_strict"],
            tcp(22),
            Drop,
            Drop,
            Some("aws:drop_strict"),
        ),
        // drop_established lets the handshake through, the list decides the ClientHello.
        (
            vec!["aws:drop_established"],
            tls(Some("api.test")),
            Pass,
            Pass,
            None,
        ),
        (
            vec!["aws:drop_established"],
            tls(Some("x.test")),
            Pass,
            Drop,
            Some("sid:2"),
        ),
        // A plain TCP connect only meets the handshake.
        (vec!["aws:drop_established"], tcp(22), Pass, Pass, None),
        // UDP has no handshake: every packet no rule passes is dropped.
        (
            vec!["aws:drop_established"],
            udp(123),
            Drop,
            Drop,
            Some("aws:drop_established"),
        ),
        // Alert defaults only log.
        (vec!["aws:alert_strict"], udp(123), Pass, Pass, None),
        (
            vec!["aws:alert_established", "aws:drop_established"],
            udp(53),
            Drop,
            Drop,
            Some("aws:drop_established"),
        ),
        (vec![], tls(Some("x.test")), Pass, Drop, Some("sid:2")),
    ];
    for (defaults, flow, connect, application, by) in cases {
        let p = with_home(policy("STRICT_ORDER", &defaults, &["allow"]));
        let d = run(&p, std::slice::from_ref(&g), &flow);
        let label = format!("{defaults:?} {flow:?}");
        assert_eq!(
            (d.connect, d.application),
            (connect, application),
            "{label}"
        );
        assert_eq!(d.decided_by.map(|b| b.rule).as_deref(), by, "{label}");
    }
    // Default actions are ignored in action order (valid only with STRICT_ORDER).
    let p = with_home(policy(
        "DEFAULT_ACTION_ORDER",
        &["aws:drop_strict"],
        &["allow"],
    ));
    let d = run(&p, &[g], &tcp(22));
    assert_eq!(d.connect, Pass);
}

#[test]
fn r50_unknown_default_action_is_not_guessed() {
    let p = policy("STRICT_ORDER", &["aws:drop_application_layer"], &[]);
    let d = run(&p, &[], &udp(123));
    assert_eq!(d.connect, Unknown);
    assert_eq!(d.not_evaluable.len(), 1, "{:?}", d.not_evaluable);
    assert!(d.not_evaluable[0].contains("aws:drop_application_layer"));
}

fn stateless_rule(priority: i32, action: &str) -> StatelessRule {
    StatelessRule {
        priority,
        actions: vec![action.into()],
        sources: vec![],
        destinations: vec![],
        source_ports: vec![],
        destination_ports: vec![],
        protocols: vec![],
        has_tcp_flags: false,
    }
}

fn stateless_group(name: &str, rules: Vec<StatelessRule>) -> FirewallRuleGroup {
    FirewallRuleGroup {
        arn: format!("arn:aws:network-firewall:us-east-1:111122223333:stateless-rulegroup/{name}"),
        name: Some(name.into()),
        rule_group_type: "STATELESS".into(),
        rule_order: None,
        ip_sets: BTreeMap::new(),
        port_sets: BTreeMap::new(),
        rules: RulesSource::Stateless { rules },
    }
}

fn with_stateless(mut p: FirewallPolicy, g: &FirewallRuleGroup, default: &str) -> FirewallPolicy {
    p.stateless_rule_groups = vec![RuleGroupRef {
        arn: g.arn.clone(),
        priority: Some(1),
        override_action: None,
    }];
    p.stateless_default_actions = vec![default.into()];
    p
}

#[test]
fn r49_stateless_engine_first() {
    let deny_all = group("deny", suricata("drop ip any any -> any any (sid:1;)"));
    let tcp443 = |action: &str, prio: i32| StatelessRule {
        protocols: vec![6],
        destination_ports: vec![PortRange { from: 443, to: 443 }],
        ..stateless_rule(prio, action)
    };
    let back443 = |action: &str, prio: i32| StatelessRule {
        protocols: vec![6],
        source_ports: vec![PortRange { from: 443, to: 443 }],
        ..stateless_rule(prio, action)
    };
    // (rules, default, flow, connect, stage of decided_by)
    let cases: Vec<(
        Vec<StatelessRule>,
        &str,
        FwFlow<'_>,
        FwAction,
        Option<FwStage>,
    )> = vec![
        // The stateless default drops everything.
        (
            vec![],
            "aws:drop",
            tls(Some("a.test")),
            Drop,
            Some(FwStage::StatelessDefault),
        ),
        // Stateless pass both ways: the stateful drop-all is never consulted.
        (
            vec![tcp443("aws:pass", 1), back443("aws:pass", 2)],
            "aws:drop",
            tls(Some("a.test")),
            Pass,
            None,
        ),
        // Priority order: the lower number wins.
        (
            vec![tcp443("aws:drop", 1), tcp443("aws:pass", 2)],
            "aws:pass",
            tls(None),
            Drop,
            Some(FwStage::Stateless),
        ),
        // forward_to_sfe: the stateful drop-all decides.
        (
            vec![tcp443("aws:forward_to_sfe", 1)],
            "aws:forward_to_sfe",
            tls(None),
            Drop,
            Some(FwStage::Stateful),
        ),
        // The reply (source port 443) is dropped: the handshake cannot complete.
        (
            vec![back443("aws:drop", 1)],
            "aws:pass",
            tls(None),
            Drop,
            Some(FwStage::Stateless),
        ),
        // Other ports fall to the default.
        (vec![tcp443("aws:drop", 1)], "aws:pass", tcp(22), Pass, None),
        (
            vec![tcp443("aws:drop", 1)],
            "aws:pass",
            udp(443),
            Pass,
            None,
        ),
    ];
    for (rules, default, flow, connect, stage) in cases {
        let sg = stateless_group("sl", rules.clone());
        let p = with_stateless(policy("STRICT_ORDER", &[], &["deny"]), &sg, default);
        let d = run(&p, &[sg, deny_all.clone()], &flow);
        let label = format!("{rules:?} {default} {flow:?}");
        assert_eq!(d.connect, connect, "{label}");
        assert_eq!(d.decided_by.map(|b| b.stage), stage, "{label}");
        assert!(d.not_evaluable.is_empty(), "{label}: {:?}", d.not_evaluable);
    }
}

#[test]
fn r49_custom_actions_do_not_change_the_decision() {
    let rule = StatelessRule {
        actions: vec!["MetricOnly".into(), "aws:drop".into()],
        ..stateless_rule(1, "x")
    };
    let sg = stateless_group("sl", vec![rule]);
    let p = with_stateless(policy("STRICT_ORDER", &[], &[]), &sg, "aws:pass");
    let d = run(&p, &[sg], &tcp(22));
    assert_eq!(d.connect, Drop);
}

#[test]
fn r49_stateless_tcp_flags_and_asymmetry_are_named() {
    let flags = StatelessRule {
        has_tcp_flags: true,
        ..stateless_rule(1, "aws:drop")
    };
    let sg = stateless_group("flags", vec![flags]);
    let p = with_stateless(policy("STRICT_ORDER", &[], &[]), &sg, "aws:forward_to_sfe");
    let d = run(&p, std::slice::from_ref(&sg), &tcp(443));
    assert_eq!(d.connect, Unknown);
    assert_eq!(d.decided_by.map(|b| b.rule).as_deref(), Some("priority 1"));
    assert!(
        d.not_evaluable
            .iter()
            .any(|n| n.contains("flags") && n.contains("TCP flags"))
    );
    // The same rule for UDP: the protocol list rules it out? No protocol list, so it is
    // still named; a rule for TCP only is not.
    let tcp_only = StatelessRule {
        protocols: vec![6],
        has_tcp_flags: true,
        ..stateless_rule(1, "aws:drop")
    };
    let sg = stateless_group("flags", vec![tcp_only]);
    let p = with_stateless(policy("STRICT_ORDER", &[], &[]), &sg, "aws:forward_to_sfe");
    let d = run(&p, &[sg], &udp(53));
    assert_eq!((d.connect, d.not_evaluable.len()), (Pass, 0));
    // R48: request passed by a stateless rule, reply forwarded to the stateful engine.
    let out_pass = StatelessRule {
        destination_ports: vec![PortRange { from: 443, to: 443 }],
        protocols: vec![6],
        ..stateless_rule(1, "aws:pass")
    };
    let sg = stateless_group("oneway", vec![out_pass]);
    let p = with_stateless(policy("STRICT_ORDER", &[], &[]), &sg, "aws:forward_to_sfe");
    let d = run(&p, &[sg], &tcp(443));
    assert_eq!(d.connect, Unknown);
    assert!(
        d.not_evaluable.iter().any(|n| n.contains("R48")),
        "{:?}",
        d.not_evaluable
    );
}

fn standard(action: &str, proto: &str, dst: &str, dport: &str, sid: &str) -> StatefulRule {
    StatefulRule {
        action: action.into(),
        protocol: proto.into(),
        source: "ANY".into(),
        source_port: "ANY".into(),
        direction: "FORWARD".into(),
        destination: dst.into(),
        destination_port: dport.into(),
        options: vec![("sid".into(), vec![sid.into()])],
    }
}

#[test]
fn r49_r53_standard_five_tuple_rules() {
    // (rule, flow, connect, application)
    let cases = [
        (
            standard("DROP", "TCP", "ANY", "22", "1"),
            tcp(22),
            Drop,
            Drop,
        ),
        (
            standard("DROP", "TCP", "ANY", "22", "1"),
            tcp(443),
            Pass,
            Pass,
        ),
        (
            standard("REJECT", "TCP", "198.51.100.0/24", "ANY", "1"),
            tcp(443),
            Reject,
            Reject,
        ),
        // R53: reject is TCP-only; UDP is dropped.
        (
            standard("REJECT", "UDP", "ANY", "53", "1"),
            udp(53),
            Drop,
            Drop,
        ),
        (
            standard("DROP", "IP", "192.0.2.0/24", "ANY", "1"),
            tcp(443),
            Pass,
            Pass,
        ),
        // Headers are matched per packet: the SYN goes to 198.51.100.10 and passes, but the
        // SYN-ACK goes to the client, which is outside 198.51.100.0/24: dropped.
        (
            standard("DROP", "IP", "!198.51.100.0/24", "ANY", "1"),
            tcp(443),
            Drop,
            Drop,
        ),
        (
            standard("DROP", "IP", "[192.0.2.0/24, 198.51.100.10]", "ANY", "1"),
            udp(53),
            Drop,
            Drop,
        ),
        (
            standard("ALERT", "IP", "ANY", "ANY", "1"),
            tcp(443),
            Pass,
            Pass,
        ),
        // A TLS 5-tuple rule acts on the ClientHello, after the handshake.
        (
            standard("DROP", "TLS", "ANY", "ANY", "1"),
            tls(Some("a.test")),
            Pass,
            Drop,
        ),
        (
            standard("DROP", "TLS", "ANY", "ANY", "1"),
            tcp(443),
            Pass,
            Pass,
        ),
        (
            standard("DROP", "HTTP", "ANY", "ANY", "1"),
            tls(Some("a.test")),
            Pass,
            Pass,
        ),
        (
            standard("DROP", "UDP", "ANY", "$DNS_PORTS", "1"),
            udp(53),
            Drop,
            Drop,
        ),
        (
            standard("DROP", "UDP", "$RESOLVERS", "ANY", "1"),
            udp(53),
            Drop,
            Drop,
        ),
    ];
    for (rule, flow, connect, application) in cases {
        let mut g = group(
            "five",
            RulesSource::StatefulRules {
                rules: vec![rule.clone()],
            },
        );
        g.port_sets
            .insert("DNS_PORTS".into(), vec!["53".into(), "853".into()]);
        g.ip_sets
            .insert("RESOLVERS".into(), vec![net("198.51.100.0/28")]);
        let p = policy("STRICT_ORDER", &[], &["five"]);
        let d = run(&p, &[g], &flow);
        let label = format!("{rule:?} {flow:?}");
        assert_eq!(
            (d.connect, d.application),
            (connect, application),
            "{label}"
        );
        assert!(d.not_evaluable.is_empty(), "{label}: {:?}", d.not_evaluable);
        if connect.blocks() || application.blocks() {
            assert_eq!(
                d.decided_by.map(|b| b.rule).as_deref(),
                Some("sid:1"),
                "{label}"
            );
        }
    }
}

#[test]
fn r49_order_strict_vs_action_order() {
    let rules = "drop tcp $HOME_NET any -> any 443 (flow:to_server; sid:1;)\n\
                 pass tcp $HOME_NET any -> any 443 (flow:to_server; sid:2;)";
    let g = group("mixed", suricata(rules));
    // Strict: written order, the drop comes first.
    let p = with_home(policy("STRICT_ORDER", &[], &["mixed"]));
    let d = run(&p, std::slice::from_ref(&g), &tcp(443));
    assert_eq!(
        (d.connect, d.decided_by.map(|b| b.rule)),
        (Drop, Some("sid:1".into()))
    );
    // Action order: pass rules first; the flow passes.
    let p = with_home(policy("DEFAULT_ACTION_ORDER", &[], &["mixed"]));
    assert_eq!(run(&p, &[g], &tcp(443)).connect, Pass);
    // Strict order, groups by priority: a broad pass at priority 10 passes the flow at the
    // SYN, before the allowlist (priority 20) sees the ClientHello.
    let broad = group("broad", suricata("pass tcp any any -> any 443 (sid:9;)"));
    let allow = group("allow", domains("ALLOWLIST", &["api.test"], &["TLS_SNI"]));
    let p = with_home(policy(
        "STRICT_ORDER",
        &["aws:drop_established"],
        &["broad", "allow"],
    ));
    let d = run(&p, &[broad.clone(), allow.clone()], &tls(Some("x.test")));
    assert_eq!((d.connect, d.application), (Pass, Pass));
    // Behind the allowlist it still passes the flow: evaluation is per packet, and the
    // allowlist's rules do not match the SYN, the broad pass does.
    let mut p = p;
    p.stateful_rule_groups[0].priority = Some(30);
    let d = run(&p, &[broad, allow], &tls(Some("x.test")));
    assert_eq!((d.connect, d.application), (Pass, Pass));
    // Action order: a drop without flow keywords drops the SYN, the TLS pass never helps.
    let g = group(
        "syn",
        suricata(
            "pass tls $HOME_NET any -> any any (tls.sni; content:\"api.test\"; startswith; \
             endswith; sid:1;)\ndrop tcp $HOME_NET any -> any 443 (sid:2;)",
        ),
    );
    let p = with_home(policy("DEFAULT_ACTION_ORDER", &[], &["syn"]));
    let d = run(&p, &[g], &tls(Some("api.test")));
    assert_eq!(
        (d.connect, d.decided_by.map(|b| b.rule)),
        (Drop, Some("sid:2".into()))
    );
}

#[test]
fn r49_unevaluable_rules_are_named_not_guessed() {
    let allow = "pass tls $HOME_NET any -> any any (tls.sni; content:\"api.test\"; \
                 startswith; endswith; sid:1;)";
    let pcre_drop = "drop tls $HOME_NET any -> any any (tls.sni; pcre:\"/^api\\./\"; sid:7;)";
    let lua_pass = "pass tls $HOME_NET any -> any any (lua:check.lua; sid:8;)";
    let other_port = "drop tcp any any -> any 22 (byte_test:1,>,5,0; sid:9;)";
    // (rules, order, defaults, sni, application, named)
    let cases: Vec<(Vec<&str>, &str, Vec<&str>, &str, FwAction, Vec<&str>)> = vec![
        // Before the deciding pass, an unevaluable drop may win: Unknown, named.
        (
            vec![pcre_drop, allow],
            "STRICT_ORDER",
            vec![],
            "api.test",
            Unknown,
            vec!["sid:7"],
        ),
        // After the deciding pass it cannot matter: not named.
        (
            vec![allow, pcre_drop],
            "STRICT_ORDER",
            vec![],
            "api.test",
            Pass,
            vec![],
        ),
        // Action order: the pcre drop is weighed after every pass.
        (
            vec![pcre_drop, allow],
            "DEFAULT_ACTION_ORDER",
            vec![],
            "api.test",
            Pass,
            vec![],
        ),
        (
            vec![pcre_drop, allow],
            "DEFAULT_ACTION_ORDER",
            vec![],
            "x.test",
            Unknown,
            vec!["sid:7"],
        ),
        // An unevaluable pass before the default drop: Unknown.
        (
            vec![lua_pass],
            "STRICT_ORDER",
            vec!["aws:drop_established"],
            "x.test",
            Unknown,
            vec!["sid:8"],
        ),
        // A header that cannot match rules an unevaluable rule out.
        (
            vec![other_port, allow],
            "STRICT_ORDER",
            vec![],
            "api.test",
            Pass,
            vec![],
        ),
        // A rule whose header does not parse may do anything it says.
        (
            vec!["drop tls $HOME_NET any => any any (sid:11;)", allow],
            "STRICT_ORDER",
            vec![],
            "api.test",
            Unknown,
            vec!["sid:11"],
        ),
        (
            vec!["frobnicate tcp any any -> any any (sid:12;)", allow],
            "STRICT_ORDER",
            vec![],
            "api.test",
            Unknown,
            vec!["sid:12"],
        ),
    ];
    for (rules, order, defaults, sni, application, named) in cases {
        let g = group("custom", suricata(&rules.join("\n")));
        let p = with_home(policy(order, &defaults, &["custom"]));
        let d = run(&p, &[g], &tls(Some(sni)));
        let label = format!("{rules:?} {order} {sni}");
        assert_eq!(d.application, application, "{label}: {d:?}");
        assert_eq!(
            d.not_evaluable.len(),
            named.len(),
            "{label}: {:?}",
            d.not_evaluable
        );
        for (note, sid) in d.not_evaluable.iter().zip(named) {
            assert!(
                note.starts_with(&format!("rule group custom: {sid}: ")),
                "{note}"
            );
        }
    }
    // The note says why: the keyword that is not evaluated.
    let g = group("custom", suricata(&[pcre_drop, allow].join("\n")));
    let p = with_home(policy("STRICT_ORDER", &[], &["custom"]));
    let d = run(&p, &[g], &tls(Some("api.test")));
    assert!(d.not_evaluable[0].contains("pcre"), "{:?}", d.not_evaluable);
    // decided_by names the rule that may block.
    assert_eq!(d.decided_by.map(|b| b.rule).as_deref(), Some("sid:7"));
}

#[test]
fn drop_to_alert_override() {
    let deny = group("deny", domains("DENYLIST", &["bad.test"], &["TLS_SNI"]));
    let mut p = with_home(policy("STRICT_ORDER", &[], &["deny"]));
    assert_eq!(
        run(&p, std::slice::from_ref(&deny), &tls(Some("bad.test"))).application,
        Drop
    );
    p.stateful_rule_groups[0].override_action = Some("DROP_TO_ALERT".into());
    let d = run(&p, &[deny], &tls(Some("bad.test")));
    assert_eq!((d.application, d.not_evaluable.len()), (Pass, 0));
    // Whether it also turns rejects into alerts is not documented: named, Unknown.
    let reject = group("deny", domains("REJECTLIST", &["bad.test"], &["TLS_SNI"]));
    let d = run(&p, &[reject], &tls(Some("bad.test")));
    assert_eq!(d.application, Unknown);
    assert!(
        d.not_evaluable[0].contains("DROP_TO_ALERT"),
        "{:?}",
        d.not_evaluable
    );
}

#[test]
fn unreadable_groups_are_never_passed_over() {
    let p = with_home(policy("STRICT_ORDER", &[], &["hidden", "allow"]));
    let allow = group("allow", domains("ALLOWLIST", &["api.test"], &["TLS_SNI"]));
    let vpc = [net(FW_VPC)];
    // groups[0] = None: the first stateful group could not be read.
    let ctx = FwContext {
        policy: &p,
        groups: vec![None, Some(&allow)],
        firewall_vpc_cidrs: vpc.as_slice().into(),
    };
    let d = evaluate(&ctx, &tls(Some("api.test")));
    assert_eq!((d.connect, d.application), (Unknown, Unknown));
    assert_eq!(
        d.not_evaluable,
        vec![format!(
            "rule group {}: (whole group): rule group is not readable",
            group_arn("hidden")
        )]
    );
    // Behind a stateless drop it cannot matter.
    let sg = stateless_group("sl", vec![]);
    let p2 = with_stateless(p.clone(), &sg, "aws:drop");
    let known = [sg, allow.clone()];
    let ctx = FwContext::new(&p2, &known, &vpc);
    let d = evaluate(&ctx, &tls(Some("api.test")));
    assert_eq!((d.connect, d.not_evaluable.len()), (Drop, 0));
    // An unreadable stateless group may drop, pass or forward.
    let mut p3 = p.clone();
    p3.stateful_rule_groups.clear();
    p3.stateless_rule_groups = vec![RuleGroupRef {
        arn: "arn:aws:network-firewall:us-east-1:444455556666:stateless-rulegroup/x".into(),
        priority: Some(1),
        override_action: None,
    }];
    let d = evaluate(&FwContext::new(&p3, &[], &vpc), &tcp(443));
    assert_eq!(d.connect, Unknown);
    assert!(
        d.not_evaluable[0].contains("444455556666"),
        "{:?}",
        d.not_evaluable
    );
}

#[test]
fn groups_match_references_by_arn() {
    // Only the readable groups, in another order: found by ARN.
    let deny = group("deny", suricata("drop tcp any any -> any 22 (sid:1;)"));
    let allow = group("allow", suricata("pass tcp any any -> any 22 (sid:2;)"));
    let p = policy("STRICT_ORDER", &[], &["deny", "allow"]);
    let vpc = [net(FW_VPC)];
    let ctx = FwContext {
        policy: &p,
        groups: vec![Some(&allow), Some(&deny)],
        firewall_vpc_cidrs: vpc.as_slice().into(),
    };
    let d = evaluate(&ctx, &tcp(22));
    assert_eq!(
        (d.connect, d.decided_by.map(|b| b.rule)),
        (Drop, Some("sid:1".into()))
    );
}

#[test]
fn r52_r55_unknown_home_net_is_named_not_guessed() {
    // A firewall attached to a transit gateway has no VPC CIDR to default HOME_NET to.
    let allow = group("allow", domains("ALLOWLIST", &["api.test"], &["TLS_SNI"]));
    let p = policy("STRICT_ORDER", &["aws:drop_established"], &["allow"]);
    let ctx = FwContext::new(&p, std::slice::from_ref(&allow), &[]);
    let d = evaluate(&ctx, &tls(Some("api.test")));
    assert_eq!((d.connect, d.application), (Pass, Unknown));
    assert!(!d.home_net_excludes_source);
    assert!(
        d.not_evaluable.iter().any(|n| n
            == "rule group allow: sid:1: variable $HOME_NET is not defined; \
                           variable $EXTERNAL_NET is not defined"),
        "{:?}",
        d.not_evaluable
    );
    assert!(
        d.not_evaluable
            .iter()
            .any(|n| n.starts_with("rule group allow: HOME_NET is not known")),
        "{:?}",
        d.not_evaluable
    );
}

#[test]
fn r51_ipv6_flows() {
    let allow = group(
        "allow",
        domains("ALLOWLIST", &[".example.com"], &["TLS_SNI"]),
    );
    let mut p = policy("STRICT_ORDER", &["aws:drop_established"], &["allow"]);
    p.home_net = Some(vec![net("2001:db8:1::/48")]);
    for (sni, want) in [("www.example.com", Pass), ("example.net", Drop)] {
        let flow = FwFlow {
            src: ip("2001:db8:1::5"),
            dst: ip("2001:db8:ff::1"),
            ..tls(Some(sni))
        };
        let d = run(&p, std::slice::from_ref(&allow), &flow);
        assert_eq!((d.connect, d.application), (Pass, want), "{sni}");
        assert!(!d.home_net_excludes_source, "{sni}");
    }
    // An IPv4 HOME_NET does not contain an IPv6 source.
    let p = with_home(policy(
        "STRICT_ORDER",
        &["aws:drop_established"],
        &["allow"],
    ));
    let flow = FwFlow {
        src: ip("2001:db8:1::5"),
        dst: ip("2001:db8:ff::1"),
        ..tls(Some("www.example.com"))
    };
    let d = run(&p, &[allow], &flow);
    assert_eq!((d.application, d.home_net_excludes_source), (Drop, true));
}

/// The path engine parses a policy's stateful rules once and reuses them for every flow
/// (`evaluate_with`); the decisions must be those of a fresh parse for each flow, whichever
/// flow comes first (R49-R52).
#[test]
fn rules_parsed_once_decide_every_flow_as_a_fresh_parse() {
    let p = with_home(policy("STRICT_ORDER", &[], &["allow"]));
    let allow = group("allow", domains("ALLOWLIST", &["api.test"], &["TLS_SNI"]));
    let known = [allow];
    let vpc = [net(FW_VPC)];
    let ctx = FwContext::new(&p, &known, &vpc);
    let flows = [
        tls(Some("api.test")),
        tls(Some("other.test")),
        tls(None),
        tcp(443),
        udp(53),
    ];
    let rules = Rc::new(StatefulRules::new(&ctx));
    for order in [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0]] {
        for i in order {
            let flow = &flows[i];
            assert_eq!(
                evaluate_with(&ctx, flow, &rules),
                evaluate(&ctx, flow),
                "flow {flow:?}"
            );
        }
    }
    // The allowlist really decides these flows differently, so the comparison means something.
    let allowed = evaluate_with(&ctx, &flows[0], &rules);
    let denied = evaluate_with(&ctx, &flows[1], &rules);
    assert_ne!(allowed.application, denied.application);
}
