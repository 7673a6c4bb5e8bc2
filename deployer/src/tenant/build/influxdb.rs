//! InfluxDB 2: PVC, init script, Deployment (Recreate), Service, PDB.

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, PersistentVolumeClaimVolumeSource, Volume, VolumeMount,
};

use super::pod::{self, env, secret_env};
use super::secrets::SecretKey;
use super::workload::{self, Strategy};
use super::{Component, Error, Object, Options, meta, name};
use crate::kube::http_probe;
use crate::tenant::validate::Tenant;

pub const PORT: i32 = 8086;
/// InfluxQL database (DBRP mapping) and bucket name.
pub const BUCKET: &str = "vigil";
pub const GRAFANA_USER: &str = "grafana";
pub const COLLECTOR_USER: &str = "collector";
const UID: i64 = 1000;
const INIT_SCRIPT: &str = include_str!("influxdb-init.sh");

/// The in-cluster URL of the tenant's InfluxDB.
pub fn url(t: &Tenant) -> String {
    format!("http://{}.{}.svc:{PORT}", name(t, "influxdb"), t.name)
}

pub(super) fn objects(t: &Tenant, opts: &Options) -> Result<Vec<Object>, Error> {
    let c = Component::InfluxDb;
    let init = ConfigMap {
        metadata: meta(t, c, name(t, "influxdb-init")),
        data: Some([("vigil-users.sh".to_owned(), INIT_SCRIPT.to_owned())].into()),
        ..Default::default()
    };
    Ok(vec![
        Object::typed(&init)?,
        Object::typed(&workload::pvc(t, c, t.storage.influxdb.as_str()))?,
        Object::typed(&workload::service(t, c, "http", PORT))?,
        Object::typed(&deployment(t))?,
        workload::pdb(t, c, opts)?,
    ])
}

fn deployment(t: &Tenant) -> k8s_openapi::api::apps::v1::Deployment {
    let c = Component::InfluxDb;
    let auth = name(t, "influxdb-auth");
    let mut container = pod::container(
        "influxdb",
        t.images.influxdb.as_str(),
        &t.resources.influxdb,
        ("http", PORT),
        false,
    );
    container.env = Some(vec![
        env("DOCKER_INFLUXDB_INIT_MODE", "setup"),
        env("DOCKER_INFLUXDB_INIT_USERNAME", "admin"),
        secret_env(
            "DOCKER_INFLUXDB_INIT_PASSWORD",
            &auth,
            SecretKey::InfluxAdminPassword.key(),
        ),
        secret_env(
            "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN",
            &auth,
            SecretKey::InfluxAdminToken.key(),
        ),
        env("DOCKER_INFLUXDB_INIT_ORG", t.name.as_str()),
        env("DOCKER_INFLUXDB_INIT_BUCKET", BUCKET),
        env("DOCKER_INFLUXDB_INIT_RETENTION", &t.retention.to_string()),
        env("VIGIL_BUCKET", BUCKET),
        env("VIGIL_GRAFANA_USER", GRAFANA_USER),
        secret_env(
            "VIGIL_GRAFANA_PASSWORD",
            &auth,
            SecretKey::InfluxReadToken.key(),
        ),
        env("VIGIL_COLLECTOR_USER", COLLECTOR_USER),
        secret_env(
            "VIGIL_COLLECTOR_PASSWORD",
            &auth,
            SecretKey::InfluxWriteToken.key(),
        ),
        env("INFLUXD_REPORTING_DISABLED", "true"),
    ]);
    container.volume_mounts = Some(vec![
        VolumeMount {
            name: "data".into(),
            mount_path: "/var/lib/influxdb2".into(),
            ..Default::default()
        },
        VolumeMount {
            name: "init".into(),
            mount_path: "/docker-entrypoint-initdb.d".into(),
            read_only: Some(true),
            ..Default::default()
        },
    ]);
    let mut startup = http_probe("/health", "http", 5, 60);
    startup.timeout_seconds = Some(3);
    container.startup_probe = Some(startup);
    container.readiness_probe = Some(http_probe("/health", "http", 5, 3));
    container.liveness_probe = Some(http_probe("/health", "http", 10, 6));
    let mut spec = pod::spec(t, c, UID, vec![container]);
    spec.volumes = Some(vec![
        Volume {
            name: "data".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: name(t, "influxdb"),
                ..Default::default()
            }),
            ..Default::default()
        },
        Volume {
            name: "init".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: name(t, "influxdb-init"),
                default_mode: Some(0o555),
                ..Default::default()
            }),
            ..Default::default()
        },
    ]);
    workload::deployment(t, c, 1, Strategy::Recreate, spec)
}
