//! Scenarios as EC2 API calls against moto: a healthy base VPC, and the faults of issue 7
//! as configuration changes. The lab only ever sees what these calls leave in EC2.

use anyhow::{Context, Result};
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, DomainType, Filter, IpPermission, IpRange, Ipv6Range,
    NewDhcpConfiguration, PortRange, RuleAction,
};

/// Options of the base VPC.
#[derive(Debug, Clone, Default)]
pub struct BaseOptions {
    /// Give the VPC and its subnets IPv6, with an egress-only IGW route `::/0` in the
    /// function subnets' table.
    pub dual_stack: bool,
    /// Function subnets, one per AZ (us-east-1a, us-east-1b, …). 0 means 1.
    pub function_subnets: usize,
}

/// The healthy base: a public subnet with a NAT gateway and an attached IGW, and function
/// subnets routing `0.0.0.0/0` to the NAT, each with one Lambda ENI in the probe SG.
#[derive(Debug, Clone)]
pub struct BaseVpc {
    pub vpc_id: String,
    pub public_subnet: String,
    pub function_subnets: Vec<String>,
    pub igw: String,
    pub eigw: Option<String>,
    pub nat: String,
    pub public_rt: String,
    pub private_rt: String,
    pub sg: String,
    pub enis: Vec<String>,
    /// The VPC's IPv6 block as moto gave it.
    pub ipv6_cidr: Option<String>,
}

const AZS: &[&str] = &["us-east-1a", "us-east-1b", "us-east-1c"];

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn v6_subnet(vpc_block: &str, index: u8) -> Option<String> {
    // moto's block is a /56 like 2400:6500:a680:cf00::/56 → /64 number `index`.
    let net: ipnet::Ipv6Net = vpc_block.parse().ok()?;
    let base = u128::from(net.network()) | (u128::from(index) << 64);
    Some(format!("{}/64", std::net::Ipv6Addr::from(base)))
}

/// Creates the healthy base VPC.
pub async fn base(ec2: &Client, opts: &BaseOptions) -> Result<BaseVpc> {
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .set_amazon_provided_ipv6_cidr_block(Some(opts.dual_stack))
        .send()
        .await
        .context("CreateVpc")?;
    let vpc = vpc.vpc().context("no VPC")?;
    let vpc_id = vpc.vpc_id().context("no VPC id")?.to_string();
    let ipv6_cidr = vpc
        .ipv6_cidr_block_association_set()
        .iter()
        .find_map(|a| a.ipv6_cidr_block().map(String::from));

    let mk_subnet = |cidr: &'static str, az: &'static str, v6: Option<String>| {
        let ec2 = ec2.clone();
        let vpc_id = vpc_id.clone();
        async move {
            let out = ec2
                .create_subnet()
                .vpc_id(vpc_id)
                .cidr_block(cidr)
                .availability_zone(az)
                .set_ipv6_cidr_block(v6)
                .send()
                .await
                .context("CreateSubnet")?;
            out.subnet()
                .and_then(|s| s.subnet_id())
                .map(String::from)
                .context("no subnet id")
        }
    };
    let v6 = |i: u8| {
        ipv6_cidr
            .as_deref()
            .filter(|_| opts.dual_stack)
            .and_then(|b| v6_subnet(b, i))
    };
    let public_subnet = mk_subnet("10.0.0.0/24", AZS[0], v6(0)).await?;
    let mut function_subnets = Vec::new();
    let cidrs = ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"];
    for i in 0..opts.function_subnets.clamp(1, 3) {
        function_subnets.push(mk_subnet(cidrs[i], AZS[i], v6(i as u8 + 1)).await?);
    }

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
        .vpc_id(&vpc_id)
        .send()
        .await
        .context("AttachInternetGateway")?;

    let public_rt = create_route_table(ec2, &vpc_id).await?;
    ec2.create_route()
        .route_table_id(&public_rt)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .context("CreateRoute public → igw")?;
    ec2.associate_route_table()
        .route_table_id(&public_rt)
        .subnet_id(&public_subnet)
        .send()
        .await
        .context("AssociateRouteTable public")?;

    let nat = create_nat(ec2, &public_subnet).await?;

    let private_rt = create_route_table(ec2, &vpc_id).await?;
    ec2.create_route()
        .route_table_id(&private_rt)
        .destination_cidr_block("0.0.0.0/0")
        .nat_gateway_id(&nat)
        .send()
        .await
        .context("CreateRoute private → nat")?;
    let mut eigw = None;
    if opts.dual_stack {
        let id = ec2
            .create_egress_only_internet_gateway()
            .vpc_id(&vpc_id)
            .send()
            .await
            .context("CreateEgressOnlyInternetGateway")?
            .egress_only_internet_gateway()
            .and_then(|g| g.egress_only_internet_gateway_id())
            .map(String::from)
            .context("no EIGW id")?;
        ec2.create_route()
            .route_table_id(&private_rt)
            .destination_ipv6_cidr_block("::/0")
            .egress_only_internet_gateway_id(&id)
            .send()
            .await
            .context("CreateRoute ::/0 → eigw")?;
        eigw = Some(id);
    }
    for s in &function_subnets {
        ec2.associate_route_table()
            .route_table_id(&private_rt)
            .subnet_id(s)
            .send()
            .await
            .context("AssociateRouteTable private")?;
    }

    let sg = ec2
        .create_security_group()
        .group_name("egress-probe")
        .description("egress-probe function")
        .vpc_id(&vpc_id)
        .send()
        .await
        .context("CreateSecurityGroup")?
        .group_id()
        .map(String::from)
        .context("no SG id")?;

    if opts.dual_stack {
        allow_ipv6_in_default_nacl(ec2, &vpc_id).await?;
    }

    let mut enis = Vec::new();
    for s in &function_subnets {
        enis.push(create_lambda_eni(ec2, s, &sg, "egress-probe").await?);
    }
    Ok(BaseVpc {
        vpc_id,
        public_subnet,
        function_subnets,
        igw,
        eigw,
        nat,
        public_rt,
        private_rt,
        sg,
        enis,
        ipv6_cidr,
    })
}

/// AWS gives the default NACL of an IPv6 VPC rules 101 allowing `::/0` both ways; moto
/// does not (moto-notes), so the scenario adds them through the API.
async fn allow_ipv6_in_default_nacl(ec2: &Client, vpc_id: &str) -> Result<()> {
    let acls = ec2
        .describe_network_acls()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("default", "true"))
        .send()
        .await
        .context("DescribeNetworkAcls default")?;
    let acl = acls
        .network_acls()
        .first()
        .and_then(|a| a.network_acl_id())
        .context("no default NACL")?;
    for egress in [false, true] {
        ec2.create_network_acl_entry()
            .network_acl_id(acl)
            .rule_number(101)
            .egress(egress)
            .protocol("-1")
            .rule_action(RuleAction::Allow)
            .ipv6_cidr_block("::/0")
            .send()
            .await
            .context("CreateNetworkAclEntry ::/0")?;
    }
    Ok(())
}

async fn create_route_table(ec2: &Client, vpc_id: &str) -> Result<String> {
    ec2.create_route_table()
        .vpc_id(vpc_id)
        .send()
        .await
        .context("CreateRouteTable")?
        .route_table()
        .and_then(|r| r.route_table_id())
        .map(String::from)
        .context("no route table id")
}

/// A public NAT gateway with a new EIP in `subnet`.
pub async fn create_nat(ec2: &Client, subnet: &str) -> Result<String> {
    let alloc = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await
        .context("AllocateAddress")?
        .allocation_id()
        .map(String::from)
        .context("no allocation id")?;
    ec2.create_nat_gateway()
        .subnet_id(subnet)
        .allocation_id(alloc)
        .send()
        .await
        .context("CreateNatGateway")?
        .nat_gateway()
        .and_then(|n| n.nat_gateway_id())
        .map(String::from)
        .context("no NAT id")
}

/// A Lambda-style ENI (`AWS Lambda VPC ENI-<function>`) in `subnet` with `sg`.
pub async fn create_lambda_eni(
    ec2: &Client,
    subnet: &str,
    sg: &str,
    function: &str,
) -> Result<String> {
    ec2.create_network_interface()
        .subnet_id(subnet)
        .groups(sg)
        .description(format!(
            "{}-{function}",
            super::config::LAMBDA_ENI_DESCRIPTION
        ))
        .send()
        .await
        .context("CreateNetworkInterface")?
        .network_interface()
        .and_then(|n| n.network_interface_id())
        .map(String::from)
        .context("no ENI id")
}

impl BaseVpc {
    /// Scenario 2: the function subnets' `0.0.0.0/0` goes to the IGW (Lambda in a public
    /// subnet: no public IP, R9).
    pub async fn route_functions_to_igw(&self, ec2: &Client) -> Result<()> {
        ec2.replace_route()
            .route_table_id(&self.private_rt)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(&self.igw)
            .send()
            .await
            .context("ReplaceRoute → igw")?;
        Ok(())
    }

    /// Scenario 3: no default route in the function subnets' table.
    pub async fn delete_function_default_route(&self, ec2: &Client) -> Result<()> {
        ec2.delete_route()
            .route_table_id(&self.private_rt)
            .destination_cidr_block("0.0.0.0/0")
            .send()
            .await
            .context("DeleteRoute")?;
        Ok(())
    }

    /// Scenario 4: the NAT gateway is deleted; its route is left (a blackhole in AWS).
    pub async fn delete_nat(&self, ec2: &Client) -> Result<()> {
        ec2.delete_nat_gateway()
            .nat_gateway_id(&self.nat)
            .send()
            .await
            .context("DeleteNatGateway")?;
        Ok(())
    }

    /// Scenario 5: a new subnet without a route to the IGW gets a NAT gateway, and the
    /// function subnets' default route points at it. Returns (subnet, NAT).
    pub async fn move_nat_to_private_subnet(&self, ec2: &Client) -> Result<(String, String)> {
        let subnet = ec2
            .create_subnet()
            .vpc_id(&self.vpc_id)
            .cidr_block("10.0.9.0/24")
            .availability_zone(AZS[0])
            .send()
            .await
            .context("CreateSubnet")?
            .subnet()
            .and_then(|s| s.subnet_id())
            .map(String::from)
            .context("no subnet id")?;
        // The new subnet uses the main route table: local only.
        let nat = create_nat(ec2, &subnet).await?;
        ec2.replace_route()
            .route_table_id(&self.private_rt)
            .destination_cidr_block("0.0.0.0/0")
            .nat_gateway_id(&nat)
            .send()
            .await
            .context("ReplaceRoute → nat in private subnet")?;
        Ok((subnet, nat))
    }

    /// Gives `subnet` a new custom NACL whose entries are `(rule, egress, protocol, allow,
    /// cidr, ports)`. Returns the NACL id.
    pub async fn set_nacl(
        &self,
        ec2: &Client,
        subnet: &str,
        entries: &[NaclSpec],
    ) -> Result<String> {
        let acl = ec2
            .create_network_acl()
            .vpc_id(&self.vpc_id)
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
                .rule_action(if e.allow {
                    RuleAction::Allow
                } else {
                    RuleAction::Deny
                });
            req = if e.cidr.contains(':') {
                req.ipv6_cidr_block(e.cidr)
            } else {
                req.cidr_block(e.cidr)
            };
            if let Some((from, to)) = e.ports {
                req = req.port_range(PortRange::builder().from(from).to(to).build());
            }
            req.send().await.context("CreateNetworkAclEntry")?;
        }
        let current = ec2
            .describe_network_acls()
            .filters(filter("association.subnet-id", subnet))
            .send()
            .await
            .context("DescribeNetworkAcls")?;
        let assoc = current
            .network_acls()
            .iter()
            .flat_map(|a| a.associations())
            .find(|a| a.subnet_id() == Some(subnet))
            .and_then(|a| a.network_acl_association_id())
            .map(String::from)
            .context("subnet has no NACL association")?;
        ec2.replace_network_acl_association()
            .association_id(assoc)
            .network_acl_id(&acl)
            .send()
            .await
            .context("ReplaceNetworkAclAssociation")?;
        Ok(acl)
    }

    /// Replaces the probe SG's egress with exactly `rules` (protocol, from, to, cidr).
    pub async fn set_sg_egress(
        &self,
        ec2: &Client,
        rules: &[(&str, i32, i32, &str)],
    ) -> Result<()> {
        let sg = ec2
            .describe_security_groups()
            .group_ids(&self.sg)
            .send()
            .await
            .context("DescribeSecurityGroups")?;
        let current: Vec<IpPermission> = sg
            .security_groups()
            .iter()
            .flat_map(|g| g.ip_permissions_egress().to_vec())
            .collect();
        if !current.is_empty() {
            ec2.revoke_security_group_egress()
                .group_id(&self.sg)
                .set_ip_permissions(Some(current))
                .send()
                .await
                .context("RevokeSecurityGroupEgress")?;
        }
        if rules.is_empty() {
            return Ok(());
        }
        let perms: Vec<IpPermission> = rules
            .iter()
            .map(|(proto, from, to, cidr)| {
                let b = IpPermission::builder()
                    .ip_protocol(*proto)
                    .from_port(*from)
                    .to_port(*to);
                if cidr.contains(':') {
                    b.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(*cidr).build())
                        .build()
                } else {
                    b.ip_ranges(IpRange::builder().cidr_ip(*cidr).build())
                        .build()
                }
            })
            .collect();
        ec2.authorize_security_group_egress()
            .group_id(&self.sg)
            .set_ip_permissions(Some(perms))
            .send()
            .await
            .context("AuthorizeSecurityGroupEgress")?;
        Ok(())
    }

    /// DHCP options with custom `domain-name-servers`, associated with the VPC.
    pub async fn set_dhcp_dns(&self, ec2: &Client, servers: &[&str]) -> Result<String> {
        let dopt = ec2
            .create_dhcp_options()
            .dhcp_configurations(
                NewDhcpConfiguration::builder()
                    .key("domain-name-servers")
                    .set_values(Some(servers.iter().map(|s| s.to_string()).collect()))
                    .build(),
            )
            .send()
            .await
            .context("CreateDhcpOptions")?
            .dhcp_options()
            .and_then(|d| d.dhcp_options_id())
            .map(String::from)
            .context("no DHCP options id")?;
        ec2.associate_dhcp_options()
            .dhcp_options_id(&dopt)
            .vpc_id(&self.vpc_id)
            .send()
            .await
            .context("AssociateDhcpOptions")?;
        Ok(dopt)
    }

    /// `ModifyVpcAttribute enableDnsSupport`.
    pub async fn set_dns_support(&self, ec2: &Client, enabled: bool) -> Result<()> {
        ec2.modify_vpc_attribute()
            .vpc_id(&self.vpc_id)
            .enable_dns_support(AttributeBooleanValue::builder().value(enabled).build())
            .send()
            .await
            .context("ModifyVpcAttribute")?;
        Ok(())
    }

    /// An `ec2` interface endpoint in `subnets` (private DNS on). Returns its id.
    pub async fn create_ec2_endpoint(&self, ec2: &Client, subnets: &[String]) -> Result<String> {
        ec2.create_vpc_endpoint()
            .vpc_id(&self.vpc_id)
            .service_name(format!("com.amazonaws.{}.ec2", crate::moto::REGION))
            .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Interface)
            .set_subnet_ids(Some(subnets.to_vec()))
            .security_group_ids(&self.sg)
            .private_dns_enabled(true)
            .send()
            .await
            .context("CreateVpcEndpoint ec2")?
            .vpc_endpoint()
            .and_then(|e| e.vpc_endpoint_id())
            .map(String::from)
            .context("no endpoint id")
    }

    /// Removes the function subnets' `::/0` route (scenario 11).
    pub async fn delete_function_ipv6_default_route(&self, ec2: &Client) -> Result<()> {
        ec2.delete_route()
            .route_table_id(&self.private_rt)
            .destination_ipv6_cidr_block("::/0")
            .send()
            .await
            .context("DeleteRoute ::/0")?;
        Ok(())
    }
}

/// One NACL entry for [`BaseVpc::set_nacl`].
#[derive(Debug, Clone, Copy)]
pub struct NaclSpec {
    pub rule: i32,
    pub egress: bool,
    /// `-1`, `6`, `17`…
    pub protocol: &'static str,
    pub allow: bool,
    pub cidr: &'static str,
    pub ports: Option<(i32, i32)>,
}

impl NaclSpec {
    pub const fn allow_all(rule: i32, egress: bool) -> Self {
        NaclSpec {
            rule,
            egress,
            protocol: "-1",
            allow: true,
            cidr: "0.0.0.0/0",
            ports: None,
        }
    }
}
