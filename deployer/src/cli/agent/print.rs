//! What `vigil agent` prints: change reports and the status table.

use std::io::Write;

use k8s_openapi::jiff::Timestamp;

use super::super::{Error, output};
use crate::agent::apply::Report;
use crate::agent::status::Status;
use crate::tenant::status::age;

pub fn report(out: &mut impl Write, r: &Report) -> Result<(), Error> {
    output::changes(
        out,
        &r.changes,
        &format!("vigil agent in namespace {}", r.namespace),
    )?;
    for ns in &r.other_installs {
        eprintln!(
            "warning: vigil agent is also installed in namespace {ns}: both post every alert; \
             remove one with `vigil agent uninstall --namespace {ns}`"
        );
    }
    Ok(())
}

pub fn status(out: &mut impl Write, s: &Status) -> Result<(), Error> {
    let now = Timestamp::now();
    writeln!(out, "Namespace:  {}", s.namespace)?;
    writeln!(out, "Image:      {}", s.image)?;
    writeln!(
        out,
        "Nodes:      {} desired, {} ready, {} up to date, {} available{}",
        s.desired,
        s.ready,
        s.updated,
        s.available,
        if s.healthy { "" } else { " (not healthy)" }
    )?;
    let leader = match &s.leader {
        None => "none (no agent has taken the lease yet)".to_owned(),
        Some(l) => format!(
            "{}{}{}",
            l.holder,
            l.renewed
                .as_deref()
                .map(|r| format!(", renewed {} ago", age(r, now)))
                .unwrap_or_default(),
            if l.expired {
                " (EXPIRED: no agent renews it)"
            } else {
                ""
            }
        ),
    };
    writeln!(out, "Leader:     {leader}")?;
    let delivery = match &s.last_delivery {
        None => "none yet".to_owned(),
        Some(d) => format!(
            "{} ago to {} ({}){}",
            age(&d.at, now),
            d.channel,
            d.incident,
            if d.pending > 0 {
                format!("; {} waiting in the outbox", d.pending)
            } else {
                String::new()
            }
        ),
    };
    writeln!(out, "Last Slack: {delivery}")?;
    writeln!(out)?;
    let rows: Vec<Vec<String>> = s
        .nodes
        .iter()
        .map(|n| {
            vec![
                n.node.clone(),
                if n.node_ready { "Ready" } else { "NotReady" }.into(),
                n.pod.clone().unwrap_or_else(|| "<none>".into()),
                if n.ready { "true" } else { "false" }.into(),
                n.phase.clone(),
                n.restarts.to_string(),
                n.started
                    .as_deref()
                    .map_or_else(|| "-".into(), |t| age(t, now)),
            ]
        })
        .collect();
    output::table(
        out,
        &[
            "NODE",
            "NODE STATUS",
            "AGENT",
            "READY",
            "PHASE",
            "RESTARTS",
            "AGE",
        ],
        &rows,
    )
}
