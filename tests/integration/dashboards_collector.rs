//! The world the live dashboards test sets up: the collector, wired as `vigil-agent run`
//! does, polling the sandbox's snmpd, snmpsim recordings and ICMP namespace hosts into a
//! fresh InfluxDB 1.x database; alert state changes as the alerting role writes them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::{Semaphore, watch};
use vigil_agent::config::Config;
use vigil_agent::point::now_ns;
use vigil_agent::scheduler::Scheduler;
use vigil_agent::sinks::influxdb::{Output, Running};
use vigil_agent::sources::icmp::Pinger;
use vigil_agent::telemetry::Metrics;
use vigil_tests::Sandbox;

/// Devices polled over SNMP that answer, and the recording or agent behind each.
pub const SNMP_DEVICES: &[(&str, &str)] = &[
    // HOST-RESOURCES (CPU, RAM) and ENTITY-SENSOR temperatures
    ("fw-pa5000", "paloalto-pa-5000"),
    // 49 admin-up interfaces that are down
    ("sw-c3560", "cisco-c3560"),
    // reports sysUpTime 0: "rebooted" in the last 24 h
    ("sw-icx6430", "brocade-icx6430-24"),
];
/// ICMP-only devices: the namespace hosts.
pub const ICMP_HOSTS: &[&str] = &["up", "slow", "lossy", "down"];
/// The device the per-device dashboards are shown for: it has every kind of data.
pub const SHOWN_DEVICE: &str = "fw-pa5000";

pub use vigil_tests::TempDir;

pub fn collector_config(sb: &Sandbox, dir: &TempDir, db: &str) -> String {
    // each simulated device on its own address where the sandbox offers one
    let sim = |i: usize| sb.snmpsim_extra.get(i).copied().unwrap_or(sb.snmpsim);
    let mut devices = String::new();
    for (i, (name, recording)) in SNMP_DEVICES.iter().enumerate() {
        let profiles = if *name == SHOWN_DEVICE {
            "[system, if-mib, host-resources, entity-sensor]"
        } else {
            "[system, if-mib]"
        };
        devices.push_str(&format!(
            "  - {{name: {name}, address: {ip}, icmp: true, profiles: {profiles}, snmp: {{community: {c}, port: {port}}}}}\n",
            ip = sim(i).ip(),
            port = sim(i).port(),
            c = dir.secret(name, recording),
        ));
    }
    // the real net-snmp agent: host resources and live interface counters
    devices.push_str(&format!(
        "  - {{name: srv-snmpd, address: {ip}, icmp: true, profiles: [system, if-mib, host-resources], snmp: {{community: {c}, port: {port}}}}}\n",
        ip = sb.snmpd.ip(),
        port = sb.snmpd.port(),
        c = dir.secret("snmpd", &sb.snmp_community),
    ));
    // no recording of that name: snmpsim never answers, SNMP is unreachable
    devices.push_str(&format!(
        "  - {{name: ghost, address: {ip}, snmp: {{community: {c}, port: {port}, timeout: 500ms, retries: 0}}}}\n",
        ip = sim(SNMP_DEVICES.len()).ip(),
        port = sim(SNMP_DEVICES.len()).port(),
        c = dir.secret("ghost", "vigil-no-such-recording"),
    ));
    for host in ICMP_HOSTS {
        // 20 echoes: even when other tests ping the lossy host at the same time (its
        // responder drops 3 of every 10 echoes of all senders), a poll sees some loss
        let icmp = if *host == "lossy" {
            "{count: 20, interval: 20ms}"
        } else {
            "true"
        };
        devices.push_str(&format!(
            "  - {{name: {host}, address: {}, icmp: {icmp}}}\n",
            sb.icmp_host(host)
        ));
    }
    format!(
        "agent: {{name: dashboards-it, self_metrics_interval: 1s}}\n\
         spool: {{dir: {spool}, max_size: 64MiB, fsync: false}}\n\
         output:\n  influxdb: {{url: \"{url}\", v1: {{database: {db}}}, flush_interval: 200ms}}\n\
         defaults: {{interval: 2s, icmp: {{count: 3, interval: 100ms, timeout: 500ms}}, snmp: {{timeout: 1s}}}}\n\
         devices:\n{devices}",
        spool = dir.0.join("spool").display(),
        url = sb.influxdb_url,
    )
}

/// The collector as `vigil-agent run` wires it, stopped on demand instead of by a signal.
pub struct Collector {
    stop: watch::Sender<bool>,
    stop_senders: watch::Sender<bool>,
    tasks: tokio::task::JoinSet<()>,
    output: Running,
}

impl Collector {
    pub fn start(config_path: &Path) -> Collector {
        let config = Config::load(config_path).expect("valid collector configuration");
        let output = config.output.clone().expect("an output");
        let metrics = Arc::new(Metrics::new(&config.agent.name));
        let output = Output::open(&output, &config.spool).expect("InfluxDB output");
        let pinger = Some(Arc::new(
            Pinger::new(config.agent.icmp_rate).expect("ICMP sockets"),
        ));
        let (stop, stop_rx) = watch::channel(false);
        let (stop_senders, senders_rx) = watch::channel(false);
        let output = output.start(metrics.clone(), senders_rx);
        let handle = output.handle();
        let scheduler = Scheduler {
            alerting: None,
            metrics: metrics.clone(),
            sink: Some(handle.clone()),
            pinger,
            snmp_limit: Arc::new(Semaphore::new(config.agent.concurrency)),
        };
        let mut tasks = scheduler.spawn_all(&config.devices, &stop_rx);
        let every = config.agent.self_metrics_interval;
        let mut stop_self = stop_rx;
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = tick.tick() => handle.send(metrics.points(now_ns())).await,
                    _ = stop_self.changed() => return,
                }
            }
        });
        Collector {
            stop,
            stop_senders,
            tasks,
            output,
        }
    }

    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        self.output
            .drain(Duration::from_secs(5), self.stop_senders)
            .await;
    }
}

pub struct Influx {
    pub url: String,
    pub db: String,
}

/// Drops the test's database when dropped, also when the test fails (the sandbox's
/// InfluxDB is shared by every run).
pub struct DropDatabase {
    pub url: String,
    pub db: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (url, db) = (self.url.clone(), self.db.clone());
        // a fresh runtime on its own thread: the test's runtime may be unwinding
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                vigil_tests::http()
                    .post(format!("{url}/query"))
                    .form(&[("q", format!("DROP DATABASE \"{db}\""))])
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
            })
            .ok()
        })
        .join();
    }
}

impl Influx {
    /// A fresh database named after `prefix` on the sandbox's InfluxDB, dropped with the guard.
    pub async fn fresh(url: &str, prefix: &str) -> (Influx, DropDatabase) {
        let influx = Influx {
            url: url.to_owned(),
            db: crate::unique(prefix).replace('-', "_"),
        };
        influx
            .query(&format!("CREATE DATABASE \"{}\"", influx.db))
            .await
            .expect("create database");
        let guard = DropDatabase {
            url: influx.url.clone(),
            db: influx.db.clone(),
        };
        (influx, guard)
    }

    /// Runs InfluxQL the way Grafana's datasource does (POST, epoch in ms).
    pub async fn query(&self, q: &str) -> Result<Value, String> {
        let r = vigil_tests::http()
            .post(format!("{}/query", self.url))
            .form(&[("db", self.db.as_str()), ("q", q), ("epoch", "ms")])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let v: Value = r.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{status}: {v}"));
        }
        if let Some(e) = v["results"][0]["error"].as_str() {
            return Err(format!("InfluxDB: {e}"));
        }
        Ok(v)
    }

    pub async fn write(&self, lines: &str) {
        let r = vigil_tests::http()
            .post(format!("{}/write", self.url))
            .query(&[("db", self.db.as_str()), ("precision", "ms")])
            .body(lines.to_owned())
            .send()
            .await
            .expect("write");
        assert_eq!(r.status().as_u16(), 204, "{:?}", r.text().await);
    }
}

pub fn series(v: &Value) -> Vec<Value> {
    v["results"][0]["series"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Whether any series has a non-null value outside the time column.
pub fn has_values(v: &Value) -> bool {
    series(v).iter().any(|s| {
        s["values"].as_array().into_iter().flatten().any(|row| {
            row.as_array()
                .is_some_and(|r| r.iter().skip(1).any(|x| !x.is_null()))
        })
    })
}

/// The first value of each series of a `count(...) ... GROUP BY "device"` query, by device.
pub async fn counts(influx: &Influx, q: &str) -> Result<BTreeMap<String, i64>, String> {
    let v = influx.query(q).await?;
    Ok(series(&v)
        .iter()
        .map(|s| {
            (
                s["tags"]["device"].as_str().unwrap_or_default().to_owned(),
                s["values"][0][1].as_i64().unwrap_or(0),
            )
        })
        .collect())
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// One point of the `alerts` measurement as the alerting role writes it
/// (`agent/src/alerts/points.rs`): `started` and `at` in ms.
pub fn alert_line(
    rule: &str,
    severity: &str,
    state: &str,
    device: &str,
    started: i64,
    at: i64,
) -> String {
    let firing = i64::from(!matches!(state, "resolved" | "folded_resolved"));
    format!(
        "alerts,rule={rule},severity={severity},state={state},source=dashboards-it,object=Device/{device},tenant=acme,device={device} \
         firing={firing}i,incident=\"{rule}/{device}@{started}\",summary=\"{rule} on {device}\",duration_s={}i,silenced=false,folded=false {at}",
        (at - started) / 1000
    )
}

/// Alert state changes: the down host firing, the lossy host fired and resolved, the shown
/// device with a repeating temperature alert.
pub fn alert_lines(now: i64) -> String {
    let minute = 60_000;
    [
        alert_line(
            "DeviceDown",
            "critical",
            "firing",
            "down",
            now - 2 * minute,
            now - 2 * minute,
        ),
        alert_line(
            "PacketLoss",
            "warning",
            "firing",
            "lossy",
            now - 5 * minute,
            now - 5 * minute,
        ),
        alert_line(
            "PacketLoss",
            "warning",
            "resolved",
            "lossy",
            now - 5 * minute,
            now - 3 * minute,
        ),
        alert_line(
            "TemperatureHigh",
            "warning",
            "firing",
            SHOWN_DEVICE,
            now - 4 * minute,
            now - 4 * minute,
        ),
        alert_line(
            "TemperatureHigh",
            "warning",
            "repeat",
            SHOWN_DEVICE,
            now - 4 * minute,
            now - minute,
        ),
    ]
    .join("\n")
}
