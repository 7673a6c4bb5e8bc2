//! Names that end up in Kubernetes object names, labels and DNS.

use std::fmt;

use serde::Serialize;

use super::Problem;

/// Suffixes appended to the tenant name to name its objects; the longest one bounds the name.
pub const DERIVED_SUFFIXES: &[&str] = &[
    "-influxdb",
    "-influxdb-auth",
    "-influxdb-init",
    "-grafana",
    "-grafana-admin",
    "-grafana-config",
    "-grafana-dashboards",
    "-collector",
    "-collector-config",
    "-collector-credentials",
    "-alerts",
];

/// Longest tenant name for which every derived object name stays within 63 characters.
pub const MAX_TENANT_NAME: usize = 63 - longest_suffix();

const fn longest_suffix() -> usize {
    let mut i = 0;
    let mut max = 0;
    while i < DERIVED_SUFFIXES.len() {
        if DERIVED_SUFFIXES[i].len() > max {
            max = DERIVED_SUFFIXES[i].len();
        }
        i += 1;
    }
    max
}

/// Namespaces a tenant may never take.
const RESERVED: &[&str] = &[
    "default",
    "vigil",
    "vigil-system",
    "cilium",
    "ingress-nginx",
];
const RESERVED_PREFIXES: &[&str] = &["kube-", "openshift-"];

/// A tenant name: an RFC 1123 label starting with a letter, short enough for every derived name.
/// It is also the tenant's namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TenantName(String);

impl TenantName {
    pub fn parse(path: &str, raw: &str) -> Result<Self, Problem> {
        if let Err(why) = dns_label(raw, MAX_TENANT_NAME) {
            return Err(Problem::new(
                path,
                format!("tenant name {raw:?} {why}"),
                format!(
                    "use lower-case letters, digits and '-', starting with a letter and at most \
                     {MAX_TENANT_NAME} characters (every object name derived from it must fit 63), e.g. \"acme-corp\""
                ),
            ));
        }
        if RESERVED.contains(&raw) || RESERVED_PREFIXES.iter().any(|p| raw.starts_with(p)) {
            return Err(Problem::new(
                path,
                format!("tenant name {raw:?} is reserved (it is also the tenant's namespace)"),
                "choose a name that is not default, vigil, vigil-system, cilium, ingress-nginx and does not start with kube- or openshift-",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A device name, unique within a tenant; used in Secret keys and as the `device` tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DeviceName(String);

impl DeviceName {
    pub fn parse(path: &str, raw: &str) -> Result<Self, Problem> {
        dns_label(raw, 63)
            .map(|()| Self(raw.to_owned()))
            .map_err(|why| {
                Problem::new(
                    path,
                    format!("device name {raw:?} {why}"),
                    "use lower-case letters, digits and '-' (at most 63), e.g. \"core-sw-1\"",
                )
            })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What is wrong with a DNS name. The messages are predicates, written after the name
/// they describe: `tenant name "Acme" {why}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("is empty")]
    Empty,
    #[error("is {len} characters long, more than {max}")]
    TooLong { len: usize, max: usize },
    #[error("contains characters other than lower-case letters, digits and '-'")]
    Characters,
    #[error("does not start with a lower-case letter")]
    Start,
    #[error("ends with '-'")]
    TrailingDash,
    #[error("must be 1 to 253 characters")]
    SubdomainLength,
    #[error("has an invalid part {0:?}")]
    Part(String),
}

/// Checks an RFC 1123 label that starts with a letter; returns what is wrong.
pub fn dns_label(raw: &str, max: usize) -> Result<(), NameError> {
    if raw.is_empty() {
        return Err(NameError::Empty);
    }
    if raw.len() > max {
        return Err(NameError::TooLong {
            len: raw.len(),
            max,
        });
    }
    if !raw
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(NameError::Characters);
    }
    if !raw.as_bytes()[0].is_ascii_lowercase() {
        return Err(NameError::Start);
    }
    if raw.ends_with('-') {
        return Err(NameError::TrailingDash);
    }
    Ok(())
}

/// Checks an RFC 1123 subdomain (dot-separated labels, each may start with a digit).
pub fn dns_subdomain(raw: &str) -> Result<(), NameError> {
    if raw.is_empty() || raw.len() > 253 {
        return Err(NameError::SubdomainLength);
    }
    for label in raw.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(NameError::Part(label.to_owned()));
        }
    }
    Ok(())
}

/// Checks a label key (`[prefix/]name`) or value as Kubernetes does.
pub fn label_part(raw: &str, allow_empty: bool) -> bool {
    if raw.is_empty() {
        return allow_empty;
    }
    raw.len() <= 63
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && raw.as_bytes()[0].is_ascii_alphanumeric()
        && raw.as_bytes()[raw.len() - 1].is_ascii_alphanumeric()
}

pub fn label_key(raw: &str) -> bool {
    match raw.split_once('/') {
        Some((prefix, name)) => dns_subdomain(prefix).is_ok() && label_part(name, false),
        None => label_part(raw, false),
    }
}
