package apikey_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/apikey"
	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// TestKeyAsSession checks EnableSessionForAPIKeys: a request with the key
// is its user's on every route, get-session answers Better Auth's
// session shape, and each request counts once however many times its
// session is looked up.
func TestKeyAsSession(t *testing.T) {
	t.Parallel()
	for _, db := range dbs {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: db, opts: apikey.Options{EnableSessionForAPIKeys: true}})
			alice := e.user("alice@example.com")
			created := alice.create(map[string]any{"name": "cli"})
			key, id := created.str("key"), created.str("id")
			cli := e.withKey(key)
			now := e.clock.Now()

			r := cli.do("GET", "/get-session", nil)
			if r.status != 200 {
				t.Fatalf("get-session: %d %s", r.status, r.raw)
			}
			sess := r.body["session"].(map[string]any)
			want := map[string]any{"id": id, "token": key, "userId": alice.userID, "userAgent": "Go-http-client/1.1",
				"ipAddress": "127.0.0.1", "createdAt": plugin.FormatTime(now), "updatedAt": plugin.FormatTime(now),
				"expiresAt": plugin.FormatTime(now.Add(7 * 24 * time.Hour))}
			if d := cmp.Diff(want, sess); d != "" {
				t.Fatalf("session (-want +got):\n%s", d)
			}
			if u := r.body["user"].(map[string]any); u["id"] != alice.userID || u["email"] != "alice@example.com" {
				t.Fatalf("user: %v", u)
			}
			if got := e.row(id).Int("requestCount"); got != 1 {
				t.Fatalf("requestCount after one request: %d, want 1", got)
			}
			if c := r.header.Values("Set-Cookie"); len(c) != 0 {
				t.Fatalf("a key's session sets cookies: %v", c)
			}

			// Routes that need a session run as the key's user, each
			// request counted once.
			r = cli.do("GET", "/api-key/list", nil)
			if r.status != 200 || r.body["total"] != 1.0 {
				t.Fatalf("list with the key: %d %s", r.status, r.raw)
			}
			if r = cli.do("GET", "/list-sessions", nil); r.status != 200 {
				t.Fatalf("list-sessions with the key: %d %s", r.status, r.raw)
			}
			// A route that reads no session counts the key too.
			if r = cli.do("GET", "/ok", nil); r.status != 200 {
				t.Fatalf("ok with the key: %d %s", r.status, r.raw)
			}
			if got := e.row(id).Int("requestCount"); got != 4 {
				t.Fatalf("requestCount after four requests: %d, want 4", got)
			}
			// A key whose expiry is set gives its session that expiry.
			exp := alice.create(map[string]any{"expiresIn": 86400})
			if r = e.withKey(exp.str("key")).do("GET", "/get-session", nil); r.body["session"].(map[string]any)["expiresAt"] != exp.str("expiresAt") {
				t.Fatalf("session of an expiring key: %s", r.raw)
			}
		})
	}
}

// TestBadKeyRefusesRequest checks that a bad key refuses the request on
// every route, even with a valid session cookie, with Better Auth's
// status and code for each reason.
func TestBadKeyRefusesRequest(t *testing.T) {
	t.Parallel()
	for _, db := range dbs {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: db, opts: apikey.Options{EnableSessionForAPIKeys: true}})
			alice := e.user("alice@example.com")
			ctx := context.Background()
			disabled := alice.create(nil)
			if r := alice.do("POST", "/api-key/update", map[string]any{"keyId": disabled.str("id"), "enabled": false}); r.status != 200 {
				t.Fatalf("disable: %d %s", r.status, r.raw)
			}
			expiring := alice.create(map[string]any{"expiresIn": 86400})
			used := e.serverKey(apikey.CreateInput{UserID: alice.userID, Remaining: ptr(int64(0))})
			orphan := e.serverKey(apikey.CreateInput{UserID: e.user("bob@example.com").userID})
			if _, err := e.db.Delete(ctx, plugin.TableUser, storage.W("email", "bob@example.com")); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(24*time.Hour + time.Millisecond)

			cases := []struct {
				name, key, path string
				status          int
				code, msg       string
				deleted         string
			}{
				{"short", strings.Repeat("a", 63), "/get-session", 403, "INVALID_API_KEY", "Invalid API key.", ""},
				{"unknown", strings.Repeat("a", 64), "/get-session", 401, "INVALID_API_KEY", "Invalid API key.", ""},
				{"unknown on a public route", strings.Repeat("b", 64), "/ok", 401, "INVALID_API_KEY", "", ""},
				{"short on sign-out", "x", "/sign-out", 403, "INVALID_API_KEY", "", ""},
				{"disabled", disabled.str("key"), "/get-session", 401, "KEY_DISABLED", "API Key is disabled", ""},
				{"expired", expiring.str("key"), "/api-key/list", 401, "KEY_EXPIRED", "API Key has expired", expiring.str("id")},
				{"used up", used.Secret, "/get-session", 429, "USAGE_EXCEEDED", "API Key has reached its usage limit", used.ID},
				{"user gone", orphan.Secret, "/get-session", 401, "INVALID_REFERENCE_ID_FROM_API_KEY",
					"The reference id from the API key is invalid.", ""},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					c := e.client()
					c.jar, c.c.Jar = alice.jar, alice.jar // alice's valid session cookie too
					c.key = tc.key
					method := "GET"
					var body any
					if tc.path == "/sign-out" {
						method, body = "POST", map[string]any{}
					}
					expectErr(t, c.do(method, tc.path, body), tc.status, tc.code, tc.msg)
					if tc.deleted != "" && e.row(tc.deleted) != nil {
						t.Fatalf("the %s key was not deleted", tc.name)
					}
				})
			}
			// Alice's session itself still works.
			if r := alice.do("GET", "/get-session", nil); r.status != 200 || r.body["user"] == nil {
				t.Fatalf("alice's own session: %d %s", r.status, r.raw)
			}
		})
	}
}

// TestKeySessionOff checks that without EnableSessionForAPIKeys the
// header is ignored: no session from it, no refusal, nothing counted.
func TestKeySessionOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	alice := e.user("alice@example.com")
	r := alice.create(nil)
	if got := e.withKey(r.str("key")).do("GET", "/get-session", nil); got.status != 200 || got.raw != "null" {
		t.Fatalf("get-session with a key and the option off: %d %s", got.status, got.raw)
	}
	c := e.withKey("bad")
	c.jar, c.c.Jar = alice.jar, alice.jar
	if got := c.do("GET", "/get-session", nil); got.status != 200 || got.body["user"] == nil {
		t.Fatalf("a bad key refused a request with the option off: %d %s", got.status, got.raw)
	}
	if n := e.row(r.str("id")).Int("requestCount"); n != 0 {
		t.Fatalf("requestCount %d with the option off", n)
	}
}

// TestKeyRateLimit checks the per-key rate limit over HTTP: 10 requests
// a day, the 11th answered 429 RATE_LIMITED with details.tryAgainIn, the
// user's other keys and cookie session unaffected, and a new window
// after the old one.
func TestKeyRateLimit(t *testing.T) {
	t.Parallel()
	for _, db := range dbs {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: db, opts: apikey.Options{EnableSessionForAPIKeys: true}})
			alice := e.user("alice@example.com")
			k1, k2 := alice.create(nil), alice.create(nil)
			cli := e.withKey(k1.str("key"))
			for i := range 10 {
				if r := cli.do("GET", "/get-session", nil); r.status != 200 {
					t.Fatalf("request %d: %d %s", i+1, r.status, r.raw)
				}
				e.clock.Advance(time.Second)
			}
			r := cli.do("GET", "/get-session", nil)
			var got struct {
				Message string `json:"message"`
				Code    string `json:"code"`
				Details struct {
					TryAgainIn int64 `json:"tryAgainIn"`
				} `json:"details"`
			}
			if err := json.Unmarshal([]byte(r.raw), &got); err != nil {
				t.Fatal(err)
			}
			// The window runs from the last accepted request (Better
			// Auth's evaluateRateLimit), one second before.
			want := 24*time.Hour - time.Second
			if r.status != 429 || got.Code != "RATE_LIMITED" || got.Message != "Rate limit exceeded." ||
				got.Details.TryAgainIn != want.Milliseconds() {
				t.Fatalf("11th request: %d %s, want 429 RATE_LIMITED tryAgainIn %d", r.status, r.raw, want.Milliseconds())
			}
			if ra := r.header.Get("Retry-After"); ra != "86399" {
				t.Fatalf("Retry-After %q", ra)
			}
			if n := e.row(k1.str("id")).Int("requestCount"); n != 10 {
				t.Fatalf("requestCount %d after a refused request", n)
			}
			if r := e.withKey(k2.str("key")).do("GET", "/get-session", nil); r.status != 200 {
				t.Fatalf("another key of the user: %d %s", r.status, r.raw)
			}
			if r := alice.do("GET", "/get-session", nil); r.status != 200 || r.body["user"] == nil {
				t.Fatalf("the cookie session: %d %s", r.status, r.raw)
			}
			e.clock.Advance(want + time.Millisecond)
			if r := cli.do("GET", "/get-session", nil); r.status != 200 {
				t.Fatalf("after the window: %d %s", r.status, r.raw)
			}
			if n := e.row(k1.str("id")).Int("requestCount"); n != 1 {
				t.Fatalf("requestCount %d in a new window, want 1", n)
			}
		})
	}
}

// TestKeySessionLastUseRace sends 20 concurrent requests with a key that
// has one use left: exactly one is let through; the others are refused
// with 429 USAGE_EXCEEDED, or 401 INVALID_API_KEY once a request found
// the key used up and deleted it, as Better Auth's are.
func TestKeySessionLastUseRace(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: db, opts: apikey.Options{EnableSessionForAPIKeys: true}})
			alice := e.user("alice@example.com")
			k := e.serverKey(apikey.CreateInput{UserID: alice.userID, Remaining: ptr(int64(1))})
			statuses := make([]int, 20)
			var wg sync.WaitGroup
			for i := range statuses {
				wg.Go(func() { statuses[i] = e.withKey(k.Secret).do("GET", "/get-session", nil).status })
			}
			wg.Wait()
			count := map[int]int{}
			for _, s := range statuses {
				count[s]++
			}
			if count[200] != 1 || count[429] == 0 || count[200]+count[429]+count[401] != 20 {
				t.Fatalf("statuses %v, want one 200 and the others 429 (or 401 after the deletion)", count)
			}
		})
	}
}

// TestKeySessionBannedUser checks that a banned user's key does not act
// for them (a deliberate difference from Better Auth, whose bans only
// stop new sessions).
func TestKeySessionBannedUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: apikey.Options{EnableSessionForAPIKeys: true}, plugins: []auth.Plugin{bannedField{}}})
	alice := e.user("alice@example.com")
	key := alice.create(nil).str("key")
	ctx := context.Background()
	if _, err := e.a.Host().UpdateUser(ctx, alice.userID, map[string]any{"banned": true}); err != nil {
		t.Fatal(err)
	}
	expectErr(t, e.withKey(key).do("GET", "/get-session", nil), 401, "USER_BANNED", "User is banned")
	// A ban that has run out no longer stops the key.
	if _, err := e.a.Host().UpdateUser(ctx, alice.userID, map[string]any{"banExpires": e.clock.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if r := e.withKey(key).do("GET", "/get-session", nil); r.status != 200 {
		t.Fatalf("after the ban: %d %s", r.status, r.raw)
	}
}

// TestKeySessionGoLookups checks Host.Session outside the routes (an
// app's handler): the key's session, and the key's errors.
func TestKeySessionGoLookups(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: apikey.Options{EnableSessionForAPIKeys: true}})
	alice := e.user("alice@example.com")
	r := alice.create(nil)
	req, cancel := newRequest(e, r.str("key"))
	defer cancel()
	sd, err := e.a.Host().Session(req)
	if err != nil || sd.User.ID != alice.userID || sd.Session.ID != r.str("id") {
		t.Fatalf("Host.Session: %v %v", sd, err)
	}
	// The same request looked up again is not counted again.
	if _, err := e.a.Host().Session(req); err != nil {
		t.Fatal(err)
	}
	if n := e.row(r.str("id")).Int("requestCount"); n != 1 {
		t.Fatalf("requestCount %d after two lookups of one request", n)
	}
	req2, cancel2 := newRequest(e, strings.Repeat("z", 64))
	defer cancel2()
	if _, err := e.a.Host().Session(req2); !errorsIs(err, apikey.ErrInvalidAPIKey) {
		t.Fatalf("unknown key: %v", err)
	}
}

// TestKeyNeverBecomesCookieSession checks that a route that re-issues the
// request's session cookies (update-user) sets none for a key's session:
// with the cookie cache on, such cookies would be accepted without the
// key's checks. A sign-in made with a key in the header keeps the new
// session's cookies.
func TestKeyNeverBecomesCookieSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: apikey.Options{EnableSessionForAPIKeys: true},
		authCfg: func(c *auth.Config) { c.Session.CookieCache.Enabled = true }})
	alice := e.user("alice@example.com")
	key := alice.create(nil).str("key")
	cli := e.withKey(key)
	r := cli.do("POST", "/update-user", map[string]any{"name": "Alice"})
	if r.status != 200 {
		t.Fatalf("update-user with the key: %d %s", r.status, r.raw)
	}
	if c := r.header.Values("Set-Cookie"); len(c) != 0 {
		t.Fatalf("update-user set cookies for a key's session: %v", c)
	}
	r = cli.do("POST", "/sign-in/email", map[string]any{"email": "alice@example.com", "password": "password-1234"})
	if r.status != 200 || !strings.Contains(strings.Join(r.header.Values("Set-Cookie"), "; "), "session_token=") {
		t.Fatalf("sign-in with a key in the header: %d %v %s", r.status, r.header.Values("Set-Cookie"), r.raw)
	}
}
