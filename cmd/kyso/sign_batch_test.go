package main

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/signer/verify"
)

// The batch's sizes, as app signs files.
const commitChunk, overlapCopyAbove = app.CommitChunk, app.OverlapCopyAbove

// batchInputs writes n distinct one-page PDFs and returns their paths.
func batchInputs(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("doc%03d.pdf", i))
		if err := os.WriteFile(p, serveTestPDF(fmt.Sprintf("document %d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// checkBatchOutputs: every file in dir is the signed form of its input (the input a
// prefix, a signature that verifies intact) and no temporary file is left. It returns
// how many outputs there are.
func checkBatchOutputs(t *testing.T, dir string, inputs []string) int {
	t.Helper()
	byName := map[string]string{}
	for _, in := range inputs {
		byName[filepath.Base(in)] = in
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		in, ok := byName[e.Name()]
		if !ok {
			t.Errorf("unexpected file %s in the output directory", e.Name())
			continue
		}
		orig, _ := os.ReadFile(in)
		got, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if !bytes.HasPrefix(got, orig) || len(got) == len(orig) {
			t.Errorf("%s: not the input followed by a signature", e.Name())
			continue
		}
		rep, err := verify.VerifyPDF(context.Background(), bytes.NewReader(got), int64(len(got)), e.Name(), verify.Options{Offline: true})
		if err != nil || len(rep.Signatures) != 1 || rep.Signatures[0].Integrity != verify.IntegrityIntact || !rep.Signatures[0].CoversWholeDocument {
			t.Errorf("%s: verify = %+v, %v", e.Name(), rep, err)
		}
	}
	return len(entries)
}

// TestSignBatchChunks: a batch larger than several commit chunks writes every output,
// complete, and leaves no temporary file; two inputs with one output name are a usage
// error before anything is signed.
func TestSignBatchChunks(t *testing.T) {
	chain := filepath.Join(testenv.TestPKIDir(), "chain.pem")
	inputs := batchInputs(t, 2*commitChunk+7)
	out := t.TempDir()
	code, msg := kysoExit(t, append([]string{"sign", "--key", demoKeyURI(), "--chain", chain, "--out-dir", out}, inputs...)...)
	if code != 0 {
		t.Fatalf("batch exit %d: %s", code, msg)
	}
	if n := checkBatchOutputs(t, out, inputs); n != len(inputs) {
		t.Errorf("%d outputs for %d inputs", n, len(inputs))
	}

	twin := filepath.Join(t.TempDir(), filepath.Base(inputs[0]))
	if err := os.WriteFile(twin, serveTestPDF("another"), 0o644); err != nil {
		t.Fatal(err)
	}
	out2 := t.TempDir()
	code, msg = kysoExit(t, "sign", "--key", demoKeyURI(), "--out-dir", out2, inputs[0], inputs[1], twin)
	if code != 2 || !strings.Contains(msg, "would both be written") {
		t.Errorf("two inputs named alike: exit %d, %q; want 2 naming the clash", code, msg)
	}
	if entries, _ := os.ReadDir(out2); len(entries) != 0 {
		t.Errorf("%d files written by a refused batch", len(entries))
	}
	code, msg = kysoExit(t, "sign", "--key", demoKeyURI(), "--in-place", inputs[0], inputs[0])
	if code != 2 {
		t.Errorf("one file twice in place: exit %d, %q; want 2", code, msg)
	}
}

// cancellingKey cancels the batch's context after a number of signatures, as an
// interrupt would.
type cancellingKey struct {
	hsm.Key
	after  int64
	n      atomic.Int64
	cancel context.CancelFunc
}

func (k *cancellingKey) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := k.Key.SignContext(ctx, digest, opts)
	if k.n.Add(1) == k.after {
		k.cancel()
	}
	return sig, err
}

// TestSignBatchInterrupted: an interrupted batch exits 1, keeps the chunks it had
// committed (every one complete and valid) and removes every other staged output.
func TestSignBatchInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	key, err := hsm.Open(ctx, demoKeyURI(), hsm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer closeKey(key)
	inputs := batchInputs(t, 3*commitChunk)
	out := t.TempDir()
	jobs := make([]signJob, len(inputs))
	for i, in := range inputs {
		jobs[i] = signJob{in: in, out: filepath.Join(out, filepath.Base(in))}
	}
	ck := &cancellingKey{Key: key, after: int64(commitChunk + commitChunk/2), cancel: cancel}
	err = runJobs(ctx, io.Discard, &app.Service{}, ck, jobs, app.SignOptions{}, 2)
	if exitCode(err) != 1 {
		t.Fatalf("interrupted batch: %v (exit %d), want exit 1", err, exitCode(err))
	}
	n := checkBatchOutputs(t, out, inputs)
	if n < commitChunk || n >= len(inputs) || n%commitChunk != 0 {
		t.Errorf("%d outputs kept after an interrupt at %d signatures; want whole chunks of %d, at least one",
			n, ck.after, commitChunk)
	}
}

// TestSignLargeOverlapped: from overlapCopyAbove up, the copy of the original runs
// while it is hashed; the output is still the original plus a valid signature, and a
// large document that cannot be signed leaves neither an output nor a temporary file.
func TestSignLargeOverlapped(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "large.pdf")
	doc := serveTestPDF(strings.Repeat("a large document ", (overlapCopyAbove+1<<20)/17))
	if err := os.WriteFile(in, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	out := filepath.Join(outDir, "large.pdf")
	if code, msg := kysoExit(t, "sign", "--key", demoKeyURI(), "-o", out, in); code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	if n := checkBatchOutputs(t, outDir, []string{in}); n != 1 {
		t.Errorf("%d files in the output directory, want the output alone", n)
	}
	got, _ := os.ReadFile(out)
	if !bytes.HasPrefix(got, doc) {
		t.Fatal("the original is not a prefix of the output")
	}

	// Damaged beyond reading: the trailer is cut off, after the copy has begun.
	bad := filepath.Join(dir, "bad.pdf")
	if err := os.WriteFile(bad, doc[:len(doc)-200], 0o644); err != nil {
		t.Fatal(err)
	}
	badOut := t.TempDir()
	code, msg := kysoExit(t, "sign", "--key", demoKeyURI(), "-o", filepath.Join(badOut, "x.pdf"), bad)
	if code != 1 || !strings.Contains(msg, "bad.pdf") {
		t.Errorf("damaged large document: exit %d, %q; want 1 naming it", code, msg)
	}
	if entries, _ := os.ReadDir(badOut); len(entries) != 0 {
		t.Errorf("%d files left by a document that could not be signed", len(entries))
	}
}

// hookKey runs hook once, after a number of signatures.
type hookKey struct {
	hsm.Key
	after int64
	n     atomic.Int64
	hook  func()
}

func (k *hookKey) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := k.Key.SignContext(ctx, digest, opts)
	if k.n.Add(1) == k.after {
		k.hook()
	}
	return sig, err
}

// TestSignBatchCommitFails: when outputs can no longer be written (here their
// directory is gone), the batch exits 1 saying so and stops asking the key for
// signatures that could not be kept.
func TestSignBatchCommitFails(t *testing.T) {
	ctx := context.Background()
	key, err := hsm.Open(ctx, demoKeyURI(), hsm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer closeKey(key)
	inputs := batchInputs(t, 6*commitChunk)
	out := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	jobs := make([]signJob, len(inputs))
	for i, in := range inputs {
		jobs[i] = signJob{in: in, out: filepath.Join(out, filepath.Base(in))}
	}
	// The directory goes at once (a rename): RemoveAll would race the workers'
	// new temporary files, fail to remove a directory they had just written into,
	// and leave the outputs writable.
	hk := &hookKey{Key: key, after: commitChunk / 2, hook: func() { _ = os.Rename(out, out+"-gone") }}
	var msg bytes.Buffer
	err = runJobs(ctx, &msg, &app.Service{}, hk, jobs, app.SignOptions{}, 2)
	if exitCode(err) != 1 || !strings.Contains(msg.String(), "not attempted") || !strings.Contains(msg.String(), "writing the output") {
		t.Fatalf("batch whose output directory vanished: %v (exit %d), %s", err, exitCode(err), msg.String())
	}
	// The two workers may each finish the document in hand.
	if n := hk.n.Load(); n > commitChunk/2+2 {
		t.Errorf("the key made %d signatures; the outputs stopped being writable after %d", n, commitChunk/2)
	}
}

// TestSignBatchSIGINT: Ctrl-C in the middle of a batch (a real signal to a real
// process) leaves whole committed outputs only — no temporary file — and exits 1.
func TestSignBatchSIGINT(t *testing.T) {
	inputs := batchInputs(t, 8*commitChunk)
	out := t.TempDir()
	args := append([]string{"-test.run=^TestCLIHelperProcess$", "--", "sign", "--key", demoKeyURI(), "--workers", "1", "--out-dir", out}, inputs...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "KYSO_CLI_HELPER=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the first chunk is visible, well before the batch can end.
	deadline := time.Now().Add(30 * time.Second)
	for {
		entries, _ := os.ReadDir(out)
		n := 0
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".kyso-") {
				n++
			}
		}
		if n >= commitChunk {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no chunk committed in 30 s: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if err == nil || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("after SIGINT: %v, %q; want a failure saying it was interrupted", err, stderr.String())
	}
	n := checkBatchOutputs(t, out, inputs)
	if n < commitChunk || n >= len(inputs) || n%commitChunk != 0 {
		t.Errorf("%d outputs after SIGINT; want whole chunks of %d, fewer than %d", n, commitChunk, len(inputs))
	}
}
