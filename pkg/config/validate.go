package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Error is one invalid setting. Key is the YAML path ("server.max_upload",
// "keys[2].uri") or the environment variable ("KYSO_MAX_UPLOAD") at fault.
type Error struct {
	Key string
	Msg string
}

func (e *Error) Error() string { return "config: " + e.Key + ": " + e.Msg }

// SigningRoles are the roles a key's allowed list may name as "role:<role>". The public
// role is not among them: the public may only verify.
var SigningRoles = []string{"admin", "system", "clerk", "leader"}

var keyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Validate checks every setting and returns all the faults found, each an *Error.
func (c *Config) Validate() error {
	var v validator
	s := c.Server
	if host, port, err := net.SplitHostPort(s.Listen); err != nil {
		v.add("server.listen", "%q is not host:port", s.Listen)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		v.add("server.listen", "port %q is not a number from 0 to 65535", port)
	} else if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		v.add("server.listen", "host %q is not an address or name", host)
	}
	v.positive("server.max_upload", int64(s.MaxUpload))
	v.duration("server.read_header_timeout", s.ReadHeaderTimeout)
	v.duration("server.read_timeout", s.ReadTimeout)
	v.duration("server.write_timeout", s.WriteTimeout)
	v.duration("server.idle_timeout", s.IdleTimeout)
	v.duration("server.shutdown_grace", s.ShutdownGrace)
	for i, p := range s.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				v.add(fmt.Sprintf("server.trusted_proxies[%d]", i), "%q is not an IP address or CIDR prefix", p)
			}
		}
	}

	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		if c.Store.DSN == "" {
			v.add("store.dsn", "is required with driver postgres")
		}
	default:
		v.add("store.driver", "%q is not sqlite or postgres", c.Store.Driver)
	}
	if strings.TrimSpace(c.Store.DataDir) == "" {
		v.add("store.data_dir", "must not be empty")
	}

	for i, m := range c.PKCS11.AllowedModules {
		if !filepath.IsAbs(m) {
			v.add(fmt.Sprintf("pkcs11.allowed_modules[%d]", i), "%q is not an absolute path", m)
		}
	}
	c.validateKeys(&v)

	for i, a := range c.Trust.Anchors {
		if strings.TrimSpace(a) == "" {
			v.add(fmt.Sprintf("trust.anchors[%d]", i), "must not be empty")
		}
	}
	for i, u := range c.TSA.URLs {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			v.add(fmt.Sprintf("tsa.urls[%d]", i), "%q is not an http or https URL", u)
		}
	}
	v.duration("tsa.timeout", c.TSA.Timeout)
	v.duration("revocation.ocsp_timeout", c.Revocation.OCSPTimeout)
	v.duration("revocation.crl_timeout", c.Revocation.CRLTimeout)
	if !slices.Contains([]string{"json", "text", "auto"}, c.Log.Format) {
		v.add("log.format", "%q is not json, text or auto", c.Log.Format)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		v.add("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	v.positive("rate_limit.public_verify_per_minute", int64(c.RateLimit.PublicVerifyPerMinute))
	v.duration("signatures.pending_expiry", c.Signatures.PendingExpiry)
	if c.CSC.Enabled && strings.TrimSpace(c.CSC.SecretFile) == "" {
		v.add("csc.secret_file", "is required when csc.enabled is true")
	}
	c.validateRemote(&v)
	c.validateServerLimits(&v)
	c.validateVerify(&v)
	c.validateCrypto(&v)
	c.validatePublic(&v)
	c.validateRegisters(&v)
	return errors.Join(v.errs...)
}

func (c *Config) validateKeys(v *validator) {
	seen := map[string]int{}
	for i, k := range c.Keys {
		at := func(field string) string { return fmt.Sprintf("keys[%d].%s", i, field) }
		if !keyName.MatchString(k.Name) {
			v.add(at("name"), "%q must be 1-64 letters, digits, '.', '_' or '-'", k.Name)
		} else if j, dup := seen[k.Name]; dup {
			v.add(at("name"), "%q is already the name of keys[%d]", k.Name, j)
		} else {
			seen[k.Name] = i
		}
		c.validateKeyURI(v, at("uri"), k.URI)
		for j, a := range k.Allowed {
			role, isRole := strings.CutPrefix(a, "role:")
			switch {
			case strings.TrimSpace(a) == "":
				v.add(fmt.Sprintf("%s[%d]", at("allowed"), j), "must not be empty")
			case isRole && !slices.Contains(SigningRoles, role):
				v.add(fmt.Sprintf("%s[%d]", at("allowed"), j), "role %q cannot sign (roles: %s)", role, strings.Join(SigningRoles, ", "))
			}
		}
	}
}

// validateKeyURI refuses a PIN written into the configuration and a PKCS#11 module
// outside the allow-list. It never repeats the URI in its message, since a refused URI
// may be one that holds a PIN.
func (c *Config) validateKeyURI(v *validator, key, uri string) {
	scheme, rest, ok := strings.Cut(uri, ":")
	switch {
	case !ok || rest == "":
		v.add(key, "must be a pkcs11: or softkey: URI")
		return
	case scheme != "pkcs11" && scheme != "softkey":
		v.add(key, "scheme %q is not pkcs11 or softkey", scheme)
		return
	}
	attrs := uriAttributes(rest)
	if _, has := attrs["pin-value"]; has {
		v.add(key, "pin-value is not allowed in the configuration; use pin-source=file:... so the PIN stays out of files that are copied and logged")
	}
	if scheme != "pkcs11" {
		return
	}
	// The key provider would load any module when its allow-list is empty; here a
	// pkcs11: key must name a module, and the module must be listed.
	m, has := attrs["module-path"]
	switch {
	case !has || m == "":
		v.add(key, "a pkcs11: URI must name its module with module-path=, one of pkcs11.allowed_modules")
	case !slices.ContainsFunc(c.PKCS11.AllowedModules, func(a string) bool { return filepath.Clean(a) == filepath.Clean(m) }):
		v.add(key, "module-path %q is not in pkcs11.allowed_modules", m)
	}
}

// uriAttributes reads the attributes of an RFC 7512 URI body (path attributes split by
// ';', query attributes by '&'), percent-decoded. Malformed escapes keep their raw text:
// this is a configuration check, and the key provider parses the URI for real.
func uriAttributes(body string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.FieldsFunc(body, func(r rune) bool { return r == ';' || r == '?' || r == '&' }) {
		name, val, _ := strings.Cut(part, "=")
		if dec, err := url.PathUnescape(val); err == nil {
			val = dec
		}
		out[strings.ToLower(name)] = val
	}
	return out
}

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	return true
}

type validator struct{ errs []error }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) positive(key string, n int64) {
	if n <= 0 {
		v.add(key, "must be > 0")
	}
}

func (v *validator) duration(key string, d time.Duration) {
	if d <= 0 {
		v.add(key, "must be > 0 (a duration such as 30s)")
	}
}
