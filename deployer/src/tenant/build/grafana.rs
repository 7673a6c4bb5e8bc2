//! Grafana: PVC, provisioning (InfluxQL datasource, dashboard provider, dashboards), Deployment,
//! Service, PDB and, when asked for, an Ingress.

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, KeyToPath, PersistentVolumeClaimVolumeSource, Volume,
    VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};

use super::embedded::DASHBOARDS;
use super::pod::{self, env, secret_env};
use super::secrets::SecretKey;
use super::workload::{self, Strategy};
use super::{Component, Error, Object, Options, influxdb, meta, name};
use crate::kube::http_probe;
use crate::tenant::validate::Tenant;

pub const PORT: i32 = 3000;
/// The datasource uid dashboards refer to.
pub const DATASOURCE_UID: &str = "vigil-influxdb";
const UID: i64 = 472;
const DASHBOARD_DIR: &str = "/var/lib/vigil-dashboards";

/// Where operators reach Grafana: the ingress URL, or the in-cluster service URL.
pub fn url(t: &Tenant) -> String {
    match &t.ingress {
        Some(i) if i.tls_secret.is_some() => format!("https://{}/", i.host),
        Some(i) => format!("http://{}/", i.host),
        None => format!("http://{}.{}.svc:{PORT}/", name(t, "grafana"), t.name),
    }
}

pub(super) fn objects(t: &Tenant, opts: &Options) -> Result<Vec<Object>, Error> {
    let c = Component::Grafana;
    let mut out = vec![
        Object::typed(&config(t))?,
        Object::typed(&dashboards(t))?,
        Object::typed(&workload::pvc(t, c, t.storage.grafana.as_str()))?,
        Object::typed(&workload::service(t, c, "http", PORT))?,
        Object::typed(&deployment(t))?,
        workload::pdb(t, c, opts)?,
    ];
    if let Some(ingress) = ingress(t) {
        out.push(Object::typed(&ingress)?);
    }
    Ok(out)
}

fn config(t: &Tenant) -> ConfigMap {
    let datasource = format!(
        "apiVersion: 1\n\
         deleteDatasources: []\n\
         datasources:\n\
         - name: InfluxDB ({tenant})\n  \
           uid: {DATASOURCE_UID}\n  \
           type: influxdb\n  \
           access: proxy\n  \
           url: {url}\n  \
           user: {user}\n  \
           isDefault: true\n  \
           editable: false\n  \
           jsonData:\n    \
             dbName: {bucket}\n    \
             httpMode: POST\n    \
             timeInterval: {interval}s\n  \
           secureJsonData:\n    \
             password: $VIGIL_INFLUXDB_PASSWORD\n",
        tenant = t.name,
        url = influxdb::url(t),
        user = influxdb::GRAFANA_USER,
        bucket = influxdb::BUCKET,
        // $__interval never drops below the poll interval: no empty buckets between points.
        interval = t.collector.interval.secs().max(1),
    );
    let provider = format!(
        "apiVersion: 1\n\
         providers:\n\
         - name: vigil\n  \
           type: file\n  \
           folder: {folder}\n  \
           disableDeletion: true\n  \
           allowUiUpdates: false\n  \
           updateIntervalSeconds: 60\n  \
           options:\n    \
             path: {DASHBOARD_DIR}\n",
        // The tenant's own folder; a JSON string is valid YAML whatever the display name holds.
        folder = serde_json::Value::String(t.display_name.clone()),
    );
    ConfigMap {
        metadata: meta(t, Component::Grafana, name(t, "grafana-config")),
        data: Some(
            [
                ("datasources.yaml".to_owned(), datasource),
                ("dashboards.yaml".to_owned(), provider),
            ]
            .into(),
        ),
        ..Default::default()
    }
}

/// Every `dashboards/*.json` of the source tree, embedded at build time.
fn dashboards(t: &Tenant) -> ConfigMap {
    ConfigMap {
        metadata: meta(t, Component::Grafana, name(t, "grafana-dashboards")),
        // An empty map is dropped by the server, so applying one would change the object.
        data: (!DASHBOARDS.is_empty()).then(|| {
            DASHBOARDS
                .iter()
                .map(|(stem, json)| (format!("{stem}.json"), (*json).to_owned()))
                .collect()
        }),
        ..Default::default()
    }
}

fn deployment(t: &Tenant) -> k8s_openapi::api::apps::v1::Deployment {
    let c = Component::Grafana;
    let admin = name(t, "grafana-admin");
    let mut container = pod::container(
        "grafana",
        t.images.grafana.as_str(),
        &t.resources.grafana,
        ("http", PORT),
        false,
    );
    let mut envs = vec![
        secret_env(
            "GF_SECURITY_ADMIN_USER",
            &admin,
            SecretKey::GrafanaAdminUser.key(),
        ),
        secret_env(
            "GF_SECURITY_ADMIN_PASSWORD",
            &admin,
            SecretKey::GrafanaAdminPassword.key(),
        ),
        secret_env(
            "VIGIL_INFLUXDB_PASSWORD",
            &name(t, "influxdb-auth"),
            SecretKey::InfluxReadToken.key(),
        ),
        env("GF_USERS_ALLOW_SIGN_UP", "false"),
        // The service desk's first screen is the tenant overview.
        env(
            "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH",
            &format!("{DASHBOARD_DIR}/overview.json"),
        ),
        env("GF_AUTH_ANONYMOUS_ENABLED", "false"),
        env("GF_ANALYTICS_REPORTING_ENABLED", "false"),
        env("GF_ANALYTICS_CHECK_FOR_UPDATES", "false"),
        env("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning"),
    ];
    if t.ingress.is_some() {
        envs.push(env("GF_SERVER_ROOT_URL", &url(t)));
    }
    container.env = Some(envs);
    let mount = |name: &str, path: &str, ro: bool| VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: ro.then_some(true),
        ..Default::default()
    };
    container.volume_mounts = Some(vec![
        mount("data", "/var/lib/grafana", false),
        mount("datasources", "/etc/grafana/provisioning/datasources", true),
        mount("providers", "/etc/grafana/provisioning/dashboards", true),
        mount("dashboards", DASHBOARD_DIR, true),
    ]);
    container.startup_probe = Some(http_probe("/api/health", "http", 5, 60));
    container.readiness_probe = Some(http_probe("/api/health", "http", 5, 3));
    container.liveness_probe = Some(http_probe("/api/health", "http", 10, 6));
    let config_item = |volume: &str, cm: String, key: &str| Volume {
        name: volume.into(),
        config_map: Some(ConfigMapVolumeSource {
            name: cm,
            items: Some(vec![KeyToPath {
                key: key.into(),
                path: key.into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut spec = pod::spec(t, c, UID, vec![container]);
    spec.volumes = Some(vec![
        Volume {
            name: "data".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: name(t, "grafana"),
                ..Default::default()
            }),
            ..Default::default()
        },
        config_item("datasources", name(t, "grafana-config"), "datasources.yaml"),
        config_item("providers", name(t, "grafana-config"), "dashboards.yaml"),
        Volume {
            name: "dashboards".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: name(t, "grafana-dashboards"),
                ..Default::default()
            }),
            ..Default::default()
        },
    ]);
    workload::deployment(t, c, 1, Strategy::Recreate, spec)
}

fn ingress(t: &Tenant) -> Option<Ingress> {
    let i = t.ingress.as_ref()?;
    Some(Ingress {
        metadata: meta(t, Component::Grafana, name(t, "grafana")),
        spec: Some(IngressSpec {
            ingress_class_name: i.class_name.clone(),
            tls: i.tls_secret.as_ref().map(|s| {
                vec![IngressTLS {
                    hosts: Some(vec![i.host.clone()]),
                    secret_name: Some(s.clone()),
                }]
            }),
            rules: Some(vec![IngressRule {
                host: Some(i.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: name(t, "grafana"),
                                port: Some(ServiceBackendPort {
                                    name: Some("http".into()),
                                    ..Default::default()
                                }),
                            }),
                            ..Default::default()
                        },
                    }],
                }),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    })
}
