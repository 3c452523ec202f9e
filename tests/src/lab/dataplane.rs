//! The data plane built from a [`VpcConfig`]: router, hosts, NAT gateways, Amazon DNS,
//! the internet, and the AWS API bridge. See the module docs of [`crate::lab`].

use super::addrs::{self, map_v6_net};
use super::config::{self, RouteTarget, TransitCfg, VpcConfig};
use super::netns::{Netns, remove_stale, run};
use super::nft;
use super::nfw::NfwStore;
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
/// The firewall endpoint's table: everything arriving on eth0 goes through the enforcer.
const FIREWALL_TABLE: u32 = 10;

static LAB_COUNTER: AtomicU32 = AtomicU32::new(0);

/// One subnet's bridge in the router.
#[derive(Debug, Clone)]
pub struct SubnetPlane {
    pub index: usize,
    /// The VPC (index into the lab's VPCs) the subnet belongs to.
    pub vpc: usize,
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
    /// A Gateway Load Balancer endpoint, by id: a Network Firewall endpoint (R47) whose
    /// namespace forwards every packet through the lab's enforcer of the firewall's policy
    /// (`lab-services firewall`); an endpoint no firewall claims forwards uninspected.
    Firewall(String),
}

/// A namespace attached to a subnet's bridge.
#[derive(Debug)]
pub struct Host {
    pub kind: HostKind,
    /// The VPC (index into the lab's VPCs).
    pub vpc: usize,
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
    let built = match crate::moto::prebuilt_bin(name) {
        // Prebuilt for this run (scripts/run_suites.py): nothing rebuilds them while the
        // suites run, so they are used in place. A private copy would be open for writing
        // while other test threads fork, and exec'ing it could fail with ETXTBSY.
        Some(prebuilt) => return prebuilt,
        None => {
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
            target.join("debug").join(name)
        }
    };
    let dir = std::env::temp_dir().join(format!("eplab-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let copy = dir.join(name);
    std::fs::copy(&built, &copy).with_context(|| format!("copying {}", built.display()))?;
    Ok(copy)
}

/// A fixed, locally administered unicast MAC for the bridge of the lab's `index`th subnet
/// (unique within the lab; the hosts' veths get random MACs from the kernel).
fn bridge_mac(index: usize) -> String {
    let i = index as u32;
    format!(
        "02:e9:{:02x}:{:02x}:{:02x}:{:02x}",
        (i >> 24) & 0xff,
        (i >> 16) & 0xff,
        (i >> 8) & 0xff,
        i & 0xff
    )
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
/// One VPC of the lab: its router (the VPC router: policy routing by subnet, NACLs, the
/// IGW), its Amazon DNS host, and the configuration the data plane was last built from.
pub struct VpcPlane {
    pub index: usize,
    pub vpc_id: String,
    config: VpcConfig,
    links: addrs::VpcLinks,
    dns: Netns,
    router: Netns,
}

impl VpcPlane {
    pub fn config(&self) -> &VpcConfig {
        &self.config
    }
    pub fn router_ns(&self) -> &Netns {
        &self.router
    }
    /// The router's link to the internet (the IGW side) in the internet namespace.
    fn inet_iface(&self) -> String {
        if self.index == 0 {
            "inet0".into()
        } else {
            format!("inet{}", self.index)
        }
    }
    fn inet_dns_iface(&self) -> String {
        if self.index == 0 {
            "inetdns".into()
        } else {
            format!("inetdns{}", self.index)
        }
    }
}

/// One transit gateway (R37-R44): a namespace with one port per (VPC attachment, attachment
/// subnet) — a veth whose other end sits on that subnet's bridge, with an address in the
/// subnet, as the attachment's ENI does. Packets are routed by the route table associated
/// with the attachment they came in on (policy routing by ingress port); without appliance
/// mode a flow leaves towards the next attachment in the AZ it came in (AZ affinity),
/// with appliance mode on the next attachment it stays in the AZ the flow first entered in
/// both directions (conntrack mark), R44.
struct TgwPlane {
    tgw_id: String,
    ports: Vec<TgwPort>,
    ns: Netns,
}

#[derive(Debug, Clone, PartialEq)]
struct TgwPort {
    attachment: String,
    subnet_id: String,
    az: String,
    /// The port's name in the TGW namespace.
    iface: String,
    addr: Ipv4Addr,
    /// The VPC router's address in the subnet.
    gw: Ipv4Addr,
}

/// A peering connection between two of the lab's VPC routers (R56): a veth; each side
/// delivers only to its own VPC's subnets (edge-to-edge routing is not supported).
struct PeeringLink {
    id: String,
    /// (VPC index, interface name, address) of both sides.
    a: (usize, String, Ipv4Addr),
    b: (usize, String, Ipv4Addr),
}

/// A running VPC lab for one or more VPCs of a moto server.
///
/// Build with [`Lab::start`] (one VPC) or [`Lab::start_multi`] (several, joined by transit
/// gateways or peering); change the configuration through the EC2 API (and the Network
/// Firewall stand-in, [`Lab::nfw`]) and call [`Lab::sync`]; everything is removed on drop.
pub struct Lab {
    /// Unique name prefix of this lab's namespaces: `eplab<pid>-<n>`.
    pub id: String,
    /// The first (primary) VPC.
    pub vpc_id: String,
    ec2: aws_sdk_ec2::Client,
    options: LabOptions,
    /// Scratch directory: CA, certificates, resolv.conf files, events, the API socket.
    dir: tempfile::TempDir,
    transit: TransitCfg,
    nfw: NfwStore,
    subnets: BTreeMap<String, SubnetPlane>,
    hosts: Vec<Host>,
    tgws: Vec<TgwPlane>,
    peerings: Vec<PeeringLink>,
    /// moto EIP → lab EIP.
    eips: BTreeMap<Ipv4Addr, Ipv4Addr>,
    veth_counter: u32,
    host_counter: u32,
    services: Vec<Child>,
    /// DNS servers in a subnet that are not the VPC's (DHCP) servers: the "on-premises"
    /// targets of Resolver forward rules (R59), answering the lab zone.
    extra_dns_servers: Vec<IpAddr>,
    _bridge: ApiBridge,
    // Namespaces last: dropped after the hosts and services above.
    vpcs: Vec<VpcPlane>,
    inet: Netns,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.services {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.hosts.clear();
        self.tgws.clear();
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
        Self::start_multi(moto, &[vpc_id.to_string()], options).await
    }

    /// Builds the lab for several VPCs (the first is the primary one: [`Lab::config`],
    /// [`Lab::router_ns`]). Each VPC gets its own router and Amazon DNS host; transit
    /// gateways attached to them and peering connections between them are built from the
    /// same EC2 configuration.
    pub async fn start_multi(
        moto: &crate::moto::MotoServer,
        vpc_ids: &[String],
        options: LabOptions,
    ) -> Result<Lab> {
        if vpc_ids.is_empty() || vpc_ids.len() > addrs::MAX_VPCS {
            bail!(
                "a lab holds 1 to {} VPCs, not {}",
                addrs::MAX_VPCS,
                vpc_ids.len()
            );
        }
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
        let inet = Netns::create(&format!("{id}-inet"))?;
        let mut vpcs = Vec::new();
        for (index, vpc_id) in vpc_ids.iter().enumerate() {
            let suffix = if index == 0 {
                String::new()
            } else {
                index.to_string()
            };
            vpcs.push(VpcPlane {
                index,
                vpc_id: vpc_id.clone(),
                config: VpcConfig::default(),
                links: addrs::vpc_links(index),
                router: Netns::create(&format!("{id}-rt{suffix}"))?,
                dns: Netns::create(&format!("{id}-dns{suffix}"))?,
            });
        }
        let bridge = ApiBridge::start(&dir.path().join("aws.sock"), moto.port)?;
        let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
        let mut lab = Lab {
            id,
            vpc_id: vpc_ids[0].clone(),
            ec2,
            options,
            dir,
            transit: TransitCfg::default(),
            nfw: NfwStore::default(),
            subnets: BTreeMap::new(),
            hosts: Vec::new(),
            tgws: Vec::new(),
            peerings: Vec::new(),
            eips: BTreeMap::new(),
            veth_counter: 0,
            host_counter: 0,
            services: Vec::new(),
            extra_dns_servers: Vec::new(),
            _bridge: bridge,
            vpcs,
            inet,
        };
        lab.build_fixed()?;
        for v in 1..lab.vpcs.len() {
            lab.build_vpc_links(v)?;
        }
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

    /// A DNS server host at `ip` (in the subnet that contains it) answering the lab zone,
    /// without making it the VPC's DHCP server: the target of a Resolver forward rule (R59).
    pub async fn add_dns_server(&mut self, ip: IpAddr) -> Result<()> {
        if !self.extra_dns_servers.contains(&ip) {
            self.extra_dns_servers.push(ip);
        }
        self.sync().await
    }

    /// Starts a Resolver outbound endpoint's forwarder in the namespace of ENI `eni_id`
    /// (`lab-services dns-endpoint`): Amazon DNS hands it the queries of a forward rule
    /// over the returned unix socket, and it sends them to the rule's targets from the
    /// ENI's address — through the ENI's security groups and the subnet's NACLs and routes
    /// (R59). Stopped with the ENI's host.
    pub fn start_resolver_endpoint(&mut self, eni_id: &str) -> Result<PathBuf> {
        let socket = self.dir.path().join(format!("rslvr-{eni_id}.sock"));
        let bin = self.options.services_bin.clone();
        let host = self
            .hosts
            .iter_mut()
            .find(|h| h.kind == HostKind::Eni(eni_id.to_string()))
            .with_context(|| format!("no lab host for ENI {eni_id}"))?;
        let child = host
            .ns
            .command(&bin)
            .arg("dns-endpoint")
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::null())
            .spawn()
            .context("starting the resolver endpoint forwarder")?;
        host.children.push(child);
        for _ in 0..100 {
            if socket.exists() {
                return Ok(socket);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "the resolver endpoint forwarder did not open {} in 5 s",
            socket.display()
        )
    }

    /// The policy file Amazon DNS of VPC `v` reads on every query (private hosted zones,
    /// DNS Firewall; [`crate::lab::dns::DnsPolicy`]). Absent: plain forwarding.
    pub fn dns_policy_file(&self, v: usize) -> PathBuf {
        self.dir.path().join(format!("dns-policy-{v}.json"))
    }

    /// The configuration the primary VPC's data plane was last built from.
    pub fn config(&self) -> &VpcConfig {
        &self.vpcs[0].config
    }

    /// Every VPC of the lab, the primary one first.
    pub fn vpcs(&self) -> &[VpcPlane] {
        &self.vpcs
    }

    /// The configuration of the VPC that holds `subnet_id`.
    pub fn config_of_subnet(&self, subnet_id: &str) -> Option<&VpcConfig> {
        self.subnets
            .get(subnet_id)
            .map(|p| &self.vpcs[p.vpc].config)
    }

    /// The transit gateways and peering connections the data plane was built from.
    pub fn transit(&self) -> &TransitCfg {
        &self.transit
    }

    /// The Network Firewall configuration (firewalls, policies, rule groups) the lab's
    /// enforcers apply and its API stand-in serves; change it, then [`Lab::sync`].
    pub fn nfw(&self) -> &NfwStore {
        &self.nfw
    }

    /// The primary VPC's router namespace, the internet namespace.
    pub fn router_ns(&self) -> &Netns {
        &self.vpcs[0].router
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

    /// What the network of the probe namespace of `subnet_id` looks like (addresses, routes,
    /// neighbours, and the router's side: its bridge, neighbours, forwarding database), for
    /// a failure message: a path that must work and did not.
    pub fn network_state(&self, subnet_id: &str) -> String {
        let Some(host) = self.host_ns_for_subnet(subnet_id) else {
            return format!("no probe namespace in {subnet_id}");
        };
        let mut out = String::new();
        let mut show = |ns: &str, args: &[&str]| {
            let mut full = vec!["-n", ns];
            full.extend_from_slice(args);
            let text = Command::new("ip")
                .args(&full)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_else(|e| e.to_string());
            writeln!(out, "$ ip {}\n{}", full.join(" "), text.trim_end()).ok();
        };
        let ns = host.ns.name().to_string();
        show(&ns, &["addr"]);
        show(&ns, &["route"]);
        show(&ns, &["neigh"]);
        let router = self.vpcs[host.vpc].router.name().to_string();
        let bridge = self.subnets.get(subnet_id).map(|p| p.bridge.clone());
        if let Some(b) = &bridge {
            show(&router, &["link", "show", "master", b]);
            show(&router, &["addr", "show", "dev", b]);
        }
        show(&router, &["neigh"]);
        let fdb = Command::new("bridge")
            .args(["-n", &router, "fdb", "show"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_else(|e| e.to_string());
        writeln!(out, "$ bridge -n {router} fdb show\n{}", fdb.trim_end()).ok();
        out
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
    /// The primary VPC's router, the internet, Amazon DNS host links, the internet's
    /// services: everything that does not depend on the VPC configuration.
    fn build_fixed(&mut self) -> Result<()> {
        let inet = self.inet.name().to_string();
        match self.options.internet_delay {
            None => self.vpcs[0].router.ip(&[
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
                let child = self.vpcs[0]
                    .router
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
                let r = &self.vpcs[0].router;
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
        self.vpc_router_links(0)?;
        let r = &self.vpcs[0].router;
        r.ip_batch(&format!(
            "addr add {}/64 dev {} nodad\n",
            addrs::ROUTER_INET_V6,
            nft::INET_LINK,
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
            "addr add {}/64 dev inet0 nodad\nroute add {} via {}\nroute add {} via {}\n",
            addrs::INET_ROUTER_V6,
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

    /// A further VPC's router ↔ internet link (a plain veth), then its DNS links.
    fn build_vpc_links(&mut self, v: usize) -> Result<()> {
        let inet = self.inet.name().to_string();
        let iface = self.vpcs[v].inet_iface();
        self.vpcs[v].router.ip(&[
            "link",
            "add",
            nft::INET_LINK,
            "type",
            "veth",
            "peer",
            "name",
            &iface,
            "netns",
            &inet,
        ])?;
        self.vpc_router_links(v)
    }

    /// Addresses and rules of VPC `v`'s router ↔ internet link (created already) and its
    /// Amazon DNS host links.
    fn vpc_router_links(&self, v: usize) -> Result<()> {
        let vpc = &self.vpcs[v];
        let l = vpc.links;
        let r = &vpc.router;
        let inet = self.inet.name().to_string();
        r.sysctl("net.ipv4.ip_forward", "1")?;
        r.sysctl("net.ipv6.conf.all.forwarding", "1")?;
        // Bridged traffic inside a subnet is not filtered (NACLs apply at subnet borders).
        r.sysctl("net.bridge.bridge-nf-call-iptables", "0")?;
        r.sysctl("net.bridge.bridge-nf-call-ip6tables", "0")?;
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
            vpc.dns.name(),
        ])?;
        let inet_dns = vpc.inet_dns_iface();
        vpc.dns.ip(&[
            "link", "add", "dnsup", "type", "veth", "peer", "name", &inet_dns, "netns", &inet,
        ])?;
        r.ip_batch(&format!(
            "addr add {}/30 dev {}\nlink set {} up\naddr add {}/30 dev {}\nlink set {} up\n\
             rule add iif {} lookup {RETURN_TABLE} pref 500\nrule add iif {} lookup {RETURN_TABLE} pref 501\n",
            l.router_inet,
            nft::INET_LINK,
            nft::INET_LINK,
            l.router_dns,
            nft::DNS_LINK,
            nft::DNS_LINK,
            nft::INET_LINK,
            nft::DNS_LINK,
        ))?;
        self.inet.ip_batch(&format!(
            "addr add {}/30 dev {}\nlink set {} up\naddr add {}/30 dev {inet_dns}\nlink set {inet_dns} up\n",
            l.inet_router,
            vpc.inet_iface(),
            vpc.inet_iface(),
            l.inet_dns,
        ))?;
        vpc.dns.ip_batch(&format!(
            "addr add {}/30 dev dns0\nlink set dns0 up\naddr add {}/30 dev dnsup\nlink set dnsup up\nroute add {} via {}\n",
            l.dns_router,
            l.dns_inet,
            addrs::SERVICES_NET_V4,
            l.inet_dns,
        ))?;
        Ok(())
    }

    fn next_veth(&mut self) -> String {
        self.veth_counter += 1;
        format!("v{}", self.veth_counter)
    }

    /// Re-reads the configuration through the EC2 API (every VPC, the transit gateways
    /// attached to them, their peering connections) and makes the data plane match it:
    /// new subnets get bridges, NAT gateways come and go with their state, Lambda ENIs,
    /// custom DNS servers and firewall endpoints get hosts, and routes, NACLs, security
    /// groups, the DNS switch, the transit gateways' tables and the firewall policies are
    /// rewritten.
    pub async fn sync(&mut self) -> Result<()> {
        let mut cfgs = Vec::new();
        for vpc in &self.vpcs {
            cfgs.push(config::read(&self.ec2, &vpc.vpc_id).await?);
        }
        let ids: Vec<String> = self.vpcs.iter().map(|v| v.vpc_id.clone()).collect();
        let transit = config::read_transit(&self.ec2, &ids).await?;
        for (v, cfg) in cfgs.into_iter().enumerate() {
            self.apply_hosts(v, cfg)?;
        }
        self.transit = transit;
        self.apply_tgws()?;
        self.apply_peerings()?;
        for v in 0..self.vpcs.len() {
            self.write_routes(v)?;
            self.write_router_rules(v)?;
            self.write_security_groups(v)?;
            self.write_dns(v)?;
        }
        self.write_tgw_routes()?;
        self.write_firewall_policies()?;
        self.write_inet_eip_routes()?;
        Ok(())
    }

    /// Subnets and hosts of VPC `v` from its configuration.
    fn apply_hosts(&mut self, v: usize, cfg: VpcConfig) -> Result<()> {
        // Subnets.
        for s in &cfg.subnets {
            if self.subnets.contains_key(&s.id) {
                continue;
            }
            let index = self.subnets.len();
            let plane = SubnetPlane {
                index,
                vpc: v,
                bridge: format!("bs{index}"),
                table: SUBNET_TABLE_BASE + index as u32,
                v4: s.cidr_v4,
                // The lab maps only the primary VPC's IPv6 block (2001:db8:100::/56).
                v6: s.cidr_v6.filter(|_| v == 0).map(map_v6_net),
                az: s.az.clone(),
            };
            // The bridge (the subnet's router address) gets a fixed MAC. Left to the kernel,
            // a bridge takes the lowest MAC of its ports, so adding or removing a host (a NAT
            // gateway, an ENI, an endpoint) changed the router's MAC under every host of the
            // subnet: their cached neighbour entry then pointed at a MAC nobody owned, and
            // the next packets failed with EHOSTUNREACH after ARP's three probes (seen as
            // intermittent lab_fixes failures after a re-sync).
            let mut cmds = format!(
                "link add {b} address {mac} type bridge\naddr add {gw}/{len} dev {b}\nlink set {b} up\nrule add iif {b} lookup {t} pref {p}\n",
                b = plane.bridge,
                mac = bridge_mac(index),
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
            let router = &self.vpcs[v].router;
            router.ip_batch(&cmds)?;
            router.ip(&[
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
            .chain(self.extra_dns_servers.iter().copied())
            .filter(|ip| {
                self.subnet_containing(*ip)
                    .is_some_and(|s| self.subnets.get(&s).is_some_and(|p| p.vpc == v))
            })
            .collect();
        let lab_subnets: BTreeSet<String> = self
            .subnets
            .iter()
            .filter(|(_, p)| p.vpc == v)
            .map(|(id, _)| id.clone())
            .collect();
        let in_lab = |s: &String| lab_subnets.contains(s);
        let want_endpoints: BTreeSet<(String, String)> = cfg
            .ec2_endpoints
            .iter()
            .filter(|e| e.state == "available")
            .flat_map(|e| e.subnet_ids.iter().map(|s| (e.id.clone(), s.clone())))
            .filter(|(_, s)| in_lab(s))
            .collect();
        let want_firewalls: BTreeMap<String, String> = cfg
            .gwlb_endpoints
            .iter()
            .filter(|e| e.state == "available")
            .filter_map(|e| e.subnet_ids.first().map(|s| (e.id.clone(), s.clone())))
            .filter(|(_, s)| in_lab(s))
            .collect();
        self.hosts.retain(|h| {
            h.vpc != v
                || match &h.kind {
                    HostKind::Nat(id) => want_nats.contains(id),
                    HostKind::Eni(id) => want_enis.contains(id),
                    HostKind::DnsServer(ip) => want_dns.contains(ip),
                    HostKind::Endpoint(e, s) => want_endpoints.contains(&(e.clone(), s.clone())),
                    HostKind::Firewall(e) => want_firewalls.get(e) == Some(&h.subnet_id),
                }
        });

        // Lambda ENIs.
        for e in &cfg.enis {
            if self.host_for_eni(&e.id).is_some() || !in_lab(&e.subnet_id) {
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
            if !in_lab(&n.subnet_id) {
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
                .any(|h| h.vpc == v && h.kind == HostKind::DnsServer(*ip))
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

        // Firewall (GWLB) endpoints: a forwarding host whose every packet passes the
        // enforcer (R47).
        for (ep, subnet) in &want_firewalls {
            let kind = HostKind::Firewall(ep.clone());
            if self.hosts.iter().any(|h| h.kind == kind) {
                continue;
            }
            let host = self.add_host(kind, subnet, None, &cfg)?;
            let host = self.start_enforcer(host)?;
            self.hosts.push(host);
        }

        self.vpcs[v].config = cfg;
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

    /// A free lab address at the top of a subnet (moto's addresses for NATs, endpoints and
    /// TGW ENIs are random and outside the subnet).
    fn free_address(&self, plane: &SubnetPlane, cfg: &VpcConfig) -> Result<Ipv4Addr> {
        let used: BTreeSet<Ipv4Addr> = cfg
            .enis
            .iter()
            .map(|e| e.private_ip)
            .chain(self.hosts.iter().map(|h| h.v4))
            .chain(
                self.tgws
                    .iter()
                    .flat_map(|t| t.ports.iter().map(|p| p.addr)),
            )
            .chain(
                cfg.dhcp_dns_servers
                    .iter()
                    .flatten()
                    .filter_map(|ip| match ip {
                        IpAddr::V4(a) => Some(*a),
                        IpAddr::V6(_) => None,
                    }),
            )
            .collect();
        let top = u32::from(plane.v4.broadcast()) - 1;
        let base = u32::from(plane.v4.network()) + 4;
        (base..=top)
            .rev()
            .map(Ipv4Addr::from)
            .find(|a| !used.contains(a))
            .with_context(|| format!("subnet {} is full", plane.v4))
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
        let v4 = match addr {
            Some(a) => a,
            None => self.free_address(&plane, cfg)?,
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
            HostKind::Firewall(_) => "fw",
        };
        let ns = Netns::create(&format!("{}-{role}{}", self.id, self.host_counter))?;
        let veth = self.next_veth();
        let router = &self.vpcs[plane.vpc].router;
        router.ip(&[
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
        router.ip_batch(&format!(
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
            vpc: plane.vpc,
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

    fn firewall_host(&self, vpce: &str) -> Option<&Host> {
        self.hosts
            .iter()
            .find(|h| h.kind == HostKind::Firewall(vpce.to_string()))
    }

    /// The policy file of a firewall endpoint's enforcer.
    fn policy_file(&self, vpce: &str) -> PathBuf {
        self.dir.path().join(format!("firewall-{vpce}.json"))
    }

    /// Starts the enforcer of a firewall endpoint host: `lab-services firewall` on a TUN
    /// device; every packet arriving on eth0 is routed into it, and what it lets through
    /// comes back out of the TUN and leaves by eth0 towards the VPC router, which routes it
    /// by the firewall subnet's route table, as AWS does after an endpoint.
    fn start_enforcer(&self, mut host: Host) -> Result<Host> {
        let HostKind::Firewall(vpce) = &host.kind else {
            bail!("not a firewall host");
        };
        let file = self.policy_file(vpce);
        std::fs::write(&file, self.enforcer_policy(vpce, host.vpc)?.to_string())
            .with_context(|| format!("writing {}", file.display()))?;
        host.ns.sysctl("net.ipv4.ip_forward", "1")?;
        let child = host
            .ns
            .command(&self.options.services_bin)
            .args(["firewall", "--tun", "fw0", "--policy"])
            .arg(&file)
            .stdin(Stdio::null())
            .spawn()
            .context("starting the firewall enforcer")?;
        host.children.push(child);
        let mut tries = 0;
        while host.ns.ip(&["link", "show", "fw0"]).is_err() {
            tries += 1;
            if tries > 100 {
                bail!("the firewall enforcer's TUN device did not appear");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        host.ns.ip_batch(&format!(
            "link set fw0 up\nroute add default dev fw0 table {FIREWALL_TABLE}\nrule add iif eth0 lookup {FIREWALL_TABLE} pref 100\n"
        ))?;
        Ok(host)
    }

    /// What the enforcer of `vpce` applies: the policy and rule groups (the API's JSON) of
    /// the firewall whose endpoint it is, and the firewall VPC's CIDRs (the default
    /// HOME_NET, R52); `{"policy": null}` when no firewall claims the endpoint.
    fn enforcer_policy(&self, vpce: &str, vpc: usize) -> Result<serde_json::Value> {
        let cidrs: Vec<String> = self.vpcs[vpc]
            .config
            .cidrs_v4
            .iter()
            .map(|c| c.to_string())
            .collect();
        let data = self.nfw.read();
        Ok(data.enforcer_view(vpce, &cidrs))
    }

    /// Rewrites every enforcer's policy file (the enforcer reloads a changed file).
    fn write_firewall_policies(&self) -> Result<()> {
        for h in &self.hosts {
            let HostKind::Firewall(vpce) = &h.kind else {
                continue;
            };
            let text = self.enforcer_policy(vpce, h.vpc)?.to_string();
            let file = self.policy_file(vpce);
            if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
                std::fs::write(&file, text)
                    .with_context(|| format!("writing {}", file.display()))?;
            }
        }
        Ok(())
    }

    /// The internet routes each further VPC's EIPs back to its router.
    fn write_inet_eip_routes(&self) -> Result<()> {
        let mut cmds = String::new();
        for n in self.vpcs.iter().skip(1).flat_map(|v| {
            v.config
                .nat_gateways
                .iter()
                .map(move |n| (v.links.router_inet, n))
        }) {
            let (via, nat) = n;
            if let Some(lab) = nat.public_ip.and_then(|e| self.eips.get(&e)) {
                writeln!(cmds, "route replace {lab}/32 via {via}").ok();
            }
        }
        if cmds.is_empty() {
            return Ok(());
        }
        self.inet.ip_batch(&cmds)
    }
    /// Transit gateway namespaces and ports, from the attachments of the lab's VPCs. A
    /// change in the set of (attachment, subnet) rebuilds that gateway's namespace.
    fn apply_tgws(&mut self) -> Result<()> {
        let mut want: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for a in &self.transit.attachments {
            if a.state != "available" {
                continue;
            }
            let entry = want.entry(a.tgw_id.clone()).or_default();
            for s in &a.subnet_ids {
                if self.subnets.contains_key(s) {
                    entry.push((a.id.clone(), s.clone()));
                }
            }
        }
        let current = |t: &TgwPlane| -> Vec<(String, String)> {
            t.ports
                .iter()
                .map(|p| (p.attachment.clone(), p.subnet_id.clone()))
                .collect()
        };
        self.tgws
            .retain(|t| want.get(&t.tgw_id).is_some_and(|w| *w == current(t)));
        for (tgw_id, ports) in want {
            if self.tgws.iter().any(|t| t.tgw_id == tgw_id) {
                continue;
            }
            let k = self.tgws.len() + self.host_counter as usize;
            self.host_counter += 1;
            let ns = Netns::create(&format!("{}-tgw{k}", self.id))?;
            ns.sysctl("net.ipv4.ip_forward", "1")?;
            let mut plane = TgwPlane {
                tgw_id: tgw_id.clone(),
                ports: Vec::new(),
                ns,
            };
            for (i, (attachment, subnet_id)) in ports.iter().enumerate() {
                let Some(sp) = self.subnets.get(subnet_id).cloned() else {
                    continue;
                };
                let cfg = self.vpcs[sp.vpc].config.clone();
                // The new plane is not in `self.tgws` yet: count its ports as used.
                let mut addr = self.free_address(&sp, &cfg)?;
                while plane.ports.iter().any(|p| p.addr == addr) {
                    addr = Ipv4Addr::from(u32::from(addr) - 1);
                }
                let iface = format!("t{i}");
                let outer = self.next_veth();
                let router = &self.vpcs[sp.vpc].router;
                router.ip(&[
                    "link",
                    "add",
                    &outer,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    &iface,
                    "netns",
                    plane.ns.name(),
                ])?;
                router.ip_batch(&format!(
                    "link set {outer} master {}\nlink set {outer} up\n",
                    sp.bridge
                ))?;
                plane.ns.ip_batch(&format!(
                    "addr add {addr}/{} dev {iface}\nlink set {iface} up\n",
                    sp.v4.prefix_len()
                ))?;
                plane.ports.push(TgwPort {
                    attachment: attachment.clone(),
                    subnet_id: subnet_id.clone(),
                    az: sp.az.clone(),
                    iface,
                    addr,
                    gw: sp.gateway(),
                });
            }
            self.tgws.push(plane);
        }
        Ok(())
    }

    /// The port of `tgw_id` in `vpc`'s attachment subnet of `az` (R37: none → drop).
    fn tgw_port_for(&self, tgw_id: &str, vpc: usize, az: &str) -> Option<(&TgwPort, &str)> {
        let att = self.transit.attachment_of(tgw_id, &self.vpcs[vpc].vpc_id)?;
        let plane = self.tgws.iter().find(|t| t.tgw_id == tgw_id)?;
        let port = plane
            .ports
            .iter()
            .find(|p| p.attachment == att.id && p.az == az)?;
        let bridge = self.subnets.get(&port.subnet_id)?.bridge.as_str();
        Some((port, bridge))
    }

    /// Each transit gateway's routing: one table per (ingress port, flow AZ) from the route
    /// table associated with the port's attachment (R38, R39); blackhole routes and missing
    /// routes drop silently (R40); the next attachment's port is the one in the ingress AZ
    /// (AZ affinity), or in the flow's first AZ when that attachment has appliance mode on
    /// (R44), or its first AZ when it has none in that AZ (R37: the destination side is
    /// lenient).
    fn write_tgw_routes(&self) -> Result<()> {
        for plane in &self.tgws {
            let ns = &plane.ns;
            let mut azs: Vec<String> = plane.ports.iter().map(|p| p.az.clone()).collect();
            azs.sort();
            azs.dedup();
            let mark = |az: &str| azs.iter().position(|a| a == az).map(|i| i as u32 + 1);
            let _ = run(Command::new("ip").args(["-n", ns.name(), "rule", "flush"]));
            let mut cmds = String::from("rule add from all lookup main pref 32766\n");
            for (p, port) in plane.ports.iter().enumerate() {
                let ingress_mark = mark(&port.az).unwrap_or(1);
                let rtb = self
                    .transit
                    .attachment(&port.attachment)
                    .and_then(|a| a.route_table.as_deref())
                    .and_then(|id| self.transit.route_table(id));
                for (f, flow_az) in azs.iter().enumerate() {
                    let table = 200 + (p as u32) * 16 + f as u32 + 1;
                    let _ = run(Command::new("ip").args([
                        "-n",
                        ns.name(),
                        "route",
                        "flush",
                        "table",
                        &table.to_string(),
                    ]));
                    writeln!(
                        cmds,
                        "rule add iif {} fwmark {} lookup {table} pref {}",
                        port.iface,
                        f + 1,
                        100 + table
                    )
                    .ok();
                    if f as u32 + 1 == ingress_mark {
                        writeln!(
                            cmds,
                            "rule add iif {} lookup {table} pref {}",
                            port.iface,
                            2000 + p
                        )
                        .ok();
                    }
                    let mut has_default = false;
                    for r in rtb.map(|t| t.routes.as_slice()).unwrap_or_default() {
                        if r.destination.prefix_len() == 0 {
                            has_default = true;
                        }
                        let target = r
                            .attachment
                            .as_deref()
                            .filter(|_| r.state == "active")
                            .and_then(|a| self.transit.attachment(a))
                            .filter(|a| a.state == "available");
                        let out = target.and_then(|t| {
                            let az = if t.appliance_mode {
                                flow_az.as_str()
                            } else {
                                port.az.as_str()
                            };
                            let ports: Vec<&TgwPort> = plane
                                .ports
                                .iter()
                                .filter(|q| q.attachment == t.id)
                                .collect();
                            ports
                                .iter()
                                .find(|q| q.az == az)
                                .or_else(|| ports.first())
                                .copied()
                        });
                        match out {
                            Some(q) => writeln!(
                                cmds,
                                "route replace {} via {} dev {} table {table}",
                                r.destination, q.gw, q.iface
                            ),
                            None => writeln!(
                                cmds,
                                "route replace blackhole {} table {table}",
                                r.destination
                            ),
                        }
                        .ok();
                    }
                    if !has_default {
                        writeln!(cmds, "route replace blackhole 0.0.0.0/0 table {table}").ok();
                    }
                }
            }
            ns.ip_batch(&cmds)?;
            // R44: a flow's AZ is the AZ of the port it first came in on.
            let elems: Vec<String> = plane
                .ports
                .iter()
                .map(|p| format!("\"{}\" : {}", p.iface, mark(&p.az).unwrap_or(1)))
                .collect();
            ns.nft(&format!(
                "add table inet eplab_tgw\ndelete table inet eplab_tgw\ntable inet eplab_tgw {{\n  map azmark {{ type ifname : mark; elements = {{ {} }} }}\n  chain pre {{\n    type filter hook prerouting priority mangle; policy accept;\n    ct state new ct mark 0 ct mark set iifname map @azmark\n    meta mark set ct mark\n  }}\n}}\n",
                elems.join(", ")
            ))?;
        }
        Ok(())
    }

    /// Peering links between the lab's VPC routers, for active peering connections.
    fn apply_peerings(&mut self) -> Result<()> {
        let index_of = |vpc: &str| self.vpcs.iter().position(|v| v.vpc_id == vpc);
        let want: Vec<(String, usize, usize)> = self
            .transit
            .peerings
            .iter()
            .filter(|p| p.status == "active")
            .filter_map(|p| {
                Some((
                    p.id.clone(),
                    index_of(&p.requester_vpc)?,
                    index_of(&p.accepter_vpc)?,
                ))
            })
            .collect();
        for link in std::mem::take(&mut self.peerings) {
            if want.iter().any(|(id, ..)| *id == link.id) {
                self.peerings.push(link);
            } else {
                let _ = self.vpcs[link.a.0].router.ip(&["link", "del", &link.a.1]);
            }
        }
        for (id, a, b) in want {
            if self.peerings.iter().any(|l| l.id == id) {
                continue;
            }
            let n = self.veth_counter as usize;
            self.veth_counter += 1;
            let (addr_a, addr_b) = addrs::peering_link(n);
            let (name_a, name_b) = (format!("px{n}"), format!("px{n}"));
            self.vpcs[a].router.ip(&[
                "link",
                "add",
                &name_a,
                "type",
                "veth",
                "peer",
                "name",
                &name_b,
                "netns",
                self.vpcs[b].router.name(),
            ])?;
            for (v, name, addr) in [(a, &name_a, addr_a), (b, &name_b, addr_b)] {
                self.vpcs[v].router.ip_batch(&format!(
                    "addr add {addr}/30 dev {name}\nlink set {name} up\nrule add iif {name} lookup {RETURN_TABLE} pref 502\n"
                ))?;
            }
            self.peerings.push(PeeringLink {
                id,
                a: (a, name_a, addr_a),
                b: (b, name_b, addr_b),
            });
        }
        Ok(())
    }

    /// Routing of VPC `v`: one table per subnet from its effective route table; the kernel
    /// does the longest-prefix match; blackholes and missing routes are silent drops.
    fn write_routes(&self, v: usize) -> Result<()> {
        let vpc = &self.vpcs[v];
        let cfg = &vpc.config;
        let router = &vpc.router;
        let dns = cfg.amazon_dns();
        let mut cmds = String::new();
        let mine: Vec<(&String, &SubnetPlane)> =
            self.subnets.iter().filter(|(_, p)| p.vpc == v).collect();
        let mut flush = vec![RETURN_TABLE];
        flush.extend(mine.iter().map(|(_, p)| p.table));
        for t in &flush {
            for family in ["-4", "-6"] {
                // Errors on an empty table are harmless; the batch below rewrites everything.
                let _ = run(Command::new("ip").args([
                    "-n",
                    router.name(),
                    family,
                    "route",
                    "flush",
                    "table",
                    &t.to_string(),
                ]));
            }
        }
        // Return table: back into the VPC from the internet, the DNS host and peers.
        for (_, p) in &mine {
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

        for (subnet_id, plane) in &mine {
            let t = plane.table;
            // The local route: every subnet of the VPC, the rest of the block dropped.
            for c in &cfg.cidrs_v4 {
                writeln!(cmds, "route replace blackhole {c} table {t}").ok();
            }
            if v == 0 && cfg.cidr_v6.is_some() {
                writeln!(
                    cmds,
                    "route replace blackhole {} table {t}",
                    addrs::lab_vpc_v6()
                )
                .ok();
            }
            for (_, p) in &mine {
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
                    vpc.links.dns_router,
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
                        IpNet::V6(n) if cfg.cidr_v6.is_some_and(|c| c.contains(&n)) => {
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
                        self.next_hop(v, plane, &r.target, v6)
                    };
                    match via {
                        Some(hop) => writeln!(cmds, "route replace {dest} {hop} table {t}"),
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
        router.ip_batch(&cmds)
    }

    /// `via … dev …` for a route of VPC `v` from subnet `plane`, or `None` (a drop).
    fn next_hop(
        &self,
        v: usize,
        plane: &SubnetPlane,
        target: &RouteTarget,
        v6: bool,
    ) -> Option<String> {
        let vpc = &self.vpcs[v];
        let cfg = &vpc.config;
        let on_bridge = |h: &Host| {
            self.subnets
                .get(&h.subnet_id)
                .map(|p| format!("via {} dev {}", h.v4, p.bridge))
        };
        match target {
            RouteTarget::InternetGateway(id) if cfg.igws.contains(id) => Some(if v6 {
                if v != 0 {
                    return None;
                }
                format!("via {} dev {}", addrs::INET_ROUTER_V6, nft::INET_LINK)
            } else {
                format!("via {} dev {}", vpc.links.inet_router, nft::INET_LINK)
            }),
            RouteTarget::EgressOnlyInternetGateway(id)
                if v6 && v == 0 && cfg.eigws.contains(id) =>
            {
                Some(format!(
                    "via {} dev {}",
                    addrs::INET_ROUTER_V6,
                    nft::INET_LINK
                ))
            }
            // A NAT that is not `available` (deleted, failed, pending) is a blackhole,
            // whatever moto reports as the route state.
            RouteTarget::NatGateway(id) if !v6 => cfg
                .nat(id)
                .filter(|n| n.state == "available")
                .and_then(|_| self.nat_host(id))
                .and_then(on_bridge),
            // R37: the attachment's ENI in this subnet's AZ; none → dropped.
            RouteTarget::TransitGateway(id) if !v6 => self
                .tgw_port_for(id, v, &plane.az)
                .map(|(port, bridge)| format!("via {} dev {bridge}", port.addr)),
            // R47: a firewall / GWLB endpoint of this VPC.
            RouteTarget::VpcEndpoint(id) if !v6 => self
                .firewall_host(id)
                .filter(|h| h.vpc == v)
                .and_then(on_bridge),
            // R56: only to the peer VPC's own addresses (its router drops the rest).
            RouteTarget::Peering(id) if !v6 => {
                self.peerings.iter().find(|l| l.id == *id).and_then(|l| {
                    if l.a.0 == v {
                        Some(format!("via {} dev {}", l.b.2, l.a.1))
                    } else if l.b.0 == v {
                        Some(format!("via {} dev {}", l.a.2, l.b.1))
                    } else {
                        None
                    }
                })
            }
            _ => None,
        }
    }

    /// NACLs and the internet gateway in VPC `v`'s router forward path.
    fn write_router_rules(&self, v: usize) -> Result<()> {
        let vpc = &self.vpcs[v];
        let cfg = &vpc.config;
        let empty = Vec::new();
        let mut ordered: Vec<(&String, &SubnetPlane)> =
            self.subnets.iter().filter(|(_, p)| p.vpc == v).collect();
        ordered.sort_by_key(|(_, p)| p.index);
        let acls: Vec<nft::SubnetAcl<'_>> = ordered
            .iter()
            .map(|(id, p)| nft::SubnetAcl {
                bridge: p.bridge.clone(),
                entries: cfg.nacl_of(id).map(|n| &n.entries).unwrap_or(&empty),
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
        vpc.router.nft(&nft::router_ruleset(&acls, &public))
    }

    /// Security groups as stateful rules in each Lambda ENI namespace of VPC `v`.
    fn write_security_groups(&self, v: usize) -> Result<()> {
        let cfg = &self.vpcs[v].config;
        let exempt: Vec<IpAddr> = cfg.amazon_dns().map(IpAddr::V4).into_iter().collect();
        let group_addrs = |g: &str| -> Vec<IpAddr> {
            cfg.enis
                .iter()
                .filter(|e| e.groups.iter().any(|x| x == g))
                .map(|e| IpAddr::V4(e.private_ip))
                .collect()
        };
        let mut egress_per_eni: Vec<(String, Vec<&config::SgRule>)> = Vec::new();
        for h in self.hosts.iter().filter(|h| h.vpc == v) {
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
        self.vpcs[v].router.nft(&nft::sg_egress_ruleset(
            &egress_per_eni,
            &exempt,
            &group_addrs,
        ))
    }

    /// Amazon DNS at VPC+2: answers only when enableDnsSupport is true. When false the
    /// host drops the queries (the probe sees a DNS timeout, as a resolver that is not
    /// there). It forwards to the internet DNS over its own side link (R19).
    fn write_dns(&mut self, v: usize) -> Result<()> {
        let vpc = &self.vpcs[v];
        let Some(d) = vpc.config.amazon_dns() else {
            return Ok(());
        };
        let addr = format!("{d}/32");
        let has =
            run(Command::new("ip").args(["-n", vpc.dns.name(), "-4", "addr", "show", "dev", "lo"]))
                .map(|o| String::from_utf8_lossy(&o.stdout).contains(&addr))
                .unwrap_or(false);
        if !has {
            let mut cmds = format!("addr add {addr} dev lo\n");
            for c in &vpc.config.cidrs_v4 {
                writeln!(cmds, "route replace {c} via {}", vpc.links.router_dns).ok();
            }
            vpc.dns.ip_batch(&cmds)?;
            let child = vpc
                .dns
                .command(&self.options.services_bin)
                .args(["dns-forward", "--listen", &d.to_string(), "--upstream"])
                .arg(addrs::INET_DNS.to_string())
                .arg("--policy")
                .arg(self.dns_policy_file(v))
                .stdin(Stdio::null())
                .spawn()
                .context("starting the Amazon DNS forwarder")?;
            self.services.push(child);
            wait_listening(&self.vpcs[v].dns, &format!("{d}:53"), "udp")?;
        }
        let vpc = &self.vpcs[v];
        let rule = if vpc.config.enable_dns_support {
            ""
        } else {
            "    iifname \"dns0\" drop comment \"enableDnsSupport=false\"\n"
        };
        vpc.dns.nft(&format!(
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
