package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// settleTimeout bounds the wait for a recording's last uploads once its
// publish ended: the last segment, the VOD playlist and the session's
// info, a few objects on loopback.
const settleTimeout = 30 * time.Second

// settledMetrics returns serve's /metrics once no recording session is
// left and the spool is empty (at once when serve records nothing), so
// that the upload latencies include the last segments.
func settledMetrics(url string) (string, error) {
	deadline := time.Now().Add(settleTimeout)
	for {
		text, err := getMetrics(url)
		if err != nil {
			return "", err
		}
		sessions, _ := metricValue(text, "livestream_record_sessions", "")
		spool, _ := metricValue(text, "livestream_record_spool_bytes", "")
		if sessions == 0 && spool == 0 {
			return text, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("recordings not settled %v after the publishes ended: %v sessions, %v bytes in the spool", settleTimeout, sessions, spool)
		}
		time.Sleep(100 * time.Millisecond) // another process, polled: no event to await
	}
}

func getMetrics(url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("GET /metrics: %w", err)
	}
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return string(b), nil
}

// metricValue finds the sample of name whose labels are exactly labels
// (as written between the braces, `quantile="0.5"`; "" for none) in a
// Prometheus text exposition. ok is false when there is none or its value
// is not a number.
func metricValue(text, name, labels string) (v float64, ok bool) {
	want := name + " "
	if labels != "" {
		want = name + "{" + labels + "} "
	}
	for line := range strings.Lines(text) {
		rest, found := strings.CutPrefix(line, want)
		if !found {
			continue
		}
		fields := strings.Fields(rest) // value [timestamp]
		if len(fields) == 0 {
			return 0, false
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		return v, err == nil
	}
	return 0, false
}
