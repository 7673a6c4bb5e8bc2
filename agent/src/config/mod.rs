//! The agent's configuration: one YAML file (devices, profiles, output), validated on
//! load into the types below. Unknown fields are rejected with their location; secrets
//! are only referenced (env var or file) and held redacted.
pub mod alerting;
mod resolve;

/// The file as written: its types are the contract shared with the deployer and
/// `import-telegraf`; [`resolve`] turns them into the validated [`Config`].
pub use vigil_contract::collector as raw;
pub use vigil_contract::units;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use crate::secret::{Resolve, Secret, SecretRef};
pub use crate::sources::Device;

// Each component owns its settings (as vector keeps a `config.rs` beside each); this module
// gathers them and resolves defaults.
pub use crate::sinks::influxdb::config::{InfluxApi, InfluxSettings};
pub use crate::sources::icmp::config::IcmpSettings;
pub use crate::sources::snmp::config::{AuthProtocol, PrivProtocol, SnmpCredentials, SnmpSettings};
pub use crate::spool::SpoolSettings;

/// Errors while loading a configuration. Each names the file and the location in it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {location}: {message}")]
    Invalid {
        path: PathBuf,
        location: String,
        message: String,
    },
}

pub use vigil_contract::shard::{Shard, ShardError};

#[derive(Debug, Clone)]
pub struct Config {
    pub agent: AgentSettings,
    pub spool: SpoolSettings,
    pub output: Option<InfluxSettings>,
    pub devices: Vec<Arc<Device>>,
}

#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub name: String,
    pub listen: Option<String>,
    pub concurrency: usize,
    pub self_metrics_interval: Duration,
    pub icmp_rate: u32,
    /// The device alerting configuration file (cluster agent format), if any.
    pub alerts: Option<PathBuf>,
    pub tenant: Option<String>,
}

impl Config {
    /// Reads, parses and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates configuration text; `path` is used for messages and to
    /// resolve relative profile files.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: raw::Config = serde_norway::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::resolve(raw, path)
    }

    /// Validates a configuration as read (defaults applied, secrets read); `path` is used
    /// for messages and to resolve relative profile files.
    pub fn resolve(raw: raw::Config, path: &Path) -> Result<Config, ConfigError> {
        resolve::resolve(raw, path)
    }

    pub fn device(&self, name: &str) -> Option<&Arc<Device>> {
        self.devices.iter().find(|d| d.name == name)
    }

    /// Keeps the devices `shard` polls (rendezvous hashing of their names, the same answer
    /// in every shard). With more than one shard the agent is named `<name>-<index>`, so
    /// its own metrics (`vigil_agent`, `vigil_poll`) tell the shards apart; device points
    /// are the same whichever shard polls them.
    pub fn shard(mut self, shard: Shard) -> Config {
        self.devices.retain(|d| shard.owns(&d.name));
        if shard.count > 1 {
            self.agent.name = format!("{}-{}", self.agent.name, shard.index);
        }
        self
    }
}

#[cfg(test)]
mod tests;
