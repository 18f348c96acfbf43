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
    if ! "$GO" test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$pkg" >"$log" 2>&1; then
      # Go's fuzzing engine sometimes ends a run with only "context
      # deadline exceeded" when a worker answers late at the end of
      # -fuzztime on a loaded machine: no input failed, none was written.
      # Run that target once more; a real finding fails both times.
      if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written to' "$log"; then
        cat "$log"
        echo "fuzz $pkg $name: the engine timed out without a failing input; running it again"
        if "$GO" test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$pkg" >"$log" 2>&1; then
          n=$((n + 1))
          continue
        fi
      fi
      cat "$log"
      exit 1
    fi
    n=$((n + 1))
  done
done
echo "fuzz: $n targets ran for $FUZZTIME each"
