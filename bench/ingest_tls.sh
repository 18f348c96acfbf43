#!/usr/bin/env bash
# RTMPS against RTMP ingest CPU: one real-time publisher (the ffmpeg CLI,
# -re -c copy, in its own process) of a 6 Mbit/s 720p30 stream, over RTMP
# and over RTMPS to the same ingest server, alternating, RUNS times each
# (ingest's BenchmarkIngestCPU). Prints every run and the medians of the
# server's cores (CPU-seconds per second of stream) and their difference.
#   RUNS=5 SECONDS_=20 bash bench/ingest_tls.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/ingest.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./ingest
# One run of the test binary measures rtmp, then rtmps: RUNS of them
# alternate the two (go test -count would run one RUNS times, then the
# other).
out=$(for _ in $(seq "${RUNS:-5}"); do
  (cd ingest && INGEST_BENCH_SECONDS="${SECONDS_:-20}" "$bin" -test.run '^$' -test.bench 'IngestCPU' -test.benchtime 1x)
done)
echo "$out" | grep '^BenchmarkIngestCPU'
echo "$out" | awk '
  /^BenchmarkIngestCPU\// {
    split($1, name, "/"); proto = name[2]; sub(/-[0-9]+$/, "", proto)
    for (i = 2; i < NF; i++) {
      if ($(i+1) == "cores") cores[proto] = cores[proto] " " $i
      if ($(i+1) == "Mbit/s") rate[proto] = rate[proto] " " $i
    }
  }
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    r = median(cores["rtmp"]); s = median(cores["rtmps"])
    printf "median over %d runs: rtmp %.4f cores at %.2f Mbit/s, rtmps %.4f cores at %.2f Mbit/s: TLS adds %.4f cores (%.2fx)\n",
      split(cores["rtmp"], x, " "), r, median(rate["rtmp"]), s, median(rate["rtmps"]), s - r, s / r
  }'
