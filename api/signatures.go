package api

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// RemoteSignatures is what a Signatures also implements to reach remote holders (SIM
// PKI, CSC); a server without remote signing configured refuses such a request as
// fault.Invalid.
type RemoteSignatures interface {
	PrepareRemoteSignature(ctx context.Context, p Principal, req PrepareRequest, doc Document) (Pending, error)
	WaitSignature(ctx context.Context, p Principal, id string) (Pending, error)
}

// Signatures is the prepare → complete pipeline. Its state lives in the store, so any
// replica (or a restarted one) completes what another prepared. An expired handle is
// fault.Expired, a completed one fault.Conflict, a signature that does not verify with
// the certificate fault.BadDocument.
type Signatures interface {
	// PrepareSignature lays out the signature; doc is the upload, nil when
	// req.DocumentID names a stored document.
	PrepareSignature(ctx context.Context, p Principal, req PrepareRequest, doc Document) (Pending, error)
	Signature(ctx context.Context, p Principal, id string) (Pending, error)
	CompleteSignature(ctx context.Context, p Principal, id string, c Completion) (Pending, error)
	// CancelSignature ends a prepared signature that will not be completed; a number
	// an issue reserved is voided with the reason.
	CancelSignature(ctx context.Context, p Principal, id, reason string) (Pending, error)
}

var (
	signatureRoles = []string{"", "approve", "issue", "appendix", "copy", "incoming"}
	// prepareFields are the multipart fields of POST /v1/signatures besides "file" and
	// "image".
	prepareFields = []string{"document_id", "certificate", "role", "level", "reason", "location", "page", "rect", "agency", "symbol", "summary", "type", "series",
		"provider", "holder", "display_text", "wait"}
)

const (
	// maxFormField bounds a text field: a certificate chain in PEM is a few KB.
	maxFormField = 64 << 10
	// maxSignatureImage bounds the handwritten signature's PNG.
	maxSignatureImage = 2 << 20
)

// pendingID is what a handle looks like; anything else is not found without a lookup.
var pendingID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// prepareSignature is POST /v1/signatures.
func (s *Server) prepareSignature(c *gin.Context) {
	if _, ok := queryOptions(c); !ok {
		return
	}
	req, up, err := s.readPrepareForm(c)
	if up != nil {
		defer up.Close()
	}
	if err != nil {
		s.uploadFail(c, err)
		return
	}
	var doc Document
	if up != nil {
		doc = up
	}
	p, _ := principal(c)
	var pend Pending
	if req.Provider != "" {
		rs, ok := s.signatures.(RemoteSignatures)
		if !ok {
			fail(c, probInvalidRequest, "Remote signing is not configured on this server.")
			return
		}
		pend, err = rs.PrepareRemoteSignature(c.Request.Context(), p, req, doc)
		if err == nil && req.Wait {
			// The answer may take minutes; the wait ends with the caller's request.
			pend, err = rs.WaitSignature(c.Request.Context(), p, pend.ID)
		}
	} else {
		pend, err = s.signatures.PrepareSignature(c.Request.Context(), p, req, doc)
	}
	if err != nil {
		failErr(c, err)
		return
	}
	logger(c).Info("signature prepared", "pending_id", pend.ID, "document_id", pend.DocumentID, "role", pend.Role)
	c.Header("Location", "/v1/signatures/"+pend.ID)
	c.JSON(http.StatusCreated, pend)
}

// readPrepareForm reads the multipart form of POST /v1/signatures, streaming "file"
// into a temporary file under the upload limit. Refusals of the caller's fields are
// badOption (fault.Invalid); of the body itself, what receive returns.
func (s *Server) readPrepareForm(c *gin.Context) (PrepareRequest, *Upload, error) {
	var req PrepareRequest
	r := c.Request
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return req, nil, badOption("Send multipart/form-data: a part \"file\" (the PDF) or a field \"document_id\", and the field \"certificate\".")
	}
	if params["boundary"] == "" {
		return req, nil, badUpload("multipart body without a boundary")
	}
	limit := s.maxUpload + maxSignatureImage + int64(len(prepareFields))*maxFormField + multipartSlack
	if r.ContentLength > limit {
		return req, nil, errTooLarge
	}
	r.Body = http.MaxBytesReader(c.Writer, r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		return req, nil, badUpload("%v", err)
	}
	fields := map[string]string{}
	var up *Upload
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return req, up, bodyError(err)
		}
		name := part.FormName()
		_, seen := fields[name]
		if name == "document_id" && seen {
			// Several documents for one remote holder.
			v, err := io.ReadAll(io.LimitReader(part, 32))
			if err != nil {
				return req, up, bodyError(err)
			}
			id, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || id <= 0 {
				return req, up, badOption("Field \"document_id\" must be a document's id.")
			}
			req.MoreDocuments = append(req.MoreDocuments, id)
			continue
		}
		if seen || (name == "file" && up != nil) || (name == "image" && req.Image != nil) {
			return req, up, badOption(fmt.Sprintf("Field %q is given more than once.", name))
		}
		switch {
		case name == "file":
			if up, err = s.spool(part, cleanName(part.FileName()), "application/pdf"); err != nil {
				return req, nil, err
			}
		case name == "image":
			img, err := io.ReadAll(io.LimitReader(part, maxSignatureImage+1))
			if err != nil {
				return req, up, bodyError(err)
			}
			if len(img) > maxSignatureImage {
				return req, up, badOption(fmt.Sprintf("The signature image may be at most %d bytes.", maxSignatureImage))
			}
			if !strings.HasPrefix(string(img), "\x89PNG\r\n\x1a\n") {
				return req, up, badOption("The signature image must be a PNG.")
			}
			req.Image = img
		case slices.Contains(prepareFields, name):
			v, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
			if err != nil {
				return req, up, bodyError(err)
			}
			if len(v) > maxFormField {
				return req, up, badOption(fmt.Sprintf("Field %q may be at most %d bytes.", name, maxFormField))
			}
			fields[name] = string(v)
		default:
			return req, up, badOption(fmt.Sprintf("Unknown field %q; the fields are file, image, %s.", name, strings.Join(prepareFields, ", ")))
		}
	}
	return req, up, fillPrepare(&req, fields, up != nil)
}

func cleanName(n string) string {
	if i := strings.LastIndexAny(n, `/\`); i >= 0 {
		n = n[i+1:]
	}
	return n
}

// fillPrepare checks the text fields of a prepare request and sets them on req.
func fillPrepare(req *PrepareRequest, f map[string]string, haveFile bool) error {
	if v := f["document_id"]; v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return badOption("Field \"document_id\" must be a document's id.")
		}
		req.DocumentID = id
	}
	switch {
	case haveFile == (req.DocumentID != 0):
		return badOption("Give exactly one of a part \"file\" (a new draft) or a field \"document_id\".")
	case haveFile && f["agency"] == "":
		return badOption("Field \"agency\" (the agency code of the new draft) is required with a file.")
	case !slices.Contains(signatureRoles, f["role"]):
		return badOption("Field \"role\" must be approve, issue, appendix, copy or incoming.")
	case !slices.Contains(signLevels, f["level"]):
		return badOption("Field \"level\" must be B-B, B-T, B-LT or B-LTA.")
	}
	req.Role, req.Level, req.Reason, req.Location = f["role"], f["level"], f["reason"], f["location"]
	req.Agency, req.Symbol, req.Summary, req.Type, req.Series = f["agency"], f["symbol"], f["summary"], f["type"], f["series"]
	req.Provider, req.Holder, req.DisplayText, req.Wait = f["provider"], f["holder"], f["display_text"], f["wait"] == "true"
	if (req.Provider == "") != (req.Holder == "") {
		return badOption("Fields \"provider\" and \"holder\" go together.")
	}
	if len(req.MoreDocuments) > 0 && req.Provider == "" {
		return badOption("Field \"document_id\" is given more than once; several documents need a remote \"provider\" and \"holder\".")
	}
	if req.Role == "" {
		req.Role = "approve"
	}
	// A remote provider may tell the holder's certificate itself (CSC
	// credentials/info); the service asks for one when it does not.
	if req.Provider == "" || strings.TrimSpace(f["certificate"]) != "" {
		certs, err := parseCertificates(f["certificate"])
		if err != nil {
			return err
		}
		req.Certificates = certs
	}
	var err error
	if req.Page, err = optionInt("page", f["page"], 0, 1<<20); err != nil {
		return err
	}
	if v := f["rect"]; v != "" {
		parts := strings.Split(v, ",")
		if len(parts) != 4 {
			return badOption("Field \"rect\" must be four numbers x1,y1,x2,y2.")
		}
		for i, p := range parts {
			x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil || x < 0 || x > 14400 {
				return badOption("Field \"rect\" must be four numbers x1,y1,x2,y2 from 0 to 14400.")
			}
			req.Rect[i] = x
		}
		if req.Rect[2] <= req.Rect[0] || req.Rect[3] <= req.Rect[1] {
			return badOption("Field \"rect\" must have x2 > x1 and y2 > y1.")
		}
	}
	if (req.Rect != [4]float64{} || req.Image != nil) && req.Page == 0 {
		req.Page = 1
	}
	// The seal of an issue signature goes over the leader's signature by default; a
	// handwritten signature needs its place.
	if req.Image != nil && req.Rect == ([4]float64{}) && req.Role != "issue" {
		return badOption("Field \"rect\" (where to draw the signature image) is required with an image.")
	}
	return nil
}

// parseCertificates reads a PEM chain, leaf first.
func parseCertificates(v string) ([]*x509.Certificate, error) {
	if strings.TrimSpace(v) == "" {
		return nil, badOption("Field \"certificate\" (the signer's certificate in PEM, then its chain) is required.")
	}
	var out []*x509.Certificate
	rest := []byte(v)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, badOption("Field \"certificate\" must hold only CERTIFICATE PEM blocks.")
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, badOption(fmt.Sprintf("Certificate %d of field \"certificate\" cannot be read: %v.", len(out)+1, err))
		}
		out = append(out, c)
	}
	if len(out) == 0 || strings.TrimSpace(string(rest)) != "" {
		return nil, badOption("Field \"certificate\" must be PEM certificates, the signer's first.")
	}
	return out, nil
}

// pendingHandle reads the {id} of a signature route.
func pendingHandle(c *gin.Context) (string, bool) {
	id := c.Param("id")
	if !pendingID.MatchString(id) {
		fail(c, probNotFound, "No prepared signature has this id.")
		return "", false
	}
	return id, true
}

// getSignature is GET /v1/signatures/{id}.
func (s *Server) getSignature(c *gin.Context) {
	if _, ok := queryOptions(c); !ok {
		return
	}
	id, ok := pendingHandle(c)
	if !ok {
		return
	}
	p, _ := principal(c)
	pend, err := s.signatures.Signature(c.Request.Context(), p, id)
	if err != nil {
		failErr(c, err)
		return
	}
	c.JSON(http.StatusOK, pend)
}

type completeBody struct {
	Signature *string `json:"signature"`
	CMS       *string `json:"cms"`
}

// completeSignature is POST /v1/signatures/{id}/complete.
func (s *Server) completeSignature(c *gin.Context) {
	if _, ok := queryOptions(c); !ok {
		return
	}
	id, ok := pendingHandle(c)
	if !ok {
		return
	}
	var body completeBody
	if !decodeJSON(c, &body) {
		return
	}
	if (body.Signature == nil) == (body.CMS == nil) {
		fail(c, probInvalidRequest, "Give exactly one of \"signature\" (over the digest) or \"cms\", in base64.")
		return
	}
	var comp Completion
	name, v, dst := "signature", body.Signature, &comp.Signature
	if body.CMS != nil {
		name, v, dst = "cms", body.CMS, &comp.CMS
	}
	raw, err := base64.StdEncoding.DecodeString(*v)
	if err != nil || len(raw) == 0 {
		fail(c, probInvalidRequest, fmt.Sprintf("Field %q must be non-empty standard base64.", name))
		return
	}
	*dst = raw
	p, _ := principal(c)
	pend, err := s.signatures.CompleteSignature(c.Request.Context(), p, id, comp)
	if err != nil {
		failErr(c, err)
		return
	}
	logger(c).Info("signature completed", "pending_id", pend.ID, "document_id", pend.DocumentID, "version", pend.Version)
	c.JSON(http.StatusOK, pend)
}

// cancelBody is the body of POST /v1/signatures/{id}/cancel (optional).
type cancelBody struct {
	Reason string `json:"reason"`
}

// cancelSignature is POST /v1/signatures/{id}/cancel: the signature will not be
// completed. An issue's reserved number is voided with the reason and shown so in the
// register (GET /v1/registers/{id}/numbers).
func (s *Server) cancelSignature(c *gin.Context) {
	if _, ok := queryOptions(c); !ok {
		return
	}
	id, ok := pendingHandle(c)
	if !ok {
		return
	}
	var body cancelBody
	if c.Request.ContentLength != 0 && !decodeJSON(c, &body) {
		return
	}
	p, _ := principal(c)
	pend, err := s.signatures.CancelSignature(c.Request.Context(), p, id, body.Reason)
	if err != nil {
		failErr(c, err)
		return
	}
	logger(c).Info("signature cancelled", "pending_id", pend.ID, "document_id", pend.DocumentID)
	c.JSON(http.StatusOK, pend)
}
