//! A maintenance window silences what starts inside it and, when it ends, posts a summary
//! of what was silenced; an incident still firing then is posted at the end.
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use vigil_agent::alerts::state::StateDoc;
use vigil_tests::{Fault, eventually, require_sandbox, wait_for};

use super::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_window_suppresses_and_summarises() {
    let sb = require_sandbox!();
    let (client, kubelet, ns, rec, dir, _nodes) = stage(sb, "al-maint", 1).await;
    for p in ["a", "b"] {
        pod(&client, &ns.name, p, &kubelet, None).await;
    }
    for p in ["a", "b"] {
        running(&client, &ns.name, p).await;
    }
    let state = dir.path().join("state.json");
    // a window opening a few seconds from now (daily at that second), 15 s long
    let opens = SystemTime::now() + Duration::from_secs(4);
    let at: DateTime<Utc> = opens.into();
    let cron = at.format("%S %M %H * * *").to_string();
    let cfg = bot_config(
        &dir,
        &rec.api_url(),
        &ns.name,
        &format!(
            "  state_file: {}\n  node_selector: vigil.dev/pool={}",
            state.display(),
            kubelet.pool()
        ),
        &format!(
            "rules: {{PodCrashLooping: {{for: 1s, window: 1s}}}}
maintenance:
  - {{name: upgrade, cron: '{cron}', duration: 15s, namespaces: [{}]}}",
            ns.name
        ),
    );
    let _agent = Agent::start(sb, &dir, &cfg, None, "a");
    eventually("the window is open", Duration::from_secs(30), || async {
        if SystemTime::now() > opens + Duration::from_millis(500) {
            Ok(())
        } else {
            Err("not yet".to_string())
        }
    })
    .await;
    for p in ["a", "b"] {
        kubelet.inject(&ns.name, p, Fault::CrashLoop).await.unwrap();
    }
    let silenced = |n: usize| {
        let state = state.clone();
        move || {
            let state = state.clone();
            async move {
                let doc: StateDoc = serde_json::from_str(
                    &std::fs::read_to_string(&state).map_err(|e| e.to_string())?,
                )
                .map_err(|e| e.to_string())?;
                let s = doc
                    .incidents
                    .values()
                    .filter(|i| i.silenced_by.is_some())
                    .count();
                if s == n {
                    Ok(())
                } else {
                    Err(format!("{s} silenced"))
                }
            }
        }
    };
    eventually("both incidents silenced", LONG, silenced(2)).await;
    let early: Vec<String> = rec.delivered().iter().map(|r| r.text()).collect();
    assert!(
        early.is_empty(),
        "nothing posted inside the window: {early:?}"
    );
    kubelet.heal(&ns.name, "a").await.unwrap();
    eventually("a resolved inside the window", LONG, silenced(1)).await;
    let summary = wait_for(&rec, "the summary when the window ends", LONG, |reqs| {
        reqs.iter()
            .find(|r| r.text().contains("maintenance window upgrade ended"))
            .cloned()
    })
    .await;
    let text = summary.text();
    assert!(text.contains("Pod/a") && text.contains("Pod/b"), "{text}");
    assert!(text.contains("resolved after"), "{text}");
    wait_for(
        &rec,
        "b, still firing, is posted after the window",
        LONG,
        |reqs| (incidents(reqs, "Pod/b") == 1).then_some(()),
    )
    .await;
    assert!(
        incidents(&rec.delivered(), "Pod/a") == 0,
        "a resolved inside the window"
    );
    kubelet.shutdown().await.unwrap();
}

/// Incident messages (not the summary) about `object`.
fn incidents(reqs: &[vigil_tests::Recorded], object: &str) -> usize {
    parents(reqs, object)
        .iter()
        .filter(|r| {
            r.text().contains("PodCrashLooping") && !r.text().contains("maintenance window")
        })
        .count()
}
