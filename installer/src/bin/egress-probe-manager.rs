//! The manager's Lambda bootstrap (issue 14, `stackset.yaml`): every invocation — its
//! schedule, or CloudTrail's CreateSubnet/DeleteSubnet through EventBridge — runs one pass
//! of `egress_probe_installer::manager::reconcile` with the function's own credentials, logs
//! the pass as one JSON line and returns it. A pass that cannot run fails the invocation
//! (CloudWatch counts it in the function's Errors metric).

use egress_probe_installer::aws::Clients;
use egress_probe_installer::manager::{self, ManagerConfig};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EGRESS_PROBE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_target(false)
        .without_time()
        .init();
    // Settings are read once: a bad setting fails every invocation with its name.
    let config = ManagerConfig::from_env(|k| std::env::var(k).ok());
    let sdk = egress_probe::aws::load_config(&egress_probe::aws::AwsOptions::default()).await;
    // Read once and kept for the life of the execution environment.
    let config: &'static _ = Box::leak(Box::new(config));
    let sdk: &'static _ = Box::leak(Box::new(sdk));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let config = config
            .as_ref()
            .map_err(|e| Error::from(format!("manager settings: {e:#}")))?;
        let clients = Clients::new(sdk.clone()).map_err(|e| Error::from(format!("{e:#}")))?;
        let zip = config
            .load_zip()
            .map_err(|e| Error::from(format!("{e:#}")))?;
        let trigger = manager::trigger(&event.payload);
        let pass = manager::reconcile(&clients, config, zip, trigger)
            .await
            .map_err(|e| Error::from(format!("{e:#}")))?;
        let line = serde_json::to_value(&pass).unwrap_or(Value::Null);
        println!("{}", serde_json::json!({"egress_probe_manager": line}));
        Ok::<Value, Error>(line)
    }))
    .await
}
