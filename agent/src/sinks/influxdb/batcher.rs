//! Collects points into batches of at most `batch_size` lines, flushed at the latest after
//! `flush_interval`, and puts each batch (gzipped if configured) into the spool. A hand-over
//! ([`BatcherHandle::send`]) returns once its lines are in the spool's journal: from then on
//! a killed process loses none of them.
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use tokio::sync::{mpsc, oneshot};

use crate::lineproto;
use crate::point::Point;
use crate::spool::Spool;
use crate::telemetry::{Event, Metrics};

type HandOver = (Vec<Point>, oneshot::Sender<()>);

/// Where pollers send their points.
#[derive(Clone)]
pub struct BatcherHandle {
    tx: mpsc::Sender<HandOver>,
}

impl BatcherHandle {
    /// Hands points over and waits until they are in the spool's journal (back-pressure,
    /// never drops): when this returns, a process crash no longer loses them.
    pub async fn send(&self, points: Vec<Point>) {
        if points.is_empty() {
            return;
        }
        let (ack, done) = oneshot::channel();
        if self.tx.send((points, ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

pub struct Batcher {
    rx: mpsc::Receiver<HandOver>,
    spool: Arc<Spool>,
    metrics: Arc<Metrics>,
    batch_size: usize,
    flush_interval: Duration,
    gzip: bool,
    buf: String,
    lines: usize,
}

impl Batcher {
    pub fn new(
        spool: Arc<Spool>,
        metrics: Arc<Metrics>,
        batch_size: usize,
        flush_interval: Duration,
        gzip: bool,
    ) -> (Batcher, BatcherHandle) {
        let (tx, rx) = mpsc::channel(1024);
        (
            Batcher {
                rx,
                spool,
                metrics,
                batch_size,
                flush_interval,
                gzip,
                buf: String::new(),
                lines: 0,
            },
            BatcherHandle { tx },
        )
    }

    /// Runs until every handle is dropped; then flushes what is left.
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(self.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Some((points, ack)) => {
                        self.take(&points);
                        let _ = ack.send(());
                    }
                    None => break,
                },
                _ = tick.tick() => self.flush(b""),
            }
        }
        self.flush(b"");
    }

    /// Encodes a hand-over, appends it to the journal, then batches it line by line.
    fn take(&mut self, points: &[Point]) {
        let mut text = String::new();
        let mut ends = Vec::with_capacity(points.len());
        for p in points {
            if lineproto::encode_into(&mut text, p) {
                ends.push(text.len());
            }
        }
        if let Err(e) = self.spool.journal_append(text.as_bytes()) {
            tracing::error!(error = %e, "cannot journal points: they are lost if the process crashes before the next batch");
        }
        let mut start = 0;
        for end in ends {
            self.buf.push_str(&text[start..end]);
            start = end;
            self.lines += 1;
            if self.lines >= self.batch_size {
                // the journal keeps exactly what is still waiting
                self.flush(&text.as_bytes()[start..]);
            }
        }
    }

    /// Pushes the batch into the spool; the journal then holds only `rest`.
    fn flush(&mut self, rest: &[u8]) {
        if self.lines == 0 {
            return;
        }
        self.flush_batch();
        if let Err(e) = self.spool.journal_replace(rest) {
            tracing::error!(error = %e, "cannot reset the journal: its points may be sent twice after a crash");
        }
    }

    fn flush_batch(&mut self) {
        let text = std::mem::take(&mut self.buf);
        let lines = std::mem::replace(&mut self.lines, 0) as u64;
        let body = if self.gzip {
            let mut enc = GzEncoder::new(Vec::with_capacity(text.len() / 6), Compression::fast());
            match enc.write_all(text.as_bytes()).and_then(|()| enc.finish()) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "gzip failed; spooling uncompressed");
                    return self.push(text.into_bytes(), lines, false);
                }
            }
        } else {
            text.into_bytes()
        };
        self.push(body, lines, self.gzip);
    }

    fn push(&mut self, body: Vec<u8>, lines: u64, gzip: bool) {
        match self.spool.push(&body, lines, gzip) {
            Ok(pushed) => {
                if pushed.dropped_points > 0 {
                    self.metrics
                        .points_dropped
                        .fetch_add(pushed.dropped_points, Relaxed);
                    tracing::error!(
                        dropped_points = pushed.dropped_points,
                        dropped_batches = pushed.dropped_batches,
                        "spool full: oldest data dropped"
                    );
                    self.metrics.emit(Event::SpoolOverflow {
                        dropped_points: pushed.dropped_points,
                        dropped_batches: pushed.dropped_batches,
                    });
                }
            }
            Err(e) => {
                self.metrics.points_dropped.fetch_add(lines, Relaxed);
                tracing::error!(error = %e, points = lines, "cannot spool batch: points dropped");
            }
        }
        update_spool_gauges(&self.spool, &self.metrics);
    }
}

/// Copies the spool's size into the metrics (after every push and every delivery).
pub fn update_spool_gauges(spool: &Spool, metrics: &Metrics) {
    let (batches, bytes, points) = spool.stats();
    metrics.spool_batches.store(batches as u64, Relaxed);
    metrics.spool_bytes.store(bytes, Relaxed);
    metrics.spool_points.store(points, Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::point::FieldValue;

    #[tokio::test]
    async fn a_full_spool_drops_the_oldest_and_reports_it() {
        let dir = std::env::temp_dir().join(format!("vigil-batcher-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Arc::new(Spool::open(&dir, 1 << 20, false).unwrap());
        let metrics = Arc::new(Metrics::new("t"));
        let mut events = metrics.subscribe();
        // uncompressed batches of 1,000 lines (~60 KB): the 1 MiB spool holds ~17 of them
        let (batcher, handle) = Batcher::new(
            spool.clone(),
            metrics.clone(),
            1000,
            Duration::from_secs(3600),
            false,
        );
        let task = tokio::spawn(batcher.run());
        for b in 0..40 {
            let points = (0..1000)
                .map(|i| {
                    let mut p = Point::new("interface", b * 1000 + i);
                    p.tag("device", format!("device-{i:04}"));
                    p.field("ifHCInOctets", FieldValue::Int(i));
                    p
                })
                .collect();
            handle.send(points).await;
        }
        drop(handle);
        task.await.unwrap();
        let dropped = metrics.points_dropped.load(Relaxed);
        let (_, bytes, points) = spool.stats();
        assert!(bytes <= 1 << 20);
        assert_eq!(
            dropped + points,
            40_000,
            "every point is either spooled or counted as dropped"
        );
        assert!(dropped >= 20_000, "{dropped}");
        assert_eq!(metrics.spool_points.load(Relaxed), points);
        match events.try_recv().unwrap() {
            Event::SpoolOverflow { dropped_points, .. } => assert!(dropped_points >= 1000),
        }
        // what is left is the newest data
        let oldest = spool.oldest().unwrap();
        let text = String::from_utf8(spool.read(&oldest).unwrap()).unwrap();
        let ts: i64 = text
            .lines()
            .next()
            .unwrap()
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            ts >= 20_000,
            "oldest remaining point is from batch {}",
            ts / 1000
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
