#!/usr/bin/env bash
# Write-path benchmark: sustained points/s from vigil-agent's write path (batching, gzip,
# fsynced spool, sender) into a private InfluxDB 1.6, against InfluxDB's own limit measured
# the same way: the same points in the same batches, gzipped, POSTed by curl (1 and 4 at
# a time). Usage: agent/bench/write.sh [POINTS] [BATCH]   (default 480000 5000)
source "$(dirname "$0")/lib.sh"
if [ -z "${VIGIL_BENCH_BIN:-}" ]; then (cd "$ROOT" && cargo build --release -q -p vigil-agent --example bench_writer); fi
N=${1:-480000}
BATCH=${2:-5000}
HTTP=$(free_port); RPC=$(free_port)
start_influx() {
  rm -rf "$WORK/influx"; mkdir -p "$WORK/influx"
  cat >"$WORK/influx/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$RPC"
[meta]
  dir = "$WORK/influx/meta"
[data]
  dir = "$WORK/influx/data"
  wal-dir = "$WORK/influx/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$HTTP"
  log-enabled = false
[monitor]
  store-enabled = false
CONF
  influxd -config "$WORK/influx/influxdb.conf" 2>/dev/null & INFLUX=$!; PIDS+=($INFLUX)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HTTP/ping" && break; sleep 0.1; done
  curl -sf -XPOST "http://127.0.0.1:$HTTP/query" --data-urlencode "q=CREATE DATABASE bench" >/dev/null
}
stop_influx() { kill "$INFLUX"; wait "$INFLUX" 2>/dev/null || true; }
W=$ROOT/target/release/examples/bench_writer
"$W" x x "$N" "$BATCH" "$WORK/unused" "$WORK/dump"
for f in "$WORK"/dump/*.lp; do gzip -1 -c "$f" >"$f.gz"; done

printf '%-34s %9s %9s %12s\n' writer points wall_s points/s
for P in 1 4; do
  start_influx
  t0=$(date +%s.%N)
  ls "$WORK"/dump/*.lp.gz | xargs -P "$P" -I{} curl -sf -XPOST -H 'Content-Encoding: gzip' --data-binary @{} "http://127.0.0.1:$HTTP/write?db=bench&precision=ns"
  t1=$(date +%s.%N)
  printf '%-34s %9d %9.2f %12.0f\n' "curl, $P connection(s) (InfluxDB limit)" "$N" "$(echo "$t1 - $t0" | bc -l)" "$(echo "$N / ($t1 - $t0)" | bc -l)"
  stop_influx
done
start_influx
read -r n secs rate < <(/usr/bin/time -f '%U %S %M' -o "$WORK/wtime" "$W" "http://127.0.0.1:$HTTP" bench "$N" "$BATCH" "$WORK/spool")
stored=$(curl -sf "http://127.0.0.1:$HTTP/query?db=bench" --data-urlencode "q=SELECT count(ifOperStatus) FROM interface" | grep -o '"values":\[\[[^]]*' | awk -F, '{print $2}')
printf '%-34s %9d %9.2f %12.0f\n' "vigil-agent write path" "$n" "$secs" "$rate"
echo "vigil-agent CPU: $(awk '{print $1 + $2}' "$WORK/wtime") s for $n points; points stored: $stored"
