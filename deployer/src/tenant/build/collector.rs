//! The collector: `vigil-agent run` with its configuration (vigil-agent's own format) in a
//! ConfigMap and credentials mounted from a Secret: the ConfigMap names files, never values.
//! With `spec.alerts.slack`, the same ConfigMap holds `alerts.yaml`: the collector's device
//! alerting (vigil-agent's alert format), posting to the webhook in the credentials Secret.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, EmptyDirVolumeSource, SecretVolumeSource, Sysctl, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::pod::{self, secret_env};
use super::secrets::SecretKey;
use super::workload::{self, Strategy};
use super::{Component, Error, Object, Options, influxdb, meta, name};
use crate::kube::{config_checksum, http_probe};
use crate::tenant::validate::{CredentialRef, Duration, Severity, Snmp, Tenant};
use vigil_contract::{Bytes, Dur, SecretRef, alert_state, alerts, collector, names};

pub const HEALTH_PORT: i32 = names::HEALTH_PORT as i32;
const UID: i64 = 65532;
pub const CONFIG_DIR: &str = "/etc/vigil/config";
pub const CONFIG_PATH: &str = "/etc/vigil/config/collector.yaml";
pub const ALERTS_PATH: &str = "/etc/vigil/config/alerts.yaml";
/// Alert state (outbox and ledger) beside the spool: survives container restarts.
const ALERT_STATE: &str = "/var/lib/vigil-agent/alerts-state.json";
const CREDENTIALS_DIR: &str = "/etc/vigil/credentials";
const SPOOL_DIR: &str = "/var/lib/vigil-agent/spool";
/// The collector's spool on disk (its volume is 512Mi).
const SPOOL_SIZE: Bytes = Bytes(256 << 20);
const PASSWORD_ENV: &str = "VIGIL_INFLUXDB_PASSWORD";

/// The credentials Secret's key of the default webhook; route `i`'s is `…-route-{i}`.
pub const SLACK_WEBHOOK_KEY: &str = "slack-webhook";

fn route_key(i: usize) -> String {
    format!("{SLACK_WEBHOOK_KEY}-route-{i}")
}

/// Each credential vigil copies into `NAME-collector-credentials`: (key, reference, spec path).
pub fn credential_refs(t: &Tenant) -> Vec<(String, CredentialRef, String)> {
    let mut out = Vec::new();
    for (i, d) in t.devices.iter().enumerate() {
        let path = format!("spec.devices[{i}].snmp");
        match &d.snmp {
            Some(Snmp::V2c { community, .. }) => {
                out.push((
                    format!("{}.community", d.name),
                    community.clone(),
                    format!("{path}.community"),
                ));
            }
            Some(Snmp::V3 { auth, privacy, .. }) => {
                if let Some((_, r)) = auth {
                    out.push((
                        format!("{}.auth-password", d.name),
                        r.clone(),
                        format!("{path}.auth.password"),
                    ));
                }
                if let Some((_, r)) = privacy {
                    out.push((
                        format!("{}.priv-password", d.name),
                        r.clone(),
                        format!("{path}.priv.password"),
                    ));
                }
            }
            None => {}
        }
    }
    if let Some(s) = &t.slack {
        out.push((
            SLACK_WEBHOOK_KEY.into(),
            s.webhook.clone(),
            "spec.alerts.slack.webhook".into(),
        ));
        for (i, r) in s.routes.iter().enumerate() {
            out.push((
                route_key(i),
                r.webhook.clone(),
                format!("spec.alerts.slack.routes[{i}].webhook"),
            ));
        }
    }
    out
}

/// A file of the credentials Secret, mounted at [`CREDENTIALS_DIR`].
fn file(key: &str) -> SecretRef {
    SecretRef::File(format!("{CREDENTIALS_DIR}/{key}").into())
}

/// The duration in vigil-agent's format.
fn dur(d: Duration) -> Dur {
    Dur(std::time::Duration::from_secs(d.secs()))
}

fn snmp(device: &str, s: &Snmp) -> collector::Snmp {
    match s {
        Snmp::V2c { port, .. } => collector::Snmp {
            version: Some(collector::SNMP_V2C.into()),
            port: Some(*port),
            community: Some(file(&format!("{device}.community"))),
            ..Default::default()
        },
        Snmp::V3 {
            port,
            user,
            auth,
            privacy,
        } => collector::Snmp {
            version: Some(collector::SNMP_V3.into()),
            port: Some(*port),
            user: Some(user.clone()),
            auth: auth.as_ref().map(|(p, _)| collector::Auth {
                protocol: p.as_str().into(),
                password: file(&format!("{device}.auth-password")),
            }),
            privacy: privacy.as_ref().map(|(p, _)| collector::Priv {
                protocol: p.as_str().into(),
                password: file(&format!("{device}.priv-password")),
            }),
            ..Default::default()
        },
    }
}

/// `collector.yaml`, in the contract's collector format.
pub fn config(t: &Tenant) -> collector::Config {
    let devices = t
        .devices
        .iter()
        .map(|d| collector::Device {
            tags: d.tags.clone(),
            icmp: Some(collector::IcmpSwitch::On(d.icmp)),
            profiles: (!d.profiles.is_empty()).then(|| d.profiles.clone()),
            snmp: d.snmp.as_ref().map(|s| snmp(&d.name.to_string(), s)),
            ..collector::Device::new(d.name.to_string(), d.address.to_string())
        })
        .collect();
    let mut influx = collector::Influx::new(influxdb::url(t));
    influx.v1 = Some(collector::InfluxV1 {
        database: influxdb::BUCKET.into(),
        retention_policy: None,
        username: Some(influxdb::COLLECTOR_USER.into()),
        password: Some(SecretRef::Env(PASSWORD_ENV.into())),
    });
    collector::Config {
        agent: collector::Agent {
            name: Some(name(t, "collector")),
            listen: Some(format!("0.0.0.0:{HEALTH_PORT}")),
            tenant: Some(t.name.to_string()),
            alerts: t.slack.is_some().then(|| ALERTS_PATH.into()),
            ..Default::default()
        },
        spool: collector::Spool {
            dir: Some(SPOOL_DIR.into()),
            max_size: Some(SPOOL_SIZE),
            fsync: None,
        },
        output: Some(collector::Output { influxdb: influx }),
        defaults: collector::Defaults {
            interval: Some(dur(t.collector.interval)),
            snmp: Some(collector::Snmp {
                timeout: Some(dur(t.collector.timeout)),
                ..Default::default()
            }),
            tags: BTreeMap::from([("tenant".to_owned(), t.name.to_string())]),
            ..Default::default()
        },
        profile_files: Vec::new(),
        profiles: BTreeMap::new(),
        devices,
    }
}

/// The contract's severity for the tenant file's.
fn severity(s: Severity) -> alert_state::Severity {
    match s {
        Severity::Info => alert_state::Severity::Info,
        Severity::Warning => alert_state::Severity::Warning,
        Severity::Critical => alert_state::Severity::Critical,
    }
}

/// `alerts.yaml` in the contract's alert format: the device rules with their defaults, the
/// tenant's webhook (a file from the credentials Secret), its least severity and digest.
fn alerts(t: &Tenant) -> Option<alerts::Config> {
    let s = t.slack.as_ref()?;
    Some(alerts::Config {
        cluster: alerts::Cluster {
            name: Some(name(t, "collector")),
            state_file: Some(ALERT_STATE.into()),
            ..Default::default()
        },
        tenant_namespaces: BTreeMap::new(),
        rules: t.alert_rules.tenant.clone(),
        tag_rules: t.alert_rules.by_tags.clone(),
        device_rules: t.alert_rules.devices.clone(),
        repeat_interval: None,
        flapping: None,
        maintenance: Vec::new(),
        slack: alerts::Slack {
            default: alerts::Destination {
                webhook: Some(file(SLACK_WEBHOOK_KEY)),
                min_severity: Some(severity(s.min_severity)),
                routes: s
                    .routes
                    .iter()
                    .enumerate()
                    .map(|(i, r)| alerts::Route {
                        tags: r.tags.clone(),
                        webhook: Some(file(&route_key(i))),
                        min_severity: Some(severity(r.min_severity)),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
            tenants: BTreeMap::new(),
            api_url: None,
            min_interval: None,
            timeout: None,
        },
        // crontab as the tenant wrote it: vigil-agent reads the same dialect
        digest: s.digest_schedule.as_ref().map(|c| alerts::Digest {
            cron: c.as_str().to_owned(),
        }),
        output: None,
        spool: None,
    })
}

pub(super) fn objects(t: &Tenant, opts: &Options) -> Result<Vec<Object>, Error> {
    let c = Component::Collector;
    let mut yaml = serde_norway::to_string(&config(t)).unwrap_or_default();
    let mut data = BTreeMap::from([(names::COLLECTOR_CONFIG_FILE.to_owned(), yaml.clone())]);
    if let Some(alerts) = alerts(t) {
        let text = serde_norway::to_string(&alerts).unwrap_or_default();
        yaml.push_str(&text);
        data.insert(names::COLLECTOR_ALERTS_FILE.to_owned(), text);
    }
    let cm = ConfigMap {
        metadata: meta(t, c, name(t, "collector-config")),
        data: Some(data),
        ..Default::default()
    };
    let mut deployment = deployment(t);
    // Restart the collector when its configuration or the set of credentials changes.
    let keys: Vec<String> = credential_refs(t).into_iter().map(|(k, _, _)| k).collect();
    let checksum = config_checksum(format!("{yaml}{keys:?}").as_bytes());
    if let Some(meta) = deployment
        .spec
        .as_mut()
        .and_then(|s| s.template.metadata.as_mut())
    {
        meta.annotations = Some(BTreeMap::from([(
            names::CONFIG_CHECKSUM_ANNOTATION.to_owned(),
            checksum,
        )]));
    }
    let mut out = vec![Object::typed(&cm)?];
    out.push(Object::typed(&deployment)?);
    out.push(workload::pdb(t, c, opts)?);
    Ok(out)
}

fn deployment(t: &Tenant) -> k8s_openapi::api::apps::v1::Deployment {
    let c = Component::Collector;
    let mut container = pod::container(
        "collector",
        t.images.collector.as_str(),
        &t.resources.collector,
        ("health", HEALTH_PORT),
        true,
    );
    container.args = Some(vec!["run".into(), "--config".into(), CONFIG_PATH.into()]);
    container.env = Some(vec![secret_env(
        PASSWORD_ENV,
        &name(t, "influxdb-auth"),
        SecretKey::InfluxWriteToken.key(),
    )]);
    let mount = |name: &str, path: &str, ro: bool| VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: ro.then_some(true),
        ..Default::default()
    };
    container.volume_mounts = Some(vec![
        mount("config", CONFIG_DIR, true),
        mount("credentials", CREDENTIALS_DIR, true),
        mount("spool", "/var/lib/vigil-agent", false),
    ]);
    container.readiness_probe = Some(http_probe("/readyz", "health", 10, 3));
    container.liveness_probe = Some(http_probe("/healthz", "health", 10, 3));
    let mut spec = pod::spec(t, c, UID, vec![container]);
    if t.devices.iter().any(|d| d.icmp) {
        // Unprivileged ICMP echo sockets for the collector's group only: a "safe" sysctl,
        // namespaced to the pod's network namespace (the kernel's default, "1 0", allows no
        // group, and the container drops every capability).
        if let Some(sc) = spec.security_context.as_mut() {
            sc.sysctls = Some(vec![Sysctl {
                name: "net.ipv4.ping_group_range".into(),
                value: format!("{UID} {UID}"),
            }]);
        }
    }
    spec.volumes = Some(vec![
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: name(t, "collector-config"),
                ..Default::default()
            }),
            ..Default::default()
        },
        Volume {
            name: "credentials".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(name(t, "collector-credentials")),
                default_mode: Some(0o400),
                ..Default::default()
            }),
            ..Default::default()
        },
        Volume {
            name: "spool".into(),
            empty_dir: Some(EmptyDirVolumeSource {
                size_limit: Some(Quantity("512Mi".into())),
                ..Default::default()
            }),
            ..Default::default()
        },
    ]);
    workload::deployment(t, c, t.collector.replicas, Strategy::Rolling, spec)
}
