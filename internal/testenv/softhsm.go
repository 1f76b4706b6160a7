package testenv

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// SoftHSMModule is where Debian's softhsm2 package puts the PKCS#11 module.
const SoftHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// SoftHSM is a SoftHSM2 token made for one test in its own token directory.
//
// NewSoftHSM sets SOFTHSM2_CONF with t.Setenv, so a test using it cannot call
// t.Parallel; SoftHSM2 reads the variable when the module is initialised, so close
// every key of the previous token's module before making the next token.
type SoftHSM struct {
	Module string // the PKCS#11 module path
	Label  string // the token label
	PIN    string // the user PIN
	SOPIN  string // the security officer PIN
	Dir    string // the token directory
	Conf   string // the softhsm2.conf file (SOFTHSM2_CONF)
}

// NewSoftHSM makes a fresh token labelled label with user PIN pin (the SO PIN is
// "so-"+pin). It fails the test naming the Debian package when softhsm2 is missing.
func NewSoftHSM(t testing.TB, label, pin string) *SoftHSM {
	t.Helper()
	External(t, "SoftHSM2")
	if _, err := os.Stat(SoftHSMModule); err != nil {
		t.Fatalf("%s not found: install the Debian package \"softhsm2\" (make deps does)", SoftHSMModule)
	}
	Tool(t, "softhsm2-util", "softhsm2")
	base := t.TempDir()
	s := &SoftHSM{
		Module: SoftHSMModule, Label: label, PIN: pin, SOPIN: "so-" + pin,
		Dir: filepath.Join(base, "tokens"), Conf: filepath.Join(base, "softhsm2.conf"),
	}
	if err := os.Mkdir(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", s.Dir)
	if err := os.WriteFile(s.Conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", s.Conf)
	s.InitToken(t)
	return s
}

// InitToken initialises a token with the SoftHSM's label and PINs in the first free
// slot; after DeleteToken it makes the token again (with a new serial, and empty).
func (s *SoftHSM) InitToken(t testing.TB) {
	t.Helper()
	s.Util(t, "--init-token", "--free", "--label", s.Label, "--pin", s.PIN, "--so-pin", s.SOPIN)
}

// DeleteToken deletes the token and all it holds, as pulling a USB token out would
// take it away from the process.
func (s *SoftHSM) DeleteToken(t testing.TB) {
	t.Helper()
	s.Util(t, "--delete-token", "--token", s.Label)
}

// URI names the object labelled object (and id, hex, if not empty) on the token, with
// the module path and the PIN: ready for hsm.Open.
func (s *SoftHSM) URI(object, idHex string) string {
	u := "pkcs11:token=" + escape(s.Label)
	if object != "" {
		u += ";object=" + escape(object)
	}
	if idHex != "" {
		id, err := hex.DecodeString(idHex)
		if err != nil {
			panic("testenv: URI id is not hex: " + idHex)
		}
		u += ";id="
		for _, b := range id {
			u += fmt.Sprintf("%%%02X", b)
		}
	}
	return u + "?module-path=" + s.Module + "&pin-value=" + escape(s.PIN)
}

// escape percent-encodes everything but RFC 3986 unreserved characters, which every
// RFC 7512 attribute accepts.
func escape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// KeyPairGen makes a key pair with pkcs11-tool (Debian opensc), from outside Kyso's
// code. keyType is pkcs11-tool's: "rsa:2048", "rsa:3072", "EC:prime256v1",
// "EC:secp384r1". idHex is the CKA_ID in hex. extra is added to the command line.
func (s *SoftHSM) KeyPairGen(t testing.TB, keyType, label, idHex string, extra ...string) {
	t.Helper()
	args := append([]string{"--keypairgen", "--key-type", keyType, "--label", label, "--id", idHex, "--usage-sign"}, extra...)
	s.Tool(t, args...)
}

// ImportCert writes a DER certificate to the token with pkcs11-tool.
func (s *SoftHSM) ImportCert(t testing.TB, der []byte, label, idHex string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "cert.der")
	if err := os.WriteFile(f, der, 0o600); err != nil {
		t.Fatal(err)
	}
	s.Tool(t, "--write-object", f, "--type", "cert", "--label", label, "--id", idHex)
}

// ImportKey imports a PKCS#8 PEM private key (and its public key) with softhsm2-util;
// importing the same key again after DeleteToken and InitToken gives the same key back.
func (s *SoftHSM) ImportKey(t testing.TB, pkcs8PEM []byte, label, idHex string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(f, pkcs8PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	s.Util(t, "--import", f, "--token", s.Label, "--label", label, "--id", idHex, "--pin", s.PIN)
}

// Tool runs pkcs11-tool logged in to the token and returns its standard output.
func (s *SoftHSM) Tool(t testing.TB, args ...string) string {
	t.Helper()
	tool := Tool(t, "pkcs11-tool", "opensc")
	base := []string{"--module", s.Module, "--token-label", s.Label, "--login", "--pin", s.PIN}
	return run(t, tool, append(base, args...)...)
}

// Util runs softhsm2-util and returns its standard output.
func (s *SoftHSM) Util(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, Tool(t, "softhsm2-util", "softhsm2"), args...)
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		// The arguments hold the PIN: name only the tool and its first argument.
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), args[0], err, out.String(), errOut.String())
	}
	return out.String()
}

// Serial returns the token's serial number as softhsm2-util shows it (a token made
// again gets a new one).
func (s *SoftHSM) Serial(t testing.TB) string {
	t.Helper()
	out := s.Util(t, "--show-slots")
	for _, block := range strings.Split(out, "\nSlot ") {
		var serial, label string
		for _, line := range strings.Split(block, "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok {
				continue
			}
			switch k {
			case "Serial number":
				serial = strings.TrimSpace(v)
			case "Label":
				label = strings.TrimSpace(v)
			}
		}
		if label == s.Label && serial != "" {
			return serial
		}
	}
	t.Fatalf("softhsm2-util --show-slots lists no token %q", s.Label)
	return ""
}
