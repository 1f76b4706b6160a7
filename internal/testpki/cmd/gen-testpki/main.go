// Command gen-testpki writes the test PKI of certs-testdata/ (see its README.md):
//
//	go run ./internal/testpki/cmd/gen-testpki -out certs-testdata
//
// Every run makes fresh keys; names, dates and URLs are fixed in internal/testpki.
// NOT FOR PRODUCTION: the private keys it writes are meant to be committed and public.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/kyso-vn/kyso/internal/testpki"
)

func main() {
	out := flag.String("out", "certs-testdata", "directory to write the test PKI into")
	flag.Parse()
	if err := testpki.Generate(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen-testpki:", err)
		os.Exit(1)
	}
	if _, err := testpki.Load(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen-testpki: written PKI does not load:", err)
		os.Exit(1)
	}
}
