//! The VPC lab scenarios of issue 7: each builds a VPC through the EC2 API (moto), lets the
//! lab build the data plane from it, injects the fault as a configuration change, and
//! asserts what a client inside the function subnet observes — real packets, real timeouts.
//!
//! Needs root, iproute2 and nftables: skipped with a message locally, failing under CI=true.

use egress_probe_e2e::lab::scenarios::{self, BaseOptions, BaseVpc, NaclSpec};
use egress_probe_e2e::lab::{Lab, LabOptions, ready_or_skip};
use egress_probe_e2e::moto::MotoServer;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

/// Check timeout used throughout: short, so silent drops keep the suite fast.
const CHECK: Duration = Duration::from_millis(1500);

struct Env {
    lab: Lab,
    base: BaseVpc,
    // Dropped last: the lab's API bridge points at it.
    _moto: MotoServer,
}

fn options() -> LabOptions {
    LabOptions {
        services_bin: PathBuf::from(env!("CARGO_BIN_EXE_lab-services")),
    }
}

async fn setup(opts: BaseOptions) -> Env {
    let moto = MotoServer::start().expect("moto");
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
    let base = scenarios::base(&ec2, &opts).await.expect("base VPC");
    let lab = Lab::start(&moto, &base.vpc_id, options()).await.expect("lab");
    Env {
        lab,
        base,
        _moto: moto,
    }
}

impl Env {
    fn fsub(&self) -> &str {
        &self.base.function_subnets[0]
    }

    fn ec2(&self) -> &aws_sdk_ec2::Client {
        self.lab.ec2()
    }

    fn exec(&self, program: &str, args: &[&str]) -> Output {
        self.lab.exec_in(self.fsub(), program, args).expect("exec in lab")
    }

    /// `dig` in the function subnet with its own resolv.conf: (exit code, short answer).
    fn dig(&self, name: &str, qtype: &str) -> (i32, String) {
        let out = self.exec("dig", &["+time=1", "+tries=1", "+short", name, qtype]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )
    }

    /// `curl` in the function subnet: (exit code, body). 0 ok, 28 timeout, 7 refused,
    /// 35 TLS failure, 6 name not resolved.
    fn curl(&self, url: &str, extra: &[&str]) -> (i32, String) {
        let ca = self.lab.ca_file();
        let ca = ca.to_string_lossy();
        let ct = format!("{:.1}", CHECK.as_secs_f64());
        let mut args = vec!["-sS", "--connect-timeout", &ct, "--max-time", "4", "--cacert", &ca];
        args.extend_from_slice(extra);
        args.push(url);
        let out = self.exec("curl", &args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )
    }

    fn tcp(&self, target: &str) -> String {
        self.lab.tcp_connect(self.fsub(), target, CHECK).expect("tcp-connect")
    }
}

/// Asserts a silent drop: a timeout that took (about) the configured time.
fn assert_timed_out(what: &str, started: Instant, outcome: &str) {
    let took = started.elapsed();
    assert_eq!(outcome, "timeout", "{what}: expected a silent drop");
    assert!(took >= CHECK - Duration::from_millis(50), "{what}: {took:?} is shorter than the timeout");
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
    assert_eq!(env.dig("www.lab.example", "A"), (0, "203.0.113.10".to_string()));
    assert_eq!(env.tcp("203.0.113.10:80"), "ok");
    let (code, body) = env.curl("https://www.lab.example/", &[]);
    assert_eq!(code, 0, "HTTPS through NAT: {body}");
    assert_eq!(body, "hello from the lab internet");
    // The internet sees the NAT's EIP (moto's 127.x mapped into 198.51.100.0/24).
    let (code, seen) = env.curl("https://checkip.lab.example/", &[]);
    assert_eq!((code, seen.as_str()), (0, "198.51.100.10"));
    // The EC2 API is reachable from the probe exactly because egress works.
    let (code, _) = env.curl(&format!("{}/?Action=DescribeVpcs", env.lab.aws_endpoint_url()), &[]);
    assert_eq!(code, 0, "AWS API through NAT");
}
