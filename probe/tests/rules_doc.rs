//! docs/rules.md stays in step with the engine: the rules R1-R67 each have their anchor
//! (`docs/rules.md#r12`), every finding code is documented, every rule the catalog cites
//! exists and lists its findings, and each rule's section names every code whose findings
//! cite it — taken from the findings the engine really produces for the diagnosis
//! fixtures, not from a list kept by hand.

#![allow(clippy::unwrap_used)]

use egress_probe::diagnosis::{FINDING_CODES, Flow, Subject, diagnose};
use egress_probe::model::{NetworkSnapshot, Observation, Protocol};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;

/// The last rule of the two fact sheets.
const LAST_RULE: u32 = 67;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn doc() -> String {
    std::fs::read_to_string(repo().join("docs/rules.md")).unwrap()
}

/// Rule numbers of `<a id="rN"></a>` anchors, in document order.
fn anchors(doc: &str) -> Vec<u32> {
    doc.match_indices("<a id=\"r")
        .filter_map(|(i, m)| {
            let rest = &doc[i + m.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            rest[digits.len()..]
                .starts_with("\"></a>")
                .then(|| digits.parse().ok())
                .flatten()
        })
        .collect()
}

/// Each rule's section: from its anchor to the next anchor or `## ` heading.
fn sections(doc: &str) -> BTreeMap<u32, String> {
    let mut out = BTreeMap::new();
    for n in anchors(doc) {
        let tag = format!("<a id=\"r{n}\"></a>");
        let start = doc.find(&tag).unwrap() + tag.len();
        let rest = &doc[start..];
        let end = [rest.find("<a id=\"r"), rest.find("\n## ")]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(rest.len());
        out.insert(n, rest[..end].to_string());
    }
    out
}

/// `R12` → 12 for the rule numbers the findings cite (NACL entries like `acl-1 #100` are
/// not rule numbers).
fn rule_number(s: &str) -> Option<u32> {
    s.strip_prefix('R')
        .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
        .and_then(|d| d.parse().ok())
}

/// Every `R<digits>` in a source text that stands alone (not part of an identifier).
fn cited_rules(source: &str) -> BTreeSet<u32> {
    let bytes = source.as_bytes();
    let mut out = BTreeSet::new();
    for (i, _) in source.match_indices('R') {
        let before_ok = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let digits: String = source[i + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let after = source[i + 1 + digits.len()..].chars().next();
        let after_ok = after.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        if before_ok && after_ok && !digits.is_empty() {
            out.insert(digits.parse().unwrap());
        }
    }
    out
}

#[test]
fn every_rule_has_one_anchor_in_order() {
    let got = anchors(&doc());
    let want: Vec<u32> = (1..=LAST_RULE).collect();
    assert_eq!(
        got, want,
        "docs/rules.md needs <a id=\"rN\"></a> for R1..R{LAST_RULE}, once each, in order"
    );
}

#[test]
fn every_finding_code_is_documented_under_a_rule_and_in_the_index() {
    let doc = doc();
    let sections = sections(&doc);
    let index = doc.split("## Finding index").nth(1).unwrap_or("");
    let mut missing = Vec::new();
    for (code, _) in FINDING_CODES {
        let quoted = format!("`{code}`");
        if !sections.values().any(|s| s.contains(&quoted)) {
            missing.push(format!("{code}: under no rule"));
        }
        if !index.contains(&format!("| {quoted} |")) {
            missing.push(format!("{code}: not in the finding index"));
        }
    }
    assert!(missing.is_empty(), "docs/rules.md: {missing:#?}");
}

#[test]
fn every_rule_the_catalog_cites_is_documented_with_its_findings() {
    let catalog = std::fs::read_to_string(repo().join("probe/src/diagnosis/catalog.rs")).unwrap();
    let cited = cited_rules(&catalog);
    assert!(cited.len() >= 20, "the catalog cites rules: {cited:?}");
    let sections = sections(&doc());
    for n in cited {
        let section = sections
            .get(&n)
            .unwrap_or_else(|| panic!("catalog.rs cites R{n}, docs/rules.md has no #r{n}"));
        assert!(
            section.contains("**Findings:**"),
            "catalog.rs cites R{n}: docs/rules.md#r{n} must list its findings"
        );
    }
}

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    subject: CaseSubject,
    #[serde(default)]
    flows: Vec<CaseFlow>,
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

/// (code, rule) for every finding the engine produces on the diagnosis fixtures.
fn produced_citations() -> BTreeSet<(String, u32)> {
    let dir = repo().join("probe/tests/fixtures");
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let snapshot: NetworkSnapshot = serde_json::from_str(&text).unwrap();
        let fixture: Fixture = serde_json::from_str(&text).unwrap();
        for case in fixture.cases {
            let subject = Subject {
                function: case.subject.function,
                subnet_ids: case.subject.subnet_ids,
                security_group_ids: case.subject.security_group_ids,
            };
            let flows: Vec<Flow> = case
                .flows
                .into_iter()
                .map(|f| Flow {
                    target: f.target,
                    host: f.host,
                    destination: f.destination,
                    protocol: Protocol::parse(&f.protocol).unwrap(),
                    port: f.port,
                })
                .collect();
            for f in diagnose(&snapshot, &subject, &flows, &case.observations).findings {
                for r in f.rules.iter().filter_map(|r| rule_number(r)) {
                    out.insert((f.code.clone(), r));
                }
            }
        }
    }
    out
}

#[test]
fn each_rule_names_every_code_whose_findings_cite_it() {
    let doc = doc();
    let sections = sections(&doc);
    let index = doc.split("## Finding index").nth(1).unwrap_or("");
    let citations = produced_citations();
    let codes: BTreeSet<&String> = citations.iter().map(|(c, _)| c).collect();
    // The fixtures raise every code (diagnosis_fixtures.rs checks that); most of them
    // must be seen here, or this test checks too little.
    assert!(
        codes.len() * 4 >= FINDING_CODES.len() * 3,
        "only {} of {} codes seen in the fixtures",
        codes.len(),
        FINDING_CODES.len()
    );
    let mut wrong = Vec::new();
    for (code, r) in &citations {
        match sections.get(r) {
            None => wrong.push(format!("{code} cites R{r}: no #r{r}")),
            Some(s) if !s.contains(&format!("`{code}`")) => {
                wrong.push(format!("{code} cites R{r}: #r{r} does not list `{code}`"))
            }
            Some(_) => {}
        }
        let row = index
            .lines()
            .find(|l| l.starts_with(&format!("| `{code}` |")))
            .unwrap_or("");
        if !row.contains(&format!("(#r{r})")) {
            wrong.push(format!(
                "{code} cites R{r}: its index row lacks [R{r}](#r{r})"
            ));
        }
    }
    assert!(wrong.is_empty(), "docs/rules.md: {wrong:#?}");
}

#[test]
fn the_helpers_read_what_they_should() {
    // Guards for the parsing above, so a test that passes is not one that read nothing.
    assert_eq!(
        anchors("x<a id=\"r3\"></a>y<a id=\"r12\"></a><a id=\"rx\"></a>"),
        vec![3, 12]
    );
    assert_eq!(rule_number("R21"), Some(21));
    assert_eq!(rule_number("acl-1 #100"), None);
    assert_eq!(rule_number("R"), None);
    let cited: Vec<u32> = cited_rules("r(&[\"R5\", \"R7\"]) (R19) NAT_R2X R3a xR4 R36")
        .into_iter()
        .collect();
    assert_eq!(cited, vec![5, 7, 19, 36]);
    let s = sections("<a id=\"r1\"></a>\none `A`\n<a id=\"r2\"></a>\ntwo\n## Next\nthree");
    assert_eq!(s.get(&1).map(String::as_str), Some("\none `A`\n"));
    assert_eq!(s.get(&2).map(String::as_str), Some("\ntwo"));
}
