package config

import (
	"fmt"
	"regexp"
)

// Public is what the public may see beyond verifying a file: the lookup page
// /tra-cuu/{identifier} of issued documents.
type Public struct {
	// Registers lists the agencies (identifier codes, Decision 20/2020/QĐ-TTg) whose
	// register of issued (outgoing) documents is public: anyone may look up such a
	// document by its edXML identifier and compare the copy they hold. Confidential
	// documents are never shown, whatever this says. Empty (the default): no register
	// is public and every lookup answers "not found".
	Registers []string `yaml:"registers"`
}

// agencyCode is the shape of an agency identifier code: digits, capital letters and
// dots, at most 35 characters (config stays below pkg/docid, so it checks the shape
// only).
var agencyCode = regexp.MustCompile(`^[0-9A-Z][0-9A-Z.]{0,34}$`)

var publicEnv = []EnvVar{
	{"KYSO_PUBLIC_REGISTERS", "public.registers", func(c *Config, v string) error { c.Public.Registers = list(v); return nil }},
}

func init() { EnvVars = append(EnvVars, publicEnv...) }

func (c *Config) validatePublic(v *validator) {
	for i, code := range c.Public.Registers {
		if !agencyCode.MatchString(code) {
			v.add(fmt.Sprintf("public.registers[%d]", i), "%q is not an agency identifier code (digits, capital letters and dots, e.g. 000.00.00.H43)", code)
		}
	}
}
