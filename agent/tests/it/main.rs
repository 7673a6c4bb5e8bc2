//! Integration tests of vigil-agent against the sandbox's real peers (snmpd, snmpsim,
//! namespace ICMP hosts, InfluxDB 1.x, VictoriaMetrics). One test binary for the crate.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
mod alerts;
mod chaos;
mod cli;
mod common;
mod icmp;
mod influx;
mod influxd;
mod isolation;
mod netsnmp;
mod outage;
mod shards;
mod snmp;
mod writes;
