package agent_test

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/api/agent"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/wire"
)

// TestConfigFile: the configuration is written 0600 in a 0700 directory; one others
// can read is repaired when it holds no API key and refused with the chmod command
// when it does, or when others can write it; it takes exact origins only.
func TestConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kyso-agent", "config.yaml")
	cfg, err := agent.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8789" || cfg.MaxPINFailures != 3 || cfg.PINLockout.Minutes() != 5 {
		t.Fatalf("defaults: %+v", cfg)
	}
	cfg.AllowedOrigins = []string{"https://Kyso.Example.vn"}
	cfg.Modules = []agent.Module{{Path: "/usr/lib/softhsm/libsofthsm2.so"}}
	if err := cfg.Save(); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != want {
			t.Fatalf("%s: %v %v, want %v", p, st.Mode().Perm(), err, want)
		}
	}
	again, err := agent.LoadConfig(path)
	if err != nil || len(again.AllowedOrigins) != 1 || again.AllowedOrigins[0] != "https://kyso.example.vn" {
		t.Fatalf("reloaded: %+v %v", again, err)
	}
	// Readable by others with no API key in it (written by hand): repaired to 0600.
	_ = os.Chmod(path, 0o644)
	if cfg, err := agent.LoadConfig(path); err != nil || cfg.Repaired() != 0o644 {
		t.Fatalf("a hand-written 0644 configuration: %v", err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("not repaired: %v", st.Mode().Perm())
	}
	// Writable by others: refused, whatever it holds; readable with API keys: refused.
	// Each refusal gives the exact command.
	_ = os.Chmod(path, 0o664)
	if _, err := agent.LoadConfig(path); !errors.Is(err, agent.ErrConfig) || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Fatalf("a group-writable configuration: %v", err)
	}
	raw, _ := os.ReadFile(path)
	_ = os.WriteFile(path, append(raw, "pairings: [{server: \"https://k\", origin: \"https://k\", api_key: secret-key, token_sha256: x}]\n"...), 0o600)
	_ = os.Chmod(path, 0o640)
	_, err = agent.LoadConfig(path)
	if !errors.Is(err, agent.ErrConfig) || !strings.Contains(err.Error(), "chmod 600 "+path) || strings.Contains(err.Error(), "secret-key") {
		t.Fatalf("a group-readable configuration with an API key: %v", err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Fatalf("a configuration with keys was changed: %v", st.Mode().Perm())
	}
	for _, bad := range []string{"*", "https://*.example.vn", "kyso.example.vn", "https://kyso.example.vn/app", "ftp://x"} {
		p := filepath.Join(t.TempDir(), "c.yaml")
		_ = os.WriteFile(p, []byte(fmt.Sprintf("allowed_origins: [%q]\n", bad)), 0o600)
		if _, err := agent.LoadConfig(p); !errors.Is(err, agent.ErrConfig) {
			t.Errorf("origin %q accepted: %v", bad, err)
		}
	}
	if s := fmt.Sprint(agent.Pairing{Server: "https://k", APIKey: "secret-key"}); strings.Contains(s, "secret-key") {
		t.Errorf("a printed pairing shows its API key: %s", s)
	}
}

// TestPairing: a page of an allowed origin pairs once the person types the code the
// agent's page shows; three wrong codes end the attempt; the pairing is saved with
// the API key and the token's hash only, in a 0600 file; a token from another origin
// is not accepted.
func TestPairing(t *testing.T) {
	p := testpki.Committed(t)
	k := startKyso(t, p)
	e := startAgent(t, newToken(t, p, "Kyso leader"), k) // paired once by the fixture

	for _, c := range []struct {
		server string
		status int
	}{
		{"http://kyso.example.vn", http.StatusBadRequest}, // the API key would travel in clear
		{"kyso.example.vn", http.StatusBadRequest},
		{"https://kyso.example.vn", http.StatusCreated},
		{"http://localhost:8080", http.StatusCreated},
	} {
		if resp, raw := e.call(t, http.MethodPost, "/api/pair", e.origin, "", map[string]string{"server": c.server, "api_key": "k"}); resp.StatusCode != c.status {
			t.Errorf("pairing with %s: %s %s, want %d", c.server, resp.Status, raw, c.status)
		}
	}
	resp, raw := e.call(t, http.MethodPost, "/api/pair", e.origin, "", map[string]string{"server": k.srv.URL, "api_key": "second-key"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("%s %s", resp.Status, raw)
	}
	var started struct {
		ID string `json:"pairing_id"`
	}
	_ = json.Unmarshal(raw, &started)
	for i := range 3 {
		resp, _ := e.call(t, http.MethodPost, "/api/pair/"+started.ID+"/confirm", e.origin, "", map[string]string{"code": "000000x"})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("wrong code %d: %s", i+1, resp.Status)
		}
	}
	if resp, _ := e.call(t, http.MethodPost, "/api/pair/"+started.ID+"/confirm", e.origin, "", map[string]string{"code": "123456"}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("after three wrong codes the pairing is still open: %s", resp.Status)
	}
	raw, err := os.ReadFile(e.cfg.Path())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), apiKey) || strings.Contains(string(raw), e.token) || !strings.Contains(string(raw), "token_sha256") {
		t.Fatalf("the saved pairing:\n%s", raw)
	}
	if st, _ := os.Stat(e.cfg.Path()); st.Mode().Perm() != 0o600 {
		t.Fatalf("configuration mode %v", st.Mode().Perm())
	}
	if resp, _ := e.call(t, http.MethodGet, "/api/tokens", e.origin, e.token, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("paired token refused: %s", resp.Status)
	}
	if resp, _ := e.call(t, http.MethodGet, "/api/tokens", e.origin, e.token+"0", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong pairing token: %s", resp.Status)
	}
}

// TestPageLanguageAndHost: the page is Vietnamese by default and English with
// ?lang=en; a Host other than loopback (DNS rebinding) is refused.
func TestPageLanguageAndHost(t *testing.T) {
	p := testpki.Committed(t)
	k := startKyso(t, p)
	e := startAgent(t, newToken(t, p, "Kyso leader"), k)
	// The tokens show in the browser that opened a job's page (its session cookie).
	prepared := k.prepareDoc(t, corpusPDF(t), p.Leader, app.RoleApprove, "Công văn", nil)
	_, jobID, _ := e.createJob(t, prepared.ID)
	e.jobPage(t, jobID)
	for _, c := range []struct{ query, want string }{{"", "Thiết bị ký số"}, {"?lang=en", "Signing tokens"}, {"?lang=xx", "Thiết bị ký số"}} {
		if page := e.page(t, "/"+c.query); !strings.Contains(page, c.want) || !strings.Contains(page, "Nguyễn Văn A") {
			t.Errorf("page %q lacks %q", c.query, c.want)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, e.url+"/", nil)
	req.Host = "rebind.example:" + strings.Split(e.url, ":")[2]
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("Host %s: %s", req.Host, resp.Status)
	}
}

// TestSignerOptsMatchService: the agent's reading of a request's algorithm is the
// wire contract's, which the server writes.
func TestSignerOptsMatchService(t *testing.T) {
	for _, alg := range []string{"RSA-PKCS1v15-SHA-256", "RSA-PKCS1v15-SHA-384", "RSA-PKCS1v15-SHA-512", "RSA-PSS-SHA-256",
		"RSA-PSS-SHA-512", "ECDSA-SHA-256", "ECDSA-SHA-384", "ECDSA-SHA-512", "RSA-PSS-SHA-1", "DSA-SHA-256", ""} {
		got, gerr := agent.SignerOpts(alg)
		want, werr := wire.SignerOpts(alg)
		if (gerr == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: agent %v %v, service %v %v", alg, got, gerr, want, werr)
		}
		if gerr == nil && got.HashFunc() == crypto.Hash(0) {
			t.Errorf("%q: no hash", alg)
		}
	}
}
