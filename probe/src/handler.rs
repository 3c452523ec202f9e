//! One invocation: event → plan → concurrent checks under the deadline → verdict →
//! bounded self-diagnosis → report. Used by the Lambda runtime and by `--once` alike.

use crate::checks::{CheckSetupError, Checker, round_us};
use crate::config::ProbeConfig;
use crate::diagnosis::{self, Subject};
use crate::event::{EventError, parse_event, plan_timeouts};
use crate::model::{
    Analysis, AnalysisStatus, DiagnoseMode, FixProof, GapKind, Identity, NetworkSnapshot,
    Observation, REPORT_SCHEMA, Report, Verdict,
};
use crate::snapshot::{self, Clients, Scope};
use crate::{identity, report};
use serde_json::Value;
use std::time::{Duration, SystemTime};
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// Every error an invocation (or `--once`) returns, each with one stable `errorType`
/// (issue 12.8). Messages say what is wrong and what to do; they quote input only through
/// `event::shown` (passwords redacted, long input cut).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Bad command-line arguments of `egress-probe-lambda`.
    #[error("{0}")]
    InvalidArguments(String),
    /// The event: not UTF-8, not JSON, or a bad field (`EventError` names it).
    #[error(transparent)]
    InvalidEvent(#[from] EventError),
    /// The function's own settings (environment variables, CA bundle, proxy URL).
    #[error("{0}")]
    InvalidConfiguration(String),
    /// `serve` outside a Lambda execution environment.
    #[error("{0}")]
    NotInLambda(String),
    /// The async runtime or the Lambda runtime client failed.
    #[error("{0}")]
    Runtime(String),
    /// The report could not be serialised.
    #[error("cannot serialise the report: {0}")]
    Serialization(String),
}

impl ProbeError {
    /// The stable `errorType` (Lambda) / JSON error type (`--once`).
    pub fn error_type(&self) -> &'static str {
        match self {
            ProbeError::InvalidArguments(_) => "InvalidArguments",
            ProbeError::InvalidEvent(_) => EventError::ERROR_TYPE,
            ProbeError::InvalidConfiguration(_) => "InvalidConfiguration",
            ProbeError::NotInLambda(_) => "NotInLambda",
            ProbeError::Runtime(_) => "RuntimeError",
            ProbeError::Serialization(_) => "SerializationError",
        }
    }

    /// `{"errorType": …, "errorMessage": …}`, the shape Lambda returns.
    pub fn to_json(&self) -> String {
        serde_json::json!({"errorType": self.error_type(), "errorMessage": self.to_string()})
            .to_string()
    }

    /// A bad event as a whole (not UTF-8, not JSON): field `(event)`.
    pub fn invalid_event(message: impl Into<String>) -> Self {
        ProbeError::InvalidEvent(EventError {
            field: "(event)".into(),
            message: message.into(),
        })
    }
}

/// What is wrong with an event's bytes as a whole, if anything: not UTF-8, or not JSON.
/// Empty (or only white space) is fine: it means the defaults.
pub fn payload_problem(payload: &[u8]) -> Option<String> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match std::str::from_utf8(payload) {
        Err(e) => Some(format!(
            "not UTF-8 text (invalid byte at offset {}); send a JSON object, e.g. {{}}",
            e.valid_up_to()
        )),
        Ok(text) => serde_json::from_str::<serde::de::IgnoredAny>(text)
            .err()
            .map(|e| format!("not valid JSON ({e}); send a JSON object, e.g. {{}}")),
    }
}

impl From<CheckSetupError> for ProbeError {
    fn from(e: CheckSetupError) -> Self {
        ProbeError::InvalidConfiguration(e.to_string())
    }
}

impl From<crate::config::ConfigError> for ProbeError {
    fn from(e: crate::config::ConfigError) -> Self {
        ProbeError::InvalidConfiguration(e.to_string())
    }
}

/// Parses an event's bytes: empty (or only white space) is `null` (the defaults); anything
/// else must be UTF-8 JSON.
pub fn parse_payload(payload: &[u8]) -> Result<Value, ProbeError> {
    if let Some(problem) = payload_problem(payload) {
        return Err(ProbeError::invalid_event(problem));
    }
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(payload).map_err(|e| ProbeError::invalid_event(e.to_string()))
}

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
        let (results, az_id) = tokio::join!(checks, self.az_id(checks_deadline));
        let observations: Vec<Observation> = results.into_iter().flatten().collect();
        let verdict = report::verdict(&observations);

        let mut identity = self.identity(inv.request_id.clone(), az_id.ok());
        let mut findings = Vec::new();
        let mut paths = Vec::new();
        let mut fix_proofs = Vec::new();
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
                if let Some((d, proofs)) = diag {
                    findings = d.findings;
                    paths = d.paths;
                    fix_proofs = proofs;
                }
                analysis
            }
        };

        Ok(Report {
            schema: REPORT_SCHEMA.to_string(),
            probe_version: env!("CARGO_PKG_VERSION").to_string(),
            identity,
            started_at,
            duration_ms: round_us(started.elapsed().as_secs_f64() * 1000.0),
            budget_ms: u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX),
            resolver: self.checker.resolver_info(),
            plan,
            observations,
            verdict,
            findings,
            paths,
            fix_proofs,
            analysis,
        })
    }

    /// The AZ ID, asked of the metadata endpoint once per execution environment and never
    /// waited for past `deadline` (issue 12.6: everything an invocation waits for is
    /// bounded by its deadline). An answer, or a failure within the endpoint's own
    /// timeout, is kept for later invocations; a lookup the deadline cut short is not.
    async fn az_id(&self, deadline: Instant) -> Result<String, String> {
        if let Some(id) = &self.config.availability_zone_id {
            return Ok(id.clone());
        }
        let Some((api, token)) = &self.metadata else {
            return Err("no Lambda metadata endpoint (AWS_LAMBDA_METADATA_API unset)".into());
        };
        if let Some(known) = self.az_id.get() {
            return known.clone();
        }
        let own_end = Instant::now() + METADATA_TIMEOUT;
        if deadline < own_end {
            match tokio::time::timeout_at(
                deadline,
                identity::metadata_az_id(api, token, METADATA_TIMEOUT),
            )
            .await
            {
                Ok(result) => {
                    let _ = self.az_id.set(result.clone());
                    result
                }
                Err(_) => Err(format!(
                    "metadata endpoint {api} did not answer before the invocation deadline"
                )),
            }
        } else {
            let result = identity::metadata_az_id(api, token, METADATA_TIMEOUT).await;
            let _ = self.az_id.set(result.clone());
            result
        }
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
                let clients = Clients::new(&config).with_dns(&config);
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
    ) -> (Analysis, Option<(diagnosis::Diagnosis, Vec<FixProof>)>) {
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
        // Each call is bounded a little before `deadline` (a slow one becomes a named gap,
        // issue 12.7); the outer bound only guards the rest.
        let calls_deadline = deadline
            .checked_sub(Duration::from_millis(20))
            .filter(|d| *d > Instant::now())
            .unwrap_or(deadline);
        let snap = match tokio::time::timeout_at(
            deadline,
            snapshot::take_until(clients, &scope, Some(calls_deadline)),
        )
        .await
        {
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
        if nothing_answered(&snap) {
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
        let mut diag = diagnosis::diagnose(&snap, &subject, &flows, observations);
        // Issue 11: every fix the report prints is first simulated on this snapshot (the
        // first alternative that clears its finding and breaks nothing is kept).
        let proofs = diagnosis::simulate::prove_fixes_observed(
            &snap,
            &subject,
            &flows,
            &[],
            observations,
            &mut diag,
        );
        let status = if snap.gaps.is_empty() {
            AnalysisStatus::Complete
        } else {
            AnalysisStatus::Partial
        };
        let reason = (!snap.gaps.is_empty()).then(|| partial_reason(&snap.gaps));
        (
            Analysis {
                status,
                reason,
                gaps: snap.gaps.clone(),
                api_calls: snap.api_calls,
                duration_ms: round_us(began.elapsed().as_secs_f64() * 1000.0),
                performed_by: Some("probe".into()),
            },
            Some((diag, proofs)),
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

/// True when no EC2 call answered: every gap is "no answer" and nothing about the VPC came
/// back. Every VPC has a main route table, a default network ACL and a default security
/// group, so any stage-1 answer leaves something; one slow or unreachable call among
/// answered ones is a partial analysis instead (issue 12.7).
fn nothing_answered(snap: &NetworkSnapshot) -> bool {
    !snap.gaps.is_empty()
        && snap.gaps.iter().all(|g| g.kind == GapKind::Unreachable)
        && snap.vpcs.is_empty()
        && snap.subnets.is_empty()
        && snap.route_tables.is_empty()
        && snap.network_acls.is_empty()
        && snap.security_groups.is_empty()
}

/// Why an analysis is partial: each missing call with what happened to it.
fn partial_reason(gaps: &[crate::model::SnapshotGap]) -> String {
    let calls: Vec<String> = gaps
        .iter()
        .map(|g| {
            // The kind as the report spells it (`denied`, `unreachable`, …).
            let kind = serde_json::to_value(g.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("{} ({kind})", g.call)
        })
        .collect();
    format!(
        "some API calls did not answer ({}); findings that need them are missing",
        calls.join(", ")
    )
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
        E::Api { .. } => format!("{e}; {how_to_fix}"),
        // Not a network matter either (a snapshot file).
        E::File { .. } => e.to_string(),
    }
}

fn unavailable(reason: String, began: Instant) -> Analysis {
    Analysis {
        status: AnalysisStatus::Unavailable,
        reason: Some(reason),
        gaps: Vec::new(),
        api_calls: 0,
        duration_ms: round_us(began.elapsed().as_secs_f64() * 1000.0),
        performed_by: Some("probe".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GapKind, RouteTable, SnapshotGap};

    fn gap(call: &str, kind: GapKind) -> SnapshotGap {
        SnapshotGap {
            call: call.into(),
            kind,
            reason: "r".into(),
            account: None,
        }
    }

    #[test]
    fn one_slow_call_among_answers_is_partial_not_unavailable() {
        let mut snap = NetworkSnapshot {
            gaps: vec![gap("ec2:DescribeSubnets", GapKind::Unreachable)],
            ..NetworkSnapshot::default()
        };
        // Nothing about the VPC came back: the EC2 API did not answer at all.
        assert!(nothing_answered(&snap));
        // The route tables answered: one slow DescribeSubnets is a gap (issue 12.7).
        snap.route_tables.push(RouteTable {
            id: "rtb-1".into(),
            vpc_id: "vpc-1".into(),
            main: true,
            subnet_ids: Vec::new(),
            routes: Vec::new(),
        });
        assert!(!nothing_answered(&snap));
        // No gaps: nothing failed.
        assert!(!nothing_answered(&NetworkSnapshot::default()));
        // A denied call is an answer.
        let denied = NetworkSnapshot {
            gaps: vec![gap("ec2:DescribeVpcs", GapKind::Denied)],
            ..NetworkSnapshot::default()
        };
        assert!(!nothing_answered(&denied));
    }

    #[test]
    fn the_partial_reason_names_each_call_and_what_happened() {
        let reason = partial_reason(&[
            gap("ec2:DescribeNetworkAcls", GapKind::Unreachable),
            gap("ec2:DescribeNatGateways", GapKind::Denied),
        ]);
        assert_eq!(
            reason,
            "some API calls did not answer (ec2:DescribeNetworkAcls (unreachable), ec2:DescribeNatGateways (denied)); findings that need them are missing"
        );
    }
}

#[cfg(test)]
mod error_tests {
    use super::*;

    #[test]
    fn each_error_has_one_stable_type() {
        let rows: Vec<(ProbeError, &str)> = vec![
            (ProbeError::InvalidArguments("a".into()), "InvalidArguments"),
            (ProbeError::invalid_event("b"), "InvalidEvent"),
            (
                ProbeError::InvalidConfiguration("c".into()),
                "InvalidConfiguration",
            ),
            (ProbeError::NotInLambda("d".into()), "NotInLambda"),
            (ProbeError::Runtime("e".into()), "RuntimeError"),
            (ProbeError::Serialization("f".into()), "SerializationError"),
        ];
        for (err, ty) in rows {
            assert_eq!(err.error_type(), ty);
            let v: Value = serde_json::from_str(&err.to_json()).unwrap_or_default();
            assert_eq!(v["errorType"], ty);
            assert_eq!(v["errorMessage"], err.to_string());
        }
    }

    #[test]
    fn payloads_that_are_not_utf8_or_json_are_named() {
        assert_eq!(parse_payload(b"").ok(), Some(Value::Null));
        assert_eq!(parse_payload(b" \n").ok(), Some(Value::Null));
        assert_eq!(
            parse_payload(br#"{"diagnose":"never"}"#).ok(),
            Some(serde_json::json!({"diagnose":"never"}))
        );
        let err = parse_payload(b"{\"a\": \"\xff\xfe\"}").expect_err("not utf-8");
        assert_eq!(err.error_type(), "InvalidEvent");
        assert!(
            err.to_string()
                .contains("not UTF-8 text (invalid byte at offset 7)"),
            "{err}"
        );
        let err = parse_payload(b"hello").expect_err("not json");
        assert_eq!(err.error_type(), "InvalidEvent");
        let text = err.to_string();
        assert!(
            text.starts_with("invalid event field `(event)`: not valid JSON"),
            "{text}"
        );
        assert!(!text.contains("hello"), "input is not echoed: {text}");
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
