//! `--wait`: poll the tenant's status until it is Ready (or its namespace gone) or time runs out.

use std::time::{Duration, Instant};

use kube::Client;

use super::apply::Error;
use super::status::{self, Status};

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error(
        "timed out after {0:?} waiting for tenant {1} to become ready; `vigil tenant status {1}` shows what is missing"
    )]
    NotReady(Duration, String),
    #[error("timed out after {0:?} waiting for namespace {1} to be deleted")]
    NotGone(Duration, String),
    #[error(
        "timed out after {0:?} waiting for the pods of tenant {1} to terminate; `kubectl get pods -n {1}` shows them"
    )]
    PodsRemain(Duration, String),
    #[error(transparent)]
    Apply(#[from] Error),
}

const POLL: Duration = Duration::from_millis(500);

/// Waits until every component is ready and every volume bound; `progress` sees each poll.
pub async fn ready(
    client: &Client,
    tenant: &str,
    cilium_api_version: &str,
    timeout: Duration,
    mut progress: impl FnMut(&Status),
) -> Result<Status, WaitError> {
    let start = Instant::now();
    loop {
        let s = status::status(client, tenant, cilium_api_version, false).await?;
        progress(&s);
        if s.ready {
            return Ok(s);
        }
        if start.elapsed() >= timeout {
            return Err(WaitError::NotReady(timeout, tenant.to_owned()));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the namespace no longer exists; `progress` gets the elapsed time.
pub async fn gone(
    client: &Client,
    tenant: &str,
    timeout: Duration,
    mut progress: impl FnMut(Duration),
) -> Result<(), WaitError> {
    let start = Instant::now();
    while super::delete::namespace_exists(client, tenant).await? {
        progress(start.elapsed());
        if start.elapsed() >= timeout {
            return Err(WaitError::NotGone(timeout, tenant.to_owned()));
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

/// Waits until no pod of the tenant is left; `progress` gets the number still there.
pub async fn pods_gone(
    client: &Client,
    tenant: &str,
    timeout: Duration,
    mut progress: impl FnMut(usize),
) -> Result<(), WaitError> {
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(client.clone(), tenant);
    let lp = kube::api::ListParams::default()
        .labels(&format!("{}={tenant}", super::build::TENANT_LABEL));
    let start = Instant::now();
    loop {
        let left = pods
            .list_metadata(&lp)
            .await
            .map_err(|e| {
                Error::from(crate::cluster::api_error(
                    "list",
                    "pods",
                    Some(tenant),
                    None,
                    e,
                ))
            })?
            .items
            .len();
        if left == 0 {
            return Ok(());
        }
        progress(left);
        if start.elapsed() >= timeout {
            return Err(WaitError::PodsRemain(timeout, tenant.to_owned()));
        }
        tokio::time::sleep(POLL).await;
    }
}
