//! Turns a parsed [`TenantFile`] into a [`Tenant`] whose every value is known good.
//!
//! All problems are collected, so one run tells the operator everything to fix.

mod credentials;
mod devices;
mod names;
mod resources;
mod rules;
mod values;
mod webhook;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use ipnet::IpNet;
use serde::Serialize;

pub use crate::input::{Problem, Redacted};
pub use credentials::CredentialRef;
pub use devices::{AuthProtocol, Device, PROFILES as SNMP_PROFILES, PrivProtocol, Snmp};
pub use names::{DeviceName, MAX_TENANT_NAME, NameError, TenantName, dns_label, dns_subdomain};
pub use resources::{ComponentResources, Profile, Resources};
pub use rules::AlertRules;
pub use values::{CronSchedule, Duration, Image, Quantity};
pub use webhook::{
    DEFAULT_WEBHOOK_HOST, DEFAULT_WEBHOOK_PORT, WebhookEndpoint, WebhookHost, WebhookUrlError,
};

use crate::tenant::spec::{self, TenantFile};

pub const DEFAULT_INFLUXDB_IMAGE: &str = "influxdb:2.7.11";
pub const DEFAULT_GRAFANA_IMAGE: &str = "grafana/grafana:11.3.1";
pub const DEFAULT_COLLECTOR_IMAGE: &str =
    concat!("ghcr.io/vigil-dev/vigil-agent:", env!("CARGO_PKG_VERSION"));
pub const DEFAULT_TOLERATION_SECONDS: i64 = 30;
pub const DEFAULT_INGRESS_NAMESPACE: &str = "ingress-nginx";

/// The input is invalid; every problem found is listed.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    pub origin: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "{}: {one}", self.origin),
            many => {
                write!(f, "{}: {} problems", self.origin, many.len())?;
                for p in many {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

/// Network policy flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PolicyMode {
    /// CiliumNetworkPolicies (cilium.io/v2), the default.
    Cilium,
    /// Equivalent standard networking.k8s.io/v1 NetworkPolicies.
    Kubernetes,
    /// No policies at all.
    None,
}

impl PolicyMode {
    fn parse(path: &str, raw: &str) -> Result<Self, Problem> {
        match raw {
            "cilium" => Ok(Self::Cilium),
            "kubernetes" => Ok(Self::Kubernetes),
            "none" => Ok(Self::None),
            _ => Err(Problem::new(
                path,
                format!("unknown network policy mode {raw:?}"),
                "use cilium, kubernetes or none",
            )),
        }
    }
}

/// A validated tenant: what [`crate::tenant::build`] renders.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub name: TenantName,
    pub display_name: String,
    pub storage: Storage,
    pub retention: Duration,
    pub resources: Resources,
    pub images: Images,
    pub ingress: Option<Ingress>,
    pub slack: Option<Slack>,
    /// Device rule thresholds by tenant, tag and device.
    pub alert_rules: AlertRules,
    pub toleration_seconds: i64,
    pub network_policy: PolicyMode,
    pub placement: Placement,
    pub collector: Collector,
    pub devices: Vec<Device>,
    pub device_cidrs: Vec<IpNet>,
    /// The spec as written, stored on the namespace to detect drift later.
    #[serde(skip)]
    pub source: spec::TenantSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Storage {
    pub class_name: Option<String>,
    pub influxdb: Quantity,
    pub grafana: Quantity,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Images {
    pub influxdb: Image,
    pub grafana: Image,
    pub collector: Image,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ingress {
    pub host: String,
    pub tls_secret: Option<String>,
    pub class_name: Option<String>,
    pub controller_namespace: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Slack {
    pub webhook: CredentialRef,
    pub channel: String,
    pub min_severity: Severity,
    pub routes: Vec<SlackRoute>,
    pub digest_schedule: Option<CronSchedule>,
    /// Where Kubernetes-mode policies let the collector reach webhook hosts given by name
    /// (`spec.alerts.slack.egressCidrs`; empty: every public IPv4 and IPv6 address).
    pub egress_cidrs: Vec<IpNet>,
    /// Where the webhooks post, from their URLs once read (`vigil tenant apply`); empty when
    /// unknown, and then the policies allow [`WebhookEndpoint::slack_default`].
    #[serde(skip)]
    pub webhook_endpoints: Vec<WebhookEndpoint>,
}

impl Slack {
    /// The distinct endpoints the collector posts to, sorted; Slack's default when unknown.
    pub fn egress(&self) -> Vec<WebhookEndpoint> {
        let mut out = if self.webhook_endpoints.is_empty() {
            vec![WebhookEndpoint::slack_default()]
        } else {
            self.webhook_endpoints.clone()
        };
        out.sort();
        out.dedup();
        out
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SlackRoute {
    pub tags: BTreeMap<String, String>,
    pub min_severity: Severity,
    pub channel: String,
    pub webhook: CredentialRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<spec::TolerationSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Collector {
    pub replicas: i32,
    pub interval: Duration,
    pub timeout: Duration,
}

/// Collects problems while walking the spec.
#[derive(Default)]
pub(crate) struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    pub(crate) fn check<T>(&mut self, r: Result<T, Problem>) -> Option<T> {
        r.map_err(|p| self.problems.push(p)).ok()
    }

    pub(crate) fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }
}

/// What the command line relaxes in validation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `--allow-broad-cidrs`: accept device CIDRs that cover much of the address space or
    /// cluster-internal, loopback or link-local ranges.
    pub allow_broad_cidrs: bool,
}

/// Validates a parsed file. `origin` names it in messages; `base` resolves relative file refs.
pub fn validate(origin: &str, file: &TenantFile, base: &Path) -> Result<Tenant, Error> {
    validate_with(origin, file, base, Options::default())
}

/// As [`validate`], with the command line's relaxations.
pub fn validate_with(
    origin: &str,
    file: &TenantFile,
    base: &Path,
    opts: Options,
) -> Result<Tenant, Error> {
    let mut c = Checker::default();
    let s = &file.spec;
    let name = c.check(TenantName::parse("metadata.name", &file.metadata.name));

    let display_name = s
        .display_name
        .clone()
        .unwrap_or_else(|| file.metadata.name.clone());
    if display_name.len() > 100 || display_name.chars().any(char::is_control) {
        c.push(Problem::new(
            "spec.displayName",
            "display name is longer than 100 characters or contains control characters",
            "shorten it to one line of at most 100 characters",
        ));
    }

    let storage = storage(&mut c, s.storage.clone().unwrap_or_default());
    let retention = c.check(values::duration(
        "spec.retention",
        s.retention.as_deref().unwrap_or("30d"),
        3600,
        100 * 365 * 86400,
    ));
    let resources = resources::resources(&mut c, s.resources.as_ref());
    let images = images(&mut c, s.images.clone().unwrap_or_default());
    let ingress = s.ingress.as_ref().and_then(|i| ingress(&mut c, i));
    let slack = s
        .alerts
        .as_ref()
        .and_then(|a| a.slack.as_ref())
        .and_then(|sl| slack(&mut c, sl, base));
    let alert_rules = rules::alert_rules(&mut c, s);
    let toleration_seconds = s
        .failover
        .as_ref()
        .and_then(|f| f.toleration_seconds)
        .unwrap_or(DEFAULT_TOLERATION_SECONDS);
    if !(0..=86400).contains(&toleration_seconds) {
        c.push(Problem::new(
            "spec.failover.tolerationSeconds",
            format!("{toleration_seconds} is out of range"),
            "use 0 to 86400 seconds; the default is 30 (Kubernetes' own default is 300)",
        ));
    }
    let network_policy = c.check(PolicyMode::parse(
        "spec.networkPolicy.mode",
        s.network_policy
            .as_ref()
            .and_then(|n| n.mode.as_deref())
            .unwrap_or("cilium"),
    ));
    let placement = placement(&mut c, s.placement.clone().unwrap_or_default());
    let collector = collector(&mut c, s.collector.clone().unwrap_or_default());
    let device_cidrs = devices::cidrs(&mut c, "spec.deviceCidrs", &s.device_cidrs);
    if !opts.allow_broad_cidrs {
        devices::not_broad(&mut c, "spec.deviceCidrs", &device_cidrs);
    }
    let devices = devices::devices(&mut c, &s.devices, &device_cidrs, base);
    let device_cidrs = if s.device_cidrs.is_empty() {
        devices.iter().map(|d| IpNet::from(d.address)).collect()
    } else {
        device_cidrs
    };

    match (
        name,
        storage,
        retention,
        resources,
        images,
        network_policy,
        collector,
        c.problems.is_empty(),
    ) {
        (
            Some(name),
            Some(storage),
            Some(retention),
            Some(resources),
            Some(images),
            Some(network_policy),
            Some(collector),
            true,
        ) => Ok(Tenant {
            name,
            display_name,
            storage,
            retention,
            resources,
            images,
            ingress,
            slack,
            alert_rules,
            toleration_seconds,
            network_policy,
            placement,
            collector,
            devices,
            device_cidrs,
            source: s.clone(),
        }),
        _ => Err(Error {
            origin: origin.to_owned(),
            problems: c.problems,
        }),
    }
}

fn storage(c: &mut Checker, s: spec::StorageSpec) -> Option<Storage> {
    if let Some(class) = &s.class_name
        && let Err(why) = dns_subdomain(class)
    {
        c.push(Problem::new(
            "spec.storage.className",
            format!("storage class {class:?} {why}"),
            "use the name of a StorageClass from `kubectl get storageclass`",
        ));
    }
    let size = |c: &mut Checker, path, raw: Option<String>, default: &str| {
        let raw = raw.unwrap_or_else(|| default.to_owned());
        c.check(Quantity::parse(path, &raw, "storage size", "10Gi"))
            .and_then(|q| {
                if q.value() < 1048576.0 {
                    c.push(Problem::new(
                        path,
                        format!("{raw:?} is smaller than 1Mi"),
                        "give at least 1Mi, e.g. \"10Gi\"",
                    ));
                    None
                } else {
                    Some(q)
                }
            })
    };
    let influxdb = size(c, "spec.storage.influxdb", s.influxdb, "10Gi");
    let grafana = size(c, "spec.storage.grafana", s.grafana, "1Gi");
    Some(Storage {
        class_name: s.class_name,
        influxdb: influxdb?,
        grafana: grafana?,
    })
}

fn images(c: &mut Checker, s: spec::ImagesSpec) -> Option<Images> {
    let image = |c: &mut Checker, path, raw: Option<String>, default: &str| match raw {
        Some(raw) => c.check(Image::parse(path, &raw)),
        None => Some(Image::default_for(default)),
    };
    let influxdb = image(
        c,
        "spec.images.influxdb",
        s.influxdb,
        DEFAULT_INFLUXDB_IMAGE,
    );
    let grafana = image(c, "spec.images.grafana", s.grafana, DEFAULT_GRAFANA_IMAGE);
    let collector = image(
        c,
        "spec.images.collector",
        s.collector,
        DEFAULT_COLLECTOR_IMAGE,
    );
    Some(Images {
        influxdb: influxdb?,
        grafana: grafana?,
        collector: collector?,
    })
}

fn ingress(c: &mut Checker, s: &spec::IngressSpec) -> Option<Ingress> {
    let before = c.problems.len();
    if s.host.contains('*') || dns_subdomain(&s.host).is_err() || !s.host.contains('.') {
        c.push(Problem::new(
            "spec.ingress.host",
            format!("{:?} is not a fully qualified host name", s.host),
            "write the lower-case DNS name Grafana is reached at, e.g. \"grafana.acme.example.com\"",
        ));
    }
    for (path, value) in [
        ("spec.ingress.tlsSecret", &s.tls_secret),
        ("spec.ingress.className", &s.class_name),
    ] {
        if let Some(v) = value
            && let Err(why) = dns_subdomain(v)
        {
            c.push(Problem::new(
                path,
                format!("{v:?} {why}"),
                "use the name of an existing object (lower-case DNS name)",
            ));
        }
    }
    let controller_namespace = s
        .controller_namespace
        .clone()
        .unwrap_or_else(|| DEFAULT_INGRESS_NAMESPACE.to_owned());
    if let Err(why) = dns_label(&controller_namespace, 63) {
        c.push(Problem::new(
            "spec.ingress.controllerNamespace",
            format!("namespace {controller_namespace:?} {why}"),
            "name the namespace your ingress controller runs in, e.g. \"ingress-nginx\"",
        ));
    }
    (c.problems.len() == before).then(|| Ingress {
        host: s.host.clone(),
        tls_secret: s.tls_secret.clone(),
        class_name: s.class_name.clone(),
        controller_namespace,
    })
}

fn severity(c: &mut Checker, path: &str, raw: Option<&str>) -> Severity {
    match raw.unwrap_or("warning") {
        "info" => Severity::Info,
        "warning" => Severity::Warning,
        "critical" => Severity::Critical,
        other => {
            c.push(Problem::new(
                path,
                format!("unknown severity {other:?}"),
                "use info, warning or critical",
            ));
            Severity::Warning
        }
    }
}

fn channel(c: &mut Checker, path: &str, raw: &str) {
    let ok = raw.len() > 1
        && raw.len() <= 81
        && raw.starts_with('#')
        && raw[1..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_".contains(&b));
    if !ok {
        c.push(Problem::new(
            path,
            format!("{raw:?} is not a Slack channel"),
            "write the channel as #name (lower-case letters, digits, '-' and '_'), e.g. \"#acme-noc\"",
        ));
    }
}

fn slack(c: &mut Checker, s: &spec::SlackSpec, base: &Path) -> Option<Slack> {
    let before = c.problems.len();
    let webhook = c.check(CredentialRef::parse(
        "spec.alerts.slack.webhook",
        &s.webhook,
        base,
    ));
    channel(c, "spec.alerts.slack.channel", &s.channel);
    let min_severity = severity(
        c,
        "spec.alerts.slack.minSeverity",
        s.min_severity.as_deref(),
    );
    let routes = s
        .routes
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let path = format!("spec.alerts.slack.routes[{i}]");
            channel(c, &format!("{path}.channel"), &r.channel);
            if r.tags.is_empty() {
                c.push(Problem::new(
                    &format!("{path}.tags"),
                    "a route without tags would take every alert",
                    "give the device tags this route is for, e.g. tags: {role: core}",
                ));
            }
            for (k, v) in &r.tags {
                if let Some(p) = devices::tag_problem(&format!("{path}.tags.{k}"), k, v) {
                    c.push(p);
                }
            }
            let min_severity = severity(
                c,
                &format!("{path}.minSeverity"),
                r.min_severity.as_deref(),
            );
            let webhook = match &r.webhook {
                Some(w) => c.check(CredentialRef::parse(&format!("{path}.webhook"), w, base)),
                None => {
                    c.push(Problem::new(
                        &format!("{path}.webhook"),
                        format!(
                            "the route to {} has no webhook: a Slack webhook posts only to its own channel",
                            r.channel
                        ),
                        "add the incoming webhook of that channel, e.g. webhook: {file: secrets/core-oncall-webhook}",
                    ));
                    None
                }
            }?;
            Some(SlackRoute {
                tags: r.tags.clone(),
                min_severity,
                channel: r.channel.clone(),
                webhook,
            })
        })
        .collect();
    let digest_schedule = s
        .digest_schedule
        .as_deref()
        .and_then(|raw| c.check(CronSchedule::parse("spec.alerts.slack.digestSchedule", raw)));
    let egress_cidrs = devices::cidrs(c, "spec.alerts.slack.egressCidrs", &s.egress_cidrs);
    (c.problems.len() == before).then_some(Slack {
        webhook: webhook?,
        channel: s.channel.clone(),
        min_severity,
        routes,
        digest_schedule,
        egress_cidrs,
        webhook_endpoints: Vec::new(),
    })
}

fn placement(c: &mut Checker, s: spec::PlacementSpec) -> Placement {
    for (k, v) in &s.node_selector {
        if !names::label_key(k) || !names::label_part(v, true) {
            c.push(Problem::new(
                &format!("spec.placement.nodeSelector.{k}"),
                format!("{k}={v} is not a valid node label"),
                "use a label as shown by `kubectl get nodes --show-labels`, e.g. node-role.example.com/monitoring: \"true\"",
            ));
        }
    }
    for (i, t) in s.tolerations.iter().enumerate() {
        let path = format!("spec.placement.tolerations[{i}]");
        let op = t.operator.as_deref().unwrap_or("Equal");
        let effect_ok = matches!(
            t.effect.as_deref(),
            None | Some("NoSchedule" | "PreferNoSchedule" | "NoExecute")
        );
        let shape_ok = match op {
            "Equal" => t.key.is_some(),
            "Exists" => t.value.is_none(),
            _ => false,
        };
        if !effect_ok
            || !shape_ok
            || (t.toleration_seconds.is_some() && t.effect.as_deref() != Some("NoExecute"))
        {
            c.push(Problem::new(
                &path,
                "invalid toleration",
                "operator is Equal (with key and value) or Exists (without value); effect is NoSchedule, PreferNoSchedule or NoExecute; tolerationSeconds only with NoExecute",
            ));
        }
    }
    Placement {
        node_selector: s.node_selector,
        tolerations: s.tolerations,
    }
}

fn collector(c: &mut Checker, s: spec::CollectorSpec) -> Option<Collector> {
    let replicas = s.replicas.unwrap_or(1);
    if !(1..=5).contains(&replicas) {
        c.push(Problem::new(
            "spec.collector.replicas",
            format!("{replicas} replicas is out of range"),
            "use 1 to 5; replicas above 1 run on different nodes",
        ));
    }
    let interval = c.check(values::duration(
        "spec.collector.interval",
        s.interval.as_deref().unwrap_or("60s"),
        10,
        3600,
    ));
    let timeout = c.check(values::duration(
        "spec.collector.timeout",
        s.timeout.as_deref().unwrap_or("5s"),
        1,
        300,
    ));
    if let (Some(i), Some(t)) = (interval, timeout)
        && t.secs() >= i.secs()
    {
        c.push(Problem::new(
            "spec.collector.timeout",
            format!("timeout {t} is not shorter than the interval {i}"),
            "make the timeout shorter than the polling interval",
        ));
    }
    Some(Collector {
        replicas,
        interval: interval?,
        timeout: timeout?,
    })
}
