//! The reader beyond the VPC against a scripted HTTP client: a workload VPC in account
//! 111111111111 whose default route goes to a transit gateway owned by the network account
//! 222222222222, an egress VPC there with an AWS Network Firewall (awsJson1_0 answers for
//! ListFirewalls / DescribeFirewall / DescribeFirewallPolicy / DescribeRuleGroup), the role
//! to assume there (STS), and what happens without the role, when assuming it is refused,
//! and when a call is refused after assuming it (R45). Every request is logged with the
//! access key that signed it, so the tests assert which account each call was made in.

#![allow(clippy::unwrap_used)] // test helpers: a failed setup should fail the test

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use egress_probe::model::{GapKind, NetworkSnapshot, RouteDestination, RulesSource};
use egress_probe::snapshot::{self, Clients, RunCache, Scope, call};
use std::sync::{Arc, Mutex};

const WORKLOAD: &str = "111111111111";
const NETWORK: &str = "222222222222";
const ROLE: &str = "arn:aws:iam::222222222222:role/egress-probe-network";
/// The access key of the base credentials (the workload account).
const BASE_KEY: &str = "AKIAWORKLOAD";
/// The access key STS hands out for the network role.
const ROLE_KEY: &str = "ASIANETWORK";
const FW_ARN: &str = "arn:aws:network-firewall:us-east-1:222222222222:firewall/egress-fw";
const POLICY_ARN: &str = "arn:aws:network-firewall:us-east-1:222222222222:firewall-policy/egress";
const GROUP: &str = "arn:aws:network-firewall:us-east-1:222222222222:stateful-rulegroup/";
const STATELESS: &str = "arn:aws:network-firewall:us-east-1:222222222222:stateless-rulegroup/sl";

/// One logged request.
#[derive(Debug, Clone)]
struct Request {
    action: String,
    body: String,
    key: String,
}

/// What the script answers.
enum Reply {
    /// EC2 query answer (inner XML).
    Ec2(String),
    Ec2Error(u16, &'static str),
    /// STS query answer (whole XML).
    Xml(u16, String),
    /// awsJson1_0 answer.
    Json(u16, String),
}

type Script = dyn Fn(&Request) -> Reply + Send + Sync;

#[derive(Clone)]
struct Mock {
    log: Arc<Mutex<Vec<Request>>>,
    script: Arc<Script>,
}

impl std::fmt::Debug for Mock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mock")
    }
}

fn form_value<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.split('&')
        .find_map(|kv| kv.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
}

impl Mock {
    fn new(script: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        Self {
            log: Arc::default(),
            script: Arc::new(script),
        }
    }
    fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }
    fn clear(&self) {
        self.log.lock().unwrap().clear();
    }
    fn count(&self, action: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.action == action)
            .count()
    }
    fn with_key(&self, key: &str) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.key == key)
            .map(|r| r.action)
            .collect()
    }
    fn config(&self) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                BASE_KEY, "s", None, None, "mock",
            )))
            .retry_config(RetryConfig::disabled())
            .http_client(self.clone())
            .build()
    }
    async fn clients(&self, role: Option<&str>) -> Clients {
        let config = self.config();
        let clients = Clients::new(&config);
        match role {
            Some(arn) => clients.with_network_role(&config, arn).await.unwrap(),
            None => clients,
        }
    }
}

impl HttpConnector for Mock {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let header = |name: &str| request.headers().get(name).map(str::to_string);
        let action = header("x-amz-target")
            .and_then(|t| t.rsplit('.').next().map(str::to_string))
            .or_else(|| form_value(&body, "Action").map(str::to_string))
            .unwrap_or_default();
        let key = header("authorization")
            .and_then(|a| {
                a.split("Credential=")
                    .nth(1)
                    .and_then(|c| c.split('/').next().map(str::to_string))
            })
            .unwrap_or_default();
        let req = Request { action, body, key };
        self.log.lock().unwrap().push(req.clone());
        let response = |status: u16, text: String, json: bool| {
            let mut r =
                HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(text));
            if json {
                r.headers_mut()
                    .insert("content-type", "application/x-amz-json-1.0");
            }
            r
        };
        let a = &req.action;
        let result = match (self.script)(&req) {
            Reply::Ec2(inner) => response(
                200,
                format!(
                    r#"<{a}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>{inner}</{a}Response>"#
                ),
                false,
            ),
            Reply::Ec2Error(status, code) => response(
                status,
                format!(
                    "<Response><Errors><Error><Code>{code}</Code><Message>scripted {code}</Message></Error></Errors><RequestID>r</RequestID></Response>"
                ),
                false,
            ),
            Reply::Xml(status, text) => response(status, text, false),
            Reply::Json(status, text) => response(status, text, true),
        };
        HttpConnectorFuture::ready(Ok(result))
    }
}

impl HttpClient for Mock {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

fn vpc_xml(id: &str, cidr: &str, owner: &str) -> String {
    format!(
        "<vpcSet><item><vpcId>{id}</vpcId><ownerId>{owner}</ownerId><cidrBlock>{cidr}</cidrBlock><cidrBlockAssociationSet><item><cidrBlock>{cidr}</cidrBlock><cidrBlockState><state>associated</state></cidrBlockState></item></cidrBlockAssociationSet><dhcpOptionsId>default</dhcpOptionsId><isDefault>false</isDefault></item></vpcSet>"
    )
}

fn subnet(id: &str, vpc: &str, cidr: &str, az: &str, az_id: &str) -> String {
    format!(
        "<item><subnetId>{id}</subnetId><vpcId>{vpc}</vpcId><cidrBlock>{cidr}</cidrBlock><availabilityZone>{az}</availabilityZone><availabilityZoneId>{az_id}</availabilityZoneId></item>"
    )
}

fn table(id: &str, vpc: &str, subnets: &[&str], routes: &[(&str, &str, &str)]) -> String {
    let assoc: String = subnets
        .iter()
        .map(|s| format!("<item><routeTableId>{id}</routeTableId><subnetId>{s}</subnetId><main>false</main></item>"))
        .collect();
    let routes: String = routes
        .iter()
        .map(|(dest, field, target)| {
            format!("<item><destinationCidrBlock>{dest}</destinationCidrBlock><{field}>{target}</{field}><state>active</state><origin>CreateRoute</origin></item>")
        })
        .collect();
    format!(
        "<item><routeTableId>{id}</routeTableId><vpcId>{vpc}</vpcId><associationSet>{assoc}</associationSet><routeSet>{routes}</routeSet></item>"
    )
}

fn attachment(id: &str, vpc: &str, owner: &str, table: &str) -> String {
    format!(
        "<item><transitGatewayAttachmentId>{id}</transitGatewayAttachmentId><transitGatewayId>tgw-1</transitGatewayId><transitGatewayOwnerId>{NETWORK}</transitGatewayOwnerId><resourceOwnerId>{owner}</resourceOwnerId><resourceType>vpc</resourceType><resourceId>{vpc}</resourceId><state>available</state><association><transitGatewayRouteTableId>{table}</transitGatewayRouteTableId><state>associated</state></association></item>"
    )
}

fn vpc_attachment(id: &str, vpc: &str, owner: &str, subnets: &[&str], appliance: &str) -> String {
    let subnets: String = subnets
        .iter()
        .map(|s| format!("<item>{s}</item>"))
        .collect();
    format!(
        "<item><transitGatewayAttachmentId>{id}</transitGatewayAttachmentId><transitGatewayId>tgw-1</transitGatewayId><vpcId>{vpc}</vpcId><vpcOwnerId>{owner}</vpcOwnerId><state>available</state><subnetIds>{subnets}</subnetIds><options><applianceModeSupport>{appliance}</applianceModeSupport></options></item>"
    )
}

fn tgw_route(dest: &str, kind: &str, state: &str, attachment: Option<(&str, &str)>) -> String {
    let att = attachment
        .map(|(id, vpc)| format!("<transitGatewayAttachments><item><resourceId>{vpc}</resourceId><transitGatewayAttachmentId>{id}</transitGatewayAttachmentId><resourceType>vpc</resourceType></item></transitGatewayAttachments>"))
        .unwrap_or_default();
    format!(
        "<item><destinationCidrBlock>{dest}</destinationCidrBlock>{att}<type>{kind}</type><state>{state}</state></item>"
    )
}

/// The workload VPC (and a second one, `vpc-w2`, for the cache test) in account 1111.
fn workload(req: &Request) -> Option<Reply> {
    let b = &req.body;
    let is = |vpc: &str| b.contains(vpc);
    let vpc = if is("vpc-w2") { "vpc-w2" } else { "vpc-w" };
    let (cidr, sub, sub_cidr, att) = if vpc == "vpc-w2" {
        ("10.1.0.0/16", "subnet-w2", "10.1.1.0/24", "tgw-attach-w2")
    } else {
        ("10.0.0.0/16", "subnet-w1", "10.0.1.0/24", "tgw-attach-w")
    };
    let xml = match req.action.as_str() {
        "DescribeVpcs" => vpc_xml(vpc, cidr, WORKLOAD),
        "DescribeVpcAttribute" => {
            let attr = form_value(b, "Attribute").unwrap_or_default();
            format!("<vpcId>{vpc}</vpcId><{attr}><value>true</value></{attr}>")
        }
        "DescribeSubnets" => format!(
            "<subnetSet>{}</subnetSet>",
            subnet(sub, vpc, sub_cidr, "us-east-1a", "use1-az6")
        ),
        "DescribeRouteTables" => format!(
            "<routeTableSet>{}</routeTableSet>",
            table(
                &format!("rtb-{vpc}"),
                vpc,
                &[sub],
                &[
                    (cidr, "gatewayId", "local"),
                    ("0.0.0.0/0", "transitGatewayId", "tgw-1")
                ]
            )
        ),
        "DescribeTransitGatewayAttachments" => format!(
            "<transitGatewayAttachments>{}</transitGatewayAttachments>",
            attachment(att, vpc, WORKLOAD, "tgw-rtb-spoke")
        ),
        "DescribeTransitGatewayVpcAttachments" => format!(
            "<transitGatewayVpcAttachments>{}</transitGatewayVpcAttachments>",
            vpc_attachment(att, vpc, WORKLOAD, &[sub], "disable")
        ),
        "DescribeTransitGateways" => format!(
            "<transitGatewaySet><item><transitGatewayId>tgw-1</transitGatewayId><ownerId>{NETWORK}</ownerId><state>available</state><options><associationDefaultRouteTableId>tgw-rtb-spoke</associationDefaultRouteTableId></options></item></transitGatewaySet>"
        ),
        _ => String::new(),
    };
    Some(Reply::Ec2(xml))
}

/// The network account: the TGW's tables, the egress VPC, its firewall.
fn network(req: &Request) -> Reply {
    let b = &req.body;
    let e = "vpc-e";
    let json = |v: serde_json::Value| Reply::Json(200, v.to_string());
    match req.action.as_str() {
        "SearchTransitGatewayRoutes" => {
            let routes = if b.contains("tgw-rtb-spoke") {
                [
                    tgw_route("0.0.0.0/0", "static", "active", Some(("tgw-attach-e", e))),
                    tgw_route(
                        "10.0.0.0/16",
                        "propagated",
                        "active",
                        Some(("tgw-attach-w", "vpc-w")),
                    ),
                    tgw_route(
                        "10.1.0.0/16",
                        "propagated",
                        "active",
                        Some(("tgw-attach-w2", "vpc-w2")),
                    ),
                    tgw_route("198.51.100.0/24", "static", "blackhole", None),
                ]
                .concat()
            } else {
                [
                    tgw_route(
                        "10.0.0.0/16",
                        "propagated",
                        "active",
                        Some(("tgw-attach-w", "vpc-w")),
                    ),
                    tgw_route(
                        "10.1.0.0/16",
                        "propagated",
                        "active",
                        Some(("tgw-attach-w2", "vpc-w2")),
                    ),
                ]
                .concat()
            };
            Reply::Ec2(format!(
                "<routeSet>{routes}</routeSet><additionalRoutesAvailable>false</additionalRoutesAvailable>"
            ))
        }
        "DescribeTransitGatewayAttachments" => Reply::Ec2(format!(
            "<transitGatewayAttachments>{}</transitGatewayAttachments>",
            attachment("tgw-attach-e", e, NETWORK, "tgw-rtb-egress")
        )),
        "DescribeTransitGatewayVpcAttachments" => Reply::Ec2(format!(
            "<transitGatewayVpcAttachments>{}</transitGatewayVpcAttachments>",
            vpc_attachment(
                "tgw-attach-e",
                e,
                NETWORK,
                &["subnet-e-tgw-a", "subnet-e-tgw-b"],
                "enable"
            )
        )),
        "DescribeVpcs" => Reply::Ec2(vpc_xml(e, "100.64.0.0/16", NETWORK)),
        "DescribeVpcAttribute" => {
            let attr = form_value(b, "Attribute").unwrap_or_default();
            Reply::Ec2(format!(
                "<vpcId>{e}</vpcId><{attr}><value>true</value></{attr}>"
            ))
        }
        "DescribeSubnets" => Reply::Ec2(format!(
            "<subnetSet>{}{}{}{}</subnetSet>",
            subnet(
                "subnet-e-tgw-a",
                e,
                "100.64.0.0/28",
                "us-east-1a",
                "use1-az6"
            ),
            subnet(
                "subnet-e-tgw-b",
                e,
                "100.64.0.16/28",
                "us-east-1b",
                "use1-az1"
            ),
            subnet(
                "subnet-e-fw-a",
                e,
                "100.64.1.0/28",
                "us-east-1a",
                "use1-az6"
            ),
            subnet(
                "subnet-e-nat-a",
                e,
                "100.64.2.0/24",
                "us-east-1a",
                "use1-az6"
            ),
        )),
        "DescribeRouteTables" => Reply::Ec2(format!(
            "<routeTableSet>{}{}{}</routeTableSet>",
            table(
                "rtb-e-tgw",
                e,
                &["subnet-e-tgw-a", "subnet-e-tgw-b"],
                &[("0.0.0.0/0", "gatewayId", "vpce-fw-a")]
            ),
            table(
                "rtb-e-fw",
                e,
                &["subnet-e-fw-a"],
                &[("0.0.0.0/0", "natGatewayId", "nat-e")]
            ),
            table(
                "rtb-e-nat",
                e,
                &["subnet-e-nat-a"],
                &[
                    ("0.0.0.0/0", "gatewayId", "igw-e"),
                    ("10.0.0.0/8", "transitGatewayId", "tgw-1")
                ]
            ),
        )),
        "DescribeNatGateways" => Reply::Ec2(format!(
            "<natGatewaySet><item><natGatewayId>nat-e</natGatewayId><vpcId>{e}</vpcId><subnetId>subnet-e-nat-a</subnetId><state>available</state><connectivityType>public</connectivityType></item></natGatewaySet>"
        )),
        "DescribeInternetGateways" => Reply::Ec2(format!(
            "<internetGatewaySet><item><internetGatewayId>igw-e</internetGatewayId><attachmentSet><item><vpcId>{e}</vpcId><state>available</state></item></attachmentSet></item></internetGatewaySet>"
        )),
        "ListFirewalls" => {
            let v: serde_json::Value = serde_json::from_str(b).unwrap();
            assert_eq!(
                v["VpcIds"],
                serde_json::json!([e]),
                "ListFirewalls by the egress VPC"
            );
            json(
                serde_json::json!({"Firewalls": [{"FirewallName": "egress-fw", "FirewallArn": FW_ARN}]}),
            )
        }
        "DescribeFirewall" => json(serde_json::json!({
            "UpdateToken": "t",
            "Firewall": {
                "FirewallName": "egress-fw", "FirewallArn": FW_ARN, "FirewallId": "id",
                "FirewallPolicyArn": POLICY_ARN, "VpcId": e,
                "SubnetMappings": [{"SubnetId": "subnet-e-fw-a"}, {"SubnetId": "subnet-e-fw-b"}]
            },
            "FirewallStatus": {
                "Status": "READY", "ConfigurationSyncStateSummary": "IN_SYNC",
                "SyncStates": {
                    "us-east-1b": {"Attachment": {"SubnetId": "subnet-e-fw-b", "EndpointId": "vpce-fw-b", "Status": "SCALING", "StatusMessage": "scaling"}},
                    "us-east-1a": {"Attachment": {"SubnetId": "subnet-e-fw-a", "EndpointId": "vpce-fw-a", "Status": "READY"}}
                }
            }
        })),
        "DescribeFirewallPolicy" => json(serde_json::json!({
            "UpdateToken": "t",
            "FirewallPolicyResponse": {"FirewallPolicyName": "egress", "FirewallPolicyArn": POLICY_ARN, "FirewallPolicyId": "id"},
            "FirewallPolicy": {
                "StatelessDefaultActions": ["aws:forward_to_sfe"],
                "StatelessFragmentDefaultActions": ["aws:drop"],
                "StatelessRuleGroupReferences": [{"ResourceArn": STATELESS, "Priority": 10}],
                "StatefulRuleGroupReferences": [
                    {"ResourceArn": format!("{GROUP}domains"), "Priority": 1},
                    {"ResourceArn": format!("{GROUP}suricata"), "Priority": 2, "Override": {"Action": "DROP_TO_ALERT"}},
                    {"ResourceArn": format!("{GROUP}fivetuple"), "Priority": 3}
                ],
                "StatefulDefaultActions": ["aws:drop_established"],
                "StatefulEngineOptions": {"RuleOrder": "STRICT_ORDER", "StreamExceptionPolicy": "REJECT"},
                "PolicyVariables": {"RuleVariables": {"HOME_NET": {"Definition": ["10.0.0.0/8", "100.64.0.0/16"]}}}
            }
        })),
        "DescribeRuleGroup" => {
            let v: serde_json::Value = serde_json::from_str(b).unwrap();
            let arn = v["RuleGroupArn"].as_str().unwrap().to_string();
            let name = arn.rsplit('/').next().unwrap().to_string();
            let response = |ty: &str| serde_json::json!({"RuleGroupArn": arn, "RuleGroupName": name, "RuleGroupId": "id", "Type": ty});
            let group = match name.as_str() {
                "domains" => serde_json::json!({
                    "RuleVariables": {"IPSets": {"HOME_NET": {"Definition": ["10.0.0.0/16"]}}, "PortSets": {"TLS": {"Definition": ["443"]}}},
                    "RulesSource": {"RulesSourceList": {"Targets": [".example.com", "api.example.org"], "TargetTypes": ["TLS_SNI", "HTTP_HOST"], "GeneratedRulesType": "ALLOWLIST"}},
                    "StatefulRuleOptions": {"RuleOrder": "STRICT_ORDER"}
                }),
                "suricata" => serde_json::json!({
                    "RulesSource": {"RulesString": "reject tls $HOME_NET any -> $EXTERNAL_NET any (tls.sni; content:\"blocked.example\"; sid:7;)"},
                    "StatefulRuleOptions": {"RuleOrder": "STRICT_ORDER"}
                }),
                "fivetuple" => serde_json::json!({
                    "RulesSource": {"StatefulRules": [{"Action": "DROP", "Header": {"Protocol": "TCP", "Source": "$HOME_NET", "SourcePort": "ANY", "Direction": "FORWARD", "Destination": "203.0.113.0/24", "DestinationPort": "443"}, "RuleOptions": [{"Keyword": "sid", "Settings": ["5"]}]}]}
                }),
                _ => serde_json::json!({
                    "RulesSource": {"StatelessRulesAndCustomActions": {"StatelessRules": [
                        {"Priority": 20, "RuleDefinition": {"MatchAttributes": {"Protocols": [17]}, "Actions": ["aws:drop"]}},
                        {"Priority": 5, "RuleDefinition": {"MatchAttributes": {"Sources": [{"AddressDefinition": "10.0.0.0/8"}], "DestinationPorts": [{"FromPort": 443, "ToPort": 443}], "Protocols": [6], "TCPFlags": [{"Flags": ["SYN"]}]}, "Actions": ["aws:forward_to_sfe"]}}
                    ]}}
                }),
            };
            let ty = if name == "sl" {
                "STATELESS"
            } else {
                "STATEFUL"
            };
            json(
                serde_json::json!({"UpdateToken": "t", "RuleGroup": group, "RuleGroupResponse": response(ty)}),
            )
        }
        _ => Reply::Ec2(String::new()),
    }
}

fn sts_ok() -> Reply {
    Reply::Xml(
        200,
        format!(
            r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>{ROLE_KEY}</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROA:egress-probe</AssumedRoleId><Arn>arn:aws:sts::{NETWORK}:assumed-role/egress-probe-network/egress-probe</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>"#
        ),
    )
}

fn sts_denied() -> Reply {
    Reply::Xml(
        403,
        "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform sts:AssumeRole</Message></Error><RequestId>r</RequestId></ErrorResponse>".into(),
    )
}

/// Answers by the signing key: the base credentials see the workload account, the role's
/// the network account. A network-account call signed with the base key is refused, as
/// AWS would (R45).
fn two_accounts(req: &Request) -> Reply {
    if req.action == "AssumeRole" {
        return sts_ok();
    }
    if req.key == ROLE_KEY {
        return network(req);
    }
    match req.action.as_str() {
        "SearchTransitGatewayRoutes" => Reply::Ec2Error(400, "InvalidRouteTableID.NotFound"),
        _ => workload(req).unwrap_or(Reply::Ec2(String::new())),
    }
}

async fn take(mock: &Mock, role: Option<&str>, vpc: &str) -> NetworkSnapshot {
    snapshot::take(&mock.clients(role).await, &Scope::Vpc(vpc.into()))
        .await
        .unwrap()
}

#[tokio::test]
async fn follows_the_transit_gateway_into_the_network_account_with_the_role() {
    let mock = Mock::new(two_accounts);
    let snap = take(&mock, Some(ROLE), "vpc-w").await;
    assert!(snap.gaps.is_empty(), "{:#?}", snap.gaps);

    // R45: the role was assumed once; every network-account call was signed with it, and
    // nothing of the workload account was.
    assert_eq!(mock.count("AssumeRole"), 1);
    let by_role = mock.with_key(ROLE_KEY);
    for a in [
        "SearchTransitGatewayRoutes",
        "ListFirewalls",
        "DescribeFirewall",
        "DescribeFirewallPolicy",
        "DescribeRuleGroup",
    ] {
        assert!(
            by_role.iter().any(|x| x == a),
            "{a} not made with the role: {by_role:?}"
        );
    }
    assert!(
        !by_role
            .iter()
            .any(|a| a == "DescribeNetworkInterfaces" || a == "DescribeTransitGateways")
    );
    let (sts, other): (Vec<Request>, Vec<Request>) = mock
        .requests()
        .into_iter()
        .filter(|r| r.key == BASE_KEY)
        .partition(|r| r.action == "AssumeRole");
    assert_eq!(sts.len(), 1);
    assert!(
        other
            .iter()
            .all(|r| r.action != "SearchTransitGatewayRoutes")
    );

    // R37, R38: the workload attachment with its association, subnets and owners.
    let w = snap.transit_gateway_attachment("tgw-attach-w").unwrap();
    assert_eq!(w.associated_route_table(), Some("tgw-rtb-spoke"));
    assert_eq!(w.subnet_ids, ["subnet-w1"]);
    assert!(!w.appliance_mode());
    assert_eq!(w.transit_gateway_owner_id.as_deref(), Some(NETWORK));
    assert_eq!(snap.transit_gateways[0].owner_id.as_deref(), Some(NETWORK));

    // R39, R40: the spoke table, complete, with static, propagated and blackhole routes.
    let spoke = snap.transit_gateway_route_table("tgw-rtb-spoke").unwrap();
    assert!(spoke.routes_complete);
    assert_eq!(spoke.routes.len(), 4);
    let default = &spoke.routes[0];
    assert_eq!(
        default.destination,
        RouteDestination::Ipv4("0.0.0.0/0".parse().unwrap())
    );
    assert_eq!(default.route_type, "static");
    assert_eq!(default.attachments[0].attachment_id, "tgw-attach-e");
    assert!(spoke.routes[3].is_blackhole());
    // The search asked for active and blackhole routes only.
    let search = mock
        .requests()
        .into_iter()
        .find(|r| r.action == "SearchTransitGatewayRoutes")
        .unwrap();
    assert!(
        search.body.contains("Filter.1.Name=state"),
        "{}",
        search.body
    );

    // R41, R44: the egress attachment (appliance mode on) and its table: the return path.
    let e = snap.transit_gateway_attachment("tgw-attach-e").unwrap();
    assert_eq!(e.associated_route_table(), Some("tgw-rtb-egress"));
    assert_eq!(e.subnet_ids, ["subnet-e-tgw-a", "subnet-e-tgw-b"]);
    assert!(e.appliance_mode());
    assert_eq!(e.resource_owner_id.as_deref(), Some(NETWORK));
    let back = snap.transit_gateway_route_table("tgw-rtb-egress").unwrap();
    assert!(back.routes.iter().any(|r| {
        r.attachments
            .iter()
            .any(|a| a.attachment_id == "tgw-attach-w")
    }));

    // The egress VPC in the same lists as the workload VPC, through the same reader.
    assert_eq!(
        snap.vpc("vpc-e").unwrap().owner_id.as_deref(),
        Some(NETWORK)
    );
    assert_eq!(
        snap.vpc("vpc-w").unwrap().owner_id.as_deref(),
        Some(WORKLOAD)
    );
    assert_eq!(
        snap.subnets.iter().filter(|s| s.vpc_id == "vpc-e").count(),
        4
    );
    assert_eq!(
        snap.effective_route_table("subnet-e-tgw-b").unwrap().id,
        "rtb-e-tgw"
    );
    assert_eq!(
        snap.nat_gateway("nat-e").unwrap().subnet_id.as_deref(),
        Some("subnet-e-nat-a")
    );
    assert!(
        snap.internet_gateways
            .iter()
            .any(|g| g.is_attached_to("vpc-e"))
    );

    // R47: the firewall, its endpoints per AZ (sorted), status and policy.
    let (fw, ep) = snap.firewall_endpoint("vpce-fw-a").unwrap();
    assert_eq!(fw.arn, FW_ARN);
    assert_eq!(fw.vpc_id.as_deref(), Some("vpc-e"));
    assert_eq!(fw.owner_id.as_deref(), Some(NETWORK));
    assert_eq!(fw.configuration_sync.as_deref(), Some("IN_SYNC"));
    assert!(ep.is_ready());
    assert_eq!(ep.availability_zone, "us-east-1a");
    let b = &fw.endpoints[1];
    assert_eq!(
        (b.availability_zone.as_str(), b.status.as_str()),
        ("us-east-1b", "SCALING")
    );
    assert_eq!(b.status_message.as_deref(), Some("scaling"));

    // R49, R50, R52: the policy as the API says it.
    let p = snap.firewall_policy(POLICY_ARN).unwrap();
    assert!(p.strict_order());
    assert_eq!(p.stateful_default_actions, ["aws:drop_established"]);
    assert_eq!(p.stateless_default_actions, ["aws:forward_to_sfe"]);
    assert_eq!(p.stateless_fragment_default_actions, ["aws:drop"]);
    assert_eq!(p.stream_exception_policy.as_deref(), Some("REJECT"));
    assert_eq!(
        p.home_net.as_ref().unwrap(),
        &vec![
            "10.0.0.0/8".parse::<ipnet::IpNet>().unwrap(),
            "100.64.0.0/16".parse().unwrap()
        ]
    );
    assert_eq!(p.stateful_rule_groups.len(), 3);
    assert_eq!(
        p.stateful_rule_groups[1].override_action.as_deref(),
        Some("DROP_TO_ALERT")
    );
    assert_eq!(p.stateless_rule_groups[0].priority, Some(10));

    // R51, R53: one DescribeRuleGroup per referenced group, each form kept.
    assert_eq!(mock.count("DescribeRuleGroup"), 4);
    let g = |n: &str| snap.firewall_rule_group(&format!("{GROUP}{n}")).unwrap();
    match &g("domains").rules {
        RulesSource::DomainList {
            targets,
            target_types,
            generated_rules_type,
        } => {
            assert_eq!(targets, &[".example.com", "api.example.org"]);
            assert_eq!(target_types, &["TLS_SNI", "HTTP_HOST"]);
            assert_eq!(generated_rules_type, "ALLOWLIST");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        g("domains").ip_sets["HOME_NET"],
        vec!["10.0.0.0/16".parse::<ipnet::IpNet>().unwrap()]
    );
    assert_eq!(g("domains").port_sets["TLS"], ["443"]);
    assert_eq!(g("domains").rule_order.as_deref(), Some("STRICT_ORDER"));
    assert!(
        matches!(&g("suricata").rules, RulesSource::RulesString { rules } if rules.contains("blocked.example"))
    );
    match &g("fivetuple").rules {
        RulesSource::StatefulRules { rules } => {
            assert_eq!(rules[0].action, "DROP");
            assert_eq!(rules[0].destination, "203.0.113.0/24");
            assert_eq!(
                rules[0].options,
                vec![("sid".to_string(), vec!["5".to_string()])]
            );
        }
        other => panic!("{other:?}"),
    }
    let sl = snap.firewall_rule_group(STATELESS).unwrap();
    assert_eq!(sl.rule_group_type, "STATELESS");
    match &sl.rules {
        RulesSource::Stateless { rules } => {
            assert_eq!(
                rules.iter().map(|r| r.priority).collect::<Vec<_>>(),
                [5, 20]
            );
            assert!(rules[0].has_tcp_flags);
            assert_eq!(rules[0].protocols, [6]);
            assert_eq!(rules[0].destination_ports[0].from, 443);
        }
        other => panic!("{other:?}"),
    }

    // Bounded calls: every request counted. Workload VPC 13 + its attachments 2 + STS 1;
    // TGW 1 + spoke table 1 + egress attachment 2 + return table 1; egress VPC 11;
    // firewall: list 1 + describe 1 + policy 1 + 4 groups.
    assert_eq!(snap.api_calls as usize, mock.requests().len());
    assert_eq!(snap.api_calls, 13 + 2 + 1 + (1 + 1 + 2 + 1) + 11 + (3 + 4));
    // Rounds: identify, workload VPC, its attachments + TGW, spoke table, egress VPC +
    // attachment + firewall list, return table + firewall, policy, rule groups.
    assert_eq!(snap.api_stages, 8);
}

#[tokio::test]
async fn without_the_role_the_network_account_is_named_and_not_called() {
    let mock = Mock::new(two_accounts);
    let snap = take(&mock, None, "vpc-w").await;
    // R45: no call was made for the route table; its gap names the owner account.
    assert_eq!(mock.count("SearchTransitGatewayRoutes"), 0);
    assert_eq!(mock.count("AssumeRole"), 0);
    let gap = snap.gap(call::SEARCH_TRANSIT_GATEWAY_ROUTES).unwrap();
    assert_eq!(gap.kind, GapKind::Denied);
    assert_eq!(gap.account.as_deref(), Some(NETWORK));
    assert!(
        gap.reason.contains("tgw-rtb-spoke") && gap.reason.contains("--network-role"),
        "{}",
        gap.reason
    );
    assert_eq!(snap.gaps.len(), 1, "{:#?}", snap.gaps);
    // Everything visible is still read: the attachment, the transit gateway.
    assert!(snap.transit_gateway_attachment("tgw-attach-w").is_some());
    assert_eq!(snap.transit_gateways.len(), 1);
    assert!(snap.vpc("vpc-e").is_none());
    assert_eq!(snap.api_calls as usize, mock.requests().len());
}

#[tokio::test]
async fn a_refused_assume_role_is_one_gap_in_the_network_account() {
    let mock = Mock::new(|req: &Request| {
        if req.action == "AssumeRole" {
            sts_denied()
        } else {
            two_accounts(req)
        }
    });
    let snap = take(&mock, Some(ROLE), "vpc-w").await;
    let gap = snap.gap(call::ASSUME_ROLE).unwrap();
    assert_eq!(gap.kind, GapKind::Denied);
    assert_eq!(gap.account.as_deref(), Some(NETWORK));
    assert!(
        gap.reason.contains("AccessDenied") && gap.reason.contains(ROLE),
        "{}",
        gap.reason
    );
    // The route table is then not called and says why.
    let rt = snap.gap(call::SEARCH_TRANSIT_GATEWAY_ROUTES).unwrap();
    assert_eq!(rt.account.as_deref(), Some(NETWORK));
    assert!(rt.reason.contains("failed"), "{}", rt.reason);
    assert!(mock.with_key(ROLE_KEY).is_empty());
    assert_eq!(mock.count("SearchTransitGatewayRoutes"), 0);
    assert_eq!(mock.count("AssumeRole"), 1);
    assert!(snap.subnet("subnet-w1").is_some());
    assert_eq!(snap.api_calls as usize, mock.requests().len());
}

#[tokio::test]
async fn a_call_refused_after_assuming_is_a_gap_in_that_account() {
    let mock = Mock::new(|req: &Request| {
        if req.key == ROLE_KEY && req.action == "DescribeFirewallPolicy" {
            return Reply::Json(
                400,
                r#"{"__type":"AccessDeniedException","message":"not authorized to perform network-firewall:DescribeFirewallPolicy"}"#.into(),
            );
        }
        if req.key == ROLE_KEY
            && req.action == "SearchTransitGatewayRoutes"
            && req.body.contains("tgw-rtb-egress")
        {
            return Reply::Ec2Error(403, "UnauthorizedOperation");
        }
        two_accounts(req)
    });
    let snap = take(&mock, Some(ROLE), "vpc-w").await;
    let policy = snap.gap(call::DESCRIBE_FIREWALL_POLICY).unwrap();
    assert_eq!(policy.kind, GapKind::Denied);
    assert_eq!(policy.account.as_deref(), Some(NETWORK));
    assert!(policy.reason.contains(POLICY_ARN), "{}", policy.reason);
    let rt = snap.gap(call::SEARCH_TRANSIT_GATEWAY_ROUTES).unwrap();
    assert_eq!(rt.kind, GapKind::Denied);
    assert_eq!(rt.account.as_deref(), Some(NETWORK));
    assert!(rt.reason.contains("tgw-rtb-egress"), "{}", rt.reason);
    assert_eq!(snap.gaps.len(), 2, "{:#?}", snap.gaps);
    // The rest is read: the spoke table, the egress VPC, the firewall; no rule group is
    // asked for without the policy.
    assert!(snap.transit_gateway_route_table("tgw-rtb-spoke").is_some());
    assert!(snap.transit_gateway_route_table("tgw-rtb-egress").is_none());
    assert!(snap.vpc("vpc-e").is_some());
    assert_eq!(snap.network_firewalls.len(), 1);
    assert_eq!(mock.count("DescribeRuleGroup"), 0);
    assert_eq!(snap.api_calls as usize, mock.requests().len());
}

#[tokio::test]
async fn one_run_reads_the_egress_vpc_and_firewall_once() {
    let mock = Mock::new(two_accounts);
    let clients = mock.clients(Some(ROLE)).await;
    let cache = RunCache::default();
    let first = snapshot::take_cached(&clients, &Scope::Vpc("vpc-w".into()), &cache)
        .await
        .unwrap();
    let first_calls = mock.requests().len();
    assert_eq!(first.api_calls as usize, first_calls);
    mock.clear();
    let second = snapshot::take_cached(&clients, &Scope::Vpc("vpc-w2".into()), &cache)
        .await
        .unwrap();
    // Nothing of the network account was asked again: only the second workload VPC's own
    // calls (identify + 13 + 2 attachments).
    assert!(
        mock.with_key(ROLE_KEY).is_empty(),
        "{:?}",
        mock.with_key(ROLE_KEY)
    );
    assert_eq!(mock.count("AssumeRole"), 0);
    assert_eq!(second.api_calls as usize, mock.requests().len());
    assert_eq!(second.api_calls, 13 + 2);
    // Both snapshots carry the whole path.
    for s in [&first, &second] {
        assert!(s.gaps.is_empty(), "{:#?}", s.gaps);
        assert!(s.vpc("vpc-e").is_some());
        assert!(s.transit_gateway_route_table("tgw-rtb-spoke").is_some());
        assert!(s.transit_gateway_route_table("tgw-rtb-egress").is_some());
        assert_eq!(s.firewall_rule_groups.len(), 4);
    }
    assert!(second.transit_gateway_attachment("tgw-attach-w2").is_some());
    // Without the cache the second VPC costs the whole path again.
    mock.clear();
    let fresh = snapshot::take(&clients, &Scope::Vpc("vpc-w2".into()))
        .await
        .unwrap();
    assert!(
        fresh.api_calls > second.api_calls + 20,
        "{}",
        fresh.api_calls
    );
}

#[tokio::test]
async fn a_malformed_role_is_refused_before_any_call() {
    let mock = Mock::new(two_accounts);
    let err = Clients::new(&mock.config())
        .with_network_role(&mock.config(), "arn:aws:iam::2222:role/x")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("12 digits"), "{err}");
    assert!(mock.requests().is_empty());
}
