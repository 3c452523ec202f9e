//! Loopback peers for the checks tests: a DNS responder, TCP/TLS servers that behave well or
//! badly, an HTTP CONNECT proxy, and a test CA made at test time with rcgen. Every server is
//! a task on the test's runtime, bound to 127.0.0.1 or ::1 only, and aborted when its guard
//! drops (also on a failed assertion).
#![allow(dead_code)]

use egress_probe::checks::{CheckSettings, Checker, ProxySettings, Timeouts};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, Record, RecordType};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

pub const LOCAL_V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
pub const LOCAL_V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// Aborts a server task when dropped.
pub struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    /// A guard for a server task a test spawned itself.
    pub fn new(addr: SocketAddr, task: JoinHandle<()>) -> Self {
        Self { addr, task }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// True when ::1 can be bound here (some containers disable IPv6 on lo).
pub fn ipv6_loopback() -> bool {
    std::net::TcpListener::bind((LOCAL_V6, 0)).is_ok()
}

pub fn timeouts(ms: u64) -> Timeouts {
    Timeouts {
        dns: Duration::from_millis(ms),
        connect: Duration::from_millis(ms),
        https: Duration::from_millis(ms),
    }
}

pub fn far_deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(30)
}

/// A checker and the files it reads (kept alive as long as the checker).
pub struct Harness {
    pub checker: Checker,
    _files: Vec<tempfile::NamedTempFile>,
}

pub struct HarnessBuilder {
    ca_pem: Option<String>,
    proxy: ProxySettings,
    dns: Option<SocketAddr>,
}

pub fn harness() -> HarnessBuilder {
    HarnessBuilder {
        ca_pem: None,
        proxy: ProxySettings::default(),
        dns: None,
    }
}

impl HarnessBuilder {
    pub fn ca(mut self, ca: &TestCa) -> Self {
        self.ca_pem = Some(ca.ca_pem.clone());
        self
    }
    pub fn proxy(mut self, https_proxy: &str, no_proxy: Option<&str>) -> Self {
        self.proxy = ProxySettings {
            https_proxy: Some(https_proxy.to_string()),
            no_proxy: no_proxy.map(str::to_string),
        };
        self
    }
    pub fn dns(mut self, server: SocketAddr) -> Self {
        self.dns = Some(server);
        self
    }
    pub fn build(self) -> Harness {
        let mut files = Vec::new();
        let resolv = temp_file("nameserver 127.0.0.1\noptions timeout:5 attempts:1\n");
        let resolv_path = resolv.path().to_path_buf();
        files.push(resolv);
        let extra_ca_file = self.ca_pem.map(|pem| {
            let f = temp_file(&pem);
            let p = f.path().to_path_buf();
            files.push(f);
            p
        });
        let mut checker = Checker::new(CheckSettings {
            extra_ca_file,
            proxy: self.proxy,
            resolv_conf: resolv_path,
        })
        .expect("checker");
        if let Some(dns) = self.dns {
            checker = checker.with_nameservers(vec![dns]);
        }
        Harness {
            checker,
            _files: files,
        }
    }
}

pub fn temp_file(content: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("tempfile");
    f.write_all(content.as_bytes()).expect("write");
    f.flush().expect("flush");
    f
}

// ---------------------------------------------------------------------------------------
// DNS responder

/// What the responder does for a name (any record type unless stated).
/// `a.test` and `other.test` A 127.0.0.1 (AAAA: NODATA); `dual.test` A 127.0.0.1 + AAAA ::1; `v6only.test`
/// AAAA ::1 (A: NODATA); `nx.test` NXDOMAIN; `servfail.test` SERVFAIL; `refused.test`
/// REFUSED; `nodata.test` NOERROR with no answer; `silent.test` no answer at all; anything
/// else NXDOMAIN.
pub struct DnsServer {
    pub server: Server,
    queries: Arc<Mutex<HashMap<String, usize>>>,
}

impl DnsServer {
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }
    /// How many queries (of any type) arrived for `name` (without the final dot).
    pub fn queries_for(&self, name: &str) -> usize {
        let key = format!("{}.", name.to_ascii_lowercase());
        *self.queries.lock().expect("lock").get(&key).unwrap_or(&0)
    }
}

pub async fn dns_server() -> DnsServer {
    let socket = UdpSocket::bind((LOCAL_V4, 0)).await.expect("bind udp");
    let addr = socket.local_addr().expect("addr");
    let queries: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let counter = queries.clone();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let Some(q) = query.queries().first().cloned() else {
                continue;
            };
            let name = q.name().to_ascii().to_ascii_lowercase();
            *counter
                .lock()
                .expect("lock")
                .entry(name.clone())
                .or_default() += 1;
            let mut resp = Message::new();
            resp.set_id(query.id())
                .set_message_type(MessageType::Response)
                .set_op_code(query.op_code())
                .set_recursion_desired(query.recursion_desired())
                .set_recursion_available(true)
                .add_query(q.clone());
            let v4 = RData::A(A(Ipv4Addr::LOCALHOST));
            let v6 = RData::AAAA(AAAA(Ipv6Addr::LOCALHOST));
            let rtype = q.query_type();
            let answer = |resp: &mut Message, rdata: RData| {
                resp.add_answer(Record::from_rdata(q.name().clone(), 5, rdata));
            };
            match name.as_str() {
                "silent.test." => continue,
                "a.test." | "other.test." if rtype == RecordType::A => answer(&mut resp, v4),
                "dual.test." if rtype == RecordType::A => answer(&mut resp, v4),
                "dual.test." if rtype == RecordType::AAAA => answer(&mut resp, v6),
                "v6only.test." if rtype == RecordType::AAAA => answer(&mut resp, v6),
                "a.test." | "other.test." | "dual.test." | "v6only.test." | "nodata.test." => {}
                "servfail.test." => {
                    resp.set_response_code(ResponseCode::ServFail);
                }
                "refused.test." => {
                    resp.set_response_code(ResponseCode::Refused);
                }
                _ => {
                    resp.set_response_code(ResponseCode::NXDomain);
                }
            }
            if let Ok(bytes) = resp.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    DnsServer {
        server: Server { addr, task },
        queries,
    }
}

// ---------------------------------------------------------------------------------------
// TCP peers

/// Accepts connections and keeps them open, reading and never writing (a plain TCP
/// listener for connect checks; a server that never answers the ClientHello for TLS).
pub async fn silent_server(ip: IpAddr) -> Server {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind");
    serve_silent(listener)
}

pub fn serve_silent(listener: TcpListener) -> Server {
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    Server { addr, task }
}

/// A port on `ip` where nothing listens (connects are refused).
pub fn closed_port(ip: IpAddr) -> SocketAddr {
    let listener = std::net::TcpListener::bind((ip, 0)).expect("bind");
    listener.local_addr().expect("addr")
}

/// Reads the ClientHello and answers with a fatal `handshake_failure` TLS alert record.
pub async fn alert_server() -> Server {
    let listener = TcpListener::bind((LOCAL_V4, 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                if stream.read(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
                // TLS record: alert (21), TLS 1.2 (3,3), length 2, fatal (2), handshake_failure (40).
                let _ = stream.write_all(&[21, 3, 3, 0, 2, 2, 40]).await;
                // Wait for the client to close, so it reads the alert rather than a reset.
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    Server { addr, task }
}

// ---------------------------------------------------------------------------------------
// TLS

/// A test CA and a leaf for localhost, 127.0.0.1, ::1, a.test and dual.test.
#[derive(Clone)]
pub struct TestCa {
    pub ca_pem: String,
    pub leaf_chain: Vec<CertificateDer<'static>>,
    pub leaf_key_der: Vec<u8>,
}

impl TestCa {
    pub fn new() -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "egress-probe test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().expect("ca key");
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_params = CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
            "a.test".to_string(),
            "dual.test".to_string(),
        ])
        .expect("leaf params");
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).expect("leaf");
        Self {
            ca_pem: ca_cert.pem(),
            leaf_chain: vec![leaf.der().clone()],
            leaf_key_der: leaf_key.serialize_der(),
        }
    }

    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key_der.clone()));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(self.leaf_chain.clone(), key)
            .expect("server config");
        Arc::new(config)
    }

    pub fn ca_file(&self) -> tempfile::NamedTempFile {
        temp_file(&self.ca_pem)
    }
}

/// How the HTTPS test server answers after the TLS handshake.
#[derive(Debug, Clone, Copy)]
pub enum HttpsMode {
    /// An HTTP/1.1 response with this status and a short body.
    Status(u16),
    /// Reads the request and never answers.
    NoResponse,
}

/// A TLS server; records the request heads it received.
pub struct HttpsServer {
    pub server: Server,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl HttpsServer {
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

pub async fn https_server(ca: &TestCa, ip: IpAddr, mode: HttpsMode) -> HttpsServer {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind");
    serve_https(ca, listener, mode)
}

pub fn serve_https(ca: &TestCa, listener: TcpListener, mode: HttpsMode) -> HttpsServer {
    let addr = listener.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config());
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = requests.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let Some(head) = read_head(&mut tls).await else {
                    return;
                };
                seen.lock().expect("lock").push(head);
                match mode {
                    HttpsMode::Status(code) => {
                        let body = "hello from the test server\n";
                        let resp = format!(
                            "HTTP/1.1 {code} Test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = tls.write_all(resp.as_bytes()).await;
                        let _ = tls.shutdown().await;
                    }
                    HttpsMode::NoResponse => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                }
            });
        }
    });
    HttpsServer {
        server: Server { addr, task },
        requests,
    }
}

async fn read_head<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            return Some(String::from_utf8_lossy(&head).into_owned());
        }
        if head.len() > 64 * 1024 {
            return None;
        }
    }
}

// ---------------------------------------------------------------------------------------
// HTTP CONNECT proxy

/// A CONNECT proxy that tunnels to loopback IP literals only; records the request heads.
/// With `required_auth`, a request without exactly that `Proxy-Authorization` gets 407.
pub struct ProxyServer {
    pub server: Server,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl ProxyServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

pub async fn connect_proxy(required_auth: Option<String>) -> ProxyServer {
    let listener = TcpListener::bind((LOCAL_V4, 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = requests.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let seen = seen.clone();
            let required_auth = required_auth.clone();
            tokio::spawn(async move {
                let Some(head) = read_head(&mut client).await else {
                    return;
                };
                seen.lock().expect("lock").push(head.clone());
                if let Some(auth) = &required_auth {
                    let expected = format!("proxy-authorization: {auth}");
                    if !head.lines().any(|l| l.eq_ignore_ascii_case(&expected)) {
                        let _ = client
                            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                            .await;
                        return;
                    }
                }
                let target = head
                    .lines()
                    .next()
                    .and_then(|l| l.strip_prefix("CONNECT "))
                    .and_then(|l| l.split(' ').next())
                    .and_then(|t| t.parse::<SocketAddr>().ok())
                    .filter(|a| a.ip().is_loopback());
                let Some(target) = target else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                let Ok(mut upstream) = TcpStream::connect(target).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                if client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    ProxyServer {
        server: Server { addr, task },
        requests,
    }
}

pub fn https_target(host: &str, port: u16, path: &str) -> egress_probe::model::Target {
    let url = if host.contains(':') {
        format!("https://[{host}]:{port}{path}")
    } else {
        format!("https://{host}:{port}{path}")
    };
    egress_probe::model::Target::Https {
        url,
        host: host.to_string(),
        port,
    }
}
