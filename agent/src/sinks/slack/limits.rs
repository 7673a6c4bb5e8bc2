//! Slack's Block Kit limits, enforced on the rendered payload whatever a (possibly
//! user-edited) template produced: at most 50 blocks, header text ≤ 150 characters,
//! section text ≤ 3,000, at most 10 section fields of ≤ 2,000 each, at most 10 context
//! elements (cut here to ≤ 2,000 each; Slack allows 3,000 in any text object) and the
//! fallback `text` cut to ≤ 3,000 (Slack itself cuts at 40,000). Cut text ends in "…".
use serde_json::Value;

use super::escape::truncate;

pub const MAX_BLOCKS: usize = 50;
pub const HEADER: usize = 150;
pub const SECTION: usize = 3000;
pub const MAX_FIELDS: usize = 10;
pub const FIELD: usize = 2000;
pub const MAX_ELEMENTS: usize = 10;
/// Any text object, a context element's included.
pub const TEXT: usize = 3000;
/// Where Slack cuts the fallback `text`.
pub const MAX_FALLBACK: usize = 40_000;
/// What context elements and the fallback `text` are cut to: shorter than Slack allows.
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
            "elements": [{"type": "mrkdwn", "verbatim": true, "text": "… more omitted (Slack allows 50 blocks)"}]
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
                    fields.truncate(MAX_FIELDS);
                    for f in fields {
                        cut_text(f, FIELD);
                    }
                }
            }
            "context" => {
                if let Some(Value::Array(els)) = b.get_mut("elements") {
                    els.truncate(MAX_ELEMENTS);
                    for e in els {
                        cut_text(e, CONTEXT);
                    }
                }
            }
            _ => {}
        }
    }
}

fn chars(x: Option<&Value>) -> usize {
    x.and_then(Value::as_str).map_or(0, |s| s.chars().count())
}

/// A list of text objects (section fields, context elements): how many, how long each.
fn list(v: &mut Vec<String>, at: &str, items: Option<&Value>, most: usize, max: usize) {
    let items = items
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if items.len() > most {
        v.push(format!("{at}: {} > {most}", items.len()));
    }
    for (j, x) in items.iter().enumerate() {
        if chars(x.get("text")) > max {
            v.push(format!("{at}/{j}: text > {max}"));
        }
    }
}

/// Checks a payload against Slack's limits (used by tests and the recorder): one line per
/// violation, naming where it is.
pub fn violations(payload: &Value) -> Vec<String> {
    let mut v = Vec::new();
    if chars(payload.get("text")) > MAX_FALLBACK {
        v.push(format!("text > {MAX_FALLBACK}"));
    }
    let blocks = payload
        .get("blocks")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if blocks.len() > MAX_BLOCKS {
        v.push(format!("{} blocks > {MAX_BLOCKS}", blocks.len()));
    }
    for (i, b) in blocks.iter().enumerate() {
        let text = chars(b.pointer("/text/text"));
        match b.get("type").and_then(Value::as_str) {
            Some("header") if text > HEADER => {
                v.push(format!("blocks/{i} header: text > {HEADER}"));
            }
            Some("section") => {
                if text > SECTION {
                    v.push(format!("blocks/{i} section: text > {SECTION}"));
                }
                let at = format!("blocks/{i} fields");
                list(&mut v, &at, b.get("fields"), MAX_FIELDS, FIELD);
            }
            Some("context") => {
                let at = format!("blocks/{i} elements");
                list(&mut v, &at, b.get("elements"), MAX_ELEMENTS, TEXT);
            }
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

    #[test]
    fn fields_and_context_elements_are_checked_and_cut() {
        let text = |n: usize| json!({"type": "mrkdwn", "text": "z".repeat(n)});
        let mut p = json!({"blocks": [
            {"type": "section", "text": text(10), "fields": (0..12).map(|_| text(2500)).collect::<Vec<_>>()},
            {"type": "context", "elements": (0..11).map(|_| text(3500)).collect::<Vec<_>>()},
        ]});
        let v = violations(&p);
        assert!(v.contains(&"blocks/0 fields: 12 > 10".to_string()), "{v:?}");
        assert!(
            v.contains(&"blocks/0 fields/11: text > 2000".to_string()),
            "{v:?}"
        );
        assert!(
            v.contains(&"blocks/1 elements: 11 > 10".to_string()),
            "{v:?}"
        );
        assert!(
            v.contains(&"blocks/1 elements/0: text > 3000".to_string()),
            "{v:?}"
        );
        assert_eq!(v.len(), 12 + 1 + 11 + 1, "{v:?}");
        enforce(&mut p);
        assert!(violations(&p).is_empty(), "{:?}", violations(&p));
        assert_eq!(
            p["blocks"][0]["fields"].as_array().unwrap().len(),
            MAX_FIELDS
        );
        assert_eq!(
            p["blocks"][1]["elements"].as_array().unwrap().len(),
            MAX_ELEMENTS
        );
        let f = p["blocks"][0]["fields"][0]["text"].as_str().unwrap();
        assert!(f.ends_with('…') && f.chars().count() == FIELD);
        let e = p["blocks"][1]["elements"][0]["text"].as_str().unwrap();
        assert!(e.ends_with('…') && e.chars().count() == CONTEXT);
    }

    #[test]
    fn a_fallback_text_over_40000_is_a_violation() {
        let v = violations(&json!({"text": "t".repeat(40_001), "blocks": []}));
        assert_eq!(v, ["text > 40000"]);
        assert!(violations(&json!({"text": "t".repeat(40_000)})).is_empty());
    }
}
