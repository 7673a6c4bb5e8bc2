//! SNMP v2c/v3 polling: GET for scalars, GETBULK walks for tables, profiles to points.
pub mod builtin;
pub mod client;
pub mod collect;
pub mod config;
mod derive;
pub mod mib;
pub mod oid;
pub mod profile;
pub mod value;
mod walk;

pub use client::{SnmpError, SnmpSession};
pub use collect::{SnmpPoll, collect};
