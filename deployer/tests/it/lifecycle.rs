//! create → every object accepted → placed by the real scheduler → Ready → re-apply no-op →
//! drift → spec change and pruning → delete keeps data → purge.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Secret};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::pinned_kind;
use serde_json::json;
use vigil_tests::FakeKubelet;

use crate::support::{
    STORAGE_CLASS, placement_yaml, provision_volumes, release_volumes, scratch, tenant_name,
    vigil_env, write_tenant,
};

const COMMUNITY_ENV: (&str, &str) = ("VIGIL_IT_COMMUNITY", "it-community");

fn spec(name: &str, placement: &str, ingress: bool, retention: &str) -> String {
    let ingress = if ingress {
        format!("  ingress: {{host: grafana.{name}.example.com}}\n")
    } else {
        String::new()
    };
    format!(
        "apiVersion: vigil.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: {name}\nspec:\n  displayName: Lifecycle {name}\n  \
         retention: {retention}\n  storage: {{className: {STORAGE_CLASS}, influxdb: 1Gi, grafana: 1Gi}}\n  placement: {placement}\n{ingress}  \
         deviceCidrs: [198.18.0.0/16]\n  devices:\n  - name: up-host\n    address: 198.18.1.2\n    tags: {{role: it}}\n    \
         snmp: {{version: v2c, community: {{env: VIGIL_IT_COMMUNITY}}}}\n"
    )
}

/// (kind, name) -> resourceVersion of every object `render` lists, plus the Secrets.
async fn versions(
    client: &kube::Client,
    rendered: &str,
    tenant: &str,
) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for doc in rendered.split("\n---\n").skip(1) {
        let obj: DynamicObject = serde_norway::from_str(doc).expect("rendered YAML");
        let types = obj.types.clone().expect("apiVersion and kind");
        let (group, version) = types
            .api_version
            .split_once('/')
            .unwrap_or(("", &types.api_version));
        let (ar, _) = pinned_kind(client, &GroupVersionKind::gvk(group, version, &types.kind))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "the server serves {}/{}: {e}",
                    types.api_version, types.kind
                )
            });
        let name = obj.metadata.name.clone().expect("name");
        let api: Api<DynamicObject> = match &obj.metadata.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
            None => Api::all_with(client.clone(), &ar),
        };
        let live = api
            .get(&name)
            .await
            .unwrap_or_else(|e| panic!("{} {name} exists: {e}", types.kind));
        out.insert(
            (types.kind, name),
            live.metadata.resource_version.expect("resourceVersion"),
        );
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), tenant);
    for s in secrets
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=vigil"))
        .await
        .expect("secrets")
        .items
    {
        out.insert(
            ("Secret".into(), s.metadata.name.expect("name")),
            s.metadata.resource_version.expect("rv"),
        );
    }
    out
}

async fn secret_data(
    client: &kube::Client,
    tenant: &str,
) -> BTreeMap<String, BTreeMap<String, Vec<u8>>> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), tenant);
    secrets
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=vigil"))
        .await
        .expect("secrets")
        .items
        .into_iter()
        .map(|s| {
            let data = s
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect();
            (s.metadata.name.expect("name"), data)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_lifecycle_against_the_real_control_plane() {
    let sandbox = vigil_tests::require_sandbox!();
    let client = sandbox.client().await;
    let kubelet = FakeKubelet::start(client.clone(), "vlc", 3)
        .await
        .expect("fake kubelet");
    let name = tenant_name("lc");
    let dir = scratch(&name);
    let placement = placement_yaml(&kubelet.placement());
    let file = write_tenant(&dir, "tenant.yaml", &spec(&name, &placement, true, "30d"));
    let file_s = file.to_str().expect("utf-8");
    let _cleanup = crate::support::Cleanup::new(sandbox)
        .tenant(&name)
        .nodes(kubelet.node_names());
    provision_volumes(&client, &name).await;
    let env = [COMMUNITY_ENV];
    let s = Some(sandbox);

    // Create, waiting for Ready: the fake kubelet runs what the real scheduler placed.
    let run = vigil_env(s, &["tenant", "apply", "-f", file_s, "--wait=180s"], &env).await;
    run.ok();
    assert!(
        run.stdout.contains(&format!("namespace/{name} created")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("tenant {name} is ready")),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("it-community") && !run.stderr.contains("it-community"),
        "secret printed"
    );

    // Every object render shows exists on the server (CNPs included), with the Secrets.
    let rendered = vigil_env(
        s,
        &["tenant", "render", "-f", file_s, "--kube-version=1.20"],
        &env,
    )
    .await;
    rendered.ok();
    let before = versions(&client, &rendered.stdout, &name).await;
    assert!(
        before.keys().any(|(k, _)| k == "CiliumNetworkPolicy"),
        "CNPs were applied"
    );
    assert!(before.keys().any(|(k, _)| k == "Ingress"));
    assert_eq!(before.keys().filter(|(k, _)| k == "Secret").count(), 3);
    let credentials: Api<Secret> = Api::namespaced(client.clone(), &name);
    let creds = credentials
        .get(&format!("{name}-collector-credentials"))
        .await
        .expect("credentials secret");
    assert_eq!(
        creds
            .data
            .expect("data")
            .get("up-host.community")
            .map(|b| b.0.clone()),
        Some(b"it-community".to_vec())
    );

    // Placement: InfluxDB and Grafana on different nodes of this test's pool.
    let status = vigil_env(s, &["tenant", "status", &name, "-o", "json"], &env).await;
    status.ok();
    let st: serde_json::Value = serde_json::from_str(&status.stdout).expect("status JSON");
    assert_eq!(st["ready"], true, "{}", status.stdout);
    let node_of = |role: &str| {
        st["components"]
            .as_array()
            .expect("components")
            .iter()
            .find(|c| c["component"] == role)
            .expect(role)["nodes"][0]
            .as_str()
            .expect("node")
            .to_owned()
    };
    let (influx_node, grafana_node) = (node_of("database"), node_of("dashboards"));
    assert_ne!(
        influx_node, grafana_node,
        "InfluxDB and Grafana share a node"
    );
    for n in [&influx_node, &grafana_node, &node_of("collector")] {
        assert!(
            kubelet.node_names().contains(n),
            "{n} is not in the test's pool"
        );
    }
    assert!(
        st["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .all(|v| v["phase"] == "Bound")
    );
    assert_eq!(st["drift"]["drifted"], json!([]), "{}", status.stdout);
    let list = vigil_env(s, &["tenant", "list"], &env).await;
    list.ok();
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with(&name))
        .expect("tenant listed");
    assert!(row.contains("Ready") && row.contains("3/3"), "{row}");

    // Re-apply the same spec: no object changes, no secret is regenerated.
    let secrets_before = secret_data(&client, &name).await;
    let again = vigil_env(s, &["tenant", "apply", "-f", file_s], &env).await;
    again.ok();
    assert!(
        again.stdout.contains("0 created, 0 configured"),
        "{}",
        again.stdout
    );
    assert_eq!(
        versions(&client, &rendered.stdout, &name).await,
        before,
        "resourceVersions changed on re-apply"
    );
    assert_eq!(secret_data(&client, &name).await, secrets_before);

    // Drift: someone scales the collector by hand; status says so, apply restores it.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &name);
    let collector = format!("{name}-collector");
    deployments
        .patch(
            &collector,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 2}})),
        )
        .await
        .expect("scale by hand");
    let drifted = vigil_env(s, &["tenant", "status", &name], &env).await;
    drifted.ok();
    assert!(
        drifted.stdout.contains(&format!("deployment/{collector}")),
        "{}",
        drifted.stdout
    );
    vigil_env(s, &["tenant", "apply", "-f", file_s], &env)
        .await
        .ok();
    assert_eq!(
        deployments
            .get(&collector)
            .await
            .expect("collector")
            .spec
            .expect("spec")
            .replicas,
        Some(1)
    );

    // Spec change: no ingress, longer retention. Only what it touches changes; the Ingress is pruned.
    let before = versions(&client, &rendered.stdout, &name).await;
    let file2 = write_tenant(
        &dir,
        "tenant-v2.yaml",
        &spec(&name, &placement, false, "60d"),
    );
    let changed = vigil_env(
        s,
        &["tenant", "apply", "-f", file2.to_str().expect("utf-8")],
        &env,
    )
    .await;
    changed.ok();
    assert!(
        changed
            .stdout
            .contains(&format!("ingress/{name}-grafana pruned")),
        "{}",
        changed.stdout
    );
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), &name);
    assert!(
        ingresses
            .get_opt(&format!("{name}-grafana"))
            .await
            .expect("get")
            .is_none()
    );
    let rv = |d: &Deployment| d.metadata.resource_version.clone().expect("rv");
    let influx_key = ("Deployment".to_owned(), format!("{name}-influxdb"));
    let collector_key = ("Deployment".to_owned(), collector.clone());
    assert_ne!(
        rv(&deployments.get(&influx_key.1).await.expect("influxdb")),
        before[&influx_key],
        "retention reached InfluxDB"
    );
    assert_eq!(
        rv(&deployments.get(&collector).await.expect("collector")),
        before[&collector_key],
        "collector untouched"
    );
    assert_eq!(
        secret_data(&client, &name).await,
        secrets_before,
        "secrets survive a spec change"
    );

    // Delete keeps PVCs, Secrets and the namespace, and says how to purge.
    let deleted = vigil_env(s, &["tenant", "delete", &name, "--wait=90s"], &env).await;
    deleted.ok();
    assert!(deleted.stdout.contains("--purge"), "{}", deleted.stdout);
    assert!(
        deleted.stdout.contains("all pods terminated"),
        "{}",
        deleted.stdout
    );
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), &name);
    let left = pods.list(&ListParams::default()).await.expect("pods").items;
    assert!(
        left.is_empty(),
        "--wait returned with {} pods left",
        left.len()
    );
    let sel = ListParams::default().labels(&format!("vigil.dev/tenant={name}"));
    assert!(
        deployments.list(&sel).await.expect("list").items.is_empty(),
        "workloads removed"
    );
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &name);
    assert_eq!(
        pvcs.list(&sel).await.expect("pvcs").items.len(),
        2,
        "PVCs kept"
    );
    assert_eq!(
        secret_data(&client, &name).await,
        secrets_before,
        "Secrets kept"
    );
    let namespaces: Api<Namespace> = Api::all(client.clone());
    assert!(
        namespaces.get_opt(&name).await.expect("get").is_some(),
        "namespace kept"
    );

    // Purge needs confirmation; without a terminal only --yes gives it.
    let refused = vigil_env(s, &["tenant", "delete", &name, "--purge"], &env).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(namespaces.get_opt(&name).await.expect("get").is_some());
    let purged = vigil_env(
        s,
        &["tenant", "delete", &name, "--purge", "--yes", "--wait=120s"],
        &env,
    )
    .await;
    purged.ok();
    assert!(
        namespaces.get_opt(&name).await.expect("get").is_none(),
        "namespace gone after purge"
    );

    release_volumes(&client, &name).await;
    kubelet.shutdown().await.expect("kubelet shutdown");
    let _ = std::fs::remove_dir_all(dir);
}
