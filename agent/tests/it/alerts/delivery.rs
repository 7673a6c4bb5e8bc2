//! Slack delivery through outages and rate limits, against the recorder: a Slack outage
//! (HTTP 500) with an agent restart in the middle, then a storm of 429s. Every
//! notification arrives exactly once and in order, no channel gets more than one message
//! per `min_interval`, and nothing is sent before a `Retry-After` has passed.
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use vigil_agent::alerts::live::LiveState;
use vigil_agent::alerts::state::{Notification, StateDoc};
use vigil_agent::alerts::store::Store;
use vigil_agent::config::alerting::AlertingConfig;
use vigil_agent::sinks::slack::{Deliverer, Renderer};
use vigil_tests::{SlackFailure, SlackRecorder, eventually};

use crate::common::{TempDir, secret};

fn config(dir: &TempDir, url: &str) -> AlertingConfig {
    let hook = secret(dir, "hook", url);
    let text = format!("slack: {{default: {{webhook: {hook}}}, min_interval: 300ms}}");
    AlertingConfig::parse(&text, Path::new("cluster.yaml")).unwrap()
}

fn firing(i: usize) -> Notification {
    crate::common::firing(i, None)
}

fn start(
    cfg: &AlertingConfig,
    shared: Arc<LiveState>,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let renderer = Arc::new(Renderer::new("it", &cfg.routes.templates).unwrap());
    let d = Deliverer::new(shared, Arc::new(cfg.routes.clone()), renderer).unwrap();
    let (tx, rx) = watch::channel(false);
    (tx, tokio::spawn(d.run(rx)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_restart_and_429_storm_lose_and_duplicate_nothing() {
    let rec = SlackRecorder::start().await.unwrap();
    let dir = TempDir::new("alerts-delivery");
    let cfg = config(&dir, &rec.webhook_url("ops"));
    let store = Store::File(dir.path().join("state.json"));
    let mut doc = StateDoc::default();
    for i in 0..12 {
        doc.push(firing(i));
    }
    store.save(&doc).await.unwrap();

    // Slack is down: the first agent only fails, then "crashes"
    rec.set_down(Some(SlackFailure::ServerError));
    let shared = Arc::new(LiveState::new(store.load().await.unwrap(), store.clone()));
    let (_stop, task) = start(&cfg, shared);
    eventually("retries during the outage", Duration::from_secs(30), || {
        let n = rec.requests().len();
        async move {
            if n >= 3 {
                Ok(())
            } else {
                Err(format!("{n} attempts"))
            }
        }
    })
    .await;
    task.abort();
    let _ = task.await;

    // a new agent picks up the persisted outbox; Slack is still down for a while
    let shared = Arc::new(LiveState::new(store.load().await.unwrap(), store.clone()));
    assert_eq!(
        shared.with(|d| d.outbox.len()),
        12,
        "the outbox survived the restart"
    );
    let (stop, task) = start(&cfg, shared.clone());
    let before = rec.requests().len();
    eventually(
        "more retries after the restart",
        Duration::from_secs(30),
        || {
            let n = rec.requests().len();
            async move {
                if n > before + 1 {
                    Ok(())
                } else {
                    Err(format!("{n} attempts"))
                }
            }
        },
    )
    .await;
    // Slack comes back, then rate-limits a burst of requests
    rec.fail_next(4, SlackFailure::RateLimited { retry_after_s: 1.5 });
    rec.set_down(None);
    eventually("all 12 delivered", Duration::from_secs(60), || {
        let n = rec.delivered().len();
        async move {
            if n >= 12 {
                Ok(())
            } else {
                Err(format!("{n} delivered"))
            }
        }
    })
    .await;
    let _ = stop.send(true);
    let _ = task.await;

    let reqs = rec.requests();
    let delivered: Vec<_> = reqs.iter().filter(|r| r.ok()).collect();
    let objects: Vec<String> = delivered
        .iter()
        .map(|r| {
            let t = r.text();
            let at = t.find("Pod/web-").unwrap();
            t[at..at + 11].to_string()
        })
        .collect();
    let expected: Vec<String> = (0..12).map(|i| format!("Pod/web-{i:03}")).collect();
    assert_eq!(objects, expected, "every notification once, in order");
    for w in delivered.windows(2) {
        let gap = w[1].at.duration_since(w[0].at);
        assert!(
            gap >= Duration::from_millis(280),
            "two messages {gap:?} apart on one channel"
        );
    }
    for (i, r) in reqs.iter().enumerate() {
        if r.status == 429
            && let Some(next) = reqs.get(i + 1)
        {
            let gap = next.at.duration_since(r.at);
            assert!(
                gap >= Duration::from_millis(1450),
                "retried {gap:?} after a 429 with Retry-After 1.5"
            );
        }
    }
    assert!(shared.with(|d| d.outbox.is_empty()));
    assert_eq!(
        store.load().await.unwrap().outbox.len(),
        0,
        "the delivered state is persisted"
    );
}
