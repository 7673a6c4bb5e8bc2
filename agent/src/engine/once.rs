//! One collection cycle of every (or one) device, for `vigil-agent once`.
use std::sync::Arc;

use futures::StreamExt;

use super::Engine;
use crate::config::Device;
use crate::point::{Point, now_ns};
use crate::sources::snmp::collect::SnmpState;

/// (device, error) pairs.
pub type Errors = Vec<(String, String)>;

/// Polls the devices once (SNMP and ICMP), at most `concurrency` at a time, and returns the
/// points and the devices whose polls failed with their errors.
pub async fn collect_once(
    engine: &Engine,
    devices: &[Arc<Device>],
    concurrency: usize,
) -> (Vec<Point>, Errors) {
    let ts = now_ns();
    let results: Vec<(Vec<Point>, Errors)> = futures::stream::iter(devices.iter().cloned())
        .map(|d| async move {
            let mut points = Vec::new();
            let mut errors = Vec::new();
            if d.snmp.is_some() && !d.profiles.is_empty() {
                let mut state = d.snmp.as_ref().map(SnmpState::new);
                let (p, _, err) = engine.poll_snmp(&d, state.as_mut(), ts).await;
                if let Some(e) = err {
                    errors.push((d.name.clone(), format!("snmp: {e}")));
                }
                points.extend(p);
            }
            if d.icmp.is_some() {
                let (p, _, _) = engine.poll_icmp(&d, ts).await;
                points.extend(p);
            }
            (points, errors)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut points = Vec::new();
    let mut errors = Vec::new();
    for (p, e) in results {
        points.extend(p);
        errors.extend(e);
    }
    (points, errors)
}
