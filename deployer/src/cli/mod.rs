//! The `vigil` command line: parses arguments, runs one command, prints its result.

mod agent;
mod apply_many;
pub mod args;
mod commands;
mod flags;
mod output;
mod progress;

pub use args::Cli;

use crate::cluster;
use crate::tenant::{self, apply, wait};

/// Errors of one command; [`Error::exit_code`] says 1 (runtime) or 2 (input).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Load(#[from] tenant::LoadError),
    #[error(transparent)]
    Apply(#[from] apply::Error),
    #[error(transparent)]
    Wait(#[from] wait::WaitError),
    #[error(transparent)]
    Cluster(#[from] cluster::Error),
    #[error(transparent)]
    Build(#[from] tenant::build::Error),
    #[error(transparent)]
    Object(#[from] crate::kube::ObjectError),
    #[error(transparent)]
    Agent(Box<crate::agent::apply::Error>),
    #[error(transparent)]
    AgentWait(Box<crate::agent::status::WaitError>),
    /// Invalid agent flags or files (every problem listed).
    #[error(transparent)]
    AgentInput(#[from] tenant::validate::Error),
    /// Wrong usage that clap cannot see (e.g. a purge without confirmation).
    #[error("{0}")]
    Usage(String),
    #[error("writing output")]
    Output(#[from] std::io::Error),
    #[error("encoding output as JSON")]
    EncodeJson(#[source] serde_json::Error),
    #[error("encoding output as YAML")]
    EncodeYaml(#[source] serde_norway::Error),
}

impl Error {
    /// 2 for invalid input or usage, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Load(_)
            | Self::Usage(_)
            | Self::AgentInput(_)
            | Self::Apply(apply::Error::Credentials(_) | apply::Error::ClusterRange { .. }) => 2,
            Self::Agent(e) if matches!(**e, crate::agent::apply::Error::Input(_)) => 2,
            _ => 1,
        }
    }
}

impl From<crate::agent::apply::Error> for Error {
    fn from(e: crate::agent::apply::Error) -> Self {
        Self::Agent(Box::new(e))
    }
}

impl From<crate::agent::status::WaitError> for Error {
    fn from(e: crate::agent::status::WaitError) -> Self {
        Self::AgentWait(Box::new(e))
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), Error> {
    commands::run(cli).await
}
