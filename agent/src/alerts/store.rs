//! Where the [`StateDoc`] lives: a local JSON file (standalone; written to a temporary
//! file and renamed, so a crash never leaves half a document) or, in a cluster, a
//! ConfigMap in the agent's namespace (server-side apply, field manager `vigil-agent`).
//! The document holds no secrets: Slack credentials stay in the agent's Secret.
use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};

use vigil_contract::names;

use super::live::{LiveState, RemoteView};
use super::state::StateDoc;

const KEY: &str = names::STATE_KEY;
const MANAGER: &str = "vigil-agent";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state {at}: not valid JSON ({source}); move it away to start afresh")]
    Decode {
        at: String,
        source: serde_json::Error,
    },
    #[error("state configmap {namespace}/{name}: {source}")]
    Kube {
        namespace: String,
        name: String,
        source: kube::Error,
    },
}

#[derive(Clone)]
pub enum Store {
    File(PathBuf),
    ConfigMap {
        api: Box<Api<ConfigMap>>,
        namespace: String,
        name: String,
    },
}

impl Store {
    pub fn config_map(client: kube::Client, namespace: &str, name: &str) -> Store {
        Store::ConfigMap {
            api: Box::new(Api::namespaced(client, namespace)),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Store::File(p) => p.display().to_string(),
            Store::ConfigMap {
                namespace, name, ..
            } => format!("configmap {namespace}/{name}"),
        }
    }

    /// The stored document, or an empty one if none was stored yet.
    pub async fn load(&self) -> Result<StateDoc, StoreError> {
        let text = match self {
            Store::File(path) => match tokio::fs::read_to_string(path).await {
                Ok(t) => Some(t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => {
                    return Err(StoreError::File {
                        path: path.clone(),
                        source,
                    });
                }
            },
            Store::ConfigMap {
                api,
                namespace,
                name,
            } => api
                .get_opt(name)
                .await
                .map_err(|source| StoreError::Kube {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    source,
                })?
                .and_then(|cm| cm.data.and_then(|mut d| d.remove(KEY))),
        };
        match text {
            None => Ok(StateDoc::default()),
            Some(t) => serde_json::from_str(&t).map_err(|source| StoreError::Decode {
                at: self.describe(),
                source,
            }),
        }
    }

    pub async fn save(&self, doc: &StateDoc) -> Result<(), StoreError> {
        let text = serde_json::to_string(doc).map_err(|source| StoreError::Decode {
            at: self.describe(),
            source,
        })?;
        match self {
            Store::File(path) => {
                let tmp = path.with_extension("tmp");
                let io = |source| StoreError::File {
                    path: path.clone(),
                    source,
                };
                if let Some(dir) = path.parent()
                    && !dir.as_os_str().is_empty()
                {
                    tokio::fs::create_dir_all(dir).await.map_err(io)?;
                }
                tokio::fs::write(&tmp, text).await.map_err(io)?;
                tokio::fs::rename(&tmp, path).await.map_err(io)
            }
            Store::ConfigMap {
                api,
                namespace,
                name,
            } => {
                let cm = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(namespace.clone()),
                        labels: Some(BTreeMap::from([
                            (names::NAME_LABEL.into(), names::AGENT_APP.into()),
                            (
                                names::COMPONENT_LABEL.into(),
                                names::ALERT_STATE_COMPONENT.into(),
                            ),
                            (names::MANAGED_BY_LABEL.into(), names::MANAGER.into()),
                        ])),
                        ..Default::default()
                    },
                    data: Some(BTreeMap::from([(KEY.to_string(), text)])),
                    ..Default::default()
                };
                api.patch(
                    name,
                    &PatchParams::apply(MANAGER).force(),
                    &Patch::Apply(&cm),
                )
                .await
                .map(|_| ())
                .map_err(|source| StoreError::Kube {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    source,
                })
            }
        }
    }
}

/// Keeps a node agent's view of the leader's firing incidents and message threads fresh,
/// by watching the leader's state ConfigMap `name` (one watch per agent, with backoff).
pub async fn follow_remote(
    api: Api<ConfigMap>,
    name: String,
    state: std::sync::Arc<LiveState>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    use futures::StreamExt;
    use kube::runtime::{WatchStreamExt, watcher};
    let cfg = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let stream = watcher(api, cfg).default_backoff().applied_objects();
    futures::pin_mut!(stream);
    loop {
        tokio::select! {
            item = stream.next() => match item {
                Some(Ok(cm)) => {
                    let text = cm.data.and_then(|d| d.get(KEY).cloned());
                    // none yet: the leader has not written its state
                    let doc: StateDoc = match text.map(|t| serde_json::from_str(&t)) {
                        None => StateDoc::default(),
                        Some(Ok(doc)) => doc,
                        Some(Err(error)) => {
                            tracing::warn!(configmap = %name, %error, "the leader's alert state does not parse; treated as empty");
                            StateDoc::default()
                        }
                    };
                    state.set_remote(RemoteView {
                        parents: doc.firing_parents(),
                        ledger: doc.ledger,
                    });
                }
                Some(Err(e)) => tracing::debug!(error = %e, "watch of the leader's alert state failed; retrying"),
                None => return,
            },
            r = stop.changed() => if r.is_err() || *stop.borrow() { return; },
        }
    }
}
