package agent_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/kyso-vn/kyso/api/agent"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/internal/testpki"
)

// pairAs pairs the web page for person, with key, and returns the pairing token.
func (e *agentEnv) pairAs(t *testing.T, server, key, person string) string {
	t.Helper()
	resp, raw := e.call(t, http.MethodPost, "/api/pair", e.origin, "", map[string]string{"server": server, "api_key": key, "person": person})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("pair %s: %s %s", person, resp.Status, raw)
	}
	var started struct {
		ID  string `json:"pairing_id"`
		URL string `json:"confirm_url"`
	}
	_ = json.Unmarshal(raw, &started)
	page := getPage(t, started.URL)
	m := codeRE.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, `id="pairing-person">`+person+`<`) {
		t.Fatalf("the pairing page shows no code or not the person:\n%s", page)
	}
	resp, raw = e.call(t, http.MethodPost, "/api/pair/"+started.ID+"/confirm", e.origin, "", map[string]string{"code": m[1] + m[2]})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pair confirm: %s %s", resp.Status, raw)
	}
	var done struct {
		Token, Person string
	}
	_ = json.Unmarshal(raw, &done)
	if done.Person != person {
		t.Fatalf("paired for %q, want %q", done.Person, person)
	}
	return done.Token
}

// asPerson calls the agent's API with a pairing token, naming the person signed in.
func (e *agentEnv) asPerson(t *testing.T, method, path, token, person string, body any) int {
	t.Helper()
	req, _ := http.NewRequest(method, e.url+path, nil)
	if body != nil {
		b, _ := json.Marshal(body)
		req, _ = http.NewRequest(method, e.url+path, strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", e.origin)
	req.Header.Set("Authorization", "Bearer "+token)
	if person != "" {
		req.Header.Set("X-Kyso-Person", person)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestPairingsPerPerson: on a shared PC two people pair the agent with the same
// server from the same web page; both pairings are kept, each token works for its
// own person only, a person pairing again replaces only their own pairing, and a job
// listed through one person's pairing is not another's.
func TestPairingsPerPerson(t *testing.T) {
	p := testpki.Committed(t)
	k := startKyso(t, p)
	e := newAgent(t, newToken(t, p, "Kyso leader"), k)
	a := e.pairAs(t, k.srv.URL, apiKey, "nguyen.van.a")
	b := e.pairAs(t, k.srv.URL, "key-of-tran-thi-b", "tran.thi.b")
	for _, c := range []struct {
		name, token, person string
		want                int
	}{
		{"A", a, "", http.StatusOK},
		{"A as A", a, "nguyen.van.a", http.StatusOK},
		{"B as B", b, "tran.thi.b", http.StatusOK},
		{"A's token, B signed in", a, "tran.thi.b", http.StatusForbidden},
		{"B's token, A signed in", b, "nguyen.van.a", http.StatusForbidden},
	} {
		if got := e.asPerson(t, http.MethodGet, "/api/tokens", c.token, c.person, nil); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	cfg, err := agent.LoadConfig(e.cfg.Path())
	if err != nil || len(cfg.Pairings) != 2 || cfg.Pairings[0].Person != "nguyen.van.a" || cfg.Pairings[1].Person != "tran.thi.b" {
		t.Fatalf("saved pairings: %v %v", cfg.Pairings, err)
	}

	// A job listed through A's pairing is A's.
	req := k.prepareDoc(t, corpusPDF(t), p.Leader, app.RoleApprove, "Công văn thử", nil)
	resp, raw := e.call(t, http.MethodPost, "/api/jobs", e.origin, a, map[string]any{"request_ids": []string{req.ID}})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("job: %s %s", resp.Status, raw)
	}
	var job struct {
		JobID string `json:"job_id"`
	}
	_ = json.Unmarshal(raw, &job)
	if got := e.asPerson(t, http.MethodGet, "/api/jobs/"+job.JobID, a, "", nil); got != http.StatusOK {
		t.Fatalf("A's job for A: %d", got)
	}
	if got := e.asPerson(t, http.MethodGet, "/api/jobs/"+job.JobID, b, "", nil); got != http.StatusNotFound {
		t.Fatalf("A's job for B: %d", got)
	}

	// A pairs again (a new API key): A's old token goes, B's stays.
	a2 := e.pairAs(t, k.srv.URL, apiKey+"-renewed", "nguyen.van.a")
	for token, want := range map[string]int{a: http.StatusUnauthorized, a2: http.StatusOK, b: http.StatusOK} {
		if got := e.asPerson(t, http.MethodGet, "/api/tokens", token, "", nil); got != want {
			t.Errorf("after A paired again: %d, want %d", got, want)
		}
	}
	raw, _ = os.ReadFile(e.cfg.Path())
	if strings.Count(string(raw), "person: nguyen.van.a") != 1 || strings.Count(string(raw), "person: tran.thi.b") != 1 {
		t.Fatalf("saved pairings:\n%s", raw)
	}
	var who struct{ Person, Server string }
	resp, raw = e.call(t, http.MethodGet, "/api/pairing", e.origin, b, nil)
	if _ = json.Unmarshal(raw, &who); resp.StatusCode != http.StatusOK || who.Person != "tran.thi.b" || who.Server != k.srv.URL {
		t.Fatalf("GET /api/pairing: %s %s", resp.Status, raw)
	}
	// The WebSocket's hello names the person the same way.
	for person, want := range map[string]string{"tran.thi.b": "tokens", "nguyen.van.a": "error"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"/api/ws",
			&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {e.origin}}})
		if err != nil {
			t.Fatal(err)
		}
		_ = wsjson.Write(ctx, ws, map[string]string{"type": "hello", "token": b, "person": person})
		var m struct{ Type string }
		if err := wsjson.Read(ctx, ws, &m); err != nil || m.Type != want {
			t.Errorf("WebSocket hello with B's token as %s: %q %v, want %q", person, m.Type, err, want)
		}
		ws.CloseNow()
		cancel()
	}
	if resp, _ := e.call(t, http.MethodPost, "/api/pair", e.origin, "", map[string]string{"server": k.srv.URL, "api_key": "k", "person": "a\nb"}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a person with a newline: %s", resp.Status)
	}
}
