//! The alerting tests: the cluster agent and the collector's device alerting against the
//! sandbox's API server, fake kubelets, Slack recorder, snmpsim and InfluxDB.
mod cli;
pub(crate) mod common;
mod content;
mod daemonset;
mod delivery;
mod devices;
mod leader;
mod maintenance;
mod nodes;
mod output;
mod pods;
mod restart;
mod snmp;
mod workloads;
