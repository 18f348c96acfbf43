#!/usr/bin/env bash
# Cluster origin benchmark (issue 6): origin.NewCluster serving a hot 1 MiB
# segment and a live media playlist to 200 keep-alive wrk clients, side by
# side with nginx serving the same files from disk, ABBA, medians and
# ours/nginx. Servers pinned to core 0, wrk to core 1 (PIN=false shares all
# cores).
#   SECONDS_=20 RUNS=3 CONNECTIONS=200 THREADS=2 PIN=true bash bench/origin.sh [-cpuprofile ours.prof] [-v]
# Needs Debian's wrk and nginx: apt-get install -y wrk nginx
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./bench/cmd/originbench \
  -seconds "${SECONDS_:-20}" \
  -runs "${RUNS:-3}" \
  -connections "${CONNECTIONS:-200}" \
  -threads "${THREADS:-2}" \
  -pin="${PIN:-true}" \
  "$@"
