//! The agent's counters and gauges.
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use tokio::sync::broadcast;

use crate::point::{FieldValue, Point};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Snmp,
    Icmp,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Snmp => "snmp",
            Source::Icmp => "icmp",
        }
    }
}

/// Result of one poll as the metrics see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollOutcome {
    pub duration_s: f64,
    pub ok: bool,
    pub timeout: bool,
    pub late: bool,
}

#[derive(Debug, Default, Clone)]
struct DeviceStats {
    polls: u64,
    errors: u64,
    timeouts: u64,
    late: u64,
    last_duration_s: f64,
    last_ok: bool,
}

/// Things other parts of the agent (the later alerting role) may react to.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The spool was full and the oldest batches were dropped.
    SpoolOverflow {
        dropped_points: u64,
        dropped_batches: u64,
    },
}

/// A labelled gauge: its help text and its series (rendered labels → value).
type Gauge = (&'static str, BTreeMap<String, f64>);

#[derive(Debug)]
pub struct Metrics {
    pub agent: String,
    pub points_collected: AtomicU64,
    pub points_written: AtomicU64,
    pub points_rejected: AtomicU64,
    pub points_dropped: AtomicU64,
    pub batches_written: AtomicU64,
    pub write_errors: AtomicU64,
    pub spool_bytes: AtomicU64,
    pub spool_points: AtomicU64,
    pub spool_batches: AtomicU64,
    pub ready: AtomicBool,
    /// Set while a watch has been out of touch with the API server for longer than the
    /// configured staleness: `/readyz` fails.
    pub stale: AtomicBool,
    /// Labelled gauges set by the components: name → (help, rendered labels → value).
    gauges: Mutex<BTreeMap<&'static str, Gauge>>,
    devices: Mutex<BTreeMap<(String, Source), DeviceStats>>,
    events: broadcast::Sender<Event>,
}

impl Metrics {
    pub fn new(agent: &str) -> Metrics {
        Metrics {
            agent: agent.to_string(),
            points_collected: AtomicU64::new(0),
            points_written: AtomicU64::new(0),
            points_rejected: AtomicU64::new(0),
            points_dropped: AtomicU64::new(0),
            batches_written: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
            spool_bytes: AtomicU64::new(0),
            spool_points: AtomicU64::new(0),
            spool_batches: AtomicU64::new(0),
            ready: AtomicBool::new(false),
            stale: AtomicBool::new(false),
            gauges: Mutex::new(BTreeMap::new()),
            devices: Mutex::new(BTreeMap::new()),
            events: broadcast::channel(64).0,
        }
    }

    /// Whether `/readyz` answers 200: started, and no watch stale.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Relaxed) && !self.stale.load(Relaxed)
    }

    /// Sets one series of a labelled gauge (label values are escaped here).
    pub fn set_gauge(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let rendered = render_labels(labels);
        let mut g = self.gauges.lock().unwrap_or_else(|p| p.into_inner());
        g.entry(name)
            .or_insert_with(|| (help, BTreeMap::new()))
            .1
            .insert(rendered, value);
    }

    /// Replaces every series of a labelled gauge at once (series gone are dropped).
    pub fn set_gauges(
        &self,
        name: &'static str,
        help: &'static str,
        series: &[(Vec<(&str, &str)>, f64)],
    ) {
        let rendered: BTreeMap<String, f64> = series
            .iter()
            .map(|(labels, v)| (render_labels(labels), *v))
            .collect();
        let mut g = self.gauges.lock().unwrap_or_else(|p| p.into_inner());
        g.insert(name, (help, rendered));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub fn emit(&self, e: Event) {
        let _ = self.events.send(e);
    }

    pub fn record_poll(&self, device: &str, source: Source, o: PollOutcome) {
        let mut d = self.devices.lock().unwrap_or_else(|p| p.into_inner());
        let s = d.entry((device.to_string(), source)).or_default();
        s.polls += 1;
        s.errors += u64::from(!o.ok);
        s.timeouts += u64::from(o.timeout);
        s.late += u64::from(o.late);
        s.last_duration_s = o.duration_s;
        s.last_ok = o.ok;
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        counter(
            &mut out,
            "vigil_points_collected_total",
            "Points produced by polls.",
            self.points_collected.load(Relaxed),
        );
        counter(
            &mut out,
            "vigil_points_written_total",
            "Points accepted by InfluxDB.",
            self.points_written.load(Relaxed),
        );
        counter(
            &mut out,
            "vigil_points_rejected_total",
            "Points InfluxDB rejected as invalid (dropped).",
            self.points_rejected.load(Relaxed),
        );
        counter(
            &mut out,
            "vigil_points_dropped_total",
            "Points dropped because the spool was full.",
            self.points_dropped.load(Relaxed),
        );
        counter(
            &mut out,
            "vigil_batches_written_total",
            "Batches accepted by InfluxDB.",
            self.batches_written.load(Relaxed),
        );
        counter(
            &mut out,
            "vigil_write_errors_total",
            "Failed write attempts (retried).",
            self.write_errors.load(Relaxed),
        );
        gauge(
            &mut out,
            "vigil_spool_bytes",
            "Bytes waiting in the spool.",
            self.spool_bytes.load(Relaxed),
        );
        gauge(
            &mut out,
            "vigil_spool_points",
            "Points waiting in the spool.",
            self.spool_points.load(Relaxed),
        );
        gauge(
            &mut out,
            "vigil_spool_batches",
            "Batches waiting in the spool.",
            self.spool_batches.load(Relaxed),
        );
        for (name, (help, series)) in self.gauges.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (labels, v) in series {
                let _ = writeln!(out, "{name}{{{labels}}} {v}");
            }
        }
        let d = self
            .devices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        type Series = (
            &'static str,
            &'static str,
            &'static str,
            fn(&DeviceStats) -> String,
        );
        let series: [Series; 5] = [
            (
                "vigil_polls_total",
                "counter",
                "Polls per device and source.",
                |s| s.polls.to_string(),
            ),
            ("vigil_poll_errors_total", "counter", "Failed polls.", |s| {
                s.errors.to_string()
            }),
            (
                "vigil_poll_timeouts_total",
                "counter",
                "Polls that timed out.",
                |s| s.timeouts.to_string(),
            ),
            (
                "vigil_polls_late_total",
                "counter",
                "Polls that started later than scheduled.",
                |s| s.late.to_string(),
            ),
            (
                "vigil_poll_duration_seconds",
                "gauge",
                "Duration of the last poll.",
                |s| format!("{:.6}", s.last_duration_s),
            ),
        ];
        for (name, ty, help, f) in series {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {ty}");
            for ((dev, src), s) in &d {
                let dev = label_value(dev);
                let _ = writeln!(
                    out,
                    "{name}{{device=\"{dev}\",source=\"{}\"}} {}",
                    src.as_str(),
                    f(s)
                );
            }
        }
        out
    }

    /// A short human-readable summary: per source, devices and polls that succeeded, and
    /// what was written. Printed by `vigil-agent run --for`.
    pub fn summary(&self) -> String {
        let d = self
            .devices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut out = String::new();
        for src in [Source::Snmp, Source::Icmp] {
            let stats: Vec<(&String, &DeviceStats)> = d
                .iter()
                .filter(|((_, s), _)| *s == src)
                .map(|((n, _), s)| (n, s))
                .collect();
            if stats.is_empty() {
                continue;
            }
            let ok_devices = stats.iter().filter(|(_, s)| s.last_ok).count();
            let polls: u64 = stats.iter().map(|(_, s)| s.polls).sum();
            let errors: u64 = stats.iter().map(|(_, s)| s.errors).sum();
            let failing: Vec<&str> = stats
                .iter()
                .filter(|(_, s)| !s.last_ok)
                .map(|(n, _)| n.as_str())
                .collect();
            let _ = write!(
                out,
                "{:<5} {ok_devices}/{} devices answering, {polls} polls, {errors} failed",
                src.as_str(),
                stats.len()
            );
            if !failing.is_empty() {
                let _ = write!(out, " (not answering: {})", failing.join(", "));
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "points: {} collected, {} written, {} rejected, {} dropped; {} still spooled",
            self.points_collected.load(Relaxed),
            self.points_written.load(Relaxed),
            self.points_rejected.load(Relaxed),
            self.points_dropped.load(Relaxed),
            self.spool_points.load(Relaxed)
        );
        out
    }

    /// The agent's own metrics as points: one `vigil_agent` point and one `vigil_poll`
    /// point per device and source.
    pub fn points(&self, ts: i64) -> Vec<Point> {
        let mut p = Point::new("vigil_agent", ts);
        p.tag("agent", self.agent.clone());
        let i = |v: &AtomicU64| FieldValue::from_u64(v.load(Relaxed));
        p.field("points_collected", i(&self.points_collected));
        p.field("points_written", i(&self.points_written));
        p.field("points_rejected", i(&self.points_rejected));
        p.field("points_dropped", i(&self.points_dropped));
        p.field("write_errors", i(&self.write_errors));
        p.field("spool_bytes", i(&self.spool_bytes));
        p.field("spool_points", i(&self.spool_points));
        let d = self
            .devices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let (mut polls, mut errors, mut timeouts) = (0, 0, 0);
        let mut out = Vec::with_capacity(d.len() + 1);
        for ((dev, src), s) in &d {
            polls += s.polls;
            errors += s.errors;
            timeouts += s.timeouts;
            let mut q = Point::new("vigil_poll", ts);
            q.tag("agent", self.agent.clone());
            q.tag("device", dev.clone());
            q.tag("source", src.as_str());
            q.field("polls", FieldValue::from_u64(s.polls));
            q.field("errors", FieldValue::from_u64(s.errors));
            q.field("timeouts", FieldValue::from_u64(s.timeouts));
            q.field("late", FieldValue::from_u64(s.late));
            q.field("duration_ms", FieldValue::Float(s.last_duration_s * 1000.0));
            q.field("success", FieldValue::Bool(s.last_ok));
            out.push(q);
        }
        p.field("polls", FieldValue::from_u64(polls));
        p.field("poll_errors", FieldValue::from_u64(errors));
        p.field("poll_timeouts", FieldValue::from_u64(timeouts));
        out.insert(0, p);
        out
    }
}

fn render_labels(labels: &[(&str, &str)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", label_value(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
