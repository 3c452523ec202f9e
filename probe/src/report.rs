//! The report: verdict, the structured log line, and CloudWatch Embedded Metric Format
//! lines (one per target, one heartbeat per invocation) so scheduled runs become metrics and
//! alarms with no API calls.

use crate::model::{
    AnalysisStatus, CheckKind, Family, Observation, Phase, Report, Status, Verdict,
};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Metric names written in EMF (the template's alarms and dashboard use them). Every
/// count is per target (check) and per invocation: 1 or 0, never one per resolved address.
pub mod metrics {
    /// The target passed: every address that counts answered (see `report::verdict`).
    pub const SUCCESS: &str = "CheckSuccess";
    /// The target failed, whatever the cause (`1 - CheckSuccess`).
    pub const FAILURE: &str = "CheckFailure";
    /// The target failed in a way that says the path from this subnet is broken: no
    /// answer (timeout, cut short), unreachable, a DNS timeout, a TLS handshake that never
    /// got an answer, a proxy that refused the tunnel. The metric to page on.
    pub const EGRESS_FAILURE: &str = "EgressFailure";
    /// The far end answered and failed: refused, reset, a TLS alert or certificate error,
    /// HTTP 5xx, a negative DNS answer (R36: the path from this subnet works).
    pub const DESTINATION_FAILURE: &str = "DestinationFailure";
    /// An address of a family this execution environment does not have (IPv6 failing at
    /// once with ENETUNREACH/EADDRNOTAVAIL: an IPv4-only subnet or function, R31).
    pub const FAMILY_UNAVAILABLE: &str = "FamilyUnavailable";
    /// 1 per invocation that produced a report: its absence means the probe stopped.
    pub const HEARTBEAT: &str = "Heartbeat";
    pub const DNS: &str = "DnsLatency";
    pub const CONNECT: &str = "ConnectLatency";
    pub const TLS: &str = "TlsLatency";
    pub const FIRST_BYTE: &str = "FirstByteLatency";
    pub const TOTAL: &str = "TotalLatency";
    /// Every metric the probe writes.
    pub const ALL: &[&str] = &[
        SUCCESS,
        FAILURE,
        EGRESS_FAILURE,
        DESTINATION_FAILURE,
        FAMILY_UNAVAILABLE,
        HEARTBEAT,
        DNS,
        CONNECT,
        TLS,
        FIRST_BYTE,
        TOTAL,
    ];
}

/// Healthy: every observation ok. Broken: some target has no successful observation.
/// Degraded: every target reached, but some address/family failed (e.g. IPv6 only).
///
/// An IPv6 address that fails at once with `ENETUNREACH` while the same target answers
/// over IPv4 does not count: the execution environment has no IPv6 at all (an IPv4-only
/// subnet, or `Ipv6AllowedForDualStack` off — R31), which is a choice, not a fault. The
/// observation stays in the report.
pub fn verdict(observations: &[Observation]) -> Verdict {
    let counted: Vec<&Observation> = observations
        .iter()
        .filter(|o| !(no_ipv6_here(o) && target_ok(observations, &o.target)))
        .collect();
    if counted.iter().all(|o| o.status.is_ok()) {
        return Verdict::Healthy;
    }
    let mut targets: Vec<&str> = observations.iter().map(|o| o.target.as_str()).collect();
    targets.sort_unstable();
    targets.dedup();
    let every_target_reached = targets.iter().all(|t| {
        observations
            .iter()
            .any(|o| o.target == *t && o.status.is_ok())
    });
    if every_target_reached {
        Verdict::Degraded
    } else {
        Verdict::Broken
    }
}

/// What a failed observation says about the path from this subnet (the metrics' split).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// The path from this subnet is broken: nothing answered.
    Egress,
    /// The destination answered and failed (R36).
    Destination,
    /// A family this environment does not have (R31).
    FamilyUnavailable,
    /// The check could not run (a local error that says nothing about the network).
    Probe,
}

impl FailureClass {
    pub fn as_str(&self) -> &'static str {
        match self {
            FailureClass::Egress => "egress",
            FailureClass::Destination => "destination",
            FailureClass::FamilyUnavailable => "family_unavailable",
            FailureClass::Probe => "probe",
        }
    }
}

/// The class of a failed observation; `None` when it is ok.
pub fn failure_class(o: &Observation) -> Option<FailureClass> {
    if o.status.is_ok() {
        return None;
    }
    if no_ipv6_here(o) {
        return Some(FailureClass::FamilyUnavailable);
    }
    Some(match o.status {
        Status::Timeout
        | Status::Unreachable
        | Status::DnsTimeout
        | Status::TlsTimeout
        | Status::CutShort
        | Status::ProxyRefused => FailureClass::Egress,
        Status::Refused
        | Status::Reset
        | Status::DnsNxdomain
        | Status::DnsNodata
        | Status::DnsServfail
        | Status::DnsRefused
        | Status::TlsCertificate
        | Status::TlsAlert
        | Status::TlsError
        | Status::HttpStatus => FailureClass::Destination,
        Status::Error | Status::Ok => FailureClass::Probe,
    })
}

/// One target's result over all its observations (one per address for TCP).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetOutcome<'a> {
    pub target: &'a str,
    pub kind: CheckKind,
    /// Every observation that counts is ok (as in `verdict`).
    pub ok: bool,
    pub egress: bool,
    pub destination: bool,
    pub family_unavailable: bool,
    pub probe_error: bool,
    /// The observation that speaks for the target: its first ok one when it passed, else
    /// its first failure that counts (an egress failure before any other).
    pub representative: &'a Observation,
}

impl TargetOutcome<'_> {
    /// The class that names this target's failure (egress before destination).
    pub fn class(&self) -> Option<FailureClass> {
        if self.ok {
            None
        } else if self.egress {
            Some(FailureClass::Egress)
        } else if self.destination {
            Some(FailureClass::Destination)
        } else if self.family_unavailable {
            Some(FailureClass::FamilyUnavailable)
        } else {
            Some(FailureClass::Probe)
        }
    }
}

/// The outcome of every target, in plan order (first-seen order of the observations).
pub fn target_outcomes(observations: &[Observation]) -> Vec<TargetOutcome<'_>> {
    let mut targets: Vec<&str> = Vec::new();
    for o in observations {
        if !targets.contains(&o.target.as_str()) {
            targets.push(&o.target);
        }
    }
    targets
        .into_iter()
        .filter_map(|target| {
            let all: Vec<&Observation> =
                observations.iter().filter(|o| o.target == target).collect();
            let reached = all.iter().any(|o| o.status.is_ok());
            let counted: Vec<&Observation> = all
                .iter()
                .copied()
                .filter(|o| !(no_ipv6_here(o) && reached))
                .collect();
            let classes: Vec<FailureClass> = all.iter().filter_map(|o| failure_class(o)).collect();
            let ok = counted.iter().all(|o| o.status.is_ok());
            let representative = if ok {
                all.iter().find(|o| o.status.is_ok())
            } else {
                counted
                    .iter()
                    .find(|o| failure_class(o) == Some(FailureClass::Egress))
                    .or_else(|| counted.iter().find(|o| !o.status.is_ok()))
            }
            .or(all.first())
            .copied()?;
            Some(TargetOutcome {
                target,
                kind: representative.kind,
                ok,
                egress: classes.contains(&FailureClass::Egress),
                destination: classes.contains(&FailureClass::Destination),
                family_unavailable: classes.contains(&FailureClass::FamilyUnavailable),
                probe_error: classes.contains(&FailureClass::Probe),
                representative,
            })
        })
        .collect()
}

/// The one-line summary a person reads first, e.g. `broken: 1 of 3 targets failed from
/// subnet-0abc (us-east-1a) - egress: tcp://h:443 timeout - analysis complete, 1 finding:
/// NAT_ROUTE_MISSING`. At most five failures are named.
pub fn summary(report: &Report) -> String {
    let outcomes = target_outcomes(&report.observations);
    let failed: Vec<&TargetOutcome> = outcomes.iter().filter(|t| !t.ok).collect();
    let place = match (
        report.identity.subnet_id.as_deref(),
        report.identity.availability_zone.as_deref(),
    ) {
        (Some(s), Some(az)) => format!(" from {s} ({az})"),
        (Some(s), None) => format!(" from {s}"),
        (None, Some(az)) => format!(" from {az}"),
        (None, None) => String::new(),
    };
    let verdict = verdict_name(report.verdict);
    let mut line = if failed.is_empty() {
        format!(
            "{verdict}: {n} of {n} targets ok{place}",
            n = outcomes.len()
        )
    } else {
        format!(
            "{verdict}: {} of {} targets failed{place}",
            failed.len(),
            outcomes.len()
        )
    };
    for class in [
        FailureClass::Egress,
        FailureClass::Destination,
        FailureClass::FamilyUnavailable,
        FailureClass::Probe,
    ] {
        let named: Vec<String> = failed
            .iter()
            .filter(|t| t.class() == Some(class))
            .map(|t| {
                let o = t.representative;
                match o.family {
                    Some(Family::Ipv6) => format!("{} {} (ipv6)", t.target, o.status),
                    _ => format!("{} {}", t.target, o.status),
                }
            })
            .collect();
        if named.is_empty() {
            continue;
        }
        let shown = named.len().min(5);
        line.push_str(&format!(
            " - {}: {}",
            class.as_str(),
            named[..shown].join(", ")
        ));
        if named.len() > shown {
            line.push_str(&format!(" and {} more", named.len() - shown));
        }
    }
    let analysis = match report.analysis.status {
        AnalysisStatus::Skipped => None,
        AnalysisStatus::Complete => Some("analysis complete"),
        AnalysisStatus::Partial => Some("analysis partial"),
        AnalysisStatus::Unavailable => Some("analysis unavailable"),
    };
    if let Some(a) = analysis {
        line.push_str(" - ");
        line.push_str(a);
        let codes: Vec<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
        if !codes.is_empty() {
            let shown = codes.len().min(3);
            line.push_str(&format!(
                ", {} finding{}: {}",
                codes.len(),
                if codes.len() == 1 { "" } else { "s" },
                codes[..shown].join(", ")
            ));
            if codes.len() > shown {
                line.push_str(", …");
            }
        }
    }
    line
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Healthy => "healthy",
        Verdict::Degraded => "degraded",
        Verdict::Broken => "broken",
    }
}

/// The log line: verdict and summary first, then the whole report in its own field order
/// (a struct, not a `Value`: a `serde_json::Map` would sort the keys).
#[derive(Serialize)]
struct LogLine<'a> {
    verdict: Verdict,
    summary: String,
    #[serde(rename = "type")]
    kind: &'static str,
    report: &'a Report,
}

/// The single structured log line that carries the whole report.
pub fn log_line(report: &Report) -> String {
    let line = LogLine {
        verdict: report.verdict,
        summary: summary(report),
        kind: "egress-probe.report",
        report,
    };
    // Serialising plain structs of strings and numbers cannot fail; say so if it ever does.
    serde_json::to_string(&line).unwrap_or_else(|e| {
        json!({"type": "egress-probe.report", "error": format!("cannot serialise the report: {e}")})
            .to_string()
    })
}

/// IPv6 refused locally: no IPv6 route in this environment.
fn no_ipv6_here(o: &Observation) -> bool {
    o.family == Some(crate::model::Family::Ipv6)
        && o.status == Status::Unreachable
        && matches!(o.os_error.as_deref(), Some("ENETUNREACH" | "EADDRNOTAVAIL"))
}

fn target_ok(observations: &[Observation], target: &str) -> bool {
    observations
        .iter()
        .any(|o| o.target == target && o.status.is_ok())
}

fn kind_name(k: CheckKind) -> &'static str {
    match k {
        CheckKind::Dns => "dns",
        CheckKind::Tcp => "tcp",
        CheckKind::Https => "https",
    }
}

/// The latency metric of a phase (the proxy exchange is part of the connect time).
fn phase_metric(phase: Phase) -> Option<&'static str> {
    match phase {
        Phase::Dns => Some(metrics::DNS),
        Phase::Proxy | Phase::Connect => Some(metrics::CONNECT),
        Phase::Tls => Some(metrics::TLS),
        Phase::FirstByte => Some(metrics::FIRST_BYTE),
        Phase::Body => None,
    }
}

/// The EMF lines of one invocation: one per target, then one heartbeat line. Dimensions:
/// (AvailabilityZone, SubnetId) and (AvailabilityZone); `Check`, `Target`, `Status`,
/// `FailureClass`, `Family` are properties for Logs Insights.
pub fn emf_lines(report: &Report, namespace: &str, timestamp_ms: u64) -> Vec<String> {
    let az = report
        .identity
        .availability_zone
        .clone()
        .unwrap_or_else(|| "unknown".into());
    let subnet = report
        .identity
        .subnet_id
        .clone()
        .unwrap_or_else(|| "unknown".into());
    let envelope = |metric_defs: Vec<Value>| {
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["AvailabilityZone", "SubnetId"], ["AvailabilityZone"]],
                    "Metrics": metric_defs,
                }]
            }),
        );
        line.insert("AvailabilityZone".into(), json!(az));
        line.insert("SubnetId".into(), json!(subnet));
        line
    };
    let outcomes = target_outcomes(&report.observations);
    let mut lines: Vec<String> = outcomes
        .iter()
        .map(|t| {
            let o = t.representative;
            let counts = [
                (metrics::SUCCESS, t.ok),
                (metrics::FAILURE, !t.ok),
                (metrics::EGRESS_FAILURE, t.egress),
                (metrics::DESTINATION_FAILURE, t.destination),
                (metrics::FAMILY_UNAVAILABLE, t.family_unavailable),
            ];
            let mut metric_defs: Vec<Value> = counts
                .iter()
                .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
                .collect();
            let mut fields = Map::new();
            for (name, value) in counts {
                fields.insert(name.into(), json!(u8::from(value)));
            }
            // Latencies of the phases the representative observation completed: a failed
            // phase's time is a wait, not a latency, and the total only counts when ok.
            let failed_metric = o.failed_phase.and_then(phase_metric);
            let p = &o.phases;
            let latencies = [
                (metrics::DNS, p.dns_ms),
                (metrics::CONNECT, p.connect_ms),
                (metrics::TLS, p.tls_ms),
                (metrics::FIRST_BYTE, p.first_byte_ms),
                (metrics::TOTAL, o.status.is_ok().then_some(p.total_ms)),
            ];
            for (name, value) in latencies {
                if let Some(v) = value
                    && failed_metric != Some(name)
                {
                    metric_defs.push(json!({"Name": name, "Unit": "Milliseconds"}));
                    fields.insert(name.into(), json!(crate::checks::round_us(v)));
                }
            }
            let mut line = envelope(metric_defs);
            line.insert("Check".into(), json!(kind_name(t.kind)));
            line.insert("Target".into(), json!(t.target));
            line.insert("Status".into(), json!(o.status.as_str()));
            if let Some(class) = t.class() {
                line.insert("FailureClass".into(), json!(class.as_str()));
            }
            if let Some(f) = o.family {
                line.insert("Family".into(), json!(f));
            }
            line.extend(fields);
            Value::Object(line).to_string()
        })
        .collect();
    let mut heartbeat = envelope(vec![json!({"Name": metrics::HEARTBEAT, "Unit": "Count"})]);
    heartbeat.insert("Verdict".into(), json!(report.verdict));
    heartbeat.insert("Targets".into(), json!(outcomes.len()));
    heartbeat.insert(metrics::HEARTBEAT.into(), json!(1));
    lines.push(Value::Object(heartbeat).to_string());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    pub(crate) fn obs(target: &str, status: Status) -> Observation {
        Observation {
            id: format!("{target}#{status}"),
            target: target.into(),
            kind: CheckKind::Tcp,
            host: "h".into(),
            port: Some(443),
            address: None,
            family: Some(Family::Ipv4),
            status,
            failed_phase: None,
            os_error: None,
            detail: None,
            phases: Phases {
                connect_ms: Some(1.25),
                total_ms: 1.5,
                ..Default::default()
            },
            http_status: None,
            proxy: None,
            dns: None,
            timeout_ms: 1000,
        }
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(&[obs("a", Status::Ok)]), Verdict::Healthy);
        assert_eq!(verdict(&[]), Verdict::Healthy);
        assert_eq!(
            verdict(&[obs("a", Status::Ok), obs("a", Status::Timeout)]),
            Verdict::Degraded
        );
        assert_eq!(
            verdict(&[obs("a", Status::Ok), obs("b", Status::Timeout)]),
            Verdict::Broken
        );
        // No IPv6 in this environment (ENETUNREACH at once) is not a fault when IPv4
        // reaches the same target; an IPv6 timeout is (R31).
        let mut v6 = obs("a", Status::Unreachable);
        v6.family = Some(Family::Ipv6);
        v6.os_error = Some("ENETUNREACH".into());
        assert_eq!(
            verdict(&[obs("a", Status::Ok), v6.clone()]),
            Verdict::Healthy
        );
        assert_eq!(verdict(&[v6.clone()]), Verdict::Broken);
        v6.status = Status::Timeout;
        v6.os_error = None;
        assert_eq!(verdict(&[obs("a", Status::Ok), v6]), Verdict::Degraded);
    }

    fn report_with(observations: Vec<Observation>) -> Report {
        let verdict = verdict(&observations);
        Report {
            schema: REPORT_SCHEMA.into(),
            probe_version: "0".into(),
            identity: Identity {
                subnet_id: Some("subnet-1".into()),
                availability_zone: Some("us-east-1a".into()),
                ..Default::default()
            },
            started_at: "t".into(),
            duration_ms: 1.0,
            budget_ms: 1,
            resolver: ResolverInfo::default(),
            plan: Plan {
                targets: vec![],
                dns_timeout_ms: 1,
                connect_timeout_ms: 1,
                https_timeout_ms: 1,
                diagnose: DiagnoseMode::Never,
                source: "event".into(),
            },
            observations,
            verdict,
            findings: vec![],
            paths: vec![],
            fix_proofs: vec![],
            analysis: Analysis::skipped("never"),
        }
    }

    fn v6(target: &str, status: Status, os_error: Option<&str>) -> Observation {
        let mut o = obs(target, status);
        o.family = Some(Family::Ipv6);
        o.os_error = os_error.map(str::to_string);
        o.id = format!("{target}@v6");
        o
    }

    fn line_for<'a>(lines: &'a [Value], target: &str) -> &'a Value {
        lines
            .iter()
            .find(|l| l["Target"] == target)
            .unwrap_or_else(|| panic!("no line for {target}"))
    }

    #[test]
    fn emf_lines_carry_dimensions_and_metrics() {
        let mut failed_connect = obs("tcp://down:443", Status::Timeout);
        failed_connect.failed_phase = Some(Phase::Connect);
        failed_connect.phases.connect_ms = Some(3000.0);
        failed_connect.phases.dns_ms = Some(2.5);
        let report = report_with(vec![obs("tcp://h:443", Status::Ok), failed_connect]);
        let lines = emf_lines(&report, "NS", 42);
        assert_eq!(lines.len(), 3, "one line per target and a heartbeat");
        let lines: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let ok = line_for(&lines, "tcp://h:443");
        assert_eq!(ok["_aws"]["CloudWatchMetrics"][0]["Namespace"], "NS");
        assert_eq!(ok["_aws"]["Timestamp"], 42);
        assert_eq!(ok["SubnetId"], "subnet-1");
        assert_eq!(ok["AvailabilityZone"], "us-east-1a");
        assert_eq!(ok["CheckSuccess"], 1);
        assert_eq!(ok["CheckFailure"], 0);
        assert_eq!(ok["EgressFailure"], 0);
        assert_eq!(ok["ConnectLatency"], 1.25);
        assert_eq!(ok["TotalLatency"], 1.5);
        assert!(ok.get("FailureClass").is_none());
        let bad = line_for(&lines, "tcp://down:443");
        assert_eq!(bad["CheckFailure"], 1);
        assert_eq!(bad["EgressFailure"], 1);
        assert_eq!(bad["DestinationFailure"], 0);
        assert_eq!(bad["Status"], "timeout");
        assert_eq!(bad["FailureClass"], "egress");
        assert_eq!(
            bad["DnsLatency"], 2.5,
            "a completed phase keeps its latency"
        );
        assert!(
            bad.get("ConnectLatency").is_none(),
            "the failed phase's wait is not a latency"
        );
        assert!(bad.get("TotalLatency").is_none(), "no total for a failure");
        // Every metric named in a directive has a value in its line, and is a known name.
        for line in &lines {
            for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
            {
                let name = m["Name"].as_str().unwrap();
                assert!(line.get(name).is_some(), "{name} in {line}");
                assert!(metrics::ALL.contains(&name), "{name}");
            }
        }
    }

    #[test]
    fn the_metrics_split_egress_destination_and_missing_family() {
        let mut https_503 = obs("https://svc/", Status::HttpStatus);
        https_503.kind = CheckKind::Https;
        https_503.http_status = Some(503);
        let mut proxy = obs("https://via-proxy/", Status::ProxyRefused);
        proxy.kind = CheckKind::Https;
        proxy.http_status = Some(407);
        let report = report_with(vec![
            // IPv4 works, the environment has no IPv6 (R31): not a failure, its own metric.
            obs("tcp://dual:443", Status::Ok),
            v6("tcp://dual:443", Status::Unreachable, Some("ENETUNREACH")),
            // The destination refuses (R36), with an IPv6 address this subnet lacks.
            obs("tcp://closed:443", Status::Refused),
            v6("tcp://closed:443", Status::Unreachable, Some("ENETUNREACH")),
            https_503,
            proxy,
            // Silent drop over IPv6 while IPv4 works: this subnet's IPv6 egress is broken.
            obs("tcp://v6broken:443", Status::Ok),
            v6("tcp://v6broken:443", Status::Timeout, Some("ETIMEDOUT")),
            obs("tcp://drop:443", Status::Timeout),
        ]);
        let lines: Vec<Value> = emf_lines(&report, "NS", 0)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines.len(),
            7,
            "six targets and a heartbeat, not one per address"
        );
        let rows = [
            // target, success, failure, egress, destination, family
            ("tcp://dual:443", 1, 0, 0, 0, 1),
            ("tcp://closed:443", 0, 1, 0, 1, 1),
            ("https://svc/", 0, 1, 0, 1, 0),
            ("https://via-proxy/", 0, 1, 1, 0, 0),
            ("tcp://v6broken:443", 0, 1, 1, 0, 0),
            ("tcp://drop:443", 0, 1, 1, 0, 0),
        ];
        for (target, success, failure, egress, destination, family) in rows {
            let l = line_for(&lines, target);
            assert_eq!(l["CheckSuccess"], success, "{target}");
            assert_eq!(l["CheckFailure"], failure, "{target}");
            assert_eq!(l["EgressFailure"], egress, "{target}");
            assert_eq!(l["DestinationFailure"], destination, "{target}");
            assert_eq!(l["FamilyUnavailable"], family, "{target}");
        }
        assert_eq!(line_for(&lines, "tcp://closed:443")["Status"], "refused");
        assert_eq!(
            line_for(&lines, "tcp://v6broken:443")["Family"],
            "ipv6",
            "the failure that speaks for the target is the IPv6 one"
        );
        // Only the egress failures would page: 3 of 6 targets.
        let paging: u64 = lines
            .iter()
            .filter_map(|l| l.get("EgressFailure").and_then(Value::as_u64))
            .sum();
        assert_eq!(paging, 3);
    }

    #[test]
    fn every_invocation_writes_one_heartbeat() {
        for observations in [vec![], vec![obs("tcp://drop:443", Status::Timeout)]] {
            let report = report_with(observations);
            let lines = emf_lines(&report, "NS", 7);
            let beats: Vec<Value> = lines
                .iter()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .filter(|l| l.get("Heartbeat").is_some())
                .collect();
            assert_eq!(beats.len(), 1);
            let beat = &beats[0];
            assert_eq!(beat["Heartbeat"], 1);
            assert_eq!(
                beat["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
                "Heartbeat"
            );
            assert_eq!(beat["SubnetId"], "subnet-1");
            assert_eq!(beat["Verdict"], json!(report.verdict));
            assert!(beat.get("Check").is_none(), "not a check line");
        }
    }

    #[test]
    fn the_log_line_starts_with_the_verdict_and_a_summary() {
        let mut report = report_with(vec![
            obs("tcp://h:443", Status::Ok),
            obs("tcp://drop:443", Status::Timeout),
            obs("tcp://closed:443", Status::Refused),
        ]);
        report.analysis = Analysis {
            status: AnalysisStatus::Complete,
            reason: None,
            gaps: vec![],
            api_calls: 14,
            duration_ms: 120.5,
            performed_by: Some("probe".into()),
        };
        let line = log_line(&report);
        let expected_start = "{\"verdict\":\"broken\",\"summary\":\"broken: 2 of 3 targets failed from subnet-1 (us-east-1a) - egress: tcp://drop:443 timeout - destination: tcp://closed:443 refused - analysis complete\",\"type\":\"egress-probe.report\",\"report\":{\"schema\":";
        assert!(line.starts_with(expected_start), "{line}");
        assert!(!line.contains('\n'), "one line");
        // The report keeps its own field order (not sorted: `analysis` is not first).
        let report_at = line.find("\"report\":").unwrap();
        let order: Vec<usize> = [
            "\"schema\"",
            "\"identity\"",
            "\"observations\"",
            "\"verdict\"",
            "\"analysis\"",
        ]
        .iter()
        .map(|k| report_at + line[report_at..].find(k).unwrap())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        let back: Value = serde_json::from_str(&line).unwrap();
        let parsed: Report = serde_json::from_value(back["report"].clone()).unwrap();
        assert_eq!(parsed, report);
    }

    #[test]
    fn summaries_of_healthy_and_long_reports() {
        let report = report_with(vec![obs("tcp://h:443", Status::Ok)]);
        assert_eq!(
            summary(&report),
            "healthy: 1 of 1 targets ok from subnet-1 (us-east-1a)"
        );
        let many: Vec<Observation> = (0..8)
            .map(|i| obs(&format!("tcp://t{i}:443"), Status::Timeout))
            .collect();
        let s = summary(&report_with(many));
        assert!(s.starts_with("broken: 8 of 8 targets failed"), "{s}");
        assert!(s.ends_with("tcp://t4:443 timeout and 3 more"), "{s}");
    }
}
