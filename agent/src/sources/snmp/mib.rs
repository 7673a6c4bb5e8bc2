//! The MIB objects the agent knows by name, so profiles can say `IF-MIB::ifDescr` without
//! net-snmp or MIB files at run time. A table's columns are the objects under `<table>.1`.
use super::oid::{Oid, OidError};

/// (module, object name, numeric OID)
const OBJECTS: &[(&str, &str, &str)] = &[
    ("SNMPv2-MIB", "system", "1.3.6.1.2.1.1"),
    ("SNMPv2-MIB", "sysDescr", "1.3.6.1.2.1.1.1"),
    ("SNMPv2-MIB", "sysObjectID", "1.3.6.1.2.1.1.2"),
    ("SNMPv2-MIB", "sysUpTime", "1.3.6.1.2.1.1.3"),
    ("DISMAN-EVENT-MIB", "sysUpTimeInstance", "1.3.6.1.2.1.1.3.0"),
    ("SNMPv2-MIB", "sysContact", "1.3.6.1.2.1.1.4"),
    ("SNMPv2-MIB", "sysName", "1.3.6.1.2.1.1.5"),
    ("SNMPv2-MIB", "sysLocation", "1.3.6.1.2.1.1.6"),
    ("SNMPv2-MIB", "sysServices", "1.3.6.1.2.1.1.7"),
    ("IF-MIB", "ifNumber", "1.3.6.1.2.1.2.1"),
    ("IF-MIB", "ifTable", "1.3.6.1.2.1.2.2"),
    ("IF-MIB", "ifIndex", "1.3.6.1.2.1.2.2.1.1"),
    ("IF-MIB", "ifDescr", "1.3.6.1.2.1.2.2.1.2"),
    ("IF-MIB", "ifType", "1.3.6.1.2.1.2.2.1.3"),
    ("IF-MIB", "ifMtu", "1.3.6.1.2.1.2.2.1.4"),
    ("IF-MIB", "ifSpeed", "1.3.6.1.2.1.2.2.1.5"),
    ("IF-MIB", "ifPhysAddress", "1.3.6.1.2.1.2.2.1.6"),
    ("IF-MIB", "ifAdminStatus", "1.3.6.1.2.1.2.2.1.7"),
    ("IF-MIB", "ifOperStatus", "1.3.6.1.2.1.2.2.1.8"),
    ("IF-MIB", "ifLastChange", "1.3.6.1.2.1.2.2.1.9"),
    ("IF-MIB", "ifInOctets", "1.3.6.1.2.1.2.2.1.10"),
    ("IF-MIB", "ifInUcastPkts", "1.3.6.1.2.1.2.2.1.11"),
    ("IF-MIB", "ifInNUcastPkts", "1.3.6.1.2.1.2.2.1.12"),
    ("IF-MIB", "ifInDiscards", "1.3.6.1.2.1.2.2.1.13"),
    ("IF-MIB", "ifInErrors", "1.3.6.1.2.1.2.2.1.14"),
    ("IF-MIB", "ifInUnknownProtos", "1.3.6.1.2.1.2.2.1.15"),
    ("IF-MIB", "ifOutOctets", "1.3.6.1.2.1.2.2.1.16"),
    ("IF-MIB", "ifOutUcastPkts", "1.3.6.1.2.1.2.2.1.17"),
    ("IF-MIB", "ifOutNUcastPkts", "1.3.6.1.2.1.2.2.1.18"),
    ("IF-MIB", "ifOutDiscards", "1.3.6.1.2.1.2.2.1.19"),
    ("IF-MIB", "ifOutErrors", "1.3.6.1.2.1.2.2.1.20"),
    ("IF-MIB", "ifOutQLen", "1.3.6.1.2.1.2.2.1.21"),
    ("IF-MIB", "ifXTable", "1.3.6.1.2.1.31.1.1"),
    ("IF-MIB", "ifName", "1.3.6.1.2.1.31.1.1.1.1"),
    ("IF-MIB", "ifInMulticastPkts", "1.3.6.1.2.1.31.1.1.1.2"),
    ("IF-MIB", "ifInBroadcastPkts", "1.3.6.1.2.1.31.1.1.1.3"),
    ("IF-MIB", "ifOutMulticastPkts", "1.3.6.1.2.1.31.1.1.1.4"),
    ("IF-MIB", "ifOutBroadcastPkts", "1.3.6.1.2.1.31.1.1.1.5"),
    ("IF-MIB", "ifHCInOctets", "1.3.6.1.2.1.31.1.1.1.6"),
    ("IF-MIB", "ifHCInUcastPkts", "1.3.6.1.2.1.31.1.1.1.7"),
    ("IF-MIB", "ifHCInMulticastPkts", "1.3.6.1.2.1.31.1.1.1.8"),
    ("IF-MIB", "ifHCInBroadcastPkts", "1.3.6.1.2.1.31.1.1.1.9"),
    ("IF-MIB", "ifHCOutOctets", "1.3.6.1.2.1.31.1.1.1.10"),
    ("IF-MIB", "ifHCOutUcastPkts", "1.3.6.1.2.1.31.1.1.1.11"),
    ("IF-MIB", "ifHCOutMulticastPkts", "1.3.6.1.2.1.31.1.1.1.12"),
    ("IF-MIB", "ifHCOutBroadcastPkts", "1.3.6.1.2.1.31.1.1.1.13"),
    (
        "IF-MIB",
        "ifLinkUpDownTrapEnable",
        "1.3.6.1.2.1.31.1.1.1.14",
    ),
    ("IF-MIB", "ifHighSpeed", "1.3.6.1.2.1.31.1.1.1.15"),
    ("IF-MIB", "ifPromiscuousMode", "1.3.6.1.2.1.31.1.1.1.16"),
    ("IF-MIB", "ifConnectorPresent", "1.3.6.1.2.1.31.1.1.1.17"),
    ("IF-MIB", "ifAlias", "1.3.6.1.2.1.31.1.1.1.18"),
    (
        "IF-MIB",
        "ifCounterDiscontinuityTime",
        "1.3.6.1.2.1.31.1.1.1.19",
    ),
    ("HOST-RESOURCES-MIB", "hrSystemUptime", "1.3.6.1.2.1.25.1.1"),
    (
        "HOST-RESOURCES-MIB",
        "hrSystemNumUsers",
        "1.3.6.1.2.1.25.1.5",
    ),
    (
        "HOST-RESOURCES-MIB",
        "hrSystemProcesses",
        "1.3.6.1.2.1.25.1.6",
    ),
    ("HOST-RESOURCES-MIB", "hrMemorySize", "1.3.6.1.2.1.25.2.2"),
    ("HOST-RESOURCES-MIB", "hrStorageTable", "1.3.6.1.2.1.25.2.3"),
    (
        "HOST-RESOURCES-MIB",
        "hrStorageIndex",
        "1.3.6.1.2.1.25.2.3.1.1",
    ),
    (
        "HOST-RESOURCES-MIB",
        "hrStorageType",
        "1.3.6.1.2.1.25.2.3.1.2",
    ),
    (
        "HOST-RESOURCES-MIB",
        "hrStorageDescr",
        "1.3.6.1.2.1.25.2.3.1.3",
    ),
    (
        "HOST-RESOURCES-MIB",
        "hrStorageAllocationUnits",
        "1.3.6.1.2.1.25.2.3.1.4",
    ),
    (
        "HOST-RESOURCES-MIB",
        "hrStorageSize",
        "1.3.6.1.2.1.25.2.3.1.5",
    ),
    (
        "HOST-RESOURCES-MIB",
        "hrStorageUsed",
        "1.3.6.1.2.1.25.2.3.1.6",
    ),
    (
        "HOST-RESOURCES-MIB",
        "hrStorageAllocationFailures",
        "1.3.6.1.2.1.25.2.3.1.7",
    ),
    (
        "HOST-RESOURCES-MIB",
        "hrProcessorTable",
        "1.3.6.1.2.1.25.3.3",
    ),
    (
        "HOST-RESOURCES-MIB",
        "hrProcessorFrwID",
        "1.3.6.1.2.1.25.3.3.1.1",
    ),
    (
        "HOST-RESOURCES-MIB",
        "hrProcessorLoad",
        "1.3.6.1.2.1.25.3.3.1.2",
    ),
    ("ENTITY-MIB", "entPhysicalTable", "1.3.6.1.2.1.47.1.1.1"),
    ("ENTITY-MIB", "entPhysicalDescr", "1.3.6.1.2.1.47.1.1.1.1.2"),
    (
        "ENTITY-MIB",
        "entPhysicalVendorType",
        "1.3.6.1.2.1.47.1.1.1.1.3",
    ),
    (
        "ENTITY-MIB",
        "entPhysicalContainedIn",
        "1.3.6.1.2.1.47.1.1.1.1.4",
    ),
    ("ENTITY-MIB", "entPhysicalClass", "1.3.6.1.2.1.47.1.1.1.1.5"),
    (
        "ENTITY-MIB",
        "entPhysicalParentRelPos",
        "1.3.6.1.2.1.47.1.1.1.1.6",
    ),
    ("ENTITY-MIB", "entPhysicalName", "1.3.6.1.2.1.47.1.1.1.1.7"),
    (
        "ENTITY-MIB",
        "entPhysicalHardwareRev",
        "1.3.6.1.2.1.47.1.1.1.1.8",
    ),
    (
        "ENTITY-MIB",
        "entPhysicalFirmwareRev",
        "1.3.6.1.2.1.47.1.1.1.1.9",
    ),
    (
        "ENTITY-MIB",
        "entPhysicalSoftwareRev",
        "1.3.6.1.2.1.47.1.1.1.1.10",
    ),
    (
        "ENTITY-MIB",
        "entPhysicalSerialNum",
        "1.3.6.1.2.1.47.1.1.1.1.11",
    ),
    (
        "ENTITY-MIB",
        "entPhysicalMfgName",
        "1.3.6.1.2.1.47.1.1.1.1.12",
    ),
    (
        "ENTITY-MIB",
        "entPhysicalModelName",
        "1.3.6.1.2.1.47.1.1.1.1.13",
    ),
    (
        "ENTITY-MIB",
        "entPhysicalAlias",
        "1.3.6.1.2.1.47.1.1.1.1.14",
    ),
    (
        "ENTITY-SENSOR-MIB",
        "entPhySensorTable",
        "1.3.6.1.2.1.99.1.1",
    ),
    (
        "ENTITY-SENSOR-MIB",
        "entPhySensorType",
        "1.3.6.1.2.1.99.1.1.1.1",
    ),
    (
        "ENTITY-SENSOR-MIB",
        "entPhySensorScale",
        "1.3.6.1.2.1.99.1.1.1.2",
    ),
    (
        "ENTITY-SENSOR-MIB",
        "entPhySensorPrecision",
        "1.3.6.1.2.1.99.1.1.1.3",
    ),
    (
        "ENTITY-SENSOR-MIB",
        "entPhySensorValue",
        "1.3.6.1.2.1.99.1.1.1.4",
    ),
    (
        "ENTITY-SENSOR-MIB",
        "entPhySensorOperStatus",
        "1.3.6.1.2.1.99.1.1.1.5",
    ),
    (
        "ENTITY-SENSOR-MIB",
        "entPhySensorUnitsDisplay",
        "1.3.6.1.2.1.99.1.1.1.6",
    ),
];

/// Modules written in Telegraf configs that are aliases of the ones above.
const MODULE_ALIASES: &[(&str, &str)] = &[
    ("RFC1213-MIB", "SNMPv2-MIB"),
    ("RFC1213-MIB", "IF-MIB"),
    ("SNMPv2-MIB", "DISMAN-EVENT-MIB"),
];

/// Why a name does not resolve.
#[derive(Debug, thiserror::Error)]
pub enum MibError {
    #[error(
        "unknown MIB object {0:?}; the built-in MIBs are SNMPv2-MIB, IF-MIB, \
         HOST-RESOURCES-MIB, ENTITY-MIB and ENTITY-SENSOR-MIB, otherwise use a numeric OID"
    )]
    Unknown(String),
    /// A numeric OID, or the numeric suffix after a name, that does not parse.
    #[error(transparent)]
    Oid(#[from] OidError),
}

/// A name resolved against the built-in MIBs.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub name: String,
    pub oid: Oid,
    /// Columns (name, oid) when the name is a table.
    pub columns: Option<Vec<(String, Oid)>>,
}

fn module_matches(written: &str, actual: &str) -> bool {
    written == actual
        || MODULE_ALIASES
            .iter()
            .any(|(alias, real)| *alias == written && *real == actual)
}

/// Resolves `MODULE::name[.suffix]`, `name[.suffix]` or a numeric OID (optionally with a
/// leading dot). Numeric OIDs resolve with an empty name.
pub fn resolve(text: &str) -> Result<Resolved, MibError> {
    let text = text.trim();
    if text
        .trim_start_matches('.')
        .starts_with(|c: char| c.is_ascii_digit())
    {
        let oid = Oid::parse(text)?;
        return Ok(Resolved {
            name: String::new(),
            oid,
            columns: None,
        });
    }
    let (module, rest) = match text.split_once("::") {
        Some((m, r)) => (Some(m), r),
        None => (None, text),
    };
    let (name, suffix) = match rest.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (rest, None),
    };
    let (obj_module, _, base) = OBJECTS
        .iter()
        .find(|(m, n, _)| *n == name && module.is_none_or(|w| module_matches(w, m)))
        .ok_or_else(|| MibError::Unknown(text.to_string()))?;
    let mut oid = Oid::parse(base)?;
    if let Some(s) = suffix {
        oid = oid.join(&Oid::parse(s)?);
    }
    let columns = if suffix.is_none() && name.ends_with("Table") {
        let entry = format!("{base}.1.");
        Some(
            OBJECTS
                .iter()
                .filter(|(m, _, o)| m == obj_module && o.starts_with(&entry))
                .filter_map(|(_, n, o)| Oid::parse(o).ok().map(|o| (n.to_string(), o)))
                .collect(),
        )
    } else {
        None
    };
    Ok(Resolved {
        name: name.to_string(),
        oid,
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_aliases_and_numbers() {
        let r = resolve("RFC1213-MIB::sysName.0").unwrap();
        assert_eq!(
            (r.name.as_str(), r.oid.to_string()),
            ("sysName", ".1.3.6.1.2.1.1.5.0".into())
        );
        let r = resolve("DISMAN-EVENT-MIB::sysUpTimeInstance").unwrap();
        assert_eq!(r.oid.to_string(), ".1.3.6.1.2.1.1.3.0");
        let r = resolve(".1.3.6.1.4.1.9.2.1.58.0").unwrap();
        assert_eq!(r.name, "");
        let t = resolve("IF-MIB::ifTable").unwrap();
        let cols = t.columns.unwrap();
        assert_eq!(cols.len(), 21);
        assert_eq!(cols[1].0, "ifDescr");
        assert!(
            resolve("CISCO-PROCESS-MIB::cpmCPUTotal5minRev")
                .unwrap_err()
                .to_string()
                .contains("numeric OID")
        );
    }
}
