//go:build unix

package cades

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSignatureFileMode: a .p7s is written as the user's umask makes a new file
// (0666 less the umask), so a clerk's shared folder (umask 002) can read and share
// it as it does the signed PDFs; nothing is left beside it. The umask is read once
// per process, so the check runs in a child started under umask 002.
func TestSignatureFileMode(t *testing.T) {
	if dir := os.Getenv("KYSO_TEST_P7S_DIR"); dir != "" {
		if err := WriteFile(context.Background(), filepath.Join(dir, "van-ban.docx.p7s"), []byte{0x30, 0x00}); err != nil {
			t.Fatal(err)
		}
		return
	}
	dir := t.TempDir()
	cmd := exec.Command("/bin/sh", "-c", `umask 002 && exec "$0" -test.run '^TestSignatureFileMode$' -test.count=1`, os.Args[0])
	cmd.Env = append(os.Environ(), "KYSO_TEST_P7S_DIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	st, err := os.Stat(filepath.Join(dir, "van-ban.docx.p7s"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o664 {
		t.Errorf("under umask 002 the .p7s has mode %v, want -rw-rw-r-- (0666 less the umask)", st.Mode().Perm())
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("the directory holds %d entries, want the .p7s alone", len(es))
	}
}
