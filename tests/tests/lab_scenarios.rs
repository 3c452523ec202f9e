//! The VPC lab scenarios of issue 7: each builds a VPC through the EC2 API (moto), lets the
//! lab build the data plane from it, injects the fault as a configuration change, and
//! asserts what a client inside the function subnet observes — real packets, real timeouts —
//! then runs the real probe there and asserts its failure class and the finding code that
//! the diagnosis (snapshot read from moto from outside, as `egress-probe run` does) names.
//!
//! Needs root, iproute2 and nftables: skipped with a message locally, failing under CI=true.

use egress_probe::diagnosis::{self, Subject};
use egress_probe::model::{
    AnalysisStatus, Confirmation, Finding, Report, Severity, Status, Verdict,
};
use egress_probe::snapshot::{self, Clients, Scope};
use egress_probe_e2e::lab::probe::ProbeRun;
use egress_probe_e2e::lab::scenarios::{self, BaseOptions, BaseVpc, NaclSpec};
use egress_probe_e2e::lab::{Lab, LabOptions, ready_or_skip};
use egress_probe_e2e::moto::MotoServer;
use std::process::Output;
use std::time::{Duration, Instant};

/// Check timeout used throughout: short, so silent drops keep the suite fast.
const CHECK: Duration = Duration::from_millis(1500);
/// The time a connection that must succeed is given (see `Env::tcp_ok`).
const OK_WITHIN: Duration = Duration::from_secs(10);

struct Env {
    lab: Lab,
    base: BaseVpc,
    // Dropped last: the lab's API bridge points at it.
    moto: MotoServer,
}

fn options() -> LabOptions {
    // Built from this worktree and copied: the shared target dir may hold another build.
    LabOptions::discover().expect("lab-services")
}

async fn setup(opts: BaseOptions) -> Env {
    let moto = MotoServer::start().expect("moto");
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
    let base = scenarios::base(&ec2, &opts).await.expect("base VPC");
    let lab = Lab::start(&moto, &base.vpc_id, options())
        .await
        .expect("lab");
    Env { lab, base, moto }
}

impl Env {
    fn fsub(&self) -> &str {
        &self.base.function_subnets[0]
    }

    fn ec2(&self) -> &aws_sdk_ec2::Client {
        self.lab.ec2()
    }

    fn exec(&self, program: &str, args: &[&str]) -> Output {
        self.lab
            .exec_in(self.fsub(), program, args)
            .expect("exec in lab")
    }

    /// `dig` in the function subnet with its own resolv.conf: (exit code, short answer).
    /// One try of one second: for a query that must go unanswered.
    fn dig(&self, name: &str, qtype: &str) -> (i32, String) {
        self.dig_with(name, qtype, &["+time=1", "+tries=1"])
    }

    /// A query that must be answered: three tries of three seconds, so that a loaded
    /// machine (one lost datagram) does not fail a healthy path.
    fn dig_ok(&self, name: &str, qtype: &str) -> (i32, String) {
        self.dig_with(name, qtype, &["+time=3", "+tries=3"])
    }

    fn dig_with(&self, name: &str, qtype: &str, wait: &[&str]) -> (i32, String) {
        let mut args = wait.to_vec();
        args.extend_from_slice(&["+short", name, qtype]);
        let out = self.exec("dig", &args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )
    }

    /// `curl` in the function subnet: (exit code, body). 0 ok, 28 timeout, 7 refused,
    /// 35 TLS failure, 6 name not resolved. Connects within [`CHECK`]: for what must
    /// time out or fail promptly.
    fn curl(&self, url: &str, extra: &[&str]) -> (i32, String) {
        self.curl_within(url, extra, CHECK, Duration::from_secs(4))
    }

    /// A request that must succeed: given [`OK_WITHIN`] to connect.
    fn curl_ok(&self, url: &str, extra: &[&str]) -> (i32, String) {
        self.curl_within(url, extra, OK_WITHIN, OK_WITHIN * 2)
    }

    fn curl_within(
        &self,
        url: &str,
        extra: &[&str],
        connect: Duration,
        max: Duration,
    ) -> (i32, String) {
        let ca = self.lab.ca_file();
        let ca = ca.to_string_lossy();
        let ct = format!("{:.1}", connect.as_secs_f64());
        let mt = format!("{:.1}", max.as_secs_f64());
        let mut args = vec![
            "-sS",
            "--connect-timeout",
            &ct,
            "--max-time",
            &mt,
            "--cacert",
            &ca,
        ];
        args.extend_from_slice(extra);
        args.push(url);
        let out = self.exec("curl", &args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )
    }

    /// Runs the real probe in the function subnet (its own diagnosis off), then diagnoses
    /// its observations from outside with a snapshot read from moto.
    async fn probe_and_diagnose(&self, targets: &str) -> (Report, Vec<Finding>) {
        let run = ProbeRun {
            targets: targets.into(),
            diagnose: Some("never".into()),
            ..Default::default()
        };
        let report = self
            .lab
            .run_probe_once(self.fsub(), &serde_json::json!({}), &run)
            .expect("probe report");
        let clients = Clients::new(&self.moto.sdk_config().await);
        let snap = snapshot::take(&clients, &Scope::Subnets(vec![self.fsub().to_string()]))
            .await
            .expect("snapshot from moto");
        let subject = Subject {
            function: None,
            subnet_ids: vec![self.fsub().to_string()],
            security_group_ids: vec![self.base.sg.clone()],
        };
        let flows = diagnosis::flows_from_observations(&report.observations);
        let d = diagnosis::diagnose(&snap, &subject, &flows, &report.observations);
        (report, d.findings)
    }

    /// Runs the real probe in the function subnet with its own diagnosis on (it reads the
    /// snapshot through whatever path the subnet has to the EC2 API).
    fn probe_self_diagnosing(&self, targets: &str) -> Report {
        let run = ProbeRun {
            targets: targets.into(),
            diagnose: Some("always".into()),
            ..Default::default()
        };
        self.lab
            .run_probe_once(self.fsub(), &serde_json::json!({}), &run)
            .expect("probe report")
    }

    fn tcp(&self, target: &str) -> String {
        self.lab
            .tcp_connect(self.fsub(), target, CHECK)
            .expect("tcp-connect")
    }

    /// A connection that must work: given [`OK_WITHIN`], not [`CHECK`], so that a loaded
    /// machine (a retransmitted SYN after one second) does not fail a healthy path. What
    /// must be dropped is still timed against `CHECK` with [`Env::tcp`].
    fn tcp_ok(&self, target: &str) -> String {
        self.lab
            .tcp_connect(self.fsub(), target, OK_WITHIN)
            .expect("tcp-connect")
    }
}

/// Asserts a silent drop: a timeout that took (about) the configured time.
fn assert_timed_out(what: &str, started: Instant, outcome: &str) {
    let took = started.elapsed();
    assert_eq!(outcome, "timeout", "{what}: expected a silent drop");
    assert!(
        took >= CHECK - Duration::from_millis(50),
        "{what}: {took:?} is shorter than the timeout"
    );
}

fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}

/// `code` is raised as an error, confirmed by the observations it explains.
fn assert_confirmed(findings: &[Finding], code: &str) {
    let f = findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("{code} not raised; got {:?}", codes(findings)));
    assert_eq!(f.severity, Severity::Error, "{code}");
    assert_eq!(f.confirmation, Confirmation::Confirmed, "{code}: {f:?}");
    assert!(!f.explains.is_empty(), "{code} explains no observation");
}

/// The statuses the probe saw for `target` (IPv4 addresses and DNS only).
fn v4_statuses(report: &Report, target: &str) -> Vec<Status> {
    report
        .observations
        .iter()
        .filter(|o| o.target == target && !matches!(o.address, Some(std::net::IpAddr::V6(_))))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s01_healthy_private_subnet_through_nat() {
    lab_test!(s01_healthy_private_subnet_through_nat);
    let env = setup(BaseOptions::default()).await;
    assert_eq!(
        env.dig_ok("www.lab.example", "A"),
        (0, "203.0.113.10".to_string())
    );
    assert_eq!(env.tcp_ok("203.0.113.10:80"), "ok");
    let (code, body) = env.curl_ok("https://www.lab.example/", &[]);
    assert_eq!(code, 0, "HTTPS through NAT: {body}");
    assert_eq!(body, "hello from the lab internet");
    // The internet sees the NAT's EIP (moto's 127.x mapped into 198.51.100.0/24).
    let (code, seen) = env.curl_ok("https://checkip.lab.example/", &[]);
    assert_eq!((code, seen.as_str()), (0, "198.51.100.10"));
    // The EC2 API is reachable from the probe exactly because egress works.
    let (code, _) = env.curl_ok(
        &format!("{}/?Action=DescribeVpcs", env.lab.aws_endpoint_url()),
        &[],
    );
    assert_eq!(code, 0, "AWS API through NAT");
    // The probe: healthy, and its own diagnosis reaches the EC2 API through the NAT.
    let report = env.probe_self_diagnosing(
        "dns:v4.lab.example tcp://v4.lab.example:80 https://v4.lab.example/",
    );
    assert_eq!(
        report.verdict,
        Verdict::Healthy,
        "{:#?}",
        report.observations
    );
    assert!(
        matches!(
            report.analysis.status,
            AnalysisStatus::Complete | AnalysisStatus::Partial
        ),
        "self-diagnosis through the NAT: {:?}",
        report.analysis
    );
    let errors: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.code.as_str())
        .collect();
    assert!(errors.is_empty(), "healthy subnet, errors {errors:?}");
}

/// Runs a TCP connect that must be a silent drop and checks it took the full timeout.
fn assert_tcp_silent_drop(env: &Env, target: &str) {
    let started = Instant::now();
    let outcome = env.tcp(target);
    assert_timed_out(target, started, &outcome);
}

/// curl exit 28 (operation timed out) for HTTPS, after at least the connect timeout.
fn assert_https_times_out(env: &Env, url: &str) {
    let started = Instant::now();
    let (code, body) = env.curl(url, &[]);
    assert_eq!(
        code, 28,
        "{url}: expected curl's timeout, got {code} {body}"
    );
    assert!(started.elapsed() >= CHECK - Duration::from_millis(50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s02_function_subnet_routes_to_igw_times_out() {
    lab_test!(s02_function_subnet_routes_to_igw_times_out);
    let mut env = setup(BaseOptions::default()).await;
    env.base.route_functions_to_igw(env.ec2()).await.unwrap();
    env.lab.sync().await.unwrap();
    // R9: a Lambda ENI has no public IP; the IGW drops its packets silently. DNS through
    // Amazon DNS still works (R19).
    assert_eq!(
        env.dig_ok("www.lab.example", "A"),
        (0, "203.0.113.10".to_string())
    );
    assert_tcp_silent_drop(&env, "203.0.113.10:80");
    assert_https_times_out(&env, "https://www.lab.example/");
    // The public subnet's NAT still works: the fault is the function subnet's route.
    let nat = env
        .lab
        .hosts()
        .iter()
        .find(|h| matches!(h.kind, egress_probe_e2e::lab::HostKind::Nat(_)));
    assert!(nat.is_some(), "the NAT host stays");
    let (report, findings) = env.probe_and_diagnose("tcp://203.0.113.10:80").await;
    assert_eq!(
        v4_statuses(&report, "tcp://203.0.113.10:80"),
        vec![Status::Timeout]
    );
    assert_confirmed(&findings, "LAMBDA_SUBNET_ROUTES_TO_IGW");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s03_no_default_route_times_out() {
    lab_test!(s03_no_default_route_times_out);
    let mut env = setup(BaseOptions::default()).await;
    assert_eq!(
        env.tcp_ok("203.0.113.10:80"),
        "ok",
        "healthy before the fault"
    );
    env.base
        .delete_function_default_route(env.ec2())
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    assert_tcp_silent_drop(&env, "203.0.113.10:80");
    assert_eq!(
        env.dig_ok("www.lab.example", "A").0,
        0,
        "Amazon DNS needs no route (R19)"
    );
    let (report, findings) = env.probe_and_diagnose("tcp://203.0.113.10:80").await;
    assert_eq!(
        v4_statuses(&report, "tcp://203.0.113.10:80"),
        vec![Status::Timeout]
    );
    assert_confirmed(&findings, "NO_DEFAULT_ROUTE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s04_nat_deleted_route_left_is_a_blackhole() {
    lab_test!(s04_nat_deleted_route_left_is_a_blackhole);
    let mut env = setup(BaseOptions::default()).await;
    env.base.delete_nat(env.ec2()).await.unwrap();
    env.lab.sync().await.unwrap();
    let nat = env.lab.config().nat(&env.base.nat).unwrap();
    assert_eq!(nat.state, "deleted");
    assert!(
        !env.lab
            .hosts()
            .iter()
            .any(|h| matches!(h.kind, egress_probe_e2e::lab::HostKind::Nat(_))),
        "the deleted NAT has no host"
    );
    assert_tcp_silent_drop(&env, "203.0.113.10:80");
    assert_https_times_out(&env, "https://www.lab.example/");
    let (report, findings) = env.probe_and_diagnose("tcp://203.0.113.10:80").await;
    assert_eq!(
        v4_statuses(&report, "tcp://203.0.113.10:80"),
        vec![Status::Timeout]
    );
    assert_confirmed(&findings, "NAT_GATEWAY_NOT_AVAILABLE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s05_nat_in_subnet_without_igw_route_times_out() {
    lab_test!(s05_nat_in_subnet_without_igw_route_times_out);
    let mut env = setup(BaseOptions::default()).await;
    let (_subnet, _nat) = env
        .base
        .move_nat_to_private_subnet(env.ec2())
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    // The packet reaches the new NAT (its host exists), which has nowhere to send it.
    let nats = env
        .lab
        .hosts()
        .iter()
        .filter(|h| matches!(h.kind, egress_probe_e2e::lab::HostKind::Nat(_)))
        .count();
    assert_eq!(nats, 2);
    assert_tcp_silent_drop(&env, "203.0.113.10:80");
    let (report, findings) = env.probe_and_diagnose("tcp://203.0.113.10:80").await;
    assert_eq!(
        v4_statuses(&report, "tcp://203.0.113.10:80"),
        vec![Status::Timeout]
    );
    assert_confirmed(&findings, "NAT_SUBNET_NO_IGW_ROUTE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s06_function_nacl_denies_inbound_ephemeral() {
    lab_test!(s06_function_nacl_denies_inbound_ephemeral);
    let mut env = setup(BaseOptions::default()).await;
    let fsub = env.fsub().to_string();
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
    // The SYN leaves, the SYN-ACK to the ephemeral port is dropped at the subnet border.
    assert_tcp_silent_drop(&env, "203.0.113.10:80");
    assert_https_times_out(&env, "https://www.lab.example/");
    assert_eq!(
        env.dig_ok("www.lab.example", "A").0,
        0,
        "Amazon DNS is not filtered by NACLs (R19)"
    );
    let (report, findings) = env.probe_and_diagnose("tcp://203.0.113.10:80").await;
    assert_eq!(
        v4_statuses(&report, "tcp://203.0.113.10:80"),
        vec![Status::Timeout]
    );
    assert_confirmed(&findings, "NACL_INBOUND_EPHEMERAL_DENIED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s06b_partial_ephemeral_range_is_intermittent() {
    lab_test!(s06b_partial_ephemeral_range_is_intermittent);
    let mut env = setup(BaseOptions::default()).await;
    let fsub = env.fsub().to_string();
    // Inbound allows 1024-45000 only: source ports spread over 32768-60999 (as from many
    // execution environments), so about 43 % of connections get their SYN-ACK back.
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
    let mut ok = 0;
    let mut timeouts = 0;
    for _ in 0..16 {
        let outcome = env
            .lab
            .tcp_connect_with(&fsub, "203.0.113.10:80", Duration::from_millis(700), true)
            .unwrap();
        match outcome.as_str() {
            "ok" => ok += 1,
            "timeout" => timeouts += 1,
            other => panic!("unexpected outcome {other}"),
        }
    }
    assert!(
        ok > 0 && timeouts > 0,
        "intermittent: {ok} ok, {timeouts} timeouts out of 16"
    );
    // One probe connection may pass or not: the finding names the partial range either way.
    let (report, findings) = env.probe_and_diagnose("tcp://203.0.113.10:80").await;
    let seen = v4_statuses(&report, "tcp://203.0.113.10:80");
    assert!(
        seen == vec![Status::Ok] || seen == vec![Status::Timeout],
        "{seen:?}"
    );
    assert!(
        codes(&findings).contains(&"NACL_INBOUND_EPHEMERAL_PARTIAL"),
        "{:?}",
        codes(&findings)
    );
    assert!(!codes(&findings).contains(&"NACL_INBOUND_EPHEMERAL_DENIED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s07_nat_subnet_nacl_blocks_function_traffic() {
    lab_test!(s07_nat_subnet_nacl_blocks_function_traffic);
    let mut env = setup(BaseOptions::default()).await;
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
    assert_tcp_silent_drop(&env, "203.0.113.10:80");
    let (report, findings) = env.probe_and_diagnose("tcp://203.0.113.10:80").await;
    assert_eq!(
        v4_statuses(&report, "tcp://203.0.113.10:80"),
        vec![Status::Timeout]
    );
    assert_confirmed(&findings, "NAT_SUBNET_NACL_DENIED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s08_security_group_without_egress_443() {
    lab_test!(s08_security_group_without_egress_443);
    let mut env = setup(BaseOptions::default()).await;
    env.base
        .set_sg_egress(env.ec2(), &[("tcp", 80, 80, "0.0.0.0/0")])
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    assert_eq!(env.tcp_ok("203.0.113.10:80"), "ok", "port 80 is allowed");
    assert_tcp_silent_drop(&env, "203.0.113.10:443");
    assert_https_times_out(&env, "https://www.lab.example/");
    assert_eq!(
        env.dig_ok("www.lab.example", "A").0,
        0,
        "SGs do not filter Amazon DNS (R19)"
    );
    let (report, findings) = env
        .probe_and_diagnose("tcp://203.0.113.10:443 tcp://203.0.113.10:80")
        .await;
    assert_eq!(
        v4_statuses(&report, "tcp://203.0.113.10:443"),
        vec![Status::Timeout]
    );
    assert_eq!(
        v4_statuses(&report, "tcp://203.0.113.10:80"),
        vec![Status::Ok]
    );
    assert_confirmed(&findings, "SG_EGRESS_DENIED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s09_custom_dhcp_dns_unreachable_by_security_group() {
    lab_test!(s09_custom_dhcp_dns_unreachable_by_security_group);
    let mut env = setup(BaseOptions::default()).await;
    env.base
        .set_dhcp_dns(env.ec2(), &["10.0.0.53"])
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    let resolv = std::fs::read_to_string(env.lab.resolv_conf_for(env.fsub()).unwrap()).unwrap();
    assert!(resolv.contains("nameserver 10.0.0.53"), "{resolv}");
    assert_eq!(
        env.dig_ok("www.lab.example", "A"),
        (0, "203.0.113.10".to_string()),
        "the custom DNS server answers while the SG allows it"
    );
    env.base
        .set_sg_egress(env.ec2(), &[("tcp", 443, 443, "0.0.0.0/0")])
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    let started = Instant::now();
    let (code, _) = env.dig("www.lab.example", "A");
    assert_eq!(code, 9, "dig: no reply from the custom server (R25)");
    assert!(started.elapsed() >= Duration::from_millis(950));
    let (code, _) = env.curl_ok(
        "https://www.lab.example/",
        &["--resolve", "www.lab.example:443:203.0.113.10"],
    );
    assert_eq!(code, 0, "HTTPS itself works");
    let (report, findings) = env.probe_and_diagnose("dns:www.lab.example").await;
    assert_eq!(
        v4_statuses(&report, "dns:www.lab.example"),
        vec![Status::DnsTimeout]
    );
    assert!(
        codes(&findings).contains(&"CUSTOM_DNS_UNREACHABLE"),
        "{:?}",
        codes(&findings)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s09b_dns_support_disabled_times_out() {
    lab_test!(s09b_dns_support_disabled_times_out);
    let mut env = setup(BaseOptions::default()).await;
    env.base.set_dns_support(env.ec2(), false).await.unwrap();
    env.lab.sync().await.unwrap();
    assert!(!env.lab.config().enable_dns_support);
    let started = Instant::now();
    let (code, _) = env.dig("www.lab.example", "A");
    assert_eq!(code, 9, "no answer from VPC+2 (R24)");
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_eq!(
        env.tcp("203.0.113.10:80"),
        "ok",
        "egress by address still works"
    );
    let (report, findings) = env.probe_and_diagnose("dns:www.lab.example").await;
    assert_eq!(
        v4_statuses(&report, "dns:www.lab.example"),
        vec![Status::DnsTimeout]
    );
    assert!(
        codes(&findings).contains(&"VPC_DNS_SUPPORT_DISABLED"),
        "{:?}",
        codes(&findings)
    );
    env.base.set_dns_support(env.ec2(), true).await.unwrap();
    env.lab.sync().await.unwrap();
    assert_eq!(env.dig_ok("www.lab.example", "A").0, 0, "re-enabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s11_dual_stack_without_ipv6_default_route() {
    lab_test!(s11_dual_stack_without_ipv6_default_route);
    let mut env = setup(BaseOptions {
        dual_stack: true,
        ..Default::default()
    })
    .await;
    assert_eq!(
        env.dig_ok("www.lab.example", "AAAA"),
        (0, "2001:db8:113::10".to_string())
    );
    let (code, seen) = env.curl_ok("https://checkip.lab.example/", &["-6"]);
    assert_eq!(code, 0, "IPv6 through the egress-only IGW");
    assert!(
        seen.starts_with("2001:db8:100:"),
        "the ENI's own (mapped) IPv6 address: {seen}"
    );
    env.base
        .delete_function_ipv6_default_route(env.ec2())
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    // R31: IPv6 fails silently, IPv4 is healthy.
    let started = Instant::now();
    let outcome = env.tcp("[2001:db8:113::10]:443");
    assert_timed_out("IPv6 without ::/0", started, &outcome);
    assert_eq!(env.tcp_ok("203.0.113.10:443"), "ok");
    assert_eq!(env.curl_ok("https://www.lab.example/", &["-4"]).0, 0);
    let (report, findings) = env.probe_and_diagnose("tcp://www.lab.example:443").await;
    assert_eq!(
        v4_statuses(&report, "tcp://www.lab.example:443"),
        vec![Status::Ok]
    );
    let v6: Vec<Status> = report
        .observations
        .iter()
        .filter(|o| matches!(o.address, Some(std::net::IpAddr::V6(_))))
        .map(|o| o.status)
        .collect();
    assert_eq!(v6, vec![Status::Timeout], "IPv6 fails, IPv4 works (R31)");
    assert_eq!(report.verdict, Verdict::Degraded);
    assert_confirmed(&findings, "IPV6_NO_EGRESS_ROUTE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s11b_dual_stack_security_group_without_ipv6_egress() {
    lab_test!(s11b_dual_stack_security_group_without_ipv6_egress);
    let mut env = setup(BaseOptions {
        dual_stack: true,
        ..Default::default()
    })
    .await;
    assert_eq!(env.tcp_ok("[2001:db8:113::10]:443"), "ok");
    env.base
        .set_sg_egress(env.ec2(), &[("-1", -1, -1, "0.0.0.0/0")])
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    let started = Instant::now();
    let outcome = env.tcp("[2001:db8:113::10]:443");
    assert_timed_out("IPv6 without SG egress", started, &outcome);
    assert_eq!(env.tcp_ok("203.0.113.10:443"), "ok");
    let (report, findings) = env.probe_and_diagnose("tcp://www.lab.example:443").await;
    assert_eq!(
        v4_statuses(&report, "tcp://www.lab.example:443"),
        vec![Status::Ok]
    );
    let v6: Vec<Status> = report
        .observations
        .iter()
        .filter(|o| matches!(o.address, Some(std::net::IpAddr::V6(_))))
        .map(|o| o.status)
        .collect();
    assert_eq!(v6, vec![Status::Timeout], "IPv6 fails, IPv4 works (R31)");
    assert_eq!(report.verdict, Verdict::Degraded);
    assert_confirmed(&findings, "IPV6_SG_EGRESS_DENIED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s12_destination_reset_and_tls_alert_are_fast_and_not_timeouts() {
    lab_test!(s12_destination_reset_and_tls_alert_are_fast_and_not_timeouts);
    let env = setup(BaseOptions::default()).await;
    let started = Instant::now();
    assert_eq!(
        env.tcp("203.0.113.12:443"),
        "refused",
        "RST from the destination (R36)"
    );
    assert!(started.elapsed() < CHECK, "a reset is not a timeout");
    let started = Instant::now();
    let (code, _) = env.curl("https://rst.lab.example/", &[]);
    assert_eq!(code, 7, "curl: connection refused");
    let (code2, _) = env.curl("https://alert.lab.example/", &[]);
    assert_eq!(code2, 35, "curl: TLS handshake failed with an alert");
    assert!(started.elapsed() < CHECK * 2, "both answered promptly");
    assert_eq!(
        env.curl_ok("https://www.lab.example/", &[]).0,
        0,
        "other destinations fine"
    );
    let (report, findings) = env
        .probe_and_diagnose("tcp://rst.lab.example:443 https://alert.lab.example/")
        .await;
    assert_eq!(
        v4_statuses(&report, "tcp://rst.lab.example:443"),
        vec![Status::Refused]
    );
    assert_eq!(
        v4_statuses(&report, "https://alert.lab.example/"),
        vec![Status::TlsAlert]
    );
    let found = codes(&findings);
    assert!(found.contains(&"DESTINATION_REFUSED"), "{found:?}");
    assert!(found.contains(&"DESTINATION_TLS_ERROR"), "{found:?}");
    // R36: the VPC is not blamed.
    let vpc_errors: Vec<&str> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error && !f.code.starts_with("DESTINATION_"))
        .filter(|f| !f.code.starts_with("IPV6_"))
        .map(|f| f.code.as_str())
        .collect();
    assert!(vpc_errors.is_empty(), "{vpc_errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_cleans_up_its_namespaces() {
    lab_test!(lab_cleans_up_its_namespaces);
    let env = setup(BaseOptions::default()).await;
    let prefix = env.lab.id.clone();
    let list = || {
        String::from_utf8_lossy(
            &std::process::Command::new("ip")
                .args(["netns", "list"])
                .output()
                .unwrap()
                .stdout,
        )
        .lines()
        .filter(|l| l.starts_with(&format!("{prefix}-")))
        .count()
    };
    assert!(
        list() >= 5,
        "router, internet, DNS, NAT and ENI namespaces exist"
    );
    drop(env);
    assert_eq!(list(), 0, "every namespace of the lab is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_interface_endpoint_reaches_the_api_when_egress_is_broken() {
    lab_test!(ec2_interface_endpoint_reaches_the_api_when_egress_is_broken);
    let mut env = setup(BaseOptions::default()).await;
    env.base.route_functions_to_igw(env.ec2()).await.unwrap();
    env.lab.sync().await.unwrap();
    let internet_api = format!("{}/?Action=DescribeVpcs", env.lab.aws_endpoint_url());
    assert_eq!(
        env.curl(&internet_api, &[]).0,
        28,
        "no egress: the public API times out"
    );
    let subnets = env.base.function_subnets.clone();
    env.base
        .create_ec2_endpoint(env.ec2(), &subnets)
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    let url = env.lab.ec2_endpoint_url_for(env.fsub());
    assert_ne!(url, env.lab.aws_endpoint_url());
    let (code, body) = env.curl_ok(&format!("{url}/?Action=DescribeVpcs"), &[]);
    assert_eq!(
        code, 0,
        "the endpoint ENI in the subnet bridges to the EC2 API: {body}"
    );
    assert_tcp_silent_drop(&env, "203.0.113.10:80");
    // Issue 11: the probe's own diagnosis (through the endpoint) prints the fix only after
    // simulating it on its snapshot: the report carries the proof, and it is proven.
    let report = env.probe_self_diagnosing("tcp://203.0.113.10:80");
    assert_ne!(
        report.verdict,
        Verdict::Healthy,
        "{:#?}",
        report.observations
    );
    let (index, finding) = report
        .findings
        .iter()
        .enumerate()
        .find(|(_, f)| f.code == "LAMBDA_SUBNET_ROUTES_TO_IGW")
        .unwrap_or_else(|| panic!("R9 finding: {:#?} {:?}", report.findings, report.analysis));
    assert!(!finding.fix_commands.is_empty(), "{finding:#?}");
    let proof = report
        .fix_proofs
        .iter()
        .find(|p| p.finding == index)
        .unwrap_or_else(|| panic!("no proof for the printed fix: {:#?}", report.fix_proofs));
    assert!(proof.proven(), "{proof:#?}");
    for (i, f) in report.findings.iter().enumerate() {
        if !f.fix_commands.is_empty() && diagnosis::advice_only(&f.code).is_none() {
            assert!(
                report.fix_proofs.iter().any(|p| p.finding == i),
                "{} printed without a proof",
                f.code
            );
        }
    }
}
