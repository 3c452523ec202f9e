//! Install plans: the desired state of each probe (function, schedule), compared with what
//! exists, gives the changes to make. Pure: no SDK calls, so every decision is unit-tested.

use crate::artifact::Arch;
use egress_probe::model::{DiagnoseMode, Target};
use egress_probe::settings::ProbeEnvironment;
use serde::Serialize;
use std::collections::BTreeMap;

/// Tag on everything egress-probe creates; nothing without it is ever changed or deleted.
pub const MANAGED_TAG: &str = "egress-probe:managed";
/// Tag naming the subnet a probe function serves.
pub const SUBNET_TAG: &str = "egress-probe:subnet";
/// Name of the dedicated security group (one per VPC).
pub const SG_NAME: &str = "egress-probe";
/// Prefix of every function and rule name.
pub const PREFIX: &str = "egress-probe-";
/// EventBridge target ID of the probe function on its rule.
pub const RULE_TARGET_ID: &str = "egress-probe";
/// Lambda permission statement letting the rule invoke the function.
pub const PERMISSION_SID: &str = "egress-probe-schedule";
/// Inline policy of the created role.
pub const INLINE_POLICY: &str = "egress-probe-diagnosis";
/// Managed policy for the ENI (R2).
pub const VPC_ACCESS_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole";

pub const MEMORY_MB: i32 = 256;
pub const TIMEOUT_S: i32 = 20;
pub const RUNTIME: &str = "provided.al2023";
pub const HANDLER: &str = "bootstrap";

pub fn function_name(subnet_id: &str) -> String {
    format!("{PREFIX}{subnet_id}")
}
pub fn rule_name(subnet_id: &str) -> String {
    format!("{PREFIX}{subnet_id}")
}
pub fn role_name(region: &str) -> String {
    format!("egress-probe-execution-{region}")
}

/// Validates an EventBridge schedule: `rate(N unit)` with the singular unit for 1 and the
/// plural otherwise, or `cron(...)` with exactly six fields (AWS's rules; moto accepts
/// `rate(5 minute)` and 5-field crons, so the check must be ours).
pub fn parse_schedule(s: &str) -> Result<String, String> {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let mut parts = inner.split_whitespace();
        let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "schedule `{s}` must be rate(N unit), e.g. rate(5 minutes)"
            ));
        };
        let n: u32 = n
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("schedule `{s}`: `{n}` must be a positive whole number"))?;
        let singular = ["minute", "hour", "day"];
        let plural = ["minutes", "hours", "days"];
        let ok = if n == 1 {
            singular.contains(&unit)
        } else {
            plural.contains(&unit)
        };
        if !ok {
            let hint = if n == 1 {
                "minute, hour or day"
            } else {
                "minutes, hours or days"
            };
            return Err(format!("schedule `{s}`: with {n} the unit must be {hint}"));
        }
        return Ok(format!("rate({n} {unit})"));
    }
    if let Some(inner) = s.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(format!(
                "schedule `{s}`: cron needs 6 fields (minutes hours day-of-month month day-of-week year), got {}",
                fields.len()
            ));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || ",-*/?LW#".contains(c);
        if let Some(bad) = fields.iter().find(|f| !f.chars().all(allowed)) {
            return Err(format!("schedule `{s}`: cron field `{bad}` is not valid"));
        }
        // AWS: one of day-of-month and day-of-week must be `?`.
        if fields[2] != "?" && fields[4] != "?" {
            return Err(format!(
                "schedule `{s}`: cron needs `?` in day-of-month or day-of-week"
            ));
        }
        return Ok(format!("cron({})", fields.join(" ")));
    }
    Err(format!(
        "schedule `{s}` must be rate(N minutes|hours|days) or cron(6 fields)"
    ))
}

/// The inline policy of the created execution role: the diagnosis' read-only calls, and
/// the self calls scoped to the probe functions.
pub fn inline_policy(region: &str, account: &str) -> serde_json::Value {
    let mut describe: Vec<&str> = egress_probe::permissions::DIAGNOSIS_ACTIONS.to_vec();
    describe.sort_unstable();
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DiagnosisReadOnly",
                "Effect": "Allow",
                "Action": describe,
                "Resource": "*"
            },
            {
                "Sid": "OwnConfiguration",
                "Effect": "Allow",
                "Action": egress_probe::permissions::SELF_ACTIONS,
                "Resource": format!("arn:aws:lambda:{region}:{account}:function:{PREFIX}*")
            }
        ]
    })
}

/// Trust policy: Lambda may assume the role.
pub fn trust_policy() -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    })
}

/// A subnet as the installer needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubnetInfo {
    pub id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone_id: Option<String>,
}

/// Settings shared by every probe of one install (the probe reads them back through
/// `egress_probe::settings::ProbeEnvironment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSettings {
    /// Empty: the probe's built-in defaults.
    pub targets: Vec<Target>,
    pub diagnose: DiagnoseMode,
    pub metric_namespace: String,
    pub schedule: Option<String>,
}

/// What one probe function should look like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionSpec {
    pub name: String,
    pub subnet: SubnetInfo,
    pub security_group_ids: Vec<String>,
    pub role_arn: String,
    pub arch: Arch,
    pub code_sha256: String,
    pub environment: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

impl FunctionSpec {
    pub fn new(
        subnet: SubnetInfo,
        mut security_group_ids: Vec<String>,
        role_arn: String,
        arch: Arch,
        code_sha256: String,
        settings: &ProbeSettings,
    ) -> Self {
        security_group_ids.sort();
        security_group_ids.dedup();
        let env = ProbeEnvironment {
            targets: settings.targets.clone(),
            diagnose: settings.diagnose,
            metric_namespace: settings.metric_namespace.clone(),
            subnet_id: Some(subnet.id.clone()),
            availability_zone: Some(subnet.availability_zone.clone()),
            availability_zone_id: subnet.availability_zone_id.clone(),
            vpc_id: Some(subnet.vpc_id.clone()),
            security_group_ids: Vec::new(),
        }
        .to_env();
        let mut tags = BTreeMap::new();
        tags.insert(MANAGED_TAG.into(), "true".into());
        tags.insert(SUBNET_TAG.into(), subnet.id.clone());
        Self {
            name: function_name(&subnet.id),
            subnet,
            security_group_ids,
            role_arn,
            arch,
            code_sha256,
            environment: env,
            tags,
        }
    }
}

/// A function as read back from Lambda (GetFunction), reduced to what the plan compares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExistingFunction {
    pub name: String,
    pub arn: String,
    pub tags: BTreeMap<String, String>,
    pub role: String,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub environment: BTreeMap<String, String>,
    pub architectures: Vec<String>,
    pub code_sha256: String,
    pub memory_mb: Option<i32>,
    pub timeout_s: Option<i32>,
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub state: Option<String>,
    pub last_update_status: Option<String>,
    pub version: Option<String>,
}

impl ExistingFunction {
    pub fn is_managed(&self) -> bool {
        self.tags.get(MANAGED_TAG).map(String::as_str) == Some("true")
    }
    pub fn subnet_tag(&self) -> Option<&str> {
        self.tags.get(SUBNET_TAG).map(String::as_str)
    }
}

/// What to do with one function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum FunctionChange {
    Create,
    Update {
        /// New code (or a new architecture, which travels with the code).
        code: bool,
        /// Configuration fields that differ.
        configuration: Vec<String>,
        /// Tags to add or correct.
        tags: bool,
    },
    Unchanged,
    /// A function of that name exists without the egress-probe tag: left alone.
    RefuseUnmanaged,
}

impl FunctionChange {
    pub fn changes_something(&self) -> bool {
        matches!(self, FunctionChange::Create | FunctionChange::Update { .. })
    }
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

/// Compares the desired function with what exists.
pub fn diff_function(spec: &FunctionSpec, existing: Option<&ExistingFunction>) -> FunctionChange {
    let Some(ex) = existing else {
        return FunctionChange::Create;
    };
    if !ex.is_managed() {
        return FunctionChange::RefuseUnmanaged;
    }
    let code = ex.code_sha256 != spec.code_sha256
        || ex.architectures != vec![spec.arch.as_lambda().to_string()];
    let mut configuration = Vec::new();
    if ex.role != spec.role_arn {
        configuration.push("role".to_string());
    }
    if ex.subnet_ids != vec![spec.subnet.id.clone()]
        || sorted(&ex.security_group_ids) != spec.security_group_ids
    {
        configuration.push("vpc_config".to_string());
    }
    if ex.environment != spec.environment {
        configuration.push("environment".to_string());
    }
    if ex.memory_mb != Some(MEMORY_MB) {
        configuration.push("memory".to_string());
    }
    if ex.timeout_s != Some(TIMEOUT_S) {
        configuration.push("timeout".to_string());
    }
    if ex.runtime.as_deref() != Some(RUNTIME) {
        configuration.push("runtime".to_string());
    }
    if ex.handler.as_deref() != Some(HANDLER) {
        configuration.push("handler".to_string());
    }
    let tags = spec.tags.iter().any(|(k, v)| ex.tags.get(k) != Some(v));
    if !code && configuration.is_empty() && !tags {
        FunctionChange::Unchanged
    } else {
        FunctionChange::Update {
            code,
            configuration,
            tags,
        }
    }
}

/// An EventBridge rule as read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExistingRule {
    pub name: String,
    pub arn: String,
    pub managed: bool,
    pub schedule: Option<String>,
    pub enabled: bool,
    /// (target ARN, input) of the egress-probe target, when present.
    pub target: Option<(String, Option<String>)>,
}

/// What to do with one probe's schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum ScheduleChange {
    None,
    Create { expression: String },
    Update { expression: String },
    Unchanged,
    Remove,
    RefuseUnmanaged,
}

impl ScheduleChange {
    pub fn changes_something(&self) -> bool {
        matches!(
            self,
            ScheduleChange::Create { .. } | ScheduleChange::Update { .. } | ScheduleChange::Remove
        )
    }
}

/// The rule input: the same shape as an on-demand invocation event.
pub fn rule_input(targets: &[Target]) -> String {
    egress_probe::settings::invocation_event(targets).to_string()
}

fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Compares the wanted schedule with the rule that exists.
pub fn diff_schedule(
    wanted: Option<&str>,
    function_arn: &str,
    input: &str,
    existing: Option<&ExistingRule>,
) -> ScheduleChange {
    match (wanted, existing) {
        (None, None) => ScheduleChange::None,
        (_, Some(rule)) if !rule.managed => ScheduleChange::RefuseUnmanaged,
        (None, Some(_)) => ScheduleChange::Remove,
        (Some(expr), None) => ScheduleChange::Create {
            expression: expr.to_string(),
        },
        (Some(expr), Some(rule)) => {
            let target_ok = match &rule.target {
                Some((arn, Some(i))) => arn == function_arn && same_json(i, input),
                _ => false,
            };
            if rule.schedule.as_deref() == Some(expr) && rule.enabled && target_ok {
                ScheduleChange::Unchanged
            } else {
                ScheduleChange::Update {
                    expression: expr.to_string(),
                }
            }
        }
    }
}

/// The probes to remove with `--prune`: managed functions whose subnet is gone.
pub fn prune_candidates<'a>(
    managed: &'a [ExistingFunction],
    existing_subnets: &std::collections::HashSet<String>,
) -> Vec<&'a ExistingFunction> {
    managed
        .iter()
        .filter(|f| f.is_managed())
        .filter(|f| match f.subnet_tag() {
            Some(subnet) => !existing_subnets.contains(subnet),
            None => false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet() -> SubnetInfo {
        SubnetInfo {
            id: "subnet-a".into(),
            vpc_id: "vpc-1".into(),
            availability_zone: "us-east-1a".into(),
            availability_zone_id: Some("use1-az6".into()),
        }
    }

    fn settings() -> ProbeSettings {
        ProbeSettings {
            targets: vec![],
            diagnose: DiagnoseMode::OnFailure,
            metric_namespace: "EgressProbe".into(),
            schedule: None,
        }
    }

    fn spec() -> FunctionSpec {
        FunctionSpec::new(
            subnet(),
            vec!["sg-2".into(), "sg-1".into()],
            "arn:aws:iam::123456789012:role/r".into(),
            Arch::Arm64,
            "abc=".into(),
            &settings(),
        )
    }

    fn existing_matching(spec: &FunctionSpec) -> ExistingFunction {
        ExistingFunction {
            name: spec.name.clone(),
            arn: format!(
                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                spec.name
            ),
            tags: spec.tags.clone(),
            role: spec.role_arn.clone(),
            subnet_ids: vec![spec.subnet.id.clone()],
            security_group_ids: vec!["sg-1".into(), "sg-2".into()],
            environment: spec.environment.clone(),
            architectures: vec!["arm64".into()],
            code_sha256: spec.code_sha256.clone(),
            memory_mb: Some(MEMORY_MB),
            timeout_s: Some(TIMEOUT_S),
            runtime: Some(RUNTIME.into()),
            handler: Some(HANDLER.into()),
            state: Some("Active".into()),
            last_update_status: Some("Successful".into()),
            version: Some("$LATEST".into()),
        }
    }

    #[test]
    fn schedules_follow_aws_rules() {
        assert_eq!(
            parse_schedule("rate(5 minutes)").unwrap(),
            "rate(5 minutes)"
        );
        assert_eq!(parse_schedule("rate(1 hour)").unwrap(), "rate(1 hour)");
        assert_eq!(parse_schedule("rate(2 days)").unwrap(), "rate(2 days)");
        assert!(
            parse_schedule("rate(5 minute)")
                .unwrap_err()
                .contains("minutes")
        );
        assert!(
            parse_schedule("rate(1 minutes)")
                .unwrap_err()
                .contains("minute")
        );
        assert!(parse_schedule("rate(0 minutes)").is_err());
        assert!(parse_schedule("rate(five minutes)").is_err());
        assert!(parse_schedule("rate(5 seconds)").is_err());
        assert_eq!(
            parse_schedule("cron(0/5 * * * ? *)").unwrap(),
            "cron(0/5 * * * ? *)"
        );
        assert!(
            parse_schedule("cron(0 12 * * ?)")
                .unwrap_err()
                .contains("6 fields")
        );
        assert!(
            parse_schedule("cron(0 12 * * * *)")
                .unwrap_err()
                .contains('?')
        );
        assert!(parse_schedule("every 5 minutes").is_err());
    }

    #[test]
    fn environment_carries_the_probe_contract() {
        let s = spec();
        assert_eq!(s.name, "egress-probe-subnet-a");
        assert_eq!(s.environment["EGRESS_PROBE_SUBNET_ID"], "subnet-a");
        assert_eq!(s.environment["EGRESS_PROBE_AZ"], "us-east-1a");
        assert_eq!(s.environment["EGRESS_PROBE_AZ_ID"], "use1-az6");
        assert_eq!(s.environment["EGRESS_PROBE_VPC_ID"], "vpc-1");
        assert_eq!(s.environment["EGRESS_PROBE_DIAGNOSE"], "on_failure");
        assert!(!s.environment.contains_key("EGRESS_PROBE_TARGETS"));
        assert_eq!(s.security_group_ids, vec!["sg-1", "sg-2"]);
        let mut with_targets = settings();
        with_targets.targets = vec![
            "dns:example.com".parse().unwrap(),
            "tcp://192.0.2.1:443".parse().unwrap(),
        ];
        let s2 = FunctionSpec::new(
            subnet(),
            vec![],
            "r".into(),
            Arch::X86_64,
            "x".into(),
            &with_targets,
        );
        assert_eq!(
            s2.environment["EGRESS_PROBE_TARGETS"],
            "dns:example.com tcp://192.0.2.1:443"
        );
        assert_eq!(s2.tags[MANAGED_TAG], "true");
        assert_eq!(s2.tags[SUBNET_TAG], "subnet-a");
    }

    #[test]
    fn function_diff_decides_create_update_unchanged_refuse() {
        let s = spec();
        assert_eq!(diff_function(&s, None), FunctionChange::Create);
        let ex = existing_matching(&s);
        assert_eq!(diff_function(&s, Some(&ex)), FunctionChange::Unchanged);

        let mut new_code = ex.clone();
        new_code.code_sha256 = "other=".into();
        assert_eq!(
            diff_function(&s, Some(&new_code)),
            FunctionChange::Update {
                code: true,
                configuration: vec![],
                tags: false
            }
        );
        let mut other_arch = ex.clone();
        other_arch.architectures = vec!["x86_64".into()];
        assert!(matches!(
            diff_function(&s, Some(&other_arch)),
            FunctionChange::Update { code: true, .. }
        ));

        let mut new_env = ex.clone();
        new_env
            .environment
            .insert("EGRESS_PROBE_TARGETS".into(), "dns:x".into());
        new_env.security_group_ids = vec!["sg-1".into()];
        assert_eq!(
            diff_function(&s, Some(&new_env)),
            FunctionChange::Update {
                code: false,
                configuration: vec!["vpc_config".into(), "environment".into()],
                tags: false
            }
        );

        let mut unmanaged = ex.clone();
        unmanaged.tags.clear();
        assert_eq!(
            diff_function(&s, Some(&unmanaged)),
            FunctionChange::RefuseUnmanaged
        );
    }

    #[test]
    fn schedule_diff() {
        let arn = "arn:fn";
        let input = rule_input(&[]);
        assert_eq!(diff_schedule(None, arn, &input, None), ScheduleChange::None);
        assert_eq!(
            diff_schedule(Some("rate(5 minutes)"), arn, &input, None),
            ScheduleChange::Create {
                expression: "rate(5 minutes)".into()
            }
        );
        let rule = ExistingRule {
            name: "egress-probe-subnet-a".into(),
            arn: "arn:rule".into(),
            managed: true,
            schedule: Some("rate(5 minutes)".into()),
            enabled: true,
            target: Some((arn.into(), Some("{ }".into()))),
        };
        assert_eq!(
            diff_schedule(Some("rate(5 minutes)"), arn, &input, Some(&rule)),
            ScheduleChange::Unchanged
        );
        assert_eq!(
            diff_schedule(Some("rate(10 minutes)"), arn, &input, Some(&rule)),
            ScheduleChange::Update {
                expression: "rate(10 minutes)".into()
            }
        );
        let new_input = rule_input(&["dns:example.com".parse().unwrap()]);
        assert!(matches!(
            diff_schedule(Some("rate(5 minutes)"), arn, &new_input, Some(&rule)),
            ScheduleChange::Update { .. }
        ));
        assert_eq!(
            diff_schedule(None, arn, &input, Some(&rule)),
            ScheduleChange::Remove
        );
        let foreign = ExistingRule {
            managed: false,
            ..rule
        };
        assert_eq!(
            diff_schedule(None, arn, &input, Some(&foreign)),
            ScheduleChange::RefuseUnmanaged
        );
    }

    #[test]
    fn prune_only_managed_functions_of_vanished_subnets() {
        let s = spec();
        let gone = existing_matching(&s);
        let mut kept = existing_matching(&s);
        kept.tags.insert(SUBNET_TAG.into(), "subnet-b".into());
        let mut foreign = existing_matching(&s);
        foreign.tags.remove(MANAGED_TAG);
        let all = vec![gone.clone(), kept, foreign];
        let existing: std::collections::HashSet<String> = ["subnet-b".to_string()].into();
        let p = prune_candidates(&all, &existing);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].subnet_tag(), Some("subnet-a"));
    }

    #[test]
    fn role_policy_is_built_from_the_permission_lists() {
        let p = inline_policy("us-east-1", "123456789012");
        let actions = p["Statement"][0]["Action"].as_array().unwrap();
        assert_eq!(
            actions.len(),
            egress_probe::permissions::DIAGNOSIS_ACTIONS.len()
        );
        for a in egress_probe::permissions::DIAGNOSIS_ACTIONS {
            assert!(actions.iter().any(|x| x == a), "{a} missing");
        }
        // Read-only: EC2 Describe/Get, the transit gateway route search and the Network
        // Firewall reads (issue 10).
        assert!(actions.iter().all(|a| {
            let a = a.as_str().unwrap();
            a.starts_with("ec2:Describe")
                || a.starts_with("ec2:Get")
                || a == "ec2:SearchTransitGatewayRoutes"
                || a.starts_with("network-firewall:Describe")
                || a.starts_with("network-firewall:List")
        }));
        assert_eq!(
            p["Statement"][1]["Resource"],
            "arn:aws:lambda:us-east-1:123456789012:function:egress-probe-*"
        );
        assert_eq!(
            p["Statement"][1]["Action"][0],
            "lambda:GetFunctionConfiguration"
        );
    }
}
