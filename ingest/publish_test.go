package ingest

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/h264"
	"github.com/yutopp/go-amf0"
)

func newTestSink() *testSink {
	return &testSink{started: make(chan struct{}), done: make(chan struct{}), ended: make(chan struct{}), enough: make(chan struct{}), enoughAt: -1}
}

// publishTags runs tags through a publish started at now and returns its
// Sink and the error that ended it, if one did.
func publishTags(t *testing.T, startTimeout time.Duration, begun time.Time, tags ...tag) (*testSink, *publish, error) {
	t.Helper()
	s := newTestSink()
	p := newPublish(s, slog.New(slog.NewTextHandler(io.Discard, nil)), startTimeout, begun, nil)
	for _, tg := range tags {
		var err error
		switch tg.kind {
		case 'v':
			err = p.videoTag(tg.ts, tg.body)
		case 'a':
			err = p.audioTag(tg.ts, tg.body)
		default:
			err = p.scriptTag(tg.body)
		}
		if err != nil {
			return s, p, err
		}
	}
	return s, p, nil
}

// videoFrames are n frames at 30 fps from ts, a keyframe first.
func videoFrames(ts uint32, n int) []tag {
	var tags []tag
	for i := range n {
		tags = append(tags, tag{kind: 'v', ts: ts + uint32(i)*33, body: avcFrame(i == 0, 0, testIDR)})
	}
	return tags
}

func kinds(packets []*media.Packet) string {
	b := make([]byte, len(packets))
	for i, p := range packets {
		b[i] = "?va"[p.Kind]
	}
	return string(b)
}

func TestPublishStart(t *testing.T) {
	now := time.Now()
	meta := func(props amf0.ECMAArray) tag { return tag{kind: 's', body: onMetaData(props)} }
	both := meta(amf0.ECMAArray{"videocodecid": 7.0, "audiocodecid": 10.0})
	videoOnly := meta(amf0.ECMAArray{"videocodecid": 7.0})
	vseq, aseq := tag{kind: 'v', body: avcSeq(testAVCC)}, tag{kind: 'a', body: aacSeq(testASC)}
	audio := func(ts uint32) tag { return tag{kind: 'a', ts: ts, body: aacRaw([]byte{1})} }

	for _, c := range []struct {
		name       string
		tags       []tag
		video      bool
		audio      bool
		started    bool
		packets    string // the kinds received, in order
		wantErr    error
		startDelay time.Duration // how long ago the publish began
	}{
		{name: "both headers first: starts at the second", tags: append([]tag{both, vseq, aseq}, videoFrames(0, 2)...), video: true, audio: true, started: true, packets: "vv"},
		{name: "a late audio header: the video held is not lost",
			tags:  append(append([]tag{both, vseq}, videoFrames(0, 3)...), aseq, audio(100)),
			video: true, audio: true, started: true, packets: "vvva"},
		{name: "onMetaData without audio: starts on the video header", tags: []tag{videoOnly, vseq}, video: true, started: true},
		{name: "no onMetaData: waits a second of video for audio", tags: append([]tag{vseq}, videoFrames(0, 20)...)},
		{name: "no onMetaData: starts video-only after a second", tags: append(append([]tag{vseq}, videoFrames(0, 32)...), aseq, audio(1100)),
			video: true, started: true, packets: "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"},
		{name: "audio announced but silent: waits StartTimeout of video", tags: append([]tag{both, vseq}, videoFrames(0, 40)...)},
		{name: "audio announced but silent: starts after StartTimeout", tags: append([]tag{both, vseq}, videoFrames(0, 40)...), startDelay: 3 * time.Second,
			video: true, started: true, packets: "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"},
		{name: "video before a keyframe is dropped",
			tags:  []tag{videoOnly, vseq, {kind: 'v', body: avcFrame(false, 0, testSlice)}, {kind: 'v', ts: 33, body: avcFrame(true, 0, testIDR)}},
			video: true, started: true, packets: "v"},
		{name: "no header by StartTimeout", tags: []tag{both, audio(0)}, startDelay: 3 * time.Second, wantErr: ErrNoCodecHeaders},
		{name: "a new sequence header before Start replaces the old",
			tags:  []tag{both, {kind: 'v', body: avcSeq(testAVCC2)}, vseq, aseq},
			video: true, audio: true, started: true},
		{name: "a new sequence header after Start ends the publish",
			tags:  append([]tag{videoOnly, vseq}, append(videoFrames(0, 1), tag{kind: 'v', body: avcSeq(testAVCC2)})...),
			video: true, started: true, packets: "v", wantErr: ErrParamsChanged},
		{name: "an audio header of a video-only stream is ignored",
			tags:  append([]tag{videoOnly, vseq}, append(videoFrames(0, 1), aseq, tag{kind: 'a', body: aacSeq(testASC441)}, audio(10))...),
			video: true, started: true, packets: "v"},
		{name: "an unsupported codec ends it", tags: []tag{both, {kind: 'a', body: []byte{0xb6, 0}}}, wantErr: ErrUnsupportedCodec},
		{name: "malformed tags are skipped", tags: append([]tag{videoOnly, {kind: 'v', body: []byte{0x17, 0}}, vseq, {kind: 's', body: []byte{1}}}, videoFrames(0, 1)...),
			video: true, started: true, packets: "v"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, p, err := publishTags(t, 2*time.Second, now.Add(-c.startDelay), c.tags...)
			if (err == nil) != (c.wantErr == nil) || (err != nil && !errors.Is(err, c.wantErr)) {
				t.Fatalf("error %v, want %v", err, c.wantErr)
			}
			v, a, packets := s.received()
			if started := s.starts > 0; started != c.started || (v != nil) != c.video || (a != nil) != c.audio {
				t.Errorf("started %v with video %v audio %v; want %v, %v, %v", started, v != nil, a != nil, c.started, c.video, c.audio)
			}
			if got := kinds(packets); got != c.packets {
				t.Errorf("packets %q, want %q", got, c.packets)
			}
			if c.video && c.started && !bytes.Equal(v.Extradata, testAVCC) {
				t.Errorf("started with the first sequence header, not the last")
			}
			if c.name == "malformed tags are skipped" && p.stats.skipped != 2 {
				t.Errorf("%d tags skipped, want 2", p.stats.skipped)
			}
		})
	}
}

// TestPublishAbandon: once the start timer gave up, no tag starts the Sink.
func TestPublishAbandon(t *testing.T) {
	s, p, _ := publishTags(t, time.Second, time.Now(), tag{kind: 's', body: onMetaData(amf0.ECMAArray{"videocodecid": 7.0})})
	if !p.abandon() {
		t.Fatal("abandon of a waiting publish")
	}
	if err := p.videoTag(0, avcSeq(testAVCC)); !errors.Is(err, ErrNoCodecHeaders) {
		t.Errorf("a header after abandon: %v, want ErrNoCodecHeaders", err)
	}
	if s.starts != 0 {
		t.Error("the Sink started after abandon")
	}
	p.end(nil)
	p.end(errors.New("again"))
	if s.ends != 1 {
		t.Errorf("End called %d times", s.ends)
	}
	if p.abandon() {
		t.Error("abandon of an ended publish that never started reported waiting twice")
	}
}

// TestPublishMeasuresFrameRate: a publisher that declares no plausible
// frame rate (no onMetaData framerate, an SPS without VUI timing) is held
// until a second of its video has come, and starts with the rate measured
// from those frames' jittery millisecond timestamps; one that declares a
// rate starts at once with it.
func TestPublishMeasuresFrameRate(t *testing.T) {
	// Baseline 320x240, no VUI: written bit by bit.
	noVUI := mustMarshal(&h264.AVCConfig{Profile: 66, ProfileCompat: 0xc0, Level: 13, LengthSize: 4,
		SPS: [][]byte{unhex("6742c00d568141f9")}, PPS: [][]byte{unhex("68cb83cb20")}})
	meta := func(props amf0.ECMAArray) tag { return tag{kind: 's', body: onMetaData(props)} }
	vseq := tag{kind: 'v', body: avcSeq(noVUI)}
	// 25 fps in milliseconds with ±1 ms of jitter and one repeated timestamp.
	frames := func(n int) []tag {
		var tags []tag
		for i := range n {
			ts := uint32(i*40 + []int{0, 1, -1, 0, 1}[i%5] + 1)
			if i == 7 {
				ts = tags[6].ts
			}
			tags = append(tags, tag{kind: 'v', ts: ts, body: avcFrame(i == 0, 0, testIDR)})
		}
		return tags
	}
	for _, c := range []struct {
		name     string
		tags     []tag
		started  bool
		rate     media.Rational
		source   string
		declared float64
	}{
		{name: "nothing declared: held for a second of video", tags: append([]tag{meta(amf0.ECMAArray{"videocodecid": 7.0}), vseq}, frames(20)...)},
		{name: "nothing declared: measured after a second", tags: append([]tag{meta(amf0.ECMAArray{"videocodecid": 7.0}), vseq}, frames(27)...),
			started: true, rate: media.Rational{Num: 25, Den: 1}, source: media.FrameRateMeasured},
		{name: "an implausible declared rate is measured instead", tags: append([]tag{meta(amf0.ECMAArray{"videocodecid": 7.0, "framerate": 1000.0}), vseq}, frames(27)...),
			started: true, rate: media.Rational{Num: 25, Den: 1}, source: media.FrameRateMeasured},
		{name: "a declared rate starts at once", tags: append([]tag{meta(amf0.ECMAArray{"videocodecid": 7.0, "framerate": 25.0}), vseq}, frames(1)...),
			started: true, rate: media.Rational{Num: 25, Den: 1}, source: media.FrameRateMetadata},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _, err := publishTags(t, 5*time.Second, time.Now(), c.tags...)
			if err != nil {
				t.Fatal(err)
			}
			v, _, _ := s.received()
			if started := s.starts > 0; started != c.started {
				t.Fatalf("started %v, want %v", started, c.started)
			}
			if c.started && (v.FrameRate != c.rate || v.FrameRateSource != c.source) {
				t.Errorf("frame rate %v from %q, want %v from %q", v.FrameRate, v.FrameRateSource, c.rate, c.source)
			}
		})
	}
}
