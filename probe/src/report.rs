//! The report: verdict, the structured log line, and CloudWatch Embedded Metric Format
//! lines (one per check) so scheduled runs become metrics and alarms with no API calls.

use crate::model::{CheckKind, Observation, Report, Status, Verdict};
use serde_json::{Map, Value, json};

/// Metric names written in EMF (the template's alarm and dashboard use them).
pub mod metrics {
    pub const SUCCESS: &str = "CheckSuccess";
    pub const FAILURE: &str = "CheckFailure";
    pub const DNS: &str = "DnsLatency";
    pub const CONNECT: &str = "ConnectLatency";
    pub const TLS: &str = "TlsLatency";
    pub const FIRST_BYTE: &str = "FirstByteLatency";
    pub const TOTAL: &str = "TotalLatency";
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

/// The single structured log line that carries the whole report.
pub fn log_line(report: &Report) -> String {
    json!({"type": "egress-probe.report", "report": report}).to_string()
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

/// One EMF line per observation. Dimensions: (AvailabilityZone, SubnetId) and
/// (AvailabilityZone); `Check`, `Target`, `Status` are properties for Logs Insights.
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
    report
        .observations
        .iter()
        .map(|o| {
            let mut metric_defs = vec![
                json!({"Name": metrics::SUCCESS, "Unit": "Count"}),
                json!({"Name": metrics::FAILURE, "Unit": "Count"}),
            ];
            let mut fields = Map::new();
            let ok = o.status == Status::Ok;
            fields.insert(metrics::SUCCESS.into(), json!(u8::from(ok)));
            fields.insert(metrics::FAILURE.into(), json!(u8::from(!ok)));
            let p = &o.phases;
            let latencies = [
                (metrics::DNS, p.dns_ms),
                (metrics::CONNECT, p.connect_ms),
                (metrics::TLS, p.tls_ms),
                (metrics::FIRST_BYTE, p.first_byte_ms),
                (metrics::TOTAL, ok.then_some(p.total_ms)),
            ];
            for (name, value) in latencies {
                if let Some(v) = value {
                    metric_defs.push(json!({"Name": name, "Unit": "Milliseconds"}));
                    fields.insert(name.into(), json!(round3(v)));
                }
            }
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
            line.insert("Check".into(), json!(kind_name(o.kind)));
            line.insert("Target".into(), json!(o.target));
            line.insert("Status".into(), json!(o.status.as_str()));
            if let Some(f) = o.family {
                line.insert("Family".into(), json!(f));
            }
            line.extend(fields);
            Value::Object(line).to_string()
        })
        .collect()
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
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

    #[test]
    fn emf_lines_carry_dimensions_and_metrics() {
        let report = Report {
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
            observations: vec![
                obs("tcp://h:443", Status::Ok),
                obs("tcp://h:443", Status::Timeout),
            ],
            verdict: Verdict::Degraded,
            findings: vec![],
            paths: vec![],
            analysis: Analysis::skipped("never"),
        };
        let lines = emf_lines(&report, "NS", 42);
        assert_eq!(lines.len(), 2);
        let ok: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(ok["_aws"]["CloudWatchMetrics"][0]["Namespace"], "NS");
        assert_eq!(ok["_aws"]["Timestamp"], 42);
        assert_eq!(ok["SubnetId"], "subnet-1");
        assert_eq!(ok["AvailabilityZone"], "us-east-1a");
        assert_eq!(ok["CheckSuccess"], 1);
        assert_eq!(ok["CheckFailure"], 0);
        assert_eq!(ok["ConnectLatency"], 1.25);
        assert_eq!(ok["TotalLatency"], 1.5);
        let bad: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(bad["CheckFailure"], 1);
        assert_eq!(bad["Status"], "timeout");
        assert!(
            bad.get("TotalLatency").is_none(),
            "no latency for a failure"
        );
        // Every metric named in the directive has a value in the line.
        for m in ok["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
        {
            assert!(ok.get(m["Name"].as_str().unwrap()).is_some());
        }
    }
}
