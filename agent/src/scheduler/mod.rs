//! The scheduler. Every device (and each of its sources) runs in its own task on its own
//! timer, offset by a random jitter so devices do not poll in lockstep. SNMP polls share
//! a global concurrency limit; each poll has a deadline (90 % of the interval), so a slow
//! or dead device can only ever use its own time slot and one permit, never another
//! device's. Dead SNMP devices are polled less often (backoff) until they answer again.
mod backoff;
mod once;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

pub use backoff::Backoff;
pub use once::{collect_once, collect_once_each};

use crate::point::Point;
use crate::sinks::influxdb::BatcherHandle;
use crate::sources::Device;
use crate::sources::icmp::{self, Pinger};
use crate::sources::snmp::{self, collect::SnmpState};
use crate::telemetry::{Metrics, PollOutcome, Source};

fn unix_ns(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// What one poll of one device gave.
#[derive(Debug)]
pub struct Poll {
    pub points: Vec<Point>,
    pub outcome: PollOutcome,
    /// Why it failed, for `vigil-agent once`.
    pub error: Option<String>,
}

impl Poll {
    fn failed(duration_s: f64, timeout: bool, error: String) -> Poll {
        Poll {
            points: vec![],
            outcome: PollOutcome {
                duration_s,
                ok: false,
                timeout,
                late: false,
            },
            error: Some(error),
        }
    }
}

/// Runs every device's polls; shared by all device tasks.
#[derive(Clone)]
pub struct Scheduler {
    pub metrics: Arc<Metrics>,
    pub sink: Option<BatcherHandle>,
    /// Device alerting evaluates every poll's points and SNMP outcome, when configured.
    pub alerting: Option<crate::alerts::collector::DeviceAlerting>,
    pub pinger: Option<Arc<Pinger>>,
    pub snmp_limit: Arc<Semaphore>,
}

/// The deadline of one poll: 90 % of the interval.
pub fn deadline(interval: Duration) -> Duration {
    interval.mul_f64(0.9)
}

impl Scheduler {
    /// Starts one task per device and source; they stop when `stop` turns true.
    pub fn spawn_all(&self, devices: &[Arc<Device>], stop: &watch::Receiver<bool>) -> JoinSet<()> {
        let mut set = JoinSet::new();
        for d in devices {
            if d.snmp.is_some() && !d.profiles.is_empty() {
                set.spawn(
                    self.clone()
                        .device_loop(d.clone(), Source::Snmp, stop.clone()),
                );
            }
            if d.icmp.is_some() {
                set.spawn(
                    self.clone()
                        .device_loop(d.clone(), Source::Icmp, stop.clone()),
                );
            }
        }
        set
    }

    async fn device_loop(
        self,
        device: Arc<Device>,
        source: Source,
        mut stop: watch::Receiver<bool>,
    ) {
        let offset = if device.jitter.is_zero() {
            Duration::ZERO
        } else {
            rand::rng().random_range(Duration::ZERO..device.jitter)
        };
        // the wall-clock timestamp of tick k is start_wall + offset + k * interval
        let start = Instant::now() + offset;
        let start_wall = std::time::SystemTime::now() + offset;
        let mut snmp_state = device.snmp.as_ref().map(SnmpState::new);
        let mut backoff = Backoff::new(device.interval);
        let mut k: u32 = 0;
        loop {
            let due = start + device.interval * k;
            tokio::select! {
                _ = tokio::time::sleep_until(due.into()) => {}
                _ = stop.changed() => if *stop.borrow() { return; },
            }
            if *stop.borrow() {
                return;
            }
            let ts = unix_ns(start_wall + device.interval * k);
            let lateness = Instant::now().saturating_duration_since(due);
            let Poll {
                points, outcome, ..
            } = match source {
                Source::Snmp => self.poll_snmp(&device, snmp_state.as_mut(), ts).await,
                Source::Icmp => self.poll_icmp(&device, ts).await,
            };
            let late = lateness > device.interval / 10;
            let outcome = PollOutcome { late, ..outcome };
            self.metrics.record_poll(&device.name, source, outcome);
            self.metrics
                .points_collected
                .fetch_add(points.len() as u64, std::sync::atomic::Ordering::Relaxed);
            if let Some(alerting) = &self.alerting {
                if source == Source::Snmp {
                    alerting.snmp_poll(&device.name, outcome.ok);
                }
                alerting.observe(&points);
            }
            if let Some(sink) = &self.sink {
                let n = points.len();
                sink.send(points).await;
                // from here on a crash of this process no longer loses the poll
                tracing::debug!(device = %device.name, source = source.as_str(), ts, points = n, "poll handed over");
            }
            // next tick: skip ticks already missed; back off while an SNMP device is dead
            let skip = if source == Source::Snmp {
                backoff.after(outcome.ok)
            } else {
                1
            };
            let elapsed = Instant::now().saturating_duration_since(start);
            let next_possible =
                u32::try_from(elapsed.as_nanos() / device.interval.as_nanos().max(1))
                    .unwrap_or(u32::MAX)
                    + 1;
            k = (k + skip).max(next_possible);
        }
    }

    pub async fn poll_snmp(&self, device: &Device, state: Option<&mut SnmpState>, ts: i64) -> Poll {
        let (Some(settings), Some(state)) = (&device.snmp, state) else {
            return Poll::failed(0.0, false, "not configured".into());
        };
        let started = Instant::now();
        let Ok(_permit) = self.snmp_limit.acquire().await else {
            return Poll::failed(0.0, false, "not configured".into());
        };
        let limit = deadline(device.interval);
        let result = tokio::time::timeout(limit, snmp::collect(device, settings, state, ts)).await;
        let duration_s = started.elapsed().as_secs_f64();
        match result {
            Ok(poll) => {
                let ok = poll.error.is_none();
                let timeout = poll.error.as_ref().is_some_and(|e| e.is_timeout());
                match &poll.error {
                    None => {
                        tracing::debug!(device = %device.name, duration_s, values = poll.values, requests = poll.requests, "snmp poll ok")
                    }
                    Some(e) => {
                        tracing::warn!(device = %device.name, duration_s, values = poll.values, error = %e, "snmp poll failed")
                    }
                }
                Poll {
                    points: poll.points,
                    outcome: PollOutcome {
                        duration_s,
                        ok,
                        timeout,
                        late: false,
                    },
                    error: poll.error.map(|e| e.to_string()),
                }
            }
            Err(_) => {
                tracing::warn!(device = %device.name, deadline = ?limit, "snmp poll exceeded its deadline");
                Poll::failed(
                    duration_s,
                    true,
                    format!("no complete answer within the poll deadline of {limit:?}"),
                )
            }
        }
    }

    pub async fn poll_icmp(&self, device: &Device, ts: i64) -> Poll {
        let (Some(settings), Some(pinger)) = (&device.icmp, &self.pinger) else {
            return Poll::failed(0.0, false, "not configured".into());
        };
        let started = Instant::now();
        let stats = pinger.ping(&device.address, settings).await;
        let duration_s = started.elapsed().as_secs_f64();
        let ok = stats.received > 0;
        tracing::debug!(device = %device.name, duration_s, sent = stats.transmitted, received = stats.received, "icmp poll");
        Poll {
            points: vec![icmp::point(device, &stats, ts)],
            outcome: PollOutcome {
                duration_s,
                ok,
                timeout: !ok,
                late: false,
            },
            error: (!ok).then(|| format!("no echo reply ({} sent)", stats.transmitted)),
        }
    }
}
