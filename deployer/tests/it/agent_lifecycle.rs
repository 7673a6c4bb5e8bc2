//! install → an agent on every node (a tainted control-plane node and NoExecute-tainted
//! workers included), placed by the real scheduler and run by the fake kubelet → install
//! again is a no-op → status (per node, leader, last Slack delivery) → upgrade changes only
//! the image and the configuration → uninstall leaves nothing behind, and nothing else goes.
//!
//! The DaemonSet tolerates every taint; a node selector keeps it on this test's own nodes.

use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};
use vigil_tests::FakeKubelet;

use crate::agent_support::{
    agents_ready, changed, installed_agent_yaml, sample_rollout, slack_secret, snapshot,
};
use crate::support::{scratch, tenant_name, vigil_env};

const WEBHOOK: &str = "https://hooks.slack.com/services/T0IT/B0IT/lifecycle-secret-value";
const IMAGE_V2: &str = "ghcr.io/vigil-dev/vigil-agent:0.1.1-it";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_upgrade_uninstall_on_every_node() {
    let sandbox = vigil_tests::require_sandbox!();
    let client = sandbox.client().await;
    let ns = tenant_name("va-life");
    // The DaemonSet tolerates every taint, so without a selector it would also land on other
    // tests' fake nodes (and stall on their dead ones): this install keeps to its own nodes.
    let selector = ("vigil-it/agent-test", ns.as_str());
    let workers = FakeKubelet::start_with(
        client.clone(),
        "vaw",
        2,
        &[selector],
        &[("dedicated", "edge", "NoExecute")],
    )
    .await
    .expect("worker pool");
    let control = FakeKubelet::start_with(
        client.clone(),
        "vacp",
        1,
        &[
            ("node-role.kubernetes.io/control-plane", ""),
            ("node-role.kubernetes.io/master", ""),
            selector,
        ],
        &[("node-role.kubernetes.io/master", "", "NoSchedule")],
    )
    .await
    .expect("control-plane pool");
    let nodes: Vec<String> = workers
        .node_names()
        .iter()
        .chain(control.node_names())
        .cloned()
        .collect();
    let dir = scratch(&ns);
    let config = dir.join("alerting.yaml");
    std::fs::write(&config, "rules:\n  PodCrashLooping: {for: 30s}\n").expect("write");
    let config2 = dir.join("alerting-2.yaml");
    std::fs::write(
        &config2,
        "rules:\n  PodCrashLooping: {for: 10s}\nrepeat_interval: 2h\n",
    )
    .expect("write");
    let env = [("IT_LIFE_WEBHOOK", WEBHOOK)];
    let node_selector = format!("vigil-it/agent-test={ns}");
    let install_args = [
        "agent",
        "install",
        "-n",
        &ns,
        "--slack-webhook-env",
        "IT_LIFE_WEBHOOK",
        "--config",
        config.to_str().expect("utf-8"),
        "--node-selector",
        &node_selector,
    ];
    // install, waiting until every node runs an agent
    let mut with_wait = install_args.to_vec();
    with_wait.push("--wait=2m");
    let run = vigil_env(Some(sandbox), &with_wait, &env).await;
    run.ok();
    assert!(
        run.stdout.contains("vigil agent is running on every node"),
        "{}",
        run.stdout
    );
    let ds_api: Api<DaemonSet> = Api::namespaced(client.clone(), &ns);
    let st = ds_api
        .get("vigil-agent")
        .await
        .expect("ds")
        .status
        .expect("status");
    assert_eq!(st.desired_number_scheduled, 3, "exactly our three nodes");
    assert_eq!(st.number_available, Some(3));
    assert!(
        run.stdout.contains(&format!(
            "vigil agent in namespace {ns}: 13 created, 0 configured, 0 unchanged, 0 pruned"
        )),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(WEBHOOK) && !run.stderr.contains(WEBHOOK));
    agents_ready(&client, &ns, &nodes, "ghcr.io/vigil-dev/vigil-agent:0.1.0").await;
    let data = slack_secret(&client, &ns).await;
    assert_eq!(data["webhook"].0, WEBHOOK.as_bytes());
    let agent_yaml = installed_agent_yaml(&client, &ns).await;
    assert!(!agent_yaml.contains(WEBHOOK), "{agent_yaml}");
    assert!(
        agent_yaml.contains("file: /etc/vigil-slack/webhook"),
        "{agent_yaml}"
    );

    // install again, with and without the credentials: nothing changes
    let before = snapshot(&client, &ns).await;
    let run = vigil_env(Some(sandbox), &install_args, &env).await;
    run.ok();
    assert!(
        run.stdout
            .contains("0 created, 0 configured, 13 unchanged, 0 pruned"),
        "{}",
        run.stdout
    );
    let without_credentials: Vec<&str> = install_args
        .iter()
        .copied()
        .filter(|a| !a.starts_with("--slack") && *a != "IT_LIFE_WEBHOOK")
        .collect();
    let run = vigil_env(Some(sandbox), &without_credentials, &[]).await;
    run.ok();
    assert!(
        run.stdout.contains("secret/vigil-agent-slack unchanged"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("0 created, 0 configured, 13 unchanged, 0 pruned"),
        "{}",
        run.stdout
    );
    assert_eq!(
        changed(&before, &snapshot(&client, &ns).await),
        Vec::<String>::new()
    );

    // status: per node, the leader and the last delivery as the agent records them
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let leader_pod = pods
        .list(&ListParams::default().labels(&format!("vigil.dev/agent={ns}")))
        .await
        .expect("pods")
        .items
        .into_iter()
        .find(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()) == Some(&nodes[0]))
        .and_then(|p| p.metadata.name)
        .expect("a pod on our first node");
    let now = k8s_openapi::jiff::Timestamp::now();
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "vigil-agent-leader"},
        "spec": {"holderIdentity": leader_pod, "leaseDurationSeconds": 15,
                 "renewTime": now.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()}
    }))
    .expect("lease");
    Api::<Lease>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &lease)
        .await
        .expect("create lease");
    let state = json!({
        "ledger": {"PodCrashLooping/acme/influxdb@1": {"channel": "C0NOC", "at_ms": now.as_millisecond(), "resolved": false}},
        "outbox": [{"seq": 1}, {"seq": 2}],
    });
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "vigil-agent-leader", "labels": {
            "app.kubernetes.io/name": "vigil-agent",
            "app.kubernetes.io/component": "alert-state",
            "app.kubernetes.io/managed-by": "vigil"}},
        // as the agent stores it: gzip-compressed JSON in binaryData
        "binaryData": {"state.json.gz": k8s_openapi::ByteString(
            vigil_contract::alert_state::stored::encode(&state).expect("gzip")
        )},
    }))
    .expect("state");
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("create state");
    let run = vigil_env(
        Some(sandbox),
        &["agent", "status", "-n", &ns, "-o", "json"],
        &[],
    )
    .await;
    run.ok();
    let status: Value = serde_json::from_str(&run.stdout).expect("status JSON");
    for node in &nodes {
        let row = status["nodes"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["node"] == node.as_str()))
            .unwrap_or_else(|| panic!("{node} in {status}"));
        assert_eq!(row["ready"], true, "{row}");
        assert_eq!(row["phase"], "Running", "{row}");
    }
    assert_eq!(status["leader"]["holder"], leader_pod.as_str());
    assert_eq!(status["leader"]["expired"], false);
    assert_eq!(status["lastDelivery"]["channel"], "C0NOC");
    assert_eq!(status["lastDelivery"]["pending"], 2);
    let run = vigil_env(Some(sandbox), &["agent", "status", "-n", &ns], &[]).await;
    run.ok();
    for want in [
        format!("Leader:     {leader_pod}"),
        "to C0NOC".to_owned(),
        "2 waiting in the outbox".to_owned(),
    ] {
        assert!(
            run.stdout.contains(&want),
            "lacks {want:?}:\n{}",
            run.stdout
        );
    }
    for node in &nodes {
        let line = run
            .stdout
            .lines()
            .find(|l| l.starts_with(node.as_str()))
            .unwrap_or_else(|| panic!("{node} in\n{}", run.stdout));
        assert!(
            line.contains("Ready") && line.contains("true") && line.contains("Running"),
            "{line}"
        );
    }

    // upgrade: the image and the configuration change, nothing else
    let ds: Api<DaemonSet> = Api::namespaced(client.clone(), &ns);
    let template = |d: DaemonSet| {
        let mut t = serde_json::to_value(d.spec.expect("spec").template).expect("json");
        let image = t["spec"]["containers"][0]["image"].take();
        let checksum = t["metadata"]["annotations"]["vigil.dev/config-checksum"].take();
        (t, image, checksum)
    };
    let (old_template, old_image, old_checksum) =
        template(ds.get("vigil-agent").await.expect("ds"));
    let (stop, watching) = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(sample_rollout(
        client.clone(),
        ns.clone(),
        nodes.clone(),
        IMAGE_V2.to_owned(),
        watching,
    ));
    let run = vigil_env(
        Some(sandbox),
        &[
            "agent",
            "upgrade",
            "-n",
            &ns,
            "--image",
            IMAGE_V2,
            "--config",
            config2.to_str().expect("utf-8"),
            "--wait=3m",
        ],
        &[],
    )
    .await;
    run.ok();
    assert!(
        run.stdout.contains("vigil agent is running on every node"),
        "{}",
        run.stdout
    );
    let _ = stop.send(true);
    let (most_missing, upgraded_at) = sampler.await.expect("sampler");
    // Node by node: never two of our nodes without a ready agent, and each node's new agent
    // was ready (for minReadySeconds) before the next node's old one was stopped.
    assert!(
        most_missing <= 1,
        "{most_missing} nodes without a ready agent at once"
    );
    let mut times: Vec<std::time::Instant> = nodes
        .iter()
        .map(|n| {
            *upgraded_at
                .get(n)
                .unwrap_or_else(|| panic!("{n} upgraded: {upgraded_at:?}"))
        })
        .collect();
    times.sort();
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_secs(5),
            "one node at a time: {:?}",
            times.windows(2).map(|p| p[1] - p[0]).collect::<Vec<_>>()
        );
    }
    assert!(
        run.stdout
            .contains("configmap/vigil-agent-config configured"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("daemonset/vigil-agent configured"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("0 created, 2 configured, 11 unchanged, 0 pruned"),
        "{}",
        run.stdout
    );
    let after = snapshot(&client, &ns).await;
    assert_eq!(changed(&before, &after), ["configmap", "daemonset"]);
    let (new_template, new_image, new_checksum) =
        template(ds.get("vigil-agent").await.expect("ds"));
    assert_eq!(old_image, "ghcr.io/vigil-dev/vigil-agent:0.1.0");
    assert_eq!(new_image, IMAGE_V2);
    assert_ne!(
        new_checksum, old_checksum,
        "the new configuration rolls the pods"
    );
    assert_eq!(
        new_template, old_template,
        "the pod template differs only in image and checksum"
    );
    let agent_yaml = installed_agent_yaml(&client, &ns).await;
    assert!(
        agent_yaml.contains("for: 10s") && agent_yaml.contains("repeat_interval: 2h"),
        "{agent_yaml}"
    );
    assert!(
        agent_yaml.contains("file: /etc/vigil-slack/webhook"),
        "credentials kept: {agent_yaml}"
    );
    agents_ready(&client, &ns, &nodes, IMAGE_V2).await;

    // A second install is allowed (say, staging), with a warning: both would post every alert.
    let ns2 = tenant_name("va-life2");
    let nowhere = format!("vigil-it/no-node={ns2}");
    let run = vigil_env(
        Some(sandbox),
        &[
            "agent",
            "install",
            "-n",
            &ns2,
            "--slack-webhook-env",
            "IT_LIFE_WEBHOOK",
            "--node-selector",
            &nowhere,
        ],
        &env,
    )
    .await;
    run.ok();
    assert!(
        run.stderr.contains(&format!(
            "warning: vigil agent is also installed in namespace {ns}"
        )),
        "{}",
        run.stderr
    );
    // A tenant's own webhook added later: merged with the stored default, never printed.
    let acme = "https://hooks.slack.com/services/TACME/BACME/acme-secret-value";
    let run = vigil_env(
        Some(sandbox),
        &[
            "agent",
            "upgrade",
            "-n",
            &ns2,
            "--slack-tenant-webhook-env",
            "acme=IT_ACME_WEBHOOK",
        ],
        &[("IT_ACME_WEBHOOK", acme)],
    )
    .await;
    run.ok();
    assert!(
        run.stdout.contains("secret/vigil-agent-slack configured"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(acme) && !run.stderr.contains(acme));
    let data = slack_secret(&client, &ns2).await;
    assert_eq!(data["webhook"].0, WEBHOOK.as_bytes(), "the default is kept");
    assert_eq!(data["tenant.acme.webhook"].0, acme.as_bytes());
    let yaml2 = installed_agent_yaml(&client, &ns2).await;
    assert!(
        yaml2.contains("file: /etc/vigil-slack/tenant.acme.webhook"),
        "{yaml2}"
    );
    assert!(yaml2.contains("file: /etc/vigil-slack/webhook"), "{yaml2}");
    assert!(!yaml2.contains(acme));
    vigil_env(Some(sandbox), &["agent", "uninstall", "-n", &ns2], &[])
        .await
        .ok();

    // uninstall: everything of this install goes (the agent's own Lease and state too)...
    let decoy: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": format!("vigil-agent-{ns}-decoy"), "labels": {
            "app.kubernetes.io/managed-by": "vigil", "vigil.dev/agent": format!("{ns}-other")}},
        "rules": [],
    }))
    .expect("decoy");
    let crs: Api<ClusterRole> = Api::all(client.clone());
    crs.create(&PostParams::default(), &decoy)
        .await
        .expect("create decoy");
    let run = vigil_env(Some(sandbox), &["agent", "uninstall", "-n", &ns], &[]).await;
    run.ok();
    assert!(
        run.stdout
            .contains(&format!("vigil agent uninstalled from namespace {ns}")),
        "{}",
        run.stdout
    );
    let cluster = format!("vigil-agent-{ns}");
    for gone in [ns.clone(), format!("{ns}-state")] {
        assert!(
            Api::<Namespace>::all(client.clone())
                .get_opt(&gone)
                .await
                .expect("get")
                .is_none(),
            "namespace {gone} is gone"
        );
    }
    assert!(
        Api::<PriorityClass>::all(client.clone())
            .get_opt(&cluster)
            .await
            .expect("get")
            .is_none()
    );
    assert!(crs.get_opt(&cluster).await.expect("get").is_none());
    assert!(
        Api::<ClusterRoleBinding>::all(client.clone())
            .get_opt(&cluster)
            .await
            .expect("get")
            .is_none()
    );
    let selector = format!("vigil.dev/agent={ns}");
    let lp = ListParams::default().labels(&selector);
    assert!(
        Api::<Pod>::all(client.clone())
            .list(&lp)
            .await
            .expect("pods")
            .items
            .is_empty()
    );
    assert!(
        Api::<ClusterRole>::all(client.clone())
            .list(&lp)
            .await
            .expect("crs")
            .items
            .is_empty()
    );
    // ...and nothing else: another install's object and the nodes stay.
    assert!(
        crs.get_opt(&format!("{cluster}-decoy"))
            .await
            .expect("get")
            .is_some()
    );
    let _ = crs
        .delete(&format!("{cluster}-decoy"), &DeleteParams::default())
        .await;
    let nodes_api: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    for node in &nodes {
        assert!(nodes_api.get_opt(node).await.expect("get").is_some());
    }
    // Uninstalling again finds nothing to do.
    let run = vigil_env(Some(sandbox), &["agent", "uninstall", "-n", &ns], &[]).await;
    run.ok();
    assert!(run.stdout.contains("was not installed"), "{}", run.stdout);
    let run = vigil_env(
        Some(sandbox),
        &["agent", "upgrade", "-n", &ns, "--image", IMAGE_V2],
        &[],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("vigil agent is not installed in namespace {ns}")),
        "{}",
        run.stderr
    );

    workers.shutdown().await.expect("shutdown");
    control.shutdown().await.expect("shutdown");
    let _ = std::fs::remove_dir_all(dir);
}
