package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/signer/verify"
)

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyTimeout bounds the whole readiness probe; a load balancer calls it often and a
// hung HSM must not hang the probe.
const readyTimeout = 5 * time.Second

// signQuery names the options POST /v1/sign takes in its query string. They come
// before the body so that the key grant is checked before a byte is uploaded.
var signQuery = []string{"key", "format", "level", "reason", "location", "contact", "field", "page", "store", "filename",
	"document_id", "agency", "summary", "symbol", "type"}

var (
	signFormats = []string{"", "pades", "cades"}
	signLevels  = []string{"", "B-B", "B-T", "B-LT", "B-LTA"}
)

func decodeSignRequest(c *gin.Context) (SignRequest, bool) {
	q, ok := queryOptions(c, signQuery...)
	if !ok {
		return SignRequest{}, false
	}
	req := SignRequest{
		Key: q["key"], Format: q["format"], Level: q["level"],
		Reason: q["reason"], Location: q["location"], Contact: q["contact"], Field: q["field"],
		Agency: q["agency"], Summary: q["summary"], Symbol: q["symbol"], Type: q["type"],
	}
	var bad string
	switch {
	case req.Key == "":
		bad = "Option \"key\" (the server-side key to sign with) is required."
	case !slices.Contains(signFormats, req.Format):
		bad = "Option \"format\" must be pades or cades."
	case !slices.Contains(signLevels, req.Level):
		bad = "Option \"level\" must be B-B, B-T, B-LT or B-LTA."
	}
	if bad == "" {
		var err error
		if req.Page, err = optionInt("page", q["page"], 0, 1<<20); err != nil {
			bad = err.Error()
		}
	}
	if v := q["store"]; v != "" && bad == "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad = "Option \"store\" must be true or false."
		}
		req.Store = b
	}
	if v := q["document_id"]; v != "" && bad == "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			bad = "Option \"document_id\" must be a document's id."
		}
		req.DocumentID = id
	}
	if bad == "" && req.Store && req.Format == "cades" {
		bad = "Only signed PDFs are stored; a .p7s comes back to you (drop store=true)."
	}
	if bad == "" && req.Store && (req.DocumentID == 0) == (req.Agency == "") {
		bad = "With store=true give exactly one of \"document_id\" (a new version) or \"agency\" (a new draft)."
	}
	if bad == "" && !req.Store && (req.DocumentID != 0 || req.Agency != "" || req.Summary != "" || req.Symbol != "" || req.Type != "") {
		bad = "Options \"document_id\", \"agency\", \"summary\", \"symbol\" and \"type\" go with store=true."
	}
	if bad != "" {
		fail(c, probInvalidRequest, bad)
		return SignRequest{}, false
	}
	return req, true
}

// findKey returns the key named name, and whether it exists.
func (s *Server) findKey(ctx context.Context, name string) (KeyInfo, bool, error) {
	keys, err := s.keys.ListKeys(ctx)
	if err != nil {
		return KeyInfo{}, false, err
	}
	for _, k := range keys {
		if k.Name == name {
			return k, true, nil
		}
	}
	return KeyInfo{}, false, nil
}

// grantedKey returns the key named name when p may sign with it; otherwise it has
// rendered the problem. One answer for "no such key" and "not yours": a client learns
// nothing about keys it was not given.
func (s *Server) grantedKey(c *gin.Context, p Principal, name string) (KeyInfo, bool) {
	key, exists, err := s.findKey(c.Request.Context(), name)
	if err != nil {
		failErr(c, err)
		return KeyInfo{}, false
	}
	if !exists || !MayUseKey(p, key) {
		failErr(c, fault.WithCode(fault.Errorf(fault.Forbidden, "You are not granted the key %q, or it does not exist.", name), app.CodeKeyNotGranted))
		return KeyInfo{}, false
	}
	return key, true
}

// signed counts the outcome of signing with the named key and reports whether it
// succeeded; on failure it has rendered err. A failure of the key itself also counts
// against the key, which is what the key-error alert watches.
func (s *Server) signed(c *gin.Context, key string, err error) bool {
	if err != nil {
		if fault.CodeOf(err) == app.CodeKeyUnavailable {
			s.metrics.keyErrors.WithLabelValues(key).Inc()
		}
		failErr(c, err)
		return false
	}
	s.metrics.signatures.WithLabelValues(key).Inc()
	return true
}

// sign is POST /v1/sign: options → key grant → upload → sign into a temporary file →
// send it back (or its stored id). Signing into a file first means a failure half-way
// is a clean problem response, not a truncated document.
func (s *Server) sign(c *gin.Context) {
	req, ok := decodeSignRequest(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	p, _ := principal(c)
	key, ok := s.grantedKey(c, p, req.Key)
	if !ok {
		return
	}
	up, err := s.receive(c)
	if err != nil {
		s.uploadFail(c, err)
		return
	}
	defer up.Close()
	out, err := os.CreateTemp(s.tempDir, "signed-*")
	if err != nil {
		failErr(c, fmt.Errorf("api: temporary file: %w", err))
		return
	}
	_ = os.Remove(out.Name())
	defer out.Close()

	res, err := s.signer.SignDocument(ctx, p, req, up, out)
	if !s.signed(c, key.Name, err) {
		return
	}
	sum := up.SHA256()
	logger(c).Info("signed", "key", key.Name, "document_sha256", hex.EncodeToString(sum[:]), "size", up.Size())
	if res.Document != nil {
		c.Header("Location", fmt.Sprintf("/v1/documents/%d", res.Document.ID))
		c.JSON(http.StatusCreated, res.Document)
		return
	}
	size, err := out.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = out.Seek(0, io.SeekStart)
	}
	if err != nil {
		failErr(c, fmt.Errorf("api: signed output: %w", err))
		return
	}
	c.DataFromReader(http.StatusOK, size, res.ContentType, out, map[string]string{
		"Content-Disposition": mime.FormatMediaType("attachment", map[string]string{"filename": signedName(up.Filename(), req.Format)}),
	})
}

func signedName(name, format string) string {
	if name == "" {
		name = "document"
	}
	if format == "cades" {
		return name + ".p7s"
	}
	base := strings.TrimSuffix(name, ".pdf")
	return base + ".signed.pdf"
}

// verify is POST /v1/verify, open to the public within its rate. A browser (Accept
// preferring text/html) gets the report as a page in Vietnamese or, with lang=en,
// English; anything else gets the JSON report.
func (s *Server) verify(c *gin.Context) {
	opts, ok := queryOptions(c, "filename", "lang")
	if !ok {
		return
	}
	lang := verify.Vietnamese
	if v := opts["lang"]; v != "" {
		l, err := verify.ParseLang(v)
		if err != nil {
			fail(c, probInvalidRequest, "Option \"lang\" must be vi or en.")
			return
		}
		lang = l
	}
	up, err := s.receive(c)
	if err != nil {
		s.uploadFail(c, err)
		return
	}
	defer up.Close()
	rep, err := s.verifier.VerifyDocument(c.Request.Context(), up, s.now())
	if err != nil {
		failErr(c, err)
		return
	}
	if c.NegotiateFormat(gin.MIMEJSON, gin.MIMEHTML) != gin.MIMEHTML {
		c.JSON(http.StatusOK, rep)
		return
	}
	var page bytes.Buffer
	if err := rep.WriteHTML(&page, lang); err != nil {
		failErr(c, fmt.Errorf("api: rendering the report: %w", err))
		return
	}
	// The page quotes text the signer chose (reason, location); html/template escapes
	// it, and this policy forbids scripts and outside resources should anything slip.
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/html; charset=utf-8", page.Bytes())
}

type keyView struct {
	Name        string           `json:"name"`
	Owner       string           `json:"owner,omitempty"`
	Demo        bool             `json:"demo"`
	Allowed     []string         `json:"allowed,omitempty"`
	Certificate *certificateView `json:"certificate,omitempty"`
}

type certificateView struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	SHA256    string    `json:"sha256"`
}

// listKeys is GET /v1/keys: an admin sees every key and its grants; any other client
// sees only the keys it may sign with.
func (s *Server) listKeys(c *gin.Context) {
	p, _ := principal(c)
	keys, err := s.keys.ListKeys(c.Request.Context())
	if err != nil {
		failErr(c, err)
		return
	}
	views := []keyView{}
	for _, k := range keys {
		if p.Role != RoleAdmin && !MayUseKey(p, k) {
			continue
		}
		v := keyView{Name: k.Name, Owner: k.Owner, Demo: k.Demo}
		if p.Role == RoleAdmin {
			v.Allowed = k.Allowed
		}
		if crt := k.Certificate; crt != nil {
			fp := sha256.Sum256(crt.Raw)
			v.Certificate = &certificateView{
				Subject:   crt.Subject.String(),
				Issuer:    crt.Issuer.String(),
				Serial:    crt.SerialNumber.Text(16),
				NotBefore: crt.NotBefore.UTC(),
				NotAfter:  crt.NotAfter.UTC(),
				SHA256:    hex.EncodeToString(fp[:]),
			}
		}
		views = append(views, v)
	}
	c.JSON(http.StatusOK, gin.H{"keys": views})
}

type createClientRequest struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Agencies the client acts for (required but for admins), its clearance, and the
	// PEM certificates bound to it (a leader's own, with which it approves).
	Agencies     []string `json:"agencies"`
	Clearance    string   `json:"clearance"`
	Certificates []string `json:"certificates"`
}

// clientName is what a client may be called: 1-64 letters, digits, spaces, '.', '_'
// or '-', starting with a letter or digit.
func clientName(s string) bool { return nameLike(s, " ._-", 64) }

// nameLike reports whether s is 1 to max runes long, starts with a letter or digit and
// holds only letters, digits and the runes in extra. (Written out rather than as a
// regular expression: a bounded repetition of Unicode classes compiles for about
// 3 ms, paid by every run of every kyso command at start-up.)
func nameLike(s, extra string, max int) bool {
	n := 0
	for i, r := range s {
		n++
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) && (i == 0 || !strings.ContainsRune(extra, r)) {
			return false
		}
	}
	return n >= 1 && n <= max
}

// createClient is POST /v1/clients: the new key is in this response and nowhere else.
func (s *Server) createClient(c *gin.Context) {
	var req createClientRequest
	if !decodeJSON(c, &req) {
		return
	}
	switch {
	case !clientName(req.Name):
		fail(c, probInvalidRequest, "Field \"name\" must be 1-64 letters, digits, spaces, '.', '_' or '-'.")
		return
	case !req.Role.Valid() || req.Role == RolePublic:
		fail(c, probInvalidRequest, "Field \"role\" must be admin, system, clerk or leader.")
		return
	}
	if len(req.Agencies) > 64 || len(req.Certificates) > 16 {
		fail(c, probInvalidRequest, "At most 64 agencies and 16 certificates per client.")
		return
	}
	nc := NewClient{Name: req.Name, Role: req.Role, Agencies: req.Agencies, Clearance: req.Clearance}
	for i, text := range req.Certificates {
		certs, err := parseCertificates(text)
		if err != nil || len(certs) != 1 {
			fail(c, probInvalidRequest, fmt.Sprintf("Field \"certificates\"[%d] must be one PEM certificate.", i))
			return
		}
		nc.Certificates = append(nc.Certificates, certs[0])
	}
	key, hash := NewAPIKey()
	actor, _ := principal(c)
	p, err := s.registry.RegisterClient(c.Request.Context(), actor, nc, hash)
	if err != nil {
		failErr(c, err)
		return
	}
	logger(c).LogAttrs(c.Request.Context(), slog.LevelInfo, "client created", slog.String("new_client_id", p.ID), slog.String("new_client_role", string(p.Role)))
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, gin.H{"id": p.ID, "name": p.Name, "role": p.Role, "agencies": p.Agencies, "clearance": p.Clearance, "api_key": key})
}

// revokeClient is DELETE /v1/clients/{id}.
func (s *Server) revokeClient(c *gin.Context) {
	id := c.Param("id")
	actor, _ := principal(c)
	if err := s.registry.RevokeClient(c.Request.Context(), actor, id); err != nil {
		failErr(c, err)
		return
	}
	logger(c).Info("client revoked", "revoked_client_id", id)
	c.Status(http.StatusNoContent)
}

// grantPrincipal is what a grant may name: a client id or name (kept as its id), or
// role:<role>.
func grantPrincipal(s string) bool { return nameLike(s, " ._:-", 128) }

// keyGrantTarget reads and checks the key and principal of a grant route; on failure it
// has rendered the problem.
func (s *Server) keyGrantTarget(c *gin.Context) (key, who string, ok bool) {
	key, who = c.Param("name"), c.Param("principal")
	if !grantPrincipal(who) {
		fail(c, probInvalidRequest, "The principal must be a client id or name, or role:<role>.")
		return "", "", false
	}
	if role, isRole := strings.CutPrefix(who, "role:"); isRole {
		if r := Role(role); !r.Valid() || r == RolePublic {
			fail(c, probInvalidRequest, "Only the roles admin, system, clerk and leader can be granted a key.")
			return "", "", false
		}
	}
	_, exists, err := s.findKey(c.Request.Context(), key)
	if err != nil {
		failErr(c, err)
		return "", "", false
	}
	if !exists {
		fail(c, probNotFound, fmt.Sprintf("There is no key %q.", key))
		return "", "", false
	}
	return key, who, true
}

// grantKey is PUT /v1/keys/{name}/grants/{principal}; granting twice is harmless.
func (s *Server) grantKey(c *gin.Context) {
	key, who, ok := s.keyGrantTarget(c)
	if !ok {
		return
	}
	actor, _ := principal(c)
	if err := s.grants.GrantKey(c.Request.Context(), actor, key, who); err != nil {
		failErr(c, err)
		return
	}
	logger(c).Info("key granted", "key", key, "grantee", who)
	c.Status(http.StatusNoContent)
}

// revokeGrant is DELETE /v1/keys/{name}/grants/{principal}.
func (s *Server) revokeGrant(c *gin.Context) {
	key, who, ok := s.keyGrantTarget(c)
	if !ok {
		return
	}
	actor, _ := principal(c)
	if err := s.grants.RevokeGrant(c.Request.Context(), actor, key, who); err != nil {
		failErr(c, err)
		return
	}
	logger(c).Info("key grant revoked", "key", key, "grantee", who)
	c.Status(http.StatusNoContent)
}

// listCertificates is GET /v1/certificates.
func (s *Server) listCertificates(c *gin.Context) {
	p, _ := principal(c)
	certs, err := s.certs.Certificates(c.Request.Context(), p)
	if err != nil {
		failErr(c, err)
		return
	}
	if certs == nil {
		certs = []CertificateInfo{}
	}
	c.JSON(http.StatusOK, gin.H{"certificates": certs})
}

// getStats is GET /v1/stats?year=YYYY or ?from=YYYY-MM-DD&to=YYYY-MM-DD (both days
// included; default: this year in Vietnam).
func (s *Server) getStats(c *gin.Context) {
	q, ok := queryOptions(c, "year", "from", "to")
	if !ok {
		return
	}
	this := s.now().In(vietnamTime).Year()
	period := app.YearPeriod(this)
	if v := q["year"]; v != "" {
		if q["from"] != "" || q["to"] != "" {
			fail(c, probInvalidRequest, "Give either year or from and to, not both.")
			return
		}
		y, err := optionInt("year", v, 1945, this+1)
		if err != nil {
			fail(c, probInvalidRequest, err.Error())
			return
		}
		period = app.YearPeriod(y)
	} else if q["from"] != "" || q["to"] != "" {
		var err error
		if period, err = datePeriod(q["from"], q["to"]); err != nil {
			fail(c, probInvalidRequest, err.Error())
			return
		}
	}
	p, _ := principal(c)
	st, err := s.stats.Stats(c.Request.Context(), p, period)
	if err != nil {
		failErr(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}
