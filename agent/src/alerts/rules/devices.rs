//! Device rules, evaluated inside the tenant collector from the points it produces:
//! DeviceDown, PacketLoss, LatencyHigh, SnmpUnreachable, InterfaceDown, DeviceRebooted,
//! CpuHigh, TemperatureHigh and SpoolOverflow. Feed every batch of points to
//! [`DeviceRules::observe`], every SNMP poll outcome to [`DeviceRules::snmp_poll`] and
//! spool overflows to [`DeviceRules::spool_overflow`]; [`DeviceRules::signals`] gives the
//! active set for the engine. DeviceDown is the parent of the device's other signals.
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::alerts::rules::{self, Rules};
use crate::alerts::signal::{Scope, Signal, fingerprint};
use crate::point::{FieldValue, Point};

/// The ifAlias marker that opts an interface out of InterfaceDown.
pub const NO_ALERT: &str = "[noalert]";

#[derive(Default)]
struct Device {
    tenant: Option<String>,
    /// The device's configured tags, for Slack routes.
    tags: BTreeMap<String, String>,
    down_rounds: u32,
    /// (time, loss %, average RTT ms if any reply)
    pings: VecDeque<(Instant, f64, Option<f64>)>,
    snmp_failures: u32,
    uptime: Option<i64>,
    rebooted_at: Option<Instant>,
    hostname: Option<String>,
    /// ifIndex → (name, alias, was oper up, down while admin up)
    interfaces: BTreeMap<String, (String, String, bool, bool)>,
    cpu: Option<f64>,
    temperatures: BTreeMap<String, f64>,
}

#[derive(Default)]
pub struct DeviceRules {
    devices: BTreeMap<String, Device>,
    overflow: Option<(Instant, u64)>,
    /// The collector's name, used as the spool overflow's object.
    pub agent: String,
    pub tenant: Option<String>,
    /// Configured tags by device name.
    tags: BTreeMap<String, BTreeMap<String, String>>,
}

fn num(p: &Point, f: &str) -> Option<f64> {
    match p.fields.get(f)? {
        FieldValue::Int(i) => Some(*i as f64),
        FieldValue::Float(x) => Some(*x),
        _ => None,
    }
}

impl DeviceRules {
    pub fn new(agent: &str, tenant: Option<String>) -> DeviceRules {
        DeviceRules {
            agent: agent.to_string(),
            tenant,
            ..Default::default()
        }
    }

    /// The configured tags of every device (the collector's `devices[].tags`).
    pub fn with_tags(mut self, tags: BTreeMap<String, BTreeMap<String, String>>) -> DeviceRules {
        self.tags = tags;
        self
    }

    fn device(&mut self, name: &str) -> &mut Device {
        let tenant = self.tenant.clone();
        let tags = self.tags.get(name).cloned().unwrap_or_default();
        self.devices
            .entry(name.to_string())
            .or_insert_with(|| Device {
                tenant,
                tags,
                ..Default::default()
            })
    }

    /// Takes in one batch of the collector's points.
    pub fn observe(&mut self, points: &[Point], now: Instant) {
        for p in points {
            let Some(dev) = p.tags.get("device").cloned() else {
                continue;
            };
            let d = self.device(&dev);
            if let Some(t) = p.tags.get("tenant") {
                d.tenant = Some(t.clone());
            }
            match p.measurement.as_str() {
                "ping" => {
                    let loss = num(p, "percent_packet_loss").unwrap_or(100.0);
                    d.down_rounds = if loss >= 100.0 { d.down_rounds + 1 } else { 0 };
                    d.pings
                        .push_back((now, loss, num(p, "average_response_ms")));
                }
                "snmp" => {
                    d.snmp_failures = 0;
                    if let Some(h) = p.tags.get("hostname") {
                        d.hostname = Some(h.clone());
                    }
                    if let Some(FieldValue::Int(up)) = p.fields.get("uptime") {
                        if d.uptime.is_some_and(|prev| *up < prev) {
                            d.rebooted_at = Some(now);
                        }
                        d.uptime = Some(*up);
                    }
                }
                "interface" => {
                    let idx = p.tags.get("index").cloned().unwrap_or_default();
                    let name = p
                        .tags
                        .get("ifName")
                        .or_else(|| p.tags.get("ifDescr"))
                        .cloned()
                        .unwrap_or_else(|| idx.clone());
                    let alias = p.tags.get("ifAlias").cloned().unwrap_or_default();
                    let oper_up = num(p, "ifOperStatus") == Some(1.0);
                    let admin_up = num(p, "ifAdminStatus") == Some(1.0);
                    let e = d
                        .interfaces
                        .entry(idx)
                        .or_insert_with(|| (name.clone(), alias.clone(), oper_up, false));
                    // up → down while admin up starts it; up again (or admin down) ends it
                    let down = if oper_up || !admin_up {
                        false
                    } else {
                        e.2 || e.3
                    };
                    *e = (name, alias, oper_up, down);
                }
                "host_resources" => d.cpu = num(p, "cpu_load_percent"),
                "entPhySensorTable"
                    if p.tags.get("sensor_type").map(String::as_str) == Some("celsius") =>
                {
                    let sensor = p
                        .tags
                        .get("entPhysicalName")
                        .or_else(|| p.tags.get("index"))
                        .cloned()
                        .unwrap_or_default();
                    if let Some(v) = num(p, "value") {
                        d.temperatures.insert(sensor, v);
                    }
                }
                _ => {}
            }
        }
    }

    /// An SNMP poll of `device` finished (`ok` = it answered).
    pub fn snmp_poll(&mut self, device: &str, ok: bool) {
        let d = self.device(device);
        d.snmp_failures = if ok { 0 } else { d.snmp_failures + 1 };
    }

    /// The collector's spool dropped data.
    pub fn spool_overflow(&mut self, dropped_points: u64, now: Instant) {
        let total = self.overflow.map_or(0, |o| o.1) + dropped_points;
        self.overflow = Some((now, total));
    }

    pub fn signals(&mut self, rules: &Rules, now: Instant) -> Vec<Signal> {
        let mut out = Vec::new();
        let window = |r: &rules::Rule| r.window.max(Duration::from_secs(1));
        for (name, d) in &mut self.devices {
            let scope = Scope {
                tenant: d.tenant.clone(),
                device: Some(name.clone()),
                object: format!("Device/{name}"),
                tags: d.tags.clone(),
                ..Default::default()
            };
            let down_fp = fingerprint(rules::DEVICE_DOWN, name);
            let sig = |rule: &str, r: &rules::Rule, id: &str| {
                let mut s = Signal::new(rule, r.severity, scope.clone(), id).hold(r.hold);
                if rule != rules::DEVICE_DOWN {
                    s.parents.push(down_fp.clone());
                }
                if let Some(h) = &d.hostname {
                    s = s.fact("sysName", h.clone());
                }
                s
            };
            let keep = rules
                .get(rules::PACKET_LOSS)
                .map(window)
                .unwrap_or_default()
                .max(
                    rules
                        .get(rules::LATENCY_HIGH)
                        .map(window)
                        .unwrap_or_default(),
                );
            while d
                .pings
                .front()
                .is_some_and(|(t, ..)| now.duration_since(*t) > keep)
            {
                d.pings.pop_front();
            }
            if let Some(r) = rules.get(rules::DEVICE_DOWN)
                && f64::from(d.down_rounds) >= r.threshold.max(1.0)
            {
                out.push(sig(rules::DEVICE_DOWN, r, name).summary(format!(
                    "no ICMP reply for {} rounds in a row",
                    d.down_rounds
                )));
            }
            if let Some(r) = rules.get(rules::PACKET_LOSS) {
                let w: Vec<f64> = d
                    .pings
                    .iter()
                    .filter(|(t, ..)| now.duration_since(*t) <= window(r))
                    .map(|p| p.1)
                    .collect();
                let avg = w.iter().sum::<f64>() / w.len().max(1) as f64;
                if !w.is_empty() && avg > r.threshold && avg < 100.0 {
                    out.push(sig(rules::PACKET_LOSS, r, name).summary(format!(
                        "{avg:.1} % packet loss over {}s",
                        window(r).as_secs()
                    )));
                }
            }
            if let Some(r) = rules.get(rules::LATENCY_HIGH) {
                let w: Vec<f64> = d
                    .pings
                    .iter()
                    .filter(|(t, ..)| now.duration_since(*t) <= window(r))
                    .filter_map(|p| p.2)
                    .collect();
                let avg = w.iter().sum::<f64>() / w.len().max(1) as f64;
                if !w.is_empty() && avg > r.threshold {
                    out.push(sig(rules::LATENCY_HIGH, r, name).summary(format!(
                        "average round trip {avg:.1} ms over {}s",
                        window(r).as_secs()
                    )));
                }
            }
            if let Some(r) = rules.get(rules::SNMP_UNREACHABLE)
                && f64::from(d.snmp_failures) >= r.threshold.max(1.0)
            {
                out.push(
                    sig(rules::SNMP_UNREACHABLE, r, name)
                        .summary(format!("{} SNMP polls in a row failed", d.snmp_failures)),
                );
            }
            if let Some(r) = rules.get(rules::INTERFACE_DOWN) {
                for (idx, (ifname, alias, _, down)) in &d.interfaces {
                    if *down && !alias.contains(NO_ALERT) {
                        let mut s = sig(rules::INTERFACE_DOWN, r, &format!("{name}/{idx}"))
                            .summary(format!("interface {ifname} went down (admin up)"))
                            .fact("Interface", ifname.clone());
                        if !alias.is_empty() {
                            s = s.fact("ifAlias", alias.clone());
                        }
                        out.push(s);
                    }
                }
            }
            if let Some(r) = rules.get(rules::DEVICE_REBOOTED)
                && let Some(at) = d.rebooted_at
            {
                if now.duration_since(at) <= window(r) {
                    out.push(
                        sig(rules::DEVICE_REBOOTED, r, name)
                            .summary("the device rebooted (sysUpTime went backwards)"),
                    );
                } else {
                    d.rebooted_at = None;
                }
            }
            if let Some(r) = rules.get(rules::CPU_HIGH)
                && let Some(cpu) = d.cpu.filter(|c| *c > r.threshold)
            {
                out.push(sig(rules::CPU_HIGH, r, name).summary(format!("CPU load {cpu:.0} %")));
            }
            if let Some(r) = rules.get(rules::TEMPERATURE_HIGH) {
                for (sensor, v) in &d.temperatures {
                    if *v > r.threshold {
                        out.push(
                            sig(rules::TEMPERATURE_HIGH, r, &format!("{name}/{sensor}"))
                                .summary(format!("sensor {sensor} at {v:.1} °C"))
                                .fact("Sensor", sensor.clone()),
                        );
                    }
                }
            }
        }
        if let (Some(r), Some((at, dropped))) = (rules.get(rules::SPOOL_OVERFLOW), self.overflow) {
            if now.duration_since(at) <= window(r) {
                out.push(
                    Signal::new(
                        rules::SPOOL_OVERFLOW,
                        r.severity,
                        Scope {
                            tenant: self.tenant.clone(),
                            object: format!("Collector/{}", self.agent),
                            ..Default::default()
                        },
                        &self.agent,
                    )
                    .hold(r.hold)
                    .summary(format!(
                        "the spool is full: {dropped} points of the oldest data were dropped"
                    )),
                );
            } else {
                self.overflow = None;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
