package kyso_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
)

// -readme.screenshots copies the page the README's first run issues (issued-page.png,
// made by its pdftoppm) to docs/first-run/, with a close-up of the seal
// (issued-seal.png).
var readmeScreenshots = flag.Bool("readme.screenshots", false, "write docs/first-run/issued-page.png from the README's issued.pdf")

// readmeBlock is one ```sh block of README.md.
type readmeBlock struct {
	line   int      // the line of its opening fence, 1-based
	text   string   // its lines
	expect []string // its "# → OUTPUT" lines: what it prints, in order
}

// skipMarker, on the last non-blank line before a block's fence, keeps the block out
// of TestREADME; the reason is required.
var skipMarker = regexp.MustCompile(`^<!-- readme-test: skip \((.+)\) -->$`)

// readmeBlocks returns the README's ```sh blocks that TestREADME runs, in order, and
// how many it skips. Only the fences and the marker are read, so sections anyone adds
// are run as they are.
func readmeBlocks(t *testing.T, readme string) (run []readmeBlock, skipped int) {
	t.Helper()
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if !strings.HasPrefix(l, "```") {
			continue
		}
		lang := strings.TrimSpace(strings.TrimPrefix(l, "```"))
		start := i
		var body []string
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			body = append(body, lines[i])
		}
		if i == len(lines) {
			t.Fatalf("README.md:%d: a code block that never closes", start+1)
		}
		if lang != "sh" {
			continue
		}
		if m := skipMarker.FindStringSubmatch(strings.TrimSpace(lines[lastNonBlank(lines, start)])); m != nil {
			skipped++
			continue
		}
		b := readmeBlock{line: start + 1, text: strings.Join(body, "\n")}
		for _, bl := range body {
			if out, ok := strings.CutPrefix(strings.TrimSpace(bl), "# → "); ok {
				b.expect = append(b.expect, out)
			}
		}
		run = append(run, b)
	}
	return run, skipped
}

func lastNonBlank(lines []string, before int) int {
	for i := before - 1; i >= 0; i-- {
		if strings.TrimSpace(lines[i]) != "" {
			return i
		}
	}
	return before
}

// TestREADMEBlocksParse checks the extraction itself on a README of its own: a
// marked block is skipped, others run with their expected output.
func TestREADMEBlocksParse(t *testing.T) {
	readme := "# x\n\n<!-- readme-test: skip (installs packages) -->\n```sh\napt-get install x\n```\n\ntext\n```sh\necho a\n# → a\nls\n# → b…c\n```\n```yaml\nk: v\n```\n"
	run, skipped := readmeBlocks(t, readme)
	if skipped != 1 || len(run) != 1 || run[0].line != 9 || strings.Count(run[0].text, "\n") != 3 || strings.Join(run[0].expect, "|") != "a|b…c" {
		t.Fatalf("got %d skipped, %+v", skipped, run)
	}
	if !matchesLine("a\tb", "a   b") || !matchesLine("b…c", "b and c") || matchesLine("b…c", "b and d") || !matchesLine("a", "a") {
		t.Error("the … wildcard")
	}
}

// matchesLine reports whether an output line is what a "# →" line shows: equal, with
// "…" standing for any text (ids, keys, times).
func matchesLine(want, got string) bool {
	// Runs of blanks read as one, so tab-separated output can be shown with spaces.
	want, got = strings.Join(strings.Fields(want), " "), strings.Join(strings.Fields(got), " ")
	parts := strings.Split(want, "…")
	re := "^"
	for i, p := range parts {
		if i > 0 {
			re += ".*"
		}
		re += regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(re + "$").MatchString(got)
}

// TestREADME runs every ```sh block of README.md, in order, in one bash session
// (set -euo pipefail) in an empty temporary directory, with kyso and kyso-agent built
// into a temporary PATH and the checkout's certs-testdata beside them, and compares
// each block's standard output with its "# → OUTPUT" lines (in order; other lines
// may come between). A block preceded by <!-- readme-test: skip (reason) --> is not
// run. 127.0.0.1:8080 in the blocks is replaced by a free port, so that runs on one
// machine do not collide (KYSO_LISTEN is set to it). A README example that no longer works fails here.
func TestREADME(t *testing.T) {
	testenv.Heavy(t, "builds kyso and runs every shell block of the README")
	for _, tool := range [][2]string{{"bash", "bash"}, {"curl", "curl"}, {"jq", "jq"}, {"softhsm2-util", "softhsm2"}, {"pdftoppm", "poppler-utils"}, {"openssl", "openssl"}} {
		testenv.Tool(t, tool[0], tool[1])
	}
	root := testenv.ModuleRoot()
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, skipped := readmeBlocks(t, string(readme))
	t.Logf("README.md: %d shell blocks to run, %d marked skip", len(blocks), skipped)

	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/kyso", "./cmd/kyso-agent")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	work := t.TempDir()
	for _, dir := range []string{"certs-testdata", "demo"} {
		if err := os.Symlink(filepath.Join(root, dir), filepath.Join(work, dir)); err != nil {
			t.Fatal(err)
		}
	}
	// mktemp -d in a block makes its directory here, where the test finds it.
	tmp := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for i, b := range blocks {
		fmt.Fprintf(&script, "echo '@@readme-block %d@@'\necho '@@readme-block %d@@' >&2\n%s\n", i, i, strings.ReplaceAll(b.text, "127.0.0.1:8080", port))
	}
	scriptFile := filepath.Join(t.TempDir(), "readme.sh")
	if err := os.WriteFile(scriptFile, []byte(script.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	stdout, stderr := filepath.Join(outDir, "stdout"), filepath.Join(outDir, "stderr")
	ctx, cancel := context.WithTimeout(context.Background(), 7*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", scriptFile)
	cmd.Dir = work
	// kyso serve listens where the blocks' 127.0.0.1:8080 now points.
	cmd.Env = append(readmeEnv(bin, work), "TMPDIR="+tmp, "KYSO_LISTEN="+port)
	// Background servers a block starts are in bash's process group, ended with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	outF, err := os.Create(stdout)
	if err != nil {
		t.Fatal(err)
	}
	errF, err := os.Create(stderr)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = outF, errF
	start := time.Now()
	runErr := cmd.Start()
	if runErr == nil {
		runErr = cmd.Wait()
		endGroup(cmd.Process.Pid)
	}
	if ctx.Err() != nil {
		runErr = fmt.Errorf("%w: a block did not finish within 7 minutes", ctx.Err())
	}
	outF.Close()
	errF.Close()
	t.Logf("the README's blocks ran in %s", time.Since(start).Round(time.Millisecond))

	outs, errs := splitByBlock(t, stdout), splitByBlock(t, stderr)
	if runErr != nil {
		last := len(outs) - 1
		if last < 0 {
			t.Fatalf("bash: %v before the first block", runErr)
		}
		t.Fatalf("README.md:%d: the block failed (%v):\n%s\n--- its output:\n%s\n--- its errors:\n%s",
			blocks[last].line, runErr, blocks[last].text, outs[last], errs[last])
	}
	for i, b := range blocks {
		got := strings.Split(outs[i], "\n")
		j := 0
		for _, want := range b.expect {
			for j < len(got) && !matchesLine(want, got[j]) {
				j++
			}
			if j == len(got) {
				t.Errorf("README.md:%d: the block's output lacks (in order) %q\n--- its output:\n%s", b.line, want, outs[i])
				break
			}
			j++
		}
	}
	if *readmeScreenshots {
		dir := filepath.Join(root, "docs", "first-run")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		issued, _ := filepath.Glob(filepath.Join(tmp, "*", "issued-page.png"))
		if len(issued) == 0 {
			t.Fatal("no block made issued-page.png in a mktemp -d directory")
		}
		b, err := os.ReadFile(issued[0])
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "issued-page.png"), b, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("pdftoppm", "-png", "-r", "120", "-f", "1", "-l", "1", "-singlefile", "-x", "450", "-y", "390", "-W", "480", "-H", "270",
			filepath.Join(filepath.Dir(issued[0]), "issued.pdf"), filepath.Join(dir, "issued-seal")).CombinedOutput()
		if err != nil {
			t.Fatalf("pdftoppm: %v\n%s", err, out)
		}
	}
}

// endGroup stops what the blocks left running (a kyso serve in the background):
// SIGTERM, up to 10 s for a graceful stop, then SIGKILL.
func endGroup(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	for range 100 {
		if syscall.Kill(-pgid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// readmeEnv is the environment a newcomer's shell would have: the built binaries
// first on PATH, and none of the KYSO_* or SOFTHSM2_CONF settings of the machine.
func readmeEnv(bin, home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KYSO_") || strings.HasPrefix(kv, "SOFTHSM2_CONF=") || strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PATH="+bin+":"+os.Getenv("PATH"), "HOME="+home)
}

// splitByBlock splits a stream at the block markers the script prints.
func splitByBlock(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var parts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "@@readme-block ") {
			parts = append(parts, "")
			continue
		}
		if len(parts) > 0 {
			parts[len(parts)-1] += sc.Text() + "\n"
		}
	}
	return parts
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
