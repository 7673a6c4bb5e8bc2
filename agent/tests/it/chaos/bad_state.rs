//! A bad alert state file never stops collection.
use std::time::Duration;

use vigil_tests::{
    SlackRecorder, create_database, eventually, influxql, require_sandbox, rows, unique, wait_for,
};

use crate::common::{Agent, TempDir, secret};

/// The collector's alert state file holds garbage (a disk error, a hand edit): polling
/// starts anyway and its points reach InfluxDB, the bad file is kept aside (never
/// deleted), a fresh state is written, and the service desk is told once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_alert_state_never_stops_collection() {
    let sb = require_sandbox!();
    let rec = SlackRecorder::start().await.unwrap();
    let dir = TempDir::new("chaos-bad-state");
    let db = create_database(
        &sb.influxdb_url,
        &unique("vigil_bad_state").replace('-', "_"),
    )
    .await
    .unwrap();
    let state = dir.path().join("alerts-state.json");
    std::fs::write(&state, "{\"incidents\": {\"truncated").unwrap();
    let hook = secret(&dir, "hook", &rec.webhook_url("acme"));
    let alerts = dir.file(
        "alerts.yaml",
        &format!(
            "cluster: {{name: collector, state_file: {}, evaluation_interval: 200ms}}\n\
             slack: {{default: {{webhook: {hook}}}, min_interval: 100ms}}\n",
            state.display()
        ),
    );
    let collector = dir.file(
        "vigil.yaml",
        &format!(
            "agent: {{name: acme-collector, tenant: acme, alerts: {alerts}}}\n\
             spool: {{dir: {spool}}}\n\
             output: {{influxdb: {{url: {url}, v1: {{database: {db}}}, flush_interval: 200ms}}}}\n\
             defaults:\n  interval: 1s\n  jitter: 0s\n  icmp: {{count: 1, interval: 50ms, timeout: 300ms}}\n\
             devices:\n\
             - {{name: core, address: {up}, icmp: true}}\n",
            alerts = alerts.display(),
            spool = dir.path().join("spool").display(),
            url = sb.influxdb_url,
            up = sb.icmp_host("up"),
        ),
    );
    let agent = Agent::start(&collector, dir.path().join("agent.log"));
    let url = sb.influxdb_url.clone();
    let log = agent.0.log.clone();
    eventually(
        "points of the polled device in InfluxDB",
        Duration::from_secs(30),
        || {
            let (url, db, log) = (url.clone(), db.clone(), log.clone());
            async move {
                let v = influxql(&url, &db, "SELECT count(percent_packet_loss) FROM ping")
                    .await
                    .map_err(|e| format!("{e:#}"))?;
                match rows(&v)
                    .first()
                    .and_then(|r| r.get(1))
                    .and_then(serde_json::Value::as_u64)
                {
                    Some(n) if n >= 2 => Ok(()),
                    other => Err(format!(
                        "count {other:?}; log:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    )),
                }
            }
        },
    )
    .await;
    wait_for(
        &rec,
        "the state reset notice",
        Duration::from_secs(30),
        |reqs| {
            reqs.iter()
                .any(|r| r.text().contains("AlertStateReset"))
                .then_some(())
        },
    )
    .await;
    let kept: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .collect();
    assert_eq!(kept.len(), 1, "the bad state is kept aside, once");
    assert_eq!(
        std::fs::read_to_string(kept[0].path()).unwrap(),
        "{\"incidents\": {\"truncated",
        "kept as it was"
    );
    agent.stop();
    let saved = std::fs::read_to_string(&state).expect("a fresh state is written");
    serde_json::from_str::<serde_json::Value>(&saved).expect("the fresh state decodes");
    let notices = rec
        .delivered()
        .iter()
        .filter(|r| r.text().contains("AlertStateReset"))
        .count();
    assert_eq!(notices, 1, "told once");
}
