package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/pkg/docid"
)

// TestMigration3: a store of schema 2 with two clients of one name, a grant naming
// them by name and a document is upgraded: the names become unique (the younger
// renamed), the grant names both clients by id, and the document is sealed into the
// audit chain so that Check holds its row from then on.
func TestMigration3(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, newClock(t0))
		if _, err := s.CreateDocument(ctx, NewDocument{Direction: Outgoing, AgencyCode: "000.00.00.H43", Content: strings.NewReader("old"), Actor: "old"}); err != nil {
			t.Fatal(err)
		}
		k, err := s.CreateKey(ctx, SigningKey{URI: "pkcs11:token=org", Label: "org"}, "admin")
		if err != nil {
			t.Fatal(err)
		}
		// Back to schema 2, as an older build left it.
		for _, q := range []string{
			"DROP INDEX api_clients_name", "DROP TABLE client_certificates",
			"ALTER TABLE api_clients DROP COLUMN agencies", "ALTER TABLE api_clients DROP COLUMN clearance",
			"DELETE FROM audit_events", "UPDATE audit_head SET last_id = 0, last_hash = '' WHERE id = 1",
			"INSERT INTO api_clients (name, principal, key_hash, created_at) VALUES ('qlvb', 'system', '" + strings.Repeat("a", 64) + "', '2021-01-01 00:00:00')",
			"INSERT INTO api_clients (name, principal, key_hash, created_at) VALUES ('qlvb', 'system', '" + strings.Repeat("b", 64) + "', '2021-01-01 00:00:00')",
			"INSERT INTO key_grants (key_id, principal, created_at) VALUES (" + i64(k.ID) + ", 'qlvb', '2021-01-01 00:00:00')",
			"DELETE FROM schema_migrations WHERE version = 3", // only step 3 is undone above
		} {
			if err := s.DB().Exec(q).Error; err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		s.Close()
		s = openStore(t, cfg, newClock(t0))
		var names []string
		if err := s.DB().Raw("SELECT name FROM api_clients ORDER BY id").Scan(&names).Error; err != nil {
			t.Fatal(err)
		}
		if len(names) != 2 || names[0] != "qlvb" || !strings.HasPrefix(names[1], "qlvb #") {
			t.Errorf("names after the upgrade: %v", names)
		}
		grants, err := s.KeyGrants(ctx, k.ID)
		if err != nil || len(grants) != 2 || strings.Contains(strings.Join(grants, ","), "qlvb") {
			t.Errorf("grants after the upgrade: %v %v, want the two ids", grants, err)
		}
		if _, err := s.CreateClient(ctx, "qlvb", "system", [32]byte{1}, "admin"); !errors.Is(err, ErrConflict) {
			t.Errorf("a third qlvb: %v, want ErrConflict", err)
		}
		if rep, err := s.Check(ctx); err != nil || !rep.OK() {
			t.Fatalf("check after the upgrade: %v %v", rep.Problems, err)
		}
		if err := s.DB().Exec("UPDATE documents SET status = 'issued'").Error; err != nil {
			t.Fatal(err)
		}
		if rep, _ := s.Check(ctx); !hasProblem(rep, "row_changed") {
			t.Errorf("the sealed row changed and Check says %v", rep.Problems)
		}
	})
}

// TestSearchVisibility: a search returns only what the visibility admits, by agency
// and by confidentiality, and the summary of the rest is not searchable.
func TestSearchVisibility(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, newClock(t0))
		mk := func(agency string, c Confidentiality) int64 {
			d, err := s.CreateDocument(ctx, NewDocument{Direction: Outgoing, AgencyCode: docid.AgencyCode(agency), Summary: "bí mật " + string(c),
				Confidentiality: c, Content: strings.NewReader(agency + string(c)), Actor: "x"})
			if err != nil {
				t.Fatal(err)
			}
			return d.ID
		}
		a, aSecret, b := mk("000.00.00.H43", Unclassified), mk("000.00.00.H43", Secret), mk("000.00.00.G22", Unclassified)
		for _, c := range []struct {
			name string
			v    *Visibility
			want []int64
		}{
			{"agency A, unclassified", &Visibility{Agencies: []string{"000.00.00.H43"}}, []int64{a}},
			{"agency A, secret", &Visibility{Agencies: []string{"000.00.00.H43"}, Clearance: Secret}, []int64{aSecret, a}},
			{"agency B, top secret", &Visibility{Agencies: []string{"000.00.00.G22"}, Clearance: TopSecret}, []int64{b}},
			{"no agency", &Visibility{Clearance: TopSecret}, nil},
			{"all", &Visibility{All: true, Clearance: TopSecret}, []int64{b, aSecret, a}},
		} {
			docs, err := s.Search(ctx, Query{Visible: c.v, Text: "bi mat"})
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, d := range docs {
				got = append(got, d.ID)
			}
			if len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
	})
}
