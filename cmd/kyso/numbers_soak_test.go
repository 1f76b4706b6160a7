package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/pkg/wire"
)

// soakDuration is how long TestNumbersSoak drives the servers: KYSO_NUMBERS_SOAK (a Go
// duration; `make test` sets 20s), else 60 s.
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("KYSO_NUMBERS_SOAK")
	if v == "" {
		return time.Minute
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("KYSO_NUMBERS_SOAK=%q: want a positive duration such as 20s", v)
	}
	return d
}

// soakPendingExpiry is how long the soak's prepared signatures live: an abandoned one
// is voided at most this long (plus a sweep) after it was prepared. On a loaded
// machine a request may expire before its client completes it; that is an outcome
// the register must show too (voided), not a failure.
const soakPendingExpiry = 15 * time.Second

// TestNumbersSoak: two `kyso serve` processes on one PostgreSQL, 16 clients each,
// prepare issues and then complete them (some first with a wrong signature), cancel
// them, or walk away, at random, each request on either replica. Afterwards every
// number of the register's year is issued or voided, each voided number has its reason
// and time, no number is held twice, every completion's number is the one printed on
// its page, and the audit chain holds.
func TestNumbersSoak(t *testing.T) {
	testenv.Heavy(t, "two kyso serve processes on one PostgreSQL under 32 clients")
	dur := soakDuration(t)
	p := pkitest.ServeRevocation(t)
	dsn := testenv.StartPostgres(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kyso.yaml")
	cfg := fmt.Sprintf(`server: {max_heavy: 64, heavy_queue_wait: 60s}
store: {driver: postgres, dsn: %q, blobs_in_db: true, data_dir: %q}
trust: {anchors: [%q], builtin: false}
signatures: {pending_expiry: %s}
log: {format: json}
`, dsn, filepath.Join(dir, "data"), p.Path("root-ca.pem"), soakPendingExpiry)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	first := startServeProcess(t, cfgPath)
	var admin string
	for deadline := time.Now().Add(5 * time.Second); admin == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := adminKeyLine.FindStringSubmatch(first.stdout.String()); m != nil {
			admin = m[1]
		}
	}
	if admin == "" {
		t.Fatalf("no admin key printed:\n%s", first.stdout)
	}
	second := startServeProcess(t, cfgPath)
	replicas := []string{first.base, second.base}
	c := &soakClient{http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 2 * time.Minute}, pki: p}
	t.Cleanup(c.http.CloseIdleConnections)
	leaderPEM, _ := json.Marshal(certPEM(p.Leader.Cert))
	keys := map[string]string{}
	for role, extra := range map[string]string{"leader": `,"certificates":[` + string(leaderPEM) + `]`, "clerk": ``} {
		status, body, err := c.do(replicas[0], "POST", "/v1/clients", admin, "application/json",
			strings.NewReader(`{"name":"`+role+`","role":"`+role+`","agencies":["000.00.00.H43"]`+extra+`}`))
		var k struct {
			APIKey string `json:"api_key"`
		}
		if err != nil || status != 201 || json.Unmarshal(body, &k) != nil {
			t.Fatalf("client %s: %d %s %v", role, status, body, err)
		}
		keys[role] = k.APIKey
	}
	c.leader, c.clerk, c.draft = keys["leader"], keys["clerk"], testenv.CongVanPDF(t)

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		issued   = map[int64]string{} // document → the number its completion printed
		counts   soakCounts
		failures atomic.Int64
	)
	start := time.Now()
	end := start.Add(dur)
	for i := range 32 {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(i), uint64(start.UnixNano())))
			home := replicas[i%2]
			other := func() string { return replicas[rng.IntN(2)] }
			fail := func(format string, a ...any) {
				if failures.Add(1) <= 20 {
					t.Errorf("client %d: "+format, append([]any{i}, a...)...)
				}
			}
			var doc int64
			for time.Now().Before(end) && failures.Load() < 20 {
				if doc == 0 {
					var err error
					if doc, err = c.approve(home); err != nil {
						fail("approve: %v", err)
						continue
					}
					atomic.AddInt64(&counts.approved, 1)
				}
				pend, err := c.prepareIssue(home, doc)
				if err != nil {
					fail("prepare issue of %d: %v", doc, err)
					doc = 0
					continue
				}
				atomic.AddInt64(&counts.prepared, 1)
				switch r := rng.IntN(100); {
				case r < 60: // complete, one in six first with a wrong signature
					if r < 10 {
						status, body, err := c.complete(other(), pend, c.pki.Leader)
						if expired(status, body) {
							atomic.AddInt64(&counts.expired, 1)
							doc = 0
							continue
						}
						if err != nil || status != 422 {
							fail("a wrong signature: %d %s %v", status, body, err)
						}
						atomic.AddInt64(&counts.wrong, 1)
					}
					status, body, err := c.complete(other(), pend, c.pki.Org)
					if expired(status, body) {
						atomic.AddInt64(&counts.expired, 1)
						doc = 0
						continue
					}
					if err != nil || status != 200 {
						fail("complete %s of %d: %d %s %v", pend.Number, doc, status, body, err)
						doc = 0
						continue
					}
					mu.Lock()
					issued[doc] = pend.Number
					mu.Unlock()
					atomic.AddInt64(&counts.completed, 1)
					doc = 0
				case r < 80: // cancelled; the document is prepared again with a new number
					status, body, err := c.do(other(), "POST", "/v1/signatures/"+pend.ID+"/cancel", c.clerk, "application/json",
						strings.NewReader(fmt.Sprintf(`{"reason":"soak client %d cancels"}`, i)))
					switch {
					case expired(status, body):
						atomic.AddInt64(&counts.expired, 1)
						doc = 0
					case err != nil || status != 200:
						fail("cancel: %d %s %v", status, body, err)
					default:
						atomic.AddInt64(&counts.cancelled, 1)
					}
				default: // walked away: the request expires, the document is left approved
					atomic.AddInt64(&counts.abandoned, 1)
					doc = 0
				}
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if t.Failed() {
		for _, sp := range []*serveProcess{first, second} {
			n := 0
			for _, line := range strings.Split(sp.stderr.String(), "\n") {
				if strings.Contains(line, `"level":"ERROR"`) && n < 5 {
					t.Log(line)
					n++
				}
			}
		}
		t.FailNow()
	}
	// Every abandoned request expires and is swept (each replica sweeps every second).
	time.Sleep(soakPendingExpiry + 3*time.Second)

	status, body, err := c.do(replicas[1], "GET", "/v1/registers?agency=000.00.00.H43", c.clerk, "", nil)
	var regs struct {
		Registers []soakRegister `json:"registers"`
	}
	if err != nil || status != 200 || json.Unmarshal(body, &regs) != nil {
		t.Fatalf("registers: %d %s %v", status, body, err)
	}
	var reg *soakRegister
	for i := range regs.Registers {
		if r := &regs.Registers[i]; r.Kind == "outgoing" && r.Series == "" {
			reg = r
		}
	}
	if reg == nil {
		t.Fatalf("no outgoing register: %s", body)
	}
	status, body, err = c.do(replicas[0], "GET", fmt.Sprintf("/v1/registers/%d/numbers", reg.ID), c.clerk, "", nil)
	var nums registerNumbersJSON
	if err != nil || status != 200 || json.Unmarshal(body, &nums) != nil {
		t.Fatalf("numbers: %d %v", status, err)
	}
	if len(nums.Numbers) != reg.LastNumber || reg.LastNumber == 0 {
		t.Fatalf("%d numbers listed, last number %d", len(nums.Numbers), reg.LastNumber)
	}
	holder := map[int64]int{}
	var nIssued, nVoided int
	for i, n := range nums.Numbers {
		switch {
		case n.Number != i+1:
			t.Errorf("line %d is number %d", i+1, n.Number)
		case n.Status == "issued":
			nIssued++
			if prev, twice := holder[n.DocumentID]; twice || n.DocumentID == 0 {
				t.Errorf("number %d: document %d (also number %d)", n.Number, n.DocumentID, prev)
			}
			holder[n.DocumentID] = n.Number
			if want := fmt.Sprintf("%02d/UBND-VP", n.Number); issued[n.DocumentID] != want {
				t.Errorf("number %d went to document %d, whose completion printed %q", n.Number, n.DocumentID, issued[n.DocumentID])
			}
		case n.Status == "voided":
			nVoided++
			if n.Reason == "" || n.At == "" {
				t.Errorf("number %d voided without reason or time: %+v", n.Number, n)
			}
		default:
			t.Errorf("number %d is %s", n.Number, n.Status)
		}
	}
	if nIssued != len(issued) || nIssued != reg.Documents || nVoided != reg.Voided || reg.Reserved != 0 {
		t.Errorf("issued %d (completions %d, register %d), voided %d (register %d), reserved %d",
			nIssued, len(issued), reg.Documents, nVoided, reg.Voided, reg.Reserved)
	}
	st, err := store.Open(context.Background(), store.Config{Driver: store.DriverPostgres, DSN: dsn, BlobsInDB: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if rep, err := st.Check(context.Background()); err != nil || !rep.OK() {
		t.Errorf("docs check after the soak: %v %v", err, rep.Problems)
	}
	t.Logf("%s, 2 replicas × 16 clients: %d approved, %d issues prepared (%.1f/s), %d completed (%d after a wrong signature), %d cancelled, %d abandoned, %d expired under load; "+
		"register: %d numbers, %d issued, %d voided, 0 reserved, 0 missing",
		elapsed.Round(100*time.Millisecond), counts.approved, counts.prepared, float64(counts.prepared)/elapsed.Seconds(),
		counts.completed, counts.wrong, counts.cancelled, counts.abandoned, counts.expired, reg.LastNumber, nIssued, nVoided)
}

// soakRegister is a register as GET /v1/registers lists it.
type soakRegister struct {
	ID         int64  `json:"id"`
	Kind       string `json:"kind"`
	Series     string `json:"series"`
	LastNumber int    `json:"last_number"`
	Documents  int    `json:"documents"`
	Voided     int    `json:"voided"`
	Reserved   int    `json:"reserved"`
}

type soakCounts struct {
	approved, prepared, completed, wrong, cancelled, abandoned, expired int64
}

// expired reports whether an answer says the request expired before the client
// acted: 410, or the 409 of one that expired while it was being completed.
func expired(status int, body []byte) bool {
	return status == http.StatusGone || status == http.StatusConflict && strings.Contains(string(body), "or has expired")
}

// soakClient speaks to the replicas from many goroutines: it reports errors instead
// of failing the test, and waits when a server is busy (503).
type soakClient struct {
	http          *http.Client
	pki           *testpki.TestPKI
	leader, clerk string
	draft         []byte
}

func (c *soakClient) do(base, method, path, key, ctype string, body io.Reader) (int, []byte, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = io.ReadAll(body); err != nil {
			return 0, nil, err
		}
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest(method, base+path, bytes.NewReader(raw))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return 0, nil, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && attempt < 20 {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		return resp.StatusCode, b, err
	}
}

func (c *soakClient) form(fields map[string]any) (string, io.Reader) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for name, v := range fields {
		switch v := v.(type) {
		case []byte:
			fw, _ := w.CreateFormFile(name, name+".bin")
			fw.Write(v)
		case string:
			w.WriteField(name, v)
		}
	}
	w.Close()
	return w.FormDataContentType(), &b
}

func (c *soakClient) prepare(base, key string, fields map[string]any) (wire.Pending, error) {
	ct, body := c.form(fields)
	status, b, err := c.do(base, "POST", "/v1/signatures", key, ct, body)
	var p wire.Pending
	if err == nil && status != 201 {
		err = fmt.Errorf("prepare: %d %s", status, b)
	}
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	return p, err
}

// approve uploads the draft as a new document the leader approves.
func (c *soakClient) approve(base string) (int64, error) {
	p, err := c.prepare(base, c.leader, map[string]any{"certificate": certPEM(c.pki.Leader.ChainWithLeaf()...), "file": c.draft,
		"agency": "000.00.00.H43", "symbol": "UBND-VP", "summary": "Về việc thử tải", "type": "CV", "role": "approve",
		"page": "1", "rect": "300,100,480,160", "image": testenv.SignaturePNG()})
	if err != nil {
		return 0, err
	}
	status, b, err := c.complete(base, p, c.pki.Leader)
	if err == nil && status != 200 {
		err = fmt.Errorf("approve complete: %d %s", status, b)
	}
	return p.DocumentID, err
}

func (c *soakClient) prepareIssue(base string, doc int64) (wire.Pending, error) {
	return c.prepare(base, c.clerk, map[string]any{"certificate": certPEM(c.pki.Org.ChainWithLeaf()...), "document_id": fmt.Sprint(doc),
		"role": "issue", "image": testenv.SealPNG()})
}

// complete signs the digest with who's key (the wrong one for a refusal) and
// completes, as the prepared request's client.
func (c *soakClient) complete(base string, p wire.Pending, who *testpki.Cert) (int, []byte, error) {
	opts, err := wire.SignerOpts(p.Algorithm)
	if err != nil {
		return 0, nil, err
	}
	sig, err := who.Key.Sign(rand.Reader, p.Digest, opts)
	if err != nil {
		return 0, nil, err
	}
	key := c.clerk
	if p.Role == "approve" {
		key = c.leader
	}
	return c.do(base, "POST", "/v1/signatures/"+p.ID+"/complete", key, "application/json",
		strings.NewReader(`{"signature":"`+base64.StdEncoding.EncodeToString(sig)+`"}`))
}
