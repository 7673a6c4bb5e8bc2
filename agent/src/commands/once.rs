use std::sync::Arc;

use tokio::sync::Semaphore;

use super::CommandError;
use crate::config::Config;
use crate::lineproto;
use crate::scheduler::{Scheduler, collect_once_each};
use crate::sources::icmp::Pinger;
use crate::telemetry::Metrics;

/// Runs one collection cycle and returns it as line protocol, plus per-device errors.
/// Nothing is written anywhere.
pub async fn once(
    config: &Config,
    device: Option<&str>,
) -> Result<(String, Vec<(String, String)>), CommandError> {
    let devices = match device {
        Some(name) => vec![config.device(name).cloned().ok_or_else(|| {
            CommandError::Usage(format!("no device named {name:?} in the configuration"))
        })?],
        None => config.devices.clone(),
    };
    let pinger = if devices.iter().any(|d| d.icmp.is_some()) {
        Some(Arc::new(Pinger::new(config.agent.icmp_rate)?))
    } else {
        None
    };
    let scheduler = Scheduler {
        alerting: None,
        metrics: Arc::new(Metrics::new(&config.agent.name)),
        sink: None,
        pinger,
        snmp_limit: Arc::new(Semaphore::new(config.agent.concurrency)),
    };
    let mut text = String::new();
    let errors = collect_once_each(&scheduler, &devices, |points| {
        for p in &points {
            lineproto::encode_into(&mut text, p);
        }
    })
    .await;
    Ok((text, errors))
}
