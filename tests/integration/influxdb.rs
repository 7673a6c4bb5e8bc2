//! Time-series peers: InfluxDB 1.x (v1 write + InfluxQL) and VictoriaMetrics (v2 write API).

use std::time::Duration;

use serde_json::Value;
use vigil_tests::{eventually, require_sandbox};

use crate::unique;

#[tokio::test]
async fn influxdb_v1_write_then_influxql_read() {
    let sandbox = require_sandbox!();
    let http = vigil_tests::http();
    let db = unique("smoke").replace('-', "_");
    let query = |q: String| {
        let http = http.clone();
        let url = format!("{}/query", sandbox.influxdb_url);
        let db = db.clone();
        async move {
            http.post(url)
                .form(&[("q", q.as_str()), ("db", db.as_str())])
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| e.to_string())?
                .json::<Value>()
                .await
                .map_err(|e| e.to_string())
        }
    };
    query(format!("CREATE DATABASE {db}"))
        .await
        .expect("creating the database");
    let lines = "ping,url=198.18.1.2,agent_host=collector average_response_ms=0.25,percent_packet_loss=0 1700000000000000000\n\
                 ping,url=198.18.4.2,agent_host=collector percent_packet_loss=100,result_code=2i 1700000000000000000";
    let resp = http
        .post(format!(
            "{}/write?db={db}&precision=ns",
            sandbox.influxdb_url
        ))
        .body(lines)
        .send()
        .await
        .expect("writing points");
    assert_eq!(
        resp.status().as_u16(),
        204,
        "{}",
        resp.text().await.unwrap_or_default()
    );

    let result = query("SELECT percent_packet_loss FROM ping GROUP BY url".into())
        .await
        .expect("querying");
    let series = result["results"][0]["series"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let loss: Vec<(String, f64)> = series
        .iter()
        .map(|s| {
            (
                s["tags"]["url"].as_str().unwrap_or_default().to_string(),
                s["values"][0][1].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    assert_eq!(
        loss,
        vec![
            ("198.18.1.2".to_string(), 0.0),
            ("198.18.4.2".to_string(), 100.0)
        ]
    );
    query(format!("DROP DATABASE {db}"))
        .await
        .expect("dropping the database");
}

#[tokio::test]
async fn victoria_metrics_accepts_v2_write() {
    let sandbox = require_sandbox!();
    let http = vigil_tests::http();
    let measurement = unique("smoke_v2").replace('-', "_");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let resp = http
        .post(format!(
            "{}/api/v2/write?org=vigil&bucket=smoke&precision=s",
            sandbox.vm_url
        ))
        .header("Authorization", "Token smoke-token")
        .body(format!(
            "{measurement},device=fw1 ifHCInOctets=123456789012i {now}"
        ))
        .send()
        .await
        .expect("writing through the v2 API");
    assert_eq!(resp.status().as_u16(), 204);

    let metric = format!("{measurement}_ifHCInOctets");
    let value = eventually(
        "the point readable from VictoriaMetrics",
        Duration::from_secs(20),
        || {
            let http = http.clone();
            let url = format!("{}/api/v1/export", sandbox.vm_url);
            let metric = metric.clone();
            async move {
                let body = http
                    .get(url)
                    .query(&[("match[]", format!("{{__name__=\"{metric}\"}}"))])
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .text()
                    .await
                    .map_err(|e| e.to_string())?;
                let line = body.lines().next().ok_or("no series yet")?;
                let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
                if v["metric"]["device"] != "fw1" {
                    return Err(format!("unexpected series {v}"));
                }
                v["values"][0]
                    .as_f64()
                    .ok_or_else(|| format!("no value in {v}"))
            }
        },
    )
    .await;
    assert_eq!(value, 123_456_789_012.0);
}
