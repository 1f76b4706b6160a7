package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/pkg/fault"
)

// TestRegisterSeries: the series come from the type and the confidentiality, by
// default the main one alone; an override is checked against the configuration.
func TestRegisterSeries(t *testing.T) {
	def, err := Load("", noEnv)
	if err != nil || def.Registers.SecretSeries != "" || len(def.Registers.Outgoing) != 0 {
		t.Fatalf("default: %+v %v", def.Registers, err)
	}
	for _, c := range [][3]string{{"QĐ", "secret", ""}, {"CV", "", ""}, {"CV", "main", ""}} {
		if got, err := def.Registers.SeriesFor("outgoing", c[0], c[1], ""); err != nil || got != "" {
			t.Errorf("default, %v: %q %v", c, got, err)
		}
	}
	if _, err := def.Registers.SeriesFor("outgoing", "CV", "", "Mật"); !errors.Is(err, fault.Invalid) {
		t.Errorf("default, override Mật: %v", err)
	}
	cfg, err := Load(writeFile(t, `registers:
  secret_series: Mật
  outgoing: [{name: QĐ, types: [QĐ, qd]}, {name: NQ, types: [NQ]}]
  incoming: [{name: Đơn thư, types: [Đơn]}]`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Registers
	for _, c := range []struct {
		dir, typ, conf, override, want, err string
	}{
		{"outgoing", "QĐ", "", "", "QĐ", ""},
		{"outgoing", "qđ", "", "", "QĐ", ""}, // case folded
		{"outgoing", "NQ", "", "", "NQ", ""},
		{"outgoing", "CV", "", "", "", ""},
		{"outgoing", "QĐ", "confidential", "", "Mật", ""},
		{"outgoing", "CV", "top_secret", "", "Mật", ""},
		{"incoming", "Đơn", "", "", "Đơn thư", ""},
		{"incoming", "QĐ", "", "", "", ""},
		{"outgoing", "CV", "", "NQ", "NQ", ""},
		{"outgoing", "QĐ", "", "main", "", ""},
		{"outgoing", "CV", "", "Hội đồng", "", "no outgoing series"},
		{"outgoing", "CV", "", "Mật", "", "for classified documents"},
		{"outgoing", "CV", "secret", "QĐ", "", "numbered in the secret series"},
		{"outgoing", "CV", "secret", "Mật", "Mật", ""},
		{"incoming", "CV", "", "QĐ", "", "no incoming series"},
	} {
		got, err := r.SeriesFor(c.dir, c.typ, c.conf, c.override)
		if c.err != "" {
			if !errors.Is(err, fault.Invalid) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%+v: %q %v, want an Invalid %q", c, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%+v: %q %v", c, got, err)
		}
	}
	for yaml, key := range map[string]string{
		"registers: {outgoing: [{name: QĐ, types: [QĐ]}, {name: QĐ2, types: [qđ]}]}": "registers.outgoing[1].types",
		"registers: {outgoing: [{name: '', types: [QĐ]}]}":                           "registers.outgoing[0].name",
		"registers: {secret_series: Mật, outgoing: [{name: Mật, types: [QĐ]}]}":      "registers.outgoing[0].name",
		"registers: {incoming: [{name: X}]}":                                         "registers.incoming[0].types",
	} {
		_, err := Load(writeFile(t, yaml), noEnv)
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != key {
			t.Errorf("%s: %v, want an error at %s", yaml, err, key)
		}
	}
	cfg, err = Load("", envMap(map[string]string{"KYSO_REGISTERS_SECRET_SERIES": "M"}))
	if err != nil || cfg.Registers.SecretSeries != "M" {
		t.Errorf("from the environment: %+v %v", cfg.Registers, err)
	}
}
