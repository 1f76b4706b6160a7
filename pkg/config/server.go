package config

import (
	"strings"
	"time"
)

// ServerLimits are the listener's defences against hostile and careless clients:
// connection and concurrency caps, a minimum upload rate, TLS and the readiness
// probe's cache. They are read inline under server: (server.max_connections, …).
type ServerLimits struct {
	// MaxConnections caps the open connections; past it new ones wait in the kernel's
	// backlog until one closes. 0 means no cap.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerAddress caps one client address's (an IPv6 /64's) open
	// connections, so that one address cannot take all of MaxConnections; trusted
	// proxies are exempt. 0 means no cap.
	MaxConnectionsPerAddress int `yaml:"max_connections_per_address"`
	// MinUploadRate is the slowest a request body may arrive, in bytes a second,
	// averaged over MinUploadWindow; a slower client is cut off (408). 0 disables it.
	MinUploadRate   ByteSize      `yaml:"min_upload_rate"`
	MinUploadWindow time.Duration `yaml:"min_upload_window"`
	// MaxHeavy caps the requests doing heavy work at once (signing, verifying,
	// preparing, issuing, receiving: they parse whole PDFs). 0 sizes it from memory:
	// the memory limit (GOMEMLIMIT, else the cgroup's, else half the RAM) divided by
	// HeavyRequestMemory, at least 2. The public may hold at most half of the slots.
	// HeavyRequestMemory defaults to verify.max_decoded_bytes' default (256 MiB): the
	// worst hostile file measured needs about 160 MiB while it is verified.
	MaxHeavy           int      `yaml:"max_heavy"`
	HeavyRequestMemory ByteSize `yaml:"heavy_request_memory"`
	// HeavyQueueWait is how long a heavy request waits for a slot before a 503.
	HeavyQueueWait time.Duration `yaml:"heavy_queue_wait"`
	// TLS, when its files are set, makes the listener speak HTTPS; the pair is read
	// again when either file changes.
	TLS TLS `yaml:"tls"`
	// ReadyInterval is how often /readyz really checks each signing key (one probe
	// signature); between checks it answers from the last result.
	ReadyInterval time.Duration `yaml:"ready_interval"`
}

// TLS is a certificate chain and its private key, both PEM files.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether TLS is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Metrics is who may read /metrics and what it shows.
type Metrics struct {
	// KeyNames labels the per-key series with the keys' names; otherwise they are
	// labelled key-1, key-2, … in the order of keys:, since /metrics is anonymous.
	// Setting TokenFile shows the names too.
	KeyNames bool `yaml:"key_names"`
	// TokenFile holds a bearer token that /metrics then requires.
	TokenFile string `yaml:"token_file"`
}

// Hardening is the top-level sections added for issue 13, read inline.
type Hardening struct {
	Metrics Metrics `yaml:"metrics"`
}

func defaultServerLimits() ServerLimits {
	return ServerLimits{
		MaxConnections:           1024,
		MaxConnectionsPerAddress: 256,
		MinUploadRate:            4 * KiB,
		MinUploadWindow:          10 * time.Second,
		HeavyRequestMemory:       256 * MiB,
		HeavyQueueWait:           2 * time.Second,
		ReadyInterval:            30 * time.Second,
	}
}

// DefaultPublicVerifyConcurrent is rate_limit.public_verify_concurrent's default.
const DefaultPublicVerifyConcurrent = 1

func (c *Config) validateServerLimits(v *validator) {
	s := c.Server.ServerLimits
	if s.MaxConnections < 0 {
		v.add("server.max_connections", "must be >= 0 (0: no cap)")
	}
	if s.MaxConnectionsPerAddress < 0 {
		v.add("server.max_connections_per_address", "must be >= 0 (0: no cap)")
	}
	if s.MinUploadRate < 0 {
		v.add("server.min_upload_rate", "must be >= 0 (0: no minimum)")
	}
	if s.MinUploadRate > 0 {
		v.duration("server.min_upload_window", s.MinUploadWindow)
	}
	if s.MaxHeavy < 0 {
		v.add("server.max_heavy", "must be >= 0 (0: sized from memory)")
	}
	v.positive("server.heavy_request_memory", int64(s.HeavyRequestMemory))
	v.duration("server.heavy_queue_wait", s.HeavyQueueWait)
	v.duration("server.ready_interval", s.ReadyInterval)
	if s.TLS.Enabled() {
		if strings.TrimSpace(s.TLS.CertFile) == "" {
			v.add("server.tls.cert_file", "is required with server.tls.key_file")
		}
		if strings.TrimSpace(s.TLS.KeyFile) == "" {
			v.add("server.tls.key_file", "is required with server.tls.cert_file")
		}
	}
	if c.RateLimit.PublicVerifyConcurrent < 0 {
		v.add("rate_limit.public_verify_concurrent", "must be >= 0 (0: no cap)")
	}
}

func init() {
	EnvVars = append(EnvVars,
		EnvVar{"KYSO_MAX_CONNECTIONS", "server.max_connections", func(c *Config, v string) error { return setInt(&c.Server.MaxConnections, v) }},
		EnvVar{"KYSO_MAX_CONNECTIONS_PER_ADDRESS", "server.max_connections_per_address", func(c *Config, v string) error { return setInt(&c.Server.MaxConnectionsPerAddress, v) }},
		EnvVar{"KYSO_MIN_UPLOAD_RATE", "server.min_upload_rate", func(c *Config, v string) error { return setSize(&c.Server.MinUploadRate, v) }},
		EnvVar{"KYSO_MIN_UPLOAD_WINDOW", "server.min_upload_window", func(c *Config, v string) error { return setDuration(&c.Server.MinUploadWindow, v) }},
		EnvVar{"KYSO_MAX_HEAVY", "server.max_heavy", func(c *Config, v string) error { return setInt(&c.Server.MaxHeavy, v) }},
		EnvVar{"KYSO_HEAVY_QUEUE_WAIT", "server.heavy_queue_wait", func(c *Config, v string) error { return setDuration(&c.Server.HeavyQueueWait, v) }},
		EnvVar{"KYSO_TLS_CERT_FILE", "server.tls.cert_file", func(c *Config, v string) error { c.Server.TLS.CertFile = v; return nil }},
		EnvVar{"KYSO_TLS_KEY_FILE", "server.tls.key_file", func(c *Config, v string) error { c.Server.TLS.KeyFile = v; return nil }},
		EnvVar{"KYSO_READY_INTERVAL", "server.ready_interval", func(c *Config, v string) error { return setDuration(&c.Server.ReadyInterval, v) }},
		EnvVar{"KYSO_RATE_LIMIT_PUBLIC_CONCURRENT", "rate_limit.public_verify_concurrent", func(c *Config, v string) error { return setInt(&c.RateLimit.PublicVerifyConcurrent, v) }},
		EnvVar{"KYSO_METRICS_KEY_NAMES", "metrics.key_names", func(c *Config, v string) error { return setBool(&c.Metrics.KeyNames, v) }},
		EnvVar{"KYSO_METRICS_TOKEN_FILE", "metrics.token_file", func(c *Config, v string) error { c.Metrics.TokenFile = v; return nil }},
	)
}
