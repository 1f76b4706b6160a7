package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func noEnv(string) (string, bool) { return "", false }

func envMap(m map[string]string) LookupEnv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kyso.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	cfg, err := Load("", noEnv)
	if err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", cfg.Server.Listen, "127.0.0.1:8080"},
		{"max_upload", cfg.Server.MaxUpload, 100 * MiB},
		{"driver", cfg.Store.Driver, "sqlite"},
		{"data_dir", cfg.Store.DataDir, "./kyso-data"},
		{"sqlite dsn", cfg.Store.SQLiteDSN(), filepath.Join("kyso-data", "kyso.db")},
		{"log format", cfg.Log.Format, "auto"},
		{"shutdown grace", cfg.Server.ShutdownGrace, 30 * time.Second},
		{"public verify", cfg.RateLimit.PublicVerifyPerMinute, 30},
		{"pending expiry", cfg.Signatures.PendingExpiry, 15 * time.Minute},
		{"keys", len(cfg.Keys), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestFileOverDefaults(t *testing.T) {
	p := writeFile(t, `
server:
  listen: "0.0.0.0:9000"
  max_upload: 5MiB
  shutdown_grace: 3s
store:
  driver: postgres
  dsn: "host=127.0.0.1 user=kyso"
pkcs11:
  allowed_modules: [/usr/lib/softhsm/libsofthsm2.so]
keys:
  - name: org-hsm
    uri: "pkcs11:token=kyso;object=org?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin"
    owner: UBND
    allowed: [dms, "role:clerk"]
tsa:
  urls: [http://127.0.0.1:3180/tsa]
`)
	cfg, err := Load(p, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "0.0.0.0:9000" || cfg.Server.MaxUpload != 5*MiB || cfg.Server.ShutdownGrace != 3*time.Second {
		t.Errorf("server = %+v", cfg.Server)
	}
	if cfg.Store.DataDir != "./kyso-data" {
		t.Errorf("data_dir lost its default: %q", cfg.Store.DataDir)
	}
	if len(cfg.Keys) != 1 || cfg.Keys[0].Allowed[1] != "role:clerk" {
		t.Errorf("keys = %+v", cfg.Keys)
	}
}

func TestEnvOverrides(t *testing.T) {
	p := writeFile(t, "server:\n  listen: 127.0.0.1:7000\nstore:\n  data_dir: /srv/file\n")
	cfg, err := Load(p, envMap(map[string]string{
		"KYSO_LISTEN":                   "127.0.0.1:7001",
		"KYSO_MAX_UPLOAD":               "1 MiB",
		"KYSO_DB_DRIVER":                "postgres",
		"KYSO_DB_DSN":                   "postgres://kyso@127.0.0.1/kyso",
		"KYSO_DATA_DIR":                 "/srv/env",
		"KYSO_BLOBS_IN_DB":              "true",
		"KYSO_LOG_FORMAT":               "json",
		"KYSO_TSA_URLS":                 "http://a.test/tsa, http://b.test/tsa",
		"KYSO_RATE_LIMIT_PUBLIC_VERIFY": "7",
		"KYSO_PENDING_EXPIRY":           "2m",
	}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", cfg.Server.Listen, "127.0.0.1:7001"},
		{"max_upload", cfg.Server.MaxUpload, MiB},
		{"driver", cfg.Store.Driver, "postgres"},
		{"dsn", cfg.Store.DSN, "postgres://kyso@127.0.0.1/kyso"},
		{"data_dir", cfg.Store.DataDir, "/srv/env"},
		{"blobs_in_db", cfg.Store.BlobsInDB, true},
		{"log format", cfg.Log.Format, "json"},
		{"tsa urls", strings.Join(cfg.TSA.URLs, "|"), "http://a.test/tsa|http://b.test/tsa"},
		{"rate", cfg.RateLimit.PublicVerifyPerMinute, 7},
		{"expiry", cfg.Signatures.PendingExpiry, 2 * time.Minute},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestEnvVarsAreDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range EnvVars {
		if !strings.HasPrefix(e.Name, "KYSO_") || e.Key == "" || e.set == nil || seen[e.Name] {
			t.Errorf("bad override %+v", e)
		}
		seen[e.Name] = true
	}
}

// TestValidationNamesTheKey: every fault names the setting, so an operator reading
// "config: server.max_upload: must be > 0" knows which line to fix.
func TestValidationNamesTheKey(t *testing.T) {
	cases := []struct {
		name   string
		yaml   string
		env    map[string]string
		key    string
		inText string
	}{
		{"zero upload", "server: {max_upload: 0}", nil, "server.max_upload", "must be > 0"},
		{"bad listen", "server: {listen: nowhere}", nil, "server.listen", "host:port"},
		{"bad port", "server: {listen: '127.0.0.1:http80'}", nil, "server.listen", "port"},
		{"zero grace", "server: {shutdown_grace: 0s}", nil, "server.shutdown_grace", "> 0"},
		{"negative read timeout", "server: {read_timeout: -1s}", nil, "server.read_timeout", "> 0"},
		{"bad proxy", "server: {trusted_proxies: [10.0.0.0/8, nope]}", nil, "server.trusted_proxies[1]", "CIDR"},
		{"bad driver", "store: {driver: mysql}", nil, "store.driver", "mysql"},
		{"postgres without dsn", "store: {driver: postgres}", nil, "store.dsn", "required"},
		{"empty data dir", "store: {data_dir: ''}", nil, "store.data_dir", "empty"},
		{"relative module", "pkcs11: {allowed_modules: [libsofthsm2.so]}", nil, "pkcs11.allowed_modules[0]", "absolute"},
		{"key name", "keys: [{name: 'bad name', uri: 'softkey:/k.pem'}]", nil, "keys[0].name", "letters"},
		{"duplicate key", "keys: [{name: a, uri: 'softkey:/a'}, {name: a, uri: 'softkey:/b'}]", nil, "keys[1].name", "keys[0]"},
		{"key scheme", "keys: [{name: a, uri: 'file:/a'}]", nil, "keys[0].uri", "scheme"},
		{"key uri empty", "keys: [{name: a}]", nil, "keys[0].uri", "URI"},
		{"pin in uri", "keys: [{name: a, uri: 'pkcs11:token=t;pin-value=123456?module-path=/m.so'}]\npkcs11: {allowed_modules: [/m.so]}", nil, "keys[0].uri", "pin-source"},
		{"module not allowed", "keys: [{name: a, uri: 'pkcs11:token=t?module-path=/tmp/evil.so'}]", nil, "keys[0].uri", "allowed_modules"},
		{"module missing", "keys: [{name: a, uri: 'pkcs11:token=t?pin-source=file:/run/pin'}]", nil, "keys[0].uri", "module-path="},
		{"public may not sign", "keys: [{name: a, uri: 'softkey:/a', allowed: ['role:public']}]", nil, "keys[0].allowed[0]", "cannot sign"},
		{"bad tsa url", "tsa: {urls: ['ftp://x']}", nil, "tsa.urls[0]", "http"},
		{"zero tsa timeout", "tsa: {timeout: 0s}", nil, "tsa.timeout", "> 0"},
		{"zero ocsp timeout", "revocation: {ocsp_timeout: 0s}", nil, "revocation.ocsp_timeout", "> 0"},
		{"log format", "log: {format: xml}", nil, "log.format", "xml"},
		{"log level", "log: {level: loud}", nil, "log.level", "loud"},
		{"rate", "rate_limit: {public_verify_per_minute: 0}", nil, "rate_limit.public_verify_per_minute", "> 0"},
		{"expiry", "signatures: {pending_expiry: 0s}", nil, "signatures.pending_expiry", "> 0"},
		{"csc without secret", "csc: {enabled: true}", nil, "csc.secret_file", "required"},
		{"env size", "", map[string]string{"KYSO_MAX_UPLOAD": "lots"}, "KYSO_MAX_UPLOAD", "not a size"},
		{"env bool", "", map[string]string{"KYSO_REVOCATION_OFFLINE": "maybe"}, "KYSO_REVOCATION_OFFLINE", "true or false"},
		{"env duration", "", map[string]string{"KYSO_PENDING_EXPIRY": "soon"}, "KYSO_PENDING_EXPIRY", "duration"},
		{"env value validated", "", map[string]string{"KYSO_DB_DRIVER": "oracle"}, "store.driver", "oracle"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(writeFile(t, c.yaml), envMap(c.env))
			if err == nil {
				t.Fatal("accepted")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *config.Error", err)
			}
			if ce.Key != c.key {
				t.Errorf("key = %q, want %q (error: %v)", ce.Key, c.key, err)
			}
			want := "config: " + c.key + ": "
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), c.inText) {
				t.Errorf("error %q lacks %q or %q", err, want, c.inText)
			}
		})
	}
}

func TestPinNeverEchoed(t *testing.T) {
	_, err := Load(writeFile(t, "keys: [{name: a, uri: 'pkcs11:token=t;pin-value=S3cr3tPIN'}]"), noEnv)
	if err == nil || strings.Contains(err.Error(), "S3cr3tPIN") {
		t.Fatalf("error %v must refuse the URI without repeating the PIN", err)
	}
}

func TestUnknownKeyRefused(t *testing.T) {
	for _, body := range []string{
		"server:\n  listn: 127.0.0.1:1\n",
		"stroe: {}\n",
		"keys: [{name: a, uri: 'softkey:/a', pin: 1234}]\n",
	} {
		_, err := Load(writeFile(t, body), noEnv)
		if err == nil || !strings.Contains(err.Error(), "not found in type") {
			t.Errorf("%q: error = %v, want an unknown-field error", body, err)
		}
	}
}

func TestAllErrorsReported(t *testing.T) {
	_, err := Load(writeFile(t, "server: {max_upload: 0}\nlog: {level: loud}\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), "server.max_upload") || !strings.Contains(err.Error(), "log.level") {
		t.Fatalf("want both faults, got %v", err)
	}
}

func TestMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "absent.yaml"), noEnv); err == nil || !strings.HasPrefix(err.Error(), "config: ") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseByteSize(t *testing.T) {
	cases := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"1048576", MiB, true},
		{"100MiB", 100 * MiB, true},
		{"512 KiB", 512 * KiB, true},
		{"1GB", 1000 * 1000 * 1000, true},
		{"2g", 2 * GiB, true},
		{"10B", 10, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"1.5MiB", 0, false},
		{"99999999999999GiB", 0, false},
	}
	for _, c := range cases {
		got, err := ParseByteSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseByteSize(%q) = %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
	if s := (100 * MiB).String(); s != "100MiB" {
		t.Errorf("String = %q", s)
	}
}
