//! Shared helpers: temporary directories, configurations, running the agent binary.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use vigil_agent::config::Config;
use vigil_agent::point::Point;
use vigil_agent::scheduler::{Scheduler, collect_once};
use vigil_agent::schema::Schema;
use vigil_agent::sources::icmp::Pinger;
use vigil_agent::telemetry::Metrics;

pub const BIN: &str = env!("CARGO_BIN_EXE_vigil-agent");

/// A fresh directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!(
            "vigil-it-{name}-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes a file and returns its path.
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, content).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
}

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

/// A running `vigil-agent run`, killed when dropped.
pub struct Agent {
    pub child: Child,
    pub log: PathBuf,
}

impl Agent {
    pub fn start(config: &Path, log: PathBuf) -> Agent {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(BIN)
            .args(["run", "--config"])
            .arg(config)
            .env("VIGIL_LOG", "info")
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .unwrap();
        Agent { child, log }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(
                    status.success(),
                    "agent exited with {status}; log:\n{}",
                    self.log_text()
                );
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "agent did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// A free loopback TCP port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs an InfluxQL query against an InfluxDB 1.x and returns the JSON answer.
pub async fn influxql(url: &str, db: &str, q: &str) -> Result<serde_json::Value, String> {
    let r = vigil_tests::http()
        .get(format!("{url}/query"))
        .query(&[("db", db), ("q", q), ("epoch", "ns")])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let v: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {v}"));
    }
    Ok(v)
}

/// The rows (`values`) of the first series of an InfluxQL answer.
pub fn rows(v: &serde_json::Value) -> Vec<Vec<serde_json::Value>> {
    v["results"][0]["series"]
        .as_array()
        .map(|series| {
            series
                .iter()
                .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
                .map(|r| r.as_array().cloned().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}
