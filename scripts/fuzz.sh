#!/usr/bin/env bash
# Runs every fuzz target of the given packages (default ./...) for FUZZTIME
# each (default 5s), FUZZJOBS targets at a time (default 2, one fuzzing
# worker each: the same CPU as one target with two workers, but the
# engine's start-up and the corpus replay of one overlap the other's run).
#   FUZZTIME=1m bash scripts/fuzz.sh ./media/...
# New failing inputs are written to the package's testdata/fuzz/ by go test;
# commit them with the fix so they stay in the regression corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-5s}
FUZZJOBS=${FUZZJOBS:-2}
export GO FUZZTIME

# fuzz_one PKG NAME runs one target. Go's fuzzing engine sometimes ends a
# run with only "context deadline exceeded" when a worker answers late at
# the end of -fuzztime on a loaded machine: no input failed, none was
# written. Such a run is tried again, up to 3 times in all; a real finding
# fails at once.
if [ "${1:-}" = --one ]; then
  pkg=$2 name=$3
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  for attempt in 1 2 3; do
    if "$GO" test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" -parallel=1 "$pkg" >"$log" 2>&1; then
      echo "fuzz $pkg $name ($FUZZTIME): ok"
      exit 0
    fi
    if [ "$attempt" = 3 ] || ! grep -q 'context deadline exceeded' "$log" || grep -q 'Failing input written to' "$log"; then
      echo "fuzz $pkg $name ($FUZZTIME): FAILED"
      cat "$log"
      exit 1
    fi
    echo "fuzz $pkg $name: the engine timed out without a failing input; running it again"
  done
fi

[ $# -gt 0 ] || set -- ./...

# Only packages whose test files declare a fuzz target, so that `go test
# -list` does not link a test binary for every cgo package just to find none.
pkgs=$("$GO" list -f '{{.ImportPath}}	{{.Dir}}' "$@" |
  while IFS=$'\t' read -r pkg dir; do
    if grep -qs '^func Fuzz' "$dir"/*_test.go; then echo "$pkg"; fi
  done)

targets=()
for pkg in $pkgs; do
  list=$("$GO" test -list '^Fuzz' "$pkg") # fails, and so stops us, if the tests do not build
  for name in $(grep '^Fuzz' <<<"$list" || true); do
    targets+=("$pkg $name")
  done
done
# xargs exits non-zero when any target failed; every target still runs.
printf '%s\n' "${targets[@]}" | xargs -P "$FUZZJOBS" -L 1 bash "$0" --one
echo "fuzz: ${#targets[@]} targets ran for $FUZZTIME each"
