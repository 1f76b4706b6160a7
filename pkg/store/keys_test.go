package store

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
)

func TestClientsAndKeyGrants(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, newClock(t0))
		key, hash, err := NewAPIKey()
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.CreateClient(ctx, "QLVB tỉnh", "qlvb", hash, "admin")
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.LookupClientByKeyHash(ctx, HashAPIKey(key))
		if err != nil || got.ID != c.ID || got.Principal != "qlvb" {
			t.Fatalf("lookup: %+v %v", got, err)
		}
		if strings.Contains(got.KeyHash, key) {
			t.Fatal("the key itself is stored")
		}
		if _, err := s.LookupClientByKeyHash(ctx, HashAPIKey(key+"x")); !errors.Is(err, ErrNotFound) {
			t.Errorf("wrong key: %v", err)
		}
		if _, err := s.CreateClient(ctx, "again", "p", hash, "admin"); !errors.Is(err, ErrConflict) {
			t.Errorf("same key twice: %v", err)
		}
		if err := s.RevokeClient(ctx, c.ID, "admin"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LookupClientByKeyHash(ctx, hash); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoked key: %v, want ErrNotFound", err)
		}
		if err := s.RevokeClient(ctx, c.ID, "admin"); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoking twice: %v", err)
		}

		if _, err := s.CreateKey(ctx, SigningKey{URI: "pkcs11:token=org;object=k?pin-value=1234"}, "admin"); !errors.Is(err, ErrInvalid) {
			t.Errorf("URI with a PIN: %v, want ErrInvalid", err)
		}
		k, err := s.CreateKey(ctx, SigningKey{URI: "pkcs11:token=org;object=k?pin-source=/etc/kyso/pin", Label: "org seal", Owner: "000.00.00.H43"}, "admin")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"vanthu", "qlvb", "vanthu"} {
			if err := s.GrantKey(ctx, k.ID, p, "admin"); err != nil {
				t.Fatal(err)
			}
		}
		ps, err := s.KeyGrants(ctx, k.ID)
		if err != nil || strings.Join(ps, ",") != "qlvb,vanthu" {
			t.Errorf("grants %v %v", ps, err)
		}
		if err := s.RevokeGrant(ctx, k.ID, "qlvb", "admin"); err != nil {
			t.Fatal(err)
		}
		if ps, _ := s.KeyGrants(ctx, k.ID); strings.Join(ps, ",") != "vanthu" {
			t.Errorf("after revoke: %v", ps)
		}
		if err := s.GrantKey(ctx, k.ID+100, "x", "admin"); !errors.Is(err, ErrNotFound) {
			t.Errorf("grant on a missing key: %v", err)
		}
		byURI, err := s.KeyByURI(ctx, k.URI)
		if err != nil || byURI.ID != k.ID {
			t.Errorf("KeyByURI: %v", err)
		}
		rep, err := s.Check(ctx)
		if err != nil || !rep.OK() {
			t.Fatalf("check %+v %v", rep, err)
		}
	})
}

func TestPendingSignaturesSurviveRestart(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		clock := newClock(t0)
		s := openStore(t, cfg, clock)
		state := []byte{0, 1, 2, 0xff}
		if err := s.PutPending(ctx, PendingSignature{ID: "p1", Status: "prepared", State: state, ExpiresAt: t0.Add(5 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutPending(ctx, PendingSignature{ID: "p1", Status: "prepared", ExpiresAt: t0.Add(time.Minute)}); !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate id: %v", err)
		}
		s.Close()
		s = openStore(t, cfg, clock) // a restart, or another replica
		p, err := s.GetPending(ctx, "p1")
		if err != nil || string(p.State) != string(state) || p.Status != "prepared" {
			t.Fatalf("after restart: %+v %v", p, err)
		}
		if err := s.UpdatePending(ctx, "p1", "prepared", "signing", []byte("new")); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdatePending(ctx, "p1", "prepared", "signing", nil); !errors.Is(err, ErrConflict) {
			t.Errorf("second compare-and-set: %v, want ErrConflict", err)
		}
		clock.Set(t0.Add(5 * time.Minute))
		if _, err := s.GetPending(ctx, "p1"); !errors.Is(err, ErrExpired) {
			t.Errorf("expired: %v", err)
		}
		if err := s.UpdatePending(ctx, "p1", "signing", "done", nil); !errors.Is(err, ErrConflict) {
			t.Errorf("completing an expired one: %v", err)
		}
		if n, err := s.ExpirePending(ctx); err != nil || n != 1 {
			t.Errorf("ExpirePending = %d, %v", n, err)
		}
		if _, err := s.GetPending(ctx, "p1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("after expiry sweep: %v", err)
		}
	})
}

func TestAgenciesAreVersioned(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, nil)
		list, err := docid.ReadAgencies(strings.NewReader("code,name,parent_code,valid_from,valid_to\n" +
			"000.00.00.H43,UBND tỉnh Ninh Thuận,,2020-09-15,2025-07-01\n" +
			"000.00.00.H43,UBND tỉnh (sau sắp xếp),,2025-07-01,\n"))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := s.ImportAgencies(ctx, list, "admin"); err != nil || n != 2 {
			t.Fatal(n, err)
		}
		// Importing again updates in place.
		if _, err := s.ImportAgencies(ctx, list, "admin"); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			at   time.Time
			want string
		}{
			{time.Date(2021, 1, 1, 0, 0, 0, 0, docid.Vietnam), "UBND tỉnh Ninh Thuận"},
			{time.Date(2025, 6, 30, 23, 59, 59, 0, docid.Vietnam), "UBND tỉnh Ninh Thuận"},
			{time.Date(2025, 7, 1, 0, 0, 0, 0, docid.Vietnam), "UBND tỉnh (sau sắp xếp)"},
		} {
			a, err := s.AgencyAt(ctx, "000.00.00.H43", tt.at)
			if err != nil || a.Name != tt.want {
				t.Errorf("at %s: %+v %v, want %s", tt.at, a, err, tt.want)
			}
		}
		if _, err := s.AgencyAt(ctx, "000.00.00.H43", time.Date(2019, 1, 1, 0, 0, 0, 0, docid.Vietnam)); !errors.Is(err, ErrNotFound) {
			t.Errorf("before the code existed: %v", err)
		}
	})
}

func testCert(t *testing.T, serial int64, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "Nguyễn Văn A"},
		NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStats(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		clock := newClock(time.Date(2020, 6, 1, 8, 0, 0, 0, docid.Vietnam))
		s := openStore(t, cfg, clock)
		y0 := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
		var certs []Certificate
		for i, c := range []struct {
			kind     CertKind
			form     CertForm
			from, to time.Time
		}{
			{CertOrganisation, FormHSM, y0, y0.AddDate(5, 0, 0)},
			{CertPersonal, FormUSBToken, y0, y0.AddDate(5, 0, 0)},
			{CertPersonal, FormUSBToken, y0, y0.AddDate(5, 0, 0)},
			{CertPersonal, FormSIMPKI, y0, y0.AddDate(5, 0, 0)},
			{CertPersonal, FormUSBToken, y0, y0.AddDate(1, 0, 0)}, // expired before 2021
		} {
			certs = append(certs, CertificateFromX509(testCert(t, int64(i+1), c.from, c.to), c.kind, c.form))
		}
		for _, c := range certs[1:] {
			if _, err := s.AddCertificate(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		receive := func(n int, at time.Time) {
			clock.Set(at)
			for i := range n {
				if _, err := s.CreateDocument(ctx, NewDocument{Direction: Incoming, Type: "CV", AgencyCode: "000.00.00.G22", HolderCode: "000.00.00.H43",
					ReceivedAt: at, Content: strings.NewReader(at.String() + string(rune('a'+i))), Actor: "clerk",
					Uses: []SignatureUse{{Kind: SigReceive, KeyKind: KeyOther}, {Kind: SigReceive, KeyKind: KeyOther}}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		issue := func(at time.Time) {
			clock.Set(at)
			d := approvedDraft(t, s, "000.00.00.H43", "UBND-VP")
			if _, err := s.AssignNumber(ctx, d.ID, at, "clerk"); err != nil {
				t.Fatal(err)
			}
			// The organisation's certificate enters the certificates in use with its first signature.
			if _, err := s.Issue(ctx, d.ID, VersionInput{Content: strings.NewReader("issued " + at.String()), SignatureCount: 2, Actor: "clerk",
				Uses: []SignatureUse{{Kind: SigIssue, KeyKind: KeyHSM, Certificate: &certs[0]}}}); err != nil {
				t.Fatal(err)
			}
		}
		y2020 := time.Date(2020, 12, 31, 23, 0, 0, 0, docid.Vietnam)
		y2021 := time.Date(2021, 1, 1, 0, 30, 0, 0, docid.Vietnam) // 2020 in UTC
		receive(4, y2020)
		receive(5, y2021)
		issue(y2020)
		issue(y2021)
		issue(y2021.Add(24 * time.Hour))
		// A draft that never got further counts as outgoing, approved; one of 2020 not.
		clock.Set(y2021)
		approvedDraft(t, s, "000.00.00.H43", "UBND-VP")

		from := time.Date(2021, 1, 1, 0, 0, 0, 0, docid.Vietnam)
		st, err := s.PeriodStats(ctx, from, from.AddDate(1, 0, 0), nil)
		if err != nil {
			t.Fatal(err)
		}
		check := func(name string, got, want int64) {
			t.Helper()
			if got != want {
				t.Errorf("%s = %d, want %d", name, got, want)
			}
		}
		check("incoming", st.Incoming.Total, 5)
		check("incoming CV", st.Incoming.ByType["CV"], 5)
		check("incoming received", st.Incoming.ByStatus[StatusReceived], 5)
		check("outgoing", st.Outgoing.Total, 3)
		check("outgoing issued", st.Outgoing.ByStatus[StatusIssued], 2)
		check("outgoing approved", st.Outgoing.ByStatus[StatusApproved], 1)
		check("outgoing QĐ", st.Outgoing.ByType["QĐ"], 3)
		check("incoming 2020", st.PrevIncoming, 4)
		check("outgoing 2020", st.PrevOutgoing, 1)
		check("signed", st.Signed, 3)
		check("signatures", st.Signatures, 12)
		check("receive signatures", st.SignaturesByKind[SigReceive], 10)
		check("issue signatures", st.SignaturesByKind[SigIssue], 2)
		check("other agencies' keys", st.SignaturesByKey[KeyOther], 10)
		check("HSM", st.SignaturesByKey[KeyHSM], 2)
		check("certificates", st.Certificates.InForce, 4)
		check("certificates used", st.Certificates.Used, 1)
		check("organisation", st.CertificatesByCategory[CatOrganisation].InForce, 1)
		check("organisation used", st.CertificatesByCategory[CatOrganisation].Used, 1)
		check("personal USB", st.CertificatesByCategory[CatPersonalUSBToken].InForce, 2)
		check("SIM PKI", st.CertificatesByCategory[CatPersonalSIMPKI].InForce, 1)
		if d, pct := Change(st.Incoming.Total, st.PrevIncoming); d != 1 || pct != 25 {
			t.Errorf("Change = %d %.1f%%", d, pct)
		}
		if _, err := s.PeriodStats(ctx, from, from, nil); fault.KindOf(err) != fault.Invalid {
			t.Errorf("an empty period: %v", err)
		}
	})
}

func TestPreviousPeriod(t *testing.T) {
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, docid.Vietnam) }
	for _, c := range []struct{ from, to, pf, pt time.Time }{
		{d(2025, 1, 1), d(2026, 1, 1), d(2024, 1, 1), d(2025, 1, 1)},
		{d(2025, 3, 1), d(2025, 4, 1), d(2025, 2, 1), d(2025, 3, 1)},
		{d(2025, 3, 5), d(2025, 3, 15), d(2025, 2, 23), d(2025, 3, 5)},
	} {
		if pf, pt := PreviousPeriod(c.from, c.to); !pf.Equal(c.pf) || !pt.Equal(c.pt) {
			t.Errorf("PreviousPeriod(%s, %s) = %s, %s", c.from, c.to, pf, pt)
		}
	}
}
