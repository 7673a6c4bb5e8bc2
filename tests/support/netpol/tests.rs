//! Unit tests: each names the documented rule it checks. "K8s" is
//! kubernetes.io/docs/concepts/services-networking/network-policies (and the NetworkPolicy API
//! reference); "Cilium" is docs.cilium.io/en/stable/security/policy (language.html and
//! intro.html).

use serde::Deserialize;

use super::*;

/// Policies from multi-document YAML (`metadata.namespace` defaults to `acme`).
fn policies(yaml: &str) -> PolicySet {
    try_policies(yaml).expect("policies parse")
}

fn try_policies(yaml: &str) -> Result<PolicySet, Error> {
    let docs: Vec<serde_json::Value> = serde_norway::Deserializer::from_str(yaml)
        .map(|d| {
            let mut v = serde_json::Value::deserialize(d).expect("YAML");
            if v["metadata"]["namespace"].is_null() {
                v["metadata"]["namespace"] = "acme".into();
            }
            v
        })
        .collect();
    PolicySet::from_values(docs.iter())
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("IP")
}

fn pod(ns: &str, labels: &[(&str, &str)], addr: &str) -> Endpoint {
    Endpoint::Pod(Pod::new(ns, labels.iter().copied(), ip(addr)).on_node("n1"))
}

fn app(ns: &str, app: &str, addr: &str) -> Endpoint {
    pod(ns, &[("app", app)], addr)
}

fn world(addr: &str) -> Endpoint {
    Endpoint::outside(ip(addr))
}

fn np(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n{spec}\n---\n"
    )
}

fn cnp(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n{spec}\n---\n"
    )
}

fn rule(policy: &str, kind: PolicyKind, direction: Direction, index: usize) -> RuleRef {
    RuleRef {
        kind,
        namespace: "acme".into(),
        policy: policy.into(),
        direction,
        index,
    }
}

// ---------------------------------------------------------------- Kubernetes NetworkPolicy

#[test]
fn k8s_pods_are_not_isolated_until_a_policy_selects_them() {
    // K8s "The two sorts of pod isolation": by default a pod is non-isolated.
    let set = policies(&np(
        "web",
        "  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Ingress]",
    ));
    let v = set.evaluate(&Flow::tcp(
        app("acme", "a", "10.0.0.1"),
        app("acme", "db", "10.0.0.2"),
        5432,
    ));
    assert_eq!(v.egress, Verdict::NotIsolated);
    assert_eq!(v.ingress, Verdict::NotIsolated);
    assert!(v.allowed());
}

#[test]
fn k8s_a_selected_pod_with_no_rules_is_default_deny_in_its_policy_types_only() {
    // K8s: a pod selected by a policy with Ingress in policyTypes is isolated for ingress;
    // its egress stays open unless a policy with Egress selects it.
    let set = policies(&np("deny", "  podSelector: {}\n  policyTypes: [Ingress]"));
    let v = set.evaluate(&Flow::tcp(
        app("acme", "a", "10.0.0.1"),
        app("acme", "b", "10.0.0.2"),
        80,
    ));
    assert_eq!(v.egress, Verdict::NotIsolated);
    assert!(matches!(v.ingress, Verdict::Denied { .. }), "{v}");
}

#[test]
fn k8s_policy_types_default_to_ingress_plus_egress_when_egress_rules_exist() {
    // API reference, policyTypes: unset means Ingress, and Egress if the policy has egress rules.
    let set = policies(&np(
        "e",
        "  podSelector: {}\n  egress:\n  - ports: [{port: 53, protocol: UDP}]",
    ));
    let a = app("acme", "a", "10.0.0.1");
    let v = set.evaluate(&Flow::tcp(a.clone(), world("1.1.1.1"), 443));
    assert!(
        !v.egress.is_allowed(),
        "egress isolated by the egress rules"
    );
    let v = set.evaluate(&Flow::tcp(world("1.1.1.1"), a.clone(), 443));
    assert!(!v.ingress.is_allowed(), "ingress isolated by default");
    let only_ingress = policies(&np("i", "  podSelector: {}"));
    let v = only_ingress.evaluate(&Flow::tcp(a, world("1.1.1.1"), 443));
    assert_eq!(v.egress, Verdict::NotIsolated);
}

#[test]
fn k8s_allowed_is_the_union_of_all_selecting_policies() {
    // K8s: policies are additive; allowed = union of the rules of every policy selecting it.
    let set = policies(&format!(
        "{}{}",
        np(
            "one",
            "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{port: 80}]"
        ),
        np(
            "two",
            "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{port: 443}]"
        )
    ));
    let a = app("acme", "a", "10.0.0.1");
    for (port, policy) in [(80, "one"), (443, "two")] {
        let v = set.evaluate(&Flow::tcp(a.clone(), world("8.8.8.8"), port));
        assert_eq!(
            v.egress,
            Verdict::Allowed(vec![rule(
                policy,
                PolicyKind::NetworkPolicy,
                Direction::Egress,
                0
            )])
        );
    }
    assert!(!set.evaluate(&Flow::tcp(a, world("8.8.8.8"), 22)).allowed());
}

#[test]
fn k8s_a_rule_without_to_matches_every_peer() {
    // API reference, egress.to: empty or missing matches all destinations.
    let set = policies(&np(
        "p",
        "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{port: 443}]",
    ));
    let a = app("acme", "a", "10.0.0.1");
    assert!(
        set.evaluate(&Flow::tcp(a.clone(), world("8.8.8.8"), 443))
            .allowed()
    );
    assert!(
        set.evaluate(&Flow::tcp(a, app("other", "x", "10.0.9.9"), 443))
            .allowed()
    );
}

#[test]
fn k8s_a_rule_without_ports_matches_every_port_and_protocol_including_icmp() {
    // API reference, ports: empty or missing matches all ports; NetworkPolicy has no ICMP
    // protocol, so only a rule without ports lets ICMP through.
    let set = policies(&np(
        "p",
        "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 192.0.2.0/24}}]",
    ));
    let a = app("acme", "a", "10.0.0.1");
    assert!(
        set.evaluate(&Flow::udp(a.clone(), world("192.0.2.7"), 161))
            .allowed()
    );
    assert!(
        set.evaluate(&Flow::tcp(a.clone(), world("192.0.2.7"), 22))
            .allowed()
    );
    assert!(set.evaluate(&Flow::ping(a, world("192.0.2.7"))).allowed());
}

#[test]
fn k8s_a_rule_with_ports_never_matches_icmp() {
    // API reference, NetworkPolicyPort.protocol: TCP, UDP or SCTP only.
    let set = policies(&np(
        "p",
        "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 192.0.2.0/24}}]\n    ports: [{port: 161, protocol: UDP}]",
    ));
    let a = app("acme", "a", "10.0.0.1");
    assert!(
        set.evaluate(&Flow::udp(a.clone(), world("192.0.2.7"), 161))
            .allowed()
    );
    assert!(
        !set.evaluate(&Flow::tcp(a.clone(), world("192.0.2.7"), 161))
            .allowed(),
        "protocol differs"
    );
    assert!(!set.evaluate(&Flow::ping(a, world("192.0.2.7"))).allowed());
}

#[test]
fn k8s_protocol_defaults_to_tcp() {
    // API reference, NetworkPolicyPort.protocol: defaults to TCP.
    let set = policies(&np(
        "p",
        "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{port: 53}]",
    ));
    let a = app("acme", "a", "10.0.0.1");
    assert!(
        set.evaluate(&Flow::tcp(a.clone(), world("8.8.8.8"), 53))
            .allowed()
    );
    assert!(!set.evaluate(&Flow::udp(a, world("8.8.8.8"), 53)).allowed());
}

#[test]
fn k8s_namespace_and_pod_selector_in_one_peer_are_anded_separate_peers_ored() {
    // K8s "Behavior of to and from selectors": one element with both selectors = pods matching
    // both; two elements = either.
    let and = policies(&np(
        "and",
        "  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {team: ops}}\n      podSelector: {matchLabels: {app: scraper}}",
    ));
    let or = policies(&np(
        "or",
        "  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {team: ops}}\n    - podSelector: {matchLabels: {app: scraper}}",
    ));
    let ops = |a: &str, addr: &str| {
        Endpoint::Pod(Pod::new("ops", [("app", a)], ip(addr)).with_namespace_label("team", "ops"))
    };
    let target = app("acme", "db", "10.0.0.2");
    let cases = [
        (ops("scraper", "10.1.0.1"), true, true),
        (ops("other", "10.1.0.2"), false, true),
        (app("acme", "scraper", "10.0.0.3"), false, true),
        (app("dev", "scraper", "10.2.0.3"), false, false),
    ];
    for (src, in_and, in_or) in cases {
        let f = Flow::tcp(src.clone(), target.clone(), 5432);
        assert_eq!(and.evaluate(&f).ingress.is_allowed(), in_and, "and: {src}");
        assert_eq!(or.evaluate(&f).ingress.is_allowed(), in_or, "or: {src}");
    }
}

#[test]
fn k8s_pod_selector_alone_means_the_policys_namespace() {
    // K8s "podSelector: selects particular Pods in the same namespace as the NetworkPolicy".
    let set = policies(&np(
        "p",
        "  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: web}}}]",
    ));
    let db = app("acme", "db", "10.0.0.2");
    assert!(
        set.evaluate(&Flow::tcp(app("acme", "web", "10.0.0.1"), db.clone(), 1))
            .allowed()
    );
    assert!(
        !set.evaluate(&Flow::tcp(app("other", "web", "10.9.0.1"), db, 1))
            .allowed()
    );
}

#[test]
fn k8s_empty_selectors_select_everything_in_their_scope() {
    // K8s: an empty podSelector selects all pods of the namespace; an empty namespaceSelector
    // all namespaces.
    let set = policies(&np(
        "p",
        "  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n  - from: [{namespaceSelector: {}}]",
    ));
    let db = app("acme", "db", "10.0.0.2");
    assert!(
        set.evaluate(&Flow::tcp(app("x", "y", "10.9.0.1"), db.clone(), 1))
            .allowed()
    );
    assert!(
        !set.evaluate(&Flow::tcp(world("8.8.8.8"), db, 1)).allowed(),
        "selectors select pods only"
    );
}

#[test]
fn k8s_match_expressions_in_not_in_exists_does_not_exist() {
    // Labels and selectors, set-based requirements: NotIn also matches an absent key.
    let set = policies(&np(
        "p",
        "  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n    - podSelector:\n        matchExpressions:\n        - {key: tier, operator: In, values: [web, api]}\n        - {key: env, operator: NotIn, values: [dev]}\n        - {key: team, operator: Exists}\n        - {key: banned, operator: DoesNotExist}",
    ));
    let db = app("acme", "db", "10.0.0.2");
    let src = |labels: &[(&str, &str)]| pod("acme", labels, "10.0.0.9");
    let ok = |labels: &[(&str, &str)]| {
        set.evaluate(&Flow::tcp(src(labels), db.clone(), 1))
            .allowed()
    };
    assert!(
        ok(&[("tier", "web"), ("team", "a")]),
        "env absent satisfies NotIn"
    );
    assert!(ok(&[("tier", "api"), ("team", "a"), ("env", "prod")]));
    assert!(!ok(&[("tier", "db"), ("team", "a")]), "In");
    assert!(
        !ok(&[("tier", "web"), ("team", "a"), ("env", "dev")]),
        "NotIn"
    );
    assert!(!ok(&[("tier", "web")]), "Exists");
    assert!(
        !ok(&[("tier", "web"), ("team", "a"), ("banned", "x")]),
        "DoesNotExist"
    );
}

#[test]
fn k8s_ip_block_with_except_and_only_outside_the_pod_network() {
    // K8s ipBlock: CIDR ranges with exceptions, meant for cluster-external IPs; pods are
    // matched by selectors, not by their IP.
    let set = policies(&np(
        "p",
        "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.20.0.0/16]}}]",
    ));
    let a = app("acme", "a", "10.0.0.1");
    assert!(
        set.evaluate(&Flow::tcp(a.clone(), world("10.1.2.3"), 1))
            .allowed()
    );
    assert!(
        !set.evaluate(&Flow::tcp(a.clone(), world("10.20.2.3"), 1))
            .allowed(),
        "except"
    );
    assert!(
        !set.evaluate(&Flow::tcp(a.clone(), world("2001:db8::1"), 1))
            .allowed(),
        "family"
    );
    assert!(
        !set.evaluate(&Flow::tcp(a, app("acme", "b", "10.1.0.5"), 1))
            .allowed(),
        "a pod IP"
    );
}

#[test]
fn k8s_ipv6_ip_block() {
    let set = policies(&np(
        "p",
        "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: '2001:db8:20::/48'}}]",
    ));
    let a = app("acme", "a", "10.0.0.1");
    assert!(
        set.evaluate(&Flow::udp(a.clone(), world("2001:db8:20::1"), 161))
            .allowed()
    );
    assert!(
        !set.evaluate(&Flow::udp(a, world("2001:db8:21::1"), 161))
            .allowed()
    );
}

#[test]
fn k8s_named_ports_are_the_destination_pods_container_ports() {
    // API reference, NetworkPolicyPort.port: a numerical or named port on a pod.
    let set = policies(&np(
        "p",
        "  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n  - ports: [{port: http}]",
    ));
    let db = Endpoint::Pod(Pod::new("acme", [("app", "db")], ip("10.0.0.2")).with_port(
        "http",
        8080,
        Protocol::Tcp,
    ));
    let src = app("acme", "web", "10.0.0.1");
    assert!(
        set.evaluate(&Flow::tcp(src.clone(), db.clone(), 8080))
            .allowed()
    );
    assert!(!set.evaluate(&Flow::tcp(src.clone(), db, 80)).allowed());
    assert!(
        !set.evaluate(&Flow::tcp(src, app("acme", "x", "10.0.0.3"), 8080))
            .allowed(),
        "no such name"
    );
}

#[test]
fn k8s_end_port_allows_a_range() {
    // K8s "Targeting a range of ports": port..=endPort.
    let set = policies(&np(
        "p",
        "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{port: 32000, endPort: 32768}]",
    ));
    let a = app("acme", "a", "10.0.0.1");
    for (port, ok) in [(31999, false), (32000, true), (32768, true), (32769, false)] {
        assert_eq!(
            set.evaluate(&Flow::tcp(a.clone(), world("8.8.8.8"), port))
                .allowed(),
            ok,
            "{port}"
        );
    }
}

#[test]
fn k8s_traffic_to_and_from_the_pods_node_is_always_allowed() {
    // K8s: "traffic to and from the node where a Pod is running is always allowed".
    let set = policies(&np(
        "deny",
        "  podSelector: {}\n  policyTypes: [Ingress, Egress]",
    ));
    let a = app("acme", "a", "10.0.0.1");
    let local = Endpoint::Node {
        name: "n1".into(),
        ip: ip("192.168.1.1"),
    };
    let remote = Endpoint::Node {
        name: "n2".into(),
        ip: ip("192.168.1.2"),
    };
    assert!(matches!(
        set.evaluate(&Flow::tcp(local.clone(), a.clone(), 9273))
            .ingress,
        Verdict::Exempt(_)
    ));
    assert!(set.evaluate(&Flow::tcp(a.clone(), local, 10250)).allowed());
    assert!(!set.evaluate(&Flow::tcp(remote, a, 9273)).allowed());
}

#[test]
fn k8s_verdicts_name_the_rules_and_the_isolating_policies() {
    let set = policies(&format!(
        "{}{}",
        np(
            "deny",
            "  podSelector: {}\n  policyTypes: [Ingress, Egress]"
        ),
        np(
            "db",
            "  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: x}}}]\n  - from: [{podSelector: {matchLabels: {app: web}}}]\n    ports: [{port: 5432}]"
        )
    ));
    let v = set.evaluate(&Flow::tcp(
        app("acme", "web", "10.0.0.1"),
        app("acme", "db", "10.0.0.2"),
        5432,
    ));
    assert_eq!(
        v.ingress,
        Verdict::Allowed(vec![rule(
            "db",
            PolicyKind::NetworkPolicy,
            Direction::Ingress,
            1
        )])
    );
    assert_eq!(
        v.egress,
        Verdict::Denied {
            selected_by: vec!["NetworkPolicy acme/deny".into()],
            hint: None
        }
    );
    assert_eq!(set.rules().len(), 2);
    assert_eq!(
        set.unused([&v]),
        vec![rule("db", PolicyKind::NetworkPolicy, Direction::Ingress, 0)]
    );
}

#[test]
fn k8s_malformed_or_unknown_constructs_are_errors() {
    let both = try_policies(&np(
        "p",
        "  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]",
    ));
    assert!(matches!(both, Err(Error::Invalid { .. })), "{both:?}");
    let unknown = try_policies(&np(
        "p",
        "  podSelector: {}\n  ingress:\n  - from: [{serviceSelector: {}}]",
    ));
    assert!(
        matches!(&unknown, Err(Error::Unsupported { construct, .. }) if construct.contains("serviceSelector")),
        "{unknown:?}"
    );
    let version = try_policies(
        "apiVersion: networking.k8s.io/v1beta1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}}\n",
    );
    assert!(matches!(version, Err(Error::Unsupported { .. })));
    let anp = try_policies(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: p}\nspec: {}\n",
    );
    assert!(matches!(anp, Err(Error::Unsupported { .. })));
    let op = try_policies(&np(
        "p",
        "  podSelector: {matchExpressions: [{key: a, operator: Gt, values: ['1']}]}",
    ));
    assert!(matches!(op, Err(Error::Unsupported { .. })));
}

#[test]
fn other_kinds_are_skipped() {
    let set = policies("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {}\n");
    assert!(set.is_empty());
}

// ---------------------------------------------------------------- CiliumNetworkPolicy

const DEFAULT_DENY: &str = "  endpointSelector: {}\n  ingress: [{}]\n  egress: [{}]";

#[test]
fn cilium_empty_endpoint_selector_selects_the_policys_namespace_only() {
    // Cilium: a namespaced policy's empty endpointSelector selects all endpoints of its namespace.
    let set = policies(&cnp("deny", DEFAULT_DENY));
    let v = set.evaluate(&Flow::tcp(
        app("acme", "a", "10.0.0.1"),
        app("other", "b", "10.9.0.1"),
        80,
    ));
    assert!(matches!(v.egress, Verdict::Denied { .. }));
    assert_eq!(
        v.ingress,
        Verdict::NotIsolated,
        "another namespace's pod is not selected"
    );
}

#[test]
fn cilium_empty_rule_enables_default_deny_and_allows_nothing() {
    // Cilium "Ingress/Egress Default Deny": a rule section with an empty rule `{}` selects the
    // endpoints into default deny without allowing anything.
    let set = policies(&cnp("deny", DEFAULT_DENY));
    let a = app("acme", "a", "10.0.0.1");
    for f in [
        Flow::tcp(a.clone(), world("8.8.8.8"), 443),
        Flow::ping(a.clone(), world("8.8.8.8")),
        Flow::tcp(app("acme", "b", "10.0.0.2"), a, 80),
    ] {
        assert!(!set.evaluate(&f).allowed(), "{f}");
    }
    assert!(
        set.rules().is_empty(),
        "empty rules allow nothing and need no flow"
    );
}

#[test]
fn cilium_only_directions_with_rules_are_isolated() {
    // Cilium intro, default enforcement: an endpoint is default-deny in a direction only when a
    // rule selecting it has rules for that direction.
    let set = policies(&cnp(
        "in",
        "  endpointSelector: {}\n  ingress:\n  - fromEntities: [world]",
    ));
    let v = set.evaluate(&Flow::tcp(
        app("acme", "a", "10.0.0.1"),
        app("acme", "b", "10.0.0.2"),
        80,
    ));
    assert_eq!(v.egress, Verdict::NotIsolated);
    assert!(!v.ingress.is_allowed());
}

#[test]
fn cilium_endpoint_selectors_without_a_namespace_are_the_policys_namespace() {
    // Cilium "Namespaces": toEndpoints/fromEndpoints in a CiliumNetworkPolicy are limited to
    // its namespace unless they name `k8s:io.kubernetes.pod.namespace`.
    let set = policies(&cnp(
        "p",
        "  endpointSelector: {}\n  egress:\n  - toEndpoints: [{matchLabels: {app: db}}]\n  - toEndpoints: [{}]\n    toPorts: [{ports: [{port: '9'}]}]",
    ));
    let a = app("acme", "a", "10.0.0.1");
    assert!(
        set.evaluate(&Flow::tcp(a.clone(), app("acme", "db", "10.0.0.2"), 5432))
            .allowed()
    );
    assert!(
        !set.evaluate(&Flow::tcp(a.clone(), app("other", "db", "10.9.0.2"), 5432))
            .allowed()
    );
    assert!(
        set.evaluate(&Flow::tcp(a.clone(), app("acme", "x", "10.0.0.3"), 9))
            .allowed(),
        "{{}} = the namespace"
    );
    assert!(
        !set.evaluate(&Flow::tcp(a, app("other", "x", "10.9.0.3"), 9))
            .allowed()
    );
}

#[test]
fn cilium_namespace_labels_with_and_without_source_prefix() {
    // Cilium "Namespaces": io.kubernetes.pod.namespace selects the namespace; `k8s:` and no
    // prefix (any source) both match a pod's Kubernetes labels.
    for key in [
        "k8s:io.kubernetes.pod.namespace",
        "io.kubernetes.pod.namespace",
    ] {
        let set = policies(&cnp(
            "p",
            &format!(
                "  endpointSelector: {{}}\n  egress:\n  - toEndpoints:\n    - matchLabels: {{'{key}': kube-system, 'k8s:k8s-app': kube-dns}}"
            ),
        ));
        let dns = pod("kube-system", &[("k8s-app", "kube-dns")], "10.96.0.10");
        let a = app("acme", "a", "10.0.0.1");
        assert!(
            set.evaluate(&Flow::udp(a.clone(), dns, 53)).allowed(),
            "{key}"
        );
        let other = pod("acme", &[("k8s-app", "kube-dns")], "10.0.0.53");
        assert!(!set.evaluate(&Flow::udp(a, other, 53)).allowed(), "{key}");
    }
}

#[test]
fn cilium_namespace_labels_are_selectable() {
    // Cilium: a namespace's labels are io.cilium.k8s.namespace.labels.<key>.
    let set = policies(&cnp(
        "p",
        "  endpointSelector: {}\n  ingress:\n  - fromEndpoints:\n    - matchLabels: {'k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name': ingress-nginx, 'k8s:io.kubernetes.pod.namespace': ingress-nginx}",
    ));
    let ctl = app("ingress-nginx", "controller", "10.5.0.1");
    assert!(
        set.evaluate(&Flow::tcp(ctl, app("acme", "g", "10.0.0.1"), 3000))
            .allowed()
    );
}

#[test]
fn cilium_entities() {
    // Cilium "Entities Based": world = outside the cluster; cluster = every endpoint of the
    // cluster (pods of all namespaces, nodes); host = the local node; remote-node = the other
    // nodes; kube-apiserver; all = everything.
    let a = app("acme", "a", "10.0.0.1");
    let local = Endpoint::Node {
        name: "n1".into(),
        ip: ip("192.168.1.1"),
    };
    let remote = Endpoint::Node {
        name: "n2".into(),
        ip: ip("192.168.1.2"),
    };
    let api = Endpoint::ApiServer {
        ip: ip("192.168.1.10"),
    };
    let peers = [
        ("world", world("8.8.8.8")),
        ("world-pod", app("other", "b", "10.9.0.1")),
        ("local", local),
        ("remote", remote),
        ("api", api),
    ];
    let expect = [
        ("world", [true, false, false, false, false]),
        ("world-ipv4", [true, false, false, false, false]),
        ("world-ipv6", [false, false, false, false, false]),
        ("cluster", [false, true, true, true, true]),
        ("host", [false, false, true, false, false]),
        ("remote-node", [false, false, false, true, false]),
        ("kube-apiserver", [false, false, false, false, true]),
        ("all", [true, true, true, true, true]),
    ];
    for (entity, wanted) in expect {
        let set = policies(&cnp(
            "p",
            &format!("  endpointSelector: {{}}\n  egress:\n  - toEntities: [{entity}]"),
        ));
        for ((what, peer), ok) in peers.iter().zip(wanted) {
            let v = set.evaluate(&Flow::tcp(a.clone(), peer.clone(), 443));
            assert_eq!(v.egress.is_allowed(), ok, "{entity} -> {what}");
        }
    }
    let bad = try_policies(&cnp(
        "p",
        "  endpointSelector: {}\n  egress:\n  - toEntities: [health]",
    ));
    assert!(
        matches!(&bad, Err(Error::Unsupported { construct, .. }) if construct.contains("health")),
        "{bad:?}"
    );
}

#[test]
fn cilium_to_cidr_and_cidr_set_with_except_match_outside_addresses_only() {
    // Cilium "IP/CIDR based": toCIDR, toCIDRSet with except; CIDR rules do not select pods or
    // nodes of the cluster.
    let set = policies(&cnp(
        "p",
        "  endpointSelector: {}\n  egress:\n  - toCIDR: [192.0.2.0/24, 198.51.100.7]\n  - toCIDRSet: [{cidr: 0.0.0.0/0, except: [10.0.0.0/8]}]\n    toPorts: [{ports: [{port: '443', protocol: TCP}]}]",
    ));
    let a = app("acme", "a", "10.0.0.1");
    let eg = |dst: Endpoint, port| set.evaluate(&Flow::tcp(a.clone(), dst, port)).egress;
    assert_eq!(
        eg(world("192.0.2.9"), 22).rules(),
        [rule(
            "p",
            PolicyKind::CiliumNetworkPolicy,
            Direction::Egress,
            0
        )]
    );
    assert!(
        eg(world("198.51.100.7"), 22).is_allowed(),
        "a bare address is a /32"
    );
    assert!(!eg(world("198.51.100.8"), 22).is_allowed());
    assert!(eg(world("203.0.113.1"), 443).is_allowed());
    assert!(!eg(world("10.1.1.1"), 443).is_allowed(), "except");
    assert!(
        !eg(app("other", "x", "10.9.0.1"), 443).is_allowed(),
        "pods are not CIDR peers"
    );
    assert!(
        !eg(app("other", "x", "192.0.2.10"), 22).is_allowed(),
        "even inside the CIDR"
    );
}

#[test]
fn cilium_to_ports_protocol_any_and_port_forms() {
    // Cilium "Layer 4 Examples": protocol defaults to ANY (TCP, UDP, SCTP, not ICMP); port "0"
    // is every port; endPort a range; a rule with only toPorts allows every peer.
    let set = policies(&cnp(
        "p",
        "  endpointSelector: {}\n  egress:\n  - toPorts: [{ports: [{port: '53'}]}]\n  - toPorts: [{ports: [{port: '1000', endPort: 1010, protocol: UDP}]}]\n  - toCIDR: [192.0.2.1/32]\n    toPorts: [{ports: [{port: '0', protocol: TCP}]}]",
    ));
    let a = app("acme", "a", "10.0.0.1");
    let ok = |f: Flow| set.evaluate(&f).egress.is_allowed();
    assert!(ok(Flow::tcp(a.clone(), world("8.8.8.8"), 53)));
    assert!(ok(Flow::udp(a.clone(), world("8.8.8.8"), 53)));
    assert!(ok(Flow::udp(a.clone(), world("8.8.8.8"), 1005)));
    assert!(!ok(Flow::tcp(a.clone(), world("8.8.8.8"), 1005)));
    assert!(!ok(Flow::udp(a.clone(), world("8.8.8.8"), 1011)));
    assert!(ok(Flow::tcp(a.clone(), world("192.0.2.1"), 31337)));
    assert!(
        !ok(Flow::ping(a, world("8.8.8.8"))),
        "ports never match ICMP"
    );
}

#[test]
fn cilium_named_ports() {
    let set = policies(&cnp(
        "p",
        "  endpointSelector: {}\n  ingress:\n  - toPorts: [{ports: [{port: health, protocol: TCP}]}]",
    ));
    let dst = Endpoint::Pod(Pod::new("acme", [("app", "c")], ip("10.0.0.2")).with_port(
        "health",
        9273,
        Protocol::Tcp,
    ));
    assert!(
        set.evaluate(&Flow::tcp(world("8.8.8.8"), dst.clone(), 9273))
            .allowed()
    );
    assert!(
        !set.evaluate(&Flow::tcp(world("8.8.8.8"), dst, 9274))
            .allowed()
    );
}

#[test]
fn cilium_icmp_fields_match_type_and_family() {
    // Cilium "ICMP/ICMPv6": icmps.fields type and family (default IPv4); a rule with icmps only
    // allows every peer.
    let set = policies(&cnp(
        "p",
        "  endpointSelector: {}\n  egress:\n  - toCIDR: [192.0.2.0/24, '2001:db8::/32']\n    icmps:\n    - fields: [{type: 8, family: IPv4}, {type: 128, family: IPv6}]\n  - icmps: [{fields: [{type: EchoReply}]}]",
    ));
    let a = app("acme", "a", "10.0.0.1");
    let ok = |f: Flow| set.evaluate(&f).egress.is_allowed();
    assert!(ok(Flow::ping(a.clone(), world("192.0.2.1"))));
    assert!(ok(Flow::ping(a.clone(), world("2001:db8::1"))));
    assert!(
        !ok(Flow::ping(a.clone(), world("203.0.113.1"))),
        "outside the CIDRs"
    );
    let icmp = |t, dst: &str| Flow {
        src: a.clone(),
        dst: world(dst),
        protocol: Protocol::Icmp { icmp_type: t },
        port: 0,
    };
    assert!(!ok(icmp(13, "192.0.2.1")), "timestamp is another type");
    assert!(!ok(icmp(128, "192.0.2.1")), "type 128 is ICMPv6's");
    assert!(
        ok(icmp(0, "203.0.113.1")),
        "EchoReply, IPv4 by default, any peer"
    );
    assert!(
        !ok(Flow::udp(a, world("192.0.2.1"), 161)),
        "icmps allow ICMP only"
    );
}

const DNS_RULE: &str = "  - toEndpoints:\n    - matchLabels: {'k8s:io.kubernetes.pod.namespace': kube-system, 'k8s:k8s-app': kube-dns}\n    toPorts:\n    - ports: [{port: '53', protocol: ANY}]\n      rules:\n        dns: [{matchPattern: '*'}]\n";

#[test]
fn cilium_to_fqdns_needs_the_flows_name_and_a_dns_rule_that_sees_its_lookup() {
    // Cilium "DNS based": toFQDNs allows the addresses Cilium learned from DNS answers for a
    // matching name, which it learns only through the DNS proxy, enabled by a
    // toPorts.rules.dns rule on the DNS traffic.
    let fqdn = "  endpointSelector: {}\n  egress:\n  - toFQDNs: [{matchName: hooks.slack.com}]\n    toPorts: [{ports: [{port: '443', protocol: TCP}]}]\n";
    let a = app("acme", "a", "10.0.0.1");
    let hooks = Endpoint::named("hooks.slack.com", ip("34.1.2.3"));
    let without = policies(&cnp("p", fqdn));
    let v = without.evaluate(&Flow::tcp(a.clone(), hooks.clone(), 443));
    match &v.egress {
        Verdict::Denied { hint: Some(h), .. } => assert!(h.contains("DNS rule"), "{h}"),
        other => panic!("denied with a hint expected: {other}"),
    }
    let with = policies(&cnp("p", &format!("{fqdn}{DNS_RULE}")));
    let v = with.evaluate(&Flow::tcp(a.clone(), hooks.clone(), 443));
    assert_eq!(
        v.egress.rules(),
        [rule(
            "p",
            PolicyKind::CiliumNetworkPolicy,
            Direction::Egress,
            0
        )]
    );
    assert!(
        !with.evaluate(&Flow::tcp(a.clone(), hooks, 80)).allowed(),
        "port"
    );
    assert!(
        !with
            .evaluate(&Flow::tcp(a.clone(), world("34.1.2.3"), 443))
            .allowed(),
        "no name: not learned"
    );
    let other = Endpoint::named("evil.example.com", ip("34.1.2.3"));
    assert!(!with.evaluate(&Flow::tcp(a.clone(), other, 443)).allowed());
    // The DNS rule may live in another policy selecting the same pod.
    let split = policies(&format!(
        "{}{}",
        cnp("f", fqdn),
        cnp(
            "dns",
            &format!("  endpointSelector: {{}}\n  egress:\n{DNS_RULE}")
        )
    ));
    assert!(
        split
            .evaluate(&Flow::tcp(
                a,
                Endpoint::named("HOOKS.slack.com.", ip("34.1.2.3")),
                443
            ))
            .allowed(),
        "case and trailing dot"
    );
}

#[test]
fn cilium_match_pattern_wildcards_stay_within_one_label() {
    // Cilium "DNS based": `*` matches DNS characters except '.'; "*" alone matches all names.
    let set = policies(&cnp(
        "p",
        &format!(
            "  endpointSelector: {{}}\n  egress:\n  - toFQDNs: [{{matchPattern: '*.slack.com'}}]\n{DNS_RULE}"
        ),
    ));
    let a = app("acme", "a", "10.0.0.1");
    let ok = |n: &str| {
        set.evaluate(&Flow::tcp(
            a.clone(),
            Endpoint::named(n, ip("34.1.2.3")),
            443,
        ))
        .egress
        .rules()
        .len()
            == 1
    };
    assert!(ok("hooks.slack.com"));
    assert!(!ok("a.b.slack.com"));
    assert!(!ok("slack.com"));
    assert!(!ok("hooks.slack.com.evil.org"));
}

#[test]
fn cilium_dns_rules_are_l7_on_top_of_an_allowed_port() {
    // Cilium "DNS Proxy": the DNS rule's L4 part (port 53 to kube-dns) allows the flow.
    let set = policies(&cnp(
        "p",
        &format!("  endpointSelector: {{}}\n  egress:\n{DNS_RULE}"),
    ));
    let dns = pod("kube-system", &[("k8s-app", "kube-dns")], "10.96.0.10");
    let a = app("acme", "a", "10.0.0.1");
    assert!(
        set.evaluate(&Flow::udp(a.clone(), dns.clone(), 53))
            .allowed()
    );
    assert!(
        set.evaluate(&Flow::tcp(a.clone(), dns.clone(), 53))
            .allowed()
    );
    assert!(!set.evaluate(&Flow::tcp(a, dns, 80)).allowed());
}

#[test]
fn cilium_the_local_host_may_always_reach_its_pods_but_egress_to_it_needs_a_rule() {
    // Cilium intro, "allow-localhost" (default auto): ingress from the local host is allowed.
    let set = policies(&cnp("deny", DEFAULT_DENY));
    let a = app("acme", "a", "10.0.0.1");
    let host = Endpoint::Node {
        name: "n1".into(),
        ip: ip("192.168.1.1"),
    };
    assert!(matches!(
        set.evaluate(&Flow::tcp(host.clone(), a.clone(), 9273))
            .ingress,
        Verdict::Exempt(_)
    ));
    assert!(!set.evaluate(&Flow::tcp(a, host, 10250)).allowed());
}

#[test]
fn cilium_constructs_it_does_not_implement_are_named() {
    let cases = [
        (
            "  endpointSelector: {}\n  egressDeny: [{toEntities: [world]}]",
            "egressDeny",
        ),
        (
            "  endpointSelector: {}\n  egress: [{toServices: [{k8sService: {serviceName: a}}]}]",
            "toServices",
        ),
        (
            "  endpointSelector: {}\n  egress: [{toPorts: [{ports: [{port: '80'}], rules: {http: [{}]}}]}]",
            "http",
        ),
        (
            "  endpointSelector: {matchLabels: {'reserved:host': ''}}\n  egress: [{}]",
            "reserved",
        ),
        (
            "  endpointSelector: {}\n  egress: [{toFQDNs: [{matchPattern: '**.example.com'}]}]",
            "**",
        ),
        (
            "  endpointSelector: {}\n  enableDefaultDeny: {egress: false}",
            "enableDefaultDeny",
        ),
    ];
    for (spec, named) in cases {
        match try_policies(&cnp("p", spec)) {
            Err(Error::Unsupported { construct, .. }) => {
                assert!(construct.contains(named), "{construct}")
            }
            other => panic!("{named}: {other:?}"),
        }
    }
    let ccnp = try_policies(
        "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: p}\nspec: {}\n",
    );
    assert!(matches!(ccnp, Err(Error::Unsupported { .. })));
}

#[test]
fn cilium_rules_cilium_rejects_are_errors() {
    // Cilium's rule sanitising: one kind of L3 peer per rule; toPorts and icmps not together.
    for spec in [
        "  endpointSelector: {}\n  egress: [{toEndpoints: [{}], toCIDR: [10.0.0.0/8]}]",
        "  endpointSelector: {}\n  egress: [{toCIDR: [10.0.0.0/8], toPorts: [{ports: [{port: '1'}]}], icmps: [{fields: [{type: 8}]}]}]",
    ] {
        assert!(
            matches!(try_policies(&cnp("p", spec)), Err(Error::Invalid { .. })),
            "{spec}"
        );
    }
}

#[test]
fn both_sides_must_allow() {
    // K8s and Cilium: a connection needs egress allowed at the source and ingress at the
    // destination.
    let set = policies(&format!(
        "{}{}",
        cnp("deny", DEFAULT_DENY),
        cnp(
            "out",
            "  endpointSelector: {matchLabels: {app: a}}\n  egress: [{toEndpoints: [{matchLabels: {app: b}}]}]"
        )
    ));
    let v = set.evaluate(&Flow::tcp(
        app("acme", "a", "10.0.0.1"),
        app("acme", "b", "10.0.0.2"),
        80,
    ));
    assert!(v.egress.is_allowed());
    assert!(!v.ingress.is_allowed());
    assert!(!v.allowed());
    assert!(v.to_string().contains("denied"), "{v}");
}

#[test]
fn endpoints_from_the_api_servers_pods() {
    let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "c", "namespace": "acme", "labels": {"app": "c"}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [
            {"name": "health", "containerPort": 9273},
            {"name": "trap", "containerPort": 162, "protocol": "UDP"},
            {"containerPort": 80}
        ]}]},
        "status": {"podIP": "10.244.1.7"}
    }))
    .expect("pod");
    let ns: k8s_openapi::api::core::v1::Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "acme", "labels": {"team": "ops"}}
    }))
    .expect("namespace");
    let Some(Endpoint::Pod(p)) = Endpoint::from_kube(&pod, &ns) else {
        panic!("a pod endpoint");
    };
    assert_eq!(p.ip, ip("10.244.1.7"));
    assert_eq!(p.node.as_deref(), Some("n1"));
    assert_eq!(p.labels["app"], "c");
    assert_eq!(p.namespace_labels[NAMESPACE_NAME_LABEL], "acme");
    assert_eq!(p.namespace_labels["team"], "ops");
    assert_eq!(p.named_port("trap", Protocol::Udp), Some(162));
    assert_eq!(p.ports.len(), 2, "unnamed ports cannot be referred to");

    let mut host = pod.clone();
    host.spec.as_mut().expect("spec").host_network = Some(true);
    assert_eq!(
        Endpoint::from_kube(&host, &ns),
        Some(Endpoint::Node {
            name: "n1".into(),
            ip: ip("10.244.1.7")
        })
    );
    let mut pending = pod;
    pending.status = None;
    assert_eq!(Endpoint::from_kube(&pending, &ns), None);
}

#[test]
fn evaluate_all_judges_each_flow_and_finds_the_unused_rules() {
    let set = policies(&np(
        "p",
        "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{port: 53, protocol: UDP}]\n  - ports: [{port: 443}]",
    ));
    let a = app("acme", "a", "10.0.0.1");
    let flows = [
        Flow::udp(a.clone(), world("10.96.0.10"), 53),
        Flow::tcp(a, world("8.8.8.8"), 22),
    ];
    let verdicts = set.evaluate_all(&flows);
    let denied: Vec<&Flow> = verdicts
        .iter()
        .filter(|v| !v.allowed())
        .map(|v| &v.flow)
        .collect();
    assert_eq!(denied, [&flows[1]]);
    assert_eq!(
        set.unused(&verdicts),
        [rule("p", PolicyKind::NetworkPolicy, Direction::Egress, 1)]
    );
}
