//! The rendered agent pod against the `restricted` Pod Security Standard, checked field by
//! field (the sandbox's Kubernetes 1.20 predates Pod Security admission). The checker is
//! proven on pods that break each rule.

use serde_json::{Value, json};

use crate::support::vigil;

const BASELINE_CAPS: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
];
const RESTRICTED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

fn truthy(v: &Value) -> bool {
    v.as_bool() == Some(true)
}

/// Every violation of the baseline and restricted profiles (v1.33 definitions) by a pod
/// template (`metadata` and `spec`).
pub fn violations(template: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let spec = &template["spec"];
    let annotations = &template["metadata"]["annotations"];
    let psc = &spec["securityContext"];
    // baseline: host namespaces
    for f in ["hostNetwork", "hostPID", "hostIPC"] {
        if truthy(&spec[f]) {
            out.push(format!("spec.{f} is true"));
        }
    }
    if truthy(&psc["windowsOptions"]["hostProcess"]) {
        out.push("spec.securityContext.windowsOptions.hostProcess".into());
    }
    // baseline: sysctls
    for s in psc["sysctls"].as_array().into_iter().flatten() {
        let name = s["name"].as_str().unwrap_or_default();
        if !SAFE_SYSCTLS.contains(&name) {
            out.push(format!("sysctl {name} is not safe"));
        }
    }
    // restricted: volume types; baseline: no hostPath
    for v in spec["volumes"].as_array().into_iter().flatten() {
        let name = v["name"].as_str().unwrap_or_default();
        let kinds: Vec<&String> = v
            .as_object()
            .map(|o| o.keys().filter(|k| *k != "name").collect())
            .unwrap_or_default();
        for k in kinds {
            if !RESTRICTED_VOLUMES.contains(&k.as_str()) {
                out.push(format!("volume {name}: type {k} is not allowed"));
            }
        }
    }
    // baseline: AppArmor
    if let Some(map) = annotations.as_object() {
        for (k, v) in map {
            let profile = v.as_str().unwrap_or_default();
            if k.starts_with("container.apparmor.security.beta.kubernetes.io/")
                && profile != "runtime/default"
                && !profile.starts_with("localhost/")
            {
                out.push(format!("AppArmor profile {profile}"));
            }
        }
    }
    let selinux = |ctx: &Value, at: &str, out: &mut Vec<String>| {
        let se = &ctx["seLinuxOptions"];
        let ty = se["type"].as_str().unwrap_or_default();
        if ![
            "",
            "container_t",
            "container_init_t",
            "container_kvm_t",
            "container_engine_t",
        ]
        .contains(&ty)
        {
            out.push(format!("{at}.seLinuxOptions.type {ty}"));
        }
        if !se["user"].is_null() || !se["role"].is_null() {
            out.push(format!("{at}.seLinuxOptions user/role set"));
        }
    };
    selinux(psc, "spec.securityContext", &mut out);
    let pod_non_root = truthy(&psc["runAsNonRoot"]);
    if psc["runAsUser"].as_i64() == Some(0) {
        out.push("spec.securityContext.runAsUser is 0".into());
    }
    let pod_seccomp = psc["seccompProfile"]["type"].as_str();
    if pod_seccomp == Some("Unconfined") {
        out.push("spec.securityContext.seccompProfile is Unconfined".into());
    }
    let containers = ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|k| spec[*k].as_array().into_iter().flatten());
    let mut count = 0;
    for c in containers {
        count += 1;
        let at = format!("container {}", c["name"].as_str().unwrap_or("?"));
        let sc = &c["securityContext"];
        if truthy(&sc["privileged"]) {
            out.push(format!("{at}: privileged"));
        }
        for p in c["ports"].as_array().into_iter().flatten() {
            if p["hostPort"].as_i64().unwrap_or(0) != 0 {
                out.push(format!("{at}: hostPort"));
            }
        }
        if !sc["procMount"].is_null() && sc["procMount"] != "Default" {
            out.push(format!("{at}: procMount"));
        }
        selinux(sc, &at, &mut out);
        if sc["allowPrivilegeEscalation"] != json!(false) {
            out.push(format!("{at}: allowPrivilegeEscalation is not false"));
        }
        let non_root = match sc["runAsNonRoot"].as_bool() {
            Some(v) => v,
            None => pod_non_root,
        };
        if !non_root {
            out.push(format!("{at}: runAsNonRoot is not true"));
        }
        if sc["runAsUser"].as_i64() == Some(0) {
            out.push(format!("{at}: runAsUser is 0"));
        }
        match sc["seccompProfile"]["type"].as_str().or(pod_seccomp) {
            Some("RuntimeDefault" | "Localhost") => {}
            other => out.push(format!("{at}: seccompProfile is {other:?}")),
        }
        let caps = &sc["capabilities"];
        let drops_all = caps["drop"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "ALL"));
        if !drops_all {
            out.push(format!("{at}: capabilities.drop lacks ALL"));
        }
        for add in caps["add"].as_array().into_iter().flatten() {
            let add = add.as_str().unwrap_or_default();
            if !BASELINE_CAPS.contains(&add) {
                out.push(format!("{at}: capability {add} (not even baseline)"));
            } else if add != "NET_BIND_SERVICE" {
                out.push(format!("{at}: capability {add}"));
            }
        }
    }
    if count == 0 {
        out.push("no containers".into());
    }
    out
}

async fn daemonset_pod(args: &[&str]) -> (Value, Value) {
    let mut all = vec!["agent", "render"];
    all.extend_from_slice(args);
    let run = vigil(None, &all).await;
    run.ok();
    let docs: Vec<Value> = run
        .stdout
        .split("\n---\n")
        .filter_map(|d| serde_norway::from_str::<Value>(d).ok())
        .collect();
    let ns = docs
        .iter()
        .find(|d| d["kind"] == "Namespace")
        .cloned()
        .expect("a namespace");
    let ds = docs
        .iter()
        .find(|d| d["kind"] == "DaemonSet")
        .expect("a DaemonSet");
    (ds["spec"]["template"].clone(), ns)
}

#[tokio::test]
async fn rendered_pod_satisfies_the_restricted_profile() {
    for icmp in ["auto", "sysctl", "off"] {
        let (pod, ns) = daemonset_pod(&["--icmp", icmp, "--slack-webhook-env", "X"]).await;
        assert_eq!(violations(&pod), Vec::<String>::new(), "--icmp {icmp}");
        assert_eq!(
            ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
            "restricted"
        );
        // Beyond the profile: read-only root, a fixed non-root user, no host anything.
        let c = &pod["spec"]["containers"][0];
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(pod["spec"]["securityContext"]["runAsUser"], 65532);
        assert_eq!(pod["spec"]["securityContext"]["runAsGroup"], 65532);
    }
    let (pod, _) = daemonset_pod(&["--icmp", "sysctl"]).await;
    assert_eq!(
        pod["spec"]["securityContext"]["sysctls"],
        json!([{"name": "net.ipv4.ping_group_range", "value": "65532 65532"}]),
        "ICMP sockets for the agent's own group only"
    );
}

#[tokio::test]
async fn net_raw_is_the_only_deviation_when_chosen() {
    let (pod, ns) = daemonset_pod(&["--icmp", "net-raw"]).await;
    // NET_RAW is outside even the baseline profile, and a non-root process only gets it
    // from the binary's file capability, which needs privilege escalation: the documented
    // exception, and nothing more.
    assert_eq!(
        violations(&pod),
        [
            "container agent: allowPrivilegeEscalation is not false",
            "container agent: capability NET_RAW (not even baseline)"
        ]
    );
    let sc = &pod["spec"]["containers"][0]["securityContext"];
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(sc["capabilities"]["add"], json!(["NET_RAW"]));
    assert_eq!(sc["runAsNonRoot"], true);
    assert!(pod["spec"]["securityContext"]["sysctls"].is_null());
    let labels = &ns["metadata"]["labels"];
    assert_eq!(labels["pod-security.kubernetes.io/enforce"], "privileged");
    assert_eq!(labels["pod-security.kubernetes.io/audit"], "restricted");
    assert_eq!(labels["pod-security.kubernetes.io/warn"], "restricted");
}

type Breaker = Box<dyn Fn(&mut Value)>;

#[tokio::test]
async fn the_checker_catches_each_rule() {
    let (good, _) = daemonset_pod(&[]).await;
    let breakers: Vec<(&str, Breaker)> = vec![
        (
            "spec.hostNetwork",
            Box::new(|p| p["spec"]["hostNetwork"] = json!(true)),
        ),
        (
            "spec.hostPID",
            Box::new(|p| p["spec"]["hostPID"] = json!(true)),
        ),
        (
            "not safe",
            Box::new(|p| {
                p["spec"]["securityContext"]["sysctls"] =
                    json!([{"name": "net.core.somaxconn", "value": "1"}])
            }),
        ),
        (
            "type hostPath",
            Box::new(|p| p["spec"]["volumes"] = json!([{"name": "h", "hostPath": {"path": "/"}}])),
        ),
        (
            "privileged",
            Box::new(|p| p["spec"]["containers"][0]["securityContext"]["privileged"] = json!(true)),
        ),
        (
            "allowPrivilegeEscalation",
            Box::new(|p| {
                p["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] =
                    json!(true)
            }),
        ),
        (
            "runAsNonRoot",
            Box::new(|p| {
                p["spec"]["securityContext"]["runAsNonRoot"] = Value::Null;
                p["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = Value::Null;
            }),
        ),
        (
            "runAsUser is 0",
            Box::new(|p| p["spec"]["securityContext"]["runAsUser"] = json!(0)),
        ),
        (
            "seccompProfile",
            Box::new(|p| p["spec"]["securityContext"]["seccompProfile"] = Value::Null),
        ),
        (
            "drop lacks ALL",
            Box::new(|p| {
                p["spec"]["containers"][0]["securityContext"]["capabilities"]["drop"] = json!([])
            }),
        ),
        (
            "capability SYS_ADMIN",
            Box::new(|p| {
                p["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] =
                    json!(["SYS_ADMIN"])
            }),
        ),
        (
            "hostPort",
            Box::new(|p| p["spec"]["containers"][0]["ports"][0]["hostPort"] = json!(9273)),
        ),
        (
            "AppArmor",
            Box::new(|p| {
                p["metadata"]["annotations"]["container.apparmor.security.beta.kubernetes.io/agent"] =
                    json!("unconfined")
            }),
        ),
    ];
    for (want, breaker) in breakers {
        let mut pod = good.clone();
        breaker(&mut pod);
        let v = violations(&pod);
        assert!(v.iter().any(|x| x.contains(want)), "{want}: {v:?}");
    }
}
