package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVerifyDefaultsFileAndEnv(t *testing.T) {
	cfg, err := Load("", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Verify != defaultVerify() || cfg.Verify.MaxRevisions != 1000 || cfg.Verify.Timeout != time.Minute {
		t.Errorf("verify defaults = %+v", cfg.Verify)
	}
	cfg, err = Load(writeFile(t, "verify: {max_revisions: 50, max_decoded_bytes: 64MiB, timeout: 10s}\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Verify.MaxRevisions != 50 || cfg.Verify.MaxDecodedBytes != 64*MiB || cfg.Verify.Timeout != 10*time.Second || cfg.Verify.MaxObjects != 2_000_000 {
		t.Errorf("verify = %+v", cfg.Verify)
	}
	env := func(name string) (string, bool) {
		v, ok := map[string]string{"KYSO_VERIFY_TIMEOUT": "5s", "KYSO_VERIFY_MAX_OBJECTS": "1000"}[name]
		return v, ok
	}
	cfg, err = Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Verify.Timeout != 5*time.Second || cfg.Verify.MaxObjects != 1000 {
		t.Errorf("verify from the environment = %+v", cfg.Verify)
	}
}

func TestVerifyValidationNamesTheKey(t *testing.T) {
	cases := []struct{ yaml, key, inText string }{
		{"verify: {max_revisions: 0}", "verify.max_revisions", "> 0"},
		{"verify: {max_objects: -1}", "verify.max_objects", "> 0"},
		{"verify: {max_xref_entries: 1000000000}", "verify.max_xref_entries", "more than"},
		{"verify: {max_decoded_bytes: 0}", "verify.max_decoded_bytes", "> 0"},
		{"verify: {timeout: 0s}", "verify.timeout", "> 0"},
	}
	for _, c := range cases {
		_, err := Load(writeFile(t, c.yaml), noEnv)
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != c.key || !strings.Contains(err.Error(), c.inText) {
			t.Errorf("%s: got %v, want an error on %s saying %q", c.yaml, err, c.key, c.inText)
		}
	}
	if _, err := Load(writeFile(t, "verify: {max_pages: 3}"), noEnv); err == nil {
		t.Error("an unknown verify key is accepted")
	}
}
