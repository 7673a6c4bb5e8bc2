//! `vigil tenant credentials`: the Grafana admin login, only on explicit request.

use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;

use super::apply::{self, Error};
use super::build::SecretKey;
use super::validate::Redacted;
use crate::cluster;

pub struct GrafanaLogin {
    pub url: Option<String>,
    pub user: String,
    pub password: Redacted,
}

pub async fn grafana(client: &Client, tenant: &str) -> Result<GrafanaLogin, Error> {
    let ns = apply::managed_namespace(client, tenant).await?;
    let url = ns
        .as_ref()
        .and_then(|ns| super::status::stored_tenant(ns, tenant))
        .map(|t| super::build::grafana_url(&t));
    let name = format!("{tenant}-{}", SecretKey::GrafanaAdminPassword.secret());
    let api: Api<Secret> = Api::namespaced(client.clone(), tenant);
    let secret = api
        .get(&name)
        .await
        .map_err(|e| cluster::api_error("get", "secrets", Some(tenant), Some(&name), e))?;
    let data = secret.data.unwrap_or_default();
    let get = |k: SecretKey| {
        data.get(k.key())
            .map(|b| String::from_utf8_lossy(&b.0).into_owned())
            .unwrap_or_default()
    };
    Ok(GrafanaLogin {
        url,
        user: get(SecretKey::GrafanaAdminUser),
        password: Redacted::new(get(SecretKey::GrafanaAdminPassword)),
    })
}
