//! `status`: the installed probes with their subnet, AZ, state, schedule and version.

use crate::aws::{self, Clients, api_error};
use crate::cli::{Lang, StatusArgs};
use crate::lang::tr;
use crate::output::{self, Render};
use crate::plan;
use crate::{Ctx, Outcome, outcome};
use anyhow::Result;
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeStatus {
    pub function: String,
    pub subnet_id: String,
    pub availability_zone: Option<String>,
    pub vpc_id: Option<String>,
    pub state: Option<String>,
    pub last_update_status: Option<String>,
    pub schedule: Option<String>,
    pub architecture: Option<String>,
    /// The newest published version (`PublishVersion`); null when only `$LATEST` exists.
    pub published_version: Option<String>,
    pub code_sha256: String,
    /// The probe's targets; empty: its built-in defaults.
    pub targets: Vec<String>,
}

impl ProbeStatus {
    /// `3`, or `unpublished ($LATEST)`: what runs when the schedule invokes the function.
    pub fn version_text(&self) -> String {
        self.version_in(Lang::En)
    }

    fn version_in(&self, lang: Lang) -> String {
        match &self.published_version {
            Some(v) => v.clone(),
            None => tr(lang, "unpublished ($LATEST)", "未発行（$LATEST）").into(),
        }
    }

    /// The state cell: the function's state; an update that did not succeed is named
    /// below the table (it would not fit the cell).
    fn state_cell(&self) -> String {
        let state = self.state.clone().unwrap_or_else(|| "?".into());
        match &self.last_update_status {
            Some(u) if u != "Successful" => format!("{state}*"),
            _ => state,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusResult {
    pub region: String,
    pub probes: Vec<ProbeStatus>,
}

/// `one` when every probe has the same value, else the values per subnet.
fn same_or_each<'a, T: PartialEq>(
    probes: &'a [ProbeStatus],
    value: impl Fn(&'a ProbeStatus) -> T,
) -> Result<Option<T>, Vec<(&'a str, T)>> {
    let first = probes.first().map(&value);
    if probes.iter().all(|p| Some(value(p)) == first) {
        Ok(first)
    } else {
        Err(probes
            .iter()
            .map(|p| (p.subnet_id.as_str(), value(p)))
            .collect())
    }
}

impl Render for StatusResult {
    fn text(&self, lang: Lang) -> String {
        if self.probes.is_empty() {
            return output::wrap(
                "",
                2,
                &match lang {
                    Lang::En => format!(
                        "No egress-probe functions in {}. Install some with `egress-probe install --vpc VPC_ID`.",
                        self.region
                    ),
                    Lang::Ja => format!(
                        "{} に egress-probe の関数はありません。`egress-probe install --vpc VPC_ID` でインストールできます。",
                        self.region
                    ),
                },
            );
        }
        // Grouped by AZ (as the run matrix is), one short row per probe; what is the same
        // for every probe (function name pattern, architecture, code, targets) is said
        // once below, so the lines fit 80 columns.
        let mut probes: Vec<&ProbeStatus> = self.probes.iter().collect();
        probes.sort_by(|a, b| {
            (&a.availability_zone, &a.subnet_id).cmp(&(&b.availability_zone, &b.subnet_id))
        });
        let mut s = String::new();
        let mut rows = vec![vec![
            tr(lang, "subnet", "サブネット").to_string(),
            tr(lang, "state", "状態").to_string(),
            tr(lang, "version", "バージョン").to_string(),
            tr(lang, "schedule", "スケジュール").to_string(),
        ]];
        let mut az: Option<&Option<String>> = None;
        let mut groups: Vec<(String, Vec<Vec<String>>)> = Vec::new();
        for p in probes {
            if az != Some(&p.availability_zone) {
                az = Some(&p.availability_zone);
                groups.push((
                    p.availability_zone
                        .clone()
                        .unwrap_or_else(|| tr(lang, "(AZ unknown)", "（AZ 不明）").into()),
                    Vec::new(),
                ));
            }
            if let Some((_, g)) = groups.last_mut() {
                g.push(vec![
                    p.subnet_id.clone(),
                    p.state_cell(),
                    p.version_in(lang),
                    p.schedule.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
        }
        // One alignment for every group: the header and all rows measured together.
        let mut all = std::mem::take(&mut rows);
        all.extend(groups.iter().flat_map(|(_, g)| g.iter().cloned()));
        let mut lines = output::aligned(&all, "  ").into_iter();
        if let Some(head) = lines.next() {
            s.push_str(&head);
        }
        for (name, g) in &groups {
            let _ = writeln!(s, "{name}");
            for line in lines.by_ref().take(g.len()) {
                s.push_str(&line);
            }
        }
        for p in &self.probes {
            if let Some(u) = p
                .last_update_status
                .as_deref()
                .filter(|u| *u != "Successful")
            {
                s.push_str(&output::wrap(
                    &format!("* {}: ", p.subnet_id),
                    4,
                    &match lang {
                        Lang::En => format!("the last update of {} is {u}", p.function),
                        Lang::Ja => format!("{} の最後の更新は {u} です", p.function),
                    },
                ));
            }
        }
        let _ = writeln!(
            s,
            "{}",
            match lang {
                Lang::En => format!("{} probe(s) in {}", self.probes.len(), self.region),
                Lang::Ja => format!("{} のプローブ {} 個", self.region, self.probes.len()),
            }
        );
        let named = self
            .probes
            .iter()
            .all(|p| p.function == plan::function_name(&p.subnet_id));
        if named {
            s.push_str(&output::wrap(
                tr(lang, "functions: ", "関数: "),
                2,
                &plan::function_name("SUBNET_ID"),
            ));
        } else {
            for p in &self.probes {
                s.push_str(&output::wrap(
                    &format!("{} {}: ", tr(lang, "function of", "関数"), p.subnet_id),
                    4,
                    &p.function,
                ));
            }
        }
        let build = |p: &ProbeStatus| {
            format!(
                "{}, {} {}",
                p.architecture.as_deref().unwrap_or("?"),
                tr(lang, "code", "コード"),
                p.code_sha256.chars().take(12).collect::<String>()
            )
        };
        match same_or_each(&self.probes, build) {
            Ok(one) => s.push_str(&output::wrap(
                tr(lang, "build: ", "ビルド: "),
                2,
                &one.unwrap_or_default(),
            )),
            Err(each) => {
                for (subnet, b) in each {
                    s.push_str(&output::wrap(
                        &format!("{} {subnet}: ", tr(lang, "build of", "ビルド")),
                        4,
                        &b,
                    ));
                }
            }
        }
        // Targets are listed whole (a URL is never split between lines).
        let targets = |p: &ProbeStatus| {
            if p.targets.is_empty() {
                vec![tr(lang, "the probe's defaults", "プローブの既定値").to_string()]
            } else {
                p.targets.clone()
            }
        };
        match same_or_each(&self.probes, targets) {
            Ok(one) => s.push_str(&output::wrap_items(
                tr(lang, "targets: ", "ターゲット: "),
                2,
                &one.unwrap_or_default(),
                " ",
            )),
            Err(each) => {
                for (subnet, t) in each {
                    s.push_str(&output::wrap_items(
                        &format!("{} {subnet}: ", tr(lang, "targets of", "ターゲット")),
                        4,
                        &t,
                        " ",
                    ));
                }
            }
        }
        s
    }
}

pub async fn run(ctx: &mut Ctx, _args: &StatusArgs) -> Result<Outcome> {
    let clients = ctx.clients().await?;
    let result = execute(&clients).await?;
    Ok(outcome(ctx, &result, 0))
}

/// `status` in one account and Region with these clients (also the fleet's unit of work).
pub async fn execute(clients: &Clients) -> Result<StatusResult> {
    let clients = clients.clone();
    let functions = aws::managed_functions(&clients).await?;
    let mut probes = Vec::new();
    for f in functions {
        let subnet = f.subnet_tag().unwrap_or_default().to_string();
        let rule = aws::get_rule(&clients, &plan::rule_name(&subnet)).await?;
        let schedule = rule.filter(|r| r.managed).map(|r| {
            let expr = r.schedule.unwrap_or_default();
            if r.enabled {
                expr
            } else {
                format!("{expr} (disabled)")
            }
        });
        probes.push(ProbeStatus {
            function: f.name.clone(),
            availability_zone: f.environment.get(egress_probe::settings::env::AZ).cloned(),
            vpc_id: f
                .environment
                .get(egress_probe::settings::env::VPC_ID)
                .cloned(),
            targets: f
                .environment
                .get(egress_probe::settings::env::TARGETS)
                .and_then(|t| egress_probe::settings::parse_target_list(t).ok())
                .map(|ts| ts.iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
            subnet_id: subnet,
            state: f.state.clone(),
            last_update_status: f.last_update_status.clone(),
            schedule,
            architecture: f.architectures.first().cloned(),
            published_version: published_version(&clients, &f.name).await?,
            code_sha256: f.code_sha256.clone(),
        });
    }
    probes.sort_by(|a, b| {
        (&a.availability_zone, &a.subnet_id).cmp(&(&b.availability_zone, &b.subnet_id))
    });
    Ok(StatusResult {
        region: clients.region.clone(),
        probes,
    })
}

/// The highest numbered version of a function; `None` when only `$LATEST` exists.
async fn published_version(clients: &Clients, name: &str) -> Result<Option<String>> {
    let mut best: Option<u64> = None;
    let mut marker: Option<String> = None;
    loop {
        let page = clients
            .lambda
            .list_versions_by_function()
            .function_name(name)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| api_error("lambda:ListVersionsByFunction", e))?;
        for v in page.versions() {
            if let Some(n) = v.version().and_then(|v| v.parse::<u64>().ok()) {
                best = best.max(Some(n));
            }
        }
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    Ok(best.map(|n| n.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(published: Option<&str>, targets: &[&str]) -> ProbeStatus {
        ProbeStatus {
            function: "egress-probe-subnet-1".into(),
            subnet_id: "subnet-1".into(),
            availability_zone: Some("us-east-1a".into()),
            vpc_id: Some("vpc-1".into()),
            state: Some("Active".into()),
            last_update_status: Some("Successful".into()),
            schedule: None,
            architecture: Some("arm64".into()),
            published_version: published.map(str::to_string),
            code_sha256: "abcdef0123456789".into(),
            targets: targets.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn version_is_the_published_one_or_says_unpublished() {
        assert_eq!(probe(None, &[]).version_text(), "unpublished ($LATEST)");
        assert_eq!(probe(Some("3"), &[]).version_text(), "3");
        let r = StatusResult {
            region: "us-east-1".into(),
            probes: vec![probe(None, &["dns:example.com", "tcp://192.0.2.1:443"])],
        };
        let t = r.text(Lang::En);
        assert!(t.contains("unpublished ($LATEST)"), "{t}");
        assert!(
            t.contains("targets: dns:example.com tcp://192.0.2.1:443"),
            "{t}"
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v["probes"][0]["targets"],
            serde_json::json!(["dns:example.com", "tcp://192.0.2.1:443"])
        );
        assert!(v["probes"][0]["published_version"].is_null());
    }

    /// Realistic long values: the longest AZ names, a cron schedule, differing builds and
    /// targets, an update in progress.
    fn wide() -> StatusResult {
        let mut a = probe(
            Some("12"),
            &["https://an-internal-service.example.com/health"],
        );
        a.availability_zone = Some("ap-southeast-2a".into());
        a.subnet_id = "subnet-0123456789abcdef0".into();
        a.function = plan::function_name(&a.subnet_id);
        a.schedule = Some("cron(0/5 * * * ? *)".into());
        a.last_update_status = Some("InProgress".into());
        let mut b = probe(None, &[]);
        b.availability_zone = Some("ap-southeast-2b".into());
        b.subnet_id = "subnet-0fedcba9876543210".into();
        b.function = plan::function_name(&b.subnet_id);
        b.schedule = Some("rate(5 minutes)".into());
        b.architecture = Some("x86_64".into());
        b.code_sha256 = "0123456789abcdef0123456789abcdef".into();
        StatusResult {
            region: "ap-southeast-2".into(),
            probes: vec![a, b],
        }
    }

    #[test]
    fn status_fits_80_columns_in_both_languages() {
        for lang in [Lang::En, Lang::Ja] {
            let t = wide().text(lang);
            for line in t.lines() {
                assert!(output::width(line) <= 80, "{lang:?}: {line:?}\n{t}");
            }
            // Nothing is lost to the narrower table: every value is still there.
            for needle in [
                "ap-southeast-2a",
                "subnet-0123456789abcdef0",
                "cron(0/5 * * * ? *)",
                "InProgress",
                "x86_64",
                "0123456789ab",
                "https://an-internal-service.example.com/health",
                "egress-probe-SUBNET_ID",
            ] {
                assert!(t.contains(needle), "{lang:?}: {needle} missing\n{t}");
            }
        }
    }

    #[test]
    fn status_in_japanese_translates_the_frame() {
        let t = wide().text(Lang::Ja);
        for ja in [
            "サブネット",
            "スケジュール",
            "バージョン",
            "未発行",
            "ターゲット",
            "プローブの既定値",
            "最後の更新",
        ] {
            assert!(t.contains(ja), "{ja} missing\n{t}");
        }
        for en in [
            "subnet ",
            "schedule",
            "unpublished",
            "targets of",
            "probe(s)",
        ] {
            assert!(!t.contains(en), "English {en:?} left\n{t}");
        }
        let empty = StatusResult {
            region: "us-east-1".into(),
            probes: vec![],
        };
        assert!(empty.text(Lang::Ja).contains("関数はありません"));
    }
}
