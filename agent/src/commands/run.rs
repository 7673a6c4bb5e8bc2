use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};

use super::CommandError;
use super::shutdown_signal;
use crate::config::Config;
use crate::point::now_ns;
use crate::scheduler::Scheduler;
use crate::sinks::influxdb::Output;
use crate::sources::icmp::Pinger;
use crate::telemetry::{self, Metrics};

/// Runs the collector until SIGTERM/SIGINT, or for `stop_after` if given. On shutdown,
/// collected points are flushed to the spool; whatever InfluxDB has not acknowledged is
/// sent after the next start. Returns a short summary of what was collected.
pub async fn run(config: Config, stop_after: Option<Duration>) -> Result<String, CommandError> {
    let output = config.output.clone().ok_or_else(|| {
        CommandError::Usage("the configuration has no `output.influxdb`; `run` needs one".into())
    })?;
    let metrics = Arc::new(Metrics::new(&config.agent.name));
    let output = Output::open(&output, &config.spool)?;
    let (batches, bytes, points) = output.spool().stats();
    if batches > 0 {
        tracing::info!(
            batches,
            bytes,
            points,
            "spool holds data from before: backfilling in order"
        );
    }
    if let Some(addr) = &config.agent.listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| CommandError::Listen {
                addr: addr.clone(),
                source,
            })?;
        tokio::spawn(telemetry::serve(listener, metrics.clone()));
    }
    let pinger = if config.devices.iter().any(|d| d.icmp.is_some()) {
        Some(Arc::new(Pinger::new(config.agent.icmp_rate)?))
    } else {
        None
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    // the senders stop only after the shutdown's drain
    let (stop_senders, senders_stop) = watch::channel(false);
    let drain = config
        .output
        .as_ref()
        .map_or(Duration::from_secs(10), |o| o.drain_timeout);
    let output = output.start(metrics.clone(), senders_stop);
    let handle = output.handle();
    let alerting = match &config.agent.alerts {
        Some(file) => {
            let cfg = crate::config::alerting::AlertingConfig::load(file)?;
            let alerting = super::alerting::start_devices(
                &cfg,
                &config.agent.name,
                config.agent.tenant.clone(),
                config
                    .devices
                    .iter()
                    .map(|d| (d.name.clone(), d.tags.clone()))
                    .collect(),
                &metrics,
                Some(handle.clone()),
                stop_rx.clone(),
            )
            .await?;
            tracing::info!(file = %file.display(), "device alerting on");
            Some(alerting)
        }
        None => None,
    };
    let scheduler = Scheduler {
        metrics: metrics.clone(),
        sink: Some(handle.clone()),
        alerting,
        pinger,
        snmp_limit: Arc::new(Semaphore::new(config.agent.concurrency)),
    };
    let mut tasks = scheduler.spawn_all(&config.devices, &stop_rx);
    drop(scheduler);
    {
        let metrics = metrics.clone();
        let handle = handle.clone();
        let every = config.agent.self_metrics_interval;
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = tick.tick() => handle.send(metrics.points(now_ns())).await,
                    _ = stop.changed() => if *stop.borrow() { return; },
                }
            }
        });
    }
    drop(handle);
    metrics.ready.store(true, Relaxed);
    tracing::info!(devices = config.devices.len(), agent = %config.agent.name, "collector running");
    match stop_after {
        Some(d) => tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = shutdown_signal() => {}
        },
        None => shutdown_signal().await,
    }
    tracing::info!(drain_timeout = ?drain, "shutting down: flushing collected points to the spool, then delivering what is spooled");
    metrics.ready.store(false, Relaxed);
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    let (batches, points) = output.drain(drain, stop_senders).await;
    if points > 0 {
        tracing::warn!(
            spooled_batches = batches,
            spooled_points = points,
            "stopped: points left in the spool for the next start"
        );
    } else {
        tracing::info!("stopped: the spool is empty");
    }
    Ok(metrics.summary())
}
