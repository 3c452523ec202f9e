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

/// Words for an SDK error, never a Rust debug dump: `Code: message` when the service sent
/// an AWS error, else what went wrong on the way (no answer in time, a host name that does
/// not resolve, a refused connection, a rejected certificate, an HTTP status without an AWS
/// error code) and what to check. `status` is the HTTP status of the answer, if any. The
/// installer's messages and the snapshot's gap reasons both come from here.
pub fn error_message<E, R>(
    err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
    status: Option<u16>,
) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    match (err.code().filter(|c| !c.is_empty()), err.message()) {
        (Some(code), Some(msg)) if !msg.is_empty() => return format!("{code}: {msg}"),
        (Some(code), _) => return code.to_string(),
        _ => {}
    }
    match err {
        SdkError::TimeoutError(_) => {
            "no answer from the endpoint in time: check the network path (firewall, proxy) and the Region".to_string()
        }
        SdkError::DispatchFailure(d) => {
            let chain = error_chain(err);
            transport_words(&chain, d.is_timeout())
        }
        SdkError::ConstructionFailure(_) => {
            format!("the request could not be built: {}", error_chain(err))
        }
        _ => match status {
            Some(s) => format!("HTTP {s} without an AWS error code: {}", status_words(s)),
            None => format!("an answer that could not be read: {}", error_chain(err)),
        },
    }
}

/// What an HTTP status without an AWS error code most likely means.
fn status_words(status: u16) -> &'static str {
    match status {
        403 => "the endpoint refused the request (check the credentials and --endpoint-url)",
        404 | 405 | 501 => "this endpoint does not implement the action (check --endpoint-url)",
        500 => "the service failed or does not implement the action; retry later",
        502..=504 => "a proxy or the service is unavailable; retry later",
        _ => "the endpoint did not answer as the AWS API does (check --endpoint-url)",
    }
}

/// The Display texts of an error and its sources, joined with `: ` (a text already
/// contained in the previous one is skipped). Never the Debug form.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        if !text.is_empty() && !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// A failure to send a request, in words, from its error chain.
fn transport_words(chain: &str, timed_out: bool) -> String {
    let lower = chain.to_ascii_lowercase();
    let has = |needles: &[&str]| {
        needles
            .iter()
            .any(|n| lower.contains(&n.to_ascii_lowercase()))
    };
    if has(&[
        "dns error",
        "failed to lookup address",
        "name or service not known",
        "no such host",
        "nodename nor servname",
        "temporary failure in name resolution",
    ]) {
        return "the endpoint's host name does not resolve: an unknown Region (check --region or AWS_REGION), a wrong --endpoint-url, or no DNS here".to_string();
    }
    if let Some(words) = certificate_words(chain) {
        return format!(
            "the endpoint's TLS certificate was rejected: {words}; check --endpoint-url, or the proxy that intercepts TLS (its CA must be trusted)"
        );
    }
    if has(&["connection refused"]) {
        return "the endpoint refused the connection: check --endpoint-url (or AWS_ENDPOINT_URL) and any proxy".to_string();
    }
    if timed_out || has(&["timed out", "timeout"]) {
        return "the connection to the endpoint timed out: check the network path (firewall, proxy) and the Region".to_string();
    }
    if has(&[
        "connection reset",
        "broken pipe",
        "connection closed",
        "incomplete message",
    ]) {
        return "the connection to the endpoint was cut before an answer: retry, and check any proxy".to_string();
    }
    format!(
        "the request could not be sent ({chain}): check the network, the Region and --endpoint-url"
    )
}

/// A rejected certificate in words (rustls names its reasons like `CaUsedAsEndEntity`).
fn certificate_words(chain: &str) -> Option<&'static str> {
    const REASONS: &[(&[&str], &str)] = &[
        (
            &["CaUsedAsEndEntity"],
            "the server presented a CA certificate as its own certificate",
        ),
        (
            &["UnknownIssuer", "unknown issuer"],
            "it was issued by an authority this machine does not trust",
        ),
        (
            &["NotValidForName", "not valid for name"],
            "it is not valid for the endpoint's host name",
        ),
        (
            &["NotValidYet", "not valid yet"],
            "it is not valid yet (check the clock)",
        ),
        (&["Expired", "expired"], "it has expired"),
        (&["Revoked", "revoked"], "it was revoked"),
        (
            &[
                "BadSignature",
                "BadEncoding",
                "bad signature",
                "bad encoding",
            ],
            "it is malformed or its signature is wrong",
        ),
        (&["InvalidPurpose"], "it is not meant for a TLS server"),
        (
            &["SelfSigned", "self-signed", "self signed"],
            "it is self-signed",
        ),
    ];
    let lower = chain.to_ascii_lowercase();
    if !(lower.contains("certificate") || lower.contains("tls") || lower.contains("webpki")) {
        return None;
    }
    for (needles, words) in REASONS {
        if needles.iter().any(|n| chain.contains(n)) {
            return Some(words);
        }
    }
    lower
        .contains("certificate")
        .then_some("the server's certificate could not be verified")
}

#[cfg(test)]
mod error_tests {
    use super::*;

    #[test]
    fn transport_failures_in_words() {
        let dns = transport_words(
            "dispatch failure: io error: client error (Connect): dns error: failed to lookup address information: Name or service not known",
            false,
        );
        assert!(
            dns.contains("does not resolve") && dns.contains("--region"),
            "{dns}"
        );
        let cert = transport_words(
            "dispatch failure: other error: client error (Connect): invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))",
            false,
        );
        assert!(
            cert.contains("a CA certificate as its own certificate"),
            "{cert}"
        );
        assert!(!cert.contains("OtherError"), "{cert}");
        let refused = transport_words(
            "dispatch failure: io error: client error (Connect): tcp connect error: Connection refused (os error 111)",
            false,
        );
        assert!(refused.contains("refused the connection"), "{refused}");
        let slow = transport_words("dispatch failure: timeout: client error (Connect)", true);
        assert!(slow.contains("timed out"), "{slow}");
        assert!(status_words(500).contains("retry later"));
        assert!(status_words(404).contains("does not implement"));
    }

    #[test]
    fn chains_skip_repeated_text() {
        #[derive(Debug)]
        struct Outer(Inner);
        #[derive(Debug)]
        struct Inner;
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("dispatch failure")
            }
        }
        impl std::fmt::Display for Inner {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("connection refused")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        impl std::error::Error for Inner {}
        assert_eq!(
            error_chain(&Outer(Inner)),
            "dispatch failure: connection refused"
        );
    }
}
