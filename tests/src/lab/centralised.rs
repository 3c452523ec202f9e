//! Centralised egress (issue 10) as EC2 API calls against moto, and its faults as
//! configuration changes: a workload VPC whose function subnets route `0.0.0.0/0` to a
//! transit gateway, an egress VPC behind it (attachment subnets, optionally Network Firewall
//! endpoints, NAT gateways, an internet gateway), and — for the appliance-mode scenario — a
//! separate inspection VPC. AWS's reference design (R41): the spoke table sends `0.0.0.0/0`
//! to the egress attachment, the egress table has the spoke CIDRs propagated, the egress
//! attachment subnets route to the firewall endpoint (or NAT) of their AZ, the NAT subnets
//! route the spoke CIDR back through the endpoint (or the TGW).

use super::nfw::{self, EndpointSpec, FirewallSpec, NfwData, PolicySpec, RuleGroupSpec};
use super::scenarios::{NaclSpec, create_lambda_eni, create_nat};
use anyhow::{Context, Result};
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    Filter, ModifyTransitGatewayVpcAttachmentRequestOptions, PortRange, RuleAction,
    TransitGatewayRequestOptions, VpcEndpointType,
};

pub const AZS: [&str; 2] = ["us-east-1a", "us-east-1b"];
pub const WORKLOAD_CIDR: &str = "10.0.0.0/16";
pub const INSPECTION_CIDR: &str = "10.100.0.0/16";
pub const EGRESS_CIDR: &str = "10.200.0.0/16";

/// Where the firewall sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirewallPlacement {
    /// No firewall: egress attachment subnets route straight to the NAT of their AZ.
    None,
    /// Network Firewall endpoints in the egress VPC, between the attachment subnets and
    /// the NAT gateways (one per AZ).
    InEgressVpc,
    /// A separate inspection VPC (firewall endpoints per AZ, no NAT) in front of an egress
    /// VPC with one NAT gateway in the first AZ (R44's setting: both directions of a flow
    /// cross the transit gateway into the inspection VPC).
    InspectionVpc,
}

/// One VPC behind the transit gateway, per AZ (index 0 = us-east-1a).
#[derive(Debug, Clone, Default)]
pub struct HubVpc {
    pub vpc: String,
    pub cidr: String,
    pub attach_subnets: Vec<String>,
    pub attach_rts: Vec<String>,
    pub firewall_subnets: Vec<String>,
    pub firewall_rts: Vec<String>,
    /// Firewall (GWLB) endpoints, per AZ.
    pub endpoints: Vec<String>,
    pub public_subnets: Vec<String>,
    pub public_rts: Vec<String>,
    pub nats: Vec<String>,
    pub igw: Option<String>,
    pub attachment: String,
    /// The TGW route table associated with this VPC's attachment.
    pub tgw_rtb: String,
}

/// What [`build`] made.
#[derive(Debug, Clone)]
pub struct Central {
    pub placement: FirewallPlacement,
    pub tgw: String,
    pub workload_vpc: String,
    pub function_subnets: Vec<String>,
    pub workload_attach_subnets: Vec<String>,
    pub function_rt: String,
    pub sg: String,
    pub enis: Vec<String>,
    pub workload_attachment: String,
    /// The spoke table (associated with the workload attachment): `0.0.0.0/0` → next.
    pub spoke_rtb: String,
    pub egress: HubVpc,
    pub inspection: Option<HubVpc>,
    pub firewall_name: Option<String>,
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

async fn vpc(ec2: &Client, cidr: &str) -> Result<String> {
    ec2.create_vpc()
        .cidr_block(cidr)
        .send()
        .await
        .context("CreateVpc")?
        .vpc()
        .and_then(|v| v.vpc_id())
        .map(String::from)
        .context("no VPC id")
}

async fn subnet(ec2: &Client, vpc: &str, cidr: &str, az: &str) -> Result<String> {
    ec2.create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .availability_zone(az)
        .send()
        .await
        .with_context(|| format!("CreateSubnet {cidr}"))?
        .subnet()
        .and_then(|s| s.subnet_id())
        .map(String::from)
        .context("no subnet id")
}

async fn route_table(ec2: &Client, vpc: &str, subnets: &[&String]) -> Result<String> {
    let rt = ec2
        .create_route_table()
        .vpc_id(vpc)
        .send()
        .await
        .context("CreateRouteTable")?
        .route_table()
        .and_then(|r| r.route_table_id())
        .map(String::from)
        .context("no route table id")?;
    for s in subnets {
        ec2.associate_route_table()
            .route_table_id(&rt)
            .subnet_id(s.as_str())
            .send()
            .await
            .context("AssociateRouteTable")?;
    }
    Ok(rt)
}

/// A route to `tgw-…`, `nat-…`, `igw-…`, `vpce-…` or `pcx-…` (by prefix).
pub async fn route(ec2: &Client, rt: &str, dest: &str, target: &str) -> Result<()> {
    let req = ec2
        .create_route()
        .route_table_id(rt)
        .destination_cidr_block(dest);
    let req = if target.starts_with("tgw-") {
        req.transit_gateway_id(target)
    } else if target.starts_with("nat-") {
        req.nat_gateway_id(target)
    } else if target.starts_with("vpce-") {
        req.vpc_endpoint_id(target)
    } else if target.starts_with("pcx-") {
        req.vpc_peering_connection_id(target)
    } else {
        req.gateway_id(target)
    };
    req.send()
        .await
        .with_context(|| format!("CreateRoute {rt} {dest} → {target}"))?;
    Ok(())
}

async fn tgw_rtb(ec2: &Client, tgw: &str) -> Result<String> {
    ec2.create_transit_gateway_route_table()
        .transit_gateway_id(tgw)
        .send()
        .await
        .context("CreateTransitGatewayRouteTable")?
        .transit_gateway_route_table()
        .and_then(|t| t.transit_gateway_route_table_id())
        .map(String::from)
        .context("no TGW route table id")
}

async fn attach(ec2: &Client, tgw: &str, vpc: &str, subnets: &[String]) -> Result<String> {
    ec2.create_transit_gateway_vpc_attachment()
        .transit_gateway_id(tgw)
        .vpc_id(vpc)
        .set_subnet_ids(Some(subnets.to_vec()))
        .send()
        .await
        .context("CreateTransitGatewayVpcAttachment")?
        .transit_gateway_vpc_attachment()
        .and_then(|a| a.transit_gateway_attachment_id())
        .map(String::from)
        .context("no attachment id")
}

async fn associate(ec2: &Client, rtb: &str, att: &str) -> Result<()> {
    ec2.associate_transit_gateway_route_table()
        .transit_gateway_route_table_id(rtb)
        .transit_gateway_attachment_id(att)
        .send()
        .await
        .context("AssociateTransitGatewayRouteTable")?;
    Ok(())
}

async fn propagate(ec2: &Client, rtb: &str, att: &str) -> Result<()> {
    ec2.enable_transit_gateway_route_table_propagation()
        .transit_gateway_route_table_id(rtb)
        .transit_gateway_attachment_id(att)
        .send()
        .await
        .context("EnableTransitGatewayRouteTablePropagation")?;
    Ok(())
}

async fn static_route(ec2: &Client, rtb: &str, dest: &str, att: Option<&str>) -> Result<()> {
    let req = ec2
        .create_transit_gateway_route()
        .transit_gateway_route_table_id(rtb)
        .destination_cidr_block(dest);
    let req = match att {
        Some(a) => req.transit_gateway_attachment_id(a),
        None => req.blackhole(true),
    };
    req.send()
        .await
        .with_context(|| format!("CreateTransitGatewayRoute {rtb} {dest}"))?;
    Ok(())
}

async fn set_appliance_mode(ec2: &Client, att: &str, on: bool) -> Result<()> {
    ec2.modify_transit_gateway_vpc_attachment()
        .transit_gateway_attachment_id(att)
        .options(
            ModifyTransitGatewayVpcAttachmentRequestOptions::builder()
                .appliance_mode_support(if on { "enable" } else { "disable" }.into())
                .build(),
        )
        .send()
        .await
        .context("ModifyTransitGatewayVpcAttachment")?;
    Ok(())
}

async fn gwlb_endpoint(ec2: &Client, vpc: &str, subnet: &str) -> Result<String> {
    ec2.create_vpc_endpoint()
        .vpc_id(vpc)
        .vpc_endpoint_type(VpcEndpointType::GatewayLoadBalancer)
        .service_name("com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d4e5f60718")
        .subnet_ids(subnet)
        .send()
        .await
        .context("CreateVpcEndpoint GatewayLoadBalancer")?
        .vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .map(String::from)
        .context("no endpoint id")
}

/// `10.x.<third>.<fourth>/<len>` inside `cidr` (a /16).
fn sub(cidr: &str, third: u8, fourth: u8, len: u8) -> String {
    let prefix: Vec<&str> = cidr.split('.').take(2).collect();
    format!("{}.{}.{third}.{fourth}/{len}", prefix[0], prefix[1])
}

/// A hub VPC: attachment subnets (/28, per AZ), optional firewall subnets with endpoints,
/// optional public subnets with NATs and an IGW. Routes are added by [`build`].
async fn hub(
    ec2: &Client,
    cidr: &str,
    firewall: bool,
    nat_azs: usize,
    tgw: &str,
) -> Result<HubVpc> {
    let mut h = HubVpc {
        vpc: vpc(ec2, cidr).await?,
        cidr: cidr.into(),
        ..Default::default()
    };
    for (i, az) in AZS.iter().enumerate() {
        let s = subnet(ec2, &h.vpc, &sub(cidr, 0, 16 * i as u8, 28), az).await?;
        h.attach_rts.push(route_table(ec2, &h.vpc, &[&s]).await?);
        h.attach_subnets.push(s);
        if firewall {
            let f = subnet(ec2, &h.vpc, &sub(cidr, 1, 16 * i as u8, 28), az).await?;
            h.firewall_rts.push(route_table(ec2, &h.vpc, &[&f]).await?);
            h.endpoints.push(gwlb_endpoint(ec2, &h.vpc, &f).await?);
            h.firewall_subnets.push(f);
        }
    }
    if nat_azs > 0 {
        let igw = ec2
            .create_internet_gateway()
            .send()
            .await
            .context("CreateInternetGateway")?
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .map(String::from)
            .context("no IGW id")?;
        ec2.attach_internet_gateway()
            .internet_gateway_id(&igw)
            .vpc_id(&h.vpc)
            .send()
            .await
            .context("AttachInternetGateway")?;
        for (i, az) in AZS.iter().enumerate().take(nat_azs) {
            let p = subnet(ec2, &h.vpc, &sub(cidr, 2 + i as u8, 0, 24), az).await?;
            let rt = route_table(ec2, &h.vpc, &[&p]).await?;
            route(ec2, &rt, "0.0.0.0/0", &igw).await?;
            h.nats.push(create_nat(ec2, &p).await?);
            h.public_subnets.push(p);
            h.public_rts.push(rt);
        }
        h.igw = Some(igw);
    }
    h.attachment = attach(ec2, tgw, &h.vpc, &h.attach_subnets).await?;
    h.tgw_rtb = tgw_rtb(ec2, tgw).await?;
    associate(ec2, &h.tgw_rtb, &h.attachment).await?;
    Ok(h)
}

/// Builds the healthy centralised-egress configuration (both AZs work).
pub async fn build(ec2: &Client, placement: FirewallPlacement) -> Result<Central> {
    let tgw = ec2
        .create_transit_gateway()
        .description("egress hub")
        .options(
            TransitGatewayRequestOptions::builder()
                .default_route_table_association("disable".into())
                .default_route_table_propagation("disable".into())
                .build(),
        )
        .send()
        .await
        .context("CreateTransitGateway")?
        .transit_gateway()
        .and_then(|t| t.transit_gateway_id())
        .map(String::from)
        .context("no TGW id")?;

    // The workload VPC: function subnets and /28 attachment subnets per AZ.
    let workload_vpc = vpc(ec2, WORKLOAD_CIDR).await?;
    let mut function_subnets = Vec::new();
    let mut workload_attach_subnets = Vec::new();
    for (i, az) in AZS.iter().enumerate() {
        function_subnets.push(
            subnet(
                ec2,
                &workload_vpc,
                &sub(WORKLOAD_CIDR, 1 + i as u8, 0, 24),
                az,
            )
            .await?,
        );
        workload_attach_subnets.push(
            subnet(
                ec2,
                &workload_vpc,
                &sub(WORKLOAD_CIDR, 255, 16 * i as u8, 28),
                az,
            )
            .await?,
        );
    }
    let refs: Vec<&String> = function_subnets.iter().collect();
    let function_rt = route_table(ec2, &workload_vpc, &refs).await?;
    route(ec2, &function_rt, "0.0.0.0/0", &tgw).await?;
    let sg = ec2
        .create_security_group()
        .group_name("egress-probe")
        .description("egress-probe function")
        .vpc_id(&workload_vpc)
        .send()
        .await
        .context("CreateSecurityGroup")?
        .group_id()
        .map(String::from)
        .context("no SG id")?;
    let mut enis = Vec::new();
    for s in &function_subnets {
        enis.push(create_lambda_eni(ec2, s, &sg, "egress-probe").await?);
    }
    let workload_attachment = attach(ec2, &tgw, &workload_vpc, &workload_attach_subnets).await?;
    let spoke_rtb = tgw_rtb(ec2, &tgw).await?;
    associate(ec2, &spoke_rtb, &workload_attachment).await?;

    let (egress, inspection) = match placement {
        FirewallPlacement::None | FirewallPlacement::InEgressVpc => {
            let fw = placement == FirewallPlacement::InEgressVpc;
            let e = hub(ec2, EGRESS_CIDR, fw, 2, &tgw).await?;
            for i in 0..AZS.len() {
                if fw {
                    route(ec2, &e.attach_rts[i], "0.0.0.0/0", &e.endpoints[i]).await?;
                    route(ec2, &e.firewall_rts[i], "0.0.0.0/0", &e.nats[i]).await?;
                    route(ec2, &e.firewall_rts[i], WORKLOAD_CIDR, &tgw).await?;
                    route(ec2, &e.public_rts[i], WORKLOAD_CIDR, &e.endpoints[i]).await?;
                } else {
                    route(ec2, &e.attach_rts[i], "0.0.0.0/0", &e.nats[i]).await?;
                    route(ec2, &e.public_rts[i], WORKLOAD_CIDR, &tgw).await?;
                }
            }
            // R44/R48: a stateful firewall behind the TGW needs appliance mode.
            if fw {
                set_appliance_mode(ec2, &e.attachment, true).await?;
            }
            static_route(ec2, &spoke_rtb, "0.0.0.0/0", Some(&e.attachment)).await?;
            propagate(ec2, &e.tgw_rtb, &workload_attachment).await?;
            (e, None)
        }
        FirewallPlacement::InspectionVpc => {
            let insp = hub(ec2, INSPECTION_CIDR, true, 0, &tgw).await?;
            // One NAT gateway (in the first AZ) for the whole egress VPC.
            let e = hub(ec2, EGRESS_CIDR, false, 1, &tgw).await?;
            for i in 0..AZS.len() {
                route(ec2, &insp.attach_rts[i], "0.0.0.0/0", &insp.endpoints[i]).await?;
                route(ec2, &insp.firewall_rts[i], "0.0.0.0/0", &tgw).await?;
                route(ec2, &e.attach_rts[i], "0.0.0.0/0", &e.nats[0]).await?;
            }
            route(ec2, &e.public_rts[0], WORKLOAD_CIDR, &tgw).await?;
            set_appliance_mode(ec2, &insp.attachment, true).await?;
            static_route(ec2, &spoke_rtb, "0.0.0.0/0", Some(&insp.attachment)).await?;
            static_route(ec2, &insp.tgw_rtb, "0.0.0.0/0", Some(&e.attachment)).await?;
            propagate(ec2, &insp.tgw_rtb, &workload_attachment).await?;
            static_route(ec2, &e.tgw_rtb, WORKLOAD_CIDR, Some(&insp.attachment)).await?;
            (e, Some(insp))
        }
    };
    Ok(Central {
        placement,
        tgw,
        workload_vpc,
        function_subnets,
        workload_attach_subnets,
        function_rt,
        sg,
        enis,
        workload_attachment,
        spoke_rtb,
        egress,
        inspection,
        firewall_name: None,
    })
}

impl Central {
    /// The VPCs, workload first (the lab's primary VPC).
    pub fn vpc_ids(&self) -> Vec<String> {
        let mut v = vec![self.workload_vpc.clone()];
        if let Some(i) = &self.inspection {
            v.push(i.vpc.clone());
        }
        v.push(self.egress.vpc.clone());
        v
    }

    /// The VPC holding the firewall endpoints.
    pub fn firewall_vpc(&self) -> Option<&HubVpc> {
        match self.placement {
            FirewallPlacement::None => None,
            FirewallPlacement::InEgressVpc => Some(&self.egress),
            FirewallPlacement::InspectionVpc => self.inspection.as_ref(),
        }
    }

    /// The Network Firewall of the firewall VPC with `policy` and its rule `groups`: what
    /// the lab's enforcers apply and its API stand-in serves.
    pub fn network_firewall(&mut self, policy: PolicySpec, groups: Vec<RuleGroupSpec>) -> NfwData {
        let Some(hub) = self.firewall_vpc() else {
            return NfwData::default();
        };
        let endpoints = AZS
            .iter()
            .zip(hub.firewall_subnets.iter().zip(&hub.endpoints))
            .map(|(az, (s, e))| EndpointSpec {
                availability_zone: az.to_string(),
                subnet_id: s.clone(),
                endpoint_id: e.clone(),
                status: "READY".into(),
            })
            .collect();
        let name = "egress-inspection".to_string();
        let data = NfwData {
            firewalls: vec![FirewallSpec {
                name: name.clone(),
                vpc_id: hub.vpc.clone(),
                policy_name: policy.name.clone(),
                endpoints,
            }],
            policies: vec![policy],
            rule_groups: groups,
        };
        self.firewall_name = Some(name);
        data
    }

    /// A permissive policy: a TLS/HTTP allowlist of the lab's domain, HOME_NET = 10.0.0.0/8
    /// (R52: the workload is outside the firewall VPC).
    pub fn allow_lab_policy(&mut self) -> NfwData {
        let g = nfw::domain_list_group(
            "allow-lab",
            &[".lab.example"],
            &["TLS_SNI", "HTTP_HOST"],
            "ALLOWLIST",
            None,
        );
        let p = nfw::policy("egress-policy", &[&g], false, &[], Some(&["10.0.0.0/8"]));
        self.network_firewall(p, vec![g])
    }

    /// Scenario 2: the spoke table loses its default route (R39).
    pub async fn delete_spoke_default_route(&self, ec2: &Client) -> Result<()> {
        ec2.delete_transit_gateway_route()
            .transit_gateway_route_table_id(&self.spoke_rtb)
            .destination_cidr_block("0.0.0.0/0")
            .send()
            .await
            .context("DeleteTransitGatewayRoute")?;
        Ok(())
    }

    /// Scenario 3: a blackhole for `cidr` in the spoke table (R40).
    pub async fn blackhole_in_spoke_table(&self, ec2: &Client, cidr: &str) -> Result<()> {
        static_route(ec2, &self.spoke_rtb, cidr, None).await
    }

    /// Scenario 4: the workload attachment loses its subnet in AZ `i` (R37).
    pub async fn remove_workload_attachment_az(&self, ec2: &Client, i: usize) -> Result<()> {
        ec2.modify_transit_gateway_vpc_attachment()
            .transit_gateway_attachment_id(&self.workload_attachment)
            .remove_subnet_ids(&self.workload_attach_subnets[i])
            .send()
            .await
            .context("ModifyTransitGatewayVpcAttachment RemoveSubnetIds")?;
        Ok(())
    }

    /// Scenario 5: the egress VPC's NAT subnets lose their route back to the workload (R41).
    pub async fn delete_nat_subnet_return_routes(&self, ec2: &Client) -> Result<()> {
        for rt in &self.egress.public_rts {
            ec2.delete_route()
                .route_table_id(rt)
                .destination_cidr_block(WORKLOAD_CIDR)
                .send()
                .await
                .context("DeleteRoute")?;
        }
        Ok(())
    }

    /// Scenario 6: the egress table no longer has the workload CIDR propagated (R41).
    pub async fn disable_return_propagation(&self, ec2: &Client) -> Result<()> {
        ec2.disable_transit_gateway_route_table_propagation()
            .transit_gateway_route_table_id(&self.egress.tgw_rtb)
            .transit_gateway_attachment_id(&self.workload_attachment)
            .send()
            .await
            .context("DisableTransitGatewayRouteTablePropagation")?;
        Ok(())
    }

    /// Scenario 9: appliance mode on the firewall VPC's attachment (R44).
    pub async fn set_firewall_appliance_mode(&self, ec2: &Client, on: bool) -> Result<()> {
        let att = self
            .firewall_vpc()
            .map(|h| h.attachment.clone())
            .context("no firewall VPC")?;
        set_appliance_mode(ec2, &att, on).await
    }

    /// Scenario 10: a NACL on the egress VPC's attachment subnets (R43). Returns its id.
    pub async fn nacl_on_egress_attachment_subnets(
        &self,
        ec2: &Client,
        entries: &[NaclSpec],
    ) -> Result<String> {
        let acl = ec2
            .create_network_acl()
            .vpc_id(&self.egress.vpc)
            .send()
            .await
            .context("CreateNetworkAcl")?
            .network_acl()
            .and_then(|a| a.network_acl_id())
            .map(String::from)
            .context("no NACL id")?;
        for e in entries {
            let mut req = ec2
                .create_network_acl_entry()
                .network_acl_id(&acl)
                .rule_number(e.rule)
                .egress(e.egress)
                .protocol(e.protocol)
                .cidr_block(e.cidr)
                .rule_action(if e.allow {
                    RuleAction::Allow
                } else {
                    RuleAction::Deny
                });
            if let Some((from, to)) = e.ports {
                req = req.port_range(PortRange::builder().from(from).to(to).build());
            }
            req.send().await.context("CreateNetworkAclEntry")?;
        }
        for s in &self.egress.attach_subnets {
            let current = ec2
                .describe_network_acls()
                .filters(filter("association.subnet-id", s))
                .send()
                .await
                .context("DescribeNetworkAcls")?;
            let assoc = current
                .network_acls()
                .iter()
                .flat_map(|a| a.associations())
                .find(|a| a.subnet_id() == Some(s.as_str()))
                .and_then(|a| a.network_acl_association_id())
                .map(String::from)
                .context("no NACL association")?;
            ec2.replace_network_acl_association()
                .association_id(assoc)
                .network_acl_id(&acl)
                .send()
                .await
                .context("ReplaceNetworkAclAssociation")?;
        }
        Ok(acl)
    }

    /// Scenario 11: the workload VPC is peered with the egress VPC and its function subnets
    /// route `0.0.0.0/0` to the peering connection (R56). Returns the `pcx-…`.
    pub async fn default_route_via_peering(&self, ec2: &Client) -> Result<String> {
        let pcx = ec2
            .create_vpc_peering_connection()
            .vpc_id(&self.workload_vpc)
            .peer_vpc_id(&self.egress.vpc)
            .send()
            .await
            .context("CreateVpcPeeringConnection")?
            .vpc_peering_connection()
            .and_then(|p| p.vpc_peering_connection_id())
            .map(String::from)
            .context("no peering id")?;
        ec2.accept_vpc_peering_connection()
            .vpc_peering_connection_id(&pcx)
            .send()
            .await
            .context("AcceptVpcPeeringConnection")?;
        ec2.replace_route()
            .route_table_id(&self.function_rt)
            .destination_cidr_block("0.0.0.0/0")
            .vpc_peering_connection_id(&pcx)
            .send()
            .await
            .context("ReplaceRoute → pcx")?;
        // The egress VPC's NAT subnets route the workload back over the peering.
        for rt in &self.egress.public_rts {
            ec2.replace_route()
                .route_table_id(rt)
                .destination_cidr_block(WORKLOAD_CIDR)
                .vpc_peering_connection_id(&pcx)
                .send()
                .await
                .context("ReplaceRoute NAT subnet → pcx")?;
        }
        Ok(pcx)
    }
}
