package username_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/mail"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/username"
)

const (
	testSecret = "a-username-test-secret-long-enough-to-use"
	password   = "correct-horse-42"
)

// databases are the adapters the HTTP tests run on; PostgreSQL is skipped
// when no server answers at TEST_DATABASE_URL (outside CI).
var databases = []string{"sqlite", "postgres"}

// countingHasher counts the password hashes and verifications that reach
// the fast test hasher.
type countingHasher struct {
	testkit.FastHasher
	hashes, verifies atomic.Int64
}

func (c *countingHasher) Hash(p string) (string, error) {
	c.hashes.Add(1)
	return c.FastHasher.Hash(p)
}

func (c *countingHasher) Verify(h, p string) (bool, error) {
	c.verifies.Add(1)
	return c.FastHasher.Verify(h, p)
}

// guard is a PasswordCheck hook plugin, as a lockout is: it records the
// email of every password check and its outcome, and refuses an email
// after maxFailures failed checks (if set).
type guard struct {
	mu          sync.Mutex
	maxFailures int
	checks      []string
	outcomes    []string
	failures    map[string]int
}

var errLocked = plugin.NewError(http.StatusTooManyRequests, "ACCOUNT_LOCKED", "Too many attempts")

func (g *guard) ID() string { return "test-guard" }

func (g *guard) Hooks() plugin.Hooks {
	return plugin.Hooks{PasswordCheck: func(_ context.Context, email string) (func(error), error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.checks = append(g.checks, email)
		if g.maxFailures > 0 && g.failures[email] >= g.maxFailures {
			return nil, errLocked
		}
		return func(err error) {
			g.mu.Lock()
			defer g.mu.Unlock()
			outcome := "ok"
			if err != nil {
				outcome = plugin.AsError(err).Code
				if g.failures == nil {
					g.failures = map[string]int{}
				}
				g.failures[email]++
			}
			g.outcomes = append(g.outcomes, outcome)
		}, nil
	}}
}

// seen returns the emails checked and the outcomes so far.
func (g *guard) seen() (checks, outcomes []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.checks...), append([]string(nil), g.outcomes...)
}

type envOpts struct {
	opts    username.Options
	authCfg func(*auth.Config)
	plugins []auth.Plugin
	db      string // "memory" (default), "sqlite" or "postgres"
	// lockAfter makes the guard refuse an email after that many failed
	// password checks.
	lockAfter int
}

type env struct {
	t      testing.TB
	a      *auth.Auth
	p      *username.Plugin
	srv    *httptest.Server
	db     storage.Adapter
	hasher *countingHasher
	guard  *guard // counts password checks
	box    *mail.Recorder
	clock  *testkit.Clock
}

func openDB(t testing.TB, kind string) storage.Adapter {
	return testkit.OpenDB(t, kind, "username_")
}

// newEnv starts an auth server with the username plugin (and a guard
// plugin counting password checks) on a fresh database.
func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	p, err := username.New(o.opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, p: p, hasher: &countingHasher{}, guard: &guard{maxFailures: o.lockAfter}, box: &mail.Recorder{},
		clock: testkit.NewClock(time.Now().UTC().Truncate(time.Second))}
	e.srv = httptest.NewUnstartedServer(nil)
	e.db = openDB(t, o.db)
	cfg := auth.Config{BaseURL: "http://" + e.srv.Listener.Addr().String(), Secret: testSecret, Now: e.clock.Now,
		Hasher: e.hasher, RateLimit: auth.RateLimitConfig{Disabled: true}, Mailer: e.box,
		Logger: slog.New(slog.DiscardHandler)}
	if o.authCfg != nil {
		o.authCfg(&cfg)
	}
	e.a, err = auth.New(cfg, e.db, append([]auth.Plugin{p, e.guard}, o.plugins...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = e.a.Handler()
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// forEachDB runs f as a parallel subtest on every database.
func forEachDB(t *testing.T, f func(t *testing.T, db string)) {
	for _, db := range databases {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			f(t, db)
		})
	}
}

// browser is a user agent with its own cookies that follows no redirects.
type browser struct {
	e   *env
	jar *cookiejar.Jar
	c   *http.Client
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

// errBody is an error answer: {message, code}.
type errBody struct {
	Status  int
	Code    string
	Message string
}

func (r reply) err() errBody {
	code, _ := r.body["code"].(string)
	msg, _ := r.body["message"].(string)
	return errBody{Status: r.status, Code: code, Message: msg}
}

// user returns the "user" object of the answer.
func (r reply) user() map[string]any { u, _ := r.body["user"].(map[string]any); return u }

// do sends a request; a string body is sent as is, anything else as JSON.
func (b *browser) do(method, path string, body any) reply {
	b.e.t.Helper()
	return b.doH(method, path, body, nil)
}

// doH is do with headers set (an empty value removes the header).
func (b *browser) doH(method, path string, body any, hdr map[string]string) reply {
	b.e.t.Helper()
	var rd io.Reader
	switch x := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(x)
	default:
		js, err := json.Marshal(body)
		if err != nil {
			b.e.t.Fatal(err)
		}
		rd = strings.NewReader(string(js))
	}
	req, err := http.NewRequest(method, b.e.srv.URL+"/api/auth"+path, rd)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", b.e.srv.URL)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
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

// session returns the browser's session (nil if none).
func (b *browser) session() map[string]any {
	b.e.t.Helper()
	r := b.do("GET", "/get-session", nil)
	if r.status != 200 {
		b.e.t.Fatalf("get-session: %d %s", r.status, r.raw)
	}
	return r.body
}

// sessionUser returns the browser's session user (nil if none).
func (b *browser) sessionUser() map[string]any {
	b.e.t.Helper()
	u, _ := b.session()["user"].(map[string]any)
	return u
}

// signUp signs a user up on a new browser with the extra body fields and
// fails the test unless it answers 200.
func (e *env) signUp(email string, extra map[string]any) *browser {
	e.t.Helper()
	b := e.browser()
	body := map[string]any{"name": "Test User", "email": email, "password": password}
	for k, v := range extra {
		body[k] = v
	}
	if r := b.post("/sign-up/email", body); r.status != 200 {
		e.t.Fatalf("sign-up %s: %d %s", email, r.status, r.raw)
	}
	return b
}

func (e *env) count(table string, where ...storage.Where) int64 {
	e.t.Helper()
	n, err := e.db.Count(context.Background(), table, where...)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// names returns the username fields of a user object.
func names(u map[string]any) map[string]any {
	return map[string]any{"username": u["username"], "displayUsername": u["displayUsername"]}
}
