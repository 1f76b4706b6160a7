package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/kyso-vn/kyso/signer/cms"
)

// DefaultTSATimeout bounds one TSA URL when TSAClient.Timeout is zero.
const DefaultTSATimeout = 10 * time.Second

// maxReplySize bounds what is read from a TSA, OCSP responder or CRL server, so a
// broken or hostile server cannot make us hold an unbounded body.
const maxReplySize = 4 << 20

// TSAClient asks RFC 3161 timestamp authorities for timestamp tokens.
type TSAClient struct {
	// URLs are tried in order until one gives a timestamp that passes every check.
	URLs []string
	// Timeout bounds each URL (DefaultTSATimeout when zero); the context bounds all.
	Timeout time.Duration
	// HTTPClient defaults to a client without its own timeout (Timeout and the context
	// bound each request).
	HTTPClient *http.Client
	// Policy, when set, is the TSA policy asked for (reqPolicy) and required in the
	// reply.
	Policy asn1.ObjectIdentifier
}

// Timestamp asks for a timestamp over digest (made with hash) and returns the DER
// TimeStampToken. The request carries a random 64-bit nonce and certReq, so the reply
// must carry the TSA certificate. A reply is accepted only if its status is granted,
// its imprint and nonce are ours, its signature verifies and its TSA certificate has
// the critical timeStamping EKU; otherwise the next URL is tried. The error, when no
// URL gives a timestamp, is ErrTSAUnavailable joined with each URL's failure
// (ErrTSARejected, ErrTSAMismatch, ErrTimestampInvalid, or the network cause).
func (c *TSAClient) Timestamp(ctx context.Context, digest []byte, hash crypto.Hash) ([]byte, error) {
	if _, ok := cms.HashOID(hash); !ok {
		return nil, newErr("timestamp", "", ErrUnsupportedAlgorithm, "hash %v (use SHA-256, SHA-384 or SHA-512)", hash)
	}
	if len(digest) != hash.Size() {
		return nil, newErr("timestamp", "", ErrTSAMismatch, "digest of %d bytes for %v", len(digest), hash)
	}
	if len(c.URLs) == 0 {
		return nil, newErr("timestamp", "", ErrTSAUnavailable, "no TSA URL configured")
	}
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, newErr("timestamp", "", ErrTSAUnavailable, "nonce: %w", err)
	}
	req := timestamp.Request{HashAlgorithm: hash, HashedMessage: digest, Certificates: true, Nonce: nonce, TSAPolicyOID: c.Policy}
	body, err := req.Marshal()
	if err != nil {
		return nil, newErr("timestamp", "", ErrTSAUnavailable, "encode request: %w", err)
	}
	var failures []error
	for _, url := range c.URLs {
		token, err := c.try(ctx, url, body, digest, hash, nonce)
		if err == nil {
			return token, nil
		}
		failures = append(failures, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, &Error{Op: "timestamp", Kind: ErrTSAUnavailable, Err: errors.Join(failures...)}
}

func (c *TSAClient) try(ctx context.Context, url string, body, digest []byte, hash crypto.Hash, nonce *big.Int) ([]byte, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTSATimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reply, err := post(ctx, c.HTTPClient, url, "application/timestamp-query", "application/timestamp-reply", body)
	if err != nil {
		return nil, &Error{Op: "timestamp", URL: url, Kind: ErrTSAUnavailable, Err: err}
	}
	token, err := c.check(reply, digest, hash, nonce)
	if err != nil {
		var pe *Error
		if !errors.As(err, &pe) {
			err = &Error{Op: "timestamp", Kind: ErrTimestampInvalid, Err: err}
		}
		return nil, withURL(err, url)
	}
	return token, nil
}

// timeStampResp is RFC 3161 2.4.2, decoded here rather than by the library so that the
// status is checked before anything else is believed.
type timeStampResp struct {
	Status struct {
		Status       int
		StatusString []string       `asn1:"optional,utf8"`
		FailInfo     asn1.BitString `asn1:"optional"`
	}
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

func (c *TSAClient) check(reply, digest []byte, hash crypto.Hash, nonce *big.Int) ([]byte, error) {
	var resp timeStampResp
	if err := unmarshalDER(reply, &resp, ""); err != nil {
		return nil, fmt.Errorf("reply: %w", err)
	}
	// 0 granted, 1 grantedWithMods; anything else carries no token.
	if resp.Status.Status != 0 && resp.Status.Status != 1 {
		return nil, newErr("timestamp", "", ErrTSARejected, "status %d %q failInfo %x",
			resp.Status.Status, resp.Status.StatusString, resp.Status.FailInfo.Bytes)
	}
	if len(resp.TimeStampToken.FullBytes) == 0 {
		return nil, errors.New("granted reply without a token")
	}
	token := resp.TimeStampToken.FullBytes
	// No extra certificates are passed: certReq was set, so a token that does not
	// carry its TSA certificate fails here.
	ti, err := ParseTimestampToken(token)
	if err != nil {
		return nil, err
	}
	if err := ti.CheckImprint(hash, digest); err != nil {
		return nil, err
	}
	if ti.Nonce == nil || ti.Nonce.Cmp(nonce) != 0 {
		return nil, newErr("timestamp", "", ErrTSAMismatch, "nonce %v, sent %v", ti.Nonce, nonce)
	}
	if c.Policy != nil && !ti.Policy.Equal(c.Policy) {
		return nil, newErr("timestamp", "", ErrTSAMismatch, "policy %v, asked %v", ti.Policy, c.Policy)
	}
	return bytes.Clone(token), nil
}

// unmarshalDER decodes der into v and refuses anything after it.
func unmarshalDER(der []byte, v any, params string) error {
	rest, err := asn1.UnmarshalWithParams(der, v, params)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("trailing data")
	}
	return nil
}

// post sends body and returns the reply body of a 200 answer, read up to maxReplySize.
func post(ctx context.Context, client *http.Client, url, contentType, accept string, body []byte) ([]byte, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", accept)
	return do(client, req)
}

func do(client *http.Client, req *http.Request) ([]byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplySize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxReplySize {
		return nil, fmt.Errorf("reply larger than %d bytes", maxReplySize)
	}
	return data, nil
}
