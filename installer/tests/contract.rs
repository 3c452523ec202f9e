//! The installer side of the probe/installer contract (issue 12 item 18): the installer's
//! command line rejects exactly what the probe rejects, over the probe's own table
//! (probe/tests/contract/inputs.json), and the environment it writes is read back by the
//! probe's configuration to the same targets, diagnose mode and namespace. Regression:
//! `install --target dns:192.0.2.1` was accepted and every invocation then failed with
//! InvalidConfiguration.

// A test that cannot read its own table should fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clap::Parser;
use egress_probe::config::ProbeConfig;
use egress_probe::event::parse_event;
use egress_probe::model::DiagnoseMode;
use egress_probe::settings;
use egress_probe_installer::artifact::Arch;
use egress_probe_installer::cli::{Cli, Command};
use egress_probe_installer::plan::{FunctionSpec, ProbeSettings, SubnetInfo, rule_input};
use serde_json::{Value, json};
use std::time::Duration;

fn table(kind: &str) -> Vec<(String, bool)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../probe/tests/contract/inputs.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v[kind]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["input"].as_str().unwrap().to_string(),
                c["accept"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn install(flag: &str, value: &str) -> Result<ProbeSettings, clap::Error> {
    let cli = Cli::try_parse_from([
        "egress-probe".to_string(),
        "install".into(),
        "--vpc".into(),
        "vpc-1".into(),
        format!("{flag}={value}"),
    ])?;
    let Command::Install(a) = cli.command else {
        panic!("not install")
    };
    Ok(ProbeSettings {
        targets: a.targets,
        // A new probe: what the command line says, else the contract's defaults (as
        // `install` resolves them when no probe is installed yet).
        diagnose: a
            .diagnose
            .unwrap_or(egress_probe::settings::DEFAULT_DIAGNOSE),
        metric_namespace: a
            .metric_namespace
            .unwrap_or_else(|| egress_probe::settings::DEFAULT_METRIC_NAMESPACE.to_string()),
        schedule: a.schedule,
    })
}

/// The environment `install` would give the function of one subnet.
fn function_env(s: &ProbeSettings) -> std::collections::BTreeMap<String, String> {
    let subnet = SubnetInfo {
        id: "subnet-0a".into(),
        vpc_id: "vpc-1".into(),
        availability_zone: "eu-west-3a".into(),
        availability_zone_id: Some("euw3-az1".into()),
    };
    FunctionSpec::new(
        subnet,
        vec![],
        "arn:role".into(),
        Arch::Arm64,
        "x".into(),
        s,
    )
    .environment
}

/// What the probe makes of that environment (Region as Lambda sets it).
fn probe_reads(env: &std::collections::BTreeMap<String, String>) -> Result<ProbeConfig, String> {
    ProbeConfig::from_lookup(|k| match k {
        "AWS_REGION" => Some("eu-west-3".into()),
        k => env.get(k).cloned(),
    })
    .map_err(|e| e.to_string())
}

#[test]
fn install_target_is_accepted_exactly_when_the_probe_accepts_it() {
    let cases = table("targets");
    assert!(cases.len() >= 30, "the table lost its cases");
    for (input, accept) in cases {
        let installer = install("--target", &input);
        let probe = settings::parse_target(&input);
        assert_eq!(
            installer.is_ok(),
            accept,
            "install --target {input:?}: {:?}",
            installer.as_ref().err().map(ToString::to_string)
        );
        assert_eq!(probe.is_ok(), accept, "probe target {input:?}");
        let Ok(s) = installer else { continue };
        // What the installer writes, the probe reads back to the same target, both from
        // the environment and from the schedule rule's input.
        let cfg = probe_reads(&function_env(&s)).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(cfg.default_targets, s.targets, "{input:?}");
        let event: Value = serde_json::from_str(&rule_input(&s.targets)).unwrap();
        let plan = parse_event(&event, &cfg, Duration::from_secs(15)).unwrap();
        assert_eq!(plan.targets, s.targets, "{input:?}");
    }
}

#[test]
fn the_issue_case_is_a_usage_error_naming_the_fix() {
    let e = install("--target", "dns:192.0.2.1").unwrap_err();
    assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
    let text = e.to_string();
    assert!(text.contains("--target"), "{text}");
    assert!(text.contains("host name, not an address"), "{text}");
    let e = install("--target", "https://user:SECRETPW@example.com/").unwrap_err();
    assert!(!e.to_string().contains("SECRETPW"), "{e}");
}

#[test]
fn install_diagnose_is_accepted_exactly_when_the_probe_accepts_it() {
    for (input, accept) in table("diagnose") {
        let installer = install("--diagnose", &input);
        assert_eq!(installer.is_ok(), accept, "install --diagnose {input:?}");
        let event = parse_event(
            &json!({ "diagnose": input }),
            &probe_reads(&Default::default()).unwrap(),
            Duration::from_secs(15),
        );
        assert_eq!(event.is_ok(), accept, "event diagnose {input:?}");
        let Ok(s) = installer else { continue };
        let env = function_env(&s);
        // The canonical spelling is written, whatever spelling was typed.
        assert_eq!(env[settings::env::DIAGNOSE], s.diagnose.as_str());
        assert_eq!(probe_reads(&env).unwrap().diagnose, s.diagnose);
    }
    assert_eq!(
        install("--diagnose", "on-failure").unwrap().diagnose,
        DiagnoseMode::OnFailure
    );
}

#[test]
fn install_metric_namespace_is_accepted_exactly_when_the_probe_accepts_it() {
    for (input, accept) in table("metric_namespace") {
        let installer = install("--metric-namespace", &input);
        assert_eq!(
            installer.is_ok(),
            accept,
            "install --metric-namespace {input:?}"
        );
        let Ok(s) = installer else { continue };
        assert_eq!(
            probe_reads(&function_env(&s)).unwrap().metric_namespace,
            input
        );
    }
}

#[test]
fn defaults_are_the_probes_defaults() {
    let s = install("--schedule", "rate(5 minutes)").unwrap();
    assert!(s.targets.is_empty());
    let env = function_env(&s);
    assert!(!env.contains_key(settings::env::TARGETS));
    let cfg = probe_reads(&env).unwrap();
    assert_eq!(cfg.default_targets, settings::default_targets("eu-west-3"));
    assert_eq!(cfg.diagnose, settings::DEFAULT_DIAGNOSE);
    assert_eq!(cfg.metric_namespace, settings::DEFAULT_METRIC_NAMESPACE);
    assert_eq!(cfg.subnet_id.as_deref(), Some("subnet-0a"));
    assert_eq!(cfg.availability_zone.as_deref(), Some("eu-west-3a"));
    assert_eq!(cfg.availability_zone_id.as_deref(), Some("euw3-az1"));
    assert_eq!(cfg.vpc_id.as_deref(), Some("vpc-1"));
    assert!(
        env.keys().all(|k| settings::env::ALL.contains(&k.as_str())),
        "{env:?}"
    );
}
