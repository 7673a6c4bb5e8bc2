//! Wiring of one alerting scope: its evaluation loop (`alerts`), the Slack deliverer that
//! empties its outbox (`sinks::slack`) and, when configured, the InfluxDB output that
//! records its state changes as the `alerts` measurement (`sinks::influxdb`). The two
//! sides never import each other: the deliverer works on the scope's [`LiveState`]
//! through the [`Outbox`] implemented here, the changes reach InfluxDB through a channel.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, watch};

use crate::alerts::collector::DeviceAlerting;
use crate::alerts::health::{ALERTING_DEGRADED, Episode, Notice, state_trouble};
use crate::alerts::live::LiveState;
use crate::alerts::points::point;
use crate::alerts::rules::devices::DeviceRules;
use crate::alerts::runner::{self, Evaluation, SignalSource};
use crate::alerts::state::{Delivered, Notification};
use crate::alerts::store::{Store, StoreError};
use crate::config::alerting::AlertingConfig;
use crate::sinks::influxdb::BatcherHandle;
use crate::sinks::slack::{Announcer, DeliverError, Deliverer, Outbox, Renderer, Routes};
use crate::telemetry::Metrics;

impl Outbox for LiveState {
    type SaveError = StoreError;

    fn pending(&self) -> Vec<Notification> {
        self.with(|d| d.outbox.iter().cloned().collect())
    }

    fn is_persisted(&self, seq: u64) -> bool {
        LiveState::is_persisted(self, seq)
    }

    fn thread(&self, incident: &str) -> Option<Delivered> {
        LiveState::thread(self, incident)
    }

    fn was_delivered(&self, incident: &str) -> bool {
        LiveState::was_delivered(self, incident)
    }

    fn complete(&self, n: &Notification, delivered: Option<Delivered>, at_ms: u64) {
        LiveState::complete(self, n, delivered, at_ms)
    }

    fn discard(&self, seq: u64) {
        LiveState::discard(self, seq)
    }

    async fn save(&self) -> Result<(), StoreError> {
        LiveState::save(self).await
    }

    fn changed(&self) -> &Notify {
        &self.outbox_changed
    }
}

/// Where a scope's notifications and state changes go.
#[derive(Clone)]
pub struct Outputs {
    pub routes: Arc<Routes>,
    pub renderer: Arc<Renderer>,
    /// The `alerts` measurement's InfluxDB output, if configured.
    pub influx: Option<BatcherHandle>,
    /// Where trouble with alerting itself is told.
    pub announcer: Announcer,
    /// How long saves may fail before that is told.
    pub degraded_after: Duration,
    pub metrics: Arc<Metrics>,
}

/// Posts an `AlertingDegraded` notice directly; whether it went out.
pub async fn announce(announcer: &Announcer, scope: &str, notice: &Notice) -> bool {
    let (headline, text) = match notice {
        Notice::Degraded { what } => {
            tracing::error!(scope, alert = ALERTING_DEGRADED, what = %what, "alerting is degraded");
            (
                format!("{ALERTING_DEGRADED} critical"),
                format!("{scope}: {what}"),
            )
        }
        Notice::Recovered { what, after } => {
            tracing::info!(scope, alert = ALERTING_DEGRADED, was = %what, after_s = after.as_secs(), "alerting recovered");
            (
                format!("{ALERTING_DEGRADED} resolved after {} s", after.as_secs()),
                format!("{scope}: it was: {what}"),
            )
        }
    };
    match announcer.post(&headline, &text).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(scope, error = %e, "cannot post {ALERTING_DEGRADED}; trying again");
            false
        }
    }
}

/// Watches how saving the scope's state goes: its size on /metrics
/// (`vigil_alert_state_bytes{scope}`), and `AlertingDegraded` while saves are refused
/// (longer than `degraded_after`) or the document passes 75 % of its store's limit.
async fn watch_state(
    scope: String,
    state: Arc<LiveState>,
    outputs: Outputs,
    mut stop: watch::Receiver<bool>,
) {
    let mut episode = Episode::default();
    loop {
        let h = state.save_health();
        outputs.metrics.set_gauge(
            "vigil_alert_state_bytes",
            "Size of the alert state document last saved, per scope.",
            &[("scope", &scope)],
            h.bytes as f64,
        );
        let now = Instant::now();
        if let Some(n) = episode.observe(now, state_trouble(&h, now, outputs.degraded_after))
            && announce(&outputs.announcer, &scope, &n).await
        {
            episode.posted(&n);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            r = stop.changed() => if r.is_err() || *stop.borrow() { return; },
        }
    }
}

/// Device alerting cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AlertingError {
    #[error("device alerting keeps its state in a file: set cluster.state_file")]
    NoStateFile,
    #[error("slack templates")]
    Templates(#[source] crate::sinks::slack::render::RenderError),
    #[error(transparent)]
    Delivery(#[from] DeliverError),
}

/// Runs one scope until `stop`: the deliverer beside the evaluation, changes forwarded
/// to InfluxDB; on stop, an in-flight delivery gets up to 5 s before the final save.
pub async fn run_scope<S: SignalSource>(
    mut evaluation: Evaluation,
    state: Arc<LiveState>,
    source: S,
    trigger: Arc<Notify>,
    outputs: Outputs,
    stop: watch::Receiver<bool>,
) {
    let deliverer = match Deliverer::new(
        state.clone(),
        outputs.routes.clone(),
        outputs.renderer.clone(),
    ) {
        Ok(d) => d.with_metrics(outputs.metrics.clone()),
        Err(e) => {
            tracing::error!(error = %e, "slack delivery cannot start");
            return;
        }
    };
    let delivery = tokio::spawn(deliverer.run(stop.clone()));
    tokio::spawn(watch_state(
        evaluation.name.clone(),
        state.clone(),
        outputs.clone(),
        stop.clone(),
    ));
    let forward = outputs.influx.map(|influx| {
        let (tx, mut rx) = mpsc::channel::<Vec<crate::alerts::engine::Change>>(16);
        evaluation.changes = Some(tx);
        let name = evaluation.name.clone();
        tokio::spawn(async move {
            while let Some(changes) = rx.recv().await {
                influx
                    .send(changes.iter().map(|c| point(c, &name)).collect())
                    .await;
            }
        })
    });
    evaluation.run(state.clone(), source, trigger, stop).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), delivery).await;
    if let Some(f) = forward {
        let _ = f.await;
    }
    if let Err(e) = state.save().await {
        tracing::error!(error = %e, "cannot persist the alert state on shutdown");
    }
}

/// Starts the collector's device alerting: loads its state (`cluster.state_file`,
/// required) and runs it as one scope. With `influx`, every state change is also written
/// as a point of `alerts`. Returns at once: the pollers never wait for alerting (its
/// inputs queue until the state is loaded), and a state that does not decode is moved
/// aside instead of being retried forever.
pub async fn start_devices(
    cfg: &AlertingConfig,
    agent: &str,
    tenant: Option<String>,
    device_tags: BTreeMap<String, BTreeMap<String, String>>,
    metrics: &Arc<Metrics>,
    influx: Option<BatcherHandle>,
    stop: watch::Receiver<bool>,
) -> Result<DeviceAlerting, AlertingError> {
    let path = cfg.state_file.clone().ok_or(AlertingError::NoStateFile)?;
    let store = Store::File(path);
    let renderer = Arc::new(
        Renderer::new(&cfg.name, &cfg.routes.templates).map_err(AlertingError::Templates)?,
    );
    // only devices that some tag entry or their own entry touches get rules of their own
    let own_rules = device_tags
        .iter()
        .filter(|(name, tags)| {
            cfg.rule_layers.device_rules.contains_key(*name)
                || cfg
                    .rule_layers
                    .tag_rules
                    .iter()
                    .any(|t| t.tags.iter().all(|(k, v)| tags.get(k) == Some(v)))
        })
        .map(|(name, tags)| (name.clone(), cfg.device_rules(name, tags)))
        .collect();
    for unknown in cfg
        .rule_layers
        .device_rules
        .keys()
        .filter(|d| !device_tags.contains_key(*d))
    {
        // another shard's device, or a name the deployer would have refused
        tracing::debug!(device = %unknown, "device_rules names a device this collector does not poll");
    }
    let (handle, signals, trigger) = DeviceAlerting::new(
        Arc::new(cfg.rules.clone()),
        DeviceRules::new(agent, tenant)
            .with_tags(device_tags)
            .with_rules(own_rules),
        metrics.subscribe(),
    );
    let evaluation = Evaluation {
        name: format!("collector/{agent}"),
        engine: cfg.engine.clone(),
        evaluation_interval: cfg.evaluation_interval,
        changes: None,
    };
    let outputs = Outputs {
        announcer: Announcer::new(&cfg.routes, &cfg.name)?,
        routes: Arc::new(cfg.routes.clone()),
        renderer,
        influx,
        degraded_after: cfg.degraded_after,
        metrics: metrics.clone(),
    };
    tokio::spawn(async move {
        let mut stop_load = stop.clone();
        let Some(state) = runner::load(&store, &evaluation.name, &mut stop_load).await else {
            return;
        };
        run_scope(evaluation, state, signals, trigger, outputs, stop).await;
    });
    Ok(handle)
}
