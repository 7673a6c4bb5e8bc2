//! Values the built-in profiles compute from raw rows: the `host_resources` summary and
//! scaled ENTITY-SENSOR readings.
use std::collections::BTreeMap;

use crate::point::{FieldValue, Point};

/// hrStorageRam
const HR_STORAGE_RAM: &str = ".1.3.6.1.2.1.25.2.1.2";

fn int(p: &Point, k: &str) -> Option<i64> {
    match p.fields.get(k) {
        Some(FieldValue::Int(i)) => Some(*i),
        _ => None,
    }
}

/// `host_resources`: average CPU load over all processors and RAM use from hrStorage.
pub fn host_resources(
    rows: &[Point],
    base_tags: &BTreeMap<String, String>,
    ts: i64,
) -> Option<Point> {
    let loads: Vec<i64> = rows
        .iter()
        .filter(|p| p.measurement == "hrProcessorTable")
        .filter_map(|p| int(p, "hrProcessorLoad"))
        .collect();
    let mut p = Point::new("host_resources", ts);
    p.with_tags(base_tags);
    if !loads.is_empty() {
        p.field(
            "cpu_load_percent",
            // in f64: device-supplied loads may be anything, an i64 sum could overflow
            FieldValue::Float(loads.iter().map(|&l| l as f64).sum::<f64>() / loads.len() as f64),
        );
        p.field("cpu_count", FieldValue::Int(loads.len() as i64));
    }
    let ram = rows.iter().find(|r| {
        r.measurement == "hrStorageTable"
            && matches!(r.fields.get("hrStorageType"), Some(FieldValue::Str(t)) if t == HR_STORAGE_RAM)
    });
    if let Some(r) = ram
        && let (Some(units), Some(size), Some(used)) = (
            int(r, "hrStorageAllocationUnits"),
            int(r, "hrStorageSize"),
            int(r, "hrStorageUsed"),
        )
    {
        let total = size.saturating_mul(units);
        let used = used.saturating_mul(units);
        p.field("memory_total_bytes", FieldValue::Int(total));
        p.field("memory_used_bytes", FieldValue::Int(used));
        if total > 0 {
            p.field(
                "memory_used_percent",
                FieldValue::Float(used as f64 * 100.0 / total as f64),
            );
        }
    }
    (!p.fields.is_empty()).then_some(p)
}

/// ENTITY-SENSOR-MIB `EntitySensorDataType` names.
fn sensor_type(t: i64) -> &'static str {
    match t {
        1 => "other",
        2 => "unknown",
        3 => "voltsAC",
        4 => "voltsDC",
        5 => "amperes",
        6 => "watts",
        7 => "hertz",
        8 => "celsius",
        9 => "percentRH",
        10 => "rpm",
        11 => "cmm",
        12 => "truthvalue",
        13 => "specialEnum",
        14 => "dBm",
        _ => "other",
    }
}

/// Adds the `sensor_type` tag and `value` (the reading in base units: scale and precision
/// applied) to an entPhySensorTable row.
pub fn entity_sensor(row: &mut Point) {
    let (Some(t), Some(v)) = (int(row, "entPhySensorType"), int(row, "entPhySensorValue")) else {
        return;
    };
    let scale = int(row, "entPhySensorScale").unwrap_or(9); // 9 = units
    let precision = int(row, "entPhySensorPrecision").unwrap_or(0);
    row.tag("sensor_type", sensor_type(t));
    // the MIB allows scale 1..=17 and precision -8..=9; a device sending anything else
    // gets no `value` rather than a panic (debug) or a wrapped exponent (release)
    let exp = scale
        .checked_sub(9)
        .and_then(|s| s.checked_mul(3))
        .and_then(|s| s.checked_sub(precision))
        .filter(|e| (-60..=60).contains(e))
        .and_then(|e| i32::try_from(e).ok());
    match exp {
        Some(exp) => {
            row.field("value", FieldValue::Float(v as f64 * 10f64.powi(exp)));
        }
        None => tracing::warn!(
            scale,
            precision,
            "entPhySensorScale/Precision out of range: sensor value not scaled, skipped"
        ),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_scale_and_precision() {
        let mut p = Point::new("entPhySensorTable", 0);
        p.field("entPhySensorType", FieldValue::Int(8));
        p.field("entPhySensorScale", FieldValue::Int(9));
        p.field("entPhySensorPrecision", FieldValue::Int(1));
        p.field("entPhySensorValue", FieldValue::Int(415));
        entity_sensor(&mut p);
        assert_eq!(p.tags["sensor_type"], "celsius");
        assert_eq!(p.fields["value"], FieldValue::Float(41.5));
        // milli-volts
        let mut p = Point::new("entPhySensorTable", 0);
        p.field("entPhySensorType", FieldValue::Int(4));
        p.field("entPhySensorScale", FieldValue::Int(8));
        p.field("entPhySensorPrecision", FieldValue::Int(0));
        p.field("entPhySensorValue", FieldValue::Int(3300));
        entity_sensor(&mut p);
        assert!(matches!(p.fields["value"], FieldValue::Float(v) if (v - 3.3).abs() < 1e-9));
    }

    #[test]
    fn host_resources_summary() {
        let tags = BTreeMap::new();
        let mut cpu1 = Point::new("hrProcessorTable", 0);
        cpu1.field("hrProcessorLoad", FieldValue::Int(10));
        let mut cpu2 = Point::new("hrProcessorTable", 0);
        cpu2.field("hrProcessorLoad", FieldValue::Int(30));
        let mut ram = Point::new("hrStorageTable", 0);
        ram.field("hrStorageType", FieldValue::Str(HR_STORAGE_RAM.into()));
        ram.field("hrStorageAllocationUnits", FieldValue::Int(1024));
        ram.field("hrStorageSize", FieldValue::Int(1000));
        ram.field("hrStorageUsed", FieldValue::Int(250));
        let p = host_resources(&[cpu1, cpu2, ram], &tags, 0).unwrap();
        assert_eq!(p.fields["cpu_load_percent"], FieldValue::Float(20.0));
        assert_eq!(p.fields["memory_total_bytes"], FieldValue::Int(1_024_000));
        assert_eq!(p.fields["memory_used_percent"], FieldValue::Float(25.0));
    }

    #[test]
    fn absurd_device_numbers_neither_panic_nor_wrap() {
        let mut row = Point::new("entPhySensorTable", 0);
        row.field("entPhySensorType", FieldValue::Int(8));
        row.field("entPhySensorValue", FieldValue::Int(i64::MAX));
        row.field("entPhySensorScale", FieldValue::Int(i64::MAX));
        row.field("entPhySensorPrecision", FieldValue::Int(i64::MIN));
        entity_sensor(&mut row);
        assert!(
            !row.fields.contains_key("value"),
            "no value from a nonsense scale"
        );
        let mut cpu = Vec::new();
        for load in [i64::MAX, i64::MAX] {
            let mut r = Point::new("hrProcessorTable", 0);
            r.field("hrProcessorLoad", FieldValue::Int(load));
            cpu.push(r);
        }
        let p = host_resources(&cpu, &BTreeMap::new(), 0).expect("a point");
        assert!(matches!(p.fields["cpu_load_percent"], FieldValue::Float(v) if v.is_finite()));
    }
}
