//! A measurement point as the agent produces it, before it is encoded.
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// A field value. Integers stay integers (`i` suffix in line protocol), so counters keep
/// their precision; floats are used only for derived values such as RTTs and percentages.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

impl FieldValue {
    /// The schema type name used in `schema/metrics.json`.
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldValue::Int(_) => "integer",
            FieldValue::Float(_) => "float",
            FieldValue::Str(_) => "string",
            FieldValue::Bool(_) => "boolean",
        }
    }

    /// Unsigned counters (Counter64) above `i64::MAX` are clamped, as Telegraf does when its
    /// output has no unsigned support; real interface counters never get there.
    pub fn from_u64(v: u64) -> Self {
        FieldValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

/// One point: measurement, sorted tags, fields and a timestamp in nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub measurement: String,
    pub tags: BTreeMap<String, String>,
    pub fields: BTreeMap<String, FieldValue>,
    pub timestamp_ns: i64,
}

impl Point {
    pub fn new(measurement: impl Into<String>, timestamp_ns: i64) -> Self {
        Point {
            measurement: measurement.into(),
            tags: BTreeMap::new(),
            fields: BTreeMap::new(),
            timestamp_ns,
        }
    }

    /// Adds a tag; empty values are skipped because line protocol cannot carry them.
    pub fn tag(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        let value = value.into();
        if !value.is_empty() {
            self.tags.insert(key.to_string(), value);
        }
        self
    }

    pub fn field(&mut self, key: &str, value: FieldValue) -> &mut Self {
        self.fields.insert(key.to_string(), value);
        self
    }

    pub fn with_tags<'a>(&mut self, tags: impl IntoIterator<Item = (&'a String, &'a String)>) {
        for (k, v) in tags {
            self.tag(k, v.clone());
        }
    }
}

/// Wall-clock now in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
