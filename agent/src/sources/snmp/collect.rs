//! One SNMP poll of one device: scalars with GET, tables with GETBULK walks, turned into
//! points with the device's tags. A failure part-way keeps what was already collected.
use std::collections::BTreeMap;

use super::client::{SnmpError, SnmpSession};
use super::config::SnmpSettings;
use super::derive;
use super::oid::{Oid, index_string};
use super::profile::{Column, Conversion, Derive, Table};
use super::value::SnmpValue;
use super::walk::{ColumnRows, WalkStats, walk_columns};
use crate::point::Point;
use crate::sources::Device;

/// What one poll produced.
#[derive(Debug)]
pub struct SnmpPoll {
    pub points: Vec<Point>,
    /// Number of values received from the device.
    pub values: usize,
    pub requests: u32,
    /// Set when the poll failed (possibly after some points were collected).
    pub error: Option<SnmpError>,
}

/// State kept between polls of one device.
#[derive(Debug, Clone)]
pub struct SnmpState {
    /// max-repetitions that the device accepted (shrinks on tooBig).
    pub max_reps: u32,
}

impl SnmpState {
    pub fn new(settings: &SnmpSettings) -> Self {
        SnmpState {
            max_reps: settings.max_repetitions,
        }
    }
}

/// Tags every SNMP point of the device carries.
pub fn device_tags(device: &Device) -> BTreeMap<String, String> {
    let mut t = device.tags.clone();
    t.insert("device".into(), device.name.clone());
    t.insert("agent_host".into(), device.address.clone());
    t
}

const GET_CHUNK: usize = 32;

async fn get_scalars(
    s: &mut SnmpSession,
    oids: &[Oid],
    requests: &mut u32,
) -> Result<BTreeMap<Oid, SnmpValue>, SnmpError> {
    let mut out = BTreeMap::new();
    let mut chunk = GET_CHUNK;
    let mut i = 0;
    while i < oids.len() {
        let end = (i + chunk).min(oids.len());
        *requests += 1;
        match s.get(&oids[i..end]).await {
            Ok(vb) => {
                for (oid, v) in vb {
                    if v.is_value() {
                        out.insert(oid, v);
                    }
                }
                i = end;
            }
            Err(SnmpError::TooBig) if chunk > 1 => chunk /= 2,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Polls `device` once. `ts` (ns) is the timestamp of every point of this poll.
pub async fn collect(
    device: &Device,
    settings: &SnmpSettings,
    state: &mut SnmpState,
    ts: i64,
) -> SnmpPoll {
    let mut poll = SnmpPoll {
        points: Vec::new(),
        values: 0,
        requests: 0,
        error: None,
    };
    let mut session = match SnmpSession::connect(&device.address, settings).await {
        Ok(s) => s,
        Err(e) => {
            poll.error = Some(e);
            return poll;
        }
    };
    if let Err(e) = collect_with(&mut session, device, state, ts, &mut poll).await {
        poll.error = Some(e);
    }
    poll
}

async fn collect_with(
    session: &mut SnmpSession,
    device: &Device,
    state: &mut SnmpState,
    ts: i64,
    poll: &mut SnmpPoll,
) -> Result<(), SnmpError> {
    let base = device_tags(device);
    // scalars: one GET for all profiles
    let mut scalar_oids: Vec<Oid> = device
        .profiles
        .iter()
        .flat_map(|p| p.scalars.iter().map(|s| s.oid.clone()))
        .collect();
    scalar_oids.sort();
    scalar_oids.dedup();
    let values = get_scalars(session, &scalar_oids, &mut poll.requests).await?;
    poll.values += values.len();
    let mut scalar_tags: BTreeMap<String, String> = BTreeMap::new();
    let mut scalar_points: BTreeMap<String, Point> = BTreeMap::new();
    for s in device.profiles.iter().flat_map(|p| p.scalars.iter()) {
        let Some(v) = values.get(&s.oid) else {
            continue;
        };
        if s.tag {
            scalar_tags.insert(s.name.clone(), v.as_text());
        } else if let Some(f) = v.to_field(s.conversion) {
            scalar_points
                .entry(s.measurement.clone())
                .or_insert_with(|| Point::new(s.measurement.clone(), ts))
                .field(&s.name, f);
        } else if v.is_value() {
            tracing::warn!(
                device = %device.name,
                measurement = %s.measurement,
                field = %s.name,
                conversion = ?s.conversion,
                value = %v.as_text(),
                "SNMP value does not convert; the field is left out"
            );
        }
    }
    for (_, mut p) in scalar_points {
        p.with_tags(&base);
        p.with_tags(&scalar_tags);
        poll.points.push(p);
    }

    for profile in &device.profiles {
        let mut rows_out: Vec<Point> = Vec::new();
        let mut derive = Derive::None;
        for table in &profile.tables {
            let oids: Vec<Oid> = table.columns.iter().map(|c| c.oid.clone()).collect();
            let mut stats = WalkStats { requests: 0 };
            let walked = walk_columns(session, &oids, &mut state.max_reps, &mut stats).await;
            poll.requests += stats.requests;
            let mut columns = walked?;
            if table.derive == Derive::IfMib {
                fallback_octets(session, table, &mut columns, state, poll).await?;
            }
            let mut rows: BTreeMap<Vec<u32>, Point> = BTreeMap::new();
            let mut row_tags: BTreeMap<Vec<u32>, BTreeMap<String, String>> = BTreeMap::new();
            for (col, values) in columns_of(table).iter().zip(columns) {
                poll.values += values.len();
                // values that do not convert: how many, and the first one (one log line a column)
                let (mut unconverted, mut example) = (0usize, None);
                for (index, v) in values {
                    if col.tag {
                        row_tags
                            .entry(index)
                            .or_default()
                            .insert(col.name.clone(), v.as_text());
                    } else if let Some(f) = v.to_field(col.conversion) {
                        rows.entry(index)
                            .or_insert_with(|| Point::new(table.measurement.clone(), ts))
                            .field(&col.name, f);
                    } else if v.is_value() {
                        unconverted += 1;
                        example.get_or_insert_with(|| v.as_text());
                    }
                }
                if let Some(example) = example {
                    tracing::warn!(
                        device = %device.name,
                        measurement = %table.measurement,
                        field = %col.name,
                        conversion = ?col.conversion,
                        rows = unconverted,
                        example = %example,
                        "SNMP values do not convert; the field is left out of those rows"
                    );
                }
            }
            for (index, mut p) in rows {
                p.with_tags(&base);
                for t in &table.inherit_tags {
                    if let Some(v) = scalar_tags.get(t) {
                        p.tag(t, v.clone());
                    }
                }
                if let Some(tags) = row_tags.get(&index) {
                    p.with_tags(tags);
                }
                if let Some(it) = &table.index_tag {
                    p.tag(it, index_string(&index));
                }
                if table.derive == Derive::IfMib && p.fields.contains_key("ifHCInOctets") {
                    p.fields.remove("ifInOctets");
                    p.fields.remove("ifOutOctets");
                }
                if table.derive == Derive::EntitySensor {
                    derive::entity_sensor(&mut p);
                }
                rows_out.push(p);
            }
            if table.derive != Derive::None {
                derive = table.derive;
            }
        }
        if derive == Derive::HostResources {
            let mut tags = base.clone();
            if let Some(h) = scalar_tags.get("hostname") {
                tags.insert("hostname".into(), h.clone());
            }
            if let Some(p) = derive::host_resources(&rows_out, &tags, ts) {
                rows_out.push(p);
            }
        }
        poll.points.extend(rows_out);
    }
    Ok(())
}

const IF_IN_OCTETS: &str = "1.3.6.1.2.1.2.2.1.10";
const IF_OUT_OCTETS: &str = "1.3.6.1.2.1.2.2.1.16";

/// The table's columns, plus the 32-bit octet columns [`fallback_octets`] may have added.
fn columns_of(table: &Table) -> Vec<Column> {
    let mut c = table.columns.clone();
    if table.derive == Derive::IfMib {
        for (name, oid) in [("ifInOctets", IF_IN_OCTETS), ("ifOutOctets", IF_OUT_OCTETS)] {
            c.push(Column {
                name: name.into(),
                oid: Oid::parse(oid).unwrap_or_default(),
                tag: false,
                conversion: Conversion::Auto,
            });
        }
    }
    c
}

/// Interfaces without 64-bit octet counters (devices without ifXTable, or single ports):
/// walk the 32-bit ifInOctets and ifOutOctets as well; they are kept only for the rows
/// that have no ifHCInOctets (reported under their own names; they wrap at 2^32). Devices
/// with complete ifXTable counters cost nothing extra.
async fn fallback_octets(
    session: &mut SnmpSession,
    table: &Table,
    columns: &mut Vec<ColumnRows>,
    state: &mut SnmpState,
    poll: &mut SnmpPoll,
) -> Result<(), SnmpError> {
    let hc = table.columns.iter().position(|c| c.name == "ifHCInOctets");
    let status = table.columns.iter().position(|c| c.name == "ifOperStatus");
    let mut extra = vec![Vec::new(), Vec::new()];
    // some interfaces (or the whole device) lack the 64-bit counters
    if let (Some(hc), Some(st)) = (hc, status)
        && columns[hc].len() < columns[st].len()
    {
        let oids = [
            Oid::parse(IF_IN_OCTETS).unwrap_or_default(),
            Oid::parse(IF_OUT_OCTETS).unwrap_or_default(),
        ];
        let mut stats = WalkStats { requests: 0 };
        let walked = walk_columns(session, &oids, &mut state.max_reps, &mut stats).await;
        poll.requests += stats.requests;
        extra = walked?;
    }
    columns.extend(extra);
    Ok(())
}
