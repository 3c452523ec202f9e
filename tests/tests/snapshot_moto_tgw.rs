//! The snapshot reader beyond the VPC against moto: a workload VPC whose default route goes
//! to a transit gateway, an egress VPC behind it (NAT, IGW, the route back), a VPC peering
//! connection, and a Network Firewall in the egress VPC — built through the EC2 and Network
//! Firewall APIs, read back with the real SDK clients, checked field by field.
//!
//! moto (5.2) loses a static TGW route's target attachment; tests/moto/patched_server.py
//! makes it answer as the API reference says (README "moto vs AWS"). moto has no firewall
//! policies: DescribeFirewallPolicy is a gap, never a guess. Single account: moto keeps one
//! account per credentials, so the cross-account cases are scripted-HTTP tests
//! (probe/tests/snapshot_network.rs).

#![allow(clippy::unwrap_used)] // test helpers: a failed setup should fail the test

use aws_sdk_ec2::types::{
    ApplianceModeSupportValue, CreateTransitGatewayVpcAttachmentRequestOptions,
};
use egress_probe::model::{GapKind, RouteDestination, RouteTarget};
use egress_probe::snapshot::{self, Clients, RunCache, Scope, call};
use egress_probe_e2e::moto::MotoServer;
use egress_probe_e2e::topology::{RouteTo, Topology};

struct Built {
    workload: String,
    lambda_subnets: Vec<String>,
    tgw: String,
    tgw_table: String,
    workload_attachment: String,
    egress: String,
    egress_attachment: String,
    egress_tgw_subnet: String,
    nat: String,
    pcx: String,
    firewall_arn: String,
}

async fn build(t: &Topology, nfw: &aws_sdk_networkfirewall::Client) -> Built {
    let ec2 = &t.ec2;
    // Workload VPC: two Lambda subnets, one attachment subnet (AZ a only, R37).
    let workload = t.vpc("10.0.0.0/16", false).await.unwrap();
    let la = t
        .subnet(&workload, "10.0.1.0/24", "us-east-1a", None)
        .await
        .unwrap();
    let lb = t
        .subnet(&workload, "10.0.2.0/24", "us-east-1b", None)
        .await
        .unwrap();
    let wt = t
        .subnet(&workload, "10.0.100.0/28", "us-east-1a", None)
        .await
        .unwrap();
    // Egress VPC: attachment subnet → NAT subnet → IGW; the NAT subnet routes the workload
    // CIDR back to the transit gateway (R41).
    let egress = t.vpc("100.64.0.0/16", false).await.unwrap();
    let et = t
        .subnet(&egress, "100.64.0.0/28", "us-east-1a", None)
        .await
        .unwrap();
    let en = t
        .subnet(&egress, "100.64.1.0/24", "us-east-1a", None)
        .await
        .unwrap();
    let igw = t.internet_gateway(&egress).await.unwrap();
    let nat = t.nat_gateway(&en, true).await.unwrap();
    // A peer VPC.
    let peer = t.vpc("172.31.0.0/16", false).await.unwrap();
    let pcx = ec2
        .create_vpc_peering_connection()
        .vpc_id(&workload)
        .peer_vpc_id(&peer)
        .send()
        .await
        .unwrap()
        .vpc_peering_connection
        .unwrap()
        .vpc_peering_connection_id
        .unwrap();
    ec2.accept_vpc_peering_connection()
        .vpc_peering_connection_id(&pcx)
        .send()
        .await
        .unwrap();

    let tgw = ec2
        .create_transit_gateway()
        .description("egress")
        .send()
        .await
        .unwrap()
        .transit_gateway
        .unwrap();
    let tgw_table = tgw
        .options()
        .and_then(|o| o.association_default_route_table_id())
        .unwrap()
        .to_string();
    let tgw = tgw.transit_gateway_id.unwrap();
    let attach = |vpc: String, subnet: String, appliance: bool| {
        let ec2 = ec2.clone();
        let tgw = tgw.clone();
        async move {
            let mut req = ec2
                .create_transit_gateway_vpc_attachment()
                .transit_gateway_id(tgw)
                .vpc_id(vpc)
                .subnet_ids(subnet);
            if appliance {
                req = req.options(
                    CreateTransitGatewayVpcAttachmentRequestOptions::builder()
                        .appliance_mode_support(ApplianceModeSupportValue::Enable)
                        .build(),
                );
            }
            req.send()
                .await
                .unwrap()
                .transit_gateway_vpc_attachment
                .unwrap()
                .transit_gateway_attachment_id
                .unwrap()
        }
    };
    let workload_attachment = attach(workload.clone(), wt.clone(), false).await;
    let egress_attachment = attach(egress.clone(), et.clone(), true).await;

    // The TGW table (the default one, which both attachments are associated with): 0/0 to
    // the egress VPC, the workload CIDR back to the workload (moto does not propagate), a
    // blackhole (R39-R41).
    let tgw_route = |dest: &str, attachment: Option<&str>| {
        let mut req = ec2
            .create_transit_gateway_route()
            .transit_gateway_route_table_id(&tgw_table)
            .destination_cidr_block(dest);
        req = match attachment {
            Some(a) => req.transit_gateway_attachment_id(a),
            None => req.blackhole(true),
        };
        req.send()
    };
    tgw_route("0.0.0.0/0", Some(&egress_attachment))
        .await
        .unwrap();
    tgw_route("10.0.0.0/16", Some(&workload_attachment))
        .await
        .unwrap();
    tgw_route("203.0.113.0/24", None).await.unwrap();

    // Route tables.
    let lambda_rt = t.route_table(&workload, &[&la, &lb]).await.unwrap();
    let vpc_route = |table: String, dest: &str| {
        ec2.create_route()
            .route_table_id(table)
            .destination_cidr_block(dest)
    };
    vpc_route(lambda_rt.clone(), "0.0.0.0/0")
        .transit_gateway_id(&tgw)
        .send()
        .await
        .unwrap();
    vpc_route(lambda_rt, "172.31.0.0/16")
        .vpc_peering_connection_id(&pcx)
        .send()
        .await
        .unwrap();
    let et_rt = t.route_table(&egress, &[&et]).await.unwrap();
    t.route(&et_rt, "0.0.0.0/0", RouteTo::Nat(&nat))
        .await
        .unwrap();
    let en_rt = t.route_table(&egress, &[&en]).await.unwrap();
    t.route(&en_rt, "0.0.0.0/0", RouteTo::Igw(&igw))
        .await
        .unwrap();
    vpc_route(en_rt, "10.0.0.0/16")
        .transit_gateway_id(&tgw)
        .send()
        .await
        .unwrap();

    // A firewall in the egress VPC (moto keeps firewalls, not policies).
    let firewall_arn = nfw
        .create_firewall()
        .firewall_name("egress-fw")
        .firewall_policy_arn(
            "arn:aws:network-firewall:us-east-1:123456789012:firewall-policy/egress",
        )
        .vpc_id(&egress)
        .subnet_mappings(
            aws_sdk_networkfirewall::types::SubnetMapping::builder()
                .subnet_id(&et)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .firewall
        .unwrap()
        .firewall_arn
        .unwrap();

    Built {
        workload,
        lambda_subnets: vec![la, lb],
        tgw,
        tgw_table,
        workload_attachment,
        egress,
        egress_attachment,
        egress_tgw_subnet: et,
        nat,
        pcx,
        firewall_arn,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_the_path_through_the_transit_gateway_into_the_egress_vpc() {
    let server = MotoServer::start().expect("moto server");
    let config = server.sdk_config().await;
    let t = Topology::new(aws_sdk_ec2::Client::new(&config));
    let nfw = aws_sdk_networkfirewall::Client::new(&config);
    let b = build(&t, &nfw).await;
    let clients = Clients::new(&config);
    let cache = RunCache::default();

    let snap = snapshot::take_cached(
        &clients,
        &Scope::Subnets(vec![b.lambda_subnets[0].clone()]),
        &cache,
    )
    .await
    .unwrap();

    // R37, R38, R44: both attachments, with subnets, association and appliance mode.
    let w = snap
        .transit_gateway_attachment(&b.workload_attachment)
        .unwrap();
    assert!(w.is_available());
    assert_eq!(w.resource_id.as_deref(), Some(b.workload.as_str()));
    assert_eq!(w.associated_route_table(), Some(b.tgw_table.as_str()));
    assert_eq!(w.subnet_ids.len(), 1);
    assert!(!w.appliance_mode());
    let e = snap
        .transit_gateway_attachment(&b.egress_attachment)
        .unwrap();
    assert_eq!(e.resource_id.as_deref(), Some(b.egress.as_str()));
    assert_eq!(e.subnet_ids, std::slice::from_ref(&b.egress_tgw_subnet));
    assert!(e.appliance_mode());
    assert_eq!(snap.transit_gateways.len(), 1);
    assert_eq!(snap.transit_gateways[0].id, b.tgw);
    assert_eq!(snap.transit_gateways[0].state.as_deref(), Some("available"));

    // R39-R41: the table, once (both attachments share it), with its three routes.
    assert_eq!(snap.transit_gateway_route_tables.len(), 1);
    let table = snap.transit_gateway_route_table(&b.tgw_table).unwrap();
    assert!(table.routes_complete);
    let route = |dest: &str| {
        table
            .routes
            .iter()
            .find(|r| r.destination == RouteDestination::Ipv4(dest.parse().unwrap()))
            .unwrap()
    };
    assert_eq!(
        route("0.0.0.0/0").attachments[0].attachment_id,
        b.egress_attachment
    );
    assert_eq!(route("0.0.0.0/0").route_type, "static");
    assert_eq!(
        route("10.0.0.0/16").attachments[0].attachment_id,
        b.workload_attachment
    );
    assert!(route("203.0.113.0/24").is_blackhole());

    // The egress VPC through the same reader: subnets, tables, NAT, IGW, NACLs, SGs.
    assert!(snap.vpc(&b.egress).is_some());
    let nat_subnet = snap.nat_gateway(&b.nat).unwrap().subnet_id.clone().unwrap();
    let back = snap.effective_route_table(&nat_subnet).unwrap();
    assert!(
        back.routes
            .iter()
            .any(|r| r.target == RouteTarget::TransitGateway(b.tgw.clone())
                && r.destination == RouteDestination::Ipv4("10.0.0.0/16".parse().unwrap()))
    );
    assert!(
        snap.internet_gateways
            .iter()
            .any(|g| g.is_attached_to(&b.egress))
    );
    assert!(snap.network_acl_for_subnet(&b.egress_tgw_subnet).is_some());
    assert!(snap.security_groups.iter().any(|g| g.vpc_id == b.egress));
    let egress_attach_rt = snap.effective_route_table(&b.egress_tgw_subnet).unwrap();
    assert!(
        egress_attach_rt
            .routes
            .iter()
            .any(|r| r.target == RouteTarget::NatGateway(b.nat.clone()))
    );
    // The peer VPC is not read; only the workload and egress VPCs.
    assert_eq!(snap.vpcs.len(), 2);

    // R56: the peering connection the route table names, with both sides' CIDRs.
    let p = snap.vpc_peering_connection(&b.pcx).unwrap();
    assert_eq!(p.status, "active");
    let peer = p.peer_of(&b.workload).unwrap();
    assert_eq!(
        peer.cidrs,
        vec!["172.31.0.0/16".parse::<ipnet::IpNet>().unwrap()]
    );

    // R47: the firewall in the egress VPC; moto has no policies, so that is a gap.
    assert_eq!(snap.network_firewalls.len(), 1);
    let fw = &snap.network_firewalls[0];
    assert_eq!(fw.arn, b.firewall_arn);
    assert_eq!(fw.vpc_id.as_deref(), Some(b.egress.as_str()));
    assert_eq!(fw.subnet_ids, std::slice::from_ref(&b.egress_tgw_subnet));
    assert_eq!(fw.status.as_deref(), Some("READY"));
    let policy_gap = snap.gap(call::DESCRIBE_FIREWALL_POLICY).unwrap();
    assert!(
        policy_gap.reason.contains("firewall-policy/egress"),
        "{}",
        policy_gap.reason
    );
    assert!(snap.firewall_policies.is_empty());
    // Single account: no gap names another account.
    assert!(
        snap.gaps.iter().all(|g| g.account.is_none()),
        "{:#?}",
        snap.gaps
    );
    // moto's BPA gap and the policy gap only.
    assert!(
        snap.gaps
            .iter()
            .all(|g| g.call == call::DESCRIBE_BPA_OPTIONS
                || g.call == call::DESCRIBE_FIREWALL_POLICY),
        "{:#?}",
        snap.gaps
    );
    assert_eq!(
        snap.gap(call::DESCRIBE_BPA_OPTIONS).unwrap().kind,
        GapKind::Unsupported
    );

    // Bounded: ≤ 15 per VPC, ≤ 6 for the TGW hop (+1 for the TGW itself), ≤ 4 per firewall
    // (+1 for the peering connection); identify, workload VPC, its attachments + peering,
    // the TGW table, egress VPC + attachment + firewall list, firewall, policy: 7 rounds.
    assert!(
        snap.api_calls <= 15 + 15 + 7 + 4 + 1,
        "{} calls",
        snap.api_calls
    );
    assert_eq!(snap.api_stages, 7, "rounds");

    // The second Lambda subnet in the same run: the egress side comes from the cache.
    let second = snapshot::take_cached(
        &clients,
        &Scope::Subnets(vec![b.lambda_subnets[1].clone()]),
        &cache,
    )
    .await
    .unwrap();
    assert!(second.vpc(&b.egress).is_some());
    assert_eq!(second.network_firewalls.len(), 1);
    assert_eq!(
        second.transit_gateway_route_tables,
        snap.transit_gateway_route_tables
    );
    // Identify + 13 + 2 attachments + peering (workload-side, not cached by content).
    assert!(
        second.api_calls <= 1 + 13 + 2 + 1,
        "{} calls",
        second.api_calls
    );
}
