//! Device alerting inside the tenant collector: the collector hands every batch of points
//! and every SNMP poll outcome to a [`DeviceAlerting`] handle; the device rules, the same
//! engine and the same Slack delivery as the cluster agent run beside the pollers, with
//! their state in a local file; state changes go to the collector's own InfluxDB as the
//! `alerts` measurement, which the tenant's dashboards show. Spool overflows arrive through the collector's telemetry
//! events. Wiring in `vigil-agent run`:
//!
//! ```ignore
//! let alerting = DeviceAlerting::start(&cluster_config, &agent_name, tenant, device_tags, &metrics, Some(batcher.clone()), stop_rx.clone()).await?;
//! // wherever points go to the InfluxDB batcher:
//! alerting.observe(&points);
//! // after each SNMP poll:
//! alerting.snmp_poll(&device.name, ok);
//! ```
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Notify, broadcast, mpsc, watch};

use super::config::ClusterConfig;
use super::devices::DeviceRules;
use super::rules::Rules;
use super::runner::{self, Scope, SignalSource};
use super::signal::Signal;
use super::store::Store;
use crate::point::Point;
use crate::sinks::influxdb::BatcherHandle;
use crate::sinks::slack::Renderer;
use crate::telemetry::{Event, Metrics};

enum Input {
    Points(Vec<Point>),
    Snmp(String, bool),
}

struct DeviceSource {
    rules: Arc<Rules>,
    devices: DeviceRules,
    rx: mpsc::Receiver<Input>,
    events: broadcast::Receiver<Event>,
}

impl SignalSource for DeviceSource {
    fn signals(&mut self) -> Vec<Signal> {
        let now = Instant::now();
        while let Ok(input) = self.rx.try_recv() {
            match input {
                Input::Points(p) => self.devices.observe(&p, now),
                Input::Snmp(d, ok) => self.devices.snmp_poll(&d, ok),
            }
        }
        loop {
            match self.events.try_recv() {
                Ok(Event::SpoolOverflow { dropped_points, .. }) => {
                    self.devices.spool_overflow(dropped_points, now)
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
        self.devices.signals(&self.rules, now)
    }
}

/// The collector's handle to device alerting. Cheap to clone.
#[derive(Clone)]
pub struct DeviceAlerting {
    tx: mpsc::Sender<Input>,
    trigger: Arc<Notify>,
}

impl DeviceAlerting {
    /// Loads the state (`cluster.state_file`, required) and starts evaluation and delivery.
    /// With `influx`, every state change is also written as a point of `alerts`.
    pub async fn start(
        cfg: &ClusterConfig,
        agent: &str,
        tenant: Option<String>,
        device_tags: BTreeMap<String, BTreeMap<String, String>>,
        metrics: &Metrics,
        influx: Option<BatcherHandle>,
        stop: watch::Receiver<bool>,
    ) -> Result<DeviceAlerting, String> {
        let path = cfg.state_file.clone().ok_or_else(|| {
            "device alerting keeps its state in a file: set cluster.state_file".to_string()
        })?;
        let store = Store::File(path);
        let mut stop_load = stop.clone();
        let shared = runner::load(&store, &mut stop_load)
            .await
            .ok_or_else(|| "stopped while loading the alert state".to_string())?;
        let renderer =
            Arc::new(Renderer::new(&cfg.name, &cfg.routes.templates).map_err(|e| e.to_string())?);
        let (tx, rx) = mpsc::channel(1024);
        let trigger = Arc::new(Notify::new());
        let source = DeviceSource {
            rules: Arc::new(cfg.rules.clone()),
            devices: DeviceRules::new(agent, tenant).with_tags(device_tags),
            rx,
            events: metrics.subscribe(),
        };
        let scope = Scope {
            name: format!("collector/{agent}"),
            store,
            engine: cfg.engine.clone(),
            routes: Arc::new(cfg.routes.clone()),
            renderer,
            influx,
            evaluation_interval: cfg.evaluation_interval,
        };
        tokio::spawn(scope.run(shared, source, trigger.clone(), stop));
        Ok(DeviceAlerting { tx, trigger })
    }

    /// A batch of the collector's points (never blocks a poller: a full queue drops the
    /// batch for alerting only, with a warning; InfluxDB still gets it).
    pub fn observe(&self, points: &[Point]) {
        if self.tx.try_send(Input::Points(points.to_vec())).is_err() {
            tracing::warn!("device alerting is behind: a batch of points was not evaluated");
        }
        self.trigger.notify_one();
    }

    /// The outcome of one SNMP poll of `device`.
    pub fn snmp_poll(&self, device: &str, ok: bool) {
        let _ = self.tx.try_send(Input::Snmp(device.to_string(), ok));
        self.trigger.notify_one();
    }
}
