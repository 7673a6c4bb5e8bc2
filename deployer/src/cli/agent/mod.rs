//! `vigil agent install|upgrade|uninstall|render|status`.

mod print;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use kube::Client;

use super::args::{OutputArgs, WaitFlag, duration, key_value};
use super::progress::Progress;
use super::{Error, output};
use crate::agent::apply::{self, Upgrade};
use crate::agent::build;
use crate::agent::spec::{self, DEFAULT_NAMESPACE, IcmpMode, Request};
use crate::agent::status;
use crate::agent::uninstall;
use crate::cluster::{self, Target};

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Install (or converge) the cluster agent: DaemonSet, RBAC, config, Slack Secret.
    Install(InstallArgs),
    /// Change the image and/or configuration of an installed agent; rolls node by node.
    Upgrade(UpgradeArgs),
    /// Remove everything the install created (its namespace included), nothing else.
    Uninstall(UninstallArgs),
    /// Print the agent's manifests as multi-document YAML; no cluster needed.
    Render(RenderArgs),
    /// Per-node agent health, the current leader and the last Slack delivery.
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct NamespaceArg {
    /// The agent's namespace (created and owned by the install).
    #[arg(short, long, default_value = DEFAULT_NAMESPACE)]
    pub namespace: String,
}

/// Slack credentials by reference only: a value never goes on the command line.
#[derive(Debug, Args, Default)]
pub struct SlackArgs {
    /// Default channel for cluster alerts and unrouted tenant alerts (bot token transport).
    #[arg(long, value_name = "CHANNEL")]
    pub slack_channel: Option<String>,
    /// File holding the Slack incoming-webhook URL.
    #[arg(long, value_name = "PATH", conflicts_with = "slack_webhook_env")]
    pub slack_webhook_file: Option<PathBuf>,
    /// Environment variable holding the Slack incoming-webhook URL.
    #[arg(long, value_name = "VAR")]
    pub slack_webhook_env: Option<String>,
    /// File holding the Slack bot token (xoxb-…).
    #[arg(long, value_name = "PATH", conflicts_with = "slack_token_env")]
    pub slack_token_file: Option<PathBuf>,
    /// Environment variable holding the Slack bot token.
    #[arg(long, value_name = "VAR")]
    pub slack_token_env: Option<String>,
    /// A tenant's own incoming webhook, from a file (repeat for more tenants).
    #[arg(long, value_name = "TENANT=PATH", value_parser = key_value)]
    pub slack_tenant_webhook_file: Vec<(String, String)>,
    /// A tenant's own incoming webhook, from an environment variable (repeatable).
    #[arg(long, value_name = "TENANT=VAR", value_parser = key_value)]
    pub slack_tenant_webhook_env: Vec<(String, String)>,
    /// Copy every tenant's webhook (its spec.alerts.slack.webhook, stored by `vigil tenant`).
    #[arg(long)]
    pub slack_tenant_webhooks_from_tenants: bool,
}

#[derive(Debug, Args)]
pub struct SettingsArgs {
    #[command(flatten)]
    pub namespace: NamespaceArg,
    /// vigil-agent image, repository:tag or repository@sha256:digest.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// vigil-agent's alerting settings (rules, maintenance, digest, tenant routes; YAML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// ICMP for the agent: unprivileged through a sysctl, the NET_RAW capability, or off.
    #[arg(long, value_enum, default_value_t)]
    pub icmp: IcmpMode,
    /// Nodes upgraded at a time: a number or a percentage.
    #[arg(long, value_name = "N|N%")]
    pub max_unavailable: Option<String>,
    /// Only nodes with this label (repeat for more; default: every Linux node).
    #[arg(long = "node-selector", value_name = "KEY=VALUE", value_parser = key_value)]
    pub node_selector: Vec<(String, String)>,
    /// Value of the agent's PriorityClass.
    #[arg(long, value_name = "VALUE")]
    pub priority: Option<i32>,
    /// Opt-in: the leader force-deletes vigil's tenant pods (collectors, or all of their
    /// components) and their volume attachments on a node NotReady for 60 s, so they start
    /// elsewhere. Risky on a node that is only partitioned: see docs/install.md.
    #[arg(long, value_enum, default_value_t)]
    pub fencing: FencingArg,
    #[command(flatten)]
    pub slack: SlackArgs,
}

/// `--fencing`.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum FencingArg {
    #[default]
    Off,
    Collectors,
    All,
}

impl From<FencingArg> for spec::FencingMode {
    fn from(f: FencingArg) -> Self {
        match f {
            FencingArg::Off => spec::FencingMode::Off,
            FencingArg::Collectors => spec::FencingMode::Collectors,
            FencingArg::All => spec::FencingMode::All,
        }
    }
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(flatten)]
    pub wait: WaitFlag,
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    #[command(flatten)]
    pub namespace: NamespaceArg,
    /// The new vigil-agent image.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// New alerting settings (replace the installed ones).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub slack: SlackArgs,
    #[command(flatten)]
    pub wait: WaitFlag,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    #[command(flatten)]
    pub namespace: NamespaceArg,
    /// How long to wait for the namespace to be gone.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration)]
    pub timeout: Duration,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Target Kubernetes version (ICMP `auto` uses the sysctl from 1.18 on).
    #[arg(long, value_name = "MAJOR.MINOR", default_value = "1.33")]
    pub kube_version: String,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub namespace: NamespaceArg,
    #[command(flatten)]
    pub output: OutputArgs,
}

fn request(a: &SettingsArgs) -> Request {
    Request {
        namespace: a.namespace.namespace.clone(),
        image: a.image.clone(),
        config: a.config.clone(),
        icmp: a.icmp,
        max_unavailable: a.max_unavailable.clone(),
        node_selector: a.node_selector.clone(),
        priority: a.priority,
        fencing: a.fencing.into(),
        slack_channel: a.slack.slack_channel.clone(),
        slack_webhook_file: a.slack.slack_webhook_file.clone(),
        slack_webhook_env: a.slack.slack_webhook_env.clone(),
        slack_token_file: a.slack.slack_token_file.clone(),
        slack_token_env: a.slack.slack_token_env.clone(),
        slack_tenant_webhook_files: a.slack.slack_tenant_webhook_file.clone(),
        slack_tenant_webhook_envs: a.slack.slack_tenant_webhook_env.clone(),
    }
}

pub async fn run(out: &mut impl Write, target: &Target, cmd: AgentCommand) -> Result<(), Error> {
    match cmd {
        AgentCommand::Render(a) => render(out, a),
        AgentCommand::Install(a) => {
            let (settings, refs) = spec::validate(&request(&a.settings))?;
            // Credentials are read before connecting: an unreadable one applies nothing.
            let mut credentials = refs.read()?;
            let client = cluster::client(target).await?;
            if a.settings.slack.slack_tenant_webhooks_from_tenants {
                import_tenant_webhooks(out, &client, &mut credentials).await?;
            }
            let report = apply::install(&client, settings, credentials).await?;
            print::report(out, &report)?;
            wait(out, &client, &report.namespace, a.wait.wait).await
        }
        AgentCommand::Upgrade(a) => {
            let ns = spec::namespace("--namespace", &a.namespace.namespace)
                .map_err(|p| invalid(vec![p]))?;
            let r = Request {
                namespace: ns.clone(),
                image: a.image.clone(),
                config: a.config.clone(),
                slack_channel: a.slack.slack_channel.clone(),
                slack_webhook_file: a.slack.slack_webhook_file.clone(),
                slack_webhook_env: a.slack.slack_webhook_env.clone(),
                slack_token_file: a.slack.slack_token_file.clone(),
                slack_token_env: a.slack.slack_token_env.clone(),
                slack_tenant_webhook_files: a.slack.slack_tenant_webhook_file.clone(),
                slack_tenant_webhook_envs: a.slack.slack_tenant_webhook_env.clone(),
                ..Default::default()
            };
            if r.image.is_none()
                && r.config.is_none()
                && r.slack_channel.is_none()
                && r.slack_webhook_file.is_none()
                && r.slack_webhook_env.is_none()
                && r.slack_token_file.is_none()
                && r.slack_token_env.is_none()
                && r.slack_tenant_webhook_files.is_empty()
                && r.slack_tenant_webhook_envs.is_empty()
                && !a.slack.slack_tenant_webhooks_from_tenants
            {
                return Err(Error::Usage(
                    "nothing to upgrade: give --image, --config or new Slack credentials".into(),
                ));
            }
            let image_given = r.image.is_some();
            let (checked, refs) = spec::validate(&r)?;
            let mut credentials = refs.read()?;
            let client = cluster::client(target).await?;
            if a.slack.slack_tenant_webhooks_from_tenants {
                import_tenant_webhooks(out, &client, &mut credentials).await?;
            }
            let u = Upgrade {
                image: image_given.then(|| checked.image.clone()),
                alerting: a.config.is_some().then(|| checked.alerting.clone()),
                slack_channel: checked.slack.channel.clone(),
                credentials,
            };
            let report = apply::upgrade(&client, &ns, &u).await?;
            print::report(out, &report)?;
            wait(out, &client, &ns, a.wait.wait).await
        }
        AgentCommand::Uninstall(a) => {
            let ns = spec::namespace("--namespace", &a.namespace.namespace)
                .map_err(|p| invalid(vec![p]))?;
            let client = cluster::client(target).await?;
            let (mut deleted, ns_exists) = uninstall::uninstall(&client, &ns).await?;
            for d in &deleted {
                writeln!(out, "{d} deleted")?;
            }
            if ns_exists {
                let mut progress = Progress::new();
                let result =
                    uninstall::wait_gone(&client, &ns, a.timeout, |e| progress.deleting(&ns, e))
                        .await;
                progress.finish();
                result?;
                writeln!(out, "namespace/{ns} deleted")?;
                deleted.push(format!("namespace/{ns}"));
            }
            if deleted.is_empty() {
                writeln!(
                    out,
                    "vigil agent was not installed in namespace {ns}; nothing to delete"
                )?;
            } else {
                writeln!(out, "vigil agent uninstalled from namespace {ns}")?;
            }
            Ok(())
        }
        AgentCommand::Status(a) => {
            let client = cluster::client(target).await?;
            let s = status::status(&client, &a.namespace.namespace).await?;
            if !output::structured(out, a.output.output, &s)? {
                print::status(out, &s)?;
            }
            Ok(())
        }
    }
}

/// Adds the webhooks `vigil tenant` stored for each tenant (explicit flags win).
async fn import_tenant_webhooks(
    out: &mut impl Write,
    client: &Client,
    credentials: &mut crate::agent::spec::Credentials,
) -> Result<(), Error> {
    let found = crate::agent::tenants::webhooks(client).await?;
    for (tenant, webhook) in found {
        if let std::collections::btree_map::Entry::Vacant(e) =
            credentials.tenant_webhooks.entry(tenant)
        {
            writeln!(out, "tenant {}: its Slack webhook is routed", e.key())?;
            e.insert(webhook);
        }
    }
    Ok(())
}

fn invalid(problems: Vec<crate::input::Problem>) -> Error {
    Error::AgentInput(crate::tenant::validate::Error {
        origin: "command line".into(),
        problems,
    })
}

fn render(out: &mut impl Write, a: RenderArgs) -> Result<(), Error> {
    let minor = super::flags::kube_minor(&a.kube_version)?;
    let (mut settings, _) = spec::validate(&request(&a.settings))?;
    settings.icmp = settings.icmp.resolve(minor);
    if settings.slack.any() {
        spec::check_slack(&settings)?;
    }
    let objects = build::manifests(&settings, None)?;
    writeln!(
        out,
        "# vigil agent in namespace {}: {} objects.{}",
        settings.namespace,
        objects.len(),
        if settings.slack.any() {
            format!(
                " The Slack Secret ({}) is created by `vigil agent install` and never rendered.",
                build::SLACK_SECRET
            )
        } else {
            " No Slack destination: `vigil agent install` needs --slack-webhook-file/-env or \
             --slack-token-file/-env with --slack-channel."
                .to_owned()
        }
    )?;
    let yaml = crate::kube::to_yaml(&objects).map_err(Error::EncodeYaml)?;
    write!(out, "{yaml}")?;
    Ok(())
}

async fn wait(
    out: &mut impl Write,
    client: &Client,
    namespace: &str,
    timeout: Option<Duration>,
) -> Result<(), Error> {
    let Some(timeout) = timeout else {
        return Ok(());
    };
    let mut progress = Progress::new();
    let result = status::wait_rollout(client, namespace, timeout, |r| {
        progress.line(format!(
            "vigil agent: {}/{} nodes updated, {} available",
            r.updated, r.desired, r.available
        ))
    })
    .await;
    progress.finish();
    result?;
    writeln!(out, "vigil agent is running on every node")?;
    Ok(())
}
