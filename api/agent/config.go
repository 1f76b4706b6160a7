package agent

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kyso-vn/kyso/internal/durable"
	"github.com/kyso-vn/kyso/pkg/pki"
)

// ErrConfig marks a configuration the agent cannot run with.
var ErrConfig = errors.New("agent: bad configuration")

// Module is a PKCS#11 module the agent looks for tokens in.
type Module struct {
	// Path of the module's shared library. The paths of the vendors' modules are
	// configuration, never built in (see README.md for common ones).
	Path string `yaml:"path"`
	// Name is shown to people ("OpenSC", "Viettel-CA", …); default: the file name.
	Name string `yaml:"name,omitempty"`
	// Reinitialize finalises and initialises the module at every poll while nothing is
	// signing. SoftHSM2 needs it to see a token created after it was initialised;
	// modules of real USB tokens report insertion and removal through C_GetSlotList.
	Reinitialize bool `yaml:"reinitialize,omitempty"`
}

// Pairing is a Kyso server this agent was paired with, for one person, and the web
// origin that asked. On a PC people share, each person signed in to the web
// application pairs for themselves: a pairing is one per (server, person), and a
// second person's pairing never replaces the first's.
type Pairing struct {
	Server string `yaml:"server"` // base URL of the Kyso server, e.g. https://kyso.example.vn
	Origin string `yaml:"origin"` // the web page's origin that paired
	// Person is the person signed in to the web application that paired, as it names
	// them (a login or user id); empty when the page named no one, and then the API
	// key stands for the person (PersonKey).
	Person string `yaml:"person,omitempty"`
	// APIKey is the key the agent calls the server with. It is kept only in this file
	// (mode 0600) and never logged.
	APIKey string `yaml:"api_key"`
	// TokenSHA256 is the hex SHA-256 of the pairing token the web page presents; the
	// token itself is handed to the page once and not kept.
	TokenSHA256 string    `yaml:"token_sha256"`
	PairedAt    time.Time `yaml:"paired_at"`
}

// String leaves the API key out, so that a Pairing printed by mistake leaks nothing.
func (p Pairing) String() string {
	return fmt.Sprintf("pairing{server=%s origin=%s person=%s}", p.Server, p.Origin, p.Person)
}

// PersonKey is who the pairing is for: Person, or — when the page named no one — a
// fingerprint of the API key, which on a Kyso server is one client's.
func (p Pairing) PersonKey() string {
	if p.Person != "" {
		return "person:" + p.Person
	}
	sum := sha256.Sum256([]byte(p.APIKey))
	return "api-key:" + hex.EncodeToString(sum[:8])
}

// Config is the agent's configuration file (YAML, os.UserConfigDir()/kyso-agent/
// config.yaml), written with mode 0600 because it holds the servers' API keys.
type Config struct {
	// Listen is the loopback address of the local page and API (default 127.0.0.1:8789).
	Listen  string   `yaml:"listen,omitempty"`
	Modules []Module `yaml:"modules"`
	// AllowedOrigins are the exact web origins ("https://kyso.example.vn") whose pages
	// may call the local API. No wildcard is accepted.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// PINLockout is how long the PIN prompt stays locked after MaxPINFailures wrong
	// PINs in a row (default 5m).
	PINLockout time.Duration `yaml:"pin_lockout,omitempty"`
	// MaxPINFailures is how many wrong PINs in a row, for one job or one web origin,
	// lock the prompt (default 3); it is also the most wrong PINs the agent gives one
	// token between two good ones, however much time passes. Keep it below the tokens'
	// own counter (usually 5 to 10) so the token never locks.
	MaxPINFailures int `yaml:"max_pin_failures,omitempty"`
	// ChainFiles are PEM files of issuer certificates (the CA's intermediates, its
	// root) that complete the chains of the tokens' certificates when the token
	// carries only its own: offline signatures embed them, and the token list warns
	// of a certificate whose chain they do not complete.
	ChainFiles []string  `yaml:"chain_files,omitempty"`
	Pairings   []Pairing `yaml:"pairings,omitempty"`

	path     string
	repaired os.FileMode
	mu       sync.Mutex
}

// DefaultConfigPath is os.UserConfigDir()/kyso-agent/config.yaml.
func DefaultConfigPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("agent: no user configuration directory: %w", err)
	}
	return filepath.Join(dir, "kyso-agent", "config.yaml"), nil
}

// LoadConfig reads the configuration at path; a missing file is an empty configuration
// that Save will create.
//
// The file holds the servers' API keys and names the PKCS#11 modules the agent loads
// as code, so on Unix it must be the user's own and no one else's to change or read:
//
//   - owned by another user, or writable by group or others: refused — someone else
//     may have changed it, and repairing the mode would accept their change;
//   - readable by others and holding pairings (API keys): refused with the exact
//     chmod command — the keys may have been read, and the person must know;
//   - readable by others and holding no API key (a file written by hand, 0644 by the
//     umask): repaired to 0600 in place, and Repaired says so for the log.
func LoadConfig(path string) (*Config, error) {
	c := &Config{path: path}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, c.check()
	}
	if err != nil {
		return nil, fmt.Errorf("agent: reading configuration: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("agent: reading configuration: %w", err)
	}
	if err := yaml.Unmarshal(raw, c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	// Windows has no mode bits (a file reads as 0666): the ACL of the user's profile
	// directory protects the file there.
	if runtime.GOOS != "windows" {
		if err := c.guardMode(st); err != nil {
			return nil, err
		}
	}
	return c, c.check()
}

// guardMode applies LoadConfig's rules on the file's owner and mode.
func (c *Config) guardMode(st os.FileInfo) error {
	perm := st.Mode().Perm()
	fix := "chmod 600 " + ShellQuote(c.path)
	if uid, other := ownedByOther(st); other {
		return fmt.Errorf("%w: %s belongs to user id %d, not to you; it holds API keys and names the modules the agent loads: "+
			"write your own (kyso-agent install) or take it over: chown \"$(id -u)\" %s && %s", ErrConfig, c.path, uid, ShellQuote(c.path), fix)
	}
	switch {
	case perm&0o022 != 0:
		return fmt.Errorf("%w: %s can be changed by others (mode %#o), and it names the modules the agent loads as code: "+
			"check what it says, then: %s", ErrConfig, c.path, perm, fix)
	case perm&0o077 != 0 && len(c.Pairings) > 0:
		return fmt.Errorf("%w: others could read %s (mode %#o) and the API keys of its %d pairing(s): run %s, "+
			"and have the server's admin replace those keys if others use this computer", ErrConfig, c.path, perm, len(c.Pairings), fix)
	case perm&0o077 != 0:
		if err := os.Chmod(c.path, 0o600); err != nil {
			return fmt.Errorf("%w: %s is readable by others (mode %#o) and could not be repaired (%v): %s", ErrConfig, c.path, perm, err, fix)
		}
		c.repaired = perm
	}
	return nil
}

// Repaired is the mode the file had when LoadConfig found it readable by others with
// no API key in it and set it to 0600; zero when it did not.
func (c *Config) Repaired() os.FileMode { return c.repaired }

// ShellQuote quotes s for a POSIX shell, so that a command in a message can be pasted.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Check validates the configuration and fills in its defaults, as LoadConfig does.
func (c *Config) Check() error { return c.check() }

func (c *Config) check() error {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8789"
	}
	if c.PINLockout <= 0 {
		c.PINLockout = 5 * time.Minute
	}
	if c.MaxPINFailures <= 0 {
		c.MaxPINFailures = 3
	}
	for i, o := range c.AllowedOrigins {
		n, err := normalOrigin(o)
		if err != nil {
			return fmt.Errorf("%w: allowed origin %q: %v", ErrConfig, o, err)
		}
		c.AllowedOrigins[i] = n
	}
	for _, m := range c.Modules {
		if !filepath.IsAbs(m.Path) {
			return fmt.Errorf("%w: module path %q is not absolute", ErrConfig, m.Path)
		}
	}
	for _, f := range c.ChainFiles {
		if !filepath.IsAbs(f) {
			return fmt.Errorf("%w: chain file %q is not absolute", ErrConfig, f)
		}
	}
	return nil
}

// ChainCertificates reads the certificates of ChainFiles.
func (c *Config) ChainCertificates() ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, f := range c.ChainFiles {
		certs, err := pki.ReadCertificatesFile(f)
		if err != nil {
			return nil, fmt.Errorf("%w: chain file: %v", ErrConfig, err)
		}
		out = append(out, certs...)
	}
	return out, nil
}

// normalOrigin checks that o is a bare scheme://host[:port] origin, as browsers send
// it, and lower-cases it.
func normalOrigin(o string) (string, error) {
	if strings.Contains(o, "*") {
		return "", errors.New("wildcards are not allowed")
	}
	u, err := url.Parse(o)
	if err != nil {
		return "", err
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return "", errors.New("want scheme://host[:port]")
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// Save writes the configuration with mode 0600 (its directory 0700), atomically.
func (c *Config) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.saveLocked()
}

func (c *Config) saveLocked() error {
	if c.path == "" {
		return fmt.Errorf("%w: no file to save to", ErrConfig)
	}
	raw, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("agent: saving configuration: %w", err)
	}
	// It holds API keys: the file is the user's alone.
	if err := durable.WriteFile(c.path, raw, 0o600); err != nil {
		return fmt.Errorf("agent: saving configuration: %w", err)
	}
	return nil
}

// Path is the file the configuration is read from and saved to.
func (c *Config) Path() string { return c.path }

// SetPath sets the file Save writes to.
func (c *Config) SetPath(p string) { c.path = p }

func (c *Config) originAllowed(origin string) bool {
	if origin == "" {
		return false
	}
	for _, o := range c.AllowedOrigins {
		if o == strings.ToLower(origin) {
			return true
		}
	}
	return false
}

// addPairing records a confirmed pairing and saves, replacing only an older pairing
// of the same server for the same person (PersonKey): pairing again after a new API
// key, or from another of the server's web pages. Other people's pairings stay.
func (c *Config) addPairing(p Pairing) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var kept []Pairing
	for _, q := range c.Pairings {
		if q.Server != p.Server || q.PersonKey() != p.PersonKey() {
			kept = append(kept, q)
		}
	}
	old := c.Pairings
	c.Pairings = append(kept, p)
	if err := c.saveLocked(); err != nil {
		c.Pairings = old
		return err
	}
	return nil
}

// pairingFor finds the pairing whose token is token, for a page of origin.
func (c *Config) pairingFor(origin, token string) (Pairing, bool) {
	if token == "" {
		return Pairing{}, false
	}
	sum := sha256.Sum256([]byte(token))
	want := hex.EncodeToString(sum[:])
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.Pairings {
		if p.Origin == strings.ToLower(origin) && subtle.ConstantTimeCompare([]byte(p.TokenSHA256), []byte(want)) == 1 {
			return p, true
		}
	}
	return Pairing{}, false
}
