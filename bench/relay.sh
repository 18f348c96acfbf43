#!/usr/bin/env bash
# Copy-relay benchmark: package relay (what the server runs per relay
# destination) side by side with the ffmpeg CLI (-re -stream_loop -1 -c copy,
# the tee muxer for several destinations), both relaying a camera-like 720p30
# stream in real time to nginx with its RTMP module on 127.0.0.1. Prints, per
# scenario SxD (S streams × D destinations), the medians of CPU-seconds per
# relayed stream-second and their ratio, whether each side kept up, and the
# largest number of 1-destination streams ours sustains.
#   SCENARIOS=1x10,20x1 SECONDS_=60 RUNS=3 MAX_STEPS=20,50,100,200,400,600,800,1000 MAX_SECONDS=30 bash bench/relay.sh
# SCENARIOS= (empty) skips the scenarios, MAX_STEPS= the max-sustained
# search; a max-sustained step that fails while other work used the CPU is
# tried again (-max-retries, default 2). Extra arguments go to
# the program (e.g. -cpuprofile relay.prof, -reference processes).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/livestream-bench}
mkdir -p "$dir"
# The source is bench/live.sh's (the program makes it with the same ffmpeg
# command when it is missing), shared with live.sh through BENCH_DIR.
go run ./bench/cmd/relaybench \
  -source "$dir/live-720p30.flv" \
  -scenarios "${SCENARIOS-1x10,20x1}" \
  -seconds "${SECONDS_:-60}" \
  -runs "${RUNS:-3}" \
  -max-steps "${MAX_STEPS-20,50,100,200,400,600,800,1000}" \
  -max-seconds "${MAX_SECONDS:-30}" \
  "$@"
