#!/usr/bin/env bash
# Runs livestream's transcode and the reference ffmpeg CLI ladder side by side
# on the same 720p30 and 1080p30 sources (testsrc2 + noise, AAC audio),
# alternating runs, and prints the medians and ratios with the CPU floor.
#   RUNS=5 SECONDS_=20 bash bench/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
LEN=${SECONDS_:-20}
make -s build
dir=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$dir"
for size in 1280x720 1920x1080; do
  src="$dir/src-$size-30fps-${LEN}s.flv"
  if [ ! -s "$src" ]; then
    ffmpeg -hide_banner -loglevel error -nostdin -y \
      -f lavfi -i "testsrc2=size=$size:rate=30,noise=alls=20:allf=t" \
      -f lavfi -i "sine=frequency=440:sample_rate=44100" -ac 2 \
      -t "$LEN" -c:v libx264 -preset veryfast -g 60 -bf 2 -b:v 8M -c:a aac -b:a 128k -f flv "$src"
  fi
  srcs+=("$src")
done
go run ./bench/cmd/sidebyside -livestream bin/livestream -runs "$RUNS" "${srcs[@]}"
