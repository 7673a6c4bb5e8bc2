//! A clean shutdown drains the spool, for a bounded time.
use std::process::Command;
use std::time::{Duration, Instant};

use vigil_tests::{ChildProcess, eventually};

use crate::common::{BIN, TempDir, influxql, rows};
use crate::influxd::Influxd;

fn collector(dir: &TempDir, url: &str, up: &str, drain: &str) -> std::path::PathBuf {
    dir.file(
        "vigil.yaml",
        &format!(
            r#"
agent: {{name: drain, self_metrics_interval: 1h}}
spool: {{dir: {spool}}}
output:
  influxdb: {{url: "{url}", v1: {{database: drain}}, flush_interval: 1h, timeout: 1s, drain_timeout: {drain}}}
defaults: {{interval: 1s, jitter: 0s}}
devices:
  - name: up
    address: {up}
    icmp: {{count: 1}}
"#,
            spool = dir.path().join("spool").display(),
        ),
    )
}

fn start(cfg: &std::path::Path, log: std::path::PathBuf) -> ChildProcess {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--config"])
        .arg(cfg)
        .env("VIGIL_LOG", "info,vigil_agent::scheduler=debug");
    ChildProcess::spawn(cmd, log)
}

fn handed_over(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("poll handed over"))
        .count()
}

/// With InfluxDB up, SIGTERM delivers everything collected before the process exits (the
/// batches wait for an hour-long flush interval until then); with InfluxDB down, the
/// process exits after `drain_timeout` and says how many points wait for the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_delivers_what_is_spooled_within_the_drain_timeout() {
    let sb = vigil_tests::require_sandbox!();
    let dir = TempDir::new("chaos-drain");
    let mut influx = Influxd::start(dir.path().to_path_buf()).await;
    influx.create_db("drain").await;
    let cfg = collector(&dir, &influx.url, &sb.icmp_host("up").to_string(), "3s");
    let log = dir.path().join("agent.log");
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();

    let mut agent = start(&cfg, log.clone());
    eventually("polls handed over", Duration::from_secs(20), || async {
        let n = handed_over(&read_log());
        if n >= 3 {
            Ok(())
        } else {
            Err(format!("{n} handed over"))
        }
    })
    .await;
    agent.terminate(Duration::from_secs(20));
    let sent = handed_over(&read_log());
    let v = influxql(&influx.url, "drain", "SELECT packets_received FROM ping")
        .await
        .unwrap();
    assert_eq!(
        rows(&v).len(),
        sent,
        "every poll handed over was delivered on SIGTERM"
    );
    assert!(read_log().contains("the spool is empty"), "{}", read_log());

    // InfluxDB down: the drain is bounded and the rest is announced
    influx.down();
    let log2 = dir.path().join("agent2.log");
    let mut agent = start(&cfg, log2.clone());
    eventually("polls handed over", Duration::from_secs(20), || async {
        let n = handed_over(&std::fs::read_to_string(&log2).unwrap_or_default());
        if n >= 2 {
            Ok(())
        } else {
            Err(format!("{n} handed over"))
        }
    })
    .await;
    let t = Instant::now();
    agent.terminate(Duration::from_secs(20));
    let took = t.elapsed();
    let text = std::fs::read_to_string(&log2).unwrap_or_default();
    assert!(
        took >= Duration::from_secs(3),
        "tried for the drain timeout: {took:?}"
    );
    assert!(took < Duration::from_secs(10), "bounded: {took:?}");
    assert!(
        text.contains("points left in the spool for the next start"),
        "{text}"
    );
}
