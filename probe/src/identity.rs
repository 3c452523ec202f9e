//! Where this probe runs: the function's own settings plus the AZ ID from the Lambda
//! metadata endpoint (fact sheet §D.5), when it exists. Never fails the invocation.

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use std::time::Duration;

/// Path of the execution-environment metadata (fact sheet §D.5).
pub const METADATA_PATH: &str = "/2026-01-15/metadata/execution-environment";

/// Asks the metadata endpoint for the AZ ID. `api` is `AWS_LAMBDA_METADATA_API`
/// (`host:port`), `token` is `AWS_LAMBDA_METADATA_TOKEN` (never logged or reported).
/// Returns `Err` with a short reason (for the report) when it is absent or fails.
pub async fn metadata_az_id(api: &str, token: &str, timeout: Duration) -> Result<String, String> {
    match tokio::time::timeout(timeout, fetch(api, token)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "metadata endpoint {api} did not answer within {timeout:?}"
        )),
    }
}

async fn fetch(api: &str, token: &str) -> Result<String, String> {
    let stream = tokio::net::TcpStream::connect(api)
        .await
        .map_err(|e| format!("cannot connect to metadata endpoint {api}: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("metadata endpoint handshake: {e}"))?;
    let conn_task = tokio::spawn(conn);
    let req = http::Request::get(METADATA_PATH)
        .header(http::header::HOST, api)
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("metadata request: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("metadata request failed: {e}"))?;
    let status = resp.status();
    let body = Limited::new(resp.into_body(), 64 * 1024)
        .collect()
        .await
        .map_err(|e| format!("metadata response body: {e}"))?
        .to_bytes();
    conn_task.abort();
    if !status.is_success() {
        return Err(format!(
            "metadata endpoint answered HTTP {}",
            status.as_u16()
        ));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("metadata response is not JSON: {e}"))?;
    v.get("AvailabilityZoneID")
        .and_then(|z| z.as_str())
        .map(str::to_string)
        .ok_or_else(|| "metadata response has no AvailabilityZoneID".to_string())
}
