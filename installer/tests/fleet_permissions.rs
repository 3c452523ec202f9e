//! stackset.yaml's IAM policies and docs/fleet.md's operator policy stay in step with the
//! AWS calls the code makes (issue 14), read from the sources:
//! - the manager role allows exactly what the manager calls: `commands/install.rs`, the
//!   `aws.rs` helpers it uses (transitively), the snapshot reader's actions
//!   (`permissions::DIAGNOSIS_ACTIONS`: install screens public subnets with a snapshot),
//!   `manager.rs` and the manager's bootstrap;
//! - the fleet role (assumed by the operator in each account) allows exactly what the five
//!   commands call in an account (`commands/*.rs`, their helpers, the snapshot reader) plus
//!   `ec2:DescribeRegions` (`--regions all-enabled`);
//! - docs/fleet.md's operator policy lists exactly the calls made with the operator's own
//!   credentials (`fleet/credentials.rs` STS, `fleet/scope.rs` Organizations).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use egress_probe::permissions::DIAGNOSIS_ACTIONS;
use serde_norway::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(rel: &str) -> String {
    let p = repo().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The source without its `#[cfg(test)]` module.
fn code_only(src: &str) -> &str {
    src.split("#[cfg(test)]").next().unwrap_or(src)
}

/// Client binding → IAM prefix.
const CLIENTS: &[(&str, &str)] = &[
    ("ec2", "ec2"),
    ("lambda", "lambda"),
    ("iam", "iam"),
    ("events", "events"),
    ("sts", "sts"),
    ("org", "organizations"),
];

/// `x.lambda.invoke()` / `ec2.describe_regions()` (whitespace allowed) → IAM actions.
fn sdk_actions(source: &str) -> BTreeSet<String> {
    let compact: String = code_only(source)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut out = BTreeSet::new();
    for (client, prefix) in CLIENTS {
        let needle = format!("{client}.");
        for (i, _) in compact.match_indices(&needle) {
            if compact[..i].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            let rest = &compact[i + needle.len()..];
            let op: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            if op.is_empty()
                || !rest[op.len()..].starts_with("()")
                || op == "config"
                || op == "clone"
            {
                continue;
            }
            out.insert(format!("{prefix}:{}", iam_name(prefix, &op)));
        }
    }
    out
}

fn iam_name(prefix: &str, op: &str) -> String {
    if prefix == "lambda" && op == "invoke" {
        return "InvokeFunction".into();
    }
    op.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Each function of aws.rs (free or method) → its body.
fn helpers() -> BTreeMap<String, String> {
    let src = read("installer/src/aws.rs");
    let src = code_only(&src);
    let mut out = BTreeMap::new();
    let lines: Vec<&str> = src.lines().collect();
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start();
            t.starts_with("pub fn ")
                || t.starts_with("pub async fn ")
                || t.starts_with("fn ")
                || t.starts_with("async fn ")
        })
        .map(|(i, _)| i)
        .chain([lines.len()])
        .collect();
    for w in starts.windows(2) {
        let body = lines[w[0]..w[1]].join("\n");
        let after = body.split_once("fn ").map(|(_, a)| a).unwrap_or("");
        let name: String = after.chars().take_while(|c| is_ident(*c)).collect();
        out.insert(name, body);
    }
    out
}

/// Whether `src` calls `name(` (as `aws::name(`, `.name(` or `name(`).
fn calls(src: &str, name: &str) -> bool {
    let needle = format!("{name}(");
    src.match_indices(&needle).any(|(i, _)| {
        !src[..i].chars().next_back().is_some_and(is_ident) && !src[..i].trim_end().ends_with("fn")
    })
}

/// Actions IAM checks inside another call (docs/deploy.md marks them †): tags given at
/// creation, and the execution role passed to Lambda.
const IMPLICIT: &[(&str, &str)] = &[
    ("ec2:CreateSecurityGroup", "ec2:CreateTags"),
    ("iam:CreateRole", "iam:TagRole"),
    ("lambda:CreateFunction", "iam:PassRole"),
    ("events:PutRule", "events:TagResource"),
];

/// The actions of `sources` and of every aws.rs helper they reach; the snapshot reader's
/// when they take a snapshot; the implicit ones of the calls made.
fn reached(sources: &[String]) -> BTreeSet<String> {
    let helpers = helpers();
    let mut actions = BTreeSet::new();
    let mut bodies: Vec<String> = sources.iter().map(|s| code_only(s).to_string()).collect();
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut i = 0;
    while i < bodies.len() {
        let b = bodies[i].clone();
        actions.extend(sdk_actions(&b));
        if b.contains("snapshot::take") || b.contains("snapshot_clients") {
            actions.extend(DIAGNOSIS_ACTIONS.iter().map(|a| a.to_string()));
        }
        for (name, body) in &helpers {
            if !used.contains(name) && calls(&b, name) {
                used.insert(name.clone());
                bodies.push(body.clone());
            }
        }
        i += 1;
    }
    for (call, implied) in IMPLICIT {
        if actions.contains(*call) {
            actions.insert(implied.to_string());
        }
    }
    actions
}

fn template() -> Value {
    serde_norway::from_str(&read("stackset.yaml")).unwrap()
}

/// The actions of a role's inline policies, and each statement's resources.
fn role_actions(t: &Value, role: &str) -> BTreeSet<String> {
    let r = t["Resources"]
        .get(role)
        .unwrap_or_else(|| panic!("stackset.yaml has no resource {role}"));
    assert_eq!(r["Type"].as_str(), Some("AWS::IAM::Role"), "{role}");
    let mut out = BTreeSet::new();
    for p in r["Properties"]["Policies"].as_sequence().expect("Policies") {
        for st in p["PolicyDocument"]["Statement"]
            .as_sequence()
            .expect("Statement")
        {
            assert_eq!(st["Effect"].as_str(), Some("Allow"), "{role}: {st:?}");
            let actions = st["Action"].as_sequence().expect("Action list");
            for a in actions {
                let a = a.as_str().expect("literal action").to_string();
                assert!(!a.contains('*'), "{role}: no wildcard actions ({a})");
                assert!(out.insert(a.clone()), "{role}: {a} listed twice");
            }
        }
    }
    out
}

fn diff(want: &BTreeSet<String>, got: &BTreeSet<String>) -> String {
    format!(
        "called but not allowed: {:?}\nallowed but not called: {:?}",
        want.difference(got).collect::<Vec<_>>(),
        got.difference(want).collect::<Vec<_>>()
    )
}

#[test]
fn the_manager_role_allows_exactly_what_the_manager_calls() {
    let called = reached(&[
        read("installer/src/commands/install.rs"),
        read("installer/src/manager.rs"),
        read("installer/src/bin/egress-probe-manager.rs"),
    ]);
    assert!(called.contains("lambda:CreateFunction") && called.contains("ec2:DescribeSubnets"));
    assert!(
        !called.contains("lambda:InvokeFunction") && !called.contains("iam:DeleteRole"),
        "the manager neither runs probes nor uninstalls: {called:?}"
    );
    let allowed = role_actions(&template(), "ManagerRole");
    assert_eq!(called, allowed, "{}", diff(&called, &allowed));
}

#[test]
fn the_fleet_role_allows_exactly_what_the_commands_call_in_an_account() {
    let mut sources: Vec<String> = ["install", "run", "diagnose", "status", "uninstall"]
        .iter()
        .map(|c| read(&format!("installer/src/commands/{c}.rs")))
        .collect();
    // In each account: the fleet's own calls (the Region list, the probes of diagnose).
    sources.push(read("installer/src/fleet.rs"));
    let scope = read("installer/src/fleet/scope.rs");
    let mut called = reached(&sources);
    called.extend(
        sdk_actions(&scope)
            .into_iter()
            .filter(|a| !a.starts_with("organizations:")),
    );
    assert!(called.contains("ec2:DescribeRegions"), "{called:?}");
    assert!(called.contains("lambda:InvokeFunction") && called.contains("iam:DeleteRole"));
    let allowed = role_actions(&template(), "FleetRole");
    assert_eq!(called, allowed, "{}", diff(&called, &allowed));
}

#[test]
fn the_operator_policy_in_docs_lists_the_operator_side_calls() {
    let mut called = sdk_actions(&read("installer/src/fleet/credentials.rs"));
    called.extend(
        sdk_actions(&read("installer/src/fleet/scope.rs"))
            .into_iter()
            .filter(|a| a.starts_with("organizations:")),
    );
    assert_eq!(
        called,
        [
            "organizations:ListAccounts",
            "organizations:ListAccountsForParent",
            "organizations:ListOrganizationalUnitsForParent",
            "sts:AssumeRole",
            "sts:GetCallerIdentity",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<BTreeSet<_>>()
    );
    let doc = read("docs/fleet.md");
    let section = doc
        .split("## Operator permissions")
        .nth(1)
        .expect("docs/fleet.md has `## Operator permissions`");
    let json = section
        .split("```json")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a ```json policy");
    let policy: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut documented = BTreeSet::new();
    for st in policy["Statement"].as_array().unwrap() {
        let actions = match &st["Action"] {
            serde_json::Value::Array(a) => a.clone(),
            one => vec![one.clone()],
        };
        for a in actions {
            documented.insert(a.as_str().unwrap().to_string());
        }
    }
    assert_eq!(called, documented, "{}", diff(&called, &documented));
}

#[test]
fn the_scanner_follows_helpers_and_reads_calls_across_lines() {
    let src = "let x = c\n    .lambda\n    .invoke()\n    .send();\nlet r = ec2.describe_regions().send();\nlet y = self.ec2.config();\nlet z = myorg.list_accounts();";
    let got: Vec<String> = sdk_actions(src).into_iter().collect();
    assert_eq!(got, vec!["ec2:DescribeRegions", "lambda:InvokeFunction"]);
    // managed_functions → get_function → lambda:GetFunction.
    let via = reached(&["aws::managed_functions(&c)".to_string()]);
    assert!(
        via.contains("lambda:ListFunctions") && via.contains("lambda:GetFunction"),
        "{via:?}"
    );
    assert!(calls("x.account().await", "account"));
    assert!(!calls("fn account(&self)", "account"));
    assert!(!calls("my_account(", "account"));
    let _ = Path::new("");
}
