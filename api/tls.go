package api

import (
	"crypto/tls"
	"fmt"
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
// connections wait in the kernel's backlog. A connection from an address (limitKey of
// the peer) that already has perAddress open is closed at once, with a 429 for plain
// HTTP; trusted proxies are exempt, as every client behind them shares their address.
type limitListener struct {
	net.Listener
	sem        chan struct{} // nil: no global cap
	perAddress int
	proxies    proxies
	plain      bool // not TLS: a refusal can say 429

	mu        sync.Mutex
	open      map[string]int
	closeOnce sync.Once
	done      chan struct{}
}

func newLimitListener(l net.Listener, n, perAddress int, ps proxies, plain bool) *limitListener {
	ll := &limitListener{Listener: l, perAddress: perAddress, proxies: ps, plain: plain, open: map[string]int{}, done: make(chan struct{})}
	if n > 0 {
		ll.sem = make(chan struct{}, n)
	}
	return ll
}

// refusedConnection is all a connection over its address's cap gets.
var refusedConnection = func() string {
	body := "Too many connections from your address (server.max_connections_per_address).\n"
	return fmt.Sprintf("HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}()

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		if l.sem != nil {
			select {
			case l.sem <- struct{}{}:
			case <-l.done:
				return nil, net.ErrClosed
			}
		}
		c, err := l.Listener.Accept()
		if err != nil {
			l.releaseSlot()
			return nil, err
		}
		key, ok := l.admit(c.RemoteAddr())
		if !ok {
			if l.plain {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = c.Write([]byte(refusedConnection))
			}
			_ = c.Close()
			l.releaseSlot()
			continue
		}
		return &limitConn{Conn: c, release: func() { l.leave(key); l.releaseSlot() }}, nil
	}
}

func (l *limitListener) releaseSlot() {
	if l.sem != nil {
		<-l.sem
	}
}

// admit counts a connection from addr against its address's cap; key "" is not
// counted.
func (l *limitListener) admit(addr net.Addr) (string, bool) {
	if l.perAddress <= 0 {
		return "", true
	}
	a := l.proxies.clientAddr(addr.String(), nil) // the peer: a header is not read here
	if !a.IsValid() || l.proxies.trusted(a) {
		return "", true
	}
	key := limitKey(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] >= l.perAddress {
		return "", false
	}
	l.open[key]++
	return key, true
}

func (l *limitListener) leave(key string) {
	if key == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
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
	if n, per := s.httpCfg.MaxConnections, s.httpCfg.MaxConnectionsPerAddress; n > 0 || per > 0 {
		ln = newLimitListener(ln, n, per, s.proxies, s.tls == nil)
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls.config())
	} else if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() && len(s.proxies) == 0 {
		s.log.Warn("listening beyond loopback without TLS and with no trusted proxy: API keys and documents would cross the network in clear; set server.tls or put a TLS proxy in front")
	}
	return ln
}
