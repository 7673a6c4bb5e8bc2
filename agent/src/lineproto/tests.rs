use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// An independent reader that follows InfluxDB 1.x's scanner: a backslash makes the next
/// character part of the token; afterwards only `\,`, `\ ` and (outside measurements) `\=`
/// are unescaped.
fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let last = parts.last_mut().expect("non-empty");
            last.push(c);
            if let Some(n) = chars.next() {
                last.push(n);
            }
        } else if c == sep {
            parts.push(String::new());
        } else {
            parts.last_mut().expect("non-empty").push(c);
        }
    }
    parts
}

fn unescape(s: &str, measurement: bool) -> String {
    let s = s.replace("\\,", ",").replace("\\ ", " ");
    if measurement {
        s
    } else {
        s.replace("\\=", "=")
    }
}

#[derive(Debug, PartialEq)]
struct Decoded {
    measurement: String,
    tags: BTreeMap<String, String>,
    fields: BTreeMap<String, String>,
    ts: i64,
}

fn decode(line: &str) -> Decoded {
    // the sections are separated by unescaped spaces outside quotes
    let mut sections = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            // quotes only delimit string values in the field section
            '"' if !sections.is_empty() => {
                quoted = !quoted;
                cur.push(c);
            }
            ' ' if !quoted => sections.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    sections.push(cur);
    assert_eq!(
        sections.len(),
        3,
        "line {line:?} has {} sections",
        sections.len()
    );
    let key = split_unescaped(&sections[0], ',');
    let measurement = unescape(&key[0], true);
    let tags = key[1..]
        .iter()
        .map(|kv| {
            let p = split_unescaped(kv, '=');
            assert_eq!(p.len(), 2, "tag {kv:?}");
            (unescape(&p[0], false), unescape(&p[1], false))
        })
        .collect();
    let mut fields = BTreeMap::new();
    // fields: split on unescaped commas outside quotes
    let mut parts = vec![String::new()];
    let mut quoted = false;
    let mut chars = sections[1].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let last = parts.last_mut().expect("non-empty");
                last.push(c);
                if let Some(n) = chars.next() {
                    last.push(n);
                }
            }
            '"' => {
                quoted = !quoted;
                parts.last_mut().expect("non-empty").push(c);
            }
            ',' if !quoted => parts.push(String::new()),
            c => parts.last_mut().expect("non-empty").push(c),
        }
    }
    for kv in parts {
        let eq = split_unescaped(&kv, '=');
        let k = unescape(&eq[0], false);
        let v = eq[1..].join("=");
        let v = if let Some(inner) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            let mut out = String::new();
            let mut it = inner.chars();
            while let Some(c) = it.next() {
                if c == '\\' {
                    match it.next() {
                        Some(n @ ('"' | '\\')) => out.push(n),
                        Some(n) => {
                            out.push('\\');
                            out.push(n);
                        }
                        None => out.push('\\'),
                    }
                } else {
                    out.push(c);
                }
            }
            format!("str:{out}")
        } else {
            v
        };
        fields.insert(k, v);
    }
    Decoded {
        measurement,
        tags,
        fields,
        ts: sections[2].parse().expect("timestamp"),
    }
}

fn point(m: &str, tags: &[(&str, &str)], s: &str) -> Point {
    let mut p = Point::new(m, 1_700_000_000_000_000_000);
    for (k, v) in tags {
        p.tag(k, *v);
    }
    p.field("text", FieldValue::Str(s.to_string()));
    p.field("n", FieldValue::Int(-3));
    p.field("f", FieldValue::Float(0.5));
    p.field("ok", FieldValue::Bool(true));
    p
}

#[test]
fn escapes_the_documented_examples() {
    let p = point(
        "my measurement,x",
        &[("tag key", "a=b,c d"), ("ifAlias", "uplink \"core\" ✓")],
        "say \"hi\" \\ there",
    );
    let (line, n) = encode(&[p]);
    assert_eq!(n, 1);
    assert_eq!(
        line,
        "my\\ measurement\\,x,ifAlias=uplink\\ \"core\"\\ ✓,tag\\ key=a\\=b\\,c\\ d \
         f=0.5,n=-3i,ok=true,text=\"say \\\"hi\\\" \\\\ there\" 1700000000000000000\n"
    );
}

#[test]
fn newlines_never_split_a_line() {
    let p = point("m", &[("t", "a\nb")], "multi\nline\r\nsysDescr");
    let (line, _) = encode(&[p]);
    assert_eq!(line.matches('\n').count(), 1);
    let d = decode(line.trim_end());
    assert_eq!(d.tags["t"], "a b");
    assert_eq!(d.fields["text"], "str:multi line  sysDescr");
}

#[test]
fn trailing_backslash_in_a_tag_is_dropped_not_escaping_the_separator() {
    let p = point("m", &[("path", "C:\\"), ("z", "q")], "x");
    let (line, _) = encode(&[p]);
    let d = decode(line.trim_end());
    assert_eq!(d.tags["path"], "C:");
    assert_eq!(d.tags["z"], "q");
}

#[test]
fn points_without_fields_or_with_only_nan_are_skipped() {
    let mut empty = Point::new("m", 1);
    empty.tag("a", "b");
    let mut nan = Point::new("m", 1);
    nan.field("x", FieldValue::Float(f64::NAN));
    let (text, n) = encode(&[empty, nan]);
    assert_eq!((text.as_str(), n), ("", 0));
}

fn normalize_key(s: &str, specials: &[char]) -> String {
    let mut out = String::new();
    escape_into(&mut out, s, specials);
    unescape(&out, specials.len() == 2)
}

proptest! {
    #[test]
    fn strings_without_backslash_round_trip_exactly(
        m in "[^\\\\\n\r]{1,12}",
        k in "[^\\\\\n\r]{1,12}",
        v in "[^\\\\\n\r]{1,12}",
        s in "[^\n\r]{0,40}",
    ) {
        let p = point(&m, &[(&k, &v)], &s);
        let (line, n) = encode(std::slice::from_ref(&p));
        prop_assert_eq!(n, 1);
        prop_assert_eq!(line.matches('\n').count(), 1);
        let d = decode(line.trim_end());
        prop_assert_eq!(&d.measurement, &m);
        prop_assert_eq!(d.tags.get(&k), Some(&v));
        prop_assert_eq!(d.fields.get("text"), Some(&format!("str:{s}")));
        prop_assert_eq!(d.ts, p.timestamp_ns);
    }

    #[test]
    fn any_string_yields_one_parseable_line(
        m in "\\PC{1,12}",
        k in ".{1,12}",
        v in ".{1,12}",
        s in "(.|\n){0,40}",
    ) {
        let p = point(&m, &[(&k, &v)], &s);
        let (line, n) = encode(std::slice::from_ref(&p));
        if n == 1 {
            prop_assert_eq!(line.matches('\n').count(), 1);
            let d = decode(line.trim_end());
            prop_assert_eq!(d.measurement, normalize_key(&m, MEASUREMENT));
            let (nk, nv) = (normalize_key(&k, KEY), normalize_key(&v, KEY));
            if !nk.is_empty() {
                // a tag whose key or value maps to nothing is left out, never written empty
                let want = (!nv.is_empty()).then_some(nv);
                prop_assert_eq!(d.tags.get(&nk).cloned(), want);
            }
            prop_assert_eq!(
                d.fields.get("text").cloned(),
                Some(format!("str:{}", s.replace(['\n', '\r'], " ")))
            );
        }
    }
}
