package auth_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage/memory"
)

// gateMailer holds every mail until released, so a test can tell whether
// an answer waited for its mail.
type gateMailer struct {
	mu      sync.Mutex
	release chan struct{}
	sent    []auth.Email
}

func (g *gateMailer) SendEmail(ctx context.Context, e auth.Email) error {
	select {
	case <-g.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.mu.Lock()
	g.sent = append(g.sent, e)
	g.mu.Unlock()
	return nil
}

// The audit found sign-up (and the v1 register) telling a taken address
// from a new one by time: a new one waited for its verification mail and
// an insert. Now neither waits for a mail, and a taken address runs the
// same database statements (rolled back) as a new one.
func TestSignUpSameWorkTakenOrNew(t *testing.T) {
	t.Parallel()
	db := &countingDB{db: memory.New()} // roundtrip_test.go
	gate := &gateMailer{release: make(chan struct{})}
	a, err := auth.New(auth.Config{BaseURL: "http://localhost:3000", Secret: "0123456789abcdef0123456789abcdef-secret-xyz",
		Mailer: gate, HashConcurrency: 2, MailTimeout: time.Minute,
		EmailPassword: auth.EmailPasswordConfig{RequireEmailVerification: true}}, db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	signUp := func(email string) ([]string, *auth.AuthResult) {
		t.Helper()
		db.take()
		done := make(chan struct{})
		var res *auth.AuthResult
		go func() {
			defer close(done)
			res, err = a.SignUpEmail(ctx, auth.SignUpInput{Name: "Ada", Email: email, Password: "password123"})
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("sign-up of %s waits for its mail", email)
		}
		if err != nil {
			t.Fatal(err)
		}
		return db.take(), res
	}
	newOps, first := signUp("ada@example.com")
	takenOps, again := signUp("ada@example.com")
	if diff := cmp.Diff(newOps, takenOps); diff != "" {
		t.Errorf("database work, new vs taken address (-new +taken):\n%s", diff)
	}
	if first.Session != nil || again.Session != nil || first.User.ID == again.User.ID || !again.Existing {
		t.Errorf("answers: new %+v, taken %+v", first, again)
	}
	if n, _ := db.db.Count(ctx, plugin.TableUser); n != 1 {
		t.Fatalf("%d users, want 1 (the decoy must not stay)", n)
	}
	close(gate.release)
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if len(gate.sent) != 1 || gate.sent[0].To != "ada@example.com" {
		t.Fatalf("mails: %+v", gate.sent)
	}
}

// Change-email told the caller whether the new address is registered: a
// confirmation mail reached the caller's own (old) mailbox only for a free
// address, and the answer waited for it. Now the old mailbox gets the same
// mail either way, no answer waits for a mail, and opening the
// confirmation mails the new address only if it is still free.
func TestChangeEmailSameAnswerTakenOrFree(t *testing.T) {
	t.Parallel()
	for _, confirm := range []bool{false, true} {
		t.Run(fmt.Sprintf("confirmation=%v", confirm), func(t *testing.T) {
			t.Parallel()
			env := newEmailEnv(t, func(c *auth.Config) {
				c.User.ChangeEmailEnabled = true
				c.User.SendChangeEmailConfirmation = confirm
			})
			ctx := context.Background()
			for _, e := range []string{"me@example.com", "taken@example.com"} {
				if _, err := env.a.SignUpEmail(ctx, auth.SignUpInput{Name: "N", Email: e, Password: "password123"}); err != nil {
					t.Fatal(err)
				}
			}
			me, err := env.a.Host().FindUserByEmail(ctx, "me@example.com")
			if err != nil {
				t.Fatal(err)
			}
			// A verified caller (the confirmation goes to verified addresses).
			if _, err := env.a.Host().MarkEmailVerified(ctx, me, true); err != nil {
				t.Fatal(err)
			}
			res, err := env.a.Host().CreateSession(ctx, me, true)
			if err != nil {
				t.Fatal(err)
			}
			type seen struct {
				Status int
				Body   string
				ToOld  []plugin.EmailKind // mails to the caller's own mailbox
			}
			try := func(target string) seen {
				env.box.wait()
				before := len(env.box.Sent())
				r := env.do(t, "POST", "/api/auth/change-email", map[string]any{"newEmail": target}, res.Cookies...)
				env.box.wait()
				s := seen{Status: r.status, Body: r.raw}
				for _, m := range env.box.Sent()[before:] {
					if m.To == "me@example.com" {
						s.ToOld = append(s.ToOld, m.Kind)
					}
				}
				return s
			}
			free, taken := try("free@example.com"), try("taken@example.com")
			if diff := cmp.Diff(free, taken); diff != "" {
				t.Fatalf("free vs taken new address (-free +taken):\n%s", diff)
			}
			if !confirm {
				return
			}
			// Opening the confirmation for the taken address mails nobody.
			link := env.box.last(t)
			if link.Kind != plugin.EmailChangeEmail || link.Data["newEmail"] != "taken@example.com" {
				t.Fatalf("last mail %+v", link)
			}
			before := env.box.count()
			if r := env.do(t, "GET", link.URL, nil); r.status != 302 {
				t.Fatalf("confirm: %d %s", r.status, r.raw)
			}
			if n := env.box.count(); n != before {
				t.Fatalf("%d mails after confirming a taken address", n-before)
			}
		})
	}
}
