//! The service-desk dashboards in `dashboards/`: their structure, the names their queries use
//! against the agent's schema, every panel against live data collected from the sandbox,
//! and their provisioning in the rendered tenant manifests.

#[path = "dashboards_collector.rs"]
pub(crate) mod collector;
#[path = "dashboards_influxql.rs"]
mod influxql;
#[path = "dashboards_live.rs"]
mod live;
#[path = "dashboards_model.rs"]
mod model;
#[path = "dashboards_provisioning.rs"]
mod provisioning;
#[path = "dashboards_structure.rs"]
mod structure;

/// The dashboards vigil ships, by file and uid. Adding one means adding it here, to
/// `docs/dashboards.md`, and to the live test's expectations.
const DASHBOARDS: &[(&str, &str)] = &[
    ("device.json", "vigil-device"),
    ("interfaces.json", "vigil-interfaces"),
    ("overview.json", "vigil-overview"),
    ("reachability.json", "vigil-reachability"),
    ("stack-health.json", "vigil-stack-health"),
];

/// The agent's measurements as tags and fields, from `agent/schema/metrics.json` (the same
/// source as `docs/metrics.md`), plus the `alerts` measurement the alerting role writes
/// (described in `docs/dashboards.md` until it is part of the agent's schema).
fn agent_schema() -> influxql::Schema {
    let schema = vigil_agent::schema::Schema::load().expect("the agent's schema loads");
    let mut out: influxql::Schema = schema
        .measurements
        .iter()
        .map(|m| {
            (
                m.name.clone(),
                (
                    m.tags.iter().map(|t| t.name.clone()).collect(),
                    m.fields.iter().map(|f| f.name.clone()).collect(),
                ),
            )
        })
        .collect();
    out.entry("alerts".to_owned()).or_insert_with(|| {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        (
            set(ALERTS_TAGS),
            set(&ALERTS_FIELDS.iter().map(|(n, _)| *n).collect::<Vec<_>>()),
        )
    });
    out
}

/// Field types by (measurement, field): `integer`, `float`, `string`, `boolean`.
fn agent_field_types() -> std::collections::BTreeMap<(String, String), String> {
    let schema = vigil_agent::schema::Schema::load().expect("the agent's schema loads");
    let mut out: std::collections::BTreeMap<(String, String), String> = schema
        .measurements
        .iter()
        .flat_map(|m| {
            m.fields
                .iter()
                .map(|f| ((m.name.clone(), f.name.clone()), f.ty.clone()))
        })
        .collect();
    if !out.keys().any(|(m, _)| m == "alerts") {
        for (f, ty) in ALERTS_FIELDS {
            out.insert(("alerts".to_owned(), f.to_string()), ty.to_string());
        }
    }
    out
}

/// The `alerts` measurement as the alerting role writes it (`agent/src/alerts/points.rs`,
/// docs/alerts.md; also in docs/dashboards.md), until the agent's schema lists it.
const ALERTS_TAGS: &[&str] = &[
    "rule",
    "severity",
    "state",
    "source",
    "object",
    "tenant",
    "namespace",
    "workload",
    "node",
    "device",
];
const ALERTS_FIELDS: &[(&str, &str)] = &[
    ("firing", "integer"),
    ("incident", "string"),
    ("summary", "string"),
    ("duration_s", "integer"),
    ("silenced", "boolean"),
    ("folded", "boolean"),
];
