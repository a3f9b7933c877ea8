package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// GET /api/v1/auth/sessions and DELETE /api/v1/auth/sessions/{id}, as
// mana's shared client calls them (listSessions, revokeSession): the
// caller's unexpired sessions with the fields SessionManager reads and
// never a token; revoking one ends it (its cookie and its access token
// stop working), revoking the caller's own by cookie expires the cookie;
// another user's session or an unknown id is 404 and nothing changes.
func TestV1Sessions(t *testing.T) {
	t.Parallel()
	onEachStore(t, nil, func(t *testing.T, env *e2e) {
		ctx := context.Background()
		const p = "/api/v1/auth/sessions"
		tick := func() { env.clock.Set(env.clock.Now().Add(time.Second)) }
		alice := env.seed(t, "alice@example.com")
		bob := env.seed(t, "bob@example.com")
		u, _ := env.s.auth.Host().FindUserByID(ctx, alice.id)
		tick()
		second := env.session(t, u)
		tick()
		// A session from a sign-in over HTTP: IP address and user agent.
		r := env.post(t, "/api/v1/auth/login", `{"email":"alice@example.com","password":"`+testPassword+`"}`, "User-Agent", "Firefox/140")
		want(t, "login", r, 200, "")
		loginJWT := str(r.body["accessToken"])
		// An expired session is not listed.
		tick()
		old := env.session(t, u)
		if _, err := env.s.db.Update(ctx, plugin.TableSession, storage.Record{"expiresAt": env.clock.Now().Add(-time.Minute)},
			storage.W("token", old.token)); err != nil {
			t.Fatal(err)
		}

		list := func(what string, hdr ...string) []map[string]any {
			t.Helper()
			r := env.get(t, p, hdr...)
			want(t, what, r, 200, "")
			var out []map[string]any
			decodeRaw(t, r, &out)
			for _, tok := range []string{alice.token, second.token, old.token, bob.token} {
				if strings.Contains(r.raw, tok) {
					t.Errorf("%s: a session token in the answer %s", what, r.raw)
				}
			}
			return out
		}
		got := list("list by JWT", bearer(alice.jwt)...)
		if len(got) != 3 {
			t.Fatalf("listed %d sessions, want 3: %v", len(got), got)
		}
		ids := []string{str(got[0]["id"]), str(got[1]["id"]), str(got[2]["id"])}
		if ids[1] != sessionID(t, env, second) || ids[2] != sessionID(t, env, alice) {
			t.Errorf("order (newest first): %v", ids)
		}
		for i, s := range got {
			for _, f := range []string{"id", "ipAddress", "userAgent", "deviceId", "deviceName", "lastActivityAt", "createdAt", "expiresAt", "current"} {
				if _, ok := s[f]; !ok {
					t.Errorf("session lacks %s: %v", f, s)
				}
			}
			if s["current"] != (i == 2) {
				t.Errorf("current of %v", s)
			}
		}
		if got[0]["userAgent"] != "Firefox/140" || str(got[0]["ipAddress"]) == "" {
			t.Errorf("login session: %v", got[0])
		}
		if got := list("list by cookie", "Cookie", second.cookie); got[1]["current"] != true || got[2]["current"] != false {
			t.Errorf("current by cookie: %v", got)
		}
		if got := list("list by the login's JWT", bearer(loginJWT)...); got[0]["current"] != true {
			t.Errorf("current by the login's token: %v", got)
		}

		// Another user's session, an unknown id: 404, nothing changes.
		env.settleCredits(t)
		before := env.snapshot(t)
		want(t, "bob's session", env.do(t, req{method: "DELETE", path: p + "/" + sessionID(t, env, bob), hdr: bearer(alice.jwt)}), 404, "NOT_FOUND")
		want(t, "bob's session by cookie", env.do(t, req{method: "DELETE", path: p + "/" + sessionID(t, env, bob), hdr: []string{"Cookie", alice.cookie}}), 404, "NOT_FOUND")
		want(t, "unknown session", env.do(t, req{method: "DELETE", path: p + "/no-such-session", hdr: bearer(alice.jwt)}), 404, "NOT_FOUND")
		env.unchanged(t, "refused revocations", before)
		want(t, "bob still in", env.get(t, p, bearer(bob.jwt)...), 200, "")

		// Revoking the second session ends its cookie and its token.
		r = env.do(t, req{method: "DELETE", path: p + "/" + ids[1], hdr: bearer(alice.jwt)})
		if want(t, "revoke", r, 200, ""); r.body["success"] != true || cookieOf(r, "mana.session_token") != "" || deletesCookie(r, "mana.session_token") {
			t.Errorf("revoke by JWT: %s %v", r.raw, r.header["Set-Cookie"])
		}
		want(t, "revoked session's token", env.get(t, p, bearer(second.jwt)...), 401, "UNAUTHORIZED")
		want(t, "revoked session's cookie", env.get(t, p, "Cookie", second.cookie), 401, "UNAUTHORIZED")
		want(t, "revoked again", env.do(t, req{method: "DELETE", path: p + "/" + ids[1], hdr: bearer(alice.jwt)}), 404, "NOT_FOUND")
		if got := list("after the revocation", bearer(alice.jwt)...); len(got) != 2 {
			t.Errorf("%d sessions left, want 2", len(got))
		}

		// Revoking one's own session by its cookie signs out.
		r = env.do(t, req{method: "DELETE", path: p + "/" + ids[2], hdr: []string{"Cookie", alice.cookie}})
		if want(t, "revoke own", r, 200, ""); !deletesCookie(r, "mana.session_token") {
			t.Errorf("own revocation kept the cookie: %v", r.header["Set-Cookie"])
		}
		want(t, "own revoked cookie", env.get(t, p, "Cookie", alice.cookie), 401, "UNAUTHORIZED")

		n := env.count(t, TableSecurityEvent, storage.W("eventType", EventSessionRevoked), storage.W("userId", alice.id))
		if n != 2 {
			t.Errorf("%d SESSION_REVOKED events, want 2", n)
		}
	})
}

// GET /api/v1/auth/security-events answers the JSON array the shared
// client's getSecurityEvents returns, to a bearer JWT (as the client
// calls it) and to a session cookie alike; ?limit= bounds it.
func TestV1OwnSecurityEvents(t *testing.T) {
	t.Parallel()
	env := newE2E(t, nil)
	tick := func() { env.clock.Set(env.clock.Now().Add(time.Second)) }
	alice := env.seed(t, "alice@example.com")
	bob := env.seed(t, "bob@example.com")
	for range 3 {
		tick()
		want(t, "login", env.post(t, "/api/v1/auth/login", `{"email":"alice@example.com","password":"`+testPassword+`"}`), 200, "")
	}
	want(t, "bob's login", env.post(t, "/api/v1/auth/login", `{"email":"bob@example.com","password":"`+testPassword+`"}`), 200, "")
	tick()
	want(t, "password change", env.post(t, "/api/v1/auth/change-password",
		`{"currentPassword":"`+testPassword+`","newPassword":"password456"}`, "Cookie", alice.cookie), 200, "")

	events := func(what string, hdr []string, query string) []map[string]any {
		t.Helper()
		r := env.get(t, "/api/v1/auth/security-events"+query, hdr...)
		want(t, what, r, 200, "")
		var out []map[string]any
		decodeRaw(t, r, &out)
		return out
	}
	for what, hdr := range map[string][]string{"JWT": bearer(alice.jwt), "cookie": {"Cookie", alice.cookie}} {
		got := events(what, hdr, "?limit=50")
		count := map[string]int{}
		for _, e := range got {
			count[str(e["eventType"])]++
		}
		if count[EventRegister] != 1 || count[EventLoginSuccess] != 3 || count[EventPasswordChanged] == 0 {
			t.Errorf("%s: events %v", what, count)
		}
		for _, e := range got {
			if e["userId"] != alice.id {
				t.Errorf("%s: someone else's event %v", what, e)
			}
			for _, f := range []string{"id", "eventType", "ipAddress", "userAgent", "metadata", "createdAt"} {
				if _, ok := e[f]; !ok {
					t.Errorf("%s: event lacks %s: %v", what, f, e)
				}
			}
			if _, ok := e["metadata"].(map[string]any); !ok {
				t.Errorf("%s: metadata %v, want an object", what, e["metadata"])
			}
		}
		if len(got) > 0 && got[0]["eventType"] != EventPasswordChanged {
			t.Errorf("%s: newest first: %v", what, got[0])
		}
	}
	if got := events("limit 2", bearer(alice.jwt), "?limit=2"); len(got) != 2 {
		t.Errorf("limit 2: %d events", len(got))
	}
	if got := events("bob", bearer(bob.jwt), ""); len(got) != 2 {
		t.Errorf("bob: %d events, want 2", len(got))
	}
	r := env.get(t, "/api/v1/auth/security-events", bearer(alice.jwt)...)
	if !json.Valid([]byte(r.raw)) || !strings.HasPrefix(strings.TrimSpace(r.raw), "[") {
		t.Errorf("not a JSON array: %s", short(r.raw))
	}
}
