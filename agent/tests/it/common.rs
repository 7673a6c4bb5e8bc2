//! Shared helpers of the agent's tests: configurations, one collection cycle, the agent
//! binary as a child process (temp dirs, ports and InfluxQL come from vigil-tests).
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use vigil_agent::config::Config;
use vigil_agent::point::Point;
use vigil_agent::scheduler::{Scheduler, collect_once};
use vigil_agent::schema::Schema;
use vigil_agent::sources::icmp::Pinger;
use vigil_agent::telemetry::Metrics;
use vigil_tests::ChildProcess;

pub const BIN: &str = env!("CARGO_BIN_EXE_vigil-agent");

pub use vigil_tests::{TempDir, free_port, influxql, rows};

/// Loads a configuration written into `dir`.
pub fn config(dir: &TempDir, yaml: &str) -> Config {
    let p = dir.file("vigil.yaml", yaml);
    Config::load(&p).unwrap_or_else(|e| panic!("config: {e}\n{yaml}"))
}

/// Secrets for test configurations go into files (tests cannot set env vars safely).
pub fn secret(dir: &TempDir, name: &str, value: &str) -> String {
    format!("{{file: {}}}", dir.file(name, value).display())
}

/// One collection cycle through the library (the same path as `vigil-agent once`).
pub async fn collect(cfg: &Config) -> (Vec<Point>, Vec<(String, String)>) {
    let pinger = if cfg.devices.iter().any(|d| d.icmp.is_some()) {
        Some(Arc::new(Pinger::new(cfg.agent.icmp_rate).unwrap()))
    } else {
        None
    };
    let scheduler = Scheduler {
        alerting: None,
        metrics: Arc::new(Metrics::new("it")),
        sink: None,
        pinger,
        snmp_limit: Arc::new(Semaphore::new(cfg.agent.concurrency)),
    };
    collect_once(&scheduler, &cfg.devices).await
}

/// Every point must be described by schema/metrics.json.
pub fn assert_schema(points: &[Point], device_tags: &[&str]) {
    let s = Schema::load().unwrap();
    let extra: BTreeSet<String> = device_tags.iter().map(|s| s.to_string()).collect();
    for p in points {
        s.check(p, &extra).unwrap_or_else(|e| panic!("{e}: {p:?}"));
    }
}

/// A running `vigil-agent run`, killed (SIGKILL) when dropped.
pub struct Agent(pub ChildProcess);

impl Agent {
    pub fn start(config: &Path, log: PathBuf) -> Agent {
        let mut cmd = Command::new(BIN);
        cmd.args(["run", "--config"])
            .arg(config)
            .env("VIGIL_LOG", "info");
        Agent(ChildProcess::spawn(cmd, log))
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) {
        self.0.terminate(Duration::from_secs(20));
    }
}

/// One sample of the agent's `/metrics` at `listen`; `name` may include labels.
pub async fn metric(listen: &str, name: &str) -> Result<f64, String> {
    let t = vigil_tests::http()
        .get(format!("http://{listen}/metrics"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    t.lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{name} "))
                .and_then(|v| v.parse().ok())
        })
        .ok_or_else(|| format!("{name} not in /metrics"))
}

/// A firing PodCrashLooping notification for pod `web-<i>` (of `tenant`), as the engine
/// queues it: for delivery tests that start from an outbox.
pub fn firing(i: usize, tenant: Option<&str>) -> vigil_agent::alerts::state::Notification {
    use vigil_agent::alerts::signal::{Scope, Severity, Signal};
    use vigil_agent::alerts::state::{Kind, Notification};
    let s = Signal::new(
        "PodCrashLooping",
        Severity::Critical,
        Scope {
            tenant: tenant.map(str::to_owned),
            namespace: Some("shop".into()),
            object: format!("Pod/web-{i:03}"),
            ..Default::default()
        },
        &format!("web-{i}"),
    )
    .summary("container app is crash-looping");
    Notification {
        seq: 0,
        kind: Kind::Firing,
        incident: format!("{}@1", s.fingerprint),
        thread: format!("{}@1", s.fingerprint),
        signal: s,
        started_ms: 1_800_000_000_000,
        at_ms: 1_800_000_000_000,
        lines: vec![],
    }
}
