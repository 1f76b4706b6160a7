package office

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// The session's limits: a person idle for half an hour signs in again, and nobody
// stays signed in past a working day.
const (
	idleTimeout     = 30 * time.Minute
	absoluteTimeout = 12 * time.Hour
	cookieName      = "kyso_vp"
	cookiePath      = "/van-phong/"
	// failedSignIns wrong keys from one address within signInWindow lock that address
	// out of the sign-in form until the window has passed.
	failedSignIns = 10
	signInWindow  = 15 * time.Minute
	// maxSessions bounds the memory sessions take (about 200 bytes each).
	maxSessions = 100_000
)

// session is a signed-in person. It holds the hash of their API key, never the key:
// every request looks the client up again by it, so a revoked key is out at once.
type session struct {
	keyHash  string
	csrf     string
	created  time.Time
	lastSeen time.Time
}

// sessions are kept in this process's memory: several replicas behind a load balancer
// need sticky sessions (or a person signs in again on another replica).
type sessions struct {
	mu     sync.Mutex
	byID   map[string]*session
	now    func() time.Time
	failed map[string][]time.Time // sign-in failures per address
	lastGC time.Time
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{byID: map[string]*session{}, failed: map[string][]time.Time{}, now: now}
}

// randomID is 256 bits from crypto/rand, base64url.
func randomID() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session; none when maxSessions are open.
func (ss *sessions) create(keyHash string) (string, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	ss.gcLocked(now)
	if len(ss.byID) >= maxSessions {
		return "", false
	}
	id := randomID()
	s := &session{keyHash: keyHash, csrf: randomID(), created: now, lastSeen: now}
	ss.byID[id] = s
	return id, true
}

// get is the live session of id, its idle time renewed; nil when there is none or it
// has expired.
func (ss *sessions) get(id string) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.byID[id]
	if s == nil {
		return nil
	}
	now := ss.now()
	if now.Sub(s.lastSeen) > idleTimeout || now.Sub(s.created) > absoluteTimeout {
		delete(ss.byID, id)
		return nil
	}
	s.lastSeen = now
	cp := *s
	return &cp
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	delete(ss.byID, id)
	ss.mu.Unlock()
}

// gcLocked drops expired sessions and old failures, at most once a minute.
func (ss *sessions) gcLocked(now time.Time) {
	if now.Sub(ss.lastGC) < time.Minute {
		return
	}
	ss.lastGC = now
	for id, s := range ss.byID {
		if now.Sub(s.lastSeen) > idleTimeout || now.Sub(s.created) > absoluteTimeout {
			delete(ss.byID, id)
		}
	}
	for a, ts := range ss.failed {
		if len(ts) == 0 || now.Sub(ts[len(ts)-1]) > signInWindow {
			delete(ss.failed, a)
		}
	}
}

// locked reports whether addr has failed too many sign-ins lately.
func (ss *sessions) locked(addr string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.recentLocked(addr)) >= failedSignIns
}

func (ss *sessions) recentLocked(addr string) []time.Time {
	now := ss.now()
	ts := ss.failed[addr]
	for len(ts) > 0 && now.Sub(ts[0]) > signInWindow {
		ts = ts[1:]
	}
	ss.failed[addr] = ts
	return ts
}

func (ss *sessions) fail(addr string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.failed[addr] = append(ss.recentLocked(addr), ss.now())
}

// setCookie sends the session id: HttpOnly (no script reads it), SameSite=Strict (no
// other site's page sends it), Secure over TLS, only under /van-phong/.
func setCookie(w http.ResponseWriter, r *http.Request, id string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: cookiePath, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// sameOrigin checks a POST's Origin (or, without one, its Referer) names this host.
// The host alone is compared: behind a proxy that ends TLS the request's scheme is not
// the browser's. A POST with neither header is refused: every browser this serves
// sends Origin on a POST.
func sameOrigin(r *http.Request) bool {
	from := r.Header.Get("Origin")
	if from == "" || from == "null" {
		from = r.Header.Get("Referer")
	}
	if from == "" {
		return false
	}
	u, err := url.Parse(from)
	return err == nil && u.Host != "" && u.Host == r.Host
}
