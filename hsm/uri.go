package hsm

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Secret holds a PIN or password. Every way of printing it (fmt verbs, slog, JSON)
// shows "***"; only Reveal gives the value, and only the PKCS#11 login and the key-file
// decryption call it.
type Secret struct{ v string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether no secret is held.
func (s Secret) IsZero() bool { return s.v == "" }

const redacted = "***"

func (s Secret) String() string             { return redacted }
func (s Secret) GoString() string           { return `hsm.Secret("` + redacted + `")` }
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }
func (s Secret) LogValue() slog.Value       { return slog.StringValue(redacted) }
func (s Secret) MarshalText() ([]byte, error) {
	return []byte(redacted), nil
}

// ErrBadURI is wrapped by every URI parse error.
var ErrBadURI = errors.New("hsm: bad key URI")

// ObjectType is the RFC 7512 "type" attribute.
type ObjectType string

// The object types of RFC 7512, section 2.3.
const (
	TypePrivate   ObjectType = "private"
	TypePublic    ObjectType = "public"
	TypeCert      ObjectType = "cert"
	TypeSecretKey ObjectType = "secret-key"
	TypeData      ObjectType = "data"
)

// PKCS11URI is a parsed RFC 7512 "pkcs11:" URI. An attribute given with an empty value
// ("serial=") is treated as absent: it constrains nothing.
type PKCS11URI struct {
	// Token attributes.
	Token        string // CKA token label
	Manufacturer string
	Serial       string
	Model        string
	// Library (module) attributes.
	LibraryManufacturer string
	LibraryDescription  string
	LibraryVersion      string // "M" or "M.N"
	// Object attributes.
	Object string // CKA_LABEL
	Type   ObjectType
	ID     []byte // CKA_ID, raw bytes
	// Slot attributes.
	SlotID           *uint
	SlotDescription  string
	SlotManufacturer string
	// Query attributes.
	ModulePath string
	ModuleName string
	PINValue   Secret
	PINSource  string // a file path or a file: URI
}

// The attribute names, in the order String writes them.
var (
	pkcs11PathAttrs = []string{
		"token", "manufacturer", "serial", "model",
		"library-manufacturer", "library-description", "library-version",
		"object", "type", "id",
		"slot-id", "slot-description", "slot-manufacturer",
	}
	pkcs11QueryAttrs = []string{"module-path", "module-name", "pin-value", "pin-source"}
)

// ParsePKCS11URI parses an RFC 7512 URI strictly: characters outside the RFC's sets
// must be percent-encoded, an unknown or repeated attribute is refused, "id" is decoded
// to raw bytes, and pin-value and pin-source may not both be given.
func ParsePKCS11URI(s string) (*PKCS11URI, error) {
	path, query, err := parseAttributes("pkcs11", s, pkcs11PathAttrs, isPathChar, pkcs11QueryAttrs)
	if err != nil {
		return nil, err
	}
	u := &PKCS11URI{
		Token:               path["token"],
		Manufacturer:        path["manufacturer"],
		Serial:              path["serial"],
		Model:               path["model"],
		LibraryManufacturer: path["library-manufacturer"],
		LibraryDescription:  path["library-description"],
		LibraryVersion:      path["library-version"],
		Object:              path["object"],
		Type:                ObjectType(path["type"]),
		SlotDescription:     path["slot-description"],
		SlotManufacturer:    path["slot-manufacturer"],
		ModulePath:          query["module-path"],
		ModuleName:          query["module-name"],
		PINValue:            NewSecret(query["pin-value"]),
		PINSource:           query["pin-source"],
	}
	if id := path["id"]; id != "" {
		u.ID = []byte(id)
	}
	switch u.Type {
	case "", TypePrivate, TypePublic, TypeCert, TypeSecretKey, TypeData:
	default:
		return nil, fmt.Errorf("%w: type %q is not one of private, public, cert, secret-key, data", ErrBadURI, string(u.Type))
	}
	if v := path["slot-id"]; v != "" {
		n, err := strconv.ParseUint(v, 10, strconv.IntSize)
		if err != nil {
			return nil, fmt.Errorf("%w: slot-id %q is not a decimal number", ErrBadURI, v)
		}
		id := uint(n)
		u.SlotID = &id
	}
	if v := u.LibraryVersion; v != "" && !isLibraryVersion(v) {
		return nil, fmt.Errorf("%w: library-version %q is not M or M.N", ErrBadURI, v)
	}
	if !u.PINValue.IsZero() && u.PINSource != "" {
		return nil, fmt.Errorf("%w: pin-value and pin-source are both given", ErrBadURI)
	}
	return u, nil
}

func isLibraryVersion(v string) bool {
	major, minor, hasMinor := strings.Cut(v, ".")
	if _, err := strconv.ParseUint(major, 10, 8); err != nil {
		return false
	}
	if hasMinor {
		if _, err := strconv.ParseUint(minor, 10, 8); err != nil {
			return false
		}
	}
	return true
}

// String formats the URI with a pin-value shown as "***".
func (u *PKCS11URI) String() string { return u.format(false) }

// GoString keeps %#v from printing the fields (and so the PIN) raw.
func (u *PKCS11URI) GoString() string { return "hsm.PKCS11URI(" + u.String() + ")" }

// LogValue makes slog print the redacted form.
func (u *PKCS11URI) LogValue() slog.Value { return slog.StringValue(u.String()) }

func (u *PKCS11URI) format(withPIN bool) string {
	var slot string
	if u.SlotID != nil {
		slot = strconv.FormatUint(uint64(*u.SlotID), 10)
	}
	path := map[string]string{
		"token": u.Token, "manufacturer": u.Manufacturer, "serial": u.Serial, "model": u.Model,
		"library-manufacturer": u.LibraryManufacturer, "library-description": u.LibraryDescription,
		"library-version": u.LibraryVersion, "object": u.Object, "type": string(u.Type),
		"id": string(u.ID), "slot-id": slot, "slot-description": u.SlotDescription,
		"slot-manufacturer": u.SlotManufacturer,
	}
	pin := redacted
	if withPIN {
		pin = u.PINValue.Reveal()
	}
	if u.PINValue.IsZero() {
		pin = ""
	}
	query := map[string]string{
		"module-path": u.ModulePath, "module-name": u.ModuleName,
		"pin-value": pin, "pin-source": u.PINSource,
	}
	return formatAttributes("pkcs11", pkcs11PathAttrs, path, isPathChar, pkcs11QueryAttrs, query, "id")
}

// pin resolves the PIN from pin-value or pin-source. A pin-source file's trailing
// newline is dropped, as a file written by echo has one.
func (u *PKCS11URI) pin() (Secret, error) {
	return resolvePIN(u.PINValue, u.PINSource)
}

func resolvePIN(value Secret, source string) (Secret, error) {
	if source == "" {
		return value, nil
	}
	path := source
	if strings.HasPrefix(path, "file:") {
		p, err := url.Parse(path)
		if err != nil || p.Path == "" {
			return Secret{}, fmt.Errorf("%w: pin-source %q is not a file path or file: URI", ErrBadURI, source)
		}
		path = p.Path
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Secret{}, fmt.Errorf("hsm: reading pin-source: %w", err)
	}
	return NewSecret(strings.TrimRight(string(b), "\r\n")), nil
}

// SoftKeyURI names a software key file, for demos and tests only:
//
//	softkey:path=/etc/kyso/demo.p12?pin-value=1234
//	softkey:path=/etc/kyso/demo-key.pem;cert=/etc/kyso/demo-chain.pem
//
// path is a PKCS#12 file (.p12 or .pfx, its password given by pin-value or pin-source)
// or a PEM file holding an unencrypted PKCS#8 (or PKCS#1/SEC 1) private key and,
// optionally, the certificate and its issuers. cert names a separate PEM file with the
// certificate first and then its issuers, nearest first. Values use the same
// percent-encoding as pkcs11: URIs (a path with ";" or "?" must encode them).
type SoftKeyURI struct {
	Path      string
	Cert      string
	PINValue  Secret
	PINSource string
}

var (
	softKeyPathAttrs  = []string{"path", "cert"}
	softKeyQueryAttrs = []string{"pin-value", "pin-source"}
)

// ParseSoftKeyURI parses a "softkey:" URI with the rules of ParsePKCS11URI.
func ParseSoftKeyURI(s string) (*SoftKeyURI, error) {
	path, query, err := parseAttributes("softkey", s, softKeyPathAttrs, isSoftKeyPathChar, softKeyQueryAttrs)
	if err != nil {
		return nil, err
	}
	u := &SoftKeyURI{Path: path["path"], Cert: path["cert"], PINValue: NewSecret(query["pin-value"]), PINSource: query["pin-source"]}
	if u.Path == "" {
		return nil, fmt.Errorf("%w: softkey: needs path=FILE", ErrBadURI)
	}
	if !u.PINValue.IsZero() && u.PINSource != "" {
		return nil, fmt.Errorf("%w: pin-value and pin-source are both given", ErrBadURI)
	}
	return u, nil
}

// String formats the URI with a pin-value shown as "***".
func (u *SoftKeyURI) String() string {
	pin := ""
	if !u.PINValue.IsZero() {
		pin = redacted
	}
	return formatAttributes("softkey", softKeyPathAttrs, map[string]string{"path": u.Path, "cert": u.Cert},
		isSoftKeyPathChar, softKeyQueryAttrs, map[string]string{"pin-value": pin, "pin-source": u.PINSource}, "")
}

// GoString keeps %#v from printing the fields raw.
func (u *SoftKeyURI) GoString() string { return "hsm.SoftKeyURI(" + u.String() + ")" }

// parseAttributes splits "scheme:a=1;b=2?c=3&d=4" into percent-decoded path and query
// attributes, refusing unknown and repeated names and characters RFC 7512 requires to
// be encoded.
func parseAttributes(scheme, s string, pathNames []string, pathChar func(byte) bool, queryNames []string) (path, query map[string]string, err error) {
	rest, ok := cutPrefixFold(s, scheme+":")
	if !ok {
		return nil, nil, fmt.Errorf("%w: does not start with %q", ErrBadURI, scheme+":")
	}
	pathPart, queryPart, hasQuery := strings.Cut(rest, "?")
	path, err = parseSection(pathPart, ";", pathNames, pathChar, "path")
	if err != nil {
		return nil, nil, err
	}
	query = map[string]string{}
	if hasQuery {
		query, err = parseSection(queryPart, "&", queryNames, isQueryChar, "query")
		if err != nil {
			return nil, nil, err
		}
	}
	return path, query, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

func parseSection(section, sep string, names []string, allowed func(byte) bool, where string) (map[string]string, error) {
	out := map[string]string{}
	if section == "" {
		return out, nil
	}
	seen := map[string]bool{}
	for _, attr := range strings.Split(section, sep) {
		name, raw, ok := strings.Cut(attr, "=")
		if !ok {
			return nil, fmt.Errorf("%w: %s attribute %q has no \"=\"", ErrBadURI, where, attr)
		}
		if !contains(names, name) {
			return nil, fmt.Errorf("%w: unknown %s attribute %q", ErrBadURI, where, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: attribute %q given twice", ErrBadURI, name)
		}
		seen[name] = true
		v, err := percentDecode(raw, allowed)
		if err != nil {
			return nil, fmt.Errorf("%w: attribute %q: %v", ErrBadURI, name, err)
		}
		if v != "" {
			out[name] = v
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func percentDecode(s string, allowed func(byte) bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return "", fmt.Errorf("truncated percent-encoding at byte %d", i)
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", fmt.Errorf("bad percent-encoding %q", s[i:i+3])
			}
			b.WriteByte(hi<<4 | lo)
			i += 2
		case allowed(c):
			b.WriteByte(c)
		default:
			return "", fmt.Errorf("character %q must be percent-encoded", c)
		}
	}
	return b.String(), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isPathChar is RFC 7512's pk11-pchar less pct-encoded: unreserved and
// pk11-path-res-avail.
func isPathChar(c byte) bool {
	return isUnreserved(c) || strings.IndexByte(":[]@!$'()*+,=&", c) >= 0
}

// isSoftKeyPathChar lets softkey: file paths keep their slashes unencoded.
func isSoftKeyPathChar(c byte) bool { return c == '/' || isPathChar(c) }

// isQueryChar is pk11-qchar less pct-encoded: unreserved and pk11-query-res-avail.
func isQueryChar(c byte) bool {
	return isUnreserved(c) || strings.IndexByte(":[]@!$'()*+,=/?|", c) >= 0
}

// formatAttributes writes attributes in a fixed order, percent-encoding every byte the
// section does not allow as is, and every byte of the attribute encodeAll.
func formatAttributes(scheme string, pathNames []string, path map[string]string, pathChar func(byte) bool, queryNames []string, query map[string]string, encodeAll string) string {
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteByte(':')
	first := true
	for _, n := range pathNames {
		if path[n] == "" {
			continue
		}
		if !first {
			b.WriteByte(';')
		}
		first = false
		b.WriteString(n)
		b.WriteByte('=')
		allowed := pathChar
		if n == encodeAll {
			allowed = func(byte) bool { return false }
		}
		b.WriteString(percentEncode(path[n], allowed))
	}
	first = true
	for _, n := range queryNames {
		if query[n] == "" {
			continue
		}
		if first {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		first = false
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(percentEncode(query[n], isQueryChar))
	}
	return b.String()
}

func percentEncode(s string, allowed func(byte) bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if allowed(c) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
