//! Integration tests of vigil-agent against the sandbox's real peers (snmpd, snmpsim,
//! namespace ICMP hosts, InfluxDB 1.x, VictoriaMetrics). One test binary for the crate.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
mod alerts_cli;
mod alerts_common;
mod alerts_content;
mod alerts_daemonset;
mod alerts_delivery;
mod alerts_devices;
mod alerts_leader;
mod alerts_maintenance;
mod alerts_nodes;
mod alerts_output;
mod alerts_pods;
mod alerts_restart;
mod alerts_snmp;
mod alerts_workloads;
mod cli;
mod common;
mod icmp;
mod influx;
mod influxd;
mod isolation;
mod netsnmp;
mod outage;
mod snmp;
mod writes;
