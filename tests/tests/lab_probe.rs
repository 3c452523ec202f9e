//! The real probe binary (`egress-probe-lambda --once`) inside the VPC lab: the observed
//! failure class per scenario, from real packets through the emulated VPC.
//!
//! Needs root, iproute2 and nftables: skipped with a message locally, failing under CI=true.

use egress_probe::model::{Report, Status, Verdict};
use egress_probe_e2e::lab::probe::ProbeRun;
use egress_probe_e2e::lab::scenarios::{self, BaseOptions, BaseVpc};
use egress_probe_e2e::lab::{Lab, LabOptions, ready_or_skip};
use egress_probe_e2e::moto::MotoServer;

struct Env {
    lab: Lab,
    base: BaseVpc,
    _moto: MotoServer,
}

async fn setup(opts: BaseOptions) -> Env {
    let moto = MotoServer::start().expect("moto");
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
    let base = scenarios::base(&ec2, &opts).await.expect("base VPC");
    let options = LabOptions::discover().expect("lab-services");
    let lab = Lab::start(&moto, &base.vpc_id, options).await.expect("lab");
    Env {
        lab,
        base,
        _moto: moto,
    }
}

/// 1.5 s per check; self-diagnosis off (these tests assert the observations; the snapshot
/// reader is exercised elsewhere).
fn run(targets: &str) -> ProbeRun {
    ProbeRun {
        targets: targets.into(),
        diagnose: Some("never".into()),
        ..Default::default()
    }
}

impl Env {
    fn probe(&self, targets: &str) -> Report {
        self.lab
            .run_probe_once(
                &self.base.function_subnets[0],
                &serde_json::json!({}),
                &run(targets),
            )
            .expect("probe report")
    }
}

fn is_v6(o: &egress_probe::model::Observation) -> bool {
    matches!(o.address, Some(std::net::IpAddr::V6(_)))
}

fn status_of(report: &Report, target: &str) -> Vec<Status> {
    report
        .observations
        .iter()
        .filter(|o| o.target == target)
        .map(|o| o.status)
        .collect()
}

macro_rules! lab_test {
    ($name:ident) => {
        if !ready_or_skip(stringify!($name)) {
            return;
        }
    };
}

const TARGETS: &str = "dns:www.lab.example tcp://www.lab.example:80 https://www.lab.example/";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_healthy_subnet_is_healthy() {
    lab_test!(probe_healthy_subnet_is_healthy);
    let env = setup(BaseOptions::default()).await;
    // An IPv4-only subnet and IPv4-only names (dual-stack names: the next test).
    let report = env.probe("dns:v4.lab.example tcp://v4.lab.example:80 https://v4.lab.example/");
    assert_eq!(report.observations.len(), 3, "{:#?}", report.observations);
    for o in &report.observations {
        assert_eq!(
            o.status,
            Status::Ok,
            "{}: {:?} {:?}",
            o.id,
            o.status,
            o.detail
        );
    }
    assert_eq!(
        report.verdict,
        Verdict::Healthy,
        "{:#?}",
        report.observations
    );
    assert_eq!(
        report.identity.subnet_id.as_deref(),
        Some(env.base.function_subnets[0].as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_ipv4_only_subnet_sees_dual_stack_names_ipv6_as_unreachable() {
    lab_test!(probe_ipv4_only_subnet_sees_dual_stack_names_ipv6_as_unreachable);
    let env = setup(BaseOptions::default()).await;
    let report = env.probe(TARGETS);
    for o in report
        .observations
        .iter()
        .filter(|o| o.kind != egress_probe::model::CheckKind::Dns)
    {
        if is_v6(o) {
            // The ENI has no IPv6 address or route, as a Lambda ENI in an IPv4-only subnet:
            // the kernel answers ENETUNREACH at once — no packet leaves, nothing times out.
            assert_eq!(o.status, Status::Unreachable, "{}: {:?}", o.id, o.detail);
            assert!(
                o.phases.total_ms < 500.0,
                "{}: immediate, not a timeout",
                o.id
            );
        } else {
            assert_eq!(
                o.status,
                Status::Ok,
                "{}: {:?} {:?}",
                o.id,
                o.status,
                o.detail
            );
        }
    }
    // No IPv6 in this environment is a choice, not a fault: IPv4 reaches every target, so
    // the verdict stays healthy (R31); the IPv6 observations stay in the report.
    assert_eq!(
        report.verdict,
        Verdict::Healthy,
        "{:#?}",
        report.observations
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_public_subnet_times_out_with_etimedout_or_bound() {
    lab_test!(probe_public_subnet_times_out_with_etimedout_or_bound);
    let mut env = setup(BaseOptions::default()).await;
    env.base
        .route_functions_to_igw(env.lab.ec2())
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    let report = env.probe(TARGETS);
    assert_eq!(status_of(&report, "dns:www.lab.example"), vec![Status::Ok]);
    for o in report
        .observations
        .iter()
        .filter(|o| o.target != "dns:www.lab.example" && !is_v6(o))
    {
        assert!(
            o.status.is_timeout_like(),
            "{}: {:?} {:?}",
            o.id,
            o.status,
            o.detail
        );
        // The probe's own bound, not an error invented by the lab.
        assert!(
            o.phases.total_ms >= o.timeout_ms as f64 * 0.95,
            "{}: {} ms < its {} ms timeout",
            o.id,
            o.phases.total_ms,
            o.timeout_ms
        );
    }
    assert_eq!(report.verdict, Verdict::Broken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_dns_support_disabled_is_a_dns_timeout() {
    lab_test!(probe_dns_support_disabled_is_a_dns_timeout);
    let mut env = setup(BaseOptions::default()).await;
    env.base
        .set_dns_support(env.lab.ec2(), false)
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    let report = env.probe("dns:www.lab.example tcp://203.0.113.10:80");
    assert_eq!(
        status_of(&report, "dns:www.lab.example"),
        vec![Status::DnsTimeout]
    );
    assert_eq!(
        status_of(&report, "tcp://203.0.113.10:80"),
        vec![Status::Ok]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_blames_destination_for_reset_and_tls_alert() {
    lab_test!(probe_blames_destination_for_reset_and_tls_alert);
    let env = setup(BaseOptions::default()).await;
    let report =
        env.probe("tcp://rst.lab.example:443 https://alert.lab.example/ https://www.lab.example/");
    let v4 = |t: &str| {
        report
            .observations
            .iter()
            .find(|o| o.target == t && !is_v6(o))
            .map(|o| o.status)
    };
    assert_eq!(v4("tcp://rst.lab.example:443"), Some(Status::Refused));
    assert_eq!(v4("https://alert.lab.example/"), Some(Status::TlsAlert));
    assert_eq!(v4("https://www.lab.example/"), Some(Status::Ok));
    for o in report.observations.iter().filter(|o| !is_v6(o)) {
        assert!(
            o.status.proves_path(),
            "{}: {:?} proves the path (R36)",
            o.id,
            o.status
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_dual_stack_without_ipv6_route_fails_ipv6_only() {
    lab_test!(probe_dual_stack_without_ipv6_route_fails_ipv6_only);
    let mut env = setup(BaseOptions {
        dual_stack: true,
        ..Default::default()
    })
    .await;
    env.base
        .delete_function_ipv6_default_route(env.lab.ec2())
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    let report = env.probe("tcp://www.lab.example:443");
    let mut v4 = None;
    let mut v6 = None;
    for o in &report.observations {
        match o.address {
            Some(std::net::IpAddr::V4(_)) => v4 = Some(o.status),
            Some(std::net::IpAddr::V6(_)) => v6 = Some(o.status),
            None => {}
        }
    }
    assert_eq!(v4, Some(Status::Ok), "{:#?}", report.observations);
    assert_eq!(v6, Some(Status::Timeout), "{:#?}", report.observations);
}
