//! Least privilege, proven by the real API server with SubjectAccessReviews: the agent reads
//! what it watches cluster-wide, writes its Lease in its own namespace and its state only in
//! the state namespace, which holds nothing else (no ConfigMap of its own namespace, least
//! of all its configuration, is writable); a tenant's ServiceAccounts can do nothing at
//! all, least of all in another tenant.

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use kube::Client;
use kube::api::{Api, ListParams, PostParams};

use crate::agent_support::{clean_up, create_tenants};
use crate::support::{scratch, tenant_name, vigil_env};

/// Whether `sa` (namespace/name) may `verb` `group/resource` (in `ns`, named `name`).
async fn can(
    client: &Client,
    sa: (&str, &str),
    verb: &str,
    group: &str,
    resource: &str,
    ns: Option<&str>,
    name: Option<&str>,
) -> bool {
    let (resource, subresource) = match resource.split_once('/') {
        Some((r, sub)) => (r, Some(sub.to_owned())),
        None => (resource, None),
    };
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(format!("system:serviceaccount:{}:{}", sa.0, sa.1)),
            groups: Some(vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{}", sa.0),
                "system:authenticated".into(),
            ]),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                subresource,
                namespace: ns.map(str::to_owned),
                name: name.map(str::to_owned),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<SubjectAccessReview> = Api::all(client.clone());
    let answer = api
        .create(&PostParams::default(), &review)
        .await
        .expect("SubjectAccessReview");
    answer.status.expect("status").allowed
}

/// (verb, group, resource, namespace, name).
type Case<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// Asserts each (verb, group, resource, namespace, name) is allowed or denied as expected.
async fn expect(client: &Client, sa: (&str, &str), allowed: bool, cases: &[Case<'_>]) {
    let mut wrong = Vec::new();
    for (verb, group, resource, ns, name) in cases {
        if can(client, sa, verb, group, resource, *ns, *name).await != allowed {
            wrong.push(format!("{verb} {group}/{resource} ns={ns:?} name={name:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{}:{} should {}be allowed: {wrong:#?}",
        sa.0,
        sa.1,
        if allowed { "" } else { "not " }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_and_tenant_service_accounts_have_least_privilege() {
    let sandbox = vigil_tests::require_sandbox!();
    let client = sandbox.client().await;
    let ns = tenant_name("va-rbac");
    let t1 = tenant_name("rbt1");
    let t2 = tenant_name("rbt2");
    let dir = scratch(&ns);
    let env = [(
        "IT_RBAC_WEBHOOK",
        "https://hooks.slack.com/services/T/B/rbac",
    )];
    // RBAC only: the agent need not run anywhere (and stays off other tests' nodes).
    let nowhere = format!("vigil-it/no-node={ns}");
    vigil_env(
        Some(sandbox),
        &[
            "agent",
            "install",
            "-n",
            &ns,
            "--slack-webhook-env",
            "IT_RBAC_WEBHOOK",
            "--node-selector",
            &nowhere,
        ],
        &env,
    )
    .await
    .ok();
    create_tenants(sandbox, &[&t1, &t2]).await;

    let agent = (ns.as_str(), "vigil-agent");
    let all: Option<&str> = None;
    let mine = Some(ns.as_str());
    let state_ns = format!("{ns}-state");
    let state = Some(state_ns.as_str());
    let other = Some(t1.as_str());
    // Reads cluster-wide what it watches; its Lease and state in its own namespace.
    expect(
        &client,
        agent,
        true,
        &[
            ("list", "", "pods", all, None),
            ("watch", "", "pods", all, None),
            ("get", "", "pods", other, Some("x")),
            ("list", "", "nodes", all, None),
            ("watch", "", "nodes", all, None),
            ("list", "", "persistentvolumeclaims", all, None),
            ("list", "apps", "deployments", all, None),
            ("watch", "apps", "statefulsets", all, None),
            ("list", "apps", "daemonsets", all, None),
            ("create", "coordination.k8s.io", "leases", mine, None),
            (
                "get",
                "coordination.k8s.io",
                "leases",
                mine,
                Some("vigil-agent-leader"),
            ),
            (
                "update",
                "coordination.k8s.io",
                "leases",
                mine,
                Some("vigil-agent-leader"),
            ),
            // the state an older agent kept beside its configuration: read once
            ("get", "", "configmaps", mine, Some("vigil-agent-leader")),
            ("get", "", "configmaps", state, Some("vigil-agent-leader")),
            (
                "update",
                "",
                "configmaps",
                state,
                Some("vigil-agent-node-n1"),
            ),
            ("create", "", "configmaps", state, None),
            ("watch", "", "configmaps", state, Some("vigil-agent-leader")),
            ("list", "", "configmaps", state, None),
            // the leader's take-over of a gone node's state
            (
                "delete",
                "",
                "configmaps",
                state,
                Some("vigil-agent-node-n1"),
            ),
        ],
    )
    .await;
    // No Secret anywhere (not even its own Slack credentials: they are mounted), no writes
    // outside its namespace, no other Lease, nothing it does not need.
    expect(
        &client,
        agent,
        false,
        &[
            ("get", "", "secrets", mine, Some("vigil-agent-slack")),
            ("list", "", "secrets", mine, None),
            ("list", "", "secrets", all, None),
            (
                "get",
                "",
                "secrets",
                other,
                Some(&format!("{t1}-influxdb-auth")),
            ),
            ("watch", "", "secrets", all, None),
            ("create", "", "pods", other, None),
            ("delete", "", "pods", other, Some("x")),
            ("patch", "", "pods", mine, Some("x")),
            ("create", "", "pods", mine, None),
            ("update", "", "nodes", all, Some("n1")),
            ("patch", "", "nodes", all, Some("n1")),
            ("delete", "apps", "deployments", other, Some("x")),
            ("patch", "apps", "daemonsets", mine, Some("vigil-agent")),
            ("create", "", "configmaps", other, None),
            ("patch", "", "configmaps", other, Some("vigil-agent-leader")),
            ("list", "", "configmaps", mine, None),
            ("watch", "", "configmaps", mine, Some("vigil-agent-config")),
            // nothing in its own namespace is writable: not its configuration, not state
            ("update", "", "configmaps", mine, Some("vigil-agent-config")),
            ("patch", "", "configmaps", mine, Some("vigil-agent-config")),
            ("delete", "", "configmaps", mine, Some("vigil-agent-config")),
            ("create", "", "configmaps", mine, None),
            (
                "update",
                "",
                "configmaps",
                mine,
                Some("vigil-agent-node-n1"),
            ),
            ("patch", "", "configmaps", mine, Some("vigil-agent-node-n1")),
            ("delete", "", "configmaps", mine, Some("vigil-agent-leader")),
            (
                "patch",
                "",
                "configmaps",
                state,
                Some("vigil-agent-node-n1"),
            ),
            ("get", "", "secrets", state, Some("x")),
            ("create", "", "pods", state, None),
            (
                "update",
                "coordination.k8s.io",
                "leases",
                state,
                Some("vigil-agent-leader"),
            ),
            ("list", "", "events", all, None),
            ("watch", "", "events", all, None),
            ("list", "apps", "replicasets", all, None),
            (
                "create",
                "coordination.k8s.io",
                "leases",
                Some("kube-system"),
                None,
            ),
            (
                "update",
                "coordination.k8s.io",
                "leases",
                mine,
                Some("someone-else"),
            ),
            (
                "update",
                "coordination.k8s.io",
                "leases",
                Some("kube-node-lease"),
                Some("n1"),
            ),
            ("get", "", "namespaces", all, Some(&ns)),
            (
                "create",
                "",
                "serviceaccounts/token",
                mine,
                Some("vigil-agent"),
            ),
            ("create", "", "pods/exec", other, Some("x")),
            (
                "escalate",
                "rbac.authorization.k8s.io",
                "clusterroles",
                all,
                None,
            ),
            (
                "create",
                "rbac.authorization.k8s.io",
                "rolebindings",
                mine,
                None,
            ),
        ],
    )
    .await;

    // Tenant ServiceAccounts: nothing at all, in their own namespace or anywhere else.
    for (tenant, neighbour) in [(&t1, &t2), (&t2, &t1)] {
        let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), tenant);
        let list = sas.list(&ListParams::default()).await.expect("list SAs");
        let ours: Vec<ServiceAccount> = list
            .items
            .into_iter()
            .filter(|s| s.metadata.name.as_deref() != Some("default"))
            .collect();
        assert_eq!(ours.len(), 3, "one ServiceAccount per component");
        for sa in &ours {
            let name = sa.metadata.name.clone().expect("name");
            assert_eq!(
                sa.automount_service_account_token,
                Some(false),
                "{name}: no token in its pods"
            );
            let who = (tenant.as_str(), name.as_str());
            let own = Some(tenant.as_str());
            let theirs = Some(neighbour.as_str());
            let mut cases = Vec::new();
            for ns in [own, theirs, None] {
                for (verb, group, resource) in [
                    ("get", "", "pods"),
                    ("list", "", "pods"),
                    ("get", "", "secrets"),
                    ("list", "", "secrets"),
                    ("get", "", "configmaps"),
                    ("list", "", "configmaps"),
                    ("list", "", "services"),
                    ("list", "", "endpoints"),
                    ("create", "", "events"),
                    ("list", "", "persistentvolumeclaims"),
                    ("list", "apps", "deployments"),
                    ("get", "coordination.k8s.io", "leases"),
                    ("create", "", "pods"),
                ] {
                    cases.push((verb, group, resource, ns, None));
                }
            }
            cases.push(("list", "", "nodes", None, None));
            cases.push(("list", "", "namespaces", None, None));
            expect(&client, who, false, &cases).await;
        }
    }
    // And no binding anywhere names a tenant's ServiceAccount.
    let crbs: Api<ClusterRoleBinding> = Api::all(client.clone());
    let rbs: Api<RoleBinding> = Api::all(client.clone());
    let subjects: Vec<(String, String)> = crbs
        .list(&ListParams::default())
        .await
        .expect("clusterrolebindings")
        .items
        .into_iter()
        .flat_map(|b| b.subjects.unwrap_or_default())
        .chain(
            rbs.list(&ListParams::default())
                .await
                .expect("rolebindings")
                .items
                .into_iter()
                .flat_map(|b| b.subjects.unwrap_or_default()),
        )
        .map(|s| (s.namespace.unwrap_or_default(), s.name))
        .collect();
    for t in [&t1, &t2] {
        assert!(
            !subjects.iter().any(|(sns, _)| sns == t.as_str()),
            "a binding names a ServiceAccount of tenant {t}: {subjects:?}"
        );
    }

    clean_up(sandbox, &ns, &[&t1, &t2], dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_vigil_did_not_create_is_refused() {
    let sandbox = vigil_tests::require_sandbox!();
    let client = sandbox.client().await;
    let ns = tenant_name("va-foreign");
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let foreign: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).expect("ns");
    namespaces
        .create(&PostParams::default(), &foreign)
        .await
        .expect("create namespace");
    let env = [(
        "IT_FOREIGN_WEBHOOK",
        "https://hooks.slack.com/services/T/B/foreign",
    )];
    let want = format!("namespace {ns} exists and is not managed by vigil's agent install");
    for args in [
        vec![
            "agent",
            "install",
            "-n",
            &ns,
            "--slack-webhook-env",
            "IT_FOREIGN_WEBHOOK",
        ],
        vec!["agent", "uninstall", "-n", &ns],
    ] {
        let run = vigil_env(Some(sandbox), &args, &env).await;
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains(&want), "{}", run.stderr);
    }
    // Nothing was applied, and the namespace is still there.
    let crs: Api<k8s_openapi::api::rbac::v1::ClusterRole> = Api::all(client.clone());
    assert!(
        crs.get_opt(&format!("vigil-agent-{ns}"))
            .await
            .expect("get")
            .is_none()
    );
    let live = namespaces.get(&ns).await.expect("namespace kept");
    assert!(live.metadata.deletion_timestamp.is_none());
    let _ = namespaces
        .delete(&ns, &kube::api::DeleteParams::default())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_into_a_namespace_being_deleted_says_so() {
    let sandbox = vigil_tests::require_sandbox!();
    let client = sandbox.client().await;
    let ns = tenant_name("va-term");
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    // An install's namespace whose deletion is held by a finalizer, as a slow uninstall is.
    let held: k8s_openapi::api::core::v1::Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"name": ns, "finalizers": ["vigil-it/hold"], "labels": {
            "app.kubernetes.io/managed-by": "vigil", "vigil.dev/agent": ns}}
    }))
    .expect("ns");
    namespaces
        .create(&PostParams::default(), &held)
        .await
        .expect("create namespace");
    namespaces
        .delete(&ns, &kube::api::DeleteParams::default())
        .await
        .expect("delete namespace");
    let env = [(
        "IT_TERM_WEBHOOK",
        "https://hooks.slack.com/services/T/B/term",
    )];
    let run = vigil_env(
        Some(sandbox),
        &[
            "agent",
            "install",
            "-n",
            &ns,
            "--slack-webhook-env",
            "IT_TERM_WEBHOOK",
        ],
        &env,
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "namespace {ns} is being deleted (an uninstall is still finishing)"
        )),
        "{}",
        run.stderr
    );
    let crs: Api<k8s_openapi::api::rbac::v1::ClusterRole> = Api::all(client.clone());
    assert!(
        crs.get_opt(&format!("vigil-agent-{ns}"))
            .await
            .expect("get")
            .is_none(),
        "nothing applied"
    );
    namespaces
        .patch(
            &ns,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("release the namespace");
}
