//! One alerting scope at work: evaluate on every change (and every
//! `evaluation_interval`, for `for` timers), save the state, wake whoever empties the
//! outbox, and pass every batch of state changes on (the command writes them to InfluxDB
//! as the `alerts` measurement). What watches and what delivers is wired by the command.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, mpsc, watch};

use super::engine::{Change, Engine, EngineSettings};
use super::live::LiveState;
use super::signal::{Scope, Severity, Signal};
use super::state::{Kind, Notification, StateDoc, unix_ms};
use super::store::Store;

/// Coalesces bursts of watch events into one evaluation.
const MIN_GAP: Duration = Duration::from_millis(20);

/// Produces the complete set of active signals.
pub trait SignalSource: Send {
    fn signals(&mut self) -> Vec<Signal>;
}

impl<F: FnMut() -> Vec<Signal> + Send> SignalSource for F {
    fn signals(&mut self) -> Vec<Signal> {
        self()
    }
}

/// The evaluation loop of one alerting scope.
pub struct Evaluation {
    /// `node/<name>`, `leader`, `cluster` or `collector/<agent>`: in logs and the `source`
    /// tag.
    pub name: String,
    pub engine: EngineSettings,
    pub evaluation_interval: Duration,
    /// Every non-empty batch of state changes, in order.
    pub changes: Option<mpsc::Sender<Vec<Change>>>,
}

/// The rule name of the one message sent when a scope's state did not decode.
pub const ALERT_STATE_RESET: &str = "AlertStateReset";

/// Loads the scope's state, retrying while the store cannot be read. State that does not
/// decode is moved aside and replaced by an empty document, and the service desk is told
/// once (`AlertStateReset`, sent directly: open incidents may be posted again).
pub async fn load(
    store: &Store,
    scope: &str,
    stop: &mut watch::Receiver<bool>,
) -> Option<Arc<LiveState>> {
    let mut wait = Duration::from_millis(500);
    loop {
        match store.load_or_quarantine().await {
            Ok(loaded) => {
                let mut doc = loaded.doc;
                tracing::info!(state = %store.describe(), incidents = doc.incidents.len(), outbox = doc.outbox.len(), "alert state loaded");
                if let Some(why) = loaded.reset {
                    reset_notice(&mut doc, scope, &why);
                }
                return Some(Arc::new(LiveState::new(doc, store.clone())));
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

/// Queues the one `AlertStateReset` message.
fn reset_notice(doc: &mut StateDoc, scope: &str, why: &str) {
    let now_ms = unix_ms(SystemTime::now());
    let signal = Signal::new(
        ALERT_STATE_RESET,
        Severity::Critical,
        Scope {
            object: format!("AlertState/{scope}"),
            ..Default::default()
        },
        &format!("{scope}@{now_ms}"),
    )
    .summary(format!(
        "alert state reset: {why}. Open incidents may be posted again; resolves of incidents \
         opened before are not sent"
    ));
    let key = signal.fingerprint.clone();
    doc.push(Notification {
        seq: 0,
        kind: Kind::Firing,
        incident: key.clone(),
        thread: key,
        signal,
        started_ms: now_ms,
        at_ms: now_ms,
        lines: Vec::new(),
    });
}

impl Evaluation {
    /// Runs until `stop`, then saves the state once more.
    pub async fn run<S: SignalSource>(
        self,
        shared: Arc<LiveState>,
        mut source: S,
        trigger: Arc<Notify>,
        mut stop: watch::Receiver<bool>,
    ) {
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
                if let Some(tx) = &self.changes
                    && !changes.is_empty()
                {
                    // waits when the consumer is behind, as a direct write did
                    let _ = tx.send(changes).await;
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
        if let Err(e) = shared.save().await {
            tracing::error!(error = %e, "cannot persist the alert state on shutdown");
        }
    }
}
