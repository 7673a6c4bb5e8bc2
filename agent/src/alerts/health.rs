//! `AlertingDegraded`: alerting itself is in trouble — the API server has been out of
//! reach, the state cannot be saved, or the state document nears the size of a ConfigMap.
//! Such trouble is told directly (not through the state, which may be what is broken):
//! once when it starts and once when it ends. This module decides; the command posts.
use std::time::{Duration, Instant};

/// The rule name the service desk sees.
pub const ALERTING_DEGRADED: &str = "AlertingDegraded";

/// A ConfigMap holds at most 1 MiB; past three quarters of it the desk is told.
pub const CONFIGMAP_LIMIT: usize = 1024 * 1024;
pub const WARN_FRACTION: f64 = 0.75;

/// What to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Degraded { what: String },
    Recovered { what: String, after: Duration },
}

/// One episode of trouble: told once when it starts and once when it ends. A notice that
/// could not be posted is offered again on the next observation.
#[derive(Debug, Default)]
pub struct Episode {
    since: Option<Instant>,
    announced: Option<String>,
}

impl Episode {
    /// The notice to post now, given the trouble observed (`None`: all well).
    pub fn observe(&mut self, now: Instant, trouble: Option<String>) -> Option<Notice> {
        match (trouble, &self.announced) {
            (Some(what), None) => {
                self.since.get_or_insert(now);
                Some(Notice::Degraded { what })
            }
            (None, Some(what)) => Some(Notice::Recovered {
                what: what.clone(),
                after: self
                    .since
                    .map_or(Duration::ZERO, |t| now.saturating_duration_since(t)),
            }),
            (None, None) => {
                self.since = None;
                None
            }
            (Some(_), Some(_)) => None,
        }
    }

    /// The notice was posted.
    pub fn posted(&mut self, notice: &Notice) {
        match notice {
            Notice::Degraded { what } => self.announced = Some(what.clone()),
            Notice::Recovered { .. } => {
                self.announced = None;
                self.since = None;
            }
        }
    }
}

/// How saving a scope's state has gone lately.
#[derive(Debug, Clone, Default)]
pub struct SaveHealth {
    /// Since when saves have failed, and the last error.
    pub failing: Option<(Instant, String)>,
    /// The failure was the API server being out of reach (reported by the API check,
    /// not per scope: every node agent would say the same).
    pub unreachable: bool,
    /// Size of the last document saved.
    pub bytes: usize,
    /// What the store holds at most, if it has a limit.
    pub limit: Option<usize>,
}

/// The trouble of one scope's state, if any.
pub fn state_trouble(h: &SaveHealth, now: Instant, after: Duration) -> Option<String> {
    if let Some((since, error)) = &h.failing
        && !h.unreachable
        && now.saturating_duration_since(*since) >= after
    {
        return Some(format!(
            "the alert state cannot be saved ({error}); notifications wait until it can"
        ));
    }
    let limit = h.limit?;
    let used = h.bytes as f64 / limit as f64;
    (used >= WARN_FRACTION).then(|| {
        format!(
            "the alert state uses {:.0} % of its {} KiB limit ({} bytes); past it nothing \
             more can be saved or sent",
            used * 100.0,
            limit / 1024,
            h.bytes
        )
    })
}

/// The trouble of a leader that has not reached the API server for `worst`.
pub fn api_trouble(worst: Duration, after: Duration) -> Option<String> {
    (worst >= after).then(|| {
        format!(
            "the agent has not reached the Kubernetes API server for {} s: pods, nodes and \
             workloads are not evaluated, and their alerts wait until it is back",
            worst.as_secs()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_episode_is_told_once_when_it_starts_and_once_when_it_ends() {
        let t0 = Instant::now();
        let mut e = Episode::default();
        assert_eq!(e.observe(t0, None), None);
        let n = e.observe(t0, Some("down".into())).unwrap();
        assert!(matches!(n, Notice::Degraded { .. }));
        // not posted (Slack failed): offered again
        assert_eq!(e.observe(t0, Some("down".into())), Some(n.clone()));
        e.posted(&n);
        assert_eq!(
            e.observe(t0 + Duration::from_secs(5), Some("still".into())),
            None
        );
        let r = e.observe(t0 + Duration::from_secs(9), None).unwrap();
        assert_eq!(
            r,
            Notice::Recovered {
                what: "down".into(),
                after: Duration::from_secs(9)
            }
        );
        e.posted(&r);
        assert_eq!(e.observe(t0 + Duration::from_secs(10), None), None);
    }

    #[test]
    fn state_trouble_waits_for_the_grace_and_ignores_an_unreachable_api() {
        let t0 = Instant::now();
        let after = Duration::from_secs(60);
        let mut h = SaveHealth {
            failing: Some((t0, "forbidden".into())),
            limit: Some(CONFIGMAP_LIMIT),
            bytes: 1000,
            ..Default::default()
        };
        assert_eq!(state_trouble(&h, t0 + Duration::from_secs(59), after), None);
        assert!(state_trouble(&h, t0 + after, after).is_some());
        h.unreachable = true;
        assert_eq!(state_trouble(&h, t0 + after, after), None);
        h.failing = None;
        h.bytes = CONFIGMAP_LIMIT * 3 / 4 - 1;
        assert_eq!(state_trouble(&h, t0, after), None);
        h.bytes = CONFIGMAP_LIMIT * 3 / 4;
        assert!(state_trouble(&h, t0, after).unwrap().contains("75 %"));
        h.limit = None;
        assert_eq!(state_trouble(&h, t0, after), None);
    }
}
