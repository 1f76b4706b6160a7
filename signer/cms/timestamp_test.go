package cms_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/kyso-vn/kyso/signer/cms"
)

func TestSignatureTimestamp(t *testing.T) {
	for _, tsaKind := range []string{"RSA-2048", "P-256"} {
		t.Run("TSA "+tsaKind, func(t *testing.T) {
			p := newPKI(t, "RSA-2048")
			tsa := newTSA(t, p, tsaKind)
			content := []byte("B-T")
			before := time.Now().Add(-time.Second)
			der, err := cms.SignWithTimestamp(context.Background(), p.leafKey, spec(p, crypto.SHA256, false, cms.ProfilePAdES), digestOf(crypto.SHA256, content), tsa)
			if err != nil {
				t.Fatal(err)
			}
			sd, err := cms.Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sd.VerifyContent(bytes.NewReader(content)); err != nil {
				t.Fatal(err)
			}
			tss, err := sd.SignerInfos[0].SignatureTimestamps()
			if err != nil || len(tss) != 1 {
				t.Fatalf("%d timestamps, %v", len(tss), err)
			}
			ts := tss[0]
			if ts.Info.GenTime.Before(before) || ts.Info.GenTime.After(time.Now().Add(time.Second)) {
				t.Errorf("genTime %v", ts.Info.GenTime)
			}
			if ts.Info.Nonce == nil || ts.Info.Nonce.Int64() != 424242 || ts.Info.Accuracy != time.Second {
				t.Errorf("nonce %v accuracy %v", ts.Info.Nonce, ts.Info.Accuracy)
			}
			if !ts.Signer.Certificate.Equal(tsa.cert) {
				t.Errorf("token signer %s", ts.Signer.Certificate.Subject)
			}
			sum := sha256.Sum256(sd.SignerInfos[0].Signature)
			if err := ts.MatchesDigest(sum[:], crypto.SHA256); err != nil {
				t.Error(err)
			}
			if err := ts.Matches([]byte("something else")); !errors.Is(err, cms.ErrDigestMismatch) {
				t.Errorf("imprint over other data: %v", err)
			}
		})
	}
}

func TestTimestampFromMisbehavingTSARefused(t *testing.T) {
	p := newPKI(t, "P-256")
	tsa := newTSA(t, p, "P-256")
	tsa.tamper = true
	_, err := cms.SignWithTimestamp(context.Background(), p.leafKey, spec(p, crypto.SHA256, false, cms.ProfilePAdES), digestOf(crypto.SHA256, nil), tsa)
	if !errors.Is(err, cms.ErrDigestMismatch) {
		t.Fatalf("got %v, want ErrDigestMismatch", err)
	}
}

// TestAddSignatureTimestampLater raises B-B to B-T afterwards; every signed byte stays,
// so the signature still verifies.
func TestAddSignatureTimestampLater(t *testing.T) {
	p := newPKI(t, "P-384")
	tsa := newTSA(t, p, "RSA-2048")
	content := []byte("later")
	der, err := cms.Sign(context.Background(), p.leafKey, spec(p, crypto.SHA384, false, cms.ProfileCAdES), digestOf(crypto.SHA384, content))
	if err != nil {
		t.Fatal(err)
	}
	stamped, err := cms.AddSignatureTimestamp(context.Background(), der, tsa)
	if err != nil {
		t.Fatal(err)
	}
	again, err := cms.AddSignatureTimestamp(context.Background(), stamped, tsa)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := cms.Parse(again)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sd.VerifyContent(bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	tss, err := sd.SignerInfos[0].SignatureTimestamps()
	if err != nil || len(tss) != 2 {
		t.Fatalf("%d timestamps, %v", len(tss), err)
	}
	orig, _ := cms.Parse(der)
	if !bytes.Equal(orig.SignerInfos[0].RawSignedAttrs, sd.SignerInfos[0].RawSignedAttrs) {
		t.Error("signed attributes changed")
	}
}

// TestDocumentTimestampToken checks a token on its own, as a PAdES document timestamp
// is: the imprint is over the byte ranges.
func TestDocumentTimestampToken(t *testing.T) {
	p := newPKI(t, "P-256")
	tsa := newTSA(t, p, "RSA-2048")
	ranges := []byte("%PDF-1.7 ... the byte ranges ...")
	sum := sha256.Sum256(ranges)
	tok, err := tsa.Timestamp(context.Background(), sum[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := cms.ParseTimestampToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Matches(ranges); err != nil {
		t.Error(err)
	}
	if h, err := ts.Hash(); err != nil || h != crypto.SHA256 {
		t.Errorf("hash %v %v", h, err)
	}
	// A token whose TSTInfo was altered no longer verifies.
	i := bytes.Index(tok, sum[:])
	bad := bytes.Clone(tok)
	bad[i] ^= 1
	if _, err := cms.ParseTimestampToken(bad); !errors.Is(err, cms.ErrDigestMismatch) {
		t.Errorf("altered TSTInfo: %v", err)
	}
	// A signature is not a timestamp token.
	der, _ := signed(t, "P-256", false, nil)
	if _, err := cms.ParseTimestampToken(der); !errors.Is(err, cms.ErrFormat) {
		t.Errorf("plain signature as token: %v", err)
	}
}

// TestOwnTSAToken builds a token with this package, as the project's TSA server can
// (encapsulated TSTInfo, id-ct-TSTInfo), and reads it back.
func TestOwnTSAToken(t *testing.T) {
	p := newPKI(t, "P-256")
	tsa := newTSA(t, p, "P-256")
	ref, err := tsa.Timestamp(context.Background(), make([]byte, 32), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	refTS, err := cms.ParseTimestampToken(ref)
	if err != nil {
		t.Fatal(err)
	}
	s := cms.SignerInfoSpec{Certificate: tsa.cert, Hash: crypto.SHA256, Profile: cms.ProfilePAdES,
		ContentType: cms.OIDTSTInfo, EncapsulatedContent: refTS.Info.Raw}
	tok, err := cms.Sign(context.Background(), tsa.key, s, digestOf(crypto.SHA256, refTS.Info.Raw))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := cms.ParseTimestampToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if ts.Token.Version != 3 || !ts.Info.GenTime.Equal(refTS.Info.GenTime) || ts.Info.SerialNumber.Cmp(refTS.Info.SerialNumber) != 0 {
		t.Errorf("version %d genTime %v serial %v", ts.Token.Version, ts.Info.GenTime, ts.Info.SerialNumber)
	}
}

// TestTimestampTokenCertificateFromCaller: a token asked for without certReq carries no
// certificate; the TSA certificate the caller knows verifies it, another does not.
func TestTimestampTokenCertificateFromCaller(t *testing.T) {
	p := newPKI(t, "P-256")
	tsa := newTSA(t, p, "P-256")
	sum := sha256.Sum256([]byte("văn bản"))
	ts := timestamp.Timestamp{HashAlgorithm: crypto.SHA256, HashedMessage: sum[:], Time: time.Now().Truncate(time.Second),
		Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}}
	resp, err := ts.CreateResponseWithOpts(tsa.cert, tsa.key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := timestamp.ParseResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	tok := parsed.RawToken
	if _, err := cms.ParseTimestampToken(tok); !errors.Is(err, cms.ErrSignerCertNotFound) {
		t.Fatalf("no certificate anywhere: err = %v, want ErrSignerCertNotFound", err)
	}
	if _, err := cms.ParseTimestampToken(tok, p.inter); !errors.Is(err, cms.ErrSignerCertNotFound) {
		t.Fatalf("another certificate given: err = %v, want ErrSignerCertNotFound", err)
	}
	got, err := cms.ParseTimestampToken(tok, p.inter, tsa.cert)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Signer.Certificate.Equal(tsa.cert) || len(got.Token.Certificates) != 0 {
		t.Errorf("signer %q, %d certificates in the token", got.Signer.Certificate.Subject.CommonName, len(got.Token.Certificates))
	}
	if err := got.MatchesDigest(sum[:], crypto.SHA256); err != nil {
		t.Error(err)
	}
}

// TestHashOIDs: the lookups other packages use instead of their own copies give the
// SHA-2 hashes Kyso signs with and nothing weaker.
func TestHashOIDs(t *testing.T) {
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		oid, ok := cms.HashOID(h)
		if !ok {
			t.Fatalf("%v has no OID", h)
		}
		if back, ok := cms.HashByOID(oid); !ok || back != h {
			t.Errorf("%v → %v → %v %v", h, oid, back, ok)
		}
	}
	for _, oid := range []asn1.ObjectIdentifier{cms.OIDSHA1, cms.OIDSHA224, cms.OIDMD5, cms.OIDSHAKE256, cms.OIDRSAEncryption} {
		if h, ok := cms.HashByOID(oid); ok {
			t.Errorf("%v gives %v", oid, h)
		}
	}
	if _, ok := cms.HashOID(crypto.SHA1); ok {
		t.Error("SHA-1 has an OID for signing")
	}
}
