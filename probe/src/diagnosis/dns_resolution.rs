//! How Route 53 Resolver answers a name for a VPC (fact sheet part 2, R58-R62): DNS
//! Firewall first (R61: rule groups by association priority, rules by priority, the first
//! match ends evaluation), then the most specific Resolver rule or private hosted zone
//! (R58: most specific domain wins, SYSTEM carves a subdomain out of a FORWARD rule, a
//! forward rule beats a private zone of the same name; R60: a private zone never falls
//! back to public DNS). A FORWARD rule's targets are walked from the outbound endpoint's
//! ENIs with the ordinary path engine (R59, `dns_forward.rs`). Pure: no I/O.

use super::catalog::Issue;
use super::catalog::dns::DnsIssue;
use super::dns_forward;
use super::index::Index;
use super::reconcile::{self, Slot};
use crate::model::{
    Direction, DnsFirewallRule, DnsRecord, Family, Hop, HopVerdict, PathEvaluation, PathVerdict,
    PrivateHostedZone, ResolverRule, normalise_name,
};
use crate::model::{Observation, Status};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

/// What Resolver is predicted to answer for the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The Internet Resolver (or a SYSTEM rule without a private zone) answers publicly.
    Public,
    /// A private hosted zone answers with these values.
    ZoneAnswer(Vec<String>),
    /// A private hosted zone decides, but its record sets were not read.
    ZoneUnread,
    /// A private hosted zone lacks the name (NXDOMAIN) or the type (NODATA), R60.
    ZoneMissing { nodata: bool },
    /// DNS Firewall blocks: `NXDOMAIN`, `NODATA` or `OVERRIDE` (R61).
    FirewallBlock(String),
    /// Forwarded; the targets answer (their answer is not known here).
    Forwarded,
    /// Forwarded, but no target is reachable from the outbound endpoint: SERVFAIL (R59).
    ForwardFails,
    /// Forwarded; some endpoint ENIs or targets cannot be reached (retries, slow answers).
    ForwardPartial,
    /// Something on the way could not be read.
    Unknown,
}

/// The prediction for one name from one subnet, and what it raised.
pub(crate) struct NameEval {
    pub name: String,
    pub outcome: Outcome,
    pub eval: PathEvaluation,
    pub issues: Vec<Issue>,
    /// The issue that explains an observed NXDOMAIN / NODATA when the private zone's
    /// records were not read (R60): raised only when the probe saw it.
    pub if_missing: Option<Issue>,
    /// The DNS Firewall fail-closed issue, raised only to explain an observed failure.
    pub fail_closed: Option<Issue>,
    /// Indices of `issues` in the diagnosis' slots (set by the caller).
    pub slots: Vec<usize>,
}

/// True when `name` is `domain` or below it (label-wise). `.` matches every name.
pub(crate) fn under(name: &str, domain: &str) -> bool {
    let d = normalise_name(domain);
    let n = normalise_name(name);
    d.is_empty() || n == d || n.ends_with(&format!(".{d}"))
}

fn labels(domain: &str) -> usize {
    let d = normalise_name(domain);
    if d.is_empty() {
        0
    } else {
        d.split('.').count()
    }
}

/// R61: a domain list entry matches: `example.com` exactly, `*.example.com` any name below
/// it, `*` everything.
pub(crate) fn entry_matches(entry: &str, name: &str) -> bool {
    let e = normalise_name(entry);
    let n = normalise_name(name);
    if e == "*" {
        return true;
    }
    match e.strip_prefix("*.") {
        Some(suffix) => n.ends_with(&format!(".{suffix}")),
        None => e == n,
    }
}

/// The VPC resolver address (VPC+2, R28) that the prediction's path stands for.
fn resolver_address(ix: &Index<'_>, vpc: &str) -> IpAddr {
    ix.vpc(vpc)
        .and_then(|v| v.cidr_blocks.first())
        .map(|n| IpAddr::V4(Ipv4Addr::from(u32::from(n.network()).wrapping_add(2))))
        .unwrap_or(IpAddr::V4(Ipv4Addr::new(169, 254, 169, 253)))
}

struct Hops {
    subnet: String,
    hops: Vec<Hop>,
}

impl Hops {
    fn push(
        &mut self,
        component: &str,
        id: &str,
        verdict: HopVerdict,
        decided_by: String,
        rules: &[&str],
    ) {
        self.hops.push(Hop {
            direction: Direction::Forward,
            component: component.to_string(),
            id: id.to_string(),
            subnet_id: Some(self.subnet.clone()),
            verdict,
            decided_by,
            rules: rules.iter().map(|r| r.to_string()).collect(),
        });
    }
}

/// The firewall verdict (R61).
enum FwVerdict {
    Pass,
    Block(Box<DnsIssue>, String),
    Unknown,
}

fn firewall(
    ix: &Index<'_>,
    vpc: &str,
    name: &str,
    h: &mut Hops,
    issues: &mut Vec<Issue>,
) -> FwVerdict {
    let dns = &ix.snap.dns;
    let mut assocs: Vec<_> = dns
        .firewall_associations
        .iter()
        .filter(|a| a.vpc_id == vpc && a.status.as_deref() != Some("DELETING"))
        .collect();
    if assocs.is_empty() {
        return FwVerdict::Pass;
    }
    assocs.sort_by(|a, b| (a.priority, &a.id).cmp(&(b.priority, &b.id)));
    for a in assocs {
        let gid = &a.firewall_rule_group_id;
        let group = dns.firewall_rule_group(gid);
        let Some(group) = group.filter(|g| g.rules_read) else {
            h.push(
                "dns_firewall",
                gid,
                HopVerdict::Unknown,
                format!("rule group {gid} (priority {}): rules not readable; the verdict is unknown (R61)", a.priority),
                &["R61", "R62"],
            );
            issues.push(Issue::from(DnsIssue::ConfigNotVisible {
                vpc: vpc.to_string(),
                what: format!("DNS Firewall rule group {gid}"),
                command: format!(
                    "aws route53resolver list-firewall-rules --firewall-rule-group-id {gid}"
                ),
            }));
            return FwVerdict::Unknown;
        };
        let mut rules: Vec<&DnsFirewallRule> = group.rules.iter().collect();
        rules.sort_by_key(|r| r.priority);
        for r in rules {
            // The probe asks A and AAAA; a rule limited to another type does not touch them.
            if r.qtype
                .as_deref()
                .is_some_and(|q| !matches!(q.to_ascii_uppercase().as_str(), "A" | "AAAA"))
            {
                continue;
            }
            let lid = &r.firewall_domain_list_id;
            let Some(list) = dns.domain_list(lid).filter(|l| l.domains_read) else {
                h.push(
                    "dns_firewall",
                    gid,
                    HopVerdict::Unknown,
                    format!(
                        "rule {} (priority {}) of {gid}: domain list {lid} not readable{}; the verdict is unknown (R61)",
                        r.name.as_deref().unwrap_or("-"),
                        r.priority,
                        dns.domain_list(lid).and_then(|l| l.managed_owner_name.as_deref()).map(|o| format!(" (managed by {o})")).unwrap_or_default()
                    ),
                    &["R61", "R62"],
                );
                issues.push(Issue::from(DnsIssue::ConfigNotVisible {
                    vpc: vpc.to_string(),
                    what: format!("DNS Firewall domain list {lid}"),
                    command: format!(
                        "aws route53resolver list-firewall-domains --firewall-domain-list-id {lid}"
                    ),
                }));
                return FwVerdict::Unknown;
            };
            let Some(entry) = list.domains.iter().find(|e| entry_matches(e, name)) else {
                continue;
            };
            let rule_text = format!(
                "rule {} (priority {}) of rule group {gid} (association priority {}), domain list {lid} entry {entry}",
                r.name.as_deref().unwrap_or("-"),
                r.priority,
                a.priority
            );
            match r.action.to_ascii_uppercase().as_str() {
                "BLOCK" => {
                    let response = r
                        .block_response
                        .clone()
                        .unwrap_or_else(|| "NODATA".into())
                        .to_ascii_uppercase();
                    let shown = match (response.as_str(), &r.block_override_domain) {
                        ("OVERRIDE", Some(d)) => format!("OVERRIDE (CNAME {d})"),
                        _ => response.clone(),
                    };
                    h.push(
                        "dns_firewall",
                        gid,
                        HopVerdict::Block,
                        format!("{rule_text}: BLOCK, answers {shown}"),
                        &["R61"],
                    );
                    let issue = DnsIssue::FirewallBlocks {
                        vpc: vpc.to_string(),
                        name: name.to_string(),
                        group: gid.clone(),
                        group_name: group.name.clone(),
                        rule: r.name.clone(),
                        rule_priority: r.priority,
                        association_priority: a.priority,
                        list: lid.clone(),
                        managed_list: list.managed_owner_name.is_some(),
                        entry: entry.clone(),
                        response: response.clone(),
                        override_domain: r.block_override_domain.clone(),
                        via_profile: a.via_profile.clone(),
                    };
                    return FwVerdict::Block(Box::new(issue), response);
                }
                "ALERT" => {
                    h.push(
                        "dns_firewall",
                        gid,
                        HopVerdict::Pass,
                        format!("{rule_text}: ALERT, the query goes through (logged)"),
                        &["R61"],
                    );
                    return FwVerdict::Pass;
                }
                _ => {
                    h.push(
                        "dns_firewall",
                        gid,
                        HopVerdict::Pass,
                        format!("{rule_text}: {}", r.action),
                        &["R61"],
                    );
                    return FwVerdict::Pass;
                }
            }
        }
    }
    h.push(
        "dns_firewall",
        vpc,
        HopVerdict::Pass,
        "no DNS Firewall rule matches: the query goes on (R61)".into(),
        &["R61"],
    );
    FwVerdict::Pass
}

/// R61: DNS Firewall fails closed unless `FirewallFailOpen` is ENABLED (enforced only when
/// a rule group is associated).
pub(crate) fn fail_closed(ix: &Index<'_>, vpc: &str) -> Option<Vec<String>> {
    let dns = &ix.snap.dns;
    let groups: Vec<String> = dns
        .firewall_associations
        .iter()
        .filter(|a| a.vpc_id == vpc)
        .map(|a| a.firewall_rule_group_id.clone())
        .collect();
    if groups.is_empty() {
        return None;
    }
    let open = dns
        .firewall_config(vpc)
        .is_some_and(|c| c.firewall_fail_open.eq_ignore_ascii_case("ENABLED"));
    (!open).then_some(groups)
}

/// What decides the name after DNS Firewall (R58, R60).
enum Decider<'a> {
    Rule(&'a ResolverRule),
    Zone(&'a PrivateHostedZone),
    Internet,
}

fn zones_apply(ix: &Index<'_>, vpc: &str) -> bool {
    // R60: private zones need enableDnsSupport and enableDnsHostnames.
    !ix.vpc(vpc).is_some_and(|v| {
        v.enable_dns_support == Some(false) || v.enable_dns_hostnames == Some(false)
    })
}

fn best_zone<'a>(ix: &Index<'a>, vpc: &str, name: &str) -> Option<&'a PrivateHostedZone> {
    if !zones_apply(ix, vpc) {
        return None;
    }
    ix.snap
        .dns
        .private_zones
        .iter()
        .filter(|z| z.vpc_ids.iter().any(|v| v == vpc) && under(name, &z.name))
        .max_by(|a, b| (labels(&a.name), &b.id).cmp(&(labels(&b.name), &a.id)))
}

fn decide<'a>(ix: &Index<'a>, vpc: &str, name: &str, h: &mut Hops) -> Decider<'a> {
    let dns = &ix.snap.dns;
    let mut best: Option<(usize, u8, Decider<'a>)> = None;
    for a in dns.rule_associations.iter().filter(|a| a.vpc_id == vpc) {
        let status = a.status.as_deref().unwrap_or("COMPLETE");
        let Some(rule) = dns.rule(&a.resolver_rule_id) else {
            continue;
        };
        if !under(name, &rule.domain_name) {
            continue;
        }
        if status != "COMPLETE" {
            h.push(
                "resolver_rule",
                &rule.id,
                HopVerdict::Pass,
                format!(
                    "rule {} ({}) for {} is associated with status {status}: not applied (R58)",
                    rule.id, rule.rule_type, rule.domain_name
                ),
                &["R58"],
            );
            continue;
        }
        let kind = rule.rule_type.to_ascii_uppercase();
        if kind == "RECURSIVE" {
            continue;
        }
        // Ties on the same domain: FORWARD (2) beats a private zone (1) (R58).
        let rank = if kind == "FORWARD" { 2 } else { 1 };
        let key = (labels(&rule.domain_name), rank);
        if best.as_ref().is_none_or(|(l, r, _)| key > (*l, *r)) {
            best = Some((key.0, key.1, Decider::Rule(rule)));
        }
    }
    if !zones_apply(ix, vpc)
        && let Some(z) = dns
            .private_zones
            .iter()
            .find(|z| z.vpc_ids.iter().any(|v| v == vpc) && under(name, &z.name))
    {
        h.push(
            "private_hosted_zone",
            &z.id,
            HopVerdict::Pass,
            format!("private hosted zone {} ({}) is associated, but {vpc} has enableDnsSupport or enableDnsHostnames off: the zone is not used (R60)", z.id, z.name),
            &["R60"],
        );
    }
    if let Some(z) = best_zone(ix, vpc, name) {
        let key = (labels(&z.name), 1);
        if best.as_ref().is_none_or(|(l, r, _)| key > (*l, *r)) {
            best = Some((key.0, key.1, Decider::Zone(z)));
        }
    }
    best.map(|(_, _, d)| d).unwrap_or(Decider::Internet)
}

fn find_records<'a>(records: &'a [DnsRecord], name: &str) -> Vec<&'a DnsRecord> {
    let exact: Vec<&DnsRecord> = records
        .iter()
        .filter(|r| normalise_name(&r.name) == normalise_name(name))
        .collect();
    if !exact.is_empty() {
        return exact;
    }
    // The closest wildcard (`*.example.com`), only when no exact name exists.
    let mut wild: Vec<&DnsRecord> = records
        .iter()
        .filter(|r| normalise_name(&r.name).starts_with("*.") && entry_matches(&r.name, name))
        .collect();
    let longest = wild.iter().map(|r| r.name.len()).max().unwrap_or(0);
    wild.retain(|r| r.name.len() == longest);
    wild
}

/// R60: the private zone's answer for the name.
fn zone(
    vpc: &str,
    name: &str,
    z: &PrivateHostedZone,
    region: Option<&str>,
    h: &mut Hops,
    issues: &mut Vec<Issue>,
) -> (Outcome, Option<Issue>) {
    let shadows = |nodata: bool, records_read: bool| {
        Issue::from(DnsIssue::PrivateZoneShadows {
            vpc: vpc.to_string(),
            name: name.to_string(),
            zone: z.id.clone(),
            zone_name: z.name.clone(),
            nodata,
            records_read,
            region: region.map(str::to_string),
            via_profile: z.via_profile.clone(),
        })
    };
    let zone_text = format!("private hosted zone {} ({})", z.id, z.name);
    let Some(records) = &z.records else {
        h.push(
            "private_hosted_zone",
            &z.id,
            HopVerdict::Pass,
            format!("{zone_text} decides {name}: no fallback to public DNS (R60); its record sets were not read"),
            &["R60"],
        );
        issues.push(Issue::from(DnsIssue::PrivateZoneAnswer {
            vpc: vpc.to_string(),
            name: name.to_string(),
            zone: z.id.clone(),
            zone_name: z.name.clone(),
            values: vec![],
        }));
        return (Outcome::ZoneUnread, Some(shadows(false, false)));
    };
    let found = find_records(records, name);
    if found.is_empty() {
        h.push(
            "private_hosted_zone",
            &z.id,
            HopVerdict::Block,
            format!("{zone_text} has no record {name}: NXDOMAIN, no fallback to public DNS (R60)"),
            &["R60"],
        );
        issues.push(shadows(false, true));
        return (Outcome::ZoneMissing { nodata: false }, None);
    }
    let usable: Vec<&&DnsRecord> = found
        .iter()
        .filter(|r| {
            matches!(
                r.record_type.to_ascii_uppercase().as_str(),
                "A" | "AAAA" | "CNAME"
            )
        })
        .collect();
    if usable.is_empty() {
        let types: Vec<&str> = found.iter().map(|r| r.record_type.as_str()).collect();
        h.push(
            "private_hosted_zone",
            &z.id,
            HopVerdict::Block,
            format!(
                "{zone_text} has {name} only as {}: no A/AAAA, NODATA (R60)",
                types.join(", ")
            ),
            &["R60"],
        );
        issues.push(shadows(true, true));
        return (Outcome::ZoneMissing { nodata: true }, None);
    }
    let mut values: Vec<String> = usable
        .iter()
        .flat_map(|r| {
            let v: Vec<String> = if r.values.is_empty() {
                r.alias_target
                    .iter()
                    .map(|a| format!("alias {a}"))
                    .collect()
            } else {
                r.values.clone()
            };
            v.into_iter().map(move |x| format!("{} {x}", r.record_type))
        })
        .collect();
    values.sort();
    values.dedup();
    h.push(
        "private_hosted_zone",
        &z.id,
        HopVerdict::Pass,
        format!("{zone_text} answers {name}: {}", values.join(", ")),
        &["R60"],
    );
    issues.push(Issue::from(DnsIssue::PrivateZoneAnswer {
        vpc: vpc.to_string(),
        name: name.to_string(),
        zone: z.id.clone(),
        zone_name: z.name.clone(),
        values: values.clone(),
    }));
    (Outcome::ZoneAnswer(values), None)
}

/// Predicts how `name` resolves through Amazon DNS for `vpc`, from `subnet`. The forward
/// paths walked (endpoint ENI → target) come back in `forward` for the report.
pub(crate) fn resolve(
    ix: &Index<'_>,
    vpc: &str,
    subnet: &str,
    name: &str,
    forward: &mut dns_forward::Cache,
) -> NameEval {
    let name = normalise_name(name);
    let mut h = Hops {
        subnet: subnet.to_string(),
        hops: Vec::new(),
    };
    let mut issues = Vec::new();
    let mut if_missing = None;
    let dns = &ix.snap.dns;
    let outcome = if !dns.read {
        h.push(
            "resolver_rule",
            vpc,
            HopVerdict::Unknown,
            "the snapshot has no Route 53 Resolver data (rules, private zones, DNS Firewall were not read): not verifiable (R62)".into(),
            &["R62"],
        );
        Outcome::Unknown
    } else {
        profile_gaps(ix, vpc, &mut h, &mut issues);
        match firewall(ix, vpc, &name, &mut h, &mut issues) {
            FwVerdict::Block(issue, response) => {
                issues.push(Issue::Dns(issue));
                Outcome::FirewallBlock(response)
            }
            FwVerdict::Unknown => Outcome::Unknown,
            FwVerdict::Pass => match decide(ix, vpc, &name, &mut h) {
                Decider::Internet => {
                    h.push("resolver_rule", "internet-resolver", HopVerdict::Pass, format!("no Resolver rule or private zone matches {name}: the Internet Resolver answers (R58)"), &["R58"]);
                    Outcome::Public
                }
                Decider::Zone(z) => {
                    let (o, m) = zone(
                        vpc,
                        &name,
                        z,
                        ix.snap.region.as_deref(),
                        &mut h,
                        &mut issues,
                    );
                    if_missing = m;
                    o
                }
                Decider::Rule(rule) if rule.rule_type.eq_ignore_ascii_case("FORWARD") => {
                    h.push(
                        "resolver_rule",
                        &rule.id,
                        HopVerdict::Pass,
                        format!(
                            "FORWARD rule {} for {} (most specific match, R58) sends {name} to {} through {}",
                            rule.id,
                            rule.domain_name,
                            rule.target_ips.iter().map(|t| format!("{}:{}", t.ip, t.port)).collect::<Vec<_>>().join(", "),
                            rule.resolver_endpoint_id.as_deref().unwrap_or("no endpoint")
                        ),
                        &["R58", "R59"],
                    );
                    let f = forward.evaluate(ix, vpc, rule);
                    for hop in &f.hops {
                        let mut hop = hop.clone();
                        hop.subnet_id.get_or_insert_with(|| subnet.to_string());
                        h.hops.push(hop);
                    }
                    issues.extend(f.issues.iter().cloned().map(|mut i| {
                        if let Issue::Dns(d) = &mut i
                            && let DnsIssue::ForwardTargetUnreachable { name: n, .. } = &mut **d
                        {
                            *n = name.clone();
                        }
                        i
                    }));
                    f.outcome.clone()
                }
                Decider::Rule(rule) => {
                    // SYSTEM: resolved locally, by the most specific private zone or publicly.
                    h.push("resolver_rule", &rule.id, HopVerdict::Pass, format!("SYSTEM rule {} for {} resolves {name} locally (overrides a FORWARD rule for a parent domain, R58)", rule.id, rule.domain_name), &["R58"]);
                    match best_zone(ix, vpc, &name) {
                        Some(z) => {
                            let (o, m) = zone(
                                vpc,
                                &name,
                                z,
                                ix.snap.region.as_deref(),
                                &mut h,
                                &mut issues,
                            );
                            if_missing = m;
                            o
                        }
                        None => Outcome::Public,
                    }
                }
            },
        }
    };
    let fail_closed = fail_closed(ix, vpc).map(|groups| {
        Issue::from(DnsIssue::FirewallFailClosed {
            vpc: vpc.to_string(),
            groups,
        })
    });
    let verdict = match &outcome {
        Outcome::Public | Outcome::ZoneAnswer(_) | Outcome::Forwarded | Outcome::ZoneUnread => {
            PathVerdict::Reachable
        }
        Outcome::ZoneMissing { .. } | Outcome::FirewallBlock(_) | Outcome::ForwardFails => {
            PathVerdict::Blocked
        }
        Outcome::ForwardPartial => PathVerdict::Intermittent,
        Outcome::Unknown => PathVerdict::NotVerifiable,
    };
    let destination = resolver_address(ix, vpc);
    NameEval {
        eval: PathEvaluation {
            subnet_id: subnet.to_string(),
            target: Some(format!("dns:{name}")),
            destination,
            protocol: "udp".into(),
            port: 53,
            family: Family::of(&destination),
            verdict,
            hops: h.hops,
        },
        name,
        outcome,
        issues,
        if_missing,
        fail_closed,
        slots: Vec::new(),
    }
}

/// Explains a DNS observation of a name the engine resolved (R58-R61): the firewall rule
/// or private zone behind an NXDOMAIN / NODATA / override answer, the forward rule whose
/// targets cannot be reached behind a SERVFAIL or timeout, DNS Firewall failing closed when
/// nothing else explains one. False when the observation is left to the R24/R25 rules.
pub(crate) fn explain(o: &Observation, names: &[NameEval], slots: &mut Vec<Slot>) -> bool {
    let n = normalise_name(&o.host);
    let evs: Vec<&NameEval> = names.iter().filter(|e| e.name == n).collect();
    if evs.is_empty() {
        return false;
    }
    let ids: BTreeSet<usize> = evs.iter().flat_map(|e| e.slots.iter().copied()).collect();
    let mark = |slots: &mut Vec<Slot>, hit: &dyn Fn(&DnsIssue) -> bool| {
        let mut any = false;
        for i in &ids {
            if let Some(s) = slots.get_mut(*i)
                && let Issue::Dns(d) = &s.issue
                && hit(d)
            {
                s.explains.insert(o.id.clone());
                any = true;
            }
        }
        any
    };
    match o.status {
        Status::DnsNxdomain | Status::DnsNodata => {
            let nodata = o.status == Status::DnsNodata;
            let want = if nodata { "NODATA" } else { "NXDOMAIN" };
            if mark(slots, &|d| match d {
                DnsIssue::FirewallBlocks { response, .. } => response == want,
                DnsIssue::PrivateZoneShadows { .. } => true,
                _ => false,
            }) {
                return true;
            }
            // R60: the zone decides and its records were not read: the observed answer
            // says it lacks the name.
            if let Some(Issue::Dns(missing)) = evs.iter().find_map(|e| e.if_missing.clone())
                && let DnsIssue::PrivateZoneShadows {
                    vpc,
                    name,
                    zone,
                    zone_name,
                    region,
                    via_profile,
                    ..
                } = *missing
            {
                reconcile::push(
                    slots,
                    Issue::from(DnsIssue::PrivateZoneShadows {
                        vpc,
                        name,
                        zone,
                        zone_name,
                        nodata,
                        records_read: false,
                        region,
                        via_profile,
                    }),
                    &o.id,
                );
                return true;
            }
            false
        }
        Status::DnsServfail | Status::DnsTimeout | Status::Timeout | Status::DnsRefused => {
            if mark(slots, &|d| {
                matches!(
                    d,
                    DnsIssue::ForwardTargetUnreachable { .. }
                        | DnsIssue::OutboundEndpointNotReady { .. }
                )
            }) {
                return true;
            }
            let other = slots.iter().any(|s| {
                matches!(
                    s.issue,
                    Issue::VpcDnsSupportDisabled { .. } | Issue::CustomDnsUnreachable { .. }
                ) || matches!(&s.issue, Issue::Dns(d) if d.ends_all_dns())
            });
            if other {
                return false;
            }
            if let Some(fc) = evs.iter().find_map(|e| e.fail_closed.clone()) {
                reconcile::push(slots, fc, &o.id);
                return true;
            }
            false
        }
        Status::Ok => {
            if mark(slots, &|d| match d {
                DnsIssue::FirewallBlocks { response, .. } => response == "OVERRIDE",
                DnsIssue::PrivateZoneAnswer { .. } => true,
                _ => false,
            }) {
                return true;
            }
            let predicted_fail = evs.iter().find(|e| {
                matches!(
                    e.outcome,
                    Outcome::FirewallBlock(_) | Outcome::ZoneMissing { .. } | Outcome::ForwardFails
                )
            });
            if let Some(e) = predicted_fail {
                reconcile::push(
                    slots,
                    Issue::AnalysisInconsistent {
                        target: o.target.clone(),
                        destination: None,
                        observed: "DNS answered".into(),
                        predicted: format!("{} fails to resolve ({:?})", e.name, e.outcome),
                    },
                    &o.id,
                );
                return true;
            }
            false
        }
        _ => false,
    }
}

/// R62: a Route 53 Profile on the VPC can carry zones, rules and rule groups that the
/// per-VPC listings do not show; and DNS reads that failed leave the prediction partial.
fn profile_gaps(ix: &Index<'_>, vpc: &str, h: &mut Hops, issues: &mut Vec<Issue>) {
    let dns = &ix.snap.dns;
    for p in dns.profile_associations.iter().filter(|p| p.vpc_id == vpc) {
        if !p.resources_read {
            h.push("route53_profile", &p.profile_id, HopVerdict::Unknown, format!("Route 53 Profile {} is associated with {vpc}; its resources could not be read (R62)", p.profile_id), &["R62"]);
            issues.push(Issue::from(DnsIssue::ConfigNotVisible {
                vpc: vpc.to_string(),
                what: format!("Route 53 Profile {}", p.profile_id),
                command: format!(
                    "aws route53profiles list-profile-resource-associations --profile-id {}",
                    p.profile_id
                ),
            }));
        }
    }
    for g in ix.snap.gaps.iter().filter(|g| {
        g.call.starts_with("route53resolver:")
            || g.call.starts_with("route53:")
            || g.call.starts_with("route53profiles:")
    }) {
        let action = g.call.clone();
        h.push(
            "resolver_rule",
            &action,
            HopVerdict::Unknown,
            format!(
                "{action} failed ({}): that part of the DNS path is not verifiable (R62)",
                g.reason
            ),
            &["R62"],
        );
        // An API the endpoint does not offer (a Region or stand-in without it) hides
        // nothing; the hop says so.
        if g.kind == crate::model::GapKind::Unsupported {
            continue;
        }
        issues.push(Issue::from(DnsIssue::ConfigNotVisible {
            vpc: vpc.to_string(),
            what: format!("the answer of {action}"),
            command: format!("# allow {action} for the role that takes the snapshot"),
        }));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn r58_domains_match_label_wise() {
        assert!(under("api.corp.example.com", "corp.example.com."));
        assert!(under("corp.example.com", "Corp.Example.com"));
        assert!(!under("notcorp.example.com", "corp.example.com"));
        assert!(under("anything.test", "."));
        assert_eq!(labels("."), 0);
        assert_eq!(labels("a.b.c."), 3);
    }

    #[test]
    fn r61_domain_list_entries() {
        assert!(entry_matches("example.com", "EXAMPLE.com."));
        assert!(!entry_matches("example.com", "www.example.com"));
        assert!(entry_matches("*.example.com", "www.example.com"));
        assert!(!entry_matches("*.example.com", "example.com"));
        assert!(entry_matches("*", "x.test"));
    }
}
