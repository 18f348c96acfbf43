package tlsfile

import "crypto/tls"

// cipherSuites are the TLS 1.2 suites offered: ECDHE key exchange (forward
// secrecy) with an AEAD cipher only, as Mozilla's "intermediate"
// configuration. TLS 1.3's suites are not configurable and all strong.
// OBS (mbedTLS), FFmpeg (GnuTLS or OpenSSL) and GStreamer (GnuTLS) all
// offer these.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ServerConfig is the TLS configuration of an RTMPS listener serving c:
// TLS 1.2 at least, the suites above for 1.2, and no session tickets
// (publishers hold one long connection; tickets would only add a key to
// rotate).
func ServerConfig(c *Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS12,
		CipherSuites:           cipherSuites,
		GetCertificate:         c.GetCertificate,
		SessionTicketsDisabled: true,
	}
}
