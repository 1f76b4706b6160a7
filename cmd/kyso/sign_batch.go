package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// signJob is one input of kyso sign and what became of it.
type signJob struct {
	in, out string // out "": in place
	err     error
	done    bool // attempted (a batch stops early after a write error)
}

// cliKeyName is the name the command line's one key has in the use-case layer.
const cliKeyName = "cli"

// runJobs signs the jobs with key through app (SignFiles: all cores, outputs
// committed in chunks), with a progress bar on a terminal, and reports: each failed
// document with its reason, then a summary; exit 1 when any document is not signed.
func runJobs(ctx context.Context, stderr io.Writer, svc *app.Service, key hsm.Key, jobs []signJob, opts app.SignOptions, workers int) error {
	if len(jobs) > 1 {
		// Each document's allocations die with it and the live heap stays a few MiB:
		// collect garbage less often.
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	var bar *progressbar.ProgressBar
	var done func()
	if len(jobs) > 1 && isTerminal(stderr) {
		bar = progressbar.NewOptions(len(jobs), progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("signing"), progressbar.OptionShowCount(), progressbar.OptionShowIts())
		done = func() { _ = bar.Add(1) }
	}
	files := make([]app.FileJob, len(jobs))
	for i, j := range jobs {
		files[i] = app.FileJob{In: j.in, Out: j.out}
	}
	svc.Keys = map[string]*app.ServerKey{cliKeyName: {Name: cliKeyName, Key: key}}
	start := time.Now()
	err := svc.SignFiles(ctx, cliKeyName, files, opts, workers, done)
	for i, f := range files {
		jobs[i].err, jobs[i].done = f.Err, f.Done
	}
	switch {
	case ctx.Err() != nil:
		return &exitError{code: 1, err: fmt.Errorf("interrupted: the outputs already committed are kept whole, the others removed (%w)", ctx.Err())}
	case fault.KindOf(err) == fault.Invalid:
		return &exitError{code: 2, err: err}
	}
	failed, skipped := 0, 0
	for _, j := range jobs {
		switch {
		case !j.done:
			skipped++
		case j.err != nil:
			failed++
			fmt.Fprintf(stderr, "kyso: %s: %v\n", j.in, j.err)
		}
	}
	if skipped > 0 {
		fmt.Fprintf(stderr, "kyso: %d documents not attempted: the batch stopped when an output could not be written\n", skipped)
	}
	failed += skipped
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("writing the signed documents: %w", err)}
	}
	if len(jobs) > 1 {
		d := time.Since(start)
		fmt.Fprintf(stderr, "signed %d of %d documents in %v (%.1f/s)\n", len(jobs)-failed, len(jobs), d.Round(time.Millisecond), float64(len(jobs)-failed)/d.Seconds())
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d documents not signed", failed, len(jobs))}
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func closeKey(k hsm.Key) {
	if c, ok := k.(io.Closer); ok {
		_ = c.Close()
	}
}

// useCaseExit gives an error of the use-case layer its exit code: its fault kind's,
// or 1 for a failure underneath (the file system, the key).
func useCaseExit(err error) error {
	if isFault(err) {
		return &exitError{code: kindExitCode(err), err: err}
	}
	return &exitError{code: 1, err: err}
}
