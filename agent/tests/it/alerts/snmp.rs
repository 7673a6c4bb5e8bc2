//! Device rules on SNMP values that change, end to end: a private snmpsim serves a router
//! whose ifOperStatus, ifAdminStatus, sysUpTime, hrProcessorLoad and entPhySensorValue the
//! test changes with SNMP SETs (snmpsim's writecache variation), or which stops answering;
//! `vigil-agent run` polls it every second and posts to the Slack recorder with a bot
//! token. Each rule fires exactly once and resolves exactly once in its thread.

use vigil_tests::{
    Recorded, Sandbox, SetValue, SlackRecorder, SnmpSim, eventually, require_sandbox,
};

use super::common::{LONG, parents, resolved_replies, thread_resolved};
use crate::common::{Agent, TempDir, free_port, metric, secret};
use crate::influxd::Influxd;

const SYS_UPTIME: &str = "1.3.6.1.2.1.1.3.0";
const CPU_LOAD: &str = "1.3.6.1.2.1.25.3.3.1.2.1";
const SENSOR_VALUE: &str = "1.3.6.1.2.1.99.1.1.1.4.10";

fn if_admin(i: u32) -> String {
    format!("1.3.6.1.2.1.2.2.1.7.{i}")
}

fn if_oper(i: u32) -> String {
    format!("1.3.6.1.2.1.2.2.1.8.{i}")
}

/// A small router: three interfaces (Gi0/2's alias carries `[noalert]`), one CPU and one
/// inlet temperature sensor in °C. Values the tests change are recorded with writecache.
fn router() -> String {
    let mut r = String::from(
        "1.3.6.1.2.1.1.1.0|4|vigil simulated router
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.8072.3.2.10
1.3.6.1.2.1.1.3.0|67:writecache|value=8640000
1.3.6.1.2.1.1.5.0|4|sim-rtr
1.3.6.1.2.1.25.3.3.1.2.1|2:writecache|value=12
1.3.6.1.2.1.47.1.1.1.1.7.10|4|Inlet temperature
1.3.6.1.2.1.99.1.1.1.1.10|2|8
1.3.6.1.2.1.99.1.1.1.2.10|2|9
1.3.6.1.2.1.99.1.1.1.3.10|2|0
1.3.6.1.2.1.99.1.1.1.4.10|2:writecache|value=35
1.3.6.1.2.1.99.1.1.1.5.10|2|1
",
    );
    for (i, alias) in [
        (1, "uplink to core"),
        (2, "lab bench [noalert]"),
        (3, "spare"),
    ] {
        let ift = |col: u32, v: &str| format!("1.3.6.1.2.1.2.2.1.{col}.{i}|{v}\n");
        let ifx = |col: u32, v: &str| format!("1.3.6.1.2.1.31.1.1.1.{col}.{i}|{v}\n");
        r += &ift(1, &format!("2|{i}"));
        r += &ift(2, &format!("4|GigabitEthernet0/{i}"));
        r += &ift(7, "2:writecache|value=1");
        r += &ift(8, "2:writecache|value=1");
        for col in [13, 14, 19, 20] {
            r += &ift(col, "65|0");
        }
        r += &ifx(1, &format!("4|Gi0/{i}"));
        r += &ifx(6, "70|1000");
        r += &ifx(10, "70|1000");
        r += &ifx(15, "66|1000");
        r += &ifx(18, &format!("4|{alias}"));
    }
    r
}

/// The router, the recorder and `vigil-agent run` with device alerting.
struct Rig {
    sim: SnmpSim,
    rec: SlackRecorder,
    listen: String,
    _agent: Agent,
    _dir: TempDir,
}

impl Rig {
    /// `rules` is the alerts config's `rules:` mapping in flow style.
    async fn start(sb: &Sandbox, name: &str, rules: &str) -> Rig {
        let dir = TempDir::new(name);
        let sim = SnmpSim::start(sb, dir.path().join("snmpsim"), "sim-rtr", &router())
            .await
            .unwrap();
        let rec = SlackRecorder::start().await.unwrap();
        let listen = format!("127.0.0.1:{}", free_port());
        let token = secret(&dir, "token", "xoxb-test-token");
        let alerts = dir.file(
            "alerts.yaml",
            &format!(
                "cluster: {{name: collector, state_file: {state}, evaluation_interval: 200ms}}
rules: {rules}
slack: {{default: {{bot_token: {token}, channel: C-ACME}}, api_url: {api}, min_interval: 100ms}}
",
                state = dir.path().join("alerts-state.json").display(),
                api = rec.api_url(),
            ),
        );
        let config = dir.file(
            "vigil.yaml",
            &format!(
                "agent: {{name: acme-collector, tenant: acme, alerts: {alerts}, listen: \"{listen}\"}}
spool: {{dir: {spool}}}
output: {{influxdb: {{url: {url}, v1: {{database: vigil_alerts_snmp}}}}}}
defaults: {{interval: 1s, jitter: 0s}}
devices:
  - name: rtr
    address: {ip}
    snmp: {{community: {community}, port: {port}, timeout: 300ms, retries: 0}}
    profiles: [system, if-mib, host-resources, entity-sensor]
",
                alerts = alerts.display(),
                spool = dir.path().join("spool").display(),
                url = sb.influxdb_url,
                ip = sim.addr.ip(),
                port = sim.addr.port(),
                community = secret(&dir, "community", &sim.community),
            ),
        );
        let agent = Agent::start(&config, dir.path().join("agent.log"));
        let rig = Rig {
            sim,
            rec,
            listen,
            _agent: agent,
            _dir: dir,
        };
        // the agent has seen the healthy router before anything changes
        rig.polls(2).await;
        rig
    }

    async fn poll_count(&self) -> Result<f64, String> {
        metric(
            &self.listen,
            r#"vigil_polls_total{device="rtr",source="snmp"}"#,
        )
        .await
    }

    /// Waits until `n` more SNMP polls of the router have finished.
    async fn polls(&self, n: u32) {
        let start = self.poll_count().await.unwrap_or(0.0);
        eventually(&format!("{n} more SNMP polls"), LONG, || async {
            let now = self.poll_count().await?;
            if now >= start + f64::from(n) {
                Ok(())
            } else {
                Err(format!("{} of {n} polls", now - start))
            }
        })
        .await;
    }

    async fn set(&self, oid: &str, v: SetValue) {
        self.sim.set(oid, v).await.unwrap();
    }

    /// Waits for the incident message of `rule` whose text contains `needle`; returns its ts.
    async fn fired(&self, rule: &str, needle: &str) -> String {
        vigil_tests::wait_for(&self.rec, &format!("{rule} fired"), LONG, |reqs| {
            incidents(reqs, rule, needle)
                .first()
                .and_then(|r| r.ts.clone())
        })
        .await
    }

    /// Waits until the thread `ts` has its resolved reply and its parent was updated.
    async fn resolved(&self, rule: &str, ts: &str) {
        vigil_tests::wait_for(&self.rec, &format!("{rule} resolved"), LONG, |reqs| {
            thread_resolved(reqs, ts).then_some(())
        })
        .await;
    }

    /// Exactly one incident of `rule` about `needle`, resolved exactly once in its thread.
    fn assert_once(&self, rule: &str, needle: &str) -> Recorded {
        let reqs = self.rec.delivered();
        let ps = incidents(&reqs, rule, needle);
        assert_eq!(ps.len(), 1, "{rule}: exactly one incident message");
        let ts = ps[0].ts.clone().unwrap();
        assert_eq!(
            resolved_replies(&reqs, &ts),
            1,
            "{rule}: resolved exactly once"
        );
        assert_eq!(ps[0].channel(), Some("C-ACME"));
        assert!(
            reqs.iter()
                .all(|r| r.text().contains("Device/rtr") || r.thread_ts().is_some()),
            "only the router's incidents were posted"
        );
        ps[0].clone()
    }
}

/// Parent messages of `rule` mentioning `needle`.
fn incidents<'a>(reqs: &'a [Recorded], rule: &str, needle: &str) -> Vec<&'a Recorded> {
    parents(reqs, rule)
        .into_iter()
        .filter(|r| r.text().contains(needle))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interface_down_fires_once_and_resolves_once_unless_admin_down_or_noalert() {
    let rig = Rig::start(require_sandbox!(), "alerts-ifdown", "{}").await;
    // Gi0/1 fails; Gi0/2 fails too but its alias says [noalert]; Gi0/3 is shut down on
    // purpose (admin down first)
    rig.set(&if_oper(1), SetValue::Integer(2)).await;
    rig.set(&if_oper(2), SetValue::Integer(2)).await;
    rig.set(&if_admin(3), SetValue::Integer(2)).await;
    rig.set(&if_oper(3), SetValue::Integer(2)).await;
    let ts = rig.fired("InterfaceDown", "Gi0/1").await;
    rig.set(&if_oper(1), SetValue::Integer(1)).await;
    rig.resolved("InterfaceDown", &ts).await;
    // Gi0/2 and Gi0/3 stay down for three more polls: still nothing about them
    rig.polls(3).await;
    let first = rig.assert_once("InterfaceDown", "Gi0/1");
    assert!(first.text().contains("uplink to core"), "{}", first.text());
    let reqs = rig.rec.delivered();
    assert_eq!(
        parents(&reqs, "InterfaceDown").len(),
        1,
        "only Gi0/1 alerted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_high_fires_once_after_its_for_and_a_shorter_spike_fires_nothing() {
    let rig = Rig::start(
        require_sandbox!(),
        "alerts-cpu",
        "{CpuHigh: {for: 4s, threshold: 90}}",
    )
    .await;
    // a spike seen by one or two polls, well under the 4 s `for`
    rig.set(CPU_LOAD, SetValue::Integer(97)).await;
    rig.polls(1).await;
    rig.set(CPU_LOAD, SetValue::Integer(15)).await;
    // long past the `for`: the spike raised nothing
    rig.polls(6).await;
    assert!(
        parents(&rig.rec.delivered(), "CpuHigh").is_empty(),
        "a spike shorter than `for` fired"
    );
    rig.set(CPU_LOAD, SetValue::Integer(97)).await;
    let ts = rig.fired("CpuHigh", "Device/rtr").await;
    rig.set(CPU_LOAD, SetValue::Integer(20)).await;
    rig.resolved("CpuHigh", &ts).await;
    let msg = rig.assert_once("CpuHigh", "Device/rtr");
    assert!(msg.text().contains("97 %"), "{}", msg.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temperature_high_fires_once_and_resolves_once() {
    let rig = Rig::start(
        require_sandbox!(),
        "alerts-temp",
        "{TemperatureHigh: {for: 2s, threshold: 60}}",
    )
    .await;
    rig.set(SENSOR_VALUE, SetValue::Integer(78)).await;
    let ts = rig.fired("TemperatureHigh", "Inlet temperature").await;
    rig.set(SENSOR_VALUE, SetValue::Integer(41)).await;
    rig.resolved("TemperatureHigh", &ts).await;
    let msg = rig.assert_once("TemperatureHigh", "Inlet temperature");
    assert!(msg.text().contains("78.0 °C"), "{}", msg.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_rebooted_fires_once_when_uptime_goes_backwards() {
    let rig = Rig::start(
        require_sandbox!(),
        "alerts-reboot",
        "{DeviceRebooted: {window: 3s}}",
    )
    .await;
    // 24 h of uptime, then 12 s: the router restarted between two polls
    rig.set(SYS_UPTIME, SetValue::TimeTicks(1200)).await;
    let ts = rig.fired("DeviceRebooted", "Device/rtr").await;
    // the notice closes itself after its 3 s window; uptime keeps its new value
    rig.resolved("DeviceRebooted", &ts).await;
    rig.polls(2).await;
    rig.assert_once("DeviceRebooted", "Device/rtr");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snmp_unreachable_fires_after_three_failed_polls_and_resolves_when_it_answers() {
    let mut rig = Rig::start(require_sandbox!(), "alerts-snmp-down", "{}").await;
    rig.sim.down();
    let ts = rig.fired("SnmpUnreachable", "Device/rtr").await;
    rig.sim.up().await.unwrap();
    rig.resolved("SnmpUnreachable", &ts).await;
    let msg = rig.assert_once("SnmpUnreachable", "Device/rtr");
    assert!(
        msg.text().contains("3 SNMP polls in a row failed"),
        "{}",
        msg.text()
    );
}

/// InfluxDB down, a 1 MiB spool and 400 pinged devices (the kernel-answered namespace host;
/// cheap for every peer, about 100 KB of points a second): the spool overflows,
/// SpoolOverflow is posted once (not once per dropped batch), and after InfluxDB is back and
/// the spool has drained the notice resolves once its window has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_overflow_fires_once_and_resolves_after_influxdb_is_back() {
    let sb = require_sandbox!();
    let dir = TempDir::new("alerts-spool");
    let mut influx = Influxd::start(dir.path().to_path_buf()).await;
    influx.create_db("spool").await;
    influx.down();
    let rec = SlackRecorder::start().await.unwrap();
    let hook = secret(&dir, "hook", &rec.webhook_url("acme"));
    let alerts = dir.file(
        "alerts.yaml",
        &format!(
            "cluster: {{name: collector, state_file: {}, evaluation_interval: 200ms}}
rules: {{SpoolOverflow: {{window: 10s}}}}
slack: {{default: {{webhook: {hook}}}, min_interval: 100ms}}
",
            dir.path().join("alerts-state.json").display()
        ),
    );
    let mut devices = String::new();
    for i in 0..400 {
        devices += &format!(
            "  - {{name: host-{i}, address: {up}, icmp: {{count: 1, timeout: 500ms}}}}\n",
            up = sb.icmp_host("up"),
        );
    }
    let config = dir.file(
        "vigil.yaml",
        &format!(
            "agent: {{name: acme-collector, tenant: acme, alerts: {alerts}}}
spool: {{dir: {spool}, max_size: 1MiB}}
output: {{influxdb: {{url: \"{url}\", v1: {{database: spool}}, gzip: false, timeout: 1s}}}}
defaults: {{interval: 1s, jitter: 0s}}
devices:
{devices}",
            alerts = alerts.display(),
            spool = dir.path().join("spool").display(),
            url = influx.url,
        ),
    );
    let _agent = Agent::start(&config, dir.path().join("agent.log"));
    vigil_tests::wait_for(&rec, "SpoolOverflow fired", LONG, |reqs| {
        reqs.iter()
            .any(|r| r.text().contains("SpoolOverflow") && !r.text().contains("RESOLVED"))
            .then_some(())
    })
    .await;
    influx.up().await;
    // a database created just before a kill may not have reached influxd's meta store
    influx.create_db("spool").await;
    vigil_tests::wait_for(&rec, "SpoolOverflow resolved", LONG, |reqs| {
        reqs.iter()
            .any(|r| r.text().contains("RESOLVED SpoolOverflow"))
            .then_some(())
    })
    .await;
    let reqs = rec.delivered();
    let fired: Vec<_> = reqs
        .iter()
        .filter(|r| r.text().contains("SpoolOverflow") && !r.text().contains("RESOLVED"))
        .collect();
    assert_eq!(fired.len(), 1, "SpoolOverflow posted once");
    assert!(fired[0].text().contains("Collector/acme-collector"));
    assert_eq!(
        reqs.iter()
            .filter(|r| r.text().contains("RESOLVED SpoolOverflow"))
            .count(),
        1,
        "resolved once"
    );
}
