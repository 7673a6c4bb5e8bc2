//! Just enough InfluxQL to know which measurements, fields and tags a dashboard query
//! names, and to check them against the agent's schema: `SELECT` (with subqueries,
//! functions, aliases, WHERE, GROUP BY) and `SHOW TAG VALUES`.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An identifier; `quoted` when written `"like this"`.
    Ident {
        name: String,
        quoted: bool,
    },
    Str,
    Regex,
    Num,
    Sym(String),
}

fn tokenize(q: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    // a `/` starts a regex right after `=~` / `!~`, otherwise it divides
    let regex_allowed =
        |out: &Vec<Tok>| matches!(out.last(), Some(Tok::Sym(s)) if s == "=~" || s == "!~");
    let delimited = |i: usize, end: char| -> Result<usize, String> {
        let mut j = i + 1;
        while j < c.len() {
            if c[j] == '\\' {
                j += 2;
                continue;
            }
            if c[j] == end {
                return Ok(j + 1);
            }
            j += 1;
        }
        Err(format!("unterminated {end} at offset {i}"))
    };
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '"' {
            let j = delimited(i, '"')?;
            let name: String = c[i + 1..j - 1].iter().collect();
            out.push(Tok::Ident {
                name: name.replace("\\\"", "\""),
                quoted: true,
            });
            i = j;
        } else if ch == '\'' {
            i = delimited(i, '\'')?;
            out.push(Tok::Str);
        } else if ch == '/' && regex_allowed(&out) {
            i = delimited(i, '/')?;
            out.push(Tok::Regex);
        } else if ch.is_ascii_digit() {
            // numbers, durations (1s, 24h) and epoch literals (1700000000000ms)
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.' || c[i] == 'µ') {
                i += 1;
            }
            out.push(Tok::Num);
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident {
                name: c[start..i].iter().collect(),
                quoted: false,
            });
        } else {
            let two: String = c[i..(i + 2).min(c.len())].iter().collect();
            if ["=~", "!~", "<>", "!=", "<=", ">="].contains(&two.as_str()) {
                out.push(Tok::Sym(two));
                i += 2;
            } else if "(),=<>+-*/%.;".contains(ch) {
                out.push(Tok::Sym(ch.to_string()));
                i += 1;
            } else {
                return Err(format!("unexpected character {ch:?} at offset {i}"));
            }
        }
    }
    Ok(out)
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Ident { name, quoted: false } if name.eq_ignore_ascii_case(kw))
}

fn is_sym(t: Option<&Tok>, s: &str) -> bool {
    matches!(t, Some(Tok::Sym(x)) if x == s)
}

/// Bare words that are part of the language, not names.
const KEYWORDS: &[&str] = &[
    "and", "or", "not", "as", "time", "now", "true", "false", "null", "none", "previous", "linear",
    "asc", "desc",
];

/// What one SELECT reads from.
#[derive(Debug)]
pub enum Source {
    Measurement(String),
    Subquery(Box<Select>),
}

/// A parsed SELECT: the names it uses, by place.
#[derive(Debug)]
pub struct Select {
    pub from: Source,
    /// Names read as fields (function arguments).
    pub fields: Vec<String>,
    /// Names selected directly: fields or tags.
    pub selected: Vec<String>,
    /// Column names the query outputs under `AS`.
    pub aliases: Vec<String>,
    /// Names compared in WHERE: fields or tags.
    pub filtered: Vec<String>,
    /// Names in GROUP BY: tags.
    pub grouped: Vec<String>,
}

#[derive(Debug)]
pub enum Statement {
    Select(Select),
    ShowTagValues {
        from: Option<String>,
        key: String,
        filtered: Vec<String>,
    },
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn at_kw(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| is_kw(t, kw))
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), String> {
        if self.at_kw(kw) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {kw} at token {}", self.pos))
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(Tok::Ident { name, .. }) => {
                let n = name.clone();
                self.pos += 1;
                Ok(n)
            }
            other => Err(format!("expected a name, found {other:?}")),
        }
    }

    fn statement(&mut self) -> Result<Statement, String> {
        if self.at_kw("show") {
            self.pos += 1;
            self.expect_kw("tag")?;
            self.expect_kw("values")?;
            let mut from = None;
            if self.at_kw("from") {
                self.pos += 1;
                from = Some(self.ident()?);
            }
            self.expect_kw("with")?;
            self.expect_kw("key")?;
            if !is_sym(self.peek(), "=") {
                return Err("SHOW TAG VALUES: only `WITH KEY = name` is supported".into());
            }
            self.pos += 1;
            let key = self.ident()?;
            let mut filtered = Vec::new();
            if self.at_kw("where") {
                self.pos += 1;
                filtered = self.names_until(&["limit", "offset"])?;
            }
            return Ok(Statement::ShowTagValues {
                from,
                key,
                filtered,
            });
        }
        let s = self.select()?;
        if self.pos < self.toks.len() {
            return Err(format!(
                "unexpected {:?} after the statement",
                self.toks[self.pos]
            ));
        }
        Ok(Statement::Select(s))
    }

    fn select(&mut self) -> Result<Select, String> {
        self.expect_kw("select")?;
        let (mut fields, mut selected, mut aliases) = (Vec::new(), Vec::new(), Vec::new());
        let mut depth = 0usize;
        loop {
            let Some(t) = self.peek().cloned() else {
                return Err("SELECT without FROM".into());
            };
            if depth == 0 && is_kw(&t, "from") {
                self.pos += 1;
                break;
            }
            self.pos += 1;
            match t {
                Tok::Sym(s) if s == "(" => depth += 1,
                Tok::Sym(s) if s == ")" => depth = depth.saturating_sub(1),
                ref tok @ Tok::Ident { ref name, quoted } => {
                    if is_kw(tok, "as") {
                        aliases.push(self.ident()?);
                    } else if is_sym(self.peek(), "(") {
                        // a function name
                    } else if quoted || !KEYWORDS.contains(&name.to_lowercase().as_str()) {
                        if depth > 0 {
                            fields.push(name.clone());
                        } else {
                            selected.push(name.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        let from = if is_sym(self.peek(), "(") {
            self.pos += 1;
            let inner = self.select()?;
            if !is_sym(self.peek(), ")") {
                return Err("subquery not closed".into());
            }
            self.pos += 1;
            Source::Subquery(Box::new(inner))
        } else {
            Source::Measurement(self.ident()?)
        };
        let mut filtered = Vec::new();
        if self.at_kw("where") {
            self.pos += 1;
            filtered = self.names_until(&["group", "order", "limit", "slimit", "fill", "tz"])?;
        }
        let mut grouped = Vec::new();
        if self.at_kw("group") {
            self.pos += 1;
            self.expect_kw("by")?;
            grouped = self.names_until(&["order", "limit", "slimit", "tz", "offset"])?;
        }
        // ORDER BY, LIMIT ...: no names
        while let Some(t) = self.peek() {
            if is_sym(Some(t), ")") {
                break;
            }
            self.pos += 1;
        }
        Ok(Select {
            from,
            fields,
            selected,
            aliases,
            filtered,
            grouped,
        })
    }

    /// Names up to one of `stop` (or a closing parenthesis of an enclosing query), skipping
    /// function calls such as `time(1m)`, `now()` and `fill(none)`.
    fn names_until(&mut self, stop: &[&str]) -> Result<Vec<String>, String> {
        let mut names = Vec::new();
        let mut depth = 0usize;
        while let Some(t) = self.peek().cloned() {
            if depth == 0 && (stop.iter().any(|k| is_kw(&t, k)) || is_sym(Some(&t), ")")) {
                break;
            }
            self.pos += 1;
            match &t {
                Tok::Sym(s) if s == "(" => depth += 1,
                Tok::Sym(s) if s == ")" => depth -= 1,
                Tok::Ident { name, quoted } => {
                    let function = is_sym(self.peek(), "(");
                    if depth == 0
                        && !function
                        && (*quoted || !KEYWORDS.contains(&name.to_lowercase().as_str()))
                    {
                        names.push(name.clone());
                    }
                }
                _ => {}
            }
        }
        Ok(names)
    }
}

/// Functions a query calls and clauses it uses that not every InfluxQL engine supports:
/// InfluxDB 3 lacks INTEGRAL(), SAMPLE(), the technical-analysis functions, SLIMIT and
/// SOFFSET; every other function and clause listed here works on 1.x, 2.x and 3.x.
pub fn portability_problems(q: &str) -> Result<Vec<String>, String> {
    const PORTABLE: &[&str] = &[
        "count",
        "distinct",
        "mean",
        "median",
        "mode",
        "spread",
        "stddev",
        "sum",
        "bottom",
        "first",
        "last",
        "max",
        "min",
        "percentile",
        "top",
        "abs",
        "ceil",
        "floor",
        "round",
        "cumulative_sum",
        "derivative",
        "difference",
        "elapsed",
        "moving_average",
        "non_negative_derivative",
        "non_negative_difference",
        "now",
        "time",
        "tz",
        "fill",
    ];
    let toks = tokenize(q)?;
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if let Tok::Ident {
            name,
            quoted: false,
        } = t
        {
            let lower = name.to_lowercase();
            let keyword =
                ["from", "where", "and", "or", "not", "by", "in", "as"].contains(&lower.as_str());
            if is_sym(toks.get(i + 1), "(") && !keyword && !PORTABLE.contains(&lower.as_str()) {
                out.push(format!(
                    "{name}() is not available on every InfluxDB (1.x, 2.x, 3.x)"
                ));
            }
            if lower == "slimit" || lower == "soffset" {
                out.push(format!("{name} is not supported by InfluxDB 3"));
            }
        }
    }
    Ok(out)
}

pub fn parse(q: &str) -> Result<Statement, String> {
    let mut p = Parser {
        toks: tokenize(q)?,
        pos: 0,
    };
    p.statement()
}

/// Tags and fields of one measurement.
pub type Names = (BTreeSet<String>, BTreeSet<String>);
/// The agent's measurements: name → (tags, fields).
pub type Schema = BTreeMap<String, Names>;

/// Checks every name a statement uses against the schema; returns the problems.
pub fn check(stmt: &Statement, schema: &Schema) -> Vec<String> {
    let mut problems = Vec::new();
    match stmt {
        Statement::ShowTagValues {
            from,
            key,
            filtered,
        } => {
            let candidates: Vec<(&String, &Names)> = match from {
                Some(m) => match schema.get_key_value(m) {
                    Some(kv) => vec![kv],
                    None => {
                        problems.push(format!("measurement {m:?} is not written by the agent"));
                        return problems;
                    }
                },
                None => schema.iter().collect(),
            };
            if !candidates.iter().any(|(_, (tags, _))| tags.contains(key)) {
                problems.push(format!("tag {key:?} is not written by the agent"));
            }
            for n in filtered {
                if !candidates
                    .iter()
                    .any(|(_, (tags, fields))| tags.contains(n) || fields.contains(n))
                {
                    problems.push(format!("{n:?} in WHERE is no tag or field of the agent"));
                }
            }
        }
        Statement::Select(s) => {
            check_select(s, schema, &mut problems);
        }
    }
    problems
}

/// Checks one SELECT; returns the columns and tags its output offers an outer query.
fn check_select(
    s: &Select,
    schema: &Schema,
    problems: &mut Vec<String>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let (tags, fields, what) = match &s.from {
        Source::Measurement(m) => match schema.get(m) {
            Some((t, f)) => (t.clone(), f.clone(), format!("measurement {m:?}")),
            None => {
                problems.push(format!("measurement {m:?} is not written by the agent"));
                return Default::default();
            }
        },
        Source::Subquery(inner) => {
            let (columns, tags) = check_select(inner, schema, problems);
            (tags, columns, "the subquery".to_owned())
        }
    };
    for n in &s.fields {
        if !fields.contains(n) {
            problems.push(format!("{n:?} is no field of {what}"));
        }
    }
    for n in s.selected.iter().chain(&s.filtered) {
        if !fields.contains(n) && !tags.contains(n) {
            problems.push(format!("{n:?} is no field or tag of {what}"));
        }
    }
    for n in &s.grouped {
        if !tags.contains(n) {
            problems.push(format!("GROUP BY {n:?}: no tag of {what}"));
        }
    }
    let mut columns: BTreeSet<String> = s.aliases.iter().cloned().collect();
    columns.extend(s.selected.iter().filter(|n| fields.contains(*n)).cloned());
    let out_tags = s.grouped.iter().cloned().collect();
    (columns, out_tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Schema::from([
            (
                "ping".to_string(),
                (
                    set(&["device", "url"]),
                    set(&["percent_packet_loss", "result_code"]),
                ),
            ),
            (
                "interface".to_string(),
                (set(&["device", "ifDescr"]), set(&["ifHCInOctets"])),
            ),
        ])
    }

    fn problems(q: &str) -> Vec<String> {
        check(&parse(q).unwrap_or_else(|e| panic!("{q}: {e}")), &schema())
    }

    #[test]
    fn accepts_names_the_schema_has() {
        assert_eq!(
            problems(
                r#"SELECT count("rc") FROM (SELECT last("result_code") AS "rc", "percent_packet_loss" FROM "ping" WHERE "device" =~ /^a\/b$/ AND time >= 1ms and time <= 2ms GROUP BY "device") WHERE "rc" <> 0 GROUP BY "device""#
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            problems(
                r#"SELECT non_negative_derivative(last("ifHCInOctets"), 1s) * 8 FROM "interface" WHERE time > now() - 1h GROUP BY time(10s), "ifDescr" fill(none)"#
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            problems(
                r#"SHOW TAG VALUES FROM "interface" WITH KEY = "ifDescr" WHERE "device" = 'x'"#
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn reports_functions_not_every_influxdb_has() {
        assert_eq!(
            portability_problems(
                r#"SELECT integral("x"), non_negative_derivative(last("y"), 1s) FROM "m" GROUP BY time(1m) fill(none) SLIMIT 5"#
            ),
            Ok(vec![
                "integral() is not available on every InfluxDB (1.x, 2.x, 3.x)".to_owned(),
                "SLIMIT is not supported by InfluxDB 3".to_owned()
            ])
        );
    }

    #[test]
    fn reports_names_the_agent_does_not_write() {
        assert_eq!(
            problems(r#"SELECT mean("ifHCInOctet") FROM "interface" GROUP BY "hostname""#),
            [
                r#""ifHCInOctet" is no field of measurement "interface""#,
                r#"GROUP BY "hostname": no tag of measurement "interface""#
            ]
        );
        assert_eq!(
            problems(r#"SELECT last("x") FROM "pings""#),
            [r#"measurement "pings" is not written by the agent"#]
        );
        assert_eq!(
            problems(
                r#"SELECT "y" FROM (SELECT last("result_code") AS "rc" FROM "ping") GROUP BY "url""#
            ),
            [
                r#""y" is no field or tag of the subquery"#,
                r#"GROUP BY "url": no tag of the subquery"#
            ]
        );
        assert_eq!(
            problems(r#"SHOW TAG VALUES WITH KEY = "site""#),
            [r#"tag "site" is not written by the agent"#]
        );
        // a tag used as a function argument is not a field
        assert_eq!(
            problems(r#"SELECT last("url") FROM "ping""#),
            [r#""url" is no field of measurement "ping""#]
        );
    }
}
