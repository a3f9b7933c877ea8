package admin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/admin"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// TestBannedSignIn: a banned user's sign-in is refused with 403
// BANNED_USER until the ban ends; then it succeeds and lifts the ban.
func TestBannedSignIn(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, kind string) {
		e := newEnv(t, envOpts{db: kind})
		adm := e.admin("root@example.com")
		bob := e.signUp("bob@example.com")
		if r := adm.post("/admin/ban-user", map[string]any{"userId": bob.user, "banReason": "spam", "banExpiresIn": 3600}); r.status != 200 {
			t.Fatalf("ban-user: %d %s", r.status, r.raw)
		}
		b := e.browser()
		r := b.signIn("bob@example.com")
		if diff := cmp.Diff(errBody{403, "BANNED_USER", admin.DefaultBannedUserMessage}, r.err()); diff != "" {
			t.Errorf("banned sign-in (-want +got):\n%s", diff)
		}
		if b.session() != nil || e.count(plugin.TableSession, storage.W("userId", bob.user)) != 0 {
			t.Error("a banned sign-in left a session")
		}
		// A wrong password is still a wrong password: the ban tells nothing
		// to whoever does not know it.
		r = b.post("/sign-in/email", map[string]any{"email": "bob@example.com", "password": "wrong-password"})
		if r.status != 401 || r.str("code") != "INVALID_EMAIL_OR_PASSWORD" {
			t.Errorf("banned sign-in with a wrong password: %d %s", r.status, r.raw)
		}
		// Every path that creates a session is refused.
		_, err := e.a.Host().CreateSession(context.Background(), e.user(bob.user), true)
		if !errors.Is(err, admin.ErrBannedUser) {
			t.Errorf("Host.CreateSession of a banned user: %v", err)
		}

		e.clock.Advance(time.Hour + time.Second)
		r = b.signIn("bob@example.com")
		if r.status != 200 {
			t.Fatalf("sign-in after the ban: %d %s", r.status, r.raw)
		}
		u := r.obj("user")
		got := map[string]any{"banned": u["banned"], "banReason": u["banReason"], "banExpires": u["banExpires"]}
		want := map[string]any{"banned": false, "banReason": nil, "banExpires": nil}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("the signed-in user (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]any{"banned": false, "banReason": nil, "banExpires": nil, "role": "user"}, e.user(bob.user).Extra); diff != "" {
			t.Errorf("the stored user (-want +got):\n%s", diff)
		}
	})
}

// TestBannedUserMessage: Options.BannedUserMessage and DefaultBanReason
// and DefaultBanExpiresIn apply.
func TestBannedUserMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: admin.Options{BannedUserMessage: "Go away", DefaultBanReason: "Rules",
		DefaultBanExpiresIn: 24 * time.Hour}})
	adm := e.admin("root@example.com")
	bob := e.signUp("bob@example.com")
	r := adm.post("/admin/ban-user", map[string]any{"userId": bob.user})
	u := r.obj("user")
	if u["banReason"] != "Rules" || u["banExpires"] == nil {
		t.Errorf("ban-user with the defaults: %s", r.raw)
	}
	if diff := cmp.Diff(errBody{403, "BANNED_USER", "Go away"}, e.browser().signIn("bob@example.com").err()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestBanEndsSessions: ban-user and update-user {banned: true} end the
// user's live sessions: get-session answers null at once.
func TestBanEndsSessions(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, kind string) {
		e := newEnv(t, envOpts{db: kind})
		adm := e.admin("root@example.com")
		for _, tc := range []struct {
			path string
			body func(id string) any
		}{
			{"/admin/ban-user", func(id string) any { return map[string]any{"userId": id} }},
			{"/admin/update-user", func(id string) any { return map[string]any{"userId": id, "data": map[string]any{"banned": true}} }},
		} {
			victim := e.signUp("victim-" + tc.path[7:10] + "@example.com")
			laptop := e.browser()
			if r := laptop.signIn("victim-" + tc.path[7:10] + "@example.com"); r.status != 200 {
				t.Fatal(r.raw)
			}
			if r := adm.post(tc.path, tc.body(victim.user)); r.status != 200 {
				t.Fatalf("%s: %d %s", tc.path, r.status, r.raw)
			}
			for i, b := range []*browser{victim, laptop} {
				if s := b.session(); s != nil {
					t.Errorf("%s: session %d still answers: %v", tc.path, i, s)
				}
				if c := b.cookie("better-auth.session_token"); c != nil {
					t.Errorf("%s: session %d's cookie was not expired", tc.path, i)
				}
			}
			if n := e.count(plugin.TableSession, storage.W("userId", victim.user)); n != 0 {
				t.Errorf("%s left %d sessions", tc.path, n)
			}
		}
	})
}

// TestBanAdminEndsImpersonations: banning an admin ends the impersonation
// sessions they opened, as removing them does.
func TestBanAdminEndsImpersonations(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, kind string) {
		e := newEnv(t, envOpts{db: kind})
		root := e.admin("root@example.com")
		for _, path := range []string{"/admin/ban-user", "/admin/remove-user"} {
			helper := e.admin("helper-" + path[7:10] + "@example.com")
			bob := e.signUp("bob-" + path[7:10] + "@example.com")
			if r := helper.post("/admin/impersonate-user", map[string]any{"userId": bob.user}); r.status != 200 {
				t.Fatalf("impersonate-user: %d %s", r.status, r.raw)
			}
			if s := helper.session(); s == nil || s["user"].(map[string]any)["id"] != bob.user {
				t.Fatalf("impersonation session: %v", s)
			}
			if r := root.post(path, map[string]any{"userId": helper.user}); r.status != 200 {
				t.Fatalf("%s: %d %s", path, r.status, r.raw)
			}
			if s := helper.session(); s != nil {
				t.Errorf("%s: the impersonation session survived: %v", path, s)
			}
			if bob.session() == nil {
				t.Errorf("%s: the impersonated user's own session ended", path)
			}
		}
	})
}
