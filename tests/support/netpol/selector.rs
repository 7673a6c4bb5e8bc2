//! Label selectors (`matchLabels` and `matchExpressions`), as Kubernetes and Cilium read them.

use std::collections::BTreeSet;

use super::json::At;
use super::{Error, Labels};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    In(BTreeSet<String>),
    NotIn(BTreeSet<String>),
    Exists,
    DoesNotExist,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

/// How selector keys are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keys {
    /// Plain Kubernetes label keys.
    Kubernetes,
    /// Cilium keys: an optional source prefix `k8s:` or `any:` (both match a pod's
    /// Kubernetes-sourced labels); other sources are not implemented.
    Cilium,
}

/// A parsed label selector: all requirements must hold; none selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    pub fn parse(at: &At<'_>, keys: Keys) -> Result<Self, Error> {
        at.keys(&["matchLabels", "matchExpressions"], "")?;
        let key = |at: &At<'_>, raw: &str| -> Result<String, Error> {
            match (keys, raw.split_once(':')) {
                (Keys::Kubernetes, Some(_)) => {
                    Err(at.invalid(format!("{raw:?} is not a label key (':' is not allowed)")))
                }
                (Keys::Kubernetes, None) | (Keys::Cilium, None) => Ok(raw.to_owned()),
                (Keys::Cilium, Some(("k8s" | "any", k))) => Ok(k.to_owned()),
                (Keys::Cilium, Some((source, _))) => {
                    Err(at.unsupported(&format!("label source {source:?} in key {raw:?}")))
                }
            }
        };
        let mut requirements = Vec::new();
        if let Some(ml) = at.get("matchLabels") {
            let Some(map) = ml.value.as_object() else {
                return Err(ml.invalid("expected an object"));
            };
            for (k, v) in map {
                let v = v
                    .as_str()
                    .ok_or_else(|| ml.invalid(format!("the value of {k:?} is not a string")))?;
                requirements.push(Requirement {
                    key: key(&ml, k)?,
                    op: Op::In(BTreeSet::from([v.to_owned()])),
                });
            }
        }
        for e in at.list("matchExpressions")? {
            e.keys(&["key", "operator", "values"], "")?;
            let k = key(&e, e.str_field("key")?.unwrap_or_default())?;
            let values: BTreeSet<String> = e
                .string_list("values")?
                .into_iter()
                .map(str::to_owned)
                .collect();
            let op = match e.str_field("operator")?.unwrap_or_default() {
                "In" if !values.is_empty() => Op::In(values),
                "NotIn" if !values.is_empty() => Op::NotIn(values),
                "Exists" if values.is_empty() => Op::Exists,
                "DoesNotExist" if values.is_empty() => Op::DoesNotExist,
                op @ ("In" | "NotIn" | "Exists" | "DoesNotExist") => {
                    return Err(e.invalid(format!(
                        "operator {op} {} values",
                        if values.is_empty() {
                            "needs"
                        } else {
                            "takes no"
                        }
                    )));
                }
                other => return Err(e.unsupported(&format!("operator {other:?}"))),
            };
            requirements.push(Requirement { key: k, op });
        }
        Ok(Self { requirements })
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| {
            let v = labels.get(&r.key);
            match &r.op {
                Op::In(values) => v.is_some_and(|v| values.contains(v)),
                // Kubernetes: NotIn also matches when the key is absent.
                Op::NotIn(values) => v.is_none_or(|v| !values.contains(v)),
                Op::Exists => v.is_some(),
                Op::DoesNotExist => v.is_none(),
            }
        })
    }

    pub fn has_key(&self, key: &str) -> bool {
        self.requirements.iter().any(|r| r.key == key)
    }

    /// Adds `key = value`.
    pub fn require(&mut self, key: &str, value: &str) {
        self.requirements.push(Requirement {
            key: key.to_owned(),
            op: Op::In(BTreeSet::from([value.to_owned()])),
        });
    }
}
