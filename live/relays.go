package live

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/pipeline"
	"github.com/livestream/livestream/registry"
	"github.com/livestream/livestream/relay"
)

// RelayConfig says where the relay destinations named in a publish URL
// (?twitch=KEY&youtube=KEY&facebook=KEY) push to.
type RelayConfig struct {
	// YouTube, Facebook and Twitch are the base URLs the destination's key
	// is appended to. Defaults: relay.YouTubeBase, relay.FacebookBase,
	// relay.TwitchBase.
	YouTube, Facebook, Twitch string
	// TLS is the client configuration for rtmps:// destinations; nil uses
	// the system's roots.
	TLS *tls.Config
}

func (c RelayConfig) withDefaults() RelayConfig {
	if c.YouTube == "" {
		c.YouTube = relay.YouTubeBase
	}
	if c.Facebook == "" {
		c.Facebook = relay.FacebookBase
	}
	if c.Twitch == "" {
		c.Twitch = relay.TwitchBase
	}
	return c
}

// destination is one relay target of a stream: named in the publish URL
// or stored with the channel.
type destination struct {
	// id tells destinations apart when the list changes on a live stream:
	// "url:KIND" for the publish URL's, the stored destination's id.
	id   string
	kind string // twitch, youtube, facebook or custom
	key  string
	// base replaces the kind's default base URL; for custom it is the
	// whole URL.
	base string
	// params are appended to the destination's URL (facebook_s_bl=… in
	// the publish URL becomes s_bl=… on Facebook's).
	params url.Values
}

// url is where d pushes to.
func (d destination) url(cfg RelayConfig) (string, error) {
	if d.kind == "custom" {
		return d.base, nil
	}
	base := d.base
	if base == "" {
		base = map[string]string{"youtube": cfg.YouTube, "facebook": cfg.Facebook, "twitch": cfg.Twitch}[d.kind]
	}
	if base == "" {
		return "", fmt.Errorf("unknown destination kind %q", d.kind)
	}
	return relay.URL(base, d.key, d.params)
}

// relayKinds are the destinations a publish URL may name, in order.
var relayKinds = []string{"twitch", "youtube", "facebook"}

// destinationsFromQuery reads the relay destinations of a publish URL's
// query: twitch=KEY, youtube=KEY, facebook=KEY, and <kind>_<name>=VALUE
// parameters passed on to that destination.
func destinationsFromQuery(q url.Values) []destination {
	var ds []destination
	for _, kind := range relayKinds {
		key := strings.TrimSpace(q.Get(kind))
		if key == "" {
			continue
		}
		d := destination{id: "url:" + kind, kind: kind, key: key, params: url.Values{}}
		for name, vs := range q {
			if rest, ok := strings.CutPrefix(name, kind+"_"); ok && rest != "" {
				d.params[rest] = append([]string(nil), vs...)
			}
		}
		ds = append(ds, d)
	}
	return ds
}

// destinationsFromStore turns a channel's stored destinations into relay
// targets, leaving the disabled ones out. A key may carry parameters for
// its destination's URL after a '?' (Facebook's "KEY?s_bl=…").
func destinationsFromStore(stored []registry.Destination) []destination {
	var ds []destination
	for _, sd := range stored {
		if !sd.Enabled {
			continue
		}
		d := destination{id: sd.ID, kind: sd.Kind, base: sd.URL}
		key, query, _ := strings.Cut(sd.Key, "?")
		d.key = key
		if query != "" {
			params, err := url.ParseQuery(query)
			if err != nil {
				// Validated when stored; never quote it, it is a secret.
				continue
			}
			d.params = params
		}
		ds = append(ds, d)
	}
	return ds
}

// sender is a running relay: a copy (relay.Relay) or a re-encode
// (encodedRelay). WritePacket never blocks.
type sender interface {
	WritePacket(p *media.Packet)
	Close()
	Status() relay.Status
}

// relays is a stream's set of relays: each gets every packet, and none can
// slow the stream. The set may change while the stream is live.
type relays struct {
	mu      sync.Mutex
	cfg     RelayConfig
	graph   *pipeline.Graph
	video   *media.VideoParams
	audio   *media.AudioParams
	log     *slog.Logger
	started bool
	stopped bool
	want    []destination
	active  []*activeRelay
}

type activeRelay struct {
	d      destination
	url    string
	sender sender
}

// begin starts the wanted relays once the stream's codecs are known.
func (rs *relays) begin(cfg RelayConfig, g *pipeline.Graph, video *media.VideoParams, audio *media.AudioParams, log *slog.Logger) {
	rs.mu.Lock()
	rs.cfg, rs.graph, rs.video, rs.audio, rs.log = cfg.withDefaults(), g, video, audio, log
	rs.started = true
	ds := rs.want
	rs.mu.Unlock()
	rs.set(ds)
}

// set makes ds the stream's destinations: relays no longer wanted (or
// whose URL changed) stop, new ones start. Before begin it only records ds.
func (rs *relays) set(ds []destination) {
	rs.mu.Lock()
	rs.want = ds
	if !rs.started || rs.stopped {
		rs.mu.Unlock()
		return
	}
	urls := map[string]string{}
	for _, d := range ds {
		u, err := d.url(rs.cfg)
		if err != nil {
			rs.log.Warn("relay destination refused", "destination", d.kind, "err", err)
			continue
		}
		urls[d.id] = u
	}
	var keep []*activeRelay
	var closing []sender
	for _, a := range rs.active {
		if urls[a.d.id] == a.url {
			keep = append(keep, a)
			delete(urls, a.d.id)
			continue
		}
		closing = append(closing, a.sender)
	}
	for _, d := range ds {
		u, ok := urls[d.id]
		if !ok {
			continue
		}
		s, err := rs.startOne(d, u)
		if err != nil {
			rs.log.Warn("relay not started", "destination", d.kind, "err", err)
			continue
		}
		keep = append(keep, &activeRelay{d: d, url: u, sender: s})
	}
	rs.active = keep
	rs.mu.Unlock()
	closeAll(closing)
}

// startOne starts the relay to d at u: a re-encode for Twitch, a copy for
// the others. rs.mu is held.
func (rs *relays) startOne(d destination, u string) (sender, error) {
	cfg := relay.Config{Kind: d.kind, URL: u, TLS: rs.cfg.TLS, Logger: rs.log.With("destination", d.kind)}
	if d.kind == "twitch" && rs.graph != nil {
		if rs.graph.AudioOnly() {
			return skipAudioOnly(cfg)
		}
		return startEncoded(rs.graph, TwitchEncode, cfg, rs.audio)
	}
	if rs.video != nil && rs.video.Codec != media.H264 {
		return skipCodec(cfg, "H.264 video", string(rs.video.Codec))
	}
	if rs.audio != nil && rs.audio.Codec != media.AAC {
		return skipCodec(cfg, "AAC audio", string(rs.audio.Codec))
	}
	return relay.Start(cfg, rs.video, rs.audio)
}

// skipCodec is a copy relay's stand-in for a stream whose codecs it
// cannot carry: it sends the publisher's packets as they came in classic
// FLV, with H.264 video and AAC audio only (not HEVC from SRT, nor MP2 or
// MP3). Twitch's relay, a re-encode of the ladder's pictures and AAC, goes
// on. It is said once in the log and stays in the relay's status.
func skipCodec(cfg relay.Config, carries, codec string) (sender, error) {
	public, err := relay.Check(cfg.URL)
	if err != nil {
		return nil, err
	}
	why := fmt.Sprintf("not relayed: a copy relay sends the publisher's media as it came, over RTMP, which carries %s only, and the stream has %s", carries, codec)
	cfg.Logger.Warn("relay skipped: the publisher's codec cannot go over RTMP", "codec", codec)
	return skippedRelay{status: relay.Status{Kind: cfg.Kind, State: relay.Stopped, LastError: why, Destination: public}}, nil
}

// skippedRelay stands for a destination the stream does not go to: it
// takes no packet, and its status says why.
type skippedRelay struct{ status relay.Status }

var _ sender = skippedRelay{}

func (s skippedRelay) WritePacket(*media.Packet) {}
func (s skippedRelay) Close()                    {}
func (s skippedRelay) Status() relay.Status      { return s.status }

// twitchNeedsVideo is why an audio-only stream is not relayed to Twitch,
// in its relay status.
const twitchNeedsVideo = "not relayed: Twitch gets a 720p re-encode of the video and the stream is audio-only"

// skipAudioOnly is Twitch's relay for a stream without video: Twitch gets
// a re-encode of the video (TwitchEncode) and there is none. It is said
// once in the log and stays in the relay's status.
func skipAudioOnly(cfg relay.Config) (sender, error) {
	public, err := relay.Check(cfg.URL)
	if err != nil {
		return nil, err
	}
	cfg.Logger.Warn("relay skipped: Twitch needs video and the stream is audio-only")
	return skippedRelay{status: relay.Status{
		Kind: cfg.Kind, State: relay.Stopped, LastError: twitchNeedsVideo, Destination: public,
	}}, nil
}

func (rs *relays) write(p *media.Packet) {
	var closing []sender
	rs.mu.Lock()
	if p.Kind == media.Break && p.Params != nil && rs.started && !rs.stopped {
		closing = rs.nextPublish(p.Params)
	}
	for _, a := range rs.active {
		a.sender.WritePacket(p)
	}
	rs.mu.Unlock()
	closeAll(closing)
}

// nextPublish takes the codecs of the stream's next publish (a Break's
// Params) for the relays: a copy relay cannot follow a publisher whose
// codecs classic FLV cannot carry (H.264 over RTMP, then HEVC over SRT),
// so it becomes a skipped relay saying why, and a skipped one starts
// copying again when the codecs allow it. Twitch's re-encode follows any.
// It returns the relays to close once rs.mu is released. rs.mu is held.
func (rs *relays) nextPublish(next *media.Params) []sender {
	if next.Video != nil {
		rs.video = next.Video
	}
	if next.Audio != nil {
		rs.audio = next.Audio
	}
	carried := (rs.video == nil || rs.video.Codec == media.H264) && (rs.audio == nil || rs.audio.Codec == media.AAC)
	var closing []sender
	for _, a := range rs.active {
		if a.d.kind == "twitch" && rs.graph != nil {
			continue
		}
		_, skipped := a.sender.(skippedRelay)
		if skipped != carried {
			continue // a copy that can go on, or a skip that must stay
		}
		s, err := rs.startOne(a.d, a.url)
		if err != nil {
			rs.log.Warn("relay not restarted for the new publish", "destination", a.d.kind, "err", err)
			continue
		}
		closing = append(closing, a.sender)
		a.sender = s
	}
	return closing
}

// stop closes every relay at the end of the stream, in parallel (each
// waits for its destination a little), and keeps their last status. A
// re-encoding relay first gets its encoder's last frames.
func (rs *relays) stop() {
	rs.mu.Lock()
	rs.stopped = true
	var list []sender
	for _, a := range rs.active {
		list = append(list, a.sender)
	}
	rs.mu.Unlock()
	for _, s := range list {
		if e, ok := s.(*encodedRelay); ok {
			e.finish(2 * time.Second)
		}
	}
	closeAll(list)
}

// closeAll closes ss in parallel: each waits for its destination a little.
func closeAll(ss []sender) {
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Go(s.Close)
	}
	wg.Wait()
}

// status lists the stream's relays by kind, then id. A relay removed from
// a live stream is gone from the list.
func (rs *relays) status() []relay.Status {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	st := make([]relay.Status, 0, len(rs.active))
	for _, a := range rs.active {
		s := a.sender.Status()
		s.ID = a.d.id
		st = append(st, s)
	}
	sort.SliceStable(st, func(i, j int) bool {
		if st[i].Kind != st[j].Kind {
			return st[i].Kind < st[j].Kind
		}
		return st[i].ID < st[j].ID
	})
	return st
}
