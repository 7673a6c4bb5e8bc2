//! The durable alerting state: open incidents, the outbox of notifications not yet
//! delivered, and the ledger of what was delivered where (Slack channel and message `ts`).
//! Everything the engine and the Slack sink need to continue after a restart or a leader
//! change without losing or repeating a message. Stored by [`super::store::Store`].
use std::collections::{BTreeMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::signal::Signal;

/// Milliseconds since the epoch.
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
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

impl StateDoc {
    pub fn push(&mut self, mut n: Notification) -> Notification {
        n.seq = self.next_seq;
        self.next_seq += 1;
        self.outbox.push_back(n.clone());
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
