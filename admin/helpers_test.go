package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/admin"
	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

const testSecret = "a-test-secret-that-is-long-enough-to-use"

// dbKinds are the databases every HTTP test runs on.
var dbKinds = []string{"sqlite", "postgres"}

type envOpts struct {
	opts    admin.Options
	authCfg func(*auth.Config)
	plugins []auth.Plugin
	db      string // "memory" (default), "sqlite" or "postgres"
}

type env struct {
	t     testing.TB
	a     *auth.Auth
	p     *admin.Plugin
	srv   *httptest.Server
	db    storage.Adapter
	clock *testkit.Clock
}

func openDB(t testing.TB, kind string) storage.Adapter {
	return testkit.OpenDB(t, kind, "admin_")
}

// newEnv starts an auth server with the admin plugin.
func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	e := &env{t: t, clock: testkit.NewTickingClock(time.Now().UTC().Truncate(time.Second), time.Millisecond)}
	p, err := admin.New(o.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	e.db = openDB(t, o.db)
	e.srv = httptest.NewUnstartedServer(nil)
	acfg := auth.Config{BaseURL: "http://" + e.srv.Listener.Addr().String(), Secret: testSecret, Now: e.clock.Now,
		Hasher: testkit.FastHasher{}, RateLimit: auth.RateLimitConfig{Disabled: true}, Logger: slog.New(slog.DiscardHandler)}
	if o.authCfg != nil {
		o.authCfg(&acfg)
	}
	a, err := auth.New(acfg, e.db, append([]auth.Plugin{p}, o.plugins...)...)
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

// eachDB runs f in a parallel subtest per database kind.
func eachDB(t *testing.T, f func(t *testing.T, kind string)) {
	t.Helper()
	for _, kind := range dbKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f(t, kind)
		})
	}
}

// browser is a user agent with its own cookies.
type browser struct {
	e   *env
	jar *cookiejar.Jar
	c   *http.Client
	// user is the browser's signed-in user's id.
	user string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, jar: jar, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type reply struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (r reply) str(k string) string { s, _ := r.body[k].(string); return s }

// obj returns the object under k.
func (r reply) obj(k string) map[string]any { m, _ := r.body[k].(map[string]any); return m }

// do sends a request; body is JSON-encoded unless it is a string (sent as
// is, as JSON).
func (b *browser) do(method, target string, body any) reply {
	b.e.t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			js, _ := json.Marshal(body)
			rd = strings.NewReader(string(js))
		}
	}
	if !strings.HasPrefix(target, "http") {
		target = b.e.srv.URL + "/api/auth" + target
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", b.e.srv.URL)
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (b *browser) post(path string, body any) reply { b.e.t.Helper(); return b.do("POST", path, body) }

func (b *browser) get(path string, q url.Values) reply {
	b.e.t.Helper()
	if q != nil {
		path += "?" + q.Encode()
	}
	return b.do("GET", path, nil)
}

// signUp signs a new user up in a new browser and returns it.
func (e *env) signUp(email string) *browser {
	e.t.Helper()
	b := e.browser()
	r := b.post("/sign-up/email", map[string]any{"email": email, "password": "password123", "name": nameOf(email)})
	if r.status != 200 {
		e.t.Fatalf("sign-up %s: %d %s", email, r.status, r.raw)
	}
	b.user = r.obj("user")["id"].(string)
	return b
}

// signIn signs email in with password123 in b.
func (b *browser) signIn(email string) reply {
	b.e.t.Helper()
	return b.post("/sign-in/email", map[string]any{"email": email, "password": "password123"})
}

func nameOf(email string) string {
	n, _, _ := strings.Cut(email, "@")
	return strings.ToUpper(n[:1]) + n[1:]
}

// admin signs up a user with the admin role.
func (e *env) admin(email string) *browser {
	e.t.Helper()
	b := e.signUp(email)
	e.setRole(b.user, "admin")
	return b
}

// setRole sets a user's role as a trusted server-side call.
func (e *env) setRole(userID string, roles ...string) {
	e.t.Helper()
	if _, err := e.p.SetRole(context.Background(), nil, userID, roles); err != nil {
		e.t.Fatal(err)
	}
}

// session returns the browser's get-session answer (nil without one).
func (b *browser) session() map[string]any {
	b.e.t.Helper()
	r := b.do("GET", "/get-session", nil)
	if r.status != 200 {
		b.e.t.Fatalf("get-session: %d %s", r.status, r.raw)
	}
	return r.body
}

// user returns the stored user.
func (e *env) user(id string) *plugin.User {
	e.t.Helper()
	u, err := e.a.Host().FindUserByID(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) count(table string, where ...storage.Where) int64 {
	e.t.Helper()
	n, err := e.db.Count(context.Background(), table, where...)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// errBody is an error answer.
type errBody struct {
	Status  int
	Code    string
	Message string
}

func (r reply) err() errBody { return errBody{r.status, r.str("code"), r.str("message")} }

// cookie returns b's cookie with the name (prefix included), or nil.
func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
