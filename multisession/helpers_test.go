package multisession_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/multisession"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

const (
	testSecret = "a-multi-session-test-secret-long-enough"
	password   = "correct horse battery"
	prefix     = "better-auth"
	sessionCk  = prefix + ".session_token"
)

// dbKinds are the adapters every HTTP test runs on.
var dbKinds = []string{"sqlite", "postgres"}

// forEachDB runs f as a parallel subtest per adapter.
func forEachDB(t *testing.T, f func(t *testing.T, db string)) {
	for _, db := range dbKinds {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			f(t, db)
		})
	}
}

type envOpts struct {
	ms      multisession.Options
	db      string // "memory" (default), "sqlite" or "postgres"
	authCfg func(*auth.Config)
	plugins []auth.Plugin // mounted before the multi-session plugin
}

type env struct {
	t     testing.TB
	a     *auth.Auth
	p     *multisession.Plugin
	srv   *httptest.Server
	db    storage.Adapter
	clock *testkit.Clock
}

func openDB(t testing.TB, kind string) storage.Adapter {
	return testkit.OpenDB(t, kind, "multisession_")
}

// newEnv starts an auth server with the multi-session plugin.
func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	p, err := multisession.New(o.ms)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, p: p, clock: testkit.NewClock(time.Now().UTC().Truncate(time.Second)), db: openDB(t, o.db)}
	e.srv = httptest.NewUnstartedServer(nil)
	cfg := auth.Config{BaseURL: "http://" + e.srv.Listener.Addr().String(), Secret: testSecret, Now: e.clock.Now,
		Hasher: testkit.FastHasher{}, RateLimit: auth.RateLimitConfig{Disabled: true},
		Logger: slog.New(slog.DiscardHandler)}
	if o.authCfg != nil {
		o.authCfg(&cfg)
	}
	a, err := auth.New(cfg, e.db, append(append([]auth.Plugin{}, o.plugins...), p)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.a = a
	e.srv.Config.Handler = a.Handler()
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// sessionAlive reports whether the session of token is still valid.
func (e *env) sessionAlive(token string) bool {
	e.t.Helper()
	_, err := e.a.Host().GetSession(context.Background(), token)
	if err != nil && !errors.Is(err, auth.ErrUnauthorized) {
		e.t.Fatal(err)
	}
	return err == nil
}

// signedValue is the cookie value the server signs for value.
func signedValue(value string) string { return plugin.SignCookieValue(testSecret, value) }

// multiCookie is the name of the multi-session cookie of token.
func multiCookie(token string) string { return sessionCk + "_multi-" + strings.ToLower(token) }

// browser is a user agent with its own cookies, sending the server's
// origin as a same-origin page does; extra cookies are sent before the
// jar's on every request (a forged or copied cookie).
type browser struct {
	e     *env
	jar   *cookiejar.Jar
	c     *http.Client
	extra []*http.Cookie
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, jar: jar, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type reply struct {
	status  int
	raw     string
	body    map[string]any
	list    []any
	setCk   []string                // the Set-Cookie headers as sent
	cookies map[string]*http.Cookie // Set-Cookie by name
}

func (r reply) code() string { s, _ := r.body["code"].(string); return s }

// user returns the email of the body's user ({session, user}).
func (r reply) user() string {
	u, _ := r.body["user"].(map[string]any)
	s, _ := u["email"].(string)
	return s
}

// expires reports whether the answer deletes the cookie name.
func (r reply) expires(name string) bool {
	c := r.cookies[name]
	return c != nil && c.MaxAge < 0
}

// sets returns the value the answer sets the cookie name to ("" if none).
func (r reply) sets(name string) string {
	c := r.cookies[name]
	if c == nil || c.MaxAge < 0 {
		return ""
	}
	return c.Value
}

// multiSet returns the names of the multi-session cookies the answer sets
// with a value.
func (r reply) multiSet() []string {
	var out []string
	for n, c := range r.cookies {
		if strings.Contains(n, "_multi-") && c.MaxAge >= 0 && c.Value != "" {
			out = append(out, n)
		}
	}
	return out
}

func (b *browser) do(method, path string, body any) reply {
	b.e.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, ok := body.(string)
		if !ok {
			js, _ := json.Marshal(body)
			raw = string(js)
		}
		rd = strings.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.e.srv.URL+"/api/auth"+path, rd)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", b.e.srv.URL)
	for _, c := range b.extra {
		req.AddCookie(c)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, raw: string(raw), setCk: resp.Header.Values("Set-Cookie"), cookies: map[string]*http.Cookie{}}
	_ = json.Unmarshal(raw, &r.body)
	_ = json.Unmarshal(raw, &r.list)
	for _, c := range resp.Cookies() {
		r.cookies[c.Name] = c
	}
	return r
}

func (b *browser) post(path string, body any) reply {
	b.e.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	return b.do("POST", path, body)
}

// signUp signs a new user up (and in) and returns the session token.
func (b *browser) signUp(email string) string {
	b.e.t.Helper()
	r := b.post("/sign-up/email", map[string]any{"email": email, "password": password, "name": strings.Split(email, "@")[0]})
	if r.status != 200 {
		b.e.t.Fatalf("sign-up %s: %d %s", email, r.status, r.raw)
	}
	return b.tokenOf(r)
}

// signIn signs email in and returns the session token.
func (b *browser) signIn(email string, rememberMe bool) string {
	b.e.t.Helper()
	r := b.post("/sign-in/email", map[string]any{"email": email, "password": password, "rememberMe": rememberMe})
	if r.status != 200 {
		b.e.t.Fatalf("sign-in %s: %d %s", email, r.status, r.raw)
	}
	return b.tokenOf(r)
}

// tokenOf returns the session token the answer sets.
func (b *browser) tokenOf(r reply) string {
	b.e.t.Helper()
	v, err := url.PathUnescape(r.sets(sessionCk))
	if err != nil || v == "" {
		b.e.t.Fatalf("no session cookie set: %v %s", r.setCk, r.raw)
	}
	return v[:strings.LastIndexByte(v, '.')]
}

// current returns the email of the browser's active session ("" if none).
func (b *browser) current() string {
	b.e.t.Helper()
	r := b.do("GET", "/get-session", nil)
	if r.status != 200 {
		b.e.t.Fatalf("get-session: %d %s", r.status, r.raw)
	}
	return r.user()
}

// devices lists the browser's device sessions as "email token" strings.
func (b *browser) devices() []string {
	b.e.t.Helper()
	r := b.do("GET", "/multi-session/list-device-sessions", nil)
	if r.status != 200 || r.list == nil {
		b.e.t.Fatalf("list-device-sessions: %d %s", r.status, r.raw)
	}
	out := []string{}
	for _, it := range r.list {
		m, _ := it.(map[string]any)
		s, _ := m["session"].(map[string]any)
		u, _ := m["user"].(map[string]any)
		out = append(out, u["email"].(string)+" "+s["token"].(string))
	}
	return out
}

// jarCookie returns the value of the cookie name in the jar ("" if none).
func (b *browser) jarCookie(name string) string {
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// multiNames returns the names of the multi-session cookies in the jar.
func (b *browser) multiNames() []string {
	u, _ := url.Parse(b.e.srv.URL)
	var out []string
	for _, c := range b.jar.Cookies(u) {
		if strings.Contains(c.Name, "_multi-") {
			out = append(out, c.Name)
		}
	}
	return out
}
