//! Device rule thresholds: `spec.alerts.rules` (every device), `spec.alerts.byTags[]` (the
//! devices carrying those tags) and `devices[].alerts.rules` (one device). Rendered into the
//! collector's `alerts.yaml` as `rules`, `tag_rules` and `device_rules`; the collector
//! applies them device over tag over tenant over the catalogue's defaults.
use std::collections::BTreeMap;

use serde::Serialize;
use vigil_contract::alert_state;
use vigil_contract::alerts::{self, DEVICE_RULES, TagRules};
use vigil_contract::units::Dur;

use super::{Checker, Problem, Severity, devices, values};
use crate::tenant::spec::{self, RuleSpec, ThresholdSpec};

/// The checked overrides, in the contract's types.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertRules {
    pub tenant: BTreeMap<String, alerts::Rule>,
    pub by_tags: Vec<TagRules>,
    pub devices: BTreeMap<String, BTreeMap<String, alerts::Rule>>,
}

impl AlertRules {
    pub fn is_empty(&self) -> bool {
        self.tenant.is_empty() && self.by_tags.is_empty() && self.devices.is_empty()
    }
}

/// The longest `for` or `window` a rule may have.
const MAX_SECONDS: u64 = 7 * 86_400;

pub fn alert_rules(c: &mut Checker, s: &spec::TenantSpec) -> AlertRules {
    let alerts = s.alerts.clone().unwrap_or_default();
    let tenant = layer(c, "spec.alerts.rules", &alerts.rules);
    let by_tags = alerts
        .by_tags
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let path = format!("spec.alerts.byTags[{i}]");
            if t.tags.is_empty() {
                c.push(Problem::new(
                    &format!("{path}.tags"),
                    "an entry without tags would apply to every device",
                    "give the tags its devices carry, e.g. tags: {role: core}; thresholds for every device go in spec.alerts.rules",
                ));
            }
            for (k, v) in &t.tags {
                if let Some(p) = devices::tag_problem(&format!("{path}.tags.{k}"), k, v) {
                    c.push(p);
                }
            }
            TagRules {
                tags: t.tags.clone(),
                rules: layer(c, &format!("{path}.rules"), &t.rules),
            }
        })
        .collect();
    let devices = s
        .devices
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let own = d.alerts.as_ref().filter(|a| !a.rules.is_empty())?;
            let path = format!("spec.devices[{i}].alerts.rules");
            Some((d.name.clone(), layer(c, &path, &own.rules)))
        })
        .collect();
    AlertRules {
        tenant,
        by_tags,
        devices,
    }
}

fn layer(
    c: &mut Checker,
    path: &str,
    raw: &BTreeMap<String, RuleSpec>,
) -> BTreeMap<String, alerts::Rule> {
    raw.iter()
        .filter_map(|(name, r)| {
            let path = format!("{path}.{name}");
            if !DEVICE_RULES.contains(&name.as_str()) {
                c.push(Problem::new(
                    &path,
                    format!("{name:?} is not a device rule"),
                    format!("use one of {}", DEVICE_RULES.join(", ")),
                ));
                return None;
            }
            Some((name.clone(), rule(c, &path, name, r)))
        })
        .collect()
}

fn rule(c: &mut Checker, path: &str, name: &str, r: &RuleSpec) -> alerts::Rule {
    let seconds = |c: &mut Checker, field: &str, raw: &Option<String>| {
        raw.as_deref()
            .and_then(|v| {
                c.check(values::duration(
                    &format!("{path}.{field}"),
                    v,
                    0,
                    MAX_SECONDS,
                ))
            })
            .map(|d| Dur(std::time::Duration::from_secs(d.secs())))
    };
    let threshold = r
        .threshold
        .as_ref()
        .and_then(|t| c.check(threshold(&format!("{path}.threshold"), name, t)));
    let severity = r.severity.as_deref().map(|raw| {
        match super::severity(c, &format!("{path}.severity"), Some(raw)) {
            Severity::Info => alert_state::Severity::Info,
            Severity::Warning => alert_state::Severity::Warning,
            Severity::Critical => alert_state::Severity::Critical,
        }
    });
    alerts::Rule {
        enabled: r.enabled,
        hold: seconds(c, "for", &r.hold),
        threshold,
        window: seconds(c, "window", &r.window),
        namespaces: None,
        severity,
    }
}

/// A threshold in the rule's unit; LatencyHigh also takes `50ms` or `1s`.
fn threshold(path: &str, rule: &str, t: &ThresholdSpec) -> Result<f64, Problem> {
    let value = match t {
        ThresholdSpec::Number(n) => Some(*n),
        ThresholdSpec::Text(text) if rule == "LatencyHigh" => {
            let text = text.trim();
            if let Some(ms) = text.strip_suffix("ms") {
                ms.trim().parse::<f64>().ok()
            } else if let Some(s) = text.strip_suffix('s') {
                s.trim().parse::<f64>().ok().map(|s| s * 1000.0)
            } else {
                None
            }
        }
        ThresholdSpec::Text(_) => None,
    };
    match value {
        Some(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(Problem::new(
            path,
            format!("{t:?} is not a threshold for {rule}"),
            if rule == "LatencyHigh" {
                "write the round-trip time, e.g. 50ms (or a number of milliseconds)"
            } else {
                "write a number >= 0 in the rule's unit (see docs/alerts.md), e.g. 80"
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_takes_a_duration_the_others_a_number() {
        let ms = |t: ThresholdSpec, rule: &str| threshold("p", rule, &t).ok();
        assert_eq!(
            ms(ThresholdSpec::Text("50ms".into()), "LatencyHigh"),
            Some(50.0)
        );
        assert_eq!(
            ms(ThresholdSpec::Text("1s".into()), "LatencyHigh"),
            Some(1000.0)
        );
        assert_eq!(ms(ThresholdSpec::Number(80.0), "CpuHigh"), Some(80.0));
        assert_eq!(ms(ThresholdSpec::Text("80%".into()), "CpuHigh"), None);
        assert_eq!(ms(ThresholdSpec::Number(-1.0), "CpuHigh"), None);
        assert_eq!(ms(ThresholdSpec::Text("fast".into()), "LatencyHigh"), None);
    }
}
