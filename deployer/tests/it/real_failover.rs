//! A real node failure: the node running the tenant's collector loses its kubelet, its
//! containerd and every container at once (kill -9, as a power cut would), and the collector
//! must come back Running and Ready on the other real node, with the tenant's default 30 s
//! toleration and Kubernetes' default grace period. The measured time goes into
//! docs/benchmarks.md beside the fake-kubelet figure.

use std::time::Instant;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use vigil_tests::{eventually, require_sandbox};

use crate::real_support::{REAL, node_of, pod_ready, ready_pods};
use crate::real_tenant::{apply_real_tenant, delete_real_tenant, real_tenant_yaml};
use crate::support::{Cleanup, tenant_name};

/// Puts the killed node back even when the test fails half-way.
struct RestartNode<'a> {
    sb: &'a vigil_tests::Sandbox,
    index: Option<usize>,
}

impl Drop for RestartNode<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.index.take() {
            self.sb.script(&["restart-node", &i.to_string()]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_nodes_collector_fails_over_when_its_node_dies() {
    let sb = require_sandbox!();
    let client = sb.client().await;
    let name = tenant_name("vr-failover");
    let _cleanup = Cleanup::new(sb).tenant(&name);
    // Device alerts go nowhere that answers: this test is about the pod, not Slack.
    let webhook = format!("http://{}:9/webhook/unused", sb.pod_host_name);
    apply_real_tenant(
        sb,
        &client,
        &name,
        &real_tenant_yaml(sb, &name, "none"),
        &webhook,
    )
    .await;
    let collector = "app.kubernetes.io/component=collector";
    let before = ready_pods(&client, sb, &name, collector, 1).await;
    let victim = node_of(&before[0]).expect("the collector runs on a node");
    let index = sb
        .nodes
        .iter()
        .position(|n| *n == victim)
        .expect("the collector runs on a real node")
        + 1;
    let old_pod = before[0].metadata.name.clone().unwrap_or_default();

    let mut restart = RestartNode { sb, index: None };
    let t0 = Instant::now();
    sb.script(&["kill-node", &index.to_string()]);
    restart.index = Some(index);

    let pods: Api<Pod> = Api::namespaced(client.clone(), &name);
    let replacement = eventually(
        "a replacement collector Running and Ready on the other real node",
        REAL,
        || {
            let pods = pods.clone();
            let victim = victim.clone();
            let old_pod = old_pod.clone();
            async move {
                let list = pods
                    .list(&ListParams::default().labels(collector))
                    .await
                    .map_err(|e| e.to_string())?;
                list.items
                    .into_iter()
                    .find(|p| {
                        p.metadata.name.as_deref() != Some(old_pod.as_str())
                            && node_of(p).is_some_and(|n| n != victim && sb.nodes.contains(&n))
                            && pod_ready(p)
                    })
                    .ok_or_else(|| "not yet".to_owned())
            }
        },
    )
    .await;
    let failover = t0.elapsed();
    eprintln!(
        "real node failover: collector {} Running and Ready on {} {:.1} s after kill -9 of {victim}",
        replacement.metadata.name.clone().unwrap_or_default(),
        node_of(&replacement).unwrap_or_default(),
        failover.as_secs_f64()
    );

    // The node comes back; the tenant is removed.
    drop(restart);
    delete_real_tenant(sb, &client, &name).await;
}
