//! Command-line arguments (clap).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use super::agent::AgentCommand;
use crate::tenant::validate::PolicyMode;

/// Per-tenant monitoring stacks on Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "vigil", version, about)]
pub struct Cli {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Log more (-v: debug, -vv: trace). Logs go to standard error.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// CiliumNetworkPolicy group/version required of the cluster.
    #[arg(long, global = true, hide = true, env = "VIGIL_CILIUM_API_VERSION", default_value = crate::tenant::build::CILIUM_API_VERSION)]
    pub cilium_api_version: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage tenants: one isolated monitoring stack per client.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Install and manage the cluster agent (one vigil-agent per node).
    #[command(subcommand)]
    Agent(AgentCommand),
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant from flags (fails if it exists; change it with `apply -f`).
    Create(CreateArgs),
    /// Create or update a tenant from its file (the declarative interface).
    Apply(ApplyArgs),
    /// Print every manifest of a tenant as multi-document YAML; no cluster needed.
    Render(RenderArgs),
    /// Remove a tenant's workloads, config and policies; keeps data unless --purge.
    Delete(DeleteArgs),
    /// List tenants.
    List(OutputArgs),
    /// Show a tenant's components, volumes, URL and drift.
    Status(StatusArgs),
    /// Print the Grafana admin login of a tenant.
    Credentials(NameArg),
}

#[derive(Debug, Args)]
pub struct NameArg {
    /// Tenant name (also its namespace).
    pub name: String,
}

/// The simple-case spec fields as flags.
#[derive(Debug, Args, Default)]
pub struct SpecFlags {
    /// Human-readable name shown in `list`.
    #[arg(long)]
    pub display_name: Option<String>,
    /// StorageClass of both volumes (default: the cluster's default class).
    #[arg(long)]
    pub storage_class: Option<String>,
    /// InfluxDB volume size.
    #[arg(long, value_name = "QUANTITY")]
    pub influxdb_storage: Option<String>,
    /// Grafana volume size.
    #[arg(long, value_name = "QUANTITY")]
    pub grafana_storage: Option<String>,
    /// How long InfluxDB keeps data, e.g. 30d.
    #[arg(long, value_name = "DURATION")]
    pub retention: Option<String>,
    /// Resource profile: small, medium or large.
    #[arg(long)]
    pub profile: Option<String>,
    /// Expose Grafana at this host through an Ingress.
    #[arg(long, value_name = "HOST")]
    pub ingress_host: Option<String>,
    /// TLS Secret for the Ingress.
    #[arg(long, value_name = "SECRET", requires = "ingress_host")]
    pub ingress_tls_secret: Option<String>,
    /// IngressClass for the Ingress.
    #[arg(long, value_name = "CLASS", requires = "ingress_host")]
    pub ingress_class: Option<String>,
    /// A network the collector may poll (repeat for more).
    #[arg(long = "device-cidr", value_name = "CIDR")]
    pub device_cidrs: Vec<String>,
    /// Seconds a pod stays on a failed node before it moves (default 30).
    #[arg(long, value_name = "SECONDS")]
    pub toleration_seconds: Option<i64>,
    /// Only schedule on nodes with this label (repeat for more).
    #[arg(long = "node-selector", value_name = "KEY=VALUE", value_parser = key_value)]
    pub node_selector: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct PolicyFlag {
    /// Network policy flavour; overrides the spec's networkPolicy.mode.
    #[arg(long, value_enum)]
    pub network_policy: Option<PolicyMode>,
    /// Accept device CIDRs that are very broad (shorter than /8, or /16 for IPv6) or reach
    /// into loopback, link-local or the cluster's own pod and service ranges.
    #[arg(long)]
    pub allow_broad_cidrs: bool,
}

#[derive(Debug, Args)]
pub struct WaitFlag {
    /// Wait until pods are Ready and volumes Bound (default timeout 5m).
    #[arg(long, value_name = "DURATION", num_args = 0..=1, default_missing_value = "5m", value_parser = duration)]
    pub wait: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    pub name: String,
    #[command(flatten)]
    pub spec: SpecFlags,
    #[command(flatten)]
    pub policy: PolicyFlag,
    #[command(flatten)]
    pub wait: WaitFlag,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Tenant files or directories of them (`*.yaml`, `*.yml`); `-` reads standard input.
    /// Repeatable; every file is validated before anything is applied.
    #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Apply this many tenants at the same time.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
    #[command(flatten)]
    pub policy: PolicyFlag,
    #[command(flatten)]
    pub wait: WaitFlag,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Tenant name, for a tenant described by flags.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub name: Option<String>,
    /// The tenant file (`-` for standard input).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub spec: SpecFlags,
    #[command(flatten)]
    pub policy: PolicyFlag,
    /// Target Kubernetes version; before 1.21 PodDisruptionBudgets use policy/v1beta1.
    #[arg(long, value_name = "MAJOR.MINOR", default_value = "1.33")]
    pub kube_version: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    pub name: String,
    /// Also delete the namespace with its volumes and Secrets (asks for the tenant name).
    #[arg(long)]
    pub purge: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub wait: WaitFlag,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    #[default]
    Table,
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    pub name: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub(super) fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

/// `90s`, `5m`, `1h`.
pub fn duration(s: &str) -> Result<Duration, String> {
    crate::tenant::validate::Duration::parse(s)
        .map(|d| Duration::from_secs(d.secs()))
        .ok_or_else(|| format!("{s:?} is not a duration such as 90s, 5m or 1h"))
}
