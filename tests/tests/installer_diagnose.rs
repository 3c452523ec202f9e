//! `egress-probe diagnose` on moto-built topologies: a subnet that routes 0.0.0.0/0 to an
//! internet gateway (a Lambda ENI has no public IP, R9/R10) vs one behind a NAT gateway;
//! the snapshot saved with `--save-snapshot` gives the same answer offline.
//!
//! Needs the snapshot reader (`egress_probe::snapshot::take`, another branch); until it
//! is merged these tests are ignored. Run with `--ignored` after the merge.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod installer_common;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use egress_probe_e2e::moto::MotoServer;
use installer_common::egress_probe;

struct Lab {
    igw_subnet: String,
    nat_subnet: String,
}

async fn lab(config: &aws_config::SdkConfig) -> Lab {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.1.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let subnet = |cidr: &'static str, az: &'static str| {
        let ec2 = ec2.clone();
        let vpc_id = vpc_id.clone();
        async move {
            ec2.create_subnet()
                .vpc_id(vpc_id)
                .cidr_block(cidr)
                .availability_zone(az)
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::Subnet)
                        .tags(Tag::builder().key("Name").value(cidr).build())
                        .build(),
                )
                .send()
                .await
                .unwrap()
                .subnet()
                .unwrap()
                .subnet_id()
                .unwrap()
                .to_string()
        }
    };
    let public = subnet("10.1.0.0/24", "us-east-1a").await;
    let igw_subnet = subnet("10.1.1.0/24", "us-east-1a").await;
    let nat_subnet = subnet("10.1.2.0/24", "us-east-1b").await;
    let igw = ec2.create_internet_gateway().send().await.unwrap();
    let igw_id = igw
        .internet_gateway()
        .unwrap()
        .internet_gateway_id()
        .unwrap()
        .to_string();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw_id)
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap();
    let eip = ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .send()
        .await
        .unwrap();
    let nat = ec2
        .create_nat_gateway()
        .subnet_id(&public)
        .allocation_id(eip.allocation_id().unwrap())
        .send()
        .await
        .unwrap();
    let nat_id = nat
        .nat_gateway()
        .unwrap()
        .nat_gateway_id()
        .unwrap()
        .to_string();
    let table = |subnet: String, igw: Option<String>, nat: Option<String>| {
        let ec2 = ec2.clone();
        let vpc_id = vpc_id.clone();
        async move {
            let rt = ec2
                .create_route_table()
                .vpc_id(vpc_id)
                .send()
                .await
                .unwrap();
            let rt_id = rt
                .route_table()
                .unwrap()
                .route_table_id()
                .unwrap()
                .to_string();
            ec2.create_route()
                .route_table_id(&rt_id)
                .destination_cidr_block("0.0.0.0/0")
                .set_gateway_id(igw)
                .set_nat_gateway_id(nat)
                .send()
                .await
                .unwrap();
            ec2.associate_route_table()
                .route_table_id(&rt_id)
                .subnet_id(subnet)
                .send()
                .await
                .unwrap();
        }
    };
    table(public.clone(), Some(igw_id.clone()), None).await;
    table(igw_subnet.clone(), Some(igw_id), None).await;
    table(nat_subnet.clone(), None, Some(nat_id)).await;
    Lab {
        igw_subnet,
        nat_subnet,
    }
}

#[tokio::test]
async fn diagnose_names_the_igw_route_and_passes_the_nat_subnet() {
    let server = MotoServer::start().unwrap();
    let config = server.sdk_config().await;
    let lab = lab(&config).await;
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("snap.json");
    let saved = saved.to_str().unwrap();

    let out = egress_probe(
        &config,
        &[
            "diagnose",
            "--subnet",
            &lab.igw_subnet,
            "--target",
            "tcp://192.0.2.10:443",
            "--save-snapshot",
            saved,
        ],
    )
    .await
    .unwrap();
    assert_eq!(out.code, 1, "{}", out.stdout);
    let codes: Vec<&str> = out.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"LAMBDA_SUBNET_ROUTES_TO_IGW"), "{codes:?}");

    let out = egress_probe(
        &config,
        &[
            "diagnose",
            "--subnet",
            &lab.nat_subnet,
            "--target",
            "tcp://192.0.2.10:443",
        ],
    )
    .await
    .unwrap();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.json["paths"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["verdict"] == "reachable"),
        "{}",
        out.stdout
    );

    // Offline, from the saved file: the same findings for the IGW subnet.
    let offline = egress_probe(
        &config,
        &[
            "diagnose",
            "--snapshot",
            saved,
            "--subnet",
            &lab.igw_subnet,
            "--target",
            "tcp://192.0.2.10:443",
        ],
    )
    .await
    .unwrap();
    assert_eq!(offline.code, 1);
    let offline_codes: Vec<&str> = offline.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(offline_codes, codes);
}
