//! An agent crash (SIGKILL) in the middle of an incident: the restarted agent does not
//! post the incident again, and its resolution lands in the original thread.
use vigil_tests::{Fault, require_sandbox, wait_for};

use vigil_agent::alerts::store::Store;

use super::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_incident_neither_duplicates_nor_loses_the_resolve() {
    let sb = require_sandbox!();
    let (client, kubelet, ns, rec, dir, _nodes) = stage(sb, "al-restart", 1).await;
    let cfg = bot_config(
        &dir,
        &rec.api_url(),
        &ns.name,
        &standalone(&dir, kubelet.pool()),
        "rules: {PodCrashLooping: {for: 1s, window: 1s}}",
    );
    pod(&client, &ns.name, "web", &kubelet, None).await;
    running(&client, &ns.name, "web").await;
    let mut first = Agent::start(sb, &dir, &cfg, None, "first");
    kubelet
        .inject(&ns.name, "web", Fault::CrashLoop)
        .await
        .unwrap();
    let ts = wait_for(&rec, "crash loop fired", LONG, |reqs| {
        parents(reqs, "Pod/web").first().and_then(|r| r.ts.clone())
    })
    .await;
    ledger_persisted(&Store::File(dir.path().join("state.json")), 1).await;
    first.kill();
    let second = Agent::start(sb, &dir, &cfg, None, "second");
    vigil_tests::eventually("restarted agent evaluating", LONG, || {
        let logs = second.logs();
        async move {
            if logs.contains("alert evaluation running") {
                Ok(())
            } else {
                Err(logs)
            }
        }
    })
    .await;
    kubelet.heal(&ns.name, "web").await.unwrap();
    wait_for(&rec, "resolved in the original thread", LONG, |reqs| {
        let replied = replies(reqs, &ts)
            .iter()
            .any(|r| r.text().contains("resolved after"));
        (replied && !updates(reqs, &ts).is_empty()).then_some(())
    })
    .await;
    let reqs = rec.delivered();
    assert_eq!(
        parents(&reqs, "Pod/web").len(),
        1,
        "the restart posted the incident again"
    );
    kubelet.shutdown().await.unwrap();
}
