//! Property test: hostile text in every field a template can interpolate (rule, object,
//! summary, tenant, namespace, workload, node, device, facts, message, summary lines; tags
//! are generated too although no template shows them) stays inert in every built-in
//! template and every notification kind. Each payload is compared with its *twin*, the
//! same notification with every value replaced by a harmless one: the template's own
//! structure (backticks, formatting markers, line breaks) must be all that shapes the text.
use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::Value;
use vigil_contract::alert_state::{Kind, Notification, Scope, Severity, Signal};

use super::{Renderer, TEMPLATES};
use crate::sinks::slack::limits;

mod generate;
use generate::{notification, twin};

/// A string of the payload that Slack shows: the fallback `text` or a text object's `text`.
struct Shown {
    at: String,
    /// `mrkdwn`, `plain_text`, or `fallback` for the top-level `text`.
    kind: String,
    text: String,
    verbatim: bool,
}

fn shown(v: &Value, at: &str, out: &mut Vec<Shown>) {
    match v {
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str);
            if let (Some(k @ ("mrkdwn" | "plain_text")), Some(Value::String(t))) =
                (kind, o.get("text"))
            {
                out.push(Shown {
                    at: at.to_string(),
                    kind: k.to_string(),
                    text: t.clone(),
                    verbatim: o.get("verbatim") == Some(&Value::Bool(true)),
                });
            } else if at.is_empty()
                && let Some(Value::String(t)) = o.get("text")
            {
                out.push(Shown {
                    at: "/text".into(),
                    kind: "fallback".into(),
                    text: t.clone(),
                    verbatim: false,
                });
            }
            for (k, x) in o {
                shown(x, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                shown(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Invisible or direction-changing characters (Unicode category Cf, line and paragraph
/// separators) and controls other than newline and tab.
fn forbidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c,
            '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}'
            | '\u{890}'..='\u{891}' | '\u{8e2}' | '\u{180e}' | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}'
            | '\u{feff}' | '\u{fff9}'..='\u{fffb}' | '\u{110bd}' | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}' | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}' | '\u{e0001}' | '\u{e0020}'..='\u{e007f}')
}

/// `*`, `_` and `~` where Slack may read them as formatting: not between two ASCII letters
/// or digits.
fn markers(s: &str) -> usize {
    let c: Vec<char> = s.chars().collect();
    (0..c.len())
        .filter(|&i| matches!(c[i], '*' | '_' | '~'))
        .filter(|&i| {
            let word = |j: Option<usize>| {
                j.and_then(|j| c.get(j))
                    .is_some_and(char::is_ascii_alphanumeric)
            };
            !(word(i.checked_sub(1)) && word(Some(i + 1)))
        })
        .count()
}

/// A mrkdwn text without what its code spans and blocks hold (each becomes `C`), once its
/// backticks are known to be the template's own.
fn outside_code(s: &str) -> String {
    s.split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 0 { part } else { "C" })
        .collect()
}

fn check(template: &str, p: &Value, twin: &Value) -> Result<(), TestCaseError> {
    let v = limits::violations(p);
    prop_assert!(v.is_empty(), "{template}: over Slack's limits: {v:?}");
    let mut got = Vec::new();
    shown(p, "", &mut got);
    let mut want = Vec::new();
    shown(twin, "", &mut want);
    let want: BTreeMap<&str, &Shown> = want.iter().map(|s| (s.at.as_str(), s)).collect();
    for s in &got {
        let (t, at) = (&s.text, &s.at);
        for bad in ["<!", "<@", "<#", "<http"] {
            prop_assert!(!t.contains(bad), "{template} {at}: unescaped {bad}: {t:?}");
        }
        for (i, _) in t.match_indices('&') {
            let rest = &t[i..];
            prop_assert!(
                ["&amp;", "&lt;", "&gt;"]
                    .iter()
                    .any(|e| rest.starts_with(e)),
                "{template} {at}: a bare & : {t:?}"
            );
        }
        if let Some(c) = t.chars().find(|&c| forbidden(c)) {
            prop_assert!(
                false,
                "{template} {at}: U+{:04X} reached Slack: {t:?}",
                c as u32
            );
        }
        prop_assert!(
            s.kind == "fallback" || !t.is_empty(),
            "{template} {at}: empty text object"
        );
        if s.kind == "mrkdwn" {
            prop_assert!(s.verbatim, "{template} {at}: mrkdwn without verbatim: true");
        }
        let Some(w) = want.get(at.as_str()) else {
            prop_assert!(false, "{template} {at}: not in the twin payload");
            continue;
        };
        if s.kind == "plain_text" {
            continue;
        }
        // mrkdwn (and the fallback text, mrkdwn where blocks cannot be shown)
        let ticks = |x: &str| x.matches('`').count();
        prop_assert_eq!(
            ticks(t),
            ticks(&w.text),
            "{} {}: a value added or removed backticks (code span break-out): {:?}",
            template,
            at,
            t
        );
        let (t_out, w_out) = (outside_code(t), outside_code(&w.text));
        prop_assert_eq!(
            markers(&t_out),
            markers(&w_out),
            "{} {}: a value added formatting markers: {:?}",
            template,
            at,
            t
        );
        if !w.text.contains("MSG") {
            prop_assert!(
                t.matches('\n').count() <= w.text.matches('\n').count(),
                "{template} {at}: a one-line value added line breaks: {t:?}"
            );
        }
        for line in t_out.split('\n') {
            let l = line.trim_start();
            prop_assert!(
                !(l.starts_with('>') || l.starts_with("&gt;")),
                "{template} {at}: a value starts a block quote: {t:?}"
            );
        }
        // inside the message's code block nothing but the value
        if let Some(inner) = t.strip_prefix("```").and_then(|x| x.strip_suffix("```")) {
            prop_assert!(
                !inner.contains('`'),
                "{template} {at}: ``` break-out: {t:?}"
            );
        }
    }
    Ok(())
}

fn renderer() -> &'static Renderer {
    static R: OnceLock<Renderer> = OnceLock::new();
    R.get_or_init(|| Renderer::new("test", &BTreeMap::new()).unwrap())
}

// 256 cases by default; `PROPTEST_CASES=20000` for a longer run
proptest! {
    #[test]
    fn hostile_values_stay_inert_in_every_template(n in notification()) {
        let twin_n = twin(&n);
        for (template, _) in TEMPLATES {
            let p = renderer().render(template, &n).unwrap();
            let w = renderer().render(template, &twin_n).unwrap();
            check(template, &p, &w)?;
        }
    }
}

fn crash(message: &str) -> Notification {
    let s = Signal::new(
        "PodCrashLooping",
        Severity::Critical,
        Scope {
            namespace: Some("shop".into()),
            object: "Pod/api-0".into(),
            ..Default::default()
        },
        "x",
    )
    .summary("container api restarted");
    Notification {
        seq: 1,
        kind: Kind::Firing,
        incident: "k".into(),
        thread: "k".into(),
        signal: Signal {
            message: Some(message.into()),
            ..s
        },
        started_ms: 1_800_000_000_000,
        at_ms: 1_800_000_090_000,
        lines: vec![],
    }
}

/// The report of issue #13: a termination message closed the template's code block, so
/// its `*bold*` rendered, and a right-to-left override reached Slack.
#[test]
fn a_termination_message_cannot_close_its_code_block() {
    let n = crash("ok```\n*bold* <!channel> \u{202e}exe.txt\u{200b} #general http://x.example```");
    for template in ["firing", "reply"] {
        let p = renderer().render(template, &n).unwrap();
        let block = p["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| {
                b.pointer("/text/text")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.starts_with("```"))
            })
            .unwrap();
        assert_eq!(
            block["text"]["text"],
            "```ok\u{2cb}\u{2cb}\u{2cb}\n*bold* &lt;!channel&gt; exe.txt #general http://x.example\u{2cb}\u{2cb}\u{2cb}```",
            "{template}"
        );
        assert_eq!(block["text"]["verbatim"], true, "{template}");
    }
}
