//! Invocation event → validated `Plan`.
//!
//! `null`, `{}` and an EventBridge scheduled event mean "the defaults configured on this
//! function". An on-demand event may name `targets`, `timeouts` and `diagnose`:
//!
//! ```json
//! {"targets": ["dns:example.com", "tcp://example.com:443", "https://example.com/"],
//!  "timeouts": {"dns_ms": 2000, "connect_ms": 3000, "https_ms": 5000},
//!  "diagnose": "always"}
//! ```
//!
//! Anything else is an `EventError` naming the field — never a panic.

use crate::checks::Timeouts;
use crate::config::ProbeConfig;
use crate::model::{DiagnoseMode, Plan, Target};
use crate::settings::{self, MAX_TARGETS};
use serde_json::Value;
use std::time::Duration;

/// A bad event: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event field `{field}`: {message}")]
pub struct EventError {
    pub field: String,
    pub message: String,
}

impl EventError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
    /// Stable error type returned to Lambda.
    pub const ERROR_TYPE: &'static str = "InvalidEvent";
}

const EVENT_FIELDS: &[&str] = &["targets", "timeouts", "diagnose"];
const TIMEOUT_FIELDS: &[&str] = &["dns_ms", "connect_ms", "https_ms"];
/// Keys of an EventBridge event envelope (a scheduled rule without `Input`).
const EVENTBRIDGE_FIELDS: &[&str] = &[
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
];

/// Longest piece of input quoted in an error message, in characters.
const SHOWN_CHARS: usize = 100;

/// Input as quoted in an error message (issue 12.8): the password of any `user:password@`
/// replaced by `***`, control characters by `?`, and cut to 100 characters with the
/// full length said, so that a rejected target never echoes a secret nor a megabyte.
pub fn shown(input: &str) -> String {
    let redacted = redact_userinfo(input);
    let total = redacted.chars().count();
    let mut out: String = redacted
        .chars()
        .take(SHOWN_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if total > SHOWN_CHARS {
        out.push_str(&format!("… ({} bytes)", input.len()));
    }
    out
}

/// `scheme://user:password@host…` → `scheme://***@host…` (also without a scheme).
fn redact_userinfo(input: &str) -> std::borrow::Cow<'_, str> {
    let (scheme, rest) = match input.find("://") {
        Some(i) => input.split_at(i + 3),
        None => ("", input),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}***{}", &rest[at..]).into(),
        None => input.into(),
    }
}

/// Turns an event into a plan. `remaining` is the time the checks may use (the invocation's
/// remaining time minus the safety margin); no timeout may exceed it.
pub fn parse_event(
    event: &Value,
    config: &ProbeConfig,
    remaining: Duration,
) -> Result<Plan, EventError> {
    let defaults = |source: &str| Plan {
        targets: config.default_targets.clone(),
        // Configured defaults are kept as they are: when the invocation has less time
        // left, the checks are bounded by the deadline and reported `cut_short`.
        dns_timeout_ms: as_ms(config.timeouts.dns),
        connect_timeout_ms: as_ms(config.timeouts.connect),
        https_timeout_ms: as_ms(config.timeouts.https),
        diagnose: config.diagnose,
        source: source.to_string(),
    };
    let obj = match event {
        Value::Null => return Ok(defaults("defaults")),
        Value::Object(map) => map,
        other => {
            return Err(EventError::new(
                "(event)",
                format!("expected a JSON object or null, got {}", kind(other)),
            ));
        }
    };
    if obj.is_empty() {
        return Ok(defaults("defaults"));
    }
    if is_eventbridge(obj) {
        return Ok(defaults("schedule"));
    }
    if let Some(unknown) = obj.keys().find(|k| !EVENT_FIELDS.contains(&k.as_str())) {
        return Err(EventError::new(
            shown(unknown),
            format!("unknown field; expected one of {}", EVENT_FIELDS.join(", ")),
        ));
    }
    let mut plan = defaults("event");
    if let Some(targets) = obj.get("targets") {
        plan.targets = parse_targets(targets)?;
    }
    if let Some(t) = obj.get("timeouts") {
        let map = t.as_object().ok_or_else(|| {
            EventError::new("timeouts", format!("expected an object, got {}", kind(t)))
        })?;
        if let Some(unknown) = map.keys().find(|k| !TIMEOUT_FIELDS.contains(&k.as_str())) {
            return Err(EventError::new(
                format!("timeouts.{}", shown(unknown)),
                format!(
                    "unknown field; expected one of {}",
                    TIMEOUT_FIELDS.join(", ")
                ),
            ));
        }
        for (name, slot) in [
            ("dns_ms", &mut plan.dns_timeout_ms),
            ("connect_ms", &mut plan.connect_timeout_ms),
            ("https_ms", &mut plan.https_timeout_ms),
        ] {
            if let Some(v) = map.get(name) {
                *slot = parse_timeout(&format!("timeouts.{name}"), v, remaining)?;
            }
        }
    }
    if let Some(d) = obj.get("diagnose") {
        plan.diagnose = match d {
            Value::Bool(true) => DiagnoseMode::Always,
            Value::Bool(false) => DiagnoseMode::Never,
            Value::String(s) => {
                DiagnoseMode::parse(s).map_err(|e| EventError::new("diagnose", e.message))?
            }
            other => {
                return Err(EventError::new(
                    "diagnose",
                    format!("expected a string or boolean, got {}", kind(other)),
                ));
            }
        };
    }
    Ok(plan)
}

/// The per-check timeouts of a plan.
pub fn plan_timeouts(plan: &Plan) -> Timeouts {
    Timeouts {
        dns: Duration::from_millis(plan.dns_timeout_ms),
        connect: Duration::from_millis(plan.connect_timeout_ms),
        https: Duration::from_millis(plan.https_timeout_ms),
    }
}

fn as_ms(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX).max(1)
}

fn is_eventbridge(obj: &serde_json::Map<String, Value>) -> bool {
    obj.get("source").and_then(Value::as_str).is_some()
        && obj.contains_key("detail-type")
        && obj.keys().all(|k| EVENTBRIDGE_FIELDS.contains(&k.as_str()))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_targets(v: &Value) -> Result<Vec<Target>, EventError> {
    let items = v.as_array().ok_or_else(|| {
        EventError::new(
            "targets",
            format!("expected an array of strings, got {}", kind(v)),
        )
    })?;
    if items.is_empty() {
        return Err(EventError::new(
            "targets",
            "empty; name at least one target or omit the field for the defaults",
        ));
    }
    if items.len() > MAX_TARGETS {
        return Err(EventError::new(
            "targets",
            format!("{} targets; at most {MAX_TARGETS}", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let field = format!("targets[{i}]");
            let s = item.as_str().ok_or_else(|| {
                EventError::new(
                    field.clone(),
                    format!("expected a string, got {}", kind(item)),
                )
            })?;
            settings::parse_target(s).map_err(|e| EventError::new(field, e.message))
        })
        .collect()
}

fn parse_timeout(field: &str, v: &Value, remaining: Duration) -> Result<u64, EventError> {
    let ms = v.as_u64().ok_or_else(|| {
        EventError::new(
            field,
            format!(
                "expected a positive whole number of milliseconds, got {}",
                shown(&v.to_string())
            ),
        )
    })?;
    if ms == 0 {
        return Err(EventError::new(field, "must be at least 1 ms"));
    }
    let limit = remaining.as_millis();
    if u128::from(ms) > limit {
        return Err(EventError::new(
            field,
            format!(
                "{ms} ms is longer than the invocation's remaining time ({limit} ms after the safety margin); raise the function timeout or lower this timeout"
            ),
        ));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> ProbeConfig {
        ProbeConfig::from_lookup(|k| (k == "AWS_REGION").then(|| "us-east-1".to_string()))
            .expect("default config")
    }
    const REMAINING: Duration = Duration::from_secs(10);

    #[test]
    fn defaults_for_empty_null_and_schedule() {
        let c = config();
        for ev in [
            Value::Null,
            json!({}),
            json!({"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/r"],"detail":{}}),
        ] {
            let plan = parse_event(&ev, &c, REMAINING).unwrap();
            assert_eq!(plan.targets, c.default_targets, "{ev}");
            assert_eq!(plan.diagnose, DiagnoseMode::OnFailure);
        }
    }

    #[test]
    fn valid_events() {
        let c = config();
        let plan = parse_event(
            &json!({"targets":["dns:Example.COM.","tcp://[2001:db8::1]:443","https://example.com:8443/x?y=1"],
                    "timeouts":{"dns_ms":500,"connect_ms":700},"diagnose":"never"}),
            &c,
            REMAINING,
        )
        .unwrap();
        assert_eq!(
            plan.targets,
            vec![
                Target::Dns {
                    name: "example.com".into()
                },
                Target::Tcp {
                    host: "2001:db8::1".into(),
                    port: 443
                },
                Target::Https {
                    url: "https://example.com:8443/x?y=1".into(),
                    host: "example.com".into(),
                    port: 8443
                },
            ]
        );
        assert_eq!((plan.dns_timeout_ms, plan.connect_timeout_ms), (500, 700));
        assert_eq!(plan.https_timeout_ms, 5000);
        assert_eq!(plan.diagnose, DiagnoseMode::Never);
        assert_eq!(
            parse_event(&json!({"diagnose": true}), &c, REMAINING)
                .unwrap()
                .diagnose,
            DiagnoseMode::Always
        );
    }

    #[test]
    fn invalid_events_name_the_field() {
        let c = config();
        let many: Vec<String> = (0..=MAX_TARGETS)
            .map(|i| format!("dns:h{i}.example"))
            .collect();
        let cases: Vec<(Value, &str)> = vec![
            (json!([1, 2]), "(event)"),
            (json!("dns:x"), "(event)"),
            (json!({"target": ["dns:x"]}), "target"),
            (json!({"targets": "dns:x"}), "targets"),
            (json!({"targets": []}), "targets"),
            (json!({"targets": many}), "targets"),
            (json!({"targets": ["dns:ok.example", 7]}), "targets[1]"),
            (json!({"targets": ["ftp://x"]}), "targets[0]"),
            (json!({"targets": ["tcp://x.example"]}), "targets[0]"),
            (json!({"targets": ["tcp://x.example:0"]}), "targets[0]"),
            (json!({"targets": ["tcp://x.example:70000"]}), "targets[0]"),
            (json!({"targets": ["tcp://2001:db8::1:443"]}), "targets[0]"),
            (
                json!({"targets": ["https://user:pw@x.example/"]}),
                "targets[0]",
            ),
            (json!({"targets": ["https://"]}), "targets[0]"),
            (json!({"targets": ["http://x.example/"]}), "targets[0]"),
            (json!({"targets": ["dns:bad..name"]}), "targets[0]"),
            (json!({"targets": ["dns:192.0.2.1"]}), "targets[0]"),
            (json!({"timeouts": 5}), "timeouts"),
            (json!({"timeouts": {"tls_ms": 5}}), "timeouts.tls_ms"),
            (json!({"timeouts": {"dns_ms": 0}}), "timeouts.dns_ms"),
            (json!({"timeouts": {"dns_ms": -5}}), "timeouts.dns_ms"),
            (json!({"timeouts": {"https_ms": 1.5}}), "timeouts.https_ms"),
            (
                json!({"timeouts": {"https_ms": 60000}}),
                "timeouts.https_ms",
            ),
            (json!({"diagnose": "maybe"}), "diagnose"),
            (json!({"diagnose": 1}), "diagnose"),
            (
                json!({"source": "aws.events", "detail-type": "x", "extra": 1}),
                "detail-type",
            ),
        ];
        for (ev, field) in cases {
            let err = parse_event(&ev, &c, REMAINING).expect_err(&ev.to_string());
            assert_eq!(err.field, field, "event {ev}: {err}");
            assert!(!err.message.is_empty());
        }
    }

    #[test]
    fn timeout_longer_than_remaining_time_is_rejected() {
        let c = config();
        let err = parse_event(
            &json!({"timeouts":{"connect_ms": 2500}}),
            &c,
            Duration::from_millis(2000),
        )
        .unwrap_err();
        assert_eq!(err.field, "timeouts.connect_ms");
        assert!(err.message.contains("remaining"), "{}", err.message);
        // Configured defaults are not an error: the event did not ask for them; the
        // deadline bounds the checks instead (they are reported cut short).
        let plan = parse_event(&Value::Null, &c, Duration::from_millis(2000)).unwrap();
        assert_eq!(plan.https_timeout_ms, 5000);
    }

    #[test]
    fn rejected_targets_never_echo_a_password() {
        let c = config();
        for target in [
            "https://user:SECRETPW@example.com/",
            "https://user:SECRETPW@example.com:99999/",
            "tcp://user:SECRETPW@example.com:443",
            "tcp://user:SECRETPW@[2001:db8::1]:443",
            "dns:user:SECRETPW@example.com",
            "ftp://user:SECRETPW@example.com/",
            "http://user:SECRETPW@example.com/",
        ] {
            let err = crate::settings::parse_target(target).expect_err(target);
            let text = err.to_string();
            assert!(!text.contains("SECRETPW"), "{target}: {text}");
            assert!(!text.contains("user:"), "{target}: {text}");
            let ev = parse_event(&json!({ "targets": [target] }), &c, REMAINING)
                .expect_err(target)
                .to_string();
            assert!(!ev.contains("SECRETPW"), "{ev}");
            let env = ProbeConfig::from_lookup(|k| {
                (k == crate::config::env::TARGETS).then(|| target.to_string())
            })
            .expect_err(target)
            .to_string();
            assert!(!env.contains("SECRETPW"), "{env}");
        }
        assert!(
            crate::settings::parse_target("https://user:SECRETPW@example.com/")
                .expect_err("credentials")
                .to_string()
                .contains("`https://***@example.com/`: credentials in URLs are not accepted")
        );
    }

    #[test]
    fn long_input_is_cut_in_error_messages() {
        let c = config();
        let huge = format!("https://{}.example/", "a".repeat(1024 * 1024));
        let err = crate::settings::parse_target(&huge)
            .expect_err("huge")
            .to_string();
        assert!(err.len() < 400, "{} bytes of error", err.len());
        assert!(err.contains(&format!("{} bytes", huge.len())), "{err}");
        let key = "k".repeat(100_000);
        let e = parse_event(&json!({ key: 1 }), &c, REMAINING).expect_err("key");
        assert!(e.to_string().len() < 400, "{}", e.to_string().len());
        let e = parse_event(&json!({"diagnose": "x".repeat(100_000)}), &c, REMAINING)
            .expect_err("diagnose");
        assert!(e.to_string().len() < 400);
        let e = parse_event(
            &json!({"timeouts": {"dns_ms": "9".repeat(100_000)}}),
            &c,
            REMAINING,
        )
        .expect_err("timeout");
        assert!(e.to_string().len() < 400);
        let env = ProbeConfig::from_lookup(|k| {
            (k == crate::config::env::CONNECT_TIMEOUT_MS).then(|| "9x".repeat(500_000))
        })
        .expect_err("timeout")
        .to_string();
        assert!(env.len() < 400, "{}", env.len());
    }

    #[test]
    fn shown_redacts_cuts_and_hides_control_characters() {
        assert_eq!(shown("https://u:p@h/x@y"), "https://***@h/x@y");
        assert_eq!(shown("u:p@h"), "***@h");
        assert_eq!(shown("tcp://h:1"), "tcp://h:1");
        assert_eq!(shown("a\nb\u{1b}[31m"), "a?b?[31m");
        let long = "é".repeat(150);
        let cut = shown(&long);
        assert!(cut.starts_with(&"é".repeat(100)), "{cut}");
        assert!(cut.ends_with("… (300 bytes)"), "{cut}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_json_never_panics(v in arb_json()) {
            let _ = parse_event(&v, &config(), REMAINING);
        }

        #[test]
        fn arbitrary_target_strings_never_panic(s in "\\PC{0,80}") {
            let _ = settings::parse_target(&s);
            let _ = settings::parse_target(&format!("tcp://{s}"));
            let _ = settings::parse_target(&format!("https://{s}"));
            let _ = settings::parse_target(&format!("dns:{s}"));
        }
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            "\\PC{0,30}".prop_map(Value::String),
            prop_oneof![
                Just("dns:example.com"),
                Just("tcp://127.0.0.1:1"),
                Just("https://[::1]:0/"),
                Just("targets"),
                Just("timeouts"),
                Just("diagnose"),
                Just("dns_ms")
            ]
            .prop_map(|s| Value::String(s.to_string())),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            let key = prop_oneof![
                Just("targets".to_string()),
                Just("timeouts".to_string()),
                Just("diagnose".to_string()),
                Just("dns_ms".to_string()),
                Just("https_ms".to_string()),
                Just("source".to_string()),
                Just("detail-type".to_string()),
                "\\PC{0,8}"
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(key, inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
