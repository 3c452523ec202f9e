//! nftables rule generation (text for `nft -f -`): NACLs and the internet gateway in the
//! router's forward path, the IGW's 1:1 EIP translation, and security groups on an ENI.
//!
//! Every deny is a silent `drop`, never `reject`, so the probe sees a real timeout.

use super::config::{NaclEntry, SgRule};
use ipnet::IpNet;
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr};

/// Router interface names the rules refer to.
pub const INET_LINK: &str = "rtinet";
pub const DNS_LINK: &str = "rtdns";

/// One subnet as the router sees it: its bridge and its NACL entries.
#[derive(Debug, Clone)]
pub struct SubnetAcl<'a> {
    pub bridge: String,
    pub entries: &'a [NaclEntry],
}

fn protocol_match(protocol: &str, ipv6: bool) -> Option<String> {
    match protocol.to_ascii_lowercase().as_str() {
        "-1" | "all" => None,
        "6" | "tcp" => Some("meta l4proto tcp".into()),
        "17" | "udp" => Some("meta l4proto udp".into()),
        "1" | "icmp" => Some(if ipv6 {
            // An IPv4 ICMP rule never matches IPv6 traffic.
            "meta l4proto 255".into()
        } else {
            "meta l4proto icmp".into()
        }),
        "58" | "icmpv6" => Some("meta l4proto ipv6-icmp".into()),
        other => Some(format!("meta l4proto {other}")),
    }
}

fn is_port_protocol(protocol: &str) -> bool {
    matches!(
        protocol.to_ascii_lowercase().as_str(),
        "6" | "tcp" | "17" | "udp"
    )
}

fn ports_match(protocol: &str, ports: Option<(u16, u16)>) -> Option<String> {
    let (from, to) = ports?;
    if !is_port_protocol(protocol) {
        return None;
    }
    if from == 0 && to == 65535 {
        return None;
    }
    Some(if from == to {
        format!("th dport {from}")
    } else {
        format!("th dport {from}-{to}")
    })
}

fn addr_match(cidr: &IpNet, field: &str) -> Option<String> {
    match cidr {
        IpNet::V4(n) if n.prefix_len() == 0 => Some("meta nfproto ipv4".into()),
        IpNet::V4(n) => Some(format!("ip {field} {n}")),
        IpNet::V6(n) if n.prefix_len() == 0 => Some("meta nfproto ipv6".into()),
        IpNet::V6(n) => Some(format!("ip6 {field} {n}")),
    }
}

/// The rules of one NACL direction, in rule-number order, first match wins, implicit deny.
/// An allow is `return` (the packet goes on to the other subnet's check); a deny is `drop`.
/// Egress entries match the destination, ingress entries the source. Ports are destination
/// ports in both directions (AWS semantics).
pub fn nacl_chain(name: &str, entries: &[NaclEntry], egress: bool) -> String {
    let mut sorted: Vec<&NaclEntry> = entries.iter().filter(|e| e.egress == egress).collect();
    sorted.sort_by_key(|e| e.rule_number);
    let field = if egress { "daddr" } else { "saddr" };
    let mut out = format!("  chain {name} {{\n");
    for e in sorted {
        let ipv6 = matches!(e.cidr, IpNet::V6(_));
        let mut parts = Vec::new();
        if let Some(a) = addr_match(&e.cidr, field) {
            parts.push(a);
        }
        if let Some(p) = protocol_match(&e.protocol, ipv6) {
            parts.push(p);
        }
        if let Some(p) = ports_match(&e.protocol, e.ports) {
            parts.push(p);
        }
        let verdict = if e.allow { "return" } else { "drop" };
        let _ = writeln!(
            out,
            "    {} {verdict} comment \"rule {}\"",
            parts.join(" "),
            e.rule_number
        );
    }
    out.push_str("    drop comment \"implicit deny\"\n  }\n");
    out
}

/// The router's filter table: NACLs at subnet boundaries and the internet gateway rule that
/// only addresses with a public IP association leave (R9), given as private → public.
pub fn router_ruleset(subnets: &[SubnetAcl<'_>], public: &[(Ipv4Addr, Ipv4Addr)]) -> String {
    let mut s = String::new();
    s.push_str("add table inet eplab_rt\ndelete table inet eplab_rt\n");
    s.push_str("add table ip eplab_igw\ndelete table ip eplab_igw\n");
    s.push_str("table inet eplab_rt {\n  set public4 { type ipv4_addr;");
    if !public.is_empty() {
        let elems: Vec<String> = public.iter().map(|(p, _)| p.to_string()).collect();
        let _ = write!(s, " elements = {{ {} }};", elems.join(", "));
    }
    s.push_str(" }\n");
    for (i, sn) in subnets.iter().enumerate() {
        s.push_str(&nacl_chain(&format!("nacl_out_{i}"), sn.entries, true));
        s.push_str(&nacl_chain(&format!("nacl_in_{i}"), sn.entries, false));
    }
    s.push_str("  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
    // R19: traffic to Amazon DNS is not filtered by NACLs.
    let _ = writeln!(s, "    iifname \"{DNS_LINK}\" accept");
    let _ = writeln!(s, "    oifname \"{DNS_LINK}\" accept");
    for (i, sn) in subnets.iter().enumerate() {
        let _ = writeln!(s, "    iifname \"{}\" jump nacl_out_{i}", sn.bridge);
    }
    for (i, sn) in subnets.iter().enumerate() {
        let _ = writeln!(s, "    oifname \"{}\" jump nacl_in_{i}", sn.bridge);
    }
    // R9: the IGW translates only addresses that have a public IP; the rest is dropped.
    let _ = writeln!(
        s,
        "    oifname \"{INET_LINK}\" meta nfproto ipv4 ip saddr != @public4 drop comment \"igw: no public ip\""
    );
    let _ = writeln!(
        s,
        "    iifname \"{INET_LINK}\" meta nfproto ipv4 ip daddr @public4 accept"
    );
    let _ = writeln!(
        s,
        "    iifname \"{INET_LINK}\" meta nfproto ipv6 ct state established,related accept comment \"eigw: stateful\""
    );
    let _ = writeln!(s, "    iifname \"{INET_LINK}\" drop");
    s.push_str("  }\n}\n");
    // The IGW's 1:1 translation between private address and EIP.
    s.push_str("table ip eplab_igw {\n");
    s.push_str("  map to_public { type ipv4_addr : ipv4_addr;");
    if !public.is_empty() {
        let elems: Vec<String> = public.iter().map(|(p, e)| format!("{p} : {e}")).collect();
        let _ = write!(s, " elements = {{ {} }};", elems.join(", "));
    }
    s.push_str(" }\n  map to_private { type ipv4_addr : ipv4_addr;");
    if !public.is_empty() {
        let elems: Vec<String> = public.iter().map(|(p, e)| format!("{e} : {p}")).collect();
        let _ = write!(s, " elements = {{ {} }};", elems.join(", "));
    }
    s.push_str(" }\n");
    let _ = writeln!(
        s,
        "  chain pre {{\n    type nat hook prerouting priority dstnat; policy accept;\n    iifname \"{INET_LINK}\" dnat to ip daddr map @to_private\n  }}"
    );
    let _ = writeln!(
        s,
        "  chain post {{\n    type nat hook postrouting priority srcnat; policy accept;\n    oifname \"{INET_LINK}\" snat to ip saddr map @to_public\n  }}"
    );
    s.push_str("}\n");
    s
}

/// A security group's rules for one direction as nft rule bodies (without verdict).
fn sg_rule_lines(
    rule: &SgRule,
    field: &str,
    group_addrs: &dyn Fn(&str) -> Vec<IpAddr>,
) -> Vec<String> {
    let mut addrs: Vec<IpNet> = rule.cidrs.clone();
    for g in &rule.groups {
        addrs.extend(group_addrs(g).into_iter().map(IpNet::from));
    }
    let mut lines = Vec::new();
    for a in addrs {
        let ipv6 = matches!(a, IpNet::V6(_));
        let mut parts = Vec::new();
        if let Some(m) = addr_match(&a, field) {
            parts.push(m);
        }
        if let Some(p) = protocol_match(&rule.protocol, ipv6) {
            parts.push(p);
        }
        if let Some(p) = ports_match(&rule.protocol, rule.ports) {
            parts.push(p);
        }
        lines.push(parts.join(" "));
    }
    lines
}

/// A security group's ingress side in an ENI namespace: established/related back in,
/// new inbound flows only where an ingress rule allows; everything else silently dropped.
/// (The egress side is [`sg_egress_ruleset`], on the router side of the ENI's veth.)
pub fn sg_ruleset(ingress: &[&SgRule], group_addrs: &dyn Fn(&str) -> Vec<IpAddr>) -> String {
    let mut s = String::from(
        "add table inet eplab_sg\ndelete table inet eplab_sg\ntable inet eplab_sg {\n  chain input {\n    type filter hook input priority filter; policy drop;\n    iifname \"lo\" accept\n    ct state established,related accept\n    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept\n",
    );
    for r in ingress {
        for line in sg_rule_lines(r, "saddr", group_addrs) {
            let _ = writeln!(s, "    {line} accept");
        }
    }
    s.push_str("  }\n}\n");
    s
}

/// Security-group egress of every ENI, enforced in the router namespace's bridge as frames
/// leave the ENI (`iifname <router-side veth>`). A drop in the ENI's own output path would
/// make `sendmsg`/`connect` fail at once with EPERM — an error AWS never produces — while a
/// drop on the wire side is silent, as a security group is: the client sees a timeout.
/// `exempt` are destinations SGs never filter (Amazon DNS, R19). Egress rules are matched
/// per packet; replies to the ENI's own flows are not filtered here (SGs are stateful).
pub fn sg_egress_ruleset(
    enis: &[(String, Vec<&SgRule>)],
    exempt: &[IpAddr],
    group_addrs: &dyn Fn(&str) -> Vec<IpAddr>,
) -> String {
    let mut s = String::from(
        "add table bridge eplab_sg_egress\ndelete table bridge eplab_sg_egress\ntable bridge eplab_sg_egress {\n  chain pre {\n    type filter hook prerouting priority filter; policy accept;\n",
    );
    for (i, (veth, _)) in enis.iter().enumerate() {
        let _ = writeln!(s, "    iifname \"{veth}\" jump sg_{i}");
    }
    s.push_str("  }\n");
    for (i, (_, egress)) in enis.iter().enumerate() {
        let _ = writeln!(
            s,
            "  chain sg_{i} {{\n    ether type != {{ ip, ip6 }} accept\n    icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit }} accept"
        );
        for e in exempt {
            let _ = match e {
                IpAddr::V4(a) => writeln!(s, "    ip daddr {a} accept comment \"R19 amazon dns\""),
                IpAddr::V6(a) => writeln!(s, "    ip6 daddr {a} accept comment \"R19 amazon dns\""),
            };
        }
        for r in egress {
            for line in sg_rule_lines(r, "daddr", group_addrs) {
                let line = line
                    .replace("meta nfproto ipv4", "ether type ip")
                    .replace("meta nfproto ipv6", "ether type ip6");
                let _ = writeln!(s, "    {line} accept");
            }
        }
        s.push_str("    drop\n  }\n");
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        n: i32,
        egress: bool,
        proto: &str,
        allow: bool,
        cidr: &str,
        ports: Option<(u16, u16)>,
    ) -> NaclEntry {
        NaclEntry {
            rule_number: n,
            egress,
            protocol: proto.into(),
            allow,
            cidr: cidr.parse().unwrap(),
            ports,
        }
    }

    #[test]
    fn nacl_chain_sorts_by_rule_number_and_ends_with_implicit_deny() {
        let entries = vec![
            entry(200, false, "-1", true, "0.0.0.0/0", None),
            entry(100, false, "6", false, "0.0.0.0/0", Some((1024, 65535))),
            entry(50, true, "-1", true, "0.0.0.0/0", None),
        ];
        let text = nacl_chain("c", &entries, false);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert_eq!(
            lines,
            vec![
                "chain c {",
                "meta nfproto ipv4 meta l4proto tcp th dport 1024-65535 drop comment \"rule 100\"",
                "meta nfproto ipv4 return comment \"rule 200\"",
                "drop comment \"implicit deny\"",
                "}",
            ]
        );
    }

    #[test]
    fn ipv4_icmp_rule_never_matches_ipv6_and_cidrs_pick_the_direction_field() {
        let entries = vec![
            entry(10, true, "1", true, "::/0", None),
            entry(20, true, "17", true, "10.0.0.0/16", Some((53, 53))),
            entry(30, false, "6", true, "2001:db8::/32", Some((443, 443))),
        ];
        let out = nacl_chain("o", &entries, true);
        assert!(out.contains("meta nfproto ipv6 meta l4proto 255 return"));
        assert!(out.contains("ip daddr 10.0.0.0/16 meta l4proto udp th dport 53 return"));
        let inn = nacl_chain("i", &entries, false);
        assert!(inn.contains("ip6 saddr 2001:db8::/32 meta l4proto tcp th dport 443 return"));
    }

    #[test]
    fn router_ruleset_lists_public_addresses_for_the_igw() {
        let entries = vec![entry(100, true, "-1", true, "0.0.0.0/0", None)];
        let subnets = vec![SubnetAcl {
            bridge: "bs0".into(),
            entries: &entries,
        }];
        let p: Ipv4Addr = "10.0.1.250".parse().unwrap();
        let e: Ipv4Addr = "198.51.100.10".parse().unwrap();
        let text = router_ruleset(&subnets, &[(p, e)]);
        assert!(text.contains("elements = { 10.0.1.250 }"));
        assert!(text.contains("10.0.1.250 : 198.51.100.10"));
        assert!(text.contains("198.51.100.10 : 10.0.1.250"));
        assert!(text.contains("iifname \"bs0\" jump nacl_out_0"));
        assert!(!text.contains("reject"));
    }

    #[test]
    fn sg_ruleset_allows_only_listed_egress() {
        let r = SgRule {
            protocol: "tcp".into(),
            ports: Some((443, 443)),
            cidrs: vec!["0.0.0.0/0".parse().unwrap()],
            groups: vec!["sg-1".into()],
        };
        let text = sg_egress_ruleset(
            &[("veth7".to_string(), vec![&r])],
            &["10.0.0.2".parse().unwrap()],
            &|g| {
                assert_eq!(g, "sg-1");
                vec!["10.0.1.9".parse().unwrap()]
            },
        );
        assert!(text.contains("iifname \"veth7\" jump sg_0"));
        assert!(text.contains("ether type ip meta l4proto tcp th dport 443 accept"));
        assert!(text.contains("ip daddr 10.0.1.9/32 meta l4proto tcp th dport 443 accept"));
        assert!(text.contains("ip daddr 10.0.0.2 accept"));
        assert!(text.trim_end().ends_with("drop\n  }\n}") || text.contains("    drop\n  }"));
        assert!(!text.contains("reject"));
        let ingress = sg_ruleset(&[], &|_| vec![]);
        assert!(ingress.contains("policy drop"));
        assert!(ingress.contains("ct state established,related accept"));
        assert!(
            !ingress.contains("hook output"),
            "no egress drop in the ENI's own stack"
        );
    }
}
