//! What every tenant pod shares: placement, failover tolerations, anti-affinity, security.

use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, PodAffinityTerm,
    PodAntiAffinity, PodSecurityContext, PodSpec, ResourceRequirements, SeccompProfile,
    SecretKeySelector, SecurityContext, Toleration, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use super::{COMPONENT_LABEL, Component, TENANT_LABEL, name, selector};
use crate::tenant::validate::{ComponentResources, Tenant};

pub const HOSTNAME: &str = "kubernetes.io/hostname";

/// The pod spec around the component's containers.
pub fn spec(t: &Tenant, c: Component, uid: i64, containers: Vec<Container>) -> PodSpec {
    PodSpec {
        service_account_name: Some(name(t, c.suffix())),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(uid),
            run_as_group: Some(uid),
            fs_group: Some(uid),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        node_selector: (!t.placement.node_selector.is_empty())
            .then(|| t.placement.node_selector.clone()),
        tolerations: Some(tolerations(t)),
        affinity: Some(affinity(t, c)),
        termination_grace_period_seconds: Some(30),
        containers,
        ..Default::default()
    }
}

/// The spec's tolerations, then `not-ready`/`unreachable` with the tenant's failover seconds
/// (Kubernetes adds 300 s by default; a dead node's pods would wait five minutes to move).
fn tolerations(t: &Tenant) -> Vec<Toleration> {
    let mut out: Vec<Toleration> = t
        .placement
        .tolerations
        .iter()
        .map(|s| Toleration {
            key: s.key.clone(),
            operator: s.operator.clone(),
            value: s.value.clone(),
            effect: s.effect.clone(),
            toleration_seconds: s.toleration_seconds,
        })
        .collect();
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        out.push(Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: Some(t.toleration_seconds),
            ..Default::default()
        });
    }
    out
}

/// Prefer a node without the tenant's other components; collector replicas must not share one.
fn affinity(t: &Tenant, c: Component) -> Affinity {
    let others: Vec<String> = Component::WORKLOADS
        .iter()
        .filter(|o| **o != c)
        .map(|o| o.role().to_owned())
        .collect();
    let preferred = WeightedPodAffinityTerm {
        weight: 100,
        pod_affinity_term: PodAffinityTerm {
            topology_key: HOSTNAME.into(),
            label_selector: Some(LabelSelector {
                match_labels: Some([(TENANT_LABEL.to_owned(), t.name.to_string())].into()),
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: COMPONENT_LABEL.into(),
                    operator: "In".into(),
                    values: Some(others),
                }]),
            }),
            ..Default::default()
        },
    };
    let required = (c == Component::Collector && t.collector.replicas > 1).then(|| {
        vec![PodAffinityTerm {
            topology_key: HOSTNAME.into(),
            label_selector: Some(LabelSelector {
                match_labels: Some(selector(t, c)),
                ..Default::default()
            }),
            ..Default::default()
        }]
    });
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![preferred]),
            required_during_scheduling_ignored_during_execution: required,
        }),
        ..Default::default()
    }
}

/// A container with resources, a hardened security context, one named port and probes.
pub fn container(
    name: &str,
    image: &str,
    r: &ComponentResources,
    port: (&str, i32),
    read_only_root: bool,
) -> Container {
    let q = |s: &crate::tenant::validate::Quantity| Quantity(s.to_string());
    Container {
        name: name.into(),
        image: Some(image.into()),
        image_pull_policy: Some("IfNotPresent".into()),
        ports: Some(vec![ContainerPort {
            name: Some(port.0.into()),
            container_port: port.1,
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        resources: Some(ResourceRequirements {
            requests: Some(
                [
                    ("cpu".to_owned(), q(&r.request_cpu)),
                    ("memory".to_owned(), q(&r.request_memory)),
                ]
                .into(),
            ),
            limits: Some(
                [
                    ("cpu".to_owned(), q(&r.limit_cpu)),
                    ("memory".to_owned(), q(&r.limit_memory)),
                ]
                .into(),
            ),
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(read_only_root),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..Default::default()
    }
}

pub fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.into(),
                key: key.into(),
                optional: Some(false),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}
