package remote

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/signer/cms"
)

// Algorithm OIDs of the CSC API (hashAlgorithmOID, signAlgo), dotted, from cms's table.
var (
	OIDSHA256          = cms.OIDSHA256.String()
	OIDSHA384          = cms.OIDSHA384.String()
	OIDSHA512          = cms.OIDSHA512.String()
	OIDRSAEncryption   = cms.OIDRSAEncryption.String()
	OIDRSASSAPSS       = cms.OIDRSASSAPSS.String()
	OIDSHA256WithRSA   = cms.OIDSHA256WithRSA.String()
	OIDSHA384WithRSA   = cms.OIDSHA384WithRSA.String()
	OIDSHA512WithRSA   = cms.OIDSHA512WithRSA.String()
	OIDECPublicKey     = cms.OIDECPublicKey.String()
	OIDECDSAWithSHA256 = cms.OIDECDSAWithSHA256.String()
	OIDECDSAWithSHA384 = cms.OIDECDSAWithSHA384.String()
	OIDECDSAWithSHA512 = cms.OIDECDSAWithSHA512.String()
)

var hashByOID = map[string]crypto.Hash{OIDSHA256: crypto.SHA256, OIDSHA384: crypto.SHA384, OIDSHA512: crypto.SHA512}

// HashOID is the CSC hashAlgorithmOID of h.
func HashOID(h crypto.Hash) (string, bool) {
	for oid, hh := range hashByOID {
		if hh == h {
			return oid, true
		}
	}
	return "", false
}

// HashByOID is the hash a CSC hashAlgorithmOID names.
func HashByOID(oid string) (crypto.Hash, bool) {
	h, ok := hashByOID[oid]
	return h, ok
}

// pssParams is RSASSA-PSS-params (RFC 4055) with the salt as long as the hash.
type pssParams struct {
	Hash     algorithmIdentifier `asn1:"explicit,tag:0"`
	MGF      algorithmIdentifier `asn1:"explicit,tag:1"`
	SaltLen  int                 `asn1:"explicit,tag:2"`
	Trailer1 int                 `asn1:"optional,explicit,tag:3,default:1"`
}

// PSSParams is the DER signAlgoParams for RSASSA-PSS with h, MGF1 with h and a salt of
// salt bytes.
func PSSParams(h crypto.Hash, salt int) ([]byte, error) {
	oid, ok := cms.HashOID(h)
	if !ok {
		return nil, fmt.Errorf("remote: no PSS parameters for %v", h)
	}
	hashAlg := algorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue}
	mgfParam, err := asn1.Marshal(hashAlg)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(pssParams{Hash: hashAlg, MGF: algorithmIdentifier{Algorithm: cms.OIDMGF1, Parameters: asn1.RawValue{FullBytes: mgfParam}}, SaltLen: salt, Trailer1: 1})
}

// ParsePSSParams reads signAlgoParams and returns the hash and the salt length,
// refusing a mask function other than MGF1 with the same hash.
func ParsePSSParams(der []byte) (crypto.Hash, int, error) {
	var p pssParams
	if rest, err := asn1.Unmarshal(der, &p); err != nil || len(rest) > 0 {
		return 0, 0, errors.New("remote: signAlgoParams is not RSASSA-PSS-params")
	}
	var mgfHash algorithmIdentifier
	if _, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &mgfHash); err != nil || !p.MGF.Algorithm.Equal(cms.OIDMGF1) || !mgfHash.Algorithm.Equal(p.Hash.Algorithm) {
		return 0, 0, errors.New("remote: RSASSA-PSS mask function is not MGF1 with the signature's hash")
	}
	if h, ok := cms.HashByOID(p.Hash.Algorithm); ok && p.SaltLen >= 1 && p.SaltLen <= 2*h.Size() && p.Trailer1 == 1 {
		return h, p.SaltLen, nil
	}
	return 0, 0, errors.New("remote: RSASSA-PSS parameters not supported (SHA-2, MGF1, trailer 1)")
}

// CSCClient is a client of a Cloud Signature Consortium API v2 service (a remote
// signing service provider; v1 services are spoken to with v1 field names). It is a
// Provider: Submit authorizes the credential for exactly the request's hashes (SCAL2)
// and, when the service answers at once, signs them; when the holder must approve
// out of band (HTTP 202 with a handle), Poll asks credentials/authorizeCheck and signs
// once the SAD comes. A SAD is never stored in a Ticket.
type CSCClient struct {
	// BaseURL ends before the method names: "https://host/csc/v2".
	BaseURL string
	// ClientID and ClientSecret are OAuth2 client credentials (oauth2/token). Without
	// a ClientID, ClientSecret is sent as the bearer token itself.
	ClientID     string
	ClientSecret hsm.Secret
	// AuthData is sent with credentials/authorize (authData, or PIN/OTP in v1), for
	// credentials in explicit mode; values are secrets.
	AuthData map[string]hsm.Secret
	// Timeout is the holder's time when a Request sets none (default 300 s).
	Timeout    time.Duration
	HTTPClient *http.Client
	// Now stamps the Ticket's submission and deadline (default time.Now).
	Now func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
	v1      *bool
	creds   map[string]*CSCCredential
}

var (
	_ Provider  = (*CSCClient)(nil)
	_ Batcher   = (*CSCClient)(nil)
	_ Certifier = (*CSCClient)(nil)
)

// CSCInfo is the answer of info.
type CSCInfo struct {
	Specs       string   `json:"specs"`
	Name        string   `json:"name"`
	Region      string   `json:"region"`
	Lang        string   `json:"lang"`
	Description string   `json:"description"`
	AuthType    []string `json:"authType"`
	OAuth2      string   `json:"oauth2,omitempty"`
	Methods     []string `json:"methods"`
}

// CSCCredential is what credentials/info says about a credential.
type CSCCredential struct {
	ID          string
	Description string
	KeyStatus   string
	KeyAlgo     []string
	KeyLen      int
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
	AuthMode    string
	SCAL        string
	MultiSign   int
}

// cscError is an error answer of a CSC service.
type cscError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// Name is "csc".
func (c *CSCClient) Name() string { return "csc" }

// Info calls info.
func (c *CSCClient) Info(ctx context.Context) (*CSCInfo, error) {
	var out CSCInfo
	if err := c.post(ctx, "info", map[string]any{"lang": "vi"}, false, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *CSCClient) isV1(ctx context.Context) (bool, error) {
	c.mu.Lock()
	v := c.v1
	c.mu.Unlock()
	if v != nil {
		return *v, nil
	}
	info, err := c.Info(ctx)
	if err != nil {
		return false, err
	}
	v1 := strings.HasPrefix(info.Specs, "1.")
	c.mu.Lock()
	c.v1 = &v1
	c.mu.Unlock()
	return v1, nil
}

// bearer returns an access token: from oauth2/token (client credentials), kept until
// a minute before it expires.
func (c *CSCClient) bearer(ctx context.Context) (string, error) {
	if c.ClientID == "" {
		return c.ClientSecret.Reveal(), nil
	}
	c.mu.Lock()
	tok, exp := c.token, c.expires
	c.mu.Unlock()
	if tok != "" && time.Now().Before(exp) {
		return tok, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret.Reveal()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("oauth2/token"), strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("remote: csc: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if _, err := c.do(ctx, req, "oauth2/token", &out); err != nil {
		return "", err
	}
	if out.AccessToken == "" {
		return "", &Error{Provider: "csc", Op: "oauth2/token", Kind: ErrProviderRejected, Message: "no access_token"}
	}
	life := time.Duration(out.ExpiresIn) * time.Second
	if life <= 0 {
		life = time.Hour
	}
	c.mu.Lock()
	c.token, c.expires = out.AccessToken, time.Now().Add(life-min(time.Minute, life/2))
	c.mu.Unlock()
	return out.AccessToken, nil
}

// ListCredentials calls credentials/list; userID may be empty (the service knows the
// user from the token).
func (c *CSCClient) ListCredentials(ctx context.Context, userID string) ([]string, error) {
	body := map[string]any{"maxResults": 100}
	if userID != "" {
		body["userID"] = userID
	}
	var out struct {
		CredentialIDs []string `json:"credentialIDs"`
	}
	if err := c.post(ctx, "credentials/list", body, true, &out); err != nil {
		return nil, err
	}
	return out.CredentialIDs, nil
}

// CredentialInfo calls credentials/info with the certificate chain, v2 or v1 answer.
func (c *CSCClient) CredentialInfo(ctx context.Context, id string) (*CSCCredential, error) {
	var out struct {
		Description string `json:"description"`
		Key         struct {
			Status string   `json:"status"`
			Algo   []string `json:"algo"`
			Len    int      `json:"len"`
		} `json:"key"`
		Cert struct {
			Certificates []string `json:"certificates"`
		} `json:"cert"`
		Auth struct {
			Mode string `json:"mode"`
		} `json:"auth"`
		AuthMode  string          `json:"authMode"` // v1
		SCAL      json.RawMessage `json:"SCAL"`
		MultiSign json.RawMessage `json:"multisign"`
	}
	body := map[string]any{"credentialID": id, "certificates": "chain", "certInfo": true, "authInfo": true}
	if err := c.post(ctx, "credentials/info", body, true, &out); err != nil {
		return nil, err
	}
	cr := &CSCCredential{ID: id, Description: out.Description, KeyStatus: out.Key.Status, KeyAlgo: out.Key.Algo, KeyLen: out.Key.Len,
		AuthMode: out.Auth.Mode, SCAL: strings.Trim(string(out.SCAL), `"`), MultiSign: 1}
	if cr.AuthMode == "" {
		cr.AuthMode = out.AuthMode
	}
	// multisign is a number in v2 and was a boolean-ish number in v1.
	if n, err := strconv.Atoi(strings.Trim(string(out.MultiSign), `"`)); err == nil && n > 0 {
		cr.MultiSign = n
	}
	for i, b64 := range out.Cert.Certificates {
		der, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, &Error{Provider: "csc", Op: "credentials/info", Kind: ErrProviderRejected, Message: "certificate is not base64", Err: err}
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, &Error{Provider: "csc", Op: "credentials/info", Kind: ErrProviderRejected, Message: "unreadable certificate", Err: err}
		}
		if i == 0 {
			cr.Certificate = cert
		} else {
			cr.Chain = append(cr.Chain, cert)
		}
	}
	if cr.Certificate == nil {
		return nil, &Error{Provider: "csc", Op: "credentials/info", Kind: ErrProviderRejected, Message: "no certificate for credential " + id}
	}
	c.mu.Lock()
	if c.creds == nil {
		c.creds = map[string]*CSCCredential{}
	}
	c.creds[id] = cr
	c.mu.Unlock()
	return cr, nil
}

func (c *CSCClient) credential(ctx context.Context, id string) (*CSCCredential, error) {
	c.mu.Lock()
	cr := c.creds[id]
	c.mu.Unlock()
	if cr != nil {
		return cr, nil
	}
	return c.CredentialInfo(ctx, id)
}

// Key is the credential as an hsm.Key, with its certificate and chain.
func (c *CSCClient) Key(ctx context.Context, credentialID string) (*Key, error) {
	cr, err := c.CredentialInfo(ctx, credentialID)
	if err != nil {
		return nil, err
	}
	return &Key{Provider: c, Holder: credentialID, Cert: cr.Certificate, Issuer: cr.Chain}, nil
}

// HolderCertificate is the credential's certificate and chain from credentials/info,
// asked afresh each time so that a renewed certificate is seen.
func (c *CSCClient) HolderCertificate(ctx context.Context, credentialID string) (*x509.Certificate, []*x509.Certificate, error) {
	cr, err := c.CredentialInfo(ctx, credentialID)
	if err != nil {
		return nil, nil, err
	}
	return cr.Certificate, cr.Chain, nil
}

// MaxBatch is the credential's multisign: how many hashes one SAD may sign.
func (c *CSCClient) MaxBatch(ctx context.Context, holder string) (int, error) {
	cr, err := c.credential(ctx, holder)
	if err != nil {
		return 0, err
	}
	return cr.MultiSign, nil
}

// Authorize calls credentials/authorize for exactly hashes. It returns the SAD, or the
// handle of an approval still waiting for the holder (HTTP 202).
func (c *CSCClient) Authorize(ctx context.Context, r Request) (sad, handle string, err error) {
	v1, err := c.isV1(ctx)
	if err != nil {
		return "", "", err
	}
	oid, _ := HashOID(r.Hash)
	body := map[string]any{"credentialID": r.Holder, "numSignatures": len(r.Digests), "description": r.DisplayText, "clientData": r.ID}
	hashes := b64s(r.Digests)
	if v1 {
		body["hash"] = hashes
		for k, v := range c.AuthData {
			body[k] = v.Reveal()
		}
	} else {
		body["hashes"], body["hashAlgorithmOID"] = hashes, oid
		if len(c.AuthData) > 0 {
			var ad []map[string]string
			for k, v := range c.AuthData {
				ad = append(ad, map[string]string{"id": k, "value": v.Reveal()})
			}
			body["authData"] = ad
		}
	}
	var out struct {
		SAD    string `json:"SAD"`
		Handle string `json:"handle"`
	}
	if err := c.post(ctx, "credentials/authorize", body, true, &out); err != nil {
		return "", "", err
	}
	if out.SAD == "" && out.Handle == "" {
		return "", "", &Error{Provider: "csc", Op: "credentials/authorize", Kind: ErrProviderRejected, Message: "neither SAD nor handle"}
	}
	return out.SAD, out.Handle, nil
}

// AuthorizeCheck asks whether the holder approved: the SAD, or ErrPending.
func (c *CSCClient) AuthorizeCheck(ctx context.Context, handle string) (string, error) {
	var out struct {
		SAD string `json:"SAD"`
	}
	if err := c.post(ctx, "credentials/authorizeCheck", map[string]any{"handle": handle}, true, &out); err != nil {
		return "", err
	}
	if out.SAD == "" {
		return "", ErrPending
	}
	return out.SAD, nil
}

// SignHash calls signatures/signHash with the SAD for r's digests.
func (c *CSCClient) SignHash(ctx context.Context, r Request, sad string) ([][]byte, error) {
	v1, err := c.isV1(ctx)
	if err != nil {
		return nil, err
	}
	cr, err := c.credential(ctx, r.Holder)
	if err != nil {
		return nil, err
	}
	oid, _ := HashOID(r.Hash)
	body := map[string]any{"credentialID": r.Holder, "SAD": sad, "clientData": r.ID}
	switch pub := cr.Certificate.PublicKey.(type) {
	case *rsa.PublicKey:
		body["signAlgo"] = OIDRSAEncryption
		if r.PSS {
			params, err := PSSParams(r.Hash, r.saltLength())
			if err != nil {
				return nil, err
			}
			body["signAlgo"], body["signAlgoParams"] = OIDRSASSAPSS, base64.StdEncoding.EncodeToString(params)
		}
	case *ecdsa.PublicKey:
		body["signAlgo"] = OIDECPublicKey
	default:
		return nil, fmt.Errorf("remote: csc: public key type %T", pub)
	}
	if v1 {
		body["hash"], body["hashAlgo"] = b64s(r.Digests), oid
	} else {
		body["hashes"], body["hashAlgorithmOID"], body["operationMode"] = b64s(r.Digests), oid, "S"
	}
	var out struct {
		Signatures []string `json:"signatures"`
	}
	if err := c.post(ctx, "signatures/signHash", body, true, &out); err != nil {
		return nil, err
	}
	sigs := make([][]byte, len(out.Signatures))
	for i, s := range out.Signatures {
		if sigs[i], err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, &Error{Provider: "csc", Op: "signatures/signHash", Kind: ErrProviderRejected, Message: "signature is not base64"}
		}
	}
	return sigs, nil
}

// Submit authorizes the credential for the request's hashes and, when the SAD comes at
// once, signs them.
func (c *CSCClient) Submit(ctx context.Context, r Request) (Ticket, error) {
	if err := checkDigests(r); err != nil {
		return Ticket{}, err
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = c.Timeout
	}
	if timeout <= 0 {
		timeout = 300 * time.Second
	}
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	sad, handle, err := c.Authorize(ctx, r)
	if err != nil {
		return Ticket{}, err
	}
	t := Ticket{Provider: c.Name(), Request: r, Ref: handle, Submitted: now, Deadline: now.Add(timeout)}
	if sad != "" {
		if t.Signatures, err = c.SignHash(ctx, r, sad); err != nil {
			return Ticket{}, err
		}
	}
	return t, nil
}

// Poll asks credentials/authorizeCheck and, once approved, signs.
func (c *CSCClient) Poll(ctx context.Context, t Ticket) (*Result, error) {
	if len(t.Signatures) > 0 {
		return &Result{Signatures: t.Signatures}, nil
	}
	if t.Provider != c.Name() || t.Ref == "" {
		return nil, fmt.Errorf("remote: csc: ticket of provider %q has no handle", t.Provider)
	}
	sad, err := c.AuthorizeCheck(ctx, t.Ref)
	if err != nil {
		return nil, err
	}
	sigs, err := c.SignHash(ctx, t.Request, sad)
	if err != nil {
		return nil, err
	}
	return &Result{Signatures: sigs}, nil
}

func (c *CSCClient) url(method string) string {
	return strings.TrimSuffix(c.BaseURL, "/") + "/" + method
}

func (c *CSCClient) post(ctx context.Context, method string, body any, auth bool, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("remote: csc: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(method), bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("remote: csc: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth {
		tok, err := c.bearer(ctx)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	status, err := c.do(ctx, req, method, out)
	if err == nil && status == http.StatusAccepted && method == "credentials/authorizeCheck" {
		return ErrPending
	}
	return err
}

// maxJSONAnswer bounds what is read from a CSC service.
const maxJSONAnswer = 4 << 20

func (c *CSCClient) do(ctx context.Context, req *http.Request, method string, out any) (int, error) {
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, transportError("csc", method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxJSONAnswer))
	if err != nil {
		return 0, &Error{Provider: "csc", Op: method, Kind: ErrUnreachable, Err: err}
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted {
		if len(bytes.TrimSpace(raw)) == 0 {
			return resp.StatusCode, nil
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return 0, &Error{Provider: "csc", Op: method, Kind: ErrProviderRejected, Message: "unreadable answer", Err: err}
		}
		return resp.StatusCode, nil
	}
	var ce cscError
	_ = json.Unmarshal(raw, &ce)
	e := &Error{Provider: "csc", Op: method, Kind: ErrProviderRejected, Code: ce.Error, Message: ce.Description}
	if e.Code == "" {
		e.Code = strconv.Itoa(resp.StatusCode)
	}
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		e.Kind = ErrUnreachable
	case ce.Error == "access_denied":
		e.Kind = ErrRefused
	case ce.Error == "expired_token" || ce.Error == "authorization_expired":
		e.Kind = ErrTimeout
	case ce.Error == "invalid_request" && strings.Contains(ce.Description, "credentialID"):
		e.Kind = ErrUnknownHolder
	}
	return resp.StatusCode, e
}

func b64s(ds [][]byte) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = base64.StdEncoding.EncodeToString(d)
	}
	return out
}
