package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Destinations returns channel channelID's destinations as the admin API
// answers them: Redacted. The full keys never leave the server.
func (c *Client) Destinations(ctx context.Context, channelID string) ([]Destination, error) {
	var out []Destination
	if err := c.do(ctx, http.MethodGet, "/api/channels/"+url.PathEscape(channelID)+"/destinations", nil, http.StatusOK, &out); err != nil {
		return nil, fmt.Errorf("destinations of %s: %w", idForError(channelID), err)
	}
	return out, nil
}

// AddDestination adds d (its kind, key, URL and Enabled) to channel
// channelID and returns the stored destination, Redacted.
func (c *Client) AddDestination(ctx context.Context, channelID string, d Destination) (Destination, error) {
	body, _ := json.Marshal(destinationRequest{Kind: d.Kind, Key: d.Key, URL: d.URL, Enabled: &d.Enabled})
	var out Destination
	if err := c.do(ctx, http.MethodPost, "/api/channels/"+url.PathEscape(channelID)+"/destinations", body, http.StatusCreated, &out); err != nil {
		return Destination{}, fmt.Errorf("add destination to %s: %w", idForError(channelID), err)
	}
	return out, nil
}

// UpdateDestination applies u to destination destID of channel channelID
// and returns the result, Redacted.
func (c *Client) UpdateDestination(ctx context.Context, channelID, destID string, u DestinationUpdate) (Destination, error) {
	body, _ := json.Marshal(u)
	var out Destination
	if err := c.do(ctx, http.MethodPatch, destinationPath(channelID, destID), body, http.StatusOK, &out); err != nil {
		return Destination{}, fmt.Errorf("update destination %s of %s: %w", destIDForError(destID), idForError(channelID), err)
	}
	return out, nil
}

// DeleteDestination deletes destination destID of channel channelID.
func (c *Client) DeleteDestination(ctx context.Context, channelID, destID string) error {
	if err := c.do(ctx, http.MethodDelete, destinationPath(channelID, destID), nil, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("delete destination %s of %s: %w", destIDForError(destID), idForError(channelID), err)
	}
	return nil
}
