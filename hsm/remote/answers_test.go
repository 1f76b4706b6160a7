package remote_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/hsm/remote"
)

const env12 = `<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>`

func statusResp(code, msg, sig string) string {
	s := env12 + `<MSS_StatusQueryResponse><mss:MSS_StatusResp xmlns:mss="http://uri.etsi.org/TS102204/v1.1.2#" MajorVersion="1" MinorVersion="1">`
	if sig != "" {
		s += `<mss:MSS_Signature><mss:Base64Signature>` + sig + `</mss:Base64Signature></mss:MSS_Signature>`
	}
	return s + `<mss:Status><mss:StatusCode Value="` + code + `"/><mss:StatusMessage>` + msg + `</mss:StatusMessage></mss:Status></mss:MSS_StatusResp></MSS_StatusQueryResponse></env:Body></env:Envelope>`
}

// TestMSSStatusAnswers: the answers an MSSP (or a proxy before it) gives to a status
// query, SOAP 1.2 and 1.1 faults included, map to the errors callers branch on.
func TestMSSStatusAnswers(t *testing.T) {
	sig := base64.StdEncoding.EncodeToString([]byte("raw-signature-bytes"))
	cases := []struct {
		name   string
		status int
		body   string
		want   error // nil: a signature
	}{
		{"500 SIGNATURE", 200, statusResp("500", "SIGNATURE", sig), nil},
		{"502 VALID_SIGNATURE", 200, statusResp("502", "VALID_SIGNATURE", sig), nil},
		{"504 OUTSTANDING_TRANSACTION", 200, statusResp("504", "OUTSTANDING_TRANSACTION", ""), remote.ErrPending},
		{"401 USER_CANCEL", 200, statusResp("401", "USER_CANCEL", ""), remote.ErrRefused},
		{"208 EXPIRED_TRANSACTION", 200, statusResp("208", "EXPIRED_TRANSACTION", ""), remote.ErrTimeout},
		{"404 NO_KEY_FOUND", 200, statusResp("404", "NO_KEY_FOUND", ""), remote.ErrUnknownHolder},
		{"402 PIN_BLOCKED", 200, statusResp("402", "PIN_BLOCKED", ""), remote.ErrProviderRejected},
		{"503 INVALID_SIGNATURE", 200, statusResp("503", "INVALID_SIGNATURE", ""), remote.ErrProviderRejected},
		{"500 without a signature", 200, statusResp("500", "SIGNATURE", ""), remote.ErrProviderRejected},
		{"SOAP 1.2 fault 105", 500, env12 + `<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>mss:_105</env:Value></env:Subcode></env:Code><env:Reason><env:Text>UNKNOWN_CLIENT</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`, remote.ErrUnknownHolder},
		{"SOAP 1.1 fault 401", 500, `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>mss:_401</faultcode><faultstring>USER_CANCEL</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`, remote.ErrRefused},
		{"SOAP fault 900", 500, env12 + `<env:Fault><env:Code><env:Value>env:Receiver</env:Value><env:Subcode><env:Value>mss:_900</env:Value></env:Subcode></env:Code><env:Reason><env:Text>INTERNAL_ERROR</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`, remote.ErrUnreachable},
		{"proxy 502 page", 502, `<html>Bad Gateway</html>`, remote.ErrUnreachable},
		{"not SOAP", 200, `{"ok":true}`, remote.ErrProviderRejected},
		{"403 from a gateway", 403, `forbidden`, remote.ErrProviderRejected},
		// A gateway with its own codes, configured through StatusCodes.
		{"gateway 408 success", 200, statusResp("408", "SUCCESS", sig), nil},
		{"gateway 405 user cancelled", 200, statusResp("405", "USER_CANCELLED", ""), remote.ErrRefused},
		{"gateway 406 timeout", 200, statusResp("406", "TIMEOUT", ""), remote.ErrTimeout},
	}
	gateway := map[int]error{408: nil, 405: remote.ErrRefused, 406: remote.ErrTimeout}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			}))
			defer srv.Close()
			client := &remote.MSSClient{URL: srv.URL, APID: "ap", HTTPClient: srv.Client()}
			if strings.HasPrefix(c.name, "gateway") {
				client.StatusCodes = gateway
			}
			d := sha256.Sum256([]byte(c.name))
			tk := remote.Ticket{Provider: "mss", Ref: "tx1", Request: remote.Request{ID: "r", Holder: "+84912345678", Digests: [][]byte{d[:]}, Hash: crypto.SHA256}, Deadline: time.Now().Add(time.Minute)}
			res, err := client.Poll(context.Background(), tk)
			if c.want == nil {
				if err != nil || len(res.Signatures) != 1 || string(res.Signatures[0]) != "raw-signature-bytes" {
					t.Fatalf("Poll = %+v, %v", res, err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// FuzzMSSAnswer: no answer of an MSSP makes the client panic or hang, and only a
// signature status with a signature is a signature.
func FuzzMSSAnswer(f *testing.F) {
	f.Add([]byte(statusResp("500", "SIGNATURE", "AAAA")))
	f.Add([]byte(statusResp("504", "x", "")))
	f.Add([]byte(env12 + `<env:Fault><env:Code><env:Subcode><env:Value>mss:_105</env:Value></env:Subcode></env:Code></env:Fault>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
		defer srv.Close()
		client := &remote.MSSClient{URL: srv.URL, HTTPClient: srv.Client()}
		res, err := client.Poll(context.Background(), remote.Ticket{Provider: "mss", Ref: "t"})
		if err == nil && (res == nil || len(res.Signatures)+len(res.CMS) == 0) {
			t.Fatalf("no error and no signature")
		}
	})
}

// FuzzRawSignature: any bytes as a provider's CMS give a signature or an error, never a
// panic.
func FuzzRawSignature(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 0x06, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		_, _ = remote.RawSignature(der)
		_, _, _ = remote.ParsePSSParams(der)
		_, _, _ = remote.ParseDigestInfo(der)
	})
}

var update = flag.Bool("update", false, "rewrite the golden files")

// TestMSSSignatureRequestGolden: the MSS_Signature envelope Kyso sends must not drift;
// a change shows up as a diff against testdata/mss_signature_req.xml (go test -update
// rewrites it after review).
func TestMSSSignatureRequestGolden(t *testing.T) {
	var got []byte
	var contentType string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		contentType = r.Header.Get("Content-Type")
		_, _ = io.WriteString(w, env12+`<MSS_SignatureResponse><mss:MSS_SignatureResp xmlns:mss="http://uri.etsi.org/TS102204/v1.1.2#" MSSP_TransID="T1"><mss:Status><mss:StatusCode Value="100"/></mss:Status></mss:MSS_SignatureResp></MSS_SignatureResponse></env:Body></env:Envelope>`)
	}))
	defer srv.Close()
	at := time.Date(2026, 3, 5, 7, 30, 15, 0, time.UTC)
	client := &remote.MSSClient{
		URL: srv.URL, APID: "http://ap.mobile-id.vn/kyso", APPassword: hsm.NewSecret("pw&<"),
		MSSPID: "http://hmssp.mobile-id.vn", SignatureProfile: "http://mobile-id.vn/digitalSignature",
		HTTPClient: srv.Client(), Now: func() time.Time { return at },
	}
	d := sha256.Sum256([]byte("golden"))
	tk, err := client.Submit(context.Background(), remote.Request{ID: "kyso-0001", Holder: "0912 345 678", Digests: [][]byte{d[:]}, Hash: crypto.SHA256,
		DisplayText: "Ký văn bản số 05/UBND-VP <khẩn>", Timeout: 120 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Ref != "T1" || !tk.Submitted.Equal(at) || !tk.Deadline.Equal(at.Add(120*time.Second)) {
		t.Errorf("ticket %+v", tk)
	}
	if !strings.HasPrefix(contentType, "application/soap+xml") {
		t.Errorf("Content-Type %q", contentType)
	}
	// RFC 8017 section 9.2, note 1: the DER DigestInfo prefix of SHA-256.
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	if dtbs := base64.StdEncoding.EncodeToString(append(prefix, d[:]...)); !bytes.Contains(got, []byte(">"+dtbs+"<")) {
		t.Errorf("DataToBeSigned is not the SHA-256 DigestInfo %s", dtbs)
	}
	golden := filepath.Join("testdata", "mss_signature_req.xml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("MSS_Signature request drifted:\ngot  %s\nwant %s", got, want)
	}
}
