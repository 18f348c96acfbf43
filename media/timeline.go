package media

// Timeline makes a publisher's timestamps safe to decode, remux and
// transcode, the way the FFmpeg CLI's muxing path repairs them:
//
//   - per track, DTS strictly increase: a DTS at or below the track's last
//     one becomes the last one plus a tick, and PTS is never below DTS
//     (encoders on busy machines repeat a timestamp or step back a
//     millisecond; some muxers clamp their first DTS to 0);
//   - a jump of a track's clock away from the stream's position (a
//     publisher that restarts its timestamps, or whose clock ran through a
//     stall) is closed up: the track goes on from where it was, so that
//     what follows neither waits for the old clock nor leaves a hole that
//     players would stall on.
//
// The stream's position is the highest DTS given out on any track, so a
// track that pauses while another goes on (a static screen from a variable
// frame rate encoder) keeps its timestamps and its sync. The zero value is
// ready; a Timeline is used by one goroutine.
type Timeline struct {
	pos     int64 // the highest DTS given out, of any track
	started bool
	tracks  [3]timelineTrack // by Kind
	fixes   int64
	jumps   int64
}

type timelineTrack struct {
	offset  int64 // added to the publisher's timestamps
	last    int64 // the last DTS given out
	step    int64 // the last forward DTS step, to place a packet after a jump
	started bool
}

// MaxInterleave is how far a track's DTS may stray from the stream's
// position before it counts as a jump of its clock: RTMP publishers
// interleave audio and video within a fraction of a second, and a gap
// longer than this would stall a player anyway.
const MaxInterleave = 3 * ClockRate

// maxJumpStep bounds the step placed between the last packet before a
// jump and the first after it: a track's last step may itself have been
// a pause.
const maxJumpStep = ClockRate / 10

// Fix returns p with its timestamps repaired, or p itself when they need
// nothing. p is not modified: a repaired packet is a copy sharing p's Data.
func (t *Timeline) Fix(p *Packet) *Packet {
	if p.Kind != Video && p.Kind != Audio {
		return p
	}
	k := &t.tracks[p.Kind]
	dts, pts := p.DTS+k.offset, p.PTS+k.offset
	if t.started && (dts > t.pos+MaxInterleave || dts < t.pos-MaxInterleave) {
		// Land just after the track's last packet, within reach of the
		// position, so that the tracks keep the sync they had.
		target := t.pos
		if k.started {
			target = max(k.last+max(min(k.step, maxJumpStep), 1), t.pos-MaxInterleave/2)
		}
		k.offset += target - dts
		pts += target - dts
		dts = target
		t.jumps++
	}
	fixed := false
	if k.started && dts <= k.last {
		dts = k.last + 1
		fixed = true
	}
	if pts < dts {
		pts = dts
		fixed = true
	}
	if fixed {
		t.fixes++
	}
	if k.started && dts > k.last {
		k.step = dts - k.last
	}
	k.last, k.started = dts, true
	t.pos, t.started = max(t.pos, dts), true
	if dts == p.DTS && pts == p.PTS {
		return p
	}
	q := *p
	q.DTS, q.PTS = dts, pts
	return &q
}

// Fixes is the number of packets whose DTS or PTS were repaired, jumps
// aside.
func (t *Timeline) Fixes() int64 { return t.fixes }

// Jumps is the number of times a track's clock jumped and was closed up.
func (t *Timeline) Jumps() int64 { return t.jumps }
