package ingest

import (
	"bytes"
	"testing"

	"github.com/yutopp/go-rtmp/message"
)

// TestDeleteStreamTolerant: deleteStream's arguments after the command
// object are taken as they come (GStreamer's rtmp2sink has sent a string
// there); the stream ID is the first number, 0 without one; only bytes
// go-amf0 cannot read are an error.
func TestDeleteStreamTolerant(t *testing.T) {
	for _, c := range []struct {
		name string
		body []byte
		id   uint32
	}{
		{"a number, as the spec has it", amfEncode(t, nil, 1.0), 1},
		{"a string instead", amfEncode(t, nil, "live"), 0},
		{"a string, then the number", amfEncode(t, nil, "live", 3.0), 3},
		{"no stream ID", amfEncode(t, nil), 0},
		{"nothing at all", nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var v message.AMFConvertible
			dec := message.CmdBodyDecoderFor("deleteStream", 0)
			if err := dec(bytes.NewReader(c.body), message.NewAMFDecoder(bytes.NewReader(c.body), message.EncodingTypeAMF0), &v); err != nil {
				t.Fatalf("decode: %v", err)
			}
			ds, ok := v.(*message.NetStreamDeleteStream)
			if !ok || ds.StreamID != c.id {
				t.Errorf("got %#v, want stream ID %d", v, c.id)
			}
		})
	}
	var v message.AMFConvertible
	bad := []byte{amfUnsupported}
	if err := decodeDeleteStream(nil, message.NewAMFDecoder(bytes.NewReader(bad), message.EncodingTypeAMF0), &v); err == nil {
		t.Error("an unreadable AMF0 marker decoded without an error")
	}
}
