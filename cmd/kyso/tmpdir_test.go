package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// leaveCrashLeftovers puts in DATA_DIR/tmp what crashed processes leave: a loose copy
// (the layout before per-process directories), a directory whose lock is free, and
// one whose lock a live process (this test) holds. It returns the live directory's
// file and a func that drops the lock.
func leaveCrashLeftovers(t *testing.T, dataDir string) (live string, unlock func()) {
	t.Helper()
	root := filepath.Join(dataDir, "tmp")
	dead := filepath.Join(root, "4242-dead")
	alive := filepath.Join(root, "4343-alive")
	for _, d := range []string{dead, alive} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(root, "kyso-doc-123"), filepath.Join(dead, "kyso-doc-456"), filepath.Join(dead, "upload-7"), filepath.Join(alive, "kyso-doc-789")} {
		if err := os.WriteFile(f, []byte("%PDF-1.7 plaintext of a confidential document"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(dead+tempLockSuffix, nil, 0o600) // released by the kernel at the crash
	lock, err := os.OpenFile(alive+tempLockSuffix, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
	return filepath.Join(alive, "kyso-doc-789"), func() { lock.Close() }
}

func assertGone(t *testing.T, dataDir string, live string) {
	t.Helper()
	root := filepath.Join(dataDir, "tmp")
	for _, f := range []string{filepath.Join(root, "kyso-doc-123"), filepath.Join(root, "4242-dead"), filepath.Join(root, "4242-dead.lock")} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", strings.TrimPrefix(f, dataDir), err)
		}
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live process's copy was removed: %v", err)
	}
}

// TestServeSweepsTempAndKeepsItPrivate: `kyso serve` removes the temporary copies a
// crash left, keeps those of a live process, works in a 0700 directory of its own,
// removes it on exit, and its SQLite database is 0600.
func TestServeSweepsTempAndKeepsItPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	t.Chdir(t.TempDir())
	data := filepath.Join(t.TempDir(), "data")
	live, _ := leaveCrashLeftovers(t, data)
	rs := startServe(t, "", map[string]string{"KYSO_DATA_DIR": data})
	assertGone(t, data, live)
	if !strings.Contains(rs.stderr.String(), "removed temporary copies") {
		t.Error("the sweep is not logged")
	}
	root := filepath.Join(data, "tmp")
	if fi, err := os.Stat(root); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("tmp: %v %v", fi.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(root)
	var own []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "4343-alive" {
			own = append(own, e.Name())
			if fi, _ := e.Info(); fi.Mode().Perm() != 0o700 {
				t.Errorf("the process's directory is %v", fi.Mode().Perm())
			}
		}
	}
	if len(own) != 1 {
		t.Errorf("process directories: %v", own)
	}
	for _, f := range []string{"kyso.db", "kyso.db-wal", "kyso.db-shm"} {
		if fi, err := os.Stat(filepath.Join(data, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, fi.Mode().Perm(), err)
		}
	}
	if err := rs.stop(); err != nil {
		t.Fatal(err)
	}
	if len(own) == 1 {
		if _, err := os.Stat(filepath.Join(root, own[0])); !os.IsNotExist(err) {
			t.Errorf("the process's directory outlived it: %v", err)
		}
	}
}

// TestDocsCheckSweepsTemp: `kyso docs check` removes what a crash left in DATA_DIR/tmp
// and says so, and keeps a live process's files.
func TestDocsCheckSweepsTemp(t *testing.T) {
	data := t.TempDir()
	live, _ := leaveCrashLeftovers(t, data)
	code, out := kysoExit(t, "docs", "--data-dir", data, "check")
	if code != 0 || !strings.Contains(out, "temporary copies left by a crash, removed: 3") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	assertGone(t, data, live)
}
