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
use serde::Serialize;

use super::pod::{self, secret_env};
use super::secrets::SecretKey;
use super::workload::{self, Strategy};
use super::{Component, Error, Object, Options, influxdb, meta, name};
use crate::tenant::validate::{AuthProtocol, CredentialRef, PrivProtocol, Severity, Snmp, Tenant};

pub const HEALTH_PORT: i32 = 9273;
const UID: i64 = 65532;
pub const CONFIG_DIR: &str = "/etc/vigil/config";
pub const CONFIG_PATH: &str = "/etc/vigil/config/collector.yaml";
pub const ALERTS_PATH: &str = "/etc/vigil/config/alerts.yaml";
/// Alert state (outbox and ledger) beside the spool: survives container restarts.
const ALERT_STATE: &str = "/var/lib/vigil-agent/alerts-state.json";
const CREDENTIALS_DIR: &str = "/etc/vigil/credentials";
const SPOOL_DIR: &str = "/var/lib/vigil-agent/spool";
const PASSWORD_ENV: &str = "VIGIL_INFLUXDB_PASSWORD";

/// `collector.yaml` in vigil-agent's configuration format (snake_case keys).
#[derive(Debug, Serialize)]
pub struct AgentConfig {
    pub agent: AgentSection,
    pub spool: SpoolSection,
    pub output: OutputSection,
    pub defaults: Defaults,
    pub devices: Vec<DeviceConfig>,
}

#[derive(Debug, Serialize)]
pub struct AgentSection {
    /// Stable across rollouts (the pod's host name is not): the stack-health dashboard
    /// and the self-metrics are keyed by it.
    pub name: String,
    pub listen: String,
    /// Device alerts are this tenant's: they go to its Slack webhook.
    pub tenant: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SpoolSection {
    pub dir: String,
    pub max_size: String,
}

#[derive(Debug, Serialize)]
pub struct OutputSection {
    pub influxdb: InfluxOutput,
}

#[derive(Debug, Serialize)]
pub struct InfluxOutput {
    pub url: String,
    pub v1: InfluxV1,
}

#[derive(Debug, Serialize)]
pub struct InfluxV1 {
    pub database: String,
    pub username: String,
    pub password: Ref,
}

/// A secret reference as vigil-agent reads it: `{env: NAME}` or `{file: PATH}`.
#[derive(Debug, Serialize)]
pub struct Ref {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Defaults {
    pub interval: String,
    pub snmp: SnmpDefaults,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct SnmpDefaults {
    pub timeout: String,
}

#[derive(Debug, Serialize)]
pub struct DeviceConfig {
    pub name: String,
    pub address: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snmp: Option<SnmpConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<String>>,
    pub icmp: bool,
}

#[derive(Debug, Serialize)]
pub struct SnmpConfig {
    pub version: &'static str,
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community: Option<Ref>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<Key<AuthProtocol>>,
    #[serde(rename = "priv", skip_serializing_if = "Option::is_none")]
    pub privacy: Option<Key<PrivProtocol>>,
}

#[derive(Debug, Serialize)]
pub struct Key<P> {
    pub protocol: P,
    pub password: Ref,
}

/// `alerts.yaml` in vigil-agent's alert format: the device rules with their defaults, the
/// tenant's webhook (a file from the credentials Secret), its least severity and digest.
#[derive(Debug, Serialize)]
pub struct AlertsConfig {
    pub cluster: AlertsCluster,
    pub slack: AlertsSlack,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
}

#[derive(Debug, Serialize)]
pub struct AlertsCluster {
    /// Shown in every message.
    pub name: String,
    pub state_file: String,
}

#[derive(Debug, Serialize)]
pub struct AlertsSlack {
    pub default: Destination,
}

#[derive(Debug, Serialize)]
pub struct Destination {
    pub webhook: Ref,
    pub min_severity: Severity,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

/// Alerts of devices carrying all `tags` go to this webhook instead.
#[derive(Debug, Serialize)]
pub struct Route {
    pub tags: BTreeMap<String, String>,
    pub webhook: Ref,
    pub min_severity: Severity,
}

/// The credentials Secret's key of the default webhook; route `i`'s is `…-route-{i}`.
pub const SLACK_WEBHOOK_KEY: &str = "slack-webhook";

fn route_key(i: usize) -> String {
    format!("{SLACK_WEBHOOK_KEY}-route-{i}")
}

#[derive(Debug, Serialize)]
pub struct Digest {
    /// With seconds, as vigil-agent reads it.
    pub cron: String,
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

fn file(key: &str) -> Ref {
    Ref {
        env: None,
        file: Some(format!("{CREDENTIALS_DIR}/{key}")),
    }
}

pub fn config(t: &Tenant) -> AgentConfig {
    let devices = t
        .devices
        .iter()
        .map(|d| DeviceConfig {
            name: d.name.to_string(),
            address: d.address.to_string(),
            tags: d.tags.clone(),
            icmp: d.icmp,
            profiles: (!d.profiles.is_empty()).then(|| d.profiles.clone()),
            snmp: d.snmp.as_ref().map(|s| match s {
                Snmp::V2c { port, .. } => SnmpConfig {
                    version: "2c",
                    port: *port,
                    community: Some(file(&format!("{}.community", d.name))),
                    user: None,
                    auth: None,
                    privacy: None,
                },
                Snmp::V3 {
                    port,
                    user,
                    auth,
                    privacy,
                } => SnmpConfig {
                    version: "3",
                    port: *port,
                    community: None,
                    user: Some(user.clone()),
                    auth: auth.as_ref().map(|(p, _)| Key {
                        protocol: *p,
                        password: file(&format!("{}.auth-password", d.name)),
                    }),
                    privacy: privacy.as_ref().map(|(p, _)| Key {
                        protocol: *p,
                        password: file(&format!("{}.priv-password", d.name)),
                    }),
                },
            }),
        })
        .collect();
    AgentConfig {
        agent: AgentSection {
            name: name(t, "collector"),
            listen: format!("0.0.0.0:{HEALTH_PORT}"),
            tenant: t.name.to_string(),
            alerts: t.slack.is_some().then(|| ALERTS_PATH.to_owned()),
        },
        spool: SpoolSection {
            dir: SPOOL_DIR.into(),
            max_size: "256MiB".into(),
        },
        output: OutputSection {
            influxdb: InfluxOutput {
                url: influxdb::url(t),
                v1: InfluxV1 {
                    database: influxdb::BUCKET.into(),
                    username: influxdb::COLLECTOR_USER.into(),
                    password: Ref {
                        env: Some(PASSWORD_ENV.into()),
                        file: None,
                    },
                },
            },
        },
        defaults: Defaults {
            interval: t.collector.interval.to_string(),
            snmp: SnmpDefaults {
                timeout: t.collector.timeout.to_string(),
            },
            tags: BTreeMap::from([("tenant".to_owned(), t.name.to_string())]),
        },
        devices,
    }
}

fn alerts(t: &Tenant) -> Option<AlertsConfig> {
    let s = t.slack.as_ref()?;
    Some(AlertsConfig {
        cluster: AlertsCluster {
            name: name(t, "collector"),
            state_file: ALERT_STATE.into(),
        },
        slack: AlertsSlack {
            default: Destination {
                webhook: file(SLACK_WEBHOOK_KEY),
                min_severity: s.min_severity,
                routes: s
                    .routes
                    .iter()
                    .enumerate()
                    .map(|(i, r)| Route {
                        tags: r.tags.clone(),
                        webhook: file(&route_key(i)),
                        min_severity: r.min_severity,
                    })
                    .collect(),
            },
        },
        digest: s.digest_schedule.as_ref().map(|c| Digest {
            cron: c.with_seconds(),
        }),
    })
}

pub(super) fn objects(t: &Tenant, opts: &Options) -> Result<Vec<Object>, Error> {
    let c = Component::Collector;
    let mut yaml = serde_yaml::to_string(&config(t)).unwrap_or_default();
    let mut data = BTreeMap::from([("collector.yaml".to_owned(), yaml.clone())]);
    if let Some(alerts) = alerts(t) {
        let text = serde_yaml::to_string(&alerts).unwrap_or_default();
        yaml.push_str(&text);
        data.insert("alerts.yaml".to_owned(), text);
    }
    let cm = ConfigMap {
        metadata: meta(t, c, name(t, "collector-config")),
        data: Some(data),
        ..Default::default()
    };
    let mut deployment = deployment(t);
    // Restart the collector when its configuration or the set of credentials changes.
    let keys: Vec<String> = credential_refs(t).into_iter().map(|(k, _, _)| k).collect();
    let checksum = format!("{:016x}", fnv1a(format!("{yaml}{keys:?}").as_bytes()));
    if let Some(meta) = deployment
        .spec
        .as_mut()
        .and_then(|s| s.template.metadata.as_mut())
    {
        meta.annotations = Some(BTreeMap::from([(
            "vigil.dev/config-checksum".to_owned(),
            checksum,
        )]));
    }
    let mut out = vec![Object::typed(&cm)?];
    out.push(Object::typed(&deployment)?);
    out.push(workload::pdb(t, c, opts)?);
    Ok(out)
}

/// FNV-1a: a stable, dependency-free checksum (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
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
    container.readiness_probe = Some(pod::http_probe("/readyz", "health", 10, 3));
    container.liveness_probe = Some(pod::http_probe("/healthz", "health", 10, 3));
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
