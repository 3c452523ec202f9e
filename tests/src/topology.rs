//! VPC topologies built through the EC2 API (moto in tests): a small builder, and
//! ready-made scenarios, one per AWS situation the diagnosis must name.
//!
//! Every scenario returns the IDs it made in `Ids`. "Public" addresses come only from the
//! documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24).

use anyhow::{Context, Result};
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, ConnectivityType, DomainType, Filter, IpPermission, IpRange, Ipv6Range,
    NewDhcpConfiguration, PortRange, PrefixListId, RuleAction, VpcEndpointType,
};

/// IDs of what a scenario made.
#[derive(Debug, Clone, Default)]
pub struct Ids {
    pub vpc: String,
    pub vpc_cidr: String,
    /// Where the function / probe lives (its VpcConfig subnets).
    pub lambda_subnets: Vec<String>,
    /// Subnets whose route table points at the internet gateway (NATs live here).
    pub public_subnets: Vec<String>,
    pub igw: Option<String>,
    pub eigw: Option<String>,
    pub nat_gateways: Vec<String>,
    /// Route table of each lambda subnet (same order as `lambda_subnets`).
    pub lambda_route_tables: Vec<String>,
    pub public_route_table: Option<String>,
    /// The function's security group.
    pub lambda_sg: String,
    pub nacls: Vec<String>,
    pub dhcp_options: Option<String>,
    pub endpoints: Vec<String>,
}

/// Where a route points.
#[derive(Debug, Clone)]
pub enum RouteTo<'a> {
    Igw(&'a str),
    Nat(&'a str),
    Eigw(&'a str),
    /// A gateway/other target given by ID (e.g. `vpce-…`, `tgw-…`).
    Gateway(&'a str),
}

/// The builder: one method per EC2 resource kind.
#[derive(Debug, Clone)]
pub struct Topology {
    pub ec2: Client,
}

fn need<T>(value: Option<T>, what: &str) -> Result<T> {
    value.with_context(|| format!("EC2 answer has no {what}"))
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn perm(
    protocol: &str,
    ports: Option<(i32, i32)>,
) -> aws_sdk_ec2::types::builders::IpPermissionBuilder {
    let mut p = IpPermission::builder().ip_protocol(protocol);
    if let Some((from, to)) = ports {
        p = p.from_port(from).to_port(to);
    }
    p
}

impl Topology {
    pub fn new(ec2: Client) -> Self {
        Self { ec2 }
    }

    pub async fn vpc(&self, cidr: &str, ipv6: bool) -> Result<String> {
        let out = self
            .ec2
            .create_vpc()
            .cidr_block(cidr)
            .amazon_provided_ipv6_cidr_block(ipv6)
            .send()
            .await
            .context("CreateVpc")?;
        need(need(out.vpc, "Vpc")?.vpc_id, "VpcId")
    }

    /// The VPC's first IPv6 block, when it has one.
    pub async fn vpc_ipv6_cidr(&self, vpc: &str) -> Result<Option<String>> {
        let out = self.ec2.describe_vpcs().vpc_ids(vpc).send().await?;
        Ok(out
            .vpcs()
            .first()
            .and_then(|v| v.ipv6_cidr_block_association_set().first())
            .and_then(|a| a.ipv6_cidr_block().map(str::to_string)))
    }

    pub async fn subnet(
        &self,
        vpc: &str,
        cidr: &str,
        az: &str,
        ipv6: Option<&str>,
    ) -> Result<String> {
        let out = self
            .ec2
            .create_subnet()
            .vpc_id(vpc)
            .cidr_block(cidr)
            .availability_zone(az)
            .set_ipv6_cidr_block(ipv6.map(str::to_string))
            .send()
            .await
            .with_context(|| format!("CreateSubnet {cidr} in {az}"))?;
        need(need(out.subnet, "Subnet")?.subnet_id, "SubnetId")
    }

    /// Creates an internet gateway and attaches it.
    pub async fn internet_gateway(&self, vpc: &str) -> Result<String> {
        let out = self.ec2.create_internet_gateway().send().await?;
        let id = need(
            need(out.internet_gateway, "InternetGateway")?.internet_gateway_id,
            "InternetGatewayId",
        )?;
        self.ec2
            .attach_internet_gateway()
            .internet_gateway_id(&id)
            .vpc_id(vpc)
            .send()
            .await
            .context("AttachInternetGateway")?;
        Ok(id)
    }

    pub async fn egress_only_internet_gateway(&self, vpc: &str) -> Result<String> {
        let out = self
            .ec2
            .create_egress_only_internet_gateway()
            .vpc_id(vpc)
            .send()
            .await?;
        need(
            need(
                out.egress_only_internet_gateway,
                "EgressOnlyInternetGateway",
            )?
            .egress_only_internet_gateway_id,
            "EgressOnlyInternetGatewayId",
        )
    }

    /// A public NAT gateway (with a new EIP) or a private one.
    pub async fn nat_gateway(&self, subnet: &str, public: bool) -> Result<String> {
        let mut req = self.ec2.create_nat_gateway().subnet_id(subnet);
        if public {
            let eip = self
                .ec2
                .allocate_address()
                .domain(DomainType::Vpc)
                .send()
                .await
                .context("AllocateAddress")?;
            req = req.allocation_id(need(eip.allocation_id, "AllocationId")?);
        } else {
            req = req.connectivity_type(ConnectivityType::Private);
        }
        let out = req.send().await.context("CreateNatGateway")?;
        need(
            need(out.nat_gateway, "NatGateway")?.nat_gateway_id,
            "NatGatewayId",
        )
    }

    /// Deletes a NAT gateway; routes to it stay (a blackhole in AWS, `active` in moto).
    pub async fn delete_nat_gateway(&self, nat: &str) -> Result<()> {
        self.ec2
            .delete_nat_gateway()
            .nat_gateway_id(nat)
            .send()
            .await?;
        Ok(())
    }

    /// A route table explicitly associated with `subnets`.
    pub async fn route_table(&self, vpc: &str, subnets: &[&str]) -> Result<String> {
        let out = self.ec2.create_route_table().vpc_id(vpc).send().await?;
        let id = need(
            need(out.route_table, "RouteTable")?.route_table_id,
            "RouteTableId",
        )?;
        for subnet in subnets {
            self.ec2
                .associate_route_table()
                .route_table_id(&id)
                .subnet_id(*subnet)
                .send()
                .await
                .with_context(|| format!("AssociateRouteTable {id} {subnet}"))?;
        }
        Ok(id)
    }

    /// Adds a route; an IPv6 destination when it contains `:`.
    pub async fn route(&self, table: &str, destination: &str, to: RouteTo<'_>) -> Result<()> {
        let mut req = self.ec2.create_route().route_table_id(table);
        req = if destination.contains(':') {
            req.destination_ipv6_cidr_block(destination)
        } else {
            req.destination_cidr_block(destination)
        };
        req = match to {
            RouteTo::Igw(id) | RouteTo::Gateway(id) => req.gateway_id(id),
            RouteTo::Nat(id) => req.nat_gateway_id(id),
            RouteTo::Eigw(id) => req.egress_only_internet_gateway_id(id),
        };
        req.send()
            .await
            .with_context(|| format!("CreateRoute {table} {destination}"))?;
        Ok(())
    }

    /// The VPC's main route table.
    pub async fn main_route_table(&self, vpc: &str) -> Result<String> {
        let out = self
            .ec2
            .describe_route_tables()
            .filters(filter("vpc-id", vpc))
            .filters(filter("association.main", "true"))
            .send()
            .await?;
        need(
            out.route_tables()
                .first()
                .and_then(|t| t.route_table_id().map(str::to_string)),
            "main route table",
        )
    }

    /// A custom NACL (no entries: deny all) associated with `subnets`.
    pub async fn network_acl(&self, vpc: &str, subnets: &[&str]) -> Result<String> {
        let out = self.ec2.create_network_acl().vpc_id(vpc).send().await?;
        let id = need(
            need(out.network_acl, "NetworkAcl")?.network_acl_id,
            "NetworkAclId",
        )?;
        for subnet in subnets {
            let current = self
                .ec2
                .describe_network_acls()
                .filters(filter("association.subnet-id", subnet))
                .send()
                .await?;
            let assoc = need(
                current
                    .network_acls()
                    .iter()
                    .flat_map(|a| a.associations())
                    .find(|a| a.subnet_id() == Some(*subnet))
                    .and_then(|a| a.network_acl_association_id().map(str::to_string)),
                "NACL association",
            )?;
            self.ec2
                .replace_network_acl_association()
                .association_id(assoc)
                .network_acl_id(&id)
                .send()
                .await?;
        }
        Ok(id)
    }

    /// One NACL entry; `protocol` as AWS takes it (`-1`, `6`, `17`, or `tcp`).
    #[allow(clippy::too_many_arguments)]
    pub async fn nacl_entry(
        &self,
        acl: &str,
        rule: i32,
        egress: bool,
        protocol: &str,
        allow: bool,
        cidr: &str,
        ports: Option<(i32, i32)>,
    ) -> Result<()> {
        let mut req = self
            .ec2
            .create_network_acl_entry()
            .network_acl_id(acl)
            .rule_number(rule)
            .egress(egress)
            .protocol(protocol)
            .rule_action(if allow {
                RuleAction::Allow
            } else {
                RuleAction::Deny
            });
        req = if cidr.contains(':') {
            req.ipv6_cidr_block(cidr)
        } else {
            req.cidr_block(cidr)
        };
        if let Some((from, to)) = ports {
            req = req.port_range(PortRange::builder().from(from).to(to).build());
        }
        req.send()
            .await
            .with_context(|| format!("CreateNetworkAclEntry {acl} {rule}"))?;
        Ok(())
    }

    /// Allows everything both ways (rule 100, IPv4).
    pub async fn nacl_allow_all(&self, acl: &str) -> Result<()> {
        self.nacl_entry(acl, 100, true, "-1", true, "0.0.0.0/0", None)
            .await?;
        self.nacl_entry(acl, 100, false, "-1", true, "0.0.0.0/0", None)
            .await
    }

    /// A security group; `revoke_default` removes the default allow-all egress (IPv4 and,
    /// if present, IPv6).
    pub async fn security_group(
        &self,
        vpc: &str,
        name: &str,
        revoke_default: bool,
    ) -> Result<String> {
        let out = self
            .ec2
            .create_security_group()
            .vpc_id(vpc)
            .group_name(name)
            .description(name)
            .send()
            .await
            .with_context(|| format!("CreateSecurityGroup {name}"))?;
        let id = need(out.group_id, "GroupId")?;
        if revoke_default {
            self.ec2
                .revoke_security_group_egress()
                .group_id(&id)
                .ip_permissions(
                    perm("-1", None)
                        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                        .build(),
                )
                .send()
                .await
                .context("RevokeSecurityGroupEgress 0.0.0.0/0")?;
            let has_v6 = self
                .ec2
                .describe_security_groups()
                .group_ids(&id)
                .send()
                .await?
                .security_groups()
                .iter()
                .flat_map(|g| g.ip_permissions_egress())
                .any(|p| !p.ipv6_ranges().is_empty());
            if has_v6 {
                self.ec2
                    .revoke_security_group_egress()
                    .group_id(&id)
                    .ip_permissions(
                        perm("-1", None)
                            .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
                            .build(),
                    )
                    .send()
                    .await
                    .context("RevokeSecurityGroupEgress ::/0")?;
            }
        }
        Ok(id)
    }

    /// One egress rule to a CIDR (IPv4 or IPv6) or, with `pl-…`, to a prefix list.
    pub async fn sg_egress(
        &self,
        group: &str,
        protocol: &str,
        ports: Option<(i32, i32)>,
        peer: &str,
    ) -> Result<()> {
        let p = perm(protocol, ports);
        let p = if peer.starts_with("pl-") {
            p.prefix_list_ids(PrefixListId::builder().prefix_list_id(peer).build())
        } else if peer.contains(':') {
            p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(peer).build())
        } else {
            p.ip_ranges(IpRange::builder().cidr_ip(peer).build())
        };
        self.ec2
            .authorize_security_group_egress()
            .group_id(group)
            .ip_permissions(p.build())
            .send()
            .await
            .with_context(|| format!("AuthorizeSecurityGroupEgress {group} {protocol} {peer}"))?;
        Ok(())
    }

    /// A DHCP options set with custom DNS servers, associated with the VPC (R25).
    pub async fn dhcp_options(&self, vpc: &str, dns_servers: &[&str]) -> Result<String> {
        let out = self
            .ec2
            .create_dhcp_options()
            .dhcp_configurations(
                NewDhcpConfiguration::builder()
                    .key("domain-name-servers")
                    .set_values(Some(dns_servers.iter().map(|s| s.to_string()).collect()))
                    .build(),
            )
            .send()
            .await?;
        let id = need(
            need(out.dhcp_options, "DhcpOptions")?.dhcp_options_id,
            "DhcpOptionsId",
        )?;
        self.ec2
            .associate_dhcp_options()
            .dhcp_options_id(&id)
            .vpc_id(vpc)
            .send()
            .await?;
        Ok(id)
    }

    /// enableDnsSupport / enableDnsHostnames (one per call, as AWS requires).
    pub async fn vpc_dns(
        &self,
        vpc: &str,
        support: Option<bool>,
        hostnames: Option<bool>,
    ) -> Result<()> {
        if let Some(v) = support {
            self.ec2
                .modify_vpc_attribute()
                .vpc_id(vpc)
                .enable_dns_support(AttributeBooleanValue::builder().value(v).build())
                .send()
                .await?;
        }
        if let Some(v) = hostnames {
            self.ec2
                .modify_vpc_attribute()
                .vpc_id(vpc)
                .enable_dns_hostnames(AttributeBooleanValue::builder().value(v).build())
                .send()
                .await?;
        }
        Ok(())
    }

    /// An interface endpoint (e.g. `com.amazonaws.us-east-1.sts`).
    pub async fn interface_endpoint(
        &self,
        vpc: &str,
        service: &str,
        subnets: &[&str],
        groups: &[&str],
        private_dns: bool,
    ) -> Result<String> {
        let out = self
            .ec2
            .create_vpc_endpoint()
            .vpc_id(vpc)
            .service_name(service)
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .set_subnet_ids(Some(subnets.iter().map(|s| s.to_string()).collect()))
            .set_security_group_ids(Some(groups.iter().map(|s| s.to_string()).collect()))
            .private_dns_enabled(private_dns)
            .send()
            .await
            .context("CreateVpcEndpoint Interface")?;
        need(
            need(out.vpc_endpoint, "VpcEndpoint")?.vpc_endpoint_id,
            "VpcEndpointId",
        )
    }

    /// A gateway endpoint (S3/DynamoDB): adds a prefix-list route to each table.
    pub async fn gateway_endpoint(
        &self,
        vpc: &str,
        service: &str,
        tables: &[&str],
    ) -> Result<String> {
        let out = self
            .ec2
            .create_vpc_endpoint()
            .vpc_id(vpc)
            .service_name(service)
            .vpc_endpoint_type(VpcEndpointType::Gateway)
            .set_route_table_ids(Some(tables.iter().map(|s| s.to_string()).collect()))
            .send()
            .await
            .context("CreateVpcEndpoint Gateway")?;
        need(
            need(out.vpc_endpoint, "VpcEndpoint")?.vpc_endpoint_id,
            "VpcEndpointId",
        )
    }

    /// The ID of an AWS-managed prefix list by name (`com.amazonaws.us-east-1.s3`).
    pub async fn managed_prefix_list(&self, name: &str) -> Result<String> {
        let out = self
            .ec2
            .describe_managed_prefix_lists()
            .filters(filter("prefix-list-name", name))
            .send()
            .await?;
        need(
            out.prefix_lists()
                .first()
                .and_then(|p| p.prefix_list_id().map(str::to_string)),
            "prefix list",
        )
    }
}

/// A subnet CIDR inside 10.0.0.0/16: `10.0.<n>.0/24`.
fn cidr(n: usize) -> String {
    format!("10.0.{n}.0/24")
}

const VPC_CIDR: &str = "10.0.0.0/16";

impl Topology {
    /// The healthy reference (KC "internet-access-lambda-function"): per AZ a public subnet
    /// with a NAT gateway, a private subnet routing 0.0.0.0/0 to its own AZ's NAT; one public
    /// route table to an attached IGW; default NACL; a function SG with default egress.
    pub async fn healthy_private_with_nat(&self, azs: &[&str]) -> Result<Ids> {
        self.private_with_nat(azs, false).await
    }

    async fn private_with_nat(&self, azs: &[&str], ipv6: bool) -> Result<Ids> {
        let vpc = self.vpc(VPC_CIDR, ipv6).await?;
        let v6 = if ipv6 {
            self.vpc_ipv6_cidr(&vpc).await?
        } else {
            None
        };
        // /56 → /64 per subnet: replace the block's last `00::/56` with `<nn>::/64`.
        let v6_subnet = |n: usize| -> Option<String> {
            let block = v6.as_deref()?;
            let prefix = block.strip_suffix("00::/56")?;
            Some(format!("{prefix}{n:02x}::/64"))
        };
        let igw = self.internet_gateway(&vpc).await?;
        let mut ids = Ids {
            vpc: vpc.clone(),
            vpc_cidr: VPC_CIDR.into(),
            igw: Some(igw.clone()),
            ..Ids::default()
        };
        for (i, az) in azs.iter().enumerate() {
            let public = self
                .subnet(&vpc, &cidr(i), az, v6_subnet(i).as_deref())
                .await?;
            let private = self
                .subnet(&vpc, &cidr(100 + i), az, v6_subnet(100 + i).as_deref())
                .await?;
            ids.public_subnets.push(public);
            ids.lambda_subnets.push(private);
        }
        let public_refs: Vec<&str> = ids.public_subnets.iter().map(String::as_str).collect();
        let public_rt = self.route_table(&vpc, &public_refs).await?;
        self.route(&public_rt, "0.0.0.0/0", RouteTo::Igw(&igw))
            .await?;
        ids.public_route_table = Some(public_rt);
        for i in 0..azs.len() {
            let nat = self.nat_gateway(&ids.public_subnets[i], true).await?;
            let rt = self.route_table(&vpc, &[&ids.lambda_subnets[i]]).await?;
            self.route(&rt, "0.0.0.0/0", RouteTo::Nat(&nat)).await?;
            ids.nat_gateways.push(nat);
            ids.lambda_route_tables.push(rt);
        }
        ids.lambda_sg = self.security_group(&vpc, "lambda", false).await?;
        Ok(ids)
    }

    /// R9: the function's subnet routes 0.0.0.0/0 straight to the IGW.
    pub async fn lambda_in_public_subnet(&self, az: &str) -> Result<Ids> {
        let mut ids = self.healthy_private_with_nat(&[az]).await?;
        ids.lambda_subnets = ids.public_subnets.clone();
        ids.lambda_route_tables = ids.public_route_table.iter().cloned().collect();
        Ok(ids)
    }

    /// R7: the function's route table has only the local route.
    pub async fn no_default_route(&self, az: &str) -> Result<Ids> {
        let vpc = self.vpc(VPC_CIDR, false).await?;
        let igw = self.internet_gateway(&vpc).await?;
        let public = self.subnet(&vpc, &cidr(0), az, None).await?;
        let private = self.subnet(&vpc, &cidr(100), az, None).await?;
        let public_rt = self.route_table(&vpc, &[&public]).await?;
        self.route(&public_rt, "0.0.0.0/0", RouteTo::Igw(&igw))
            .await?;
        let nat = self.nat_gateway(&public, true).await?;
        let rt = self.route_table(&vpc, &[&private]).await?;
        Ok(Ids {
            lambda_sg: self.security_group(&vpc, "lambda", false).await?,
            vpc,
            vpc_cidr: VPC_CIDR.into(),
            lambda_subnets: vec![private],
            public_subnets: vec![public],
            igw: Some(igw),
            nat_gateways: vec![nat],
            lambda_route_tables: vec![rt],
            public_route_table: Some(public_rt),
            ..Ids::default()
        })
    }

    /// R8/R10: the NAT gateway the route points at is deleted (moto keeps the route
    /// `active`; AWS turns it `blackhole`).
    pub async fn nat_deleted(&self, az: &str) -> Result<Ids> {
        let ids = self.healthy_private_with_nat(&[az]).await?;
        self.delete_nat_gateway(&ids.nat_gateways[0]).await?;
        Ok(ids)
    }

    /// R12: the NAT gateway sits in a subnet without a route to the IGW.
    pub async fn nat_in_private_subnet(&self, az: &str) -> Result<Ids> {
        let vpc = self.vpc(VPC_CIDR, false).await?;
        let igw = self.internet_gateway(&vpc).await?;
        let nat_subnet = self.subnet(&vpc, &cidr(0), az, None).await?;
        let private = self.subnet(&vpc, &cidr(100), az, None).await?;
        // nat_subnet keeps the main table (local only).
        let nat = self.nat_gateway(&nat_subnet, true).await?;
        let rt = self.route_table(&vpc, &[&private]).await?;
        self.route(&rt, "0.0.0.0/0", RouteTo::Nat(&nat)).await?;
        Ok(Ids {
            lambda_sg: self.security_group(&vpc, "lambda", false).await?,
            vpc,
            vpc_cidr: VPC_CIDR.into(),
            lambda_subnets: vec![private],
            public_subnets: vec![nat_subnet],
            igw: Some(igw),
            nat_gateways: vec![nat],
            lambda_route_tables: vec![rt],
            ..Ids::default()
        })
    }

    /// R21: the function subnet's NACL lets requests out but no return traffic on the
    /// ephemeral ports in (inbound allows only TCP 443).
    pub async fn nacl_denies_ephemeral(&self, az: &str) -> Result<Ids> {
        let mut ids = self.healthy_private_with_nat(&[az]).await?;
        let acl = self
            .network_acl(&ids.vpc, &[&ids.lambda_subnets[0]])
            .await?;
        self.nacl_entry(&acl, 100, true, "-1", true, "0.0.0.0/0", None)
            .await?;
        self.nacl_entry(&acl, 100, false, "6", true, "0.0.0.0/0", Some((443, 443)))
            .await?;
        ids.nacls.push(acl);
        Ok(ids)
    }

    /// R22: inbound return traffic allowed only on 32768-65535 (Linux range): Lambda and
    /// NAT use 1024-65535, so some connections fail (intermittent).
    pub async fn nacl_partial_ephemeral(&self, az: &str) -> Result<Ids> {
        let mut ids = self.healthy_private_with_nat(&[az]).await?;
        let acl = self
            .network_acl(&ids.vpc, &[&ids.lambda_subnets[0]])
            .await?;
        self.nacl_entry(&acl, 100, true, "-1", true, "0.0.0.0/0", None)
            .await?;
        // `tcp` spelled as a name: moto stores it verbatim; the reader must normalise it.
        self.nacl_entry(
            &acl,
            110,
            false,
            "tcp",
            true,
            "0.0.0.0/0",
            Some((32768, 65535)),
        )
        .await?;
        self.nacl_entry(
            &acl,
            120,
            false,
            "17",
            true,
            "0.0.0.0/0",
            Some((32768, 65535)),
        )
        .await?;
        ids.nacls.push(acl);
        Ok(ids)
    }

    /// R20: the NAT subnet's NACL drops the function subnet's traffic on its way in.
    pub async fn nat_subnet_nacl_blocks(&self, az: &str) -> Result<Ids> {
        let mut ids = self.healthy_private_with_nat(&[az]).await?;
        let acl = self
            .network_acl(&ids.vpc, &[&ids.public_subnets[0]])
            .await?;
        self.nacl_entry(&acl, 90, false, "6", false, VPC_CIDR, Some((443, 443)))
            .await?;
        self.nacl_allow_all(&acl).await?;
        ids.nacls.push(acl);
        Ok(ids)
    }

    /// R23: the function's security group allows no TCP 443 egress (only 80 and DNS).
    pub async fn sg_no_443_egress(&self, az: &str) -> Result<Ids> {
        let mut ids = self.healthy_private_with_nat(&[az]).await?;
        let sg = self.security_group(&ids.vpc, "lambda-no-443", true).await?;
        self.sg_egress(&sg, "tcp", Some((80, 80)), "0.0.0.0/0")
            .await?;
        self.sg_egress(&sg, "udp", Some((53, 53)), "0.0.0.0/0")
            .await?;
        ids.lambda_sg = sg;
        Ok(ids)
    }

    /// R25: DHCP options name a custom DNS server (192.0.2.53), and the function's security
    /// group allows only TCP 443 — queries to it are dropped.
    pub async fn custom_dns_unreachable(&self, az: &str) -> Result<Ids> {
        let mut ids = self.healthy_private_with_nat(&[az]).await?;
        ids.dhcp_options = Some(self.dhcp_options(&ids.vpc, &["192.0.2.53"]).await?);
        let sg = self
            .security_group(&ids.vpc, "lambda-https-only", true)
            .await?;
        self.sg_egress(&sg, "tcp", Some((443, 443)), "0.0.0.0/0")
            .await?;
        ids.lambda_sg = sg;
        Ok(ids)
    }

    /// R24: enableDnsSupport is off.
    pub async fn dns_support_off(&self, az: &str) -> Result<Ids> {
        let ids = self.healthy_private_with_nat(&[az]).await?;
        self.vpc_dns(&ids.vpc, Some(false), None).await?;
        Ok(ids)
    }

    /// R25: a healthy VPC that was then associated with *no* DHCP options
    /// (`associate-dhcp-options --dhcp-options-id default`): no DNS server is handed out.
    pub async fn no_dhcp_options(&self, az: &str) -> Result<Ids> {
        let ids = self.healthy_private_with_nat(&[az]).await?;
        self.ec2
            .associate_dhcp_options()
            .dhcp_options_id("default")
            .vpc_id(&ids.vpc)
            .send()
            .await
            .context("AssociateDhcpOptions default")?;
        Ok(ids)
    }

    /// R31: a dual-stack VPC with an egress-only IGW, but the function subnet's table has no
    /// `::/0` route.
    pub async fn dual_stack_no_ipv6_route(&self, az: &str) -> Result<Ids> {
        let mut ids = self.private_with_nat(&[az], true).await?;
        ids.eigw = Some(self.egress_only_internet_gateway(&ids.vpc).await?);
        Ok(ids)
    }
}
