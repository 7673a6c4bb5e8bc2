# shellcheck shell=bash
# Two real Kubernetes nodes on this machine: each its own containerd (CRI, CNI bridge) and
# kubelet 1.20.2 in a private mount namespace, one kube-proxy (iptables) for the host, the pods'
# DNS server, a forwarder that lets pods reach the API server, and the guard that keeps every
# packet of the sandbox on this machine.
#
# Sourced by scripts/sandbox. Needs: STATE, APISERVER_PORT, kube_bin_dir, start/stop/running,
# wait_for, log, die, admin_token.
#
# Addresses (RFC 2544's 198.18.0.0/15, reserved for benchmarking, never routed off this machine):
#   198.19.255.1        the sandbox's services as pods see them (API server forwarder, DNS :53,
#                       snmpd, snmpsim, Slack recorders of tests), on the port-less bridge vgl-host0
#   198.19.255.11, .12  the nodes' InternalIPs (kubelet :10250)
#   198.19.255.21-.24   more snmpsim addresses, one per simulated device as pods see them
#   198.19.0.0/24       pods of vigil-node-1 (bridge vgl-cni1), 198.19.1.0/24 pods of vigil-node-2
#   198.18.N.2          the ICMP test hosts (network namespaces, see icmp_up)

NODE_COUNT=2
NODE_POOL="real"
HOST_BRIDGE="vgl-host0"
SVC_ADDR="198.19.255.1"
POD_SNMPSIM_ADDRS=(198.19.255.21 198.19.255.22 198.19.255.23 198.19.255.24)
POD_CIDR="198.19.0.0/17"
# Everything the sandbox's pods and test hosts may talk to; the FORWARD guard drops the rest.
SANDBOX_NET="198.18.0.0/15"
GUARD_COMMENT="vigil-sandbox: pod and test-host traffic never leaves this machine"
NODE_RUN="/run/vigil-sandbox"
DNS_PORT=53
# A name the pods' DNS answers for the host's pod side, so tests can give pods URLs by name
# (e.g. a Slack recorder's webhook) as real webhooks are.
POD_HOST_NAME="slack.vigil-sandbox.test"
# sysctls the nodes turn on (the bridge plugin: ip_forward; kube-proxy: route_localnet); `down`
# puts back the values found before the first `up`.
NODE_SYSCTLS=(net.ipv4.ip_forward net.ipv4.conf.all.route_localnet)

node_name() { echo "vigil-node-$1"; }
node_addr() { echo "198.19.255.1$1"; }
node_dir() { echo "$STATE/nodes/$1"; }
node_sock() { echo "$NODE_RUN/containerd$1/containerd.sock"; }
node_cgroup() { echo "vigil-node-$1"; }
node_pod_subnet() { echo "198.19.$(($1 - 1)).0/24"; }
node_pod_gw() { echo "198.19.$(($1 - 1)).1"; }
kubectl_admin() { "$(kube_bin_dir)/kubectl" --kubeconfig "$STATE/kubeconfig" "$@"; }

# ---------------------------------------------------------------- host network

nodes_net_up() {
  mkdir -p "$STATE/nodes"
  local s
  if [ ! -f "$STATE/nodes/sysctl.saved" ]; then
    for s in "${NODE_SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s")"; done >"$STATE/nodes/sysctl.saved.tmp"
    mv "$STATE/nodes/sysctl.saved.tmp" "$STATE/nodes/sysctl.saved"
  fi
  # The kernel has no `dummy` link type: a bridge without ports holds local addresses.
  ip link show "$HOST_BRIDGE" >/dev/null 2>&1 || ip link add "$HOST_BRIDGE" type bridge
  local a have
  for a in "$SVC_ADDR" "$(node_addr 1)" "$(node_addr 2)" "${POD_SNMPSIM_ADDRS[@]}"; do
    have="$(ip -4 -o addr show dev "$HOST_BRIDGE" 2>/dev/null)"
    [[ "$have" == *"inet $a/"* ]] || ip addr add "$a/32" dev "$HOST_BRIDGE"
  done
  ip link set "$HOST_BRIDGE" up
  # The guard: anything forwarded from the sandbox's ranges to anywhere else is dropped. With
  # no other route off the machine being used by pods, this also keeps a pod whose resolver
  # or Service lookup went wrong from reaching the outside.
  iptables -C FORWARD -s "$SANDBOX_NET" ! -d "$SANDBOX_NET" -m comment --comment "$GUARD_COMMENT" -j DROP 2>/dev/null ||
    iptables -I FORWARD 1 -s "$SANDBOX_NET" ! -d "$SANDBOX_NET" -m comment --comment "$GUARD_COMMENT" -j DROP
  sysctl -qw net.ipv4.ip_forward=1
}

nodes_net_down() {
  local r
  while iptables -C FORWARD -s "$SANDBOX_NET" ! -d "$SANDBOX_NET" -m comment --comment "$GUARD_COMMENT" -j DROP 2>/dev/null; do
    iptables -D FORWARD -s "$SANDBOX_NET" ! -d "$SANDBOX_NET" -m comment --comment "$GUARD_COMMENT" -j DROP
  done
  # kubelet's and kube-proxy's chains, and the jumps into them from the built-in chains.
  local t c
  local rules
  for t in filter nat mangle; do
    rules="$(iptables -t "$t" -S 2>/dev/null || true)"
    while read -r r; do
      [ -n "$r" ] && eval iptables -t "$t" "${r/#-A/-D}" 2>/dev/null || true
    done < <(grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*KUBE-' <<<"$rules" || true)
    for c in $(awk '/^-N KUBE-/{print $2}' <<<"$rules"); do iptables -t "$t" -F "$c" 2>/dev/null || true; done
    for c in $(awk '/^-N KUBE-/{print $2}' <<<"$rules"); do iptables -t "$t" -X "$c" 2>/dev/null || true; done
  done
  for l in "$HOST_BRIDGE" vgl-cni1 vgl-cni2; do
    ip link show "$l" >/dev/null 2>&1 && ip link delete "$l"
  done
  if [ -f "$STATE/nodes/sysctl.saved" ]; then
    while IFS='=' read -r s v; do sysctl -qw "$s=$v"; done <"$STATE/nodes/sysctl.saved"
    rm -f "$STATE/nodes/sysctl.saved"
  fi
  return 0
}

# ---------------------------------------------------------------- identities

# write_if_changed FILE: stdin to FILE, leaving FILE untouched when it already says the same
# (kube-proxy exits when its configuration file is written to).
write_if_changed() {
  local tmp="$1.new"
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi
}


# Token lines for the nodes and kube-proxy; added to tokens.csv before the API server starts.
nodes_tokens() {
  local f="$STATE/pki/tokens.csv" i added=0
  for i in $(seq 1 "$NODE_COUNT"); do
    grep -q ",system:node:$(node_name "$i")," "$f" || {
      printf '%s,system:node:%s,%s,system:nodes\n' "$(openssl rand -hex 24)" "$(node_name "$i")" "$(node_name "$i")" >>"$f"
      added=1
    }
  done
  grep -q ',system:kube-proxy,' "$f" || {
    printf '%s,system:kube-proxy,kube-proxy,system:node-proxier\n' "$(openssl rand -hex 24)" >>"$f"
    added=1
  }
  # The API server reads its token file at start: restart it if it runs without these.
  if [ "$added" = 1 ] && running kube-apiserver; then
    log "restarting kube-apiserver to load the nodes' tokens"
    stop kube-apiserver
  fi
  local pki="$STATE/pki"
  if [ ! -s "$pki/kubelet-client.crt" ]; then
    # The API server's client certificate towards kubelets (logs, exec, stats).
    openssl req -newkey rsa:2048 -nodes -keyout "$pki/kubelet-client.key" -out "$pki/kubelet-client.csr" \
      -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" >/dev/null 2>&1
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"$pki/client.ext"
    openssl x509 -req -in "$pki/kubelet-client.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
      -out "$pki/kubelet-client.crt" -days 3650 -extfile "$pki/client.ext" >/dev/null 2>&1
    chmod 600 "$pki/kubelet-client.key"
    running kube-apiserver && stop kube-apiserver
  fi
  return 0
}

token_of() { awk -F, -v u="$1" '$2==u{print $1}' "$STATE/pki/tokens.csv"; }

write_identity_kubeconfig() { # FILE USER
  write_if_changed "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: vigil-sandbox
  cluster: {server: "https://127.0.0.1:$APISERVER_PORT", certificate-authority: $STATE/pki/ca.crt}
users:
- name: $2
  user: {token: $(token_of "$2")}
contexts:
- name: vigil-sandbox
  context: {cluster: vigil-sandbox, user: $2}
current-context: vigil-sandbox
EOF
  chmod 600 "$1"
}

# ---------------------------------------------------------------- per node

containerd_config() { # N
  local n="$1" d
  d="$(node_dir "$n")"
  mkdir -p "$d/cni/net.d"
  cat >"$d/containerd.toml" <<EOF
# vigil sandbox node $n: a private containerd (own root, state, socket), cgroupfs, local images only.
version = 2
root = "$d/containerd"
state = "$NODE_RUN/containerd$n/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$(node_sock "$n")"
[ttrpc]
  address = "$(node_sock "$n").ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  disable_apparmor = true
  # This VM lacks CAP_SYS_RESOURCE: oom_score_adj below 0 fails every sandbox (runc:
  # "can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
        Root = "$NODE_RUN/runc$n"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/containerd/opt"
EOF
  cat >"$d/cni/net.d/10-vigil.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "vigil-node-$n",
  "plugins": [
    {
      "type": "bridge", "bridge": "vgl-cni$n", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$(node_pod_subnet "$n")", "gateway": "$(node_pod_gw "$n")"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$d/cni/ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

kubelet_config() { # N
  local n="$1" d h
  d="$(node_dir "$n")"
  # The cgroup root must exist in every v1 hierarchy; cpuset children start empty.
  for h in /sys/fs/cgroup/*/; do
    case "$h" in */unified/) continue ;; esac
    mkdir -p "$h$(node_cgroup "$n")"
  done
  if [ -d /sys/fs/cgroup/cpuset ]; then
    cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$(node_cgroup "$n")/cpuset.cpus"
    cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$(node_cgroup "$n")/cpuset.mems"
  fi
  cat >"$d/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $(node_addr "$n")
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $((10248 + (n - 1) * 10))
cgroupDriver: cgroupfs
cgroupRoot: /$(node_cgroup "$n")
cgroupsPerQOS: true
failSwapOn: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $STATE/pki/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [$SVC_ADDR]
resolvConf: $STATE/nodes/resolv.conf
allowedUnsafeSysctls: []
# Absolute thresholds: a build machine's disk runs nearly full (cargo targets), and percentages
# of a large disk would evict every pod and garbage-collect the pause image.
evictionHard: {memory.available: "100Mi", nodefs.available: "512Mi", imagefs.available: "512Mi"}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
serializeImagePulls: false
maxPods: 110
EOF
}

# The host's resolver is off the machine: pods never see it (kubelet's resolvConf).
write_node_resolv() {
  printf 'nameserver %s\n' "$SVC_ADDR" >"$STATE/nodes/resolv.conf"
}

# A bind of a node's log directory left in the host's own mount namespace (seen once after an
# interrupted run: the mount namespace holder's pid had been reused) breaks every later
# node_up with "mount(2) system call failed". Only binds of this sandbox's directories go.
unmount_stale_node_logs() {
  local m src
  for m in /var/log/pods /var/log/containers; do
    src="$(findmnt -n -o SOURCE --target "$m" 2>/dev/null | grep -F "$STATE/nodes/" || true)"
    if [ -n "$src" ] && mountpoint -q "$m"; then
      log "removing a stale bind of $m left in the host's mount namespace ($src)"
      umount -l "$m" || true
    fi
  done
}

node_up() { # N
  local n="$1" d holder
  d="$(node_dir "$n")"
  mkdir -p "$d" "$d/pods-log" "$d/containers-log" "$NODE_RUN/containerd$n"
  containerd_config "$n"
  kubelet_config "$n"
  write_identity_kubeconfig "$d/kubelet.kubeconfig" "system:node:$(node_name "$n")"
  # A private mount namespace per node: kubelet hard-codes /var/log/pods and /var/log/containers,
  # and its garbage collector deletes the log directories of pods it does not know, so two
  # kubelets must not share them (and the host's stay untouched).
  if ! running "node$n-mntns"; then
    unmount_stale_node_logs
    start "node$n-mntns" unshare --mount --propagation slave sleep infinity
    wait_for "node $n mount namespace" 10 test -e "/proc/$(cat "$(pidfile "node$n-mntns")")/ns/mnt"
    holder="$(cat "$(pidfile "node$n-mntns")")"
    mkdir -p /var/log/pods /var/log/containers
    nsenter -t "$holder" -m mount --bind "$d/pods-log" /var/log/pods
    nsenter -t "$holder" -m mount --bind "$d/containers-log" /var/log/containers
  fi
  holder="$(cat "$(pidfile "node$n-mntns")")"
  start "containerd$n" nsenter -t "$holder" -m containerd --config "$d/containerd.toml"
  wait_for "containerd $n" 30 ctr --address "$(node_sock "$n")" version
  images_import "$n"
  start "kubelet$n" nsenter -t "$holder" -m "$(kube_bin_dir)/kubelet" \
    --config "$d/kubelet.yaml" --kubeconfig "$d/kubelet.kubeconfig" \
    --root-dir "$d/kubelet" --cert-dir "$d/certs" \
    --hostname-override "$(node_name "$n")" --node-ip "$(node_addr "$n")" \
    --node-labels "vigil.dev/pool=$NODE_POOL,topology.kubernetes.io/zone=vigil-real-$n" \
    --register-with-taints "vigil.dev/pool=$NODE_POOL:NoSchedule" \
    --container-runtime remote \
    --container-runtime-endpoint "unix://$(node_sock "$n")" --image-service-endpoint "unix://$(node_sock "$n")" \
    --runtime-request-timeout 5m --v 1
}

# Kill -9 a node as a power cut would: its kubelet, its containerd and shims, and every
# process of its pods. `scripts/sandbox up` brings it back.
node_kill() { # N
  local n="$1" pid f
  for f in "kubelet$n" "containerd$n"; do
    if running "$f"; then
      pid="$(cat "$(pidfile "$f")")"
      pkill -KILL -P "$pid" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$(pidfile "$f")"
  done
  # containerd-shim-runc-v2 processes of this node's containerd (they carry its socket path).
  pkill -KILL -f "containerd-shim-runc-v2 .*-address $(node_sock "$n")" 2>/dev/null || true
  # Every process of every pod on the node (the node's cgroup root, all hierarchies agree).
  local procs
  for procs in $(find "/sys/fs/cgroup/pids/$(node_cgroup "$n")" -name cgroup.procs 2>/dev/null); do
    while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$procs"
  done
  log "node $(node_name "$n") killed"
}

node_down() { # N
  local n="$1" d c sock
  d="$(node_dir "$n")"
  sock="$(node_sock "$n")"
  stop "kubelet$n"
  if [ -S "$sock" ]; then
    local C=(ctr --address "$sock" -n k8s.io)
    for c in $("${C[@]}" tasks ls -q 2>/dev/null); do "${C[@]}" tasks kill -s KILL "$c" >/dev/null 2>&1 || true; done
    for c in $("${C[@]}" tasks ls -q 2>/dev/null); do "${C[@]}" tasks delete -f "$c" >/dev/null 2>&1 || true; done
    for c in $("${C[@]}" containers ls -q 2>/dev/null); do "${C[@]}" containers delete "$c" >/dev/null 2>&1 || true; done
  fi
  pkill -KILL -f "containerd-shim-runc-v2 .*-address $sock" 2>/dev/null || true
  stop "containerd$n"
  # Pod processes left by a killed node.
  local procs pid
  for procs in $(find "/sys/fs/cgroup/pids/$(node_cgroup "$n")" -name cgroup.procs 2>/dev/null); do
    while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$procs"
  done
  stop "node$n-mntns"
  # Mounts made in the host namespace by CNI (netns files) and leftovers under the node's dirs.
  mount | awk '{print $3}' | grep -E "^($d|$NODE_RUN/containerd$n|$NODE_RUN/runc$n)" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  local h
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h$(node_cgroup "$n")" ] && find "$h$(node_cgroup "$n")" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  rm -rf "$NODE_RUN/containerd$n" "$NODE_RUN/runc$n" "$d/kubelet" "$d/containerd" "$d/cni/ipam" "$d/pods-log" \
    "$d/containers-log" "$d/imported"
  return 0
}

# ---------------------------------------------------------------- cluster-wide node services

kube_proxy_up() {
  local d="$STATE/nodes"
  write_identity_kubeconfig "$d/kube-proxy.kubeconfig" system:kube-proxy
  write_if_changed "$d/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $d/kube-proxy.kubeconfig}
mode: iptables
hostnameOverride: $(node_name 1)
bindAddress: $(node_addr 1)
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clusterCIDR: $POD_CIDR
nodePortAddresses: ["$(node_addr 1)/32", "$(node_addr 2)/32"]
# 0: leave the host's conntrack sysctls alone
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {syncPeriod: 30s, minSyncPeriod: 1s}
EOF
  start kube-proxy "$(kube_bin_dir)/kube-proxy" --config "$d/kube-proxy.yaml" --v 1
}

# Pods reach the API server through the `kubernetes` Service, whose endpoint is the advertised
# address; the API server itself listens on loopback only.
apiserver_forward_up() {
  start apiserver-forward socat "TCP-LISTEN:$APISERVER_PORT,bind=$SVC_ADDR,reuseaddr,fork" "TCP:127.0.0.1:$APISERVER_PORT"
}

pod_dns_up() {
  printf '%s %s\n' "$POD_HOST_NAME" "$SVC_ADDR" >"$STATE/nodes/pod-hosts"
  start pod-dns /usr/bin/python3 "$SCRIPTS/lib/pod-dns.py" --listen "$SVC_ADDR:$DNS_PORT" \
    --kubeconfig "$STATE/kubeconfig" --hosts "$STATE/nodes/pod-hosts" --log "$STATE/log/pod-dns-queries.log"
  wait_for pod-dns 20 dig +time=1 +tries=1 +short "@$SVC_ADDR" kubernetes.default.svc.cluster.local A
}

node_ready() { # N
  kubectl_admin get node "$(node_name "$1")" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True
}

nodes_up() {
  nodes_net_up
  write_node_resolv
  images_build
  apiserver_forward_up
  pod_dns_up
  local n
  for n in $(seq 1 "$NODE_COUNT"); do node_up "$n"; done
  kube_proxy_up
  for n in $(seq 1 "$NODE_COUNT"); do wait_for "node $(node_name "$n") Ready" 120 node_ready "$n"; done
}

nodes_down() {
  local n
  # Let the kubelets stop what runs on them first (CNI DEL, volume unmounts) while they still can.
  for n in $(seq 1 "$NODE_COUNT"); do node_down "$n"; done
  stop kube-proxy
  if [ -x "$(kube_bin_dir)/kube-proxy" ]; then "$(kube_bin_dir)/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
  stop pod-dns
  stop apiserver-forward
  for n in /var/run/netns/cni-*; do [ -e "$n" ] && ip netns delete "${n##*/}" 2>/dev/null; done
  nodes_net_down
  rm -rf "$NODE_RUN"
  unmount_stale_node_logs
  rmdir /var/log/pods /var/log/containers 2>/dev/null || true
  return 0
}

nodes_status() { # prints lines, returns 1 if unhealthy
  local bad=0 n state
  for n in $(seq 1 "$NODE_COUNT"); do
    state="stopped"
    if running "kubelet$n" && running "containerd$n"; then
      if node_ready "$n"; then state="healthy (Ready)"; else state="unhealthy (not Ready)"; bad=1; fi
    else
      bad=1
    fi
    printf '%-24s %-28s %s\n' "node/$(node_name "$n")" "$(node_addr "$n"), pods $(node_pod_subnet "$n")" "$state"
  done
  check kube-proxy "$(node_addr 1)" curl -fsS http://127.0.0.1:10256/healthz || bad=1
  check pod-dns "udp://$SVC_ADDR:$DNS_PORT" dig +time=1 +tries=1 +short "@$SVC_ADDR" kubernetes.default.svc.cluster.local A || bad=1
  check apiserver-forward "$SVC_ADDR:$APISERVER_PORT" curl -fsS --cacert "$STATE/pki/ca.crt" \
    -H "Authorization: Bearer $(admin_token)" --resolve "kubernetes:$APISERVER_PORT:$SVC_ADDR" \
    "https://kubernetes:$APISERVER_PORT/readyz" || bad=1
  if iptables -C FORWARD -s "$SANDBOX_NET" ! -d "$SANDBOX_NET" -m comment --comment "$GUARD_COMMENT" -j DROP 2>/dev/null; then
    printf '%-24s %-28s %s\n' forward-guard "$SANDBOX_NET" "healthy (drops everything else)"
  else
    printf '%-24s %-28s %s\n' forward-guard "$SANDBOX_NET" "absent"
    bad=1
  fi
  return $bad
}
