package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
)

// maxResponseBody bounds how much of an admin API answer the Client reads:
// a list of channels is some 200 bytes a channel.
const maxResponseBody = 64 << 20

// errTokenRejected is the error of a request the admin API refused with 401.
var errTokenRejected = errors.New("admin token rejected")

// Client calls the admin API of a running server (AdminHandler), for the
// `livestream keys` CLI and scripts. Its methods mirror the Store's and
// return the same ErrNotFound, ErrInvalidName, ErrInvalidSettings,
// ErrNoDestination and ErrInvalidDestination; a 401 is an "admin token rejected" error. Unlike
// the Store's, its destinations are Redacted, as the admin API answers.
//
// The token travels in the clear over http://: use https:// (or a loopback
// address) for a server on another machine.
type Client struct {
	// URL is the admin API's base, such as "http://127.0.0.1:8081".
	URL string
	// Token is the admin token sent as "Authorization: Bearer TOKEN".
	Token string
	// HTTP makes the requests; nil means http.DefaultClient.
	HTTP *http.Client
}

// Create makes a channel named name and returns it with its stream key.
func (c *Client) Create(ctx context.Context, name string) (Channel, string, error) {
	body, _ := json.Marshal(map[string]string{"name": name})
	var out IssuedKey
	if err := c.do(ctx, http.MethodPost, "/api/channels", body, http.StatusCreated, &out); err != nil {
		return Channel{}, "", fmt.Errorf("create channel: %w", err)
	}
	return out.Channel, out.StreamKey, nil
}

// List returns every channel, oldest first.
func (c *Client) List(ctx context.Context) ([]Channel, error) {
	var out []Channel
	if err := c.do(ctx, http.MethodGet, "/api/channels", nil, http.StatusOK, &out); err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return out, nil
}

// Get returns channel id, or an error wrapping ErrNotFound.
func (c *Client) Get(ctx context.Context, id string) (Channel, error) {
	var out Channel
	if err := c.do(ctx, http.MethodGet, "/api/channels/"+url.PathEscape(id), nil, http.StatusOK, &out); err != nil {
		return Channel{}, fmt.Errorf("get channel %s: %w", idForError(id), err)
	}
	return out, nil
}

// UpdateSettings applies u to channel id's settings and returns the
// channel.
func (c *Client) UpdateSettings(ctx context.Context, id string, u SettingsUpdate) (Channel, error) {
	body, err := json.Marshal(u)
	if err != nil {
		return Channel{}, fmt.Errorf("update settings of %s: %w", idForError(id), err)
	}
	var out Channel
	if err := c.do(ctx, http.MethodPatch, "/api/channels/"+url.PathEscape(id), body, http.StatusOK, &out); err != nil {
		return Channel{}, fmt.Errorf("update settings of %s: %w", idForError(id), err)
	}
	return out, nil
}

// Rotate issues a new stream key for channel id and returns it.
func (c *Client) Rotate(ctx context.Context, id string) (Channel, string, error) {
	var out IssuedKey
	if err := c.do(ctx, http.MethodPost, "/api/channels/"+url.PathEscape(id)+"/rotate", nil, http.StatusOK, &out); err != nil {
		return Channel{}, "", fmt.Errorf("rotate key of %s: %w", idForError(id), err)
	}
	return out.Channel, out.StreamKey, nil
}

// Revoke deletes channel id and its key.
func (c *Client) Revoke(ctx context.Context, id string) error {
	if err := c.do(ctx, http.MethodDelete, "/api/channels/"+url.PathEscape(id), nil, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("revoke %s: %w", idForError(id), err)
	}
	return nil
}

// do sends one request and decodes a `want` answer into out (unless nil).
// Its errors name the server but never hold the token.
func (c *Client) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	u, err := url.Parse(strings.TrimRight(c.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("admin URL: want http://HOST:PORT or https://HOST:PORT")
	}
	base := u.Redacted() // for errors: no password from the URL
	req, err := http.NewRequestWithContext(ctx, method, u.String()+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("admin API at %s: connection refused: is the server running and listening there?", base)
	}
	if err != nil {
		return fmt.Errorf("admin API at %s: %w", base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return fmt.Errorf("admin API at %s: read answer: %w", base, err)
	}
	if resp.StatusCode != want {
		return apiError(base, resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin API at %s: decode answer: %w", base, err)
	}
	return nil
}

// apiError turns an error answer into an error wrapping the sentinel its
// status stands for, with the server's message.
func apiError(base string, status int, body []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	msg := http.StatusText(status)
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	switch status {
	case http.StatusUnauthorized:
		return fmt.Errorf("admin API at %s: %w: %s", base, errTokenRejected, msg)
	case http.StatusNotFound:
		// Only the store's own "no such channel" or "no such
		// destination": a 404 from a URL that is not the admin API is a
		// wrong URL, not a missing channel.
		for _, sentinel := range []error{ErrNoDestination, ErrNotFound} {
			if strings.Contains(msg, sentinel.Error()) {
				return fmt.Errorf("%w (admin API at %s)", sentinel, base)
			}
		}
	case http.StatusBadRequest:
		// With the server's reason, which follows the sentinel's text.
		for _, sentinel := range []error{ErrInvalidName, ErrInvalidDestination, ErrInvalidSettings} {
			if _, reason, ok := strings.Cut(msg, sentinel.Error()); ok {
				return fmt.Errorf("%w%s", sentinel, reason)
			}
		}
	}
	return fmt.Errorf("admin API at %s: %d %s: %s", base, status, http.StatusText(status), msg)
}
