//! InfluxDB output: points are batched (by size and age), optionally gzipped, written to
//! the durable spool, and sent oldest-first by the sender with retries. [`Output`] wires
//! them together; every process starts its output through it.
mod batcher;
mod client;
pub mod config;
mod output;
mod sender;

pub use batcher::BatcherHandle;
pub use client::{InfluxClient, WriteError, WriteOutcome};
pub use output::{Output, OutputError, Running};
