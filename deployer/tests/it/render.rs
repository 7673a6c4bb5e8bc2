//! `vigil tenant render`: golden output for a small and a full spec, no cluster needed.

use std::path::Path;

use crate::support::{golden_dir, scratch, vigil, vigil_env, write_tenant};

/// The dashboards ConfigMap carries whatever `dashboards/` holds; golden files must not change
/// whenever a dashboard is added, so its data is checked against the directory and then elided.
fn normalise(rendered: &str) -> String {
    let dashboards_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards");
    let mut expected: Vec<String> = std::fs::read_dir(&dashboards_dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    expected.sort();
    let mut out = Vec::new();
    for doc in rendered.split("\n---\n") {
        let Ok(mut value) = serde_norway::from_str::<serde_norway::Value>(doc) else {
            out.push(doc.to_owned());
            continue;
        };
        let is_dashboards = value["kind"] == "ConfigMap"
            && value["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.ends_with("-grafana-dashboards"));
        if is_dashboards {
            let keys: Vec<String> = value["data"]
                .as_mapping()
                .map(|m| {
                    m.keys()
                        .filter_map(|k| k.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(keys, expected, "every dashboards/*.json is provisioned");
            value["data"] = serde_norway::Value::String("<dashboards/*.json>".into());
            out.push(
                serde_norway::to_string(&value)
                    .expect("yaml")
                    .trim_end()
                    .to_owned(),
            );
        } else {
            out.push(doc.to_owned());
        }
    }
    out.join("\n---\n")
}

async fn check(name: &str, extra: &[&str]) {
    let spec = golden_dir().join(format!("{name}.tenant.yaml"));
    let spec = spec.to_str().expect("utf-8 path");
    let mut args = vec!["tenant", "render", "-f", spec];
    args.extend_from_slice(extra);
    let run = vigil(None, &args).await;
    run.ok();
    let actual = normalise(&run.stdout);
    let golden = golden_dir().join(format!("{name}.golden.yaml"));
    if std::env::var_os("VIGIL_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &actual).expect("write golden file");
    }
    let expected = std::fs::read_to_string(&golden)
        .expect("golden file exists (VIGIL_UPDATE_GOLDEN=1 writes it)");
    assert!(
        actual == expected,
        "render of {name} differs from {}; review the diff and re-run with VIGIL_UPDATE_GOLDEN=1",
        golden.display()
    );
}

#[tokio::test]
async fn small_spec_matches_golden() {
    check("small", &[]).await;
}

#[tokio::test]
async fn full_spec_matches_golden() {
    check("full", &[]).await;
}

#[tokio::test]
async fn kubernetes_policies_and_old_clusters_match_golden() {
    // Standard NetworkPolicies instead of CNPs, PodDisruptionBudgets as policy/v1beta1.
    let spec = golden_dir().join("full.tenant.yaml");
    let run = vigil(
        None,
        &[
            "tenant",
            "render",
            "-f",
            spec.to_str().expect("utf-8"),
            "--network-policy=kubernetes",
            "--kube-version=1.20",
        ],
    )
    .await;
    run.ok();
    let actual = normalise(&run.stdout);
    assert!(!actual.contains("CiliumNetworkPolicy"));
    assert_eq!(
        actual.matches("kind: NetworkPolicy").count(),
        5,
        "one NetworkPolicy per template"
    );
    assert_eq!(
        actual.matches("apiVersion: policy/v1beta1").count(),
        3,
        "one PDB per component"
    );
    let golden = golden_dir().join("full-kubernetes-1.20.golden.yaml");
    if std::env::var_os("VIGIL_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &actual).expect("write golden file");
    }
    assert!(
        actual == std::fs::read_to_string(&golden).expect("golden file"),
        "differs from {}",
        golden.display()
    );
}

#[tokio::test]
async fn render_never_prints_secret_values() {
    // Credentials are referenced, not copied, by render: a set variable must not leak.
    let spec = golden_dir().join("small.tenant.yaml");
    let run = vigil_env(
        None,
        &["tenant", "render", "-f", spec.to_str().expect("utf-8")],
        &[("SMALLCO_SNMP_COMMUNITY", "s3cret-community-value")],
    )
    .await;
    run.ok();
    assert!(!run.stdout.contains("s3cret-community-value"));
    assert!(
        !run.stdout.contains("kind: Secret"),
        "render prints no Secret"
    );
    assert!(run.stdout.contains("acme") || run.stdout.contains("smallco"));
}

#[tokio::test]
async fn render_allows_the_readable_webhooks_hosts_never_their_paths() {
    // The collector posts device alerts to its Slack webhooks: its policies allow their hosts
    // and ports, read from the webhooks when render can, Slack's default host otherwise. The
    // path carries the token and appears nowhere.
    let dir = scratch("render-webhooks");
    let file = write_tenant(
        &dir,
        "hooks.yaml",
        "apiVersion: vigil.dev/v1alpha1\nkind: Tenant\nmetadata: {name: hooksco}\nspec:\n  alerts:\n    slack:\n      webhook: {env: VIGIL_IT_HOOK}\n      channel: '#noc'\n      routes: [{tags: {role: core}, channel: '#core', webhook: {env: VIGIL_IT_CORE_HOOK}}]\n  devices:\n  - {name: r1, address: 10.20.0.1}\n",
    );
    let file = file.to_str().expect("utf-8");
    let env = [
        (
            "VIGIL_IT_HOOK",
            "https://relay.acme.example:8443/services/T0/B0/s3cr3t-t0ken",
        ),
        (
            "VIGIL_IT_CORE_HOOK",
            "http://198.51.100.20:8080/hook/s3cr3t-t0ken",
        ),
    ];
    for (mode, wants) in [
        (
            "cilium",
            &[
                "matchName: relay.acme.example",
                "port: '8443'",
                "- 198.51.100.20/32",
                "port: '8080'",
            ],
        ),
        (
            "kubernetes",
            &[
                "port: 8443",
                "cidr: 198.51.100.20/32",
                "port: 8080",
                "cidr: 0.0.0.0/0",
            ],
        ),
    ] {
        let policy = format!("--network-policy={mode}");
        let run = vigil_env(None, &["tenant", "render", "-f", file, &policy], &env).await;
        run.ok();
        for want in wants {
            assert!(run.stdout.contains(want), "{mode}: no {want:?}");
        }
        assert!(!run.stdout.contains("hooks.slack.com"), "{mode}");
        assert!(!run.stdout.contains("s3cr3t") && !run.stdout.contains("/services/"));
        assert!(
            run.stdout
                .contains("vigil.dev/slack-egress: relay.acme.example:8443 198.51.100.20:8080")
        );

        let run = vigil_env(None, &["tenant", "render", "-f", file, &policy], &[]).await;
        run.ok();
        assert!(
            run.stdout.contains("hooks.slack.com:443 (Slack's default"),
            "{mode}"
        );
        assert!(
            !run.stdout.contains("slack-egress"),
            "{mode}: unknown hosts are not recorded"
        );
    }
}

/// InfluxDB's usage reporting is off, so it has nothing to reach outside the tenant: a
/// connection from it to the internet (or to anything but DNS) is denied in both modes.
#[tokio::test]
async fn influxdb_reaches_nothing_outside_the_tenant_in_either_mode() {
    use vigil_tests::netpol::{Endpoint, Flow, Pod, PolicySet};
    let spec = golden_dir().join("full.tenant.yaml");
    let spec = spec.to_str().expect("utf-8");
    let influxdb = Pod::new(
        "acme",
        [
            ("vigil.dev/tenant", "acme"),
            ("app.kubernetes.io/component", "database"),
        ],
        "10.244.0.10".parse().expect("ip"),
    );
    for mode in ["cilium", "kubernetes"] {
        let run = vigil(
            None,
            &[
                "tenant",
                "render",
                "-f",
                spec,
                &format!("--network-policy={mode}"),
            ],
        )
        .await;
        run.ok();
        let objects: Vec<serde_json::Value> = run
            .stdout
            .split("\n---\n")
            .filter_map(|doc| serde_norway::from_str::<serde_json::Value>(doc).ok())
            .filter(|v| {
                matches!(
                    v["kind"].as_str(),
                    Some("NetworkPolicy" | "CiliumNetworkPolicy")
                )
            })
            .collect();
        let set = PolicySet::from_values(objects.iter()).expect("the evaluator reads the policies");
        for (ip, port) in [
            ("93.184.216.34", 443),
            ("93.184.216.34", 80),
            ("8.8.8.8", 443),
        ] {
            let flow = Flow::tcp(
                Endpoint::Pod(influxdb.clone()),
                Endpoint::outside(ip.parse().expect("ip")),
                port,
            );
            let verdict = set.evaluate(&flow);
            assert!(!verdict.allowed(), "{mode}: {verdict}");
        }
    }
}
