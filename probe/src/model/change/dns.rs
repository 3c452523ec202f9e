//! The DNS path's changes (fact sheet part 2, R60-R63; issue 11): private hosted zone
//! records and associations (`aws route53 …`, `aws route53profiles …`), DNS Firewall
//! domain lists, rules and the fail mode (`aws route53resolver …`), and a subnet's DNS64
//! attribute (`aws ec2 modify-subnet-attribute`). The same three faces as every other
//! change: one renderer, one parser (also for `diagnose --what-if`), one simulator, on
//! the snapshot's `dns` section (`model/dns.rs`).

use super::{Args, Change, ChangeError, capture, shell};
use crate::model::{DnsFirewallConfig, DnsFirewallDomainList, DnsFirewallRule, DnsRecord};
use crate::model::{NetworkSnapshot, normalise_name};

/// The Route 53 / Resolver verbs accepted (`aws route53 …`, `aws route53resolver …`,
/// `aws route53profiles …`), and `aws ec2 modify-subnet-attribute`.
pub const DNS_CLI_VERBS: &[&str] = &[
    "change-resource-record-sets",
    "disassociate-vpc-from-hosted-zone",
    "disassociate-resource-from-profile",
    "update-firewall-domains",
    "create-firewall-domain-list",
    "create-firewall-rule",
    "update-firewall-config",
    "modify-subnet-attribute",
];

/// A domain for the shell: `'*.example.com'` (a bare `*` would be expanded).
fn quote_domain(d: &str) -> String {
    if d.contains(['*', '?', '[', ' ']) {
        format!("'{d}'")
    } else {
        d.to_string()
    }
}

/// `--domains` values; an ID, `$VAR`, or a word.
fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The command line of a DNS change (`Change::cli` delegates here).
pub(super) fn cli(c: &Change) -> String {
    match c {
        Change::UpsertDnsRecord {
            zone,
            name,
            record_type,
            ttl,
            values,
        } => {
            let records: Vec<String> = values
                .iter()
                .map(|v| format!("{{\"Value\":{}}}", json_string(v)))
                .collect();
            format!(
                "aws route53 change-resource-record-sets --hosted-zone-id {zone} --change-batch '{{\"Changes\":[{{\"Action\":\"UPSERT\",\"ResourceRecordSet\":{{\"Name\":{},\"Type\":{},\"TTL\":{ttl},\"ResourceRecords\":[{}]}}}}]}}'",
                json_string(name),
                json_string(record_type),
                records.join(",")
            )
        }
        Change::DisassociateVpcFromHostedZone { zone, vpc, region } => format!(
            "aws route53 disassociate-vpc-from-hosted-zone --hosted-zone-id {zone} --vpc VPCRegion={region},VPCId={vpc}"
        ),
        Change::DisassociateZoneFromProfile { profile, zone } => format!(
            "aws route53profiles disassociate-resource-from-profile --profile-id {profile} --resource-arn arn:aws:route53:::hostedzone/{zone}"
        ),
        Change::UpdateFirewallDomains {
            list,
            operation,
            domains,
        } => format!(
            "aws route53resolver update-firewall-domains --firewall-domain-list-id {} --operation {operation} --domains {}",
            shell(list),
            domains
                .iter()
                .map(|d| quote_domain(d))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Change::CreateFirewallDomainList { name, list } => capture(
            list,
            format!("aws route53resolver create-firewall-domain-list --name {name}"),
            "FirewallDomainList.Id",
        ),
        Change::CreateFirewallRule {
            group,
            list,
            priority,
            action,
            block_response,
            name,
        } => {
            let mut s = format!(
                "aws route53resolver create-firewall-rule --firewall-rule-group-id {group} --firewall-domain-list-id {} --priority {priority} --action {action}",
                shell(list)
            );
            if let Some(r) = block_response {
                s.push_str(&format!(" --block-response {r}"));
            }
            s.push_str(&format!(" --name {name}"));
            s
        }
        Change::UpdateFirewallConfig { vpc, fail_open } => format!(
            "aws route53resolver update-firewall-config --resource-id {vpc} --firewall-fail-open {fail_open}"
        ),
        Change::ModifySubnetDns64 { subnet, enabled } => format!(
            "aws ec2 modify-subnet-attribute --subnet-id {subnet} --{}enable-dns64",
            if *enabled { "" } else { "no-" }
        ),
        _ => String::new(),
    }
}

/// What a DNS change touches (`Change::touched` delegates here).
pub(super) fn touched(c: &Change) -> Vec<String> {
    match c {
        Change::UpsertDnsRecord { zone, .. } | Change::DisassociateZoneFromProfile { zone, .. } => {
            vec![zone.clone()]
        }
        Change::DisassociateVpcFromHostedZone { zone, vpc, .. } => vec![zone.clone(), vpc.clone()],
        Change::UpdateFirewallDomains { list, .. }
        | Change::CreateFirewallDomainList { list, .. } => vec![list.clone()],
        Change::CreateFirewallRule { group, list, .. } => vec![group.clone(), list.clone()],
        Change::UpdateFirewallConfig { vpc, .. } => vec![vpc.clone()],
        Change::ModifySubnetDns64 { subnet, .. } => vec![subnet.clone()],
        _ => vec![],
    }
}

/// True for the changes whose effect is VPC-wide name resolution (R58-R62): every
/// subnet of the VPC resolves through the same Resolver, so every one is re-evaluated.
pub(super) fn is_global(c: &Change) -> bool {
    matches!(
        c,
        Change::UpsertDnsRecord { .. }
            | Change::DisassociateVpcFromHostedZone { .. }
            | Change::DisassociateZoneFromProfile { .. }
            | Change::UpdateFirewallDomains { .. }
            | Change::CreateFirewallDomainList { .. }
            | Change::CreateFirewallRule { .. }
            | Change::UpdateFirewallConfig { .. }
    )
}

/// Applies a DNS change as Route 53 / Resolver / EC2 would (`Change::apply` delegates).
pub(super) fn apply(c: &Change, snap: &mut NetworkSnapshot) -> Result<(), ChangeError> {
    let nf = |id: &str| ChangeError::NotFound(id.to_string());
    let dns = &mut snap.dns;
    match c {
        Change::UpsertDnsRecord {
            zone,
            name,
            record_type,
            values,
            ..
        } => {
            let z = dns
                .private_zones
                .iter_mut()
                .find(|z| &z.id == zone)
                .ok_or_else(|| nf(zone))?;
            if !normalise_name(name).ends_with(&normalise_name(&z.name))
                && normalise_name(&z.name) != normalise_name(name)
            {
                return Err(ChangeError::Refused(format!(
                    "{name} is not in zone {zone} ({}): InvalidChangeBatch",
                    z.name
                )));
            }
            // Record sets not read stay unread: the simulation does not invent what else
            // the zone holds (R60).
            if let Some(records) = z.records.as_mut() {
                records.retain(|r| {
                    !(normalise_name(&r.name) == normalise_name(name)
                        && r.record_type.eq_ignore_ascii_case(record_type))
                });
                records.push(DnsRecord {
                    name: name.clone(),
                    record_type: record_type.to_ascii_uppercase(),
                    values: values.clone(),
                    alias_target: None,
                });
            }
        }
        Change::DisassociateVpcFromHostedZone { zone, vpc, .. } => {
            let z = dns
                .private_zones
                .iter_mut()
                .find(|z| &z.id == zone && z.via_profile.is_none())
                .ok_or_else(|| nf(zone))?;
            if !z.vpc_ids.contains(vpc) {
                return Err(ChangeError::Refused(format!(
                    "{vpc} is not associated with {zone}: VPCAssociationNotFound"
                )));
            }
            // A zone a service created in its own account (Cloud Map, EFS) cannot be
            // disassociated by the VPC's owner.
            if z.owner
                .as_deref()
                .is_some_and(|o| o.contains('.') && !o.chars().all(|c| c.is_ascii_digit()))
            {
                return Err(ChangeError::Refused(format!(
                    "{zone} is owned by the service {}: only it can disassociate the VPC",
                    z.owner.as_deref().unwrap_or("-")
                )));
            }
            z.vpc_ids.retain(|v| v != vpc);
        }
        Change::DisassociateZoneFromProfile { profile, zone } => {
            let before = dns.private_zones.len();
            dns.private_zones
                .retain(|z| !(&z.id == zone && z.via_profile.as_deref() == Some(profile)));
            if dns.private_zones.len() == before {
                return Err(nf(&format!("{zone} in Route 53 Profile {profile}")));
            }
        }
        Change::UpdateFirewallDomains {
            list,
            operation,
            domains,
        } => {
            let l = dns
                .domain_lists
                .iter_mut()
                .find(|l| &l.id == list)
                .ok_or_else(|| nf(list))?;
            if l.managed_owner_name.is_some() {
                return Err(ChangeError::Refused(format!(
                    "{list} is a managed domain list: it cannot be edited"
                )));
            }
            match operation.as_str() {
                "ADD" => {
                    for d in domains {
                        if !l.domains.contains(d) {
                            l.domains.push(d.clone());
                        }
                    }
                }
                "REMOVE" => {
                    for d in domains {
                        if !l.domains.contains(d) {
                            return Err(ChangeError::NotFound(format!("{d} in {list}")));
                        }
                    }
                    l.domains.retain(|d| !domains.contains(d));
                }
                "REPLACE" => l.domains = domains.clone(),
                other => {
                    return Err(ChangeError::Refused(format!(
                        "--operation {other} is not ADD, REMOVE or REPLACE"
                    )));
                }
            }
        }
        Change::CreateFirewallDomainList { name, list } => {
            if dns.domain_lists.iter().any(|l| &l.id == list) {
                return Err(ChangeError::Refused(format!("{list} exists")));
            }
            dns.domain_lists.push(DnsFirewallDomainList {
                id: list.clone(),
                name: Some(name.clone()),
                domains: vec![],
                domains_read: true,
                managed_owner_name: None,
            });
        }
        Change::CreateFirewallRule {
            group,
            list,
            priority,
            action,
            block_response,
            name,
        } => {
            if !dns.domain_lists.iter().any(|l| &l.id == list) {
                return Err(nf(list));
            }
            let g = dns
                .firewall_rule_groups
                .iter_mut()
                .find(|g| &g.id == group)
                .ok_or_else(|| nf(group))?;
            // R61: priorities are unique within a rule group.
            if let Some(r) = g.rules.iter().find(|r| r.priority == *priority) {
                return Err(ChangeError::Refused(format!(
                    "{group} already has rule {} at priority {priority}",
                    r.name.as_deref().unwrap_or("-")
                )));
            }
            if action == "BLOCK" && block_response.is_none() {
                return Err(ChangeError::Refused(
                    "a BLOCK rule needs --block-response".into(),
                ));
            }
            g.rules.push(DnsFirewallRule {
                name: Some(name.clone()),
                priority: *priority,
                action: action.clone(),
                block_response: block_response.clone(),
                block_override_domain: None,
                block_override_ttl: None,
                firewall_domain_list_id: list.clone(),
                redirection_action: None,
                qtype: None,
            });
        }
        Change::UpdateFirewallConfig { vpc, fail_open } => {
            if !snap.vpcs.iter().any(|v| &v.id == vpc) {
                return Err(nf(vpc));
            }
            let dns = &mut snap.dns;
            dns.firewall_configs.retain(|c| &c.resource_id != vpc);
            dns.firewall_configs.push(DnsFirewallConfig {
                resource_id: vpc.clone(),
                firewall_fail_open: fail_open.clone(),
            });
        }
        Change::ModifySubnetDns64 { subnet, enabled } => {
            let s = snap
                .subnets
                .iter_mut()
                .find(|s| &s.id == subnet)
                .ok_or_else(|| nf(subnet))?;
            // DNS64 synthesises AAAA answers: a subnet without IPv6 cannot use it (R63).
            if *enabled && s.ipv6_cidr_blocks.is_empty() && !s.ipv6_native {
                return Err(ChangeError::Refused(format!(
                    "{subnet} has no IPv6 CIDR block: DNS64 needs one"
                )));
            }
            s.enable_dns64 = Some(*enabled);
        }
        _ => {}
    }
    Ok(())
}

/// `aws route53 …`, `aws route53resolver …`, `aws route53profiles …`: the DNS changes.
/// `created` is the variable a `VAR=$(…)` capture names.
pub(super) fn parse(
    service: &str,
    a: &Args<'_>,
    created: Option<String>,
) -> Result<Change, ChangeError> {
    let verb = a.verb;
    Ok(match (service, verb) {
        ("route53", "change-resource-record-sets") => parse_record(a)?,
        ("route53", "disassociate-vpc-from-hosted-zone") => {
            let zone = hosted_zone(&a.need("--hosted-zone-id")?);
            let v = a.need("--vpc")?;
            let field = |k: &str| {
                v.split(',')
                    .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                    .map(str::to_string)
            };
            match (field("VPCRegion"), field("VPCId")) {
                (Some(region), Some(vpc)) => {
                    Change::DisassociateVpcFromHostedZone { zone, vpc, region }
                }
                _ => return Err(a.bad("--vpc takes VPCRegion=REGION,VPCId=VPC")),
            }
        }
        ("route53profiles", "disassociate-resource-from-profile") => {
            let arn = a.need("--resource-arn")?;
            let Some(zone) = arn.strip_prefix("arn:aws:route53:::hostedzone/") else {
                return Err(a.bad(
                    "only private hosted zones (arn:aws:route53:::hostedzone/ID) are simulated",
                ));
            };
            Change::DisassociateZoneFromProfile {
                profile: a.need("--profile-id")?,
                zone: zone.to_string(),
            }
        }
        ("route53resolver", "update-firewall-domains") => {
            let operation = a.need("--operation")?.to_ascii_uppercase();
            if !matches!(operation.as_str(), "ADD" | "REMOVE" | "REPLACE") {
                return Err(a.bad("--operation is ADD, REMOVE or REPLACE"));
            }
            let domains = a.list("--domains");
            if domains.is_empty() {
                return Err(a.bad("--domains is missing"));
            }
            Change::UpdateFirewallDomains {
                list: a.need("--firewall-domain-list-id")?,
                operation,
                domains,
            }
        }
        ("route53resolver", "create-firewall-domain-list") => Change::CreateFirewallDomainList {
            name: a.need("--name")?,
            list: created.unwrap_or_else(|| "rslvr-fdl-new".into()),
        },
        ("route53resolver", "create-firewall-rule") => {
            let action = a.need("--action")?.to_ascii_uppercase();
            if !matches!(action.as_str(), "ALLOW" | "BLOCK" | "ALERT") {
                return Err(a.bad("--action is ALLOW, BLOCK or ALERT"));
            }
            let block_response = a.get("--block-response").map(|r| r.to_ascii_uppercase());
            if block_response.as_deref() == Some("OVERRIDE") {
                return Err(a.bad("OVERRIDE block responses are not simulated"));
            }
            Change::CreateFirewallRule {
                group: a.need("--firewall-rule-group-id")?,
                list: a.need("--firewall-domain-list-id")?,
                priority: a
                    .need("--priority")?
                    .parse()
                    .map_err(|_| a.bad("--priority is not a number"))?,
                action,
                block_response,
                name: a.need("--name")?,
            }
        }
        ("route53resolver", "update-firewall-config") => {
            let fail_open = a.need("--firewall-fail-open")?.to_ascii_uppercase();
            if !matches!(
                fail_open.as_str(),
                "ENABLED" | "DISABLED" | "USE_LOCAL_RESOURCE_SETTING"
            ) {
                return Err(a.bad(
                    "--firewall-fail-open is ENABLED, DISABLED or USE_LOCAL_RESOURCE_SETTING",
                ));
            }
            Change::UpdateFirewallConfig {
                vpc: a.need("--resource-id")?,
                fail_open,
            }
        }
        _ => {
            return Err(ChangeError::Parse(format!(
                "`aws {service} {verb}` is not a change that can be simulated; known DNS changes: {}",
                DNS_CLI_VERBS.join(", ")
            )));
        }
    })
}

/// `aws ec2 modify-subnet-attribute --subnet-id S --[no-]enable-dns64` (R63); the other
/// subnet attributes do not change a path.
pub(super) fn modify_subnet_attribute(a: &Args<'_>) -> Result<Change, ChangeError> {
    let subnet = a.need("--subnet-id")?;
    let enabled = match (a.has("--enable-dns64"), a.has("--no-enable-dns64")) {
        (true, false) => match a.get("--enable-dns64") {
            // `--enable-dns64 "{\"Value\":false}"` is not the CLI's form; refuse it.
            Some(v) => return Err(a.bad(&format!("--enable-dns64 takes no value ({v})"))),
            None => true,
        },
        (false, true) => false,
        _ => {
            return Err(a.bad("only --enable-dns64 or --no-enable-dns64 is simulated"));
        }
    };
    Ok(Change::ModifySubnetDns64 { subnet, enabled })
}

/// `/hostedzone/Z1` → `Z1`.
fn hosted_zone(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_string()
}

/// One UPSERT of one record set with plain values (`--change-batch '{…}'`).
fn parse_record(a: &Args<'_>) -> Result<Change, ChangeError> {
    let zone = hosted_zone(&a.need("--hosted-zone-id")?);
    let batch = a.need("--change-batch")?;
    if batch.starts_with("file://") {
        return Err(a.bad("give --change-batch inline ('{\"Changes\":[…]}'), not as a file"));
    }
    let v: serde_json::Value = serde_json::from_str(&batch)
        .map_err(|e| a.bad(&format!("--change-batch is not JSON: {e}")))?;
    let changes = v["Changes"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let [one] = changes else {
        return Err(a.bad("--change-batch must hold exactly one change"));
    };
    if one["Action"].as_str() != Some("UPSERT") {
        return Err(a.bad("only the UPSERT action is simulated"));
    }
    let set = &one["ResourceRecordSet"];
    let text = |k: &str| set[k].as_str().map(str::to_string);
    let (Some(name), Some(record_type)) = (text("Name"), text("Type")) else {
        return Err(a.bad("ResourceRecordSet needs Name and Type"));
    };
    if !set["AliasTarget"].is_null() {
        return Err(a.bad("alias records are not simulated"));
    }
    let values: Vec<String> = set["ResourceRecords"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter_map(|r| r["Value"].as_str().map(str::to_string))
        .collect();
    if values.is_empty() {
        return Err(a.bad("ResourceRecords has no Value"));
    }
    let ttl = set["TTL"]
        .as_u64()
        .and_then(|t| u32::try_from(t).ok())
        .ok_or_else(|| a.bad("TTL is missing"))?;
    Ok(Change::UpsertDnsRecord {
        zone,
        name,
        record_type,
        ttl,
        values,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{DnsConfig, DnsFirewallRuleGroup, PrivateHostedZone, Subnet, Vpc};

    fn all() -> Vec<Change> {
        vec![
            Change::UpsertDnsRecord {
                zone: "Z0EXAMPLE".into(),
                name: "www.example.com.".into(),
                record_type: "A".into(),
                ttl: 300,
                values: vec!["192.0.2.80".into(), "192.0.2.81".into()],
            },
            Change::DisassociateVpcFromHostedZone {
                zone: "Z0EXAMPLE".into(),
                vpc: "vpc-1".into(),
                region: "us-east-1".into(),
            },
            Change::DisassociateZoneFromProfile {
                profile: "rp-1".into(),
                zone: "Z0EXAMPLE".into(),
            },
            Change::UpdateFirewallDomains {
                list: "rslvr-fdl-malware".into(),
                operation: "REMOVE".into(),
                domains: vec!["*.malware.test".into(), "malware.test".into()],
            },
            Change::CreateFirewallDomainList {
                name: "allow-c2-malware-test".into(),
                list: "rslvr-fdl-new".into(),
            },
            Change::UpdateFirewallDomains {
                list: "rslvr-fdl-new".into(),
                operation: "ADD".into(),
                domains: vec!["c2.malware.test".into()],
            },
            Change::CreateFirewallRule {
                group: "rslvr-frg-1".into(),
                list: "rslvr-fdl-new".into(),
                priority: 9,
                action: "ALLOW".into(),
                block_response: None,
                name: "allow-c2-malware-test".into(),
            },
            Change::CreateFirewallRule {
                group: "rslvr-frg-1".into(),
                list: "rslvr-fdl-1".into(),
                priority: 20,
                action: "BLOCK".into(),
                block_response: Some("NXDOMAIN".into()),
                name: "block".into(),
            },
            Change::UpdateFirewallConfig {
                vpc: "vpc-1".into(),
                fail_open: "ENABLED".into(),
            },
            Change::ModifySubnetDns64 {
                subnet: "subnet-1".into(),
                enabled: true,
            },
            Change::ModifySubnetDns64 {
                subnet: "subnet-1".into(),
                enabled: false,
            },
        ]
    }

    /// Every DNS change renders to one command line that parses back to it, and to JSON
    /// that reads back to it (the two forms `--what-if` accepts).
    #[test]
    fn every_dns_change_round_trips_through_its_command_line_and_json() {
        for c in all() {
            let line = c.cli();
            assert_eq!(Change::parse_cli(&line).as_ref(), Ok(&c), "{line}");
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<Change>(&json).unwrap(), c, "{json}");
        }
        let lines: Vec<String> = all().iter().map(Change::cli).collect();
        assert_eq!(
            lines[1],
            "aws route53 disassociate-vpc-from-hosted-zone --hosted-zone-id Z0EXAMPLE --vpc VPCRegion=us-east-1,VPCId=vpc-1"
        );
        // A wildcard is quoted for the shell; a created list is captured and reused.
        assert!(lines[3].ends_with("--operation REMOVE --domains '*.malware.test' malware.test"));
        assert_eq!(
            lines[4],
            "RSLVR_FDL_NEW=$(aws route53resolver create-firewall-domain-list --name allow-c2-malware-test --query FirewallDomainList.Id --output text)"
        );
        assert!(
            lines[6].contains(
                "--firewall-domain-list-id \"$RSLVR_FDL_NEW\" --priority 9 --action ALLOW"
            )
        );
        assert_eq!(
            lines[8],
            "aws route53resolver update-firewall-config --resource-id vpc-1 --firewall-fail-open ENABLED"
        );
        assert_eq!(
            lines[9],
            "aws ec2 modify-subnet-attribute --subnet-id subnet-1 --enable-dns64"
        );
    }

    /// The operator's own spellings of the same commands.
    #[test]
    fn operator_dns_command_lines_parse() {
        assert_eq!(
            Change::parse_cli("aws route53 disassociate-vpc-from-hosted-zone --hosted-zone-id /hostedzone/Z1 --vpc VPCId=vpc-1,VPCRegion=eu-west-1").unwrap(),
            Change::DisassociateVpcFromHostedZone {
                zone: "Z1".into(),
                vpc: "vpc-1".into(),
                region: "eu-west-1".into()
            }
        );
        assert_eq!(
            Change::parse_cli("aws route53resolver update-firewall-config --resource-id vpc-1 --firewall-fail-open enabled").unwrap(),
            Change::UpdateFirewallConfig {
                vpc: "vpc-1".into(),
                fail_open: "ENABLED".into()
            }
        );
        let bad = [
            (
                "aws route53 delete-hosted-zone --id Z1",
                "not a change that can be simulated",
            ),
            (
                "aws route53 change-resource-record-sets --hosted-zone-id Z1 --change-batch file://b.json",
                "inline",
            ),
            (
                "aws route53 change-resource-record-sets --hosted-zone-id Z1 --change-batch '{\"Changes\":[{\"Action\":\"DELETE\",\"ResourceRecordSet\":{\"Name\":\"a.\",\"Type\":\"A\",\"TTL\":1,\"ResourceRecords\":[{\"Value\":\"192.0.2.1\"}]}}]}'",
                "only the UPSERT",
            ),
            (
                "aws route53 disassociate-vpc-from-hosted-zone --hosted-zone-id Z1 --vpc VPCId=vpc-1",
                "VPCRegion=REGION,VPCId=VPC",
            ),
            (
                "aws route53resolver update-firewall-domains --firewall-domain-list-id l --operation DROP --domains a.test",
                "ADD, REMOVE or REPLACE",
            ),
            (
                "aws route53resolver update-firewall-config --resource-id vpc-1 --firewall-fail-open MAYBE",
                "--firewall-fail-open is",
            ),
            (
                "aws ec2 modify-subnet-attribute --subnet-id subnet-1 --map-public-ip-on-launch",
                "--enable-dns64",
            ),
        ];
        for (line, why) in bad {
            match Change::parse_cli(line) {
                Err(e) => assert!(e.to_string().contains(why), "{line}: {e}"),
                Ok(c) => panic!("{line} parsed as {c:?}"),
            }
        }
    }

    fn snap() -> NetworkSnapshot {
        let dns: DnsConfig = serde_json::from_value(serde_json::json!({
            "read": true,
            "private_zones": [
                {"id": "Z1", "name": "example.com.", "vpc_ids": ["vpc-1"], "owner": "123456789012", "records": []},
                {"id": "Z2", "name": "svc.local.", "vpc_ids": ["vpc-1"], "owner": "servicediscovery.amazonaws.com"}
            ],
            "firewall_rule_groups": [{"id": "rslvr-frg-1", "rules": [
                {"name": "block", "priority": 1, "action": "BLOCK", "block_response": "NXDOMAIN", "firewall_domain_list_id": "rslvr-fdl-1"}
            ]}],
            "domain_lists": [
                {"id": "rslvr-fdl-1", "domains": ["*.malware.test"]},
                {"id": "rslvr-fdl-aws", "domains": [], "domains_read": false, "managed_owner_name": "Route 53 Resolver DNS Firewall"}
            ]
        }))
        .unwrap();
        NetworkSnapshot {
            vpcs: vec![Vpc {
                id: "vpc-1".into(),
                cidr_blocks: vec!["10.0.0.0/16".parse().unwrap()],
                ipv6_cidr_blocks: vec![],
                enable_dns_support: Some(true),
                enable_dns_hostnames: Some(true),
                dhcp_options_id: None,
                block_public_access_mode: None,
                is_default: false,
                owner_id: None,
            }],
            subnets: vec![Subnet {
                id: "subnet-v4".into(),
                vpc_id: "vpc-1".into(),
                availability_zone: "us-east-1a".into(),
                availability_zone_id: None,
                cidr_block: Some("10.0.1.0/24".parse().unwrap()),
                ipv6_cidr_blocks: vec![],
                available_ip_address_count: None,
                map_public_ip_on_launch: false,
                block_public_access_mode: None,
                name: None,
                enable_dns64: None,
                ipv6_native: false,
            }],
            dns,
            ..Default::default()
        }
    }

    /// What Route 53, Resolver and EC2 refuse, the simulation refuses (R60-R63).
    #[test]
    fn dns_changes_apply_as_aws_would() {
        let mut s = snap();
        let upsert = all().remove(0);
        assert!(matches!(
            upsert.apply(&mut s),
            Err(ChangeError::NotFound(_))
        ));
        let rec = Change::UpsertDnsRecord {
            zone: "Z1".into(),
            name: "www.example.com.".into(),
            record_type: "a".into(),
            ttl: 60,
            values: vec!["192.0.2.80".into()],
        };
        rec.apply(&mut s).unwrap();
        rec.apply(&mut s).unwrap();
        let records = s.dns.private_zones[0].records.as_ref().unwrap();
        assert_eq!(records.len(), 1, "UPSERT replaces: {records:?}");
        let outside = Change::UpsertDnsRecord {
            zone: "Z1".into(),
            name: "www.example.org.".into(),
            record_type: "A".into(),
            ttl: 60,
            values: vec!["192.0.2.80".into()],
        };
        assert!(
            outside
                .apply(&mut s)
                .unwrap_err()
                .to_string()
                .contains("not in zone Z1")
        );
        // A zone a service owns cannot be disassociated by the VPC's owner.
        let svc = Change::DisassociateVpcFromHostedZone {
            zone: "Z2".into(),
            vpc: "vpc-1".into(),
            region: "us-east-1".into(),
        };
        assert!(
            svc.apply(&mut s)
                .unwrap_err()
                .to_string()
                .contains("owned by the service")
        );
        let dis = Change::DisassociateVpcFromHostedZone {
            zone: "Z1".into(),
            vpc: "vpc-1".into(),
            region: "us-east-1".into(),
        };
        dis.apply(&mut s).unwrap();
        assert!(s.dns.private_zones[0].vpc_ids.is_empty());
        assert!(
            dis.apply(&mut s)
                .unwrap_err()
                .to_string()
                .contains("VPCAssociationNotFound")
        );
        // Managed lists cannot be edited; an entry not in the list cannot be removed.
        let managed = Change::UpdateFirewallDomains {
            list: "rslvr-fdl-aws".into(),
            operation: "REMOVE".into(),
            domains: vec!["x.test".into()],
        };
        assert!(
            managed
                .apply(&mut s)
                .unwrap_err()
                .to_string()
                .contains("managed")
        );
        let missing = Change::UpdateFirewallDomains {
            list: "rslvr-fdl-1".into(),
            operation: "REMOVE".into(),
            domains: vec!["x.test".into()],
        };
        assert!(matches!(
            missing.apply(&mut s),
            Err(ChangeError::NotFound(_))
        ));
        // R61: a rule priority is unique within its group.
        let taken = Change::CreateFirewallRule {
            group: "rslvr-frg-1".into(),
            list: "rslvr-fdl-1".into(),
            priority: 1,
            action: "ALLOW".into(),
            block_response: None,
            name: "allow".into(),
        };
        assert!(
            taken
                .apply(&mut s)
                .unwrap_err()
                .to_string()
                .contains("priority 1")
        );
        let g: &DnsFirewallRuleGroup = &s.dns.firewall_rule_groups[0];
        assert_eq!(g.rules.len(), 1);
        // The fail mode is set per VPC, replacing what was there.
        for mode in ["DISABLED", "ENABLED"] {
            Change::UpdateFirewallConfig {
                vpc: "vpc-1".into(),
                fail_open: mode.into(),
            }
            .apply(&mut s)
            .unwrap();
        }
        assert_eq!(s.dns.firewall_configs.len(), 1);
        assert_eq!(s.dns.firewall_configs[0].firewall_fail_open, "ENABLED");
        // R63: DNS64 needs IPv6 on the subnet.
        let dns64 = Change::ModifySubnetDns64 {
            subnet: "subnet-v4".into(),
            enabled: true,
        };
        assert!(
            dns64
                .apply(&mut s)
                .unwrap_err()
                .to_string()
                .contains("no IPv6")
        );
        // A zone's records that were never read stay unread (nothing is invented).
        let mut unread = snap();
        unread.dns.private_zones.push(PrivateHostedZone {
            id: "Z3".into(),
            name: "corp.test.".into(),
            vpc_ids: vec!["vpc-1".into()],
            owner: None,
            via_profile: None,
            records: None,
        });
        Change::UpsertDnsRecord {
            zone: "Z3".into(),
            name: "a.corp.test.".into(),
            record_type: "A".into(),
            ttl: 60,
            values: vec!["192.0.2.1".into()],
        }
        .apply(&mut unread)
        .unwrap();
        assert!(unread.dns.private_zones[2].records.is_none());
    }
}
