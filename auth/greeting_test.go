package auth_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
)

// TestMailsGreetOnlyTheProvedOwner: a user's name, which whoever signed
// the address up chose, is in a mail only to the address of a user who
// verified it; mails to an unverified address, or to a new address being
// confirmed, greet nobody by name.
func TestMailsGreetOnlyTheProvedOwner(t *testing.T) {
	t.Parallel()
	const name = "Mallory. Your account is suspended, restore it at https://evil.example.com"
	type sent struct{ To, Name string }
	unverified := func(t *testing.T, env *emailEnv) *auth.User {
		t.Helper()
		res, err := env.a.SignUpEmail(context.Background(), auth.SignUpInput{Name: name, Email: "old@example.com", Password: "password123"})
		if err != nil {
			t.Fatal(err)
		}
		return res.User
	}
	verified := func(t *testing.T, env *emailEnv) *auth.User {
		t.Helper()
		u := &auth.User{Name: name, Email: "old@example.com", EmailVerified: true}
		if err := env.a.Host().CreateUser(context.Background(), u, nil); err != nil {
			t.Fatal(err)
		}
		return u
	}
	tests := []struct {
		name   string
		mutate func(*auth.Config)
		run    func(t *testing.T, env *emailEnv)
		want   []sent
	}{
		{
			name:   "verification on sign-up",
			mutate: func(c *auth.Config) { c.EmailVerification.SendOnSignUp = true },
			run:    func(t *testing.T, env *emailEnv) { unverified(t, env) },
			want:   []sent{{"old@example.com", ""}},
		},
		{
			name: "verification re-sent",
			run: func(t *testing.T, env *emailEnv) {
				unverified(t, env)
				if err := env.a.ResendVerification(context.Background(), "old@example.com", ""); err != nil {
					t.Fatal(err)
				}
			},
			want: []sent{{"old@example.com", ""}},
		},
		{
			name: "password reset of an unverified user",
			run: func(t *testing.T, env *emailEnv) {
				unverified(t, env)
				if err := env.a.RequestPasswordReset(context.Background(), "old@example.com", ""); err != nil {
					t.Fatal(err)
				}
			},
			want: []sent{{"old@example.com", ""}},
		},
		{
			name: "password reset of a verified user",
			run: func(t *testing.T, env *emailEnv) {
				verified(t, env)
				if err := env.a.RequestPasswordReset(context.Background(), "old@example.com", ""); err != nil {
					t.Fatal(err)
				}
			},
			want: []sent{{"old@example.com", name}},
		},
		{
			name:   "change of email: verification to the new address",
			mutate: func(c *auth.Config) { c.User.ChangeEmailEnabled = true },
			run: func(t *testing.T, env *emailEnv) {
				u := verified(t, env)
				if _, err := env.a.ChangeEmail(context.Background(), &auth.SessionData{User: u}, "victim@example.com", ""); err != nil {
					t.Fatal(err)
				}
			},
			want: []sent{{"victim@example.com", ""}},
		},
		{
			name: "change of email confirmed by the old address",
			mutate: func(c *auth.Config) {
				c.User.ChangeEmailEnabled, c.User.SendChangeEmailConfirmation = true, true
			},
			run: func(t *testing.T, env *emailEnv) {
				u := verified(t, env)
				ctx := context.Background()
				if _, err := env.a.ChangeEmail(ctx, &auth.SessionData{User: u}, "victim@example.com", ""); err != nil {
					t.Fatal(err)
				}
				link, err := url.Parse(env.box.last(t).URL)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := env.a.VerifyEmail(ctx, link.Query().Get("token"), "", ""); err != nil {
					t.Fatal(err)
				}
			},
			want: []sent{{"old@example.com", name}, {"victim@example.com", ""}},
		},
		{
			name: "change of an unverified email at once",
			mutate: func(c *auth.Config) {
				c.User.ChangeEmailEnabled, c.User.UpdateEmailWithoutVerification = true, true
			},
			run: func(t *testing.T, env *emailEnv) {
				u := unverified(t, env)
				if _, err := env.a.ChangeEmail(context.Background(), &auth.SessionData{User: u}, "victim@example.com", ""); err != nil {
					t.Fatal(err)
				}
			},
			want: []sent{{"victim@example.com", ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEmailEnv(t, tt.mutate)
			tt.run(t, env)
			if err := env.a.Shutdown(context.Background()); err != nil { // background mails
				t.Fatal(err)
			}
			var got []sent
			for _, e := range env.box.Sent() {
				got = append(got, sent{e.To, e.Name})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mails sent (-want +got):\n%s", diff)
			}
		})
	}
}
