//! The one way to start an InfluxDB output: the durable spool, the batcher in front of it and
//! the senders behind it, all counting into the process's [`Metrics`] (the registry its
//! `/metrics` serves). Used by `run`, `cluster`, the write benchmark and the tests.
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::batcher::{Batcher, BatcherHandle, update_spool_gauges};
use super::client::{InfluxClient, WriteError};
use super::config::InfluxSettings;
use super::sender::run_senders;
use crate::spool::{Spool, SpoolError, SpoolSettings};
use crate::telemetry::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("InfluxDB output {url}")]
    Client {
        url: String,
        #[source]
        source: WriteError,
    },
}

/// An output opened (spool on disk, HTTP client built) but not yet started.
pub struct Output {
    settings: InfluxSettings,
    spool: Arc<Spool>,
    client: InfluxClient,
}

impl Output {
    pub fn open(settings: &InfluxSettings, spool: &SpoolSettings) -> Result<Output, OutputError> {
        let spool = Arc::new(Spool::open(&spool.dir, spool.max_bytes, spool.fsync)?);
        let client = InfluxClient::new(settings).map_err(|source| OutputError::Client {
            url: settings.url.clone(),
            source,
        })?;
        Ok(Output {
            settings: settings.clone(),
            spool,
            client,
        })
    }

    pub fn spool(&self) -> &Arc<Spool> {
        &self.spool
    }

    /// Starts the batcher and `parallel_writes` senders; they count into `metrics`. The
    /// senders stop when `stop` becomes true, the batcher once every handle is dropped.
    pub fn start(self, metrics: Arc<Metrics>, stop: watch::Receiver<bool>) -> Running {
        update_spool_gauges(&self.spool, &metrics);
        let (batcher, handle) = Batcher::new(
            self.spool.clone(),
            metrics.clone(),
            self.settings.batch_size,
            self.settings.flush_interval,
            self.settings.gzip,
        );
        let batcher = tokio::spawn(batcher.run());
        let senders = tokio::spawn(run_senders(
            self.client,
            self.spool.clone(),
            metrics,
            stop,
            self.settings.parallel_writes,
        ));
        Running {
            handle,
            spool: self.spool,
            batcher,
            senders,
        }
    }
}

/// A started output: points go in through [`Running::handle`].
pub struct Running {
    handle: BatcherHandle,
    spool: Arc<Spool>,
    batcher: JoinHandle<()>,
    senders: JoinHandle<()>,
}

impl Running {
    pub fn handle(&self) -> BatcherHandle {
        self.handle.clone()
    }

    pub fn spool(&self) -> &Arc<Spool> {
        &self.spool
    }

    /// Flushes what is batched into the spool (once every other handle is dropped), lets
    /// the senders deliver for up to `grace` (until the spool is empty), then stops them
    /// with `stop_senders`; the rest stays spooled for the next start. Returns what is left
    /// (batches, points).
    pub async fn drain(self, grace: Duration, stop_senders: watch::Sender<bool>) -> (usize, u64) {
        let Running {
            handle,
            spool,
            batcher,
            mut senders,
        } = self;
        drop(handle);
        let _ = batcher.await;
        let deadline = tokio::time::Instant::now() + grace;
        while spool.stats().0 > 0 && tokio::time::Instant::now() < deadline {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = &mut senders => break,
            }
        }
        let _ = stop_senders.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(2), senders).await;
        let (batches, _, points) = spool.stats();
        (batches, points)
    }
}
