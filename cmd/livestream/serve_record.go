package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/livestream/livestream/origin"
	"github.com/livestream/livestream/record"
	"github.com/livestream/livestream/registry"
)

// defaultSpoolMaxBytes is record's default: over an hour of a 3.5 Mb/s
// rendition while the storage is unreachable.
const defaultSpoolMaxBytes = 2 << 30

// vodReadTimeout bounds one read of a recording's file for /vod/: a
// storage that hangs must not hold a viewer's request (and the file's
// memory) for longer than a player waits.
const vodReadTimeout = 20 * time.Second

// recorderCloseTimeout bounds how long shutdown waits for the last uploads;
// what is left stays in the spool for the next start.
const recorderCloseTimeout = 10 * time.Second

// RecordConfig is the recording part of the `serve:` section: every
// stream is recorded as HLS to a directory or an S3 bucket (see package
// record). S3 credentials come from the standard AWS environment variables
// and shared config, never from here.
type RecordConfig struct {
	// Record records every stream. Default true.
	Record *bool `yaml:"record"`
	// RecordRenditions is "top" (the highest-bandwidth rendition, the
	// default) or "all" (every rendition, with a master playlist).
	RecordRenditions string `yaml:"record_renditions"`
	// RecordDir receives the recordings when S3Bucket is empty, and the
	// origin serves them at /vod/. Default DATA_DIR/recordings.
	RecordDir string `yaml:"record_dir"`
	// S3Bucket, when set, sends the recordings to this bucket instead.
	S3Bucket string `yaml:"s3_bucket"`
	// S3Prefix is put before every object name ("recordings/…").
	S3Prefix string `yaml:"s3_prefix"`
	// S3Region defaults to the AWS chain's (AWS_REGION), then us-east-1.
	S3Region string `yaml:"s3_region"`
	// S3Endpoint is an S3-compatible server's URL; empty means AWS.
	S3Endpoint string `yaml:"s3_endpoint"`
	// S3PathStyle addresses the bucket in the path, as most S3-compatible
	// servers need.
	S3PathStyle bool `yaml:"s3_path_style"`
	// SpoolDir holds each segment until it is stored, on a local disk that
	// survives a restart. Default DATA_DIR/spool.
	SpoolDir string `yaml:"spool_dir"`
	// SpoolMaxBytes bounds the spool; beyond it, segments are dropped
	// until the storage takes uploads again. Default 2 GiB.
	SpoolMaxBytes int64 `yaml:"spool_max_bytes"`
	// RecordRetention deletes recordings older than this; 0 keeps them.
	RecordRetention time.Duration `yaml:"record_retention"`
}

func (c RecordConfig) withDefaults() RecordConfig {
	if c.Record == nil {
		on := true
		c.Record = &on
	}
	if c.RecordRenditions == "" {
		c.RecordRenditions = record.RenditionsTop
	}
	if c.SpoolMaxBytes == 0 {
		c.SpoolMaxBytes = defaultSpoolMaxBytes
	}
	return c
}

func (c RecordConfig) validate() error {
	switch {
	case c.RecordRenditions != record.RenditionsTop && c.RecordRenditions != record.RenditionsAll:
		return fmt.Errorf("record_renditions %q: want top or all", c.RecordRenditions)
	case c.SpoolMaxBytes < 0:
		return fmt.Errorf("spool_max_bytes %d: must not be negative", c.SpoolMaxBytes)
	case c.RecordRetention < 0:
		return fmt.Errorf("record_retention %s: must not be negative", c.RecordRetention)
	case c.S3Bucket == "" && (c.S3Prefix != "" || c.S3Region != "" || c.S3Endpoint != "" || c.S3PathStyle):
		return errors.New("s3_prefix, s3_region, s3_endpoint, s3_path_style: need s3_bucket")
	}
	return nil
}

// recordDir and spoolDir are the directories in use, under dataDir unless
// set. They are derived here, not in withDefaults, since --data-dir may
// change after the config file's defaults were filled.
func (c RecordConfig) recordDir(dataDir string) string {
	if c.RecordDir != "" {
		return c.RecordDir
	}
	return filepath.Join(dataDir, "recordings")
}

func (c RecordConfig) spoolDir(dataDir string) string {
	if c.SpoolDir != "" {
		return c.SpoolDir
	}
	return filepath.Join(dataDir, "spool")
}

// recordFlags defines the recording flags on fs, and returns what copies
// those given into c.
func recordFlags(fs *flag.FlagSet) func(c *RecordConfig, set map[string]bool) {
	rec := fs.Bool("record", true, "record every stream (--record=false: none)")
	renditions := fs.String("record-renditions", "", "record the top rendition or all: top or all (default top)")
	dir := fs.String("record-dir", "", "recordings `directory`, served at /vod/ (default DATA_DIR/recordings)")
	bucket := fs.String("s3-bucket", "", "record to this S3 `bucket` instead of --record-dir (credentials: the AWS environment and shared config)")
	prefix := fs.String("s3-prefix", "", "object name `prefix` in the bucket")
	region := fs.String("s3-region", "", "S3 `region` (default: AWS_REGION, then us-east-1)")
	endpoint := fs.String("s3-endpoint", "", "S3-compatible server `URL` (default: AWS)")
	pathStyle := fs.Bool("s3-path-style", false, "address the bucket in the URL's path (most S3-compatible servers)")
	spool := fs.String("spool-dir", "", "`directory` holding segments until they are stored (default DATA_DIR/spool)")
	spoolMax := fs.Int64("spool-max-bytes", 0, "spool size `limit` in bytes (default 2 GiB)")
	retention := fs.Duration("record-retention", 0, "delete recordings older than this `duration` (default 0: keep)")
	return func(c *RecordConfig, set map[string]bool) {
		str := func(name string, dst *string, v string) {
			if set[name] {
				*dst = v
			}
		}
		if set["record"] {
			c.Record = rec
		}
		str("record-renditions", &c.RecordRenditions, *renditions)
		str("record-dir", &c.RecordDir, *dir)
		str("s3-bucket", &c.S3Bucket, *bucket)
		str("s3-prefix", &c.S3Prefix, *prefix)
		str("s3-region", &c.S3Region, *region)
		str("s3-endpoint", &c.S3Endpoint, *endpoint)
		str("spool-dir", &c.SpoolDir, *spool)
		if set["s3-path-style"] {
			c.S3PathStyle = *pathStyle
		}
		if set["spool-max-bytes"] {
			c.SpoolMaxBytes = *spoolMax
		}
		if set["record-retention"] {
			c.RecordRetention = *retention
		}
	}
}

// recording is the server's recorder and where its recordings are.
type recording struct {
	rec *record.Recorder
	// backend holds the recordings; the origin serves them at /vod/
	// through vod, whichever it is.
	backend   record.Backend
	closeOnce sync.Once
	// bucket and prefix locate the recordings with S3; bucket is empty
	// with the directory backend.
	bucket, prefix string
}

// newRecording starts the recorder sc asks for; nil when recording is off.
// Sessions a crashed process left in the spool are completed in the
// background.
func newRecording(ctx context.Context, sc ServeConfig, segment time.Duration, log *slog.Logger) (*recording, error) {
	rc := sc.RecordConfig
	if rc.Record != nil && !*rc.Record {
		return nil, nil
	}
	out, err := openRecordings(ctx, sc)
	if err != nil {
		return nil, err
	}
	backend := out.backend
	rec, err := record.New(record.Config{
		Backend: backend, SpoolDir: rc.spoolDir(sc.DataDir), SpoolMaxBytes: rc.SpoolMaxBytes,
		Renditions: rc.RecordRenditions, TargetDuration: segment, MaxAge: rc.RecordRetention,
		Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	out.rec = rec
	return out, nil
}

// openRecordings opens the storage of the recordings sc names, without a
// recorder: what an origin needs to serve /vod/.
func openRecordings(ctx context.Context, sc ServeConfig) (*recording, error) {
	rc := sc.RecordConfig
	out := &recording{}
	if rc.S3Bucket != "" {
		s3, err := record.NewS3Backend(ctx, record.S3Config{
			Bucket: rc.S3Bucket, Prefix: rc.S3Prefix, Region: rc.S3Region, Endpoint: rc.S3Endpoint, PathStyle: rc.S3PathStyle,
		})
		if err != nil {
			return nil, fmt.Errorf("recordings bucket: %w", err)
		}
		out.backend, out.bucket, out.prefix = s3, rc.S3Bucket, rc.S3Prefix
		return out, nil
	}
	dir, err := record.NewDirBackend(rc.recordDir(sc.DataDir))
	if err != nil {
		return nil, fmt.Errorf("recordings directory: %w", err)
	}
	out.backend = dir
	return out, nil
}

// close ends the recording sessions and waits a while for their uploads;
// calls after the first do nothing.
func (r *recording) close(log *slog.Logger) {
	r.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), recorderCloseTimeout)
		defer cancel()
		if err := r.rec.Close(ctx); err != nil {
			log.Warn("recordings not all stored at shutdown: the rest stays in the spool for the next start", "err", err)
		}
	})
}

// Recording is one recording session as the admin API lists it.
type Recording struct {
	record.SessionInfo
	// URL is the recording's playlist on the viewers' HTTP server
	// ("/vod/<playback id>/vod-<session id>.m3u8"), whichever storage
	// holds it: players need no access to the bucket.
	URL string `json:"url"`
	// Object is the playlist's object with S3, "s3://BUCKET/KEY", for
	// tools that read the bucket; empty with the directory backend.
	Object string `json:"object,omitempty"`
}

// list answers GET /api/channels/{id}/recordings.
func (r *recording) list(ctx context.Context, ch registry.Channel) (any, error) {
	sessions, err := r.rec.Sessions(ctx, ch.PlaybackID)
	if err != nil {
		return nil, err
	}
	out := make([]Recording, len(sessions))
	for i, s := range sessions {
		out[i] = Recording{SessionInfo: s, URL: "/vod/" + s.Playlist}
		if r.bucket != "" {
			out[i].Object = "s3://" + r.bucket + "/" + path.Join(r.prefix, s.Playlist)
		}
	}
	return out, nil
}

// vod reads a recording's file for the origin's /vod/ from the backend,
// whichever it is: a file the backend does not hold, or a name it refuses,
// is origin.ErrNotFound (404); any other error is the storage failing
// (503). Files are read whole: a segment is a few MB.
func (r *recording) vod(ctx context.Context, name string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, vodReadTimeout)
	defer cancel()
	data, err := r.backend.Get(ctx, name)
	if errors.Is(err, record.ErrNotFound) || errors.Is(err, record.ErrBadName) {
		return nil, origin.ErrNotFound
	}
	return data, err
}
