package auth_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/plugin"
)

var errTestLocked = plugin.NewError(http.StatusTooManyRequests, "TEST_LOCKED", "Locked by the guard")

// signInGuard is a PasswordCheck hook that refuses the emails in refuse
// and records what it sees: "check <email>" before the sign-in, "done
// <email> <outcome>" after it.
type signInGuard struct {
	id     string
	refuse map[string]*auth.Error
	mu     sync.Mutex
	log    []string
}

func (g *signInGuard) ID() string { return g.id }

func (g *signInGuard) note(s string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.log = append(g.log, s)
}

func (g *signInGuard) seen() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.log...)
}

func (g *signInGuard) Hooks() plugin.Hooks {
	return plugin.Hooks{PasswordCheck: func(ctx context.Context, email string) (func(error), error) {
		g.note(g.id + " check " + email)
		if e := g.refuse[email]; e != nil {
			return nil, e
		}
		return func(err error) { g.note(g.id + " done " + email + " " + outcome(err)) }, nil
	}}
}

// outcome names a sign-in outcome as a guard sees it.
func outcome(err error) string {
	var intr *plugin.Interruption
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &intr):
		return "interrupted"
	}
	return plugin.AsError(err).Code
}

// secondFactor interrupts the sign-ins of one email, as the two-factor
// plugin does.
type secondFactor struct{ email string }

func (p secondFactor) ID() string { return "second-factor" }
func (p secondFactor) Hooks() plugin.Hooks {
	return plugin.Hooks{BeforeSessionCreate: func(ctx context.Context, s *auth.Session, u *auth.User) error {
		if u.Email == p.email && plugin.SignInMethod(ctx) != "" {
			return &plugin.Interruption{Reason: "second factor", Body: map[string]any{"twoFactorRedirect": true}}
		}
		return nil
	}}
}

// PasswordCheck hooks run on every email and password sign-in, before
// any hashing, may refuse it (with a Retry-After), and learn the outcome,
// which is the same for an unknown email as for a wrong password.
func TestPasswordCheckHook(t *testing.T) {
	t.Parallel()
	const pw = "password-123"
	locked := errTestLocked.WithRetryAfter(89*time.Second + 500*time.Millisecond)
	for _, tc := range []struct {
		name, email, password string
		status                int
		code                  string
		verifies              int64 // password checks run (real or dummy)
		seen                  []string
		retryAfter            string
	}{
		{name: "right password", email: "known@example.com", password: pw, status: 200, verifies: 1,
			seen: []string{"first check known@example.com", "second check known@example.com",
				"second done known@example.com ok", "first done known@example.com ok"}},
		{name: "wrong password", email: "Known@Example.com", password: "wrong-password", status: 401, code: "INVALID_EMAIL_OR_PASSWORD", verifies: 1,
			seen: []string{"first check known@example.com", "second check known@example.com",
				"second done known@example.com INVALID_EMAIL_OR_PASSWORD", "first done known@example.com INVALID_EMAIL_OR_PASSWORD"}},
		{name: "unknown email", email: "nobody@example.com", password: "wrong-password", status: 401, code: "INVALID_EMAIL_OR_PASSWORD", verifies: 1,
			seen: []string{"first check nobody@example.com", "second check nobody@example.com",
				"second done nobody@example.com INVALID_EMAIL_OR_PASSWORD", "first done nobody@example.com INVALID_EMAIL_OR_PASSWORD"}},
		{name: "unverified email", email: "unverified@example.com", password: pw, status: 403, code: "EMAIL_NOT_VERIFIED", verifies: 1,
			seen: []string{"first check unverified@example.com", "second check unverified@example.com",
				"second done unverified@example.com EMAIL_NOT_VERIFIED", "first done unverified@example.com EMAIL_NOT_VERIFIED"}},
		{name: "second factor due", email: "twofa@example.com", password: pw, status: 200, verifies: 1,
			seen: []string{"first check twofa@example.com", "second check twofa@example.com",
				"second done twofa@example.com interrupted", "first done twofa@example.com interrupted"}},
		{name: "refused by the first guard", email: "locked@example.com", password: pw, status: 429, code: "TEST_LOCKED", retryAfter: "90",
			seen: []string{"first check locked@example.com"}},
		{name: "refused by the second guard", email: "locked2@example.com", password: pw, status: 429, code: "TEST_LOCKED", retryAfter: "90",
			seen: []string{"first check locked2@example.com", "second check locked2@example.com", "first done locked2@example.com TEST_LOCKED"}},
		{name: "invalid email", email: "not-an-email", password: pw, status: 400, code: "INVALID_EMAIL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			first := &signInGuard{id: "first", refuse: map[string]*auth.Error{"locked@example.com": locked}}
			second := &signInGuard{id: "second", refuse: map[string]*auth.Error{"locked2@example.com": locked}}
			h := &countingHasher{Hasher: testkit.FastHasher{}}
			a, srv := newTestServer(t, func(c *auth.Config) {
				c.Hasher = h
				c.EmailPassword.RequireEmailVerification = true
			}, first, second, secondFactor{email: "twofa@example.com"})
			ctx := context.Background()
			for _, u := range []struct {
				email    string
				verified bool
			}{{"known@example.com", true}, {"unverified@example.com", false}, {"twofa@example.com", true},
				{"locked@example.com", true}, {"locked2@example.com", true}} {
				hash, err := a.Host().HashPassword(ctx, pw)
				if err != nil {
					t.Fatal(err)
				}
				if err := a.Host().CreateUser(ctx, &auth.User{Name: "U", Email: u.email, EmailVerified: u.verified},
					&plugin.Account{ID: plugin.NewID(), ProviderID: plugin.CredentialProvider, Password: &hash}); err != nil {
					t.Fatal(err)
				}
			}
			base := h.verifies.Load()
			r := newClient(t, a, srv).post("/sign-in/email", map[string]any{"email": tc.email, "password": tc.password})
			if tc.code != "" {
				wantError(t, r, tc.status, tc.code)
			} else if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if got := r.Header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if got := h.verifies.Load() - base; got != tc.verifies {
				t.Errorf("%d password checks, want %d", got, tc.verifies)
			}
			got := append(first.seen(), second.seen()...)
			want := append(filterPrefix(tc.seen, "first "), filterPrefix(tc.seen, "second ")...)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("guards saw (-want +got):\n%s", d)
			}

			// The Go call is guarded the same way.
			_, err := a.SignInEmail(ctx, auth.SignInInput{Email: tc.email, Password: tc.password})
			if tc.status == 429 {
				var e *auth.Error
				if !errors.As(err, &e) || !errors.Is(err, errTestLocked) || e.RetryAfterSeconds() != 90 {
					t.Errorf("SignInEmail: %v, want %v with a retry after 90 s", err, errTestLocked)
				}
			}
		})
	}
}

// filterPrefix keeps the entries of s that start with p (nil if none).
func filterPrefix(s []string, p string) []string {
	var out []string
	for _, v := range s {
		if len(v) >= len(p) && v[:len(p)] == p {
			out = append(out, v)
		}
	}
	return out
}
