//! The alert state document (`state.json` in each of the cluster agent's state ConfigMaps, or
//! the collector's `cluster.state_file`): open incidents, the outbox of notifications not yet
//! delivered, and the ledger of what was delivered where (Slack channel and message `ts`).
//! Written by the agent's alert engine and Slack deliverer, read back after a restart or a
//! leader change, and read by `vigil agent status`.
//!
//! A [`Signal`] is one condition a rule sees as true right now (a pod crash-looping, a node
//! NotReady); an [`Incident`] is a signal that fired.
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Milliseconds since the epoch, the unit of every time in the document.
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// What a signal is about: used for routing (tenant), grouping, folding and maintenance
/// scopes. All values come from the cluster or devices and are untrusted text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `Deployment/name`, `StatefulSet/name`, `DaemonSet/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The object the signal is about, e.g. `Pod/web-0`, `Node/n1`, `PVC/data`.
    pub object: String,
    /// The device's tags (from the collector's configuration): Slack routes match them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// One active condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// Stable identity: the same condition on the same object always has the same one.
    pub fingerprint: String,
    pub rule: String,
    pub severity: Severity,
    pub scope: Scope,
    /// One line, e.g. `container api is in CrashLoopBackOff (7 restarts)`.
    pub summary: String,
    /// Extra facts shown as fields (`restarts`, `reason`...).
    #[serde(default)]
    pub facts: Vec<(String, String)>,
    /// Long free text (a termination message), truncated when rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How long the condition must hold before it fires.
    #[serde(skip)]
    pub hold: Duration,
    /// Fingerprints of incidents this signal folds into while they are firing
    /// (the pod's workload, its node; a device's DeviceDown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
}

impl Signal {
    pub fn new(rule: &str, severity: Severity, scope: Scope, identity: &str) -> Signal {
        Signal {
            fingerprint: fingerprint(rule, identity),
            rule: rule.to_string(),
            severity,
            scope,
            summary: String::new(),
            facts: Vec::new(),
            message: None,
            hold: Duration::ZERO,
            parents: Vec::new(),
        }
    }

    pub fn summary(mut self, s: impl Into<String>) -> Self {
        self.summary = s.into();
        self
    }

    pub fn fact(mut self, k: &str, v: impl Into<String>) -> Self {
        self.facts.push((k.to_string(), v.into()));
        self
    }

    pub fn hold(mut self, d: Duration) -> Self {
        self.hold = d;
        self
    }

    pub fn parent(mut self, fp: String) -> Self {
        self.parents.push(fp);
        self
    }

    /// The signal as the state keeps it: its summary, message and fact values cut to
    /// [`EXCERPT_CHARS`], so thousands of incidents with long termination messages still
    /// fit a ConfigMap.
    pub fn bounded(mut self) -> Signal {
        self.summary = excerpt(self.summary);
        self.message = self.message.map(excerpt);
        for (_, v) in &mut self.facts {
            *v = excerpt(std::mem::take(v));
        }
        self
    }
}

/// Characters of any one text a stored signal keeps.
pub const EXCERPT_CHARS: usize = 300;

/// `s` cut to [`EXCERPT_CHARS`] characters, marked with `…` when cut.
pub fn excerpt(s: String) -> String {
    match s.char_indices().nth(EXCERPT_CHARS) {
        None => s,
        Some((end, _)) => {
            let mut cut = s[..end].to_string();
            cut.pop();
            cut.push('…');
            cut
        }
    }
}

/// `rule/identity`: readable in logs and in the state object, stable across restarts.
pub fn fingerprint(rule: &str, identity: &str) -> String {
    format!("{rule}/{identity}")
}

/// One incident: a signal that fired and has not been resolved (yet).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Incident {
    /// `fingerprint@started_ms`: a new incident of the same condition gets a new thread.
    pub key: String,
    pub signal: Signal,
    pub started_ms: u64,
    pub last_notified_ms: u64,
    /// Key of the incident this one is folded into (its node, workload or device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folded_into: Option<String>,
    /// The maintenance window that silenced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced_by: Option<String>,
    #[serde(default)]
    pub flapping: bool,
    /// While flapping: since when the condition has been gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_since_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Firing,
    Resolved,
    /// Still firing after the repeat interval.
    Repeat,
    /// The incident keeps firing and resolving; it stays open as one flapping incident.
    Flapping,
    /// A signal folded into its parent incident: a reply in the parent's thread.
    Folded,
    FoldedResolved,
    /// A maintenance window ended: what it silenced.
    Maintenance,
    /// The periodic digest.
    Digest,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Firing => "firing",
            Kind::Resolved => "resolved",
            Kind::Repeat => "repeat",
            Kind::Flapping => "flapping",
            Kind::Folded => "folded",
            Kind::FoldedResolved => "folded_resolved",
            Kind::Maintenance => "maintenance",
            Kind::Digest => "digest",
        }
    }
}

/// A notification waiting in the outbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notification {
    pub seq: u64,
    pub kind: Kind,
    /// The incident this is about (for summaries: the window or digest name).
    pub incident: String,
    /// The incident whose Slack thread this belongs to (itself, or the parent it folds into).
    pub thread: String,
    pub signal: Signal,
    pub started_ms: u64,
    pub at_ms: u64,
    /// Summaries (maintenance, digest): one line per item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
}

impl Notification {
    pub fn duration_s(&self) -> u64 {
        self.at_ms.saturating_sub(self.started_ms) / 1000
    }
}

/// Where an incident's first message went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivered {
    pub channel: String,
    /// Slack message `ts` (bot token transport); webhooks have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    pub at_ms: u64,
    #[serde(default)]
    pub resolved: bool,
}

/// A line of a maintenance or digest summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogItem {
    pub tenant: Option<String>,
    pub line: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StateDoc {
    #[serde(default)]
    pub incidents: BTreeMap<String, Incident>,
    #[serde(default)]
    pub pending: BTreeMap<String, u64>,
    #[serde(default)]
    pub outbox: VecDeque<Notification>,
    #[serde(default)]
    pub ledger: BTreeMap<String, Delivered>,
    /// Recent firing times per fingerprint (flap detection).
    #[serde(default)]
    pub fires: BTreeMap<String, Vec<u64>>,
    /// What each open maintenance window silenced so far.
    #[serde(default)]
    pub silenced: BTreeMap<String, Vec<LogItem>>,
    /// Incidents resolved since the last digest.
    #[serde(default)]
    pub digest: Vec<LogItem>,
    #[serde(default)]
    pub last_digest_ms: u64,
    #[serde(default)]
    pub next_seq: u64,
}

/// Past this many queued notifications (a long Slack outage in an alert storm),
/// reminders are dropped, oldest first: firing, resolved and folded messages never are.
pub const OUTBOX_SOFT_CAP: usize = 500;

impl StateDoc {
    /// Queues a notification. A reminder replaces the one of the same incident still
    /// waiting; past [`OUTBOX_SOFT_CAP`] the oldest reminders make room.
    pub fn push(&mut self, mut n: Notification) -> Notification {
        n.seq = self.next_seq;
        self.next_seq += 1;
        if n.kind == Kind::Repeat {
            self.outbox
                .retain(|x| !(x.kind == Kind::Repeat && x.incident == n.incident));
        }
        self.outbox.push_back(n.clone());
        while self.outbox.len() > OUTBOX_SOFT_CAP {
            let Some(i) = self.outbox.iter().position(|x| x.kind == Kind::Repeat) else {
                break;
            };
            self.outbox.remove(i);
        }
        n
    }

    /// Drops ledger entries of incidents resolved and delivered more than `keep_ms` ago,
    /// so the state object stays small.
    pub fn prune(&mut self, now_ms: u64, keep_ms: u64) {
        let open: std::collections::HashSet<&str> =
            self.incidents.values().map(|i| i.key.as_str()).collect();
        let queued: std::collections::HashSet<&str> = self
            .outbox
            .iter()
            .flat_map(|n| [n.incident.as_str(), n.thread.as_str()])
            .collect();
        self.ledger.retain(|k, d| {
            open.contains(k.as_str())
                || queued.contains(k.as_str())
                || now_ms.saturating_sub(d.at_ms) < keep_ms
        });
        self.digest.truncate(10_000);
        // firing times older than a day matter to no flap window
        self.fires.retain(|_, times| {
            times.retain(|t| now_ms.saturating_sub(*t) < 86_400_000);
            !times.is_empty()
        });
    }

    /// Open, notified incidents by fingerprint: what other signals may fold into.
    pub fn firing_parents(&self) -> BTreeMap<String, String> {
        self.incidents
            .iter()
            .filter(|(_, i)| i.folded_into.is_none())
            .map(|(fp, i)| (fp.clone(), i.key.clone()))
            .collect()
    }
}

/// What readers of another version may rely on in a [`StateDoc`]: the ledger and how many
/// notifications wait in the outbox (`vigil agent status`). The CLI and the deployed agent
/// need not be the same release, so the rest of the document (and the shape of each queued
/// notification) is not looked at.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StateSummary {
    #[serde(default)]
    pub ledger: BTreeMap<String, Delivered>,
    #[serde(default)]
    pub outbox: Vec<serde::de::IgnoredAny>,
}

/// The document as a state ConfigMap stores it: gzip-compressed JSON (names::STATE_GZ_KEY in
/// `binaryData`), so thousands of incidents fit the 1 MiB a ConfigMap holds.
pub mod stored {
    use std::io::{Read, Write};

    use serde::Serialize;
    use serde::de::DeserializeOwned;

    /// A stored document is never inflated past this (a hostile edit cannot exhaust memory).
    const MAX_INFLATED: u64 = 64 * 1024 * 1024;

    #[derive(Debug, thiserror::Error)]
    pub enum StoredError {
        #[error("not valid gzip")]
        Gzip(#[source] std::io::Error),
        #[error("larger than {MAX_INFLATED} bytes once inflated")]
        TooLarge,
        #[error("not valid JSON")]
        Json(#[source] serde_json::Error),
    }

    /// gzip-compressed JSON.
    pub fn encode<T: Serialize>(doc: &T) -> Result<Vec<u8>, StoredError> {
        let json = serde_json::to_vec(doc).map_err(StoredError::Json)?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&json).map_err(StoredError::Gzip)?;
        gz.finish().map_err(StoredError::Gzip)
    }

    /// The document from a ConfigMap's compressed entry, else its plain (older) one; `None`
    /// when it holds neither.
    pub fn decode<T: DeserializeOwned>(
        gz: Option<&[u8]>,
        plain: Option<&str>,
    ) -> Option<Result<T, StoredError>> {
        if let Some(gz) = gz {
            let mut json = Vec::new();
            let read = flate2::read::GzDecoder::new(gz)
                .take(MAX_INFLATED + 1)
                .read_to_end(&mut json);
            return Some(match read {
                Err(e) => Err(StoredError::Gzip(e)),
                Ok(n) if n as u64 > MAX_INFLATED => Err(StoredError::TooLarge),
                Ok(_) => serde_json::from_slice(&json).map_err(StoredError::Json),
            });
        }
        plain.map(|t| serde_json::from_str(t).map_err(StoredError::Json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(kind: Kind, incident: &str) -> Notification {
        Notification {
            seq: 0,
            kind,
            incident: incident.into(),
            thread: incident.into(),
            signal: Signal::new("R", Severity::Warning, Scope::default(), incident),
            started_ms: 0,
            at_ms: 0,
            lines: Vec::new(),
        }
    }

    #[test]
    fn a_stored_document_reads_back_from_either_form() {
        let mut doc = StateDoc::default();
        doc.push(note(Kind::Firing, "a"));
        let gz = stored::encode(&doc).unwrap();
        let back: StateDoc = stored::decode(Some(&gz), None).unwrap().unwrap();
        assert_eq!(back.outbox.len(), 1);
        let plain = serde_json::to_string(&doc).unwrap();
        let old: StateDoc = stored::decode(None, Some(&plain)).unwrap().unwrap();
        assert_eq!(old.next_seq, 1);
        assert!(stored::decode::<StateDoc>(None, None).is_none());
        assert!(matches!(
            stored::decode::<StateDoc>(Some(b"not gzip"), None),
            Some(Err(stored::StoredError::Gzip(_)))
        ));
    }

    /// The leader's worst case: one document with 2,000 open pod incidents (e.g. 2,000
    /// unschedulable pods), each first message queued with a 4,000-character message of
    /// incompressible text, as an incident and its notification are stored.
    #[test]
    fn two_thousand_queued_incidents_fit_three_quarters_of_a_config_map() {
        let mut doc = StateDoc::default();
        let mut k: u64 = 7;
        for i in 0..2000 {
            let scope = Scope {
                tenant: Some("acme".into()),
                namespace: Some("acme-shop".into()),
                workload: Some(format!("Deployment/web-{}", i / 100)),
                node: Some(format!("pool-a1b2c-{}", i % 20)),
                object: format!("Pod/web-{}-7d9f8c6b5d-{i:05}", i / 100),
                ..Default::default()
            };
            let mut s = Signal::new(
                "PodCrashLooping",
                Severity::Critical,
                scope,
                &format!("acme-shop/web-{i}/app"),
            )
            .summary("container app is crash-looping (12 restarts)")
            .fact("Restarts", "12")
            .fact("Last exit code", "1")
            .parent(format!(
                "WorkloadUnavailable/acme-shop/Deployment/web-{}",
                i / 100
            ));
            let message: String = (0..4000)
                .map(|_| {
                    k = k
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    char::from(b"0123456789abcdefghijklmnopqrstuvwxyz"[((k >> 33) % 36) as usize])
                })
                .collect();
            s.message = Some(message);
            let s = s.bounded();
            let key = format!("{}@{}", s.fingerprint, 1_764_000_000_000u64 + i as u64);
            let mut kept = s.clone();
            kept.message = None;
            doc.incidents.insert(
                s.fingerprint.clone(),
                Incident {
                    key: key.clone(),
                    signal: kept,
                    started_ms: 1_764_000_000_000,
                    last_notified_ms: 1_764_000_000_000,
                    folded_into: None,
                    silenced_by: None,
                    flapping: false,
                    quiet_since_ms: None,
                },
            );
            doc.push(Notification {
                seq: 0,
                kind: Kind::Firing,
                incident: key.clone(),
                thread: key,
                signal: s,
                started_ms: 1_764_000_000_000,
                at_ms: 1_764_000_000_000,
                lines: Vec::new(),
            });
        }
        let stored = stored::encode(&doc).unwrap();
        eprintln!(
            "2,000 queued incidents: {} bytes stored, {} as JSON",
            stored.len(),
            serde_json::to_vec(&doc).unwrap().len()
        );
        assert!(
            stored.len() < 1024 * 1024 * 3 / 4,
            "{} bytes stored ({} as JSON)",
            stored.len(),
            serde_json::to_vec(&doc).unwrap().len()
        );
    }

    #[test]
    fn reminders_coalesce_and_make_room_but_firing_messages_stay() {
        let mut doc = StateDoc::default();
        doc.push(note(Kind::Repeat, "a"));
        doc.push(note(Kind::Repeat, "a"));
        assert_eq!(doc.outbox.len(), 1, "two reminders of one incident");
        assert_eq!(doc.outbox[0].seq, 1, "the newer reminder is kept");
        for i in 0..OUTBOX_SOFT_CAP {
            doc.push(note(Kind::Firing, &format!("f{i}")));
        }
        assert_eq!(doc.outbox.len(), OUTBOX_SOFT_CAP);
        assert!(doc.outbox.iter().all(|n| n.kind == Kind::Firing));
        doc.push(note(Kind::Firing, "more"));
        assert_eq!(
            doc.outbox.len(),
            OUTBOX_SOFT_CAP + 1,
            "a firing message was dropped"
        );
    }

    #[test]
    fn a_stored_signal_keeps_excerpts_of_long_text() {
        let long = "é".repeat(4000);
        let s = Signal::new("R", Severity::Warning, Scope::default(), "x")
            .summary(long.clone())
            .fact("reason", long.clone());
        let mut s = s;
        s.message = Some(long);
        let b = s.bounded();
        assert_eq!(b.summary.chars().count(), EXCERPT_CHARS);
        assert!(b.summary.ends_with('…'));
        assert_eq!(b.message.unwrap().chars().count(), EXCERPT_CHARS);
        assert_eq!(b.facts[0].1.chars().count(), EXCERPT_CHARS);
        assert_eq!(excerpt("short".into()), "short");
        let exact = "x".repeat(EXCERPT_CHARS);
        assert_eq!(excerpt(exact.clone()), exact);
    }

    #[test]
    fn a_state_document_reads_back_as_written() {
        let scope = Scope {
            tenant: Some("acme".into()),
            object: "Pod/web-0".into(),
            ..Scope::default()
        };
        let signal = Signal::new("PodCrashLooping", Severity::Critical, scope, "shop/web-0")
            .summary("container web is in CrashLoopBackOff")
            .fact("restarts", "7");
        let mut doc = StateDoc::default();
        doc.incidents.insert(
            signal.fingerprint.clone(),
            Incident {
                key: format!("{}@1", signal.fingerprint),
                signal: signal.clone(),
                started_ms: 1,
                last_notified_ms: 2,
                folded_into: None,
                silenced_by: None,
                flapping: false,
                quiet_since_ms: None,
            },
        );
        doc.push(Notification {
            seq: 0,
            kind: Kind::Firing,
            incident: format!("{}@1", signal.fingerprint),
            thread: format!("{}@1", signal.fingerprint),
            signal,
            started_ms: 1,
            at_ms: 2,
            lines: Vec::new(),
        });
        doc.ledger.insert(
            "PodCrashLooping/shop/web-0@1".into(),
            Delivered {
                channel: "C1".into(),
                ts: Some("1.2".into()),
                at_ms: 3,
                resolved: false,
            },
        );
        let text = serde_json::to_string(&doc).unwrap();
        let back: StateDoc = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        assert_eq!(back.outbox.len(), 1);
        assert_eq!(back.next_seq, 1);
        assert_eq!(back.firing_parents().len(), 1);
        let summary: StateSummary = serde_json::from_str(&text).unwrap();
        assert_eq!(summary.outbox.len(), 1);
        assert_eq!(summary.ledger, back.ledger);
    }
}
