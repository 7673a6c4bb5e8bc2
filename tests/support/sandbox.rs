//! Access to the local environment started by `scripts/sandbox up`.
//!
//! The sandbox writes its endpoints as shell exports to `$VIGIL_SANDBOX_DIR/env`
//! (default `~/.cache/vigil/sandbox/env`). Variables already set in the process
//! environment win, so a developer can point a test at another peer.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// Endpoints and credentials of the running sandbox.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    /// Directory holding kube-apiserver, kube-controller-manager, kube-scheduler and kubectl.
    pub kube_bin: PathBuf,
    /// The controller-manager's `--node-monitor-grace-period`.
    pub node_monitor_grace: Duration,
    pub crd_dir: PathBuf,
    pub influxdb_url: String,
    pub vm_url: String,
    pub snmpd: SocketAddr,
    pub snmp_community: String,
    /// SNMPv3 user with SHA / AES-128.
    pub snmpv3_user: String,
    /// SNMPv3 user with SHA-256 / AES-256.
    pub snmpv3_user_256: String,
    pub snmpv3_auth_pass: String,
    pub snmpv3_priv_pass: String,
    pub snmpsim: SocketAddr,
    /// More addresses snmpsim answers on (same recordings), one per simulated device.
    pub snmpsim_extra: Vec<SocketAddr>,
    pub snmpsim_data: PathBuf,
    /// `snmpsim-command-responder`, for tests that run a private simulator ([`crate::SnmpSim`]).
    pub snmpsim_bin: PathBuf,
    /// ICMP test hosts by name: `up`, `slow` (+50 ms), `lossy` (30 %), `down` (never answers).
    pub icmp_hosts: BTreeMap<String, IpAddr>,
    /// The real kubelet nodes (containerd, CNI bridge), in the sandbox's order.
    pub nodes: Vec<String>,
    /// The real nodes' pool: label and `NoSchedule` taint `vigil.dev/pool=<pool>`, as the fake
    /// kubelet's pools, so only workloads that ask for them land there.
    pub node_pool: String,
    /// The host's address as pods see it: the API server forwarder, the pods' DNS server,
    /// snmpd, snmpsim; tests bind servers pods must reach (Slack recorders) here.
    pub pod_host_addr: IpAddr,
    /// A name the pods' DNS server resolves to `pod_host_addr` (for URLs given to pods by name).
    pub pod_host_name: String,
    /// snmpsim as pods reach it, one address per simulated device.
    pub pod_snmpsim: Vec<SocketAddr>,
    /// The range of the real nodes' pod addresses.
    pub pod_cidr: String,
    /// Images built by the sandbox and present on every real node.
    pub images: Images,
    /// Every query the pods' DNS server answered: `client name type rcode` lines.
    pub pod_dns_log: PathBuf,
}

/// The images the sandbox imports into the real nodes' containerd (no registry is reachable).
#[derive(Debug, Clone)]
pub struct Images {
    /// `vigil-agent`: the Containerfile's stage around the workspace's release binary.
    pub agent: String,
    /// The InfluxDB stand-in (Debian's InfluxDB 1.6 behind InfluxDB 2's container contract).
    pub influxdb: String,
    /// Debian minbase with python3, for test workloads.
    pub debian: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("no sandbox environment at {path}; start it with `scripts/sandbox up`")]
    Missing { path: PathBuf },
    #[error("sandbox variable {name} is missing")]
    Variable { name: &'static str },
    #[error("sandbox variable {name} has an invalid value {value:?}")]
    Invalid { name: &'static str, value: String },
}

static SANDBOX: OnceLock<Result<Sandbox, String>> = OnceLock::new();

/// True when running under CI, where a missing sandbox is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The running sandbox. In CI a missing sandbox panics; elsewhere this prints a notice
/// to stderr and returns `None`, and the test returns early.
pub fn sandbox() -> Option<&'static Sandbox> {
    let loaded = SANDBOX.get_or_init(|| Sandbox::load().map_err(|e| e.to_string()));
    match loaded {
        Ok(sandbox) => Some(sandbox),
        Err(e) if in_ci() => panic!("CI needs the sandbox: {e}"),
        Err(e) => {
            eprintln!("NOT RUN (no sandbox): {e}");
            None
        }
    }
}

/// Returns early from a test when there is no sandbox (panics in CI).
#[macro_export]
macro_rules! require_sandbox {
    () => {
        match $crate::sandbox() {
            Some(sandbox) => sandbox,
            None => return,
        }
    };
}

fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VIGIL_SANDBOX_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".cache/vigil/sandbox")
}

/// Parses `export NAME='value'` lines.
fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("export "))
        .filter_map(|rest| rest.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or(v);
            (k.to_string(), v.to_string())
        })
        .collect()
}

impl Sandbox {
    /// Loads the sandbox description from the environment and the sandbox's env file.
    pub fn load() -> Result<Self, SandboxError> {
        let dir = default_dir();
        let path = dir.join("env");
        let file = std::fs::read_to_string(&path)
            .map_err(|_| SandboxError::Missing { path: path.clone() })?;
        let vars = parse_env_file(&file);
        let get = |name: &'static str| -> Result<String, SandboxError> {
            std::env::var(name)
                .ok()
                .or_else(|| vars.get(name).cloned())
                .ok_or(SandboxError::Variable { name })
        };
        let parse_addr = |name: &'static str| -> Result<SocketAddr, SandboxError> {
            let value = get(name)?;
            value
                .parse()
                .map_err(|_| SandboxError::Invalid { name, value })
        };
        let grace = get("VIGIL_NODE_MONITOR_GRACE")?;
        let node_monitor_grace =
            grace
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| SandboxError::Invalid {
                    name: "VIGIL_NODE_MONITOR_GRACE",
                    value: grace.clone(),
                })?;
        let mut icmp_hosts = BTreeMap::new();
        let hosts = get("VIGIL_ICMP_HOSTS")?;
        for pair in hosts.split_whitespace() {
            let invalid = || SandboxError::Invalid {
                name: "VIGIL_ICMP_HOSTS",
                value: hosts.clone(),
            };
            let (name, addr) = pair.split_once('=').ok_or_else(invalid)?;
            icmp_hosts.insert(name.to_string(), addr.parse().map_err(|_| invalid())?);
        }
        Ok(Self {
            kubeconfig: PathBuf::from(get("KUBECONFIG")?),
            kube_bin: PathBuf::from(get("VIGIL_KUBE_BIN")?),
            node_monitor_grace,
            crd_dir: PathBuf::from(get("VIGIL_CRD_DIR")?),
            influxdb_url: get("VIGIL_INFLUXDB_URL")?,
            vm_url: get("VIGIL_VM_URL")?,
            snmpd: parse_addr("VIGIL_SNMPD")?,
            snmp_community: get("VIGIL_SNMP_COMMUNITY")?,
            snmpv3_user: get("VIGIL_SNMPV3_USER")?,
            snmpv3_user_256: get("VIGIL_SNMPV3_USER_256")?,
            snmpv3_auth_pass: get("VIGIL_SNMPV3_AUTH_PASS")?,
            snmpv3_priv_pass: get("VIGIL_SNMPV3_PRIV_PASS")?,
            snmpsim: parse_addr("VIGIL_SNMPSIM")?,
            snmpsim_extra: {
                let value = get("VIGIL_SNMPSIM_EXTRA")?;
                value
                    .split_whitespace()
                    .map(|a| {
                        a.parse().map_err(|_| SandboxError::Invalid {
                            name: "VIGIL_SNMPSIM_EXTRA",
                            value: value.clone(),
                        })
                    })
                    .collect::<Result<_, _>>()?
            },
            snmpsim_data: PathBuf::from(get("VIGIL_SNMPSIM_DATA")?),
            snmpsim_bin: PathBuf::from(get("VIGIL_SNMPSIM_BIN")?),
            icmp_hosts,
            nodes: get("VIGIL_NODES")?
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            node_pool: get("VIGIL_NODE_POOL")?,
            pod_host_addr: {
                let value = get("VIGIL_POD_HOST_ADDR")?;
                value.parse().map_err(|_| SandboxError::Invalid {
                    name: "VIGIL_POD_HOST_ADDR",
                    value,
                })?
            },
            pod_host_name: get("VIGIL_POD_HOST_NAME")?,
            pod_cidr: get("VIGIL_POD_CIDR")?,
            pod_snmpsim: {
                let value = get("VIGIL_POD_SNMPSIM")?;
                value
                    .split_whitespace()
                    .map(|a| {
                        a.parse().map_err(|_| SandboxError::Invalid {
                            name: "VIGIL_POD_SNMPSIM",
                            value: value.clone(),
                        })
                    })
                    .collect::<Result<_, _>>()?
            },
            images: Images {
                agent: get("VIGIL_IMAGE_AGENT")?,
                influxdb: get("VIGIL_IMAGE_INFLUXDB")?,
                debian: get("VIGIL_IMAGE_DEBIAN")?,
            },
            pod_dns_log: PathBuf::from(get("VIGIL_POD_DNS_LOG")?),
            dir,
        })
    }

    /// A client for the sandbox's API server with the admin kubeconfig.
    pub async fn client(&self) -> kube::Client {
        client_from_kubeconfig(&self.kubeconfig).await
    }

    /// `kubectl` (v1.20, built with the control plane) with the admin kubeconfig.
    pub fn kubectl(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(self.kube_bin.join("kubectl"));
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        cmd
    }

    /// Node selector and toleration that place a workload on the real nodes.
    pub fn real_placement(
        &self,
    ) -> (
        BTreeMap<String, String>,
        k8s_openapi::api::core::v1::Toleration,
    ) {
        crate::pool_placement(&self.node_pool)
    }

    /// Runs `scripts/sandbox ARGS` (e.g. `kill-node 2`, `restart-node 2`) and checks it succeeded.
    pub fn script(&self, args: &[&str]) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/sandbox");
        let out = std::process::Command::new(&script)
            .args(args)
            .env("VIGIL_SANDBOX_DIR", &self.dir)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "scripts/sandbox {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The address of an ICMP test host (`up`, `slow`, `lossy`, `down`).
    pub fn icmp_host(&self, name: &str) -> IpAddr {
        *self
            .icmp_hosts
            .get(name)
            .unwrap_or_else(|| panic!("the sandbox has no ICMP host named {name}"))
    }
}

/// A kube client built from a kubeconfig file.
pub async fn client_from_kubeconfig(path: &Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .unwrap_or_else(|e| panic!("reading kubeconfig {}: {e}", path.display()));
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap_or_else(|e| panic!("loading kubeconfig {}: {e}", path.display()));
    kube::Client::try_from(config).expect("building a kube client")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_exports() {
        let vars = parse_env_file("export A='x y'\nexport B=z\n# comment\n");
        assert_eq!(vars.get("A").map(String::as_str), Some("x y"));
        assert_eq!(vars.get("B").map(String::as_str), Some("z"));
        assert_eq!(vars.len(), 2);
    }
}
