//! The resolver the function really has: `resolv.conf` → `ResolverInfo` for the report and a
//! hickory configuration for the checks. Every hickory type stays inside `checks/`.

use crate::model::ResolverInfo;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    NameServerConfig, NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use std::net::SocketAddr;
use std::path::Path;

/// resolv.conf as read once per process.
pub(super) struct ResolverSetup {
    pub info: ResolverInfo,
    config: Option<(ResolverConfig, ResolverOpts)>,
}

impl ResolverSetup {
    /// Reads `path`; `nameservers` (when given) replace its `nameserver` lines.
    pub fn load(path: &Path, nameservers: Option<&[SocketAddr]>) -> Self {
        let source = path.display().to_string();
        match super::read_capped(path, super::MAX_RESOLV_CONF_BYTES) {
            Ok(data) => Self::parse(source, &data, nameservers),
            Err(err) => match nameservers {
                Some(servers) => Self::parse(source.clone(), b"", Some(servers)).with_error(
                    format!("cannot read {source}: {err}; using the configured name servers"),
                ),
                None => Self {
                    info: ResolverInfo {
                        source: source.clone(),
                        servers: Vec::new(),
                        search: Vec::new(),
                        error: Some(format!("cannot read {source}: {err}")),
                    },
                    config: None,
                },
            },
        }
    }

    fn with_error(mut self, error: String) -> Self {
        if self.info.error.is_none() {
            self.info.error = Some(error);
        }
        self
    }

    /// Parses resolv.conf text (hickory's parser: `nameserver`, `search`, `domain`,
    /// `options ndots/timeout/attempts/edns0`).
    pub fn parse(source: String, data: &[u8], nameservers: Option<&[SocketAddr]>) -> Self {
        let mut text = data.to_vec();
        if nameservers.is_some() {
            // hickory refuses a file without `nameserver`; the override replaces them anyway.
            text.extend_from_slice(b"\nnameserver 127.0.0.1\n");
        }
        let parsed = match hickory_resolver::system_conf::parse_resolv_conf(&text) {
            Ok(parsed) => parsed,
            Err(err) => {
                return Self {
                    info: ResolverInfo {
                        source: source.clone(),
                        servers: Vec::new(),
                        search: Vec::new(),
                        error: Some(format!("cannot use {source}: {err}")),
                    },
                    config: None,
                };
            }
        };
        let (mut config, mut opts) = parsed;
        if let Some(servers) = nameservers {
            let mut group = NameServerConfigGroup::with_capacity(servers.len() * 2);
            for addr in servers {
                for protocol in [Protocol::Udp, Protocol::Tcp] {
                    let mut ns = NameServerConfig::new(*addr, protocol);
                    ns.trust_negative_responses = false;
                    group.push(ns);
                }
            }
            config = ResolverConfig::from_parts(
                config.domain().cloned(),
                config.search().to_vec(),
                group,
            );
        }
        // Every check builds its own resolver from this configuration, so nothing is ever
        // answered from a cache kept between checks or invocations: each check sends real
        // queries and measures real DNS time. Our own per-check timeout bounds the whole
        // lookup; resolv.conf's timeout/attempts apply inside it.
        opts.cache_size = 0;
        opts.preserve_intermediates = true;
        let servers = display_servers(&config);
        let search = config
            .search()
            .iter()
            .map(|n| n.to_string().trim_end_matches('.').to_string())
            .collect();
        Self {
            info: ResolverInfo {
                source,
                servers,
                search,
                error: None,
            },
            config: Some((config, opts)),
        }
    }

    /// A fresh resolver (no cache shared with other checks). `hosts_file`: consult
    /// /etc/hosts first, as getaddrinfo would (address lookups for TCP/HTTPS), or not (the
    /// DNS check asks the DNS servers).
    pub fn resolver(&self, hosts_file: bool) -> Option<TokioResolver> {
        let (config, opts) = self.config.as_ref()?;
        let mut opts = opts.clone();
        opts.use_hosts_file = if hosts_file {
            ResolveHosts::Always
        } else {
            ResolveHosts::Never
        };
        Some(
            TokioResolver::builder_with_config(config.clone(), TokioConnectionProvider::default())
                .with_options(opts)
                .build(),
        )
    }

    /// Why no resolver can be built, when none can.
    pub fn unavailable_reason(&self) -> String {
        self.info
            .error
            .clone()
            .unwrap_or_else(|| format!("no usable resolver in {}", self.info.source))
    }
}

/// Name servers as reported: the address, with `:port` only when it is not 53.
fn display_servers(config: &ResolverConfig) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for ns in config.name_servers() {
        let text = if ns.socket_addr.port() == 53 {
            ns.socket_addr.ip().to_string()
        } else {
            ns.socket_addr.to_string()
        };
        if !out.contains(&text) {
            out.push(text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parse(text: &str) -> ResolverSetup {
        ResolverSetup::parse("test".into(), text.as_bytes(), None)
    }

    #[test]
    fn lambda_style_resolv_conf() {
        let setup = parse("nameserver 169.254.78.1\nnameserver 10.0.0.2\nsearch ec2.internal\n");
        assert_eq!(setup.info.servers, vec!["169.254.78.1", "10.0.0.2"]);
        assert_eq!(setup.info.search, vec!["ec2.internal"]);
        assert_eq!(setup.info.error, None);
        assert!(setup.resolver(false).is_some());
    }

    #[test]
    fn options_timeout_and_attempts_are_kept() {
        let setup = parse("nameserver 10.0.0.2\noptions timeout:1 attempts:3 ndots:2\n");
        let (_, opts) = setup.config.as_ref().expect("parsed");
        assert_eq!(opts.timeout, Duration::from_secs(1));
        assert_eq!(opts.attempts, 3);
        assert_eq!(opts.ndots, 2);
        assert_eq!(opts.cache_size, 0);
    }

    #[test]
    fn ipv6_servers_are_reported() {
        let setup = parse("nameserver fd00:ec2::253\n");
        assert_eq!(setup.info.servers, vec!["fd00:ec2::253"]);
    }

    #[test]
    fn no_nameserver_is_an_error_not_a_panic() {
        let setup = parse("search example.com\n");
        assert!(setup.info.servers.is_empty());
        assert!(setup.info.error.is_some());
        assert!(setup.resolver(false).is_none());
    }

    #[test]
    fn override_replaces_servers_and_keeps_search() {
        let addr: SocketAddr = "127.0.0.1:5353".parse().expect("addr");
        let setup = ResolverSetup::parse(
            "test".into(),
            b"nameserver 10.0.0.2\nsearch corp.example\n",
            Some(&[addr]),
        );
        assert_eq!(setup.info.servers, vec!["127.0.0.1:5353"]);
        assert_eq!(setup.info.search, vec!["corp.example"]);
    }

    #[test]
    fn an_endless_file_is_refused_after_the_cap() {
        let setup = ResolverSetup::load(Path::new("/dev/zero"), None);
        let error = setup.info.error.clone().unwrap_or_default();
        assert!(error.contains("/dev/zero"), "{error}");
        assert!(error.contains("larger than 65536 bytes"), "{error}");
        assert!(setup.resolver(false).is_none());
    }

    #[test]
    fn missing_file_is_reported() {
        let setup = ResolverSetup::load(Path::new("/nonexistent/resolv.conf"), None);
        assert!(
            setup
                .info
                .error
                .as_deref()
                .is_some_and(|e| e.contains("/nonexistent/resolv.conf"))
        );
        assert!(setup.resolver(false).is_none());
    }
}
