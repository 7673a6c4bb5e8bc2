//! The alert state machine: pending → firing → resolved with `for`, folding into parent
//! incidents, repeat reminders, flap detection, maintenance windows and the digest. Pure
//! logic on a [`StateDoc`]: the caller supplies the complete set of active signals and the
//! time, and persists the document; notifications land in the document's outbox.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use vigil_contract::Schedule;

use super::maintenance::Window;
use super::signal::{Scope, Severity, Signal};
use super::state::{Incident, Kind, LogItem, Notification, StateDoc, unix_ms};

#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Reminder for incidents firing this long without news (0 = never).
    pub repeat_interval: Duration,
    /// More than `flap_threshold` firings within `flap_window` make an incident flapping.
    pub flap_threshold: usize,
    pub flap_window: Duration,
    /// A flapping incident resolves after its condition has been gone this long.
    pub flap_quiet: Duration,
    pub windows: Vec<Window>,
    pub digest: Option<Schedule>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            repeat_interval: Duration::from_secs(4 * 3600),
            flap_threshold: 3,
            flap_window: Duration::from_secs(900),
            flap_quiet: Duration::from_secs(300),
            windows: Vec::new(),
            digest: None,
        }
    }
}

/// What a state change looked like, for the `alerts` measurement.
#[derive(Debug, Clone)]
pub struct Change {
    pub kind: Kind,
    pub incident: Incident,
    pub at_ms: u64,
}

pub struct Engine {
    settings: EngineSettings,
    open_windows: BTreeSet<String>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn describe(s: &Signal) -> String {
    format!("{} {}: {}", s.rule, s.scope.object, s.summary)
}

fn human(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s => format!("{}h{}m", s / 3600, (s % 3600) / 60),
    }
}

impl Engine {
    pub fn new(settings: EngineSettings) -> Engine {
        Engine {
            settings,
            open_windows: BTreeSet::new(),
        }
    }

    /// One evaluation. `remote_parents` are firing incidents kept elsewhere (the leader's
    /// node and workload incidents, for a node agent's pods): fingerprint → incident key.
    pub fn evaluate(
        &mut self,
        doc: &mut StateDoc,
        now: SystemTime,
        signals: Vec<Signal>,
        remote_parents: &BTreeMap<String, String>,
    ) -> Vec<Change> {
        let now_ms = unix_ms(now);
        let mut changes = Vec::new();
        self.maintenance(doc, now, &mut changes);
        // stored signals keep excerpts: the state must fit its ConfigMap in a storm
        let active: HashMap<String, Signal> = signals
            .into_iter()
            .map(|s| (s.fingerprint.clone(), s.bounded()))
            .collect();
        let mut parents = doc.firing_parents();
        parents.extend(remote_parents.iter().map(|(k, v)| (k.clone(), v.clone())));
        doc.pending.retain(|fp, _| active.contains_key(fp));
        // sorted, so parents (nodes, workloads) fire before what folds into them
        let mut order: Vec<&Signal> = active.values().collect();
        order.sort_by_key(|s| (s.parents.len(), s.fingerprint.clone()));
        for sig in order {
            let fp = &sig.fingerprint;
            if let Some(inc) = doc.incidents.get_mut(fp) {
                inc.signal = sig.clone();
                // the termination message goes with the first message only: an open
                // incident does not keep it (the state must fit a ConfigMap in a storm)
                inc.signal.message = None;
                inc.quiet_since_ms = None;
                let repeat = ms(self.settings.repeat_interval);
                if repeat > 0
                    && inc.silenced_by.is_none()
                    && inc.folded_into.is_none()
                    && now_ms.saturating_sub(inc.last_notified_ms) >= repeat
                {
                    inc.last_notified_ms = now_ms;
                    let inc = inc.clone();
                    push(doc, Kind::Repeat, &inc, now_ms, &mut changes);
                }
                continue;
            }
            let since = *doc.pending.entry(fp.clone()).or_insert(now_ms);
            if now_ms.saturating_sub(since) < ms(sig.hold) {
                continue;
            }
            // a parent that is active but still within its own `for`: wait for it, so the
            // child folds into it instead of being posted on its own. Not for a workload:
            // its `for` (5 m) is longer than a crash loop's (1 m), and the service desk must
            // not hear of the crash loop only when the workload alert fires; pods fold into a
            // workload that is already alerting.
            let folds_now = sig.parents.iter().any(|p| parents.contains_key(p));
            if !folds_now
                && sig.parents.iter().any(|p| {
                    active
                        .get(p)
                        .is_some_and(|parent| parent.rule != super::rules::WORKLOAD_UNAVAILABLE)
                        && !doc.incidents.contains_key(p)
                })
            {
                continue;
            }
            doc.pending.remove(fp);
            let fires = doc.fires.entry(fp.clone()).or_default();
            fires.retain(|t| now_ms.saturating_sub(*t) < ms(self.settings.flap_window));
            fires.push(now_ms);
            let silenced_by = self
                .settings
                .windows
                .iter()
                .find(|w| self.open_windows.contains(&w.name) && w.covers(sig))
                .map(|w| w.name.clone());
            let folded_into = sig.parents.iter().find_map(|p| parents.get(p).cloned());
            let inc = Incident {
                key: format!("{fp}@{now_ms}"),
                signal: sig.clone(),
                started_ms: now_ms,
                last_notified_ms: now_ms,
                folded_into: folded_into.clone(),
                silenced_by: silenced_by.clone(),
                flapping: false,
                quiet_since_ms: None,
            };
            let mut kept = inc.clone();
            kept.signal.message = None;
            doc.incidents.insert(fp.clone(), kept);
            if folded_into.is_none() {
                parents.insert(fp.clone(), inc.key.clone());
            }
            if let Some(w) = silenced_by {
                doc.silenced.entry(w).or_default().push(LogItem {
                    tenant: sig.scope.tenant.clone(),
                    line: format!("fired: {}", describe(sig)),
                });
                changes.push(Change {
                    kind: Kind::Firing,
                    incident: inc,
                    at_ms: now_ms,
                });
            } else if folded_into.is_some() {
                push(doc, Kind::Folded, &inc, now_ms, &mut changes);
            } else {
                push(doc, Kind::Firing, &inc, now_ms, &mut changes);
            }
        }
        let gone: Vec<String> = doc
            .incidents
            .keys()
            .filter(|fp| !active.contains_key(*fp))
            .cloned()
            .collect();
        for fp in gone {
            self.resolve_or_hold(doc, &fp, now_ms, &mut changes);
        }
        self.digest(doc, now, &mut changes);
        changes
    }

    fn resolve_or_hold(
        &self,
        doc: &mut StateDoc,
        fp: &str,
        now_ms: u64,
        changes: &mut Vec<Change>,
    ) {
        let Some(inc) = doc.incidents.get_mut(fp) else {
            return;
        };
        let fires = doc.fires.get(fp).map_or(0, |f| {
            f.iter()
                .filter(|t| now_ms.saturating_sub(**t) < ms(self.settings.flap_window))
                .count()
        });
        if inc.silenced_by.is_none() && inc.folded_into.is_none() {
            if !inc.flapping && fires > self.settings.flap_threshold {
                inc.flapping = true;
                inc.quiet_since_ms = Some(now_ms);
                let inc = inc.clone();
                push(doc, Kind::Flapping, &inc, now_ms, changes);
                return;
            }
            if inc.flapping {
                let quiet = *inc.quiet_since_ms.get_or_insert(now_ms);
                if now_ms.saturating_sub(quiet) < ms(self.settings.flap_quiet) {
                    return;
                }
            }
        }
        let Some(inc) = doc.incidents.remove(fp) else {
            return;
        };
        let took = human(now_ms.saturating_sub(inc.started_ms) / 1000);
        doc.digest.push(LogItem {
            tenant: inc.signal.scope.tenant.clone(),
            line: format!("{} (resolved after {took})", describe(&inc.signal)),
        });
        if let Some(w) = &inc.silenced_by {
            doc.silenced.entry(w.clone()).or_default().push(LogItem {
                tenant: inc.signal.scope.tenant.clone(),
                line: format!("resolved after {took}: {}", describe(&inc.signal)),
            });
            changes.push(Change {
                kind: Kind::Resolved,
                incident: inc,
                at_ms: now_ms,
            });
        } else if inc.folded_into.is_some() {
            push(doc, Kind::FoldedResolved, &inc, now_ms, changes);
        } else {
            push(doc, Kind::Resolved, &inc, now_ms, changes);
        }
    }

    /// Opens and closes maintenance windows; a closing window posts its summary and
    /// un-silences incidents that are still firing (they are posted now).
    fn maintenance(&mut self, doc: &mut StateDoc, now: SystemTime, changes: &mut Vec<Change>) {
        let now_ms = unix_ms(now);
        let windows = self.settings.windows.clone();
        for w in &windows {
            let open = w.open_until(now).is_some();
            let was = self.open_windows.contains(&w.name) || doc.silenced.contains_key(&w.name);
            if open && !self.open_windows.contains(&w.name) {
                tracing::info!(window = %w.name, "maintenance window opened");
                self.open_windows.insert(w.name.clone());
                doc.silenced.entry(w.name.clone()).or_default();
            } else if !open && was {
                tracing::info!(window = %w.name, "maintenance window closed");
                self.open_windows.remove(&w.name);
                let items = doc.silenced.remove(&w.name).unwrap_or_default();
                let still: Vec<String> = doc
                    .incidents
                    .iter()
                    .filter(|(_, i)| i.silenced_by.as_deref() == Some(w.name.as_str()))
                    .map(|(fp, _)| fp.clone())
                    .collect();
                for fp in still {
                    if let Some(inc) = doc.incidents.get_mut(&fp) {
                        inc.silenced_by = None;
                        inc.last_notified_ms = now_ms;
                        let inc = inc.clone();
                        push(doc, Kind::Firing, &inc, now_ms, changes);
                    }
                }
                if items.is_empty() {
                    continue;
                }
                let signal = Signal::new(
                    "MaintenanceWindow",
                    Severity::Info,
                    Scope {
                        tenant: w.tenant(),
                        object: format!("window {}", w.name),
                        ..Default::default()
                    },
                    &format!("{}@{now_ms}", w.name),
                )
                .summary(format!(
                    "maintenance window {} ended: {} silenced notification(s)",
                    w.name,
                    items.len()
                ));
                let key = signal.fingerprint.clone();
                doc.push(Notification {
                    seq: 0,
                    kind: Kind::Maintenance,
                    incident: key.clone(),
                    thread: key,
                    signal,
                    started_ms: now_ms,
                    at_ms: now_ms,
                    lines: items.into_iter().map(|i| i.line).collect(),
                });
            }
        }
    }

    /// On the digest schedule: one summary per tenant of what resolved since the last one.
    fn digest(&self, doc: &mut StateDoc, now: SystemTime, _changes: &mut [Change]) {
        let Some(schedule) = &self.settings.digest else {
            return;
        };
        let now_ms = unix_ms(now);
        if doc.last_digest_ms == 0 {
            doc.last_digest_ms = now_ms;
            return;
        }
        let last: DateTime<Utc> =
            (SystemTime::UNIX_EPOCH + Duration::from_millis(doc.last_digest_ms)).into();
        let now_dt: DateTime<Utc> = now.into();
        if schedule.next_after(last).is_none_or(|t| t > now_dt) {
            return;
        }
        doc.last_digest_ms = now_ms;
        let mut by_tenant: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
        for item in doc.digest.drain(..) {
            by_tenant.entry(item.tenant).or_default().push(item.line);
        }
        let open: Vec<(Option<String>, String)> = doc
            .incidents
            .values()
            .map(|i| (i.signal.scope.tenant.clone(), describe(&i.signal)))
            .collect();
        for (tenant, line) in open {
            by_tenant
                .entry(tenant)
                .or_default()
                .push(format!("still firing: {line}"));
        }
        for (tenant, lines) in by_tenant {
            let signal = Signal::new(
                "Digest",
                Severity::Info,
                Scope {
                    tenant: tenant.clone(),
                    object: "digest".into(),
                    ..Default::default()
                },
                &format!("{}@{now_ms}", tenant.as_deref().unwrap_or("-")),
            )
            .summary(format!("alert digest: {} item(s)", lines.len()));
            let key = signal.fingerprint.clone();
            doc.push(Notification {
                seq: 0,
                kind: Kind::Digest,
                incident: key.clone(),
                thread: key,
                signal,
                started_ms: doc.last_digest_ms,
                at_ms: now_ms,
                lines,
            });
        }
    }
}

fn push(doc: &mut StateDoc, kind: Kind, inc: &Incident, now_ms: u64, changes: &mut Vec<Change>) {
    let thread = match kind {
        Kind::Folded | Kind::FoldedResolved => inc.folded_into.clone().unwrap_or(inc.key.clone()),
        _ => inc.key.clone(),
    };
    doc.push(Notification {
        seq: 0,
        kind,
        incident: inc.key.clone(),
        thread,
        signal: inc.signal.clone(),
        started_ms: inc.started_ms,
        at_ms: now_ms,
        lines: Vec::new(),
    });
    changes.push(Change {
        kind,
        incident: inc.clone(),
        at_ms: now_ms,
    });
}

#[cfg(test)]
mod tests;
