package record

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// testBackend checks the Backend contract on b.
func testBackend(t *testing.T, b Backend) {
	ctx := context.Background()
	put := func(name, data string) {
		t.Helper()
		if err := b.Put(ctx, name, []byte(data), segmentType, segmentCache); err != nil {
			t.Fatalf("Put %s: %v", name, err)
		}
	}
	put("pb/1/720p/1.ts", "one")
	put("pb/1/720p/2.ts", "two")
	put("pb/vod-1.m3u8", "#EXTM3U\n")
	put("pbx/vod-2.m3u8", "other")
	put("pb/1/720p/1.ts", "one again") // replaces

	if got, err := b.Get(ctx, "pb/1/720p/1.ts"); err != nil || string(got) != "one again" {
		t.Errorf("Get = %q, %v", got, err)
	}
	if _, err := b.Get(ctx, "pb/1/720p/9.ts"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing object: %v, want ErrNotFound", err)
	}
	list, err := b.List(ctx, "pb/")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range list {
		names = append(names, o.Name)
		if o.Name == "pb/1/720p/2.ts" && (o.Size != 3 || o.Modified.IsZero()) {
			t.Errorf("info %+v", o)
		}
	}
	if strings.Join(names, " ") != "pb/1/720p/1.ts pb/1/720p/2.ts pb/vod-1.m3u8" {
		t.Errorf("List(pb/) = %v", names)
	}
	if list, err := b.List(ctx, "pb/vod-"); err != nil || len(list) != 1 || list[0].Name != "pb/vod-1.m3u8" {
		t.Errorf("List(pb/vod-) = %v, %v", list, err)
	}
	if list, err := b.List(ctx, "none/"); err != nil || len(list) != 0 {
		t.Errorf("List(none/) = %v, %v", list, err)
	}
	if err := b.Delete(ctx, "pb/1/720p/1.ts"); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "pb/1/720p/1.ts"); err != nil {
		t.Errorf("Delete of a missing object: %v", err)
	}
	if _, err := b.Get(ctx, "pb/1/720p/1.ts"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	for _, bad := range []string{"", "/abs", "../up", "a/../b", "a//b", ".tmp-x", "a/b/", "a\\b", "a\x00"} {
		if err := b.Put(ctx, bad, nil, segmentType, segmentCache); !errors.Is(err, ErrBadName) {
			t.Errorf("Put(%q): %v, want ErrBadName", bad, err)
		}
	}
}

func TestDirBackend(t *testing.T) {
	b, err := NewDirBackend(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	testBackend(t, b)
}

func TestS3Backend(t *testing.T) {
	srv := startS3(t)
	testBackend(t, srv.backend())

	// The secret key is never in a log line or an error.
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("s3", "config", srv.config())
	if strings.Contains(buf.String(), s3Secret) || !strings.Contains(buf.String(), s3Bucket) {
		t.Errorf("S3Config logged as %s", buf.String())
	}
	cfg := srv.config()
	cfg.SecretAccessKey = "wrong-" + s3Secret
	bad, err := NewS3Backend(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Put(context.Background(), "pb/x.ts", []byte("x"), segmentType, segmentCache)
	if err == nil || strings.Contains(err.Error(), s3Secret) {
		t.Errorf("Put with a wrong secret: %v; want an error without the secret", err)
	}
	if _, err := NewS3Backend(context.Background(), S3Config{}); err == nil {
		t.Error("NewS3Backend without a bucket succeeded")
	}
}
