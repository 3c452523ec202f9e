//! The fleet's pieces as Lambda runs them (issue 14), on loopback:
//! - the probe's real reports (the `egress-probe-lambda` binary under the Runtime API
//!   emulator), wrapped as Lambda's asynchronous invocation records on EventBridge, against
//!   stackset.yaml's forwarding rules, evaluated by moto's EventBridge pattern matcher: a
//!   failing report and a failed invocation are forwarded, a healthy report and another
//!   function's records are not; the AZ alarm's state changes are forwarded;
//! - stackset.yaml's per-AZ alarm query against the EMF lines the probe really writes;
//! - the real `egress-probe-manager` binary under the Runtime API emulator against moto: a
//!   scheduled event and a CloudTrail CreateSubnet event each run a pass that reconciles,
//!   with the probe zip found where scripts/package-manager.sh puts it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod installer_common;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use egress_probe_e2e::moto::{MotoServer, moto_server_path};
use egress_probe_e2e::runtime_api::{
    InvokeOutcome, LambdaEnvironment, RuntimeApi, RuntimeApiConfig, workspace_binary,
};
use egress_probe_installer::artifact::Arch;
use hyper::body::Bytes;
use installer_common::*;
use serde_json::{Value, json};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const PROBE: &str = "egress-probe-subnet-0fleet";
const ALARM_ARN: &str = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:stack-AzEgressAlarm-X";

/// stackset.yaml as JSON, as CloudFormation would resolve it in ACCOUNT/REGION: `!Sub`
/// with the pseudo parameters, `!GetAtt AzEgressAlarm.Arn` → ALARM_ARN, other tags →
/// their name (the tests read only patterns and the alarm).
fn stackset() -> Value {
    let path = egress_probe_e2e::moto::workspace_root().join("stackset.yaml");
    let yaml: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    fn resolve(v: &serde_norway::Value) -> Value {
        use serde_norway::Value as Y;
        match v {
            Y::Null => Value::Null,
            Y::Bool(b) => json!(b),
            Y::Number(n) => serde_json::to_value(n).unwrap(),
            Y::String(s) => json!(s),
            Y::Sequence(s) => Value::Array(s.iter().map(resolve).collect()),
            Y::Mapping(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.as_str().unwrap().to_string(), resolve(v)))
                    .collect(),
            ),
            Y::Tagged(t) => {
                let tag = t.tag.to_string();
                let inner = resolve(&t.value);
                match (tag.trim_start_matches('!'), inner.as_str()) {
                    ("Sub", Some(s)) => json!(
                        s.replace("${AWS::Partition}", "aws")
                            .replace("${AWS::Region}", REGION)
                            .replace("${AWS::AccountId}", ACCOUNT)
                            .replace("${MetricNamespace}", "EgressProbe")
                    ),
                    ("GetAtt", Some("AzEgressAlarm.Arn")) => json!(ALARM_ARN),
                    (other, _) => json!(format!("{other}:{inner}")),
                }
            }
        }
    }
    resolve(&yaml)
}

fn pattern(t: &Value, rule: &str) -> Value {
    let r = &t["Resources"][rule];
    assert_eq!(r["Type"], "AWS::Events::Rule", "{rule}");
    r["Properties"]["EventPattern"].clone()
}

/// moto's EventBridge pattern matcher (the one its PutEvents routing uses): whether each
/// (pattern, event) matches. Patterns are validated by moto's parser first.
fn matches(cases: &[(&Value, &Value)]) -> Vec<bool> {
    let python = moto_server_path()
        .unwrap()
        .parent()
        .unwrap()
        .join("python3");
    let script = r#"
import json, sys
from moto.events.models import EventPattern
out = []
for pattern, event in json.load(sys.stdin):
    out.append(EventPattern.load(json.dumps(pattern)).matches_event(event))
print(json.dumps(out))
"#;
    let input = serde_json::to_string(&cases).unwrap();
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The EventBridge event Lambda puts on a destination bus for an asynchronous invocation
/// (AWS Lambda Developer Guide, "Capturing records of asynchronous invocations"): source
/// `lambda`, the invocation record as `detail`, the function's answer as `responsePayload`.
fn destination_event(function: &str, request: &Value, outcome: &InvokeOutcome) -> Value {
    let arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}:$LATEST");
    let (kind, condition, response_context, payload) = match outcome {
        InvokeOutcome::Response(b) => (
            "Success",
            "Success",
            json!({"statusCode": 200, "executedVersion": "$LATEST"}),
            serde_json::from_slice::<Value>(b).unwrap(),
        ),
        InvokeOutcome::Error {
            error_type,
            message,
        } => (
            "Failure",
            "RetriesExhausted",
            json!({"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}),
            json!({"errorType": error_type, "errorMessage": message}),
        ),
        InvokeOutcome::Timeout { .. } => panic!("no timeout expected"),
    };
    json!({
        "version": "0",
        "id": "4c3a2b1d-0000-4000-8000-000000000000",
        "detail-type": format!("Lambda Function Invocation Result - {kind}"),
        "source": "lambda",
        "account": ACCOUNT,
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"), arn],
        "detail": {
            "version": "1.0",
            "timestamp": "2026-01-01T00:00:00.000Z",
            "requestContext": {"requestId": "0f5a5d2e-0000-4000-8000-000000000000",
                               "functionArn": arn, "condition": condition,
                               "approximateInvokeCount": 1},
            "requestPayload": request,
            "responseContext": response_context,
            "responsePayload": payload
        }
    })
}

fn alarm_event(detail_type: &str, alarm_arn: &str, az: &str) -> Value {
    json!({
        "version": "0", "id": "7b1c0000-0000-4000-8000-000000000000",
        "detail-type": detail_type, "source": "aws.cloudwatch", "account": ACCOUNT,
        "time": "2026-01-01T00:00:00Z", "region": REGION, "resources": [alarm_arn],
        "detail": {"alarmName": "stack-AzEgressAlarm-X",
                   "alarmContributor": {"id": "c1", "attributes": {"AvailabilityZone": az}},
                   "state": {"value": "ALARM"}}
    })
}

/// A listener that accepts and holds connections (TCP checks to it succeed).
async fn open_port() -> (u16, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    (port, task)
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn lambda_env(api: &RuntimeApi, function: &str) -> Vec<(String, String)> {
    LambdaEnvironment {
        function_name: function.into(),
        function_version: "$LATEST".into(),
        memory_mb: 256,
        region: REGION.into(),
        runtime_api: api.host_port(),
        metadata: None,
    }
    .vars()
}

/// Collects a child's stdout lines.
fn collect_stdout(child: &mut Child) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let out = child.stdout.take().unwrap();
    let sink = lines.clone();
    tokio::spawn(async move {
        let mut reader = tokio::io::BufReader::new(out).lines();
        while let Ok(Some(l)) = reader.next_line().await {
            sink.lock().unwrap().push(l);
        }
    });
    lines
}

#[tokio::test]
async fn failed_reports_and_failed_invocations_reach_the_central_bus_healthy_ones_do_not() {
    let (open, _listener) = open_port().await;
    let closed = closed_port();
    let api = RuntimeApi::start(
        "127.0.0.1:0".parse().unwrap(),
        RuntimeApiConfig::new(format!(
            "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PROBE}"
        )),
    )
    .await
    .unwrap();
    let mut probe = Command::new(workspace_binary("egress-probe-lambda").unwrap())
        .env_clear()
        .envs(lambda_env(&api, PROBE))
        .env("EGRESS_PROBE_DIAGNOSE", "never")
        .env("EGRESS_PROBE_SUBNET_ID", "subnet-0fleet")
        .env("EGRESS_PROBE_AZ", "us-east-1b")
        .env("EGRESS_PROBE_HTTPS_TIMEOUT_MS", "1500")
        .env(
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", closed_port()),
        )
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = collect_stdout(&mut probe);

    // Three invocations as the schedule would make them: a passing check, a failing one,
    // and one the probe cannot run (a bad event: an invocation error, no report).
    let healthy_req = json!({"targets": [format!("tcp://127.0.0.1:{open}")]});
    // A TLS handshake that gets no answer: egress broken (EgressFailure = 1), and a refused
    // connection (an answer: DestinationFailure).
    let broken_req = json!({"targets": [format!("https://127.0.0.1:{open}/"),
                                        format!("tcp://127.0.0.1:{closed}")]});
    let bad_req = json!({"bogus": 1});
    let mut outcomes = Vec::new();
    for req in [&healthy_req, &broken_req, &bad_req] {
        outcomes.push(
            api.invoke(Bytes::from(req.to_string()), Duration::from_secs(20))
                .await,
        );
    }
    let report = |o: &InvokeOutcome| -> Value {
        match o {
            InvokeOutcome::Response(b) => serde_json::from_slice(b).unwrap(),
            other => panic!("expected a report, got {other:?}"),
        }
    };
    assert_eq!(report(&outcomes[0])["verdict"], "healthy", "{outcomes:?}");
    assert_ne!(report(&outcomes[1])["verdict"], "healthy", "{outcomes:?}");
    assert!(
        matches!(&outcomes[2], InvokeOutcome::Error { .. }),
        "{:?}",
        outcomes[2]
    );

    let healthy = destination_event(PROBE, &healthy_req, &outcomes[0]);
    let broken = destination_event(PROBE, &broken_req, &outcomes[1]);
    let failed = destination_event(PROBE, &bad_req, &outcomes[2]);
    // Another function's records on the same bus.
    let other_broken = destination_event("app-worker", &broken_req, &outcomes[1]);
    let other_failed = destination_event("app-worker", &bad_req, &outcomes[2]);

    let t = stackset();
    let reports = pattern(&t, "ForwardFailedReportsRule");
    let errors = pattern(&t, "ForwardProbeErrorsRule");
    let alarms = pattern(&t, "ForwardAlarmRule");
    let contributor = alarm_event(
        "CloudWatch Alarm Contributor State Change",
        ALARM_ARN,
        "us-east-1b",
    );
    let whole = alarm_event("CloudWatch Alarm State Change", ALARM_ARN, "us-east-1b");
    let foreign_alarm = alarm_event(
        "CloudWatch Alarm Contributor State Change",
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:someone-elses",
        "us-east-1b",
    );
    let cases: Vec<(&Value, &Value, bool, &str)> = vec![
        (&reports, &broken, true, "failing report"),
        (&reports, &healthy, false, "healthy report"),
        (&reports, &failed, false, "failed invocation (not a report)"),
        (&reports, &other_broken, false, "another function"),
        (&errors, &failed, true, "failed invocation"),
        (
            &errors,
            &broken,
            false,
            "a report is not an invocation error",
        ),
        (&errors, &healthy, false, "healthy report"),
        (&errors, &other_failed, false, "another function's error"),
        (
            &alarms,
            &contributor,
            true,
            "an AZ's contributor state change",
        ),
        (&alarms, &whole, true, "the alarm's state change"),
        (&alarms, &foreign_alarm, false, "another alarm"),
        (&alarms, &broken, false, "a report is not an alarm"),
    ];
    let got = matches(
        &cases
            .iter()
            .map(|(p, e, _, _)| (*p, *e))
            .collect::<Vec<_>>(),
    );
    for ((_, _, want, what), got) in cases.iter().zip(&got) {
        assert_eq!(got, want, "{what}");
    }

    // The per-AZ alarm reads the metric and dimension set the probe writes.
    let alarm = &t["Resources"]["AzEgressAlarm"]["Properties"];
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(alarm["Threshold"], 0);
    let query = alarm["Metrics"][0]["Expression"].as_str().unwrap();
    let (select, rest) = query.split_once(" FROM SCHEMA(").unwrap();
    let (schema, group) = rest.split_once(")").unwrap();
    let metric = select
        .trim_start_matches("SELECT SUM(")
        .trim_end_matches(')');
    let mut schema = schema.split(',').map(|s| s.trim().trim_matches('"'));
    let namespace = schema.next().unwrap();
    let dims: Vec<&str> = schema.collect();
    assert_eq!(group.trim(), "GROUP BY AvailabilityZone", "{query}");
    assert_eq!(dims, ["AvailabilityZone"], "{query}");
    // The EMF lines of the failing invocation (after its report line).
    let waited = std::time::Instant::now();
    let emf: Vec<Value> = loop {
        let lines: Vec<Value> = stdout
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("_aws").is_some())
            .collect();
        if lines.iter().any(|l| l[metric] == 1) || waited.elapsed() > Duration::from_secs(5) {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let failing = emf
        .iter()
        .find(|l| l[metric] == 1)
        .unwrap_or_else(|| panic!("no EMF line with {metric} = 1: {emf:#?}"));
    let spec = &failing["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(spec["Namespace"], namespace);
    assert!(
        spec["Dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == &json!(dims)),
        "the alarm's SCHEMA must be one of the probe's dimension sets: {spec}"
    );
    assert!(
        spec["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["Name"] == metric),
        "{spec}"
    );
    // Each AZ is its own time series: the contributor carries the probe's AZ.
    assert_eq!(failing["AvailabilityZone"], "us-east-1b", "{failing}");
}

#[tokio::test]
async fn the_manager_binary_reconciles_when_lambda_invokes_it() {
    let server = MotoServer::start().unwrap();
    let config = server.sdk_config().await;
    let topo = build_vpc(&config, 4, &["us-east-1a", "us-east-1b"])
        .await
        .unwrap();
    // The package layout of scripts/package-manager.sh: the probe zip at
    // $LAMBDA_TASK_ROOT/probe/bootstrap.zip (the manager's default).
    let task_root = tempfile::tempdir().unwrap();
    std::fs::create_dir(task_root.path().join("probe")).unwrap();
    write_zip(
        &task_root.path().join("probe"),
        "bootstrap.zip",
        Arch::Arm64,
        "manager-binary",
    );
    let api = RuntimeApi::start(
        "127.0.0.1:0".parse().unwrap(),
        RuntimeApiConfig::new(format!(
            "arn:aws:lambda:{REGION}:{ACCOUNT}:function:egress-probe-manager"
        )),
    )
    .await
    .unwrap();
    let bus = format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default");
    let mut manager = Command::new(workspace_binary("egress-probe-manager").unwrap())
        .env_clear()
        .envs(lambda_env(&api, "egress-probe-manager"))
        .envs(server.env())
        .env("LAMBDA_TASK_ROOT", task_root.path())
        .env("EGRESS_PROBE_MANAGER_SELECT", "tag:tier=app")
        .env("EGRESS_PROBE_MANAGER_SCHEDULE", "rate(5 minutes)")
        .env("EGRESS_PROBE_MANAGER_REPORT_BUS", &bus)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = collect_stdout(&mut manager);
    let pass = |o: InvokeOutcome| -> Value {
        match o {
            InvokeOutcome::Response(b) => serde_json::from_slice(&b).unwrap(),
            other => panic!("expected a pass, got {other:?}"),
        }
    };
    let limit = Duration::from_secs(120);

    // The schedule: one probe per tagged subnet.
    let scheduled = json!({"version": "0", "detail-type": "Scheduled Event",
                           "source": "aws.events", "account": ACCOUNT, "region": REGION,
                           "resources": [], "detail": {}});
    let p = pass(api.invoke(Bytes::from(scheduled.to_string()), limit).await);
    assert_eq!(p["trigger"]["kind"], "schedule", "{p:#}");
    assert_eq!(
        (&p["subnets"], &p["created"], &p["failed"]),
        (&json!(2), &json!(2), &json!(0)),
        "{p:#}"
    );
    let mut want: Vec<String> = topo
        .subnets
        .iter()
        .step_by(2)
        .map(|(s, _)| format!("egress-probe-{s}"))
        .collect();
    want.sort();
    let probes = |names: Vec<String>| -> Vec<String> {
        names
            .into_iter()
            .filter(|n| n.starts_with("egress-probe-subnet-"))
            .collect()
    };
    assert_eq!(probes(function_names(&config).await), want);

    // CloudTrail's CreateSubnet through EventBridge: the new tagged subnet gets a probe.
    let new = aws_sdk_ec2::Client::new(&config)
        .create_subnet()
        .vpc_id(&topo.vpc_id)
        .cidr_block("10.0.30.0/24")
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
    let created = json!({"version": "0", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2", "account": ACCOUNT, "region": REGION,
        "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "CreateSubnet",
                   "responseElements": {"subnet": {"subnetId": new_id}}}});
    let p = pass(api.invoke(Bytes::from(created.to_string()), limit).await);
    assert_eq!(p["trigger"]["kind"], "subnet_created", "{p:#}");
    assert_eq!(p["trigger"]["subnet_id"], new_id.as_str(), "{p:#}");
    assert_eq!(
        (&p["created"], &p["unchanged"], &p["failed"]),
        (&json!(1), &json!(2), &json!(0)),
        "{p:#}"
    );
    assert!(probes(function_names(&config).await).contains(&format!("egress-probe-{new_id}")));
    let lambda = aws_sdk_lambda::Client::new(&config);
    let eic = lambda
        .get_function_event_invoke_config()
        .function_name(format!("egress-probe-{new_id}"))
        .send()
        .await
        .unwrap();
    let d = eic.destination_config().unwrap();
    assert_eq!(
        d.on_success().and_then(|s| s.destination()),
        Some(bus.as_str())
    );
    assert_eq!(
        d.on_failure().and_then(|s| s.destination()),
        Some(bus.as_str())
    );

    // Converged: the next scheduled pass changes nothing.
    let p = pass(api.invoke(Bytes::from(scheduled.to_string()), limit).await);
    assert_eq!(p["changes"], json!([]), "{p:#}");
    assert_eq!((&p["unchanged"], &p["failed"]), (&json!(3), &json!(0)));

    // Each pass is also one JSON log line (CloudWatch Logs).
    let waited = std::time::Instant::now();
    while stdout.lock().unwrap().len() < 3 && waited.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let logged: Vec<Value> = stdout
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("egress_probe_manager").is_some())
        .collect();
    assert_eq!(logged.len(), 3, "{logged:#?}");
    assert_eq!(api.stats().errors, 0);
}
