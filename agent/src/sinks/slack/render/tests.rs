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

#[test]
fn a_tenant_template_gets_verbatim_and_safe_values_in_any_position() {
    let dir = std::env::temp_dir().join(format!("vigil-tpl-verbatim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // written for the default escaping only: `{{message}}` inside a code block
    std::fs::write(
        dir.join("firing.hbs"),
        r#"{"blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "{{plain title}} {{title}}"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "```{{message}}```"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "{{code tenant}}"}]}
        ]}"#,
    )
    .unwrap();
    let r = Renderer::new("test", &BTreeMap::from([("acme".to_string(), dir.clone())])).unwrap();
    let mut n = note(Kind::Firing, Some("a```*b*\u{202e}".into()));
    n.signal.rule = "R_*x*".into();
    n.signal.scope.tenant = Some("acme".into());
    let v = r.render("firing", &n).unwrap();
    assert_eq!(
        v["blocks"][0]["text"]["text"],
        "R_*x* Pod/&lt;!channel&gt; R\u{2cd}\u{2217}x\u{2217} Pod/&lt;!channel&gt;"
    );
    assert!(
        v["blocks"][0]["text"].get("verbatim").is_none(),
        "plain_text has none"
    );
    assert_eq!(
        v["blocks"][1]["text"],
        json!({"type": "mrkdwn", "verbatim": true, "text": "```a\u{2cb}\u{2cb}\u{2cb}\u{2217}b\u{2217}```"})
    );
    assert_eq!(v["blocks"][2]["elements"][0]["text"], "acme");
    assert_eq!(v["blocks"][2]["elements"][0]["verbatim"], true);
    let _ = std::fs::remove_dir_all(&dir);
}
