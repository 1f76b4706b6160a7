package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestAuditChainNamesTamperedRow(t *testing.T) {
	tests := []struct {
		name    string
		tamper  string // raw SQL an intruder runs
		firstID int64
		kind    string
	}{
		{"detail edited", "UPDATE audit_events SET detail = '{\"n\":99}' WHERE id = 4", 4, "audit_edited"},
		{"actor edited", "UPDATE audit_events SET actor = 'someone else' WHERE id = 7", 7, "audit_edited"},
		{"document hash edited", "UPDATE audit_events SET document_hash = 'ff' WHERE id = 1", 1, "audit_edited"},
		{"row deleted", "DELETE FROM audit_events WHERE id = 5", 5, "audit_missing"},
		{"first row deleted", "DELETE FROM audit_events WHERE id = 1", 1, "audit_missing"},
		{"last row deleted", "DELETE FROM audit_events WHERE id = 10", 10, "audit_truncated"},
		{"row re-hashed after edit", "UPDATE audit_events SET actor = 'x', hash = '" + strings.Repeat("0", 64) + "' WHERE id = 6", 6, "audit_edited"},
	}
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := cfg
				if c.Driver == DriverSQLite {
					c = backends[0].cfg(t) // a fresh file per case
				} else {
					c.DSN = freshPostgres(t)
				}
				s := openStore(t, c, newClock(t0))
				ctx := context.Background()
				for i := 1; i <= 10; i++ {
					if _, err := s.Audit(ctx, Event{Actor: "clerk", Action: ActionSign, DocumentHash: sha(fmt.Sprint(i)),
						KeyURI: "pkcs11:token=org", Detail: map[string]any{"n": i}}); err != nil {
						t.Fatal(err)
					}
				}
				rep, err := s.Check(ctx)
				if err != nil || !rep.OK() || rep.AuditEvents != 10 {
					t.Fatalf("clean trail: %+v %v", rep, err)
				}
				if err := s.DB().Exec(tt.tamper).Error; err != nil {
					t.Fatal(err)
				}
				rep, err = s.Check(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if rep.OK() || rep.FirstBadAudit != tt.firstID || rep.Problems[0].Kind != tt.kind {
					t.Fatalf("after %q: first bad %d problems %v; want %d %s", tt.tamper, rep.FirstBadAudit, rep.Problems, tt.firstID, tt.kind)
				}
				if !strings.Contains(rep.Problems[0].Detail, fmt.Sprint(tt.firstID)) {
					t.Errorf("problem %q does not name event %d", rep.Problems[0].Detail, tt.firstID)
				}
			})
		}
	})
}

// freshPostgres gives a table-driven case its own database on the shared server.
func freshPostgres(t *testing.T) string { return backends[1].cfg(t).DSN }

func TestAuditConcurrentAppendsFormOneChain(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		// Two Store values stand in for two replicas.
		a, b := openStore(t, cfg, nil), openStore(t, cfg, nil)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := a
				if i%2 == 1 {
					s = b
				}
				for j := range 10 {
					if _, err := s.Audit(ctx, Event{Actor: fmt.Sprint("w", i), Action: ActionDownload, Detail: map[string]any{"j": j}}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		rep, err := a.Check(ctx)
		if err != nil || !rep.OK() || rep.AuditEvents != 160 {
			t.Fatalf("check: %+v %v", rep, err)
		}
	})
}

func TestAuditDetailIsCanonical(t *testing.T) {
	for _, tt := range []struct {
		in   any
		want string
	}{
		{nil, "{}"},
		{`{"b":1, "a":[true,null]}`, `{"a":[true,null],"b":1}`},
		{map[string]any{"z": "Đ", "a": json.Number("12345678901234567890")}, `{"a":12345678901234567890,"z":"Đ"}`},
	} {
		got, err := canonicalJSON(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("canonicalJSON(%v) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	if _, err := canonicalJSON(`{"a":1} {}`); err == nil {
		t.Error("trailing data accepted")
	}
}

// TestKilledWhileStoring kills a child process with SIGKILL while it stores 500
// documents, then checks the store: every committed document has its content, and the
// audit chain is whole.
func TestKilledWhileStoring(t *testing.T) {
	eachBackend(t, true, func(t *testing.T, cfg Config) {
		// Schema first, so the child spends its time storing.
		openStore(t, cfg, nil).Close()
		cmd := childCmd(t, "store500", cfg)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := readLines(out)
		seen := 0
		deadline := time.After(120 * time.Second)
	wait:
		for seen < 40 {
			select {
			case l, ok := <-lines:
				if !ok {
					break wait
				}
				if strings.HasPrefix(l, "stored ") {
					seen++
				}
			case <-deadline:
				t.Fatal("child stored too slowly")
			}
		}
		// Kill at a moment that falls inside the next document's write.
		time.Sleep(time.Duration(time.Now().UnixNano()%7) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if seen < 40 {
			t.Fatalf("child ended after %d documents without being killed", seen)
		}

		s := openStore(t, cfg, nil)
		rep, err := s.Check(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatalf("store not clean after SIGKILL: %v", rep.Problems)
		}
		if rep.Documents < int64(seen) || rep.Documents >= 500 || rep.Versions != rep.Documents {
			t.Fatalf("documents %d versions %d after %d reported stored", rep.Documents, rep.Versions, seen)
		}
		// Every document is whole: one create/receive event each, arrival numbers 1…n.
		if rep.AuditEvents != rep.Documents {
			t.Errorf("audit events %d for %d documents", rep.AuditEvents, rep.Documents)
		}
		docs, err := s.Search(context.Background(), Query{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var nums []int
		for _, d := range docs {
			nums = append(nums, *d.RegNumber)
		}
		assertSequence(t, nums, int(rep.Documents))
		t.Logf("killed after %d reported documents: %d stored, %d orphan blobs/temp files", seen, rep.Documents, len(rep.OrphanBlobs))
	})
}

// TestAuditTwoProcesses appends from two OS processes of 8 goroutines each, released
// together: the trail must be one unbroken chain of 400 events.
func TestAuditTwoProcesses(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		s := openStore(t, cfg, nil)
		goFile := filepath.Join(t.TempDir(), "go")
		done := make(chan error, 2)
		ready := make(chan struct{}, 2)
		for range 2 {
			cmd := childCmd(t, "audit", cfg, "KYSO_STORE_GO="+goFile)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := readLines(out)
			go func() {
				for l := range lines {
					if l == "ready" {
						ready <- struct{}{}
					}
				}
				done <- cmd.Wait()
			}()
		}
		for range 2 {
			select {
			case <-ready:
			case <-time.After(60 * time.Second):
				t.Fatal("children did not get ready")
			}
		}
		if err := os.WriteFile(goFile, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		rep, err := s.Check(context.Background())
		if err != nil || !rep.OK() || rep.AuditEvents != 400 {
			t.Fatalf("check: %+v %v", rep, err)
		}
	})
}
