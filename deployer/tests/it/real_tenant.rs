//! A tenant applied by `vigil tenant apply` onto the sandbox's real kubelet nodes: the
//! collector (the `vigil-agent` image) and the InfluxDB stand-in run as real containers, the
//! collector reads its mounted configuration and credentials, polls the sandbox's SNMP agents
//! (v2c and v3) and an ICMP host from the pod network, and writes through the InfluxDB
//! Service; the points are read back through that Service.
//!
//! Grafana cannot be had here: its Deployment gets an image that does not exist, so its one
//! pod waits in ImagePullBackOff and nothing here claims anything about Grafana.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Secret, Service};
use kube::Client;
use kube::api::Api;
use vigil_tests::{FlowRecorder, Sandbox, SlackRecorder, eventually, require_sandbox, wait_for};

use crate::real_support::{REAL, ready_pods, real_placement_yaml};
use crate::support::{Cleanup, scratch, tenant_name, vigil_env, write_tenant};

pub const GRAFANA_PLACEHOLDER: &str = "localhost/vigil-sandbox/grafana-unavailable:none";

/// A tenant file whose devices are the sandbox's SNMP agents and ICMP host as pods reach them.
pub fn real_tenant_yaml(sb: &Sandbox, name: &str, mode: &str) -> String {
    let host = sb.pod_host_addr;
    let up = sb.icmp_host("up");
    let down = sb.icmp_host("down");
    format!(
        "apiVersion: vigil.dev/v1alpha1
kind: Tenant
metadata:
  name: {name}
spec:
  storage: {{className: {class}, influxdb: 1Gi, grafana: 1Gi}}
  resources: {{profile: small}}
  failover: {{tolerationSeconds: 30}}
  networkPolicy: {{mode: {mode}}}
  images: {{collector: {agent}, influxdb: {influx}, grafana: {GRAFANA_PLACEHOLDER}}}
  placement: {placement}
  collector: {{interval: 10s, timeout: 2s}}
  alerts:
    slack: {{webhook: {{env: IT_REAL_WEBHOOK}}, channel: '#it-real'}}
  deviceCidrs: [{host}/32, {switch}/32, {up}/32, {down}/32]
  devices:
  - name: snmpd-v3
    address: {host}
    profiles: [system, if-mib]
    snmp:
      version: v3
      port: {snmpd_port}
      user: {v3user}
      auth: {{protocol: SHA, password: {{env: IT_REAL_AUTH}}}}
      priv: {{protocol: AES, password: {{env: IT_REAL_PRIV}}}}
  - name: switch-c3560
    address: {switch}
    snmp: {{version: v2c, port: {snmpsim_port}, community: {{env: IT_REAL_C3560}}}}
  - {{name: host-up, address: {up}, icmp: true}}
  - {{name: host-down, address: {down}, icmp: true}}
",
        class = crate::support::STORAGE_CLASS,
        agent = sb.images.agent,
        influx = sb.images.influxdb,
        placement = real_placement_yaml(sb),
        snmpd_port = sb.snmpd.port(),
        snmpsim_port = sb.snmpsim.port(),
        v3user = sb.snmpv3_user,
        switch = sb.pod_snmpsim[0].ip(),
    )
}

/// The environment the tenant file's credential references read; the collector's device
/// alerts go to `webhook`.
pub fn real_tenant_env(sb: &Sandbox, webhook: &str) -> Vec<(&'static str, String)> {
    vec![
        ("IT_REAL_WEBHOOK", webhook.to_owned()),
        ("IT_REAL_AUTH", sb.snmpv3_auth_pass.clone()),
        ("IT_REAL_PRIV", sb.snmpv3_priv_pass.clone()),
        ("IT_REAL_C3560", "cisco-c3560".to_owned()),
    ]
}

/// Host directories for the tenant's two hostPath volumes, owned by the users the pods run as
/// (hostPath volumes get no fsGroup ownership change).
pub fn prepare_host_volumes(tenant: &str) {
    for (component, uid) in [("influxdb", 1000), ("grafana", 472)] {
        let dir = std::path::PathBuf::from(format!("/tmp/vigil-it/{tenant}-{component}"));
        std::fs::create_dir_all(&dir).expect("host volume dir");
        let status = std::process::Command::new("chown")
            .arg(format!("{uid}:{uid}"))
            .arg(&dir)
            .status()
            .expect("chown");
        assert!(status.success(), "chown {}", dir.display());
    }
}

/// Applies `yaml` as tenant `name` and waits until its collector and InfluxDB run Ready on
/// real nodes.
pub async fn apply_real_tenant(
    sb: &Sandbox,
    client: &Client,
    name: &str,
    yaml: &str,
    webhook: &str,
) {
    let dir = scratch(name);
    let file = write_tenant(&dir, "tenant.yaml", yaml);
    prepare_host_volumes(name);
    crate::support::provision_volumes(client, name).await;
    let env = real_tenant_env(sb, webhook);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vigil_env(
        Some(sb),
        &["tenant", "apply", "-f", file.to_str().expect("utf-8")],
        &env,
    )
    .await
    .ok();
    for component in ["database", "collector"] {
        ready_pods(
            client,
            sb,
            name,
            &format!("app.kubernetes.io/component={component}"),
            1,
        )
        .await;
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Removes a tenant of [`apply_real_tenant`] with its data and its static volumes.
pub async fn delete_real_tenant(sb: &Sandbox, client: &Client, name: &str) {
    vigil_env(
        Some(sb),
        &["tenant", "delete", name, "--purge", "--yes"],
        &[],
    )
    .await
    .ok();
    crate::support::release_volumes(client, name).await;
}

/// InfluxQL against the tenant's InfluxDB through its Service (kube-proxy's rules on the
/// host), as Grafana's read-only user.
pub async fn tenant_query(
    client: &Client,
    tenant: &str,
    q: &str,
) -> Result<serde_json::Value, String> {
    let svcs: Api<Service> = Api::namespaced(client.clone(), tenant);
    let svc = svcs
        .get(&format!("{tenant}-influxdb"))
        .await
        .map_err(|e| e.to_string())?;
    let ip = svc
        .spec
        .and_then(|s| s.cluster_ip)
        .ok_or("the InfluxDB Service has no ClusterIP")?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), tenant);
    let auth = secrets
        .get(&format!("{tenant}-influxdb-auth"))
        .await
        .map_err(|e| e.to_string())?;
    let data = auth.data.unwrap_or_default();
    let read = data
        .iter()
        .find(|(k, _)| k.as_str() == "grafana-token")
        .map(|(_, v)| String::from_utf8_lossy(&v.0).into_owned())
        .ok_or("no read token in the auth Secret")?;
    let resp = vigil_tests::http()
        .get(format!("http://{ip}:8086/query"))
        .query(&[
            ("db", "vigil"),
            ("q", q),
            ("u", "grafana"),
            ("p", read.as_str()),
        ])
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("{status}: {body}"))
    }
}

/// Waits until every device of the tenant has points of `measurement`; returns the count per
/// device.
pub async fn points_per_device(
    client: &Client,
    tenant: &str,
    measurement: &str,
    field: &str,
    devices: &[&str],
) -> Vec<(String, u64)> {
    let q = format!("SELECT count(\"{field}\") FROM \"{measurement}\" GROUP BY \"device\"");
    eventually(
        &format!("{measurement} points for {devices:?} in {tenant}'s InfluxDB"),
        REAL,
        || {
            let q = q.clone();
            async move {
                let body = tenant_query(client, tenant, &q).await?;
                let series = body["results"][0]["series"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let counts: Vec<(String, u64)> = series
                    .iter()
                    .map(|s| {
                        (
                            s["tags"]["device"].as_str().unwrap_or_default().to_owned(),
                            s["values"][0][1].as_u64().unwrap_or(0),
                        )
                    })
                    .collect();
                let missing: Vec<&&str> = devices
                    .iter()
                    .filter(|d| !counts.iter().any(|(n, c)| n == **d && *c > 0))
                    .collect();
                if missing.is_empty() {
                    Ok(counts)
                } else {
                    Err(format!("none yet for {missing:?}; have {counts:?}"))
                }
            }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_nodes_tenant_collector_polls_from_the_pod_network_into_influxdb() {
    let sb = require_sandbox!();
    let client = sb.client().await;
    let name = tenant_name("vr-tenant");
    let _cleanup = Cleanup::new(sb).tenant(&name);
    let rec = SlackRecorder::start_on(sb.pod_host_addr)
        .await
        .expect("recorder on the pods' side of the host");
    // By name, as a real webhook is: the collector resolves it through the pods' DNS.
    let webhook = rec
        .webhook_url("tenant")
        .replace(&sb.pod_host_addr.to_string(), &sb.pod_host_name);
    let flows = FlowRecorder::start().await.expect("conntrack");
    let yaml = real_tenant_yaml(sb, &name, "cilium");
    apply_real_tenant(sb, &client, &name, &yaml, &webhook).await;

    // SNMP v3 (authPriv) from snmpd, v2c from a recording of a real switch (snmpsim).
    points_per_device(
        &client,
        &name,
        "snmp",
        "uptime",
        &["snmpd-v3", "switch-c3560"],
    )
    .await;
    points_per_device(
        &client,
        &name,
        "interface",
        "ifOperStatus",
        &["snmpd-v3", "switch-c3560"],
    )
    .await;
    // ICMP from the pod: unprivileged echo sockets, as docs/install.md says.
    points_per_device(&client, &name, "ping", "percent_packet_loss", &["host-up"]).await;
    let body = tenant_query(
        &client,
        &name,
        "SELECT last(\"percent_packet_loss\") FROM \"ping\" WHERE \"device\" = 'host-up'",
    )
    .await
    .expect("query ping");
    assert_eq!(
        body["results"][0]["series"][0]["values"][0][1].as_f64(),
        Some(0.0),
        "the host that answers every echo: {body}"
    );
    // The collector's own device alerting reaches Slack from the pod.
    wait_for(
        &rec,
        "DeviceDown for host-down from the collector pod",
        REAL,
        |reqs| {
            reqs.iter()
                .any(|r| r.text().contains("DeviceDown") && r.text().contains("host-down"))
                .then_some(())
        },
    )
    .await;

    let observed = flows.stop().await;
    let env = real_tenant_env(sb, &webhook);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    crate::real_flows::check_flows(sb, &client, &name, &yaml, &env, &observed).await;

    delete_real_tenant(sb, &client, &name).await;
}
