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
fn namespaced_writes_are_limited_to_the_lease_and_the_state_object() {
    let (role, _) = role(&settings());
    for r in role.rules.unwrap_or_default() {
        if r.verbs == ["create"] {
            assert!(r.resource_names.is_none());
            continue;
        }
        let names = r.resource_names.expect("named");
        assert!(names == [LEASE] || names == [STATE], "{names:?}");
    }
}

#[test]
fn config_names_files_never_values() {
    let s = settings();
    let creds = Credentials {
        webhook: Some(crate::tenant::validate::Redacted::new(
            "https://hooks.slack.com/services/T0/B0/secret".into(),
        )),
        token: None,
    };
    let yaml = config_yaml(&s);
    assert!(yaml.contains("/etc/vigil-slack/webhook"), "{yaml}");
    let objects = manifests(&s, Some("42")).expect("build");
    let all = crate::tenant::build::to_yaml(&objects).expect("yaml");
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
    b.alerting.rules = Some(serde_json::json!({"PodCrashLooping": {"for": "30s"}}));
    let checksum = |s: &Settings| {
        daemonset(s, None)
            .spec
            .and_then(|s| s.template.metadata)
            .and_then(|m| m.annotations)
            .and_then(|a| a.get(CONFIG_CHECKSUM_ANNOTATION).cloned())
    };
    assert_ne!(checksum(&a), checksum(&b));
}
