//! Fleet commands (issue 14) against moto: an organisation with OUs, accounts whose state
//! moto keeps apart (by the account of the assumed role's credentials), three Regions,
//! behind the fault front — one account whose role cannot be assumed (AccessDenied on its
//! AssumeRole) and one Region that throttles every call. install (a plan, then `--yes`
//! with one CreateFunction failing part-way, then the re-run that finishes it), status,
//! run, diagnose and uninstall across them: partial results with exit 3 or 4, the changes
//! made listed, untagged resources untouched, nothing changed by a plan.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod fleet_common;
mod installer_common;

use egress_probe_e2e::fault_front::{Fault, FaultFront, Match};
use egress_probe_e2e::moto::MotoServer;
use egress_probe_installer::artifact::Arch;
use egress_probe_installer::output::width;
use fleet_common::*;
use installer_common::*;
use std::sync::Arc;

const REGIONS: &[(&str, &[&str])] = &[
    ("us-east-1", &["us-east-1a", "us-east-1b"]),
    ("eu-west-1", &["eu-west-1a", "eu-west-1b"]),
    ("ap-southeast-2", &["ap-southeast-2a", "ap-southeast-2b"]),
];
const THROTTLED: &str = "ap-southeast-2";

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn states(json: &serde_json::Value) -> Vec<String> {
    units(json)
        .into_iter()
        .map(|(a, r, s)| format!("{a} {r} {s}"))
        .collect()
}

#[tokio::test]
async fn install_status_run_diagnose_uninstall_across_an_organisation() {
    let server = MotoServer::start().unwrap();
    let front = FaultFront::start(&server.endpoint).await.unwrap();
    let direct = server.sdk_config().await;
    let org = organisation(
        &direct,
        &[
            ("alpha", "workloads"),
            ("beta", "team"),
            ("denied", "workloads"),
            ("outside", "root"),
        ],
    )
    .await
    .unwrap();
    let (alpha, beta, denied, outside) = (
        org.id("alpha"),
        org.id("beta"),
        org.id("denied"),
        org.id("outside"),
    );
    // Three subnets per account and Region, two of them tagged tier=app.
    let mut tagged: Vec<(String, String, String)> = Vec::new();
    for account in [&alpha, &beta] {
        for (region, azs) in REGIONS {
            let c = in_account(&direct, account, region).await;
            let topo = build_vpc(&c, 3, azs).await.unwrap();
            for (i, (s, _)) in topo.subnets.iter().enumerate() {
                if i % 2 == 0 {
                    tagged.push((account.to_string(), region.to_string(), s.clone()));
                }
            }
        }
    }
    // A function named like a probe but not tagged by egress-probe, in alpha us-east-1.
    let alpha_east = in_account(&direct, &alpha, "us-east-1").await;
    let iam = aws_sdk_iam::Client::new(&alpha_east);
    let role = iam
        .create_role()
        .role_name("someone-else")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zip = write_zip(dir.path(), "bootstrap.zip", Arch::Arm64, "fleet");
    let zip = zip.to_str().unwrap().to_string();
    aws_sdk_lambda::Client::new(&alpha_east)
        .create_function()
        .function_name("egress-probe-subnet-0foreign")
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role.role().unwrap().arn())
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(
                    std::fs::read(&zip).unwrap(),
                ))
                .build(),
        )
        .send()
        .await
        .unwrap();

    // The installer goes through the front: the denied account, the throttled Region.
    front.inject_where(
        "AssumeRole",
        Match {
            body_contains: Some(denied.clone()),
            ..Match::default()
        },
        Fault::denied("AccessDenied"),
        None,
    );
    front.inject_where(
        "*",
        Match {
            region: Some(THROTTLED.into()),
            ..Match::default()
        },
        Fault::throttled("Throttling"),
        None,
    );
    let config = direct
        .clone()
        .into_builder()
        .endpoint_url(front.endpoint())
        .build();
    let ou = org.workloads.clone();
    let regions = "us-east-1,eu-west-1,ap-southeast-2";
    let fleet = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        v.extend(
            ["--organization", "--ou", &ou, "--regions", regions]
                .iter()
                .map(|s| s.to_string()),
        );
        v
    };

    // 1. The plan: nothing changes; the denied account and the throttled Region say so.
    let a = fleet(&["install", "--tag", "tier=app", "--zip", &zip]);
    let plan = egress_probe(&config, &args(&a)).await.unwrap();
    assert_eq!(plan.code, 3, "{}", plan.stdout);
    let s = states(&plan.json);
    assert!(s.contains(&format!("{denied} * denied")), "{s:?}");
    assert!(
        !s.iter().any(|x| x.starts_with(&outside)),
        "outside the OU: {s:?}"
    );
    for account in [&alpha, &beta] {
        assert!(s.contains(&format!("{account} us-east-1 planned")), "{s:?}");
        assert!(s.contains(&format!("{account} eu-west-1 planned")), "{s:?}");
        assert!(
            s.contains(&format!("{account} {THROTTLED} throttled")),
            "{s:?}"
        );
    }
    let d = unit(&plan.json, &denied, "*");
    assert!(
        d["error"].as_str().unwrap().contains("AccessDenied")
            && d["error"]
                .as_str()
                .unwrap()
                .contains(&format!("arn:aws:iam::{denied}:role/{ROLE}")),
        "{d:#}"
    );
    assert!(plan.json["dry_run"].as_bool().unwrap());
    assert_eq!(
        function_names(&alpha_east).await,
        vec!["egress-probe-subnet-0foreign"],
        "a plan changes nothing"
    );
    // JSON lines: one object per unit, then the summary.
    let lines: Vec<serde_json::Value> = plan
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        plan.json["units"].as_array().unwrap().len() + 1
    );
    assert_eq!(lines.last().unwrap()["type"], "summary");
    assert_eq!(lines.last().unwrap()["summary"]["exit_code"], 3);

    // 2. --yes, with one CreateFunction in eu-west-1 refused: that unit is partial, says
    // what it changed before, and the others are done.
    front.inject_where(
        "CreateFunction",
        Match {
            region: Some("eu-west-1".into()),
            ..Match::default()
        },
        Fault::denied("AccessDeniedException"),
        Some(1),
    );
    let a = fleet(&["install", "--tag", "tier=app", "--zip", &zip, "--yes"]);
    let done = egress_probe(&config, &args(&a)).await.unwrap();
    assert_eq!(done.code, 3, "{}", done.stdout);
    let s = states(&done.json);
    let partial: Vec<&String> = s.iter().filter(|x| x.ends_with(" partial")).collect();
    assert_eq!(partial.len(), 1, "{s:?}");
    assert!(partial[0].contains("eu-west-1"), "{s:?}");
    let (pa, _, _) = units(&done.json)
        .into_iter()
        .find(|(_, _, st)| st == "partial")
        .unwrap();
    let pu = unit(&done.json, &pa, "eu-west-1");
    assert!(
        !pu["changes"].as_array().unwrap().is_empty(),
        "the changes made before the failure are listed: {pu:#}"
    );
    // 3. The re-run finishes it.
    let again = egress_probe(&config, &args(&a)).await.unwrap();
    assert_eq!(again.code, 3, "{}", again.stdout);
    for account in [&alpha, &beta] {
        for region in ["us-east-1", "eu-west-1"] {
            assert_eq!(
                unit(&again.json, account, region)["state"],
                "ok",
                "{}",
                again.stdout
            );
            let c = in_account(&direct, account, region).await;
            let want: Vec<String> = tagged
                .iter()
                .filter(|(a, r, _)| a == account && r == region)
                .map(|(_, _, s)| format!("egress-probe-{s}"))
                .collect();
            let got: Vec<String> = function_names(&c)
                .await
                .into_iter()
                .filter(|f| f != "egress-probe-subnet-0foreign")
                .collect();
            let mut want = want;
            want.sort();
            assert_eq!(got, want, "{account} {region}");
        }
        let c = in_account(&direct, account, THROTTLED).await;
        assert!(
            function_names(&c).await.is_empty(),
            "nothing in the throttled Region"
        );
    }

    // 4. status: the probes per AZ.
    let a = fleet(&["status"]);
    let st = egress_probe(&config, &args(&a)).await.unwrap();
    assert_eq!(st.code, 3, "{}", st.stdout);
    assert_eq!(st.json["summary"]["total"], 8, "{}", st.stdout);

    // 5. run: the front answers Invoke with reports, one subnet broken.
    let broken = tagged
        .iter()
        .find(|(a, r, _)| a == &beta && r == "eu-west-1")
        .map(|(_, _, s)| s.clone())
        .unwrap();
    let b2 = broken.clone();
    front.set_invoke_reply(Some(Arc::new(move |name: &str| {
        let subnet = name.strip_prefix("egress-probe-")?;
        Some(report(subnet, subnet == b2))
    })));
    let mut a = fleet(&["run"]);
    a.insert(0, "--output".into());
    a.insert(1, "text".into());
    let run = egress_probe_text(&config, &args(&a)).await.unwrap();
    assert_eq!(run.code, 4, "partial and failing:\n{}", run.stdout);
    for line in run.stdout.lines() {
        assert!(width(line) <= 80, "{} columns: {line}", width(line));
    }
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[1].starts_with("account      Region         AZ"),
        "{}",
        run.stdout
    );
    let details = run.stdout.split("Details (failures only):").nth(1).unwrap();
    assert!(details.contains(&broken), "{}", run.stdout);
    assert!(
        details.contains(&format!("{beta} eu-west-1: FAILING")),
        "{}",
        run.stdout
    );
    assert!(
        details.contains(&format!("{denied} (every Region): denied")),
        "{}",
        run.stdout
    );
    assert!(
        !details.contains(&format!("{alpha} us-east-1")),
        "healthy: no details\n{}",
        run.stdout
    );
    assert_eq!(run.json["summary"]["total"], 8);
    assert_eq!(run.json["summary"]["bad"], 1);
    assert_eq!(run.json["summary"]["good"], 7);

    // The same run in Japanese (--lang ja): the matrix, its legend, the details and the
    // summary line in Japanese within 80 display columns; the JSON does not change.
    let mut a = fleet(&["run"]);
    a.splice(0..0, ["--output", "text", "--lang", "ja"].map(String::from));
    let ja = egress_probe_text(&config, &args(&a)).await.unwrap();
    assert_eq!(ja.code, 4, "{}", ja.stdout);
    for line in ja.stdout.lines() {
        assert!(width(line) <= 80, "{} columns: {line}", width(line));
    }
    let lines: Vec<&str> = ja.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "egress-probe run：{} アカウント × {} リージョン",
            run.json["accounts"],
            run.json["regions"].as_array().unwrap().len()
        ),
        "{}",
        ja.stdout
    );
    assert!(
        lines[1].starts_with("アカウント   リージョン     AZ") && lines[1].ends_with("状態"),
        "{}",
        ja.stdout
    );
    let details = ja.stdout.split("詳細（失敗のみ）：").nth(1).unwrap();
    let flat = details.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(&broken), "{}", ja.stdout);
    assert!(
        flat.contains(&format!("{beta} eu-west-1: 障害あり")),
        "{}",
        ja.stdout
    );
    assert!(
        flat.contains(&format!("{denied} （全リージョン）: 拒否")),
        "{}",
        ja.stdout
    );
    // Japanese wraps between any two characters: compare without the breaks.
    let solid: String = ja.stdout.split_whitespace().collect();
    assert!(
        solid.contains("終了コード4：一部の結果、障害あり"),
        "{}",
        ja.stdout
    );
    for english in ["Details", "FAILING", "denied", "every Region", "Exit 4"] {
        assert!(!ja.stdout.contains(english), "{english}:\n{}", ja.stdout);
    }
    assert_eq!(ja.json["summary"], run.json["summary"]);

    // 6. diagnose: the installed probes' subnets, per account and Region (moto's VPC has no
    // way out: blocked paths, exit 4 with the denied account).
    let a = fleet(&["diagnose", "--target", "tcp://192.0.2.10:443"]);
    let dg = egress_probe(&config, &args(&a)).await.unwrap();
    assert_eq!(dg.code, 4, "{}", dg.stdout);
    let u = unit(&dg.json, &alpha, "us-east-1");
    assert_eq!(u["state"], "failing", "{u:#}");
    assert!(u["rows"][0]["bad"].as_u64().unwrap() > 0, "{u:#}");

    // 7. uninstall: a plan first (nothing removed), then --yes; the untagged function stays.
    let a = fleet(&["uninstall"]);
    let up = egress_probe(&config, &args(&a)).await.unwrap();
    assert_eq!(up.code, 3, "{}", up.stdout);
    assert_eq!(unit(&up.json, &alpha, "us-east-1")["state"], "planned");
    let mut a = fleet(&["uninstall"]);
    a.splice(0..0, ["--output", "text", "--lang", "ja"].map(String::from));
    let upj = egress_probe_text(&config, &args(&a)).await.unwrap();
    assert_eq!(upj.code, 3, "{}", upj.stdout);
    for line in upj.stdout.lines() {
        assert!(width(line) <= 80, "{} columns: {line}", width(line));
    }
    let solid: String = upj.stdout.split_whitespace().collect();
    for want in [
        "（計画のみ、変更なし）",
        "計画と失敗：",
        "削除予定",
        "何も変更していません",
    ] {
        assert!(solid.contains(want), "{want}:\n{}", upj.stdout);
    }
    assert_eq!(
        function_names(&alpha_east).await.len(),
        3,
        "a plan removes nothing (two probes and the untagged function)"
    );
    let a = fleet(&["uninstall", "--yes"]);
    let un = egress_probe(&config, &args(&a)).await.unwrap();
    assert_eq!(un.code, 3, "{}", un.stdout);
    for account in [&alpha, &beta] {
        for region in ["us-east-1", "eu-west-1"] {
            assert_eq!(
                unit(&un.json, account, region)["state"],
                "ok",
                "{}",
                un.stdout
            );
        }
    }
    assert_eq!(
        function_names(&alpha_east).await,
        vec!["egress-probe-subnet-0foreign"],
        "untagged resources are never touched"
    );

    // 8. Named accounts, one Region, nothing installed: status is fine (exit 0).
    let both = format!("{alpha},{outside}");
    let st = egress_probe(
        &config,
        &["status", "--accounts", &both, "--regions", "us-east-1"],
    )
    .await
    .unwrap();
    assert_eq!(st.code, 0, "{}", st.stdout);
    // Units come sorted by account, then Region.
    let mut want = vec![
        format!("{alpha} us-east-1 none"),
        format!("{outside} us-east-1 none"),
    ];
    want.sort();
    assert_eq!(states(&st.json), want);
}

#[tokio::test]
async fn fleet_options_that_name_one_account_are_refused_in_words() {
    let server = MotoServer::start().unwrap();
    let config = server.sdk_config().await;
    for (args, needle) in [
        (
            vec!["install", "--vpc", "vpc-1", "--accounts", "111111111111"],
            "--tag KEY=VALUE or --lambda-subnets",
        ),
        (
            vec!["run", "--subnet", "subnet-1", "--regions", "us-east-1"],
            "--subnet",
        ),
        (
            vec!["status", "--ou", "ou-ab12-cdef3456"],
            "--ou needs --organization",
        ),
    ] {
        let e = egress_probe(&config, &args).await.unwrap_err();
        assert!(format!("{e:#}").contains(needle), "{args:?}: {e:#}");
    }
    // No organisation (moto lists no account then): said in words (exit 2 at the edge).
    let e = egress_probe(&config, &["status", "--organization"])
        .await
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("Organizations lists no active account"),
        "{e:#}"
    );
}
