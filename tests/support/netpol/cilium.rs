//! `CiliumNetworkPolicy` (cilium.io/v2), as Cilium's policy language documentation defines
//! it (docs.cilium.io: security/policy/language, intro "policy enforcement modes").

use ipnet::IpNet;
use serde_json::Value;

use super::json::At;
use super::kubernetes::cidr;
use super::selector::{Keys, Selector};
use super::{Direction, Endpoint, Error, Pod, PolicyKind, Protocol, RuleRef, Side};

/// The label Cilium gives every pod: its namespace.
pub(super) const NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
/// Prefix of the labels Cilium derives from the pod's namespace's labels.
pub(super) const NAMESPACE_LABELS_PREFIX: &str = "io.cilium.k8s.namespace.labels.";

#[derive(Debug)]
pub(super) struct Policy {
    namespace: String,
    name: String,
    endpoint_selector: Selector,
    ingress: Vec<Rule>,
    egress: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    peers: Peers,
    l4: L4,
}

/// A rule's layer-3 part. Cilium rejects rules combining two kinds of peers.
#[derive(Debug)]
enum Peers {
    /// No peers and no ports: the empty rule `{}`, which allows nothing (default deny).
    Nothing,
    /// No peers but ports or ICMP: every peer.
    Any,
    Endpoints(Vec<Selector>),
    Entities(Vec<Entity>),
    Cidrs(Vec<CidrSet>),
    Fqdns(Vec<Name>),
}

#[derive(Debug)]
enum L4 {
    /// No `toPorts`/`icmps`: every protocol and port.
    Any,
    Ports(Vec<PortRule>),
    Icmps(Vec<Icmp>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entity {
    All,
    World,
    WorldIpv4,
    WorldIpv6,
    Cluster,
    Host,
    RemoteNode,
    KubeApiserver,
}

#[derive(Debug)]
struct CidrSet {
    cidr: IpNet,
    except: Vec<IpNet>,
}

/// A DNS name selector: `matchName` (exact) or `matchPattern` (`*` wildcards).
#[derive(Debug)]
enum Name {
    Exact(String),
    Pattern(String),
}

#[derive(Debug)]
struct PortRule {
    ports: Vec<PortProtocol>,
    /// `rules.dns`: the lookups Cilium's DNS proxy lets through (and learns addresses from).
    dns: Vec<Name>,
}

#[derive(Debug)]
enum PortSpec {
    All,
    Range(u16, u16),
    Named(String),
}

#[derive(Debug)]
struct PortProtocol {
    port: PortSpec,
    /// `None`: ANY (TCP, UDP and SCTP; never ICMP).
    protocol: Option<Protocol>,
}

#[derive(Debug)]
struct Icmp {
    ipv6: bool,
    icmp_type: u8,
}

/// What matched on one side, and why a near miss missed.
pub(super) struct Matching {
    pub rules: Vec<RuleRef>,
    pub hint: Option<String>,
}

/// The labels Cilium derives for a pod: its own (source `k8s`), its namespace, and its
/// namespace's labels.
fn identity(pod: &Pod) -> super::Labels {
    let mut labels = pod.labels.clone();
    labels.insert(NAMESPACE_LABEL.to_owned(), pod.namespace.clone());
    for (k, v) in &pod.namespace_labels {
        labels.insert(format!("{NAMESPACE_LABELS_PREFIX}{k}"), v.clone());
    }
    labels
}

impl Policy {
    pub fn parse(o: &Value) -> Result<Self, Error> {
        let namespace = o["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let name = o["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let id = format!("CiliumNetworkPolicy {namespace}/{name}");
        let root = At::root(&id, o);
        if namespace.is_empty() {
            return Err(root.invalid("metadata.namespace is not set"));
        }
        root.keys(&["apiVersion", "kind", "metadata", "spec"], "")?;
        let spec = root.get("spec").ok_or_else(|| root.invalid("no spec"))?;
        spec.keys(
            &["endpointSelector", "ingress", "egress", "description"],
            "deny rules, nodeSelector and enableDefaultDeny are not used by vigil's templates",
        )?;
        let mut endpoint_selector = match spec.get("endpointSelector") {
            Some(s) => Selector::parse(&s, Keys::Cilium)?,
            None => return Err(spec.invalid("endpointSelector is required")),
        };
        // A namespaced policy selects endpoints of its own namespace only.
        endpoint_selector.require(NAMESPACE_LABEL, &namespace);
        let rules = |key: &str, direction: Direction| -> Result<Vec<Rule>, Error> {
            spec.list(key)?
                .iter()
                .map(|r| Rule::parse(r, direction, &namespace))
                .collect()
        };
        Ok(Self {
            ingress: rules("ingress", Direction::Ingress)?,
            egress: rules("egress", Direction::Egress)?,
            namespace,
            name,
            endpoint_selector,
        })
    }

    pub fn id(&self) -> String {
        format!("CiliumNetworkPolicy {}/{}", self.namespace, self.name)
    }

    fn rules_of(&self, direction: Direction) -> &[Rule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }

    fn rule_ref(&self, direction: Direction, index: usize) -> RuleRef {
        RuleRef {
            kind: PolicyKind::CiliumNetworkPolicy,
            namespace: self.namespace.clone(),
            policy: self.name.clone(),
            direction,
            index,
        }
    }

    pub fn rules(&self) -> Vec<RuleRef> {
        [Direction::Ingress, Direction::Egress]
            .into_iter()
            .flat_map(|d| {
                self.rules_of(d)
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| !matches!(r.peers, Peers::Nothing))
                    .map(move |(i, _)| (d, i))
            })
            .map(|(d, i)| self.rule_ref(d, i))
            .collect()
    }

    pub fn selects(&self, pod: &Pod) -> bool {
        self.endpoint_selector.matches(&identity(pod))
    }

    /// Default deny: an endpoint selected by a policy with at least one rule in a direction
    /// (even the empty rule `{}`) drops whatever no rule allows in that direction.
    pub fn isolates(&self, side: &Side<'_>) -> bool {
        !self.rules_of(side.direction).is_empty() && self.selects(side.subject)
    }

    /// The rules of this policy matching the side; `dns_visible` says whether the subject's
    /// lookups of a name pass Cilium's DNS proxy.
    pub fn matching(&self, side: &Side<'_>, dns_visible: impl Fn(&str) -> bool) -> Matching {
        let mut out = Matching {
            rules: Vec::new(),
            hint: None,
        };
        for (i, rule) in self.rules_of(side.direction).iter().enumerate() {
            if !rule.l4.matches(side) {
                continue;
            }
            let peer_ok = match (&rule.peers, side.peer) {
                (Peers::Fqdns(names), Endpoint::Outside { fqdn: Some(n), .. })
                    if names.iter().any(|s| s.matches(n)) =>
                {
                    let seen = dns_visible(n);
                    if !seen {
                        out.hint = Some(format!(
                            "{} names {n} but no DNS rule (toPorts[].rules.dns) lets Cilium see \
                             its lookups, so it learns no address for it",
                            self.rule_ref(side.direction, i)
                        ));
                    }
                    seen
                }
                (peers, peer) => peers.matches(side, peer),
            };
            if peer_ok {
                out.rules.push(self.rule_ref(side.direction, i));
            }
        }
        out
    }

    /// A `rules.dns` entry of an egress rule matches the name.
    pub fn dns_rule_matches(&self, name: &str) -> bool {
        self.egress.iter().any(|r| match &r.l4 {
            L4::Ports(rules) => rules.iter().any(|p| p.dns.iter().any(|d| d.matches(name))),
            _ => false,
        })
    }
}

impl Rule {
    fn parse(at: &At<'_>, direction: Direction, namespace: &str) -> Result<Self, Error> {
        let (endpoints, entities, cidr_key, cidr_set) = match direction {
            Direction::Ingress => ("fromEndpoints", "fromEntities", "fromCIDR", "fromCIDRSet"),
            Direction::Egress => ("toEndpoints", "toEntities", "toCIDR", "toCIDRSet"),
        };
        let mut known = vec![endpoints, entities, cidr_key, cidr_set, "toPorts", "icmps"];
        if direction == Direction::Egress {
            known.push("toFQDNs");
        }
        at.keys(&known, "not used by vigil's templates")?;

        let mut kinds = Vec::new();
        let selectors = at
            .list(endpoints)?
            .iter()
            .map(|s| {
                let mut sel = Selector::parse(s, Keys::Cilium)?;
                // Without a namespace label, a namespaced policy's selector is limited to the
                // policy's namespace (`{}` = every endpoint of the namespace).
                if !sel.has_key(NAMESPACE_LABEL) {
                    sel.require(NAMESPACE_LABEL, namespace);
                }
                Ok(sel)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        if !selectors.is_empty() {
            kinds.push((endpoints, Peers::Endpoints(selectors)));
        }
        let ents = at
            .list(entities)?
            .iter()
            .map(|e| Entity::parse(e))
            .collect::<Result<Vec<_>, _>>()?;
        if !ents.is_empty() {
            kinds.push((entities, Peers::Entities(ents)));
        }
        let mut cidrs: Vec<CidrSet> = Vec::new();
        for c in at.list(cidr_key)? {
            cidrs.push(CidrSet {
                cidr: cidr(&c, c.str()?)?,
                except: Vec::new(),
            });
        }
        if !cidrs.is_empty() {
            kinds.push((cidr_key, Peers::Cidrs(std::mem::take(&mut cidrs))));
        }
        for s in at.list(cidr_set)? {
            s.keys(
                &["cidr", "except"],
                "cidrGroupRef is not used by vigil's templates",
            )?;
            let raw = s
                .str_field("cidr")?
                .ok_or_else(|| s.invalid("cidr is required"))?;
            let except = s
                .string_list("except")?
                .into_iter()
                .map(|e| cidr(&s, e))
                .collect::<Result<Vec<_>, _>>()?;
            cidrs.push(CidrSet {
                cidr: cidr(&s, raw)?,
                except,
            });
        }
        if !cidrs.is_empty() {
            kinds.push((cidr_set, Peers::Cidrs(cidrs)));
        }
        let names = at
            .list("toFQDNs")?
            .iter()
            .map(Name::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if !names.is_empty() {
            kinds.push(("toFQDNs", Peers::Fqdns(names)));
        }

        let ports = at
            .list("toPorts")?
            .iter()
            .map(|p| PortRule::parse(p, direction))
            .collect::<Result<Vec<_>, _>>()?;
        let icmps = at
            .list("icmps")?
            .iter()
            .map(Icmp::parse)
            .collect::<Result<Vec<Vec<Icmp>>, _>>()?
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        let l4 = match (ports.is_empty(), icmps.is_empty()) {
            (true, true) => L4::Any,
            (false, true) => L4::Ports(ports),
            (true, false) => L4::Icmps(icmps),
            (false, false) => {
                return Err(at.invalid("Cilium does not allow toPorts and icmps in one rule"));
            }
        };
        let peers = match kinds.len() {
            0 if matches!(l4, L4::Any) => Peers::Nothing,
            0 => Peers::Any,
            1 => kinds.remove(0).1,
            _ => {
                return Err(at.invalid(format!(
                    "Cilium does not allow combining {} and {} in one rule",
                    kinds[0].0, kinds[1].0
                )));
            }
        };
        Ok(Self { peers, l4 })
    }
}

impl Peers {
    fn matches(&self, side: &Side<'_>, peer: &Endpoint) -> bool {
        match (self, peer) {
            (Self::Nothing, _) => false,
            (Self::Any, _) => true,
            (Self::Endpoints(selectors), Endpoint::Pod(p)) => {
                let labels = identity(p);
                selectors.iter().any(|s| s.matches(&labels))
            }
            (Self::Endpoints(_), _) => false,
            (Self::Entities(es), peer) => es.iter().any(|e| e.matches(side, peer)),
            // CIDR rules select addresses outside the cluster only, never pods or nodes.
            (Self::Cidrs(sets), Endpoint::Outside { ip, .. }) => sets
                .iter()
                .any(|s| s.cidr.contains(ip) && !s.except.iter().any(|e| e.contains(ip))),
            (Self::Cidrs(_), _) => false,
            // toFQDNs allows only addresses Cilium learned for a matching name (handled by the
            // caller); a flow without a name never matches.
            (Self::Fqdns(_), _) => false,
        }
    }
}

impl Entity {
    fn parse(at: &At<'_>) -> Result<Self, Error> {
        Ok(match at.str()? {
            "all" => Self::All,
            "world" => Self::World,
            "world-ipv4" => Self::WorldIpv4,
            "world-ipv6" => Self::WorldIpv6,
            "cluster" => Self::Cluster,
            "host" => Self::Host,
            "remote-node" => Self::RemoteNode,
            "kube-apiserver" => Self::KubeApiserver,
            other => return Err(at.unsupported(&format!("entity {other:?}"))),
        })
    }

    fn matches(self, side: &Side<'_>, peer: &Endpoint) -> bool {
        match (self, peer) {
            (Self::All, _) => true,
            (Self::World, Endpoint::Outside { .. }) => true,
            (Self::WorldIpv4, Endpoint::Outside { ip, .. }) => ip.is_ipv4(),
            (Self::WorldIpv6, Endpoint::Outside { ip, .. }) => ip.is_ipv6(),
            // Every endpoint of the local cluster: pods of all namespaces, the nodes, and the
            // API server (modelled as running on the control-plane nodes).
            (
                Self::Cluster,
                Endpoint::Pod(_) | Endpoint::Node { .. } | Endpoint::ApiServer { .. },
            ) => true,
            (Self::Host, Endpoint::Node { .. }) => side.peer_is_local_node(),
            (Self::RemoteNode, Endpoint::Node { .. }) => !side.peer_is_local_node(),
            (Self::KubeApiserver, Endpoint::ApiServer { .. }) => true,
            _ => false,
        }
    }
}

impl Name {
    fn parse(at: &At<'_>) -> Result<Self, Error> {
        at.keys(&["matchName", "matchPattern"], "")?;
        let name = |raw: &str| raw.trim_end_matches('.').to_ascii_lowercase();
        match (at.str_field("matchName")?, at.str_field("matchPattern")?) {
            (Some(n), None) => Ok(Self::Exact(name(n))),
            (None, Some(p)) if p.contains("**") => {
                Err(at.unsupported(&format!("the multi-level wildcard in {p:?}")))
            }
            (None, Some(p)) => Ok(Self::Pattern(name(p))),
            _ => Err(at.invalid("exactly one of matchName and matchPattern")),
        }
    }

    fn matches(&self, fqdn: &str) -> bool {
        let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
        match self {
            Self::Exact(n) => *n == fqdn,
            // `*` alone matches every name; otherwise `*` matches zero or more DNS characters
            // within one label (never a '.').
            Self::Pattern(p) if p == "*" => !fqdn.is_empty(),
            Self::Pattern(p) => glob(p.as_bytes(), fqdn.as_bytes()),
        }
    }
}

fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => {
            let mut i = 0;
            loop {
                if glob(rest, &name[i..]) {
                    return true;
                }
                match name.get(i) {
                    Some(c) if c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_' => i += 1,
                    _ => return false,
                }
            }
        }
        Some((c, rest)) => name.first() == Some(c) && glob(rest, &name[1..]),
    }
}

impl PortRule {
    fn parse(at: &At<'_>, direction: Direction) -> Result<Self, Error> {
        at.keys(
            &["ports", "rules"],
            "TLS and listener settings are not used by vigil's templates",
        )?;
        let ports = at
            .list("ports")?
            .iter()
            .map(PortProtocol::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if ports.is_empty() {
            return Err(at.invalid("toPorts needs ports"));
        }
        let mut dns = Vec::new();
        if let Some(rules) = at.get("rules") {
            rules.keys(&["dns"], "only DNS rules are implemented")?;
            if direction == Direction::Ingress && rules.has("dns") {
                return Err(rules.unsupported("DNS rules on ingress"));
            }
            dns = rules
                .list("dns")?
                .iter()
                .map(Name::parse)
                .collect::<Result<Vec<_>, _>>()?;
        }
        Ok(Self { ports, dns })
    }

    fn matches(&self, side: &Side<'_>) -> bool {
        self.ports.iter().any(|p| p.matches(side))
    }
}

impl PortProtocol {
    fn parse(at: &At<'_>) -> Result<Self, Error> {
        at.keys(&["port", "endPort", "protocol"], "")?;
        let protocol = match at.str_field("protocol")?.unwrap_or("ANY") {
            "ANY" => None,
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            other => return Err(at.unsupported(&format!("protocol {other:?}"))),
        };
        let end = at
            .get("endPort")
            .map(|e| {
                e.value
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or_else(|| e.invalid("not a port number"))
            })
            .transpose()?;
        let port = match at.str_field("port")? {
            None | Some("0") => PortSpec::All,
            Some(raw) => match raw.parse::<u16>() {
                Ok(from) => PortSpec::Range(from, end.unwrap_or(from).max(from)),
                Err(_) if raw.bytes().any(|b| b.is_ascii_lowercase()) => {
                    PortSpec::Named(raw.to_owned())
                }
                Err(_) => return Err(at.invalid(format!("{raw:?} is not a port"))),
            },
        };
        Ok(Self { port, protocol })
    }

    fn matches(&self, side: &Side<'_>) -> bool {
        let flow = side.flow;
        let protocol_ok = match (self.protocol, flow.protocol) {
            (_, Protocol::Icmp { .. }) => false,
            (None, _) => true,
            (Some(p), q) => p == q,
        };
        protocol_ok
            && match &self.port {
                PortSpec::All => true,
                PortSpec::Range(from, to) => (*from..=*to).contains(&flow.port),
                PortSpec::Named(name) => {
                    side.destination_pod()
                        .and_then(|p| p.named_port(name, flow.protocol))
                        == Some(flow.port)
                }
            }
    }
}

impl Icmp {
    fn parse(at: &At<'_>) -> Result<Vec<Self>, Error> {
        at.keys(&["fields"], "")?;
        at.list("fields")?
            .iter()
            .map(|f| {
                f.keys(&["type", "family"], "")?;
                let ipv6 = match f.str_field("family")?.unwrap_or("IPv4") {
                    "IPv4" => false,
                    "IPv6" => true,
                    other => return Err(f.invalid(format!("family {other:?}"))),
                };
                let t = f.get("type").ok_or_else(|| f.invalid("type is required"))?;
                let icmp_type = match (t.value.as_u64(), t.value.as_str(), ipv6) {
                    (Some(n), _, _) => {
                        u8::try_from(n).map_err(|_| t.invalid("not an ICMP type"))?
                    }
                    (None, Some("EchoRequest"), false) => 8,
                    (None, Some("EchoReply"), false) => 0,
                    (None, Some("EchoRequest"), true) => 128,
                    (None, Some("EchoReply"), true) => 129,
                    (None, Some(other), _) => {
                        return Err(t.unsupported(&format!("ICMP type name {other:?}")));
                    }
                    (None, None, _) => return Err(t.invalid("not an ICMP type")),
                };
                Ok(Self { ipv6, icmp_type })
            })
            .collect()
    }
}

impl L4 {
    fn matches(&self, side: &Side<'_>) -> bool {
        match self {
            Self::Any => true,
            Self::Ports(rules) => rules.iter().any(|r| r.matches(side)),
            Self::Icmps(fields) => match side.flow.protocol {
                Protocol::Icmp { icmp_type } => fields
                    .iter()
                    .any(|f| f.icmp_type == icmp_type && f.ipv6 == side.flow.ipv6()),
                _ => false,
            },
        }
    }
}
