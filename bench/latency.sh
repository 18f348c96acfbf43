#!/usr/bin/env bash
# Glass-to-glass latency of LL-HLS: a 720p30 ffmpeg publish (x264 with
# B-frames, as OBS sends) through the default ladder, played by hls.js on
# the watch page in low-latency mode; every 200 ms the playing frame's
# EXT-X-PROGRAM-DATE-TIME (when that frame arrived at ingest) is taken from
# the wall clock, on one machine. single: `livestream serve`; cluster:
# `livestream origin` in front of two servers over Redis. Also prints the
# server's part latency (a part's last frame in -> the part listed).
#   RUNS=3 SECONDS_=60 MODES="single cluster" bash bench/latency.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
out=$(mktemp)
for mode in ${MODES:-single cluster}; do
  for i in $(seq "$runs"); do
    LIVESTREAM_LATENCY_BENCH=$mode LATENCY_SECONDS=${SECONDS_:-60} \
      go test -count=1 -run '^TestLatencyBenchmark$' -timeout 15m ./cmd/livestream -v 2>&1 |
      grep -E '^(LATENCY|PARTLATENCY)' | sed "s/^/$mode run=$i /" | tee -a "$out"
  done
done
echo
echo "medians of $runs runs:"
for mode in ${MODES:-single cluster}; do
  for key in p50 p99; do
    v=$(grep "^$mode run=.* LATENCY " "$out" | grep -oE " $key=[0-9.]+" | cut -d= -f2 | sort -n | awk '{a[NR]=$1} END{if (NR) print a[int((NR+1)/2)]}')
    echo "$mode glass-to-glass $key: ${v:-n/a} s"
  done
  for key in p50 p99; do
    v=$(grep "^$mode run=.* PARTLATENCY " "$out" | grep -oE " $key=[0-9.]+" | cut -d= -f2 | sort -n | awk '{a[NR]=$1} END{if (NR) print a[int((NR+1)/2)]}')
    if [ -n "$v" ]; then echo "$mode part latency $key: $v s"; fi
  done
done
rm -f "$out"
