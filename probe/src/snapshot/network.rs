//! The network account (R45): the transit gateway's route tables, the egress VPC and its
//! firewall usually live in another account. With a role to assume there, the reader uses
//! a second set of clients whose credentials come from `sts:AssumeRole`.
//!
//! The role is assumed once, explicitly, before the first call in that account, so a
//! refusal becomes one `sts:AssumeRole` gap naming the role's account instead of a
//! connection error on every later call. The credentials are kept until 5 minutes before
//! they expire.

use super::SnapshotError;
use super::classify;
use crate::model::SnapshotGap;
use aws_config::SdkConfig;
use aws_config::identity::IdentityCache;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The name the role's sessions carry in CloudTrail.
pub const SESSION_NAME: &str = "egress-probe";
/// Credentials closer than this to their expiry are renewed.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// The account of an IAM role ARN, or an error naming what to fix.
pub fn role_account(arn: &str) -> Result<String, SnapshotError> {
    let bad = |why: &str| SnapshotError::InvalidNetworkRole {
        arn: arn.to_string(),
        reason: why.to_string(),
    };
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() != 6 || parts[0] != "arn" || !parts[1].starts_with("aws") {
        return Err(bad("expected arn:aws:iam::<account>:role/<name>"));
    }
    if parts[2] != "iam" {
        return Err(bad("not an IAM ARN (the service must be `iam`)"));
    }
    let account = parts[4];
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the account must be 12 digits"));
    }
    if !parts[5].starts_with("role/") || parts[5].len() <= "role/".len() {
        return Err(bad("not a role (expected …:role/<name>)"));
    }
    Ok(account.to_string())
}

/// Credentials from the assumed role, kept for reuse.
#[derive(Debug)]
struct RoleCredentials {
    provider: AssumeRoleProvider,
    cached: tokio::sync::Mutex<Option<Credentials>>,
}

impl RoleCredentials {
    /// The kept credentials, or new ones (`true` when STS was called).
    async fn get(&self) -> Result<(Credentials, bool), CredentialsError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            let fresh = c
                .expiry()
                .is_none_or(|e| e > SystemTime::now() + RENEW_BEFORE);
            if fresh {
                return Ok((c.clone(), false));
            }
        }
        let creds = self.provider.provide_credentials().await?;
        *cached = Some(creds.clone());
        Ok((creds, true))
    }
}

#[derive(Debug, Clone)]
struct Handle(Arc<RoleCredentials>);

impl ProvideCredentials for Handle {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move { self.0.get().await.map(|(c, _)| c) })
    }
}

/// Clients in the network account, through the assumed role.
#[derive(Debug, Clone)]
pub struct NetworkAccess {
    pub role_arn: String,
    /// The role's account (from its ARN).
    pub account: String,
    pub ec2: aws_sdk_ec2::Client,
    pub networkfirewall: aws_sdk_networkfirewall::Client,
    credentials: Handle,
}

impl NetworkAccess {
    /// Builds the clients; nothing is called until `assume`.
    pub async fn new(base: &SdkConfig, role_arn: &str) -> Result<Self, SnapshotError> {
        let account = role_account(role_arn)?;
        // The provider needs a clock; a hand-built configuration may lack one.
        let base = match base.time_source() {
            Some(_) => base.clone(),
            None => base
                .clone()
                .into_builder()
                .time_source(aws_smithy_async::time::SharedTimeSource::default())
                .build(),
        };
        let base = &base;
        let provider = AssumeRoleProvider::builder(role_arn)
            .session_name(SESSION_NAME)
            .configure(base)
            .build()
            .await;
        let credentials = Handle(Arc::new(RoleCredentials {
            provider,
            cached: tokio::sync::Mutex::new(None),
        }));
        let config = base
            .clone()
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials.clone()))
            // The handle keeps the credentials itself.
            .identity_cache(IdentityCache::no_cache())
            .build();
        Ok(Self {
            role_arn: role_arn.to_string(),
            account,
            ec2: aws_sdk_ec2::Client::new(&config),
            networkfirewall: aws_sdk_networkfirewall::Client::new(&config),
            credentials,
        })
    }

    /// Assumes the role (or reuses its credentials). `Ok(true)` when STS was called; a
    /// refusal is the `sts:AssumeRole` gap, in the role's account.
    pub async fn assume(&self) -> Result<bool, (SnapshotGap, bool)> {
        match self.credentials.0.get().await {
            Ok((_, called)) => Ok(called),
            Err(err) => Err((self.gap(&err), true)),
        }
    }

    fn gap(&self, err: &CredentialsError) -> SnapshotGap {
        let sdk = std::error::Error::source(err)
            .and_then(|s| s.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>());
        let mut gap = match sdk {
            Some(e) => classify::gap(super::call::ASSUME_ROLE, e),
            None => SnapshotGap {
                call: super::call::ASSUME_ROLE.to_string(),
                kind: crate::model::GapKind::Error,
                reason: aws_smithy_types::error::display::DisplayErrorContext(err).to_string(),
                account: None,
            },
        };
        gap.reason = format!("{} (role {})", gap.reason, self.role_arn);
        gap.account = Some(self.account.clone());
        gap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_are_checked_with_a_reason() {
        assert_eq!(
            role_account("arn:aws:iam::222222222222:role/egress-probe-network").unwrap(),
            "222222222222"
        );
        assert_eq!(
            role_account("arn:aws-cn:iam::222222222222:role/path/r").unwrap(),
            "222222222222"
        );
        for (arn, why) in [
            ("222222222222", "expected arn:aws:iam"),
            ("arn:aws:sts::222222222222:role/r", "service must be `iam`"),
            ("arn:aws:iam::2222:role/r", "12 digits"),
            ("arn:aws:iam::222222222222:user/u", "not a role"),
            ("arn:aws:iam::222222222222:role/", "not a role"),
        ] {
            let err = role_account(arn).unwrap_err().to_string();
            assert!(err.contains(why) && err.contains(arn), "{arn}: {err}");
        }
    }
}
