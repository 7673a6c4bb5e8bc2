//! Block Kit payloads from handlebars templates. The templates shipped in the crate
//! (`agent/templates/slack/*.hbs`) can be overridden per tenant by files of the same name
//! in a directory. Every value is neutralised for its position ([`escape`]) and for
//! JSON: `{{value}}` for mrkdwn text (the safe default anywhere), `{{code value}}` inside
//! a code span or block, `{{plain value}}` in `plain_text`. Untrusted text can neither
//! mention, link, format, hide or reorder text, nor break the payload. After rendering,
//! every mrkdwn text object gets `"verbatim": true` and Slack's limits are enforced.
//!
//! [`escape`]: super::escape
use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderErrorReason,
};
use serde_json::{Value, json};

use super::escape::{self, Lines, clean, fit, json_str};
use super::limits;
use vigil_contract::alert_state::{Kind, Notification, Severity};

pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "firing",
        include_str!("../../../templates/slack/firing.hbs"),
    ),
    (
        "resolved",
        include_str!("../../../templates/slack/resolved.hbs"),
    ),
    ("reply", include_str!("../../../templates/slack/reply.hbs")),
    (
        "summary",
        include_str!("../../../templates/slack/summary.hbs"),
    ),
];

/// Budgets of the values, in escaped characters, so that the built-in templates stay
/// within Slack's limits before [`limits::enforce`] has to cut them (a cut there could end
/// a text inside a code span).
const RULE: usize = 200;
const OBJECT: usize = 300;
const SUMMARY: usize = 1000;
const NAME: usize = 100;
const VALUE: usize = 300;
const SOURCE: usize = 200;
/// Longest termination message put into a payload (its section holds 3,000).
const MESSAGE: usize = 2800;
const LINES: usize = 2900;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("slack template {name} ({at}): {message}")]
    Template {
        name: String,
        at: String,
        message: String,
    },
    #[error("slack template {name} did not produce JSON: {source}")]
    Json {
        name: String,
        source: serde_json::Error,
    },
}

/// The built-in templates, plus per-tenant overrides.
pub struct Renderer {
    default: Handlebars<'static>,
    tenants: BTreeMap<String, Handlebars<'static>>,
    source: String,
}

/// `{{code value}}` and `{{plain value}}`: the value escaped for that position and JSON.
/// The output is written as is, not escaped again by the registry's escape function.
struct Position {
    name: &'static str,
    escape: fn(&str) -> String,
}

impl HelperDef for Position {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let value = h
            .param(0)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex(self.name, 0))?
            .value();
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            v => v.to_string(),
        };
        out.write(&json_str(&(self.escape)(&text)))?;
        Ok(())
    }
}

fn registry(dir: Option<&Path>) -> Result<Handlebars<'static>, RenderError> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(false);
    hb.register_escape_fn(|s| json_str(&escape::mrkdwn(s)));
    for (name, escape) in [
        ("code", escape::code as fn(&str) -> String),
        ("plain", escape::plain),
    ] {
        hb.register_helper(name, Box::new(Position { name, escape }));
    }
    for (name, text) in TEMPLATES {
        let (text, at) = match dir.map(|d| d.join(format!("{name}.hbs"))) {
            Some(p) if p.is_file() => (
                std::fs::read_to_string(&p).map_err(|e| RenderError::Template {
                    name: name.to_string(),
                    at: p.display().to_string(),
                    message: e.to_string(),
                })?,
                p.display().to_string(),
            ),
            _ => (text.to_string(), "built in".to_string()),
        };
        hb.register_template_string(name, text)
            .map_err(|e| RenderError::Template {
                name: name.to_string(),
                at,
                message: e.to_string(),
            })?;
    }
    Ok(hb)
}

fn time(ms: u64) -> String {
    let t: DateTime<Utc> =
        (std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms)).into();
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn human(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m {}s", s / 60, s % 60),
        s => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

fn emoji(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical => "🔴",
        Severity::Warning => "🟠",
        Severity::Info => "🔵",
    }
}

impl Renderer {
    /// `source` names the agent or cluster in every message's context line.
    pub fn new(
        source: &str,
        overrides: &BTreeMap<String, std::path::PathBuf>,
    ) -> Result<Renderer, RenderError> {
        let mut tenants = BTreeMap::new();
        for (tenant, dir) in overrides {
            tenants.insert(tenant.clone(), registry(Some(dir))?);
        }
        Ok(Renderer {
            default: registry(None)?,
            tenants,
            source: source.to_string(),
        })
    }

    /// The payload for a notification: `template` is `firing`, `resolved`, `reply` or
    /// `summary`.
    pub fn render(&self, template: &str, n: &Notification) -> Result<Value, RenderError> {
        let s = &n.signal;
        let hb = s
            .scope
            .tenant
            .as_ref()
            .and_then(|t| self.tenants.get(t))
            .unwrap_or(&self.default);
        let ctx = context(n, &self.source);
        let text = hb
            .render(template, &ctx)
            .map_err(|e| RenderError::Template {
                name: template.to_string(),
                at: "render".into(),
                message: e.to_string(),
            })?;
        let mut v: Value = serde_json::from_str(&text).map_err(|source| RenderError::Json {
            name: template.to_string(),
            source,
        })?;
        verbatim(&mut v);
        limits::enforce(&mut v);
        Ok(v)
    }
}

fn one(s: &str, max: usize) -> String {
    fit(&clean(s, Lines::One), max)
}

/// The values a template can interpolate: every one [`clean`]ed (one line, except a
/// termination message and the lines of a summary) and cut with [`fit`] to its budget.
fn context(n: &Notification, source: &str) -> Value {
    let s = &n.signal;
    let rule = one(&s.rule, RULE);
    let object = one(&s.scope.object, OBJECT);
    let summary = one(&s.summary, SUMMARY);
    let mut fields = vec![json!({"name": "Object", "value": object})];
    for (k, v) in [
        ("Tenant", &s.scope.tenant),
        ("Namespace", &s.scope.namespace),
        ("Workload", &s.scope.workload),
        ("Node", &s.scope.node),
        ("Device", &s.scope.device),
    ] {
        if let Some(v) = v {
            fields.push(json!({"name": k, "value": one(v, VALUE)}));
        }
    }
    for (k, v) in &s.facts {
        fields.push(json!({"name": one(k, NAME), "value": one(v, VALUE)}));
    }
    fields.truncate(limits::MAX_FIELDS);
    let duration = human(n.duration_s());
    let sev = emoji(s.severity);
    let headline = match n.kind {
        Kind::Firing => format!("{sev} {rule} fired"),
        Kind::Resolved => format!("✅ resolved after {duration}"),
        Kind::Repeat => format!("🔁 still firing after {duration}"),
        Kind::Flapping => {
            "〰️ flapping: keeps firing and resolving; held open until it is quiet".into()
        }
        Kind::Folded => format!("↳ {sev} {rule}"),
        Kind::FoldedResolved => format!("↳ ✅ {rule} resolved after {duration}"),
        Kind::Maintenance | Kind::Digest => summary.clone(),
    };
    let lines: Vec<String> = n.lines.iter().map(|l| clean(l, Lines::One)).collect();
    let mut lines = fit(&lines.join("\n"), LINES);
    if lines.is_empty() {
        lines = "nothing".into();
    }
    // a message with nothing left to show gets no (empty) code block
    let message = s
        .message
        .as_deref()
        .map(|m| clean(m, Lines::Many))
        .filter(|m| !m.trim().is_empty())
        .map(|m| fit(&m, MESSAGE));
    json!({
        "kind": n.kind.as_str(),
        "rule": rule,
        "severity": s.severity.as_str(),
        "emoji": sev,
        "title": match n.kind {
            Kind::Maintenance | Kind::Digest => summary.clone(),
            _ => format!("{rule} {object}"),
        },
        "summary": summary,
        "object": object,
        "tenant": s.scope.tenant.as_deref().map(|t| one(t, NAME)),
        "fields": fields,
        "message": message,
        "started": time(n.started_ms),
        "at": time(n.at_ms),
        "duration": duration,
        "headline": headline,
        "lines": lines,
        "source": one(source, SOURCE),
    })
}

/// Sets `"verbatim": true` on every mrkdwn text object, whatever the (possibly tenant's)
/// template says: Slack then neither links bare URLs nor `#channel` names, nor parses
/// mentions in the text.
fn verbatim(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.get("type").and_then(Value::as_str) == Some("mrkdwn") && o.contains_key("text") {
                o.insert("verbatim".into(), Value::Bool(true));
            }
            o.values_mut().for_each(verbatim);
        }
        Value::Array(a) => a.iter_mut().for_each(verbatim),
        _ => {}
    }
}

#[cfg(test)]
mod hostile;
#[cfg(test)]
mod tests;
