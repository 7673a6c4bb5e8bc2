//! Leader election with a `coordination.k8s.io/v1` Lease in the agent's namespace: the
//! holder renews it every third of its duration; anyone may take it over once *this*
//! candidate has seen it unchanged for the full duration (measured on its own monotonic
//! clock: another node's wall clock is never compared with ours). Writes use the lease's
//! resourceVersion, so two candidates can never both win. Every call has a timeout, and a
//! leader that has not renewed within two thirds of the duration (monotonic, from its last
//! successful renewal) steps down before anyone else may take over.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::watch;

use super::ApiContact;

pub struct Election {
    pub api: Api<Lease>,
    pub name: String,
    pub identity: String,
    pub duration: Duration,
    /// Told of every answered and failed lease call.
    pub contact: ApiContact,
    /// True from the moment this candidate leads until it sees another holder: a leader
    /// that stepped down because the API server was out of reach is still the last one
    /// known, and the one to say so.
    pub last_leader: Arc<AtomicBool>,
}

/// Another holder's lease as this candidate last saw it, and since when (monotonic).
#[derive(Debug, Default)]
pub struct Observed {
    record: Option<(String, Option<MicroTime>, Option<i32>)>,
    since: Option<Instant>,
}

impl Observed {
    /// Whether the lease has stayed exactly as it is for longer than its duration, by this
    /// candidate's own clock. A lease with no holder or no renewal is free at once.
    fn expired(&mut self, spec: &LeaseSpec, now: Instant) -> bool {
        let (Some(holder), Some(_), Some(secs)) = (
            spec.holder_identity.clone().filter(|h| !h.is_empty()),
            &spec.renew_time,
            spec.lease_duration_seconds,
        ) else {
            return true;
        };
        let record = (holder, spec.renew_time.clone(), Some(secs));
        if self.record.as_ref() != Some(&record) {
            self.record = Some(record);
            self.since = Some(now);
            return false;
        }
        let held = Duration::from_secs(u64::try_from(secs.max(1)).unwrap_or(1));
        self.since
            .is_some_and(|t| now.saturating_duration_since(t) > held)
    }
}

impl Election {
    fn secs(&self) -> i32 {
        i32::try_from(self.duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    /// One attempt to acquire or renew. `Ok(true)` while this candidate holds the lease.
    pub async fn try_acquire(&self, observed: &mut Observed) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(self.secs()),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let mine = holder == self.identity;
        if !mine && !observed.expired(&spec, Instant::now()) {
            return Ok(false);
        }
        if !mine {
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            tracing::info!(previous = %holder, identity = %self.identity, "taking over the leader lease");
        }
        spec.holder_identity = Some(self.identity.clone());
        spec.renew_time = Some(MicroTime(now));
        spec.lease_duration_seconds = Some(self.secs());
        lease.spec = Some(spec);
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the lease up (on shutdown), so another candidate takes over at once.
    pub async fn release(&self) {
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await
            && let Some(spec) = lease.spec.as_mut()
            && spec.holder_identity.as_deref() == Some(self.identity.as_str())
        {
            spec.holder_identity = None;
            spec.renew_time = None;
            let _ = self
                .api
                .replace(&self.name, &PostParams::default(), &lease)
                .await;
        }
    }

    /// Campaigns until `stop`; `leading` tells whether this candidate leads now.
    pub async fn run(self, leading: watch::Sender<bool>, mut stop: watch::Receiver<bool>) {
        // the holder renews every third of the duration; candidates look ten times per
        // duration, so a dead leader is replaced soon after its lease runs out
        let renew = self.duration / 3;
        let watch = (self.duration / 10).max(Duration::from_millis(200));
        let deadline = self.duration * 2 / 3;
        // a hung call must not keep a leader in charge past its deadline
        let call_timeout = renew.max(Duration::from_millis(500));
        let mut last_renew: Option<Instant> = None;
        let mut observed = Observed::default();
        loop {
            let attempt = tokio::time::timeout(call_timeout, self.try_acquire(&mut observed))
                .await
                .unwrap_or_else(|_| {
                    Err(kube::Error::Service(
                        format!("no answer within {call_timeout:?}").into(),
                    ))
                });
            match &attempt {
                Ok(_) => self.contact.answered(super::health::ELECTION, "Lease"),
                Err(_) => self.contact.failed(super::health::ELECTION, "Lease"),
            }
            match attempt {
                Ok(true) => {
                    last_renew = Some(Instant::now());
                    self.last_leader.store(true, Ordering::Relaxed);
                    if !*leading.borrow() {
                        tracing::info!(identity = %self.identity, lease = %self.name, "became the leader");
                        let _ = leading.send(true);
                    }
                }
                Ok(false) => {
                    last_renew = None;
                    self.last_leader.store(false, Ordering::Relaxed);
                    if *leading.borrow() {
                        tracing::warn!(identity = %self.identity, "lost the leader lease");
                        let _ = leading.send(false);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "leader lease update failed");
                    if *leading.borrow() && last_renew.is_none_or(|t| t.elapsed() >= deadline) {
                        tracing::warn!(identity = %self.identity, "cannot renew the lease in time: stepping down");
                        let _ = leading.send(false);
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(if *leading.borrow() { renew } else { watch }) => {}
                r = stop.changed() => {
                    if r.is_err() || *stop.borrow() {
                        if *leading.borrow() {
                            let _ = leading.send(false);
                            self.release().await;
                        }
                        return;
                    }
                }
            }
        }
    }
}
