//! The installer against a moto server (EC2, Lambda, IAM, EventBridge on loopback):
//! install across AZs, re-install (no change), update in place, prune, uninstall that
//! leaves untagged resources alone, dry runs that change nothing, and bad input (exit 2).
//! moto cannot run functions: `run` end to end lives in the VPC lab.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod installer_common;

use egress_probe_e2e::moto::MotoServer;
use egress_probe_installer::artifact::Arch;
use installer_common::*;
use serde_json::Value;

const AZS: &[&str] = &["us-east-1a", "us-east-1b", "us-east-1c"];

fn actions(json: &Value, key: &str) -> Vec<String> {
    json["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[key]["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn install_update_prune_uninstall_lifecycle() {
    let server = MotoServer::start().unwrap();
    let config = server.sdk_config().await;
    let topo = build_vpc(&config, 5, AZS).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zip_arm = write_zip(dir.path(), "arm.zip", Arch::Arm64, "v1");
    let zip_arm = zip_arm.to_str().unwrap();
    let lambda = aws_sdk_lambda::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let events = aws_sdk_eventbridge::Client::new(&config);

    // 1. Install into every subnet of the VPC (5 subnets, 3 AZs), with a schedule.
    let out = egress_probe(
        &config,
        &[
            "install",
            "--vpc",
            &topo.vpc_id,
            "--zip",
            zip_arm,
            "--schedule",
            "rate(5 minutes)",
        ],
    )
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(actions(&out.json, "function_change"), vec!["create"; 5]);
    assert_eq!(out.json["role"]["action"], "create");
    assert_eq!(out.json["security_groups"][0]["action"], "create");
    let sg = out.json["security_groups"][0]["group_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(sg.starts_with("sg-"), "{sg}");
    let role_arn = out.json["role"]["arn"].as_str().unwrap().to_string();

    for (subnet, az) in &topo.subnets {
        let name = format!("egress-probe-{subnet}");
        let f = lambda
            .get_function()
            .function_name(&name)
            .send()
            .await
            .unwrap();
        let c = f.configuration().unwrap();
        let vpc = c.vpc_config().unwrap();
        assert_eq!(
            vpc.subnet_ids(),
            std::slice::from_ref(subnet),
            "one subnet per probe"
        );
        assert_eq!(vpc.security_group_ids(), std::slice::from_ref(&sg));
        let env = c.environment().unwrap().variables().unwrap();
        assert_eq!(env["EGRESS_PROBE_SUBNET_ID"], *subnet);
        assert_eq!(env["EGRESS_PROBE_AZ"], *az);
        assert_eq!(env["EGRESS_PROBE_VPC_ID"], topo.vpc_id);
        assert!(env["EGRESS_PROBE_AZ_ID"].starts_with("use1-az"));
        assert!(!env.contains_key("EGRESS_PROBE_TARGETS"));
        assert_eq!(c.architectures()[0].as_str(), "arm64");
        assert_eq!(c.runtime().unwrap().as_str(), "provided.al2023");
        assert_eq!(c.memory_size(), Some(256));
        assert_eq!(c.timeout(), Some(20));
        assert_eq!(c.role(), Some(role_arn.as_str()));
        let tags = f.tags().unwrap();
        assert_eq!(tags["egress-probe:managed"], "true");
        assert_eq!(tags["egress-probe:subnet"], *subnet);
        let rule = events.describe_rule().name(&name).send().await.unwrap();
        assert_eq!(rule.schedule_expression(), Some("rate(5 minutes)"));
        let targets = events
            .list_targets_by_rule()
            .rule(&name)
            .send()
            .await
            .unwrap();
        assert_eq!(targets.targets().len(), 1);
        assert_eq!(targets.targets()[0].arn(), c.function_arn().unwrap());
        assert_eq!(targets.targets()[0].input(), Some("{}"));
    }
    // The role: trust Lambda, managed VPC access policy, inline diagnosis policy.
    let role_name = "egress-probe-execution-us-east-1";
    let attached = iam
        .list_attached_role_policies()
        .role_name(role_name)
        .send()
        .await
        .unwrap();
    assert!(
        attached
            .attached_policies()
            .iter()
            .any(|p| p.policy_name() == Some("AWSLambdaVPCAccessExecutionRole"))
    );
    let inline = iam
        .get_role_policy()
        .role_name(role_name)
        .policy_name("egress-probe-diagnosis")
        .send()
        .await
        .unwrap();
    let doc = egress_probe_installer::aws::decode_policy(inline.policy_document()).unwrap();
    assert_eq!(
        doc["Statement"][1]["Resource"],
        "arn:aws:lambda:us-east-1:123456789012:function:egress-probe-*"
    );

    // 2. Re-install with the same arguments: nothing changes.
    let before = inventory(&config, &topo.vpc_id).await;
    let out = egress_probe(
        &config,
        &[
            "install",
            "--vpc",
            &topo.vpc_id,
            "--zip",
            zip_arm,
            "--schedule",
            "rate(5 minutes)",
        ],
    )
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(
        actions(&out.json, "function_change"),
        vec!["unchanged"; 5],
        "{}",
        out.stdout
    );
    assert_eq!(actions(&out.json, "schedule_change"), vec!["unchanged"; 5]);
    assert_eq!(out.json["role"]["action"], "unchanged");
    assert_eq!(out.json["security_groups"][0]["action"], "unchanged");
    assert_eq!(inventory(&config, &topo.vpc_id).await, before);

    // 3. A new zip and a target: code, environment and schedule input updated in place.
    // (The zip stays arm64: moto ignores `Architectures` on UpdateFunctionCode, which AWS
    // honours; the architecture decision is unit-tested in `plan`.)
    let zip_x86 = write_zip(dir.path(), "v2.zip", Arch::Arm64, "v2");
    let zip_x86 = zip_x86.to_str().unwrap();
    let out = egress_probe(
        &config,
        &[
            "install",
            "--vpc",
            &topo.vpc_id,
            "--zip",
            zip_x86,
            "--schedule",
            "rate(5 minutes)",
            "--target",
            "tcp://192.0.2.10:443",
        ],
    )
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    for p in out.json["probes"].as_array().unwrap() {
        assert_eq!(p["function_change"]["action"], "update");
        assert_eq!(p["function_change"]["code"], true);
        assert_eq!(
            p["function_change"]["configuration"],
            serde_json::json!(["environment"])
        );
        assert_eq!(p["schedule_change"]["action"], "update");
    }
    let sha = egress_probe_installer::artifact::load(std::path::Path::new(zip_x86))
        .unwrap()
        .code_sha256;
    let (subnet0, _) = &topo.subnets[0];
    let name0 = format!("egress-probe-{subnet0}");
    let c = lambda
        .get_function_configuration()
        .function_name(&name0)
        .send()
        .await
        .unwrap();
    assert_eq!(c.architectures()[0].as_str(), "arm64");
    assert_eq!(c.code_sha256(), Some(sha.as_str()));
    assert_eq!(
        c.environment().unwrap().variables().unwrap()["EGRESS_PROBE_TARGETS"],
        "tcp://192.0.2.10:443"
    );
    let targets = events
        .list_targets_by_rule()
        .rule(&name0)
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(targets.targets()[0].input().unwrap()).unwrap();
    assert_eq!(
        input,
        serde_json::json!({"targets": ["tcp://192.0.2.10:443"]})
    );
    assert_eq!(
        inventory(&config, &topo.vpc_id).await,
        before,
        "updated in place, nothing new"
    );

    // 4. Delete a subnet; --prune removes its probe and rule, and nothing else.
    let (gone, _) = &topo.subnets[4];
    aws_sdk_ec2::Client::new(&config)
        .delete_subnet()
        .subnet_id(gone)
        .send()
        .await
        .unwrap();
    let out = egress_probe(
        &config,
        &[
            "install",
            "--vpc",
            &topo.vpc_id,
            "--zip",
            zip_x86,
            "--schedule",
            "rate(5 minutes)",
            "--target",
            "tcp://192.0.2.10:443",
            "--prune",
        ],
    )
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(actions(&out.json, "function_change"), vec!["unchanged"; 4]);
    assert_eq!(out.json["pruned"].as_array().unwrap().len(), 1);
    assert_eq!(out.json["pruned"][0]["subnet_id"], gone.as_str());
    assert_eq!(out.json["pruned"][0]["remove_rule"], true);
    let names = function_names(&config).await;
    assert_eq!(names.len(), 4);
    assert!(!names.contains(&format!("egress-probe-{gone}")));
    assert!(
        !rule_names(&config)
            .await
            .contains(&format!("egress-probe-{gone}"))
    );

    // 5. Re-install without --schedule and --target: both are kept, nothing changes.
    let rules_before = rule_names(&config).await;
    let out = egress_probe(
        &config,
        &["install", "--vpc", &topo.vpc_id, "--zip", zip_x86],
    )
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(actions(&out.json, "schedule_change"), vec!["unchanged"; 4]);
    assert_eq!(actions(&out.json, "function_change"), vec!["unchanged"; 4]);
    for p in out.json["probes"].as_array().unwrap() {
        assert_eq!(p["settings"]["schedule"], "rate(5 minutes)");
        assert_eq!(
            p["settings"]["targets"],
            serde_json::json!(["tcp://192.0.2.10:443"])
        );
    }
    assert!(
        out.json["notes"][0]
            .as_str()
            .unwrap()
            .contains("kept from the installed probes"),
        "{}",
        out.stdout
    );
    assert_eq!(rule_names(&config).await, rules_before);
    // Removing the schedule is explicit: --no-schedule; the functions stay.
    let out = egress_probe(
        &config,
        &[
            "install",
            "--vpc",
            &topo.vpc_id,
            "--zip",
            zip_x86,
            "--no-schedule",
        ],
    )
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(actions(&out.json, "schedule_change"), vec!["remove"; 4]);
    assert!(rule_names(&config).await.is_empty());
    assert_eq!(function_names(&config).await.len(), 4);

    // 6. Untagged look-alikes: a function, a rule, a security group and a role.
    iam.create_role()
        .role_name("someone-elses-role")
        .assume_role_policy_document(egress_probe_installer::plan::trust_policy().to_string())
        .send()
        .await
        .unwrap();
    let foreign_role = iam
        .get_role()
        .role_name("someone-elses-role")
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_string();
    let zip_bytes = std::fs::read(zip_x86).unwrap();
    lambda
        .create_function()
        .function_name("egress-probe-hand-made")
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(&foreign_role)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_smithy_types_blob(zip_bytes))
                .build(),
        )
        .send()
        .await
        .unwrap();
    events
        .put_rule()
        .name("egress-probe-hand-made")
        .schedule_expression("rate(1 hour)")
        .send()
        .await
        .unwrap();
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let foreign_sg = ec2
        .create_security_group()
        .group_name("egress-probe-lookalike")
        .description("not ours")
        .vpc_id(&topo.vpc_id)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();

    let dry = egress_probe(&config, &["uninstall", "--dry-run"])
        .await
        .unwrap();
    assert_eq!(dry.code, 0);
    let after_dry = function_names(&config).await;
    assert_eq!(
        after_dry.len(),
        5,
        "dry run removed something: {after_dry:?}"
    );

    // Without a terminal to ask on, uninstall needs --yes; it names account and Region.
    let e = egress_probe(&config, &["uninstall"]).await.unwrap_err();
    let e = format!("{e:#}");
    assert!(
        e.contains("--yes") && e.contains("account 123456789012") && e.contains("us-east-1"),
        "{e}"
    );
    assert_eq!(function_names(&config).await.len(), 5, "nothing removed");

    let out = egress_probe(&config, &["uninstall", "--yes"])
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.json["account"], "123456789012");
    let removed: Vec<(String, String)> = out.json["removals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(removed.iter().filter(|(k, _)| k == "function").count(), 4);
    assert!(removed.iter().all(|(_, s)| s == "removed"), "{removed:?}");
    assert_eq!(
        function_names(&config).await,
        vec!["egress-probe-hand-made".to_string()]
    );
    assert_eq!(
        rule_names(&config).await,
        vec!["egress-probe-hand-made".to_string()]
    );
    let roles = role_names(&config).await;
    assert!(roles.contains(&"someone-elses-role".to_string()));
    assert!(!roles.contains(&role_name.to_string()));
    let sgs = security_group_ids(&config, &topo.vpc_id).await;
    assert!(sgs.contains(&foreign_sg));
    assert!(!sgs.contains(&sg));
}

fn aws_smithy_types_blob(bytes: Vec<u8>) -> aws_sdk_lambda::primitives::Blob {
    aws_sdk_lambda::primitives::Blob::new(bytes)
}

#[tokio::test]
async fn dry_run_changes_nothing_and_selection_flags_pick_subnets() {
    let server = MotoServer::start().unwrap();
    let config = server.sdk_config().await;
    let topo = build_vpc(&config, 4, AZS).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zip = write_zip(dir.path(), "b.zip", Arch::Arm64, "x");
    let zip = zip.to_str().unwrap();

    let before = inventory(&config, &topo.vpc_id).await;
    let out = egress_probe(
        &config,
        &[
            "install",
            "--vpc",
            &topo.vpc_id,
            "--zip",
            zip,
            "--schedule",
            "cron(0/5 * * * ? *)",
            "--dry-run",
        ],
    )
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.json["dry_run"], true);
    assert_eq!(actions(&out.json, "function_change"), vec!["create"; 4]);
    assert_eq!(
        inventory(&config, &topo.vpc_id).await,
        before,
        "dry run changed something"
    );

    // --tag narrows the VPC to the tagged subnets (indices 0 and 2).
    let out = egress_probe(
        &config,
        &[
            "install",
            "--vpc",
            &topo.vpc_id,
            "--tag",
            "tier=app",
            "--zip",
            zip,
            "--dry-run",
        ],
    )
    .await
    .unwrap();
    let mut planned: Vec<String> = out.json["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["subnet_id"].as_str().unwrap().to_string())
        .collect();
    planned.sort();
    let mut want = vec![topo.subnets[0].0.clone(), topo.subnets[2].0.clone()];
    want.sort();
    assert_eq!(planned, want);

    // Install two subnets by ID, then --like-function mirrors a function's subnets and groups.
    let s1 = topo.subnets[1].0.clone();
    let s3 = topo.subnets[3].0.clone();
    let out = egress_probe(
        &config,
        &["install", "--subnet", &s1, "--subnet", &s3, "--zip", zip],
    )
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(function_names(&config).await.len(), 2);

    let ec2 = aws_sdk_ec2::Client::new(&config);
    let app_sg = ec2
        .create_security_group()
        .group_name("app")
        .description("app")
        .vpc_id(&topo.vpc_id)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let role = out.json["role"]["arn"].as_str().unwrap().to_string();
    let lambda = aws_sdk_lambda::Client::new(&config);
    lambda
        .create_function()
        .function_name("app")
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(&role)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(
                    std::fs::read(zip).unwrap(),
                ))
                .build(),
        )
        .vpc_config(
            aws_sdk_lambda::types::VpcConfig::builder()
                .subnet_ids(&topo.subnets[0].0)
                .security_group_ids(&app_sg)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let out = egress_probe(
        &config,
        &[
            "install",
            "--like-function",
            "app",
            "--zip",
            zip,
            "--dry-run",
        ],
    )
    .await
    .unwrap();
    assert_eq!(out.json["security_groups"][0]["action"], "mirrored");
    assert_eq!(
        out.json["security_groups"][0]["group_ids"],
        serde_json::json!([app_sg])
    );
    assert_eq!(
        out.json["probes"][0]["subnet_id"],
        topo.subnets[0].0.as_str()
    );
    // --lambda-subnets: the subnets that non-egress-probe functions use (only "app"'s).
    let out = egress_probe(
        &config,
        &["install", "--lambda-subnets", "--zip", zip, "--dry-run"],
    )
    .await
    .unwrap();
    assert_eq!(out.json["probes"].as_array().unwrap().len(), 1);
    assert_eq!(
        out.json["probes"][0]["subnet_id"],
        topo.subnets[0].0.as_str()
    );

    // status lists the two installed probes with their AZs.
    let out = egress_probe(&config, &["status"]).await.unwrap();
    assert_eq!(out.code, 0);
    let subnets: Vec<&str> = out.json["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["subnet_id"].as_str().unwrap())
        .collect();
    assert_eq!(subnets.len(), 2);
    assert!(subnets.contains(&s1.as_str()) && subnets.contains(&s3.as_str()));
    assert!(
        out.json["probes"][0]["availability_zone"]
            .as_str()
            .unwrap()
            .starts_with("us-east-1")
    );
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_changes() {
    let server = MotoServer::start().unwrap();
    let config = server.sdk_config().await;
    let topo = build_vpc(&config, 2, AZS).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zip = write_zip(dir.path(), "b.zip", Arch::Arm64, "x");
    let zip = zip.to_str().unwrap();
    let before = inventory(&config, &topo.vpc_id).await;

    let err = |r: anyhow::Result<egress_probe_installer::Outcome>| format!("{:#}", r.unwrap_err());
    // moto accepts nonexistent subnets in CreateFunction: the installer must check.
    let e = err(egress_probe(
        &config,
        &["install", "--subnet", "subnet-0deadbeef", "--zip", zip],
    )
    .await);
    assert!(
        e.contains("subnet subnet-0deadbeef not found in us-east-1"),
        "{e}"
    );
    let e = err(egress_probe(
        &config,
        &["install", "--vpc", "vpc-0deadbeef", "--zip", zip],
    )
    .await);
    assert!(
        e.contains("VPC vpc-0deadbeef not found in us-east-1"),
        "{e}"
    );
    let e = err(egress_probe(
        &config,
        &[
            "install",
            "--vpc",
            &topo.vpc_id,
            "--security-group",
            "sg-0deadbeef",
            "--zip",
            zip,
        ],
    )
    .await);
    assert!(e.contains("security group sg-0deadbeef not found"), "{e}");
    let e = err(egress_probe(
        &config,
        &[
            "install",
            "--vpc",
            &topo.vpc_id,
            "--zip",
            "/nonexistent.zip",
        ],
    )
    .await);
    assert!(e.contains("/nonexistent.zip"), "{e}");
    let e = err(egress_probe(
        &config,
        &[
            "install",
            "--vpc",
            &topo.vpc_id,
            "--tag",
            "oops",
            "--zip",
            zip,
        ],
    )
    .await);
    assert!(e.contains("--tag"), "{e}");
    let e = err(egress_probe(
        &config,
        &["install", "--like-function", "nope", "--zip", zip],
    )
    .await);
    assert!(e.contains("function nope not found"), "{e}");

    // A VPC of another Region is "not found" here.
    let west = config
        .clone()
        .into_builder()
        .region(aws_config::Region::new("us-west-2"))
        .build();
    let west_vpc = build_vpc(&west, 1, &["us-west-2a"]).await.unwrap();
    let e = err(egress_probe(
        &config,
        &["install", "--vpc", &west_vpc.vpc_id, "--zip", zip],
    )
    .await);
    assert!(
        e.contains(&format!("VPC {} not found in us-east-1", west_vpc.vpc_id)),
        "{e}"
    );
    assert_eq!(inventory(&config, &topo.vpc_id).await, before);

    // A function with a probe's name but without the tag is left alone (exit 2, said why).
    let iam = aws_sdk_iam::Client::new(&config);
    let role = iam
        .create_role()
        .role_name("r")
        .assume_role_policy_document(egress_probe_installer::plan::trust_policy().to_string())
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_string();
    let (s0, _) = &topo.subnets[0];
    let lambda = aws_sdk_lambda::Client::new(&config);
    lambda
        .create_function()
        .function_name(format!("egress-probe-{s0}"))
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(&role)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(b"not ours".to_vec()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let out = egress_probe(&config, &["install", "--vpc", &topo.vpc_id, "--zip", zip])
        .await
        .unwrap();
    assert_eq!(out.code, 2, "{}", out.stdout);
    let refused: Vec<&Value> = out.json["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["function_change"]["action"] == "refuse_unmanaged")
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["subnet_id"], s0.as_str());
    // The other subnet was installed anyway (one failed subnet never stops the others).
    let done = out.json["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"]["status"] == "done")
        .count();
    assert_eq!(done, 1);
    let c = lambda
        .get_function_configuration()
        .function_name(format!("egress-probe-{s0}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        c.code_sha256(),
        Some(egress_probe_installer::artifact::code_sha256(b"not ours").as_str())
    );
    assert!(c.vpc_config().is_none_or(|v| v.subnet_ids().is_empty()));
}

/// Settings the user does not repeat are kept, and a probe added later takes the ones the
/// installed probes share; changing one setting changes only that one.
#[tokio::test]
async fn rerun_keeps_settings_and_new_probes_take_the_shared_ones() {
    let server = MotoServer::start().unwrap();
    let config = server.sdk_config().await;
    let topo = build_vpc(&config, 2, AZS).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zip = write_zip(dir.path(), "b.zip", Arch::Arm64, "x");
    let zip = zip.to_str().unwrap();
    let (s0, s1) = (&topo.subnets[0].0, &topo.subnets[1].0);
    let out = egress_probe(
        &config,
        &[
            "install",
            "--subnet",
            s0,
            "--zip",
            zip,
            "--schedule",
            "rate(10 minutes)",
            "--target",
            "tcp://192.0.2.10:443",
            "--diagnose",
            "always",
            "--metric-namespace",
            "Custom",
        ],
    )
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);

    let out = egress_probe(&config, &["install", "--vpc", &topo.vpc_id, "--zip", zip])
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    let by_subnet = |json: &Value, s: &str| {
        json["probes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["subnet_id"] == s)
            .cloned()
            .unwrap()
    };
    let old = by_subnet(&out.json, s0);
    assert_eq!(old["function_change"]["action"], "unchanged", "{old:#}");
    assert_eq!(old["schedule_change"]["action"], "unchanged", "{old:#}");
    let new = by_subnet(&out.json, s1);
    assert_eq!(new["function_change"]["action"], "create");
    assert_eq!(
        new["schedule_change"],
        serde_json::json!({"action": "create", "expression": "rate(10 minutes)"})
    );
    let lambda = aws_sdk_lambda::Client::new(&config);
    let env = |name: String| {
        let lambda = lambda.clone();
        async move {
            lambda
                .get_function_configuration()
                .function_name(name)
                .send()
                .await
                .unwrap()
                .environment()
                .unwrap()
                .variables()
                .unwrap()
                .clone()
        }
    };
    let e1 = env(format!("egress-probe-{s1}")).await;
    assert_eq!(e1["EGRESS_PROBE_TARGETS"], "tcp://192.0.2.10:443");
    assert_eq!(e1["EGRESS_PROBE_DIAGNOSE"], "always");
    assert_eq!(e1["EGRESS_PROBE_METRIC_NAMESPACE"], "Custom");

    // One explicit change (the on-failure spelling is accepted): only the environment
    // moves; schedule and targets stay.
    let out = egress_probe(
        &config,
        &[
            "install",
            "--vpc",
            &topo.vpc_id,
            "--zip",
            zip,
            "--diagnose",
            "on-failure",
        ],
    )
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(actions(&out.json, "schedule_change"), vec!["unchanged"; 2]);
    for p in out.json["probes"].as_array().unwrap() {
        assert_eq!(
            p["function_change"]["configuration"],
            serde_json::json!(["environment"])
        );
        assert_eq!(p["settings"]["diagnose"], "on_failure");
        assert_eq!(p["settings"]["schedule"], "rate(10 minutes)");
    }
    let e0 = env(format!("egress-probe-{s0}")).await;
    assert_eq!(e0["EGRESS_PROBE_DIAGNOSE"], "on_failure");
    assert_eq!(e0["EGRESS_PROBE_TARGETS"], "tcp://192.0.2.10:443");
    assert_eq!(e0["EGRESS_PROBE_METRIC_NAMESPACE"], "Custom");

    // status: targets as an array, the version said in words; no "(new)" anywhere.
    let out = egress_probe(&config, &["status"]).await.unwrap();
    assert_eq!(
        out.json["probes"][0]["targets"],
        serde_json::json!(["tcp://192.0.2.10:443"])
    );
    assert!(out.json["probes"][0]["published_version"].is_null());
}

/// A dry run that would create the role and the group says so with nulls and words, never
/// a placeholder ID.
#[tokio::test]
async fn a_dry_run_never_shows_placeholder_ids() {
    let server = MotoServer::start().unwrap();
    let config = server.sdk_config().await;
    let topo = build_vpc(&config, 1, AZS).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zip = write_zip(dir.path(), "b.zip", Arch::Arm64, "x");
    let args = [
        "install",
        "--vpc",
        topo.vpc_id.as_str(),
        "--zip",
        zip.to_str().unwrap(),
        "--dry-run",
    ];
    let out = egress_probe(&config, &args).await.unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(out.json["role"]["arn"].is_null(), "{:#}", out.json);
    assert_eq!(
        out.json["security_groups"][0]["group_ids"],
        serde_json::json!([])
    );
    assert_eq!(out.json["account"], "123456789012");
    assert!(!out.stdout.contains("(new)"), "{}", out.stdout);
    // The same in text.
    let cli = <egress_probe_installer::cli::Cli as clap::Parser>::try_parse_from(
        ["egress-probe"].into_iter().chain(args),
    )
    .unwrap();
    let text = egress_probe_installer::run_with_config(cli, Some(config.clone()))
        .await
        .unwrap()
        .stdout;
    assert!(!text.contains("(new)"), "{text}");
    assert!(
        text.contains("account 123456789012, Region us-east-1"),
        "{text}"
    );
    assert!(
        text.contains("role egress-probe-execution-us-east-1: create"),
        "{text}"
    );
}
