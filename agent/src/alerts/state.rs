//! The durable alerting state: open incidents, the outbox of notifications not yet
//! delivered, and the ledger of what was delivered where (Slack channel and message `ts`).
//! Everything the engine and the Slack sink need to continue after a restart or a leader
//! change without losing or repeating a message. Stored by [`super::store::Store`]; the
//! document's types are the contract `vigil agent status` reads too.
use std::time::{SystemTime, UNIX_EPOCH};

pub use vigil_contract::alert_state::{Delivered, Incident, Kind, LogItem, Notification, StateDoc};

/// Milliseconds since the epoch.
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
