//! The delivery worker: takes notifications from the durable outbox in order (per
//! channel), renders and sends them, records where they went in the ledger and persists
//! the document before taking the next. At most one message per channel per
//! `min_interval`; a 429 pauses that channel for `Retry-After`; temporary failures back
//! off exponentially (up to a minute) and are retried until delivered, across restarts.
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::render::Renderer;
use super::routes::Routes;
use super::transport::{Posted, SendError, Transport};
use crate::alerts::shared::Shared;
use crate::alerts::state::{Delivered, Kind, Notification, unix_ms};

/// How long a folded reply waits for its parent's message before it is posted alone.
const PARENT_WAIT: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Channel {
    next: Option<Instant>,
    backoff: Duration,
}

pub struct Deliverer {
    shared: Arc<Shared>,
    routes: Arc<Routes>,
    renderer: Arc<Renderer>,
    http: reqwest::Client,
    channels: HashMap<String, Channel>,
    waiting: HashMap<u64, Instant>,
}

enum Step {
    Done(Option<Delivered>),
    /// Nothing to send for this transport (a folded reply on a webhook).
    Skip,
}

impl Deliverer {
    pub fn new(
        shared: Arc<Shared>,
        routes: Arc<Routes>,
        renderer: Arc<Renderer>,
    ) -> Result<Deliverer, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(routes.timeout)
            .build()
            .map_err(|e| format!("cannot build the slack http client: {e}"))?;
        Ok(Deliverer {
            shared,
            routes,
            renderer,
            http,
            channels: HashMap::new(),
            waiting: HashMap::new(),
        })
    }

    /// The thread (`channel`, `ts`) of an incident, from this scope's ledger or the remote.
    fn thread_of(&self, key: &str) -> Option<Delivered> {
        self.shared
            .with(|d| d.ledger.get(key).cloned())
            .or_else(|| self.shared.remote().ledger.get(key).cloned())
    }

    /// Picks the next notification to send now, or when to look again.
    fn pick(&mut self) -> Result<(Notification, Transport), Option<Instant>> {
        let now = Instant::now();
        let outbox: Vec<Notification> = self.shared.with(|d| d.outbox.iter().cloned().collect());
        let mut blocked: HashSet<String> = HashSet::new();
        let mut wake: Option<Instant> = None;
        let soonest = |t: Instant, wake: &mut Option<Instant>| {
            *wake = Some(wake.map_or(t, |w| w.min(t)));
        };
        for n in outbox {
            let t = self.routes.route(&n.signal.scope).clone();
            let key = t.channel_key();
            if blocked.contains(&key) {
                continue;
            }
            if !self.shared.is_persisted(n.seq) {
                // the evaluator is saving it; it signals when done
                soonest(now + Duration::from_millis(100), &mut wake);
                blocked.insert(key);
                continue;
            }
            if matches!(n.kind, Kind::Folded | Kind::FoldedResolved)
                && t.threads()
                && self.thread_of(&n.thread).is_none_or(|d| d.ts.is_none())
            {
                let since = *self.waiting.entry(n.seq).or_insert(now);
                if now.duration_since(since) < PARENT_WAIT {
                    soonest(now + Duration::from_millis(250), &mut wake);
                    continue;
                }
            }
            match self.channels.get(&key).and_then(|c| c.next) {
                Some(next) if next > now => {
                    blocked.insert(key);
                    soonest(next, &mut wake);
                }
                _ => return Ok((n, t)),
            }
        }
        Err(wake)
    }

    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            match self.pick() {
                Ok((n, t)) => self.deliver(n, t).await,
                Err(wake) => {
                    let sleep = wake.map_or(Duration::from_secs(5), |w| {
                        w.saturating_duration_since(Instant::now())
                    });
                    tokio::select! {
                        _ = self.shared.outbox_changed.notified() => {}
                        _ = tokio::time::sleep(sleep) => {}
                        r = stop.changed() => if r.is_err() { return; },
                    }
                }
            }
        }
    }

    async fn deliver(&mut self, n: Notification, t: Transport) {
        let key = t.channel_key();
        let result = self.send(&n, &t).await;
        let now = Instant::now();
        let ch = self.channels.entry(key.clone()).or_default();
        match result {
            Ok(step) => {
                ch.next = Some(now + self.routes.min_interval);
                ch.backoff = Duration::ZERO;
                self.waiting.remove(&n.seq);
                let at_ms = unix_ms(std::time::SystemTime::now());
                self.shared.with(|d| {
                    d.outbox.retain(|x| x.seq != n.seq);
                    if let Step::Done(Some(mut delivered)) = step {
                        delivered.at_ms = at_ms;
                        d.ledger.insert(n.incident.clone(), delivered);
                    }
                    if n.kind == Kind::Resolved
                        && let Some(l) = d.ledger.get_mut(&n.incident)
                    {
                        l.resolved = true;
                        l.at_ms = at_ms;
                    }
                    d.prune(at_ms, 3_600_000);
                });
                tracing::info!(kind = n.kind.as_str(), incident = %n.incident, channel = %key, "slack notification delivered");
                if let Err(e) = self.shared.save().await {
                    tracing::error!(error = %e, "cannot persist the alert state after a delivery");
                }
            }
            Err(SendError::RateLimited(wait)) => {
                tracing::warn!(channel = %key, retry_after_ms = wait.as_millis() as u64, "slack rate limit: waiting");
                ch.next = Some(now + wait.max(self.routes.min_interval));
            }
            Err(SendError::Temporary(e)) => {
                ch.backoff = (ch.backoff * 2).clamp(Duration::from_millis(500), MAX_BACKOFF);
                tracing::warn!(channel = %key, error = %e, retry_in_ms = ch.backoff.as_millis() as u64, "slack delivery failed: retrying");
                ch.next = Some(now + ch.backoff);
            }
            Err(SendError::Permanent(e)) => {
                tracing::error!(channel = %key, incident = %n.incident, error = %e, "slack refused the notification: dropped (fix the route or template)");
                ch.next = Some(now + self.routes.min_interval);
                self.shared.with(|d| d.outbox.retain(|x| x.seq != n.seq));
                if let Err(e) = self.shared.save().await {
                    tracing::error!(error = %e, "cannot persist the alert state");
                }
            }
        }
    }

    fn payload(&self, template: &str, n: &Notification) -> Result<serde_json::Value, SendError> {
        self.renderer
            .render(template, n)
            .map_err(|e| SendError::Permanent(e.to_string()))
    }

    async fn send(&self, n: &Notification, t: &Transport) -> Result<Step, SendError> {
        let done = |p: Posted| {
            Step::Done(Some(Delivered {
                channel: p.channel,
                ts: p.ts,
                at_ms: 0,
                resolved: false,
            }))
        };
        if !self.routes.posts(&n.signal.scope, n.signal.severity) {
            // below the destination's `min_severity`: dropped from the outbox, never posted
            return Ok(Step::Skip);
        }
        let thread = self.thread_of(&n.thread);
        let thread_ts = thread.as_ref().and_then(|d| d.ts.clone());
        match n.kind {
            Kind::Firing => {
                if self.shared.with(|d| d.ledger.contains_key(&n.incident)) {
                    // delivered before a restart; the outbox entry was not yet removed
                    return Ok(Step::Done(None));
                }
                let p = self.payload("firing", n)?;
                Ok(done(t.post(&self.http, &p, None).await?))
            }
            Kind::Resolved => {
                if thread.as_ref().is_some_and(|d| d.resolved) {
                    return Ok(Step::Done(None));
                }
                match (t.threads(), thread) {
                    (
                        true,
                        Some(Delivered {
                            channel,
                            ts: Some(ts),
                            ..
                        }),
                    ) => {
                        let reply = self.payload("reply", n)?;
                        t.post(&self.http, &reply, Some(&ts)).await?;
                        let parent = self.payload("resolved", n)?;
                        if let Err(e) = t.update(&self.http, &channel, &ts, &parent).await {
                            tracing::warn!(error = %e, "cannot mark the parent message resolved");
                        }
                        Ok(Step::Done(None))
                    }
                    _ => {
                        let p = self.payload("resolved", n)?;
                        t.post(&self.http, &p, None).await?;
                        Ok(Step::Done(None))
                    }
                }
            }
            Kind::Repeat | Kind::Flapping | Kind::Folded | Kind::FoldedResolved => {
                let folded = matches!(n.kind, Kind::Folded | Kind::FoldedResolved);
                if folded && !t.threads() {
                    return Ok(Step::Skip);
                }
                let p = self.payload("reply", n)?;
                t.post(&self.http, &p, thread_ts.as_deref()).await?;
                Ok(Step::Done(None))
            }
            Kind::Maintenance | Kind::Digest => {
                let p = self.payload("summary", n)?;
                t.post(&self.http, &p, None).await?;
                Ok(Step::Done(None))
            }
        }
    }
}
