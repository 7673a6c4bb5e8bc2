//! Clusters without CiliumNetworkPolicy.
//!
//! The sandbox's API server has the Cilium CRD, shared by every test, so deleting it is not an
//! option. Instead vigil is told to require a CNP group/version this real server does not serve
//! (the hidden `VIGIL_CILIUM_API_VERSION`): discovery against the real server then answers
//! exactly as a cluster without Cilium does (404 for the group/version).

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams};

use crate::support::{scratch, tenant_name, vigil_env, write_tenant};

const ABSENT: (&str, &str) = ("VIGIL_CILIUM_API_VERSION", "cilium.io/v9alpha1");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_cilium_is_a_clear_error_and_kubernetes_mode_works() {
    let sandbox = vigil_tests::require_sandbox!();
    let client = sandbox.client().await;
    let name = tenant_name("nocnp");
    let dir = scratch(&name);
    let _cleanup = crate::support::Cleanup::new(sandbox).tenant(&name);
    let file = write_tenant(
        &dir,
        "tenant.yaml",
        &format!(
            "apiVersion: vigil.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: {name}\nspec:\n  devices:\n  - {{name: r1, address: 10.0.0.1}}\n"
        ),
    );
    let f = file.to_str().expect("utf-8");
    let s = Some(sandbox);

    let refused = vigil_env(s, &["tenant", "apply", "-f", f], &[ABSENT]).await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    for want in [
        "does not serve CiliumNetworkPolicy (cilium.io/v9alpha1)",
        "install Cilium",
        "--network-policy=kubernetes",
        "--network-policy=none",
    ] {
        assert!(
            refused.stderr.contains(want),
            "lacks {want:?}: {}",
            refused.stderr
        );
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    assert!(
        namespaces.get_opt(&name).await.expect("get").is_none(),
        "nothing applied"
    );

    let applied = vigil_env(
        s,
        &["tenant", "apply", "-f", f, "--network-policy=kubernetes"],
        &[ABSENT],
    )
    .await;
    applied.ok();
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &name);
    let names: Vec<String> = policies
        .list(&ListParams::default().labels(&format!("vigil.dev/tenant={name}")))
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    for want in ["default-deny", "dns", "influxdb", "grafana", "collector"] {
        assert!(
            names.contains(&format!("{name}-{want}")),
            "NetworkPolicy {want} missing: {names:?}"
        );
    }

    // Switching to none prunes them.
    let none = vigil_env(
        s,
        &["tenant", "apply", "-f", f, "--network-policy=none"],
        &[ABSENT],
    )
    .await;
    none.ok();
    assert!(
        none.stdout
            .contains(&format!("networkpolicy/{name}-default-deny pruned")),
        "{}",
        none.stdout
    );

    let purge = vigil_env(
        s,
        &["tenant", "delete", &name, "--purge", "--yes", "--wait=120s"],
        &[ABSENT],
    )
    .await;
    purge.ok();
    let _ = std::fs::remove_dir_all(dir);
}
