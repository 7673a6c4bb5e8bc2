//! What the tenant pipeline and the agent's installation both use to read what the user
//! gives: a [`Problem`] says where the input is wrong, what is wrong and how to fix it; a
//! [`Redacted`] value never shows up in output or logs.
use std::fmt;

/// One thing wrong with the input: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub what: String,
    pub fix: String,
}

impl Problem {
    pub fn new(path: &str, what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            what: what.into(),
            fix: fix.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}; {}", self.path, self.what, self.fix)
    }
}

/// A secret value that never shows up in `Debug`/`Display` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value itself, for the one place that needs it (a Secret's data).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
