package ingest

import (
	"fmt"
	"math"
	"strconv"
)

// metadata is what a publisher's onMetaData says about its stream. Only
// the presence of tracks and the frame rate are used; the rest is for logs.
type metadata struct {
	seen bool
	// hasVideo and hasAudio: videocodecid and audiocodecid were present.
	// Encoders (FFmpeg, OBS) leave out the id of a track they do not send,
	// so their absence is how an audio-only or video-only publish is known
	// before its first tag.
	hasVideo, hasAudio     bool
	videoCodec, audioCodec string // the ids as sent, for logs: "7", "avc1"
	frameRate              float64
	width, height          int
}

// scriptTag reads an @setDataFrame message's payload: the handler name
// "onMetaData" and an ECMA array or object of properties. Other handlers
// (onTextData, onCuePoint) are ignored. A later onMetaData replaces an
// earlier one.
func (d *tagDecoder) scriptTag(payload []byte) error {
	name, rest, err := amfString0(payload)
	if err != nil {
		return fmt.Errorf("@setDataFrame handler name: %w", errMalformedTag)
	}
	if name == "@setDataFrame" { // sent whole by some clients
		if name, rest, err = amfString0(rest); err != nil {
			return fmt.Errorf("@setDataFrame handler name: %w", errMalformedTag)
		}
	}
	if name != "onMetaData" {
		return nil
	}
	if len(rest) == 0 || (rest[0] != amfECMAArray && rest[0] != amfObject) {
		return fmt.Errorf("onMetaData without an object: %w", errMalformedTag)
	}
	b := rest[1:]
	if rest[0] == amfECMAArray {
		if len(b) < 4 {
			return fmt.Errorf("onMetaData: %w", errMalformedTag)
		}
		b = b[4:]
	}
	m := metadata{seen: true}
	for {
		key, after, err := amfUTF8(b)
		if err != nil {
			return fmt.Errorf("onMetaData: %w", errMalformedTag)
		}
		if key == "" {
			break // the end marker; what follows does not matter
		}
		v, after, ok, err := readAMF0Scalar(after, 1)
		if err != nil {
			return fmt.Errorf("onMetaData property value: %w", errMalformedTag)
		}
		b = after
		if ok {
			m.set(key, v)
		}
	}
	d.meta = m
	return nil
}

func (m *metadata) set(key string, v amfValue) {
	switch key {
	case "videocodecid":
		m.hasVideo, m.videoCodec = true, v.codecID()
	case "audiocodecid":
		m.hasAudio, m.audioCodec = true, v.codecID()
	case "framerate":
		if v.marker == amfNumber {
			m.frameRate = v.num
		}
	case "width":
		m.width = dimension(v)
	case "height":
		m.height = dimension(v)
	}
}

// codecID formats a codec id the way it was sent: a number (7, or an
// E-RTMP FourCC as a number) or a string ("avc1").
func (v amfValue) codecID() string {
	switch v.marker {
	case amfNumber:
		if v.num >= 0 && v.num < 1<<32 && v.num == math.Trunc(v.num) {
			n := uint32(v.num)
			if n >= 1<<24 { // a FourCC
				return printable([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
			}
			return strconv.FormatUint(uint64(n), 10)
		}
		return "?"
	case amfString:
		if len(v.str) > 16 {
			return printable([]byte(v.str[:16]))
		}
		return printable([]byte(v.str))
	}
	return "?"
}

// dimension reads a width or height: a whole number of pixels up to 16384.
func dimension(v amfValue) int {
	if v.marker != amfNumber || !(v.num > 0 && v.num <= 16384) {
		return 0
	}
	return int(v.num)
}

// amfString0 reads a string value (with its marker).
func amfString0(b []byte) (string, []byte, error) {
	if len(b) == 0 || b[0] != amfString {
		return "", nil, errAMFEnd
	}
	return amfUTF8(b[1:])
}
