//! The data plane built from a [`VpcConfig`]: router, hosts, NAT gateways, Amazon DNS,
//! the internet, and the AWS API bridge. See the module docs of [`crate::lab`].

use super::addrs::{self, map_v6_net};
use super::config::{self, RouteTarget, VpcConfig};
use super::netns::{Netns, remove_stale, run};
use super::nft;
use anyhow::{Context, Result, bail};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

/// Table the router uses for traffic arriving from the internet and the DNS host.
const RETURN_TABLE: u32 = 50;
/// Base of the per-subnet routing tables (table = base + subnet index).
const SUBNET_TABLE_BASE: u32 = 100;

static LAB_COUNTER: AtomicU32 = AtomicU32::new(0);

/// One subnet's bridge in the router.
#[derive(Debug, Clone)]
pub struct SubnetPlane {
    pub index: usize,
    pub bridge: String,
    pub table: u32,
    pub v4: Ipv4Net,
    /// The lab (2001:db8) IPv6 prefix of the subnet.
    pub v6: Option<Ipv6Net>,
    pub az: String,
}

impl SubnetPlane {
    /// The VPC router's address in this subnet (base + 1).
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.v4.network()) + 1)
    }
    pub fn gateway_v6(&self) -> Option<Ipv6Addr> {
        self.v6.map(|n| Ipv6Addr::from(u128::from(n.network()) + 1))
    }
}

/// What a host in the VPC is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKind {
    /// A Lambda ENI (probe host), by ENI id.
    Eni(String),
    /// A NAT gateway, by id.
    Nat(String),
    /// A custom DNS server from the DHCP options.
    DnsServer(IpAddr),
    /// The ENI of an `ec2` interface endpoint in one subnet: (endpoint id, subnet id). It
    /// bridges HTTP on port 80 to moto like the internet's AWS API address.
    Endpoint(String, String),
}

/// A namespace attached to a subnet's bridge.
#[derive(Debug)]
pub struct Host {
    pub kind: HostKind,
    pub ns: Netns,
    pub subnet_id: String,
    pub v4: Ipv4Addr,
    pub v6: Option<Ipv6Addr>,
    /// The router-side veth name.
    pub veth: String,
    children: Vec<Child>,
}

impl Drop for Host {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Where the lab finds its binaries.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// `lab-services` ([`LabOptions::discover`] builds and copies it).
    pub services_bin: PathBuf,
    /// Round-trip delay added on the router ↔ internet link (half each way) by a userspace
    /// delay line over two TUN devices (the kernel has no netem). `None`: a plain veth.
    pub internet_delay: Option<Duration>,
}

impl LabOptions {
    /// Builds this workspace's `lab-services` once per process and uses a private copy of
    /// it (a target dir shared between worktrees can hold another branch's build).
    pub fn discover() -> Result<Self> {
        static BIN: std::sync::OnceLock<std::result::Result<PathBuf, String>> =
            std::sync::OnceLock::new();
        let bin = BIN
            .get_or_init(|| {
                build_private_copy("lab-services", "egress-probe-e2e").map_err(|e| format!("{e:#}"))
            })
            .clone()
            .map_err(anyhow::Error::msg)?;
        Ok(LabOptions {
            services_bin: bin,
            internet_delay: None,
        })
    }
}

/// Builds `name` from this workspace (`cargo build -p <package> --bin <name>`) and copies
/// it to a private file that lives for the rest of the process (removed at exit by no one:
/// it sits in the system temp dir under `eplab-bin-<pid>-`). A shared target directory can
/// be rewritten by another worktree's build between our build and our run; the copy cannot.
pub fn build_private_copy(name: &str, package: &str) -> Result<PathBuf> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "-q", "-p", package, "--bin", name])
        .current_dir(crate::moto::workspace_root())
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("building {name}"))?;
    if !status.success() {
        bail!("cargo build -p {package} --bin {name} failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::moto::workspace_root().join("target"));
    let built = target.join("debug").join(name);
    let dir = std::env::temp_dir().join(format!("eplab-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let copy = dir.join(name);
    std::fs::copy(&built, &copy).with_context(|| format!("copying {}", built.display()))?;
    Ok(copy)
}

/// The host side of the AWS API bridge: a unix socket whose connections are relayed to
/// moto on loopback. The lab's namespaces reach it only through `lab-services tcp-unix`.
struct ApiBridge {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ApiBridge {
    fn start(socket: &Path, moto_port: u16) -> Result<Self> {
        let listener = std::os::unix::net::UnixListener::bind(socket)
            .with_context(|| format!("binding {}", socket.display()))?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((unix, _)) => {
                        std::thread::spawn(move || relay(unix, moto_port));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(ApiBridge {
            stop,
            thread: Some(thread),
        })
    }
}

fn relay(unix: std::os::unix::net::UnixStream, port: u16) {
    let _ = unix.set_nonblocking(false);
    let Ok(tcp) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let (Ok(mut u2), Ok(mut t2)) = (unix.try_clone(), tcp.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut u2, &mut t2);
        let _ = t2.shutdown(std::net::Shutdown::Write);
    });
    let (mut u, mut t) = (unix, tcp);
    let _ = std::io::copy(&mut t, &mut u);
    let _ = u.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

impl Drop for ApiBridge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A running VPC lab for one VPC of a moto server.
///
/// Build with [`Lab::start`]; change the configuration through the EC2 API and call
/// [`Lab::sync`]; everything is removed on drop.
pub struct Lab {
    /// Unique name prefix of this lab's namespaces: `eplab<pid>-<n>`.
    pub id: String,
    pub vpc_id: String,
    ec2: aws_sdk_ec2::Client,
    options: LabOptions,
    /// Scratch directory: CA, certificates, resolv.conf files, events, the API socket.
    dir: tempfile::TempDir,
    config: VpcConfig,
    subnets: BTreeMap<String, SubnetPlane>,
    hosts: Vec<Host>,
    /// moto EIP → lab EIP.
    eips: BTreeMap<Ipv4Addr, Ipv4Addr>,
    veth_counter: u32,
    host_counter: u32,
    services: Vec<Child>,
    _bridge: ApiBridge,
    // Namespaces last: dropped after the hosts and services above.
    dns: Netns,
    inet: Netns,
    router: Netns,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.services {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.hosts.clear();
    }
}

impl Lab {
    /// Builds the lab for `vpc_id` from moto's configuration: the router, the internet with
    /// its services, Amazon DNS, the AWS API bridge, then [`Lab::sync`].
    pub async fn start(
        moto: &crate::moto::MotoServer,
        vpc_id: &str,
        options: LabOptions,
    ) -> Result<Lab> {
        for name in remove_stale() {
            eprintln!("lab: removed stale namespace {name}");
        }
        let n = LAB_COUNTER.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}{}-{n}", super::netns::PREFIX, std::process::id());
        let dir = tempfile::Builder::new()
            .prefix("eplab-")
            .tempdir()
            .context("creating the lab's scratch directory")?;
        // A private copy: a shared target dir may be rewritten by another build meanwhile.
        let mut options = options;
        let services = dir.path().join("lab-services");
        std::fs::copy(&options.services_bin, &services)
            .with_context(|| format!("copying {}", options.services_bin.display()))?;
        options.services_bin = services;
        let router = Netns::create(&format!("{id}-rt"))?;
        let inet = Netns::create(&format!("{id}-inet"))?;
        let dns = Netns::create(&format!("{id}-dns"))?;
        let bridge = ApiBridge::start(&dir.path().join("aws.sock"), moto.port)?;
        let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
        let mut lab = Lab {
            id,
            vpc_id: vpc_id.to_string(),
            ec2,
            options,
            dir,
            config: VpcConfig::default(),
            subnets: BTreeMap::new(),
            hosts: Vec::new(),
            eips: BTreeMap::new(),
            veth_counter: 0,
            host_counter: 0,
            services: Vec::new(),
            _bridge: bridge,
            dns,
            inet,
            router,
        };
        lab.build_fixed()?;
        lab.sync().await?;
        Ok(lab)
    }

    /// The scratch directory (holds `ca.pem`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The test CA's certificate (PEM) — the probe's `EGRESS_PROBE_EXTRA_CA_FILE`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The configuration the data plane was last built from.
    pub fn config(&self) -> &VpcConfig {
        &self.config
    }

    /// The router namespace, the internet namespace.
    pub fn router_ns(&self) -> &Netns {
        &self.router
    }
    pub fn inet_ns(&self) -> &Netns {
        &self.inet
    }

    /// The EC2 client pointed at moto, for scenarios and fault injection.
    pub fn ec2(&self) -> &aws_sdk_ec2::Client {
        &self.ec2
    }

    /// The endpoint a probe in the lab uses for the AWS APIs (through its egress path).
    pub fn aws_endpoint_url(&self) -> String {
        format!("http://{}:{}", addrs::AWS_API, addrs::AWS_API_PORT)
    }

    /// The EC2 API URL a probe in `subnet_id` uses: the `ec2` interface endpoint's ENI in
    /// that subnet, else in another subnet of the VPC (private DNS would resolve to one),
    /// else the internet-side AWS API address. The endpoint ENI is reached through the
    /// VPC's routes and NACLs (local route); endpoint security groups are not modelled.
    pub fn ec2_endpoint_url_for(&self, subnet_id: &str) -> String {
        let endpoint_hosts = || {
            self.hosts
                .iter()
                .filter(|h| matches!(h.kind, HostKind::Endpoint(..)))
        };
        endpoint_hosts()
            .find(|h| h.subnet_id == subnet_id)
            .or_else(|| endpoint_hosts().next())
            .map(|h| format!("http://{}:80", h.v4))
            .unwrap_or_else(|| self.aws_endpoint_url())
    }

    /// Every host currently in the lab.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The (first) Lambda ENI host of a subnet: where a probe of that subnet runs.
    pub fn host_ns_for_subnet(&self, subnet_id: &str) -> Option<&Host> {
        self.hosts
            .iter()
            .find(|h| h.subnet_id == subnet_id && matches!(h.kind, HostKind::Eni(_)))
    }

    /// The host of a Lambda ENI.
    pub fn host_for_eni(&self, eni_id: &str) -> Option<&Host> {
        self.hosts
            .iter()
            .find(|h| h.kind == HostKind::Eni(eni_id.to_string()))
    }

    /// A `Command` running `program` in the probe namespace of `subnet_id` (its
    /// `/etc/resolv.conf` is the subnet's resolver).
    pub fn command_in_subnet(
        &self,
        subnet_id: &str,
        program: impl AsRef<std::ffi::OsStr>,
    ) -> Result<Command> {
        let host = self
            .host_ns_for_subnet(subnet_id)
            .with_context(|| format!("no Lambda ENI in subnet {subnet_id}: create one first"))?;
        Ok(host.ns.command(program))
    }

    /// Runs `program args…` in the probe namespace of `subnet_id`, waits (bounded by the
    /// caller's own timeouts) and returns its output.
    pub fn exec_in(
        &self,
        subnet_id: &str,
        program: &str,
        args: &[&str],
    ) -> Result<std::process::Output> {
        let mut cmd = self.command_in_subnet(subnet_id, program)?;
        cmd.args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {program} in {subnet_id}"))
    }

    /// Starts `cmd` (built with [`Netns::command`] or [`Lab::command_in_subnet`]) and
    /// returns the child; the caller owns it, and the namespace's removal kills it anyway.
    pub fn spawn(&self, cmd: &mut Command) -> Result<Child> {
        cmd.spawn().context("spawning a process in the lab")
    }

    /// The resolv.conf file the probes of a subnet use (also bind-mounted by `ip netns
    /// exec` in their namespace).
    pub fn resolv_conf_for(&self, subnet_id: &str) -> Result<PathBuf> {
        let host = self
            .host_ns_for_subnet(subnet_id)
            .with_context(|| format!("no Lambda ENI in subnet {subnet_id}"))?;
        Ok(host.ns.etc_dir().join("resolv.conf"))
    }

    /// Runs `lab-services tcp-connect` in a subnet's probe namespace: `ok`, `timeout`,
    /// `refused` or `error:…`.
    pub fn tcp_connect(&self, subnet_id: &str, target: &str, timeout: Duration) -> Result<String> {
        self.tcp_connect_with(subnet_id, target, timeout, false)
    }

    /// [`Lab::tcp_connect`]; with `random_source_port` the client binds a source port drawn
    /// uniformly from the ephemeral range, as independent execution environments would.
    pub fn tcp_connect_with(
        &self,
        subnet_id: &str,
        target: &str,
        timeout: Duration,
        random_source_port: bool,
    ) -> Result<String> {
        let bin = self.options.services_bin.to_string_lossy().to_string();
        let ms = timeout.as_millis().to_string();
        let mut args = vec!["tcp-connect", target, &ms];
        if random_source_port {
            args.push("--random-sport");
        }
        let out = self.exec_in(subnet_id, &bin, &args)?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Creates a Lambda-style ENI (`AWS Lambda VPC ENI-<function>`) in moto for a subnet
    /// with the given security groups, then syncs so its host exists. Returns the ENI id.
    pub async fn add_function_eni(
        &mut self,
        function: &str,
        subnet_id: &str,
        security_groups: &[String],
    ) -> Result<String> {
        let out = self
            .ec2
            .create_network_interface()
            .subnet_id(subnet_id)
            .description(format!("{} -{function}", config::LAMBDA_ENI_DESCRIPTION))
            .set_groups(Some(security_groups.to_vec()))
            .send()
            .await
            .context("CreateNetworkInterface")?;
        let id = out
            .network_interface()
            .and_then(|n| n.network_interface_id())
            .context("CreateNetworkInterface returned no id")?
            .to_string();
        self.sync().await?;
        Ok(id)
    }

    /// The router, the internet, Amazon DNS host links: everything that does not depend on
    /// the VPC configuration.
    fn build_fixed(&mut self) -> Result<()> {
        let r = &self.router;
        r.sysctl("net.ipv4.ip_forward", "1")?;
        r.sysctl("net.ipv6.conf.all.forwarding", "1")?;
        // Bridged traffic inside a subnet is not filtered (NACLs apply at subnet borders).
        r.sysctl("net.bridge.bridge-nf-call-iptables", "0")?;
        r.sysctl("net.bridge.bridge-nf-call-ip6tables", "0")?;
        let inet = self.inet.name().to_string();
        let dns = self.dns.name().to_string();
        match self.options.internet_delay {
            None => r.ip(&[
                "link",
                "add",
                nft::INET_LINK,
                "type",
                "veth",
                "peer",
                "name",
                "inet0",
                "netns",
                &inet,
            ])?,
            Some(rtt) => {
                // Two TUN devices joined by a userspace delay line, half the RTT each way.
                let child = r
                    .command(&self.options.services_bin)
                    .args([
                        "delay-line",
                        "--a",
                        nft::INET_LINK,
                        "--b",
                        "inet0",
                        "--delay-ms",
                    ])
                    .arg((rtt.as_millis() / 2).to_string())
                    .stdin(Stdio::null())
                    .spawn()
                    .context("starting the delay line")?;
                self.services.push(child);
                let mut tries = 0;
                while r.ip(&["link", "show", "inet0"]).is_err() {
                    tries += 1;
                    if tries > 100 {
                        bail!("the delay line's TUN devices did not appear");
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                r.ip(&["link", "set", "inet0", "netns", &inet])?;
            }
        }
        r.ip(&[
            "link",
            "add",
            nft::DNS_LINK,
            "type",
            "veth",
            "peer",
            "name",
            "dns0",
            "netns",
            &dns,
        ])?;
        self.dns.ip(&[
            "link", "add", "dnsup", "type", "veth", "peer", "name", "inetdns", "netns", &inet,
        ])?;
        r.ip_batch(&format!(
            "addr add {}/30 dev {}\naddr add {}/64 dev {} nodad\nlink set {} up\naddr add {}/30 dev {}\nlink set {} up\n\
             rule add iif {} lookup {RETURN_TABLE} pref 500\nrule add iif {} lookup {RETURN_TABLE} pref 501\n",
            addrs::ROUTER_INET_V4,
            nft::INET_LINK,
            addrs::ROUTER_INET_V6,
            nft::INET_LINK,
            nft::INET_LINK,
            addrs::ROUTER_DNS_V4,
            nft::DNS_LINK,
            nft::DNS_LINK,
            nft::INET_LINK,
            nft::DNS_LINK,
        ))?;
        r.ip(&[
            "-6",
            "rule",
            "add",
            "iif",
            nft::INET_LINK,
            "lookup",
            &RETURN_TABLE.to_string(),
            "pref",
            "500",
        ])?;

        let mut inet_cmds = format!(
            "addr add {}/30 dev inet0\naddr add {}/64 dev inet0 nodad\nlink set inet0 up\naddr add {}/30 dev inetdns\nlink set inetdns up\n\
             route add {} via {}\nroute add {} via {}\n",
            addrs::INET_ROUTER_V4,
            addrs::INET_ROUTER_V6,
            addrs::INET_DNS_V4,
            addrs::EIP_NET,
            addrs::ROUTER_INET_V4,
            addrs::lab_vpc_v6(),
            addrs::ROUTER_INET_V6,
        );
        for a in addrs::service_addrs() {
            match a {
                IpAddr::V4(v4) => writeln!(inet_cmds, "addr add {v4}/32 dev lo"),
                IpAddr::V6(v6) => writeln!(inet_cmds, "addr add {v6}/128 dev lo nodad"),
            }
            .ok();
        }
        self.inet.ip_batch(&inet_cmds)?;

        self.dns.ip_batch(&format!(
            "addr add {}/30 dev dns0\nlink set dns0 up\naddr add {}/30 dev dnsup\nlink set dnsup up\nroute add {} via {}\n",
            addrs::DNS_ROUTER_V4,
            addrs::DNS_INET_V4,
            addrs::SERVICES_NET_V4,
            addrs::INET_DNS_V4,
        ))?;

        // The test CA and the internet's certificate.
        let names: Vec<String> = addrs::ZONE.iter().map(|z| z.name.to_string()).collect();
        write_test_ca(self.dir.path(), names)?;
        let bin = self.options.services_bin.clone();
        let child = self
            .inet
            .command(&bin)
            .arg("inet")
            .arg("--cert")
            .arg(self.dir.path().join("cert.pem"))
            .arg("--key")
            .arg(self.dir.path().join("key.pem"))
            .stdin(Stdio::null())
            .spawn()
            .context("starting lab-services inet")?;
        self.services.push(child);
        let child = self
            .inet
            .command(&bin)
            .args(["tcp-unix", "--listen"])
            .arg(format!("{}:{}", addrs::AWS_API, addrs::AWS_API_PORT))
            .arg("--socket")
            .arg(self.dir.path().join("aws.sock"))
            .stdin(Stdio::null())
            .spawn()
            .context("starting the AWS API bridge")?;
        self.services.push(child);
        wait_listening(&self.inet, &format!("{}:443", addrs::ZONE[0].v4), "tcp")?;
        wait_listening(&self.inet, &format!("{}:53", addrs::INET_DNS), "udp")?;
        Ok(())
    }

    fn next_veth(&mut self) -> String {
        self.veth_counter += 1;
        format!("v{}", self.veth_counter)
    }

    /// Re-reads the configuration through the EC2 API and makes the data plane match it:
    /// new subnets get bridges, NAT gateways come and go with their state, Lambda ENIs and
    /// custom DNS servers get hosts, and routes, NACLs, security groups and the DNS switch
    /// are rewritten.
    pub async fn sync(&mut self) -> Result<()> {
        let cfg = config::read(&self.ec2, &self.vpc_id).await?;
        self.apply(cfg)
    }

    fn apply(&mut self, cfg: VpcConfig) -> Result<()> {
        // Subnets.
        for s in &cfg.subnets {
            if self.subnets.contains_key(&s.id) {
                continue;
            }
            let index = self.subnets.len();
            let plane = SubnetPlane {
                index,
                bridge: format!("bs{index}"),
                table: SUBNET_TABLE_BASE + index as u32,
                v4: s.cidr_v4,
                v6: s.cidr_v6.map(map_v6_net),
                az: s.az.clone(),
            };
            let mut cmds = format!(
                "link add {b} type bridge\naddr add {gw}/{len} dev {b}\nlink set {b} up\nrule add iif {b} lookup {t} pref {p}\n",
                b = plane.bridge,
                gw = plane.gateway(),
                len = plane.v4.prefix_len(),
                t = plane.table,
                p = 1000 + index,
            );
            if let (Some(v6), Some(gw6)) = (plane.v6, plane.gateway_v6()) {
                writeln!(
                    cmds,
                    "addr add {gw6}/{} dev {} nodad",
                    v6.prefix_len(),
                    plane.bridge
                )
                .ok();
            }
            self.router.ip_batch(&cmds)?;
            self.router.ip(&[
                "-6",
                "rule",
                "add",
                "iif",
                &plane.bridge,
                "lookup",
                &plane.table.to_string(),
                "pref",
                &(1000 + index).to_string(),
            ])?;
            self.subnets.insert(s.id.clone(), plane);
        }

        // Hosts that no longer exist (deleted NAT, deleted ENI, changed DHCP servers).
        let want_nats: BTreeSet<String> = cfg
            .nat_gateways
            .iter()
            .filter(|n| n.state == "available")
            .map(|n| n.id.clone())
            .collect();
        let want_enis: BTreeSet<String> = cfg.enis.iter().map(|e| e.id.clone()).collect();
        let want_dns: BTreeSet<IpAddr> = cfg
            .dhcp_dns_servers
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|ip| self.subnet_containing(*ip).is_some())
            .collect();
        let want_endpoints: BTreeSet<(String, String)> = cfg
            .ec2_endpoints
            .iter()
            .filter(|e| e.state == "available")
            .flat_map(|e| e.subnet_ids.iter().map(|s| (e.id.clone(), s.clone())))
            .filter(|(_, s)| self.subnets.contains_key(s))
            .collect();
        self.hosts.retain(|h| match &h.kind {
            HostKind::Nat(id) => want_nats.contains(id),
            HostKind::Eni(id) => want_enis.contains(id),
            HostKind::DnsServer(ip) => want_dns.contains(ip),
            HostKind::Endpoint(e, s) => want_endpoints.contains(&(e.clone(), s.clone())),
        });

        // Lambda ENIs.
        for e in &cfg.enis {
            if self.host_for_eni(&e.id).is_some() {
                continue;
            }
            let host = self.add_host(
                HostKind::Eni(e.id.clone()),
                &e.subnet_id,
                Some(e.private_ip),
                &cfg,
            )?;
            self.hosts.push(host);
        }
        // NAT gateways (a lab address inside the subnet: moto's is random and outside).
        for n in cfg
            .nat_gateways
            .iter()
            .filter(|n| want_nats.contains(&n.id))
        {
            if self
                .hosts
                .iter()
                .any(|h| h.kind == HostKind::Nat(n.id.clone()))
            {
                continue;
            }
            if !self.subnets.contains_key(&n.subnet_id) {
                continue;
            }
            let host = self.add_host(HostKind::Nat(n.id.clone()), &n.subnet_id, None, &cfg)?;
            host.ns.sysctl("net.ipv4.ip_forward", "1")?;
            host.ns.nft(&format!(
                "table ip eplab_nat {{\n  chain post {{\n    type nat hook postrouting priority srcnat; policy accept;\n    oifname \"eth0\" ip saddr != {} masquerade\n  }}\n}}\n",
                host.v4
            ))?;
            if let Some(moto_eip) = n.public_ip.filter(|_| n.public) {
                let next = Ipv4Addr::from(u32::from(addrs::EIP_BASE) + self.eips.len() as u32);
                self.eips.entry(moto_eip).or_insert(next);
            }
            self.hosts.push(host);
        }
        // Custom DNS servers (DHCP options): hosts answering the lab zone themselves.
        for ip in &want_dns {
            if self
                .hosts
                .iter()
                .any(|h| h.kind == HostKind::DnsServer(*ip))
            {
                continue;
            }
            let IpAddr::V4(v4) = ip else { continue };
            let Some(subnet) = self.subnet_containing(*ip) else {
                continue;
            };
            let mut host = self.add_host(HostKind::DnsServer(*ip), &subnet, Some(*v4), &cfg)?;
            let child = host
                .ns
                .command(&self.options.services_bin)
                .args(["dns-auth", "--listen", &v4.to_string()])
                .stdin(Stdio::null())
                .spawn()
                .context("starting a custom DNS server")?;
            host.children.push(child);
            wait_listening(&host.ns, &format!("{v4}:53"), "udp")?;
            self.hosts.push(host);
        }

        // EC2 interface endpoint ENIs (a lab address: moto's is outside the subnet).
        for (ep, subnet) in &want_endpoints {
            let kind = HostKind::Endpoint(ep.clone(), subnet.clone());
            if self.hosts.iter().any(|h| h.kind == kind) {
                continue;
            }
            let mut host = self.add_host(kind, subnet, None, &cfg)?;
            let child = host
                .ns
                .command(&self.options.services_bin)
                .args(["tcp-unix", "--listen"])
                .arg(format!("{}:80", host.v4))
                .arg("--socket")
                .arg(self.dir.path().join("aws.sock"))
                .stdin(Stdio::null())
                .spawn()
                .context("starting an ec2 endpoint bridge")?;
            host.children.push(child);
            wait_listening(&host.ns, &format!("{}:80", host.v4), "tcp")?;
            self.hosts.push(host);
        }

        self.config = cfg;
        self.write_routes()?;
        self.write_router_rules()?;
        self.write_security_groups()?;
        self.write_dns()?;
        Ok(())
    }

    fn subnet_containing(&self, ip: IpAddr) -> Option<String> {
        self.subnets
            .iter()
            .find(|(_, p)| match ip {
                IpAddr::V4(a) => p.v4.contains(&a),
                IpAddr::V6(a) => p.v6.is_some_and(|n| n.contains(&a)),
            })
            .map(|(id, _)| id.clone())
    }

    /// Creates a host namespace on a subnet's bridge. `addr` = the address from the EC2
    /// API; `None` = a lab-chosen free address at the top of the subnet.
    fn add_host(
        &mut self,
        kind: HostKind,
        subnet_id: &str,
        addr: Option<Ipv4Addr>,
        cfg: &VpcConfig,
    ) -> Result<Host> {
        let plane = self
            .subnets
            .get(subnet_id)
            .with_context(|| format!("subnet {subnet_id} is not in the lab"))?
            .clone();
        let v4 =
            match addr {
                Some(a) => a,
                None => {
                    let used: BTreeSet<Ipv4Addr> =
                        cfg.enis
                            .iter()
                            .map(|e| e.private_ip)
                            .chain(self.hosts.iter().map(|h| h.v4))
                            .chain(cfg.dhcp_dns_servers.iter().flatten().filter_map(
                                |ip| match ip {
                                    IpAddr::V4(a) => Some(*a),
                                    IpAddr::V6(_) => None,
                                },
                            ))
                            .collect();
                    let top = u32::from(plane.v4.broadcast()) - 1;
                    let base = u32::from(plane.v4.network()) + 4;
                    (base..=top)
                        .rev()
                        .map(Ipv4Addr::from)
                        .find(|a| !used.contains(a))
                        .context("subnet full")?
                }
            };
        let v6 = plane
            .v6
            .map(|n| Ipv6Addr::from(u128::from(n.network()) | u128::from(u32::from(v4))));
        self.host_counter += 1;
        let role = match &kind {
            HostKind::Eni(_) => "eni",
            HostKind::Nat(_) => "nat",
            HostKind::DnsServer(_) => "cdns",
            HostKind::Endpoint(..) => "vpce",
        };
        let ns = Netns::create(&format!("{}-{role}{}", self.id, self.host_counter))?;
        let veth = self.next_veth();
        self.router.ip(&[
            "link",
            "add",
            &veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            ns.name(),
        ])?;
        self.router.ip_batch(&format!(
            "link set {veth} master {}\nlink set {veth} up\n",
            plane.bridge
        ))?;
        let mut cmds = format!(
            "addr add {v4}/{} dev eth0\nlink set eth0 up\nroute add default via {}\n",
            plane.v4.prefix_len(),
            plane.gateway()
        );
        if let (Some(a), Some(n), Some(gw)) = (v6, plane.v6, plane.gateway_v6()) {
            writeln!(
                cmds,
                "addr add {a}/{} dev eth0 nodad\nroute add ::/0 via {gw}",
                n.prefix_len()
            )
            .ok();
        }
        ns.ip_batch(&cmds)?;
        Ok(Host {
            kind,
            ns,
            subnet_id: subnet_id.to_string(),
            v4,
            v6,
            veth,
            children: Vec::new(),
        })
    }

    fn nat_host(&self, id: &str) -> Option<&Host> {
        self.hosts
            .iter()
            .find(|h| h.kind == HostKind::Nat(id.to_string()))
    }

    /// Routing: one table per subnet from its effective route table; the kernel does the
    /// longest-prefix match; blackholes and missing routes are silent drops.
    fn write_routes(&self) -> Result<()> {
        let cfg = &self.config;
        let dns = cfg.amazon_dns();
        let mut cmds = String::new();
        let mut flush = vec![RETURN_TABLE];
        flush.extend(self.subnets.values().map(|p| p.table));
        for t in &flush {
            // Errors on an empty table are harmless; the batch below rewrites everything.
            let _ = run(Command::new("ip").args([
                "-n",
                self.router.name(),
                "-4",
                "route",
                "flush",
                "table",
                &t.to_string(),
            ]));
            let _ = run(Command::new("ip").args([
                "-n",
                self.router.name(),
                "-6",
                "route",
                "flush",
                "table",
                &t.to_string(),
            ]));
        }
        // Return table: back into the VPC from the internet and the DNS host.
        for p in self.subnets.values() {
            writeln!(
                cmds,
                "route replace {} dev {} table {RETURN_TABLE}",
                p.v4, p.bridge
            )
            .ok();
            if let Some(v6) = p.v6 {
                writeln!(
                    cmds,
                    "route replace {v6} dev {} table {RETURN_TABLE}",
                    p.bridge
                )
                .ok();
            }
        }
        writeln!(
            cmds,
            "route replace blackhole 0.0.0.0/0 table {RETURN_TABLE}"
        )
        .ok();
        writeln!(cmds, "route replace blackhole ::/0 table {RETURN_TABLE}").ok();

        for (subnet_id, plane) in &self.subnets {
            let t = plane.table;
            // The local route: every subnet of the VPC, the rest of the block dropped.
            for c in &cfg.cidrs_v4 {
                writeln!(cmds, "route replace blackhole {c} table {t}").ok();
            }
            if cfg.cidr_v6.is_some() {
                writeln!(
                    cmds,
                    "route replace blackhole {} table {t}",
                    addrs::lab_vpc_v6()
                )
                .ok();
            }
            for p in self.subnets.values() {
                writeln!(cmds, "route replace {} dev {} table {t}", p.v4, p.bridge).ok();
                if let Some(v6) = p.v6 {
                    writeln!(cmds, "route replace {v6} dev {} table {t}", p.bridge).ok();
                }
            }
            // R19: Amazon DNS is reached whatever the route table says.
            if let Some(d) = dns {
                writeln!(
                    cmds,
                    "route replace {d}/32 via {} dev {} table {t}",
                    addrs::DNS_ROUTER_V4,
                    nft::DNS_LINK
                )
                .ok();
            }
            let mut has_default4 = false;
            let mut has_default6 = false;
            if let Some(rt) = cfg.effective_route_table(subnet_id) {
                for r in &rt.routes {
                    if r.target == RouteTarget::Local {
                        continue;
                    }
                    let dest = match r.destination {
                        IpNet::V6(n) if cfg.cidr_v6.is_some_and(|v| v.contains(&n)) => {
                            IpNet::V6(map_v6_net(n))
                        }
                        d => d,
                    };
                    if dest.prefix_len() == 0 {
                        match dest {
                            IpNet::V4(_) => has_default4 = true,
                            IpNet::V6(_) => has_default6 = true,
                        }
                    }
                    let v6 = matches!(dest, IpNet::V6(_));
                    let via = if r.state == "blackhole" {
                        None
                    } else {
                        match &r.target {
                            RouteTarget::InternetGateway(id) if cfg.igws.contains(id) => {
                                Some(if v6 {
                                    format!("via {} dev {}", addrs::INET_ROUTER_V6, nft::INET_LINK)
                                } else {
                                    format!("via {} dev {}", addrs::INET_ROUTER_V4, nft::INET_LINK)
                                })
                            }
                            RouteTarget::EgressOnlyInternetGateway(id)
                                if v6 && cfg.eigws.contains(id) =>
                            {
                                Some(format!(
                                    "via {} dev {}",
                                    addrs::INET_ROUTER_V6,
                                    nft::INET_LINK
                                ))
                            }
                            // A NAT that is not `available` (deleted, failed, pending) is a
                            // blackhole, whatever moto reports as the route state.
                            RouteTarget::NatGateway(id) if !v6 => cfg
                                .nat(id)
                                .filter(|n| n.state == "available")
                                .and_then(|_| self.nat_host(id))
                                .and_then(|h| {
                                    self.subnets
                                        .get(&h.subnet_id)
                                        .map(|p| format!("via {} dev {}", h.v4, p.bridge))
                                }),
                            _ => None,
                        }
                    };
                    match via {
                        Some(v) => writeln!(cmds, "route replace {dest} {v} table {t}"),
                        None => writeln!(cmds, "route replace blackhole {dest} table {t}"),
                    }
                    .ok();
                }
            }
            // No matching route: a silent drop, never a fall-through to another table.
            if !has_default4 {
                writeln!(cmds, "route replace blackhole 0.0.0.0/0 table {t}").ok();
            }
            if !has_default6 {
                writeln!(cmds, "route replace blackhole ::/0 table {t}").ok();
            }
        }
        self.router.ip_batch(&cmds)
    }

    /// NACLs and the internet gateway in the router's forward path.
    fn write_router_rules(&self) -> Result<()> {
        let cfg = &self.config;
        let empty = Vec::new();
        let mut ordered: Vec<&SubnetPlane> = self.subnets.values().collect();
        ordered.sort_by_key(|p| p.index);
        let acls: Vec<nft::SubnetAcl<'_>> = ordered
            .iter()
            .map(|p| {
                let id = self
                    .subnets
                    .iter()
                    .find(|(_, q)| q.index == p.index)
                    .map(|(id, _)| id.as_str())
                    .unwrap_or_default();
                nft::SubnetAcl {
                    bridge: p.bridge.clone(),
                    entries: cfg.nacl_of(id).map(|n| &n.entries).unwrap_or(&empty),
                }
            })
            .collect();
        let mut public = Vec::new();
        for n in &cfg.nat_gateways {
            if let (true, Some(moto_eip), Some(host)) =
                (n.public, n.public_ip, self.nat_host(&n.id))
                && let Some(lab) = self.eips.get(&moto_eip)
            {
                public.push((host.v4, *lab));
            }
        }
        self.router.nft(&nft::router_ruleset(&acls, &public))
    }

    /// Security groups as stateful rules in each Lambda ENI namespace.
    fn write_security_groups(&self) -> Result<()> {
        let cfg = &self.config;
        let exempt: Vec<IpAddr> = cfg.amazon_dns().map(IpAddr::V4).into_iter().collect();
        let group_addrs = |g: &str| -> Vec<IpAddr> {
            cfg.enis
                .iter()
                .filter(|e| e.groups.iter().any(|x| x == g))
                .map(|e| IpAddr::V4(e.private_ip))
                .collect()
        };
        let mut egress_per_eni: Vec<(String, Vec<&config::SgRule>)> = Vec::new();
        for h in &self.hosts {
            let HostKind::Eni(id) = &h.kind else { continue };
            let Some(eni) = cfg.enis.iter().find(|e| &e.id == id) else {
                continue;
            };
            let sgs: Vec<&config::SgCfg> = eni
                .groups
                .iter()
                .filter_map(|g| cfg.security_groups.get(g))
                .collect();
            let egress: Vec<&config::SgRule> = sgs.iter().flat_map(|s| s.egress.iter()).collect();
            let ingress: Vec<&config::SgRule> = sgs.iter().flat_map(|s| s.ingress.iter()).collect();
            h.ns.nft(&nft::sg_ruleset(&ingress, &group_addrs))?;
            egress_per_eni.push((h.veth.clone(), egress));
            let resolv = match &cfg.dhcp_dns_servers {
                Some(servers) => servers
                    .iter()
                    .map(|s| format!("nameserver {s}\n"))
                    .collect::<String>(),
                None => cfg
                    .amazon_dns()
                    .map(|d| format!("nameserver {d}\n"))
                    .unwrap_or_default(),
            };
            h.ns.write_resolv_conf(&format!("{resolv}options timeout:1 attempts:1\n"))?;
        }
        self.router.nft(&nft::sg_egress_ruleset(
            &egress_per_eni,
            &exempt,
            &group_addrs,
        ))
    }

    /// Amazon DNS at VPC+2: answers only when enableDnsSupport is true. When false the
    /// host drops the queries (the probe sees a DNS timeout, as a resolver that is not
    /// there). It forwards to the internet DNS over its own side link (R19).
    fn write_dns(&mut self) -> Result<()> {
        let Some(d) = self.config.amazon_dns() else {
            return Ok(());
        };
        let addr = format!("{d}/32");
        let has = run(Command::new("ip").args([
            "-n",
            self.dns.name(),
            "-4",
            "addr",
            "show",
            "dev",
            "lo",
        ]))
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&addr))
        .unwrap_or(false);
        if !has {
            let mut cmds = format!("addr add {addr} dev lo\n");
            for c in &self.config.cidrs_v4 {
                writeln!(cmds, "route replace {c} via {}", addrs::ROUTER_DNS_V4).ok();
            }
            self.dns.ip_batch(&cmds)?;
            let child = self
                .dns
                .command(&self.options.services_bin)
                .args(["dns-forward", "--listen", &d.to_string(), "--upstream"])
                .arg(addrs::INET_DNS.to_string())
                .stdin(Stdio::null())
                .spawn()
                .context("starting the Amazon DNS forwarder")?;
            self.services.push(child);
            wait_listening(&self.dns, &format!("{d}:53"), "udp")?;
        }
        let rule = if self.config.enable_dns_support {
            ""
        } else {
            "    iifname \"dns0\" drop comment \"enableDnsSupport=false\"\n"
        };
        self.dns.nft(&format!(
            "add table inet eplab_dns\ndelete table inet eplab_dns\ntable inet eplab_dns {{\n  chain input {{\n    type filter hook input priority filter; policy accept;\n{rule}  }}\n}}\n"
        ))
    }
}

/// Waits (bounded, 5 s) until something listens on `addr` (`ss` inside the namespace).
fn wait_listening(ns: &Netns, addr: &str, proto: &str) -> Result<()> {
    let flag = if proto == "udp" { "-uln" } else { "-tln" };
    for _ in 0..100 {
        if let Ok(out) = ns.command("ss").arg(flag).stdin(Stdio::null()).output()
            && String::from_utf8_lossy(&out.stdout).contains(addr)
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!(
        "nothing listens on {proto} {addr} in {} after 5 s",
        ns.name()
    )
}

/// Writes `ca.pem` (the test CA), `cert.pem` and `key.pem` (the internet's certificate
/// for `names`, signed by the CA) into `dir`.
pub fn write_test_ca(dir: &Path, names: Vec<String>) -> Result<()> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "egress-probe lab test CA");
    let ca = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate()?;
    let mut leaf_params = CertificateParams::new(names)?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "lab.example");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer)?;
    std::fs::write(dir.join("ca.pem"), ca.pem())?;
    std::fs::write(dir.join("cert.pem"), leaf.pem())?;
    std::fs::write(dir.join("key.pem"), leaf_key.serialize_pem())?;
    Ok(())
}
