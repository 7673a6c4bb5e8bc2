//! The DaemonSet: one agent per node, every taint tolerated, a PriorityClass, a rolling update
//! one node at a time, and a pod that satisfies the `restricted` Pod Security profile (unless
//! ICMP needs NET_RAW, the one documented exception).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec,
    ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext, Sysctl, Toleration,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::config::{CONFIG_DIR, CONFIG_FILE, config_yaml};
use super::{
    CONFIG_CHECKSUM_ANNOTATION, CONFIG_MAP, CREDENTIALS_ANNOTATION, NAME, SETTINGS_ANNOTATION,
    SLACK_SECRET, cluster_name, labels, meta, selector,
};
use crate::agent::spec::{IcmpMode, Settings};
use crate::kube::{config_checksum, http_probe};

pub const HEALTH_PORT: i32 = vigil_contract::names::HEALTH_PORT as i32;
/// The image's non-root user and group (distroless `nonroot`).
pub const UID: i64 = 65532;
pub const SLACK_DIR: &str = "/etc/vigil-slack";
/// Requests and limits: the agent holds a reflector of every pod and node of the cluster.
pub const RESOURCES: [(&str, &str, &str); 2] =
    [("cpu", "50m", "500m"), ("memory", "64Mi", "256Mi")];

pub fn needs_net_raw(s: &Settings) -> bool {
    s.icmp == IcmpMode::NetRaw
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(true),
        ..Default::default()
    }
}

fn container(s: &Settings) -> Container {
    let (requests, limits): (BTreeMap<_, _>, BTreeMap<_, _>) = RESOURCES
        .iter()
        .map(|(k, req, lim)| {
            (
                ((*k).to_owned(), Quantity((*req).into())),
                ((*k).to_owned(), Quantity((*lim).into())),
            )
        })
        .unzip();
    let mut mounts = vec![mount("config", CONFIG_DIR)];
    if s.slack.any() {
        mounts.push(mount("slack", SLACK_DIR));
    }
    mounts.push(VolumeMount {
        name: "tmp".into(),
        mount_path: "/tmp".into(),
        ..Default::default()
    });
    Container {
        name: "agent".into(),
        image: Some(s.image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        args: Some(vec![
            "cluster".into(),
            "--config".into(),
            format!("{CONFIG_DIR}/{CONFIG_FILE}"),
        ]),
        env: Some(vec![
            field_env("NODE_NAME", "spec.nodeName"),
            field_env("POD_NAME", "metadata.name"),
            field_env("POD_NAMESPACE", "metadata.namespace"),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some("health".into()),
            container_port: HEALTH_PORT,
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        resources: Some(ResourceRequirements {
            requests: Some(requests),
            limits: Some(limits),
            ..Default::default()
        }),
        readiness_probe: Some(http_probe("/readyz", "health", 10, 3)),
        liveness_probe: Some(http_probe("/healthz", "health", 10, 3)),
        security_context: Some(SecurityContext {
            // A non-root process only gains NET_RAW through the binary's file capability
            // (`cap_net_raw=ep`, set in the image), which no_new_privs would suppress.
            allow_privilege_escalation: Some(needs_net_raw(s)),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            privileged: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: needs_net_raw(s).then(|| vec!["NET_RAW".into()]),
            }),
            ..Default::default()
        }),
        volume_mounts: Some(mounts),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        ..Default::default()
    }
}

fn volumes(s: &Settings) -> Vec<Volume> {
    let mut out = vec![Volume {
        name: "config".into(),
        config_map: Some(ConfigMapVolumeSource {
            name: CONFIG_MAP.into(),
            ..Default::default()
        }),
        ..Default::default()
    }];
    if s.slack.any() {
        out.push(Volume {
            name: "slack".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(SLACK_SECRET.into()),
                // Readable by the agent's group only (fsGroup).
                default_mode: Some(0o440),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    out.push(Volume {
        name: "tmp".into(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(Quantity("16Mi".into())),
            ..Default::default()
        }),
        ..Default::default()
    });
    out
}

fn pod(s: &Settings) -> PodSpec {
    PodSpec {
        service_account_name: Some(NAME.into()),
        automount_service_account_token: Some(true),
        enable_service_links: Some(false),
        priority_class_name: Some(cluster_name(s)),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(UID),
            run_as_group: Some(UID),
            fs_group: Some(UID),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..Default::default()
            }),
            // Unprivileged ICMP echo sockets for the agent's group only (a "safe" sysctl,
            // namespaced to the pod's network namespace).
            sysctls: (s.icmp == IcmpMode::Sysctl).then(|| {
                vec![Sysctl {
                    name: "net.ipv4.ping_group_range".into(),
                    value: format!("{UID} {UID}"),
                }]
            }),
            ..Default::default()
        }),
        // Every taint, NoExecute included: the agent must run on every node, control plane
        // and failing nodes most of all.
        tolerations: Some(vec![Toleration {
            operator: Some("Exists".into()),
            ..Default::default()
        }]),
        node_selector: Some({
            let mut selector = s.node_selector.clone();
            selector.insert("kubernetes.io/os".to_owned(), "linux".to_owned());
            selector
        }),
        termination_grace_period_seconds: Some(30),
        containers: vec![container(s)],
        volumes: Some(volumes(s)),
        ..Default::default()
    }
}

pub fn daemonset(s: &Settings, credentials_version: Option<&str>) -> DaemonSet {
    let mut annotations = BTreeMap::from([(
        CONFIG_CHECKSUM_ANNOTATION.to_owned(),
        config_checksum(config_yaml(s).as_bytes()),
    )]);
    if let Some(v) = credentials_version {
        annotations.insert(CREDENTIALS_ANNOTATION.to_owned(), v.to_owned());
    }
    let mut metadata = meta(s, NAME);
    metadata.annotations = Some(BTreeMap::from([(
        SETTINGS_ANNOTATION.to_owned(),
        serde_json::to_string(s).unwrap_or_default(),
    )]));
    let max_unavailable = s
        .max_unavailable
        .parse::<i32>()
        .map(IntOrString::Int)
        .unwrap_or_else(|_| IntOrString::String(s.max_unavailable.clone()));
    DaemonSet {
        metadata,
        spec: Some(DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(selector(s)),
                ..Default::default()
            },
            // A new pod must stay ready this long before the next node is upgraded.
            min_ready_seconds: Some(10),
            revision_history_limit: Some(5),
            update_strategy: Some(DaemonSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDaemonSet {
                    max_unavailable: Some(max_unavailable),
                    ..Default::default()
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(s)),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(pod(s)),
            },
        }),
        ..Default::default()
    }
}
