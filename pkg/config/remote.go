package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Remote is remote signing: keys that live on a holder's SIM card (ETSI TS 102 204) or
// with a cloud signing service (CSC API), where the holder confirms each signature.
type Remote struct {
	Providers []RemoteProvider `yaml:"providers"`
	// PollInterval is the first wait before asking a provider about a ticket.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Timeout is how long the holder has to answer; the SIM PKI allows 300 s.
	Timeout time.Duration `yaml:"timeout"`
}

// RemoteProvider is one named remote-signing service. Secrets are read from files only,
// so that they stay out of a configuration that is copied and logged.
type RemoteProvider struct {
	Name string `yaml:"name"`
	// Kind is "mss" (ETSI TS 102 204) or "csc" (Cloud Signature Consortium API v2).
	Kind string `yaml:"kind"`

	URL              string `yaml:"url"`
	APID             string `yaml:"ap_id"`
	APPasswordFile   string `yaml:"ap_password_file"`
	MSSPID           string `yaml:"mssp_id"`
	SignatureProfile string `yaml:"signature_profile"`
	ClientCertFile   string `yaml:"client_certificate_file"`
	ClientKeyFile    string `yaml:"client_key_file"`
	ServerCAFile     string `yaml:"server_ca_file"`

	BaseURL          string `yaml:"base_url"`
	ClientID         string `yaml:"client_id"`
	ClientSecretFile string `yaml:"client_secret_file"`
}

func defaultRemote() Remote {
	return Remote{PollInterval: 2 * time.Second, Timeout: 300 * time.Second}
}

func (c *Config) validateRemote(v *validator) {
	r := c.Remote
	v.duration("remote.poll_interval", r.PollInterval)
	v.duration("remote.timeout", r.Timeout)
	// A waiting signature is a pending one: it must outlive the holder's answer time.
	if len(r.Providers) > 0 && r.Timeout > 0 && c.Signatures.PendingExpiry > 0 && r.Timeout >= c.Signatures.PendingExpiry {
		v.add("remote.timeout", "%v must be shorter than signatures.pending_expiry (%v), or a waiting signature expires before the holder answers",
			r.Timeout, c.Signatures.PendingExpiry)
	}
	seen := map[string]int{}
	for i, p := range r.Providers {
		at := func(field string) string { return fmt.Sprintf("remote.providers[%d].%s", i, field) }
		if !keyName.MatchString(p.Name) {
			v.add(at("name"), "%q must be 1-64 letters, digits, '.', '_' or '-'", p.Name)
		} else if j, dup := seen[p.Name]; dup {
			v.add(at("name"), "%q is already the name of remote.providers[%d]", p.Name, j)
		} else {
			seen[p.Name] = i
		}
		required := func(field, val string) {
			if strings.TrimSpace(val) == "" {
				v.add(at(field), "is required for kind %s", p.Kind)
			}
		}
		httpURL := func(field, val string) {
			if u, err := url.Parse(val); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.add(at(field), "%q is not an http or https URL", val)
			}
		}
		switch p.Kind {
		case "mss":
			httpURL("url", p.URL)
			required("ap_id", p.APID)
			required("ap_password_file", p.APPasswordFile)
			if (p.ClientCertFile == "") != (p.ClientKeyFile == "") {
				v.add(at("client_key_file"), "client_certificate_file and client_key_file go together")
			}
		case "csc":
			httpURL("base_url", p.BaseURL)
			required("client_id", p.ClientID)
			required("client_secret_file", p.ClientSecretFile)
		default:
			v.add(at("kind"), "%q is not mss or csc", p.Kind)
		}
	}
}
