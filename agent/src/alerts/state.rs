//! The durable alerting state: open incidents, the outbox of notifications not yet
//! delivered, and the ledger of what was delivered where (Slack channel and message `ts`).
//! Everything the engine and the Slack sink need to continue after a restart or a leader
//! change without losing or repeating a message. Stored by [`super::store::Store`]; the
//! document's types are the contract `vigil agent status` reads too.
pub use vigil_contract::alert_state::{
    Delivered, Incident, Kind, LogItem, Notification, StateDoc, unix_ms,
};
