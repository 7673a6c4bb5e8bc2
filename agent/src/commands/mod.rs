//! The subcommands behind `vigil-agent`. `main.rs` only parses arguments and maps
//! [`CommandError`] to exit codes: 2 for bad input (configuration, files), 1 otherwise.
pub mod alerting;
mod check;
mod cluster;
mod once;
mod run;

pub use check::check_config;
pub use cluster::cluster;
pub use once::once;
pub use run::run;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The user's input is wrong: exit code 2.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error("kubeconfig {path}")]
    Kubeconfig {
        path: std::path::PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// Something failed at run time: exit code 1.
    #[error(transparent)]
    Output(#[from] crate::sinks::influxdb::OutputError),
    #[error(transparent)]
    Icmp(#[from] crate::sources::icmp::IcmpError),
    #[error(transparent)]
    Alerting(#[from] alerting::AlertingError),
    #[error("slack templates")]
    Templates(#[source] crate::sinks::slack::render::RenderError),
    #[error("cannot listen on {addr}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot configure the kubernetes client")]
    KubeConfig(#[source] kube::config::KubeconfigError),
    /// Neither in-cluster nor `$KUBECONFIG` settings could be read.
    #[error("cannot configure the kubernetes client")]
    KubeInfer(#[source] kube::config::InferConfigError),
    #[error("cannot build the kubernetes client")]
    KubeClient(#[source] kube::Error),
}

/// Resolves on SIGTERM (how Kubernetes stops a pod) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

impl CommandError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Config(_)
            | CommandError::Usage(_)
            | CommandError::Kubeconfig { .. }
            | CommandError::Templates(_)
            | CommandError::Alerting(
                alerting::AlertingError::NoStateFile | alerting::AlertingError::Templates(_),
            ) => 2,
            CommandError::Output(_)
            | CommandError::Icmp(_)
            | CommandError::Alerting(_)
            | CommandError::Listen { .. }
            | CommandError::KubeConfig(_)
            | CommandError::KubeInfer(_)
            | CommandError::KubeClient(_) => 1,
        }
    }
}
