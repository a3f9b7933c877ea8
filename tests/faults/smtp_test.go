package faults_test

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testproc"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// fakeSMTP is an SMTP server on 127.0.0.1 that records the recipients of
// what it receives.
type fakeSMTP struct {
	srv *smtp.Server
	mu  sync.Mutex
	to  map[string]int // recipient → messages
}

func startFakeSMTP(t *testing.T, ln net.Listener) *fakeSMTP {
	t.Helper()
	f := &fakeSMTP{to: map[string]int{}}
	f.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &fakeSession{f: f}, nil }))
	f.srv.Domain = "localhost"
	f.srv.ReadTimeout, f.srv.WriteTimeout = 10*time.Second, 10*time.Second
	f.srv.ErrorLog = log.New(io.Discard, "", 0)
	go func() { _ = f.srv.Serve(ln) }()
	t.Cleanup(func() { _ = f.srv.Close() })
	return f
}

func (f *fakeSMTP) received(to string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.to[strings.ToLower(to)]
}

type fakeSession struct {
	f     *fakeSMTP
	rcpts []string
}

func (s *fakeSession) Mail(string, *smtp.MailOptions) error { s.rcpts = nil; return nil }
func (s *fakeSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, strings.ToLower(to))
	return nil
}

func (s *fakeSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.f.mu.Lock()
	for _, to := range s.rcpts {
		s.f.to[to]++
	}
	s.f.mu.Unlock()
	return nil
}
func (s *fakeSession) Reset()        { s.rcpts = nil }
func (s *fakeSession) Logout() error { return nil }

// mute is a TCP listener that accepts connections and never says a word
// (an SMTP server that hangs before its greeting).
func mute(t *testing.T, ln net.Listener) {
	t.Helper()
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
}

// TestSMTPDownOrSlow runs mana-auth with REQUIRE_EMAIL_VERIFICATION=true and
// its SMTP server (SMTP_HOST/PORT) first working, then (a) down (port
// closed), then (b) accepting connections without ever greeting. Sign-up
// and POST /api/auth/request-password-reset must answer at once, as they
// do with mail working (their mails leave in the background), so neither
// mail trouble nor a slow mail server can tell which emails have accounts
// or hold requests. Nothing is left half-made: every user has its
// credential account (one whose verification mail failed asks for another
// link), and no reset token outlives a mail that did not go out. The
// SQLite file is read after the process stopped.
func TestSMTPDownOrSlow(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 10 s mail timeout")
	}
	// Mostly waiting: runs alongside the other waiting tests.
	t.Parallel()
	smtpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	smtpPort := smtpLn.Addr().(*net.TCPAddr).Port
	mailer := startFakeSMTP(t, smtpLn)
	dataDir := t.TempDir()
	s := startServer(t, serverEnv(testproc.FreePort(t), map[string]string{
		"DATA_DIR":                   dataDir,
		"REQUIRE_EMAIL_VERIFICATION": "true",
		"SMTP_HOST":                  "127.0.0.1",
		"SMTP_PORT":                  strconv.Itoa(smtpPort),
		"SMTP_FROM":                  "Mana <noreply@example.com>",
	}))
	client := &http.Client{Timeout: 60 * time.Second}
	signUp := func(email string) result {
		r := do(client, s, "POST", "/api/auth/sign-up/email", signUpBody(email), nil)
		r.email = email
		return r
	}
	reset := func(email string) result {
		r := do(client, s, "POST", "/api/auth/request-password-reset", map[string]string{"email": email, "redirectTo": "/reset"}, nil)
		r.email = email
		return r
	}
	wantAtOnce := func(phase string, r result) {
		t.Helper()
		if r.err != nil || r.status != http.StatusOK || r.userID == "" {
			t.Errorf("%s: %v; want 200 with a user", phase, r)
		}
		if r.dur > 2*time.Second {
			t.Errorf("%s: answered after %v; want at once", phase, r.dur)
		}
	}

	// Working SMTP: the user the reset requests are for.
	known := uniqueEmail("smtp-known")
	if r := signUp(known); r.err != nil || r.status != http.StatusOK {
		t.Fatalf("sign-up with SMTP up: %v", r)
	}
	for deadline := time.Now().Add(10 * time.Second); mailer.received(known) == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // the mail leaves in the background
	}
	if mailer.received(known) != 1 {
		t.Fatalf("SMTP up: %d verification mails for %s; want 1", mailer.received(known), known)
	}

	// (a) SMTP port closed.
	if err := mailer.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", smtpLn.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Fatalf("the SMTP port still accepts connections after closing the server")
	}
	downEmail := uniqueEmail("smtp-down")
	downSignUp := signUp(downEmail)
	wantAtOnce("sign-up, SMTP port closed", downSignUp)
	downReset := reset(known)
	downUnknown := reset(uniqueEmail("smtp-nobody"))
	wantSameAnswer := func(phase string, a, b result) {
		t.Helper()
		if a.err != nil || b.err != nil || a.status != http.StatusOK || b.status != http.StatusOK || a.code != b.code {
			t.Errorf("%s: known email %v, unknown email %v; want the same 200", phase, a, b)
		}
		if a.dur > 2*time.Second || b.dur > 2*time.Second {
			t.Errorf("%s: known email answered in %v, unknown in %v; want both at once", phase, a.dur, b.dur)
		}
	}
	wantSameAnswer("request-password-reset, SMTP port closed", downReset, downUnknown)
	t.Logf("SMTP port closed: sign-up %v; reset of a known email %v; reset of an unknown email %v", downSignUp, downReset, downUnknown)

	// (b) A server that accepts and never greets.
	hangLn, err := net.Listen("tcp", smtpLn.Addr().String())
	if err != nil {
		t.Fatalf("re-listening on the SMTP port: %v", err)
	}
	mute(t, hangLn)
	hangEmail := uniqueEmail("smtp-hang")
	var hangSignUp, hangReset, dupSignUp, hangUnknown result
	var health []result
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); hangSignUp = signUp(hangEmail) }()
	go func() { defer wg.Done(); hangReset = reset(known) }()
	time.Sleep(time.Second)
	// While the first sign-up waits for the mail, the same email again
	// (a double submit, a retry).
	wg.Add(1)
	go func() { defer wg.Done(); dupSignUp = signUp(hangEmail) }()
	hangUnknown = reset(uniqueEmail("smtp-nobody"))
	for i := 0; i < 3; i++ {
		health = append(health, do(client, s, "GET", "/health", nil, nil))
		time.Sleep(500 * time.Millisecond)
	}
	wg.Wait()
	wantAtOnce("sign-up, SMTP never greets", hangSignUp)
	wantAtOnce("the same sign-up again, SMTP never greets", dupSignUp)
	wantSameAnswer("request-password-reset, SMTP never greets", hangReset, hangUnknown)
	for _, h := range health {
		if h.err != nil || h.status != http.StatusOK || h.dur > time.Second {
			t.Errorf("/health while mail hangs: %v", h)
		}
	}
	t.Logf("SMTP never greets: sign-up %v; reset of a known email %v; reset of an unknown email %v (mail timeout measured: %v / %v)",
		hangSignUp, hangReset, hangUnknown, hangSignUp.dur.Round(time.Millisecond), hangReset.dur.Round(time.Millisecond))
	t.Logf("the same email signed up again 1 s into the first sign-up's mail wait: %v", dupSignUp)

	// The database after the process stopped.
	s.stop(t, 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dataDir, "mana-auth.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Bind(auth.CoreSchema()); err != nil {
		t.Fatal(err)
	}
	stored, orphans := usersByEmail(t, db)
	for _, o := range orphans {
		t.Errorf("user without its credential account: %s", o)
	}
	for _, e := range []string{known, downEmail, hangEmail} {
		if _, ok := stored[e]; !ok {
			t.Errorf("the user signed up as %s is gone", e)
		}
	}
	vs, err := db.FindMany(ctx, plugin.TableVerification, storage.Query{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if strings.HasPrefix(v.String("identifier"), "reset-password:") {
			t.Errorf("reset token row left behind although its mail never went out: %s for user %s", v.String("id"), v.String("value"))
		}
	}
	sessions, err := db.FindMany(ctx, plugin.TableSession, storage.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 0 {
		t.Errorf("%d sessions exist; with REQUIRE_EMAIL_VERIFICATION nobody signed in", len(sessions))
	}
	t.Logf("database afterwards: %d users (%d expected), %d verification rows, %d sessions", len(stored), 3, len(vs), len(sessions))
}
