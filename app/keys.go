package app

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/store"
)

// OpenKeys opens the configured server keys with prov, gives each the certificate and
// chain the configuration names (a PKCS#11 token need not hold them), checks that the
// certificate is the key's, and records the key in the store, whose grants say who
// else may use it. The caller closes prov.
func OpenKeys(ctx context.Context, prov hsm.Provider, st *store.Store, keys []config.Key) (map[string]*ServerKey, error) {
	out := make(map[string]*ServerKey, len(keys))
	for i, kc := range keys {
		k, err := openKey(ctx, prov, st, kc)
		if err != nil {
			return nil, fmt.Errorf("service: keys[%d] (%s): %w", i, kc.Name, err)
		}
		out[kc.Name] = k
	}
	return out, nil
}

func openKey(ctx context.Context, prov hsm.Provider, st *store.Store, kc config.Key) (*ServerKey, error) {
	key, err := prov.Open(ctx, kc.URI)
	if err != nil {
		return nil, err
	}
	cert, chain := key.Certificate(), key.Chain()
	if kc.Certificate != "" {
		certs, err := pki.ReadCertificatesFile(kc.Certificate)
		if err != nil {
			return nil, err
		}
		cert, chain = certs[0], certs[1:]
	}
	for _, f := range kc.Chain {
		certs, err := pki.ReadCertificatesFile(f)
		if err != nil {
			return nil, err
		}
		chain = append(chain, certs...)
	}
	if cert == nil {
		return nil, errors.New(`the key provider holds no certificate for it; name one with "certificate"`)
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("the certificate %q is not the key's", cert.Subject)
	}
	rec, err := st.KeyByURI(ctx, kc.URI)
	if errors.Is(err, store.ErrNotFound) {
		rec, err = st.CreateKey(ctx, store.SigningKey{URI: kc.URI, Label: kc.Name, Owner: kc.Owner}, "kyso serve")
	}
	if err != nil {
		return nil, err
	}
	owner := kc.Owner
	if owner == "" {
		owner = cert.Subject.CommonName
	}
	return &ServerKey{
		Name: kc.Name, Key: withCertificates{Key: key, cert: cert, chain: chain}, StoreID: rec.ID, URI: kc.URI,
		Owner: owner, Allowed: configGrants(ctx, st, kc.Allowed), Demo: kc.Demo,
	}, nil
}

// configGrants are the configuration's grants as MayUseKey matches them: a client's
// name, which grants once matched, is taken for the id of the client so named now
// (names are unique); a name no client has matches nobody.
func configGrants(ctx context.Context, st *store.Store, allowed []string) []string {
	out := slices.Clone(allowed)
	for i, g := range out {
		if strings.HasPrefix(g, "role:") {
			continue
		}
		if _, err := strconv.ParseInt(g, 10, 64); err == nil {
			continue
		}
		if c, err := st.ClientByName(ctx, g); err == nil {
			out[i] = strconv.FormatInt(c.ID, 10)
		}
	}
	return out
}

// withCertificates gives a key the certificates its configuration names.
type withCertificates struct {
	hsm.Key
	cert  *x509.Certificate
	chain []*x509.Certificate
}

func (k withCertificates) Certificate() *x509.Certificate { return k.cert }
func (k withCertificates) Chain() []*x509.Certificate     { return k.chain }

// GrantKey lets principal (a client id, or "role:<role>") sign with the key; a
// client's name is taken for its id, and the id is what the grant keeps.
func (s *Service) GrantKey(ctx context.Context, actor Principal, keyName, principal string) error {
	k, ok := s.Keys[keyName]
	if !ok {
		return fault.Errorf(fault.NotFound, "no key %q", keyName)
	}
	who, err := s.grantee(ctx, principal)
	if err != nil {
		return err
	}
	return s.Store.GrantKey(ctx, k.StoreID, who, AuditActor(actor))
}

// RevokeGrant withdraws a grant given through GrantKey. A grant written in the
// configuration is changed there, and is ErrNotFound here with a message that says so.
func (s *Service) RevokeGrant(ctx context.Context, actor Principal, keyName, principal string) error {
	k, ok := s.Keys[keyName]
	if !ok {
		return fault.Errorf(fault.NotFound, "no key %q", keyName)
	}
	who := principal
	if g, err := s.grantee(ctx, principal); err == nil {
		who = g
	}
	err := s.Store.RevokeGrant(ctx, k.StoreID, who, AuditActor(actor))
	if errors.Is(err, store.ErrNotFound) {
		if slices.Contains(k.Allowed, principal) || slices.Contains(k.Allowed, who) {
			return fault.Errorf(fault.NotFound, "this grant is written in the configuration file; change it there")
		}
		return fault.Errorf(fault.NotFound, "the key has no such grant")
	}
	return err
}

// readinessDigest is what the readiness probe signs: a key that can sign it and whose
// signature verifies with its certificate's public key is reachable and is the key the
// certificate names.
var readinessDigest = sha256.Sum256([]byte("kyso readiness probe"))

// Ready signs a probe digest with the key and checks the signature with its
// certificate.
func (k *ServerKey) Ready(ctx context.Context) error {
	sig, err := k.Key.SignContext(ctx, readinessDigest[:], crypto.SHA256)
	if err != nil {
		return err
	}
	switch pub := k.Key.Certificate().PublicKey.(type) {
	case *rsa.PublicKey:
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, readinessDigest[:], sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, readinessDigest[:], sig) {
			err = errors.New("ecdsa verification failed")
		}
	default:
		err = fmt.Errorf("unsupported public key %T", pub)
	}
	if err != nil {
		return fmt.Errorf("service: the key's probe signature does not verify with its certificate: %w", err)
	}
	return nil
}
