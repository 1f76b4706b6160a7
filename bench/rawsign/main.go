// Command rawsign measures a key's raw signature rate: -workers goroutines sign -n
// SHA-256 digests through one key URI, with nothing else around them. It is the
// yardstick the batch benchmark compares `kyso sign --out-dir` with.
package main

import (
	"context"
	"crypto"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kyso-vn/kyso/hsm"
)

func main() {
	uri := flag.String("key", "", "key URI")
	n := flag.Int("n", 600, "signatures")
	workers := flag.Int("workers", 2, "goroutines")
	flag.Parse()
	ctx := context.Background()
	key, err := hsm.Open(ctx, *uri, hsm.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawsign:", err)
		os.Exit(1)
	}
	digest := sha256.Sum256([]byte("kyso"))
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(*n) {
				if _, err := key.SignContext(ctx, digest[:], crypto.SHA256); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	fmt.Printf("%.1f\n", float64(*n)/d.Seconds())
	if failed.Load() > 0 {
		fmt.Fprintf(os.Stderr, "rawsign: %d signatures failed\n", failed.Load())
		os.Exit(1)
	}
}
