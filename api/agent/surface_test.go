package agent_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/internal/testpki"
)

// The agent's local surface against another process on the same PC (issue 13, item
// 9): it can reach 127.0.0.1 and forge any header, but it never sees the fragment of
// the URL the paired web page opens, nor the browser's cookies.

// other is a local process: plain HTTP, no cookies, any headers it likes.
func other(t *testing.T, method, u, origin, form string) (int, string) {
	t.Helper()
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, _ := http.NewRequest(method, u, body)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestJobListNotForOtherProcesses: the agent's index shows neither the jobs nor the
// tokens to a process without a job's session; the browser that opened the job sees
// both.
func TestJobListNotForOtherProcesses(t *testing.T) {
	p := testpki.Committed(t)
	k := startKyso(t, p)
	e := startAgent(t, newToken(t, p, "Kyso leader"), k)
	req := k.prepareDoc(t, corpusPDF(t), p.Leader, app.RoleApprove, "Về việc bí mật", nil)
	_, jobID, _ := e.createJob(t, req.ID)
	_, page := other(t, http.MethodGet, e.url+"/", "", "")
	if strings.Contains(page, jobID) || strings.Contains(page, "Nguyễn Văn A") || strings.Contains(page, k.srv.URL) {
		t.Fatalf("another process reads the jobs or tokens on the index:\n%s", page)
	}
	e.jobPage(t, jobID)
	if page := e.page(t, "/"); !strings.Contains(page, jobID) || !strings.Contains(page, "Nguyễn Văn A") {
		t.Fatalf("the browser that opened the job does not see it on the index:\n%s", page)
	}
}

// TestJobPagesNeedTheSession: a job's page, its events and its session are refused
// to a process that knows the job's id but not its session; the session is in the
// fragment of the URL handed to the web page, and is traded for a cookie once.
func TestJobPagesNeedTheSession(t *testing.T) {
	p := testpki.Committed(t)
	k := startKyso(t, p)
	e := startAgent(t, newToken(t, p, "Kyso leader"), k)
	req := k.prepareDoc(t, corpusPDF(t), p.Leader, app.RoleApprove, "Về việc bí mật", nil)
	_, jobID, raw := e.createJob(t, req.ID)
	status, page := other(t, http.MethodGet, e.url+"/jobs/"+jobID, "", "")
	if strings.Contains(page, "bí mật") || strings.Contains(page, `name="csrf"`) || strings.Contains(page, k.srv.URL) || status != http.StatusUnauthorized {
		t.Fatalf("another process reads the job's page: %d\n%s", status, page)
	}
	if !regexp.MustCompile(`"url":"[^"]*/jobs/` + jobID + `#session=[0-9a-f]{64}"`).Match(raw) {
		t.Fatalf("the job's URL carries no session in its fragment: %s", raw)
	}
	if status, _ := other(t, http.MethodGet, e.url+"/jobs/"+jobID+"/events", "", ""); status != http.StatusForbidden {
		t.Fatalf("another process follows the job's events: %d", status)
	}
	claim := func(session string) int {
		r, _ := http.NewRequest(http.MethodPost, e.url+"/jobs/"+jobID+"/session", nil)
		r.Header.Set("Origin", e.url)
		r.Header.Set("X-Kyso-Session", session)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := claim(strings.Repeat("0", 64)); s != http.StatusForbidden {
		t.Fatalf("a guessed session: %d", s)
	}
	if page := e.jobPage(t, jobID); !strings.Contains(page, "bí mật") || !strings.Contains(page, `name="csrf"`) {
		t.Fatalf("the browser that opened the job does not see it:\n%s", page)
	}
	e.mu.Lock()
	session := e.sessions[jobID]
	e.mu.Unlock()
	if s := claim(session); s != http.StatusForbidden {
		t.Fatalf("the session traded a second time (a process that read the URL later): %d", s)
	}
	if !strings.Contains(string(e.logs.Bytes()), "refused a job session") {
		t.Fatal("refused sessions are not logged")
	}
}

// TestForgedOriginCannotSpendPINTries: a local process that knows the job's id, and
// even its form token, posts wrong PINs with a forged Origin of the agent's own page:
// each is refused before the token is asked, the prompt is not locked for the person,
// and the token's counter is untouched.
func TestForgedOriginCannotSpendPINTries(t *testing.T) {
	p := testpki.Committed(t)
	k := startKyso(t, p)
	e := startAgent(t, newToken(t, p, "Kyso leader"), k)
	req := k.prepareDoc(t, corpusPDF(t), p.Leader, app.RoleApprove, "Tờ trình", nil)
	_, jobID, _ := e.createJob(t, req.ID)
	page := e.jobPage(t, jobID) // the strongest attacker: it has the form's csrf
	csrf, cert := csrfRE.FindStringSubmatch(page), certRE.FindStringSubmatch(page)
	if csrf == nil || cert == nil {
		t.Fatalf("no form:\n%s", page)
	}
	for i := range 5 {
		form := url.Values{"csrf": {csrf[1]}, "certificate": {cert[1]}, "pin": {fmt.Sprint(100000 + i)}}.Encode()
		status, body := other(t, http.MethodPost, e.url+"/jobs/"+jobID+"/confirm", e.url, form)
		if status != http.StatusForbidden {
			t.Fatalf("forged post %d: %d\n%s", i+1, status, body)
		}
	}
	if n := e.agent.LoginAttempts(); n != 0 {
		t.Fatalf("%d forged PINs reached the token", n)
	}
	assertTokenNotLocked(t, e)
	e.agent.Watcher().Poll()
	if toks, _ := e.agent.Watcher().Tokens(); toks[0].PINCountLow {
		t.Fatal("the token counted a wrong PIN")
	}
	if code, page := e.confirmForm(t, jobID, pin); code != http.StatusSeeOther {
		t.Fatalf("the person's right PIN after the forged posts: %d\n%s", code, page)
	}
	if prog := e.waitJob(t, jobID); prog.Completed != 1 || e.agent.LoginAttempts() != 1 {
		t.Fatalf("%+v after %d logins", prog, e.agent.LoginAttempts())
	}
}

// TestLockNeverSpendsMoreTokenTries: wrong PINs count per origin across its jobs, and
// per token across lockouts. After three wrong PINs the prompt locks; when the lock
// ends, the agent still refuses to try a PIN on the token (it has spent the three
// tries it allows itself) until the token shows it accepted a PIN since.
func TestLockNeverSpendsMoreTokenTries(t *testing.T) {
	p := testpki.Committed(t)
	k := startKyso(t, p)
	e := startAgent(t, newToken(t, p, "Kyso leader"), k)
	doc := corpusPDF(t)
	_, jobA, _ := e.createJob(t, k.prepareDoc(t, doc, p.Leader, app.RoleApprove, "A", nil).ID)
	_, jobB, _ := e.createJob(t, k.prepareDoc(t, doc, p.Leader, app.RoleApprove, "B", nil).ID)
	steps := []struct {
		job, pin string
		status   int
		words    string
		logins   int64
		later    time.Duration
	}{
		{jobA, "111111", http.StatusUnprocessableEntity, "Còn 2 lần thử", 1, 0},
		{jobA, "222222", http.StatusUnprocessableEntity, "Còn 1 lần thử", 2, 0},
		// Another job of the same origin does not start the count again.
		{jobB, "333333", http.StatusLocked, "Tạm khóa đến", 3, 0},
		{jobA, pin, http.StatusLocked, "Tạm khóa đến", 3, 0},
		// The lock ended: the token is still not tried, with a wrong PIN or a right one.
		{jobB, "444444", http.StatusLocked, "Thiết bị đã bị khóa hoặc", 3, 5*time.Minute + time.Second},
		{jobA, pin, http.StatusLocked, "Thiết bị đã bị khóa hoặc", 3, 6 * time.Hour},
	}
	for i, s := range steps {
		e.now.Add(s.later)
		code, page := e.confirmForm(t, s.job, s.pin)
		if code != s.status || !strings.Contains(page, s.words) {
			t.Fatalf("step %d: %d, want %d with %q:\n%s", i+1, code, s.status, s.words, page)
		}
		if n := e.agent.LoginAttempts(); n != s.logins {
			t.Fatalf("step %d: %d logins reached the token, want %d", i+1, n, s.logins)
		}
	}
	assertTokenNotLocked(t, e)
	// The holder checks the PIN with another program (the vendor's tool): the token
	// clears its count, and the agent tries it again.
	key, err := openKey(t, e.hsm, pin)
	if err != nil {
		t.Fatal(err)
	}
	key.(io.Closer).Close()
	if code, page := e.confirmForm(t, jobA, pin); code != http.StatusSeeOther {
		t.Fatalf("after the token accepted a PIN: %d\n%s", code, page)
	}
	if prog := e.waitJob(t, jobA); prog.Completed != 1 {
		t.Fatalf("%+v", prog)
	}
}

var pairCodeRE = regexp.MustCompile(`id="pairing-code">(\d{3}) (\d{3})<`)

// TestPairingAttemptsLimited: wrong pairing codes are counted for the whole agent, not
// per pairing: starting new pairings does not buy new tries. After five wrong codes in
// ten minutes pairing is refused (even with the right code) for ten minutes, and
// every wrong code is logged, without the code.
func TestPairingAttemptsLimited(t *testing.T) {
	p := testpki.Committed(t)
	e := newAgent(t, newToken(t, p, "Kyso leader"), nil)
	start := func() (id, code string) {
		t.Helper()
		resp, raw := e.call(t, http.MethodPost, "/api/pair", e.origin, "", map[string]string{"server": "https://kyso.example.vn", "api_key": "k"})
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("pair: %s %s", resp.Status, raw)
		}
		var started struct {
			ID  string `json:"pairing_id"`
			URL string `json:"confirm_url"`
		}
		_ = json.Unmarshal(raw, &started)
		c := pairCodeRE.FindStringSubmatch(getPage(t, started.URL))
		if c == nil {
			t.Fatal("no pairing code")
		}
		return started.ID, c[1] + c[2]
	}
	confirm := func(id, code string) int {
		t.Helper()
		resp, _ := e.call(t, http.MethodPost, "/api/pair/"+id+"/confirm", e.origin, "", map[string]string{"code": code})
		return resp.StatusCode
	}
	wrong := func(code string) string {
		var n int
		fmt.Sscan(code, &n)
		return fmt.Sprintf("%06d", (n+1)%1_000_000)
	}
	var codes []string
	for _, tries := range []int{3, 2} { // the first pairing ends after three
		id, code := start()
		codes = append(codes, code)
		for range tries {
			if s := confirm(id, wrong(code)); s != http.StatusForbidden {
				t.Fatalf("wrong code: %d", s)
			}
		}
	}
	resp, raw := e.call(t, http.MethodPost, "/api/pair", e.origin, "", map[string]string{"server": "https://kyso.example.vn", "api_key": "k"})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a sixth pairing after five wrong codes: %s %s", resp.Status, raw)
	}
	logs := string(e.logs.Bytes())
	if n := strings.Count(logs, "agent: wrong pairing code"); n != 5 {
		t.Fatalf("%d wrong codes logged, want 5:\n%s", n, logs)
	}
	for _, c := range codes {
		if regexp.MustCompile(`[= "]` + c + `[ "\n]`).MatchString(logs) {
			t.Fatalf("the code %s is in the log:\n%s", c, logs)
		}
	}
	e.now.Add(10*time.Minute + time.Second)
	id, code := start()
	if s := confirm(id, code); s != http.StatusOK {
		t.Fatalf("pairing after the lock: %d", s)
	}
}

// TestPairingCodesInParallel: wrong codes sent all at once are counted as they come:
// no more than five are ever checked before pairing locks.
func TestPairingCodesInParallel(t *testing.T) {
	p := testpki.Committed(t)
	e := newAgent(t, newToken(t, p, "Kyso leader"), nil)
	var ids []string
	for range 7 {
		resp, raw := e.call(t, http.MethodPost, "/api/pair", e.origin, "", map[string]string{"server": "https://kyso.example.vn", "api_key": "k"})
		var started struct {
			ID string `json:"pairing_id"`
		}
		if err := json.Unmarshal(raw, &started); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("pair: %s %s", resp.Status, raw)
		}
		ids = append(ids, started.ID)
	}
	statuses := make(chan int, 3*len(ids))
	var wg sync.WaitGroup
	for _, id := range ids {
		for i := range 3 {
			wg.Go(func() {
				body, _ := json.Marshal(map[string]string{"code": fmt.Sprintf("x%d", i)}) // never a code
				req, _ := http.NewRequest(http.MethodPost, e.url+"/api/pair/"+id+"/confirm", bytes.NewReader(body))
				req.Header.Set("Origin", e.origin)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			})
		}
	}
	wg.Wait()
	close(statuses)
	checked := 0
	for s := range statuses {
		if s == http.StatusForbidden {
			checked++
		}
	}
	if checked != 5 {
		t.Fatalf("%d wrong codes checked, want 5 before the lock", checked)
	}
}
