// Package remotetest starts remote signing peers on loopback for tests: an ETSI TS 102
// 204 mobile signature service (MSSP) whose holders' keys are hsm.Keys (SoftHSM2 in
// the tests) and whose "phone" the test plays: confirm after a while, refuse, or never
// answer. The MSSP keeps its transactions while clients come and go, so a test can
// drop a client, make a new one as after a restart (NewClient, or ClientFromFile in
// another process), and resume a stored Ticket. The CSC peer is api/csc itself.
//
// Test-only: imported by _test.go files. It must never import cmd/, api/ or signer/.
package remotetest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/hsm/remote"
)

// Action is what the holder does on the phone.
type Action int

const (
	// Confirm enters the PIN and signs.
	Confirm Action = iota
	// Refuse presses cancel (TS 102 204 401 USER_CANCEL).
	Refuse
	// Ignore never answers: the transaction expires (208 EXPIRED_TRANSACTION).
	Ignore
)

// Answer is the phone's reaction to a request, After the request arrived.
type Answer struct {
	Action Action
	After  time.Duration
}

// PhoneRequest is what the phone shows (and what the test may check).
type PhoneRequest struct {
	MSISDN, DisplayText, APTransID, MSSPTransID string
	Hash                                        crypto.Hash
	Digest                                      []byte
}

// MSSPOptions configure StartMSSP.
type MSSPOptions struct {
	// Holders maps a phone number ("+84…") to the key on its SIM; the key's
	// certificate goes into PKCS7 answers.
	Holders map[string]hsm.Key
	// Phone decides each request's fate (default: confirm at once).
	Phone func(PhoneRequest) Answer
	// APID and APPassword are what the AP must present (AP_Info).
	APID, APPassword string
	// CloseConnections answers every request with "Connection: close", so that no
	// connection (and no goroutine) outlives a request: for goroutine leak checks.
	CloseConnections bool
	// Clock is the phone's and the MSSP's time (nil: the system clock): an answer
	// After a while and a transaction's expiry are measured in it. NewClient gives
	// it to the client too, for the Ticket's submission time and deadline.
	Clock remote.Clock
}

// MSSP is a running TS 102 204 service over HTTPS with client-certificate TLS.
type MSSP struct {
	URL        string
	opts       MSSPOptions
	apCert     tls.Certificate
	roots      *x509.CertPool
	serverCert *x509.Certificate

	submissions, queries atomic.Int64
	failSignatures       atomic.Bool
	failStatus           atomic.Int64

	mu   sync.Mutex
	txs  map[string]*transaction
	next int
	log  []PhoneRequest
}

type transaction struct {
	req      PhoneRequest
	answerAt time.Time
	expires  time.Time
	action   Action
	format   string
}

// StartMSSP starts the service; it stops with the test.
func StartMSSP(t testing.TB, opts MSSPOptions) *MSSP {
	t.Helper()
	m := &MSSP{opts: opts, txs: map[string]*transaction{}}
	ca, caKey, err := newCA()
	if err != nil {
		t.Fatal(err)
	}
	if m.apCert, err = newLeaf(ca, caKey, "AP "+opts.APID); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(m.serve))
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(ca)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs, MinVersion: tls.VersionTLS12}
	srv.Config.SetKeepAlivesEnabled(!opts.CloseConnections)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	m.URL = srv.URL + "/soap/services/MSS_SignaturePort"
	m.serverCert = srv.Certificate()
	m.roots = x509.NewCertPool()
	m.roots.AddCert(m.serverCert)
	return m
}

// NewClient is a TS 102 204 client of this MSSP as a new process would make it: its own
// HTTP connections, the AP's client certificate.
func (m *MSSP) NewClient(format string) *remote.MSSClient {
	c := client(m.URL, m.opts.APID, m.opts.APPassword, format, m.apCert, m.roots)
	if m.opts.Clock != nil {
		c.Now = m.opts.Clock.Now
	}
	return c
}

func client(url, apID, apPassword, format string, cert tls.Certificate, roots *x509.CertPool) *remote.MSSClient {
	return &remote.MSSClient{
		URL: url, APID: apID, APPassword: hsm.NewSecret(apPassword),
		MSSPID: "http://mssp.test.invalid", SignatureProfile: "http://mobile-id.vn/digitalSignature",
		Format: format, HTTPClient: remote.NewMSSHTTPClient(cert, roots),
	}
}

// clientConfig is what another process needs to be this MSSP's AP.
type clientConfig struct {
	URL, APID, APPassword  string
	CertPEM, KeyPEM, CAPEM []byte
}

// WriteClientConfig writes a file from which ClientFromFile makes this MSSP's client in
// another process (a restarted server): URL, AP credentials, the AP's client key and
// certificate, and the MSSP's certificate. The file holds a private key: tests only.
func (m *MSSP) WriteClientConfig(path string) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(m.apCert.PrivateKey)
	if err != nil {
		return err
	}
	b, err := json.Marshal(clientConfig{
		URL: m.URL, APID: m.opts.APID, APPassword: m.opts.APPassword,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.apCert.Certificate[0]}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		CAPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.serverCert.Raw}),
	})
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// ClientFiles are the files a `kyso serve` configuration names to be this MSSP's AP
// (remote.providers[].client_certificate_file, client_key_file, server_ca_file,
// ap_password_file), with the URL and AP_ID that go beside them.
type ClientFiles struct {
	URL, APID                               string
	CertFile, KeyFile, CAFile, PasswordFile string
}

// WriteClientFiles writes the AP's client certificate and key, the MSSP's certificate
// and the AP password as PEM and text files into dir. The key file is a private key:
// tests only.
func (m *MSSP) WriteClientFiles(dir string) (ClientFiles, error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(m.apCert.PrivateKey)
	if err != nil {
		return ClientFiles{}, err
	}
	f := ClientFiles{URL: m.URL, APID: m.opts.APID, CertFile: filepath.Join(dir, "ap-cert.pem"), KeyFile: filepath.Join(dir, "ap-key.pem"),
		CAFile: filepath.Join(dir, "mssp-ca.pem"), PasswordFile: filepath.Join(dir, "ap-password")}
	for path, b := range map[string][]byte{
		f.CertFile:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.apCert.Certificate[0]}),
		f.KeyFile:      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		f.CAFile:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.serverCert.Raw}),
		f.PasswordFile: []byte(m.opts.APPassword + "\n"),
	} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return ClientFiles{}, err
		}
	}
	return f, nil
}

// ClientFromFile makes an MSSP client from a WriteClientConfig file.
func ClientFromFile(path string) (*remote.MSSClient, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c clientConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(c.CAPEM) {
		return nil, fmt.Errorf("remotetest: no MSSP certificate in %s", path)
	}
	return client(c.URL, c.APID, c.APPassword, "", cert, roots), nil
}

// Submissions is how many MSS_Signature requests arrived; StatusQueries how many
// MSS_StatusQuery requests.
func (m *MSSP) Submissions() int   { return int(m.submissions.Load()) }
func (m *MSSP) StatusQueries() int { return int(m.queries.Load()) }

// Shown lists what the phones displayed, in order.
func (m *MSSP) Shown() []PhoneRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]PhoneRequest(nil), m.log...)
}

// FailSignatures makes MSS_Signature fail with HTTP 503 after the request was read (the
// MSSP may have reached the phone: a client must not send it again).
func (m *MSSP) FailSignatures(fail bool) { m.failSignatures.Store(fail) }

// FailStatusQueries makes the next n MSS_StatusQuery requests fail with HTTP 503.
func (m *MSSP) FailStatusQueries(n int) { m.failStatus.Store(int64(n)) }

type apInfo struct {
	ID      string `xml:"AP_ID,attr"`
	PWD     string `xml:"AP_PWD,attr"`
	TransID string `xml:"AP_TransID,attr"`
}

type signatureReq struct {
	TimeOut string `xml:"TimeOut,attr"`
	Mode    string `xml:"MessagingMode,attr"`
	AP      apInfo `xml:"AP_Info"`
	MSISDN  string `xml:"MobileUser>MSISDN"`
	DTBS    struct {
		Encoding string `xml:"Encoding,attr"`
		Text     string `xml:",chardata"`
	} `xml:"DataToBeSigned"`
	Displayed string `xml:"DataToBeDisplayed"`
	Format    string `xml:"MSS_Format>mssURI"`
}

type statusReq struct {
	TransID string `xml:"MSSP_TransID,attr"`
	AP      apInfo `xml:"AP_Info"`
}

func (m *MSSP) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost {
		fault(w, remote.MSSWrongParam, "WRONG_PARAM")
		return
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err != nil {
			fault(w, remote.MSSWrongParam, "WRONG_PARAM")
			return
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "MSS_SignatureReq":
			var req signatureReq
			if err := d.DecodeElement(&req, &se); err != nil {
				fault(w, remote.MSSWrongParam, "WRONG_PARAM")
				return
			}
			m.signature(w, &req)
			return
		case "MSS_StatusReq":
			var req statusReq
			if err := d.DecodeElement(&req, &se); err != nil {
				fault(w, remote.MSSWrongParam, "WRONG_PARAM")
				return
			}
			m.status(r.Context(), w, &req)
			return
		}
	}
}

func (m *MSSP) authorised(w http.ResponseWriter, ap apInfo) bool {
	if ap.ID != m.opts.APID || ap.PWD != m.opts.APPassword || ap.TransID == "" {
		fault(w, 104, "UNAUTHORIZED_ACCESS")
		return false
	}
	return true
}

func (m *MSSP) signature(w http.ResponseWriter, req *signatureReq) {
	m.submissions.Add(1)
	if m.failSignatures.Load() {
		http.Error(w, "MSSP overloaded", http.StatusServiceUnavailable)
		return
	}
	if !m.authorised(w, req.AP) {
		return
	}
	if req.Mode != "asynchClientServer" {
		fault(w, remote.MSSWrongParam, "WRONG_PARAM: only asynchClientServer")
		return
	}
	if _, ok := m.opts.Holders[req.MSISDN]; !ok {
		fault(w, remote.MSSUnknownClient, "UNKNOWN_CLIENT")
		return
	}
	dtbs, err := base64.StdEncoding.DecodeString(strings.TrimSpace(req.DTBS.Text))
	if err != nil || req.DTBS.Encoding != "base64" {
		fault(w, remote.MSSWrongParam, "WRONG_PARAM: DataToBeSigned")
		return
	}
	h, digest, err := remote.ParseDigestInfo(dtbs)
	if err != nil {
		fault(w, 107, "INAPPROPRIATE_DATA")
		return
	}
	timeout, err := strconv.Atoi(req.TimeOut)
	if err != nil || timeout <= 0 {
		timeout = 300
	}
	m.mu.Lock()
	m.next++
	id := fmt.Sprintf("mssp-%d", m.next)
	pr := PhoneRequest{MSISDN: req.MSISDN, DisplayText: req.Displayed, APTransID: req.AP.TransID, MSSPTransID: id, Hash: h, Digest: digest}
	m.log = append(m.log, pr)
	m.mu.Unlock()
	ans := Answer{Action: Confirm}
	if m.opts.Phone != nil {
		ans = m.opts.Phone(pr)
	}
	now := remote.ClockOrSystem(m.opts.Clock).Now()
	m.mu.Lock()
	m.txs[id] = &transaction{req: pr, answerAt: now.Add(ans.After), expires: now.Add(time.Duration(timeout) * time.Second), action: ans.Action, format: req.Format}
	m.mu.Unlock()
	answer(w, "MSS_SignatureResponse", fmt.Sprintf(`<mss:MSS_SignatureResp MajorVersion="1" MinorVersion="1" MSSP_TransID="%s">%s<mss:Status><mss:StatusCode Value="100"/><mss:StatusMessage>REQUEST_OK</mss:StatusMessage></mss:Status></mss:MSS_SignatureResp>`,
		id, mobileUser(req.MSISDN)))
}

func (m *MSSP) status(ctx context.Context, w http.ResponseWriter, req *statusReq) {
	m.queries.Add(1)
	if m.failStatus.Load() > 0 && m.failStatus.Add(-1) >= 0 {
		http.Error(w, "MSSP overloaded", http.StatusServiceUnavailable)
		return
	}
	if !m.authorised(w, req.AP) {
		return
	}
	m.mu.Lock()
	tx := m.txs[req.TransID]
	m.mu.Unlock()
	if tx == nil {
		fault(w, remote.MSSWrongParam, "WRONG_PARAM: unknown MSSP_TransID")
		return
	}
	now := remote.ClockOrSystem(m.opts.Clock).Now()
	code, msg, sig := remote.MSSOutstanding, "OUTSTANDING_TRANSACTION", ""
	switch {
	case now.After(tx.expires) && (tx.action == Ignore || tx.answerAt.After(tx.expires)):
		code, msg = remote.MSSExpiredTransaction, "EXPIRED_TRANSACTION"
	case now.Before(tx.answerAt) || tx.action == Ignore:
	case tx.action == Refuse:
		code, msg = remote.MSSUserCancel, "USER_CANCEL"
	default:
		out, err := m.sign(ctx, tx)
		if err != nil {
			fault(w, remote.MSSInternalError, "INTERNAL_ERROR")
			return
		}
		code, msg, sig = remote.MSSSignature, "SIGNATURE", `<mss:MSS_Signature><mss:Base64Signature>`+base64.StdEncoding.EncodeToString(out)+`</mss:Base64Signature></mss:MSS_Signature>`
	}
	answer(w, "MSS_StatusQueryResponse", fmt.Sprintf(`<mss:MSS_StatusResp MajorVersion="1" MinorVersion="1">%s%s<mss:Status><mss:StatusCode Value="%d"/><mss:StatusMessage>%s</mss:StatusMessage></mss:Status></mss:MSS_StatusResp>`,
		mobileUser(tx.req.MSISDN), sig, code, msg))
}

// sign is the SIM: PKCS#1 v1.5 over the DigestInfo, bare or in a CMS without signed
// attributes.
func (m *MSSP) sign(ctx context.Context, tx *transaction) ([]byte, error) {
	key := m.opts.Holders[tx.req.MSISDN]
	sig, err := key.SignContext(ctx, tx.req.Digest, tx.req.Hash)
	if err != nil || tx.format != remote.MSSFormatPKCS7 {
		return sig, err
	}
	return cmsWithoutAttributes(key.Certificate(), tx.req.Hash, sig)
}

func mobileUser(msisdn string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(msisdn))
	return `<mss:MobileUser><mss:MSISDN>` + b.String() + `</mss:MSISDN></mss:MobileUser>`
}

func answer(w http.ResponseWriter, wrapper, inner string) {
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><%s xmlns:mss="%s">%s</%s></env:Body></env:Envelope>`,
		wrapper, remote.MSSNamespace, inner, wrapper)
}

func fault(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value xmlns:mss="%s">mss:_%d</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">%s</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`,
		remote.MSSNamespace, code, text)
}

// newCA and newLeaf mint the throw-away PKI of the AP's client certificate.
func newCA() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "remotetest AP CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	return ca, key, err
}

func newLeaf(ca *x509.Certificate, caKey crypto.Signer, cn string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type algID struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type signerInfo struct {
	Version   int
	SID       issuerAndSerial
	Digest    algID
	SigAlg    algID
	Signature []byte
}

type encapContent struct {
	Type asn1.ObjectIdentifier
}

type signedData struct {
	Version      int
	Digests      []algID `asn1:"set"`
	Encap        encapContent
	Certificates asn1.RawValue `asn1:"tag:0"`
	Signers      []signerInfo  `asn1:"set"`
}

type contentInfo struct {
	Type    asn1.ObjectIdentifier
	Content signedData `asn1:"explicit,tag:0"`
}

var digestOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1},
	crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
	crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
}

// cmsWithoutAttributes wraps a PKCS#1 signature as a detached CMS SignedData with no
// signed attributes, as a SIM answers in the PKCS7 format.
func cmsWithoutAttributes(cert *x509.Certificate, h crypto.Hash, sig []byte) ([]byte, error) {
	digest := algID{Algorithm: digestOIDs[h], Parameters: asn1.NullRawValue}
	sd := signedData{
		Version: 1, Digests: []algID{digest},
		Encap:        encapContent{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}},
		Certificates: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: cert.Raw},
		Signers: []signerInfo{{
			Version: 1, SID: issuerAndSerial{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, Serial: cert.SerialNumber},
			Digest: digest, SigAlg: algID{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}, Parameters: asn1.NullRawValue},
			Signature: sig,
		}},
	}
	return asn1.Marshal(contentInfo{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}, Content: sd})
}
