package main

import (
	"fmt"
	"strconv"
	"strings"
)

// maxScenarioRelays bounds S·D: each relay is a TCP connection to one nginx.
const maxScenarioRelays = 10000

// scenario is S streams, each relayed to D destinations.
type scenario struct{ streams, dests int }

func (s scenario) String() string { return fmt.Sprintf("%dx%d", s.streams, s.dests) }

// parseScenarios parses "1x10,20x1".
func parseScenarios(s string) ([]scenario, error) {
	var out []scenario
	for f := range strings.SplitSeq(s, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(f), "x")
		streams, err1 := strconv.Atoi(a)
		dests, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || streams < 1 || dests < 1 {
			return nil, fmt.Errorf("%q: want SxD with positive numbers, e.g. 20x1", f)
		}
		if streams > maxScenarioRelays/dests {
			return nil, fmt.Errorf("%q: more than %d relays", f, maxScenarioRelays)
		}
		out = append(out, scenario{streams, dests})
	}
	return out, nil
}

// parseCounts parses "20,50,100": increasing positive numbers of streams.
func parseCounts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxScenarioRelays {
			return nil, fmt.Errorf("%q: want a number of streams from 1 to %d", f, maxScenarioRelays)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("%d after %d: want increasing numbers", n, out[len(out)-1])
		}
		out = append(out, n)
	}
	return out, nil
}
