package passkey

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/internal/testproc"
	"github.com/managarten/mana-auth/storage/memory"
)

const testSecret = "passkey-plugin-test-secret-0123456789abcdef"

// env is an auth server with the passkey plugin. BaseURL uses the host
// name "localhost" (an IP is not a valid RP ID) while the listener is on
// 127.0.0.1.
type env struct {
	t      *testing.T
	a      *auth.Auth
	p      *Plugin
	db     *memory.Adapter
	base   string // BaseURL, e.g. http://localhost:1234
	origin string // BaseURL origin
	srv    string // where to connect, e.g. http://127.0.0.1:1234
	clock  *testkit.Clock
	logs   *testproc.Buffer
}

type envConfig struct {
	opts    Options
	cfg     func(*auth.Config)
	plugins []auth.Plugin
}

func newEnv(t *testing.T, ec envConfig) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	e := &env{t: t, db: memory.New(), clock: testkit.NewClock(time.Now()), logs: &testproc.Buffer{}}
	e.base = "http://localhost:" + itoa(port)
	e.origin = e.base
	e.srv = "http://" + ln.Addr().String()
	cfg := auth.Config{
		BaseURL: e.base, Secret: testSecret, RateLimit: auth.RateLimitConfig{Disabled: true},
		Now: e.clock.Now, Hasher: testkit.FastHasher{}, Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if ec.cfg != nil {
		ec.cfg(&cfg)
	}
	e.p = New(ec.opts)
	a, err := auth.New(cfg, e.db, append([]auth.Plugin{e.p}, ec.plugins...)...)
	if err != nil {
		ln.Close()
		t.Fatalf("auth.New: %v", err)
	}
	e.a = a
	if err := a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("PK_LOG") != "" {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// client is a browser: a cookie jar, and the Origin header on every
// request.
type client struct {
	e      *env
	hc     *http.Client
	origin string
}

func (e *env) newClient() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}, origin: e.origin}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// errBody is Better Auth's error body.
type errBody struct {
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
}

func (r response) err(t *testing.T) errBody {
	t.Helper()
	var b errBody
	r.json(t, &b)
	return b
}

func (c *client) do(method, path string, body any) response {
	c.e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.e.srv+"/api/auth"+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.origin != "" {
		req.Header.Set("Origin", c.origin)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// signUp creates a user and signs the client in.
func (c *client) signUp(email string) *auth.User {
	c.e.t.Helper()
	r := c.do("POST", "/sign-up/email", map[string]any{"name": "Test", "email": email, "password": "correct horse battery"})
	if r.status != 200 {
		c.e.t.Fatalf("sign-up: %d %s", r.status, r.body)
	}
	var out struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	r.json(c.e.t, &out)
	u, err := c.e.a.Host().FindUserByID(context.Background(), out.User.ID)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return u
}

func (c *client) registerOptions(query string) CreationOptions {
	c.e.t.Helper()
	r := c.do("GET", "/passkey/generate-register-options"+query, nil)
	if r.status != 200 {
		c.e.t.Fatalf("generate-register-options: %d %s", r.status, r.body)
	}
	var o CreationOptions
	r.json(c.e.t, &o)
	return o
}

func (c *client) authOptions() RequestOptions {
	c.e.t.Helper()
	r := c.do("GET", "/passkey/generate-authenticate-options", nil)
	if r.status != 200 {
		c.e.t.Fatalf("generate-authenticate-options: %d %s", r.status, r.body)
	}
	var o RequestOptions
	r.json(c.e.t, &o)
	return o
}

// register registers k for the signed-in client and returns the row.
func (c *client) register(k *softKey, name string) map[string]any {
	c.e.t.Helper()
	o := c.registerOptions("")
	r := c.do("POST", "/passkey/verify-registration", map[string]any{"response": k.create(o, c.e.origin, ceremony{}), "name": name})
	if r.status != 200 {
		c.e.t.Fatalf("verify-registration: %d %s", r.status, r.body)
	}
	var row map[string]any
	r.json(c.e.t, &row)
	return row
}

// signIn signs in with k and returns the answer.
func (c *client) signIn(k *softKey, cer ceremony) response {
	c.e.t.Helper()
	o := c.authOptions()
	return c.do("POST", "/passkey/verify-authentication", map[string]any{"response": k.get(o, c.e.origin, cer)})
}

// session returns the client's get-session answer (nil when signed out).
func (c *client) session() *auth.SessionData {
	c.e.t.Helper()
	r := c.do("GET", "/get-session", nil)
	if r.status != 200 {
		c.e.t.Fatalf("get-session: %d %s", r.status, r.body)
	}
	if string(r.body) == "null" {
		return nil
	}
	var out struct {
		Session struct {
			ID     string `json:"id"`
			UserID string `json:"userId"`
		} `json:"session"`
	}
	r.json(c.e.t, &out)
	return &auth.SessionData{Session: &auth.Session{ID: out.Session.ID, UserID: out.Session.UserID}}
}

func (c *client) cookie(name string) *http.Cookie {
	for _, ck := range c.hc.Jar.Cookies(mustURL(c.e.srv)) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

func setCookies(r response, name string) []string {
	var out []string
	for _, v := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") {
			out = append(out, v)
		}
	}
	return out
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// setCookie puts a cookie (as the server named it) into the client's jar.
func (c *client) setCookie(ck *http.Cookie) {
	c.hc.Jar.SetCookies(mustURL(c.e.srv), []*http.Cookie{ck})
}

func newMemory() *memory.Adapter { return memory.New() }
