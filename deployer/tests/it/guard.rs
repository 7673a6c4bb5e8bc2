//! vigil never takes over or deletes a namespace it does not manage.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

use crate::support::{scratch, tenant_name, vigil, write_tenant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmanaged_namespaces_are_refused_by_apply_and_delete() {
    let sandbox = vigil_tests::require_sandbox!();
    let client = sandbox.client().await;
    let name = tenant_name("foreign");
    let _cleanup = crate::support::Cleanup::new(sandbox).namespace(&name);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("ns");
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "precious"}, "data": {"k": "v"}}))
            .expect("cm");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &name);
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("create configmap");
    let dir = scratch(&name);
    let file = write_tenant(
        &dir,
        "tenant.yaml",
        &format!(
            "apiVersion: vigil.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: {name}\nspec:\n  devices:\n  - {{name: r1, address: 10.0.0.1}}\n"
        ),
    );

    let apply = vigil(
        Some(sandbox),
        &["tenant", "apply", "-f", file.to_str().expect("utf-8")],
    )
    .await;
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert!(
        apply.stderr.contains(&format!(
            "namespace {name} exists and is not managed by vigil"
        )),
        "{}",
        apply.stderr
    );
    let delete = vigil(
        Some(sandbox),
        &["tenant", "delete", &name, "--purge", "--yes"],
    )
    .await;
    assert_eq!(delete.code, 1, "{}", delete.stderr);
    assert!(
        delete.stderr.contains("not managed by vigil"),
        "{}",
        delete.stderr
    );

    let live = namespaces.get(&name).await.expect("namespace still there");
    assert!(live.metadata.deletion_timestamp.is_none());
    assert!(
        !live
            .metadata
            .labels
            .unwrap_or_default()
            .contains_key("vigil.dev/tenant"),
        "not labelled by vigil"
    );
    assert!(cms.get_opt("precious").await.expect("get").is_some());
    let absent = vigil(Some(sandbox), &["tenant", "status", &tenant_name("absent")]).await;
    assert_eq!(absent.code, 1);
    assert!(
        absent.stderr.contains("vigil tenant list"),
        "{}",
        absent.stderr
    );

    let _ = namespaces.delete(&name, &DeleteParams::default()).await;
    let _ = std::fs::remove_dir_all(dir);
}
