//! SIGTERM in the middle of `install` and `uninstall` (the real binary against moto behind
//! the fault front, which holds one call long enough to send the signal): the command
//! prints what it had done and exits 143, and the re-run finishes the job — the schedule's
//! Lambda permission included.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use egress_probe_e2e::fault_front::{Fault, FaultFront};
use egress_probe_e2e::moto::MotoServer;
use egress_probe_installer::artifact::{Arch, fake_elf_header, zip_with_bootstrap};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn command(server: &MotoServer, endpoint: &str, home: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_egress-probe"));
    c.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(server.env())
        .env("AWS_ENDPOINT_URL", endpoint)
        .args(["--max-attempts", "1"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs a command to its end off the runtime's thread, so the fault front (served by this
/// runtime) keeps answering it.
async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Waits (bounded) until the front has seen `op`, then sends SIGTERM and collects the
/// output (the child is killed if it does not end in time).
async fn terminate_during(front: &FaultFront, op: &str, mut child: Child) -> Output {
    let started = Instant::now();
    while front.count(op) == 0 {
        if started.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!("{op} never reached the front: {}", text(&o));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let ended = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if ended.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn sigterm_prints_what_was_done_and_the_rerun_finishes() {
    let server = MotoServer::start().unwrap();
    let front = FaultFront::start(&server.endpoint).await.unwrap();
    let config = server.sdk_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.7.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.7.1.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("bootstrap.zip");
    std::fs::write(
        &zip,
        zip_with_bootstrap(&fake_elf_header(Arch::Arm64)).unwrap(),
    )
    .unwrap();
    let install = [
        "install",
        "--subnet",
        subnet.as_str(),
        "--zip",
        zip.to_str().unwrap(),
        "--schedule",
        "rate(5 minutes)",
    ];
    let function = format!("egress-probe-{subnet}");

    // SIGTERM while AddPermission is held: function, rule and target exist, the
    // permission does not.
    front.inject(
        "AddPermission",
        Fault::Delay(Duration::from_secs(30)),
        Some(1),
    );
    let child = command(&server, &front.endpoint(), dir.path(), &install)
        .spawn()
        .unwrap();
    let o = terminate_during(&front, "AddPermission", child).await;
    assert_eq!(o.status.code(), Some(143), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("Interrupted by SIGTERM"), "{}", text(&o));
    assert!(
        out.contains(&format!("created function {function}")),
        "{}",
        text(&o)
    );
    assert!(out.contains("put rule egress-probe-"), "{}", text(&o));
    assert!(!out.contains("allowed rule"), "{}", text(&o));
    assert!(out.contains("Re-run the same command"), "{}", text(&o));

    // The re-run adds the missing permission (not "0 change(s) made").
    front.clear();
    let o = output(command(&server, &front.endpoint(), dir.path(), &install)).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("1 change(s) made; all done"), "{}", text(&o));
    let policy = aws_sdk_lambda::Client::new(&config)
        .get_policy()
        .function_name(&function)
        .send()
        .await
        .unwrap();
    let rule_arn = aws_sdk_eventbridge::Client::new(&config)
        .describe_rule()
        .name(&function)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    assert_eq!(
        egress_probe_installer::aws::statement_source(
            policy.policy().unwrap(),
            egress_probe_installer::plan::PERMISSION_SID
        ),
        Some(rule_arn)
    );

    // SIGTERM during uninstall, while the role's removal is held: the function and rule
    // are listed as removed.
    front.inject("DeleteRole", Fault::Delay(Duration::from_secs(30)), Some(1));
    let child = command(
        &server,
        &front.endpoint(),
        dir.path(),
        &["uninstall", "--yes"],
    )
    .spawn()
    .unwrap();
    let o = terminate_during(&front, "DeleteRole", child).await;
    assert_eq!(o.status.code(), Some(143), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!("removed function {function}")),
        "{}",
        text(&o)
    );
    assert!(
        out.contains(&format!("removed rule {function}")),
        "{}",
        text(&o)
    );
    front.clear();
    let o = output(command(
        &server,
        &front.endpoint(),
        dir.path(),
        &["uninstall", "--yes"],
    ))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
