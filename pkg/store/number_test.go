package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
)

func TestMigrationsRunOnceAndConcurrently(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		// Four replicas starting together on an empty database.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := Open(ctx, cfg)
				if err == nil {
					s.Close()
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		s := openStore(t, cfg, nil)
		var rows []struct {
			Version int
			Name    string
		}
		if err := s.DB().Raw("SELECT version, name FROM schema_migrations ORDER BY version").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(migrations) || rows[len(rows)-1].Version != SchemaVersion() {
			t.Fatalf("schema_migrations = %+v, want %d rows up to %d", rows, len(migrations), SchemaVersion())
		}
		// A database from a newer build is refused rather than misread.
		if err := s.DB().Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', ?)", SchemaVersion()+1, time.Now()).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := Open(ctx, cfg); err == nil {
			t.Fatal("Open accepted a schema newer than the build")
		}
	})
}

func TestNumberingYearRollsOverAtVietnamMidnight(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, nil)
		reg, err := s.Register(ctx, "000.00.00.H43", Outgoing, "")
		if err != nil {
			t.Fatal(err)
		}
		vn := docid.Vietnam
		lastSecond := time.Date(2020, 12, 31, 23, 59, 59, 0, vn)
		midnight := time.Date(2021, 1, 1, 0, 0, 0, 0, vn)
		if midnight.UTC().Day() != 31 {
			t.Fatal("the test needs midnight in Vietnam to be 31 December in UTC")
		}
		steps := []struct {
			at   time.Time
			want int
		}{
			{lastSecond.Add(-time.Hour), 1},
			{lastSecond, 2},
			{midnight, 1}, // still 31 December 17:00 in UTC, but a new year in Vietnam
			{midnight.UTC(), 2},
			{midnight.Add(time.Hour), 3},
			{lastSecond, 3}, // a late 2020 request continues 2020's series
		}
		for i, st := range steps {
			got, err := s.NextNumber(ctx, reg.ID, st.at)
			if err != nil {
				t.Fatal(err)
			}
			if got != st.want {
				t.Errorf("step %d at %s: number %d, want %d", i, st.at, got, st.want)
			}
		}

		// The same through the document workflow with an injected clock: the identifier
		// carries the Vietnam date.
		clock := newClock(lastSecond)
		s2 := openStore(t, cfg, clock)
		ids := []string{}
		for _, at := range []time.Time{lastSecond, midnight} {
			clock.Set(at)
			d := approvedDraft(t, s2, "000.00.00.H41", "QĐ-UBND")
			d, err := s2.AssignNumber(ctx, d.ID, clock.Now(), "clerk")
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, *d.Identifier)
		}
		want := []string{"000.00.00.H41,2020/12/31,01/QĐ-UBND", "000.00.00.H41,2021/01/01,01/QĐ-UBND"}
		if ids[0] != want[0] || ids[1] != want[1] {
			t.Errorf("identifiers %q, want %q", ids, want)
		}
	})
}

func TestNumberingConcurrentGoroutines(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		s := openStore(t, cfg, nil)
		reg, err := s.Register(context.Background(), "000.00.00.H43", Outgoing, "")
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var got []int
		if err := takeNumbers(context.Background(), s, reg.ID, 200, 16, func(n int) {
			mu.Lock()
			got = append(got, n)
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
		assertSequence(t, got, 200)
	})
}

// TestNumberingTwoProcesses draws 1,000 numbers from one register in two OS processes
// of 16 goroutines each, released together, and wants exactly 1…1000.
func TestNumberingTwoProcesses(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		s := openStore(t, cfg, nil)
		reg, err := s.Register(context.Background(), "000.00.00.H43", Outgoing, "")
		if err != nil {
			t.Fatal(err)
		}
		goFile := filepath.Join(t.TempDir(), "go")
		type result struct {
			nums []int
			err  error
		}
		results := make(chan result, 2)
		ready := make(chan struct{}, 2)
		for range 2 {
			cmd := childCmd(t, "number", cfg, "KYSO_STORE_REG="+strconv.FormatInt(reg.ID, 10), "KYSO_STORE_COUNT=500", "KYSO_STORE_GO="+goFile)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := readLines(out)
			go func() {
				var r result
				for l := range lines {
					if l == "ready" {
						ready <- struct{}{}
						continue
					}
					n, err := strconv.Atoi(l)
					if err != nil {
						r.err = err
					}
					r.nums = append(r.nums, n)
				}
				if err := cmd.Wait(); err != nil && r.err == nil {
					r.err = err
				}
				results <- r
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
		var all []int
		for range 2 {
			r := <-results
			if r.err != nil {
				t.Fatal(r.err)
			}
			if len(r.nums) != 500 {
				t.Fatalf("a child drew %d numbers, want 500", len(r.nums))
			}
			all = append(all, r.nums...)
		}
		assertSequence(t, all, 1000)
		if last, _ := s.LastNumber(context.Background(), reg.ID, 2021); last != 1000 {
			t.Errorf("LastNumber = %d, want 1000", last)
		}
	})
}

func assertSequence(t *testing.T, got []int, n int) {
	t.Helper()
	sort.Ints(got)
	if len(got) != n {
		t.Fatalf("%d numbers, want %d", len(got), n)
	}
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("numbers[%d] = %d, want %d (duplicate or gap)", i, v, i+1)
		}
	}
}

func TestRegisterValidation(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		s := openStore(t, cfg, nil)
		ctx := context.Background()
		if _, err := s.Register(ctx, "000.00.00.h43", Outgoing, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("lower-case agency code: %v, want ErrInvalid", err)
		}
		if _, err := s.Register(ctx, "000.00.00.H43", "sideways", ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad kind: %v, want ErrInvalid", err)
		}
		a, _ := s.Register(ctx, "000.00.00.H43", Outgoing, "")
		b, _ := s.Register(ctx, "000.00.00.H43", Outgoing, "mật")
		c, _ := s.Register(ctx, "000.00.00.H43", Outgoing, "")
		if a.ID != c.ID || a.ID == b.ID {
			t.Errorf("register ids %d %d %d: the main register must be one row, a series another", a.ID, b.ID, c.ID)
		}
		at := time.Date(2021, 5, 1, 0, 0, 0, 0, docid.Vietnam)
		for _, want := range []int{1, 2} {
			if n, _ := s.NextNumber(ctx, a.ID, at); n != want {
				t.Errorf("main register: %d, want %d", n, want)
			}
		}
		if n, _ := s.NextNumber(ctx, b.ID, at); n != 1 {
			t.Errorf("separate series: %d, want 1", n)
		}
	})
}

// TestAssignNumberOncePerDocument presses "issue" eight times at once on one document:
// it gets one number, and the register no gap.
func TestAssignNumberOncePerDocument(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, newClock(t0))
		d := approvedDraft(t, s, "000.00.00.H43", "QĐ-UBND")
		var wg sync.WaitGroup
		nums := make([]int, 8)
		errs := make([]error, 8)
		for i := range nums {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.AssignNumber(ctx, d.ID, t0, "clerk")
				errs[i] = err
				if err == nil {
					nums[i] = got.Number
				}
			}()
		}
		wg.Wait()
		for i := range nums {
			if errs[i] != nil || nums[i] != 1 {
				t.Fatalf("call %d: number %d, %v; want 1", i, nums[i], errs[i])
			}
		}
		reg, _ := s.Register(ctx, "000.00.00.H43", Outgoing, "")
		if last, _ := s.LastNumber(ctx, reg.ID, 2021); last != 1 {
			t.Errorf("register's last number %d, want 1 (no number lost)", last)
		}
		next := approvedDraft(t, s, "000.00.00.H43", "QĐ-UBND")
		if got, err := s.AssignNumber(ctx, next.ID, t0, "clerk"); err != nil || got.Number != 2 {
			t.Errorf("next document: %v %v, want 2", got, err)
		}
	})
}

// TestMigrationUpgradesOldStore opens a store made by a build that knew only the first
// migration: the second one runs at start and fills the new column for old rows.
func TestMigrationUpgradesOldStore(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		all := migrations
		migrations = all[:1]
		old, err := Open(ctx, cfg)
		if err != nil {
			migrations = all
			t.Fatal(err)
		}
		err = old.DB().Exec(`INSERT INTO documents (direction, status, summary, agency_code, holder_code, created_at, updated_at)
			VALUES ('incoming', 'received', 'Giấy mời họp', '000.00.00.G22', '000.00.00.H43', ?, ?)`, t0, t0).Error
		old.Close()
		migrations = all
		if err != nil {
			t.Fatal(err)
		}
		s := openStore(t, cfg, nil)
		var versions []int
		s.DB().Raw("SELECT version FROM schema_migrations ORDER BY version").Scan(&versions)
		if len(versions) != len(all) || versions[len(versions)-1] != SchemaVersion() {
			t.Fatalf("applied %v, want 1…%d", versions, SchemaVersion())
		}
		got, err := s.Search(ctx, Query{Text: "giay moi"})
		if err != nil || len(got) != 1 || got[0].SummaryFold != "giay moi hop" {
			t.Fatalf("old row after upgrade: %+v %v", got, err)
		}
	})
}
