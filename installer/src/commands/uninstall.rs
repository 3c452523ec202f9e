//! `uninstall`: removes what egress-probe created and tagged — functions, their rules, the
//! execution role (with its policies) and the dedicated security groups. Untagged
//! resources are never touched, even when their names look like ours.

use crate::aws::{self, Clients, api_error, code};
use crate::cli::{Lang, UninstallArgs};
use crate::output::Render;
use crate::plan;
use crate::{Ctx, Outcome, outcome};
use anyhow::{Result, anyhow};
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removal {
    /// `function`, `rule`, `role`, `security_group`.
    pub kind: String,
    pub id: String,
    /// `planned`, `removed`, or the error.
    pub status: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct UninstallResult {
    pub dry_run: bool,
    pub region: String,
    pub removals: Vec<Removal>,
}

impl UninstallResult {
    pub fn failures(&self) -> usize {
        self.removals
            .iter()
            .filter(|r| r.status != "planned" && r.status != "removed")
            .count()
    }
}

impl Render for UninstallResult {
    fn text(&self, _lang: Lang) -> String {
        let mut s = String::new();
        if self.removals.is_empty() {
            let _ = writeln!(s, "Nothing of egress-probe's in {}.", self.region);
            return s;
        }
        for r in &self.removals {
            let _ = writeln!(s, "{:<15} {:<45} {}", r.kind, r.id, r.status);
        }
        let failures = self.failures();
        if self.dry_run {
            let _ = writeln!(
                s,
                "{} resource(s) would be removed; run without --dry-run to remove them.",
                self.removals.len()
            );
        } else if failures == 0 {
            let _ = writeln!(s, "{} resource(s) removed.", self.removals.len());
        } else {
            let _ = writeln!(
                s,
                "{failures} resource(s) not removed (see above); re-run uninstall to finish (security groups stay in use until Lambda releases its network interfaces, which can take up to 20 minutes)."
            );
        }
        s
    }
}

pub async fn run(ctx: &mut Ctx, args: &UninstallArgs) -> Result<Outcome> {
    let clients = ctx.clients().await?;
    let mut removals = Vec::new();
    let functions = aws::managed_functions(&clients).await?;
    let whole = args.subnets.is_empty();
    for f in functions {
        let subnet = f.subnet_tag().unwrap_or_default().to_string();
        if !whole && !args.subnets.contains(&subnet) {
            continue;
        }
        let rule_name = plan::rule_name(&subnet);
        if let Some(rule) = aws::get_rule(&clients, &rule_name).await?
            && rule.managed
        {
            let status = if args.dry_run {
                "planned".to_string()
            } else {
                status_of(aws::delete_rule(&clients, &rule_name).await)
            };
            removals.push(Removal {
                kind: "rule".into(),
                id: rule_name,
                status,
            });
        }
        let status = if args.dry_run {
            "planned".to_string()
        } else {
            status_of(delete_function(&clients, &f.name).await)
        };
        removals.push(Removal {
            kind: "function".into(),
            id: f.name.clone(),
            status,
        });
    }
    if whole {
        // Orphan rules (their function already gone).
        let rules = clients
            .events
            .list_rules()
            .name_prefix(plan::PREFIX)
            .send()
            .await
            .map_err(|e| api_error("events:ListRules", e))?;
        for r in rules.rules() {
            let Some(name) = r.name() else { continue };
            if removals.iter().any(|x| x.kind == "rule" && x.id == name) {
                continue;
            }
            if let Some(rule) = aws::get_rule(&clients, name).await?
                && rule.managed
            {
                let status = if args.dry_run {
                    "planned".to_string()
                } else {
                    status_of(aws::delete_rule(&clients, name).await)
                };
                removals.push(Removal {
                    kind: "rule".into(),
                    id: name.to_string(),
                    status,
                });
            }
        }
        if let Some(r) = remove_role(&clients, args.dry_run).await? {
            removals.push(r);
        }
        removals.extend(remove_security_groups(&clients, args.dry_run).await?);
    }
    let result = UninstallResult {
        dry_run: args.dry_run,
        region: clients.region.clone(),
        removals,
    };
    let code = if result.failures() == 0 { 0 } else { 2 };
    Ok(outcome(ctx, &result, code))
}

fn status_of(r: Result<()>) -> String {
    match r {
        Ok(()) => "removed".into(),
        Err(e) => format!("FAILED: {e:#}"),
    }
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
        Err(e) if code(&e) == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => Err(api_error("lambda:DeleteFunction", e)),
    }
}

async fn remove_role(clients: &Clients, dry_run: bool) -> Result<Option<Removal>> {
    let name = plan::role_name(&clients.region);
    match clients.iam.get_role().role_name(&name).send().await {
        Ok(_) => {}
        Err(e) if code(&e) == Some("NoSuchEntity") => return Ok(None),
        Err(e) => return Err(api_error("iam:GetRole", e)),
    }
    if !aws::role_is_managed(clients, &name).await? {
        return Ok(None);
    }
    if dry_run {
        return Ok(Some(Removal {
            kind: "role".into(),
            id: name,
            status: "planned".into(),
        }));
    }
    let result: Result<()> = async {
        let inline = clients
            .iam
            .list_role_policies()
            .role_name(&name)
            .send()
            .await
            .map_err(|e| api_error("iam:ListRolePolicies", e))?;
        for p in inline.policy_names() {
            clients
                .iam
                .delete_role_policy()
                .role_name(&name)
                .policy_name(p)
                .send()
                .await
                .map_err(|e| api_error("iam:DeleteRolePolicy", e))?;
        }
        let attached = clients
            .iam
            .list_attached_role_policies()
            .role_name(&name)
            .send()
            .await
            .map_err(|e| api_error("iam:ListAttachedRolePolicies", e))?;
        for p in attached.attached_policies() {
            let arn = p
                .policy_arn()
                .ok_or_else(|| anyhow!("attached policy without ARN"))?;
            clients
                .iam
                .detach_role_policy()
                .role_name(&name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| api_error("iam:DetachRolePolicy", e))?;
        }
        clients
            .iam
            .delete_role()
            .role_name(&name)
            .send()
            .await
            .map_err(|e| api_error("iam:DeleteRole", e))?;
        Ok(())
    }
    .await;
    Ok(Some(Removal {
        kind: "role".into(),
        id: name,
        status: status_of(result),
    }))
}

async fn remove_security_groups(clients: &Clients, dry_run: bool) -> Result<Vec<Removal>> {
    let resp = clients
        .ec2
        .describe_security_groups()
        .filters(aws::tag_filter(plan::MANAGED_TAG, "true"))
        .send()
        .await
        .map_err(|e| api_error("ec2:DescribeSecurityGroups", e))?;
    let mut out = Vec::new();
    for g in resp.security_groups() {
        // Double check the tag on the answer itself (a filter a backend ignores must not
        // make us delete someone else's group).
        let managed = g
            .tags()
            .iter()
            .any(|t| t.key() == Some(plan::MANAGED_TAG) && t.value() == Some("true"));
        let Some(id) = g.group_id().filter(|_| managed) else {
            continue;
        };
        let status = if dry_run {
            "planned".to_string()
        } else {
            status_of(
                clients
                    .ec2
                    .delete_security_group()
                    .group_id(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| api_error("ec2:DeleteSecurityGroup", e)),
            )
        };
        out.push(Removal {
            kind: "security_group".into(),
            id: id.to_string(),
            status,
        });
    }
    Ok(out)
}
