//! Structure of every dashboard: what Grafana needs to load it and what the service desk
//! needs to trust it, checked without any peer.

use std::collections::BTreeSet;

use serde_json::Value;

use super::model::{self, DATASOURCE_UID, SCHEMA_VERSION};
use super::{DASHBOARDS, agent_field_types, agent_schema, influxql};

fn failures(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_shipped_dashboards_are_exactly_these_with_stable_uids() {
    let found: Vec<(String, String)> = model::load_all()
        .iter()
        .map(|d| (d.file.clone(), d.uid().to_owned()))
        .collect();
    let expected: Vec<(String, String)> = DASHBOARDS
        .iter()
        .map(|(f, u)| (f.to_string(), u.to_string()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn dashboards_are_current_read_only_and_tagged() {
    let mut problems = Vec::new();
    let mut titles = BTreeSet::new();
    for d in model::load_all() {
        let j = &d.json;
        if j["schemaVersion"].as_u64() != Some(SCHEMA_VERSION) {
            problems.push(format!(
                "{}: schemaVersion {} (Grafana 11.3 writes {SCHEMA_VERSION})",
                d.file, j["schemaVersion"]
            ));
        }
        if j["editable"] != Value::Bool(false) {
            problems.push(format!(
                "{}: must be read-only (\"editable\": false)",
                d.file
            ));
        }
        if j["id"].is_number() {
            problems.push(format!(
                "{}: a numeric \"id\" is instance-specific; remove it",
                d.file
            ));
        }
        if !j["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "vigil"))
        {
            problems.push(format!(
                "{}: needs the tag \"vigil\" (dashboard links use it)",
                d.file
            ));
        }
        let title = j["title"].as_str().unwrap_or_default().to_owned();
        if title.is_empty() || !titles.insert(title.clone()) {
            problems.push(format!("{}: empty or duplicate title {title:?}", d.file));
        }
        if j["description"].as_str().unwrap_or_default().is_empty() {
            problems.push(format!("{}: no description", d.file));
        }
    }
    failures(problems);
}

#[test]
fn panel_ids_are_unique_and_every_panel_says_what_it_answers() {
    let mut problems = Vec::new();
    for d in model::load_all() {
        let mut ids = BTreeSet::new();
        for p in d.panels() {
            let Some(id) = p["id"].as_u64() else {
                problems.push(format!(
                    "{}: panel {:?} has no numeric id",
                    d.file, p["title"]
                ));
                continue;
            };
            if !ids.insert(id) {
                problems.push(format!("{}: panel id {id} is used twice", d.file));
            }
            if p["type"] == "row" {
                continue;
            }
            if p["title"].as_str().unwrap_or_default().is_empty() {
                problems.push(format!("{}: panel {id} has no title", d.file));
            }
            if p["description"].as_str().unwrap_or_default().len() < 20 {
                problems.push(format!(
                    "{}: panel {id} needs a description saying what question it answers",
                    d.file
                ));
            }
            if p["targets"].as_array().is_none_or(|t| t.is_empty()) {
                problems.push(format!("{}: panel {id} has no query", d.file));
            }
        }
    }
    failures(problems);
}

/// Grid positions of the panels at one level (the dashboard, or a collapsed row's children).
fn grid_problems(file: &str, panels: &[Value], problems: &mut Vec<String>) {
    let mut rects: Vec<(u64, [u64; 4])> = Vec::new();
    for p in panels {
        let id = p["id"].as_u64().unwrap_or_default();
        let g = &p["gridPos"];
        let Some([x, y, w, h]) = ["x", "y", "w", "h"]
            .map(|k| g[k].as_u64())
            .into_iter()
            .collect::<Option<Vec<u64>>>()
            .and_then(|v| <[u64; 4]>::try_from(v).ok())
        else {
            problems.push(format!("{file}: panel {id} has an incomplete gridPos {g}"));
            continue;
        };
        if w == 0 || h == 0 || x + w > 24 {
            problems.push(format!(
                "{file}: panel {id} at x={x} w={w} h={h} is outside the 24 columns"
            ));
        }
        for (other, [ox, oy, ow, oh]) in &rects {
            if x < ox + ow && *ox < x + w && y < oy + oh && *oy < y + h {
                problems.push(format!("{file}: panels {other} and {id} overlap"));
            }
        }
        rects.push((id, [x, y, w, h]));
        if p["type"] == "row" && p["collapsed"] == Value::Bool(true) {
            grid_problems(
                file,
                p["panels"].as_array().map_or(&[][..], Vec::as_slice),
                problems,
            );
        }
    }
}

#[test]
fn panels_fit_the_grid_without_overlapping() {
    let mut problems = Vec::new();
    for d in model::load_all() {
        grid_problems(
            &d.file,
            d.json["panels"].as_array().map_or(&[][..], Vec::as_slice),
            &mut problems,
        );
    }
    failures(problems);
}

fn datasource_problem(what: &str, ds: &Value) -> Option<String> {
    (ds["uid"] != DATASOURCE_UID || ds["type"] != "influxdb").then(|| {
        format!("{what}: datasource {ds} is not the provisioned {{\"type\": \"influxdb\", \"uid\": \"{DATASOURCE_UID}\"}}")
    })
}

#[test]
fn every_query_uses_the_provisioned_datasource() {
    let mut problems = Vec::new();
    for d in model::load_all() {
        for p in d.panels() {
            if p["type"] == "row" {
                continue;
            }
            let what = format!("{} panel {}", d.file, p["id"]);
            problems.extend(datasource_problem(&what, &p["datasource"]));
            for t in p["targets"].as_array().into_iter().flatten() {
                // a target may leave out its datasource (it inherits the panel's)
                if !t["datasource"].is_null() {
                    problems.extend(datasource_problem(
                        &format!("{what} target {}", t["refId"]),
                        &t["datasource"],
                    ));
                }
                if t["rawQuery"] != Value::Bool(true) || t["query"].as_str().is_none() {
                    problems.push(format!(
                        "{what} target {}: must be a raw InfluxQL query",
                        t["refId"]
                    ));
                }
            }
        }
        for v in d.variables() {
            problems.extend(datasource_problem(
                &format!("{} variable {}", d.file, v.name),
                &v.datasource,
            ));
        }
        for a in d.annotations() {
            problems.extend(datasource_problem(
                &format!("{} annotation {}", d.file, a["name"]),
                &a["datasource"],
            ));
        }
    }
    failures(problems);
}

/// Every text in a panel that Grafana interpolates: queries, aliases, data links.
fn interpolated_texts(p: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn links(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if k == "url" {
                        out.extend(v.as_str().map(str::to_owned));
                    } else {
                        links(v, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| links(v, out)),
            _ => {}
        }
    }
    links(&p["fieldConfig"], &mut out);
    links(&p["links"], &mut out);
    for t in p["targets"].as_array().into_iter().flatten() {
        out.extend(t["query"].as_str().map(str::to_owned));
        out.extend(t["alias"].as_str().map(str::to_owned));
    }
    out.extend(p["title"].as_str().map(str::to_owned));
    out
}

#[test]
fn every_variable_a_query_uses_is_defined() {
    let mut problems = Vec::new();
    for d in model::load_all() {
        let defined: BTreeSet<String> = d.variables().into_iter().map(|v| v.name).collect();
        let mut texts: Vec<(String, String)> =
            d.queries().into_iter().map(|q| (q.what, q.text)).collect();
        for p in d.panels() {
            for t in interpolated_texts(p) {
                texts.push((format!("{} panel {}", d.file, p["id"]), t));
            }
        }
        for (what, text) in texts {
            for name in model::variable_refs(&text) {
                if !defined.contains(&name) {
                    problems.push(format!(
                        "{what}: ${name} is not a variable of the dashboard"
                    ));
                }
            }
        }
        // a variable may only use variables defined before it (Grafana resolves in order)
        let mut earlier = BTreeSet::new();
        for v in d.variables() {
            for name in model::variable_refs(&v.query) {
                if !earlier.contains(&name) {
                    problems.push(format!(
                        "{} variable ${}: uses ${name}, which is not defined before it",
                        d.file, v.name
                    ));
                }
            }
            earlier.insert(v.name);
        }
    }
    failures(problems);
}

#[test]
fn every_name_a_query_uses_is_written_by_the_agent_and_every_function_is_portable() {
    let schema = agent_schema();
    let mut problems = Vec::new();
    let mut checked = 0;
    for d in model::load_all() {
        let vars: Vec<model::Variable> = d.variables();
        let interpolation = model::Interpolation {
            from_ms: 1_700_000_000_000,
            to_ms: 1_700_003_600_000,
            interval_ms: 10_000,
            values: vars
                .iter()
                .map(|v| (v.name.clone(), vec!["x/y".to_owned(), "z".to_owned()]))
                .collect(),
            multi: vars
                .iter()
                .filter(|v| v.multi)
                .map(|v| v.name.clone())
                .collect(),
        };
        for q in d.queries() {
            let text = interpolation.apply(&q);
            match influxql::portability_problems(&text) {
                Err(e) => problems.push(format!("{}: {e}", q.what)),
                Ok(p) => problems.extend(p.into_iter().map(|p| format!("{}: {p}", q.what))),
            }
            match influxql::parse(&text) {
                Err(e) => problems.push(format!("{}: cannot parse {text:?}: {e}", q.what)),
                Ok(stmt) => {
                    checked += 1;
                    problems.extend(
                        influxql::check(&stmt, &schema)
                            .into_iter()
                            .map(|p| format!("{}: {p}", q.what)),
                    );
                }
            }
        }
    }
    assert!(checked > 40, "only {checked} queries checked");
    failures(problems);
}

/// Every `thresholds` object in a panel (defaults and overrides), with where it is.
fn thresholds(p: &Value) -> Vec<(String, &Value)> {
    let mut out = vec![(
        "defaults".to_owned(),
        &p["fieldConfig"]["defaults"]["thresholds"],
    )];
    for o in p["fieldConfig"]["overrides"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for prop in o["properties"].as_array().into_iter().flatten() {
            if prop["id"] == "thresholds" {
                out.push((
                    format!("override {}", o["matcher"]["options"]),
                    &prop["value"],
                ));
            }
        }
    }
    out.retain(|(_, t)| !t.is_null());
    out
}

/// Panel types of Grafana 11.3 the dashboards may use (no plugins to install).
const PANEL_TYPES: &[&str] = &[
    "row",
    "stat",
    "table",
    "timeseries",
    "state-timeline",
    "status-history",
    "bargauge",
    "gauge",
    "heatmap",
    "text",
];

#[test]
fn panels_are_built_in_and_thresholds_well_formed() {
    let mut problems = Vec::new();
    for d in model::load_all() {
        for p in d.panels() {
            let id = &p["id"];
            let ty = p["type"].as_str().unwrap_or_default();
            if !PANEL_TYPES.contains(&ty) {
                problems.push(format!(
                    "{}: panel {id} has type {ty:?}, not a built-in panel of Grafana 11",
                    d.file
                ));
            }
            for (at, t) in thresholds(p) {
                let steps = t["steps"].as_array().map_or(&[][..], Vec::as_slice);
                if t["mode"] != "absolute" && t["mode"] != "percentage" {
                    problems.push(format!("{}: panel {id} {at}: no threshold mode", d.file));
                }
                if steps.first().is_none_or(|s| !s["value"].is_null()) {
                    problems.push(format!(
                        "{}: panel {id} {at}: the first step must be the base (value null)",
                        d.file
                    ));
                }
                let values: Vec<f64> = steps
                    .iter()
                    .skip(1)
                    .filter_map(|s| s["value"].as_f64())
                    .collect();
                if values.len() + 1 != steps.len() || values.windows(2).any(|w| w[0] >= w[1]) {
                    problems.push(format!(
                        "{}: panel {id} {at}: steps need ascending numeric values: {t}",
                        d.file
                    ));
                }
                if steps
                    .iter()
                    .any(|s| s["color"].as_str().is_none_or(str::is_empty))
                {
                    problems.push(format!(
                        "{}: panel {id} {at}: a step without colour",
                        d.file
                    ));
                }
            }
        }
    }
    failures(problems);
}

/// A stat panel reduces only numeric fields unless told otherwise: one showing a boolean
/// (SNMP success) or a string must select all fields, or it shows "No data".
#[test]
fn stats_of_booleans_and_strings_read_all_fields() {
    let types = agent_field_types();
    let mut problems = Vec::new();
    for d in model::load_all() {
        for p in d.panels() {
            if p["type"] != "stat" {
                continue;
            }
            for t in p["targets"].as_array().into_iter().flatten() {
                let text = t["query"]
                    .as_str()
                    .unwrap_or_default()
                    .replace("$timeFilter", "time > now() - 1h");
                let Ok(influxql::Statement::Select(s)) = influxql::parse(&text) else {
                    continue;
                };
                let influxql::Source::Measurement(m) = &s.from else {
                    continue;
                };
                let non_numeric = s.fields.iter().chain(&s.selected).any(|f| {
                    types
                        .get(&(m.clone(), f.clone()))
                        .is_some_and(|ty| ty == "boolean" || ty == "string")
                });
                if non_numeric
                    && p["options"]["reduceOptions"]["fields"]
                        .as_str()
                        .unwrap_or_default()
                        .is_empty()
                {
                    problems.push(format!(
                        "{}: panel {} {:?} shows a boolean or string field but reduces only numeric fields; set options.reduceOptions.fields to \"/.*/\"",
                        d.file, p["id"], p["title"].as_str().unwrap_or_default()
                    ));
                }
            }
        }
    }
    failures(problems);
}
