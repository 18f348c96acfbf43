package tlsfile

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultCheckInterval is how often, at most, the files are looked at
// again: a stat of two files per handshake would be cheap, but a burst of
// handshakes need not make a burst of stats, and a renewal a few seconds
// late is not late.
const DefaultCheckInterval = 5 * time.Second

// Certificate is a TLS certificate from a pair of PEM files, served by
// GetCertificate. When the files' modification time or size change, the
// next handshake after the check interval loads them again; a pair that
// does not load (a key that does not match, a half-written file) keeps
// the previous certificate in service and is logged as an error, once per
// change of the files. Its methods may be called from any goroutine.
type Certificate struct {
	certFile, keyFile string
	interval          time.Duration
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   stamp     // of the files as last looked at, loaded or not
	checked time.Time // when the files were last looked at
}

// stamp is what says a file changed: its modification time and size, for
// the certificate and the key.
type stamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// Load reads the certificate chain in certFile and its private key in
// keyFile (PEM), which must match, and returns them ready to serve,
// checked for changes at most every interval (0: DefaultCheckInterval).
// log receives reloads and failed reloads; nil is slog.Default().
func Load(certFile, keyFile string, interval time.Duration, log *slog.Logger) (*Certificate, error) {
	if interval <= 0 {
		interval = DefaultCheckInterval
	}
	if log == nil {
		log = slog.Default()
	}
	c := &Certificate{certFile: certFile, keyFile: keyFile, interval: interval, log: log}
	st, err := c.stat()
	if err != nil {
		return nil, err
	}
	cert, err := c.load()
	if err != nil {
		return nil, err
	}
	c.cert, c.stamp, c.checked = cert, st, time.Now()
	log.Info("TLS certificate loaded", certAttrs(cert, certFile)...)
	return c, nil
}

// GetCertificate is tls.Config's: the certificate in service, after
// loading the files again if they changed since the last look, which is
// at least the check interval ago.
func (c *Certificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.current(time.Now()), nil
}

// current returns the certificate to serve at now.
func (c *Certificate) current(now time.Time) *tls.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.checked) < c.interval {
		return c.cert
	}
	c.checked = now
	st, err := c.stat()
	if err != nil {
		if st != c.stamp { // said once per change, as a bad pair is
			c.stamp = st
			c.log.Error("TLS certificate not reloaded: the previous one stays in service", "err", err)
		}
		return c.cert
	}
	if st == c.stamp {
		return c.cert
	}
	c.stamp = st
	cert, err := c.load()
	if err != nil {
		c.log.Error("TLS certificate not reloaded: the previous one stays in service", "err", err)
		return c.cert
	}
	c.cert = cert
	c.log.Info("TLS certificate reloaded", certAttrs(cert, c.certFile)...)
	return c.cert
}

// stat returns the files' stamp; on an error, a stamp that differs from
// any real one while the error lasts.
func (c *Certificate) stat() (stamp, error) {
	cs, err := os.Stat(c.certFile)
	if err != nil {
		return stamp{certSize: -1}, fmt.Errorf("TLS certificate: %w", err)
	}
	ks, err := os.Stat(c.keyFile)
	if err != nil {
		return stamp{keySize: -1}, fmt.Errorf("TLS key: %w", err)
	}
	return stamp{certMod: cs.ModTime(), keyMod: ks.ModTime(), certSize: cs.Size(), keySize: ks.Size()}, nil
}

// load reads and checks the pair. Errors name the files, never their
// content.
func (c *Certificate) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	if cert.Leaf == nil {
		return nil, errors.New("load TLS certificate: no leaf certificate")
	}
	return &cert, nil
}

func certAttrs(cert *tls.Certificate, file string) []any {
	return []any{"file", file, "subject", cert.Leaf.Subject.String(), "dns_names", cert.Leaf.DNSNames,
		"not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339)}
}
