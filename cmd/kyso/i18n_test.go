package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/store"
)

// TestCatalogComplete fails when a key of the catalog lacks a text in one of the
// languages, when a refusal's kind, a statistics label or a status has no key, and
// when a help key names no command.
func TestCatalogComplete(t *testing.T) {
	keys := map[string]bool{}
	for _, l := range langs {
		for k := range catalog[l] {
			keys[k] = true
		}
	}
	for k := range keys {
		for _, l := range langs {
			if strings.TrimSpace(catalog[l][k]) == "" {
				t.Errorf("key %q has no %s text", k, l)
			}
		}
	}
	var need []string
	for _, k := range fault.Kinds() {
		need = append(need, "fault."+k.String())
	}
	for _, k := range store.SignatureKinds {
		need = append(need, "sig."+string(k))
	}
	for _, k := range store.KeyKinds {
		need = append(need, "key."+string(k))
	}
	for _, c := range store.CertCategories {
		need = append(need, "cert."+string(c))
	}
	for _, s := range []store.Status{store.StatusDraft, store.StatusApproved, store.StatusIssued, store.StatusReceived} {
		need = append(need, "status."+string(s))
	}
	for _, d := range []store.Direction{store.Outgoing, store.Incoming} {
		need = append(need, "direction."+string(d), "registers.title."+string(d), "registers.col."+string(d))
	}
	for _, k := range need {
		if !keys[k] {
			t.Errorf("no catalog key %q", k)
		}
	}
	paths := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		paths[c.CommandPath()] = true
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRootCmd())
	for k := range keys {
		if p, ok := strings.CutPrefix(k, "help."); ok && !paths[p] {
			t.Errorf("help key %q names no command", k)
		}
	}
	for _, p := range []string{"kyso", "kyso sign", "kyso verify", "kyso docs", "kyso stats", "kyso registers", "kyso serve"} {
		if !keys["help."+p] {
			t.Errorf("main command %q has no help in the catalog", p)
		}
	}
}

// TestLanguage: Vietnamese by default (also under LANG=C.UTF-8), English with --lang en
// or an English locale; dates dd/MM/yyyy in Vietnamese, the help and the refusal
// headlines in the chosen language, and a language the catalog lacks refused.
func TestLanguage(t *testing.T) {
	dir := t.TempDir()
	data := []string{"--data-dir", filepath.Join(dir, "data")}
	stats := append([]string{"stats", "--from", "2026-03-01", "--to", "2026-03-31"}, data...)
	for _, c := range []struct {
		name          string
		env           map[string]string
		args          []string
		want, notWant []string
	}{
		{"default", map[string]string{"LANG": "C.UTF-8"}, nil,
			[]string{"Kỳ báo cáo: 01/03/2026 – 31/03/2026", "Văn bản đến", "Chữ ký số", "còn hiệu lực trong kỳ", "tổ chức"}, []string{"incoming", "2026-03-01"}},
		{"no locale at all", map[string]string{}, nil, []string{"Văn bản đến"}, []string{"incoming"}},
		{"--lang en", map[string]string{"LANG": "vi_VN.UTF-8"}, []string{"--lang", "en"},
			[]string{"Period: 2026-03-01 – 2026-03-31", "incoming", "signatures", "in force in the period"}, []string{"Văn bản"}},
		{"LANG=en_US", map[string]string{"LANG": "en_US.UTF-8"}, nil, []string{"incoming"}, []string{"Văn bản"}},
		{"LC_ALL wins over LANG", map[string]string{"LANG": "en_US.UTF-8", "LC_ALL": "vi_VN.UTF-8"}, nil, []string{"Văn bản đến"}, nil},
		{"--lang vi over LANG=en", map[string]string{"LANG": "en_GB.UTF-8"}, []string{"--lang", "vi"}, []string{"Văn bản đến"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{"KYSO_LANG", "LC_ALL", "LC_MESSAGES", "LANG"} {
				t.Setenv(k, c.env[k])
			}
			out, errOut, err := runKyso(t, append(stats, c.args...)...)
			if err != nil {
				t.Fatalf("%v %s", err, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("lacks %q:\n%s", w, out)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(out, w) {
					t.Errorf("has %q:\n%s", w, out)
				}
			}
		})
	}
	t.Setenv("KYSO_LANG", "")
	t.Setenv("LC_ALL", "")
	t.Setenv("LANG", "C.UTF-8")
	// Help: the catalog's text and the Vietnamese headings; in English, cobra's own.
	out, _, err := runKyso(t, "stats", "--help")
	if err != nil || !strings.Contains(out, "Số liệu báo cáo hằng năm của tỉnh") || !strings.Contains(out, "Cách dùng:") || !strings.Contains(out, "Tham số:") {
		t.Errorf("kyso stats --help in Vietnamese:\n%s %v", out, err)
	}
	out, _, err = runKyso(t, "--help")
	if err != nil || !strings.Contains(out, catalog[langVI]["help.kyso registers"]) || !strings.Contains(out, "Các lệnh:") {
		t.Errorf("kyso --help in Vietnamese:\n%s %v", out, err)
	}
	out, _, err = runKyso(t, "--lang", "en", "--help")
	if err != nil || !strings.Contains(out, catalog[langEN]["help.kyso registers"]) || !strings.Contains(out, "Available Commands:") {
		t.Errorf("kyso --lang en --help:\n%s %v", out, err)
	}
	out, _, err = runKyso(t, "sign", "--help")
	if err != nil || !strings.Contains(out, catalog[langVI]["help.kyso sign"]+".") || !strings.Contains(out, "Cách dùng:") {
		t.Errorf("kyso sign --help in Vietnamese (the catalog's line, then the details):\n%s %v", out, err)
	}
	// A refusal: the headline of its kind in the language, the detail after it.
	_, _, err = runKyso(t, append([]string{"docs", "get", "99"}, data...)...)
	for l, want := range map[lang]string{langVI: "kyso: không tìm thấy: no document 99\n", langEN: "kyso: not found: no document 99\n"} {
		var buf bytes.Buffer
		if code := report(&buf, l, err); code != 1 || buf.String() != want {
			t.Errorf("%s: %d %q, want %q", l, code, buf.String(), want)
		}
	}
	root := newRootCmd()
	root.SetArgs(append([]string{"--lang", "en", "docs", "get", "99"}, data...))
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	if err := root.Execute(); err == nil || langOf(root) != langEN {
		t.Errorf("langOf after --lang en: %s (%v)", langOf(root), err)
	}
	// A language the catalog lacks is a usage error.
	if code, msg := kysoExit(t, append([]string{"stats", "--lang", "fr"}, data...)...); code != 2 || !strings.Contains(msg, "vi") {
		t.Errorf("--lang fr: exit %d %s", code, msg)
	}
}
