//! The lab's fixed address plan (documentation ranges only) and the internet's DNS zone.
//!
//! | what | address |
//! |---|---|
//! | router ↔ internet link | 192.0.2.1/30 ↔ 192.0.2.2/30, 2001:db8:ffff::1/64 ↔ ::2 |
//! | router ↔ Amazon DNS host | 192.0.2.9/30 ↔ 192.0.2.10/30 (VPC+2 lives on the DNS host) |
//! | Amazon DNS host ↔ internet (side link, R19) | 192.0.2.13/30 ↔ 192.0.2.14/30 |
//! | EIPs (moto's 127.x mapped in order) | 198.51.100.10 … |
//! | internet services | 203.0.113.0/24 and 2001:db8:113::/64 (see [`ZONE`]) |
//! | the VPC's IPv6 block | moto's 2400:6500:…/56 mapped to 2001:db8:100::/56 (low 72 bits kept) |

use ipnet::Ipv6Net;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const ROUTER_INET_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const INET_ROUTER_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
pub const ROUTER_INET_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1);
pub const INET_ROUTER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 2);
pub const ROUTER_DNS_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 9);
pub const DNS_ROUTER_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
pub const DNS_INET_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 13);
pub const INET_DNS_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 14);
/// The links of one VPC's router: to the internet, to its Amazon DNS host, and that host's
/// side link to the internet (R19). VPC 0 uses the addresses above; VPC `v` ≥ 1 uses
/// 192.0.2.(64 + 16(v-1))/28, cut in three /30s. IPv6 only for VPC 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VpcLinks {
    pub router_inet: Ipv4Addr,
    pub inet_router: Ipv4Addr,
    pub router_dns: Ipv4Addr,
    pub dns_router: Ipv4Addr,
    pub dns_inet: Ipv4Addr,
    pub inet_dns: Ipv4Addr,
}

/// Most VPCs one lab holds.
pub const MAX_VPCS: usize = 8;

pub fn vpc_links(v: usize) -> VpcLinks {
    if v == 0 {
        return VpcLinks {
            router_inet: ROUTER_INET_V4,
            inet_router: INET_ROUTER_V4,
            router_dns: ROUTER_DNS_V4,
            dns_router: DNS_ROUTER_V4,
            dns_inet: DNS_INET_V4,
            inet_dns: INET_DNS_V4,
        };
    }
    let base = u32::from(Ipv4Addr::new(192, 0, 2, 64)) + 16 * (v as u32 - 1);
    let a = |o: u32| Ipv4Addr::from(base + o);
    VpcLinks {
        router_inet: a(1),
        inet_router: a(2),
        router_dns: a(5),
        dns_router: a(6),
        dns_inet: a(9),
        inet_dns: a(10),
    }
}

/// The /30 of peering link `n` (192.0.2.192/26): (one side, the other side).
pub fn peering_link(n: usize) -> (Ipv4Addr, Ipv4Addr) {
    let base = u32::from(Ipv4Addr::new(192, 0, 2, 192)) + 4 * (n as u32 % 16);
    (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
}

/// First lab EIP; moto's EIPs (127.x) map to consecutive addresses from here.
pub const EIP_BASE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
pub const EIP_NET: &str = "198.51.100.0/24";

/// The internet's authoritative DNS server.
pub const INET_DNS: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 53);
pub const INET_DNS_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x113, 0, 0, 0, 0, 0x53);
/// The "AWS API" address on the internet side, bridged to moto over a unix socket.
pub const AWS_API: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 100);
pub const AWS_API_PORT: u16 = 80;
pub const SERVICES_NET_V4: &str = "203.0.113.0/24";
pub const SERVICES_NET_V6: &str = "2001:db8:113::/64";

/// The lab's domain (authoritative on the internet DNS server).
pub const DOMAIN: &str = "lab.example";

/// A name in the internet zone: what it is for, and its addresses.
#[derive(Debug, Clone, Copy)]
pub struct ZoneName {
    pub name: &'static str,
    pub v4: Ipv4Addr,
    pub v6: Option<Ipv6Addr>,
    /// What listens there.
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// HTTP on 80, HTTPS on 443 (test CA), both answering 200.
    Web,
    /// Like `Web`, the body is the client's address as the server saw it.
    CheckIp,
    /// Nothing listens: every TCP connect gets a reset (ECONNREFUSED).
    Reset,
    /// Port 443 answers any ClientHello with a fatal TLS alert.
    TlsAlert,
    /// The AWS API bridge (port 80 → moto).
    AwsApi,
    /// The DNS server itself.
    Dns,
}

pub const ZONE: &[ZoneName] = &[
    ZoneName {
        name: "www.lab.example",
        v4: Ipv4Addr::new(203, 0, 113, 10),
        v6: Some(Ipv6Addr::new(0x2001, 0xdb8, 0x113, 0, 0, 0, 0, 0x10)),
        role: Role::Web,
    },
    ZoneName {
        name: "v4.lab.example",
        v4: Ipv4Addr::new(203, 0, 113, 14),
        v6: None,
        role: Role::Web,
    },
    ZoneName {
        name: "checkip.lab.example",
        v4: Ipv4Addr::new(203, 0, 113, 11),
        v6: Some(Ipv6Addr::new(0x2001, 0xdb8, 0x113, 0, 0, 0, 0, 0x11)),
        role: Role::CheckIp,
    },
    ZoneName {
        name: "rst.lab.example",
        v4: Ipv4Addr::new(203, 0, 113, 12),
        v6: Some(Ipv6Addr::new(0x2001, 0xdb8, 0x113, 0, 0, 0, 0, 0x12)),
        role: Role::Reset,
    },
    ZoneName {
        name: "alert.lab.example",
        v4: Ipv4Addr::new(203, 0, 113, 13),
        v6: Some(Ipv6Addr::new(0x2001, 0xdb8, 0x113, 0, 0, 0, 0, 0x13)),
        role: Role::TlsAlert,
    },
    ZoneName {
        name: "aws.lab.example",
        v4: AWS_API,
        v6: None,
        role: Role::AwsApi,
    },
    ZoneName {
        name: "dns.lab.example",
        v4: INET_DNS,
        v6: Some(INET_DNS_V6),
        role: Role::Dns,
    },
];

/// Looks a name up in the zone (case-insensitive, trailing dot ignored).
pub fn zone_lookup(name: &str) -> Option<&'static ZoneName> {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    ZONE.iter().find(|z| z.name == n)
}

/// True when `name` is inside the lab's domain.
pub fn in_domain(name: &str) -> bool {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    n == DOMAIN || n.ends_with(&format!(".{DOMAIN}"))
}

/// Every address the internet namespace holds for its services.
pub fn service_addrs() -> Vec<IpAddr> {
    let mut v = Vec::new();
    for z in ZONE {
        v.push(IpAddr::V4(z.v4));
        if let Some(a) = z.v6 {
            v.push(IpAddr::V6(a));
        }
    }
    v
}

/// Maps moto's AmazonProvided IPv6 address (2400:6500:…) into the lab's 2001:db8:100::/56:
/// the top 56 bits are replaced, the low 72 bits (subnet byte + interface id) kept. moto
/// ignores a caller-given `Ipv6CidrBlock` (tried: it keeps no IPv6 block), so the lab maps.
pub fn map_v6(moto: Ipv6Addr) -> Ipv6Addr {
    let low_mask: u128 = (1u128 << 72) - 1;
    let lab_prefix: u128 = u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 0));
    Ipv6Addr::from(lab_prefix | (u128::from(moto) & low_mask))
}

/// [`map_v6`] for a network (prefix length kept; must be /56 or longer).
pub fn map_v6_net(moto: Ipv6Net) -> Ipv6Net {
    Ipv6Net::new(map_v6(moto.network()), moto.prefix_len().max(56)).unwrap_or(moto)
}

/// The lab's IPv6 block for the VPC.
pub fn lab_vpc_v6() -> Ipv6Net {
    Ipv6Net::new(Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 0), 56)
        .unwrap_or_else(|_| Ipv6Net::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v6_mapping_keeps_subnet_and_interface_bits_inside_documentation_range() {
        let moto: Ipv6Addr = "2400:6500:a680:cf01::1234".parse().unwrap();
        let lab = map_v6(moto);
        assert_eq!(lab, "2001:db8:100:1::1234".parse::<Ipv6Addr>().unwrap());
        let net: Ipv6Net = "2400:6500:a680:cf02::/64".parse().unwrap();
        assert_eq!(map_v6_net(net).to_string(), "2001:db8:100:2::/64");
        assert!(lab_vpc_v6().contains(&lab));
    }

    #[test]
    fn vpc_links_do_not_overlap() {
        let mut seen = std::collections::BTreeSet::new();
        for v in 0..MAX_VPCS {
            let l = vpc_links(v);
            for a in [
                l.router_inet,
                l.inet_router,
                l.router_dns,
                l.dns_router,
                l.dns_inet,
                l.inet_dns,
            ] {
                assert!(seen.insert(a), "{a} used twice");
                assert_eq!(a.octets()[..3], [192, 0, 2]);
            }
        }
        for n in 0..16 {
            let (a, b) = peering_link(n);
            assert!(seen.insert(a) && seen.insert(b));
        }
    }

    #[test]
    fn zone_is_case_insensitive_and_scoped() {
        assert_eq!(
            zone_lookup("WWW.lab.example.").map(|z| z.role),
            Some(Role::Web)
        );
        assert!(zone_lookup("nope.lab.example").is_none());
        assert!(in_domain("nope.lab.example"));
        assert!(!in_domain("example.com"));
    }
}
