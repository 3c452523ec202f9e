//! Command line (clap derive): the doc comments are the help.

use clap::{Args, Parser, Subcommand, ValueEnum};
use egress_probe::model::{DiagnoseMode, Target};
use std::path::PathBuf;

/// Places one egress probe per VPC subnet, schedules and invokes them, and explains
/// failed DNS, TCP and HTTPS egress from the VPC's own configuration.
///
/// Exit status (every command):
///   0    done; healthy
///   1    failures found (a probe's egress is broken, or `diagnose` found a blocked path)
///   2    could not do it: usage, bad input (unknown subnet, VPC, function; no probe to
///        run), permission or API error, steps not done, analysis without the data it needs
///   3    fleet (--accounts, --organization, --regions): partial results, some
///        account-Regions not done (denied, throttled, unreachable, failed); 4: the same,
///        and failures found in the others
///   130  interrupted by Ctrl-C; 143 by SIGTERM (what was done is printed)
#[derive(Debug, Clone, Parser)]
#[command(
    name = "egress-probe",
    version,
    propagate_version = true,
    verbatim_doc_comment
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Named profile from the shared AWS config files.
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// AWS Region (else AWS_REGION or the profile's region).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Endpoint URL for every AWS service (else AWS_ENDPOINT_URL).
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// Result format on stdout.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Language of the text output (headings, legend, causes, findings, fixes, hops).
    #[arg(long, global = true, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
    /// Total attempts per AWS request (SDK standard retry with backoff, 1 = no retry).
    #[arg(long, global = true, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub max_attempts: u32,
    /// More detail: every hop and the healthy paths in `run`/`diagnose` text, and log
    /// output on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Many accounts and Regions (issue 14; docs/fleet.md).
    #[command(flatten)]
    pub fleet: crate::fleet::scope::FleetArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    En,
    Ja,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Install or update one probe function per chosen subnet (idempotent).
    Install(InstallArgs),
    /// Invoke the installed probes and print the subnet x check matrix.
    Run(RunArgs),
    /// Configuration-only analysis of a function, subnet or VPC (no probe needed).
    Diagnose(DiagnoseArgs),
    /// List the installed probes: subnet, AZ, state, schedule and version.
    Status(StatusArgs),
    /// Remove everything egress-probe created and tagged (nothing else).
    Uninstall(UninstallArgs),
}

/// Which subnets to place probes in. `--subnet`, `--like-function` and
/// `--lambda-subnets` name subnets; `--vpc` and `--tag` select or narrow them.
#[derive(Debug, Clone, Default, Args)]
pub struct SubnetSelection {
    /// Every subnet of this VPC.
    #[arg(long)]
    pub vpc: Option<String>,
    /// A subnet ID (repeatable).
    #[arg(long = "subnet", value_name = "SUBNET_ID")]
    pub subnets: Vec<String>,
    /// Only subnets with this tag (`key=value`, repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    pub tags: Vec<(String, String)>,
    /// The subnets and security groups of this existing function.
    #[arg(long, value_name = "NAME")]
    pub like_function: Option<String>,
    /// Every subnet that some VPC-attached function of the Region uses.
    #[arg(long)]
    pub lambda_subnets: bool,
}

impl SubnetSelection {
    pub fn is_empty(&self) -> bool {
        self.vpc.is_none()
            && self.subnets.is_empty()
            && self.tags.is_empty()
            && self.like_function.is_none()
            && !self.lambda_subnets
    }
}

#[derive(Debug, Clone, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub selection: SubnetSelection,
    /// Security group for the probes (repeatable); default: a dedicated `egress-probe`
    /// group per VPC (all egress allowed), or the groups of `--like-function`.
    #[arg(long = "security-group", value_name = "SG_ID")]
    pub security_groups: Vec<String>,
    /// Use this execution role instead of creating `egress-probe-execution-<region>`.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// The bootstrap zip (default: target/lambda/egress-probe-lambda/bootstrap.zip from
    /// `cargo lambda build`).
    #[arg(long, value_name = "PATH")]
    pub zip: Option<PathBuf>,
    /// EventBridge schedule, e.g. `rate(5 minutes)` or `cron(0/5 * * * ? *)`. Without it
    /// (and without --no-schedule) installed probes keep theirs, and new probes get the one
    /// the installed probes share.
    #[arg(long, value_name = "EXPR", value_parser = crate::plan::parse_schedule)]
    pub schedule: Option<String>,
    /// Remove the probes' schedule (their egress-probe rules).
    #[arg(long, conflicts_with = "schedule")]
    pub no_schedule: bool,
    /// A target (`dns:name`, `tcp://host:port`, `https://url`; repeatable). Without it (and
    /// without --default-targets) installed probes keep their targets.
    #[arg(long = "target", value_name = "TARGET", value_parser = crate::target::TargetParser)]
    pub targets: Vec<Target>,
    /// Go back to the probe's built-in targets.
    #[arg(long, conflicts_with = "targets")]
    pub default_targets: bool,
    /// When the probe runs its own diagnosis: always, on_failure (also on-failure) or never
    /// [default for new probes: on_failure; installed probes keep theirs].
    #[arg(long, value_name = "MODE", value_parser = crate::target::parse_diagnose)]
    pub diagnose: Option<DiagnoseMode>,
    /// CloudWatch metric namespace of the probe's EMF lines [default for new probes:
    /// EgressProbe; installed probes keep theirs].
    #[arg(long, value_parser = crate::target::parse_metric_namespace)]
    pub metric_namespace: Option<String>,
    /// Remove egress-probe functions whose subnet no longer exists.
    #[arg(long)]
    pub prune: bool,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Subnets installed at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    /// Longest wait for a function to leave `Pending` (ENI creation), in seconds.
    #[arg(long, default_value_t = 600)]
    pub wait_timeout: u64,
    /// With fleet options (--accounts, --organization, --regions): apply the plan; without
    /// it a fleet install only prints the plan per account and Region.
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Only the probe of this subnet (repeatable).
    #[arg(long = "subnet", value_name = "SUBNET_ID")]
    pub subnets: Vec<String>,
    /// Targets for this run instead of the probes' configured ones (repeatable).
    #[arg(long = "target", value_name = "TARGET", value_parser = crate::target::TargetParser)]
    pub targets: Vec<Target>,
    /// Probes invoked at the same time.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,
    /// Do not take a snapshot from outside for reports whose analysis is unavailable.
    #[arg(long)]
    pub no_outside_diagnosis: bool,
    /// Role to assume in the network account, where the transit gateway's route tables,
    /// the egress VPC and its firewall live (R45), e.g.
    /// arn:aws:iam::222222222222:role/egress-probe-network. Without it, what this account
    /// cannot read is reported as not visible, naming the owner account.
    #[arg(long, value_name = "ROLE_ARN", value_parser = parse_network_role)]
    pub network_role: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct DiagnoseArgs {
    /// A Lambda function: its subnets and security groups.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["subnet", "vpc"])]
    pub function: Option<String>,
    /// A subnet (repeatable).
    #[arg(long = "subnet", value_name = "SUBNET_ID", conflicts_with = "vpc")]
    pub subnet: Vec<String>,
    /// Every subnet of a VPC.
    #[arg(long, value_name = "VPC_ID")]
    pub vpc: Option<String>,
    /// Security groups to assume for the ENI (repeatable; default: the function's, or
    /// the VPC's default group).
    #[arg(long = "security-group", value_name = "SG_ID")]
    pub security_groups: Vec<String>,
    /// Destination (`dns:name`, `tcp://host:port`, `https://url`; repeatable). Host names
    /// are resolved here to pick destination addresses. Default: the probe's defaults.
    #[arg(long = "target", value_name = "TARGET", value_parser = crate::target::TargetParser)]
    pub targets: Vec<Target>,
    /// Read a saved snapshot instead of calling AWS (offline).
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Write the snapshot taken to this file.
    #[arg(long, value_name = "FILE", conflicts_with = "snapshot")]
    pub save_snapshot: Option<PathBuf>,
    /// Role to assume in the network account, where the transit gateway's route tables,
    /// the egress VPC and its firewall live (R45), e.g.
    /// arn:aws:iam::222222222222:role/egress-probe-network. Without it, what this account
    /// cannot read is reported as not visible, naming the owner account.
    #[arg(long, value_name = "ROLE_ARN", value_parser = parse_network_role)]
    pub network_role: Option<String>,
    /// A change you are about to make (repeatable, applied in order): the AWS CLI command
    /// line you would run (`aws ec2 delete-nat-gateway --nat-gateway-id nat-…`) or the
    /// change as JSON. Prints what it would fix or break, per subnet and target, from a
    /// simulation on a copy of the snapshot; nothing is changed.
    #[arg(long = "what-if", value_name = "CHANGE", value_parser = parse_change)]
    pub what_if: Vec<egress_probe::model::Change>,
}

/// A `--what-if` change: an AWS CLI command line or the change as JSON (issue 11).
pub fn parse_change(s: &str) -> Result<egress_probe::model::Change, String> {
    let t = s.trim();
    if t.starts_with('{') {
        return serde_json::from_str(t).map_err(|e| {
            format!("not a change as JSON ({e}); e.g. {{\"change\":\"delete_nat_gateway\",\"nat\":\"nat-…\"}}")
        });
    }
    egress_probe::model::Change::parse_cli(t).map_err(|e| e.to_string())
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {}

#[derive(Debug, Clone, Args)]
pub struct UninstallArgs {
    /// Print what would be removed and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only the probe of this subnet (repeatable); the role and security groups stay.
    #[arg(long = "subnet", value_name = "SUBNET_ID")]
    pub subnets: Vec<String>,
    /// Only the probes of this VPC, and its egress-probe security group; the role stays.
    #[arg(long, value_name = "VPC_ID", conflicts_with = "subnets")]
    pub vpc: Option<String>,
    /// Remove without asking (required when there is no terminal to ask on).
    #[arg(short, long)]
    pub yes: bool,
}

/// An IAM role ARN (`arn:aws:iam::<12 digits>:role/<name>`).
pub fn parse_network_role(s: &str) -> Result<String, String> {
    egress_probe::snapshot::role_account(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// Parses `key=value` (key non-empty, at most 128 characters; value at most 256).
pub fn parse_tag(s: &str) -> Result<(String, String), String> {
    let Some((k, v)) = s.split_once('=') else {
        return Err(format!("tag `{s}` must be KEY=VALUE"));
    };
    let k = k.trim();
    if k.is_empty() {
        return Err(format!("tag `{s}` has an empty key"));
    }
    if k.len() > 128 || v.len() > 256 {
        return Err(format!("tag `{s}` is too long (key <= 128, value <= 256)"));
    }
    Ok((k.to_string(), v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn tags_parse() {
        assert_eq!(
            parse_tag("tier=private"),
            Ok(("tier".into(), "private".into()))
        );
        assert_eq!(parse_tag("k="), Ok(("k".into(), String::new())));
        assert_eq!(parse_tag("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_tag("novalue").is_err());
        assert!(parse_tag("=v").is_err());
    }

    #[test]
    fn install_flags_parse() {
        let cli = Cli::try_parse_from([
            "egress-probe",
            "install",
            "--subnet",
            "subnet-1",
            "--subnet",
            "subnet-2",
            "--tag",
            "tier=app",
            "--schedule",
            "rate(5 minutes)",
            "--target",
            "tcp://example.com:443",
            "--dry-run",
            "--region",
            "eu-west-1",
        ])
        .unwrap();
        assert_eq!(cli.global.region.as_deref(), Some("eu-west-1"));
        let Command::Install(a) = cli.command else {
            panic!("not install")
        };
        assert_eq!(a.selection.subnets, vec!["subnet-1", "subnet-2"]);
        assert_eq!(a.selection.tags, vec![("tier".into(), "app".into())]);
        assert_eq!(a.schedule.as_deref(), Some("rate(5 minutes)"));
        assert!(a.dry_run);
        assert_eq!(a.diagnose, None, "unset: installed probes keep theirs");
    }

    #[test]
    fn diagnose_takes_both_spellings_of_on_failure() {
        for spelling in ["on_failure", "on-failure"] {
            let cli = Cli::try_parse_from([
                "egress-probe",
                "install",
                "--vpc",
                "vpc-1",
                "--diagnose",
                spelling,
            ])
            .unwrap();
            let Command::Install(a) = cli.command else {
                panic!("not install")
            };
            assert_eq!(a.diagnose, Some(DiagnoseMode::OnFailure), "{spelling}");
            assert_eq!(DiagnoseMode::OnFailure.as_str(), "on_failure");
        }
        assert!(
            Cli::try_parse_from(["egress-probe", "install", "--diagnose", "sometimes"]).is_err()
        );
    }

    #[test]
    fn schedule_and_no_schedule_conflict() {
        let err = Cli::try_parse_from([
            "egress-probe",
            "install",
            "--vpc",
            "vpc-1",
            "--schedule",
            "rate(5 minutes)",
            "--no-schedule",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn bad_schedule_is_a_usage_error() {
        let err = Cli::try_parse_from([
            "egress-probe",
            "install",
            "--vpc",
            "vpc-1",
            "--schedule",
            "rate(5 minute)",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(err.to_string().contains("--schedule"), "{err}");
    }
}
