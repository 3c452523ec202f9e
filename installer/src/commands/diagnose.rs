//! `diagnose`: the configuration-only analysis of a function, subnets or a VPC, with no
//! probe: a snapshot (taken now, or read from `--snapshot FILE`), flows to the targets
//! (host names resolved here), and the diagnosis engine's findings and paths.

use crate::cli::{DiagnoseArgs, Lang};
use crate::output::{self, Render};
use crate::target;
use crate::{Ctx, Outcome, exit, outcome};
use anyhow::{Context, Result, anyhow, bail};
use egress_probe::diagnosis::simulate::{Baseline, FixProof, WhatIf, prove_with};
use egress_probe::diagnosis::{self, Flow, Subject};
use egress_probe::model::{
    Finding, GapKind, NetworkSnapshot, PathEvaluation, PathVerdict, Protocol, Severity,
    SnapshotGap, Target,
};
use egress_probe::snapshot::{self, Scope, SnapshotError};
use serde::Serialize;
use std::net::IpAddr;

#[derive(Debug, Clone, Serialize)]
pub struct DiagnoseResult {
    /// `function NAME`, `subnets …`, `vpc …`.
    pub scope: String,
    /// `aws` or the snapshot file read.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saved_snapshot: Option<String>,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub targets: Vec<String>,
    /// Targets not evaluated as flows, and why (DNS targets, names that did not resolve).
    pub notes: Vec<String>,
    /// Requested targets that produced no path (their name did not resolve here): not
    /// evaluated, so never reported healthy.
    pub not_evaluated: Vec<String>,
    /// `healthy`, `broken`, `incomplete` (calls denied or failed) or `not_evaluated`
    /// (a target or a snapshot call could not be evaluated), as the exit code says.
    pub status: &'static str,
    pub findings: Vec<Finding>,
    pub paths: Vec<PathEvaluation>,
    pub gaps: Vec<SnapshotGap>,
    /// Each printed fix, simulated on a copy of the snapshot (issue 11).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fix_proofs: Vec<FixProof>,
    /// `--what-if`: what the given changes would fix or break.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what_if: Option<WhatIf>,
}

impl DiagnoseResult {
    pub fn broken(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
            || self.paths.iter().any(|p| p.verdict == PathVerdict::Blocked)
    }

    /// Calls that were denied, throttled, unreachable or failed: the analysis lacks data
    /// it needs. (A call the endpoint does not implement, such as Block Public Access
    /// outside AWS, is a note, not a failure to analyse.)
    pub fn incomplete(&self) -> bool {
        self.gaps.iter().any(|g| g.kind != GapKind::Unsupported)
    }

    /// Some requested path was not evaluated: a target did not resolve here, no path was
    /// evaluated at all, or a snapshot call is unsupported (partial analysis).
    pub fn partial(&self) -> bool {
        !self.not_evaluated.is_empty()
            || (self.paths.is_empty() && !self.targets.is_empty() && !self.only_dns_targets())
            || self.gaps.iter().any(|g| g.kind == GapKind::Unsupported)
    }

    fn only_dns_targets(&self) -> bool {
        self.targets.iter().all(|t| t.starts_with("dns:"))
    }

    /// 1 when something is broken; 2 when nothing broken was found but the analysis lacks
    /// data (denied or failed calls); 3 when a requested path was not evaluated (an
    /// unresolved target, an unsupported call); 0 only when every requested path was
    /// evaluated and is healthy.
    pub fn exit_code(&self) -> u8 {
        // `--what-if`: the answer is about the change. 2 when it cannot be applied (AWS
        // would refuse it), 1 when it breaks a path or adds an error, else as below for
        // what could be evaluated.
        if let Some(w) = &self.what_if {
            if w.refused.is_some() {
                return exit::ERROR;
            }
            if w.effects.iter().any(|e| e.effect == "breaks") {
                return exit::FAILURES;
            }
            return if self.incomplete() {
                exit::ERROR
            } else if self.partial() {
                exit::NOT_EVALUATED
            } else {
                exit::OK
            };
        }
        if self.broken() {
            exit::FAILURES
        } else if self.incomplete() {
            exit::ERROR
        } else if self.partial() {
            exit::NOT_EVALUATED
        } else {
            exit::OK
        }
    }

    pub fn status_word(&self) -> &'static str {
        match self.exit_code() {
            exit::FAILURES => "broken",
            exit::ERROR => "incomplete",
            exit::NOT_EVALUATED => "not_evaluated",
            _ => "healthy",
        }
    }
}

impl Render for DiagnoseResult {
    fn text(&self, lang: Lang) -> String {
        output::diagnose_text(self, &output::Style::plain(lang))
    }
    fn styled_text(&self, style: &output::Style) -> String {
        output::diagnose_text(self, style)
    }
}

pub async fn run(ctx: &mut Ctx, args: &DiagnoseArgs) -> Result<Outcome> {
    let (snapshot, source, saved) = match &args.snapshot {
        Some(path) => {
            let snap =
                snapshot::load(path).with_context(|| format!("--snapshot {}", path.display()))?;
            (snap, path.display().to_string(), None)
        }
        None => {
            let scope = if let Some(f) = &args.function {
                Scope::Function(f.clone())
            } else if !args.subnet.is_empty() {
                Scope::Subnets(args.subnet.clone())
            } else if let Some(v) = &args.vpc {
                Scope::Vpc(v.clone())
            } else {
                bail!("nothing to diagnose: pass --function, --subnet, --vpc or --snapshot FILE");
            };
            let clients = ctx.clients().await?;
            let snap_clients = clients
                .snapshot_clients_with(args.network_role.as_deref())
                .await?;
            let snap = snapshot::take(&snap_clients, &scope)
                .await
                .map_err(|e| snapshot_error(e, &clients.region))?;
            let saved = match &args.save_snapshot {
                Some(p) => {
                    snapshot::save(&snap, p)?;
                    Some(p.display().to_string())
                }
                None => None,
            };
            (snap, "aws".to_string(), saved)
        }
    };
    let targets: Vec<String> = if args.targets.is_empty() {
        let region = snapshot.region.as_deref().or(ctx.global.region.as_deref());
        target::default_targets(region)
    } else {
        args.targets.clone()
    }
    .iter()
    .map(ToString::to_string)
    .collect();
    let (scope, subject) = subject(&snapshot, args)?;
    let (flows, notes) = flows(&targets).await;
    let names = dns_names(&targets);
    let not_evaluated = not_evaluated(&targets, &flows);
    let mut d = diagnosis::diagnose_names(&snapshot, &subject, &flows, &names, &[]);
    // Issue 11: every printed fix is simulated first (and a safer alternative chosen
    // where the first breaks something); --what-if simulates the operator's changes.
    let base = Baseline::from_diagnosis(&snapshot, &subject, &flows, &names, &d);
    let fix_proofs = prove_with(&base, &mut d);
    let what_if = (!args.what_if.is_empty()).then(|| base.what_if(&args.what_if));
    let mut result = DiagnoseResult {
        scope,
        source,
        saved_snapshot: saved,
        subnet_ids: subject.subnet_ids.clone(),
        security_group_ids: subject.security_group_ids.clone(),
        targets,
        notes,
        not_evaluated,
        status: "healthy",
        findings: d.findings,
        paths: d.paths,
        gaps: snapshot.gaps.clone(),
        fix_proofs,
        what_if,
    };
    result.status = result.status_word();
    let code = result.exit_code();
    Ok(outcome(ctx, &result, code))
}

/// A snapshot that could not be taken, in words that name the Region searched.
pub fn snapshot_error(e: SnapshotError, region: &str) -> anyhow::Error {
    match e {
        SnapshotError::FunctionNotFound(name) => anyhow!(
            "function {name} not found in {region}: check the name, or pass --region for its Region"
        ),
        SnapshotError::SubnetNotFound(id) => anyhow!(
            "subnet {id} not found in {region}: check the ID, or pass --region for its Region"
        ),
        SnapshotError::VpcNotFound(id) => {
            anyhow!("VPC {id} not found in {region}: check the ID, or pass --region for its Region")
        }
        SnapshotError::NotInVpc(name) => {
            anyhow!("function {name} is not attached to a VPC: its egress does not go through one")
        }
        SnapshotError::Api { call, reason } => anyhow!("{call} failed in {region}: {reason}"),
        other => anyhow!("{other}"),
    }
}

/// Whose egress: the function's subnets and groups, the given subnets, or a VPC's subnets.
pub fn subject(snapshot: &NetworkSnapshot, args: &DiagnoseArgs) -> Result<(String, Subject)> {
    let (scope, function, subnet_ids, mut groups) = if let Some(name) = &args.function {
        let Some(f) = snapshot.function(name) else {
            bail!("function {name} is not in the snapshot");
        };
        if !f.in_vpc() {
            bail!("function {name} is not attached to a VPC: its egress does not go through one");
        }
        (
            format!("function {name}"),
            Some(f.name.clone()),
            f.subnet_ids.clone(),
            f.security_group_ids.clone(),
        )
    } else if !args.subnet.is_empty() {
        if let Some(missing) = args.subnet.iter().find(|s| snapshot.subnet(s).is_none()) {
            bail!("subnet {missing} is not in the snapshot");
        }
        (
            format!("subnets {}", args.subnet.join(", ")),
            None,
            args.subnet.clone(),
            vec![],
        )
    } else {
        let vpc = match &args.vpc {
            Some(v) => v.clone(),
            None => match snapshot.vpcs.as_slice() {
                [one] => one.id.clone(),
                [] => bail!("the snapshot holds no VPC"),
                _ => bail!("the snapshot holds several VPCs: pass --vpc, --subnet or --function"),
            },
        };
        let subnets: Vec<String> = snapshot
            .subnets
            .iter()
            .filter(|s| s.vpc_id == vpc)
            .map(|s| s.id.clone())
            .collect();
        if subnets.is_empty() {
            bail!("VPC {vpc} has no subnet in the snapshot");
        }
        (format!("vpc {vpc}"), None, subnets, vec![])
    };
    if !args.security_groups.is_empty() {
        groups = args.security_groups.clone();
    }
    if groups.is_empty() {
        // A new ENI without groups gets the VPC's default group.
        let vpc = subnet_ids
            .first()
            .and_then(|s| snapshot.subnet(s))
            .map(|s| s.vpc_id.clone());
        if let Some(g) = snapshot
            .security_groups
            .iter()
            .find(|g| Some(&g.vpc_id) == vpc.as_ref() && g.name.as_deref() == Some("default"))
        {
            groups.push(g.id.clone());
        }
    }
    Ok((
        scope,
        Subject {
            function,
            subnet_ids,
            security_group_ids: groups,
        },
    ))
}

/// The names of `dns:` targets: their resolution is predicted (R58-R62), not a flow.
pub fn dns_names(targets: &[String]) -> Vec<String> {
    targets
        .iter()
        .filter_map(|t| match egress_probe::settings::parse_target(t) {
            Ok(Target::Dns { name }) => Some(name),
            _ => None,
        })
        .collect()
}

/// The requested targets (other than `dns:` ones, whose resolution is predicted from the
/// snapshot) that gave no flow: not valid, or their host name did not resolve on the
/// diagnosing side.
pub fn not_evaluated(targets: &[String], flows: &[Flow]) -> Vec<String> {
    targets
        .iter()
        .filter(|t| !t.starts_with("dns:"))
        .filter(|t| !flows.iter().any(|f| &f.target == *t))
        .cloned()
        .collect()
}

/// Flows to the targets: IP literals as they are, host names resolved here (up to four
/// addresses each). DNS targets are not flows: the Amazon resolver is not filtered by
/// security groups or NACLs (R25); the engine checks the DNS settings itself.
pub async fn flows(targets: &[String]) -> (Vec<Flow>, Vec<String>) {
    let mut flows = Vec::new();
    let mut notes = Vec::new();
    for t in targets {
        let Ok(parsed) = egress_probe::settings::parse_target(t) else {
            notes.push(format!("{t}: not a valid target"));
            continue;
        };
        let (host, port) = match &parsed {
            Target::Dns { name } => {
                notes.push(format!(
                    "dns:{name}: resolution predicted, not a flow (R58-R62; custom DNS servers: R25)"
                ));
                continue;
            }
            Target::Tcp { host, port } | Target::Https { host, port, .. } => (host.clone(), *port),
        };
        let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => match tokio::net::lookup_host((host.as_str(), port)).await {
                Ok(addrs) => {
                    let mut v: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                    v.sort();
                    v.dedup();
                    v.truncate(4);
                    v
                }
                Err(e) => {
                    notes.push(format!(
                        "{t}: {host} does not resolve here ({e}); not evaluated"
                    ));
                    continue;
                }
            },
        };
        let is_name = host.parse::<IpAddr>().is_err();
        for destination in addresses {
            flows.push(Flow {
                target: t.clone(),
                host: is_name.then(|| host.clone()),
                destination,
                protocol: Protocol::TCP,
                port,
            });
        }
    }
    (flows, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evaluated(targets: &[&str], not_evaluated: &[&str], paths: usize) -> DiagnoseResult {
        let path = PathEvaluation {
            subnet_id: "subnet-1".into(),
            target: Some("tcp://192.0.2.10:443".into()),
            destination: "192.0.2.10".parse().unwrap(),
            protocol: "tcp".into(),
            port: 443,
            family: egress_probe::model::Family::Ipv4,
            verdict: PathVerdict::Reachable,
            hops: vec![],
        };
        DiagnoseResult {
            scope: "vpc vpc-1".into(),
            source: "test".into(),
            saved_snapshot: None,
            subnet_ids: vec!["subnet-1".into()],
            security_group_ids: vec![],
            targets: targets.iter().map(|s| s.to_string()).collect(),
            notes: vec![],
            not_evaluated: not_evaluated.iter().map(|s| s.to_string()).collect(),
            status: "healthy",
            findings: vec![],
            paths: vec![path; paths],
            gaps: vec![],
            fix_proofs: vec![],
            what_if: None,
        }
    }

    /// Issue 11: a target that did not resolve here is "not evaluated" (exit 3), never
    /// "No findings" with exit 0 — also when no target resolved at all.
    #[tokio::test]
    async fn unresolved_target_is_not_evaluated_not_healthy() {
        let targets = vec![
            "https://no-such-host.invalid/".to_string(),
            "tcp://192.0.2.10:443".to_string(),
        ];
        let (flows, _) = flows(&targets).await;
        assert_eq!(
            not_evaluated(&targets, &flows),
            vec!["https://no-such-host.invalid/".to_string()]
        );
        let r = evaluated(
            &["https://no-such-host.invalid/", "tcp://192.0.2.10:443"],
            &["https://no-such-host.invalid/"],
            1,
        );
        assert_eq!(r.exit_code(), exit::NOT_EVALUATED);
        assert_eq!(r.status_word(), "not_evaluated");
        let text = r.text(Lang::En);
        assert!(!text.contains("No findings:"), "{text}");
        assert!(
            text.contains("Not evaluated: https://no-such-host.invalid/ could"),
            "{text}"
        );
        // None resolved: no path at all.
        let none = evaluated(
            &["https://no-such-host.invalid/"],
            &["https://no-such-host.invalid/"],
            0,
        );
        assert_eq!(none.exit_code(), exit::NOT_EVALUATED);
        // Everything evaluated and reachable: 0.
        let ok = evaluated(&["tcp://192.0.2.10:443"], &[], 1);
        assert_eq!(ok.exit_code(), exit::OK);
        assert!(ok.text(Lang::En).contains("No findings:"));
    }

    /// Issue 11: a partial analysis (a call the endpoint does not support) is not 0; a
    /// denied call stays 2.
    /// Issue 11: a printed fix with no change behind it (a value the snapshot does not
    /// hold, as the transit gateway's egress attachment when no route names it) says it was
    /// not simulated and names the value, in 80 columns, in both languages; a proven fix
    /// says what the simulation found instead.
    #[test]
    fn unsimulated_fix_is_said_with_its_placeholder() {
        let mut d = evaluated(&["tcp://192.0.2.10:443"], &[], 1);
        let finding = |code: &str, cmd: &str| egress_probe::model::Finding {
            code: code.into(),
            severity: egress_probe::model::Severity::Error,
            confirmation: egress_probe::model::Confirmation::Predicted,
            summary: "the spoke table has no default route".into(),
            summary_ja: None,
            subnet_id: Some("subnet-1".into()),
            resources: vec![],
            rules: vec!["R39".into()],
            explains: vec![],
            remediation: egress_probe::model::Remediation {
                en: "add a default route".into(),
                ja: "既定ルートを追加".into(),
            },
            fix_commands: vec![cmd.into()],
        };
        d.findings = vec![
            finding(
                "TGW_NO_ROUTE",
                "aws ec2 create-transit-gateway-route --transit-gateway-route-table-id \
                 tgw-rtb-1 --destination-cidr-block 0.0.0.0/0 --transit-gateway-attachment-id \
                 <egress-vpc-attachment-id>",
            ),
            finding(
                "NO_DEFAULT_ROUTE",
                "aws ec2 create-route --route-table-id rtb-1",
            ),
            finding(
                "BPA_NOT_VERIFIABLE",
                "aws ec2 describe-vpc-block-public-access-options",
            ),
        ];
        d.status = "failing";
        for lang in [Lang::En, Lang::Ja] {
            let text = output::diagnose_text(&d, &output::Style::plain(lang));
            for line in text.lines() {
                assert!(
                    unicode_width::UnicodeWidthStr::width(line) <= 80,
                    "{line:?}"
                );
            }
            let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let (first, second) = match lang {
                Lang::En => (
                    "not simulated: the commands need <egress-vpc-attachment-id>",
                    "not simulated: check the change before running it",
                ),
                Lang::Ja => (
                    "シミュレーションしていません：コマンドにはスナップショットにない値 <egress-vpc-attachment-id> が必要です",
                    "シミュレーションしていません：実行前に変更を確認してください",
                ),
            };
            assert!(flat.contains(first), "{text}");
            assert!(flat.contains(second), "{text}");
            // Advice-only codes are said to be advice, not an unsimulated change.
            let advice = match lang {
                Lang::En => "advice, not simulated: permissions to read Block Public Access",
                Lang::Ja => "助言のみ：シミュレーションの対象外です",
            };
            assert!(flat.contains(advice), "{text}");
            assert_eq!(
                flat.matches(second).count(),
                1,
                "only the unproven change is said to need checking: {text}"
            );
        }
        // With a proof, the proof is said instead.
        d.findings.truncate(1);
        d.fix_proofs = vec![egress_probe::diagnosis::simulate::FixProof {
            finding: 0,
            code: "TGW_NO_ROUTE".into(),
            subnet_id: Some("subnet-1".into()),
            alternative: 0,
            changes: vec![],
            clears: true,
            breaks: vec![],
            refused: None,
            evaluated_subnets: 1,
            side_effects: vec![],
        }];
        let text = output::diagnose_text(&d, &output::Style::plain(Lang::En));
        assert!(
            text.contains("simulated: clears TGW_NO_ROUTE on subnet-1"),
            "{text}"
        );
        assert!(!text.contains("not simulated"), "{text}");
    }

    #[test]
    fn partial_analysis_is_not_zero() {
        let gap = |kind| SnapshotGap {
            call: "DescribeVpcBlockPublicAccessOptions".into(),
            kind,
            reason: "x".into(),
            account: None,
        };
        let mut r = evaluated(&["tcp://192.0.2.10:443"], &[], 1);
        r.gaps = vec![gap(GapKind::Unsupported)];
        assert_eq!(r.exit_code(), exit::NOT_EVALUATED);
        r.gaps = vec![gap(GapKind::Denied)];
        assert_eq!(r.exit_code(), exit::ERROR);
    }

    fn result(gaps: &[GapKind], error_finding: bool) -> DiagnoseResult {
        let finding: Finding = serde_json::from_value(serde_json::json!({
            "code": "NO_DEFAULT_ROUTE", "severity": "error", "confirmation": "predicted",
            "summary": "no route", "remediation": {"en": "add one", "ja": "追加"}
        }))
        .unwrap();
        DiagnoseResult {
            scope: "subnets subnet-1".into(),
            source: "aws".into(),
            saved_snapshot: None,
            subnet_ids: vec!["subnet-1".into()],
            security_group_ids: vec![],
            targets: vec![],
            notes: vec![],
            not_evaluated: vec![],
            status: "healthy",
            findings: if error_finding { vec![finding] } else { vec![] },
            paths: vec![],
            gaps: gaps
                .iter()
                .map(|k| {
                    serde_json::from_value::<SnapshotGap>(serde_json::json!({
                        "call": "ec2:DescribeRouteTables", "kind": k, "reason": "x"
                    }))
                    .unwrap()
                })
                .collect(),
            fix_proofs: vec![],
            what_if: None,
        }
    }

    #[test]
    fn exit_codes_say_whether_the_analysis_could_be_made() {
        assert_eq!(result(&[], false).exit_code(), 0);
        // Issue 11: an action the endpoint does not implement (BPA outside AWS) leaves
        // part of the analysis undone: a partial analysis is never 0 (exit 3).
        assert_eq!(
            result(&[GapKind::Unsupported], false).exit_code(),
            exit::NOT_EVALUATED
        );
        for kind in [
            GapKind::Denied,
            GapKind::Throttled,
            GapKind::Unreachable,
            GapKind::Error,
        ] {
            let r = result(&[kind], false);
            assert_eq!(r.exit_code(), 2, "{kind:?}");
            assert!(r.text(Lang::En).contains("incomplete"), "{kind:?}");
        }
        assert_eq!(result(&[GapKind::Denied], true).exit_code(), 1);
    }

    #[tokio::test]
    async fn ip_targets_become_flows_without_resolution() {
        let (flows, notes) = flows(&[
            "tcp://192.0.2.10:443".to_string(),
            "https://[2001:db8::5]:8443/x".to_string(),
            "dns:example.com".to_string(),
        ])
        .await;
        assert_eq!(flows.len(), 2);
        assert_eq!(
            flows[0].destination,
            "192.0.2.10".parse::<IpAddr>().unwrap()
        );
        assert_eq!(flows[0].port, 443);
        assert_eq!(flows[0].host, None);
        assert_eq!(flows[1].port, 8443);
        assert_eq!(flows[1].protocol, Protocol::TCP);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("R25"));
    }
}
