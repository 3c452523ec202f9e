//! docs/deploy.md's "Operator permissions" table and policy stay in step with the AWS calls
//! the `egress-probe` commands make. The installer's calls are read from the sources: each
//! command's file (`src/commands/<command>.rs`) and the `aws::` helpers it uses
//! (`src/aws.rs`). For a command that takes a snapshot, the snapshot reader's calls are
//! its own list, `egress_probe::snapshot::CALLS` (the one owner: the reader counts every
//! call under one of those names, and a probe test checks the list against the probe's
//! permissions), so this test does not depend on how the reader binds its clients.
//! Actions marked † in the table are checked by IAM inside another call and have no call
//! of their own; every other action in a row must be called by that command.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const COMMANDS: &[&str] = &["install", "run", "diagnose", "status", "uninstall"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// IAM actions of the SDK calls in `source`: `<…>.ec2.describe_vpcs()` (whitespace and
/// line breaks allowed around the dots) → `ec2:DescribeVpcs`.
fn sdk_actions(source: &str) -> BTreeSet<String> {
    let compact: String = source.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = BTreeSet::new();
    for (client, prefix) in [
        ("ec2", "ec2"),
        ("lambda", "lambda"),
        ("iam", "iam"),
        ("events", "events"),
        ("eventbridge", "events"),
        ("sts", "sts"),
        ("cloudwatch", "cloudwatch"),
    ] {
        let needle = format!(".{client}.");
        for (i, _) in compact.match_indices(&needle) {
            let rest = &compact[i + needle.len()..];
            let op: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            if op.is_empty() || !rest[op.len()..].starts_with("()") || op == "config" {
                continue;
            }
            out.insert(format!("{prefix}:{}", iam_name(prefix, &op)));
        }
    }
    out
}

/// `describe_vpcs` → `DescribeVpcs`; Lambda's `invoke` is `InvokeFunction` in IAM.
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

/// `pub (async) fn name` in src/aws.rs → the actions its body calls.
fn helper_actions(aws_rs: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let starts: Vec<usize> = aws_rs
        .match_indices("\npub ")
        .map(|(i, _)| i + 1)
        .chain([aws_rs.len()])
        .collect();
    for w in starts.windows(2) {
        let item = &aws_rs[w[0]..w[1]];
        let Some(after) = item.split_once("fn ").map(|(_, a)| a) else {
            continue;
        };
        let name: String = after.chars().take_while(|c| is_ident(*c)).collect();
        out.insert(name, sdk_actions(item));
    }
    out
}

/// What each command calls, from the sources.
fn called() -> BTreeMap<&'static str, BTreeSet<String>> {
    let root = repo();
    let helpers = helper_actions(&read(&root.join("installer/src/aws.rs")));
    let snapshot: BTreeSet<String> = egress_probe::snapshot::CALLS
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mut out = BTreeMap::new();
    for cmd in COMMANDS {
        let src = read(&root.join(format!("installer/src/commands/{cmd}.rs")));
        let mut actions = sdk_actions(&src);
        for (name, acts) in &helpers {
            if src.contains(&format!("aws::{name}(")) {
                actions.extend(acts.iter().cloned());
            }
        }
        if src.contains("snapshot::take(") || src.contains("snapshot::take_cached(") {
            actions.extend(snapshot.iter().cloned());
        }
        out.insert(*cmd, actions);
    }
    out
}

/// The table's row for `cmd` as it should read (printed when the test fails, so the
/// document is regenerated from the code, not by hand).
fn expected_row(cmd: &str, actions: &BTreeSet<String>, row: &BTreeMap<String, bool>) -> String {
    let mut cells: Vec<String> = actions.iter().map(|a| format!("`{a}`")).collect();
    cells.extend(
        row.iter()
            .filter(|(a, implicit)| **implicit && !actions.contains(*a))
            .map(|(a, _)| format!("`{a}`†")),
    );
    format!("| `{cmd}` | {} |", cells.join(", "))
}

/// The table rows: command → (action, marked †).
fn documented() -> BTreeMap<String, BTreeMap<String, bool>> {
    let doc = read(&repo().join("docs/deploy.md"));
    let section = doc
        .split("## Operator permissions")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docs/deploy.md has a section `## Operator permissions`");
    let mut out = BTreeMap::new();
    for line in section.lines() {
        let Some(rest) = line.strip_prefix("| `") else {
            continue;
        };
        let Some((cmd, cells)) = rest.split_once("` |") else {
            continue;
        };
        let mut actions = BTreeMap::new();
        for (i, part) in cells.split('`').enumerate() {
            if i % 2 == 1 && part.contains(':') {
                let after = cells.split('`').nth(i + 1).unwrap_or("");
                actions.insert(part.to_string(), after.starts_with('†'));
            }
        }
        out.insert(cmd.to_string(), actions);
    }
    out
}

#[test]
fn each_command_row_lists_exactly_what_the_command_calls() {
    let called = called();
    let documented = documented();
    let mut wrong = Vec::new();
    let mut rows = Vec::new();
    let empty = BTreeMap::new();
    for cmd in COMMANDS {
        rows.push(expected_row(
            cmd,
            &called[cmd],
            documented.get(*cmd).unwrap_or(&empty),
        ));
        let Some(row) = documented.get(*cmd) else {
            wrong.push(format!("{cmd}: no row"));
            continue;
        };
        for a in &called[cmd] {
            if !row.contains_key(a) {
                wrong.push(format!("{cmd} calls {a}: not in its row"));
            }
        }
        for (a, implicit) in row {
            if !implicit && !called[cmd].contains(a) {
                wrong.push(format!(
                    "{cmd}'s row lists {a}, which it does not call (mark it † if IAM checks it inside another call)"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/deploy.md operator permissions: {wrong:#?}\nthe rows as the code has them:\n{}",
        rows.join("\n")
    );
}

#[test]
fn the_operator_policy_allows_every_row_and_nothing_else() {
    let doc = read(&repo().join("docs/deploy.md"));
    let section = doc.split("## Operator permissions").nth(1).unwrap();
    let json = section
        .split("```json")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("the section has a ```json policy");
    let policy: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut in_policy = BTreeSet::new();
    for st in policy["Statement"].as_array().unwrap() {
        assert_eq!(st["Effect"], "Allow");
        for a in st["Action"].as_array().unwrap() {
            in_policy.insert(a.as_str().unwrap().to_string());
        }
    }
    let in_rows: BTreeSet<String> = documented()
        .into_values()
        .flat_map(|r| r.into_keys())
        .collect();
    assert_eq!(in_policy, in_rows, "the policy and the table disagree");
}

#[test]
fn the_source_reader_finds_calls_across_lines() {
    let src = "let x = c\n    .lambda\n    .invoke()\n    .send();\nself.ec2.describe_vpcs().send();\nlet y = self.ec2.config();\nz.iam.create_role().tags(t)";
    let got: Vec<String> = sdk_actions(src).into_iter().collect();
    assert_eq!(
        got,
        vec![
            "ec2:DescribeVpcs",
            "iam:CreateRole",
            "lambda:InvokeFunction"
        ]
    );
    let helpers =
        helper_actions("x\npub async fn a() { c.events.put_rule().send() }\npub fn b() {}\n");
    assert_eq!(
        helpers["a"].iter().collect::<Vec<_>>(),
        vec!["events:PutRule"]
    );
    assert!(helpers["b"].is_empty());
    // The real tree: every command calls something.
    for (cmd, actions) in called() {
        assert!(!actions.is_empty(), "{cmd}: no AWS call found");
    }
}
