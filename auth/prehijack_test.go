package auth_test

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

// verifyHooks records the EmailVerified and ResetCredentials hooks.
type verifyHooks struct {
	mu       sync.Mutex
	verified []string
	reset    []string
}

func (p *verifyHooks) ID() string { return "verify-hooks" }

func (p *verifyHooks) Hooks() plugin.Hooks {
	return plugin.Hooks{
		EmailVerified: func(_ context.Context, u *auth.User) error {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.verified = append(p.verified, u.Email)
			return nil
		},
		ResetCredentials: func(_ context.Context, userID string) error {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.reset = append(p.reset, userID)
			return nil
		},
	}
}

func (p *verifyHooks) seen() (verified, reset []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.verified), slices.Clone(p.reset)
}

// An account pre-hijack: someone signs up with another person's address
// and their own password, and waits for the owner to verify it. A first
// verification keeps the account's password only when the link vouches
// for it (mailed for the sign-up or sign-in that gave that password, or
// opened with a session of the account); any other proof of the mailbox
// hands the account to its owner with nothing of the earlier one left.
func TestPreHijack(t *testing.T) {
	t.Parallel()
	const victim, attackerPW, ownerPW = "victim@example.com", "attacker-password", "owner-password"
	type outcome struct {
		Verified        bool
		OldPasswordOK   bool // the sign-up's password still signs in
		OldSessionAlive bool // the sign-up's session still works
		Accounts        int64
		Hooks           []string // what the plugin hooks saw: "verified", "reset"
	}
	for _, tc := range []struct {
		name string
		// act verifies the address the way the case says, given the
		// cookies of the sign-up's session and its mailed link.
		act  func(t *testing.T, env *emailEnv, signUp []*http.Cookie, link string)
		want outcome
	}{
		{
			name: "the owner asks for a new link and opens it",
			act: func(t *testing.T, env *emailEnv, _ []*http.Cookie, _ string) {
				if r := env.do(t, "POST", "/api/auth/send-verification-email", map[string]any{"email": victim}); r.status != 200 {
					t.Fatalf("resend: %d %s", r.status, r.raw)
				}
				if r := env.do(t, "GET", env.box.last(t).URL, nil); r.status != 302 {
					t.Fatalf("verify: %d %s", r.status, r.raw)
				}
			},
			want: outcome{Verified: true, Hooks: []string{"reset", "verified"}},
		},
		{
			name: "the sign-up's own link, opened elsewhere",
			act: func(t *testing.T, env *emailEnv, _ []*http.Cookie, link string) {
				if r := env.do(t, "GET", link, nil); r.status != 302 {
					t.Fatalf("verify: %d %s", r.status, r.raw)
				}
			},
			want: outcome{Verified: true, OldPasswordOK: true, OldSessionAlive: true, Accounts: 1, Hooks: []string{"verified"}},
		},
		{
			name: "a new link opened with a session of the account",
			act: func(t *testing.T, env *emailEnv, signUp []*http.Cookie, _ string) {
				env.do(t, "POST", "/api/auth/send-verification-email", map[string]any{"email": victim})
				if r := env.do(t, "GET", env.box.last(t).URL, nil, signUp...); r.status != 302 {
					t.Fatalf("verify: %d %s", r.status, r.raw)
				}
			},
			want: outcome{Verified: true, OldPasswordOK: true, OldSessionAlive: true, Accounts: 1, Hooks: []string{"verified"}},
		},
		{
			name: "the sign-up's link after the password changed",
			act: func(t *testing.T, env *emailEnv, signUp []*http.Cookie, link string) {
				r := env.do(t, "POST", "/api/auth/change-password", map[string]any{"currentPassword": attackerPW, "newPassword": attackerPW + "2"}, signUp...)
				if r.status != 200 {
					t.Fatalf("change-password: %d %s", r.status, r.raw)
				}
				if r := env.do(t, "GET", link, nil); r.status != 302 {
					t.Fatalf("verify: %d %s", r.status, r.raw)
				}
			},
			want: outcome{Verified: true, Hooks: []string{"reset", "verified"}},
		},
		{
			name: "the owner resets the password",
			act: func(t *testing.T, env *emailEnv, _ []*http.Cookie, _ string) {
				env.do(t, "POST", "/api/auth/request-password-reset", map[string]any{"email": victim})
				token := resetToken(t, env.box.last(t).URL)
				if r := env.do(t, "POST", "/api/auth/reset-password", map[string]any{"token": token, "newPassword": ownerPW}); r.status != 200 {
					t.Fatalf("reset: %d %s", r.status, r.raw)
				}
			},
			want: outcome{Verified: true, Accounts: 1, Hooks: []string{"reset", "verified"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hooks := &verifyHooks{}
			env := newEmailEnvWith(t, func(c *auth.Config) {
				c.EmailVerification.SendOnSignUp = true
				c.EmailVerification.AutoSignInAfterVerification = true
			}, hooks)
			ctx := context.Background()
			su, err := env.a.SignUpEmail(ctx, auth.SignUpInput{Name: "Mallory", Email: victim, Password: attackerPW})
			if err != nil {
				t.Fatal(err)
			}
			link := env.box.last(t).URL
			tc.act(t, env, su.Cookies, link)

			u, err := env.a.Host().FindUserByEmail(ctx, victim)
			if err != nil {
				t.Fatal(err)
			}
			n, err := env.db.Count(ctx, plugin.TableAccount, storage.W("userId", u.ID))
			if err != nil {
				t.Fatal(err)
			}
			signIn := env.do(t, "POST", "/api/auth/sign-in/email", map[string]any{"email": victim, "password": attackerPW})
			session := env.do(t, "GET", "/api/auth/get-session", nil, su.Cookies...)
			verified, reset := hooks.seen()
			got := outcome{Verified: u.EmailVerified, OldPasswordOK: signIn.status == 200,
				OldSessionAlive: session.body != nil, Accounts: n}
			if len(reset) > 0 {
				got.Hooks = append(got.Hooks, "reset")
			}
			if len(verified) > 0 {
				got.Hooks = append(got.Hooks, "verified")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
			if !got.OldPasswordOK && signIn.body["code"] != "INVALID_EMAIL_OR_PASSWORD" {
				t.Fatalf("sign-in with the sign-up's password: %d %s", signIn.status, signIn.raw)
			}
		})
	}
}

// newEmailEnvWith is newEmailEnv with plugins.
func newEmailEnvWith(t *testing.T, mutate func(*auth.Config), plugins ...auth.Plugin) *emailEnv {
	t.Helper()
	env := &emailEnv{box: &outbox{}, emClock: newEmClock(), db: memory.New()}
	return env.start(t, mutate, plugins...)
}

// resetToken is the token of a reset link ("…/reset-password/<token>?…").
func resetToken(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return path.Base(u.Path)
}
