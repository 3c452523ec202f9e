//! Every finding code in one place: severity, fact-sheet rules, English and Japanese
//! remediation, and the AWS CLI commands that would fix it (real IDs filled in).
//! Rule sites build an `Issue` with the evidence; `Issue::render` turns it into a `Finding`.

pub(crate) mod dns;

use super::nacl::{NaclResult, ranges_text};
use crate::model::{
    Confirmation, Family, Finding, PortRange, Protocol, Remediation, RouteDestination, Severity,
};
use std::net::IpAddr;
use std::rc::Rc;

/// Every code the engine can emit, with its severity. Tests check that each is raised by
/// some fixture and absent from a near-miss.
pub const CODES: &[(&str, Severity)] = &[
    ("FUNCTION_NOT_IN_VPC", Severity::Info),
    ("FUNCTION_NOT_ACTIVE", Severity::Error),
    ("FUNCTION_UPDATE_IN_PROGRESS", Severity::Info),
    // A warning: an Active function (R1) has its ENIs; not seeing one is a gap in what the
    // snapshot shows, not proof the function cannot run (R3).
    ("LAMBDA_ENI_MISSING", Severity::Warning),
    ("FUNCTION_SUBNETS_DIFFER", Severity::Error),
    ("SUBNET_NOT_IN_SNAPSHOT", Severity::Info),
    ("SUBNET_HOSTS_NAT_GATEWAY", Severity::Info),
    ("NO_DEFAULT_ROUTE", Severity::Error),
    ("NAT_ROUTE_BLACKHOLE", Severity::Error),
    ("ROUTE_BLACKHOLE", Severity::Error),
    ("LAMBDA_SUBNET_ROUTES_TO_IGW", Severity::Error),
    ("NAT_GATEWAY_NOT_AVAILABLE", Severity::Error),
    ("NAT_GATEWAY_PRIVATE", Severity::Error),
    ("NAT_GATEWAY_NO_EIP", Severity::Error),
    ("NAT_SUBNET_NO_IGW_ROUTE", Severity::Error),
    ("IGW_NOT_ATTACHED", Severity::Error),
    ("IGW_PRIVATE_DESTINATION", Severity::Error),
    ("NAT_CROSS_AZ", Severity::Warning),
    ("REGIONAL_NAT_AZ_NOT_COVERED", Severity::Error),
    ("BPA_BLOCKS_EGRESS", Severity::Error),
    ("BPA_NOT_VERIFIABLE", Severity::Info),
    ("NACL_OUTBOUND_DENIED", Severity::Error),
    ("NACL_INBOUND_EPHEMERAL_DENIED", Severity::Error),
    ("NACL_INBOUND_EPHEMERAL_PARTIAL", Severity::Error),
    ("NAT_SUBNET_NACL_DENIED", Severity::Error),
    ("NAT_SUBNET_NACL_PARTIAL", Severity::Error),
    ("SG_EGRESS_DENIED", Severity::Error),
    ("IPV6_SG_EGRESS_DENIED", Severity::Error),
    ("IPV6_NO_EGRESS_ROUTE", Severity::Error),
    ("IPV6_NOT_ENABLED", Severity::Error),
    ("NEXT_HOP_NOT_VERIFIABLE", Severity::Warning),
    ("PATH_NOT_VERIFIABLE", Severity::Warning),
    ("DESTINATION_IN_VPC", Severity::Info),
    ("VPC_DNS_SUPPORT_DISABLED", Severity::Error),
    ("CUSTOM_DNS_UNREACHABLE", Severity::Error),
    ("ENDPOINT_PRIVATE_DNS_CAPTURE", Severity::Info),
    ("ENDPOINT_SG_INGRESS_DENIED", Severity::Error),
    ("ENDPOINT_SUBNET_NACL_DENIED", Severity::Error),
    ("TIMEOUT_BEYOND_VPC", Severity::Error),
    ("DNS_FAILURE_BEYOND_VPC", Severity::Error),
    ("ANALYSIS_INCONSISTENT", Severity::Warning),
    ("DEST_SUBNET_NACL_DENIED", Severity::Error),
    ("DEST_SG_INGRESS_DENIED", Severity::Error),
    ("DESTINATION_REFUSED", Severity::Error),
    ("DESTINATION_RESET", Severity::Error),
    ("DESTINATION_TLS_ERROR", Severity::Error),
    ("DESTINATION_HTTP_ERROR", Severity::Error),
    // Centralised egress: transit gateway, egress VPC, Network Firewall, peering, GWLB
    // (fact sheet part 2, R37-R57).
    ("TGW_ATTACHMENT_MISSING", Severity::Error),
    ("TGW_ATTACHMENT_NOT_AVAILABLE", Severity::Error),
    ("TGW_ATTACHMENT_NOT_ASSOCIATED", Severity::Error),
    ("TGW_NO_SUBNET_IN_AZ", Severity::Error),
    ("TGW_NO_ROUTE", Severity::Error),
    ("TGW_ROUTE_BLACKHOLE", Severity::Error),
    ("TGW_RETURN_ROUTE_MISSING", Severity::Error),
    ("EGRESS_VPC_NO_RETURN_ROUTE", Severity::Error),
    ("EGRESS_ATTACHMENT_PUBLIC_SUBNET", Severity::Error),
    ("TGW_ATTACHMENT_NACL_DENIED", Severity::Error),
    ("TGW_APPLIANCE_MODE_DISABLED", Severity::Warning),
    ("TGW_NOT_VISIBLE", Severity::Warning),
    ("FIREWALL_ENDPOINT_NOT_READY", Severity::Error),
    ("FIREWALL_ENDPOINT_CROSS_AZ", Severity::Warning),
    ("FIREWALL_ASYMMETRIC_ROUTE", Severity::Error),
    ("FIREWALL_STATELESS_DROP", Severity::Error),
    ("FIREWALL_DEFAULT_DROP", Severity::Error),
    ("FIREWALL_DOMAIN_NOT_ALLOWED", Severity::Error),
    ("FIREWALL_DOMAIN_DENIED", Severity::Error),
    ("FIREWALL_RULE_DROP", Severity::Error),
    ("FIREWALL_RULE_REJECT", Severity::Error),
    ("FIREWALL_HOME_NET_EXCLUDES_SOURCE", Severity::Warning),
    ("FIREWALL_RULES_NOT_EVALUABLE", Severity::Warning),
    ("PEERING_AS_EGRESS", Severity::Error),
    ("PEERING_NOT_ACTIVE", Severity::Error),
    ("GWLB_APPLIANCE_NOT_VERIFIABLE", Severity::Warning),
    ("GWLB_ENDPOINT_NOT_AVAILABLE", Severity::Error),
    // The DNS path: Resolver rules and endpoints, private zones, DNS Firewall, Profiles,
    // DNS64/NAT64 (R58-R63, `catalog/dns.rs`).
    ("DNS_PRIVATE_ZONE_SHADOWS", Severity::Error),
    ("DNS_PRIVATE_ZONE_ANSWER", Severity::Info),
    ("DNS_FIREWALL_BLOCKS", Severity::Error),
    ("DNS_FIREWALL_FAIL_CLOSED", Severity::Warning),
    ("DNS_FORWARD_TARGET_UNREACHABLE", Severity::Error),
    ("DNS_OUTBOUND_ENDPOINT_NOT_READY", Severity::Error),
    ("DNS_CONFIG_NOT_VISIBLE", Severity::Warning),
    ("DNS64_DISABLED", Severity::Error),
    ("DHCP_OPTIONS_NONE", Severity::Error),
    ("NAT64_ROUTE_MISSING", Severity::Error),
];

/// A route as the rule sites saw it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RouteRef {
    pub rtb: String,
    pub destination: RouteDestination,
    pub target: String,
    /// `rtb-1: 0.0.0.0/0 -> nat-1 (active)`.
    pub text: String,
}

impl RouteRef {
    fn dest_flag(&self) -> String {
        match &self.destination {
            RouteDestination::Ipv4(n) => format!("--destination-cidr-block {n}"),
            RouteDestination::Ipv6(n) => format!("--destination-ipv6-cidr-block {n}"),
            RouteDestination::PrefixList(p) => format!("--destination-prefix-list-id {p}"),
        }
    }
}

/// A NACL entry to add or widen, chosen by the rule site.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NaclFix {
    pub acl: String,
    pub egress: bool,
    /// `create` a new entry, or `replace` the one that allows too little.
    pub replace: bool,
    pub rule_number: i32,
    pub protocol: Protocol,
    pub ports: PortRange,
    pub cidr: String,
    /// The explicit deny that blocks the flow (its entry text): the fix removes entry
    /// `rule_number` instead of inserting an allow in front of it.
    pub remove_deny: Option<String>,
    /// With `remove_deny`: a free rule number after every other deny in front of the
    /// blocking one, for an allow of exactly `cidr` and the flow's ports (the narrowest
    /// entry, preferred to deleting the deny; issue 11).
    pub allow_at: Option<i32>,
    /// With `remove_deny`: what the deny blocks, in words (`all traffic from
    /// 10.0.10.0/24`), for the side effect of deleting it.
    pub deny_scope: Option<String>,
}

impl NaclFix {
    /// The fix as data (issue 11): its command line comes from `Change::cli`. `None` when
    /// the CIDR is a placeholder (no address known).
    pub fn change(&self) -> Option<crate::model::Change> {
        self.alternatives().into_iter().next()
    }

    /// The fix's alternatives, in order of preference: before an explicit deny, the
    /// narrow allow ahead of it, then deleting the deny (its side effect said in words).
    pub fn alternatives(&self) -> Vec<crate::model::Change> {
        use crate::model::{Change, RuleAction};
        if self.remove_deny.is_some() {
            let narrow = match (self.allow_at, self.cidr.parse::<ipnet::IpNet>()) {
                (Some(n), Ok(cidr)) => Some(Change::CreateNaclEntry {
                    acl: self.acl.clone(),
                    entry: Change::nacl_entry(
                        self.egress,
                        n,
                        self.protocol,
                        self.ports,
                        cidr,
                        RuleAction::Allow,
                    ),
                }),
                _ => None,
            };
            return narrow
                .into_iter()
                .chain(std::iter::once(Change::DeleteNaclEntry {
                    acl: self.acl.clone(),
                    egress: self.egress,
                    rule_number: self.rule_number,
                }))
                .collect();
        }
        self.single().into_iter().collect()
    }

    fn single(&self) -> Option<crate::model::Change> {
        use crate::model::{Change, RuleAction};
        let cidr: ipnet::IpNet = self.cidr.parse().ok()?;
        let entry = Change::nacl_entry(
            self.egress,
            self.rule_number,
            self.protocol,
            self.ports,
            cidr,
            RuleAction::Allow,
        );
        let acl = self.acl.clone();
        Some(if self.replace {
            Change::ReplaceNaclEntry { acl, entry }
        } else {
            Change::CreateNaclEntry { acl, entry }
        })
    }

    fn command(&self) -> String {
        if let Some(change) = self.change() {
            let n = self.rule_number;
            return match (&self.remove_deny, &change, &self.deny_scope) {
                (Some(_), crate::model::Change::CreateNaclEntry { entry, .. }, Some(scope)) => {
                    format!(
                        "{}  # allows only {}, numbered ahead of the deliberate deny #{n} ({scope}), which keeps blocking everything else it covers",
                        change.cli(),
                        super::fixes::deny_scope(entry)
                    )
                }
                (Some(deny), _, scope) => format!(
                    "{}  # the deliberate deny #{n} ({deny}) blocks this flow; side effect: deleting it also allows {}, not only {}",
                    change.cli(),
                    scope.as_deref().unwrap_or("everything else it covers"),
                    self.cidr
                ),
                (None, _, _) => change.cli(),
            };
        }
        let dir = if self.egress { "--egress" } else { "--ingress" };
        let verb = if self.replace { "replace" } else { "create" };
        let cidr_flag = if self.cidr.contains(':') {
            "--ipv6-cidr-block"
        } else {
            "--cidr-block"
        };
        let ports = if matches!(self.protocol.0, 6 | 17) {
            format!(
                " --port-range From={},To={}",
                self.ports.from, self.ports.to
            )
        } else {
            String::new()
        };
        format!(
            "aws ec2 {verb}-network-acl-entry --network-acl-id {} {dir} --rule-number {} --protocol {}{ports} {cidr_flag} {} --rule-action allow",
            self.acl,
            self.rule_number,
            self.protocol.name(),
            self.cidr
        )
    }
}

/// Where a working NAT gateway is, for fixes that point a route at one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NatChoice {
    /// An available public NAT gateway (same AZ when one exists).
    Existing { nat: String, same_az: bool },
    /// None usable: create one in this public subnet (when one is known).
    Create { public_subnet: Option<String> },
}

impl NatChoice {
    fn id(&self) -> String {
        match self {
            NatChoice::Existing { nat, .. } => nat.clone(),
            NatChoice::Create { .. } => "<new-nat-gateway-id>".into(),
        }
    }
    fn prelude(&self) -> Vec<String> {
        match self {
            NatChoice::Existing { .. } => vec![],
            NatChoice::Create { public_subnet } => vec![
                "aws ec2 allocate-address --domain vpc".into(),
                format!(
                    "aws ec2 create-nat-gateway --subnet-id {} --allocation-id <eipalloc-id>",
                    public_subnet.as_deref().unwrap_or("<public-subnet-id>")
                ),
            ],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NatLeg {
    /// R22.1: NAT subnet ingress from the function to the destination port.
    InFromFunction,
    /// R22.2: NAT subnet egress to the destination.
    OutToDestination,
    /// R22.3: NAT subnet ingress of the reply on 1024-65535.
    InFromDestination,
    /// R22.4: NAT subnet egress of the reply to the function on 1024-65535.
    OutToFunction,
}

impl NatLeg {
    fn text(&self) -> &'static str {
        match self {
            NatLeg::InFromFunction => "inbound from the function",
            NatLeg::OutToDestination => "outbound to the destination",
            NatLeg::InFromDestination => "inbound replies from the destination",
            NatLeg::OutToFunction => "outbound replies to the function",
        }
    }
    fn ja(&self) -> &'static str {
        match self {
            NatLeg::InFromFunction => "関数からのインバウンド",
            NatLeg::OutToDestination => "宛先へのアウトバウンド",
            NatLeg::InFromDestination => "宛先からの応答のインバウンド",
            NatLeg::OutToFunction => "関数への応答のアウトバウンド",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ipv6Gap {
    /// `Ipv6AllowedForDualStack` is false on the function.
    FunctionFlag,
    /// The subnet has no IPv6 CIDR.
    SubnetCidr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DestFailure {
    Refused,
    Reset,
    Tls,
    Http(Option<u16>),
}

/// Which Network Firewall stage or rule kind blocks a flow (R49-R53).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FwBlock {
    /// A stateless rule or the stateless default action drops it (R49).
    StatelessDrop,
    /// The strict-order stateful default action drops it (R50).
    DefaultDrop,
    /// A domain allowlist does not contain the name (R51, R53).
    DomainNotAllowed,
    /// A domain deny or reject list contains the name (R51, R53).
    DomainDenied,
    /// A 5-tuple or Suricata drop rule matches (R49, R53).
    RuleDrop,
    /// A reject rule matches: the client sees a reset (R53).
    RuleReject,
}

impl FwBlock {
    fn code(&self) -> &'static str {
        match self {
            FwBlock::StatelessDrop => "FIREWALL_STATELESS_DROP",
            FwBlock::DefaultDrop => "FIREWALL_DEFAULT_DROP",
            FwBlock::DomainNotAllowed => "FIREWALL_DOMAIN_NOT_ALLOWED",
            FwBlock::DomainDenied => "FIREWALL_DOMAIN_DENIED",
            FwBlock::RuleDrop => "FIREWALL_RULE_DROP",
            FwBlock::RuleReject => "FIREWALL_RULE_REJECT",
        }
    }
    pub fn rules_list(&self) -> &'static [&'static str] {
        self.rules()
    }
    fn rules(&self) -> &'static [&'static str] {
        match self {
            FwBlock::StatelessDrop => &["R49"],
            FwBlock::DefaultDrop => &["R50", "R49"],
            FwBlock::DomainNotAllowed | FwBlock::DomainDenied => &["R51", "R53"],
            FwBlock::RuleDrop => &["R49", "R53"],
            FwBlock::RuleReject => &["R53"],
        }
    }
}

/// The firewall rule behind a `FirewallBlocks` issue, in words.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FwRuleText {
    /// Rule group name or ARN; `None` for a policy default action.
    pub group: Option<String>,
    /// `sid:5`, `priority 10`, or the default action.
    pub rule: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Issue {
    /// The DNS path (R58-R63): texts and fixes in `catalog/dns.rs`. Boxed: its evidence is
    /// large, and every `Issue` would be as large.
    Dns(Box<dns::DnsIssue>),
    FunctionNotInVpc {
        function: String,
    },
    FunctionNotActive {
        function: String,
        state: String,
        reason: Option<String>,
        last_update: Option<String>,
        last_update_reason: Option<String>,
        /// Subnets with few free addresses (R2 SubnetOutOfIPAddresses).
        low_ip_subnets: Vec<String>,
    },
    FunctionUpdateInProgress {
        function: String,
    },
    /// The in-VPC destination's subnet NACL drops the flow or its return (R20, R21).
    DestSubnetNaclDenied {
        subnet: String,
        dest_subnet: String,
        destination: IpAddr,
        result: Rc<NaclResult>,
        fix: NaclFix,
    },
    /// The in-VPC destination ENI's security groups admit nothing of the flow (R18).
    DestSgIngressDenied {
        subnet: String,
        eni: String,
        dest_sgs: Vec<String>,
        function_sgs: Vec<String>,
        source_cidr: String,
        destination: IpAddr,
        protocol: Protocol,
        port: u16,
    },
    /// A subnet that hosts a NAT gateway (or uses its subnet's route table): public by
    /// design, not a place for functions (R9, R12). Raised only with no function subject.
    SubnetHostsNatGateway {
        subnet: String,
        nat: String,
    },
    LambdaEniMissing {
        function: String,
        subnet: String,
        security_groups: Vec<String>,
    },
    FunctionSubnetsDiffer {
        function: Option<String>,
        good: Vec<String>,
        bad: Vec<String>,
        targets: Vec<String>,
        security_groups: Vec<String>,
    },
    SubnetNotInSnapshot {
        subnet: String,
        what: String,
    },
    NoRoute {
        subnet: String,
        rtb: String,
        family: Family,
        nat: NatChoice,
        eigw: Option<String>,
        vpc: String,
    },
    RouteBlackhole {
        subnet: String,
        route: RouteRef,
        to_nat: bool,
        nat: NatChoice,
    },
    RoutesToIgw {
        subnet: String,
        route: RouteRef,
        /// The table also serves a subnet with a NAT gateway: do not edit it in place.
        shared_with_nat_subnet: bool,
        nat: NatChoice,
        vpc: String,
    },
    NatNotAvailable {
        subnet: String,
        route: RouteRef,
        state: String,
        failure: Option<String>,
        nat: NatChoice,
    },
    NatPrivate {
        subnet: String,
        route: RouteRef,
        nat: NatChoice,
    },
    NatNoEip {
        subnet: String,
        nat_id: String,
    },
    NatSubnetNoIgwRoute {
        subnet: String,
        nat_id: String,
        nat_subnet: Option<String>,
        nat_rtb: Option<String>,
        found: Option<String>,
        igw: Option<String>,
        vpc: String,
    },
    IgwNotAttached {
        subnet: String,
        igw: String,
        vpc: String,
    },
    IgwPrivateDestination {
        subnet: String,
        destination: IpAddr,
        gateway: String,
    },
    NatCrossAz {
        subnet: String,
        subnet_az: String,
        nat_id: String,
        nat_az: String,
        route: RouteRef,
        nat: NatChoice,
    },
    RegionalNatAzNotCovered {
        subnet: String,
        az: String,
        nat_id: String,
        zones: Vec<String>,
    },
    BpaBlocksEgress {
        subnet: String,
        mode: String,
        /// The subnet whose traffic meets the gateway (NAT subnet or the function's).
        gateway_subnet: Option<String>,
        vpc: String,
        gateway: String,
        exclusions_allowed: Option<String>,
    },
    BpaNotVerifiable {
        reason: String,
    },
    NaclOutboundDenied {
        subnet: String,
        result: Rc<NaclResult>,
        protocol: Protocol,
        port: u16,
        destination: IpAddr,
        fix: NaclFix,
    },
    NaclInboundEphemeral {
        subnet: String,
        result: Rc<NaclResult>,
        protocol: Protocol,
        source: IpAddr,
        fix: NaclFix,
    },
    NatSubnetNacl {
        subnet: String,
        nat_id: String,
        nat_subnet: String,
        leg: NatLeg,
        result: Rc<NaclResult>,
        protocol: Protocol,
        peer: String,
        fix: NaclFix,
    },
    SgEgressDenied {
        subnet: String,
        security_groups: Vec<String>,
        protocol: Protocol,
        port: u16,
        destination: IpAddr,
        /// The CIDR the fix opens (`0.0.0.0/0` for the internet, the host for in-VPC peers).
        cidr: String,
    },
    Ipv6NoEgressRoute {
        subnet: String,
        rtb: String,
        eigw: Option<String>,
        vpc: String,
    },
    Ipv6NotEnabled {
        subnet: String,
        gap: Ipv6Gap,
        function: Option<String>,
        function_subnets: Vec<String>,
        security_groups: Vec<String>,
    },
    NextHopNotVerifiable {
        subnet: String,
        route: RouteRef,
        kind: &'static str,
        destination: IpAddr,
        check: String,
    },
    PathNotVerifiable {
        subnet: String,
        component: String,
        why: String,
    },
    DestinationInVpc {
        subnet: String,
        destination: IpAddr,
    },
    VpcDnsSupportDisabled {
        vpc: String,
    },
    CustomDnsUnreachable {
        subnet: String,
        server: IpAddr,
        dhcp: Option<String>,
        vpc: String,
        blockers: Vec<String>,
        /// An existing DHCP option set with AmazonProvidedDNS and the same domain name (R25).
        amazon_dhcp: Option<String>,
        /// The current set's domain name, kept when a new set is created.
        domain_name: Option<String>,
    },
    EndpointPrivateDnsCapture {
        subnet: String,
        host: String,
        endpoint: String,
        service: String,
    },
    EndpointSgIngressDenied {
        subnet: String,
        endpoint: String,
        endpoint_sgs: Vec<String>,
        function_sgs: Vec<String>,
        source_cidr: String,
        port: u16,
    },
    EndpointSubnetNacl {
        subnet: String,
        endpoint: String,
        endpoint_subnet: String,
        result: Rc<NaclResult>,
        fix: NaclFix,
    },
    TimeoutBeyondVpc {
        target: String,
        destination: Option<IpAddr>,
        nats: Vec<String>,
    },
    DnsFailureBeyondVpc {
        target: String,
        servers: Vec<String>,
        vpc: Option<String>,
    },
    AnalysisInconsistent {
        target: String,
        destination: Option<IpAddr>,
        observed: String,
        predicted: String,
    },
    DestinationFailed {
        target: String,
        destination: Option<IpAddr>,
        failure: DestFailure,
        detail: Option<String>,
    },
    /// R37/R38: the route names a transit gateway the VPC has no attachment to.
    TgwAttachmentMissing {
        subnet: String,
        vpc: String,
        tgw: String,
        route: RouteRef,
    },
    /// R38: the attachment is not `available`.
    TgwAttachmentNotAvailable {
        subnet: String,
        attachment: String,
        tgw: String,
        state: String,
        /// The transit gateway's owner (who must accept a pending attachment).
        owner: Option<String>,
    },
    /// R38/R39: no (associated) transit gateway route table.
    TgwAttachmentNotAssociated {
        subnet: String,
        attachment: String,
        tgw: String,
        /// The TGW's default association table, when known (for the fix).
        table: Option<String>,
        state: Option<String>,
    },
    /// R37: the attachment has no subnet in the function subnet's AZ.
    TgwNoSubnetInAz {
        subnet: String,
        attachment: String,
        az: String,
        az_id: Option<String>,
        attached: Vec<String>,
    },
    /// R39: the associated table has no route for the destination.
    TgwNoRoute {
        subnet: String,
        table: String,
        destination: IpAddr,
        /// A VPC attachment with an internet gateway behind it (the likely egress).
        egress: Option<String>,
        why: String,
    },
    /// R40: the longest match in the table is a blackhole.
    TgwRouteBlackhole {
        subnet: String,
        table: String,
        route: String,
        destination: String,
        egress: Option<String>,
    },
    /// R41: the table associated with the egress attachment does not lead back.
    TgwReturnRouteMissing {
        subnet: String,
        table: String,
        egress_attachment: String,
        function: IpAddr,
        workload_attachment: String,
        workload_cidr: String,
        found: Option<String>,
    },
    /// R41: a subnet of the egress VPC has no route back to the workload via the TGW.
    EgressVpcNoReturnRoute {
        subnet: String,
        rtb: String,
        from_subnet: String,
        workload_cidr: String,
        tgw: Option<String>,
        found: Option<String>,
    },
    /// R42: the egress attachment subnet routes the destination to an internet gateway.
    EgressAttachmentPublicSubnet {
        subnet: String,
        attachment: String,
        attachment_subnet: String,
        route: RouteRef,
        private_subnet: Option<String>,
    },
    /// R43: a NACL on a transit gateway attachment subnet blocks the flow.
    TgwAttachmentNacl {
        subnet: String,
        attachment: String,
        attachment_subnet: String,
        result: Rc<NaclResult>,
        fix: NaclFix,
    },
    /// R44/R48: a stateful appliance in more than one AZ without appliance mode.
    TgwApplianceModeDisabled {
        subnet: String,
        attachment: String,
        vpc: String,
        appliance: String,
        azs: Vec<String>,
    },
    /// R45: a transit gateway resource, the egress VPC or the firewall could not be read.
    TgwNotVisible {
        subnet: String,
        resource: String,
        what: String,
        account: Option<String>,
        reason: Option<String>,
    },
    /// R47: the firewall endpoint the route names is not READY (or the firewall not in sync).
    FirewallEndpointNotReady {
        subnet: String,
        firewall: String,
        endpoint: String,
        az: String,
        status: String,
        detail: Option<String>,
    },
    /// R47/R48: traffic from one AZ is routed to another AZ's firewall endpoint.
    FirewallEndpointCrossAz {
        subnet: String,
        route: RouteRef,
        endpoint: String,
        endpoint_az: String,
        subnet_az: String,
        same_az_endpoint: Option<String>,
    },
    /// R48: the reply does not pass the firewall endpoint the request passed.
    FirewallAsymmetricRoute {
        subnet: String,
        forward_endpoint: String,
        rtb: String,
        return_subnet: String,
        workload_cidr: String,
        found: String,
        /// A route for `workload_cidr` exists in `rtb` (replace it; else create one).
        replace: bool,
    },
    /// R49-R53: the firewall policy blocks the flow.
    FirewallBlocks {
        subnet: String,
        kind: FwBlock,
        firewall: String,
        policy: String,
        rule: FwRuleText,
        /// The name the firewall saw (TLS SNI / HTTP Host), if any.
        name: Option<String>,
        /// The block hits the ClientHello / request on an established connection (TLS stall).
        application: bool,
        /// The client sees a TCP reset (reject), not a silent drop.
        reset: bool,
        fix: Option<String>,
    },
    /// R52: the function's address is outside HOME_NET: domain rules do not inspect it.
    FirewallHomeNetExcludesSource {
        subnet: String,
        firewall: String,
        policy: String,
        source: String,
        home_net: Vec<String>,
    },
    /// R49: rules the engine cannot evaluate for this flow (named, never guessed).
    FirewallRulesNotEvaluable {
        subnet: String,
        firewall: String,
        policy: String,
        rules: Vec<String>,
    },
    /// R56: the destination is routed to a peering connection whose peer does not hold it.
    PeeringAsEgress {
        subnet: String,
        route: RouteRef,
        peer_vpc: String,
        peer_cidrs: Vec<String>,
        destination: IpAddr,
        nat: NatChoice,
        /// A transit gateway this VPC has an available attachment to (R37): the other way
        /// out the fix can take when the VPC has no NAT gateway or public subnet.
        tgw: Option<String>,
        /// The peer's routes back to this VPC over the same peering connection (rtb,
        /// destination), when the peer is attached to `tgw` too: moved to the transit
        /// gateway with the fix, so replies take the path requests take (R41).
        peer_returns: Vec<(String, RouteDestination)>,
    },
    /// R56: the peering connection is not active.
    PeeringNotActive {
        subnet: String,
        route: RouteRef,
        status: String,
    },
    /// R57: a Gateway Load Balancer endpoint: the appliance behind it is not verifiable.
    GwlbApplianceNotVerifiable {
        subnet: String,
        endpoint: String,
        service: String,
    },
    /// R57: the GWLB endpoint is not Available, or not in the traffic's AZ.
    GwlbEndpointNotAvailable {
        subnet: String,
        endpoint: String,
        service: String,
        why: String,
    },
    /// R7 in a VPC behind the transit gateway: a subnet there has no route onward.
    EgressVpcNoRoute {
        subnet: String,
        rtb: String,
        used_by: String,
        destination: IpAddr,
        nat: NatChoice,
    },
    /// R8 in a VPC behind the transit gateway.
    EgressVpcRouteBlackhole {
        subnet: String,
        route: RouteRef,
        used_by: String,
        nat: NatChoice,
    },
}

fn fam_any(addr: &IpAddr) -> &'static str {
    if addr.is_ipv6() { "::/0" } else { "0.0.0.0/0" }
}

fn lambda_vpc_config(subnets: &[String], sgs: &[String], ipv6: bool) -> String {
    let mut s = format!(
        "SubnetIds={},SecurityGroupIds={}",
        subnets.join(","),
        if sgs.is_empty() {
            "<security-group-ids>".to_string()
        } else {
            sgs.join(",")
        }
    );
    if ipv6 {
        s.push_str(",Ipv6AllowedForDualStack=true");
    }
    s
}

fn nat_replace(route: &RouteRef, nat: &NatChoice) -> Vec<String> {
    let mut v = nat.prelude();
    v.push(format!(
        "aws ec2 replace-route --route-table-id {} {} --nat-gateway-id {}",
        route.rtb,
        route.dest_flag(),
        nat.id()
    ));
    v
}

fn nat_hint(nat: &NatChoice) -> (String, String) {
    match nat {
        NatChoice::Existing { nat, same_az: true } => (
            format!("{nat} is available in the same AZ"),
            format!("同じ AZ の {nat} が利用可能です"),
        ),
        NatChoice::Existing { nat, same_az: false } => (
            format!("{nat} is available, but in another AZ (better: one NAT gateway per AZ, R13)"),
            format!("{nat} が利用可能ですが別 AZ にあります（AZ ごとに NAT ゲートウェイを置くのが望ましい、R13）"),
        ),
        NatChoice::Create { .. } => (
            "no available public NAT gateway exists in this VPC: create one in a public subnet".into(),
            "この VPC に利用可能なパブリック NAT ゲートウェイがありません。パブリックサブネットに作成してください".into(),
        ),
    }
}

struct Text {
    code: &'static str,
    summary: String,
    subnet: Option<String>,
    resources: Vec<String>,
    rules: Vec<String>,
    en: String,
    ja: String,
    fixes: Vec<String>,
}

/// Back to AmazonProvidedDNS without turning DNS off: `--dhcp-options-id default` associates
/// *no* options, and a VPC with no DHCP options has no DNS at all (R25). Associate a set
/// that names AmazonProvidedDNS (an existing one, else a new one keeping the domain name).
fn amazon_dns_fix(vpc: &str, existing: Option<&str>, domain: Option<&str>) -> Vec<String> {
    if let Some(id) = existing {
        return vec![format!(
            "aws ec2 associate-dhcp-options --dhcp-options-id {id} --vpc-id {vpc}  # alternative: back to AmazonProvidedDNS"
        )];
    }
    let domain = domain
        .map(|d| format!(" \"Key=domain-name,Values={d}\""))
        .unwrap_or_default();
    vec![
        format!(
            "DOPT=$(aws ec2 create-dhcp-options --dhcp-configurations \"Key=domain-name-servers,Values=AmazonProvidedDNS\"{domain} --query DhcpOptions.DhcpOptionsId --output text)  # alternative: back to AmazonProvidedDNS"
        ),
        format!("aws ec2 associate-dhcp-options --dhcp-options-id \"$DOPT\" --vpc-id {vpc}"),
    ]
}

fn sev(code: &str) -> Severity {
    CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, s)| *s)
        .unwrap_or(Severity::Error)
}

fn r(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl Issue {
    pub fn code(&self) -> &'static str {
        self.text().code
    }

    /// True when the issue breaks (or may break) a path: observed failures on that path
    /// confirm it.
    pub fn blocks_path(&self) -> bool {
        if let Issue::Dns(d) = self {
            return d.blocks_path();
        }
        !matches!(
            self,
            Issue::FunctionNotInVpc { .. }
                | Issue::FunctionUpdateInProgress { .. }
                | Issue::SubnetNotInSnapshot { .. }
                | Issue::SubnetHostsNatGateway { .. }
                | Issue::NatCrossAz { .. }
                | Issue::BpaNotVerifiable { .. }
                | Issue::DestinationInVpc { .. }
                | Issue::EndpointPrivateDnsCapture { .. }
                | Issue::FunctionSubnetsDiffer { .. }
                | Issue::TimeoutBeyondVpc { .. }
                | Issue::DnsFailureBeyondVpc { .. }
                | Issue::AnalysisInconsistent { .. }
                | Issue::DestinationFailed { .. }
                | Issue::FirewallEndpointCrossAz { .. }
                | Issue::FirewallHomeNetExcludesSource { .. }
        )
    }

    /// True for a firewall block that hits the ClientHello / HTTP request on an
    /// established connection: TCP connects, then TLS stalls (R53).
    pub fn application_stage(&self) -> bool {
        matches!(
            self,
            Issue::FirewallBlocks {
                application: true,
                ..
            }
        )
    }

    /// True for a firewall reject: the client sees a TCP reset (R53).
    pub fn resets(&self) -> bool {
        matches!(
            self,
            Issue::FirewallBlocks {
                kind: FwBlock::RuleReject,
                ..
            }
        ) || matches!(self, Issue::FirewallBlocks { reset: true, .. })
    }

    /// Issues about something the snapshot cannot see: an observed timeout on their path
    /// points beyond what the configuration proves.
    pub fn is_not_verifiable(&self) -> bool {
        if let Issue::Dns(d) = self {
            return d.is_not_verifiable();
        }
        matches!(
            self,
            Issue::NextHopNotVerifiable { .. }
                | Issue::PathNotVerifiable { .. }
                | Issue::TgwNotVisible { .. }
                | Issue::FirewallRulesNotEvaluable { .. }
                | Issue::GwlbApplianceNotVerifiable { .. }
        )
    }

    /// The confirmation a reconcile-made issue carries regardless of observations.
    pub fn fixed_confirmation(&self) -> Option<Confirmation> {
        if let Issue::Dns(d) = self {
            return d.fixed_confirmation();
        }
        match self {
            Issue::TimeoutBeyondVpc { .. } | Issue::DnsFailureBeyondVpc { .. } => {
                Some(Confirmation::BeyondVpc)
            }
            Issue::AnalysisInconsistent { .. } => Some(Confirmation::Inconsistent),
            Issue::DestinationFailed { .. } => Some(Confirmation::Confirmed),
            _ => None,
        }
    }

    pub fn render(&self, confirmation: Confirmation, explains: Vec<String>) -> Finding {
        let t = self.text();
        Finding {
            code: t.code.to_string(),
            severity: sev(t.code),
            confirmation,
            summary: t.summary,
            summary_ja: self.summary_ja(),
            subnet_id: t.subnet,
            resources: t.resources,
            rules: t.rules,
            explains,
            remediation: Remediation { en: t.en, ja: t.ja },
            fix_commands: t.fixes,
        }
    }

    /// The summary in Japanese (`--lang ja`), built from the same evidence as the English
    /// one. A new code adds its arm here; `diagnosis_fixtures` checks that every code of
    /// `CODES` has one. Evidence that is data (route and NACL texts, IDs, CIDRs) stays as it
    /// is.
    pub fn summary_ja(&self) -> Option<String> {
        let opt_ja = |v: &[String], none: &str| {
            if v.is_empty() {
                none.to_string()
            } else {
                v.join("、")
            }
        };
        let allows = |partial: bool| {
            if partial {
                "一部しか許可していません"
            } else {
                "拒否しています"
            }
        };
        Some(match self {
            Issue::FunctionNotInVpc { function } => {
                format!(
                    "{function} は VPC に接続されていません。デフォルトでインターネットにアクセスできます"
                )
            }
            Issue::FunctionNotActive {
                function,
                state,
                reason,
                last_update_reason,
                ..
            } => {
                let why = reason
                    .clone()
                    .or(last_update_reason.clone())
                    .unwrap_or_else(|| "理由コードなし".into());
                format!("{function} はアクティブではありません（{state}、{why}）")
            }
            Issue::FunctionUpdateInProgress { function } => {
                format!("{function} は更新中です。呼び出しはまだ以前の設定で実行されます")
            }
            Issue::DestSubnetNaclDenied {
                subnet,
                dest_subnet,
                destination,
                result,
                ..
            } => format!(
                "{dest_subnet}（{destination} のサブネット）のネットワーク ACL {} が {subnet} {}を拒否しています: {}",
                result.acl_id,
                if result.egress {
                    "への戻りの通信（アウトバウンド）"
                } else {
                    "からの通信（インバウンド）"
                },
                result.decided_by()
            ),
            Issue::DestSgIngressDenied {
                subnet,
                eni,
                dest_sgs,
                destination,
                protocol,
                port,
                ..
            } => format!(
                "{eni}（{destination}）のセキュリティグループ {} は {subnet} からの {} {port} を許可していません",
                dest_sgs.join("、"),
                protocol.name()
            ),
            Issue::SubnetHostsNatGateway { subnet, nat } => format!(
                "{subnet} は NAT ゲートウェイ {nat} のためにインターネットゲートウェイへルーティングされています。設計上のパブリックサブネットで、関数を置く場所ではありません"
            ),
            Issue::LambdaEniMissing {
                function,
                subnet,
                security_groups,
            } => format!(
                "{subnet} に {function} の Lambda Hyperplane ENI がありません（セキュリティグループ {}）",
                security_groups.join(",")
            ),
            Issue::FunctionSubnetsDiffer {
                good, bad, targets, ..
            } => format!(
                "{} に対してサブネットごとに結果が異なります。失敗: {}、成功: {}。呼び出しを処理するアベイラビリティーゾーンによって断続的に失敗します",
                targets.join("、"),
                bad.join("、"),
                opt_ja(good, "なし")
            ),
            Issue::SubnetNotInSnapshot { subnet, what } => {
                format!("{subnet}: {what} がスナップショットにありません。ここからは検証できません")
            }
            Issue::NoRoute {
                subnet,
                rtb,
                family,
                ..
            } => {
                if *family == Family::Ipv6 {
                    format!(
                        "{rtb}（{subnet} が使用）に宛先への IPv6 ルートがありません（0.0.0.0/0 は IPv6 を含みません）"
                    )
                } else {
                    format!(
                        "{rtb}（{subnet} が使用）に宛先へのルートがありません。サブネットから出られるのはローカルの通信だけです"
                    )
                }
            }
            Issue::Ipv6NoEgressRoute { subnet, rtb, .. } => {
                format!(
                    "{rtb}（{subnet} が使用）に宛先への IPv6 ルートがありません（0.0.0.0/0 は IPv6 を含みません）"
                )
            }
            Issue::RouteBlackhole { subnet, route, .. } => format!(
                "{}（{subnet} が使用）はブラックホールです。ターゲットはもう存在しません",
                route.text
            ),
            Issue::RoutesToIgw { subnet, route, .. } => format!(
                "{subnet} はパブリックサブネットです（{}）。Lambda の ENI にはパブリック IP がないため、インターネットゲートウェイは通信を破棄します",
                route.text
            ),
            Issue::NatNotAvailable {
                subnet,
                route,
                state,
                failure,
                ..
            } => {
                let fail = failure
                    .as_deref()
                    .map(|f| format!("（{f}）"))
                    .unwrap_or_default();
                format!(
                    "{}（{subnet} が使用）のターゲット {} の状態は {state}{fail} です。ルートはアクティブと表示されていますが使えません",
                    route.text, route.target
                )
            }
            Issue::NatPrivate { route, .. } => format!(
                "{} はプライベート NAT ゲートウェイです。インターネットゲートウェイはその通信を破棄します",
                route.target
            ),
            Issue::NatNoEip { nat_id, .. } => {
                format!("パブリック NAT ゲートウェイ {nat_id} に Elastic IP アドレスがありません")
            }
            Issue::NatSubnetNoIgwRoute {
                nat_id,
                nat_subnet,
                found,
                ..
            } => format!(
                "{} の NAT ゲートウェイ {nat_id} に、宛先をアタッチ済みのインターネットゲートウェイへ送るルートがありません（{}）",
                nat_subnet.as_deref().unwrap_or("その VPC"),
                found.as_deref().unwrap_or("一致するルートなし")
            ),
            Issue::IgwNotAttached { igw, vpc, .. } => {
                format!("インターネットゲートウェイ {igw} は {vpc} にアタッチされていません")
            }
            Issue::IgwPrivateDestination {
                destination,
                gateway,
                ..
            } => format!(
                "{destination} はプライベート（RFC 1918）アドレスです。インターネットゲートウェイ {gateway} はそこへ転送しません"
            ),
            Issue::NatCrossAz {
                subnet,
                subnet_az,
                nat_id,
                nat_az,
                ..
            } => format!(
                "{subnet}（{subnet_az}）は {nat_az} の NAT ゲートウェイ {nat_id} を使っています。送信が別のアベイラビリティーゾーンに依存し、AZ 間のデータ転送料金がかかります"
            ),
            Issue::RegionalNatAzNotCovered {
                az, nat_id, zones, ..
            } => format!(
                "リージョナル NAT ゲートウェイ {nat_id} は {az} に登録されていません（ゾーン: {}）",
                opt_ja(zones, "なし")
            ),
            Issue::BpaBlocksEgress { mode, gateway, .. } => {
                format!(
                    "VPC ブロックパブリックアクセス（{mode}）が {gateway} を通る通信を遮断しています"
                )
            }
            Issue::BpaNotVerifiable { reason } => format!(
                "VPC ブロックパブリックアクセスの設定を読み取れませんでした（{reason}）。ゲートウェイ経由のインターネット通信は遮断されていないとみなしましたが、検証していません"
            ),
            Issue::NaclOutboundDenied {
                subnet,
                result,
                protocol,
                port,
                destination,
                ..
            } => format!(
                "ネットワーク ACL {} が {subnet} から {destination} への {} {port} のアウトバウンドを拒否しています（{}）",
                result.acl_id,
                protocol.name(),
                result.decided_by()
            ),
            Issue::NaclInboundEphemeral {
                subnet,
                result,
                source,
                ..
            } => {
                if result.verdict == crate::model::HopVerdict::Partial {
                    format!(
                        "ネットワーク ACL {} は {source} から {subnet} への応答を、エフェメラルポート 1024-65535 のうち {} でしか許可していません。接続は断続的に失敗します（Lambda は送信元ポートに 1024-65535 を使います）",
                        result.acl_id,
                        ranges_text(&result.allowed)
                    )
                } else {
                    format!(
                        "ネットワーク ACL {} が {source} から {subnet} へのエフェメラルポート 1024-65535 の応答を拒否しています（{}）",
                        result.acl_id,
                        result.decided_by()
                    )
                }
            }
            Issue::NatSubnetNacl {
                nat_id,
                nat_subnet,
                leg,
                result,
                peer,
                ..
            } => format!(
                "NAT サブネット {nat_subnet}（{nat_id}）のネットワーク ACL {} が {peer} との{}を{}: {}",
                result.acl_id,
                leg.ja(),
                allows(result.verdict == crate::model::HopVerdict::Partial),
                result.decided_by()
            ),
            Issue::SgEgressDenied {
                security_groups,
                protocol,
                port,
                destination,
                ..
            } => format!(
                "セキュリティグループ {} のどのアウトバウンドルールも {destination} への {} {port} を許可していません",
                security_groups.join("、"),
                protocol.name()
            ),
            Issue::Ipv6NotEnabled {
                subnet,
                gap,
                function,
                ..
            } => match gap {
                Ipv6Gap::FunctionFlag => format!(
                    "{} は IPv6 の送信を許可していません（Ipv6AllowedForDualStack が false）",
                    function.as_deref().unwrap_or("関数")
                ),
                Ipv6Gap::SubnetCidr => {
                    format!("{subnet} に IPv6 CIDR がありません。IPv6 の宛先には到達できません")
                }
            },
            Issue::NextHopNotVerifiable {
                route,
                kind,
                destination,
                ..
            } => format!(
                "{} は {destination} を {kind} に送ります。その先の経路はここからは検証できません",
                route.text
            ),
            Issue::PathNotVerifiable { component, why, .. } => {
                format!("{component}: {why}。ここからは検証できません")
            }
            Issue::DestinationInVpc {
                subnet,
                destination,
            } => format!(
                "{destination} は VPC 内（ローカルルート）にあります。送信側（セキュリティグループのアウトバウンド、{subnet} のネットワーク ACL）と、スナップショットにある宛先側（サブネットのネットワーク ACL、ENI のセキュリティグループ）を評価しました"
            ),
            Issue::VpcDnsSupportDisabled { vpc } => {
                format!(
                    "{vpc} の enableDnsSupport が false です。Amazon DNS サーバーは応答しません"
                )
            }
            Issue::CustomDnsUnreachable {
                subnet,
                server,
                dhcp,
                blockers,
                ..
            } => format!(
                "カスタム DNS サーバー {server}{} に {subnet} からポート 53 で到達できません: {}",
                dhcp.as_deref()
                    .map(|d| format!("（DHCP オプションセット {d}）"))
                    .unwrap_or_default(),
                blockers.join("; ")
            ),
            Issue::EndpointPrivateDnsCapture {
                host,
                endpoint,
                service,
                ..
            } => format!(
                "{host} はインターフェイスエンドポイント {endpoint}（{service}、プライベート DNS）に解決されます。通信は NAT を通らず VPC 内にとどまります"
            ),
            Issue::EndpointSgIngressDenied {
                subnet,
                endpoint,
                endpoint_sgs,
                port,
                ..
            } => format!(
                "インターフェイスエンドポイント {endpoint} のセキュリティグループ {} は {subnet} からの TCP {port} を許可していません",
                endpoint_sgs.join("、")
            ),
            Issue::EndpointSubnetNacl {
                endpoint,
                endpoint_subnet,
                result,
                ..
            } => format!(
                "エンドポイントのサブネット {endpoint_subnet}（{endpoint}）のネットワーク ACL {} が{}を{}: {}",
                result.acl_id,
                if result.egress {
                    "関数への 1024-65535 での応答"
                } else {
                    "関数からのリクエスト"
                },
                allows(result.verdict == crate::model::HopVerdict::Partial),
                result.decided_by()
            ),
            Issue::TimeoutBeyondVpc {
                target,
                destination,
                ..
            } => {
                let dest = destination
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| target.clone());
                format!(
                    "{target}（{dest}）はタイムアウトしましたが、VPC の設定は通信を許可しています。原因は VPC の外にあります"
                )
            }
            Issue::DnsFailureBeyondVpc {
                target, servers, ..
            } => format!(
                "{target} は失敗しましたが、VPC の設定ではリゾルバー（{}）に到達できます",
                opt_ja(servers, "Amazon DNS")
            ),
            Issue::AnalysisInconsistent {
                target,
                destination,
                observed,
                predicted,
            } => format!(
                "{target}{}: 観測結果は {observed} ですが、設定からの予測は {predicted} です",
                destination.map(|d| format!("（{d}）")).unwrap_or_default()
            ),
            Issue::DestinationFailed {
                target,
                destination,
                failure,
                detail,
            } => {
                let dest = destination
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| target.clone());
                let det = detail
                    .as_deref()
                    .map(|d| format!("（{d}）"))
                    .unwrap_or_default();
                match failure {
                    DestFailure::Refused => format!(
                        "{dest} が接続を拒否しました{det}。ネットワーク経路は機能しており、そこで待ち受けているサービスがありません"
                    ),
                    DestFailure::Reset => format!(
                        "{dest} が接続をリセットしました{det}。経路は機能しており、宛先または途中の機器が接続を閉じました"
                    ),
                    DestFailure::Tls => format!(
                        "{dest} との TLS が失敗しました{det}。ネットワーク経路は機能していますが、TLS の設定に問題があります"
                    ),
                    DestFailure::Http(s) => format!(
                        "{dest} が HTTP {} を返しました{det}。ネットワーク経路は機能していますが、サービスが失敗しています",
                        s.map(|x| x.to_string()).unwrap_or_else(|| "エラー".into())
                    ),
                }
            }
            Issue::TgwAttachmentMissing {
                subnet, vpc, tgw, ..
            } => format!(
                "{subnet} のルートテーブルはトランジットゲートウェイ {tgw} を指していますが、{vpc} にはそのアタッチメントがありません (R37, R38)"
            ),
            Issue::TgwAttachmentNotAvailable {
                subnet,
                attachment,
                state,
                ..
            } => format!(
                "{subnet} が使うトランジットゲートウェイアタッチメント {attachment} の状態は {state} で、available ではありません (R38)"
            ),
            Issue::TgwAttachmentNotAssociated {
                subnet, attachment, ..
            } => format!(
                "{subnet} が使うトランジットゲートウェイアタッチメント {attachment} はどのトランジットゲートウェイルートテーブルにも関連付けられていません (R38, R39)"
            ),
            Issue::TgwNoSubnetInAz {
                subnet,
                attachment,
                az,
                ..
            } => format!(
                "トランジットゲートウェイアタッチメント {attachment} には {az} のサブネットがないため、{subnet} からはトランジットゲートウェイに届きません (R37)"
            ),
            Issue::TgwNoRoute {
                subnet,
                table,
                destination,
                ..
            } => format!(
                "トランジットゲートウェイルートテーブル {table} に {destination} へのルートがありません（{subnet} からの経路） (R39)"
            ),
            Issue::TgwRouteBlackhole {
                subnet,
                table,
                route,
                destination,
                ..
            } => format!(
                "トランジットゲートウェイルートテーブル {table} の最長一致ルート {route} はブラックホールで、{subnet} から {destination} へのトラフィックを破棄します (R40)"
            ),
            Issue::TgwReturnRouteMissing {
                subnet,
                table,
                egress_attachment,
                function,
                ..
            } => format!(
                "エグレスアタッチメント {egress_attachment} に関連付けられたトランジットゲートウェイルートテーブル {table} に、{subnet} の関数アドレス {function} への戻りのルートがありません (R41)"
            ),
            Issue::EgressVpcNoReturnRoute {
                subnet,
                rtb,
                workload_cidr,
                ..
            } => format!(
                "エグレス VPC のルートテーブル {rtb} に、ワークロード CIDR {workload_cidr} をトランジットゲートウェイに戻すルートがありません（{subnet} からの応答が戻りません） (R41)"
            ),
            Issue::EgressAttachmentPublicSubnet {
                subnet,
                attachment,
                attachment_subnet,
                ..
            } => format!(
                "エグレス VPC のアタッチメント {attachment} のサブネット {attachment_subnet} はインターネットゲートウェイにルーティングされるパブリックサブネットです。{subnet} のトラフィックは NAT ゲートウェイを通りません (R42)"
            ),
            Issue::TgwAttachmentNacl {
                subnet,
                attachment,
                attachment_subnet,
                ..
            } => format!(
                "トランジットゲートウェイアタッチメント {attachment} のサブネット {attachment_subnet} のネットワーク ACL が {subnet} のトラフィックを拒否しています (R43)"
            ),
            Issue::TgwApplianceModeDisabled {
                subnet,
                attachment,
                appliance,
                ..
            } => format!(
                "{appliance} は複数のアベイラビリティーゾーンでステートフルに検査しますが、アタッチメント {attachment} のアプライアンスモードが無効です。{subnet} の応答が別の AZ に戻り破棄されることがあります (R44, R48)"
            ),
            Issue::TgwNotVisible {
                subnet,
                resource,
                what,
                account,
                ..
            } => format!(
                "{subnet} の経路上の {what} {resource} を読み取れませんでした{}。この先は評価されていません (R45)",
                account
                    .as_ref()
                    .map(|a| format!("（所有アカウント {a}）"))
                    .unwrap_or_default()
            ),
            Issue::FirewallEndpointNotReady {
                subnet,
                firewall,
                endpoint,
                status,
                ..
            } => format!(
                "{subnet} の経路上のファイアウォール {firewall} のエンドポイント {endpoint} の状態は {status} で、READY ではありません (R47)"
            ),
            Issue::FirewallEndpointCrossAz {
                subnet,
                endpoint,
                endpoint_az,
                subnet_az,
                ..
            } => format!(
                "{subnet}（{subnet_az}）のトラフィックは別のアベイラビリティーゾーン {endpoint_az} のファイアウォールエンドポイント {endpoint} にルーティングされています (R47, R48)"
            ),
            Issue::FirewallAsymmetricRoute {
                subnet,
                forward_endpoint,
                rtb,
                ..
            } => format!(
                "{subnet} の往路はファイアウォールエンドポイント {forward_endpoint} を通りますが、ルートテーブル {rtb} の復路は同じエンドポイントを通りません（非対称ルーティング） (R48)"
            ),
            Issue::FirewallBlocks {
                subnet,
                kind,
                firewall,
                rule,
                name,
                ..
            } => {
                let what = match kind {
                    FwBlock::StatelessDrop => {
                        "ステートレスルールまたはステートレスのデフォルトアクションが破棄しています (R49)"
                    }
                    FwBlock::DefaultDrop => {
                        "厳密な評価順序のステートフルデフォルトアクションが破棄しています (R50)"
                    }
                    FwBlock::DomainNotAllowed => {
                        "ドメイン許可リストにこの名前が含まれていません (R51, R53)"
                    }
                    FwBlock::DomainDenied => {
                        "ドメイン拒否リストがこの名前に一致しています (R51, R53)"
                    }
                    FwBlock::RuleDrop => "ドロップルールが一致しています (R49, R53)",
                    FwBlock::RuleReject => {
                        "リジェクトルールが一致し、TCP リセットを返しています (R53)"
                    }
                };
                format!(
                    "{subnet} から{} へのトラフィックを Network Firewall {firewall} が止めています：{what}（{}）",
                    name.as_ref().map(|n| format!(" {n}")).unwrap_or_default(),
                    rule.rule
                )
            }
            Issue::FirewallHomeNetExcludesSource {
                subnet,
                firewall,
                source,
                ..
            } => format!(
                "{subnet} の送信元 {source} はファイアウォール {firewall} の HOME_NET の外にあるため、ドメインリストのルールが適用されません (R52)"
            ),
            Issue::FirewallRulesNotEvaluable {
                subnet,
                firewall,
                rules,
                ..
            } => format!(
                "ファイアウォール {firewall} の {} 個のルールは評価できず、{subnet} からの判定は推測していません (R49)",
                rules.len()
            ),
            Issue::PeeringAsEgress {
                subnet,
                peer_vpc,
                destination,
                ..
            } => format!(
                "{subnet} は {destination} へのトラフィックを VPC ピアリング接続（相手 {peer_vpc}）に送っていますが、ピアの NAT やインターネットゲートウェイは使えません (R56)"
            ),
            Issue::PeeringNotActive { subnet, status, .. } => format!(
                "{subnet} のルートが指す VPC ピアリング接続の状態は {status} で、active ではありません (R56)"
            ),
            Issue::GwlbApplianceNotVerifiable {
                subnet,
                endpoint,
                service,
            } => format!(
                "{subnet} の経路は Gateway Load Balancer エンドポイント {endpoint}（{service}）のアプライアンスを通ります。その判定は確認できません (R57)"
            ),
            Issue::GwlbEndpointNotAvailable {
                subnet,
                endpoint,
                why,
                ..
            } => format!(
                "{subnet} の経路上の Gateway Load Balancer エンドポイント {endpoint} は使用できません：{why} (R57)"
            ),
            Issue::EgressVpcNoRoute {
                subnet,
                rtb,
                destination,
                ..
            } => format!(
                "エグレス VPC のルートテーブル {rtb} に {destination} へのルートがありません（{subnet} からの経路）"
            ),
            Issue::EgressVpcRouteBlackhole {
                subnet, used_by, ..
            } => format!(
                "エグレス VPC のサブネット {used_by} のルートはブラックホールで、{subnet} からのトラフィックを破棄します"
            ),
            Issue::Dns(d) => d.summary_ja(),
            #[allow(unreachable_patterns)]
            _ => return None,
        })
    }

    fn text(&self) -> Text {
        match self {
            Issue::Dns(d) => d.text(),
            Issue::FunctionNotInVpc { function } => Text {
                code: "FUNCTION_NOT_IN_VPC",
                summary: format!("{function} is not attached to a VPC: it has internet access by default"),
                subnet: None,
                resources: vec![function.clone()],
                rules: r(&["R3"]),
                en: "No VPC path to analyse. A function outside a VPC reaches the internet through Lambda's own network; failures come from the destination or DNS.".into(),
                ja: "解析対象の VPC 経路はありません。VPC に接続されていない関数は Lambda のネットワーク経由でインターネットに到達できます。失敗の原因は宛先または DNS です。".into(),
                fixes: vec![],
            },
            Issue::FunctionNotActive { function, state, reason, last_update, last_update_reason, low_ip_subnets } => {
                let reason_txt = reason.clone().or(last_update_reason.clone()).unwrap_or_else(|| "no reason code".into());
                let mut en = format!("{function} is {state} (LastUpdateStatus {}, reason {reason_txt}). ", last_update.as_deref().unwrap_or("unknown"));
                let mut ja = format!("{function} の状態は {state} です（LastUpdateStatus {}、理由 {reason_txt}）。", last_update.as_deref().unwrap_or("不明"));
                let mut fixes = vec![format!("aws lambda get-function-configuration --function-name {function} --query '[State,StateReasonCode,StateReason,LastUpdateStatus,LastUpdateStatusReasonCode]'")];
                match reason_txt.as_str() {
                    "Idle" => {
                        en.push_str("An idle function becomes Inactive: invoke it once; that invocation fails and the function is Pending until its network interface is ready (R1).");
                        ja.push_str("アイドル状態の関数は Inactive になります。一度呼び出してください（その呼び出しは失敗し、ネットワークインターフェイスの準備ができるまで Pending になります、R1）。");
                        fixes.push(format!("aws lambda invoke --function-name {function} /dev/null"));
                    }
                    "SubnetOutOfIPAddresses" => {
                        en.push_str(&format!("The subnets have no free IP addresses for the Hyperplane ENI (R2){}: free addresses or add larger subnets.", if low_ip_subnets.is_empty() { String::new() } else { format!(": {}", low_ip_subnets.join(", ")) }));
                        ja.push_str("サブネットに Hyperplane ENI 用の空き IP アドレスがありません（R2）。アドレスを解放するか、より大きなサブネットを追加してください。");
                    }
                    "EniLimitExceeded" => {
                        en.push_str("The VPC reached the Lambda Hyperplane ENI quota (R2): request an increase or reduce the unique subnet/security-group combinations.");
                        ja.push_str("VPC の Lambda Hyperplane ENI のクォータに達しました（R2）。引き上げを申請するか、サブネットとセキュリティグループの組み合わせを減らしてください。");
                    }
                    "InsufficientRolePermissions" => {
                        en.push_str("The execution role cannot manage ENIs (R2): attach AWSLambdaVPCAccessExecutionRole.");
                        ja.push_str("実行ロールに ENI を管理する権限がありません（R2）。AWSLambdaVPCAccessExecutionRole をアタッチしてください。");
                        fixes.push("aws iam attach-role-policy --role-name <execution-role-name> --policy-arn arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole".into());
                    }
                    _ => {
                        en.push_str("Wait for Active; if Failed, fix the cause named by the reason code and update the function (R1, R2).");
                        ja.push_str("Active になるまで待ってください。Failed の場合は理由コードの原因を修正して関数を更新してください（R1、R2）。");
                    }
                }
                Text { code: "FUNCTION_NOT_ACTIVE", summary: format!("{function} is not active ({state}, {reason_txt})"), subnet: None, resources: vec![function.clone()], rules: r(&["R1", "R2"]), en, ja, fixes }
            }
            Issue::FunctionUpdateInProgress { function } => Text {
                code: "FUNCTION_UPDATE_IN_PROGRESS",
                summary: format!("{function} has an update in progress: invocations still run the previous configuration"),
                subnet: None,
                resources: vec![function.clone()],
                rules: r(&["R1"]),
                en: "Results reflect the previous VPC configuration until LastUpdateStatus is Successful; run the check again afterwards.".into(),
                ja: "LastUpdateStatus が Successful になるまでは以前の VPC 設定で実行されます。完了後に再度確認してください。".into(),
                fixes: vec![format!("aws lambda wait function-updated-v2 --function-name {function}")],
            },
            Issue::DestSubnetNaclDenied { subnet, dest_subnet, destination, result, fix } => {
                let way = if result.egress { "outbound replies to" } else { "inbound traffic from" };
                let way_ja = if result.egress { "への戻りの通信（アウトバウンド）" } else { "からの通信（インバウンド）" };
                Text {
                    code: "DEST_SUBNET_NACL_DENIED",
                    summary: format!("{} on {dest_subnet} (the subnet of {destination}) blocks {way} {subnet}: {}", result.acl_id, result.decided_by()),
                    subnet: Some(subnet.clone()),
                    resources: vec![result.acl_id.clone(), dest_subnet.clone()],
                    rules: r(&["R20", "R21", "R6"]),
                    en: format!("The destination's own subnet NACL {} must allow {way} {subnet}.", result.acl_id),
                    ja: format!("宛先サブネットの NACL {} で {subnet} {way_ja}を許可してください。", result.acl_id),
                    fixes: vec![fix.command()],
                }
            }
            Issue::DestSgIngressDenied { subnet, eni, dest_sgs, function_sgs, source_cidr, destination, protocol, port } => {
                let dsg = dest_sgs.first().cloned().unwrap_or_else(|| "<destination-sg-id>".into());
                let src = match function_sgs.first() {
                    Some(sg) => format!("--source-group {sg}"),
                    None => format!("--cidr {source_cidr}"),
                };
                Text {
                    code: "DEST_SG_INGRESS_DENIED",
                    summary: format!("security groups {} of {eni} ({destination}) do not allow {} {port} from {subnet}", dest_sgs.join(", "), protocol.name()),
                    subnet: Some(subnet.clone()),
                    resources: [vec![eni.clone()], dest_sgs.clone()].concat(),
                    rules: r(&["R18", "R6"]),
                    en: format!("Allow inbound {} {port} on {dsg} from the function's security group or subnet.", protocol.name()),
                    ja: format!("{dsg} で関数のセキュリティグループまたはサブネットからの {} {port} のインバウンドを許可してください。", protocol.name()),
                    fixes: vec![format!("aws ec2 authorize-security-group-ingress --group-id {dsg} --protocol {} --port {port} {src}", protocol.name())],
                }
            }
            Issue::SubnetHostsNatGateway { subnet, nat } => Text {
                code: "SUBNET_HOSTS_NAT_GATEWAY",
                summary: format!("{subnet} routes to the internet gateway for NAT gateway {nat}: a public subnet by design, not a place for functions"),
                subnet: Some(subnet.clone()),
                resources: vec![subnet.clone(), nat.clone()],
                rules: r(&["R9", "R12"]),
                en: format!("Leave {subnet}'s routes as they are: {nat} needs them (R12). A Lambda ENI has no public IP (R9), so attach functions to the private subnets behind {nat} instead."),
                ja: format!("{subnet} のルートは {nat} に必要なので変更しないでください（R12）。Lambda の ENI にはパブリック IP がない（R9）ため、関数は {nat} の背後のプライベートサブネットに接続してください。"),
                fixes: vec![],
            },
            Issue::LambdaEniMissing { function, subnet, security_groups } => Text {
                code: "LAMBDA_ENI_MISSING",
                summary: format!("{function} is Active but no Lambda Hyperplane ENI with security groups {} is visible in {subnet}", security_groups.join(",")),
                subnet: Some(subnet.clone()),
                resources: vec![function.clone(), subnet.clone()],
                rules: r(&["R3", "R1", "R2"]),
                en: format!("Not seen: a network interface of type lambda in {subnet} with exactly the security groups {} (R3). The function is Active (R1), so Lambda reports its ENIs as ready; the interface may be owned elsewhere or not listed to this principal. If invocations in this subnet fail, check free IPs and the ENI quota (R2).", security_groups.join(",")),
                ja: format!("見えなかったもの: {subnet} にあるタイプ lambda で、セキュリティグループが {} と一致するネットワークインターフェイス（R3）。関数は Active（R1）で、Lambda は ENI を準備済みとしています。別の所有者のものか、この権限では一覧できない可能性があります。このサブネットで呼び出しが失敗する場合は空き IP と ENI のクォータ（R2）を確認してください。", security_groups.join(",")),
                fixes: vec![format!("aws ec2 describe-network-interfaces --filters Name=interface-type,Values=lambda Name=subnet-id,Values={subnet} Name=group-id,Values={}", security_groups.join(","))],
            },
            Issue::FunctionSubnetsDiffer { function, good, bad, targets, security_groups } => {
                let fixes = match function {
                    Some(f) if !good.is_empty() => vec![format!("aws lambda update-function-configuration --function-name {f} --vpc-config {}", lambda_vpc_config(good, security_groups, false))],
                    _ => vec![],
                };
                let mut resources = good.clone();
                resources.extend(bad.iter().cloned());
                resources.sort();
                Text {
                    code: "FUNCTION_SUBNETS_DIFFER",
                    summary: format!("subnets behave differently for {}: {} fail(s), {} work(s) — intermittent failures depending on the AZ that serves the invocation", targets.join(", "), bad.join(", "), if good.is_empty() { "none".to_string() } else { good.join(", ") }),
                    subnet: None,
                    resources,
                    rules: r(&["R4"]),
                    en: format!("Make every subnet of the function equivalent (private, routed to a working NAT gateway, same NACLs), or remove {} from its configuration.", bad.join(", ")),
                    ja: format!("関数のすべてのサブネットを同等に構成する（プライベート、正常な NAT ゲートウェイへのルート、同じ NACL）か、{} を設定から外してください。", bad.join(", ")),
                    fixes,
                }
            }
            Issue::SubnetNotInSnapshot { subnet, what } => Text {
                code: "SUBNET_NOT_IN_SNAPSHOT",
                summary: format!("{subnet}: {what} not in the snapshot: not verifiable from here"),
                subnet: Some(subnet.clone()),
                resources: vec![subnet.clone()],
                rules: r(&["R5"]),
                en: "Take the snapshot with the subnet's VPC (and permission for DescribeSubnets/DescribeRouteTables/DescribeNetworkAcls).".into(),
                ja: "サブネットの VPC を含めてスナップショットを取得してください（DescribeSubnets/DescribeRouteTables/DescribeNetworkAcls の権限が必要）。".into(),
                fixes: vec![],
            },
            Issue::NoRoute { subnet, rtb, family, nat, eigw, vpc } => {
                if *family == Family::Ipv6 {
                    return Issue::Ipv6NoEgressRoute { subnet: subnet.clone(), rtb: rtb.clone(), eigw: eigw.clone(), vpc: vpc.clone() }.text();
                }
                let (hint_en, hint_ja) = nat_hint(nat);
                let mut fixes = nat.prelude();
                fixes.push(format!("aws ec2 create-route --route-table-id {rtb} --destination-cidr-block 0.0.0.0/0 --nat-gateway-id {}", nat.id()));
                Text {
                    code: "NO_DEFAULT_ROUTE",
                    summary: format!("{rtb} (used by {subnet}) has no route to the destination: only local traffic leaves the subnet"),
                    subnet: Some(subnet.clone()),
                    resources: vec![rtb.clone()],
                    rules: r(&["R5", "R7"]),
                    en: format!("Add 0.0.0.0/0 -> a public NAT gateway to {rtb}; {hint_en}."),
                    ja: format!("{rtb} に 0.0.0.0/0 → パブリック NAT ゲートウェイのルートを追加してください。{hint_ja}。"),
                    fixes,
                }
            }
            Issue::Ipv6NoEgressRoute { subnet, rtb, eigw, vpc } => {
                let mut fixes = Vec::new();
                if eigw.is_none() {
                    fixes.push(format!("aws ec2 create-egress-only-internet-gateway --vpc-id {vpc}"));
                }
                fixes.push(format!("aws ec2 create-route --route-table-id {rtb} --destination-ipv6-cidr-block ::/0 --egress-only-internet-gateway-id {}", eigw.as_deref().unwrap_or("<eigw-id>")));
                Text {
                    code: "IPV6_NO_EGRESS_ROUTE",
                    summary: format!("{rtb} (used by {subnet}) has no IPv6 route to the destination (0.0.0.0/0 does not cover IPv6)"),
                    subnet: Some(subnet.clone()),
                    resources: vec![rtb.clone()],
                    rules: r(&["R31", "R7"]),
                    en: format!("Add ::/0 -> an egress-only internet gateway to {rtb}, or make clients use IPv4."),
                    ja: format!("{rtb} に ::/0 → Egress-only インターネットゲートウェイのルートを追加するか、クライアントに IPv4 を使わせてください。"),
                    fixes,
                }
            }
            Issue::RouteBlackhole { subnet, route, to_nat, nat } => {
                let (hint_en, hint_ja) = nat_hint(nat);
                Text {
                    code: if *to_nat { "NAT_ROUTE_BLACKHOLE" } else { "ROUTE_BLACKHOLE" },
                    summary: format!("{} (used by {subnet}) is a blackhole: its target no longer exists", route.text),
                    subnet: Some(subnet.clone()),
                    resources: vec![route.rtb.clone(), route.target.clone()],
                    rules: r(&["R8"]),
                    en: format!("Re-point the route at an available NAT gateway; {hint_en}."),
                    ja: format!("ルートを利用可能な NAT ゲートウェイに向け直してください。{hint_ja}。"),
                    fixes: nat_replace(route, nat),
                }
            }
            Issue::RoutesToIgw { subnet, route, shared_with_nat_subnet, nat, vpc } => {
                let (hint_en, hint_ja) = nat_hint(nat);
                let mut fixes = Vec::new();
                if *shared_with_nat_subnet {
                    fixes.extend(nat.prelude());
                    fixes.push(format!("aws ec2 create-route-table --vpc-id {vpc}"));
                    fixes.push(format!("aws ec2 create-route --route-table-id <new-rtb-id> --destination-cidr-block 0.0.0.0/0 --nat-gateway-id {}", nat.id()));
                    fixes.push(format!("aws ec2 associate-route-table --route-table-id <new-rtb-id> --subnet-id {subnet}  # or replace-route-table-association if {subnet} is explicitly associated"));
                } else {
                    fixes = nat_replace(route, nat);
                }
                Text {
                    code: "LAMBDA_SUBNET_ROUTES_TO_IGW",
                    summary: format!("{subnet} is a public subnet ({}): Lambda ENIs have no public IP, so the internet gateway drops the traffic", route.text),
                    subnet: Some(subnet.clone()),
                    resources: vec![route.rtb.clone(), route.target.clone()],
                    rules: r(&["R9"]),
                    en: format!("Attach the function to private subnets whose default route points to a NAT gateway in a public subnet{}; {hint_en}.", if *shared_with_nat_subnet { " (this route table also serves the NAT gateway's subnet: give the function's subnet its own table)" } else { "" }),
                    ja: format!("関数はプライベートサブネットに接続し、そのデフォルトルートをパブリックサブネットの NAT ゲートウェイに向けてください{}。{hint_ja}。", if *shared_with_nat_subnet { "（このルートテーブルは NAT ゲートウェイのサブネットでも使われているため、関数のサブネットには専用のルートテーブルを割り当ててください）" } else { "" }),
                    fixes,
                }
            }
            Issue::NatNotAvailable { subnet, route, state, failure, nat } => {
                let (hint_en, hint_ja) = nat_hint(nat);
                let fail = failure.as_deref().map(|f| format!(" ({f})")).unwrap_or_default();
                Text {
                    code: "NAT_GATEWAY_NOT_AVAILABLE",
                    summary: format!("{} (used by {subnet}) targets {} which is {state}{fail}, although the route says it is active", route.text, route.target),
                    subnet: Some(subnet.clone()),
                    resources: vec![route.rtb.clone(), route.target.clone()],
                    rules: r(&["R10", "R8"]),
                    en: format!("Point the route at an available NAT gateway; {hint_en}."),
                    ja: format!("ルートを利用可能な NAT ゲートウェイに向けてください。{hint_ja}。"),
                    fixes: nat_replace(route, nat),
                }
            }
            Issue::NatPrivate { subnet, route, nat } => {
                let (hint_en, hint_ja) = nat_hint(nat);
                Text {
                    code: "NAT_GATEWAY_PRIVATE",
                    summary: format!("{} is a private NAT gateway: the internet gateway drops its traffic", route.target),
                    subnet: Some(subnet.clone()),
                    resources: vec![route.rtb.clone(), route.target.clone()],
                    rules: r(&["R11"]),
                    en: format!("Use a public NAT gateway (with an Elastic IP) for internet egress; {hint_en}."),
                    ja: format!("インターネットへの通信には Elastic IP を持つパブリック NAT ゲートウェイを使ってください。{hint_ja}。"),
                    fixes: nat_replace(route, nat),
                }
            }
            Issue::NatNoEip { subnet, nat_id } => Text {
                code: "NAT_GATEWAY_NO_EIP",
                summary: format!("public NAT gateway {nat_id} has no Elastic IP address"),
                subnet: Some(subnet.clone()),
                resources: vec![nat_id.clone()],
                rules: r(&["R10"]),
                en: format!("Associate an Elastic IP with {nat_id}, or replace it with a new public NAT gateway."),
                ja: format!("{nat_id} に Elastic IP を関連付けるか、新しいパブリック NAT ゲートウェイに置き換えてください。"),
                fixes: vec!["aws ec2 allocate-address --domain vpc".into(), format!("aws ec2 associate-nat-gateway-address --nat-gateway-id {nat_id} --allocation-ids <eipalloc-id>")],
            },
            Issue::NatSubnetNoIgwRoute { subnet, nat_id, nat_subnet, nat_rtb, found, igw, vpc } => {
                let mut fixes = Vec::new();
                if igw.is_none() {
                    fixes.push("aws ec2 create-internet-gateway".to_string());
                    fixes.push(format!("aws ec2 attach-internet-gateway --internet-gateway-id <igw-id> --vpc-id {vpc}"));
                }
                let igw_id = igw.clone().unwrap_or_else(|| "<igw-id>".into());
                if let Some(rtb) = nat_rtb {
                    let verb = if found.is_some() { "replace-route" } else { "create-route" };
                    fixes.push(format!("aws ec2 {verb} --route-table-id {rtb} --destination-cidr-block 0.0.0.0/0 --gateway-id {igw_id}"));
                }
                let where_ = nat_subnet.clone().unwrap_or_else(|| "its VPC".into());
                let mut resources = vec![nat_id.clone()];
                resources.extend(nat_subnet.iter().cloned());
                resources.extend(nat_rtb.iter().cloned());
                Text {
                    code: "NAT_SUBNET_NO_IGW_ROUTE",
                    summary: format!("NAT gateway {nat_id} in {where_} has no route to an attached internet gateway for the destination ({})", found.as_deref().unwrap_or("no matching route")),
                    subnet: Some(subnet.clone()),
                    resources,
                    rules: r(&["R12", "R16"]),
                    en: format!("The NAT gateway must sit in a public subnet whose route table sends 0.0.0.0/0 to an attached internet gateway{}.", igw.as_deref().map(|g| format!(" ({g})")).unwrap_or_default()),
                    ja: format!("NAT ゲートウェイは、ルートテーブルで 0.0.0.0/0 をアタッチ済みのインターネットゲートウェイ{}に向けるパブリックサブネットに配置する必要があります。", igw.as_deref().map(|g| format!("（{g}）")).unwrap_or_default()),
                    fixes,
                }
            }
            Issue::IgwNotAttached { subnet, igw, vpc } => Text {
                code: "IGW_NOT_ATTACHED",
                summary: format!("internet gateway {igw} is not attached to {vpc}"),
                subnet: Some(subnet.clone()),
                resources: vec![igw.clone(), vpc.clone()],
                rules: r(&["R16", "R8"]),
                en: format!("Attach {igw} to {vpc}."),
                ja: format!("{igw} を {vpc} にアタッチしてください。"),
                fixes: vec![format!("aws ec2 attach-internet-gateway --internet-gateway-id {igw} --vpc-id {vpc}")],
            },
            Issue::IgwPrivateDestination { subnet, destination, gateway } => Text {
                code: "IGW_PRIVATE_DESTINATION",
                summary: format!("{destination} is a private (RFC 1918) address: the internet gateway {gateway} never forwards to it"),
                subnet: Some(subnet.clone()),
                resources: vec![gateway.clone()],
                rules: r(&["R16"]),
                en: format!("Reach {destination} through the network that owns it (peering, transit gateway, VPN) with a more specific route, or use its public address."),
                ja: format!("{destination} へは、それを持つネットワーク（ピアリング、Transit Gateway、VPN）へのより具体的なルートを使うか、パブリックアドレスを使ってください。"),
                fixes: vec![],
            },
            Issue::NatCrossAz { subnet, subnet_az, nat_id, nat_az, route, nat } => {
                let fixes = match nat {
                    NatChoice::Existing { same_az: true, .. } => nat_replace(route, nat),
                    NatChoice::Existing { .. } | NatChoice::Create { .. } => nat_replace(route, &NatChoice::Create { public_subnet: match nat { NatChoice::Create { public_subnet } => public_subnet.clone(), _ => None } }),
                };
                Text {
                    code: "NAT_CROSS_AZ",
                    summary: format!("{subnet} ({subnet_az}) uses NAT gateway {nat_id} in {nat_az}: egress depends on another AZ and pays cross-AZ data charges"),
                    subnet: Some(subnet.clone()),
                    resources: vec![route.rtb.clone(), nat_id.clone()],
                    rules: r(&["R13"]),
                    en: format!("Use a NAT gateway in {subnet_az} for this subnet (one NAT gateway per AZ, each AZ routed to its own)."),
                    ja: format!("このサブネットには {subnet_az} の NAT ゲートウェイを使ってください（AZ ごとに NAT ゲートウェイを置き、各 AZ から同じ AZ の NAT にルーティング）。"),
                    fixes,
                }
            }
            Issue::RegionalNatAzNotCovered { subnet, az, nat_id, zones } => Text {
                code: "REGIONAL_NAT_AZ_NOT_COVERED",
                summary: format!("regional NAT gateway {nat_id} is not registered in {az} (zones: {})", if zones.is_empty() { "none".into() } else { zones.join(", ") }),
                subnet: Some(subnet.clone()),
                resources: vec![nat_id.clone()],
                rules: r(&["R14"]),
                en: format!("Add {az} to the regional NAT gateway's zones (or enable automatic zone provisioning)."),
                ja: format!("リージョナル NAT ゲートウェイのゾーンに {az} を追加する（または自動プロビジョニングを有効にする）必要があります。"),
                fixes: vec![format!("aws ec2 describe-nat-gateways --nat-gateway-ids {nat_id}")],
            },
            Issue::BpaBlocksEgress { subnet, mode, gateway_subnet, vpc, gateway, exclusions_allowed } => {
                let target = match gateway_subnet {
                    Some(s) => format!("--subnet-id {s}"),
                    None => format!("--vpc-id {vpc}"),
                };
                let org = if exclusions_allowed.as_deref() == Some("not-allowed") { " Exclusions are not allowed here (organisation-managed): ask the account owner to change the mode." } else { "" };
                Text {
                    code: "BPA_BLOCKS_EGRESS",
                    summary: format!("VPC Block Public Access ({mode}) blocks traffic through {gateway}"),
                    subnet: Some(subnet.clone()),
                    resources: vec![gateway.clone(), gateway_subnet.clone().unwrap_or_else(|| vpc.clone())],
                    rules: r(&["R17"]),
                    en: format!("Create an allow-egress exclusion for {} or change the account's Block Public Access mode.{org}", gateway_subnet.as_deref().unwrap_or(vpc)),
                    ja: format!("{} に allow-egress の除外を作成するか、アカウントの VPC ブロックパブリックアクセスのモードを変更してください。", gateway_subnet.as_deref().unwrap_or(vpc)),
                    fixes: vec![format!("aws ec2 create-vpc-block-public-access-exclusion {target} --internet-gateway-exclusion-mode allow-egress")],
                }
            }
            Issue::BpaNotVerifiable { reason } => Text {
                code: "BPA_NOT_VERIFIABLE",
                summary: format!("VPC Block Public Access could not be read ({reason}): internet egress through gateways is assumed unblocked but not verified"),
                subnet: None,
                resources: vec![],
                rules: r(&["R17"]),
                en: "Allow ec2:DescribeVpcBlockPublicAccessOptions and ec2:DescribeVpcBlockPublicAccessExclusions, or check the mode yourself.".into(),
                ja: "ec2:DescribeVpcBlockPublicAccessOptions と ec2:DescribeVpcBlockPublicAccessExclusions を許可するか、モードを手動で確認してください。".into(),
                fixes: vec!["aws ec2 describe-vpc-block-public-access-options".into()],
            },
            Issue::NaclOutboundDenied { subnet, result, protocol, port, destination, fix } => Text {
                code: "NACL_OUTBOUND_DENIED",
                summary: format!("{} denies outbound {} {port} to {destination} from {subnet} ({})", result.acl_id, protocol.name(), result.decided_by()),
                subnet: Some(subnet.clone()),
                resources: vec![result.acl_id.clone()],
                rules: [vec!["R20".to_string()], result.deny_refs()].concat(),
                en: format!("Allow outbound {} {port} in {} before the denying entry.", protocol.name(), result.acl_id),
                ja: format!("{} で、拒否しているエントリより前に {} {port} のアウトバウンドを許可してください。", result.acl_id, protocol.name()),
                fixes: vec![fix.command()],
            },
            Issue::NaclInboundEphemeral { subnet, result, protocol, source, fix } => {
                let partial = result.verdict == crate::model::HopVerdict::Partial;
                Text {
                    code: if partial { "NACL_INBOUND_EPHEMERAL_PARTIAL" } else { "NACL_INBOUND_EPHEMERAL_DENIED" },
                    summary: if partial {
                        format!("{} lets replies from {source} into {subnet} only on ports {} of 1024-65535: connections fail intermittently (Lambda uses source ports 1024-65535)", result.acl_id, ranges_text(&result.allowed))
                    } else {
                        format!("{} drops replies from {source} to {subnet} on ephemeral ports 1024-65535 ({})", result.acl_id, result.decided_by())
                    },
                    subnet: Some(subnet.clone()),
                    resources: vec![result.acl_id.clone()],
                    rules: [vec!["R21".to_string()], result.deny_refs()].concat(),
                    en: format!("Allow inbound {} 1024-65535 from the destination in {} (the whole range: Lambda and NAT gateways use 1024-65535, not 32768-61000).", protocol.name(), result.acl_id),
                    ja: format!("{} で宛先からの {} 1024-65535 のインバウンドを許可してください（Lambda と NAT ゲートウェイは 32768-61000 ではなく 1024-65535 を使います）。", result.acl_id, protocol.name()),
                    fixes: vec![fix.command()],
                }
            }
            Issue::NatSubnetNacl { subnet, nat_id, nat_subnet, leg, result, protocol, peer, fix } => {
                let partial = result.verdict == crate::model::HopVerdict::Partial;
                Text {
                    code: if partial { "NAT_SUBNET_NACL_PARTIAL" } else { "NAT_SUBNET_NACL_DENIED" },
                    summary: format!("{} of NAT subnet {nat_subnet} ({nat_id}) {} {} for {peer}: {}", result.acl_id, if partial { "only partly allows" } else { "denies" }, leg.text(), result.decided_by()),
                    subnet: Some(subnet.clone()),
                    resources: vec![result.acl_id.clone(), nat_subnet.clone(), nat_id.clone()],
                    rules: [vec!["R22".to_string()], result.deny_refs()].concat(),
                    en: format!("The NAT subnet's NACL must allow four legs: in from the function, out to the destination, replies in on 1024-65535 and replies out to the function on 1024-65535. Allow {} {} in {}.", leg.text(), protocol.name(), result.acl_id),
                    ja: format!("NAT サブネットの NACL は、関数からのインバウンド、宛先へのアウトバウンド、1024-65535 での応答のインバウンド、関数への 1024-65535 での応答のアウトバウンドの 4 つを許可する必要があります。{} で{}（{}）を許可してください。", result.acl_id, leg.ja(), protocol.name()),
                    fixes: vec![fix.command()],
                }
            }
            Issue::SgEgressDenied { subnet: _, security_groups, protocol, port, destination, cidr } => {
                let v6 = destination.is_ipv6();
                let sg = security_groups.first().cloned().unwrap_or_else(|| "<sg-id>".into());
                let range = if v6 { format!("Ipv6Ranges=[{{CidrIpv6={cidr}}}]") } else { format!("IpRanges=[{{CidrIp={cidr}}}]") };
                Text {
                    code: if v6 { "IPV6_SG_EGRESS_DENIED" } else { "SG_EGRESS_DENIED" },
                    summary: format!("no egress rule of {} allows {} {port} to {destination}", security_groups.join(", "), protocol.name()),
                    // The same groups deny it from every subnet: one finding, not one per subnet.
                    subnet: None,
                    resources: security_groups.clone(),
                    rules: if v6 { r(&["R18", "R31"]) } else { r(&["R18"]) },
                    en: format!("Add an egress rule for {} {port} to {cidr} to {sg} (replies need no rule: security groups are stateful).", protocol.name()),
                    ja: format!("{sg} に {} {port} の {cidr} へのアウトバウンドルールを追加してください（セキュリティグループはステートフルなので応答用のルールは不要です）。", protocol.name()),
                    fixes: vec![format!("aws ec2 authorize-security-group-egress --group-id {sg} --ip-permissions IpProtocol={},FromPort={port},ToPort={port},{range}", protocol.name())],
                }
            }
            Issue::Ipv6NotEnabled { subnet, gap, function, function_subnets, security_groups } => {
                let (summary, en, ja, fixes) = match gap {
                    Ipv6Gap::FunctionFlag => (
                        format!("{} does not allow IPv6 egress (Ipv6AllowedForDualStack is false)", function.as_deref().unwrap_or("the function")),
                        "Set Ipv6AllowedForDualStack on the function's VPC configuration (subnets must be dual-stack), or make clients use IPv4.".to_string(),
                        "関数の VPC 設定で Ipv6AllowedForDualStack を有効にする（サブネットはデュアルスタックが必要）か、クライアントに IPv4 を使わせてください。".to_string(),
                        function.as_ref().map(|f| vec![format!("aws lambda update-function-configuration --function-name {f} --vpc-config {}", lambda_vpc_config(function_subnets, security_groups, true))]).unwrap_or_default(),
                    ),
                    Ipv6Gap::SubnetCidr => (
                        format!("{subnet} has no IPv6 CIDR: IPv6 destinations are unreachable from it"),
                        "Associate an IPv6 CIDR with the subnet (and its VPC), or make clients use IPv4.".to_string(),
                        "サブネット（と VPC）に IPv6 CIDR を関連付けるか、クライアントに IPv4 を使わせてください。".to_string(),
                        vec![format!("aws ec2 associate-subnet-cidr-block --subnet-id {subnet} --ipv6-cidr-block <ipv6-cidr>")],
                    ),
                };
                Text { code: "IPV6_NOT_ENABLED", summary, subnet: Some(subnet.clone()), resources: vec![function.clone().unwrap_or_else(|| subnet.clone())], rules: r(&["R31"]), en, ja, fixes }
            }
            Issue::NextHopNotVerifiable { subnet, route, kind, destination, check } => Text {
                code: "NEXT_HOP_NOT_VERIFIABLE",
                summary: format!("{} sends {destination} to a {kind}: the rest of the path is not verifiable from here", route.text),
                subnet: Some(subnet.clone()),
                resources: vec![route.rtb.clone(), route.target.clone()],
                rules: r(&["R15"]),
                en: format!("Check beyond {}: {check}", route.target),
                ja: format!("{} より先を確認してください: {check}", route.target),
                fixes: vec![],
            },
            Issue::PathNotVerifiable { subnet, component, why } => Text {
                code: "PATH_NOT_VERIFIABLE",
                summary: format!("{component}: {why}: not verifiable from here"),
                subnet: Some(subnet.clone()),
                resources: vec![component.clone()],
                rules: r(&["R15"]),
                en: "Retake the snapshot with read access to this resource (see the analysis gaps).".into(),
                ja: "このリソースを読み取れる権限でスナップショットを取り直してください（解析のギャップを参照）。".into(),
                fixes: vec![],
            },
            Issue::DestinationInVpc { subnet, destination } => Text {
                code: "DESTINATION_IN_VPC",
                summary: format!("{destination} is inside the VPC (local route): the source side (security group egress, {subnet} NACLs) and the destination side the snapshot knows (its subnet's NACL, its ENI's security groups) were evaluated"),
                subnet: Some(subnet.clone()),
                resources: vec![],
                rules: r(&["R6"]),
                en: "Where the destination is not an ENI of the snapshot, also check its own security group ingress by hand.".into(),
                ja: "宛先がスナップショットにない ENI の場合は、宛先側のセキュリティグループのインバウンドも手作業で確認してください。".into(),
                fixes: vec![],
            },
            Issue::VpcDnsSupportDisabled { vpc } => Text {
                code: "VPC_DNS_SUPPORT_DISABLED",
                summary: format!("{vpc} has enableDnsSupport = false: the Amazon DNS server does not answer"),
                subnet: None,
                resources: vec![vpc.clone()],
                rules: r(&["R24"]),
                en: format!("Enable DNS support on {vpc} (interface endpoint private DNS also needs enableDnsHostnames)."),
                ja: format!("{vpc} の DNS サポート（enableDnsSupport）を有効にしてください（インターフェイスエンドポイントのプライベート DNS には enableDnsHostnames も必要です）。"),
                fixes: vec![format!("aws ec2 modify-vpc-attribute --vpc-id {vpc} --enable-dns-support \"{{\\\"Value\\\":true}}\"")],
            },
            Issue::CustomDnsUnreachable { subnet, server, dhcp, vpc, blockers, amazon_dhcp, domain_name } => Text {
                code: "CUSTOM_DNS_UNREACHABLE",
                summary: format!("custom DNS server {server}{} is not reachable on port 53 from {subnet}: {}", dhcp.as_deref().map(|d| format!(" (DHCP options {d})")).unwrap_or_default(), blockers.join("; ")),
                subnet: Some(subnet.clone()),
                resources: [vec![server.to_string()], dhcp.iter().cloned().collect()].concat(),
                rules: r(&["R25", "R19"]),
                en: format!("Security groups and NACLs do filter traffic to custom DNS servers: allow UDP and TCP 53 to {server} (see the findings on that path), or return {vpc} to AmazonProvidedDNS."),
                ja: format!("カスタム DNS サーバーへの通信はセキュリティグループと NACL でフィルタされます。{server} への UDP/TCP 53 を許可する（この経路の他の指摘を参照）か、{vpc} を AmazonProvidedDNS に戻してください。"),
                fixes: amazon_dns_fix(vpc, amazon_dhcp.as_deref(), domain_name.as_deref()),
            },
            Issue::EndpointPrivateDnsCapture { subnet, host, endpoint, service } => Text {
                code: "ENDPOINT_PRIVATE_DNS_CAPTURE",
                summary: format!("{host} resolves to interface endpoint {endpoint} ({service}, private DNS): the flow stays in the VPC instead of going through NAT"),
                subnet: Some(subnet.clone()),
                resources: vec![endpoint.clone()],
                rules: r(&["R29"]),
                en: format!("Traffic to {host} goes to {endpoint}'s network interfaces: its security group must allow TCP 443 from the function, and the endpoint must have a subnet in this AZ."),
                ja: format!("{host} への通信は {endpoint} のネットワークインターフェイスに向かいます。エンドポイントのセキュリティグループで関数からの TCP 443 を許可し、この AZ にエンドポイントのサブネットがある必要があります。"),
                fixes: vec![],
            },
            Issue::EndpointSgIngressDenied { subnet, endpoint, endpoint_sgs, function_sgs, source_cidr, port } => {
                let esg = endpoint_sgs.first().cloned().unwrap_or_else(|| "<endpoint-sg-id>".into());
                let src = match function_sgs.first() {
                    Some(sg) => format!("--source-group {sg}"),
                    None => format!("--cidr {source_cidr}"),
                };
                Text {
                    code: "ENDPOINT_SG_INGRESS_DENIED",
                    summary: format!("security groups {} of interface endpoint {endpoint} do not allow TCP {port} from {subnet}", endpoint_sgs.join(", ")),
                    subnet: Some(subnet.clone()),
                    resources: [vec![endpoint.clone()], endpoint_sgs.clone()].concat(),
                    rules: r(&["R29", "R18"]),
                    en: format!("Allow inbound TCP {port} on {esg} from the function's security group or subnet."),
                    ja: format!("{esg} で関数のセキュリティグループまたはサブネットからの TCP {port} のインバウンドを許可してください。"),
                    fixes: vec![format!("aws ec2 authorize-security-group-ingress --group-id {esg} --protocol tcp --port {port} {src}")],
                }
            }
            Issue::EndpointSubnetNacl { subnet, endpoint, endpoint_subnet, result, fix } => {
                let (dir_en, dir_ja) = if result.egress {
                    ("replies to the function on 1024-65535", "関数への 1024-65535 での応答")
                } else {
                    ("requests from the function", "関数からのリクエスト")
                };
                Text {
                    code: "ENDPOINT_SUBNET_NACL_DENIED",
                    summary: format!("{} of endpoint subnet {endpoint_subnet} ({endpoint}) {} {dir_en}: {}", result.acl_id, if result.verdict == crate::model::HopVerdict::Partial { "only partly allows" } else { "denies" }, result.decided_by()),
                    subnet: Some(subnet.clone()),
                    resources: vec![result.acl_id.clone(), endpoint_subnet.clone(), endpoint.clone()],
                    rules: [vec!["R29".to_string(), if result.egress { "R21".to_string() } else { "R20".to_string() }], result.deny_refs()].concat(),
                    en: format!("Allow {dir_en} in {} (NACLs are stateless: both directions).", result.acl_id),
                    ja: format!("{} で{dir_ja}を許可してください（NACL はステートレスなので両方向が必要です）。", result.acl_id),
                    fixes: vec![fix.command()],
                }
            }
            Issue::TimeoutBeyondVpc { target, destination, nats } => {
                let dest = destination.map(|d| d.to_string()).unwrap_or_else(|| target.clone());
                let mut fixes: Vec<String> = nats.iter().map(|n| format!("aws cloudwatch get-metric-statistics --namespace AWS/NATGateway --metric-name ErrorPortAllocation --dimensions Name=NatGatewayId,Value={n} --statistics Sum --period 60 --start-time <start> --end-time <end>")).collect();
                fixes.extend(nats.iter().map(|n| format!("aws cloudwatch get-metric-statistics --namespace AWS/NATGateway --metric-name PacketsDropCount --dimensions Name=NatGatewayId,Value={n} --statistics Sum --period 60 --start-time <start> --end-time <end>")));
                Text {
                    code: "TIMEOUT_BEYOND_VPC",
                    summary: format!("{target} ({dest}) timed out although the VPC configuration lets it through: the cause is beyond the VPC"),
                    subnet: None,
                    resources: nats.clone(),
                    rules: r(&["R33", "R34", "R35"]),
                    en: format!("Check the destination's firewall/allow-list for the NAT gateway's public IP, NAT port exhaustion (CloudWatch ErrorPortAllocation, PacketsDropCount{}), IP fragmentation of large packets (R33), and Hyperplane ENI connection load (R35).", if nats.is_empty() { "" } else { " of the NAT gateways below" }),
                    ja: "宛先のファイアウォール／許可リスト（NAT ゲートウェイのパブリック IP）、NAT のポート枯渇（CloudWatch の ErrorPortAllocation、PacketsDropCount）、大きなパケットの IP フラグメンテーション（R33）、Hyperplane ENI の接続数（R35）を確認してください。".into(),
                    fixes,
                }
            }
            Issue::DnsFailureBeyondVpc { target, servers, vpc } => Text {
                code: "DNS_FAILURE_BEYOND_VPC",
                summary: format!("{target} failed although the resolver ({}) is reachable per the VPC configuration", if servers.is_empty() { "Amazon DNS".to_string() } else { servers.join(", ") }),
                subnet: None,
                resources: vpc.iter().cloned().collect(),
                rules: r(&["R19", "R26", "R27"]),
                en: "Security groups and NACLs do not filter Amazon DNS (R19). Check Route 53 Resolver DNS Firewall rules on the VPC (R26), the 1024 packets/s per-ENI resolver limit under load (R27), and the name's authoritative servers.".into(),
                ja: "セキュリティグループと NACL は Amazon DNS をフィルタしません（R19）。VPC の Route 53 Resolver DNS Firewall ルール（R26）、負荷時の ENI あたり毎秒 1024 パケットの制限（R27）、名前の権威サーバーを確認してください。".into(),
                fixes: vpc.iter().map(|v| format!("aws route53resolver list-firewall-rule-group-associations --vpc-id {v}")).collect(),
            },
            Issue::AnalysisInconsistent { target, destination, observed, predicted } => Text {
                code: "ANALYSIS_INCONSISTENT",
                summary: format!("{target}{}: observed {observed}, but the configuration predicts {predicted}", destination.map(|d| format!(" ({d})")).unwrap_or_default()),
                subnet: None,
                resources: vec![],
                rules: r(&["R36"]),
                en: "The snapshot may be stale (changes take 1-2 minutes to apply) or the path crosses something not modelled (proxy, firewall, peering). Retake the snapshot and compare.".into(),
                ja: "スナップショットが古い（変更の反映には 1～2 分かかります）か、モデル化されていない経路（プロキシ、ファイアウォール、ピアリング）を通っている可能性があります。スナップショットを取り直して比較してください。".into(),
                fixes: vec![],
            },
            Issue::DestinationFailed { target, destination, failure, detail } => {
                let dest = destination.map(|d| d.to_string()).unwrap_or_else(|| target.clone());
                let det = detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
                let (code, summary, en, ja) = match failure {
                    DestFailure::Refused => ("DESTINATION_REFUSED", format!("{dest} refused the connection{det}: the network path works, nothing listens there"), "Check the service at the destination (port, listener, load balancer target).", "宛先のサービス（ポート、リスナー、ロードバランサーのターゲット）を確認してください。"),
                    DestFailure::Reset => ("DESTINATION_RESET", format!("{dest} reset the connection{det}: the path works; the destination or a middlebox closed it"), "Check the destination; for pooled connections idle over 350 s the NAT gateway sends RST — enable TCP keepalive below 350 s (R32).", "宛先を確認してください。350 秒以上アイドルのプール接続には NAT ゲートウェイが RST を送ります。350 秒未満の TCP キープアライブを有効にしてください（R32）。"),
                    DestFailure::Tls => ("DESTINATION_TLS_ERROR", format!("TLS with {dest} failed{det}: the network path works, the TLS setup does not"), "Check the certificate (name, chain, expiry) and, behind TLS inspection, configure the corporate CA.", "証明書（名前、チェーン、有効期限）を確認し、TLS インスペクションがある場合は社内 CA を設定してください。"),
                    DestFailure::Http(s) => ("DESTINATION_HTTP_ERROR", format!("{dest} answered HTTP {}{det}: the network path works, the service fails", s.map(|x| x.to_string()).unwrap_or_else(|| "error".into())), "Check the service behind the destination.", "宛先のサービスを確認してください。"),
                };
                Text { code, summary, subnet: None, resources: vec![], rules: r(&["R36"]), en: format!("The VPC is not the cause. {en}"), ja: format!("VPC は原因ではありません。{ja}"), fixes: vec![] }
            }
            Issue::TgwAttachmentMissing { subnet, vpc, tgw, route } => Text {
                code: "TGW_ATTACHMENT_MISSING",
                summary: format!("{} sends traffic to {tgw}, but {vpc} has no attachment to it", route.text),
                subnet: Some(subnet.clone()),
                resources: vec![route.rtb.clone(), tgw.clone(), vpc.clone()],
                rules: r(&["R37", "R38"]),
                en: format!("Attach {vpc} to {tgw} with one subnet in every AZ the function uses (a small dedicated subnet per AZ is best), then associate the attachment with the transit gateway route table that holds the route to the egress VPC."),
                ja: format!("{vpc} を {tgw} にアタッチしてください（関数が使うすべてのアベイラビリティーゾーンにサブネットを 1 つずつ。AZ ごとに小さな専用サブネットを推奨）。その後、エグレス VPC へのルートを持つトランジットゲートウェイルートテーブルにアタッチメントを関連付けてください。"),
                fixes: vec![format!("aws ec2 create-transit-gateway-vpc-attachment --transit-gateway-id {tgw} --vpc-id {vpc} --subnet-ids {subnet}")],
            },
            Issue::TgwAttachmentNotAvailable { subnet, attachment, tgw, state, owner } => {
                let pending = state == "pendingAcceptance";
                let who = owner.as_deref().map(|o| format!(" (account {o})")).unwrap_or_default();
                Text {
                    code: "TGW_ATTACHMENT_NOT_AVAILABLE",
                    summary: format!("transit gateway attachment {attachment} to {tgw} is {state}: it carries no traffic"),
                    subnet: Some(subnet.clone()),
                    resources: vec![attachment.clone(), tgw.clone()],
                    rules: r(&["R38"]),
                    en: if pending {
                        format!("The transit gateway owner{who} must accept {attachment} (or turn on auto-accept).")
                    } else {
                        format!("Only an available attachment carries traffic. Wait for {state} to end, or recreate {attachment} if it failed or was rejected.")
                    },
                    ja: if pending {
                        format!("トランジットゲートウェイの所有者{who}が {attachment} を承諾する（または自動承諾を有効にする）必要があります。")
                    } else {
                        format!("トラフィックを転送するのは available 状態のアタッチメントだけです。{state} の完了を待つか、失敗または拒否された場合は {attachment} を作り直してください。")
                    },
                    fixes: if pending {
                        vec![format!("aws ec2 accept-transit-gateway-vpc-attachment --transit-gateway-attachment-id {attachment}  # in the transit gateway owner's account")]
                    } else {
                        vec![format!("aws ec2 describe-transit-gateway-attachments --transit-gateway-attachment-ids {attachment}")]
                    },
                }
            }
            Issue::TgwAttachmentNotAssociated { subnet, attachment, tgw, table, state } => Text {
                code: "TGW_ATTACHMENT_NOT_ASSOCIATED",
                summary: format!("transit gateway attachment {attachment} is not associated with a route table{}: {tgw} has no table to route its traffic in", state.as_deref().map(|s| format!(" (association {s})")).unwrap_or_default()),
                subnet: Some(subnet.clone()),
                resources: vec![attachment.clone(), tgw.clone()],
                rules: r(&["R38", "R39"]),
                en: format!("Associate {attachment} with the transit gateway route table that routes 0.0.0.0/0 to the egress VPC attachment."),
                ja: format!("{attachment} を、0.0.0.0/0 をエグレス VPC のアタッチメントにルーティングするトランジットゲートウェイルートテーブルに関連付けてください。"),
                fixes: vec![format!("aws ec2 associate-transit-gateway-route-table --transit-gateway-route-table-id {} --transit-gateway-attachment-id {attachment}", table.as_deref().unwrap_or("<tgw-rtb-id>"))],
            },
            Issue::TgwNoSubnetInAz { subnet, attachment, az, az_id, attached } => Text {
                code: "TGW_NO_SUBNET_IN_AZ",
                summary: format!("transit gateway attachment {attachment} has no subnet in {az}{} ({}): traffic from {subnet} cannot reach the transit gateway; other AZs work", az_id.as_deref().map(|i| format!(" / {i}")).unwrap_or_default(), if attached.is_empty() { "no subnets".to_string() } else { format!("it uses {}", attached.join(", ")) }),
                subnet: Some(subnet.clone()),
                resources: vec![attachment.clone()],
                rules: r(&["R37"]),
                en: format!("Add a subnet in {az} to {attachment} (a small dedicated subnet is best; {subnet} itself also works). Compare AZ IDs, not names, across accounts."),
                ja: format!("{attachment} に {az} のサブネットを追加してください（小さな専用サブネットを推奨。{subnet} 自体でも可）。アカウント間ではアベイラビリティーゾーン名ではなく AZ ID で比較してください。"),
                fixes: vec![format!("aws ec2 modify-transit-gateway-vpc-attachment --transit-gateway-attachment-id {attachment} --add-subnet-ids {subnet}")],
            },
            Issue::TgwNoRoute { subnet, table, destination, egress, why } => Text {
                code: "TGW_NO_ROUTE",
                summary: format!("transit gateway route table {table} has no route for {destination}{why}: the transit gateway drops the traffic"),
                subnet: Some(subnet.clone()),
                resources: vec![table.clone()],
                rules: r(&["R39"]),
                en: format!("Add a static 0.0.0.0/0 route to the egress VPC attachment{} in {table}.", egress.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()),
                ja: format!("{table} にエグレス VPC のアタッチメント{}への静的ルート 0.0.0.0/0 を追加してください。", egress.as_deref().map(|e| format!("（{e}）")).unwrap_or_default()),
                fixes: vec![format!("aws ec2 create-transit-gateway-route --transit-gateway-route-table-id {table} --destination-cidr-block {} --transit-gateway-attachment-id {}", any_cidr(destination), egress.as_deref().unwrap_or("<egress-vpc-attachment-id>"))],
            },
            Issue::TgwRouteBlackhole { subnet, table, route, destination, egress } => Text {
                code: "TGW_ROUTE_BLACKHOLE",
                summary: format!("{route} is the longest match in transit gateway route table {table}: a blackhole drops the traffic"),
                subnet: Some(subnet.clone()),
                resources: vec![table.clone()],
                rules: r(&["R40", "R39"]),
                en: format!("Replace the blackhole route for {destination} with a route to the egress VPC attachment, or delete it if a less specific route should carry the traffic."),
                ja: format!("{destination} のブラックホールルートをエグレス VPC のアタッチメントへのルートに置き換えるか、より広いルートで転送すべき場合は削除してください。"),
                fixes: vec![format!("aws ec2 replace-transit-gateway-route --transit-gateway-route-table-id {table} --destination-cidr-block {destination} --transit-gateway-attachment-id {}", egress.as_deref().unwrap_or("<egress-vpc-attachment-id>"))],
            },
            Issue::TgwReturnRouteMissing { subnet, table, egress_attachment, function, workload_attachment, workload_cidr, found } => Text {
                code: "TGW_RETURN_ROUTE_MISSING",
                summary: format!("transit gateway route table {table} (associated with egress attachment {egress_attachment}) {}: replies to {function} never get back", match found { Some(f) => format!("sends {function} to {f}, not to {workload_attachment}"), None => format!("has no active route for {function}") }),
                subnet: Some(subnet.clone()),
                resources: vec![table.clone(), egress_attachment.clone(), workload_attachment.clone()],
                rules: r(&["R41"]),
                en: format!("Propagate {workload_attachment} into {table} (or add a static route for {workload_cidr} to it)."),
                ja: format!("{workload_attachment} のルートを {table} に伝播させる（または {workload_cidr} への静的ルートを追加する）必要があります。"),
                fixes: vec![
                    format!("aws ec2 enable-transit-gateway-route-table-propagation --transit-gateway-route-table-id {table} --transit-gateway-attachment-id {workload_attachment}"),
                    format!("aws ec2 create-transit-gateway-route --transit-gateway-route-table-id {table} --destination-cidr-block {workload_cidr} --transit-gateway-attachment-id {workload_attachment}  # alternative: a static route"),
                ],
            },
            Issue::EgressVpcNoReturnRoute { subnet, rtb, from_subnet, workload_cidr, tgw, found } => Text {
                code: "EGRESS_VPC_NO_RETURN_ROUTE",
                summary: format!("{rtb} (used by {from_subnet} in the egress VPC) {}: replies to {workload_cidr} do not go back through the transit gateway", match found { Some(f) => format!("sends the function's address via {f}"), None => "has no route for the function's address".to_string() }),
                subnet: Some(subnet.clone()),
                resources: vec![rtb.clone(), from_subnet.clone()],
                rules: r(&["R41"]),
                en: format!("Add {workload_cidr} -> {} to {rtb} (each workload VPC's CIDR, or a summary of them).", tgw.as_deref().unwrap_or("the transit gateway")),
                ja: format!("{rtb} に {workload_cidr} → {} のルートを追加してください（各ワークロード VPC の CIDR、またはそれらをまとめた CIDR）。", tgw.as_deref().unwrap_or("トランジットゲートウェイ")),
                fixes: vec![format!("aws ec2 create-route --route-table-id {rtb} --destination-cidr-block {workload_cidr} --transit-gateway-id {}", tgw.as_deref().unwrap_or("<tgw-id>"))],
            },
            Issue::EgressAttachmentPublicSubnet { subnet, attachment, attachment_subnet, route, private_subnet } => {
                let mut fixes = vec![format!("aws ec2 modify-transit-gateway-vpc-attachment --transit-gateway-attachment-id {attachment} --add-subnet-ids {} --remove-subnet-ids {attachment_subnet}", private_subnet.as_deref().unwrap_or("<private-subnet-id-same-az>"))];
                if private_subnet.is_none() {
                    fixes.insert(0, format!("aws ec2 create-route --route-table-id <private-rtb-id> --destination-cidr-block 0.0.0.0/0 --nat-gateway-id <nat-gateway-id>  # a private subnet in the AZ of {attachment_subnet}"));
                }
                Text {
                    code: "EGRESS_ATTACHMENT_PUBLIC_SUBNET",
                    summary: format!("egress attachment {attachment} uses {attachment_subnet}, whose route {} hands workload traffic straight to the internet gateway: it drops it (no public IP)", route.text),
                    subnet: Some(subnet.clone()),
                    resources: vec![attachment.clone(), attachment_subnet.clone(), route.rtb.clone()],
                    rules: r(&["R42"]),
                    en: format!("Put {attachment} in a private subnet whose 0.0.0.0/0 goes to the NAT gateway, in the same AZ as the NAT gateway's public subnet."),
                    ja: format!("{attachment} を、0.0.0.0/0 が NAT ゲートウェイに向くプライベートサブネット（NAT ゲートウェイのパブリックサブネットと同じ AZ）に置いてください。"),
                    fixes,
                }
            }
            Issue::TgwAttachmentNacl { subnet, attachment, attachment_subnet, result, fix } => {
                let (dir_en, dir_ja) = if result.egress { ("outbound", "アウトバウンド") } else { ("inbound", "インバウンド") };
                Text {
                    code: "TGW_ATTACHMENT_NACL_DENIED",
                    summary: format!("{} of transit gateway attachment subnet {attachment_subnet} ({attachment}) {} the flow {dir_en}: {}", result.acl_id, if result.verdict == crate::model::HopVerdict::Partial { "only partly allows" } else { "denies" }, result.decided_by()),
                    subnet: Some(subnet.clone()),
                    resources: vec![result.acl_id.clone(), attachment_subnet.clone(), attachment.clone()],
                    rules: [vec!["R43".to_string()], result.deny_refs()].concat(),
                    en: format!("Allow the flow {dir_en} in {} (AWS recommends one allow-all NACL on attachment subnets; filter on the workload subnets instead).", result.acl_id),
                    ja: format!("{} で{dir_ja}の通信を許可してください（AWS はアタッチメント用サブネットにすべて許可する NACL を 1 つ置き、フィルタはワークロードのサブネットで行うことを推奨しています）。", result.acl_id),
                    fixes: vec![fix.command()],
                }
            }
            Issue::TgwApplianceModeDisabled { subnet, attachment, vpc, appliance, azs } => Text {
                code: "TGW_APPLIANCE_MODE_DISABLED",
                summary: format!("stateful {appliance} in {vpc} spans {} AZs ({}), but appliance mode is off on {attachment}: replies can reach another AZ's endpoint and be dropped", azs.len(), azs.join(", ")),
                subnet: Some(subnet.clone()),
                resources: vec![attachment.clone(), vpc.clone()],
                rules: r(&["R44", "R48"]),
                en: format!("Enable appliance mode on {attachment} so that both directions of a flow use the same AZ."),
                ja: format!("{attachment} でアプライアンスモードを有効にし、フローの往復が同じアベイラビリティーゾーンを通るようにしてください。"),
                fixes: vec![format!("aws ec2 modify-transit-gateway-vpc-attachment --transit-gateway-attachment-id {attachment} --options ApplianceModeSupport=enable")],
            },
            Issue::TgwNotVisible { subnet, resource, what, account, reason } => {
                let acct = account.as_deref().map(|a| format!(" in account {a}")).unwrap_or_default();
                Text {
                    code: "TGW_NOT_VISIBLE",
                    summary: format!("{what} {resource}{acct} could not be read{}: the path beyond it is not verifiable", reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()),
                    subnet: Some(subnet.clone()),
                    resources: [vec![resource.clone()], account.iter().cloned().collect()].concat(),
                    rules: r(&["R45"]),
                    en: format!("Run again with a read-only role{acct} (--network-role ARN, or EGRESS_PROBE_NETWORK_ROLE for the probe). Everything visible was evaluated; this hop is not proven healthy."),
                    ja: format!("読み取り専用ロール{}を指定して再実行してください（--network-role ARN、プローブでは EGRESS_PROBE_NETWORK_ROLE）。見える範囲はすべて評価しましたが、この区間が正常とは証明されていません。", account.as_deref().map(|a| format!("（アカウント {a}）")).unwrap_or_default()),
                    fixes: vec![],
                }
            }
            Issue::FirewallEndpointNotReady { subnet, firewall, endpoint, az, status, detail } => Text {
                code: "FIREWALL_ENDPOINT_NOT_READY",
                summary: format!("firewall endpoint {endpoint} of {firewall} in {az} is {status}{}: traffic routed to it is dropped", detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()),
                subnet: Some(subnet.clone()),
                resources: vec![endpoint.clone(), firewall.clone()],
                rules: r(&["R47"]),
                en: format!("Wait until {firewall} is READY and IN_SYNC; a FAILED endpoint needs the subnet mapping for {az} removed and added again."),
                ja: format!("{firewall} が READY かつ IN_SYNC になるまで待ってください。FAILED のエンドポイントは {az} のサブネットマッピングを削除して追加し直す必要があります。"),
                fixes: vec![format!("aws network-firewall describe-firewall --firewall-name {firewall} --query FirewallStatus")],
            },
            Issue::FirewallEndpointCrossAz { subnet, route, endpoint, endpoint_az, subnet_az, same_az_endpoint } => Text {
                code: "FIREWALL_ENDPOINT_CROSS_AZ",
                summary: format!("{} sends {subnet_az} traffic to firewall endpoint {endpoint} in {endpoint_az}: cross-AZ inspection breaks when either AZ fails and risks asymmetric routes", route.text),
                subnet: Some(subnet.clone()),
                resources: vec![route.rtb.clone(), endpoint.clone()],
                rules: r(&["R47", "R48"]),
                en: format!("Route each AZ to its own AZ's firewall endpoint{}.", same_az_endpoint.as_deref().map(|e| format!(" ({e} in {subnet_az})")).unwrap_or_default()),
                ja: format!("各 AZ のトラフィックは同じ AZ のファイアウォールエンドポイント{}にルーティングしてください。", same_az_endpoint.as_deref().map(|e| format!("（{subnet_az} の {e}）")).unwrap_or_default()),
                fixes: same_az_endpoint.iter().map(|e| format!("aws ec2 replace-route --route-table-id {} {} --vpc-endpoint-id {e}", route.rtb, route.dest_flag())).collect(),
            },
            Issue::FirewallAsymmetricRoute { subnet, forward_endpoint, rtb, return_subnet, workload_cidr, found, replace } => Text {
                code: "FIREWALL_ASYMMETRIC_ROUTE",
                summary: format!("the request passes firewall endpoint {forward_endpoint}, but replies from {return_subnet} go via {found} ({rtb}): Network Firewall drops asymmetric flows"),
                subnet: Some(subnet.clone()),
                resources: vec![rtb.clone(), forward_endpoint.clone()],
                rules: r(&["R48"]),
                en: format!("Route replies to {workload_cidr} in {rtb} through {forward_endpoint}, the endpoint the requests use (and enable appliance mode on the inspection VPC's transit gateway attachment)."),
                ja: format!("{rtb} で {workload_cidr} 宛ての応答を、リクエストが通る {forward_endpoint} 経由にしてください（インスペクション VPC のトランジットゲートウェイアタッチメントではアプライアンスモードも有効にしてください）。"),
                fixes: vec![format!("aws ec2 {}-route --route-table-id {rtb} --destination-cidr-block {workload_cidr} --vpc-endpoint-id {forward_endpoint}", if *replace { "replace" } else { "create" })],
            },
            Issue::FirewallBlocks { subnet, kind, firewall, policy, rule, name, application, reset, fix } => {
                let by = match &rule.group {
                    Some(g) => format!("rule group {g} {}", rule.rule),
                    None => format!("policy default {}", rule.rule),
                };
                let shape = if *reset {
                    "the client sees a TCP reset"
                } else if *application {
                    "TCP connects, then the TLS handshake / request stalls"
                } else {
                    "the client times out"
                };
                let (en, ja) = match kind {
                    FwBlock::StatelessDrop => (
                        format!("A stateless rule or the stateless default action of {policy} drops the flow ({by}): forward it to the stateful engine (aws:forward_to_sfe) or pass it."),
                        format!("{policy} のステートレスルールまたはステートレスのデフォルトアクションがこのフローをドロップしています（{by}）。ステートフルエンジンに転送（aws:forward_to_sfe）するか、許可してください。"),
                    ),
                    FwBlock::DefaultDrop => (
                        format!("No stateful rule of {policy} passes the flow and the strict-order default action drops it: add a pass rule for it (with a domain list, use aws:drop_established rather than aws:drop_strict)."),
                        format!("{policy} のステートフルルールがこのフローを許可しておらず、厳密な順序のデフォルトアクションがドロップしています。許可ルールを追加してください（ドメインリストを使う場合は aws:drop_strict ではなく aws:drop_established を使用）。"),
                    ),
                    FwBlock::DomainNotAllowed => (
                        format!("Add {} to the domain list of {by} (a leading dot allows all subdomains).", name.as_deref().unwrap_or("the target's name")),
                        format!("{by} のドメインリストに {} を追加してください（先頭のドットでサブドメインもすべて許可されます）。", name.as_deref().unwrap_or("宛先の名前")),
                    ),
                    FwBlock::DomainDenied => (
                        format!("Remove {} from the deny list of {by}, if the function must reach it.", name.as_deref().unwrap_or("the target's name")),
                        format!("関数がアクセスする必要がある場合は、{by} の拒否リストから {} を削除してください。", name.as_deref().unwrap_or("宛先の名前")),
                    ),
                    FwBlock::RuleDrop | FwBlock::RuleReject => (
                        format!("Change or remove {by} ({}) so that it does not match the flow, or add a pass rule before it.", rule.detail),
                        format!("{by}（{}）がこのフローに一致しないよう変更または削除するか、その前に許可ルールを追加してください。", rule.detail),
                    ),
                };
                let mut resources = vec![firewall.clone(), policy.clone()];
                resources.extend(rule.group.iter().cloned());
                Text {
                    code: kind.code(),
                    summary: format!("firewall {firewall} blocks the flow{}: {by}: {} — {shape}", name.as_deref().map(|n| format!(" to {n}")).unwrap_or_default(), rule.detail),
                    subnet: Some(subnet.clone()),
                    resources,
                    rules: r(kind.rules()),
                    en,
                    ja,
                    fixes: fix.iter().cloned().collect(),
                }
            }
            Issue::FirewallHomeNetExcludesSource { subnet, firewall, policy, source, home_net } => Text {
                code: "FIREWALL_HOME_NET_EXCLUDES_SOURCE",
                summary: format!("the function's address {source} is outside HOME_NET of {policy} ({}): the domain rules of {firewall} do not inspect it", home_net.join(", ")),
                subnet: Some(subnet.clone()),
                resources: vec![firewall.clone(), policy.clone()],
                rules: r(&["R52"]),
                en: "Add the workload VPC CIDRs (and the inspection VPC's own) to HOME_NET in the policy variables or the rule group's IP sets.".into(),
                ja: "ポリシー変数またはルールグループの IP セットの HOME_NET に、ワークロード VPC の CIDR（とインスペクション VPC 自身の CIDR）を追加してください。".into(),
                fixes: vec![format!("aws network-firewall update-firewall-policy --firewall-policy-arn {policy} --update-token <token> --firewall-policy file://policy.json  # PolicyVariables.RuleVariables.HOME_NET.Definition: {}", [home_net.clone(), vec![source.clone()]].concat().join(", "))],
            },
            Issue::FirewallRulesNotEvaluable { subnet, firewall, policy, rules } => Text {
                code: "FIREWALL_RULES_NOT_EVALUABLE",
                summary: format!("{} rule(s) of {policy} on {firewall} cannot be evaluated for this flow: {}", rules.len(), rules.join("; ")),
                subnet: Some(subnet.clone()),
                resources: vec![firewall.clone(), policy.clone()],
                rules: r(&["R49"]),
                en: "These rules were not guessed: check them by hand, or confirm with the firewall's alert log and the DroppedPackets / RejectedPackets metrics (R66).".into(),
                ja: "これらのルールは推測していません。手作業で確認するか、ファイアウォールのアラートログと DroppedPackets / RejectedPackets メトリクスで確認してください（R66）。".into(),
                fixes: vec![],
            },
            Issue::PeeringAsEgress { subnet, route, peer_vpc, peer_cidrs, destination, nat, tgw, .. } => {
                let (hint_en, hint_ja) = nat_hint(nat);
                Text {
                    code: "PEERING_AS_EGRESS",
                    summary: format!("{} sends {destination} to a VPC peering connection, but it is outside the peer {peer_vpc} ({}): peering is not transitive, the peer's NAT/internet gateway cannot be used", route.text, peer_cidrs.join(", ")),
                    subnet: Some(subnet.clone()),
                    resources: vec![route.rtb.clone(), route.target.clone()],
                    rules: r(&["R56"]),
                    en: match tgw {
                        Some(t) => format!("Route the internet through transit gateway {t}, which this VPC is attached to (centralised egress), or a NAT gateway of this VPC, not a peering connection; {hint_en}."),
                        None => format!("Route the internet through a NAT gateway of this VPC (or a transit gateway), not a peering connection; {hint_en}."),
                    },
                    ja: match tgw {
                        Some(t) => format!("インターネット向けの通信は VPC ピアリング接続ではなく、この VPC が接続しているトランジットゲートウェイ {t}（集中型エグレス）か、この VPC の NAT ゲートウェイにルーティングしてください。{hint_ja}。"),
                        None => format!("インターネット向けの通信は VPC ピアリング接続ではなく、この VPC の NAT ゲートウェイ（またはトランジットゲートウェイ）にルーティングしてください。{hint_ja}。"),
                    },
                    fixes: nat_replace(route, nat),
                }
            }
            Issue::PeeringNotActive { subnet, route, status } => Text {
                code: "PEERING_NOT_ACTIVE",
                summary: format!("{}: peering connection {} is {status}, not active", route.text, route.target),
                subnet: Some(subnet.clone()),
                resources: vec![route.rtb.clone(), route.target.clone()],
                rules: r(&["R56"]),
                en: format!("Only an active peering connection carries traffic: accept {} in the peer account, or recreate it.", route.target),
                ja: format!("トラフィックを転送するのはアクティブな VPC ピアリング接続だけです。ピア側のアカウントで {} を承諾するか、作り直してください。", route.target),
                fixes: vec![format!("aws ec2 accept-vpc-peering-connection --vpc-peering-connection-id {}  # in the accepter's account", route.target)],
            },
            Issue::GwlbApplianceNotVerifiable { subnet, endpoint, service } => Text {
                code: "GWLB_APPLIANCE_NOT_VERIFIABLE",
                summary: format!("the path goes through Gateway Load Balancer endpoint {endpoint} ({service}): the appliance behind it is not verifiable from here"),
                subnet: Some(subnet.clone()),
                resources: vec![endpoint.clone()],
                rules: r(&["R57"]),
                en: format!("Check the appliance's rules and target health in the provider account (AWS/GatewayELB UnHealthyHostCount, RejectedFlowCount) and that its routes send replies back through {endpoint}."),
                ja: format!("プロバイダー側アカウントでアプライアンスのルールとターゲットのヘルス（AWS/GatewayELB の UnHealthyHostCount、RejectedFlowCount）、応答が {endpoint} 経由で戻るルートを確認してください。"),
                fixes: vec![format!("aws ec2 describe-vpc-endpoint-services --service-names {service}")],
            },
            Issue::GwlbEndpointNotAvailable { subnet, endpoint, service, why } => Text {
                code: "GWLB_ENDPOINT_NOT_AVAILABLE",
                summary: format!("Gateway Load Balancer endpoint {endpoint} ({service}) {why}: traffic routed to it is dropped"),
                subnet: Some(subnet.clone()),
                resources: vec![endpoint.clone()],
                rules: r(&["R57"]),
                en: format!("The endpoint must be Available and have its subnet in the AZ of the traffic: have the provider accept {endpoint}, or create one endpoint per AZ and route each AZ to its own."),
                ja: format!("エンドポイントは Available で、トラフィックと同じ AZ にサブネットが必要です。プロバイダーに {endpoint} を承諾してもらうか、AZ ごとにエンドポイントを作成して各 AZ を自分の AZ のエンドポイントにルーティングしてください。"),
                fixes: vec![format!("aws ec2 describe-vpc-endpoints --vpc-endpoint-ids {endpoint}")],
            },
            Issue::EgressVpcNoRoute { subnet, rtb, used_by, destination, nat } => {
                let (hint_en, hint_ja) = nat_hint(nat);
                let mut fixes = nat.prelude();
                fixes.push(format!("aws ec2 create-route --route-table-id {rtb} --destination-cidr-block {} --nat-gateway-id {}", any_cidr(destination), nat.id()));
                Text {
                    code: "NO_DEFAULT_ROUTE",
                    summary: format!("{rtb} (used by {used_by}, behind the transit gateway) has no route to {destination}"),
                    subnet: Some(subnet.clone()),
                    resources: vec![rtb.clone(), used_by.clone()],
                    rules: r(&["R7", "R41"]),
                    en: format!("Add 0.0.0.0/0 -> a public NAT gateway to {rtb}; {hint_en}."),
                    ja: format!("{rtb} に 0.0.0.0/0 → パブリック NAT ゲートウェイのルートを追加してください。{hint_ja}。"),
                    fixes,
                }
            }
            Issue::EgressVpcRouteBlackhole { subnet, route, used_by, nat } => {
                let (hint_en, hint_ja) = nat_hint(nat);
                Text {
                    code: if route.target.starts_with("nat-") { "NAT_ROUTE_BLACKHOLE" } else { "ROUTE_BLACKHOLE" },
                    summary: format!("{} (used by {used_by}, behind the transit gateway) is a blackhole: its target no longer exists", route.text),
                    subnet: Some(subnet.clone()),
                    resources: vec![route.rtb.clone(), route.target.clone()],
                    rules: r(&["R8"]),
                    en: format!("Re-point the route at an available NAT gateway; {hint_en}."),
                    ja: format!("ルートを利用可能な NAT ゲートウェイに向け直してください。{hint_ja}。"),
                    fixes: nat_replace(route, nat),
                }
            }
        }
    }
}

impl From<dns::DnsIssue> for Issue {
    fn from(d: dns::DnsIssue) -> Self {
        Issue::Dns(Box::new(d))
    }
}

/// Key under which findings from several flows merge: same code, subnet, resources and
/// fix (e.g. one NACL entry denying port 443 to two addresses is one finding).
pub(crate) fn dedup_key(f: &Finding) -> String {
    format!(
        "{}|{}|{}|{}",
        f.code,
        f.subnet_id.as_deref().unwrap_or(""),
        f.resources.join(","),
        f.fix_commands.join("\n")
    )
}

/// Text for the path hop of a destination: `0.0.0.0/0` or `::/0`.
pub(crate) fn any_cidr(addr: &IpAddr) -> &'static str {
    fam_any(addr)
}
