//! Shared by the installer's moto tests and benchmark: a VPC with subnets across AZs, fake
//! bootstrap zips, and an in-process run of the `egress-probe` command.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use anyhow::{Context, Result};
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use clap::Parser;
use egress_probe_installer::Outcome;
use egress_probe_installer::artifact::{Arch, fake_elf_header, zip_with_bootstrap};
use egress_probe_installer::cli::Cli;
use std::path::{Path, PathBuf};

pub struct Topology {
    pub vpc_id: String,
    /// (subnet id, AZ), in creation order.
    pub subnets: Vec<(String, String)>,
}

/// A VPC 10.0.0.0/16 with `count` /24 subnets spread over `azs` (round robin). Subnets get
/// a `tier=app` tag when their index is even.
pub async fn build_vpc(
    config: &aws_config::SdkConfig,
    count: usize,
    azs: &[&str],
) -> Result<Topology> {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await?;
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .context("vpc id")?
        .to_string();
    let mut subnets = Vec::new();
    for i in 0..count {
        let az = azs[i % azs.len()];
        let mut req = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(format!("10.0.{i}.0/24"))
            .availability_zone(az);
        if i % 2 == 0 {
            req = req.tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Subnet)
                    .tags(Tag::builder().key("tier").value("app").build())
                    .build(),
            );
        }
        let s = req.send().await?;
        let id = s
            .subnet()
            .and_then(|s| s.subnet_id())
            .context("subnet id")?
            .to_string();
        subnets.push((id, az.to_string()));
    }
    Ok(Topology { vpc_id, subnets })
}

/// Writes a bootstrap zip for `arch` (with `salt` in the file, so zips can differ).
pub fn write_zip(dir: &Path, name: &str, arch: Arch, salt: &str) -> PathBuf {
    let mut body = fake_elf_header(arch);
    body.extend_from_slice(salt.as_bytes());
    let bytes = zip_with_bootstrap(&body).expect("zip");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write zip");
    path
}

/// Runs `egress-probe <args>` in-process against `config`.
pub async fn egress_probe(config: &aws_config::SdkConfig, args: &[&str]) -> Result<Outcome> {
    let mut argv = vec!["egress-probe", "--output", "json"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).map_err(|e| anyhow::anyhow!("usage: {e}"))?;
    egress_probe_installer::run_with_config(cli, Some(config.clone())).await
}

pub async fn function_names(config: &aws_config::SdkConfig) -> Vec<String> {
    let lambda = aws_sdk_lambda::Client::new(config);
    let mut v: Vec<String> = lambda
        .list_functions()
        .send()
        .await
        .unwrap()
        .functions()
        .iter()
        .filter_map(|f| f.function_name().map(str::to_string))
        .collect();
    v.sort();
    v
}

pub async fn role_names(config: &aws_config::SdkConfig) -> Vec<String> {
    let iam = aws_sdk_iam::Client::new(config);
    let mut v: Vec<String> = iam
        .list_roles()
        .send()
        .await
        .unwrap()
        .roles()
        .iter()
        .map(|r| r.role_name().to_string())
        .collect();
    v.sort();
    v
}

pub async fn rule_names(config: &aws_config::SdkConfig) -> Vec<String> {
    let events = aws_sdk_eventbridge::Client::new(config);
    let mut v: Vec<String> = events
        .list_rules()
        .send()
        .await
        .unwrap()
        .rules()
        .iter()
        .filter_map(|r| r.name().map(str::to_string))
        .collect();
    v.sort();
    v
}

pub async fn security_group_ids(config: &aws_config::SdkConfig, vpc: &str) -> Vec<String> {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let mut v: Vec<String> = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .unwrap()
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id().map(str::to_string))
        .collect();
    v.sort();
    v
}

/// Everything the installer could change, for before/after comparisons.
pub async fn inventory(
    config: &aws_config::SdkConfig,
    vpc: &str,
) -> (Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
    (
        function_names(config).await,
        role_names(config).await,
        rule_names(config).await,
        security_group_ids(config, vpc).await,
    )
}
