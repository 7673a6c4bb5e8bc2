//! Slack's Block Kit limits, enforced on the rendered payload whatever a (possibly
//! user-edited) template produced: at most 50 blocks, header text ≤ 150 characters,
//! section text ≤ 3,000, each section field ≤ 2,000, context elements ≤ 2,000 and the
//! fallback `text` ≤ 3,000 (Slack itself cuts at 40,000). Cut text ends in "…".
use serde_json::Value;

use super::escape::truncate;

pub const MAX_BLOCKS: usize = 50;
pub const HEADER: usize = 150;
pub const SECTION: usize = 3000;
pub const FIELD: usize = 2000;
pub const CONTEXT: usize = 2000;
pub const FALLBACK: usize = 3000;

fn cut_text(obj: &mut Value, max: usize) {
    if let Some(Value::String(s)) = obj.get_mut("text") {
        *s = truncate(s, max);
    }
}

/// Applies the limits in place.
pub fn enforce(payload: &mut Value) {
    if let Some(Value::String(s)) = payload.get_mut("text") {
        *s = truncate(s, FALLBACK);
    }
    let Some(Value::Array(blocks)) = payload.get_mut("blocks") else {
        return;
    };
    if blocks.len() > MAX_BLOCKS {
        blocks.truncate(MAX_BLOCKS - 1);
        blocks.push(serde_json::json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "… more omitted (Slack allows 50 blocks)"}]
        }));
    }
    for b in blocks.iter_mut() {
        let kind = b
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match kind.as_str() {
            "header" => {
                if let Some(t) = b.get_mut("text") {
                    cut_text(t, HEADER);
                }
            }
            "section" => {
                if let Some(t) = b.get_mut("text") {
                    cut_text(t, SECTION);
                }
                if let Some(Value::Array(fields)) = b.get_mut("fields") {
                    fields.truncate(10);
                    for f in fields {
                        cut_text(f, FIELD);
                    }
                }
            }
            "context" => {
                if let Some(Value::Array(els)) = b.get_mut("elements") {
                    els.truncate(10);
                    for e in els {
                        cut_text(e, CONTEXT);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Checks a payload against the limits (used by tests and the recorder).
pub fn violations(payload: &Value) -> Vec<String> {
    let mut v = Vec::new();
    let len = |x: Option<&Value>| x.and_then(Value::as_str).map_or(0, |s| s.chars().count());
    if len(payload.get("text")) > 40_000 {
        v.push("text > 40000".into());
    }
    let blocks = payload
        .get("blocks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if blocks.len() > MAX_BLOCKS {
        v.push(format!("{} blocks", blocks.len()));
    }
    for b in &blocks {
        match b.get("type").and_then(Value::as_str) {
            Some("header") if len(b.pointer("/text/text")) > HEADER => v.push("header".into()),
            Some("section") if len(b.pointer("/text/text")) > SECTION => v.push("section".into()),
            _ => {}
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_content_is_cut() {
        let mut p = json!({
            "text": "x".repeat(10_000),
            "blocks": (0..60).map(|_| json!({"type": "section", "text": {"type": "mrkdwn", "text": "y".repeat(10_000)}}))
                .chain([json!({"type": "header", "text": {"type": "plain_text", "text": "h".repeat(500)}})])
                .collect::<Vec<_>>()
        });
        enforce(&mut p);
        assert!(violations(&p).is_empty(), "{:?}", violations(&p));
        assert_eq!(p["blocks"].as_array().unwrap().len(), 50);
        let s = p["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(s.ends_with('…') && s.chars().count() == SECTION);
    }
}
