//! A fix as data (issue 11): one structured change to the network, with ONE renderer to
//! the AWS CLI command line ([`Change::cli`]), ONE parser back from it
//! ([`Change::parse_cli`], also for `diagnose --what-if`) and ONE simulator
//! ([`Change::apply`]), so the printed command and what a simulation changes cannot
//! disagree.
//!
//! Resources a fix creates have no ID until AWS returns one. In a change they carry a
//! placeholder ID `<prefix>-new…` (`rtb-new`, `nat-new`, `eipalloc-new`); the command
//! line captures the real ID into a shell variable (`RTB_NEW=$(aws ec2 create-route-table
//! … --query RouteTable.RouteTableId --output text)`) and later commands use `"$RTB_NEW"`,
//! so the printed lines run as they are in one shell.

use super::snapshot::{
    DhcpOptions, GatewayAttachment, InternetGateway, NaclEntry, NatGateway, NetworkSnapshot,
    PortRange, Protocol, Route, RouteDestination, RouteState, RouteTable, RouteTarget, RuleAction,
    SgPeer, SgRule,
};
use super::transit::{TgwAssociation, TgwRoute, TgwRouteAttachment, TransitGatewayAttachment};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

mod dns;
pub use dns::DNS_CLI_VERBS;

/// A VPC attribute `modify-vpc-attribute` sets (R24, R29).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VpcAttribute {
    EnableDnsSupport,
    EnableDnsHostnames,
}

/// One change to a VPC's configuration (or a function's VPC configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum Change {
    /// `create-route` (R5-R8).
    CreateRoute {
        rtb: String,
        destination: RouteDestination,
        target: RouteTarget,
    },
    /// `replace-route`: the same destination, a new target.
    ReplaceRoute {
        rtb: String,
        destination: RouteDestination,
        target: RouteTarget,
    },
    /// `delete-route`.
    DeleteRoute {
        rtb: String,
        destination: RouteDestination,
    },
    /// `create-route-table`: a new table with the VPC's local routes (its ID is `rtb`, a
    /// placeholder until created).
    CreateRouteTable { vpc: String, rtb: String },
    /// `associate-route-table`: the subnet must not have an explicit association yet.
    AssociateRouteTable { rtb: String, subnet: String },
    /// `replace-route-table-association`: the subnet's association (explicit, or the
    /// main table it falls back to) moves to `rtb`.
    ReplaceRouteTableAssociation { subnet: String, rtb: String },
    /// `create-network-acl-entry`.
    CreateNaclEntry { acl: String, entry: NaclEntry },
    /// `replace-network-acl-entry` (same rule number and direction).
    ReplaceNaclEntry { acl: String, entry: NaclEntry },
    /// `delete-network-acl-entry`.
    DeleteNaclEntry {
        acl: String,
        egress: bool,
        rule_number: i32,
    },
    /// `authorize-security-group-egress` (R18).
    AuthorizeSgEgress { group: String, rule: SgRule },
    /// `revoke-security-group-egress`.
    RevokeSgEgress { group: String, rule: SgRule },
    /// `authorize-security-group-ingress` (R18, R29).
    AuthorizeSgIngress { group: String, rule: SgRule },
    /// `revoke-security-group-ingress`.
    RevokeSgIngress { group: String, rule: SgRule },
    /// `create-dhcp-options`: a new set (its ID `options.id` is a placeholder).
    CreateDhcpOptions { options: DhcpOptions },
    /// `associate-dhcp-options`. `default` associates *no* options and turns DNS off for
    /// the VPC (R25): it can be simulated (`--what-if`), a fix never uses it.
    AssociateDhcpOptions { vpc: String, dhcp_options: String },
    /// `modify-vpc-attribute` (R24).
    ModifyVpcAttribute {
        vpc: String,
        attribute: VpcAttribute,
        value: bool,
    },
    /// `modify-vpc-endpoint --private-dns-enabled` (R29).
    ModifyEndpointPrivateDns { endpoint: String, enabled: bool },
    /// `allocate-address --domain vpc` (the allocation ID is a placeholder).
    AllocateAddress { allocation: String },
    /// `create-nat-gateway` in a public subnet with an Elastic IP (R10, R12). The
    /// simulation takes the end state, `available`.
    CreateNatGateway {
        subnet: String,
        allocation: String,
        nat: String,
    },
    /// `associate-nat-gateway-address` (R10).
    AssociateNatGatewayAddress { nat: String, allocation: String },
    /// `delete-nat-gateway`: routes to it turn into blackholes (R8).
    DeleteNatGateway { nat: String },
    /// `create-internet-gateway` (the ID is a placeholder).
    CreateInternetGateway { igw: String },
    /// `attach-internet-gateway` (R16).
    AttachInternetGateway { igw: String, vpc: String },
    /// `detach-internet-gateway`.
    DetachInternetGateway { igw: String, vpc: String },
    /// `create-egress-only-internet-gateway` (R31).
    CreateEgressOnlyInternetGateway { vpc: String, eigw: String },
    /// `create-transit-gateway-route` (R39); no attachment = `--blackhole`.
    CreateTgwRoute {
        table: String,
        destination: RouteDestination,
        attachment: Option<String>,
    },
    /// `replace-transit-gateway-route` (R40).
    ReplaceTgwRoute {
        table: String,
        destination: RouteDestination,
        attachment: Option<String>,
    },
    /// `associate-transit-gateway-route-table` (R38, R39).
    AssociateTgwRouteTable { table: String, attachment: String },
    /// `enable-transit-gateway-route-table-propagation` (R41): the attachment's VPC CIDRs
    /// appear in the table as propagated routes.
    EnableTgwPropagation { table: String, attachment: String },
    /// `modify-transit-gateway-vpc-attachment` (R37, R42, R44).
    ModifyTgwVpcAttachment {
        attachment: String,
        #[serde(default)]
        add_subnets: Vec<String>,
        #[serde(default)]
        remove_subnets: Vec<String>,
        #[serde(default)]
        appliance_mode: Option<bool>,
    },
    /// `create-transit-gateway-vpc-attachment` (R37); the attachment ID is a placeholder.
    CreateTgwVpcAttachment {
        tgw: String,
        vpc: String,
        subnets: Vec<String>,
        attachment: String,
    },
    /// `update-function-configuration --vpc-config` (R4, R31).
    UpdateFunctionVpcConfig {
        function: String,
        subnets: Vec<String>,
        security_groups: Vec<String>,
        #[serde(default)]
        ipv6: bool,
    },
    /// `create-vpc-block-public-access-exclusion` (R17) for a subnet or a VPC.
    CreateBpaExclusion { resource: String, mode: String },
    // The DNS path (R60-R63): rendered, parsed and applied in `change/dns.rs`.
    /// `route53 change-resource-record-sets` UPSERT of one record set (R60).
    UpsertDnsRecord {
        zone: String,
        name: String,
        record_type: String,
        ttl: u32,
        values: Vec<String>,
    },
    /// `route53 disassociate-vpc-from-hosted-zone` (R60).
    DisassociateVpcFromHostedZone {
        zone: String,
        vpc: String,
        region: String,
    },
    /// `route53profiles disassociate-resource-from-profile` of a private zone (R62).
    DisassociateZoneFromProfile { profile: String, zone: String },
    /// `route53resolver update-firewall-domains` (R61): `ADD`, `REMOVE` or `REPLACE`.
    UpdateFirewallDomains {
        list: String,
        operation: String,
        domains: Vec<String>,
    },
    /// `route53resolver create-firewall-domain-list` (the ID is a placeholder).
    CreateFirewallDomainList { name: String, list: String },
    /// `route53resolver create-firewall-rule` (R61).
    CreateFirewallRule {
        group: String,
        list: String,
        priority: i32,
        /// `ALLOW | BLOCK | ALERT`.
        action: String,
        #[serde(default)]
        block_response: Option<String>,
        name: String,
    },
    /// `route53resolver update-firewall-config --firewall-fail-open` (R61).
    UpdateFirewallConfig { vpc: String, fail_open: String },
    /// `ec2 modify-subnet-attribute --[no-]enable-dns64` (R63).
    ModifySubnetDns64 { subnet: String, enabled: bool },
}

/// A change that cannot be applied to the snapshot, or a command line that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("{0} is not in the snapshot")]
    NotFound(String),
    #[error("{acl} already has {dir} rule {rule}: use replace-network-acl-entry")]
    RuleExists {
        acl: String,
        dir: &'static str,
        rule: i32,
    },
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Parse(String),
}

fn dir(egress: bool) -> &'static str {
    if egress { "egress" } else { "ingress" }
}

/// True for an ID a change creates (`rtb-new`, `nat-new2`): rendered as a shell variable.
pub fn is_placeholder(id: &str) -> bool {
    id.split('-').any(|part| part.starts_with("new"))
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `rtb-new` → `"$RTB_NEW"`; a real ID as it is.
fn shell(id: &str) -> String {
    if is_placeholder(id) {
        format!("\"${}\"", var(id))
    } else {
        id.to_string()
    }
}

fn var(id: &str) -> String {
    id.to_ascii_uppercase().replace('-', "_")
}

/// `"$RTB_NEW"` / `$RTB_NEW` → `rtb-new`.
fn unshell(word: &str) -> String {
    match word.strip_prefix('$') {
        Some(v)
            if !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') =>
        {
            v.to_ascii_lowercase().replace('_', "-")
        }
        _ => word.to_string(),
    }
}

/// `VAR=$(create … --query Q --output text)` for a created resource.
fn capture(id: &str, command: String, query: &str) -> String {
    format!("{}=$({command} --query {query} --output text)", var(id))
}

fn entry_flags(e: &NaclEntry) -> String {
    let cidr_flag = match e.cidr {
        IpNet::V4(_) => "--cidr-block",
        IpNet::V6(_) => "--ipv6-cidr-block",
    };
    let ports = match (e.protocol.0, e.port_range) {
        (6 | 17, Some(p)) => format!(" --port-range From={},To={}", p.from, p.to),
        _ => String::new(),
    };
    let action = match e.action {
        RuleAction::Allow => "allow",
        RuleAction::Deny => "deny",
    };
    format!(
        "--{} --rule-number {} --protocol {}{ports} {cidr_flag} {} --rule-action {action}",
        dir(e.egress),
        e.rule_number,
        e.protocol.name(),
        e.cidr
    )
}

fn dest_flag(d: &RouteDestination) -> String {
    match d {
        RouteDestination::Ipv4(n) => format!("--destination-cidr-block {n}"),
        RouteDestination::Ipv6(n) => format!("--destination-ipv6-cidr-block {n}"),
        RouteDestination::PrefixList(p) => format!("--destination-prefix-list-id {p}"),
    }
}

fn target_flag(t: &RouteTarget) -> String {
    let flag = match t {
        RouteTarget::InternetGateway(_)
        | RouteTarget::VirtualPrivateGateway(_)
        | RouteTarget::Local
        | RouteTarget::Other(_) => "--gateway-id",
        RouteTarget::EgressOnlyInternetGateway(_) => "--egress-only-internet-gateway-id",
        RouteTarget::NatGateway(_) => "--nat-gateway-id",
        RouteTarget::TransitGateway(_) => "--transit-gateway-id",
        RouteTarget::VpcPeeringConnection(_) => "--vpc-peering-connection-id",
        RouteTarget::NetworkInterface(_) => "--network-interface-id",
        RouteTarget::Instance(_) => "--instance-id",
        RouteTarget::VpcEndpoint(_) => "--vpc-endpoint-id",
        RouteTarget::LocalGateway(_) => "--local-gateway-id",
        RouteTarget::CarrierGateway(_) => "--carrier-gateway-id",
        RouteTarget::CoreNetwork(_) => "--core-network-arn",
    };
    format!("{flag} {}", shell(t.id()))
}

/// `IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=0.0.0.0/0}]`.
fn ip_permissions(rule: &SgRule) -> String {
    // Security groups spell "all protocols" -1, not `all`.
    let proto = match rule.protocol.0 {
        -1 => "-1".to_string(),
        _ => rule.protocol.name(),
    };
    let mut s = format!("IpProtocol={proto}");
    if matches!(rule.protocol.0, 6 | 17)
        && let Some(p) = rule.port_range
    {
        s.push_str(&format!(",FromPort={},ToPort={}", p.from, p.to));
    }
    match &rule.peer {
        SgPeer::Cidr(IpNet::V4(n)) => s.push_str(&format!(",IpRanges=[{{CidrIp={n}}}]")),
        SgPeer::Cidr(IpNet::V6(n)) => s.push_str(&format!(",Ipv6Ranges=[{{CidrIpv6={n}}}]")),
        SgPeer::PrefixList(p) => s.push_str(&format!(",PrefixListIds=[{{PrefixListId={p}}}]")),
        SgPeer::SecurityGroup(g) => s.push_str(&format!(",UserIdGroupPairs=[{{GroupId={g}}}]")),
    }
    s
}

/// `--protocol tcp --port 443 --source-group sg-1` (or `--cidr`): the ingress shorthand,
/// for one TCP/UDP port range from a group or an IPv4 CIDR.
fn simple_ingress(rule: &SgRule) -> Option<String> {
    let p = rule.port_range?;
    if !matches!(rule.protocol.0, 6 | 17) {
        return None;
    }
    let port = if p.from == p.to {
        p.from.to_string()
    } else {
        format!("{}-{}", p.from, p.to)
    };
    let peer = match &rule.peer {
        SgPeer::SecurityGroup(g) => format!("--source-group {g}"),
        SgPeer::Cidr(IpNet::V4(n)) => format!("--cidr {n}"),
        _ => return None,
    };
    Some(format!(
        "--protocol {} --port {port} {peer}",
        rule.protocol.name()
    ))
}

fn tgw_route_target(attachment: &Option<String>) -> String {
    match attachment {
        Some(a) => format!("--transit-gateway-attachment-id {}", shell(a)),
        None => "--blackhole".to_string(),
    }
}

fn same_rule(a: &SgRule, b: &SgRule) -> bool {
    a.protocol == b.protocol && a.port_range == b.port_range && a.peer == b.peer
}

impl Change {
    /// A NACL entry with the fields a fix sets.
    pub fn nacl_entry(
        egress: bool,
        rule_number: i32,
        protocol: Protocol,
        ports: PortRange,
        cidr: IpNet,
        action: RuleAction,
    ) -> NaclEntry {
        NaclEntry {
            rule_number,
            egress,
            protocol,
            action,
            cidr,
            port_range: matches!(protocol.0, 6 | 17).then_some(ports),
            icmp_type_code: None,
        }
    }

    /// A security-group rule for one port (or all, for protocol -1) to or from a peer.
    pub fn sg_rule(protocol: Protocol, ports: Option<PortRange>, peer: SgPeer) -> SgRule {
        SgRule {
            rule_id: None,
            protocol,
            port_range: if matches!(protocol.0, 6 | 17) {
                ports
            } else {
                None
            },
            peer,
        }
    }

    /// The AWS CLI command line (the only renderer).
    pub fn cli(&self) -> String {
        match self {
            Change::CreateRoute {
                rtb,
                destination,
                target,
            } => format!(
                "aws ec2 create-route --route-table-id {} {} {}",
                shell(rtb),
                dest_flag(destination),
                target_flag(target)
            ),
            Change::ReplaceRoute {
                rtb,
                destination,
                target,
            } => format!(
                "aws ec2 replace-route --route-table-id {} {} {}",
                shell(rtb),
                dest_flag(destination),
                target_flag(target)
            ),
            Change::DeleteRoute { rtb, destination } => format!(
                "aws ec2 delete-route --route-table-id {} {}",
                shell(rtb),
                dest_flag(destination)
            ),
            Change::CreateRouteTable { vpc, rtb } => capture(
                rtb,
                format!("aws ec2 create-route-table --vpc-id {}", shell(vpc)),
                "RouteTable.RouteTableId",
            ),
            Change::AssociateRouteTable { rtb, subnet } => format!(
                "aws ec2 associate-route-table --route-table-id {} --subnet-id {subnet}",
                shell(rtb)
            ),
            Change::ReplaceRouteTableAssociation { subnet, rtb } => format!(
                "aws ec2 replace-route-table-association --association-id \"$(aws ec2 describe-route-tables --filters Name=association.subnet-id,Values={subnet} --query 'RouteTables[].Associations[?SubnetId==`{subnet}`].RouteTableAssociationId' --output text)\" --route-table-id {}",
                shell(rtb)
            ),
            Change::CreateNaclEntry { acl, entry } => format!(
                "aws ec2 create-network-acl-entry --network-acl-id {acl} {}",
                entry_flags(entry)
            ),
            Change::ReplaceNaclEntry { acl, entry } => format!(
                "aws ec2 replace-network-acl-entry --network-acl-id {acl} {}",
                entry_flags(entry)
            ),
            Change::DeleteNaclEntry {
                acl,
                egress,
                rule_number,
            } => format!(
                "aws ec2 delete-network-acl-entry --network-acl-id {acl} --{} --rule-number {rule_number}",
                dir(*egress)
            ),
            Change::AuthorizeSgEgress { group, rule } => format!(
                "aws ec2 authorize-security-group-egress --group-id {group} --ip-permissions '{}'",
                ip_permissions(rule)
            ),
            Change::RevokeSgEgress { group, rule } => format!(
                "aws ec2 revoke-security-group-egress --group-id {group} --ip-permissions '{}'",
                ip_permissions(rule)
            ),
            Change::AuthorizeSgIngress { group, rule } => match simple_ingress(rule) {
                Some(flags) => {
                    format!("aws ec2 authorize-security-group-ingress --group-id {group} {flags}")
                }
                None => format!(
                    "aws ec2 authorize-security-group-ingress --group-id {group} --ip-permissions '{}'",
                    ip_permissions(rule)
                ),
            },
            Change::RevokeSgIngress { group, rule } => format!(
                "aws ec2 revoke-security-group-ingress --group-id {group} --ip-permissions '{}'",
                ip_permissions(rule)
            ),
            Change::CreateDhcpOptions { options } => {
                let mut s = String::from("aws ec2 create-dhcp-options --dhcp-configurations");
                if !options.domain_name_servers.is_empty() {
                    s.push_str(&format!(
                        " \"Key=domain-name-servers,Values={}\"",
                        options.domain_name_servers.join(",")
                    ));
                }
                if let Some(d) = &options.domain_name {
                    s.push_str(&format!(" \"Key=domain-name,Values={d}\""));
                }
                capture(&options.id, s, "DhcpOptions.DhcpOptionsId")
            }
            Change::AssociateDhcpOptions { vpc, dhcp_options } => format!(
                "aws ec2 associate-dhcp-options --dhcp-options-id {} --vpc-id {vpc}",
                shell(dhcp_options)
            ),
            Change::ModifyVpcAttribute {
                vpc,
                attribute,
                value,
            } => {
                let name = match attribute {
                    VpcAttribute::EnableDnsSupport => "enable-dns-support",
                    VpcAttribute::EnableDnsHostnames => "enable-dns-hostnames",
                };
                let no = if *value { "" } else { "no-" };
                format!("aws ec2 modify-vpc-attribute --vpc-id {vpc} --{no}{name}")
            }
            Change::ModifyEndpointPrivateDns { endpoint, enabled } => format!(
                "aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoint} --{}private-dns-enabled",
                if *enabled { "" } else { "no-" }
            ),
            Change::AllocateAddress { allocation } => capture(
                allocation,
                "aws ec2 allocate-address --domain vpc".into(),
                "AllocationId",
            ),
            Change::CreateNatGateway {
                subnet,
                allocation,
                nat,
            } => capture(
                nat,
                format!(
                    "aws ec2 create-nat-gateway --subnet-id {subnet} --allocation-id {}",
                    shell(allocation)
                ),
                "NatGateway.NatGatewayId",
            ),
            Change::AssociateNatGatewayAddress { nat, allocation } => format!(
                "aws ec2 associate-nat-gateway-address --nat-gateway-id {} --allocation-ids {}",
                shell(nat),
                shell(allocation)
            ),
            Change::DeleteNatGateway { nat } => {
                format!("aws ec2 delete-nat-gateway --nat-gateway-id {}", shell(nat))
            }
            Change::CreateInternetGateway { igw } => capture(
                igw,
                "aws ec2 create-internet-gateway".into(),
                "InternetGateway.InternetGatewayId",
            ),
            Change::AttachInternetGateway { igw, vpc } => format!(
                "aws ec2 attach-internet-gateway --internet-gateway-id {} --vpc-id {vpc}",
                shell(igw)
            ),
            Change::DetachInternetGateway { igw, vpc } => format!(
                "aws ec2 detach-internet-gateway --internet-gateway-id {} --vpc-id {vpc}",
                shell(igw)
            ),
            Change::CreateEgressOnlyInternetGateway { vpc, eigw } => capture(
                eigw,
                format!("aws ec2 create-egress-only-internet-gateway --vpc-id {vpc}"),
                "EgressOnlyInternetGateway.EgressOnlyInternetGatewayId",
            ),
            Change::CreateTgwRoute {
                table,
                destination,
                attachment,
            } => format!(
                "aws ec2 create-transit-gateway-route --transit-gateway-route-table-id {table} --destination-cidr-block {destination} {}",
                tgw_route_target(attachment)
            ),
            Change::ReplaceTgwRoute {
                table,
                destination,
                attachment,
            } => format!(
                "aws ec2 replace-transit-gateway-route --transit-gateway-route-table-id {table} --destination-cidr-block {destination} {}",
                tgw_route_target(attachment)
            ),
            Change::AssociateTgwRouteTable { table, attachment } => format!(
                "aws ec2 associate-transit-gateway-route-table --transit-gateway-route-table-id {table} --transit-gateway-attachment-id {}",
                shell(attachment)
            ),
            Change::EnableTgwPropagation { table, attachment } => format!(
                "aws ec2 enable-transit-gateway-route-table-propagation --transit-gateway-route-table-id {table} --transit-gateway-attachment-id {}",
                shell(attachment)
            ),
            Change::ModifyTgwVpcAttachment {
                attachment,
                add_subnets,
                remove_subnets,
                appliance_mode,
            } => {
                let mut s = format!(
                    "aws ec2 modify-transit-gateway-vpc-attachment --transit-gateway-attachment-id {}",
                    shell(attachment)
                );
                if !add_subnets.is_empty() {
                    s.push_str(&format!(" --add-subnet-ids {}", add_subnets.join(" ")));
                }
                if !remove_subnets.is_empty() {
                    s.push_str(&format!(
                        " --remove-subnet-ids {}",
                        remove_subnets.join(" ")
                    ));
                }
                if let Some(on) = appliance_mode {
                    s.push_str(&format!(
                        " --options ApplianceModeSupport={}",
                        if *on { "enable" } else { "disable" }
                    ));
                }
                s
            }
            Change::CreateTgwVpcAttachment {
                tgw,
                vpc,
                subnets,
                attachment,
            } => capture(
                attachment,
                format!(
                    "aws ec2 create-transit-gateway-vpc-attachment --transit-gateway-id {tgw} --vpc-id {vpc} --subnet-ids {}",
                    subnets.join(" ")
                ),
                "TransitGatewayVpcAttachment.TransitGatewayAttachmentId",
            ),
            Change::UpdateFunctionVpcConfig {
                function,
                subnets,
                security_groups,
                ipv6,
            } => {
                let mut s = format!(
                    "aws lambda update-function-configuration --function-name {function} --vpc-config SubnetIds={},SecurityGroupIds={}",
                    subnets.join(","),
                    security_groups.join(",")
                );
                if *ipv6 {
                    s.push_str(",Ipv6AllowedForDualStack=true");
                }
                s
            }
            Change::CreateBpaExclusion { resource, mode } => {
                let flag = if resource.starts_with("subnet-") {
                    "--subnet-id"
                } else {
                    "--vpc-id"
                };
                format!(
                    "aws ec2 create-vpc-block-public-access-exclusion {flag} {resource} --internet-gateway-exclusion-mode {mode}"
                )
            }
            c @ (Change::UpsertDnsRecord { .. }
            | Change::DisassociateVpcFromHostedZone { .. }
            | Change::DisassociateZoneFromProfile { .. }
            | Change::UpdateFirewallDomains { .. }
            | Change::CreateFirewallDomainList { .. }
            | Change::CreateFirewallRule { .. }
            | Change::UpdateFirewallConfig { .. }
            | Change::ModifySubnetDns64 { .. }) => dns::cli(c),
        }
    }

    /// The resource IDs the change edits or creates, and the subnets whose path it can
    /// alter directly: incremental re-evaluation re-walks only paths that cross one of
    /// them (issue 11).
    pub fn touched(&self) -> Vec<String> {
        match self {
            // A route edit changes only the paths through its table.
            Change::CreateRoute { rtb, .. }
            | Change::ReplaceRoute { rtb, .. }
            | Change::DeleteRoute { rtb, .. } => vec![rtb.clone()],
            Change::CreateRouteTable { rtb, .. } => vec![rtb.clone()],
            Change::AssociateRouteTable { rtb, subnet }
            | Change::ReplaceRouteTableAssociation { subnet, rtb } => {
                vec![rtb.clone(), subnet.clone()]
            }
            Change::CreateNaclEntry { acl, .. }
            | Change::ReplaceNaclEntry { acl, .. }
            | Change::DeleteNaclEntry { acl, .. } => vec![acl.clone()],
            Change::AuthorizeSgEgress { group, .. }
            | Change::RevokeSgEgress { group, .. }
            | Change::AuthorizeSgIngress { group, .. }
            | Change::RevokeSgIngress { group, .. } => vec![group.clone()],
            Change::CreateDhcpOptions { options } => vec![options.id.clone()],
            Change::AssociateDhcpOptions { vpc, dhcp_options } => {
                vec![vpc.clone(), dhcp_options.clone()]
            }
            Change::ModifyVpcAttribute { vpc, .. } => vec![vpc.clone()],
            Change::ModifyEndpointPrivateDns { endpoint, .. } => vec![endpoint.clone()],
            Change::AllocateAddress { allocation } => vec![allocation.clone()],
            Change::CreateNatGateway { subnet, nat, .. } => vec![nat.clone(), subnet.clone()],
            Change::AssociateNatGatewayAddress { nat, .. } | Change::DeleteNatGateway { nat } => {
                vec![nat.clone()]
            }
            Change::CreateInternetGateway { igw } => vec![igw.clone()],
            Change::AttachInternetGateway { igw, vpc }
            | Change::DetachInternetGateway { igw, vpc } => vec![igw.clone(), vpc.clone()],
            Change::CreateEgressOnlyInternetGateway { eigw, .. } => vec![eigw.clone()],
            Change::CreateTgwRoute {
                table, attachment, ..
            }
            | Change::ReplaceTgwRoute {
                table, attachment, ..
            } => [vec![table.clone()], attachment.iter().cloned().collect()].concat(),
            Change::AssociateTgwRouteTable { table, attachment }
            | Change::EnableTgwPropagation { table, attachment } => {
                vec![table.clone(), attachment.clone()]
            }
            Change::ModifyTgwVpcAttachment {
                attachment,
                add_subnets,
                remove_subnets,
                ..
            } => [
                vec![attachment.clone()],
                add_subnets.clone(),
                remove_subnets.clone(),
            ]
            .concat(),
            Change::CreateTgwVpcAttachment {
                tgw,
                vpc,
                attachment,
                ..
            } => vec![tgw.clone(), vpc.clone(), attachment.clone()],
            Change::UpdateFunctionVpcConfig { function, .. } => vec![function.clone()],
            Change::CreateBpaExclusion { resource, .. } => vec![resource.clone()],
            c @ (Change::UpsertDnsRecord { .. }
            | Change::DisassociateVpcFromHostedZone { .. }
            | Change::DisassociateZoneFromProfile { .. }
            | Change::UpdateFirewallDomains { .. }
            | Change::CreateFirewallDomainList { .. }
            | Change::CreateFirewallRule { .. }
            | Change::UpdateFirewallConfig { .. }
            | Change::ModifySubnetDns64 { .. }) => dns::touched(c),
        }
    }

    /// True when the change affects every path of a VPC or account (DNS settings, Block
    /// Public Access, internet gateways): incremental re-evaluation re-walks everything.
    pub fn is_global(&self) -> bool {
        matches!(
            self,
            Change::AssociateDhcpOptions { .. }
                | Change::ModifyVpcAttribute { .. }
                | Change::AttachInternetGateway { .. }
                | Change::DetachInternetGateway { .. }
                | Change::CreateBpaExclusion { .. }
                | Change::UpdateFunctionVpcConfig { .. }
        ) || dns::is_global(self)
    }
}

impl Change {
    /// Applies the change to `snap` as AWS would (the only simulator). Refuses what AWS
    /// would refuse, naming why.
    pub fn apply(&self, snap: &mut NetworkSnapshot) -> Result<(), ChangeError> {
        let nf = |id: &str| ChangeError::NotFound(id.to_string());
        match self {
            Change::CreateRoute {
                rtb,
                destination,
                target,
            } => {
                check_target(snap, target)?;
                let t = table_mut(snap, rtb)?;
                if t.routes
                    .iter()
                    .any(|r| &r.destination == destination && !r.propagated)
                {
                    return Err(ChangeError::Refused(format!(
                        "{rtb} already has a route for {destination}: use replace-route"
                    )));
                }
                t.routes.push(Route {
                    destination: destination.clone(),
                    target: target.clone(),
                    state: RouteState::Active,
                    propagated: false,
                });
            }
            Change::ReplaceRoute {
                rtb,
                destination,
                target,
            } => {
                check_target(snap, target)?;
                let t = table_mut(snap, rtb)?;
                let Some(r) = t
                    .routes
                    .iter_mut()
                    .find(|r| &r.destination == destination && !r.propagated)
                else {
                    return Err(ChangeError::NotFound(format!(
                        "route {destination} in {rtb}"
                    )));
                };
                if r.target == RouteTarget::Local {
                    return Err(ChangeError::Refused(format!(
                        "the local route {destination} of {rtb} cannot be replaced"
                    )));
                }
                r.target = target.clone();
                r.state = RouteState::Active;
            }
            Change::DeleteRoute { rtb, destination } => {
                let t = table_mut(snap, rtb)?;
                let Some(i) = t
                    .routes
                    .iter()
                    .position(|r| &r.destination == destination && !r.propagated)
                else {
                    return Err(ChangeError::NotFound(format!(
                        "route {destination} in {rtb}"
                    )));
                };
                if t.routes[i].target == RouteTarget::Local {
                    return Err(ChangeError::Refused(format!(
                        "the local route {destination} of {rtb} cannot be deleted"
                    )));
                }
                t.routes.remove(i);
            }
            Change::CreateRouteTable { vpc, rtb } => {
                if snap.route_tables.iter().any(|t| &t.id == rtb) {
                    return Err(ChangeError::Refused(format!("{rtb} exists")));
                }
                let v = snap.vpc(vpc).ok_or_else(|| nf(vpc))?;
                let mut routes: Vec<Route> = v
                    .cidr_blocks
                    .iter()
                    .map(|c| RouteDestination::Ipv4(*c))
                    .chain(
                        v.ipv6_cidr_blocks
                            .iter()
                            .map(|c| RouteDestination::Ipv6(*c)),
                    )
                    .map(|destination| Route {
                        destination,
                        target: RouteTarget::Local,
                        state: RouteState::Active,
                        propagated: false,
                    })
                    .collect();
                routes.shrink_to_fit();
                snap.route_tables.push(RouteTable {
                    id: rtb.clone(),
                    vpc_id: vpc.clone(),
                    main: false,
                    subnet_ids: vec![],
                    routes,
                });
            }
            Change::AssociateRouteTable { rtb, subnet } => {
                same_vpc(snap, rtb, subnet)?;
                if let Some(t) = snap
                    .route_tables
                    .iter()
                    .find(|t| t.subnet_ids.contains(subnet))
                {
                    return Err(ChangeError::Refused(format!(
                        "{subnet} is already associated with {}: use replace-route-table-association",
                        t.id
                    )));
                }
                table_mut(snap, rtb)?.subnet_ids.push(subnet.clone());
            }
            Change::ReplaceRouteTableAssociation { subnet, rtb } => {
                same_vpc(snap, rtb, subnet)?;
                for t in &mut snap.route_tables {
                    t.subnet_ids.retain(|s| s != subnet);
                }
                table_mut(snap, rtb)?.subnet_ids.push(subnet.clone());
            }
            Change::CreateNaclEntry { acl, entry } => {
                let a = acl_mut(snap, acl)?;
                if a.entries
                    .iter()
                    .any(|e| e.egress == entry.egress && e.rule_number == entry.rule_number)
                {
                    return Err(ChangeError::RuleExists {
                        acl: acl.clone(),
                        dir: dir(entry.egress),
                        rule: entry.rule_number,
                    });
                }
                a.entries.push(entry.clone());
            }
            Change::ReplaceNaclEntry { acl, entry } => {
                let a = acl_mut(snap, acl)?;
                let Some(e) = a
                    .entries
                    .iter_mut()
                    .find(|e| e.egress == entry.egress && e.rule_number == entry.rule_number)
                else {
                    return Err(ChangeError::NotFound(format!(
                        "{acl} {} rule {}",
                        dir(entry.egress),
                        entry.rule_number
                    )));
                };
                *e = entry.clone();
            }
            Change::DeleteNaclEntry {
                acl,
                egress,
                rule_number,
            } => {
                let a = acl_mut(snap, acl)?;
                let before = a.entries.len();
                a.entries
                    .retain(|e| !(e.egress == *egress && e.rule_number == *rule_number));
                if a.entries.len() == before {
                    return Err(ChangeError::NotFound(format!(
                        "{acl} {} rule {rule_number}",
                        dir(*egress)
                    )));
                }
            }
            Change::AuthorizeSgEgress { group, rule }
            | Change::AuthorizeSgIngress { group, rule } => {
                let egress = matches!(self, Change::AuthorizeSgEgress { .. });
                let g = snap
                    .security_groups
                    .iter_mut()
                    .find(|g| &g.id == group)
                    .ok_or_else(|| nf(group))?;
                let rules = if egress {
                    &mut g.egress
                } else {
                    &mut g.ingress
                };
                if rules.iter().any(|r| same_rule(r, rule)) {
                    return Err(ChangeError::Refused(format!(
                        "{group} already has this {} rule (InvalidPermission.Duplicate)",
                        dir(egress)
                    )));
                }
                rules.push(rule.clone());
            }
            Change::RevokeSgEgress { group, rule } | Change::RevokeSgIngress { group, rule } => {
                let egress = matches!(self, Change::RevokeSgEgress { .. });
                let g = snap
                    .security_groups
                    .iter_mut()
                    .find(|g| &g.id == group)
                    .ok_or_else(|| nf(group))?;
                let rules = if egress {
                    &mut g.egress
                } else {
                    &mut g.ingress
                };
                let before = rules.len();
                rules.retain(|r| !same_rule(r, rule));
                if rules.len() == before {
                    return Err(ChangeError::NotFound(format!(
                        "that {} rule of {group}",
                        dir(egress)
                    )));
                }
            }
            Change::CreateDhcpOptions { options } => {
                if snap.dhcp_options.iter().any(|o| o.id == options.id) {
                    return Err(ChangeError::Refused(format!("{} exists", options.id)));
                }
                snap.dhcp_options.push(options.clone());
            }
            Change::AssociateDhcpOptions { vpc, dhcp_options } => {
                if dhcp_options != "default"
                    && !snap.dhcp_options.iter().any(|o| &o.id == dhcp_options)
                {
                    return Err(nf(dhcp_options));
                }
                let v = snap
                    .vpcs
                    .iter_mut()
                    .find(|v| &v.id == vpc)
                    .ok_or_else(|| nf(vpc))?;
                v.dhcp_options_id = Some(dhcp_options.clone());
                // R25: `default` is no options at all, which the model tells apart from
                // AmazonProvidedDNS: no DNS server for the whole VPC.
                let none = &mut snap.dns.no_dhcp_options;
                none.retain(|x| x != vpc);
                if dhcp_options == "default" {
                    none.push(vpc.clone());
                }
            }
            Change::ModifyVpcAttribute {
                vpc,
                attribute,
                value,
            } => {
                let v = snap
                    .vpcs
                    .iter_mut()
                    .find(|v| &v.id == vpc)
                    .ok_or_else(|| nf(vpc))?;
                match attribute {
                    VpcAttribute::EnableDnsSupport => v.enable_dns_support = Some(*value),
                    VpcAttribute::EnableDnsHostnames => v.enable_dns_hostnames = Some(*value),
                }
            }
            Change::ModifyEndpointPrivateDns { endpoint, enabled } => {
                let e = snap
                    .vpc_endpoints
                    .iter_mut()
                    .find(|e| &e.id == endpoint)
                    .ok_or_else(|| nf(endpoint))?;
                e.private_dns_enabled = *enabled;
            }
            // An Elastic IP is not part of the snapshot until a NAT gateway holds it.
            Change::AllocateAddress { .. } => {}
            Change::CreateNatGateway { subnet, nat, .. } => {
                let vpc_id = snap
                    .subnet(subnet)
                    .ok_or_else(|| nf(subnet))?
                    .vpc_id
                    .clone();
                if snap.nat_gateways.iter().any(|n| &n.id == nat) {
                    return Err(ChangeError::Refused(format!("{nat} exists")));
                }
                snap.nat_gateways.push(NatGateway {
                    id: nat.clone(),
                    vpc_id,
                    subnet_id: Some(subnet.clone()),
                    state: "available".into(),
                    connectivity_type: "public".into(),
                    // The address AWS assigns is not known; the simulation needs one.
                    public_ips: vec![std::net::Ipv4Addr::UNSPECIFIED],
                    private_ips: vec![],
                    failure_code: None,
                    failure_message: None,
                    availability_mode: "zonal".into(),
                    regional_zones: vec![],
                    auto_provision_zones: None,
                });
            }
            Change::AssociateNatGatewayAddress { nat, .. } => {
                let n = snap
                    .nat_gateways
                    .iter_mut()
                    .find(|n| &n.id == nat)
                    .ok_or_else(|| nf(nat))?;
                if n.public_ips.is_empty() {
                    n.public_ips.push(std::net::Ipv4Addr::UNSPECIFIED);
                }
            }
            Change::DeleteNatGateway { nat } => {
                let n = snap
                    .nat_gateways
                    .iter_mut()
                    .find(|n| &n.id == nat)
                    .ok_or_else(|| nf(nat))?;
                n.state = "deleted".into();
                // R8: routes to a deleted NAT gateway turn into blackholes.
                for t in &mut snap.route_tables {
                    for r in &mut t.routes {
                        if r.target == RouteTarget::NatGateway(nat.clone()) {
                            r.state = RouteState::Blackhole;
                        }
                    }
                }
            }
            Change::CreateInternetGateway { igw } => {
                snap.internet_gateways.push(InternetGateway {
                    id: igw.clone(),
                    attachments: vec![],
                });
            }
            Change::AttachInternetGateway { igw, vpc } => {
                snap.vpc(vpc).ok_or_else(|| nf(vpc))?;
                let g = snap
                    .internet_gateways
                    .iter_mut()
                    .find(|g| &g.id == igw)
                    .ok_or_else(|| nf(igw))?;
                if !g.attachments.is_empty() {
                    return Err(ChangeError::Refused(format!(
                        "{igw} is already attached to {}",
                        g.attachments[0].vpc_id
                    )));
                }
                g.attachments.push(GatewayAttachment {
                    vpc_id: vpc.clone(),
                    state: "available".into(),
                });
            }
            Change::DetachInternetGateway { igw, vpc } => {
                let g = snap
                    .internet_gateways
                    .iter_mut()
                    .find(|g| &g.id == igw)
                    .ok_or_else(|| nf(igw))?;
                let before = g.attachments.len();
                g.attachments.retain(|a| &a.vpc_id != vpc);
                if g.attachments.len() == before {
                    return Err(ChangeError::Refused(format!(
                        "{igw} is not attached to {vpc}"
                    )));
                }
                // R8: routes to a detached gateway turn into blackholes.
                for t in snap.route_tables.iter_mut().filter(|t| &t.vpc_id == vpc) {
                    for r in &mut t.routes {
                        if r.target == RouteTarget::InternetGateway(igw.clone()) {
                            r.state = RouteState::Blackhole;
                        }
                    }
                }
            }
            Change::CreateEgressOnlyInternetGateway { vpc, eigw } => {
                snap.vpc(vpc).ok_or_else(|| nf(vpc))?;
                snap.egress_only_internet_gateways.push(InternetGateway {
                    id: eigw.clone(),
                    attachments: vec![GatewayAttachment {
                        vpc_id: vpc.clone(),
                        state: "attached".into(),
                    }],
                });
            }
            Change::CreateTgwRoute {
                table,
                destination,
                attachment,
            }
            | Change::ReplaceTgwRoute {
                table,
                destination,
                attachment,
            } => {
                let replace = matches!(self, Change::ReplaceTgwRoute { .. });
                let att = match attachment {
                    Some(a) => Some(tgw_attachment(snap, a)?),
                    None => None,
                };
                let t = snap
                    .transit_gateway_route_tables
                    .iter_mut()
                    .find(|t| &t.id == table)
                    .ok_or_else(|| nf(table))?;
                let existing = t
                    .routes
                    .iter()
                    .position(|r| &r.destination == destination && r.route_type == "static");
                let route = TgwRoute {
                    destination: destination.clone(),
                    route_type: "static".into(),
                    state: if att.is_some() { "active" } else { "blackhole" }.into(),
                    attachments: att.into_iter().collect(),
                };
                match (replace, existing) {
                    (false, Some(_)) => {
                        return Err(ChangeError::Refused(format!(
                            "{table} already has a static route for {destination}: use replace-transit-gateway-route"
                        )));
                    }
                    (true, None) => {
                        return Err(ChangeError::NotFound(format!(
                            "static route {destination} in {table}"
                        )));
                    }
                    (false, None) => t.routes.push(route),
                    (true, Some(i)) => t.routes[i] = route,
                }
            }
            Change::AssociateTgwRouteTable { table, attachment } => {
                snap.transit_gateway_route_table(table)
                    .ok_or_else(|| nf(table))?;
                let a = tgw_attachment_mut(snap, attachment)?;
                if let Some(assoc) = &a.association
                    && assoc.state == "associated"
                {
                    return Err(ChangeError::Refused(format!(
                        "{attachment} is already associated with {}: disassociate it first",
                        assoc.route_table_id
                    )));
                }
                a.association = Some(TgwAssociation {
                    route_table_id: table.clone(),
                    state: "associated".into(),
                });
            }
            Change::EnableTgwPropagation { table, attachment } => {
                let att = tgw_attachment(snap, attachment)?;
                let cidrs: Vec<RouteDestination> = att
                    .resource_id
                    .as_deref()
                    .and_then(|v| snap.vpc(v))
                    .map(|v| {
                        v.cidr_blocks
                            .iter()
                            .map(|c| RouteDestination::Ipv4(*c))
                            .chain(
                                v.ipv6_cidr_blocks
                                    .iter()
                                    .map(|c| RouteDestination::Ipv6(*c)),
                            )
                            .collect()
                    })
                    .unwrap_or_default();
                let t = snap
                    .transit_gateway_route_tables
                    .iter_mut()
                    .find(|t| &t.id == table)
                    .ok_or_else(|| nf(table))?;
                for destination in cidrs {
                    if !t.routes.iter().any(|r| r.destination == destination) {
                        t.routes.push(TgwRoute {
                            destination,
                            route_type: "propagated".into(),
                            state: "active".into(),
                            attachments: vec![att.clone()],
                        });
                    }
                }
            }
            Change::ModifyTgwVpcAttachment {
                attachment,
                add_subnets,
                remove_subnets,
                appliance_mode,
            } => {
                for s in add_subnets {
                    snap.subnet(s).ok_or_else(|| nf(s))?;
                }
                let a = tgw_attachment_mut(snap, attachment)?;
                for s in remove_subnets {
                    if !a.subnet_ids.contains(s) {
                        return Err(ChangeError::Refused(format!(
                            "{s} is not a subnet of {attachment}"
                        )));
                    }
                }
                a.subnet_ids.retain(|s| !remove_subnets.contains(s));
                for s in add_subnets {
                    if !a.subnet_ids.contains(s) {
                        a.subnet_ids.push(s.clone());
                    }
                }
                if let Some(on) = appliance_mode {
                    a.appliance_mode_support = Some(if *on { "enable" } else { "disable" }.into());
                }
            }
            Change::CreateTgwVpcAttachment {
                tgw,
                vpc,
                subnets,
                attachment,
            } => {
                snap.vpc(vpc).ok_or_else(|| nf(vpc))?;
                let default_table = snap
                    .transit_gateways
                    .iter()
                    .find(|t| &t.id == tgw)
                    .ok_or_else(|| nf(tgw))?
                    .association_default_route_table_id
                    .clone();
                snap.transit_gateway_attachments
                    .push(TransitGatewayAttachment {
                        id: attachment.clone(),
                        transit_gateway_id: tgw.clone(),
                        resource_type: "vpc".into(),
                        resource_id: Some(vpc.clone()),
                        resource_owner_id: None,
                        transit_gateway_owner_id: None,
                        state: "available".into(),
                        association: default_table.map(|route_table_id| TgwAssociation {
                            route_table_id,
                            state: "associated".into(),
                        }),
                        subnet_ids: subnets.clone(),
                        appliance_mode_support: None,
                        name: None,
                    });
            }
            Change::UpdateFunctionVpcConfig {
                function,
                subnets,
                security_groups,
                ipv6,
            } => {
                for s in subnets {
                    snap.subnet(s).ok_or_else(|| nf(s))?;
                }
                let f = snap
                    .functions
                    .iter_mut()
                    .find(|f| &f.name == function)
                    .ok_or_else(|| nf(function))?;
                f.subnet_ids = subnets.clone();
                f.security_group_ids = security_groups.clone();
                f.ipv6_allowed_for_dual_stack = *ipv6;
            }
            Change::CreateBpaExclusion { resource, mode } => {
                let Some(bpa) = snap.block_public_access.as_mut() else {
                    return Err(ChangeError::Refused(
                        "Block Public Access is not in the snapshot".into(),
                    ));
                };
                bpa.exclusions.push(super::snapshot::BpaExclusion {
                    id: format!("vpcbpa-exclude-new-{}", bpa.exclusions.len()),
                    resource_id: resource.clone(),
                    mode: mode.clone(),
                    state: Some("create-complete".into()),
                });
            }
            c @ (Change::UpsertDnsRecord { .. }
            | Change::DisassociateVpcFromHostedZone { .. }
            | Change::DisassociateZoneFromProfile { .. }
            | Change::UpdateFirewallDomains { .. }
            | Change::CreateFirewallDomainList { .. }
            | Change::CreateFirewallRule { .. }
            | Change::UpdateFirewallConfig { .. }
            | Change::ModifySubnetDns64 { .. }) => dns::apply(c, snap)?,
        }
        Ok(())
    }
}

fn table_mut<'a>(
    snap: &'a mut NetworkSnapshot,
    rtb: &str,
) -> Result<&'a mut RouteTable, ChangeError> {
    snap.route_tables
        .iter_mut()
        .find(|t| t.id == rtb)
        .ok_or_else(|| ChangeError::NotFound(rtb.to_string()))
}

fn acl_mut<'a>(
    snap: &'a mut NetworkSnapshot,
    acl: &str,
) -> Result<&'a mut super::snapshot::NetworkAcl, ChangeError> {
    snap.network_acls
        .iter_mut()
        .find(|a| a.id == acl)
        .ok_or_else(|| ChangeError::NotFound(acl.to_string()))
}

fn same_vpc(snap: &NetworkSnapshot, rtb: &str, subnet: &str) -> Result<(), ChangeError> {
    let s = snap
        .subnet(subnet)
        .ok_or_else(|| ChangeError::NotFound(subnet.to_string()))?;
    let t = snap
        .route_table(rtb)
        .ok_or_else(|| ChangeError::NotFound(rtb.to_string()))?;
    if s.vpc_id != t.vpc_id {
        return Err(ChangeError::Refused(format!(
            "{rtb} is in {}, {subnet} in {}",
            t.vpc_id, s.vpc_id
        )));
    }
    Ok(())
}

/// The route target must exist where the snapshot lists such resources.
fn check_target(snap: &NetworkSnapshot, target: &RouteTarget) -> Result<(), ChangeError> {
    let found = match target {
        RouteTarget::NatGateway(id) => snap.nat_gateways.iter().any(|n| &n.id == id),
        RouteTarget::InternetGateway(id) => snap.internet_gateways.iter().any(|g| &g.id == id),
        RouteTarget::EgressOnlyInternetGateway(id) => snap
            .egress_only_internet_gateways
            .iter()
            .any(|g| &g.id == id),
        RouteTarget::Local => {
            return Err(ChangeError::Refused(
                "a route to `local` cannot be created or replaced".into(),
            ));
        }
        _ => true,
    };
    if found {
        Ok(())
    } else {
        Err(ChangeError::NotFound(target.id().to_string()))
    }
}

fn tgw_attachment(snap: &NetworkSnapshot, id: &str) -> Result<TgwRouteAttachment, ChangeError> {
    let a = snap
        .transit_gateway_attachment(id)
        .ok_or_else(|| ChangeError::NotFound(id.to_string()))?;
    Ok(TgwRouteAttachment {
        attachment_id: a.id.clone(),
        resource_id: a.resource_id.clone(),
        resource_type: Some(a.resource_type.clone()),
    })
}

fn tgw_attachment_mut<'a>(
    snap: &'a mut NetworkSnapshot,
    id: &str,
) -> Result<&'a mut TransitGatewayAttachment, ChangeError> {
    snap.transit_gateway_attachments
        .iter_mut()
        .find(|a| a.id == id)
        .ok_or_else(|| ChangeError::NotFound(id.to_string()))
}

/// Splits a command line into words as a POSIX shell would for the forms printed here:
/// single and double quotes, backslash escapes, `$(…)` kept as one word.
fn words(line: &str) -> Result<Vec<String>, ChangeError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut started = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err(ChangeError::Parse("unclosed ' quote".into())),
                    }
                }
            }
            '"' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => {
                            if let Some(x) = chars.next() {
                                cur.push(x);
                            }
                        }
                        Some('$') if chars.peek() == Some(&'(') => {
                            cur.push('$');
                            cur.push_str(&subshell(&mut chars)?);
                        }
                        Some(x) => cur.push(x),
                        None => return Err(ChangeError::Parse("unclosed \" quote".into())),
                    }
                }
            }
            '\\' => {
                started = true;
                if let Some(x) = chars.next() {
                    cur.push(x);
                }
            }
            '$' if chars.peek() == Some(&'(') => {
                started = true;
                cur.push('$');
                cur.push_str(&subshell(&mut chars)?);
            }
            '#' if !started => break,
            c if c.is_whitespace() => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            c => {
                started = true;
                cur.push(c);
            }
        }
    }
    if started {
        out.push(cur);
    }
    Ok(out)
}

/// `(…)` with nesting and quotes, from the opening parenthesis.
fn subshell(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<String, ChangeError> {
    let mut s = String::new();
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for c in chars.by_ref() {
        s.push(c);
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 {
                    return Ok(s);
                }
            }
            _ => {}
        }
    }
    Err(ChangeError::Parse("unclosed $( … )".into()))
}

/// The verbs `--what-if` and the fix parser accept (AWS CLI `aws ec2 …` / `aws lambda …`).
pub const CLI_VERBS: &[&str] = &[
    "create-route",
    "replace-route",
    "delete-route",
    "create-route-table",
    "associate-route-table",
    "replace-route-table-association",
    "create-network-acl-entry",
    "replace-network-acl-entry",
    "delete-network-acl-entry",
    "authorize-security-group-egress",
    "revoke-security-group-egress",
    "authorize-security-group-ingress",
    "revoke-security-group-ingress",
    "create-dhcp-options",
    "associate-dhcp-options",
    "modify-vpc-attribute",
    "modify-vpc-endpoint",
    "allocate-address",
    "create-nat-gateway",
    "associate-nat-gateway-address",
    "delete-nat-gateway",
    "create-internet-gateway",
    "attach-internet-gateway",
    "detach-internet-gateway",
    "create-egress-only-internet-gateway",
    "create-transit-gateway-route",
    "replace-transit-gateway-route",
    "associate-transit-gateway-route-table",
    "enable-transit-gateway-route-table-propagation",
    "modify-transit-gateway-vpc-attachment",
    "create-transit-gateway-vpc-attachment",
    "update-function-configuration",
    "create-vpc-block-public-access-exclusion",
    "modify-subnet-attribute",
];

/// Builds a route target from the ID a flag gives.
type MakeTarget = fn(String) -> RouteTarget;

struct Args<'a> {
    verb: &'a str,
    rest: &'a [String],
}

impl Args<'_> {
    fn bad(&self, why: &str) -> ChangeError {
        ChangeError::Parse(format!("{}: {why}", self.verb))
    }
    fn has(&self, name: &str) -> bool {
        self.rest.iter().any(|w| w == name)
    }
    /// `--flag value` or `--flag=value`.
    fn get(&self, name: &str) -> Option<String> {
        let eq = format!("{name}=");
        self.rest.iter().enumerate().find_map(|(i, w)| {
            if w == name {
                self.rest
                    .get(i + 1)
                    .filter(|v| !v.starts_with("--"))
                    .map(|v| unshell(v))
            } else {
                w.strip_prefix(&eq).map(unshell)
            }
        })
    }
    fn need(&self, name: &str) -> Result<String, ChangeError> {
        self.get(name)
            .ok_or_else(|| self.bad(&format!("{name} is missing")))
    }
    /// Every value after `--flag` up to the next flag.
    fn list(&self, name: &str) -> Vec<String> {
        let Some(i) = self.rest.iter().position(|w| w == name) else {
            return vec![];
        };
        self.rest[i + 1..]
            .iter()
            .take_while(|w| !w.starts_with("--"))
            .flat_map(|w| w.split(',').map(unshell).collect::<Vec<_>>())
            .filter(|w| !w.is_empty())
            .collect()
    }
    fn destination(&self) -> Result<RouteDestination, ChangeError> {
        if let Some(v) = self.get("--destination-cidr-block") {
            return v
                .parse::<Ipv4Net>()
                .map(RouteDestination::Ipv4)
                .map_err(|_| {
                    self.bad(&format!("--destination-cidr-block {v} is not an IPv4 CIDR"))
                });
        }
        if let Some(v) = self.get("--destination-ipv6-cidr-block") {
            return v
                .parse::<Ipv6Net>()
                .map(RouteDestination::Ipv6)
                .map_err(|_| {
                    self.bad(&format!(
                        "--destination-ipv6-cidr-block {v} is not an IPv6 CIDR"
                    ))
                });
        }
        if let Some(v) = self.get("--destination-prefix-list-id") {
            return Ok(RouteDestination::PrefixList(v));
        }
        Err(self.bad(
            "give --destination-cidr-block, --destination-ipv6-cidr-block or --destination-prefix-list-id",
        ))
    }
    fn target(&self) -> Result<RouteTarget, ChangeError> {
        let kinds: [(&str, MakeTarget); 11] = [
            ("--nat-gateway-id", RouteTarget::NatGateway),
            (
                "--egress-only-internet-gateway-id",
                RouteTarget::EgressOnlyInternetGateway,
            ),
            ("--transit-gateway-id", RouteTarget::TransitGateway),
            (
                "--vpc-peering-connection-id",
                RouteTarget::VpcPeeringConnection,
            ),
            ("--network-interface-id", RouteTarget::NetworkInterface),
            ("--instance-id", RouteTarget::Instance),
            ("--vpc-endpoint-id", RouteTarget::VpcEndpoint),
            ("--local-gateway-id", RouteTarget::LocalGateway),
            ("--carrier-gateway-id", RouteTarget::CarrierGateway),
            ("--core-network-arn", RouteTarget::CoreNetwork),
            ("--gateway-id", |id: String| {
                if id.starts_with("vgw-") {
                    RouteTarget::VirtualPrivateGateway(id)
                } else if id.starts_with("igw-") {
                    RouteTarget::InternetGateway(id)
                } else if id == "local" {
                    RouteTarget::Local
                } else {
                    RouteTarget::Other(id)
                }
            }),
        ];
        let found: Vec<RouteTarget> = kinds
            .iter()
            .filter_map(|(flag, make)| self.get(flag).map(make))
            .collect();
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => {
                Err(self
                    .bad("no target: give --nat-gateway-id, --gateway-id, --transit-gateway-id, …"))
            }
            _ => Err(self.bad("give exactly one target")),
        }
    }
    fn direction(&self) -> Result<bool, ChangeError> {
        match (self.has("--egress"), self.has("--ingress")) {
            (true, false) => Ok(true),
            (false, true) => Ok(false),
            _ => Err(self.bad("give exactly one of --egress and --ingress")),
        }
    }
    fn sg_rule(&self) -> Result<SgRule, ChangeError> {
        if let Some(p) = self.get("--ip-permissions") {
            return parse_ip_permissions(&p).map_err(|why| self.bad(&why));
        }
        let protocol = Protocol::parse(&self.need("--protocol")?)
            .ok_or_else(|| self.bad("--protocol is not tcp, udp, icmp, all or a number"))?;
        let ports = match self.get("--port") {
            Some(p) => Some(parse_ports(&p).map_err(|why| self.bad(&why))?),
            None if matches!(protocol.0, 6 | 17) => {
                return Err(self.bad("--port is missing"));
            }
            None => None,
        };
        let peer = if let Some(c) = self.get("--cidr") {
            SgPeer::Cidr(
                c.parse()
                    .map_err(|_| self.bad(&format!("--cidr {c} is not a CIDR")))?,
            )
        } else if let Some(g) = self.get("--source-group") {
            SgPeer::SecurityGroup(g)
        } else {
            return Err(self.bad("give --cidr, --source-group or --ip-permissions"));
        };
        Ok(Change::sg_rule(protocol, ports, peer))
    }
}

fn parse_ports(p: &str) -> Result<PortRange, String> {
    let (f, t) = p.split_once('-').unwrap_or((p, p));
    let n = |s: &str| {
        s.trim()
            .parse::<u16>()
            .map_err(|_| format!("port `{p}` is not N or N-M (0-65535)"))
    };
    let r = PortRange {
        from: n(f)?,
        to: n(t)?,
    };
    if r.from > r.to {
        return Err(format!("port range `{p}` runs backwards"));
    }
    Ok(r)
}

/// The shorthand `IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=…}]` (one
/// permission, one peer) or its JSON form.
fn parse_ip_permissions(s: &str) -> Result<SgRule, String> {
    let s = s.trim();
    if s.starts_with('[') || s.starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(s).map_err(|e| format!("--ip-permissions JSON: {e}"))?;
        let p = if v.is_array() { &v[0] } else { &v };
        let protocol = p["IpProtocol"]
            .as_str()
            .map(str::to_string)
            .or_else(|| p["IpProtocol"].as_i64().map(|n| n.to_string()))
            .and_then(|x| Protocol::parse(&x))
            .ok_or("--ip-permissions: IpProtocol is missing or unknown")?;
        let port = |k: &str| p[k].as_i64().and_then(|n| u16::try_from(n).ok());
        let ports = match (port("FromPort"), port("ToPort")) {
            (Some(from), Some(to)) => Some(PortRange { from, to }),
            _ => None,
        };
        let peer = if let Some(c) = p["IpRanges"][0]["CidrIp"].as_str() {
            SgPeer::Cidr(c.parse().map_err(|_| format!("CidrIp {c} is not a CIDR"))?)
        } else if let Some(c) = p["Ipv6Ranges"][0]["CidrIpv6"].as_str() {
            SgPeer::Cidr(
                c.parse()
                    .map_err(|_| format!("CidrIpv6 {c} is not a CIDR"))?,
            )
        } else if let Some(g) = p["UserIdGroupPairs"][0]["GroupId"].as_str() {
            SgPeer::SecurityGroup(g.to_string())
        } else if let Some(l) = p["PrefixListIds"][0]["PrefixListId"].as_str() {
            SgPeer::PrefixList(l.to_string())
        } else {
            return Err("--ip-permissions names no peer (IpRanges, Ipv6Ranges, UserIdGroupPairs, PrefixListIds)".into());
        };
        return Ok(Change::sg_rule(protocol, ports, peer));
    }
    let mut protocol = None;
    let (mut from, mut to) = (None, None);
    let mut peer = None;
    // Split on commas outside brackets.
    let mut parts = Vec::new();
    let (mut depth, mut cur) = (0i32, String::new());
    for c in s.chars() {
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    for part in parts {
        let Some((k, v)) = part.split_once('=') else {
            return Err(format!("--ip-permissions: `{part}` is not Key=Value"));
        };
        let inner = |key: &str| -> Option<String> {
            let v = v
                .trim_start_matches(['[', '{'])
                .trim_end_matches([']', '}']);
            v.split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(str::to_string))
        };
        match k.trim() {
            "IpProtocol" => {
                protocol = Some(Protocol::parse(v).ok_or(format!("IpProtocol `{v}` is not known"))?)
            }
            "FromPort" => from = v.parse::<i32>().ok(),
            "ToPort" => to = v.parse::<i32>().ok(),
            "IpRanges" => {
                let c = inner("CidrIp").ok_or("IpRanges needs CidrIp=")?;
                peer = Some(SgPeer::Cidr(
                    c.parse().map_err(|_| format!("CidrIp {c} is not a CIDR"))?,
                ));
            }
            "Ipv6Ranges" => {
                let c = inner("CidrIpv6").ok_or("Ipv6Ranges needs CidrIpv6=")?;
                peer = Some(SgPeer::Cidr(
                    c.parse()
                        .map_err(|_| format!("CidrIpv6 {c} is not a CIDR"))?,
                ));
            }
            "UserIdGroupPairs" => {
                peer = Some(SgPeer::SecurityGroup(
                    inner("GroupId").ok_or("UserIdGroupPairs needs GroupId=")?,
                ));
            }
            "PrefixListIds" => {
                peer = Some(SgPeer::PrefixList(
                    inner("PrefixListId").ok_or("PrefixListIds needs PrefixListId=")?,
                ));
            }
            other => return Err(format!("--ip-permissions: `{other}` is not supported")),
        }
    }
    let protocol = protocol.ok_or("--ip-permissions: IpProtocol is missing")?;
    let ports = match (from, to) {
        (Some(f), Some(t)) if f >= 0 && t >= 0 => Some(PortRange {
            from: u16::try_from(f).map_err(|_| "FromPort is out of range")?,
            to: u16::try_from(t).map_err(|_| "ToPort is out of range")?,
        }),
        _ => None,
    };
    let peer = peer.ok_or(
        "--ip-permissions names no peer (IpRanges, Ipv6Ranges, UserIdGroupPairs, PrefixListIds)",
    )?;
    Ok(Change::sg_rule(protocol, ports, peer))
}

impl Change {
    /// Parses one AWS CLI command line (the inverse of [`Change::cli`], and the operator's
    /// own lines for `diagnose --what-if`). A `VAR=$(…)` capture names the created ID;
    /// `"$VAR"` refers to it; a trailing `# comment` is ignored. Errors name what to fix.
    pub fn parse_cli(line: &str) -> Result<Change, ChangeError> {
        let mut w = words(line)?;
        // `VAR=$(aws … --query … --output text)`.
        let mut created: Option<String> = None;
        if let [one] = w.as_slice()
            && let Some((name, inner)) = one.split_once("=$(")
            && let Some(inner) = inner.strip_suffix(')')
        {
            created = Some(name.to_ascii_lowercase().replace('_', "-"));
            w = words(inner)?;
        }
        let (service, verb, rest) = match w.as_slice() {
            [aws, service, verb, rest @ ..] if aws == "aws" => {
                (service.as_str(), verb.as_str(), rest)
            }
            _ => {
                return Err(ChangeError::Parse(format!(
                    "not an AWS CLI command (aws ec2 VERB …): {}",
                    line.chars().take(80).collect::<String>()
                )));
            }
        };
        let a = Args { verb, rest };
        if service == "lambda" {
            if verb != "update-function-configuration" {
                return Err(a.bad("the only lambda command simulated is update-function-configuration --vpc-config"));
            }
            let function = a.need("--function-name")?;
            let cfg = a.need("--vpc-config")?;
            let mut subnets = vec![];
            let mut groups = vec![];
            let mut ipv6 = false;
            let mut key = "";
            for part in cfg.split(',') {
                let v = match part.split_once('=') {
                    Some((k, v)) => {
                        key = match k {
                            "SubnetIds" => "s",
                            "SecurityGroupIds" => "g",
                            "Ipv6AllowedForDualStack" => "6",
                            other => {
                                return Err(
                                    a.bad(&format!("--vpc-config key `{other}` is not known"))
                                );
                            }
                        };
                        v
                    }
                    None => part,
                };
                match key {
                    "s" => subnets.push(v.to_string()),
                    "g" => groups.push(v.to_string()),
                    _ => ipv6 = v.eq_ignore_ascii_case("true"),
                }
            }
            return Ok(Change::UpdateFunctionVpcConfig {
                function,
                subnets,
                security_groups: groups,
                ipv6,
            });
        }
        if matches!(service, "route53" | "route53resolver" | "route53profiles") {
            return dns::parse(service, &a, created);
        }
        if service != "ec2" {
            return Err(a.bad(&format!("`aws {service}` commands are not simulated")));
        }
        let id_of = |prefix: &str| created.clone().unwrap_or_else(|| format!("{prefix}-new"));
        Ok(match verb {
            "create-route" => Change::CreateRoute {
                rtb: a.need("--route-table-id")?,
                destination: a.destination()?,
                target: a.target()?,
            },
            "replace-route" => Change::ReplaceRoute {
                rtb: a.need("--route-table-id")?,
                destination: a.destination()?,
                target: a.target()?,
            },
            "delete-route" => Change::DeleteRoute {
                rtb: a.need("--route-table-id")?,
                destination: a.destination()?,
            },
            "create-route-table" => Change::CreateRouteTable {
                vpc: a.need("--vpc-id")?,
                rtb: id_of("rtb"),
            },
            "associate-route-table" => {
                if a.get("--gateway-id").is_some() {
                    return Err(a.bad("gateway (edge) associations are not simulated"));
                }
                Change::AssociateRouteTable {
                    rtb: a.need("--route-table-id")?,
                    subnet: a.need("--subnet-id")?,
                }
            }
            "replace-route-table-association" => {
                let assoc = a.need("--association-id")?;
                // The printed form looks the association up by subnet.
                let subnet = assoc
                    .split("Values=")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .map(str::to_string)
                    .ok_or_else(|| {
                        a.bad(&format!(
                            "the snapshot does not record association IDs ({assoc}): give the subnet as --association-id \"$(aws ec2 describe-route-tables --filters Name=association.subnet-id,Values=SUBNET …)\" as printed, or the change as JSON {{\"change\":\"replace_route_table_association\",\"subnet\":…,\"rtb\":…}}"
                        ))
                    })?;
                Change::ReplaceRouteTableAssociation {
                    subnet,
                    rtb: a.need("--route-table-id")?,
                }
            }
            "create-network-acl-entry" | "replace-network-acl-entry" => {
                let acl = a.need("--network-acl-id")?;
                let egress = a.direction()?;
                let rule_number: i32 = a
                    .need("--rule-number")?
                    .parse()
                    .ok()
                    .filter(|n| (1..=32766).contains(n))
                    .ok_or_else(|| a.bad("--rule-number is not 1-32766"))?;
                let protocol = Protocol::parse(&a.need("--protocol")?)
                    .ok_or_else(|| a.bad("--protocol is not tcp, udp, icmp, all or a number"))?;
                let cidr: IpNet = a
                    .get("--cidr-block")
                    .or_else(|| a.get("--ipv6-cidr-block"))
                    .ok_or_else(|| a.bad("--cidr-block or --ipv6-cidr-block is missing"))?
                    .parse()
                    .map_err(|_| a.bad("the CIDR is not valid"))?;
                let ports = match a.get("--port-range") {
                    Some(p) => {
                        let (f, t) = p.split(',').fold((None, None), |(f, t), kv| {
                            match kv.split_once('=') {
                                Some(("From", v)) => (v.parse::<u16>().ok(), t),
                                Some(("To", v)) => (f, v.parse::<u16>().ok()),
                                _ => (f, t),
                            }
                        });
                        match (f, t) {
                            (Some(from), Some(to)) if from <= to => PortRange { from, to },
                            _ => return Err(a.bad("--port-range is not From=N,To=M")),
                        }
                    }
                    None if matches!(protocol.0, 6 | 17) => {
                        return Err(a.bad("--port-range is needed for tcp and udp"));
                    }
                    None => PortRange { from: 0, to: 65535 },
                };
                let action = match a.need("--rule-action")?.as_str() {
                    "allow" => RuleAction::Allow,
                    "deny" => RuleAction::Deny,
                    _ => return Err(a.bad("--rule-action is allow or deny")),
                };
                let entry = Change::nacl_entry(egress, rule_number, protocol, ports, cidr, action);
                if verb == "create-network-acl-entry" {
                    Change::CreateNaclEntry { acl, entry }
                } else {
                    Change::ReplaceNaclEntry { acl, entry }
                }
            }
            "delete-network-acl-entry" => Change::DeleteNaclEntry {
                acl: a.need("--network-acl-id")?,
                egress: a.direction()?,
                rule_number: a
                    .need("--rule-number")?
                    .parse()
                    .map_err(|_| a.bad("--rule-number is not a number"))?,
            },
            "authorize-security-group-egress" => Change::AuthorizeSgEgress {
                group: a.need("--group-id")?,
                rule: a.sg_rule()?,
            },
            "revoke-security-group-egress" => Change::RevokeSgEgress {
                group: a.need("--group-id")?,
                rule: a.sg_rule()?,
            },
            "authorize-security-group-ingress" => Change::AuthorizeSgIngress {
                group: a.need("--group-id")?,
                rule: a.sg_rule()?,
            },
            "revoke-security-group-ingress" => Change::RevokeSgIngress {
                group: a.need("--group-id")?,
                rule: a.sg_rule()?,
            },
            "create-dhcp-options" => {
                let mut options = DhcpOptions {
                    id: id_of("dopt"),
                    domain_name_servers: vec![],
                    domain_name: None,
                };
                let Some(i) = rest.iter().position(|w| w == "--dhcp-configurations") else {
                    return Err(a.bad("--dhcp-configurations is missing"));
                };
                for conf in rest[i + 1..].iter().take_while(|w| !w.starts_with("--")) {
                    let Some((k, v)) = conf
                        .strip_prefix("Key=")
                        .and_then(|r| r.split_once(",Values="))
                    else {
                        return Err(a.bad("--dhcp-configurations takes \"Key=K,Values=V1,V2\""));
                    };
                    match k {
                        "domain-name-servers" => {
                            options.domain_name_servers = v.split(',').map(str::to_string).collect()
                        }
                        "domain-name" => options.domain_name = Some(v.to_string()),
                        _ => {}
                    }
                }
                Change::CreateDhcpOptions { options }
            }
            "associate-dhcp-options" => Change::AssociateDhcpOptions {
                vpc: a.need("--vpc-id")?,
                dhcp_options: a.need("--dhcp-options-id")?,
            },
            "modify-vpc-attribute" => {
                let vpc = a.need("--vpc-id")?;
                let mut found = vec![];
                for (flag, attribute) in [
                    ("enable-dns-support", VpcAttribute::EnableDnsSupport),
                    ("enable-dns-hostnames", VpcAttribute::EnableDnsHostnames),
                ] {
                    if a.has(&format!("--no-{flag}")) {
                        found.push((attribute, false));
                    } else if let Some(v) = a.get(&format!("--{flag}")) {
                        // `--enable-dns-support "{\"Value\":true}"` or `Value=true`.
                        let on = v.to_ascii_lowercase().contains("true");
                        found.push((attribute, on));
                    } else if a.has(&format!("--{flag}")) {
                        found.push((attribute, true));
                    }
                }
                match found.as_slice() {
                    [(attribute, value)] => Change::ModifyVpcAttribute {
                        vpc,
                        attribute: *attribute,
                        value: *value,
                    },
                    _ => return Err(a.bad("give exactly one of --[no-]enable-dns-support, --[no-]enable-dns-hostnames")),
                }
            }
            "modify-vpc-endpoint" => {
                let endpoint = a.need("--vpc-endpoint-id")?;
                let enabled = match (
                    a.has("--private-dns-enabled"),
                    a.has("--no-private-dns-enabled"),
                ) {
                    (true, false) => true,
                    (false, true) => false,
                    _ => return Err(a.bad("only --[no-]private-dns-enabled is simulated")),
                };
                Change::ModifyEndpointPrivateDns { endpoint, enabled }
            }
            "allocate-address" => Change::AllocateAddress {
                allocation: id_of("eipalloc"),
            },
            "create-nat-gateway" => {
                if a.get("--connectivity-type").as_deref() == Some("private") {
                    return Err(a.bad("private NAT gateways are not simulated"));
                }
                Change::CreateNatGateway {
                    subnet: a.need("--subnet-id")?,
                    allocation: a.need("--allocation-id")?,
                    nat: id_of("nat"),
                }
            }
            "associate-nat-gateway-address" => Change::AssociateNatGatewayAddress {
                nat: a.need("--nat-gateway-id")?,
                allocation: a.need("--allocation-ids")?,
            },
            "delete-nat-gateway" => Change::DeleteNatGateway {
                nat: a.need("--nat-gateway-id")?,
            },
            "create-internet-gateway" => Change::CreateInternetGateway { igw: id_of("igw") },
            "attach-internet-gateway" => Change::AttachInternetGateway {
                igw: a.need("--internet-gateway-id")?,
                vpc: a.need("--vpc-id")?,
            },
            "detach-internet-gateway" => Change::DetachInternetGateway {
                igw: a.need("--internet-gateway-id")?,
                vpc: a.need("--vpc-id")?,
            },
            "create-egress-only-internet-gateway" => Change::CreateEgressOnlyInternetGateway {
                vpc: a.need("--vpc-id")?,
                eigw: id_of("eigw"),
            },
            "create-transit-gateway-route" | "replace-transit-gateway-route" => {
                let table = a.need("--transit-gateway-route-table-id")?;
                let d = a.need("--destination-cidr-block")?;
                let destination = match d.parse::<IpNet>() {
                    Ok(IpNet::V4(n)) => RouteDestination::Ipv4(n),
                    Ok(IpNet::V6(n)) => RouteDestination::Ipv6(n),
                    Err(_) => {
                        return Err(a.bad(&format!("--destination-cidr-block {d} is not a CIDR")));
                    }
                };
                let attachment =
                    match (
                        a.get("--transit-gateway-attachment-id"),
                        a.has("--blackhole"),
                    ) {
                        (Some(x), false) => Some(x),
                        (None, true) => None,
                        _ => return Err(a.bad(
                            "give exactly one of --transit-gateway-attachment-id and --blackhole",
                        )),
                    };
                if verb == "create-transit-gateway-route" {
                    Change::CreateTgwRoute {
                        table,
                        destination,
                        attachment,
                    }
                } else {
                    Change::ReplaceTgwRoute {
                        table,
                        destination,
                        attachment,
                    }
                }
            }
            "associate-transit-gateway-route-table" => Change::AssociateTgwRouteTable {
                table: a.need("--transit-gateway-route-table-id")?,
                attachment: a.need("--transit-gateway-attachment-id")?,
            },
            "enable-transit-gateway-route-table-propagation" => Change::EnableTgwPropagation {
                table: a.need("--transit-gateway-route-table-id")?,
                attachment: a.need("--transit-gateway-attachment-id")?,
            },
            "modify-transit-gateway-vpc-attachment" => {
                let appliance_mode = match a.get("--options") {
                    Some(o) if o.contains("ApplianceModeSupport=enable") => Some(true),
                    Some(o) if o.contains("ApplianceModeSupport=disable") => Some(false),
                    Some(o) => {
                        return Err(a.bad(&format!(
                            "--options {o}: only ApplianceModeSupport is simulated"
                        )));
                    }
                    None => None,
                };
                let c = Change::ModifyTgwVpcAttachment {
                    attachment: a.need("--transit-gateway-attachment-id")?,
                    add_subnets: a.list("--add-subnet-ids"),
                    remove_subnets: a.list("--remove-subnet-ids"),
                    appliance_mode,
                };
                if let Change::ModifyTgwVpcAttachment {
                    add_subnets,
                    remove_subnets,
                    appliance_mode: None,
                    ..
                } = &c
                    && add_subnets.is_empty()
                    && remove_subnets.is_empty()
                {
                    return Err(a.bad("nothing to modify: give --add-subnet-ids, --remove-subnet-ids or --options"));
                }
                c
            }
            "create-transit-gateway-vpc-attachment" => {
                let subnets = a.list("--subnet-ids");
                if subnets.is_empty() {
                    return Err(a.bad("--subnet-ids is missing"));
                }
                Change::CreateTgwVpcAttachment {
                    tgw: a.need("--transit-gateway-id")?,
                    vpc: a.need("--vpc-id")?,
                    subnets,
                    attachment: id_of("tgw-attach"),
                }
            }
            "modify-subnet-attribute" => dns::modify_subnet_attribute(&a)?,
            "create-vpc-block-public-access-exclusion" => Change::CreateBpaExclusion {
                resource: a
                    .get("--subnet-id")
                    .or_else(|| a.get("--vpc-id"))
                    .ok_or_else(|| a.bad("give --subnet-id or --vpc-id"))?,
                mode: a.need("--internet-gateway-exclusion-mode")?,
            },
            other => {
                return Err(ChangeError::Parse(format!(
                    "`aws ec2 {other}` is not a change that can be simulated; known: {}",
                    CLI_VERBS.join(", ")
                )));
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::NetworkAcl;

    fn snap() -> NetworkSnapshot {
        NetworkSnapshot {
            network_acls: vec![NetworkAcl {
                id: "acl-1".into(),
                vpc_id: "vpc-1".into(),
                is_default: false,
                subnet_ids: vec!["subnet-1".into()],
                entries: vec![Change::nacl_entry(
                    true,
                    100,
                    Protocol::TCP,
                    PortRange { from: 443, to: 443 },
                    "0.0.0.0/0".parse().unwrap(),
                    RuleAction::Deny,
                )],
            }],
            ..Default::default()
        }
    }

    /// The rendered command and the applied change describe the same entry.
    #[test]
    fn nacl_changes_render_and_apply_alike() {
        let entry = Change::nacl_entry(
            false,
            200,
            Protocol::TCP,
            PortRange::EPHEMERAL,
            "198.51.100.10/32".parse().unwrap(),
            RuleAction::Allow,
        );
        let c = Change::CreateNaclEntry {
            acl: "acl-1".into(),
            entry: entry.clone(),
        };
        assert_eq!(
            c.cli(),
            "aws ec2 create-network-acl-entry --network-acl-id acl-1 --ingress --rule-number 200 --protocol tcp --port-range From=1024,To=65535 --cidr-block 198.51.100.10/32 --rule-action allow"
        );
        let mut s = snap();
        c.apply(&mut s).unwrap();
        assert!(s.network_acls[0].entries.contains(&entry));
        // Creating the same rule number again fails as AWS does.
        assert!(matches!(
            c.apply(&mut s),
            Err(ChangeError::RuleExists { rule: 200, .. })
        ));
        let d = Change::DeleteNaclEntry {
            acl: "acl-1".into(),
            egress: true,
            rule_number: 100,
        };
        assert_eq!(
            d.cli(),
            "aws ec2 delete-network-acl-entry --network-acl-id acl-1 --egress --rule-number 100"
        );
        // The parser is the renderer's inverse.
        assert_eq!(Change::parse_cli(&c.cli()).unwrap(), c);
        assert_eq!(
            Change::parse_cli(&format!("{}  # why", d.cli())).unwrap(),
            d
        );
        assert!(Change::parse_cli("aws ec2 create-network-acl-entry --egress").is_err());
        d.apply(&mut s).unwrap();
        assert!(!s.network_acls[0].entries.iter().any(|e| e.egress));
        assert!(matches!(d.apply(&mut s), Err(ChangeError::NotFound(_))));
    }

    /// R25: associating a set that is not in the snapshot is refused; a created set can be
    /// associated.
    #[test]
    fn dhcp_changes_render_and_apply_alike() {
        let mut s = snap();
        s.vpcs.push(crate::model::Vpc {
            id: "vpc-1".into(),
            cidr_blocks: vec![],
            ipv6_cidr_blocks: vec![],
            enable_dns_support: Some(true),
            enable_dns_hostnames: Some(true),
            dhcp_options_id: Some("dopt-corp".into()),
            block_public_access_mode: None,
            is_default: false,
            owner_id: None,
        });
        let a = Change::AssociateDhcpOptions {
            vpc: "vpc-1".into(),
            dhcp_options: "dopt-new".into(),
        };
        assert!(matches!(a.apply(&mut s), Err(ChangeError::NotFound(_))));
        let c = Change::CreateDhcpOptions {
            options: DhcpOptions {
                id: "dopt-new".into(),
                domain_name_servers: vec!["AmazonProvidedDNS".into()],
                domain_name: Some("corp.example".into()),
            },
        };
        assert_eq!(
            c.cli(),
            "DOPT_NEW=$(aws ec2 create-dhcp-options --dhcp-configurations \"Key=domain-name-servers,Values=AmazonProvidedDNS\" \"Key=domain-name,Values=corp.example\" --query DhcpOptions.DhcpOptionsId --output text)"
        );
        c.apply(&mut s).unwrap();
        a.apply(&mut s).unwrap();
        assert_eq!(s.vpcs[0].dhcp_options_id.as_deref(), Some("dopt-new"));
        assert_eq!(
            a.cli(),
            "aws ec2 associate-dhcp-options --dhcp-options-id \"$DOPT_NEW\" --vpc-id vpc-1"
        );
    }

    fn dest(s: &str) -> RouteDestination {
        match s.parse::<IpNet>().unwrap() {
            IpNet::V4(n) => RouteDestination::Ipv4(n),
            IpNet::V6(n) => RouteDestination::Ipv6(n),
        }
    }

    /// Every kind of change renders to one command line that parses back to the same
    /// change (one renderer, one parser: the printed fix is what is simulated).
    #[test]
    fn every_change_kind_round_trips_through_its_command_line() {
        let rule = Change::sg_rule(
            Protocol::TCP,
            Some(PortRange { from: 443, to: 443 }),
            SgPeer::Cidr("0.0.0.0/0".parse().unwrap()),
        );
        let all = vec![
            Change::CreateRoute {
                rtb: "rtb-1".into(),
                destination: dest("0.0.0.0/0"),
                target: RouteTarget::NatGateway("nat-1".into()),
            },
            Change::ReplaceRoute {
                rtb: "rtb-1".into(),
                destination: dest("::/0"),
                target: RouteTarget::EgressOnlyInternetGateway("eigw-1".into()),
            },
            Change::DeleteRoute {
                rtb: "rtb-1".into(),
                destination: RouteDestination::PrefixList("pl-1".into()),
            },
            Change::CreateRouteTable {
                vpc: "vpc-1".into(),
                rtb: "rtb-new".into(),
            },
            Change::AssociateRouteTable {
                rtb: "rtb-new".into(),
                subnet: "subnet-1".into(),
            },
            Change::ReplaceRouteTableAssociation {
                subnet: "subnet-1".into(),
                rtb: "rtb-new".into(),
            },
            Change::CreateNaclEntry {
                acl: "acl-1".into(),
                entry: Change::nacl_entry(
                    true,
                    90,
                    Protocol::TCP,
                    PortRange { from: 443, to: 443 },
                    "198.51.100.7/32".parse().unwrap(),
                    RuleAction::Allow,
                ),
            },
            Change::AuthorizeSgEgress {
                group: "sg-1".into(),
                rule: rule.clone(),
            },
            Change::RevokeSgEgress {
                group: "sg-1".into(),
                rule: Change::sg_rule(Protocol::ALL, None, SgPeer::Cidr("::/0".parse().unwrap())),
            },
            Change::AuthorizeSgIngress {
                group: "sg-2".into(),
                rule: Change::sg_rule(
                    Protocol::TCP,
                    Some(PortRange { from: 443, to: 443 }),
                    SgPeer::SecurityGroup("sg-1".into()),
                ),
            },
            Change::RevokeSgIngress {
                group: "sg-2".into(),
                rule: Change::sg_rule(
                    Protocol::UDP,
                    Some(PortRange { from: 53, to: 53 }),
                    SgPeer::PrefixList("pl-9".into()),
                ),
            },
            Change::CreateDhcpOptions {
                options: DhcpOptions {
                    id: "dopt-new".into(),
                    domain_name_servers: vec!["AmazonProvidedDNS".into()],
                    domain_name: Some("corp.example".into()),
                },
            },
            Change::AssociateDhcpOptions {
                vpc: "vpc-1".into(),
                dhcp_options: "dopt-new".into(),
            },
            Change::ModifyVpcAttribute {
                vpc: "vpc-1".into(),
                attribute: VpcAttribute::EnableDnsSupport,
                value: true,
            },
            Change::ModifyVpcAttribute {
                vpc: "vpc-1".into(),
                attribute: VpcAttribute::EnableDnsHostnames,
                value: false,
            },
            Change::ModifyEndpointPrivateDns {
                endpoint: "vpce-1".into(),
                enabled: false,
            },
            Change::AllocateAddress {
                allocation: "eipalloc-new".into(),
            },
            Change::CreateNatGateway {
                subnet: "subnet-9".into(),
                allocation: "eipalloc-new".into(),
                nat: "nat-new".into(),
            },
            Change::AssociateNatGatewayAddress {
                nat: "nat-1".into(),
                allocation: "eipalloc-new".into(),
            },
            Change::DeleteNatGateway {
                nat: "nat-1".into(),
            },
            Change::CreateInternetGateway {
                igw: "igw-new".into(),
            },
            Change::AttachInternetGateway {
                igw: "igw-new".into(),
                vpc: "vpc-1".into(),
            },
            Change::DetachInternetGateway {
                igw: "igw-1".into(),
                vpc: "vpc-1".into(),
            },
            Change::CreateEgressOnlyInternetGateway {
                vpc: "vpc-1".into(),
                eigw: "eigw-new".into(),
            },
            Change::CreateTgwRoute {
                table: "tgw-rtb-1".into(),
                destination: dest("0.0.0.0/0"),
                attachment: Some("tgw-attach-1".into()),
            },
            Change::ReplaceTgwRoute {
                table: "tgw-rtb-1".into(),
                destination: dest("10.0.0.0/8"),
                attachment: None,
            },
            Change::AssociateTgwRouteTable {
                table: "tgw-rtb-1".into(),
                attachment: "tgw-attach-1".into(),
            },
            Change::EnableTgwPropagation {
                table: "tgw-rtb-1".into(),
                attachment: "tgw-attach-1".into(),
            },
            Change::ModifyTgwVpcAttachment {
                attachment: "tgw-attach-1".into(),
                add_subnets: vec!["subnet-1".into(), "subnet-2".into()],
                remove_subnets: vec!["subnet-3".into()],
                appliance_mode: Some(true),
            },
            Change::CreateTgwVpcAttachment {
                tgw: "tgw-1".into(),
                vpc: "vpc-1".into(),
                subnets: vec!["subnet-1".into()],
                attachment: "tgw-attach-new".into(),
            },
            Change::UpdateFunctionVpcConfig {
                function: "app".into(),
                subnets: vec!["subnet-1".into(), "subnet-2".into()],
                security_groups: vec!["sg-1".into()],
                ipv6: true,
            },
            Change::CreateBpaExclusion {
                resource: "subnet-9".into(),
                mode: "allow-egress".into(),
            },
        ];
        for c in &all {
            let line = c.cli();
            assert_eq!(Change::parse_cli(&line).as_ref(), Ok(c), "{line}");
            // JSON is the other accepted form.
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(&serde_json::from_str::<Change>(&json).unwrap(), c, "{json}");
        }
        // Created IDs become shell variables the later lines use.
        assert!(
            all[3]
                .cli()
                .starts_with("RTB_NEW=$(aws ec2 create-route-table --vpc-id vpc-1")
        );
        assert!(all[4].cli().contains("--route-table-id \"$RTB_NEW\""));
    }

    /// The operator's own spellings (`--what-if`): the forms the AWS CLI documents.
    #[test]
    fn operator_command_lines_parse() {
        let cases = [
            "aws ec2 create-route --route-table-id rtb-1 --destination-cidr-block 0.0.0.0/0 --gateway-id igw-1",
            "aws ec2 replace-route --route-table-id=rtb-1 --destination-cidr-block 0.0.0.0/0 --nat-gateway-id nat-2",
            "aws ec2 delete-route --route-table-id rtb-1 --destination-cidr-block 0.0.0.0/0",
            "aws ec2 create-network-acl-entry --network-acl-id acl-1 --ingress --rule-number 10 --protocol -1 --cidr-block 203.0.113.0/24 --rule-action deny",
            "aws ec2 replace-network-acl-entry --network-acl-id acl-1 --egress --rule-number 100 --protocol tcp --port-range From=443,To=443 --cidr-block 0.0.0.0/0 --rule-action allow",
            "aws ec2 delete-network-acl-entry --network-acl-id acl-1 --ingress --rule-number 10",
            "aws ec2 authorize-security-group-egress --group-id sg-1 --protocol tcp --port 443 --cidr 0.0.0.0/0",
            "aws ec2 revoke-security-group-egress --group-id sg-1 --ip-permissions '[{\"IpProtocol\":\"-1\",\"IpRanges\":[{\"CidrIp\":\"0.0.0.0/0\"}]}]'",
            "aws ec2 associate-route-table --route-table-id rtb-2 --subnet-id subnet-1",
            "aws ec2 associate-dhcp-options --dhcp-options-id default --vpc-id vpc-1",
            "aws ec2 delete-nat-gateway --nat-gateway-id nat-1",
            "aws ec2 detach-internet-gateway --internet-gateway-id igw-1 --vpc-id vpc-1",
            "aws ec2 modify-vpc-attribute --vpc-id vpc-1 --enable-dns-support \"{\\\"Value\\\":false}\"",
        ];
        for line in cases {
            assert!(
                Change::parse_cli(line).is_ok(),
                "{line}: {:?}",
                Change::parse_cli(line)
            );
        }
        assert_eq!(
            Change::parse_cli(cases[3]).unwrap(),
            Change::CreateNaclEntry {
                acl: "acl-1".into(),
                entry: Change::nacl_entry(
                    false,
                    10,
                    Protocol::ALL,
                    PortRange { from: 0, to: 65535 },
                    "203.0.113.0/24".parse().unwrap(),
                    RuleAction::Deny
                ),
            }
        );
        assert_eq!(
            Change::parse_cli(cases[12]).unwrap(),
            Change::ModifyVpcAttribute {
                vpc: "vpc-1".into(),
                attribute: VpcAttribute::EnableDnsSupport,
                value: false
            }
        );
    }

    /// Bad input gets an error that names what to fix, never a panic.
    #[test]
    fn bad_command_lines_are_named() {
        let cases = [
            ("rm -rf /", "not an AWS CLI command"),
            (
                "aws ec2 run-instances --image-id ami-1",
                "not a change that can be simulated",
            ),
            ("aws s3 ls", "not simulated"),
            (
                "aws ec2 create-route --route-table-id rtb-1 --destination-cidr-block 0.0.0.0/0",
                "no target",
            ),
            (
                "aws ec2 create-route --route-table-id rtb-1 --destination-cidr-block 10.0.0.300/8 --gateway-id igw-1",
                "is not an IPv4 CIDR",
            ),
            (
                "aws ec2 create-network-acl-entry --network-acl-id acl-1 --egress --ingress --rule-number 1 --protocol -1 --cidr-block 0.0.0.0/0 --rule-action allow",
                "exactly one of --egress and --ingress",
            ),
            (
                "aws ec2 create-network-acl-entry --network-acl-id acl-1 --egress --rule-number 99999 --protocol -1 --cidr-block 0.0.0.0/0 --rule-action allow",
                "--rule-number",
            ),
            (
                "aws ec2 create-network-acl-entry --network-acl-id acl-1 --egress --rule-number 5 --protocol tcp --cidr-block 0.0.0.0/0 --rule-action allow",
                "--port-range",
            ),
            (
                "aws ec2 authorize-security-group-egress --group-id sg-1 --protocol tcp --cidr 0.0.0.0/0",
                "--port is missing",
            ),
            (
                "aws ec2 authorize-security-group-egress --group-id sg-1 --ip-permissions IpProtocol=tcp,FromPort=443,ToPort=443",
                "names no peer",
            ),
            ("aws ec2 delete-nat-gateway", "--nat-gateway-id is missing"),
            (
                "aws ec2 replace-route-table-association --association-id rtbassoc-1 --route-table-id rtb-1",
                "does not record association IDs",
            ),
            ("aws ec2 create-route --route-table-id \"rtb-1", "unclosed"),
        ];
        for (line, why) in cases {
            match Change::parse_cli(line) {
                Err(e) => assert!(e.to_string().contains(why), "{line}: {e}"),
                Ok(c) => panic!("{line} parsed as {c:?}"),
            }
        }
    }

    /// What AWS refuses, the simulation refuses; what AWS does to dependants, it does.
    #[test]
    fn apply_follows_aws() {
        let mut s = snap();
        s.vpcs.push(crate::model::Vpc {
            id: "vpc-1".into(),
            cidr_blocks: vec!["10.0.0.0/16".parse().unwrap()],
            ipv6_cidr_blocks: vec![],
            enable_dns_support: Some(true),
            enable_dns_hostnames: Some(true),
            dhcp_options_id: None,
            block_public_access_mode: None,
            is_default: false,
            owner_id: None,
        });
        for id in ["subnet-1", "subnet-2"] {
            s.subnets.push(crate::model::Subnet {
                id: id.into(),
                vpc_id: "vpc-1".into(),
                availability_zone: "us-east-1a".into(),
                availability_zone_id: None,
                cidr_block: None,
                ipv6_cidr_blocks: vec![],
                available_ip_address_count: None,
                map_public_ip_on_launch: false,
                block_public_access_mode: None,
                name: None,
                enable_dns64: None,
                ipv6_native: false,
            });
        }
        s.nat_gateways.push(NatGateway {
            id: "nat-1".into(),
            vpc_id: "vpc-1".into(),
            subnet_id: Some("subnet-2".into()),
            state: "available".into(),
            connectivity_type: "public".into(),
            public_ips: vec![],
            private_ips: vec![],
            failure_code: None,
            failure_message: None,
            availability_mode: "zonal".into(),
            regional_zones: vec![],
            auto_provision_zones: None,
        });
        let new_rtb = Change::CreateRouteTable {
            vpc: "vpc-1".into(),
            rtb: "rtb-new".into(),
        };
        new_rtb.apply(&mut s).unwrap();
        assert_eq!(s.route_tables[0].routes[0].target, RouteTarget::Local);
        let route = Change::CreateRoute {
            rtb: "rtb-new".into(),
            destination: dest("0.0.0.0/0"),
            target: RouteTarget::NatGateway("nat-1".into()),
        };
        route.apply(&mut s).unwrap();
        assert!(matches!(route.apply(&mut s), Err(ChangeError::Refused(_))));
        // A route to a NAT gateway the snapshot does not hold is refused.
        let typo = Change::CreateRoute {
            rtb: "rtb-new".into(),
            destination: dest("10.9.0.0/16"),
            target: RouteTarget::NatGateway("nat-typo".into()),
        };
        assert_eq!(
            typo.apply(&mut s),
            Err(ChangeError::NotFound("nat-typo".into()))
        );
        let assoc = Change::AssociateRouteTable {
            rtb: "rtb-new".into(),
            subnet: "subnet-1".into(),
        };
        assoc.apply(&mut s).unwrap();
        assert!(
            assoc
                .apply(&mut s)
                .unwrap_err()
                .to_string()
                .contains("replace-route-table-association")
        );
        // The local route stays.
        let local = Change::DeleteRoute {
            rtb: "rtb-new".into(),
            destination: dest("10.0.0.0/16"),
        };
        assert!(matches!(local.apply(&mut s), Err(ChangeError::Refused(_))));
        // R8: deleting the NAT gateway leaves its routes as blackholes.
        Change::DeleteNatGateway {
            nat: "nat-1".into(),
        }
        .apply(&mut s)
        .unwrap();
        assert_eq!(s.route_tables[0].routes[1].state, RouteState::Blackhole);
    }
}
