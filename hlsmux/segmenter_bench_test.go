package hlsmux

import (
	"testing"
	"time"

	"github.com/livestream/livestream/media"
)

// benchStream is a loop of 720p-like packets: 30 fps H.264 at ~3 Mb/s with a
// 2 s GOP (IDRs of ~60 kB) and 48 kHz AAC at ~128 kb/s, audio 0.5 s ahead,
// in the order the pipeline sends them.
func benchStream() (ps []*media.Packet, span int64) {
	const seconds = 4
	start := int64(media.ClockRate)
	video := synthVideo(start, seconds, 2*fps, true)
	for i, v := range video {
		n := 10000 + i%7*500
		if v.Keyframe {
			n = 60000
		}
		v.Data = append(v.Data, make([]byte, n-len(v.Data))...)
		for j := len(v.Data) - n/2; j < len(v.Data); j++ {
			v.Data[j] = byte(0x80 | j%0x7f) // no start code in the filler
		}
	}
	audio := synthAudio(start, seconds)
	ai := 0
	for _, v := range video {
		for ai < len(audio) && audio[ai].PTS <= v.DTS+media.ClockRate/2 {
			ps = append(ps, audio[ai])
			ai++
		}
		ps = append(ps, v)
	}
	return ps, seconds * media.ClockRate
}

// BenchmarkSegmenter measures one packet (video or audio) into a live
// segmenter in its steady state: cuts every 2 s, playlist writes, window
// eviction and deletion from a MemoryStore included.
func BenchmarkSegmenter(b *testing.B) {
	loop, span := benchStream()
	var bytesIn int64
	for _, p := range loop {
		bytesIn += int64(len(p.Data))
	}
	now := time.Unix(1700000000, 0)
	s, err := NewSegmenter(SegmenterConfig{Dir: "720p", Store: NewMemoryStore(), Type: Live, TargetDuration: 2 * time.Second,
		Window: 6, Grace: 4 * time.Second, Video: true, Audio: stereo48k, FrameDuration: frameTicks,
		Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	// The loop repeats with timestamps shifted by its span; packets are
	// copied once here so that the timed loop does not allocate them.
	const rounds = 8
	ps := make([]media.Packet, 0, rounds*len(loop))
	for r := range rounds {
		for _, p := range loop {
			q := *p
			q.PTS += int64(r) * span
			q.DTS += int64(r) * span
			ps = append(ps, q)
		}
	}
	b.SetBytes(bytesIn / int64(len(loop)))
	b.ReportAllocs()
	i, shift := 0, int64(0)
	for b.Loop() {
		p := &ps[i]
		// Shift in place: the segmenter no longer holds this packet, which
		// was written at least a round (32 s) ago.
		p.PTS += shift
		p.DTS += shift
		var err error
		if p.Kind == media.Video {
			now = now.Add(time.Second / fps)
			err = s.WriteVideo(p)
		} else {
			err = s.WriteAudio(p)
		}
		if err != nil {
			b.Fatal(err)
		}
		if i++; i == len(ps) {
			i, shift = 0, rounds*span
		}
	}
	b.ReportMetric(float64(len(loop))/float64(span)*media.ClockRate, "packets/s-of-media")
}
