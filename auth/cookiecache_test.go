package auth_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

var cacheStrategies = []auth.CookieCacheStrategy{auth.CookieCacheCompact, auth.CookieCacheJWT, auth.CookieCacheJWE}

// TestCookieCacheConfig: defaults and the checks of auth.New.
func TestCookieCacheConfig(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		in   auth.CookieCacheConfig
		want auth.CookieCacheConfig
		err  string
	}{
		{name: "defaults", in: auth.CookieCacheConfig{Enabled: true},
			want: auth.CookieCacheConfig{Enabled: true, MaxAge: 5 * time.Minute, Strategy: auth.CookieCacheCompact, Version: "1"}},
		{name: "off still filled", in: auth.CookieCacheConfig{},
			want: auth.CookieCacheConfig{MaxAge: 5 * time.Minute, Strategy: auth.CookieCacheCompact, Version: "1"}},
		{name: "given", in: auth.CookieCacheConfig{Enabled: true, MaxAge: time.Hour, Strategy: auth.CookieCacheJWE, Version: "v2"},
			want: auth.CookieCacheConfig{Enabled: true, MaxAge: time.Hour, Strategy: auth.CookieCacheJWE, Version: "v2"}},
		{name: "legacy name", in: auth.CookieCacheConfig{Strategy: "base64-hmac"},
			want: auth.CookieCacheConfig{MaxAge: 5 * time.Minute, Strategy: auth.CookieCacheCompact, Version: "1"}},
		{name: "unknown strategy", in: auth.CookieCacheConfig{Strategy: "JWT"}, err: `Strategy "JWT" must be`},
		{name: "negative", in: auth.CookieCacheConfig{MaxAge: -time.Second}, err: "positive whole number of seconds"},
		{name: "fraction", in: auth.CookieCacheConfig{MaxAge: 1500 * time.Millisecond}, err: "positive whole number of seconds"},
		{name: "too long", in: auth.CookieCacheConfig{MaxAge: 401 * 24 * time.Hour}, err: "400-day"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig("http://localhost:3000")
			cfg.Session.CookieCache = tt.in
			_, err := auth.New(cfg, nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("auth.New: %v, want an error with %q", err, tt.err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "storage adapter") {
				t.Fatalf("auth.New: %v, want only the missing adapter refused", err)
			}
			a := newAuth(t, func(c *auth.Config) { c.Session.CookieCache = tt.in })
			if d := cmp.Diff(tt.want, a.Config().Session.CookieCache); d != "" {
				t.Errorf("config (-want +got):\n%s", d)
			}
		})
	}
}

// cacheEnv is a test server with the cookie cache on and a fake clock.
type cacheEnv struct {
	t   *testing.T
	a   *auth.Auth
	srv *httptest.Server
	clk *testkit.Clock
}

func newCacheEnv(t *testing.T, strategy auth.CookieCacheStrategy, mutate func(*auth.Config)) *cacheEnv {
	t.Helper()
	clk := newClock()
	a, srv := newTestServer(t, func(c *auth.Config) {
		c.Now = clk.Now
		c.User.DeleteEnabled = true
		c.Session.CookieCache = auth.CookieCacheConfig{Enabled: true, Strategy: strategy}
		if mutate != nil {
			mutate(c)
		}
	})
	return &cacheEnv{t, a, srv, clk}
}

// jar is a minimal browser cookie store with a stable order.
type jar struct {
	names  []string
	values map[string]string
}

func newJar() *jar { return &jar{values: map[string]string{}} }

// apply stores the Set-Cookie lines of r (deletions remove).
func (j *jar) apply(t *testing.T, r *response) {
	t.Helper()
	for _, line := range r.SetCookies() {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		j.set(c.Name, c.Value, c.MaxAge < 0)
	}
}

func (j *jar) set(name, value string, remove bool) {
	if _, ok := j.values[name]; !ok && !remove {
		j.names = append(j.names, name)
	}
	if remove {
		delete(j.values, name)
		return
	}
	j.values[name] = value
}

func (j *jar) header() string {
	var parts []string
	for _, n := range j.names {
		if v, ok := j.values[n]; ok {
			parts = append(parts, n+"="+v)
		}
	}
	return strings.Join(parts, "; ")
}

// cacheNames returns the session_data cookies the jar holds.
func (j *jar) cacheNames() []string {
	var out []string
	for _, n := range j.names {
		if _, ok := j.values[n]; ok && strings.Contains(n, sessionDataCookie) {
			out = append(out, n)
		}
	}
	return out
}

func (e *cacheEnv) send(method, path string, body string, j *jar) *response {
	e.t.Helper()
	hdr := map[string]string{}
	if j != nil && j.header() != "" {
		hdr["Cookie"] = j.header()
	}
	if method != "GET" {
		hdr["Origin"] = e.a.Config().BaseURL
	}
	r := sendRaw(e.t, e.srv, method, "/api/auth"+path, body, hdr)
	if j != nil {
		j.apply(e.t, r)
	}
	return r
}

// signUp signs a user up and returns the browser that holds its cookies.
func (e *cacheEnv) signUp(email, extra string) (*jar, map[string]any) {
	e.t.Helper()
	j := newJar()
	r := e.send("POST", "/sign-up/email", `{"name":"Cache User","email":"`+email+`","password":"password-123"`+extra+`}`, j)
	if r.Status != 200 {
		e.t.Fatalf("sign-up: %d %s", r.Status, r.Body)
	}
	return j, r.Object(e.t)
}

// session answers get-session (path may carry a query) as an object, nil
// for null.
func (e *cacheEnv) session(path string, j *jar) (map[string]any, *response) {
	e.t.Helper()
	r := e.send("GET", path, "", j)
	if r.Status != 200 {
		e.t.Fatalf("%s: %d %s", path, r.Status, r.Body)
	}
	if string(r.Body) == "null" {
		return nil, r
	}
	return r.Object(e.t), r
}

// deleteSessionRow removes a session behind the server's back, as
// another instance revoking it would.
func (e *cacheEnv) deleteSessionRow(token string) {
	e.t.Helper()
	if _, err := e.a.Host().DB().Delete(context.Background(), plugin.TableSession, storage.W("token", token)); err != nil {
		e.t.Fatal(err)
	}
}

// TestCookieCacheWritten: sign-up sets the cache cookie next to the
// session token, with Better Auth's attributes and Max-Age (none for a
// "don't remember me" session), and get-session answers from it the same
// as from the database.
func TestCookieCacheWritten(t *testing.T) {
	t.Parallel()
	for _, strategy := range cacheStrategies {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			e := newCacheEnv(t, strategy, nil)
			j, out := e.signUp("written@example.com", "")
			token := out["token"].(string)
			r := e.send("GET", "/get-session?disableCookieCache=true", "", nil) // no cookies: nothing
			if string(r.Body) != "null" {
				t.Errorf("no cookies: %s", r.Body)
			}
			line := j.values[sessionDataCookie]
			if line == "" {
				t.Fatalf("no %s after sign-up: %v", sessionDataCookie, j.names)
			}
			fromDB, r := e.session("/get-session?disableCookieCache=true", j)
			if len(r.SetCookies()) != 1 || !strings.HasPrefix(r.SetCookies()[0], sessionDataCookie+"=") ||
				!strings.HasSuffix(r.SetCookies()[0], "; Max-Age=300; Path=/; HttpOnly; SameSite=Lax") {
				t.Errorf("get-session from the database: Set-Cookie %q, want the cache re-issued", r.SetCookies())
			}
			e.deleteSessionRow(token) // from now on only the cache knows it
			fromCache, r := e.session("/get-session", j)
			if len(r.SetCookies()) != 0 {
				t.Errorf("answer from the cache set cookies %q", r.SetCookies())
			}
			if d := cmp.Diff(fromDB, fromCache); d != "" {
				t.Errorf("cache answer differs from the database's (-db +cache):\n%s", d)
			}

			// "Don't remember me": neither cookie has a Max-Age.
			j2 := newJar()
			r = e.send("POST", "/sign-in/email", `{"email":"written@example.com","password":"password-123","rememberMe":false}`, j2)
			if r.Status != 200 {
				t.Fatalf("sign-in: %d %s", r.Status, r.Body)
			}
			for _, name := range []string{sessCookie, sessionDataCookie, dontRememberCookie} {
				if line, ok := r.SetCookie(name); !ok || strings.Contains(line, "Max-Age") {
					t.Errorf("rememberMe false: %s Set-Cookie %q, want one without Max-Age", name, line)
				}
			}
			// Its cache is trusted 60 s (compact) or 300 s (jwt, jwe), as in
			// Better Auth; the database answer then writes no cache cookie.
			ttl := 60 * time.Second
			if strategy != auth.CookieCacheCompact {
				ttl = 300 * time.Second
			}
			e.clk.Advance(ttl - time.Second)
			if s, r := e.session("/get-session", j2); s == nil || len(r.SetCookies()) != 0 {
				t.Errorf("within %v: %v, Set-Cookie %q", ttl, s, r.SetCookies())
			}
			e.clk.Advance(2 * time.Second)
			s, r := e.session("/get-session", j2)
			if s == nil {
				t.Fatalf("after %v: no session", ttl)
			}
			if line, _ := r.SetCookie(sessionDataCookie); line != sessionDataCookie+"=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax" {
				t.Errorf("after %v: Set-Cookie %q, want only the stale cache expired", ttl, r.SetCookies())
			}
		})
	}
}

// TestCookieCacheRejected: a cache cookie that is tampered with, expired,
// of another version, for another session token, sealed with another
// secret or strategy, or not a cache at all is ignored: the database
// answers (with the session of the token) and the cache is re-issued.
func TestCookieCacheRejected(t *testing.T) {
	t.Parallel()
	for _, strategy := range cacheStrategies {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			e := newCacheEnv(t, strategy, nil)
			alice, aliceOut := e.signUp("alice@example.com", "")
			bob, _ := e.signUp("bob@example.com", "")
			aliceCache := alice.values[sessionDataCookie]
			other := func(mutate func(*auth.Config)) string { // Alice's cache as another server seals it
				a := newAuth(t, func(c *auth.Config) {
					c.Now = e.clk.Now
					c.Session.CookieCache = auth.CookieCacheConfig{Enabled: true, Strategy: strategy}
					mutate(c)
				})
				sd, err := e.a.GetSession(context.Background(), aliceOut["token"].(string))
				if err != nil {
					t.Fatal(err)
				}
				for _, ck := range a.Host().SessionCookies(nil, sd, false) {
					if ck.Name == sessionDataCookie {
						return ck.Value
					}
				}
				t.Fatal("no cache cookie")
				return ""
			}
			otherStrategy := auth.CookieCacheJWT
			if strategy == auth.CookieCacheJWT {
				otherStrategy = auth.CookieCacheCompact
			}
			for _, tt := range []struct {
				name    string
				browser *jar
				value   string
				advance time.Duration
			}{
				{name: "tampered start", browser: alice, value: changeByte(aliceCache, 10)},
				{name: "tampered middle", browser: alice, value: changeByte(aliceCache, len(aliceCache)/2)},
				{name: "tampered end", browser: alice, value: changeByte(aliceCache, len(aliceCache)-3)},
				{name: "truncated", browser: alice, value: aliceCache[:len(aliceCache)-1]},
				{name: "expired", browser: alice, value: aliceCache, advance: 5*time.Minute + time.Second},
				{name: "other version", browser: alice, value: other(func(c *auth.Config) { c.Session.CookieCache.Version = "2" })},
				{name: "other secret", browser: alice, value: other(func(c *auth.Config) { c.Secret = "another-secret-0123456789abcdef-01234567" })},
				{name: "other strategy", browser: alice, value: other(func(c *auth.Config) { c.Session.CookieCache.Strategy = otherStrategy })},
				{name: "other token", browser: bob, value: aliceCache},
				{name: "garbage", browser: alice, value: "not-a-cache"},
				{name: "bad base64", browser: alice, value: "!!!!"},
				{name: "bad percent", browser: alice, value: "%zz%"},
				{name: "json", browser: alice, value: base64.RawURLEncoding.EncodeToString([]byte(`{"session":{},"expiresAt":1e999,"signature":5}`))},
				{name: "jwt none", browser: alice, value: "eyJhbGciOiJub25lIn0.e30."},
				{name: "huge", browser: alice, value: strings.Repeat("A", 500000)},
			} {
				t.Run(tt.name, func(t *testing.T) {
					e.clk.Advance(tt.advance)
					defer e.clk.Advance(-tt.advance)
					j := newJar()
					for _, n := range tt.browser.names {
						j.set(n, tt.browser.values[n], false)
					}
					j.set(sessionDataCookie, tt.value, false)
					want, _ := e.session("/get-session?disableCookieCache=true&disableRefresh=true", j)
					if want == nil {
						t.Fatal("no session in the database")
					}
					got, r := e.session("/get-session", j)
					if d := cmp.Diff(want, got); d != "" {
						t.Errorf("answer (-database +got):\n%s", d)
					}
					line, _ := r.SetCookie(sessionDataCookie)
					if c, err := http.ParseSetCookie(line); err != nil || c.Value == "" || c.Value == tt.value || c.MaxAge != 300 {
						t.Errorf("Set-Cookie %q, want a new cache", r.SetCookies())
					}
				})
			}
		})
	}
}

// TestCookieCacheStaleButTrusted is Better Auth's trade-off: a session
// revoked behind the cache's back (another instance, a direct database
// write) stays visible through the cache until it expires, except with
// ?disableCookieCache, on sensitive routes and through Auth.Session; a
// revoke through this server expires the cache cookie at once.
func TestCookieCacheStaleButTrusted(t *testing.T) {
	t.Parallel()
	e := newCacheEnv(t, auth.CookieCacheCompact, nil)
	j, out := e.signUp("stale@example.com", "")
	token := out["token"].(string)
	e.deleteSessionRow(token)

	if s, _ := e.session("/get-session", j); s == nil {
		t.Fatal("cache: no session")
	}
	// A session-protected route answers from the cache too.
	if r := e.send("GET", "/list-sessions", "", j); r.Status != 200 {
		t.Errorf("list-sessions: %d %s", r.Status, r.Body)
	}
	// A sensitive one reads the database.
	wantError(t, e.send("POST", "/verify-password", `{"password":"password-123"}`, cloneJar(j)), 401, "UNAUTHORIZED")
	// So does Auth.Session.
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", j.header())
	if _, err := e.a.Session(req); err != auth.ErrUnauthorized {
		t.Errorf("Auth.Session: %v, want ErrUnauthorized", err)
	}
	// RequireSession answers from the cache.
	h := e.a.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(auth.SessionFrom(r.Context()).Session.Token))
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 || w.Body.String() != token {
		t.Errorf("RequireSession: %d %s", w.Code, w.Body)
	}
	// disableCookieCache reads the database: gone, every cookie expires.
	s, r := e.session("/get-session?disableCookieCache=true", cloneJar(j))
	if s != nil {
		t.Errorf("disableCookieCache: %v", s)
	}
	wantCookiesExpired(t, r)
	// Past MaxAge the cache is refused, the database has no session.
	e.clk.Advance(5*time.Minute + time.Millisecond)
	if s, _ := e.session("/get-session", j); s != nil {
		t.Errorf("after MaxAge: %v", s)
	}
	if len(j.values) != 0 {
		t.Errorf("after MaxAge the browser keeps %v", j.values)
	}

	// Revoking through this server expires the cookies.
	j, _ = e.signUp("stale2@example.com", "")
	r = e.send("POST", "/revoke-sessions", "", j)
	if r.Status != 200 {
		t.Fatalf("revoke-sessions: %d %s", r.Status, r.Body)
	}
	wantCookiesExpired(t, r)
}

func cloneJar(j *jar) *jar {
	c := newJar()
	for _, n := range j.names {
		if v, ok := j.values[n]; ok {
			c.set(n, v, false)
		}
	}
	return c
}

// TestCookieCacheRewritten: routes that change the user re-issue the
// cache, so that get-session answers the change from the cache; the
// sliding refresh re-issues both cookies; disableRefresh writes nothing.
func TestCookieCacheRewritten(t *testing.T) {
	t.Parallel()
	e := newCacheEnv(t, auth.CookieCacheJWE, nil)
	j, _ := e.signUp("rewrite@example.com", "")
	r := e.send("POST", "/update-user", `{"name":"New Name"}`, j)
	if r.Status != 200 {
		t.Fatalf("update-user: %d %s", r.Status, r.Body)
	}
	if _, ok := r.SetCookie(sessionDataCookie); !ok {
		t.Errorf("update-user: Set-Cookie %q, want the cache", r.SetCookies())
	}
	s, r := e.session("/get-session", j)
	if len(r.SetCookies()) != 0 || s["user"].(map[string]any)["name"] != "New Name" {
		t.Errorf("after update-user: %v, Set-Cookie %q", s["user"], r.SetCookies())
	}

	// A day later the cache has expired long ago: the database answers,
	// the session slides, both cookies are re-issued.
	e.clk.Advance(24 * time.Hour)
	if _, r := e.session("/get-session?disableRefresh=true", j); len(r.SetCookies()) != 1 {
		t.Errorf("disableRefresh: Set-Cookie %q, want only the stale cache expired", r.SetCookies())
	}
	_, r = e.session("/get-session", j)
	if _, ok := r.SetCookie(sessCookie); !ok {
		t.Errorf("refresh: no session cookie in %q", r.SetCookies())
	}
	if line, _ := r.SetCookie(sessionDataCookie); !strings.Contains(line, "Max-Age=300") {
		t.Errorf("refresh: cache %q", line)
	}
}

// TestCookieCacheChunks: a cache above 4050 bytes per Set-Cookie line is
// split into session_data.0, .1, …, read back joined; a smaller one
// replaces the chunks (which are expired); sign-out expires every chunk.
func TestCookieCacheChunks(t *testing.T) {
	t.Parallel()
	for _, strategy := range cacheStrategies {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			e := newCacheEnv(t, strategy, func(c *auth.Config) {
				c.BaseURL = "https://auth.example.com" // secure mode: longer names and attributes
				c.Cookies.CrossSubDomain = true
			})
			image := "https://example.com/" + strings.Repeat("a", 2000)
			j := newJar()
			r := e.send("POST", "/sign-up/email", `{"name":"`+strings.Repeat("ü", 250)+`","email":"chunks@example.com","password":"password-123","image":"`+image+`"}`, j)
			if r.Status != 200 {
				t.Fatalf("sign-up: %d %s", r.Status, r.Body)
			}
			const base = "__Secure-better-auth.session_data"
			if got := j.cacheNames(); !strings.HasPrefix(strings.Join(got, ","), base+".0,"+base+".1") {
				t.Fatalf("cache cookies %v, want chunks", got)
			}
			for _, line := range r.SetCookies() {
				if len(line) > 4050 {
					t.Errorf("Set-Cookie of %d bytes: %.80s…", len(line), line)
				}
				if strings.HasPrefix(line, base) && !strings.HasSuffix(line, "; Max-Age=300; Domain=auth.example.com; Path=/; HttpOnly; Secure; SameSite=Lax") {
					t.Errorf("chunk attributes: %.80s…%s", line, line[len(line)-80:])
				}
			}
			token := r.Object(t)["token"].(string)
			e.deleteSessionRow(token)
			// The chunks answer, in whatever order the browser sends them.
			rev := newJar()
			for i := len(j.names) - 1; i >= 0; i-- {
				rev.set(j.names[i], j.values[j.names[i]], false)
			}
			s, _ := e.session("/get-session", rev)
			if s == nil || s["user"].(map[string]any)["image"] != image {
				t.Fatalf("chunked cache: %v", s)
			}
			// Sign-out expires every chunk.
			r = e.send("POST", "/sign-out", "", cloneJar(j))
			for _, n := range []string{base + ".0", base + ".1"} {
				if line, _ := r.SetCookie(n); !strings.Contains(line, "Max-Age=0") {
					t.Errorf("sign-out: %s not expired: %q", n, r.SetCookies())
				}
			}
			// A smaller cache replaces the chunks.
			j = newJar()
			e.send("POST", "/sign-in/email", `{"email":"chunks@example.com","password":"password-123"}`, j)
			if r := e.send("POST", "/update-user", `{"image":null,"name":"Short"}`, j); r.Status != 200 {
				t.Fatalf("update-user: %d %s", r.Status, r.Body)
			}
			if got := j.cacheNames(); len(got) != 1 || got[0] != base {
				t.Errorf("after shrinking: %v", got)
			}
			s, _ = e.session("/get-session", j)
			if s == nil || s["user"].(map[string]any)["name"] != "Short" {
				t.Errorf("after shrinking: %v", s)
			}
		})
	}
}

// TestCookieCacheDisabled: with the cache off a stray session_data cookie
// and its chunks are expired (Better Auth does the same), with or
// without a session, and never trusted.
func TestCookieCacheDisabled(t *testing.T) {
	t.Parallel()
	e := newCacheEnv(t, "", func(c *auth.Config) { c.Session.CookieCache.Enabled = false })
	j, out := e.signUp("off@example.com", "")
	if len(j.cacheNames()) != 0 {
		t.Errorf("cache off: sign-up set %v", j.cacheNames())
	}
	// A valid cache from a server with the cache on and the same secret.
	on := newAuth(t, func(c *auth.Config) { c.Now = e.clk.Now; c.Session.CookieCache.Enabled = true })
	sd, err := e.a.GetSession(context.Background(), out["token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	valid := on.Host().SessionCookies(nil, sd, false)[1].Value
	e.deleteSessionRow(out["token"].(string))
	for _, withToken := range []bool{true, false} {
		b := newJar()
		if withToken {
			b.set(sessCookie, j.values[sessCookie], false)
		}
		b.set(sessionDataCookie, valid, false)
		b.set(sessionDataCookie+".0", "x", false)
		b.set(sessionDataCookie+".01", "not a chunk", false)
		s, r := e.session("/get-session", b)
		if s != nil {
			t.Errorf("token %v: trusted the cache: %v", withToken, s)
		}
		for _, n := range []string{sessionDataCookie, sessionDataCookie + ".0"} {
			if line, _ := r.SetCookie(n); line != n+"=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax" {
				t.Errorf("token %v: %s not expired: %q", withToken, n, r.SetCookies())
			}
		}
		if _, ok := r.SetCookie(sessionDataCookie + ".01"); ok {
			t.Errorf("token %v: expired a cookie that is no chunk: %q", withToken, r.SetCookies())
		}
	}
}

// TestCookieCacheOnePath: the cookies SignInEmail returns to a Go caller
// carry the same cache the HTTP route sets, and it answers get-session.
func TestCookieCacheOnePath(t *testing.T) {
	t.Parallel()
	e := newCacheEnv(t, auth.CookieCacheJWT, nil)
	e.signUp("onepath@example.com", "")
	res, err := e.a.SignInEmail(context.Background(), auth.SignInInput{Email: "onepath@example.com", Password: "password-123"})
	if err != nil {
		t.Fatal(err)
	}
	j := newJar()
	var lines []string
	for _, c := range res.Cookies {
		j.set(c.Name, c.Value, false)
		lines = append(lines, shapeOfCookie(c))
	}
	if d := cmp.Diff([]string{sessCookie + " Max-Age=604800", sessionDataCookie + " Max-Age=300"}, lines); d != "" {
		t.Errorf("cookies (-want +got):\n%s", d)
	}
	e.deleteSessionRow(res.Token())
	if s, _ := e.session("/get-session", j); s == nil || s["session"].(map[string]any)["token"] != res.Token() {
		t.Errorf("get-session with the Go caller's cookies: %v", s)
	}
}

func shapeOfCookie(c *http.Cookie) string {
	return c.Name + " Max-Age=" + strconv.Itoa(c.MaxAge)
}

// TestCookieCacheSecretRotation: as in Better Auth, a compact or jwt cache
// is checked with the current secret only, while a jwe cache sealed under
// an older secret of Config.Secrets (or the legacy Config.Secret) still
// opens.
func TestCookieCacheSecretRotation(t *testing.T) {
	t.Parallel()
	const oldSecret = "old-secret-0123456789abcdef-0123456789abcd"
	const newSecret = "new-secret-0123456789abcdef-0123456789abcd"
	for _, tt := range []struct {
		strategy auth.CookieCacheStrategy
		legacy   bool // the old secret is Config.Secret, not a version
		opens    bool
	}{
		{auth.CookieCacheCompact, false, false},
		{auth.CookieCacheJWT, false, false},
		{auth.CookieCacheJWE, false, true},
		{auth.CookieCacheJWE, true, true},
	} {
		t.Run(string(tt.strategy), func(t *testing.T) {
			t.Parallel()
			e := newCacheEnv(t, tt.strategy, func(c *auth.Config) {
				c.Secret = ""
				c.Secrets = []keyring.Version{{Version: 2, Value: newSecret}, {Version: 1, Value: oldSecret}}
				if tt.legacy {
					c.Secret, c.Secrets = oldSecret, c.Secrets[:1]
				}
			})
			j, out := e.signUp("rotate@example.com", "")
			token := out["token"].(string)
			sd, err := e.a.GetSession(context.Background(), token)
			if err != nil {
				t.Fatal(err)
			}
			before := newAuth(t, func(c *auth.Config) {
				c.Now, c.Secret = e.clk.Now, oldSecret
				c.Session.CookieCache = auth.CookieCacheConfig{Enabled: true, Strategy: tt.strategy}
			})
			for _, ck := range before.Host().SessionCookies(nil, sd, false) {
				if ck.Name == sessionDataCookie {
					j.set(ck.Name, ck.Value, false)
				}
			}
			e.deleteSessionRow(token)
			s, _ := e.session("/get-session", j)
			if got := s != nil; got != tt.opens {
				t.Errorf("cache sealed under the old secret opens: %v, want %v", got, tt.opens)
			}
		})
	}
}
