//! Issue 11: `egress-probe diagnose --what-if CHANGE`, offline on a saved snapshot (the
//! probe's `healthy.json` fixture: two public subnets with a NAT gateway each, two private
//! subnets behind them): each accepted form, bad input with a clear error and exit 2, and
//! the per-subnet answer in text (80 columns) and JSON with its exit code. Also: every
//! printed fix carries its simulation.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn snapshot() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../probe/tests/fixtures/healthy.json")
        .to_string_lossy()
        .into_owned()
}

fn run(extra: &[&str]) -> Output {
    let home = std::env::temp_dir().join("egress-probe-what-if-test-home");
    let _ = std::fs::create_dir_all(&home);
    let snap = snapshot();
    let mut args = vec![
        "diagnose",
        "--snapshot",
        snap.as_str(),
        "--subnet",
        "subnet-priv-a",
        "--subnet",
        "subnet-priv-b",
        "--target",
        "tcp://198.51.100.10:443",
    ];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_egress-probe"))
        .env_clear()
        .env("HOME", &home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .args(&args)
        .output()
        .unwrap()
}

fn json(extra: &[&str]) -> (i32, Value) {
    let mut a = extra.to_vec();
    a.extend_from_slice(&["--output", "json"]);
    let o = run(&a);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code().unwrap(), v)
}

fn effects(v: &Value) -> Vec<(String, String, String)> {
    v["what_if"]["effects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["subnet_id"].as_str().unwrap().to_string(),
                e["effect"].as_str().unwrap().to_string(),
                e["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn deleting_a_nat_gateway_breaks_the_subnet_behind_it_only() {
    let (code, v) = json(&[
        "--what-if",
        "aws ec2 delete-nat-gateway --nat-gateway-id nat-a",
    ]);
    assert_eq!(code, 1, "{v:#}");
    let e = effects(&v);
    assert!(
        e.iter()
            .any(|(s, eff, _)| s == "subnet-priv-a" && eff == "breaks"),
        "{e:?}"
    );
    assert!(!e.iter().any(|(s, _, _)| s == "subnet-priv-b"), "{e:?}");
    // Text: the same answer, within 80 columns.
    let o = run(&[
        "--what-if",
        "aws ec2 delete-nat-gateway --nat-gateway-id nat-a",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("What if"), "{text}");
    assert!(text.contains("subnet-priv-a"), "{text}");
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "over 80 columns: {line}");
    }
}

#[test]
fn each_form_is_accepted_and_a_harmless_change_exits_0() {
    let forms = [
        "aws ec2 create-route --route-table-id rtb-priv-b --destination-cidr-block 192.0.2.0/24 --nat-gateway-id nat-b",
        "aws ec2 replace-route --route-table-id rtb-priv-a --destination-cidr-block 0.0.0.0/0 --nat-gateway-id nat-b",
        "aws ec2 create-network-acl-entry --network-acl-id acl-default --ingress --rule-number 5 --protocol tcp --port-range From=22,To=22 --cidr-block 192.0.2.0/24 --rule-action deny",
        "aws ec2 authorize-security-group-egress --group-id sg-fn --protocol tcp --port 8443 --cidr 192.0.2.0/24",
        r#"{"change":"modify_vpc_attribute","vpc":"vpc-1","attribute":"enable_dns_hostnames","value":true}"#,
    ];
    for f in forms {
        let (code, v) = json(&["--what-if", f]);
        assert!(v["what_if"]["refused"].is_null(), "{f}: {v:#}");
        assert!(
            !effects(&v).iter().any(|(_, e, _)| e == "breaks"),
            "{f}: {v:#}"
        );
        // 0 unless the snapshot itself lacks something (exit 3 names it).
        assert!(code == 0 || code == 3, "{f}: exit {code}");
    }
}

#[test]
fn moving_a_subnet_onto_the_public_table_breaks_it() {
    let (code, v) = json(&[
        "--what-if",
        "aws ec2 delete-route --route-table-id rtb-priv-a --destination-cidr-block 0.0.0.0/0",
    ]);
    assert_eq!(code, 1, "{v:#}");
    assert!(
        effects(&v).iter().any(|(s, e, d)| s == "subnet-priv-a"
            && e == "breaks"
            && d.contains("NO_DEFAULT_ROUTE")),
        "{v:#}"
    );
}

#[test]
fn bad_changes_are_named_with_exit_2() {
    for (change, why) in [
        (
            "aws ec2 run-instances --image-id ami-1",
            "not a change that can be simulated",
        ),
        (
            "aws ec2 delete-route --route-table-id rtb-priv-a",
            "--destination-cidr-block",
        ),
        ("{\"change\":\"no_such\"}", "not a change as JSON"),
        ("echo hi", "not an AWS CLI command"),
    ] {
        let o = run(&["--what-if", change]);
        assert_eq!(o.status.code(), Some(2), "{change}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(why), "{change}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Parsed, but AWS would refuse it: named, exit 2, nothing simulated.
    let (code, v) = json(&[
        "--what-if",
        "aws ec2 delete-nat-gateway --nat-gateway-id nat-nosuch",
    ]);
    assert_eq!(code, 2, "{v:#}");
    assert!(
        v["what_if"]["refused"]
            .as_str()
            .unwrap()
            .contains("nat-nosuch is not in the snapshot")
    );
}

#[test]
fn printed_fixes_carry_their_simulation() {
    // The public subnet (hosting nat-a) named alone: its route fix would cut the NAT
    // gateway off; the simulation says so instead of calling it safe.
    let home = std::env::temp_dir().join("egress-probe-what-if-test-home");
    let _ = std::fs::create_dir_all(&home);
    let o = Command::new(env!("CARGO_BIN_EXE_egress-probe"))
        .env_clear()
        .env("HOME", &home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .args([
            "diagnose",
            "--snapshot",
            &snapshot(),
            "--subnet",
            "subnet-pub-a",
            "--target",
            "tcp://198.51.100.10:443",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let proofs = v["fix_proofs"].as_array().unwrap();
    let igw = proofs
        .iter()
        .find(|p| p["code"] == "LAMBDA_SUBNET_ROUTES_TO_IGW")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert!(!igw["breaks"].as_array().unwrap().is_empty(), "{igw:#}");
}

/// R25, issue 11: `--dhcp-options-id default` associates *no* DHCP options; DNS stops for
/// the whole VPC. The simulation says so for every subnet it evaluates (both private
/// subnets here, not only one), in both accepted forms, and the `dns:` target breaks.
#[test]
fn associating_default_dhcp_options_breaks_dns_in_every_subnet() {
    for change in [
        "aws ec2 associate-dhcp-options --dhcp-options-id default --vpc-id vpc-1",
        r#"{"change":"associate_dhcp_options","vpc":"vpc-1","dhcp_options":"default"}"#,
    ] {
        let (code, v) = json(&["--target", "dns:example.com", "--what-if", change]);
        assert_eq!(code, 1, "{change}: {v:#}");
        let e = effects(&v);
        for subnet in ["subnet-priv-a", "subnet-priv-b"] {
            assert!(
                e.iter().any(|(s, eff, d)| s == subnet
                    && eff == "breaks"
                    && d == &format!("DHCP_OPTIONS_NONE on {subnet}")),
                "{change}: {e:?}"
            );
        }
        let targets: Vec<&Value> = v["what_if"]["effects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["target"] == "dns:example.com" && x["effect"] == "breaks")
            .collect();
        assert_eq!(targets.len(), 2, "{change}: {v:#}");
        assert!(!e.iter().any(|(_, eff, _)| eff == "fixes"), "{e:?}");
    }
    // The text says it in words within 80 columns.
    let o = run(&[
        "--what-if",
        "aws ec2 associate-dhcp-options --dhcp-options-id default --vpc-id vpc-1",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("DHCP_OPTIONS_NONE"), "{text}");
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "over 80 columns: {line}");
    }
}

/// Issue 11: the DNS path's changes are accepted by `--what-if` like the others (R60,
/// R61), on the probe's `dns_path.json` fixture: disassociating the private zone that
/// shadows www.example.com fixes that name on both subnets; removing the wildcard entry
/// that blocks c2.malware.test fixes that name and breaks nothing.
#[test]
fn dns_changes_are_simulated_too() {
    let home = std::env::temp_dir().join("egress-probe-what-if-test-home");
    let _ = std::fs::create_dir_all(&home);
    let snap = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../probe/tests/fixtures/dns_path.json")
        .to_string_lossy()
        .into_owned();
    let cases = [
        (
            "dns:www.example.com",
            "aws route53 disassociate-vpc-from-hosted-zone --hosted-zone-id Z0EXAMPLE --vpc VPCRegion=us-east-1,VPCId=vpc-1",
        ),
        (
            "dns:c2.malware.test",
            "aws route53resolver update-firewall-domains --firewall-domain-list-id rslvr-fdl-malware --operation REMOVE --domains '*.malware.test'",
        ),
    ];
    for (target, change) in cases {
        let o = Command::new(env!("CARGO_BIN_EXE_egress-probe"))
            .env_clear()
            .env("HOME", &home)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .args([
                "diagnose",
                "--snapshot",
                &snap,
                "--subnet",
                "subnet-priv-a",
                "--subnet",
                "subnet-priv-b",
                "--target",
                target,
                "--what-if",
                change,
                "--output",
                "json",
            ])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
        assert!(v["what_if"]["refused"].is_null(), "{change}: {v:#}");
        // Every subnet of the VPC resolves through the same Resolver: both named ones
        // (and the VPC's other subnets) are fixed.
        let fixed: Vec<&str> = v["what_if"]["effects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["target"] == target && e["effect"] == "fixes")
            .filter_map(|e| e["subnet_id"].as_str())
            .collect();
        for subnet in ["subnet-priv-a", "subnet-priv-b"] {
            assert!(fixed.contains(&subnet), "{change}: {v:#}");
        }
        assert!(
            !effects(&v).iter().any(|(_, e, _)| e == "breaks"),
            "{change}: {v:#}"
        );
    }
}
