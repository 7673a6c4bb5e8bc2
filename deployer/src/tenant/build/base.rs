//! Namespace-level objects: the namespace, its quota and limits, one ServiceAccount per component.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, ResourceQuota, ResourceQuotaSpec,
    ServiceAccount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    Component, DISPLAY_NAME_ANNOTATION, Error, Object, SLACK_EGRESS_ANNOTATION, SPEC_ANNOTATION,
    labels, meta, name,
};
use crate::tenant::validate::{ComponentResources, Tenant};

pub(super) fn objects(t: &Tenant) -> Result<Vec<Object>, Error> {
    let mut out = vec![Object::typed(&namespace(t))?];
    out.push(Object::typed(&quota(t))?);
    out.push(Object::typed(&limit_range(t))?);
    for c in Component::WORKLOADS {
        out.push(Object::typed(&service_account(t, c))?);
    }
    Ok(out)
}

pub fn namespace(t: &Tenant) -> Namespace {
    let spec = serde_json::to_string(&t.source).unwrap_or_default();
    let mut annotations = BTreeMap::from([
        (DISPLAY_NAME_ANNOTATION.to_owned(), t.display_name.clone()),
        (SPEC_ANNOTATION.to_owned(), spec),
    ]);
    if let Some(s) = t.slack.as_ref().filter(|s| !s.webhook_endpoints.is_empty()) {
        let egress: Vec<String> = s.egress().iter().map(ToString::to_string).collect();
        annotations.insert(SLACK_EGRESS_ANNOTATION.to_owned(), egress.join(" "));
    }
    Namespace {
        metadata: ObjectMeta {
            name: Some(t.name.to_string()),
            labels: Some(labels(t, Component::Tenant)),
            annotations: Some(annotations),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Twice the steady-state requests and limits: room for one rolling update at a time.
fn quota(t: &Tenant) -> ResourceQuota {
    let r = &t.resources;
    let replicas = f64::from(t.collector.replicas);
    let sum = |f: fn(&ComponentResources) -> f64| {
        2.0 * (f(&r.influxdb) + f(&r.grafana) + replicas * f(&r.collector))
    };
    let storage = t.storage.influxdb.value() + t.storage.grafana.value();
    let hard = BTreeMap::from([
        (
            "requests.cpu".to_owned(),
            Quantity(millicores(sum(|c| c.request_cpu.value()))),
        ),
        (
            "limits.cpu".to_owned(),
            Quantity(millicores(sum(|c| c.limit_cpu.value()))),
        ),
        (
            "requests.memory".to_owned(),
            Quantity(mebibytes(sum(|c| c.request_memory.value()))),
        ),
        (
            "limits.memory".to_owned(),
            Quantity(mebibytes(sum(|c| c.limit_memory.value()))),
        ),
        ("requests.storage".to_owned(), Quantity(mebibytes(storage))),
        ("persistentvolumeclaims".to_owned(), Quantity("2".into())),
        (
            "pods".to_owned(),
            Quantity((2 * (2 + t.collector.replicas)).to_string()),
        ),
    ]);
    ResourceQuota {
        metadata: meta(t, Component::Tenant, name(t, "quota")),
        spec: Some(ResourceQuotaSpec {
            hard: Some(hard),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Defaults for any container that comes without requests/limits (vigil's own always have them).
fn limit_range(t: &Tenant) -> LimitRange {
    let c = &t.resources.collector;
    let q = |s: &crate::tenant::validate::Quantity| Quantity(s.to_string());
    LimitRange {
        metadata: meta(t, Component::Tenant, name(t, "limits")),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".into(),
                default: Some(BTreeMap::from([
                    ("cpu".to_owned(), q(&c.limit_cpu)),
                    ("memory".to_owned(), q(&c.limit_memory)),
                ])),
                default_request: Some(BTreeMap::from([
                    ("cpu".to_owned(), q(&c.request_cpu)),
                    ("memory".to_owned(), q(&c.request_memory)),
                ])),
                ..Default::default()
            }],
        }),
    }
}

fn service_account(t: &Tenant, c: Component) -> ServiceAccount {
    ServiceAccount {
        metadata: meta(t, c, name(t, c.suffix())),
        automount_service_account_token: Some(false),
        ..Default::default()
    }
}

/// Canonical CPU quantity (what the API server would print back).
fn millicores(cores: f64) -> String {
    let m = (cores * 1000.0).round() as u64;
    if m.is_multiple_of(1000) {
        (m / 1000).to_string()
    } else {
        format!("{m}m")
    }
}

/// Canonical memory quantity in Mi or Gi.
fn mebibytes(bytes: f64) -> String {
    let mi = (bytes / 1048576.0).ceil() as u64;
    if mi.is_multiple_of(1024) {
        format!("{}Gi", mi / 1024)
    } else {
        format!("{mi}Mi")
    }
}
