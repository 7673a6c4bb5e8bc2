//! Policies against observed flows: every connection a tenant's pods really made on the real
//! nodes (the host's conntrack, mapped to pods and Services through the API) must be allowed
//! by the tenant's rendered policies, in both policy modes; every rule the templates add must be
//! used by some flow or be named here with the reason it was not exercised.
//!
//! No enforcing CNI can run here (Cilium's images cannot be pulled), so the rendered objects are
//! judged by the evaluator in `vigil_tests::netpol`. The sandbox's pods reach its DNS server and
//! the API server on the host's pod side; they stand for kube-dns (kube-system,
//! `k8s-app=kube-dns`) and the API server. Namespaces are judged with the
//! `kubernetes.io/metadata.name` label Kubernetes sets from 1.21 on (the sandbox's 1.20 does
//! not set it; the rules' reliance on it is a known limit of Kubernetes mode on 1.20).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Client;
use kube::api::{Api, ListParams};
use serde::Deserialize;
use vigil_tests::netpol::{self, Endpoint, PolicySet};
use vigil_tests::{ObservedFlow, Sandbox};

/// Rules no component of these tests exercises, and why. Anything else unused fails.
const NOT_EXERCISED: &[(&str, &str)] = &[
    (
        "grafana",
        "Grafana cannot run here (no image): its egress to InfluxDB and its ingress are not observed",
    ),
    (
        "influxdb",
        "Grafana's reads (the ingress rule admitting Grafana) are not observed without Grafana",
    ),
];

/// The tenant's policies as `vigil tenant render` builds them in `mode`, with the credentials
/// the apply read (the webhooks' hosts decide the collector's Slack egress).
async fn rendered_policies(
    sb: &Sandbox,
    yaml: &str,
    mode: &str,
    env: &[(&str, &str)],
) -> PolicySet {
    let yaml = yaml.replace("mode: cilium", &format!("mode: {mode}"));
    let dir = crate::support::scratch(&format!("flows-{mode}"));
    let file = crate::support::write_tenant(&dir, "tenant.yaml", &yaml);
    let run = crate::support::vigil_env(
        Some(sb),
        &["tenant", "render", "-f", file.to_str().expect("utf-8")],
        env,
    )
    .await;
    run.ok();
    let _ = std::fs::remove_dir_all(dir);
    let objects: Vec<serde_json::Value> = serde_norway::Deserializer::from_str(&run.stdout)
        .filter_map(|doc| serde_json::Value::deserialize(doc).ok())
        .filter(|v| {
            matches!(
                v["kind"].as_str(),
                Some("NetworkPolicy" | "CiliumNetworkPolicy")
            )
        })
        .collect();
    assert!(!objects.is_empty(), "mode {mode} renders policies");
    PolicySet::from_values(objects.iter()).expect("the evaluator understands every rule")
}

/// The names a pod looked up through the pods' DNS server (its query log), resolved again.
fn names_resolved_by(sb: &Sandbox, client_ip: IpAddr) -> BTreeMap<IpAddr, String> {
    let log = std::fs::read_to_string(&sb.pod_dns_log).unwrap_or_default();
    let names: BTreeSet<String> = log
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 6
                && w[1] == "query"
                && w[2] == client_ip.to_string()
                && w[4] == "A"
                && w[5] == "NOERROR")
                .then(|| w[3].trim_end_matches('.').to_owned())
        })
        .collect();
    let mut out = BTreeMap::new();
    for name in names {
        let dig = std::process::Command::new("dig")
            .args([
                "+short",
                "+time=1",
                "+tries=1",
                &format!("@{}", sb.pod_host_addr),
                &name,
                "A",
            ])
            .output();
        if let Ok(o) = dig {
            for ip in String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.parse().ok())
            {
                out.insert(ip, name.clone());
            }
        }
    }
    out
}

fn to_policy_pod(p: &Pod, ns_labels: &BTreeMap<String, String>) -> Option<netpol::Pod> {
    let ip: IpAddr = p.status.as_ref()?.pod_ip.as_ref()?.parse().ok()?;
    let ns = p.metadata.namespace.clone()?;
    let mut pod = netpol::Pod::new(&ns, [], ip);
    pod.labels = p.metadata.labels.clone().unwrap_or_default();
    for (k, v) in ns_labels {
        pod = pod.with_namespace_label(k, v);
    }
    if let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
        pod = pod.on_node(n);
    }
    for c in p.spec.iter().flat_map(|s| &s.containers) {
        for port in c.ports.iter().flatten() {
            if let (Some(name), Ok(n)) = (&port.name, u16::try_from(port.container_port)) {
                let proto = match port.protocol.as_deref() {
                    Some("UDP") => netpol::Protocol::Udp,
                    _ => netpol::Protocol::Tcp,
                };
                pod = pod.with_port(name, n, proto);
            }
        }
    }
    Some(pod)
}

/// Checks every observed flow of the tenant's pods against its policies in both modes.
pub async fn check_flows(
    sb: &Sandbox,
    client: &Client,
    tenant: &str,
    yaml: &str,
    env: &[(&str, &str)],
    observed: &[ObservedFlow],
) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns_labels: HashMap<String, BTreeMap<String, String>> = namespaces
        .list(&ListParams::default())
        .await
        .expect("namespaces")
        .items
        .into_iter()
        .map(|n| {
            (
                n.metadata.name.clone().unwrap_or_default(),
                n.metadata.labels.unwrap_or_default(),
            )
        })
        .collect();
    let pods: Api<Pod> = Api::all(client.clone());
    let by_ip: HashMap<IpAddr, netpol::Pod> = pods
        .list(&ListParams::default())
        .await
        .expect("pods")
        .items
        .iter()
        .filter_map(|p| {
            let ns = p.metadata.namespace.clone().unwrap_or_default();
            to_policy_pod(p, ns_labels.get(&ns).unwrap_or(&BTreeMap::new()))
        })
        .map(|p| (p.ip, p))
        .collect();
    let kube_dns = netpol::Pod::new("kube-system", [("k8s-app", "kube-dns")], sb.pod_host_addr);
    let apiserver_port = std::env::var("VIGIL_APISERVER_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(26443u16);

    let mut flows = Vec::new();
    let mut seen = BTreeSet::new();
    for f in observed {
        let Some(src) = by_ip.get(&f.src).filter(|p| p.namespace == tenant) else {
            continue;
        };
        let (dst_ip, dst_port) = f.real_dst();
        let port = dst_port.unwrap_or(0);
        let dst = if let Some(p) = by_ip.get(&dst_ip) {
            Endpoint::Pod(p.clone())
        } else if dst_ip == sb.pod_host_addr && port == 53 {
            Endpoint::Pod(kube_dns.clone())
        } else if dst_ip == sb.pod_host_addr && port == apiserver_port {
            Endpoint::ApiServer { ip: dst_ip }
        } else {
            match names_resolved_by(sb, f.src).get(&dst_ip) {
                Some(name) => Endpoint::named(name, dst_ip),
                None => Endpoint::outside(dst_ip),
            }
        };
        let flow = match f.protocol.as_str() {
            "tcp" => netpol::Flow::tcp(Endpoint::Pod(src.clone()), dst, port),
            "udp" => netpol::Flow::udp(Endpoint::Pod(src.clone()), dst, port),
            "icmp" if f.icmp_type == Some(8) => netpol::Flow::ping(Endpoint::Pod(src.clone()), dst),
            _ => continue,
        };
        if seen.insert(flow.to_string()) {
            flows.push(flow);
        }
    }
    assert!(
        !flows.is_empty(),
        "no flow of the tenant's pods was observed"
    );
    eprintln!("observed flows of tenant {tenant}:");
    for f in &flows {
        eprintln!("  {f}");
    }

    let mut failures = Vec::new();
    for mode in ["cilium", "kubernetes"] {
        let set = rendered_policies(sb, yaml, mode, env).await;
        let verdicts: Vec<_> = flows.iter().map(|f| set.evaluate(f)).collect();
        for v in &verdicts {
            if !v.allowed() {
                failures.push(format!("{mode}: {v}"));
            }
        }
        for rule in set.unused(&verdicts) {
            let excused = NOT_EXERCISED
                .iter()
                .any(|(policy, _)| rule.policy == format!("{tenant}-{policy}"));
            if !excused {
                failures.push(format!("{mode}: rule {rule} is used by no observed flow and not documented as unexercised"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "observed flows against the rendered policies:\n{}",
        failures.join("\n")
    );
}
