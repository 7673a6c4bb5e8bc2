//! `vigil-agent import-telegraf`: converts a Telegraf configuration's `[[inputs.snmp]]`
//! (agents, community or v3 settings, fields, tables) and `[[inputs.ping]]` sections, and
//! its InfluxDB output, into a vigil configuration. Secrets are not copied: each becomes
//! an `{env: NAME}` reference, and the report says which variables to set. Everything
//! that could not be converted is reported.
mod convert;

use std::path::{Path, PathBuf};

pub use convert::convert;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not valid TOML: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("{path}: cannot render YAML")]
    Render {
        path: PathBuf,
        #[source]
        source: serde_norway::Error,
    },
}

/// The converted configuration and the report.
#[derive(Debug, Default)]
pub struct Imported {
    pub yaml: String,
    /// Things that were not converted, with their location.
    pub warnings: Vec<String>,
    /// Environment variables the user has to set (name and what to put there).
    pub secrets: Vec<String>,
}

pub fn import_file(path: &Path) -> Result<Imported, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let value: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ImportError::Toml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    convert(&value).map_err(|source| ImportError::Render {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests;
