//! One alerting scope at work: load its state, wait for the watchers' initial lists,
//! evaluate on every change (and every `evaluation_interval`, for `for` timers), persist,
//! and hand notifications to the Slack delivery worker.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, watch};

use super::engine::{Engine, EngineSettings};
use super::points::point;
use super::shared::Shared;
use super::signal::Signal;
use super::store::Store;
use crate::sinks::influxdb::BatcherHandle;
use crate::sinks::slack::{Deliverer, Renderer, Routes};

/// Coalesces bursts of watch events into one evaluation.
const MIN_GAP: Duration = Duration::from_millis(20);

/// Produces the complete set of active signals.
pub trait SignalSource: Send {
    fn signals(&mut self) -> Vec<Signal>;
}

impl SignalSource for crate::sources::kubernetes::KubeSource {
    fn signals(&mut self) -> Vec<Signal> {
        crate::sources::kubernetes::KubeSource::signals(self)
    }
}

pub struct Scope {
    /// `node/<name>`, `leader` or `cluster`: in logs and the `source` tag.
    pub name: String,
    pub store: Store,
    pub engine: EngineSettings,
    pub routes: Arc<Routes>,
    pub renderer: Arc<Renderer>,
    pub influx: Option<BatcherHandle>,
    pub evaluation_interval: Duration,
}

/// Loads the scope's state, retrying while the store cannot be read.
pub async fn load(store: &Store, stop: &mut watch::Receiver<bool>) -> Option<Arc<Shared>> {
    let mut wait = Duration::from_millis(500);
    loop {
        match store.load().await {
            Ok(doc) => {
                tracing::info!(state = %store.describe(), incidents = doc.incidents.len(), outbox = doc.outbox.len(), "alert state loaded");
                return Some(Arc::new(Shared::new(doc, store.clone())));
            }
            Err(e) => tracing::warn!(error = %e, "cannot load the alert state; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            r = stop.changed() => if r.is_err() || *stop.borrow() { return None; },
        }
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}

impl Scope {
    /// Runs until `stop`. `remote` refreshes the view of another scope's incidents.
    pub async fn run<S: SignalSource>(
        self,
        shared: Arc<Shared>,
        mut source: S,
        trigger: Arc<Notify>,
        mut stop: watch::Receiver<bool>,
    ) {
        let deliverer =
            match Deliverer::new(shared.clone(), self.routes.clone(), self.renderer.clone()) {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %e, "slack delivery cannot start");
                    return;
                }
            };
        let delivery = tokio::spawn(deliverer.run(stop.clone()));
        shared.outbox_changed.notify_one();
        let mut engine = Engine::new(self.engine.clone());
        tracing::info!(scope = %self.name, "alert evaluation running");
        let mut unsaved = false;
        loop {
            let started = std::time::Instant::now();
            let signals = source.signals();
            let remote: BTreeMap<String, String> = shared.remote().parents;
            let (changes, dirty) = shared.with(|d| {
                let before = (d.pending.len(), d.next_seq, d.incidents.len());
                let changes = engine.evaluate(d, SystemTime::now(), signals, &remote);
                let after = (d.pending.len(), d.next_seq, d.incidents.len());
                (changes, before != after)
            });
            if dirty || unsaved || !changes.is_empty() {
                for c in &changes {
                    tracing::info!(scope = %self.name, rule = %c.incident.signal.rule, object = %c.incident.signal.scope.object, state = c.kind.as_str(), "alert state change");
                }
                unsaved = false;
                if let Err(e) = shared.save().await {
                    tracing::error!(error = %e, "cannot persist the alert state; retrying");
                    unsaved = true;
                }
                shared.outbox_changed.notify_one();
                if let Some(influx) = &self.influx
                    && !changes.is_empty()
                {
                    influx
                        .send(changes.iter().map(|c| point(c, &self.name)).collect())
                        .await;
                }
            }
            // a burst of events waits at least a few evaluations' time: a large cluster's
            // churn costs bounded CPU, a quiet one answers within MIN_GAP
            tokio::time::sleep(MIN_GAP.max(started.elapsed() * 4)).await;
            tokio::select! {
                _ = trigger.notified() => {}
                _ = tokio::time::sleep(self.evaluation_interval) => {}
                r = stop.changed() => if r.is_err() || *stop.borrow() { break; },
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), delivery).await;
        if let Err(e) = shared.save().await {
            tracing::error!(error = %e, "cannot persist the alert state on shutdown");
        }
    }
}
