//! Names both sides spell: labels, annotation keys, well-known file names and ports. The
//! deployer sets or mounts them, the agent selects on or reads them.

/// The label naming an object's tenant (set by `vigil tenant`, read by the cluster agent's
/// alert routing).
pub const TENANT_LABEL: &str = "vigil.dev/tenant";
/// Standard Kubernetes labels.
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The field manager and `managed-by` value of everything vigil and its agent apply.
pub const MANAGER: &str = "vigil";

/// Pod-template annotation that rolls the pods when their configuration changes.
pub const CONFIG_CHECKSUM_ANNOTATION: &str = "vigil.dev/config-checksum";

/// The agent's `app.kubernetes.io/name`.
pub const AGENT_APP: &str = "vigil-agent";
/// `app.kubernetes.io/component` of the cluster agent's alert-state ConfigMaps.
pub const ALERT_STATE_COMPONENT: &str = "alert-state";
/// On a state ConfigMap: the identity of the agent that wrote it last.
pub const STATE_WRITER_ANNOTATION: &str = "vigil.dev/written-by";
/// On a node agent's state ConfigMap the leader took over while the node was NotReady:
/// the leader's identity. The document left there is empty; the agent, if it comes back,
/// starts afresh from it.
pub const STATE_ADOPTED_ANNOTATION: &str = "vigil.dev/adopted-by";
/// The key of the alert state document in each state ConfigMap: gzip-compressed JSON in
/// `binaryData` under [`STATE_GZ_KEY`]; agents before it wrote plain JSON in `data` under
/// [`STATE_KEY`], which is still read.
pub const STATE_KEY: &str = "state.json";
pub const STATE_GZ_KEY: &str = "state.json.gz";

/// The tenant collector's configuration and alerting files (keys of its ConfigMap).
pub const COLLECTOR_CONFIG_FILE: &str = "collector.yaml";
pub const COLLECTOR_ALERTS_FILE: &str = "alerts.yaml";

/// `/healthz`, `/readyz` and `/metrics` of a collector and of the cluster agent.
pub const HEALTH_PORT: u16 = 9273;
