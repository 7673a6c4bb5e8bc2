//! InfluxDB output: points are batched (by size and age), optionally gzipped, written to
//! the durable spool, and sent oldest-first by the sender with retries.
mod batcher;
mod client;
mod sender;

pub use batcher::{Batcher, BatcherHandle, update_spool_gauges};
pub use client::{InfluxClient, WriteError, WriteOutcome};
pub use sender::{run_sender, run_senders};
