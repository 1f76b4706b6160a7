package agent_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/kyso-vn/kyso/api/agent"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
)

// TestWatcherSeesTokenComeAndGo: the agent lists the token's certificates with holder,
// issuer, validity and kind; pulling the token out (deleting the SoftHSM2 token) and
// plugging it in again (making it anew) are both noticed while the agent runs.
func TestWatcherSeesTokenComeAndGo(t *testing.T) {
	p := testpki.Committed(t)
	tok := newToken(t, p, "Kyso leader")
	e := startAgent(t, tok, nil)
	e.token = e.pair(t, "https://kyso.example.vn")
	w := e.agent.Watcher()
	changed, cancel := w.Subscribe()
	defer cancel()
	// A paired web page follows the tokens over the WebSocket.
	ctx, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"/api/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {e.origin}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := wsjson.Write(ctx, ws, map[string]string{"type": "hello", "token": e.token}); err != nil {
		t.Fatal(err)
	}
	wsTokens := func() []agent.Token {
		t.Helper()
		var m struct {
			Type   string        `json:"type"`
			Tokens []agent.Token `json:"tokens"`
		}
		if err := wsjson.Read(ctx, ws, &m); err != nil || m.Type != "tokens" {
			t.Fatalf("websocket: %v %+v", err, m)
		}
		return m.Tokens
	}
	if ts := wsTokens(); len(ts) != 1 {
		t.Fatalf("websocket shows %d tokens at first", len(ts))
	}
	toks, _ := w.Tokens()
	if len(toks) != 1 || toks[0].Label != "Kyso leader" || len(toks[0].Certificates) != 2 {
		t.Fatalf("tokens: %+v", toks)
	}
	want := map[string]struct {
		holder string
		kind   agent.Kind
	}{"01": {p.Leader.Cert.Subject.CommonName, agent.Personal}, "02": {p.Org.Cert.Subject.CommonName, agent.Organisation}}
	for _, c := range toks[0].Certificates {
		w, ok := want[c.ID]
		if !ok || c.Holder != w.holder || c.Kind != w.kind || c.Issuer != p.Sub.Cert.Subject.CommonName ||
			!c.NotAfter.After(time.Now()) || len(c.Chain) != 2 {
			t.Errorf("certificate %s: %+v (chain %d)", c.ID, c, len(c.Chain))
		}
	}
	serial := toks[0].Serial

	wait := func(what string, start time.Time, ok func([]agent.Token) bool) time.Duration {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			if toks, _ := w.Tokens(); ok(toks) {
				return time.Since(start)
			}
			select {
			case <-changed:
			case <-deadline:
				toks, _ := w.Tokens()
				t.Fatalf("%s not noticed in 10 s: %+v", what, toks)
			}
		}
	}
	start := time.Now()
	// softhsm2-util removes the token's files and then its directory; a poll that
	// re-initialises SoftHSM2 in between writes a file there again and the removal
	// fails (2 runs in 12 before this hold). A USB token pulled out has no such race.
	release, err := w.Hold(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tok.DeleteToken(t)
	release()
	out := wait("token pulled out", start, func(ts []agent.Token) bool { return len(ts) == 0 })
	if ts := wsTokens(); len(ts) != 0 {
		t.Fatalf("websocket shows %d tokens after the token was pulled out", len(ts))
	}
	start = time.Now()
	tok.InitToken(t)
	importKeys(t, tok, p)
	in := wait("token plugged in with its certificates", start, func(ts []agent.Token) bool {
		return len(ts) == 1 && ts[0].Serial != serial && len(ts[0].Certificates) == 2
	})
	// The token comes back empty, then with its certificates, one change at a time.
	for ts := wsTokens(); len(ts) != 1 || len(ts[0].Certificates) != 2; ts = wsTokens() {
		if len(ts) > 1 {
			t.Fatalf("websocket shows %d tokens", len(ts))
		}
	}
	t.Logf("pulled out: noticed %v after softhsm2-util began; plugged in: %v after the token was begun (import included; polling every 100 ms)", out.Round(time.Millisecond), in.Round(time.Millisecond))
}

func name(cn string, org []string, extra ...pkix.AttributeTypeAndValue) pkix.Name {
	n := pkix.Name{CommonName: cn, Organization: org}
	n.Names = append(n.Names, pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: cn})
	for _, o := range org {
		n.Names = append(n.Names, pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: o})
	}
	n.Names = append(n.Names, extra...)
	return n
}

// TestKindOf: the rule that tells an organisation's certificate from a person's, on
// the test PKI and on the shapes Vietnamese CAs issue.
func TestKindOf(t *testing.T) {
	p := testpki.Committed(t)
	orgID := pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 97}, Value: "000.00.00.H43"}
	cccd := pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, Value: "CCCD:001080000001"}
	mst := pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, Value: "MST:4500123456"}
	given := pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 42}, Value: "An"}
	cases := []struct {
		name string
		cert *x509.Certificate
		want agent.Kind
	}{
		{"test PKI leader", p.Leader.Cert, agent.Personal},
		{"test PKI clerk", p.Clerk.Cert, agent.Personal},
		{"test PKI personal EC", p.PersonalEC.Cert, agent.Personal},
		{"test PKI SIM", p.SIM.Cert, agent.Personal},
		{"test PKI organisation", p.Org.Cert, agent.Organisation},
		{"organizationIdentifier", &x509.Certificate{Subject: name("Sở Tư pháp", nil, orgID)}, agent.Organisation},
		{"O equals CN, tax code", &x509.Certificate{Subject: name("UBND xã A", []string{"UBND xã A"}, mst)}, agent.Organisation},
		{"person in an organisation", &x509.Certificate{Subject: name("Trần Văn B", []string{"UBND xã A"})}, agent.Personal},
		{"O equals CN but a citizen id", &x509.Certificate{Subject: name("Lê C", []string{"Lê C"}, cccd)}, agent.Personal},
		{"given name", &x509.Certificate{Subject: name("X", []string{"X"}, given)}, agent.Personal},
		{"nothing to go by", &x509.Certificate{Subject: name("Y", nil)}, agent.Personal},
	}
	for _, c := range cases {
		if got := agent.KindOf(c.cert); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestSelectCertificate: offline signing picks the token and certificate — of
// several, the one with a key, a signing key usage and valid today — or lists the
// candidates, with subjects and ids, in Vietnamese and English.
func TestSelectCertificate(t *testing.T) {
	p := testpki.Committed(t)
	c := func(id string, tc *testpki.Cert, key bool) agent.Certificate {
		return agent.Certificate{ID: id, Holder: tc.Cert.Subject.CommonName, Subject: pki.DisplayName(tc.Cert.Subject), Cert: tc.Cert, HasKey: key,
			NotBefore: tc.Cert.NotBefore, NotAfter: tc.Cert.NotAfter, Kind: agent.KindOf(tc.Cert)}
	}
	leader, org, expired, clerk := p.Leader.Cert.Subject.CommonName, p.Org.Cert.Subject.CommonName, p.Expired.Cert.Subject.CommonName, p.Clerk.Cert.Subject.CommonName
	toks := []agent.Token{
		{Label: "two", Certificates: []agent.Certificate{c("01", p.Leader, true), c("02", p.Org, true)}},
		{Label: "renewed", Certificates: []agent.Certificate{c("01", p.Expired, true), c("02", p.Leader, true)}},
		{Label: "keyless", Certificates: []agent.Certificate{c("01", p.Clerk, false), c("02", p.Leader, true)}},
		{Label: "old", Certificates: []agent.Certificate{c("03", p.Expired, true)}},
		{Label: "none shown", Certificates: []agent.Certificate{c("01", p.Clerk, false), c("02", p.Leader, false)}},
	}
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		label, id, want string
		ok              bool
		lists           []string
	}{
		{"two", "", "", false, []string{"--cert-id 01", "--cert-id 02", pki.DisplayName(p.Leader.Cert.Subject), pki.DisplayName(p.Org.Cert.Subject), "chọn một bằng --cert-id", "name one with --cert-id"}},
		{"two", "02", org, true, nil},
		{"two", "0X", "", false, []string{"không có chứng thư số mã"}},
		{"renewed", "", leader, true, nil},
		{"renewed", "01", expired, true, nil}, // named: CheckValidAt refuses it
		{"keyless", "", leader, true, nil},
		{"old", "", expired, true, nil},
		{"none shown", "", "", false, []string{"--cert-id 01", "--cert-id 02"}},
		{"none shown", "01", clerk, true, nil},
		{"", "", "", false, []string{"--token"}},
		{"absent", "", "", false, []string{`"absent"`}},
	}
	for _, tc := range cases {
		_, cert, err := agent.SelectCertificate(toks, tc.label, tc.id, now)
		if (err == nil) != tc.ok || cert.Holder != tc.want {
			t.Errorf("token %q id %q: %q, %v", tc.label, tc.id, cert.Holder, err)
			continue
		}
		for _, w := range tc.lists {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("token %q id %q: the error does not say %q:\n%v", tc.label, tc.id, w, err)
			}
		}
	}
	// The expired one cannot sign, and says so in both languages.
	err := agent.CheckValidAt(toks[3].Certificates[0], now)
	if !errors.Is(err, agent.ErrCertificateNotValid) || !strings.Contains(err.Error(), "expired on 2023-12-31") || !strings.Contains(err.Error(), "đã hết hạn ngày 31/12/2023") {
		t.Fatalf("expired: %v", err)
	}
	if err := agent.CheckValidAt(c("01", p.Leader, true), time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, agent.ErrCertificateNotValid) || !strings.Contains(err.Error(), "not valid until 2024-01-01") {
		t.Fatalf("not yet valid: %v", err)
	}
}

// TestWatcherMissingModule: a module path that does not load is reported once, not at
// every poll, and the other modules' tokens are still listed.
func TestWatcherMissingModule(t *testing.T) {
	p := testpki.Committed(t)
	tok := newToken(t, p, "Kyso leader")
	var logs syncBuffer
	w := agent.NewWatcher([]agent.Module{{Path: "/nonexistent/libvendor-pkcs11.so"}, {Path: tok.Module}}, time.Millisecond,
		slog.New(slog.NewTextHandler(&logs, nil)))
	defer w.Close()
	for range 5 {
		w.Poll()
	}
	if toks, _ := w.Tokens(); len(toks) != 1 {
		t.Fatalf("tokens: %+v", toks)
	}
	if n := strings.Count(string(logs.Bytes()), "agent: listing tokens"); n != 1 {
		t.Fatalf("the missing module is logged %d times:\n%s", n, logs.Bytes())
	}
}
