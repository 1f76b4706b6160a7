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
