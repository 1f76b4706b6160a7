package agent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kyso-vn/kyso/internal/vntime"
)

//go:embed templates/*.html static/*
var assets embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"fmtTime": func(t time.Time) string { return t.In(vietnam).Format("02/01/2006 15:04") },
	"fmtDate": func(t time.Time) string { return t.In(vietnam).Format("02/01/2006") },
	"role":    roleName,
	"inc":     func(i int) int { return i + 1 },
	// digest shows the start of what the token will sign, for the person to compare
	// with the web page if they wish.
	"digest": func(b []byte) string {
		h := hex.EncodeToString(b)
		if len(h) > 16 {
			h = h[:16] + "…"
		}
		return h
	},
	"cn": commonName,
}).ParseFS(assets, "templates/*.html"))

// vietnam is the zone the page shows times in.
var vietnam = vntime.Zone

// pairingRequest is a web page's request to pair, waiting for the person to read the
// code on the agent's page and type it into the web page.
type pairingRequest struct {
	id, code, server, origin, apiKey, person string
	expires                                  time.Time
	tries                                    int
	done                                     bool
}

// Pairing attempts are limited for the whole agent, not per pairing: a wrong code
// ends nothing an attacker cannot start again. After pairMaxFailures wrong codes
// within pairWindow, pairing is refused for pairLockout.
const (
	pairMaxFailures = 5
	pairWindow      = 10 * time.Minute
	pairLockout     = 10 * time.Minute
)

// Server is the agent's local face: the page the person uses and the API web pages of
// allowed origins call, both on one loopback listener.
type Server struct {
	agent *Agent
	// base bounds the work a confirmation starts (signing goes on after the request).
	base context.Context

	mu   sync.Mutex
	self string // the page's own origin, http://127.0.0.1:PORT

	pairConfirm sync.Mutex // held by each pairing confirmation
	pairMu      sync.Mutex
	pairFails   []time.Time // wrong pairing codes within pairWindow
	pairLocked  time.Time   // pairing refused until then
	pairRefused int         // pairing calls refused while locked, logged in one line per lock
}

// NewServer returns the local server of a; base bounds background signing.
func NewServer(base context.Context, a *Agent) *Server { return &Server{agent: a, base: base} }

// Serve answers on ln, which must be a loopback listener, until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok || !addr.IP.IsLoopback() {
		return fmt.Errorf("agent: refusing to listen on %v: loopback only", ln.Addr())
	}
	s.mu.Lock()
	s.self = "http://" + ln.Addr().String()
	s.mu.Unlock()
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// URL is the page's base URL once serving.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.self
}

// Handler routes the page (/, /jobs/, /pair/, /static/) and the API (/api/).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, healthText) })
	mux.HandleFunc("GET /jobs/{id}", s.jobPage)
	mux.HandleFunc("POST /jobs/{id}/session", s.ownOrigin(s.claimSession))
	mux.HandleFunc("POST /jobs/{id}/confirm", s.ownOrigin(s.withSession(s.confirm)))
	mux.HandleFunc("GET /jobs/{id}/events", s.withSession(s.events))
	mux.HandleFunc("GET /pair/{id}", s.pairPage)

	api := http.NewServeMux()
	api.HandleFunc("POST /api/pair", s.apiPair)
	api.HandleFunc("POST /api/pair/{id}/confirm", s.apiPairConfirm)
	api.HandleFunc("GET /api/pairing", s.paired(s.apiPairing))
	api.HandleFunc("GET /api/tokens", s.paired(s.apiTokens))
	api.HandleFunc("POST /api/jobs", s.paired(s.apiCreateJob))
	api.HandleFunc("GET /api/jobs/{id}", s.paired(s.apiJob))
	api.HandleFunc("GET /api/ws", s.apiWebSocket)
	mux.Handle("/api/", s.cors(api))
	return s.loopbackHost(securityHeaders(mux))
}

// healthText is what GET /healthz answers: Running tells an agent from another
// program on the port by it.
const healthText = "kyso-agent ok\n"

// Running reports whether a kyso-agent answers on the loopback address addr.
func Running(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	return resp.StatusCode == http.StatusOK && string(b) == healthText
}

// loopbackHost refuses a Host other than the loopback address and port served: a DNS
// rebinding page would send its own name.
func (s *Server) loopbackHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, port, err := net.SplitHostPort(r.Host)
		self := s.URL()
		_, selfPort, _ := net.SplitHostPort(strings.TrimPrefix(self, "http://"))
		if err != nil || self != "" && port != selfPort || host != "127.0.0.1" && host != "localhost" && host != "::1" {
			http.Error(w, "agent: wrong Host", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: with no-referrer browsers send "Origin: null"
		// on the page's own form posts, and ownOrigin needs the real origin.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			// The page may not be framed by another site (clickjacking the PIN form).
			h.Set("X-Frame-Options", "DENY")
			h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		}
		next.ServeHTTP(w, r)
	})
}

// cors answers only requests whose Origin is on the allow-list: the exact origin is
// echoed (never "*"), with Vary: Origin; a preflight gets the methods and headers
// the API takes. Any other origin, or none, gets 403 and no CORS header at all.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		w.Header().Add("Vary", "Origin")
		if !s.agent.cfg.originAllowed(origin) {
			s.agent.log.Warn("agent: refused an origin not on the allow-list", "origin", origin, "path", r.URL.Path)
			problem(w, http.StatusForbidden, "origin not allowed", "this page's origin is not on the agent's allow-list")
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, "+personHeader)
			h.Set("Access-Control-Max-Age", "600")
			if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
				// Chrome's Private Network Access: a public page may call loopback
				// only when the local server says so.
				h.Set("Access-Control-Allow-Private-Network", "true")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ownOrigin lets a form post through only from the agent's own page: another site
// must not be able to submit a PIN form to 127.0.0.1.
func (s *Server) ownOrigin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.sameOrigin(r.Header.Get("Origin")) {
			http.Error(w, "agent: forms are accepted from the agent's own page only", http.StatusForbidden)
			return
		}
		next(w, r)
	}
}

func (s *Server) sameOrigin(o string) bool {
	u, err := url.Parse(o)
	if err != nil || u.Scheme != "http" {
		return false
	}
	self := strings.TrimPrefix(s.URL(), "http://")
	_, selfPort, _ := net.SplitHostPort(self)
	host, port, err := net.SplitHostPort(u.Host)
	return err == nil && port == selfPort && (host == "127.0.0.1" || host == "localhost" || host == "[::1]" || host == "::1")
}

type pairedHandler func(w http.ResponseWriter, r *http.Request, p Pairing)

// personHeader names the person signed in to the web page making a call; a pairing
// token of another person's pairing is then refused, so that a page that kept the
// previous person's token on a shared PC cannot sign in their name.
const personHeader = "X-Kyso-Person"

// paired lets through requests carrying the pairing token of their origin, and of the
// person the page says is signed in, when it says so.
func (s *Server) paired(next pairedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		p, ok := s.agent.cfg.pairingFor(r.Header.Get("Origin"), tok)
		if !ok {
			problem(w, http.StatusUnauthorized, "not paired", "pair this page with the agent first (POST /api/pair)")
			return
		}
		if !samePerson(p, r.Header.Get(personHeader)) {
			s.agent.log.Warn("agent: a pairing token used for another person", "origin", p.Origin, "server", p.Server)
			problem(w, http.StatusForbidden, "paired for another person",
				"this pairing token is another person's: pair the agent for the person signed in (POST /api/pair with person)")
			return
		}
		next(w, r, p)
	}
}

// samePerson: the person the page names (none: any) is the pairing's.
func samePerson(p Pairing, person string) bool {
	return person == "" || constantEqual(p.Person, person)
}

func problem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": title, "status": status, "detail": detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiPair starts a pairing: the web page gives the server and the API key the agent
// will call it with; the agent shows a code on its page, which the person types into
// the web page (apiPairConfirm). The code proves the person saw the agent's page.
func (s *Server) apiPair(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Server string `json:"server"`
		APIKey string `json:"api_key"`
		Person string `json:"person"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil || in.APIKey == "" {
		problem(w, http.StatusBadRequest, "bad pairing request", "give server and api_key")
		return
	}
	if !validPerson(in.Person) {
		problem(w, http.StatusBadRequest, "bad pairing request", "person: at most 200 characters of text, no control characters")
		return
	}
	u, err := url.Parse(in.Server)
	if err != nil || u.Host == "" || u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		// The API key goes to this server with every call: never in clear over a network.
		problem(w, http.StatusBadRequest, "bad pairing request", "server must be an https URL (http only on loopback)")
		return
	}
	if s.pairingLocked(w, r) {
		return
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	p := &pairingRequest{id: newID(12), code: fmt.Sprintf("%06d", n.Int64()), server: strings.TrimRight(in.Server, "/"),
		origin: strings.ToLower(r.Header.Get("Origin")), apiKey: in.APIKey, person: in.Person, expires: s.agent.now().Add(5 * time.Minute)}
	a := s.agent
	a.mu.Lock()
	for id, old := range a.pairings {
		if a.now().After(old.expires) {
			delete(a.pairings, id)
		}
	}
	if len(a.pairings) >= 8 {
		a.mu.Unlock()
		problem(w, http.StatusTooManyRequests, "too many pairings", "finish or let expire the pairings already asked for")
		return
	}
	a.pairings[p.id] = p
	a.mu.Unlock()
	s.agent.log.Info("agent: pairing asked", "origin", p.origin, "server", p.server)
	writeJSON(w, http.StatusCreated, map[string]any{"pairing_id": p.id, "confirm_url": s.URL() + "/pair/" + p.id, "expires_at": p.expires})
}

// apiPairConfirm checks the code the person typed; after three wrong codes the
// pairing request is dropped.
func (s *Server) apiPairConfirm(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Code string `json:"code"`
	}
	_ = json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<12)).Decode(&in)
	// One confirmation at a time, from the lock check to the count of a wrong code:
	// codes sent in parallel must not all get past the check before the first counts.
	s.pairConfirm.Lock()
	defer s.pairConfirm.Unlock()
	if s.pairingLocked(w, r) {
		return
	}
	a := s.agent
	origin := strings.ToLower(r.Header.Get("Origin"))
	a.mu.Lock()
	p, ok := a.pairings[r.PathValue("id")]
	if ok && (p.done || a.now().After(p.expires) || p.origin != origin) {
		ok = false
	}
	if !ok {
		a.mu.Unlock()
		a.log.Warn("agent: pairing confirmation for no pending pairing", "origin", origin, "pairing", r.PathValue("id"))
		problem(w, http.StatusNotFound, "no such pairing", "start again")
		return
	}
	if subtle.ConstantTimeCompare([]byte(in.Code), []byte(p.code)) != 1 {
		p.tries++
		tries := p.tries
		if tries >= 3 {
			delete(a.pairings, p.id)
		}
		a.mu.Unlock()
		s.pairingFailed(p, tries)
		problem(w, http.StatusForbidden, "wrong code", "type the code the agent's page shows")
		return
	}
	p.done = true
	delete(a.pairings, p.id)
	a.mu.Unlock()
	token := newID(32)
	sum := sha256.Sum256([]byte(token))
	err := a.cfg.addPairing(Pairing{Server: p.server, Origin: p.origin, Person: p.person, APIKey: p.apiKey, TokenSHA256: hex.EncodeToString(sum[:]), PairedAt: a.now()})
	if err != nil {
		a.log.Error("agent: saving the pairing", "error", err)
		problem(w, http.StatusInternalServerError, "pairing not saved", "the agent could not write its configuration")
		return
	}
	a.log.Info("agent: paired", "origin", p.origin, "server", p.server, "person", p.person)
	writeJSON(w, http.StatusOK, map[string]string{"token": token, "server": p.server, "person": p.person})
}

// pairingLocked answers 429 and reports true while pairing is locked after too many
// wrong codes.
func (s *Server) pairingLocked(w http.ResponseWriter, r *http.Request) bool {
	now := s.agent.now()
	s.pairMu.Lock()
	until := s.pairLocked
	locked := now.Before(until)
	if locked {
		s.pairRefused++
	}
	refused := s.pairRefused
	s.pairMu.Unlock()
	if !locked {
		return false
	}
	if refused == 1 || refused%100 == 0 {
		s.agent.log.Warn("agent: pairing refused while locked after wrong codes", "origin", r.Header.Get("Origin"), "until", until, "refused", refused)
	}
	w.Header().Set("Retry-After", fmt.Sprint(int(until.Sub(now).Seconds())+1))
	problem(w, http.StatusTooManyRequests, "pairing locked",
		fmt.Sprintf("too many wrong pairing codes; pairing is refused until %s", until.In(vietnam).Format("15:04")))
	return true
}

// pairingFailed counts a wrong pairing code for the whole agent, logs it (never the
// code), and locks pairing after pairMaxFailures of them within pairWindow.
func (s *Server) pairingFailed(p *pairingRequest, tries int) {
	now := s.agent.now()
	s.pairMu.Lock()
	kept := s.pairFails[:0]
	for _, t := range s.pairFails {
		if now.Sub(t) < pairWindow {
			kept = append(kept, t)
		}
	}
	s.pairFails = append(kept, now)
	n := len(s.pairFails)
	lock := n >= pairMaxFailures
	if lock {
		s.pairFails = s.pairFails[:0]
		s.pairLocked, s.pairRefused = now.Add(pairLockout), 0
	}
	s.pairMu.Unlock()
	s.agent.log.Warn("agent: wrong pairing code", "origin", p.origin, "server", p.server, "pairing", p.id,
		"tries", tries, "pairing_ended", tries >= 3, "wrong_codes_in_window", n)
	if lock {
		s.agent.log.Error("agent: pairing locked after too many wrong codes", "wrong_codes", n, "window", pairWindow, "until", now.Add(pairLockout))
		// Every pending pairing ends too: its code may be what was being guessed.
		s.agent.mu.Lock()
		clear(s.agent.pairings)
		s.agent.mu.Unlock()
	}
}

// validPerson: a person's name as a web application gives it, short and printable.
func validPerson(p string) bool {
	if len(p) > 200 || !utf8.ValidString(p) {
		return false
	}
	for _, r := range p {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// apiPairing tells the page whose pairing its token is, so that it can tell, after a
// change of person on a shared PC, whether to pair again.
func (s *Server) apiPairing(w http.ResponseWriter, _ *http.Request, p Pairing) {
	writeJSON(w, http.StatusOK, map[string]any{"server": p.Server, "origin": p.Origin, "person": p.Person, "paired_at": p.PairedAt})
}

func (s *Server) apiTokens(w http.ResponseWriter, _ *http.Request, _ Pairing) {
	toks, _ := s.agent.watcher.Tokens()
	writeJSON(w, http.StatusOK, map[string]any{"tokens": toks})
}

func (s *Server) apiCreateJob(w http.ResponseWriter, r *http.Request, p Pairing) {
	var in struct {
		RequestIDs []string `json:"request_ids"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		problem(w, http.StatusBadRequest, "bad request", "give request_ids")
		return
	}
	j, err := s.agent.CreateJob(r.Context(), p, in.RequestIDs)
	if err != nil {
		status := http.StatusBadGateway
		switch {
		case errors.Is(err, ErrBadJob):
			status = http.StatusBadRequest
		case errors.Is(err, ErrNotPending):
			status = http.StatusConflict
		case errors.Is(err, ErrExpired):
			status = http.StatusGone
		case errors.Is(err, ErrUnknownRequest):
			status = http.StatusNotFound
		}
		problem(w, status, "request refused", err.Error())
		return
	}
	pr, _ := j.Progress()
	writeJSON(w, http.StatusCreated, map[string]any{"job_id": j.ID, "url": s.jobURL(j), "progress": pr})
}

func (s *Server) apiJob(w http.ResponseWriter, r *http.Request, p Pairing) {
	j, ok := s.agent.Job(r.PathValue("id"))
	if !ok || !j.of(p) {
		problem(w, http.StatusNotFound, "no such job", "")
		return
	}
	pr, _ := j.Progress()
	writeJSON(w, http.StatusOK, pr)
}

// jobURL is the agent's page of j for the web page that listed it, with the job's
// session in the fragment: a browser does not send a fragment to any server, so it
// reaches the agent's page only through its own script (agent.js), which trades it
// for a cookie.
func (s *Server) jobURL(j *Job) string {
	return s.URL() + "/jobs/" + url.PathEscape(j.ID) + "#session=" + j.session
}

const sessionHeader = "X-Kyso-Session"

func sessionCookie(j *Job) string { return "kyso_job_" + j.ID }

// hasSession reports whether r carries j's session cookie.
func hasSession(r *http.Request, j *Job) bool {
	c, err := r.Cookie(sessionCookie(j))
	return err == nil && constantEqual(c.Value, j.session)
}

// claimSession trades the session the web page got for the job (sent by the agent's
// page as a header) for an HttpOnly, SameSite=Strict cookie, once: a second claim,
// from another browser or process that saw the URL later, is refused.
func (s *Server) claimSession(w http.ResponseWriter, r *http.Request) {
	j, ok := s.agent.Job(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	if hasSession(r, j) {
		w.WriteHeader(http.StatusNoContent) // opened again in the same browser
		return
	}
	given := r.Header.Get(sessionHeader)
	j.mu.Lock()
	good := constantEqual(given, j.session) && !j.claimed
	if good {
		j.claimed = true
	}
	j.mu.Unlock()
	if !good {
		s.agent.log.Warn("agent: refused a job session that is wrong or was claimed already", "job", j.ID)
		http.Error(w, "agent: this signing page was opened already, or the link is wrong; open it again from the Kyso web page", http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie(j), Value: j.session, Path: "/", MaxAge: 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// withSession lets through only requests carrying the job's session cookie.
func (s *Server) withSession(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		j, ok := s.agent.Job(r.PathValue("id"))
		if !ok || !hasSession(r, j) {
			if ok {
				s.agent.log.Warn("agent: refused a job request without its session", "job", j.ID, "path", r.URL.Path)
			}
			http.Error(w, "agent: open the signing page from the Kyso web page", http.StatusForbidden)
			return
		}
		next(w, r)
	}
}

// events streams a job's progress to the agent's page as server-sent events.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	j, ok := s.agent.Job(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "no streaming", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	for {
		p, changed := j.Progress()
		b, _ := json.Marshal(progressSummary(p))
		fmt.Fprintf(w, "event: progress\ndata: %s\n\n", b)
		fl.Flush()
		if p.State == JobDone {
			return
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}

// progressSummary leaves out the requests' digests: watchers need the counts.
func progressSummary(p Progress) map[string]any {
	return map[string]any{"job_id": p.JobID, "state": p.State, "total": p.Total, "completed": p.Completed, "failed": p.Failed}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
