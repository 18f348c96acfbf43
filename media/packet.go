package media

import "time"

// ClockRate is the rate of every timestamp in this project: the 90 kHz clock
// of MPEG-TS, so RTMP's milliseconds (×90) and TS timestamps convert exactly.
const ClockRate = 90000

// Kind tells a video packet from an audio one.
type Kind uint8

const (
	Video Kind = iota + 1
	Audio
	// Break carries no media: in a live stream's packets it marks where
	// one publish ends and, with Params, where the next begins. A stream
	// outlives its publisher for a reconnect window; between the two
	// Breaks the ladder shows a slate. Only live streams carry Breaks.
	Break
)

func (k Kind) String() string {
	switch k {
	case Video:
		return "video"
	case Audio:
		return "audio"
	case Break:
		return "break"
	}
	return "unknown"
}

// Packet is one encoded access unit (a video frame or an audio frame).
//
// A Packet is immutable once it has been sent on a channel or handed to
// another goroutine: readers share it by pointer and must not modify Data.
type Packet struct {
	Kind Kind
	// PTS and DTS are in ClockRate ticks.
	PTS, DTS int64
	// Keyframe is true for an IDR access unit (video) and for every audio packet.
	Keyframe bool
	// Data is the payload. H.264 is in the form named by the stream's
	// VideoParams (AVCC length-prefixed or Annex B); AAC is raw (no ADTS).
	Data []byte
	// Params, on a Break, are the codecs of the publish that starts
	// there; nil on the Break that says the publisher is gone. Packets of
	// a kind the new publish lacks do not follow.
	Params *Params
}

// Params are the codecs of one publish. Either may be nil.
type Params struct {
	Video *VideoParams
	Audio *AudioParams
}

// Ticks converts a duration to ClockRate ticks, truncating toward zero.
func Ticks(d time.Duration) int64 {
	return int64(d/time.Second)*ClockRate + int64(d%time.Second)*ClockRate/int64(time.Second)
}

// Duration converts ClockRate ticks to a time.Duration, truncating toward zero.
func Duration(ticks int64) time.Duration {
	return time.Duration(ticks/ClockRate)*time.Second + time.Duration(ticks%ClockRate)*time.Second/ClockRate
}
