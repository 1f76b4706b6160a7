package store

import (
	"context"
	"strings"
	"testing"
)

// TestSameContentAtOnce: documents with the same content stored at once (two clerks
// uploading one file, on two replicas) all succeed and share one blob; with blobs in
// PostgreSQL the second insert of the row used to fail.
func TestSameContentAtOnce(t *testing.T) {
	eachBackend(t, true, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, nil)
		errs := make(chan error, 8)
		for range 8 {
			go func() {
				_, err := s.CreateDocument(ctx, NewDocument{Direction: Outgoing, AgencyCode: "000.00.00.H43",
					Content: strings.NewReader(strings.Repeat("một nội dung ", 4096)), Actor: "clerk"})
				errs <- err
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
}
