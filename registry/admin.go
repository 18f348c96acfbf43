package registry

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxRequestBody bounds an admin request's body: the largest, a new
// destination, is a few kilobytes at most.
const maxRequestBody = 64 << 10

// adminRealm is the realm of the admin API's WWW-Authenticate challenges.
const adminRealm = "livestream admin"

// IssuedKey is a channel with its new stream key, as the admin API returns
// it from creating a channel and rotating its key: the only two answers
// that hold a key.
type IssuedKey struct {
	Channel
	StreamKey string `json:"stream_key"`
}

// AdminHandler serves the admin API over s:
//
//	POST   /api/channels              {"name": N} → 201 IssuedKey
//	GET    /api/channels              → 200 [Channel, …], oldest first
//	GET    /api/channels/{id}         → 200 Channel, or 404
//	PATCH  /api/channels/{id}         any of {"reconnect_window", "keep_on_unpublish"} → 200 Channel, or 404
//	POST   /api/channels/{id}/rotate  → 200 IssuedKey with the new key, or 404
//	DELETE /api/channels/{id}         → 204, or 404
//	GET    /api/channels/{id}/destinations           → 200 [Destination, …], oldest first, or 404
//	POST   /api/channels/{id}/destinations           {"kind", "key", "url", "enabled"} → 201 Destination
//	GET    /api/channels/{id}/destinations/{dest_id} → 200 Destination, or 404
//	PATCH  /api/channels/{id}/destinations/{dest_id} any of {"enabled", "key", "url"} → 200 Destination
//	DELETE /api/channels/{id}/destinations/{dest_id} → 204, or 404
//	GET    /api/channels/{id}/recordings             → 200 the JSON of the recordings option's answer, or 404
//	GET    /api/streams               → 200 the JSON of streams() ([] if streams is nil)
//	GET    /api/streams/{playback_id} → 200 the element of that list whose "playback_id" it is | 404
//
// PATCH changes the channel's settings (SettingsUpdate): only those given;
// "reconnect_window": null gives it the server's window back; a value out
// of range is 400, naming the field. A new destination is enabled unless
// "enabled" is false; a destination that
// is not valid (Destination.Validate) or one too many is 400. Destinations
// are answered Redacted, always: their keys go in, never out.
//
// Every request must carry "Authorization: Bearer TOKEN"; any other gets 401
// with a WWW-Authenticate challenge, and every request does when token is
// empty, so that an unconfigured server is closed rather than open. Answers
// are JSON, errors {"error": "…"}. Request bodies are limited to 64 KiB and
// may hold no unknown field. The handler logs nothing: keys appear only in
// the answers that issue them, which are marked not to be cached.
func AdminHandler(s Store, token string, streams func() any, opts ...AdminOption) http.Handler {
	a := &admin{store: s, streams: streams}
	for _, o := range opts {
		o(a)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/channels", a.create)
	mux.HandleFunc("GET /api/channels", a.list)
	mux.HandleFunc("GET /api/channels/{id}", a.get)
	mux.HandleFunc("PATCH /api/channels/{id}", a.updateSettings)
	mux.HandleFunc("DELETE /api/channels/{id}", a.revoke)
	mux.HandleFunc("POST /api/channels/{id}/rotate", a.rotate)
	mux.HandleFunc("GET /api/channels/{id}/destinations", a.listDestinations)
	mux.HandleFunc("POST /api/channels/{id}/destinations", a.addDestination)
	mux.HandleFunc("GET /api/channels/{id}/destinations/{dest_id}", a.getDestination)
	mux.HandleFunc("PATCH /api/channels/{id}/destinations/{dest_id}", a.updateDestination)
	mux.HandleFunc("DELETE /api/channels/{id}/destinations/{dest_id}", a.deleteDestination)
	mux.HandleFunc("GET /api/channels/{id}/recordings", a.listRecordings)
	mux.HandleFunc("GET /api/streams", a.listStreams)
	mux.HandleFunc("GET /api/streams/{playback_id}", a.getStream)
	// The same paths without a method match only requests with another
	// method (a pattern with a method is the more specific).
	mux.Handle("/api/channels", methodNotAllowed("GET, POST"))
	mux.Handle("/api/channels/{id}", methodNotAllowed("GET, PATCH, DELETE"))
	mux.Handle("/api/channels/{id}/rotate", methodNotAllowed("POST"))
	mux.Handle("/api/channels/{id}/destinations", methodNotAllowed("GET, POST"))
	mux.Handle("/api/channels/{id}/destinations/{dest_id}", methodNotAllowed("GET, PATCH, DELETE"))
	mux.Handle("/api/channels/{id}/recordings", methodNotAllowed("GET"))
	mux.Handle("/api/streams", methodNotAllowed("GET"))
	mux.Handle("/api/streams/{playback_id}", methodNotAllowed("GET"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// The path is not echoed: a key pasted into the wrong URL stays
		// out of the answer, and out of whatever logs the answer.
		writeError(w, http.StatusNotFound, "no such admin API endpoint; see /api/channels and /api/streams")
	})
	return requireToken(token, mux)
}

type admin struct {
	store      Store
	streams    func() any
	recordings func(ctx context.Context, ch Channel) (any, error)
}

// AdminOption adds to what AdminHandler serves.
type AdminOption func(*admin)

// WithRecordings serves GET /api/channels/{id}/recordings with the JSON of
// list(ctx, the channel). Without it that path is 404: the server records
// nothing. list's errors are answered as they are (500), so they must not
// hold a secret; the registry cannot know the recordings' storage, hence
// the callback.
func WithRecordings(list func(ctx context.Context, ch Channel) (any, error)) AdminOption {
	return func(a *admin) { a.recordings = list }
}

func (a *admin) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name *string `json:"name"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Name == nil {
		writeError(w, http.StatusBadRequest, `"name" is required`)
		return
	}
	c, key, err := a.store.Create(r.Context(), *req.Name)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	w.Header().Set("Location", "/api/channels/"+c.ID)
	writeJSON(w, http.StatusCreated, IssuedKey{Channel: c, StreamKey: key})
}

func (a *admin) list(w http.ResponseWriter, r *http.Request) {
	cs, err := a.store.List(r.Context())
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if cs == nil {
		cs = []Channel{} // [] rather than null
	}
	writeJSON(w, http.StatusOK, cs)
}

func (a *admin) get(w http.ResponseWriter, r *http.Request) {
	c, err := a.store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (a *admin) updateSettings(w http.ResponseWriter, r *http.Request) {
	var u SettingsUpdate
	if !decodeBody(w, r, &u) {
		return
	}
	c, err := a.store.UpdateSettings(r.Context(), r.PathValue("id"), u)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (a *admin) rotate(w http.ResponseWriter, r *http.Request) {
	c, key, err := a.store.Rotate(r.Context(), r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, IssuedKey{Channel: c, StreamKey: key})
}

func (a *admin) revoke(w http.ResponseWriter, r *http.Request) {
	if err := a.store.Revoke(r.Context(), r.PathValue("id")); err != nil {
		writeStoreError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// getStream answers with the stream whose "playback_id" is the path's,
// from the same list as GET /api/streams: whatever streams() returns, as
// long as its JSON is a list of objects with a "playback_id".
func (a *admin) getStream(w http.ResponseWriter, r *http.Request) {
	pid := r.PathValue("playback_id")
	if a.streams != nil {
		b, err := json.Marshal(a.streams())
		if err != nil {
			writeError(w, http.StatusInternalServerError, "describe the streams: "+err.Error())
			return
		}
		var list []map[string]json.RawMessage
		if json.Unmarshal(b, &list) == nil {
			want, _ := json.Marshal(pid)
			for _, s := range list {
				if string(s["playback_id"]) == string(want) {
					writeJSON(w, http.StatusOK, s)
					return
				}
			}
		}
	}
	// Not echoed: the path may hold a key pasted in the wrong place.
	writeError(w, http.StatusNotFound, "no live stream with that playback id")
}

func (a *admin) listRecordings(w http.ResponseWriter, r *http.Request) {
	c, err := a.store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if a.recordings == nil {
		writeError(w, http.StatusNotFound, "this server does not record streams")
		return
	}
	v, err := a.recordings(r.Context(), c)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "list recordings: "+err.Error())
		return
	}
	if v == nil {
		v = []any{}
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *admin) listStreams(w http.ResponseWriter, r *http.Request) {
	var v any
	if a.streams != nil {
		v = a.streams()
	}
	if v == nil {
		v = []any{}
	}
	writeJSON(w, http.StatusOK, v)
}

// requireToken passes on only requests bearing token (RFC 6750). The
// tokens' SHA-256 sums are compared in constant time, so neither the
// token's bytes nor its length can be learned from response times.
func requireToken(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer realm=%q", adminRealm))
			writeError(w, http.StatusUnauthorized, "no admin token is configured on this server: the admin API is disabled")
			return
		}
		got, ok := parseBearer(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			challenge := fmt.Sprintf("Bearer realm=%q", adminRealm)
			if ok {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			writeError(w, http.StatusUnauthorized, "missing or wrong admin token (Authorization: Bearer TOKEN)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// parseBearer returns the token of an "Authorization: Bearer TOKEN" header
// value; the scheme is case-insensitive (RFC 9110, section 11.1).
func parseBearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

// decodeBody decodes the request's JSON body into v, refusing unknown
// fields, trailing data and more than maxRequestBody bytes. When it fails it
// has written the error and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("data after the JSON object")
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return true
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", maxRequestBody))
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, "request body: want a JSON object, got nothing")
	default:
		writeError(w, http.StatusBadRequest, "request body: "+err.Error())
	}
	return false
}

// writeStoreError answers with the status a Store error calls for. Store
// errors never hold a stream key nor a destination's key or URL, so their
// text is safe to return.
func writeStoreError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrNoDestination):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrInvalidName), errors.Is(err, ErrInvalidDestination), errors.Is(err, ErrInvalidSettings):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// writeJSON answers with v as JSON. no-store keeps issued keys, and what
// there is of destinations, out of every cache between the server and the
// admin.
func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		data, _ = json.Marshal(map[string]string{"error": "encode response: " + err.Error()})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}

// methodNotAllowed answers 405 with the methods allowed.
func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed here; allowed: %s", r.Method, allow))
	})
}
