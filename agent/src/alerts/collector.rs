//! Device alerting inside the tenant collector: the collector hands every batch of points
//! and every SNMP poll outcome to a [`DeviceAlerting`] handle; [`DeviceSignals`] feeds them
//! (and the spool overflows the collector's telemetry reports) to the device rules and
//! gives the engine the active signals. The command runs it as one more alerting scope,
//! with its state in a local file and its changes written to the collector's own InfluxDB
//! as the `alerts` measurement, which the tenant's dashboards show.
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Notify, broadcast, mpsc};

use super::rules::Rules;
use super::rules::devices::DeviceRules;
use super::runner::SignalSource;
use super::signal::Signal;
use crate::point::Point;
use crate::telemetry::Event;

enum Input {
    Points(Vec<Point>),
    Snmp(String, bool),
}

/// The device rules fed by the collector: the signal source of the collector's scope.
pub struct DeviceSignals {
    rules: Arc<Rules>,
    devices: DeviceRules,
    rx: mpsc::Receiver<Input>,
    events: broadcast::Receiver<Event>,
}

impl SignalSource for DeviceSignals {
    fn signals(&mut self) -> Vec<Signal> {
        let now = Instant::now();
        while let Ok(input) = self.rx.try_recv() {
            match input {
                Input::Points(p) => self.devices.observe(&p, now),
                Input::Snmp(d, ok) => self.devices.snmp_poll(&d, ok),
            }
        }
        loop {
            match self.events.try_recv() {
                Ok(Event::SpoolOverflow { dropped_points, .. }) => {
                    self.devices.spool_overflow(dropped_points, now)
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
        self.devices.signals(&self.rules, now)
    }
}

/// The collector's handle to device alerting. Cheap to clone.
#[derive(Clone)]
pub struct DeviceAlerting {
    tx: mpsc::Sender<Input>,
    trigger: Arc<Notify>,
}

impl DeviceAlerting {
    /// The handle, the signal source it feeds, and the trigger notified on every input.
    pub fn new(
        rules: Arc<Rules>,
        devices: DeviceRules,
        events: broadcast::Receiver<Event>,
    ) -> (DeviceAlerting, DeviceSignals, Arc<Notify>) {
        let (tx, rx) = mpsc::channel(1024);
        let trigger = Arc::new(Notify::new());
        let signals = DeviceSignals {
            rules,
            devices,
            rx,
            events,
        };
        (
            DeviceAlerting {
                tx,
                trigger: trigger.clone(),
            },
            signals,
            trigger,
        )
    }

    /// A batch of the collector's points (never blocks a poller: a full queue drops the
    /// batch for alerting only, with a warning; InfluxDB still gets it).
    pub fn observe(&self, points: &[Point]) {
        if self.tx.try_send(Input::Points(points.to_vec())).is_err() {
            tracing::warn!("device alerting is behind: a batch of points was not evaluated");
        }
        self.trigger.notify_one();
    }

    /// The outcome of one SNMP poll of `device`.
    pub fn snmp_poll(&self, device: &str, ok: bool) {
        let _ = self.tx.try_send(Input::Snmp(device.to_string(), ok));
        self.trigger.notify_one();
    }
}
