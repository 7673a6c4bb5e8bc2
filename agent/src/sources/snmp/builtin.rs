//! The built-in profiles. Their measurement, tag and field names follow Telegraf's `snmp`
//! input as it is usually configured, and are listed in `schema/metrics.json`.
use super::mib;
use super::oid::Oid;
use super::profile::{Column, Conversion, Derive, Profile, Scalar, Table};

pub const NAMES: &[&str] = &["system", "if-mib", "host-resources", "entity-sensor"];

fn oid(name: &str) -> Oid {
    // the names below are all in the built-in MIB table; a miss is a programming error that
    // the unit test `every_builtin_profile_resolves` catches
    mib::resolve(name).map(|r| r.oid).unwrap_or_default()
}

fn col(name: &str, tag: bool) -> Column {
    Column {
        name: name.to_string(),
        oid: oid(name),
        tag,
        conversion: Conversion::Auto,
    }
}

fn table(measurement: &str, columns: Vec<Column>, derive: Derive) -> Table {
    Table {
        measurement: measurement.to_string(),
        columns,
        index_tag: Some("index".to_string()),
        inherit_tags: vec!["hostname".to_string()],
        derive,
    }
}

/// Returns the built-in profile of that name.
pub fn get(name: &str) -> Option<Profile> {
    let p = |scalars, tables| {
        Some(Profile {
            name: name.to_string(),
            scalars,
            tables,
        })
    };
    match name {
        "system" => {
            let s = |field: &str, mib_name: &str, tag: bool| Scalar {
                measurement: "snmp".to_string(),
                name: field.to_string(),
                oid: oid(mib_name),
                tag,
                conversion: Conversion::Auto,
            };
            p(
                vec![
                    s("hostname", "sysName.0", true),
                    s("sysDescr", "sysDescr.0", false),
                    s("sysObjectID", "sysObjectID.0", false),
                    s("uptime", "sysUpTime.0", false),
                ],
                vec![],
            )
        }
        "if-mib" => p(
            vec![],
            vec![table(
                "interface",
                vec![
                    col("ifDescr", true),
                    col("ifName", true),
                    col("ifAlias", true),
                    col("ifAdminStatus", false),
                    col("ifOperStatus", false),
                    col("ifHCInOctets", false),
                    col("ifHCOutOctets", false),
                    col("ifInErrors", false),
                    col("ifOutErrors", false),
                    col("ifInDiscards", false),
                    col("ifOutDiscards", false),
                    col("ifHighSpeed", false),
                ],
                Derive::IfMib,
            )],
        ),
        "host-resources" => p(
            vec![],
            vec![
                table(
                    "hrProcessorTable",
                    vec![col("hrProcessorLoad", false)],
                    Derive::HostResources,
                ),
                table(
                    "hrStorageTable",
                    vec![
                        col("hrStorageDescr", true),
                        col("hrStorageType", false),
                        col("hrStorageAllocationUnits", false),
                        col("hrStorageSize", false),
                        col("hrStorageUsed", false),
                    ],
                    Derive::HostResources,
                ),
            ],
        ),
        "entity-sensor" => p(
            vec![],
            vec![table(
                "entPhySensorTable",
                vec![
                    col("entPhysicalName", true),
                    col("entPhySensorType", false),
                    col("entPhySensorScale", false),
                    col("entPhySensorPrecision", false),
                    col("entPhySensorValue", false),
                    col("entPhySensorOperStatus", false),
                ],
                Derive::EntitySensor,
            )],
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_profile_resolves() {
        for name in NAMES {
            let p = get(name).unwrap();
            for s in &p.scalars {
                assert!(!s.oid.0.is_empty(), "{name}: {}", s.name);
            }
            for t in &p.tables {
                for c in &t.columns {
                    assert!(!c.oid.0.is_empty(), "{name}: {}", c.name);
                }
            }
        }
        assert_eq!(
            get("system").unwrap().scalars[3].oid.to_string(),
            ".1.3.6.1.2.1.1.3.0"
        );
    }
}
