//! `vigil tenant create NAME --flags`: the simple case without a file.

use crate::support::{tenant_name, vigil};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_from_flags_then_refuse_to_create_again() {
    let sandbox = vigil_tests::require_sandbox!();
    let name = tenant_name("flags");
    let s = Some(sandbox);
    let _cleanup = crate::support::Cleanup::new(sandbox).tenant(&name);
    let args = [
        "tenant",
        "create",
        &name,
        "--display-name",
        "Flags Inc",
        "--retention",
        "14d",
        "--profile",
        "medium",
        "--ingress-host",
        "grafana.flags.example.com",
        "--network-policy",
        "kubernetes",
        "--toleration-seconds",
        "45",
    ];
    let created = vigil(s, &args).await;
    created.ok();
    assert!(
        created
            .stdout
            .contains(&format!("ingress/{name}-grafana created")),
        "{}",
        created.stdout
    );
    assert!(
        created
            .stdout
            .contains(&format!("networkpolicy/{name}-default-deny created")),
        "{}",
        created.stdout
    );

    let again = vigil(s, &args).await;
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains(&format!("tenant {name} already exists")),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("vigil tenant apply -f"),
        "{}",
        again.stderr
    );

    let list = vigil(s, &["tenant", "list", "-o", "json"]).await;
    list.ok();
    let rows: serde_json::Value = serde_json::from_str(&list.stdout).expect("list JSON");
    let row = rows
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["tenant"] == name.as_str())
        .expect("listed");
    assert_eq!(row["displayName"], "Flags Inc");

    let status = vigil(s, &["tenant", "status", &name, "-o", "yaml"]).await;
    status.ok();
    let st: serde_norway::Value = serde_norway::from_str(&status.stdout).expect("status YAML");
    assert_eq!(st["grafanaUrl"], "http://grafana.flags.example.com/");
    assert_eq!(st["drift"]["checked"], true);

    vigil(
        s,
        &["tenant", "delete", &name, "--purge", "--yes", "--wait=120s"],
    )
    .await
    .ok();
}
