package faults_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testproc"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/postgres"
)

// privatePG is a PostgreSQL instance of the test's own: initdb into a
// temporary directory, trust authentication, listening on a free
// 127.0.0.1 port only. The machine's shared PostgreSQL (127.0.0.1:5432) is
// never touched. As root the binaries run as the postgres user (PostgreSQL
// refuses to run as root) through runuser.
type privatePG struct {
	bin     string // directory of initdb, pg_ctl, postgres
	base    string // temporary directory: data/, log, socket
	data    string
	port    int
	runuser string // "" unless running as root
}

// pgBinDir finds the PostgreSQL server binaries: $PG_BIN, the newest
// /usr/lib/postgresql/*/bin, or pg_ctl on PATH.
func pgBinDir() string {
	ok := func(dir string) bool {
		for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("PG_BIN"); d != "" && ok(d) {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if ok(d) {
			return d
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil && ok(filepath.Dir(p)) {
		return filepath.Dir(p)
	}
	return ""
}

// startPrivatePG initialises and starts a private instance; it is stopped
// (immediate) and removed when the test ends.
func startPrivatePG(t *testing.T) *privatePG {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		missing(t, "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in $PG_BIN, /usr/lib/postgresql/*/bin or PATH")
	}
	pg := &privatePG{bin: bin}
	var uid, gid int
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			missing(t, "running as root and there is no postgres user to run PostgreSQL as: %v", err)
		}
		ru, err := exec.LookPath("runuser")
		if err != nil {
			missing(t, "running as root and runuser is not available: %v", err)
		}
		pg.runuser = ru
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	base, err := os.MkdirTemp("", "mana-faults-pg-")
	if err != nil {
		t.Fatal(err)
	}
	pg.base, pg.data = base, filepath.Join(base, "data")
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(pg.data, "postmaster.pid")); err == nil {
			_ = pg.ctl("-m", "immediate", "-w", "-t", "30", "stop")
		}
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(base, "postgres.log")); err == nil {
				t.Logf("private PostgreSQL log (tail):\n%s", tail(string(b), 30))
			}
		}
		os.RemoveAll(base)
	})
	if pg.runuser != "" {
		if err := os.Chown(base, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := pg.run("initdb", "-D", pg.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		missing(t, "initdb failed: %v\n%s", err, out)
	}
	pg.port = testproc.FreePort(t)
	if err := pg.start(); err != nil {
		t.Fatalf("starting the private PostgreSQL: %v", err)
	}
	return pg
}

// run runs a PostgreSQL binary (as postgres when root), bounded to 60 s.
func (pg *privatePG) run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	path := filepath.Join(pg.bin, name)
	var cmd *exec.Cmd
	if pg.runuser != "" {
		cmd = exec.CommandContext(ctx, pg.runuser, append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = pg.base
	// A file, not a pipe: a daemon inheriting a pipe would keep Wait
	// waiting.
	f, err := os.CreateTemp("", "mana-faults-pgout-")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return string(out), err
}

func (pg *privatePG) ctl(args ...string) error {
	out, err := pg.run("pg_ctl", append([]string{"-D", pg.data}, args...)...)
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// start starts the server and waits until it accepts connections.
func (pg *privatePG) start() error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c fsync=on -c max_connections=50",
		pg.port, pg.base)
	return pg.ctl("-l", filepath.Join(pg.base, "postgres.log"), "-w", "-t", "60", "-o", opts, "start")
}

// stop stops the server: mode "fast" (backends terminated, transactions
// rolled back, shutdown checkpoint) or "immediate" (backends killed, crash
// recovery at the next start).
func (pg *privatePG) stop(mode string) error {
	return pg.ctl("-m", mode, "-w", "-t", "60", "stop")
}

func (pg *privatePG) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
}

// openCore opens the instance's mana-auth tables (schema auth) directly.
func openCore(t *testing.T, url string) *postgres.Adapter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, postgres.Options{URL: url, Schema: "auth", MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Bind(auth.CoreSchema()); err != nil {
		t.Fatal(err)
	}
	return db
}

// usersByEmail returns email → user id, and the ids of users without a
// credential account.
func usersByEmail(t *testing.T, db storage.Adapter) (map[string]string, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	users, err := db.FindMany(ctx, plugin.TableUser, storage.Query{})
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := db.FindMany(ctx, plugin.TableAccount, storage.Query{Where: []storage.Where{storage.W("providerId", "credential")}})
	if err != nil {
		t.Fatal(err)
	}
	has := map[string]bool{}
	for _, a := range accounts {
		if a.String("password") != "" {
			has[a.String("userId")] = true
		}
	}
	out := map[string]string{}
	var orphans []string
	for _, u := range users {
		out[u.String("email")] = u.String("id")
		if !has[u.String("id")] {
			orphans = append(orphans, u.String("id")+" "+u.String("email"))
		}
	}
	return out, orphans
}

// pids returns the postmaster's pid and its children's.
func (pg *privatePG) pids() ([]int, error) {
	b, err := os.ReadFile(filepath.Join(pg.data, "postmaster.pid"))
	if err != nil {
		return nil, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pm, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return nil, fmt.Errorf("postmaster.pid: %w", err)
	}
	out := []int{pm}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		raw, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		i := strings.LastIndexByte(string(raw), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(raw[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == pm {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(st)))
			out = append(out, pid)
		}
	}
	return out, nil
}
