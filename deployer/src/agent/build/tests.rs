use super::*;
use crate::agent::spec::{IcmpMode, validate};

fn settings() -> Settings {
    let (mut s, _) = validate(&crate::agent::spec::Request {
        namespace: "vigil-system".into(),
        slack_webhook_env: Some("SLACK_WEBHOOK".into()),
        ..Default::default()
    })
    .expect("valid");
    s.icmp = IcmpMode::Sysctl;
    s
}

#[test]
fn fencing_adds_only_pod_and_attachment_deletes() {
    let mut s = settings();
    s.fencing = crate::agent::spec::FencingMode::Collectors;
    let (role, _) = cluster_role(&s);
    let writes: Vec<(Vec<String>, Vec<String>)> = role
        .rules
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.verbs != ["get", "list", "watch"])
        .map(|r| (r.resources.unwrap_or_default(), r.verbs))
        .collect();
    assert_eq!(
        writes,
        vec![
            (vec!["pods".to_owned()], vec!["delete".to_owned()]),
            (
                vec!["volumeattachments".to_owned()],
                vec!["list".to_owned(), "delete".to_owned()]
            ),
        ]
    );
    let doc = serde_json::to_value(config(&s)).expect("json");
    assert_eq!(doc["cluster"]["fencing"], "collectors");
    assert!(
        serde_json::to_value(config(&settings())).expect("json")["cluster"]["fencing"].is_null()
    );
}

#[test]
fn cluster_role_reads_only_and_never_secrets() {
    let (role, _) = cluster_role(&settings());
    for r in role.rules.unwrap_or_default() {
        assert_eq!(r.verbs, ["get", "list", "watch"], "{r:?}");
        let resources = r.resources.unwrap_or_default();
        assert!(
            !resources.iter().any(|x| x == "secrets" || x == "*"),
            "{resources:?}"
        );
    }
}

#[test]
fn in_its_own_namespace_the_agent_writes_only_its_lease() {
    let (role, _) = role(&settings());
    for r in role.rules.unwrap_or_default() {
        let resources = r.resources.clone().unwrap_or_default();
        match resources.as_slice() {
            [l] if l == "leases" => {
                assert!(
                    r.verbs
                        .iter()
                        .all(|v| ["create", "get", "update"].contains(&v.as_str())),
                    "{r:?}"
                );
                if r.verbs != ["create"] {
                    assert_eq!(r.resource_names, Some(vec![LEASE.to_owned()]));
                }
            }
            // read once: the state an older agent kept here
            [c] if c == "configmaps" => assert_eq!(r.verbs, ["get"], "{r:?}"),
            other => panic!("unexpected rule on {other:?}"),
        }
    }
}

#[test]
fn state_configmaps_are_written_only_in_the_state_namespace() {
    let s = settings();
    let (role, binding) = state_role(&s);
    assert_eq!(
        role.metadata.namespace.as_deref(),
        Some("vigil-system-state")
    );
    assert_eq!(binding.metadata.namespace, role.metadata.namespace);
    let subject = &binding.subjects.expect("subjects")[0];
    assert_eq!(subject.namespace.as_deref(), Some("vigil-system"));
    for r in role.rules.unwrap_or_default() {
        assert_eq!(r.resources, Some(vec!["configmaps".to_owned()]), "{r:?}");
        assert!(!r.verbs.iter().any(|v| v == "*" || v == "patch"), "{r:?}");
    }
    let doc = serde_json::to_value(config(&s)).expect("json");
    assert_eq!(doc["cluster"]["state_namespace"], "vigil-system-state");
}

#[test]
fn config_names_files_never_values() {
    let s = settings();
    let creds = Credentials {
        webhook: Some(crate::input::Redacted::new(
            "https://hooks.slack.com/services/T0/B0/secret".into(),
        )),
        token: None,
        tenant_webhooks: Default::default(),
    };
    let yaml = config_yaml(&s);
    assert!(yaml.contains("/etc/vigil-slack/webhook"), "{yaml}");
    let doc = serde_json::to_value(config(&s)).expect("json");
    assert_eq!(doc["cluster"]["object_prefix"], "vigil-agent");
    assert_eq!(
        doc["slack"]["default"],
        serde_json::json!({"webhook": {"file": "/etc/vigil-slack/webhook"}})
    );
    let objects = manifests(&s, Some("42")).expect("build");
    let all = crate::kube::to_yaml(&objects).expect("yaml");
    assert!(!all.contains("hooks.slack.com"));
    let secret = slack_secret(&s, &creds);
    assert!(secret.data.expect("data").contains_key("webhook"));
}

#[test]
fn the_daemonset_tolerates_every_taint() {
    let ds = daemonset(&settings(), None);
    let pod = ds.spec.and_then(|s| s.template.spec).expect("pod");
    let t = pod.tolerations.expect("tolerations");
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].operator.as_deref(), Some("Exists"));
    assert!(t[0].key.is_none() && t[0].effect.is_none());
}

#[test]
fn config_changes_roll_the_pods() {
    let a = settings();
    let mut b = a.clone();
    b.alerting.rules = serde_norway::from_str("PodCrashLooping: {for: 30s}").expect("rules");
    b.alerting.cluster = Some(crate::agent::spec::AlertingCluster {
        name: Some("prod".into()),
        ..Default::default()
    });
    let checksum = |s: &Settings| {
        daemonset(s, None)
            .spec
            .and_then(|s| s.template.metadata)
            .and_then(|m| m.annotations)
            .and_then(|a| a.get(CONFIG_CHECKSUM_ANNOTATION).cloned())
    };
    assert_ne!(checksum(&a), checksum(&b));
}

#[test]
fn the_state_selector_matches_the_labels_the_agent_sets() {
    use vigil_contract::names;
    assert_eq!(
        STATE_SELECTOR,
        format!(
            "{}={},{}={}",
            names::NAME_LABEL,
            names::AGENT_APP,
            names::COMPONENT_LABEL,
            names::ALERT_STATE_COMPONENT
        )
    );
}

#[test]
fn bot_token_without_tenant_routes_writes_no_tenants_key() {
    // vigil-agent refuses `slack.tenants: null` ("expected a map"): every pod of the
    // DaemonSet crash-looped when the alerting file had a `slack:` section but no routes.
    let (mut s, _) = validate(&crate::agent::spec::Request {
        namespace: "vigil-system".into(),
        slack_token_env: Some("SLACK_TOKEN".into()),
        slack_channel: Some("C-OPS".into()),
        ..Default::default()
    })
    .expect("valid");
    s.alerting.slack = Some(crate::agent::spec::AlertingSlack {
        api_url: Some("http://slack.example/api".into()),
        ..Default::default()
    });
    let doc = serde_json::to_value(config(&s)).expect("json");
    assert!(doc["slack"].get("tenants").is_none(), "{doc}");
    assert!(!config_yaml(&s).contains("tenants"), "{}", config_yaml(&s));
}
