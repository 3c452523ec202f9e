//! The StackSet's manager (issue 14) against moto: each pass is `install --prune` in place.
//! Tagged subnets get a probe; a subnet created later gets one on its CloudTrail event; a
//! subnet deleted loses its probe; a pass with nothing to do changes nothing; a function
//! named like a probe but not tagged by egress-probe is never touched; `lambda-subnets`
//! follows the subnets functions use.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod installer_common;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use egress_probe_e2e::moto::MotoServer;
use egress_probe_installer::artifact::Arch;
use egress_probe_installer::aws::Clients;
use egress_probe_installer::manager::{self, ManagerConfig, Trigger, env};
use installer_common::*;
use std::collections::HashMap;

fn config_of(pairs: &[(&str, &str)]) -> ManagerConfig {
    let m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ManagerConfig::from_env(|k| m.get(k).cloned()).unwrap()
}

#[tokio::test]
async fn the_manager_keeps_one_probe_per_selected_subnet() {
    let server = MotoServer::start().unwrap();
    let config = server.sdk_config().await;
    let clients = Clients::new(config.clone()).unwrap();
    let topo = build_vpc(&config, 4, &["us-east-1a", "us-east-1b"])
        .await
        .unwrap();
    // build_vpc tags the even subnets tier=app.
    let tagged: Vec<String> = topo
        .subnets
        .iter()
        .step_by(2)
        .map(|(s, _)| s.clone())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let zip = write_zip(dir.path(), "bootstrap.zip", Arch::Arm64, "manager");
    let zip_path = zip.to_str().unwrap();
    let cfg = config_of(&[
        (env::SELECT, "tag:tier=app"),
        (env::ZIP, zip_path),
        (env::SCHEDULE, "rate(5 minutes)"),
    ]);
    let zip = cfg.load_zip().unwrap();
    let probes = |names: Vec<String>| -> Vec<String> {
        names
            .into_iter()
            .filter(|n| n.starts_with("egress-probe-subnet-") && !n.contains("foreign"))
            .collect()
    };

    // First pass: one probe per tagged subnet, scheduled.
    let pass = manager::reconcile(&clients, &cfg, zip.clone(), Trigger::Schedule)
        .await
        .unwrap();
    assert_eq!(
        (pass.subnets, pass.created, pass.failed),
        (2, 2, 0),
        "{pass:#?}"
    );
    let mut want: Vec<String> = tagged.iter().map(|s| format!("egress-probe-{s}")).collect();
    want.sort();
    assert_eq!(probes(function_names(&config).await), want);
    assert_eq!(
        rule_names(&config).await,
        want,
        "each probe has its schedule"
    );
    assert!(!pass.changes.is_empty(), "{pass:#?}");

    // A function named like a probe, not tagged by egress-probe: never touched.
    let role = aws_sdk_iam::Client::new(&config)
        .create_role()
        .role_name("someone-else")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    aws_sdk_lambda::Client::new(&config)
        .create_function()
        .function_name("egress-probe-subnet-0foreign")
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role.role().unwrap().arn())
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(
                    std::fs::read(zip_path).unwrap(),
                ))
                .build(),
        )
        .send()
        .await
        .unwrap();

    // A tagged subnet created later: the CloudTrail event's pass gives it a probe.
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let new = ec2
        .create_subnet()
        .vpc_id(&topo.vpc_id)
        .cidr_block("10.0.20.0/24")
        .availability_zone("us-east-1b")
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Subnet)
                .tags(Tag::builder().key("tier").value("app").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let new_id = new.subnet().unwrap().subnet_id().unwrap().to_string();
    let event = serde_json::json!({
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
        "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "CreateSubnet",
                   "responseElements": {"subnet": {"subnetId": new_id}}}
    });
    let trigger = manager::trigger(&event);
    assert_eq!(trigger, Trigger::SubnetCreated(Some(new_id.clone())));
    let pass = manager::reconcile(&clients, &cfg, zip.clone(), trigger)
        .await
        .unwrap();
    assert_eq!(
        (pass.subnets, pass.created, pass.unchanged, pass.failed),
        (3, 1, 2, 0),
        "{pass:#?}"
    );
    assert!(
        function_names(&config)
            .await
            .contains(&format!("egress-probe-{new_id}"))
    );

    // A subnet deleted: its probe and rule are removed; the untagged function stays.
    let gone = tagged[0].clone();
    ec2.delete_subnet().subnet_id(&gone).send().await.unwrap();
    let event = serde_json::json!({
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {"eventName": "DeleteSubnet", "requestParameters": {"subnetId": gone}}
    });
    let pass = manager::reconcile(&clients, &cfg, zip.clone(), manager::trigger(&event))
        .await
        .unwrap();
    assert_eq!(
        (pass.pruned, pass.created, pass.failed),
        (1, 0, 0),
        "{pass:#?}"
    );
    let names = function_names(&config).await;
    assert!(
        !names.contains(&format!("egress-probe-{gone}")),
        "{names:?}"
    );
    assert!(
        !rule_names(&config)
            .await
            .contains(&format!("egress-probe-{gone}"))
    );
    assert!(names.contains(&"egress-probe-subnet-0foreign".to_string()));

    // Nothing to do: nothing changes.
    let pass = manager::reconcile(&clients, &cfg, zip.clone(), Trigger::Schedule)
        .await
        .unwrap();
    assert_eq!(
        (pass.created, pass.changed, pass.pruned, pass.failed),
        (0, 0, 0, 0),
        "{pass:#?}"
    );
    assert!(pass.changes.is_empty(), "{pass:#?}");
    assert_eq!(pass.unchanged, 2);

    // lambda-subnets: an application function in the untagged subnet gets a probe there.
    let app_subnet = topo.subnets[1].0.clone();
    let app_group = security_group_ids(&config, &topo.vpc_id).await[0].clone();
    aws_sdk_lambda::Client::new(&config)
        .create_function()
        .function_name("app")
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role.role().unwrap().arn())
        .vpc_config(
            aws_sdk_lambda::types::VpcConfig::builder()
                .subnet_ids(&app_subnet)
                .security_group_ids(&app_group)
                .build(),
        )
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(
                    std::fs::read(zip_path).unwrap(),
                ))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let lambda_cfg = config_of(&[(env::SELECT, "lambda-subnets"), (env::ZIP, zip_path)]);
    let pass = manager::reconcile(&clients, &lambda_cfg, zip.clone(), Trigger::Other)
        .await
        .unwrap();
    assert_eq!(pass.failed, 0, "{pass:#?}");
    assert!(
        function_names(&config)
            .await
            .contains(&format!("egress-probe-{app_subnet}")),
        "{pass:#?}"
    );
}

/// The report destinations (issue 14, EGRESS_PROBE_MANAGER_REPORT_BUS): every probe's
/// asynchronous invocation records go to the bus, the execution role may put events there,
/// a destination changed by hand is set back, a pass with nothing to do changes nothing, and
/// a function the tool did not create is never given one.
#[tokio::test]
async fn the_manager_points_every_probe_at_the_report_bus() {
    let server = MotoServer::start().unwrap();
    let config = server.sdk_config().await;
    let clients = Clients::new(config.clone()).unwrap();
    let topo = build_vpc(&config, 4, &["us-east-1a", "us-east-1b"])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zip_path = write_zip(dir.path(), "bootstrap.zip", Arch::Arm64, "reports");
    let zip_path = zip_path.to_str().unwrap();
    let bus = "arn:aws:events:us-east-1:123456789012:event-bus/default";
    let cfg = config_of(&[
        (env::SELECT, "tag:tier=app"),
        (env::ZIP, zip_path),
        (env::REPORT_BUS, bus),
    ]);
    let zip = cfg.load_zip().unwrap();
    let lambda = aws_sdk_lambda::Client::new(&config);

    // A function named like a probe that egress-probe did not create.
    let role = aws_sdk_iam::Client::new(&config)
        .create_role()
        .role_name("someone-else")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    lambda
        .create_function()
        .function_name("egress-probe-subnet-0foreign")
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role.role().unwrap().arn())
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(
                    std::fs::read(zip_path).unwrap(),
                ))
                .build(),
        )
        .send()
        .await
        .unwrap();

    let destinations = |function: String| {
        let lambda = lambda.clone();
        async move {
            match lambda
                .get_function_event_invoke_config()
                .function_name(&function)
                .send()
                .await
            {
                Ok(c) => {
                    let d = c.destination_config().unwrap();
                    Some((
                        d.on_success()
                            .and_then(|s| s.destination())
                            .map(String::from),
                        d.on_failure()
                            .and_then(|s| s.destination())
                            .map(String::from),
                    ))
                }
                Err(e) => {
                    let code = aws_sdk_lambda::error::ProvideErrorMetadata::code(&e);
                    assert_eq!(code, Some("ResourceNotFoundException"), "{e:?}");
                    None
                }
            }
        }
    };
    let want = Some((Some(bus.to_string()), Some(bus.to_string())));

    let pass = manager::reconcile(&clients, &cfg, zip.clone(), Trigger::Schedule)
        .await
        .unwrap();
    assert_eq!((pass.created, pass.failed), (2, 0), "{pass:#?}");
    let probes: Vec<String> = topo
        .subnets
        .iter()
        .step_by(2)
        .map(|(s, _)| format!("egress-probe-{s}"))
        .collect();
    for p in &probes {
        assert_eq!(destinations(p.clone()).await, want, "{p}");
        assert!(
            pass.changes
                .contains(&format!("set the report destinations of {p}")),
            "{pass:#?}"
        );
    }
    assert_eq!(
        destinations("egress-probe-subnet-0foreign".into()).await,
        None,
        "a function the tool did not create is never touched"
    );
    let policy = aws_sdk_iam::Client::new(&config)
        .get_role_policy()
        .role_name("egress-probe-execution-us-east-1")
        .policy_name(manager::REPORT_POLICY)
        .send()
        .await
        .unwrap();
    let doc = egress_probe_installer::aws::decode_policy(policy.policy_document()).unwrap();
    assert_eq!(doc, manager::report_policy(bus));
    assert_eq!(doc["Statement"][0]["Action"], "events:PutEvents");

    // Nothing to do: nothing changes.
    let pass = manager::reconcile(&clients, &cfg, zip.clone(), Trigger::Schedule)
        .await
        .unwrap();
    assert!(pass.changes.is_empty(), "{pass:#?}");
    assert_eq!(pass.failed, 0, "{pass:#?}");

    // A destination changed by hand is set back on the next pass; the other stays as it is.
    let elsewhere = "arn:aws:events:us-east-1:123456789012:event-bus/elsewhere";
    lambda
        .put_function_event_invoke_config()
        .function_name(&probes[0])
        .destination_config(
            aws_sdk_lambda::types::DestinationConfig::builder()
                .on_success(
                    aws_sdk_lambda::types::OnSuccess::builder()
                        .destination(elsewhere)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        destinations(probes[0].clone()).await,
        Some((Some(elsewhere.to_string()), None))
    );
    let pass = manager::reconcile(&clients, &cfg, zip.clone(), Trigger::Schedule)
        .await
        .unwrap();
    assert_eq!(
        pass.changes,
        vec![format!("set the report destinations of {}", probes[0])],
        "{pass:#?}"
    );
    for p in &probes {
        assert_eq!(destinations(p.clone()).await, want, "{p}");
    }
}

/// The calls a pass makes per probe (counted by the fault front in front of moto): a probe
/// created in this pass costs no policy read and no destination read (it has neither yet);
/// a pass with nothing to do reads each probe's destinations once and writes nothing.
#[tokio::test]
async fn a_new_probe_costs_no_policy_or_destination_read() {
    let server = MotoServer::start().unwrap();
    let front = egress_probe_e2e::fault_front::FaultFront::start(&server.endpoint)
        .await
        .unwrap();
    let direct = server.sdk_config().await;
    build_vpc(&direct, 6, &["us-east-1a", "us-east-1b"])
        .await
        .unwrap();
    let config = direct.into_builder().endpoint_url(front.endpoint()).build();
    let clients = Clients::new(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zip_path = write_zip(dir.path(), "bootstrap.zip", Arch::Arm64, "calls");
    let cfg = config_of(&[
        (env::SELECT, "tag:tier=app"),
        (env::ZIP, zip_path.to_str().unwrap()),
        (env::SCHEDULE, "rate(5 minutes)"),
        (
            env::REPORT_BUS,
            "arn:aws:events:us-east-1:123456789012:event-bus/default",
        ),
    ]);
    let zip = cfg.load_zip().unwrap();

    let pass = manager::reconcile(&clients, &cfg, zip.clone(), Trigger::Schedule)
        .await
        .unwrap();
    assert_eq!((pass.created, pass.failed), (3, 0), "{pass:#?}");
    let count = |op: &str| front.count(op);
    assert_eq!(count("CreateFunction"), 3);
    assert_eq!(count("AddPermission"), 3);
    assert_eq!(count("GetPolicy"), 0, "{:?}", front.seen());
    assert_eq!(count("PutFunctionEventInvokeConfig"), 3);
    assert_eq!(
        count("GetFunctionEventInvokeConfig"),
        0,
        "{:?}",
        front.seen()
    );

    let before = front.seen().len();
    let pass = manager::reconcile(&clients, &cfg, zip, Trigger::Schedule)
        .await
        .unwrap();
    assert!(pass.changes.is_empty(), "{pass:#?}");
    let second: Vec<String> = front.seen()[before..].to_vec();
    let n = |op: &str| second.iter().filter(|o| *o == op).count();
    assert_eq!(n("GetFunctionEventInvokeConfig"), 3, "{second:?}");
    for write in [
        "CreateFunction",
        "AddPermission",
        "PutRule",
        "PutTargets",
        "PutFunctionEventInvokeConfig",
        "PutRolePolicy",
    ] {
        assert_eq!(n(write), 0, "{write}: {second:?}");
    }
}
