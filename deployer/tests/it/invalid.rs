//! Invalid input: exit code 2, a message saying what, where and how to fix, nothing applied.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};

use crate::support::{scratch, tenant_name, vigil_env, write_tenant};

struct Case {
    what: &'static str,
    /// The spec body below `spec:` (indented two spaces), or a whole file when it starts with `!`.
    spec: &'static str,
    /// Tenant name override (for name errors).
    name: Option<&'static str>,
    /// Every string the message must contain.
    expect: &'static [&'static str],
}

const fn case(what: &'static str, spec: &'static str, expect: &'static [&'static str]) -> Case {
    Case {
        what,
        spec,
        name: None,
        expect,
    }
}

const fn named(what: &'static str, name: &'static str, expect: &'static [&'static str]) -> Case {
    Case {
        what,
        spec: "",
        name: Some(name),
        expect,
    }
}

const DEVICE: &str = "  devices:\n  - name: r1\n    address: 10.0.0.1\n";

fn cases() -> Vec<Case> {
    vec![
        named(
            "upper-case name",
            "Acme",
            &["metadata.name", "lower-case letters", "e.g. \"acme-corp\""],
        ),
        named(
            "name too long for derived names",
            "a-tenant-name-that-is-far-too-long-for-vigil",
            &["metadata.name", "more than 41", "must fit 63"],
        ),
        named(
            "reserved name default",
            "default",
            &["metadata.name", "is reserved"],
        ),
        named(
            "reserved kube- prefix",
            "kube-monitoring",
            &["metadata.name", "is reserved", "kube-"],
        ),
        named(
            "name starting with a digit",
            "1acme",
            &["metadata.name", "does not start with a lower-case letter"],
        ),
        case(
            "unknown field",
            "  retension: 30d\n",
            &[
                "unknown field `retension`",
                "line 6 column 3",
                "docs/tenants.md",
            ],
        ),
        case("YAML syntax error", "  devices: [\n", &["line", "column"]),
        case(
            "inline secret",
            "  devices:\n  - name: r1\n    address: 10.0.0.1\n    snmp: {version: v2c, community: public}\n",
            &[
                "inline secret values are not accepted",
                "{env: NAME}",
                "line 9",
            ],
        ),
        case(
            "duplicate device name",
            "  devices:\n  - {name: r1, address: 10.0.0.1}\n  - {name: r1, address: 10.0.0.2}\n",
            &[
                "spec.devices[1].name",
                "duplicate device name \"r1\"",
                "unique name",
            ],
        ),
        case(
            "duplicate device address",
            "  devices:\n  - {name: r1, address: 10.0.0.1}\n  - {name: r2, address: 10.0.0.1}\n",
            &[
                "spec.devices[1].address",
                "already polled as spec.devices[0]",
            ],
        ),
        case(
            "malformed address",
            "  devices:\n  - {name: r1, address: 10.0.0.300}\n",
            &[
                "spec.devices[0].address",
                "not an IP address",
                "IPv4 or IPv6",
            ],
        ),
        case(
            "malformed CIDR",
            "  deviceCidrs: [10.0.0.0/33]\n",
            &["spec.deviceCidrs[0]", "not a CIDR", "10.20.0.0/16"],
        ),
        case(
            "CIDR with host bits",
            "  deviceCidrs: [10.0.0.1/24]\n",
            &["spec.deviceCidrs[0]", "host bits", "10.0.0.0/24"],
        ),
        case(
            "device outside the CIDRs",
            "  deviceCidrs: [10.1.0.0/16]\n  devices:\n  - {name: r1, address: 10.2.0.1}\n",
            &[
                "spec.devices[0].address",
                "outside every spec.deviceCidrs",
                "network policy",
            ],
        ),
        case(
            "device CIDR covering everything",
            "  deviceCidrs: [0.0.0.0/0]\n",
            &["spec.deviceCidrs[0]", "too broad", "--allow-broad-cidrs"],
        ),
        case(
            "IPv6 device CIDR covering everything",
            "  deviceCidrs: [\"::/0\"]\n",
            &["spec.deviceCidrs[0]", "too broad", "--allow-broad-cidrs"],
        ),
        case(
            "device CIDR over the metadata service",
            "  deviceCidrs: [169.254.0.0/16]\n",
            &["spec.deviceCidrs[0]", "link-local", "--allow-broad-cidrs"],
        ),
        case(
            "device CIDR over loopback",
            "  deviceCidrs: [127.0.0.0/8]\n",
            &["spec.deviceCidrs[0]", "loopback", "--allow-broad-cidrs"],
        ),
        case(
            "malformed storage quantity",
            "  storage: {influxdb: 10GB}\n",
            &[
                "spec.storage.influxdb",
                "\"10GB\" is not a valid storage size quantity",
                "10Gi",
            ],
        ),
        case(
            "malformed CPU quantity",
            "  resources: {collector: {limits: {cpu: one}}}\n",
            &[
                "spec.resources.collector.limits.cpu",
                "not a valid CPU quantity",
            ],
        ),
        case(
            "request above limit",
            "  resources: {influxdb: {requests: {memory: 2Gi}, limits: {memory: 1Gi}}}\n",
            &[
                "spec.resources.influxdb.requests.memory",
                "above the limit",
                "raise spec.resources.influxdb.limits.memory",
            ],
        ),
        case(
            "unknown resource profile",
            "  resources: {profile: huge}\n",
            &["spec.resources.profile", "small, medium or large"],
        ),
        case(
            "malformed cron",
            "  alerts:\n    slack:\n      webhook: {env: HOME}\n      channel: \"#noc\"\n      digestSchedule: \"61 8 * * *\"\n",
            &[
                "spec.alerts.slack.digestSchedule",
                "not a valid cron schedule",
                "0 8 * * 1-5",
            ],
        ),
        case(
            "Slack route without its own webhook",
            "  alerts:\n    slack:\n      webhook: {env: HOME}\n      channel: \"#noc\"\n      routes: [{tags: {role: core}, channel: \"#core\"}]\n",
            &[
                "spec.alerts.slack.routes[0].webhook",
                "posts only to its own channel",
                "add the incoming webhook of that channel",
            ],
        ),
        case(
            "Slack egress CIDR with host bits",
            "  alerts:\n    slack: {webhook: {env: HOME}, channel: '#noc', egressCidrs: [34.224.0.1/12]}\n",
            &[
                "spec.alerts.slack.egressCidrs[0]",
                "host bits",
                "34.224.0.0/12",
            ],
        ),
        case(
            "Slack webhook that is not a URL",
            "  alerts:\n    slack: {webhook: {env: HOME}, channel: '#noc'}\n  devices:\n  - {name: r1, address: 10.0.0.1}\n",
            &[
                "spec.alerts.slack.webhook",
                "environment variable HOME is not an http:// or https:// URL",
                "incoming webhook URL",
            ],
        ),
        case(
            "Slack channel without #",
            "  alerts:\n    slack: {webhook: {env: HOME}, channel: noc}\n",
            &["spec.alerts.slack.channel", "#name"],
        ),
        case(
            "unreadable credential file",
            "  devices:\n  - name: r1\n    address: 10.0.0.1\n    snmp: {version: v2c, community: {file: /nonexistent/vigil-community}}\n",
            &[
                "spec.devices[0].snmp.community",
                "cannot read /nonexistent/vigil-community",
                "fix the path",
            ],
        ),
        case(
            "unset credential variable",
            "  devices:\n  - name: r1\n    address: 10.0.0.1\n    snmp: {version: v2c, community: {env: VIGIL_IT_UNSET_VARIABLE}}\n",
            &[
                "spec.devices[0].snmp.community",
                "VIGIL_IT_UNSET_VARIABLE is not set",
                "export VIGIL_IT_UNSET_VARIABLE",
            ],
        ),
        case(
            "SNMPv3 without user",
            "  devices:\n  - name: r1\n    address: 10.0.0.1\n    snmp: {version: v3}\n",
            &["spec.devices[0].snmp.user", "needs a user name"],
        ),
        case(
            "unknown SNMP version",
            "  devices:\n  - name: r1\n    address: 10.0.0.1\n    snmp: {version: v4}\n",
            &["spec.devices[0].snmp.version", "use v2c or v3"],
        ),
        case(
            "privacy without authentication",
            "  devices:\n  - name: r1\n    address: 10.0.0.1\n    snmp: {version: v3, user: u, priv: {protocol: AES, password: {env: HOME}}}\n",
            &["spec.devices[0].snmp.priv", "needs authentication"],
        ),
        case(
            "image on latest",
            "  images: {grafana: \"grafana/grafana:latest\"}\n",
            &["spec.images.grafana", "moving tag latest", "repository:tag"],
        ),
        case(
            "negative toleration seconds",
            "  failover: {tolerationSeconds: -5}\n",
            &[
                "spec.failover.tolerationSeconds",
                "out of range",
                "default is 30",
            ],
        ),
        case(
            "ingress host not a DNS name",
            "  ingress: {host: grafana_acme}\n",
            &["spec.ingress.host", "not a fully qualified host name"],
        ),
        case(
            "unknown network policy mode",
            "  networkPolicy: {mode: calico}\n",
            &["spec.networkPolicy.mode", "cilium, kubernetes or none"],
        ),
        case(
            "malformed retention",
            "  retention: 5x\n",
            &["spec.retention", "not a duration", "\"30d\""],
        ),
        case(
            "timeout not shorter than interval",
            "  collector: {interval: 30s, timeout: 30s}\n",
            &[
                "spec.collector.timeout",
                "shorter than the polling interval",
            ],
        ),
        case(
            "device with nothing to poll",
            "  devices:\n  - {name: r1, address: 10.0.0.1, icmp: false}\n",
            &["spec.devices[0]", "neither snmp nor icmp"],
        ),
        case(
            "wrong apiVersion",
            "!apiVersion: vigil.dev/v2\nkind: Tenant\nmetadata: {name: NAME}\n",
            &[
                "unsupported apiVersion \"vigil.dev/v2\"",
                "vigil.dev/v1alpha1",
            ],
        ),
        case(
            "a cluster rule among the device thresholds",
            "  alerts:\n    rules: {PodCrashLooping: {for: 1m}}\n",
            &[
                "spec.alerts.rules.PodCrashLooping",
                "is not a device rule",
                "LatencyHigh",
            ],
        ),
        case(
            "a latency threshold that is not a duration",
            "  alerts:\n    rules: {LatencyHigh: {threshold: fast}}\n",
            &["spec.alerts.rules.LatencyHigh.threshold", "e.g. 50ms"],
        ),
        case(
            "a tag entry without tags",
            "  alerts:\n    byTags: [{tags: {}, rules: {CpuHigh: {threshold: 90}}}]\n",
            &[
                "spec.alerts.byTags[0].tags",
                "every device",
                "spec.alerts.rules",
            ],
        ),
        case(
            "a device threshold below zero and a bad window",
            "  devices:\n  - name: r1\n    address: 10.0.0.1\n    alerts: {rules: {PacketLoss: {threshold: -5, window: 3x}}}\n",
            &[
                "spec.devices[0].alerts.rules.PacketLoss.threshold",
                "spec.devices[0].alerts.rules.PacketLoss.window",
                "is not a duration",
            ],
        ),
        case(
            "wrong kind",
            "!apiVersion: vigil.dev/v1alpha1\nkind: Tenants\nmetadata: {name: NAME}\n",
            &["unsupported kind \"Tenants\""],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_inputs_exit_2_with_what_where_how_and_apply_nothing() {
    let sandbox = vigil_tests::require_sandbox!();
    let client = sandbox.client().await;
    let dir = scratch("invalid");
    let cases = cases();
    assert!(cases.len() >= 20);
    let runs = futures::future::join_all(cases.iter().enumerate().map(|(i, c)| {
        let name = c.name.map_or_else(|| tenant_name(&format!("bad{i}")), str::to_owned);
        let body = match c.spec.strip_prefix('!') {
            Some(whole) => whole.replace("NAME", &name),
            None => format!("apiVersion: vigil.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: {name}\nspec:\n{}", if c.spec.is_empty() { DEVICE } else { c.spec }),
        };
        let file = write_tenant(&dir, &format!("case-{i}.yaml"), &body);
        async move {
            let run = vigil_env(Some(sandbox), &["tenant", "apply", "-f", file.to_str().expect("utf-8")], &[]).await;
            (name, file, run)
        }
    }))
    .await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut failures = Vec::new();
    for (c, (name, file, run)) in cases.iter().zip(runs) {
        if run.code != 2 {
            failures.push(format!(
                "{}: exit {} (want 2): {}{}",
                c.what, run.code, run.stdout, run.stderr
            ));
            continue;
        }
        let origin = file.display().to_string();
        if !run.stderr.contains(&origin) {
            failures.push(format!(
                "{}: message does not name the file {origin}: {}",
                c.what, run.stderr
            ));
        }
        for want in c.expect {
            if !run.stderr.contains(want) {
                failures.push(format!(
                    "{}: message lacks {want:?}: {}",
                    c.what, run.stderr
                ));
            }
        }
        if !run.stdout.is_empty() {
            failures.push(format!("{}: printed changes: {}", c.what, run.stdout));
        }
        let lp = ListParams::default().labels(&format!("vigil.dev/tenant={name}"));
        // Reserved names exist already: they must not have become vigil's.
        let taken = namespaces
            .get_opt(&name)
            .await
            .expect("get")
            .is_some_and(|ns| {
                ns.metadata
                    .labels
                    .unwrap_or_default()
                    .get("app.kubernetes.io/managed-by")
                    .map(String::as_str)
                    == Some("vigil")
            });
        if taken || !namespaces.list(&lp).await.expect("list").items.is_empty() {
            failures.push(format!("{}: namespace {name} was created", c.what));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let bad_flag = vigil_env(None, &["tenant", "create", "x", "--no-such-flag"], &[]).await;
    assert_eq!(bad_flag.code, 2, "{}", bad_flag.stderr);
    let bad_output = vigil_env(None, &["tenant", "list", "-o", "xml"], &[]).await;
    assert_eq!(bad_output.code, 2, "{}", bad_output.stderr);
    let bad_wait = vigil_env(
        None,
        &["tenant", "apply", "-f", "x.yaml", "--wait=soon"],
        &[],
    )
    .await;
    assert_eq!(bad_wait.code, 2, "{}", bad_wait.stderr);
    let missing_file = vigil_env(
        None,
        &["tenant", "apply", "-f", "/nonexistent/tenant.yaml"],
        &[],
    )
    .await;
    assert_eq!(missing_file.code, 2, "{}", missing_file.stderr);
    assert!(
        missing_file
            .stderr
            .contains("cannot read tenant file /nonexistent/tenant.yaml"),
        "{}",
        missing_file.stderr
    );
}

/// A device CIDR that covers the cluster's own Service range would let the collector reach
/// every Service of every tenant: refused at apply (the ranges are the cluster's), exit 2,
/// nothing applied; `--allow-broad-cidrs` accepts it on purpose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_cidr_over_the_clusters_service_range_exits_2_unless_allowed() {
    let sandbox = vigil_tests::require_sandbox!();
    let client = sandbox.client().await;
    let services: Api<k8s_openapi::api::core::v1::Service> =
        Api::namespaced(client.clone(), "default");
    let api_ip = services
        .get("kubernetes")
        .await
        .expect("the kubernetes service")
        .spec
        .and_then(|s| s.cluster_ip)
        .expect("a cluster IP");
    let octets: Vec<&str> = api_ip.split('.').collect();
    let cidr = format!("{}.{}.0.0/16", octets[0], octets[1]);
    let device = format!("{}.{}.200.1", octets[0], octets[1]);
    let name = tenant_name("svcrange");
    let _cleanup = crate::support::Cleanup::new(sandbox).tenant(&name);
    let dir = scratch(&name);
    let file = write_tenant(
        &dir,
        "t.yaml",
        &format!(
            "apiVersion: vigil.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: {name}\nspec:\n  \
             networkPolicy: {{mode: none}}\n  deviceCidrs: [{cidr}]\n  devices:\n  - {{name: r1, address: {device}}}\n"
        ),
    );
    let path = file.to_str().expect("utf-8");
    let refused = vigil_env(Some(sandbox), &["tenant", "apply", "-f", path], &[]).await;
    assert_eq!(refused.code, 2, "{}\n{}", refused.stdout, refused.stderr);
    for want in [
        path,
        "spec.deviceCidrs",
        "service range",
        "--allow-broad-cidrs",
    ] {
        assert!(
            refused.stderr.contains(want),
            "lacks {want:?}: {}",
            refused.stderr
        );
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    assert!(
        namespaces.get_opt(&name).await.expect("get").is_none(),
        "nothing applied"
    );
    vigil_env(
        Some(sandbox),
        &["tenant", "apply", "-f", path, "--allow-broad-cidrs"],
        &[],
    )
    .await
    .ok();
}
