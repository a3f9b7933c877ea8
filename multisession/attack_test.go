package multisession_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/plugin"
)

// otherSecretValue is value signed with a secret that is not the server's.
func otherSecretValue(value string) string {
	return plugin.SignCookieValue("another-secret-of-the-same-length-000", value)
}

// TestSetActiveRefusals: set-active switches only to a session the
// browser holds a cookie signed by the server for, and acts on the
// cookie's signed value: a token learnt elsewhere, an unsigned, tampered
// or foreign-signed cookie, and bad input are refused with Better Auth's
// answers, never a 500, and the victim's session is untouched.
func TestSetActiveRefusals(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		e := newEnv(t, envOpts{db: db})
		victim := e.browser()
		tv := victim.signUp("victim@example.com")
		mallory := e.browser()
		tm := mallory.signUp("mallory@example.com")
		badSig := tv + "." + strings.Repeat("A", 43) + "="

		for _, tc := range []struct {
			name   string
			extra  []*http.Cookie
			body   any
			status int
			code   string
			msg    string
			user   string // the user of a 200
		}{
			{name: "a token the browser holds no cookie for", body: map[string]any{"sessionToken": tv},
				status: 401, code: "INVALID_SESSION_TOKEN", msg: "Invalid session token"},
			{name: "unsigned cookie", extra: []*http.Cookie{{Name: multiCookie(tv), Value: tv}},
				body: map[string]any{"sessionToken": tv}, status: 401, code: "INVALID_SESSION_TOKEN"},
			{name: "fake signature", extra: []*http.Cookie{{Name: multiCookie(tv), Value: tv + ".fake-signature"}},
				body: map[string]any{"sessionToken": tv}, status: 401, code: "INVALID_SESSION_TOKEN"},
			{name: "wrong signature of the right shape", extra: []*http.Cookie{{Name: multiCookie(tv), Value: url.QueryEscape(badSig)}},
				body: map[string]any{"sessionToken": tv}, status: 401, code: "INVALID_SESSION_TOKEN"},
			{name: "signed with another secret", extra: []*http.Cookie{{Name: multiCookie(tv), Value: otherSecretValue(tv)}},
				body: map[string]any{"sessionToken": tv}, status: 401, code: "INVALID_SESSION_TOKEN"},
			{name: "the session cookie's name instead", extra: []*http.Cookie{{Name: sessionCk + "_multi", Value: signedValue(tv)}},
				body: map[string]any{"sessionToken": tv}, status: 401, code: "INVALID_SESSION_TOKEN"},
			// The signature covers the value, not the name: mallory's own
			// signed cookie under the victim's name activates mallory's
			// session, never the victim's.
			{name: "own signed cookie under the victim's name", extra: []*http.Cookie{{Name: multiCookie(tv), Value: signedValue(tm)}},
				body: map[string]any{"sessionToken": tv}, status: 200, user: "mallory@example.com"},
			{name: "empty token", body: map[string]any{"sessionToken": ""}, status: 401, code: "INVALID_SESSION_TOKEN"},
			{name: "NUL in the token", body: `{"sessionToken":"` + tv + `\u0000"}`, status: 401, code: "INVALID_SESSION_TOKEN"},
			{name: "invalid UTF-8", body: "{\"sessionToken\":\"\xff\xfe" + tv + "\"}", status: 401, code: "INVALID_SESSION_TOKEN"},
			{name: "overlong token", body: map[string]any{"sessionToken": strings.Repeat("a", 10000)}, status: 401, code: "INVALID_SESSION_TOKEN"},
			{name: "missing", body: map[string]any{}, status: 400, code: "VALIDATION_ERROR",
				msg: "[body.sessionToken] Invalid input: expected string, received undefined"},
			{name: "a number", body: map[string]any{"sessionToken": 7}, status: 400, code: "VALIDATION_ERROR",
				msg: "[body.sessionToken] Invalid input: expected string, received number"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := e.browser()
				b.signIn("mallory@example.com", true)
				b.extra = tc.extra
				r := b.post("/multi-session/set-active", tc.body)
				if r.status != tc.status || r.code() != tc.code {
					t.Fatalf("%d %s, want %d %s", r.status, r.raw, tc.status, tc.code)
				}
				if tc.msg != "" && r.body["message"] != tc.msg {
					t.Errorf("message %q, want %q", r.body["message"], tc.msg)
				}
				if tc.status == 200 && r.user() != tc.user {
					t.Errorf("activated %q, want %q", r.user(), tc.user)
				}
				if tc.status != 200 && r.sets(sessionCk) != "" {
					t.Errorf("a refused set-active set the session cookie: %q", r.setCk)
				}
				if got := b.current(); got != "mallory@example.com" {
					t.Errorf("the browser's session is now %q's", got)
				}
				if !e.sessionAlive(tv) || victim.current() != "victim@example.com" {
					t.Error("the victim's session was touched")
				}
			})
		}
	})
}

// TestSetActiveEndedSession: a cookie whose session was revoked elsewhere,
// or has expired, is refused, expired, and left out of the list.
func TestSetActiveEndedSession(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		for _, tc := range []struct {
			name string
			end  func(e *env, alice string)
		}{
			{"revoked from another browser", func(e *env, _ string) {
				other := e.browser()
				other.signIn("alice@example.com", true)
				if r := other.post("/revoke-sessions", nil); r.status != 200 {
					e.t.Fatalf("revoke-sessions: %d %s", r.status, r.raw)
				}
			}},
			{"revoked from Go", func(e *env, alice string) {
				if _, err := e.a.SignOut(e.t.Context(), alice); err != nil {
					e.t.Fatal(err)
				}
			}},
			// alice signed in for the browser session only (one day).
			{"expired", func(e *env, _ string) { e.clock.Advance(25 * time.Hour) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, envOpts{db: db})
				b := e.browser()
				b.signUp("alice@example.com")
				ta := b.signIn("alice@example.com", false)
				tb := b.signUp("bob@example.com")
				tc.end(e, ta)
				if diff := cmp.Diff([]string{"bob@example.com " + tb}, b.devices()); diff != "" {
					t.Errorf("device sessions (-want +got):\n%s", diff)
				}
				r := b.post("/multi-session/set-active", map[string]any{"sessionToken": ta})
				if r.status != 401 || r.code() != "INVALID_SESSION_TOKEN" {
					t.Fatalf("%d %s", r.status, r.raw)
				}
				if !r.expires(multiCookie(ta)) || r.sets(sessionCk) != "" {
					t.Errorf("Set-Cookie %q: want the ended session's cookie expired, the session cookie untouched", r.setCk)
				}
				if got := b.current(); got != "bob@example.com" {
					t.Errorf("active session %q", got)
				}
			})
		}
	})
}

// TestUpperCaseTokens: cookie names carry the token lower-cased, so any
// casing of the token names the same cookie, whose signed value decides
// the session; a cookie whose name keeps capitals (not one the plugin
// set) is found by the list and sign-out, by its exact name, but not by
// set-active.
func TestUpperCaseTokens(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		e := newEnv(t, envOpts{db: db})
		b := e.browser()
		ta := b.signUp("alice@example.com")
		b.signUp("bob@example.com")
		if ta == strings.ToLower(ta) || ta == strings.ToUpper(ta) {
			t.Skipf("token %s is not of mixed case", ta)
		}
		if got := b.multiNames(); !strings.HasSuffix(got[0], strings.ToLower(ta)) {
			t.Fatalf("cookie names %q", got)
		}
		for _, named := range []string{ta, strings.ToLower(ta), strings.ToUpper(ta)} {
			r := b.post("/multi-session/set-active", map[string]any{"sessionToken": named})
			if s, _ := r.body["session"].(map[string]any); r.status != 200 || s["token"] != ta {
				t.Errorf("set-active %s: %d %s", named, r.status, r.raw)
			}
		}

		// A signed cookie whose name keeps the capitals.
		c := e.browser()
		tc := c.signUp("carol@example.com")
		capital := sessionCk + "_multi-" + tc
		d := e.browser()
		d.extra = []*http.Cookie{{Name: capital, Value: signedValue(tc)}}
		if r := d.post("/multi-session/set-active", map[string]any{"sessionToken": tc}); r.status != 401 || r.code() != "INVALID_SESSION_TOKEN" {
			t.Errorf("set-active by a capitalised name: %d %s", r.status, r.raw)
		}
		if diff := cmp.Diff([]string{"carol@example.com " + tc}, d.devices()); diff != "" {
			t.Errorf("device sessions (-want +got):\n%s", diff)
		}
		r := d.post("/sign-out", nil)
		if r.status != 200 || !r.expires(capital) {
			t.Errorf("sign-out: %d %q, want %s expired", r.status, r.setCk, capital)
		}
		if e.sessionAlive(tc) {
			t.Error("sign-out left the capitalised cookie's session alive")
		}
	})
}

// TestRevoke: revoke deletes only a session the browser holds a signed
// cookie for, the cookie's (not the named token's), and moves the session
// cookie to another device session when it revokes the active one.
func TestRevoke(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		for _, tc := range []struct {
			name string
			// run revokes in b, a browser with alice's and bob's sessions
			// (bob's active); other is a session of another browser.
			run   func(e *env, b *browser, ta, tb, other string) reply
			check func(t *testing.T, e *env, r reply, b *browser, s map[string]string)
		}{
			{"another device session", func(e *env, b *browser, ta, _, _ string) reply {
				return b.post("/multi-session/revoke", map[string]any{"sessionToken": ta})
			}, func(t *testing.T, e *env, r reply, b *browser, s map[string]string) {
				wantStatusTrue(t, r)
				if !r.expires(multiCookie(s["alice"])) || r.cookies[sessionCk] != nil {
					t.Errorf("Set-Cookie %q", r.setCk)
				}
				wantAlive(t, e, s, "bob", "other")
				wantState(t, b, "bob@example.com", "bob@example.com "+s["bob"])
			}},
			{"the active session, another left", func(e *env, b *browser, _, tb, _ string) reply {
				return b.post("/multi-session/revoke", map[string]any{"sessionToken": tb})
			}, func(t *testing.T, e *env, r reply, b *browser, s map[string]string) {
				wantStatusTrue(t, r)
				if !r.expires(multiCookie(s["bob"])) || r.sets(sessionCk) != signedValue(s["alice"]) {
					t.Errorf("Set-Cookie %q: want bob's cookie expired, the session cookie alice's", r.setCk)
				}
				wantAlive(t, e, s, "alice", "other")
				wantState(t, b, "alice@example.com", "alice@example.com "+s["alice"])
			}},
			{"the active session, none left", func(e *env, b *browser, ta, tb, _ string) reply {
				if r := b.post("/multi-session/revoke", map[string]any{"sessionToken": ta}); r.status != 200 {
					return r
				}
				return b.post("/multi-session/revoke", map[string]any{"sessionToken": tb})
			}, func(t *testing.T, e *env, r reply, b *browser, s map[string]string) {
				wantStatusTrue(t, r)
				if !r.expires(multiCookie(s["bob"])) || !r.expires(sessionCk) {
					t.Errorf("Set-Cookie %q: want bob's and the session cookie expired", r.setCk)
				}
				wantAlive(t, e, s, "other")
				wantState(t, b, "")
			}},
			{"a session of another browser", func(e *env, b *browser, _, _, other string) reply {
				return b.post("/multi-session/revoke", map[string]any{"sessionToken": other})
			}, func(t *testing.T, e *env, r reply, b *browser, s map[string]string) {
				wantError(t, r, 401, "INVALID_SESSION_TOKEN")
				wantAlive(t, e, s, "alice", "bob", "other")
			}},
			{"an unsigned cookie for it", func(e *env, b *browser, _, _, other string) reply {
				b.extra = []*http.Cookie{{Name: multiCookie(other), Value: other + ".fake-signature"}}
				return b.post("/multi-session/revoke", map[string]any{"sessionToken": other})
			}, func(t *testing.T, e *env, r reply, b *browser, s map[string]string) {
				wantError(t, r, 401, "INVALID_SESSION_TOKEN")
				wantAlive(t, e, s, "alice", "bob", "other")
			}},
			// Better Auth's own test: the caller's signed cookie under the
			// other session's name revokes the caller's session only.
			{"own signed cookie under its name", func(e *env, b *browser, ta, _, other string) reply {
				b.extra = []*http.Cookie{{Name: multiCookie(other), Value: signedValue(ta)}}
				return b.post("/multi-session/revoke", map[string]any{"sessionToken": other})
			}, func(t *testing.T, e *env, r reply, b *browser, s map[string]string) {
				wantStatusTrue(t, r)
				wantAlive(t, e, s, "bob", "other")
			}},
			{"no session", func(e *env, b *browser, _, _, other string) reply {
				return e.browser().post("/multi-session/revoke", map[string]any{"sessionToken": other})
			}, func(t *testing.T, e *env, r reply, b *browser, s map[string]string) {
				wantError(t, r, 401, "UNAUTHORIZED")
				wantAlive(t, e, s, "alice", "bob", "other")
			}},
			{"missing token", func(e *env, b *browser, _, _, _ string) reply {
				return b.post("/multi-session/revoke", map[string]any{})
			}, func(t *testing.T, e *env, r reply, b *browser, s map[string]string) {
				wantError(t, r, 400, "VALIDATION_ERROR")
				wantAlive(t, e, s, "alice", "bob", "other")
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, envOpts{db: db})
				b := e.browser()
				ta, tb := b.signUp("alice@example.com"), b.signUp("bob@example.com")
				other := e.browser().signUp("other@example.com")
				r := tc.run(e, b, ta, tb, other)
				b.extra = nil
				tc.check(t, e, r, b, map[string]string{"alice": ta, "bob": tb, "other": other})
			})
		}
	})
}

func wantStatusTrue(t *testing.T, r reply) {
	t.Helper()
	if r.status != 200 || r.raw != `{"status":true}` {
		t.Errorf("%d %s, want 200 {\"status\":true}", r.status, r.raw)
	}
}

func wantError(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status || r.code() != code {
		t.Errorf("%d %s, want %d %s", r.status, r.raw, status, code)
	}
}

// wantAlive checks which of the named sessions are alive.
func wantAlive(t *testing.T, e *env, sessions map[string]string, alive ...string) {
	t.Helper()
	got, want := map[string]bool{}, map[string]bool{}
	for name, tok := range sessions {
		got[name] = e.sessionAlive(tok)
		want[name] = false
	}
	for _, name := range alive {
		want[name] = true
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sessions alive (-want +got):\n%s", diff)
	}
}

// wantState checks the browser's active user and device sessions.
func wantState(t *testing.T, b *browser, active string, devices ...string) {
	t.Helper()
	if got := b.current(); got != active {
		t.Errorf("active session %q, want %q", got, active)
	}
	if devices == nil {
		devices = []string{}
	}
	if diff := cmp.Diff(devices, b.devices()); diff != "" {
		t.Errorf("device sessions (-want +got):\n%s", diff)
	}
}

// TestSignOutEndsAllDeviceSessions: sign-out deletes the session of every
// signed multi-session cookie of the browser and expires the cookies; a
// forged cookie for another browser's session deletes nothing.
func TestSignOutEndsAllDeviceSessions(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		e := newEnv(t, envOpts{db: db})
		victim := e.browser()
		tv := victim.signUp("victim@example.com")
		b := e.browser()
		s := map[string]string{"victim": tv}
		for _, name := range []string{"alice", "bob", "carol"} {
			s[name] = b.signUp(name + "@example.com")
		}
		copied := b.clone()
		b.extra = []*http.Cookie{
			{Name: multiCookie(tv), Value: tv + ".fake-signature"},
			{Name: multiCookie(tv) + "0", Value: otherSecretValue(tv)},
		}
		r := b.post("/sign-out", nil)
		if r.status != 200 || r.raw != `{"success":true}` {
			t.Fatalf("sign-out: %d %s", r.status, r.raw)
		}
		for _, name := range []string{"alice", "bob", "carol"} {
			if !r.expires(multiCookie(s[name])) {
				t.Errorf("%s's multi-session cookie not expired: %q", name, r.setCk)
			}
		}
		if !r.expires(sessionCk) || r.expires(multiCookie(tv)) {
			t.Errorf("Set-Cookie %q: want the session cookie expired and the forged one left alone", r.setCk)
		}
		wantAlive(t, e, s, "victim")
		b.extra = nil
		wantState(t, b, "")
		wantState(t, copied, "")
		if got := victim.current(); got != "victim@example.com" {
			t.Errorf("the victim's browser: %q", got)
		}
	})
}

// clone returns a browser holding b's cookies.
func (b *browser) clone() *browser {
	c := b.e.browser()
	u, _ := url.Parse(b.e.srv.URL)
	var cks []*http.Cookie
	for _, ck := range b.jar.Cookies(u) {
		cks = append(cks, &http.Cookie{Name: ck.Name, Value: ck.Value, Path: "/"})
	}
	c.jar.SetCookies(u, cks)
	return c
}

// TestConcurrency: requests racing in copies of one browser never answer
// a 5xx nor leave a half-done state: a device session revoked while it is
// being activated ends; concurrent sign-ins of the user a device session
// belongs to all replace it.
func TestConcurrency(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		const n = 8
		run := func(f func(i int, c *browser) reply, b *browser) []reply {
			out := make([]reply, n)
			var wg sync.WaitGroup
			for i := range n {
				c := b.clone()
				wg.Go(func() { out[i] = f(i, c) })
			}
			wg.Wait()
			return out
		}

		t.Run("revoke and set-active", func(t *testing.T) {
			e := newEnv(t, envOpts{db: db})
			b := e.browser()
			ta := b.signUp("alice@example.com")
			tb := b.signUp("bob@example.com")
			replies := run(func(i int, c *browser) reply {
				if i%2 == 0 {
					return c.post("/multi-session/revoke", map[string]any{"sessionToken": ta})
				}
				return c.post("/multi-session/set-active", map[string]any{"sessionToken": ta})
			}, b)
			for i, r := range replies {
				switch {
				case i%2 == 0 && r.status != 200:
					t.Errorf("revoke %d: %d %s", i, r.status, r.raw)
				case i%2 == 1 && r.status != 200 && (r.status != 401 || r.code() != "INVALID_SESSION_TOKEN"):
					t.Errorf("set-active %d: %d %s", i, r.status, r.raw)
				}
			}
			wantAlive(t, e, map[string]string{"alice": ta, "bob": tb}, "bob")
		})

		t.Run("same-user sign-ins", func(t *testing.T) {
			e := newEnv(t, envOpts{db: db})
			b := e.browser()
			t1 := b.signUp("alice@example.com")
			tb := b.signUp("bob@example.com")
			replies := run(func(_ int, c *browser) reply {
				return c.post("/sign-in/email", map[string]any{"email": "alice@example.com", "password": password})
			}, b)
			s := map[string]string{"first": t1, "bob": tb}
			alive := []string{"bob"}
			for i, r := range replies {
				if r.status != 200 || !r.expires(multiCookie(t1)) {
					t.Errorf("sign-in %d: %d %s %q", i, r.status, r.raw, r.setCk)
					continue
				}
				tok := b.tokenOf(r)
				if r.sets(multiCookie(tok)) != signedValue(tok) {
					t.Errorf("sign-in %d: no multi-session cookie: %q", i, r.setCk)
				}
				name := "new" + string(rune('0'+i))
				s[name] = tok
				alive = append(alive, name)
			}
			wantAlive(t, e, s, alive...)
		})
	})
}

// TestManyCookies: a request carrying hundreds of signed multi-session
// cookies (values the server signed, none a session) is answered without
// a 5xx, reading at most 128 of them (alice's own, sent after them, is
// not read: the list is empty; sign-out still ends the active session).
func TestManyCookies(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		e := newEnv(t, envOpts{db: db})
		b := e.browser()
		ta := b.signUp("alice@example.com")
		for i := range 300 {
			v := fmt.Sprintf("junk%04d", i)
			b.extra = append(b.extra, &http.Cookie{Name: multiCookie(v), Value: signedValue(v)})
		}
		if diff := cmp.Diff([]string{}, b.devices()); diff != "" {
			t.Errorf("device sessions behind 300 other cookies (-want +got):\n%s", diff)
		}
		r := b.post("/sign-out", nil)
		if r.status != 200 {
			t.Fatalf("sign-out: %d %s", r.status, r.raw)
		}
		n := 0
		for name, c := range r.cookies {
			if strings.Contains(name, "_multi-") && c.MaxAge < 0 {
				n++
			}
		}
		if n != 128 {
			t.Errorf("sign-out expired %d multi-session cookies, want the 128 read", n)
		}
		if e.sessionAlive(ta) {
			t.Error("the active session survived sign-out")
		}
		if got := b.current(); got != "" {
			t.Errorf("signed in as %q after sign-out", got)
		}
	})
}
