package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/pkg/fault"
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
	// probLimitExceeded: the document is within the upload size but exceeds a limit on
	// the work it takes to read (revisions, objects, cross-reference entries, decoded
	// bytes, time: the verify.* keys). The detail names the limit and its key.
	probLimitExceeded = problemKind{"limit-exceeded", "The document exceeds a processing limit", http.StatusUnprocessableEntity}
	// probReturned: an incoming document was verified and recorded as returned (trả
	// lại), not registered; the body adds the record and the status packet
	// (returnedProblem, documents.go).
	probReturned = problemKind{"document-returned", "The document was returned to its sender, not registered", http.StatusUnprocessableEntity}
)

// certificateProblems are the refusals of a signer's certificate (app/signercheck.go),
// each its own problem type (https://kyso.vn/problems/certificate/expired, …) with the
// status of its fault kind.
var certificateProblems = []string{app.CodeCertExpired, app.CodeCertNotYetValid, app.CodeCertRevoked, app.CodeCertNoChain,
	app.CodeCertKeyUsage, app.CodeCertNoAnchors, app.CodeCertRevocationUnknown}

// limitCodePrefix starts the Code of every fault that names a processing limit
// ("limit/revisions"); all of them are rendered as probLimitExceeded.
const limitCodePrefix = "limit/"

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
	if page, ok := c.Get(ctxPageProblem); ok { // a web page's request: the problem as a page
		page.(func(status int, detail string))(k.status, detail)
		return
	}
	c.Data(k.status, "application/problem+json", body)
}

// kindProblems is the problem of each fault kind: the one place a kind becomes a
// status. A kind missing here is rendered as internal.
var kindProblems = map[fault.Kind]problemKind{
	fault.Internal:        probInternal,
	fault.Invalid:         probInvalidRequest,
	fault.BadDocument:     probInvalidDocument,
	fault.TooLarge:        probUploadTooLarge,
	fault.Unauthenticated: probUnauthenticated,
	fault.Forbidden:       probForbidden,
	fault.NotFound:        probNotFound,
	fault.Conflict:        probConflict,
	fault.Expired:         probExpired,
	fault.Unavailable:     probUpstream,
	fault.RateLimited:     probRateLimited,
	fault.Timeout:         probTimeout,
	fault.Canceled:        probInternal, // the server's own cancellation; a client that left gets 499
	fault.NotImplemented:  probNotImplemented,
}

// codeProblems refine a kind by the error's stable Code.
var codeProblems = map[string]problemKind{
	app.CodeKeyUnavailable: probKeyUnavailable,
	app.CodeKeyNotGranted:  probKeyNotGranted,
	app.CodeReturned:       probReturned,
}

// problemOfError is the problem err is rendered as, and whether its cause is the
// server's to look into (logged as an error).
func problemOfError(err error) (k problemKind, serverSide bool) {
	code := fault.CodeOf(err)
	k, ok := codeProblems[code]
	if !ok && strings.HasPrefix(code, limitCodePrefix) {
		k, ok = probLimitExceeded, true
	}
	if !ok && slices.Contains(certificateProblems, code) {
		// a refused signer's certificate: its own type (certificate/expired, …) with
		// the status of its kind (403, or 503 when revocation could not be checked)
		if base, known := kindProblems[fault.KindOf(err)]; known {
			k, ok = problemKind{code, "The signer's certificate is refused", base.status}, true
		}
	}
	if !ok {
		k, ok = kindProblems[fault.KindOf(err)]
	}
	if !ok {
		k = probInternal
	}
	return k, k.status >= http.StatusInternalServerError && k != probNotImplemented
}

// loggedDetail is the detail of a server-side failure that carries none for people.
const loggedDetail = "The failure has been logged under this request id; quote it to the operator."

// ProblemFor is the problem err is rendered as, without its instance: the type and
// status from the fault kind (refined by its Code), the detail the fault's own, made
// where the refusal happened. An internal error's text is never shown.
func ProblemFor(err error) Problem {
	k, serverSide := problemOfError(err)
	detail := fault.DetailOf(err)
	if k == probInternal || (detail == "" && serverSide) {
		detail = ""
		if serverSide {
			detail = loggedDetail
		}
	}
	return Problem{Type: ProblemBase + k.slug, Title: k.title, Status: k.status, Detail: detail}
}

// failErr renders err as a problem and logs its cause with the request id.
func failErr(c *gin.Context, err error) {
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		// The client went away (closed the connection or gave up): not the server's
		// fault, and no one is left to read a problem. 499 is nginx's "client closed
		// request", so the access log and metrics still tell it apart.
		logger(c).LogAttrs(c.Request.Context(), slog.LevelInfo, "client went away", slog.String("error", err.Error()))
		c.AbortWithStatus(statusClientClosed)
		return
	}
	k, serverSide := problemOfError(err)
	level := slog.LevelInfo
	if serverSide {
		level = slog.LevelError
	}
	logger(c).LogAttrs(c.Request.Context(), level, "request failed", slog.String("problem", k.slug), slog.String("error", err.Error()))
	detail := ProblemFor(err).Detail
	if k != probInternal && detail != loggedDetail {
		// a refusal told in both languages: Vietnamese unless the caller asks for
		// English (?lang=en, or Accept-Language preferring en)
		detail = app.Localized(err, requestLang(c))
		if detail == "" {
			detail = ProblemFor(err).Detail
		}
	}
	fail(c, k, detail)
}

// requestLang is the language a request asks refusals in: ?lang=, else the first
// Accept-Language tag; Vietnamese when neither says.
func requestLang(c *gin.Context) string {
	if l := c.Query("lang"); l != "" {
		return l
	}
	al := c.GetHeader("Accept-Language")
	first, _, _ := strings.Cut(al, ",")
	first, _, _ = strings.Cut(first, ";")
	return strings.TrimSpace(first)
}
