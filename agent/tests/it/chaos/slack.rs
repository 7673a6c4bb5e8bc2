//! Slack refusals are classified, not dropped: a broken destination keeps its messages
//! until it works again, a refused payload still reaches the channel.
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use vigil_agent::alerts::live::LiveState;
use vigil_agent::alerts::state::{Notification, StateDoc};
use vigil_agent::alerts::store::Store;
use vigil_agent::config::alerting::AlertingConfig;
use vigil_agent::sinks::slack::{Deliverer, Renderer};
use vigil_agent::telemetry::Metrics;
use vigil_tests::{SlackRecorder, eventually};

use crate::common::{TempDir, firing};

async fn deliver(
    cfg: &AlertingConfig,
    dir: &TempDir,
    notifications: Vec<Notification>,
) -> (Arc<LiveState>, watch::Sender<bool>, Arc<Metrics>) {
    let store = Store::File(dir.path().join("state.json"));
    let mut doc = StateDoc::default();
    for n in notifications {
        doc.push(n);
    }
    store.save(&doc).await.unwrap();
    let live = Arc::new(LiveState::new(store.load().await.unwrap(), store.clone()));
    let renderer = Arc::new(Renderer::new("it", &cfg.routes.templates).unwrap());
    let metrics = Arc::new(Metrics::new("it"));
    let d = Deliverer::new(live.clone(), Arc::new(cfg.routes.clone()), renderer)
        .unwrap()
        .with_metrics(metrics.clone());
    let (tx, rx) = watch::channel(false);
    tokio::spawn(d.run(rx));
    (live, tx, metrics)
}

/// The bot token is revoked (`invalid_auth`): nothing is dropped; once the Secret's file
/// holds the new token, every notification is posted, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_keeps_every_notification_until_the_rotated_secret_works() {
    let rec = SlackRecorder::start().await.unwrap();
    rec.require_token(Some("xoxb-new"));
    let dir = TempDir::new("chaos-slack-token");
    let token = dir.file("token", "xoxb-old\n");
    let cfg = AlertingConfig::parse(
        &format!(
            "slack: {{default: {{bot_token: {{file: {}}}, channel: C-OPS}}, api_url: '{}', min_interval: 100ms}}",
            token.display(),
            rec.api_url()
        ),
        Path::new("cluster.yaml"),
    )
    .unwrap();
    let (live, _stop, metrics) =
        deliver(&cfg, &dir, (0..3).map(|i| firing(i, None)).collect()).await;
    eventually("refused attempts", Duration::from_secs(20), || async {
        let refused = rec
            .requests()
            .iter()
            .filter(|r| r.body.get("channel").is_some())
            .count();
        if refused >= 2 {
            Ok(())
        } else {
            Err(format!("{refused} attempts"))
        }
    })
    .await;
    assert!(
        rec.delivered().iter().all(|r| r.ts.is_none()),
        "nothing was posted"
    );
    assert_eq!(
        live.with(|d| d.outbox.len()),
        3,
        "every notification is kept"
    );
    // the default destination is the broken one: /metrics is where that shows
    let blocked = "vigil_slack_blocked{destination=\"C-OPS\"}";
    assert!(
        metrics.render().contains(&format!("{blocked} 1")),
        "{}",
        metrics.render()
    );

    std::fs::write(&token, "xoxb-new\n").unwrap();
    eventually(
        "all three posted with the rotated token",
        Duration::from_secs(30),
        || async {
            let posted = rec.requests().iter().filter(|r| r.ts.is_some()).count();
            if posted == 3 {
                Ok(())
            } else {
                Err(format!("{posted} posted"))
            }
        },
    )
    .await;
    assert_eq!(live.with(|d| d.outbox.len()), 0);
    assert!(metrics.render().contains(&format!("{blocked} 0")));
}

/// Slack refuses the message's blocks (`invalid_blocks`): the incident is posted as plain
/// text instead of being dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_blocks_still_reach_the_channel_as_plain_text() {
    let rec = SlackRecorder::start().await.unwrap();
    rec.refuse_blocks(true);
    let dir = TempDir::new("chaos-slack-blocks");
    let hook = dir.secret("hook", &rec.webhook_url("ops"));
    let cfg = AlertingConfig::parse(
        &format!("slack: {{default: {{webhook: {hook}}}, min_interval: 100ms}}"),
        Path::new("cluster.yaml"),
    )
    .unwrap();
    let (live, _stop, _) = deliver(&cfg, &dir, vec![firing(7, None)]).await;
    eventually(
        "the plain-text message",
        Duration::from_secs(20),
        || async {
            let ok: Vec<_> = rec.delivered();
            match ok.first() {
                Some(r) if r.body.get("blocks").is_none() => Ok(r.text()),
                _ => Err(format!("{} requests", rec.requests().len())),
            }
        },
    )
    .await;
    let text = rec.delivered()[0].text();
    assert!(
        text.contains("PodCrashLooping") && text.contains("Pod/web-007"),
        "{text}"
    );
    assert_eq!(live.with(|d| d.outbox.len()), 0);
}

/// A tenant's webhook was deleted (`no_service`): its notifications wait, the default
/// destination is told once, and they are posted when the webhook answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_tenant_webhook_is_reported_to_the_default_destination() {
    let rec = SlackRecorder::start().await.unwrap();
    rec.refuse_webhook("acme", Some("no_service"));
    let dir = TempDir::new("chaos-slack-tenant");
    let ops = dir.secret("ops", &rec.webhook_url("ops"));
    let acme = dir.secret("acme", &rec.webhook_url("acme"));
    let cfg = AlertingConfig::parse(
        &format!(
            "slack: {{default: {{webhook: {ops}}}, tenants: {{acme: {{webhook: {acme}}}}}, min_interval: 100ms}}"
        ),
        Path::new("cluster.yaml"),
    )
    .unwrap();
    let (live, _stop, _) = deliver(
        &cfg,
        &dir,
        (0..2).map(|i| firing(i, Some("acme"))).collect(),
    )
    .await;
    eventually(
        "the default destination is told",
        Duration::from_secs(20),
        || async {
            let told = rec
                .delivered()
                .iter()
                .filter(|r| r.method == "webhook/ops" && r.text().contains("refuses every message"))
                .count();
            if told >= 1 {
                Ok(())
            } else {
                Err(format!("{} requests", rec.requests().len()))
            }
        },
    )
    .await;
    assert_eq!(live.with(|d| d.outbox.len()), 2, "kept");
    rec.refuse_webhook("acme", None);
    eventually(
        "posted once the webhook answers",
        Duration::from_secs(30),
        || async {
            let n = rec
                .delivered()
                .iter()
                .filter(|r| r.method == "webhook/acme")
                .count();
            if n == 2 {
                Ok(())
            } else {
                Err(format!("{n} posted"))
            }
        },
    )
    .await;
    let told = rec
        .delivered()
        .iter()
        .filter(|r| r.method == "webhook/ops")
        .count();
    assert_eq!(told, 1, "told once per episode");
}
