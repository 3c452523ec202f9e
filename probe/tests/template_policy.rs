//! template.yaml and the cargo-lambda metadata stay in step with the code:
//! - the probe role's IAM actions are exactly `permissions::DIAGNOSIS_ACTIONS` ∪
//!   `permissions::SELF_ACTIONS` (both directions), the describes on `*` (EC2 Describe*
//!   has no resource-level permissions), the self actions on this function only;
//! - the function's environment names only variables the probe reads;
//! - the dashboard body is valid JSON over the probe's EMF metric names and dimensions;
//! - `cargo lambda deploy` metadata gives the same memory, timeout and runtime.

// A test that cannot read or parse the repository's own files should fail loudly.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use egress_probe::model::DiagnoseMode;
use egress_probe::permissions::{
    DIAGNOSIS_ACTIONS, NETWORK_ACTIONS, NETWORK_ROLE_ACTIONS, SELF_ACTIONS,
};
use egress_probe::settings::{self, env};
use serde_norway::Value;

/// Environment variables the probe reads: the one list of the probe/installer contract
/// (`egress_probe::settings::env`).
const PROBE_ENV_VARS: &[&str] = env::ALL;

/// EMF metric names the probe writes (report contract).
const EMF_METRICS: &[&str] = egress_probe::report::metrics::ALL;

fn workspace_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
}

fn template() -> Value {
    let path = workspace_file("template.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_norway::from_str(&text).unwrap()
}

fn resource<'a>(template: &'a Value, logical_id: &str) -> &'a Value {
    template
        .get("Resources")
        .and_then(|r| r.get(logical_id))
        .unwrap_or_else(|| panic!("template.yaml has no resource {logical_id}"))
}

fn resources_of_type<'a>(template: &'a Value, ty: &str) -> Vec<(String, &'a Value)> {
    let Some(Value::Mapping(resources)) = template.get("Resources") else {
        panic!("template.yaml has no Resources mapping");
    };
    resources
        .iter()
        .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(ty))
        .map(|(k, r)| (k.as_str().unwrap().to_owned(), r))
        .collect()
}

/// A scalar or list of literal strings (Action / Resource); a CloudFormation tag there
/// (e.g. `!If`) would hide what is granted, so it is rejected rather than guessed at.
fn literal_strings(v: &Value, what: &str) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items
            .iter()
            .flat_map(|i| literal_strings(i, what))
            .collect(),
        Value::Tagged(t) if t.tag == "Sub" => match &t.value {
            Value::String(s) => vec![s.clone()],
            other => panic!("{what}: unsupported !Sub form {other:?}"),
        },
        other => panic!("{what} must be literal strings (or !Sub strings), found {other:?}"),
    }
}

struct Statement {
    actions: Vec<String>,
    resources: Vec<String>,
    /// The condition of a policy given as `!If [Condition, policy, !Ref AWS::NoValue]`.
    condition: Option<String>,
}

/// A policy entry: a plain policy, or `!If [Condition, policy, !Ref AWS::NoValue]` (the
/// only conditional form accepted: the policy is there or not at all).
fn unconditional(policy: &Value) -> (Option<String>, &Value) {
    match policy {
        Value::Tagged(t) if t.tag == "If" => {
            let Value::Sequence(parts) = &t.value else {
                panic!("!If policy must be a list: {policy:?}");
            };
            assert_eq!(parts.len(), 3, "!If policy needs 3 parts: {policy:?}");
            let condition = parts[0].as_str().expect("!If condition name").to_owned();
            match &parts[2] {
                Value::Tagged(r) if r.tag == "Ref" && r.value.as_str() == Some("AWS::NoValue") => {}
                other => panic!(
                    "the else branch of a conditional policy must be AWS::NoValue, found {other:?}"
                ),
            }
            (Some(condition), &parts[1])
        }
        plain => (None, plain),
    }
}

fn policy_statements(role: &Value) -> Vec<Statement> {
    let Some(Value::Sequence(policies)) = role.get("Properties").and_then(|p| p.get("Policies"))
    else {
        panic!("the probe role has no inline Policies");
    };
    let mut out = Vec::new();
    for policy in policies {
        let (condition, policy) = unconditional(policy);
        let statements = policy
            .get("PolicyDocument")
            .and_then(|d| d.get("Statement"))
            .and_then(Value::as_sequence)
            .expect("policy without a Statement list");
        for st in statements {
            assert_eq!(
                st.get("Effect").and_then(Value::as_str),
                Some("Allow"),
                "unexpected statement {st:?}"
            );
            assert!(
                st.get("NotAction").is_none() && st.get("NotResource").is_none(),
                "NotAction/NotResource grant more than they name: {st:?}"
            );
            out.push(Statement {
                actions: literal_strings(st.get("Action").expect("Action"), "Action"),
                resources: literal_strings(st.get("Resource").expect("Resource"), "Resource"),
                condition: condition.clone(),
            });
        }
    }
    out
}

fn set_diff_message(template: &BTreeSet<String>, code: &BTreeSet<String>) -> String {
    let only_template: Vec<_> = template.difference(code).collect();
    let only_code: Vec<_> = code.difference(template).collect();
    format!(
        "template.yaml policy and probe/src/permissions.rs differ\n  \
         in template.yaml only (remove, or add to permissions.rs): {only_template:?}\n  \
         in permissions.rs only (add to ProbeRole in template.yaml): {only_code:?}"
    )
}

#[test]
fn role_actions_equal_the_code_lists() {
    let t = template();
    let roles = resources_of_type(&t, "AWS::IAM::Role");
    assert_eq!(
        roles.len(),
        1,
        "expected exactly one IAM role, found {roles:?}"
    );
    let role = resource(&t, "ProbeRole");

    let granted: BTreeSet<String> = policy_statements(role)
        .into_iter()
        .flat_map(|s| s.actions)
        .collect();
    let code: BTreeSet<String> = DIAGNOSIS_ACTIONS
        .iter()
        .chain(SELF_ACTIONS)
        .chain(NETWORK_ROLE_ACTIONS)
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(granted, code, "{}", set_diff_message(&granted, &code));
}

/// The read-only actions the reader's calls use (issue 10 added the transit gateway
/// route search and the Network Firewall reads to EC2's Describe/Get).
fn is_read_only(action: &str) -> bool {
    action.starts_with("ec2:Describe")
        || action.starts_with("ec2:Get")
        || action == "ec2:SearchTransitGatewayRoutes"
        || action.starts_with("network-firewall:Describe")
        || action.starts_with("network-firewall:List")
}

#[test]
fn network_role_is_assumed_only_when_given_and_only_that_role() {
    let t = template();
    let statements = policy_statements(resource(&t, "ProbeRole"));
    let assume: Vec<&Statement> = statements
        .iter()
        .filter(|st| {
            st.actions
                .iter()
                .any(|a| NETWORK_ROLE_ACTIONS.contains(&a.as_str()))
        })
        .collect();
    assert_eq!(assume.len(), 1, "one statement assumes the network role");
    let st = assume[0];
    assert_eq!(st.actions, NETWORK_ROLE_ACTIONS);
    assert_eq!(st.resources, vec!["${NetworkRoleArn}".to_owned()]);
    assert_eq!(st.condition.as_deref(), Some("HasNetworkRole"));
    // Every other statement is unconditional.
    assert!(
        statements
            .iter()
            .filter(|s| !std::ptr::eq(*s, st))
            .all(|s| s.condition.is_none())
    );
}

#[test]
fn describes_on_star_and_self_actions_on_this_function_only() {
    let t = template();
    let statements = policy_statements(resource(&t, "ProbeRole"));
    let function_name = resource(&t, "ProbeFunction")
        .get("Properties")
        .and_then(|p| p.get("FunctionName"))
        .map(|v| literal_strings(v, "FunctionName"))
        .expect("ProbeFunction needs a fixed FunctionName for the self-scoped ARN");
    let function_name = &function_name[0];
    let function_arn = format!(
        "arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{function_name}"
    );

    for st in &statements {
        let is_self = st
            .actions
            .iter()
            .any(|a| SELF_ACTIONS.contains(&a.as_str()));
        if is_self {
            // A self action never shares a statement with anything else, and its
            // resources are the function and its qualified versions, nothing wider.
            assert!(
                st.actions
                    .iter()
                    .all(|a| SELF_ACTIONS.contains(&a.as_str())),
                "self actions mixed with others: {:?}",
                st.actions
            );
            let expected: BTreeSet<String> =
                [function_arn.clone(), format!("{function_arn}:*")].into();
            let got: BTreeSet<String> = st.resources.iter().cloned().collect();
            assert_eq!(got, expected, "self actions must be scoped to the function");
        } else if st
            .actions
            .iter()
            .any(|a| NETWORK_ROLE_ACTIONS.contains(&a.as_str()))
        {
            // Checked by network_role_is_assumed_only_when_given_and_only_that_role.
            assert!(!st.resources.iter().any(|r| r == "*"), "AssumeRole on *");
        } else {
            for a in &st.actions {
                assert!(is_read_only(a), "non read-only action {a}");
            }
            assert_eq!(st.resources, vec!["*".to_owned()]);
        }
    }

    let managed = resource(&t, "ProbeRole")
        .get("Properties")
        .and_then(|p| p.get("ManagedPolicyArns"))
        .map(|v| literal_strings(v, "ManagedPolicyArns"))
        .expect("ManagedPolicyArns");
    assert_eq!(
        managed,
        vec![
            "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
                .to_owned()
        ]
    );
}

#[test]
fn function_uses_the_role_and_no_sam_policies() {
    let t = template();
    let props = resource(&t, "ProbeFunction")
        .get("Properties")
        .expect("Properties");
    assert!(
        props.get("Policies").is_none(),
        "SAM Policies would add permissions outside ProbeRole"
    );
    let Some(Value::Tagged(role)) = props.get("Role") else {
        panic!("ProbeFunction.Role must be !GetAtt ProbeRole.Arn");
    };
    assert_eq!(role.tag, "GetAtt");
    assert_eq!(role.value.as_str(), Some("ProbeRole.Arn"));
}

#[test]
fn environment_names_only_variables_the_probe_reads() {
    let t = template();
    let Some(Value::Mapping(vars)) = resource(&t, "ProbeFunction")
        .get("Properties")
        .and_then(|p| p.get("Environment"))
        .and_then(|e| e.get("Variables"))
    else {
        panic!("ProbeFunction has no Environment.Variables");
    };
    let names: BTreeSet<&str> = vars.keys().map(|k| k.as_str().unwrap()).collect();
    let known: BTreeSet<&str> = PROBE_ENV_VARS.iter().copied().collect();
    let unknown: Vec<_> = names.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "unknown env vars in template: {unknown:?}"
    );
    // The two settings every deployment must pin are always present.
    assert!(names.contains(env::METRIC_NAMESPACE));
    assert!(names.contains(env::DIAGNOSE));
}

#[test]
fn parameters_follow_the_settings_contract() {
    let t = template();
    let params = t.get("Parameters").expect("Parameters");
    // Diagnose: exactly the canonical spellings, and a default the probe accepts.
    let allowed = literal_strings(&params["Diagnose"]["AllowedValues"], "AllowedValues");
    let canonical: Vec<String> = DiagnoseMode::ALL
        .iter()
        .map(|m| m.as_str().to_owned())
        .collect();
    assert_eq!(allowed, canonical);
    let default = params["Diagnose"]["Default"].as_str().unwrap();
    assert_eq!(
        DiagnoseMode::parse(default).unwrap(),
        settings::DEFAULT_DIAGNOSE
    );
    // MetricNamespace: the probe's default, accepted by the probe's own check.
    let ns = params["MetricNamespace"]["Default"].as_str().unwrap();
    assert_eq!(ns, settings::DEFAULT_METRIC_NAMESPACE);
    assert_eq!(settings::parse_metric_namespace(ns).unwrap(), ns);
    // Targets: empty = the probe's built-in defaults; a list given here is read by the
    // same parser as the function's environment.
    assert_eq!(params["Targets"]["Default"].as_str(), Some(""));
    assert!(settings::parse_target_list("").unwrap().is_empty());
}

/// Replace every `${...}` of a !Sub body with a plain word so the JSON can be parsed.
fn substitute_placeholders(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .unwrap_or_else(|| panic!("unterminated ${{ in dashboard body"));
        out.push_str("sub");
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn dashboard_body_is_json_over_the_emf_metrics() {
    let t = template();
    let Some(Value::Tagged(sub)) = resource(&t, "Dashboard")
        .get("Properties")
        .and_then(|p| p.get("DashboardBody"))
    else {
        panic!("DashboardBody must be a !Sub");
    };
    assert_eq!(sub.tag, "Sub");
    let body = match &sub.value {
        Value::String(s) => s.as_str(),
        Value::Sequence(parts) => parts[0].as_str().expect("!Sub body"),
        other => panic!("unexpected !Sub form {other:?}"),
    };
    let json: serde_json::Value = serde_json::from_str(&substitute_placeholders(body))
        .unwrap_or_else(|e| panic!("dashboard body is not valid JSON: {e}"));
    let widgets = json["widgets"].as_array().expect("widgets");
    assert!(
        widgets.iter().any(|w| w["type"] == "log"),
        "no Logs Insights widget"
    );
    for metric in EMF_METRICS {
        assert!(
            body.contains(&format!("MetricName=\\\"{metric}\\\"")),
            "dashboard does not show {metric}"
        );
    }
    // The namespace is quoted in SEARCH so names with `/`, `.` or `-` still match.
    assert!(body.contains(r#"{\"${MetricNamespace}\",AvailabilityZone}"#));
    assert!(body.contains(r#"{\"${MetricNamespace}\",AvailabilityZone,SubnetId}"#));
    for p in ["p50", "p90"] {
        assert!(body.contains(&format!("'{p}'")), "no {p} latency series");
    }
}

#[test]
fn cargo_lambda_metadata_matches_the_template() {
    let t = template();
    let props = resource(&t, "ProbeFunction")
        .get("Properties")
        .expect("Properties");
    let manifest = std::fs::read_to_string(workspace_file("probe/Cargo.toml")).unwrap();
    let doc: toml_edit::DocumentMut = manifest.parse().unwrap();
    let deploy = &doc["package"]["metadata"]["lambda"]["deploy"];

    assert_eq!(
        deploy["memory"].as_integer(),
        props.get("MemorySize").and_then(Value::as_i64)
    );
    assert_eq!(
        deploy["timeout"].as_integer(),
        props.get("Timeout").and_then(Value::as_i64)
    );
    assert_eq!(
        deploy["runtime"].as_str(),
        props.get("Runtime").and_then(Value::as_str)
    );
    let env = deploy["env"].as_inline_table().expect("deploy.env table");
    let known: BTreeSet<&str> = PROBE_ENV_VARS.iter().copied().collect();
    for (k, _) in env.iter() {
        assert!(
            known.contains(k),
            "unknown env var {k} in cargo-lambda metadata"
        );
    }
    // Same defaults as the template's parameters.
    let params = t.get("Parameters").expect("Parameters");
    assert_eq!(
        env.get("EGRESS_PROBE_METRIC_NAMESPACE")
            .and_then(|v| v.as_str()),
        params["MetricNamespace"]["Default"].as_str()
    );
    assert_eq!(
        env.get("EGRESS_PROBE_DIAGNOSE").and_then(|v| v.as_str()),
        params["Diagnose"]["Default"].as_str()
    );
}

#[test]
fn diff_message_names_both_directions() {
    // The failure message is the tool people fix drift with: check that it says which
    // side has which extra action.
    let template: BTreeSet<String> = ["ec2:DescribeVpcs".into(), "ec2:DeleteVpc".into()].into();
    let code: BTreeSet<String> = ["ec2:DescribeVpcs".into(), "ec2:DescribeSubnets".into()].into();
    let msg = set_diff_message(&template, &code);
    assert!(
        msg.contains(
            "in template.yaml only (remove, or add to permissions.rs): [\"ec2:DeleteVpc\"]"
        )
    );
    assert!(msg.contains(
        "in permissions.rs only (add to ProbeRole in template.yaml): [\"ec2:DescribeSubnets\"]"
    ));
}

#[test]
fn docs_role_policy_for_cargo_lambda_lists_the_same_actions() {
    // docs/deploy.md gives the policy for the `cargo lambda deploy` path; it is the first
    // ```json block after the <!-- probe-role-policy --> marker.
    let doc = std::fs::read_to_string(workspace_file("docs/deploy.md")).unwrap();
    let after_marker = doc
        .split_once("<!-- probe-role-policy -->")
        .expect("docs/deploy.md lost its probe-role-policy marker")
        .1;
    let block = after_marker
        .split_once("```json")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("no ```json block after the marker")
        .0;
    let policy: serde_json::Value = serde_json::from_str(block).unwrap();
    let mut granted = BTreeSet::new();
    for st in policy["Statement"].as_array().expect("Statement list") {
        assert_eq!(st["Effect"], "Allow");
        let actions = st["Action"].as_array().expect("Action list");
        let is_self = actions
            .iter()
            .any(|a| SELF_ACTIONS.contains(&a.as_str().unwrap()));
        for r in st["Resource"].as_array().into_iter().flatten() {
            // Self actions are scoped to the function, never "*".
            assert!(
                !is_self
                    || r.as_str()
                        .unwrap()
                        .contains(":function:egress-probe-lambda")
            );
        }
        granted.extend(actions.iter().map(|a| a.as_str().unwrap().to_owned()));
    }
    let code: BTreeSet<String> = DIAGNOSIS_ACTIONS
        .iter()
        .chain(SELF_ACTIONS)
        .chain(NETWORK_ROLE_ACTIONS)
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(granted, code, "{}", set_diff_message(&granted, &code));
}

/// The Metrics Insights query of an alarm's single metric.
fn alarm_query(alarm: &Value) -> String {
    let metrics = alarm["Properties"]["Metrics"].as_sequence().unwrap();
    assert_eq!(metrics.len(), 1, "one query per alarm");
    let expression = &metrics[0]["Expression"];
    let Value::Tagged(t) = expression else {
        panic!("expected !Sub, got {expression:?}");
    };
    t.value.as_sequence().unwrap()[0]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_egress_alarm_means_egress_from_this_subnet_and_nothing_else() {
    let t = template();
    let alarms = resources_of_type(&t, "AWS::CloudWatch::Alarm");
    // No alarm pages on CheckFailure: it also counts destinations that fail and families
    // the subnet does not have (issue 12.1).
    for (id, alarm) in &alarms {
        let text = serde_norway::to_string(alarm).unwrap();
        assert!(
            !text.contains("CheckFailure"),
            "{id} alarms on CheckFailure"
        );
    }
    let egress = resource(&t, "EgressFailureAlarm");
    let query = alarm_query(egress);
    assert!(
        query.starts_with("SELECT SUM(EgressFailure) FROM SCHEMA("),
        "{query}"
    );
    assert!(query.contains("WHERE SubnetId = '${Subnets}'"), "{query}");
    let props = &egress["Properties"];
    assert_eq!(props["ComparisonOperator"], "GreaterThanOrEqualToThreshold");
    assert_eq!(props["Threshold"].as_u64(), Some(1));
    assert_eq!(props["TreatMissingData"], "notBreaching");
}

#[test]
fn a_probe_that_stops_reporting_raises_the_heartbeat_alarm() {
    let t = template();
    let heartbeat = resource(&t, "HeartbeatAlarm");
    assert_eq!(heartbeat["Condition"], "HasSchedule");
    let query = alarm_query(heartbeat);
    assert!(
        query.starts_with("SELECT SUM(Heartbeat) FROM SCHEMA("),
        "{query}"
    );
    assert!(query.contains("WHERE SubnetId = '${Subnets}'"), "{query}");
    let props = &heartbeat["Properties"];
    // No data at all (function deleted, schedule disabled) must fire it (issue 12.2).
    assert_eq!(props["TreatMissingData"], "breaching");
    assert_eq!(props["ComparisonOperator"], "LessThanThreshold");
    assert_eq!(props["Threshold"].as_u64(), Some(1));
    for action in ["AlarmActions", "OKActions"] {
        assert_eq!(
            props[action],
            resource(&t, "EgressFailureAlarm")["Properties"][action]
        );
    }
}

/// The first ```json block after `marker` in docs/deploy.md.
fn docs_json_after(marker: &str) -> serde_json::Value {
    let doc = std::fs::read_to_string(workspace_file("docs/deploy.md")).unwrap();
    let after_marker = doc
        .split_once(marker)
        .unwrap_or_else(|| panic!("docs/deploy.md lost its {marker} marker"))
        .1;
    let block = after_marker
        .split_once("```json")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("no ```json block after the marker")
        .0;
    serde_json::from_str(block).unwrap()
}

#[test]
fn docs_network_role_policy_and_trust() {
    // R45: the role in the network account reads exactly NETWORK_ACTIONS, on "*", and
    // trusts the workload account's probe role (or installer user) to assume it.
    let policy = docs_json_after("<!-- network-role-policy -->");
    let mut granted = BTreeSet::new();
    for st in policy["Statement"].as_array().expect("Statement list") {
        assert_eq!(st["Effect"], "Allow");
        assert_eq!(st["Resource"], "*");
        for a in st["Action"].as_array().expect("Action list") {
            let a = a.as_str().unwrap();
            assert!(is_read_only(a), "non read-only action {a}");
            granted.insert(a.to_owned());
        }
    }
    let code: BTreeSet<String> = NETWORK_ACTIONS.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(granted, code, "{}", set_diff_message(&granted, &code));

    let trust = docs_json_after("<!-- network-role-trust -->");
    let st = &trust["Statement"][0];
    assert_eq!(st["Effect"], "Allow");
    assert_eq!(st["Action"], "sts:AssumeRole");
    assert!(
        st["Principal"]["AWS"]
            .as_str()
            .is_some_and(|p| p.starts_with("arn:aws:iam::WORKLOAD_ACCOUNT_ID:")),
        "trust names the workload account's principal: {st}"
    );
}
