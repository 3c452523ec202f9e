//! The VPC's DNS path as plain data (fact sheet part 2, R58-R63): Route 53 Resolver rules
//! and their associations, outbound endpoints with their ENIs, private hosted zones
//! associated with the VPC, DNS Firewall rule groups, domain lists and the fail mode, and
//! Route 53 Profile associations. The snapshot reader (`crate::snapshot::dns`) fills it;
//! the diagnosis engine reads it. Every field defaults when absent, so snapshot files
//! written before this section existed still load (with `dns.read = false`).

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Everything about the DNS path of the snapshot's VPCs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsConfig {
    /// True once the reader tried to read this section. A snapshot without it (an older
    /// file, a reader that skipped it) says nothing about rules, zones or DNS Firewall: the
    /// engine then does not claim the name resolves normally (R62).
    #[serde(default)]
    pub read: bool,
    /// Resolver rule associations of the VPCs (`ListResolverRuleAssociations`), R58.
    #[serde(default)]
    pub rule_associations: Vec<ResolverRuleAssociation>,
    /// The rules those associations name (`ListResolverRules` / `GetResolverRule`), R58.
    #[serde(default)]
    pub rules: Vec<ResolverRule>,
    /// Resolver endpoints the forward rules use, with their IP addresses (R59).
    #[serde(default)]
    pub endpoints: Vec<ResolverEndpoint>,
    /// Private hosted zones associated with the VPCs (`ListHostedZonesByVPC`), R60.
    #[serde(default)]
    pub private_zones: Vec<PrivateHostedZone>,
    /// DNS Firewall rule group associations of the VPCs, R61.
    #[serde(default)]
    pub firewall_associations: Vec<DnsFirewallAssociation>,
    /// The rule groups those associations name, with their rules (`ListFirewallRules`).
    #[serde(default)]
    pub firewall_rule_groups: Vec<DnsFirewallRuleGroup>,
    /// Domain lists the rules reference (`ListFirewallDomains`).
    #[serde(default)]
    pub domain_lists: Vec<DnsFirewallDomainList>,
    /// Per-VPC DNS Firewall configuration (`GetFirewallConfig`): the fail mode.
    #[serde(default)]
    pub firewall_configs: Vec<DnsFirewallConfig>,
    /// Route 53 Profile associations of the VPCs and their resources, R62.
    #[serde(default)]
    pub profile_associations: Vec<ProfileAssociation>,
    /// VPCs known to be associated with *no* DHCP options (R25): no DNS server is handed
    /// out, Amazon's or any other. Set by `associate-dhcp-options --dhcp-options-id
    /// default` (the simulation and `--what-if`), and by the snapshot reader when
    /// DescribeVpcs says `DhcpOptionsId: default` (AWS associates the Region's
    /// AmazonProvidedDNS set, a `dopt-…`, with every new VPC; the tests' moto is patched to
    /// do the same). A hand-written snapshot with `default` and no entry here is read as
    /// AmazonProvidedDNS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub no_dhcp_options: Vec<String>,
}

impl DnsConfig {
    pub fn rule(&self, id: &str) -> Option<&ResolverRule> {
        self.rules.iter().find(|r| r.id == id)
    }
    pub fn endpoint(&self, id: &str) -> Option<&ResolverEndpoint> {
        self.endpoints.iter().find(|e| e.id == id)
    }
    pub fn firewall_rule_group(&self, id: &str) -> Option<&DnsFirewallRuleGroup> {
        self.firewall_rule_groups.iter().find(|g| g.id == id)
    }
    pub fn domain_list(&self, id: &str) -> Option<&DnsFirewallDomainList> {
        self.domain_lists.iter().find(|d| d.id == id)
    }
    pub fn firewall_config(&self, vpc_id: &str) -> Option<&DnsFirewallConfig> {
        self.firewall_configs
            .iter()
            .find(|c| c.resource_id == vpc_id)
    }
}

/// `ResolverRuleAssociation` (R58).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolverRuleAssociation {
    pub id: String,
    pub resolver_rule_id: String,
    pub vpc_id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `CREATING | COMPLETE | DELETING | FAILED | OVERRIDDEN`; open set.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub status_message: Option<String>,
}

/// `ResolverRule` (R58, R59).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolverRule {
    pub id: String,
    /// `example.com.` as AWS writes it; `.` for the Internet Resolver rule.
    pub domain_name: String,
    /// `FORWARD | SYSTEM | RECURSIVE`; open set.
    pub rule_type: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub target_ips: Vec<ResolverTarget>,
    /// The outbound endpoint a FORWARD rule sends queries through.
    #[serde(default)]
    pub resolver_endpoint_id: Option<String>,
    #[serde(default)]
    pub owner_id: Option<String>,
    /// `NOT_SHARED | SHARED_WITH_ME | SHARED_BY_ME`.
    #[serde(default)]
    pub share_status: Option<String>,
}

/// One `TargetAddress` of a forward rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolverTarget {
    pub ip: IpAddr,
    #[serde(default = "dns_port")]
    pub port: u16,
    /// `Do53 | DoH | DoH-FIPS`; absent means Do53.
    #[serde(default)]
    pub protocol: Option<String>,
}

fn dns_port() -> u16 {
    53
}

/// `ResolverEndpoint` with its IP addresses (`ListResolverEndpointIpAddresses`), R59.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolverEndpoint {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `INBOUND | OUTBOUND | INBOUND_DELEGATION`.
    pub direction: String,
    /// `CREATING | OPERATIONAL | UPDATING | AUTO_RECOVERING | ACTION_NEEDED | DELETING`.
    pub status: String,
    #[serde(default)]
    pub status_message: Option<String>,
    pub host_vpc_id: String,
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    /// The endpoint's ENIs, one per address; empty when the addresses were not read.
    #[serde(default)]
    pub ip_addresses: Vec<ResolverEndpointIp>,
    /// True when `ListResolverEndpointIpAddresses` answered.
    #[serde(default)]
    pub ip_addresses_read: bool,
}

/// `IpAddressResponse`: one ENI of a Resolver endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolverEndpointIp {
    #[serde(default)]
    pub ip_id: Option<String>,
    pub subnet_id: String,
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    #[serde(default)]
    pub ipv6: Option<Ipv6Addr>,
    /// `ATTACHED`, `CREATING`, `FAILED_CREATION`, …; open set.
    #[serde(default)]
    pub status: Option<String>,
}

/// A private hosted zone associated with a VPC (R60).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivateHostedZone {
    /// `Z0123…` (without `/hostedzone/`).
    pub id: String,
    /// `example.com.`
    pub name: String,
    /// VPCs of the snapshot the zone is associated with.
    #[serde(default)]
    pub vpc_ids: Vec<String>,
    /// Owning account or service (`OwningAccount | OwningService`).
    #[serde(default)]
    pub owner: Option<String>,
    /// The Route 53 Profile the zone came through (R62), when it did.
    #[serde(default)]
    pub via_profile: Option<String>,
    /// Record sets read for the names checked; `None` when none were read (the engine
    /// then says what the zone decides, not which record answers).
    #[serde(default)]
    pub records: Option<Vec<DnsRecord>>,
}

/// One record set of a private hosted zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsRecord {
    /// `api.example.com.` (wildcards as `*.example.com.`).
    pub name: String,
    /// `A`, `AAAA`, `CNAME`, …
    pub record_type: String,
    #[serde(default)]
    pub values: Vec<String>,
    /// Alias target DNS name, for alias records.
    #[serde(default)]
    pub alias_target: Option<String>,
}

/// `FirewallRuleGroupAssociation` (R61).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsFirewallAssociation {
    pub id: String,
    pub firewall_rule_group_id: String,
    pub vpc_id: String,
    /// Lowest is evaluated first.
    pub priority: i32,
    #[serde(default)]
    pub name: Option<String>,
    /// `COMPLETE | DELETING | UPDATING`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub managed_owner_name: Option<String>,
    /// The Route 53 Profile it came through (R62).
    #[serde(default)]
    pub via_profile: Option<String>,
}

/// A DNS Firewall rule group and its rules (`ListFirewallRules`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsFirewallRuleGroup {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub rules: Vec<DnsFirewallRule>,
    /// False when `ListFirewallRules` failed: the group's verdict is unknown.
    #[serde(default = "yes")]
    pub rules_read: bool,
}

fn yes() -> bool {
    true
}

/// `FirewallRule` (R61).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsFirewallRule {
    #[serde(default)]
    pub name: Option<String>,
    pub priority: i32,
    /// `ALLOW | BLOCK | ALERT`.
    pub action: String,
    /// `NODATA | NXDOMAIN | OVERRIDE` for BLOCK.
    #[serde(default)]
    pub block_response: Option<String>,
    #[serde(default)]
    pub block_override_domain: Option<String>,
    #[serde(default)]
    pub block_override_ttl: Option<i32>,
    pub firewall_domain_list_id: String,
    /// `INSPECT_REDIRECTION_DOMAIN` (default) or `TRUST_REDIRECTION_DOMAIN`.
    #[serde(default)]
    pub redirection_action: Option<String>,
    /// The query type the rule is limited to (`A`, `AAAA`, …); `None` = every type.
    #[serde(default)]
    pub qtype: Option<String>,
}

/// A domain list (`ListFirewallDomains`). Managed lists cannot be listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsFirewallDomainList {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `example.com`, `*.example.com`, `*`.
    #[serde(default)]
    pub domains: Vec<String>,
    /// False when the domains could not be read (a managed list, a denied call).
    #[serde(default = "yes")]
    pub domains_read: bool,
    #[serde(default)]
    pub managed_owner_name: Option<String>,
}

/// `FirewallConfig` of a VPC: the fail mode (R61).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsFirewallConfig {
    /// The VPC ID.
    pub resource_id: String,
    /// `ENABLED | DISABLED | USE_LOCAL_RESOURCE_SETTING`.
    pub firewall_fail_open: String,
}

/// A Route 53 Profile associated with a VPC and the resources it carries (R62).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileAssociation {
    pub id: String,
    pub profile_id: String,
    pub vpc_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub resources: Vec<ProfileResource>,
    /// False when `ListProfileResourceAssociations` failed.
    #[serde(default)]
    pub resources_read: bool,
}

/// One resource of a Profile (`ProfileResourceAssociation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileResource {
    pub resource_arn: String,
    /// `AWS::Route53::HostedZone`, `AWS::Route53Resolver::ResolverRule`,
    /// `AWS::Route53Resolver::FirewallRuleGroup`, …
    pub resource_type: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `{"priority":102}` for rule groups.
    #[serde(default)]
    pub resource_properties: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// A DNS name in the form the engine compares: lower case, no trailing dot.
pub fn normalise_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_section_loads_and_says_it_was_not_read() {
        let c: DnsConfig = serde_json::from_str("{}").unwrap();
        assert!(!c.read);
        assert!(c.rules.is_empty());
    }

    #[test]
    fn defaults_fill_what_older_writers_left_out() {
        let g: DnsFirewallRuleGroup = serde_json::from_str(r#"{"id":"rslvr-frg-1"}"#).unwrap();
        assert!(g.rules_read);
        let t: ResolverTarget = serde_json::from_str(r#"{"ip":"192.0.2.53"}"#).unwrap();
        assert_eq!(t.port, 53);
        assert_eq!(normalise_name(" Example.COM. "), "example.com");
    }
}
