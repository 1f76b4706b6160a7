// Package office is Kyso's office pages at /van-phong/: the web pages clerks (văn
// thư) and leaders work in. A person signs in once with their API key; the pages list
// the documents of their agencies (drafts, approved, issued, received), take a new
// draft, show a document with its versions and audit trail and the actions the
// person's role has, pair the desktop agent (kyso-agent) of their PC, hand the
// leader's approval to the agent (the PIN is typed in the agent, never here), issue
// with a server key and the seal, and show the registers (printable, CSV).
//
// The pages call the same use-cases as the API (*app.Service, through Services); they
// hold no business rule: who may approve, issue, read or download is app's answer,
// and a page only leaves out the buttons that answer would refuse. Templates, style
// and script are embedded: no CDN, no build step.
//
// Sign-in keeps a server-side session in this process's memory (a random 256-bit id
// in an HttpOnly, SameSite=Strict cookie on /van-phong/, Secure over TLS; 30 minutes
// idle, 12 hours at most): several replicas need sticky sessions. The session holds
// the hash of the key, never the key, and every request resolves the client again,
// so a revoked key is out at once. Every POST carries the session's CSRF token and
// must come from this host (Origin, or Referer). Failed sign-ins are limited per
// address. The API key never reaches a log or a page after sign-in; on the pairing
// page the person types it again and the browser sends it only to the agent on
// 127.0.0.1.
//
// The package must not import gin, gorm, PKCS#11 code or the store: package api
// mounts it and hands in authentication, upload spooling and its mapping of errors.
package office

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/pkg/wire"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Services are the use-cases the pages call; *app.Service implements them.
type Services interface {
	SearchDocuments(ctx context.Context, p app.Principal, q app.DocumentQuery) ([]app.DocumentRecord, error)
	GetDocument(ctx context.Context, p app.Principal, id int64) (app.DocumentRecord, error)
	CreateDocument(ctx context.Context, actor app.Principal, nd app.NewDocument, content app.Document) (app.DocumentRecord, error)
	OpenContent(ctx context.Context, actor app.Principal, id int64, seq int) (io.ReadCloser, app.VersionRecord, error)
	DocumentAudit(ctx context.Context, p app.Principal, id int64) ([]app.AuditRecord, error)
	PrepareSignature(ctx context.Context, p app.Principal, req app.SignatureRequest, doc app.Document) (wire.Pending, error)
	IssueDocument(ctx context.Context, p app.Principal, id int64, o app.IssueOrder) (app.DocumentRecord, error)
	ListKeys(ctx context.Context) ([]app.KeyInfo, error)
	RegisterBook(ctx context.Context, p app.Principal, q app.RegisterBookQuery) (app.RegisterBook, error)
}

var _ Services = (*app.Service)(nil)

// Upload is a received file, released by Close.
type Upload interface {
	app.Document
	io.Closer
}

// DefaultAgentURL is where kyso-agent listens unless configured otherwise.
const DefaultAgentURL = "http://127.0.0.1:8789"

// Options wires the pages.
type Options struct {
	Services Services
	// Authenticate resolves an API key typed at sign-in: the client and the key's
	// hash, or fault.Unauthenticated.
	Authenticate func(ctx context.Context, key string) (app.Principal, string, error)
	// Resolve finds the client of a key hash again, on every request.
	Resolve func(ctx context.Context, keyHash string) (app.Principal, error)
	// ClientKey names the request's address for the sign-in limit (an IPv4 address or
	// an IPv6 /64).
	ClientKey func(r *http.Request) string
	// Spool receives an uploaded draft (at most MaxUpload bytes).
	Spool     func(r io.Reader, name, contentType string) (Upload, error)
	MaxUpload int64
	// Explain is the status and the detail for people of an error.
	Explain func(error) (status int, detail string)
	// AgentURL is the desktop agent's local address (DefaultAgentURL when empty); the
	// pages' scripts may talk to it and to this server only.
	AgentURL string
	Now      func() time.Time
	Log      *slog.Logger
}

// Office serves /van-phong/.
type Office struct {
	o      Options
	pages  map[string]*template.Template
	static http.Handler
	ss     *sessions
	mux    *http.ServeMux
}

// New parses the embedded templates.
func New(o Options) (*Office, error) {
	if o.Services == nil || o.Authenticate == nil || o.Resolve == nil || o.Spool == nil || o.Explain == nil {
		return nil, errors.New("office: Options.Services, Authenticate, Resolve, Spool and Explain are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.AgentURL == "" {
		o.AgentURL = DefaultAgentURL
	}
	o.AgentURL = strings.TrimRight(o.AgentURL, "/")
	if o.ClientKey == nil {
		o.ClientKey = func(r *http.Request) string { return r.RemoteAddr }
	}
	of := &Office{o: o, pages: map[string]*template.Template{}, ss: newSessions(o.Now)}
	for _, name := range []string{"signin", "list", "upload", "document", "pair", "registers", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		of.pages[name] = t
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	of.static = http.StripPrefix("/van-phong/static/", http.FileServer(http.FS(sub)))
	m := http.NewServeMux()
	m.HandleFunc("GET /van-phong/{$}", of.home)
	m.HandleFunc("GET /van-phong/dang-nhap", of.signInPage)
	m.HandleFunc("POST /van-phong/dang-nhap", of.signIn)
	m.HandleFunc("POST /van-phong/dang-xuat", of.in(of.signOut))
	m.HandleFunc("GET /van-phong/van-ban", of.in(of.list))
	m.HandleFunc("GET /van-phong/van-ban/moi", of.in(of.uploadPage))
	m.HandleFunc("POST /van-phong/van-ban/moi", of.inForm(of.upload))
	m.HandleFunc("GET /van-phong/van-ban/{id}", of.in(of.document))
	m.HandleFunc("GET /van-phong/van-ban/{id}/tep/{seq}", of.in(of.download))
	m.HandleFunc("POST /van-phong/phe-duyet", of.inForm(of.approve))
	m.HandleFunc("POST /van-phong/van-ban/{id}/phat-hanh", of.inForm(of.issue))
	m.HandleFunc("GET /van-phong/ghep-noi", of.in(of.pairPage))
	m.HandleFunc("GET /van-phong/so-dang-ky", of.in(of.registers))
	m.HandleFunc("GET /van-phong/static/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		of.static.ServeHTTP(w, r)
	})
	m.HandleFunc("/van-phong/", func(w http.ResponseWriter, r *http.Request) {
		of.failStatus(w, r, nil, http.StatusNotFound, "Không có trang này.")
	})
	of.mux = m
	return of, nil
}

// ServeHTTP serves everything under /van-phong/.
func (of *Office) ServeHTTP(w http.ResponseWriter, r *http.Request) { of.mux.ServeHTTP(w, r) }

// securityHeaders: the pages load only their own style and script, talk only to this
// server and the agent, send forms only here and are never framed. The referrer
// policy keeps Origin on the pages' POSTs (no-referrer would make it "null").
func (of *Office) securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "+
		"connect-src 'self' "+of.o.AgentURL+"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// visit is a signed-in request: the person as the store knows them now, and their
// session's CSRF token for the forms.
type visit struct {
	p    app.Principal
	sid  string
	csrf string
}

// in admits signed-in people only. A GET without a session goes to the sign-in page;
// a POST is refused unless it comes from this host with the session's CSRF token
// (checked here for url-encoded forms, by readForm for the multipart ones of inForm).
func (of *Office) in(h func(http.ResponseWriter, *http.Request, *visit)) http.HandlerFunc {
	return of.admit(h, false)
}

// inForm is in for the routes that take a multipart form: their handler reads it
// with readForm, which checks the CSRF token before anything else.
func (of *Office) inForm(h func(http.ResponseWriter, *http.Request, *visit)) http.HandlerFunc {
	return of.admit(h, true)
}

func (of *Office) admit(h func(http.ResponseWriter, *http.Request, *visit), multipartForm bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var sid string
		if c, err := r.Cookie(cookieName); err == nil {
			sid = c.Value
		}
		s := of.ss.get(sid)
		if s == nil {
			of.toSignIn(w, r, "")
			return
		}
		p, err := of.o.Resolve(r.Context(), s.keyHash)
		if err != nil {
			// revoked (or the store is down): the session ends either way
			of.ss.end(sid)
			setCookie(w, r, "", -1)
			of.toSignIn(w, r, "Khóa API của bạn không còn hiệu lực hoặc phiên đã hết; hãy đăng nhập lại.")
			return
		}
		v := &visit{p: p, sid: sid, csrf: s.csrf}
		if r.Method == http.MethodPost {
			if !sameOrigin(r) {
				of.failStatus(w, r, v, http.StatusForbidden, "Yêu cầu không đến từ trang này nên bị từ chối.")
				return
			}
			if isMultipart(r) != multipartForm {
				of.failStatus(w, r, v, http.StatusBadRequest, "Biểu mẫu không đúng dạng.")
				return
			}
			if !multipartForm {
				r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
				if err := r.ParseForm(); err != nil || !sameToken(r.PostForm.Get("csrf"), s.csrf) {
					of.failStatus(w, r, v, http.StatusForbidden, "Biểu mẫu đã cũ hoặc không gửi từ trang này; hãy tải lại trang và thử lại.")
					return
				}
			}
		}
		h(w, r, v)
	}
}

func (of *Office) toSignIn(w http.ResponseWriter, r *http.Request, msg string) {
	if r.Method == http.MethodGet {
		of.render(w, http.StatusOK, "signin", page{Title: "Đăng nhập", Error: msg, Next: r.URL.RequestURI()})
		return
	}
	if msg == "" {
		msg = "Bạn chưa đăng nhập hoặc phiên đã hết; hãy đăng nhập lại."
	}
	of.render(w, http.StatusUnauthorized, "signin", page{Title: "Đăng nhập", Error: msg})
}

func (of *Office) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/van-phong/van-ban", http.StatusSeeOther)
}

func (of *Office) signInPage(w http.ResponseWriter, r *http.Request) {
	of.render(w, http.StatusOK, "signin", page{Title: "Đăng nhập", Next: safeNext(r.URL.Query().Get("next"))})
}

// signIn is POST /van-phong/dang-nhap: the key in, a session out. The key is read
// from the form and dropped; only its hash is kept.
func (of *Office) signIn(w http.ResponseWriter, r *http.Request) {
	pg := page{Title: "Đăng nhập"}
	if !sameOrigin(r) {
		of.render(w, http.StatusForbidden, "signin", withError(pg, "Yêu cầu không đến từ trang này nên bị từ chối."))
		return
	}
	addr := of.o.ClientKey(r)
	if of.ss.locked(addr) {
		w.Header().Set("Retry-After", "900")
		of.render(w, http.StatusTooManyRequests, "signin", withError(pg, "Đã có quá nhiều lần đăng nhập sai từ địa chỉ này; hãy thử lại sau 15 phút."))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		of.render(w, http.StatusBadRequest, "signin", withError(pg, "Biểu mẫu không đọc được."))
		return
	}
	pg.Next = safeNext(r.PostForm.Get("next"))
	p, hash, err := of.o.Authenticate(r.Context(), strings.TrimSpace(r.PostForm.Get("key")))
	if err != nil {
		status, _ := of.o.Explain(err)
		if status == http.StatusUnauthorized {
			of.ss.fail(addr)
			of.o.Log.Warn("office: sign-in refused", "client", addr)
			of.render(w, http.StatusUnauthorized, "signin", withError(pg, "Khóa API không đúng hoặc đã bị thu hồi."))
			return
		}
		of.o.Log.Error("office: sign-in failed", "error", err)
		of.render(w, status, "signin", withError(pg, "Không đăng nhập được lúc này; hãy thử lại sau."))
		return
	}
	if p.Role == app.RolePublic || p.Role == "" {
		of.render(w, http.StatusForbidden, "signin", withError(pg, "Khóa API này không dùng được cho trang văn phòng."))
		return
	}
	if c, err := r.Cookie(cookieName); err == nil {
		of.ss.end(c.Value) // a new session id on every sign-in (no fixation)
	}
	id, ok := of.ss.create(hash)
	if !ok {
		of.o.Log.Error("office: too many sessions open", "max", maxSessions)
		w.Header().Set("Retry-After", "60")
		of.render(w, http.StatusServiceUnavailable, "signin", withError(pg, "Máy chủ đang có quá nhiều phiên làm việc; hãy thử lại sau ít phút."))
		return
	}
	setCookie(w, r, id, int(absoluteTimeout.Seconds()))
	of.o.Log.Info("office: signed in", "client_id", p.ID, "role", p.Role)
	next := pg.Next
	if next == "" {
		next = "/van-phong/van-ban"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (of *Office) signOut(w http.ResponseWriter, r *http.Request, v *visit) {
	of.ss.end(v.sid)
	setCookie(w, r, "", -1)
	http.Redirect(w, r, "/van-phong/dang-nhap", http.StatusSeeOther)
}

// safeNext keeps a return address only when it is one of these pages.
func safeNext(s string) string {
	if strings.HasPrefix(s, "/van-phong/") && !strings.HasPrefix(s, "//") && !strings.ContainsAny(s, "\\\r\n") &&
		!strings.HasPrefix(s, "/van-phong/dang-") {
		return s
	}
	return ""
}

func withError(pg page, msg string) page { pg.Error = msg; return pg }

func isMultipart(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data")
}

// Problem renders a refusal made before the pages' handlers ran (the server's
// concurrency limit) as a page, at status.
func (of *Office) Problem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	switch status {
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		detail = "Máy chủ đang bận; hãy thử lại sau ít phút. (" + detail + ")"
	}
	of.failStatus(w, r, nil, status, detail)
}
