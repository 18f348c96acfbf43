#!/usr/bin/env bash
# Glass-to-glass latency of LL-HLS: a 720p30 ffmpeg publish (x264 with
# B-frames, as OBS sends) through the default ladder, played by hls.js on
# the watch page; every 200 ms the playing frame's EXT-X-PROGRAM-DATE-TIME
# (when that frame arrived at ingest) is taken from the wall clock, on one
# machine. single: `livestream serve`; cluster: `livestream origin` in
# front of two servers over Redis. fmp4 is LL-HLS (the default); ts is the
# reference, MPEG-TS segments as before LL-HLS, whose playlists have no
# dates: for it hls.js's own latency estimate is the figure (printed for
# both). Also prints the server's part latency (a part's last frame in ->
# the part listed) and segment latency.
# The publisher (ffmpeg) and the player (Chromium) run at niceness
# LATENCY_CLIENTS_NICE (default 10, 0 for none), as if on other machines;
# the publisher sends LATENCY_PUBLISH_BFRAMES B-frames (default 2, as OBS).
#   RUNS=3 SECONDS_=60 MODES="single cluster" FORMATS="fmp4 ts" bash bench/latency.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
out=$(mktemp)
for mode in ${MODES:-single cluster}; do
  for format in ${FORMATS:-fmp4 ts}; do
    for i in $(seq "$runs"); do
      LIVESTREAM_LATENCY_BENCH=$mode LATENCY_FORMAT=$format LATENCY_CLIENTS_NICE=${LATENCY_CLIENTS_NICE:-10} LATENCY_PUBLISH_BFRAMES=${LATENCY_PUBLISH_BFRAMES:-2} LATENCY_SECONDS=${SECONDS_:-60} \
        go test -count=1 -run '^TestLatencyBenchmark$' -timeout 15m ./cmd/livestream -v 2>&1 |
        grep -E '^(LATENCY|PARTLATENCY)' | sed "s/^/$mode $format run=$i /" | tee -a "$out"
    done
  done
done
median() { sort -n | awk '{a[NR]=$1} END{if (NR) print a[int((NR+1)/2)]}'; }
pick() { grep "^$1 $2 run=.* $3 " "$out" | grep -oE " $4=[0-9.]+" | cut -d= -f2 | median; }
echo
echo "medians of $runs runs:"
for mode in ${MODES:-single cluster}; do
  for format in ${FORMATS:-fmp4 ts}; do
    if [ "$format" = fmp4 ]; then
      echo "$mode $format glass-to-glass p50 $(pick "$mode" "$format" LATENCY p50) s, p99 $(pick "$mode" "$format" LATENCY p99) s"
    fi
    echo "$mode $format hls.js latency p50 $(pick "$mode" "$format" LATENCY hlsjs_p50) s, p99 $(pick "$mode" "$format" LATENCY hlsjs_p99) s"
    # The server's own figures come from the admin API of `serve` only.
    if [ "$mode" = single ]; then
      if [ "$format" = fmp4 ]; then
        echo "$mode $format part latency p50 $(pick "$mode" "$format" PARTLATENCY p50) s, p99 $(pick "$mode" "$format" PARTLATENCY p99) s"
      fi
      echo "$mode $format segment latency p50 $(pick "$mode" "$format" PARTLATENCY seg_p50) s, p99 $(pick "$mode" "$format" PARTLATENCY seg_p99) s"
    fi
  done
done
rm -f "$out"
