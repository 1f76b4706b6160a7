package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// HeaderRequestID carries the request id both ways.
const HeaderRequestID = "X-Request-Id"

const (
	ctxRequestID = "kyso.request_id"
	ctxLogger    = "kyso.logger"
	ctxPrincipal = "kyso.principal"
)

// saneRequestID is what an incoming id may look like: a caller's tracing id is kept so
// logs join across systems, but anything long or with odd bytes is replaced, since it
// ends up in log lines and response headers.
var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// withRequestID sets the id and a logger carrying it before anything else runs, so
// that every response (even a panic's) and every log line of the request has it.
func (s *Server) withRequestID(c *gin.Context) {
	id := c.GetHeader(HeaderRequestID)
	if !saneRequestID.MatchString(id) {
		id = newRequestID()
	}
	c.Set(ctxRequestID, id)
	c.Set(ctxLogger, s.log.With(slog.String("request_id", id)))
	c.Header(HeaderRequestID, id)
	c.Next()
}

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

func logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}

// accessLog writes one line per request and feeds the request metrics. It logs the
// route template, never the query, headers or body: those can hold API keys, names
// and document contents.
func (s *Server) accessLog(c *gin.Context) {
	start := s.now()
	s.metrics.inFlight.Inc()
	defer s.metrics.inFlight.Dec()
	c.Next()
	elapsed := s.now().Sub(start)
	route := c.FullPath()
	if route == "" {
		route = "unmatched" // a fixed label, so scanners cannot grow the metric series
	}
	status := c.Writer.Status()
	s.metrics.requests.WithLabelValues(route, c.Request.Method, strconv.Itoa(status)).Inc()
	s.metrics.latency.WithLabelValues(route, c.Request.Method).Observe(elapsed.Seconds())

	attrs := []slog.Attr{
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Duration("duration", elapsed),
		slog.Int("bytes_out", max(c.Writer.Size(), 0)),
		slog.String("client", clientString(c)),
	}
	if p, ok := principal(c); ok && p.Role != RolePublic {
		attrs = append(attrs, slog.String("client_id", p.ID), slog.String("role", string(p.Role)))
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	logger(c).LogAttrs(c.Request.Context(), level, "request", attrs...)
}

// recoverPanic turns a panic into a 500 problem with no internal detail; the value and
// stack go to the log under the request id.
func recoverPanic(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			c.Abort() // the client went away mid-response; nothing to render
			return
		}
		logger(c).LogAttrs(c.Request.Context(), slog.LevelError, "panic",
			slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
		fail(c, probInternal, "The failure has been logged under this request id; quote it to the operator.")
	}()
	c.Next()
}

// deadline bounds a handler's context by the write timeout: past it the response can
// no longer be delivered, so services (an HSM, a TSA) should stop working for it.
func (s *Server) deadline(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.requestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// notImplemented answers for a route whose service is not wired yet.
func notImplemented(c *gin.Context) {
	fail(c, probNotImplemented, "This endpoint is part of the API contract but its service is not available in this build yet.")
}

func (s *Server) now() time.Time { return s.clock() }
