package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EnvVars documents every environment override, in the order they are applied. An
// override replaces the file's value; a list is comma-separated.
var EnvVars = []EnvVar{
	{"KYSO_LISTEN", "server.listen", func(c *Config, v string) error { c.Server.Listen = v; return nil }},
	{"KYSO_MAX_UPLOAD", "server.max_upload", func(c *Config, v string) error { return setSize(&c.Server.MaxUpload, v) }},
	{"KYSO_SHUTDOWN_GRACE", "server.shutdown_grace", func(c *Config, v string) error { return setDuration(&c.Server.ShutdownGrace, v) }},
	{"KYSO_TRUSTED_PROXIES", "server.trusted_proxies", func(c *Config, v string) error { c.Server.TrustedProxies = list(v); return nil }},
	{"KYSO_DB_DRIVER", "store.driver", func(c *Config, v string) error { c.Store.Driver = v; return nil }},
	{"KYSO_DB_DSN", "store.dsn", func(c *Config, v string) error { c.Store.DSN = v; return nil }},
	{"KYSO_DATA_DIR", "store.data_dir", func(c *Config, v string) error { c.Store.DataDir = v; return nil }},
	{"KYSO_BLOBS_IN_DB", "store.blobs_in_db", func(c *Config, v string) error { return setBool(&c.Store.BlobsInDB, v) }},
	{"KYSO_PKCS11_ALLOWED_MODULES", "pkcs11.allowed_modules", func(c *Config, v string) error { c.PKCS11.AllowedModules = list(v); return nil }},
	{"KYSO_TRUST_ANCHORS_DIR", "trust.anchors_dir", func(c *Config, v string) error { c.Trust.AnchorsDir = v; return nil }},
	{"KYSO_TSA_URLS", "tsa.urls", func(c *Config, v string) error { c.TSA.URLs = list(v); return nil }},
	{"KYSO_TSA_TIMEOUT", "tsa.timeout", func(c *Config, v string) error { return setDuration(&c.TSA.Timeout, v) }},
	{"KYSO_REVOCATION_OFFLINE", "revocation.offline", func(c *Config, v string) error { return setBool(&c.Revocation.Offline, v) }},
	{"KYSO_LOG_FORMAT", "log.format", func(c *Config, v string) error { c.Log.Format = v; return nil }},
	{"KYSO_LOG_LEVEL", "log.level", func(c *Config, v string) error { c.Log.Level = v; return nil }},
	{"KYSO_RATE_LIMIT_PUBLIC_VERIFY", "rate_limit.public_verify_per_minute", func(c *Config, v string) error { return setInt(&c.RateLimit.PublicVerifyPerMinute, v) }},
	{"KYSO_CSC_ENABLED", "csc.enabled", func(c *Config, v string) error { return setBool(&c.CSC.Enabled, v) }},
	{"KYSO_CSC_SECRET_FILE", "csc.secret_file", func(c *Config, v string) error { c.CSC.SecretFile = v; return nil }},
	{"KYSO_PENDING_EXPIRY", "signatures.pending_expiry", func(c *Config, v string) error { return setDuration(&c.Signatures.PendingExpiry, v) }},
}

// EnvVar is one environment override.
type EnvVar struct {
	Name string // the variable, e.g. KYSO_LISTEN
	Key  string // the YAML key it replaces, e.g. server.listen
	set  func(*Config, string) error
}

func applyEnv(cfg *Config, env LookupEnv) error {
	for _, e := range EnvVars {
		v, ok := env(e.Name)
		if !ok {
			continue
		}
		if err := e.set(cfg, strings.TrimSpace(v)); err != nil {
			return &Error{Key: e.Name, Msg: err.Error()}
		}
	}
	return nil
}

func setSize(dst *ByteSize, v string) error {
	n, err := ParseByteSize(v)
	if err != nil {
		return err
	}
	*dst = n
	return nil
}

func setDuration(dst *time.Duration, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q is not a duration (write e.g. 30s)", v)
	}
	*dst = d
	return nil
}

func setBool(dst *bool, v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("%q is not true or false", v)
	}
	*dst = b
	return nil
}

func setInt(dst *int, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", v)
	}
	*dst = n
	return nil
}

func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
