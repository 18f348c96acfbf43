#!/usr/bin/env bash
# Redis round trips of a cluster (issue 6): a real redis-server, one
# `livestream server` and one `livestream origin` process, one real-time
# stream published with the ffmpeg CLI and VIEWERS simulated hls.js viewers
# through the origin. Redis counts the commands (INFO commandstats) over an
# idle window, a streaming window and a viewers window; medians of RUNS runs.
#   RUNS=3 VIEWERS=50 bash bench/redis.sh [-monitor /tmp/redis-monitor] [-stream 60s]
# Needs redis-server and ffmpeg: apt-get install -y redis-server ffmpeg
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
bin=$(mktemp -d)/livestream
trap 'rm -rf "$(dirname "$bin")"' EXIT
"$GO" build -o "$bin" ./cmd/livestream
"$GO" run ./bench/cmd/redisbench \
  -bin "$bin" \
  -runs "${RUNS:-3}" \
  -viewers "${VIEWERS:-50}" \
  "$@"
