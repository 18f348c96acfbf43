// Package tlsfile is the TLS side of livestream's RTMPS listeners: a
// certificate and its key kept in PEM files, reloaded when the files change
// (a renewal by certbot or cert-manager takes effect without a restart),
// and the TLS settings every such listener uses (ServerConfig).
//
// It owns no listener and no connection: ingest and proxy take the
// *tls.Config it makes. It must not log a key's bytes or a file's content,
// only paths and the certificate's names and expiry. It imports the
// standard library only.
package tlsfile
