package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/api/agent"
)

// installEnv is a user's home with no user bus: DBUS_SESSION_BUS_ADDRESS unset and an
// empty XDG_RUNTIME_DIR, XDG_CONFIG_HOME in a temporary directory.
func installEnv(t *testing.T) (home, conf string) {
	t.Helper()
	dir := t.TempDir()
	home, conf = filepath.Join(dir, "home"), filepath.Join(dir, "xdg-config")
	run := filepath.Join(dir, "run")
	for _, d := range []string{home, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", conf)
	t.Setenv("XDG_RUNTIME_DIR", run)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
	return home, conf
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// TestInstallWithoutUserBus: with no user bus, install writes the configuration 0600
// (a hand-written 0644 one is chmod'ed), copies the program, writes the XDG autostart
// entry running it, and no systemd unit; uninstall removes them and keeps the
// configuration.
func TestInstallWithoutUserBus(t *testing.T) {
	home, conf := installEnv(t)
	cfgPath := filepath.Join(conf, "kyso-agent", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(cfgPath), 0o755); err != nil {
		t.Fatal(err)
	}
	// Written by hand as the README once said, with the umask's 0644.
	if err := os.WriteFile(cfgPath, []byte("allowed_origins: [\"https://kyso.ubnd.example.vn\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(cfgPath, 0o644)
	out, stderr, err := run(t, "", "install", "--module", "/usr/lib/softhsm/libsofthsm2.so", "--origin", "https://qlvb.example.vn")
	if err != nil {
		t.Fatalf("install: %v\n%s%s", err, out, stderr)
	}
	if m := mode(t, cfgPath); m != 0o600 {
		t.Errorf("configuration mode %#o", m)
	}
	if m := mode(t, filepath.Dir(cfgPath)); m != 0o700 {
		t.Errorf("configuration directory mode %#o", m)
	}
	raw, _ := os.ReadFile(cfgPath)
	for _, want := range []string{"https://kyso.ubnd.example.vn", "https://qlvb.example.vn", "/usr/lib/softhsm/libsofthsm2.so"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the configuration lost or lacks %q:\n%s", want, raw)
		}
	}
	bin := filepath.Join(home, ".local", "bin", "kyso-agent")
	if m := mode(t, bin); m != 0o755 {
		t.Errorf("program mode %#o", m)
	}
	entry, err := os.ReadFile(filepath.Join(conf, "autostart", "kyso-agent.desktop"))
	if err != nil {
		t.Fatalf("no autostart entry: %v\n%s", err, out)
	}
	for _, want := range []string{"[Desktop Entry]\n", "Type=Application\n", "Exec=" + bin + " serve\n"} {
		if !strings.Contains(string(entry), want) {
			t.Errorf("autostart entry lacks %q:\n%s", want, entry)
		}
	}
	if _, err := os.Stat(filepath.Join(conf, "systemd", "user", "kyso-agent.service")); err == nil {
		t.Error("a systemd user unit was installed without a user bus")
	}
	if !strings.Contains(out, "no user bus") || !strings.Contains(out, bin+" serve &") {
		t.Errorf("install does not say how the agent starts:\n%s", out)
	}
	if cfg, err := agent.LoadConfig(cfgPath); err != nil || cfg.Repaired() != 0 {
		t.Fatalf("the installed configuration does not load as it is: %v", err)
	}

	// A configuration with a pairing made readable by others: the agent refuses it,
	// install (run again, as after an upgrade) sets it right and says what to do.
	raw, _ = os.ReadFile(cfgPath)
	_ = os.WriteFile(cfgPath, append(raw, "pairings: [{server: \"https://k\", origin: \"https://k\", api_key: secret-key, token_sha256: x}]\n"...), 0o600)
	_ = os.Chmod(cfgPath, 0o644)
	if _, err := agent.LoadConfig(cfgPath); err == nil || !strings.Contains(err.Error(), "chmod 600 "+cfgPath) {
		t.Fatalf("a readable configuration with an API key: %v", err)
	}
	out, _, err = run(t, "", "install")
	if err != nil || mode(t, cfgPath) != 0o600 || !strings.Contains(out, "had mode 0644; now 0600") || !strings.Contains(out, "replace them") {
		t.Fatalf("install over a readable configuration: %v\n%s", err, out)
	}
	if cfg, err := agent.LoadConfig(cfgPath); err != nil || len(cfg.Pairings) != 1 {
		t.Fatalf("the pairing after install: %v", err)
	}

	out, _, err = run(t, "", "uninstall")
	if err != nil {
		t.Fatalf("uninstall: %v\n%s", err, out)
	}
	for _, gone := range []string{bin, filepath.Join(conf, "autostart", "kyso-agent.desktop")} {
		if _, err := os.Stat(gone); err == nil {
			t.Errorf("uninstall left %s", gone)
		}
	}
	if _, err := os.Stat(cfgPath); err != nil {
		t.Errorf("uninstall removed the configuration: %v", err)
	}
	if _, _, err := run(t, "", "uninstall", "--purge"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfgPath); err == nil {
		t.Error("uninstall --purge kept the configuration")
	}
}

// TestInstallUserBusUnreachable: with a user bus that does not answer, the unit is
// written (its sandbox naming the configuration directory in use) and install warns
// and still succeeds, the autostart entry in place.
func TestInstallUserBusUnreachable(t *testing.T) {
	_, conf := installEnv(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	out, stderr, err := run(t, "", "install", "--bin-dir", filepath.Join(t.TempDir(), "my bin"))
	if err != nil {
		t.Fatalf("install: %v\n%s%s", err, out, stderr)
	}
	unit, err := os.ReadFile(filepath.Join(conf, "systemd", "user", "kyso-agent.service"))
	if err != nil {
		t.Fatalf("no unit: %v\n%s", err, out)
	}
	for _, want := range []string{"ReadWritePaths=" + filepath.Join(conf, "kyso-agent") + "\n", "/my bin/kyso-agent\" serve\n"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if _, err := os.Stat(filepath.Join(conf, "autostart", "kyso-agent.desktop")); err != nil {
		t.Error(err)
	}
	if !strings.Contains(out, "warning: systemctl --user") {
		t.Errorf("no warning about the unreachable bus:\n%s", out)
	}
}
