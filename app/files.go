package app

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/internal/durable"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/cades"
	"github.com/kyso-vn/kyso/signer/cms"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/pdf"
	"github.com/kyso-vn/kyso/signer/verify"
)

// This file holds the use-cases over files on disk that the command line offers:
// sign files (PAdES, or a detached CAdES .p7s beside any other file), extend signed
// PDFs, verify files, and import files into the store. Every output is written
// through internal/durable: whole or not at all.

// ParseHash reads a digest name: SHA-256 (also "" and "sha256"), SHA-384 or SHA-512.
func ParseHash(s string) (crypto.Hash, error) {
	switch strings.ToUpper(strings.ReplaceAll(s, "-", "")) {
	case "", "SHA256":
		return crypto.SHA256, nil
	case "SHA384":
		return crypto.SHA384, nil
	case "SHA512":
		return crypto.SHA512, nil
	}
	return 0, fault.Errorf(fault.Invalid, "digest %q: want SHA-256, SHA-384 or SHA-512", s)
}

// ParseCertify reads a certification level: "" (an approval signature), no-changes,
// form-filling or annotations.
func ParseCertify(s string) (pades.Certify, error) {
	c, err := pades.ParseCertify(s)
	if err != nil {
		return 0, fault.Errorf(fault.Invalid, "%v", err)
	}
	return c, nil
}

// ParseRect reads a rectangle "x1,y1,x2,y2" in points; "" is the zero rectangle
// (the default place).
func ParseRect(s string) ([4]float64, error) {
	r, err := pades.ParseRect(s)
	if err != nil {
		return r, fault.Errorf(fault.Invalid, "%v", err)
	}
	return r, nil
}

// WithCertificates is key with cert and chain in place of those its provider holds
// (a token may hold none): files named on the command line or in the configuration.
// Closing it closes key.
func WithCertificates(key hsm.Key, cert *x509.Certificate, chain []*x509.Certificate) hsm.Key {
	return withCertificates{Key: key, cert: cert, chain: chain}
}

// Close closes the key underneath (a PKCS#11 session, a token login), if it has one
// to close.
func (k withCertificates) Close() error {
	if c, ok := k.Key.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// FileJob is one file SignFiles signs: In, written to Out, or appended to In itself
// when Out is "". A file that is not a PDF gets a detached CAdES signature: Out when
// it names a .p7s, else In.p7s in Out's directory (or beside In).
type FileJob struct {
	In, Out string
	// Err is why the file was not signed; Done that it was attempted (a batch stops
	// at the first output it cannot write).
	Err  error
	Done bool
}

// CommitChunk is how many outputs of a batch are made durable and visible at a time.
const CommitChunk = 64

// OverlapCopyAbove is the size from which a PDF's copy into its output runs while it
// is hashed.
const OverlapCopyAbove = 8 << 20

// SignFiles signs the jobs' files with the named key on workers goroutines, with one
// set of options (checked once; the CMS size bound estimated once). The outputs are
// made durable and visible CommitChunk at a time while the batch runs; after an
// output cannot be written no more signatures are made. done, when set, is called
// after each file.
//
// Each job's own failure is in its Err. SignFiles itself fails when the options
// cannot be used (kind Invalid, nothing attempted), when ctx ends (the outputs already
// committed stay, whole; the others are removed), or when a chunk of outputs could
// not be committed.
func (s *Service) SignFiles(ctx context.Context, keyName string, jobs []FileJob, o SignOptions, workers int, done func()) error {
	k, po, err := s.serverKeyOptions(keyName, o)
	if err != nil {
		return err
	}
	if len(jobs) > 1 {
		// An error here is every document's error, reported with each.
		_ = po.Precompute()
	}
	key := keyFailures{k.Key, keyName}
	workers = max(1, min(workers, len(jobs)))
	batch := durable.NewBatch(len(jobs), CommitChunk)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				// After an output could not be written or committed, nothing more
				// will be: the key is not asked for signatures thrown away.
				if i >= len(jobs) || ctx.Err() != nil || batch.Failed() {
					return
				}
				j := &jobs[i]
				do := po
				do.Time = s.now()
				var out durable.Pending
				out, j.Err = s.signFile(ctx, key, *j, do, o)
				j.Done = true
				switch {
				case j.Err == nil && out.Target() != "":
					batch.Add(out)
				case errors.As(j.Err, new(writeError)):
					batch.Fail()
				}
				if done != nil {
					done()
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		_ = batch.Finish(false)
		return err
	}
	if err := batch.Finish(true); err != nil {
		// The documents of the chunks that could not be committed were signed but are
		// not written: each is a failure of its own, named with its file.
		byTarget := make(map[string]*FileJob, len(jobs))
		for i := range jobs {
			byTarget[cmp.Or(jobs[i].Out, jobs[i].In)] = &jobs[i]
		}
		for _, p := range batch.Lost() {
			if j := byTarget[p.Target()]; j != nil && j.Err == nil {
				j.Err = writeError{err}
			}
		}
		return writeError{err}
	}
	return nil
}

// writeError is an output that could not be written: not the document's fault, and
// the same for every document after it, so a batch stops at the first.
type writeError struct{ err error }

func (e writeError) Error() string { return "writing the output: " + e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

// signFile signs one file. A PDF's output is staged: appended to the input (j.Out
// ""), or a copy of the original followed by the new revisions. The original is
// copied first, so that an output that cannot be written costs no signature; a large
// one is copied by the kernel while it is hashed here (the copy owns the file offset,
// signing reads with ReadAt) and its write-back starts at once. Any other file gets a
// detached CAdES signature, written at once (the zero Pending).
func (s *Service) signFile(ctx context.Context, key keyFailures, j FileJob, po pades.Options, o SignOptions) (durable.Pending, error) {
	in, st, err := openInput(j.In)
	if err != nil {
		return durable.Pending{}, err
	}
	defer in.Close()
	size := st.Size()
	if !looksLikePDF(in) {
		// A .pdf without a PDF header is a broken PDF, not another kind of file.
		if strings.EqualFold(filepath.Ext(j.In), ".pdf") {
			return durable.Pending{}, fault.Errorf(fault.BadDocument, "%w: the file is named .pdf but is not one", pdf.ErrNotPDF)
		}
		return durable.Pending{}, s.signCAdESFile(ctx, key, j, o)
	}
	if j.Out == "" {
		tail, err := signedTail(ctx, key, in, size, po)
		if err != nil {
			return durable.Pending{}, err
		}
		out, err := durable.Append(j.In, tail)
		if err != nil {
			return durable.Pending{}, writeError{err}
		}
		return out, nil
	}
	var out *durable.File
	var tail []byte
	if size >= OverlapCopyAbove {
		copied := make(chan error, 1)
		go func() {
			var err error
			out, err = copyOriginal(in, st, j.Out)
			if err == nil {
				durable.StartWriteBack(out)
			}
			copied <- err
		}()
		tail, err = signedTail(ctx, key, in, size, po)
		if cerr := <-copied; cerr != nil {
			if err == nil {
				err = writeError{cerr}
			}
		}
	} else {
		if out, err = copyOriginal(in, st, j.Out); err != nil {
			return durable.Pending{}, writeError{err}
		}
		tail, err = signedTail(ctx, key, in, size, po)
	}
	if err != nil {
		out.Discard()
		return durable.Pending{}, err
	}
	p, err := finishCopy(out, tail)
	if err != nil {
		return durable.Pending{}, writeError{err}
	}
	return p, nil
}

// looksLikePDF tells a PDF by its header in the first KiB (junk before it is allowed,
// as readers allow it).
func looksLikePDF(f *os.File) bool {
	b := make([]byte, 1024)
	n, _ := f.ReadAt(b, 0)
	return bytes.Contains(b[:n], []byte("%PDF-"))
}

// openInput opens a file to sign or verify, with its size and permissions.
func openInput(path string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// signedTail reads the document once, asks the key once, and returns the new
// revisions to append.
func signedTail(ctx context.Context, key crypto.Signer, in io.ReaderAt, size int64, po pades.Options) ([]byte, error) {
	p, err := pades.Prepare(ctx, in, size, nil, po)
	if err != nil {
		return nil, mapSignError(err)
	}
	sig, err := pades.SignDigest(ctx, key, p.SignedAttrsDigest(), p.SignatureOpts())
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	tail, err := p.Complete(ctx, in, sig, po)
	return tail, mapSignError(err)
}

// copyOriginal copies the original in (st its Stat) into a new output for target,
// filled by the kernel (copy_file_range: no pass through user space). The output
// gets the original's permissions, as cp gives them: a signed copy of a private
// document stays private.
func copyOriginal(in *os.File, st os.FileInfo, target string) (*durable.File, error) {
	out, err := durable.Create(target, st.Mode().Perm())
	if err != nil {
		return nil, err
	}
	// The copy owns in's file offset (os.File.ReadFrom passes it to copy_file_range);
	// signing reads in with ReadAt only.
	if _, err = in.Seek(0, io.SeekStart); err == nil {
		_, err = io.CopyN(out, in, st.Size())
	}
	if err != nil {
		out.Discard()
		return nil, err
	}
	return out, nil
}

// finishCopy appends tail to a copy of the original and stages it.
func finishCopy(out *durable.File, tail []byte) (durable.Pending, error) {
	_, err := out.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = out.Write(tail)
	}
	if err != nil {
		out.Discard()
		return durable.Pending{}, err
	}
	return out.Stage()
}

// stageSigned stages the original in followed by tail at target, or appended to in
// itself when target is "".
func stageSigned(in *os.File, path string, st os.FileInfo, tail []byte, target string) (durable.Pending, error) {
	if target == "" {
		return durable.Append(path, tail)
	}
	out, err := copyOriginal(in, st, target)
	if err != nil {
		return durable.Pending{}, err
	}
	return finishCopy(out, tail)
}

// cadesSpec applies the rules of a detached CAdES signature's options: B-B, or B-T
// with the service's timestamp authority; the digest and padding of o.
func (s *Service) cadesSpec(key hsm.Key, o SignOptions) (cms.SignerInfoSpec, cms.Timestamper, error) {
	if o.Level > pades.LevelBT {
		return cms.SignerInfoSpec{}, nil, fault.Errorf(fault.Invalid, "not a PDF: a detached CAdES signature (.p7s) is made at B-B or B-T, not %v", o.Level)
	}
	if err := s.CheckSignOptions(SignOptions{Level: o.Level}); err != nil {
		return cms.SignerInfoSpec{}, nil, err
	}
	spec := cms.SignerInfoSpec{Certificate: key.Certificate(), Chain: key.Chain(), Hash: o.Hash, PSS: o.PSS,
		Profile: cms.ProfileCAdES, SigningTime: s.now()}
	if spec.Hash == 0 {
		spec.Hash = crypto.SHA256
	}
	if o.Level == pades.LevelBT {
		return spec, s.Timestamper, nil
	}
	return spec, nil, nil
}

// signCAdESFile writes a detached CAdES signature of any file: Out when it names a
// .p7s, else In.p7s where the output goes. cades.SignFile writes it durably at once.
func (s *Service) signCAdESFile(ctx context.Context, key keyFailures, j FileJob, o SignOptions) error {
	spec, ts, err := s.cadesSpec(key.Key, o)
	if err != nil {
		return err
	}
	out := j.Out
	switch {
	case out == "":
		out = j.In + ".p7s"
	case !strings.HasSuffix(out, ".p7s") && filepath.Base(out) == filepath.Base(j.In):
		out += ".p7s" // a batch names outputs after their inputs
	}
	return cades.SignFile(ctx, key, spec, j.In, out, ts)
}

// UnvalidatedSignature is a signature whose validation data could not be gathered
// when a document was extended (a foreign signature whose CA's revocation service
// does not answer, a chain its CMS does not carry): its field's name, its signer's
// common name, why, and whether the document already held validation data for it
// from an earlier extension (which stays).
type UnvalidatedSignature struct {
	Field  string `json:"field"`
	Signer string `json:"signer,omitempty"`
	Reason string `json:"reason"`
	Kept   bool   `json:"kept_earlier_data"`
}

// ExtendResult is what an extension did. Unvalidated lists the signatures left
// without new validation data; empty, the document was extended in full, else it was
// "extended with warnings": every other signature got its validation data.
type ExtendResult struct {
	Level       string                 `json:"level"`
	Unvalidated []UnvalidatedSignature `json:"unvalidated"`
}

// Complete reports a full extension (no signature left without validation data).
func (r ExtendResult) Complete() bool { return len(r.Unvalidated) == 0 }

// extend raises the signed PDF (size bytes of r) to level with the service's
// revocation sources and timestamp authority and returns the bytes to append. A
// document none of whose signatures can be validated is fault.Unavailable, naming
// them.
func (s *Service) extend(ctx context.Context, r io.ReaderAt, size int64, level pades.Level) ([]byte, ExtendResult, error) {
	res := ExtendResult{Level: level.String(), Unvalidated: []UnvalidatedSignature{}}
	if level != pades.LevelBLT && level != pades.LevelBLTA {
		return nil, res, fault.Errorf(fault.Invalid, "extend raises a document to B-LT or B-LTA, not %v", level)
	}
	if s.Validation == nil {
		return nil, res, fault.New(fault.NotImplemented, "extending needs revocation data, and this server is configured offline (revocation.offline)")
	}
	if level == pades.LevelBLTA && s.Timestamper == nil {
		return nil, res, fault.New(fault.Invalid, "level B-LTA needs a timestamp authority, and none is configured")
	}
	ext, err := pades.Extend(ctx, r, size, pades.ExtendOptions{Level: level, Timestamper: s.Timestamper, Validation: s.Validation})
	if errors.Is(err, pades.ErrNoValidationData) {
		return nil, res, fault.Wrap(fault.Unavailable, err, fmt.Sprintf("no signature's validation data could be gathered, nothing was added (%v)", err))
	}
	if err != nil {
		return nil, res, mapSignError(err)
	}
	for _, u := range ext.Unvalidated {
		res.Unvalidated = append(res.Unvalidated, UnvalidatedSignature{Field: u.Field, Signer: u.Signer, Reason: u.Reason, Kept: u.Kept})
	}
	return ext.Tail, res, nil
}

// ExtendFile raises the signed PDF at path to level (B-LT or B-LTA) with the
// service's revocation sources and timestamp authority, writing the result to out,
// or appending it to path when out is "". A signature it cannot gather validation
// data for does not stop the others: the result names it, and the file is written.
func (s *Service) ExtendFile(ctx context.Context, path, out string, level pades.Level) (ExtendResult, error) {
	in, st, err := openInput(path)
	if err != nil {
		return ExtendResult{}, err
	}
	defer in.Close()
	tail, res, err := s.extend(ctx, in, st.Size(), level)
	if err != nil {
		return res, fmt.Errorf("%s: %w", path, err)
	}
	target := out
	if target == "" {
		target = path
	}
	p, err := stageSigned(in, path, st, tail, out)
	if err == nil {
		if err = durable.Commit(p); err != nil {
			durable.Discard(p)
		}
	}
	if err != nil {
		return res, writeError{fmt.Errorf("%s: %w", target, err)}
	}
	return res, nil
}

// ExtendDocument raises an uploaded signed PDF to level and writes the whole
// extended document to out (the API's POST /v1/extend). p is the caller, for the
// log of outbound fetches.
func (s *Service) ExtendDocument(ctx context.Context, p Principal, level string, doc Document, out io.Writer) (ExtendResult, error) {
	if level == "" {
		level = pades.LevelBLTA.String()
	}
	lvl, err := ParseLevel(level)
	if err != nil {
		return ExtendResult{}, err
	}
	ctx = WithCaller(ctx, p)
	tail, res, err := s.extend(ctx, doc, doc.Size(), lvl)
	if err != nil {
		return res, err
	}
	if _, err := io.Copy(out, io.NewSectionReader(doc, 0, doc.Size())); err != nil {
		return res, fmt.Errorf("app: extended output: %w", err)
	}
	if _, err := out.Write(tail); err != nil {
		return res, fmt.Errorf("app: extended output: %w", err)
	}
	return res, nil
}

// VerifyFile verifies the signed PDF at path with the service's verification
// options (trust anchors, revocation, time). Its errors are signer/verify's: an
// input that is not a signed document is verify.ErrNotSigned or verify.ErrUnreadable.
func (s *Service) VerifyFile(ctx context.Context, path string) (*verify.Report, error) {
	return verify.VerifyFile(ctx, path, s.Verify)
}

// VerifyDetachedFile verifies the detached CMS/CAdES signature at sigPath over the
// content at contentPath, which is read as a stream.
func (s *Service) VerifyDetachedFile(ctx context.Context, sigPath, contentPath string) (*verify.Report, error) {
	sig, err := os.ReadFile(sigPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", verify.ErrUnreadable, err)
	}
	c, st, err := openInput(contentPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", verify.ErrUnreadable, err)
	}
	defer c.Close()
	return verify.VerifyDetached(ctx, sig, c, st.Size(), sigPath, s.Verify)
}

// ImportFile stores the file at path as the document nd describes (a received
// document or a draft, as it is: nothing is signed or verified). progress, when set,
// sees the content as it is read.
func (s *Service) ImportFile(ctx context.Context, path string, nd store.NewDocument, progress io.Writer) (*store.Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// nd.Series is the caller's override of the series the configuration chooses
	if nd.Series, err = s.seriesFor(nd.Direction, nd.Type, nd.Confidentiality, nd.Series); err != nil {
		return nil, err
	}
	nd.Content = f
	if progress != nil {
		nd.Content = io.TeeReader(f, progress)
	}
	return s.Store.CreateDocument(ctx, nd)
}
