package main

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
)

// The attacks of issue 13, each against a real `kyso serve` process (this test binary
// re-executed as kyso, see TestCLIHelperProcess) in demo mode, from a checkout, with a
// data directory of its own. Each must be answered within 10 s with the documented
// status, the server's peak RSS must stay under 300 MiB, and its CPU must be back to
// idle within a second of the client leaving. A watchdog kills a server that passes
// 1 GiB, so that a regression fails the test instead of the machine.

const (
	hostileAnswerWithin = 10 * time.Second
	hostileMaxRSS       = 300 << 20
	hostileKillRSS      = 1 << 30
	hostileIdleCPU      = 0.10 // of one core, over the second after the client left
)

type hostileServer struct {
	*serveProcess
	pid    int
	admin  string
	client *http.Client

	mu       sync.Mutex
	killedAt int64 // RSS when the watchdog killed the process, 0 if it did not
}

// startHostile starts `kyso serve` in demo mode with env added to the defaults.
func startHostile(t *testing.T, env ...string) *hostileServer {
	t.Helper()
	testenv.Heavy(t, "an attack on a kyso serve process, its memory and CPU measured")
	sp := &serveProcess{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	sp.cmd = exec.Command(os.Args[0], "-test.run=^TestCLIHelperProcess$", "--", "serve")
	sp.cmd.Dir = testenv.ModuleRoot() // certs-testdata/: the demo key and anchor
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "KYSO_") {
			sp.cmd.Env = append(sp.cmd.Env, e)
		}
	}
	sp.cmd.Env = append(sp.cmd.Env, "KYSO_CLI_HELPER=1", "KYSO_LISTEN=127.0.0.1:0", "KYSO_DATA_DIR="+t.TempDir(),
		"KYSO_LOG_FORMAT=json", "KYSO_REVOCATION_OFFLINE=true")
	sp.cmd.Env = append(sp.cmd.Env, env...)
	sp.cmd.Stdout = sp.stdout
	stderr, err := sp.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		dec := json.NewDecoder(io.TeeReader(stderr, sp.stderr))
		for {
			var line map[string]any
			if err := dec.Decode(&line); err != nil {
				_, _ = io.Copy(sp.stderr, stderr)
				_ = sp.cmd.Wait()
				close(sp.exited)
				return
			}
			if a, ok := line["address"].(string); ok && line["msg"] == "listening" {
				addr <- a
			}
		}
	}()
	t.Cleanup(func() { sp.signal(t, syscall.SIGKILL) })
	select {
	case a := <-addr:
		sp.base = "http://" + a
	case <-sp.exited:
		t.Fatalf("kyso serve exited before listening:\n%s", sp.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("kyso serve did not listen within 30 s:\n%s", sp.stderr)
	}
	hs := &hostileServer{serveProcess: sp, pid: sp.cmd.Process.Pid, client: &http.Client{Transport: &http.Transport{}}}
	t.Cleanup(hs.client.CloseIdleConnections)
	for deadline := time.Now().Add(5 * time.Second); hs.admin == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := adminKeyLine.FindStringSubmatch(sp.stdout.String()); m != nil {
			hs.admin = m[1] // printed before listening, read from the pipe a little later
		}
	}
	if hs.admin == "" {
		t.Fatalf("no admin key printed:\n%s", sp.stdout)
	}
	go hs.watchdog()
	return hs
}

// watchdog kills the server when its RSS passes hostileKillRSS.
func (hs *hostileServer) watchdog() {
	for {
		select {
		case <-hs.exited:
			return
		case <-time.After(25 * time.Millisecond):
		}
		if _, rss := hs.memory(); rss > hostileKillRSS {
			hs.mu.Lock()
			hs.killedAt = rss
			hs.mu.Unlock()
			_ = hs.cmd.Process.Kill()
			return
		}
	}
}

// memory is the process's peak and current resident set (VmHWM, VmRSS), in bytes.
func (hs *hostileServer) memory() (hwm, rss int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", hs.pid))
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			hwm = n << 10
		case "VmRSS:":
			rss = n << 10
		}
	}
	return hwm, rss
}

// cpuSeconds is the process's user and system time so far (/proc/PID/stat utime +
// stime, in clock ticks of 1/100 s).
func (hs *hostileServer) cpuSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", hs.pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return float64(ut+st) / 100
}

// attackResult is what one attack measured.
type attackResult struct {
	name     string
	status   int
	took     time.Duration
	peak     int64
	cpuAfter float64 // cores used in the second that began one second after the client left
	killedAt int64
	err      error
}

func (r attackResult) String() string {
	s := fmt.Sprintf("%-34s status %3d in %6.2f s, peak RSS %4d MiB, CPU after %.2f core", r.name, r.status, r.took.Seconds(), r.peak>>20, r.cpuAfter)
	if r.killedAt > 0 {
		s += fmt.Sprintf(", KILLED by the watchdog at %d MiB", r.killedAt>>20)
	}
	if r.err != nil {
		s += fmt.Sprintf(", client error: %v", r.err)
	}
	return s
}

// attack runs do with the 10-second client budget, then measures. ok says which
// statuses are the documented answer.
func (hs *hostileServer) attack(t *testing.T, name string, ok func(int) bool, do func(ctx context.Context) (int, error)) attackResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hostileAnswerWithin)
	start := time.Now()
	status, err := do(ctx)
	cancel() // the client leaves
	r := attackResult{name: name, status: status, took: time.Since(start), err: err}
	hs.client.CloseIdleConnections()
	time.Sleep(time.Second)
	c0 := hs.cpuSeconds()
	time.Sleep(time.Second)
	r.cpuAfter = hs.cpuSeconds() - c0
	r.peak, _ = hs.memory()
	hs.mu.Lock()
	r.killedAt = hs.killedAt
	hs.mu.Unlock()
	t.Log(r)
	fmt.Fprintln(os.Stderr, "HOSTILE", r) // the numbers for the README, with or without -v
	switch {
	case r.killedAt > 0:
		t.Errorf("%s: the server passed %d MiB and was killed", name, r.killedAt>>20)
		return r
	case err != nil:
		t.Errorf("%s: no answer: %v", name, err)
	case !ok(status):
		t.Errorf("%s: status %d", name, status)
	}
	if r.took > hostileAnswerWithin {
		t.Errorf("%s: answered after %s", name, r.took)
	}
	if r.peak > hostileMaxRSS {
		t.Errorf("%s: peak RSS %d MiB, over %d MiB", name, r.peak>>20, hostileMaxRSS>>20)
	}
	if r.cpuAfter > hostileIdleCPU {
		t.Errorf("%s: still using %.2f of a core a second after the client left", name, r.cpuAfter)
	}
	return r
}

func is4xx(s int) bool { return s >= 400 && s < 500 }

// post sends body to path and returns the status, the body read to its end.
func (hs *hostileServer) post(ctx context.Context, path, key string, body []byte, hdr ...string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", hs.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/pdf")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := hs.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// signedDemo is a PDF signed by the server's demo key.
func (hs *hostileServer) signedDemo(t *testing.T) []byte {
	t.Helper()
	status, b, err := hs.post(context.Background(), "/v1/sign?key=demo-org", hs.admin, serveTestPDF("hostile"))
	if err != nil || status != 200 {
		t.Fatalf("sign: %d %v %s", status, err, b)
	}
	return b
}

var (
	reStartxref = regexp.MustCompile(`startxref\s+(\d+)`)
	reSize      = regexp.MustCompile(`/Size\s+(\d+)`)
	reRoot      = regexp.MustCompile(`/Root\s+(\d+\s+\d+\s+R)`)
)

// tail is what an incremental update needs from the file before it: the last
// cross-reference offset, /Size and /Root.
func tail(t *testing.T, b []byte) (prev, size int, root string) {
	t.Helper()
	last := func(re *regexp.Regexp) string {
		m := re.FindAllSubmatch(b, -1)
		if m == nil {
			t.Fatalf("no %s in the file", re)
		}
		return string(m[len(m)-1][1])
	}
	prev, _ = strconv.Atoi(last(reStartxref))
	size, _ = strconv.Atoi(last(reSize))
	return prev, size, last(reRoot)
}

// emptyUpdates appends n incremental updates that change nothing.
func emptyUpdates(t *testing.T, b []byte, n int) []byte {
	prev, size, root := tail(t, b)
	var buf bytes.Buffer
	buf.Write(b)
	for range n {
		off := buf.Len()
		fmt.Fprintf(&buf, "xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size %d /Root %s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", size, root, prev, off)
		prev = off
	}
	return buf.Bytes()
}

func deflate(t *testing.T, write func(io.Writer)) []byte {
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, zlib.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	write(zw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// xrefBomb appends an update whose cross-reference stream, /W [1 0 0], inflates to
// mib MiB: one in-use entry per byte.
func xrefBomb(t *testing.T, b []byte, mib int) []byte {
	prev, size, root := tail(t, b)
	chunk := bytes.Repeat([]byte{1}, 1<<20)
	z := deflate(t, func(w io.Writer) {
		for range mib {
			w.Write(chunk)
		}
	})
	n := mib << 20
	var buf bytes.Buffer
	buf.Write(b)
	off := buf.Len()
	fmt.Fprintf(&buf, "%d 0 obj\n<< /Type /XRef /Size %d /Index [0 %d] /W [1 0 0] /Root %s /Prev %d /Filter /FlateDecode /Length %d >>\nstream\n",
		size, n, n, root, prev, len(z))
	buf.Write(z)
	fmt.Fprintf(&buf, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", off)
	return buf.Bytes()
}

// objectStreams appends an update that hangs k annotations on page 3, each in an
// object stream of its own that inflates to mib MiB (the annotation, then spaces).
func objectStreams(t *testing.T, b []byte, k, mib int) []byte {
	prev, size, root := tail(t, b)
	pages := regexp.MustCompile(`(?s)\n3 0 obj\s*(<<.*?>>)\s*endobj`).FindAllSubmatch(b, -1)
	if pages == nil {
		t.Fatal("no page object 3")
	}
	page := string(pages[len(pages)-1][1])
	var refs []string
	for i := range k {
		refs = append(refs, fmt.Sprintf("%d 0 R", size+2*i+1))
	}
	if strings.Contains(page, "/Annots [") {
		page = strings.Replace(page, "/Annots [", "/Annots ["+strings.Join(refs, " ")+" ", 1)
	} else {
		page = page[:len(page)-2] + " /Annots [" + strings.Join(refs, " ") + "] >>"
	}
	var buf bytes.Buffer
	buf.Write(b)
	type entry struct{ typ, f2, f3 int }
	entries := map[int]entry{}
	entries[3] = entry{1, buf.Len(), 0}
	fmt.Fprintf(&buf, "3 0 obj\n%s\nendobj\n", page)
	pad := bytes.Repeat([]byte(" "), 1<<20)
	for i := range k {
		stm, obj := size+2*i, size+2*i+1
		head := fmt.Sprintf("%d 0 ", obj)
		annot := fmt.Sprintf("<< /Type /Annot /Subtype /Text /Rect [%d 0 %d 10] /Contents (%d) >>", i, i+10, i)
		z := deflate(t, func(w io.Writer) {
			io.WriteString(w, head+annot)
			for range mib {
				w.Write(pad)
			}
		})
		entries[stm] = entry{1, buf.Len(), 0}
		entries[obj] = entry{2, stm, 0}
		fmt.Fprintf(&buf, "%d 0 obj\n<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n", stm, len(head), len(z))
		buf.Write(z)
		buf.WriteString("\nendstream\nendobj\n")
	}
	xrefObj := size + 2*k
	entries[xrefObj] = entry{1, buf.Len(), 0}
	var rows bytes.Buffer
	var index []string
	for _, n := range append([]int{3}, func() []int {
		var ns []int
		for n := size; n <= xrefObj; n++ {
			ns = append(ns, n)
		}
		return ns
	}()...) {
		e := entries[n]
		rows.Write([]byte{byte(e.typ), byte(e.f2 >> 24), byte(e.f2 >> 16), byte(e.f2 >> 8), byte(e.f2), 0, byte(e.f3)})
	}
	index = append(index, "3 1", fmt.Sprintf("%d %d", size, xrefObj-size+1))
	off := buf.Len()
	fmt.Fprintf(&buf, "%d 0 obj\n<< /Type /XRef /Size %d /Index [%s] /W [1 4 2] /Root %s /Prev %d /Length %d >>\nstream\n",
		xrefObj, xrefObj+1, strings.Join(index, " "), root, prev, rows.Len())
	buf.Write(rows.Bytes())
	fmt.Fprintf(&buf, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", off)
	return buf.Bytes()
}

// pdfWithPage is serveTestPDF with its page dictionary replaced.
func pdfWithPage(page string) []byte {
	b := serveTestPDF("absurd")
	orig := "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
	// Rebuild rather than patch, so that the cross-reference offsets stay right.
	objs := regexp.MustCompile(`(?s)\d+ 0 obj\n(.*?)\nendobj\n`).FindAllSubmatch(b, -1)
	var out bytes.Buffer
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, m := range objs {
		o := string(m[1])
		if o == orig {
			o = page
		}
		offsets[i] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&out, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return out.Bytes()
}

// TestHostileRevisions: a signed PDF followed by 20,000 empty incremental updates,
// verified by the public.
func TestHostileRevisions(t *testing.T) {
	hs := startHostile(t)
	doc := emptyUpdates(t, hs.signedDemo(t), 20000)
	hs.attack(t, fmt.Sprintf("revisions: 20,000 updates (%d KB)", len(doc)>>10), is4xx, func(ctx context.Context) (int, error) {
		s, _, err := hs.post(ctx, "/v1/verify", "", doc)
		return s, err
	})
}

// TestHostileXrefBomb: a cross-reference stream with /W [1 0 0] inflating to
// 200 MiB, one entry per byte.
func TestHostileXrefBomb(t *testing.T) {
	hs := startHostile(t)
	doc := xrefBomb(t, hs.signedDemo(t), 200)
	hs.attack(t, fmt.Sprintf("xref-stream bomb: 200 MiB (%d KB)", len(doc)>>10), is4xx, func(ctx context.Context) (int, error) {
		s, _, err := hs.post(ctx, "/v1/verify", "", doc)
		return s, err
	})
}

// TestHostileObjectStreams: 40 annotations added after the signature, each in an
// object stream inflating to 32 MiB, verified by the public: once, then three at once
// from one address (they take turns, rate_limit.public_verify_concurrent; one that
// waits longer than server.heavy_queue_wait is refused).
func TestHostileObjectStreams(t *testing.T) {
	// A verdict (200, the added annotations judged) or a limit (4xx) is documented.
	ok := func(s int) bool { return s == 200 || is4xx(s) }
	hs := startHostile(t)
	doc := objectStreams(t, hs.signedDemo(t), 40, 32)
	hs.attack(t, fmt.Sprintf("object streams: 40 × 32 MiB (%d KB)", len(doc)>>10), ok, func(ctx context.Context) (int, error) {
		s, _, err := hs.post(ctx, "/v1/verify", "", doc)
		return s, err
	})
	// The client hangs up after 0.3 s: the server stops within a second (499 is
	// what the access log records; the client sees no status).
	hs = startHostile(t)
	hs.attack(t, "object streams, client leaves at 0.3 s", func(s int) bool { return s == 499 }, func(ctx context.Context) (int, error) {
		ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		s, _, err := hs.post(ctx, "/v1/verify", "", doc)
		if err != nil && ctx.Err() != nil {
			return 499, nil
		}
		return s, err
	})
	hs = startHostile(t) // the same demo key: the same file verifies here
	hs.attack(t, "object streams ×3 at once, one address", ok, func(ctx context.Context) (int, error) {
		var wg sync.WaitGroup
		statuses := make([]int, 3)
		errs := make([]error, 3)
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i], _, errs[i] = hs.post(ctx, "/v1/verify", "", doc)
			}()
		}
		wg.Wait()
		t.Logf("three at once: %v", statuses)
		worst := 0
		for i, s := range statuses {
			if errs[i] != nil {
				return s, errs[i]
			}
			if worst == 0 || !ok(s) {
				worst = s
			}
		}
		return worst, nil
	})
}

// TestHostileAbsurdNumbers: pages with /Rotate 9999999999999999999 and a /MediaBox
// number 1e309, signed visibly.
func TestHostileAbsurdNumbers(t *testing.T) {
	hs := startHostile(t)
	for _, c := range []struct{ name, page string }{
		{"/Rotate 9999999999999999999", "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Rotate 9999999999999999999 /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"},
		{"/MediaBox [0 0 1e309 842]", "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 1e309 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"},
	} {
		doc := pdfWithPage(c.page)
		hs.attack(t, "sign "+c.name, is4xx, func(ctx context.Context) (int, error) {
			s, b, err := hs.post(ctx, "/v1/sign?key=demo-org&page=1", hs.admin, doc)
			if s >= 500 {
				t.Logf("%s: %s", c.name, b)
			}
			return s, err
		})
	}
}

// TestHostileSlowBody: one byte every 2 s. With server.min_upload_window 5 s the
// server answers 408 and closes within the window.
func TestHostileSlowBody(t *testing.T) {
	hs := startHostile(t, "KYSO_MIN_UPLOAD_WINDOW=5s")
	var took time.Duration
	hs.attack(t, "slow body: 1 byte every 2 s", func(s int) bool { return s == 408 }, func(ctx context.Context) (int, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", strings.TrimPrefix(hs.base, "http://"))
		if err != nil {
			return 0, err
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprintf(conn, "POST /v1/verify HTTP/1.1\r\nHost: kyso\r\nContent-Type: application/pdf\r\nContent-Length: 100000\r\n\r\n")
		go func() {
			for i := 0; ; i++ {
				if _, err := conn.Write([]byte("%PDF-1.7 "[i%9 : i%9+1])); err != nil {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(2 * time.Second):
				}
			}
		}()
		deadline, _ := ctx.Deadline()
		conn.SetReadDeadline(deadline)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		took = time.Since(start)
		return resp.StatusCode, nil
	})
	if took > 6500*time.Millisecond {
		t.Errorf("the slow body was cut after %s, not within the 5 s window", took)
	}
}

// TestHostileReadyz: /readyz hammered 100 times by the public makes at most one probe
// signature with the key, and neither it nor /metrics names the key.
func TestHostileReadyz(t *testing.T) {
	hs := startHostile(t, "KYSO_READY_INTERVAL=1m")
	var leaked []string
	var mu sync.Mutex
	hs.attack(t, "/readyz ×100, anonymous", func(s int) bool { return s == 200 }, func(ctx context.Context) (int, error) {
		var wg sync.WaitGroup
		statuses := make(chan int, 100)
		for w := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					req, _ := http.NewRequestWithContext(ctx, "GET", hs.base+"/readyz", nil)
					resp, err := hs.client.Do(req)
					if err != nil {
						statuses <- 0
						continue
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					statuses <- resp.StatusCode
					if bytes.Contains(b, []byte("demo-org")) {
						mu.Lock()
						leaked = append(leaked, fmt.Sprintf("worker %d: %s", w, b))
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		close(statuses)
		worst := 200
		for s := range statuses {
			if s != 200 {
				worst = s
			}
		}
		return worst, nil
	})
	if len(leaked) > 0 {
		t.Errorf("/readyz named the key: %s", leaked[0])
	}
	resp, err := http.Get(hs.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(m, []byte("demo-org")) {
		t.Error("/metrics names the key to the public")
	}
	checks := regexp.MustCompile(`(?m)^kyso_key_readiness_checks_total (\d+)`).FindSubmatch(m)
	if checks == nil {
		t.Fatalf("no kyso_key_readiness_checks_total in /metrics")
	}
	if n, _ := strconv.Atoi(string(checks[1])); n > 1 {
		t.Errorf("100 probes made %d probe signatures, want at most 1 per interval", n)
	}
}

// TestHostileRotatingXFF: through a trusted proxy (the test, at 127.0.0.1), a client
// rotating the X-Forwarded-For it sends, or its address within one IPv6 /64, stays
// within the public limit (30 a minute).
func TestHostileRotatingXFF(t *testing.T) {
	hs := startHostile(t, "KYSO_TRUSTED_PROXIES=127.0.0.1")
	doc := serveTestPDF("unsigned")
	for _, c := range []struct {
		name string
		xff  func(i int) string
	}{
		{"rotating X-Forwarded-For ×40", func(i int) string { return fmt.Sprintf("203.0.%d.%d, 198.51.100.7", i/250, i%250+1) }},
		{"rotating within an IPv6 /64 ×40", func(i int) string { return fmt.Sprintf("2001:db8:77:1:%x::1", i+1) }},
	} {
		hs.attack(t, c.name, func(s int) bool { return s == 429 }, func(ctx context.Context) (int, error) {
			limited := 0
			for i := range 40 {
				s, _, err := hs.post(ctx, "/v1/verify", "", doc, "X-Forwarded-For", c.xff(i))
				if err != nil {
					return 0, err
				}
				if s == 429 {
					limited++
				}
			}
			if limited < 10 {
				return 200, fmt.Errorf("only %d of 40 were limited", limited)
			}
			return 429, nil
		})
	}
}

// TestHostileConnectionFlood: one address opens 1,100 connections and trickles
// half a request line on each (slowloris). Another address is still answered at once,
// the flood's connections past its address's cap are refused, and the server stays
// small.
func TestHostileConnectionFlood(t *testing.T) {
	hs := startHostile(t)
	addr := strings.TrimPrefix(hs.base, "http://")
	hs.attack(t, "slowloris: 1,100 connections, one address", func(s int) bool { return s == 200 }, func(ctx context.Context) (int, error) {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for range 1100 {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err != nil {
				return 0, err
			}
			conns = append(conns, c)
			_, _ = c.Write([]byte("GET /healthz HTTP/1.1\r\nHo"))
		}
		other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
			LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")},
		}).DialContext}}
		defer other.CloseIdleConnections()
		req, _ := http.NewRequestWithContext(ctx, "GET", hs.base+"/healthz", nil)
		start := time.Now()
		resp, err := other.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		if d := time.Since(start); d > time.Second {
			t.Errorf("another address waited %s", d)
		}
		return resp.StatusCode, nil
	})
}
