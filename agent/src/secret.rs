//! Secrets are never written into the configuration: it names an environment variable or
//! a file ([`SecretRef`], part of the contract), and the value is held in [`Secret`], whose
//! `Debug` and `Display` are redacted.
use std::fmt;
use std::path::PathBuf;

pub use vigil_contract::SecretRef;

/// A resolved secret value. It can only be read through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why a [`SecretRef`] could not be read. No variant carries the value, not even a
/// value that is not UTF-8 (that is why [`std::env::VarError`] is not kept as a source: it
/// prints the value).
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {name} is not set; export it or use {{file: PATH}}")]
    EnvUnset { name: String },
    #[error("environment variable {name} is not valid UTF-8")]
    EnvNotUnicode { name: String },
    #[error("environment variable {name} is empty")]
    EnvEmpty { name: String },
    #[error("cannot read secret file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("secret file {} is empty", path.display())]
    FileEmpty { path: PathBuf },
}

/// Reading the value a [`SecretRef`] names.
pub trait Resolve {
    /// Reads the value. A file's trailing newline is removed (as written by `echo`).
    fn resolve(&self) -> Result<Secret, SecretError>;
}

impl Resolve for SecretRef {
    fn resolve(&self) -> Result<Secret, SecretError> {
        match self {
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(Secret(v)),
                Ok(_) => Err(SecretError::EnvEmpty { name: name.clone() }),
                Err(std::env::VarError::NotPresent) => {
                    Err(SecretError::EnvUnset { name: name.clone() })
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    Err(SecretError::EnvNotUnicode { name: name.clone() })
                }
            },
            SecretRef::File(path) => match std::fs::read_to_string(path) {
                Ok(v) => {
                    let v = v.trim_end_matches(['\n', '\r']).to_string();
                    if v.is_empty() {
                        Err(SecretError::FileEmpty { path: path.clone() })
                    } else {
                        Ok(Secret(v))
                    }
                }
                Err(source) => Err(SecretError::Read {
                    path: path.clone(),
                    source,
                }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn file_secret_loses_its_trailing_newline() {
        let dir = std::env::temp_dir().join(format!("vigil-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c");
        std::fs::write(&f, "s3cret\n").unwrap();
        assert_eq!(SecretRef::File(f).resolve().unwrap().expose(), "s3cret");
        let missing = SecretRef::Env("VIGIL_TEST_SURELY_UNSET_VAR".into()).resolve();
        assert!(missing.unwrap_err().to_string().contains("is not set"));
    }
}
