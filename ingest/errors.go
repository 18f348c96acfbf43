package ingest

import "errors"

var (
	// ErrServerClosed is returned by Serve after Shutdown, and is the reason
	// Sink.End gets for a publish that Shutdown ended.
	ErrServerClosed = errors.New("ingest: server closed")

	// ErrUnauthorized refuses a publish whose stream key is unknown,
	// revoked, rotated away or malformed, or whose app is not Config.App.
	ErrUnauthorized = errors.New("ingest: unauthorized")

	// ErrUnsupportedCodec ends a publish whose codec is not H.264, AAC or
	// MP3 (HEVC, AV1, VP9, VP6, Sorenson, Speex, …).
	ErrUnsupportedCodec = errors.New("ingest: unsupported codec")
	// ErrParamsChanged ends a publish whose sequence header changes once
	// the Sink has started: the pipeline cannot follow a new resolution or
	// sample rate, so the publisher has to reconnect.
	ErrParamsChanged = errors.New("ingest: codec parameters changed mid-stream")
	// ErrNoCodecHeaders ends a publish that sent no usable sequence header
	// within Config.StartTimeout.
	ErrNoCodecHeaders = errors.New("ingest: no codec headers")

	// ErrDisconnected ends a publish whose publisher closed the
	// connection (or lost it) without unpublishing: a crash, a network
	// drop, a killed encoder. A publisher that stops streaming sends
	// FCUnpublish or deleteStream first (FFmpeg, OBS and GStreamer do),
	// which Sink.End gets as nil. A live stream keeps its viewers through
	// a dropped publisher's reconnect window, not through a clean end.
	ErrDisconnected = errors.New("ingest: publisher disconnected without unpublishing")
	// ErrIdleTimeout ends a connection that sent nothing for
	// Config.IdleTimeout, or that did not reach publish within
	// Config.HandshakeTimeout.
	ErrIdleTimeout = errors.New("ingest: connection idle")
	// ErrProtocol ends a connection that broke RTMP or our limits on it: a
	// message over Config.MaxMessageSize, too many chunk streams, an AMF
	// value nested too deep, bytes that are not RTMP.
	ErrProtocol = errors.New("ingest: RTMP protocol violation")
	// ErrProxyHeader closes a connection that does not open with a valid
	// PROXY protocol header (v1 or v2) within Config.HandshakeTimeout while
	// Config.ProxyProtocol is set.
	ErrProxyHeader = errors.New("ingest: no valid PROXY protocol header")
	// ErrTooManyConnections closes a connection accepted while
	// Config.MaxConns connections are open, or Config.MaxConnsPerAddr from
	// its address.
	ErrTooManyConnections = errors.New("ingest: too many connections")
	// ErrTLSHandshake closes an RTMPS connection whose TLS handshake
	// failed or did not finish within Config.HandshakeTimeout.
	ErrTLSHandshake = errors.New("ingest: TLS handshake failed")
	// ErrSinkDone is the reason Sink.End gets when the Sink's Done channel
	// closed (key revoked, stream stopped by the operator).
	ErrSinkDone = errors.New("ingest: publish ended by its sink")
)

// ErrRefused refuses a publish of another protocol than RTMP (AcceptPublish) that
// the Handler refused: the channel is already live, the server is at
// capacity. The error's text says why (the Handler's, redacted).
var ErrRefused = errors.New("ingest: publish refused")
