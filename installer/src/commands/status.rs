//! `status`: the installed probes with their subnet, AZ, state, schedule and version.

use crate::aws;
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
    pub version: Option<String>,
    pub code_sha256: String,
    pub targets: Option<String>,
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
                p.version.clone().unwrap_or_default(),
                p.code_sha256.chars().take(12).collect(),
            ]);
        }
        let mut s = t.to_string();
        let _ = writeln!(s, "\n{} probe(s) in {}", self.probes.len(), self.region);
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
                .cloned(),
            subnet_id: subnet,
            state: f.state.clone(),
            last_update_status: f.last_update_status.clone(),
            schedule,
            architecture: f.architectures.first().cloned(),
            version: f.version.clone(),
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
