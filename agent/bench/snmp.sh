#!/usr/bin/env bash
# SNMP benchmark: poll N simulated devices with IF-MIB (48 interfaces, the 12 columns of the
# `if-mib` profile) with vigil-agent, Debian's prometheus-snmp-exporter (same OIDs) and
# net-snmp's snmpbulkwalk; report wall time per cycle, CPU seconds, CPU per polled value
# and peak RSS. Then run vigil-agent for two 60 s cycles at 1,000 devices for steady CPU
# and RSS.   Usage: agent/bench/snmp.sh [N ...]   (default: 100 1000)
source "$(dirname "$0")/lib.sh"
build
SIZES=("${@:-100 1000}")
[ $# -gt 0 ] || SIZES=(100 1000)
IFACES=48
COLUMNS=(1.3.6.1.2.1.2.2.1.2 1.3.6.1.2.1.31.1.1.1.1 1.3.6.1.2.1.31.1.1.1.18 1.3.6.1.2.1.2.2.1.7
  1.3.6.1.2.1.2.2.1.8 1.3.6.1.2.1.31.1.1.1.6 1.3.6.1.2.1.31.1.1.1.10 1.3.6.1.2.1.2.2.1.14
  1.3.6.1.2.1.2.2.1.20 1.3.6.1.2.1.2.2.1.13 1.3.6.1.2.1.2.2.1.19 1.3.6.1.2.1.31.1.1.1.15)

PORT=$(free_udp_port)
"$BIN/examples/bench_responder" "127.0.0.1:$PORT" $IFACES 2>/dev/null & PIDS+=($!)
sleep 0.3

# snmp_exporter module with the same 12 columns, by numeric OID (Debian ships no MIBs)
{
  echo "if_mib:"
  echo "  walk: [$(IFS=,; echo "${COLUMNS[*]}")]"
  echo "  version: 2"
  echo "  max_repetitions: 25"
  echo "  timeout: 5s"
  echo "  retries: 1"
  echo "  auth: {community: public}"
  echo "  metrics:"
  for c in "${COLUMNS[@]}"; do
    case $c in
      1.3.6.1.2.1.2.2.1.2|1.3.6.1.2.1.31.1.1.1.1|1.3.6.1.2.1.31.1.1.1.18) t=DisplayString;;
      1.3.6.1.2.1.31.1.1.1.6|1.3.6.1.2.1.31.1.1.1.10|1.3.6.1.2.1.2.2.1.1[349]|1.3.6.1.2.1.2.2.1.20) t=counter;;
      *) t=gauge;;
    esac
    echo "  - {name: c_${c//./_}, oid: $c, type: $t, indexes: [{labelname: ifIndex, type: gauge}]}"
  done
} >"$WORK/snmp.yml"
EXPORTER_PORT=$(free_port)
prometheus-snmp-exporter --config.file="$WORK/snmp.yml" --web.listen-address="127.0.0.1:$EXPORTER_PORT" --log.level=error &
EXPORTER=$!; PIDS+=($EXPORTER)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$EXPORTER_PORT/" >/dev/null && break; sleep 0.1; done

printf '%-28s %7s %9s %9s %14s %9s\n' tool devices wall_s cpu_s cpu_us/value rss_mb
for N in "${SIZES[@]}"; do
  VALUES=$((N * IFACES * ${#COLUMNS[@]}))
  # vigil-agent: one cycle (`once`), the same path `run` takes every interval
  {
    echo "agent: {concurrency: 64}"
    echo "defaults: {snmp: {port: $PORT, timeout: 5s, retries: 1, max_repetitions: 25, community: {env: BENCH_COMMUNITY}}, profiles: [if-mib]}"
    echo "devices:"
    for i in $(seq "$N"); do echo "  - {name: d$i, address: 127.0.0.1, snmp: {}}"; done
  } >"$WORK/vigil-$N.yaml"
  read -r wall cpu rss < <(BENCH_COMMUNITY=public timed "$BIN/vigil-agent" once --config "$WORK/vigil-$N.yaml")
  lines=$(BENCH_COMMUNITY=public "$BIN/vigil-agent" once --config "$WORK/vigil-$N.yaml" | grep -c '^interface,')
  [ "$lines" -eq $((N * IFACES)) ] || { echo "vigil-agent returned $lines interface points, expected $((N * IFACES))" >&2; exit 1; }
  printf '%-28s %7d %9s %9s %14.2f %9s\n' vigil-agent "$N" "$wall" "$cpu" "$(echo "$cpu * 1000000 / $VALUES" | bc -l)" "$rss"

  # snmp_exporter: N concurrent scrapes (64 at a time, as Prometheus would run them)
  c0=$(cpu_seconds $EXPORTER)
  t0=$(date +%s.%N)
  seq "$N" | xargs -P 64 -I{} curl -sf -o "$WORK/scrape" "http://127.0.0.1:$EXPORTER_PORT/snmp?module=if_mib&target=127.0.0.1:$PORT"
  t1=$(date +%s.%N)
  c1=$(cpu_seconds $EXPORTER)
  grep -c '^c_1_3_6_1_2_1_2_2_1_8{' "$WORK/scrape" | grep -qx "$IFACES" || { echo "snmp_exporter scrape incomplete" >&2; exit 1; }
  cpu=$(echo "$c1 - $c0" | bc -l)
  printf '%-28s %7d %9.2f %9.2f %14.2f %9s\n' prometheus-snmp-exporter "$N" "$(echo "$t1 - $t0" | bc -l)" "$cpu" "$(echo "$cpu * 1000000 / $VALUES" | bc -l)" "$(peak_rss_mb $EXPORTER)"

  # net-snmp: snmpbulkwalk of each column of each device, 8 at a time
  for i in $(seq "$N"); do for c in "${COLUMNS[@]}"; do echo "$c"; done; done >"$WORK/walks"
  read -r wall cpu rss < <(timed bash -c "xargs -P 8 -I{} snmpbulkwalk -v2c -c public -On -Cr25 127.0.0.1:$PORT {} <'$WORK/walks'")
  printf '%-28s %7d %9s %9s %14.2f %9s\n' "snmpbulkwalk (xargs -P 8)" "$N" "$wall" "$cpu" "$(echo "$cpu * 1000000 / $VALUES" | bc -l)" "$rss"
done

# steady state: `vigil-agent run` with 1,000 devices on a 60 s interval, writing to a private
# InfluxDB; CPU over two cycles after the first, peak RSS
if [ "${VIGIL_BENCH_STEADY:-1}" = 1 ]; then
  N=1000
  HTTP=$(free_port); RPC=$(free_port)
  mkdir -p "$WORK/influx"
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
  influxd -config "$WORK/influx/influxdb.conf" 2>/dev/null & PIDS+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HTTP/ping" && break; sleep 0.1; done
  curl -sf -XPOST "http://127.0.0.1:$HTTP/query" --data-urlencode "q=CREATE DATABASE bench" >/dev/null
  {
    echo "agent: {concurrency: 64, self_metrics_interval: 60s}"
    echo "spool: {dir: $WORK/spool}"
    echo "output: {influxdb: {url: 'http://127.0.0.1:$HTTP', v1: {database: bench}}}"
    echo "defaults: {interval: 60s, snmp: {port: $PORT, community: {env: BENCH_COMMUNITY}}, profiles: [if-mib]}"
    echo "devices:"
    for i in $(seq "$N"); do echo "  - {name: d$i, address: 127.0.0.1, snmp: {}}"; done
  } >"$WORK/steady.yaml"
  BENCH_COMMUNITY=public VIGIL_LOG=warn "$BIN/vigil-agent" run --config "$WORK/steady.yaml" & AGENT=$!; PIDS+=($AGENT)
  sleep 65   # first cycle (start-up, jitter) excluded
  c0=$(cpu_seconds $AGENT)
  sleep 120
  c1=$(cpu_seconds $AGENT)
  written=$(curl -sf "http://127.0.0.1:$HTTP/query?db=bench" --data-urlencode "q=SELECT count(ifOperStatus) FROM interface" | grep -o '"values":\[\[[^]]*' | awk -F, '{print $2}')
  echo
  echo "steady state, $N devices x $IFACES interfaces, 60 s interval, writing to InfluxDB 1.6:"
  echo "  CPU: $(echo "($c1 - $c0) / 120 * 100" | bc -l | xargs printf '%.1f') % of one core; peak RSS $(peak_rss_mb $AGENT) MB; interface points stored: $written"
fi
