//! The DNS reader (R58-R62) against a scripted HTTP client: what moto cannot serve — DNS
//! Firewall rule group associations, rules, domain lists and the fail mode, Route 53
//! Profiles — and the call budget (≤ 8 per VPC plus one per referenced rule group, domain
//! list and Profile), counted request by request.

#![allow(clippy::unwrap_used)] // test helpers: a failed setup should fail the test

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use egress_probe::diagnosis::{Subject, diagnose_names};
use egress_probe::model::GapKind;
use egress_probe::snapshot::{self, Clients, Scope, call};
use std::sync::{Arc, Mutex};

/// A scripted server; `log` holds `(service, action)` of every request.
#[derive(Clone, Default, Debug)]
struct Mock {
    log: Arc<Mutex<Vec<(String, String)>>>,
}

fn form_value<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.split('&')
        .find_map(|kv| kv.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
}

const VPC: &str = "<vpcSet><item><vpcId>vpc-1</vpcId><cidrBlock>10.0.0.0/16</cidrBlock><cidrBlockAssociationSet><item><cidrBlock>10.0.0.0/16</cidrBlock><cidrBlockState><state>associated</state></cidrBlockState></item></cidrBlockAssociationSet><isDefault>false</isDefault></item></vpcSet>";
const SUBNETS: &str = "<subnetSet><item><subnetId>subnet-a</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.1.0/24</cidrBlock><availabilityZone>us-east-1a</availabilityZone><availabilityZoneId>use1-az6</availabilityZoneId></item></subnetSet>";

/// (status, body, content type, error type) for one request.
fn answer(
    service: &str,
    action: &str,
    body: &str,
) -> (u16, String, &'static str, Option<&'static str>) {
    let json = |b: &str| (200, b.to_string(), "application/x-amz-json-1.1", None);
    match (service, action) {
        ("ec2", a) => {
            let inner = match a {
                "DescribeVpcs" => VPC.to_string(),
                "DescribeVpcAttribute" => {
                    let attr = form_value(body, "Attribute").unwrap_or_default();
                    format!("<vpcId>vpc-1</vpcId><{attr}><value>true</value></{attr}>")
                }
                "DescribeSubnets" => SUBNETS.to_string(),
                _ => String::new(),
            };
            (
                200,
                format!(r#"<{a}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>{inner}</{a}Response>"#),
                "text/xml",
                None,
            )
        }
        ("route53resolver", "ListResolverRuleAssociations") => json(
            r#"{"ResolverRuleAssociations":[{"Id":"rslvr-rrassoc-1","ResolverRuleId":"rslvr-rr-corp","VPCId":"vpc-1","Status":"COMPLETE"},{"Id":"rslvr-rrassoc-x","ResolverRuleId":"rslvr-rr-corp","VPCId":"vpc-other","Status":"COMPLETE"}]}"#,
        ),
        ("route53resolver", "ListResolverRules") => json(
            r#"{"ResolverRules":[{"Id":"rslvr-rr-corp","DomainName":"corp.example.","RuleType":"FORWARD","Status":"COMPLETE","TargetIps":[{"Ip":"10.0.9.10","Port":53}],"ResolverEndpointId":"rslvr-out-1","ShareStatus":"SHARED_WITH_ME","OwnerId":"111122223333"},{"Id":"rslvr-rr-unrelated","DomainName":"other.example.","RuleType":"FORWARD","ResolverEndpointId":"rslvr-out-2"}]}"#,
        ),
        ("route53resolver", "ListResolverEndpoints") => json(
            r#"{"ResolverEndpoints":[{"Id":"rslvr-out-1","Direction":"OUTBOUND","Status":"OPERATIONAL","HostVPCId":"vpc-1","SecurityGroupIds":["sg-1"],"IpAddressCount":1},{"Id":"rslvr-out-2","Direction":"OUTBOUND","Status":"OPERATIONAL","HostVPCId":"vpc-1","SecurityGroupIds":["sg-1"]}]}"#,
        ),
        ("route53resolver", "ListResolverEndpointIpAddresses") => json(
            r#"{"IpAddresses":[{"IpId":"rni-1","SubnetId":"subnet-a","Ip":"10.0.1.53","Status":"ATTACHED"}]}"#,
        ),
        ("route53resolver", "ListFirewallRuleGroupAssociations") => json(
            r#"{"FirewallRuleGroupAssociations":[{"Id":"rslvr-frgassoc-1","FirewallRuleGroupId":"rslvr-frg-1","VpcId":"vpc-1","Priority":101,"Status":"COMPLETE","Name":"egress"}]}"#,
        ),
        ("route53resolver", "GetFirewallConfig") => json(
            r#"{"FirewallConfig":{"Id":"rslvr-fc-1","ResourceId":"vpc-1","OwnerId":"123456789012","FirewallFailOpen":"DISABLED"}}"#,
        ),
        ("route53resolver", "ListFirewallRules") => json(
            r#"{"FirewallRules":[{"FirewallRuleGroupId":"rslvr-frg-1","FirewallDomainListId":"rslvr-fdl-malware","Name":"block-malware","Priority":1,"Action":"BLOCK","BlockResponse":"NXDOMAIN"},{"FirewallRuleGroupId":"rslvr-frg-1","FirewallDomainListId":"rslvr-fdl-managed","Name":"aws-threats","Priority":2,"Action":"BLOCK","BlockResponse":"NODATA","Qtype":"A"}]}"#,
        ),
        ("route53resolver", "ListFirewallDomains") if body.contains("rslvr-fdl-malware") => {
            json(r#"{"FirewallDomainListId":"rslvr-fdl-malware","Domains":["malware.test","*.malware.test"]}"#)
        }
        ("route53resolver", "ListFirewallDomains") => (
            400,
            r#"{"__type":"AccessDeniedException","message":"managed domain lists cannot be listed"}"#.into(),
            "application/x-amz-json-1.1",
            Some("AccessDeniedException"),
        ),
        ("route53", _) => (
            200,
            r#"<?xml version="1.0"?><ListHostedZonesByVPCResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><HostedZoneSummaries><HostedZoneSummary><HostedZoneId>Z0EXAMPLE</HostedZoneId><Name>example.com.</Name><Owner><OwningAccount>123456789012</OwningAccount></Owner></HostedZoneSummary></HostedZoneSummaries><MaxItems>100</MaxItems></ListHostedZonesByVPCResponse>"#.into(),
            "text/xml",
            None,
        ),
        ("route53profiles", "ListProfileResourceAssociations") => (
            200,
            r#"{"ProfileResourceAssociations":[{"Id":"rpr-1","ProfileId":"rp-1","ResourceArn":"arn:aws:route53:::hostedzone/Z0CORP","ResourceType":"AWS::Route53::HostedZone","Name":"corp.internal.","Status":"COMPLETE"}]}"#.into(),
            "application/json",
            None,
        ),
        ("route53profiles", _) => (
            200,
            r#"{"ProfileAssociations":[{"Id":"rpassoc-1","ProfileId":"rp-1","ResourceId":"vpc-1","Name":"shared","Status":"COMPLETE"}]}"#.into(),
            "application/json",
            None,
        ),
        (s, a) => panic!("unexpected request {s} {a}"),
    }
}

impl HttpConnector for Mock {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let uri = request.uri().to_string();
        let target = request.headers().get("x-amz-target").map(str::to_string);
        let (service, action) = if let Some(t) = target {
            let (svc, op) = t.split_once('.').unwrap();
            assert_eq!(svc, "Route53Resolver");
            ("route53resolver".to_string(), op.to_string())
        } else if uri.contains("hostedzonesbyvpc") {
            ("route53".to_string(), "ListHostedZonesByVPC".to_string())
        } else if uri.contains("profileresourceassociations") {
            (
                "route53profiles".to_string(),
                "ListProfileResourceAssociations".to_string(),
            )
        } else if uri.contains("profileassociations") {
            (
                "route53profiles".to_string(),
                "ListProfileAssociations".to_string(),
            )
        } else {
            (
                "ec2".to_string(),
                form_value(&body, "Action").unwrap_or_default().to_string(),
            )
        };
        self.log
            .lock()
            .unwrap()
            .push((service.clone(), action.clone()));
        let (status, text, ctype, error_type) = answer(&service, &action, &body);
        let mut r = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(text));
        r.headers_mut().insert("content-type", ctype);
        if let Some(t) = error_type {
            r.headers_mut().insert("x-amzn-errortype", t);
        }
        HttpConnectorFuture::ready(Ok(r))
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

fn config(mock: &Mock) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("k", "s", None, None, "mock"),
            ),
        )
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .http_client(mock.clone())
        .build()
}

#[tokio::test]
async fn firewall_profiles_and_the_call_budget() {
    let mock = Mock::default();
    let cfg = config(&mock);
    let clients = Clients::new(&cfg).with_dns(&cfg);
    let snap = snapshot::take(&clients, &Scope::Vpc("vpc-1".into()))
        .await
        .unwrap();
    let log = mock.log.lock().unwrap().clone();
    assert_eq!(snap.api_calls as usize, log.len(), "every request counted");
    let dns_calls: Vec<&(String, String)> = log.iter().filter(|(s, _)| s != "ec2").collect();
    // 7 per VPC + its one outbound endpoint = 8; one rule group, two domain lists, one
    // Profile.
    assert_eq!(dns_calls.len(), 8 + 1 + 2 + 1, "{dns_calls:#?}");
    let count = |a: &str| log.iter().filter(|(_, x)| x == a).count();
    assert_eq!(
        count("ListResolverEndpointIpAddresses"),
        1,
        "only the used endpoint"
    );
    assert_eq!(count("ListFirewallDomains"), 2);
    assert!(snap.api_stages >= 3);

    let dns = &snap.dns;
    assert!(dns.read);
    // The other VPC's association is dropped even if the filter was not applied.
    assert_eq!(dns.rule_associations.len(), 1);
    assert_eq!(dns.rules.len(), 1, "only rules associated with the VPC");
    assert_eq!(dns.rules[0].share_status.as_deref(), Some("SHARED_WITH_ME"));
    assert_eq!(dns.endpoints.len(), 1);
    assert_eq!(dns.endpoints[0].ip_addresses[0].subnet_id, "subnet-a");
    // R61: rules with their actions and responses; the fail mode.
    let g = dns.firewall_rule_group("rslvr-frg-1").unwrap();
    assert!(g.rules_read);
    assert_eq!(g.rules.len(), 2);
    assert_eq!(g.rules[0].block_response.as_deref(), Some("NXDOMAIN"));
    assert_eq!(g.rules[1].qtype.as_deref(), Some("A"));
    assert_eq!(
        dns.firewall_config("vpc-1").unwrap().firewall_fail_open,
        "DISABLED"
    );
    let malware = dns.domain_list("rslvr-fdl-malware").unwrap();
    assert!(malware.domains_read);
    assert_eq!(malware.domains, ["malware.test", "*.malware.test"]);
    let managed = dns.domain_list("rslvr-fdl-managed").unwrap();
    assert!(!managed.domains_read);
    assert_eq!(
        snap.gap(call::LIST_FIREWALL_DOMAINS).unwrap().kind,
        GapKind::Denied
    );
    // R62: the Profile's zone joins the VPC's zones, marked with the Profile.
    let corp = dns.private_zones.iter().find(|z| z.id == "Z0CORP").unwrap();
    assert_eq!(corp.via_profile.as_deref(), Some("rp-1"));
    assert!(dns.private_zones.iter().any(|z| z.id == "Z0EXAMPLE"));

    // The engine: the first rule blocks malware names; any other name reaches the
    // managed list, which cannot be read: not verifiable, and said so.
    let subject = Subject {
        function: None,
        subnet_ids: vec!["subnet-a".into()],
        security_group_ids: vec![],
    };
    let names = vec![
        "c2.malware.test".to_string(),
        "api.partner.test".to_string(),
    ];
    let d = diagnose_names(&snap, &subject, &[], &names, &[]);
    let block = d
        .findings
        .iter()
        .find(|f| f.code == "DNS_FIREWALL_BLOCKS")
        .unwrap();
    assert!(
        block.summary.contains("entry *.malware.test"),
        "{}",
        block.summary
    );
    assert!(
        d.findings
            .iter()
            .any(|f| f.code == "DNS_CONFIG_NOT_VISIBLE" && f.summary.contains("rslvr-fdl-managed"))
    );
    let partner = d
        .paths
        .iter()
        .find(|p| p.target.as_deref() == Some("dns:api.partner.test"))
        .unwrap();
    assert_eq!(
        serde_json::to_value(partner.verdict).unwrap(),
        serde_json::json!("not_verifiable")
    );
}
