//! The Invoke front without the lab: environments in the host namespace, targets on
//! loopback. Every AWS call of the test goes through the front (pass-through to moto);
//! Invoke runs the real `egress-probe-lambda` under `lab-runtime`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime, VpcConfig};
use egress_probe_e2e::invoke_front::{FrontConfig, InvokeFront, Placement};
use egress_probe_e2e::lab_run::create_role;
use egress_probe_e2e::moto::MotoServer;
use egress_probe_e2e::runtime_api::workspace_binary;
use serde_json::Value;
use std::sync::Arc;

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn front_invokes_probes_and_passes_everything_else_to_moto() {
    let moto = MotoServer::start().unwrap();
    let work = tempfile::tempdir().unwrap();
    let guard_port = closed_port();
    let placement = Arc::new(move |subnet: &str| {
        subnet.starts_with("subnet-").then(|| Placement {
            netns: None,
            // Any AWS call the probe might make goes to a closed loopback port.
            env: vec![(
                "AWS_ENDPOINT_URL".into(),
                format!("http://127.0.0.1:{guard_port}"),
            )],
        })
    });
    let front = InvokeFront::start(FrontConfig {
        moto_endpoint: moto.endpoint.clone(),
        sdk_config: moto.sdk_config().await,
        probe_exe: workspace_binary("egress-probe-lambda").unwrap(),
        lab_runtime_exe: workspace_binary("lab-runtime").unwrap(),
        work_dir: work.path().to_path_buf(),
        placement,
        nfw: Default::default(),
    })
    .await
    .unwrap();

    // The test's own SDK clients talk to the front only.
    let sdk = moto
        .sdk_config()
        .await
        .into_builder()
        .endpoint_url(front.endpoint())
        .build();
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    // IAM through the front (awsQuery form body; the SigV4 scope in Authorization routes it).
    let iam_role_arn = create_role(&front.endpoint(), "probe-role").await.unwrap();
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.20.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block("10.20.1.0/24")
        .availability_zone("us-east-1b")
        .send()
        .await
        .unwrap();
    let subnet = subnet.subnet().unwrap();
    let subnet_id = subnet.subnet_id().unwrap().to_string();
    let az_id = subnet.availability_zone_id().unwrap().to_string();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port();
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let env = |targets: String| {
        Environment::builder()
            .variables("EGRESS_PROBE_TARGETS", targets)
            .variables("EGRESS_PROBE_DIAGNOSE", "never")
            .variables("EGRESS_PROBE_SUBNET_ID", subnet_id.clone())
            .build()
    };
    lambda
        .create_function()
        .function_name("probe-front-test")
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role(&iam_role_arn)
        .timeout(10)
        .memory_size(256)
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(b"not used by the lab".to_vec()))
                .build(),
        )
        .vpc_config(
            VpcConfig::builder()
                .subnet_ids(&subnet_id)
                .security_group_ids("sg-0lab")
                .build(),
        )
        .environment(env(format!("tcp://127.0.0.1:{open}")))
        .send()
        .await
        .unwrap();

    // A report from the real probe, with the subnet's AZ ID from the metadata endpoint.
    let out = lambda
        .invoke()
        .function_name("probe-front-test")
        .payload(Blob::new(b"{}".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code(), 200);
    assert_eq!(out.function_error(), None);
    let report: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(report["schema"], "egress-probe.report/v1");
    assert_eq!(report["identity"]["function_name"], "probe-front-test");
    assert_eq!(report["identity"]["memory_mb"], 256);
    assert_eq!(report["identity"]["subnet_id"], subnet_id.as_str());
    assert_eq!(report["identity"]["availability_zone_id"], az_id.as_str());
    assert_eq!(report["observations"][0]["status"], "ok", "{report:#}");

    // A bad event: a function error naming the field, as Lambda returns it.
    let out = lambda
        .invoke()
        .function_name("probe-front-test")
        .payload(Blob::new(br#"{"targets":["tcp://x.example:0"]}"#.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.function_error(), Some("Unhandled"));
    let err: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(err["errorType"], "InvalidEvent");
    assert!(err["errorMessage"].as_str().unwrap().contains("targets[0]"));

    // A new configuration replaces the warm environment.
    let closed = closed_port();
    lambda
        .update_function_configuration()
        .function_name("probe-front-test")
        .environment(env(format!("tcp://127.0.0.1:{closed}")))
        .send()
        .await
        .unwrap();
    let out = lambda
        .invoke()
        .function_name("probe-front-test")
        .payload(Blob::new(b"{}".to_vec()))
        .send()
        .await
        .unwrap();
    let report: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(report["observations"][0]["status"], "refused", "{report:#}");

    // Unknown function: 404 ResourceNotFoundException (moto's Docker-free invoke would say 200).
    let err = lambda
        .invoke()
        .function_name("no-such-function")
        .payload(Blob::new(b"{}".to_vec()))
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{err:?}"
    );

    let runs = front.invocations();
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert!(runs.iter().all(|r| r.subnet_id == subnet_id));
    assert_eq!(
        runs.iter().map(|r| r.result.as_str()).collect::<Vec<_>>(),
        ["response", "error", "response"]
    );
    drop(listener);
}
