package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/pipeline"
)

func runTranscode(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("transcode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML or JSON config `file` (ladder, encoder settings)")
	segSeconds := fs.Float64("segment-seconds", 0, "HLS target segment duration in `seconds` (default 6)")
	quiet := fs.Bool("quiet", false, "no progress line")
	verbose := fs.Bool("verbose", false, "show FFmpeg's warnings and errors")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: livestream transcode [--config FILE] [--segment-seconds 6] INPUT OUTDIR")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 2 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "livestream: transcode: %v\n", err)
		return 1
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return fail(err)
	}
	if *segSeconds != 0 {
		cfg.Transcode.SegmentDuration = time.Duration(*segSeconds * float64(time.Second))
		if err := cfg.Transcode.Validate(); err != nil {
			return fail(fmt.Errorf("--segment-seconds: %w", err))
		}
	}
	// A failed transcode says what was wrong in one line; warnings (corrupt
	// packets skipped, which the summary counts) and FFmpeg's own running
	// commentary are there on request.
	level := slog.LevelError
	if *verbose {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if *verbose {
		codec.SetLogger(log)
	} else {
		codec.Quiet()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t := &transcodeJob{input: pos[0], outDir: pos[1], cfg: cfg.Transcode, log: log, stdout: stdout, stderr: stderr,
		progress: !*quiet && isTerminal(stderr)}
	if err := t.run(ctx); err != nil {
		if t.progress {
			fmt.Fprintln(stderr)
		}
		return fail(err)
	}
	return 0
}

// parseInterspersed parses flags that may come before, between or after the
// positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

type transcodeJob struct {
	input, outDir  string
	cfg            pipeline.Config
	log            *slog.Logger
	stdout, stderr io.Writer
	progress       bool
}

func (t *transcodeJob) run(ctx context.Context) error {
	if err := os.MkdirAll(t.outDir, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	store, err := hlsmux.NewDirStore(t.outDir)
	if err != nil {
		return err
	}
	f, err := pipeline.OpenFile(t.input, t.cfg, pipeline.Output{
		Store: store, Type: hlsmux.VOD, FirstSeq: time.Now().UnixMilli(), Logger: t.log,
	})
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	done := make(chan struct{})
	if t.progress {
		go t.showProgress(f.Graph, start, done)
	}
	err = f.Run(ctx)
	close(done)
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted")
	}
	if frames, _ := f.Progress(); frames > 0 {
		t.summary(f.Graph, time.Since(start))
		if err != nil {
			return fmt.Errorf("%w (the output has what was read before)", err)
		}
	}
	return err
}

func (t *transcodeJob) showProgress(g *pipeline.Graph, start time.Time, done <-chan struct{}) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var firstPTS int64 = -1
	for {
		select {
		case <-done:
			fmt.Fprint(t.stderr, "\r\033[K")
			return
		case <-tick.C:
		}
		frames, pts := g.Progress()
		if frames == 0 {
			continue
		}
		if firstPTS < 0 {
			firstPTS = pts
		}
		el := time.Since(start).Seconds()
		secs := media.Duration(pts - firstPTS).Seconds()
		fmt.Fprintf(t.stderr, "\r\033[Kframes %d  fps %.1f  time %s  speed %.2fx", frames, float64(frames)/el,
			time.Duration(secs*float64(time.Second)).Truncate(100*time.Millisecond), secs/el)
	}
}

func (t *transcodeJob) summary(g *pipeline.Graph, took time.Duration) {
	frames, _ := g.Progress()
	fps := g.FrameRate().Float()
	dur := float64(frames) / fps
	var names []string
	for _, r := range g.Renditions() {
		names = append(names, fmt.Sprintf("%s %dx%d", r.Name, r.OutWidth, r.OutHeight))
	}
	fmt.Fprintf(t.stdout, "transcoded %d frames (%.1f s at %.3g fps) in %.1f s: %.2fx realtime, %.1f fps\nrenditions: %s\nmaster playlist: %s\n",
		frames, dur, fps, took.Seconds(), dur/took.Seconds(), float64(frames)/took.Seconds(),
		strings.Join(names, ", "), filepath.Join(t.outDir, "live.m3u8"))
	if n := g.Corrupt(); n > 0 {
		fmt.Fprintf(t.stdout, "skipped %d corrupt packets\n", n)
	}
}
