//! The agent's output must match `schema/metrics.json`, the machine-readable schema that
//! docs/metrics.md and the dashboards are checked against.
