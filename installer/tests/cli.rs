//! The real `egress-probe` binary: help, usage errors (exit 2 naming the field), and
//! one-line errors for bad input before any AWS call.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_egress-probe"));
    // No AWS configuration from the machine running the tests.
    let home = std::env::temp_dir().join("egress-probe-cli-test-home");
    let _ = std::fs::create_dir_all(&home);
    c.env_clear()
        .env("HOME", &home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    for cmd in ["install", "run", "diagnose", "status", "uninstall"] {
        assert!(out.contains(cmd), "{cmd} missing from help:\n{out}");
    }
    for code in [
        "0    done; healthy",
        "1    failures found",
        "2    could not do it",
        "130  interrupted by Ctrl-C; 143 by SIGTERM",
    ] {
        assert!(
            out.contains(code),
            "exit code `{code}` missing from help:\n{out}"
        );
    }
    let o = run(&["install", "--help"]);
    let out = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--vpc",
        "--subnet",
        "--tag",
        "--like-function",
        "--lambda-subnets",
        "--security-group",
        "--role-arn",
        "--zip",
        "--schedule",
        "--target",
        "--prune",
        "--dry-run",
        "--profile",
        "--region",
        "--endpoint-url",
        "--output",
        "--lang",
    ] {
        assert!(out.contains(flag), "{flag} missing from install --help");
    }
}

#[test]
fn usage_errors_exit_2_and_name_the_field() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["install", "--vpc", "vpc-1", "--schedule", "rate(5 minute)"],
            "--schedule",
        ),
        (
            &[
                "install",
                "--vpc",
                "vpc-1",
                "--schedule",
                "cron(0 12 * * ?)",
            ],
            "6 fields",
        ),
        (&["install", "--tag", "novalue"], "--tag"),
        (
            &["install", "--vpc", "vpc-1", "--target", "tcp://example.com"],
            "--target",
        ),
        (&["run", "--concurrency", "0"], "--concurrency"),
        (&["status", "--output", "yaml"], "--output"),
        (&["diagnose", "--function", "f", "--vpc", "vpc-1"], "--vpc"),
        (&["bogus"], "bogus"),
    ];
    for (args, needle) in cases {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{args:?} printed on stdout");
    }
}

#[test]
fn missing_zip_is_one_line_naming_the_fix() {
    let o = run(&[
        "install",
        "--vpc",
        "vpc-1",
        "--zip",
        "/nonexistent/bootstrap.zip",
        "--region",
        "us-east-1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(
        e.contains("/nonexistent/bootstrap.zip") && e.contains("--zip"),
        "{e}"
    );
}

#[test]
fn no_selection_is_a_usage_error() {
    let o = run(&["install", "--region", "us-east-1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--vpc, --subnet"), "{}", stderr(&o));
}

#[test]
fn no_credentials_is_one_line() {
    let o = run(&[
        "status",
        "--region",
        "us-east-1",
        "--endpoint-url",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(e.contains("no AWS credentials"), "{e}");
}

#[test]
fn offline_diagnose_with_a_missing_snapshot_file_names_it() {
    let o = run(&["diagnose", "--snapshot", "/nonexistent/snap.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/snap.json"),
        "{}",
        stderr(&o)
    );
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn offline_diagnose_names_the_blackhole_of_the_broken_subnet_only() {
    let snap = fixture("nat_blackhole_snapshot.json");
    // subnet-0b routes 0.0.0.0/0 to a deleted NAT gateway (R8): exit 1, finding and the
    // route table marked as the breaking hop.
    let o = run(&[
        "diagnose",
        "--snapshot",
        &snap,
        "--subnet",
        "subnet-0b",
        "--target",
        "tcp://192.0.2.10:443",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", stderr(&o));
    assert!(out.contains("NAT_ROUTE_BLACKHOLE"), "{out}");
    let breaking = out
        .lines()
        .find(|l| l.contains("breaks here"))
        .expect("a breaking hop");
    assert!(breaking.contains("rtb-0b"), "{breaking}");
    assert!(out.contains("aws ec2 "), "fix command expected:\n{out}");

    // subnet-0a has a working NAT path: exit 0, nothing blocked.
    let o = run(&[
        "diagnose",
        "--snapshot",
        &snap,
        "--subnet",
        "subnet-0a",
        "--target",
        "tcp://192.0.2.10:443",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(!out.contains("NAT_ROUTE_BLACKHOLE"), "{out}");
    assert!(!out.contains("breaks here"), "{out}");

    // The function spans both subnets: JSON names the blackhole for subnet-0b only, in ja too.
    let o = run(&[
        "diagnose",
        "--snapshot",
        &snap,
        "--function",
        "app",
        "--target",
        "tcp://192.0.2.10:443",
        "--output",
        "json",
        "--lang",
        "ja",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["security_group_ids"], serde_json::json!(["sg-0app"]));
    let blackholes: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "NAT_ROUTE_BLACKHOLE")
        .collect();
    assert_eq!(blackholes.len(), 1, "{v:#}");
    assert_eq!(blackholes[0]["subnet_id"], "subnet-0b");
    assert!(
        !blackholes[0]["remediation"]["ja"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    let blocked: Vec<&str> = v["paths"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["verdict"] == "blocked")
        .map(|p| p["subnet_id"].as_str().unwrap())
        .collect();
    assert_eq!(blocked, vec!["subnet-0b"]);
}

#[test]
fn an_unknown_profile_is_named_not_a_missing_region() {
    let home = tempfile::tempdir().unwrap();
    let aws = home.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(aws.join("config"), "[profile dev]\nregion = eu-west-1\n").unwrap();
    let o = bin()
        .env("HOME", home.path())
        .args(["--profile", "nosuch", "status"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("AWS profile `nosuch` not found"), "{e}");
    assert!(!e.contains("no AWS Region"), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
}

#[test]
fn an_unreachable_endpoint_is_words_naming_region_and_endpoint() {
    let o = bin()
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args([
            "--max-attempts",
            "1",
            "status",
            "--region",
            "us-east-1",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(e.contains("refused the connection"), "{e}");
    assert!(
        e.contains("Region us-east-1") && e.contains("http://127.0.0.1:9"),
        "{e}"
    );
    for dump in ["DispatchFailure", "ConnectorError", "Some(", "{"] {
        assert!(!e.contains(dump), "debug dump `{dump}` in: {e}");
    }
}
