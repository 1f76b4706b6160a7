// Package web is Kyso's public web face: the verification portal at / (a signed PDF,
// or a .p7s with its content, checked by the same use-case as POST /v1/verify) and
// the lookup of issued documents of public registers at /tra-cuu/{identifier}. The
// pages are plain HTML forms that work without JavaScript; a small script adds drag
// and drop and upload progress. Templates, style and script are embedded: no CDN, no
// build step. Nothing uploaded is stored.
//
// The package does not know HTTP routing, authentication or limits: package api
// mounts these handlers behind the public's rate and concurrency limits and hands in
// its upload spooling and its mapping of errors to statuses.
package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/signer/verify"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Services are the use-cases the pages call; *app.Service implements them.
type Services interface {
	// VerifyDocument is POST /v1/verify's use-case: the report `kyso verify` prints.
	VerifyDocument(ctx context.Context, doc app.Document, now time.Time) (*verify.Report, error)
	// VerifyDetachedDocument verifies a .p7s over its content.
	VerifyDetachedDocument(ctx context.Context, sig, content app.Document, now time.Time) (*verify.Report, error)
	// PublicDocument is an issued document of a public register, or fault.NotFound.
	PublicDocument(ctx context.Context, identifier string, now time.Time) (app.PublicDocument, error)
}

var _ Services = (*app.Service)(nil)

// Upload is a received file, released by Close.
type Upload interface {
	app.Document
	io.Closer
}

// Options wires the pages.
type Options struct {
	Services Services
	// Spool receives one uploaded file (the API's spooling: small files in memory,
	// larger ones in unlinked temporary files, at most MaxUpload bytes).
	Spool     func(r io.Reader, name, contentType string) (Upload, error)
	MaxUpload int64
	// Explain is the status and the detail for people of an error (the API's one
	// mapping of faults to statuses).
	Explain func(error) (status int, detail string)
	Now     func() time.Time
	Log     *slog.Logger
}

// Pages serves the public pages.
type Pages struct {
	o      Options
	pages  map[string]*template.Template
	static http.Handler
}

// New parses the embedded templates.
func New(o Options) (*Pages, error) {
	if o.Services == nil || o.Spool == nil || o.Explain == nil {
		return nil, errors.New("web: Options.Services, Spool and Explain are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	p := &Pages{o: o, pages: map[string]*template.Template{}}
	for _, name := range []string{"portal", "lookup", "notfound"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/signatures.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		p.pages[name] = t
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	p.static = http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
	return p, nil
}

// securityHeaders: the pages load only their own style and script, send forms only
// here, and are never framed. Signer-chosen text (reason, names) is escaped by
// html/template; this policy is the second line.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// Static serves /static/ (style and script).
func (p *Pages) Static(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	p.static.ServeHTTP(w, r)
}

func langOf(r *http.Request) verify.Lang {
	if r.URL.Query().Get("lang") == "en" {
		return verify.English
	}
	return verify.Vietnamese
}

// page is what every template gets.
type page struct {
	Lang   verify.Lang
	Path   string // this page, for the language switch
	Title  string
	Result *result
	Error  string
	Doc    *app.PublicDocument
	// Compared is "same" or "different" after the visitor's copy was compared.
	Compared string
	Yours    string // SHA-256 of the visitor's copy
	Action   string
}

func (p *Pages) render(w http.ResponseWriter, status int, name string, pg page) {
	securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	if err := p.pages[name].Execute(&b, pg); err != nil {
		p.o.Log.Error("web: rendering", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String())
}

// Portal is GET /: the form.
func (p *Pages) Portal(w http.ResponseWriter, r *http.Request) {
	lang := langOf(r)
	p.render(w, http.StatusOK, "portal", page{Lang: lang, Path: "/", Title: texts["title"].in(lang)})
}

// Problem renders a refusal made before the page's handler ran (the public's rate
// or concurrency limit, a wrong API key) as the portal with the message, at status.
func (p *Pages) Problem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	lang := langOf(r)
	switch status {
	case http.StatusTooManyRequests:
		detail = texts["rate-limited"].in(lang) + " (" + detail + ")"
	case http.StatusServiceUnavailable:
		detail = texts["busy"].in(lang) + " (" + detail + ")"
	}
	p.render(w, status, "portal", page{Lang: lang, Path: "/", Title: texts["title"].in(lang), Error: detail})
}

// fail renders err on the portal form with the API's status for it.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, name string, pg page, err error) {
	status, detail := p.o.Explain(err)
	if status >= 500 {
		p.o.Log.Error("web: request failed", "path", r.URL.Path, "error", err)
	}
	pg.Error = detail
	p.render(w, status, name, pg)
}

// errBadForm is a form the pages did not send.
func errBadForm(detail string) error { return fault.New(fault.Invalid, detail) }

// maxFields bounds the small text fields a form may carry.
const maxField = 64

// receiveFiles streams the multipart form's file parts named in want to Spool, in
// the order they come; other text fields up to maxField bytes are ignored. The body
// is bounded by MaxUpload per file plus slack.
func (p *Pages) receiveFiles(w http.ResponseWriter, r *http.Request, want ...string) (map[string]Upload, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, errBadForm("Send the form as multipart/form-data.")
	}
	r.Body = http.MaxBytesReader(w, r.Body, int64(len(want))*p.o.MaxUpload+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errBadForm("The form could not be read.")
	}
	got := map[string]Upload{}
	closeAll := func() {
		for _, u := range got {
			u.Close()
		}
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			closeAll()
			return nil, bodyErr(err)
		}
		name := part.FormName()
		if !contains(want, name) || got[name] != nil {
			_, _ = io.CopyN(io.Discard, part, maxField+1)
			continue
		}
		if part.FileName() == "" { // an empty file input
			_, _ = io.CopyN(io.Discard, part, maxField+1)
			continue
		}
		ct := part.Header.Get("Content-Type")
		if m, _, err := mime.ParseMediaType(ct); err == nil {
			ct = m
		} else {
			ct = "application/octet-stream"
		}
		up, err := p.o.Spool(part, filepath.Base(part.FileName()), ct)
		if err != nil {
			closeAll()
			return nil, err
		}
		got[name] = up
	}
	return got, nil
}

func bodyErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fault.Wrap(fault.TooLarge, err, "The files are larger than this server accepts.")
	}
	return fault.Wrap(fault.Invalid, err, "The upload was interrupted or is not a form.")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isDetached tells a .p7s (or .sig) signature file from a PDF by its name, type or
// first byte (DER SEQUENCE, or PEM).
func isDetached(u Upload) bool {
	n := strings.ToLower(u.Filename())
	if strings.HasSuffix(n, ".p7s") || strings.HasSuffix(n, ".p7m") || strings.HasSuffix(n, ".sig") ||
		strings.Contains(u.ContentType(), "pkcs7") {
		return true
	}
	b := make([]byte, 5)
	n2, _ := u.ReadAt(b, 0)
	return n2 > 0 && (b[0] == 0x30 || string(b[:n2]) == "-----")
}

// Verify is POST /: the form's file(s) verified, the result shown under the verdict.
// With ?format=xml the answer is the ETSI TS 119 102-2 report itself.
func (p *Pages) Verify(w http.ResponseWriter, r *http.Request) {
	lang := langOf(r)
	pg := page{Lang: lang, Path: "/", Title: texts["title"].in(lang)}
	files, err := p.receiveFiles(w, r, "file", "content")
	if err != nil {
		p.fail(w, r, "portal", pg, err)
		return
	}
	defer func() {
		for _, u := range files {
			u.Close()
		}
	}()
	doc, content := files["file"], files["content"]
	var rep *verify.Report
	switch {
	case doc == nil:
		err = errBadForm(texts["file"].in(lang) + ": " + map[verify.Lang]string{verify.Vietnamese: "chưa chọn tệp.", verify.English: "no file chosen."}[lang])
	case content != nil || isDetached(doc):
		if content == nil {
			err = fault.New(fault.BadDocument, map[verify.Lang]string{
				verify.Vietnamese: "Tệp chữ ký .p7s cần kèm tệp nội dung mà nó ký.",
				verify.English:    "A .p7s signature needs the content file it signs."}[lang])
			break
		}
		rep, err = p.o.Services.VerifyDetachedDocument(r.Context(), doc, content, p.o.Now())
	default:
		rep, err = p.o.Services.VerifyDocument(r.Context(), doc, p.o.Now())
	}
	if err != nil {
		p.fail(w, r, "portal", pg, err)
		return
	}
	if r.URL.Query().Get("format") == "xml" {
		b, err := writeETSI(rep)
		if err != nil {
			p.fail(w, r, "portal", pg, err)
			return
		}
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="kyso-validation-report.xml"`)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(b)
		return
	}
	res, err := newResult(rep, lang)
	if err != nil {
		p.fail(w, r, "portal", pg, err)
		return
	}
	pg.Result = res
	p.render(w, http.StatusOK, "portal", pg)
}

// Lookup is GET /tra-cuu/{identifier}.
// GET /tra-cuu/?id=... (the lookup form) redirects to the document's own URL.
func (p *Pages) Lookup(w http.ResponseWriter, r *http.Request, identifier string) {
	lang := langOf(r)
	if q := strings.TrimSpace(r.URL.Query().Get("id")); identifier == "" && q != "" && len(q) <= 200 {
		http.Redirect(w, r, "/tra-cuu/"+url.PathEscape(q)+"?lang="+string(lang), http.StatusSeeOther)
		return
	}
	pd, err := p.o.Services.PublicDocument(r.Context(), identifier, p.o.Now())
	if err != nil {
		p.lookupFail(w, r, lang, err)
		return
	}
	p.renderLookup(w, r, lang, &pd, "", "")
}

func (p *Pages) lookupFail(w http.ResponseWriter, r *http.Request, lang verify.Lang, err error) {
	pg := page{Lang: lang, Path: r.URL.Path, Title: texts["lookup-title"].in(lang)}
	if errors.Is(err, fault.NotFound) {
		p.render(w, http.StatusNotFound, "notfound", pg)
		return
	}
	p.fail(w, r, "notfound", pg, err)
}

func (p *Pages) renderLookup(w http.ResponseWriter, r *http.Request, lang verify.Lang, pd *app.PublicDocument, compared, yours string) {
	pg := page{Lang: lang, Path: r.URL.Path, Title: texts["lookup-title"].in(lang), Doc: pd, Compared: compared, Yours: yours, Action: r.URL.Path}
	res, err := newResult(pd.Report, lang)
	if err != nil {
		p.fail(w, r, "notfound", pg, err)
		return
	}
	pg.Result = res
	p.render(w, http.StatusOK, "lookup", pg)
}

// Compare is POST /tra-cuu/{identifier}: the visitor's copy hashed as it streams in
// (nothing is kept) and compared with the issued version.
func (p *Pages) Compare(w http.ResponseWriter, r *http.Request, identifier string) {
	lang := langOf(r)
	pd, err := p.o.Services.PublicDocument(r.Context(), identifier, p.o.Now())
	if err != nil {
		p.lookupFail(w, r, lang, err)
		return
	}
	sum, err := p.hashUpload(w, r)
	if err != nil {
		pg := page{Lang: lang, Path: r.URL.Path, Title: texts["lookup-title"].in(lang), Doc: &pd, Action: r.URL.Path}
		if res, rerr := newResult(pd.Report, lang); rerr == nil {
			pg.Result = res
		}
		p.fail(w, r, "lookup", pg, err)
		return
	}
	compared := "different"
	if sum == pd.SHA256 {
		compared = "same"
	}
	p.renderLookup(w, r, lang, &pd, compared, sum)
}

// hashUpload reads the form's "file" part through SHA-256 without keeping it.
func (p *Pages) hashUpload(w http.ResponseWriter, r *http.Request) (string, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return "", errBadForm("Send the form as multipart/form-data.")
	}
	r.Body = http.MaxBytesReader(w, r.Body, p.o.MaxUpload+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return "", errBadForm("The form could not be read.")
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return "", errBadForm(texts["compare-file"].in(langOf(r)) + ": ?")
		}
		if err != nil {
			return "", bodyErr(err)
		}
		if part.FormName() != "file" || part.FileName() == "" {
			continue
		}
		return hashPart(part)
	}
}

func hashPart(part *multipart.Part) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, part); err != nil {
		return "", bodyErr(err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// dataURL is a download link that needs nothing stored on the server.
func dataURL(mediaType string, b []byte) template.URL {
	return template.URL("data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(b))
}
