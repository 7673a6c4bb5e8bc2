//! The contracts between `vigil` (the deployer) and `vigil-agent`: the serde types of the
//! files one writes and the other reads, and the names both spell (labels, annotations,
//! file names, ports). Each format is defined here once; the agent deserialises with these
//! types, the deployer and `vigil-agent import-telegraf` serialise with them, so a drift
//! between writer and reader is a compile error or a failing round-trip test, not a broken
//! tenant.
//!
//! Every input type rejects unknown fields (a typo is reported with its location) and skips
//! what is unset when written, so a rendered file holds only what its writer chose.
pub mod alert_state;
pub mod alerts;
pub mod collector;
pub mod names;
pub mod schedule;
pub mod secret;
pub mod shard;
pub mod units;

pub use schedule::{Schedule, ScheduleError};
pub use secret::SecretRef;
pub use units::{Bytes, Dur};
