//! One invocation: event → plan → concurrent checks under the deadline → verdict →
//! bounded self-diagnosis → report. Used by the Lambda runtime and by `--once` alike.

use crate::checks::{CheckSetupError, Checker};
use crate::config::ProbeConfig;
use crate::diagnosis::{self, Subject};
use crate::event::{EventError, parse_event, plan_timeouts};
use crate::model::{
    Analysis, AnalysisStatus, DiagnoseMode, GapKind, Identity, NetworkSnapshot, Observation,
    REPORT_SCHEMA, Report, Verdict,
};
use crate::snapshot::{self, Clients, Scope};
use crate::{identity, report};
use serde_json::Value;
use std::time::{Duration, SystemTime};
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// Longest wait for the metadata endpoint (it is local to the execution environment).
const METADATA_TIMEOUT: Duration = Duration::from_millis(300);

/// The probe: configuration and the reusable pieces, built once per process.
pub struct Probe {
    pub config: ProbeConfig,
    checker: Checker,
    /// SDK clients, built on first use only (cold start stays small).
    clients: OnceCell<Clients>,
    /// `AWS_LAMBDA_METADATA_API` and `AWS_LAMBDA_METADATA_TOKEN`, when present.
    metadata: Option<(String, String)>,
    /// The AZ ID never changes for an execution environment: ask once.
    az_id: OnceCell<Result<String, String>>,
}

/// Per-invocation facts from the runtime.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: Option<String>,
    /// When Lambda would stop the function.
    pub deadline: Instant,
}

impl Probe {
    pub fn new(config: ProbeConfig) -> Result<Self, CheckSetupError> {
        let checker = Checker::new(config.checks.clone())?;
        let metadata = match (
            std::env::var("AWS_LAMBDA_METADATA_API"),
            std::env::var("AWS_LAMBDA_METADATA_TOKEN"),
        ) {
            (Ok(api), Ok(token)) if !api.is_empty() => Some((api, token)),
            _ => None,
        };
        Ok(Self {
            config,
            checker,
            clients: OnceCell::new(),
            metadata,
            az_id: OnceCell::new(),
        })
    }

    /// Replaces the metadata endpoint settings (tests; `None` disables the lookup).
    pub fn with_metadata(mut self, metadata: Option<(String, String)>) -> Self {
        self.metadata = metadata;
        self
    }

    /// Runs one invocation. `Err` only for a bad event; every check outcome is in the report.
    pub async fn handle(&self, event: &Value, inv: Invocation) -> Result<Report, EventError> {
        let started = Instant::now();
        let started_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let remaining = inv
            .deadline
            .saturating_duration_since(started)
            .saturating_sub(self.config.safety_margin);
        let plan = parse_event(event, &self.config, remaining)?;

        // The self-diagnosis may need time after the checks: keep a quarter of the
        // remaining time (at most the analysis budget) when it may run.
        let reserve = match plan.diagnose {
            DiagnoseMode::Never => Duration::ZERO,
            _ => self.config.analysis_budget.min(remaining / 4),
        };
        let checks_deadline = started + remaining.saturating_sub(reserve);
        let final_deadline = started + remaining;
        let timeouts = plan_timeouts(&plan);

        let checks = futures_util::future::join_all(
            plan.targets
                .iter()
                .map(|t| self.checker.run(t, timeouts, checks_deadline)),
        );
        let (results, az_id) = tokio::join!(checks, self.az_id());
        let observations: Vec<Observation> = results.into_iter().flatten().collect();
        let verdict = report::verdict(&observations);

        let mut identity = self.identity(inv.request_id.clone(), az_id.ok());
        let mut findings = Vec::new();
        let mut paths = Vec::new();
        let analysis = match (plan.diagnose, verdict) {
            (DiagnoseMode::Never, _) => Analysis::skipped("diagnose = never"),
            (DiagnoseMode::OnFailure, Verdict::Healthy) => {
                Analysis::skipped("every check passed (diagnose = on_failure)")
            }
            _ => {
                let analysis_deadline =
                    final_deadline.min(Instant::now() + self.config.analysis_budget);
                let (analysis, diag) = self
                    .self_diagnose(&mut identity, &observations, analysis_deadline)
                    .await;
                if let Some(d) = diag {
                    findings = d.findings;
                    paths = d.paths;
                }
                analysis
            }
        };

        Ok(Report {
            schema: REPORT_SCHEMA.to_string(),
            probe_version: env!("CARGO_PKG_VERSION").to_string(),
            identity,
            started_at,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            budget_ms: u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX),
            resolver: self.checker.resolver_info(),
            plan,
            observations,
            verdict,
            findings,
            paths,
            analysis,
        })
    }

    async fn az_id(&self) -> Result<String, String> {
        if let Some(id) = &self.config.availability_zone_id {
            return Ok(id.clone());
        }
        let Some((api, token)) = &self.metadata else {
            return Err("no Lambda metadata endpoint (AWS_LAMBDA_METADATA_API unset)".into());
        };
        self.az_id
            .get_or_init(|| identity::metadata_az_id(api, token, METADATA_TIMEOUT))
            .await
            .clone()
    }

    fn identity(&self, request_id: Option<String>, az_id: Option<String>) -> Identity {
        let c = &self.config;
        Identity {
            function_name: c.function_name.clone(),
            function_version: c.function_version.clone(),
            region: c.region.clone(),
            memory_mb: c.memory_mb,
            vpc_id: c.vpc_id.clone(),
            subnet_id: c.subnet_id.clone(),
            availability_zone: c.availability_zone.clone(),
            availability_zone_id: az_id,
            security_group_ids: c.security_group_ids.clone(),
            log_group: c.log_group.clone(),
            log_stream: c.log_stream.clone(),
            request_id,
        }
    }

    async fn clients(&self) -> &Clients {
        self.clients
            .get_or_init(|| async {
                let options = crate::aws::AwsOptions {
                    region: self.config.region.clone(),
                    max_attempts: Some(2),
                    connect_timeout: Some(Duration::from_millis(1000)),
                    attempt_timeout: Some(Duration::from_millis(2000)),
                    ..Default::default()
                };
                let config = crate::aws::load_config(&options).await;
                let clients = Clients::new(&config);
                match &self.config.network_role {
                    // The ARN was checked when the configuration was read.
                    Some(arn) => match clients.clone().with_network_role(&config, arn).await {
                        Ok(c) => c,
                        Err(_) => clients,
                    },
                    None => clients,
                }
            })
            .await
    }

    /// Reads the VPC configuration and diagnoses the observations, within `deadline`.
    async fn self_diagnose(
        &self,
        identity: &mut Identity,
        observations: &[Observation],
        deadline: Instant,
    ) -> (Analysis, Option<diagnosis::Diagnosis>) {
        let began = Instant::now();
        let region = self.config.region.as_deref().unwrap_or("<region>");
        let how_to_fix = format!(
            "create an interface VPC endpoint for com.amazonaws.{region}.ec2 (and com.amazonaws.{region}.lambda) with private DNS in this VPC, or diagnose from outside the VPC with `egress-probe run` / `egress-probe diagnose`"
        );
        let scope = match (&self.config.function_name, &self.config.subnet_id) {
            (Some(f), _) => Scope::Function(f.clone()),
            (None, Some(s)) => Scope::Subnets(vec![s.clone()]),
            (None, None) => {
                return (
                    unavailable(
                        "not running as a Lambda function and EGRESS_PROBE_SUBNET_ID is unset: no subnet to analyse".into(),
                        began,
                    ),
                    None,
                );
            }
        };
        let clients = match tokio::time::timeout_at(deadline, self.clients()).await {
            Ok(c) => c,
            Err(_) => {
                return (
                    unavailable(
                        format!("no time left to build AWS clients; {how_to_fix}"),
                        began,
                    ),
                    None,
                );
            }
        };
        let snap = match tokio::time::timeout_at(deadline, snapshot::take(clients, &scope)).await {
            Err(_) => {
                let ms = began.elapsed().as_millis();
                return (
                    unavailable(
                        format!(
                            "the EC2 API did not answer within {ms} ms from this subnet: its egress is likely broken too; {how_to_fix}"
                        ),
                        began,
                    ),
                    None,
                );
            }
            Ok(Err(e)) => {
                return (
                    unavailable(snapshot_failure(&e, region, &how_to_fix), began),
                    None,
                );
            }
            Ok(Ok(s)) => s,
        };
        if snap.subnets.is_empty()
            && !snap.gaps.is_empty()
            && snap.gaps.iter().all(|g| g.kind == GapKind::Unreachable)
        {
            let mut a = unavailable(
                format!("the EC2 API is unreachable from this subnet; {how_to_fix}"),
                began,
            );
            a.gaps = snap.gaps.clone();
            a.api_calls = snap.api_calls;
            return (a, None);
        }
        let subject = self.subject(&snap, identity);
        let flows = diagnosis::flows_from_observations(observations);
        let diag = diagnosis::diagnose(&snap, &subject, &flows, observations);
        let status = if snap.gaps.is_empty() {
            AnalysisStatus::Complete
        } else {
            AnalysisStatus::Partial
        };
        let reason = (!snap.gaps.is_empty()).then(|| {
            let calls: Vec<&str> = snap.gaps.iter().map(|g| g.call.as_str()).collect();
            format!(
                "some API calls failed ({}); findings that need them are missing",
                calls.join(", ")
            )
        });
        (
            Analysis {
                status,
                reason,
                gaps: snap.gaps.clone(),
                api_calls: snap.api_calls,
                duration_ms: began.elapsed().as_secs_f64() * 1000.0,
                performed_by: Some("probe".into()),
            },
            Some(diag),
        )
    }

    /// The subject of the self-diagnosis: this probe's own subnet. When the function has
    /// several subnets and none is configured, the AZ ID attributes it (R4).
    fn subject(&self, snap: &NetworkSnapshot, identity: &mut Identity) -> Subject {
        let function = self
            .config
            .function_name
            .as_deref()
            .and_then(|f| snap.function(f));
        let mut subnet_ids: Vec<String> = match (&identity.subnet_id, function) {
            (Some(s), _) => vec![s.clone()],
            (None, Some(f)) => f.subnet_ids.clone(),
            (None, None) => Vec::new(),
        };
        if subnet_ids.len() > 1
            && let Some(az_id) = &identity.availability_zone_id
        {
            let in_az: Vec<String> = subnet_ids
                .iter()
                .filter(|s| {
                    snap.subnet(s)
                        .and_then(|s| s.availability_zone_id.as_deref())
                        == Some(az_id.as_str())
                })
                .cloned()
                .collect();
            if !in_az.is_empty() {
                subnet_ids = in_az;
            }
        }
        if subnet_ids.len() == 1
            && let Some(subnet) = snap.subnet(&subnet_ids[0])
        {
            identity.subnet_id.get_or_insert_with(|| subnet.id.clone());
            identity
                .availability_zone
                .get_or_insert_with(|| subnet.availability_zone.clone());
            identity.vpc_id.get_or_insert_with(|| subnet.vpc_id.clone());
        }
        let security_group_ids = if !self.config.security_group_ids.is_empty() {
            self.config.security_group_ids.clone()
        } else {
            function
                .map(|f| f.security_group_ids.clone())
                .unwrap_or_default()
        };
        if identity.security_group_ids.is_empty() {
            identity.security_group_ids = security_group_ids.clone();
        }
        Subject {
            function: self.config.function_name.clone(),
            subnet_ids,
            security_group_ids,
        }
    }
}

/// Why the self-diagnosis could not take its snapshot. Only a failed API call suggests an
/// interface endpoint; the probe's own function, subnet or VPC not being found is a
/// configuration or permission matter, said as such.
fn snapshot_failure(e: &snapshot::SnapshotError, region: &str, how_to_fix: &str) -> String {
    use snapshot::SnapshotError as E;
    match e {
        E::FunctionNotFound(name) => format!(
            "the probe's own function {name} was not found in {region} (lambda:GetFunctionConfiguration): it was deleted or renamed while running, or the Region setting is wrong; not a network problem"
        ),
        E::SubnetNotFound(id) | E::VpcNotFound(id) => format!(
            "{id} (from EGRESS_PROBE_* settings) was not found in {region}: check the probe's settings, or re-install it"
        ),
        E::NotInVpc(name) => format!(
            "the probe's own function {name} is not attached to a VPC: there is no subnet egress to diagnose"
        ),
        E::InvalidNetworkRole { .. } => format!(
            "{e}: fix EGRESS_PROBE_NETWORK_ROLE; the workload VPC is still evaluated without it"
        ),
        E::Api { .. } | E::File { .. } => format!("{e}; {how_to_fix}"),
    }
}

fn unavailable(reason: String, began: Instant) -> Analysis {
    Analysis {
        status: AnalysisStatus::Unavailable,
        reason: Some(reason),
        gaps: Vec::new(),
        api_calls: 0,
        duration_ms: began.elapsed().as_secs_f64() * 1000.0,
        performed_by: Some("probe".into()),
    }
}

#[cfg(test)]
mod snapshot_failure_tests {
    use super::*;

    #[test]
    fn a_missing_function_does_not_suggest_an_endpoint() {
        let fix = "create an interface VPC endpoint for com.amazonaws.us-east-1.ec2";
        let missing = snapshot_failure(
            &snapshot::SnapshotError::FunctionNotFound("egress-probe-subnet-1".into()),
            "us-east-1",
            fix,
        );
        assert!(
            missing.contains("egress-probe-subnet-1 was not found in us-east-1"),
            "{missing}"
        );
        assert!(!missing.contains("endpoint"), "{missing}");
        let api = snapshot_failure(
            &snapshot::SnapshotError::Api {
                call: "ec2:DescribeSubnets".into(),
                reason: "the connection to the endpoint timed out".into(),
            },
            "us-east-1",
            fix,
        );
        assert!(api.contains("interface VPC endpoint"), "{api}");
    }
}
