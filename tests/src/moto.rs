//! A moto server on loopback, started and stopped by the test that needs it.
//!
//! moto stands in for EC2, Lambda, IAM and EventBridge (see the README's "moto vs AWS").
//! The server is found at `$MOTO_SERVER`, else `<workspace>/.venv/bin/moto_server` (made by
//! `scripts/setup.sh`), else on `PATH`.

use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Region every moto test uses.
pub const REGION: &str = "us-east-1";

/// A running moto server; killed on drop.
pub struct MotoServer {
    child: Child,
    pub port: u16,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
}

/// The workspace root (the directory holding `Cargo.lock`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `EGRESS_PROBE_PREBUILT_BINS`: a directory holding the workspace's binaries, already
/// built (scripts/run_suites.py sets it to `$CARGO_TARGET_DIR/debug` after its build). The
/// tests then take their binaries from there and never run cargo themselves: with several
/// suites running side by side, a `cargo build` in one of them would re-link the
/// binaries another suite is starting at that moment.
pub fn prebuilt_bins() -> Option<PathBuf> {
    std::env::var_os("EGRESS_PROBE_PREBUILT_BINS")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// `name` from [`prebuilt_bins`], when that is set: an error naming the directory when the
/// binary is not there.
pub fn prebuilt_bin(name: &str) -> Option<Result<PathBuf>> {
    let dir = prebuilt_bins()?;
    let path = dir.join(name);
    Some(if path.is_file() {
        Ok(path)
    } else {
        Err(anyhow::anyhow!(
            "{} not found (EGRESS_PROBE_PREBUILT_BINS={}): build the workspace first",
            path.display(),
            dir.display()
        ))
    })
}

/// Path of the `moto_server` executable, or an error saying how to install it.
pub fn moto_server_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return Ok(PathBuf::from(p));
    }
    let venv = workspace_root().join(".venv/bin/moto_server");
    if venv.exists() {
        return Ok(venv);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("moto_server");
            if candidate.exists() {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "moto_server not found: run scripts/setup.sh (it creates .venv with moto[server]) or set MOTO_SERVER"
    )
}

/// The patches that make moto's transit-gateway answers follow the EC2 API reference
/// (moto-notes §5): `tests/moto/patched_server.py`, run by the Python next to
/// `moto_server`. Without that Python (a `moto_server` from elsewhere) moto runs unpatched.
pub fn patch_file() -> PathBuf {
    workspace_root().join("tests/moto/patched_server.py")
}

fn patched_command(moto_server: &std::path::Path) -> Command {
    let python = moto_server
        .parent()
        .map(|d| d.join("python3"))
        .filter(|p| p.exists());
    match python {
        Some(py) if patch_file().exists() => {
            let mut c = Command::new(py);
            c.arg(patch_file());
            c
        }
        _ => Command::new(moto_server),
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// One HTTP/1.0 request to the server; returns (status, body).
fn http(port: u16, method: &str, path: &str, body: &str) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("malformed HTTP answer from moto")?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

impl MotoServer {
    /// Starts moto on a free loopback port with AWS managed policies loaded and Docker-free
    /// Lambda invoke, and waits until it answers.
    pub fn start() -> Result<Self> {
        let exe = moto_server_path()?;
        let port = free_port()?;
        let mut cmd = patched_command(&exe);
        let child = cmd
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let mut server = MotoServer {
            child,
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        loop {
            if let Ok((200, _)) = http(port, "GET", "/moto-api/data.json", "") {
                break;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                bail!("moto_server exited early with {status}");
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("moto_server did not answer on port {port} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        server.configure_lambda_without_docker()?;
        Ok(server)
    }

    /// moto-notes §Lambda: Invoke without Docker, set before any function is created.
    fn configure_lambda_without_docker(&mut self) -> Result<()> {
        let (status, body) = http(
            self.port,
            "POST",
            "/moto-api/config",
            r#"{"lambda":{"use_docker":false}}"#,
        )?;
        // moto 5.2 answers 201 Created here.
        if !(200..300).contains(&status) {
            bail!("moto /moto-api/config answered {status}: {body}");
        }
        Ok(())
    }

    /// Wipes all state (a new default VPC appears).
    pub fn reset(&self) -> Result<()> {
        let (status, body) = http(self.port, "POST", "/moto-api/reset", "")?;
        if status != 200 {
            bail!("moto reset answered {status}: {body}");
        }
        Ok(())
    }

    /// SDK configuration pointing at this server: dummy signed credentials (moto routes on
    /// the SigV4 scope), us-east-1, one attempt (moto answers gaps with HTTP 500).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        // SAFETY of env: tests set nothing globally; the options carry everything.
        let options = egress_probe::aws::AwsOptions {
            region: Some(REGION.to_string()),
            endpoint_url: Some(self.endpoint.clone()),
            max_attempts: Some(1),
            ..Default::default()
        };
        let base = egress_probe::aws::load_config(&options).await;
        base.into_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "testing", "testing", None, None, "moto",
                    ),
                ),
            )
            .build()
    }

    /// Environment variables that point a child process (the installer, a probe) here.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_REGION".into(), REGION.into()),
            ("AWS_DEFAULT_REGION".into(), REGION.into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ]
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
