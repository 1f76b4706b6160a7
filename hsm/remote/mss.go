package remote

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/signer/cms"
)

// ETSI TS 102 204 names.
const (
	// MSSNamespace is the TS 102 204 v1.1.2 XML namespace.
	MSSNamespace = "http://uri.etsi.org/TS102204/v1.1.2#"
	// MSSFormatPKCS1 asks for a bare PKCS#1 signature; MSSFormatPKCS7 for a CMS.
	MSSFormatPKCS1 = MSSNamespace + "PKCS1"
	MSSFormatPKCS7 = MSSNamespace + "PKCS7"

	soap12NS = "http://www.w3.org/2003/05/soap-envelope"
)

// TS 102 204 status codes this client acts on (the StatusCode table of the spec).
const (
	MSSRequestOK          = 100
	MSSWrongParam         = 101
	MSSUnknownClient      = 105
	MSSExpiredTransaction = 208
	MSSUserCancel         = 401
	MSSPINBlocked         = 402
	MSSCardBlocked        = 403
	MSSNoKeyFound         = 404
	MSSNoCertFound        = 422
	MSSSignature          = 500
	MSSRevokedCertificate = 501
	MSSValidSignature     = 502
	MSSInvalidSignature   = 503
	MSSOutstanding        = 504
	MSSInternalError      = 900
)

// kind maps a status code to this package's errors; nil means success (a signature)
// and ErrPending an outstanding transaction.
func (c *MSSClient) kind(code int) error {
	if k, ok := c.StatusCodes[code]; ok {
		return k
	}
	return mssKind(code)
}

// mssKind is the TS 102 204 meaning of a status code.
func mssKind(code int) error {
	switch code {
	case MSSRequestOK, MSSSignature, MSSValidSignature:
		return nil
	case MSSOutstanding:
		return ErrPending
	case MSSUserCancel:
		return ErrRefused
	case MSSExpiredTransaction:
		return ErrTimeout
	case MSSUnknownClient, MSSNoKeyFound, MSSNoCertFound:
		return ErrUnknownHolder
	case MSSInternalError:
		return ErrUnreachable
	}
	return ErrProviderRejected
}

// MSSClient is an Application Provider's client of a mobile signature service (MSSP)
// speaking ETSI TS 102 204 over SOAP 1.2 in the asynchronous client-server mode:
// MSS_Signature answers at once with an MSSP_TransID, MSS_StatusQuery asks for the
// answer. The SIM signs the DER DigestInfo of the hash (PKCS#1 v1.5).
type MSSClient struct {
	// URL is the MSS_Signature port; StatusURL the MSS_StatusQuery port (default URL).
	URL, StatusURL string
	// APID names the Application Provider (AP_Info AP_ID); APPassword is AP_PWD when
	// the MSSP asks for one.
	APID       string
	APPassword hsm.Secret
	// MSSPID is the MSSP's URI (MSSP_Info).
	MSSPID string
	// SignatureProfile selects the SIM key and policy (e.g.
	// "http://mobile-id.vn/digitalSignature").
	SignatureProfile string
	// Format is MSSFormatPKCS1 (default) or MSSFormatPKCS7.
	Format string
	// Timeout is the holder's time when a Request sets none (default 300 s).
	Timeout time.Duration
	// HTTPClient carries the AP's client certificate (see NewMSSHTTPClient).
	HTTPClient *http.Client
	// StatusCodes overrides the meaning of status codes for an MSSP whose codes differ
	// from TS 102 204 (integrators report such a gateway in Vietnam): a nil value is a
	// success, ErrPending an outstanding transaction, any other sentinel that error.
	// Codes not listed keep their TS 102 204 meaning.
	StatusCodes map[int]error
	// Now stamps AP_Info Instant and the Ticket (default time.Now).
	Now func() time.Time
}

var _ Provider = (*MSSClient)(nil)

// NewMSSHTTPClient is an HTTPS client presenting the AP's certificate (mutual TLS),
// trusting roots for the MSSP (nil: the system roots), TLS 1.2 or later, with each
// exchange bounded to 30 s (a status query answers at once in asynchronous mode).
func NewMSSHTTPClient(clientCert tls.Certificate, roots *x509.CertPool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{Certificates: []tls.Certificate{clientCert}, RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// Name is "mss".
func (c *MSSClient) Name() string { return "mss" }

// Submit sends MSS_Signature in asynchronous client-server mode.
func (c *MSSClient) Submit(ctx context.Context, r Request) (Ticket, error) {
	if err := checkDigests(r); err != nil {
		return Ticket{}, err
	}
	if len(r.Digests) != 1 {
		return Ticket{}, errors.New("remote: mss: a SIM signs one digest per request")
	}
	if r.PSS {
		return Ticket{}, errors.New("remote: mss: a SIM signs PKCS#1 v1.5, not PSS")
	}
	msisdn, err := NormalizeMSISDN(r.Holder)
	if err != nil {
		return Ticket{}, err
	}
	dtbs, err := DigestInfo(r.Hash, r.Digests[0])
	if err != nil {
		return Ticket{}, err
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = c.Timeout
	}
	if timeout <= 0 {
		timeout = 300 * time.Second
	}
	format := c.Format
	if format == "" {
		format = MSSFormatPKCS1
	}
	now := c.now()
	var b strings.Builder
	fmt.Fprintf(&b, `<MSS_Signature><mss:MSS_SignatureReq xmlns:mss="%s" MajorVersion="1" MinorVersion="1" MessagingMode="asynchClientServer" TimeOut="%d">`,
		MSSNamespace, int(timeout.Seconds()))
	c.writeAPInfo(&b, r.ID, now)
	fmt.Fprintf(&b, `<mss:MobileUser><mss:MSISDN>%s</mss:MSISDN></mss:MobileUser>`, esc(msisdn))
	fmt.Fprintf(&b, `<mss:DataToBeSigned MimeType="application/octet-stream" Encoding="base64">%s</mss:DataToBeSigned>`, base64.StdEncoding.EncodeToString(dtbs))
	fmt.Fprintf(&b, `<mss:DataToBeDisplayed MimeType="text/plain" Encoding="UTF-8">%s</mss:DataToBeDisplayed>`, esc(r.DisplayText))
	fmt.Fprintf(&b, `<mss:SignatureProfile><mss:mssURI>%s</mss:mssURI></mss:SignatureProfile>`, esc(c.SignatureProfile))
	fmt.Fprintf(&b, `<mss:MSS_Format><mss:mssURI>%s</mss:mssURI></mss:MSS_Format>`, esc(format))
	b.WriteString(`</mss:MSS_SignatureReq></MSS_Signature>`)
	resp, err := c.call(ctx, c.URL, "MSS_Signature", b.String())
	if err != nil {
		return Ticket{}, err
	}
	if resp.TransID == "" {
		return Ticket{}, &Error{Provider: "mss", Op: "MSS_Signature", Kind: ErrProviderRejected, Code: strconv.Itoa(resp.Code), Message: "no MSSP_TransID in the answer"}
	}
	return Ticket{Provider: c.Name(), Request: r, Ref: resp.TransID, Submitted: now, Deadline: now.Add(timeout)}, nil
}

// Poll sends MSS_StatusQuery for the ticket's MSSP_TransID.
func (c *MSSClient) Poll(ctx context.Context, t Ticket) (*Result, error) {
	if t.Provider != c.Name() || t.Ref == "" {
		return nil, fmt.Errorf("remote: mss: ticket of provider %q has no MSSP_TransID", t.Provider)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<MSS_StatusQuery><mss:MSS_StatusReq xmlns:mss="%s" MajorVersion="1" MinorVersion="1" MSSP_TransID="%s">`, MSSNamespace, esc(t.Ref))
	c.writeAPInfo(&b, NewRequestID(), c.now())
	b.WriteString(`</mss:MSS_StatusReq></MSS_StatusQuery>`)
	url := c.StatusURL
	if url == "" {
		url = c.URL
	}
	resp, err := c.call(ctx, url, "MSS_StatusQuery", b.String())
	if err != nil {
		return nil, err
	}
	if len(resp.Signature) == 0 {
		return nil, &Error{Provider: "mss", Op: "MSS_StatusQuery", Kind: ErrProviderRejected, Code: strconv.Itoa(resp.Code), Message: "status " + resp.Message + " without a signature"}
	}
	format := resp.Format
	if format == "" {
		format = c.Format
	}
	if format == MSSFormatPKCS7 {
		return &Result{CMS: resp.Signature}, nil
	}
	return &Result{Signatures: [][]byte{resp.Signature}}, nil
}

func (c *MSSClient) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *MSSClient) writeAPInfo(b *strings.Builder, transID string, now time.Time) {
	fmt.Fprintf(b, `<mss:AP_Info AP_ID="%s" AP_TransID="%s" Instant="%s"`, esc(c.APID), esc(transID), now.UTC().Format(time.RFC3339))
	if !c.APPassword.IsZero() {
		fmt.Fprintf(b, ` AP_PWD="%s"`, esc(c.APPassword.Reveal()))
	}
	fmt.Fprintf(b, `/><mss:MSSP_Info><mss:MSSP_ID><mss:URI>%s</mss:URI></mss:MSSP_ID></mss:MSSP_Info>`, esc(c.MSSPID))
}

// mssAnswer is what this client reads from MSS_SignatureResp and MSS_StatusResp.
type mssAnswer struct {
	TransID   string
	Code      int
	Message   string
	Signature []byte
	Format    string
}

// maxSOAPAnswer bounds what is read from an MSSP.
const maxSOAPAnswer = 1 << 20

func (c *MSSClient) call(ctx context.Context, url, op, body string) (*mssAnswer, error) {
	env := `<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="` + soap12NS + `"><env:Body>` + body + `</env:Body></env:Envelope>`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(env))
	if err != nil {
		return nil, fmt.Errorf("remote: mss: %w", err)
	}
	req.Header.Set("Content-Type", `application/soap+xml; charset=utf-8; action="`+op+`"`)
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, transportError("mss", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxSOAPAnswer))
	if err != nil {
		return nil, &Error{Provider: "mss", Op: op, Kind: ErrUnreachable, Err: err}
	}
	a, fault, perr := parseMSSAnswer(raw)
	switch {
	case fault != nil:
		code := fault.code()
		kind := c.kind(code)
		if kind == nil || kind == ErrPending {
			kind = ErrProviderRejected
		}
		return nil, &Error{Provider: "mss", Op: op, Kind: kind, Code: strconv.Itoa(code), Message: fault.text()}
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, &Error{Provider: "mss", Op: op, Kind: ErrUnreachable, Code: strconv.Itoa(resp.StatusCode), Message: http.StatusText(resp.StatusCode)}
	case resp.StatusCode != http.StatusOK:
		return nil, &Error{Provider: "mss", Op: op, Kind: ErrProviderRejected, Code: strconv.Itoa(resp.StatusCode), Message: http.StatusText(resp.StatusCode)}
	case perr != nil:
		return nil, &Error{Provider: "mss", Op: op, Kind: ErrProviderRejected, Message: "unreadable answer", Err: perr}
	}
	if kind := c.kind(a.Code); kind != nil {
		return nil, &Error{Provider: "mss", Op: op, Kind: kind, Code: strconv.Itoa(a.Code), Message: a.Message}
	}
	return a, nil
}

// transportError classifies a failed HTTP exchange: a refused or unroutable connection
// never carried the request; a rejected client certificate is the provider saying no.
func transportError(provider, op string, err error) error {
	var opErr *net.OpError
	var verr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &verr):
		return &Error{Provider: provider, Op: op, Kind: ErrProviderRejected, Message: "the provider's TLS certificate is not trusted", NotSent: true, Err: err}
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		// A TLS alert: the provider refused the connection (our client certificate,
		// most often) before it read the request.
		return &Error{Provider: provider, Op: op, Kind: ErrProviderRejected, Message: "the provider refused the TLS connection", NotSent: true, Err: err}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return &Error{Provider: provider, Op: op, Kind: ErrUnreachable, NotSent: true, Err: err}
	}
	return &Error{Provider: provider, Op: op, Kind: ErrUnreachable, Err: err}
}

type mssStatus struct {
	Code struct {
		Value string `xml:"Value,attr"`
	} `xml:"StatusCode"`
	Message string `xml:"StatusMessage"`
}

type mssResp struct {
	TransID   string    `xml:"MSSP_TransID,attr"`
	Status    mssStatus `xml:"Status"`
	Signature string    `xml:"MSS_Signature>Base64Signature"`
	Format    string    `xml:"MSS_Format>mssURI"`
}

// soapFault reads SOAP 1.2 (Code/Subcode/Value, Reason/Text) and SOAP 1.1
// (faultcode, faultstring) faults; TS 102 204 puts the status code in the subcode as
// "mss:_105".
type soapFault struct {
	Value    string `xml:"Code>Value"`
	Subcode  string `xml:"Code>Subcode>Value"`
	Reason   string `xml:"Reason>Text"`
	Code11   string `xml:"faultcode"`
	String11 string `xml:"faultstring"`
}

func (f *soapFault) code() int {
	for _, v := range []string{f.Subcode, f.Code11, f.Value} {
		if i := strings.LastIndex(v, "_"); i >= 0 {
			if n, err := strconv.Atoi(v[i+1:]); err == nil {
				return n
			}
		}
	}
	return 0
}

func (f *soapFault) text() string {
	for _, s := range []string{f.Reason, f.String11} {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return "SOAP fault"
}

// parseMSSAnswer finds the first MSS_SignatureResp, MSS_StatusResp or Fault anywhere in
// the envelope, whatever the wrapper elements and prefixes.
func parseMSSAnswer(raw []byte) (*mssAnswer, *soapFault, error) {
	d := xml.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("no MSS answer in the SOAP body: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "Fault":
			var f soapFault
			if err := d.DecodeElement(&f, &se); err != nil {
				return nil, nil, err
			}
			return nil, &f, nil
		case "MSS_SignatureResp", "MSS_StatusResp":
			var r mssResp
			if err := d.DecodeElement(&r, &se); err != nil {
				return nil, nil, err
			}
			code, err := strconv.Atoi(r.Status.Code.Value)
			if err != nil {
				return nil, nil, fmt.Errorf("status code %q", r.Status.Code.Value)
			}
			a := &mssAnswer{TransID: r.TransID, Code: code, Message: strings.TrimSpace(r.Status.Message), Format: strings.TrimSpace(r.Format)}
			if s := strings.Join(strings.Fields(r.Signature), ""); s != "" {
				if a.Signature, err = base64.StdEncoding.DecodeString(s); err != nil {
					return nil, nil, fmt.Errorf("Base64Signature: %w", err)
				}
			}
			return a, nil, nil
		}
	}
}

// NormalizeMSISDN checks a phone number and writes it in international form: "+84…"
// (a national "0…" number is Vietnamese).
func NormalizeMSISDN(s string) (string, error) {
	s = strings.NewReplacer(" ", "", "-", "", ".", "").Replace(strings.TrimSpace(s))
	digits := strings.TrimPrefix(s, "+")
	if strings.HasPrefix(s, "0") {
		digits = "84" + s[1:]
	}
	if len(digits) < 8 || len(digits) > 15 || strings.Trim(digits, "0123456789") != "" {
		return "", fmt.Errorf("%w: %q is not a phone number", ErrUnknownHolder, s)
	}
	return "+" + digits, nil
}

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type digestInfo struct {
	Algorithm algorithmIdentifier
	Digest    []byte
}

// DigestInfo is the DER DigestInfo (RFC 8017) a SIM signs with PKCS#1 v1.5.
func DigestInfo(h crypto.Hash, digest []byte) ([]byte, error) {
	oid, ok := cms.HashOID(h)
	if !ok || len(digest) != h.Size() {
		return nil, fmt.Errorf("remote: no DigestInfo for %v with a %d-byte digest", h, len(digest))
	}
	return asn1.Marshal(digestInfo{Algorithm: algorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue}, Digest: digest})
}

// ParseDigestInfo is the inverse of DigestInfo.
func ParseDigestInfo(der []byte) (crypto.Hash, []byte, error) {
	var di digestInfo
	rest, err := asn1.Unmarshal(der, &di)
	if err != nil || len(rest) > 0 {
		return 0, nil, errors.New("remote: not a DER DigestInfo")
	}
	if h, ok := cms.HashByOID(di.Algorithm.Algorithm); ok && len(di.Digest) == h.Size() {
		return h, di.Digest, nil
	}
	return 0, nil, fmt.Errorf("remote: DigestInfo algorithm %v not allowed", di.Algorithm.Algorithm)
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
