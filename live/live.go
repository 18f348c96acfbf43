// Package live runs the life of every published stream: an authenticated
// publish becomes a transcoding pipeline writing a live HLS ladder into
// memory (a stream without video, radio or a podcast, gets one audio-only
// rendition instead: pipeline.NewAudioOnly), recorded (with a record.Recorder) and relayed; when the publisher
// leaves, the playlists end (EXT-X-ENDLIST), the recording session ends, and
// the playlists stay for a grace period, then the stream is forgotten. The
// Manager is the table of live streams that the origin serves from; in a
// cluster it also announces each live stream's route to the origins
// (Config.Routes).
package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/pipeline"
	"github.com/livestream/livestream/record"
	"github.com/livestream/livestream/registry"
)

var (
	// ErrAlreadyLive refuses a publish of a channel whose stream is
	// ending: its last segments are being cut.
	ErrAlreadyLive = errors.New("channel is already live")
	// errKeyChanged ends a stream whose key was rotated or revoked.
	errKeyChanged = errors.New("stream key rotated or revoked")
	// ErrShuttingDown refuses a publish while the server stops.
	ErrShuttingDown = errors.New("server is shutting down")
	// ErrNoMedia refuses a stream with neither video nor audio.
	ErrNoMedia = errors.New("stream has neither video nor audio")
	// ErrOverCapacity refuses a publish while the server has
	// Config.MaxStreams live streams, or while Config.Overloaded says so,
	// so that a cluster's proxy tries another server.
	ErrOverCapacity = errors.New("server is at capacity")
)

// Config configures every stream of a Manager.
type Config struct {
	Pipeline pipeline.Config
	// HLS is the live HLS format (fMP4 with LL-HLS parts by default).
	HLS pipeline.HLSConfig
	// Grace is how long an ended stream's playlists (with EXT-X-ENDLIST)
	// and segments stay before they are removed. Default 2 minutes.
	Grace time.Duration
	// ReconnectWindow is how long a stream whose publisher dropped (its
	// connection lost or timed out, not a clean unpublish) stays live on
	// a slate, waiting for the channel's next publish to continue it.
	// Zero ends a stream with its publisher. A channel's own setting
	// (registry.ChannelSettings.ReconnectWindow) replaces it.
	ReconnectWindow time.Duration
	// MirrorDir, when set, mirrors each stream's HLS files to
	// MirrorDir/<playback id>/ for an external web server. Memory stays
	// the source the origin serves from.
	MirrorDir string
	// Relays says where the destinations named in publish URLs push to.
	Relays RelayConfig
	// Destinations, when set, returns a channel's stored relay
	// destinations (registry.Store.Destinations). They add up with those
	// named in the publish URL; the disabled ones are left out.
	Destinations func(ctx context.Context, channelID string) ([]registry.Destination, error)
	// Recorder, when set, records every stream's ladder (record.Config
	// says which renditions): a session starts with the stream's pipeline
	// and ends after its last segment. Nil records nothing. The Manager
	// does not close it.
	Recorder *record.Recorder
	// Routes, when set, announces each stream to a cluster's origins: the
	// route is set once every rendition has listed its first segment,
	// refreshed while the stream is live, and marked ended when it ends
	// (kept for Grace, so origin viewers get the ENDLIST too).
	Routes Routes
	// Continuity, when set, carries streams across a cluster's servers:
	// a publish continues the stream another server held, and the
	// channel's stream stops there (Manager.Moved).
	Continuity Continuity
	// RouteTTL is how long a route lasts unless refreshed (every third of
	// it): a server that dies stops being routed to within it. Default
	// 10 s.
	RouteTTL time.Duration
	// MaxStreams, when positive, is how many live streams the Manager
	// takes; a publish beyond fails with ErrOverCapacity.
	MaxStreams int
	// Overloaded, when set, is asked before each new stream (with the
	// table locked, so it must be quick): true fails the publish with
	// ErrOverCapacity, as MaxStreams does. A cluster server's CPU limit.
	Overloaded func() bool
	// QueuePackets bounds the packets waiting for a stream's pipeline; a
	// full queue pushes back on the publisher's TCP connection. Default 256.
	QueuePackets int
	Logger       *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Grace <= 0 {
		c.Grace = 2 * time.Minute
	}
	if c.RouteTTL <= 0 {
		c.RouteTTL = defaultRouteTTL
	}
	if c.QueuePackets <= 0 {
		c.QueuePackets = 256
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Manager is the table of live streams, by playback id. A stream stays in
// it from its publish until the grace period after its end.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	streams  map[string]*Stream // by playback id
	lastSeq  map[string]int64   // by playback id: the FirstSeq of its last stream
	closing  bool
	running  sync.WaitGroup // streams that have not ended
	removals sync.WaitGroup // ended streams waiting for their grace period
	timers   map[*Stream]*time.Timer

	latency latencyStats
	// partLatency is latency's for LL-HLS parts.
	partLatency latencyStats
	destMu      sync.Mutex // serialises DestinationsChanged
}

// NewManager returns an empty table. cfg.Pipeline is validated here, so a
// bad ladder fails at start-up rather than at the first publish.
func NewManager(cfg Config) (*Manager, error) {
	cfg = cfg.withDefaults()
	cfg.Pipeline = cfg.Pipeline.WithDefaults()
	cfg.HLS = cfg.HLS.WithDefaults()
	if err := cfg.HLS.Validate(cfg.Pipeline.SegmentDuration); err != nil {
		return nil, fmt.Errorf("hls: %w", err)
	}
	if err := cfg.Pipeline.Validate(); err != nil {
		return nil, fmt.Errorf("transcode config: %w", err)
	}
	if p := cfg.Pipeline.SlateImage; p != "" {
		if err := pipeline.CheckSlateImage(p); err != nil {
			return nil, fmt.Errorf("transcode config: slate_image: %w", err)
		}
	}
	if cfg.MirrorDir != "" {
		if err := os.MkdirAll(cfg.MirrorDir, 0o755); err != nil {
			return nil, fmt.Errorf("HLS mirror directory: %w", err)
		}
	}
	return &Manager{
		cfg: cfg, log: cfg.Logger,
		streams: map[string]*Stream{}, lastSeq: map[string]int64{}, timers: map[*Stream]*time.Timer{},
	}, nil
}

// endingWait is how long a publish waits for the channel's ending stream
// to end: its playlists' last part hold (hlsmux's EndHold), a relay's
// flush to its destination.
const endingWait = 5 * time.Second

// Publish starts a publish of ch. While ch's stream is live, the publish
// continues it: after a dropped publisher, within the reconnect window,
// or taking over from a publisher still connected (a half-open connection
// must not lock its creator out), which is disconnected. Otherwise it
// starts a new stream. A publish of a channel whose stream is ending (its
// last segments being cut, its relays closed) waits for the end, and
// fails with ErrAlreadyLive if it has not come endingWait later. It fails
// with ErrShuttingDown after Shutdown. A publish of a channel whose
// previous stream ended within the grace period replaces it, with segment
// numbers above the old ones (they start at the publish time in
// milliseconds).
//
// With Config.MaxStreams set, a new stream fails with ErrOverCapacity
// while that many streams are live; with Config.Overloaded, while it
// reports true.
//
// query is the publish URL's query: relay destinations (?youtube=KEY, …)
// start with the stream and get its packets as they are.
func (m *Manager) Publish(ch registry.Channel, remoteAddr string, query url.Values) (*Publish, error) {
	stored := m.storedDestinations(ch)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return nil, ErrShuttingDown
	}
	now := m.cfg.Now()
	old := m.streams[ch.PlaybackID]
	if old != nil && !old.isEnded() && old.ending.Load() {
		// A creator who stopped and started again (or a publisher that
		// reconnects at once) waits for the old stream's end, rather than
		// be told it is live.
		m.mu.Unlock()
		select {
		case <-old.endDone:
		case <-time.After(endingWait):
		}
		m.mu.Lock()
		if m.closing {
			return nil, ErrShuttingDown
		}
		now = m.cfg.Now()
		if old = m.streams[ch.PlaybackID]; old != nil && !old.isEnded() && old.ending.Load() {
			return nil, ErrAlreadyLive
		}
	}
	var pos Position
	var continues bool
	if m.cfg.Continuity != nil && (old == nil || old.isEnded()) {
		// A new stream here: ask the cluster whether it continues
		// another server's, without holding up the table.
		m.mu.Unlock()
		pos, continues = m.claim(ch.PlaybackID, now)
		m.mu.Lock()
		if m.closing {
			return nil, ErrShuttingDown
		}
		old = m.streams[ch.PlaybackID]
	}
	if old != nil {
		if !old.isEnded() {
			p := newPublish(old, remoteAddr, now)
			if !old.attach(p) {
				return nil, ErrAlreadyLive
			}
			if fromURL := destinationsFromQuery(query); !sameDestinations(fromURL, old.fromURL) {
				old.fromURL = fromURL
				old.relays.set(append(slices.Clone(fromURL), stored...))
			}
			return p, nil
		}
		m.forget(old)
	}
	if m.cfg.MaxStreams > 0 && m.liveCount() >= m.cfg.MaxStreams {
		return nil, ErrOverCapacity
	}
	if m.cfg.Overloaded != nil && m.cfg.Overloaded() {
		return nil, ErrOverCapacity
	}
	seq := now.UnixMilli()
	if last, ok := m.lastSeq[ch.PlaybackID]; ok && seq <= last {
		// The clock went back: stay above every number already served.
		seq = last + 1_000_000
	}
	if continues && !pos.Ended {
		// Another server's stream goes on here. One number is left out:
		// that server may list one more segment before it hears of this.
		seq = max(pos.Next+1, m.lastSeq[ch.PlaybackID]+1)
	} else {
		continues = false
	}
	m.lastSeq[ch.PlaybackID] = seq
	s, err := m.newStream(ch, now, seq)
	if err != nil {
		return nil, err
	}
	if m.cfg.Continuity != nil {
		s.continues, s.discBase = continues, pos.Discontinuities
		s.adv = &advancer{s: s, c: m.cfg.Continuity, pos: Position{Next: seq, Discontinuities: pos.Discontinuities}}
		if continues {
			s.log.Info("publish continues the stream another server held", "next_segment", seq)
		}
	}
	p := newPublish(s, remoteAddr, now)
	s.pub = p
	s.remote.Store(&p.remote)
	s.fromURL = destinationsFromQuery(query)
	s.relays.set(append(slices.Clone(s.fromURL), stored...))
	m.streams[ch.PlaybackID] = s
	m.running.Add(1)
	s.log.Info("publish started")
	return p, nil
}

// liveCount is the number of streams not ended. m.mu is held.
func (m *Manager) liveCount() int {
	n := 0
	for _, s := range m.streams {
		if !s.isEnded() {
			n++
		}
	}
	return n
}

// LiveCount is the number of streams being published now.
func (m *Manager) LiveCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.liveCount()
}

// forget removes s from the table and its mirrored files. m.mu is held.
func (m *Manager) forget(s *Stream) {
	if t := m.timers[s]; t != nil && t.Stop() {
		m.removals.Done()
	}
	delete(m.timers, s)
	if m.streams[s.ch.PlaybackID] == s {
		delete(m.streams, s.ch.PlaybackID)
	}
	if s.mirror != "" {
		if err := os.RemoveAll(s.mirror); err != nil {
			s.log.Warn("remove mirrored HLS files", "err", err)
		}
	}
}

// ended is called once by each stream when its pipeline has finished; the
// stream stays for the grace period.
func (m *Manager) ended(s *Stream) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.running.Done()
	if m.streams[s.ch.PlaybackID] != s {
		return
	}
	if !s.started() {
		// Nothing was ever served: no grace needed.
		m.forget(s)
		return
	}
	m.removals.Add(1)
	m.timers[s] = time.AfterFunc(m.cfg.Grace, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := m.timers[s]; !ok {
			return
		}
		delete(m.timers, s)
		m.removals.Done()
		if m.streams[s.ch.PlaybackID] == s {
			m.forget(s)
			s.log.Info("stream removed after its grace period")
		}
	})
}

// Lookup returns the store holding playbackID's HLS files while its stream
// is live or in its grace period.
func (m *Manager) Lookup(playbackID string) (hlsmux.Store, bool) {
	m.mu.Lock()
	s := m.streams[playbackID]
	m.mu.Unlock()
	if s == nil || !s.started() {
		return nil, false
	}
	return s.mem, true
}

// Edge returns the live edge of playbackID's stream (the newest part of
// each rendition, for blocking playlist reload) while it is live or in
// its grace period; ok is false for a stream without one.
func (m *Manager) Edge(playbackID string) (*hlsmux.Edge, bool) {
	m.mu.Lock()
	s := m.streams[playbackID]
	m.mu.Unlock()
	if s == nil || !s.started() {
		return nil, false
	}
	return s.edge, true
}

// PartLatency summarises the recent part latencies of every stream: from
// the arrival of a part's last frame to its listing.
func (m *Manager) PartLatency() Latency { return m.partLatency.summary() }

// PartLatencyHistogram is PartLatency's histogram, for Prometheus.
func (m *Manager) PartLatencyHistogram() (count uint64, sum float64, buckets map[float64]uint64) {
	return m.partLatency.histogram()
}

// Kick ends the live stream of channel id, if any: its publisher is
// disconnected (the key was rotated or revoked).
func (m *Manager) Kick(channelID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.streams {
		if s.ch.ID == channelID && !s.isEnded() {
			s.log.Info("ending publish: stream key rotated or revoked")
			s.stop(errKeyChanged)
		}
	}
}

// DestinationsChanged reloads channel channelID's stored destinations and
// applies them to its live stream: relays to destinations removed or
// disabled stop, new or enabled ones start, the others go on untouched.
//
// Calls are applied one at a time, each with the destinations stored when
// it runs, so the last call leaves the stream with the latest list.
func (m *Manager) DestinationsChanged(channelID string) {
	m.destMu.Lock()
	defer m.destMu.Unlock()
	m.mu.Lock()
	var live *Stream
	for _, s := range m.streams {
		if s.ch.ID == channelID && !s.isEnded() {
			live = s
		}
	}
	m.mu.Unlock()
	if live == nil {
		return
	}
	stored := m.storedDestinations(live.ch)
	live.relays.set(append(slices.Clone(live.fromURL), stored...))
	live.log.Info("relay destinations updated", "relays", len(live.relays.status()))
}

// destinationsTimeout bounds the load of a channel's stored destinations.
const destinationsTimeout = 5 * time.Second

// storedDestinations loads ch's enabled stored destinations. A registry
// that cannot answer costs the stream its stored relays, not the publish.
func (m *Manager) storedDestinations(ch registry.Channel) []destination {
	if m.cfg.Destinations == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), destinationsTimeout)
	defer cancel()
	ds, err := m.cfg.Destinations(ctx, ch.ID)
	if err != nil {
		m.log.Warn("relay destinations not loaded", "channel_id", ch.ID, "err", err)
		return nil
	}
	return destinationsFromStore(ds)
}

// Streams describes every stream in the table, live ones first, then by
// start time.
func (m *Manager) Streams() []Info {
	m.mu.Lock()
	list := make([]*Stream, 0, len(m.streams))
	for _, s := range m.streams {
		list = append(list, s)
	}
	m.mu.Unlock()
	infos := make([]Info, 0, len(list))
	for _, s := range list {
		infos = append(infos, s.Info())
	}
	sort.Slice(infos, func(i, j int) bool {
		if infos[i].Live != infos[j].Live {
			return infos[i].Live
		}
		return infos[i].StartedAt.Before(infos[j].StartedAt)
	})
	return infos
}

// SegmentLatency summarises how long after the arrival of a segment's last
// frame over RTMP the segment was listed in its playlist, over the recent
// segments of every stream.
func (m *Manager) SegmentLatency() Latency { return m.latency.summary() }

// SegmentLatencyHistogram is the same distribution since start, as
// Prometheus histogram data: count, sum in seconds and cumulative buckets.
func (m *Manager) SegmentLatencyHistogram() (count uint64, sum float64, buckets map[float64]uint64) {
	return m.latency.histogram()
}

// Drain hands every live stream to the other servers of the cluster, for
// a server about to stop (scale-in, an upgrade): new publishes are refused
// (ErrShuttingDown), and every publisher is asked to reconnect and
// disconnected, with its stream's reconnect window open, so that it
// publishes again through the proxy onto another server, which continues
// the stream (Config.Continuity) while this server stops its copy. Drain
// returns once no stream is live here, or when ctx is done; Shutdown then
// ends what is left.
func (m *Manager) Drain(ctx context.Context) error {
	m.mu.Lock()
	m.closing = true
	list := make([]*Stream, 0, len(m.streams))
	for _, s := range m.streams {
		if !s.isEnded() {
			list = append(list, s)
		}
	}
	m.mu.Unlock()
	for _, s := range list {
		s.handOff()
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for m.LiveCount() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// Shutdown refuses new publishes, asks every live stream's publisher to
// leave and waits until each pipeline has flushed and ended its playlists,
// or ctx is done. Ended streams are not kept for their grace period: the
// process is going away.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.closing = true
	for _, s := range m.streams {
		s.stop(ErrShuttingDown)
	}
	m.mu.Unlock()
	done := make(chan struct{})
	go func() { m.running.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		// Stop the pipelines themselves: their publishers did not leave.
		m.mu.Lock()
		for _, s := range m.streams {
			s.cancel()
		}
		m.mu.Unlock()
		<-done
		return ctx.Err()
	}
	m.mu.Lock()
	for s, t := range m.timers {
		if t.Stop() {
			m.removals.Done()
		}
		delete(m.timers, s)
	}
	m.mu.Unlock()
	return nil
}

func (m *Manager) mirrorDir(pid string) string {
	if m.cfg.MirrorDir == "" {
		return ""
	}
	return filepath.Join(m.cfg.MirrorDir, pid)
}
