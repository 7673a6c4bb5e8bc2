//! The agent's output must match `schema/metrics.json`, the machine-readable schema that
//! docs/metrics.md and the dashboards are checked against. Every code path that makes
//! points is exercised here; the integration tests check real device output as well.
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::point::{FieldValue, Point};
use crate::schema::Schema;
use crate::sources::Device;
use crate::sources::icmp::{self, PingStats};
use crate::sources::snmp::builtin;
use crate::telemetry::{Metrics, PollOutcome, Source};

fn device() -> Device {
    Device {
        name: "fw1".into(),
        address: "192.0.2.1".into(),
        tags: BTreeMap::from([("site".to_string(), "ams".to_string())]),
        interval: Duration::from_secs(60),
        jitter: Duration::ZERO,
        snmp: None,
        profiles: vec![],
        icmp: None,
    }
}

#[test]
fn ping_points_match_the_schema() {
    let s = Schema::load().unwrap();
    let site = BTreeSet::from(["site".to_string()]);
    for stats in [
        PingStats::from_rtts(4, &[Duration::from_millis(5), Duration::from_millis(7)], 0),
        PingStats::from_rtts(4, &[], 0),
        PingStats::unresolved(),
    ] {
        s.check(&icmp::point(&device(), &stats, 1), &site).unwrap();
    }
    // every schema field of `ping` is produced by a successful poll
    let mut p = Point::new("ping", 0);
    PingStats::from_rtts(2, &[Duration::from_millis(1)], 0).fields_into(&mut p);
    let want: BTreeSet<_> = s
        .measurement("ping")
        .unwrap()
        .fields
        .iter()
        .map(|f| f.name.clone())
        .collect();
    assert_eq!(p.fields.keys().cloned().collect::<BTreeSet<_>>(), want);
}

#[test]
fn builtin_profiles_only_name_schema_fields_and_tags() {
    let s = Schema::load().unwrap();
    for name in builtin::NAMES {
        let p = builtin::get(name).unwrap();
        for sc in &p.scalars {
            let m = s.measurement(&sc.measurement).unwrap();
            if sc.tag {
                assert!(
                    m.tags.iter().any(|t| t.name == sc.name),
                    "{name}: tag {}",
                    sc.name
                );
            } else {
                assert!(
                    m.fields.iter().any(|f| f.name == sc.name),
                    "{name}: field {}",
                    sc.name
                );
            }
        }
        for t in &p.tables {
            let m = s
                .measurement(&t.measurement)
                .unwrap_or_else(|| panic!("{name}: {}", t.measurement));
            assert_eq!(m.profile.as_deref(), Some(*name));
            for c in &t.columns {
                let listed = if c.tag {
                    m.tags.iter().any(|x| x.name == c.name)
                } else {
                    m.fields.iter().any(|f| f.name == c.name)
                };
                assert!(listed, "{name}: {} {}", t.measurement, c.name);
            }
        }
    }
}

#[test]
fn self_metrics_match_the_schema() {
    let s = Schema::load().unwrap();
    let m = Metrics::new("coll-1");
    m.record_poll(
        "fw1",
        Source::Snmp,
        PollOutcome {
            duration_s: 0.5,
            ok: true,
            timeout: false,
            late: false,
        },
    );
    m.record_poll(
        "fw1",
        Source::Icmp,
        PollOutcome {
            duration_s: 3.0,
            ok: false,
            timeout: true,
            late: false,
        },
    );
    let points = m.points(1);
    assert_eq!(points.len(), 3);
    for p in &points {
        s.check(p, &BTreeSet::new()).unwrap();
        let want: BTreeSet<_> = s
            .measurement(&p.measurement)
            .unwrap()
            .fields
            .iter()
            .map(|f| f.name.clone())
            .collect();
        assert_eq!(
            p.fields.keys().cloned().collect::<BTreeSet<_>>(),
            want,
            "{}",
            p.measurement
        );
    }
}

#[test]
fn a_point_outside_the_schema_is_refused() {
    let s = Schema::load().unwrap();
    let mut p = Point::new("ping", 0);
    p.field("packets_received", FieldValue::Float(1.0));
    assert!(
        s.check(&p, &BTreeSet::new())
            .unwrap_err()
            .to_string()
            .contains("schema says integer")
    );
    let mut p = Point::new("nope", 0);
    p.field("x", FieldValue::Int(1));
    assert!(s.check(&p, &BTreeSet::new()).is_err());
}

#[test]
fn docs_metrics_md_lists_exactly_the_schema() {
    let s = Schema::load().unwrap();
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/metrics.md"))
        .unwrap();
    // each measurement has a section whose tables name every tag and field with its type
    let sections: Vec<&str> = doc.split("\n## ").skip(1).collect();
    for m in &s.measurements {
        let sec = sections
            .iter()
            .find(|sec| sec.lines().next() == Some(m.name.as_str()))
            .unwrap_or_else(|| panic!("docs/metrics.md has no section for {}", m.name));
        for t in &m.tags {
            assert!(
                sec.contains(&format!("| `{}` |", t.name)),
                "{}: tag {}",
                m.name,
                t.name
            );
        }
        for f in &m.fields {
            assert!(
                sec.contains(&format!("| `{}` | {} |", f.name, f.ty)),
                "{}: field {}",
                m.name,
                f.name
            );
        }
    }
    let documented = sections.iter().filter(|s| !s.starts_with("Events")).count();
    assert_eq!(
        documented,
        s.measurements.len(),
        "docs/metrics.md documents a measurement the schema lacks"
    );
}
