package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/livestream/livestream/record"
	"github.com/livestream/livestream/registry"
)

// minAdminTokenLen bounds an origin's admin token from below: unlike
// serve's, whose default listener is on loopback, an origin's admin API
// is on the cluster's network, where a short token can be guessed.
// serve's generated tokens have 48 characters.
const minAdminTokenLen = 16

// streamsTimeout bounds the Redis reads of GET /api/streams, whose
// callback has no request context.
const streamsTimeout = 10 * time.Second

// OriginAdmin is the optional admin API of an origin: the one of `serve`
// (channels, keys, destinations, recordings) over the cluster's Redis, on
// a listener of its own so that the viewers' load balancer never reaches
// it. It is set from flags and LIVESTREAM_* variables only: the config
// file's serve.admin_addr has a default, which would turn it on.
type OriginAdmin struct {
	// Addr is the admin API's listen address; empty: no admin API.
	Addr string
	// Token is the admin API's bearer token, required with Addr. It is
	// never logged.
	Token string
}

func (a OriginAdmin) validate() error {
	switch {
	case a.Addr == "":
		return nil
	case a.Token == "":
		return errors.New("--admin-addr needs --admin-token (or LIVESTREAM_ADMIN_TOKEN)")
	case len(a.Token) < minAdminTokenLen:
		// The token's length is no secret worth keeping; its value is.
		return fmt.Errorf("--admin-token: want at least %d characters (openssl rand -hex 24)", minAdminTokenLen)
	}
	return nil
}

// originAdminServer listens on a.Addr and returns the admin API's server
// over reg, with the recordings listing when rec is not nil; the caller
// serves it on the listener. release frees what the listing holds, after
// the server's shutdown.
func originAdminServer(a OriginAdmin, reg *registry.RedisStore, rec *recording, dataDir string, log *slog.Logger) (srv *http.Server, ln net.Listener, release func(), err error) {
	opts := []registry.AdminOption{}
	release = func() {}
	if rec != nil {
		lister, done, err := recordingsLister(rec, dataDir, log.With("component", "recordings"))
		if err != nil {
			return nil, nil, nil, err
		}
		opts = append(opts, registry.WithRecordings(lister.list))
		release = done
	}
	ln, err = net.Listen("tcp", a.Addr)
	if err != nil {
		release()
		return nil, nil, nil, fmt.Errorf("admin listener: %w", err)
	}
	srv = &http.Server{
		Handler:           registry.AdminHandler(reg, a.Token, clusterStreams(reg), opts...),
		ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return srv, ln, release, nil
}

// recordingsLister lists recordings from rec's storage as a server does.
// Listing goes through a Recorder, which needs a spool: an empty one of
// its own under dataDir (an origin's root file system may be read-only),
// removed by done. It starts nothing, since its spool is empty, and
// deletes nothing, since it has no retention; log hears of session files
// it cannot read.
func recordingsLister(rec *recording, dataDir string, log *slog.Logger) (lister *recording, done func(), err error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("data directory: %w", err)
	}
	spool, err := os.MkdirTemp(dataDir, "origin-admin-spool-")
	if err != nil {
		return nil, nil, fmt.Errorf("recordings listing spool: %w", err)
	}
	r, err := record.New(record.Config{Backend: rec.backend, SpoolDir: spool, Logger: log})
	if err != nil {
		os.RemoveAll(spool)
		return nil, nil, fmt.Errorf("recordings listing: %w", err)
	}
	done = func() {
		ctx, cancel := context.WithTimeout(context.Background(), recorderCloseTimeout)
		defer cancel()
		r.Close(ctx)
		os.RemoveAll(spool)
	}
	return &recording{rec: r, backend: rec.backend, bucket: rec.bucket, prefix: rec.prefix}, done, nil
}

// ClusterStream is a live stream of the cluster as an origin's GET
// /api/streams lists it: a channel with a live route, and the server that
// holds it.
type ClusterStream struct {
	PlaybackID string    `json:"playback_id"`
	ChannelID  string    `json:"channel_id"`
	Name       string    `json:"name"`
	Server     string    `json:"server"`
	Since      time.Time `json:"since"`
}

// clusterStreams lists the channels that have a live route (not an ended
// one): one read of
// the channels, then one of each channel's route. That is a round trip a
// channel, which an admin request can afford and a viewer's never pays.
// A Redis error answers 500 with its text (the registry's errors hold no
// secret).
func clusterStreams(reg *registry.RedisStore) func() any {
	return func() any {
		ctx, cancel := context.WithTimeout(context.Background(), streamsTimeout)
		defer cancel()
		chans, err := reg.List(ctx)
		if err != nil {
			return failedList{err}
		}
		out := []ClusterStream{}
		for _, ch := range chans {
			r, err := reg.Route(ctx, ch.PlaybackID)
			if errors.Is(err, registry.ErrNoRoute) {
				continue
			}
			if err != nil {
				return failedList{err}
			}
			if r.Ended {
				continue // its server keeps its ended playlists for a while
			}
			out = append(out, ClusterStream{PlaybackID: ch.PlaybackID, ChannelID: ch.ID, Name: ch.Name, Server: r.Server, Since: r.Since})
		}
		return out
	}
}

// failedList is a list that could not be read: its JSON encoding fails, so
// that the admin API answers 500 with err rather than an empty list.
type failedList struct{ err error }

func (f failedList) MarshalJSON() ([]byte, error) {
	return nil, fmt.Errorf("list live streams: %w", f.err)
}
