package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/internal/vntime"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// Documents is the document store. Domain rules (agency codes, symbols, numbering) are
// checked there; their refusals are fault.Invalid, a duplicate fault.Conflict.
type Documents interface {
	CreateDocument(ctx context.Context, actor Principal, nd NewDocument, content Document) (DocumentRecord, error)
	// SearchDocuments finds what p may see: its agencies' documents up to its clearance.
	SearchDocuments(ctx context.Context, p Principal, q DocumentQuery) ([]DocumentRecord, error)
	// GetDocument returns the document with its versions; one p may not see is
	// fault.NotFound like one that does not exist.
	GetDocument(ctx context.Context, p Principal, id int64) (DocumentRecord, error)
	// OpenContent opens version seq (0: the current one) and records the download.
	OpenContent(ctx context.Context, actor Principal, id int64, seq int) (io.ReadCloser, VersionRecord, error)
}

// queryOptions reads the query string, refusing names not in allowed and names given
// twice. On failure it has rendered the problem.
func queryOptions(c *gin.Context, allowed ...string) (map[string]string, bool) {
	out := map[string]string{}
	for name, vals := range c.Request.URL.Query() {
		if !slices.Contains(allowed, name) {
			fail(c, probInvalidRequest, fmt.Sprintf("Unknown option %q; options are %s.", name, strings.Join(allowed, ", ")))
			return nil, false
		}
		if len(vals) > 1 {
			fail(c, probInvalidRequest, fmt.Sprintf("Option %q is given more than once.", name))
			return nil, false
		}
		out[name] = vals[0]
	}
	return out, true
}

// vietnamTime is the zone of a date written without one: Vietnamese documents are
// dated in Vietnam.
var vietnamTime = vntime.Zone

// optionTime reads RFC 3339 or a date (YYYY-MM-DD, midnight in Vietnam).
func optionTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, vietnamTime); err == nil {
		return t, nil
	}
	return time.Time{}, badOption(fmt.Sprintf("Option %q must be a date (2025-03-05) or a time (2025-03-05T14:30:15+07:00).", name))
}

// badOption is a refused option or field, its text written for the caller.
func badOption(detail string) error { return fault.New(fault.Invalid, detail) }

// optionInt reads a whole number from lo to hi; "" is 0.
func optionInt(name, v string, lo, hi int) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badOption(fmt.Sprintf("Option %q must be a whole number from %d to %d.", name, lo, hi))
	}
	return n, nil
}

var documentOptions = []string{"agency", "holder", "type", "summary", "symbol", "urgency", "confidentiality", "filename", "series"}

// createDocument is POST /v1/documents: an outgoing draft.
func (s *Server) createDocument(c *gin.Context) {
	opts, ok := queryOptions(c, documentOptions...)
	if !ok {
		return
	}
	s.storeDocument(c, NewDocument{
		Direction: "outgoing", AgencyCode: opts["agency"], HolderCode: opts["holder"],
		Type: opts["type"], Summary: opts["summary"], Symbol: opts["symbol"],
		Urgency: opts["urgency"], Confidentiality: opts["confidentiality"], Series: opts["series"],
	})
}

// receiveDocument is POST /v1/documents/receive: an incoming PDF or edXML packet is
// verified, then registered with the next arrival number of the holder's incoming
// register (201), or recorded as returned (422 document-returned, with the record and
// the status packet for the sender). agency, number, symbol, issued and identifier
// are checked against what the document says and may be left out.
func (s *Server) receiveDocument(c *gin.Context) {
	opts, ok := queryOptions(c, append(slices.Clone(documentOptions), "identifier", "number", "issued", "received", "accept_indeterminate")...)
	if !ok {
		return
	}
	nd := NewDocument{
		Direction: "incoming", AgencyCode: opts["agency"], HolderCode: opts["holder"],
		Type: opts["type"], Summary: opts["summary"], Symbol: opts["symbol"], Identifier: opts["identifier"],
		Urgency: opts["urgency"], Confidentiality: opts["confidentiality"], Series: opts["series"],
	}
	var err error
	if nd.Number, err = optionInt("number", opts["number"], 0, 1<<30); err == nil {
		if nd.IssuedAt, err = optionTime("issued", opts["issued"]); err == nil {
			nd.ReceivedAt, err = optionTime("received", opts["received"])
		}
	}
	switch opts["accept_indeterminate"] {
	case "", "false":
	case "true":
		nd.AcceptIndeterminate = true
	default:
		err = badOption("Option \"accept_indeterminate\" must be true or false.")
	}
	if err != nil {
		fail(c, probInvalidRequest, err.Error())
		return
	}
	if nd.HolderCode == "" {
		fail(c, probInvalidRequest, "Option \"holder\" (the receiving agency's code) is required.")
		return
	}
	s.storeDocument(c, nd)
}

// returnedProblem is the problem of a returned document, with the stored record and
// the edXML status packet for the sender.
type returnedProblem struct {
	Problem
	Document     *DocumentRecord `json:"document"`
	StatusPacket string          `json:"status_packet"`
}

func (s *Server) storeDocument(c *gin.Context, nd NewDocument) {
	if nd.AgencyCode == "" && nd.Direction != "incoming" {
		fail(c, probInvalidRequest, "Option \"agency\" (the issuing agency's code) is required.")
		return
	}
	up, err := s.receive(c)
	if err != nil {
		s.uploadFail(c, err)
		return
	}
	defer up.Close()
	p, _ := principal(c)
	rec, err := s.documents.CreateDocument(c.Request.Context(), p, nd, up)
	var re *app.ReturnedError
	if errors.As(err, &re) && re.Record != nil {
		logger(c).Info("document returned", "document_id", re.Record.ID, "verdict", re.Record.Verdict, "content_sha256", re.Record.ContentSHA256)
		doc := *re.Record
		doc.StatusPacket = "" // given once, beside it
		pb := returnedProblem{Problem: Problem{Type: ProblemBase + probReturned.slug, Title: probReturned.title, Status: probReturned.status,
			Detail: fault.DetailOf(err), Instance: requestID(c)}, Document: &doc, StatusPacket: re.Record.StatusPacket}
		body, _ := json.Marshal(pb)
		c.Header("Location", fmt.Sprintf("/v1/documents/%d", re.Record.ID))
		c.Data(probReturned.status, "application/problem+json", body)
		return
	}
	if err != nil {
		failErr(c, err)
		return
	}
	logger(c).Info("document stored", "document_id", rec.ID, "direction", rec.Direction, "content_sha256", rec.ContentSHA256)
	c.Header("Location", fmt.Sprintf("/v1/documents/%d", rec.ID))
	c.JSON(http.StatusCreated, rec)
}

// listDocuments is GET /v1/documents: a search, newest first.
func (s *Server) listDocuments(c *gin.Context) {
	opts, ok := queryOptions(c, "identifier", "holder", "agency", "direction", "status", "number", "symbol",
		"year", "text", "issued_from", "issued_to", "limit", "offset")
	if !ok {
		return
	}
	q := DocumentQuery{
		Identifier: opts["identifier"], HolderCode: opts["holder"], AgencyCode: opts["agency"],
		Direction: opts["direction"], Status: opts["status"], Symbol: opts["symbol"], Text: opts["text"],
	}
	var err error
	for _, f := range []func() error{
		func() (e error) { q.Number, e = optionInt("number", opts["number"], 0, 1<<30); return },
		func() (e error) { q.Year, e = optionInt("year", opts["year"], 0, 9999); return },
		func() (e error) { q.Limit, e = optionInt("limit", opts["limit"], 1, 1000); return },
		func() (e error) { q.Offset, e = optionInt("offset", opts["offset"], 0, 1<<30); return },
		func() (e error) { q.IssuedFrom, e = optionTime("issued_from", opts["issued_from"]); return },
		func() (e error) { q.IssuedTo, e = optionTime("issued_to", opts["issued_to"]); return },
	} {
		if err = f(); err != nil {
			fail(c, probInvalidRequest, err.Error())
			return
		}
	}
	p, _ := principal(c)
	docs, err := s.documents.SearchDocuments(c.Request.Context(), p, q)
	if err != nil {
		failErr(c, err)
		return
	}
	if docs == nil {
		docs = []DocumentRecord{}
	}
	c.JSON(http.StatusOK, gin.H{"documents": docs})
}

// documentID reads the {id} of a document route; anything but a positive number is a
// document that does not exist.
func documentID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		fail(c, probNotFound, "No document has this id.")
		return 0, false
	}
	return id, true
}

// getDocument is GET /v1/documents/{id}.
func (s *Server) getDocument(c *gin.Context) {
	if _, ok := queryOptions(c); !ok {
		return
	}
	id, ok := documentID(c)
	if !ok {
		return
	}
	p, _ := principal(c)
	rec, err := s.documents.GetDocument(c.Request.Context(), p, id)
	if err != nil {
		failErr(c, err)
		return
	}
	c.JSON(http.StatusOK, rec)
}

// downloadDocument is GET /v1/documents/{id}/content[?version=N].
func (s *Server) downloadDocument(c *gin.Context) {
	opts, ok := queryOptions(c, "version")
	if !ok {
		return
	}
	id, ok := documentID(c)
	if !ok {
		return
	}
	seq, err := optionInt("version", opts["version"], 1, 1<<30)
	if err != nil {
		fail(c, probInvalidRequest, err.Error())
		return
	}
	p, _ := principal(c)
	rc, v, err := s.documents.OpenContent(c.Request.Context(), p, id, seq)
	if err != nil {
		failErr(c, err)
		return
	}
	defer rc.Close()
	name := v.Filename
	if name == "" {
		name = fmt.Sprintf("document-%d", id)
	}
	ct := v.MediaType
	if ct == "" {
		ct = "application/octet-stream"
	}
	c.DataFromReader(http.StatusOK, v.Size, ct, rc, map[string]string{
		"Content-Disposition": mime.FormatMediaType("attachment", map[string]string{"filename": name}),
		"ETag":                `"` + v.SHA256 + `"`,
	})
}
