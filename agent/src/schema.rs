//! The machine-readable schema in `schema/metrics.json`: what the agent writes. Tests use
//! [`Schema::check`] to prove that every point the agent produces is described there.
use std::collections::BTreeSet;

use serde::Deserialize;

use crate::point::Point;

pub const JSON: &str = include_str!("../schema/metrics.json");

#[derive(Debug, Deserialize)]
pub struct Schema {
    pub version: u32,
    pub measurements: Vec<Measurement>,
}

#[derive(Debug, Deserialize)]
pub struct Measurement {
    pub name: String,
    pub source: String,
    pub profile: Option<String>,
    pub tags: Vec<Tag>,
    pub fields: Vec<Field>,
}

#[derive(Debug, Deserialize)]
pub struct Tag {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
}

/// The shipped schema does not parse, or a point is not described by it.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("cannot parse schema/metrics.json")]
    Parse(#[source] serde_json::Error),
    #[error("measurement {0:?} is not in the schema")]
    Measurement(String),
    #[error("{measurement}: tag {tag:?} is not in the schema")]
    Tag { measurement: String, tag: String },
    #[error("{measurement}: field {field:?} is not in the schema")]
    Field { measurement: String, field: String },
    #[error("{measurement}: field {field:?} is {found} but the schema says {expected}")]
    FieldType {
        measurement: String,
        field: String,
        found: &'static str,
        expected: String,
    },
}

impl Schema {
    /// The schema shipped with this build.
    pub fn load() -> Result<Schema, SchemaError> {
        serde_json::from_str(JSON).map_err(SchemaError::Parse)
    }

    pub fn measurement(&self, name: &str) -> Option<&Measurement> {
        self.measurements.iter().find(|m| m.name == name)
    }

    /// Checks that the point's measurement, tags and field types are in the schema.
    /// `device_tags` are the configured device tags, which the schema does not list.
    pub fn check(&self, p: &Point, device_tags: &BTreeSet<String>) -> Result<(), SchemaError> {
        let m = self
            .measurement(&p.measurement)
            .ok_or_else(|| SchemaError::Measurement(p.measurement.clone()))?;
        for k in p.tags.keys() {
            if !m.tags.iter().any(|t| &t.name == k) && !device_tags.contains(k) {
                return Err(SchemaError::Tag {
                    measurement: m.name.clone(),
                    tag: k.clone(),
                });
            }
        }
        for (k, v) in &p.fields {
            let f = m
                .fields
                .iter()
                .find(|f| &f.name == k)
                .ok_or_else(|| SchemaError::Field {
                    measurement: m.name.clone(),
                    field: k.clone(),
                })?;
            if f.ty != v.type_name() {
                return Err(SchemaError::FieldType {
                    measurement: m.name.clone(),
                    field: k.clone(),
                    found: v.type_name(),
                    expected: f.ty.clone(),
                });
            }
        }
        Ok(())
    }
}
