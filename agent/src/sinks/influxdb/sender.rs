//! Sends spooled batches oldest first. Temporary failures are retried with exponential
//! backoff (honouring `Retry-After`); a batch refused for its content is split in halves
//! until the offending lines are isolated, and only those are dropped and counted.
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use flate2::read::GzDecoder;
use rand::Rng;
use tokio::sync::watch;

use super::batcher::update_spool_gauges;
use super::client::{InfluxClient, WriteOutcome};
use crate::spool::Spool;
use crate::telemetry::Metrics;

const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

fn jittered(d: Duration) -> Duration {
    d.mul_f64(rand::rng().random_range(0.8..1.2))
}

fn gzip(text: &[u8]) -> Vec<u8> {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    if e.write_all(text).is_err() {
        return text.to_vec();
    }
    e.finish().unwrap_or_else(|_| text.to_vec())
}

/// Sends until `stop` becomes true with up to `parallel` batches in flight; batches are
/// handed out oldest first, so with `parallel = 1` delivery is strictly in order.
pub async fn run_senders(
    client: InfluxClient,
    spool: Arc<Spool>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
    parallel: usize,
) {
    let client = Arc::new(client);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..parallel.max(1) {
        workers.spawn(worker(
            client.clone(),
            spool.clone(),
            metrics.clone(),
            stop.clone(),
        ));
    }
    while workers.join_next().await.is_some() {}
}

async fn worker(
    client: Arc<InfluxClient>,
    spool: Arc<Spool>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let Some(entry) = spool.oldest() else {
            if *stop.borrow() {
                return;
            }
            tokio::select! {
                _ = spool.wait() => {}
                _ = stop.changed() => {}
                // also re-check periodically, in case a notification raced
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        };
        let body = match spool.read(&entry) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "spooled batch unreadable: dropped");
                metrics.points_dropped.fetch_add(entry.points, Relaxed);
                spool.remove(&entry);
                continue;
            }
        };
        // a cut last line is cheap to see here; a gzip stream that does not decode is found
        // when InfluxDB refuses it (400) and the batch is decoded to split it
        if !entry.gzip && body.last().is_some_and(|&b| b != b'\n') {
            quarantine(
                &spool,
                &metrics,
                &entry,
                "truncated: the last line is incomplete",
            );
            continue;
        }
        match client.write(body.clone(), entry.gzip).await {
            WriteOutcome::Accepted => {
                metrics.points_written.fetch_add(entry.points, Relaxed);
                metrics.batches_written.fetch_add(1, Relaxed);
                spool.remove(&entry);
                update_spool_gauges(&spool, &metrics);
                backoff = MIN_BACKOFF;
            }
            WriteOutcome::BadData { reason } => {
                tracing::warn!(points = entry.points, %reason, "batch refused: splitting to find the bad lines");
                let text = if entry.gzip {
                    let mut s = Vec::new();
                    if GzDecoder::new(&body[..]).read_to_end(&mut s).is_err() {
                        quarantine(&spool, &metrics, &entry, "gzip does not decode");
                        continue;
                    }
                    s
                } else {
                    body
                };
                let lines: Vec<&[u8]> = text
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .collect();
                let (ok, bad) = split_send(&client, &lines, entry.gzip, &metrics).await;
                match (ok, bad) {
                    (Some(ok), bad) => {
                        metrics.points_written.fetch_add(ok, Relaxed);
                        metrics.points_rejected.fetch_add(bad, Relaxed);
                        spool.remove(&entry);
                        update_spool_gauges(&spool, &metrics);
                    }
                    (None, _) => {
                        // InfluxDB went away while splitting: retry the whole batch later
                        spool.release(&entry);
                        tokio::time::sleep(jittered(backoff)).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
            outcome => {
                let (reason, retry_after, refused) = match outcome {
                    WriteOutcome::Retry {
                        reason,
                        retry_after,
                    } => (reason, retry_after, false),
                    WriteOutcome::Refused { reason } => (reason, None, true),
                    _ => (String::new(), None, false),
                };
                metrics.write_errors.fetch_add(1, Relaxed);
                spool.release(&entry);
                let wait = retry_after
                    .map_or_else(|| jittered(backoff), |r| r.min(Duration::from_secs(600)));
                if refused {
                    tracing::error!(%reason, retry_in = ?wait, "InfluxDB refused the write: check url, org/bucket or database and credentials");
                } else {
                    tracing::warn!(%reason, retry_in = ?wait, spooled_points = spool.stats().2, "write failed; data stays spooled");
                }
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => if *stop.borrow() { return; },
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Moves a batch that cannot be what the batcher wrote aside (`*.corrupt`), counting its
/// points as dropped.
fn quarantine(spool: &Spool, metrics: &Metrics, entry: &crate::spool::Entry, why: &str) {
    let kept = spool.quarantine(entry);
    metrics.points_dropped.fetch_add(entry.points, Relaxed);
    update_spool_gauges(spool, metrics);
    tracing::error!(file = %entry.path.display(), kept_as = %kept.display(), points = entry.points, reason = why, "spooled batch is corrupt: moved aside, its points counted as dropped");
}

/// Sends `lines` in halves until each part is accepted or a single line is refused.
/// Returns (accepted, rejected) line counts, or `None` if a temporary error interrupted.
async fn split_send(
    client: &InfluxClient,
    lines: &[&[u8]],
    gzip_on: bool,
    metrics: &Metrics,
) -> (Option<u64>, u64) {
    let mut stack: Vec<&[&[u8]]> = vec![lines];
    let (mut ok, mut bad) = (0u64, 0u64);
    while let Some(part) = stack.pop() {
        if part.is_empty() {
            continue;
        }
        let mut text = part.join(&b'\n');
        text.push(b'\n');
        let body = if gzip_on { gzip(&text) } else { text };
        match client.write(body, gzip_on).await {
            WriteOutcome::Accepted => ok += part.len() as u64,
            WriteOutcome::BadData { reason } if part.len() == 1 => {
                bad += 1;
                let line = String::from_utf8_lossy(part[0]);
                tracing::error!(line = %line.chars().take(500).collect::<String>(), %reason, "point rejected by InfluxDB: dropped");
            }
            WriteOutcome::BadData { .. } => {
                let (a, b) = part.split_at(part.len() / 2);
                stack.push(b);
                stack.push(a);
            }
            _ => {
                metrics.write_errors.fetch_add(1, Relaxed);
                return (None, bad);
            }
        }
    }
    (Some(ok), bad)
}
