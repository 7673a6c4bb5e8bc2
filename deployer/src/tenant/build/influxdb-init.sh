#!/bin/bash
# Run once by the influxdb image after its initial setup (DOCKER_INFLUXDB_INIT_MODE=setup).
# Creates the InfluxQL mapping for the bucket and two least-privilege v1 users whose passwords
# are the tokens vigil generated: Grafana may only read, the collector may only write.
set -euo pipefail

bucket_id="$(influx bucket list --name "${VIGIL_BUCKET}" --hide-headers | cut -f1)"
influx v1 dbrp create --db "${VIGIL_BUCKET}" --rp autogen --bucket-id "${bucket_id}" --default
influx v1 auth create --username "${VIGIL_GRAFANA_USER}" --password "${VIGIL_GRAFANA_PASSWORD}" \
  --read-bucket "${bucket_id}" --description "vigil: grafana (read)"
influx v1 auth create --username "${VIGIL_COLLECTOR_USER}" --password "${VIGIL_COLLECTOR_PASSWORD}" \
  --write-bucket "${bucket_id}" --description "vigil: collector (write)"
