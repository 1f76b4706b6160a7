package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"gorm.io/gorm"
)

// The lookup benchmarks run on a store of KYSO_BENCH_DOCS documents (default 20,000).
// bench/store-1m.sh sets 1,000,000 and KYSO_BENCH_DIR, so the filled SQLite file is
// kept and reused between runs.
func benchDocs() int {
	if n, err := strconv.Atoi(os.Getenv("KYSO_BENCH_DOCS")); err == nil && n > 0 {
		return n
	}
	return 20_000
}

// benchAgencies is the province of the seed report: 26 departments and 65 communes.
const benchAgencies = 91

func benchAgency(i int) string { return fmt.Sprintf("000.%02d.%02d.H43", i/100, i%100) }

// seedDocuments writes n document rows with multi-row INSERTs, with the secondary
// indexes dropped during the fill and rebuilt after it, as a bulk loader would: the
// lookup benchmarks measure reads, and going through CreateDocument (fsyncs per
// document) would take hours for a million rows. BenchmarkImport measures that path.
// Documents are spread over the agencies' incoming and outgoing registers and ten years,
// numbered 1… per register and year as the real numbering does.
func seedDocuments(tb testing.TB, s *Store, n int) {
	tb.Helper()
	ctx := context.Background()
	var have int64
	if err := s.DB().Model(&Document{}).Count(&have).Error; err != nil {
		tb.Fatal(err)
	}
	if have >= int64(n) {
		return
	}
	if have != 0 {
		tb.Fatalf("bench store has %d documents, want 0 or %d: remove it", have, n)
	}
	regs := make([]int64, 0, benchAgencies*2)
	for a := range benchAgencies {
		for _, k := range []Direction{Incoming, Outgoing} {
			r, err := s.Register(ctx, docid.AgencyCode(benchAgency(a)), k, "")
			if err != nil {
				tb.Fatal(err)
			}
			regs = append(regs, r.ID)
		}
	}
	var indexes []string
	for _, stmt := range strings.Split(migrations[0].sql, ";\n") {
		stmt = strings.TrimSpace(stmt)
		if strings.HasPrefix(stmt, "CREATE INDEX documents_") || strings.HasPrefix(stmt, "CREATE UNIQUE INDEX documents_") {
			indexes = append(indexes, stmt)
			name := strings.Fields(strings.TrimPrefix(strings.TrimPrefix(stmt, "CREATE UNIQUE INDEX "), "CREATE INDEX "))[0]
			if err := s.DB().Exec("DROP INDEX " + name).Error; err != nil {
				tb.Fatal(err)
			}
		}
	}
	const (
		cols  = "direction, status, doc_type, summary, summary_fold, agency_code, holder_code, number, symbol, identifier, register_id, year, reg_number, issued_at, current_version, content_sha256, created_at, updated_at"
		ncols = 18
		batch = 500
	)
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", ncols), ", ") + ")"
	next := map[[2]int64]int{}
	now := dbTime(time.Now())
	for done := 0; done < n; {
		err := s.write(ctx, func(tx *gorm.DB) error {
			for range 100 {
				m := min(batch, n-done)
				if m == 0 {
					return nil
				}
				args := make([]any, 0, m*ncols)
				for k := done; k < done+m; k++ {
					ri := k % len(regs)
					reg := regs[ri]
					year := 2015 + (k/len(regs))%10
					key := [2]int64{reg, int64(year)}
					next[key]++
					num := next[key]
					holder := benchAgency(ri / 2)
					// Outgoing: the holder's own documents. Incoming: the Government
					// Office's, numbered here by arrival number for uniqueness.
					dir, status, agency, symbol := Outgoing, StatusIssued, holder, "UBND-VP"
					if ri%2 == 0 {
						dir, status, agency, symbol = Incoming, StatusReceived, "000.00.00.G22", "VPCP-TTĐT"
					}
					issued := time.Date(year, time.Month(1+num%12), 1+num%28, 9, 0, 0, 0, docid.Vietnam)
					ns := docid.NumberSymbol{Number: num, Symbol: symbol}
					id := docid.NewDocumentID(docid.AgencyCode(agency), issued, ns).String()
					summary := fmt.Sprintf("Công văn số %d về việc triển khai nhiệm vụ năm %d", num, year)
					args = append(args, dir, status, "CV", summary, foldText(summary), agency, holder, num, symbol, id, reg, year, num, dbTime(issued), 1, fmt.Sprintf("%064x", k), now, now)
				}
				q := "INSERT INTO documents (" + cols + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", m), ", ")
				if err := tx.Exec(q, args...).Error; err != nil {
					return err
				}
				done += m
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	for _, stmt := range indexes {
		if err := s.DB().Exec(stmt).Error; err != nil {
			tb.Fatal(err)
		}
	}
	if err := s.DB().Exec("ANALYZE").Error; err != nil {
		tb.Fatal(err)
	}
}

// benchStore opens the lookup benchmark's store: SQLite in KYSO_BENCH_DIR (kept) or a
// temp dir, or PostgreSQL.
func benchStore(b *testing.B, be backend) *Store {
	cfg := be.cfg(b)
	if be.name == "sqlite" {
		dir := os.Getenv("KYSO_BENCH_DIR")
		if dir == "" {
			dir = b.TempDir()
		}
		cfg = Config{Driver: DriverSQLite, DSN: filepath.Join(dir, "bench.db"), BlobDir: filepath.Join(dir, "blobs")}
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	start := time.Now()
	seedDocuments(b, s, benchDocs())
	if el := time.Since(start); el > time.Second {
		b.Logf("seeded %d documents in %s", benchDocs(), el.Round(time.Second))
	}
	return s
}

// reportLatency adds p50 and p99 (milliseconds) to the benchmark's output.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)]) / 1e6 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

func benchLookup(b *testing.B, prepare func(s *Store) error, lookup func(s *Store, k int) error) {
	for _, be := range backends[:2] {
		if be.name == "postgres" && os.Getenv("KYSO_BENCH_DIR") != "" {
			continue // the 1M run is about SQLite
		}
		b.Run(be.name, func(b *testing.B) {
			s := benchStore(b, be)
			if prepare != nil {
				if err := prepare(s); err != nil {
					b.Fatal(err)
				}
			}
			n := benchDocs()
			lat := make([]time.Duration, 0, 1<<16)
			b.ResetTimer()
			for b.Loop() {
				k := mrand.IntN(n)
				t := time.Now()
				if err := lookup(s, k); err != nil {
					b.Fatal(err)
				}
				if len(lat) < cap(lat) {
					lat = append(lat, time.Since(t))
				}
			}
			reportLatency(b, lat)
		})
	}
}

func BenchmarkLookupByIdentifier(b *testing.B) {
	ctx := context.Background()
	var list []string
	prepare := func(s *Store) error {
		// A sample of identifiers spread over the table, read before the clock starts.
		list = nil
		return s.DB().Model(&Document{}).Where("id % ? = 0", max(benchDocs()/50_000, 1)).Order("id").Pluck("identifier", &list).Error
	}
	benchLookup(b, prepare, func(s *Store, k int) error {
		id := list[k%len(list)]
		d, err := s.FindByIdentifier(ctx, id, "")
		if err == nil && deref(d.Identifier) != id {
			err = fmt.Errorf("found %s for %s", deref(d.Identifier), id)
		}
		return err
	})
}

func BenchmarkLookupByNumber(b *testing.B) {
	ctx := context.Background()
	benchLookup(b, nil, func(s *Store, k int) error {
		// The seed numbers register r (1…182) in year y from 1 upward; pick one that exists.
		regs := int64(benchAgencies * 2)
		reg := int64(k)%regs + 1
		year := 2015 + (k/int(regs))%10
		num := 1 + k/(int(regs)*10)
		d, err := s.FindByNumber(ctx, reg, year, num)
		if err == nil && *d.RegNumber != num {
			err = fmt.Errorf("found number %d for %d", *d.RegNumber, num)
		}
		return err
	})
}

// BenchmarkImport stores documents through CreateDocument (stream to a temp file, hash,
// fsync, rename, one transaction with its audit event) and reports documents a second.
func BenchmarkImport(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s, err := Open(context.Background(), be.cfg(b))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			content := make([]byte, 64<<10) // a typical one-page scanned letter is larger; a text PDF about this
			ctx := context.Background()
			start := time.Now()
			i := 0
			for b.Loop() {
				rand.Read(content[:32])
				i++
				if _, err := s.CreateDocument(ctx, NewDocument{Direction: Incoming, Type: "CV", Summary: "Công văn",
					AgencyCode: "000.00.00.G22", HolderCode: "000.00.00.H43", Content: bytes.NewReader(content), Actor: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(i)/time.Since(start).Seconds(), "docs/s")
			b.SetBytes(int64(len(content)))
		})
	}
}
