//! Block Kit payloads from handlebars templates. The templates shipped in the crate
//! (`agent/templates/slack/*.hbs`) can be overridden per tenant by files of the same name
//! in a directory. Every `{{value}}` is escaped for Slack and for JSON, so untrusted text
//! can neither mention nor link nor break the payload; Slack's limits are enforced after
//! rendering.
use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use handlebars::Handlebars;
use serde_json::{Value, json};

use super::escape::{json_str, slack, truncate};
use super::limits;
use crate::alerts::signal::Severity;
use crate::alerts::state::{Kind, Notification};

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

/// Longest termination message put into a payload before the limits pass.
const MESSAGE: usize = 2800;

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

fn registry(dir: Option<&Path>) -> Result<Handlebars<'static>, RenderError> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(false);
    hb.register_escape_fn(|s| json_str(&slack(s)));
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
        let mut fields = vec![json!({"name": "Object", "value": s.scope.object})];
        for (k, v) in [
            ("Tenant", &s.scope.tenant),
            ("Namespace", &s.scope.namespace),
            ("Workload", &s.scope.workload),
            ("Node", &s.scope.node),
            ("Device", &s.scope.device),
        ] {
            if let Some(v) = v {
                fields.push(json!({"name": k, "value": truncate(v, 300)}));
            }
        }
        for (k, v) in &s.facts {
            fields.push(json!({"name": truncate(k, 100), "value": truncate(v, 300)}));
        }
        fields.truncate(10);
        let duration = human(n.duration_s());
        let headline = match n.kind {
            Kind::Firing => format!("{} {} fired", emoji(s.severity), s.rule),
            Kind::Resolved => format!("✅ resolved after {duration}"),
            Kind::Repeat => format!("🔁 still firing after {duration}"),
            Kind::Flapping => {
                "〰️ flapping: keeps firing and resolving; held open until it is quiet".into()
            }
            Kind::Folded => format!("↳ {} {}", emoji(s.severity), s.rule),
            Kind::FoldedResolved => format!("↳ ✅ {} resolved after {duration}", s.rule),
            Kind::Maintenance | Kind::Digest => s.summary.clone(),
        };
        let mut lines = n.lines.join("\n");
        if lines.is_empty() {
            lines = "nothing".into();
        }
        let ctx = json!({
            "kind": n.kind.as_str(),
            "rule": s.rule,
            "severity": s.severity.as_str(),
            "emoji": emoji(s.severity),
            "title": match n.kind {
                Kind::Maintenance | Kind::Digest => s.summary.clone(),
                _ => format!("{} {}", s.rule, s.scope.object),
            },
            "summary": truncate(&s.summary, 1000),
            "object": truncate(&s.scope.object, 300),
            "tenant": s.scope.tenant,
            "fields": fields,
            "message": s.message.as_ref().map(|m| truncate(m, MESSAGE)),
            "started": time(n.started_ms),
            "at": time(n.at_ms),
            "duration": duration,
            "headline": headline,
            "lines": truncate(&lines, 2900),
            "source": self.source,
        });
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
        limits::enforce(&mut v);
        Ok(v)
    }
}

#[cfg(test)]
mod tests;
