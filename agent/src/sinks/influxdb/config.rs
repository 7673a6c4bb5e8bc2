//! The InfluxDB output's settings, resolved from `output.influxdb` by [`crate::config`].
use std::time::Duration;

use crate::secret::Secret;

#[derive(Debug, Clone)]
pub enum InfluxApi {
    V2 {
        org: String,
        bucket: String,
        token: Secret,
    },
    V1 {
        database: String,
        retention_policy: Option<String>,
        username: Option<String>,
        password: Option<Secret>,
    },
}

#[derive(Debug, Clone)]
pub struct InfluxSettings {
    pub url: String,
    pub api: InfluxApi,
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub gzip: bool,
    pub timeout: Duration,
    pub parallel_writes: usize,
    /// On shutdown, how long spooled batches are still sent.
    pub drain_timeout: Duration,
}
