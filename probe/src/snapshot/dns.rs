//! The DNS path of a workload VPC (fact sheet part 2, R58-R62, §H's DNS recipe) through
//! aws-sdk-route53resolver, aws-sdk-route53 and aws-sdk-route53profiles, into
//! `model::DnsConfig`. Three rounds, each round's calls concurrent:
//!
//! 1. `ListResolverRuleAssociations` (VPCId filter), `ListHostedZonesByVPC`,
//!    `ListFirewallRuleGroupAssociations` (VpcId), `ListProfileAssociations` (ResourceId);
//! 2. when there are rule associations: `ListResolverRules` and `ListResolverEndpoints`;
//!    when there are rule group associations: `GetFirewallConfig` (the fail mode) and one
//!    `ListFirewallRules` per group; one `ListProfileResourceAssociations` per Profile;
//! 3. one `ListResolverEndpointIpAddresses` per outbound endpoint a forward rule of the VPC
//!    uses, and one `ListFirewallDomains` per domain list those rules reference.
//!
//! So a VPC costs at most 8 calls (7 + its outbound endpoint; a second endpoint or a
//! Profile adds one each) plus one per referenced rule group and domain list (pages count
//! separately). The reads run as a task of their own, beside the walk: their SDK calls are
//! then not polled at the bottom of the caller's (deep) stack. Record sets of private
//! zones are not read (no names are known here): the
//! engine says which zone decides a name. A failed call is a gap; nothing is guessed.

use super::call::*;
use super::read::Reader;
use crate::model::{
    DnsConfig, DnsFirewallAssociation, DnsFirewallConfig, DnsFirewallDomainList, DnsFirewallRule,
    DnsFirewallRuleGroup, PrivateHostedZone, ProfileAssociation, ProfileResource, ResolverEndpoint,
    ResolverEndpointIp, ResolverRule, ResolverRuleAssociation, ResolverTarget, SnapshotGap,
};
use aws_sdk_route53resolver::types as r53r;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::time::Instant;

/// The clients of the DNS reads.
#[derive(Debug, Clone)]
pub struct DnsClients {
    pub resolver: aws_sdk_route53resolver::Client,
    pub route53: aws_sdk_route53::Client,
    pub profiles: aws_sdk_route53profiles::Client,
}

impl DnsClients {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            resolver: aws_sdk_route53resolver::Client::new(config),
            route53: aws_sdk_route53::Client::new(config),
            profiles: aws_sdk_route53profiles::Client::new(config),
        }
    }
}

/// The reader's budget, owned by the DNS task: its requests are counted here and added to
/// the reader's count; none is waited for past the reader's end.
#[derive(Clone)]
struct Calls {
    count: Arc<AtomicU32>,
    end: Option<Instant>,
    began: Instant,
}

/// One counted request, bounded by the reader's end (as `read::once`).
async fn once<T, E>(
    r: &Calls,
    call: &str,
    request: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
) -> Result<T, SnapshotGap>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    r.count.fetch_add(1, Ordering::Relaxed);
    let out = match r.end {
        None => request.await,
        Some(end) => match tokio::time::timeout_at(end, request).await {
            Ok(out) => out,
            Err(_elapsed) => {
                return Err(SnapshotGap {
                    call: call.to_string(),
                    kind: crate::model::GapKind::Unreachable,
                    reason: format!(
                        "no answer within the time the analysis had left ({} ms after it began); the call was abandoned",
                        end.saturating_duration_since(r.began).as_millis()
                    ),
                    account: None,
                });
            }
        },
    };
    out.map_err(|err| super::classify::gap(call, &err))
}

/// Most pages of one listing read; beyond, a note says the listing was cut.
const MAX_PAGES: u32 = 10;

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_string).filter(|s| !s.is_empty())
}

/// What one VPC's DNS reads returned.
#[derive(Clone)]
pub struct DnsRead {
    pub config: DnsConfig,
    pub gaps: Vec<SnapshotGap>,
    pub notes: Vec<String>,
    /// Sequential rounds used.
    pub rounds: u32,
}

/// Reads the DNS path of `vpc_id` (see the module text), in a task of its own; the requests
/// count in `r`.
pub async fn read(r: &Reader<'_>, c: &DnsClients, vpc_id: &str, region: Option<&str>) -> DnsRead {
    let calls = Calls {
        count: Arc::new(AtomicU32::new(0)),
        end: r.end(),
        began: r.began(),
    };
    let (c, vpc, region) = (c.clone(), vpc_id.to_string(), region.map(str::to_string));
    let task_calls = calls.clone();
    let task =
        tokio::spawn(async move { read_here(&task_calls, &c, &vpc, region.as_deref()).await });
    let out = match task.await {
        Ok(out) => out,
        Err(e) => DnsRead {
            config: DnsConfig::default(),
            gaps: vec![SnapshotGap {
                call: LIST_RESOLVER_RULE_ASSOCIATIONS.to_string(),
                kind: crate::model::GapKind::Error,
                reason: format!("the DNS reads stopped: {e}"),
                account: None,
            }],
            notes: vec![],
            rounds: 1,
        },
    };
    r.count_n(calls.count.load(Ordering::Relaxed));
    out
}

async fn read_here(r: &Calls, c: &DnsClients, vpc_id: &str, region: Option<&str>) -> DnsRead {
    let mut out = DnsRead {
        config: DnsConfig {
            read: true,
            ..DnsConfig::default()
        },
        gaps: Vec::new(),
        notes: Vec::new(),
        rounds: 1,
    };
    // Round 1.
    let (assocs, zones, fw_assocs, profiles) = tokio::join!(
        rule_associations(r, c, vpc_id),
        hosted_zones(r, c, vpc_id, region),
        firewall_associations(r, c, vpc_id),
        profile_associations(r, c, vpc_id),
    );
    let assocs = keep(assocs, &mut out.gaps);
    let zones = keep(zones, &mut out.gaps);
    let fw_assocs = keep(fw_assocs, &mut out.gaps);
    let profiles = keep(profiles, &mut out.gaps);
    out.config.rule_associations = assocs;
    out.config.private_zones = zones;
    out.config.firewall_associations = fw_assocs;

    // Round 2.
    let want_rules = !out.config.rule_associations.is_empty();
    let groups: Vec<String> = out
        .config
        .firewall_associations
        .iter()
        .map(|a| a.firewall_rule_group_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if want_rules || !groups.is_empty() || !profiles.is_empty() {
        out.rounds += 1;
        let rules_f = async {
            if want_rules {
                Some(tokio::join!(rules(r, c), endpoints(r, c)))
            } else {
                None
            }
        };
        let config_f = async {
            if groups.is_empty() {
                None
            } else {
                Some(firewall_config(r, c, vpc_id).await)
            }
        };
        let groups_f =
            futures_util::future::join_all(groups.iter().map(|g| firewall_rules(r, c, g)));
        let profiles_f = futures_util::future::join_all(
            profiles.into_iter().map(|p| profile_resources(r, c, p)),
        );
        let (rules_eps, config, group_rules, profiles) =
            tokio::join!(rules_f, config_f, groups_f, profiles_f);
        if let Some((rules, eps)) = rules_eps {
            let ids: BTreeSet<&str> = out
                .config
                .rule_associations
                .iter()
                .map(|a| a.resolver_rule_id.as_str())
                .collect();
            out.config.rules = keep(rules, &mut out.gaps)
                .into_iter()
                .filter(|rule| ids.contains(rule.id.as_str()))
                .collect();
            let used: BTreeSet<String> = out
                .config
                .rules
                .iter()
                .filter_map(|rule| rule.resolver_endpoint_id.clone())
                .collect();
            out.config.endpoints = keep(eps, &mut out.gaps)
                .into_iter()
                .filter(|e| used.contains(&e.id))
                .collect();
        }
        if let Some(cfg) = config {
            out.config.firewall_configs = keep(cfg, &mut out.gaps);
        }
        for (g, res) in groups.iter().zip(group_rules) {
            match res {
                Ok(rules) => out.config.firewall_rule_groups.push(DnsFirewallRuleGroup {
                    id: g.clone(),
                    name: None,
                    rules,
                    rules_read: true,
                }),
                Err(gap) => {
                    out.config.firewall_rule_groups.push(DnsFirewallRuleGroup {
                        id: g.clone(),
                        name: None,
                        rules: vec![],
                        rules_read: false,
                    });
                    out.gaps.push(gap);
                }
            }
        }
        for (p, gap) in profiles {
            out.gaps.extend(gap);
            out.config.profile_associations.push(p);
        }
    }

    // Round 3.
    let endpoint_ids: Vec<String> = out
        .config
        .endpoints
        .iter()
        .filter(|e| e.direction.eq_ignore_ascii_case("OUTBOUND"))
        .map(|e| e.id.clone())
        .collect();
    let lists: Vec<String> = out
        .config
        .firewall_rule_groups
        .iter()
        .flat_map(|g| {
            g.rules
                .iter()
                .map(|rule| rule.firewall_domain_list_id.clone())
        })
        .filter(|l| !l.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !endpoint_ids.is_empty() || !lists.is_empty() {
        out.rounds += 1;
        let (ips, domains) = tokio::join!(
            futures_util::future::join_all(endpoint_ids.iter().map(|e| endpoint_ips(r, c, e))),
            futures_util::future::join_all(lists.iter().map(|l| domains(r, c, l))),
        );
        for (eid, res) in endpoint_ids.iter().zip(ips) {
            let Some(ep) = out.config.endpoints.iter_mut().find(|e| &e.id == eid) else {
                continue;
            };
            match res {
                Ok(ips) => {
                    ep.ip_addresses = ips;
                    ep.ip_addresses_read = true;
                }
                Err(gap) => out.gaps.push(gap),
            }
        }
        for (lid, res) in lists.iter().zip(domains) {
            match res {
                Ok(domains) => out.config.domain_lists.push(DnsFirewallDomainList {
                    id: lid.clone(),
                    name: None,
                    domains,
                    domains_read: true,
                    managed_owner_name: None,
                }),
                Err(gap) => {
                    out.notes.push(format!(
                        "DNS Firewall domain list {lid}: {} (a managed list cannot be listed)",
                        gap.reason
                    ));
                    out.config.domain_lists.push(DnsFirewallDomainList {
                        id: lid.clone(),
                        name: None,
                        domains: vec![],
                        domains_read: false,
                        managed_owner_name: None,
                    });
                    out.gaps.push(gap);
                }
            }
        }
    }
    out
}

fn keep<T: Default>(res: Result<T, SnapshotGap>, gaps: &mut Vec<SnapshotGap>) -> T {
    match res {
        Ok(v) => v,
        Err(g) => {
            gaps.push(g);
            T::default()
        }
    }
}

fn filter(name: &str, value: &str) -> r53r::Filter {
    r53r::Filter::builder().name(name).values(value).build()
}

async fn rule_associations(
    r: &Calls,
    c: &DnsClients,
    vpc: &str,
) -> Result<Vec<ResolverRuleAssociation>, SnapshotGap> {
    let call = LIST_RESOLVER_RULE_ASSOCIATIONS;
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = once(
            r,
            call,
            c.resolver
                .list_resolver_rule_associations()
                .filters(filter("VPCId", vpc))
                .set_next_token(token.clone())
                .send(),
        )
        .await?;
        for a in page.resolver_rule_associations() {
            let (Some(id), Some(rule), Some(v)) = (
                owned(a.id()),
                owned(a.resolver_rule_id()),
                owned(a.vpc_id()),
            ) else {
                continue;
            };
            // The API's filter is not trusted to be applied (moto-notes §5).
            if v != vpc {
                continue;
            }
            items.push(ResolverRuleAssociation {
                id,
                resolver_rule_id: rule,
                vpc_id: v,
                name: owned(a.name()),
                status: a.status().map(|s| s.as_str().to_string()),
                status_message: owned(a.status_message()),
            });
        }
        token = owned(page.next_token());
        if token.is_none() {
            break;
        }
    }
    Ok(items)
}

async fn rules(r: &Calls, c: &DnsClients) -> Result<Vec<ResolverRule>, SnapshotGap> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = once(
            r,
            LIST_RESOLVER_RULES,
            c.resolver
                .list_resolver_rules()
                .set_next_token(token.clone())
                .send(),
        )
        .await?;
        for rule in page.resolver_rules() {
            let Some(id) = owned(rule.id()) else { continue };
            let target_ips = rule
                .target_ips()
                .iter()
                .filter_map(|t| {
                    let ip = t
                        .ip()
                        .and_then(|a| a.parse().ok())
                        .or_else(|| t.ipv6().and_then(|a| a.parse().ok()))?;
                    Some(ResolverTarget {
                        ip,
                        port: t.port().and_then(|p| u16::try_from(p).ok()).unwrap_or(53),
                        protocol: t.protocol().map(|p| p.as_str().to_string()),
                    })
                })
                .collect();
            items.push(ResolverRule {
                id,
                domain_name: owned(rule.domain_name()).unwrap_or_else(|| ".".into()),
                rule_type: rule
                    .rule_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                name: owned(rule.name()),
                status: rule.status().map(|s| s.as_str().to_string()),
                target_ips,
                resolver_endpoint_id: owned(rule.resolver_endpoint_id()),
                owner_id: owned(rule.owner_id()),
                share_status: rule.share_status().map(|s| s.as_str().to_string()),
            });
        }
        token = owned(page.next_token());
        if token.is_none() {
            break;
        }
    }
    Ok(items)
}

async fn endpoints(r: &Calls, c: &DnsClients) -> Result<Vec<ResolverEndpoint>, SnapshotGap> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = once(
            r,
            LIST_RESOLVER_ENDPOINTS,
            c.resolver
                .list_resolver_endpoints()
                .set_next_token(token.clone())
                .send(),
        )
        .await?;
        for e in page.resolver_endpoints() {
            let Some(id) = owned(e.id()) else { continue };
            items.push(ResolverEndpoint {
                id,
                name: owned(e.name()),
                direction: e
                    .direction()
                    .map(|d| d.as_str().to_string())
                    .unwrap_or_default(),
                status: e
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                status_message: owned(e.status_message()),
                host_vpc_id: owned(e.host_vpc_id()).unwrap_or_default(),
                security_group_ids: e.security_group_ids().to_vec(),
                ip_addresses: vec![],
                ip_addresses_read: false,
            });
        }
        token = owned(page.next_token());
        if token.is_none() {
            break;
        }
    }
    Ok(items)
}

async fn endpoint_ips(
    r: &Calls,
    c: &DnsClients,
    endpoint: &str,
) -> Result<Vec<ResolverEndpointIp>, SnapshotGap> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = once(
            r,
            LIST_RESOLVER_ENDPOINT_IP_ADDRESSES,
            c.resolver
                .list_resolver_endpoint_ip_addresses()
                .resolver_endpoint_id(endpoint)
                .set_next_token(token.clone())
                .send(),
        )
        .await?;
        for a in page.ip_addresses() {
            let Some(subnet_id) = owned(a.subnet_id()) else {
                continue;
            };
            items.push(ResolverEndpointIp {
                ip_id: owned(a.ip_id()),
                subnet_id,
                ip: a.ip().and_then(|s| s.parse().ok()),
                ipv6: a.ipv6().and_then(|s| s.parse().ok()),
                status: a.status().map(|s| s.as_str().to_string()),
            });
        }
        token = owned(page.next_token());
        if token.is_none() {
            break;
        }
    }
    Ok(items)
}

async fn hosted_zones(
    r: &Calls,
    c: &DnsClients,
    vpc: &str,
    region: Option<&str>,
) -> Result<Vec<PrivateHostedZone>, SnapshotGap> {
    let region = region.unwrap_or("us-east-1");
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = once(
            r,
            LIST_HOSTED_ZONES_BY_VPC,
            c.route53
                .list_hosted_zones_by_vpc()
                .vpc_id(vpc)
                .vpc_region(aws_sdk_route53::types::VpcRegion::from(region))
                .set_next_token(token.clone())
                .send(),
        )
        .await?;
        for z in page.hosted_zone_summaries() {
            let id = z
                .hosted_zone_id()
                .trim_start_matches("/hostedzone/")
                .to_string();
            if id.is_empty() {
                continue;
            }
            items.push(PrivateHostedZone {
                id,
                name: z.name().to_string(),
                vpc_ids: vec![vpc.to_string()],
                owner: z
                    .owner()
                    .and_then(|o| owned(o.owning_account()).or_else(|| owned(o.owning_service()))),
                via_profile: None,
                records: None,
            });
        }
        token = owned(page.next_token());
        if token.is_none() {
            break;
        }
    }
    Ok(items)
}

async fn firewall_associations(
    r: &Calls,
    c: &DnsClients,
    vpc: &str,
) -> Result<Vec<DnsFirewallAssociation>, SnapshotGap> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = once(
            r,
            LIST_FIREWALL_RULE_GROUP_ASSOCIATIONS,
            c.resolver
                .list_firewall_rule_group_associations()
                .vpc_id(vpc)
                .set_next_token(token.clone())
                .send(),
        )
        .await?;
        for a in page.firewall_rule_group_associations() {
            let (Some(id), Some(group)) = (owned(a.id()), owned(a.firewall_rule_group_id())) else {
                continue;
            };
            if owned(a.vpc_id()).is_some_and(|v| v != vpc) {
                continue;
            }
            items.push(DnsFirewallAssociation {
                id,
                firewall_rule_group_id: group,
                vpc_id: vpc.to_string(),
                priority: a.priority().unwrap_or(i32::MAX),
                name: owned(a.name()),
                status: a.status().map(|s| s.as_str().to_string()),
                managed_owner_name: owned(a.managed_owner_name()),
                via_profile: None,
            });
        }
        token = owned(page.next_token());
        if token.is_none() {
            break;
        }
    }
    Ok(items)
}

async fn firewall_rules(
    r: &Calls,
    c: &DnsClients,
    group: &str,
) -> Result<Vec<DnsFirewallRule>, SnapshotGap> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = once(
            r,
            LIST_FIREWALL_RULES,
            c.resolver
                .list_firewall_rules()
                .firewall_rule_group_id(group)
                .set_next_token(token.clone())
                .send(),
        )
        .await?;
        for rule in page.firewall_rules() {
            items.push(DnsFirewallRule {
                name: owned(rule.name()),
                priority: rule.priority().unwrap_or(i32::MAX),
                action: rule
                    .action()
                    .map(|a| a.as_str().to_string())
                    .unwrap_or_default(),
                block_response: rule.block_response().map(|b| b.as_str().to_string()),
                block_override_domain: owned(rule.block_override_domain()),
                block_override_ttl: rule.block_override_ttl(),
                firewall_domain_list_id: owned(rule.firewall_domain_list_id()).unwrap_or_default(),
                redirection_action: rule
                    .firewall_domain_redirection_action()
                    .map(|a| a.as_str().to_string()),
                qtype: owned(rule.qtype()),
            });
        }
        token = owned(page.next_token());
        if token.is_none() {
            break;
        }
    }
    Ok(items)
}

async fn domains(r: &Calls, c: &DnsClients, list: &str) -> Result<Vec<String>, SnapshotGap> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = once(
            r,
            LIST_FIREWALL_DOMAINS,
            c.resolver
                .list_firewall_domains()
                .firewall_domain_list_id(list)
                .set_next_token(token.clone())
                .send(),
        )
        .await?;
        items.extend(page.domains().iter().cloned());
        token = owned(page.next_token());
        if token.is_none() {
            break;
        }
    }
    Ok(items)
}

async fn firewall_config(
    r: &Calls,
    c: &DnsClients,
    vpc: &str,
) -> Result<Vec<DnsFirewallConfig>, SnapshotGap> {
    let out = once(
        r,
        GET_FIREWALL_CONFIG,
        c.resolver.get_firewall_config().resource_id(vpc).send(),
    )
    .await?;
    Ok(out
        .firewall_config()
        .map(|f| DnsFirewallConfig {
            resource_id: owned(f.resource_id()).unwrap_or_else(|| vpc.to_string()),
            firewall_fail_open: f
                .firewall_fail_open()
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "DISABLED".into()),
        })
        .into_iter()
        .collect())
}

async fn profile_associations(
    r: &Calls,
    c: &DnsClients,
    vpc: &str,
) -> Result<Vec<ProfileAssociation>, SnapshotGap> {
    let page = once(
        r,
        LIST_PROFILE_ASSOCIATIONS,
        c.profiles
            .list_profile_associations()
            .resource_id(vpc)
            .send(),
    )
    .await?;
    Ok(page
        .profile_associations()
        .iter()
        .filter_map(|p| {
            Some(ProfileAssociation {
                id: owned(p.id())?,
                profile_id: owned(p.profile_id())?,
                vpc_id: owned(p.resource_id()).unwrap_or_else(|| vpc.to_string()),
                name: owned(p.name()),
                status: p.status().map(|s| s.as_str().to_string()),
                resources: vec![],
                resources_read: false,
            })
        })
        .filter(|p| p.vpc_id == vpc)
        .collect())
}

async fn profile_resources(
    r: &Calls,
    c: &DnsClients,
    mut p: ProfileAssociation,
) -> (ProfileAssociation, Option<SnapshotGap>) {
    let res = once(
        r,
        LIST_PROFILE_RESOURCE_ASSOCIATIONS,
        c.profiles
            .list_profile_resource_associations()
            .profile_id(&p.profile_id)
            .send(),
    )
    .await;
    match res {
        Ok(page) => {
            p.resources = page
                .profile_resource_associations()
                .iter()
                .filter_map(|a| {
                    Some(ProfileResource {
                        resource_arn: owned(a.resource_arn())?,
                        resource_type: owned(a.resource_type()).unwrap_or_default(),
                        name: owned(a.name()),
                        resource_properties: owned(a.resource_properties()),
                        status: a.status().map(|s| s.as_str().to_string()),
                    })
                })
                .collect();
            p.resources_read = true;
            (p, None)
        }
        Err(gap) => (p, Some(gap)),
    }
}

/// R62: a Profile's private zones and rule groups join the per-VPC lists, marked with the
/// Profile they came through (zones by ID; rule groups with the priority the association's
/// `ResourceProperties` give). Resolver rules of a Profile are noted, not evaluated: the
/// rule itself is not read here.
pub fn merge_profiles(config: &mut DnsConfig, notes: &mut Vec<String>) {
    let mut zones = Vec::new();
    let mut groups = Vec::new();
    for p in &config.profile_associations {
        for res in &p.resources {
            let last = res
                .resource_arn
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            match res.resource_type.as_str() {
                t if t.ends_with("HostedZone") => zones.push(PrivateHostedZone {
                    id: last,
                    name: res.name.clone().unwrap_or_default(),
                    vpc_ids: vec![p.vpc_id.clone()],
                    owner: None,
                    via_profile: Some(p.profile_id.clone()),
                    records: None,
                }),
                t if t.ends_with("FirewallRuleGroup") => groups.push(DnsFirewallAssociation {
                    id: format!("{}:{last}", p.id),
                    firewall_rule_group_id: last,
                    vpc_id: p.vpc_id.clone(),
                    priority: priority(res.resource_properties.as_deref()).unwrap_or(i32::MAX),
                    name: res.name.clone(),
                    status: res.status.clone(),
                    managed_owner_name: None,
                    via_profile: Some(p.profile_id.clone()),
                }),
                other => notes.push(format!(
                    "Route 53 Profile {}: {other} {} is not evaluated (R62)",
                    p.profile_id, res.resource_arn
                )),
            }
        }
    }
    for z in zones {
        if !z.name.is_empty() && !config.private_zones.iter().any(|x| x.id == z.id) {
            config.private_zones.push(z);
        }
    }
    config.firewall_associations.extend(groups);
}

/// `{"priority":102}` → 102.
fn priority(props: Option<&str>) -> Option<i32> {
    let v: serde_json::Value = serde_json::from_str(props?).ok()?;
    v.get("priority")?
        .as_i64()
        .and_then(|p| i32::try_from(p).ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn r62_profile_resources_join_the_vpc_lists() {
        let mut c = DnsConfig {
            profile_associations: vec![ProfileAssociation {
                id: "rpassoc-1".into(),
                profile_id: "rp-1".into(),
                vpc_id: "vpc-1".into(),
                name: None,
                status: None,
                resources: vec![
                    ProfileResource {
                        resource_arn: "arn:aws:route53:::hostedzone/Z1".into(),
                        resource_type: "AWS::Route53::HostedZone".into(),
                        name: Some("corp.example.".into()),
                        resource_properties: None,
                        status: None,
                    },
                    ProfileResource {
                        resource_arn:
                            "arn:aws:route53resolver:us-east-1:1:firewall-rule-group/rslvr-frg-9"
                                .into(),
                        resource_type: "AWS::Route53Resolver::FirewallRuleGroup".into(),
                        name: None,
                        resource_properties: Some(r#"{"priority":102}"#.into()),
                        status: None,
                    },
                ],
                resources_read: true,
            }],
            ..DnsConfig::default()
        };
        let mut notes = vec![];
        merge_profiles(&mut c, &mut notes);
        assert_eq!(c.private_zones[0].id, "Z1");
        assert_eq!(c.private_zones[0].via_profile.as_deref(), Some("rp-1"));
        assert_eq!(
            c.firewall_associations[0].firewall_rule_group_id,
            "rslvr-frg-9"
        );
        assert_eq!(c.firewall_associations[0].priority, 102);
        assert!(notes.is_empty());
    }
}
