//! How current the agent's view of the API server is. Every watcher (and the leader
//! election) reports each answer and each failure; a watch whose last word was a failure
//! has been out of touch since that failure. While a watch stream stays connected its
//! store is current, so a quiet cluster is not mistaken for a stale one.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The scope under which the leader election reports its lease calls.
pub const ELECTION: &str = "election";

/// `(scope, kind)` → since when the watch has failed (`None`: in touch).
type Watches = BTreeMap<(String, String), Option<Instant>>;

/// Shared by every watcher of one process.
#[derive(Debug, Clone, Default)]
pub struct ApiContact {
    watches: Arc<Mutex<Watches>>,
}

impl ApiContact {
    fn with<R>(&self, f: impl FnOnce(&mut Watches) -> R) -> R {
        f(&mut self.watches.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// A new watch: out of touch until its first answer.
    pub fn register(&self, scope: &str, kind: &str) {
        self.with(|w| {
            w.entry((scope.to_string(), kind.to_string()))
                .or_insert_with(|| Some(Instant::now()));
        });
    }

    /// The API server answered this watch.
    pub fn answered(&self, scope: &str, kind: &str) {
        self.with(|w| {
            w.insert((scope.to_string(), kind.to_string()), None);
        });
    }

    /// This watch failed; it stays out of touch from the first failure on.
    pub fn failed(&self, scope: &str, kind: &str) {
        self.with(|w| {
            let since = w
                .entry((scope.to_string(), kind.to_string()))
                .or_insert(None);
            since.get_or_insert_with(Instant::now);
        });
    }

    /// A watch that ended (its scope stopped) no longer counts.
    pub fn forget_scope(&self, scope: &str) {
        self.with(|w| w.retain(|(s, _), _| s != scope));
    }

    /// How long each watch has been out of touch (zero while in touch).
    pub fn ages(&self) -> Vec<(String, String, Duration)> {
        let now = Instant::now();
        self.with(|w| {
            w.iter()
                .map(|((s, k), since)| {
                    let age = since.map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
                    (s.clone(), k.clone(), age)
                })
                .collect()
        })
    }

    /// How long the API server has not answered this agent at all. The lease calls, made
    /// every second or so with a timeout, are the probe where there is an election (a
    /// hung watch stream would look connected); standalone, the freshest watch tells
    /// (one watch still in its retry backoff after the API server is back does not).
    pub fn unreachable_for(&self) -> Duration {
        let ages = self.ages();
        if let Some((_, _, a)) = ages.iter().find(|(s, _, _)| s == ELECTION) {
            return *a;
        }
        ages.into_iter()
            .map(|(_, _, a)| a)
            .min()
            .unwrap_or(Duration::ZERO)
    }

    /// The longest any watch has been out of touch.
    pub fn worst(&self) -> Duration {
        self.ages()
            .into_iter()
            .map(|(_, _, a)| a)
            .max()
            .unwrap_or(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn since(c: &ApiContact, scope: &str, kind: &str) -> Option<Instant> {
        c.with(|w| {
            w.get(&(scope.to_string(), kind.to_string()))
                .copied()
                .flatten()
        })
    }

    #[test]
    fn a_watch_is_stale_from_its_first_failure_until_it_answers() {
        let c = ApiContact::default();
        c.register("leader", "Node");
        assert!(
            since(&c, "leader", "Node").is_some(),
            "in touch before any answer"
        );
        c.answered("leader", "Node");
        assert_eq!(c.worst(), Duration::ZERO);
        c.failed("leader", "Node");
        let first = since(&c, "leader", "Node");
        assert!(first.is_some());
        c.failed("leader", "Node");
        assert_eq!(
            since(&c, "leader", "Node"),
            first,
            "a later failure restarted the clock"
        );
        c.answered("leader", "Node");
        assert_eq!(c.worst(), Duration::ZERO);
        c.failed("leader", "Pod");
        c.forget_scope("leader");
        assert!(c.ages().is_empty());
    }

    #[test]
    fn the_api_is_unreachable_when_nothing_answers_or_the_lease_calls_fail() {
        let c = ApiContact::default();
        c.failed("node/a", "Pod");
        c.answered("node/a", "Node");
        assert_eq!(c.unreachable_for(), Duration::ZERO, "one watch answers");
        c.answered("election", "Lease");
        c.failed("node/a", "Node");
        assert_eq!(
            c.unreachable_for(),
            Duration::ZERO,
            "the lease calls answer"
        );
        c.failed("election", "Lease");
        assert!(since(&c, ELECTION, "Lease").is_some());
    }
}
