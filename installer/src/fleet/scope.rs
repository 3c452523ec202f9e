//! Which accounts and Regions a fleet command covers: the options (`--accounts`,
//! `--organization [--ou …]`, `--regions`, `--role-name`) and the listing of an
//! organisation's accounts (organizations:ListAccounts, or the OUs' accounts at any depth)
//! and of an account's enabled Regions (ec2:DescribeRegions).

use crate::aws::api_error;
use anyhow::{Result, bail};
use clap::Args;
use std::collections::BTreeSet;

/// The role the StackSet (`stackset.yaml`) creates in every account, assumed by default.
pub const DEFAULT_ROLE_NAME: &str = "egress-probe-fleet";

/// Fleet options: the same command in many accounts and Regions. None given: the one
/// account and Region of the credentials, as without them.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Fleet options (many accounts and Regions; docs/fleet.md)")]
pub struct FleetArgs {
    /// Regions to cover: `r1,r2`, or `all-enabled` (every Region enabled in each
    /// account, from ec2:DescribeRegions). Default with --accounts/--organization: --region.
    #[arg(long, global = true, value_name = "R1,R2|all-enabled", value_parser = parse_regions)]
    pub regions: Option<RegionSet>,
    /// Accounts to cover (12 digits, comma-separated or repeated); --role-name is assumed
    /// in each.
    #[arg(long, global = true, value_name = "ID,ID", value_delimiter = ',', value_parser = parse_account, conflicts_with = "organization")]
    pub accounts: Vec<String>,
    /// Every active account of the organisation (organizations:ListAccounts; run from the
    /// management account or a delegated administrator).
    #[arg(long, global = true)]
    pub organization: bool,
    /// With --organization: only the accounts under this OU, at any depth (repeatable).
    #[arg(long = "ou", global = true, value_name = "OU_ID", value_parser = parse_ou)]
    pub ous: Vec<String>,
    /// Role assumed in each account (the StackSet's role; docs/fleet.md lists its rights).
    #[arg(long, global = true, value_name = "NAME", default_value = DEFAULT_ROLE_NAME, value_parser = parse_role_name)]
    pub role_name: String,
    /// Accounts worked on at the same time.
    #[arg(long, global = true, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_accounts: u32,
    /// Regions of one account worked on at the same time.
    #[arg(long, global = true, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub max_regions: u32,
}

impl Default for FleetArgs {
    fn default() -> Self {
        FleetArgs {
            regions: None,
            accounts: Vec::new(),
            organization: false,
            ous: Vec::new(),
            role_name: DEFAULT_ROLE_NAME.into(),
            max_accounts: 8,
            max_regions: 4,
        }
    }
}

impl FleetArgs {
    /// True when any fleet option was given: the command fans out.
    pub fn is_active(&self) -> bool {
        self.regions.is_some()
            || !self.accounts.is_empty()
            || self.organization
            || !self.ous.is_empty()
    }

    /// True when roles are assumed (accounts named or listed).
    pub fn assumes_roles(&self) -> bool {
        !self.accounts.is_empty() || self.organization
    }

    /// Options that make no sense together, in words.
    pub fn check(&self) -> Result<()> {
        if !self.ous.is_empty() && !self.organization {
            bail!("--ou needs --organization (the OU's accounts are listed through Organizations)");
        }
        Ok(())
    }
}

/// `--regions`: a list, or every Region enabled in the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionSet {
    List(Vec<String>),
    AllEnabled,
}

/// `us-east-1,eu-west-1` or `all-enabled`; each name checked for shape (`xx-name-N`).
pub fn parse_regions(s: &str) -> Result<RegionSet, String> {
    if s.trim() == "all-enabled" {
        return Ok(RegionSet::AllEnabled);
    }
    let mut out: Vec<String> = Vec::new();
    for r in s.split(',').map(str::trim) {
        if r.is_empty() {
            return Err(format!("`{s}` has an empty Region name"));
        }
        let shaped = r.split('-').count() >= 3
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && r.rsplit('-')
                .next()
                .is_some_and(|n| n.parse::<u32>().is_ok());
        if !shaped {
            return Err(format!(
                "`{r}` is not a Region name (like us-east-1); or pass all-enabled"
            ));
        }
        if !out.iter().any(|x| x == r) {
            out.push(r.to_string());
        }
    }
    Ok(RegionSet::List(out))
}

/// A 12-digit account ID.
pub fn parse_account(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        Err(format!("`{s}` is not an account ID (12 digits)"))
    }
}

/// An OU ID (`ou-xxxx-yyyyyyyy`) or the root (`r-xxxx`).
pub fn parse_ou(s: &str) -> Result<String, String> {
    let s = s.trim();
    let ok = (s.starts_with("ou-") || s.starts_with("r-"))
        && s.len() > 3
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not an OU ID (ou-xxxx-yyyyyyyy) or root ID (r-xxxx)"
        ))
    }
}

/// An IAM role name (1-64 characters of `[A-Za-z0-9+=,.@_-]`, optionally with a path).
pub fn parse_role_name(s: &str) -> Result<String, String> {
    let name = s.rsplit('/').next().unwrap_or(s);
    let ok = !name.is_empty()
        && name.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b));
    if ok {
        Ok(s.trim_matches('/').to_string())
    } else {
        Err(format!(
            "`{s}` is not an IAM role name (1-64 of letters, digits and +=,.@_-)"
        ))
    }
}

/// An account of the fleet, with its name when Organizations gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub name: Option<String>,
}

/// The accounts to cover: the IDs given, or the organisation's (or the OUs') active
/// accounts; inactive (suspended) accounts are left out and named in `skipped`.
pub async fn accounts(
    org: &aws_sdk_organizations::Client,
    args: &FleetArgs,
    skipped: &mut Vec<crate::lang::Said>,
) -> Result<Vec<Account>> {
    if !args.accounts.is_empty() {
        let mut seen = BTreeSet::new();
        return Ok(args
            .accounts
            .iter()
            .filter(|a| seen.insert(a.to_string()))
            .map(|a| Account {
                id: a.clone(),
                name: None,
            })
            .collect());
    }
    let listed = if args.ous.is_empty() {
        list_all(org).await?
    } else {
        let mut all = Vec::new();
        for ou in &args.ous {
            all.extend(list_under(org, ou).await?);
        }
        all
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (account, active) in listed {
        if !seen.insert(account.id.clone()) {
            continue;
        }
        if active {
            out.push(account);
        } else {
            skipped.push(crate::lang::Said::new(
                format!("account {} is not active: left out", account.id),
                format!("アカウント {} は有効ではないため対象外", account.id),
            ));
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    if out.is_empty() {
        bail!("Organizations lists no active account in the chosen scope");
    }
    Ok(out)
}

fn account_of(a: &aws_sdk_organizations::types::Account) -> Option<(Account, bool)> {
    let id = a.id()?.to_string();
    // `State` replaces `Status` (2025); either says ACTIVE for an account in use.
    let active = a.state().map(|s| s.as_str() == "ACTIVE").unwrap_or(false)
        || a.status().map(|s| s.as_str() == "ACTIVE").unwrap_or(false);
    Some((
        Account {
            id,
            name: a.name().map(str::to_string),
        },
        active,
    ))
}

async fn list_all(org: &aws_sdk_organizations::Client) -> Result<Vec<(Account, bool)>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = org
            .list_accounts()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| api_error("organizations:ListAccounts", e))?;
        out.extend(page.accounts().iter().filter_map(account_of));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// The accounts under `parent` (an OU or the root), at any depth.
async fn list_under(
    org: &aws_sdk_organizations::Client,
    parent: &str,
) -> Result<Vec<(Account, bool)>> {
    let mut out = Vec::new();
    let mut parents = vec![parent.to_string()];
    while let Some(p) = parents.pop() {
        let mut token: Option<String> = None;
        loop {
            let page = org
                .list_accounts_for_parent()
                .parent_id(&p)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| api_error("organizations:ListAccountsForParent", e))?;
            out.extend(page.accounts().iter().filter_map(account_of));
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut token: Option<String> = None;
        loop {
            let page = org
                .list_organizational_units_for_parent()
                .parent_id(&p)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| api_error("organizations:ListOrganizationalUnitsForParent", e))?;
            parents.extend(
                page.organizational_units()
                    .iter()
                    .filter_map(|u| u.id().map(str::to_string)),
            );
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(out)
}

/// The Regions enabled in the account of `ec2`'s credentials (opted in or not needing it).
pub async fn enabled_regions(ec2: &aws_sdk_ec2::Client) -> Result<Vec<String>> {
    let out = ec2
        .describe_regions()
        .send()
        .await
        .map_err(|e| api_error("ec2:DescribeRegions", e))?;
    let mut regions: Vec<String> = out
        .regions()
        .iter()
        .filter(|r| r.opt_in_status() != Some("not-opted-in"))
        .filter_map(|r| r.region_name().map(str::to_string))
        .collect();
    regions.sort();
    regions.dedup();
    Ok(regions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_parse_as_a_list_or_all_enabled() {
        assert_eq!(parse_regions("all-enabled"), Ok(RegionSet::AllEnabled));
        assert_eq!(
            parse_regions("us-east-1, eu-west-1,us-east-1"),
            Ok(RegionSet::List(vec![
                "us-east-1".into(),
                "eu-west-1".into()
            ]))
        );
        for bad in [
            "",
            "us-east-1,,eu-west-1",
            "useast1",
            "US-EAST-1",
            "us-east-x",
        ] {
            let e = parse_regions(bad).unwrap_err();
            assert!(e.contains('`'), "{bad}: {e}");
        }
        assert!(parse_regions("us-gov-west-1").is_ok());
    }

    #[test]
    fn accounts_ous_and_role_names_are_checked() {
        assert_eq!(parse_account(" 111111111111"), Ok("111111111111".into()));
        assert!(
            parse_account("11111111111")
                .unwrap_err()
                .contains("12 digits")
        );
        assert!(parse_account("11111111111x").is_err());
        assert_eq!(parse_ou("ou-ab12-cdef3456"), Ok("ou-ab12-cdef3456".into()));
        assert_eq!(parse_ou("r-ab12"), Ok("r-ab12".into()));
        assert!(parse_ou("ab12").unwrap_err().contains("OU ID"));
        assert_eq!(
            parse_role_name("egress-probe-fleet"),
            Ok("egress-probe-fleet".into())
        );
        assert_eq!(parse_role_name("ops/egress"), Ok("ops/egress".into()));
        assert!(parse_role_name("bad name").is_err());
        assert!(parse_role_name(&"x".repeat(65)).is_err());
    }

    #[test]
    fn fleet_mode_starts_with_any_fleet_option() {
        let mut a = FleetArgs::default();
        assert!(!a.is_active());
        a.regions = Some(RegionSet::AllEnabled);
        assert!(a.is_active() && !a.assumes_roles());
        a.regions = None;
        a.ous = vec!["ou-ab12-cdef3456".into()];
        assert!(
            a.check()
                .unwrap_err()
                .to_string()
                .contains("--organization")
        );
        a.organization = true;
        assert!(a.check().is_ok() && a.is_active() && a.assumes_roles());
    }
}
