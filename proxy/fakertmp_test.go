package proxy

import (
	"bufio"
	"fmt"
	"net"

	"github.com/yutopp/go-rtmp/handshake"
)

// The benchmarks' publisher and server speak just enough RTMP, with the
// proxy's own chunk reader and writer, to get a publish accepted; then
// the publisher's bytes are anything. Both live in another process than
// the proxy (benchPeer), so their CPU is not counted as the proxy's.

// serveFakeRTMP answers a publisher as a server would up to the publish,
// which it accepts; the publisher's bytes that follow are in the reader.
func serveFakeRTMP(c net.Conn) (*bufio.Reader, error) {
	br := bufio.NewReader(c)
	if err := handshake.HandshakeWithClient(br, c, &handshake.Config{SkipHandshakeVerification: true}); err != nil {
		return nil, err
	}
	cr, cw := newChunkReader(br), newChunkWriter(c)
	for {
		m, err := cr.next()
		if err != nil {
			return nil, err
		}
		cmd, ok := parseCommand(m)
		if !ok {
			continue
		}
		switch cmd.name {
		case "connect":
			b := appendAMFNumber(appendAMFString(nil, "_result"), cmd.tx)
			_, err = cw.write(message{csid: 3, typeID: msgCommandAMF0, payload: append(b, amfNull, amfNull)})
		case "createStream":
			b := appendAMFNumber(appendAMFString(nil, "_result"), cmd.tx)
			_, err = cw.write(message{csid: 3, typeID: msgCommandAMF0, payload: appendAMFNumber(append(b, amfNull), 1)})
		case "publish":
			_, err = cw.write(message{csid: 5, typeID: msgCommandAMF0, streamID: m.streamID,
				payload: onStatus("status", codePublishStart, "Start publishing")})
			return br, err
		}
		if err != nil {
			return nil, err
		}
	}
}

// publishFake does a publisher's part up to an accepted publish.
func publishFake(c net.Conn, key string) error {
	br := bufio.NewReader(c)
	if err := handshake.HandshakeWithServer(br, c, &handshake.Config{}); err != nil {
		return err
	}
	cr, cw := newChunkReader(br), newChunkWriter(c)
	await := func(tx float64) (command, error) {
		for {
			m, err := cr.next()
			if err != nil {
				return command{}, err
			}
			if cmd, ok := parseCommand(m); ok && (cmd.tx == tx && cmd.name != "onStatus" || tx == 0 && cmd.name == "onStatus") {
				return cmd, nil
			}
		}
	}
	if _, err := cw.write(message{csid: 3, typeID: msgCommandAMF0, payload: connectCommand()}); err != nil {
		return err
	}
	if _, err := await(1); err != nil {
		return err
	}
	b := appendAMFNumber(appendAMFString(nil, "createStream"), 2)
	if _, err := cw.write(message{csid: 3, typeID: msgCommandAMF0, payload: append(b, amfNull)}); err != nil {
		return err
	}
	if _, err := await(2); err != nil {
		return err
	}
	if _, err := cw.write(message{csid: 8, typeID: msgCommandAMF0, streamID: 1, payload: publishCommand(key)}); err != nil {
		return err
	}
	st, err := await(0)
	if err != nil {
		return err
	}
	if st.code != codePublishStart {
		return fmt.Errorf("publish refused: %s: %s", st.code, st.description)
	}
	if br.Buffered() > 0 {
		return fmt.Errorf("%d bytes after the publish status", br.Buffered())
	}
	return nil
}
