//! The state document shared by the evaluator and the Slack delivery worker of one scope
//! (a node's pods, or the leader's cluster rules), with its store.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use super::state::{Delivered, StateDoc};
use super::store::{Store, StoreError};

/// Firing incidents and delivered messages of another scope (the leader's), so a node
/// agent can fold its pods into the leader's node and workload incidents and reply in
/// their threads.
#[derive(Debug, Clone, Default)]
pub struct RemoteView {
    pub parents: BTreeMap<String, String>,
    pub ledger: BTreeMap<String, Delivered>,
}

pub struct Shared {
    doc: Mutex<StateDoc>,
    store: Store,
    save_lock: tokio::sync::Mutex<()>,
    /// Signalled when the outbox has new notifications.
    pub outbox_changed: Notify,
    remote: Mutex<RemoteView>,
    /// Notifications with a lower `seq` are saved: only those may be sent, so nothing
    /// reaches Slack that a crash could make the agent forget it sent.
    persisted: AtomicU64,
}

impl Shared {
    pub fn new(doc: StateDoc, store: Store) -> Shared {
        let persisted = AtomicU64::new(doc.next_seq);
        Shared {
            persisted,
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
        let snapshot = self.lock().clone();
        self.store.save(&snapshot).await?;
        self.persisted
            .fetch_max(snapshot.next_seq, Ordering::SeqCst);
        Ok(())
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
}
