//! Least privilege: read-only on what the agent watches, cluster-wide; in its own namespace
//! its Lease by name and nothing it could change about itself; its state ConfigMaps in a
//! namespace that holds nothing else. No Secrets anywhere. docs/install.md has the table of
//! why each permission exists.

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{LEASE, NAME, STATE_ROLE, cluster_meta, cluster_name, labels, meta, state_namespace};
use crate::agent::spec::Settings;

const READ: [&str; 3] = ["get", "list", "watch"];
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn rule(group: &str, resources: &[&str], verbs: &[&str], names: &[&str]) -> PolicyRule {
    let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(strings(resources)),
        verbs: strings(verbs),
        resource_names: (!names.is_empty()).then(|| strings(names)),
        ..Default::default()
    }
}

fn subject(s: &Settings) -> Subject {
    Subject {
        kind: "ServiceAccount".into(),
        name: NAME.into(),
        namespace: Some(s.namespace.clone()),
        ..Default::default()
    }
}

/// get/list/watch on exactly what the agent watches: pods, nodes, PVCs and the three apps
/// workloads (a pod's Deployment is found from its ReplicaSet's name, not by reading it).
/// With `--fencing`, also delete of pods and list/delete of VolumeAttachments: RBAC cannot
/// narrow a delete to vigil's pods by label, which is why fencing is opt-in.
pub fn cluster_role(s: &Settings) -> (ClusterRole, ClusterRoleBinding) {
    let mut rules = vec![
        rule("", &["pods", "nodes", "persistentvolumeclaims"], &READ, &[]),
        rule(
            "apps",
            &["deployments", "statefulsets", "daemonsets"],
            &READ,
            &[],
        ),
    ];
    if s.fencing != crate::agent::spec::FencingMode::Off {
        rules.push(rule("", &["pods"], &["delete"], &[]));
        rules.push(rule(
            "storage.k8s.io",
            &["volumeattachments"],
            &["list", "delete"],
            &[],
        ));
    }
    let role = ClusterRole {
        metadata: cluster_meta(s),
        rules: Some(rules),
        ..Default::default()
    };
    let binding = ClusterRoleBinding {
        metadata: cluster_meta(s),
        role_ref: RoleRef {
            api_group: RBAC_GROUP.into(),
            kind: "ClusterRole".into(),
            name: cluster_name(s),
        },
        subjects: Some(vec![subject(s)]),
    };
    (role, binding)
}

/// In its own namespace: its leader Lease (by name; `create` cannot be limited to a name in
/// RBAC at all), and `get` of ConfigMaps, only to read once the state an older agent kept
/// there. No write to any ConfigMap here: not to `vigil-agent-config`, not to anything.
pub fn role(s: &Settings) -> (Role, RoleBinding) {
    let role = Role {
        metadata: meta(s, NAME),
        rules: Some(vec![
            rule("coordination.k8s.io", &["leases"], &["create"], &[]),
            rule(
                "coordination.k8s.io",
                &["leases"],
                &["get", "update"],
                &[LEASE],
            ),
            rule("", &["configmaps"], &["get"], &[]),
        ]),
    };
    let binding = RoleBinding {
        metadata: meta(s, NAME),
        role_ref: RoleRef {
            api_group: RBAC_GROUP.into(),
            kind: "Role".into(),
            name: NAME.into(),
        },
        subjects: Some(vec![subject(s)]),
    };
    (role, binding)
}

/// In the state namespace, which holds nothing but the agents' state: its ConfigMaps, one
/// per node (`vigil-agent-node-<node>`) plus the leader's. Nodes come and go, so they
/// cannot be named in advance. A node agent watches the leader's; the leader lists them
/// all and deletes (or empties) those of nodes that are gone, after taking them over.
pub fn state_role(s: &Settings) -> (Role, RoleBinding) {
    let state_meta = ObjectMeta {
        name: Some(STATE_ROLE.into()),
        namespace: Some(state_namespace(&s.namespace)),
        labels: Some(labels(s)),
        ..Default::default()
    };
    let role = Role {
        metadata: state_meta.clone(),
        rules: Some(vec![rule(
            "",
            &["configmaps"],
            &["get", "list", "watch", "create", "update", "delete"],
            &[],
        )]),
    };
    let binding = RoleBinding {
        metadata: state_meta,
        role_ref: RoleRef {
            api_group: RBAC_GROUP.into(),
            kind: "Role".into(),
            name: STATE_ROLE.into(),
        },
        subjects: Some(vec![subject(s)]),
    };
    (role, binding)
}
