//! A tenant's collector, as `vigil tenant render` builds it, alerts on its devices: the
//! files of `NAME-collector-config` and the Slack webhook of `NAME-collector-credentials`
//! are laid out where the Deployment mounts them (under a temporary root instead of `/`),
//! the collector runs with that configuration against the sandbox, and DeviceDown for the
//! host that never answers (tagged `role: core`) reaches the core route's webhook once, the
//! 30 %-loss host's PacketLoss the tenant's own webhook; the healthy host raises nothing,
//! and the incident is in the tenant's InfluxDB (`alerts`) where the dashboards look for it.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use serde_norway::Value as Yaml;
use vigil_deployer::tenant::build;
use vigil_tests::{SlackRecorder, eventually, require_sandbox, wait_for};

use crate::dashboards::collector::Influx;
use crate::{find, render, unique};

struct Root(PathBuf);

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Root {
    /// Where a path of the pod lands under this root.
    fn at(&self, pod_path: &str) -> PathBuf {
        self.0.join(pod_path.trim_start_matches('/'))
    }
}

fn set(doc: &mut Yaml, path: &[&str], v: Yaml) {
    let mut cur = doc;
    for k in &path[..path.len() - 1] {
        cur = &mut cur[*k];
    }
    cur[path[path.len() - 1]] = v;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendered_collector_posts_device_down_to_the_tenants_webhook() {
    let sb = require_sandbox!();
    let rec = SlackRecorder::start().await.expect("recorder");
    let root = Root(std::env::temp_dir().join(unique("vigil-tenant-alerts")));
    std::fs::create_dir_all(&root.0).expect("temp root");
    let hook_file = root.0.join("acme-slack-webhook");
    std::fs::write(&hook_file, rec.webhook_url("acme")).expect("hook");
    let core_hook_file = root.0.join("acme-core-webhook");
    std::fs::write(&core_hook_file, rec.webhook_url("acme-core")).expect("hook");
    let tenant = "acme-alerts-it";
    let yaml = format!(
        "apiVersion: vigil.dev/v1alpha1
kind: Tenant
metadata: {{name: {tenant}}}
spec:
  alerts:
    slack:
      webhook: {{file: {hook}}}
      channel: '#acme-noc'
      digestSchedule: '0 8 * * 1-5'
      routes:
      - {{tags: {{role: core}}, channel: '#acme-core-oncall', webhook: {{file: {core_hook}}}}}
  devices:
  - {{name: fw, address: {down}, icmp: true, tags: {{role: core}}}}
  - {{name: branch, address: {lossy}, icmp: true}}
  - {{name: core, address: {up}, icmp: true, tags: {{role: core}}}}
",
        hook = hook_file.display(),
        core_hook = core_hook_file.display(),
        down = sb.icmp_host("down"),
        up = sb.icmp_host("up"),
        lossy = sb.icmp_host("lossy"),
    );
    let (tenant_spec, objects) = render(&yaml, root.0.clone());

    // lay out the collector's mounts as the kubelet would
    let deploy = find(&objects, "Deployment", &format!("{tenant}-collector"));
    let pod = &deploy["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let mounts: BTreeMap<String, String> = container["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or_default().to_owned(),
                m["mountPath"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let volume = |name: &str| -> &Value {
        pod["volumes"]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["name"] == name))
            .unwrap_or_else(|| panic!("no volume {name}"))
    };
    let cm_name = volume("config")["configMap"]["name"]
        .as_str()
        .expect("config volume is a ConfigMap");
    let cm = find(&objects, "ConfigMap", cm_name);
    let config_dir = root.at(&mounts["config"]);
    std::fs::create_dir_all(&config_dir).expect("config dir");
    for (key, text) in cm["data"].as_object().expect("data") {
        std::fs::write(config_dir.join(key), text.as_str().unwrap_or_default()).expect("write");
    }
    assert_eq!(
        volume("credentials")["secret"]["secretName"],
        format!("{tenant}-collector-credentials")
    );
    let keys: Vec<String> = build::collector_credentials(&tenant_spec)
        .into_iter()
        .map(|(k, _, _)| k)
        .collect();
    assert_eq!(keys, ["slack-webhook", "slack-webhook-route-0"]);
    let cred_dir = root.at(&mounts["credentials"]);
    std::fs::create_dir_all(&cred_dir).expect("credentials dir");
    std::fs::copy(&hook_file, cred_dir.join("slack-webhook")).expect("webhook");
    std::fs::copy(&core_hook_file, cred_dir.join("slack-webhook-route-0")).expect("webhook");
    std::fs::create_dir_all(root.at(&mounts["spool"])).expect("spool dir");

    // the collector's configuration: pod paths under the root, the sandbox's InfluxDB and
    // a 1 s interval (durations scaled down through config)
    let args: Vec<String> = serde_json::from_value(container["args"].clone()).expect("args");
    let config_path = root.at(&args[2]);
    let mut collector: Yaml =
        serde_norway::from_str(&std::fs::read_to_string(&config_path).expect("collector.yaml"))
            .expect("yaml");
    let alerts_path = root.at(collector["agent"]["alerts"].as_str().expect("agent.alerts"));
    assert_eq!(collector["agent"]["tenant"].as_str(), Some(tenant));
    let mut alerts: Yaml = serde_norway::from_str(
        &std::fs::read_to_string(&alerts_path).expect("alerts.yaml at agent.alerts"),
    )
    .expect("yaml");
    let webhook = root.at(alerts["slack"]["default"]["webhook"]["file"]
        .as_str()
        .expect("webhook file"));
    assert!(
        webhook.is_file(),
        "the webhook file is in the credentials mount: {}",
        webhook.display()
    );
    let pod_path = |v: &Yaml| Yaml::from(root.at(v.as_str().expect("path")).display().to_string());
    let v = pod_path(&alerts["slack"]["default"]["webhook"]["file"]);
    set(&mut alerts, &["slack", "default", "webhook", "file"], v);
    let route = &mut alerts["slack"]["default"]["routes"][0]["webhook"]["file"];
    *route = pod_path(route);
    let v = pod_path(&alerts["cluster"]["state_file"]);
    set(&mut alerts, &["cluster", "state_file"], v);
    // crontab as the tenant wrote it: the agent reads the same dialect
    assert_eq!(alerts["digest"]["cron"].as_str(), Some("0 8 * * 1-5"));
    std::fs::write(
        &alerts_path,
        serde_norway::to_string(&alerts).expect("yaml"),
    )
    .expect("write");

    let (influx, _drop) = Influx::fresh(&sb.influxdb_url, "vigil_tenant_alerts").await;
    let password = root.0.join("influx-password");
    std::fs::write(&password, "unused-without-auth").expect("password");
    set(
        &mut collector,
        &["agent", "alerts"],
        Yaml::from(alerts_path.display().to_string()),
    );
    set(&mut collector, &["agent", "listen"], Yaml::Null);
    let v = pod_path(&collector["spool"]["dir"]);
    set(&mut collector, &["spool", "dir"], v);
    set(
        &mut collector,
        &["output", "influxdb", "url"],
        Yaml::from(sb.influxdb_url.clone()),
    );
    set(
        &mut collector,
        &["output", "influxdb", "v1", "password"],
        serde_norway::from_str(&format!("{{file: {}}}", password.display())).expect("ref"),
    );
    set(&mut collector, &["defaults", "interval"], Yaml::from("1s"));
    set(
        &mut collector,
        &["defaults", "icmp"],
        serde_norway::from_str("{count: 10, interval: 20ms, timeout: 500ms}").expect("icmp"),
    );
    set(
        &mut collector,
        &["output", "influxdb", "v1", "database"],
        Yaml::from(influx.db.clone()),
    );
    std::fs::write(
        &config_path,
        serde_norway::to_string(&collector).expect("yaml"),
    )
    .expect("write");

    let config = vigil_agent::config::Config::load(Path::new(&config_path))
        .unwrap_or_else(|e| panic!("the rendered collector.yaml loads: {e}"));
    let run = tokio::spawn(vigil_agent::commands::run(
        config,
        Some(Duration::from_secs(120)),
    ));
    let posted = |reqs: &[vigil_tests::Recorded], rule: &str, device: &str, hook: &str| {
        reqs.iter()
            .filter(|r| {
                r.method == format!("webhook/{hook}")
                    && r.text().contains(rule)
                    && r.text().contains(&format!("Device/{device}`"))
            })
            .count()
    };
    wait_for(
        &rec,
        "DeviceDown for fw, PacketLoss for branch",
        Duration::from_secs(60),
        |reqs| {
            (posted(reqs, "DeviceDown", "fw", "acme-core") > 0
                && posted(reqs, "PacketLoss", "branch", "acme") > 0)
                .then_some(())
        },
    )
    .await;
    let q = format!(
        "SELECT count(\"firing\") FROM \"alerts\" WHERE \"rule\" = 'DeviceDown' AND \"device\" = 'fw' AND \"tenant\" = '{tenant}'"
    );
    eventually(
        "DeviceDown in the tenant's alerts measurement",
        Duration::from_secs(60),
        || async {
            let v = influx.query(&q).await?;
            match v["results"][0]["series"][0]["values"][0][1].as_i64() {
                Some(n) if n >= 1 => Ok(()),
                _ => Err(format!("{v}")),
            }
        },
    )
    .await;
    run.abort();
    let reqs = rec.delivered();
    assert_eq!(
        posted(&reqs, "DeviceDown", "fw", "acme-core"),
        1,
        "the core route, once"
    );
    assert_eq!(
        posted(&reqs, "DeviceDown", "fw", "acme"),
        0,
        "routed, not also to the default"
    );
    assert_eq!(
        posted(&reqs, "PacketLoss", "branch", "acme"),
        1,
        "the tenant's webhook, once"
    );
    assert!(
        !reqs.iter().any(|r| r.text().contains("Device/core`")),
        "the answering host raised an alert"
    );
}
