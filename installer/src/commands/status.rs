//! `status`: the installed probes with their subnet, AZ, state, schedule and version.

use crate::aws::{self, Clients, api_error};
use crate::cli::{Lang, StatusArgs};
use crate::output::Render;
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
        match &self.published_version {
            Some(v) => v.clone(),
            None => "unpublished ($LATEST)".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusResult {
    pub region: String,
    pub probes: Vec<ProbeStatus>,
}

impl Render for StatusResult {
    fn text(&self, _lang: Lang) -> String {
        if self.probes.is_empty() {
            return format!(
                "No egress-probe functions in {}. Install some with `egress-probe install --vpc VPC_ID`.\n",
                self.region
            );
        }
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::ASCII_BORDERS_ONLY_CONDENSED);
        t.set_header(vec![
            "AZ",
            "subnet",
            "function",
            "state",
            "schedule",
            "arch",
            "version",
            "code sha256",
        ]);
        for p in &self.probes {
            let state = match (&p.state, &p.last_update_status) {
                (Some(s), Some(u)) if u != "Successful" => format!("{s} (update {u})"),
                (Some(s), _) => s.clone(),
                (None, _) => "?".into(),
            };
            t.add_row(vec![
                p.availability_zone.clone().unwrap_or_default(),
                p.subnet_id.clone(),
                p.function.clone(),
                state,
                p.schedule.clone().unwrap_or_else(|| "-".into()),
                p.architecture.clone().unwrap_or_default(),
                p.version_text(),
                p.code_sha256.chars().take(12).collect(),
            ]);
        }
        let mut s = t.to_string();
        let _ = writeln!(s, "\n{} probe(s) in {}", self.probes.len(), self.region);
        let mut targets: Vec<&Vec<String>> = self.probes.iter().map(|p| &p.targets).collect();
        targets.dedup();
        if let [one] = targets.as_slice() {
            let _ = writeln!(
                s,
                "targets: {}",
                if one.is_empty() {
                    "the probe's defaults".to_string()
                } else {
                    one.join(" ")
                }
            );
        } else {
            for p in &self.probes {
                let _ = writeln!(s, "targets of {}: {}", p.subnet_id, p.targets.join(" "));
            }
        }
        s
    }
}

pub async fn run(ctx: &mut Ctx, _args: &StatusArgs) -> Result<Outcome> {
    let clients = ctx.clients().await?;
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
    let result = StatusResult {
        region: clients.region.clone(),
        probes,
    };
    Ok(outcome(ctx, &result, 0))
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
}
