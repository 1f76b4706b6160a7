package hsm

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// rfc7512Examples are the URIs of RFC 7512, section 3.3, with the vendor-attribute
// example last (it must be refused: we accept no vendor attributes).
var rfc7512Examples = []string{
	"pkcs11:",
	"pkcs11:object=my-pubkey;type=public",
	"pkcs11:object=my-key;type=private?pin-source=file:/etc/token",
	"pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin",
	"pkcs11:object=my-sign-key;type=private?module-name=mypkcs11",
	"pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1",
	"pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin",
	"pkcs11:slot-description=Sun%20Metaslot",
	"pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23",
	"pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert",
	"pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert",
	"pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a?pin-source=file:/etc/token_pin&vendor-bbb=value-b",
}

func TestParsePKCS11URI(t *testing.T) {
	slot := uint(3)
	tests := []struct {
		in      string
		want    *PKCS11URI
		wantErr string // substring; "" means success
	}{
		{in: rfc7512Examples[0], want: &PKCS11URI{}},
		{in: rfc7512Examples[2], want: &PKCS11URI{Object: "my-key", Type: TypePrivate, PINSource: "file:/etc/token"}},
		{in: rfc7512Examples[3], want: &PKCS11URI{
			Token: "The Software PKCS#11 Softtoken", Manufacturer: "Snake Oil, Inc.", Model: "1.0",
			Object: "my-certificate", Type: TypeCert, ID: []byte{0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91},
			PINSource: "file:/etc/token_pin",
		}},
		{in: rfc7512Examples[6], want: &PKCS11URI{Token: "Software PKCS#11 softtoken", Manufacturer: "Snake Oil, Inc.", PINValue: NewSecret("the-pin")}},
		{in: rfc7512Examples[8], want: &PKCS11URI{LibraryManufacturer: "Snake Oil, Inc.", LibraryDescription: "Soft Token Library", LibraryVersion: "1.23"}},
		{in: rfc7512Examples[9], want: &PKCS11URI{Token: "A name with a substring %;", Object: "my-certificate", Type: TypeCert}},
		{in: rfc7512Examples[10], want: &PKCS11URI{Token: "Name with a small A with acute: á", Object: "my-certificate", Type: TypeCert}},
		{in: "PKCS11:slot-id=3;slot-manufacturer=SoftHSM", want: &PKCS11URI{SlotID: &slot, SlotManufacturer: "SoftHSM"}},
		{in: rfc7512Examples[11], wantErr: `unknown path attribute "vendor-aaa"`},
		{in: "pkcs11:token=a?vendor-bbb=b", wantErr: `unknown query attribute "vendor-bbb"`},
		{in: "pkcs11:token=a;token=b", wantErr: `attribute "token" given twice`},
		{in: "pkcs11:token=a?pin-value=1&pin-value=2", wantErr: `attribute "pin-value" given twice`},
		{in: "pkcs11:token=a%2", wantErr: "truncated percent-encoding"},
		{in: "pkcs11:token=a%zz", wantErr: "bad percent-encoding"},
		{in: "pkcs11:token=my token", wantErr: `character ' ' must be percent-encoded`},
		{in: "pkcs11:token=Sở", wantErr: "must be percent-encoded"},
		{in: "pkcs11:type=secret", wantErr: `type "secret" is not one of`},
		{in: "pkcs11:slot-id=x", wantErr: `slot-id "x" is not a decimal number`},
		{in: "pkcs11:library-version=1.2.3", wantErr: `library-version "1.2.3"`},
		{in: "pkcs11:token", wantErr: `has no "="`},
		{in: "pkcs11:token=a?pin-value=1&pin-source=/f", wantErr: "pin-value and pin-source are both given"},
		{in: "softkey:path=/x", wantErr: `does not start with "pkcs11:"`},
		{in: "pkcs11:object=a?module-path=/usr/lib/x.so&pin-value=a;b", wantErr: "must be percent-encoded"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePKCS11URI(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrBadURI) {
					t.Fatalf("err = %v, want ErrBadURI containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v (%+v), want %#v", got, *got, tt.want)
			}
		})
	}
}

func TestPKCS11URIStringHidesPIN(t *testing.T) {
	const pin = "s3cr3t-PIN-4711"
	u, err := ParsePKCS11URI("pkcs11:token=T;object=k;id=%01%02?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=" + pin)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("opened", "uri", u, "pin", u.PINValue)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("opened", "uri", u, "pin", u.PINValue)
	outputs := map[string]string{
		"String":  u.String(),
		"%v":      fmt.Sprintf("%v", u),
		"%+v":     fmt.Sprintf("%+v", *u),
		"%#v":     fmt.Sprintf("%#v", u),
		"%#v val": fmt.Sprintf("%#v", *u),
		"%s pin":  fmt.Sprintf("%s %q %x", u.PINValue, u.PINValue, u.PINValue),
		"slog":    logs.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, pin) {
			t.Errorf("%s shows the PIN: %s", name, out)
		}
	}
	if want := "pkcs11:token=T;object=k;id=%01%02?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=***"; u.String() != want {
		t.Errorf("String() = %q, want %q", u.String(), want)
	}
}

func TestPINSource(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "pin")
	if err := os.WriteFile(f, []byte("1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{f, "file:" + f, "file://" + f} {
		u, err := ParsePKCS11URI("pkcs11:token=T?pin-source=" + src)
		if err != nil {
			t.Fatal(err)
		}
		pin, err := u.pin()
		if err != nil || pin.Reveal() != "1234" {
			t.Errorf("pin-source %s: pin %v, err %v", src, pin.Reveal() == "1234", err)
		}
	}
}

func TestParseSoftKeyURI(t *testing.T) {
	tests := []struct {
		in      string
		want    *SoftKeyURI
		wantErr string
	}{
		{in: "softkey:path=/etc/kyso/demo.p12?pin-value=1234", want: &SoftKeyURI{Path: "/etc/kyso/demo.p12", PINValue: NewSecret("1234")}},
		{in: "softkey:path=/k/key.pem;cert=/k/chain%20v1.pem", want: &SoftKeyURI{Path: "/k/key.pem", Cert: "/k/chain v1.pem"}},
		{in: "softkey:cert=/k/c.pem", wantErr: "needs path=FILE"},
		{in: "softkey:path=/k;object=x", wantErr: `unknown path attribute "object"`},
	}
	for _, tt := range tests {
		got, err := ParseSoftKeyURI(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %#v", tt.in, got)
		}
		back, err := ParseSoftKeyURI(strings.Replace(got.String(), "***", got.PINValue.Reveal(), 1))
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("%s: round trip gave %#v, %v", tt.in, back, err)
		}
	}
}

// FuzzParsePKCS11URI checks that the parser never panics and that whatever it accepts
// survives formatting (with the PIN) and parsing again unchanged.
func FuzzParsePKCS11URI(f *testing.F) {
	for _, s := range rfc7512Examples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParsePKCS11URI(s)
		if err != nil {
			return
		}
		again, err := ParsePKCS11URI(u.format(true))
		if err != nil {
			t.Fatalf("%q formatted as %q does not parse: %v", s, u.format(true), err)
		}
		if !reflect.DeepEqual(u, again) {
			t.Fatalf("%q: round trip changed %#v into %#v", s, u, again)
		}
		if !u.PINValue.IsZero() && strings.Contains(u.String(), "pin-value="+percentEncode(u.PINValue.Reveal(), isQueryChar)) && u.PINValue.Reveal() != redacted {
			t.Fatalf("String() shows the PIN: %s", u.String())
		}
	})
}

// FuzzParseSoftKeyURI holds the softkey: parser to the same round-trip property.
func FuzzParseSoftKeyURI(f *testing.F) {
	for _, s := range []string{
		"softkey:path=/etc/kyso/demo.p12?pin-value=1234",
		"softkey:path=/k/key.pem;cert=/k/chain%20v1.pem",
		"softkey:path=key.pem?pin-source=file:/run/pin",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseSoftKeyURI(s)
		if err != nil {
			return
		}
		withPIN := u.String()
		if !u.PINValue.IsZero() {
			withPIN = strings.Replace(withPIN, "pin-value="+redacted, "pin-value="+percentEncode(u.PINValue.Reveal(), isQueryChar), 1)
		}
		again, err := ParseSoftKeyURI(withPIN)
		if err != nil || !reflect.DeepEqual(u, again) {
			t.Fatalf("%q: round trip gave %#v, %v", s, again, err)
		}
	})
}
