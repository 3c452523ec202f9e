//! SDK clients and the reads every command shares (subnets, probe functions, rules). SDK
//! types stop here and in `commands/`; plans and output see plain values.

use crate::plan::{
    ExistingFunction, ExistingRule, MANAGED_TAG, PREFIX, RULE_TARGET_ID, SubnetInfo,
};
use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_ec2::types::Filter;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::collections::{BTreeMap, HashMap};

/// One client per service, built from one `SdkConfig`.
#[derive(Debug, Clone)]
pub struct Clients {
    pub config: aws_config::SdkConfig,
    pub region: String,
    pub ec2: aws_sdk_ec2::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub iam: aws_sdk_iam::Client,
    pub events: aws_sdk_eventbridge::Client,
}

impl Clients {
    pub fn new(config: aws_config::SdkConfig) -> Result<Self> {
        let region = config
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| anyhow!("no AWS Region: pass --region or set AWS_REGION"))?;
        Ok(Self {
            ec2: aws_sdk_ec2::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            events: aws_sdk_eventbridge::Client::new(&config),
            region,
            config,
        })
    }

    /// Fails early, in one line, when no credentials can be found.
    pub async fn check_credentials(&self) -> Result<()> {
        use aws_credential_types::provider::ProvideCredentials;
        let Some(provider) = self.config.credentials_provider() else {
            bail!("no AWS credentials: set AWS_PROFILE (or --profile) or AWS_ACCESS_KEY_ID");
        };
        provider.provide_credentials().await.map_err(|e| {
            tracing::debug!(
                "credentials: {}",
                aws_sdk_lambda::error::DisplayErrorContext(&e)
            );
            anyhow!(
                "no AWS credentials found: set AWS_PROFILE (or --profile) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (details with -vv)"
            )
        })?;
        Ok(())
    }

    pub fn snapshot_clients(&self) -> egress_probe::snapshot::Clients {
        egress_probe::snapshot::Clients::new(&self.config)
    }

    /// The snapshot clients, with a role to assume in the network account when given (R45).
    pub async fn snapshot_clients_with(
        &self,
        network_role: Option<&str>,
    ) -> Result<egress_probe::snapshot::Clients> {
        let clients = self.snapshot_clients();
        match network_role {
            Some(arn) => Ok(clients.with_network_role(&self.config, arn).await?),
            None => Ok(clients),
        }
    }
}

/// The error code of an SDK error (`ResourceNotFoundException`, `NoSuchEntity`, …).
pub fn code<E: ProvideErrorMetadata>(e: &E) -> Option<&str> {
    e.code()
}

/// One line: the call, the code and the message, or the transport failure.
pub fn api_error<E>(
    call: &str,
    e: aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let msg = match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        _ => aws_sdk_lambda::error::DisplayErrorContext(&e).to_string(),
    };
    let hint = match e.code() {
        Some(
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "AuthFailure",
        ) => " (check the credentials and the IAM permissions of the caller)",
        _ => "",
    };
    anyhow!("{call} failed: {msg}{hint}")
}

fn filter(name: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
    let mut b = Filter::builder().name(name);
    for v in values {
        b = b.values(v.into());
    }
    b.build()
}

fn subnet_info(s: &aws_sdk_ec2::types::Subnet) -> Option<SubnetInfo> {
    Some(SubnetInfo {
        id: s.subnet_id()?.to_string(),
        vpc_id: s.vpc_id()?.to_string(),
        availability_zone: s.availability_zone()?.to_string(),
        availability_zone_id: s.availability_zone_id().map(str::to_string),
    })
}

/// DescribeSubnets with filters (paginated), as `SubnetInfo`.
pub async fn describe_subnets(clients: &Clients, filters: Vec<Filter>) -> Result<Vec<SubnetInfo>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let resp = clients
            .ec2
            .describe_subnets()
            .set_filters(Some(filters.clone()))
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| api_error("ec2:DescribeSubnets", e))?;
        out.extend(resp.subnets().iter().filter_map(subnet_info));
        token = resp.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    out.sort_by(|a, b| {
        (&a.vpc_id, &a.availability_zone, &a.id).cmp(&(&b.vpc_id, &b.availability_zone, &b.id))
    });
    Ok(out)
}

/// The subnets with these IDs; an ID that does not exist is named in the error.
pub async fn subnets_by_id(clients: &Clients, ids: &[String]) -> Result<Vec<SubnetInfo>> {
    let found = describe_subnets(clients, vec![filter("subnet-id", ids.iter().cloned())]).await?;
    if let Some(missing) = ids.iter().find(|id| !found.iter().any(|s| &s.id == *id)) {
        bail!(
            "subnet {missing} not found in {}: check the ID, or pass --region for its Region",
            clients.region
        );
    }
    Ok(found)
}

pub fn vpc_filter(vpc: &str) -> Filter {
    filter("vpc-id", [vpc])
}
pub fn tag_filter(key: &str, value: &str) -> Filter {
    filter(&format!("tag:{key}"), [value])
}
pub fn subnet_id_filter(ids: &[String]) -> Filter {
    filter("subnet-id", ids.iter().cloned())
}

/// Checks a VPC exists in this Region (a VPC of another Region is "not found" here).
pub async fn check_vpc(clients: &Clients, vpc: &str) -> Result<()> {
    let resp = clients
        .ec2
        .describe_vpcs()
        .filters(filter("vpc-id", [vpc]))
        .send()
        .await
        .map_err(|e| api_error("ec2:DescribeVpcs", e))?;
    if resp.vpcs().is_empty() {
        bail!(
            "VPC {vpc} not found in {}: check the ID, or pass --region for its Region",
            clients.region
        );
    }
    Ok(())
}

/// Security groups by ID → (id, vpc id); a missing one is named in the error.
pub async fn security_groups(clients: &Clients, ids: &[String]) -> Result<Vec<(String, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let resp = clients
        .ec2
        .describe_security_groups()
        .filters(filter("group-id", ids.iter().cloned()))
        .send()
        .await
        .map_err(|e| api_error("ec2:DescribeSecurityGroups", e))?;
    let found: Vec<(String, String)> = resp
        .security_groups()
        .iter()
        .filter_map(|g| Some((g.group_id()?.to_string(), g.vpc_id()?.to_string())))
        .collect();
    if let Some(missing) = ids.iter().find(|id| !found.iter().any(|(g, _)| g == *id)) {
        bail!(
            "security group {missing} not found in {}: check --security-group",
            clients.region
        );
    }
    Ok(found)
}

/// GetFunction → `ExistingFunction`; `None` when it does not exist.
pub async fn get_function(clients: &Clients, name: &str) -> Result<Option<ExistingFunction>> {
    let resp = match clients
        .lambda
        .get_function()
        .function_name(name)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) if code(&e) == Some("ResourceNotFoundException") => return Ok(None),
        Err(e) => return Err(api_error("lambda:GetFunction", e)),
    };
    let Some(c) = resp.configuration() else {
        bail!("lambda:GetFunction {name}: answer without a configuration");
    };
    let tags: BTreeMap<String, String> = resp
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok(Some(existing_from_configuration(c, tags)))
}

pub fn existing_from_configuration(
    c: &aws_sdk_lambda::types::FunctionConfiguration,
    tags: BTreeMap<String, String>,
) -> ExistingFunction {
    let vpc = c.vpc_config();
    ExistingFunction {
        name: c.function_name().unwrap_or_default().to_string(),
        arn: c.function_arn().unwrap_or_default().to_string(),
        tags,
        role: c.role().unwrap_or_default().to_string(),
        subnet_ids: vpc.map(|v| v.subnet_ids().to_vec()).unwrap_or_default(),
        security_group_ids: vpc
            .map(|v| v.security_group_ids().to_vec())
            .unwrap_or_default(),
        environment: c
            .environment()
            .and_then(|e| e.variables())
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        architectures: c
            .architectures()
            .iter()
            .map(|a| a.as_str().to_string())
            .collect(),
        code_sha256: c.code_sha256().unwrap_or_default().to_string(),
        memory_mb: c.memory_size(),
        timeout_s: c.timeout(),
        runtime: c.runtime().map(|r| r.as_str().to_string()),
        handler: c.handler().map(str::to_string),
        state: c.state().map(|s| s.as_str().to_string()),
        last_update_status: c.last_update_status().map(|s| s.as_str().to_string()),
        version: c.version().map(str::to_string),
    }
}

/// Every function whose name starts with `egress-probe-` and that carries the managed tag.
pub async fn managed_functions(clients: &Clients) -> Result<Vec<ExistingFunction>> {
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let resp = clients
            .lambda
            .list_functions()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| api_error("lambda:ListFunctions", e))?;
        for f in resp.functions() {
            if let Some(n) = f.function_name().filter(|n| n.starts_with(PREFIX)) {
                names.push(n.to_string());
            }
        }
        marker = resp.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    let mut set = tokio::task::JoinSet::new();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    for name in names {
        let clients = clients.clone();
        let sem = sem.clone();
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            get_function(&clients, &name).await
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Some(f) = r.context("reading a function")??
            && f.is_managed()
        {
            out.push(f);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Every function of the Region (for `--lambda-subnets`), without tags.
pub async fn all_function_vpc_configs(clients: &Clients) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let resp = clients
            .lambda
            .list_functions()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| api_error("lambda:ListFunctions", e))?;
        for f in resp.functions() {
            let name = f.function_name().unwrap_or_default().to_string();
            let subnets = f
                .vpc_config()
                .map(|v| v.subnet_ids().to_vec())
                .unwrap_or_default();
            out.push((name, subnets));
        }
        marker = resp.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    Ok(out)
}

/// DescribeRule + tags + the egress-probe target; `None` when the rule does not exist.
/// Whether IAM role `name` carries egress-probe's managed tag.
pub async fn role_is_managed(clients: &Clients, name: &str) -> Result<bool> {
    let tags = clients
        .iam
        .list_role_tags()
        .role_name(name)
        .send()
        .await
        .map_err(|e| api_error("iam:ListRoleTags", e))?;
    Ok(tags
        .tags()
        .iter()
        .any(|t| t.key() == crate::plan::MANAGED_TAG && t.value() == "true"))
}

pub async fn get_rule(clients: &Clients, name: &str) -> Result<Option<ExistingRule>> {
    let rule = match clients.events.describe_rule().name(name).send().await {
        Ok(r) => r,
        Err(e) if code(&e) == Some("ResourceNotFoundException") => return Ok(None),
        Err(e) => return Err(api_error("events:DescribeRule", e)),
    };
    let arn = rule.arn().unwrap_or_default().to_string();
    let tags = clients
        .events
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(|e| api_error("events:ListTagsForResource", e))?;
    let managed = tags
        .tags()
        .iter()
        .any(|t| t.key() == MANAGED_TAG && t.value() == "true");
    let targets = clients
        .events
        .list_targets_by_rule()
        .rule(name)
        .send()
        .await
        .map_err(|e| api_error("events:ListTargetsByRule", e))?;
    let target = targets
        .targets()
        .iter()
        .find(|t| t.id() == RULE_TARGET_ID)
        .map(|t| (t.arn().to_string(), t.input().map(str::to_string)));
    Ok(Some(ExistingRule {
        name: name.to_string(),
        arn,
        managed,
        schedule: rule.schedule_expression().map(str::to_string),
        enabled: rule.state().map(|s| s.as_str()) == Some("ENABLED"),
        target,
    }))
}

/// The IDs of the target on a rule (for removal before DeleteRule).
pub async fn rule_target_ids(clients: &Clients, name: &str) -> Result<Vec<String>> {
    let t = clients
        .events
        .list_targets_by_rule()
        .rule(name)
        .send()
        .await
        .map_err(|e| api_error("events:ListTargetsByRule", e))?;
    Ok(t.targets().iter().map(|t| t.id().to_string()).collect())
}

/// Removes a managed rule: its targets, then the rule.
pub async fn delete_rule(clients: &Clients, name: &str) -> Result<()> {
    let ids = rule_target_ids(clients, name).await?;
    if !ids.is_empty() {
        clients
            .events
            .remove_targets()
            .rule(name)
            .set_ids(Some(ids))
            .send()
            .await
            .map_err(|e| api_error("events:RemoveTargets", e))?;
    }
    clients
        .events
        .delete_rule()
        .name(name)
        .send()
        .await
        .map_err(|e| api_error("events:DeleteRule", e))?;
    Ok(())
}

/// The account ID from an ARN (`arn:aws:iam::123456789012:role/x`).
pub fn account_of_arn(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// Decodes an IAM policy document (URL-encoded JSON in real AWS, plain in moto).
pub fn decode_policy(doc: &str) -> Option<serde_json::Value> {
    if let Ok(v) = serde_json::from_str(doc) {
        return Some(v);
    }
    let bytes = doc.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    serde_json::from_slice(&out).ok()
}

/// Tags as a HashMap (Lambda's shape).
pub fn tag_map(tags: &BTreeMap<String, String>) -> HashMap<String, String> {
    tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_url_encoded_policies() {
        let v = decode_policy("%7B%22Version%22%3A%222012-10-17%22%7D").unwrap();
        assert_eq!(v["Version"], "2012-10-17");
        assert_eq!(decode_policy(r#"{"a":1}"#).unwrap()["a"], 1);
        assert!(decode_policy("%7").is_none());
    }

    #[test]
    fn account_from_arn() {
        assert_eq!(
            account_of_arn("arn:aws:iam::123456789012:role/x"),
            Some("123456789012")
        );
        assert_eq!(account_of_arn("nonsense"), None);
    }
}
