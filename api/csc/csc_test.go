package csc_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kyso-vn/kyso/api/csc"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/hsm/hsmtest"
	"github.com/kyso-vn/kyso/hsm/remote"
	"github.com/kyso-vn/kyso/hsm/remote/remotetest"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
)

const (
	keyAgencyA = "kyso_agency-a-test-key"
	keyAgencyB = "kyso_agency-b-test-key"
)

// apiKeys is an Authorizer over fixed API keys and grants.
type apiKeys struct {
	principals map[string]csc.Principal
	grants     map[string][]string // principal ID → credential IDs
}

func (a *apiKeys) Authenticate(_ context.Context, key string) (csc.Principal, error) {
	p, ok := a.principals[key]
	if !ok {
		return csc.Principal{}, errors.New("unknown API key")
	}
	return p, nil
}

func (a *apiKeys) MayUseCredential(p csc.Principal, credentialID string) bool {
	return slices.Contains(a.grants[p.ID], credentialID)
}

// tokenKeys are the SoftHSM2 keys by credential ID.
type tokenKeys map[string]hsm.Key

func (m tokenKeys) Credentials(context.Context) ([]string, error) {
	var ids []string
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

func (m tokenKeys) Key(_ context.Context, id string) (hsm.Key, error) {
	k, ok := m[id]
	if !ok {
		return nil, csc.ErrUnknownCredential
	}
	return k, nil
}

// phone approves out of band: the decision and its delay come from the description.
// Its time is clk's when set (the client's, see clockedKey), else the system's.
type phone struct {
	mu       sync.Mutex
	requests map[string]phoneRequest
	asked    atomic.Int64
	clk      *remotetest.Clock
}

func (ph *phone) now() time.Time {
	if ph.clk != nil {
		return ph.clk.Now()
	}
	return time.Now()
}

// realBound is the test's context with a real-time bound: a wait that sleeps on the
// system clock instead of the test's Clock fails here in seconds rather than at the
// go test timeout.
func realBound(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// clockedKey is credential of apiKey's client with the client, its back-off and its
// tickets in clk's time.
func (f *fixture) clockedKey(t *testing.T, apiKey, credential string, clk *remotetest.Clock, b remote.Backoff) *remote.Key {
	t.Helper()
	c := f.client(apiKey)
	c.Now = clk.Now
	k, err := c.Key(context.Background(), credential)
	if err != nil {
		t.Fatal(err)
	}
	b.Clock = clk
	k.Backoff = b
	return k
}

type phoneRequest struct {
	at          time.Time
	description string
}

func (ph *phone) Request(_ context.Context, _ csc.Principal, _, description string, _ int) (string, error) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	if ph.requests == nil {
		ph.requests = map[string]phoneRequest{}
	}
	id := fmt.Sprintf("approval-%d", ph.asked.Add(1))
	ph.requests[id] = phoneRequest{at: ph.now(), description: description}
	return id, nil
}

func (ph *phone) Check(_ context.Context, id string) error {
	ph.mu.Lock()
	r, ok := ph.requests[id]
	ph.mu.Unlock()
	if !ok {
		return errors.New("no such approval")
	}
	waited := ph.now().Sub(r.at)
	switch {
	case strings.HasPrefix(r.description, "refuse") && waited > 500*time.Millisecond:
		return remote.ErrRefused
	case strings.HasPrefix(r.description, "ignore"):
		if waited > 2*time.Second {
			return remote.ErrTimeout
		}
		return remote.ErrPending
	case waited > time.Second:
		return nil
	}
	return remote.ErrPending
}

type fixture struct {
	pki    *testpki.TestPKI
	srv    *httptest.Server
	calls  sync.Map // method → *atomic.Int64
	secret []byte
}

func (f *fixture) count(method string) int64 {
	v, ok := f.calls.Load(method)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

// start puts the test PKI's organisation (RSA 3072) and personal EC keys on a SoftHSM2
// token with their chain, and serves them as CSC credentials "org" and "ec"; agency A
// may use both, agency B only "ec".
func start(t *testing.T, o csc.Options) *fixture {
	t.Helper()
	p, err := testpki.Load(testenv.TestPKIDir())
	if err != nil {
		t.Fatal(err)
	}
	h := testenv.NewSoftHSM(t, "csc", "2468-pin")
	for _, k := range []struct {
		file, label, id string
		cert            *x509.Certificate
	}{{"org.key", "org", "01", p.Org.Cert}, {"personal-ec.key", "ec", "02", p.PersonalEC.Cert}} {
		pemKey, err := os.ReadFile(p.Path(k.file))
		if err != nil {
			t.Fatal(err)
		}
		h.ImportKey(t, pemKey, k.label, k.id)
		h.ImportCert(t, k.cert.Raw, k.label, k.id)
	}
	h.ImportCert(t, p.Org.Chain[0].Raw, "sub-ca", "10")
	h.ImportCert(t, p.Org.Chain[1].Raw, "root-ca", "11")
	keys := tokenKeys{}
	for id, label := range map[string]string{"org": "org", "ec": "ec"} {
		k, err := hsm.OpenPKCS11(context.Background(), h.URI(label, ""), hsm.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k.Close() })
		keys[id] = k
	}
	f := &fixture{pki: p, secret: bytes.Repeat([]byte("s"), 32)}
	o.Keys = keys
	o.Auth = &apiKeys{
		principals: map[string]csc.Principal{keyAgencyA: {ID: "a", Name: "Sở Nội vụ"}, keyAgencyB: {ID: "b", Name: "UBND xã"}},
		grants:     map[string][]string{"a": {"org", "ec"}, "b": {"ec"}},
	}
	o.Secret = f.secret
	handler, err := csc.New(o)
	if err != nil {
		t.Fatal(err)
	}
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, _ := f.calls.LoadOrStore(strings.TrimPrefix(r.URL.Path, "/"), new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
		handler.ServeHTTP(w, r)
	})
	mux := http.NewServeMux()
	mux.Handle("/csc/v2/", http.StripPrefix("/csc/v2", counted))
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) client(apiKey string) *remote.CSCClient {
	return &remote.CSCClient{BaseURL: f.srv.URL + "/csc/v2", ClientID: "agency", ClientSecret: hsm.NewSecret(apiKey), HTTPClient: f.srv.Client()}
}

// TestCSCClientAgainstKyso: Kyso's own CSC client drives Kyso's CSC service over TLS
// with OAuth2 client credentials, and the remote key passes the hsm conformance suite
// (every algorithm, concurrency, bad input, cancellation) for an RSA and an EC key.
func TestCSCClientAgainstKyso(t *testing.T) {
	f := start(t, csc.Options{})
	ctx := context.Background()
	c := f.client(keyAgencyA)
	info, err := c.Info(ctx)
	if err != nil || info.Specs != csc.Specs || !slices.Contains(info.Methods, "signatures/signHash") {
		t.Fatalf("info = %+v, %v", info, err)
	}
	ids, err := c.ListCredentials(ctx, "")
	if err != nil || !slices.Equal(ids, []string{"ec", "org"}) {
		t.Fatalf("credentials/list = %v, %v", ids, err)
	}
	if ids, _ := f.client(keyAgencyB).ListCredentials(ctx, ""); !slices.Equal(ids, []string{"ec"}) {
		t.Errorf("agency B lists %v, want only ec", ids)
	}
	for _, id := range []string{"org", "ec"} {
		t.Run(id, func(t *testing.T) {
			k, err := c.Key(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(k.Chain()) != 2 {
				t.Errorf("credentials/info gave %d chain certificates, want 2", len(k.Chain()))
			}
			hsmtest.RunConformance(t, func(t *testing.T) hsm.Key { return k })
		})
	}
	// One token for each of the two clients, reused for the hundreds of calls after.
	if n := f.count("oauth2/token"); n != 2 {
		t.Errorf("%d token requests, want 2: a token should be reused", n)
	}
}

// TestCSCAuthorizationRules: what a client may not do is refused with the error a
// caller branches on.
func TestCSCAuthorizationRules(t *testing.T) {
	f := start(t, csc.Options{})
	ctx := context.Background()
	d := sha256.Sum256([]byte("rules"))
	req := remote.Request{ID: "r1", Holder: "org", Digests: [][]byte{d[:]}, Hash: crypto.SHA256}
	cases := []struct {
		name   string
		client *remote.CSCClient
		req    remote.Request
		want   error
	}{
		{"unknown API key", f.client("kyso_nobody"), req, remote.ErrProviderRejected},
		{"credential not granted", f.client(keyAgencyB), req, remote.ErrUnknownHolder},
		{"no such credential", f.client(keyAgencyA), remote.Request{ID: "r2", Holder: "nope", Digests: req.Digests, Hash: crypto.SHA256}, remote.ErrUnknownHolder},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.client.Submit(ctx, c.req)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if strings.Contains(err.Error(), keyAgencyA) || strings.Contains(err.Error(), keyAgencyB) {
				t.Errorf("error shows an API key: %v", err)
			}
		})
	}

	t.Run("SAD bound to its hashes", func(t *testing.T) {
		c := f.client(keyAgencyA)
		sad, _, err := c.Authorize(ctx, req)
		if err != nil || sad == "" {
			t.Fatalf("authorize: %q, %v", sad, err)
		}
		other := sha256.Sum256([]byte("other"))
		if _, err := c.SignHash(ctx, remote.Request{ID: "r3", Holder: "org", Digests: [][]byte{other[:]}, Hash: crypto.SHA256}, sad); !errors.Is(err, remote.ErrProviderRejected) {
			t.Errorf("signing another hash with the SAD: %v", err)
		}
		if _, err := f.client(keyAgencyB).SignHash(ctx, remote.Request{ID: "r4", Holder: "ec", Digests: req.Digests, Hash: crypto.SHA256}, sad); err == nil {
			t.Errorf("agency B signed with agency A's SAD")
		}
		if _, err := c.SignHash(ctx, req, sad[:len(sad)-2]+"AA"); !errors.Is(err, remote.ErrProviderRejected) {
			t.Errorf("forged SAD: %v", err)
		}
		if sigs, err := c.SignHash(ctx, req, sad); err != nil || len(sigs) != 1 {
			t.Errorf("the SAD's own hash: %v", err)
		}
	})

	t.Run("SAD expires", func(t *testing.T) {
		clock := time.Now()
		f := start(t, csc.Options{SADLifetime: time.Minute, Now: func() time.Time { return clock }})
		c := f.client(keyAgencyA)
		sad, _, err := c.Authorize(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(2 * time.Minute)
		if _, err := c.SignHash(ctx, req, sad); !errors.Is(err, remote.ErrTimeout) {
			t.Errorf("expired SAD: %v, want ErrTimeout", err)
		}
	})
}

// TestCSCClientSpeaksV1: against a service whose info says CSC 1.0.4.0 the client
// sends v1 names (hash, hashAlgo) and no v2 ones; Kyso's service, fronted here as that
// v1 service, accepts them and the signature verifies.
func TestCSCClientSpeaksV1(t *testing.T) {
	f := start(t, csc.Options{})
	var v2Names, v1Names atomic.Int64
	front := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/csc/v1/info" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"specs":"1.0.4.0","name":"v1 RSSP","methods":["credentials/authorize","signatures/signHash"]}`))
			return
		}
		body, _ := io.ReadAll(r.Body)
		var fields map[string]any
		_ = json.Unmarshal(body, &fields)
		if _, ok := fields["hashes"]; ok {
			v2Names.Add(1)
		}
		if _, ok := fields["hashAlgorithmOID"]; ok {
			v2Names.Add(1)
		}
		if _, ok := fields["hash"]; ok {
			v1Names.Add(1)
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, f.srv.URL+"/csc/v2"+strings.TrimPrefix(r.URL.Path, "/csc/v1"), bytes.NewReader(body))
		if err != nil {
			t.Error(err)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	defer front.Close()
	c := &remote.CSCClient{BaseURL: front.URL + "/csc/v1", ClientSecret: hsm.NewSecret(keyAgencyA), HTTPClient: front.Client()}
	k, err := c.Key(context.Background(), "org")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA512} {
		d := hsmtest.Digest(t, h)
		sig, err := k.SignContext(context.Background(), d, h)
		if err != nil {
			t.Fatal(err)
		}
		if err := hsmtest.Verify(f.pki.Org.Cert.PublicKey, d, sig, h); err != nil {
			t.Fatal(err)
		}
	}
	if v2Names.Load() != 0 || v1Names.Load() != 4 {
		t.Errorf("%d requests with v1 names, %d v2 fields; want 4 (authorize and signHash, twice) and 0", v1Names.Load(), v2Names.Load())
	}
}

// TestCSCTokenRequests: oauth2/token takes the client credentials as a form, as HTTP
// Basic or as JSON, and refuses other grants and unknown keys without echoing them.
func TestCSCTokenRequests(t *testing.T) {
	f := start(t, csc.Options{})
	cases := []struct {
		name, contentType, body string
		basic                   bool
		status                  int
		wantErr                 string
	}{
		{"form", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=a&client_secret=" + keyAgencyA, false, 200, ""},
		{"basic", "application/x-www-form-urlencoded", "grant_type=client_credentials", true, 200, ""},
		{"json", "application/json", `{"grant_type":"client_credentials","client_id":"a","client_secret":"` + keyAgencyA + `"}`, false, 200, ""},
		{"password grant", "application/x-www-form-urlencoded", "grant_type=password&client_secret=" + keyAgencyA, false, 400, "unsupported_grant_type"},
		{"unknown key", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_secret=kyso_guess", false, 401, "invalid_client"},
		{"broken json", "application/json", `{"grant_type":`, false, 400, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/csc/v2/oauth2/token", strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", c.contentType)
			if c.basic {
				req.SetBasicAuth("a", keyAgencyA)
			}
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&out)
			if resp.StatusCode != c.status || (c.wantErr != "" && out["error"] != c.wantErr) {
				t.Fatalf("%d %v, want %d %s", resp.StatusCode, out, c.status, c.wantErr)
			}
			if c.status == 200 && (out["token_type"] != "Bearer" || out["access_token"] == "") {
				t.Errorf("token answer %v", out)
			}
			if c.status != 200 && strings.Contains(fmt.Sprint(out), "kyso_") {
				t.Errorf("error answer echoes the secret: %v", out)
			}
		})
	}
}

// TestCSCAsynchronousApproval: with an approver, authorize answers 202 and a handle;
// the holder approves after 1 s, refuses, or never answers, and a stored ticket
// resumes in a new client.
func TestCSCAsynchronousApproval(t *testing.T) {
	// The phone and the client live in clk's time, which advances when the wait sleeps.
	clk := remotetest.NewClock(time.Time{}, 1)
	ph := &phone{clk: clk}
	f := start(t, csc.Options{Approver: ph, ApprovalLifetime: 2 * time.Second})
	ctx := realBound(t)
	fast := remote.Backoff{First: 300 * time.Millisecond, Interval: 200 * time.Millisecond, Max: 400 * time.Millisecond, Grace: 2 * time.Second}
	// In clk's time, exact: polls at 0.3, 0.5, 0.9, 1.3, 1.7, 2.1 s; the phone approves
	// after 1 s, refuses after 0.5 s, gives up after 2 s.
	cases := []struct {
		text     string
		want     error
		min, max time.Duration
	}{
		{"approve", nil, 1300 * time.Millisecond, 1300 * time.Millisecond},
		{"refuse", remote.ErrRefused, 900 * time.Millisecond, 900 * time.Millisecond},
		{"ignore", remote.ErrTimeout, 2100 * time.Millisecond, 2100 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			k := f.clockedKey(t, keyAgencyA, "org", clk, fast)
			k.DisplayText = c.text
			d := sha256.Sum256([]byte(c.text))
			start := clk.Now()
			_, err := k.SignContext(ctx, d[:], crypto.SHA256)
			took := clk.Since(start)
			if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if took < c.min || took > c.max {
				t.Errorf("took %v, want %v..%v", took, c.min, c.max)
			}
			t.Logf("%v after %v", err, took.Round(time.Millisecond))
		})
	}

	t.Run("resume", func(t *testing.T) {
		k := f.clockedKey(t, keyAgencyA, "ec", clk, remote.Backoff{First: time.Minute})
		// The first process goes away once the ticket is stored, before its first poll.
		short, cancel := context.WithCancel(ctx)
		var stored []byte
		k.OnSubmit = func(_ context.Context, tk remote.Ticket) (err error) {
			stored, err = json.Marshal(tk)
			cancel()
			return err
		}
		k.DisplayText = "approve"
		d := sha256.Sum256([]byte("resume"))
		polls := f.count("credentials/authorizeCheck")
		_, err := k.SignContext(short, d[:], crypto.SHA256)
		if !errors.Is(err, context.Canceled) || strings.Contains(string(stored), "SAD") || f.count("credentials/authorizeCheck") != polls {
			t.Fatalf("first process: %v; stored %s", err, stored)
		}
		var tk remote.Ticket
		if err := json.Unmarshal(stored, &tk); err != nil {
			t.Fatal(err)
		}
		fresh := f.client(keyAgencyA)
		fresh.Now = clk.Now
		resumed := fast
		resumed.Clock = clk
		res, err := remote.Wait(ctx, fresh, tk, resumed)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := remote.Signatures(res, tk.Request, f.pki.PersonalEC.Cert.PublicKey); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCSCBatchOneApproval: CSC signs a batch with one SAD (one approval on the phone)
// up to multisign, and splits a larger batch with progress after each part.
func TestCSCBatchOneApproval(t *testing.T) {
	clk := remotetest.NewClock(time.Time{}, 1)
	ph := &phone{clk: clk}
	f := start(t, csc.Options{Approver: ph, MultiSign: 4})
	k := f.clockedKey(t, keyAgencyA, "org", clk, remote.Backoff{First: 1100 * time.Millisecond, Interval: 200 * time.Millisecond})
	k.DisplayText = "approve"
	var digests [][]byte
	for i := range 10 {
		d := sha256.Sum256([]byte{byte(i)})
		digests = append(digests, d[:])
	}
	var progress []int
	sigs, err := k.SignDigests(realBound(t), digests, &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash}, func(done, _ int) { progress = append(progress, done) })
	if err != nil || len(sigs) != 10 {
		t.Fatalf("%d signatures: %v", len(sigs), err)
	}
	if n := ph.asked.Load(); n != 3 {
		t.Errorf("%d approvals for 10 hashes with multisign 4, want 3", n)
	}
	if !slices.Equal(progress, []int{4, 8, 10}) {
		t.Errorf("progress %v, want [4 8 10]", progress)
	}
	if n := f.count("signatures/signHash"); n != 3 {
		t.Errorf("%d signHash calls, want 3", n)
	}
}

// TestCSCCancelLeavesNoGoroutine: a signature waiting for an approval that never comes
// stops when its context is cancelled, leaving no goroutine behind.
func TestCSCCancelLeavesNoGoroutine(t *testing.T) {
	// The clock advances only when told: the wait sleeps until the test cancels it.
	clk := remotetest.NewClock(time.Time{}, 0)
	f := start(t, csc.Options{Approver: &phone{clk: clk}, ApprovalLifetime: time.Minute})
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	defer f.srv.Client().CloseIdleConnections()
	k := f.clockedKey(t, keyAgencyA, "org", clk, remote.Backoff{First: 200 * time.Millisecond, Interval: 200 * time.Millisecond})
	k.DisplayText = "ignore"
	ctx, cancel := context.WithCancel(realBound(t))
	defer cancel()
	d := sha256.Sum256([]byte("cancel"))
	ended := make(chan error, 1)
	go func() {
		_, err := k.SignContext(ctx, d[:], crypto.SHA256)
		ended <- err
	}()
	// The first poll (after First), then the cancel while the next one is waited for.
	if err := clk.WaitSleepers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(200 * time.Millisecond)
	for f.count("credentials/authorizeCheck") == 0 || clk.Sleepers() == 0 {
		if err := clk.WaitSleepers(ctx, 1); err != nil {
			t.Fatal(err)
		}
		runtime.Gosched()
	}
	cancel()
	cancelled := time.Now()
	// The wait must end at the cancel, not at the next poll or the phone's timeout
	// (neither comes: the clock stands still).
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SignContext did not return at the cancel")
	}
	if late := time.Since(cancelled); late > time.Second {
		t.Errorf("SignContext returned %v after the cancel", late)
	}
}

// curlScript signs $DIGEST_B64 with credential org through /csc/v2 from outside Kyso's
// code: curl and sed only. FIELDS selects v2 (oauth2/token, hashes, hashAlgorithmOID)
// or v1 (auth/login, hash, hashAlgo) names.
const curlScript = `set -eu
c() { curl -sS --fail-with-body --cacert "$CA" -H 'Content-Type: application/json' "$@"; }
if [ "$FIELDS" = v2 ]; then
  TOKEN=$(curl -sS --fail-with-body --cacert "$CA" -d grant_type=client_credentials -d client_id=agency -d "client_secret=$API_KEY" "$BASE/oauth2/token" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
  HASHES=hashes; ALG=hashAlgorithmOID
else
  TOKEN=$(c -u "agency:$API_KEY" -d '{}' "$BASE/auth/login" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
  HASHES=hash; ALG=hashAlgo
fi
SAD=$(c -H "Authorization: Bearer $TOKEN" -d "{\"credentialID\":\"org\",\"numSignatures\":1,\"$HASHES\":[\"$DIGEST_B64\"],\"$ALG\":\"2.16.840.1.101.3.4.2.1\"}" "$BASE/credentials/authorize" | sed -n 's/.*"SAD":"\([^"]*\)".*/\1/p')
c -H "Authorization: Bearer $TOKEN" -d "{\"credentialID\":\"org\",\"SAD\":\"$SAD\",\"$HASHES\":[\"$DIGEST_B64\"],\"$ALG\":\"2.16.840.1.101.3.4.2.1\",\"signAlgo\":\"1.2.840.113549.1.1.1\"}" "$BASE/signatures/signHash" \
  | sed -n 's/.*"signatures":\["\([^"]*\)".*/\1/p' | base64 -d > "$OUT"
`

// TestCSCWithCurlAndOpenSSL: a CSC client outside the project's code paths (curl in a
// shell script) signs a hash through /csc/v2, and openssl verifies the signature with
// the public key of the organisation's certificate.
func TestCSCWithCurlAndOpenSSL(t *testing.T) {
	curl := testenv.Tool(t, "curl", "curl")
	openssl := testenv.Tool(t, "openssl", "openssl")
	f := start(t, csc.Options{})
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) []byte {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, out)
		}
		return out
	}
	doc := filepath.Join(dir, "doc.txt")
	if err := os.WriteFile(doc, []byte("Quyết định số 05/QĐ-UBND\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	digest := filepath.Join(dir, "digest.bin")
	run(openssl, "dgst", "-sha256", "-binary", "-out", digest, doc)
	digestB64 := strings.TrimSpace(string(run("base64", "-w0", digest)))
	pub := filepath.Join(dir, "pub.pem")
	run(openssl, "x509", "-in", f.pki.Path("org.pem"), "-pubkey", "-noout", "-out", pub)
	for _, fields := range []string{"v2", "v1"} {
		t.Run(fields, func(t *testing.T) {
			sig := filepath.Join(dir, fields+"-sig.bin")
			cmd := exec.Command("bash", "-c", curlScript)
			cmd.Env = append(os.Environ(), "CA="+ca, "BASE="+f.srv.URL+"/csc/v2", "API_KEY="+keyAgencyA, "DIGEST_B64="+digestB64, "OUT="+sig, "FIELDS="+fields, "PATH="+filepath.Dir(curl)+":"+os.Getenv("PATH"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("curl script: %v\n%s", err, out)
			}
			out := run(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-pkeyopt", "digest:sha256", "-in", digest, "-sigfile", sig)
			if !strings.Contains(string(out), "Signature Verified Successfully") {
				t.Fatalf("openssl pkeyutl -verify: %s", out)
			}
			// The same check must fail for another digest, or it proves nothing.
			other := filepath.Join(dir, "other.bin")
			bad := sha256.Sum256([]byte("other"))
			if err := os.WriteFile(other, bad[:], 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-pkeyopt", "digest:sha256", "-in", other, "-sigfile", sig).CombinedOutput(); err == nil {
				t.Fatalf("openssl verified the signature over another digest: %s", out)
			}
		})
	}
}
