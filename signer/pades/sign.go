package pades

import (
	"context"
	"crypto"
	"crypto/rand"
	"fmt"
	"io"
)

// contextSigner is a key that stops when its context ends (hsm.Key is one).
type contextSigner interface {
	SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

// SignDigest asks key for one signature, through SignContext when the key has it.
func SignDigest(ctx context.Context, key crypto.Signer, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if cs, ok := key.(contextSigner); ok {
		return cs.SignContext(ctx, digest, opts)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return key.Sign(rand.Reader, digest, opts)
}

// Sign signs the document (size bytes of r) in one call and writes the signed document
// to w: the original bytes, copied while they are hashed in a single pass, then the
// new revisions. The key is asked exactly once. On error w holds a partial document:
// callers write to a temporary file and keep it only on success.
func Sign(ctx context.Context, key crypto.Signer, r io.ReaderAt, size int64, w io.Writer, opts Options) error {
	p, err := Prepare(ctx, r, size, w, opts)
	if err != nil {
		return err
	}
	sig, err := SignDigest(ctx, key, p.SignedAttrsDigest(), p.SignatureOpts())
	if err != nil {
		return fmt.Errorf("pades: signing: %w", err)
	}
	tail, err := p.Complete(ctx, r, sig, opts)
	if err != nil {
		return err
	}
	_, err = w.Write(tail)
	return err
}
