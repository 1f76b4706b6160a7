package config

import (
	"fmt"
	"strings"

	"github.com/kyso-vn/kyso/pkg/fault"
)

// Registers says in which series ("sổ") of an agency's outgoing and incoming
// registers a document is numbered. Each series runs from 01 every year on its own
// (Decree 30/2020 Art. 15): secret documents have their own series (Art. 15.2), legal
// normative documents one per type (Art. 15.1), the rest share the main series ("").
//
// A classified document (Mật, Tối mật, Tuyệt mật) goes to SecretSeries when one is
// set; else a document whose type is listed under a series goes to that series; else
// to the main one.
//
// The default is the main series alone, as before series existed: every series counts
// from 01, and number and symbol must be unique in a year (Art. 15.1), so a series
// whose documents share the main series' symbol would collide at once (the store
// refuses such a number, CodeSymbolTaken). An agency turns series on together with
// the symbols that keep them apart:
//
//	registers:
//	  secret_series: Mật
//	  outgoing: [{name: QĐ, types: [QĐ]}, {name: NQ, types: [NQ]}]
type Registers struct {
	// SecretSeries is the series of classified documents, in both directions; ""
	// (the default) keeps them in the main series.
	SecretSeries string   `yaml:"secret_series"`
	Outgoing     []Series `yaml:"outgoing"`
	Incoming     []Series `yaml:"incoming"`
}

// Series is a register series and the document types (QĐ, NQ, …: the abbreviations
// of Decree 30 Appendix III, compared without regard to case) numbered in it.
type Series struct {
	Name  string   `yaml:"name"`
	Types []string `yaml:"types"`
}

// DefaultRegisters is the registers: section when none is given: the main series only.
func DefaultRegisters() Registers { return Registers{} }

var registersEnv = []EnvVar{
	{"KYSO_REGISTERS_SECRET_SERIES", "registers.secret_series", func(c *Config, v string) error { c.Registers.SecretSeries = v; return nil }},
}

func init() { EnvVars = append(EnvVars, registersEnv...) }

func (c *Config) validateRegisters(v *validator) {
	r := c.Registers
	if len(r.SecretSeries) > 64 {
		v.add("registers.secret_series", "longer than 64 bytes")
	}
	for dir, list := range map[string][]Series{"outgoing": r.Outgoing, "incoming": r.Incoming} {
		names, types := map[string]bool{}, map[string]string{}
		for i, s := range list {
			key := fmt.Sprintf("registers.%s[%d]", dir, i)
			switch {
			case strings.TrimSpace(s.Name) == "":
				v.add(key+".name", "a series needs a name (the main series takes every document no series lists)")
			case len(s.Name) > 64:
				v.add(key+".name", "longer than 64 bytes")
			case strings.EqualFold(s.Name, r.SecretSeries):
				v.add(key+".name", "%q is the secret series (registers.secret_series)", s.Name)
			case names[strings.ToLower(s.Name)]:
				v.add(key+".name", "series %q is listed twice", s.Name)
			}
			names[strings.ToLower(s.Name)] = true
			if len(s.Types) == 0 {
				v.add(key+".types", "list the document types numbered in series %q", s.Name)
			}
			for _, t := range s.Types {
				k := strings.ToLower(strings.TrimSpace(t))
				if other, dup := types[k]; dup {
					v.add(key+".types", "type %q is already in series %q", t, other)
				}
				types[k] = s.Name
			}
		}
	}
}

// SeriesFor chooses the series of a document of a direction ("outgoing" or
// "incoming"), a type and a confidentiality ("" when unclassified). A non-empty
// override names the series instead and is checked: it must be one of the direction's
// series (or "main" for the main one), a classified document stays in the secret
// series, and an unclassified one does not enter it. A bad override is fault.Invalid.
func (r Registers) SeriesFor(direction, docType, confidentiality, override string) (string, error) {
	list := r.Outgoing
	if direction == "incoming" {
		list = r.Incoming
	}
	classified := confidentiality != ""
	chosen := ""
	switch {
	case classified && r.SecretSeries != "":
		chosen = r.SecretSeries
	default:
		for _, s := range list {
			for _, t := range s.Types {
				if strings.EqualFold(strings.TrimSpace(t), strings.TrimSpace(docType)) && docType != "" {
					chosen = s.Name
				}
			}
			if chosen != "" {
				break
			}
		}
	}
	if override == "" {
		return chosen, nil
	}
	want := override
	if strings.EqualFold(override, "main") {
		want = ""
	}
	if classified && r.SecretSeries != "" {
		if want != r.SecretSeries {
			return "", fault.Errorf(fault.Invalid, "a %s document is numbered in the secret series %q, not %q", confidentiality, r.SecretSeries, override)
		}
		return want, nil
	}
	if want == "" {
		return "", nil
	}
	if r.SecretSeries != "" && want == r.SecretSeries {
		return "", fault.Errorf(fault.Invalid, "series %q is for classified documents; this one has no confidentiality", override)
	}
	known := []string{"main"}
	for _, s := range list {
		if s.Name == want {
			return want, nil
		}
		known = append(known, s.Name)
	}
	if r.SecretSeries != "" {
		known = append(known, r.SecretSeries+" (classified only)")
	}
	return "", fault.Errorf(fault.Invalid, "no %s series %q: the series are %s (registers: in the configuration)", direction, override, strings.Join(known, ", "))
}
