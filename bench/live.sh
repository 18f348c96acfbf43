#!/usr/bin/env bash
# Live benchmark: N concurrent real-time 720p30 publishes to `livestream
# serve`, side by side with N ffmpeg CLI ladders fed the same stream at its
# native rate. Prints, per N, who keeps up, CPU per stream and livestream's
# segment latency (last frame received → segment listed).
#   STREAMS=1,2 SECONDS_=120 [CONFIG=file.yaml] bash bench/live.sh
set -euo pipefail
cd "$(dirname "$0")/.."
STREAMS=${STREAMS:-1,2}
LEN=${SECONDS_:-120}
make -s build
dir=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$dir"
# A camera-like 720p30 stream as OBS sends it: x264 veryfast at 4.5 Mbit/s,
# a keyframe every 2 s, AAC 48 kHz. 30 s, looped by the publishers.
src="$dir/live-720p30.flv"
if [ ! -s "$src" ]; then
  ffmpeg -hide_banner -loglevel error -nostdin -y \
    -f lavfi -i "testsrc2=size=1280x720:rate=30,noise=alls=20:allf=t" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" -ac 2 \
    -t 30 -c:v libx264 -preset veryfast -g 60 -bf 2 -b:v 4500k -maxrate 4500k -bufsize 9000k \
    -c:a aac -b:a 160k -f flv "$src"
fi
go run ./bench/cmd/livebench -livestream bin/livestream -streams "$STREAMS" -seconds "$LEN" -config "${CONFIG:-}" "$src"
