//! The `egress-probe` command as a library: `run` takes parsed arguments and returns the
//! rendered result and exit code, so tests can drive it in-process against moto.

pub mod artifact;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod lang;
pub mod output;
pub mod plan;
pub mod progress;
pub mod target;

use anyhow::Result;
use cli::{Cli, Command, GlobalArgs};

/// The result of one command: what to print on stdout, the same as JSON, and the exit code
/// (0 healthy / done, 1 failures found, 2 usage, permission or API error).
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
}

impl Ctx {
    /// The clients (loading the SDK configuration on first use) after a credentials check.
    pub async fn clients(&mut self) -> Result<aws::Clients> {
        let config = match &self.config {
            Some(c) => c.clone(),
            None => {
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

/// Runs a command; `config` (when given) replaces the SDK configuration (tests).
pub async fn run_with_config(cli: Cli, config: Option<aws_config::SdkConfig>) -> Result<Outcome> {
    let mut ctx = Ctx {
        global: cli.global.clone(),
        config,
    };
    match &cli.command {
        Command::Install(a) => commands::install::run(&mut ctx, a).await,
        Command::Run(a) => commands::run::run(&mut ctx, a).await,
        Command::Diagnose(a) => commands::diagnose::run(&mut ctx, a).await,
        Command::Status(a) => commands::status::run(&mut ctx, a).await,
        Command::Uninstall(a) => commands::uninstall::run(&mut ctx, a).await,
    }
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
