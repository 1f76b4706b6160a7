package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
)

// ProblemBase is the prefix of every problem type URI. The URIs are identifiers that
// clients branch on; they stay stable even if the page behind them moves.
const ProblemBase = "https://kyso.vn/problems/"

// Problem is an RFC 9457 problem detail. Instance is the request id, so a caller
// reporting a problem gives the operator the key to its log lines.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// problemKind is one entry of the catalogue below: the only place statuses are chosen.
type problemKind struct {
	slug   string
	title  string
	status int
}

var (
	probInvalidJSON      = problemKind{"invalid-json", "The request body is not valid JSON", http.StatusBadRequest}
	probInvalidRequest   = problemKind{"invalid-request", "The request is not valid", http.StatusBadRequest}
	probUnauthenticated  = problemKind{"unauthenticated", "An API key is required", http.StatusUnauthorized}
	probForbidden        = problemKind{"forbidden", "Your role may not do this", http.StatusForbidden}
	probKeyNotGranted    = problemKind{"key-not-granted", "You may not sign with this key", http.StatusForbidden}
	probNotFound         = problemKind{"not-found", "No such resource", http.StatusNotFound}
	probMethod           = problemKind{"method-not-allowed", "Method not allowed on this resource", http.StatusMethodNotAllowed}
	probExpired          = problemKind{"expired", "The resource has expired", http.StatusGone}
	probConflict         = problemKind{"conflict", "The request conflicts with what is stored", http.StatusConflict}
	probUploadTooLarge   = problemKind{"upload-too-large", "The upload is too large", http.StatusRequestEntityTooLarge}
	probUnsupportedMedia = problemKind{"unsupported-media-type", "Unsupported content type", http.StatusUnsupportedMediaType}
	probInvalidDocument  = problemKind{"invalid-document", "The document cannot be processed", http.StatusUnprocessableEntity}
	probRateLimited      = problemKind{"rate-limited", "Too many requests", http.StatusTooManyRequests}
	probInternal         = problemKind{"internal", "Internal error", http.StatusInternalServerError}
	probNotImplemented   = problemKind{"not-implemented", "Not implemented yet", http.StatusNotImplemented}
	probKeyUnavailable   = problemKind{"key-unavailable", "The signing key is unavailable", http.StatusServiceUnavailable}
	probNotReady         = problemKind{"not-ready", "The service is not ready", http.StatusServiceUnavailable}
	probTimeout          = problemKind{"timeout", "The request took too long", http.StatusServiceUnavailable}
	probUpstream         = problemKind{"upstream-unavailable", "A service the server depends on did not answer", http.StatusServiceUnavailable}
)

// statusClientClosed is recorded when the client left before the answer was ready.
const statusClientClosed = 499

// fail renders a problem and stops the handler chain. detail is for people and must
// hold nothing internal.
func fail(c *gin.Context, k problemKind, detail string) {
	p := Problem{
		Type:     ProblemBase + k.slug,
		Title:    k.title,
		Status:   k.status,
		Detail:   detail,
		Instance: requestID(c),
	}
	body, _ := json.Marshal(p) // a struct of strings and an int always marshals
	c.Abort()
	if c.Writer.Written() {
		return // the status line is gone; nothing coherent can be added
	}
	c.Data(k.status, "application/problem+json", body)
}

// failErr maps a service error to a problem. Only UserError details are shown; the
// cause of anything unexpected goes to the log with the request id.
func failErr(c *gin.Context, err error) {
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		// The client went away (closed the connection or gave up): not the server's
		// fault, and no one is left to read a problem. 499 is nginx's "client closed
		// request", so the access log and metrics still tell it apart.
		logger(c).LogAttrs(c.Request.Context(), slog.LevelInfo, "client went away", slog.String("error", err.Error()))
		c.AbortWithStatus(statusClientClosed)
		return
	}
	var detail string
	var ue *userError
	if errors.As(err, &ue) {
		detail = ue.detail
	}
	k, level := probInternal, slog.LevelError
	switch {
	case errors.Is(err, ErrNotFound):
		k, level = probNotFound, slog.LevelInfo
	case errors.Is(err, ErrInvalidDocument):
		k, level = probInvalidDocument, slog.LevelInfo
	case errors.Is(err, ErrInvalidRequest):
		k, level = probInvalidRequest, slog.LevelInfo
	case errors.Is(err, ErrExpired):
		k, level = probExpired, slog.LevelInfo
	case errors.Is(err, ErrConflict):
		k, level = probConflict, slog.LevelInfo
	case errors.Is(err, ErrNotImplemented):
		k, level = probNotImplemented, slog.LevelInfo
	case errors.Is(err, ErrUnknownAPIKey):
		k, level = probUnauthenticated, slog.LevelInfo
	case errors.Is(err, ErrKeyUnavailable):
		k = probKeyUnavailable
	case errors.Is(err, ErrUpstreamUnavailable):
		k = probUpstream
	case errors.Is(err, context.DeadlineExceeded):
		k = probTimeout
	}
	// The cause goes to the log, where the operator finds it by the request id; a
	// service's error text never reaches the caller unless wrapped in UserError.
	logger(c).LogAttrs(c.Request.Context(), level, "request failed", slog.String("problem", k.slug), slog.String("error", err.Error()))
	if detail == "" && level == slog.LevelError {
		detail = "The failure has been logged under this request id; quote it to the operator."
	}
	fail(c, k, detail)
}
