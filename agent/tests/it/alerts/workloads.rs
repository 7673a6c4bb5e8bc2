//! Workload and storage rules, per-tenant routing and the `alerts` measurement: a
//! Deployment of tenant `acme` losing a replica is one incident in acme's channel with
//! its crash-looping pod folded into the thread; PVCs Pending and Lost go to the
//! operator's channel; every state change is also a point in InfluxDB.
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use vigil_tests::{Fault, list_pods, require_sandbox, wait_for};

use super::common::*;
use crate::common::{influxql, rows, secret};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_and_pvc_incidents_are_routed_folded_and_recorded() {
    let sb = require_sandbox!();
    let (client, kubelet, ns, rec, dir, _nodes) = stage(sb, "al-wl", 2).await;
    let db = ns.name.replace('-', "_");
    influxql(&sb.influxdb_url, "", &format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    let token = secret(&dir, "token", "xoxb-test-token");
    let cfg = dir.file(
        "cluster.yaml",
        &format!(
            "cluster:
  name: it
  namespace: {ns}
  evaluation_interval: 200ms
  namespaces: [{ns}]
  state_file: {state}
  node_selector: vigil.dev/pool={pool}
rules:
  WorkloadUnavailable: {{for: 2s}}
  PodCrashLooping: {{for: 5s, window: 1s}}
  PvcPending: {{for: 1s}}
slack:
  default: {{bot_token: {token}, channel: C-OPS}}
  tenants:
    acme: {{bot_token: {token}, channel: C-ACME}}
  api_url: {api}
  min_interval: 100ms
output: {{influxdb: {{url: '{influx}', v1: {{database: {db}}}, flush_interval: 200ms}}}}
spool: {{dir: {spool}}}
",
            ns = ns.name,
            state = dir.path().join("state.json").display(),
            pool = kubelet.pool(),
            api = rec.api_url(),
            influx = sb.influxdb_url,
            spool = dir.path().join("spool").display(),
        ),
    );
    available_deployment(
        &client,
        &ns.name,
        "api",
        2,
        &kubelet,
        json!({"vigil.dev/tenant": "acme"}),
    )
    .await;
    let _agent = Agent::start(sb, &dir, &cfg, None, "a");

    let victim = list_pods(&client, &ns.name, "app=api").await.unwrap()[0]
        .metadata
        .name
        .clone()
        .unwrap();
    kubelet
        .inject(&ns.name, &victim, Fault::CrashLoop)
        .await
        .unwrap();
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns.name);
    for (name, extra) in [
        ("stuck", json!({"storageClassName": "no-such-class"})),
        (
            "lost",
            json!({"storageClassName": "", "volumeName": unique("missing-pv")}),
        ),
    ] {
        let mut spec = json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let mut meta = json!({"name": name, "namespace": ns.name});
        if name == "lost" {
            // bound once, its volume since gone: the PV controller reports it Lost
            meta["annotations"] = json!({"pv.kubernetes.io/bind-completed": "yes"});
        }
        let pvc: PersistentVolumeClaim =
            serde_json::from_value(json!({"metadata": meta, "spec": spec})).unwrap();
        pvcs.create(&PostParams::default(), &pvc).await.unwrap();
    }

    let wts = wait_for(&rec, "workload incident in acme's channel", LONG, |reqs| {
        parents(reqs, "Deployment/api")
            .iter()
            .find(|r| r.channel() == Some("C-ACME") && r.text().contains("WorkloadUnavailable"))
            .and_then(|r| r.ts.clone())
    })
    .await;
    let pod_obj = format!("Pod/{victim}");
    wait_for(
        &rec,
        "the crash-looping pod folded into the workload's thread",
        LONG,
        |reqs| {
            replies(reqs, &wts)
                .iter()
                .any(|r| r.text().contains("PodCrashLooping") && r.text().contains(&pod_obj))
                .then_some(())
        },
    )
    .await;
    let mut pvc_threads = Vec::new();
    for (name, rule) in [("stuck", "PvcPending"), ("lost", "PvcLost")] {
        let obj = format!("PVC/{name}");
        let ts = wait_for(
            &rec,
            &format!("{rule} in the operator's channel"),
            LONG,
            |reqs| {
                parents(reqs, &obj)
                    .iter()
                    .find(|r| r.channel() == Some("C-OPS") && r.text().contains(rule))
                    .and_then(|r| r.ts.clone())
            },
        )
        .await;
        pvc_threads.push(ts);
    }

    kubelet.heal(&ns.name, &victim).await.unwrap();
    for name in ["stuck", "lost"] {
        pvcs.delete(name, &DeleteParams::default()).await.unwrap();
    }
    for ts in pvc_threads.iter().chain([&wts]) {
        wait_for(&rec, "resolved in its thread", LONG, |reqs| {
            let resolved = replies(reqs, ts)
                .iter()
                .any(|r| r.text().contains("resolved after"));
            (resolved && !updates(reqs, ts).is_empty()).then_some(())
        })
        .await;
    }
    let reqs = rec.delivered();
    assert!(
        parents(&reqs, &pod_obj).is_empty(),
        "the folded pod was posted on its own"
    );
    assert_eq!(parents(&reqs, "Deployment/api").len(), 1);

    vigil_tests::eventually("state changes in the alerts measurement", LONG, || async {
        let v = influxql(
            &sb.influxdb_url,
            &db,
            "SELECT \"state\", \"tenant\", \"firing\" FROM alerts WHERE \"rule\" = 'WorkloadUnavailable'",
        )
        .await
        .map_err(|e| format!("{e:#}"))?;
        let r = rows(&v);
        let states: Vec<String> = r.iter().map(|row| row[1].as_str().unwrap_or("").to_string()).collect();
        if states == ["firing", "resolved"] && r.iter().all(|row| row[2] == json!("acme")) {
            Ok(())
        } else {
            Err(format!("{r:?}"))
        }
    })
    .await;
    influxql(&sb.influxdb_url, "", &format!("DROP DATABASE {db}"))
        .await
        .unwrap();
    kubelet.shutdown().await.unwrap();
}
