package pki_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
)

func committed(t testing.TB) *testpki.TestPKI {
	t.Helper()
	p, err := testpki.Load(testenv.TestPKIDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func startTSA(t *testing.T, p *testpki.TestPKI, o pkitest.TSAOptions) *pkitest.TSA {
	return pkitest.StartTSA(t, p.TSA.Cert, p.TSA.Key, p.TSA.Chain, o)
}

// deadURL is a loopback address nothing listens on.
func deadURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/tsa"
}

func TestTSAClient(t *testing.T) {
	p := committed(t)
	digest := sha256.Sum256([]byte("Số: 05/UBND-VP"))
	tests := []struct {
		name    string
		fault   pkitest.Fault
		wantErr error // nil: success
	}{
		{"good reply", pkitest.NoFault, nil},
		{"wrong imprint rejected", pkitest.FaultWrongImprint, pki.ErrTSAMismatch},
		{"wrong nonce rejected", pkitest.FaultWrongNonce, pki.ErrTSAMismatch},
		{"missing nonce rejected", pkitest.FaultNoNonce, pki.ErrTSAMismatch},
		{"status rejection", pkitest.FaultRejected, pki.ErrTSARejected},
		{"HTTP 500", pkitest.FaultHTTP500, pki.ErrTSAUnavailable},
		{"garbage reply", pkitest.FaultGarbage, pki.ErrTimestampInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tsa := startTSA(t, p, pkitest.TSAOptions{Fault: tt.fault})
			c := &pki.TSAClient{URLs: []string{tsa.URL}, Timeout: 5 * time.Second}
			before := time.Now().Add(-time.Second)
			token, err := c.Timestamp(context.Background(), digest[:], crypto.SHA256)
			if tsa.Requests() != 1 {
				t.Errorf("TSA got %d requests, want 1", tsa.Requests())
			}
			if tt.wantErr != nil {
				if err == nil || !errors.Is(err, tt.wantErr) || !errors.Is(err, pki.ErrTSAUnavailable) {
					t.Fatalf("err = %v, want %v (and ErrTSAUnavailable)", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ti, err := pki.ParseTimestampToken(token)
			if err != nil {
				t.Fatal(err)
			}
			if err := ti.CheckImprint(crypto.SHA256, digest[:]); err != nil {
				t.Error(err)
			}
			if !ti.Signer.Equal(p.TSA.Cert) || ti.GenTime.Before(before.Truncate(time.Second)) || ti.GenTime.After(time.Now()) {
				t.Errorf("signer %q genTime %v", ti.Signer.Subject.CommonName, ti.GenTime)
			}
		})
	}
}

func TestTSAClientFallsBackToNextURL(t *testing.T) {
	p := committed(t)
	broken := startTSA(t, p, pkitest.TSAOptions{Fault: pkitest.FaultWrongNonce})
	good := startTSA(t, p, pkitest.TSAOptions{})
	c := &pki.TSAClient{URLs: []string{deadURL(t), broken.URL, good.URL}, Timeout: 2 * time.Second}
	digest := sha512.Sum384([]byte("document"))
	token, err := c.Timestamp(context.Background(), digest[:], crypto.SHA384)
	if err != nil {
		t.Fatal(err)
	}
	if broken.Requests() != 1 || good.Requests() != 1 {
		t.Errorf("requests: broken %d, good %d; want 1 each", broken.Requests(), good.Requests())
	}
	ti, err := pki.ParseTimestampToken(token)
	if err != nil {
		t.Fatal(err)
	}
	if err := ti.CheckImprint(crypto.SHA384, digest[:]); err != nil {
		t.Error(err)
	}
}

func TestTSAClientTimeouts(t *testing.T) {
	p := committed(t)
	digest := sha256.Sum256([]byte("x"))
	t.Run("per-URL timeout moves on", func(t *testing.T) {
		slow := startTSA(t, p, pkitest.TSAOptions{Delay: 5 * time.Second})
		good := startTSA(t, p, pkitest.TSAOptions{})
		c := &pki.TSAClient{URLs: []string{slow.URL, good.URL}, Timeout: 200 * time.Millisecond}
		start := time.Now()
		if _, err := c.Timestamp(context.Background(), digest[:], crypto.SHA256); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v with a 200ms per-URL timeout", d)
		}
	})
	t.Run("context deadline ends everything", func(t *testing.T) {
		slow := startTSA(t, p, pkitest.TSAOptions{Delay: 5 * time.Second})
		c := &pki.TSAClient{URLs: []string{slow.URL, slow.URL}, Timeout: 10 * time.Second}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Timestamp(ctx, digest[:], crypto.SHA256)
		if !errors.Is(err, pki.ErrTSAUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrTSAUnavailable caused by the deadline", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v with a 300ms context", d)
		}
		if slow.Requests() != 1 {
			t.Errorf("second URL tried after the context ended (%d requests)", slow.Requests())
		}
	})
}

func TestTSAClientRefusesBadInput(t *testing.T) {
	c := &pki.TSAClient{URLs: []string{"http://127.0.0.1:1/"}}
	if _, err := c.Timestamp(context.Background(), make([]byte, 20), crypto.SHA1); !errors.Is(err, pki.ErrUnsupportedAlgorithm) {
		t.Errorf("SHA-1: err = %v", err)
	}
	if _, err := c.Timestamp(context.Background(), make([]byte, 31), crypto.SHA256); !errors.Is(err, pki.ErrTSAMismatch) {
		t.Errorf("short digest: err = %v", err)
	}
}
