//! Printing results as tables (kubectl style), YAML or JSON.

use std::io::Write;

use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use super::Error;
use super::args::Output;
use crate::tenant::apply::{Outcome, Report};
use crate::tenant::status::{self, Status, Summary};

/// Writes `value` as YAML or JSON; returns false for table output (the caller draws it).
pub fn structured<T: Serialize>(
    out: &mut impl Write,
    format: Output,
    value: &T,
) -> Result<bool, Error> {
    match format {
        Output::Table => Ok(false),
        Output::Json => {
            let s = serde_json::to_string_pretty(value).map_err(Error::EncodeJson)?;
            writeln!(out, "{s}")?;
            Ok(true)
        }
        Output::Yaml => {
            let s = serde_norway::to_string(value).map_err(Error::EncodeYaml)?;
            write!(out, "{s}")?;
            Ok(true)
        }
    }
}

/// Left-aligned columns separated by three spaces, as kubectl prints them.
pub fn table(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> Result<(), Error> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.len());
        }
    }
    let line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c.clone()
                } else {
                    format!("{c:<w$}   ", w = widths[i])
                }
            })
            .collect::<String>()
    };
    writeln!(
        out,
        "{}",
        line(header.iter().map(|s| (*s).to_owned()).collect())
    )?;
    for r in rows {
        writeln!(out, "{}", line(r.clone()))?;
    }
    Ok(())
}

pub fn report(out: &mut impl Write, r: &Report) -> Result<(), Error> {
    changes(out, &r.changes, &format!("tenant {}", r.tenant))
}

/// One line per object and what apply did to it, then the totals for `subject`.
pub fn changes(
    out: &mut impl Write,
    changes: &[crate::tenant::apply::Change],
    subject: &str,
) -> Result<(), Error> {
    for c in changes {
        let word = match c.outcome {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
            Outcome::Pruned => "pruned",
        };
        writeln!(out, "{} {word}", c.object)?;
    }
    let count = |o: Outcome| changes.iter().filter(|c| c.outcome == o).count();
    writeln!(
        out,
        "{subject}: {} created, {} configured, {} unchanged, {} pruned",
        count(Outcome::Created),
        count(Outcome::Configured),
        count(Outcome::Unchanged),
        count(Outcome::Pruned)
    )?;
    Ok(())
}

pub fn list(out: &mut impl Write, rows: &[Summary]) -> Result<(), Error> {
    let now = Timestamp::now();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|s| {
            vec![
                s.tenant.clone(),
                s.display_name.clone(),
                s.ready.clone(),
                s.state.clone(),
                s.created
                    .as_deref()
                    .map_or_else(|| "?".into(), |c| status::age(c, now)),
            ]
        })
        .collect();
    table(
        out,
        &["NAME", "DISPLAY NAME", "READY", "STATUS", "AGE"],
        &rows,
    )
}

pub fn status(out: &mut impl Write, s: &Status) -> Result<(), Error> {
    let state = if s.terminating {
        "Terminating"
    } else if s.ready {
        "Ready"
    } else {
        "Not ready"
    };
    writeln!(out, "Tenant:   {} ({})", s.tenant, s.display_name)?;
    writeln!(out, "Status:   {state}")?;
    if let Some(url) = &s.grafana_url {
        writeln!(out, "Grafana:  {url}")?;
    }
    let drift = if !s.drift.checked {
        format!(
            "not checked{}",
            s.drift
                .reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )
    } else if s.drift.drifted.is_empty() {
        "none (live objects match the last applied spec)".into()
    } else {
        format!(
            "{} drifted: {}; `vigil tenant apply -f` restores them",
            s.drift.drifted.len(),
            s.drift.drifted.join(", ")
        )
    };
    writeln!(out, "Drift:    {drift}")?;
    writeln!(out)?;
    let rows: Vec<Vec<String>> = s
        .components
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.component.clone(),
                format!("{}/{}", c.ready, c.desired),
                if c.nodes.is_empty() {
                    "<none>".into()
                } else {
                    c.nodes.join(",")
                },
            ]
        })
        .collect();
    table(out, &["COMPONENT", "ROLE", "READY", "NODE"], &rows)?;
    writeln!(out)?;
    let rows: Vec<Vec<String>> = s
        .volumes
        .iter()
        .map(|v| {
            vec![
                v.name.clone(),
                v.phase.clone(),
                v.capacity.clone().unwrap_or_else(|| "<none>".into()),
                v.requested.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(out, &["VOLUME", "PHASE", "CAPACITY", "REQUESTED"], &rows)
}
