#!/usr/bin/env bash
# Compares live x264 settings on the ladder of a noisy 720p30 source: the
# frames x264 holds a picture back (counted, not timed), each rendition's
# PSNR against the source and its video bytes, and the encode CPU (median
# of the runs, candidates interleaved, today's settings first), as a
# Markdown table.
#   RUNS=3 SECONDS_=20 [ONLY=bf0] bash bench/x264live.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LIVESTREAM_X264_RUNS=${RUNS:-3} LIVESTREAM_X264_SECONDS=${SECONDS_:-20} LIVESTREAM_X264_ONLY=${ONLY:-} \
  go test ./bench/ -run '^TestLiveX264Candidates$' -v -count 1 -timeout 90m
