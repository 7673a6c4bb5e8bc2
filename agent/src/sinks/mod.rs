//! Where data goes.
pub mod influxdb;
