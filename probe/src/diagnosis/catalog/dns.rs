//! Finding texts for the DNS path (fact sheet part 2, R58-R63): Resolver rules and
//! outbound endpoints, private hosted zones, DNS Firewall, Route 53 Profiles, DNS64/NAT64.
//! One `Issue::Dns` variant in the catalogue carries these; English, Japanese and the fix
//! commands (real IDs from the snapshot) live here.

use super::{NatChoice, Text, r};
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DnsIssue {
    /// R60: a private hosted zone for the name or a parent decides it and lacks it.
    PrivateZoneShadows {
        vpc: String,
        name: String,
        zone: String,
        zone_name: String,
        /// The name exists, with no A/AAAA/CNAME (NODATA), else NXDOMAIN.
        nodata: bool,
        /// False when the zone's records were not read (raised from an observation).
        records_read: bool,
        region: Option<String>,
        via_profile: Option<String>,
    },
    /// R60: the name is answered from a private hosted zone, not public DNS.
    PrivateZoneAnswer {
        vpc: String,
        name: String,
        zone: String,
        zone_name: String,
        values: Vec<String>,
    },
    /// R61: a DNS Firewall BLOCK rule matches the name.
    FirewallBlocks {
        vpc: String,
        name: String,
        group: String,
        group_name: Option<String>,
        rule: Option<String>,
        rule_priority: i32,
        association_priority: i32,
        list: String,
        managed_list: bool,
        entry: String,
        /// `NXDOMAIN | NODATA | OVERRIDE`.
        response: String,
        override_domain: Option<String>,
        via_profile: Option<String>,
    },
    /// R61: DNS Firewall fails closed; explains a SERVFAIL/timeout nothing else explains.
    FirewallFailClosed { vpc: String, groups: Vec<String> },
    /// R59: a forward rule's target is not reachable from an outbound endpoint ENI.
    ForwardTargetUnreachable {
        vpc: String,
        name: String,
        rule: String,
        domain: String,
        endpoint: String,
        endpoint_subnet: String,
        endpoint_ip: String,
        target: IpAddr,
        port: u16,
        /// The first blocking hop, as the path engine decided it.
        hop: String,
        /// `udp SG_EGRESS_DENIED`, …
        blockers: Vec<String>,
        /// The blocking findings' fix commands (real IDs from the path engine).
        fixes: Vec<String>,
        /// The blocking findings' fixes as changes (their first alternatives, in order),
        /// simulated like any other fix (issue 11).
        changes: Vec<crate::model::Change>,
        security_groups: Vec<String>,
    },
    /// R59: the outbound endpoint cannot forward.
    OutboundEndpointNotReady {
        vpc: String,
        rule: String,
        endpoint: Option<String>,
        why: String,
        /// A subnet of the endpoint's VPC (for the fix).
        host_subnet: Option<String>,
    },
    /// R62: part of the DNS configuration could not be read.
    ConfigNotVisible {
        vpc: String,
        what: String,
        command: String,
    },
    /// R63: an IPv6-only subnet without DNS64.
    Dns64Disabled { subnet: String, vpc: String },
    /// R25: the VPC is associated with *no* DHCP options (`default`): instances are given
    /// no DNS server, so no name resolves from the subnet.
    NoDhcpOptions {
        subnet: String,
        vpc: String,
        /// An existing set naming only AmazonProvidedDNS, to associate instead.
        amazon_dhcp: Option<String>,
    },
    /// R63: no `64:ff9b::/96` route to a NAT gateway.
    Nat64RouteMissing {
        subnet: String,
        rtb: String,
        current: Option<String>,
        /// A `64:ff9b::/96` route exists with another target: replace it.
        replace: bool,
        nat: NatChoice,
        ipv6_only: bool,
    },
}

/// R60: the record a shadowed name lacks, with the address left to the owner (one
/// renderer: the remediation text and the fix alternative are the same change).
pub(crate) fn record_fix(zone: &str, name: &str) -> crate::model::Change {
    crate::model::Change::UpsertDnsRecord {
        zone: zone.to_string(),
        name: format!("{}.", crate::model::normalise_name(name)),
        record_type: "A".into(),
        ttl: 300,
        values: vec!["<address>".into()],
    }
}

impl DnsIssue {
    pub fn blocks_path(&self) -> bool {
        !matches!(
            self,
            DnsIssue::PrivateZoneAnswer { .. }
                | DnsIssue::FirewallFailClosed { .. }
                | DnsIssue::ConfigNotVisible { .. }
        )
    }

    /// R25: no name resolves at all (no DHCP options): explains any DNS failure.
    pub fn ends_all_dns(&self) -> bool {
        matches!(self, DnsIssue::NoDhcpOptions { .. })
    }

    pub fn is_not_verifiable(&self) -> bool {
        matches!(self, DnsIssue::ConfigNotVisible { .. })
    }

    pub fn fixed_confirmation(&self) -> Option<crate::model::Confirmation> {
        match self {
            // A data-plane condition the configuration allows, not proves (R61).
            DnsIssue::FirewallFailClosed { .. } => Some(crate::model::Confirmation::BeyondVpc),
            _ => None,
        }
    }

    pub fn summary_ja(&self) -> String {
        match self {
            DnsIssue::PrivateZoneShadows {
                name,
                zone,
                zone_name,
                nodata,
                ..
            } => format!(
                "{name} はプライベートホストゾーン {zone}（{zone_name}）で解決され、{}。パブリック DNS には問い合わせません (R60)",
                if *nodata {
                    "A/AAAA レコードがないため NODATA になります"
                } else {
                    "レコードがないため NXDOMAIN になります"
                }
            ),
            DnsIssue::PrivateZoneAnswer {
                name,
                zone,
                zone_name,
                values,
                ..
            } => format!(
                "{name} はパブリック DNS ではなくプライベートホストゾーン {zone}（{zone_name}）が応答します{} (R60)",
                if values.is_empty() {
                    String::new()
                } else {
                    format!("：{}", values.join("、"))
                }
            ),
            DnsIssue::FirewallBlocks {
                name,
                group,
                rule,
                list,
                entry,
                response,
                override_domain,
                ..
            } => format!(
                "DNS Firewall のルールグループ {group} のルール {} がドメインリスト {list} のエントリ {entry} で {name} をブロックし、{} を返します (R61)",
                rule.as_deref().unwrap_or("-"),
                match (response.as_str(), override_domain) {
                    ("OVERRIDE", Some(d)) => format!("上書き応答（CNAME {d}）"),
                    _ => response.clone(),
                }
            ),
            DnsIssue::FirewallFailClosed { vpc, groups } => format!(
                "{vpc} の DNS Firewall（{}）はフェイルクローズです。DNS Firewall が応答しないとき Resolver は SERVFAIL を返します (R61)",
                groups.join("、")
            ),
            DnsIssue::ForwardTargetUnreachable {
                name,
                rule,
                endpoint,
                endpoint_ip,
                target,
                port,
                hop,
                ..
            } => format!(
                "{}転送ルール {rule} のターゲット {target}:{port} にアウトバウンドエンドポイント {endpoint} の ENI {endpoint_ip} から到達できません：{hop} (R59)",
                if name.is_empty() {
                    String::new()
                } else {
                    format!("{name} の")
                }
            ),
            DnsIssue::OutboundEndpointNotReady { rule, why, .. } => format!(
                "転送ルール {rule} のアウトバウンドエンドポイントは使用できません：{why}。転送されるクエリは SERVFAIL になります (R59)"
            ),
            DnsIssue::ConfigNotVisible { vpc, what, .. } => format!(
                "{vpc} の DNS 設定の一部（{what}）を読み取れませんでした。名前解決の予測は不完全です (R62)"
            ),
            DnsIssue::NoDhcpOptions { subnet, vpc, .. } => format!(
                "{vpc} には DHCP オプションセットが関連付けられていません（default）。{subnet} のインスタンスと Lambda には DNS サーバーが渡されず、どの名前も解決できません (R25)"
            ),
            DnsIssue::Dns64Disabled { subnet, .. } => format!(
                "IPv6 専用サブネット {subnet} で DNS64 が無効です。IPv4 のみの名前には AAAA 応答がなく到達できません (R63)"
            ),
            DnsIssue::Nat64RouteMissing { subnet, rtb, .. } => format!(
                "{subnet} のルートテーブル {rtb} に 64:ff9b::/96 を NAT ゲートウェイに向けるルートがありません。DNS64 の応答先（IPv4 のみのサイト）に届きません (R63)"
            ),
        }
    }

    pub(super) fn text(&self) -> Text {
        match self {
            DnsIssue::PrivateZoneShadows { vpc, name, zone, zone_name, nodata, records_read, region, via_profile } => {
                let what = if *nodata { "has no A/AAAA record for it: NODATA" } else { "has no record for it: NXDOMAIN" };
                let seen = if *records_read { "" } else { " (the probe saw it; the zone's records were not read)" };
                let region = region.as_deref().unwrap_or("<region>");
                // The disassociation is derived from data and simulated (issue 11); its
                // side effect is said next to it. The record needs an address only the
                // owner knows: it is the alternative the simulation falls back to.
                let side = format!("  # every name under {zone_name} stops resolving from this zone in {vpc}; refused for the zone's last VPC (then add the record: see the text)");
                let fixes = vec![match via_profile {
                    Some(p) => format!("aws route53profiles disassociate-resource-from-profile --profile-id {p} --resource-arn arn:aws:route53:::hostedzone/{zone}{side}"),
                    None => format!("aws route53 disassociate-vpc-from-hosted-zone --hosted-zone-id {zone} --vpc VPCRegion={region},VPCId={vpc}{side}"),
                }];
                Text {
                    code: "DNS_PRIVATE_ZONE_SHADOWS",
                    summary: format!("private hosted zone {zone} ({zone_name}) decides {name} for {vpc} and {what}{seen}; public DNS is never asked"),
                    subnet: None,
                    resources: [vec![zone.clone(), vpc.clone()], via_profile.iter().cloned().collect()].concat(),
                    rules: r(&["R60", "R58"]),
                    en: format!("A private zone associated with the VPC answers every name under {zone_name} and does not fall back to public DNS (R60). Stop associating the zone with {vpc} if it was meant for a few names only, or add the record to {zone} with the address it should have: {}", record_fix(zone, name).cli()),
                    ja: format!("VPC に関連付けられたプライベートゾーンは {zone_name} 配下のすべての名前に応答し、パブリック DNS にフォールバックしません (R60)。一部の名前だけが目的なら {vpc} との関連付けを解除するか、{zone} に正しいアドレスで {name} のレコードを追加してください（change-resource-record-sets の UPSERT）。"),
                    fixes,
                }
            }
            DnsIssue::PrivateZoneAnswer { vpc, name, zone, zone_name, values } => Text {
                code: "DNS_PRIVATE_ZONE_ANSWER",
                summary: format!("{name} is answered for {vpc} by private hosted zone {zone} ({zone_name}), not by public DNS{}", if values.is_empty() { String::new() } else { format!(": {}", values.join(", ")) }),
                subnet: None,
                resources: vec![zone.clone(), vpc.clone()],
                rules: r(&["R60", "R58"]),
                en: format!("Names under {zone_name} resolve from {zone}: an address that should not be used, or a name the zone lacks (NXDOMAIN), comes from the zone's records, not from the internet."),
                ja: format!("{zone_name} 配下の名前は {zone} で解決されます。想定外のアドレスや存在しない名前（NXDOMAIN）はインターネットではなくこのゾーンのレコードによるものです。"),
                fixes: vec![format!("aws route53 list-resource-record-sets --hosted-zone-id {zone} --query \"ResourceRecordSets[?Name=='{}.']\"", crate::model::normalise_name(name))],
            },
            DnsIssue::FirewallBlocks { vpc, name, group, group_name, rule, rule_priority, association_priority, list, managed_list, entry, response, override_domain, via_profile } => {
                let answer = match (response.as_str(), override_domain) {
                    ("OVERRIDE", Some(d)) => format!("an override (CNAME {d})"),
                    _ => response.clone(),
                };
                let rule_name = rule.as_deref().unwrap_or("-");
                let fixes = if *managed_list {
                    vec![
                        format!("aws route53resolver create-firewall-domain-list --name allow-{}", crate::model::normalise_name(name).replace('.', "-")),
                        format!("aws route53resolver update-firewall-domains --firewall-domain-list-id <new-domain-list-id> --operation ADD --domains {name}"),
                        format!("aws route53resolver create-firewall-rule --firewall-rule-group-id {group} --firewall-domain-list-id <new-domain-list-id> --priority {} --action ALLOW --name allow-{}", (rule_priority - 1).max(0), crate::model::normalise_name(name).replace('.', "-")),
                    ]
                } else {
                    // Removing a wildcard entry unblocks more than this name: said in words.
                    let side = if crate::model::normalise_name(entry) == crate::model::normalise_name(name) {
                        String::new()
                    } else {
                        format!("  # also unblocks every other name {entry} matches, for every rule using {list}")
                    };
                    vec![format!("aws route53resolver update-firewall-domains --firewall-domain-list-id {list} --operation REMOVE --domains '{entry}'{side}")]
                };
                Text {
                    code: "DNS_FIREWALL_BLOCKS",
                    summary: format!("DNS Firewall rule {rule_name} (priority {rule_priority}) of rule group {group}{} (association priority {association_priority}) blocks {name}: domain list {list} entry {entry}, answer {answer}", group_name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()),
                    subnet: None,
                    resources: [vec![group.clone(), list.clone(), vpc.clone()], via_profile.iter().cloned().collect()].concat(),
                    rules: r(&["R61"]),
                    en: format!("DNS Firewall evaluates rule groups by association priority and the first matching rule decides (R61). Remove {entry} from {list} if {name} should resolve{}, or allow it with a rule of a lower priority number.", if *managed_list { " (it is a managed list: add an ALLOW rule before it)" } else { "" }),
                    ja: format!("DNS Firewall は関連付けの優先度順にルールグループを評価し、最初に一致したルールで決まります (R61)。{name} を解決させるなら {list} から {entry} を削除するか、より小さい優先度番号の ALLOW ルールで許可してください。"),
                    fixes,
                }
            }
            DnsIssue::FirewallFailClosed { vpc, groups } => Text {
                code: "DNS_FIREWALL_FAIL_CLOSED",
                summary: format!("DNS Firewall on {vpc} ({}) fails closed: when it does not answer, Resolver returns SERVFAIL", groups.join(", ")),
                subnet: None,
                resources: [vec![vpc.clone()], groups.clone()].concat(),
                rules: r(&["R61"]),
                en: format!("No rule or path explains the failure; with FirewallFailOpen DISABLED (the default) a DNS Firewall impairment makes every query fail (R61). Check the Resolver query logs for the failing names, and weigh enabling fail-open on {vpc}."),
                ja: format!("設定上の原因は見つかりません。FirewallFailOpen が DISABLED（既定）の場合、DNS Firewall の障害ですべてのクエリが失敗します (R61)。Resolver のクエリログを確認し、{vpc} のフェイルオープンの有効化を検討してください。"),
                fixes: vec![format!("aws route53resolver update-firewall-config --resource-id {vpc} --firewall-fail-open ENABLED")],
            },
            DnsIssue::ForwardTargetUnreachable { vpc, name, rule, domain, endpoint, endpoint_subnet, endpoint_ip, target, port, hop, blockers, fixes, security_groups, .. } => {
                let mut fixes = fixes.clone();
                if fixes.is_empty()
                    && let Some(sg) = security_groups.first()
                {
                    fixes.push(format!("aws ec2 authorize-security-group-egress --group-id {sg} --ip-permissions IpProtocol=udp,FromPort={port},ToPort={port},IpRanges=[{{CidrIp={target}/32}}] IpProtocol=tcp,FromPort={port},ToPort={port},IpRanges=[{{CidrIp={target}/32}}]"));
                }
                Text {
                    code: "DNS_FORWARD_TARGET_UNREACHABLE",
                    summary: format!("{}forward rule {rule} ({domain}): target {target}:{port} is not reachable from outbound endpoint {endpoint} ENI {endpoint_ip} in {endpoint_subnet}: {}", if name.is_empty() { String::new() } else { format!("{name}: ") }, if hop.is_empty() { blockers.join("; ") } else { hop.clone() }),
                    subnet: Some(endpoint_subnet.clone()),
                    resources: [vec![rule.clone(), endpoint.clone(), target.to_string(), vpc.clone()], security_groups.clone()].concat(),
                    rules: [r(&["R59", "R58"]), blockers.clone()].concat(),
                    en: format!("Resolver forwards names under {domain} from the endpoint's ENIs; their security groups, subnet NACLs and routes must let UDP and TCP {port} reach {target} and the replies back (R59). When no target answers, the query gets SERVFAIL."),
                    ja: format!("Resolver は {domain} 配下の名前をエンドポイントの ENI から転送します。そのセキュリティグループ、サブネットの NACL、ルートが {target} への UDP/TCP {port} と応答を通す必要があります (R59)。どのターゲットも応答しないとクエリは SERVFAIL になります。"),
                    fixes,
                }
            }
            DnsIssue::OutboundEndpointNotReady { vpc, rule, endpoint, why, host_subnet } => {
                let mut fixes = Vec::new();
                if let Some(e) = endpoint {
                    fixes.push(format!("aws route53resolver get-resolver-endpoint --resolver-endpoint-id {e} --query 'ResolverEndpoint.[Status,StatusMessage,Direction]'"));
                    if why.contains("ATTACHED") {
                        fixes.push(format!("aws route53resolver associate-resolver-endpoint-ip-address --resolver-endpoint-id {e} --ip-address SubnetId={}", host_subnet.as_deref().unwrap_or("<subnet-id>")));
                    }
                } else {
                    fixes.push(format!("aws route53resolver update-resolver-rule --resolver-rule-id {rule} --config ResolverEndpointId=<outbound-endpoint-id>"));
                }
                Text {
                    code: "DNS_OUTBOUND_ENDPOINT_NOT_READY",
                    summary: format!("forward rule {rule} cannot forward for {vpc}: {why}"),
                    subnet: None,
                    resources: [vec![rule.clone(), vpc.clone()], endpoint.iter().cloned().collect()].concat(),
                    rules: r(&["R59"]),
                    en: "A forward rule needs an OPERATIONAL outbound endpoint with attached IP addresses (at least two, in two AZs); otherwise the forwarded names get SERVFAIL (R59).".into(),
                    ja: "転送ルールには、IP アドレス（2 つの AZ に 2 つ以上）がアタッチされた OPERATIONAL のアウトバウンドエンドポイントが必要です。そうでないと転送される名前は SERVFAIL になります (R59)。".into(),
                    fixes,
                }
            }
            DnsIssue::ConfigNotVisible { vpc, what, command } => Text {
                code: "DNS_CONFIG_NOT_VISIBLE",
                summary: format!("{what} could not be read for {vpc}: how names resolve there is not verifiable"),
                subnet: None,
                resources: vec![vpc.clone()],
                rules: r(&["R62"]),
                en: "DNS configuration that the snapshot cannot see (a Route 53 Profile's resources, a managed domain list, a denied call, a rule shared from another account) can change the answer; the prediction stops there instead of guessing (R62).".into(),
                ja: "スナップショットから見えない DNS 設定（Route 53 プロファイルのリソース、マネージドドメインリスト、拒否された呼び出し、他アカウントから共有されたルール）が応答を変える可能性があります。推測せずそこで予測を止めます (R62)。".into(),
                fixes: vec![command.clone()],
            },
            DnsIssue::NoDhcpOptions { subnet, vpc, amazon_dhcp } => Text {
                code: "DHCP_OPTIONS_NONE",
                summary: format!("{vpc} is associated with no DHCP options (`default`): {subnet} is given no DNS server, so no name resolves there"),
                subnet: Some(subnet.clone()),
                resources: vec![vpc.clone()],
                rules: r(&["R25"]),
                en: format!("`associate-dhcp-options --dhcp-options-id default` means no DHCP options: instances and Lambda ENIs in {vpc} get no domain-name-servers, and DNS stops for the whole VPC (R25). Associate a set that names AmazonProvidedDNS."),
                ja: format!("`associate-dhcp-options --dhcp-options-id default` は DHCP オプションなしを意味します。{vpc} のインスタンスと Lambda の ENI には DNS サーバーが渡されず、VPC 全体で DNS が止まります (R25)。AmazonProvidedDNS を指定したセットを関連付けてください。"),
                fixes: match amazon_dhcp {
                    Some(id) => vec![format!("aws ec2 associate-dhcp-options --dhcp-options-id {id} --vpc-id {vpc}")],
                    None => vec![
                        "DOPT_NEW=$(aws ec2 create-dhcp-options --dhcp-configurations \"Key=domain-name-servers,Values=AmazonProvidedDNS\" --query DhcpOptions.DhcpOptionsId --output text)".into(),
                        format!("aws ec2 associate-dhcp-options --dhcp-options-id \"$DOPT_NEW\" --vpc-id {vpc}"),
                    ],
                },
            },
            DnsIssue::Dns64Disabled { subnet, vpc } => Text {
                code: "DNS64_DISABLED",
                summary: format!("IPv6-only subnet {subnet} ({vpc}) has DNS64 off: names with only IPv4 addresses get no AAAA answer"),
                subnet: Some(subnet.clone()),
                resources: vec![subnet.clone()],
                rules: r(&["R63"]),
                en: "In an IPv6-only subnet IPv4-only destinations are reached through NAT64, which needs DNS64 on the subnet and a 64:ff9b::/96 route to a NAT gateway (R63). Lambda itself needs dual-stack subnets: prefer a dual-stack subnet for the function.".into(),
                ja: "IPv6 専用サブネットから IPv4 のみの宛先には NAT64 で到達します。サブネットの DNS64 と NAT ゲートウェイへの 64:ff9b::/96 ルートが必要です (R63)。Lambda 自体はデュアルスタックのサブネットが必要です。".into(),
                fixes: vec![format!("aws ec2 modify-subnet-attribute --subnet-id {subnet} --enable-dns64")],
            },
            DnsIssue::Nat64RouteMissing { subnet, rtb, current, replace, nat, ipv6_only } => {
                let verb = if *replace { "replace-route" } else { "create-route" };
                let mut fixes = nat.prelude();
                fixes.push(format!("aws ec2 {verb} --route-table-id {rtb} --destination-ipv6-cidr-block 64:ff9b::/96 --nat-gateway-id {}", nat.id()));
                Text {
                    code: "NAT64_ROUTE_MISSING",
                    summary: format!("{subnet} ({rtb}) has no 64:ff9b::/96 route to a NAT gateway ({}): DNS64 answers for IPv4-only names lead nowhere", current.as_deref().unwrap_or("no route matches")),
                    subnet: Some(subnet.clone()),
                    resources: vec![rtb.clone(), subnet.clone()],
                    rules: r(&["R63"]),
                    en: format!("DNS64 synthesises 64:ff9b::/96 addresses for IPv4-only names; NAT64 in a NAT gateway translates them, so {rtb} must route 64:ff9b::/96 to one (R63).{}", if *ipv6_only { "" } else { " AAAA-preferring clients time out until then (happy-eyeballs clients fall back to IPv4 after a delay)." }),
                    ja: format!("DNS64 は IPv4 のみの名前に 64:ff9b::/96 のアドレスを合成し、NAT ゲートウェイの NAT64 がそれを変換します。{rtb} で 64:ff9b::/96 を NAT ゲートウェイに向ける必要があります (R63)。"),
                    fixes,
                }
            }
        }
    }
}
