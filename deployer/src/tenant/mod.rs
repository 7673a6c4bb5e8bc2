//! The tenant pipeline: [`spec`] (read) → [`validate`] (check) → [`build`] (objects, no client)
//! → [`apply`] (server-side apply, pruning) → [`status`]; plus [`delete`] and [`wait`].

pub mod apply;
pub mod build;
pub mod credentials;
pub mod delete;
pub mod inventory;
pub mod spec;
pub mod status;
pub mod validate;
pub mod wait;

use std::path::{Path, PathBuf};

/// Errors loading a tenant file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read tenant file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Spec(#[from] spec::Error),
    #[error(transparent)]
    Invalid(#[from] validate::Error),
}

/// A parsed tenant file with where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    pub origin: String,
    pub file: spec::TenantFile,
    /// Directory relative credential file references are taken from.
    pub base: PathBuf,
    /// Relaxations from the command line.
    pub options: validate::Options,
}

impl Source {
    /// Reads and parses a tenant file (`-` reads standard input).
    pub fn read(path: &Path) -> Result<Self, LoadError> {
        let origin = path.display().to_string();
        let text = if origin == "-" {
            std::io::read_to_string(std::io::stdin())
        } else {
            std::fs::read_to_string(path)
        }
        .map_err(|source| LoadError::Read {
            path: origin.clone(),
            source,
        })?;
        let file = spec::parse(&origin, &text)?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty() && origin != "-")
            .unwrap_or(Path::new("."));
        let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
        Ok(Self {
            origin,
            file,
            base,
            options: validate::Options::default(),
        })
    }

    /// A tenant described on the command line.
    pub fn from_flags(file: spec::TenantFile) -> Self {
        let base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Self {
            origin: "command line".into(),
            file,
            base,
            options: validate::Options::default(),
        }
    }

    pub fn validate(&self) -> Result<validate::Tenant, LoadError> {
        Ok(validate::validate_with(
            &self.origin,
            &self.file,
            &self.base,
            self.options,
        )?)
    }
}
