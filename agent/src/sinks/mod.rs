//! Where data goes.
pub mod influxdb;
pub mod slack;
