package main

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/signer/cades"
	"github.com/kyso-vn/kyso/signer/cms"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/pdf"
)

func init() { subcommands = append(subcommands, newSignCmd) }

type signFlags struct {
	key, cert, chain, level, field, rect, image, seal, reason, location, certify, out, outDir, hash string
	contact, name                                                                                   string
	tsa, text                                                                                       []string
	visible, pss, inPlace                                                                           bool
	page, workers                                                                                   int
	tsaTimeout                                                                                      time.Duration
}

func newSignCmd() *cobra.Command {
	var f signFlags
	cmd := &cobra.Command{
		Use:   "sign --key URI [flags] (-o OUT IN | --out-dir DIR IN... | --in-place IN)",
		Short: "Sign PDF documents as PAdES, other files as detached CAdES (.p7s)",
		Long: `Sign PDF documents as PAdES baseline signatures (B-B, B-T, B-LT, B-LTA) with a key
on a PKCS#11 token or HSM (pkcs11: URI, RFC 7512) or a demo key file (softkey: URI).
The original bytes stay an untouched prefix of the output; nothing is written to OUT
unless the signed document is complete. A file that is not a PDF gets a detached
CAdES signature (B-B or B-T): OUT (name it .p7s), or IN.p7s with --out-dir/--in-place.

A batch (--out-dir) signs in one process with one login, on all cores, with a
progress bar on a terminal and a summary at the end. Its outputs are flushed to disk
and made visible 64 at a time while it runs; an interrupted batch keeps those already
made visible (each complete) and leaves nothing else. Two inputs that would be written
to the same output are a usage error.

Exit codes: 0 every document signed, 1 a document could not be signed (the message
names the file and the reason), 2 usage error.`,
		Example: `  kyso sign --key 'pkcs11:token=UBND;object=org?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/etc/kyso/pin' \
      --level B-T --tsa http://tsa.example.vn -o signed.pdf draft.pdf
  kyso sign --key softkey:path=certs-testdata/org.key --cert certs-testdata/org.pem \
      --chain certs-testdata/chain.pem --visible --page 1 --rect 300,100,480,160 \
      --image leader.png --seal seal.png -o issued.pdf approved.pdf
  kyso sign --key "$URI" --out-dir signed/ drafts/*.pdf`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runSign(cmd, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.key, "key", "", "key URI: pkcs11:… or softkey:… (required)")
	fl.StringVar(&f.cert, "cert", "", "signer certificate (PEM/DER); default: the one on the token")
	fl.StringVar(&f.chain, "chain", "", "issuer certificates (PEM), nearest first; default: those on the token")
	fl.StringVar(&f.level, "level", "B-B", "PAdES level: B-B, B-T, B-LT or B-LTA")
	fl.StringArrayVar(&f.tsa, "tsa", nil, "RFC 3161 timestamp authority URL (repeatable, tried in order)")
	fl.DurationVar(&f.tsaTimeout, "tsa-timeout", 15*time.Second, "timeout of each timestamp request")
	fl.StringVar(&f.field, "field", "", "sign into this existing empty signature field (or create it)")
	fl.BoolVar(&f.visible, "visible", false, "make the signature visible")
	fl.IntVar(&f.page, "page", 1, "page of the visible signature (1-based)")
	fl.StringVar(&f.rect, "rect", "", "rectangle x1,y1,x2,y2 in points (default: top right for text)")
	fl.StringVar(&f.image, "image", "", "PNG of the leader's handwritten signature (blue, transparent)")
	fl.StringVar(&f.seal, "seal", "", "PNG of the organisation's seal (red, transparent), laid over the image")
	fl.StringArrayVar(&f.text, "text", nil, "a line of the text block (repeatable), e.g. 'Số: 05/UBND-VP'")
	fl.StringVar(&f.reason, "reason", "", "reason for signing")
	fl.StringVar(&f.location, "location", "", "where the document was signed")
	fl.StringVar(&f.contact, "contact", "", "contact information of the signer")
	fl.StringVar(&f.name, "name", "", "signer name written in the signature dictionary")
	fl.StringVar(&f.certify, "certify", "", "certification signature: no-changes, form-filling or annotations")
	fl.StringVar(&f.hash, "hash", "SHA-256", "digest: SHA-256, SHA-384 or SHA-512")
	fl.BoolVar(&f.pss, "pss", false, "RSA-PSS instead of PKCS#1 v1.5 (RSA keys)")
	fl.StringVarP(&f.out, "output", "o", "", "output file (one input)")
	fl.StringVar(&f.outDir, "out-dir", "", "output directory (a batch)")
	fl.BoolVar(&f.inPlace, "in-place", false, "append the signature to the input file itself")
	fl.IntVar(&f.workers, "workers", runtime.NumCPU(), "documents signed at once in a batch")
	return cmd
}

func usageErr(format string, a ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, a...)}
}

func runSign(cmd *cobra.Command, f signFlags, inputs []string) error {
	if f.key == "" {
		return usageErr("--key is required")
	}
	modes := 0
	for _, on := range []bool{f.out != "", f.outDir != "", f.inPlace} {
		if on {
			modes++
		}
	}
	if modes != 1 {
		return usageErr("give exactly one of -o OUT, --out-dir DIR or --in-place")
	}
	if f.out != "" && len(inputs) != 1 {
		return usageErr("-o takes one input; use --out-dir for several")
	}
	opts, err := signOptions(f)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	// An interrupt (Ctrl-C, or SIGTERM from a scheduler) stops the batch between
	// documents: what was committed stays, staged outputs are removed, exit 1.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	key, err := hsm.Open(ctx, f.key, hsm.Options{})
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	defer closeKey(key)
	if err := attachCertificates(key, f, &opts); err != nil {
		return &exitError{code: 2, err: err}
	}
	jobs := make([]signJob, len(inputs))
	targets := map[string]string{}
	for i, in := range inputs {
		jobs[i] = signJob{in: in}
		switch {
		case f.out != "":
			jobs[i].out = f.out
		case f.outDir != "":
			jobs[i].out = filepath.Join(f.outDir, filepath.Base(in))
		}
		// Two inputs with one output name would leave only the later one's output.
		target := jobs[i].out
		if target == "" {
			target = in // in place
		}
		target = filepath.Clean(target)
		if prev, ok := targets[target]; ok {
			return usageErr("%s and %s would both be written to %s", prev, in, target)
		}
		targets[target] = in
	}
	if f.outDir != "" {
		if err := os.MkdirAll(f.outDir, 0o755); err != nil {
			return &exitError{code: 1, err: err}
		}
	}
	return runJobs(ctx, cmd.ErrOrStderr(), key, jobs, opts, f.workers)
}

type signJob struct {
	in, out string
	staged  staged
	err     error
	done    bool // attempted (a batch stops early after a write error)
}

func runJobs(ctx context.Context, stderr io.Writer, key hsm.Key, jobs []signJob, opts pades.Options, workers int) error {
	if workers < 1 {
		workers = 1
	}
	if len(jobs) > 1 {
		// A batch repeats the same signer for every document: estimate its CMS size
		// once (an error here is every document's error, reported with each), and
		// collect garbage less often, since each document's allocations die with it
		// and the live heap stays a few MiB.
		_ = opts.Precompute()
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	var bar *progressbar.ProgressBar
	if len(jobs) > 1 && isTerminal(stderr) {
		bar = progressbar.NewOptions(len(jobs), progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("signing"), progressbar.OptionShowCount(), progressbar.OptionShowIts())
	}
	start := time.Now()
	com := startCommitter(len(jobs), commitChunk)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers && w < len(jobs); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				// After an output could not be written or committed, nothing more
				// will be: the token is not asked for signatures thrown away.
				if i >= len(jobs) || ctx.Err() != nil || com.failed.Load() {
					return
				}
				jobs[i].staged, jobs[i].err = signOne(ctx, key, jobs[i], opts)
				jobs[i].done = true
				if jobs[i].err == nil && jobs[i].staged.target != "" {
					com.add(jobs[i].staged)
				}
				if errors.As(jobs[i].err, new(writeError)) {
					com.failed.Store(true)
				}
				if bar != nil {
					_ = bar.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		_ = com.finish(false)
		return &exitError{code: 1, err: fmt.Errorf("interrupted: the outputs already committed are kept whole, the others removed (%w)", ctx.Err())}
	}
	commitErr := com.finish(true)
	failed, skipped := 0, 0
	for _, j := range jobs {
		switch {
		case !j.done:
			skipped++
		case j.err != nil:
			failed++
			fmt.Fprintf(stderr, "kyso: %s: %v\n", j.in, j.err)
		}
	}
	if skipped > 0 {
		fmt.Fprintf(stderr, "kyso: %d documents not attempted: the batch stopped when an output could not be written\n", skipped)
	}
	failed += skipped
	if commitErr != nil {
		return &exitError{code: 1, err: fmt.Errorf("writing the signed documents: %w", commitErr)}
	}
	if len(jobs) > 1 {
		d := time.Since(start)
		fmt.Fprintf(stderr, "signed %d of %d documents in %v (%.1f/s)\n", len(jobs)-failed, len(jobs), d.Round(time.Millisecond), float64(len(jobs)-failed)/d.Seconds())
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d documents not signed", failed, len(jobs))}
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// signOne signs one PDF and stages its output (see copyOriginal); any other file gets
// a detached CAdES signature beside it.
func signOne(ctx context.Context, key hsm.Key, j signJob, opts pades.Options) (staged, error) {
	in, err := os.Open(j.in)
	if err != nil {
		return staged{}, err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return staged{}, err
	}
	if !looksLikePDF(in) {
		// A .pdf without a PDF header is a broken PDF, not another kind of file.
		if strings.EqualFold(filepath.Ext(j.in), ".pdf") {
			return staged{}, fmt.Errorf("%w: the file is named .pdf but is not one", pdf.ErrNotPDF)
		}
		return staged{}, signCAdES(ctx, key, j, opts)
	}
	if j.out == "" {
		tail, err := signedTail(ctx, key, in, st.Size(), opts)
		if err != nil {
			return staged{}, explainSignError(err)
		}
		out, err := stageOutput(in, st.Size(), tail, j.in, true)
		if err != nil {
			return staged{}, writeError{err}
		}
		return out, nil
	}
	// The original is copied first, so that an output that cannot be written costs
	// no signature. A large one is copied by the kernel while it is hashed here (the
	// copy owns the file offset, signing reads with ReadAt) and its write-back starts
	// at once.
	if st.Size() >= overlapCopyAbove {
		copied := make(chan copyResult, 1)
		go func() {
			f, err := copyOriginal(in, st.Size(), j.out, true)
			copied <- copyResult{f, err}
		}()
		tail, err := signedTail(ctx, key, in, st.Size(), opts)
		return finishSigned(<-copied, tail, err, j.out)
	}
	f, err := copyOriginal(in, st.Size(), j.out, false)
	if err != nil {
		return staged{}, writeError{err}
	}
	tail, err := signedTail(ctx, key, in, st.Size(), opts)
	return finishSigned(copyResult{f: f}, tail, err, j.out)
}

// finishSigned stages the copy c of the original with tail appended, or removes it
// when signing failed (signErr).
func finishSigned(c copyResult, tail []byte, signErr error, target string) (staged, error) {
	if signErr != nil {
		discardCopy(c.f)
		return staged{}, explainSignError(signErr)
	}
	if c.err != nil {
		return staged{}, writeError{c.err}
	}
	out, err := finishCopy(c.f, tail, target)
	if err != nil {
		return staged{}, writeError{err}
	}
	return out, nil
}

// writeError is an output that could not be written: not the document's fault, and
// the same for every document after it, so a batch stops at the first.
type writeError struct{ err error }

func (e writeError) Error() string { return "writing the output: " + e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

// overlapCopyAbove is the size from which the copy of the original overlaps signing.
const overlapCopyAbove = 8 << 20

type copyResult struct {
	f   *os.File
	err error
}

// signedTail reads the document once, asks the key once, and returns the new
// revisions to append.
func signedTail(ctx context.Context, key hsm.Key, in *os.File, size int64, opts pades.Options) ([]byte, error) {
	p, err := pades.Prepare(ctx, in, size, nil, opts)
	if err != nil {
		return nil, err
	}
	sig, err := pades.SignDigest(ctx, key, p.SignedAttrsDigest(), p.SignatureOpts())
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return p.Complete(ctx, in, sig, opts)
}

// staged is an output written but not yet visible: a temporary file to rename over
// target once it is on disk, or (in place) an append already made to target.
type staged struct {
	tmp, target string
}

// stageOutput writes the original followed by tail, in place or into a staged copy
// for target (see copyOriginal); commitOutputs then makes it durable and visible.
func stageOutput(in *os.File, size int64, tail []byte, target string, inPlace bool) (staged, error) {
	if inPlace {
		return appendInPlace(target, size, tail)
	}
	tmp, err := copyOriginal(in, size, target, false)
	if err != nil {
		return staged{}, err
	}
	return finishCopy(tmp, tail, target)
}

// appendInPlace appends tail to target with one write, truncated back on a failure.
func appendInPlace(target string, size int64, tail []byte) (staged, error) {
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return staged{}, err
	}
	if _, err := f.Write(tail); err != nil {
		f.Close()
		_ = os.Truncate(target, size)
		return staged{}, err
	}
	return staged{target: target}, f.Close()
}

// copyOriginal copies the first size bytes of in into a new temporary file in
// target's directory, filled by the kernel (copy_file_range: no pass through user
// space). With writeBack the kernel is also told to start writing it to disk now, so
// that the flush at commit finds little left to do.
func copyOriginal(in *os.File, size int64, target string, writeBack bool) (*os.File, error) {
	tmp, err := os.CreateTemp(filepath.Dir(target), ".kyso-*")
	if err != nil {
		return nil, err
	}
	// The copy owns in's file offset (os.File.ReadFrom passes it to copy_file_range);
	// signing reads in with ReadAt only.
	if _, err = in.Seek(0, io.SeekStart); err == nil {
		_, err = io.CopyN(tmp, in, size)
	}
	if err == nil && writeBack {
		// A hint only: where the file system does not take it, commit flushes all.
		_ = unix.SyncFileRange(int(tmp.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
	}
	if err != nil {
		discardCopy(tmp)
		return nil, err
	}
	return tmp, nil
}

// finishCopy appends tail to a copy of the original and stages it for target;
// commitOutputs then makes it durable and visible.
func finishCopy(tmp *os.File, tail []byte, target string) (staged, error) {
	_, err := tmp.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = tmp.Write(tail)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return staged{}, err
	}
	return staged{tmp: tmp.Name(), target: target}, nil
}

// discardCopy removes a copy that will not be staged (nil is nothing).
func discardCopy(tmp *os.File) {
	if tmp != nil {
		tmp.Close()
		os.Remove(tmp.Name())
	}
}

// commitOutputs flushes the staged files to disk, then renames each over its target
// and syncs the directories. Until then no target holds a partial document. A few
// files are flushed one by one (fsync: only their own data); more share one syncfs
// per directory, so that a chunk of a batch pays for one journal commit, not one per
// document. (syncfs also flushes whatever else is waiting on that file system, which
// one large output should not have to wait for.)
func commitOutputs(outs []staged) error {
	dirs := map[string]bool{}
	for _, o := range outs {
		dirs[filepath.Dir(o.target)] = true
	}
	syncPath := func(path string, fs bool) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		if fs {
			err = unix.Syncfs(int(f.Fd()))
		} else {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	if len(outs) <= fsyncEachUpTo {
		for _, o := range outs {
			path := o.tmp
			if path == "" {
				path = o.target
			}
			if err := syncPath(path, false); err != nil {
				return err
			}
		}
	} else {
		for d := range dirs {
			if err := syncPath(d, true); err != nil {
				return err
			}
		}
	}
	for _, o := range outs {
		if o.tmp == "" {
			continue
		}
		if err := os.Rename(o.tmp, o.target); err != nil {
			return err
		}
	}
	for d := range dirs {
		if err := syncPath(d, false); err != nil {
			return err
		}
	}
	return nil
}

// fsyncEachUpTo is the most outputs commitOutputs flushes one by one.
const fsyncEachUpTo = 4

// commitChunk is how many staged outputs a batch commits at a time.
const commitChunk = 64

// committer commits a batch's outputs (commitOutputs) in chunks while the batch goes
// on, so that waiting for the disk overlaps the signing of the next documents instead
// of idling the cores at the end. Each output still becomes visible only once it is
// on disk; a batch that is interrupted or fails to write keeps the chunks already
// committed, complete, and removes the rest.
type committer struct {
	in     chan staged
	commit bool // read by the goroutine after in is closed
	done   chan error
	failed atomic.Bool // an output could not be written or committed: stop
}

func startCommitter(capacity, chunk int) *committer {
	c := &committer{in: make(chan staged, capacity), done: make(chan error, 1)}
	go func() {
		var pending []staged
		var err error
		for o := range c.in {
			pending = append(pending, o)
			if len(pending) >= chunk && err == nil {
				if err = commitOutputs(pending); err != nil {
					discardOutputs(pending)
					c.failed.Store(true)
				}
				pending = pending[:0]
			}
		}
		if c.commit && err == nil {
			err = commitOutputs(pending)
		}
		if !c.commit || err != nil {
			discardOutputs(pending)
		}
		c.done <- err
	}()
	return c
}

// add hands over one staged output; it never blocks (capacity is the batch's size).
func (c *committer) add(o staged) { c.in <- o }

// finish commits what is left (or, commit false, discards it) and reports the first
// error of any chunk.
func (c *committer) finish(commit bool) error {
	c.commit = commit
	close(c.in)
	return <-c.done
}

// discardOutputs removes staged temporary files that will not be committed.
func discardOutputs(outs []staged) {
	for _, o := range outs {
		if o.tmp != "" {
			os.Remove(o.tmp)
		}
	}
}

// looksLikePDF tells a PDF by its header in the first KiB (junk before it is allowed,
// as readers allow it).
func looksLikePDF(f *os.File) bool {
	b := make([]byte, 1024)
	n, _ := f.ReadAt(b, 0)
	return bytes.Contains(b[:n], []byte("%PDF-"))
}

// signCAdES writes a detached CAdES signature (B-B, or B-T with a TSA) of any file:
// OUT as given, or IN.p7s in the output directory. cades.SignFile writes it
// atomically.
func signCAdES(ctx context.Context, key hsm.Key, j signJob, opts pades.Options) error {
	if opts.Level > pades.LevelBT {
		return fmt.Errorf("not a PDF: a detached CAdES signature is made at B-B or B-T, not %v", opts.Level)
	}
	out := j.out
	switch {
	case out == "":
		out = j.in + ".p7s"
	case !strings.HasSuffix(out, ".p7s") && filepath.Base(out) == filepath.Base(j.in):
		out += ".p7s" // a batch names outputs after their inputs
	}
	spec := cms.SignerInfoSpec{Certificate: opts.Certificate, Chain: opts.Chain, Hash: opts.Hash, PSS: opts.PSS,
		Profile: cms.ProfileCAdES, SigningTime: time.Now()}
	var ts cms.Timestamper
	if opts.Level == pades.LevelBT {
		ts = opts.Timestamper
	}
	return cades.SignFile(ctx, key, spec, j.in, out, ts)
}

func explainSignError(err error) error {
	switch {
	case errors.Is(err, pdf.ErrEncrypted):
		return fmt.Errorf("%w (decrypt it first: Kyso does not write into encrypted files)", err)
	}
	return err
}

func closeKey(k hsm.Key) {
	if c, ok := k.(io.Closer); ok {
		_ = c.Close()
	}
}

func signOptions(f signFlags) (pades.Options, error) {
	var o pades.Options
	var err error
	if o.Level, err = pades.ParseLevel(f.level); err != nil {
		return o, err
	}
	if o.Certify, err = pades.ParseCertify(f.certify); err != nil {
		return o, err
	}
	switch strings.ToUpper(strings.ReplaceAll(f.hash, "-", "")) {
	case "SHA256":
		o.Hash = crypto.SHA256
	case "SHA384":
		o.Hash = crypto.SHA384
	case "SHA512":
		o.Hash = crypto.SHA512
	default:
		return o, fmt.Errorf("--hash %q: want SHA-256, SHA-384 or SHA-512", f.hash)
	}
	o.PSS, o.Field = f.pss, f.field
	o.Reason, o.Location, o.ContactInfo, o.Name = f.reason, f.location, f.contact, f.name
	if o.Level >= pades.LevelBT {
		if len(f.tsa) == 0 {
			return o, fmt.Errorf("--level %s needs --tsa URL", f.level)
		}
		o.Timestamper = &pki.TSAClient{URLs: f.tsa, Timeout: f.tsaTimeout}
	}
	if o.Level >= pades.LevelBLT {
		o.Validation = &pki.Collector{OCSP: &pki.OCSPClient{}, CRLs: &pki.CRLFetcher{}}
	}
	if f.visible || f.image != "" || f.seal != "" || len(f.text) > 0 {
		a := &pades.Appearance{Page: f.page, Lines: f.text}
		if f.rect != "" {
			parts := strings.Split(f.rect, ",")
			if len(parts) != 4 {
				return o, fmt.Errorf("--rect %q: want x1,y1,x2,y2", f.rect)
			}
			for i, p := range parts {
				v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
				if err != nil {
					return o, fmt.Errorf("--rect %q: %v", f.rect, err)
				}
				a.Rect[i] = v
			}
		}
		for _, img := range []struct {
			path string
			dst  *[]byte
		}{{f.image, &a.Image}, {f.seal, &a.Seal}} {
			if img.path == "" {
				continue
			}
			b, err := os.ReadFile(img.path)
			if err != nil {
				return o, err
			}
			*img.dst = b
		}
		if a.Image == nil && len(a.Lines) == 0 {
			return o, errors.New("--visible needs --image or --text")
		}
		o.Appearance = a
	}
	return o, nil
}

// attachCertificates takes the signer certificate and chain from the flags, else from
// the token.
func attachCertificates(key hsm.Key, f signFlags, o *pades.Options) error {
	o.Certificate = key.Certificate()
	o.Chain = key.Chain()
	if f.cert != "" {
		certs, err := pki.ReadCertificatesFile(f.cert)
		if err != nil {
			return err
		}
		o.Certificate = certs[0]
	}
	if f.chain != "" {
		certs, err := pki.ReadCertificatesFile(f.chain)
		if err != nil {
			return err
		}
		o.Chain = certs
	}
	if o.Certificate == nil {
		return errors.New("no certificate: the key has none on its token; give --cert")
	}
	return nil
}
