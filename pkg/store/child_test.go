package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
)

// Child processes get the store configuration through the environment.
func childCmd(t *testing.T, role string, cfg Config, extra ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(),
		childEnv+"="+role,
		"KYSO_STORE_DRIVER="+cfg.Driver,
		"KYSO_STORE_DSN="+cfg.DSN,
		"KYSO_STORE_BLOBDIR="+cfg.BlobDir,
		"KYSO_STORE_BLOBSINDB="+strconv.FormatBool(cfg.BlobsInDB),
	)
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stderr = os.Stderr
	return cmd
}

func runChild(role string) error {
	ctx := context.Background()
	inDB, _ := strconv.ParseBool(os.Getenv("KYSO_STORE_BLOBSINDB"))
	s, err := Open(ctx, Config{Driver: os.Getenv("KYSO_STORE_DRIVER"), DSN: os.Getenv("KYSO_STORE_DSN"),
		BlobDir: os.Getenv("KYSO_STORE_BLOBDIR"), BlobsInDB: inDB})
	if err != nil {
		return err
	}
	defer s.Close()
	out := bufio.NewWriter(os.Stdout)
	var outMu sync.Mutex
	say := func(format string, a ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(out, format+"\n", a...)
		out.Flush()
	}
	switch role {
	case "number":
		reg, _ := strconv.ParseInt(os.Getenv("KYSO_STORE_REG"), 10, 64)
		count, _ := strconv.Atoi(os.Getenv("KYSO_STORE_COUNT"))
		goFile := os.Getenv("KYSO_STORE_GO")
		say("ready")
		for {
			if _, err := os.Stat(goFile); err == nil {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		return takeNumbers(ctx, s, reg, count, 16, func(n int) { say("%d", n) })
	case "audit":
		goFile := os.Getenv("KYSO_STORE_GO")
		say("ready")
		for {
			if _, err := os.Stat(goFile); err == nil {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 25 {
					if _, err := s.Audit(ctx, Event{Actor: fmt.Sprintf("p%d-w%d", os.Getpid(), w), Action: ActionSign,
						Detail: map[string]any{"j": j}}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		return <-errs
	case "store500":
		for i := 1; i <= 500; i++ {
			content := make([]byte, 32<<10)
			rand.Read(content)
			_, err := s.CreateDocument(ctx, NewDocument{Direction: Incoming, Type: "CV", Summary: fmt.Sprintf("văn bản %d", i),
				AgencyCode: "000.00.00.G22", HolderCode: "000.00.00.H43", Content: bytes.NewReader(content),
				Filename: fmt.Sprintf("%d.pdf", i), Actor: "child"})
			if err != nil {
				return err
			}
			say("stored %d", i)
		}
		return nil
	}
	return fmt.Errorf("unknown role %q", role)
}

// takeNumbers draws count numbers with the given number of goroutines.
func takeNumbers(ctx context.Context, s *Store, reg int64, count, workers int, got func(int)) error {
	at := time.Date(2021, 6, 1, 9, 0, 0, 0, docid.Vietnam)
	jobs := make(chan struct{}, count)
	for range count {
		jobs <- struct{}{}
	}
	close(jobs)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				n, err := s.NextNumber(ctx, reg, at)
				if err != nil {
					errs <- err
					return
				}
				got(n)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// readLines collects a child's stdout lines into a channel.
func readLines(r io.Reader) <-chan string {
	ch := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
		close(ch)
	}()
	return ch
}
