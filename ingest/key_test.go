package ingest

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestStreamKeyNeverFormats(t *testing.T) {
	k := streamKey(keyAlpha)
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "key", k)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "key", k)
	text := fmt.Sprintf("%v %s %+v %#v %q", k, k, k, k, k) + logs.String()
	if strings.Contains(text, keyAlpha) || !strings.Contains(text, redacted) {
		t.Errorf("a stream key formats as %s", text)
	}
	if k.reveal() != keyAlpha || len(k.hash()) != 8 || strings.Contains(keyAlpha, k.hash()) {
		t.Errorf("reveal %q, hash %q", k.reveal(), k.hash())
	}
}

func TestSplitPublishingName(t *testing.T) {
	k, q := splitPublishingName(keyAlpha + "?twitch=" + relaySecret)
	if k.reveal() != keyAlpha || q != "twitch="+relaySecret {
		t.Errorf("split into %q and %q", k.reveal(), q)
	}
	for key, ok := range map[string]bool{keyAlpha: true, "": false, "a/b": false, "a b": false, "k\x00": false, "ключ": false, strings.Repeat("k", maxKeyLen): true, strings.Repeat("k", maxKeyLen+1): false} {
		if streamKey(key).wellFormed() != ok {
			t.Errorf("wellFormed(%q) = %v", key, !ok)
		}
	}
}

func TestSecretsRedact(t *testing.T) {
	var s secrets
	s.add(keyAlpha + "?twitch=" + relaySecret + "&youtube=yt%2Fsecret%2B1&x=ab")
	text := s.redact(fmt.Sprintf("publish %#v; key %s; relay %s; youtube yt/secret+1; x=ab", keyAlpha+"?twitch="+relaySecret, keyAlpha, relaySecret))
	for _, leak := range []string{keyAlpha, relaySecret, "yt/secret+1", "yt%2Fsecret"} {
		if strings.Contains(text, leak) {
			t.Errorf("%q left in %s", leak, text)
		}
	}
	if !strings.Contains(text, "x=ab") {
		t.Errorf("a short ordinary value was redacted: %s", text)
	}
}

// TestLibLogger: go-rtmp's lines arrive redacted, on one line, at most one
// a second; its info lines (where it prints publishing names) never.
func TestLibLogger(t *testing.T) {
	var logs bytes.Buffer
	var s secrets
	s.add(keyAlpha)
	known := false
	l := newLibLogger(slog.New(slog.NewTextHandler(&logs, nil)), s.redact, func() bool { return known })
	l.Infof("Publisher is comming: %#v", keyAlpha)
	l.Warnf("Ignored unknown message body: Err = %s\nstack line", keyAlpha)
	for range 5 {
		l.Warnf("again")
	}
	l.Errorf("Server closed by error: Err = x")
	out := logs.String()
	if strings.Contains(out, keyAlpha) || strings.Contains(out, "comming") || strings.Contains(out, "stack line") {
		t.Errorf("go-rtmp's logs leak:\n%s", out)
	}
	if strings.Count(out, "go-rtmp:") != 2 || !strings.Contains(out, "Ignored unknown message body: Err = "+redacted) ||
		!strings.Contains(out, "go-rtmp: Server closed by error: Err = x\" suppressed=5") {
		t.Errorf("want one redacted line a second, and why the connection closed when we do not know:\n%s", out)
	}
	known = true
	logs.Reset()
	l.Errorf("Server closed by error: Err = y")
	if logs.Len() != 0 {
		t.Errorf("go-rtmp's close logged though the connection knows why: %s", logs.String())
	}
}
