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

impl Schema {
    /// The schema shipped with this build.
    pub fn load() -> Result<Schema, String> {
        serde_json::from_str(JSON).map_err(|e| format!("schema/metrics.json: {e}"))
    }

    pub fn measurement(&self, name: &str) -> Option<&Measurement> {
        self.measurements.iter().find(|m| m.name == name)
    }

    /// Checks that the point's measurement, tags and field types are in the schema.
    /// `device_tags` are the configured device tags, which the schema does not list.
    pub fn check(&self, p: &Point, device_tags: &BTreeSet<String>) -> Result<(), String> {
        let m = self
            .measurement(&p.measurement)
            .ok_or_else(|| format!("measurement {:?} is not in the schema", p.measurement))?;
        for k in p.tags.keys() {
            if !m.tags.iter().any(|t| &t.name == k) && !device_tags.contains(k) {
                return Err(format!("{}: tag {k:?} is not in the schema", m.name));
            }
        }
        for (k, v) in &p.fields {
            let f = m
                .fields
                .iter()
                .find(|f| &f.name == k)
                .ok_or_else(|| format!("{}: field {k:?} is not in the schema", m.name))?;
            if f.ty != v.type_name() {
                return Err(format!(
                    "{}: field {k:?} is {} but the schema says {}",
                    m.name,
                    v.type_name(),
                    f.ty
                ));
            }
        }
        Ok(())
    }
}
