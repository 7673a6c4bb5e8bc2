//! The rule catalogue: every rule's name, severity and defaults, and the per-rule settings
//! a user can override (`enabled`, `for`, `threshold`, `window`, `namespaces`). The meaning
//! of each rule and what the service desk should do is in `docs/alerts.md`; each rule is one
//! function in [`pods`], [`nodes`], [`workloads`] or [`devices`], and [`kubernetes`] runs the
//! cluster rules over the objects the watchers hold.
pub mod devices;
pub mod kubernetes;
pub mod nodes;
pub mod pods;
pub mod workloads;

use std::collections::BTreeMap;
use std::time::Duration;

use super::signal::Severity;

/// The label that names an object's tenant (set by `vigil tenant`).
pub use vigil_contract::names::TENANT_LABEL;

/// Tenant lookup: the object's `vigil.dev/tenant` label, else the configured
/// namespace → tenant map.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub namespaces: BTreeMap<String, String>,
}

impl Context {
    pub fn tenant(&self, ns: &str, labels: Option<&BTreeMap<String, String>>) -> Option<String> {
        labels
            .and_then(|l| l.get(TENANT_LABEL).cloned())
            .or_else(|| self.namespaces.get(ns).cloned())
    }
}

/// A rule's defaults.
#[derive(Debug, Clone, Copy)]
pub struct RuleDef {
    pub name: &'static str,
    pub severity: Severity,
    pub hold: Duration,
    pub threshold: f64,
    pub window: Duration,
}

const fn def(
    name: &'static str,
    severity: Severity,
    hold: u64,
    threshold: f64,
    window: u64,
) -> RuleDef {
    RuleDef {
        name,
        severity,
        hold: Duration::from_secs(hold),
        threshold,
        window: Duration::from_secs(window),
    }
}

use Severity::{Critical, Warning};

pub const POD_CRASH_LOOPING: &str = "PodCrashLooping";
pub const POD_OOM_KILLED: &str = "PodOOMKilled";
pub const POD_IMAGE_PULL: &str = "PodImagePullFailing";
pub const POD_NOT_READY: &str = "PodNotReady";
pub const POD_UNSCHEDULABLE: &str = "PodUnschedulable";
pub const POD_EVICTED: &str = "PodEvicted";
pub const WORKLOAD_UNAVAILABLE: &str = "WorkloadUnavailable";
pub const NODE_NOT_READY: &str = "NodeNotReady";
pub const NODE_UNREACHABLE: &str = "NodeUnreachable";
pub const NODE_PRESSURE: &str = "NodePressure";
pub const NODE_FLAPPING: &str = "NodeFlapping";
pub const PVC_PENDING: &str = "PvcPending";
pub const PVC_LOST: &str = "PvcLost";
pub const DEVICE_DOWN: &str = "DeviceDown";
pub const PACKET_LOSS: &str = "PacketLoss";
pub const LATENCY_HIGH: &str = "LatencyHigh";
pub const SNMP_UNREACHABLE: &str = "SnmpUnreachable";
pub const INTERFACE_DOWN: &str = "InterfaceDown";
pub const DEVICE_REBOOTED: &str = "DeviceRebooted";
pub const CPU_HIGH: &str = "CpuHigh";
pub const TEMPERATURE_HIGH: &str = "TemperatureHigh";
pub const SPOOL_OVERFLOW: &str = "SpoolOverflow";

/// Every rule with its default `for` (seconds), threshold and window (seconds).
pub const CATALOGUE: &[RuleDef] = &[
    // threshold: restarts within `window`
    def(POD_CRASH_LOOPING, Critical, 60, 3.0, 600),
    // window: how long after the kill the incident stays open if the container is ready
    def(POD_OOM_KILLED, Critical, 0, 0.0, 300),
    def(POD_IMAGE_PULL, Warning, 120, 0.0, 0),
    def(POD_NOT_READY, Warning, 300, 0.0, 0),
    def(POD_UNSCHEDULABLE, Warning, 300, 0.0, 0),
    def(POD_EVICTED, Warning, 0, 0.0, 0),
    // threshold: missing replicas (desired - available) above which it fires
    def(WORKLOAD_UNAVAILABLE, Critical, 300, 0.0, 0),
    def(NODE_NOT_READY, Critical, 60, 0.0, 0),
    def(NODE_UNREACHABLE, Critical, 0, 0.0, 0),
    def(NODE_PRESSURE, Warning, 120, 0.0, 0),
    // threshold: Ready transitions within `window` above which it fires
    def(NODE_FLAPPING, Warning, 0, 2.0, 900),
    def(PVC_PENDING, Warning, 300, 0.0, 0),
    def(PVC_LOST, Critical, 0, 0.0, 0),
    // threshold: consecutive rounds with 100 % loss
    def(DEVICE_DOWN, Critical, 0, 3.0, 0),
    // threshold: percent loss averaged over `window`
    def(PACKET_LOSS, Warning, 0, 20.0, 300),
    // threshold: average RTT in ms over `window`
    def(LATENCY_HIGH, Warning, 0, 100.0, 300),
    // threshold: consecutive failed polls
    def(SNMP_UNREACHABLE, Warning, 0, 3.0, 0),
    def(INTERFACE_DOWN, Warning, 0, 0.0, 0),
    // window: how long the reboot notice stays open
    def(DEVICE_REBOOTED, Warning, 0, 0.0, 300),
    // threshold: percent CPU load
    def(CPU_HIGH, Warning, 600, 90.0, 0),
    // threshold: degrees Celsius
    def(TEMPERATURE_HIGH, Warning, 300, 70.0, 0),
    // window: how long the overflow notice stays open
    def(SPOOL_OVERFLOW, Critical, 0, 0.0, 600),
];

/// A rule as configured (`rules: {PodCrashLooping: {for: 30s}}`), part of the contract.
pub use vigil_contract::alerts::Rule as RawRule;

/// A rule's effective settings.
#[derive(Debug, Clone)]
pub struct Rule {
    pub def: RuleDef,
    pub enabled: bool,
    pub hold: Duration,
    pub threshold: f64,
    pub window: Duration,
    pub namespaces: Option<Vec<String>>,
    pub severity: Severity,
}

impl Rule {
    pub fn applies_to(&self, namespace: &str) -> bool {
        self.enabled
            && self
                .namespaces
                .as_ref()
                .is_none_or(|ns| ns.iter().any(|n| n == namespace))
    }
}

/// Why the user's rule overrides are not valid.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("unknown rule {name:?}; known rules: {known}")]
    Unknown { name: String, known: String },
    #[error("{rule}.threshold must be a number >= 0")]
    Threshold { rule: &'static str },
}

/// All rules with the user's overrides applied.
#[derive(Debug, Clone)]
pub struct Rules(BTreeMap<&'static str, Rule>);

impl Rules {
    /// Applies overrides; an unknown rule name is an error naming the known ones.
    pub fn new(raw: &BTreeMap<String, RawRule>) -> Result<Rules, RulesError> {
        Rules::scoped(raw, None)
    }

    /// As [`Rules::new`]; rules without their own `namespaces` get `default_namespaces`.
    pub fn scoped(
        raw: &BTreeMap<String, RawRule>,
        default_namespaces: Option<&[String]>,
    ) -> Result<Rules, RulesError> {
        for name in raw.keys() {
            if !CATALOGUE.iter().any(|d| d.name == name) {
                let known: Vec<&str> = CATALOGUE.iter().map(|d| d.name).collect();
                return Err(RulesError::Unknown {
                    name: name.clone(),
                    known: known.join(", "),
                });
            }
        }
        let mut out = BTreeMap::new();
        for d in CATALOGUE {
            let r = raw.get(d.name).cloned().unwrap_or_default();
            let threshold = r.threshold.unwrap_or(d.threshold);
            if !threshold.is_finite() || threshold < 0.0 {
                return Err(RulesError::Threshold { rule: d.name });
            }
            out.insert(
                d.name,
                Rule {
                    def: *d,
                    enabled: r.enabled.unwrap_or(true),
                    hold: r.hold.map_or(d.hold, |x| x.0),
                    threshold,
                    window: r.window.map_or(d.window, |x| x.0),
                    namespaces: r
                        .namespaces
                        .or_else(|| default_namespaces.map(<[String]>::to_vec)),
                    severity: r.severity.unwrap_or(d.severity),
                },
            );
        }
        Ok(Rules(out))
    }

    pub fn defaults() -> Rules {
        // the catalogue itself is valid
        Rules::new(&BTreeMap::new()).unwrap_or_else(|_| Rules(BTreeMap::new()))
    }

    /// The rule's settings; rules are looked up by the constants above.
    pub fn get(&self, name: &str) -> Option<&Rule> {
        self.0.get(name).filter(|r| r.enabled)
    }
}

#[cfg(test)]
mod kube_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_contract::units::Dur;

    #[test]
    fn overrides_apply_and_unknown_rules_are_named() {
        let mut raw = BTreeMap::new();
        raw.insert(
            POD_CRASH_LOOPING.to_string(),
            RawRule {
                hold: Some(Dur(Duration::from_secs(5))),
                ..Default::default()
            },
        );
        raw.insert(
            PVC_LOST.to_string(),
            RawRule {
                enabled: Some(false),
                ..Default::default()
            },
        );
        let rules = Rules::new(&raw).unwrap();
        assert_eq!(
            rules.get(POD_CRASH_LOOPING).unwrap().hold,
            Duration::from_secs(5)
        );
        assert_eq!(rules.get(POD_CRASH_LOOPING).unwrap().threshold, 3.0);
        assert!(rules.get(PVC_LOST).is_none());
        raw.insert("PodCrashLoping".into(), RawRule::default());
        let e = Rules::new(&raw).unwrap_err().to_string();
        assert!(
            e.contains("PodCrashLoping") && e.contains("PodCrashLooping"),
            "{e}"
        );
    }
}
