package apikey_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/apikey"
	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/sqlite"
)

const testSecret = "a-test-secret-that-is-long-enough-to-use"

// dbs are the adapters the HTTP tests run on.
var dbs = []string{"memory", "sqlite", "postgres"}

type envOpts struct {
	opts    apikey.Options
	db      string // "memory" (default), "sqlite" or "postgres"
	authCfg func(*auth.Config)
	plugins []auth.Plugin
}

type env struct {
	t     testing.TB
	a     *auth.Auth
	p     *apikey.Plugin
	srv   *httptest.Server
	db    storage.Adapter
	clock *testkit.Clock
	// pgSchema is the PostgreSQL schema of db ("" on other adapters).
	pgSchema string
}

// openDBSchema opens a database of the kind and returns it with its
// PostgreSQL schema ("" for the other adapters).
func openDBSchema(t testing.TB, kind string) (storage.Adapter, string) {
	t.Helper()
	switch kind {
	case "sqlite":
		db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "auth.db"),
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db, ""
	case "postgres":
		testpg.Require(t)
		schema := testpg.SchemaName(t, "apikey_")
		db, err := postgres.Open(context.Background(), postgres.Options{URL: testpg.URL(), Schema: schema,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db, schema
	}
	return memory.New(), ""
}

// newEnv starts an auth server with the api-key plugin.
func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	e := &env{t: t, clock: testkit.NewClock(time.Now().UTC().Truncate(time.Second))}
	p, err := apikey.New(o.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	e.db, e.pgSchema = openDBSchema(t, o.db)
	e.srv = httptest.NewUnstartedServer(nil)
	base := "http://" + e.srv.Listener.Addr().String()
	cfg := auth.Config{BaseURL: base, Secret: testSecret, Now: e.clock.Now, Hasher: testkit.FastHasher{},
		RateLimit: auth.RateLimitConfig{Disabled: true}, Logger: slog.New(slog.DiscardHandler)}
	if o.authCfg != nil {
		o.authCfg(&cfg)
	}
	a, err := auth.New(cfg, e.db, append([]auth.Plugin{p}, o.plugins...)...)
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

// client is a user agent with its own cookies; with key set it sends
// x-api-key.
type client struct {
	e      *env
	jar    *cookiejar.Jar
	c      *http.Client
	key    string
	userID string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, jar: jar, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// user signs a new user up (by HTTP) and returns their signed-in client.
func (e *env) user(email string) *client {
	e.t.Helper()
	c := e.client()
	r := c.do("POST", "/sign-up/email", map[string]any{"name": "User", "email": email, "password": "password-1234"})
	if r.status != 200 {
		e.t.Fatalf("sign-up %s: %d %s", email, r.status, r.raw)
	}
	c.userID, _ = r.body["user"].(map[string]any)["id"].(string)
	return c
}

// withKey returns a client without cookies that sends key as x-api-key.
func (e *env) withKey(key string) *client {
	c := e.client()
	c.key = key
	return c
}

type reply struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (r reply) str(k string) string { s, _ := r.body[k].(string); return s }

// rawBody is a request body sent as it is.
type rawBody string

// do sends a request to the auth routes (path under /api/auth); body is
// marshalled to JSON unless it is a rawBody.
func (c *client) do(method, path string, body any) reply {
	c.e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd = strings.NewReader(string(b))
	default:
		js, err := json.Marshal(body)
		if err != nil {
			c.e.t.Fatal(err)
		}
		rd = strings.NewReader(string(js))
	}
	req, err := http.NewRequest(method, c.e.srv.URL+"/api/auth"+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", c.e.srv.URL)
	if c.key != "" {
		req.Header.Set("x-api-key", c.key)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// doWith sends a GET with the headers (and c's cookies).
func (c *client) doWith(method, path string, headers map[string]string) reply {
	c.e.t.Helper()
	req, err := http.NewRequest(method, c.e.srv.URL+"/api/auth"+path, nil)
	if err != nil {
		c.e.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// create creates a key by HTTP and returns the answer (which must be a
// 200).
func (c *client) create(body map[string]any) reply {
	c.e.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	r := c.do("POST", "/api-key/create", body)
	if r.status != 200 || r.str("key") == "" {
		c.e.t.Fatalf("create: %d %s", r.status, r.raw)
	}
	return r
}

// errBody is Better Auth's error body.
type errBody struct {
	Message string `json:"message"`
	Code    string `json:"code"`
}

// expectErr checks that r is the error status/code/message.
func expectErr(t *testing.T, r reply, status int, code, message string) {
	t.Helper()
	var got errBody
	_ = json.Unmarshal([]byte(r.raw), &got)
	if r.status != status || got.Code != code || message != "" && got.Message != message {
		t.Fatalf("got %d %s, want %d %s %q", r.status, r.raw, status, code, message)
	}
}

// row returns the key's row (nil if there is none).
func (e *env) row(id string) storage.Record {
	e.t.Helper()
	rec, err := e.db.FindOne(context.Background(), apikey.TableAPIKey, storage.W("id", id))
	if err != nil {
		return nil
	}
	return rec
}

func (e *env) count(table string) int64 {
	e.t.Helper()
	n, err := e.db.Count(context.Background(), table)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// serverKey creates a key with CreateKey for the user.
func (e *env) serverKey(in apikey.CreateInput) *apikey.NewKey {
	e.t.Helper()
	k, err := e.p.CreateKey(context.Background(), in)
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

func ptr[T any](v T) *T { return &v }

// newRequest returns a request to the server carrying key, with a context
// that ends with cancel (as a server's does when the request is served).
func newRequest(e *env, key string) (*http.Request, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/app", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("x-api-key", key)
	return req, cancel
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
