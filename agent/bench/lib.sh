# Shared helpers for the collector benchmarks (sourced).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${VIGIL_BENCH_BIN:-$ROOT/target/release}
WORK=$(mktemp -d /tmp/vigil-bench.XXXXXX)
PIDS=()
cleanup() {
  # newest first: the agent stops before the InfluxDB and responder it talks to
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[$i]}" 2>/dev/null || true; wait "${PIDS[$i]}" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
free_udp_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# cpu_seconds PID: user+system CPU seconds of a running process
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat"; }
# peak_rss_mb PID
peak_rss_mb() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

# timed CMD...: runs CMD under GNU time; prints "wall_s cpu_s maxrss_mb"
timed() {
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" >/dev/null 2>"$WORK/timed.err" || { cat "$WORK/timed.err" >&2; return 1; }
  awk '{printf "%.2f %.2f %.1f\n", $1, $2+$3, $4/1024}' "$WORK/time"
}

build() {
  if [ -z "${VIGIL_BENCH_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release -q -p vigil-agent --bin vigil-agent --example bench_responder)
    BIN=$ROOT/target/release
  fi
}
