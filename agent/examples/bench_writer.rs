//! Write-path benchmark: pushes N interface points through the agent's real write path
//! (batcher -> gzip -> durable spool -> sender -> InfluxDB v1) and reports the sustained
//! rate. Also writes the same points as line protocol files (`--dump DIR`) so the script
//! can measure InfluxDB's own limit with the same batches.
//!
//! `bench_writer URL DATABASE POINTS BATCH_SIZE SPOOL_DIR [DUMP_DIR]`
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use vigil_agent::config::{InfluxApi, InfluxSettings, SpoolSettings};
use vigil_agent::lineproto;
use vigil_agent::point::{FieldValue, Point};
use vigil_agent::sinks::influxdb::Output;
use vigil_agent::telemetry::Metrics;

fn point(i: u64, base_ts: i64) -> Point {
    let device = i / 48;
    let index = i % 48 + 1;
    let mut p = Point::new(
        "interface",
        base_ts + i64::try_from(device / 1000).unwrap_or(0) * 60_000_000_000,
    );
    p.tag("device", format!("d{}", device % 1000));
    p.tag("agent_host", "127.0.0.1");
    p.tag("hostname", format!("sw{}", device % 1000));
    p.tag("index", index.to_string());
    p.tag("ifDescr", format!("GigabitEthernet1/0/{index}"));
    p.tag("ifName", format!("Gi1/0/{index}"));
    p.tag("site", "ams");
    p.field("ifAdminStatus", FieldValue::Int(1));
    p.field("ifOperStatus", FieldValue::Int(1));
    p.field(
        "ifHCInOctets",
        FieldValue::Int(i64::try_from(i).unwrap_or(0) * 1_000_003),
    );
    p.field(
        "ifHCOutOctets",
        FieldValue::Int(i64::try_from(i).unwrap_or(0) * 999_983),
    );
    p.field("ifInErrors", FieldValue::Int(0));
    p.field("ifOutErrors", FieldValue::Int(0));
    p.field("ifInDiscards", FieldValue::Int(3));
    p.field("ifOutDiscards", FieldValue::Int(0));
    p.field("ifHighSpeed", FieldValue::Int(1000));
    p
}

#[tokio::main]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 6 {
        eprintln!("usage: bench_writer URL DATABASE POINTS BATCH_SIZE SPOOL_DIR [DUMP_DIR]");
        std::process::exit(2);
    }
    let n: u64 = a[3].parse().expect("POINTS");
    let batch: usize = a[4].parse().expect("BATCH_SIZE");
    let base_ts = vigil_agent::point::now_ns() - 3_600_000_000_000;
    if let Some(dump) = a.get(6) {
        // the same points as plain line protocol batches, for measuring InfluxDB alone
        std::fs::create_dir_all(dump).expect("dump dir");
        let mut i = 0;
        let mut file = 0;
        while i < n {
            let end = (i + batch as u64).min(n);
            let pts: Vec<Point> = (i..end).map(|j| point(j, base_ts)).collect();
            std::fs::write(format!("{dump}/{file:06}.lp"), lineproto::encode(&pts).0)
                .expect("dump");
            i = end;
            file += 1;
        }
        return;
    }
    let settings = InfluxSettings {
        url: a[1].clone(),
        api: InfluxApi::V1 {
            database: a[2].clone(),
            retention_policy: None,
            username: None,
            password: None,
        },
        batch_size: batch,
        flush_interval: Duration::from_millis(200),
        gzip: true,
        timeout: Duration::from_secs(30),
        parallel_writes: std::env::var("PARALLEL")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(4),
        drain_timeout: Duration::from_secs(10),
    };
    let metrics = Arc::new(Metrics::new("bench"));
    let spool = SpoolSettings {
        dir: std::path::PathBuf::from(&a[5]),
        max_bytes: 4 << 30,
        fsync: true,
    };
    let output = Output::open(&settings, &spool).expect("output");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let start = Instant::now();
    let output = output.start(metrics.clone(), stop_rx);
    let handle = output.handle();
    // producers: devices' polls hand over 48 points at a time, as the engine does
    let mut i = 0;
    while i < n {
        let end = (i + 48).min(n);
        handle
            .send((i..end).map(|j| point(j, base_ts)).collect())
            .await;
        i = end;
    }
    drop(handle);
    // the batcher flushes into the spool; the senders keep going until all is written
    output.drain(Duration::from_secs(3600), stop_tx).await;
    while metrics.points_written.load(Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{n} {secs:.3} {:.0}", n as f64 / secs);
}
