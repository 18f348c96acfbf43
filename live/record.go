package live

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/pipeline"
	"github.com/livestream/livestream/record"
)

// recordQueueSegments bounds the segments waiting for the recorder's spool
// write: 32 segments of every rendition is a minute of a 3-rendition ladder
// at 2 s segments, far beyond an fsync, yet a disk that hangs costs the
// stream a few megabytes of references to segments it already holds.
const recordQueueSegments = 32

// recordLogEvery rate-limits the log of recording failures: a disk that
// fails would fail every segment of every rendition.
const recordLogEvery = 10 * time.Second

// recording feeds a stream's segments to its recording session. The
// pipeline's rendition goroutines hand each segment over without waiting
// (a full queue drops it: the recording must never slow the ladder), and
// one goroutine writes them to the spool, in order per rendition, since
// Session.Segment fsyncs.
//
// An fMP4 segment goes with the bytes of its init section whenever its
// Init is not the one last queued for its rendition: the writer hands
// those to Session.Init first. The init section is read from the stream's
// store then, while the segment that names it is listed, so it is still
// there.
type recording struct {
	session *record.Session
	log     *slog.Logger
	queue   chan recordedSegment // closed by finish, after the pipeline's last segment
	written chan struct{}        // closed when the writer has drained queue

	mu       sync.Mutex
	discNext map[string]bool // a segment of that rendition was dropped here
	// initQueued is, by rendition, the init section last queued with a
	// segment; the writer forgets it when Session.Init refuses it, so that
	// the next segment brings it again.
	initQueued map[string]string
	lastLog    time.Time
	unlogged   int64 // failures since the last log

	segments atomic.Int64 // taken by the session: spooled, or of a rendition it does not record
	failed   atomic.Int64 // dropped here (queue full) or refused by the session
	ended    atomic.Bool
}

type recordedSegment struct {
	rendition string
	seg       hlsmux.SegmentInfo
	data      []byte // the store's slice, never modified
	init      []byte // seg.Init's bytes, when the session may lack them; the store's slice
}

// startRecording begins the recording of s's ladder, when the Manager has
// a recorder. A recorder that refuses costs the stream its recording, not
// the publish.
func (s *Stream) startRecording(g *pipeline.Graph) *recording {
	rec := s.m.cfg.Recorder
	if rec == nil {
		return nil
	}
	var vs []hlsmux.Variant
	for _, p := range g.Renditions() {
		if g.AudioOnly() {
			vs = append(vs, hlsmux.Variant{
				Name: p.Name, Codecs: pipeline.AudioOnlyCodecs,
				Bandwidth:        pipeline.AudioOnlyBandwidth(p.AudioBitrate),
				AverageBandwidth: pipeline.AudioOnlyBandwidth(p.AudioBitrate),
			})
			continue
		}
		// As the pipeline's configured master announces it: the peak rate
		// (or the average when uncapped) plus audio, and 10 % for MPEG-TS.
		peak := p.MaxRate
		if peak == 0 {
			peak = p.VideoBitrate
		}
		vs = append(vs, hlsmux.Variant{
			Name:             p.Name,
			Bandwidth:        int(peak+p.AudioBitrate) * 11 / 10,
			AverageBandwidth: int(p.VideoBitrate+p.AudioBitrate) * 11 / 10,
			Width:            p.OutWidth, Height: p.OutHeight,
			FrameRate: g.FrameRate().Float(),
		})
	}
	session, err := rec.Start(s.ch.PlaybackID, s.begun, vs)
	if err != nil {
		s.log.Error("stream not recorded", "err", err)
		return nil
	}
	r := &recording{
		session:    session,
		log:        s.log.With("recording", session.ID()),
		queue:      make(chan recordedSegment, recordQueueSegments*len(vs)),
		written:    make(chan struct{}),
		discNext:   map[string]bool{},
		initQueued: map[string]string{},
	}
	go r.write()
	return r
}

// segment queues seg of rendition, whose bytes are in store, for the
// recording. It is called on the rendition's goroutine and never blocks.
func (r *recording) segment(store hlsmux.Store, rendition string, seg hlsmux.SegmentInfo) {
	data, err := store.Get(rendition + "/" + seg.Name)
	if err != nil {
		r.fail(rendition, "segment not in the stream's store", err)
		return
	}
	r.mu.Lock()
	needInit := seg.Init != "" && seg.Init != r.initQueued[rendition]
	r.mu.Unlock()
	var init []byte
	if needInit {
		if init, err = store.Get(rendition + "/" + seg.Init); err != nil {
			r.fail(rendition, "init section not in the stream's store", err)
			return
		}
	}
	seg.Parts = nil // a recording has no parts; they would hold the store's names
	r.mu.Lock()
	if r.discNext[rendition] {
		// The recording lacks the segment before: the timestamps jump.
		seg.Discontinuity = true
	}
	select {
	case r.queue <- recordedSegment{rendition: rendition, seg: seg, data: data, init: init}:
		r.discNext[rendition] = false
		if needInit {
			r.initQueued[rendition] = seg.Init
		}
		r.mu.Unlock()
	default:
		r.mu.Unlock()
		r.fail(rendition, "recording queue full: the spool's disk is not keeping up", nil)
	}
}

// write hands the queued segments to the session until finish closes the
// queue.
func (r *recording) write() {
	defer close(r.written)
	for q := range r.queue {
		var initErr error
		if q.init != nil {
			if initErr = r.session.Init(q.rendition, q.seg.Init, q.init); initErr != nil {
				// Segment drops the segment, lacking its init section, and
				// counts the gap in the recording.
				r.mu.Lock()
				if r.initQueued[q.rendition] == q.seg.Init {
					delete(r.initQueued, q.rendition)
				}
				r.mu.Unlock()
			}
		}
		if err := r.session.Segment(q.rendition, q.seg, q.data); err != nil {
			r.fail("", "segment not recorded", errors.Join(initErr, err))
			continue
		}
		r.segments.Add(1)
	}
}

// fail counts a segment missing from the recording and logs at most every
// recordLogEvery. rendition, when set, marks its next segment as following
// a gap (the session does so itself for the segments it refuses).
func (r *recording) fail(rendition, msg string, err error) {
	r.failed.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if rendition != "" {
		r.discNext[rendition] = true
	}
	r.unlogged++
	if now := time.Now(); now.Sub(r.lastLog) >= recordLogEvery {
		attrs := []any{"failures_since_last_log", r.unlogged}
		if rendition != "" {
			attrs = append(attrs, "rendition", rendition)
		}
		if err != nil {
			attrs = append(attrs, "err", err)
		}
		r.log.Error(msg, attrs...)
		r.lastLog, r.unlogged = now, 0
	}
}

// finish ends the session once the pipeline has returned (no segment comes
// after): the queued segments are spooled first. It waits for local disk
// writes only, never for the uploads.
func (r *recording) finish() {
	close(r.queue)
	<-r.written
	r.ended.Store(true)
	r.session.End()
}

// RecordingInfo is a stream's recording session, in its Info.
type RecordingInfo struct {
	// Session is the recording session's id.
	Session string `json:"session"`
	// State is "recording" while the stream is live or its segments are
	// being uploaded, then "complete", or "incomplete" when segments are
	// missing from it.
	State record.State `json:"state"`
	// Segments counts the segments the recorder took: in its spool (on
	// disk, so they survive a crash) or not recorded at all (renditions
	// other than the top one, unless all are recorded). Failed counts
	// those missing from the recording.
	Segments int64 `json:"segments"`
	Failed   int64 `json:"failed,omitempty"`
	// Playlist is the recording's playlist in the recorder's storage,
	// "<playback id>/vod-<session id>.m3u8".
	Playlist string `json:"playlist"`
}

func (r *recording) info() *RecordingInfo {
	in := &RecordingInfo{
		Session: r.session.ID(), State: record.StateRecording,
		Segments: r.segments.Load(), Failed: r.failed.Load(), Playlist: r.session.Playlist(),
	}
	select {
	case <-r.session.Done():
		if r.ended.Load() {
			in.State = record.StateComplete
			if in.Failed > 0 {
				in.State = record.StateIncomplete
			}
		}
	default:
	}
	return in
}
