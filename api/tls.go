package api

import (
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// certReloader serves server.tls's certificate and reads the pair again when either
// file changes (its modification time or size), checked at each handshake: a stat of
// two files is nothing beside a handshake. A pair that does not load (half written,
// or the key not the certificate's) keeps the previous one in service and is tried
// again at the next handshake.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu            sync.Mutex
	cert          *tls.Certificate
	certID, keyID fileID
}

type fileID struct {
	mod  time.Time
	size int64
}

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	return fileID{fi.ModTime(), fi.Size()}, nil
}

func newCertReloader(c config.TLS, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: c.CertFile, keyFile: c.KeyFile, log: log}
	if err := r.load(); err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "server.tls: the certificate and key do not load: "+err.Error())
	}
	return r, nil
}

// load reads the pair when a file changed since the last load. r.mu is held or r is
// not shared yet.
func (r *certReloader) load() error {
	cid, err := statID(r.certFile)
	if err != nil {
		return err
	}
	kid, err := statID(r.keyFile)
	if err != nil {
		return err
	}
	if r.cert != nil && cid == r.certID && kid == r.keyID {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return err
	}
	if r.cert != nil {
		r.log.Info("TLS certificate reloaded", "not_after", cert.Leaf.NotAfter, "subject", cert.Leaf.Subject.String())
	}
	r.cert, r.certID, r.keyID = &cert, cid, kid
	return nil
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.load(); err != nil {
		r.log.Warn("TLS certificate files changed but do not load; serving the previous pair", "error", err.Error())
	}
	return r.cert, nil
}

func (r *certReloader) config() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.getCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

// limitListener accepts at most n connections at once (golang.org/x/net/netutil's
// LimitListener, which is not in the module graph); past it Accept waits, and new
// connections wait in the kernel's backlog.
type limitListener struct {
	net.Listener
	sem       chan struct{}
	closeOnce sync.Once
	done      chan struct{}
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// listener wraps ln with the connection cap and TLS, as configured.
func (s *Server) listener(ln net.Listener) net.Listener {
	if n := s.httpCfg.MaxConnections; n > 0 {
		ln = newLimitListener(ln, n)
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls.config())
	}
	return ln
}
