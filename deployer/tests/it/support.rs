//! Helpers: run the `vigil` binary, write tenant files, provision static volumes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, Toleration};
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use vigil_tests::Sandbox;

/// Storage class name used for statically provisioned test volumes (no provisioner runs here).
pub const STORAGE_CLASS: &str = "vigil-it-static";

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "vigil failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs `vigil ARGS` with the sandbox's kubeconfig (None: no cluster at all).
pub async fn vigil(sandbox: Option<&Sandbox>, args: &[&str]) -> Run {
    vigil_env(sandbox, args, &[]).await
}

pub async fn vigil_env(sandbox: Option<&Sandbox>, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    match sandbox {
        Some(s) => cmd.env("KUBECONFIG", &s.kubeconfig),
        None => cmd.env("KUBECONFIG", "/nonexistent/kubeconfig"),
    };
    cmd.env_remove("VIGIL_CILIUM_API_VERSION");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(300), cmd.output())
        .await
        .expect("vigil finished within 5 minutes")
        .expect("vigil runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-it-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A unique tenant name (tests run concurrently against one cluster).
pub fn tenant_name(prefix: &str) -> String {
    vigil_tests::unique(prefix)
}

/// The `spec.placement` YAML for a fake-kubelet pool.
pub fn placement_yaml(placement: &(BTreeMap<String, String>, Toleration)) -> String {
    let (selector, toleration) = placement;
    let value = json!({
        "nodeSelector": selector,
        "tolerations": [{
            "key": toleration.key,
            "operator": toleration.operator,
            "value": toleration.value,
            "effect": toleration.effect,
        }],
    });
    serde_json::to_string(&value).expect("placement as JSON (valid YAML)")
}

/// Writes `tenant.yaml` in `dir` and returns its path.
pub fn write_tenant(dir: &Path, file: &str, body: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, body).expect("write tenant file");
    path
}

/// Pre-binds hostPath PersistentVolumes to the tenant's two claims, as an administrator
/// provisioning volumes statically would (the sandbox runs no dynamic provisioner).
pub async fn provision_volumes(client: &Client, tenant: &str) {
    let api: Api<PersistentVolume> = Api::all(client.clone());
    for component in ["influxdb", "grafana"] {
        let claim = format!("{tenant}-{component}");
        let pv: PersistentVolume = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": format!("{claim}-pv"), "labels": {"vigil-it/tenant": tenant}},
            "spec": {
                "capacity": {"storage": "20Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": STORAGE_CLASS,
                "hostPath": {"path": format!("/tmp/vigil-it/{claim}")},
                "claimRef": {"namespace": tenant, "name": claim},
            }
        }))
        .expect("pv");
        api.create(&PostParams::default(), &pv)
            .await
            .expect("create pv");
    }
}

/// Removes the volumes of [`provision_volumes`].
pub async fn release_volumes(client: &Client, tenant: &str) {
    let api: Api<PersistentVolume> = Api::all(client.clone());
    for component in ["influxdb", "grafana"] {
        let _ = api
            .delete(
                &format!("{tenant}-{component}-pv"),
                &DeleteParams::default(),
            )
            .await;
    }
}

pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Removes what a test created if it panics half-way (on success the test cleans up itself and
/// this does nothing): namespaces, the static volumes of tenants, fake nodes. Leftover dead
/// nodes would otherwise disturb other tests (the node lifecycle controller stops evicting in
/// a zone where most nodes are down).
pub struct Cleanup {
    kubectl: PathBuf,
    kubeconfig: PathBuf,
    namespaces: Vec<String>,
    volumes: Vec<String>,
    nodes: Vec<String>,
}

impl Cleanup {
    pub fn new(sandbox: &Sandbox) -> Self {
        Self {
            kubectl: sandbox.kube_bin.join("kubectl"),
            kubeconfig: sandbox.kubeconfig.clone(),
            namespaces: Vec::new(),
            volumes: Vec::new(),
            nodes: Vec::new(),
        }
    }

    /// A tenant: its namespace and the volumes of [`provision_volumes`].
    pub fn tenant(mut self, name: &str) -> Self {
        self.namespaces.push(name.to_owned());
        self.volumes
            .extend(["influxdb", "grafana"].map(|c| format!("{name}-{c}-pv")));
        self
    }

    pub fn namespace(mut self, name: &str) -> Self {
        self.namespaces.push(name.to_owned());
        self
    }

    pub fn nodes(mut self, names: &[String]) -> Self {
        self.nodes.extend(names.iter().cloned());
        self
    }

    fn kubectl(&self, args: &[&str], names: &[String]) {
        if names.is_empty() {
            return;
        }
        let _ = std::process::Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .args(names)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        // Nodes first: pods bound to a deleted node are garbage-collected, so the namespaces
        // can finish terminating.
        self.kubectl(
            &["delete", "node", "--ignore-not-found", "--wait=false"],
            &self.nodes,
        );
        self.kubectl(
            &["delete", "namespace", "--ignore-not-found", "--wait=false"],
            &self.namespaces,
        );
        self.kubectl(
            &["delete", "pv", "--ignore-not-found", "--wait=false"],
            &self.volumes,
        );
    }
}
