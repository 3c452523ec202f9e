//! `uninstall`: removes what egress-probe created and tagged — functions, their rules, the
//! execution role (with its policies) and the dedicated security groups. Untagged
//! resources are never touched, even when their names look like ours.
//!
//! Everything is listed first (nothing is removed if that fails), shown with the account
//! and Region, confirmed (a question on a terminal, `--yes` otherwise), then removed one by
//! one: a failed removal never stops the others, and the result always lists what was
//! removed before the error. A resource already gone counts as removed.

use crate::aws::{self, Clients, api_error, code};
use crate::cli::{Lang, UninstallArgs};
use crate::lang::tr;
use crate::output::{self, Render};
use crate::plan::{self, ExistingFunction};
use crate::progress::Journal;
use crate::{Ctx, Outcome, exit, outcome};
use anyhow::{Result, anyhow, bail};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removal {
    /// `function`, `rule`, `role`, `security_group`.
    pub kind: String,
    pub id: String,
    /// `planned`, `removed`, `FAILED: <error>` or `not done: <why>`.
    pub status: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct UninstallResult {
    pub dry_run: bool,
    pub region: String,
    /// The account of the credentials (STS GetCallerIdentity).
    pub account: String,
    /// `region`, `vpc vpc-…` or `subnets subnet-…`.
    pub scope: String,
    /// True when the removal was declined at the prompt.
    pub declined: bool,
    pub removals: Vec<Removal>,
}

impl UninstallResult {
    pub fn failures(&self) -> usize {
        self.removals
            .iter()
            .filter(|r| r.status != "planned" && r.status != "removed")
            .count()
    }
    fn removed(&self) -> usize {
        self.removals
            .iter()
            .filter(|r| r.status == "removed")
            .count()
    }
}

/// The kind of a removal, in words.
fn kind_text(kind: &str, lang: Lang) -> String {
    let (en, ja) = match kind {
        "function" => ("function", "関数"),
        "rule" => ("rule", "ルール"),
        "role" => ("role", "ロール"),
        "security_group" => ("security group", "セキュリティグループ"),
        other => return other.to_string(),
    };
    tr(lang, en, ja).to_string()
}

/// A removal's status (`planned`, `removed`, `FAILED: …`, `not done: …`) in words; the
/// error after the colon is shown as it is.
fn status_text(status: &str, lang: Lang) -> String {
    let (head, rest) = status.split_once(": ").unwrap_or((status, ""));
    let head = match head {
        "planned" => tr(lang, "planned", "予定"),
        "removed" => tr(lang, "removed", "削除済み"),
        "FAILED" => tr(lang, "FAILED", "失敗"),
        "not done" => tr(lang, "not done", "未実行"),
        _ => return status.to_string(),
    };
    if rest.is_empty() {
        head.to_string()
    } else {
        format!("{head}: {rest}")
    }
}

/// The scope (`vpc vpc-…`, `subnets …`, or the whole Region) in words.
fn scope_text(scope: &str, lang: Lang) -> String {
    if lang == Lang::En {
        return scope.to_string();
    }
    if let Some(v) = scope.strip_prefix("vpc ") {
        format!("VPC {v}")
    } else if let Some(s) = scope.strip_prefix("subnets ") {
        format!("サブネット {s}")
    } else {
        "リージョンのすべてのプローブ、ロール、セキュリティグループ".into()
    }
}

impl Render for UninstallResult {
    fn text(&self, lang: Lang) -> String {
        let mut s = String::new();
        let head = match (self.dry_run, lang) {
            (true, Lang::En) => "Uninstall plan (dry run, nothing removed)",
            (true, Lang::Ja) => "アンインストール計画（ドライラン、削除なし）",
            (false, Lang::En) => "Uninstall",
            (false, Lang::Ja) => "アンインストール",
        };
        s.push_str(&output::wrap(
            "",
            2,
            &match lang {
                Lang::En => format!(
                    "{head} in account {}, Region {} ({})",
                    self.account, self.region, self.scope
                ),
                Lang::Ja => format!(
                    "{head}: アカウント {}、リージョン {}（{}）",
                    self.account,
                    self.region,
                    scope_text(&self.scope, lang)
                ),
            },
        ));
        if self.removals.is_empty() {
            s.push_str(tr(
                lang,
                "Nothing of egress-probe's here.\n",
                "egress-probe のリソースはありません。\n",
            ));
            return s;
        }
        let kind_w = self
            .removals
            .iter()
            .map(|r| output::width(&kind_text(&r.kind, lang)))
            .max()
            .unwrap_or(0);
        for r in &self.removals {
            let kind = kind_text(&r.kind, lang);
            let pad = " ".repeat(kind_w.saturating_sub(output::width(&kind)));
            s.push_str(&output::wrap(
                &format!("  {kind}{pad}  "),
                kind_w + 6,
                &format!("{}  {}", r.id, status_text(&r.status, lang)),
            ));
        }
        let failures = self.failures();
        let removed = self.removed();
        let total = self.removals.len();
        let summary = match (lang, self.declined, self.dry_run, failures) {
            (Lang::En, true, _, _) => "Not confirmed: nothing removed.".to_string(),
            (Lang::Ja, true, _, _) => "確認されなかったため、何も削除していません。".to_string(),
            (Lang::En, false, true, _) => format!(
                "{total} resource(s) would be removed; run without --dry-run to remove them."
            ),
            (Lang::Ja, false, true, _) => format!(
                "{total} 個のリソースを削除します。削除するには --dry-run なしで実行してください。"
            ),
            (Lang::En, false, false, 0) => format!("{removed} resource(s) removed."),
            (Lang::Ja, false, false, 0) => format!("{removed} 個のリソースを削除しました。"),
            (Lang::En, false, false, _) => format!(
                "{removed} removed, {failures} not removed (see above); re-run uninstall to finish (security groups stay in use until Lambda releases its network interfaces, which can take up to 20 minutes)."
            ),
            (Lang::Ja, false, false, _) => format!(
                "{removed} 個を削除、{failures} 個は削除できませんでした（上記）。uninstall を再実行すると完了します（Lambda がネットワークインターフェイスを解放するまで、最大 20 分ほどセキュリティグループは使用中のままです）。"
            ),
        };
        s.push_str(&output::wrap("", 0, &summary));
        s
    }
}

/// What uninstall will remove.
struct Plan {
    /// (function, its managed rule if any).
    probes: Vec<(ExistingFunction, Option<String>)>,
    orphan_rules: Vec<String>,
    /// The role, or why it could not be checked.
    role: Option<Result<String>>,
    /// The groups, or why they could not be listed.
    security_groups: Result<Vec<String>>,
}

impl Plan {
    fn removals(&self) -> Vec<Removal> {
        let mut out = Vec::new();
        let planned = |kind: &str, id: &str| Removal {
            kind: kind.into(),
            id: id.into(),
            status: "planned".into(),
        };
        for (f, rule) in &self.probes {
            if let Some(r) = rule {
                out.push(planned("rule", r));
            }
            out.push(planned("function", &f.name));
        }
        for r in &self.orphan_rules {
            out.push(planned("rule", r));
        }
        match &self.role {
            Some(Ok(name)) => out.push(planned("role", name)),
            Some(Err(e)) => out.push(Removal {
                kind: "role".into(),
                id: "-".into(),
                status: format!("FAILED: could not check it: {e:#}"),
            }),
            None => {}
        }
        match &self.security_groups {
            Ok(ids) => out.extend(ids.iter().map(|g| planned("security_group", g))),
            Err(e) => out.push(Removal {
                kind: "security_group".into(),
                id: "-".into(),
                status: format!("FAILED: could not list them: {e:#}"),
            }),
        }
        out
    }
}

pub async fn run(ctx: &mut Ctx, args: &UninstallArgs) -> Result<Outcome> {
    let clients = ctx.clients().await?;
    let account = clients.account().await?;
    let journal = ctx.journal.clone();
    let scope = match (&args.vpc, args.subnets.is_empty()) {
        (Some(v), _) => format!("vpc {v}"),
        (None, false) => format!("subnets {}", args.subnets.join(", ")),
        (None, true) => "every probe of the Region, the role and the security groups".into(),
    };
    let plan = plan(&clients, args).await?;
    let planned = plan.removals();
    let mut result = UninstallResult {
        dry_run: args.dry_run,
        region: clients.region.clone(),
        account,
        scope,
        declined: false,
        removals: planned.clone(),
    };
    let to_remove = planned.iter().filter(|r| r.status == "planned").count();
    if args.dry_run || to_remove == 0 {
        let code = if result.failures() == 0 {
            exit::OK
        } else {
            exit::ERROR
        };
        return Ok(outcome(ctx, &result, code));
    }
    if !args.yes {
        if !ctx.interactive {
            bail!(
                "uninstall would remove {to_remove} resource(s) from account {} in {} ({}): pass --yes to confirm (there is no terminal to ask on), or --dry-run to list them",
                result.account,
                result.region,
                result.scope
            );
        }
        let mut shown = result.clone();
        shown.dry_run = true;
        let lang = ctx.global.lang;
        let ask = match lang {
            Lang::En => format!(
                "Remove these {to_remove} resource(s) from account {} in {}? [y/N] ",
                result.account, result.region
            ),
            Lang::Ja => format!(
                "アカウント {} の {} からこれら {to_remove} 個のリソースを削除しますか? [y/N] ",
                result.account, result.region
            ),
        };
        let question = format!("{}{ask}", shown.text(lang));
        if !confirm(question).await {
            result.declined = true;
            return Ok(outcome(ctx, &result, exit::ERROR));
        }
    }
    result.removals = apply(&clients, plan, &journal).await;
    let code = if result.failures() == 0 {
        exit::OK
    } else {
        exit::ERROR
    };
    Ok(outcome(ctx, &result, code))
}

/// Asks on stderr, reads one line from stdin: true for `y` / `yes`.
async fn confirm(question: String) -> bool {
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(question.as_bytes());
        let _ = err.flush();
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(_) => matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
            Err(_) => false,
        }
    })
    .await
    .unwrap_or(false)
}

/// Lists what to remove; fails (having removed nothing) when the probes cannot be listed
/// or a named subnet has no probe.
async fn plan(clients: &Clients, args: &UninstallArgs) -> Result<Plan> {
    let mut functions = aws::managed_functions(clients).await?;
    if !args.subnets.is_empty() {
        if let Some(missing) = args
            .subnets
            .iter()
            .find(|s| !functions.iter().any(|f| f.subnet_tag() == Some(s.as_str())))
        {
            bail!(
                "no egress-probe installed for subnet {missing} in {}: check the ID (`egress-probe status` lists the installed probes)",
                clients.region
            );
        }
        functions.retain(|f| {
            f.subnet_tag()
                .is_some_and(|s| args.subnets.iter().any(|x| x == s))
        });
    }
    if let Some(vpc) = &args.vpc {
        functions.retain(|f| f.environment.get("EGRESS_PROBE_VPC_ID") == Some(vpc));
    }
    let mut probes = Vec::new();
    for f in functions {
        let subnet = f.subnet_tag().unwrap_or_default().to_string();
        let rule_name = plan::rule_name(&subnet);
        let rule = aws::get_rule(clients, &rule_name)
            .await?
            .filter(|r| r.managed)
            .map(|_| rule_name);
        probes.push((f, rule));
    }
    let whole = args.subnets.is_empty() && args.vpc.is_none();
    let mut orphan_rules = Vec::new();
    if whole {
        // Rules whose function is already gone.
        let mut token: Option<String> = None;
        loop {
            let rules = clients
                .events
                .list_rules()
                .name_prefix(plan::PREFIX)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| api_error("events:ListRules", e))?;
            for r in rules.rules() {
                let Some(name) = r.name() else { continue };
                if probes.iter().any(|(_, x)| x.as_deref() == Some(name)) {
                    continue;
                }
                if aws::get_rule(clients, name)
                    .await?
                    .is_some_and(|rule| rule.managed)
                {
                    orphan_rules.push(name.to_string());
                }
            }
            token = rules.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    let role = if whole {
        managed_role(clients).await.transpose()
    } else {
        None
    };
    let security_groups = if args.subnets.is_empty() {
        managed_security_groups(clients, args.vpc.as_deref()).await
    } else {
        Ok(Vec::new())
    };
    if let Some(vpc) = &args.vpc
        && probes.is_empty()
        && security_groups.as_ref().is_ok_and(|g| g.is_empty())
    {
        // Nothing of ours there: say so if the VPC does not even exist (a typo).
        aws::check_vpc(clients, vpc).await?;
    }
    Ok(Plan {
        probes,
        orphan_rules,
        role,
        security_groups,
    })
}

/// Removes everything planned, each independently; returns every step's status.
async fn apply(clients: &Clients, plan: Plan, journal: &Journal) -> Vec<Removal> {
    let mut out = Vec::new();
    let mut record = |kind: &str, id: &str, r: Result<()>| {
        if r.is_ok() {
            journal.done(format!("removed {} {id}", kind.replace('_', " ")));
        }
        out.push(Removal {
            kind: kind.into(),
            id: id.into(),
            status: status_of(r),
        });
    };
    for (f, rule) in &plan.probes {
        if let Some(rule) = rule {
            record("rule", rule, aws::delete_rule(clients, rule).await);
        }
        record("function", &f.name, delete_function(clients, &f.name).await);
    }
    for rule in &plan.orphan_rules {
        record("rule", rule, aws::delete_rule(clients, rule).await);
    }
    match &plan.role {
        Some(Ok(name)) => record("role", name, remove_role(clients, name).await),
        Some(Err(e)) => out.push(Removal {
            kind: "role".into(),
            id: "-".into(),
            status: format!("FAILED: could not check it: {e:#}"),
        }),
        None => {}
    }
    match &plan.security_groups {
        Ok(ids) => {
            for id in ids {
                let r = delete_security_group(clients, id).await;
                if r.is_ok() {
                    journal.done(format!("removed security group {id}"));
                }
                out.push(Removal {
                    kind: "security_group".into(),
                    id: id.clone(),
                    status: status_of(r),
                });
            }
        }
        Err(e) => out.push(Removal {
            kind: "security_group".into(),
            id: "-".into(),
            status: format!("FAILED: could not list them: {e:#}"),
        }),
    }
    out
}

fn status_of(r: Result<()>) -> String {
    match r {
        Ok(()) => "removed".into(),
        Err(e) => format!("FAILED: {e:#}"),
    }
}

/// Error codes that mean "already gone": the removal is done.
fn gone(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ResourceNotFoundException"
                | "NoSuchEntity"
                | "InvalidGroup.NotFound"
                | "InvalidGroupId.NotFound"
        )
    )
}

async fn delete_function(clients: &Clients, name: &str) -> Result<()> {
    match clients
        .lambda
        .delete_function()
        .function_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if gone(code(&e)) => Ok(()),
        Err(e) => Err(api_error("lambda:DeleteFunction", e)),
    }
}

async fn delete_security_group(clients: &Clients, id: &str) -> Result<()> {
    match clients
        .ec2
        .delete_security_group()
        .group_id(id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if gone(code(&e)) => Ok(()),
        Err(e) => Err(api_error("ec2:DeleteSecurityGroup", e)),
    }
}

/// The execution role's name when it exists and is ours.
async fn managed_role(clients: &Clients) -> Result<Option<String>> {
    let name = plan::role_name(&clients.region);
    match clients.iam.get_role().role_name(&name).send().await {
        Ok(_) => {}
        Err(e) if code(&e) == Some("NoSuchEntity") => return Ok(None),
        Err(e) => return Err(api_error("iam:GetRole", e)),
    }
    Ok(aws::role_is_managed(clients, &name).await?.then_some(name))
}

/// Removes the role's policies, then the role; any of them already gone is done.
async fn remove_role(clients: &Clients, name: &str) -> Result<()> {
    let inline = match clients
        .iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
    {
        Ok(p) => p.policy_names().to_vec(),
        Err(e) if gone(code(&e)) => return Ok(()),
        Err(e) => return Err(api_error("iam:ListRolePolicies", e)),
    };
    for p in inline {
        match clients
            .iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(&p)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if gone(code(&e)) => {}
            Err(e) => return Err(api_error("iam:DeleteRolePolicy", e)),
        }
    }
    let attached = match clients
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
    {
        Ok(a) => a,
        Err(e) if gone(code(&e)) => return Ok(()),
        Err(e) => return Err(api_error("iam:ListAttachedRolePolicies", e)),
    };
    for p in attached.attached_policies() {
        let arn = p
            .policy_arn()
            .ok_or_else(|| anyhow!("attached policy without ARN"))?;
        match clients
            .iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if gone(code(&e)) => {}
            Err(e) => return Err(api_error("iam:DetachRolePolicy", e)),
        }
    }
    match clients.iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if gone(code(&e)) => Ok(()),
        Err(e) => Err(api_error("iam:DeleteRole", e)),
    }
}

/// The security groups tagged as ours (of one VPC, or of the Region).
async fn managed_security_groups(clients: &Clients, vpc: Option<&str>) -> Result<Vec<String>> {
    let mut req = clients
        .ec2
        .describe_security_groups()
        .filters(aws::tag_filter(plan::MANAGED_TAG, "true"));
    if let Some(v) = vpc {
        req = req.filters(aws::vpc_filter(v));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| api_error("ec2:DescribeSecurityGroups", e))?;
    Ok(resp
        .security_groups()
        .iter()
        // Double check the tag (and VPC) on the answer itself: a filter a backend ignores
        // must not make us delete someone else's group.
        .filter(|g| {
            g.tags()
                .iter()
                .any(|t| t.key() == Some(plan::MANAGED_TAG) && t.value() == Some("true"))
                && vpc.is_none_or(|v| g.vpc_id() == Some(v))
        })
        .filter_map(|g| g.group_id().map(str::to_string))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn already_gone_counts_as_removed() {
        assert!(gone(Some("ResourceNotFoundException")));
        assert!(gone(Some("NoSuchEntity")));
        assert!(gone(Some("InvalidGroup.NotFound")));
        assert!(!gone(Some("AccessDenied")));
        assert!(!gone(None));
    }

    #[test]
    fn text_says_what_was_removed_before_a_failure() {
        let r = UninstallResult {
            dry_run: false,
            region: "us-east-1".into(),
            account: "123456789012".into(),
            scope: "vpc vpc-1".into(),
            declined: false,
            removals: vec![
                Removal {
                    kind: "function".into(),
                    id: "egress-probe-subnet-1".into(),
                    status: "removed".into(),
                },
                Removal {
                    kind: "role".into(),
                    id: "-".into(),
                    status: "FAILED: could not check it: iam:ListRoleTags failed".into(),
                },
            ],
        };
        let t = r.text(Lang::En);
        assert!(t.contains("account 123456789012, Region us-east-1"), "{t}");
        assert!(t.contains("egress-probe-subnet-1"), "{t}");
        assert!(t.contains("1 removed, 1 not removed"), "{t}");
    }

    #[test]
    fn uninstall_text_fits_80_columns_and_is_translated() {
        let r = UninstallResult {
            dry_run: false,
            region: "ap-southeast-2".into(),
            account: "123456789012".into(),
            scope: "subnets subnet-0123456789abcdef0, subnet-0fedcba9876543210".into(),
            declined: false,
            removals: vec![
                Removal {
                    kind: "function".into(),
                    id: "egress-probe-subnet-0123456789abcdef0".into(),
                    status: "removed".into(),
                },
                Removal {
                    kind: "security_group".into(),
                    id: "sg-0123456789abcdef0".into(),
                    status: "FAILED: DependencyViolation: resource sg-0123456789abcdef0 has a dependent object (a network interface that Lambda has not released yet)".into(),
                },
            ],
        };
        for lang in [Lang::En, Lang::Ja] {
            let t = r.text(lang);
            for line in t.lines() {
                assert!(output::width(line) <= 80, "{lang:?}: {line:?}\n{t}");
            }
            assert!(t.contains("DependencyViolation"), "{t}");
            assert!(t.contains("123456789012"), "{t}");
        }
        let ja = r.text(Lang::Ja);
        for w in [
            "アンインストール",
            "アカウント",
            "リージョン",
            "関数",
            "削除済み",
            "失敗",
            "セキュリティグループ",
        ] {
            assert!(ja.contains(w), "{w} missing\n{ja}");
        }
        assert!(!ja.contains("removed"), "{ja}");
    }
}
