use super::*;
use vigil_contract::alert_state::{Scope, Signal};

fn note(kind: Kind, message: Option<String>) -> Notification {
    let mut s = Signal::new(
        "PodCrashLooping",
        Severity::Critical,
        Scope {
            namespace: Some("shop".into()),
            object: "Pod/<!channel>".into(),
            ..Default::default()
        },
        "x",
    )
    .summary("container \"api\" <@U024BE7LH> restarted")
    .fact("restarts", "7");
    s.message = message;
    Notification {
        seq: 1,
        kind,
        incident: "k".into(),
        thread: "k".into(),
        signal: s,
        started_ms: 1_800_000_000_000,
        at_ms: 1_800_000_090_000,
        lines: vec![],
    }
}

#[test]
fn every_template_renders_valid_escaped_json() {
    let r = Renderer::new("test", &BTreeMap::new()).unwrap();
    for t in ["firing", "resolved", "reply", "summary"] {
        let v = r
            .render(
                t,
                &note(Kind::Firing, Some("boom \"quoted\"\n<!here>".into())),
            )
            .unwrap();
        let text = v.to_string();
        assert!(
            !text.contains("<!channel>") && !text.contains("<@U") && !text.contains("<!here>"),
            "{t}: {text}"
        );
        assert!(limits::violations(&v).is_empty());
    }
}

#[test]
fn a_10000_char_termination_message_stays_within_limits() {
    let r = Renderer::new("test", &BTreeMap::new()).unwrap();
    let v = r
        .render("firing", &note(Kind::Firing, Some("E".repeat(10_000))))
        .unwrap();
    assert!(limits::violations(&v).is_empty());
    assert!(v.to_string().contains("E…"));
}

#[test]
fn a_tenant_can_override_a_template_and_values_stay_escaped() {
    let dir = std::env::temp_dir().join(format!("vigil-tpl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("firing.hbs"),
        r#"{"text": "ACME {{object}}", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "ACME: {{summary}}"}}]}"#,
    )
    .unwrap();
    let r = Renderer::new("test", &BTreeMap::from([("acme".to_string(), dir.clone())])).unwrap();
    let mut n = note(Kind::Firing, None);
    let default = r.render("firing", &n).unwrap();
    assert!(!default.to_string().contains("ACME"));
    n.signal.scope.tenant = Some("acme".into());
    let acme = r.render("firing", &n).unwrap();
    assert!(
        acme["text"]
            .as_str()
            .unwrap()
            .starts_with("ACME Pod/&lt;!channel&gt;"),
        "{acme}"
    );
    let resolved = r.render("resolved", &n).unwrap();
    assert!(
        !resolved.to_string().contains("ACME"),
        "other templates stay built in"
    );
    std::fs::write(dir.join("firing.hbs"), "{{#if}}").unwrap();
    let e = Renderer::new("test", &BTreeMap::from([("acme".to_string(), dir.clone())]))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("firing") && e.contains("firing.hbs"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
