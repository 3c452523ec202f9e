//! The installer against moto behind the fault front: a failed, throttled or lost AWS
//! answer is finished by the re-run (install converges on the rule, its target and the
//! Lambda permission), uninstall always says what it removed before an error and counts a
//! resource already gone as removed, and every failure reads as words.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod installer_common;

use aws_config::retry::RetryConfig;
use egress_probe_e2e::fault_front::{Fault, FaultFront};
use egress_probe_e2e::moto::MotoServer;
use egress_probe_installer::artifact::Arch;
use installer_common::*;
use serde_json::Value;
use std::time::Duration;

const AZS: &[&str] = &["us-east-1a", "us-east-1b"];

/// moto behind a fault front, and an SDK configuration that goes through the front.
async fn setup(max_attempts: u32) -> (MotoServer, FaultFront, aws_config::SdkConfig) {
    let server = MotoServer::start().unwrap();
    let front = FaultFront::start(&server.endpoint).await.unwrap();
    let config = server
        .sdk_config()
        .await
        .into_builder()
        .endpoint_url(front.endpoint())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(max_attempts)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .build();
    (server, front, config)
}

/// The `SourceArn` of the schedule's permission on `function`, if any.
async fn permission(config: &aws_config::SdkConfig, function: &str) -> Option<String> {
    let lambda = aws_sdk_lambda::Client::new(config);
    let policy = lambda
        .get_policy()
        .function_name(function)
        .send()
        .await
        .ok()?;
    egress_probe_installer::aws::statement_source(
        policy.policy().unwrap(),
        egress_probe_installer::plan::PERMISSION_SID,
    )
}

async fn rule_arn(config: &aws_config::SdkConfig, name: &str) -> String {
    aws_sdk_eventbridge::Client::new(config)
        .describe_rule()
        .name(name)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string()
}

fn statuses(json: &Value) -> Vec<String> {
    json["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"]["status"].as_str().unwrap().to_string())
        .collect()
}

fn schedule_actions(json: &Value) -> Vec<String> {
    json["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["schedule_change"]["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_denied_or_throttled_add_permission_is_finished_by_the_rerun() {
    let (_server, front, config) = setup(1).await;
    let topo = build_vpc(&config, 2, AZS).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zip = write_zip(dir.path(), "b.zip", Arch::Arm64, "x");
    let args = [
        "install",
        "--vpc",
        &topo.vpc_id,
        "--zip",
        zip.to_str().unwrap(),
        "--schedule",
        "rate(5 minutes)",
    ];
    // One AddPermission denied, the other throttled past the retries.
    front.inject(
        "AddPermission",
        Fault::denied("AccessDeniedException"),
        Some(1),
    );
    front.inject(
        "AddPermission",
        Fault::Error {
            status: 429,
            code: "TooManyRequestsException".into(),
        },
        Some(1),
    );
    let out = egress_probe(&config, &args).await.unwrap();
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert_eq!(
        statuses(&out.json),
        vec!["failed", "failed"],
        "{:#}",
        out.json
    );
    for p in out.json["probes"].as_array().unwrap() {
        let e = p["status"]["error"].as_str().unwrap();
        assert!(e.contains("lambda:AddPermission failed"), "{e}");
        assert!(!e.contains("ServiceError"), "a debug dump: {e}");
    }
    for (subnet, _) in &topo.subnets {
        let name = format!("egress-probe-{subnet}");
        assert_eq!(permission(&config, &name).await, None, "{name}");
    }

    // The re-run sees the missing permission although rule and target are right.
    let out = egress_probe(&config, &args).await.unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(schedule_actions(&out.json), vec!["update", "update"]);
    assert_eq!(statuses(&out.json), vec!["done", "done"]);
    for (subnet, _) in &topo.subnets {
        let name = format!("egress-probe-{subnet}");
        assert_eq!(
            permission(&config, &name).await,
            Some(rule_arn(&config, &name).await),
            "the schedule can invoke {name}"
        );
    }

    // Then nothing is left to do.
    let out = egress_probe(&config, &args).await.unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(schedule_actions(&out.json), vec!["unchanged", "unchanged"]);
}

#[tokio::test]
async fn a_permission_for_another_rule_or_left_without_a_rule_is_corrected() {
    let (_server, _front, config) = setup(1).await;
    let topo = build_vpc(&config, 1, AZS).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zip = write_zip(dir.path(), "b.zip", Arch::Arm64, "x");
    let zip = zip.to_str().unwrap();
    let (subnet, _) = &topo.subnets[0];
    let name = format!("egress-probe-{subnet}");
    let args = [
        "install",
        "--subnet",
        subnet,
        "--zip",
        zip,
        "--schedule",
        "rate(5 minutes)",
    ];
    let out = egress_probe(&config, &args).await.unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    // Someone replaces the statement with one for another rule.
    let lambda = aws_sdk_lambda::Client::new(&config);
    lambda
        .remove_permission()
        .function_name(&name)
        .statement_id(egress_probe_installer::plan::PERMISSION_SID)
        .send()
        .await
        .unwrap();
    lambda
        .add_permission()
        .function_name(&name)
        .statement_id(egress_probe_installer::plan::PERMISSION_SID)
        .action("lambda:InvokeFunction")
        .principal("events.amazonaws.com")
        .source_arn("arn:aws:events:us-east-1:123456789012:rule/someone-else")
        .send()
        .await
        .unwrap();
    let out = egress_probe(&config, &args).await.unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(schedule_actions(&out.json), vec!["update"]);
    assert_eq!(
        permission(&config, &name).await,
        Some(rule_arn(&config, &name).await)
    );

    // --no-schedule removes the rule and the permission with it.
    let out = egress_probe(
        &config,
        &["install", "--subnet", subnet, "--zip", zip, "--no-schedule"],
    )
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(schedule_actions(&out.json), vec!["remove"]);
    assert_eq!(permission(&config, &name).await, None);
    assert!(rule_names(&config).await.is_empty());
}

#[tokio::test]
async fn uninstall_lists_what_it_removed_before_a_denied_call() {
    let (_server, front, config) = setup(1).await;
    let topo = build_vpc(&config, 2, AZS).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zip = write_zip(dir.path(), "b.zip", Arch::Arm64, "x");
    let out = egress_probe(
        &config,
        &[
            "install",
            "--vpc",
            &topo.vpc_id,
            "--zip",
            zip.to_str().unwrap(),
            "--schedule",
            "rate(1 hour)",
        ],
    )
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);

    front.inject("ListRoleTags", Fault::denied("AccessDenied"), None);
    let out = egress_probe(&config, &["uninstall", "--yes"])
        .await
        .unwrap();
    assert_eq!(out.code, 2, "{}", out.stdout);
    let removals = out.json["removals"].as_array().unwrap();
    let removed = |kind: &str| {
        removals
            .iter()
            .filter(|r| r["kind"] == kind && r["status"] == "removed")
            .count()
    };
    assert_eq!(removed("function"), 2, "{:#}", out.json);
    assert_eq!(removed("rule"), 2, "{:#}", out.json);
    assert_eq!(removed("security_group"), 1, "{:#}", out.json);
    let role = removals.iter().find(|r| r["kind"] == "role").unwrap();
    let status = role["status"].as_str().unwrap();
    assert!(
        status.starts_with("FAILED") && status.contains("iam:ListRoleTags failed: AccessDenied"),
        "{status}"
    );
    assert_eq!(out.json["account"], "123456789012");
    assert_eq!(out.json["region"], "us-east-1");
    assert!(function_names(&config).await.is_empty());
    assert!(rule_names(&config).await.is_empty());
    assert!(
        role_names(&config)
            .await
            .contains(&"egress-probe-execution-us-east-1".to_string()),
        "the role stays when its tag cannot be checked"
    );

    // The re-run, allowed again, removes the role: the rest is already gone.
    front.clear();
    let out = egress_probe(&config, &["uninstall", "--yes"])
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(
        out.json["removals"],
        serde_json::json!([{"kind": "role", "id": "egress-probe-execution-us-east-1", "status": "removed"}])
    );
}

#[tokio::test]
async fn a_removal_whose_answer_was_lost_counts_as_removed() {
    // Three attempts: the first answer is lost (HTTP 500 after moto removed the resource),
    // the retry finds it gone.
    let (_server, front, config) = setup(3).await;
    let topo = build_vpc(&config, 1, AZS).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zip = write_zip(dir.path(), "b.zip", Arch::Arm64, "x");
    let out = egress_probe(
        &config,
        &[
            "install",
            "--vpc",
            &topo.vpc_id,
            "--zip",
            zip.to_str().unwrap(),
            "--schedule",
            "rate(1 hour)",
        ],
    )
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    for (op, code) in [
        ("DeleteRule", "InternalException"),
        ("DeleteFunction", "ServiceException"),
        ("DeleteRole", "ServiceFailure"),
        ("DeleteSecurityGroup", "InternalError"),
    ] {
        front.inject(
            op,
            Fault::AfterPass {
                status: 500,
                code: code.into(),
            },
            Some(1),
        );
    }
    let out = egress_probe(&config, &["uninstall", "--yes"])
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    let removals = out.json["removals"].as_array().unwrap();
    assert_eq!(removals.len(), 4, "{:#}", out.json);
    assert!(
        removals.iter().all(|r| r["status"] == "removed"),
        "{:#}",
        out.json
    );
    for op in [
        "DeleteRule",
        "DeleteFunction",
        "DeleteRole",
        "DeleteSecurityGroup",
    ] {
        assert_eq!(front.count(op), 2, "{op}: the lost answer was retried");
    }
}

#[tokio::test]
async fn http_500_without_a_code_reads_as_words() {
    let (_server, front, config) = setup(1).await;
    front.inject("ListFunctions", Fault::Status(500), None);
    let e = egress_probe(&config, &["status"]).await.unwrap_err();
    let e = format!("{e:#}");
    assert!(
        e.contains("lambda:ListFunctions failed: HTTP 500 without an AWS error code"),
        "{e}"
    );
    assert!(!e.contains("ServiceError") && !e.contains("raw:"), "{e}");
}

#[tokio::test]
async fn diagnose_with_every_describe_denied_is_not_healthy() {
    let (_server, front, config) = setup(1).await;
    let topo = build_vpc(&config, 1, AZS).await.unwrap();
    let iam = aws_sdk_iam::Client::new(&config);
    let role = iam
        .create_role()
        .role_name("app")
        .assume_role_policy_document(egress_probe_installer::plan::trust_policy().to_string())
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_string();
    let sg = aws_sdk_ec2::Client::new(&config)
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
    aws_sdk_lambda::Client::new(&config)
        .create_function()
        .function_name("app")
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(&role)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(b"x".to_vec()))
                .build(),
        )
        .vpc_config(
            aws_sdk_lambda::types::VpcConfig::builder()
                .subnet_ids(&topo.subnets[0].0)
                .security_group_ids(&sg)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for call in egress_probe::snapshot::CALLS {
        if let Some(op) = call.strip_prefix("ec2:") {
            front.inject(op, Fault::denied("UnauthorizedOperation"), None);
        }
    }
    let out = egress_probe(
        &config,
        &[
            "diagnose",
            "--function",
            "app",
            "--target",
            "tcp://192.0.2.10:443",
        ],
    )
    .await
    .unwrap();
    // Not healthy: 2 when nothing broken was found in what could be read (the engine may
    // also raise a finding from the missing data, which exits 1).
    assert_ne!(out.code, 0, "{}", out.stdout);
    let errors = out.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["severity"] == "error");
    assert_eq!(out.code, if errors { 1 } else { 2 }, "{}", out.stdout);
    assert!(
        out.json["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["kind"] == "denied"),
        "{:#}",
        out.json
    );

    // A function that does not exist names the Region searched.
    let e = egress_probe(&config, &["diagnose", "--function", "nosuch-fn"])
        .await
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("function nosuch-fn not found in us-east-1"),
        "{e:#}"
    );
}
