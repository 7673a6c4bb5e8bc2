//! A [`Signal`] is one condition a rule sees as true right now (a pod crash-looping, a node
//! NotReady). Sources produce the complete set of active signals on every evaluation; the
//! [`super::engine::Engine`] turns their appearance and disappearance into incidents. The
//! types are part of the persisted state document, so they live in the contract.
pub use vigil_contract::alert_state::{Scope, Severity, Signal, fingerprint};
