// Package config reads the configuration of `kyso serve`: one YAML file, then
// environment overrides, then validation that names the bad key
// ("config: server.max_upload: must be > 0"). A missing file means the embedded
// defaults: listen on 127.0.0.1:8080, SQLite and blobs under ./kyso-data.
//
// PKCS#11 modules are loaded only from paths listed in pkcs11.allowed_modules; a key
// URI naming any other module is refused here, at start, so no request can ever make
// the server load a library. Key URIs carry a pin-source (a file), never a pin-value,
// so that the configuration can be read, copied and logged without a secret.
//
// This package must never import api/, signer/, hsm/ or any other Kyso package: it sits
// at the bottom of the layout so that every layer can read the configuration.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration of `kyso serve`.
type Config struct {
	// Hardening (server.go) holds the metrics: section.
	Hardening `yaml:",inline"`

	Server     Server     `yaml:"server"`
	Store      Store      `yaml:"store"`
	PKCS11     PKCS11     `yaml:"pkcs11"`
	Keys       []Key      `yaml:"keys"`
	Trust      Trust      `yaml:"trust"`
	TSA        TSA        `yaml:"tsa"`
	Revocation Revocation `yaml:"revocation"`
	Log        Log        `yaml:"log"`
	RateLimit  RateLimit  `yaml:"rate_limit"`
	Signatures Signatures `yaml:"signatures"`
	CSC        CSC        `yaml:"csc"`
	Remote     Remote     `yaml:"remote"`
	Verify     Verify     `yaml:"verify"`
	Public     Public     `yaml:"public"`
	Registers  Registers  `yaml:"registers"`
}

// Server is the HTTP listener and its limits.
type Server struct {
	// Listen is host:port; the default binds loopback only, so a fresh install is not
	// reachable from the network until someone decides it should be.
	Listen string `yaml:"listen"`
	// MaxUpload bounds every uploaded document, enforced while the body streams in.
	MaxUpload ByteSize `yaml:"max_upload"`
	// ReadHeaderTimeout bounds slow-header clients; ReadTimeout and WriteTimeout bound a
	// whole request and response, so they must allow a max_upload body on a slow link.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	// ShutdownGrace is how long requests in flight may run after SIGTERM.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// TrustedProxies lists the addresses (IP or CIDR) whose X-Forwarded-For is believed.
	// Empty means none: the client address is the TCP peer, so the per-address rate
	// limit cannot be dodged with a forged header.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ServerLimits (server.go): connection and concurrency caps, upload rate, TLS.
	ServerLimits `yaml:",inline"`
}

// Store is the embedded document store.
type Store struct {
	// Driver is "sqlite" (one machine) or "postgres" (replicas sharing one database).
	Driver string `yaml:"driver"`
	// DSN is the database address; for sqlite it defaults to DataDir/kyso.db.
	DSN string `yaml:"dsn"`
	// DataDir holds blobs, temporary uploads and the SQLite file.
	DataDir string `yaml:"data_dir"`
	// BlobsInDB keeps document bytes in the database instead of files under DataDir,
	// which replicas without a shared disk need.
	BlobsInDB bool `yaml:"blobs_in_db"`
}

// PKCS11 is the allow-list of PKCS#11 module paths.
type PKCS11 struct {
	AllowedModules []string `yaml:"allowed_modules"`
}

// Key is one server-side signing key.
type Key struct {
	// Name is how API callers and grants refer to the key.
	Name string `yaml:"name"`
	// URI is a pkcs11: (RFC 7512) or softkey: URI; its PIN comes from pin-source.
	URI string `yaml:"uri"`
	// Certificate and Chain are PEM or DER files, for providers that hold none.
	Certificate string   `yaml:"certificate"`
	Chain       []string `yaml:"chain"`
	// Owner is the organisation or person the key belongs to.
	Owner string `yaml:"owner"`
	// Allowed lists the principals that may sign with the key: a client id, or
	// "role:<role>" for every client of that role (names are not matched: grant by id).
	// A key whose certificate names an agency (organizationIdentifier) is used only by
	// clients acting for that agency, whatever this list says.
	Allowed []string `yaml:"allowed"`
	// Demo marks a software key from the test PKI, so that every listing says so.
	Demo bool `yaml:"demo"`
}

// Trust is where trust anchors for verification come from.
type Trust struct {
	Anchors    []string `yaml:"anchors"`
	AnchorsDir string   `yaml:"anchors_dir"`
	// Builtin: the built-in Vietnamese trust list (pkg/pki/vntrust) is used too; on
	// unless set to false (trust.go).
	Builtin *bool `yaml:"builtin"`
}

// TSA is the RFC 3161 timestamp authorities, tried in order.
type TSA struct {
	URLs    []string      `yaml:"urls"`
	Timeout time.Duration `yaml:"timeout"`
}

// Revocation is how OCSP and CRLs are fetched.
type Revocation struct {
	// Offline never fetches; verification then relies on embedded revocation data.
	Offline     bool          `yaml:"offline"`
	OCSPTimeout time.Duration `yaml:"ocsp_timeout"`
	CRLTimeout  time.Duration `yaml:"crl_timeout"`
}

// Log is the structured log.
type Log struct {
	// Format is "json", "text" or "auto" (text on a terminal, JSON otherwise).
	Format string `yaml:"format"`
	// Level is "debug", "info", "warn" or "error".
	Level string `yaml:"level"`
}

// RateLimit bounds unauthenticated callers.
type RateLimit struct {
	// PublicVerifyPerMinute is the verifications one address may ask for per minute
	// without an API key; it is also the burst.
	PublicVerifyPerMinute int `yaml:"public_verify_per_minute"`
	// PublicVerifyConcurrent is the verifications one address (an IPv6 /64) may run at
	// once without an API key; more wait up to server.heavy_queue_wait, then get 429.
	// 0 means no cap.
	PublicVerifyConcurrent int `yaml:"public_verify_concurrent"`
}

// Signatures is the prepare → complete pipeline.
type Signatures struct {
	// PendingExpiry is how long a prepared signature waits for its completion.
	PendingExpiry time.Duration `yaml:"pending_expiry"`
}

// CSC is the Cloud Signature Consortium API v2 service at /csc/v2, through which other
// systems sign hashes with the server-side keys they are granted.
type CSC struct {
	Enabled bool `yaml:"enabled"`
	// SecretFile holds the key (at least 32 bytes) that authenticates the service's
	// short-lived authorization data; every replica must read the same one.
	SecretFile string `yaml:"secret_file"`
}

// Default returns the embedded defaults: what `kyso serve` runs with no file.
func Default() Config {
	return Config{
		Server: Server{
			Listen:            "127.0.0.1:8080",
			MaxUpload:         100 * MiB,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       5 * time.Minute,
			WriteTimeout:      5 * time.Minute,
			IdleTimeout:       2 * time.Minute,
			ShutdownGrace:     30 * time.Second,
			ServerLimits:      defaultServerLimits(),
		},
		Store: Store{
			Driver:  "sqlite",
			DataDir: "./kyso-data",
		},
		TSA:        TSA{Timeout: 10 * time.Second},
		Revocation: Revocation{OCSPTimeout: 10 * time.Second, CRLTimeout: 20 * time.Second},
		Log:        Log{Format: "auto", Level: "info"},
		RateLimit:  RateLimit{PublicVerifyPerMinute: 30, PublicVerifyConcurrent: DefaultPublicVerifyConcurrent},
		Signatures: Signatures{PendingExpiry: 15 * time.Minute},
		Remote:     defaultRemote(),
		Verify:     defaultVerify(),
		Registers:  DefaultRegisters(),
	}
}

// LookupEnv is os.LookupEnv's shape, injected so tests need not touch the process
// environment.
type LookupEnv func(name string) (string, bool)

// Load reads the file at path (none when path is ""), applies the environment
// overrides and validates the result. Every error names the key or variable at fault.
func Load(path string, env LookupEnv) (*Config, error) {
	cfg := Default()
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		defer f.Close()
		if err := decode(f, &cfg); err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if env == nil {
		env = os.LookupEnv
	}
	if err := applyEnv(&cfg, env); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// decode reads YAML over the defaults already in cfg, refusing unknown keys so that a
// misspelt setting is an error at start instead of a silently ignored default.
func decode(r io.Reader, cfg *Config) error {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file means the defaults
		}
		return err
	}
	return nil
}

// SQLiteDSN is the DSN the store opens: the configured one, or DataDir/kyso.db.
func (s Store) SQLiteDSN() string {
	if s.DSN != "" {
		return s.DSN
	}
	return filepath.Join(s.DataDir, "kyso.db")
}
