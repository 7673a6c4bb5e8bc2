//! The live state of one alerting scope (a node's pods, the leader's cluster rules, a
//! collector's devices): the document the evaluator changes and the Slack deliverer
//! empties, with the store it is saved to. The deliverer sees it only through the
//! `Outbox` the command wires to it.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use super::health::SaveHealth;
use super::state::{Delivered, Kind, Notification, StateDoc};
use super::store::{Store, StoreError};

/// Firing incidents and delivered messages of another scope (the leader's), so a node
/// agent can fold its pods into the leader's node and workload incidents and reply in
/// their threads.
#[derive(Debug, Clone, Default)]
pub struct RemoteView {
    pub parents: BTreeMap<String, String>,
    pub ledger: BTreeMap<String, Delivered>,
}

pub struct LiveState {
    doc: Mutex<StateDoc>,
    store: Store,
    save_lock: tokio::sync::Mutex<()>,
    /// Signalled when the outbox has new notifications.
    pub outbox_changed: Notify,
    remote: Mutex<RemoteView>,
    /// Notifications with a lower `seq` are saved: only those may be sent, so nothing
    /// reaches Slack that a crash could make the agent forget it sent.
    persisted: AtomicU64,
    saves: Mutex<SaveHealth>,
}

impl LiveState {
    pub fn new(doc: StateDoc, store: Store) -> LiveState {
        let persisted = AtomicU64::new(doc.next_seq);
        let saves = Mutex::new(SaveHealth {
            limit: store.limit(),
            ..Default::default()
        });
        LiveState {
            persisted,
            saves,
            doc: Mutex::new(doc),
            store,
            save_lock: tokio::sync::Mutex::new(()),
            outbox_changed: Notify::new(),
            remote: Mutex::new(RemoteView::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, StateDoc> {
        self.doc.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the document (never across an await).
    pub fn with<R>(&self, f: impl FnOnce(&mut StateDoc) -> R) -> R {
        f(&mut self.lock())
    }

    /// Writes the current document. Saves are serialised, and each writes the newest state.
    pub async fn save(&self) -> Result<(), StoreError> {
        let _guard = self.save_lock.lock().await;
        let mut snapshot = self.lock().clone();
        let mut result = self.store.save(&snapshot).await;
        if let Err(e @ StoreError::Adopted { .. }) = &result {
            // the leader resolves and delivers what this document held; keeping it would
            // post it twice. Sequence numbers go on, so nothing unsaved is ever sent.
            tracing::warn!(error = %e, incidents = snapshot.incidents.len(), outbox = snapshot.outbox.len(), "alert state taken over by the leader: starting afresh");
            snapshot = self.with(|d| {
                *d = StateDoc {
                    next_seq: d.next_seq,
                    ..StateDoc::default()
                };
                d.clone()
            });
            result = self.store.save(&snapshot).await;
        }
        let mut h = self.saves.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(bytes) => {
                h.failing = None;
                h.unreachable = false;
                h.bytes = bytes;
                drop(h);
                self.persisted
                    .fetch_max(snapshot.next_seq, Ordering::SeqCst);
                Ok(())
            }
            Err(e) => {
                h.failing
                    .get_or_insert_with(|| (std::time::Instant::now(), String::new()))
                    .1 = e.to_string();
                h.unreachable = e.is_unreachable();
                Err(e)
            }
        }
    }

    /// How saving has gone lately.
    pub fn save_health(&self) -> SaveHealth {
        self.saves.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the notification with this `seq` has been saved.
    pub fn is_persisted(&self, seq: u64) -> bool {
        seq < self.persisted.load(Ordering::SeqCst)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn remote(&self) -> RemoteView {
        self.remote
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_remote(&self, view: RemoteView) {
        *self.remote.lock().unwrap_or_else(|p| p.into_inner()) = view;
    }

    /// The thread (`channel`, `ts`) of an incident, from this scope's ledger or the remote.
    pub fn thread(&self, key: &str) -> Option<Delivered> {
        self.with(|d| d.ledger.get(key).cloned())
            .or_else(|| self.remote().ledger.get(key).cloned())
    }

    /// Whether the incident's first message was delivered (it is in the ledger).
    pub fn was_delivered(&self, incident: &str) -> bool {
        self.with(|d| d.ledger.contains_key(incident))
    }

    /// Removes a delivered notification from the outbox and records where it went.
    pub fn complete(&self, n: &Notification, delivered: Option<Delivered>, at_ms: u64) {
        self.with(|d| {
            d.outbox.retain(|x| x.seq != n.seq);
            if let Some(mut delivered) = delivered {
                delivered.at_ms = at_ms;
                d.ledger.insert(n.incident.clone(), delivered);
            }
            if n.kind == Kind::Resolved
                && let Some(l) = d.ledger.get_mut(&n.incident)
            {
                l.resolved = true;
                l.at_ms = at_ms;
            }
            d.prune(at_ms, 3_600_000);
        });
    }

    /// Removes a notification that will never be sent.
    pub fn discard(&self, seq: u64) {
        self.with(|d| d.outbox.retain(|x| x.seq != seq));
    }
}
