//! An update the API server would reject in part is rejected whole: nothing changes.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;

use crate::support::{scratch, tenant_name, vigil, write_tenant};

fn spec(name: &str, class: &str, retention: &str) -> String {
    format!(
        "apiVersion: vigil.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: {name}\nspec:\n  retention: {retention}\n  \
         storage: {{className: {class}}}\n  networkPolicy: {{mode: none}}\n  devices:\n  - {{name: r1, address: 10.0.0.1}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_with_an_immutable_change_changes_nothing() {
    let sandbox = vigil_tests::require_sandbox!();
    let client = sandbox.client().await;
    let name = tenant_name("pre");
    let dir = scratch(&name);
    let _cleanup = crate::support::Cleanup::new(sandbox).tenant(&name);
    let s = Some(sandbox);
    let v1 = write_tenant(&dir, "v1.yaml", &spec(&name, "class-a", "30d"));
    vigil(s, &["tenant", "apply", "-f", v1.to_str().expect("utf-8")])
        .await
        .ok();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &name);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    // Generation counts spec changes only (controllers keep updating status).
    let rv = |d: Deployment| d.metadata.generation.expect("generation");
    let influx_before = rv(deployments
        .get(&format!("{name}-influxdb"))
        .await
        .expect("influxdb"));
    let ns_before = namespaces
        .get(&name)
        .await
        .expect("ns")
        .metadata
        .resource_version;

    // Retention alone would be fine; a volume's storage class cannot change.
    let v2 = write_tenant(&dir, "v2.yaml", &spec(&name, "class-b", "60d"));
    let run = vigil(s, &["tenant", "apply", "-f", v2.to_str().expect("utf-8")]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains(&format!("persistentvolumeclaims {name}/{name}-")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.to_lowercase().contains("immutable"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.is_empty(),
        "nothing reported as changed: {}",
        run.stdout
    );
    assert_eq!(
        rv(deployments
            .get(&format!("{name}-influxdb"))
            .await
            .expect("influxdb")),
        influx_before
    );
    assert_eq!(
        namespaces
            .get(&name)
            .await
            .expect("ns")
            .metadata
            .resource_version,
        ns_before
    );

    vigil(
        s,
        &["tenant", "delete", &name, "--purge", "--yes", "--wait=120s"],
    )
    .await
    .ok();
    let _ = std::fs::remove_dir_all(dir);
}

/// On Kubernetes before 1.21 nobody labels namespaces with their name, so the
/// Kubernetes-mode rules that select the ingress controller's namespace (and kube-system,
/// for DNS) by `kubernetes.io/metadata.name` would block traffic without a word. Apply
/// says which namespace lacks the label and how to fix it, and applies nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_mode_refuses_a_selected_namespace_without_its_name_label() {
    let sandbox = vigil_tests::require_sandbox!();
    let client = sandbox.client().await;
    let name = tenant_name("nslabel");
    let controller = vigil_tests::unique("ingress");
    let dir = scratch(&name);
    let _cleanup = crate::support::Cleanup::new(sandbox).tenant(&name);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"name": controller}
    }))
    .expect("namespace");
    namespaces
        .create(&Default::default(), &ns)
        .await
        .expect("create the controller's namespace");
    let spec = format!(
        "apiVersion: vigil.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: {name}\nspec:\n  \
         networkPolicy: {{mode: kubernetes}}\n  ingress: {{host: g.example.com, controllerNamespace: {controller}}}\n  \
         devices:\n  - {{name: r1, address: 10.0.0.1}}\n"
    );
    let file = write_tenant(&dir, "t.yaml", &spec);
    let s = Some(sandbox);
    let refused = vigil(s, &["tenant", "apply", "-f", file.to_str().expect("utf-8")]).await;
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    let fix =
        format!("kubectl label namespace {controller} kubernetes.io/metadata.name={controller}");
    assert!(refused.stderr.contains(&fix), "{}", refused.stderr);
    assert!(
        namespaces.get_opt(&name).await.expect("get").is_none(),
        "nothing may be applied"
    );

    let patch =
        serde_json::json!({"metadata": {"labels": {"kubernetes.io/metadata.name": controller}}});
    namespaces
        .patch(
            &controller,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .expect("label the namespace");
    vigil(s, &["tenant", "apply", "-f", file.to_str().expect("utf-8")])
        .await
        .ok();
    let _ = namespaces.delete(&controller, &Default::default()).await;
}
