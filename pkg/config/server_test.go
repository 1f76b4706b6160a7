package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestServerLimits: the keys of issue 13 read from YAML (inline under server:, and the
// metrics: section) and the environment, with their defaults, and bad values named.
func TestServerLimits(t *testing.T) {
	cfg, err := Load("", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Server
	if s.MaxConnections != 1024 || s.MaxConnectionsPerAddress != 256 || s.MinUploadRate != 4*KiB || s.MinUploadWindow != 10*time.Second ||
		s.MaxHeavy != 0 || s.HeavyRequestMemory != 256*MiB || s.HeavyQueueWait != 2*time.Second ||
		s.ReadyInterval != 30*time.Second || s.TLS.Enabled() || cfg.Metrics.KeyNames || cfg.Metrics.TokenFile != "" ||
		cfg.RateLimit.PublicVerifyConcurrent != 1 || s.Listen != "127.0.0.1:8080" {
		t.Errorf("defaults: %+v %+v %+v", s.ServerLimits, cfg.Metrics, cfg.RateLimit)
	}
	p := writeFile(t, `
server:
  max_connections: 5
  min_upload_rate: 1KiB
  min_upload_window: 3s
  max_heavy: 7
  tls: {cert_file: /etc/kyso/tls.crt, key_file: /etc/kyso/tls.key}
  ready_interval: 1m
metrics: {key_names: true, token_file: /etc/kyso/metrics-token}
rate_limit: {public_verify_concurrent: 3}
`)
	cfg, err = Load(p, envMap(map[string]string{"KYSO_MAX_CONNECTIONS": "9", "KYSO_MIN_UPLOAD_WINDOW": "4s"}))
	if err != nil {
		t.Fatal(err)
	}
	s = cfg.Server
	if s.MaxConnections != 9 || s.MinUploadRate != KiB || s.MinUploadWindow != 4*time.Second || s.MaxHeavy != 7 ||
		s.TLS.CertFile != "/etc/kyso/tls.crt" || s.TLS.KeyFile != "/etc/kyso/tls.key" || s.ReadyInterval != time.Minute ||
		!cfg.Metrics.KeyNames || cfg.Metrics.TokenFile != "/etc/kyso/metrics-token" || cfg.RateLimit.PublicVerifyConcurrent != 3 {
		t.Errorf("file and env: %+v %+v %+v", s.ServerLimits, cfg.Metrics, cfg.RateLimit)
	}
	p = writeFile(t, `
server:
  max_connections: -1
  tls: {cert_file: /x}
  ready_interval: 0s
`)
	_, err = Load(p, noEnv)
	for _, key := range []string{"server.max_connections", "server.tls.key_file", "server.ready_interval"} {
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), key) {
			t.Errorf("no error naming %s: %v", key, err)
		}
	}
}
