package twofactor_test

import (
	"context"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// TestSensitiveRoutesSkipCookieCache: with the session cookie cache on,
// a session deleted behind the cache's back still answers get-session
// (Better Auth's trade-off), but the two-factor routes that Better Auth
// guards with an authoritative session read the database and refuse it.
func TestSensitiveRoutesSkipCookieCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: func(c *auth.Config) { c.Session.CookieCache.Enabled = true }})
	for i, path := range []string{"/two-factor/enable", "/two-factor/disable", "/two-factor/verify-totp"} {
		b := e.browser()
		b.signUp(t, "cache"+string(rune('a'+i))+"@example.com")
		token := b.cookie("better-auth.session_token")
		if token == "" || b.cookie("better-auth.session_data") == "" {
			t.Fatalf("%s: no session or cache cookie", path)
		}
		if _, err := e.db.Delete(context.Background(), plugin.TableSession, storage.W("userId", ok(t, b.do(t, "GET", "/get-session", nil)).body["user"].(map[string]any)["id"])); err != nil {
			t.Fatal(err)
		}
		if r := b.do(t, "GET", "/get-session", nil); r.status != 200 || r.body == nil {
			t.Fatalf("%s: get-session from the cache: %d %s", path, r.status, r.raw)
		}
		r := b.post(t, path, map[string]any{"password": password, "code": "123456"})
		if r.status != 401 {
			t.Errorf("%s with a cached but deleted session: %d %s, want 401", path, r.status, r.raw)
		}
	}
}
