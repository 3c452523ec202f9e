//! Amazon DNS (VPC+2) in the lab honours the VPC's DNS path (R58-R61): the private hosted
//! zones associated with the VPC (read from moto's Route 53: zones and record sets) and
//! DNS Firewall rules (moto has none: the scenario gives them here, and the same data is
//! handed to the diagnosis as the snapshot's DNS Firewall section — the stand-in, like the
//! Network Firewall API front).
//!
//! The policy is a JSON file the Amazon DNS host's forwarder (`lab-services dns-forward
//! --policy FILE`) reads on every query, so a scenario changes it without a restart:
//! DNS Firewall first (first matching rule: BLOCK answers NXDOMAIN, NODATA or the
//! override CNAME; with the firewall "down" and fail-closed, SERVFAIL), then the most
//! specific private zone (its record, NODATA, or NXDOMAIN — no fallback to public DNS),
//! else the lab's internet DNS as before.
//!
//! Forward rules (R59): the names of a rule go, over a unix socket, to a forwarder in each
//! outbound endpoint ENI's namespace ([`crate::lab::Lab::start_resolver_endpoint`]), which
//! sends them to the targets from the ENI's address, through the lab's security groups,
//! NACLs and routes; no answer from any ENI and target is SERVFAIL.

use anyhow::{Context, Result};
use egress_probe::model::{
    DnsFirewallAssociation, DnsFirewallConfig, DnsFirewallDomainList, DnsFirewallRule,
    DnsFirewallRuleGroup, NetworkSnapshot,
};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One record of a private zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub rtype: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub records: Vec<Record>,
}

/// One DNS Firewall rule, in evaluation order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FwRule {
    pub name: String,
    /// Domain list entries (`example.com`, `*.example.com`, `*`).
    pub domains: Vec<String>,
    /// `ALLOW | BLOCK | ALERT`.
    pub action: String,
    /// `NXDOMAIN | NODATA | OVERRIDE` for BLOCK.
    pub response: Option<String>,
    pub override_domain: Option<String>,
}

/// A Resolver forward rule (R58, R59): names under `domain` go to `targets` through the
/// outbound endpoint forwarders listening on `sockets` (one per endpoint ENI).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forward {
    pub domain: String,
    pub targets: Vec<std::net::SocketAddr>,
    pub sockets: Vec<std::path::PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsPolicy {
    pub zones: Vec<Zone>,
    #[serde(default)]
    pub forward: Vec<Forward>,
    pub firewall: Vec<FwRule>,
    /// `FirewallFailOpen` is ENABLED.
    pub fail_open: bool,
    /// DNS Firewall does not answer (an impairment): fail-closed gives SERVFAIL.
    pub firewall_down: bool,
}

/// What the Amazon DNS host answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Servfail,
    Nxdomain,
    Nodata,
    Answer(Vec<IpAddr>),
    /// A CNAME to the name, whose own answer is resolved like any other.
    Cname(String),
    /// Not decided here: the lab's internet DNS answers.
    Forward,
    /// A forward rule (index into `forward`) decides: the endpoint forwarders ask.
    ForwardRule(usize),
}

fn norm(s: &str) -> String {
    s.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn entry_matches(entry: &str, name: &str) -> bool {
    let (e, n) = (norm(entry), norm(name));
    if e == "*" {
        return true;
    }
    match e.strip_prefix("*.") {
        Some(s) => n.ends_with(&format!(".{s}")),
        None => e == n,
    }
}

impl DnsPolicy {
    /// The answer for `name` and query type `qtype` (`A`, `AAAA`).
    pub fn decide(&self, name: &str, qtype: &str) -> Decision {
        if !self.firewall.is_empty() && self.firewall_down && !self.fail_open {
            return Decision::Servfail;
        }
        if !self.firewall_down {
            for r in &self.firewall {
                if !r.domains.iter().any(|d| entry_matches(d, name)) {
                    continue;
                }
                if r.action.eq_ignore_ascii_case("BLOCK") {
                    return match r.response.as_deref().unwrap_or("NODATA") {
                        "NXDOMAIN" => Decision::Nxdomain,
                        "OVERRIDE" => match &r.override_domain {
                            Some(d) => Decision::Cname(norm(d)),
                            None => Decision::Nodata,
                        },
                        _ => Decision::Nodata,
                    };
                }
                break;
            }
        }
        let n = norm(name);
        // R58: the most specific forward rule, unless a more specific private zone.
        let rule = self
            .forward
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                let d = norm(&f.domain);
                n == d || n.ends_with(&format!(".{d}"))
            })
            .max_by_key(|(_, f)| norm(&f.domain).len());
        let zone_len = self
            .zones
            .iter()
            .map(|z| norm(&z.name))
            .filter(|zn| n == *zn || n.ends_with(&format!(".{zn}")))
            .map(|zn| zn.len())
            .max();
        if let Some((i, f)) = rule
            && zone_len.is_none_or(|z| norm(&f.domain).len() >= z)
        {
            return Decision::ForwardRule(i);
        }
        let zone = self
            .zones
            .iter()
            .filter(|z| {
                let zn = norm(&z.name);
                n == zn || n.ends_with(&format!(".{zn}"))
            })
            .max_by_key(|z| norm(&z.name).len());
        let Some(zone) = zone else {
            return Decision::Forward;
        };
        let found: Vec<&Record> = zone.records.iter().filter(|r| norm(&r.name) == n).collect();
        if found.is_empty() {
            return Decision::Nxdomain;
        }
        if let Some(c) = found.iter().find(|r| r.rtype.eq_ignore_ascii_case("CNAME"))
            && let Some(v) = c.values.first()
        {
            return Decision::Cname(norm(v));
        }
        let addrs: Vec<IpAddr> = found
            .iter()
            .filter(|r| r.rtype.eq_ignore_ascii_case(qtype))
            .flat_map(|r| r.values.iter().filter_map(|v| v.parse().ok()))
            .collect();
        if addrs.is_empty() {
            Decision::Nodata
        } else {
            Decision::Answer(addrs)
        }
    }

    /// The private zones associated with `vpc` in moto, with their A/AAAA/CNAME records.
    pub async fn zones_from_moto(config: &aws_config::SdkConfig, vpc: &str) -> Result<Vec<Zone>> {
        let r53 = aws_sdk_route53::Client::new(config);
        let out = r53
            .list_hosted_zones_by_vpc()
            .vpc_id(vpc)
            .vpc_region(aws_sdk_route53::types::VpcRegion::UsEast1)
            .send()
            .await
            .context("ListHostedZonesByVPC")?;
        let mut zones = Vec::new();
        for z in out.hosted_zone_summaries() {
            let id = z
                .hosted_zone_id()
                .trim_start_matches("/hostedzone/")
                .to_string();
            let sets = r53
                .list_resource_record_sets()
                .hosted_zone_id(&id)
                .send()
                .await
                .context("ListResourceRecordSets")?;
            let records = sets
                .resource_record_sets()
                .iter()
                .map(|s| Record {
                    name: s.name().to_string(),
                    rtype: s.r#type().as_str().to_string(),
                    values: s
                        .resource_records()
                        .iter()
                        .map(|r| r.value().to_string())
                        .collect(),
                })
                .collect();
            zones.push(Zone {
                id,
                name: z.name().to_string(),
                records,
            });
        }
        Ok(zones)
    }

    /// Writes the policy where the Amazon DNS host reads it.
    pub fn write(&self, path: &std::path::Path) -> Result<()> {
        let text = serde_json::to_string(self)?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// Puts the DNS Firewall of this policy into a snapshot read from moto (which has no
    /// DNS Firewall API): one rule group associated with `vpc`, a domain list per rule,
    /// the fail mode.
    pub fn firewall_into(&self, snap: &mut NetworkSnapshot, vpc: &str) {
        if self.firewall.is_empty() {
            return;
        }
        let dns = &mut snap.dns;
        let group = "rslvr-frg-lab".to_string();
        dns.firewall_associations.push(DnsFirewallAssociation {
            id: "rslvr-frgassoc-lab".into(),
            firewall_rule_group_id: group.clone(),
            vpc_id: vpc.into(),
            priority: 101,
            name: Some("lab".into()),
            status: Some("COMPLETE".into()),
            managed_owner_name: None,
            via_profile: None,
        });
        let mut rules = Vec::new();
        for (i, r) in self.firewall.iter().enumerate() {
            let list = format!("rslvr-fdl-lab{i}");
            dns.domain_lists.push(DnsFirewallDomainList {
                id: list.clone(),
                name: Some(r.name.clone()),
                domains: r.domains.clone(),
                domains_read: true,
                managed_owner_name: None,
            });
            rules.push(DnsFirewallRule {
                name: Some(r.name.clone()),
                priority: i32::try_from(i + 1).unwrap_or(i32::MAX),
                action: r.action.clone(),
                block_response: r.response.clone(),
                block_override_domain: r.override_domain.clone(),
                block_override_ttl: Some(60),
                firewall_domain_list_id: list,
                redirection_action: None,
                qtype: None,
            });
        }
        dns.firewall_rule_groups.push(DnsFirewallRuleGroup {
            id: group,
            name: Some("lab".into()),
            rules,
            rules_read: true,
        });
        dns.firewall_configs.push(DnsFirewallConfig {
            resource_id: vpc.into(),
            firewall_fail_open: if self.fail_open {
                "ENABLED"
            } else {
                "DISABLED"
            }
            .into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> DnsPolicy {
        DnsPolicy {
            zones: vec![Zone {
                id: "Z1".into(),
                name: "lab.example.".into(),
                records: vec![
                    Record {
                        name: "v4.lab.example.".into(),
                        rtype: "A".into(),
                        values: vec!["203.0.113.14".into()],
                    },
                    Record {
                        name: "t.lab.example.".into(),
                        rtype: "TXT".into(),
                        values: vec!["x".into()],
                    },
                ],
            }],
            firewall: vec![
                FwRule {
                    name: "block".into(),
                    domains: vec!["rst.lab.example".into()],
                    action: "BLOCK".into(),
                    response: Some("NXDOMAIN".into()),
                    override_domain: None,
                },
                FwRule {
                    name: "allow".into(),
                    domains: vec!["*".into()],
                    action: "ALLOW".into(),
                    response: None,
                    override_domain: None,
                },
            ],
            fail_open: false,
            firewall_down: false,
            forward: vec![],
        }
    }

    #[test]
    fn firewall_then_zone_then_internet() {
        let mut p = policy();
        assert_eq!(p.decide("rst.lab.example", "A"), Decision::Nxdomain);
        assert_eq!(
            p.decide("v4.lab.example", "A"),
            Decision::Answer(vec!["203.0.113.14".parse().unwrap()])
        );
        assert_eq!(p.decide("v4.lab.example", "AAAA"), Decision::Nodata);
        assert_eq!(p.decide("t.lab.example", "A"), Decision::Nodata);
        assert_eq!(p.decide("www.lab.example", "A"), Decision::Nxdomain);
        assert_eq!(p.decide("other.test", "A"), Decision::Forward);
        p.firewall_down = true;
        assert_eq!(p.decide("other.test", "A"), Decision::Servfail);
        p.fail_open = true;
        assert_eq!(p.decide("other.test", "A"), Decision::Forward);
    }
}
