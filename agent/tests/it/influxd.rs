//! A private InfluxDB 1.x (Debian's influxd) on free loopback ports, for tests that stop
//! and start it. The shared sandbox InfluxDB is never stopped.
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::free_port;

pub struct Influxd {
    pub url: String,
    dir: PathBuf,
    config: PathBuf,
    child: Option<Child>,
}

/// How long a (re)start may take to answer /ping: influxd replays its WAL first, which on
/// this 2-core machine, beside the rest of the suite, took more than 30 s once.
const START: Duration = Duration::from_secs(120);

impl Influxd {
    /// Writes a config under `dir` and starts influxd; returns once /ping answers. A port
    /// taken between choosing it and influxd binding it makes influxd exit: then new ports
    /// are chosen (up to three times).
    pub async fn start(dir: PathBuf) -> Influxd {
        std::fs::create_dir_all(&dir).unwrap();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let http = free_port();
            let rpc = free_port();
            let config = dir.join("influxdb.conf");
            std::fs::write(
                &config,
                format!(
                    "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n[meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n[http]\n  bind-address = \"127.0.0.1:{http}\"\n  log-enabled = false\n[monitor]\n  store-enabled = false\n",
                    d = dir.display()
                ),
            )
            .unwrap();
            let mut s = Influxd {
                url: format!("http://127.0.0.1:{http}"),
                dir: dir.clone(),
                config,
                child: None,
            };
            match s.try_up().await {
                Ok(()) => return s,
                Err(why) if attempt < 3 => {
                    eprintln!("private influxd did not start ({why}); new ports");
                }
                Err(why) => panic!("private influxd did not start: {why}"),
            }
        }
    }

    /// (Re)starts the process with the same data and waits until it answers.
    pub async fn up(&mut self) {
        if let Err(why) = self.try_up().await {
            panic!("private influxd did not restart: {why}");
        }
    }

    /// Starts the process and waits, with a deadline, until /ping answers or it exits.
    async fn try_up(&mut self) -> Result<(), String> {
        let log_path = self.dir.join("influxd.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let child = Command::new("influxd")
            .arg("-config")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = std::time::Instant::now() + START;
        let tail = || {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(5)..].join("\n")
        };
        loop {
            let ping = vigil_tests::http()
                .get(format!("{}/ping", self.url))
                .send()
                .await;
            let last = match ping {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => r.status().to_string(),
                Err(e) => e.to_string(),
            };
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                self.child = None;
                return Err(format!("influxd exited ({status}):\n{}", tail()));
            }
            if std::time::Instant::now() >= deadline {
                return Err(format!(
                    "no answer to /ping after {START:?} (last: {last}):\n{}",
                    tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the process (SIGKILL: an outage, not a graceful shutdown) and waits for it.
    pub fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub async fn create_db(&self, db: &str) {
        let r = vigil_tests::http()
            .post(format!("{}/query", self.url))
            .form(&[("q", format!("CREATE DATABASE \"{db}\""))])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        self.down();
    }
}
