package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRemoteDefaultsAndFile(t *testing.T) {
	cfg, err := Load("", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Remote.Timeout != 300*time.Second || cfg.Remote.PollInterval != 2*time.Second {
		t.Errorf("remote defaults = %+v, want timeout 300s, poll 2s", cfg.Remote)
	}
	cfg, err = Load(writeFile(t, `
remote:
  timeout: 3s
  providers:
    - {name: sim, kind: mss, url: 'https://mssp.test/soap', ap_id: kyso, ap_password_file: /run/ap}
    - {name: cloud, kind: csc, base_url: 'https://csc.test/csc/v2', client_id: kyso, client_secret_file: /run/cs}
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Remote.Providers) != 2 || cfg.Remote.Providers[1].ClientSecretFile != "/run/cs" || cfg.Remote.Timeout != 3*time.Second {
		t.Errorf("remote = %+v", cfg.Remote)
	}
}

func TestRemoteValidationNamesTheKey(t *testing.T) {
	const mss = "{name: sim, kind: mss, url: 'https://m/x', ap_id: a, ap_password_file: /p}"
	cases := []struct{ name, yaml, key, inText string }{
		{"zero timeout", "remote: {timeout: 0s}", "remote.timeout", "> 0"},
		{"zero poll", "remote: {poll_interval: 0s}", "remote.poll_interval", "> 0"},
		{"timeout past expiry", "signatures: {pending_expiry: 5m}\nremote: {timeout: 10m, providers: [" + mss + "]}", "remote.timeout", "pending_expiry"},
		{"bad kind", "remote: {providers: [{name: x, kind: sms}]}", "remote.providers[0].kind", "sms"},
		{"bad name", "remote: {providers: [{name: 'a b', kind: mss, url: 'https://m', ap_id: a, ap_password_file: /p}]}", "remote.providers[0].name", "letters"},
		{"duplicate", "remote: {providers: [" + mss + ", " + mss + "]}", "remote.providers[1].name", "providers[0]"},
		{"mss url", "remote: {providers: [{name: s, kind: mss, url: 'ftp://m', ap_id: a, ap_password_file: /p}]}", "remote.providers[0].url", "http"},
		{"mss password", "remote: {providers: [{name: s, kind: mss, url: 'https://m', ap_id: a}]}", "remote.providers[0].ap_password_file", "required"},
		{"mss half tls", "remote: {providers: [{name: s, kind: mss, url: 'https://m', ap_id: a, ap_password_file: /p, client_certificate_file: /c}]}", "remote.providers[0].client_key_file", "together"},
		{"csc secret", "remote: {providers: [{name: c, kind: csc, base_url: 'https://c', client_id: k}]}", "remote.providers[0].client_secret_file", "required"},
		{"password inline refused", "remote: {providers: [{name: s, kind: mss, ap_password: hunter2}]}", "", "ap_password"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(writeFile(t, c.yaml), noEnv)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.inText) {
				t.Errorf("error %q lacks %q", err, c.inText)
			}
			if c.key == "" {
				return
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Key != c.key {
				t.Errorf("error %v does not name %q first", err, c.key)
			}
		})
	}
}
