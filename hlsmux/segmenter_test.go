package hlsmux

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
)

func TestSegmenterCuts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		bframes  bool
		audio    bool
		target   time.Duration
		wantDurs []float64
	}{
		{"video", false, false, 2 * time.Second, []float64{2, 2, 2, 2, 2}},
		{"bframes", true, false, 2 * time.Second, []float64{2, 2, 2, 2, 2}},
		{"audio+video", false, true, 2 * time.Second, []float64{2, 2, 2, 2, 2}},
		{"audio+bframes", true, true, 2 * time.Second, []float64{2, 2, 2, 2, 2}},
		// Cut at the first keyframe at or after the target: 1 s GOPs, 2.5 s target.
		{"target between keyframes", true, true, 2500 * time.Millisecond, []float64{3, 3, 3, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := int64(10 * media.ClockRate)
			video := synthVideo(start, 10, fps, tc.bframes)
			var audio []*media.Packet
			cfg := SegmenterConfig{Dir: "720p", Store: NewMemoryStore(), Type: VOD, TargetDuration: tc.target,
				FirstSeq: 1700000000000, Video: true, FrameDuration: frameTicks}
			if tc.audio {
				// AAC starts a frame early (priming) and arrives 0.5 s ahead.
				audio = synthAudio(start-aacTicks, 10.5)
				cfg.Audio = stereo48k
			}
			var c collect
			cfg.OnSegment = c.add
			s, err := NewSegmenter(cfg)
			if err != nil {
				t.Fatal(err)
			}
			feed(t, s, video, audio, media.ClockRate/2)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if len(c.infos) != len(tc.wantDurs) {
				t.Fatalf("%d segments, want %d: %+v", len(c.infos), len(tc.wantDurs), c.infos)
			}
			var sum time.Duration
			for i, info := range c.infos {
				if want := time.Duration(tc.wantDurs[i] * float64(time.Second)); info.Duration != want {
					t.Errorf("segment %d: %v, want %v", i, info.Duration, want)
				}
				if info.Seq != cfg.FirstSeq+int64(i) || info.Name != fmt.Sprint(info.Seq, ".ts") {
					t.Errorf("segment %d: seq %d name %s", i, info.Seq, info.Name)
				}
				if i > 0 && info.StartPTS != c.infos[i-1].StartPTS+media.Ticks(c.infos[i-1].Duration) {
					t.Errorf("segment %d starts at %d, the one before ends at %d", i, info.StartPTS, c.infos[i-1].StartPTS+media.Ticks(c.infos[i-1].Duration))
				}
				sum += info.Duration
			}
			if sum != 10*time.Second {
				t.Errorf("EXTINF sum %v, want the 10 s fed", sum)
			}
			if got := s.Playlist().Segments(); !reflect.DeepEqual(got, c.infos) {
				t.Errorf("playlist lists %+v, OnSegment saw %+v", got, c.infos)
			}

			segs := readSegments(t, cfg.Store, cfg.Dir, c.infos)
			keyframes := map[int64]bool{}
			for _, v := range video {
				keyframes[v.PTS] = v.Keyframe
			}
			var pkts [][]tsPacket
			var videoPTS []int64
			for _, seg := range segs {
				checkVideoSegment(t, seg, keyframes)
				pkts = append(pkts, seg.pkts)
				for _, p := range seg.pes {
					if p.pid == pidVideo {
						videoPTS = append(videoPTS, p.pts)
					}
				}
			}
			checkContinuity(t, pkts...)
			var want []int64
			for _, v := range video {
				want = append(want, v.PTS)
			}
			if !slices.Equal(videoPTS, want) {
				t.Errorf("video PES PTS in the segments differ from the packets fed")
			}
			if !tc.audio {
				return
			}
			frames := checkAudioPES(t, segs, audio, maxAudioPerPES)
			// Every frame from the first picture on is there once, in
			// order; the priming frame before it is dropped.
			if len(frames) != len(audio)-1 || s.DroppedAudio() != 1 {
				t.Fatalf("%d audio frames written, %d dropped, of %d fed", len(frames), s.DroppedAudio(), len(audio))
			}
			for i, f := range frames {
				if f.index != i+1 {
					t.Fatalf("audio frame %d is fed frame %d", i, f.index)
				}
				pts, seg := audio[f.index].PTS, segs[f.seg].info
				if pts < seg.StartPTS || f.seg+1 < len(segs) && pts >= segs[f.seg+1].info.StartPTS {
					t.Errorf("audio at %d in %s, which spans [%d, +%v)", pts, seg.Name, seg.StartPTS, seg.Duration)
				}
				// Interleaving: audio comes before the first video whose DTS
				// is after it.
				if f.after < len(video) && video[f.after].DTS <= pts-maxAudioPerPES*aacTicks {
					t.Errorf("audio at %d written after video DTS %d", pts, video[f.after].DTS)
				}
				if f.after > 0 && video[f.after-1].DTS > pts {
					t.Errorf("audio at %d written after video DTS %d", pts, video[f.after-1].DTS)
				}
			}
		})
	}
}

func TestSegmenterDropsUntilKeyframe(t *testing.T) {
	start := int64(media.ClockRate)
	video := synthVideo(start, 3, 60, false)[1:] // no IDR until 3 s
	audio := synthAudio(start, 3)
	st := NewMemoryStore()
	var c collect
	s, err := NewSegmenter(SegmenterConfig{Dir: "x", Store: st, Type: Event, Video: true, Audio: stereo48k, OnSegment: c.add})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, video, audio, media.ClockRate/2)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.DroppedVideo() != 59 {
		t.Errorf("dropped %d video packets before the first keyframe, want 59", s.DroppedVideo())
	}
	if len(c.infos) != 1 || c.infos[0].StartPTS != start+2*media.ClockRate {
		t.Fatalf("segments %+v, want one from the IDR at 2 s", c.infos)
	}
	segs := readSegments(t, st, "x", c.infos)
	checkVideoSegment(t, segs[0], map[int64]bool{start + 2*media.ClockRate: true})
	frames := checkAudioPES(t, segs, audio, maxAudioPerPES)
	if first := audio[frames[0].index].PTS; first < c.infos[0].StartPTS || first >= c.infos[0].StartPTS+aacTicks {
		t.Errorf("first audio frame at %d, the IDR at %d", first, c.infos[0].StartPTS)
	}
	if s.DroppedAudio()+len(frames) != len(audio) {
		t.Errorf("%d audio frames dropped and %d written of %d", s.DroppedAudio(), len(frames), len(audio))
	}
	if err := s.WriteVideo(video[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteVideo after Close = %v, want ErrClosed", err)
	}
	if err := s.WriteAudio(audio[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteAudio after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestSegmenterAudioOnly(t *testing.T) {
	start := int64(5 * media.ClockRate)
	audio := synthAudio(start, 7)
	st := NewMemoryStore()
	var c collect
	s, err := NewSegmenter(SegmenterConfig{Dir: "audio", Store: st, Type: Event, TargetDuration: 3 * time.Second, Audio: stereo48k, OnSegment: c.add})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range audio {
		if err := s.WriteAudio(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WriteVideo(synthVideo(start, 1, 1, false)[0]); err == nil {
		t.Error("WriteVideo without a video track succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// 3 s is 140.6 frames: cuts at frames 141 and 282; 328 frames in all.
	wantStarts := []int{0, 141, 282}
	if len(c.infos) != 3 {
		t.Fatalf("%d segments, want 3", len(c.infos))
	}
	for i, info := range c.infos {
		end := len(audio)
		if i+1 < len(wantStarts) {
			end = wantStarts[i+1]
		}
		if info.StartPTS != audio[wantStarts[i]].PTS || info.Duration != media.Duration(int64(end-wantStarts[i])*aacTicks) {
			t.Errorf("segment %d: start %d duration %v", i, info.StartPTS, info.Duration)
		}
	}
	segs := readSegments(t, st, "audio", c.infos)
	var pkts [][]tsPacket
	for _, sg := range segs {
		pkts = append(pkts, sg.pkts)
		if sg.pkts[0].pid != 0 || sg.pkts[1].pid != 0x1000 || sg.pes[0].index != 2 || !sg.pes[0].rai {
			t.Errorf("%s: does not start with PAT, PMT and an audio PES with random_access_indicator", sg.info.Name)
		}
		for i, p := range sg.pes {
			if p.pcr != (p.pts-pcrDelay)&tsClockMask {
				t.Errorf("%s: audio PES at %d has PCR %d", sg.info.Name, p.pts, p.pcr)
			}
			if i > 0 && p.rai {
				t.Errorf("%s: PES %d has random_access_indicator (astits would repeat PAT and PMT)", sg.info.Name, i)
			}
		}
	}
	checkContinuity(t, pkts...)
	// 4 frames of 21.3 ms keep the PCR interval under 100 ms.
	frames := checkAudioPES(t, segs, audio, 4)
	if len(frames) != len(audio) {
		t.Errorf("%d frames written of %d", len(frames), len(audio))
	}
	for i, f := range frames {
		seg := 0
		for seg+1 < len(wantStarts) && wantStarts[seg+1] <= i {
			seg++
		}
		if f.index != i || f.seg != seg {
			t.Fatalf("frame %d: fed frame %d in segment %d, want %d", i, f.index, f.seg, seg)
		}
	}
}

// TestSegmenterAudioBound: when the video stalls, audio more than 3 s
// ahead of it is written anyway, and dropped before the first keyframe.
func TestSegmenterAudioBound(t *testing.T) {
	start := int64(media.ClockRate)
	st := NewMemoryStore()
	var c collect
	s, err := NewSegmenter(SegmenterConfig{Dir: "x", Store: st, Type: VOD, Video: true, Audio: stereo48k, OnSegment: c.add})
	if err != nil {
		t.Fatal(err)
	}
	audio := synthAudio(start, 10)
	for _, a := range audio[:250] { // 5.3 s before any video
		if err := s.WriteAudio(a); err != nil {
			t.Fatal(err)
		}
	}
	if s.DroppedAudio() == 0 || s.audio.len() > maxAudioAhead/aacTicks+1 {
		t.Errorf("%d frames queued, %d dropped: the queue is not bounded", s.audio.len(), s.DroppedAudio())
	}
	key := &media.Packet{Kind: media.Video, PTS: audio[250].PTS, DTS: audio[250].PTS, Keyframe: true, Data: synthAU(0, true)}
	if err := s.WriteVideo(key); err != nil {
		t.Fatal(err)
	}
	for _, a := range audio[250:] { // then the video stalls
		if err := s.WriteAudio(a); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.audio.len(); n > maxAudioAhead/aacTicks+1 {
		t.Errorf("%d frames queued after the video stalled", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	frames := checkAudioPES(t, readSegments(t, st, "x", c.infos), audio, maxAudioPerPES)
	if len(frames) != len(audio)-250 || s.DroppedAudio() != 250 {
		t.Errorf("%d frames written, %d dropped; want the %d after the keyframe written", len(frames), s.DroppedAudio(), len(audio)-250)
	}
}

// TestSegmenterCloseAfterDiscontinuity: Close without a keyframe after a
// Discontinuity ends the old segment with the old timeline's audio only.
func TestSegmenterCloseAfterDiscontinuity(t *testing.T) {
	st := NewMemoryStore()
	var c collect
	s, err := NewSegmenter(SegmenterConfig{Dir: "x", Store: st, Type: VOD, Video: true, Audio: stereo48k, OnSegment: c.add})
	if err != nil {
		t.Fatal(err)
	}
	start := int64(media.ClockRate)
	video, audio := synthVideo(start, 1, fps, false), synthAudio(start, 1.5)
	feed(t, s, video, audio[:70], media.ClockRate/2)
	s.Discontinuity()
	for _, a := range audio[70:] {
		if err := s.WriteAudio(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	frames := checkAudioPES(t, readSegments(t, st, "x", c.infos), audio, maxAudioPerPES)
	if len(c.infos) != 1 || len(frames) != 70 || s.DroppedAudio() != len(audio)-70 {
		t.Errorf("%d segments, %d audio frames written, %d dropped; want 1, 70, %d", len(c.infos), len(frames), s.DroppedAudio(), len(audio)-70)
	}
}

func TestNewSegmenterErrors(t *testing.T) {
	st := NewMemoryStore()
	for name, cfg := range map[string]SegmenterConfig{
		"no store":     {Video: true},
		"no track":     {Store: st},
		"bad audio":    {Store: st, Audio: &aac.Config{ObjectType: 2, SampleRate: 12345, Channels: 2}},
		"bad dir":      {Store: st, Video: true, Dir: "../up"},
		"absolute dir": {Store: st, Video: true, Dir: "/abs"},
		"bad type":     {Store: st, Video: true, Type: VOD + 1},
	} {
		if _, err := NewSegmenter(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestSegmenterContinues: a segmenter continuing another's stream marks
// its first segment, and only it, EXT-X-DISCONTINUITY, after the given
// discontinuity sequence; once that segment leaves the window the
// sequence counts it.
func TestSegmenterContinues(t *testing.T) {
	st := NewMemoryStore()
	var c collect
	s, err := NewSegmenter(SegmenterConfig{Dir: "x", Store: st, Type: Live, Window: 2, FirstSeq: 500, Video: true,
		TargetDuration: time.Second, Continues: true, DiscontinuitySequence: 3, OnSegment: c.add})
	if err != nil {
		t.Fatal(err)
	}
	start := int64(media.ClockRate)
	feed(t, s, synthVideo(start, 2, fps, false), nil, 0)
	pl, err := st.Get("x/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	text := string(pl)
	if !strings.Contains(text, "#EXT-X-MEDIA-SEQUENCE:500\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n") ||
		strings.Count(text, "#EXT-X-DISCONTINUITY\n") != 1 || !c.infos[0].Discontinuity {
		t.Errorf("first playlist:\n%s", text)
	}
	feed(t, s, synthVideo(start+2*media.ClockRate, 3, fps, false), nil, 0)
	pl, _ = st.Get("x/index.m3u8")
	if text := string(pl); !strings.Contains(text, "#EXT-X-DISCONTINUITY-SEQUENCE:4\n") || strings.Contains(text, "#EXT-X-DISCONTINUITY\n") {
		t.Errorf("once the first segment left the window:\n%s", text)
	}
	for _, in := range c.infos[1:] {
		if in.Discontinuity {
			t.Errorf("segment %d marked discontinuous", in.Seq)
		}
	}
}
