//! vigil-agent: the tenant collector (SNMP and ICMP into InfluxDB) and the cluster agent
//! (`cluster`: pod, node, workload and storage health to Slack).
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use vigil_agent::commands::{self, CommandError};
use vigil_agent::config::{Config, Shard, ShardError};

/// vigil's collector: polls SNMP v2c/v3 and ICMP and writes to InfluxDB.
#[derive(Parser)]
#[command(name = "vigil-agent", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the collector until SIGTERM.
    Run {
        #[arg(long)]
        config: PathBuf,
        #[command(flatten)]
        shard: ShardArgs,
        /// Stop after this long (e.g. `90s`, `5m`) and print a summary of what was collected.
        #[arg(long = "for", value_parser = parse_for)]
        stop_after: Option<std::time::Duration>,
    },
    /// One collection cycle, printed as InfluxDB line protocol; nothing is written.
    Once {
        #[arg(long)]
        config: PathBuf,
        /// Only this device.
        #[arg(long)]
        device: Option<String>,
        #[command(flatten)]
        shard: ShardArgs,
    },
    /// Run the cluster agent: pod, node, workload and storage health to Slack.
    Cluster {
        #[arg(long)]
        config: PathBuf,
        /// This agent's node (DaemonSet: from the downward API); omit to run standalone.
        #[arg(long, env = "NODE_NAME")]
        node: Option<String>,
        /// Identity in the leader election (default: the node name).
        #[arg(long, env = "POD_NAME")]
        identity: Option<String>,
        /// Only validate the configuration and print a summary.
        #[arg(long)]
        check: bool,
    },
    /// Validate a configuration file.
    CheckConfig { file: PathBuf },
    /// Convert a Telegraf config's [[inputs.snmp]] and [[inputs.ping]] into vigil devices.
    ImportTelegraf { file: PathBuf },
}

/// Which devices this collector polls: all, or one shard's (rendezvous hashing of the
/// device names, so N collectors with the same configuration split the devices).
#[derive(clap::Args)]
struct ShardArgs {
    /// Poll only shard K of N (e.g. `0/3`).
    #[arg(long, env = "VIGIL_SHARD", conflicts_with = "shards")]
    shard: Option<String>,
    /// The number of shards; this collector's index is its pod name's ordinal (a
    /// StatefulSet's `NAME-collector-K`, from `POD_NAME`).
    #[arg(long, env = "VIGIL_SHARDS")]
    shards: Option<u32>,
    #[arg(long, env = "POD_NAME", hide = true)]
    pod_name: Option<String>,
}

impl ShardArgs {
    fn resolve(&self) -> Result<Shard, ShardError> {
        match (&self.shard, self.shards) {
            (Some(s), _) => Shard::parse(s),
            (None, Some(n)) => match &self.pod_name {
                Some(pod) => Shard::from_pod(pod, n),
                None => Err(ShardError::PodName(String::new())),
            },
            (None, None) => Ok(Shard::ALL),
        }
    }
}

fn parse_for(s: &str) -> Result<std::time::Duration, vigil_agent::config::units::UnitError> {
    vigil_agent::config::units::parse_duration(s)
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    // colours only on a terminal: a pod's log or a file gets plain `key=value` text
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")
}

fn exec(cli: Cli) -> Result<(), (u8, anyhow::Error)> {
    let fail = |e: CommandError| (e.exit_code(), anyhow::Error::new(e));
    let rt = || runtime().map_err(|e| (1, e));
    match cli.command {
        Command::Run {
            config,
            shard,
            stop_after,
        } => {
            let shard = shard.resolve().map_err(|e| (2, anyhow::Error::new(e)))?;
            let c = Config::load(&config)
                .map_err(|e| fail(e.into()))?
                .shard(shard);
            if shard.count > 1 {
                tracing::info!(shard = %shard, devices = c.devices.len(), "polling this shard's devices");
            }
            let summary = rt()?.block_on(commands::run(c, stop_after)).map_err(fail)?;
            if stop_after.is_some() {
                print!("{summary}");
            }
            Ok(())
        }
        Command::Once {
            config,
            device,
            shard,
        } => {
            let shard = shard.resolve().map_err(|e| (2, anyhow::Error::new(e)))?;
            let c = Config::load(&config)
                .map_err(|e| fail(e.into()))?
                .shard(shard);
            let (text, errors) = rt()?
                .block_on(commands::once(&c, device.as_deref()))
                .map_err(fail)?;
            print!("{text}");
            for (dev, err) in &errors {
                eprintln!("device {dev}: {err}");
            }
            if errors.is_empty() {
                Ok(())
            } else {
                Err((1, anyhow::anyhow!("{} device poll(s) failed", errors.len())))
            }
        }
        Command::Cluster {
            config,
            node,
            identity,
            check,
        } => {
            let c = vigil_agent::config::alerting::AlertingConfig::load(&config)
                .map_err(|e| fail(e.into()))?;
            if check {
                println!(
                    "{}: ok ({} tenant route(s), {} maintenance window(s), state in {})",
                    config.display(),
                    c.routes.tenants.len(),
                    c.engine.windows.len(),
                    c.state_file
                        .as_ref()
                        .map_or(format!("configmaps in {}", c.namespace), |p| p
                            .display()
                            .to_string())
                );
                return Ok(());
            }
            rt()?
                .block_on(commands::cluster(c, node, identity))
                .map_err(fail)
        }
        Command::CheckConfig { file } => {
            println!("{}", commands::check_config(&file).map_err(fail)?);
            Ok(())
        }
        Command::ImportTelegraf { file } => {
            let out = vigil_agent::telegraf::import_file(&file)
                .map_err(|e| (2, anyhow::Error::new(e)))?;
            print!("{}", out.yaml);
            for w in &out.warnings {
                eprintln!("not converted: {w}");
            }
            for s in &out.secrets {
                eprintln!("secret: {s}");
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    init_tracing();
    match exec(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}
