//! Least privilege: read-only on what the agent watches, cluster-wide; writes only to its own
//! Lease and state ConfigMap in its own namespace. No Secrets anywhere. docs/install.md has
//! the table of why each permission exists.

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};

use super::{LEASE, NAME, cluster_meta, cluster_name, meta};
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
pub fn cluster_role(s: &Settings) -> (ClusterRole, ClusterRoleBinding) {
    let role = ClusterRole {
        metadata: cluster_meta(s),
        rules: Some(vec![
            rule("", &["pods", "nodes", "persistentvolumeclaims"], &READ, &[]),
            rule(
                "apps",
                &["deployments", "statefulsets", "daemonsets"],
                &READ,
                &[],
            ),
        ]),
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

/// In its own namespace only: its leader Lease (by name) and its state ConfigMaps, one per
/// node (`vigil-agent-node-<node>`) plus the leader's: nodes come and go, so these cannot be
/// named in advance. `create` cannot be limited to a name in RBAC at all. A node agent
/// follows the leader's state with a watch on that one ConfigMap (a list/watch with a
/// `metadata.name` field selector is authorized by name). No other list, watch, or delete.
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
            rule(
                "",
                &["configmaps"],
                &["get", "create", "update", "patch"],
                &[],
            ),
            rule(
                "",
                &["configmaps"],
                &["list", "watch"],
                &[&format!("{NAME}-leader")],
            ),
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
