package api

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/signer/verify"
)

// Until pkg/store lands, clients live in this in-memory registry: the API's contract
// with the store is the Clients and ClientRegistry interfaces, and this exercises them
// over real HTTP exactly as the store will.
type memClients struct {
	mu      sync.Mutex
	byHash  map[string]Principal
	revoked map[string]bool
	next    int
}

func newMemClients() *memClients {
	return &memClients{byHash: map[string]Principal{}, revoked: map[string]bool{}}
}

func (m *memClients) LookupByKeyHash(_ context.Context, hash string) (Principal, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.byHash[hash]
	if !ok || m.revoked[p.ID] {
		return Principal{}, fault.New(fault.Unauthenticated, "unknown API key")
	}
	return p, nil
}

func (m *memClients) RegisterClient(_ context.Context, _ Principal, nc NewClient, hash string) (Principal, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	p := Principal{ID: fmt.Sprintf("c%d", m.next), Name: nc.Name, Role: nc.Role, Agencies: nc.Agencies, Clearance: nc.Clearance}
	m.byHash[hash] = p
	return p, nil
}

func (m *memClients) RevokeClient(_ context.Context, _ Principal, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.byHash {
		if p.ID == id {
			m.revoked[id] = true
			return nil
		}
	}
	return fault.New(fault.NotFound, "no such client")
}

// add makes a client and returns its API key.
func (m *memClients) add(t *testing.T, name string, role Role) string {
	t.Helper()
	key, hash := NewAPIKey()
	if _, err := m.RegisterClient(context.Background(), Principal{}, NewClient{Name: name, Role: role}, hash); err != nil {
		t.Fatal(err)
	}
	return key
}

// memKeys stands in for the key catalogue and its grants.
type memKeys struct {
	mu   sync.Mutex
	keys []KeyInfo
}

func (m *memKeys) ListKeys(context.Context) ([]KeyInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]KeyInfo, len(m.keys))
	for i, k := range m.keys {
		k.Allowed = slices.Clone(k.Allowed)
		out[i] = k
	}
	return out, nil
}

func (m *memKeys) GrantKey(_ context.Context, _ Principal, key, who string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.keys {
		if m.keys[i].Name == key && !slices.Contains(m.keys[i].Allowed, who) {
			m.keys[i].Allowed = append(m.keys[i].Allowed, who)
		}
	}
	return nil
}

func (m *memKeys) RevokeGrant(_ context.Context, _ Principal, key, who string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.keys {
		if j := slices.Index(m.keys[i].Allowed, who); m.keys[i].Name == key && j >= 0 {
			m.keys[i].Allowed = slices.Delete(m.keys[i].Allowed, j, j+1)
			return nil
		}
	}
	return fault.New(fault.NotFound, "No such grant.")
}

// ecdsaSigner stands in for the signing service: it signs the SHA-256 of the uploaded
// bytes with a real ECDSA key, so a test can check that exactly the uploaded document
// reached the service and the answer came back whole.
type ecdsaSigner struct {
	key   *ecdsa.PrivateKey
	fail  error
	panic bool
	calls int
	mu    sync.Mutex
}

func newECDSASigner(t *testing.T) *ecdsaSigner {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &ecdsaSigner{key: k}
}

func (s *ecdsaSigner) SignDocument(_ context.Context, _ Principal, req SignRequest, doc Document, out io.Writer) (SignResult, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	if s.panic {
		panic("signer exploded: secret internal state 0xdeadbeef")
	}
	if s.fail != nil {
		return SignResult{}, s.fail
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(doc, 0, doc.Size())); err != nil {
		return SignResult{}, err
	}
	sig, err := s.key.Sign(rand.Reader, h.Sum(nil), crypto.SHA256)
	if err != nil {
		return SignResult{}, err
	}
	if req.Store {
		return SignResult{Document: &DocumentRecord{ID: 41, Status: "draft"}}, nil
	}
	_, err = out.Write(sig)
	return SignResult{ContentType: "application/pkcs7-signature"}, err
}

// pdfVerifier stands in for the verification service: it refuses what does not start
// like a PDF and reports the digest it read. block, when set, holds each call until
// released, for the graceful-shutdown test.
type pdfVerifier struct {
	entered chan struct{}
	release chan struct{}
}

func (v *pdfVerifier) VerifyDocument(ctx context.Context, doc Document, now time.Time) (*verify.Report, error) {
	if v.entered != nil {
		v.entered <- struct{}{}
		select {
		case <-v.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	head := make([]byte, 5)
	if _, err := doc.ReadAt(head, 0); err != nil || string(head) != "%PDF-" {
		return nil, fault.New(fault.BadDocument, "The file is not a PDF.")
	}
	sum := doc.SHA256()
	return &verify.Report{
		Version:        verify.ReportVersion,
		File:           doc.Filename(),
		SHA256:         fmt.Sprintf("%x", sum),
		Size:           doc.Size(),
		Format:         "pdf",
		Indication:     verify.TotalFailed,
		ValidationTime: now.UTC(),
		Signatures:     []verify.SignatureReport{},
		Errors:         []string{},
		Warnings:       []string{},
	}, nil
}

type checkFunc func(context.Context) error

func (f checkFunc) Ready(ctx context.Context) error { return f(ctx) }

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// testServer is a real Server on a loopback port.
type testServer struct {
	t       *testing.T
	base    string
	srv     *Server
	logs    *syncBuffer
	clients *memClients
	signer  *ecdsaSigner
	keyFor  map[Role]string // an API key per role
	tempDir string
	stop    context.CancelFunc
	done    chan error
}

// startServer starts a server with every wired service; edit may change the
// configuration and options before it starts.
func startServer(t *testing.T, edit func(*config.Config, *Options)) *testServer {
	t.Helper()
	cfg := config.Default()
	cfg.Server.MaxUpload = 1 * config.MiB
	cfg.Server.ShutdownGrace = 5 * time.Second
	cfg.RateLimit.PublicVerifyPerMinute = 1000
	cfg.Metrics.KeyNames = true // the tests name the keys they count
	cfg.Keys = []config.Key{{Name: "org", URI: "softkey:/dev/null"}, {Name: "personal", URI: "softkey:/dev/null"}}
	logs := &syncBuffer{}
	clients := newMemClients()
	ts := &testServer{t: t, logs: logs, clients: clients, signer: newECDSASigner(t), keyFor: map[Role]string{}, tempDir: t.TempDir()}
	for _, r := range Roles {
		if r != RolePublic {
			ts.keyFor[r] = clients.add(t, "client-"+string(r), r)
		}
	}
	// Grants name clients by id: c1 admin, c2 system, c3 clerk, c4 leader (made in
	// the order of Roles above).
	keys := &memKeys{keys: []KeyInfo{
		{Name: "org", Owner: "UBND tỉnh", Allowed: []string{"role:clerk", "c2"}},
		{Name: "personal", Owner: "Nguyễn Văn A", Allowed: []string{"c4"}},
	}}
	opts := Options{
		Config:         &cfg,
		Logger:         slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		TempDir:        ts.tempDir,
		Clients:        clients,
		ClientRegistry: clients,
		Keys:           keys,
		KeyGrants:      keys,
		Signer:         ts.signer,
		Verifier:       &pdfVerifier{},
		Checks:         []Check{{Name: "store", Readiness: checkFunc(func(context.Context) error { return nil })}},
	}
	if edit != nil {
		edit(&cfg, &opts)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts.srv, ts.base, ts.stop, ts.done = srv, "http://"+ln.Addr().String(), cancel, make(chan error, 1)
	go func() { ts.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ts.done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ts
}

// do sends a request; key "" sends no Authorization header.
func (ts *testServer) do(method, path, key, contentType string, body io.Reader, hdr ...string) *http.Response {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.base+path, body)
	if err != nil {
		ts.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	ts.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, r *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// problemOf checks that resp is a well-formed problem+json whose instance is the
// response's request id, and returns it.
func problemOf(t *testing.T, resp *http.Response) Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json (status %d)", ct, resp.StatusCode)
	}
	var p Problem
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body: %v", err)
	}
	if p.Status != resp.StatusCode {
		t.Errorf("problem status %d, response status %d", p.Status, resp.StatusCode)
	}
	if !strings.HasPrefix(p.Type, ProblemBase) || p.Title == "" {
		t.Errorf("problem %+v lacks a stable type or a title", p)
	}
	if id := resp.Header.Get(HeaderRequestID); id == "" || p.Instance != id {
		t.Errorf("instance %q, X-Request-Id %q", p.Instance, id)
	}
	return p
}

var errBoom = errors.New("boom: driver said 'password authentication failed for user kyso'")
