//! Alerting: rules turn cluster and device state into [`signal::Signal`]s; the
//! [`engine::Engine`] turns signals into incidents and notifications (pending → firing →
//! resolved, folding, flapping, maintenance, digest); [`store::Store`] keeps the state, the
//! outbox and the delivery ledger durable (a local file or a ConfigMap).
pub mod adopt;
pub mod collector;
pub mod engine;
pub mod fencing;
pub mod health;
pub mod live;
pub mod maintenance;
pub mod points;
pub mod rules;
pub mod runner;
pub mod signal;
pub mod state;
pub mod store;
