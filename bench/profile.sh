#!/usr/bin/env bash
# Where a transcode's CPU goes, stage by stage: perf (Debian's linux-perf)
# samples `livestream transcode` of each source and prints CPU-seconds by
# the ladder's named threads and the library the time was spent in, next
# to the floor's parts (bench/compare.sh prints those).
#   bash bench/profile.sh SOURCE...        (default: bench/compare.sh's sources)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "profile.sh: needs perf (apt-get install linux-perf)" >&2; exit 1; }
make -s build
srcs=("$@")
if [ ${#srcs[@]} -eq 0 ]; then
  dir=${BENCH_DIR:-/tmp/livestream-bench}
  srcs=("$dir"/src-*-30fps-20s.flv)
  [ -s "${srcs[0]}" ] || { echo "profile.sh: no sources in $dir; run BENCH_DIR=$dir bash bench/compare.sh first or name them" >&2; exit 1; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for src in "${srcs[@]}"; do
  # cpu-clock: this machine's VM exposes no hardware counters.
  perf record -q -e cpu-clock -F 999 -o "$tmp/perf.data" bin/livestream transcode --quiet "$src" "$tmp/out" >/dev/null 2>&1
  echo "$(basename "$src"): CPU-seconds by stage (perf, cpu-clock)"
  perf report -i "$tmp/perf.data" --stdio -F period,comm,dso 2>/dev/null | awk '
    /^#/ || NF < 3 { next }
    {
      ns = $1; dso = $NF; comm = $2; for (i = 3; i < NF; i++) comm = comm " " $i
      if (dso ~ /kernel/) part = "kernel"
      else if (dso ~ /libx264/) part = "x264"
      else if (dso ~ /libswscale/) part = "swscale"
      else if (dso ~ /libavcodec/) part = (comm == "decode+scale") ? "H.264 decode" : "audio (AAC)"
      else if (dso ~ /livestream/) part = "Go"
      else part = "libc, other"
      stage = (comm ~ /^(x264 |decode\+scale)/) ? comm : "other threads"
      t[stage " / " part] += ns / 1e9; total += ns / 1e9
    }
    END {
      for (k in t) if (t[k] >= 0.01) printf "  %-36s %7.2f s\n", k, t[k] | "sort"
      close("sort")
      printf "  %-36s %7.2f s\n", "total", total
    }'
  rm -rf "$tmp/out" "$tmp/perf.data"
done
