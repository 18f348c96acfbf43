package pipeline

// The tap's two clocks: which pictures it keeps, and which become
// keyframes.

// keyClock puts keyframes on a clock, as the ffmpeg CLI's -force_key_frames
// 'expr:gte(t,n_forced*2)' does: the first picture starts a GOP, then the
// first at or past each multiple of interval after it. A picture up to
// slack early counts as on time (RTMP's millisecond timestamps jitter). A
// gap in the pictures keeps the grid: the next keyframe after it is the
// first picture past the gap, the one after that back on a multiple.
type keyClock struct {
	interval, slack int64
	next            int64 // the next keyframe time
	started         bool
}

// due reports whether the picture at pts starts a GOP. The clock moves
// only in start, when the picture is sure to reach the encoder.
func (k *keyClock) due(pts int64) bool {
	// A clock gone back more than an interval before the last keyframe (a
	// source that restarts its timestamps) starts a new grid rather than
	// waiting to catch up.
	return !k.started || pts+k.slack >= k.next || pts+k.slack < k.next-2*k.interval
}

// start records that the picture at pts, which was due, starts a GOP.
func (k *keyClock) start(pts int64) {
	if !k.started || pts+k.slack < k.next-2*k.interval {
		k.next, k.started = pts, true
	}
	k.next += (pts+k.slack-k.next)/k.interval*k.interval + k.interval
}

// decimator keeps one frame per interval: a frame is kept when it is at
// most a quarter interval before the next slot (RTMP's millisecond
// timestamps jitter), and the slot after a gap restarts from the frame.
type decimator struct {
	interval int64
	next     int64
	started  bool
}

func (d *decimator) keep(pts int64) bool {
	if d.interval == 0 {
		return true
	}
	if d.started && pts+d.interval/4 < d.next {
		return false
	}
	if !d.started || pts-d.next > d.interval {
		d.next = pts
	}
	d.started = true
	d.next += d.interval
	return true
}
