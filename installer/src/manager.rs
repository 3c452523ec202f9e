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
}

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
    Ok(Pass::of(trigger, &result, journal.entries()))
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
