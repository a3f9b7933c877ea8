// Package crash_test runs the real mana-auth binary and kills it.
//
// TestCrashDuringSignUps builds cmd/mana-auth, starts it on SQLite and on
// PostgreSQL, fires concurrent sign-ups, SIGKILLs the process while they are
// in flight, restarts it on the same database and checks that every sign-up
// that answered 200 survived (user and credential account, and the password
// signs in), and that no user exists without its credential account.
//
// TestStartupFailures checks that a bad DATABASE_URL, an unreachable
// database and a database migrated by a newer release make the binary exit
// non-zero within seconds with one clear line on stderr and no stack trace.
package crash_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/internal/testproc"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/sqlite"
)

const (
	testSecret = "mana-auth-crash-test-secret-0123456789abcdef"
	password   = "crash-test-password-123"

	readyTimeout = 60 * time.Second
)

// ---------------------------------------------------------------- binary

// binary builds cmd/mana-auth once per test process into a temporary
// directory (removed by TestMain).
func binary(t *testing.T) string {
	t.Helper()
	return testproc.Binary(t, "mana-auth-crash-")
}

func TestMain(m *testing.M) {
	code := m.Run()
	testproc.RemoveBinary()
	os.Exit(code)
}

// ---------------------------------------------------------------- process

// lockedBuffer collects a process's stderr.
type lockedBuffer = testproc.Buffer

type proc struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	stdout *lockedBuffer
	done   chan struct{}
	err    error // set before done is closed
}

// environ is a clean environment plus env: nothing of the caller's
// DATABASE_URL, AUTH_SECRET... leaks in.
func environ(env map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "LOG_FORMAT=text"}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func start(t *testing.T, env map[string]string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = environ(env)
	p := &proc{cmd: cmd, stderr: &lockedBuffer{}, stdout: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitReady polls GET /ready until it answers 200.
func (p *proc) waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	c := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		if p.exited() {
			t.Fatalf("mana-auth exited before it was ready: %v\nstderr:\n%s", p.err, p.stderr.String())
		}
		resp, err := c.Get(base + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("mana-auth not ready after %v\nstderr:\n%s", readyTimeout, p.stderr.String())
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	<-p.done
}

// stop sends SIGTERM and expects a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("mana-auth did not stop within 30s of SIGTERM\nstderr:\n%s", p.stderr.String())
	}
	if p.err != nil {
		t.Errorf("mana-auth exited with %v after SIGTERM\nstderr:\n%s", p.err, p.stderr.String())
	}
}

// silentListener accepts TCP connections and never writes a byte, until
// the test ends. It returns its host:port.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// ---------------------------------------------------------------- backends

type backend struct {
	name string
	// env returns the database part of the environment for a fresh
	// database (dataDir is a fresh directory).
	env func(t *testing.T, dataDir string) map[string]string
	// open opens that database with our adapter, bound to the core schema.
	open func(t *testing.T, env map[string]string) storage.Adapter
	// setVersion records schema version v in mana_migrations.
	setVersion func(t *testing.T, env map[string]string, v int)
}

var backends = []backend{
	{
		name: "sqlite",
		env: func(t *testing.T, dataDir string) map[string]string {
			return map[string]string{"DATA_DIR": dataDir}
		},
		open: func(t *testing.T, env map[string]string) storage.Adapter {
			db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(env["DATA_DIR"], "mana-auth.db")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			if err := db.Bind(auth.CoreSchema()); err != nil {
				t.Fatal(err)
			}
			return db
		},
		setVersion: func(t *testing.T, env map[string]string, v int) {
			// The modernc driver is registered by storage/sqlite.
			db, err := sql.Open("sqlite", filepath.Join(env["DATA_DIR"], "mana-auth.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`INSERT INTO "mana_migrations" ("id", "version", "description", "sql", "applied_at")
VALUES (?, ?, 'written by a newer mana-auth', '', '2100-01-01T00:00:00.000Z')`, fmt.Sprintf("schema_version:%d", v), v); err != nil {
				t.Fatal(err)
			}
		},
	},
	{
		name: "postgres",
		env: func(t *testing.T, dataDir string) map[string]string {
			return map[string]string{"DATA_DIR": dataDir, "DATABASE_URL": testpg.URL(), "DATABASE_SCHEMA": testpg.SchemaName(t, "crash_")}
		},
		open: func(t *testing.T, env map[string]string) storage.Adapter {
			db, err := postgres.Open(context.Background(), postgres.Options{URL: env["DATABASE_URL"], Schema: env["DATABASE_SCHEMA"], MaxConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			if err := db.Bind(auth.CoreSchema()); err != nil {
				t.Fatal(err)
			}
			return db
		},
		setVersion: func(t *testing.T, env map[string]string, v int) {
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, env["DATABASE_URL"])
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, `INSERT INTO "`+env["DATABASE_SCHEMA"]+`"."mana_migrations" ("id", "version", "description", "sql")
VALUES ($1, $2, 'written by a newer mana-auth', '')`, fmt.Sprintf("schema_version:%d", v), v); err != nil {
				t.Fatal(err)
			}
		},
	},
}

// serverEnv is the environment of a server on port over db. Requests go to
// addr(env) (127.0.0.1, a trusted proxy, so X-Forwarded-For is believed)
// with Origin BASE_URL.
func serverEnv(port int, db map[string]string) map[string]string {
	env := map[string]string{
		"PORT":             strconv.Itoa(port),
		"BASE_URL":         fmt.Sprintf("http://localhost:%d", port), // a domain: passkey's RP ID cannot be an IP
		"AUTH_SECRET":      testSecret,
		"TRUSTED_PROXIES":  "127.0.0.1,::1",
		"SHUTDOWN_TIMEOUT": "10s",
	}
	for k, v := range db {
		env[k] = v
	}
	return env
}

// addr is the loopback URL of the server of env.
func addr(env map[string]string) string { return "http://127.0.0.1:" + env["PORT"] }

// ---------------------------------------------------------------- HTTP

// clientIPs hands out a distinct X-Forwarded-For per request, so that the
// per-IP rate limits (3 sign-ups / sign-ins per 10 s) do not interfere.
var clientIPs atomic.Uint32

func nextIP() string {
	n := clientIPs.Add(1)
	return fmt.Sprintf("10.%d.%d.%d", (n>>16)&0xff, (n>>8)&0xff, n&0xff)
}

var httpClient = &http.Client{
	Timeout:   60 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// post sends a JSON POST to the server of env as a browser on its BASE_URL
// would, and returns the status and the answered user id.
func post(env map[string]string, path string, body map[string]string) (int, string, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, addr(env)+path, bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", env["BASE_URL"])
	req.Header.Set("X-Forwarded-For", nextIP())
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var out struct {
		User *struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil && resp.StatusCode == http.StatusOK {
		return resp.StatusCode, "", fmt.Errorf("decoding 200 answer: %w", err)
	}
	id := ""
	if out.User != nil {
		id = out.User.ID
	}
	return resp.StatusCode, id, nil
}

// ---------------------------------------------------------------- crash test

type signUp struct {
	email  string
	status int    // 0 when the request failed (process killed)
	userID string // from a 200 answer
	err    error
}

// storm starts mana-auth on env, fires total concurrent sign-ups and
// SIGKILLs the process delay after killAfter of them have answered 200. It
// returns the sign-ups that answered 200 and those cut off by the kill.
func storm(t *testing.T, env map[string]string, name string, total, killAfter int, delay time.Duration) (okList, failed []signUp) {
	t.Helper()
	p := start(t, env)
	p.waitReady(t, addr(env))

	signUps := make([]signUp, total)
	var ok200, answered atomic.Int32
	enough := make(chan struct{})
	var enoughOnce sync.Once
	var wg sync.WaitGroup
	startGun := make(chan struct{})
	for i := range signUps {
		signUps[i].email = fmt.Sprintf("crash-%s-%d@example.com", name, i)
		wg.Add(1)
		go func(s *signUp) {
			defer wg.Done()
			<-startGun
			s.status, s.userID, s.err = post(env, "/api/auth/sign-up/email",
				map[string]string{"email": s.email, "password": password, "name": "Crash Test"})
			if s.err == nil {
				answered.Add(1)
			}
			if s.status == http.StatusOK && ok200.Add(1) >= int32(killAfter) {
				enoughOnce.Do(func() { close(enough) })
			}
		}(&signUps[i])
	}
	close(startGun)
	select {
	case <-enough:
	case <-time.After(2 * time.Minute):
		t.Fatalf("only %d sign-ups answered 200 within 2 minutes\nstderr:\n%s", ok200.Load(), p.stderr.String())
	}
	time.Sleep(delay)
	p.kill(t)
	atKill := answered.Load()
	wg.Wait()

	refused := 0
	for _, s := range signUps {
		switch {
		case s.err != nil:
			failed = append(failed, s)
		case s.status == http.StatusOK && s.userID != "":
			okList = append(okList, s)
		case s.status == http.StatusServiceUnavailable:
			// The hash queue sheds load (HashMaxWait) on a busy machine: a
			// refusal, so the user must not exist (checked by the caller,
			// which expects only 200s and committed cut-off sign-ups).
			refused++
		default:
			t.Errorf("sign-up %s answered %d (user %q) before the kill; want 200 (or 503 when busy)", s.email, s.status, s.userID)
		}
	}
	t.Logf("%s: %d sign-ups, %d answered 200, %d refused with 503, %d cut off by SIGKILL %v after the %dth 200 (%d had answered by then)",
		name, total, len(okList), refused, len(failed), delay, killAfter, atKill)
	if len(failed) == 0 {
		t.Fatalf("every sign-up finished before the SIGKILL: nothing was in flight, so the test proved nothing")
	}
	return okList, failed
}

func TestCrashDuringSignUps(t *testing.T) {
	const (
		total     = 32 // concurrent sign-ups per round
		killAfter = 4  // SIGKILL once this many have answered 200 ...
	)
	// ... and this long after, so that rounds cut the server at different
	// points of the hash / write cycle. Each round restarts on the database
	// the previous one left behind.
	delays := []time.Duration{0, 7 * time.Millisecond, 23 * time.Millisecond}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			dataDir := t.TempDir()
			dbEnv := be.env(t, dataDir)
			env := serverEnv(testproc.FreePort(t), dbEnv)

			var okList, failed []signUp
			for round, d := range delays {
				ok, f := storm(t, env, fmt.Sprintf("%s-r%d", be.name, round), total, killAfter, d)
				okList, failed = append(okList, ok...), append(failed, f...)
			}

			// Restart on the same database.
			p2 := start(t, env)
			p2.waitReady(t, addr(env))
			for _, s := range okList {
				status, id, err := post(env, "/api/auth/sign-in/email", map[string]string{"email": s.email, "password": password})
				if err != nil || status != http.StatusOK || id != s.userID {
					t.Errorf("after restart, sign-in of %s (answered 200 as user %s before the kill): status %d user %q err %v",
						s.email, s.userID, status, id, err)
				}
			}
			p2.stop(t)

			// With the process gone, read the database directly.
			db := be.open(t, dbEnv)
			ctx := context.Background()
			users, err := db.FindMany(ctx, plugin.TableUser, storage.Query{})
			if err != nil {
				t.Fatal(err)
			}
			accounts, err := db.FindMany(ctx, plugin.TableAccount, storage.Query{Where: []storage.Where{storage.W("providerId", "credential")}})
			if err != nil {
				t.Fatal(err)
			}
			hasAccount := map[string]bool{}
			for _, a := range accounts {
				if a.String("password") == "" {
					t.Errorf("credential account %s of user %s has no password hash", a.String("id"), a.String("userId"))
				}
				hasAccount[a.String("userId")] = true
			}
			stored := map[string]string{} // email -> id
			for _, u := range users {
				stored[u.String("email")] = u.String("id")
				if !hasAccount[u.String("id")] {
					t.Errorf("user %s (%s) exists without its credential account", u.String("id"), u.String("email"))
				}
			}
			// Every 200 is there; a cut-off sign-up may be there too (it
			// committed but its answer was lost), nothing else.
			want := map[string]string{}
			for _, s := range okList {
				want[s.email] = s.userID
			}
			var committed []string
			for _, s := range failed {
				if id, ok := stored[s.email]; ok {
					want[s.email] = id
					committed = append(committed, s.email)
				}
			}
			if diff := cmp.Diff(want, stored); diff != "" {
				t.Errorf("users in the database vs. sign-ups that answered 200 (plus cut-off ones that committed) (-want +got):\n%s", diff)
			}
			t.Logf("%d of the cut-off sign-ups had committed before the kill", len(committed))

			// A cut-off sign-up that committed did so whole: it signs in.
			if len(committed) > 0 {
				p3 := start(t, env)
				p3.waitReady(t, addr(env))
				for _, e := range committed {
					status, id, err := post(env, "/api/auth/sign-in/email", map[string]string{"email": e, "password": password})
					if err != nil || status != http.StatusOK || id != stored[e] {
						t.Errorf("sign-in of cut-off but committed sign-up %s: status %d user %q err %v, want 200 %s", e, status, id, err, stored[e])
					}
				}
				p3.stop(t)
			}
		})
	}
}

// ---------------------------------------------------------------- start-up failures

func TestStartupFailures(t *testing.T) {
	type tc struct {
		name  string
		env   func(t *testing.T) map[string]string // database part
		args  []string
		wants []string // substrings of the error line
	}
	closedPort := func(t *testing.T) int { return testproc.FreePort(t) } // nothing listens there once FreePort returns
	tests := []tc{
		{
			name: "malformed DATABASE_URL",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"DATABASE_URL": "postgres://user:pw@127.0.0.1:notaport/db"}
			},
			wants: []string{"DATABASE_URL"},
		},
		{
			name: "DATABASE_URL of another scheme",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"DATABASE_URL": "mysql://root@127.0.0.1:3306/auth"}
			},
			wants: []string{"DATABASE_URL"},
		},
		{
			name: "unreachable database",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"DATABASE_URL": fmt.Sprintf("postgres://postgres@127.0.0.1:%d/test?sslmode=disable", closedPort(t))}
			},
			wants: []string{"DATABASE_URL", "unavailable"},
		},
		{
			// Without sslmode pgx tries TLS, then plain: two attempts, and
			// its error lists both on separate lines.
			name: "unreachable database, default sslmode",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"DATABASE_URL": fmt.Sprintf("postgres://postgres@127.0.0.1:%d/test", closedPort(t))}
			},
			wants: []string{"DATABASE_URL", "unavailable"},
		},
		{
			// A peer that accepts the connection and never answers (a hung
			// server, a proxy or firewall that accepts): start-up must not
			// wait forever.
			name: "unresponsive database",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"DATABASE_URL": fmt.Sprintf("postgres://postgres@%s/test?sslmode=disable", silentListener(t))}
			},
			wants: []string{"DATABASE_URL"},
		},
		{
			name: "unreachable database, migrate",
			env: func(t *testing.T) map[string]string {
				return map[string]string{"DATABASE_URL": fmt.Sprintf("postgres://postgres@127.0.0.1:%d/test?sslmode=disable", closedPort(t))}
			},
			args:  []string{"migrate"},
			wants: []string{"DATABASE_URL", "unavailable"},
		},
	}
	for _, be := range backends {
		for _, args := range [][]string{nil, {"migrate"}, {"migrate", "-dry-run"}} {
			tests = append(tests, tc{
				name: fmt.Sprintf("%s schema newer than the binary, %q", be.name, append([]string{"mana-auth"}, args...)),
				env: func(t *testing.T) map[string]string {
					db := be.env(t, t.TempDir())
					// Create the database as this release would, then have a
					// newer release record its version.
					env := serverEnv(testproc.FreePort(t), db)
					p := start(t, env, "migrate")
					<-p.done
					if p.err != nil {
						t.Fatalf("mana-auth migrate: %v\n%s", p.err, p.stderr.String())
					}
					be.setVersion(t, db, 99)
					return db
				},
				args:  args,
				wants: []string{"newer", "99"},
			})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := serverEnv(testproc.FreePort(t), tt.env(t))
			if _, ok := env["DATA_DIR"]; !ok {
				env["DATA_DIR"] = t.TempDir()
			}
			binary(t) // built before the clock starts
			began := time.Now()
			p := start(t, env, tt.args...)
			select {
			case <-p.done:
			case <-time.After(15 * time.Second):
				t.Fatalf("mana-auth still running 15s later; want a prompt exit\nstderr:\n%s", p.stderr.String())
			}
			elapsed := time.Since(began)
			stderr := p.stderr.String()
			t.Logf("exit after %v: %v; stderr:\n%s", elapsed.Round(time.Millisecond), p.err, stderr)
			var ee *exec.ExitError
			if !errors.As(p.err, &ee) || ee.ExitCode() <= 0 {
				t.Fatalf("exit status %v, want a non-zero exit code", p.err)
			}
			if elapsed > 10*time.Second {
				t.Errorf("took %v to fail; want a few seconds", elapsed)
			}
			for _, bad := range []string{"goroutine ", "panic:"} {
				if strings.Contains(stderr, bad) {
					t.Errorf("stderr holds %q (a crash, not a message)", bad)
				}
			}
			// Every line is either a structured log record or the one
			// "mana-auth: ..." error line, which comes last.
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			var errLines []string
			for _, l := range lines {
				switch {
				case strings.HasPrefix(l, "mana-auth: "):
					errLines = append(errLines, l)
				case strings.HasPrefix(l, "time="):
				default:
					t.Errorf("stray stderr line %q (the error should be one line)", l)
				}
			}
			if len(errLines) != 1 || lines[len(lines)-1] != errLines[0] {
				t.Fatalf("want exactly one final \"mana-auth: \" line, got %q", errLines)
			}
			for _, w := range tt.wants {
				if !strings.Contains(errLines[0], w) {
					t.Errorf("error line %q does not mention %q", errLines[0], w)
				}
			}
			if strings.Contains(errLines[0], "pw@") {
				t.Errorf("error line %q leaks the DATABASE_URL password", errLines[0])
			}
		})
	}
}
