//! The IAM actions egress-probe's code calls, in one place. The template's policies and
//! the installer's role are compared with these lists by tests, so they cannot drift.

/// Read-only calls the snapshot reader makes (fact sheet §I, part 2 §H). The probe's
/// execution role and the installer's `diagnose`/`run` need exactly these.
pub const DIAGNOSIS_ACTIONS: &[&str] = &[
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeEgressOnlyInternetGateways",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeManagedPrefixLists",
    "ec2:DescribeNatGateways",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeVpcBlockPublicAccessExclusions",
    "ec2:DescribeVpcBlockPublicAccessOptions",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcs",
    "ec2:GetManagedPrefixListEntries",
    // Beyond the VPC (R37-R57): transit gateways, peering, Network Firewall.
    "ec2:DescribeTransitGatewayAttachments",
    "ec2:DescribeTransitGatewayVpcAttachments",
    "ec2:DescribeTransitGateways",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:SearchTransitGatewayRoutes",
    "network-firewall:DescribeFirewall",
    "network-firewall:DescribeFirewallPolicy",
    "network-firewall:DescribeRuleGroup",
    "network-firewall:ListFirewalls",
    // The DNS path (R58-R62): Resolver rules and endpoints, DNS Firewall, private hosted
    // zones associated with the VPC, Route 53 Profiles.
    "route53:ListHostedZonesByVPC",
    "route53profiles:ListProfileAssociations",
    "route53profiles:ListProfileResourceAssociations",
    "route53resolver:GetFirewallConfig",
    "route53resolver:ListFirewallDomains",
    "route53resolver:ListFirewallRuleGroupAssociations",
    "route53resolver:ListFirewallRules",
    "route53resolver:ListResolverEndpointIpAddresses",
    "route53resolver:ListResolverEndpoints",
    "route53resolver:ListResolverRuleAssociations",
    "route53resolver:ListResolverRules",
];

/// The network-account role (R45, `--network-role` / `EGRESS_PROBE_NETWORK_ROLE`): what
/// the reader calls there — the transit gateway's attachments and route tables, the egress
/// VPC (the same reads as the workload VPC, without Lambda ENIs and BPA) and its firewall.
/// docs/deploy.md gives this role's policy and trust; a test checks it lists these.
pub const NETWORK_ACTIONS: &[&str] = &[
    "ec2:DescribeEgressOnlyInternetGateways",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeManagedPrefixLists",
    "ec2:DescribeNatGateways",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeTransitGatewayAttachments",
    "ec2:DescribeTransitGatewayVpcAttachments",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeVpcs",
    "ec2:GetManagedPrefixListEntries",
    "ec2:SearchTransitGatewayRoutes",
    "network-firewall:DescribeFirewall",
    "network-firewall:DescribeFirewallPolicy",
    "network-firewall:DescribeRuleGroup",
    "network-firewall:ListFirewalls",
];

/// Assuming the network-account role: granted to the probe's role (when
/// `EGRESS_PROBE_NETWORK_ROLE` is set) on that role's ARN only.
pub const NETWORK_ROLE_ACTIONS: &[&str] = &["sts:AssumeRole"];

/// Called by the probe on its own function only (scoped to the function's ARN).
pub const SELF_ACTIONS: &[&str] = &["lambda:GetFunctionConfiguration"];
