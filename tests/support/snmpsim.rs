//! A private snmpsim (the sandbox's own install) serving one device the test writes, for
//! tests that change what a device answers or stop and restart it. Values recorded with
//! snmpsim's `writecache` variation (`OID|2:writecache|value=1`) are changed with an SNMP
//! SET ([`SnmpSim::set`]); the sandbox's shared snmpsim is never touched.
//!
//! The community is the recording's name, as in the shared snmpsim.
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use snmp2::{AsyncSession, Oid, Value};

use crate::Sandbox;

/// A value to SET; its type must be the type of the recorded value.
#[derive(Debug, Clone, Copy)]
pub enum SetValue {
    Integer(i64),
    TimeTicks(u32),
}

pub struct SnmpSim {
    pub addr: SocketAddr,
    pub community: String,
    bin: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
}

/// Sorts snmprec lines by OID (snmpsim answers GETNEXT from the file's order).
fn sorted(snmprec: &str) -> String {
    let key = |l: &str| -> Vec<u64> {
        l.split('|')
            .next()
            .unwrap_or_default()
            .split('.')
            .filter_map(|c| c.parse().ok())
            .collect()
    };
    let mut lines: Vec<&str> = snmprec
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    lines.sort_by_key(|l| key(l));
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

fn parse_oid(text: &str) -> anyhow::Result<Oid<'static>> {
    let parts: Vec<u64> = text
        .trim_start_matches('.')
        .split('.')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad OID {text}"))?;
    Oid::from(&parts)
        .map(|o| o.to_owned())
        .map_err(|e| anyhow::anyhow!("bad OID {text}: {e:?}"))
}

impl SnmpSim {
    /// Writes `snmprec` as the recording `community` under `dir` and starts snmpsim on a
    /// free loopback port; returns once it answers a GET of sysName.0.
    pub async fn start(
        sb: &Sandbox,
        dir: PathBuf,
        community: &str,
        snmprec: &str,
    ) -> anyhow::Result<SnmpSim> {
        let data = dir.join("data");
        std::fs::create_dir_all(&data)?;
        // snmpsim drops root to nobody, who must read the data
        for d in [&dir, &data] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755))?;
        }
        std::fs::write(data.join(format!("{community}.snmprec")), sorted(snmprec))?;
        let port = std::net::UdpSocket::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut sim = SnmpSim {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            community: community.to_string(),
            bin: sb.snmpsim_bin.clone(),
            dir,
            child: None,
        };
        sim.up().await?;
        Ok(sim)
    }

    /// (Re)starts the process on the same port; values SET before are forgotten.
    pub async fn up(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("snmpsim is already running");
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("snmpsim.log"))?;
        // a fresh index for every start: a restart never reuses what a killed process left
        let cache = self.dir.join("cache");
        let _ = std::fs::remove_dir_all(&cache);
        std::fs::create_dir_all(&cache)?;
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777))?;
        let mut cmd = Command::new(&self.bin);
        cmd.arg(format!("--data-dir={}", self.dir.join("data").display()))
            .arg(format!("--cache-dir={}", cache.display()))
            .arg("--force-index-rebuild")
            .arg(format!("--agent-udpv4-endpoint={}", self.addr))
            .stdout(Stdio::null())
            .stderr(log);
        if running_as_root() {
            cmd.args(["--process-user=nobody", "--process-group=nogroup"]);
        }
        self.child = Some(
            cmd.spawn()
                .with_context(|| format!("starting {}", self.bin.display()))?,
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                bail!("snmpsim exited: {status}\n{}", self.log());
            }
            match self.get("1.3.6.1.2.1.1.5.0").await {
                Ok(_) => break,
                Err(e) if Instant::now() > deadline => {
                    bail!(
                        "the private snmpsim does not answer after 60 s: {e:#}\n{}",
                        self.log()
                    )
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        Ok(())
    }

    /// Stops the process: the device stops answering.
    pub fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("snmpsim.log")).unwrap_or_default()
    }

    async fn session(&self) -> anyhow::Result<AsyncSession> {
        Ok(AsyncSession::new_v2c(self.addr, self.community.as_bytes(), 0).await?)
    }

    /// GETs one value and returns it as text.
    pub async fn get(&self, oid: &str) -> anyhow::Result<String> {
        let oid = parse_oid(oid)?;
        let mut s = self.session().await?;
        let mut pdu = tokio::time::timeout(Duration::from_millis(500), s.get(&oid))
            .await
            .context("no answer")??;
        let text = pdu
            .varbinds
            .next()
            .map(|(_, v)| format!("{v:?}"))
            .context("empty answer")?;
        Ok(text)
    }

    /// SETs a `writecache` value; later GETs (and the agent's polls) return it.
    pub async fn set(&self, oid: &str, value: SetValue) -> anyhow::Result<()> {
        let oid = parse_oid(oid)?;
        let v = match value {
            SetValue::Integer(i) => Value::Integer(i),
            SetValue::TimeTicks(t) => Value::Timeticks(t),
        };
        let mut s = self.session().await?;
        let pdu = tokio::time::timeout(Duration::from_secs(2), s.set(&[(&oid, v)]))
            .await
            .context("no answer to SET")??;
        if pdu.error_status != 0 {
            bail!(
                "SET {oid} refused: error status {} (is it recorded with :writecache?)",
                pdu.error_status
            );
        }
        Ok(())
    }
}

impl Drop for SnmpSim {
    fn drop(&mut self) {
        self.down();
    }
}
