package registry

import (
	"fmt"
	"net/http"
	"net/url"
)

// The admin API's destination endpoints. Every answer holds destinations
// Redacted, the one to the request that sent a key included: the admin
// has the key already, and an answer is easier to leak than a request.

// destinationRequest is the body of POST /api/channels/{id}/destinations.
type destinationRequest struct {
	Kind    string `json:"kind"`
	Key     string `json:"key"`
	URL     string `json:"url"`
	Enabled *bool  `json:"enabled"` // absent: true
}

func (a *admin) listDestinations(w http.ResponseWriter, r *http.Request) {
	ds, err := a.store.Destinations(r.Context(), r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	out := make([]Destination, len(ds)) // [] rather than null
	for i, d := range ds {
		out[i] = d.Redacted()
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *admin) addDestination(w http.ResponseWriter, r *http.Request) {
	var req destinationRequest
	if !decodeBody(w, r, &req) {
		return
	}
	id := r.PathValue("id")
	d, err := a.store.AddDestination(r.Context(), id, Destination{
		Kind: req.Kind, Key: req.Key, URL: req.URL, Enabled: req.Enabled == nil || *req.Enabled,
	})
	if err != nil {
		writeStoreError(w, err)
		return
	}
	w.Header().Set("Location", destinationPath(id, d.ID))
	writeJSON(w, http.StatusCreated, d.Redacted())
}

func (a *admin) getDestination(w http.ResponseWriter, r *http.Request) {
	id, destID := r.PathValue("id"), r.PathValue("dest_id")
	ds, err := a.store.Destinations(r.Context(), id)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	for _, d := range ds {
		if d.ID == destID {
			writeJSON(w, http.StatusOK, d.Redacted())
			return
		}
	}
	writeStoreError(w, fmt.Errorf("destination %s of %s: %w", destIDForError(destID), idForError(id), ErrNoDestination))
}

func (a *admin) updateDestination(w http.ResponseWriter, r *http.Request) {
	var u DestinationUpdate
	if !decodeBody(w, r, &u) {
		return
	}
	d, err := a.store.UpdateDestination(r.Context(), r.PathValue("id"), r.PathValue("dest_id"), u)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d.Redacted())
}

func (a *admin) deleteDestination(w http.ResponseWriter, r *http.Request) {
	if err := a.store.DeleteDestination(r.Context(), r.PathValue("id"), r.PathValue("dest_id")); err != nil {
		writeStoreError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// destinationPath is the admin API path of destination destID of channel
// channelID.
func destinationPath(channelID, destID string) string {
	return "/api/channels/" + url.PathEscape(channelID) + "/destinations/" + url.PathEscape(destID)
}
