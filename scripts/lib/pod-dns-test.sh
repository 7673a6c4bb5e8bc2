#!/bin/bash
# Self-check of pod-dns.py against a live API server: pod-dns-test.sh KUBECONFIG [KUBECTL]
# Starts the server on 127.0.0.1:<random port>, creates a scratch namespace with a Service and
# a headless Service (selectorless, with hand-written Endpoints), and checks with dig: ClusterIP
# A record, headless A records, StatefulSet-style hostname, AAAA = NOERROR/empty, unknown name and
# example.com = NXDOMAIN, TCP, malformed packets, and that the server holds no socket besides its
# listeners and the API connection. Exits non-zero on the first failure; cleans up in any case.
set -euo pipefail

kubeconfig="${1:?usage: pod-dns-test.sh KUBECONFIG [KUBECTL]}"
kubectl="${2:-${KUBECTL:-kubectl}}"
here="$(cd "$(dirname "$0")" && pwd)"
port=$((20000 + RANDOM % 20000))
ns="dnstest-$RANDOM$RANDOM"
tmp="$(mktemp -d)"
pid=""

k() { "$kubectl" --kubeconfig "$kubeconfig" "$@"; }
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  k delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "pod-dns-test: FAIL: $*" >&2; echo "--- server log:" >&2; tail -20 "$tmp/log" >&2; exit 1; }
q() { dig +time=2 +tries=1 -p "$port" @127.0.0.1 "$@"; }
status() { q "$@" | sed -n 's/.*status: \([A-Z]*\).*/\1/p'; }

k create namespace "$ns" >/dev/null
k apply -n "$ns" -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: hl}
spec: {clusterIP: None, ports: [{port: 80}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: hl}
subsets:
- addresses: [{ip: 192.0.2.5, hostname: db-0}, {ip: 192.0.2.6, hostname: db-1}]
  notReadyAddresses: [{ip: 192.0.2.7, hostname: db-2}]
  ports: [{port: 80}]
EOF
cluster_ip="$(k get service web -n "$ns" -o jsonpath='{.spec.clusterIP}')"
echo "static-host.test 198.51.100.9" >"$tmp/hosts"

python3 "$here/pod-dns.py" --listen "127.0.0.1:$port" --kubeconfig "$kubeconfig" \
  --hosts "$tmp/hosts" --log "$tmp/log" &
pid=$!
svc="web.$ns.svc.cluster.local"
for _ in $(seq 50); do
  [ "$(q +short "$svc")" = "$cluster_ip" ] && break
  sleep 0.2
done

[ "$(q +short "$svc")" = "$cluster_ip" ] || fail "A $svc is not $cluster_ip"
q "$svc" | grep -q "flags: qr aa" || fail "no AA flag on $svc"
q "$svc" | grep -q "flags: qr aa rd ra" && fail "RA set"
[ "$(q +short "hl.$ns.svc.CLUSTER.local" | sort | tr '\n' ' ')" = "192.0.2.5 192.0.2.6 " ] ||
  fail "headless hl.$ns: not exactly its two ready endpoints"
[ "$(q +short "db-1.hl.$ns.svc.cluster.local")" = 192.0.2.6 ] || fail "hostname db-1.hl.$ns"
[ "$(status "db-2.hl.$ns.svc.cluster.local")" = NXDOMAIN ] || fail "not-ready db-2 resolves"
[ "$(status "$svc" AAAA)" = NOERROR ] || fail "AAAA $svc is not NOERROR"
[ -z "$(q +short "$svc" AAAA)" ] || fail "AAAA $svc has answers"
[ "$(status "nope.$ns.svc.cluster.local")" = NXDOMAIN ] || fail "unknown service is not NXDOMAIN"
[ "$(status example.com)" = NXDOMAIN ] || fail "example.com is not NXDOMAIN"
[ "$(q +short static-host.test)" = 198.51.100.9 ] || fail "--hosts name"
[ "$(q +tcp +short "$svc")" = "$cluster_ip" ] || fail "TCP query"

python3 - "$port" <<'EOF'
import os, socket, struct, sys, time
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for n in (0, 1, 11, 12, 13, 64, 512, 1400):
    s.sendto(os.urandom(n), ("127.0.0.1", port))
    time.sleep(0.01)
s.sendto(struct.pack("!6H", 1, 0x100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01", ("127.0.0.1", port))
t = socket.create_connection(("127.0.0.1", port))
t.sendall(b"\x00\x40" + os.urandom(64))
t.close()
EOF
kill -0 "$pid" 2>/dev/null || fail "server died on malformed packets"
[ "$(q +short "$svc")" = "$cluster_ip" ] || fail "server stopped answering after malformed packets"

# Never forwards: besides its two listeners, the server may only talk to the API server.
api="$(sed -n 's/.*server: *"\{0,1\}https:\/\/\([^",} ]*\).*/\1/p' "$kubeconfig" | head -1)"
others="$(ss -tunapH 2>/dev/null | grep "pid=$pid," | grep -v "127.0.0.1:$port " | grep -vF " $api " || true)"
[ -z "$others" ] || fail "unexpected sockets: $others"

k delete service web -n "$ns" >/dev/null
for _ in $(seq 25); do
  [ "$(status "$svc")" = NXDOMAIN ] && break
  sleep 0.2
done
[ "$(status "$svc")" = NXDOMAIN ] || fail "deleted service still resolves after 5 s"
grep -q "query 127.0.0.1 example.com A NXDOMAIN 0" "$tmp/log" || fail "query log line missing"

kill "$pid"
wait "$pid" || fail "server did not exit 0 on SIGTERM"
pid=""
echo "pod-dns-test: ok"
