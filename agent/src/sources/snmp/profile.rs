//! Profiles: what to collect from a device. The built-in ones (`system`, `if-mib`,
//! `host-resources`, `entity-sensor`) and user profiles from the configuration resolve to
//! the same [`Profile`] type.
use std::num::ParseIntError;

use vigil_contract::collector as raw;

use super::mib::{self, MibError};
use super::oid::Oid;

/// Why a user profile (or a conversion) is not valid; [`ProfileError::At`] says where in the
/// profile, its source what.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("bad precision in {text:?}")]
    Precision {
        text: String,
        #[source]
        source: ParseIntError,
    },
    #[error("unknown conversion {0:?}; use int, float, float(N), string, hwaddr or ipaddr")]
    Conversion(String),
    #[error("{kind} name {name:?} must be non-empty and not start with '#' or '_'")]
    Name { kind: &'static str, name: String },
    #[error("oid {0:?} is numeric, so `name` is required")]
    NameRequired(String),
    #[error("{0:?} is not a built-in table; list its columns under `fields`")]
    NotATable(String),
    #[error("a table needs `name` (or a table `oid`)")]
    TableName,
    #[error("table {0:?} has no field columns")]
    NoFieldColumns(String),
    #[error("profile {0:?} has no fields and no tables")]
    Empty(String),
    #[error(transparent)]
    Mib(#[from] MibError),
    /// `at` is the location in the configuration, such as `profiles.ifaces.tables[0].oid`.
    #[error("{at}")]
    At {
        at: String,
        #[source]
        source: Box<ProfileError>,
    },
}

impl ProfileError {
    fn at(at: impl Into<String>) -> impl FnOnce(ProfileError) -> ProfileError {
        move |e| ProfileError::At {
            at: at.into(),
            source: Box::new(e),
        }
    }

    fn mib_at(at: impl Into<String>) -> impl FnOnce(MibError) -> ProfileError {
        move |e| ProfileError::at(at)(ProfileError::Mib(e))
    }
}

/// How a raw SNMP value becomes a field value.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Conversion {
    /// Numbers stay integers, strings stay strings, OIDs print as `.1.3...`.
    #[default]
    Auto,
    Int,
    Float,
    /// Divide by 10^N and report a float.
    Scaled(u8),
    String,
    HwAddr,
    IpAddr,
}

impl Conversion {
    pub fn parse(s: &str) -> Result<Conversion, ProfileError> {
        Ok(match s {
            "int" => Conversion::Int,
            "float" => Conversion::Float,
            "string" => Conversion::String,
            "hwaddr" => Conversion::HwAddr,
            "ipaddr" => Conversion::IpAddr,
            s if s.starts_with("float(") && s.ends_with(')') => {
                let n = &s[6..s.len() - 1];
                Conversion::Scaled(n.parse().map_err(|source| ProfileError::Precision {
                    text: s.to_string(),
                    source,
                })?)
            }
            _ => return Err(ProfileError::Conversion(s.to_string())),
        })
    }
}

/// A scalar object (fetched with GET), reported as a field or tag of `measurement`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    pub measurement: String,
    pub name: String,
    pub oid: Oid,
    pub tag: bool,
    pub conversion: Conversion,
}

/// A table column (walked with GETBULK); rows are joined by index.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub oid: Oid,
    pub tag: bool,
    pub conversion: Conversion,
}

/// Post-processing that a built-in profile adds on top of its raw rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Derive {
    None,
    /// `host_resources` summary (CPU load, memory) from hrProcessorTable/hrStorageTable.
    HostResources,
    /// `sensor_type` tag and scaled `value` for ENTITY-SENSOR-MIB rows.
    EntitySensor,
    /// Devices without ifXTable: 32-bit ifInOctets/ifOutOctets instead of the HC counters.
    IfMib,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub measurement: String,
    pub columns: Vec<Column>,
    pub index_tag: Option<String>,
    pub inherit_tags: Vec<String>,
    pub derive: Derive,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub scalars: Vec<Scalar>,
    pub tables: Vec<Table>,
}

fn valid_name(kind: &'static str, name: &str) -> Result<(), ProfileError> {
    if name.is_empty() || name.starts_with('#') || name.starts_with('_') {
        return Err(ProfileError::Name {
            kind,
            name: name.to_string(),
        });
    }
    Ok(())
}

fn resolve_field(f: &raw::Field, what: &str) -> Result<(String, Oid, Conversion), ProfileError> {
    let r = mib::resolve(&f.oid).map_err(ProfileError::mib_at(what))?;
    let name = f.name.clone().unwrap_or(r.name);
    if name.is_empty() {
        return Err(ProfileError::at(what)(ProfileError::NameRequired(
            f.oid.clone(),
        )));
    }
    valid_name("field", &name).map_err(ProfileError::at(what))?;
    let conversion = match &f.conversion {
        Some(c) => Conversion::parse(c).map_err(ProfileError::at(what))?,
        None if name == "ifPhysAddress" => Conversion::HwAddr,
        None => Conversion::Auto,
    };
    Ok((name, r.oid, conversion))
}

fn resolve_table(t: &raw::Table, what: &str) -> Result<Table, ProfileError> {
    let mut columns = Vec::new();
    let mut measurement = t.name.clone();
    if let Some(oid) = &t.oid {
        let at = format!("{what}.oid");
        let r = mib::resolve(oid).map_err(ProfileError::mib_at(at.as_str()))?;
        let cols = r
            .columns
            .ok_or_else(|| ProfileError::at(at)(ProfileError::NotATable(oid.clone())))?;
        measurement = measurement.or(Some(r.name));
        columns.extend(cols.into_iter().map(|(name, oid)| Column {
            conversion: if name == "ifPhysAddress" {
                Conversion::HwAddr
            } else {
                Conversion::Auto
            },
            name,
            oid,
            tag: false,
        }));
    }
    for (i, f) in t.fields.iter().enumerate() {
        let (name, oid, conversion) = resolve_field(f, &format!("{what}.fields[{i}]"))?;
        // a listed field overrides the same column taken from `oid`
        columns.retain(|c| c.name != name && c.oid != oid);
        columns.push(Column {
            name,
            oid,
            tag: f.tag,
            conversion,
        });
    }
    let measurement = measurement.ok_or_else(|| ProfileError::at(what)(ProfileError::TableName))?;
    valid_name("measurement", &measurement).map_err(ProfileError::at(what))?;
    if columns.iter().all(|c| c.tag) {
        return Err(ProfileError::at(what)(ProfileError::NoFieldColumns(
            measurement,
        )));
    }
    Ok(Table {
        measurement,
        columns,
        index_tag: t.index_tag.clone(),
        inherit_tags: t.inherit_tags.clone(),
        derive: Derive::None,
    })
}

impl Profile {
    /// Resolves a user profile; `what` is its location for error messages.
    pub fn from_raw(name: &str, raw: &raw::Profile, what: &str) -> Result<Profile, ProfileError> {
        let measurement = raw
            .measurement
            .clone()
            .unwrap_or_else(|| "snmp".to_string());
        valid_name("measurement", &measurement)
            .map_err(ProfileError::at(format!("{what}.measurement")))?;
        let mut scalars = Vec::new();
        for (i, f) in raw.fields.iter().enumerate() {
            let (fname, oid, conversion) = resolve_field(f, &format!("{what}.fields[{i}]"))?;
            scalars.push(Scalar {
                measurement: measurement.clone(),
                name: fname,
                oid,
                tag: f.tag,
                conversion,
            });
        }
        let tables = raw
            .tables
            .iter()
            .enumerate()
            .map(|(i, t)| resolve_table(t, &format!("{what}.tables[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        if scalars.is_empty() && tables.is_empty() {
            return Err(ProfileError::at(what)(ProfileError::Empty(
                name.to_string(),
            )));
        }
        Ok(Profile {
            name: name.to_string(),
            scalars,
            tables,
        })
    }
}
