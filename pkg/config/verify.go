package config

import "time"

// Verify bounds what verifying one document may cost, so that the public verifier
// cannot be made to fall over by one small hostile file. The defaults are those of
// signer/pdf (pdf.DefaultLimits; a test in app keeps the two equal): every real
// document Kyso has met verifies far inside them. Exceeding one refuses the document
// with a problem that names the limit and its key (the CLI's exit status 2).
type Verify struct {
	// MaxRevisions bounds the revisions (incremental updates) of one document.
	MaxRevisions int `yaml:"max_revisions"`
	// MaxObjects bounds the objects read from one document, over all its revisions.
	MaxObjects int `yaml:"max_objects"`
	// MaxXrefEntries bounds the cross-reference entries read from one document.
	MaxXrefEntries int `yaml:"max_xref_entries"`
	// MaxDecodedBytes bounds the bytes decompressed from one document's streams.
	MaxDecodedBytes ByteSize `yaml:"max_decoded_bytes"`
	// Timeout bounds the time one verification may take.
	Timeout time.Duration `yaml:"timeout"`
	// Crypto overrides the dated cryptographic constraints (crypto.go); nil: none.
	Crypto *CryptoTable `yaml:"crypto"`
}

func defaultVerify() Verify {
	return Verify{MaxRevisions: 1000, MaxObjects: 2_000_000, MaxXrefEntries: 2_000_000,
		MaxDecodedBytes: 256 * MiB, Timeout: 60 * time.Second}
}

// verifyEnv are the verify: section's environment overrides.
var verifyEnv = []EnvVar{
	{"KYSO_VERIFY_MAX_REVISIONS", "verify.max_revisions", func(c *Config, v string) error { return setInt(&c.Verify.MaxRevisions, v) }},
	{"KYSO_VERIFY_MAX_OBJECTS", "verify.max_objects", func(c *Config, v string) error { return setInt(&c.Verify.MaxObjects, v) }},
	{"KYSO_VERIFY_MAX_XREF_ENTRIES", "verify.max_xref_entries", func(c *Config, v string) error { return setInt(&c.Verify.MaxXrefEntries, v) }},
	{"KYSO_VERIFY_MAX_DECODED_BYTES", "verify.max_decoded_bytes", func(c *Config, v string) error { return setSize(&c.Verify.MaxDecodedBytes, v) }},
	{"KYSO_VERIFY_TIMEOUT", "verify.timeout", func(c *Config, v string) error { return setDuration(&c.Verify.Timeout, v) }},
}

func init() { EnvVars = append(EnvVars, verifyEnv...) }

func (c *Config) validateVerify(v *validator) {
	l := c.Verify
	bounded := func(key string, n, most int64) {
		switch {
		case n <= 0:
			v.add(key, "must be > 0")
		case n > most:
			v.add(key, "%d is more than %d, which no document needs and no machine survives", n, most)
		}
	}
	bounded("verify.max_revisions", int64(l.MaxRevisions), 100_000)
	bounded("verify.max_objects", int64(l.MaxObjects), 100_000_000)
	bounded("verify.max_xref_entries", int64(l.MaxXrefEntries), 100_000_000)
	bounded("verify.max_decoded_bytes", int64(l.MaxDecodedBytes), int64(16*GiB))
	v.duration("verify.timeout", l.Timeout)
}
