//! Shared by the fleet tests and benchmark (issue 14): an organisation in moto, sessions in
//! its accounts (moto keeps each account's state apart by the account of the assumed
//! role's credentials), probe reports for the front to answer Invoke with, and the
//! installer run in-process with text or JSON output.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use anyhow::{Context, Result};
use aws_config::{Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_organizations::types::OrganizationFeatureSet as FeatureSet;
use clap::Parser;
use egress_probe_installer::Outcome;
use egress_probe_installer::cli::Cli;

/// The role the fleet assumes (the StackSet's default).
pub const ROLE: &str = "egress-probe-fleet";

/// An organisation: its root, an OU `workloads` with a child OU `team`, and accounts.
pub struct Org {
    pub root: String,
    pub workloads: String,
    pub team: String,
    /// (account ID, name, parent) in creation order.
    pub accounts: Vec<(String, String, String)>,
}

impl Org {
    pub fn id(&self, name: &str) -> String {
        self.accounts
            .iter()
            .find(|(_, n, _)| n == name)
            .map(|(id, _, _)| id.clone())
            .unwrap_or_else(|| panic!("no account {name}"))
    }
}

/// Creates the organisation in the management account of `config` and one account per
/// (name, parent) where parent is `root`, `workloads` or `team`.
pub async fn organisation(config: &SdkConfig, accounts: &[(&str, &str)]) -> Result<Org> {
    let org = aws_sdk_organizations::Client::new(config);
    org.create_organization()
        .feature_set(FeatureSet::All)
        .send()
        .await
        .context("CreateOrganization")?;
    let roots = org.list_roots().send().await?;
    let root = roots.roots()[0].id().context("root id")?.to_string();
    let ou = |parent: String, name: &'static str| {
        let org = org.clone();
        async move {
            let out = org
                .create_organizational_unit()
                .parent_id(parent)
                .name(name)
                .send()
                .await?;
            anyhow::Ok(
                out.organizational_unit()
                    .and_then(|u| u.id())
                    .context("ou id")?
                    .to_string(),
            )
        }
    };
    let workloads = ou(root.clone(), "workloads").await?;
    let team = ou(workloads.clone(), "team").await?;
    let mut out = Vec::new();
    for (name, parent) in accounts {
        let created = org
            .create_account()
            .email(format!("{name}@example.com"))
            .account_name(*name)
            .send()
            .await
            .context("CreateAccount")?;
        let id = created
            .create_account_status()
            .and_then(|s| s.account_id())
            .context("account id")?
            .to_string();
        let parent_id = match *parent {
            "workloads" => workloads.clone(),
            "team" => team.clone(),
            _ => root.clone(),
        };
        if parent_id != root {
            org.move_account()
                .account_id(&id)
                .source_parent_id(&root)
                .destination_parent_id(&parent_id)
                .send()
                .await
                .context("MoveAccount")?;
        }
        out.push((id, name.to_string(), parent_id));
    }
    Ok(Org {
        root,
        workloads,
        team,
        accounts: out,
    })
}

/// A session in `account` (through moto directly) in `region`.
pub async fn in_account(config: &SdkConfig, account: &str, region: &str) -> SdkConfig {
    let sts = aws_sdk_sts::Client::new(config);
    let out = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/{ROLE}"))
        .role_session_name("fleet-test")
        .send()
        .await
        .expect("AssumeRole in moto");
    let c = out.credentials().expect("credentials");
    config
        .clone()
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "fleet-test",
        )))
        .region(Region::new(region.to_string()))
        .build()
}

/// A probe report for `subnet`: DNS ok, TCP ok or timing out (explained by a finding).
pub fn report(subnet: &str, broken: bool) -> String {
    let tcp_id = format!("tcp://192.0.2.10:443@192.0.2.10#{subnet}");
    let (status, findings, verdict) = if broken {
        (
            "timeout",
            serde_json::json!([{
                "code": "NAT_ROUTE_BLACKHOLE", "severity": "error", "confirmation": "confirmed",
                "summary": "0.0.0.0/0 points at deleted NAT gateway nat-0dead",
                "subnet_id": subnet, "resources": ["rtb-0b", "nat-0dead"], "rules": ["R8"],
                "explains": [tcp_id],
                "remediation": {"en": "Point 0.0.0.0/0 at an available NAT gateway.", "ja": "NAT を直してください。"},
                "fix_commands": []
            }]),
            "broken",
        )
    } else {
        ("ok", serde_json::json!([]), "healthy")
    };
    serde_json::json!({
        "schema": "egress-probe.report/v1", "probe_version": "0.1.0",
        "identity": {"subnet_id": subnet, "vpc_id": "vpc-x", "security_group_ids": []},
        "started_at": "2026-01-01T00:00:00Z", "duration_ms": 120.0, "budget_ms": 18000,
        "resolver": {"source": "/etc/resolv.conf", "servers": ["10.0.0.2"]},
        "plan": {"targets": [{"kind": "dns", "name": "example.com"}, {"kind": "tcp", "host": "192.0.2.10", "port": 443}],
                 "dns_timeout_ms": 2000, "connect_timeout_ms": 3000, "https_timeout_ms": 5000,
                 "diagnose": "on_failure", "source": "event"},
        "observations": [
            {"id": format!("dns#{subnet}"), "target": "dns:example.com", "kind": "dns", "host": "example.com",
             "status": "ok", "phases": {"total_ms": 2.5}, "timeout_ms": 2000},
            {"id": tcp_id, "target": "tcp://192.0.2.10:443", "kind": "tcp", "host": "192.0.2.10", "port": 443,
             "address": "192.0.2.10", "status": status, "phases": {"total_ms": if broken { 3000.0 } else { 21.0 }},
             "timeout_ms": 3000}
        ],
        "verdict": verdict, "findings": findings, "paths": [],
        "analysis": {"status": "complete", "performed_by": "probe"}
    })
    .to_string()
}

/// Runs `egress-probe <args>` in-process against `config` with text output.
pub async fn egress_probe_text(config: &SdkConfig, args: &[&str]) -> Result<Outcome> {
    let mut argv = vec!["egress-probe"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).map_err(|e| anyhow::anyhow!("usage: {e}"))?;
    egress_probe_installer::run_with_config(cli, Some(config.clone())).await
}

/// The units of a fleet outcome's JSON, by (account, region or "*").
pub fn units(json: &serde_json::Value) -> Vec<(String, String, String)> {
    json["units"]
        .as_array()
        .expect("units")
        .iter()
        .map(|u| {
            (
                u["account"].as_str().unwrap_or("").to_string(),
                u["region"].as_str().unwrap_or("*").to_string(),
                u["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

pub fn unit<'a>(json: &'a serde_json::Value, account: &str, region: &str) -> &'a serde_json::Value {
    json["units"]
        .as_array()
        .expect("units")
        .iter()
        .find(|u| u["account"] == account && u["region"].as_str().unwrap_or("*") == region)
        .unwrap_or_else(|| panic!("no unit {account} {region} in {json:#}"))
}
