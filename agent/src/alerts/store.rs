//! Where the [`StateDoc`] lives: a local JSON file (standalone; written to a temporary
//! file and renamed, so a crash never leaves half a document) or, in a cluster, a
//! ConfigMap in the agent's namespace (server-side apply, field manager `vigil-agent`).
//! The document holds no secrets: Slack credentials stay in the agent's Secret.
use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};

use k8s_openapi::ByteString;
use vigil_contract::alert_state::stored::{self, StoredError};
use vigil_contract::names;

use super::live::{LiveState, RemoteView};
use super::state::StateDoc;

const KEY: &str = names::STATE_KEY;
const GZ_KEY: &str = names::STATE_GZ_KEY;

/// The document a state ConfigMap holds (compressed, else the older plain form).
fn decode_config_map(cm: &ConfigMap) -> Option<Result<StateDoc, StoredError>> {
    stored::decode(
        cm.binary_data
            .as_ref()
            .and_then(|b| b.get(GZ_KEY))
            .map(|b| b.0.as_slice()),
        cm.data
            .as_ref()
            .and_then(|d| d.get(KEY))
            .map(String::as_str),
    )
}
const MANAGER: &str = "vigil-agent";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state {at} does not decode; move it away to start afresh")]
    Decode {
        at: String,
        #[source]
        source: StoredError,
    },
    #[error("state {at}: cannot be encoded")]
    Encode {
        at: String,
        #[source]
        source: StoredError,
    },
    #[error(
        "state configmap {namespace}/{name}: not the leader any more; the state is the new leader's to write"
    )]
    NotLeading { namespace: String, name: String },
    #[error(
        "state configmap {namespace}/{name}: taken over by the leader ({by}) while this node was away; starting afresh"
    )]
    Adopted {
        namespace: String,
        name: String,
        by: String,
    },
    #[error("state configmap {namespace}/{name}: {source}")]
    Kube {
        namespace: String,
        name: String,
        source: kube::Error,
    },
}

impl StoreError {
    /// The API server could not be reached (as opposed to answering with a refusal).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, StoreError::Kube { source, .. } if !matches!(source, kube::Error::Api(_)))
    }
}

/// A loaded document, and whether a bad one was moved aside to get it.
pub struct Loaded {
    pub doc: StateDoc,
    /// What was wrong and where the bad document went.
    pub reset: Option<String>,
}

async fn write_synced(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut f = tokio::fs::File::create(path).await?;
    f.write_all(bytes).await?;
    f.sync_all().await
}

/// Makes a create, rename or delete in `path`'s directory durable (best effort: logged).
async fn sync_dir(path: &std::path::Path) {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return;
    };
    let result = match tokio::fs::File::open(dir).await {
        Ok(d) => d.sync_all().await,
        Err(e) => Err(e),
    };
    if let Err(error) = result {
        tracing::warn!(dir = %dir.display(), %error, "cannot sync the state directory");
    }
}

/// Conditional writes of a state ConfigMap: each write is a replace with the
/// resourceVersion this agent last read or wrote, so nobody's write lands on another's
/// unseen.
///
/// - The leader's state is written only while this agent holds the lease; a deposed
///   leader's late write never lands on the new leader's state (on a conflict while still
///   leading, the lease holder's document wins, once).
/// - A node agent's own state may have been taken over by the leader while the node was
///   away (deleted, or NotReady past `adopt_after`): the write fails with
///   [`StoreError::Adopted`] and the agent starts afresh rather than post again what the
///   leader now owns.
#[derive(Clone)]
pub struct Fence {
    /// For the leader's state: true while this agent holds the lease (the election's
    /// channel). None for a node agent's own state.
    leading: Option<tokio::sync::watch::Receiver<bool>>,
    /// Recorded on every write (`vigil.dev/written-by`).
    pub identity: String,
    version: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl Fence {
    /// The leader's: written only while `leading`.
    pub fn new(leading: tokio::sync::watch::Receiver<bool>, identity: &str) -> Fence {
        Fence {
            leading: Some(leading),
            identity: identity.to_string(),
            version: Default::default(),
        }
    }

    /// A node agent's own state, which the leader may take over.
    pub fn owner(identity: &str) -> Fence {
        Fence {
            leading: None,
            identity: identity.to_string(),
            version: Default::default(),
        }
    }

    fn may_write(&self) -> bool {
        self.leading.as_ref().is_none_or(|l| *l.borrow())
    }

    fn version(&self) -> Option<String> {
        self.version
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_version(&self, v: Option<String>) {
        *self.version.lock().unwrap_or_else(|p| p.into_inner()) = v;
    }
}

/// Who took a state ConfigMap over, if anyone did.
pub fn adopted_by(cm: &ConfigMap) -> Option<&str> {
    cm.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(names::STATE_ADOPTED_ANNOTATION))
        .map(String::as_str)
}

/// The state ConfigMap holding `doc` (compressed), labelled as alert state.
pub fn state_config_map(
    namespace: &str,
    name: &str,
    doc: &StateDoc,
    annotations: Option<BTreeMap<String, String>>,
) -> Result<ConfigMap, StoredError> {
    let gz = stored::encode(doc)?;
    Ok(ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(BTreeMap::from([
                (names::NAME_LABEL.into(), names::AGENT_APP.into()),
                (
                    names::COMPONENT_LABEL.into(),
                    names::ALERT_STATE_COMPONENT.into(),
                ),
                (names::MANAGED_BY_LABEL.into(), names::MANAGER.into()),
            ])),
            annotations,
            ..Default::default()
        },
        binary_data: Some(BTreeMap::from([(GZ_KEY.to_string(), ByteString(gz))])),
        ..Default::default()
    })
}

/// The document a state ConfigMap holds, empty when it holds none (public for the
/// leader's adoption of a node's state).
pub fn document(cm: &ConfigMap) -> Result<StateDoc, StoredError> {
    decode_config_map(cm).unwrap_or_else(|| Ok(StateDoc::default()))
}

#[derive(Clone)]
pub enum Store {
    File(PathBuf),
    ConfigMap {
        api: Box<Api<ConfigMap>>,
        namespace: String,
        name: String,
        /// Conditional writes (the leader's state and the node agents'); unset, a
        /// server-side apply (the standalone agent's).
        fence: Option<Fence>,
        /// Where an older agent kept this state: read once, while none is here yet.
        legacy: Option<(Box<Api<ConfigMap>>, String)>,
    },
}

impl Store {
    pub fn config_map(client: kube::Client, namespace: &str, name: &str) -> Store {
        Store::ConfigMap {
            api: Box::new(Api::namespaced(client, namespace)),
            namespace: namespace.to_string(),
            name: name.to_string(),
            fence: None,
            legacy: None,
        }
    }

    /// The same store, written only under `fence`.
    pub fn fenced(mut self, f: Fence) -> Store {
        if let Store::ConfigMap { fence, .. } = &mut self {
            *fence = Some(f);
        }
        self
    }

    /// The same store, reading the state from `namespace` once if none is stored yet
    /// (where agents before the state namespace kept it).
    pub fn migrating_from(mut self, client: kube::Client, from: &str) -> Store {
        if let Store::ConfigMap {
            legacy, namespace, ..
        } = &mut self
            && namespace != from
        {
            *legacy = Some((Box::new(Api::namespaced(client, from)), from.to_string()));
        }
        self
    }

    /// The most the store holds, if it has a limit (a ConfigMap's 1 MiB).
    pub fn limit(&self) -> Option<usize> {
        match self {
            Store::File(_) => None,
            Store::ConfigMap { .. } => Some(super::health::CONFIGMAP_LIMIT),
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

    /// The stored document, or an empty one if none was stored yet. A document that does
    /// not decode is moved aside (a file to `<file>.corrupt-<ms>`, a ConfigMap's text to a
    /// new ConfigMap `<name>-corrupt-<ms>`) and an empty one is returned with where it went:
    /// bad state must never stop alerting, and nothing is thrown away.
    pub async fn load_or_quarantine(&self) -> Result<Loaded, StoreError> {
        match self.load().await {
            Ok(doc) => Ok(Loaded { doc, reset: None }),
            Err(StoreError::Decode { at, source }) => {
                let moved = self.quarantine().await?;
                let source = crate::error::chain(&source);
                tracing::error!(state = %at, error = %source, moved_to = %moved, "the alert state does not decode: moved aside, starting with empty state");
                Ok(Loaded {
                    doc: StateDoc::default(),
                    reset: Some(format!("{at} did not decode ({source}); kept as {moved}")),
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn quarantine(&self) -> Result<String, StoreError> {
        let ms = vigil_contract::alert_state::unix_ms(std::time::SystemTime::now());
        match self {
            Store::File(path) => {
                let to = path.with_extension(format!("corrupt-{ms}"));
                tokio::fs::rename(path, &to)
                    .await
                    .map_err(|source| StoreError::File {
                        path: path.clone(),
                        source,
                    })?;
                sync_dir(path).await;
                Ok(to.display().to_string())
            }
            Store::ConfigMap {
                api,
                namespace,
                name,
                ..
            } => {
                let kube = |source| StoreError::Kube {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    source,
                };
                let bad = api.get_opt(name).await.map_err(kube)?;
                let (data, binary_data) = bad.map_or((None, None), |cm| (cm.data, cm.binary_data));
                let copy = format!("{name}-corrupt-{ms}");
                let cm = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(copy.clone()),
                        namespace: Some(namespace.clone()),
                        labels: Some(BTreeMap::from([(
                            names::MANAGED_BY_LABEL.into(),
                            names::MANAGER.into(),
                        )])),
                        ..Default::default()
                    },
                    data,
                    binary_data,
                    ..Default::default()
                };
                api.create(&Default::default(), &cm).await.map_err(kube)?;
                Ok(format!("configmap {namespace}/{copy}"))
            }
        }
    }

    /// The stored document, or an empty one if none was stored yet.
    pub async fn load(&self) -> Result<StateDoc, StoreError> {
        let decoded = match self {
            Store::File(path) => match tokio::fs::read_to_string(path).await {
                Ok(t) => stored::decode(None, Some(&t)),
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
                fence,
                legacy,
            } => {
                let cm = api.get_opt(name).await.map_err(|source| StoreError::Kube {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    source,
                })?;
                if let Some(f) = fence {
                    f.set_version(
                        cm.as_ref()
                            .and_then(|c| c.metadata.resource_version.clone()),
                    );
                }
                match (cm, legacy) {
                    (Some(cm), _) => decode_config_map(&cm),
                    (None, Some((old, from))) => {
                        let found = old.get_opt(name).await.map_err(|source| StoreError::Kube {
                            namespace: from.clone(),
                            name: name.clone(),
                            source,
                        })?;
                        if found.is_some() {
                            tracing::info!(configmap = %name, from = %from, to = %namespace, "alert state moves to the state namespace: read from where an older agent kept it");
                        }
                        found.as_ref().and_then(decode_config_map)
                    }
                    (None, None) => None,
                }
            }
        };
        match decoded {
            None => Ok(StateDoc::default()),
            Some(r) => r.map_err(|source| StoreError::Decode {
                at: self.describe(),
                source,
            }),
        }
    }

    /// Writes the document; returns its size in bytes as stored (a ConfigMap's compressed).
    pub async fn save(&self, doc: &StateDoc) -> Result<usize, StoreError> {
        let encode = |source| StoreError::Encode {
            at: self.describe(),
            source,
        };
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
                // data on disk before the rename makes it the state, the rename on disk
                // before the save counts as done: a host crash leaves the old or the new
                // document, never an empty or half one
                let text = serde_json::to_string(doc).map_err(|e| encode(StoredError::Json(e)))?;
                write_synced(&tmp, text.as_bytes()).await.map_err(io)?;
                tokio::fs::rename(&tmp, path).await.map_err(io)?;
                sync_dir(path).await;
                Ok(text.len())
            }
            Store::ConfigMap {
                api,
                namespace,
                name,
                fence,
                ..
            } => {
                let annotations = fence.as_ref().map(|f| {
                    BTreeMap::from([(names::STATE_WRITER_ANNOTATION.into(), f.identity.clone())])
                });
                let mut cm = state_config_map(namespace, name, doc, annotations).map_err(encode)?;
                let bytes = cm
                    .binary_data
                    .as_ref()
                    .and_then(|b| b.get(GZ_KEY))
                    .map_or(0, |b| b.0.len());
                let kube = |source| StoreError::Kube {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    source,
                };
                let Some(fence) = fence else {
                    return api
                        .patch(
                            name,
                            &PatchParams::apply(MANAGER).force(),
                            &Patch::Apply(&cm),
                        )
                        .await
                        .map(|_| bytes)
                        .map_err(kube);
                };
                let leader = fence.leading.is_some();
                let mut refreshed = false;
                loop {
                    if !fence.may_write() {
                        return Err(StoreError::NotLeading {
                            namespace: namespace.clone(),
                            name: name.clone(),
                        });
                    }
                    let had_version = fence.version();
                    cm.metadata.resource_version = had_version.clone();
                    let written = match had_version {
                        Some(_) => api.replace(name, &PostParams::default(), &cm).await,
                        None => api.create(&PostParams::default(), &cm).await,
                    };
                    let code = match &written {
                        Ok(_) => 0,
                        Err(kube::Error::Api(e)) => e.code,
                        Err(_) => 1,
                    };
                    match written {
                        Ok(o) => {
                            fence.set_version(o.metadata.resource_version);
                            return Ok(bytes);
                        }
                        Err(source) if refreshed || !matches!(code, 404 | 409) => {
                            return Err(kube(source));
                        }
                        Err(_) => {
                            refreshed = true;
                            let current = api.get_opt(name).await.map_err(kube)?;
                            let by = current.as_ref().and_then(adopted_by).map(str::to_string);
                            fence.set_version(
                                current
                                    .as_ref()
                                    .and_then(|c| c.metadata.resource_version.clone()),
                            );
                            let gone = current.is_none() && code == 404;
                            if !leader && (by.is_some() || gone) {
                                // the leader took this node's state over while the agent
                                // was away: what it held is the leader's to post now
                                return Err(StoreError::Adopted {
                                    namespace: namespace.clone(),
                                    name: name.clone(),
                                    by: by.unwrap_or_else(|| "deleted".into()),
                                });
                            }
                            if leader && code == 409 {
                                // written since this leader read it: a deposed leader's
                                // late write. The lease holder's document wins; once.
                                tracing::warn!(configmap = %name, "the leader's state was written by another agent since it was read: overwriting it as the lease holder");
                            }
                        }
                    }
                }
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
                    // none yet: the leader has not written its state
                    let doc: StateDoc = match decode_config_map(&cm) {
                        None => StateDoc::default(),
                        Some(Ok(doc)) => doc,
                        Some(Err(error)) => {
                            tracing::warn!(configmap = %name, error = %error, "the leader's alert state does not parse; treated as empty");
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
