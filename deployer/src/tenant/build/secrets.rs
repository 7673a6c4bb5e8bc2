//! The tenant's Secrets. Generated values come from a CSPRNG once and are then read back from
//! the cluster on every apply, so they are never regenerated; credentials are copied from the
//! operator's environment variables or files on each apply.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use rand::Rng;
use rand::distr::Alphanumeric;

use super::{Component, Error, Object, meta, name};
use crate::tenant::validate::{Redacted, Tenant};

/// Every generated secret value: which Secret holds it, under which key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecretKey {
    InfluxAdminPassword,
    InfluxAdminToken,
    InfluxWriteToken,
    InfluxReadToken,
    GrafanaAdminUser,
    GrafanaAdminPassword,
}

impl SecretKey {
    pub const ALL: [SecretKey; 6] = [
        Self::InfluxAdminPassword,
        Self::InfluxAdminToken,
        Self::InfluxWriteToken,
        Self::InfluxReadToken,
        Self::GrafanaAdminUser,
        Self::GrafanaAdminPassword,
    ];

    /// Suffix of the Secret's name.
    pub fn secret(self) -> &'static str {
        match self {
            Self::GrafanaAdminUser | Self::GrafanaAdminPassword => "grafana-admin",
            _ => "influxdb-auth",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Self::InfluxAdminPassword => "admin-password",
            Self::InfluxAdminToken => "admin-token",
            Self::InfluxWriteToken => "collector-token",
            Self::InfluxReadToken => "grafana-token",
            Self::GrafanaAdminUser => "admin-user",
            Self::GrafanaAdminPassword => "admin-password",
        }
    }

    fn component(self) -> Component {
        match self {
            Self::GrafanaAdminUser | Self::GrafanaAdminPassword => Component::Grafana,
            _ => Component::InfluxDb,
        }
    }

    /// A fresh value: 40 alphanumerics (~238 bits) from the thread-local CSPRNG (ChaCha, OS-seeded).
    fn generate(self) -> Redacted {
        match self {
            Self::GrafanaAdminUser => Redacted::new("admin".into()),
            _ => Redacted::new(
                rand::rng()
                    .sample_iter(&Alphanumeric)
                    .take(40)
                    .map(char::from)
                    .collect(),
            ),
        }
    }
}

/// The secret values of one apply.
#[derive(Debug, Clone, Default)]
pub struct SecretValues {
    pub generated: BTreeMap<SecretKey, Redacted>,
    /// Collector credentials: Secret key -> value.
    pub credentials: BTreeMap<String, Redacted>,
}

impl SecretValues {
    /// Keeps every existing value and generates only what is missing.
    pub fn complete(
        existing: BTreeMap<SecretKey, Redacted>,
        credentials: BTreeMap<String, Redacted>,
    ) -> Self {
        let mut generated = existing;
        for k in SecretKey::ALL {
            generated.entry(k).or_insert_with(|| k.generate());
        }
        Self {
            generated,
            credentials,
        }
    }
}

/// The Secrets holding `values`.
pub fn secrets(t: &Tenant, values: &SecretValues) -> Result<Vec<Object>, Error> {
    let mut by_secret: BTreeMap<&str, (Component, BTreeMap<String, ByteString>)> = BTreeMap::new();
    for (k, v) in &values.generated {
        by_secret
            .entry(k.secret())
            .or_insert_with(|| (k.component(), BTreeMap::new()))
            .1
            .insert(
                k.key().to_owned(),
                ByteString(v.expose().as_bytes().to_vec()),
            );
    }
    let credentials = values
        .credentials
        .iter()
        .map(|(k, v)| (k.clone(), ByteString(v.expose().as_bytes().to_vec())))
        .collect();
    by_secret.insert("collector-credentials", (Component::Collector, credentials));
    by_secret
        .into_iter()
        .map(|(suffix, (c, data))| {
            Object::typed(&Secret {
                metadata: meta(t, c, name(t, suffix)),
                type_: Some("Opaque".into()),
                data: Some(data),
                ..Default::default()
            })
        })
        .collect::<Result<_, _>>()
        .map_err(Error::from)
}

/// Names of the Secrets vigil manages for a tenant (for render's note and delete's report).
pub fn secret_names(t: &Tenant) -> Vec<String> {
    ["collector-credentials", "grafana-admin", "influxdb-auth"]
        .iter()
        .map(|s| name(t, s))
        .collect()
}
