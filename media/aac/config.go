package aac

import "fmt"

// Config is the part of an AudioSpecificConfig a decoder and ADTS need.
type Config struct {
	// ObjectType is the audio object type: 2 is AAC-LC.
	ObjectType int
	SampleRate int
	// Channels is the channel configuration's channel count (1–7: 7 means 8 channels, 7.1).
	Channels int
}

// sampleRates is the sampling frequency table indexed by samplingFrequencyIndex.
var sampleRates = [...]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// SampleRateIndex returns the samplingFrequencyIndex of rate.
func SampleRateIndex(rate int) (int, bool) {
	for i, r := range sampleRates {
		if r == rate {
			return i, true
		}
	}
	return 0, false
}

// channelCounts maps channelConfiguration 1–7 to channels.
var channelCounts = [...]int{0, 1, 2, 3, 4, 5, 6, 8}

// ParseConfig parses an AudioSpecificConfig. Trailing fields (SBR and PS
// signalling, GASpecificConfig details) are ignored.
func ParseConfig(b []byte) (*Config, error) {
	r := bitReader{b: b}
	ot := r.read(5)
	if ot == 31 {
		ot = 32 + r.read(6)
	}
	fi := r.read(4)
	rate := 0
	if fi == 0xf {
		rate = r.read(24)
	} else if fi < len(sampleRates) {
		rate = sampleRates[fi]
	}
	cc := r.read(4)
	if r.err {
		return nil, fmt.Errorf("parse AudioSpecificConfig: %w", ErrShort)
	}
	if ot == 0 || rate == 0 {
		return nil, fmt.Errorf("parse AudioSpecificConfig: object type %d, sample rate index %d: %w", ot, fi, ErrInvalid)
	}
	if cc == 0 || cc >= len(channelCounts) {
		return nil, fmt.Errorf("parse AudioSpecificConfig: channel configuration %d: %w", cc, ErrUnsupported)
	}
	return &Config{ObjectType: ot, SampleRate: rate, Channels: channelCounts[cc]}, nil
}

// channelConfig returns the channelConfiguration for a channel count.
func channelConfig(channels int) (int, bool) {
	for i, n := range channelCounts {
		if i > 0 && n == channels {
			return i, true
		}
	}
	return 0, false
}

// Marshal writes the 2-byte AudioSpecificConfig (5 more bytes with an
// explicit sample rate, one more with an escaped object type).
func (c Config) Marshal() ([]byte, error) {
	cc, ok := channelConfig(c.Channels)
	if !ok || c.ObjectType <= 0 || c.ObjectType > 95 || c.SampleRate <= 0 || c.SampleRate >= 1<<24 {
		return nil, fmt.Errorf("write AudioSpecificConfig %+v: %w", c, ErrUnsupported)
	}
	var w bitWriter
	if c.ObjectType >= 31 {
		w.write(31, 5)
		w.write(c.ObjectType-32, 6)
	} else {
		w.write(c.ObjectType, 5)
	}
	if i, ok := SampleRateIndex(c.SampleRate); ok {
		w.write(i, 4)
	} else {
		w.write(0xf, 4)
		w.write(c.SampleRate, 24)
	}
	w.write(cc, 4)
	w.write(0, 3) // frameLengthFlag, dependsOnCoreCoder, extensionFlag
	return w.bytes(), nil
}

type bitReader struct {
	b   []byte
	pos int
	err bool
}

func (r *bitReader) read(n int) int {
	v := 0
	for range n {
		if r.pos >= len(r.b)*8 {
			r.err = true
			return 0
		}
		v = v<<1 | int(r.b[r.pos/8]>>(7-r.pos%8))&1
		r.pos++
	}
	return v
}

type bitWriter struct {
	b   []byte
	pos int
}

func (w *bitWriter) write(v, n int) {
	for i := n - 1; i >= 0; i-- {
		if w.pos%8 == 0 {
			w.b = append(w.b, 0)
		}
		w.b[w.pos/8] |= byte((v>>i)&1) << (7 - w.pos%8)
		w.pos++
	}
}

func (w *bitWriter) bytes() []byte { return w.b }
