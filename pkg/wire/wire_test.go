package wire

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/kyso-vn/kyso/pkg/fault"
)

// TestAlgorithmNamesRoundTrip: every name AlgorithmName gives reads back through
// SignerOpts to the same options, and an unknown name is an Invalid fault.
func TestAlgorithmNamesRoundTrip(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 1024)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, c := range []struct {
		pub  crypto.PublicKey
		opts crypto.SignerOpts
		want string
	}{
		{&rk.PublicKey, crypto.SHA256, "RSA-PKCS1v15-SHA-256"},
		{&rk.PublicKey, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA384}, "RSA-PSS-SHA-384"},
		{&ek.PublicKey, crypto.SHA512, "ECDSA-SHA-512"},
	} {
		name := AlgorithmName(c.pub, c.opts)
		if name != c.want {
			t.Errorf("AlgorithmName = %q, want %q", name, c.want)
		}
		o, err := SignerOpts(name)
		if err != nil || o.HashFunc() != c.opts.HashFunc() {
			t.Errorf("SignerOpts(%q) = %v, %v", name, o, err)
		}
		if _, pss := c.opts.(*rsa.PSSOptions); pss {
			if _, ok := o.(*rsa.PSSOptions); !ok {
				t.Errorf("SignerOpts(%q) lost PSS", name)
			}
		}
	}
	for _, bad := range []string{"", "RSA-PSS-SHA-1", "DSA-SHA-256"} {
		if _, err := SignerOpts(bad); fault.KindOf(err) != fault.Invalid {
			t.Errorf("SignerOpts(%q): %v, want an Invalid fault", bad, err)
		}
	}
}
