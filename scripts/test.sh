#!/usr/bin/env bash
# make test's test run, in two lanes at once on a 2-core machine, each one
# test binary at a time (so never more than two run, as `go test ./...`
# would run them):
#   lane 1: every package not under the race detector, cmd/livestream's
#           end-to-end tests first (the longest, ~8 min), then the rest;
#   lane 2: the race packages, under the race detector only (they ran
#           twice before: once plain, once with -race), then pipeline,
#           then the fuzz run (one target at a time).
# The lanes' logs are printed whole when both are done; the run fails if
# either did.
#   RACE_PKGS="./media/... ./live/..." FUZZTIME=2s bash scripts/test.sh
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
RACE_PKGS=${RACE_PKGS:?RACE_PKGS: the packages run under the race detector}
FUZZ_PKGS=${FUZZ_PKGS:-./...}
FUZZTIME=${FUZZTIME:-2s}

# Lane 1 is what `go list ./...` gives less lane 2's packages.
race=$("$GO" list $RACE_PKGS)
lane2_plain=$("$GO" list ./pipeline/...)
lane1=$("$GO" list ./... | grep -vxF -e "$race" -e "$lane2_plain" | grep -vx 'github.com/livestream/livestream/cmd/livestream')

logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT

(
  set -e
  "$GO" test -race -count=1 -p 1 -timeout 15m $race
  "$GO" test -count=1 -p 1 -timeout 15m $lane2_plain
  FUZZTIME=$FUZZTIME FUZZJOBS=1 bash scripts/fuzz.sh $FUZZ_PKGS
) >"$logdir/lane2" 2>&1 &
lane2_pid=$!

status=0
"$GO" test -count=1 -p 1 -timeout 20m ./cmd/livestream $lane1 || status=1

wait "$lane2_pid" || status=1
echo "--- lane 2: race detector ($RACE_PKGS), pipeline, fuzzing"
cat "$logdir/lane2"
[ "$status" = 0 ] && echo "make test: both lanes passed" || echo "make test: FAILED (see above)"
exit "$status"
