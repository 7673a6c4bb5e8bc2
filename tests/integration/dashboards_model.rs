//! Reading `dashboards/*.json` the way Grafana does: panels (also inside rows), their
//! queries, template variables, annotations; and interpolating variables and macros.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

/// The datasource uid the deployer provisions (`deployer/src/tenant/build/grafana.rs`).
pub const DATASOURCE_UID: &str = "vigil-influxdb";
/// The schemaVersion of the Grafana the deployer pins (grafana/grafana 11.3).
pub const SCHEMA_VERSION: u64 = 39;

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dashboards")
}

/// One dashboard file.
pub struct Dashboard {
    /// File name, e.g. `overview.json`.
    pub file: String,
    pub json: Value,
}

impl Dashboard {
    pub fn uid(&self) -> &str {
        self.json["uid"].as_str().unwrap_or_default()
    }

    /// Every panel, including those nested in collapsed rows.
    pub fn panels(&self) -> Vec<&Value> {
        fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
            for p in list.as_array().into_iter().flatten() {
                out.push(p);
                walk(&p["panels"], out);
            }
        }
        let mut out = Vec::new();
        walk(&self.json["panels"], &mut out);
        out
    }

    pub fn variables(&self) -> Vec<Variable> {
        self.json["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| Variable {
                name: v["name"].as_str().unwrap_or_default().to_owned(),
                query: query_text(&v["query"]),
                multi: v["multi"].as_bool().unwrap_or(false)
                    || v["includeAll"].as_bool().unwrap_or(false),
                datasource: v["datasource"].clone(),
            })
            .collect()
    }

    /// Every InfluxQL query of the dashboard: panel targets, variables, annotations.
    pub fn queries(&self) -> Vec<Query> {
        let mut out = Vec::new();
        for p in self.panels() {
            for t in p["targets"].as_array().into_iter().flatten() {
                if t["hide"].as_bool() == Some(true) {
                    continue;
                }
                out.push(Query {
                    what: format!(
                        "{} panel {} {:?} target {}",
                        self.file,
                        p["id"],
                        p["title"].as_str().unwrap_or_default(),
                        t["refId"].as_str().unwrap_or_default()
                    ),
                    text: query_text(&t["query"]),
                    time_from: p["timeFrom"].as_str().map(str::to_owned),
                    kind: QueryKind::Panel,
                });
            }
        }
        for v in self.variables() {
            out.push(Query {
                what: format!("{} variable ${}", self.file, v.name),
                text: v.query,
                time_from: None,
                kind: QueryKind::Variable,
            });
        }
        for a in self.annotations() {
            out.push(Query {
                what: format!(
                    "{} annotation {:?}",
                    self.file,
                    a["name"].as_str().unwrap_or_default()
                ),
                text: query_text(&a["query"]),
                time_from: None,
                kind: QueryKind::Annotation,
            });
        }
        out
    }

    /// Annotations that query a datasource (Grafana's built-in one is left out).
    pub fn annotations(&self) -> Vec<&Value> {
        self.json["annotations"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["builtIn"].as_u64() != Some(1))
            .collect()
    }
}

/// A query's text: a plain string, or an object with a `query` string (newer Grafana).
fn query_text(v: &Value) -> String {
    v.as_str()
        .or_else(|| v["query"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    Panel,
    Variable,
    Annotation,
}

#[derive(Debug, Clone)]
pub struct Query {
    /// Where it is, for messages: file, panel id and title, refId.
    pub what: String,
    pub text: String,
    /// The panel's relative time override (`24h`), if any.
    pub time_from: Option<String>,
    pub kind: QueryKind,
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub query: String,
    /// Multi-value or "All": Grafana formats the value as an escaped regex.
    pub multi: bool,
    pub datasource: Value,
}

/// Reads every `dashboards/*.json`, sorted by file name.
pub fn load_all() -> Vec<Dashboard> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("dashboards/ exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable dashboard");
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", p.display()));
            Dashboard {
                file: p
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                json,
            }
        })
        .collect()
}

/// Variables a text refers to as `$name`, `${name}`, `${name:format}` or `[[name]]`,
/// without Grafana's built-ins (`$timeFilter`, `$__interval`, `${__data...}`, ...) and the
/// alias patterns of the InfluxDB datasource (`$tag_x`, `$col`, `$m`).
pub fn variable_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = text.as_bytes();
    let ident = |from: usize| {
        let end = b[from..]
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
            .map_or(b.len(), |n| from + n);
        (text[from..end].to_owned(), end)
    };
    let mut i = 0;
    while i < b.len() {
        let (name, next) = if b[i] == b'$' && b.get(i + 1) == Some(&b'{') {
            let (n, end) = ident(i + 2);
            (n, end)
        } else if b[i] == b'$' {
            ident(i + 1)
        } else if b[i] == b'[' && b.get(i + 1) == Some(&b'[') {
            ident(i + 2)
        } else {
            i += 1;
            continue;
        };
        let builtin = name.is_empty()
            || name.starts_with("__")
            || name.starts_with("tag_")
            || matches!(name.as_str(), "timeFilter" | "col" | "m" | "measurement");
        if !builtin {
            out.insert(name);
        }
        i = next.max(i + 1);
    }
    out
}

/// What Grafana puts in for the macros and variables of one query run.
pub struct Interpolation {
    /// Start and end of the dashboard's time range (ms since the epoch).
    pub from_ms: i64,
    pub to_ms: i64,
    /// `$__interval` in ms as Grafana computes it for the panel.
    pub interval_ms: i64,
    /// Selected values of each variable.
    pub values: BTreeMap<String, Vec<String>>,
    /// Which variables are multi-value (formatted as a regex).
    pub multi: BTreeSet<String>,
}

/// Escapes a value for an InfluxQL regex the way Grafana's InfluxDB datasource does
/// (`escapeRegex` of @grafana/data 11.3: `/[\\^$*+?.()|[\]{}\/]/g`).
pub fn escape_regex(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if "\\^$*+?.()|[]{}/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Interpolation {
    /// `time >= Xms and time <= Yms`, or for a panel with a relative time override
    /// (`timeFrom: 24h`) the last 24 hours up to the range's end.
    pub fn time_filter(&self, time_from: Option<&str>) -> String {
        let from = match time_from.and_then(parse_duration_ms) {
            Some(d) => self.to_ms - d,
            None => self.from_ms,
        };
        format!("time >= {from}ms and time <= {}ms", self.to_ms)
    }

    pub fn apply(&self, q: &Query) -> String {
        let mut s = q
            .text
            .replace("$timeFilter", &self.time_filter(q.time_from.as_deref()))
            .replace("$__interval_ms", &self.interval_ms.to_string())
            .replace("$__interval", &format_interval(self.interval_ms));
        // longest names first, so `$device` never eats the start of `$devices`
        let mut names: Vec<&String> = self.values.keys().collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        for name in names {
            let values = &self.values[name];
            let formatted = if self.multi.contains(name) {
                let escaped: Vec<String> = values.iter().map(|v| escape_regex(v)).collect();
                if escaped.len() == 1 {
                    escaped[0].clone()
                } else {
                    format!("({})", escaped.join("|"))
                }
            } else {
                values.first().cloned().unwrap_or_default()
            };
            for pattern in [
                format!("${{{name}}}"),
                format!("[[{name}]]"),
                format!("${name}"),
            ] {
                s = s.replace(&pattern, &formatted);
            }
        }
        s
    }
}

/// `24h`, `30d`, `15m`, `10s` in ms.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim().trim_start_matches("now-");
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let n: i64 = s[..split].parse().ok()?;
    let unit = match &s[split..] {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    Some(n * unit)
}

/// Grafana's `rangeutil.roundInterval`: the interval for `range / max_data_points`.
pub fn round_interval(ms: i64) -> i64 {
    const STEPS: &[(i64, i64)] = &[
        (15, 10),
        (35, 20),
        (75, 50),
        (150, 100),
        (350, 200),
        (750, 500),
        (1_500, 1_000),
        (3_500, 2_000),
        (7_500, 5_000),
        (12_500, 10_000),
        (17_500, 15_000),
        (25_000, 20_000),
        (45_000, 30_000),
        (90_000, 60_000),
        (210_000, 120_000),
        (450_000, 300_000),
        (750_000, 600_000),
        (1_050_000, 900_000),
        (1_500_000, 1_200_000),
        (2_700_000, 1_800_000),
        (5_400_000, 3_600_000),
        (9_000_000, 7_200_000),
        (16_200_000, 10_800_000),
        (32_400_000, 21_600_000),
        (86_400_000, 43_200_000),
    ];
    STEPS
        .iter()
        .find(|(below, _)| ms < *below)
        .map_or(86_400_000, |(_, v)| *v)
        .max(1)
}

/// `$__interval` as Grafana writes it: `500ms`, `2s`, `1m`, `1h`.
pub fn format_interval(ms: i64) -> String {
    match ms {
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        ms => format!("{ms}ms"),
    }
}

#[test]
fn variable_refs_skip_builtins_and_aliases() {
    let refs = variable_refs(
        "SELECT x FROM m WHERE a = '$device' AND b =~ /^${interface:regex}$/ AND [[agent]] AND $timeFilter GROUP BY time($__interval) ${__data.fields.x} $tag_device",
    );
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        ["agent", "device", "interface"]
    );
}

#[test]
fn interpolation_formats_like_grafana() {
    let i = Interpolation {
        from_ms: 1_000_000,
        to_ms: 2_000_000,
        interval_ms: round_interval(1_000_000 / 1_000),
        values: BTreeMap::from([
            ("device".into(), vec!["fw-1".into()]),
            ("interface".into(), vec!["Gi0/1".into(), "Gi0/2".into()]),
        ]),
        multi: BTreeSet::from(["interface".into()]),
    };
    let q = Query {
        what: String::new(),
        text: "WHERE d = '$device' AND i =~ /^$interface$/ AND $timeFilter GROUP BY time($__interval) $__interval_ms".into(),
        time_from: None,
        kind: QueryKind::Panel,
    };
    assert_eq!(
        i.apply(&q),
        r"WHERE d = 'fw-1' AND i =~ /^(Gi0\/1|Gi0\/2)$/ AND time >= 1000000ms and time <= 2000000ms GROUP BY time(1s) 1000"
    );
    assert_eq!(
        i.time_filter(Some("1d")),
        format!("time >= {}ms and time <= 2000000ms", 2_000_000 - 86_400_000)
    );
}
