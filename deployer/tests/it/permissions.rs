//! A kubeconfig restricted to one namespace: the RBAC denial is translated into the missing
//! verb and resource, and nothing is applied.

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::{AuthInfo, Context, Kubeconfig, NamedAuthInfo, NamedContext};
use serde_json::json;

use crate::support::{scratch, tenant_name, vigil_env, write_tenant};

/// A ServiceAccount that may do anything, but only inside `namespace`; its kubeconfig path.
async fn restricted_kubeconfig(
    sandbox: &vigil_tests::Sandbox,
    namespace: &str,
    dir: &std::path::Path,
) -> std::path::PathBuf {
    let client = sandbox.client().await;
    let pp = PostParams::default();
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": namespace}})).expect("ns");
    Api::<Namespace>::all(client.clone())
        .create(&pp, &ns)
        .await
        .expect("create namespace");
    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "operator"}})).expect("sa");
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    sas.create(&pp, &sa).await.expect("create sa");
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "namespace-admin"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
    }))
    .expect("role");
    Api::<Role>::namespaced(client.clone(), namespace)
        .create(&pp, &role)
        .await
        .expect("create role");
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "operator-namespace-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "namespace-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "operator", "namespace": namespace}]
    }))
    .expect("binding");
    Api::<RoleBinding>::namespaced(client.clone(), namespace)
        .create(&pp, &binding)
        .await
        .expect("create binding");
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: Some(3600),
            ..Default::default()
        },
        ..Default::default()
    };
    let token = sas
        .create_token_request("operator", &pp, &request)
        .await
        .expect("TokenRequest API")
        .status
        .expect("token status")
        .token;

    // Same cluster (server, CA) as the admin kubeconfig, the ServiceAccount's token as user.
    let mut kc = Kubeconfig::read_from(&sandbox.kubeconfig).expect("admin kubeconfig");
    let cluster = kc.clusters.first().expect("a cluster").name.clone();
    kc.auth_infos = vec![NamedAuthInfo {
        name: "operator".into(),
        auth_info: Some(AuthInfo {
            token: Some(token.into()),
            ..Default::default()
        }),
        other: Default::default(),
    }];
    kc.contexts = vec![NamedContext {
        name: "restricted".into(),
        context: Some(Context {
            cluster,
            user: Some("operator".into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        }),
        other: Default::default(),
    }];
    kc.current_context = Some("restricted".into());
    let path = dir.join("restricted.kubeconfig");
    std::fs::write(
        &path,
        serde_norway::to_string(&kc).expect("kubeconfig YAML"),
    )
    .expect("write kubeconfig");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_kubeconfig_gets_the_missing_verb_and_resource() {
    let sandbox = vigil_tests::require_sandbox!();
    let client = sandbox.client().await;
    let namespace = tenant_name("perm");
    let dir = scratch(&namespace);
    let _cleanup = crate::support::Cleanup::new(sandbox).namespace(&namespace);
    let kubeconfig = restricted_kubeconfig(sandbox, &namespace, &dir).await;
    let kc = kubeconfig.to_str().expect("utf-8");
    let tenant = tenant_name("permt");
    let file = write_tenant(
        &dir,
        "tenant.yaml",
        &format!(
            "apiVersion: vigil.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: {tenant}\nspec:\n  devices:\n  - {{name: r1, address: 10.0.0.1}}\n"
        ),
    );
    let user = format!("system:serviceaccount:{namespace}:operator");

    let apply = vigil_env(
        Some(sandbox),
        &[
            "--kubeconfig",
            kc,
            "tenant",
            "apply",
            "-f",
            file.to_str().expect("utf-8"),
        ],
        &[],
    )
    .await;
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    for want in [
        "missing permission: verb \"get\" on resource \"namespaces\"",
        "at cluster scope",
        user.as_str(),
        "cluster administrator",
    ] {
        assert!(
            apply.stderr.contains(want),
            "lacks {want:?}: {}",
            apply.stderr
        );
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    assert!(
        namespaces.get_opt(&tenant).await.expect("get").is_none(),
        "nothing applied"
    );

    let list = vigil_env(Some(sandbox), &["--kubeconfig", kc, "tenant", "list"], &[]).await;
    assert_eq!(list.code, 1, "{}", list.stderr);
    assert!(
        list.stderr
            .contains("missing permission: verb \"list\" on resource \"namespaces\""),
        "{}",
        list.stderr
    );

    let _ = namespaces
        .delete(&namespace, &DeleteParams::default())
        .await;
    let _ = std::fs::remove_dir_all(dir);
}
