//! Deployment, Service, PVC and PodDisruptionBudget shapes shared by the components.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSpec, PodTemplateSpec, Service,
    ServicePort, ServiceSpec, VolumeResourceRequirements,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{Component, Error, Object, Options, labels, meta, name, resource, selector};
use crate::tenant::validate::Tenant;

/// How pods are replaced on an update.
pub enum Strategy {
    /// Single writer on a ReadWriteOnce volume: stop the old pod before starting the new one.
    Recreate,
    /// Stateless: start the new pod first.
    Rolling,
}

pub fn deployment(
    t: &Tenant,
    c: Component,
    replicas: i32,
    strategy: Strategy,
    pod: PodSpec,
) -> Deployment {
    let strategy = match strategy {
        Strategy::Recreate => DeploymentStrategy {
            type_: Some("Recreate".into()),
            ..Default::default()
        },
        Strategy::Rolling => DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            ..Default::default()
        },
    };
    Deployment {
        metadata: meta(t, c, name(t, c.suffix())),
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            revision_history_limit: Some(3),
            selector: LabelSelector {
                match_labels: Some(selector(t, c)),
                ..Default::default()
            },
            strategy: Some(strategy),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(t, c)),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn service(t: &Tenant, c: Component, port_name: &str, port: i32) -> Service {
    Service {
        metadata: meta(t, c, name(t, c.suffix())),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(selector(t, c)),
            ports: Some(vec![ServicePort {
                name: Some(port_name.into()),
                port,
                target_port: Some(IntOrString::String(port_name.into())),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn pvc(t: &Tenant, c: Component, size: &str) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: meta(t, c, name(t, c.suffix())),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: t.storage.class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some([("storage".to_owned(), Quantity(size.into()))].into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// At most one pod of the component voluntarily evicted at a time (a drain never blocks forever).
pub fn pdb(t: &Tenant, c: Component, opts: &Options) -> Result<Object, Error> {
    let pdb = PodDisruptionBudget {
        metadata: meta(t, c, name(t, c.suffix())),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector(t, c)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(Object::with_resource(
        resource(
            &opts.pdb_api_version,
            "PodDisruptionBudget",
            "poddisruptionbudgets",
        ),
        &pdb,
    )?)
}
