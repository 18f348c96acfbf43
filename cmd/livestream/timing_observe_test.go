package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// mediaPlaylist is what the timing tests read of one poll of a media
// playlist.
type mediaPlaylist struct {
	target   int // EXT-X-TARGETDURATION; -1 when missing
	firstSeq int64
	segs     []playlistSegment
	ended    bool
}

type playlistSegment struct {
	seq    int64
	extinf float64 // seconds
	uri    string
}

// parseMediaPlaylist reads the tags the timing tests check; a segment's
// sequence number is EXT-X-MEDIA-SEQUENCE plus its index (RFC 8216
// §6.3.5).
func parseMediaPlaylist(b []byte) (mediaPlaylist, error) {
	pl := mediaPlaylist{target: -1}
	var extinf float64
	var haveInf bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var err error
		switch {
		case strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			pl.target, err = strconv.Atoi(strings.TrimPrefix(line, "#EXT-X-TARGETDURATION:"))
		case strings.HasPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"):
			pl.firstSeq, err = strconv.ParseInt(strings.TrimPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"), 10, 64)
		case strings.HasPrefix(line, "#EXTINF:"):
			v, _, _ := strings.Cut(strings.TrimPrefix(line, "#EXTINF:"), ",")
			extinf, err = strconv.ParseFloat(v, 64)
			haveInf = true
		case line == "#EXT-X-ENDLIST":
			pl.ended = true
		case line != "" && !strings.HasPrefix(line, "#"):
			if !haveInf {
				return pl, fmt.Errorf("segment %q has no EXTINF", line)
			}
			pl.segs = append(pl.segs, playlistSegment{seq: pl.firstSeq + int64(len(pl.segs)), extinf: extinf, uri: line})
			haveInf = false
		}
		if err != nil {
			return pl, fmt.Errorf("%q: %w", line, err)
		}
	}
	return pl, nil
}

// videoPacket is one video packet of a segment, in decode order, with its
// timestamps in 90 kHz ticks.
type videoPacket = testenv.TSVideoPacket

// fetchedSegment is one segment the observer fetched and probed.
type fetchedSegment struct {
	playlistSegment
	size     int
	packets  []videoPacket
	probeErr error
}

// renditionLog is everything the observer saw of one rendition.
type renditionLog struct {
	name    string
	targets []int // EXT-X-TARGETDURATION of every poll, in order
	polls   int
	segs    []*fetchedSegment // in sequence order, each once
	ended   bool
}

// streamLog is what an observer saw of one live stream over HTTP while it
// was published and until its playlists ended.
type streamLog struct {
	renditions []*renditionLog
	// admin is the JSON of GET /api/streams/{playback id} while the stream
	// was live, adminCode its status.
	admin     []byte
	adminCode int
	// problems are what kept the observer from seeing the whole stream (an
	// HTTP error, a segment that left the window before it was fetched, no
	// ENDLIST): each fails the test, since the checks saw only part of it.
	problems []string
}

// observer watches one live stream as a player would and the checks
// need: it polls every rendition's playlist, fetches every segment once as
// soon as it is listed, writes it to dir and probes it. It runs on its own
// goroutine until every playlist has EXT-X-ENDLIST, or until endWait after
// pub has returned; done is closed then, and log may be read.
type observer struct {
	s          *server
	pid        string
	dir        string
	renditions []string
	pub        *livePublish
	log        streamLog
	done       chan struct{}
	client     *http.Client
}

// pollEvery is how often the observer reads each playlist: a segment
// stays listed for PlaylistWindow × SegmentDuration (12 s), so none is
// missed, and a new one is fetched within a fraction of its duration.
const pollEvery = 250 * time.Millisecond

// endWait is how long after its publisher exits a stream must have
// EXT-X-ENDLIST on every playlist: the encoders' flush and the last
// segment take a second or two.
const endWait = 20 * time.Second

func startObserver(ctx context.Context, s *server, pid, dir string, renditions []string, pub *livePublish) *observer {
	o := &observer{s: s, pid: pid, dir: dir, renditions: renditions, pub: pub,
		done: make(chan struct{}), client: &http.Client{Timeout: 10 * time.Second}}
	for _, r := range renditions {
		o.log.renditions = append(o.log.renditions, &renditionLog{name: r})
	}
	go o.run(ctx)
	return o
}

func (o *observer) problem(format string, args ...any) {
	o.log.problems = append(o.log.problems, fmt.Sprintf(format, args...))
}

func (o *observer) run(ctx context.Context) {
	defer close(o.done)
	defer o.client.CloseIdleConnections()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var pubDone time.Time
	for {
		ended := true
		for _, r := range o.log.renditions {
			if !r.ended {
				o.poll(r)
			}
			ended = ended && r.ended
		}
		if o.log.admin == nil && len(o.log.renditions[0].segs) >= 2 {
			// Two segments in: the stream is live and its frame rate known.
			o.log.adminCode, o.log.admin = o.adminGet("/api/streams/" + o.pid)
		}
		if ended {
			return
		}
		select {
		case <-o.pub.done:
			if pubDone.IsZero() {
				pubDone = time.Now()
			} else if time.Since(pubDone) > endWait {
				var left []string
				for _, r := range o.log.renditions {
					if !r.ended {
						left = append(left, fmt.Sprintf("%s (%d segments)", r.name, len(r.segs)))
					}
				}
				o.problem("no EXT-X-ENDLIST on %s %v after the publisher exited", strings.Join(left, ", "), endWait)
				return
			}
		default:
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			o.problem("stopped before the playlists ended: %v", ctx.Err())
			return
		}
	}
}

// poll reads r's playlist and fetches the segments it lists for the
// first time.
func (o *observer) poll(r *renditionLog) {
	code, body, err := o.get("/hls/" + o.pid + "/" + r.name + "/index.m3u8")
	switch {
	case err != nil:
		o.problem("GET %s playlist: %v", r.name, err)
		return
	case code == http.StatusNotFound && r.polls == 0:
		return // not live yet
	case code != http.StatusOK:
		o.problem("GET %s playlist: status %d after %d polls", r.name, code, r.polls)
		return
	}
	pl, err := parseMediaPlaylist(body)
	if err != nil {
		o.problem("%s playlist: %v:\n%s", r.name, err, body)
		return
	}
	r.polls++
	r.targets = append(r.targets, pl.target)
	next := int64(-1)
	if n := len(r.segs); n > 0 {
		next = r.segs[n-1].seq + 1
	}
	for _, ps := range pl.segs {
		if next >= 0 && ps.seq < next {
			continue // fetched already
		}
		if next >= 0 && ps.seq > next {
			o.problem("%s: segments %d to %d left the playlist before the observer saw them", r.name, next, ps.seq-1)
		}
		r.segs = append(r.segs, o.fetch(r.name, ps))
		next = ps.seq + 1
	}
	r.ended = pl.ended
}

func (o *observer) fetch(rendition string, ps playlistSegment) *fetchedSegment {
	fs := &fetchedSegment{playlistSegment: ps}
	code, body, err := o.get("/hls/" + o.pid + "/" + rendition + "/" + ps.uri)
	if err != nil || code != http.StatusOK {
		fs.probeErr = fmt.Errorf("GET %s/%s: status %d, %v", rendition, ps.uri, code, err)
		return fs
	}
	fs.size = len(body)
	path := filepath.Join(o.dir, rendition+"-"+ps.uri)
	if err := os.WriteFile(path, body, 0o644); err != nil {
		fs.probeErr = err
		return fs
	}
	fs.packets, fs.probeErr = testenv.ProbeTSVideo(path)
	return fs
}

// get fetches path from the server's HTTP listener. It uses its own
// client rather than server.tryGet, which keeps every body it reads.
func (o *observer) get(path string) (int, []byte, error) {
	resp, err := o.client.Get("http://" + o.s.cfg.Serve.HTTPAddr + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (o *observer) adminGet(path string) (int, []byte) {
	req, _ := http.NewRequest("GET", "http://"+o.s.cfg.Serve.AdminAddr+path, nil)
	req.Header.Set("Authorization", "Bearer "+o.s.cfg.Serve.AdminToken)
	resp, err := o.client.Do(req)
	if err != nil {
		o.problem("GET %s: %v", path, err)
		return 0, []byte{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// wait returns the observer's log once it is done, or an error after
// timeout: the publisher's limit and endWait are shorter, so that means a
// hang.
func (o *observer) wait(timeout time.Duration) (*streamLog, error) {
	select {
	case <-o.done:
		return &o.log, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("the observer of %s did not finish within %v", o.pid, timeout)
	}
}
