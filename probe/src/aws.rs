//! AWS SDK configuration shared by the probe and the installer: rustls with ring (no
//! aws-lc build), bounded retries and timeouts, and `AWS_ENDPOINT_URL` honoured.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls;
use std::time::Duration;

/// Options for building an `SdkConfig`.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// Region override; else the environment / profile chain.
    pub region: Option<String>,
    /// Named profile from the shared config files.
    pub profile: Option<String>,
    /// Endpoint override (otherwise `AWS_ENDPOINT_URL` is read by the SDK itself).
    pub endpoint_url: Option<String>,
    /// Total attempts per request, including the first (SDK standard retry, with backoff).
    pub max_attempts: Option<u32>,
    /// Per-attempt timeout.
    pub attempt_timeout: Option<Duration>,
    /// Connect timeout.
    pub connect_timeout: Option<Duration>,
}

/// Builds the SDK configuration. The HTTP client uses rustls with the ring provider and
/// the platform's trust store.
pub async fn load_config(options: &AwsOptions) -> SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .retry_config(RetryConfig::standard().with_max_attempts(options.max_attempts.unwrap_or(3)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(options.connect_timeout.unwrap_or(Duration::from_secs(3)))
                .operation_attempt_timeout(
                    options.attempt_timeout.unwrap_or(Duration::from_secs(10)),
                )
                .build(),
        );
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}
