package auth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

// heldMailer holds every mail until release is closed (a mail server that
// accepts the connection and then hangs), telling entered of each.
type heldMailer struct {
	entered chan plugin.EmailKind
	release chan struct{}
	mu      sync.Mutex
	sent    []auth.Email
}

func newHeldMailer() *heldMailer {
	return &heldMailer{entered: make(chan plugin.EmailKind, 100), release: make(chan struct{})}
}

func (m *heldMailer) SendEmail(ctx context.Context, e auth.Email) error {
	m.entered <- e.Kind
	select {
	case <-m.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	m.mu.Lock()
	m.sent = append(m.sent, e)
	m.mu.Unlock()
	return nil
}

func (m *heldMailer) kinds() []plugin.EmailKind {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []plugin.EmailKind
	for _, e := range m.sent {
		out = append(out, e.Kind)
	}
	return out
}

// answers runs f and fails the test if it has not returned within a
// minute: with the mail held, an answer that waits for its mail never
// comes (the mail timeout is longer).
func answers(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("%s waits for its mail", what)
	}
}

// TestMailLeavesTheRequestPath: with a mail server that hangs, every
// route and host call of the core that mails answers at once, the mail
// still pending; Shutdown waits for the queue within its context, and the
// mails go out once the server answers.
func TestMailLeavesTheRequestPath(t *testing.T) {
	t.Parallel()
	m := newHeldMailer()
	a, srv := newTestServer(t, func(c *auth.Config) {
		c.Mailer, c.MailTimeout = m, 10*time.Minute
		c.EmailPassword.RequireEmailVerification = true
	})
	ctx := context.Background()
	c := newClient(t, a, srv)
	want := []plugin.EmailKind{}
	step := func(what string, kind plugin.EmailKind, f func() *response) {
		t.Helper()
		var r *response
		answers(t, what, func() { r = f() })
		if r != nil && r.Status != 200 {
			t.Fatalf("%s: %d %s", what, r.Status, r.Body)
		}
		if got := <-m.entered; got != kind {
			t.Fatalf("%s: mail %s, want %s", what, got, kind)
		}
		want = append(want, kind)
		if s := a.Stats(); s.MailQueued != len(want) {
			t.Fatalf("%s: %d mails pending, want %d", what, s.MailQueued, len(want))
		}
	}
	step("sign-up", plugin.EmailVerification, func() *response {
		return c.post("/sign-up/email", map[string]any{"name": "Ada", "email": "ada@example.com", "password": "password123"})
	})
	step("request-password-reset", plugin.EmailPasswordReset, func() *response {
		return c.post("/request-password-reset", map[string]any{"email": "ada@example.com", "redirectTo": "/reset"})
	})
	// A session of an unverified account asks for another link.
	u, err := a.Host().FindUserByEmail(ctx, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Host().CreateSession(ctx, u, true)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(srv.URL)
	c.jar.SetCookies(base, res.Cookies)
	step("send-verification-email with a session", plugin.EmailVerification, func() *response {
		return c.post("/send-verification-email", map[string]any{"email": "ada@example.com"})
	})
	step("Host.SendVerificationEmail", plugin.EmailVerification, func() *response {
		if err := a.Host().SendVerificationEmail(ctx, u, "/"); err != nil {
			t.Fatal(err)
		}
		return nil
	})
	step("Host.SendEmailInBackground", plugin.EmailMagicLink, func() *response {
		if err := a.Host().SendEmailInBackground(ctx, plugin.Email{Kind: plugin.EmailMagicLink, To: "ada@example.com", URL: "http://x"}, nil); err != nil {
			t.Fatal(err)
		}
		return nil
	})

	// Shutdown drains within its context: a context that ends first ends it.
	short, cancel := context.WithCancel(ctx)
	cancel()
	if err := a.Shutdown(short); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown with the mails held: %v, want context.Canceled", err)
	}
	close(m.release)
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.kinds(); len(got) != len(want) {
		t.Fatalf("mails sent %v, want %v", got, want)
	}
	if s := a.Stats(); s.MailSent != uint64(len(want)) || s.MailQueued != 0 || s.MailFailed != 0 || s.MailDropped != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestMailQueueFull: beyond MailQueue waiting mails a mail is dropped,
// logged and counted, and the request that caused it answers as ever.
func TestMailQueueFull(t *testing.T) {
	t.Parallel()
	m := newHeldMailer()
	var logs bytes.Buffer
	var logMu sync.Mutex
	a := newAuth(t, func(c *auth.Config) {
		c.Mailer, c.MailTimeout, c.MailQueue, c.MailConcurrency = m, 10*time.Minute, 2, 1
		c.EmailPassword.RequireEmailVerification = true
		c.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))
	})
	ctx := context.Background()
	signUp := func(i int) {
		t.Helper()
		answers(t, "sign-up", func() {
			if _, err := a.SignUpEmail(ctx, auth.SignUpInput{Name: "N", Email: fmt.Sprintf("u%d@example.com", i), Password: "password123"}); err != nil {
				t.Error(err)
			}
		})
	}
	signUp(0)
	<-m.entered // the first is being sent: the queue is empty again
	for i := 1; i <= 3; i++ {
		signUp(i) // two wait, the third is dropped
	}
	if s := a.Stats(); s.MailQueued != 3 || s.MailDropped != 1 {
		t.Fatalf("stats %+v, want 3 pending and 1 dropped", s)
	}
	logMu.Lock()
	logged := logs.String()
	logMu.Unlock()
	if !strings.Contains(logged, "mail queue full") || !strings.Contains(logged, "kind=verification") {
		t.Errorf("no log line for the dropped mail:\n%s", logged)
	}
	if err := a.Host().SendEmailInBackground(ctx, plugin.Email{Kind: plugin.EmailMagicLink, To: "x@example.com"}, nil); !errors.Is(err, auth.ErrBusy) {
		t.Errorf("SendEmailInBackground on a full queue: %v, want ErrBusy", err)
	}
	close(m.release)
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s := a.Stats(); s.MailSent != 3 || s.MailDropped != 2 || s.MailQueued != 0 {
		t.Fatalf("stats after %+v", s)
	}
}

// TestMailFailureCallback: a mail the Mailer fails runs its failed
// function in the background, with the error, and counts as failed.
func TestMailFailureCallback(t *testing.T) {
	t.Parallel()
	env := newEmailEnv(t, nil)
	env.box.SetErr(errors.New("smtp: 554 rejected"))
	ctx := context.Background()
	got := make(chan error, 1)
	if err := env.a.Host().SendEmailInBackground(ctx, plugin.Email{Kind: plugin.EmailMagicLink, To: "x@example.com"},
		func(_ context.Context, err error) { got <- err }); err != nil {
		t.Fatal(err)
	}
	if err := env.a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if !errors.Is(err, auth.ErrEmailSendFailed) {
			t.Errorf("failed got %v", err)
		}
	default:
		t.Fatal("failed did not run")
	}
	if s := env.a.Stats(); s.MailFailed != 1 || s.MailSent != 0 {
		t.Errorf("stats %+v", s)
	}
	// Without a Mailer: an error at once, nothing queued.
	a := newAuth(t, nil)
	if err := a.Host().SendEmailInBackground(ctx, plugin.Email{Kind: plugin.EmailMagicLink, To: "x@example.com"}, nil); !errors.Is(err, auth.ErrVerificationEmailNotEnabled) {
		t.Errorf("without a Mailer: %v", err)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
