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
    pings: VecDeque<Ping>,
    snmp_failures: u32,
    uptime: Option<i64>,
    rebooted_at: Option<Instant>,
    hostname: Option<String>,
    /// By ifIndex.
    interfaces: BTreeMap<String, Interface>,
    cpu: Option<f64>,
    temperatures: BTreeMap<String, f64>,
}

/// One ICMP round.
struct Ping {
    at: Instant,
    loss_percent: f64,
    /// Average round trip, if any reply came.
    rtt_ms: Option<f64>,
}

struct Interface {
    name: String,
    alias: String,
    oper_up: bool,
    /// Went down while administratively up, and is still down.
    down: bool,
}

/// The spool's drops since the last overflow signal ended.
#[derive(Clone, Copy)]
struct Overflow {
    at: Instant,
    dropped: u64,
}

#[derive(Default)]
pub struct DeviceRules {
    devices: BTreeMap<String, Device>,
    overflow: Option<Overflow>,
    /// The collector's name, used as the spool overflow's object.
    pub agent: String,
    pub tenant: Option<String>,
    /// Configured tags by device name.
    tags: BTreeMap<String, BTreeMap<String, String>>,
    /// Rules of the devices that have their own (by tag or by name); the others use the
    /// rules [`DeviceRules::signals`] is given.
    own_rules: BTreeMap<String, Rules>,
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

    /// The rules of devices whose thresholds differ from the tenant's (by tag or by name).
    pub fn with_rules(mut self, own: BTreeMap<String, Rules>) -> DeviceRules {
        self.own_rules = own;
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
                    d.pings.push_back(Ping {
                        at: now,
                        loss_percent: loss,
                        rtt_ms: num(p, "average_response_ms"),
                    });
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
                    let e = d.interfaces.entry(idx).or_insert_with(|| Interface {
                        name: name.clone(),
                        alias: alias.clone(),
                        oper_up,
                        down: false,
                    });
                    // up → down while admin up starts it; up again (or admin down) ends it
                    let down = if oper_up || !admin_up {
                        false
                    } else {
                        e.oper_up || e.down
                    };
                    *e = Interface {
                        name,
                        alias,
                        oper_up,
                        down,
                    };
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
        let dropped = self
            .overflow
            .map_or(0, |o| o.dropped)
            .saturating_add(dropped_points);
        self.overflow = Some(Overflow { at: now, dropped });
    }

    /// The active signals of every device and of the collector's spool.
    pub fn signals(&mut self, rules: &Rules, now: Instant) -> Vec<Signal> {
        let mut out = Vec::new();
        for (name, d) in &mut self.devices {
            let rules = self.own_rules.get(name).unwrap_or(rules);
            forget_old_pings(d, rules, now);
            let at = At {
                name,
                scope: Scope {
                    tenant: d.tenant.clone(),
                    device: Some(name.clone()),
                    object: format!("Device/{name}"),
                    tags: d.tags.clone(),
                    ..Default::default()
                },
                down_fp: fingerprint(rules::DEVICE_DOWN, name),
                hostname: d.hostname.clone(),
            };
            out.extend(device_down(&at, d, rules));
            out.extend(packet_loss(&at, d, rules, now));
            out.extend(latency_high(&at, d, rules, now));
            out.extend(snmp_unreachable(&at, d, rules));
            out.extend(interface_down(&at, d, rules));
            out.extend(device_rebooted(&at, d, rules, now));
            out.extend(cpu_high(&at, d, rules));
            out.extend(temperature_high(&at, d, rules));
        }
        out.extend(self.spool_overflow_signal(rules, now));
        out
    }

    /// SpoolOverflow: the collector's spool dropped data within the rule's window.
    fn spool_overflow_signal(&mut self, rules: &Rules, now: Instant) -> Option<Signal> {
        let r = rules.get(rules::SPOOL_OVERFLOW)?;
        let o = self.overflow?;
        if now.duration_since(o.at) > window(r) {
            self.overflow = None;
            return None;
        }
        Some(
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
                "the spool is full: {} points of the oldest data were dropped",
                o.dropped
            )),
        )
    }
}

/// A rule's window, at least a second.
fn window(r: &rules::Rule) -> Duration {
    r.window.max(Duration::from_secs(1))
}

/// The device a signal is about: DeviceDown is the parent of its other signals.
struct At<'a> {
    name: &'a str,
    scope: Scope,
    down_fp: String,
    hostname: Option<String>,
}

impl At<'_> {
    fn signal(&self, rule: &str, r: &rules::Rule, id: &str) -> Signal {
        let mut s = Signal::new(rule, r.severity, self.scope.clone(), id).hold(r.hold);
        if rule != rules::DEVICE_DOWN {
            s.parents.push(self.down_fp.clone());
        }
        if let Some(h) = &self.hostname {
            s = s.fact("sysName", h.clone());
        }
        s
    }
}

/// Keeps the ICMP rounds the PacketLoss and LatencyHigh windows need.
fn forget_old_pings(d: &mut Device, rules: &Rules, now: Instant) {
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
        .is_some_and(|p| now.duration_since(p.at) > keep)
    {
        d.pings.pop_front();
    }
}

/// DeviceDown: no ICMP reply for `threshold` rounds in a row.
fn device_down(at: &At<'_>, d: &Device, rules: &Rules) -> Option<Signal> {
    let r = rules.get(rules::DEVICE_DOWN)?;
    (f64::from(d.down_rounds) >= r.threshold.max(1.0)).then(|| {
        at.signal(rules::DEVICE_DOWN, r, at.name).summary(format!(
            "no ICMP reply for {} rounds in a row",
            d.down_rounds
        ))
    })
}

/// PacketLoss: average loss over the window above `threshold` % (and below 100 %, which
/// is DeviceDown).
fn packet_loss(at: &At<'_>, d: &Device, rules: &Rules, now: Instant) -> Option<Signal> {
    let r = rules.get(rules::PACKET_LOSS)?;
    let w: Vec<f64> = d
        .pings
        .iter()
        .filter(|p| now.duration_since(p.at) <= window(r))
        .map(|p| p.loss_percent)
        .collect();
    let avg = w.iter().sum::<f64>() / w.len().max(1) as f64;
    (!w.is_empty() && avg > r.threshold && avg < 100.0).then(|| {
        at.signal(rules::PACKET_LOSS, r, at.name).summary(format!(
            "{avg:.1} % packet loss over {}s",
            window(r).as_secs()
        ))
    })
}

/// LatencyHigh: average round trip over the window above `threshold` ms.
fn latency_high(at: &At<'_>, d: &Device, rules: &Rules, now: Instant) -> Option<Signal> {
    let r = rules.get(rules::LATENCY_HIGH)?;
    let w: Vec<f64> = d
        .pings
        .iter()
        .filter(|p| now.duration_since(p.at) <= window(r))
        .filter_map(|p| p.rtt_ms)
        .collect();
    let avg = w.iter().sum::<f64>() / w.len().max(1) as f64;
    (!w.is_empty() && avg > r.threshold).then(|| {
        at.signal(rules::LATENCY_HIGH, r, at.name).summary(format!(
            "average round trip {avg:.1} ms over {}s",
            window(r).as_secs()
        ))
    })
}

/// SnmpUnreachable: `threshold` SNMP polls in a row failed.
fn snmp_unreachable(at: &At<'_>, d: &Device, rules: &Rules) -> Option<Signal> {
    let r = rules.get(rules::SNMP_UNREACHABLE)?;
    (f64::from(d.snmp_failures) >= r.threshold.max(1.0)).then(|| {
        at.signal(rules::SNMP_UNREACHABLE, r, at.name)
            .summary(format!("{} SNMP polls in a row failed", d.snmp_failures))
    })
}

/// InterfaceDown: an interface went down while administratively up (unless its ifAlias
/// holds [`NO_ALERT`]).
fn interface_down(at: &At<'_>, d: &Device, rules: &Rules) -> Vec<Signal> {
    let Some(r) = rules.get(rules::INTERFACE_DOWN) else {
        return Vec::new();
    };
    d.interfaces
        .iter()
        .filter(|(_, i)| i.down && !i.alias.contains(NO_ALERT))
        .map(|(idx, i)| {
            let mut s = at
                .signal(rules::INTERFACE_DOWN, r, &format!("{}/{idx}", at.name))
                .summary(format!("interface {} went down (admin up)", i.name))
                .fact("Interface", i.name.clone());
            if !i.alias.is_empty() {
                s = s.fact("ifAlias", i.alias.clone());
            }
            s
        })
        .collect()
}

/// DeviceRebooted: sysUpTime went backwards within the window.
fn device_rebooted(at: &At<'_>, d: &mut Device, rules: &Rules, now: Instant) -> Option<Signal> {
    let r = rules.get(rules::DEVICE_REBOOTED)?;
    let when = d.rebooted_at?;
    if now.duration_since(when) > window(r) {
        d.rebooted_at = None;
        return None;
    }
    Some(
        at.signal(rules::DEVICE_REBOOTED, r, at.name)
            .summary("the device rebooted (sysUpTime went backwards)"),
    )
}

/// CpuHigh: the CPU load above `threshold` %.
fn cpu_high(at: &At<'_>, d: &Device, rules: &Rules) -> Option<Signal> {
    let r = rules.get(rules::CPU_HIGH)?;
    let cpu = d.cpu.filter(|c| *c > r.threshold)?;
    Some(
        at.signal(rules::CPU_HIGH, r, at.name)
            .summary(format!("CPU load {cpu:.0} %")),
    )
}

/// TemperatureHigh: a Celsius sensor above `threshold` °C.
fn temperature_high(at: &At<'_>, d: &Device, rules: &Rules) -> Vec<Signal> {
    let Some(r) = rules.get(rules::TEMPERATURE_HIGH) else {
        return Vec::new();
    };
    d.temperatures
        .iter()
        .filter(|(_, v)| **v > r.threshold)
        .map(|(sensor, v)| {
            at.signal(rules::TEMPERATURE_HIGH, r, &format!("{}/{sensor}", at.name))
                .summary(format!("sensor {sensor} at {v:.1} °C"))
                .fact("Sensor", sensor.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests;
