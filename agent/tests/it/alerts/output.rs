//! The cluster agent's InfluxDB output counts into the registry its `/metrics` serves: a PVC
//! stuck Pending is an incident, its state change a point in the `alerts` measurement, and
//! the write shows in `vigil_points_written_total` on the agent's own endpoint.
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, PostParams};
use serde_json::json;
use vigil_tests::{SlackRecorder, require_sandbox};

use super::common::*;
use crate::common::{TempDir, free_port, influxql, metric, secret};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_agent_serves_its_output_counters_on_metrics() {
    let sb = require_sandbox!();
    let client = vigil_tests::client_from_kubeconfig(&sb.kubeconfig).await;
    let ns = Ns::create(&client, "al-out").await;
    let rec = SlackRecorder::start().await.unwrap();
    let dir = TempDir::new("al-out");
    let db = ns.name.replace('-', "_");
    influxql(&sb.influxdb_url, "", &format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    let hook = secret(&dir, "hook", &rec.webhook_url("ops"));
    let listen = format!("127.0.0.1:{}", free_port());
    let cfg = dir.file(
        "cluster.yaml",
        &format!(
            "cluster:
  name: it
  namespace: {ns}
  evaluation_interval: 200ms
  namespaces: [{ns}]
  state_file: {state}
  node_selector: vigil.dev/pool=none-{ns}
  listen: \"{listen}\"
rules:
  PvcPending: {{for: 1s}}
slack:
  default: {{webhook: {hook}}}
  min_interval: 100ms
output: {{influxdb: {{url: '{influx}', v1: {{database: {db}}}, flush_interval: 200ms}}}}
spool: {{dir: {spool}}}
",
            ns = ns.name,
            state = dir.path().join("state.json").display(),
            influx = sb.influxdb_url,
            spool = dir.path().join("spool").display(),
        ),
    );
    let _agent = Agent::start(sb, &dir, &cfg, None, "a");
    let pvc: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": "stuck", "namespace": ns.name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "no-such-class",
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }))
    .unwrap();
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), &ns.name)
        .create(&PostParams::default(), &pvc)
        .await
        .unwrap();
    vigil_tests::eventually("the alert's point counted on /metrics", LONG, || async {
        let written = metric(&listen, "vigil_points_written_total").await?;
        if written >= 1.0 {
            Ok(())
        } else {
            Err(format!("vigil_points_written_total = {written}"))
        }
    })
    .await;
    let stored = influxql(&sb.influxdb_url, &db, "SELECT count(*) FROM alerts")
        .await
        .unwrap();
    assert!(
        stored.to_string().contains("count"),
        "the point is in InfluxDB: {stored}"
    );
    influxql(&sb.influxdb_url, "", &format!("DROP DATABASE {db}"))
        .await
        .ok();
}
