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
    pub sts: aws_sdk_sts::Client,
}

impl Clients {
    pub fn new(config: aws_config::SdkConfig) -> Result<Self> {
        let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
            anyhow!("no AWS Region: pass --region, set AWS_REGION, or give the profile a region")
        })?;
        Ok(Self {
            ec2: aws_sdk_ec2::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            events: aws_sdk_eventbridge::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
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

    /// The account of the credentials (STS GetCallerIdentity), shown by every mutating
    /// command; the error in words when it cannot be read.
    pub async fn account(&self) -> Result<String> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| api_error("sts:GetCallerIdentity", e))?;
        out.account()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("sts:GetCallerIdentity: answer without an account"))
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

/// A failed AWS call in words: the call, then the AWS error code and message, or what went
/// wrong on the way (see `egress_probe::aws::error_message`), and what to check.
#[derive(Debug, thiserror::Error)]
#[error("{call} failed: {message}{hint}")]
pub struct ApiError {
    pub call: String,
    pub message: String,
    hint: &'static str,
    /// The request never got an AWS answer (name resolution, connection, TLS, timeout).
    pub unreachable: bool,
    /// The AWS error code, when there was one.
    pub code: Option<String>,
}

impl ApiError {
    /// An error as `api_error` makes it, for tests of code that reads the code.
    pub fn for_tests(call: &str, code: Option<String>, unreachable: bool) -> Self {
        ApiError {
            call: call.to_string(),
            message: code.clone().unwrap_or_else(|| "no answer".into()),
            hint: "",
            unreachable,
            code,
        }
    }
}

/// The one conversion of an SDK error into an error message for the installer.
pub fn api_error<E>(
    call: &str,
    e: aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    let status = e.raw_response().map(|r| r.status().as_u16());
    let message = egress_probe::aws::error_message(&e, status);
    let code = e.code().filter(|c| !c.is_empty()).map(str::to_string);
    let hint = match code.as_deref() {
        Some(
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "UnauthorizedAccess"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "AuthFailure",
        ) => {
            " (check the credentials and the IAM permissions of the caller; the README lists the permissions each command needs)"
        }
        Some("ExpiredToken" | "ExpiredTokenException") => {
            " (the session expired: renew the credentials)"
        }
        Some(
            "Throttling"
            | "ThrottlingException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded",
        ) => " (throttled past the retries: retry later, or raise --max-attempts)",
        _ => "",
    };
    let unreachable = matches!(e, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_));
    anyhow::Error::new(ApiError {
        call: call.to_string(),
        message,
        hint,
        unreachable,
        code,
    })
}

/// The AWS error code of a failure made by `api_error`, wherever it is in the chain.
pub fn error_code(e: &anyhow::Error) -> Option<&str> {
    e.chain()
        .find_map(|c| c.downcast_ref::<ApiError>())
        .and_then(|a| a.code.as_deref())
}

/// Whether a profile section named `name` exists in the shared config or credentials
/// file (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/…`). `None` when
/// neither file can be read.
pub fn profile_exists(name: &str) -> Option<bool> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let path = |var: &str, file: &str| {
        std::env::var_os(var)
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(file)))
    };
    let config = path("AWS_CONFIG_FILE", "config").and_then(|p| std::fs::read_to_string(p).ok());
    let creds = path("AWS_SHARED_CREDENTIALS_FILE", "credentials")
        .and_then(|p| std::fs::read_to_string(p).ok());
    if config.is_none() && creds.is_none() {
        return None;
    }
    Some(
        config.is_some_and(|c| profile_names(&c, true).iter().any(|n| n == name))
            || creds.is_some_and(|c| profile_names(&c, false).iter().any(|n| n == name)),
    )
}

/// The profile names of a shared config (`[profile x]`, `[default]`) or credentials
/// (`[x]`) file.
pub fn profile_names(text: &str, config_file: bool) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let inner = l.strip_prefix('[')?.split(']').next()?.trim();
            if !config_file {
                return Some(inner.to_string());
            }
            if inner == "default" {
                return Some(inner.to_string());
            }
            inner
                .strip_prefix("profile")
                .filter(|r| r.starts_with(char::is_whitespace))
                .map(|r| r.trim().to_string())
        })
        .collect()
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

/// The IDs of the targets on a rule (for removal before DeleteRule); none when the rule
/// is already gone.
pub async fn rule_target_ids(clients: &Clients, name: &str) -> Result<Vec<String>> {
    match clients
        .events
        .list_targets_by_rule()
        .rule(name)
        .send()
        .await
    {
        Ok(t) => Ok(t.targets().iter().map(|t| t.id().to_string()).collect()),
        Err(e) if code(&e) == Some("ResourceNotFoundException") => Ok(Vec::new()),
        Err(e) => Err(api_error("events:ListTargetsByRule", e)),
    }
}

/// Removes a managed rule: its targets, then the rule. A rule (or target) already gone —
/// removed by an earlier attempt whose answer was lost — counts as removed.
pub async fn delete_rule(clients: &Clients, name: &str) -> Result<()> {
    let ids = rule_target_ids(clients, name).await?;
    if !ids.is_empty() {
        match clients
            .events
            .remove_targets()
            .rule(name)
            .set_ids(Some(ids))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if code(&e) == Some("ResourceNotFoundException") => return Ok(()),
            Err(e) => return Err(api_error("events:RemoveTargets", e)),
        }
    }
    match clients.events.delete_rule().name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => Err(api_error("events:DeleteRule", e)),
    }
}

/// The `SourceArn` of the Lambda permission statement `sid` on function `name`:
/// `Ok(None)` when the function has no such statement, `Ok(Some(""))` when it has one
/// without a source condition.
pub async fn permission_source(clients: &Clients, name: &str, sid: &str) -> Result<Option<String>> {
    let policy = match clients.lambda.get_policy().function_name(name).send().await {
        Ok(p) => p,
        // No policy at all (or no function): no statement.
        Err(e) if code(&e) == Some("ResourceNotFoundException") => return Ok(None),
        Err(e) => return Err(api_error("lambda:GetPolicy", e)),
    };
    Ok(policy.policy().and_then(|p| statement_source(p, sid)))
}

/// The `AWS:SourceArn` of statement `sid` in a resource policy that lets EventBridge
/// invoke the function; `None` when no such statement exists.
pub fn statement_source(policy: &str, sid: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(policy).ok()?;
    let statements = match &v["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        one @ serde_json::Value::Object(_) => vec![one.clone()],
        _ => return None,
    };
    let s = statements.into_iter().find(|s| s["Sid"] == sid)?;
    let principal_ok = s["Principal"]["Service"] == "events.amazonaws.com"
        || s["Principal"] == "events.amazonaws.com";
    let action_ok = s["Action"] == "lambda:InvokeFunction";
    if !(principal_ok && action_ok && s["Effect"] == "Allow") {
        return Some(String::new());
    }
    Some(
        s["Condition"]["ArnLike"]["AWS:SourceArn"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
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
    fn permission_statements_are_read_by_sid() {
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "other", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                 "Action": "lambda:InvokeFunction", "Resource": "arn:f"},
                {"Sid": "egress-probe-schedule", "Effect": "Allow",
                 "Principal": {"Service": "events.amazonaws.com"},
                 "Action": "lambda:InvokeFunction", "Resource": "arn:f",
                 "Condition": {"ArnLike": {"AWS:SourceArn": "arn:rule"}}}
            ]
        })
        .to_string();
        assert_eq!(
            statement_source(&policy, "egress-probe-schedule").as_deref(),
            Some("arn:rule")
        );
        assert_eq!(statement_source(&policy, "missing"), None);
        // A statement with our Sid that lets someone else in is not ours as it stands.
        assert_eq!(statement_source(&policy, "other").as_deref(), Some(""));
        assert_eq!(statement_source("not json", "x"), None);
    }

    #[test]
    fn profile_names_of_both_files() {
        let config = "[default]\nregion = us-east-1\n[profile dev]\nregion=eu-west-1\n[sso-session s]\n[profilex]\n";
        assert_eq!(profile_names(config, true), vec!["default", "dev"]);
        let creds = "[default]\naws_access_key_id = x\n[ci] # comment\n";
        assert_eq!(profile_names(creds, false), vec!["default", "ci"]);
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
