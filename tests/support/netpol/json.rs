//! A strict walk over a policy's JSON: every key must be one the evaluator implements.

use serde_json::Value;

use super::Error;

/// A value inside a policy, with its path for messages.
#[derive(Clone)]
pub(super) struct At<'a> {
    pub policy: &'a str,
    pub path: String,
    pub value: &'a Value,
}

impl<'a> At<'a> {
    pub fn root(policy: &'a str, value: &'a Value) -> Self {
        Self {
            policy,
            path: String::new(),
            value,
        }
    }

    fn child(&self, key: &str, value: &'a Value) -> Self {
        let path = if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        };
        Self {
            policy: self.policy,
            path,
            value,
        }
    }

    pub fn invalid(&self, message: impl Into<String>) -> Error {
        Error::Invalid {
            policy: self.policy.to_owned(),
            path: self.path.clone(),
            message: message.into(),
        }
    }

    pub fn unsupported(&self, what: &str) -> Error {
        Error::Unsupported {
            policy: self.policy.to_owned(),
            construct: if what.is_empty() {
                self.path.clone()
            } else {
                format!("{} ({what})", self.path)
            },
        }
    }

    /// Fails on any key outside `known`; keys in `unsupported` are named as not implemented.
    pub fn keys(&self, known: &[&str], unsupported_hint: &str) -> Result<(), Error> {
        let Some(map) = self.value.as_object() else {
            return Err(self.invalid("expected an object"));
        };
        match map.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(self.child(k, &map[k]).unsupported(unsupported_hint)),
            None => Ok(()),
        }
    }

    /// The field if present and not null.
    pub fn get(&self, key: &str) -> Option<At<'a>> {
        self.value
            .get(key)
            .filter(|v| !v.is_null())
            .map(|v| self.child(key, v))
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The elements of a list field (absent = empty).
    pub fn list(&self, key: &str) -> Result<Vec<At<'a>>, Error> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(at) => match at.value.as_array() {
                Some(items) => Ok(items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| At {
                        policy: self.policy,
                        path: format!("{}[{i}]", at.path),
                        value: v,
                    })
                    .collect()),
                None => Err(at.invalid("expected a list")),
            },
        }
    }

    pub fn str(&self) -> Result<&'a str, Error> {
        self.value
            .as_str()
            .ok_or_else(|| self.invalid("expected a string"))
    }

    pub fn str_field(&self, key: &str) -> Result<Option<&'a str>, Error> {
        self.get(key).map(|a| a.str()).transpose()
    }

    pub fn string_list(&self, key: &str) -> Result<Vec<&'a str>, Error> {
        self.list(key)?.iter().map(At::str).collect()
    }
}
