//! The manager (issue 14): a small Lambda function the StackSet (`stackset.yaml`) puts in
//! every account and Region. On its schedule, and when CloudTrail reports a subnet created
//! or deleted (EventBridge), it keeps one probe in every selected subnet — subnets with a
//! tag, or every subnet a Lambda function uses — and removes the probes of subnets that are
//! gone. It is `egress-probe install --prune` run in place: the same code
//! (`commands::install::execute`), with the account's own credentials. Subnet IDs are
//! discovered here, never passed in.
//!
//! Settings (environment of the function, set by the StackSet's parameters):
//! - `EGRESS_PROBE_MANAGER_SELECT`: `tag:KEY=VALUE` or `lambda-subnets`
//! - `EGRESS_PROBE_MANAGER_ZIP`: the probe's bootstrap zip (default
//!   `$LAMBDA_TASK_ROOT/probe/bootstrap.zip`, packaged next to the manager)
//! - `EGRESS_PROBE_MANAGER_SCHEDULE`: the probes' schedule (optional, e.g. `rate(5 minutes)`)
//! - `EGRESS_PROBE_MANAGER_TARGETS`: the probes' targets, space-separated (optional)
//! - `EGRESS_PROBE_MANAGER_CONCURRENCY`: subnets installed at the same time (default 8)
//! - `EGRESS_PROBE_MANAGER_REPORT_BUS`: an event bus ARN (optional; the StackSet gives the
//!   Region's default bus when a central bus is set). Each probe's asynchronous invocation
//!   records go there (Lambda destinations, on success and on failure): the record carries
//!   the probe's report as `responsePayload`, and the Lambda service delivers it, so a
//!   report reaches the bus even when the probe's VPC has no egress. The StackSet's rules
//!   forward the failing ones to the central bus (docs/fleet.md).

use crate::artifact::{self, Artifact};
use crate::aws::Clients;
use crate::cli::{Cli, Command, InstallArgs, Lang};
use crate::commands::install::{self, InstallResult};
use crate::progress::Journal;
use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

pub mod env {
    pub const SELECT: &str = "EGRESS_PROBE_MANAGER_SELECT";
    pub const ZIP: &str = "EGRESS_PROBE_MANAGER_ZIP";
    pub const SCHEDULE: &str = "EGRESS_PROBE_MANAGER_SCHEDULE";
    pub const TARGETS: &str = "EGRESS_PROBE_MANAGER_TARGETS";
    pub const CONCURRENCY: &str = "EGRESS_PROBE_MANAGER_CONCURRENCY";
    pub const REPORT_BUS: &str = "EGRESS_PROBE_MANAGER_REPORT_BUS";
}

/// The inline policy the manager adds to the probes' execution role so that Lambda may
/// deliver their invocation records to the report bus (Lambda sends destinations with the
/// function's execution role). Separate from the installer's own policy, which it never
/// changes; `uninstall` deletes every inline policy of the role with it.
pub const REPORT_POLICY: &str = "egress-probe-report-destination";

/// Which subnets get a probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Subnets with this tag.
    Tag { key: String, value: String },
    /// Every subnet some VPC-attached function of the Region uses.
    LambdaSubnets,
}

/// The manager's settings.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    pub selection: Selection,
    pub zip: PathBuf,
    pub schedule: Option<String>,
    pub targets: Vec<String>,
    pub concurrency: u32,
    /// Where the probes' invocation records go (Lambda destinations), when set.
    pub report_bus: Option<String>,
}

impl ManagerConfig {
    /// Reads the settings through `get` (the environment); an error names the variable.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let select = get(env::SELECT).unwrap_or_default();
        let selection = match select.trim() {
            "lambda-subnets" => Selection::LambdaSubnets,
            s => match s.strip_prefix("tag:").map(crate::cli::parse_tag) {
                Some(Ok((key, value))) => Selection::Tag { key, value },
                Some(Err(e)) => bail!("{}: {e}", env::SELECT),
                None => bail!(
                    "{} is `{s}`: set it to tag:KEY=VALUE or lambda-subnets",
                    env::SELECT
                ),
            },
        };
        let zip = match get(env::ZIP).filter(|z| !z.is_empty()) {
            Some(z) => PathBuf::from(z),
            None => PathBuf::from(get("LAMBDA_TASK_ROOT").unwrap_or_else(|| "/var/task".into()))
                .join("probe/bootstrap.zip"),
        };
        let concurrency = match get(env::CONCURRENCY).filter(|c| !c.is_empty()) {
            Some(c) => c
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or_else(|| anyhow!("{} is `{c}`: a number from 1 to 64", env::CONCURRENCY))?,
            None => 8,
        };
        let config = ManagerConfig {
            selection,
            zip,
            schedule: get(env::SCHEDULE).filter(|s| !s.trim().is_empty()),
            targets: get(env::TARGETS)
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            concurrency,
            report_bus: match get(env::REPORT_BUS).map(|b| b.trim().to_string()) {
                Some(b) if b.is_empty() => None,
                Some(b) if is_event_bus_arn(&b) => Some(b),
                Some(b) => bail!(
                    "{} is `{b}`: an event bus ARN (arn:aws:events:REGION:ACCOUNT:event-bus/NAME) or empty",
                    env::REPORT_BUS
                ),
                None => None,
            },
        };
        // The same checks as the command line (schedule, targets).
        config.install_args()?;
        Ok(config)
    }

    /// The `install --prune` this manager runs, parsed by the command line's own parser.
    pub fn install_args(&self) -> Result<InstallArgs> {
        let mut argv: Vec<String> = vec!["egress-probe".into(), "install".into(), "--prune".into()];
        match &self.selection {
            Selection::Tag { key, value } => {
                argv.push("--tag".into());
                argv.push(format!("{key}={value}"));
            }
            Selection::LambdaSubnets => argv.push("--lambda-subnets".into()),
        }
        argv.push("--zip".into());
        argv.push(self.zip.display().to_string());
        argv.push("--concurrency".into());
        argv.push(self.concurrency.to_string());
        // A Lambda invocation lasts at most 15 minutes.
        argv.push("--wait-timeout".into());
        argv.push("300".into());
        if let Some(s) = &self.schedule {
            argv.push("--schedule".into());
            argv.push(s.clone());
        }
        for t in &self.targets {
            argv.push("--target".into());
            argv.push(t.clone());
        }
        let cli = Cli::try_parse_from(&argv).map_err(|e| {
            anyhow!(
                "manager settings ({}, {}, {}): {}",
                env::SCHEDULE,
                env::TARGETS,
                env::SELECT,
                e.to_string().lines().next().unwrap_or("invalid")
            )
        })?;
        match cli.command {
            Command::Install(a) => Ok(a),
            _ => Err(anyhow!("manager: not an install")),
        }
    }

    pub fn load_zip(&self) -> Result<Arc<Artifact>> {
        let zip = artifact::load(&self.zip)
            .with_context(|| format!("the probe zip {} ({})", self.zip.display(), env::ZIP))?;
        Ok(Arc::new(zip))
    }
}

fn is_event_bus_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "events"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5]
            .strip_prefix("event-bus/")
            .is_some_and(|n| !n.is_empty())
}

/// The report policy's document: PutEvents on the bus, nothing else.
pub fn report_policy(bus: &str) -> Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ProbeReportsToTheBus",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": bus
        }]
    })
}

/// What started the manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "subnet_id")]
pub enum Trigger {
    /// The EventBridge schedule.
    Schedule,
    /// CloudTrail `CreateSubnet` (the new subnet's ID when the event carries it).
    SubnetCreated(Option<String>),
    /// CloudTrail `DeleteSubnet`.
    SubnetDeleted(Option<String>),
    /// Anything else (a test invocation, a StackSet deployment's custom run).
    Other,
}

/// Reads the trigger from an EventBridge event.
pub fn trigger(event: &Value) -> Trigger {
    match event["detail-type"].as_str() {
        Some("Scheduled Event") => Trigger::Schedule,
        Some("AWS API Call via CloudTrail") => {
            let d = &event["detail"];
            match d["eventName"].as_str() {
                Some("CreateSubnet") => Trigger::SubnetCreated(
                    d["responseElements"]["subnet"]["subnetId"]
                        .as_str()
                        .map(str::to_string),
                ),
                Some("DeleteSubnet") => Trigger::SubnetDeleted(
                    d["requestParameters"]["subnetId"]
                        .as_str()
                        .map(str::to_string),
                ),
                _ => Trigger::Other,
            }
        }
        _ => Trigger::Other,
    }
}

/// One pass of the manager, as it logs and returns it.
#[derive(Debug, Clone, Serialize)]
pub struct Pass {
    pub trigger: Trigger,
    pub account: String,
    pub region: String,
    pub subnets: usize,
    pub created: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub pruned: usize,
    pub failed: usize,
    /// Steps that failed, and notes (public subnets left out, …).
    pub problems: Vec<String>,
    /// The changes made, in order.
    pub changes: Vec<String>,
}

impl Pass {
    fn of(trigger: Trigger, r: &InstallResult, changes: Vec<String>) -> Pass {
        let created = r
            .probes
            .iter()
            .filter(|p| {
                p.function_change == crate::plan::FunctionChange::Create && !p.status.failed()
            })
            .count();
        let changed = r
            .probes
            .iter()
            .filter(|p| {
                p.function_change != crate::plan::FunctionChange::Create
                    && (p.function_change.changes_something()
                        || p.schedule_change.changes_something())
                    && !p.status.failed()
            })
            .count();
        let failed = r.failures();
        let mut problems: Vec<String> = r
            .probes
            .iter()
            .filter(|p| p.status.failed())
            .map(|p| format!("{}: {}", p.subnet_id, p.status.in_words(Lang::En)))
            .chain(
                r.pruned
                    .iter()
                    .filter(|p| p.status.failed())
                    .map(|p| format!("prune {}: {}", p.function, p.status.in_words(Lang::En))),
            )
            .collect();
        if r.role.status.failed() {
            problems.push(format!(
                "role {}: {}",
                r.role.name,
                r.role.status.in_words(Lang::En)
            ));
        }
        problems.extend(
            r.skipped
                .iter()
                .map(|k| format!("skipped {}: {}", k.subnet_id, k.reason.get(Lang::En))),
        );
        Pass {
            trigger,
            account: r.account.clone(),
            region: r.region.clone(),
            subnets: r.probes.len(),
            created,
            changed,
            unchanged: r.probes.len()
                - created
                - changed
                - r.probes.iter().filter(|p| p.status.failed()).count(),
            pruned: r.pruned.iter().filter(|p| !p.status.failed()).count(),
            failed,
            problems,
            changes,
        }
    }
}

/// One pass: install into every selected subnet, prune the probes of subnets gone.
pub async fn reconcile(
    clients: &Clients,
    config: &ManagerConfig,
    zip: Arc<Artifact>,
    trigger: Trigger,
) -> Result<Pass> {
    let args = config.install_args()?;
    let journal = Journal::default();
    let result = install::execute(clients, &args, zip, false, &journal).await?;
    let mut problems = Vec::new();
    if let Some(bus) = &config.report_bus {
        problems = destinations(clients, &result, bus, config.concurrency, &journal).await;
    }
    let mut pass = Pass::of(trigger, &result, journal.entries());
    pass.failed += problems.len();
    pass.problems.extend(problems);
    Ok(pass)
}

/// Points every probe of the pass (the tool's own functions, from the install result; never
/// another function) at `bus` for its invocation records, and lets the execution role put
/// events there. Reads first and writes only what differs, so a pass with nothing to do
/// makes one read per probe and changes nothing. Returns the steps that failed.
async fn destinations(
    clients: &Clients,
    result: &InstallResult,
    bus: &str,
    concurrency: u32,
    journal: &Journal,
) -> Vec<String> {
    use futures_util::StreamExt;
    let mut problems = Vec::new();
    if result.role.status.failed() {
        return problems;
    }
    if let Err(e) = report_role_policy(clients, &result.role.name, bus, journal).await {
        problems.push(format!("role {} report policy: {e:#}", result.role.name));
        return problems;
    }
    // A probe created in this pass has no configuration yet: no read.
    let functions: Vec<(&str, bool)> = result
        .probes
        .iter()
        .filter(|p| !p.status.failed())
        .map(|p| {
            (
                p.function.as_str(),
                p.function_change == crate::plan::FunctionChange::Create,
            )
        })
        .collect();
    let outcomes: Vec<(String, Result<bool>)> = futures_util::stream::iter(functions)
        .map(|(f, fresh)| async move {
            (
                f.to_string(),
                function_destinations(clients, f, bus, fresh).await,
            )
        })
        .buffer_unordered(concurrency.max(1) as usize)
        .collect()
        .await;
    let mut outcomes = outcomes;
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    for (function, outcome) in outcomes {
        match outcome {
            Ok(true) => journal.done(format!("set the report destinations of {function}")),
            Ok(false) => {}
            Err(e) => problems.push(format!("{function} report destinations: {e:#}")),
        }
    }
    problems
}

async fn report_role_policy(
    clients: &Clients,
    role: &str,
    bus: &str,
    journal: &Journal,
) -> Result<()> {
    let wanted = report_policy(bus);
    let current = match clients
        .iam
        .get_role_policy()
        .role_name(role)
        .policy_name(REPORT_POLICY)
        .send()
        .await
    {
        Ok(p) => crate::aws::decode_policy(p.policy_document()),
        Err(e) if crate::aws::code(&e) == Some("NoSuchEntity") => None,
        Err(e) => return Err(crate::aws::api_error("iam:GetRolePolicy", e)),
    };
    if current.as_ref() == Some(&wanted) {
        return Ok(());
    }
    clients
        .iam
        .put_role_policy()
        .role_name(role)
        .policy_name(REPORT_POLICY)
        .policy_document(wanted.to_string())
        .send()
        .await
        .map_err(|e| crate::aws::api_error("iam:PutRolePolicy", e))?;
    journal.done(format!("let role {role} send reports to {bus}"));
    Ok(())
}

/// Sets the function's on-success and on-failure destinations to `bus` unless they are
/// already (not read when `fresh`: created in this pass); whether it changed anything.
async fn function_destinations(
    clients: &Clients,
    function: &str,
    bus: &str,
    fresh: bool,
) -> Result<bool> {
    use aws_sdk_lambda::types::{DestinationConfig, OnFailure, OnSuccess};
    let current = if fresh {
        None
    } else {
        match clients
            .lambda
            .get_function_event_invoke_config()
            .function_name(function)
            .send()
            .await
        {
            Ok(c) => c.destination_config().map(|d| {
                (
                    d.on_success()
                        .and_then(|s| s.destination())
                        .map(str::to_string),
                    d.on_failure()
                        .and_then(|f| f.destination())
                        .map(str::to_string),
                )
            }),
            Err(e) if crate::aws::code(&e) == Some("ResourceNotFoundException") => None,
            Err(e) => {
                return Err(crate::aws::api_error(
                    "lambda:GetFunctionEventInvokeConfig",
                    e,
                ));
            }
        }
    };
    let wanted = (Some(bus.to_string()), Some(bus.to_string()));
    if current.as_ref() == Some(&wanted) {
        return Ok(false);
    }
    clients
        .lambda
        .put_function_event_invoke_config()
        .function_name(function)
        .destination_config(
            DestinationConfig::builder()
                .on_success(OnSuccess::builder().destination(bus).build())
                .on_failure(OnFailure::builder().destination(bus).build())
                .build(),
        )
        .send()
        .await
        .map_err(|e| crate::aws::api_error("lambda:PutFunctionEventInvokeConfig", e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn settings_are_read_and_checked_like_the_command_line() {
        let c = ManagerConfig::from_env(env(&[
            (env::SELECT, "tag:egress-probe=yes"),
            (env::SCHEDULE, "rate(5 minutes)"),
            (env::TARGETS, "dns:example.com tcp://192.0.2.1:443"),
            ("LAMBDA_TASK_ROOT", "/var/task"),
        ]))
        .unwrap();
        assert_eq!(
            c.selection,
            Selection::Tag {
                key: "egress-probe".into(),
                value: "yes".into()
            }
        );
        assert_eq!(c.zip, PathBuf::from("/var/task/probe/bootstrap.zip"));
        let a = c.install_args().unwrap();
        assert!(a.prune && !a.dry_run);
        assert_eq!(
            a.selection.tags,
            vec![("egress-probe".into(), "yes".into())]
        );
        assert_eq!(a.schedule.as_deref(), Some("rate(5 minutes)"));
        assert_eq!(a.targets.len(), 2);
        assert_eq!(a.concurrency, 8);

        let c = ManagerConfig::from_env(env(&[(env::SELECT, "lambda-subnets")])).unwrap();
        assert!(c.install_args().unwrap().selection.lambda_subnets);
        assert_eq!(c.report_bus, None);
        let bus = "arn:aws:events:eu-west-1:123456789012:event-bus/default";
        let c = ManagerConfig::from_env(env(&[
            (env::SELECT, "lambda-subnets"),
            (env::REPORT_BUS, bus),
        ]))
        .unwrap();
        assert_eq!(c.report_bus.as_deref(), Some(bus));
        let c = ManagerConfig::from_env(env(&[
            (env::SELECT, "lambda-subnets"),
            (env::REPORT_BUS, ""),
        ]))
        .unwrap();
        assert_eq!(c.report_bus, None);

        for (vars, needle) in [
            (vec![], env::SELECT),
            (vec![(env::SELECT, "subnet-1")], "tag:KEY=VALUE"),
            (vec![(env::SELECT, "tag:novalue")], "KEY=VALUE"),
            (
                vec![
                    (env::SELECT, "lambda-subnets"),
                    (env::SCHEDULE, "rate(5 minute)"),
                ],
                env::SCHEDULE,
            ),
            (
                vec![(env::SELECT, "lambda-subnets"), (env::CONCURRENCY, "0")],
                env::CONCURRENCY,
            ),
            (
                vec![
                    (env::SELECT, "lambda-subnets"),
                    (env::REPORT_BUS, "default"),
                ],
                env::REPORT_BUS,
            ),
            (
                vec![
                    (env::SELECT, "lambda-subnets"),
                    (env::REPORT_BUS, "arn:aws:sqs:us-east-1:123456789012:q"),
                ],
                env::REPORT_BUS,
            ),
        ] {
            let e = ManagerConfig::from_env(env(&vars)).unwrap_err().to_string();
            assert!(e.contains(needle), "{vars:?}: {e}");
        }
    }

    #[test]
    fn triggers_come_from_the_event() {
        let schedule =
            serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events"});
        assert_eq!(trigger(&schedule), Trigger::Schedule);
        let created = serde_json::json!({
            "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
            "detail": {"eventName": "CreateSubnet",
                       "responseElements": {"subnet": {"subnetId": "subnet-0new"}}}
        });
        assert_eq!(
            trigger(&created),
            Trigger::SubnetCreated(Some("subnet-0new".into()))
        );
        let deleted = serde_json::json!({
            "detail-type": "AWS API Call via CloudTrail",
            "detail": {"eventName": "DeleteSubnet", "requestParameters": {"subnetId": "subnet-0old"}}
        });
        assert_eq!(
            trigger(&deleted),
            Trigger::SubnetDeleted(Some("subnet-0old".into()))
        );
        assert_eq!(trigger(&serde_json::json!({})), Trigger::Other);
    }
}
