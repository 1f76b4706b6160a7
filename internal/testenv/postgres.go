package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// PostgresBinDir holds Debian's PostgreSQL 15 server binaries.
const PostgresBinDir = "/usr/lib/postgresql/15/bin"

// PostgresDSNEnv, when set, names a running server (a DSN without dbname) that
// StartPostgres uses instead of starting one. A test that re-executes its own binary
// as a second process passes its server down this way.
const PostgresDSNEnv = "KYSO_TEST_PG"

// pgServer is a throw-away cluster in a temp dir, on loopback only.
type pgServer struct {
	dir  string
	port int
	asPG *syscall.Credential // nil when not root
}

var (
	sharedMu  sync.Mutex
	shared    *pgServer
	sharedOn  bool
	dbCounter atomic.Int64
)

// RunWithPostgres runs m with one PostgreSQL server shared by every test of the binary
// (each test still gets its own database), and stops the server afterwards. Call it from
// TestMain: `func TestMain(m *testing.M) { os.Exit(testenv.RunWithPostgres(m)) }`.
// Starting a cluster takes seconds; sharing it keeps a package's tests fast.
func RunWithPostgres(m *testing.M) int {
	sharedMu.Lock()
	sharedOn = true
	sharedMu.Unlock()
	code := m.Run()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		shared.stop()
		shared = nil
	}
	return code
}

// StartPostgres returns the DSN of a new, empty database on a real PostgreSQL 15
// (Debian's `postgresql` package). It starts the server (once per binary under
// RunWithPostgres, otherwise once per test, stopped by t.Cleanup). It fails the test
// naming the Debian package when PostgreSQL is missing.
func StartPostgres(t testing.TB) string {
	t.Helper()
	External(t, "PostgreSQL")
	base := os.Getenv(PostgresDSNEnv)
	if base == "" {
		srv := serverFor(t)
		base = srv.baseDSN()
	}
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbCounter.Add(1))
	createdb := filepath.Join(PostgresBinDir, "createdb")
	host, port := dsnField(base, "host"), dsnField(base, "port")
	out, err := exec.Command(createdb, "-h", host, "-p", port, "-U", "kyso", name).CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: createdb %s: %v\n%s", name, err, out)
	}
	return base + " dbname=" + name
}

func serverFor(t testing.TB) *pgServer {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedOn {
		if shared == nil {
			srv, err := startServer()
			if err != nil {
				t.Fatal(err)
			}
			shared = srv
		}
		return shared
	}
	srv, err := startServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	return srv
}

func startServer() (*pgServer, error) {
	initdb := filepath.Join(PostgresBinDir, "initdb")
	if _, err := os.Stat(initdb); err != nil {
		return nil, fmt.Errorf("testenv: PostgreSQL 15 not found at %s: install the Debian package %q (make deps does)", PostgresBinDir, "postgresql")
	}
	// Not t.TempDir: its parents are 0700 and owned by root, and the server must not run
	// as root, so the postgres user could not reach it.
	dir, err := os.MkdirTemp("", "kyso-pg-")
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	srv := &pgServer{dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("testenv: running as root needs the postgres user from the Debian package %q: %w", "postgresql", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		srv.asPG = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("testenv: %w", err)
		}
	}
	data := filepath.Join(dir, "data")
	if err := srv.run(initdb, "-D", data, "-A", "trust", "-U", "kyso", "-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The port is probed free and then handed to the server; a clash in between makes
	// pg_ctl fail, so try a few ports.
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		srv.port = port
		opts := fmt.Sprintf("-k %s -h 127.0.0.1 -p %d -c fsync=off -c max_connections=200", data, port)
		err = srv.run(filepath.Join(PostgresBinDir, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "server.log"), "-o", opts, "-w", "start")
		if err == nil {
			return srv, nil
		}
		if attempt == 2 {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("%w\nserver log:\n%s", err, log)
		}
	}
}

func (s *pgServer) run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if s.asPG != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.asPG}
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("testenv: %s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, out.String())
	}
	return nil
}

func (s *pgServer) stop() {
	_ = s.run(filepath.Join(PostgresBinDir, "pg_ctl"), "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.dir)
}

func (s *pgServer) baseDSN() string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=kyso sslmode=disable", s.port)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testenv: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func dsnField(dsn, key string) string {
	for _, f := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}
