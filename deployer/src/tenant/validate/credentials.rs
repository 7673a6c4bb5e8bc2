//! References to secret values (`{env: NAME}` / `{file: PATH}`) and reading them.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Problem, Redacted};
use crate::tenant::spec::SecretRef;

/// A checked reference: exactly one source, a valid variable name, an absolute path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CredentialRef {
    Env(String),
    File(PathBuf),
}

impl CredentialRef {
    /// `base` is the directory of the tenant file; relative paths are taken from there.
    pub fn parse(path: &str, raw: &SecretRef, base: &Path) -> Result<Self, Problem> {
        match (&raw.env, &raw.file) {
            (Some(var), None) => {
                let ok = !var.is_empty()
                    && !var.as_bytes()[0].is_ascii_digit()
                    && var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if ok {
                    Ok(Self::Env(var.clone()))
                } else {
                    Err(Problem::new(
                        path,
                        format!("{var:?} is not an environment variable name"),
                        "use letters, digits and '_', not starting with a digit, e.g. {env: ACME_SNMP_COMMUNITY}",
                    ))
                }
            }
            (None, Some(file)) if !file.as_os_str().is_empty() => Ok(Self::File(base.join(file))),
            _ => Err(Problem::new(
                path,
                "a secret reference needs exactly one of env or file",
                "write {env: VARIABLE} or {file: /path/to/file}",
            )),
        }
    }

    /// Reads the value now; an unreadable or empty source is the operator's input error.
    pub fn read(&self, path: &str) -> Result<Redacted, Problem> {
        let value = match self {
            Self::Env(var) => std::env::var(var).map_err(|_| {
                Problem::new(
                    path,
                    format!("environment variable {var} is not set (or not valid UTF-8)"),
                    format!("export {var} before running vigil, or reference a file instead"),
                )
            })?,
            Self::File(file) => std::fs::read_to_string(file)
                .map_err(|e| {
                    Problem::new(
                        path,
                        format!("cannot read {}: {e}", file.display()),
                        "make the file readable by the user running vigil, or fix the path (relative paths are taken from the tenant file's directory)",
                    )
                })?
                .trim_end_matches(['\n', '\r'])
                .to_owned(),
        };
        if value.is_empty() {
            return Err(Problem::new(
                path,
                format!("{self} is empty"),
                "put the secret value in it",
            ));
        }
        Ok(Redacted::new(value))
    }
}

impl fmt::Display for CredentialRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(var) => write!(f, "environment variable {var}"),
            Self::File(p) => write!(f, "file {}", p.display()),
        }
    }
}
