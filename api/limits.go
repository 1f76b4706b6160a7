package api

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/fault"
)

var (
	probBusy    = problemKind{"busy", "The server is busy", http.StatusServiceUnavailable}
	probTooSlow = problemKind{"upload-too-slow", "The upload is too slow", http.StatusRequestTimeout}
)

// heavyRoutes parse whole documents (and sign, or verify): they take a slot of the
// global cap on heavy work, and the public's verifications a slot of its address.
var heavyRoutes = map[string]bool{
	"POST /v1/sign":                    true,
	"POST /v1/verify":                  true,
	"POST /v1/signatures":              true,
	"POST /v1/signatures/:id/complete": true,
	"POST /v1/documents/receive":       true,
	"POST /v1/documents/:id/issue":     true,
}

// gates bounds the work running at once: heavy requests in all (a semaphore sized from
// memory), the public's share of them (half), and the public's verifications per
// address.
type gates struct {
	heavy, public chan struct{}
	wait          time.Duration
	perAddress    *addressCounter
}

func newGates(c config.Server, publicPerAddress int) *gates {
	n := c.MaxHeavy
	if n <= 0 {
		n = heavySlots(memoryLimit(), int64(c.HeavyRequestMemory))
	}
	g := &gates{
		heavy:  make(chan struct{}, n),
		public: make(chan struct{}, max(1, n/2)),
		wait:   c.HeavyQueueWait,
	}
	if publicPerAddress > 0 {
		g.perAddress = &addressCounter{max: publicPerAddress, slots: map[string]*addressSlots{}}
	}
	return g
}

// heavySlots is how many heavy requests fit in limit bytes, each budgeted perRequest:
// at least 2, so that one slow request never blocks all the others.
func heavySlots(limit, perRequest int64) int {
	if perRequest <= 0 {
		return 2
	}
	return int(max(2, min(limit/perRequest, 4096)))
}

// memoryLimit is the memory this process should stay within: GOMEMLIMIT when set,
// else the cgroup's limit (a container's), else half the machine's RAM (the rest is
// the page cache's, the database's and the HSM client's).
func memoryLimit() int64 {
	if l := debug.SetMemoryLimit(-1); l > 0 && l < math.MaxInt64 {
		return l
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				if err == nil && kb > 0 {
					return kb << 10 / 2
				}
			}
		}
	}
	return 1 << 30
}

// addressCounter holds each address's (limitKey's) slots: at most max requests of
// one address run at once, the others wait their turn briefly.
type addressCounter struct {
	mu    sync.Mutex
	max   int
	slots map[string]*addressSlots
}

type addressSlots struct {
	sem   chan struct{}
	users int // holding or waiting; the entry goes when it reaches 0
}

// refusal is the error of an address over its cap.
func (a *addressCounter) refusal() error {
	return fault.WithCode(fault.Errorf(fault.RateLimited, "Your address already has %d verification(s) running "+
		"(rate_limit.public_verify_concurrent); wait for them to finish, or use an API key.", a.max), "limit/concurrent-per-address")
}

// acquire takes one of key's slots, waiting up to wait (or until ctx ends); release
// gives it back. It reports false when no slot came.
func (a *addressCounter) acquire(ctx context.Context, key string, wait time.Duration) (release func(), ok bool) {
	a.mu.Lock()
	s := a.slots[key]
	if s == nil {
		s = &addressSlots{sem: make(chan struct{}, a.max)}
		a.slots[key] = s
	}
	s.users++
	a.mu.Unlock()
	leave := func() {
		a.mu.Lock()
		if s.users--; s.users == 0 {
			delete(a.slots, key) // the map holds only addresses with work running or waiting
		}
		a.mu.Unlock()
	}
	if !acquireWithin(ctx, s.sem, wait) {
		leave()
		return nil, false
	}
	return func() { <-s.sem; leave() }, true
}

// acquireWithin takes a slot of sem, waiting up to wait or until ctx ends.
func acquireWithin(ctx context.Context, sem chan struct{}, wait time.Duration) bool {
	select {
	case sem <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case sem <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// bounded admits a heavy route's request within the caps, after allow has found the
// principal. The slot is held while the body is received too: a slow upload holds
// what it will use, and min_upload_rate bounds how long.
func (s *Server) bounded(c *gin.Context) {
	g := s.gates
	p, _ := principal(c)
	public := p.Role == RolePublic
	if public && g.perAddress != nil {
		release, ok := g.perAddress.acquire(c.Request.Context(), limitKey(client(c)), g.wait)
		if !ok {
			if c.Request.Context().Err() != nil {
				c.AbortWithStatus(statusClientClosed)
				return
			}
			c.Header("Retry-After", "1")
			fail(c, probRateLimited, fault.DetailOf(g.perAddress.refusal()))
			return
		}
		defer release()
	}
	if public {
		if !acquireWithin(c.Request.Context(), g.public, g.wait) {
			s.busy(c)
			return
		}
		defer func() { <-g.public }()
	}
	if !acquireWithin(c.Request.Context(), g.heavy, g.wait) {
		s.busy(c)
		return
	}
	defer func() { <-g.heavy }()
	c.Next()
}

func (s *Server) busy(c *gin.Context) {
	if c.Request.Context().Err() != nil {
		c.AbortWithStatus(statusClientClosed)
		return
	}
	c.Header("Retry-After", "2")
	fail(c, probBusy, fault.DetailOf(errBusy))
}

// errBusy refuses heavy work past server.max_heavy.
var errBusy = fault.WithCode(fault.New(fault.Unavailable,
	"The server is running as much heavy work (signing, verification) as its memory allows (server.max_heavy); retry in a moment."), "limit/heavy")

// errTooSlow is what a request body's Read returns once min_upload_rate has cut it.
var errTooSlow = fault.WithCode(fault.New(fault.Timeout,
	"The upload arrived more slowly than the server accepts (server.min_upload_rate); the connection is closed."), "limit/upload-rate")

// rateGuard cuts a request body that arrives more slowly than min bytes per window,
// averaged over each window from the first read. The cut sets the connection's read
// deadline to now, which ends a Read blocked on the network; the body then fails
// with errTooSlow, the handler answers 408, and the connection is closed.
type rateGuard struct {
	io.ReadCloser
	rc     *http.ResponseController
	min    int64
	window time.Duration

	n       atomic.Int64 // bytes read
	last    int64        // n at the last check; the timer's goroutine alone uses it
	cut     atomic.Bool
	done    atomic.Bool
	startMu sync.Mutex
	timer   *time.Timer
}

func (g *rateGuard) Read(p []byte) (int, error) {
	g.startMu.Lock()
	if g.timer == nil && !g.done.Load() {
		g.timer = time.AfterFunc(g.window, g.check)
	}
	g.startMu.Unlock()
	n, err := g.ReadCloser.Read(p)
	g.n.Add(int64(n))
	if g.cut.Load() {
		return n, errTooSlow
	}
	if err != nil {
		g.stop()
	}
	return n, err
}

func (g *rateGuard) check() {
	if g.done.Load() {
		return
	}
	n := g.n.Load()
	if n-g.last < g.min {
		g.cut.Store(true)
		_ = g.rc.SetReadDeadline(time.Now()) // wakes the blocked Read
		return
	}
	g.last = n
	g.startMu.Lock()
	if !g.done.Load() {
		g.timer.Reset(g.window)
	}
	g.startMu.Unlock()
}

func (g *rateGuard) stop() {
	g.startMu.Lock()
	defer g.startMu.Unlock()
	g.done.Store(true)
	if g.timer != nil {
		g.timer.Stop()
	}
}

// minUploadRate guards every request body with server.min_upload_rate.
func (s *Server) minUploadRate(c *gin.Context) {
	rate, window := int64(s.httpCfg.MinUploadRate), s.httpCfg.MinUploadWindow
	if rate <= 0 || window <= 0 || c.Request.Body == nil || c.Request.Body == http.NoBody {
		c.Next()
		return
	}
	g := &rateGuard{
		ReadCloser: c.Request.Body,
		rc:         http.NewResponseController(c.Writer),
		min:        max(1, int64(float64(rate)*window.Seconds())),
		window:     window,
	}
	c.Request.Body = g
	defer g.stop()
	c.Next()
	if g.cut.Load() {
		logger(c).Info("upload cut off: slower than server.min_upload_rate", "bytes", g.n.Load())
	}
}

// isTooSlow reports whether err comes from a body cut by min_upload_rate.
func isTooSlow(err error) bool { return errors.Is(err, errTooSlow) }

// guard is the middleware a route gets after allow: the caps on heavy work for the
// routes that parse documents, nothing for the rest.
func (s *Server) guard(r route) gin.HandlerFunc {
	if heavyRoutes[r.method+" "+r.path] {
		return s.bounded
	}
	return func(c *gin.Context) { c.Next() }
}

// harden reads the configuration of issue 13's defences: trusted proxies, the caps,
// TLS and /metrics' access.
func (s *Server) harden(cfg *config.Config) error {
	var err error
	if s.proxies, err = parseProxies(cfg.Server.TrustedProxies); err != nil {
		return fault.Wrap(fault.Invalid, err, "server.trusted_proxies: "+err.Error())
	}
	s.gates = newGates(cfg.Server, cfg.RateLimit.PublicVerifyConcurrent)
	if cfg.Server.TLS.Enabled() {
		if s.tls, err = newCertReloader(cfg.Server.TLS, s.log); err != nil {
			return err
		}
	}
	s.metricsAccess, err = readMetricsAccess(cfg.Metrics)
	return err
}
