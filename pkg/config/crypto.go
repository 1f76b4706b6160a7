package config

import (
	"strings"
	"time"
)

// The trust list and the cryptographic constraints of verification.
//
//	trust:
//	  builtin: true            # the built-in Vietnamese roots and CAs (default)
//	verify:
//	  crypto:                  # the first day an algorithm is refused, "none" or "refused"
//	    SHA-1: 2009-01-01      # EU DSS's default; Kyso's defaults are signer/verify's DefaultCryptoPolicy
//	    RSA-1024: refused
//
// The algorithm names are signer/verify's (MD5, SHA-1, SHA-224, SHA-256, SHA-384,
// SHA-512, RSA-1024, RSA-1536, RSA-2048, RSA-3072, ECDSA-224, ECDSA-256, ECDSA-384,
// ECDSA-521, Ed25519); a name it does not know is refused when the server starts.

// CryptoTable maps algorithm names to "YYYY-MM-DD", "none" or "refused".
type CryptoTable map[string]string

// Settings is the table, empty when not configured.
func (t *CryptoTable) Settings() map[string]string {
	if t == nil {
		return nil
	}
	return *t
}

// UseBuiltin tells whether the built-in Vietnamese trust list is used: unless
// trust.builtin is false.
func (t Trust) UseBuiltin() bool { return t.Builtin == nil || *t.Builtin }

var trustEnv = []EnvVar{
	{"KYSO_TRUST_BUILTIN", "trust.builtin", func(c *Config, v string) error {
		var b bool
		if err := setBool(&b, v); err != nil {
			return err
		}
		c.Trust.Builtin = &b
		return nil
	}},
}

func init() { EnvVars = append(EnvVars, trustEnv...) }

// validateCrypto checks the form of verify.crypto's values.
func (c *Config) validateCrypto(v *validator) {
	for name, val := range c.Verify.Crypto.Settings() {
		key := "verify.crypto." + name
		if strings.TrimSpace(name) == "" {
			v.add("verify.crypto", "an algorithm name is empty")
			continue
		}
		switch val = strings.TrimSpace(val); val {
		case "none", "refused":
			continue
		}
		if _, err := time.Parse("2006-01-02", val); err != nil {
			v.add(key, "%q is not a date (YYYY-MM-DD), none or refused", val)
		}
	}
}
