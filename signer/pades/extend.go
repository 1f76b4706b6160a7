package pades

import (
	"context"
	"crypto"
	"fmt"
	"io"

	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/signer/cms"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// ExtendOptions raise an already-signed document to B-LT or B-LTA (archive renewal).
type ExtendOptions struct {
	Level       Level // LevelBLT or LevelBLTA
	Timestamper cms.Timestamper
	Validation  ValidationSource
	// TimestampReserve is the room for the document timestamp token (default 16 KiB).
	TimestampReserve int
}

// Extend adds a DSS with the validation data of every signature and document
// timestamp in the document and, at B-LTA, a new document timestamp over all of it.
// It reads the document once and returns the bytes to append after it. Running it
// again later renews the archive timestamp.
func Extend(ctx context.Context, r io.ReaderAt, size int64, o ExtendOptions) ([]byte, error) {
	if o.Level != LevelBLT && o.Level != LevelBLTA {
		return nil, fmt.Errorf("%w: extend to B-LT or B-LTA, not %v", ErrOptions, o.Level)
	}
	if o.Validation == nil || (o.Level == LevelBLTA && o.Timestamper == nil) {
		return nil, fmt.Errorf("%w: %v needs revocation data and, at B-LTA, a timestamp authority", ErrOptions, o.Level)
	}
	rd, err := pdf.Open(r, size)
	if err != nil {
		return nil, err
	}
	if rd.Encrypted() {
		return nil, pdf.ErrEncrypted
	}
	cat, _, err := rd.Catalog()
	if err != nil {
		return nil, err
	}
	var sigs []dssSignature
	seen := map[string]bool{}
	for _, f := range walkFields(rd, rd.Dict(cat["AcroForm"])) {
		v := rd.Dict(f.dict["V"])
		contents, ok := v["Contents"].(pdf.String)
		if v == nil || !ok || seen[string(contents)] {
			continue
		}
		seen[string(contents)] = true
		pool, err := certsFromSignedData(contents)
		if err != nil {
			return nil, fmt.Errorf("pades: signature %q: %w", f.name, err)
		}
		sigs = append(sigs, dssSignature{contents: contents, chains: pki.EndEntityPaths(pool)})
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("%w: the document has no signature to extend", ErrField)
	}
	states, err := hashBase(ctx, r, size, nil, []crypto.Hash{crypto.SHA256})
	if err != nil {
		return nil, err
	}
	doc := &appended{base: r, baseSize: size, states: states}
	if err := addDSS(ctx, doc, sigs, o.Validation); err != nil {
		return nil, err
	}
	if o.Level == LevelBLTA {
		if err := addDocTimestamp(ctx, doc, o.Timestamper, o.TimestampReserve); err != nil {
			return nil, err
		}
	}
	return doc.tail, nil
}
