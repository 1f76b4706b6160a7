// Package csc serves Kyso's server-side keys as a Cloud Signature Consortium API v2
// remote signing service (/csc/v2): any CSC client, another agency's included, signs
// hashes with keys Kyso guards, under the same authorization rules as the rest of the
// API. It is a plain http.Handler; mount it with http.StripPrefix("/csc/v2", h).
//
// Methods: info, auth/login, oauth2/token (client credentials), credentials/list,
// credentials/info, credentials/authorize, credentials/authorizeCheck and
// signatures/signHash. v1 field names (hash, hashAlgo, authMode) are accepted too.
//
// Nothing is kept in memory between calls, so any replica answers any call: the access
// token is the client's Kyso API key itself (a revoked key stops working at once), and
// a SAD or an approval handle is a token MAC'd with Options.Secret, bound to the
// client, the credential and exactly the hashes authorized (SCAL2), and short-lived.
//
// This package must never import gorm, PKCS#11 or signer/ code: keys come through the
// KeyStore interface as hsm.Keys.
package csc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/hsm/remote"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// Specs is the CSC API version served.
const Specs = "2.0.0.2"

// Principal is an authenticated API client: the use-cases' principal, so that the
// key grants of the API apply.
type Principal = app.Principal

// Authorizer authenticates clients by their Kyso API key and decides which
// credentials (keys) each may sign with.
type Authorizer interface {
	// Authenticate checks an API key presented as a bearer token or client secret;
	// an unknown or revoked key is an error.
	Authenticate(ctx context.Context, apiKey string) (Principal, error)
	// MayUseCredential reports whether p may sign with the credential.
	MayUseCredential(p Principal, credentialID string) bool
}

// KeyStore hands out the server-side keys by credential ID.
type KeyStore interface {
	// Credentials lists every credential ID the server offers.
	Credentials(ctx context.Context) ([]string, error)
	// Key opens a credential's key; ErrUnknownCredential (any fault.NotFound) when
	// there is none.
	Key(ctx context.Context, credentialID string) (hsm.Key, error)
}

// ErrUnknownCredential is what a KeyStore answers for a credential it does not hold:
// the fault kind NotFound, so that *app.Service's "no key" is one.
var ErrUnknownCredential = fault.NotFound

// Approver asks a person to approve the use of a credential out of band (a phone app, a
// second officer). With an Approver, credentials/authorize answers 202 with a handle
// and credentials/authorizeCheck reports the decision.
type Approver interface {
	// Request starts an approval and returns its ID.
	Request(ctx context.Context, p Principal, credentialID, description string, numSignatures int) (string, error)
	// Check is nil once approved, remote.ErrPending while waiting, remote.ErrRefused
	// when refused, remote.ErrTimeout when it expired.
	Check(ctx context.Context, approvalID string) error
}

// Options configure the service.
type Options struct {
	Keys KeyStore
	Auth Authorizer
	// Approver, when set, makes every authorization wait for an approval.
	Approver Approver
	// Secret MACs SADs and handles; every replica needs the same one (≥ 32 bytes).
	Secret []byte
	// Name and Region describe the service in info (defaults: "Kyso", "VN").
	Name, Region string
	// SADLifetime bounds a SAD (default 5 min); ApprovalLifetime a handle (default
	// 5 min, the time a holder has to approve).
	SADLifetime, ApprovalLifetime time.Duration
	// MultiSign caps numSignatures (default 100).
	MultiSign int
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

type service struct {
	o Options
}

// New returns the CSC service handler.
func New(o Options) (http.Handler, error) {
	if o.Keys == nil || o.Auth == nil {
		return nil, errors.New("csc: a KeyStore and an Authorizer are required")
	}
	if len(o.Secret) < 32 {
		return nil, errors.New("csc: the SAD secret must be at least 32 bytes")
	}
	if o.Name == "" {
		o.Name = "Kyso"
	}
	if o.Region == "" {
		o.Region = "VN"
	}
	if o.SADLifetime <= 0 {
		o.SADLifetime = 5 * time.Minute
	}
	if o.ApprovalLifetime <= 0 {
		o.ApprovalLifetime = 5 * time.Minute
	}
	if o.MultiSign <= 0 {
		o.MultiSign = 100
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &service{o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /info", s.info)
	mux.HandleFunc("POST /auth/login", s.login)
	mux.HandleFunc("POST /oauth2/token", s.token)
	mux.HandleFunc("POST /credentials/list", s.authed(s.list))
	mux.HandleFunc("POST /credentials/info", s.authed(s.credInfo))
	mux.HandleFunc("POST /credentials/authorize", s.authed(s.authorize))
	mux.HandleFunc("POST /credentials/authorizeCheck", s.authed(s.authorizeCheck))
	mux.HandleFunc("POST /signatures/signHash", s.authed(s.signHash))
	return mux, nil
}

var methods = []string{"auth/login", "oauth2/token", "credentials/list", "credentials/info", "credentials/authorize", "credentials/authorizeCheck", "signatures/signHash"}

// apiError is a CSC error answer.
type apiError struct {
	status      int
	code, descr string
}

func (e *apiError) Error() string { return "csc: " + e.code + ": " + e.descr }

func invalid(descr string) *apiError {
	return &apiError{http.StatusBadRequest, "invalid_request", descr}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *service) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		s.o.Logger.ErrorContext(r.Context(), "csc", "path", r.URL.Path, "err", err)
		ae = &apiError{http.StatusInternalServerError, "server_error", "The signature service failed; try again later."}
	}
	if ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kyso-csc"`)
	}
	writeJSON(w, ae.status, map[string]string{"error": ae.code, "error_description": ae.descr})
}

// maxBody bounds a request body: a batch of 100 base64 SHA-512 hashes is about 9 KiB.
const maxBody = 64 << 10

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return invalid("The request body is not valid JSON.")
	}
	return nil
}

func (s *service) info(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"specs": Specs, "name": s.o.Name, "logo": "", "region": s.o.Region, "lang": "vi",
		"description": "Kyso remote signing service for server-side keys",
		"authType":    []string{"basic", "oauth2client", "external"},
		"methods":     methods,
	})
}

// authed authenticates the bearer token (a Kyso API key) before h.
func (s *service) authed(h func(http.ResponseWriter, *http.Request, Principal) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			s.fail(w, r, &apiError{http.StatusUnauthorized, "invalid_token", "An access token (Bearer) is required."})
			return
		}
		p, err := s.o.Auth.Authenticate(r.Context(), strings.TrimSpace(tok))
		if err != nil {
			s.fail(w, r, &apiError{http.StatusUnauthorized, "invalid_token", "The access token is not valid."})
			return
		}
		// The CSC method and the client, in the log of every authenticated call.
		s.o.Logger.Info("csc call", "csc_method", strings.TrimPrefix(r.URL.Path, "/"), "client_id", p.ID)
		if err := h(w, r, p); err != nil {
			s.fail(w, r, err)
		}
	}
}

// login is auth/login: HTTP Basic with the client ID and the API key.
func (s *service) login(w http.ResponseWriter, r *http.Request) {
	_, secret, ok := r.BasicAuth()
	if !ok {
		s.fail(w, r, &apiError{http.StatusUnauthorized, "invalid_client", "HTTP Basic authentication with the client ID and API key is required."})
		return
	}
	s.issue(w, r, secret)
}

// token is oauth2/token with grant_type client_credentials; the secret comes in the
// form (client_secret_post), as HTTP Basic (client_secret_basic), or in a JSON body as
// some CSC v1 clients send it.
func (s *service) token(w http.ResponseWriter, r *http.Request) {
	var in struct {
		GrantType    string `json:"grant_type"`
		ClientSecret string `json:"client_secret"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := decode(r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			s.fail(w, r, invalid("The request body is not a form."))
			return
		}
		in.GrantType, in.ClientSecret = r.PostForm.Get("grant_type"), r.PostForm.Get("client_secret")
	}
	if in.GrantType != "client_credentials" {
		s.fail(w, r, &apiError{http.StatusBadRequest, "unsupported_grant_type", "Only grant_type=client_credentials is supported."})
		return
	}
	secret := in.ClientSecret
	if _, basic, ok := r.BasicAuth(); ok {
		secret = basic
	}
	s.issue(w, r, secret)
}

func (s *service) issue(w http.ResponseWriter, r *http.Request, secret string) {
	if _, err := s.o.Auth.Authenticate(r.Context(), secret); err != nil {
		s.fail(w, r, &apiError{http.StatusUnauthorized, "invalid_client", "The client credentials are not valid."})
		return
	}
	// The API key is the access token: see the package comment.
	writeJSON(w, http.StatusOK, map[string]any{"access_token": secret, "token_type": "Bearer", "expires_in": 3600})
}

func (s *service) list(w http.ResponseWriter, r *http.Request, p Principal) error {
	ids, err := s.o.Keys.Credentials(r.Context())
	if err != nil {
		return err
	}
	mine := []string{}
	for _, id := range ids {
		if s.o.Auth.MayUseCredential(p, id) {
			mine = append(mine, id)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"credentialIDs": mine})
	return nil
}

// key opens a credential p may use; one it may not use is as unknown as one that does
// not exist, so credential IDs cannot be probed.
func (s *service) key(ctx context.Context, p Principal, id string) (hsm.Key, error) {
	if id == "" {
		return nil, invalid("Missing (or invalid type) string parameter credentialID")
	}
	if !s.o.Auth.MayUseCredential(p, id) {
		return nil, invalid("Invalid parameter credentialID")
	}
	// The key audits each signature it makes, naming p (app.WithCaller).
	k, err := s.o.Keys.Key(app.WithCaller(ctx, p), id)
	if errors.Is(err, ErrUnknownCredential) {
		return nil, invalid("Invalid parameter credentialID")
	}
	return k, err
}

func (s *service) credInfo(w http.ResponseWriter, r *http.Request, p Principal) error {
	var in struct {
		CredentialID string `json:"credentialID"`
		Certificates string `json:"certificates"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	k, err := s.key(r.Context(), p, in.CredentialID)
	if err != nil {
		return err
	}
	cert := k.Certificate()
	if cert == nil {
		return fmt.Errorf("csc: credential %s has no certificate", in.CredentialID)
	}
	var chain []string
	switch in.Certificates {
	case "none":
	case "single":
		chain = []string{base64.StdEncoding.EncodeToString(cert.Raw)}
	default:
		for _, c := range append([]*x509.Certificate{cert}, k.Chain()...) {
			chain = append(chain, base64.StdEncoding.EncodeToString(c.Raw))
		}
	}
	algo, bits := keyAlgo(k.Public())
	status := "valid"
	if now := s.o.Now(); now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		status = "expired"
	}
	// implicit: authorize takes no PIN or OTP; an approval, when configured, happens
	// out of band and is reported by credentials/authorizeCheck.
	const mode = "implicit"
	writeJSON(w, http.StatusOK, map[string]any{
		"description": cert.Subject.CommonName,
		"key":         map[string]any{"status": "enabled", "algo": algo, "len": bits},
		"cert": map[string]any{"status": status, "certificates": chain, "issuerDN": cert.Issuer.String(), "subjectDN": cert.Subject.String(),
			"serialNumber": hex.EncodeToString(cert.SerialNumber.Bytes()),
			"validFrom":    cert.NotBefore.UTC().Format("20060102150405Z"), "validTo": cert.NotAfter.UTC().Format("20060102150405Z")},
		"auth":      map[string]any{"mode": mode},
		"authMode":  mode,
		"SCAL":      "2",
		"multisign": s.o.MultiSign,
		"lang":      "vi",
	})
	return nil
}

func keyAlgo(pub crypto.PublicKey) ([]string, int) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return []string{remote.OIDRSAEncryption, remote.OIDSHA256WithRSA, remote.OIDSHA384WithRSA, remote.OIDSHA512WithRSA, remote.OIDRSASSAPSS}, pub.N.BitLen()
	case *ecdsa.PublicKey:
		return []string{remote.OIDECPublicKey, remote.OIDECDSAWithSHA256, remote.OIDECDSAWithSHA384, remote.OIDECDSAWithSHA512}, pub.Curve.Params().BitSize
	}
	return nil, 0
}

// hashesIn reads v2 "hashes" or v1 "hash" and the hash algorithm.
type hashesIn struct {
	Hashes           []string `json:"hashes"`
	Hash             []string `json:"hash"`
	HashAlgorithmOID string   `json:"hashAlgorithmOID"`
	HashAlgo         string   `json:"hashAlgo"`
}

func (h hashesIn) list() []string {
	if len(h.Hashes) > 0 {
		return h.Hashes
	}
	return h.Hash
}

func (h hashesIn) oid() string {
	if h.HashAlgorithmOID != "" {
		return h.HashAlgorithmOID
	}
	return h.HashAlgo
}

// claims is what a SAD or a handle carries.
type claims struct {
	Kind       string   `json:"k"` // "sad" or "handle"
	Principal  string   `json:"p"`
	Credential string   `json:"c"`
	Hashes     []string `json:"h"`
	Expires    int64    `json:"e"`
	Approval   string   `json:"a,omitempty"`
	Descr      string   `json:"d,omitempty"`
}

func (s *service) seal(c claims) string {
	b, _ := json.Marshal(c) // claims always marshal
	m := hmac.New(sha256.New, s.o.Secret)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *service) open(tok, kind string, p Principal) (*claims, error) {
	body, mac, ok := strings.Cut(tok, ".")
	b, err1 := base64.RawURLEncoding.DecodeString(body)
	sum, err2 := base64.RawURLEncoding.DecodeString(mac)
	m := hmac.New(sha256.New, s.o.Secret)
	m.Write(b)
	var c claims
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(sum, m.Sum(nil)) || json.Unmarshal(b, &c) != nil || c.Kind != kind || c.Principal != p.ID {
		return nil, invalid("Invalid " + kindName(kind))
	}
	if s.o.Now().Unix() > c.Expires {
		return nil, &apiError{http.StatusBadRequest, "expired_token", "The " + kindName(kind) + " has expired."}
	}
	return &c, nil
}

func kindName(kind string) string {
	if kind == "sad" {
		return "SAD"
	}
	return "handle"
}

func (s *service) authorize(w http.ResponseWriter, r *http.Request, p Principal) error {
	var in struct {
		CredentialID  string `json:"credentialID"`
		NumSignatures int    `json:"numSignatures"`
		Description   string `json:"description"`
		hashesIn
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if _, err := s.key(r.Context(), p, in.CredentialID); err != nil {
		return err
	}
	hashes, _, err := s.checkHashes(in.hashesIn)
	if err != nil {
		return err
	}
	if in.NumSignatures != len(hashes) {
		return invalid("numSignatures must equal the number of hashes (SCAL2)")
	}
	c := claims{Principal: p.ID, Credential: in.CredentialID, Hashes: in.list()}
	if s.o.Approver == nil {
		c.Kind, c.Expires = "sad", s.o.Now().Add(s.o.SADLifetime).Unix()
		writeJSON(w, http.StatusOK, map[string]any{"SAD": s.seal(c), "expiresIn": int(s.o.SADLifetime.Seconds())})
		return nil
	}
	id, err := s.o.Approver.Request(r.Context(), p, in.CredentialID, in.Description, len(hashes))
	if err != nil {
		return err
	}
	c.Kind, c.Approval, c.Expires = "handle", id, s.o.Now().Add(s.o.ApprovalLifetime).Unix()
	writeJSON(w, http.StatusAccepted, map[string]any{"handle": s.seal(c), "expiresIn": int(s.o.ApprovalLifetime.Seconds())})
	return nil
}

func (s *service) authorizeCheck(w http.ResponseWriter, r *http.Request, p Principal) error {
	var in struct {
		Handle string `json:"handle"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if s.o.Approver == nil {
		return invalid("This service authorizes at once; there is nothing to check.")
	}
	c, err := s.open(in.Handle, "handle", p)
	if err != nil {
		return err
	}
	switch err := s.o.Approver.Check(r.Context(), c.Approval); {
	case errors.Is(err, remote.ErrPending):
		writeJSON(w, http.StatusAccepted, map[string]any{})
		return nil
	case errors.Is(err, remote.ErrRefused):
		return &apiError{http.StatusBadRequest, "access_denied", "The holder refused the authorization."}
	case errors.Is(err, remote.ErrTimeout):
		return &apiError{http.StatusBadRequest, "expired_token", "The holder did not approve in time."}
	case err != nil:
		return err
	}
	sad := claims{Kind: "sad", Principal: c.Principal, Credential: c.Credential, Hashes: c.Hashes, Expires: s.o.Now().Add(s.o.SADLifetime).Unix()}
	writeJSON(w, http.StatusOK, map[string]any{"SAD": s.seal(sad), "expiresIn": int(s.o.SADLifetime.Seconds())})
	return nil
}

// checkHashes decodes the hashes and checks them against the algorithm.
func (s *service) checkHashes(in hashesIn) ([][]byte, crypto.Hash, error) {
	list := in.list()
	if len(list) == 0 {
		return nil, 0, invalid("Missing (or invalid type) array parameter hashes")
	}
	if len(list) > s.o.MultiSign {
		return nil, 0, invalid(fmt.Sprintf("At most %d hashes per request", s.o.MultiSign))
	}
	h, ok := remote.HashByOID(in.oid())
	if in.oid() == "" {
		// v1 credentials/authorize names no algorithm: the digest's length tells.
		d, _ := base64.StdEncoding.DecodeString(list[0])
		h, ok = map[int]crypto.Hash{32: crypto.SHA256, 48: crypto.SHA384, 64: crypto.SHA512}[len(d)]
	}
	if !ok {
		return nil, 0, invalid("Invalid parameter hashAlgorithmOID (SHA-256, SHA-384 or SHA-512)")
	}
	out := make([][]byte, len(list))
	for i, b64 := range list {
		d, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(d) != h.Size() {
			return nil, 0, invalid(fmt.Sprintf("Invalid hash %d: not a base64 %v digest", i, h))
		}
		out[i] = d
	}
	return out, h, nil
}

func (s *service) signHash(w http.ResponseWriter, r *http.Request, p Principal) error {
	var in struct {
		CredentialID   string `json:"credentialID"`
		SAD            string `json:"SAD"`
		SignAlgo       string `json:"signAlgo"`
		SignAlgoParams string `json:"signAlgoParams"`
		OperationMode  string `json:"operationMode"`
		hashesIn
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.OperationMode != "" && in.OperationMode != "S" {
		return invalid("Only operationMode S (synchronous) is supported.")
	}
	k, err := s.key(r.Context(), p, in.CredentialID)
	if err != nil {
		return err
	}
	c, err := s.open(in.SAD, "sad", p)
	if err != nil {
		return err
	}
	if c.Credential != in.CredentialID {
		return invalid("Invalid SAD for this credentialID")
	}
	digests, h, err := s.checkHashes(in.hashesIn)
	if err != nil {
		return err
	}
	for _, b64 := range in.list() {
		if !slices.ContainsFunc(c.Hashes, func(a string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b64)) == 1 }) {
			return invalid("A hash was not authorized by the SAD")
		}
	}
	opts, err := signerOpts(k.Public(), in.SignAlgo, in.SignAlgoParams, h)
	if err != nil {
		return err
	}
	sigs := make([]string, len(digests))
	for i, d := range digests {
		sig, err := k.SignContext(r.Context(), d, opts)
		if err != nil {
			return err
		}
		sigs[i] = base64.StdEncoding.EncodeToString(sig)
	}
	writeJSON(w, http.StatusOK, map[string]any{"signatures": sigs})
	return nil
}

// signerOpts turns signAlgo (and its parameters) into crypto.SignerOpts for the key,
// refusing an algorithm that does not fit the key or the hash.
func signerOpts(pub crypto.PublicKey, algo, params string, h crypto.Hash) (crypto.SignerOpts, error) {
	_, isRSA := pub.(*rsa.PublicKey)
	_, isEC := pub.(*ecdsa.PublicKey)
	withHash := map[string]crypto.Hash{
		remote.OIDSHA256WithRSA: crypto.SHA256, remote.OIDSHA384WithRSA: crypto.SHA384, remote.OIDSHA512WithRSA: crypto.SHA512,
		remote.OIDECDSAWithSHA256: crypto.SHA256, remote.OIDECDSAWithSHA384: crypto.SHA384, remote.OIDECDSAWithSHA512: crypto.SHA512,
	}
	switch {
	case isRSA && algo == remote.OIDRSAEncryption, isEC && algo == remote.OIDECPublicKey:
		return h, nil
	case isRSA && algo == remote.OIDRSASSAPSS:
		der, err := base64.StdEncoding.DecodeString(params)
		if err != nil {
			return nil, invalid("Invalid parameter signAlgoParams")
		}
		ph, salt, err := remote.ParsePSSParams(der)
		if err != nil || ph != h {
			return nil, invalid("Invalid parameter signAlgoParams (RSASSA-PSS with SHA-2 and MGF1 of the same hash)")
		}
		return &rsa.PSSOptions{SaltLength: salt, Hash: h}, nil
	}
	if wh, ok := withHash[algo]; ok && wh == h {
		if isRSA && strings.HasPrefix(algo, "1.2.840.113549") || isEC && strings.HasPrefix(algo, "1.2.840.10045") {
			return h, nil
		}
	}
	return nil, invalid("Invalid parameter signAlgo for this key and hash")
}

// The use-cases are the key store and the authorizer: the server keys under the API's
// grants.
var (
	_ KeyStore   = (*app.Service)(nil)
	_ Authorizer = (*app.Service)(nil)
)
