package config

import (
	"errors"
	"slices"
	"testing"
)

// TestPublicRegisters: public.registers takes agency codes from the file or from
// KYSO_PUBLIC_REGISTERS, defaults to none, and names the bad entry.
func TestPublicRegisters(t *testing.T) {
	cfg, err := Load("", noEnv)
	if err != nil || len(cfg.Public.Registers) != 0 {
		t.Fatalf("default: %v %v (no register is public unless configured)", cfg.Public.Registers, err)
	}
	cfg, err = Load(writeFile(t, "public: {registers: [000.00.00.H43, 000.00.00.G22]}"), noEnv)
	if err != nil || !slices.Equal(cfg.Public.Registers, []string{"000.00.00.H43", "000.00.00.G22"}) {
		t.Fatalf("from the file: %v %v", cfg.Public.Registers, err)
	}
	cfg, err = Load("", envMap(map[string]string{"KYSO_PUBLIC_REGISTERS": "000.00.00.H41,000.00.00.H43"}))
	if err != nil || !slices.Equal(cfg.Public.Registers, []string{"000.00.00.H41", "000.00.00.H43"}) {
		t.Fatalf("from the environment: %v %v", cfg.Public.Registers, err)
	}
	_, err = Load(writeFile(t, "public: {registers: [000.00.00.H43, 'ubnd ninh thuận']}"), noEnv)
	var ce *Error
	if !errors.As(err, &ce) || ce.Key != "public.registers[1]" {
		t.Fatalf("a bad code: %v", err)
	}
}

// TestPublicBaseURL: public.base_url takes an http(s) address from the file or from
// KYSO_PUBLIC_BASE_URL, defaults to none (no QR code), and refuses what is not one.
func TestPublicBaseURL(t *testing.T) {
	cfg, err := Load("", noEnv)
	if err != nil || cfg.Public.BaseURL != "" {
		t.Fatalf("default: %q %v", cfg.Public.BaseURL, err)
	}
	cfg, err = Load("", envMap(map[string]string{"KYSO_PUBLIC_BASE_URL": "https://vanban.ninhthuan.gov.vn"}))
	if err != nil || cfg.Public.BaseURL != "https://vanban.ninhthuan.gov.vn" {
		t.Fatalf("from the environment: %q %v", cfg.Public.BaseURL, err)
	}
	for _, bad := range []string{"vanban.ninhthuan.gov.vn", "ftp://x.vn", "https://x.vn/?a=1", "https://u:p@x.vn", "https://"} {
		_, err = Load(writeFile(t, "public: {base_url: '"+bad+"'}"), noEnv)
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != "public.base_url" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
