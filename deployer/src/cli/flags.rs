//! `create NAME --flags` and `render NAME --flags` describe a tenant without a file: the flags
//! become a [`TenantFile`] that goes through the same validation.

use crate::tenant::spec::{
    self, IngressSpec, Metadata, NetworkPolicySpec, PlacementSpec, ResourcesSpec, StorageSpec,
    TenantFile, TenantSpec,
};
use crate::tenant::validate::PolicyMode;

use super::args::SpecFlags;

pub fn tenant_file(name: &str, f: &SpecFlags) -> TenantFile {
    let storage =
        (f.storage_class.is_some() || f.influxdb_storage.is_some() || f.grafana_storage.is_some())
            .then(|| StorageSpec {
                class_name: f.storage_class.clone(),
                influxdb: f.influxdb_storage.clone(),
                grafana: f.grafana_storage.clone(),
            });
    TenantFile {
        api_version: spec::API_VERSION.into(),
        kind: spec::KIND.into(),
        metadata: Metadata { name: name.into() },
        spec: TenantSpec {
            display_name: f.display_name.clone(),
            storage,
            retention: f.retention.clone(),
            resources: f.profile.clone().map(|p| ResourcesSpec {
                profile: Some(p),
                ..Default::default()
            }),
            ingress: f.ingress_host.clone().map(|host| IngressSpec {
                host,
                tls_secret: f.ingress_tls_secret.clone(),
                class_name: f.ingress_class.clone(),
                controller_namespace: None,
            }),
            failover: f.toleration_seconds.map(|s| spec::FailoverSpec {
                toleration_seconds: Some(s),
            }),
            placement: (!f.node_selector.is_empty()).then(|| PlacementSpec {
                node_selector: f.node_selector.iter().cloned().collect(),
                tolerations: Vec::new(),
            }),
            device_cidrs: f.device_cidrs.clone(),
            ..Default::default()
        },
    }
}

/// `--network-policy` overrides the file's mode.
/// Applies `--network-policy` and `--allow-broad-cidrs` to a tenant about to be validated.
pub fn apply_policy_flags(source: &mut crate::tenant::Source, flag: &super::args::PolicyFlag) {
    override_policy(&mut source.file, flag.network_policy);
    source.options.allow_broad_cidrs = flag.allow_broad_cidrs;
}

pub fn override_policy(file: &mut TenantFile, mode: Option<PolicyMode>) {
    if let Some(mode) = mode {
        let mode = match mode {
            PolicyMode::Cilium => "cilium",
            PolicyMode::Kubernetes => "kubernetes",
            PolicyMode::None => "none",
        };
        file.spec.network_policy = Some(NetworkPolicySpec {
            mode: Some(mode.into()),
        });
    }
}

/// The minor version of `--kube-version` (`1.20` → 20).
pub fn kube_minor(version: &str) -> Result<u32, super::Error> {
    version
        .strip_prefix("1.")
        .and_then(|m| m.parse::<u32>().ok())
        .ok_or_else(|| {
            super::Error::Usage(format!(
                "--kube-version {version:?} is not MAJOR.MINOR such as 1.20"
            ))
        })
}
