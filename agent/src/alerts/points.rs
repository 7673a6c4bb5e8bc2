//! Alert state changes as points of the `alerts` measurement, written through the
//! collector's InfluxDB sink, so dashboards can show incidents and annotations.
use super::engine::Change;
use crate::point::{FieldValue, Point};

pub fn point(c: &Change, source: &str) -> Point {
    let s = &c.incident.signal;
    let mut p = Point::new(
        "alerts",
        i64::try_from(c.at_ms)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000),
    );
    p.tag("rule", s.rule.clone())
        .tag("severity", s.severity.as_str())
        .tag("state", c.kind.as_str())
        .tag("source", source)
        .tag("object", s.scope.object.clone());
    for (k, v) in [
        ("tenant", &s.scope.tenant),
        ("namespace", &s.scope.namespace),
        ("workload", &s.scope.workload),
        ("node", &s.scope.node),
        ("device", &s.scope.device),
    ] {
        if let Some(v) = v {
            p.tag(k, v.clone());
        }
    }
    let firing = !matches!(
        c.kind,
        super::state::Kind::Resolved | super::state::Kind::FoldedResolved
    );
    p.field("firing", FieldValue::Int(i64::from(firing)))
        .field("incident", FieldValue::Str(c.incident.key.clone()))
        .field("summary", FieldValue::Str(s.summary.clone()))
        .field(
            "duration_s",
            FieldValue::Int(
                i64::try_from(c.at_ms.saturating_sub(c.incident.started_ms) / 1000).unwrap_or(0),
            ),
        )
        .field(
            "silenced",
            FieldValue::Bool(c.incident.silenced_by.is_some()),
        )
        .field("folded", FieldValue::Bool(c.incident.folded_into.is_some()));
    p
}
