//! Fleet commands (issue 14): `run`, `diagnose`, `status`, `install` and `uninstall` in
//! many accounts and Regions at once. Each account and Region is one unit of work done by
//! the single-account command's own code (`commands::*::execute`, or the command itself
//! with that unit's credentials), concurrently and bounded (`fanout`); the results become
//! one matrix (`matrix`). install and uninstall only plan unless `--yes` is given.

pub mod credentials;
pub mod fanout;
pub mod matrix;
pub mod scope;

use crate::artifact;
use crate::aws::{self, Clients};
use crate::cli::{Command, DiagnoseArgs, InstallArgs, Lang, OutputFormat, RunArgs, UninstallArgs};
use crate::commands::{diagnose, install, run, status, uninstall};
use crate::lang::{Said, tr};
use crate::output::{self, Style};
use crate::{Ctx, Outcome};
use anyhow::{Result, bail};
use fanout::{AccountTarget, Limits, Unit, UnitOutcome};
use matrix::{AzRow, Columns, FleetResult, UnitReport, UnitState};
use scope::RegionSet;
use std::collections::BTreeMap;
use std::sync::Arc;

const RUN_COLUMNS: Columns = Columns {
    names: ["probe", "ok", "fail", "err"],
    legend: "probe: probes invoked; ok: healthy; fail: egress failing; err: not run \
             (invoke failed)",
    legend_ja: "probe：起動したプローブ、ok：正常、fail：外向き通信の障害、err：実行できず\
                （起動の失敗）",
};
const STATUS_COLUMNS: Columns = Columns {
    names: ["probe", "activ", "other", "nosch"],
    legend: "probe: probes installed; activ: Active and updated; other: another state; \
             nosch: without a schedule",
    legend_ja: "probe：インストール済みのプローブ、activ：Active で更新済み、other：\
                その他の状態、nosch：スケジュールなし",
};
const INSTALL_COLUMNS: Columns = Columns {
    names: ["subnt", "same", "chang", "fail"],
    legend: "subnt: subnets chosen; same: nothing to change; chang: probe created or \
             changed (planned in a dry run); fail: failed or not done",
    legend_ja: "subnt：選んだサブネット、same：変更なし、chang：プローブを作成・変更\
                （ドライランでは計画）、fail：失敗または未実行",
};
const UNINSTALL_COLUMNS: Columns = Columns {
    names: ["items", "gone", "plan", "fail"],
    legend: "items: resources of egress-probe's (functions, rules, role, groups); gone: \
             removed; plan: would be removed; fail: not removed",
    legend_ja: "items：egress-probe のリソース（関数、ルール、ロール、グループ）、gone：\
                削除済み、plan：削除予定、fail：削除できず",
};
const DIAGNOSE_COLUMNS: Columns = Columns {
    names: ["paths", "ok", "block", "gaps"],
    legend: "paths: paths evaluated (the installed probes' subnets, or the subject given); \
             ok: open; block: blocked; gaps: calls that failed (data missing)",
    legend_ja: "paths：評価した経路（インストール済みプローブのサブネット、または指定した対象）、\
                ok：通る、block：遮断、gaps：失敗した呼び出し（データ不足）",
};

/// Runs `command` over the fleet the global options name.
pub async fn run_fleet(ctx: &mut Ctx, command: &Command) -> Result<Outcome> {
    let fleet = ctx.global.fleet.clone();
    fleet.check()?;
    check_command(command)?;
    let operator = ctx.clients().await?;
    let caller = credentials::caller(&operator.sts).await?;
    let mut notes = Vec::new();
    let targets: Vec<AccountTarget> = if fleet.assumes_roles() {
        let org = aws_sdk_organizations::Client::new(&operator.config);
        scope::accounts(&org, &fleet, &mut notes)
            .await?
            .into_iter()
            .map(|a| AccountTarget {
                role_arn: Some(credentials::role_arn(
                    &caller.partition,
                    &a.id,
                    &fleet.role_name,
                )),
                id: a.id,
                name: a.name,
            })
            .collect()
    } else {
        vec![AccountTarget {
            id: caller.account.clone(),
            name: None,
            role_arn: None,
        }]
    };
    let regions = fleet
        .regions
        .clone()
        .unwrap_or_else(|| RegionSet::List(vec![operator.region.clone()]));
    let limits = Limits {
        accounts: fleet.max_accounts as usize,
        regions_per_account: fleet.max_regions as usize,
    };
    let journal = ctx.journal.clone();
    let lang = ctx.global.lang;
    let base = operator.config.clone();
    let sts = operator.sts.clone();
    let mut result = match command {
        Command::Run(args) => {
            let outcomes = fanout::fan_out(
                &base,
                &sts,
                targets.clone(),
                &regions,
                limits,
                &journal,
                |unit: Unit| async move {
                    let clients = Clients::new(unit.config)?;
                    run::execute(&clients, args, false).await
                },
            )
            .await;
            let units = outcomes
                .into_iter()
                .map(|o| report(o, |r| run_unit(r, lang)))
                .collect();
            FleetResult::new("run", false, RUN_COLUMNS, units)
        }
        Command::Status(_) => {
            let outcomes = fanout::fan_out(
                &base,
                &sts,
                targets.clone(),
                &regions,
                limits,
                &journal,
                |unit: Unit| async move {
                    let clients = Clients::new(unit.config)?;
                    status::execute(&clients).await
                },
            )
            .await;
            let units = outcomes
                .into_iter()
                .map(|o| report(o, |r| status_unit(r, lang)))
                .collect();
            FleetResult::new("status", false, STATUS_COLUMNS, units)
        }
        Command::Install(args) => {
            let mut args = args.clone();
            args.dry_run = args.dry_run || !args.yes;
            let zip = Arc::new(artifact::load(&artifact::locate(args.zip.as_deref())?)?);
            let args = &args;
            let zip = &zip;
            let outcomes = fanout::fan_out(
                &base,
                &sts,
                targets.clone(),
                &regions,
                limits,
                &journal,
                |unit: Unit| async move {
                    let clients = Clients::new(unit.config)?;
                    install::execute(&clients, args, zip.clone(), false, &unit.journal).await
                },
            )
            .await;
            let units = outcomes
                .into_iter()
                .map(|o| report(o, |r| install_unit(r, lang)))
                .collect();
            FleetResult::new("install", args.dry_run, INSTALL_COLUMNS, units)
        }
        Command::Uninstall(args) => {
            let mut args = args.clone();
            args.dry_run = args.dry_run || !args.yes;
            args.yes = true;
            let args = &args;
            let global = &ctx.global;
            let outcomes = fanout::fan_out(
                &base,
                &sts,
                targets.clone(),
                &regions,
                limits,
                &journal,
                |unit: Unit| async move {
                    let mut c = unit_ctx(global, &unit);
                    let o = Box::pin(uninstall::run(&mut c, args)).await?;
                    Ok(o.json)
                },
            )
            .await;
            let units = outcomes
                .into_iter()
                .map(|o| report(o, |r| uninstall_unit(r, lang)))
                .collect();
            FleetResult::new("uninstall", args.dry_run, UNINSTALL_COLUMNS, units)
        }
        Command::Diagnose(args) => {
            let global = &ctx.global;
            let outcomes = fanout::fan_out(
                &base,
                &sts,
                targets.clone(),
                &regions,
                limits,
                &journal,
                |unit: Unit| async move { diagnose_unit_work(global, unit, args).await },
            )
            .await;
            let units = outcomes
                .into_iter()
                .map(|o| report(o, |r| diagnose_unit(r, lang)))
                .collect();
            FleetResult::new("diagnose", false, DIAGNOSE_COLUMNS, units)
        }
    };
    if fleet.assumes_roles() {
        result.role_name = Some(fleet.role_name.clone());
    }
    result.notes = notes;
    result.lang = lang;
    if result.dry_run && result.units.iter().any(|u| u.state == UnitState::Planned) {
        result.notes.push(Said::new(
            "nothing was changed: this is the plan per account and Region; pass --yes to \
             apply it",
            "何も変更していません。これはアカウント・リージョンごとの計画です。適用するには \
             --yes を付けてください",
        ));
    }
    let stdout = match ctx.global.output {
        OutputFormat::Text => result.text(),
        OutputFormat::Json => result.json_lines(),
    };
    Ok(Outcome {
        code: result.summary.exit_code,
        stdout,
        json: serde_json::to_value(&result).unwrap_or(serde_json::Value::Null),
    })
}

/// Options that name one account's resources make no sense across accounts.
fn check_command(command: &Command) -> Result<()> {
    let single = |what: &str, instead: &str| -> Result<()> {
        bail!(
            "{what} names one account's resources: not with --accounts, --organization or --regions ({instead})"
        )
    };
    match command {
        Command::Run(RunArgs { subnets, .. }) if !subnets.is_empty() => {
            single("--subnet", "fleet run invokes every probe")
        }
        Command::Install(InstallArgs {
            selection,
            security_groups,
            role_arn,
            prune,
            ..
        }) => {
            if selection.vpc.is_some()
                || !selection.subnets.is_empty()
                || selection.like_function.is_some()
            {
                return single(
                    "--vpc, --subnet or --like-function",
                    "choose subnets by --tag KEY=VALUE or --lambda-subnets",
                );
            }
            if !security_groups.is_empty() || role_arn.is_some() {
                return single(
                    "--security-group or --role-arn",
                    "the defaults are made per account",
                );
            }
            if selection.is_empty() && !prune {
                bail!(
                    "no subnets chosen: pass --tag KEY=VALUE or --lambda-subnets (or only --prune)"
                );
            }
            Ok(())
        }
        Command::Uninstall(UninstallArgs { subnets, vpc, .. })
            if !subnets.is_empty() || vpc.is_some() =>
        {
            single(
                "--subnet or --vpc",
                "fleet uninstall removes every probe of each Region",
            )
        }
        Command::Diagnose(DiagnoseArgs {
            subnet,
            vpc,
            snapshot,
            save_snapshot,
            security_groups,
            ..
        }) => {
            if !subnet.is_empty() || vpc.is_some() || !security_groups.is_empty() {
                return single(
                    "--subnet, --vpc or --security-group",
                    "without a subject the installed probes' subnets are diagnosed; --function NAME names a function in every account",
                );
            }
            if snapshot.is_some() || save_snapshot.is_some() {
                bail!("--snapshot and --save-snapshot are for one account: not with fleet options");
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The command's context in one account and Region: its credentials, JSON output, never
/// interactive, no fleet options.
fn unit_ctx(global: &crate::cli::GlobalArgs, unit: &Unit) -> Ctx {
    let mut g = global.clone();
    g.output = OutputFormat::Json;
    g.region = Some(unit.region.clone());
    g.fleet = scope::FleetArgs::default();
    Ctx {
        global: g,
        config: Some(unit.config.clone()),
        journal: unit.journal.clone(),
        interactive: false,
    }
}

/// A unit's outcome as a report: failures as they are, results through `convert`.
fn report<T: serde::Serialize>(
    o: UnitOutcome<T>,
    convert: impl Fn(&T) -> (UnitState, Vec<AzRow>, Vec<String>),
) -> UnitReport {
    let (state, rows, details, error, result) = match &o.result {
        Ok(r) => {
            let (state, rows, details) = convert(r);
            (
                state,
                rows,
                details,
                None,
                serde_json::to_value(r).unwrap_or(serde_json::Value::Null),
            )
        }
        Err(f) => (
            UnitState::of_failure(f.kind),
            Vec::new(),
            Vec::new(),
            Some(f.message.clone()),
            serde_json::Value::Null,
        ),
    };
    UnitReport {
        account: o.account,
        account_name: o.account_name,
        region: o.region,
        state,
        elapsed_ms: o.elapsed_ms,
        error,
        changes: o.changes,
        rows,
        details,
        result,
    }
}

fn rows_by_az<I: IntoIterator<Item = (String, [usize; 4])>>(items: I) -> Vec<AzRow> {
    let mut by: BTreeMap<String, AzRow> = BTreeMap::new();
    for (az, [t, g, b, e]) in items {
        let az = if az.is_empty() { "?".to_string() } else { az };
        let row = by.entry(az.clone()).or_insert_with(|| AzRow {
            availability_zone: az,
            ..AzRow::default()
        });
        row.total += t;
        row.good += g;
        row.bad += b;
        row.errors += e;
    }
    by.into_values().collect()
}

fn run_unit(r: &run::RunResult, lang: Lang) -> (UnitState, Vec<AzRow>, Vec<String>) {
    let rows = rows_by_az(r.probes.iter().map(|p| {
        let failing = p.error.is_none() && p.report.is_some() && !p.is_healthy();
        (
            p.availability_zone.clone(),
            [
                1,
                usize::from(p.is_healthy()),
                usize::from(failing),
                usize::from(p.error.is_some()),
            ],
        )
    }));
    let state = if r.probes.is_empty() {
        UnitState::Empty
    } else if r.summary.errors > 0 {
        UnitState::Incomplete
    } else if r.summary.failing > 0 {
        UnitState::Failures
    } else {
        UnitState::Ok
    };
    let details = if matches!(state, UnitState::Incomplete | UnitState::Failures) {
        vec![output::failures(&r.probes, &Style::plain(lang))]
    } else {
        Vec::new()
    };
    (state, rows, details)
}

fn status_unit(r: &status::StatusResult, lang: Lang) -> (UnitState, Vec<AzRow>, Vec<String>) {
    let active = |p: &status::ProbeStatus| {
        p.state.as_deref() == Some("Active")
            && p.last_update_status
                .as_deref()
                .is_none_or(|u| u == "Successful")
    };
    let rows = rows_by_az(r.probes.iter().map(|p| {
        (
            p.availability_zone.clone().unwrap_or_default(),
            [
                1,
                usize::from(active(p)),
                usize::from(!active(p)),
                usize::from(p.schedule.is_none()),
            ],
        )
    }));
    let details: Vec<String> = r
        .probes
        .iter()
        .filter(|p| !active(p))
        .map(|p| {
            format!(
                "{} ({}): {} {} ({} {})",
                p.subnet_id,
                p.availability_zone.as_deref().unwrap_or("?"),
                tr(lang, "state", "状態"),
                p.state.as_deref().unwrap_or("?"),
                tr(lang, "update", "更新"),
                p.last_update_status.as_deref().unwrap_or("?")
            )
        })
        .collect();
    let state = if r.probes.is_empty() {
        UnitState::Empty
    } else {
        UnitState::Ok
    };
    (state, rows, details)
}

fn install_unit(r: &install::InstallResult, lang: Lang) -> (UnitState, Vec<AzRow>, Vec<String>) {
    let changes = |p: &install::ProbeStep| {
        p.function_change.changes_something() || p.schedule_change.changes_something()
    };
    let rows = rows_by_az(r.probes.iter().map(|p| {
        let failed = p.status.failed();
        (
            p.availability_zone.clone(),
            [
                1,
                usize::from(!changes(p) && !failed),
                usize::from(changes(p) && !failed),
                usize::from(failed),
            ],
        )
    }));
    let mut details = Vec::new();
    let role_changes = matches!(
        r.role.action,
        install::RoleAction::Create | install::RoleAction::Update
    );
    if role_changes || r.role.status.failed() {
        details.push(format!(
            "{} {}: {}",
            tr(lang, "role", "ロール"),
            r.role.name,
            r.role.status.in_words(lang)
        ));
    }
    for g in &r.security_groups {
        if g.action == install::SgAction::Create || g.status.failed() {
            details.push(format!(
                "{}: {}",
                match lang {
                    Lang::En => format!("security group for {}", g.vpc_id),
                    Lang::Ja => format!("{} のセキュリティグループ", g.vpc_id),
                },
                g.status.in_words(lang)
            ));
        }
    }
    for p in &r.probes {
        if (r.dry_run && changes(p)) || p.status.failed() {
            details.push(format!(
                "{} ({}): {} {}; {} {}; {}",
                p.subnet_id,
                p.availability_zone,
                tr(lang, "function", "関数"),
                install::function_change_text(&p.function_change, lang),
                tr(lang, "schedule", "スケジュール"),
                install::schedule_change_text(&p.schedule_change, lang),
                p.status.in_words(lang)
            ));
        }
    }
    for p in &r.pruned {
        if r.dry_run || p.status.failed() {
            details.push(match lang {
                Lang::En => format!(
                    "prune {} (subnet {} gone): {}",
                    p.function,
                    p.subnet_id,
                    p.status.in_words(lang)
                ),
                Lang::Ja => format!(
                    "{} を削除（サブネット {} はもうない）：{}",
                    p.function,
                    p.subnet_id,
                    p.status.in_words(lang)
                ),
            });
        }
    }
    let skipped_word = tr(lang, "skipped", "対象外");
    for k in &r.skipped {
        details.push(format!(
            "{skipped_word} {}: {}",
            k.subnet_id,
            k.reason.get(lang)
        ));
    }
    let state = if r.failures() > 0 {
        UnitState::Incomplete
    } else if r.probes.is_empty() && r.pruned.is_empty() {
        UnitState::Empty
    } else if r.dry_run && r.changes() > 0 {
        UnitState::Planned
    } else {
        UnitState::Ok
    };
    if state == UnitState::Ok {
        details.retain(|d| d.starts_with(skipped_word));
    }
    (state, rows, details)
}

fn uninstall_unit(v: &serde_json::Value, lang: Lang) -> (UnitState, Vec<AzRow>, Vec<String>) {
    let removals = v["removals"].as_array().cloned().unwrap_or_default();
    let status = |r: &serde_json::Value| r["status"].as_str().unwrap_or("").to_string();
    let gone = removals.iter().filter(|r| status(r) == "removed").count();
    let planned = removals.iter().filter(|r| status(r) == "planned").count();
    let failed = removals.len() - gone - planned;
    let rows = if removals.is_empty() {
        Vec::new()
    } else {
        vec![AzRow {
            availability_zone: "-".into(),
            total: removals.len(),
            good: gone,
            bad: planned,
            errors: failed,
        }]
    };
    let dry = v["dry_run"].as_bool().unwrap_or(true);
    let details: Vec<String> = removals
        .iter()
        .filter(|r| {
            (dry && status(r) == "planned") || !matches!(status(r).as_str(), "planned" | "removed")
        })
        .map(|r| {
            let said = match (lang, status(r).as_str()) {
                (Lang::Ja, "planned") => "削除予定".to_string(),
                (Lang::Ja, "removed") => "削除済み".to_string(),
                (Lang::Ja, other) => format!("削除できず（{other}）"),
                (Lang::En, other) => other.to_string(),
            };
            format!(
                "{} {}: {said}",
                r["kind"].as_str().unwrap_or("?"),
                r["id"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    let state = if removals.is_empty() {
        UnitState::Empty
    } else if failed > 0 {
        UnitState::Incomplete
    } else if planned > 0 {
        UnitState::Planned
    } else {
        UnitState::Ok
    };
    (state, rows, details)
}

/// Diagnose in one unit: the subject given, or the subnets of the installed probes (one
/// diagnosis per VPC). The results, one per VPC (or the one subject).
async fn diagnose_unit_work(
    global: &crate::cli::GlobalArgs,
    unit: Unit,
    args: &DiagnoseArgs,
) -> Result<Vec<(serde_json::Value, u8)>> {
    let mut c = unit_ctx(global, &unit);
    if args.function.is_some() {
        let o = Box::pin(diagnose::run(&mut c, args)).await?;
        return Ok(vec![(o.json, o.code)]);
    }
    let clients = Clients::new(unit.config.clone())?;
    let mut by_vpc: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in aws::managed_functions(&clients).await? {
        let vpc = f
            .environment
            .get(egress_probe::settings::env::VPC_ID)
            .cloned()
            .unwrap_or_default();
        if let Some(s) = f.subnet_tag() {
            by_vpc.entry(vpc).or_default().push(s.to_string());
        }
    }
    let mut out = Vec::new();
    for (_, subnets) in by_vpc {
        let mut a = args.clone();
        a.subnet = subnets;
        let o = Box::pin(diagnose::run(&mut c, &a)).await?;
        out.push((o.json, o.code));
    }
    Ok(out)
}

fn diagnose_unit(
    results: &Vec<(serde_json::Value, u8)>,
    lang: Lang,
) -> (UnitState, Vec<AzRow>, Vec<String>) {
    let mut row = AzRow {
        availability_zone: "-".into(),
        ..AzRow::default()
    };
    let mut details = Vec::new();
    let mut broken = false;
    let mut incomplete = false;
    for (v, code) in results {
        let paths = v["paths"].as_array().cloned().unwrap_or_default();
        let blocked = paths.iter().filter(|p| p["verdict"] == "blocked").count();
        row.total += paths.len();
        row.bad += blocked;
        row.good += paths.len() - blocked;
        let gaps = v["gaps"].as_array().cloned().unwrap_or_default();
        row.errors += gaps.iter().filter(|g| g["kind"] != "unsupported").count();
        broken |= *code == crate::exit::FAILURES;
        // Issue 11: a partial analysis (a target or call not evaluated) is never Ok.
        incomplete |= *code == crate::exit::ERROR || *code == crate::exit::NOT_EVALUATED;
        for f in v["findings"].as_array().cloned().unwrap_or_default() {
            if f["severity"] == "error" {
                // The catalogue's Japanese when there is one (as output::summary).
                let summary = match (lang, f["summary_ja"].as_str()) {
                    (Lang::Ja, Some(ja)) if !ja.is_empty() => ja,
                    _ => f["summary"].as_str().unwrap_or(""),
                };
                details.push(format!(
                    "{} {}: {summary}",
                    f["code"].as_str().unwrap_or("?"),
                    f["subnet_id"].as_str().unwrap_or(""),
                ));
            }
        }
        for g in gaps {
            if g["kind"] != "unsupported" {
                details.push(format!(
                    "{} {}: {}",
                    tr(lang, "gap", "データ不足"),
                    g["call"].as_str().unwrap_or("?"),
                    g["reason"].as_str().unwrap_or("")
                ));
            }
        }
    }
    let state = if results.is_empty() {
        UnitState::Empty
    } else if broken {
        UnitState::Failures
    } else if incomplete {
        UnitState::Incomplete
    } else {
        UnitState::Ok
    };
    let rows = if results.is_empty() {
        Vec::new()
    } else {
        vec![row]
    };
    (state, rows, details)
}
