//! Hostile notifications for the property test, and their harmless twins.
use proptest::prelude::*;
use vigil_contract::alert_state::{Kind, Notification, Scope, Severity, Signal};

use super::forbidden;

/// Pieces of hostile text: mrkdwn syntax, Slack's `<…>` sequences, bare links and
/// channel names, bidi and zero-width characters, C0/C1 controls, line separators,
/// entities and multibyte text.
const ATOMS: &[&str] = &[
    "`",
    "``",
    "```",
    "```\n*bold*\n```",
    "<!channel>",
    "<!here>",
    "<!subteam^S0123>",
    "<@U123>",
    "<#C1>",
    "<#C1|general>",
    "<http://x|y>",
    "<https://evil.example/login|click here>",
    "<",
    ">",
    "> quote",
    "\n> quote",
    "&",
    "&amp;",
    "&lt;!channel&gt;",
    "http://bare.example/x",
    "#general",
    "@here",
    "*bold*",
    "_it_",
    "~s~",
    "*",
    "_",
    "~",
    "node_exporter",
    "2*3",
    ":rotating_light:",
    "\"}]}",
    "\\",
    " ",
    "a",
    "Z9",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "\u{0}",
    "\u{7}",
    "\u{1b}[31m",
    "\u{7f}",
    "\u{80}",
    "\u{85}",
    "\u{9b}",
    "\u{9f}",
    "\u{202a}",
    "\u{202b}",
    "\u{202c}",
    "\u{202d}",
    "\u{202e}",
    "\u{2066}",
    "\u{2067}",
    "\u{2068}",
    "\u{2069}",
    "\u{200b}",
    "\u{200c}",
    "\u{200d}",
    "\u{200e}",
    "\u{200f}",
    "\u{2060}",
    "\u{feff}",
    "\u{ad}",
    "\u{61c}",
    "\u{e0041}",
    "\u{2028}",
    "\u{2029}",
    "é",
    "e\u{301}",
    "😀",
    "👨\u{200d}👩\u{200d}👧",
    "🇫🇷",
    "漢字",
    "𓀀",
];

fn atom() -> impl Strategy<Value = &'static str> {
    prop::sample::select(ATOMS)
}

/// Lengths at which the renderer or Slack cuts text.
const CUTS: &[usize] = &[100, 150, 200, 300, 1000, 2000, 2800, 2900, 3000];

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        // a mix of hostile pieces
        6 => prop::collection::vec(atom(), 0..16).prop_map(|v| v.concat()),
        // any characters at all
        2 => prop::collection::vec(any::<char>(), 0..48).prop_map(|v| v.into_iter().collect()),
        // very long: one piece repeated (up to ~40,000 characters)
        1 => (atom(), 1usize..4000, atom()).prop_map(|(a, n, b)| a.repeat(n) + b),
        // multibyte characters and entities right at a cut point
        2 => (
            prop::sample::select(CUTS),
            0usize..12,
            prop::sample::select(&["a", "é", "😀", "&", "<", "`", "\u{202e}"][..]),
            atom()
        )
            .prop_map(|(cut, back, fill, tail)| fill.repeat((cut + 6).saturating_sub(back)) + tail),
    ]
}

fn severity() -> impl Strategy<Value = Severity> {
    prop::sample::select(&[Severity::Critical, Severity::Warning, Severity::Info][..])
}

fn kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(
        &[
            Kind::Firing,
            Kind::Resolved,
            Kind::Repeat,
            Kind::Flapping,
            Kind::Folded,
            Kind::FoldedResolved,
            Kind::Maintenance,
            Kind::Digest,
        ][..],
    )
}

fn scope() -> impl Strategy<Value = Scope> {
    (
        proptest::option::of(hostile()),
        proptest::option::of(hostile()),
        proptest::option::of(hostile()),
        proptest::option::of(hostile()),
        proptest::option::of(hostile()),
        hostile(),
        prop::collection::btree_map(hostile(), hostile(), 0..3),
    )
        .prop_map(
            |(tenant, namespace, workload, node, device, object, tags)| Scope {
                tenant,
                namespace,
                workload,
                node,
                device,
                object,
                tags,
            },
        )
}

pub fn notification() -> impl Strategy<Value = Notification> {
    (
        (hostile(), severity(), scope(), hostile()),
        prop::collection::vec((hostile(), hostile()), 0..14),
        proptest::option::of(hostile()),
        kind(),
        prop::collection::vec(hostile(), 0..12),
        0u64..4_000_000_000_000,
        0u64..400_000_000,
    )
        .prop_map(
            |((rule, severity, scope, summary), facts, message, kind, lines, started, took)| {
                let mut s = Signal::new(&rule, severity, scope, "id").summary(summary);
                s.facts = facts;
                s.message = message;
                Notification {
                    seq: 1,
                    kind,
                    incident: "i".into(),
                    thread: "i".into(),
                    signal: s,
                    started_ms: started,
                    at_ms: started + took,
                    lines,
                }
            },
        )
}

/// The same notification with harmless values: what the template alone produces.
pub fn twin(n: &Notification) -> Notification {
    let mut t = n.clone();
    let s = &mut t.signal;
    let v = |o: &mut Option<String>| {
        if o.is_some() {
            *o = Some("v".into());
        }
    };
    s.rule = "v".into();
    s.summary = "v".into();
    s.scope.object = "v".into();
    v(&mut s.scope.tenant);
    v(&mut s.scope.namespace);
    v(&mut s.scope.workload);
    v(&mut s.scope.node);
    v(&mut s.scope.device);
    for f in &mut s.facts {
        *f = ("v".into(), "v".into());
    }
    // a message with nothing visible gets no code block at all
    s.message = s
        .message
        .as_deref()
        .filter(|m| m.chars().any(|c| !forbidden(c) && !c.is_whitespace()))
        .map(|_| "MSG".into());
    for l in &mut t.lines {
        *l = "l".into();
    }
    t
}
