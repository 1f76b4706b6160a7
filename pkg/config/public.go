package config

import (
	"fmt"
	"net/url"
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
	// BaseURL is the address the public reaches this server at (https://…, no path
	// after the host but an optional prefix). Set, issuing a document of a public
	// register draws a QR code on its first page linking to its lookup page
	// BaseURL/tra-cuu/{identifier}. Empty (the default): no QR code is drawn.
	BaseURL string `yaml:"base_url"`
}

// agencyCode is the shape of an agency identifier code: digits, capital letters and
// dots, at most 35 characters (config stays below pkg/docid, so it checks the shape
// only).
var agencyCode = regexp.MustCompile(`^[0-9A-Z][0-9A-Z.]{0,34}$`)

var publicEnv = []EnvVar{
	{"KYSO_PUBLIC_REGISTERS", "public.registers", func(c *Config, v string) error { c.Public.Registers = list(v); return nil }},
	{"KYSO_PUBLIC_BASE_URL", "public.base_url", func(c *Config, v string) error { c.Public.BaseURL = v; return nil }},
}

func init() { EnvVars = append(EnvVars, publicEnv...) }

func (c *Config) validatePublic(v *validator) {
	if b := c.Public.BaseURL; b != "" {
		u, err := url.Parse(b)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			v.add("public.base_url", "%q is not an http(s) address such as https://vanban.example.gov.vn (no query, no fragment, no user)", b)
		}
	}
	for i, code := range c.Public.Registers {
		if !agencyCode.MatchString(code) {
			v.add(fmt.Sprintf("public.registers[%d]", i), "%q is not an agency identifier code (digits, capital letters and dots, e.g. 000.00.00.H43)", code)
		}
	}
}
