//! The IAM actions egress-probe's code calls, in one place. The template's policies and
//! the installer's role are compared with these lists by tests, so they cannot drift.

/// Read-only calls the snapshot reader makes (fact sheet §I). The probe's execution role
/// and the installer's `diagnose`/`run` need exactly these.
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
];

/// Called by the probe on its own function only (scoped to the function's ARN).
pub const SELF_ACTIONS: &[&str] = &["lambda:GetFunctionConfiguration"];
