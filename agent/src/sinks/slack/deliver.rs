//! The delivery worker: takes notifications from the durable outbox in order (per
//! channel), renders and sends them, records where they went in the ledger and persists
//! the document before taking the next. At most one message per channel per
//! `min_interval`; a 429 pauses that channel for `Retry-After`; temporary failures back
//! off exponentially (up to a minute) and are retried until delivered, across restarts.
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use vigil_contract::alert_state::{Delivered, Kind, Notification, unix_ms};

use super::escape::{self, Lines};
use super::render::Renderer;
use super::routes::Routes;
use super::transport::{Posted, SendError, Transport};

/// The durable outbox the deliverer empties: the alerting scope's live state, wired to it
/// by the command. Only saved notifications may be sent, and every delivery is saved
/// before the next is taken.
pub trait Outbox: Send + Sync + 'static {
    type SaveError: std::fmt::Display;
    /// Notifications waiting, oldest first.
    fn pending(&self) -> Vec<Notification>;
    /// Whether the notification with this `seq` has been saved.
    fn is_persisted(&self, seq: u64) -> bool;
    /// Where an incident's first message went, if it went anywhere.
    fn thread(&self, incident: &str) -> Option<Delivered>;
    /// Whether the incident's first message was delivered.
    fn was_delivered(&self, incident: &str) -> bool;
    /// Records a delivery (and where it went) and removes it from the outbox.
    fn complete(&self, n: &Notification, delivered: Option<Delivered>, at_ms: u64);
    /// Removes a notification that will never be sent.
    fn discard(&self, seq: u64);
    fn save(&self) -> impl Future<Output = Result<(), Self::SaveError>> + Send;
    /// Notified when new notifications are waiting.
    fn changed(&self) -> &Notify;
}

/// The deliverer cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("cannot build the slack http client")]
    Http(#[source] reqwest::Error),
}

/// How long a folded reply waits for its parent's message before it is posted alone.
const PARENT_WAIT: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Channel {
    next: Option<Instant>,
    backoff: Duration,
    /// Why the destination refuses every message, while it does.
    blocked: Option<String>,
}

/// How long a blocked destination waits before its next try, at first and at most (its
/// credential is read again each time).
const BLOCKED_RETRY: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(60));

pub struct Deliverer<O> {
    outbox: Arc<O>,
    routes: Arc<Routes>,
    renderer: Arc<Renderer>,
    http: reqwest::Client,
    channels: HashMap<String, Channel>,
    waiting: HashMap<u64, Instant>,
    /// Destinations whose credential was read again and changed (a rotated Secret).
    reloaded: HashMap<String, Transport>,
    /// Where `vigil_slack_blocked{destination}` is kept, if anywhere.
    metrics: Option<Arc<crate::telemetry::Metrics>>,
    /// A delivery was posted but its record could not be saved: nothing more is sent
    /// until the save succeeds (a restart would otherwise post it, and what follows, again).
    unsaved: bool,
}

enum Step {
    Done(Option<Delivered>),
    /// Nothing to send for this transport (a folded reply on a webhook).
    Skip,
}

impl<O: Outbox> Deliverer<O> {
    pub fn new(
        outbox: Arc<O>,
        routes: Arc<Routes>,
        renderer: Arc<Renderer>,
    ) -> Result<Deliverer<O>, DeliverError> {
        let http = http_client(&routes)?;
        Ok(Deliverer {
            outbox,
            routes,
            renderer,
            http,
            channels: HashMap::new(),
            waiting: HashMap::new(),
            reloaded: HashMap::new(),
            metrics: None,
            unsaved: false,
        })
    }

    /// Counts blocked destinations into `metrics` (`vigil_slack_blocked{destination}`).
    pub fn with_metrics(mut self, metrics: Arc<crate::telemetry::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn set_blocked(metrics: &Option<Arc<crate::telemetry::Metrics>>, key: &str, blocked: bool) {
        if let Some(m) = metrics {
            m.set_gauge(
                "vigil_slack_blocked",
                "1 while a Slack destination refuses every message (credential, channel or webhook); its notifications are kept.",
                &[("destination", key)],
                if blocked { 1.0 } else { 0.0 },
            );
        }
    }

    fn thread_of(&self, key: &str) -> Option<Delivered> {
        self.outbox.thread(key)
    }

    /// Picks the next notification to send now, or when to look again.
    fn pick(&mut self) -> Result<(Notification, Transport), Option<Instant>> {
        let now = Instant::now();
        let outbox: Vec<Notification> = self.outbox.pending();
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
            if !self.outbox.is_persisted(n.seq) {
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
            if self.unsaved {
                match self.outbox.save().await {
                    Ok(()) => {
                        tracing::info!("alert state saved again: slack delivery resumes");
                        self.unsaved = false;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot save the alert state: slack delivery paused until it can");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                            r = stop.changed() => if r.is_err() { return; },
                        }
                        continue;
                    }
                }
            }
            match self.pick() {
                Ok((n, t)) => self.deliver(n, t).await,
                Err(wake) => {
                    let sleep = wake.map_or(Duration::from_secs(5), |w| {
                        w.saturating_duration_since(Instant::now())
                    });
                    tokio::select! {
                        _ = self.outbox.changed().notified() => {}
                        _ = tokio::time::sleep(sleep) => {}
                        r = stop.changed() => if r.is_err() { return; },
                    }
                }
            }
        }
    }

    async fn deliver(&mut self, n: Notification, configured: Transport) {
        let key = configured.channel_key();
        let t = self.reloaded.get(&key).cloned().unwrap_or(configured);
        let mut result = self.send(&n, &t).await;
        if let Err(SendError::Rejected(why)) = &result {
            // the payload, not the destination: the incident still reaches the channel
            tracing::warn!(channel = %key, incident = %n.incident, error = %why, "slack refused the message's blocks: sending it as plain text");
            result = self.send_plain(&n, &t).await;
        }
        let now = Instant::now();
        let ch = self.channels.entry(key.clone()).or_default();
        match result {
            Ok(step) => {
                ch.next = Some(now + self.routes.min_interval);
                ch.backoff = Duration::ZERO;
                if let Some(why) = ch.blocked.take() {
                    tracing::info!(channel = %key, was = %why, "slack destination accepts messages again");
                    Self::set_blocked(&self.metrics, &key, false);
                }
                self.waiting.remove(&n.seq);
                let at_ms = unix_ms(std::time::SystemTime::now());
                let delivered = match step {
                    Step::Done(d) => d,
                    Step::Skip => None,
                };
                self.outbox.complete(&n, delivered, at_ms);
                tracing::info!(kind = n.kind.as_str(), incident = %n.incident, channel = %key, "slack notification delivered");
                if let Err(e) = self.outbox.save().await {
                    tracing::error!(error = %e, "cannot persist the alert state after a delivery: slack delivery paused until it can");
                    self.unsaved = true;
                }
            }
            Err(SendError::Blocked(why)) => {
                // keep every notification: they go out once the destination is fixed
                let newly = ch.blocked.is_none();
                if newly {
                    tracing::error!(channel = %key, error = %why, "slack refuses this destination (credential, channel or webhook): notifications are kept and retried; fix the route or rotate its Secret");
                }
                ch.blocked = Some(why.clone());
                ch.backoff = (ch.backoff * 2).clamp(BLOCKED_RETRY.0, BLOCKED_RETRY.1);
                ch.next = Some(now + ch.backoff);
                if newly {
                    Self::set_blocked(&self.metrics, &key, true);
                }
                if let Some(fresh) = t.reloaded() {
                    tracing::info!(channel = %key, "the destination's credential changed: retrying with it");
                    ch.next = Some(now + self.routes.min_interval);
                    self.reloaded.insert(key.clone(), fresh);
                } else if newly {
                    self.tell_default(&key, &why).await;
                }
            }
            Err(SendError::Rejected(e)) => {
                tracing::error!(channel = %key, incident = %n.incident, error = %e, "slack refused even the plain-text message: dropped");
                ch.next = Some(now + self.routes.min_interval);
                self.outbox.discard(n.seq);
                if let Err(e) = self.outbox.save().await {
                    tracing::error!(error = %e, "cannot persist the alert state");
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
                self.outbox.discard(n.seq);
                if let Err(e) = self.outbox.save().await {
                    tracing::error!(error = %e, "cannot persist the alert state");
                }
            }
        }
    }

    /// Tells the default destination, once per episode and directly (not through the
    /// state), that another destination refuses messages. If the default is the one
    /// blocked, the log and the blocked destinations in the state's outbox are all there is.
    async fn tell_default(&mut self, key: &str, why: &str) {
        let default = self.routes.default.transport.clone();
        if default.channel_key() == key {
            return;
        }
        let text = format!(
            "vigil: a Slack destination refuses every message ({why}); its notifications are \
             kept and retried. Fix the route or rotate its Secret (destination {key})."
        );
        let payload = plain_payload(&text);
        if let Err(e) = default.post(&self.http, &payload, None).await {
            tracing::error!(error = %e, "cannot tell the default destination about a blocked one");
        }
    }

    /// The notification as one plain line, for a payload whose blocks were refused.
    async fn send_plain(&self, n: &Notification, t: &Transport) -> Result<Step, SendError> {
        let s = &n.signal;
        let text = format!(
            "{} {} {}: {}",
            n.kind.as_str(),
            s.rule,
            s.scope.object,
            s.summary
        );
        let payload = plain_payload(&text);
        let thread = self.thread_of(&n.thread).and_then(|d| d.ts);
        let in_thread = !matches!(n.kind, Kind::Firing | Kind::Maintenance | Kind::Digest);
        let p = t
            .post(
                &self.http,
                &payload,
                if in_thread { thread.as_deref() } else { None },
            )
            .await?;
        Ok(match n.kind {
            Kind::Firing => Step::Done(Some(Delivered {
                channel: p.channel,
                ts: p.ts,
                at_ms: 0,
                resolved: false,
            })),
            _ => Step::Done(None),
        })
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
                if self.outbox.was_delivered(&n.incident) {
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

/// The HTTP client every Slack call of this process uses (Slack's timeout, rustls).
pub(super) fn http_client(routes: &Routes) -> Result<reqwest::Client, DeliverError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(routes.timeout)
        .build()
        .map_err(DeliverError::Http)
}

/// A plain-text message: `text` cleaned to one line and escaped as any value.
pub(super) fn plain_payload(text: &str) -> serde_json::Value {
    serde_json::json!({ "text": escape::mrkdwn(&escape::clean(text, Lines::One)) })
}
