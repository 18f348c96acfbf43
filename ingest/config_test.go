package ingest

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{Auth: &testAuth{}, Handler: &testHandler{}}.WithDefaults()
	if c.App != "stream" || c.IdleTimeout != 10*time.Second || c.HandshakeTimeout != 5*time.Second || c.StartTimeout != 5*time.Second ||
		c.MaxMessageSize != 4<<20 || c.AuthFailures != (AuthFailures{Free: 5, Delay: time.Second, MaxDelay: 10 * time.Second, Window: time.Minute}) ||
		c.MaxConns != 1000 || c.MaxConnsPerAddr != 8 || c.Logger == nil {
		t.Errorf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	c := Config{App: "live/x", IdleTimeout: -time.Second, MaxMessageSize: 100,
		AuthFailures: AuthFailures{Delay: time.Minute}}.WithDefaults()
	err := c.Validate()
	if err == nil {
		t.Fatal("a bad config validates")
	}
	for _, field := range []string{"auth:", "handler:", "app:", "idle_timeout:", "max_message_size:", "auth_failures.max_delay:"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("the error does not name %s: %v", field, err)
		}
	}
	if _, err := NewServer(Config{}); err == nil {
		t.Error("NewServer without Auth and Handler")
	}
}
