//! Fixes as data (issue 11): for each finding whose fix is a change to the configuration,
//! the change(s), in order of preference. The printed command lines are rendered from
//! them (`Change::cli`, one renderer) and the simulation applies them (`Change::apply`).
//! A code whose fix cannot be a CLI change is declared in [`ADVICE_ONLY`] with its reason;
//! `probe/tests/fix_simulation.rs` walks the whole catalogue and fails for a code that is
//! in neither.

use super::catalog::dns::DnsIssue;
use super::catalog::{Ipv6Gap, Issue, NaclFix, NatChoice, RouteRef, any_cidr};
use crate::model::{
    Change, DhcpOptions, PortRange, RouteDestination, RouteTarget, SgPeer, VpcAttribute,
};
use ipnet::IpNet;

/// Codes whose remediation is advice, not a change the tool can prove, and why.
pub const ADVICE_ONLY: &[(&str, &str)] = &[
    ("FUNCTION_NOT_IN_VPC", "nothing to change: no VPC path"),
    (
        "FUNCTION_NOT_ACTIVE",
        "Lambda state: invoke, wait or fix the role; not network configuration",
    ),
    (
        "FUNCTION_UPDATE_IN_PROGRESS",
        "wait for the update; nothing to change",
    ),
    (
        "LAMBDA_ENI_MISSING",
        "a visibility gap: the commands only look",
    ),
    (
        "SUBNET_NOT_IN_SNAPSHOT",
        "retake the snapshot; nothing to change",
    ),
    (
        "SUBNET_HOSTS_NAT_GATEWAY",
        "information: the subnet is right as it is",
    ),
    (
        "IGW_PRIVATE_DESTINATION",
        "needs a route to the network that owns the address, which the snapshot does not hold",
    ),
    (
        "REGIONAL_NAT_AZ_NOT_COVERED",
        "regional NAT zones are not modelled as a change",
    ),
    (
        "BPA_NOT_VERIFIABLE",
        "permissions to read Block Public Access; nothing to change",
    ),
    (
        "NEXT_HOP_NOT_VERIFIABLE",
        "the next hop is beyond what the snapshot shows",
    ),
    (
        "PATH_NOT_VERIFIABLE",
        "a resource the snapshot could not read",
    ),
    ("DESTINATION_IN_VPC", "information"),
    (
        "ENDPOINT_PRIVATE_DNS_CAPTURE",
        "information: the endpoint is used on purpose",
    ),
    (
        "TIMEOUT_BEYOND_VPC",
        "the cause is beyond the VPC; the commands only look",
    ),
    (
        "DNS_FAILURE_BEYOND_VPC",
        "the cause is beyond the VPC; the commands only look",
    ),
    ("ANALYSIS_INCONSISTENT", "retake the snapshot and compare"),
    (
        "DESTINATION_REFUSED",
        "the destination's service, not the network",
    ),
    (
        "DESTINATION_RESET",
        "the destination's service, not the network",
    ),
    (
        "DESTINATION_TLS_ERROR",
        "the destination's TLS setup, not the network",
    ),
    (
        "DESTINATION_HTTP_ERROR",
        "the destination's service, not the network",
    ),
    (
        "TGW_ATTACHMENT_NOT_AVAILABLE",
        "acceptance happens in the transit gateway owner's account, which the snapshot cannot change",
    ),
    (
        "TGW_NOT_VISIBLE",
        "a resource in an account this principal cannot read",
    ),
    (
        "FIREWALL_ENDPOINT_NOT_READY",
        "wait for the firewall, or remap its subnet: not an EC2 change",
    ),
    (
        "FIREWALL_STATELESS_DROP",
        "Network Firewall rule groups are edited as documents, not simulated here",
    ),
    (
        "FIREWALL_DEFAULT_DROP",
        "Network Firewall rule groups are edited as documents, not simulated here",
    ),
    (
        "FIREWALL_DOMAIN_NOT_ALLOWED",
        "Network Firewall rule groups are edited as documents, not simulated here",
    ),
    (
        "FIREWALL_DOMAIN_DENIED",
        "Network Firewall rule groups are edited as documents, not simulated here",
    ),
    (
        "FIREWALL_RULE_DROP",
        "Network Firewall rule groups are edited as documents, not simulated here",
    ),
    (
        "FIREWALL_RULE_REJECT",
        "Network Firewall rule groups are edited as documents, not simulated here",
    ),
    (
        "FIREWALL_HOME_NET_EXCLUDES_SOURCE",
        "a firewall policy variable, edited as a document",
    ),
    (
        "FIREWALL_RULES_NOT_EVALUABLE",
        "rules the engine cannot evaluate: check by hand",
    ),
    (
        "PEERING_NOT_ACTIVE",
        "acceptance happens in the accepter's account",
    ),
    (
        "GWLB_APPLIANCE_NOT_VERIFIABLE",
        "the appliance is in the provider's account",
    ),
    (
        "GWLB_ENDPOINT_NOT_AVAILABLE",
        "acceptance or new endpoints in the provider's service",
    ),
    (
        "TGW_ATTACHMENT_MISSING",
        "a new attachment must also be associated and routed in the transit gateway owner's tables",
    ),
    (
        "DNS_PRIVATE_ZONE_ANSWER",
        "information: which zone answers a name; the commands only look",
    ),
    (
        "DNS_OUTBOUND_ENDPOINT_NOT_READY",
        "the endpoint's status: the command only looks",
    ),
    (
        "DNS_CONFIG_NOT_VISIBLE",
        "a visibility gap: permissions to read the Resolver configuration",
    ),
    (
        "FUNCTION_SUBNETS_DIFFER",
        "which subnets a function should use is the owner's choice; the per-subnet findings carry the fixes",
    ),
];

/// The reason a code is advice-only, if it is.
pub fn advice_only(code: &str) -> Option<&'static str> {
    ADVICE_ONLY
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, why)| *why)
}

fn nacl(fix: &NaclFix) -> Vec<Vec<Change>> {
    fix.alternatives().into_iter().map(|c| vec![c]).collect()
}

/// A NAT gateway to point routes at: an existing one, or a new one (allocate + create).
fn nat_target(nat: &NatChoice) -> Option<(Vec<Change>, RouteTarget)> {
    match nat {
        NatChoice::Existing { nat, .. } => Some((vec![], RouteTarget::NatGateway(nat.clone()))),
        NatChoice::Create {
            public_subnet: Some(subnet),
        } => Some((
            vec![
                Change::AllocateAddress {
                    allocation: "eipalloc-new".into(),
                },
                Change::CreateNatGateway {
                    subnet: subnet.clone(),
                    allocation: "eipalloc-new".into(),
                    nat: "nat-new".into(),
                },
            ],
            RouteTarget::NatGateway("nat-new".into()),
        )),
        NatChoice::Create {
            public_subnet: None,
        } => None,
    }
}

fn replace_to_nat(route: &RouteRef, nat: &NatChoice) -> Vec<Vec<Change>> {
    let Some((mut pre, target)) = nat_target(nat) else {
        return vec![];
    };
    pre.push(Change::ReplaceRoute {
        rtb: route.rtb.clone(),
        destination: route.destination.clone(),
        target,
    });
    vec![pre]
}

/// A new route table for `subnet` with `destination` to `target`: the safe alternative to
/// editing a table other subnets share (issue 11).
fn own_table(
    vpc: &str,
    subnet: &str,
    destination: RouteDestination,
    mut pre: Vec<Change>,
    target: RouteTarget,
    explicit: bool,
) -> Vec<Change> {
    pre.push(Change::CreateRouteTable {
        vpc: vpc.to_string(),
        rtb: "rtb-new".into(),
    });
    pre.push(Change::CreateRoute {
        rtb: "rtb-new".into(),
        destination,
        target,
    });
    pre.push(if explicit {
        Change::ReplaceRouteTableAssociation {
            subnet: subnet.to_string(),
            rtb: "rtb-new".into(),
        }
    } else {
        Change::AssociateRouteTable {
            rtb: "rtb-new".into(),
            subnet: subnet.to_string(),
        }
    });
    pre
}

fn v4(n: &str) -> Option<RouteDestination> {
    n.parse().ok().map(RouteDestination::Ipv4)
}

fn cidr_dest(n: &str) -> Option<RouteDestination> {
    match n.parse::<IpNet>().ok()? {
        IpNet::V4(n) => Some(RouteDestination::Ipv4(n)),
        IpNet::V6(n) => Some(RouteDestination::Ipv6(n)),
    }
}

impl Issue {
    /// The fix as changes, alternatives in order of preference (the simulation takes the
    /// first that clears the finding and breaks nothing). Empty: advice only, or no fix
    /// could be derived from the data (a placeholder would be needed).
    pub(crate) fn changes(&self, explicit_assoc: &dyn Fn(&str) -> bool) -> Vec<Vec<Change>> {
        match self {
            Issue::NoRoute {
                subnet,
                rtb,
                nat,
                vpc,
                family,
                eigw,
            } => {
                if *family == crate::model::Family::Ipv6 {
                    return Issue::Ipv6NoEgressRoute {
                        subnet: subnet.clone(),
                        rtb: rtb.clone(),
                        eigw: eigw.clone(),
                        vpc: vpc.clone(),
                    }
                    .changes(explicit_assoc);
                }
                let Some((pre, target)) = nat_target(nat) else {
                    return vec![];
                };
                let Some(any) = v4("0.0.0.0/0") else {
                    return vec![];
                };
                let mut first = pre.clone();
                first.push(Change::CreateRoute {
                    rtb: rtb.clone(),
                    destination: any.clone(),
                    target: target.clone(),
                });
                vec![
                    first,
                    own_table(vpc, subnet, any, pre, target, explicit_assoc(subnet)),
                ]
            }
            Issue::Ipv6NoEgressRoute { rtb, eigw, vpc, .. } => {
                let Some(any) = cidr_dest("::/0") else {
                    return vec![];
                };
                let mut v = vec![];
                let id = match eigw {
                    Some(e) => e.clone(),
                    None => {
                        v.push(Change::CreateEgressOnlyInternetGateway {
                            vpc: vpc.clone(),
                            eigw: "eigw-new".into(),
                        });
                        "eigw-new".into()
                    }
                };
                v.push(Change::CreateRoute {
                    rtb: rtb.clone(),
                    destination: any,
                    target: RouteTarget::EgressOnlyInternetGateway(id),
                });
                vec![v]
            }
            Issue::RouteBlackhole { route, nat, .. }
            | Issue::NatNotAvailable { route, nat, .. }
            | Issue::NatPrivate { route, nat, .. }
            | Issue::EgressVpcRouteBlackhole { route, nat, .. } => replace_to_nat(route, nat),
            // R56 + R37: the transit gateway the VPC is attached to first (no new resource,
            // the centralised way out), then a NAT gateway of the VPC.
            Issue::PeeringAsEgress {
                route,
                nat,
                tgw,
                peer_returns,
                ..
            } => {
                let mut alts: Vec<Vec<Change>> = tgw
                    .iter()
                    .map(|t| {
                        let to_tgw = || RouteTarget::TransitGateway(t.clone());
                        let mut changes = vec![Change::ReplaceRoute {
                            rtb: route.rtb.clone(),
                            destination: route.destination.clone(),
                            target: to_tgw(),
                        }];
                        changes.extend(peer_returns.iter().map(|(rtb, destination)| {
                            Change::ReplaceRoute {
                                rtb: rtb.clone(),
                                destination: destination.clone(),
                                target: to_tgw(),
                            }
                        }));
                        changes
                    })
                    .collect();
                alts.extend(replace_to_nat(route, nat));
                alts
            }
            Issue::NatCrossAz { route, nat, .. } => match nat {
                NatChoice::Existing { same_az: true, .. } | NatChoice::Create { .. } => {
                    replace_to_nat(route, nat)
                }
                NatChoice::Existing { .. } => vec![],
            },
            Issue::RoutesToIgw {
                subnet,
                route,
                nat,
                vpc,
                shared_with_nat_subnet,
            } => {
                let Some((pre, target)) = nat_target(nat) else {
                    return vec![];
                };
                let new_table = own_table(
                    vpc,
                    subnet,
                    route.destination.clone(),
                    pre.clone(),
                    target.clone(),
                    explicit_assoc(subnet),
                );
                let mut edit = pre;
                edit.push(Change::ReplaceRoute {
                    rtb: route.rtb.clone(),
                    destination: route.destination.clone(),
                    target,
                });
                // Editing a table the NAT gateway's subnet uses cuts the NAT gateway off
                // from the internet gateway: the new table first there.
                if *shared_with_nat_subnet {
                    vec![new_table, edit]
                } else {
                    vec![edit, new_table]
                }
            }
            Issue::EgressVpcNoRoute {
                rtb,
                destination,
                nat,
                ..
            } => {
                let Some((mut pre, target)) = nat_target(nat) else {
                    return vec![];
                };
                let Some(any) = cidr_dest(any_cidr(destination)) else {
                    return vec![];
                };
                pre.push(Change::CreateRoute {
                    rtb: rtb.clone(),
                    destination: any,
                    target,
                });
                vec![pre]
            }
            Issue::NatNoEip { nat_id, .. } => vec![vec![
                Change::AllocateAddress {
                    allocation: "eipalloc-new".into(),
                },
                Change::AssociateNatGatewayAddress {
                    nat: nat_id.clone(),
                    allocation: "eipalloc-new".into(),
                },
            ]],
            Issue::NatSubnetNoIgwRoute {
                nat_rtb,
                found,
                igw,
                vpc,
                ..
            } => {
                let Some(rtb) = nat_rtb else {
                    return vec![];
                };
                let mut v = vec![];
                let id = match igw {
                    Some(g) => g.clone(),
                    None => {
                        v.push(Change::CreateInternetGateway {
                            igw: "igw-new".into(),
                        });
                        v.push(Change::AttachInternetGateway {
                            igw: "igw-new".into(),
                            vpc: vpc.clone(),
                        });
                        "igw-new".into()
                    }
                };
                let Some(any) = v4("0.0.0.0/0") else {
                    return vec![];
                };
                let target = RouteTarget::InternetGateway(id);
                v.push(if found.is_some() {
                    Change::ReplaceRoute {
                        rtb: rtb.clone(),
                        destination: any,
                        target,
                    }
                } else {
                    Change::CreateRoute {
                        rtb: rtb.clone(),
                        destination: any,
                        target,
                    }
                });
                vec![v]
            }
            Issue::IgwNotAttached { igw, vpc, .. } => vec![vec![Change::AttachInternetGateway {
                igw: igw.clone(),
                vpc: vpc.clone(),
            }]],
            Issue::BpaBlocksEgress {
                gateway_subnet,
                vpc,
                ..
            } => vec![vec![Change::CreateBpaExclusion {
                resource: gateway_subnet.clone().unwrap_or_else(|| vpc.clone()),
                mode: "allow-egress".into(),
            }]],
            Issue::NaclOutboundDenied { fix, .. }
            | Issue::NaclInboundEphemeral { fix, .. }
            | Issue::NatSubnetNacl { fix, .. }
            | Issue::EndpointSubnetNacl { fix, .. }
            | Issue::TgwAttachmentNacl { fix, .. }
            | Issue::DestSubnetNaclDenied { fix, .. } => nacl(fix),
            Issue::SgEgressDenied {
                security_groups,
                protocol,
                port,
                cidr,
                ..
            } => {
                let (Some(sg), Ok(net)) = (security_groups.first(), cidr.parse::<IpNet>()) else {
                    return vec![];
                };
                vec![vec![Change::AuthorizeSgEgress {
                    group: sg.clone(),
                    rule: Change::sg_rule(
                        *protocol,
                        Some(PortRange {
                            from: *port,
                            to: *port,
                        }),
                        SgPeer::Cidr(net),
                    ),
                }]]
            }
            Issue::EndpointSgIngressDenied {
                endpoint_sgs,
                function_sgs,
                source_cidr,
                port,
                ..
            } => sg_ingress(
                endpoint_sgs,
                function_sgs,
                source_cidr,
                crate::model::Protocol::TCP,
                *port,
            ),
            Issue::DestSgIngressDenied {
                dest_sgs,
                function_sgs,
                source_cidr,
                protocol,
                port,
                ..
            } => sg_ingress(dest_sgs, function_sgs, source_cidr, *protocol, *port),
            Issue::VpcDnsSupportDisabled { vpc } => vec![vec![Change::ModifyVpcAttribute {
                vpc: vpc.clone(),
                attribute: VpcAttribute::EnableDnsSupport,
                value: true,
            }]],
            Issue::CustomDnsUnreachable {
                vpc,
                amazon_dhcp,
                domain_name,
                ..
            } => match amazon_dhcp {
                // R25: never `default` (no options: DNS off for the whole VPC).
                Some(id) => vec![vec![Change::AssociateDhcpOptions {
                    vpc: vpc.clone(),
                    dhcp_options: id.clone(),
                }]],
                None => vec![vec![
                    Change::CreateDhcpOptions {
                        options: DhcpOptions {
                            id: "dopt-new".into(),
                            domain_name_servers: vec!["AmazonProvidedDNS".into()],
                            domain_name: domain_name.clone(),
                        },
                    },
                    Change::AssociateDhcpOptions {
                        vpc: vpc.clone(),
                        dhcp_options: "dopt-new".into(),
                    },
                ]],
            },
            Issue::Ipv6NotEnabled {
                gap: Ipv6Gap::FunctionFlag,
                function: Some(f),
                function_subnets,
                security_groups,
                ..
            } if !security_groups.is_empty() => vec![vec![Change::UpdateFunctionVpcConfig {
                function: f.clone(),
                subnets: function_subnets.clone(),
                security_groups: security_groups.clone(),
                ipv6: true,
            }]],
            Issue::TgwAttachmentNotAssociated {
                attachment,
                table: Some(table),
                ..
            } => vec![vec![Change::AssociateTgwRouteTable {
                table: table.clone(),
                attachment: attachment.clone(),
            }]],
            Issue::TgwNoSubnetInAz {
                subnet, attachment, ..
            } => vec![vec![Change::ModifyTgwVpcAttachment {
                attachment: attachment.clone(),
                add_subnets: vec![subnet.clone()],
                remove_subnets: vec![],
                appliance_mode: None,
            }]],
            Issue::TgwNoRoute {
                table,
                destination,
                egress: Some(egress),
                ..
            } => cidr_dest(any_cidr(destination))
                .map(|d| {
                    vec![vec![Change::CreateTgwRoute {
                        table: table.clone(),
                        destination: d,
                        attachment: Some(egress.clone()),
                    }]]
                })
                .unwrap_or_default(),
            Issue::TgwRouteBlackhole {
                table,
                destination,
                egress: Some(egress),
                ..
            } => cidr_dest(destination)
                .map(|d| {
                    vec![vec![Change::ReplaceTgwRoute {
                        table: table.clone(),
                        destination: d,
                        attachment: Some(egress.clone()),
                    }]]
                })
                .unwrap_or_default(),
            Issue::TgwReturnRouteMissing {
                table,
                workload_attachment,
                workload_cidr,
                ..
            } => {
                let mut v = vec![vec![Change::EnableTgwPropagation {
                    table: table.clone(),
                    attachment: workload_attachment.clone(),
                }]];
                if let Some(d) = cidr_dest(workload_cidr) {
                    v.push(vec![Change::CreateTgwRoute {
                        table: table.clone(),
                        destination: d,
                        attachment: Some(workload_attachment.clone()),
                    }]);
                }
                v
            }
            Issue::EgressVpcNoReturnRoute {
                rtb,
                workload_cidr,
                tgw: Some(tgw),
                ..
            } => cidr_dest(workload_cidr)
                .map(|d| {
                    vec![vec![Change::CreateRoute {
                        rtb: rtb.clone(),
                        destination: d,
                        target: RouteTarget::TransitGateway(tgw.clone()),
                    }]]
                })
                .unwrap_or_default(),
            Issue::EgressAttachmentPublicSubnet {
                attachment,
                attachment_subnet,
                private_subnet: Some(private),
                ..
            } => vec![vec![Change::ModifyTgwVpcAttachment {
                attachment: attachment.clone(),
                add_subnets: vec![private.clone()],
                remove_subnets: vec![attachment_subnet.clone()],
                appliance_mode: None,
            }]],
            Issue::TgwApplianceModeDisabled { attachment, .. } => {
                vec![vec![Change::ModifyTgwVpcAttachment {
                    attachment: attachment.clone(),
                    add_subnets: vec![],
                    remove_subnets: vec![],
                    appliance_mode: Some(true),
                }]]
            }
            Issue::FirewallEndpointCrossAz {
                route,
                same_az_endpoint: Some(e),
                ..
            } => vec![vec![Change::ReplaceRoute {
                rtb: route.rtb.clone(),
                destination: route.destination.clone(),
                target: RouteTarget::VpcEndpoint(e.clone()),
            }]],
            Issue::FirewallAsymmetricRoute {
                forward_endpoint,
                rtb,
                workload_cidr,
                replace,
                ..
            } => v4(workload_cidr)
                .map(|d| {
                    let target = RouteTarget::VpcEndpoint(forward_endpoint.clone());
                    let rtb = rtb.clone();
                    vec![vec![if *replace {
                        Change::ReplaceRoute {
                            rtb,
                            destination: d,
                            target,
                        }
                    } else {
                        Change::CreateRoute {
                            rtb,
                            destination: d,
                            target,
                        }
                    }]]
                })
                .unwrap_or_default(),
            Issue::Dns(d) => dns_changes(d),
            _ => vec![],
        }
    }
}

/// The DNS path's fixes as changes (R25, R59-R63), alternatives in order of preference.
fn dns_changes(d: &DnsIssue) -> Vec<Vec<Change>> {
    match d {
        // R60: the zone stops deciding names for the VPC (data: zone, VPC, Region); the
        // record needs an address only the owner knows, so it comes second.
        DnsIssue::PrivateZoneShadows {
            vpc,
            name,
            zone,
            region,
            via_profile,
            ..
        } => {
            let stop = match (via_profile, region) {
                (Some(p), _) => Some(Change::DisassociateZoneFromProfile {
                    profile: p.clone(),
                    zone: zone.clone(),
                }),
                (None, Some(r)) => Some(Change::DisassociateVpcFromHostedZone {
                    zone: zone.clone(),
                    vpc: vpc.clone(),
                    region: r.clone(),
                }),
                (None, None) => None,
            };
            let record = super::catalog::dns::record_fix(zone, name);
            stop.into_iter()
                .map(|c| vec![c])
                .chain(std::iter::once(vec![record]))
                .collect()
        }
        // R61: the narrowest change first. An entry that is exactly the name is removed;
        // a wildcard (or managed) entry keeps blocking the rest, and the name gets its own
        // ALLOW rule just before the blocking rule.
        DnsIssue::FirewallBlocks {
            name,
            group,
            rule_priority,
            list,
            managed_list,
            entry,
            ..
        } => {
            let remove = (!managed_list).then(|| {
                vec![Change::UpdateFirewallDomains {
                    list: list.clone(),
                    operation: "REMOVE".into(),
                    domains: vec![entry.clone()],
                }]
            });
            let label = format!(
                "allow-{}",
                crate::model::normalise_name(name).replace('.', "-")
            );
            // Priorities are unique in a group and start at 1; the simulation refuses one
            // the group already uses (then the next alternative is taken).
            let allow = (*rule_priority > 1).then(|| {
                vec![
                    Change::CreateFirewallDomainList {
                        name: label.clone(),
                        list: "rslvr-fdl-new".into(),
                    },
                    Change::UpdateFirewallDomains {
                        list: "rslvr-fdl-new".into(),
                        operation: "ADD".into(),
                        domains: vec![crate::model::normalise_name(name)],
                    },
                    Change::CreateFirewallRule {
                        group: group.clone(),
                        list: "rslvr-fdl-new".into(),
                        priority: rule_priority - 1,
                        action: "ALLOW".into(),
                        block_response: None,
                        name: label,
                    },
                ]
            });
            let exact = crate::model::normalise_name(entry) == crate::model::normalise_name(name);
            // Removing a wildcard entry unblocks every name it matches: the ALLOW rule for
            // this name alone comes first then.
            let (first, second) = if exact {
                (remove, allow)
            } else {
                (allow, remove)
            };
            first.into_iter().chain(second).collect()
        }
        // R61: fail-open, so an impaired DNS Firewall no longer fails every query.
        DnsIssue::FirewallFailClosed { vpc, .. } => vec![vec![Change::UpdateFirewallConfig {
            vpc: vpc.clone(),
            fail_open: "ENABLED".into(),
        }]],
        // R59: the blocking hops' own fixes, from the endpoint's ENIs (its security
        // group, the endpoint subnet's NACL or route), as the path engine derived them.
        DnsIssue::ForwardTargetUnreachable { changes, .. } if !changes.is_empty() => {
            vec![changes.clone()]
        }
        // R63.
        DnsIssue::Dns64Disabled { subnet, .. } => vec![vec![Change::ModifySubnetDns64 {
            subnet: subnet.clone(),
            enabled: true,
        }]],
        DnsIssue::Nat64RouteMissing {
            rtb, replace, nat, ..
        } => {
            let (Some((mut pre, target)), Some(d)) = (nat_target(nat), cidr_dest("64:ff9b::/96"))
            else {
                return vec![];
            };
            pre.push(if *replace {
                Change::ReplaceRoute {
                    rtb: rtb.clone(),
                    destination: d,
                    target,
                }
            } else {
                Change::CreateRoute {
                    rtb: rtb.clone(),
                    destination: d,
                    target,
                }
            });
            vec![pre]
        }
        // R25: an AmazonProvidedDNS set, never `default` (which is the cause).
        DnsIssue::NoDhcpOptions {
            vpc, amazon_dhcp, ..
        } => match amazon_dhcp {
            Some(id) => vec![vec![Change::AssociateDhcpOptions {
                vpc: vpc.clone(),
                dhcp_options: id.clone(),
            }]],
            None => vec![vec![
                Change::CreateDhcpOptions {
                    options: DhcpOptions {
                        id: "dopt-new".into(),
                        domain_name_servers: vec!["AmazonProvidedDNS".into()],
                        domain_name: None,
                    },
                },
                Change::AssociateDhcpOptions {
                    vpc: vpc.clone(),
                    dhcp_options: "dopt-new".into(),
                },
            ]],
        },
        _ => vec![],
    }
}

/// Ingress on the first group of `groups` from the function's group, else its subnet.
fn sg_ingress(
    groups: &[String],
    function_sgs: &[String],
    source_cidr: &str,
    protocol: crate::model::Protocol,
    port: u16,
) -> Vec<Vec<Change>> {
    let Some(g) = groups.first() else {
        return vec![];
    };
    let peer = match function_sgs.first() {
        Some(sg) => SgPeer::SecurityGroup(sg.clone()),
        None => match source_cidr.parse() {
            Ok(n) => SgPeer::Cidr(n),
            Err(_) => return vec![],
        },
    };
    vec![vec![Change::AuthorizeSgIngress {
        group: g.clone(),
        rule: Change::sg_rule(
            protocol,
            Some(PortRange {
                from: port,
                to: port,
            }),
            peer,
        ),
    }]]
}
