package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha1"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"

	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/signer/cms"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// Prepared is a signature between Prepare and Complete: the incremental update with its
// placeholder, the digest to sign, and the hash state after the original bytes. Its
// fields are exported so that it can be stored (JSON) and completed after a restart.
type Prepared struct {
	BaseSize int64
	Update   []byte
	// ContentsStart and ContentsEnd bound the /Contents hex string in Update, angle
	// brackets included.
	ContentsStart, ContentsEnd int
	ByteRange                  [4]int64
	Level                      Level
	TimestampReserve           int
	// BaseHashStates are the hash states after the original bytes, per algorithm.
	BaseHashStates map[crypto.Hash][]byte
	Pending        *cms.Pending
	FieldName      string
}

// SignedAttrsDigest is the digest the key signs; SignatureOpts says how.
func (p *Prepared) SignedAttrsDigest() []byte        { return p.Pending.SignedAttrsDigest() }
func (p *Prepared) SignatureOpts() crypto.SignerOpts { return p.Pending.SignatureOpts() }

const byteRangePlaceholder = "[0 0000000000 0000000000 0000000000]"

// Prepare reads the document (size bytes of r) once, builds the signature's
// incremental update and computes the digest to sign. When copyTo is not nil the
// original bytes are written to it during that single pass (the synchronous path: the
// output grows while the input is hashed).
func Prepare(ctx context.Context, r io.ReaderAt, size int64, copyTo io.Writer, opts Options) (*Prepared, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	rd, err := pdf.Open(r, size)
	if err != nil {
		return nil, err
	}
	if rd.Encrypted() {
		return nil, pdf.ErrEncrypted
	}
	reserve, err := opts.contentsReserve()
	if err != nil {
		return nil, err
	}
	upd, fieldName, err := buildSignatureUpdate(rd, &opts, reserve)
	if err != nil {
		return nil, err
	}
	p := &Prepared{BaseSize: size, Level: opts.Level, TimestampReserve: opts.TimestampReserve, FieldName: fieldName}
	p.Update, p.ContentsStart, p.ContentsEnd, p.ByteRange, err = layOut(upd, size, reserve)
	if err != nil {
		return nil, err
	}
	hashes := []crypto.Hash{opts.Hash}
	if opts.Level >= LevelBLTA && opts.Hash != crypto.SHA256 {
		hashes = append(hashes, crypto.SHA256)
	}
	p.BaseHashStates, err = hashBase(ctx, r, size, copyTo, hashes)
	if err != nil {
		return nil, err
	}
	h, err := resume(opts.Hash, p.BaseHashStates[opts.Hash])
	if err != nil {
		return nil, err
	}
	h.Write(p.Update[:p.ContentsStart])
	h.Write(p.Update[p.ContentsEnd:])
	p.Pending, err = cms.Prepare(opts.cmsSpec(), h.Sum(nil))
	if err != nil {
		return nil, err
	}
	return p, nil
}

// layOut marshals the update, finds the placeholders, and writes the final ByteRange.
func layOut(u *pdf.Update, baseSize int64, reserve int) ([]byte, int, int, [4]int64, error) {
	var br [4]int64
	b, err := u.Bytes()
	if err != nil {
		return nil, 0, 0, br, err
	}
	cph := "<" + strings.Repeat("0", 2*reserve) + ">"
	cs := bytes.Index(b, []byte("/Contents "+cph))
	bs := bytes.Index(b, []byte("/ByteRange "+byteRangePlaceholder))
	if cs < 0 || bs < 0 {
		return nil, 0, 0, br, errors.New("pades: placeholders not found in the update")
	}
	cs += len("/Contents ")
	ce := cs + len(cph)
	bs += len("/ByteRange ")
	total := baseSize + int64(len(b))
	br = [4]int64{0, baseSize + int64(cs), baseSize + int64(ce), total - (baseSize + int64(ce))}
	s := fmt.Sprintf("[0 %d %d %d]", br[1], br[2], br[3])
	if len(s) > len(byteRangePlaceholder) {
		return nil, 0, 0, br, errors.New("pades: document too large for the ByteRange")
	}
	copy(b[bs:], s+strings.Repeat(" ", len(byteRangePlaceholder)-len(s)))
	return b, cs, ce, br, nil
}

// copyBuffers are hashBase's read buffers: a batch of small documents would
// otherwise allocate (and zero) one per document.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

// hashBase reads the original once (copying it to w when w is not nil) and returns
// the hash states after it.
func hashBase(ctx context.Context, r io.ReaderAt, size int64, w io.Writer, hashes []crypto.Hash) (map[crypto.Hash][]byte, error) {
	hs := make([]hash.Hash, len(hashes))
	ws := make([]io.Writer, 0, len(hashes)+1)
	for i, h := range hashes {
		hs[i] = h.New()
		ws = append(ws, hs[i])
	}
	if w != nil {
		ws = append(ws, w)
	}
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	if _, err := io.CopyBuffer(io.MultiWriter(ws...), &ctxReader{ctx: ctx, r: io.NewSectionReader(r, 0, size)}, *buf); err != nil {
		return nil, fmt.Errorf("pades: reading the document: %w", err)
	}
	out := map[crypto.Hash][]byte{}
	for i, h := range hashes {
		st, err := hs[i].(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return nil, err
		}
		out[h] = st
	}
	return out, nil
}

func resume(h crypto.Hash, state []byte) (hash.Hash, error) {
	if state == nil {
		return nil, fmt.Errorf("pades: no hash state for %v", h)
	}
	hh := h.New()
	if err := hh.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("pades: hash state: %w", err)
	}
	return hh, nil
}

// ctxReader stops a long copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Complete embeds the CMS made from signature (the raw signature over
// SignedAttrsDigest), with a timestamp from B-T up, and from B-LT up the validation
// data and, at B-LTA, a document timestamp. base is the original document (read only
// for the B-LT and B-LTA revisions, which parse it). It returns the bytes to append
// after the original.
func (p *Prepared) Complete(ctx context.Context, base io.ReaderAt, signature []byte, opts Options) ([]byte, error) {
	var der []byte
	var err error
	rec := &recordingTimestamper{ts: opts.Timestamper}
	if p.Level >= LevelBT {
		if opts.Timestamper == nil {
			return nil, fmt.Errorf("%w: level %v needs a timestamp authority", ErrOptions, p.Level)
		}
		der, err = p.Pending.CompleteWithTimestamp(ctx, signature, rec)
	} else {
		der, err = p.Pending.Complete(signature)
	}
	if err != nil {
		return nil, err
	}
	return p.complete(ctx, base, der, rec.tokens, opts)
}

// CompleteCMS embeds a whole CMS made elsewhere (a remote service that returns CMS).
func (p *Prepared) CompleteCMS(ctx context.Context, base io.ReaderAt, der []byte, opts Options) ([]byte, error) {
	return p.complete(ctx, base, der, nil, opts)
}

func (p *Prepared) complete(ctx context.Context, base io.ReaderAt, der []byte, tokens [][]byte, opts Options) ([]byte, error) {
	out := append([]byte(nil), p.Update...)
	if err := embedContents(out, p.ContentsStart, p.ContentsEnd, der); err != nil {
		return nil, err
	}
	if p.Level < LevelBLT {
		return out, nil
	}
	doc := &appended{base: base, baseSize: p.BaseSize, tail: out, states: p.BaseHashStates}
	pool, err := certsFromSignedData(der)
	if err != nil {
		return nil, err
	}
	for _, tok := range tokens {
		tc, err := certsFromSignedData(tok)
		if err != nil {
			return nil, fmt.Errorf("pades: timestamp token: %w", err)
		}
		pool = append(pool, tc...)
	}
	pool = append(pool, opts.Chain...)
	padded := make([]byte, (p.ContentsEnd-p.ContentsStart-2)/2)
	copy(padded, der)
	sig := dssSignature{name: p.FieldName, contents: padded, chains: pki.EndEntityPaths(pool)}
	if _, err := addDSS(ctx, doc, []dssSignature{sig}, opts.Validation, false); err != nil {
		return nil, err
	}
	if p.Level >= LevelBLTA {
		if err := addDocTimestamp(ctx, doc, opts.Timestamper, opts.TimestampReserve); err != nil {
			return nil, err
		}
	}
	return doc.tail, nil
}

func embedContents(upd []byte, start, end int, der []byte) error {
	room := end - start - 2
	if 2*len(der) > room {
		return fmt.Errorf("%w: %d bytes, %d reserved", ErrTooLarge, len(der), room/2)
	}
	hex.Encode(upd[start+1:], der)
	return nil
}

// vriKey is the VRI dictionary key of a signature: the upper-case hex SHA-1 of its
// /Contents bytes (ETSI EN 319 142-1, 5.4.2.2).
func vriKey(contents []byte) pdf.Name {
	s := sha1.Sum(contents)
	return pdf.Name(strings.ToUpper(hex.EncodeToString(s[:])))
}
