#!/usr/bin/env bash
# Recording benchmark (issue 5): `livestream serve` with N real-time 720p30
# publishes, with --record=false and recording to a directory, 4 runs in
# ABBA order, then one run recording to S3 (versitygw on 127.0.0.1). Prints
# CPU per stream and peak RSS with and without recording (medians, ratio),
# and the recorder's upload and spool-write latencies (p50/p99).
#   STREAMS=1 SECONDS_=60 RUNS=4 [CONFIG=file.yaml] [LIVESTREAM=bin] bash bench/record.sh
# RUNS, a multiple of 4, is the runs per N with and without recording (ABBA
# BAAB …); more of them sharpen the medians on a noisy machine.
# LIVESTREAM names a livestream binary to use instead of building bin/livestream.
# Needs versitygw: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
set -euo pipefail
cd "$(dirname "$0")/.."
STREAMS=${STREAMS:-1}
LEN=${SECONDS_:-60}
RUNS=${RUNS:-4}
bin=${LIVESTREAM:-}
if [ -z "$bin" ]; then
  make -s build
  bin=bin/livestream
fi
dir=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$dir"
# The source of bench/live.sh: a camera-like 720p30 stream as OBS sends it,
# x264 veryfast at 4.5 Mbit/s, a keyframe every 2 s, AAC 48 kHz. 30 s,
# looped by the publishers.
src="$dir/live-720p30.flv"
if [ ! -s "$src" ]; then
  ffmpeg -hide_banner -loglevel error -nostdin -y \
    -f lavfi -i "testsrc2=size=1280x720:rate=30,noise=alls=20:allf=t" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" -ac 2 \
    -t 30 -c:v libx264 -preset veryfast -g 60 -bf 2 -b:v 4500k -maxrate 4500k -bufsize 9000k \
    -c:a aac -b:a 160k -f flv "$src"
fi
go run ./bench/cmd/livebench -record -livestream "$bin" -streams "$STREAMS" -runs "$RUNS" -seconds "$LEN" -config "${CONFIG:-}" "$src"
