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

// Extended is what Extend made: the bytes to append after the document, and the
// signatures it could not gather validation data for (the DSS got nothing new for
// them; the others did). An empty Unvalidated is a full extension.
type Extended struct {
	Tail        []byte
	Unvalidated []Unvalidated
}

// Extend adds a DSS with the validation data of every signature and document
// timestamp in the document it can gather and, at B-LTA, a new document timestamp
// over all of it. A signature whose validation data cannot be gathered (a foreign
// one whose CA does not answer) does not stop the others: it is named in
// Unvalidated. When none can be validated, Extend fails with ErrNoValidationData. It
// reads the document once and returns the bytes to append after it. Running it
// again later renews the archive timestamp; the DSS then gains only what it did not
// hold.
func Extend(ctx context.Context, r io.ReaderAt, size int64, o ExtendOptions) (*Extended, error) {
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
	var unreadable []Unvalidated
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
			// a signature Kyso cannot read is named, not a reason to leave the
			// others without validation data
			unreadable = append(unreadable, Unvalidated{Field: f.name, Reason: fmt.Sprintf("pades: its CMS cannot be read: %v", err)})
			continue
		}
		signer := ""
		if sd, err := cms.Parse(contents); err == nil && len(sd.SignerInfos) > 0 {
			if c, err := sd.SignerCertificate(sd.SignerInfos[0]); err == nil {
				signer = c.Subject.CommonName
			}
		}
		sigs = append(sigs, dssSignature{name: f.name, signer: signer, contents: contents, chains: pki.EndEntityPaths(pool)})
	}
	if len(sigs) == 0 && len(unreadable) == 0 {
		return nil, fmt.Errorf("%w: the document has no signature to extend", ErrField)
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoValidationData, describeUnvalidated(unreadable))
	}
	states, err := hashBase(ctx, r, size, nil, []crypto.Hash{crypto.SHA256})
	if err != nil {
		return nil, err
	}
	doc := &appended{base: r, baseSize: size, states: states}
	skipped, err := addDSS(ctx, doc, sigs, o.Validation, true)
	if err != nil && len(unreadable) > 0 {
		return nil, fmt.Errorf("%w; %s", err, describeUnvalidated(unreadable))
	}
	if err != nil {
		return nil, err
	}
	if o.Level == LevelBLTA {
		if err := addDocTimestamp(ctx, doc, o.Timestamper, o.TimestampReserve); err != nil {
			return nil, err
		}
	}
	return &Extended{Tail: doc.tail, Unvalidated: append(unreadable, skipped...)}, nil
}
