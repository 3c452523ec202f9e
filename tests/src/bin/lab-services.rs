//! Services of the VPC lab, run inside a lab namespace with `ip netns exec`:
//!
//! ```text
//! lab-services inet --cert PEM --key PEM      # the internet: DNS, HTTP/HTTPS, TLS alert
//! lab-services dns-forward --listen IP --upstream IP   # Amazon DNS at VPC+2
//! lab-services dns-auth --listen IP           # a custom (DHCP options) DNS server
//! lab-services tcp-unix --listen IP:PORT --socket PATH  # TCP → unix socket bridge
//! lab-services delay-line --a NAME --b NAME --delay-ms N  # two TUNs, N ms each way
//! lab-services tcp-connect HOST:PORT TIMEOUT_MS [--random-sport]  # ok|timeout|refused|…
//! lab-services firewall --tun NAME --policy FILE  # a Network Firewall endpoint's enforcer
//! ```
//!
//! Every listener binds a documentation-range address inside its namespace only.

use anyhow::{Context, Result, bail};
use egress_probe_e2e::lab::addrs::{self, Role};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, Record, RecordType};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket, UnixStream};

fn arg(args: &[String], name: &str) -> Result<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .with_context(|| format!("missing {name}"))
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lab-services: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lab-services: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(args: Vec<String>) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("inet") => inet(&arg(&args, "--cert")?, &arg(&args, "--key")?).await,
        Some("dns-forward") => {
            let listen: IpAddr = arg(&args, "--listen")?.parse()?;
            let upstream: IpAddr = arg(&args, "--upstream")?.parse()?;
            dns_forward(listen, upstream).await
        }
        Some("dns-auth") => {
            let listen: IpAddr = arg(&args, "--listen")?.parse()?;
            serve_dns(listen).await
        }
        Some("tcp-unix") => {
            let listen: SocketAddr = arg(&args, "--listen")?.parse()?;
            tcp_unix(listen, arg(&args, "--socket")?).await
        }
        Some("delay-line") => {
            let ms: u64 = arg(&args, "--delay-ms")?.parse()?;
            let (a, b) = (arg(&args, "--a")?, arg(&args, "--b")?);
            tokio::task::spawn_blocking(move || delay::run(&a, &b, Duration::from_millis(ms)))
                .await?
        }
        Some("firewall") => {
            let (tun, policy) = (arg(&args, "--tun")?, arg(&args, "--policy")?);
            tokio::task::spawn_blocking(move || firewall::run(&tun, std::path::Path::new(&policy)))
                .await?
        }
        Some("tcp-connect") => {
            let target = args.get(1).context("tcp-connect HOST:PORT TIMEOUT_MS")?;
            let ms: u64 = args.get(2).context("TIMEOUT_MS")?.parse()?;
            let random_sport = args.iter().any(|a| a == "--random-sport");
            println!(
                "{}",
                tcp_connect(target, Duration::from_millis(ms), random_sport).await
            );
            Ok(())
        }
        _ => bail!("usage: lab-services inet|dns-forward|dns-auth|tcp-unix|tcp-connect …"),
    }
}

/// A source port drawn uniformly from the kernel's ephemeral range
/// (`net.ipv4.ip_local_port_range`). Linux picks neighbouring ports for consecutive
/// connections to one destination, whereas independent Lambda execution environments land
/// anywhere in the range; `--random-sport` emulates the latter.
fn random_ephemeral_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let range =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut it = range
        .split_whitespace()
        .filter_map(|v| v.parse::<u32>().ok());
    let (lo, hi) = (it.next().unwrap_or(32768), it.next().unwrap_or(60999));
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (lo + (h.finish() % u64::from(hi.saturating_sub(lo).max(1))) as u32) as u16
}

async fn connect(target: &str, random_sport: bool) -> std::io::Result<TcpStream> {
    if !random_sport {
        return TcpStream::connect(target).await;
    }
    let addr: SocketAddr = target
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    let local: SocketAddr = if addr.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, random_ephemeral_port()).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, random_ephemeral_port()).into()
    };
    socket.bind(local)?;
    socket.connect(addr).await
}

/// Connects once and names the outcome the way the kernel reported it.
async fn tcp_connect(target: &str, timeout: Duration, random_sport: bool) -> String {
    match tokio::time::timeout(timeout, connect(target, random_sport)).await {
        Err(_) => "timeout".into(),
        Ok(Ok(_)) => "ok".into(),
        Ok(Err(e)) => match e.kind() {
            std::io::ErrorKind::ConnectionRefused => "refused".into(),
            std::io::ErrorKind::TimedOut => "timeout".into(),
            _ => format!("error:{e}"),
        },
    }
}

/// The answer of the lab's zone to one query message.
fn answer(query: &Message) -> Message {
    let mut resp = Message::new();
    resp.set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true)
        .set_authoritative(true);
    resp.add_queries(query.queries().to_vec());
    let Some(q) = query.queries().first() else {
        resp.set_response_code(ResponseCode::FormErr);
        return resp;
    };
    let name = q.name().to_ascii();
    if !addrs::in_domain(&name) {
        resp.set_response_code(ResponseCode::Refused);
        return resp;
    }
    match addrs::zone_lookup(&name) {
        None => {
            resp.set_response_code(ResponseCode::NXDomain);
        }
        Some(z) => {
            match q.query_type() {
                RecordType::A => {
                    resp.add_answer(Record::from_rdata(q.name().clone(), 60, RData::A(A(z.v4))));
                }
                RecordType::AAAA => {
                    if let Some(v6) = z.v6 {
                        resp.add_answer(Record::from_rdata(
                            q.name().clone(),
                            60,
                            RData::AAAA(AAAA(v6)),
                        ));
                    }
                }
                _ => {}
            }
            resp.set_response_code(ResponseCode::NoError);
        }
    }
    resp
}

/// Authoritative DNS for the lab's zone over UDP and TCP.
async fn serve_dns(listen: IpAddr) -> Result<()> {
    let udp = UdpSocket::bind((listen, 53))
        .await
        .with_context(|| format!("binding udp {listen}:53"))?;
    let tcp = TcpListener::bind((listen, 53))
        .await
        .with_context(|| format!("binding tcp {listen}:53"))?;
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = tcp.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut len = [0u8; 2];
                if stream.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
                if stream.read_exact(&mut buf).await.is_err() {
                    return;
                }
                let Ok(q) = Message::from_vec(&buf) else {
                    return;
                };
                if let Ok(out) = answer(&q).to_vec() {
                    let mut framed = (out.len() as u16).to_be_bytes().to_vec();
                    framed.extend(out);
                    let _ = stream.write_all(&framed).await;
                }
            });
        }
    });
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, peer) = udp.recv_from(&mut buf).await?;
        let Ok(q) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        if let Ok(out) = answer(&q).to_vec() {
            let _ = udp.send_to(&out, peer).await;
        }
    }
}

/// A UDP DNS forwarder (the Amazon DNS host): each query relayed to `upstream`, its answer
/// relayed back; no answer upstream means no answer here.
async fn dns_forward(listen: IpAddr, upstream: IpAddr) -> Result<()> {
    let udp = Arc::new(
        UdpSocket::bind((listen, 53))
            .await
            .with_context(|| format!("binding udp {listen}:53"))?,
    );
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, peer) = udp.recv_from(&mut buf).await?;
        let query = buf[..n].to_vec();
        let udp = udp.clone();
        tokio::spawn(async move {
            let Ok(sock) = UdpSocket::bind((IpAddr::from([0u8, 0, 0, 0]), 0)).await else {
                return;
            };
            if sock.send_to(&query, (upstream, 53)).await.is_err() {
                return;
            }
            let mut resp = vec![0u8; 4096];
            if let Ok(Ok(m)) =
                tokio::time::timeout(Duration::from_secs(3), sock.recv(&mut resp)).await
            {
                let _ = udp.send_to(&resp[..m], peer).await;
            }
        });
    }
}

/// Bridges every TCP connection on `listen` to the unix socket at `path`.
async fn tcp_unix(listen: SocketAddr, path: String) -> Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    loop {
        let (mut tcp, _) = listener.accept().await?;
        let path = path.clone();
        tokio::spawn(async move {
            if let Ok(mut unix) = UnixStream::connect(&path).await {
                let _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix).await;
            }
        });
    }
}

/// Reads an HTTP request head (bounded) and answers 200 with `body`.
async fn http_answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: &mut S,
    body: &str,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16384 {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
    let text = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(text.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The internet namespace's services.
async fn inet(cert: &str, key: &str) -> Result<()> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .context("reading certificate")?
        .collect::<Result<_, _>>()
        .context("parsing certificate")?;
    let key = PrivateKeyDer::from_pem_file(key).context("reading key")?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    let mut tasks = tokio::task::JoinSet::new();
    for z in addrs::ZONE {
        let mut ips = vec![IpAddr::V4(z.v4)];
        if let Some(v6) = z.v6 {
            ips.push(IpAddr::V6(v6));
        }
        for ip in ips {
            match z.role {
                Role::Dns => {
                    tasks.spawn(serve_dns(ip));
                }
                Role::Web | Role::CheckIp => {
                    let checkip = z.role == Role::CheckIp;
                    let plain = TcpListener::bind((ip, 80))
                        .await
                        .with_context(|| format!("binding {ip}:80"))?;
                    tasks.spawn(async move {
                        loop {
                            let (mut s, peer) = plain.accept().await?;
                            tokio::spawn(async move {
                                let body = if checkip {
                                    peer.ip().to_string()
                                } else {
                                    "hello from the lab internet\n".into()
                                };
                                http_answer(&mut s, &body).await;
                            });
                        }
                    });
                    let tls = TcpListener::bind((ip, 443))
                        .await
                        .with_context(|| format!("binding {ip}:443"))?;
                    let acceptor = acceptor.clone();
                    tasks.spawn(async move {
                        loop {
                            let (s, peer) = tls.accept().await?;
                            let acceptor = acceptor.clone();
                            tokio::spawn(async move {
                                let Ok(Ok(mut s)) = tokio::time::timeout(
                                    Duration::from_secs(5),
                                    acceptor.accept(s),
                                )
                                .await
                                else {
                                    return;
                                };
                                let body = if checkip {
                                    peer.ip().to_string()
                                } else {
                                    "hello from the lab internet\n".into()
                                };
                                http_answer(&mut s, &body).await;
                            });
                        }
                    });
                }
                Role::TlsAlert => {
                    let l = TcpListener::bind((ip, 443))
                        .await
                        .with_context(|| format!("binding {ip}:443"))?;
                    tasks.spawn(async move {
                        loop {
                            let (mut s, _) = l.accept().await?;
                            tokio::spawn(async move {
                                let mut buf = [0u8; 2048];
                                // Wait for the ClientHello, then a fatal handshake_failure alert.
                                let _ =
                                    tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
                                        .await;
                                let _ = s
                                    .write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])
                                    .await;
                                let _ = s.shutdown().await;
                            });
                        }
                    });
                }
                Role::Reset | Role::AwsApi => {}
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// A userspace delay line (this kernel has no netem): two TUN devices; every packet read
/// from one is written to the other after a fixed one-way delay, in order.
mod delay {
    use anyhow::{Context, Result, bail};
    use std::fs::{File, OpenOptions};
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    const IFF_TUN: libc::c_short = 0x0001;
    const IFF_NO_PI: libc::c_short = 0x1000;
    const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        flags: libc::c_short,
        _pad: [u8; 22],
    }

    /// Opens `/dev/net/tun` and creates/attaches the TUN device `name` (no packet info).
    #[allow(unsafe_code)]
    pub(crate) fn open_tun(name: &str) -> Result<File> {
        if name.len() >= 16 {
            bail!("interface name {name} too long");
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .context("opening /dev/net/tun")?;
        let mut req = IfReq {
            name: [0; 16],
            flags: IFF_TUN | IFF_NO_PI,
            _pad: [0; 22],
        };
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        // SAFETY: TUNSETIFF reads and writes one `struct ifreq`, which `IfReq` lays out
        // (16-byte name, flags, padding to 40 bytes); the fd is open for the call's duration.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, &mut req as *mut IfReq) };
        if rc < 0 {
            bail!("TUNSETIFF {name}: {}", std::io::Error::last_os_error());
        }
        Ok(file)
    }

    fn pump(mut from: File, mut to: File, delay: Duration) {
        let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
        std::thread::spawn(move || {
            while let Ok((due, packet)) = rx.recv() {
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                let _ = to.write_all(&packet);
            }
        });
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0
                || tx
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
            {
                break;
            }
        }
    }

    /// Runs forever: `a` ⇄ `b`, `delay` each way.
    pub fn run(a: &str, b: &str, delay: Duration) -> Result<()> {
        let ta = open_tun(a)?;
        let tb = open_tun(b)?;
        let (ta2, tb2) = (ta.try_clone()?, tb.try_clone()?);
        let t = std::thread::spawn(move || pump(ta, tb2, delay));
        pump(tb, ta2, delay);
        let _ = t.join();
        Ok(())
    }
}

/// A firewall endpoint's enforcer: every packet the namespace routes into the TUN device is
/// judged by [`egress_probe_e2e::lab::firewall::Engine`] and what passes is written back.
/// The policy file is re-read when it changes (the lab rewrites it on sync).
mod firewall {
    use anyhow::{Context, Result};
    use egress_probe_e2e::lab::firewall::{Engine, Policy};
    use std::io::{Read, Write};
    use std::path::Path;
    use std::time::{Duration, Instant};

    pub fn run(tun: &str, policy_file: &Path) -> Result<()> {
        let mut dev = super::delay::open_tun(tun)?;
        let mut out = dev.try_clone().context("cloning the TUN handle")?;
        let read_policy = || -> Result<(String, Policy)> {
            let text = std::fs::read_to_string(policy_file)
                .with_context(|| format!("reading {}", policy_file.display()))?;
            let view: serde_json::Value =
                serde_json::from_str(&text).context("the policy file is not JSON")?;
            Ok((text, Policy::from_view(&view)?))
        };
        let (mut text, policy) = read_policy()?;
        let mut engine = Engine::new(policy);
        let mut checked = Instant::now();
        let mut buf = vec![0u8; 65536];
        loop {
            let n = dev.read(&mut buf).context("reading the TUN device")?;
            if n == 0 {
                return Ok(());
            }
            if checked.elapsed() > Duration::from_millis(200) {
                checked = Instant::now();
                if let Ok(new) = std::fs::read_to_string(policy_file)
                    && new != text
                    && let Ok((t, p)) = read_policy()
                {
                    text = t;
                    engine.set_policy(p);
                    eprintln!("firewall: policy reloaded");
                }
            }
            let outcome = engine.process(&buf[..n]);
            if let Some(note) = outcome.note {
                eprintln!("firewall: {note}");
            }
            for p in outcome.send {
                let _ = out.write_all(&p);
            }
        }
    }
}
