//! Issue 11's proof in the VPC lab: for each lab scenario of issue 7 (lab_scenarios.rs)
//! and of issue 10 (lab_tgw.rs, centralised egress behind a transit gateway),
//! build the broken VPC through the EC2 API (moto), let the lab build the data plane, run
//! the real probe in the function subnet and see it fail on real packets; then run the
//! real `egress-probe diagnose --output json` against the lab's EC2 API, take each printed
//! fix's command lines from the JSON (`findings[].fix_commands`, the lines the text
//! prints), run them with the real AWS CLI (`awscli` from PyPI, in `.venv`;
//! [`egress_probe_e2e::lab::cli_fix`] splits them into words, no shell), re-sync the data
//! plane, and assert that the probe is healthy in the broken subnet AND in the other
//! function subnet, and that `diagnose` no longer reports the fixed code (nor any error).
//!
//! One fix at a time, as an operator would: apply the first printed fix for the code,
//! diagnose again, and repeat while the code is still reported (two function subnets
//! that share a route table get one finding each and one printed fix each; after the
//! first, the second finding is gone, so the same `create-route` is not run twice).
//!
//! Which scenarios have a fix the CLI applies, and why the others have none, is the table
//! [`SCENARIOS`]; `every_lab_scenario_is_in_the_table` fails for a scenario of
//! lab_scenarios.rs or lab_tgw.rs missing there, and checks each row against the product's own
//! list of advice-only codes (`ADVICE_ONLY` in diagnosis/fix_changes.rs).
//!
//! Each lab has its own pid-unique namespaces, so the scenarios run concurrently (at most
//! `EGRESS_PROBE_LAB_PARALLEL`, default 3, at once); every lab is removed on drop, also
//! on failure and on panic. Needs root, iproute2 and nftables: skipped with a message
//! locally, failing under CI=true. The AWS CLI missing is a failure, never a skip.

use egress_probe::diagnosis::advice_only;
use egress_probe::model::{Finding, Report, Severity, Verdict};
use egress_probe_e2e::invoke_front::{FrontConfig, InvokeFront};
use egress_probe_e2e::lab::centralised::{self, Central, FirewallPlacement, WORKLOAD_CIDR};
use egress_probe_e2e::lab::cli_fix::{AwsCli, diagnose_json};
use egress_probe_e2e::lab::nfw::NfwData;
use egress_probe_e2e::lab::probe::ProbeRun;
use egress_probe_e2e::lab::scenarios::{self, BaseOptions, BaseVpc, NaclSpec};
use egress_probe_e2e::lab::{Lab, LabOptions, ready_or_skip};
use egress_probe_e2e::moto::MotoServer;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// What the suite does with a scenario's printed fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// The printed fix for this code is run with the AWS CLI and proven on packets, by
    /// the test named.
    Applied { test: &'static str },
    /// The finding's remediation is advice (the code is in `ADVICE_ONLY`): no command to
    /// apply.
    AdviceOnly,
    /// Nothing is broken in the scenario: no fix is printed.
    Healthy,
}

/// How long a check that must work after a fix may take (lab_scenarios' `OK_WITHIN`).
const OK_WITHIN: Duration = Duration::from_secs(10);

/// Every scenario of lab_scenarios.rs: (its test, the code it raises, the rule, plan).
const SCENARIOS: &[(&str, &str, &str, Plan)] = &[
    (
        "s01_healthy_private_subnet_through_nat",
        "-",
        "-",
        Plan::Healthy,
    ),
    (
        "s02_function_subnet_routes_to_igw_times_out",
        "LAMBDA_SUBNET_ROUTES_TO_IGW",
        "R9",
        Plan::Applied {
            test: "f02_routes_to_igw",
        },
    ),
    (
        "s03_no_default_route_times_out",
        "NO_DEFAULT_ROUTE",
        "R5",
        Plan::Applied {
            test: "f03_no_default_route",
        },
    ),
    (
        "s04_nat_deleted_route_left_is_a_blackhole",
        "NAT_GATEWAY_NOT_AVAILABLE",
        "R8",
        Plan::Applied {
            test: "f04_nat_deleted",
        },
    ),
    (
        "s05_nat_in_subnet_without_igw_route_times_out",
        "NAT_SUBNET_NO_IGW_ROUTE",
        "R12",
        Plan::Applied {
            test: "f05_nat_in_private_subnet",
        },
    ),
    (
        "s06_function_nacl_denies_inbound_ephemeral",
        "NACL_INBOUND_EPHEMERAL_DENIED",
        "R20",
        Plan::Applied {
            test: "f06_nacl_denies_ephemeral",
        },
    ),
    (
        "s06b_partial_ephemeral_range_is_intermittent",
        "NACL_INBOUND_EPHEMERAL_PARTIAL",
        "R21",
        Plan::Applied {
            test: "f06b_partial_ephemeral_range",
        },
    ),
    (
        "s07_nat_subnet_nacl_blocks_function_traffic",
        "NAT_SUBNET_NACL_DENIED",
        "R22",
        Plan::Applied {
            test: "f07_nat_subnet_nacl",
        },
    ),
    (
        "s08_security_group_without_egress_443",
        "SG_EGRESS_DENIED",
        "R18",
        Plan::Applied {
            test: "f08_sg_without_443",
        },
    ),
    (
        "s09_custom_dhcp_dns_unreachable_by_security_group",
        "CUSTOM_DNS_UNREACHABLE",
        "R25",
        Plan::Applied {
            test: "f09_custom_dns_unreachable",
        },
    ),
    (
        "s09b_dns_support_disabled_times_out",
        "VPC_DNS_SUPPORT_DISABLED",
        "R24",
        Plan::Applied {
            test: "f09b_dns_support_disabled",
        },
    ),
    (
        "s11_dual_stack_without_ipv6_default_route",
        "IPV6_NO_EGRESS_ROUTE",
        "R31",
        Plan::Applied {
            test: "f11_no_ipv6_default_route",
        },
    ),
    (
        "s11b_dual_stack_security_group_without_ipv6_egress",
        "IPV6_SG_EGRESS_DENIED",
        "R31",
        Plan::Applied {
            test: "f11b_sg_without_ipv6_egress",
        },
    ),
    (
        "s12_destination_reset_and_tls_alert_are_fast_and_not_timeouts",
        "DESTINATION_REFUSED",
        "R36",
        Plan::AdviceOnly,
    ),
    (
        "s12_destination_reset_and_tls_alert_are_fast_and_not_timeouts",
        "DESTINATION_TLS_ERROR",
        "R36",
        Plan::AdviceOnly,
    ),
    ("lab_cleans_up_its_namespaces", "-", "-", Plan::Healthy),
    // lab_tgw.rs: centralised egress behind a transit gateway (issue 10).
    (
        "t01_healthy_centralised_egress_two_azs",
        "-",
        "-",
        Plan::Healthy,
    ),
    (
        "t02_tgw_route_table_without_default_route",
        "TGW_NO_ROUTE",
        "R39",
        Plan::Applied {
            test: "g02_tgw_no_default_route",
        },
    ),
    (
        "t03_tgw_blackhole_route",
        "TGW_ROUTE_BLACKHOLE",
        "R40",
        Plan::Applied {
            test: "g03_tgw_blackhole_route",
        },
    ),
    (
        "t04_function_az_without_attachment_subnet",
        "TGW_NO_SUBNET_IN_AZ",
        "R37",
        Plan::Applied {
            test: "g04_az_without_attachment_subnet",
        },
    ),
    (
        "t05_egress_nat_subnet_without_return_route",
        "EGRESS_VPC_NO_RETURN_ROUTE",
        "R41",
        Plan::Applied {
            test: "g05_nat_subnet_without_return_route",
        },
    ),
    (
        "t06_egress_attachment_table_cannot_reach_workload",
        "TGW_RETURN_ROUTE_MISSING",
        "R41",
        Plan::Applied {
            test: "g06_return_propagation_missing",
        },
    ),
    (
        "t07_firewall_domain_allowlist_without_the_sni",
        "FIREWALL_DOMAIN_NOT_ALLOWED",
        "R51",
        Plan::AdviceOnly,
    ),
    (
        "t08_firewall_reject_rule_resets",
        "FIREWALL_RULE_REJECT",
        "R53",
        Plan::AdviceOnly,
    ),
    (
        "t09_inspection_across_azs_without_appliance_mode",
        "TGW_APPLIANCE_MODE_DISABLED",
        "R44",
        Plan::Applied {
            test: "g09_appliance_mode_disabled",
        },
    ),
    (
        "t10_nacl_on_egress_attachment_subnet",
        "TGW_ATTACHMENT_NACL_DENIED",
        "R43",
        Plan::Applied {
            test: "g10_nacl_on_egress_attachment_subnet",
        },
    ),
    (
        "t11_peering_used_as_default_route",
        "PEERING_AS_EGRESS",
        "R56",
        Plan::Applied {
            test: "g11_peering_as_default_route",
        },
    ),
    ("tgw_lab_cleans_up_its_namespaces", "-", "-", Plan::Healthy),
    (
        "ec2_interface_endpoint_reaches_the_api_when_egress_is_broken",
        "LAMBDA_SUBNET_ROUTES_TO_IGW",
        "R9",
        // The same fault as s02 (proven by f02); the endpoint is the scenario's subject.
        Plan::Applied {
            test: "f02_routes_to_igw",
        },
    ),
];

#[test]
fn every_lab_scenario_is_in_the_table() {
    let root = egress_probe_e2e::moto::workspace_root();
    let src = ["lab_scenarios.rs", "lab_tgw.rs"]
        .iter()
        .map(|f| std::fs::read_to_string(root.join("tests/tests").join(f)).expect(f))
        .collect::<Vec<_>>()
        .join("\n");
    let own = include_str!("lab_fixes.rs");
    // The names of the scenario tests: each `async fn` right after `#[tokio::test(…)]`.
    let tests: Vec<&str> = src
        .split("#[tokio::test(")
        .skip(1)
        .filter_map(|rest| rest.split_once("async fn "))
        .filter_map(|(_, name)| name.split('(').next())
        .collect();
    assert!(tests.len() >= 27, "{tests:?}");
    for t in &tests {
        assert!(
            SCENARIOS.iter().any(|(s, ..)| s == t),
            "lab scenario {t} is not in lab_fixes.rs's table: say whether its fix is applied"
        );
    }
    for (scenario, code, rule, plan) in SCENARIOS {
        assert!(tests.contains(scenario), "{scenario} is not a lab scenario");
        match plan {
            Plan::Applied { test } => {
                assert_eq!(advice_only(code), None, "{scenario}: {code} is advice-only");
                assert!(
                    own.contains(&format!("async fn {test}(")),
                    "{scenario}: no test {test} applies its fix"
                );
                assert!(rule.starts_with('R'), "{scenario}: cite the rule");
            }
            Plan::AdviceOnly => {
                assert!(
                    advice_only(code).is_some(),
                    "{scenario}: {code} is not advice-only: apply its fix"
                );
            }
            Plan::Healthy => assert_eq!(*code, "-"),
        }
    }
}

/// At most this many labs at once (each is a dozen namespaces and a moto server).
fn parallel() -> usize {
    std::env::var("EGRESS_PROBE_LAB_PARALLEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(3)
}

static SLOTS: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

/// One running lab's slot; released on drop (also when the test panics).
struct Slot;

impl Slot {
    fn acquire() -> Slot {
        let mut used = SLOTS.lock().unwrap_or_else(|p| p.into_inner());
        while *used >= parallel() {
            used = FREED.wait(used).unwrap_or_else(|p| p.into_inner());
        }
        *used += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut used = SLOTS.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(1);
        FREED.notify_one();
    }
}

/// The installer binary (`egress-probe`), built once for the process.
fn egress_probe_bin() -> PathBuf {
    egress_probe_e2e::runtime_api::workspace_binary("egress-probe").expect("egress-probe binary")
}

struct Env {
    lab: Lab,
    base: BaseVpc,
    // Dropped last: the lab's API bridge points at it.
    moto: MotoServer,
    _slot: Slot,
}

async fn setup(dual_stack: bool) -> Env {
    let slot = tokio::task::spawn_blocking(Slot::acquire)
        .await
        .expect("slot");
    let moto = MotoServer::start().expect("moto");
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
    // Two function subnets: the fix must heal the broken one and leave the other healthy.
    let base = scenarios::base(
        &ec2,
        &BaseOptions {
            dual_stack,
            function_subnets: 2,
        },
    )
    .await
    .expect("base VPC");
    let lab = Lab::start(&moto, &base.vpc_id, LabOptions::discover().expect("lab"))
        .await
        .expect("lab");
    Env {
        lab,
        base,
        moto,
        _slot: slot,
    }
}

/// What a scenario checks: the diagnose targets (IP literals: the operator's machine does
/// not resolve lab names) and the probe's targets (inside the lab).
struct Check {
    code: &'static str,
    diagnose_targets: &'static [&'static str],
    probe_targets: &'static str,
}

const V4: Check = Check {
    code: "",
    diagnose_targets: &["tcp://203.0.113.10:443", "tcp://203.0.113.10:80"],
    probe_targets: "tcp://203.0.113.10:443 tcp://203.0.113.10:80 https://www.lab.example/",
};

/// A lab whose printed fixes are proven: where `diagnose` and the AWS CLI point, which
/// function subnets and security group the probe uses. The base VPC (`Env`) and the
/// centralised egress (`TgwEnv`) implement it.
trait Site {
    fn lab(&self) -> &Lab;
    fn lab_mut(&mut self) -> &mut Lab;
    /// `diagnose`'s endpoint (moto, or the API front that adds Network Firewall).
    fn diagnose_endpoint(&self) -> String;
    /// The AWS CLI's endpoint: the lab's EC2 API (moto).
    fn cli_endpoint(&self) -> String;
    /// The function subnets, the broken one first.
    fn function_subnets(&self) -> Vec<String>;
    fn security_group(&self) -> String;

    fn probe(&self, subnet: &str, targets: &str) -> Report {
        let run = ProbeRun {
            targets: targets.into(),
            diagnose: Some("never".into()),
            ..Default::default()
        };
        self.lab()
            .run_probe_once(subnet, &serde_json::json!({}), &run)
            .expect("probe report")
    }

    /// The probe where it must be healthy: each check gets `OK_WITHIN` (as lab_scenarios'
    /// must-work connections), so a loaded machine or a SYN retransmitted while the
    /// re-synced data plane settles is not read as a failed fix; a fix that does not work
    /// still times out.
    fn probe_must_work(&self, subnet: &str, targets: &str) -> Report {
        let run = ProbeRun {
            targets: targets.into(),
            diagnose: Some("never".into()),
            dns_timeout: OK_WITHIN,
            connect_timeout: OK_WITHIN,
            https_timeout: OK_WITHIN,
            invocation_timeout: OK_WITHIN * 4,
        };
        self.lab()
            .run_probe_once(subnet, &serde_json::json!({}), &run)
            .expect("probe report")
    }
}

impl Site for Env {
    fn lab(&self) -> &Lab {
        &self.lab
    }
    fn lab_mut(&mut self) -> &mut Lab {
        &mut self.lab
    }
    fn diagnose_endpoint(&self) -> String {
        self.moto.endpoint.clone()
    }
    fn cli_endpoint(&self) -> String {
        self.moto.endpoint.clone()
    }
    fn function_subnets(&self) -> Vec<String> {
        self.base.function_subnets.clone()
    }
    fn security_group(&self) -> String {
        self.base.sg.clone()
    }
}

impl Env {
    fn ec2(&self) -> &aws_sdk_ec2::Client {
        self.lab.ec2()
    }

    fn fsub(&self) -> String {
        self.base.function_subnets[0].clone()
    }

    async fn prove(&mut self, check: &Check) -> Vec<String> {
        prove(self, check).await
    }

    async fn apply_printed_fixes(&mut self, check: &Check) -> Vec<String> {
        apply_printed_fixes(self, check).await
    }
}

/// The real `egress-probe diagnose` for the site's function subnets and group.
async fn diagnose(site: &impl Site, check: &Check) -> (i32, serde_json::Value, Vec<Finding>) {
    let mut args: Vec<String> = Vec::new();
    for s in site.function_subnets() {
        args.extend(["--subnet".to_string(), s]);
    }
    args.extend(["--security-group".to_string(), site.security_group()]);
    for t in check.diagnose_targets {
        args.extend(["--target".to_string(), t.to_string()]);
    }
    let bin = tokio::task::spawn_blocking(egress_probe_bin)
        .await
        .expect("binary");
    let (code, json) = diagnose_json(&bin, &site.diagnose_endpoint(), &args)
        .await
        .expect("egress-probe diagnose");
    let findings: Vec<Finding> =
        serde_json::from_value(json["findings"].clone()).expect("findings in the JSON");
    (code, json, findings)
}

/// The proof: the probe fails in the broken subnet; each printed fix for `check.code` is
/// run by the AWS CLI (one at a time, re-diagnosing between); after a re-sync the probe is
/// healthy in every function subnet and `diagnose` reports no error. Returns the command
/// lines run.
async fn prove(site: &mut impl Site, check: &Check) -> Vec<String> {
    let broken = site.function_subnets()[0].clone();
    let before = site.probe(&broken, check.probe_targets);
    assert_ne!(
        before.verdict,
        Verdict::Healthy,
        "{}: the fault must show on real packets first: {:#?}",
        check.code,
        before.observations
    );
    apply_printed_fixes(site, check).await
}

/// Runs the printed fixes for `check.code` and asserts everything healthy after.
async fn apply_printed_fixes(site: &mut impl Site, check: &Check) -> Vec<String> {
    let mut cli = AwsCli::new(&site.cli_endpoint()).expect("the AWS CLI");
    let mut applied: Vec<String> = Vec::new();
    for round in 0..4 {
        let (_, json, findings) = diagnose(site, check).await;
        let reported: Vec<(usize, &Finding)> = findings
            .iter()
            .enumerate()
            .filter(|(_, f)| f.code == check.code)
            .collect();
        if reported.is_empty() {
            assert!(round > 0, "{} not reported: {findings:#?}", check.code);
            break;
        }
        // Every finding of the code (one per broken subnet) prints a fix the simulation
        // proved: it clears the finding and breaks nothing.
        for (index, f) in &reported {
            assert!(
                !f.fix_commands.is_empty(),
                "{}: no fix command printed: {f:#?}",
                check.code
            );
            let proof = json["fix_proofs"]
                .as_array()
                .and_then(|ps| {
                    ps.iter()
                        .find(|p| p["finding"].as_u64() == Some(*index as u64))
                })
                .unwrap_or_else(|| panic!("{}: no fix proof for {f:#?} in {json:#}", check.code));
            assert_eq!(proof["clears"], true, "{}: {proof:#}", check.code);
            assert_eq!(
                proof["breaks"],
                serde_json::json!([]),
                "{}: {proof:#}",
                check.code
            );
        }
        let f = reported[0].1;
        let mut vars = BTreeMap::new();
        for line in &f.fix_commands {
            if let Err(e) = cli.run_line(line, &mut vars).await {
                panic!("{}: printed fix line failed: {e:#}", check.code);
            }
            applied.push(line.clone());
        }
    }
    assert!(!applied.is_empty(), "{}: nothing applied", check.code);
    site.lab_mut().sync().await.expect("re-sync after the fix");
    let (code, json, findings) = diagnose(site, check).await;
    assert!(
        !findings.iter().any(|f| f.code == check.code),
        "{} still reported after {applied:#?}",
        check.code
    );
    let errors: Vec<&str> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.code.as_str())
        .collect();
    assert!(
        errors.is_empty(),
        "{}: errors after the fix {errors:?} (exit {code}): {json:#}",
        check.code
    );
    for subnet in site.function_subnets() {
        let after = site.probe_must_work(&subnet, check.probe_targets);
        assert_eq!(
            after.verdict,
            Verdict::Healthy,
            "{} fixed by {applied:#?}: probe in {subnet}: {:#?}\n{}",
            check.code,
            after.observations,
            site.lab().network_state(&subnet)
        );
    }
    eprintln!(
        "{}: applied with {} ({} AWS CLI calls):\n  {}",
        check.code,
        cli.exe().display(),
        cli.calls.len(),
        applied.join("\n  ")
    );
    applied
}

macro_rules! lab_test {
    ($name:ident) => {
        if !ready_or_skip(stringify!($name)) {
            return;
        }
    };
}

/// R9: the function subnets' default route to the IGW (scenario s02).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f02_routes_to_igw() {
    lab_test!(f02_routes_to_igw);
    let mut env = setup(false).await;
    env.base.route_functions_to_igw(env.ec2()).await.unwrap();
    env.lab.sync().await.unwrap();
    env.prove(&Check {
        code: "LAMBDA_SUBNET_ROUTES_TO_IGW",
        ..V4
    })
    .await;
}

/// R5: no default route in the function subnets' table (s03).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f03_no_default_route() {
    lab_test!(f03_no_default_route);
    let mut env = setup(false).await;
    env.base
        .delete_function_default_route(env.ec2())
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    env.prove(&Check {
        code: "NO_DEFAULT_ROUTE",
        ..V4
    })
    .await;
}

/// R8: the NAT gateway deleted, its route left as a blackhole (s04).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f04_nat_deleted() {
    lab_test!(f04_nat_deleted);
    let mut env = setup(false).await;
    env.base.delete_nat(env.ec2()).await.unwrap();
    env.lab.sync().await.unwrap();
    env.prove(&Check {
        code: "NAT_GATEWAY_NOT_AVAILABLE",
        ..V4
    })
    .await;
}

/// R12: the function subnets' NAT gateway sits in a subnet without a route to the IGW
/// (s05).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f05_nat_in_private_subnet() {
    lab_test!(f05_nat_in_private_subnet);
    let mut env = setup(false).await;
    env.base
        .move_nat_to_private_subnet(env.ec2())
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    env.prove(&Check {
        code: "NAT_SUBNET_NO_IGW_ROUTE",
        ..V4
    })
    .await;
}

/// R20: the function subnet's NACL denies the inbound ephemeral range (s06).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f06_nacl_denies_ephemeral() {
    lab_test!(f06_nacl_denies_ephemeral);
    let mut env = setup(false).await;
    let fsub = env.fsub();
    env.base
        .set_nacl(
            env.ec2(),
            &fsub,
            &[
                NaclSpec::allow_all(100, true),
                NaclSpec {
                    rule: 100,
                    egress: false,
                    protocol: "6",
                    allow: false,
                    cidr: "0.0.0.0/0",
                    ports: Some((1024, 65535)),
                },
                NaclSpec::allow_all(200, false),
            ],
        )
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    env.prove(&Check {
        code: "NACL_INBOUND_EPHEMERAL_DENIED",
        ..V4
    })
    .await;
}

/// R21: the inbound rule allows only part of the ephemeral range (s06b): intermittent, so
/// the failure is shown on 16 connections from spread source ports, and after the fix
/// all 16 pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f06b_partial_ephemeral_range() {
    lab_test!(f06b_partial_ephemeral_range);
    let mut env = setup(false).await;
    let fsub = env.fsub();
    env.base
        .set_nacl(
            env.ec2(),
            &fsub,
            &[
                NaclSpec::allow_all(100, true),
                NaclSpec {
                    rule: 100,
                    egress: false,
                    protocol: "6",
                    allow: true,
                    cidr: "0.0.0.0/0",
                    ports: Some((1024, 45000)),
                },
            ],
        )
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    let spread = |env: &Env, within: Duration| {
        let mut timeouts = 0;
        for _ in 0..16 {
            let outcome = env
                .lab
                .tcp_connect_with(&fsub, "203.0.113.10:80", within, true)
                .expect("tcp-connect");
            match outcome.as_str() {
                "ok" => {}
                "timeout" => timeouts += 1,
                other => panic!("unexpected outcome {other}"),
            }
        }
        timeouts
    };
    let before = spread(&env, Duration::from_millis(700));
    assert!(
        before > 0,
        "part of the ephemeral range must be dropped first"
    );
    env.apply_printed_fixes(&Check {
        code: "NACL_INBOUND_EPHEMERAL_PARTIAL",
        ..V4
    })
    .await;
    // Connections that must work get OK_WITHIN, as everywhere in the lab.
    assert_eq!(
        spread(&env, OK_WITHIN),
        0,
        "every source port passes after the fix"
    );
}

/// R22: the NAT subnet's NACL denies the VPC's range inbound (s07).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f07_nat_subnet_nacl() {
    lab_test!(f07_nat_subnet_nacl);
    let mut env = setup(false).await;
    let public = env.base.public_subnet.clone();
    env.base
        .set_nacl(
            env.ec2(),
            &public,
            &[
                NaclSpec::allow_all(100, true),
                NaclSpec {
                    rule: 100,
                    egress: false,
                    protocol: "-1",
                    allow: false,
                    cidr: "10.0.0.0/16",
                    ports: None,
                },
                NaclSpec::allow_all(200, false),
            ],
        )
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    env.prove(&Check {
        code: "NAT_SUBNET_NACL_DENIED",
        ..V4
    })
    .await;
}

/// R18: the security group allows only port 80 out (s08).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f08_sg_without_443() {
    lab_test!(f08_sg_without_443);
    let mut env = setup(false).await;
    env.base
        .set_sg_egress(env.ec2(), &[("tcp", 80, 80, "0.0.0.0/0")])
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    env.prove(&Check {
        code: "SG_EGRESS_DENIED",
        ..V4
    })
    .await;
}

/// R25: custom DHCP DNS servers the security group does not let the function reach
/// (s09).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f09_custom_dns_unreachable() {
    lab_test!(f09_custom_dns_unreachable);
    let mut env = setup(false).await;
    env.base
        .set_dhcp_dns(env.ec2(), &["10.0.0.53"])
        .await
        .unwrap();
    env.base
        .set_sg_egress(env.ec2(), &[("tcp", 443, 443, "0.0.0.0/0")])
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    env.prove(&Check {
        code: "CUSTOM_DNS_UNREACHABLE",
        diagnose_targets: &["dns:www.lab.example", "tcp://203.0.113.10:443"],
        probe_targets: "dns:www.lab.example tcp://203.0.113.10:443",
    })
    .await;
}

/// R24: enableDnsSupport off (s09b).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f09b_dns_support_disabled() {
    lab_test!(f09b_dns_support_disabled);
    let mut env = setup(false).await;
    env.base.set_dns_support(env.ec2(), false).await.unwrap();
    env.lab.sync().await.unwrap();
    env.prove(&Check {
        code: "VPC_DNS_SUPPORT_DISABLED",
        diagnose_targets: &["dns:www.lab.example", "tcp://203.0.113.10:443"],
        probe_targets: "dns:www.lab.example tcp://203.0.113.10:443",
    })
    .await;
}

const V6: Check = Check {
    code: "",
    diagnose_targets: &["tcp://203.0.113.10:443", "tcp://[2001:db8:113::10]:443"],
    probe_targets: "tcp://www.lab.example:443",
};

/// R31: a dual-stack subnet without `::/0` (s11).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f11_no_ipv6_default_route() {
    lab_test!(f11_no_ipv6_default_route);
    let mut env = setup(true).await;
    env.base
        .delete_function_ipv6_default_route(env.ec2())
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    env.prove(&Check {
        code: "IPV6_NO_EGRESS_ROUTE",
        ..V6
    })
    .await;
}

/// R31: the security group allows IPv4 out only (s11b).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f11b_sg_without_ipv6_egress() {
    lab_test!(f11b_sg_without_ipv6_egress);
    let mut env = setup(true).await;
    env.base
        .set_sg_egress(env.ec2(), &[("-1", -1, -1, "0.0.0.0/0")])
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    env.prove(&Check {
        code: "IPV6_SG_EGRESS_DENIED",
        ..V6
    })
    .await;
}

// Centralised egress (lab_tgw.rs's scenarios): the same proof through a transit gateway.

struct TgwEnv {
    _front: InvokeFront,
    lab: Lab,
    c: Central,
    /// The function subnet (AZ index) the fault breaks.
    broken: usize,
    _work: tempfile::TempDir,
    // Dropped last: the lab's API bridge and the front point at it.
    moto: MotoServer,
    diagnose_endpoint: String,
    _slot: Slot,
}

impl Site for TgwEnv {
    fn lab(&self) -> &Lab {
        &self.lab
    }
    fn lab_mut(&mut self) -> &mut Lab {
        &mut self.lab
    }
    fn diagnose_endpoint(&self) -> String {
        self.diagnose_endpoint.clone()
    }
    fn cli_endpoint(&self) -> String {
        self.moto.endpoint.clone()
    }
    fn function_subnets(&self) -> Vec<String> {
        let mut v = self.c.function_subnets.clone();
        v.swap(0, self.broken);
        v
    }
    fn security_group(&self) -> String {
        self.c.sg.clone()
    }
}

const TGW: Check = Check {
    code: "",
    diagnose_targets: &["tcp://203.0.113.14:443"],
    probe_targets: "tcp://203.0.113.14:443 https://v4.lab.example/",
};

async fn tgw_setup(placement: FirewallPlacement) -> TgwEnv {
    let slot = tokio::task::spawn_blocking(Slot::acquire)
        .await
        .expect("slot");
    let moto = MotoServer::start().expect("moto");
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
    let mut c = centralised::build(&ec2, placement)
        .await
        .expect("centralised egress");
    let data = if placement == FirewallPlacement::None {
        NfwData::default()
    } else {
        c.allow_lab_policy()
    };
    let mut lab = Lab::start_multi(&moto, &c.vpc_ids(), LabOptions::discover().expect("lab"))
        .await
        .expect("lab");
    lab.nfw().set(data);
    lab.sync().await.expect("sync with the firewall");
    let work = tempfile::tempdir().expect("tempdir");
    // The API front: EC2 from moto, Network Firewall from the lab's stand-in (what
    // `diagnose` reads; the AWS CLI changes EC2 in moto directly).
    let front = InvokeFront::start(FrontConfig {
        moto_endpoint: moto.endpoint.clone(),
        sdk_config: moto.sdk_config().await,
        probe_exe: work.path().join("unused"),
        lab_runtime_exe: work.path().join("unused"),
        work_dir: work.path().join("front"),
        placement: std::sync::Arc::new(|_: &str| None),
        nfw: lab.nfw().clone(),
    })
    .await
    .expect("front");
    TgwEnv {
        diagnose_endpoint: front.endpoint(),
        _front: front,
        lab,
        c,
        broken: 0,
        _work: work,
        moto,
        _slot: slot,
    }
}

impl TgwEnv {
    fn ec2(&self) -> &aws_sdk_ec2::Client {
        self.lab.ec2()
    }
}

/// R39: the spoke table without `0.0.0.0/0` (t02).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g02_tgw_no_default_route() {
    lab_test!(g02_tgw_no_default_route);
    let mut env = tgw_setup(FirewallPlacement::None).await;
    env.c.delete_spoke_default_route(env.ec2()).await.unwrap();
    env.lab.sync().await.unwrap();
    // R39: no route names the egress VPC's attachment; the reader finds it among the
    // gateway's VPC attachments whose VPC has an internet gateway, and the fix names it.
    let applied = prove(
        &mut env,
        &Check {
            code: "TGW_NO_ROUTE",
            ..TGW
        },
    )
    .await;
    assert!(
        applied
            .iter()
            .any(|l| l.contains("create-transit-gateway-route") && !l.contains('<')),
        "{applied:#?}"
    );
}

/// R40: a blackhole route in the spoke table is the longest match (t03).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g03_tgw_blackhole_route() {
    lab_test!(g03_tgw_blackhole_route);
    let mut env = tgw_setup(FirewallPlacement::None).await;
    env.c
        .blackhole_in_spoke_table(env.ec2(), "203.0.113.0/28")
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    prove(
        &mut env,
        &Check {
            code: "TGW_ROUTE_BLACKHOLE",
            ..TGW
        },
    )
    .await;
}

/// R37: the workload attachment has no subnet in the second function subnet's AZ (t04).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g04_az_without_attachment_subnet() {
    lab_test!(g04_az_without_attachment_subnet);
    let mut env = tgw_setup(FirewallPlacement::None).await;
    env.c
        .remove_workload_attachment_az(env.ec2(), 1)
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    env.broken = 1;
    prove(
        &mut env,
        &Check {
            code: "TGW_NO_SUBNET_IN_AZ",
            ..TGW
        },
    )
    .await;
}

/// R41: the egress VPC's NAT subnets have no route back to the workload (t05).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g05_nat_subnet_without_return_route() {
    lab_test!(g05_nat_subnet_without_return_route);
    let mut env = tgw_setup(FirewallPlacement::None).await;
    env.c
        .delete_nat_subnet_return_routes(env.ec2())
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    prove(
        &mut env,
        &Check {
            code: "EGRESS_VPC_NO_RETURN_ROUTE",
            ..TGW
        },
    )
    .await;
}

/// R41: the egress attachment's table lost the workload's propagated route (t06).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g06_return_propagation_missing() {
    lab_test!(g06_return_propagation_missing);
    let mut env = tgw_setup(FirewallPlacement::None).await;
    env.c.disable_return_propagation(env.ec2()).await.unwrap();
    env.lab.sync().await.unwrap();
    prove(
        &mut env,
        &Check {
            code: "TGW_RETURN_ROUTE_MISSING",
            ..TGW
        },
    )
    .await;
}

/// R44: inspection across AZs without appliance mode (t09): AZ b's flows break.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g09_appliance_mode_disabled() {
    lab_test!(g09_appliance_mode_disabled);
    let mut env = tgw_setup(FirewallPlacement::InspectionVpc).await;
    env.c
        .set_firewall_appliance_mode(env.ec2(), false)
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    env.broken = 1;
    prove(
        &mut env,
        &Check {
            code: "TGW_APPLIANCE_MODE_DISABLED",
            ..TGW
        },
    )
    .await;
}

/// R43: the egress attachment subnets' NACL allows only the spoke range out (t10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g10_nacl_on_egress_attachment_subnet() {
    lab_test!(g10_nacl_on_egress_attachment_subnet);
    let mut env = tgw_setup(FirewallPlacement::None).await;
    env.c
        .nacl_on_egress_attachment_subnets(
            env.ec2(),
            &[
                NaclSpec::allow_all(100, false),
                NaclSpec {
                    rule: 100,
                    egress: true,
                    protocol: "-1",
                    allow: true,
                    cidr: WORKLOAD_CIDR,
                    ports: None,
                },
            ],
        )
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    prove(
        &mut env,
        &Check {
            code: "TGW_ATTACHMENT_NACL_DENIED",
            ..TGW
        },
    )
    .await;
}

/// R56: the function subnets' default route goes to a peering connection (t11).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g11_peering_as_default_route() {
    lab_test!(g11_peering_as_default_route);
    let mut env = tgw_setup(FirewallPlacement::None).await;
    env.c.default_route_via_peering(env.ec2()).await.unwrap();
    env.lab.sync().await.unwrap();
    // R56 + R37: the workload VPC is attached to the transit gateway; the fix routes the
    // internet there instead of the peering connection.
    let applied = prove(
        &mut env,
        &Check {
            code: "PEERING_AS_EGRESS",
            ..TGW
        },
    )
    .await;
    assert!(
        applied
            .iter()
            .any(|l| l.contains("replace-route") && l.contains("--transit-gateway-id")),
        "{applied:#?}"
    );
}
