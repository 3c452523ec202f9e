//! The probe side of the probe/installer contract (issue 12 item 18): every input of
//! tests/contract/inputs.json is accepted or rejected alike by `settings`, by the
//! function's environment (`ProbeConfig`) and by the invocation event. The installer runs
//! the same table through its command line (installer/tests/contract.rs).

// A test that cannot read its own table should fail loudly.
#![allow(clippy::unwrap_used)]

use egress_probe::config::ProbeConfig;
use egress_probe::event::parse_event;
use egress_probe::model::DiagnoseMode;
use egress_probe::settings::{self, env};
use serde_json::{Value, json};
use std::time::Duration;

fn table(kind: &str) -> Vec<(String, bool)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contract/inputs.json");
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

fn config(var: &str, value: &str) -> Result<ProbeConfig, String> {
    ProbeConfig::from_lookup(|k| match k {
        "AWS_REGION" => Some("us-east-1".into()),
        k if k == var => Some(value.to_string()),
        _ => None,
    })
    .map_err(|e| e.to_string())
}

fn event(ev: Value) -> Result<egress_probe::model::Plan, String> {
    let base = config("", "").unwrap();
    parse_event(&ev, &base, Duration::from_secs(15)).map_err(|e| e.to_string())
}

#[test]
fn targets_are_accepted_alike_by_settings_environment_and_event() {
    let cases = table("targets");
    assert!(cases.len() >= 30, "the table lost its cases");
    for (input, accept) in cases {
        let parsed = settings::parse_target(&input);
        assert_eq!(
            parsed.is_ok(),
            accept,
            "settings::parse_target({input:?}): {parsed:?}"
        );
        let ev = event(json!({ "targets": [input] }));
        assert_eq!(ev.is_ok(), accept, "event targets [{input:?}]: {ev:?}");
        // An empty variable means "the defaults": only non-blank values are targets.
        if !input.trim().is_empty() {
            let cfg = config(env::TARGETS, &input);
            assert_eq!(
                cfg.is_ok(),
                accept,
                "{} = {input:?}: {:?}",
                env::TARGETS,
                cfg.err()
            );
            if let (Ok(cfg), Ok(t)) = (cfg, &parsed) {
                assert_eq!(cfg.default_targets, vec![t.clone()], "{input:?}");
            }
        }
        if let Ok(t) = parsed {
            // The canonical form the installer writes reads back to the same target.
            assert_eq!(
                settings::parse_target(&t.to_string()).unwrap(),
                t,
                "{input:?}"
            );
            assert_eq!(ev.unwrap().targets, vec![t]);
        }
    }
}

#[test]
fn diagnose_modes_are_accepted_alike_by_environment_and_event() {
    for (input, accept) in table("diagnose") {
        let parsed = DiagnoseMode::parse(&input);
        assert_eq!(parsed.is_ok(), accept, "{input:?}");
        let cfg = config(env::DIAGNOSE, &input);
        assert_eq!(cfg.is_ok(), accept, "{} = {input:?}", env::DIAGNOSE);
        let ev = event(json!({ "diagnose": input }));
        assert_eq!(ev.is_ok(), accept, "event diagnose {input:?}");
        if let Ok(mode) = parsed {
            assert_eq!(cfg.unwrap().diagnose, mode);
            assert_eq!(ev.unwrap().diagnose, mode);
        }
    }
}

#[test]
fn metric_namespaces_are_accepted_alike() {
    for (input, accept) in table("metric_namespace") {
        assert_eq!(
            settings::parse_metric_namespace(&input).is_ok(),
            accept,
            "{input:?}"
        );
        let cfg = config(env::METRIC_NAMESPACE, &input);
        assert_eq!(cfg.is_ok(), accept, "{} = {input:?}", env::METRIC_NAMESPACE);
    }
}

#[test]
fn the_invocation_event_reads_back_to_its_targets() {
    for targets in [vec![], settings::default_targets("ap-northeast-1")] {
        let plan = event(settings::invocation_event(&targets)).unwrap();
        if targets.is_empty() {
            assert_eq!(plan.source, "defaults");
            assert_eq!(plan.targets, settings::default_targets("us-east-1"));
        } else {
            assert_eq!(plan.targets, targets);
        }
    }
}
