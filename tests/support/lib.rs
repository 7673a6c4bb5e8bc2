//! Support for vigil's integration tests: access to the sandbox started by
//! `scripts/sandbox up`, a fake kubelet, waiting for conditions with deadlines, and a
//! network-policy evaluator ([`netpol`]) that judges observed flows against rendered policies.

mod fake_kubelet;
mod flows;
mod forward;
mod influx;
pub mod netpol;
mod sandbox;
mod scratch;
mod slack_recorder;
mod snmpsim;
mod wait;

pub use fake_kubelet::{
    FAULT_ANNOTATION, FakeKubelet, Fault, POOL_KEY, Pressure, STATUS_BY_TEST_ANNOTATION, list_pods,
    pool_placement,
};
pub use flows::{FlowError, FlowRecorder, ObservedFlow};
pub use forward::Forwarder;
pub use influx::{InfluxError, create_database, influxql, rows};
pub use sandbox::{Images, Sandbox, SandboxError, client_from_kubeconfig, in_ci, sandbox};
pub use scratch::{ChildProcess, TempDir, free_port, unique};
pub use slack_recorder::{
    Failure as SlackFailure, Recorded, SlackRecorder, parents, replies, resolved_replies,
    thread_resolved, updates, wait_for,
};
pub use snmpsim::{SetValue, SnmpSim};
pub use wait::eventually;

/// An HTTP client for tests (installs rustls' ring provider once, as vigil's binaries do).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
