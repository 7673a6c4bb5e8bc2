//! Collector shards: three collectors with the same configuration, each `--shard K/3`, poll
//! the sandbox's devices (snmpsim recordings and ICMP hosts) into one InfluxDB. Every device
//! is polled by exactly one shard — the one rendezvous hashing names — and by none other,
//! and `once --shard` prints exactly what its shard polls.
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use vigil_contract::shard::owner;
use vigil_tests::{ChildProcess, eventually};

use crate::common::{BIN, TempDir, influxql, secret};
use crate::influxd::Influxd;

const SHARDS: u32 = 3;

fn devices(sb: &vigil_tests::Sandbox, community: &str) -> (String, Vec<String>) {
    let mut yaml = String::new();
    let mut names = Vec::new();
    for i in 0..24 {
        let name = format!("sw-{i:02}");
        yaml.push_str(&format!(
            "  - name: {name}\n    address: {ip}\n    snmp: {{community: {c}, port: {port}}}\n    profiles: [system]\n",
            ip = sb.snmpsim.ip(),
            port = sb.snmpsim.port(),
            c = community,
        ));
        names.push(name);
    }
    for i in 0..6 {
        let name = format!("ping-{i}");
        yaml.push_str(&format!(
            "  - name: {name}\n    address: {ip}\n    icmp: {{count: 1}}\n",
            ip = sb.icmp_host("up"),
        ));
        names.push(name);
    }
    (yaml, names)
}

/// agent → devices it reported in `vigil_poll`, from the series' tags.
async fn pollers(url: &str) -> BTreeMap<String, BTreeSet<String>> {
    let v = influxql(
        url,
        "shards",
        "SELECT last(polls) FROM vigil_poll GROUP BY agent, device",
    )
    .await
    .unwrap_or_default();
    let mut by_agent: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in v["results"][0]["series"].as_array().into_iter().flatten() {
        let tag = |k: &str| s["tags"][k].as_str().unwrap_or_default().to_string();
        by_agent
            .entry(tag("agent"))
            .or_default()
            .insert(tag("device"));
    }
    by_agent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_device_is_polled_by_exactly_the_shard_that_owns_it() {
    let sb = vigil_tests::require_sandbox!();
    let dir = TempDir::new("shards");
    let influx = Influxd::start(dir.path().join("influxd")).await;
    influx.create_db("shards").await;
    let community = secret(&dir, "c", "cisco-c3560");
    let (device_yaml, names) = devices(sb, &community);
    let config = |k: u32| {
        dir.file(
            &format!("shard-{k}.yaml"),
            &format!(
                "agent: {{name: shards, self_metrics_interval: 1s}}
spool: {{dir: {spool}}}
output:
  influxdb: {{url: \"{url}\", v1: {{database: shards}}, flush_interval: 1s}}
defaults: {{interval: 2s, jitter: 0s}}
devices:
{device_yaml}",
                spool = dir.path().join(format!("spool-{k}")).display(),
                url = influx.url,
            ),
        )
    };
    let configs: Vec<_> = (0..SHARDS).map(config).collect();
    let _agents: Vec<ChildProcess> = (0..SHARDS)
        .map(|k| {
            let mut cmd = Command::new(BIN);
            cmd.arg("run")
                .arg("--config")
                .arg(&configs[k as usize])
                .arg("--shard")
                .arg(format!("{k}/{SHARDS}"))
                .env("NO_COLOR", "1");
            ChildProcess::spawn(cmd, dir.path().join(format!("agent-{k}.log")))
        })
        .collect();

    let expected: BTreeMap<String, BTreeSet<String>> =
        names.iter().fold(BTreeMap::new(), |mut m, d| {
            m.entry(format!("shards-{}", owner(d, SHARDS)))
                .or_default()
                .insert(d.clone());
            m
        });
    assert_eq!(expected.len(), SHARDS as usize, "every shard has devices");
    // every device reported, then a few more cycles in which another shard could show up
    eventually("every device polled", Duration::from_secs(60), || async {
        let seen: BTreeSet<String> = pollers(&influx.url).await.into_values().flatten().collect();
        if seen.len() == names.len() {
            Ok(())
        } else {
            Err(format!("{} of {} devices", seen.len(), names.len()))
        }
    })
    .await;
    let polled = |d: &str| {
        let url = influx.url.clone();
        let q = format!("SELECT count(uptime) FROM snmp WHERE device = '{d}'");
        async move {
            influxql(&url, "shards", &q)
                .await
                .ok()
                .and_then(|v| v["results"][0]["series"][0]["values"][0][1].as_u64())
        }
    };
    eventually("three cycles of sw-00", Duration::from_secs(60), || async {
        match polled("sw-00").await {
            Some(n) if n >= 3 => Ok(()),
            other => Err(format!("{other:?} points")),
        }
    })
    .await;
    assert_eq!(pollers(&influx.url).await, expected, "who polled what");

    // one point per poll: no device is written twice for one cycle (by two shards)
    for d in names.iter().filter(|d| d.starts_with("sw-")) {
        let v = influxql(
            &influx.url,
            "shards",
            &format!("SELECT count(uptime) FROM snmp WHERE device = '{d}' GROUP BY time(2s)"),
        )
        .await
        .unwrap();
        let doubled: Vec<_> = v["results"][0]["series"][0]["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r[1].as_u64().unwrap_or(0) > 1)
            .collect();
        assert!(
            doubled.is_empty(),
            "{d} written twice in a cycle: {doubled:?}"
        );
    }

    // `once --shard 1/3` prints exactly shard 1's devices
    let out = Command::new(BIN)
        .args(["once", "--config"])
        .arg(&configs[1])
        .args(["--shard", "1/3"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let printed: BTreeSet<String> = text
        .lines()
        .filter_map(|l| {
            l.split(',')
                .find_map(|kv| kv.strip_prefix("device="))
                .map(|v| v.split(' ').next().unwrap_or(v).to_string())
        })
        .collect();
    assert_eq!(&printed, &expected["shards-1"], "{text}");

    // a shard that does not exist is refused with exit 2
    let bad = Command::new(BIN)
        .args(["once", "--config"])
        .arg(&configs[0])
        .args(["--shard", "3/3"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("shard 3/3 is out of range"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
