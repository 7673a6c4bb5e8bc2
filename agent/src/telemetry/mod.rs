//! Self-observability: counters of everything the agent does, served as Prometheus text on
//! /metrics (with /healthz and /readyz), and written as `vigil_agent` points.
mod http;
mod metrics;

pub use http::serve;
pub use metrics::{Event, Metrics, PollOutcome, Source};
