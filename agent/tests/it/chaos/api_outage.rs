//! An API-server outage is visible: each watch's age on /metrics, `/readyz` failing past
//! `watch_staleness`, and one `AlertingDegraded` message posted directly by the last
//! leader (never by the other agents), with one resolve when the API server is back. The
//! partition is a loopback forwarder between the agents and the API server that the test
//! cuts (every connection closed, new ones refused) and restores.

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use vigil_tests::{Forwarder, require_sandbox};

use crate::alerts::common::{
    Agent, LONG, api_address, bot_config, http_get, kubeconfig_via, stage,
};

/// The largest `vigil_watch_age_seconds` series.
async fn watch_age(listen: &str) -> Result<f64, String> {
    let (_, text) = http_get(listen, "/metrics").await?;
    let ages: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("vigil_watch_age_seconds{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    if ages.is_empty() {
        return Err("no vigil_watch_age_seconds series".into());
    }
    Ok(ages.into_iter().fold(0.0, f64::max))
}

fn count(rec: &vigil_tests::SlackRecorder, needle: &str) -> usize {
    rec.delivered()
        .iter()
        .filter(|r| r.text().contains(needle))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_outage_is_told_once_by_the_last_leader_and_fails_readyz() {
    let sb = require_sandbox!();
    let (client, kubelet, ns, rec, dir, _nodes) = stage(sb, "chaos-api", 2).await;
    let api = api_address(sb);
    let mut fwd = Forwarder::start(&api).await.unwrap();
    let through = kubeconfig_via(sb, &dir, fwd.addr());
    let template = bot_config(
        &dir,
        &rec.api_url(),
        &ns.name,
        &format!(
            "  kubeconfig: {}\n  listen: \"LISTEN\"\n  lease_duration: 3s\n  \
             watch_staleness: 2s\n  degraded_after: 4s\n  node_selector: vigil.dev/pool={}",
            through.display(),
            kubelet.pool()
        ),
        "",
    );
    let template = std::fs::read_to_string(template).unwrap();
    let nodes = kubelet.node_names().to_vec();
    let mut agents = Vec::new();
    let mut listens = Vec::new();
    for n in &nodes {
        let listen = format!("127.0.0.1:{}", crate::common::free_port());
        let cfg = dir.file(&format!("{n}.yaml"), &template.replace("LISTEN", &listen));
        agents.push(Agent::start(sb, &dir, &cfg, Some(n), n));
        listens.push(listen);
    }
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns.name);
    let leader = vigil_tests::eventually("a leader and every agent ready", LONG, || async {
        for l in &listens {
            match http_get(l, "/readyz").await {
                Ok((200, _)) => {}
                other => return Err(format!("{l} /readyz {other:?}")),
            }
        }
        let lease = leases
            .get_opt("vigil-agent-leader")
            .await
            .map_err(|e| e.to_string())?;
        lease
            .and_then(|l| l.spec?.holder_identity)
            .ok_or_else(|| "no leader yet".to_string())
    })
    .await;
    let li = nodes.iter().position(|n| *n == leader).unwrap();
    assert_eq!(count(&rec, "AlertingDegraded"), 0);

    fwd.cut();
    vigil_tests::eventually(
        "every agent stale: /readyz 503 and the watch age past 2 s",
        LONG,
        || async {
            for l in &listens {
                let (status, _) = http_get(l, "/readyz").await?;
                let age = watch_age(l).await?;
                if status != 503 || age <= 2.0 {
                    return Err(format!("{l}: /readyz {status}, watch age {age}"));
                }
            }
            Ok(())
        },
    )
    .await;
    vigil_tests::eventually("AlertingDegraded posted", LONG, || async {
        match count(&rec, "AlertingDegraded critical") {
            0 => Err("not yet".to_string()),
            n => Ok(n),
        }
    })
    .await;

    fwd.restore().await.unwrap();
    vigil_tests::eventually("AlertingDegraded resolved", LONG, || async {
        match count(&rec, "AlertingDegraded resolved") {
            0 => Err("not yet".to_string()),
            n => Ok(n),
        }
    })
    .await;
    vigil_tests::eventually("every agent ready again", LONG, || async {
        for l in &listens {
            match http_get(l, "/readyz").await {
                Ok((200, _)) => {}
                other => {
                    let (_, m) = http_get(l, "/metrics").await?;
                    let ages: Vec<&str> = m
                        .lines()
                        .filter(|l| l.starts_with("vigil_watch_age_seconds{"))
                        .collect();
                    return Err(format!("{l} /readyz {other:?}, {ages:?}"));
                }
            }
        }
        Ok(())
    })
    .await;
    assert_eq!(
        count(&rec, "AlertingDegraded critical"),
        1,
        "told more than once"
    );
    assert_eq!(count(&rec, "AlertingDegraded resolved"), 1);
    let said = |i: usize| agents[i].logs().contains("alerting is degraded");
    assert!(said(li), "the last leader did not say it");
    for i in (0..agents.len()).filter(|&i| i != li) {
        assert!(
            !said(i),
            "agent {} spoke too:\n{}",
            nodes[i],
            agents[i].logs()
        );
    }
    kubelet.shutdown().await.unwrap();
}
