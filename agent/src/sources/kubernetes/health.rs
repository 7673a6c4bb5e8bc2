//! How current the agent's view of the API server is. Every watcher (and the leader
//! election) reports each answer and each failure; a watch whose last word was a failure
//! has been out of touch since that failure. While a watch stream stays connected its
//! store is current, so a quiet cluster is not mistaken for a stale one.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Shared by every watcher of one process.
#[derive(Debug, Clone, Default)]
pub struct ApiContact {
    /// `(scope, kind)` → since when it has failed (`None`: in touch).
    watches: Arc<Mutex<BTreeMap<(String, String), Option<Instant>>>>,
}

impl ApiContact {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<(String, String), Option<Instant>>) -> R) -> R {
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
        c.with(|w| w.get(&(scope.to_string(), kind.to_string())).copied().flatten())
    }

    #[test]
    fn a_watch_is_stale_from_its_first_failure_until_it_answers() {
        let c = ApiContact::default();
        c.register("leader", "Node");
        assert!(since(&c, "leader", "Node").is_some(), "in touch before any answer");
        c.answered("leader", "Node");
        assert_eq!(c.worst(), Duration::ZERO);
        c.failed("leader", "Node");
        let first = since(&c, "leader", "Node");
        assert!(first.is_some());
        c.failed("leader", "Node");
        assert_eq!(since(&c, "leader", "Node"), first, "a later failure restarted the clock");
        c.answered("leader", "Node");
        assert_eq!(c.worst(), Duration::ZERO);
        c.failed("leader", "Pod");
        c.forget_scope("leader");
        assert!(c.ages().is_empty());
    }
}
