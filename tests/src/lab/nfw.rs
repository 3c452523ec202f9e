//! AWS Network Firewall in the lab: the firewalls, policies and rule groups of a scenario,
//! held once and used twice — the lab's enforcers apply them to real packets
//! ([`NfwData::enforcer_view`], `lab-services firewall`), and the API front answers the
//! product's Network Firewall calls from them ([`NfwStore::handle`]): awsJson1_0,
//! `X-Amz-Target: NetworkFirewall_20201112.ListFirewalls | DescribeFirewall |
//! DescribeFirewallPolicy | DescribeRuleGroup`, in the real API's JSON shapes. moto has no
//! firewall policies or rule groups (moto-notes §5), so the stand-in answers all four.
//!
//! Policies and rule groups are kept as the API's own JSON (`FirewallPolicy`, `RuleGroup`
//! members), so what the product reads is byte for byte what the enforcer enforces.

use serde_json::{Value, json};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The account and region of every ARN (moto's).
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
/// The `X-Amz-Target` prefix of the Network Firewall API.
pub const TARGET_PREFIX: &str = "NetworkFirewall_20201112.";

/// One firewall endpoint (`SyncStates[az].Attachment`, R47).
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSpec {
    pub availability_zone: String,
    pub subnet_id: String,
    /// `vpce-…` (a Gateway Load Balancer endpoint created in moto).
    pub endpoint_id: String,
    /// `READY` unless a scenario says otherwise.
    pub status: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FirewallSpec {
    pub name: String,
    pub vpc_id: String,
    pub policy_name: String,
    pub endpoints: Vec<EndpointSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PolicySpec {
    pub name: String,
    /// The `FirewallPolicy` member of `DescribeFirewallPolicy`.
    pub policy: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroupSpec {
    pub name: String,
    /// `STATEFUL` or `STATELESS`.
    pub rule_type: String,
    /// The `RuleGroup` member of `DescribeRuleGroup`.
    pub rule_group: Value,
}

/// Everything the stand-in serves and the enforcers apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NfwData {
    pub firewalls: Vec<FirewallSpec>,
    pub policies: Vec<PolicySpec>,
    pub rule_groups: Vec<RuleGroupSpec>,
}

pub fn firewall_arn(name: &str) -> String {
    format!("arn:aws:network-firewall:{REGION}:{ACCOUNT}:firewall/{name}")
}
pub fn policy_arn(name: &str) -> String {
    format!("arn:aws:network-firewall:{REGION}:{ACCOUNT}:firewall-policy/{name}")
}
pub fn rule_group_arn(name: &str, rule_type: &str) -> String {
    let kind = if rule_type.eq_ignore_ascii_case("STATELESS") {
        "stateless-rulegroup"
    } else {
        "stateful-rulegroup"
    };
    format!("arn:aws:network-firewall:{REGION}:{ACCOUNT}:{kind}/{name}")
}

fn token(name: &str) -> String {
    // A stable, UUID-shaped update token per resource.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xffff,
        (h >> 48) & 0xffff,
        h & 0xffff_ffff_ffff
    )
}

impl NfwData {
    pub fn firewall(&self, name_or_arn: &str) -> Option<&FirewallSpec> {
        self.firewalls
            .iter()
            .find(|f| f.name == name_or_arn || firewall_arn(&f.name) == name_or_arn)
    }
    pub fn policy(&self, name_or_arn: &str) -> Option<&PolicySpec> {
        self.policies
            .iter()
            .find(|p| p.name == name_or_arn || policy_arn(&p.name) == name_or_arn)
    }
    pub fn rule_group(&self, name_or_arn: &str) -> Option<&RuleGroupSpec> {
        self.rule_groups
            .iter()
            .find(|g| g.name == name_or_arn || rule_group_arn(&g.name, &g.rule_type) == name_or_arn)
    }

    /// What the enforcer of endpoint `vpce` applies: the firewall's policy and the rule
    /// groups it references (the API's JSON), and the firewall VPC's CIDRs (the default
    /// HOME_NET, R52). `policy` is null when no firewall has this endpoint (a GWLB
    /// endpoint of a third-party appliance: forwarded uninspected).
    pub fn enforcer_view(&self, vpce: &str, vpc_cidrs: &[String]) -> Value {
        let fw = self
            .firewalls
            .iter()
            .find(|f| f.endpoints.iter().any(|e| e.endpoint_id == vpce));
        let Some(fw) = fw else {
            return json!({ "firewall": null, "policy": null, "rule_groups": {}, "vpc_cidrs": vpc_cidrs });
        };
        let policy = self.policy(&fw.policy_name).map(|p| p.policy.clone());
        let mut groups = serde_json::Map::new();
        if let Some(p) = &policy {
            for key in [
                "StatefulRuleGroupReferences",
                "StatelessRuleGroupReferences",
            ] {
                for r in p[key].as_array().into_iter().flatten() {
                    let Some(arn) = r["ResourceArn"].as_str() else {
                        continue;
                    };
                    if let Some(g) = self.rule_group(arn) {
                        groups.insert(
                            arn.to_string(),
                            json!({ "name": g.name, "type": g.rule_type, "rule_group": g.rule_group }),
                        );
                    }
                }
            }
        }
        json!({
            "firewall": fw.name,
            "policy": policy,
            "rule_groups": groups,
            "vpc_cidrs": vpc_cidrs,
        })
    }

    fn describe_firewall(&self, fw: &FirewallSpec) -> Value {
        let mut sync = serde_json::Map::new();
        for e in &fw.endpoints {
            sync.insert(
                e.availability_zone.clone(),
                json!({
                    "Attachment": {
                        "SubnetId": e.subnet_id,
                        "EndpointId": e.endpoint_id,
                        "Status": e.status,
                    },
                    "Config": {
                        policy_arn(&fw.policy_name): { "SyncStatus": "IN_SYNC", "UpdateToken": token(&fw.policy_name) }
                    }
                }),
            );
        }
        let ready = fw.endpoints.iter().all(|e| e.status == "READY");
        json!({
            "UpdateToken": token(&fw.name),
            "Firewall": {
                "FirewallName": fw.name,
                "FirewallArn": firewall_arn(&fw.name),
                "FirewallPolicyArn": policy_arn(&fw.policy_name),
                "VpcId": fw.vpc_id,
                "SubnetMappings": fw.endpoints.iter().map(|e| json!({"SubnetId": e.subnet_id, "IPAddressType": "IPV4"})).collect::<Vec<_>>(),
                "DeleteProtection": false,
                "SubnetChangeProtection": false,
                "FirewallPolicyChangeProtection": false,
                "FirewallId": token(&format!("fw/{}", fw.name)),
                "Tags": [],
            },
            "FirewallStatus": {
                "Status": if ready { "READY" } else { "PROVISIONING" },
                "ConfigurationSyncStateSummary": if ready { "IN_SYNC" } else { "PENDING" },
                "SyncStates": sync,
            }
        })
    }

    /// Answers one Network Firewall API call (`operation` without the target prefix):
    /// `(HTTP status, JSON body)`; errors in the API's error shape.
    pub fn answer(&self, operation: &str, body: &Value) -> (u16, Value) {
        let not_found = |what: &str| {
            (
                400,
                json!({"__type": "ResourceNotFoundException", "Message": format!("{what} not found")}),
            )
        };
        let s = |key: &str| body[key].as_str().unwrap_or_default().to_string();
        match operation {
            "ListFirewalls" => {
                let vpcs: Vec<&str> = body["VpcIds"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let list: Vec<Value> = self
                    .firewalls
                    .iter()
                    .filter(|f| vpcs.is_empty() || vpcs.contains(&f.vpc_id.as_str()))
                    .map(|f| json!({"FirewallName": f.name, "FirewallArn": firewall_arn(&f.name)}))
                    .collect();
                (200, json!({ "Firewalls": list }))
            }
            "DescribeFirewall" => {
                let key = if body["FirewallArn"].is_string() {
                    s("FirewallArn")
                } else {
                    s("FirewallName")
                };
                match self.firewall(&key) {
                    Some(fw) => (200, self.describe_firewall(fw)),
                    None => not_found(&format!("firewall {key}")),
                }
            }
            "DescribeFirewallPolicy" => {
                let key = if body["FirewallPolicyArn"].is_string() {
                    s("FirewallPolicyArn")
                } else {
                    s("FirewallPolicyName")
                };
                match self.policy(&key) {
                    Some(p) => (
                        200,
                        json!({
                            "UpdateToken": token(&p.name),
                            "FirewallPolicyResponse": {
                                "FirewallPolicyName": p.name,
                                "FirewallPolicyArn": policy_arn(&p.name),
                                "FirewallPolicyId": token(&format!("policy/{}", p.name)),
                                "FirewallPolicyStatus": "ACTIVE",
                                "NumberOfAssociations": self.firewalls.iter().filter(|f| f.policy_name == p.name).count(),
                                "Tags": [],
                            },
                            "FirewallPolicy": p.policy,
                        }),
                    ),
                    None => not_found(&format!("firewall policy {key}")),
                }
            }
            "DescribeRuleGroup" => {
                let key = if body["RuleGroupArn"].is_string() {
                    s("RuleGroupArn")
                } else {
                    s("RuleGroupName")
                };
                let wanted_type = body["Type"].as_str();
                match self
                    .rule_group(&key)
                    .filter(|g| wanted_type.is_none_or(|t| t.eq_ignore_ascii_case(&g.rule_type)))
                {
                    Some(g) => (
                        200,
                        json!({
                            "UpdateToken": token(&g.name),
                            "RuleGroup": g.rule_group,
                            "RuleGroupResponse": {
                                "RuleGroupArn": rule_group_arn(&g.name, &g.rule_type),
                                "RuleGroupName": g.name,
                                "RuleGroupId": token(&format!("rg/{}", g.name)),
                                "Type": g.rule_type,
                                "Capacity": 100,
                                "RuleGroupStatus": "ACTIVE",
                                "Tags": [],
                            },
                        }),
                    ),
                    None => not_found(&format!("rule group {key}")),
                }
            }
            other => (
                400,
                json!({
                    "__type": "InvalidRequestException",
                    "Message": format!("the lab's Network Firewall stand-in does not serve {other}"),
                }),
            ),
        }
    }
}

/// The lab's Network Firewall data, shared by the lab and the API front.
#[derive(Debug, Clone, Default)]
pub struct NfwStore(Arc<RwLock<NfwData>>);

impl NfwStore {
    pub fn read(&self) -> RwLockReadGuard<'_, NfwData> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }
    pub fn write(&self) -> RwLockWriteGuard<'_, NfwData> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }
    /// Replaces everything.
    pub fn set(&self, data: NfwData) {
        *self.write() = data;
    }
    /// One API call: `target` is the `X-Amz-Target` header, `body` the request body.
    pub fn handle(&self, target: &str, body: &[u8]) -> (u16, Value) {
        let Some(op) = target.strip_prefix(TARGET_PREFIX) else {
            return (
                400,
                json!({"__type": "UnknownOperationException", "Message": format!("unknown target {target}")}),
            );
        };
        let body: Value = if body.is_empty() {
            json!({})
        } else {
            match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => {
                    return (
                        400,
                        json!({"__type": "InvalidRequestException", "Message": format!("request body is not JSON: {e}")}),
                    );
                }
            }
        };
        self.read().answer(op, &body)
    }
}

/// A domain-list rule group (R51): `generated` is `ALLOWLIST | DENYLIST | REJECTLIST`,
/// `types` are `TLS_SNI` and/or `HTTP_HOST`; `home_net` sets the group's HOME_NET (R52).
pub fn domain_list_group(
    name: &str,
    targets: &[&str],
    types: &[&str],
    generated: &str,
    home_net: Option<&[&str]>,
) -> RuleGroupSpec {
    let mut rg = json!({
        "RulesSource": {
            "RulesSourceList": {
                "Targets": targets,
                "TargetTypes": types,
                "GeneratedRulesType": generated,
            }
        }
    });
    if let Some(h) = home_net {
        rg["RuleVariables"] = json!({ "IPSets": { "HOME_NET": { "Definition": h } } });
    }
    RuleGroupSpec {
        name: name.into(),
        rule_type: "STATEFUL".into(),
        rule_group: rg,
    }
}

/// One standard stateful rule (`StatefulRules[]`): action `PASS | DROP | REJECT | ALERT`,
/// protocol `IP | TCP | UDP | TLS | HTTP | …`, ports `ANY` or a number.
pub fn stateful_rule(
    action: &str,
    protocol: &str,
    destination: &str,
    destination_port: &str,
    sid: u32,
) -> Value {
    json!({
        "Action": action,
        "Header": {
            "Protocol": protocol,
            "Source": "ANY",
            "SourcePort": "ANY",
            "Direction": "FORWARD",
            "Destination": destination,
            "DestinationPort": destination_port,
        },
        "RuleOptions": [ { "Keyword": "sid", "Settings": [sid.to_string()] } ],
    })
}

/// A rule group of standard stateful rules.
pub fn stateful_rules_group(name: &str, rules: Vec<Value>) -> RuleGroupSpec {
    RuleGroupSpec {
        name: name.into(),
        rule_type: "STATEFUL".into(),
        rule_group: json!({ "RulesSource": { "StatefulRules": rules } }),
    }
}

/// A firewall policy: stateless default `aws:forward_to_sfe`, the given stateful groups
/// (priorities 100, 200, … under strict order), `HOME_NET` as a policy variable when given.
pub fn policy(
    name: &str,
    groups: &[&RuleGroupSpec],
    strict_order: bool,
    default_actions: &[&str],
    home_net: Option<&[&str]>,
) -> PolicySpec {
    let refs: Vec<Value> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let mut r = json!({ "ResourceArn": rule_group_arn(&g.name, &g.rule_type) });
            if strict_order {
                r["Priority"] = json!((i as i64 + 1) * 100);
            }
            r
        })
        .collect();
    let mut p = json!({
        "StatelessDefaultActions": ["aws:forward_to_sfe"],
        "StatelessFragmentDefaultActions": ["aws:forward_to_sfe"],
        "StatefulRuleGroupReferences": refs,
    });
    if strict_order {
        p["StatefulEngineOptions"] =
            json!({ "RuleOrder": "STRICT_ORDER", "StreamExceptionPolicy": "DROP" });
        p["StatefulDefaultActions"] = json!(default_actions);
    }
    if let Some(h) = home_net {
        p["PolicyVariables"] = json!({ "RuleVariables": { "HOME_NET": { "Definition": h } } });
    }
    PolicySpec {
        name: name.into(),
        policy: p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> NfwData {
        let g = domain_list_group("allow", &[".lab.example"], &["TLS_SNI"], "ALLOWLIST", None);
        let p = policy("pol", &[&g], false, &[], Some(&["10.0.0.0/8"]));
        NfwData {
            firewalls: vec![FirewallSpec {
                name: "fw".into(),
                vpc_id: "vpc-1".into(),
                policy_name: "pol".into(),
                endpoints: vec![EndpointSpec {
                    availability_zone: "us-east-1a".into(),
                    subnet_id: "subnet-1".into(),
                    endpoint_id: "vpce-1".into(),
                    status: "READY".into(),
                }],
            }],
            policies: vec![p],
            rule_groups: vec![g],
        }
    }

    #[test]
    fn api_answers_follow_the_real_shapes() {
        let d = data();
        let (code, list) = d.answer("ListFirewalls", &json!({"VpcIds": ["vpc-1"]}));
        assert_eq!(code, 200);
        assert_eq!(list["Firewalls"][0]["FirewallArn"], firewall_arn("fw"));
        let (_, none) = d.answer("ListFirewalls", &json!({"VpcIds": ["vpc-2"]}));
        assert_eq!(none["Firewalls"].as_array().map(Vec::len), Some(0));
        let (_, fw) = d.answer(
            "DescribeFirewall",
            &json!({"FirewallArn": firewall_arn("fw")}),
        );
        assert_eq!(
            fw["FirewallStatus"]["SyncStates"]["us-east-1a"]["Attachment"]["EndpointId"],
            "vpce-1"
        );
        assert_eq!(fw["Firewall"]["FirewallPolicyArn"], policy_arn("pol"));
        let (_, p) = d.answer(
            "DescribeFirewallPolicy",
            &json!({"FirewallPolicyArn": policy_arn("pol")}),
        );
        assert_eq!(
            p["FirewallPolicy"]["StatefulRuleGroupReferences"][0]["ResourceArn"],
            rule_group_arn("allow", "STATEFUL")
        );
        let (_, g) = d.answer(
            "DescribeRuleGroup",
            &json!({"RuleGroupArn": rule_group_arn("allow", "STATEFUL")}),
        );
        assert_eq!(
            g["RuleGroup"]["RulesSource"]["RulesSourceList"]["GeneratedRulesType"],
            "ALLOWLIST"
        );
        let (code, err) = d.answer("DescribeFirewall", &json!({"FirewallName": "nope"}));
        assert_eq!(
            (code, err["__type"].as_str()),
            (400, Some("ResourceNotFoundException"))
        );
    }

    #[test]
    fn the_enforcer_sees_what_the_api_serves() {
        let d = data();
        let view = d.enforcer_view("vpce-1", &["10.200.0.0/16".into()]);
        let (_, p) = d.answer(
            "DescribeFirewallPolicy",
            &json!({"FirewallPolicyName": "pol"}),
        );
        assert_eq!(view["policy"], p["FirewallPolicy"]);
        let (_, g) = d.answer(
            "DescribeRuleGroup",
            &json!({"RuleGroupName": "allow", "Type": "STATEFUL"}),
        );
        assert_eq!(
            view["rule_groups"][rule_group_arn("allow", "STATEFUL")]["rule_group"],
            g["RuleGroup"]
        );
        assert!(d.enforcer_view("vpce-other", &[])["policy"].is_null());
    }
}
