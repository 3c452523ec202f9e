//! The `egress-probe` command as a library: `run` takes parsed arguments and returns the
//! rendered result and exit code, so tests can drive it in-process against moto.

pub mod artifact;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod fleet;
pub mod lang;
pub mod manager;
pub mod output;
pub mod plan;
pub mod progress;
pub mod target;

use anyhow::{Result, bail};
use cli::{Cli, Command, GlobalArgs};
use serde::Serialize;
use std::future::Future;

/// Exit codes, the same for every command (README "Exit codes", `--help`).
pub mod exit {
    /// Done; healthy; nothing failed.
    pub const OK: u8 = 0;
    /// Failures found: a probe reports broken egress, or the diagnosis found a blocked path.
    pub const FAILURES: u8 = 1;
    /// Could not do it: usage, bad input (an unknown subnet, VPC or function, no probe to
    /// run), permission or API error, steps not done, an analysis without the data it needs.
    pub const ERROR: u8 = 2;
    /// Not everything requested was evaluated, and nothing evaluated is broken: a target
    /// the diagnosing side could not resolve (or no target at all), or a snapshot call the
    /// endpoint does not support (the analysis is partial). Never "healthy".
    /// The same number as the fleet's PARTIAL: both say "partial", never healthy.
    pub const NOT_EVALUATED: u8 = 3;
    /// Fleet commands: partial results (some account-Regions not done).
    pub const PARTIAL: u8 = crate::fleet::matrix::code::PARTIAL;
    /// Fleet commands: partial results, and failures found in the others.
    pub const PARTIAL_WITH_FAILURES: u8 = crate::fleet::matrix::code::PARTIAL_WITH_FAILURES;
    /// Interrupted by SIGINT (Ctrl-C): what was done is printed.
    pub const SIGINT: u8 = 130;
    /// Interrupted by SIGTERM: what was done is printed.
    pub const SIGTERM: u8 = 143;
}

/// The result of one command: what to print on stdout, the same as JSON, and the exit code
/// (see [`exit`]).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub code: u8,
    pub stdout: String,
    pub json: serde_json::Value,
}

/// Shared state of a command: the arguments and, lazily, the AWS clients.
pub struct Ctx {
    pub global: GlobalArgs,
    config: Option<aws_config::SdkConfig>,
    /// The changes made so far (printed when the command is interrupted).
    pub journal: progress::Journal,
    /// A person can answer a question (stdin and stderr are terminals).
    pub interactive: bool,
}

impl Ctx {
    /// The clients (loading the SDK configuration on first use) after a credentials check.
    pub async fn clients(&mut self) -> Result<aws::Clients> {
        let config = match &self.config {
            Some(c) => c.clone(),
            None => {
                if let Some(profile) = &self.global.profile
                    && aws::profile_exists(profile) != Some(true)
                {
                    bail!(
                        "AWS profile `{profile}` not found in ~/.aws/config or ~/.aws/credentials (or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE): check --profile or AWS_PROFILE (`aws configure list-profiles` lists them)"
                    );
                }
                let options = egress_probe::aws::AwsOptions {
                    region: self.global.region.clone(),
                    profile: self.global.profile.clone(),
                    endpoint_url: self.global.endpoint_url.clone(),
                    max_attempts: Some(self.global.max_attempts),
                    ..Default::default()
                };
                let c = egress_probe::aws::load_config(&options).await;
                self.config = Some(c.clone());
                c
            }
        };
        let clients = aws::Clients::new(config)?;
        clients.check_credentials().await?;
        Ok(clients)
    }

    /// True when progress bars may be drawn.
    pub fn progress_visible(&self) -> bool {
        progress::visible(self.global.output == cli::OutputFormat::Text)
    }
}

/// Runs a command with the SDK configuration from the arguments and the environment.
pub async fn run(cli: Cli) -> Result<Outcome> {
    run_with_config(cli, None).await
}

/// Runs a command; `config` (when given) replaces the SDK configuration (tests). Never
/// interactive: a command that would ask needs `--yes`.
pub async fn run_with_config(cli: Cli, config: Option<aws_config::SdkConfig>) -> Result<Outcome> {
    run_until(cli, config, false, std::future::pending()).await
}

/// A signal that ends a command early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Sigint,
    Sigterm,
}

/// What an interrupted command had done.
#[derive(Debug, Clone, Serialize)]
pub struct Interrupted {
    pub interrupted_by: &'static str,
    /// The changes completed before the signal, in order.
    pub done: Vec<String>,
}

impl output::Render for Interrupted {
    fn text(&self, _lang: cli::Lang) -> String {
        let mut s = format!("Interrupted by {}.", self.interrupted_by);
        if self.done.is_empty() {
            s.push_str(" Nothing was changed.\n");
        } else {
            s.push_str(" Done before that:\n");
            for d in &self.done {
                s.push_str(&format!("  - {d}\n"));
            }
            s.push_str("Re-run the same command to finish.\n");
        }
        s
    }
}

/// Runs a command until it ends or `stop` fires; then the outcome lists what was done.
pub async fn run_until(
    cli: Cli,
    config: Option<aws_config::SdkConfig>,
    interactive: bool,
    stop: impl Future<Output = Stop>,
) -> Result<Outcome> {
    let mut ctx = Ctx {
        global: cli.global.clone(),
        config,
        journal: progress::Journal::default(),
        interactive,
    };
    let journal = ctx.journal.clone();
    let global = cli.global.clone();
    // Each command's future is large (many awaits over SDK calls): on the heap, not on
    // the stack of the thread that polls it (a test thread has 2 MiB).
    let command = async {
        if cli.global.fleet.is_active() {
            return Box::pin(fleet::run_fleet(&mut ctx, &cli.command)).await;
        }
        match &cli.command {
            Command::Install(a) => Box::pin(commands::install::run(&mut ctx, a)).await,
            Command::Run(a) => Box::pin(commands::run::run(&mut ctx, a)).await,
            Command::Diagnose(a) => Box::pin(commands::diagnose::run(&mut ctx, a)).await,
            Command::Status(a) => Box::pin(commands::status::run(&mut ctx, a)).await,
            Command::Uninstall(a) => Box::pin(commands::uninstall::run(&mut ctx, a)).await,
        }
    };
    let command = Box::pin(command);
    tokio::select! {
        result = command => result.map_err(|e| with_endpoint_context(e, &global)),
        signal = stop => {
            let (name, code) = match signal {
                Stop::Sigint => ("SIGINT", exit::SIGINT),
                Stop::Sigterm => ("SIGTERM", exit::SIGTERM),
            };
            let value = Interrupted { interrupted_by: name, done: journal.entries() };
            Ok(Outcome {
                code,
                stdout: output::render(
                    &value,
                    global.output,
                    &output::Style::detect(global.lang, global.verbose > 0),
                ),
                json: serde_json::to_value(&value).unwrap_or(serde_json::Value::Null),
            })
        }
    }
}

/// An API call that got no AWS answer says which Region and endpoint it tried.
fn with_endpoint_context(e: anyhow::Error, global: &GlobalArgs) -> anyhow::Error {
    let unreachable = e
        .chain()
        .filter_map(|c| c.downcast_ref::<aws::ApiError>())
        .any(|a| a.unreachable);
    if !unreachable {
        return e;
    }
    let region = global
        .region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok())
        .unwrap_or_else(|| "from the profile".into());
    let endpoint = global
        .endpoint_url
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .unwrap_or_else(|| "the AWS default".into());
    e.context(format!("in Region {region} (endpoint {endpoint})"))
}

/// Builds the `Outcome` of a result value.
pub fn outcome<T: output::Render>(ctx: &Ctx, value: &T, code: u8) -> Outcome {
    Outcome {
        code,
        stdout: output::render(
            value,
            ctx.global.output,
            &output::Style::detect(ctx.global.lang, ctx.global.verbose > 0),
        ),
        json: serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
    }
}
