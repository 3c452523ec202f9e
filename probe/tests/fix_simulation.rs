//! Issue 11: every printed fix is proven. The whole catalogue is walked: each code either
//! has a fix as changes that, applied to a copy of its fixture's snapshot, clears the
//! finding and introduces no new error on any subnet of the snapshot, or is declared
//! advice-only with its reason (`diagnosis::ADVICE_ONLY`). A new code with neither fails
//! here. The printed command lines are the changes' own rendering, and parse back to
//! them. The harmful fixes of the issue are regression tests.

#![allow(clippy::unwrap_used)]

use egress_probe::diagnosis::simulate::{Baseline, prove_fixes, prove_fixes_observed};
use egress_probe::diagnosis::{FINDING_CODES, Flow, Subject, advice_only, diagnose_names};
use egress_probe::model::{Change, NetworkSnapshot, Observation, Protocol, RouteTarget, Severity};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    subject: CaseSubject,
    #[serde(default)]
    flows: Vec<CaseFlow>,
    /// Names whose resolution is predicted (`dns:` targets, R58-R62).
    #[serde(default)]
    names: Vec<String>,
    /// What the probe saw: findings raised to explain an observation (DNS Firewall
    /// failing closed, R61) are proven against it.
    #[serde(default)]
    observations: Vec<Observation>,
}

#[derive(Deserialize)]
struct CaseSubject {
    #[serde(default)]
    function: Option<String>,
    #[serde(default)]
    subnet_ids: Vec<String>,
    #[serde(default)]
    security_group_ids: Vec<String>,
}

#[derive(Deserialize)]
struct CaseFlow {
    target: String,
    #[serde(default)]
    host: Option<String>,
    destination: IpAddr,
    protocol: String,
    port: u16,
}

fn fixtures() -> Vec<(String, NetworkSnapshot, Fixture)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    for p in entries {
        let text = std::fs::read_to_string(&p).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        out.push((
            name,
            serde_json::from_str(&text).unwrap(),
            serde_json::from_str(&text).unwrap(),
        ));
    }
    out
}

fn subject_and_flows(case: &Case) -> (Subject, Vec<Flow>) {
    let subject = Subject {
        function: case.subject.function.clone(),
        subnet_ids: case.subject.subnet_ids.clone(),
        security_group_ids: case.subject.security_group_ids.clone(),
    };
    let flows = case
        .flows
        .iter()
        .map(|f| Flow {
            target: f.target.clone(),
            host: f.host.clone(),
            destination: f.destination,
            protocol: Protocol::parse(&f.protocol).unwrap(),
            port: f.port,
        })
        .collect();
    (subject, flows)
}

/// The catalogue walk: every code is proven somewhere or declared advice-only.
#[test]
fn every_code_has_a_proven_fix_or_is_declared_advice_only() {
    let mut proven: BTreeSet<String> = BTreeSet::new();
    let mut failures = Vec::new();
    let mut simulated = 0;
    for (file, snapshot, fixture) in fixtures() {
        for case in &fixture.cases {
            let (subject, flows) = subject_and_flows(case);
            let mut d =
                diagnose_names(&snapshot, &subject, &flows, &case.names, &case.observations);
            let proofs = prove_fixes_observed(
                &snapshot,
                &subject,
                &flows,
                &case.names,
                &case.observations,
                &mut d,
            );
            for (i, f) in d.findings.iter().enumerate() {
                let ctx = format!("{file} / {} / {}", case.name, f.code);
                if let Some(why) = advice_only(&f.code) {
                    assert!(!why.is_empty());
                    if !d.fix_changes[i].is_empty() {
                        failures.push(format!("{ctx}: advice-only, but carries changes"));
                    }
                    continue;
                }
                let Some(p) = proofs.iter().find(|p| p.finding == i) else {
                    // A fix that needs data the snapshot lacks (no public subnet for a
                    // new NAT gateway) is not printed as a change: it must say so.
                    if f.severity == Severity::Error
                        && f.fix_commands.iter().any(|c| !c.contains('<'))
                    {
                        failures.push(format!(
                            "{ctx}: prints {:?} without a change",
                            f.fix_commands
                        ));
                    }
                    continue;
                };
                simulated += 1;
                // Every alternative was tried; one that still breaks something is printed
                // with its side effect (the proof's text), never as if it were safe.
                if p.refused.is_some() || !p.clears {
                    failures.push(format!("{ctx}: {} ({:?})", p.text(false), p.changes));
                    continue;
                }
                if !p.breaks.is_empty() {
                    assert!(p.text(false).contains("but breaks"), "{ctx}");
                    assert!(p.text(true).contains("次を壊します"), "{ctx}");
                }
                // The printed lines are the chosen changes, rendered by the one renderer.
                let parsed: Vec<Change> = f
                    .fix_commands
                    .iter()
                    .map(|c| Change::parse_cli(c).unwrap_or_else(|e| panic!("{ctx}: {c}: {e}")))
                    .collect();
                if parsed != p.changes {
                    failures.push(format!(
                        "{ctx}: printed {:?} is not the proven {:?}",
                        f.fix_commands, p.changes
                    ));
                }
                if p.proven() {
                    proven.insert(f.code.clone());
                }
            }
        }
    }
    for (code, _) in FINDING_CODES {
        if advice_only(code).is_none() && !proven.contains(*code) {
            failures.push(format!(
                "{code}: no fixture proves its fix, and it is not declared advice-only"
            ));
        }
    }
    assert!(simulated >= 10, "only {simulated} fixes simulated");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Harmful fixes of issue 11, as regressions: no fix associates `default` DHCP options
/// (no DNS at all, R25), no NACL fix opens `0.0.0.0/0` or `::/0`, and no fix re-routes a
/// subnet that hosts a NAT gateway.
#[test]
fn no_printed_fix_is_one_of_the_harmful_ones() {
    for (file, snapshot, fixture) in fixtures() {
        for case in &fixture.cases {
            let (subject, flows) = subject_and_flows(case);
            let mut d = diagnose_names(&snapshot, &subject, &flows, &case.names, &[]);
            let proofs = prove_fixes(&snapshot, &subject, &flows, &case.names, &mut d);
            for f in &d.findings {
                let ctx = format!("{file} / {} / {}", case.name, f.code);
                for c in &f.fix_commands {
                    assert!(!c.contains("--dhcp-options-id default"), "{ctx}: {c}");
                    if c.contains("network-acl-entry") && c.contains("--rule-action allow") {
                        assert!(
                            !c.contains("--cidr-block 0.0.0.0/0")
                                && !c.contains("--ipv6-cidr-block ::/0"),
                            "{ctx}: {c}"
                        );
                    }
                }
                // A fix that re-routes the table of a NAT gateway's own subnet to a NAT
                // gateway is never printed as safe: its proof names what it breaks.
                let Some(p) = proofs
                    .iter()
                    .find(|p| std::ptr::eq(&d.findings[p.finding], f))
                else {
                    continue;
                };
                for c in &p.changes {
                    let Change::ReplaceRoute {
                        rtb,
                        target: RouteTarget::NatGateway(_),
                        ..
                    } = c
                    else {
                        continue;
                    };
                    for n in &snapshot.nat_gateways {
                        let Some(s) = n.subnet_id.as_deref() else {
                            continue;
                        };
                        if snapshot
                            .effective_route_table(s)
                            .is_some_and(|t| &t.id == rtb)
                        {
                            assert!(
                                !p.proven(),
                                "{ctx}: {c:?} re-routes {s}, the subnet of {}",
                                n.id
                            );
                        }
                    }
                }
            }
        }
    }
}

/// `--what-if` on the fixtures: the printed fix of a finding, given back as the operator
/// would type it, fixes that subnet's error and breaks nothing; deleting the NAT gateway
/// a private subnet uses breaks it.
#[test]
fn what_if_names_what_a_change_fixes_and_breaks() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let text = std::fs::read_to_string(dir.join("healthy.json")).unwrap();
    let snapshot: NetworkSnapshot = serde_json::from_str(&text).unwrap();
    let fixture: Fixture = serde_json::from_str(&text).unwrap();
    let (subject, flows) = subject_and_flows(&fixture.cases[0]);
    let base = Baseline::new(&snapshot, &subject, &flows, &[]);
    let nat = &snapshot.nat_gateways[0].id;
    let w = base.what_if(&[Change::parse_cli(&format!(
        "aws ec2 delete-nat-gateway --nat-gateway-id {nat}"
    ))
    .unwrap()]);
    assert!(w.refused.is_none());
    let broken: BTreeMap<&str, &str> = w
        .effects
        .iter()
        .filter(|e| e.effect == "breaks")
        .map(|e| (e.subnet_id.as_str(), e.detail.as_str()))
        .collect();
    assert!(!broken.is_empty(), "{w:?}");
    assert!(w.evaluated_subnets >= 1);
    // A change AWS would refuse is named, and nothing is evaluated.
    let w = base
        .what_if(&[
            Change::parse_cli("aws ec2 delete-nat-gateway --nat-gateway-id nat-nosuch").unwrap(),
        ]);
    assert_eq!(
        w.refused.as_deref(),
        Some("delete-nat-gateway: nat-nosuch is not in the snapshot")
    );
    // A change to something no path crosses changes nothing.
    let sg = &snapshot.security_groups[0].id;
    let w = base.what_if(&[Change::parse_cli(&format!(
        "aws ec2 authorize-security-group-ingress --group-id {sg} --protocol tcp --port 22 --cidr 192.0.2.0/24"
    ))
    .unwrap()]);
    assert!(w.effects.is_empty(), "{w:?}");
}

/// `healthy.json` with its own NACL on subnet-priv-a: inbound, a deny of another range at
/// rule `other` and the deliberate deny of the destination's range 198.51.100.0/24 at
/// rule 10 (issue 11's case), then allow-all.
fn with_inbound_deny(other: i32) -> (NetworkSnapshot, Subject, Vec<Flow>) {
    use egress_probe::model::{NetworkAcl, PortRange, RuleAction};
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut s: NetworkSnapshot =
        serde_json::from_str(&std::fs::read_to_string(dir.join("healthy.json")).unwrap()).unwrap();
    let all = PortRange { from: 0, to: 65535 };
    let e = |egress, n, proto, cidr: &str, action| {
        Change::nacl_entry(egress, n, proto, all, cidr.parse().unwrap(), action)
    };
    s.network_acls.push(NetworkAcl {
        id: "acl-fn".into(),
        vpc_id: "vpc-1".into(),
        is_default: false,
        subnet_ids: vec!["subnet-priv-a".into()],
        entries: vec![
            e(
                false,
                other,
                Protocol::TCP,
                "192.0.2.0/24",
                RuleAction::Deny,
            ),
            e(
                false,
                10,
                Protocol::ALL,
                "198.51.100.0/24",
                RuleAction::Deny,
            ),
            e(false, 100, Protocol::ALL, "0.0.0.0/0", RuleAction::Allow),
            e(true, 100, Protocol::ALL, "0.0.0.0/0", RuleAction::Allow),
        ],
    });
    let subject = Subject {
        function: None,
        subnet_ids: vec!["subnet-priv-a".into()],
        security_group_ids: vec![],
    };
    (s, subject, vec![flow("198.51.100.10")])
}

fn flow(dest: &str) -> Flow {
    Flow {
        target: format!("tcp://{dest}:443"),
        host: None,
        destination: dest.parse().unwrap(),
        protocol: Protocol::TCP,
        port: 443,
    }
}

fn nacl_finding(d: &egress_probe::diagnosis::Diagnosis) -> Option<usize> {
    d.findings
        .iter()
        .position(|f| f.code == "NACL_INBOUND_EPHEMERAL_DENIED")
}

/// Issue 11, R21: an inbound deny of one range at rule 10 gets the narrowest entry (the
/// destination's /32, the ephemeral ports, TCP), numbered after the other deny at rule 5
/// so that it stays in front; the deny keeps blocking the rest of its range.
#[test]
fn an_explicit_nacl_deny_gets_a_narrow_allow_behind_the_other_denies() {
    let (s, subject, flows) = with_inbound_deny(5);
    let mut d = diagnose_names(&s, &subject, &flows, &[], &[]);
    let i = nacl_finding(&d).unwrap_or_else(|| panic!("{:?}", d.findings));
    let proofs = prove_fixes(&s, &subject, &flows, &[], &mut d);
    let p = proofs.iter().find(|p| p.finding == i).unwrap();
    assert!(p.proven(), "{}", p.text(false));
    assert!(p.side_effects.is_empty(), "{:?}", p.side_effects);
    let line = &d.findings[i].fix_commands[0];
    assert!(
        line.starts_with("aws ec2 create-network-acl-entry --network-acl-id acl-fn --ingress --rule-number 9 --protocol tcp --port-range From=1024,To=65535 --cidr-block 198.51.100.10/32 --rule-action allow"),
        "{line}"
    );
    assert!(
        line.contains("# allows only TCP 1024-65535 from 198.51.100.10/32, numbered ahead of the deliberate deny #10 (all traffic from 198.51.100.0/24)"),
        "{line}"
    );
    // Applied: the destination passes, the rest of the denied range is still denied.
    let mut after = s.clone();
    for c in &p.changes {
        c.apply(&mut after).unwrap();
    }
    let d2 = diagnose_names(&after, &subject, &flows, &[], &[]);
    assert!(nacl_finding(&d2).is_none(), "{:?}", d2.findings);
    let d3 = diagnose_names(&after, &subject, &[flow("198.51.100.11")], &[], &[]);
    assert!(nacl_finding(&d3).is_some(), "{:?}", d3.findings);
}

/// Issue 11, R21: with no free rule number between the other deny (rule 9) and the
/// blocking one (rule 10), the fix deletes the deny; the printed line and the simulation
/// both say in words what else it stops blocking, and `--what-if` lists it as opened.
#[test]
fn deleting_an_explicit_nacl_deny_says_what_else_it_opens() {
    let (s, subject, flows) = with_inbound_deny(9);
    let mut d = diagnose_names(&s, &subject, &flows, &[], &[]);
    let i = nacl_finding(&d).unwrap_or_else(|| panic!("{:?}", d.findings));
    let proofs = prove_fixes(&s, &subject, &flows, &[], &mut d);
    let p = proofs.iter().find(|p| p.finding == i).unwrap();
    let line = &d.findings[i].fix_commands[0];
    assert!(
        line.starts_with(
            "aws ec2 delete-network-acl-entry --network-acl-id acl-fn --ingress --rule-number 10"
        ),
        "{line}"
    );
    assert!(
        line.contains("side effect: deleting it also allows all traffic from 198.51.100.0/24, not only 198.51.100.10/32"),
        "{line}"
    );
    assert!(p.clears && p.breaks.is_empty(), "{}", p.text(false));
    assert_eq!(
        p.side_effects,
        ["acl-fn no longer denies all traffic from 198.51.100.0/24 (rule 10)"]
    );
    assert!(
        p.text(false).ends_with(
            "breaks nothing; side effect: acl-fn no longer denies all traffic from 198.51.100.0/24 (rule 10)"
        ),
        "{}",
        p.text(false)
    );
    assert!(p.text(true).contains("副作用"), "{}", p.text(true));
    let base = Baseline::new(&s, &subject, &flows, &[]);
    let w = base.what_if(&p.changes);
    assert!(
        w.effects.iter().any(|e| e.effect == "opens"
            && e.detail == "acl-fn no longer denies all traffic from 198.51.100.0/24 (rule 10)"),
        "{w:?}"
    );
}

/// Issue 11, R9 + R12: a function in a public subnet of a VPC with no NAT gateway. The
/// new NAT gateway must not go into a subnet that uses the route table the fix points at
/// it (its own default route would lead to itself): here every public subnet shares that
/// table, so no NAT is placed, and no proof claims the finding cleared by one.
#[test]
fn a_new_nat_gateway_never_goes_behind_the_table_that_routes_to_it() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut s: NetworkSnapshot =
        serde_json::from_str(&std::fs::read_to_string(dir.join("healthy.json")).unwrap()).unwrap();
    s.nat_gateways.clear();
    let subject = Subject {
        function: None,
        subnet_ids: vec!["subnet-pub-a".into()],
        security_group_ids: vec![],
    };
    let flows = vec![flow("203.0.113.10")];
    let mut d = diagnose_names(&s, &subject, &flows, &[], &[]);
    let i = d
        .findings
        .iter()
        .position(|f| f.code == "LAMBDA_SUBNET_ROUTES_TO_IGW")
        .unwrap_or_else(|| panic!("{:?}", d.findings));
    let proofs = prove_fixes(&s, &subject, &flows, &[], &mut d);
    for line in &d.findings[i].fix_commands {
        for public in ["subnet-pub-a", "subnet-pub-b"] {
            assert!(
                !line.contains(&format!("create-nat-gateway --subnet-id {public}")),
                "{line}"
            );
        }
    }
    for p in proofs.iter().filter(|p| p.finding == i) {
        assert!(
            !p.changes
                .iter()
                .any(|c| matches!(c, Change::CreateNatGateway { .. })),
            "{p:?}"
        );
    }
}
