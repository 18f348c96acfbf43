package ingest

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"

	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/h264"
	"github.com/yutopp/go-amf0"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// Real codec configurations written by the ffmpeg CLI: x264 main 1280x720
// at 30 fps (its VUI says so), AAC-LC 48 kHz stereo (with the SBR sync
// extension FFmpeg's encoder appends), AAC-LC 44.1 kHz mono.
var (
	testSPS  = unhex("674d401feca02802dd8088000003000800000301e078c18cb0")
	testPPS  = unhex("68ebe3cb20")
	testAVCC = mustMarshal(&h264.AVCConfig{Profile: 77, ProfileCompat: 0x40, Level: 31, LengthSize: 4, SPS: [][]byte{testSPS}, PPS: [][]byte{testPPS}})
	// The same picture, another SPS: a new sequence header mid-stream.
	testAVCC2  = mustMarshal(&h264.AVCConfig{Profile: 66, ProfileCompat: 0xc0, Level: 13, LengthSize: 4, SPS: [][]byte{unhex("6742c00dd90141fb0110000003001000000303c0f142a480")}, PPS: [][]byte{unhex("68cb83cb20")}})
	testASC    = unhex("119056e500")
	testASC441 = unhex("1208")
	testIDR    = h264.AppendAVCC(nil, []byte{0x65, 0x88, 0x84, 0x00}) // an IDR slice's first bytes
	testSlice  = h264.AppendAVCC(nil, []byte{0x41, 0x9a, 0x23})
	testMP3    = unhex("fffb90640000") // MPEG-1 layer III, 128 kb/s, 44.1 kHz, joint stereo
)

func mustMarshal(c *h264.AVCConfig) []byte {
	b, err := c.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// FLV tag bodies, as an encoder writes them.
func avcSeq(avcC []byte) []byte { return append([]byte{0x17, 0, 0, 0, 0}, avcC...) }
func avcFrame(key bool, cts int32, avcc []byte) []byte {
	b := []byte{0x27, 1, byte(cts >> 16), byte(cts >> 8), byte(cts)}
	if key {
		b[0] = 0x17
	}
	return append(b, avcc...)
}
func aacSeq(asc []byte) []byte  { return append([]byte{0xaf, 0}, asc...) }
func aacRaw(data []byte) []byte { return append([]byte{0xaf, 1}, data...) }
func exVideo(packetType byte, fourCC string, rest ...byte) []byte {
	return append(append([]byte{0x80 | 0x10 | packetType}, fourCC...), rest...)
}

// onMetaData encodes an @setDataFrame payload the way go-rtmp hands it
// over: the handler name, then the properties.
func onMetaData(props amf0.ECMAArray) []byte {
	var b bytes.Buffer
	enc := amf0.NewEncoder(&b)
	if err := enc.Encode("onMetaData"); err != nil {
		panic(err)
	}
	if err := enc.Encode(props); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// tag is one message of a case: video, audio or script, at ts.
type tag struct {
	kind byte // 'v', 'a' or 's'
	ts   uint32
	body []byte
	err  error // the error its conversion wraps
}

func (d *tagDecoder) tag(t tag) (*media.Packet, error) {
	switch t.kind {
	case 'v':
		return d.videoTag(t.ts, t.body)
	case 'a':
		return d.audioTag(t.ts, t.body)
	}
	return nil, d.scriptTag(t.body)
}

const ms = media.ClockRate / 1000

var tagCases = []struct {
	name    string
	tags    []tag
	packets []media.Packet
	video   *media.VideoParams
	audio   *media.AudioParams
}{
	{
		name: "FFmpeg's AVC and AAC with B-frames, frame rate from onMetaData",
		tags: []tag{
			{kind: 's', body: onMetaData(amf0.ECMAArray{"framerate": 29.97, "videocodecid": 7.0, "audiocodecid": 10.0, "width": 1280.0, "height": 720.0})},
			{kind: 'v', body: avcSeq(testAVCC)},
			{kind: 'a', body: aacSeq(testASC)},
			{kind: 'v', ts: 0, body: avcFrame(true, 67, testIDR)},
			{kind: 'a', ts: 0, body: aacRaw([]byte{0x21, 0x10})},
			{kind: 'v', ts: 33, body: avcFrame(false, 100, testSlice)},
			{kind: 'a', ts: 21, body: aacRaw([]byte{0x21, 0x11})},
			{kind: 'v', ts: 67, body: avcFrame(false, 0, testSlice)},
		},
		packets: []media.Packet{
			{Kind: media.Video, DTS: 0, PTS: 67 * ms, Keyframe: true, Data: testIDR},
			{Kind: media.Audio, DTS: 0, PTS: 0, Keyframe: true, Data: []byte{0x21, 0x10}},
			{Kind: media.Video, DTS: 33 * ms, PTS: 133 * ms, Data: testSlice},
			{Kind: media.Audio, DTS: 21 * ms, PTS: 21 * ms, Keyframe: true, Data: []byte{0x21, 0x11}},
			{Kind: media.Video, DTS: 67 * ms, PTS: 67 * ms, Data: testSlice},
		},
		video: &media.VideoParams{Codec: media.H264, Width: 1280, Height: 720, FrameRate: media.Rational{Num: 30000, Den: 1001}, FrameRateSource: media.FrameRateMetadata, Extradata: testAVCC},
		audio: &media.AudioParams{Codec: media.AAC, SampleRate: 48000, Channels: 2, Extradata: testASC},
	},
	{
		name: "frame rate from the SPS without onMetaData; negative composition time",
		tags: []tag{
			{kind: 'v', body: avcSeq(testAVCC)},
			{kind: 'v', ts: 1000, body: avcFrame(true, -20, testIDR)},
		},
		packets: []media.Packet{{Kind: media.Video, DTS: 1000 * ms, PTS: 980 * ms, Keyframe: true, Data: testIDR}},
		video:   &media.VideoParams{Codec: media.H264, Width: 1280, Height: 720, FrameRate: media.Rational{Num: 30, Den: 1}, FrameRateSource: media.FrameRateSPS, Extradata: testAVCC},
	},
	{
		name: "timestamps unwrap across RTMP's 32-bit wrap, audio and video on one clock",
		tags: []tag{
			{kind: 'v', body: avcSeq(testAVCC)},
			{kind: 'a', body: aacSeq(testASC441)},
			{kind: 'v', ts: 0xffffffe0, body: avcFrame(true, 0, testIDR)},
			{kind: 'a', ts: 0xfffffff0, body: aacRaw([]byte{1})},
			{kind: 'v', ts: 0x00000010, body: avcFrame(false, 0, testSlice)},
			{kind: 'a', ts: 0x00000008, body: aacRaw([]byte{2})},
		},
		packets: []media.Packet{
			{Kind: media.Video, DTS: 0xffffffe0 * ms, PTS: 0xffffffe0 * ms, Keyframe: true, Data: testIDR},
			{Kind: media.Audio, DTS: 0xfffffff0 * ms, PTS: 0xfffffff0 * ms, Keyframe: true, Data: []byte{1}},
			{Kind: media.Video, DTS: 0x100000010 * ms, PTS: 0x100000010 * ms, Data: testSlice},
			{Kind: media.Audio, DTS: 0x100000008 * ms, PTS: 0x100000008 * ms, Keyframe: true, Data: []byte{2}},
		},
		video: &media.VideoParams{Codec: media.H264, Width: 1280, Height: 720, FrameRate: media.Rational{Num: 30, Den: 1}, FrameRateSource: media.FrameRateSPS, Extradata: testAVCC},
		audio: &media.AudioParams{Codec: media.AAC, SampleRate: 44100, Channels: 1, Extradata: testASC441},
	},
	{
		name: "repeated sequence headers change nothing, a new one is reported",
		tags: []tag{
			{kind: 'v', body: avcSeq(testAVCC)},
			{kind: 'v', body: avcSeq(testAVCC)},
			{kind: 'a', body: aacSeq(testASC)},
			{kind: 'a', body: aacSeq(testASC)},
			{kind: 'a', body: aacSeq(testASC441), err: ErrParamsChanged},
			{kind: 'v', body: avcSeq(testAVCC2), err: ErrParamsChanged},
		},
		video: &media.VideoParams{Codec: media.H264, Width: 320, Height: 240, FrameRate: media.Rational{Num: 30, Den: 1}, FrameRateSource: media.FrameRateSPS, Extradata: testAVCC2},
		audio: &media.AudioParams{Codec: media.AAC, SampleRate: 44100, Channels: 1, Extradata: testASC441},
	},
	{
		name: "frames before their sequence header, end of sequence, info frames, empty frames",
		tags: []tag{
			{kind: 'v', body: avcFrame(true, 0, testIDR), err: errNoSequenceHeader},
			{kind: 'a', body: aacRaw([]byte{1}), err: errNoSequenceHeader},
			{kind: 'v', body: avcSeq(testAVCC)},
			{kind: 'v', body: []byte{0x17, 2, 0, 0, 0}},
			{kind: 'v', body: []byte{0x57, 0}},
			{kind: 'v', body: avcFrame(false, 0, nil)},
		},
		video: &media.VideoParams{Codec: media.H264, Width: 1280, Height: 720, FrameRate: media.Rational{Num: 30, Den: 1}, FrameRateSource: media.FrameRateSPS, Extradata: testAVCC},
	},
	{
		name: "malformed tags",
		tags: []tag{
			{kind: 'v', body: nil, err: errMalformedTag},
			{kind: 'v', body: []byte{0x17, 0}, err: errMalformedTag},
			{kind: 'v', body: avcSeq([]byte{1, 2}), err: errMalformedTag},
			{kind: 'a', body: []byte{0xaf}, err: errMalformedTag},
			{kind: 'a', body: aacSeq([]byte{0}), err: errMalformedTag},
			{kind: 's', body: []byte{2, 0, 10, 'o', 'n'}, err: errMalformedTag},
			{kind: 's', body: append(onMetaData(amf0.ECMAArray{})[:13], 8, 0, 0, 0), err: errMalformedTag},
			{kind: 'v', body: avcSeq(testAVCC)},
			{kind: 'v', body: avcFrame(true, 0, []byte{0, 0, 0, 9, 0x65}), err: errMalformedTag},
			{kind: 'v', body: avcFrame(true, 0, []byte{0, 0, 0, 0}), err: errMalformedTag},
			{kind: 'v', body: exVideo(1, "avc1", 0), err: errMalformedTag},
		},
		video: &media.VideoParams{Codec: media.H264, Width: 1280, Height: 720, FrameRate: media.Rational{Num: 30, Den: 1}, FrameRateSource: media.FrameRateSPS, Extradata: testAVCC},
	},
	{
		name: "E-RTMP avc1",
		tags: []tag{
			{kind: 'v', body: exVideo(exSequenceStart, "avc1", testAVCC...)},
			{kind: 'v', ts: 40, body: exVideo(exCodedFrames, "avc1", append([]byte{0, 0, 40}, testIDR...)...)},
			{kind: 'v', ts: 80, body: append([]byte{0xa0 | exCodedFramesX}, append([]byte("avc1"), testSlice...)...)},
			{kind: 'v', ts: 80, body: exVideo(exMetadata, "avc1", 2, 0, 0)},
		},
		packets: []media.Packet{
			{Kind: media.Video, DTS: 40 * ms, PTS: 80 * ms, Keyframe: true, Data: testIDR},
			{Kind: media.Video, DTS: 80 * ms, PTS: 80 * ms, Data: testSlice},
		},
		video: &media.VideoParams{Codec: media.H264, Width: 1280, Height: 720, FrameRate: media.Rational{Num: 30, Den: 1}, FrameRateSource: media.FrameRateSPS, Extradata: testAVCC},
	},
	{
		name: "MP3 describes itself",
		tags: []tag{
			{kind: 'a', ts: 5, body: append([]byte{0x2f}, testMP3...)},
			{kind: 'a', ts: 31, body: append([]byte{0x2f}, testMP3...)},
			{kind: 'a', ts: 57, body: []byte{0x2f, 0xff, 0xf3, 0x00, 0xc0, 0}, err: ErrParamsChanged}, // MPEG-2 layer III, 22.05 kHz mono
		},
		packets: []media.Packet{
			{Kind: media.Audio, DTS: 5 * ms, PTS: 5 * ms, Keyframe: true, Data: testMP3},
			{Kind: media.Audio, DTS: 31 * ms, PTS: 31 * ms, Keyframe: true, Data: testMP3},
		},
		audio: &media.AudioParams{Codec: media.MP3, SampleRate: 22050, Channels: 1},
	},
	{
		name: "codecs we refuse",
		tags: []tag{
			{kind: 'v', body: []byte{0x1c, 0, 0, 0, 0}, err: ErrUnsupportedCodec}, // HEVC, FLV codec id 12
			{kind: 'v', body: exVideo(exSequenceStart, "hvc1", 1), err: ErrUnsupportedCodec},
			{kind: 'v', body: exVideo(exCodedFrames, "av01", 1), err: ErrUnsupportedCodec},
			{kind: 'v', body: exVideo(exSequenceStart, "vp09", 1), err: ErrUnsupportedCodec},
			{kind: 'v', body: []byte{0x14, 0}, err: ErrUnsupportedCodec},    // On2 VP6
			{kind: 'v', body: []byte{0x12, 0}, err: ErrUnsupportedCodec},    // Sorenson H.263
			{kind: 'v', body: exVideo(6, "avc1"), err: ErrUnsupportedCodec}, // E-RTMP multitrack
			{kind: 'a', body: []byte{0xb6, 0}, err: ErrUnsupportedCodec},    // Speex
			{kind: 'a', body: []byte{0x36, 0}, err: ErrUnsupportedCodec},    // PCM
			{kind: 'a', body: []byte{0x9f, 'O', 'p', 'u', 's'}, err: ErrUnsupportedCodec},
			{kind: 'a', body: []byte{0x2f, 0xff, 0xfd, 0x90, 0}, err: ErrUnsupportedCodec}, // MPEG-1 layer II
		},
	},
}

func TestTagDecoder(t *testing.T) {
	for _, c := range tagCases {
		t.Run(c.name, func(t *testing.T) {
			var d tagDecoder
			var got []media.Packet
			for i, tg := range c.tags {
				p, err := d.tag(tg)
				if (tg.err == nil) != (err == nil) || (tg.err != nil && !errors.Is(err, tg.err)) {
					t.Errorf("tag %d: error %v, want %v", i, err, tg.err)
				}
				if p != nil {
					got = append(got, *p)
				}
			}
			if !reflect.DeepEqual(got, c.packets) {
				t.Errorf("packets:\n got %+v\nwant %+v", got, c.packets)
			}
			if v := d.videoParams(); !reflect.DeepEqual(v, c.video) {
				t.Errorf("video params %+v, want %+v", v, c.video)
			}
			if a := d.audioParams(); !reflect.DeepEqual(a, c.audio) {
				t.Errorf("audio params %+v, want %+v", a, c.audio)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	var d tagDecoder
	// OBS sends codec ids as strings, E-RTMP encoders as FourCC numbers.
	if err := d.scriptTag(onMetaData(amf0.ECMAArray{"videocodecid": "avc1", "audiocodecid": float64(0x6d703461), "framerate": 60.0, "stereo": true})); err != nil {
		t.Fatal(err)
	}
	want := metadata{seen: true, hasVideo: true, hasAudio: true, videoCodec: "avc1", audioCodec: "mp4a", frameRate: 60}
	if d.meta != want {
		t.Errorf("metadata %+v, want %+v", d.meta, want)
	}
	// An audio-only encoder leaves videocodecid out.
	if err := d.scriptTag(onMetaData(amf0.ECMAArray{"audiocodecid": 10.0, "nested": amf0.ECMAArray{"a": []interface{}{1.0, "x"}}})); err != nil {
		t.Fatal(err)
	}
	if d.meta.hasVideo || !d.meta.hasAudio || d.meta.audioCodec != "10" {
		t.Errorf("audio-only metadata %+v", d.meta)
	}
	// Other handlers are not metadata.
	var b bytes.Buffer
	amf0.NewEncoder(&b).Encode("onTextData")
	if err := d.scriptTag(b.Bytes()); err != nil || !d.meta.hasAudio {
		t.Errorf("onTextData: %v, metadata %+v", err, d.meta)
	}
}

func TestRational(t *testing.T) {
	r := func(n, d int) media.Rational { return media.Rational{Num: n, Den: d} }
	for f, want := range map[float64]media.Rational{
		30: r(30, 1), 29.97: r(30000, 1001), 29.97002997: r(30000, 1001), 59.94: r(60000, 1001), 23.976: r(24000, 1001),
		12.5: r(12500, 1000), 0: {}, -1: {}, 1e9: {},
	} {
		if got := rational(f); got != want {
			t.Errorf("rational(%v) = %v, want %v", f, got, want)
		}
	}
}

// TestTagDecoderCopies checks that packets own their bytes: go-rtmp reuses
// the message buffer once the handler returns.
func TestTagDecoderCopies(t *testing.T) {
	var d tagDecoder
	d.videoTag(0, avcSeq(testAVCC))
	d.audioTag(0, aacSeq(testASC))
	vb, ab := avcFrame(true, 0, testIDR), aacRaw([]byte{1, 2, 3})
	v, _ := d.videoTag(0, vb)
	a, _ := d.audioTag(0, ab)
	clear(vb)
	clear(ab)
	if !bytes.Equal(v.Data, testIDR) || !bytes.Equal(a.Data, []byte{1, 2, 3}) {
		t.Errorf("packet data changed with the message buffer: %x, %x", v.Data, a.Data)
	}
	seq := avcSeq(testAVCC2)
	d.videoTag(0, seq)
	clear(seq)
	if !bytes.Equal(d.videoParams().Extradata, testAVCC2) {
		t.Errorf("extradata changed with the message buffer")
	}
}

// fuzzTags frames a sequence of tags for FuzzTagDecoder: kind, timestamp,
// length, body.
func fuzzTags(tags ...tag) []byte {
	var b []byte
	for _, t := range tags {
		kind := map[byte]byte{'v': 0, 'a': 1, 's': 2}[t.kind]
		b = append(b, kind)
		b = binary.BigEndian.AppendUint32(b, t.ts)
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.body)))
		b = append(b, t.body...)
	}
	return b
}

// FuzzTagDecoder feeds arbitrary tags. Whatever they hold, the decoder
// neither panics nor returns a packet that shares the message's bytes, an
// AVCC payload whose lengths do not add up, or a timestamp off the clock.
func FuzzTagDecoder(f *testing.F) {
	for _, c := range tagCases {
		f.Add(fuzzTags(c.tags...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var d tagDecoder
		var last *media.Packet
		var lastTS uint32
		for len(in) >= 7 {
			kind, ts, n := in[0]%3, binary.BigEndian.Uint32(in[1:]), int(binary.BigEndian.Uint16(in[5:]))
			in = in[7:]
			body := in[:min(n, len(in))]
			in = in[len(body):]
			p, err := d.tag(tag{kind: "vas"[kind], ts: ts, body: body})
			if err != nil {
				if p != nil {
					t.Fatalf("packet with error %v", err)
				}
				if !errors.Is(err, errMalformedTag) && !errors.Is(err, errNoSequenceHeader) &&
					!errors.Is(err, ErrUnsupportedCodec) && !errors.Is(err, ErrParamsChanged) {
					t.Fatalf("error of no known kind: %v", err)
				}
				continue
			}
			if p == nil {
				continue
			}
			data := bytes.Clone(p.Data)
			for i := range body {
				body[i] ^= 0xff
			}
			if !bytes.Equal(p.Data, data) {
				t.Fatal("packet shares the message buffer")
			}
			switch p.Kind {
			case media.Video:
				v := d.videoParams()
				if v == nil || checkAVCC(p.Data, d.video.lengthSize) != nil || (p.PTS-p.DTS)%ms != 0 {
					t.Fatalf("video packet %+v with params %+v", p, v)
				}
			case media.Audio:
				if d.audioParams() == nil || !p.Keyframe || p.PTS != p.DTS {
					t.Fatalf("audio packet %+v", p)
				}
			}
			if last != nil && p.DTS-last.DTS != int64(int32(ts-lastTS))*ms {
				t.Fatalf("DTS %d after %d: timestamps %d after %d", p.DTS, last.DTS, ts, lastTS)
			}
			last, lastTS = p, ts
		}
	})
}
