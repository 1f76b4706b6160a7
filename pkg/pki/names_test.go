package pki_test

import (
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
)

// The test PKI's leader carries "CCCD:…" in a UID and the organisation an
// organizationIdentifier: both are spelled by name and decoded, never shown as hex.
func TestDisplayNameAndIdentifiers(t *testing.T) {
	p := testpki.Committed(t)
	leader := pki.DisplayName(p.Leader.Cert.Subject)
	org := pki.DisplayName(p.Org.Cert.Subject)
	for _, s := range []string{leader, org} {
		if strings.Contains(s, "#") || strings.Contains(s, "2.5.4.97") || strings.Contains(s, "0.9.2342") {
			t.Errorf("hex or OIDs in %q", s)
		}
	}
	if !strings.HasPrefix(leader, "CN=") || !strings.Contains(leader, "UID=CCCD:") || !strings.Contains(leader, "ST=Ninh Thuận") {
		t.Errorf("leader: %q", leader)
	}
	if !strings.Contains(org, "organizationIdentifier=") {
		t.Errorf("organisation: %q", org)
	}
	ids := pki.Identifiers(p.Leader.Cert.Subject)
	if len(ids) != 1 || ids[0].Kind != "CCCD" || ids[0].LabelVI != "Căn cước công dân" || strings.Contains(ids[0].Value, ":") || ids[0].Value == "" {
		t.Errorf("leader identifiers %+v", ids)
	}
	if ids := pki.Identifiers(p.Org.Cert.Subject); len(ids) == 0 {
		t.Errorf("organisation identifiers: none (subject %s)", org)
	} else {
		t.Logf("organisation: %s; identifiers %+v", org, ids)
	}
}
