//! Data-driven diagnosis tests: every `tests/fixtures/*.json` is a snapshot of one AWS
//! situation plus the cases to run against it (subject, flows, observations, the finding
//! codes that must and must not appear). Rule numbers (R1..R36) are in the case names.

#![allow(clippy::unwrap_used)]

use egress_probe::diagnosis::{FINDING_CODES, Flow, Subject, diagnose, diagnose_names};
use egress_probe::model::{Confirmation, NetworkSnapshot, Observation, Protocol, Severity};
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
    #[serde(default)]
    observations: Vec<Observation>,
    /// Names whose resolution is predicted (`diagnose --target dns:NAME`, R58-R62).
    #[serde(default)]
    names: Vec<String>,
    /// `CODE` or `CODE@subnet-id`.
    #[serde(default)]
    expect: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
    /// Code → observation IDs its finding must explain.
    #[serde(default)]
    explains: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    confirmation: BTreeMap<String, Confirmation>,
    /// Code → entries its `rules` must contain.
    #[serde(default)]
    rules: BTreeMap<String, Vec<String>>,
    /// Code → a substring of one of its fix commands.
    #[serde(default)]
    fix_contains: BTreeMap<String, String>,
    /// Code → a substring none of its fix commands may contain (harmful fixes).
    #[serde(default)]
    fix_lacks: BTreeMap<String, String>,
    /// Code → the severity each of its findings must have.
    #[serde(default)]
    severity: BTreeMap<String, Severity>,
    #[serde(default)]
    paths: Vec<PathExpect>,
    #[serde(default)]
    hops: Vec<HopExpect>,
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

#[derive(Deserialize)]
struct PathExpect {
    subnet: String,
    verdict: String,
}

#[derive(Deserialize)]
struct HopExpect {
    subnet: String,
    component: String,
    decided_by: String,
}

fn fixtures() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut v: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    assert!(v.len() >= 20, "fixtures missing: {}", v.len());
    v
}

fn by_code<'a>(
    findings: &'a [egress_probe::model::Finding],
    code: &'a str,
) -> impl Iterator<Item = &'a egress_probe::model::Finding> + 'a {
    findings.iter().filter(move |f| f.code == code)
}

fn split(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once('@') {
        Some((c, s)) => (c, Some(s)),
        None => (spec, None),
    }
}

#[test]
fn every_fixture_case_holds() {
    let mut failures = Vec::new();
    for (file, text) in fixtures() {
        let snapshot: NetworkSnapshot = serde_json::from_str(&text).unwrap();
        let fixture: Fixture = serde_json::from_str(&text).unwrap();
        for case in fixture.cases {
            let subject = Subject {
                function: case.subject.function.clone(),
                subnet_ids: case.subject.subnet_ids.clone(),
                security_group_ids: case.subject.security_group_ids.clone(),
            };
            let flows: Vec<Flow> = case
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
            let d = diagnose_names(&snapshot, &subject, &flows, &case.names, &case.observations);
            let again =
                diagnose_names(&snapshot, &subject, &flows, &case.names, &case.observations);
            let ctx = format!("{file} / {}", case.name);
            if d != again {
                failures.push(format!("{ctx}: not deterministic"));
            }
            let has = |spec: &str| {
                let (code, subnet) = split(spec);
                d.findings.iter().any(|f| {
                    f.code == code && subnet.is_none_or(|s| f.subnet_id.as_deref() == Some(s))
                })
            };
            let codes: Vec<String> = d
                .findings
                .iter()
                .map(|f| format!("{}@{}", f.code, f.subnet_id.as_deref().unwrap_or("-")))
                .collect();
            for e in &case.expect {
                if !has(e) {
                    failures.push(format!("{ctx}: expected {e}, got {codes:?}"));
                }
            }
            for a in &case.absent {
                if has(a) {
                    failures.push(format!("{ctx}: {a} must not appear, got {codes:?}"));
                }
            }
            for (code, ids) in &case.explains {
                for id in ids {
                    if !by_code(&d.findings, code).any(|f| f.explains.contains(id)) {
                        failures.push(format!("{ctx}: no {code} explains {id}"));
                    }
                }
            }
            for (code, c) in &case.confirmation {
                if !by_code(&d.findings, code).any(|f| f.confirmation == *c) {
                    let got: Vec<_> = by_code(&d.findings, code).map(|f| f.confirmation).collect();
                    failures.push(format!("{ctx}: {code} confirmation {got:?}, want {c:?}"));
                }
            }
            for (code, want) in &case.rules {
                for r in want {
                    if !by_code(&d.findings, code).any(|f| f.rules.contains(r)) {
                        failures.push(format!("{ctx}: no {code} has rule {r}"));
                    }
                }
            }
            for (code, want) in &case.fix_contains {
                if !by_code(&d.findings, code)
                    .any(|f| f.fix_commands.iter().any(|c| c.contains(want.as_str())))
                {
                    let got: Vec<_> = by_code(&d.findings, code)
                        .flat_map(|f| f.fix_commands.clone())
                        .collect();
                    failures.push(format!("{ctx}: {code} fixes {got:?} lack `{want}`"));
                }
            }
            for (code, bad) in &case.fix_lacks {
                for c in by_code(&d.findings, code).flat_map(|f| f.fix_commands.iter()) {
                    if c.contains(bad.as_str()) {
                        failures.push(format!("{ctx}: {code} fix `{c}` contains `{bad}`"));
                    }
                }
                if by_code(&d.findings, code).all(|f| f.fix_commands.is_empty()) {
                    failures.push(format!("{ctx}: {code} has no fix to check"));
                }
            }
            for (code, want) in &case.severity {
                let got: Vec<Severity> = by_code(&d.findings, code).map(|f| f.severity).collect();
                if got.is_empty() || got.iter().any(|s| s != want) {
                    failures.push(format!("{ctx}: {code} severities {got:?}, want {want:?}"));
                }
            }
            for p in &case.paths {
                let got: Vec<String> = d
                    .paths
                    .iter()
                    .filter(|x| {
                        x.subnet_id == p.subnet
                            && !x.target.as_deref().unwrap_or("").starts_with("dns-server:")
                    })
                    .map(|x| {
                        serde_json::to_value(x.verdict)
                            .unwrap()
                            .as_str()
                            .unwrap()
                            .to_string()
                    })
                    .collect();
                if got.is_empty() || got.iter().any(|v| v != &p.verdict) {
                    failures.push(format!(
                        "{ctx}: path verdicts from {} = {got:?}, want {}",
                        p.subnet, p.verdict
                    ));
                }
            }
            for h in &case.hops {
                let ok = d.paths.iter().filter(|x| x.subnet_id == h.subnet).any(|x| {
                    x.hops
                        .iter()
                        .any(|y| y.component == h.component && y.decided_by.contains(&h.decided_by))
                });
                if !ok {
                    failures.push(format!(
                        "{ctx}: no {} hop decided by `{}`",
                        h.component, h.decided_by
                    ));
                }
            }
            // Every finding is complete: remediation in both languages, a rule or resource.
            for f in &d.findings {
                if f.remediation.en.is_empty() || f.remediation.ja.is_empty() || f.rules.is_empty()
                {
                    failures.push(format!("{ctx}: {} incomplete", f.code));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every finding code is raised by some case and is listed as absent in a near miss.
#[test]
fn every_code_has_a_raising_case_and_a_near_miss() {
    let mut raised = BTreeSet::new();
    let mut missed = BTreeSet::new();
    for (_, text) in fixtures() {
        let fixture: Fixture = serde_json::from_str(&text).unwrap();
        for c in fixture.cases {
            raised.extend(c.expect.iter().map(|e| split(e).0.to_string()));
            missed.extend(c.absent.iter().map(|e| split(e).0.to_string()));
        }
    }
    let mut gaps = Vec::new();
    for (code, _) in FINDING_CODES {
        if !raised.contains(*code) {
            gaps.push(format!("{code}: no raising case"));
        }
        if !missed.contains(*code) {
            gaps.push(format!("{code}: no near miss"));
        }
    }
    assert!(gaps.is_empty(), "{}", gaps.join("\n"));
}

/// R25: where the account already has a DHCP option set with AmazonProvidedDNS and the same
/// domain name, the fix associates that set (never `default`, which turns DNS off).
#[test]
fn r25_custom_dns_fix_reuses_an_amazon_dns_set() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let text = std::fs::read_to_string(dir.join("custom_dns.json")).unwrap();
    let mut snapshot: NetworkSnapshot = serde_json::from_str(&text).unwrap();
    let mut set = snapshot.dhcp_options[0].clone();
    set.id = "dopt-amazon-corp".into();
    set.domain_name_servers = vec!["AmazonProvidedDNS".into()];
    set.domain_name = Some("corp.example".into());
    snapshot.dhcp_options.push(set);
    let subject = Subject {
        function: Some("probe".into()),
        subnet_ids: vec![],
        security_group_ids: vec![],
    };
    let obs: Fixture = serde_json::from_str(&text).unwrap();
    let d = diagnose(&snapshot, &subject, &[], &obs.cases[0].observations);
    let fixes: Vec<&String> = by_code(&d.findings, "CUSTOM_DNS_UNREACHABLE")
        .flat_map(|f| f.fix_commands.iter())
        .collect();
    assert!(!fixes.is_empty(), "no CUSTOM_DNS_UNREACHABLE fix");
    for c in &fixes {
        assert!(!c.contains("default"), "{c}");
        assert!(!c.contains("create-dhcp-options"), "{c}");
    }
    assert!(
        fixes.iter().any(|c| c
            .contains("associate-dhcp-options --dhcp-options-id dopt-amazon-corp --vpc-id vpc-1")),
        "{fixes:?}"
    );
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

/// Issue 11 (simulation, first cut): every printed NACL fix, parsed back into a `Change`
/// and applied to a copy of its fixture's snapshot, clears its finding and introduces no
/// new error finding anywhere in the case's subnets and flows.
#[test]
fn printed_nacl_fixes_clear_their_finding_and_break_nothing() {
    use egress_probe::model::Change;
    let mut simulated = 0;
    let mut failures = Vec::new();
    for (file, text) in fixtures() {
        let snapshot: NetworkSnapshot = serde_json::from_str(&text).unwrap();
        let fixture: Fixture = serde_json::from_str(&text).unwrap();
        for case in &fixture.cases {
            let (subject, flows) = subject_and_flows(case);
            // Configuration only: the simulation asks what the configuration allows.
            let before = diagnose(&snapshot, &subject, &flows, &[]);
            let errors = |d: &egress_probe::diagnosis::Diagnosis| -> BTreeSet<String> {
                d.findings
                    .iter()
                    .filter(|f| f.severity == Severity::Error)
                    .map(|f| format!("{}@{}", f.code, f.subnet_id.as_deref().unwrap_or("-")))
                    .collect()
            };
            let errors_before = errors(&before);
            for f in &before.findings {
                let nacl = |c: &&String| c.contains("-network-acl-entry ");
                if f.fix_commands.is_empty() || !f.fix_commands.iter().all(|c| nacl(&c)) {
                    continue;
                }
                let ctx = format!("{file} / {} / {}: {:?}", case.name, f.code, f.fix_commands);
                let mut copy = snapshot.clone();
                for c in &f.fix_commands {
                    match Change::parse_cli(c).map(|ch| ch.apply(&mut copy)) {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) | Err(e) => failures.push(format!("{ctx}: {e}")),
                    }
                }
                let after = diagnose(&copy, &subject, &flows, &[]);
                simulated += 1;
                let key = format!("{}@{}", f.code, f.subnet_id.as_deref().unwrap_or("-"));
                if after.findings.iter().any(|g| {
                    g.code == f.code && g.subnet_id == f.subnet_id && g.summary == f.summary
                }) {
                    failures.push(format!("{ctx}: does not clear {key}"));
                }
                let new: Vec<String> = errors(&after).difference(&errors_before).cloned().collect();
                if !new.is_empty() {
                    failures.push(format!("{ctx}: introduces {new:?}"));
                }
            }
        }
    }
    assert!(simulated >= 4, "only {simulated} NACL fixes simulated");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every code of the catalogue has a Japanese summary (`--lang ja`, issue 12 item 20):
/// each finding raised by any case carries one, and every code is raised somewhere.
#[test]
fn every_code_has_a_japanese_summary() {
    let mut translated = BTreeSet::new();
    let mut missing = Vec::new();
    for (file, text) in fixtures() {
        let snapshot: NetworkSnapshot = serde_json::from_str(&text).unwrap();
        let fixture: Fixture = serde_json::from_str(&text).unwrap();
        for case in fixture.cases {
            let subject = Subject {
                function: case.subject.function.clone(),
                subnet_ids: case.subject.subnet_ids.clone(),
                security_group_ids: case.subject.security_group_ids.clone(),
            };
            let flows: Vec<Flow> = case
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
            let d = diagnose_names(&snapshot, &subject, &flows, &case.names, &case.observations);
            for f in &d.findings {
                match f.summary_ja.as_deref() {
                    // Japanese text, not a copy of the English summary.
                    Some(ja) if !ja.is_ascii() && ja != f.summary => {
                        translated.insert(f.code.clone());
                    }
                    other => {
                        missing.push(format!("{file} / {}: {} has {other:?}", case.name, f.code))
                    }
                }
            }
        }
    }
    for (code, _) in FINDING_CODES {
        if !translated.contains(*code) {
            missing.push(format!("{code}: no Japanese summary raised by any case"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
