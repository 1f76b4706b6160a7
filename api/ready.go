package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// cheapCheckInterval bounds how often a check that is not a key's (the store's ping)
// really runs, however often /readyz is called.
const cheapCheckInterval = time.Second

// cachedCheck runs a Check at most once per interval; callers in between get the last
// result, and callers during a run wait for it (one run, however many callers). The
// run has its own deadline, so a caller that leaves does not cut it short.
type cachedCheck struct {
	Check
	interval time.Duration
	now      func() time.Time
	ran      prometheus.Counter // real runs of key checks

	lock chan struct{} // a mutex a waiting caller can give up on
	at   time.Time
	err  error
}

func newCachedChecks(checks []Check, keyInterval time.Duration, now func() time.Time, ran prometheus.Counter) []*cachedCheck {
	out := make([]*cachedCheck, len(checks))
	for i, ch := range checks {
		iv := cheapCheckInterval
		if ch.Key != "" {
			iv = keyInterval
		}
		out[i] = &cachedCheck{Check: ch, interval: iv, now: now, ran: ran, lock: make(chan struct{}, 1)}
	}
	return out
}

// ready is the check's result, and whether it was really run for this call.
func (k *cachedCheck) ready(ctx context.Context) (err error, ran bool) {
	select {
	case k.lock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err(), false
	}
	defer func() { <-k.lock }()
	if !k.at.IsZero() && k.now().Sub(k.at) < k.interval {
		return k.err, false
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
	defer cancel()
	if k.Key != "" && k.ran != nil {
		k.ran.Inc()
	}
	k.err = k.Ready(rctx)
	k.at = k.now()
	return k.err, true
}

// readyz says whether the store and every signing key are reachable. A key is really
// checked (one probe signature) at most once per server.ready_interval, however often
// the probe is called. Anonymous callers learn ready or not; an admin's API key also
// gets each check by name (key names are not the public's to know). Causes are only
// logged.
func (s *Server) readyz(c *gin.Context) {
	detail := s.isAdmin(c)
	ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
	defer cancel()
	status := map[string]string{}
	var failed []string
	for _, ch := range s.ready {
		err, ran := ch.ready(ctx)
		if err != nil {
			status[ch.Name] = "unavailable"
			failed = append(failed, ch.Name)
			if ran {
				if ch.Key != "" {
					s.metrics.keyErrors.WithLabelValues(ch.Key).Inc()
				}
				logger(c).Warn("readiness check failed", "check", ch.Name, "error", err.Error())
			}
			continue
		}
		status[ch.Name] = "ok"
	}
	switch {
	case len(failed) > 0 && detail:
		fail(c, probNotReady, "Unavailable: "+strings.Join(failed, ", ")+".")
	case len(failed) > 0:
		fail(c, probNotReady, "A dependency (the store or a signing key) is unavailable; the operator's log and an admin's /readyz name it.")
	case detail:
		c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": status})
	default:
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	}
}

// isAdmin reports whether the request carries an admin's API key. A probe is not the
// place to reject credentials: a key that is malformed, unknown, or cannot be looked
// up (the store is down) gets the anonymous answer.
func (s *Server) isAdmin(c *gin.Context) bool {
	key, ok := bearerKey(c.GetHeader("Authorization"))
	if !ok || s.clients == nil {
		return false
	}
	p, err := s.clients.LookupByKeyHash(c.Request.Context(), HashAPIKey(key))
	return err == nil && p.Role == RoleAdmin
}

// metricsAccess is who may read /metrics and whether key names show.
type metricsAccess struct {
	token    []byte // nil: anyone
	keyNames bool
}

func readMetricsAccess(m config.Metrics) (metricsAccess, error) {
	a := metricsAccess{keyNames: m.KeyNames}
	if m.TokenFile == "" {
		return a, nil
	}
	b, err := os.ReadFile(m.TokenFile)
	if err != nil {
		return a, fault.Wrap(fault.Invalid, err, "metrics.token_file cannot be read")
	}
	a.token = []byte(strings.TrimSpace(string(b)))
	if len(a.token) < 16 {
		return a, fault.New(fault.Invalid, "metrics.token_file: the token must be at least 16 characters")
	}
	a.keyNames = true // whoever holds the token is the operator
	return a, nil
}

// metricsHandler serves the registry, behind metrics.token_file's token when set.
func (s *Server) metricsHandler() gin.HandlerFunc {
	h := promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
	return func(c *gin.Context) {
		if s.metricsAccess.token != nil {
			scheme, tok, _ := strings.Cut(c.GetHeader("Authorization"), " ")
			if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), s.metricsAccess.token) != 1 {
				c.Header("WWW-Authenticate", `Bearer realm="kyso-metrics"`)
				fail(c, probUnauthenticated, "/metrics needs the bearer token of metrics.token_file.")
				return
			}
		}
		h.ServeHTTP(c.Writer, c.Request)
	}
}
