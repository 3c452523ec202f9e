//! Command-line adapters over the probe's contract (`egress_probe::settings`): the
//! installer accepts exactly the targets, diagnose modes and metric namespaces the probe
//! accepts, because it calls the same parsers (issue 12 item 18). Nothing is parsed here.

use clap::error::ErrorKind;
use egress_probe::model::{DiagnoseMode, Target};
use egress_probe::settings;
use std::ffi::OsStr;

/// clap value parser for `--target`. Its errors quote the value the way the probe does
/// (credentials hidden, long values cut), not clap's raw echo of the whole argument.
#[derive(Debug, Clone, Copy)]
pub struct TargetParser;

impl clap::builder::TypedValueParser for TargetParser {
    type Value = Target;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Target, clap::Error> {
        let name = arg
            .and_then(clap::Arg::get_long)
            .map_or_else(|| "TARGET".to_string(), |l| format!("--{l}"));
        let fail = |kind, message: String| {
            clap::Error::raw(kind, format!("invalid value for {name}: {message}\n")).with_cmd(cmd)
        };
        let s = value
            .to_str()
            .ok_or_else(|| fail(ErrorKind::InvalidUtf8, "not valid UTF-8".into()))?;
        parse_target(s).map_err(|m| fail(ErrorKind::ValueValidation, m))
    }
}

/// One target, the probe's way.
pub fn parse_target(s: &str) -> Result<Target, String> {
    settings::parse_target(s).map_err(|e| e.message)
}

/// clap value parser for `--diagnose` (`on_failure`, also `on-failure`).
pub fn parse_diagnose(s: &str) -> Result<DiagnoseMode, String> {
    DiagnoseMode::parse(s).map_err(|e| e.message)
}

/// clap value parser for `--metric-namespace`.
pub fn parse_metric_namespace(s: &str) -> Result<String, String> {
    settings::parse_metric_namespace(s).map_err(|e| e.message)
}

/// Targets checked when none is given: the probe's own defaults for `region`.
pub fn default_targets(region: Option<&str>) -> Vec<Target> {
    settings::default_targets(region.unwrap_or(settings::FALLBACK_REGION))
}
