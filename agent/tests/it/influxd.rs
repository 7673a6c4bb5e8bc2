//! A private InfluxDB 1.x (Debian's influxd) on free loopback ports, for tests that stop
//! and start it. The shared sandbox InfluxDB is never stopped.
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vigil_tests::eventually;

use crate::common::free_port;

pub struct Influxd {
    pub url: String,
    dir: PathBuf,
    config: PathBuf,
    child: Option<Child>,
}

impl Influxd {
    /// Writes a config under `dir` and starts influxd; returns once /ping answers.
    pub async fn start(dir: PathBuf) -> Influxd {
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
            dir,
            config,
            child: None,
        };
        s.up().await;
        s
    }

    /// (Re)starts the process with the same data and waits until it answers.
    pub async fn up(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("influxd.log"))
            .unwrap();
        let child = Command::new("influxd")
            .arg("-config")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let url = self.url.clone();
        eventually(
            "private influxd answers /ping",
            Duration::from_secs(30),
            || {
                let url = url.clone();
                async move {
                    let r = vigil_tests::http()
                        .get(format!("{url}/ping"))
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    if r.status().is_success() {
                        Ok(())
                    } else {
                        Err(r.status().to_string())
                    }
                }
            },
        )
        .await;
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
