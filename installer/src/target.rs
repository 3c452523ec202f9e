//! `--target` syntax: `dns:name`, `tcp://host:port`, `https://host[:port][/path]`, parsed
//! into the shared `Target` model so a bad target is a usage error here, not a probe error.

use egress_probe::model::Target;

/// Targets checked when none is given (`diagnose` without `--target`).
pub const DEFAULT_TARGETS: &[&str] = &[
    "dns:checkip.amazonaws.com",
    "tcp://checkip.amazonaws.com:443",
    "https://checkip.amazonaws.com/",
];

/// clap value parser: validates and returns the target in canonical form.
pub fn parse_target(s: &str) -> Result<String, String> {
    parse(s).map(|t| t.to_string())
}

/// Parses one target.
pub fn parse(s: &str) -> Result<Target, String> {
    let s = s.trim();
    if let Some(name) = s.strip_prefix("dns:") {
        let name = name.trim_end_matches('.');
        check_host(name, s)?;
        return Ok(Target::Dns {
            name: name.to_string(),
        });
    }
    if let Some(rest) = s.strip_prefix("tcp://") {
        let (host, port) = split_host_port(rest.trim_end_matches('/'), s)?;
        let port = port.ok_or_else(|| format!("target `{s}` needs a port (tcp://host:port)"))?;
        return Ok(Target::Tcp { host, port });
    }
    if let Some(rest) = s.strip_prefix("https://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(format!("target `{s}` must not carry credentials"));
        }
        let (host, port) = split_host_port(authority, s)?;
        return Ok(Target::Https {
            url: s.to_string(),
            host,
            port: port.unwrap_or(443),
        });
    }
    Err(format!(
        "target `{s}` must be dns:NAME, tcp://HOST:PORT or https://URL"
    ))
}

fn split_host_port(authority: &str, whole: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("target `{whole}`: unclosed `[` in IPv6 address"))?;
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("target `{whole}`: `{h}` is not an IPv6 address"));
        }
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(format!("target `{whole}`: junk after `]`")),
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => {
                check_host(h, whole)?;
                (h.to_string(), Some(p))
            }
            None => {
                check_host(authority, whole)?;
                (authority.to_string(), None)
            }
        }
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => {
                return Err(format!(
                    "target `{whole}`: port `{p}` must be a number from 1 to 65535"
                ));
            }
            Ok(n) => Some(n),
        },
    };
    Ok((host, port))
}

fn check_host(host: &str, whole: &str) -> Result<(), String> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("target `{whole}`: `{host}` is not a host name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        assert_eq!(
            parse("dns:example.com.").unwrap(),
            Target::Dns {
                name: "example.com".into()
            }
        );
        assert_eq!(
            parse("tcp://192.0.2.10:443").unwrap(),
            Target::Tcp {
                host: "192.0.2.10".into(),
                port: 443
            }
        );
        assert_eq!(
            parse("tcp://[2001:db8::1]:53").unwrap(),
            Target::Tcp {
                host: "2001:db8::1".into(),
                port: 53
            }
        );
        assert_eq!(
            parse("https://example.com:8443/health").unwrap(),
            Target::Https {
                url: "https://example.com:8443/health".into(),
                host: "example.com".into(),
                port: 8443
            }
        );
        assert_eq!(parse("https://example.com").unwrap().port(), Some(443));
    }

    #[test]
    fn rejects_bad_targets_naming_the_problem() {
        assert!(parse("tcp://example.com").unwrap_err().contains("port"));
        assert!(parse("tcp://example.com:0").unwrap_err().contains("port"));
        assert!(
            parse("tcp://example.com:70000")
                .unwrap_err()
                .contains("port")
        );
        assert!(parse("http://example.com").unwrap_err().contains("must be"));
        assert!(parse("dns:").unwrap_err().contains("host name"));
        assert!(parse("dns:exa mple.com").unwrap_err().contains("host name"));
        assert!(
            parse("https://u:p@example.com/")
                .unwrap_err()
                .contains("credentials")
        );
    }

    #[test]
    fn canonical_form_round_trips() {
        for t in DEFAULT_TARGETS {
            assert_eq!(parse_target(t).unwrap(), *t);
        }
    }
}
