package config

import (
	"errors"
	"testing"
)

func TestTrustBuiltinAndCrypto(t *testing.T) {
	cfg, err := Load("", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Trust.UseBuiltin() || cfg.Verify.Crypto.Settings() != nil {
		t.Errorf("defaults: builtin %v, crypto %v", cfg.Trust.UseBuiltin(), cfg.Verify.Crypto.Settings())
	}
	cfg, err = Load(writeFile(t, "trust: {builtin: false}\nverify: {crypto: {SHA-1: 2030-01-01, RSA-1024: refused}}\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Trust.UseBuiltin() || cfg.Verify.Crypto.Settings()["SHA-1"] != "2030-01-01" || cfg.Verify.Crypto.Settings()["RSA-1024"] != "refused" {
		t.Errorf("builtin %v, crypto %v", cfg.Trust.UseBuiltin(), cfg.Verify.Crypto.Settings())
	}
	env := func(name string) (string, bool) {
		return map[string]string{"KYSO_TRUST_BUILTIN": "false"}[name], name == "KYSO_TRUST_BUILTIN"
	}
	if cfg, err = Load("", env); err != nil || cfg.Trust.UseBuiltin() {
		t.Errorf("KYSO_TRUST_BUILTIN=false: %v, %v", err, cfg.Trust.UseBuiltin())
	}
	_, err = Load(writeFile(t, "verify: {crypto: {SHA-1: soon}}\n"), noEnv)
	var ce *Error
	if !errors.As(err, &ce) || ce.Key != "verify.crypto.SHA-1" {
		t.Errorf("a bad date: %v", err)
	}
}
