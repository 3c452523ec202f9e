//! `install`: one probe function per chosen subnet, its schedule, the shared execution
//! role and security groups. Reads everything first into a plan (printed by `--dry-run`),
//! then applies it subnet by subnet, concurrently and bounded; one failed subnet never
//! stops the others, and a re-run finishes the job.

use crate::artifact::{self, Artifact};
use crate::aws::{self, Clients, api_error, code};
use crate::cli::{InstallArgs, Lang};
use crate::lang::{Said, tr};
use crate::output::{self, Render};
use crate::plan::{
    self, ExistingFunction, FunctionChange, FunctionSpec, ProbeSettings, ScheduleChange, SubnetInfo,
};
use crate::progress::{Journal, Progress};
use crate::{Ctx, Outcome, exit, outcome};
use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_lambda::types::{Architecture, Environment, FunctionCode, Runtime, VpcConfig};
use aws_smithy_types::Blob;
use egress_probe::diagnosis::{self, Flow, Subject};
use egress_probe::model::{DiagnoseMode, NetworkSnapshot, Protocol, Target};
use egress_probe::settings::{self, ProbeEnvironment};
use egress_probe::snapshot::{self, Scope};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

/// What happens to the execution role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum RoleAction {
    /// `--role-arn` given: used as is.
    Given,
    Create,
    /// The inline policy or the managed policy attachment differs.
    Update,
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoleStep {
    pub name: String,
    /// Known once it exists (null in a dry run that would create it).
    pub arn: Option<String>,
    #[serde(flatten)]
    pub action: RoleAction,
    pub status: StepStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum SgAction {
    Given,
    Mirrored,
    Create,
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct SgStep {
    pub vpc_id: String,
    /// Empty until a group to create exists.
    pub group_ids: Vec<String>,
    #[serde(flatten)]
    pub action: SgAction,
    pub status: StepStatus,
}

/// Planned, done, or failed (with the error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "error")]
pub enum StepStatus {
    Planned,
    Done,
    Failed(String),
    /// Not attempted because an earlier step failed.
    NotDone(String),
}

impl StepStatus {
    pub fn failed(&self) -> bool {
        matches!(self, StepStatus::Failed(_) | StepStatus::NotDone(_))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeStep {
    pub subnet_id: String,
    pub availability_zone: String,
    pub vpc_id: String,
    pub function: String,
    pub function_change: FunctionChange,
    pub schedule_change: ScheduleChange,
    /// The settings the probe ends up with (given, kept from the installed probe, or
    /// defaults).
    pub settings: SettingsView,
    pub status: StepStatus,
}

/// A probe's settings as the result shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingsView {
    pub schedule: Option<String>,
    /// Empty: the probe's built-in targets.
    pub targets: Vec<String>,
    pub diagnose: String,
    pub metric_namespace: String,
}

impl From<&ProbeSettings> for SettingsView {
    fn from(s: &ProbeSettings) -> Self {
        Self {
            schedule: s.schedule.clone(),
            targets: s.targets.iter().map(ToString::to_string).collect(),
            diagnose: s.diagnose.as_str().to_string(),
            metric_namespace: s.metric_namespace.clone(),
        }
    }
}

/// A subnet of the selection where no probe was placed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedSubnet {
    pub subnet_id: String,
    pub reason: Said,
}

#[derive(Debug, Clone, Serialize)]
pub struct PruneStep {
    pub function: String,
    pub subnet_id: String,
    pub remove_rule: bool,
    pub status: StepStatus,
}

#[derive(Debug, Clone, Serialize)]
pub struct ZipInfo {
    pub path: String,
    pub architecture: String,
    pub code_sha256: String,
    pub bytes: usize,
}

/// The result of `install` (the plan, with each step's status).
#[derive(Debug, Clone, Serialize)]
pub struct InstallResult {
    pub dry_run: bool,
    pub region: String,
    /// The account of the credentials (STS GetCallerIdentity).
    pub account: String,
    pub zip: ZipInfo,
    pub role: RoleStep,
    pub security_groups: Vec<SgStep>,
    pub probes: Vec<ProbeStep>,
    pub pruned: Vec<PruneStep>,
    /// Subnets of the selection left out (public subnets, R9).
    pub skipped: Vec<SkippedSubnet>,
    /// What the user should know: settings kept, subnets that will not work.
    pub notes: Vec<Said>,
}

impl InstallResult {
    pub fn changes(&self) -> usize {
        let role = usize::from(matches!(
            self.role.action,
            RoleAction::Create | RoleAction::Update
        ));
        let sgs = self
            .security_groups
            .iter()
            .filter(|s| s.action == SgAction::Create)
            .count();
        let probes = self
            .probes
            .iter()
            .filter(|p| {
                p.function_change.changes_something() || p.schedule_change.changes_something()
            })
            .count();
        role + sgs + probes + self.pruned.len()
    }

    pub fn failures(&self) -> usize {
        usize::from(self.role.status.failed())
            + self
                .security_groups
                .iter()
                .filter(|s| s.status.failed())
                .count()
            + self.probes.iter().filter(|p| p.status.failed()).count()
            + self.pruned.iter().filter(|p| p.status.failed()).count()
    }
}

pub fn function_change_text(c: &FunctionChange, lang: Lang) -> String {
    match c {
        FunctionChange::Create => tr(lang, "create", "作成").into(),
        FunctionChange::Unchanged => tr(lang, "unchanged", "変更なし").into(),
        FunctionChange::RefuseUnmanaged => tr(
            lang,
            "left alone (not tagged by egress-probe)",
            "変更しない（egress-probe のタグなし）",
        )
        .into(),
        FunctionChange::Update {
            code,
            configuration,
            tags,
        } => {
            let mut parts = Vec::new();
            if *code {
                parts.push(tr(lang, "code", "コード").to_string());
            }
            parts.extend(configuration.iter().cloned());
            if *tags {
                parts.push(tr(lang, "tags", "タグ").into());
            }
            format!(
                "{} {}",
                tr(lang, "update", "更新:"),
                parts.join(tr(lang, ", ", "、"))
            )
        }
    }
}

pub fn schedule_change_text(c: &ScheduleChange, lang: Lang) -> String {
    match c {
        ScheduleChange::None => "-".into(),
        ScheduleChange::Create { expression } => {
            format!("{} {expression}", tr(lang, "create", "作成:"))
        }
        ScheduleChange::Update { expression } => {
            format!("{} {expression}", tr(lang, "update", "更新:"))
        }
        ScheduleChange::Unchanged => tr(lang, "unchanged", "変更なし").into(),
        ScheduleChange::Remove => tr(lang, "remove", "削除").into(),
        ScheduleChange::RefuseUnmanaged => tr(
            lang,
            "left alone (rule not tagged by egress-probe)",
            "変更しない（ルールに egress-probe のタグなし）",
        )
        .into(),
    }
}

impl StepStatus {
    /// The short status for a table cell; the error of a failed step is listed below it.
    fn cell(&self, lang: Lang) -> &'static str {
        match self {
            StepStatus::Planned => tr(lang, "planned", "予定"),
            StepStatus::Done => tr(lang, "done", "完了"),
            StepStatus::Failed(_) => tr(lang, "FAILED", "失敗"),
            StepStatus::NotDone(_) => tr(lang, "not done", "未実行"),
        }
    }

    pub fn in_words(&self, lang: Lang) -> String {
        match self {
            StepStatus::Failed(e) => format!("{}: {e}", tr(lang, "FAILED", "失敗")),
            StepStatus::NotDone(e) => format!("{}: {e}", tr(lang, "not done", "未実行")),
            other => other.cell(lang).to_string(),
        }
    }
}

impl Render for InstallResult {
    fn text(&self, lang: Lang) -> String {
        let mut s = String::new();
        let head = if self.dry_run {
            tr(
                lang,
                "Install plan (dry run, nothing changed)",
                "インストール計画（ドライラン、変更なし）",
            )
        } else {
            tr(lang, "Install", "インストール")
        };
        s.push_str(&output::wrap(
            "",
            2,
            &format!(
                "{head}: {} {}, {} {}",
                tr(lang, "account", "アカウント"),
                self.account,
                tr(lang, "Region", "リージョン"),
                self.region
            ),
        ));
        s.push_str(&output::wrap(
            "",
            2,
            &format!(
                "zip {} ({}, {})",
                self.zip.path,
                self.zip.architecture,
                self.zip.code_sha256.chars().take(12).collect::<String>()
            ),
        ));
        let role_action = match self.role.action {
            RoleAction::Given => tr(lang, "given", "指定されたもの"),
            RoleAction::Create => tr(lang, "create", "作成"),
            RoleAction::Update => tr(lang, "update policies", "ポリシーを更新"),
            RoleAction::Unchanged => tr(lang, "unchanged", "変更なし"),
        };
        s.push_str(&output::wrap(
            "",
            2,
            &format!(
                "{} {}: {role_action} [{}]",
                tr(lang, "role", "ロール"),
                self.role.name,
                self.role.status.in_words(lang)
            ),
        ));
        for g in &self.security_groups {
            let action = match g.action {
                SgAction::Given => tr(lang, "given", "指定されたもの"),
                SgAction::Mirrored => tr(
                    lang,
                    "mirrored from --like-function",
                    "--like-function の関数と同じ",
                ),
                SgAction::Create => tr(lang, "create egress-probe group", "egress-probe 用を作成"),
                SgAction::Unchanged => tr(
                    lang,
                    "egress-probe group unchanged",
                    "egress-probe 用（変更なし）",
                ),
            };
            let groups = if g.group_ids.is_empty() {
                tr(lang, "new group", "新しいグループ").to_string()
            } else {
                g.group_ids.join(", ")
            };
            s.push_str(&output::wrap(
                "",
                2,
                &format!(
                    "{} {}: {groups} {action} [{}]",
                    tr(lang, "security groups of", "セキュリティグループ"),
                    g.vpc_id,
                    g.status.in_words(lang)
                ),
            ));
        }
        // By AZ, one row per probe: subnet and status, then what changes (function,
        // schedule) on its own line, so that long change lists still fit 80 columns.
        let mut probes: Vec<&ProbeStep> = self.probes.iter().collect();
        probes.sort_by(|a, b| {
            (&a.availability_zone, &a.subnet_id).cmp(&(&b.availability_zone, &b.subnet_id))
        });
        let mut az: Option<&str> = None;
        for p in probes {
            if az != Some(p.availability_zone.as_str()) {
                az = Some(&p.availability_zone);
                let _ = writeln!(s, "{}", p.availability_zone);
            }
            let _ = writeln!(s, "  {}  {}", p.subnet_id, p.status.cell(lang));
            let change = format!(
                "{} {}; {} {}",
                tr(lang, "function", "関数:"),
                function_change_text(&p.function_change, lang),
                tr(lang, "schedule", "スケジュール:"),
                schedule_change_text(&p.schedule_change, lang)
            );
            s.push_str(&output::wrap("    ", 6, &change));
            if p.status.failed() {
                s.push_str(&output::wrap("    ", 6, &p.status.in_words(lang)));
            }
        }
        for p in &self.pruned {
            let text = match lang {
                Lang::En => format!(
                    "prune {} (subnet {} is gone){} [{}]",
                    p.function,
                    p.subnet_id,
                    if p.remove_rule { " and its rule" } else { "" },
                    p.status.in_words(lang)
                ),
                Lang::Ja => format!(
                    "{}{}を削除（サブネット {} は存在しない） [{}]",
                    p.function,
                    if p.remove_rule {
                        " とそのルール"
                    } else {
                        " "
                    },
                    p.subnet_id,
                    p.status.in_words(lang)
                ),
            };
            s.push_str(&output::wrap("", 2, &text));
        }
        for k in &self.skipped {
            s.push_str(&output::wrap(
                &format!("{} {}: ", tr(lang, "skipped", "対象外"), k.subnet_id),
                2,
                k.reason.get(lang),
            ));
        }
        for n in &self.notes {
            s.push_str(&output::wrap(tr(lang, "note: ", "注意: "), 2, n.get(lang)));
        }
        let failures = self.failures();
        let changes = self.changes();
        let summary = match (lang, self.dry_run, failures) {
            (Lang::En, true, _) => {
                format!("{changes} change(s) planned; run without --dry-run to apply.")
            }
            (Lang::Ja, true, _) => {
                format!("{changes} 件の変更を予定。適用するには --dry-run なしで実行してください。")
            }
            (Lang::En, false, 0) => format!("{changes} change(s) made; all done."),
            (Lang::Ja, false, 0) => format!("{changes} 件を変更。すべて完了しました。"),
            (Lang::En, false, _) => format!(
                "{failures} step(s) not done (see above); re-run the same command to finish."
            ),
            (Lang::Ja, false, _) => format!(
                "{failures} 件の手順が未完了です（上記）。同じコマンドを再実行すると完了します。"
            ),
        };
        s.push_str(&output::wrap("", 0, &summary));
        s
    }
}

/// Entry point.
pub async fn run(ctx: &mut Ctx, args: &InstallArgs) -> Result<Outcome> {
    if args.selection.is_empty() && !args.prune {
        bail!(
            "no subnets chosen: pass --vpc, --subnet, --tag, --like-function or --lambda-subnets"
        );
    }
    if let Some(arn) = &args.role_arn
        && (!arn.starts_with("arn:aws") || !arn.contains(":role/"))
    {
        bail!("--role-arn `{arn}` is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)");
    }
    let zip_path = artifact::locate(args.zip.as_deref())?;
    let zip = Arc::new(artifact::load(&zip_path)?);
    let clients = ctx.clients().await?;
    let visible = ctx.progress_visible();
    let journal = ctx.journal.clone();
    let result = execute(&clients, args, zip, visible, &journal).await?;
    let code = if result.dry_run || result.failures() == 0 {
        exit::OK
    } else {
        exit::ERROR
    };
    Ok(outcome(ctx, &result, code))
}

/// `install` in one account and Region with these clients and this zip (also the fleet's
/// and the manager's unit of work); the arguments are checked by the caller.
pub async fn execute(
    clients: &Clients,
    args: &InstallArgs,
    zip: Arc<Artifact>,
    visible: bool,
    journal: &Journal,
) -> Result<InstallResult> {
    let clients = clients.clone();
    let journal = journal.clone();
    // Reads that do not depend on each other run at the same time: the account with the
    // subnet selection; the public-subnet screening (a snapshot per VPC, in rounds) with
    // every chosen probe's current state; then the security groups with the role. At 50 ms
    // per call the sequence of these reads bounded the whole install (README, issue 14).
    let (account, mut selection) =
        tokio::try_join!(clients.account(), select_subnets(&clients, args))?;
    let chosen = selection.subnets.clone();
    let mut notes = Vec::new();
    let progress = Progress::new(chosen.len() as u64, "reading", visible);
    let (skipped, existing_chosen) = tokio::join!(
        screen_public_subnets(&clients, &mut selection, &mut notes),
        read_existing(&clients, &chosen, args.concurrency, &progress)
    );
    progress.finish();
    let existing_chosen = existing_chosen?;
    if selection.subnets.is_empty() && !args.selection.is_empty() {
        bail!(
            "every chosen subnet is public, and a Lambda function there never reaches the internet: {}",
            skipped
                .iter()
                .map(|k| format!("{}: {}", k.subnet_id, k.reason.en))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let (sgs, role) = tokio::try_join!(
        plan_security_groups(&clients, args, &selection),
        plan_role(&clients, args)
    )?;
    let (mut sgs, mut role) = (sgs, role);

    // The current state of the subnets kept (public ones were screened out above; their
    // reads are dropped), in the selection's order.
    let mut by_subnet: HashMap<String, Current> = chosen
        .iter()
        .map(|s| s.id.clone())
        .zip(existing_chosen)
        .collect();
    let existing: Vec<Current> = selection
        .subnets
        .iter()
        .map(|s| {
            by_subnet
                .remove(&s.id)
                .ok_or_else(|| anyhow!("the current state of {} was not read", s.id))
        })
        .collect::<Result<_>>()?;

    let inherited = Inherited::from_existing(&existing);
    if existing
        .iter()
        .any(|e| e.function.as_ref().is_some_and(|f| f.is_managed()))
        && (args.schedule.is_none() && !args.no_schedule
            || args.targets.is_empty() && !args.default_targets
            || args.diagnose.is_none()
            || args.metric_namespace.is_none())
    {
        notes.push(Said::new(
            "settings not given are kept from the installed probes (change them with --schedule or --no-schedule, --target or --default-targets, --diagnose, --metric-namespace)",
            "指定しなかった設定はインストール済みのプローブから引き継ぎます（変更は --schedule または --no-schedule、--target または --default-targets、--diagnose、--metric-namespace で）",
        ));
    }
    let mut probes = Vec::new();
    let mut specs = Vec::new();
    let mut probe_settings = Vec::new();
    for (subnet, current) in selection.subnets.iter().zip(existing) {
        let settings = resolve_settings(args, &current, &inherited);
        let groups = sgs
            .iter()
            .find(|g| g.vpc_id == subnet.vpc_id)
            .map(|g| g.group_ids.clone())
            .unwrap_or_default();
        let spec = FunctionSpec::new(
            subnet.clone(),
            groups,
            role.arn.clone().unwrap_or_default(),
            zip.arch,
            zip.code_sha256.clone(),
            &settings,
        );
        let function_change = plan::diff_function(&spec, current.function.as_ref());
        let fn_arn = current
            .function
            .as_ref()
            .map(|f| f.arn.clone())
            .unwrap_or_default();
        let input = plan::rule_input(&settings.targets);
        let schedule_change = converge_schedule(
            plan::diff_schedule(
                settings.schedule.as_deref(),
                &fn_arn,
                &input,
                current.rule.as_ref(),
            ),
            &settings,
            &current,
        );
        probes.push(ProbeStep {
            subnet_id: subnet.id.clone(),
            availability_zone: subnet.availability_zone.clone(),
            vpc_id: subnet.vpc_id.clone(),
            function: spec.name.clone(),
            function_change,
            schedule_change,
            settings: SettingsView::from(&settings),
            status: StepStatus::Planned,
        });
        specs.push(spec);
        probe_settings.push(settings);
    }

    let mut pruned = Vec::new();
    if args.prune {
        for f in prune_plan(&clients).await? {
            let subnet = f.subnet_tag().unwrap_or_default().to_string();
            let remove_rule = aws::get_rule(&clients, &plan::rule_name(&subnet))
                .await?
                .is_some_and(|r| r.managed);
            pruned.push(PruneStep {
                function: f.name.clone(),
                subnet_id: subnet,
                remove_rule,
                status: StepStatus::Planned,
            });
        }
    }

    let zip_info = ZipInfo {
        path: zip.path.display().to_string(),
        architecture: zip.arch.as_lambda().to_string(),
        code_sha256: zip.code_sha256.clone(),
        bytes: zip.bytes.len(),
    };
    if args.dry_run {
        return Ok(InstallResult {
            dry_run: true,
            region: clients.region.clone(),
            account,
            zip: zip_info,
            role,
            security_groups: sgs,
            probes,
            pruned,
            skipped,
            notes,
        });
    }

    // Apply: shared resources first; a failure there stops the probes that need them.
    let role_ok = apply_role(&clients, &mut role, &journal).await;
    for s in &mut specs {
        s.role_arn = role.arn.clone().unwrap_or_default();
    }
    for g in &mut sgs {
        apply_security_group(&clients, g, &journal).await;
    }
    let role_created = role.action == RoleAction::Create;
    let progress = Progress::new(probes.len() as u64, "installing", visible);
    let sem = Arc::new(tokio::sync::Semaphore::new(args.concurrency as usize));
    let mut set = tokio::task::JoinSet::new();
    for (i, ((step, mut spec), settings)) in
        probes.iter().zip(specs).zip(probe_settings).enumerate()
    {
        if let Some(sg) = sgs.iter().find(|g| g.vpc_id == step.vpc_id) {
            spec.security_group_ids = sg.group_ids.clone();
            spec.security_group_ids.sort();
            if sg.status.failed() {
                let why = format!("security group for {} not ready", step.vpc_id);
                set.spawn(async move { (i, StepStatus::NotDone(why)) });
                continue;
            }
        }
        if !role_ok {
            let why = "execution role not ready".to_string();
            set.spawn(async move { (i, StepStatus::NotDone(why)) });
            continue;
        }
        if matches!(step.function_change, FunctionChange::RefuseUnmanaged) {
            let why = format!(
                "{} exists and is not tagged {}=true",
                step.function,
                plan::MANAGED_TAG
            );
            set.spawn(async move { (i, StepStatus::Failed(why)) });
            continue;
        }
        let clients = clients.clone();
        let zip = zip.clone();
        let sem = sem.clone();
        let step = step.clone();
        let progress = progress.clone();
        let journal = journal.clone();
        let wait = Duration::from_secs(args.wait_timeout);
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            progress.message(format!("installing {}", step.subnet_id));
            let status = match apply_probe(
                &clients,
                &zip,
                &spec,
                &step,
                &settings,
                role_created,
                wait,
                &progress,
                &journal,
            )
            .await
            {
                Ok(()) => StepStatus::Done,
                Err(e) => StepStatus::Failed(format!("{e:#}")),
            };
            progress.inc();
            (i, status)
        });
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, status)) => {
                if let Some(p) = probes.get_mut(i) {
                    p.status = status;
                }
            }
            Err(e) => tracing::error!("an install task stopped: {e}"),
        }
    }
    for p in &mut probes {
        if p.status == StepStatus::Planned {
            p.status = StepStatus::NotDone("the task stopped before finishing".into());
        }
    }
    progress.finish();

    for p in &mut pruned {
        p.status = match prune_one(&clients, p).await {
            Ok(()) => {
                journal.done(format!("removed function {} (subnet gone)", p.function));
                StepStatus::Done
            }
            Err(e) => StepStatus::Failed(format!("{e:#}")),
        };
    }

    Ok(InstallResult {
        dry_run: false,
        region: clients.region.clone(),
        account,
        zip: zip_info,
        role,
        security_groups: sgs,
        probes,
        pruned,
        skipped,
        notes,
    })
}

/// One probe as it is now: its function, its rule, and the `SourceArn` of the permission
/// that lets the rule invoke it (`None`: no such permission).
#[derive(Debug, Clone, Default)]
pub struct Current {
    pub function: Option<ExistingFunction>,
    pub rule: Option<plan::ExistingRule>,
    pub permission: Option<String>,
}

impl Current {
    /// The installed probe's settings, when it is ours.
    fn managed(&self) -> Option<&ExistingFunction> {
        self.function.as_ref().filter(|f| f.is_managed())
    }
    /// The installed probe's deployment settings, read through the probe's own contract
    /// (`egress_probe::settings`); `None` when it is not ours or its environment does not
    /// parse (then it gets the command line's or the defaults).
    fn deployed(&self) -> Option<ProbeEnvironment> {
        let f = self.managed()?;
        ProbeEnvironment::from_lookup(|k| f.environment.get(k).cloned()).ok()
    }
    fn targets(&self) -> Option<Vec<Target>> {
        self.deployed().map(|d| d.targets)
    }
    fn diagnose(&self) -> Option<DiagnoseMode> {
        self.deployed().map(|d| d.diagnose)
    }
    fn metric_namespace(&self) -> Option<String> {
        self.deployed().map(|d| d.metric_namespace)
    }
    /// `Some(None)`: installed without a schedule.
    fn schedule(&self) -> Option<Option<String>> {
        self.managed()?;
        Some(
            self.rule
                .as_ref()
                .filter(|r| r.managed)
                .and_then(|r| r.schedule.clone()),
        )
    }
}

/// The value every installed probe of the selection shares, if they agree.
fn common<T: Clone + PartialEq>(values: impl IntoIterator<Item = T>) -> Option<T> {
    let mut it = values.into_iter();
    let first = it.next()?;
    it.all(|v| v == first).then_some(first)
}

/// Settings that new probes take from the installed ones (when those agree).
#[derive(Debug, Clone, Default)]
pub struct Inherited {
    targets: Option<Vec<Target>>,
    diagnose: Option<DiagnoseMode>,
    metric_namespace: Option<String>,
    schedule: Option<Option<String>>,
}

impl Inherited {
    pub fn from_existing(existing: &[Current]) -> Self {
        Self {
            targets: common(existing.iter().filter_map(Current::targets)),
            diagnose: common(existing.iter().filter_map(Current::diagnose)),
            metric_namespace: common(existing.iter().filter_map(Current::metric_namespace)),
            schedule: common(existing.iter().filter_map(Current::schedule)),
        }
    }
}

/// A probe's settings: what the command line says, else what the installed probe has,
/// else what the other installed probes share, else the defaults. Settings the user did not
/// mention are never reset.
pub fn resolve_settings(
    args: &InstallArgs,
    current: &Current,
    inherited: &Inherited,
) -> ProbeSettings {
    let targets = if args.default_targets {
        Vec::new()
    } else if !args.targets.is_empty() {
        args.targets.clone()
    } else {
        current
            .targets()
            .or_else(|| inherited.targets.clone())
            .unwrap_or_default()
    };
    let diagnose = args
        .diagnose
        .or_else(|| current.diagnose())
        .or(inherited.diagnose)
        .unwrap_or(settings::DEFAULT_DIAGNOSE);
    let metric_namespace = args
        .metric_namespace
        .clone()
        .or_else(|| current.metric_namespace())
        .or_else(|| inherited.metric_namespace.clone())
        .unwrap_or_else(|| settings::DEFAULT_METRIC_NAMESPACE.to_string());
    let schedule = if args.no_schedule {
        None
    } else if let Some(s) = &args.schedule {
        Some(s.clone())
    } else {
        current
            .schedule()
            .or_else(|| inherited.schedule.clone())
            .flatten()
    };
    ProbeSettings {
        targets,
        diagnose,
        metric_namespace,
        schedule,
    }
}

/// The rule diff, extended to the permission: a schedule whose rule and target are right
/// but whose Lambda permission is missing or names another rule cannot invoke the probe,
/// so it is updated (EventBridge needs `lambda:InvokeFunction` on the function);
/// a permission left without a rule is removed.
pub fn converge_schedule(
    change: ScheduleChange,
    settings: &ProbeSettings,
    current: &Current,
) -> ScheduleChange {
    let permission_ok = match (&current.rule, &current.permission) {
        (Some(rule), Some(source)) => !rule.arn.is_empty() && *source == rule.arn,
        _ => false,
    };
    match change {
        ScheduleChange::Unchanged if !permission_ok => ScheduleChange::Update {
            expression: settings.schedule.clone().unwrap_or_default(),
        },
        ScheduleChange::None if current.permission.is_some() => ScheduleChange::Remove,
        other => other,
    }
}

/// The chosen subnets, and the security groups of `--like-function`.
pub struct Selection {
    pub subnets: Vec<SubnetInfo>,
    pub like_function_groups: Option<Vec<String>>,
    /// Subnets named explicitly (`--subnet`, `--like-function`, `--lambda-subnets`).
    pub named: Vec<String>,
}

async fn select_subnets(clients: &Clients, args: &InstallArgs) -> Result<Selection> {
    let sel = &args.selection;
    let mut ids: Vec<String> = sel.subnets.clone();
    let mut like_groups = None;
    if !sel.subnets.is_empty() {
        aws::subnets_by_id(clients, &sel.subnets).await?;
    }
    if let Some(name) = &sel.like_function {
        let f = match clients
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
        {
            Ok(f) => f,
            Err(e) if code(&e) == Some("ResourceNotFoundException") => {
                bail!(
                    "function {name} not found in {}: check --like-function",
                    clients.region
                )
            }
            Err(e) => return Err(api_error("lambda:GetFunctionConfiguration", e)),
        };
        let vpc = f.vpc_config();
        let subnets = vpc.map(|v| v.subnet_ids().to_vec()).unwrap_or_default();
        if subnets.is_empty() {
            bail!("function {name} is not attached to a VPC: --like-function needs a VPC function");
        }
        aws::subnets_by_id(clients, &subnets).await?;
        ids.extend(subnets);
        like_groups = Some(
            vpc.map(|v| v.security_group_ids().to_vec())
                .unwrap_or_default(),
        );
    }
    if sel.lambda_subnets {
        let mut found = Vec::new();
        for (name, subnets) in aws::all_function_vpc_configs(clients).await? {
            if !name.starts_with(plan::PREFIX) {
                found.extend(subnets);
            }
        }
        if found.is_empty() {
            bail!(
                "--lambda-subnets: no VPC-attached function in {} (other than egress-probe's)",
                clients.region
            );
        }
        ids.extend(found);
    }
    ids.sort();
    ids.dedup();
    if let Some(vpc) = &sel.vpc {
        aws::check_vpc(clients, vpc).await?;
    }
    let names_subnets =
        !sel.subnets.is_empty() || sel.like_function.is_some() || sel.lambda_subnets;
    let mut filters = Vec::new();
    if names_subnets {
        filters.push(aws::subnet_id_filter(&ids));
    }
    if let Some(vpc) = &sel.vpc {
        filters.push(aws::vpc_filter(vpc));
    }
    for (k, v) in &sel.tags {
        filters.push(aws::tag_filter(k, v));
    }
    let subnets = if filters.is_empty() {
        Vec::new()
    } else {
        aws::describe_subnets(clients, filters).await?
    };
    if subnets.is_empty() && !sel.is_empty() {
        bail!(
            "no subnet in {} matches the selection (--vpc/--subnet/--tag/--like-function/--lambda-subnets)",
            clients.region
        );
    }
    Ok(Selection {
        subnets,
        like_function_groups: like_groups,
        named: if names_subnets { ids } else { Vec::new() },
    })
}

/// Any address outside the VPC follows the subnet's default route; a documentation
/// address (RFC 5737) stands for "the internet".
const INTERNET: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

/// Why a Lambda function in `subnet` can never reach the internet because the subnet is
/// public (0.0.0.0/0 to an internet gateway; a NAT gateway's own subnet is one): its ENI has
/// no public IP (R9). The diagnosis engine decides, on the VPC's snapshot: its
/// `LAMBDA_SUBNET_ROUTES_TO_IGW` finding, not a second rule set.
pub fn public_subnet_reason(snapshot: &NetworkSnapshot, subnet: &str) -> Option<Said> {
    let subject = Subject {
        function: None,
        subnet_ids: vec![subnet.to_string()],
        security_group_ids: Vec::new(),
    };
    let flow = Flow {
        target: format!("tcp://{INTERNET}:443"),
        host: None,
        destination: INTERNET,
        protocol: Protocol::TCP,
        port: 443,
    };
    let d = diagnosis::diagnose(snapshot, &subject, &[flow], &[]);
    let finding = d.findings.iter().find(|f| {
        f.code == "LAMBDA_SUBNET_ROUTES_TO_IGW" && f.subnet_id.as_deref() == Some(subnet)
    })?;
    let nat = snapshot
        .nat_gateways
        .iter()
        .find(|n| n.subnet_id.as_deref() == Some(subnet) && n.state != "deleted");
    let nat_en = nat
        .map(|n| format!("; it is the subnet of NAT gateway {}", n.id))
        .unwrap_or_default();
    let nat_ja = nat
        .map(|n| format!("。NAT ゲートウェイ {} のサブネットです", n.id))
        .unwrap_or_default();
    let ja = output::summary(finding, Lang::Ja);
    Some(Said::new(
        format!("{}{nat_en} (R9)", finding.summary),
        format!("{ja}{nat_ja}（R9）"),
    ))
}

/// Leaves public subnets out of a `--vpc` / `--tag` selection and says why; subnets named
/// explicitly are kept, with a note that their probe will report the failure.
async fn screen_public_subnets(
    clients: &Clients,
    selection: &mut Selection,
    notes: &mut Vec<Said>,
) -> Vec<SkippedSubnet> {
    let mut vpcs: Vec<String> = selection.subnets.iter().map(|s| s.vpc_id.clone()).collect();
    vpcs.sort();
    vpcs.dedup();
    let snap_clients = clients.snapshot_clients();
    let mut public: Vec<(String, Said)> = Vec::new();
    for vpc in vpcs {
        match snapshot::take(&snap_clients, &Scope::Vpc(vpc.clone())).await {
            Ok(snap) => {
                for s in selection.subnets.iter().filter(|s| s.vpc_id == vpc) {
                    if let Some(reason) = public_subnet_reason(&snap, &s.id) {
                        public.push((s.id.clone(), reason));
                    }
                }
            }
            Err(e) => notes.push(Said::new(
                format!(
                    "could not check {vpc} for public subnets ({e}); every chosen subnet is used"
                ),
                format!(
                    "{vpc} のパブリックサブネットを確認できませんでした（{e}）。選んだサブネットをすべて使います"
                ),
            )),
        }
    }
    let mut skipped = Vec::new();
    for (id, reason) in public {
        if selection.named.contains(&id) {
            notes.push(Said::new(
                format!(
                    "{id} was named, so it gets a probe, but that probe will fail: {}",
                    reason.en
                ),
                format!(
                    "{id} は指定されたのでプローブを置きますが、そのプローブは失敗します: {}",
                    reason.ja
                ),
            ));
        } else {
            selection.subnets.retain(|s| s.id != id);
            skipped.push(SkippedSubnet {
                subnet_id: id,
                reason: Said::new(
                    format!(
                        "{}; name it with --subnet to place a probe anyway",
                        reason.en
                    ),
                    format!(
                        "{}。それでもプローブを置くには --subnet で指定してください",
                        reason.ja
                    ),
                ),
            });
        }
    }
    skipped
}

async fn plan_security_groups(
    clients: &Clients,
    args: &InstallArgs,
    selection: &Selection,
) -> Result<Vec<SgStep>> {
    let mut vpcs: Vec<String> = selection.subnets.iter().map(|s| s.vpc_id.clone()).collect();
    vpcs.sort();
    vpcs.dedup();
    let explicit = if !args.security_groups.is_empty() {
        Some((args.security_groups.clone(), SgAction::Given))
    } else {
        selection
            .like_function_groups
            .clone()
            .filter(|g| !g.is_empty())
            .map(|g| (g, SgAction::Mirrored))
    };
    if let Some((groups, action)) = explicit {
        let found = aws::security_groups(clients, &groups).await?;
        for vpc in &vpcs {
            if let Some((g, other)) = found.iter().find(|(_, v)| v != vpc) {
                bail!(
                    "security group {g} belongs to {other}, but subnets of {vpc} were chosen: pass groups of the subnets' VPC"
                );
            }
        }
        return Ok(vpcs
            .into_iter()
            .map(|vpc_id| SgStep {
                vpc_id,
                group_ids: groups.clone(),
                action: action.clone(),
                status: StepStatus::Planned,
            })
            .collect());
    }
    let mut out = Vec::new();
    for vpc in vpcs {
        let resp = clients
            .ec2
            .describe_security_groups()
            .filters(aws::vpc_filter(&vpc))
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("group-name")
                    .values(plan::SG_NAME)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeSecurityGroups", e))?;
        match resp.security_groups().first() {
            Some(g) => {
                let managed = g
                    .tags()
                    .iter()
                    .any(|t| t.key() == Some(plan::MANAGED_TAG) && t.value() == Some("true"));
                let id = g.group_id().unwrap_or_default().to_string();
                if !managed {
                    bail!(
                        "security group {id} in {vpc} is named `{}` but not tagged {}=true: pass --security-group, or tag or rename it",
                        plan::SG_NAME,
                        plan::MANAGED_TAG
                    );
                }
                out.push(SgStep {
                    vpc_id: vpc,
                    group_ids: vec![id],
                    action: SgAction::Unchanged,
                    status: StepStatus::Planned,
                });
            }
            None => out.push(SgStep {
                vpc_id: vpc,
                group_ids: Vec::new(),
                action: SgAction::Create,
                status: StepStatus::Planned,
            }),
        }
    }
    Ok(out)
}

async fn plan_role(clients: &Clients, args: &InstallArgs) -> Result<RoleStep> {
    let name = plan::role_name(&clients.region);
    if let Some(arn) = &args.role_arn {
        return Ok(RoleStep {
            name: arn.rsplit('/').next().unwrap_or(arn).to_string(),
            arn: Some(arn.clone()),
            action: RoleAction::Given,
            status: StepStatus::Planned,
        });
    }
    let role = match clients.iam.get_role().role_name(&name).send().await {
        Ok(r) => r,
        Err(e) if code(&e) == Some("NoSuchEntity") => {
            return Ok(RoleStep {
                name,
                arn: None,
                action: RoleAction::Create,
                status: StepStatus::Planned,
            });
        }
        Err(e) => return Err(api_error("iam:GetRole", e)),
    };
    let arn = role
        .role()
        .map(|r| r.arn().to_string())
        .ok_or_else(|| anyhow!("iam:GetRole {name}: answer without a role"))?;
    if !aws::role_is_managed(clients, &name).await? {
        bail!(
            "role {name} exists but is not tagged {}=true: pass --role-arn to use it, or delete it",
            plan::MANAGED_TAG
        );
    }
    let account = aws::account_of_arn(&arn).unwrap_or("*").to_string();
    let wanted = plan::inline_policy(&clients.region, &account);
    let current = match clients
        .iam
        .get_role_policy()
        .role_name(&name)
        .policy_name(plan::INLINE_POLICY)
        .send()
        .await
    {
        Ok(p) => aws::decode_policy(p.policy_document()),
        Err(e) if code(&e) == Some("NoSuchEntity") => None,
        Err(e) => return Err(api_error("iam:GetRolePolicy", e)),
    };
    let attached = clients
        .iam
        .list_attached_role_policies()
        .role_name(&name)
        .send()
        .await
        .map_err(|e| api_error("iam:ListAttachedRolePolicies", e))?;
    let has_vpc_access = attached
        .attached_policies()
        .iter()
        .any(|p| p.policy_arn() == Some(plan::VPC_ACCESS_POLICY));
    let action = if current.as_ref() == Some(&wanted) && has_vpc_access {
        RoleAction::Unchanged
    } else {
        RoleAction::Update
    };
    Ok(RoleStep {
        name,
        arn: Some(arn),
        action,
        status: StepStatus::Planned,
    })
}

/// Creates or updates the role; returns whether it is usable.
async fn apply_role(clients: &Clients, role: &mut RoleStep, journal: &Journal) -> bool {
    let result: Result<()> = async {
        match role.action {
            RoleAction::Given | RoleAction::Unchanged => return Ok(()),
            RoleAction::Create => {
                let tag = aws_sdk_iam::types::Tag::builder()
                    .key(plan::MANAGED_TAG)
                    .value("true")
                    .build()
                    .context("building the role tag")?;
                let created = clients
                    .iam
                    .create_role()
                    .role_name(&role.name)
                    .assume_role_policy_document(plan::trust_policy().to_string())
                    .description(
                        "Execution role of the egress-probe functions (managed by egress-probe)",
                    )
                    .tags(tag)
                    .send()
                    .await
                    .map_err(|e| api_error("iam:CreateRole", e))?;
                role.arn = Some(
                    created
                        .role()
                        .map(|r| r.arn().to_string())
                        .ok_or_else(|| anyhow!("iam:CreateRole: answer without a role"))?,
                );
                journal.done(format!("created role {}", role.name));
            }
            RoleAction::Update => {}
        }
        let account = role
            .arn
            .as_deref()
            .and_then(aws::account_of_arn)
            .unwrap_or("*")
            .to_string();
        clients
            .iam
            .put_role_policy()
            .role_name(&role.name)
            .policy_name(plan::INLINE_POLICY)
            .policy_document(plan::inline_policy(&clients.region, &account).to_string())
            .send()
            .await
            .map_err(|e| api_error("iam:PutRolePolicy", e))?;
        clients
            .iam
            .attach_role_policy()
            .role_name(&role.name)
            .policy_arn(plan::VPC_ACCESS_POLICY)
            .send()
            .await
            .map_err(|e| api_error("iam:AttachRolePolicy", e))?;
        journal.done(format!("set the policies of role {}", role.name));
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            role.status = StepStatus::Done;
            true
        }
        Err(e) => {
            role.status = StepStatus::Failed(format!("{e:#}"));
            false
        }
    }
}

async fn apply_security_group(clients: &Clients, step: &mut SgStep, journal: &Journal) {
    if step.action != SgAction::Create {
        step.status = StepStatus::Done;
        return;
    }
    let result: Result<String> = async {
        let spec = aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key(plan::MANAGED_TAG)
                    .value("true")
                    .build(),
            )
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("Name")
                    .value(plan::SG_NAME)
                    .build(),
            )
            .build();
        // The default egress rule (all traffic to 0.0.0.0/0, and ::/0 in IPv6 VPCs) is kept:
        // the probe tests the subnet's path, not its own group (least surprise: like a
        // function with a new group). Use --security-group to test specific groups.
        let resp = clients
            .ec2
            .create_security_group()
            .group_name(plan::SG_NAME)
            .description("egress-probe functions (managed by egress-probe; all egress, no ingress)")
            .vpc_id(&step.vpc_id)
            .tag_specifications(spec)
            .send()
            .await
            .map_err(|e| api_error("ec2:CreateSecurityGroup", e))?;
        resp.group_id()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("ec2:CreateSecurityGroup: answer without a group ID"))
    }
    .await;
    match result {
        Ok(id) => {
            journal.done(format!("created security group {id} in {}", step.vpc_id));
            step.group_ids = vec![id];
            step.status = StepStatus::Done;
        }
        Err(e) => step.status = StepStatus::Failed(format!("{e:#}")),
    }
}

async fn read_existing(
    clients: &Clients,
    subnets: &[SubnetInfo],
    concurrency: u32,
    progress: &Progress,
) -> Result<Vec<Current>> {
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency as usize));
    let mut set = tokio::task::JoinSet::new();
    for (i, s) in subnets.iter().enumerate() {
        let clients = clients.clone();
        let sem = sem.clone();
        let id = s.id.clone();
        let progress = progress.clone();
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let name = plan::function_name(&id);
            let read = async {
                let function = aws::get_function(&clients, &name).await?;
                let rule = aws::get_rule(&clients, &plan::rule_name(&id)).await?;
                let permission = match &function {
                    Some(f) if f.is_managed() => {
                        aws::permission_source(&clients, &name, plan::PERMISSION_SID).await?
                    }
                    _ => None,
                };
                anyhow::Ok(Current {
                    function,
                    rule,
                    permission,
                })
            }
            .await;
            progress.inc();
            (i, read)
        });
    }
    let mut out: Vec<Current> = vec![Current::default(); subnets.len()];
    while let Some(joined) = set.join_next().await {
        let (i, read) = joined.context("reading the current probes")?;
        out[i] = read?;
    }
    Ok(out)
}

async fn prune_plan(clients: &Clients) -> Result<Vec<ExistingFunction>> {
    let managed = aws::managed_functions(clients).await?;
    let tagged: Vec<String> = managed
        .iter()
        .filter_map(|f| f.subnet_tag().map(str::to_string))
        .collect();
    let existing: HashSet<String> = if tagged.is_empty() {
        HashSet::new()
    } else {
        aws::describe_subnets(clients, vec![aws::subnet_id_filter(&tagged)])
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect()
    };
    Ok(plan::prune_candidates(&managed, &existing)
        .into_iter()
        .cloned()
        .collect())
}

async fn prune_one(clients: &Clients, p: &PruneStep) -> Result<()> {
    if p.remove_rule {
        aws::delete_rule(clients, &plan::rule_name(&p.subnet_id)).await?;
    }
    match clients
        .lambda
        .delete_function()
        .function_name(&p.function)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => Err(api_error("lambda:DeleteFunction", e)),
    }
}

fn architecture(zip: &Artifact) -> Architecture {
    Architecture::from(zip.arch.as_lambda())
}

fn vpc_config(spec: &FunctionSpec) -> VpcConfig {
    VpcConfig::builder()
        .subnet_ids(spec.subnet.id.clone())
        .set_security_group_ids(Some(spec.security_group_ids.clone()))
        .build()
}

fn environment(spec: &FunctionSpec) -> Environment {
    Environment::builder()
        .set_variables(Some(
            spec.environment
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ))
        .build()
}

const DESCRIPTION: &str =
    "egress-probe: DNS/TCP/HTTPS egress checks for one subnet (managed by egress-probe)";

#[allow(clippy::too_many_arguments)]
async fn apply_probe(
    clients: &Clients,
    zip: &Artifact,
    spec: &FunctionSpec,
    step: &ProbeStep,
    settings: &ProbeSettings,
    role_created: bool,
    wait: Duration,
    progress: &Progress,
    journal: &Journal,
) -> Result<()> {
    let mut arn = None;
    match &step.function_change {
        FunctionChange::Create => {
            arn = Some(create_function(clients, zip, spec, role_created).await?);
            journal.done(format!("created function {}", spec.name));
            wait_ready(clients, &spec.name, wait, progress).await?;
        }
        FunctionChange::Update {
            code,
            configuration,
            tags,
        } => {
            wait_ready(clients, &spec.name, wait, progress).await?;
            if !configuration.is_empty() {
                clients
                    .lambda
                    .update_function_configuration()
                    .function_name(&spec.name)
                    .role(&spec.role_arn)
                    .runtime(Runtime::from(plan::RUNTIME))
                    .handler(plan::HANDLER)
                    .memory_size(plan::MEMORY_MB)
                    .timeout(plan::TIMEOUT_S)
                    .vpc_config(vpc_config(spec))
                    .environment(environment(spec))
                    .description(DESCRIPTION)
                    .send()
                    .await
                    .map_err(|e| api_error("lambda:UpdateFunctionConfiguration", e))?;
                journal.done(format!(
                    "updated the configuration of {} ({})",
                    spec.name,
                    configuration.join(", ")
                ));
                wait_ready(clients, &spec.name, wait, progress).await?;
            }
            if *code {
                clients
                    .lambda
                    .update_function_code()
                    .function_name(&spec.name)
                    .zip_file(Blob::new(zip.bytes.clone()))
                    .architectures(architecture(zip))
                    .send()
                    .await
                    .map_err(|e| api_error("lambda:UpdateFunctionCode", e))?;
                journal.done(format!("updated the code of {}", spec.name));
                wait_ready(clients, &spec.name, wait, progress).await?;
            }
            if *tags {
                let current = aws::get_function(clients, &spec.name)
                    .await?
                    .ok_or_else(|| anyhow!("{} disappeared during the update", spec.name))?;
                clients
                    .lambda
                    .tag_resource()
                    .resource(&current.arn)
                    .set_tags(Some(aws::tag_map(&spec.tags)))
                    .send()
                    .await
                    .map_err(|e| api_error("lambda:TagResource", e))?;
                journal.done(format!("tagged {}", spec.name));
            }
        }
        FunctionChange::Unchanged => {}
        FunctionChange::RefuseUnmanaged => {
            bail!("{} exists and is not tagged by egress-probe", spec.name)
        }
    }
    // A function created in this pass has no resource policy yet.
    let fresh = matches!(step.function_change, FunctionChange::Create);
    apply_schedule(clients, spec, step, settings, arn, fresh, journal).await
}

async fn create_function(
    clients: &Clients,
    zip: &Artifact,
    spec: &FunctionSpec,
    role_created: bool,
) -> Result<String> {
    // A new role takes seconds to be assumable by Lambda (IAM eventual consistency): retry
    // that one error, bounded.
    let attempts = if role_created { 8 } else { 1 };
    let mut delay = Duration::from_secs(2);
    for attempt in 1..=attempts {
        let result = clients
            .lambda
            .create_function()
            .function_name(&spec.name)
            .runtime(Runtime::from(plan::RUNTIME))
            .handler(plan::HANDLER)
            .role(&spec.role_arn)
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(zip.bytes.clone()))
                    .build(),
            )
            .architectures(architecture(zip))
            .memory_size(plan::MEMORY_MB)
            .timeout(plan::TIMEOUT_S)
            .vpc_config(vpc_config(spec))
            .environment(environment(spec))
            .description(DESCRIPTION)
            .set_tags(Some(aws::tag_map(&spec.tags)))
            .send()
            .await;
        match result {
            Ok(out) => return Ok(out.function_arn().unwrap_or_default().to_string()),
            Err(e)
                if attempt < attempts
                    && code(&e) == Some("InvalidParameterValueException")
                    && aws_smithy_types::error::metadata::ProvideErrorMetadata::message(&e)
                        .is_some_and(|m| m.contains("assume")) =>
            {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            // The SDK retried an attempt that timed out after Lambda had already created
            // the function: it is ours if it carries our tag; go on with it.
            Err(e) if code(&e) == Some("ResourceConflictException") => {
                if let Some(arn) = created_by_us(clients, &spec.name).await {
                    return Ok(arn);
                }
                return Err(api_error("lambda:CreateFunction", e));
            }
            Err(e) => return Err(api_error("lambda:CreateFunction", e)),
        }
    }
    bail!(
        "lambda:CreateFunction {}: the new role was not assumable in time; re-run install",
        spec.name
    )
}

/// The ARN of function `name` when it exists and is tagged as managed by egress-probe.
async fn created_by_us(clients: &Clients, name: &str) -> Option<String> {
    let out = clients
        .lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .ok()?;
    let managed = out
        .tags()
        .and_then(|t| t.get(plan::MANAGED_TAG))
        .is_some_and(|v| v == "true");
    let arn = out.configuration()?.function_arn()?.to_string();
    managed.then_some(arn)
}

/// Waits until the function is `Active` and no update is in progress (R1), bounded.
pub async fn wait_ready(
    clients: &Clients,
    name: &str,
    limit: Duration,
    progress: &Progress,
) -> Result<()> {
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        let c = clients
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|e| api_error("lambda:GetFunctionConfiguration", e))?;
        let state = c.state().map(|s| s.as_str().to_string());
        let update = c.last_update_status().map(|s| s.as_str().to_string());
        match state.as_deref() {
            Some("Failed") => bail!(
                "{name} is Failed ({}): {}",
                c.state_reason_code()
                    .map(|r| r.as_str())
                    .unwrap_or("no reason code"),
                c.state_reason().unwrap_or("")
            ),
            Some("Active") | Some("Inactive") | None if update.as_deref() != Some("InProgress") => {
                if update.as_deref() == Some("Failed") {
                    bail!(
                        "{name}: last update failed ({})",
                        c.last_update_status_reason().unwrap_or("no reason")
                    );
                }
                return Ok(());
            }
            _ => {}
        }
        if started.elapsed() >= limit {
            bail!(
                "{name} still {} after {} s (ENI creation can take minutes): re-run install later",
                state.as_deref().unwrap_or("not ready"),
                limit.as_secs()
            );
        }
        progress.message(format!(
            "{name} is {} ({} s; ENI creation can take minutes)",
            state.as_deref().unwrap_or("not ready"),
            started.elapsed().as_secs()
        ));
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

async fn apply_schedule(
    clients: &Clients,
    spec: &FunctionSpec,
    step: &ProbeStep,
    settings: &ProbeSettings,
    arn: Option<String>,
    fresh: bool,
    journal: &Journal,
) -> Result<()> {
    let rule = plan::rule_name(&spec.subnet.id);
    let expression = match &step.schedule_change {
        ScheduleChange::None | ScheduleChange::Unchanged => return Ok(()),
        ScheduleChange::RefuseUnmanaged => {
            bail!("rule {rule} exists and is not tagged by egress-probe: left alone")
        }
        ScheduleChange::Remove => {
            aws::delete_rule(clients, &rule).await?;
            journal.done(format!("removed rule {rule}"));
            remove_permission(clients, &spec.name).await?;
            return Ok(());
        }
        ScheduleChange::Create { expression } | ScheduleChange::Update { expression } => {
            expression.clone()
        }
    };
    let fn_arn = match arn.filter(|a| !a.is_empty()) {
        Some(a) => a,
        None => aws::get_function(clients, &spec.name)
            .await?
            .map(|f| f.arn)
            .ok_or_else(|| anyhow!("{} not found while scheduling", spec.name))?,
    };
    let tag = aws_sdk_eventbridge::types::Tag::builder()
        .key(plan::MANAGED_TAG)
        .value("true")
        .build()
        .context("building the rule tag")?;
    let subnet_tag = aws_sdk_eventbridge::types::Tag::builder()
        .key(plan::SUBNET_TAG)
        .value(&spec.subnet.id)
        .build()
        .context("building the rule tag")?;
    let put = clients
        .events
        .put_rule()
        .name(&rule)
        .schedule_expression(&expression)
        .state(aws_sdk_eventbridge::types::RuleState::Enabled)
        .description(format!(
            "egress-probe schedule for {} (managed by egress-probe)",
            spec.subnet.id
        ))
        .tags(tag)
        .tags(subnet_tag)
        .send()
        .await
        .map_err(|e| api_error("events:PutRule", e))?;
    journal.done(format!("put rule {rule} ({expression})"));
    let rule_arn = put.rule_arn().unwrap_or_default().to_string();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id(plan::RULE_TARGET_ID)
        .arn(&fn_arn)
        .input(plan::rule_input(&settings.targets))
        .build()
        .context("building the rule target")?;
    let put_targets = clients
        .events
        .put_targets()
        .rule(&rule)
        .targets(target)
        .send()
        .await
        .map_err(|e| api_error("events:PutTargets", e))?;
    if put_targets.failed_entry_count() > 0 {
        let why: Vec<String> = put_targets
            .failed_entries()
            .iter()
            .map(|f| f.error_message().unwrap_or("unknown").to_string())
            .collect();
        bail!("events:PutTargets on {rule}: {}", why.join("; "));
    }
    journal.done(format!("pointed rule {rule} at {}", spec.name));
    ensure_permission(clients, &spec.name, &rule_arn, fresh, journal).await
}

/// Makes sure rule `rule_arn` may invoke function `name`: nothing when our statement is
/// there for that rule; a statement for another rule (or another principal) is replaced.
/// `fresh`: the function was created in this pass, so it has no statement yet and the
/// policy is not read (one call less per new probe; a statement added meanwhile by a lost
/// attempt is still caught below, as ResourceConflictException).
async fn ensure_permission(
    clients: &Clients,
    name: &str,
    rule_arn: &str,
    fresh: bool,
    journal: &Journal,
) -> Result<()> {
    let current = if fresh {
        None
    } else {
        aws::permission_source(clients, name, plan::PERMISSION_SID).await?
    };
    match current {
        Some(source) if source == rule_arn => return Ok(()),
        Some(_) => remove_permission(clients, name).await?,
        None => {}
    }
    match clients
        .lambda
        .add_permission()
        .function_name(name)
        .statement_id(plan::PERMISSION_SID)
        .action("lambda:InvokeFunction")
        .principal("events.amazonaws.com")
        .source_arn(rule_arn)
        .send()
        .await
    {
        Ok(_) => {}
        // Added by an attempt whose answer was lost: fine if it is the right one.
        Err(e) if code(&e) == Some("ResourceConflictException") => {
            if aws::permission_source(clients, name, plan::PERMISSION_SID)
                .await?
                .as_deref()
                != Some(rule_arn)
            {
                return Err(api_error("lambda:AddPermission", e));
            }
        }
        Err(e) => return Err(api_error("lambda:AddPermission", e)),
    }
    journal.done(format!("allowed rule {rule_arn} to invoke {name}"));
    Ok(())
}

/// Removes our permission statement; one already gone counts as removed.
async fn remove_permission(clients: &Clients, name: &str) -> Result<()> {
    match clients
        .lambda
        .remove_permission()
        .function_name(name)
        .statement_id(plan::PERMISSION_SID)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => Err(api_error("lambda:RemovePermission", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> InstallArgs {
        let mut argv = vec!["egress-probe", "install", "--vpc", "vpc-1"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Install(a) => a,
            _ => unreachable!("install"),
        }
    }

    fn installed(schedule: Option<&str>, targets: &str, diagnose: &str) -> Current {
        let mut environment = std::collections::BTreeMap::new();
        if !targets.is_empty() {
            environment.insert("EGRESS_PROBE_TARGETS".to_string(), targets.to_string());
        }
        environment.insert("EGRESS_PROBE_DIAGNOSE".into(), diagnose.into());
        environment.insert("EGRESS_PROBE_METRIC_NAMESPACE".into(), "Custom".into());
        let mut tags = std::collections::BTreeMap::new();
        tags.insert(plan::MANAGED_TAG.to_string(), "true".to_string());
        Current {
            function: Some(ExistingFunction {
                name: "egress-probe-subnet-1".into(),
                arn: "arn:fn".into(),
                tags,
                environment,
                ..ExistingFunction::default()
            }),
            rule: schedule.map(|s| plan::ExistingRule {
                name: "egress-probe-subnet-1".into(),
                arn: "arn:rule".into(),
                managed: true,
                schedule: Some(s.into()),
                enabled: true,
                target: Some(("arn:fn".into(), Some("{}".into()))),
            }),
            permission: schedule.map(|_| "arn:rule".to_string()),
        }
    }

    fn shown(targets: &[Target]) -> Vec<String> {
        targets.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn settings_not_given_are_kept_and_given_ones_win() {
        let current = installed(Some("rate(5 minutes)"), "dns:example.com", "always");
        let none = Inherited::default();
        let kept = resolve_settings(&args(&[]), &current, &none);
        assert_eq!(kept.schedule.as_deref(), Some("rate(5 minutes)"));
        assert_eq!(shown(&kept.targets), vec!["dns:example.com"]);
        assert_eq!(kept.diagnose.as_str(), "always");
        assert_eq!(kept.metric_namespace, "Custom");

        let changed = resolve_settings(
            &args(&["--no-schedule", "--default-targets", "--diagnose", "never"]),
            &current,
            &none,
        );
        assert_eq!(changed.schedule, None);
        assert!(changed.targets.is_empty());
        assert_eq!(changed.diagnose.as_str(), "never");

        // A new probe: the installed probes' shared settings, else the defaults.
        let fresh = Current::default();
        let inherited = Inherited::from_existing(&[current.clone(), current.clone()]);
        let taken = resolve_settings(&args(&[]), &fresh, &inherited);
        assert_eq!(taken, kept);
        let split =
            Inherited::from_existing(&[current, installed(None, "dns:example.com", "always")]);
        let default = resolve_settings(&args(&[]), &fresh, &split);
        assert_eq!(
            default.schedule, None,
            "installed probes disagree: no schedule"
        );
        assert_eq!(
            shown(&default.targets),
            vec!["dns:example.com"],
            "they agree on targets"
        );
        assert_eq!(
            resolve_settings(&args(&[]), &fresh, &Inherited::default())
                .diagnose
                .as_str(),
            "on_failure"
        );
    }

    #[test]
    fn a_schedule_without_its_permission_is_not_unchanged() {
        let current = installed(Some("rate(5 minutes)"), "", "on_failure");
        let settings = resolve_settings(&args(&[]), &current, &Inherited::default());
        let diff = |c: &Current| {
            converge_schedule(
                plan::diff_schedule(
                    settings.schedule.as_deref(),
                    "arn:fn",
                    &plan::rule_input(&settings.targets),
                    c.rule.as_ref(),
                ),
                &settings,
                c,
            )
        };
        assert_eq!(diff(&current), ScheduleChange::Unchanged);
        let mut missing = current.clone();
        missing.permission = None;
        assert_eq!(
            diff(&missing),
            ScheduleChange::Update {
                expression: "rate(5 minutes)".into()
            }
        );
        let mut other_rule = current.clone();
        other_rule.permission = Some("arn:someone-else".into());
        assert!(matches!(diff(&other_rule), ScheduleChange::Update { .. }));
        // A permission left behind without a rule is removed.
        let mut leftover = installed(None, "", "on_failure");
        leftover.permission = Some("arn:rule".into());
        let s = resolve_settings(&args(&[]), &leftover, &Inherited::default());
        assert_eq!(
            converge_schedule(ScheduleChange::None, &s, &leftover),
            ScheduleChange::Remove
        );
    }

    fn result(dry_run: bool) -> InstallResult {
        let probe = |az: &str, subnet: &str, status: StepStatus| ProbeStep {
            subnet_id: subnet.into(),
            availability_zone: az.into(),
            vpc_id: "vpc-0123456789abcdef0".into(),
            function: plan::function_name(subnet),
            function_change: FunctionChange::Update {
                code: true,
                configuration: vec!["environment".into(), "timeout".into(), "memory".into()],
                tags: true,
            },
            schedule_change: ScheduleChange::Create {
                expression: "cron(0/5 * * * ? *)".into(),
            },
            settings: SettingsView {
                schedule: None,
                targets: Vec::new(),
                diagnose: "on_failure".into(),
                metric_namespace: "EgressProbe".into(),
            },
            status,
        };
        InstallResult {
            dry_run,
            region: "ap-southeast-2".into(),
            account: "123456789012".into(),
            zip: ZipInfo {
                path: "/home/someone/projects/egress-probe/target/lambda/egress-probe-lambda/bootstrap.zip".into(),
                architecture: "arm64".into(),
                code_sha256: "0123456789abcdef0123456789abcdef".into(),
                bytes: 1,
            },
            role: RoleStep {
                name: plan::role_name("ap-southeast-2"),
                arn: Some("arn:aws:iam::123456789012:role/egress-probe-execution-ap-southeast-2".into()),
                action: RoleAction::Update,
                status: StepStatus::Done,
            },
            security_groups: vec![SgStep {
                vpc_id: "vpc-0123456789abcdef0".into(),
                group_ids: vec!["sg-0123456789abcdef0".into()],
                action: SgAction::Unchanged,
                status: StepStatus::Done,
            }],
            probes: vec![
                probe("ap-southeast-2a", "subnet-0123456789abcdef0", StepStatus::Done),
                probe(
                    "ap-southeast-2b",
                    "subnet-0fedcba9876543210",
                    StepStatus::Failed("lambda:AddPermission: ThrottlingException: Rate exceeded (re-run to converge)".into()),
                ),
            ],
            pruned: vec![PruneStep {
                function: "egress-probe-subnet-0aaaabbbbccccdddd".into(),
                subnet_id: "subnet-0aaaabbbbccccdddd".into(),
                remove_rule: true,
                status: StepStatus::Done,
            }],
            skipped: vec![SkippedSubnet {
                subnet_id: "subnet-0999988887777aaaa".into(),
                reason: Said::new(
                    "subnet-0999988887777aaaa routes 0.0.0.0/0 to an internet gateway; a Lambda ENI has no public IP (R9)",
                    "subnet-0999988887777aaaa は 0.0.0.0/0 をインターネットゲートウェイへルーティングしています。Lambda の ENI にはパブリック IP がありません（R9）",
                ),
            }],
            notes: vec![Said::new("settings not given are kept", "指定しなかった設定は引き継ぎます")],
        }
    }

    #[test]
    fn install_text_fits_80_columns_in_both_languages() {
        for dry in [true, false] {
            for lang in [Lang::En, Lang::Ja] {
                let t = result(dry).text(lang);
                for line in t.lines() {
                    assert!(output::width(line) <= 80, "{lang:?}: {line:?}\n{t}");
                }
                // The failure's error is shown in full below the table.
                if !dry {
                    assert!(t.contains("ThrottlingException"), "{t}");
                }
                assert!(
                    t.contains("123456789012") && t.contains("ap-southeast-2"),
                    "{t}"
                );
            }
        }
    }

    #[test]
    fn install_text_in_japanese_translates_the_frame() {
        let t = result(false).text(Lang::Ja);
        for ja in [
            "インストール",
            "アカウント",
            "ロール",
            "サブネット",
            "スケジュール",
            "完了",
            "失敗",
            "対象外",
            "注意",
            "再実行",
        ] {
            assert!(t.contains(ja), "{ja} missing\n{t}");
        }
        for en in [
            "Install ",
            "change(s)",
            "skipped",
            "note:",
            "security groups of",
        ] {
            assert!(!t.contains(en), "English {en:?} left\n{t}");
        }
        // JSON keeps the English sentences, whatever the language of the text.
        let v = serde_json::to_value(result(false)).unwrap();
        assert_eq!(v["notes"][0], "settings not given are kept");
        assert!(v["skipped"][0]["reason"].as_str().unwrap().contains("(R9)"));
    }
}
