//! One device that never answers among 100 healthy ones: the healthy ones stay on
//! schedule, even with a small concurrency limit.
use std::time::{Duration, Instant};

use vigil_tests::eventually;

use crate::common::{Agent, TempDir, free_port, secret};

fn series(metrics: &str, name: &str, device: &str) -> Option<f64> {
    let prefix = format!("{name}{{device=\"{device}\",source=\"snmp\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).and_then(|v| v.parse().ok()))
}

#[tokio::test]
async fn a_dead_device_never_delays_the_healthy_ones() {
    let sb = vigil_tests::require_sandbox!();
    let dir = TempDir::new("isolation");
    // a loopback UDP port that receives but never answers
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{}", free_port());
    let c = secret(&dir, "c", "cisco-c3560");
    let mut yaml = format!(
        "agent: {{listen: \"{listen}\", concurrency: 8}}\nspool: {{dir: {}}}\noutput:\n  influxdb: {{url: \"{}\", v1: {{database: isolation_it}}}}\ndefaults: {{interval: 3s}}\ndevices:\n  - {{name: dead, address: 127.0.0.1, snmp: {{community: {c}, port: {silent_port}, timeout: 1s, retries: 5}}, profiles: [system]}}\n",
        dir.path().join("spool").display(),
        sb.influxdb_url
    );
    for i in 0..100 {
        yaml.push_str(&format!(
            "  - {{name: ok{i:03}, address: {}, snmp: {{community: {c}, port: {}}}, profiles: [system]}}\n",
            sb.snmpsim.ip(),
            sb.snmpsim.port()
        ));
    }
    let cfg = dir.file("vigil.yaml", &yaml);
    let agent = Agent::start(&cfg, dir.path().join("agent.log"));
    let started = Instant::now();
    let http = vigil_tests::http();
    let get = || async {
        http.get(format!("http://{listen}/metrics"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())
    };
    // run until the dead device has timed out several times
    let metrics = eventually(
        "dead device timed out 4 times",
        Duration::from_secs(60),
        || async {
            let m = get().await?;
            match series(&m, "vigil_poll_timeouts_total", "dead") {
                Some(t) if t >= 4.0 => Ok(m),
                other => Err(format!("dead timeouts {other:?}")),
            }
        },
    )
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let expected_polls = (elapsed / 3.0).floor() - 1.0;
    for i in 0..100 {
        let d = format!("ok{i:03}");
        let polls = series(&metrics, "vigil_polls_total", &d).unwrap_or(0.0);
        let late = series(&metrics, "vigil_polls_late_total", &d).unwrap_or(-1.0);
        let errors = series(&metrics, "vigil_poll_errors_total", &d).unwrap_or(-1.0);
        assert!(
            polls >= expected_polls,
            "{d}: {polls} polls in {elapsed:.1}s"
        );
        assert_eq!((late, errors), (0.0, 0.0), "{d}: late polls or errors");
        let duration = series(&metrics, "vigil_poll_duration_seconds", &d).unwrap();
        assert!(duration < 1.0, "{d}: poll took {duration}s");
    }
    assert_eq!(
        series(&metrics, "vigil_poll_errors_total", "dead"),
        series(&metrics, "vigil_polls_total", "dead")
    );
    drop(silent);
    agent.stop();
}
