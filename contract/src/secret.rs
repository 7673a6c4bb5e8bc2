//! Secrets are never written into a file: it names an environment variable or a file. The
//! reader resolves the reference (the agent holds the value redacted).
use std::path::PathBuf;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

/// Where a secret comes from: `{env: NAME}` or `{file: /path}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawSecretRef")]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

/// A one-entry map (serde_norway would write an enum as a `!tag`).
impl Serialize for SecretRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        match self {
            SecretRef::Env(name) => map.serialize_entry("env", name)?,
            SecretRef::File(path) => map.serialize_entry("file", path)?,
        }
        map.end()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecretRef {
    env: Option<String>,
    file: Option<PathBuf>,
}

/// A reference that names both or neither of `env` and `file`.
#[derive(Debug, thiserror::Error)]
#[error("a secret is `{{env: VARIABLE}}` or `{{file: /path}}` (exactly one)")]
pub struct NotOneSource;

impl TryFrom<RawSecretRef> for SecretRef {
    type Error = NotOneSource;

    fn try_from(r: RawSecretRef) -> Result<Self, NotOneSource> {
        match (r.env, r.file) {
            (Some(e), None) => Ok(SecretRef::Env(e)),
            (None, Some(f)) => Ok(SecretRef::File(f)),
            _ => Err(NotOneSource),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_as_read() {
        for (r, text) in [
            (SecretRef::Env("TOKEN".into()), "env: TOKEN\n"),
            (SecretRef::File("/etc/x/y".into()), "file: /etc/x/y\n"),
        ] {
            assert_eq!(serde_norway::to_string(&r).unwrap(), text);
            assert_eq!(serde_norway::from_str::<SecretRef>(text).unwrap(), r);
        }
        let e = serde_norway::from_str::<SecretRef>("{env: A, file: /b}").unwrap_err();
        assert!(e.to_string().contains("exactly one"), "{e}");
    }
}
