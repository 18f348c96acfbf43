package live

import (
	"crypto/tls"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/livestream/livestream/media"
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

// destination is one relay target of a publish.
type destination struct {
	kind, key string
	// params are appended to the destination's URL (facebook_s_bl=… in
	// the publish URL becomes s_bl=… on Facebook's).
	params url.Values
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
		d := destination{kind: kind, key: key, params: url.Values{}}
		for name, vs := range q {
			if rest, ok := strings.CutPrefix(name, kind+"_"); ok && rest != "" {
				d.params[rest] = append([]string(nil), vs...)
			}
		}
		ds = append(ds, d)
	}
	return ds
}

// relays is a stream's set of relays: each gets every packet, and none can
// slow the stream (relay.WritePacket never blocks).
type relays struct {
	mu   sync.Mutex
	list []*relay.Relay
}

// start starts a relay per destination; one that cannot start is logged
// and left out, the others go on.
func (rs *relays) start(cfg RelayConfig, ds []destination, video *media.VideoParams, audio *media.AudioParams, log *slog.Logger) {
	cfg = cfg.withDefaults()
	for _, d := range ds {
		base := map[string]string{"youtube": cfg.YouTube, "facebook": cfg.Facebook, "twitch": cfg.Twitch}[d.kind]
		u, err := relay.URL(base, d.key, d.params)
		if err != nil {
			log.Warn("relay destination refused", "destination", d.kind, "err", err)
			continue
		}
		if d.kind == "twitch" {
			log.Warn("relaying to twitch as published: the 720p re-encode for Twitch is not built yet")
		}
		r, err := relay.Start(relay.Config{Kind: d.kind, URL: u, TLS: cfg.TLS, Logger: log.With("destination", d.kind)}, video, audio)
		if err != nil {
			log.Warn("relay not started", "destination", d.kind, "err", err)
			continue
		}
		rs.mu.Lock()
		rs.list = append(rs.list, r)
		rs.mu.Unlock()
	}
}

func (rs *relays) write(p *media.Packet) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, r := range rs.list {
		r.WritePacket(p)
	}
}

// stop closes every relay, in parallel (each waits for its destination a
// little), and keeps their last status.
func (rs *relays) stop() {
	rs.mu.Lock()
	list := rs.list
	rs.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range list {
		wg.Go(r.Close)
	}
	wg.Wait()
}

func (rs *relays) status() []relay.Status {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	st := make([]relay.Status, 0, len(rs.list))
	for _, r := range rs.list {
		st = append(st, r.Status())
	}
	sort.SliceStable(st, func(i, j int) bool { return st[i].Kind < st[j].Kind })
	return st
}
