//! `run`: invokes the installed probes concurrently (bounded), diagnoses from outside the
//! VPC the reports whose own analysis was unavailable or partial (one snapshot per VPC),
//! and prints the subnet x check matrix, the broken paths and the findings.

use crate::aws::{self, Clients, api_error};
use crate::cli::{Lang, RunArgs};
use crate::output::{self, ProbeRun, Render, RunSummary};
use crate::plan::ExistingFunction;
use crate::progress::Progress;
use crate::{Ctx, Outcome, exit, outcome};
use anyhow::{Result, bail};
use aws_smithy_types::Blob;
use egress_probe::diagnosis::{self, Subject};
use egress_probe::model::{AnalysisStatus, NetworkSnapshot, Report, Target};
use egress_probe::snapshot::{self, Scope};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub region: String,
    pub summary: RunSummary,
    pub probes: Vec<ProbeRun>,
}

impl Render for RunResult {
    fn text(&self, lang: Lang) -> String {
        self.styled_text(&output::Style::plain(lang))
    }
    fn styled_text(&self, style: &output::Style) -> String {
        if self.probes.is_empty() {
            return match style.lang {
                Lang::En => format!("No egress-probe functions in {}.\n", self.region),
                Lang::Ja => format!("{} に egress-probe の関数はありません。\n", self.region),
            };
        }
        output::run_text(&self.probes, style)
    }
}

/// 0 all healthy, 1 failures found, 2 some probe could not be run (or none exists).
pub fn exit_code(summary: &RunSummary) -> u8 {
    if summary.errors > 0 || summary.probes == 0 {
        exit::ERROR
    } else if summary.failing > 0 {
        exit::FAILURES
    } else {
        exit::OK
    }
}

/// The invocation event: `{}` (the probe's configured defaults) or the given targets.
pub fn event(targets: &[Target]) -> String {
    egress_probe::settings::invocation_event(targets).to_string()
}

pub async fn run(ctx: &mut Ctx, args: &RunArgs) -> Result<Outcome> {
    let clients = ctx.clients().await?;
    let result = execute(&clients, args, ctx.progress_visible()).await?;
    if result.probes.is_empty() {
        bail!(
            "no egress-probe functions in {}: install some with `egress-probe install --vpc VPC_ID` (or pass --region for the Region they are in)",
            clients.region
        );
    }
    let code = exit_code(&result.summary);
    Ok(outcome(ctx, &result, code))
}

/// `run` in one account and Region with these clients (also the fleet's unit of work):
/// no probes there is an empty result, not an error.
pub async fn execute(clients: &Clients, args: &RunArgs, visible: bool) -> Result<RunResult> {
    let clients = clients.clone();
    let mut functions = aws::managed_functions(&clients).await?;
    if functions.is_empty() {
        return Ok(RunResult {
            region: clients.region.clone(),
            summary: output::summarize(&[]),
            probes: Vec::new(),
        });
    }
    if !args.subnets.is_empty() {
        if let Some(missing) = args
            .subnets
            .iter()
            .find(|s| !functions.iter().any(|f| f.subnet_tag() == Some(s.as_str())))
        {
            bail!(
                "no egress-probe installed for subnet {missing} in {}: run `egress-probe install --subnet {missing}`",
                clients.region
            );
        }
        functions.retain(|f| {
            f.subnet_tag()
                .is_some_and(|s| args.subnets.iter().any(|x| x == s))
        });
    }
    let progress = Progress::new(functions.len() as u64, "invoking", visible);
    let mut probes = invoke_all(
        &clients,
        functions,
        &event(&args.targets),
        args.concurrency,
        &progress,
    )
    .await;
    progress.finish();
    if !args.no_outside_diagnosis {
        diagnose_from_outside(&clients, args.network_role.as_deref(), &mut probes).await?;
    }
    let summary = output::summarize(&probes);
    Ok(RunResult {
        region: clients.region.clone(),
        summary,
        probes,
    })
}

async fn invoke_all(
    clients: &Clients,
    functions: Vec<ExistingFunction>,
    payload: &str,
    concurrency: u32,
    progress: &Progress,
) -> Vec<ProbeRun> {
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency as usize));
    let mut set = tokio::task::JoinSet::new();
    let count = functions.len();
    // The security groups each probe was installed with: the outside diagnosis needs
    // them when a report does not carry them (its own analysis did not run).
    let groups: Vec<Vec<String>> = functions
        .iter()
        .map(|f| f.security_group_ids.clone())
        .collect();
    let mut runs: Vec<ProbeRun> = functions
        .iter()
        .map(|f| ProbeRun {
            subnet_id: f.subnet_tag().unwrap_or_default().to_string(),
            availability_zone: f
                .environment
                .get(egress_probe::settings::env::AZ)
                .cloned()
                .unwrap_or_default(),
            function: f.name.clone(),
            report: None,
            error: Some("not invoked".into()),
            diagnosed_from_outside: false,
        })
        .collect();
    for (i, f) in functions.into_iter().enumerate() {
        let clients = clients.clone();
        let sem = sem.clone();
        let payload = payload.to_string();
        let progress = progress.clone();
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let r = invoke(&clients, &f.name, &payload).await;
            progress.inc();
            (i, r)
        });
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, result)) if i < count => match result {
                Ok(mut report) => {
                    if report.identity.security_group_ids.is_empty() {
                        report.identity.security_group_ids = groups[i].clone();
                    }
                    if let Some(az) = &report.identity.availability_zone {
                        runs[i].availability_zone = az.clone();
                    }
                    runs[i].report = Some(report);
                    runs[i].error = None;
                }
                Err(e) => runs[i].error = Some(format!("{e:#}")),
            },
            Ok(_) => {}
            Err(e) => tracing::error!("an invoke task stopped: {e}"),
        }
    }
    runs
}

/// One synchronous Invoke through the Lambda SDK client; the answer must be a `Report`.
pub async fn invoke(clients: &Clients, name: &str, payload: &str) -> Result<Report> {
    let out = clients
        .lambda
        .invoke()
        .function_name(name)
        .payload(Blob::new(payload.as_bytes().to_vec()))
        .send()
        .await
        .map_err(|e| api_error("lambda:Invoke", e))?;
    let body = out
        .payload()
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    if let Some(kind) = out.function_error() {
        let msg = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .map(|v| {
                let t = v
                    .get("errorType")
                    .and_then(|x| x.as_str())
                    .unwrap_or("")
                    .to_string();
                let m = v
                    .get("errorMessage")
                    .and_then(|x| x.as_str())
                    .unwrap_or("")
                    .to_string();
                format!("{t} {m}").trim().to_string()
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
        bail!("{name} returned a function error ({kind}): {msg}");
    }
    serde_json::from_slice::<Report>(&body).map_err(|e| {
        let start: String = String::from_utf8_lossy(&body).chars().take(120).collect();
        anyhow::anyhow!("{name} did not answer with a report ({e}): {start}")
    })
}

/// Reports whose own analysis was unavailable or partial.
pub fn needs_outside_diagnosis(report: &Report) -> bool {
    matches!(
        report.analysis.status,
        AnalysisStatus::Unavailable | AnalysisStatus::Partial
    )
}

/// Replaces a report's findings and paths by the installer's own diagnosis.
pub fn apply_outside_diagnosis(run: &mut ProbeRun, snapshot: &NetworkSnapshot) {
    let Some(report) = run.report.as_mut() else {
        return;
    };
    let subject = Subject {
        function: Some(run.function.clone()),
        subnet_ids: vec![run.subnet_id.clone()],
        security_group_ids: report.identity.security_group_ids.clone(),
    };
    let flows = diagnosis::flows_from_observations(&report.observations);
    let d = diagnosis::diagnose(snapshot, &subject, &flows, &report.observations);
    report.findings = d.findings;
    report.paths = d.paths;
    report.analysis.status = if snapshot.gaps.is_empty() {
        AnalysisStatus::Complete
    } else {
        AnalysisStatus::Partial
    };
    report.analysis.gaps = snapshot.gaps.clone();
    report.analysis.api_calls = snapshot.api_calls;
    report.analysis.performed_by = Some("installer".into());
    report.analysis.reason = Some("diagnosed from outside the VPC by egress-probe run".into());
    run.diagnosed_from_outside = true;
}

async fn diagnose_from_outside(
    clients: &Clients,
    network_role: Option<&str>,
    probes: &mut [ProbeRun],
) -> Result<()> {
    // One snapshot per VPC; the transit gateway, egress VPC and firewall behind them are
    // read once for the whole run (the cache).
    let mut by_vpc: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, p) in probes.iter().enumerate() {
        if let Some(r) = &p.report
            && needs_outside_diagnosis(r)
            && let Some(vpc) = &r.identity.vpc_id
        {
            by_vpc.entry(vpc.clone()).or_default().push(i);
        }
    }
    if by_vpc.is_empty() {
        return Ok(());
    }
    let snap_clients = clients.snapshot_clients_with(network_role).await?;
    let cache = snapshot::RunCache::default();
    for (vpc, indices) in by_vpc {
        match snapshot::take_cached(&snap_clients, &Scope::Vpc(vpc.clone()), &cache).await {
            Ok(snapshot) => {
                for i in indices {
                    apply_outside_diagnosis(&mut probes[i], &snapshot);
                }
            }
            Err(e) => {
                for i in indices {
                    if let Some(r) = probes[i].report.as_mut() {
                        let prior = r.analysis.reason.clone().unwrap_or_default();
                        r.analysis.reason = Some(format!(
                            "{prior}; snapshot of {vpc} from outside failed: {e}"
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixtures::report;

    #[test]
    fn exit_codes() {
        let s = |healthy, failing, errors| RunSummary {
            probes: 3,
            healthy,
            failing,
            errors,
        };
        assert_eq!(exit_code(&s(3, 0, 0)), 0);
        assert_eq!(exit_code(&s(2, 1, 0)), 1);
        assert_eq!(exit_code(&s(1, 1, 1)), 2);
        let none = RunSummary {
            probes: 0,
            healthy: 0,
            failing: 0,
            errors: 0,
        };
        assert_eq!(exit_code(&none), 2, "no probe run is not healthy");
    }

    #[test]
    fn events_follow_the_probe_contract() {
        assert_eq!(event(&[]), "{}");
        let v: serde_json::Value =
            serde_json::from_str(&event(&["dns:example.com".parse().unwrap()])).unwrap();
        assert_eq!(v, serde_json::json!({"targets": ["dns:example.com"]}));
    }

    #[test]
    fn only_unavailable_or_partial_reports_are_rediagnosed() {
        let mut r = report("subnet-a", "us-east-1a", true);
        assert!(!needs_outside_diagnosis(&r));
        r.analysis.status = AnalysisStatus::Unavailable;
        assert!(needs_outside_diagnosis(&r));
        r.analysis.status = AnalysisStatus::Partial;
        assert!(needs_outside_diagnosis(&r));
        r.analysis.status = AnalysisStatus::Skipped;
        assert!(!needs_outside_diagnosis(&r));
    }
}
