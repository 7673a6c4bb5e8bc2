//! The write paths: InfluxDB 1.x `/write` (read back with InfluxQL, including awkward tag
//! and field values) and the v2 `/api/v2/write` API as VictoriaMetrics accepts it; plus the
//! health and metrics endpoints of a running agent.
use std::time::Duration;

use vigil_tests::eventually;

use crate::common::{Agent, TempDir, free_port, influxql, rows, secret};

async fn create_db(url: &str, db: &str) {
    let r = vigil_tests::http()
        .post(format!("{url}/query"))
        .form(&[("q", format!("CREATE DATABASE \"{db}\""))])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "create database: {}", r.status());
}

const AWKWARD: &str = "Zürich HQ, floor=2 \"A\" a\\b ✓";

#[tokio::test]
async fn v1_points_are_queryable_with_influxql_and_tags_survive_escaping() {
    let sb = vigil_tests::require_sandbox!();
    let dir = TempDir::new("influx-v1");
    let db = format!("vigil_it_{}", std::process::id());
    create_db(&sb.influxdb_url, &db).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let yaml = format!(
        r#"
agent: {{name: it-v1, listen: "{listen}", self_metrics_interval: 1s}}
spool: {{dir: {spool}, max_size: 16MiB}}
output:
  influxdb: {{url: "{url}", v1: {{database: {db}}}, flush_interval: 200ms}}
defaults: {{interval: 2s, tags: {{site: {awkward:?}}}}}
devices:
  - name: switch
    address: {sim_ip}
    snmp: {{community: {c}, port: {sim_port}}}
  - name: up
    address: {up}
    icmp: {{count: 2, interval: 100ms}}
"#,
        spool = dir.path().join("spool").display(),
        url = sb.influxdb_url,
        awkward = AWKWARD,
        sim_ip = sb.snmpsim.ip(),
        sim_port = sb.snmpsim.port(),
        c = secret(&dir, "c", "cisco-c3560"),
        up = sb.icmp_host("up"),
    );
    let cfg = dir.file("vigil.yaml", &yaml);
    let agent = Agent::start(&cfg, dir.path().join("agent.log"));
    let url = &sb.influxdb_url;
    let http = vigil_tests::http();

    eventually(
        "interface points in InfluxDB",
        Duration::from_secs(30),
        || async {
            let v = influxql(
                url,
                &db,
                "SELECT count(ifOperStatus) FROM interface WHERE device = 'switch'",
            )
            .await
            .map_err(|e| format!("{e:#}"))?;
            let r = rows(&v);
            let n = r
                .first()
                .and_then(|r| r.get(1))
                .and_then(|v| v.as_i64())
                .unwrap_or(0);
            // one poll is 57 interfaces; a query may see a write half-applied
            if n >= 57 {
                Ok(n)
            } else {
                Err(format!("{n}: {v}"))
            }
        },
    )
    .await;

    // the awkward tag value arrives byte for byte
    let v = influxql(
        url,
        &db,
        "SHOW TAG VALUES FROM interface WITH KEY = \"site\"",
    )
    .await
    .unwrap();
    assert_eq!(
        rows(&v),
        vec![vec![serde_json::json!("site"), serde_json::json!(AWKWARD)]],
        "{v}"
    );
    // a multi-line sysDescr is stored on one line, CR/LF as spaces
    let v = influxql(
        url,
        &db,
        "SELECT last(sysDescr) FROM snmp WHERE device = 'switch'",
    )
    .await
    .unwrap();
    let descr = rows(&v)[0][1].as_str().unwrap().to_string();
    assert!(
        descr.starts_with("Cisco IOS Software, C3560") && !descr.contains('\n'),
        "{descr}"
    );
    // ping and the agent's own metrics
    eventually("ping and self-metrics", Duration::from_secs(20), || async {
        let v = influxql(
            url,
            &db,
            "SELECT last(percent_packet_loss) FROM ping WHERE device = 'up'",
        )
        .await
        .map_err(|e| format!("{e:#}"))?;
        let loss = rows(&v)
            .first()
            .and_then(|r| r.get(1))
            .and_then(|v| v.as_f64())
            .ok_or(format!("ping: {v}"))?;
        if loss != 0.0 {
            return Err(format!("loss {loss}"));
        }
        let v = influxql(
            url,
            &db,
            "SELECT last(points_written) FROM vigil_agent WHERE agent = 'it-v1'",
        )
        .await
        .map_err(|e| format!("{e:#}"))?;
        let w = rows(&v)
            .first()
            .and_then(|r| r.get(1))
            .and_then(|v| v.as_i64())
            .ok_or(format!("vigil_agent: {v}"))?;
        if w > 0 {
            Ok(())
        } else {
            Err(format!("points_written {w}"))
        }
    })
    .await;

    // health endpoints
    let get = |path: &'static str| {
        let http = http.clone();
        let listen = listen.clone();
        async move {
            let r = http
                .get(format!("http://{listen}{path}"))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get("/healthz").await.0, 200);
    assert_eq!(get("/readyz").await.0, 200);
    let (code, metrics) = get("/metrics").await;
    assert_eq!(code, 200);
    assert!(
        metrics.contains("vigil_points_written_total ")
            && metrics.contains("vigil_poll_duration_seconds{device=\"switch\",source=\"snmp\"}"),
        "{metrics}"
    );
    agent.stop();
}

#[tokio::test]
async fn v2_write_path_is_accepted_by_victoria_metrics() {
    let sb = vigil_tests::require_sandbox!();
    let dir = TempDir::new("influx-v2");
    let device = format!("vm-up-{}", std::process::id());
    let yaml = format!(
        r#"
spool: {{dir: {spool}}}
output:
  influxdb: {{url: "{url}", v2: {{org: vigil, bucket: it, token: {token}}}, flush_interval: 200ms}}
devices:
  - {{name: {device}, address: {up}, interval: 2s, icmp: {{count: 2, interval: 100ms}}}}
"#,
        spool = dir.path().join("spool").display(),
        url = sb.vm_url,
        token = secret(&dir, "t", "any-token"),
        up = sb.icmp_host("up"),
    );
    let cfg = dir.file("vigil.yaml", &yaml);
    let agent = Agent::start(&cfg, dir.path().join("agent.log"));
    let http = vigil_tests::http();
    let vm = &sb.vm_url;
    let body = eventually(
        "ping_packets_received in VictoriaMetrics",
        Duration::from_secs(30),
        || async {
            let r = http
                .get(format!("{vm}/api/v1/export"))
                .query(&[(
                    "match[]",
                    format!("{{__name__=\"ping_packets_received\",device=\"{device}\"}}"),
                )])
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let t = r.text().await.map_err(|e| e.to_string())?;
            if t.contains("\"values\":[2") {
                Ok(t)
            } else {
                Err(t)
            }
        },
    )
    .await;
    assert!(
        body.contains(&sb.icmp_host("up").to_string()),
        "url tag: {body}"
    );
    agent.stop();
}
