package registry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAdminRecordings: GET /api/channels/{id}/recordings answers what the
// callback lists for that channel, 404 for an unknown channel or a server
// that records nothing, and the callback's error as 500.
func TestAdminRecordings(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	ch, key, err := s.Create(ctx, "recorded")
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	fail := false
	srv := httptest.NewServer(AdminHandler(s, testToken, nil, WithRecordings(func(_ context.Context, c Channel) (any, error) {
		asked = append(asked, c.PlaybackID)
		if fail {
			return nil, errors.New("storage unreachable")
		}
		return []map[string]string{{"id": "1732430000000", "playback_id": c.PlaybackID}}, nil
	})))
	t.Cleanup(srv.Close)
	auth := "Bearer " + testToken

	a := call(t, srv, "GET", "/api/channels/"+ch.ID+"/recordings", auth, "")
	if a.status != 200 || !strings.Contains(a.body, `"playback_id":"`+ch.PlaybackID+`"`) || len(asked) != 1 || asked[0] != ch.PlaybackID {
		t.Errorf("recordings: %d %s (asked %v)", a.status, a.body, asked)
	}
	if a.header.Get("Cache-Control") != "no-store" || strings.Contains(a.body, key) {
		t.Errorf("recordings answer: %v %s", a.header, a.body)
	}
	if a := call(t, srv, "GET", "/api/channels/ch_nosuchchannel/recordings", auth, ""); a.status != 404 || len(asked) != 1 {
		t.Errorf("recordings of an unknown channel: %d %s", a.status, a.body)
	}
	if a := call(t, srv, "GET", "/api/channels/"+ch.ID+"/recordings", "", ""); a.status != 401 || len(asked) != 1 {
		t.Errorf("recordings without the token: %d %s", a.status, a.body)
	}
	if a := call(t, srv, "POST", "/api/channels/"+ch.ID+"/recordings", auth, ""); a.status != 405 || a.header.Get("Allow") != "GET" {
		t.Errorf("POST recordings: %d %v", a.status, a.header)
	}
	fail = true
	if a := call(t, srv, "GET", "/api/channels/"+ch.ID+"/recordings", auth, ""); a.status != http.StatusInternalServerError ||
		errorOf(t, a) != "list recordings: storage unreachable" {
		t.Errorf("recordings when the storage fails: %d %s", a.status, a.body)
	}

	plain, ps := adminServer(t, testToken, nil)
	other, _, err := ps.Create(ctx, "not recorded")
	if err != nil {
		t.Fatal(err)
	}
	if a := call(t, plain, "GET", "/api/channels/"+other.ID+"/recordings", auth, ""); a.status != 404 || !strings.Contains(errorOf(t, a), "does not record") {
		t.Errorf("recordings on a server that does not record: %d %s", a.status, a.body)
	}
}
