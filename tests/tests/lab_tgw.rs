//! The VPC lab scenarios of issue 10 (centralised egress): a workload VPC behind a transit
//! gateway, an egress VPC with NAT gateways (and Network Firewall endpoints), all built
//! through the EC2 API (moto, patched to answer transit-gateway calls as the API reference
//! says) and the lab's Network Firewall stand-in, rebuilt as namespaces; each fault is a
//! configuration change. Each test asserts what a client in the function subnet sees on
//! real packets, runs the real probe there, and asserts its failure class and the finding
//! code that the diagnosis (snapshot read from outside through the lab's API front, as
//! `egress-probe run` does) names.
//!
//! Each lab has its own pid-unique namespaces, so the tests run concurrently (as many as
//! the test harness runs at once, bounded by `EGRESS_PROBE_LAB_PARALLEL`, default 3); every
//! lab is removed on drop, also on failure and on panic.
//!
//! Needs root, iproute2 and nftables: skipped with a message locally, failing under CI=true.

use egress_probe::diagnosis::{self, Subject};
use egress_probe::model::{Finding, Report, Severity, Status, Verdict};
use egress_probe::snapshot::{self, Clients, Scope};
use egress_probe_e2e::invoke_front::{FrontConfig, InvokeFront};
use egress_probe_e2e::lab::centralised::{self, Central, FirewallPlacement, WORKLOAD_CIDR};
use egress_probe_e2e::lab::nfw::{self, NfwData};
use egress_probe_e2e::lab::probe::ProbeRun;
use egress_probe_e2e::lab::scenarios::NaclSpec;
use egress_probe_e2e::lab::{Lab, LabOptions, ready_or_skip};
use egress_probe_e2e::moto::MotoServer;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Check timeout: short, so silent drops keep the suite fast.
const CHECK: Duration = Duration::from_millis(1500);
/// What must work gets this long, so that a loaded machine does not fail a healthy path.
const OK_WITHIN: Duration = Duration::from_secs(10);
/// An internet address of the lab (v4.lab.example, IPv4 only).
const WEB: &str = "203.0.113.14";
const TARGETS: &str = "tcp://v4.lab.example:443 https://v4.lab.example/";

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

struct Env {
    front: InvokeFront,
    lab: Lab,
    c: Central,
    _work: tempfile::TempDir,
    // Dropped last: the lab's API bridge and the front point at it.
    moto: MotoServer,
    _slot: Slot,
}

async fn setup(placement: FirewallPlacement, policy: fn(&mut Central) -> NfwData) -> Env {
    let slot = tokio::task::spawn_blocking(Slot::acquire)
        .await
        .expect("slot");
    let moto = MotoServer::start().expect("moto");
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
    let mut c = centralised::build(&ec2, placement)
        .await
        .expect("centralised egress");
    let data = policy(&mut c);
    let lab = Lab::start_multi(
        &moto,
        &c.vpc_ids(),
        LabOptions::discover().expect("lab-services"),
    )
    .await
    .expect("lab");
    lab.nfw().set(data);
    let mut lab = lab;
    lab.sync().await.expect("sync with the firewall");
    let work = tempfile::tempdir().expect("tempdir");
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
    Env {
        front,
        lab,
        c,
        _work: work,
        moto,
        _slot: slot,
    }
}

fn no_firewall(_: &mut Central) -> NfwData {
    NfwData::default()
}

fn allow_lab(c: &mut Central) -> NfwData {
    c.allow_lab_policy()
}

impl Env {
    fn ec2(&self) -> &aws_sdk_ec2::Client {
        self.lab.ec2()
    }

    fn fsub(&self, az: usize) -> String {
        self.c.function_subnets[az].clone()
    }

    /// A connection that must be dropped: timed against [`CHECK`].
    fn tcp(&self, az: usize, target: &str) -> String {
        self.lab
            .tcp_connect(&self.fsub(az), target, CHECK)
            .expect("tcp-connect")
    }

    /// A connection that must work: given [`OK_WITHIN`], so that a loaded machine (a
    /// retransmitted SYN after one second) does not fail a healthy path.
    fn tcp_ok(&self, az: usize, target: &str) -> String {
        self.lab
            .tcp_connect(&self.fsub(az), target, OK_WITHIN)
            .expect("tcp-connect")
    }

    /// `curl` in a function subnet: (exit code, body). 0 ok, 28 timeout, 35/56 TLS
    /// handshake failed / connection reset. Connects within [`CHECK`]: for what must
    /// stall or fail promptly.
    fn curl(&self, az: usize, url: &str) -> (i32, String) {
        self.curl_within(az, url, CHECK, Duration::from_secs(3))
    }

    /// A request that must succeed: given [`OK_WITHIN`] to connect.
    fn curl_ok(&self, az: usize, url: &str) -> (i32, String) {
        self.curl_within(az, url, OK_WITHIN, OK_WITHIN * 2)
    }

    fn curl_within(&self, az: usize, url: &str, connect: Duration, max: Duration) -> (i32, String) {
        let ca = self.lab.ca_file();
        let ct = format!("{:.1}", connect.as_secs_f64());
        let mt = format!("{:.1}", max.as_secs_f64());
        let out = self
            .lab
            .exec_in(
                &self.fsub(az),
                "curl",
                &[
                    "-sS",
                    "--connect-timeout",
                    &ct,
                    "--max-time",
                    &mt,
                    "--cacert",
                    &ca.to_string_lossy(),
                    url,
                ],
            )
            .expect("curl");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )
    }

    /// Runs the real probe in a function subnet (its own diagnosis off), then diagnoses its
    /// observations from outside with a snapshot read through the API front (EC2 from
    /// moto, Network Firewall from the lab's stand-in).
    async fn probe_and_diagnose(&self, az: usize, targets: &str) -> (Report, Vec<Finding>) {
        let subnet = self.fsub(az);
        let run = ProbeRun {
            targets: targets.into(),
            diagnose: Some("never".into()),
            ..Default::default()
        };
        let report = self
            .lab
            .run_probe_once(&subnet, &serde_json::json!({}), &run)
            .expect("probe report");
        let sdk = self
            .moto
            .sdk_config()
            .await
            .into_builder()
            .endpoint_url(self.front.endpoint())
            .build();
        let clients = Clients::new(&sdk);
        let snap = snapshot::take(&clients, &Scope::Subnets(vec![subnet.clone()]))
            .await
            .expect("snapshot through the front");
        let subject = Subject {
            function: None,
            subnet_ids: vec![subnet],
            security_group_ids: vec![self.c.sg.clone()],
        };
        let flows = diagnosis::flows_from_observations(&report.observations);
        let d = diagnosis::diagnose(&snap, &subject, &flows, &report.observations);
        (report, d.findings)
    }
}

fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}

/// `code` is raised with `severity` (ISSUE10's table) and explains an observation.
fn assert_finding(findings: &[Finding], code: &str, severity: Severity) {
    let f = findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("{code} not raised; got {:?}", codes(findings)));
    assert_eq!(f.severity, severity, "{code}: {f:?}");
    if severity == Severity::Error {
        assert!(
            !f.explains.is_empty(),
            "{code} explains no observation: {f:?}"
        );
    }
}

fn statuses(report: &Report, target: &str) -> Vec<Status> {
    report
        .observations
        .iter()
        .filter(|o| o.target == target)
        .map(|o| o.status)
        .collect()
}

/// A silent drop: a timeout that took (about) the configured time.
fn assert_silent_drop(env: &Env, az: usize, target: &str) {
    let started = Instant::now();
    let outcome = env.tcp(az, target);
    assert_eq!(
        outcome, "timeout",
        "{target} from AZ {az}: expected a silent drop"
    );
    assert!(
        started.elapsed() >= CHECK - Duration::from_millis(50),
        "{target}: a drop is a timeout, not {:?}",
        started.elapsed()
    );
}

/// The probe's TCP and HTTPS checks both timed out (a silent drop on the way).
fn assert_probe_timed_out(report: &Report) {
    assert_eq!(
        statuses(report, "tcp://v4.lab.example:443"),
        vec![Status::Timeout],
        "{:#?}",
        report.observations
    );
    assert_eq!(
        statuses(report, "https://v4.lab.example/"),
        vec![Status::Timeout],
        "{:#?}",
        report.observations
    );
}

macro_rules! lab_test {
    ($name:ident) => {
        if !ready_or_skip(stringify!($name)) {
            return;
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t01_healthy_centralised_egress_two_azs() {
    lab_test!(t01_healthy_centralised_egress_two_azs);
    let env = setup(FirewallPlacement::InEgressVpc, allow_lab).await;
    for az in 0..2 {
        assert_eq!(env.tcp_ok(az, &format!("{WEB}:443")), "ok", "AZ {az}");
        let (code, body) = env.curl_ok(az, "https://v4.lab.example/");
        assert_eq!(
            code, 0,
            "HTTPS through TGW, firewall and NAT from AZ {az}: {body}"
        );
        let (code, body) = env.curl_ok(az, "http://v4.lab.example/");
        assert_eq!(code, 0, "HTTP (Host allowed) from AZ {az}: {body}");
        // The internet sees one of the egress VPC's NAT EIPs.
        let (code, seen) = env.curl_ok(az, "https://checkip.lab.example/");
        assert_eq!(code, 0);
        assert!(seen.starts_with("198.51.100."), "{seen}");
    }
    for az in 0..2 {
        let (report, findings) = env.probe_and_diagnose(az, TARGETS).await;
        assert_eq!(
            report.verdict,
            Verdict::Healthy,
            "{:#?}",
            report.observations
        );
        let errors: Vec<&str> = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.code.as_str())
            .collect();
        assert!(
            errors.is_empty(),
            "healthy centralised egress, errors {errors:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t02_tgw_route_table_without_default_route() {
    lab_test!(t02_tgw_route_table_without_default_route);
    let mut env = setup(FirewallPlacement::None, no_firewall).await;
    assert_eq!(env.tcp_ok(0, &format!("{WEB}:443")), "ok", "healthy before");
    env.c.delete_spoke_default_route(env.ec2()).await.unwrap();
    env.lab.sync().await.unwrap();
    assert_silent_drop(&env, 0, &format!("{WEB}:443"));
    assert_silent_drop(&env, 1, &format!("{WEB}:443"));
    let (report, findings) = env.probe_and_diagnose(0, TARGETS).await;
    assert_probe_timed_out(&report);
    assert_finding(&findings, "TGW_NO_ROUTE", Severity::Error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t03_tgw_blackhole_route() {
    lab_test!(t03_tgw_blackhole_route);
    let mut env = setup(FirewallPlacement::None, no_firewall).await;
    env.c
        .blackhole_in_spoke_table(env.ec2(), "203.0.113.0/28")
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    // R40: the blackhole is the longest match for 203.0.113.14; the rest still flows.
    assert_silent_drop(&env, 0, &format!("{WEB}:443"));
    assert_eq!(
        env.tcp_ok(0, "203.0.113.100:80"),
        "ok",
        "outside the blackhole"
    );
    let (report, findings) = env.probe_and_diagnose(0, TARGETS).await;
    assert_probe_timed_out(&report);
    assert_finding(&findings, "TGW_ROUTE_BLACKHOLE", Severity::Error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t04_function_az_without_attachment_subnet() {
    lab_test!(t04_function_az_without_attachment_subnet);
    let mut env = setup(FirewallPlacement::None, no_firewall).await;
    env.c
        .remove_workload_attachment_az(env.ec2(), 1)
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    // R37: only the AZ without an attachment subnet fails.
    assert_eq!(
        env.tcp_ok(0, &format!("{WEB}:443")),
        "ok",
        "AZ a still works"
    );
    assert_silent_drop(&env, 1, &format!("{WEB}:443"));
    let (report, findings) = env.probe_and_diagnose(1, TARGETS).await;
    assert_probe_timed_out(&report);
    assert_finding(&findings, "TGW_NO_SUBNET_IN_AZ", Severity::Error);
    let (report, findings) = env.probe_and_diagnose(0, TARGETS).await;
    assert_eq!(
        report.verdict,
        Verdict::Healthy,
        "{:#?}",
        report.observations
    );
    assert!(
        !codes(&findings).contains(&"TGW_NO_SUBNET_IN_AZ"),
        "AZ a has its attachment subnet: {:?}",
        codes(&findings)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t05_egress_nat_subnet_without_return_route() {
    lab_test!(t05_egress_nat_subnet_without_return_route);
    let mut env = setup(FirewallPlacement::None, no_firewall).await;
    env.c
        .delete_nat_subnet_return_routes(env.ec2())
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    // R41: the SYN leaves through the NAT; its SYN-ACK, translated back, has no way home.
    assert_silent_drop(&env, 0, &format!("{WEB}:443"));
    let (report, findings) = env.probe_and_diagnose(0, TARGETS).await;
    assert_probe_timed_out(&report);
    assert_finding(&findings, "EGRESS_VPC_NO_RETURN_ROUTE", Severity::Error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t06_egress_attachment_table_cannot_reach_workload() {
    lab_test!(t06_egress_attachment_table_cannot_reach_workload);
    let mut env = setup(FirewallPlacement::None, no_firewall).await;
    env.c.disable_return_propagation(env.ec2()).await.unwrap();
    env.lab.sync().await.unwrap();
    assert!(
        env.lab
            .transit()
            .route_table(&env.c.egress.tgw_rtb)
            .is_some_and(|t| t.routes.is_empty()),
        "the egress table has no route back: {:?}",
        env.lab.transit().route_tables
    );
    assert_silent_drop(&env, 0, &format!("{WEB}:443"));
    let (report, findings) = env.probe_and_diagnose(0, TARGETS).await;
    assert_probe_timed_out(&report);
    assert_finding(&findings, "TGW_RETURN_ROUTE_MISSING", Severity::Error);
}

fn allowlist_without_target(c: &mut Central) -> NfwData {
    let g = nfw::domain_list_group(
        "allow-partners",
        &[".partner.example"],
        &["TLS_SNI", "HTTP_HOST"],
        "ALLOWLIST",
        None,
    );
    let p = nfw::policy("egress-policy", &[&g], false, &[], Some(&["10.0.0.0/8"]));
    c.network_firewall(p, vec![g])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t07_firewall_domain_allowlist_without_the_sni() {
    lab_test!(t07_firewall_domain_allowlist_without_the_sni);
    let env = setup(FirewallPlacement::InEgressVpc, allowlist_without_target).await;
    // R51, R53: the handshake passes, the ClientHello (SNI v4.lab.example) is dropped.
    assert_eq!(env.tcp_ok(0, &format!("{WEB}:443")), "ok", "TCP connects");
    let started = Instant::now();
    let (code, _) = env.curl(0, "https://v4.lab.example/");
    // curl's --connect-timeout covers the TLS handshake too.
    assert_eq!(code, 28, "TLS stalls until curl gives up");
    assert!(started.elapsed() >= CHECK - Duration::from_millis(50));
    let (code, _) = env.curl(0, "http://v4.lab.example/");
    assert_eq!(code, 28, "the HTTP request (Host not allowed) stalls too");
    let (report, findings) = env.probe_and_diagnose(0, TARGETS).await;
    assert_eq!(
        statuses(&report, "tcp://v4.lab.example:443"),
        vec![Status::Ok]
    );
    assert_eq!(
        statuses(&report, "https://v4.lab.example/"),
        vec![Status::TlsTimeout],
        "{:#?}",
        report.observations
    );
    assert_finding(&findings, "FIREWALL_DOMAIN_NOT_ALLOWED", Severity::Error);
}

fn reject_tls(c: &mut Central) -> NfwData {
    let g = nfw::stateful_rules_group(
        "reject-tls",
        vec![nfw::stateful_rule("REJECT", "TLS", "ANY", "443", 100)],
    );
    let p = nfw::policy("egress-policy", &[&g], false, &[], Some(&["10.0.0.0/8"]));
    c.network_firewall(p, vec![g])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t08_firewall_reject_rule_resets() {
    lab_test!(t08_firewall_reject_rule_resets);
    let env = setup(FirewallPlacement::InEgressVpc, reject_tls).await;
    assert_eq!(env.tcp_ok(0, &format!("{WEB}:443")), "ok", "TCP connects");
    let started = Instant::now();
    let (code, _) = env.curl(0, "https://v4.lab.example/");
    assert!(
        matches!(code, 35 | 56),
        "curl: reset in the handshake, got {code}"
    );
    assert!(
        started.elapsed() < CHECK,
        "a reset is prompt, not a timeout"
    );
    let (report, findings) = env.probe_and_diagnose(0, TARGETS).await;
    assert_eq!(
        statuses(&report, "tcp://v4.lab.example:443"),
        vec![Status::Ok]
    );
    assert_eq!(
        statuses(&report, "https://v4.lab.example/"),
        vec![Status::Reset],
        "{:#?}",
        report.observations
    );
    assert_finding(&findings, "FIREWALL_RULE_REJECT", Severity::Error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t09_inspection_across_azs_without_appliance_mode() {
    lab_test!(t09_inspection_across_azs_without_appliance_mode);
    let mut env = setup(FirewallPlacement::InspectionVpc, allow_lab).await;
    for az in 0..2 {
        assert_eq!(
            env.tcp_ok(az, &format!("{WEB}:443")),
            "ok",
            "appliance mode on, AZ {az}"
        );
    }
    env.c
        .set_firewall_appliance_mode(env.ec2(), false)
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    // R44: from AZ b the SYN passes AZ b's endpoint, the SYN-ACK comes back from the NAT
    // in AZ a through AZ a's endpoint, which never saw the flow and drops it.
    assert_eq!(
        env.tcp_ok(0, &format!("{WEB}:443")),
        "ok",
        "AZ a stays symmetric"
    );
    assert_silent_drop(&env, 1, &format!("{WEB}:443"));
    let (report, findings) = env.probe_and_diagnose(1, TARGETS).await;
    assert_probe_timed_out(&report);
    assert_finding(&findings, "TGW_APPLIANCE_MODE_DISABLED", Severity::Warning);
    // The fix, on real packets: appliance mode keeps the flow on one endpoint.
    env.c
        .set_firewall_appliance_mode(env.ec2(), true)
        .await
        .unwrap();
    env.lab.sync().await.unwrap();
    assert_eq!(
        env.tcp_ok(1, &format!("{WEB}:443")),
        "ok",
        "appliance mode on again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t10_nacl_on_egress_attachment_subnet() {
    lab_test!(t10_nacl_on_egress_attachment_subnet);
    let mut env = setup(FirewallPlacement::None, no_firewall).await;
    // R43: traffic from the TGW leaves the attachment subnet towards the NAT: the
    // attachment subnet's outbound rules apply (here only the spoke range is allowed).
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
    assert_silent_drop(&env, 0, &format!("{WEB}:443"));
    assert_silent_drop(&env, 1, &format!("{WEB}:443"));
    let (report, findings) = env.probe_and_diagnose(0, TARGETS).await;
    assert_probe_timed_out(&report);
    assert_finding(&findings, "TGW_ATTACHMENT_NACL_DENIED", Severity::Error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t11_peering_used_as_default_route() {
    lab_test!(t11_peering_used_as_default_route);
    let mut env = setup(FirewallPlacement::None, no_firewall).await;
    let pcx = env.c.default_route_via_peering(env.ec2()).await.unwrap();
    env.lab.sync().await.unwrap();
    // R56: the peer delivers only to its own addresses; its NAT and IGW cannot be used.
    assert_silent_drop(&env, 0, &format!("{WEB}:443"));
    let nat_subnet_host = env
        .lab
        .config_of_subnet(&env.c.egress.public_subnets[0])
        .map(|c| c.vpc_id.clone());
    assert_eq!(nat_subnet_host.as_deref(), Some(env.c.egress.vpc.as_str()));
    let (report, findings) = env.probe_and_diagnose(0, TARGETS).await;
    assert_probe_timed_out(&report);
    assert_finding(&findings, "PEERING_AS_EGRESS", Severity::Error);
    let f = findings
        .iter()
        .find(|f| f.code == "PEERING_AS_EGRESS")
        .unwrap();
    assert!(serde_json::to_string(f).unwrap().contains(&pcx), "{f:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tgw_lab_cleans_up_its_namespaces() {
    lab_test!(tgw_lab_cleans_up_its_namespaces);
    let env = setup(FirewallPlacement::InEgressVpc, allow_lab).await;
    let prefix = format!("{}-", env.lab.id);
    let list = || {
        String::from_utf8_lossy(
            &std::process::Command::new("ip")
                .args(["netns", "list"])
                .output()
                .unwrap()
                .stdout,
        )
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
    };
    let names = list();
    for role in ["-rt", "-rt1", "-dns1", "-tgw", "-fw", "-nat", "-eni"] {
        assert!(
            names.iter().any(|n| n.contains(role)),
            "{role} missing from {names:?}"
        );
    }
    drop(env);
    assert_eq!(
        list(),
        Vec::<String>::new(),
        "every namespace of the lab is gone"
    );
}
