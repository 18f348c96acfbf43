package main

import (
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestMain runs the origin when this test binary is started as the
// benchmark's child.
func TestMain(m *testing.M) {
	if isOrigin() {
		if err := runOrigin(); err != nil {
			fmt.Fprintf(os.Stderr, "llbench origin: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRunSmall runs the benchmark end to end at a small scale: every
// part costs one upstream request, every viewer gets every answer.
func TestRunSmall(t *testing.T) {
	var out bytes.Buffer
	o := options{viewers: 30, parts: 6, interval: 50 * time.Millisecond, renditions: []rendition{
		{name: "1080p", partBytes: 4000}, {name: "720p", partBytes: 2000}, {name: "360p", partBytes: 1000},
	}}
	ok, err := run(&out, o)
	if err != nil || !ok {
		t.Fatalf("run: %v, ok %v\n%s", err, ok, out.String())
	}
	t.Logf("\n%s", out.String())
}

// TestPlaylist: the stream's playlists list the parts of the last two
// complete segments and the current one, and the delta skips the rest.
func TestPlaylist(t *testing.T) {
	st, err := newStream([]rendition{{name: "720p", partBytes: 10}})
	if err != nil {
		t.Fatal(err)
	}
	p := st.position("720p")
	if want := int64(firstSeq + windowSegments); p.MSN != want || p.Part != 0 {
		t.Fatalf("the stream starts at %+v, want part 0 of %d", p, want)
	}
	full, delta := playlist(p, false), playlist(p, true)
	for _, want := range []string{
		fmt.Sprintf("#EXT-X-MEDIA-SEQUENCE:%d\n", firstSeq),
		fmt.Sprintf("#EXTINF:2.000,\n%d.m4s\n", firstSeq),
		fmt.Sprintf("URI=\"%d.3.m4s\"\n#EXTINF:2.000,\n%d.m4s\n", firstSeq+5, firstSeq+5),
		fmt.Sprintf("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"%d.1.m4s\"\n", firstSeq+6),
	} {
		if !bytes.Contains(full, []byte(want)) {
			t.Errorf("the playlist lacks %q:\n%s", want, full)
		}
	}
	if bytes.Contains(full, fmt.Appendf(nil, "URI=\"%d.0.m4s\"", firstSeq+3)) {
		t.Errorf("the playlist lists parts of segment %d, three before the last:\n%s", firstSeq+3, full)
	}
	if !bytes.Contains(delta, []byte("#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n")) || bytes.Contains(delta, fmt.Appendf(nil, "\n%d.m4s", firstSeq+3)) {
		t.Errorf("the delta update:\n%s", delta)
	}
}
