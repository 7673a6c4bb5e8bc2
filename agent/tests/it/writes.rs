//! The sender's answers to InfluxDB: a batch refused for one bad point is split and only
//! that point is dropped (real InfluxDB 1.x: a field type conflict), and 429 with
//! Retry-After is honoured.
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use vigil_agent::config::{InfluxApi, InfluxSettings, SpoolSettings};
use vigil_agent::point::{FieldValue, Point, now_ns};
use vigil_agent::sinks::influxdb::{Output, Running};
use vigil_agent::telemetry::Metrics;
use vigil_tests::eventually;

use crate::common::{TempDir, influxql, rows};

pub(crate) fn settings(url: &str, db: &str) -> InfluxSettings {
    InfluxSettings {
        url: url.to_string(),
        api: InfluxApi::V1 {
            database: db.to_string(),
            retention_policy: None,
            username: None,
            password: None,
        },
        batch_size: 1000,
        flush_interval: Duration::from_millis(100),
        gzip: true,
        timeout: Duration::from_secs(5),
        parallel_writes: 1,
        drain_timeout: Duration::from_secs(10),
    }
}

pub(crate) struct Pipeline {
    pub metrics: Arc<Metrics>,
    _stop: watch::Sender<bool>,
    handle: vigil_agent::sinks::influxdb::BatcherHandle,
    _output: Running,
}

pub(crate) fn pipeline(dir: &TempDir, s: &InfluxSettings) -> Pipeline {
    let metrics = Arc::new(Metrics::new("it"));
    let spool = SpoolSettings {
        dir: dir.path().join("spool"),
        max_bytes: 1 << 24,
        fsync: false,
    };
    let (stop, rx) = watch::channel(false);
    let output = Output::open(s, &spool).unwrap().start(metrics.clone(), rx);
    Pipeline {
        metrics,
        _stop: stop,
        handle: output.handle(),
        _output: output,
    }
}

#[tokio::test]
async fn one_bad_point_is_dropped_and_the_rest_of_its_batch_is_written() {
    let sb = vigil_tests::require_sandbox!();
    let dir = TempDir::new("writes-bad");
    let db = format!("vigil_it_bad_{}", std::process::id());
    let r = vigil_tests::http()
        .post(format!("{}/query", sb.influxdb_url))
        .form(&[("q", format!("CREATE DATABASE \"{db}\""))])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let p = pipeline(&dir, &settings(&sb.influxdb_url, &db));
    let ts = now_ns();
    // the first write fixes ifOperStatus as an integer
    let mut first = Point::new("interface", ts - 1_000_000_000);
    first.tag("device", "d0");
    first.field("ifOperStatus", FieldValue::Int(1));
    p.handle.send(vec![first]).await;
    eventually("first point written", Duration::from_secs(10), || async {
        if p.metrics.points_written.load(Relaxed) == 1 {
            Ok(())
        } else {
            Err("not yet".into())
        }
    })
    .await;
    // one batch: 20 good points and one with a string where InfluxDB has an integer
    let mut batch = Vec::new();
    for i in 1..=20 {
        let mut q = Point::new("interface", ts);
        q.tag("device", format!("d{i}"));
        q.field("ifOperStatus", FieldValue::Int(1));
        batch.push(q);
    }
    let mut bad = Point::new("interface", ts);
    bad.tag("device", "bad");
    bad.field("ifOperStatus", FieldValue::Str("up".into()));
    batch.insert(7, bad);
    p.handle.send(batch).await;
    eventually(
        "batch split and delivered",
        Duration::from_secs(20),
        || async {
            let (w, r) = (
                p.metrics.points_written.load(Relaxed),
                p.metrics.points_rejected.load(Relaxed),
            );
            if w == 21 && r == 1 {
                Ok(())
            } else {
                Err(format!("written {w}, rejected {r}"))
            }
        },
    )
    .await;
    let v = influxql(
        &sb.influxdb_url,
        &db,
        "SELECT count(ifOperStatus) FROM interface",
    )
    .await
    .unwrap();
    assert_eq!(rows(&v)[0][1], serde_json::json!(21), "{v}");
}

/// A stand-in for an overloaded InfluxDB (nothing here answers 429 on its own): the first
/// write gets 429 with `Retry-After: 2`, later ones 204. Returns the times of the writes.
async fn throttling_server() -> (String, tokio::sync::mpsc::UnboundedReceiver<Instant>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 1 << 16];
            let mut got = Vec::new();
            // read headers and body (Content-Length)
            loop {
                let k = s.read(&mut buf).await.unwrap_or(0);
                if k == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..k]);
                if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if got.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            let _ = tx.send(Instant::now());
            n += 1;
            let resp = if n == 1 {
                "HTTP/1.1 429 Too Many Requests\r\nretry-after: 2\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            } else {
                "HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            };
            let _ = s.write_all(resp.as_bytes()).await;
        }
    });
    (url, rx)
}

#[tokio::test]
async fn retry_after_on_429_is_honoured() {
    let dir = TempDir::new("writes-429");
    let (url, mut writes) = throttling_server().await;
    let p = pipeline(&dir, &settings(&url, "x"));
    let mut pt = Point::new("ping", now_ns());
    pt.field("result_code", FieldValue::Int(0));
    p.handle.send(vec![pt]).await;
    let first = tokio::time::timeout(Duration::from_secs(10), writes.recv())
        .await
        .unwrap()
        .unwrap();
    let second = tokio::time::timeout(Duration::from_secs(10), writes.recv())
        .await
        .unwrap()
        .unwrap();
    let waited = second - first;
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(4),
        "retried after {waited:?}"
    );
    eventually(
        "written after the retry",
        Duration::from_secs(5),
        || async {
            if p.metrics.points_written.load(Relaxed) == 1 {
                Ok(())
            } else {
                Err("not yet".into())
            }
        },
    )
    .await;
    assert_eq!(p.metrics.write_errors.load(Relaxed), 1);
}
