//! AWS Network Firewall as plain data (fact sheet part 2, §B: R47-R55): firewalls with their
//! per-AZ endpoints, firewall policies, and rule groups as `DescribeRuleGroup` returns them.
//! Raw Suricata rule strings are kept verbatim; the diagnosis engine evaluates the simple
//! ones and names the rest as not evaluable.

use super::snapshot::PortRange;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `DescribeFirewall`: one firewall (R47, R55).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkFirewall {
    pub name: String,
    pub arn: String,
    /// The VPC it is deployed in; `None` for a firewall attached to a transit gateway (R55).
    #[serde(default)]
    pub vpc_id: Option<String>,
    /// R55: `Firewall.TransitGatewayId`.
    #[serde(default)]
    pub transit_gateway_id: Option<String>,
    /// The account the firewall was read in.
    #[serde(default)]
    pub owner_id: Option<String>,
    pub policy_arn: String,
    /// `SubnetMappings[].SubnetId`: the subnets holding an endpoint.
    #[serde(default)]
    pub subnet_ids: Vec<String>,
    /// One endpoint per AZ (`FirewallStatus.SyncStates`).
    #[serde(default)]
    pub endpoints: Vec<FirewallEndpoint>,
    /// `FirewallStatus.Status`: `PROVISIONING | DELETING | READY`.
    #[serde(default)]
    pub status: Option<String>,
    /// `FirewallStatus.ConfigurationSyncStateSummary`: `PENDING | IN_SYNC | CAPACITY_CONSTRAINED`.
    #[serde(default)]
    pub configuration_sync: Option<String>,
}

impl NetworkFirewall {
    /// The endpoint whose ID a route names (`vpce-…`), R47.
    pub fn endpoint(&self, endpoint_id: &str) -> Option<&FirewallEndpoint> {
        self.endpoints
            .iter()
            .find(|e| e.endpoint_id.as_deref() == Some(endpoint_id))
    }
}

/// `SyncStates[az].Attachment` (R47).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirewallEndpoint {
    /// The AZ name the sync state is keyed by.
    pub availability_zone: String,
    #[serde(default)]
    pub subnet_id: Option<String>,
    /// `vpce-…`: the ID route tables point at.
    #[serde(default)]
    pub endpoint_id: Option<String>,
    /// `CREATING | DELETING | FAILED | ERROR | SCALING | READY`.
    pub status: String,
    #[serde(default)]
    pub status_message: Option<String>,
}

impl FirewallEndpoint {
    pub fn is_ready(&self) -> bool {
        self.status == "READY"
    }
}

/// `DescribeFirewallPolicy` (R49, R50, R52).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirewallPolicy {
    pub arn: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `aws:pass | aws:drop | aws:forward_to_sfe` (+ custom actions), R49.
    #[serde(default)]
    pub stateless_default_actions: Vec<String>,
    #[serde(default)]
    pub stateless_fragment_default_actions: Vec<String>,
    #[serde(default)]
    pub stateless_rule_groups: Vec<RuleGroupRef>,
    #[serde(default)]
    pub stateful_rule_groups: Vec<RuleGroupRef>,
    /// `DEFAULT_ACTION_ORDER` (default when absent) or `STRICT_ORDER` (R49).
    #[serde(default)]
    pub stateful_rule_order: Option<String>,
    /// `aws:drop_strict | aws:drop_established | aws:alert_strict | aws:alert_established`
    /// (R50, strict order only).
    #[serde(default)]
    pub stateful_default_actions: Vec<String>,
    /// `DROP | CONTINUE | REJECT` (R49, R53).
    #[serde(default)]
    pub stream_exception_policy: Option<String>,
    /// `PolicyVariables.RuleVariables.HOME_NET` (R52); `None` = the default (the firewall
    /// VPC's CIDR).
    #[serde(default)]
    pub home_net: Option<Vec<IpNet>>,
    /// Set when TLS inspection is configured (decrypting changes what SNI rules see).
    #[serde(default)]
    pub tls_inspection_configuration_arn: Option<String>,
}

impl FirewallPolicy {
    pub fn strict_order(&self) -> bool {
        self.stateful_rule_order.as_deref() == Some("STRICT_ORDER")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleGroupRef {
    pub arn: String,
    /// Stateless groups always have one; stateful groups under strict order too.
    #[serde(default)]
    pub priority: Option<i32>,
    /// `Override.Action` (`DROP_TO_ALERT`), stateful only.
    #[serde(default)]
    pub override_action: Option<String>,
}

/// `DescribeRuleGroup` (R49, R51, R52).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirewallRuleGroup {
    pub arn: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `STATELESS | STATEFUL`.
    pub rule_group_type: String,
    /// `StatefulRuleOptions.RuleOrder`.
    #[serde(default)]
    pub rule_order: Option<String>,
    /// `RuleVariables.IPSets` (e.g. `HOME_NET` → CIDRs), R52.
    #[serde(default)]
    pub ip_sets: BTreeMap<String, Vec<IpNet>>,
    /// `RuleVariables.PortSets` (e.g. `HTTP_PORTS` → `["80", "8080"]`).
    #[serde(default)]
    pub port_sets: BTreeMap<String, Vec<String>>,
    pub rules: RulesSource,
}

/// `RuleGroup.RulesSource`: exactly one of its forms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RulesSource {
    /// `RulesSourceList` (R51).
    DomainList {
        /// Exact names, or `.example.com` for the domain and all its subdomains.
        targets: Vec<String>,
        /// `TLS_SNI`, `HTTP_HOST`.
        target_types: Vec<String>,
        /// `ALLOWLIST | DENYLIST | REJECTLIST | ALERTLIST`.
        generated_rules_type: String,
    },
    /// `StatefulRules`: standard 5-tuple rules.
    StatefulRules { rules: Vec<StatefulRule> },
    /// `RulesString`: Suricata-compatible rules, verbatim.
    RulesString { rules: String },
    /// `StatelessRulesAndCustomActions`.
    Stateless { rules: Vec<StatelessRule> },
    /// A form the reader did not recognise (named, never guessed).
    Unknown { what: String },
}

/// One standard stateful rule (`StatefulRule`): `Action` and `Header`, options verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatefulRule {
    /// `PASS | DROP | REJECT | ALERT`.
    pub action: String,
    /// `IP | TCP | UDP | ICMP | HTTP | TLS | DNS | …`.
    pub protocol: String,
    /// `ANY`, a CIDR, or a variable (`$HOME_NET`).
    pub source: String,
    pub source_port: String,
    /// `FORWARD | ANY`.
    pub direction: String,
    pub destination: String,
    pub destination_port: String,
    /// `RuleOptions[]`: `keyword` with its settings (`sid`, `msg`, …).
    #[serde(default)]
    pub options: Vec<(String, Vec<String>)>,
}

/// One stateless rule (`StatelessRule`, `MatchAttributes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatelessRule {
    pub priority: i32,
    /// `aws:pass | aws:drop | aws:forward_to_sfe` plus custom action names.
    pub actions: Vec<String>,
    /// Empty = any.
    #[serde(default)]
    pub sources: Vec<IpNet>,
    #[serde(default)]
    pub destinations: Vec<IpNet>,
    #[serde(default)]
    pub source_ports: Vec<PortRange>,
    #[serde(default)]
    pub destination_ports: Vec<PortRange>,
    /// IANA protocol numbers; empty = all.
    #[serde(default)]
    pub protocols: Vec<u8>,
    /// `TCPFlags` present: the engine cannot say which packets match, named as such.
    #[serde(default)]
    pub has_tcp_flags: bool,
}
