//! InfluxDB line protocol encoding with the escaping rules of InfluxDB's own parser.
//!
//! - measurement: `,` and space are escaped;
//! - tag keys, tag values, field keys: `,`, `=` and space are escaped;
//! - string field values: double-quoted, `"` and `\\` escaped.
//!
//! Line protocol cannot carry some characters at all; they are mapped, never sent raw:
//! newlines and carriage returns become a space (everywhere, as InfluxDB rejects them in
//! tags and splits lines on them), and in names/tags a backslash directly before `,`, `=`,
//! space or at the end of the token is dropped, because InfluxDB would read it as an
//! escape of the separator that follows.
use std::fmt::Write;

use crate::point::{FieldValue, Point};

fn escape_into(out: &mut String, s: &str, specials: &[char]) {
    if !s
        .chars()
        .any(|c| c == '\\' || c == '\n' || c == '\r' || specials.contains(&c))
    {
        out.push_str(s);
        return;
    }
    let chars: Vec<char> = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let run_end = chars[i..]
                .iter()
                .position(|&c| c != '\\')
                .map_or(chars.len(), |p| i + p);
            let next = chars.get(run_end);
            if next.is_some_and(|n| !specials.contains(n)) {
                out.extend(&chars[i..run_end]);
            }
            i = run_end;
            continue;
        }
        if specials.contains(&c) {
            out.push('\\');
        }
        out.push(c);
        i += 1;
    }
}

const MEASUREMENT: &[char] = &[',', ' '];
const KEY: &[char] = &[',', '=', ' '];

/// Appends one point as a line (with trailing `\n`). A point without a representable
/// measurement or field is not valid line protocol and is skipped; returns whether a line
/// was written.
pub fn encode_into(out: &mut String, p: &Point) -> bool {
    let start = out.len();
    let ok = encode_line(out, p);
    if !ok {
        out.truncate(start);
    }
    ok
}

fn encode_line(out: &mut String, p: &Point) -> bool {
    let start = out.len();
    escape_into(out, &p.measurement, MEASUREMENT);
    if out.len() == start || p.fields.is_empty() {
        return false;
    }
    for (k, v) in &p.tags {
        let mark = out.len();
        out.push(',');
        escape_into(out, k, KEY);
        let key_end = out.len();
        out.push('=');
        escape_into(out, v, KEY);
        if key_end == mark + 1 || out.len() == key_end + 1 {
            out.truncate(mark);
        }
    }
    let mut first = true;
    for (k, v) in &p.fields {
        if let FieldValue::Float(f) = v
            && !f.is_finite()
        {
            continue;
        }
        let mark = out.len();
        out.push(if first { ' ' } else { ',' });
        escape_into(out, k, KEY);
        if out.len() == mark + 1 {
            out.truncate(mark);
            continue;
        }
        first = false;
        out.push('=');
        match v {
            FieldValue::Int(i) => {
                let _ = write!(out, "{i}i");
            }
            FieldValue::Float(f) => {
                let _ = write!(out, "{f:?}");
            }
            FieldValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            FieldValue::Str(s) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' | '\r' => out.push(' '),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
        }
    }
    if first {
        // every field was unrepresentable (NaN/inf): the caller drops the partial line
        return false;
    }
    let _ = write!(out, " {}", p.timestamp_ns);
    out.push('\n');
    true
}

/// Encodes many points; returns the text and the number of lines.
pub fn encode(points: &[Point]) -> (String, usize) {
    let mut out = String::with_capacity(points.len() * 160);
    let mut n = 0;
    for p in points {
        if encode_into(&mut out, p) {
            n += 1;
        }
    }
    (out, n)
}

#[cfg(test)]
mod tests;
