#!/usr/bin/env bash
# Runs every fuzz target of the given packages (default ./...) for FUZZTIME
# each (default 5s), one target at a time as `go test -fuzz` requires.
#   FUZZTIME=1m bash scripts/fuzz.sh ./media/...
# New failing inputs are written to the package's testdata/fuzz/ by go test;
# commit them with the fix so they stay in the regression corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-5s}
[ $# -gt 0 ] || set -- ./...

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Only packages whose test files declare a fuzz target, so that `go test
# -list` does not link a test binary for every cgo package just to find none.
pkgs=$("$GO" list -f '{{.ImportPath}}	{{.Dir}}' "$@" |
  while IFS=$'\t' read -r pkg dir; do
    if grep -qs '^func Fuzz' "$dir"/*_test.go; then echo "$pkg"; fi
  done)

n=0
for pkg in $pkgs; do
  list=$("$GO" test -list '^Fuzz' "$pkg") # fails, and so stops us, if the tests do not build
  for name in $(grep '^Fuzz' <<<"$list" || true); do
    echo "fuzz $pkg $name ($FUZZTIME)"
    # Go's fuzzing engine sometimes ends a run with only "context deadline
    # exceeded" when a worker answers late at the end of -fuzztime on a
    # loaded machine: no input failed, none was written. Such a run is
    # tried again, up to 3 times in all; a real finding fails at once.
    for attempt in 1 2 3; do
      if "$GO" test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$pkg" >"$log" 2>&1; then
        break
      fi
      cat "$log"
      if [ "$attempt" = 3 ] || ! grep -q 'context deadline exceeded' "$log" || grep -q 'Failing input written to' "$log"; then
        exit 1
      fi
      echo "fuzz $pkg $name: the engine timed out without a failing input; running it again"
    done
    n=$((n + 1))
  done
done
echo "fuzz: $n targets ran for $FUZZTIME each"
