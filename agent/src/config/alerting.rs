//! The alerting configuration file: the cluster agent's (`vigil-agent cluster --config
//! FILE`) and the tenant collector's device alerting (`agent.alerts`) share it. Rules,
//! routes, maintenance windows, the digest, where state lives and, optionally, the
//! collector's `output`/`spool` sections for the `alerts` measurement. Unknown fields are
//! rejected with their location; Slack credentials are references, resolved here.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vigil_contract::{Schedule, alerts, schedule};

use super::{ConfigError, InfluxSettings, SpoolSettings, raw};
use crate::alerts::engine::EngineSettings;
use crate::alerts::maintenance::Window;
use crate::alerts::rules::Rules;
use crate::sinks::slack::Routes;

#[derive(Debug, Clone)]
pub struct AlertingConfig {
    pub name: String,
    /// The Lease's namespace.
    pub namespace: String,
    /// The state ConfigMaps' namespace (`namespace` unless set).
    pub state_namespace: String,
    pub state_file: Option<PathBuf>,
    pub prefix: String,
    pub lease_duration: Duration,
    pub evaluation_interval: Duration,
    /// `/readyz` fails once a watch has been out of touch this long.
    pub watch_staleness: Duration,
    /// How long the API server may be out of reach (or saves fail) before
    /// `AlertingDegraded` is posted.
    pub degraded_after: Duration,
    /// A NotReady node's agent state is taken over by the leader after this long.
    pub adopt_after: Duration,
    /// Which tenant pods the leader force-deletes on a node NotReady for `fence_after`.
    pub fencing: vigil_contract::alerts::FencingMode,
    pub fence_after: Duration,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub node_selector: Option<String>,
    pub listen: Option<std::net::SocketAddr>,
    pub tenant_namespaces: BTreeMap<String, String>,
    pub rules: Rules,
    /// The file's rule overrides by tag and by device, for [`AlertingConfig::device_rules`].
    pub rule_layers: vigil_contract::alerts::Config,
    pub engine: EngineSettings,
    pub routes: Routes,
    pub output: Option<InfluxSettings>,
    pub spool: SpoolSettings,
}

fn invalid(path: &Path, location: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        location: location.into(),
        message: message.into(),
    }
}

/// A schedule in the old six-field form still works as it did; say where it is and what to
/// write instead.
fn warn_if_old(path: &Path, field: &str, s: &Schedule) {
    if !s.is_legacy() {
        return;
    }
    let file = path.display();
    match s.crontab_form() {
        Some(five) => tracing::warn!(
            "{file}: {field}: {:?} is in the deprecated six-field form (seconds first, \
             1 = Sunday); write {five:?} instead (crontab: minute hour day-of-month month \
             day-of-week, 0 or 7 = Sunday)",
            s.as_str()
        ),
        None => tracing::warn!(
            "{file}: {field}: {:?} is in the deprecated six-field form (seconds first, \
             1 = Sunday) and has no five-field equivalent (it names a second, a year, or a \
             day of the month and of the week together); rewrite it as crontab: minute hour \
             day-of-month month day-of-week, 0 or 7 = Sunday",
            s.as_str()
        ),
    }
}

impl AlertingConfig {
    /// The rules in force for one device: its own overrides over the matching tag entries
    /// over the file's `rules` over the catalogue (each layer was checked at load).
    pub fn device_rules(&self, device: &str, tags: &BTreeMap<String, String>) -> Rules {
        Rules::new(&self.rule_layers.rules_for(device, tags)).unwrap_or_else(|_| self.rules.clone())
    }

    pub fn load(path: &Path) -> Result<AlertingConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<AlertingConfig, ConfigError> {
        let raw: alerts::Config = serde_norway::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let rules = Rules::scoped(&raw.rules, raw.cluster.namespaces.as_deref())
            .map_err(|e| invalid(path, "rules", e.to_string()))?;
        let device_only =
            |field: String, layer: &BTreeMap<String, crate::alerts::rules::RawRule>| {
                if let Some(name) = layer
                    .keys()
                    .find(|n| !vigil_contract::alerts::DEVICE_RULES.contains(&n.as_str()))
                {
                    return Err(invalid(
                        path,
                        field,
                        format!(
                            "{name:?} is not a device rule; by tag or by device only these can be set: {}",
                            vigil_contract::alerts::DEVICE_RULES.join(", ")
                        ),
                    ));
                }
                Rules::new(layer).map_err(|e| invalid(path, field, e.to_string()))
            };
        for (i, t) in raw.tag_rules.iter().enumerate() {
            if t.tags.is_empty() {
                return Err(invalid(
                    path,
                    format!("tag_rules[{i}].tags"),
                    "is empty; give the tags the devices must carry (rules for every device go in `rules`)",
                ));
            }
            device_only(format!("tag_rules[{i}].rules"), &t.rules)?;
        }
        for (device, layer) in &raw.device_rules {
            device_only(format!("device_rules.{device}"), layer)?;
        }
        let rule_layers = vigil_contract::alerts::Config {
            rules: raw.rules.clone(),
            tag_rules: raw.tag_rules.clone(),
            device_rules: raw.device_rules.clone(),
            ..Default::default()
        };
        let mut windows = Vec::new();
        for (i, w) in raw.maintenance.into_iter().enumerate() {
            let name = w.name.clone();
            if windows.iter().any(|x: &Window| x.name == name) {
                return Err(invalid(
                    path,
                    format!("maintenance[{i}].name"),
                    format!("{name:?} is used twice"),
                ));
            }
            let window = Window::new(w).map_err(|e| {
                invalid(
                    path,
                    format!("maintenance[{i}].{}", e.field()),
                    e.to_string(),
                )
            })?;
            warn_if_old(path, &format!("maintenance[{i}].cron"), window.schedule());
            windows.push(window);
        }
        let digest = raw
            .digest
            .map(|d| {
                let s = Schedule::parse(&d.cron)
                    .map_err(|e| invalid(path, "digest.cron", format!("{e}; {}", schedule::HOW)))?;
                warn_if_old(path, "digest.cron", &s);
                Ok::<_, ConfigError>(s)
            })
            .transpose()?;
        let mut engine = EngineSettings {
            windows,
            digest,
            ..Default::default()
        };
        if let Some(r) = raw.repeat_interval {
            engine.repeat_interval = r.0;
        }
        if let Some(f) = raw.flapping {
            engine.flap_threshold = f.threshold.unwrap_or(engine.flap_threshold);
            engine.flap_window = f.window.map_or(engine.flap_window, |d| d.0);
            engine.flap_quiet = f.quiet.map_or(engine.flap_quiet, |d| d.0);
        }
        let routes = Routes::new(&raw.slack).map_err(|(at, m)| invalid(path, at, m))?;
        if routes.min_interval.is_zero() {
            return Err(invalid(path, "slack.min_interval", "must be more than 0s"));
        }
        let c = raw.cluster;
        let name = c.name.unwrap_or_else(|| "kubernetes".into());
        // the collector's own resolver checks `output` and `spool`, with the same locations
        let collector = super::Config::resolve(
            raw::Config {
                agent: raw::Agent {
                    name: Some(name.clone()),
                    ..Default::default()
                },
                spool: raw.spool.unwrap_or_default(),
                output: raw.output,
                ..Default::default()
            },
            path,
        )?;
        let evaluation_interval = c
            .evaluation_interval
            .map_or(Duration::from_secs(1), |d| d.0);
        if evaluation_interval.is_zero() {
            return Err(invalid(
                path,
                "cluster.evaluation_interval",
                "must be more than 0s",
            ));
        }
        let lease_duration = c.lease_duration.map_or(Duration::from_secs(15), |d| d.0);
        if lease_duration < Duration::from_secs(1) {
            return Err(invalid(
                path,
                "cluster.lease_duration",
                "must be at least 1s",
            ));
        }
        let positive = |field: &str, d: Option<&vigil_contract::units::Dur>, default: u64| {
            let d = d.map_or(Duration::from_secs(default), |d| d.0);
            if d.is_zero() {
                Err(invalid(
                    path,
                    format!("cluster.{field}"),
                    "must be more than 0s",
                ))
            } else {
                Ok(d)
            }
        };
        let watch_staleness = positive("watch_staleness", c.watch_staleness.as_ref(), 120)?;
        let degraded_after = positive("degraded_after", c.degraded_after.as_ref(), 60)?;
        let adopt_after = positive("adopt_after", c.adopt_after.as_ref(), 300)?;
        let fence_after = positive("fence_after", c.fence_after.as_ref(), 60)?;
        let namespace = c
            .namespace
            .or_else(|| {
                std::env::var("POD_NAMESPACE")
                    .ok()
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| "vigil-system".into());
        Ok(AlertingConfig {
            name,
            state_namespace: c.state_namespace.unwrap_or_else(|| namespace.clone()),
            namespace,
            state_file: c.state_file,
            prefix: c.object_prefix.unwrap_or_else(|| "vigil-agent".into()),
            lease_duration,
            evaluation_interval,
            watch_staleness,
            degraded_after,
            adopt_after,
            fencing: c.fencing.unwrap_or_default(),
            fence_after,
            kubeconfig: c.kubeconfig,
            context: c.context,
            node_selector: c.node_selector,
            listen: c
                .listen
                .map(|l| {
                    l.parse().map_err(|_| {
                        invalid(
                            path,
                            "cluster.listen",
                            format!("{l:?} is not an address:port such as 0.0.0.0:9274"),
                        )
                    })
                })
                .transpose()?,
            tenant_namespaces: raw.tenant_namespaces,
            rules,
            rule_layers,
            engine,
            routes,
            output: collector.output,
            spool: collector.spool,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook() -> String {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p =
            std::env::temp_dir().join(format!("vigil-alerts-config-{}-{n}", std::process::id()));
        std::fs::write(&p, "https://hooks.example/T/B/secret\n").unwrap();
        format!("{{file: {}}}", p.display())
    }

    fn parse(text: &str) -> Result<AlertingConfig, String> {
        let text = text.replace("HOOK", &hook());
        AlertingConfig::parse(&text, Path::new("cluster.yaml")).map_err(|e| e.to_string())
    }

    #[test]
    fn rules_by_tag_and_device_are_checked_at_load() {
        let ok = parse(
            "slack: {default: {webhook: HOOK}}
tag_rules: [{tags: {role: core}, rules: {CpuHigh: {threshold: 90, for: 5m}}}]
device_rules: {fw1: {InterfaceDown: {enabled: false}}}",
        )
        .unwrap();
        let core = BTreeMap::from([("role".to_string(), "core".to_string())]);
        let r = ok.device_rules("sw1", &core);
        assert_eq!(r.get("CpuHigh").map(|r| r.threshold), Some(90.0));
        assert!(
            ok.device_rules("fw1", &BTreeMap::new())
                .get("InterfaceDown")
                .is_none()
        );
        for (bad, want) in [
            (
                "tag_rules: [{tags: {role: core}, rules: {PodCrashLooping: {for: 1m}}}]",
                "tag_rules[0].rules",
            ),
            (
                "tag_rules: [{tags: {}, rules: {CpuHigh: {threshold: 1}}}]",
                "tag_rules[0].tags",
            ),
            (
                "device_rules: {fw1: {CpuHigh: {threshold: -1}}}",
                "device_rules.fw1",
            ),
            ("device_rules: {fw1: {NoSuchRule: {}}}", "device_rules.fw1"),
        ] {
            let err = parse(&format!("slack: {{default: {{webhook: HOOK}}}}\n{bad}")).unwrap_err();
            assert!(err.contains(want), "{bad}: {err}");
        }
    }

    #[test]
    fn minimal_and_full_configs() {
        let c = parse("slack: {default: {webhook: HOOK}}").unwrap();
        assert_eq!(c.lease_duration, Duration::from_secs(15));
        assert!(c.output.is_none());
        let c = parse(
            "cluster: {name: prod, namespace: ops, state_file: /tmp/s.json}
rules: {PodCrashLooping: {for: 5s, namespaces: [shop]}}
maintenance: [{name: nightly, cron: '0 0 2 * * *', duration: 1h, namespaces: [shop]}]
digest: {cron: '0 0 8 * * *'}
slack:
  default: {webhook: HOOK}
  tenants: {acme: {bot_token: HOOK, channel: C1}}
output: {influxdb: {url: 'http://127.0.0.1:8086', v1: {database: vigil}}}
spool: {dir: /tmp/x}",
        )
        .unwrap();
        assert_eq!(c.namespace, "ops");
        assert_eq!(
            c.state_namespace, "ops",
            "state beside the lease unless set"
        );
        assert!(c.output.is_some());
        assert_eq!(c.engine.windows.len(), 1);
        assert!(
            !format!("{:?}", c.routes).contains("secret"),
            "secrets are redacted"
        );
    }

    /// What `f` logs, as text.
    fn logged(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buf.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn schedules_are_crontab() {
        let log = logged(|| {
            let c = parse(
                "slack: {default: {webhook: HOOK}}
maintenance:
  - {name: sunday, cron: '0 2 * * 0', duration: 1h}
  - {name: nightly, cron: '@daily', duration: 1h}
digest: {cron: '0 8 * * 1-5'}",
            )
            .unwrap();
            assert_eq!(c.engine.windows.len(), 2);
            assert_eq!(
                c.engine.digest.as_ref().map(|d| d.as_str()),
                Some("0 8 * * 1-5")
            );
        });
        assert!(!log.contains("deprecated"), "{log}");
    }

    #[test]
    fn the_old_six_field_form_still_reads_with_a_warning_where_it_is() {
        let log = logged(|| {
            let c = parse(
                "slack: {default: {webhook: HOOK}}
maintenance:
  - {name: a, cron: '0 0 2 * * Sun', duration: 1h}
  - {name: b, cron: '30 0 2 * * *', duration: 1h}
digest: {cron: '0 0 8 * * 2-6'}",
            )
            .unwrap();
            assert!(c.engine.digest.as_ref().is_some_and(|d| d.is_legacy()));
        });
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 3, "{log}");
        assert!(
            lines[0].contains("WARN")
                && lines[0].contains("cluster.yaml: maintenance[0].cron")
                && lines[0].contains("write \"0 2 * * Sun\" instead"),
            "{log}"
        );
        assert!(
            lines[1].contains("maintenance[1].cron") && lines[1].contains("no five-field"),
            "{log}"
        );
        assert!(
            lines[2].contains("digest.cron") && lines[2].contains("write \"0 8 * * Mon-Fri\""),
            "{log}"
        );
    }

    #[test]
    fn errors_name_their_location() {
        let e = parse("slack: {default: {webhook: HOOK}}\nrulez: {}").unwrap_err();
        assert!(e.contains("rulez"), "{e}");
        let e = parse("slack: {default: {webhook: HOOK}}\nmaintenance: [{name: a, cron: 'bad', duration: 1h}]").unwrap_err();
        assert!(e.contains("maintenance[0]") && e.contains("bad"), "{e}");
        let e = parse("slack: {default: {webhook: HOOK}}\nmaintenance: [{name: a, cron: '0 2 * * 8', duration: 1h}]").unwrap_err();
        assert!(
            e.contains("maintenance[0].cron") && e.contains("day-of-week field \"8\""),
            "{e}"
        );
        let e = parse("slack: {default: {webhook: HOOK}}\ndigest: {cron: '0 8 * *'}").unwrap_err();
        assert!(e.contains("digest.cron") && e.contains("write five"), "{e}");
        let e = parse("slack: {default: {bot_token: HOOK}}").unwrap_err();
        assert!(e.contains("slack.default.channel"), "{e}");
        let e = parse("slack: {default: {webhook: {env: VIGIL_NOT_SET_ANYWHERE}}}").unwrap_err();
        assert!(e.contains("VIGIL_NOT_SET_ANYWHERE"), "{e}");
        let e = parse("slack: {default: {webhook: HOOK}}\noutput: {influxdb: {url: 'ftp://x', v1: {database: d}}}").unwrap_err();
        assert!(e.contains("output.influxdb.url"), "{e}");
    }
}
