//! Why a call failed: the pure classifier over (error code, HTTP status, failure kind), and
//! the one place that turns an `SdkError` into a `SnapshotGap`.

use crate::model::{GapKind, SnapshotGap};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Which `SdkError` variant the failure was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The service answered with an error (it may not carry a code: moto's HTML 500s).
    Service,
    /// An answer came but could not be read.
    Response,
    /// The attempt timed out.
    Timeout,
    /// The request could not be sent (DNS, connect, TLS).
    Dispatch,
    /// The request could not be built.
    Construction,
}

const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthFailure",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "OptInRequired",
];

const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "SlowDown",
    "EC2ThrottledException",
    "PriorRequestNotComplete",
];

const UNSUPPORTED: &[&str] = &[
    "InvalidAction",
    "UnknownOperation",
    "UnknownOperationException",
    "NotImplemented",
    "UnsupportedOperation",
    "UnsupportedOperationException",
    "InvalidQueryParameter",
];

/// Classifies a failed call. Pure: one row per case in the tests below.
pub fn classify(code: Option<&str>, status: Option<u16>, kind: FailureKind) -> GapKind {
    match kind {
        FailureKind::Timeout | FailureKind::Dispatch => return GapKind::Unreachable,
        FailureKind::Construction => return GapKind::Error,
        FailureKind::Service | FailureKind::Response => {}
    }
    if let Some(code) = code.filter(|c| !c.is_empty()) {
        if DENIED.contains(&code) {
            return GapKind::Denied;
        }
        if THROTTLED.contains(&code) {
            return GapKind::Throttled;
        }
        if UNSUPPORTED.contains(&code) {
            return GapKind::Unsupported;
        }
        return match status {
            Some(429) => GapKind::Throttled,
            _ => GapKind::Error,
        };
    }
    match status {
        Some(403) => GapKind::Denied,
        Some(429) => GapKind::Throttled,
        // No AWS error code at all: the endpoint does not speak this API (moto answers
        // unimplemented actions and filters with an HTML 500), or it is not there.
        Some(404 | 405 | 500 | 501) => GapKind::Unsupported,
        Some(502 | 504) => GapKind::Unreachable,
        _ => GapKind::Error,
    }
}

/// The failure kind, error code and HTTP status of an `SdkError`.
pub fn parts<E, R>(err: &SdkError<E, R>) -> (FailureKind, Option<&str>, Option<u16>)
where
    E: ProvideErrorMetadata,
    R: HasStatus,
{
    let kind = match err {
        SdkError::ConstructionFailure(_) => FailureKind::Construction,
        SdkError::TimeoutError(_) => FailureKind::Timeout,
        SdkError::DispatchFailure(_) => FailureKind::Dispatch,
        SdkError::ResponseError(_) => FailureKind::Response,
        SdkError::ServiceError(_) => FailureKind::Service,
        _ => FailureKind::Response,
    };
    let status = err.raw_response().map(HasStatus::status_code);
    (kind, err.code(), status)
}

/// A raw response with an HTTP status.
pub trait HasStatus {
    fn status_code(&self) -> u16;
}

impl HasStatus for HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

const REASON_MAX: usize = 300;

/// The error as the API reported it: `Code: message`, else the status and error chain.
pub fn reason<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HasStatus + std::fmt::Debug + 'static,
{
    let (kind, code, status) = parts(err);
    let text = match (code, err.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_string(),
        _ => {
            match (kind, status) {
                // The raw response (often an HTML page) says nothing more: keep the reason
                // short enough to read in a report.
                (
                    FailureKind::Service | FailureKind::Response,
                    Some(status @ (404 | 500 | 501)),
                ) => {
                    format!(
                        "HTTP {status} without an AWS error code: this endpoint does not implement the action or filter"
                    )
                }
                (FailureKind::Service | FailureKind::Response, Some(status)) => {
                    format!("HTTP {status} without an AWS error code")
                }
                // Transport failures in words, never a debug dump.
                _ => crate::aws::error_message(err, status),
            }
        }
    };
    truncate(text, REASON_MAX)
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// The gap a failed call leaves in the snapshot.
pub fn gap<E, R>(call: &str, err: &SdkError<E, R>) -> SnapshotGap
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HasStatus + std::fmt::Debug + 'static,
{
    let (kind, code, status) = parts(err);
    SnapshotGap {
        call: call.to_string(),
        kind: classify(code, status, kind),
        reason: reason(err),
        account: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FailureKind::*;
    use GapKind::*;

    #[test]
    fn classifier_table() {
        let rows: &[(Option<&str>, Option<u16>, FailureKind, GapKind)] = &[
            // Denied (IAM).
            (Some("UnauthorizedOperation"), Some(403), Service, Denied),
            (Some("AccessDenied"), Some(403), Service, Denied),
            (Some("AccessDeniedException"), Some(403), Service, Denied),
            (Some("AuthFailure"), Some(401), Service, Denied),
            (None, Some(403), Service, Denied),
            // Throttled past retries.
            (Some("RequestLimitExceeded"), Some(503), Service, Throttled),
            (Some("Throttling"), Some(400), Service, Throttled),
            (Some("ThrottlingException"), Some(400), Service, Throttled),
            (
                Some("TooManyRequestsException"),
                Some(429),
                Service,
                Throttled,
            ),
            (Some("SomethingNew"), Some(429), Service, Throttled),
            (None, Some(429), Response, Throttled),
            // Unsupported here.
            (Some("InvalidAction"), Some(400), Service, Unsupported),
            (
                Some("UnknownOperationException"),
                Some(400),
                Service,
                Unsupported,
            ),
            (Some("NotImplemented"), Some(501), Service, Unsupported),
            (None, Some(500), Service, Unsupported), // moto: HTML 500, no code
            (None, Some(500), Response, Unsupported),
            (None, Some(501), Service, Unsupported),
            (None, Some(404), Service, Unsupported),
            // Unreachable.
            (None, None, Timeout, Unreachable),
            (None, None, Dispatch, Unreachable),
            (Some("AccessDenied"), None, Dispatch, Unreachable),
            (None, Some(502), Response, Unreachable),
            (None, Some(504), Service, Unreachable),
            // Anything else.
            (Some("InternalError"), Some(500), Service, Error),
            (Some("InvalidParameterValue"), Some(400), Service, Error),
            (Some("InvalidVpcID.NotFound"), Some(400), Service, Error),
            (None, None, Construction, Error),
            (None, Some(400), Service, Error),
            (None, None, Response, Error),
            (Some(""), Some(500), Service, Unsupported),
        ];
        for (code, status, kind, want) in rows {
            assert_eq!(
                classify(*code, *status, *kind),
                *want,
                "classify({code:?}, {status:?}, {kind:?})"
            );
        }
    }

    #[test]
    fn truncates_on_char_boundary() {
        let long = "é".repeat(400);
        let cut = truncate(long, 301);
        assert!(cut.ends_with('…'));
        assert!(cut.len() <= 301 + '…'.len_utf8());
        assert_eq!(truncate("short".into(), 300), "short");
    }
}
