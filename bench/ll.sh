#!/usr/bin/env bash
# Low-latency HLS origin benchmark: 2,000 viewers of one 3-rendition stream
# blocked at its live edge through origin.NewCluster (a child process),
# one upstream origin.NewLocal whose hlsmux.Edge advances a part every
# 0.5 s, 20 parts. Reports the upstream requests per part and rendition
# (each must be 1), the origin's CPU per second of wall time, and how soon
# viewers had each part's playlist. BITRATES=0,0,0 gives 1 KiB parts (the
# blocking machinery alone, without moving video bytes).
#   VIEWERS=2000 PARTS=20 INTERVAL=500ms BITRATES=0,0,0 bash bench/ll.sh
# BITRATES=5000,3000,800 gives parts of a 5, 3 and 0.8 Mbit/s ladder (~540 MB/s
# to 2,000 viewers over loopback: on 2 cores the viewers fall behind).
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o "${TMPDIR:-/tmp}/llbench" ./bench/cmd/llbench
exec "${TMPDIR:-/tmp}/llbench" \
  -viewers "${VIEWERS:-2000}" \
  -parts "${PARTS:-20}" \
  -interval "${INTERVAL:-500ms}" \
  -bitrates "${BITRATES:-0,0,0}" \
  "$@"
