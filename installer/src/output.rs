//! Rendering: each command builds one result value that is `Serialize` (for `--output
//! json`) and renders as text here. stdout carries this result only.

use crate::cli::{Lang, OutputFormat};
use comfy_table::{Cell, Table, presets};
use egress_probe::model::{
    Finding, HopVerdict, Observation, PathEvaluation, PathVerdict, Report, Severity, Status,
};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// A command's result.
pub trait Render: Serialize {
    fn text(&self, lang: Lang) -> String;
}

/// Text or pretty JSON (always ending in a newline).
pub fn render<T: Render>(value: &T, format: OutputFormat, lang: Lang) -> String {
    let mut s = match format {
        OutputFormat::Text => value.text(lang),
        OutputFormat::Json => serde_json::to_string_pretty(value)
            .unwrap_or_else(|e| format!("{{\"error\":\"cannot serialise result: {e}\"}}")),
    };
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// One probe's outcome in a run: its report, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeRun {
    pub subnet_id: String,
    pub availability_zone: String,
    pub function: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    /// The invocation failed (API error, function error, unreadable answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The findings come from the installer's own snapshot (the probe could not diagnose).
    #[serde(default)]
    pub diagnosed_from_outside: bool,
}

impl ProbeRun {
    pub fn is_healthy(&self) -> bool {
        self.error.is_none()
            && self
                .report
                .as_ref()
                .is_some_and(|r| r.verdict == egress_probe::model::Verdict::Healthy)
    }
}

fn ms(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}ms")
    } else {
        format!("{v:.1}ms")
    }
}

/// The finding that explains an observation, if any.
pub fn explaining<'a>(report: &'a Report, obs: &Observation) -> Option<&'a Finding> {
    report
        .findings
        .iter()
        .filter(|f| f.explains.iter().any(|e| e == &obs.id))
        .min_by_key(|f| f.severity)
}

/// The text of one matrix cell: `ok 12ms`, `timeout NAT_ROUTE_BLACKHOLE`, or `-`.
pub fn cell(report: &Report, target: &str) -> String {
    let obs: Vec<&Observation> = report
        .observations
        .iter()
        .filter(|o| o.target == target)
        .collect();
    if obs.is_empty() {
        return "-".to_string();
    }
    let failed: Vec<&&Observation> = obs.iter().filter(|o| !o.status.is_ok()).collect();
    match failed.first() {
        None => {
            let worst = obs.iter().map(|o| o.phases.total_ms).fold(0.0, f64::max);
            format!("ok {}", ms(worst))
        }
        Some(first) => {
            let mut s = first.status.as_str().to_string();
            if let Some(f) = explaining(report, first) {
                s.push(' ');
                s.push_str(&f.code);
            }
            if failed.len() < obs.len() {
                let _ = write!(s, " ({}/{} ok)", obs.len() - failed.len(), obs.len());
            }
            s
        }
    }
}

/// Targets in first-seen order over all reports.
fn columns(probes: &[ProbeRun]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in probes.iter().filter_map(|p| p.report.as_ref()) {
        for t in r
            .plan
            .targets
            .iter()
            .map(|t| t.to_string())
            .chain(r.observations.iter().map(|o| o.target.clone()))
        {
            if seen.insert(t.clone()) {
                out.push(t);
            }
        }
    }
    out
}

/// The subnet x check matrix, rows grouped by AZ.
pub fn matrix(probes: &[ProbeRun]) -> String {
    let cols = columns(probes);
    let mut sorted: Vec<&ProbeRun> = probes.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.availability_zone, &a.subnet_id).cmp(&(&b.availability_zone, &b.subnet_id))
    });
    let mut table = Table::new();
    table.load_style(presets::ASCII_BORDERS_ONLY_CONDENSED);
    let mut header = vec![Cell::new("AZ"), Cell::new("subnet"), Cell::new("verdict")];
    header.extend(cols.iter().map(Cell::new));
    table.set_header(header);
    let mut last_az: Option<&str> = None;
    for p in sorted {
        let az = if last_az == Some(p.availability_zone.as_str()) {
            String::new()
        } else {
            p.availability_zone.clone()
        };
        last_az = Some(p.availability_zone.as_str());
        let mut row = vec![Cell::new(az), Cell::new(&p.subnet_id)];
        match (&p.report, &p.error) {
            (_, Some(err)) => {
                row.push(Cell::new("error"));
                row.push(Cell::new(err));
            }
            (Some(r), None) => {
                row.push(Cell::new(verdict_str(r)));
                row.extend(cols.iter().map(|c| Cell::new(cell(r, c))));
            }
            (None, None) => row.push(Cell::new("no report")),
        }
        table.add_row(row);
    }
    table.to_string()
}

fn verdict_str(r: &Report) -> &'static str {
    match r.verdict {
        egress_probe::model::Verdict::Healthy => "healthy",
        egress_probe::model::Verdict::Degraded => "degraded",
        egress_probe::model::Verdict::Broken => "broken",
    }
}

fn hop_verdict(v: HopVerdict) -> &'static str {
    match v {
        HopVerdict::Pass => "pass",
        HopVerdict::Block => "BLOCK",
        HopVerdict::Partial => "partial",
        HopVerdict::Unknown => "unknown",
    }
}

fn path_verdict(v: PathVerdict) -> &'static str {
    match v {
        PathVerdict::Reachable => "reachable",
        PathVerdict::Blocked => "blocked",
        PathVerdict::Intermittent => "intermittent",
        PathVerdict::NotVerifiable => "not verifiable from here",
    }
}

/// A path hop by hop; the first blocking (or partial) hop is marked `<-- breaks here`.
pub fn path(p: &PathEvaluation) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "  path {} -> {} {}/{}: {}",
        p.subnet_id,
        p.destination,
        p.protocol,
        p.port,
        path_verdict(p.verdict)
    );
    let breaking = p
        .hops
        .iter()
        .position(|h| h.verdict == HopVerdict::Block)
        .or_else(|| p.hops.iter().position(|h| h.verdict == HopVerdict::Partial));
    for (i, h) in p.hops.iter().enumerate() {
        let dir = match h.direction {
            egress_probe::model::Direction::Forward => "->",
            egress_probe::model::Direction::Return => "<-",
        };
        let mark = if Some(i) == breaking {
            "  <-- breaks here"
        } else {
            ""
        };
        let rules = if h.rules.is_empty() {
            String::new()
        } else {
            format!(" [{}]", h.rules.join(", "))
        };
        let _ = writeln!(
            s,
            "    {:>2}. {dir} {:<28} {:<24} {:<7} {}{rules}{mark}",
            i + 1,
            h.component,
            h.id,
            hop_verdict(h.verdict),
            h.decided_by
        );
    }
    s
}

/// The path evaluation that belongs to an observation.
pub fn path_for<'a>(report: &'a Report, obs: &Observation) -> Option<&'a PathEvaluation> {
    let subnet = report.identity.subnet_id.as_deref();
    let candidates = report
        .paths
        .iter()
        .filter(|p| subnet.is_none_or(|s| p.subnet_id == s))
        .filter(|p| p.target.as_deref().is_none_or(|t| t == obs.target));
    let mut best = None;
    for p in candidates {
        match obs.address {
            Some(a) if p.destination == a => return Some(p),
            _ => {
                if best.is_none() && obs.port.is_none_or(|port| port == p.port) {
                    best = Some(p);
                }
            }
        }
    }
    best
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// One finding with its remediation in `lang` and the commands that would fix it.
pub fn finding(f: &Finding, lang: Lang) -> String {
    let mut s = String::new();
    let where_ = f
        .subnet_id
        .as_deref()
        .map(|x| format!(" ({x})"))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "[{}] {}{where_}: {}",
        severity(f.severity),
        f.code,
        f.summary
    );
    if !f.resources.is_empty() {
        let _ = writeln!(s, "    resources: {}", f.resources.join(", "));
    }
    if !f.rules.is_empty() {
        let _ = writeln!(s, "    rules: {}", f.rules.join(", "));
    }
    let text = match lang {
        Lang::En => &f.remediation.en,
        Lang::Ja => &f.remediation.ja,
    };
    let label = match lang {
        Lang::En => "fix",
        Lang::Ja => "対処",
    };
    let _ = writeln!(s, "    {label}: {text}");
    for c in &f.fix_commands {
        let _ = writeln!(s, "    $ {c}");
    }
    s
}

/// Findings of several reports, once each (same code, subnet and resources).
pub fn unique_findings<'a>(reports: impl Iterator<Item = &'a Report>) -> Vec<&'a Finding> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in reports {
        for f in &r.findings {
            let key = (f.code.clone(), f.subnet_id.clone(), f.resources.clone());
            if seen.insert(key) {
                out.push(f);
            }
        }
    }
    out.sort_by_key(|f| f.severity);
    out
}

/// Each failed observation with its path, hop by hop.
pub fn failures(probes: &[ProbeRun]) -> String {
    let mut s = String::new();
    for p in probes {
        let Some(r) = &p.report else { continue };
        for o in r.observations.iter().filter(|o| !o.status.is_ok()) {
            let addr = o.address.map(|a| format!(" @ {a}")).unwrap_or_default();
            let os = o
                .os_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            let detail = o
                .detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "{} ({}) {}{addr}: {}{os}{detail}",
                p.subnet_id, p.availability_zone, o.target, o.status,
            );
            if let Some(f) = explaining(r, o) {
                let _ = writeln!(s, "  cause: {} ({})", f.code, f.summary);
            } else if o.status == Status::CutShort {
                let _ = writeln!(s, "  cause: the invocation ran out of time");
            }
            match path_for(r, o) {
                Some(path_eval) => s.push_str(&path(path_eval)),
                None => {
                    let why = r
                        .analysis
                        .reason
                        .as_deref()
                        .unwrap_or("no path evaluation in the report");
                    let _ = writeln!(s, "  path: not evaluated ({why})");
                }
            }
        }
    }
    s
}

/// Summary counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub probes: usize,
    pub healthy: usize,
    pub failing: usize,
    pub errors: usize,
}

pub fn summarize(probes: &[ProbeRun]) -> RunSummary {
    RunSummary {
        probes: probes.len(),
        healthy: probes.iter().filter(|p| p.is_healthy()).count(),
        failing: probes
            .iter()
            .filter(|p| p.error.is_none() && p.report.is_some() && !p.is_healthy())
            .count(),
        errors: probes.iter().filter(|p| p.error.is_some()).count(),
    }
}

/// The whole text of a run: matrix, failures with paths, findings, summary line.
pub fn run_text(probes: &[ProbeRun], lang: Lang) -> String {
    let mut s = matrix(probes);
    s.push('\n');
    let fails = failures(probes);
    if !fails.is_empty() {
        s.push_str("\nFailures\n");
        s.push_str(&fails);
    }
    let findings = unique_findings(probes.iter().filter_map(|p| p.report.as_ref()));
    if !findings.is_empty() {
        s.push_str(match lang {
            Lang::En => "\nFindings\n",
            Lang::Ja => "\n検出事項\n",
        });
        for f in findings {
            s.push_str(&finding(f, lang));
        }
    }
    let sum = summarize(probes);
    let _ = writeln!(
        s,
        "\n{} probes: {} healthy, {} failing, {} could not be run",
        sum.probes, sum.healthy, sum.failing, sum.errors
    );
    s
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Hand-built reports: two AZs, one subnet broken by a NAT route blackhole.
    use egress_probe::model::*;

    pub fn obs(id: &str, target: &str, status: Status, ms: f64) -> Observation {
        Observation {
            id: id.into(),
            target: target.into(),
            kind: if target.starts_with("dns:") {
                CheckKind::Dns
            } else {
                CheckKind::Tcp
            },
            host: "example.com".into(),
            port: if target.starts_with("dns:") {
                None
            } else {
                Some(443)
            },
            address: if target.starts_with("dns:") {
                None
            } else {
                Some("192.0.2.10".parse().unwrap())
            },
            family: None,
            status,
            failed_phase: None,
            os_error: if status == Status::Timeout {
                Some("ETIMEDOUT".into())
            } else {
                None
            },
            detail: None,
            phases: Phases {
                total_ms: ms,
                ..Default::default()
            },
            http_status: None,
            proxy: None,
            dns: None,
            timeout_ms: 3000,
        }
    }

    pub fn report(subnet: &str, az: &str, broken: bool) -> Report {
        let targets = vec![
            Target::Dns {
                name: "example.com".into(),
            },
            Target::Tcp {
                host: "example.com".into(),
                port: 443,
            },
        ];
        let tcp_id = format!("tcp://example.com:443@192.0.2.10#{subnet}");
        let observations = vec![
            obs(&format!("dns#{subnet}"), "dns:example.com", Status::Ok, 3.2),
            obs(
                &tcp_id,
                "tcp://example.com:443",
                if broken { Status::Timeout } else { Status::Ok },
                if broken { 3000.0 } else { 41.7 },
            ),
        ];
        let (findings, paths) = if broken {
            (
                vec![Finding {
                    code: "NAT_ROUTE_BLACKHOLE".into(),
                    severity: Severity::Error,
                    confirmation: Confirmation::Confirmed,
                    summary: "0.0.0.0/0 points at deleted NAT gateway nat-0dead".into(),
                    subnet_id: Some(subnet.into()),
                    resources: vec!["rtb-0b".into(), "nat-0dead".into()],
                    rules: vec!["R8".into()],
                    explains: vec![tcp_id.clone()],
                    remediation: Remediation {
                        en: "Point 0.0.0.0/0 at an available NAT gateway.".into(),
                        ja: "0.0.0.0/0 を利用可能な NAT ゲートウェイに向けてください。".into(),
                    },
                    fix_commands: vec![
                        "aws ec2 replace-route --route-table-id rtb-0b --destination-cidr-block 0.0.0.0/0 --nat-gateway-id nat-0live".into(),
                    ],
                }],
                vec![PathEvaluation {
                    subnet_id: subnet.into(),
                    target: Some("tcp://example.com:443".into()),
                    destination: "192.0.2.10".parse().unwrap(),
                    protocol: "tcp".into(),
                    port: 443,
                    family: Family::Ipv4,
                    verdict: PathVerdict::Blocked,
                    hops: vec![
                        Hop {
                            direction: Direction::Forward,
                            component: "security_group".into(),
                            id: "sg-0probe".into(),
                            subnet_id: Some(subnet.into()),
                            verdict: HopVerdict::Pass,
                            decided_by: "egress all 0.0.0.0/0".into(),
                            rules: vec!["R19".into()],
                        },
                        Hop {
                            direction: Direction::Forward,
                            component: "route_table".into(),
                            id: "rtb-0b".into(),
                            subnet_id: Some(subnet.into()),
                            verdict: HopVerdict::Block,
                            decided_by: "0.0.0.0/0 -> nat-0dead (blackhole)".into(),
                            rules: vec!["R8".into()],
                        },
                    ],
                }],
            )
        } else {
            (vec![], vec![])
        };
        Report {
            schema: REPORT_SCHEMA.into(),
            probe_version: "0.1.0".into(),
            identity: Identity {
                function_name: Some(format!("egress-probe-{subnet}")),
                subnet_id: Some(subnet.into()),
                availability_zone: Some(az.into()),
                vpc_id: Some("vpc-1".into()),
                ..Default::default()
            },
            started_at: "2026-01-01T00:00:00Z".into(),
            duration_ms: 100.0,
            budget_ms: 18000,
            resolver: ResolverInfo::default(),
            plan: Plan {
                targets,
                dns_timeout_ms: 2000,
                connect_timeout_ms: 3000,
                https_timeout_ms: 5000,
                diagnose: DiagnoseMode::OnFailure,
                source: "defaults".into(),
            },
            observations,
            verdict: if broken {
                Verdict::Broken
            } else {
                Verdict::Healthy
            },
            findings,
            paths,
            analysis: Analysis {
                status: AnalysisStatus::Complete,
                reason: None,
                gaps: vec![],
                api_calls: 9,
                duration_ms: 80.0,
                performed_by: Some("probe".into()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::report;
    use super::*;

    fn probes() -> Vec<ProbeRun> {
        [
            ("subnet-b1", "us-east-1b", true),
            ("subnet-a1", "us-east-1a", false),
            ("subnet-a2", "us-east-1a", false),
        ]
        .iter()
        .map(|(s, az, broken)| ProbeRun {
            subnet_id: s.to_string(),
            availability_zone: az.to_string(),
            function: format!("egress-probe-{s}"),
            report: Some(report(s, az, *broken)),
            error: None,
            diagnosed_from_outside: false,
        })
        .collect()
    }

    #[test]
    fn cells_show_latency_or_failure_with_finding() {
        let ok = report("subnet-a1", "us-east-1a", false);
        assert_eq!(cell(&ok, "tcp://example.com:443"), "ok 42ms");
        assert_eq!(cell(&ok, "dns:example.com"), "ok 3.2ms");
        assert_eq!(cell(&ok, "https://nothing/"), "-");
        let bad = report("subnet-b1", "us-east-1b", true);
        assert_eq!(
            cell(&bad, "tcp://example.com:443"),
            "timeout NAT_ROUTE_BLACKHOLE"
        );
    }

    #[test]
    fn matrix_groups_rows_by_az() {
        let m = matrix(&probes());
        let lines: Vec<&str> = m.lines().collect();
        let a1 = lines.iter().position(|l| l.contains("subnet-a1")).unwrap();
        let a2 = lines.iter().position(|l| l.contains("subnet-a2")).unwrap();
        let b1 = lines.iter().position(|l| l.contains("subnet-b1")).unwrap();
        assert!(a1 < a2 && a2 < b1, "{m}");
        // The AZ is printed once per group.
        assert!(lines[a1].contains("us-east-1a"));
        assert!(!lines[a2].contains("us-east-1a"));
        assert!(lines[b1].contains("us-east-1b"));
        assert!(lines[b1].contains("broken"));
        assert!(lines[b1].contains("timeout NAT_ROUTE_BLACKHOLE"));
        assert!(lines[a1].contains("ok 42ms"));
        assert!(m.contains("dns:example.com") && m.contains("tcp://example.com:443"));
    }

    #[test]
    fn failure_path_marks_the_breaking_hop() {
        let text = run_text(&probes(), Lang::En);
        let hop = text
            .lines()
            .find(|l| l.contains("rtb-0b") && l.contains("BLOCK"))
            .unwrap();
        assert!(hop.ends_with("<-- breaks here"), "{hop}");
        let sg = text.lines().find(|l| l.contains("sg-0probe")).unwrap();
        assert!(!sg.contains("breaks here"));
        assert!(text.contains(
            "subnet-b1 (us-east-1b) tcp://example.com:443 @ 192.0.2.10: timeout (ETIMEDOUT)"
        ));
        assert!(text.contains("[error] NAT_ROUTE_BLACKHOLE (subnet-b1)"));
        assert!(text.contains("fix: Point 0.0.0.0/0 at an available NAT gateway."));
        assert!(text.contains("$ aws ec2 replace-route --route-table-id rtb-0b"));
        assert!(text.contains("3 probes: 2 healthy, 1 failing, 0 could not be run"));
    }

    #[test]
    fn japanese_remediation() {
        let text = run_text(&probes(), Lang::Ja);
        assert!(text.contains("対処: 0.0.0.0/0 を利用可能な NAT ゲートウェイに向けてください。"));
        assert!(!text.contains("Point 0.0.0.0/0"));
    }

    #[test]
    fn invocation_errors_are_rows_too() {
        let mut p = probes();
        p[1].report = None;
        p[1].error = Some("lambda:Invoke failed: TooManyRequestsException".into());
        let m = matrix(&p);
        let row = m.lines().find(|l| l.contains("subnet-a1")).unwrap();
        assert!(row.contains("error") && row.contains("TooManyRequestsException"));
        assert_eq!(
            summarize(&p),
            RunSummary {
                probes: 3,
                healthy: 1,
                failing: 1,
                errors: 1
            }
        );
    }
}
