//! `NetworkPolicy` (networking.k8s.io/v1), as the Kubernetes documentation defines it
//! (concepts/services-networking/network-policies and the API reference).

use ipnet::IpNet;
use serde_json::Value;

use super::json::At;
use super::selector::{Keys, Selector};
use super::{Direction, Endpoint, Error, PolicyKind, Protocol, RuleRef, Side};

#[derive(Debug)]
pub(super) struct Policy {
    namespace: String,
    name: String,
    pod_selector: Selector,
    /// `policyTypes`: the directions in which selected pods are isolated.
    ingress_isolated: bool,
    egress_isolated: bool,
    ingress: Vec<Rule>,
    egress: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    /// `None`: `from`/`to` empty or absent, every peer.
    peers: Option<Vec<Peer>>,
    /// `None`: `ports` empty or absent, every port of every protocol (ICMP too).
    ports: Option<Vec<PortRule>>,
}

#[derive(Debug)]
enum Peer {
    Selectors {
        namespaces: Option<Selector>,
        pods: Option<Selector>,
    },
    IpBlock {
        cidr: IpNet,
        except: Vec<IpNet>,
    },
}

#[derive(Debug)]
enum Port {
    All,
    Number { from: u16, to: u16 },
    Named(String),
}

#[derive(Debug)]
struct PortRule {
    protocol: Protocol,
    port: Port,
}

pub(super) fn cidr(at: &At<'_>, raw: &str) -> Result<IpNet, Error> {
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| at.invalid(format!("{raw:?} is not a CIDR")))
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
        let id = format!("NetworkPolicy {namespace}/{name}");
        let root = At::root(&id, o);
        if namespace.is_empty() {
            return Err(root.invalid("metadata.namespace is not set"));
        }
        let spec = root.get("spec").ok_or_else(|| root.invalid("no spec"))?;
        spec.keys(&["podSelector", "policyTypes", "ingress", "egress"], "")?;
        let pod_selector = match spec.get("podSelector") {
            Some(s) => Selector::parse(&s, Keys::Kubernetes)?,
            None => return Err(spec.invalid("podSelector is required")),
        };
        let ingress = spec
            .list("ingress")?
            .iter()
            .map(|r| Rule::parse(r, "from"))
            .collect::<Result<Vec<_>, _>>()?;
        let egress = spec
            .list("egress")?
            .iter()
            .map(|r| Rule::parse(r, "to"))
            .collect::<Result<Vec<_>, _>>()?;
        // policyTypes defaults to Ingress, plus Egress when the policy has egress rules.
        let (ingress_isolated, egress_isolated) = if spec.has("policyTypes") {
            let types = spec.string_list("policyTypes")?;
            for t in &types {
                if !matches!(*t, "Ingress" | "Egress") {
                    return Err(spec.invalid(format!("unknown policy type {t:?}")));
                }
            }
            (types.contains(&"Ingress"), types.contains(&"Egress"))
        } else {
            (true, !egress.is_empty())
        };
        Ok(Self {
            namespace,
            name,
            pod_selector,
            ingress_isolated,
            egress_isolated,
            ingress,
            egress,
        })
    }

    pub fn id(&self) -> String {
        format!("NetworkPolicy {}/{}", self.namespace, self.name)
    }

    fn rules_of(&self, direction: Direction) -> &[Rule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }

    fn rule_ref(&self, direction: Direction, index: usize) -> RuleRef {
        RuleRef {
            kind: PolicyKind::NetworkPolicy,
            namespace: self.namespace.clone(),
            policy: self.name.clone(),
            direction,
            index,
        }
    }

    pub fn rules(&self) -> Vec<RuleRef> {
        [Direction::Ingress, Direction::Egress]
            .into_iter()
            .flat_map(|d| (0..self.rules_of(d).len()).map(move |i| (d, i)))
            .map(|(d, i)| self.rule_ref(d, i))
            .collect()
    }

    /// The pod is selected by this policy and the policy isolates it in this direction.
    pub fn isolates(&self, side: &Side<'_>) -> bool {
        let isolated = match side.direction {
            Direction::Ingress => self.ingress_isolated,
            Direction::Egress => self.egress_isolated,
        };
        isolated
            && side.subject.namespace == self.namespace
            && self.pod_selector.matches(&side.subject.labels)
    }

    pub fn matching(&self, side: &Side<'_>) -> Vec<RuleRef> {
        self.rules_of(side.direction)
            .iter()
            .enumerate()
            .filter(|(_, r)| r.matches(self, side))
            .map(|(i, _)| self.rule_ref(side.direction, i))
            .collect()
    }
}

impl Rule {
    fn parse(at: &At<'_>, peers_key: &str) -> Result<Self, Error> {
        at.keys(&[peers_key, "ports"], "")?;
        let peers = at
            .list(peers_key)?
            .iter()
            .map(Peer::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let ports = at
            .list("ports")?
            .iter()
            .map(PortRule::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            peers: (!peers.is_empty()).then_some(peers),
            ports: (!ports.is_empty()).then_some(ports),
        })
    }

    fn matches(&self, policy: &Policy, side: &Side<'_>) -> bool {
        let peer_ok = self
            .peers
            .as_ref()
            .is_none_or(|peers| peers.iter().any(|p| p.matches(policy, side.peer)));
        let port_ok = self
            .ports
            .as_ref()
            .is_none_or(|ports| ports.iter().any(|p| p.matches(side)));
        peer_ok && port_ok
    }
}

impl Peer {
    fn parse(at: &At<'_>) -> Result<Self, Error> {
        at.keys(&["podSelector", "namespaceSelector", "ipBlock"], "")?;
        let pods = at
            .get("podSelector")
            .map(|s| Selector::parse(&s, Keys::Kubernetes))
            .transpose()?;
        let namespaces = at
            .get("namespaceSelector")
            .map(|s| Selector::parse(&s, Keys::Kubernetes))
            .transpose()?;
        match (at.get("ipBlock"), &pods, &namespaces) {
            (Some(block), None, None) => {
                block.keys(&["cidr", "except"], "")?;
                let raw = block
                    .str_field("cidr")?
                    .ok_or_else(|| block.invalid("cidr is required"))?;
                let cidr = cidr(&block, raw)?;
                let except = block
                    .string_list("except")?
                    .into_iter()
                    .map(|e| super::kubernetes::cidr(&block, e))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Self::IpBlock { cidr, except })
            }
            (Some(_), _, _) => Err(at.invalid("ipBlock cannot be combined with a selector")),
            (None, None, None) => Err(at.invalid("a peer needs a selector or an ipBlock")),
            (None, _, _) => Ok(Self::Selectors { namespaces, pods }),
        }
    }

    fn matches(&self, policy: &Policy, peer: &Endpoint) -> bool {
        match (self, peer) {
            // podSelector alone: pods of the policy's namespace; namespaceSelector alone: every
            // pod of the selected namespaces; both in one peer: pods matching both.
            (Self::Selectors { namespaces, pods }, Endpoint::Pod(p)) => {
                let ns_ok = match namespaces {
                    Some(ns) => ns.matches(&p.namespace_labels),
                    None => p.namespace == policy.namespace,
                };
                ns_ok && pods.as_ref().is_none_or(|s| s.matches(&p.labels))
            }
            (Self::Selectors { .. }, _) => false,
            // ipBlock is for addresses outside the pod network: never a pod.
            (Self::IpBlock { .. }, Endpoint::Pod(_)) => false,
            (Self::IpBlock { cidr, except }, other) => {
                let ip = other.ip();
                cidr.contains(&ip) && !except.iter().any(|e| e.contains(&ip))
            }
        }
    }
}

impl PortRule {
    fn parse(at: &At<'_>) -> Result<Self, Error> {
        at.keys(&["protocol", "port", "endPort"], "")?;
        let protocol = match at.str_field("protocol")?.unwrap_or("TCP") {
            "TCP" => Protocol::Tcp,
            "UDP" => Protocol::Udp,
            "SCTP" => Protocol::Sctp,
            other => return Err(at.invalid(format!("protocol {other:?} is not TCP, UDP or SCTP"))),
        };
        let number = |v: &Value| v.as_u64().and_then(|n| u16::try_from(n).ok());
        let port = match (at.get("port"), at.get("endPort")) {
            (None, None) => Port::All,
            (None, Some(e)) => return Err(e.invalid("endPort needs port")),
            (Some(p), end) => match (p.value.as_str(), number(p.value)) {
                (Some(name), _) => match end {
                    Some(e) => return Err(e.invalid("endPort needs a numeric port")),
                    None => Port::Named(name.to_owned()),
                },
                (None, Some(from)) => {
                    let to = match end {
                        Some(e) => number(e.value)
                            .filter(|t| *t >= from)
                            .ok_or_else(|| e.invalid("endPort must be a port >= port"))?,
                        None => from,
                    };
                    Port::Number { from, to }
                }
                (None, None) => return Err(p.invalid("not a port number or name")),
            },
        };
        Ok(Self { protocol, port })
    }

    /// NetworkPolicy ports name TCP, UDP or SCTP: a rule with ports never matches ICMP.
    fn matches(&self, side: &Side<'_>) -> bool {
        if side.flow.protocol != self.protocol {
            return false;
        }
        let port = side.flow.port;
        match &self.port {
            Port::All => true,
            Port::Number { from, to } => (*from..=*to).contains(&port),
            // A named port is the destination pod's container port of that name.
            Port::Named(name) => {
                side.destination_pod()
                    .and_then(|p| p.named_port(name, self.protocol))
                    == Some(port)
            }
        }
    }
}
