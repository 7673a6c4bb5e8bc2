//! InfluxDB down for two minutes during collection, and the agent restarted once during
//! the outage: afterwards every expected point (by device and timestamp) is in InfluxDB
//! exactly once, backfilled in order.
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use vigil_tests::eventually;

use crate::common::{Agent, TempDir, free_port, influxql, metric, rows, secret};
use crate::influxd::Influxd;

const INTERVAL_NS: i64 = 2_000_000_000;
const OUTAGE: Duration = Duration::from_secs(120);

/// Timestamps of one query's rows, with how many rows each timestamp has.
async fn timestamps(url: &str, db: &str, q: &str) -> BTreeMap<i64, usize> {
    let v = influxql(url, db, q).await.unwrap();
    let mut m = BTreeMap::new();
    for r in rows(&v) {
        *m.entry(r[0].as_i64().unwrap()).or_insert(0) += 1;
    }
    m
}

/// Splits timestamps into runs spaced exactly one interval apart.
fn runs(ts: &[i64]) -> Vec<Vec<i64>> {
    let mut out: Vec<Vec<i64>> = Vec::new();
    for &t in ts {
        match out.last_mut() {
            Some(run) if t - run[run.len() - 1] == INTERVAL_NS => run.push(t),
            _ => out.push(vec![t]),
        }
    }
    out
}

fn now_ns() -> i64 {
    vigil_agent::point::now_ns()
}

#[tokio::test]
async fn two_minute_outage_with_agent_restart_loses_and_duplicates_nothing() {
    let sb = vigil_tests::require_sandbox!();
    let dir = TempDir::new("outage");
    let mut influx = Influxd::start(dir.path().to_path_buf()).await;
    let db = "outage";
    influx.create_db(db).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let yaml = format!(
        r#"
agent: {{name: outage, listen: "{listen}", self_metrics_interval: 1h}}
spool: {{dir: {spool}, max_size: 64MiB}}
output:
  influxdb: {{url: "{url}", v1: {{database: {db}}}, flush_interval: 200ms, timeout: 2s, drain_timeout: 1s}}
defaults: {{interval: 2s}}
devices:
  - name: switch
    address: {sim_ip}
    snmp: {{community: {c}, port: {sim_port}}}
  - name: up
    address: {up}
    icmp: {{count: 1}}
"#,
        spool = dir.path().join("spool").display(),
        url = influx.url,
        sim_ip = sb.snmpsim.ip(),
        sim_port = sb.snmpsim.port(),
        c = secret(&dir, "c", "cisco-c3560"),
        up = sb.icmp_host("up"),
    );
    let cfg = dir.file("vigil.yaml", &yaml);
    let log = dir.path().join("agent.log");
    let agent = Agent::start(&cfg, log.clone());
    let url = influx.url.clone();
    eventually("first points written", Duration::from_secs(30), || async {
        let n = timestamps(
            &url,
            db,
            "SELECT packets_received FROM ping WHERE device = 'up'",
        )
        .await
        .len();
        if n >= 2 {
            Ok(())
        } else {
            Err(format!("{n} ping points"))
        }
    })
    .await;

    // outage: InfluxDB is killed; the agent keeps collecting into its spool
    influx.down();
    let outage_start = now_ns();
    let down_at = Instant::now();
    eventually(
        "points spooled during the outage",
        Duration::from_secs(60),
        || async {
            let p = metric(&listen, "vigil_spool_points").await?;
            if p >= 200.0 {
                Ok(())
            } else {
                Err(format!("{p} spooled"))
            }
        },
    )
    .await;
    // restart the agent in the middle of the outage: the spool survives it (SIGTERM
    // stops the polls at once, then tries to drain for drain_timeout: InfluxDB is down)
    let stopped_at = now_ns();
    agent.stop();
    let restarted_at = now_ns();
    let agent = Agent::start(&cfg, log.clone());
    eventually(
        "restarted agent backs up more points",
        Duration::from_secs(60),
        || async {
            let p = metric(&listen, "vigil_spool_points").await?;
            if p >= 400.0 {
                Ok(())
            } else {
                Err(format!("{p} spooled"))
            }
        },
    )
    .await;
    // the outage lasts two minutes in total
    tokio::time::sleep_until((down_at + OUTAGE).into()).await;
    influx.up().await;
    let outage_end = now_ns();
    eventually(
        "spool drained after recovery",
        Duration::from_secs(90),
        || async {
            let p = metric(&listen, "vigil_spool_points").await?;
            if p == 0.0 {
                Ok(())
            } else {
                Err(format!("{p} still spooled"))
            }
        },
    )
    .await;
    // the drain can finish within one interval: wait for a poll made after the outage
    // ended to land before stopping, so "collection went on" is observed, not raced
    for (name, q) in [
        (
            "ping",
            "SELECT packets_received FROM ping WHERE device = 'up'",
        ),
        ("snmp", "SELECT uptime FROM snmp WHERE device = 'switch'"),
    ] {
        eventually(
            &format!("{name} polled after recovery"),
            Duration::from_secs(30),
            || async {
                let last = timestamps(&url, db, q).await.keys().last().copied();
                match last {
                    Some(t) if t > outage_end => Ok(()),
                    other => Err(format!(
                        "last {name} point at {other:?}, outage ended {outage_end}"
                    )),
                }
            },
        )
        .await;
    }
    let dropped = metric(&listen, "vigil_points_dropped_total").await.unwrap();
    assert_eq!(dropped, 0.0);
    agent.stop();

    // every poll's timestamp is there, once, for both devices; interface rows complete
    let ping = timestamps(
        &url,
        db,
        "SELECT packets_received FROM ping WHERE device = 'up'",
    )
    .await;
    let snmp = timestamps(&url, db, "SELECT uptime FROM snmp WHERE device = 'switch'").await;
    let ifs = timestamps(
        &url,
        db,
        "SELECT ifOperStatus FROM interface WHERE device = 'switch'",
    )
    .await;
    for (name, ts) in [("ping", &ping), ("snmp", &snmp)] {
        assert!(ts.values().all(|&n| n == 1), "{name}: a timestamp twice");
        let r = runs(&ts.keys().copied().collect::<Vec<_>>());
        // two uninterrupted runs: the first agent and the restarted one
        assert_eq!(
            r.len(),
            2,
            "{name}: runs {:?}",
            r.iter().map(|r| (r[0], r.len())).collect::<Vec<_>>()
        );
        let (a, b) = (&r[0], &r[1]);
        assert!(
            a[0] < outage_start && *a.last().unwrap() >= stopped_at - 2 * INTERVAL_NS,
            "{name}: first agent's run ends at its stop"
        );
        assert!(
            b[0] <= restarted_at + 4 * INTERVAL_NS,
            "{name}: second agent starts at once"
        );
        assert!(
            *b.last().unwrap() > outage_end,
            "{name}: collection continued after recovery"
        );
        let during = ts
            .keys()
            .filter(|&&t| t > outage_start && t < outage_end)
            .count() as i64;
        assert!(
            during >= (outage_end - outage_start) / INTERVAL_NS - 4,
            "{name}: {during} points during the outage"
        );
    }
    assert_eq!(
        ifs.keys().collect::<Vec<_>>(),
        snmp.keys().collect::<Vec<_>>(),
        "interface rows at every SNMP poll"
    );
    let per_poll: Vec<usize> = ifs.values().copied().collect();
    assert!(
        per_poll.iter().all(|&n| n == per_poll[0]) && per_poll[0] > 10,
        "interfaces per poll: {per_poll:?}"
    );
}
