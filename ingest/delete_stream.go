package ingest

import (
	"errors"
	"io"

	"github.com/yutopp/go-rtmp/message"
)

// go-rtmp decodes deleteStream's stream ID into a uint32 and fails the
// whole connection when a client sends anything else there. GStreamer's
// rtmp2sink sends the stream name (the stream key) in its goodbye, so
// go-rtmp failed with "Not string type, Kind=uint32", the server closed
// first and gst exited with an error after a clean publish. deleteStream
// only says the client is done; this decoder takes any arguments and the
// first number among them as the ID (0 when there is none), and keeps
// nothing else: the name is a secret.
func init() {
	message.CmdBodyDecoders["deleteStream"] = decodeDeleteStream
}

func decodeDeleteStream(_ io.Reader, d message.AMFDecoder, v *message.AMFConvertible) error {
	var id uint32
	for found := false; ; {
		var arg any
		if err := d.Decode(&arg); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return err
		}
		if n, ok := arg.(float64); ok && !found && n >= 0 && n <= 1<<32-1 {
			id, found = uint32(n), true
		}
	}
	*v = &message.NetStreamDeleteStream{StreamID: id}
	return nil
}
