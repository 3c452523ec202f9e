//! The whole product in the lab: moto holds a VPC, the lab builds its data plane, the Invoke
//! front runs probe functions in their subnets' namespaces, and the real `egress-probe`
//! command installs and runs probes through the front. Used by scenario 10
//! (`tests/tests/lab_run.rs`) and by the README demo (`egress-probe-lab demo`).
//!
//! The default scenario: one application function (`app`) across two subnets in two AZs of
//! a VPC whose private subnets reach the internet through a NAT gateway; a fault removes
//! one subnet's default route (its own route table, local route only).

use crate::invoke_front::{FrontConfig, InvokeFront, LabPlacements};
use crate::lab::centralised::{self, Central, FirewallPlacement};
use crate::lab::scenarios::{self, BaseOptions, BaseVpc};
use crate::lab::{Lab, LabOptions};
use crate::moto::{MotoServer, REGION};
use crate::runtime_api::workspace_binary;
use anyhow::{Context, Result, bail};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime, VpcConfig};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The application function whose subnets get probes (`install --like-function app`).
pub const APP_FUNCTION: &str = "app";
/// What the probes check: a name the lab's internet serves (DNS, TCP 443, HTTPS with the
/// lab's test CA). IPv4-only, like the VPC: a dual-stack name would add IPv6 attempts that
/// an IPv4-only subnet cannot make (ENETUNREACH), which is scenario 11's business.
pub const LAB_TARGETS: &[&str] = &[
    "dns:v4.lab.example",
    "tcp://v4.lab.example:443",
    "https://v4.lab.example/",
];

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// A running lab with its front. Fields drop in order: the front (its execution
/// environments) first, then the lab's namespaces, then moto.
pub struct LabRun {
    pub front: InvokeFront,
    pub placements: LabPlacements,
    pub lab: Lab,
    /// The VPC with the application function (for the centralised layout: the workload
    /// VPC, with its function route table as `private_rt` and the egress VPC's NAT/IGW).
    pub base: BaseVpc,
    /// The centralised-egress layout, when started with [`LabRun::start_centralised`].
    pub central: Option<Central>,
    /// Scratch: the bootstrap zip, the installer's HOME, the front's sockets and logs.
    pub work: tempfile::TempDir,
    pub zip: PathBuf,
    pub installer: PathBuf,
    pub moto: MotoServer,
}

/// A zip holding the probe binary as `bootstrap`, as `cargo lambda build` makes it (the
/// installer checks its architecture and hashes it; the lab runs the same binary from the
/// target directory).
pub fn bootstrap_zip(probe: &Path, out: &Path) -> Result<()> {
    // Stripped like a release bootstrap (a debug build is ~90 MB, slow to upload through
    // moto); the unstripped binary when `strip` is not installed.
    let stripped = out.with_extension("bootstrap");
    let strip_ok = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let source = if strip_ok { stripped.as_path() } else { probe };
    let bytes = std::fs::read(source).with_context(|| format!("reading {}", source.display()))?;
    let _ = std::fs::remove_file(&stripped);
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    w.start_file("bootstrap", options)?;
    w.write_all(&bytes)?;
    w.finish()?;
    Ok(())
}

impl LabRun {
    /// moto, the two-AZ base VPC, the lab, the front, and the `app` function (created
    /// through the front, so the pass-through is exercised from the first call).
    pub async fn start_two_az() -> Result<LabRun> {
        Self::start(false).await
    }

    /// moto, a workload VPC behind a transit gateway (function subnets in two AZs) with an
    /// egress VPC (firewall endpoints with an allowlist of the lab's domain, NAT gateway
    /// per AZ), the lab of all of it, the front, and the `app` function.
    pub async fn start_centralised() -> Result<LabRun> {
        Self::start(true).await
    }

    async fn start(centralised_egress: bool) -> Result<LabRun> {
        let work = tempfile::Builder::new()
            .prefix("eplab-run-")
            .tempdir()
            .context("creating a scratch directory")?;
        // Private copies: a target directory shared between worktrees can be rewritten by
        // another build while the lab runs.
        let bin = work.path().join("bin");
        std::fs::create_dir_all(&bin)?;
        let copy = |name: &str| -> Result<PathBuf> {
            let from = workspace_binary(name)?;
            // Prebuilt for this run (scripts/run_suites.py): used in place, never copied
            // (a copy still open for writing while another thread forks makes its exec
            // fail with ETXTBSY).
            if crate::moto::prebuilt_bins().is_some() {
                return Ok(from);
            }
            let to = bin.join(name);
            std::fs::copy(&from, &to)
                .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
            Ok(to)
        };
        let probe = copy("egress-probe-lambda")?;
        let lab_runtime = copy("lab-runtime")?;
        let installer = copy("egress-probe")?;
        let services = copy("lab-services")?;
        let zip = work.path().join("bootstrap.zip");
        bootstrap_zip(&probe, &zip)?;

        let moto = MotoServer::start()?;
        let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
        let options = LabOptions {
            services_bin: services,
            internet_delay: None,
        };
        let (base, central, lab) = if centralised_egress {
            let mut c = centralised::build(&ec2, FirewallPlacement::InEgressVpc).await?;
            let data = c.allow_lab_policy();
            let mut lab = Lab::start_multi(&moto, &c.vpc_ids(), options).await?;
            lab.nfw().set(data);
            lab.sync().await?;
            let base = BaseVpc {
                vpc_id: c.workload_vpc.clone(),
                public_subnet: c.egress.public_subnets[0].clone(),
                function_subnets: c.function_subnets.clone(),
                igw: c.egress.igw.clone().unwrap_or_default(),
                eigw: None,
                nat: c.egress.nats[0].clone(),
                public_rt: c.egress.public_rts[0].clone(),
                private_rt: c.function_rt.clone(),
                sg: c.sg.clone(),
                enis: c.enis.clone(),
                ipv6_cidr: None,
            };
            (base, Some(c), lab)
        } else {
            let base = scenarios::base(
                &ec2,
                &BaseOptions {
                    function_subnets: 2,
                    ..Default::default()
                },
            )
            .await?;
            let lab = Lab::start(&moto, &base.vpc_id, options).await?;
            (base, None, lab)
        };
        let placements = LabPlacements::from_lab(&lab);
        let front = InvokeFront::start(FrontConfig {
            moto_endpoint: moto.endpoint.clone(),
            sdk_config: moto.sdk_config().await,
            probe_exe: probe,
            lab_runtime_exe: lab_runtime,
            work_dir: work.path().join("front"),
            placement: placements.as_fn(),
            nfw: lab.nfw().clone(),
        })
        .await?;
        let run = LabRun {
            front,
            placements,
            lab,
            base,
            central,
            work,
            zip,
            installer,
            moto,
        };
        run.create_app_function().await?;
        Ok(run)
    }

    /// SDK configuration whose every call goes through the front.
    pub async fn sdk_via_front(&self) -> aws_config::SdkConfig {
        self.moto
            .sdk_config()
            .await
            .into_builder()
            .endpoint_url(self.front.endpoint())
            .build()
    }

    async fn create_app_function(&self) -> Result<()> {
        let sdk = self.sdk_via_front().await;
        // IAM has no SDK crate here: the role's ARN is deterministic in moto's account.
        let role = create_role(&self.front.endpoint(), "app-role").await?;
        aws_sdk_lambda::Client::new(&sdk)
            .create_function()
            .function_name(APP_FUNCTION)
            .runtime(Runtime::Providedal2023)
            .handler("bootstrap")
            .role(role)
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(std::fs::read(&self.zip)?))
                    .build(),
            )
            .vpc_config(
                VpcConfig::builder()
                    .set_subnet_ids(Some(self.base.function_subnets.clone()))
                    .security_group_ids(&self.base.sg)
                    .build(),
            )
            .send()
            .await
            .context("CreateFunction app")?;
        Ok(())
    }

    /// The fault: `subnet` gets its own route table with only the local route (no
    /// `0.0.0.0/0`), through the EC2 API; then the lab re-syncs. Returns the table's ID.
    pub async fn remove_default_route_of(&mut self, subnet: &str) -> Result<String> {
        let ec2 = self.lab.ec2().clone();
        let rtb = ec2
            .create_route_table()
            .vpc_id(&self.base.vpc_id)
            .send()
            .await
            .context("CreateRouteTable")?
            .route_table()
            .and_then(|r| r.route_table_id())
            .map(String::from)
            .context("no route table id")?;
        let tables = ec2
            .describe_route_tables()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("association.subnet-id")
                    .values(subnet)
                    .build(),
            )
            .send()
            .await
            .context("DescribeRouteTables")?;
        let assoc = tables
            .route_tables()
            .iter()
            .flat_map(|t| t.associations())
            .find(|a| a.subnet_id() == Some(subnet))
            .and_then(|a| a.route_table_association_id())
            .map(String::from)
            .with_context(|| format!("{subnet} has no explicit route table association"))?;
        ec2.replace_route_table_association()
            .association_id(assoc)
            .route_table_id(&rtb)
            .send()
            .await
            .context("ReplaceRouteTableAssociation")?;
        self.lab.sync().await?;
        self.placements.update(&self.lab);
        Ok(rtb)
    }

    /// The centralised-egress fault: the workload attachment loses its subnet in the AZ of
    /// `subnet` (R37), then the lab re-syncs. Returns the attachment's ID.
    pub async fn remove_attachment_az_of(&mut self, subnet: &str) -> Result<String> {
        let c = self
            .central
            .as_ref()
            .context("not a centralised-egress lab")?;
        let i = c
            .function_subnets
            .iter()
            .position(|s| s == subnet)
            .with_context(|| format!("{subnet} is not a function subnet"))?;
        c.remove_workload_attachment_az(self.lab.ec2(), i).await?;
        let att = c.workload_attachment.clone();
        self.lab.sync().await?;
        self.placements.update(&self.lab);
        Ok(att)
    }

    /// Runs the real `egress-probe` command against the front, bounded by `limit`.
    pub fn installer(&self, args: &[&str], limit: Duration) -> Result<Output> {
        let home = self.work.path().join("home");
        std::fs::create_dir_all(&home)?;
        let mut cmd = Command::new(&self.installer);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("AWS_ENDPOINT_URL", self.front.endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        run_bounded(cmd, limit)
    }

    /// `egress-probe install --like-function app` with the lab's targets and zip.
    pub fn install(&self) -> Result<Output> {
        let zip = self.zip.display().to_string();
        let mut args = vec!["install", "--like-function", APP_FUNCTION, "--zip", &zip];
        for t in LAB_TARGETS {
            args.extend(["--target", t]);
        }
        self.installer(&args, Duration::from_secs(120))
    }

    /// `egress-probe run` with extra arguments (e.g. `--output json`).
    pub fn run(&self, extra: &[&str]) -> Result<Output> {
        let mut args = vec!["run"];
        args.extend_from_slice(extra);
        self.installer(&args, Duration::from_secs(180))
    }

    /// The AZ name of a subnet, from the lab's configuration.
    pub fn az_of(&self, subnet: &str) -> Option<String> {
        self.lab.config().subnet(subnet).map(|s| s.az.clone())
    }
}

/// The pid of the installer process running now (0 = none).
static RUNNING_INSTALLER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Ends the installer process that is running now, if any (the demo's Ctrl-C handler:
/// the lab can only be removed once nothing waits on it).
pub fn kill_running_installer() {
    let pid = RUNNING_INSTALLER.swap(0, std::sync::atomic::Ordering::SeqCst);
    if pid != 0 {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs `cmd` and kills it if it outlives `limit`.
fn run_bounded(mut cmd: Command, limit: Duration) -> Result<Output> {
    let child = cmd.spawn().context("starting the installer")?;
    let pid = child.id();
    RUNNING_INSTALLER.store(pid, std::sync::atomic::Ordering::SeqCst);
    let result = wait_bounded(child, pid, limit);
    RUNNING_INSTALLER.store(0, std::sync::atomic::Ordering::SeqCst);
    result
}

fn wait_bounded(child: std::process::Child, pid: u32, limit: Duration) -> Result<Output> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => Ok(out?),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            bail!("the installer did not finish within {limit:?} (killed pid {pid})")
        }
    }
}

/// CreateRole through `endpoint` (awsQuery form POST; moto routes on the SigV4 scope).
pub async fn create_role(endpoint: &str, name: &str) -> Result<String> {
    use http_body_util::BodyExt;
    let form = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let body = format!(
        "Action=CreateRole&Version=2010-05-08&RoleName={}&AssumeRolePolicyDocument={}",
        form(name),
        form(TRUST)
    );
    let addr = endpoint.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    let conn = tokio::spawn(conn);
    let req = http::Request::post("/")
        .header("host", addr)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00",
        )
        .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let text = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("reading CreateRole answer: {e}"))?
        .to_bytes();
    conn.abort();
    let text = String::from_utf8_lossy(&text);
    if !status.is_success() {
        bail!("CreateRole answered {status}: {text}");
    }
    text.split("<Arn>")
        .nth(1)
        .and_then(|s| s.split("</Arn>").next())
        .map(str::to_string)
        .with_context(|| format!("no role ARN in {text}"))
}
