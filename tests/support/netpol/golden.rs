//! vigil's golden tenants (`deployer/tests/golden/*.tenant.yaml`) rendered by the deployer's
//! library in both policy modes: each component's flows are allowed, others denied, and every
//! rule the templates add is used by some flow.

use std::path::Path;

use serde_json::Value;
use vigil_deployer::tenant::Source;
use vigil_deployer::tenant::build::{self, Options};
use vigil_deployer::tenant::spec::NetworkPolicySpec;
use vigil_deployer::tenant::validate::{Tenant, WebhookEndpoint};

use super::*;

const MODES: [&str; 2] = ["cilium", "kubernetes"];

struct Rendered {
    mode: &'static str,
    tenant: String,
    objects: Vec<Value>,
    set: PolicySet,
}

fn render(name: &str, mode: &'static str) -> Rendered {
    render_with(name, mode, |_| {})
}

/// Renders after `change` (e.g. the webhook endpoints apply would have read).
fn render_with(name: &str, mode: &'static str, change: impl FnOnce(&mut Tenant)) -> Rendered {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deployer/tests/golden")
        .join(format!("{name}.tenant.yaml"));
    let mut source = Source::read(&path).expect("golden tenant reads");
    source.file.spec.network_policy = Some(NetworkPolicySpec {
        mode: Some(mode.into()),
    });
    let mut tenant = source.validate().expect("golden tenant is valid");
    change(&mut tenant);
    let objects: Vec<Value> = build::manifests(&tenant, &Options::default())
        .expect("manifests build")
        .iter()
        .map(|o| serde_json::to_value(&o.object).expect("JSON"))
        .collect();
    let set =
        PolicySet::from_values(objects.iter()).expect("the evaluator implements every construct");
    assert!(!set.is_empty(), "{name} in mode {mode} has policies");
    Rendered {
        mode,
        tenant: tenant.name.to_string(),
        objects,
        set,
    }
}

impl Rendered {
    /// A pod of the component as its Deployment's template labels it, in the namespace as
    /// rendered.
    fn pod(&self, component: &str, addr: &str) -> Endpoint {
        let deploy = self
            .objects
            .iter()
            .find(|o| {
                o["kind"] == "Deployment"
                    && o["metadata"]["name"] == format!("{}-{component}", self.tenant)
            })
            .unwrap_or_else(|| panic!("no Deployment {component}"));
        let labels: Labels =
            serde_json::from_value(deploy["spec"]["template"]["metadata"]["labels"].clone())
                .expect("pod labels");
        let ns = self
            .objects
            .iter()
            .find(|o| o["kind"] == "Namespace")
            .expect("namespace");
        let mut pod = Pod::new(&self.tenant, [], addr.parse().expect("IP")).on_node("node-a");
        pod.labels = labels;
        let ns_labels: Labels =
            serde_json::from_value(ns["metadata"]["labels"].clone()).expect("ns labels");
        pod.namespace_labels.extend(ns_labels);
        Endpoint::Pod(pod)
    }

    fn check(&self, flow: Flow, allowed: bool, verdicts: &mut Vec<FlowVerdict>) {
        let v = self.set.evaluate(&flow);
        assert_eq!(v.allowed(), allowed, "{}: {v}", self.tenant);
        verdicts.push(v);
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("IP")
}

fn kube_dns() -> Endpoint {
    Endpoint::Pod(
        Pod::new("kube-system", [("k8s-app", "kube-dns")], ip("10.244.9.10")).on_node("node-b"),
    )
}

fn component_flows(r: &Rendered, verdicts: &mut Vec<FlowVerdict>) {
    let collector = r.pod("collector", "10.244.1.10");
    let grafana = r.pod("grafana", "10.244.1.11");
    let influxdb = r.pod("influxdb", "10.244.1.12");
    r.check(
        Flow::tcp(collector.clone(), influxdb.clone(), 8086),
        true,
        verdicts,
    );
    r.check(
        Flow::tcp(grafana.clone(), influxdb.clone(), 8086),
        true,
        verdicts,
    );
    for p in [&collector, &grafana, &influxdb] {
        r.check(Flow::udp(p.clone(), kube_dns(), 53), true, verdicts);
        r.check(Flow::tcp(p.clone(), kube_dns(), 53), true, verdicts);
    }
    // The kubelet probes every pod from its own node.
    let node = Endpoint::Node {
        name: "node-a".into(),
        ip: ip("192.168.50.2"),
    };
    r.check(
        Flow::tcp(node.clone(), collector.clone(), 9273),
        true,
        verdicts,
    );
    r.check(Flow::tcp(node, influxdb.clone(), 8086), true, verdicts);

    // Denied: another tenant, even one copying the labels; the collector to Grafana;
    // Grafana or InfluxDB to the world; a probe from another node.
    let mut other = Pod::new(
        "globex",
        [
            ("vigil.dev/tenant", "globex"),
            ("app.kubernetes.io/component", "collector"),
        ],
        ip("10.244.2.10"),
    );
    r.check(
        Flow::tcp(Endpoint::Pod(other.clone()), influxdb.clone(), 8086),
        false,
        verdicts,
    );
    other
        .labels
        .insert("vigil.dev/tenant".into(), r.tenant.clone());
    r.check(
        Flow::tcp(Endpoint::Pod(other), influxdb.clone(), 8086),
        false,
        verdicts,
    );
    r.check(
        Flow::tcp(collector.clone(), grafana.clone(), 3000),
        false,
        verdicts,
    );
    r.check(
        Flow::tcp(grafana.clone(), Endpoint::outside(ip("203.0.113.80")), 443),
        false,
        verdicts,
    );
    // InfluxDB reaches nothing itself (usage reporting is off): not the world, not a private
    // address.
    r.check(
        Flow::tcp(influxdb.clone(), Endpoint::outside(ip("203.0.113.80")), 443),
        false,
        verdicts,
    );
    r.check(
        Flow::tcp(influxdb.clone(), Endpoint::outside(ip("10.1.2.3")), 443),
        false,
        verdicts,
    );
    let remote = Endpoint::Node {
        name: "node-b".into(),
        ip: ip("192.168.50.3"),
    };
    r.check(Flow::tcp(remote, influxdb.clone(), 8086), false, verdicts);
    r.check(
        Flow::udp(collector.clone(), Endpoint::outside(ip("10.99.0.1")), 161),
        false,
        verdicts,
    );
    r.check(Flow::udp(collector, kube_dns(), 161), false, verdicts);
}

#[test]
fn full_tenant_flows_in_both_modes() {
    for mode in MODES {
        let r = render("full", mode);
        let mut verdicts = Vec::new();
        component_flows(&r, &mut verdicts);
        let collector = r.pod("collector", "10.244.1.10");
        let grafana = r.pod("grafana", "10.244.1.11");
        let device = |a: &str| Endpoint::outside(ip(a));
        // SNMP v3 on 161, v2c on 1161 (IPv6), ICMP echo to the device CIDRs.
        r.check(
            Flow::udp(collector.clone(), device("10.20.0.1"), 161),
            true,
            &mut verdicts,
        );
        r.check(
            Flow::udp(collector.clone(), device("2001:db8:20::1"), 1161),
            true,
            &mut verdicts,
        );
        r.check(
            Flow::ping(collector.clone(), device("10.20.7.7")),
            true,
            &mut verdicts,
        );
        r.check(
            Flow::ping(collector.clone(), device("2001:db8:20::1")),
            true,
            &mut verdicts,
        );
        r.check(
            Flow::ping(collector.clone(), device("10.21.0.1")),
            false,
            &mut verdicts,
        );
        // The ingress controller reaches Grafana on 3000, nothing else does.
        let controller = Endpoint::Pod(Pod::new(
            "ingress-nginx",
            [("app", "controller")],
            ip("10.244.3.3"),
        ));
        r.check(
            Flow::tcp(controller.clone(), grafana.clone(), 3000),
            true,
            &mut verdicts,
        );
        r.check(
            Flow::tcp(controller, r.pod("influxdb", "10.244.1.12"), 8086),
            false,
            &mut verdicts,
        );
        // Device alerts to Slack: the webhook files are not readable here, so the policies
        // name Slack's default host on 443.
        let slack = Endpoint::named("hooks.slack.com", ip("34.226.36.24"));
        r.check(
            Flow::tcp(collector.clone(), slack, 443),
            true,
            &mut verdicts,
        );
        // Only Cilium can tell ICMP from other protocols: in Kubernetes mode the device CIDRs
        // are open to every protocol when a device has ICMP polling on (documented).
        r.check(
            Flow::tcp(collector, device("10.20.0.1"), 22),
            mode == "kubernetes",
            &mut verdicts,
        );
        let unused = r.set.unused(&verdicts);
        assert!(unused.is_empty(), "{mode}: rules no flow uses: {unused:?}");
    }
}

#[test]
fn small_tenant_flows_in_both_modes() {
    for mode in MODES {
        let r = render("small", mode);
        let mut verdicts = Vec::new();
        component_flows(&r, &mut verdicts);
        let collector = r.pod("collector", "10.244.1.10");
        let device = Endpoint::outside(ip("10.20.0.1"));
        r.check(
            Flow::udp(collector.clone(), device.clone(), 161),
            true,
            &mut verdicts,
        );
        r.check(
            Flow::udp(collector.clone(), device.clone(), 162),
            r.mode == "kubernetes",
            &mut verdicts,
        );
        // ICMP polling is on by default, which Kubernetes mode can only allow as every protocol.
        r.check(
            Flow::ping(collector.clone(), device.clone()),
            true,
            &mut verdicts,
        );
        r.check(
            Flow::tcp(collector, device, 22),
            r.mode == "kubernetes",
            &mut verdicts,
        );
        let unused = r.set.unused(&verdicts);
        assert!(unused.is_empty(), "{mode}: rules no flow uses: {unused:?}");
    }
}

/// The collector of a tenant with Slack alerts whose webhooks were read by apply.
fn with_webhooks(mode: &'static str, urls: &[&str], egress_cidrs: &[&str]) -> Rendered {
    render_with("full", mode, |t| {
        let slack = t.slack.as_mut().expect("the full tenant has Slack alerts");
        slack.webhook_endpoints = urls
            .iter()
            .map(|u| WebhookEndpoint::from_url(u).expect("URL"))
            .collect();
        slack.egress_cidrs = egress_cidrs
            .iter()
            .map(|c| c.parse().expect("CIDR"))
            .collect();
    })
}

#[test]
fn the_collector_reaches_exactly_its_webhook_hosts() {
    let urls = [
        "https://hooks.slack.com/services/T0/B0/s3cr3t-t0ken",
        "https://relay.acme.example:8443/slack/s3cr3t-t0ken",
        "http://198.51.100.20:8080/hook/s3cr3t-t0ken",
    ];
    for mode in MODES {
        let r = with_webhooks(mode, &urls, &[]);
        let collector = r.pod("collector", "10.244.1.10");
        let to = |dst: Endpoint, port| r.set.evaluate(&Flow::tcp(collector.clone(), dst, port));
        let named = |n: &str, a: &str| Endpoint::named(n, ip(a));
        assert!(
            to(named("hooks.slack.com", "34.226.36.24"), 443).allowed(),
            "{mode}"
        );
        assert!(
            to(named("relay.acme.example", "203.0.113.9"), 8443).allowed(),
            "{mode}"
        );
        assert!(
            to(Endpoint::outside(ip("198.51.100.20")), 8080).allowed(),
            "{mode}"
        );
        // An address literal is exact in both modes.
        assert!(
            !to(Endpoint::outside(ip("198.51.100.21")), 8080).allowed(),
            "{mode}"
        );
        assert!(
            !to(Endpoint::outside(ip("198.51.100.20")), 22).allowed(),
            "{mode}"
        );
        // A name resolving to a private address: Cilium allows what DNS answered; Kubernetes
        // mode excludes the private ranges, which could be the cluster's.
        let private = to(named("relay.acme.example", "10.1.2.3"), 8443);
        assert_eq!(private.allowed(), mode == "cilium", "{mode}: {private}");
        // Only Cilium tells the named hosts from any other public address on their ports.
        let v = to(named("example.com", "93.184.215.14"), 443);
        assert_eq!(v.allowed(), mode == "kubernetes", "{mode}: {v}");
        // Neither the path nor the token is in any policy.
        for o in &r.objects {
            let text = serde_json::to_string(o).expect("JSON");
            assert!(
                !text.contains("s3cr3t-t0ken") && !text.contains("/services/"),
                "{mode}: {text}"
            );
        }
    }
}

#[test]
fn egress_cidrs_narrow_the_kubernetes_rule_for_named_hosts() {
    let r = with_webhooks(
        "kubernetes",
        &["https://hooks.slack.com/x"],
        &["34.224.0.0/12"],
    );
    let collector = r.pod("collector", "10.244.1.10");
    let to = |a: &str| {
        let dst = Endpoint::named("hooks.slack.com", ip(a));
        r.set
            .evaluate(&Flow::tcp(collector.clone(), dst, 443))
            .allowed()
    };
    assert!(to("34.226.36.24"));
    assert!(!to("93.184.215.14"));
}

#[test]
fn without_slack_alerts_the_collector_reaches_no_webhook() {
    for mode in MODES {
        let r = render("small", mode);
        let collector = r.pod("collector", "10.244.1.10");
        let slack = Endpoint::named("hooks.slack.com", ip("34.226.36.24"));
        let v = r.set.evaluate(&Flow::tcp(collector, slack, 443));
        assert!(!v.allowed(), "{mode}: {v}");
    }
}
