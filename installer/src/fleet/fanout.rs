//! The fan-out: one unit of work per account and Region, run concurrently with two bounds
//! (accounts at the same time; Regions of one account at the same time). A unit's failure
//! — the role not assumable, a Region throttled or unreachable — is that unit's result and
//! never stops the others.

use super::credentials::{self, FailureKind};
use super::scope::{self, RegionSet};
use crate::progress::Journal;
use aws_config::SdkConfig;
use futures_util::future::join_all;
use std::future::Future;
use std::time::Instant;
use tokio::sync::Semaphore;

/// One account of the fleet and how to get its credentials.
#[derive(Debug, Clone)]
pub struct AccountTarget {
    pub id: String,
    pub name: Option<String>,
    /// The role to assume there; `None`: the operator's own credentials.
    pub role_arn: Option<String>,
}

/// One account and Region, with its credentials: what a command's unit of work gets.
pub struct Unit {
    pub account: String,
    pub region: String,
    pub config: SdkConfig,
    /// The run's journal; entries start with `<account> <region>: `.
    pub journal: Journal,
}

/// A failure of a unit (or of a whole account: its role, its Region list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn of(e: &anyhow::Error) -> Failure {
        Failure {
            kind: credentials::classify(e),
            message: format!("{e:#}"),
        }
    }
}

/// What one unit gave.
#[derive(Debug)]
pub struct UnitOutcome<T> {
    pub account: String,
    pub account_name: Option<String>,
    /// `None`: the account failed before any Region (its role, its Region list).
    pub region: Option<String>,
    pub elapsed_ms: u64,
    pub result: Result<T, Failure>,
    /// Changes the unit made (from the journal), also when it failed part-way.
    pub changes: Vec<String>,
}

/// The fan-out's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub accounts: usize,
    pub regions_per_account: usize,
}

/// The journal prefix of a unit.
pub fn prefix(account: &str, region: &str) -> String {
    format!("{account} {region}: ")
}

/// Runs `work` once per account and Region. `base` is the operator's configuration (its
/// Region is the one STS and DescribeRegions use); `sts` the operator's STS client.
pub async fn fan_out<T, F, Fut>(
    base: &SdkConfig,
    sts: &aws_sdk_sts::Client,
    accounts: Vec<AccountTarget>,
    regions: &RegionSet,
    limits: Limits,
    journal: &Journal,
    work: F,
) -> Vec<UnitOutcome<T>>
where
    F: Fn(Unit) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let account_slots = Semaphore::new(limits.accounts.max(1));
    let work = &work;
    let account_slots = &account_slots;
    let per_account = accounts.into_iter().map(|target| async move {
        let _slot = account_slots.acquire().await.ok();
        let started = Instant::now();
        let failed = |e: anyhow::Error| {
            vec![UnitOutcome {
                account: target.id.clone(),
                account_name: target.name.clone(),
                region: None,
                elapsed_ms: started.elapsed().as_millis() as u64,
                result: Err(Failure::of(&e)),
                changes: Vec::new(),
            }]
        };
        let config = match &target.role_arn {
            Some(arn) => match credentials::assume(base, sts, arn).await {
                Ok(c) => c,
                Err(e) => return failed(e),
            },
            None => base.clone(),
        };
        let names = match regions {
            RegionSet::List(l) => l.clone(),
            RegionSet::AllEnabled => {
                match scope::enabled_regions(&aws_sdk_ec2::Client::new(&config)).await {
                    Ok(r) => r,
                    Err(e) => return failed(e),
                }
            }
        };
        let region_slots = Semaphore::new(limits.regions_per_account.max(1));
        let region_slots = &region_slots;
        let config = &config;
        let target = &target;
        join_all(names.into_iter().map(|region| async move {
            let _slot = region_slots.acquire().await.ok();
            let started = Instant::now();
            let p = prefix(&target.id, &region);
            let unit = Unit {
                account: target.id.clone(),
                region: region.clone(),
                config: credentials::in_region(config, &region),
                journal: journal.prefixed(p.clone()),
            };
            let result = work(unit).await.map_err(|e| Failure::of(&e));
            UnitOutcome {
                account: target.id.clone(),
                account_name: target.name.clone(),
                region: Some(region),
                elapsed_ms: started.elapsed().as_millis() as u64,
                result,
                changes: journal.entries_with(&p),
            }
        }))
        .await
    });
    let mut out: Vec<UnitOutcome<T>> = join_all(per_account).await.into_iter().flatten().collect();
    out.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
    out
}
