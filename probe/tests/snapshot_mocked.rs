//! The snapshot reader against a scripted HTTP client: what moto cannot produce (page
//! boundaries, blackhole routes, pending NAT, Lambda ENIs, BPA on, denied / throttled /
//! unreachable calls). Every request is logged, so the tests assert on what was sent and
//! that `api_calls` counts every page.

#![allow(clippy::unwrap_used)] // test helpers: a failed setup should fail the test

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use egress_probe::model::{GapKind, RouteState, RouteTarget};
use egress_probe::snapshot::{self, Clients, Scope, SnapshotError, call};
use std::sync::{Arc, Mutex};

/// What the scripted server answers.
enum Reply {
    Ok(String),
    Error {
        status: u16,
        code: &'static str,
    },
    /// No answer at all: a connect failure.
    Refused,
    /// Accepted, never answered (a call slow past any budget).
    Hang,
    /// Lambda (restJson1) answer.
    Json {
        status: u16,
        body: String,
        error_type: Option<&'static str>,
    },
}

type Script = dyn Fn(&str, &str) -> Reply + Send + Sync;

/// A scripted HTTP client; `log` holds `(action, body)` of every request.
#[derive(Clone)]
struct Mock {
    log: Arc<Mutex<Vec<(String, String)>>>,
    script: Arc<Script>,
}

impl std::fmt::Debug for Mock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mock")
    }
}

impl Mock {
    fn new(script: impl Fn(&str, &str) -> Reply + Send + Sync + 'static) -> Self {
        Self {
            log: Arc::default(),
            script: Arc::new(script),
        }
    }
    fn requests(&self) -> Vec<(String, String)> {
        self.log.lock().unwrap().clone()
    }
    fn count(&self, action: &str) -> usize {
        self.requests().iter().filter(|(a, _)| a == action).count()
    }
    fn clients(&self) -> Clients {
        let ec2 = aws_sdk_ec2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("k", "s", None, None, "mock"))
            .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
            .http_client(self.clone())
            .build();
        let lambda = aws_sdk_lambda::Config::builder()
            .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
            .region(aws_sdk_lambda::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_lambda::config::Credentials::new(
                "k", "s", None, None, "mock",
            ))
            .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
            .http_client(self.clone())
            .build();
        let networkfirewall = aws_sdk_networkfirewall::Config::builder()
            .behavior_version(aws_sdk_networkfirewall::config::BehaviorVersion::latest())
            .region(aws_sdk_networkfirewall::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_networkfirewall::config::Credentials::new(
                "k", "s", None, None, "mock",
            ))
            .retry_config(aws_sdk_networkfirewall::config::retry::RetryConfig::disabled())
            .http_client(self.clone())
            .build();
        Clients {
            ec2: aws_sdk_ec2::Client::from_conf(ec2),
            lambda: aws_sdk_lambda::Client::from_conf(lambda),
            networkfirewall: aws_sdk_networkfirewall::Client::from_conf(networkfirewall),
            network: None,
        }
    }
}

fn form_value<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.split('&')
        .find_map(|kv| kv.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
}

impl HttpConnector for Mock {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let action = form_value(&body, "Action")
            .map(str::to_string)
            .unwrap_or_else(|| request.uri().to_string());
        self.log
            .lock()
            .unwrap()
            .push((action.clone(), body.clone()));
        let response = |status: u16, text: String| {
            HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(text))
        };
        let reply = (self.script)(&action, &body);
        if matches!(reply, Reply::Hang) {
            return HttpConnectorFuture::new(std::future::pending());
        }
        let result = match reply {
            Reply::Hang => Err(ConnectorError::io("unreachable".into())),
            Reply::Ok(inner) => Ok(response(
                200,
                format!(
                    r#"<{action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>{inner}</{action}Response>"#
                ),
            )),
            Reply::Error { status, code } => Ok(response(
                status,
                format!(
                    "<Response><Errors><Error><Code>{code}</Code><Message>scripted {code}</Message></Error></Errors><RequestID>r</RequestID></Response>"
                ),
            )),
            Reply::Refused => Err(ConnectorError::io("connection refused (scripted)".into())),
            Reply::Json {
                status,
                body,
                error_type,
            } => {
                let mut r = response(status, body);
                r.headers_mut().insert("content-type", "application/json");
                if let Some(t) = error_type {
                    r.headers_mut().insert("x-amzn-errortype", t);
                }
                Ok(r)
            }
        };
        HttpConnectorFuture::ready(result)
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

const VPC: &str = "<vpcSet><item><vpcId>vpc-1</vpcId><cidrBlock>10.0.0.0/16</cidrBlock><cidrBlockAssociationSet><item><cidrBlock>10.0.0.0/16</cidrBlock><cidrBlockState><state>associated</state></cidrBlockState></item></cidrBlockAssociationSet><dhcpOptionsId>dopt-1</dhcpOptionsId><isDefault>false</isDefault></item></vpcSet>";

fn subnet(id: &str, cidr: &str, az: &str, az_id: &str) -> String {
    format!(
        "<item><subnetId>{id}</subnetId><vpcId>vpc-1</vpcId><cidrBlock>{cidr}</cidrBlock><availabilityZone>{az}</availabilityZone><availabilityZoneId>{az_id}</availabilityZoneId><availableIpAddressCount>250</availableIpAddressCount></item>"
    )
}

/// A two-page VPC: subnets and route tables each span two pages; a blackhole route to a
/// pending NAT; a Lambda ENI; BPA on with one exclusion; custom DNS.
fn two_pages(action: &str, body: &str) -> Reply {
    let page2 = form_value(body, "NextToken").is_some();
    let xml = match action {
        "DescribeVpcs" => VPC.to_string(),
        "DescribeVpcAttribute" => {
            let attr = form_value(body, "Attribute").unwrap_or_default();
            format!("<vpcId>vpc-1</vpcId><{attr}><value>true</value></{attr}>")
        }
        "DescribeSubnets" if !page2 => format!(
            "<subnetSet>{}</subnetSet><nextToken>subnets-2</nextToken>",
            subnet("subnet-a", "10.0.1.0/24", "us-east-1a", "use1-az6")
        ),
        "DescribeSubnets" => format!(
            "<subnetSet>{}</subnetSet>",
            subnet("subnet-b", "10.0.2.0/24", "us-east-1b", "use1-az1")
        ),
        "DescribeRouteTables" if !page2 => "<routeTableSet><item><routeTableId>rtb-main</routeTableId><vpcId>vpc-1</vpcId><associationSet><item><routeTableAssociationId>rtbassoc-m</routeTableAssociationId><routeTableId>rtb-main</routeTableId><main>true</main></item></associationSet><routeSet><item><destinationCidrBlock>10.0.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId><state>active</state><origin>CreateRouteTable</origin></item></routeSet></item></routeTableSet><nextToken>rt-2</nextToken>".to_string(),
        "DescribeRouteTables" => "<routeTableSet><item><routeTableId>rtb-b</routeTableId><vpcId>vpc-1</vpcId><associationSet><item><routeTableAssociationId>rtbassoc-b</routeTableAssociationId><routeTableId>rtb-b</routeTableId><subnetId>subnet-b</subnetId><main>false</main></item></associationSet><routeSet><item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><natGatewayId>nat-1</natGatewayId><state>blackhole</state><origin>CreateRoute</origin></item><item><destinationCidrBlock>192.168.0.0/16</destinationCidrBlock><gatewayId>vgw-1</gatewayId><state>active</state><origin>EnableVgwRoutePropagation</origin></item></routeSet></item></routeTableSet>".to_string(),
        "DescribeNatGateways" => "<natGatewaySet><item><natGatewayId>nat-1</natGatewayId><vpcId>vpc-1</vpcId><subnetId>subnet-a</subnetId><state>pending</state></item></natGatewaySet>".to_string(),
        "DescribeNetworkInterfaces" => "<networkInterfaceSet><item><networkInterfaceId>eni-l</networkInterfaceId><subnetId>subnet-b</subnetId><vpcId>vpc-1</vpcId><availabilityZone>us-east-1b</availabilityZone><interfaceType>lambda</interfaceType><status>in-use</status><description>AWS Lambda VPC ENI-f</description><privateIpAddress>10.0.2.9</privateIpAddress><privateIpAddressesSet><item><privateIpAddress>10.0.2.9</privateIpAddress></item></privateIpAddressesSet><groupSet><item><groupId>sg-1</groupId></item></groupSet></item></networkInterfaceSet>".to_string(),
        "DescribeVpcBlockPublicAccessOptions" => "<vpcBlockPublicAccessOptions><internetGatewayBlockMode>block-bidirectional</internetGatewayBlockMode><exclusionsAllowed>allowed</exclusionsAllowed><state>update-complete</state></vpcBlockPublicAccessOptions>".to_string(),
        "DescribeVpcBlockPublicAccessExclusions" => "<vpcBlockPublicAccessExclusionSet><item><exclusionId>exclusion-1</exclusionId><internetGatewayExclusionMode>allow-egress</internetGatewayExclusionMode><resourceArn>arn:aws:ec2:us-east-1:123456789012:subnet/subnet-a</resourceArn><state>create-complete</state></item></vpcBlockPublicAccessExclusionSet>".to_string(),
        "DescribeDhcpOptions" => "<dhcpOptionsSet><item><dhcpOptionsId>dopt-1</dhcpOptionsId><dhcpConfigurationSet><item><key>domain-name-servers</key><valueSet><item><value>10.0.0.53</value></item><item><value>AmazonProvidedDNS</value></item></valueSet></item></dhcpConfigurationSet></item></dhcpOptionsSet>".to_string(),
        _ => String::new(),
    };
    Reply::Ok(xml)
}

#[tokio::test]
async fn reads_every_page_and_counts_each_request() {
    let mock = Mock::new(two_pages);
    let snap = snapshot::take(&mock.clients(), &Scope::Vpc("vpc-1".into()))
        .await
        .unwrap();

    // Both pages of DescribeSubnets and DescribeRouteTables were read.
    assert_eq!(mock.count("DescribeSubnets"), 2);
    assert_eq!(mock.count("DescribeRouteTables"), 2);
    let ids: Vec<&str> = snap.subnets.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["subnet-a", "subnet-b"]);
    assert!(snap.route_table("rtb-main").unwrap().main);
    assert_eq!(
        snap.effective_route_table("subnet-a").unwrap().id,
        "rtb-main"
    );
    assert_eq!(snap.effective_route_table("subnet-b").unwrap().id, "rtb-b");
    // Every request, pages included, is counted.
    assert_eq!(snap.api_calls as usize, mock.requests().len());
    // Stage 1 (13 with the extra pages: 15) + DHCP + BPA exclusions.
    assert_eq!(snap.api_calls, 13 + 2 + 2);

    // R8: blackhole kept; R6: propagated flag from the origin.
    let rtb = snap.route_table("rtb-b").unwrap();
    assert_eq!(rtb.routes[0].state, RouteState::Blackhole);
    assert_eq!(
        rtb.routes[0].target,
        RouteTarget::NatGateway("nat-1".into())
    );
    assert!(rtb.routes[1].propagated);
    assert_eq!(
        rtb.routes[1].target,
        RouteTarget::VirtualPrivateGateway("vgw-1".into())
    );
    // R10/R11: pending NAT, connectivity type absent → public.
    let nat = snap.nat_gateway("nat-1").unwrap();
    assert_eq!(nat.state, "pending");
    assert_eq!(nat.connectivity_type, "public");
    // R3: the Lambda ENI, asked for by interface type (never by description).
    assert_eq!(snap.network_interfaces.len(), 1);
    let eni = &snap.network_interfaces[0];
    assert_eq!(eni.interface_type, "lambda");
    assert_eq!(eni.status, "in-use");
    assert_eq!(eni.security_group_ids, ["sg-1"]);
    assert_eq!(
        eni.private_ips,
        ["10.0.2.9".parse::<std::net::Ipv4Addr>().unwrap()]
    );
    let (_, eni_body) = mock
        .requests()
        .into_iter()
        .find(|(a, _)| a == "DescribeNetworkInterfaces")
        .unwrap();
    assert!(eni_body.contains("Name=interface-type"), "{eni_body}");
    assert!(eni_body.contains("=lambda"), "{eni_body}");
    assert!(!eni_body.contains("description"), "{eni_body}");
    // R17: BPA on, so exclusions were read; the resource ID comes from the ARN.
    let bpa = snap.block_public_access.as_ref().unwrap();
    assert_eq!(bpa.internet_gateway_block_mode, "block-bidirectional");
    assert_eq!(bpa.exclusions_allowed.as_deref(), Some("allowed"));
    assert_eq!(bpa.exclusions.len(), 1);
    assert_eq!(bpa.exclusions[0].resource_id, "subnet-a");
    assert_eq!(bpa.exclusions[0].mode, "allow-egress");
    // R25: the VPC's custom DHCP set.
    assert_eq!(
        snap.dhcp_options[0].domain_name_servers,
        ["10.0.0.53", "AmazonProvidedDNS"]
    );
    // AZ IDs came with the subnets: no DescribeAvailabilityZones.
    assert_eq!(mock.count("DescribeAvailabilityZones"), 0);
    assert_eq!(snap.availability_zones.len(), 2);
    assert!(snap.gaps.is_empty(), "{:?}", snap.gaps);
}

#[tokio::test]
async fn failed_calls_become_gaps_and_the_snapshot_is_still_returned() {
    let mock = Mock::new(|action, body| match action {
        "DescribeNatGateways" => Reply::Error {
            status: 403,
            code: "UnauthorizedOperation",
        },
        "DescribeNetworkAcls" => Reply::Error {
            status: 503,
            code: "RequestLimitExceeded",
        },
        "DescribeSecurityGroups" => Reply::Refused,
        "DescribeVpcBlockPublicAccessOptions" => Reply::Error {
            status: 400,
            code: "InvalidAction",
        },
        // Second page of subnets fails: the call is a gap, not half a list.
        "DescribeSubnets" if form_value(body, "NextToken").is_some() => Reply::Error {
            status: 403,
            code: "UnauthorizedOperation",
        },
        _ => two_pages(action, body),
    });
    let snap = snapshot::take(&mock.clients(), &Scope::Vpc("vpc-1".into()))
        .await
        .unwrap();
    let kind = |call: &str| snap.gap(call).map(|g| g.kind);
    assert_eq!(kind(call::DESCRIBE_NAT_GATEWAYS), Some(GapKind::Denied));
    assert_eq!(kind(call::DESCRIBE_NETWORK_ACLS), Some(GapKind::Throttled));
    assert_eq!(
        kind(call::DESCRIBE_SECURITY_GROUPS),
        Some(GapKind::Unreachable)
    );
    assert_eq!(kind(call::DESCRIBE_BPA_OPTIONS), Some(GapKind::Unsupported));
    assert_eq!(kind(call::DESCRIBE_SUBNETS), Some(GapKind::Denied));
    assert!(
        snap.gap(call::DESCRIBE_NAT_GATEWAYS)
            .unwrap()
            .reason
            .contains("UnauthorizedOperation")
    );
    assert_eq!(snap.gaps.len(), 5, "{:?}", snap.gaps);
    assert!(snap.subnets.is_empty() && snap.nat_gateways.is_empty());
    // Everything else is there.
    assert_eq!(snap.route_tables.len(), 2);
    assert_eq!(snap.vpcs[0].enable_dns_support, Some(true));
    assert_eq!(snap.network_interfaces.len(), 1);
    // BPA unknown: exclusions are not asked for.
    assert_eq!(mock.count("DescribeVpcBlockPublicAccessExclusions"), 0);
    // No subnet lacks an AZ ID (there are none): no DescribeAvailabilityZones.
    assert_eq!(mock.count("DescribeAvailabilityZones"), 0);
    assert_eq!(snap.api_calls as usize, mock.requests().len());
}

#[tokio::test]
async fn the_identifying_call_failing_aborts_with_the_reason() {
    let mock = Mock::new(|action, body| match action {
        "DescribeVpcs" => Reply::Error {
            status: 403,
            code: "UnauthorizedOperation",
        },
        _ => two_pages(action, body),
    });
    match snapshot::take(&mock.clients(), &Scope::Vpc("vpc-1".into())).await {
        Err(SnapshotError::Api { call, reason }) => {
            assert_eq!(call, "ec2:DescribeVpcs");
            assert!(reason.contains("UnauthorizedOperation"), "{reason}");
        }
        other => panic!("expected Api error, got {other:?}"),
    }
    assert_eq!(mock.requests().len(), 1);

    let mock = Mock::new(|action, body| match action {
        "DescribeVpcs" => Reply::Error {
            status: 400,
            code: "InvalidVpcID.NotFound",
        },
        _ => two_pages(action, body),
    });
    assert!(matches!(
        snapshot::take(&mock.clients(), &Scope::Vpc("vpc-9".into())).await,
        Err(SnapshotError::VpcNotFound(id)) if id == "vpc-9"
    ));
}

const FAILED_FUNCTION: &str = r#"{"FunctionName":"f","FunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:f","State":"Failed","StateReasonCode":"SubnetOutOfIPAddresses","StateReason":"no free IPs","LastUpdateStatus":"Failed","LastUpdateStatusReasonCode":"SubnetOutOfIPAddresses","VpcConfig":{"SubnetIds":["subnet-b"],"SecurityGroupIds":["sg-1"],"VpcId":"vpc-1","Ipv6AllowedForDualStack":true}}"#;

#[tokio::test]
async fn function_scope_reads_state_and_scopes_the_eni_query() {
    let mock = Mock::new(|action, body| {
        if action.contains("/functions/f/configuration") {
            return Reply::Json {
                status: 200,
                body: FAILED_FUNCTION.into(),
                error_type: None,
            };
        }
        if action.contains("/functions/") {
            return Reply::Json {
                status: 404,
                body: r#"{"Type":"User","message":"Function not found"}"#.into(),
                error_type: Some("ResourceNotFoundException"),
            };
        }
        match action {
            // The function's subnet lookup: one page, only subnet-b.
            "DescribeSubnets" if body.contains("Name=subnet-id") => Reply::Ok(format!(
                "<subnetSet>{}</subnetSet>",
                subnet("subnet-b", "10.0.2.0/24", "us-east-1b", "use1-az1")
            )),
            _ => two_pages(action, body),
        }
    });
    let snap = snapshot::take(&mock.clients(), &Scope::Function("f".into()))
        .await
        .unwrap();
    let f = snap.function("f").unwrap();
    assert_eq!(f.state.as_deref(), Some("Failed"));
    assert_eq!(
        f.state_reason_code.as_deref(),
        Some("SubnetOutOfIPAddresses")
    );
    assert_eq!(f.state_reason.as_deref(), Some("no free IPs"));
    assert_eq!(f.last_update_status.as_deref(), Some("Failed"));
    assert_eq!(
        f.last_update_status_reason_code.as_deref(),
        Some("SubnetOutOfIPAddresses")
    );
    assert!(f.ipv6_allowed_for_dual_stack);
    assert_eq!(f.vpc_id.as_deref(), Some("vpc-1"));
    assert!(snap.notes.is_empty(), "API VpcId agrees: {:?}", snap.notes);
    // R3: ENIs asked for by type, VPC, the function's subnets and groups.
    let (_, eni_body) = mock
        .requests()
        .into_iter()
        .find(|(a, _)| a == "DescribeNetworkInterfaces")
        .unwrap();
    for part in [
        "interface-type",
        "vpc-id",
        "subnet-id",
        "group-id",
        "subnet-b",
        "sg-1",
    ] {
        assert!(eni_body.contains(part), "{part} missing from {eni_body}");
    }
    assert_eq!(snap.api_calls as usize, mock.requests().len());

    assert!(matches!(
        snapshot::take(&mock.clients(), &Scope::Function("ghost".into())).await,
        Err(SnapshotError::FunctionNotFound(n)) if n == "ghost"
    ));
}

#[tokio::test]
async fn az_ids_and_prefix_lists_are_read_only_when_needed() {
    let mock = Mock::new(|action, body| {
        let page2 = form_value(body, "NextToken").is_some();
        let xml = match action {
            "DescribeVpcs" => VPC.replace("dopt-1", "default"),
            // No AvailabilityZoneId (older answers): the AZ map needs its own call.
            "DescribeSubnets" => "<subnetSet><item><subnetId>subnet-a</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.1.0/24</cidrBlock><availabilityZone>us-east-1a</availabilityZone></item></subnetSet>".to_string(),
            "DescribeAvailabilityZones" => "<availabilityZoneInfo><item><zoneName>us-east-1a</zoneName><zoneId>use1-az6</zoneId></item><item><zoneName>us-east-1b</zoneName><zoneId>use1-az1</zoneId></item></availabilityZoneInfo>".to_string(),
            "DescribeRouteTables" => "<routeTableSet><item><routeTableId>rtb-main</routeTableId><vpcId>vpc-1</vpcId><associationSet><item><main>true</main></item></associationSet><routeSet><item><destinationPrefixListId>pl-s3</destinationPrefixListId><gatewayId>vpce-1</gatewayId><state>active</state></item></routeSet></item></routeTableSet>".to_string(),
            "DescribeManagedPrefixLists" => "<prefixListSet><item><prefixListId>pl-s3</prefixListId><prefixListName>com.amazonaws.us-east-1.s3</prefixListName></item></prefixListSet>".to_string(),
            "GetManagedPrefixListEntries" if !page2 => "<entrySet><item><cidr>198.51.100.0/24</cidr></item></entrySet><nextToken>pl-2</nextToken>".to_string(),
            "GetManagedPrefixListEntries" => "<entrySet><item><cidr>203.0.113.0/24</cidr></item></entrySet>".to_string(),
            _ => String::new(),
        };
        Reply::Ok(xml)
    });
    let snap = snapshot::take(&mock.clients(), &Scope::Vpc("vpc-1".into()))
        .await
        .unwrap();
    assert_eq!(mock.count("DescribeAvailabilityZones"), 1);
    assert_eq!(snap.availability_zones.len(), 2);
    assert_eq!(snap.availability_zones[0].zone_id, "use1-az6");
    // DHCP `default` = AmazonProvidedDNS: no call.
    assert_eq!(mock.count("DescribeDhcpOptions"), 0);
    // BPA answered empty: mode defaults to off, so no exclusions call.
    assert_eq!(
        snap.block_public_access
            .as_ref()
            .map(|b| b.internet_gateway_block_mode.as_str()),
        Some("off")
    );
    assert_eq!(mock.count("DescribeVpcBlockPublicAccessExclusions"), 0);
    // R6: the referenced prefix list, both pages of entries, with its name.
    let pl = snap.prefix_list("pl-s3").unwrap();
    assert_eq!(pl.name.as_deref(), Some("com.amazonaws.us-east-1.s3"));
    assert_eq!(pl.cidrs.len(), 2);
    assert_eq!(mock.count("GetManagedPrefixListEntries"), 2);
    assert_eq!(mock.count("DescribeManagedPrefixLists"), 1);
    assert_eq!(snap.api_calls, 13 + 1 + 1 + 2);
    assert_eq!(snap.api_calls as usize, mock.requests().len());
}

#[tokio::test]
async fn a_call_slow_past_the_deadline_is_a_named_gap_and_the_rest_is_kept() {
    // Issue 12.7: one Describe call never answers; the 13 others and stage 2 do.
    let mock = Mock::new(|action, body| match action {
        "DescribeNetworkAcls" => Reply::Hang,
        _ => two_pages(action, body),
    });
    let started = tokio::time::Instant::now();
    let deadline = started + std::time::Duration::from_millis(900);
    let snap = snapshot::take_until(&mock.clients(), &Scope::Vpc("vpc-1".into()), Some(deadline))
        .await
        .unwrap();
    assert!(
        tokio::time::Instant::now() <= deadline + std::time::Duration::from_millis(100),
        "waited past the deadline"
    );
    assert_eq!(snap.gaps.len(), 1, "{:?}", snap.gaps);
    let gap = snap.gap(call::DESCRIBE_NETWORK_ACLS).unwrap();
    assert_eq!(gap.kind, GapKind::Unreachable);
    assert!(gap.reason.contains("no answer"), "{}", gap.reason);
    // Everything that answered is there.
    assert_eq!(snap.subnets.len(), 2);
    assert_eq!(snap.route_tables.len(), 2);
    assert_eq!(snap.network_interfaces.len(), 1);
    assert!(snap.network_acls.is_empty());
    // Stage 1 gave up at two thirds of the time: stage 2 still ran.
    assert_eq!(mock.count("DescribeDhcpOptions"), 1);
    assert_eq!(snap.dhcp_options.len(), 1);
    assert_eq!(
        snap.block_public_access
            .as_ref()
            .map(|b| b.exclusions.len()),
        Some(1)
    );
    assert_eq!(snap.api_calls as usize, mock.requests().len());
}

#[tokio::test]
async fn an_identifying_call_slow_past_the_deadline_is_an_error_naming_it() {
    let mock = Mock::new(|action, body| match action {
        "DescribeVpcs" => Reply::Hang,
        _ => two_pages(action, body),
    });
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(300);
    match snapshot::take_until(&mock.clients(), &Scope::Vpc("vpc-1".into()), Some(deadline)).await {
        Err(SnapshotError::Api { call, reason }) => {
            assert_eq!(call, "ec2:DescribeVpcs");
            assert!(reason.contains("no answer"), "{reason}");
        }
        other => panic!("expected an Api error, got {other:?}"),
    }
}
