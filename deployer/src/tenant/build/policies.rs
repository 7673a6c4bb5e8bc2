//! Network policies rendered from the handlebars templates in `policies/`.

use std::collections::BTreeSet;

use handlebars::Handlebars;
use ipnet::IpNet;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::DynamicObject;
use serde_json::json;

use super::embedded::{CILIUM_POLICIES, KUBERNETES_POLICIES};
use super::{Component, Error, Object, labels, resource};
use crate::tenant::validate::{Slack, Snmp, Tenant, WebhookHost};

/// The variables templates see (documented in policies/README.md).
fn context(t: &Tenant) -> serde_json::Value {
    let cidrs: Vec<String> = t.device_cidrs.iter().map(ToString::to_string).collect();
    let v4: Vec<&String> = cidrs.iter().filter(|c| !c.contains(':')).collect();
    let v6: Vec<&String> = cidrs.iter().filter(|c| c.contains(':')).collect();
    let ports: BTreeSet<u16> = t
        .devices
        .iter()
        .filter_map(|d| d.snmp.as_ref())
        .map(|s| match s {
            Snmp::V2c { port, .. } | Snmp::V3 { port, .. } => *port,
        })
        .collect();
    let mut ctx = json!({
        "tenant": t.name.as_str(),
        "deviceCidrs": cidrs,
        "deviceCidrsV4": v4,
        "deviceCidrsV6": v6,
        "snmpPorts": ports,
        "icmp": t.devices.iter().any(|d| d.icmp),
    });
    if let Some(i) = &t.ingress {
        ctx["ingress"] = json!({ "controllerNamespace": i.controller_namespace });
    }
    if let Some(s) = &t.slack {
        ctx["slack"] = slack(s);
    }
    ctx
}

/// Where the collector posts alerts: webhook hosts by name (`names`, their distinct ports in
/// `namePorts`) and by address (`addresses`, one /32 or /128 each), plus `egressCidrs`. Hosts
/// and ports only: a webhook's path is its secret.
fn slack(s: &Slack) -> serde_json::Value {
    let egress = s.egress();
    let mut names = Vec::new();
    let mut name_ports = BTreeSet::new();
    let mut addresses = Vec::new();
    for e in &egress {
        match &e.host {
            WebhookHost::Name(host) => {
                names.push(json!({ "host": host, "port": e.port }));
                name_ports.insert(e.port);
            }
            WebhookHost::Ip(ip) => {
                addresses.push(json!({ "cidr": IpNet::from(*ip).to_string(), "port": e.port }));
            }
        }
    }
    let cidrs: Vec<String> = s.egress_cidrs.iter().map(ToString::to_string).collect();
    json!({
        "names": names,
        "namePorts": name_ports,
        "addresses": addresses,
        "egressCidrs": cidrs,
    })
}

/// Renders each template; yields (template name, YAML) for those that render to something.
fn render(
    t: &Tenant,
    templates: &[(&str, &str)],
) -> Result<Vec<(String, serde_norway::Value)>, Error> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    let ctx = context(t);
    let mut out = Vec::new();
    for (stem, text) in templates {
        let err = |message: String| Error::Template {
            template: (*stem).to_owned(),
            message,
        };
        let yaml = hb
            .render_template(text, &ctx)
            .map_err(|e| err(e.to_string()))?;
        let value: serde_norway::Value =
            serde_norway::from_str(&yaml).map_err(|e| err(e.to_string()))?;
        if value.is_null() {
            continue;
        }
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or_default();
        if !name.starts_with(&format!("{}-", t.name)) {
            return Err(err(format!(
                "metadata.name {name:?} must start with \"{}-\"",
                t.name
            )));
        }
        out.push(((*stem).to_owned(), value));
    }
    Ok(out)
}

/// Sets namespace and labels, whatever the template says.
fn own(t: &Tenant, meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
    meta.namespace = Some(t.name.to_string());
    meta.labels = Some(labels(t, Component::Tenant));
}

/// CiliumNetworkPolicies (`api_version` is normally `cilium.io/v2`).
pub(super) fn cilium(t: &Tenant, api_version: &str) -> Result<Vec<Object>, Error> {
    let res = resource(api_version, "CiliumNetworkPolicy", "ciliumnetworkpolicies");
    render(t, CILIUM_POLICIES)?
        .into_iter()
        .map(|(stem, value)| {
            let err = |message: String| Error::Template {
                template: stem.clone(),
                message,
            };
            if value.get("kind").and_then(|k| k.as_str()) != Some("CiliumNetworkPolicy") {
                return Err(err("kind must be CiliumNetworkPolicy".into()));
            }
            let mut obj: DynamicObject =
                serde_norway::from_value(value).map_err(|e| err(e.to_string()))?;
            own(t, &mut obj.metadata);
            Ok(Object::with_resource(res.clone(), &obj)?)
        })
        .collect()
}

/// Standard `networking.k8s.io/v1` NetworkPolicies.
pub(super) fn kubernetes(t: &Tenant) -> Result<Vec<Object>, Error> {
    render(t, KUBERNETES_POLICIES)?
        .into_iter()
        .map(|(stem, value)| {
            let err = |message: String| Error::Template {
                template: stem.clone(),
                message,
            };
            if value.get("kind").and_then(|k| k.as_str()) != Some("NetworkPolicy") {
                return Err(err("kind must be NetworkPolicy".into()));
            }
            let mut np: NetworkPolicy =
                serde_norway::from_value(value).map_err(|e| err(e.to_string()))?;
            own(t, &mut np.metadata);
            Ok(Object::typed(&np)?)
        })
        .collect()
}
