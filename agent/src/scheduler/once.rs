//! One collection cycle of every (or one) device, for `vigil-agent once`.
use std::sync::Arc;

use futures::StreamExt;

use super::Scheduler;
use crate::point::{Point, now_ns};
use crate::sources::Device;
use crate::sources::snmp::collect::SnmpState;

/// (device, error) pairs.
pub type Errors = Vec<(String, String)>;

/// Polls the devices once (SNMP and ICMP) and returns the points and the devices whose
/// polls failed with their errors. All devices start at once: SNMP polls are limited by the
/// scheduler's SNMP concurrency limit, ICMP echoes share one socket and are not limited.
pub async fn collect_once(scheduler: &Scheduler, devices: &[Arc<Device>]) -> (Vec<Point>, Errors) {
    let mut all = Vec::new();
    let errors = collect_once_each(scheduler, devices, |p| all.extend(p)).await;
    (all, errors)
}

/// Like [`collect_once`], but hands each device's points to `sink` as soon as they are
/// collected, so a large cycle never holds every point in memory at once.
pub async fn collect_once_each(
    scheduler: &Scheduler,
    devices: &[Arc<Device>],
    mut sink: impl FnMut(Vec<Point>),
) -> Errors {
    let ts = now_ns();
    let mut results = futures::stream::iter(devices.iter().cloned())
        .map(|d| async move {
            let mut points = Vec::new();
            let mut errors = Vec::new();
            if d.snmp.is_some() && !d.profiles.is_empty() {
                let mut state = d.snmp.as_ref().map(SnmpState::new);
                // boxed: only SNMP devices pay for an SNMP poll's state, not every device
                // of a 5,000-target ICMP cycle
                let super::Poll {
                    points: p,
                    error: err,
                    ..
                } = Box::pin(scheduler.poll_snmp(&d, state.as_mut(), ts)).await;
                if let Some(e) = err {
                    errors.push((d.name.clone(), format!("snmp: {e}")));
                }
                points.extend(p);
            }
            if d.icmp.is_some() {
                let p = scheduler.poll_icmp(&d, ts).await.points;
                points.extend(p);
            }
            (points, errors)
        })
        .buffer_unordered(devices.len().max(1));
    let mut errors = Vec::new();
    while let Some((p, e)) = results.next().await {
        sink(p);
        errors.extend(e);
    }
    errors
}
