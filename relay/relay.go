package relay

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestream/livestream/media"
)

// Defaults of Config's zero fields.
const (
	defaultQueuePackets = 512
	defaultMinBackoff   = time.Second
	defaultMaxBackoff   = 30 * time.Second
	defaultDialTimeout  = 10 * time.Second
	defaultWriteTimeout = 10 * time.Second
)

// closeTimeout bounds Close: the goodbye (FCUnpublish, deleteStream) gets
// unpublishTimeout of it, and then the connection is cut. A live relay
// gets flushTimeout more, to send what is still queued.
const (
	closeTimeout     = 2 * time.Second
	flushTimeout     = time.Second
	unpublishTimeout = time.Second
)

// Config describes one destination.
type Config struct {
	// Kind names the destination in logs and metrics ("youtube",
	// "facebook", "twitch", "custom"); never the key.
	Kind string
	// URL is the full rtmp:// or rtmps:// URL. Its last path element (with
	// the query) is the stream name, that is the key; the path before it
	// is the application.
	URL string
	// TLS configures rtmps; nil means the system roots. ServerName
	// defaults to the URL's host.
	TLS *tls.Config
	// Logger receives the relay's events; nil discards them.
	Logger *slog.Logger
	// QueuePackets bounds the packets waiting to be sent; 0 means 512.
	QueuePackets int
	// MinBackoff and MaxBackoff bound the wait between attempts, which
	// doubles from MinBackoff up to MaxBackoff, with ±25 % jitter. A
	// publish refused twice in a row waits MaxBackoff. 0 means 1 s and
	// 30 s.
	MinBackoff, MaxBackoff time.Duration
	// DialTimeout bounds a connection attempt up to the publish (TCP, TLS,
	// RTMP handshake, connect, createStream); WriteTimeout bounds each
	// write. A destination that accepts TCP and never answers costs one
	// attempt, never a caller's time. 0 means 10 s each.
	DialTimeout, WriteTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.QueuePackets <= 0 {
		c.QueuePackets = defaultQueuePackets
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = defaultMinBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = defaultMaxBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = defaultDialTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = defaultWriteTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// State is where a relay is in its life.
type State string

const (
	Connecting State = "connecting"
	Live       State = "live"
	Retrying   State = "retrying"
	Stopped    State = "stopped"
)

// Status is a snapshot of a relay, safe to show to the stream's owner: it
// never contains the key or the full URL.
type Status struct {
	// ID names the destination to its owner: the stored destination's id,
	// or "url:KIND" for one named in the publish URL. Set by the caller.
	ID    string `json:"id,omitempty"`
	Kind  string `json:"kind"`
	State State  `json:"state"`
	// LastError is why the last attempt ended; empty before any failure.
	LastError string `json:"last_error,omitempty"`
	// BytesSent counts FLV tag bytes written; PacketsSent the packets.
	BytesSent   int64 `json:"bytes_sent"`
	PacketsSent int64 `json:"packets_sent"`
	// Dropped counts packets that never left: the queue was full, or the
	// relay was waiting for a keyframe (after a drop or a reconnect).
	Dropped int64 `json:"dropped"`
	// Reconnects counts attempts after the first.
	Reconnects int64 `json:"reconnects"`
	// Destination is scheme://host[:port].
	Destination string `json:"destination"`
	// Transcoded is true when the destination gets a re-encode of the
	// stream (Twitch) rather than the published packets.
	Transcoded bool `json:"transcoded,omitempty"`
}

// Relay pushes one stream to one destination. Its methods may be called
// from any goroutine.
type Relay struct {
	cfg  Config
	dest *destination
	// video and audio are the sending goroutine's: a new publish of the
	// stream (a Break with Params) replaces them there. hasVideo says,
	// for every goroutine, whether there is video at all.
	video    *media.VideoParams
	audio    *media.AudioParams
	hasVideo bool
	// next holds the Params of the last Break written, until the sending
	// goroutine applies them: at the Break, or, when the Break was
	// dropped with a full queue, at the next keyframe.
	next atomic.Pointer[media.Params]
	log  *slog.Logger

	// queue: WritePacket → the sending goroutine. Never blocks the writer:
	// when full, WritePacket drops until the next keyframe.
	queue chan *media.Packet
	stop  chan struct{} // closed by Close
	done  chan struct{} // closed when the sending goroutine returns

	writeMu  sync.Mutex // WritePacket's drop state
	dropping bool

	closeOnce sync.Once

	// sentKeyframe: a session has started sending; only the sending
	// goroutine uses it.
	sentKeyframe bool

	bytesSent, packetsSent, dropped, reconnects atomic.Int64

	mu        sync.Mutex
	state     State
	lastError string
	sock      *socket // the current connection's, nil between connections
	lastDrop  time.Time
	// base is the DTS of the first packet written: RTMP time 0.
	based bool
	base  int64
}

// Start begins pushing to cfg.URL in the background. video and audio are
// the stream's parameters (either may be nil, not both): their sequence
// headers are sent first on every (re)connect, then onMetaData, then
// packets from a keyframe. The relay keeps its own copies of both.
func Start(cfg Config, video *media.VideoParams, audio *media.AudioParams) (*Relay, error) {
	cfg = cfg.withDefaults()
	dest, err := parseDestination(cfg.URL)
	if err != nil {
		return nil, err
	}
	if video == nil && audio == nil {
		return nil, fmt.Errorf("relay to %s: no video and no audio", dest.public)
	}
	r := &Relay{
		cfg:   cfg,
		dest:  dest,
		log:   cfg.Logger.With("relay", cfg.Kind, "destination", dest.public),
		queue: make(chan *media.Packet, cfg.QueuePackets),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		state: Connecting,
	}
	if video != nil {
		v := *video
		r.video, r.hasVideo = &v, true
		if _, err := videoSequenceHeader(r.video); err != nil {
			return nil, fmt.Errorf("relay to %s: %w", dest.public, err)
		}
	}
	if audio != nil {
		a := *audio
		r.audio = &a
		if _, err := audioSequenceHeader(r.audio); err != nil {
			return nil, fmt.Errorf("relay to %s: %w", dest.public, err)
		}
	}
	go r.run()
	return r, nil
}

// WritePacket queues p and never blocks. When the queue is full it drops p
// and every packet after it until the next keyframe, and counts them. p is
// shared: the relay never modifies it. After Close it does nothing.
func (r *Relay) WritePacket(p *media.Packet) {
	select {
	case <-r.stop:
		return
	default:
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if p.Kind == media.Break {
		// A new publisher of the stream: its sequence headers go out
		// before its first packet. A Break without Params (the publisher
		// left) changes nothing here.
		if p.Params == nil {
			return
		}
		r.next.Store(p.Params)
		select {
		case r.queue <- p:
		default:
			r.dropping = true
			r.drop(1)
		}
		return
	}
	r.mu.Lock()
	if !r.based {
		r.based, r.base = true, p.DTS
	}
	r.mu.Unlock()
	if r.dropping {
		if !r.isKeyframe(p) {
			r.drop(1)
			return
		}
		r.dropping = false
	}
	select {
	case r.queue <- p:
	default:
		r.dropping = true
		r.drop(1)
	}
}

// isKeyframe: where a destination's decoder can start. Without video,
// every (audio) packet is one.
func (r *Relay) isKeyframe(p *media.Packet) bool {
	if !r.hasVideo {
		return p.Keyframe
	}
	return p.Kind == media.Video && p.Keyframe
}

// drop counts n dropped packets and logs at most once a second.
func (r *Relay) drop(n int64) {
	total := r.dropped.Add(n)
	r.mu.Lock()
	now := time.Now()
	logIt := now.Sub(r.lastDrop) >= time.Second
	if logIt {
		r.lastDrop = now
	}
	r.mu.Unlock()
	if logIt {
		r.log.Warn("relay dropping packets until the next keyframe", "dropped_total", total)
	}
}

// Close stops the relay: when live it sends the packets still queued
// (for up to 1 s), says goodbye (FCUnpublish, deleteStream) and closes the
// connection. It returns within about 2 s, 3 s when live.
func (r *Relay) Close() {
	r.mu.Lock()
	timeout := closeTimeout
	if r.state == Live {
		timeout += flushTimeout
	}
	r.mu.Unlock()
	r.closeOnce.Do(func() { close(r.stop) })
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-r.done:
		return
	case <-t.C:
	}
	// The goodbye is stuck: cut the connection; the goroutine then ends at once.
	r.mu.Lock()
	s := r.sock
	r.mu.Unlock()
	if s != nil {
		s.abort()
	}
	select {
	case <-r.done:
	case <-time.After(100 * time.Millisecond):
	}
}

// Status returns a snapshot of the relay.
func (r *Relay) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Status{
		Kind:        r.cfg.Kind,
		State:       r.state,
		LastError:   r.lastError,
		BytesSent:   r.bytesSent.Load(),
		PacketsSent: r.packetsSent.Load(),
		Dropped:     r.dropped.Load(),
		Reconnects:  r.reconnects.Load(),
		Destination: r.dest.public,
	}
}

func (r *Relay) setState(s State) {
	r.mu.Lock()
	r.state = s
	r.mu.Unlock()
}

// run connects, sends and reconnects until Close.
func (r *Relay) run() {
	defer close(r.done)
	defer r.setState(Stopped)
	failures, refusals := 0, 0
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			r.reconnects.Add(1)
		}
		r.setState(Connecting)
		res := r.session()
		if res.stopped {
			return
		}
		if res.wasLive {
			failures = 0
		}
		failures++
		if res.refused {
			refusals++
		} else {
			refusals = 0
		}
		wait := r.backoff(failures)
		// A hang-up right after publish is a refused key, or a destination
		// that went down at that moment: only a second one in a row is
		// taken for a refusal and retried slowly.
		if refusals >= 2 {
			wait = r.cfg.MaxBackoff
		}
		r.mu.Lock()
		r.state, r.lastError = Retrying, res.err.Error()
		r.mu.Unlock()
		r.log.Warn("relay connection ended; retrying", "err", res.err, "in", wait.Round(time.Millisecond))
		if !r.wait(wait) {
			return
		}
	}
}

// backoff returns the wait after the n-th failure in a row (n ≥ 1):
// MinBackoff·2ⁿ⁻¹ up to MaxBackoff, ±25 % so that relays of many streams
// to one destination do not come back in step.
func (r *Relay) backoff(n int) time.Duration {
	d := r.cfg.MinBackoff
	for i := 1; i < n && d < r.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.cfg.MaxBackoff)
	jitter := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return max(d+jitter, time.Millisecond)
}

// wait sleeps d, discarding (and counting) what is queued meanwhile so
// that the next connection starts with fresh packets. It reports false
// when the relay was closed.
func (r *Relay) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return false
		case <-t.C:
			return true
		case <-r.queue:
			r.drop(1)
		}
	}
}
