//! Running the real probe binary (`egress-probe-lambda --once`) inside a subnet's Lambda ENI
//! namespace, with the lab's resolver, CA and AWS endpoint.

use super::Lab;
use anyhow::{Context, Result, bail};
use egress_probe::model::Report;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// The probe binary of this workspace: `cargo build -p egress-probe --bin
/// egress-probe-lambda` once per process (quick when fresh), then copied to a private
/// file, because a target directory shared by several worktrees may be overwritten by
/// another checkout's build at any time. `EGRESS_PROBE_LAMBDA_BIN` overrides.
pub fn probe_binary() -> Result<PathBuf> {
    static BIN: std::sync::OnceLock<std::result::Result<PathBuf, String>> =
        std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("EGRESS_PROBE_LAMBDA_BIN") {
            return Ok(PathBuf::from(p));
        }
        super::dataplane::build_private_copy("egress-probe-lambda", "egress-probe")
            .map_err(|e| format!("{e:#}"))
    })
    .clone()
    .map_err(anyhow::Error::msg)
}

/// Settings of one probe run.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    /// Space-separated targets (`dns:name`, `tcp://host:port`, `https://url`).
    pub targets: String,
    pub dns_timeout: Duration,
    pub connect_timeout: Duration,
    pub https_timeout: Duration,
    /// `EGRESS_PROBE_DIAGNOSE` (e.g. `off`, `auto`).
    pub diagnose: Option<String>,
    /// The invocation's total time (`--timeout-ms`).
    pub invocation_timeout: Duration,
}

impl Default for ProbeRun {
    fn default() -> Self {
        ProbeRun {
            targets: "dns:www.lab.example tcp://www.lab.example:80 https://www.lab.example/".into(),
            dns_timeout: Duration::from_millis(1500),
            connect_timeout: Duration::from_millis(1500),
            https_timeout: Duration::from_millis(1500),
            diagnose: None,
            invocation_timeout: Duration::from_secs(15),
        }
    }
}

impl Lab {
    /// Runs `egress-probe-lambda --once --event <event>` in the ENI namespace of
    /// `subnet_id` and parses the report it prints. The probe's `AWS_ENDPOINT_URL` is
    /// [`Lab::ec2_endpoint_url_for`]: an `ec2` interface endpoint when the VPC has one, else
    /// the internet-side API address, reachable only if the subnet's egress works.
    pub fn run_probe_once(
        &self,
        subnet_id: &str,
        event: &serde_json::Value,
        run: &ProbeRun,
    ) -> Result<Report> {
        let bin = probe_binary()?;
        let host = self
            .host_ns_for_subnet(subnet_id)
            .with_context(|| format!("no Lambda ENI in subnet {subnet_id}"))?;
        let event_file = self.dir().join(format!("event-{}.json", host.ns.name()));
        std::fs::write(&event_file, serde_json::to_vec(event)?)?;
        let vpc = self
            .config_of_subnet(subnet_id)
            .context("the subnet is in none of the lab's VPCs")?;
        let subnet = vpc.subnet(subnet_id).context("unknown subnet")?;
        let groups = vpc
            .enis
            .iter()
            .find(|e| matches!(&host.kind, super::HostKind::Eni(id) if *id == e.id))
            .map(|e| e.groups.join(","))
            .unwrap_or_default();
        let mut cmd = host.ns.command(&bin);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("EGRESS_PROBE_TARGETS", &run.targets)
            .env(
                "EGRESS_PROBE_DNS_TIMEOUT_MS",
                run.dns_timeout.as_millis().to_string(),
            )
            .env(
                "EGRESS_PROBE_CONNECT_TIMEOUT_MS",
                run.connect_timeout.as_millis().to_string(),
            )
            .env(
                "EGRESS_PROBE_HTTPS_TIMEOUT_MS",
                run.https_timeout.as_millis().to_string(),
            )
            .env("EGRESS_PROBE_SUBNET_ID", subnet_id)
            .env("EGRESS_PROBE_AZ", &subnet.az)
            .env("EGRESS_PROBE_VPC_ID", &vpc.vpc_id)
            .env("EGRESS_PROBE_SECURITY_GROUP_IDS", groups)
            .env("EGRESS_PROBE_EXTRA_CA_FILE", self.ca_file())
            .env(
                "EGRESS_PROBE_RESOLV_CONF",
                host.ns.etc_dir().join("resolv.conf"),
            )
            .env("AWS_ENDPOINT_URL", self.ec2_endpoint_url_for(subnet_id))
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", crate::moto::REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(["--once", "--event"])
            .arg(&event_file)
            .arg("--timeout-ms")
            .arg(run.invocation_timeout.as_millis().to_string())
            .stdin(Stdio::null());
        if let Some(d) = &run.diagnose {
            cmd.env("EGRESS_PROBE_DIAGNOSE", d);
        }
        let out = cmd.output().context("running egress-probe-lambda")?;
        if !out.status.success() {
            bail!(
                "egress-probe-lambda exited {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "parsing the probe's report: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}
