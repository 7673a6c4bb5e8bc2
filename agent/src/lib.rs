//! vigil-agent: the tenant collector (SNMP and ICMP into InfluxDB) and, later, the cluster
//! agent (pod, node and device health to Slack).
//!
//! Data flow of the collector: [`scheduler`] schedules every device on its own timer and runs
//! [`sources::snmp`] and [`sources::icmp`] polls; their [`point::Point`]s go to
//! [`sinks::influxdb`], which batches them into the durable [`spool`] and sends them in
//! order. [`telemetry`] counts everything and serves /healthz, /readyz and /metrics.
pub mod alerts;
pub mod commands;
pub mod config;
pub mod error;
pub mod lineproto;
pub mod point;
pub mod scheduler;
pub mod schema;
pub mod secret;
pub mod sinks;
pub mod sources;
pub mod spool;
pub mod telegraf;
pub mod telemetry;

#[cfg(test)]
mod schema_tests;
