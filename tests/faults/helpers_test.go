// Package faults_test runs the real mana-auth binary while its neighbours
// fail (issue 12):
//
//   - TestPostgresRestartDuringLoad: a private PostgreSQL instance is
//     stopped (fast, then immediate) and started again under a load of
//     sign-ups and get-sessions; requests fail fast, /ready follows the
//     database, the service recovers by itself, and the database holds
//     every sign-up that answered 200.
//   - TestPostgresAnswerLostAfterCommit: a proxy drops the connection right
//     after PostgreSQL received a sign-up's COMMIT, the window in which a
//     failed answer hides a committed user.
//   - TestPostgresCutDuringRegister: the proxy cuts the connection at the
//     creditsSync INSERT of POST /api/v1/auth/register.
//   - TestPostgresFrozen: PostgreSQL is frozen (SIGSTOP) instead of down.
//   - TestSIGTERMDuringLoad, TestSIGTERMDrainDeadline: in-flight requests
//     finish, new connections are refused, the process exits 0 within
//     SHUTDOWN_TIMEOUT (and does not wait longer for a stuck request).
//   - TestSMTPDownOrSlow: with the SMTP server's port closed, or a server
//     that accepts and never greets, sign-up and password-reset answer at
//     once (their mails leave through the background queue, where a failed
//     send is logged and counted) and answer alike for known and unknown
//     addresses.
//   - TestCreditsDownDuringRegister: a registration while mana-credits is
//     down still creates the user, and the credits init arrives once
//     mana-credits is back.
//
// Every test builds cmd/mana-auth once (go build into a temporary
// directory), talks to it on 127.0.0.1 only, and bounds every loop in count
// and time. The private PostgreSQL instances live in temporary directories
// on free loopback ports (as root, run as the postgres user through
// runuser); the machine's shared PostgreSQL is never touched. A missing
// prerequisite (no PostgreSQL binaries, no postgres user when running as
// root) skips the test, or fails it when CI=true. Findings that are bugs
// are reported with t.Skip("BUG: …") after their evidence is logged, so
// that the suite stays green; other findings are logged as "FINDING:".
// The PostgreSQL, SMTP and credits tests are skipped with -short.
package faults_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/managarten/mana-auth/internal/testproc"
)

const (
	testSecret   = "mana-auth-faults-test-secret-0123456789abcdef"
	testPassword = "faults-test-password-123"
	readyTimeout = 60 * time.Second
)

// missing skips t because a prerequisite is missing, or fails it in CI.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := "prerequisite missing: " + fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// ---------------------------------------------------------------- binary

// binary builds cmd/mana-auth once per test process.
func binary(t *testing.T) string {
	t.Helper()
	return testproc.Binary(t, "mana-auth-faults-bin-")
}

func TestMain(m *testing.M) {
	code := m.Run()
	testproc.RemoveBinary()
	os.Exit(code)
}

// ---------------------------------------------------------------- process

// logBuffer collects a process's output.
type logBuffer struct{ testproc.Buffer }

// Count returns how many lines contain s.
func (b *logBuffer) Count(s string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			n++
		}
	}
	return n
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// server is a running mana-auth process.
type server struct {
	cmd    *exec.Cmd
	out    *logBuffer // stdout and stderr
	done   chan struct{}
	err    error     // Wait's result, set before done is closed
	exitAt time.Time // set before done is closed
	env    map[string]string
	base   string // http://127.0.0.1:PORT
	port   int
}

// serverEnv is the environment of a mana-auth on port: BASE_URL on
// 127.0.0.1, 127.0.0.1 a trusted proxy (so X-Forwarded-For spreads the load
// over the per-IP rate limits), plus extra.
func serverEnv(port int, extra map[string]string) map[string]string {
	env := map[string]string{
		"PORT":             strconv.Itoa(port),
		"BASE_URL":         fmt.Sprintf("http://127.0.0.1:%d", port),
		"AUTH_SECRET":      testSecret,
		"TRUSTED_PROXIES":  "127.0.0.1",
		"SHUTDOWN_TIMEOUT": "10s",
		"LOG_FORMAT":       "text",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// startServer starts mana-auth with a clean environment plus env (nothing of
// the caller's DATABASE_URL, SMTP_HOST... leaks in) and waits for /ready.
func startServer(t *testing.T, env map[string]string) *server {
	t.Helper()
	port, err := strconv.Atoi(env["PORT"])
	if err != nil {
		t.Fatalf("PORT %q: %v", env["PORT"], err)
	}
	cmd := exec.Command(binary(t))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	s := &server{cmd: cmd, out: &logBuffer{}, done: make(chan struct{}), env: env,
		base: fmt.Sprintf("http://127.0.0.1:%d", port), port: port}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = cmd.Wait()
		s.exitAt = time.Now()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("mana-auth output (tail):\n%s", tail(s.out.String(), 60))
		}
	})
	s.waitReady(t)
	return s
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *server) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	c := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		if s.exited() {
			t.Fatalf("mana-auth exited before it was ready: %v\noutput:\n%s", s.err, tail(s.out.String(), 40))
		}
		resp, err := c.Get(s.base + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("mana-auth not ready after %v\noutput:\n%s", readyTimeout, tail(s.out.String(), 40))
}

// stop sends SIGTERM and expects exit status 0 within limit.
func (s *server) stop(t *testing.T, limit time.Duration) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(limit):
		t.Fatalf("mana-auth did not exit within %v of SIGTERM", limit)
	}
	if s.err != nil {
		t.Errorf("mana-auth exited with %v after SIGTERM", s.err)
	}
}

// waitLog waits (bounded) until the output has a line containing sub.
func (s *server) waitLog(sub string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if strings.Contains(s.out.String(), sub) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// ---------------------------------------------------------------- HTTP

// clientIPs hands out a distinct loopback X-Forwarded-For per request (never
// 127.0.0.1, the trusted proxy), so that the per-IP rate limits (3 sign-ups
// or sign-ins per 10 s) do not interfere.
var clientIPs atomic.Uint32

func nextIP() string {
	n := clientIPs.Add(1) + 1<<16
	return fmt.Sprintf("127.%d.%d.%d", (n>>16)&0xff, (n>>8)&0xff, n&0xff)
}

var emailSeq atomic.Uint64

// uniqueEmail returns a fresh address; tag names the test.
func uniqueEmail(tag string) string {
	return fmt.Sprintf("%s-%d-%d@example.com", tag, time.Now().UnixNano()%1e9, emailSeq.Add(1))
}

// result is one request's outcome.
type result struct {
	kind    string
	start   time.Time
	dur     time.Duration
	status  int    // 0 when the request failed
	code    string // error code of a non-200 JSON answer
	userID  string // user.id of a 200 answer
	token   string // token of a 200 sign-up/sign-in answer
	null    bool   // the 200 answer's body was JSON null
	cookies []*http.Cookie
	err     error
	email   string
}

func (r result) String() string {
	if r.err != nil {
		return fmt.Sprintf("%s %s after %v: %v", r.kind, r.email, r.dur.Round(time.Millisecond), r.err)
	}
	return fmt.Sprintf("%s %s: %d %s after %v", r.kind, r.email, r.status, r.code, r.dur.Round(time.Millisecond))
}

// do sends one request as a browser on the server's BASE_URL would (Origin
// header, JSON body) from a fresh X-Forwarded-For address, and decodes the
// answer.
func do(c *http.Client, s *server, method, path string, body any, cookies []*http.Cookie) result {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	r := result{kind: method + " " + path, start: time.Now()}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		r.err = err
		return r
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", s.env["BASE_URL"])
	req.Header.Set("X-Forwarded-For", nextIP())
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	resp, err := c.Do(req)
	if err != nil {
		r.dur, r.err = time.Since(r.start), err
		return r
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	r.dur, r.status, r.cookies = time.Since(r.start), resp.StatusCode, resp.Cookies()
	if err != nil {
		r.err = fmt.Errorf("reading the %d answer: %w", resp.StatusCode, err)
		return r
	}
	var out struct {
		Code  string `json:"code"`
		Token string `json:"token"`
		User  *struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if strings.TrimSpace(string(raw)) == "null" {
		r.null = true
	} else if err := json.Unmarshal(raw, &out); err == nil {
		r.code, r.token = out.Code, out.Token
		if out.User != nil {
			r.userID = out.User.ID
		}
	}
	return r
}

func signUpBody(email string) map[string]string {
	return map[string]string{"email": email, "password": testPassword, "name": "Faults Test"}
}

// durStats summarises durations: n, min, p50, p90, p99, max.
func durStats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n=0"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	return fmt.Sprintf("n=%d min=%v p50=%v p90=%v p99=%v max=%v", len(s), r(s[0]), r(q(0.5)), r(q(0.9)), r(q(0.99)), r(s[len(s)-1]))
}

// countBy renders a histogram of keys.
func countBy(keys []string) string {
	m := map[string]int{}
	for _, k := range keys {
		m[k]++
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	for i, k := range ks {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s×%d", k, m[k])
	}
	return b.String()
}

// statusKey is "200", "503 SERVICE_UNAVAILABLE" or "error".
func statusKey(r result) string {
	if r.err != nil {
		return "transport-error"
	}
	if r.code != "" {
		return strconv.Itoa(r.status) + " " + r.code
	}
	return strconv.Itoa(r.status)
}
