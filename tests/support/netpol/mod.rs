//! A network-policy evaluator for the flows vigil's pods make: does a tenant's rendered
//! policies (`NetworkPolicy` networking.k8s.io/v1, `CiliumNetworkPolicy` cilium.io/v2) allow
//! an observed flow, and by which rules?
//!
//! It implements exactly the constructs vigil's templates (`policies/`) use, with the semantics
//! of the Kubernetes and Cilium documentation (each unit test names the documented rule it
//! checks). A construct it does not implement is an [`Error::Unsupported`] naming it, never a
//! guess. Flows are post-DNAT (pod IP and container port, as conntrack records them).
//!
//! Endpoints are typed: a pod is matched by selectors (never by `ipBlock`/CIDR rules, which are
//! for addresses outside the pod network); a node's own address by Kubernetes `ipBlock` and
//! Cilium's `host`/`remote-node`/`cluster` entities (not by Cilium CIDR rules); an outside
//! address by `ipBlock`, `toCIDR`/`toCIDRSet`, `world`, and `toFQDNs` when its name is known.
//!
//! ```ignore
//! let set = PolicySet::from_values(rendered.iter())?;          // every rendered object
//! let v = set.evaluate(&Flow::tcp(collector, influxdb, 8086));
//! assert!(v.allowed(), "{v}");
//! ```

mod cilium;
mod json;
mod kubernetes;
mod selector;

#[cfg(test)]
mod golden;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

pub type Labels = BTreeMap<String, String>;

/// The label Kubernetes (1.21+) sets on every namespace to its name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A policy the evaluator cannot judge.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy uses something this evaluator does not implement.
    #[error("{policy}: {construct} is not implemented by the policy evaluator")]
    Unsupported { policy: String, construct: String },
    /// The policy is malformed (the API server or the CNI would reject it).
    #[error("{policy}: {path}: {message}")]
    Invalid {
        policy: String,
        path: String,
        message: String,
    },
}

/// A named container port of a pod (NetworkPolicy and Cilium may name ports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPort {
    pub name: String,
    pub port: u16,
    pub protocol: Protocol,
}

/// A pod as policies see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    pub namespace: String,
    /// The namespace's labels; [`Pod::new`] adds `kubernetes.io/metadata.name`.
    pub namespace_labels: Labels,
    pub labels: Labels,
    pub ip: IpAddr,
    /// The node it runs on (decides which node is its `host`).
    pub node: Option<String>,
    /// Named container ports.
    pub ports: Vec<NamedPort>,
}

impl Pod {
    /// A pod in `namespace` (whose labels are then `kubernetes.io/metadata.name: namespace`).
    pub fn new<'a>(
        namespace: &str,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
        ip: IpAddr,
    ) -> Self {
        Self {
            namespace: namespace.to_owned(),
            namespace_labels: Labels::from([(
                NAMESPACE_NAME_LABEL.to_owned(),
                namespace.to_owned(),
            )]),
            labels: labels
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ip,
            node: None,
            ports: Vec::new(),
        }
    }

    pub fn on_node(mut self, node: &str) -> Self {
        self.node = Some(node.to_owned());
        self
    }

    pub fn with_namespace_label(mut self, key: &str, value: &str) -> Self {
        self.namespace_labels
            .insert(key.to_owned(), value.to_owned());
        self
    }

    pub fn with_port(mut self, name: &str, port: u16, protocol: Protocol) -> Self {
        self.ports.push(NamedPort {
            name: name.to_owned(),
            port,
            protocol,
        });
        self
    }

    fn named_port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        self.ports
            .iter()
            .find(|p| p.name == name && p.protocol == protocol)
            .map(|p| p.port)
    }
}

/// One end of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Pod(Pod),
    /// A cluster node's own address (host network: kubelet probes, host-network pods).
    Node {
        name: String,
        ip: IpAddr,
    },
    /// The Kubernetes API server (post-DNAT: its real address, not the Service's).
    ApiServer {
        ip: IpAddr,
    },
    /// An address outside the cluster, with the name it was resolved from, if any.
    Outside {
        ip: IpAddr,
        fqdn: Option<String>,
    },
}

impl Endpoint {
    /// A pod as the API server lists it, with its namespace: a [`Endpoint::Pod`] (labels,
    /// namespace labels, `status.podIP`, node, named container ports), or a
    /// [`Endpoint::Node`] for a host-network pod. `None` until the pod has an IP.
    pub fn from_kube(
        pod: &k8s_openapi::api::core::v1::Pod,
        namespace: &k8s_openapi::api::core::v1::Namespace,
    ) -> Option<Self> {
        let ip: IpAddr = pod.status.as_ref()?.pod_ip.as_deref()?.parse().ok()?;
        let spec = pod.spec.as_ref()?;
        if spec.host_network == Some(true) {
            return Some(Self::Node {
                name: spec.node_name.clone().unwrap_or_default(),
                ip,
            });
        }
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let mut p = Pod::new(&ns, [], ip);
        p.labels = pod.metadata.labels.clone().unwrap_or_default();
        p.namespace_labels
            .extend(namespace.metadata.labels.clone().unwrap_or_default());
        p.node = spec.node_name.clone();
        for c in &spec.containers {
            for port in c.ports.iter().flatten() {
                let protocol = match port.protocol.as_deref().unwrap_or("TCP") {
                    "UDP" => Protocol::Udp,
                    "SCTP" => Protocol::Sctp,
                    _ => Protocol::Tcp,
                };
                if let (Some(name), Ok(number)) = (&port.name, u16::try_from(port.container_port)) {
                    p.ports.push(NamedPort {
                        name: name.clone(),
                        port: number,
                        protocol,
                    });
                }
            }
        }
        Some(Self::Pod(p))
    }

    pub fn outside(ip: IpAddr) -> Self {
        Self::Outside { ip, fqdn: None }
    }

    pub fn named(fqdn: &str, ip: IpAddr) -> Self {
        Self::Outside {
            ip,
            fqdn: Some(fqdn.to_owned()),
        }
    }

    pub fn ip(&self) -> IpAddr {
        match self {
            Self::Pod(p) => p.ip,
            Self::Node { ip, .. } | Self::ApiServer { ip } | Self::Outside { ip, .. } => *ip,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pod(p) => {
                let app = p
                    .labels
                    .get("app.kubernetes.io/component")
                    .or_else(|| p.labels.get("k8s-app"))
                    .map(String::as_str)
                    .unwrap_or("pod");
                write!(f, "{}/{app}({})", p.namespace, p.ip)
            }
            Self::Node { name, ip } => write!(f, "node {name}({ip})"),
            Self::ApiServer { ip } => write!(f, "kube-apiserver({ip})"),
            Self::Outside { ip, fqdn: Some(n) } => write!(f, "{n}({ip})"),
            Self::Outside { ip, fqdn: None } => write!(f, "{ip}"),
        }
    }
}

/// The flow's protocol; ICMP carries its type (8 echo request, 128 ICMPv6 echo request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
    Icmp { icmp_type: u8 },
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp => f.write_str("TCP"),
            Self::Udp => f.write_str("UDP"),
            Self::Sctp => f.write_str("SCTP"),
            Self::Icmp { icmp_type } => write!(f, "ICMP type {icmp_type}"),
        }
    }
}

/// An observed connection, post-DNAT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub protocol: Protocol,
    /// Destination port (ignored for ICMP).
    pub port: u16,
}

impl Flow {
    pub fn tcp(src: Endpoint, dst: Endpoint, port: u16) -> Self {
        Self {
            src,
            dst,
            protocol: Protocol::Tcp,
            port,
        }
    }

    pub fn udp(src: Endpoint, dst: Endpoint, port: u16) -> Self {
        Self {
            src,
            dst,
            protocol: Protocol::Udp,
            port,
        }
    }

    /// An echo request: ICMP type 8, or ICMPv6 type 128 to an IPv6 address.
    pub fn ping(src: Endpoint, dst: Endpoint) -> Self {
        let icmp_type = if dst.ip().is_ipv6() { 128 } else { 8 };
        Self {
            src,
            dst,
            protocol: Protocol::Icmp { icmp_type },
            port: 0,
        }
    }

    fn ipv6(&self) -> bool {
        self.dst.ip().is_ipv6()
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.protocol {
            Protocol::Icmp { .. } => write!(f, "{} -> {} {}", self.src, self.dst, self.protocol),
            p => write!(f, "{} -> {} {p}/{}", self.src, self.dst, self.port),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Ingress,
    Egress,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ingress => "ingress",
            Self::Egress => "egress",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyKind {
    NetworkPolicy,
    CiliumNetworkPolicy,
}

/// One rule of one policy: `spec.{ingress,egress}[index]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleRef {
    pub kind: PolicyKind,
    pub namespace: String,
    pub policy: String,
    pub direction: Direction,
    pub index: usize,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} {}/{} {}[{}]",
            self.kind, self.namespace, self.policy, self.direction, self.index
        )
    }
}

/// The judgement of one side of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The endpoint is not a pod, or no policy selects it for this direction: not isolated.
    NotIsolated,
    /// Allowed by these rules (every rule that matches).
    Allowed(Vec<RuleRef>),
    /// Allowed whatever the rules say, for the documented reason given.
    Exempt(&'static str),
    /// Isolated by these policies and no rule matches; `hint` says why a near miss missed.
    Denied {
        selected_by: Vec<String>,
        hint: Option<String>,
    },
}

impl Verdict {
    pub fn is_allowed(&self) -> bool {
        !matches!(self, Self::Denied { .. })
    }

    /// The rules that allowed it (empty unless [`Verdict::Allowed`]).
    pub fn rules(&self) -> &[RuleRef] {
        match self {
            Self::Allowed(r) => r,
            _ => &[],
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotIsolated => f.write_str("not isolated"),
            Self::Allowed(rules) => {
                f.write_str("allowed by ")?;
                for (i, r) in rules.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{r}")?;
                }
                Ok(())
            }
            Self::Exempt(why) => write!(f, "allowed: {why}"),
            Self::Denied { selected_by, hint } => {
                write!(f, "denied (isolated by {})", selected_by.join(", "))?;
                if let Some(h) = hint {
                    write!(f, "; {h}")?;
                }
                Ok(())
            }
        }
    }
}

/// Both sides of a flow: the source's egress and the destination's ingress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowVerdict {
    pub flow: Flow,
    pub egress: Verdict,
    pub ingress: Verdict,
}

impl FlowVerdict {
    /// The flow passes only if both sides allow it.
    pub fn allowed(&self) -> bool {
        self.egress.is_allowed() && self.ingress.is_allowed()
    }
}

impl fmt::Display for FlowVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: egress {}; ingress {}",
            self.flow, self.egress, self.ingress
        )
    }
}

/// The side of a flow being judged.
pub(crate) struct Side<'a> {
    pub direction: Direction,
    /// The selected pod: the source for egress, the destination for ingress.
    pub subject: &'a Pod,
    /// The other end.
    pub peer: &'a Endpoint,
    pub flow: &'a Flow,
}

impl Side<'_> {
    /// The destination pod (named ports are resolved against it).
    fn destination_pod(&self) -> Option<&Pod> {
        match &self.flow.dst {
            Endpoint::Pod(p) => Some(p),
            _ => None,
        }
    }

    fn peer_is_local_node(&self) -> bool {
        matches!((self.peer, &self.subject.node), (Endpoint::Node { name, .. }, Some(n)) if name == n)
    }
}

/// Every policy of the rendered objects.
#[derive(Debug, Default)]
pub struct PolicySet {
    kubernetes: Vec<kubernetes::Policy>,
    cilium: Vec<cilium::Policy>,
}

impl PolicySet {
    /// Takes the policies from rendered objects; other kinds are skipped, a policy kind or
    /// version this evaluator does not know is an error.
    pub fn from_values<'a>(
        objects: impl IntoIterator<Item = &'a serde_json::Value>,
    ) -> Result<Self, Error> {
        let mut set = Self::default();
        for o in objects {
            let kind = o["kind"].as_str().unwrap_or_default();
            let version = o["apiVersion"].as_str().unwrap_or_default();
            let name = format!(
                "{kind} {}/{}",
                o["metadata"]["namespace"].as_str().unwrap_or_default(),
                o["metadata"]["name"].as_str().unwrap_or_default()
            );
            match (kind, version) {
                ("NetworkPolicy", "networking.k8s.io/v1") => {
                    set.kubernetes.push(kubernetes::Policy::parse(o)?);
                }
                ("CiliumNetworkPolicy", "cilium.io/v2") => {
                    set.cilium.push(cilium::Policy::parse(o)?);
                }
                ("NetworkPolicy" | "CiliumNetworkPolicy", _)
                | (
                    "CiliumClusterwideNetworkPolicy"
                    | "AdminNetworkPolicy"
                    | "BaselineAdminNetworkPolicy",
                    _,
                ) => {
                    return Err(Error::Unsupported {
                        policy: name,
                        construct: format!("kind {kind} ({version})"),
                    });
                }
                _ => {}
            }
        }
        Ok(set)
    }

    /// The same from `kube` objects (e.g. listed from a cluster or built by the deployer).
    pub fn from_objects(objects: &[kube::api::DynamicObject]) -> Result<Self, Error> {
        let values: Vec<serde_json::Value> = objects
            .iter()
            .map(|o| serde_json::to_value(o).unwrap_or_default())
            .collect();
        Self::from_values(values.iter())
    }

    pub fn is_empty(&self) -> bool {
        self.kubernetes.is_empty() && self.cilium.is_empty()
    }

    /// Every rule that can allow something (Cilium's empty default-deny rules `{}` cannot).
    pub fn rules(&self) -> Vec<RuleRef> {
        let mut out: Vec<RuleRef> = self.kubernetes.iter().flat_map(|p| p.rules()).collect();
        out.extend(self.cilium.iter().flat_map(|p| p.rules()));
        out
    }

    /// The rules no verdict used: each must be used by some component or documented.
    pub fn unused<'a>(&self, verdicts: impl IntoIterator<Item = &'a FlowVerdict>) -> Vec<RuleRef> {
        let used: BTreeSet<&RuleRef> = verdicts
            .into_iter()
            .flat_map(|v| v.egress.rules().iter().chain(v.ingress.rules()))
            .collect();
        self.rules()
            .into_iter()
            .filter(|r| !used.contains(r))
            .collect()
    }

    /// Judges every flow (e.g. everything conntrack recorded for a tenant's pods).
    pub fn evaluate_all<'a>(&self, flows: impl IntoIterator<Item = &'a Flow>) -> Vec<FlowVerdict> {
        flows.into_iter().map(|f| self.evaluate(f)).collect()
    }

    /// Judges both sides of a flow.
    pub fn evaluate(&self, flow: &Flow) -> FlowVerdict {
        FlowVerdict {
            flow: flow.clone(),
            egress: self.side(Direction::Egress, flow),
            ingress: self.side(Direction::Ingress, flow),
        }
    }

    fn side(&self, direction: Direction, flow: &Flow) -> Verdict {
        let (subject, peer) = match direction {
            Direction::Egress => (&flow.src, &flow.dst),
            Direction::Ingress => (&flow.dst, &flow.src),
        };
        let Endpoint::Pod(subject) = subject else {
            return Verdict::NotIsolated;
        };
        let side = Side {
            direction,
            subject,
            peer,
            flow,
        };
        let mut selected_by = Vec::new();
        let mut allowed = Vec::new();
        let mut hint = None;
        for p in self.kubernetes.iter().filter(|p| p.isolates(&side)) {
            selected_by.push(p.id());
            allowed.extend(p.matching(&side));
        }
        let mut by_cilium = false;
        for p in self.cilium.iter().filter(|p| p.isolates(&side)) {
            by_cilium = true;
            selected_by.push(p.id());
            let m = p.matching(&side, |name| self.dns_visible(subject, name));
            allowed.extend(m.rules);
            hint = hint.or(m.hint);
        }
        if selected_by.is_empty() {
            return Verdict::NotIsolated;
        }
        if !allowed.is_empty() {
            return Verdict::Allowed(allowed);
        }
        if side.peer_is_local_node() {
            if !by_cilium {
                return Verdict::Exempt(
                    "NetworkPolicy: traffic to and from the node where a pod runs is always allowed",
                );
            }
            if direction == Direction::Ingress {
                return Verdict::Exempt(
                    "Cilium (allow-localhost=auto, the default): the local host may always reach its pods",
                );
            }
        }
        if !by_cilium && peer.ip() == subject.ip {
            return Verdict::Exempt("NetworkPolicy: a pod cannot block access to itself");
        }
        Verdict::Denied { selected_by, hint }
    }

    /// Whether Cilium's DNS proxy sees `pod`'s lookups of `name`: some egress rule selecting the
    /// pod has a `toPorts[].rules.dns` entry matching it. Without that, Cilium never learns the
    /// name's addresses and `toFQDNs` rules for it allow nothing.
    fn dns_visible(&self, pod: &Pod, name: &str) -> bool {
        self.cilium
            .iter()
            .filter(|p| p.selects(pod))
            .any(|p| p.dns_rule_matches(name))
    }
}
