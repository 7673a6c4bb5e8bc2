#!/usr/bin/env bash
# ICMP benchmark: N targets in the loopback range x 4 echoes, vigil-agent vs `fping -C 4`.
# Both send 4 echoes per target 1 s apart; fping additionally paces packets (-i 1 ms, its
# minimum without root tweaks is 1 ms here), vigil-agent sends each round to all targets
# at once. Reports wall time, CPU seconds, peak RSS and replies received.
# Usage: agent/bench/icmp.sh [N]   (default 5000; needs root or CAP_NET_RAW for raw sockets
# unless net.ipv4.ping_group_range allows datagram ICMP sockets)
source "$(dirname "$0")/lib.sh"
build
N=${1:-5000}
python3 - "$N" >"$WORK/targets" <<'PY'
import sys
n = int(sys.argv[1])
for i in range(n):
    print(f"127.1.{i // 250}.{i % 250 + 1}")
PY
{
  echo "defaults: {icmp: {count: 4, interval: 1s, timeout: 1s}}"
  echo "devices:"
  while read -r ip; do echo "  - {name: '$ip', address: $ip, icmp: true}"; done <"$WORK/targets"
} >"$WORK/icmp.yaml"

printf '%-22s %7s %9s %9s %9s %10s\n' tool targets wall_s cpu_s rss_mb replies
read -r wall cpu rss < <(timed "$BIN/vigil-agent" once --config "$WORK/icmp.yaml")
replies=$("$BIN/vigil-agent" once --config "$WORK/icmp.yaml" 2>/dev/null | grep -o 'packets_received=[0-9]*' | awk -F= '{s+=$2} END {print s}')
printf '%-22s %7d %9s %9s %9s %10s\n' vigil-agent "$N" "$wall" "$cpu" "$rss" "$replies"

read -r wall cpu rss < <(timed fping -C 4 -q -i 1 -p 1000 -t 1000 -f "$WORK/targets")
fping -C 4 -q -i 1 -p 1000 -t 1000 -f "$WORK/targets" 2>"$WORK/fping.out" || true
replies=$(awk -F' : ' '{n = split($2, a, " "); for (i = 1; i <= n; i++) if (a[i] != "-") c++} END {print c + 0}' "$WORK/fping.out")
printf '%-22s %7d %9s %9s %9s %10s\n' "fping -C 4 -i 1" "$N" "$wall" "$cpu" "$rss" "$replies"
