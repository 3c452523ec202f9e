//! Credentials in each account of a fleet: `sts:AssumeRole` on
//! `arn:<partition>:iam::<account>:role/<role-name>`, once per account (the session serves
//! every Region), and what a failure was: denied, throttled, unreachable or another error.

use crate::aws::{ApiError, api_error, error_code};
use anyhow::{Result, anyhow};
use aws_config::{Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use serde::Serialize;

/// The session name the fleet's sessions carry in CloudTrail.
pub const SESSION_NAME: &str = "egress-probe-fleet";

/// Why an account or Region could not be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The role could not be assumed or a call was refused (AccessDenied, …).
    Denied,
    /// Throttled past the retries.
    Throttled,
    /// No AWS answer (name resolution, connection, TLS, timeout).
    Unreachable,
    /// Any other error (bad input, an API error).
    Error,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Denied => "denied",
            FailureKind::Throttled => "throttled",
            FailureKind::Unreachable => "unreachable",
            FailureKind::Error => "error",
        }
    }
}

/// The kind of a failure made by `aws::api_error` (else `Error`).
pub fn classify(e: &anyhow::Error) -> FailureKind {
    let unreachable = e
        .chain()
        .filter_map(|c| c.downcast_ref::<ApiError>())
        .any(|a| a.unreachable);
    if unreachable {
        return FailureKind::Unreachable;
    }
    match error_code(e) {
        Some(
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "UnauthorizedAccess"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "AuthFailure"
            | "AWSOrganizationsNotInUseException"
            | "RegionDisabledException"
            | "OptInRequired",
        ) => FailureKind::Denied,
        Some(
            "Throttling"
            | "ThrottlingException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "SlowDown",
        ) => FailureKind::Throttled,
        _ => FailureKind::Error,
    }
}

/// The operator's identity: account and partition (from sts:GetCallerIdentity).
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: String,
    pub partition: String,
}

pub async fn caller(sts: &aws_sdk_sts::Client) -> Result<Caller> {
    let out = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| api_error("sts:GetCallerIdentity", e))?;
    let account = out
        .account()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("sts:GetCallerIdentity: answer without an account"))?;
    let partition = out
        .arn()
        .and_then(|a| a.split(':').nth(1))
        .filter(|p| p.starts_with("aws"))
        .unwrap_or("aws")
        .to_string();
    Ok(Caller { account, partition })
}

/// The ARN of the fleet role in `account`.
pub fn role_arn(partition: &str, account: &str, role_name: &str) -> String {
    format!("arn:{partition}:iam::{account}:role/{role_name}")
}

/// Assumes `role_arn` with the operator's STS client; the configuration for that account
/// (Region to be set per unit). The session lasts an hour (the STS default).
pub async fn assume(
    base: &SdkConfig,
    sts: &aws_sdk_sts::Client,
    role_arn: &str,
) -> Result<SdkConfig> {
    let out = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(SESSION_NAME)
        .send()
        .await
        .map_err(|e| api_error("sts:AssumeRole", e))
        .map_err(|e| e.context(format!("role {role_arn}")))?;
    let c = out
        .credentials()
        .ok_or_else(|| anyhow!("sts:AssumeRole {role_arn}: answer without credentials"))?;
    let expiry = std::time::SystemTime::try_from(*c.expiration()).ok();
    let creds = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        expiry,
        SESSION_NAME,
    );
    Ok(base
        .clone()
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(creds))
        .build())
}

/// `config` in `region`.
pub fn in_region(config: &SdkConfig, region: &str) -> SdkConfig {
    config
        .clone()
        .into_builder()
        .region(Region::new(region.to_string()))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: Option<&str>, unreachable: bool) -> anyhow::Error {
        anyhow::Error::new(ApiError::for_tests(
            "sts:AssumeRole",
            code.map(str::to_string),
            unreachable,
        ))
        .context("role arn:aws:iam::111111111111:role/x")
    }

    #[test]
    fn failures_are_classified_by_code() {
        assert_eq!(
            classify(&api(Some("AccessDenied"), false)),
            FailureKind::Denied
        );
        assert_eq!(
            classify(&api(Some("ThrottlingException"), false)),
            FailureKind::Throttled
        );
        assert_eq!(
            classify(&api(Some("Throttling"), false)),
            FailureKind::Throttled
        );
        assert_eq!(classify(&api(None, true)), FailureKind::Unreachable);
        assert_eq!(
            classify(&api(Some("ValidationError"), false)),
            FailureKind::Error
        );
        assert_eq!(classify(&anyhow!("plain")), FailureKind::Error);
    }

    #[test]
    fn role_arns_follow_the_partition() {
        assert_eq!(
            role_arn("aws-cn", "111111111111", "egress-probe-fleet"),
            "arn:aws-cn:iam::111111111111:role/egress-probe-fleet"
        );
    }
}
