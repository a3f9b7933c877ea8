package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

const testSecret = "test-secret-0123456789abcdef-0123456789abcdef"

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// serialHashing: the few tests that run the real scrypt (or default
// Argon2id) hasher do not call t.Parallel. Go runs non-parallel top-level
// tests before the parallel ones, so their CPU burst (about a second per
// hash under -race) never competes with tests that wait on hashing with a
// deadline (Config.HashMaxWait). Their subtests may still run in parallel
// with each other.

// countingHasher counts the calls that reach the wrapped Hasher.
type countingHasher struct {
	auth.Hasher
	hashes, verifies atomic.Int64
}

func (c *countingHasher) Hash(p string) (string, error) {
	c.hashes.Add(1)
	return c.Hasher.Hash(p)
}

func (c *countingHasher) Verify(h, p string) (bool, error) {
	c.verifies.Add(1)
	return c.Hasher.Verify(h, p)
}

// testConfig is the base configuration of the tests: a fast hasher, two
// hash slots, no rate limiting (tests that need it turn it on) and quiet
// logs.
func testConfig(baseURL string) auth.Config {
	return auth.Config{
		BaseURL: baseURL, Secret: testSecret,
		Hasher: testkit.FastHasher{}, HashConcurrency: 2,
		RateLimit: auth.RateLimitConfig{Disabled: true},
		Logger:    discardLogger,
	}
}

// newAuth builds an Auth over a fresh memory adapter without a server
// (BaseURL http://localhost:3000 unless mutate changes it).
func newAuth(t testing.TB, mutate func(*auth.Config), plugins ...auth.Plugin) *auth.Auth {
	t.Helper()
	cfg := testConfig("http://localhost:3000")
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := auth.New(cfg, memory.New(), plugins...)
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	return a
}

// newTestServer builds an Auth whose BaseURL is the address of a running
// httptest server serving a.Handler().
func newTestServer(t testing.TB, mutate func(*auth.Config), plugins ...auth.Plugin) (*auth.Auth, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	cfg := testConfig("http://" + srv.Listener.Addr().String())
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := auth.New(cfg, memory.New(), plugins...)
	if err != nil {
		srv.Close()
		t.Fatalf("auth.New: %v", err)
	}
	srv.Config.Handler = a.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return a, srv
}

// client is a browser-like HTTP client: a cookie jar, no redirects, and
// "Origin: <BaseURL>" on every POST unless the caller sets Origin itself.
type client struct {
	t      testing.TB
	srv    *httptest.Server
	base   string // BasePath
	origin string
	jar    *cookiejar.Jar
	hc     *http.Client
}

func newClient(t testing.TB, a *auth.Auth, srv *httptest.Server) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{
		Jar: jar, Transport: srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &client{t: t, srv: srv, base: a.Config().BasePath, origin: a.Config().BaseURL, jar: jar, hc: hc}
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// SetCookies returns the Set-Cookie lines.
func (r *response) SetCookies() []string { return r.Header.Values("Set-Cookie") }

// SetCookie returns the Set-Cookie line for the cookie called name.
func (r *response) SetCookie(name string) (string, bool) {
	for _, sc := range r.SetCookies() {
		if strings.HasPrefix(sc, name+"=") {
			return sc, true
		}
	}
	return "", false
}

// JSON decodes the body into a generic value.
func (r *response) JSON(t testing.TB) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.Body, err)
	}
	return v
}

// Object decodes the body as a JSON object.
func (r *response) Object(t testing.TB) map[string]any {
	t.Helper()
	m, ok := r.JSON(t).(map[string]any)
	if !ok {
		t.Fatalf("body %s is not a JSON object", r.Body)
	}
	return m
}

// do sends a request. body is nil (no body), a string or []byte (sent as
// is) or anything else (sent as JSON). hdr overrides headers; an empty
// value deletes the header (so {"Origin": ""} sends no Origin).
func (c *client) do(method, path string, body any, hdr map[string]string) *response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.srv.URL+c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet && method != http.MethodHead {
		req.Header.Set("Origin", c.origin)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

func (c *client) get(path string) *response { c.t.Helper(); return c.do("GET", path, nil, nil) }

func (c *client) post(path string, body any) *response {
	c.t.Helper()
	return c.do("POST", path, body, nil)
}

// signUp signs up and fails the test unless it answers 200.
func (c *client) signUp(email, password string) map[string]any {
	c.t.Helper()
	r := c.post("/sign-up/email", map[string]any{"name": "Test User", "email": email, "password": password})
	if r.Status != 200 {
		c.t.Fatalf("sign-up %s: %d %s", email, r.Status, r.Body)
	}
	return r.Object(c.t)
}

// signIn signs in and fails the test unless it answers 200.
func (c *client) signIn(email, password string, extra ...map[string]any) map[string]any {
	c.t.Helper()
	body := map[string]any{"email": email, "password": password}
	for _, e := range extra {
		for k, v := range e {
			body[k] = v
		}
	}
	r := c.post("/sign-in/email", body)
	if r.Status != 200 {
		c.t.Fatalf("sign-in %s: %d %s", email, r.Status, r.Body)
	}
	return r.Object(c.t)
}

// session returns get-session's body: nil for "null".
func (c *client) session() map[string]any {
	c.t.Helper()
	r := c.get("/get-session")
	if r.Status != 200 {
		c.t.Fatalf("get-session: %d %s", r.Status, r.Body)
	}
	if string(r.Body) == "null" {
		return nil
	}
	return r.Object(c.t)
}

// cookie returns the value the jar holds for the cookie name.
func (c *client) cookie(name string) string {
	u, _ := url.Parse(c.srv.URL)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// setCookie puts a cookie into the jar.
func (c *client) setCookie(name, value string) {
	u, _ := url.Parse(c.srv.URL)
	c.jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// errBody is Better Auth's error body.
type errBody struct {
	Message string `json:"message"`
	Code    string `json:"code"`
}

// wantError checks the status and the error code of r.
func wantError(t testing.TB, r *response, status int, code string) errBody {
	t.Helper()
	var e errBody
	if r.Status != status {
		t.Errorf("status %d, want %d; body %s", r.Status, status, r.Body)
		return e
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Errorf("error body %q is not JSON: %v", r.Body, err)
		return e
	}
	if e.Code != code {
		t.Errorf("code %q, want %q; body %s", e.Code, code, r.Body)
	}
	return e
}

// rowCount returns how many rows of table match where.
func rowCount(t testing.TB, a *auth.Auth, table string, where ...storage.Where) int64 {
	t.Helper()
	n, err := a.Host().DB().Count(context.Background(), table, where...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// shapeOf is a Set-Cookie line with its value blanked.
func shapeOf(sc string) string {
	name, rest, _ := strings.Cut(sc, "=")
	_, attrs, _ := strings.Cut(rest, ";")
	if attrs == "" {
		return name + "=<v>"
	}
	return name + "=<v>;" + attrs
}

// setCookieLines returns the Set-Cookie lines WriteCookies writes for cookies.
func setCookieLines(cookies []*http.Cookie) []string {
	rec := httptest.NewRecorder()
	plugin.WriteCookies(rec, cookies)
	return rec.Header().Values("Set-Cookie")
}

// vectors is auth/testdata/betterauth-vectors.json, produced by Better
// Auth itself (tests/compat/gen-vectors.mjs).
type vectors struct {
	CookieSigning []struct {
		Source       string `json:"source"`
		Secret       string `json:"secret"`
		Value        string `json:"value"`
		CookieValue  string `json:"cookieValue"`
		SetCookie    string `json:"setCookie"`
		SetAuthToken string `json:"setAuthToken"`
		Signature    string `json:"signature"`
	} `json:"cookieSigning"`
	PasswordHashes []struct {
		Label       string `json:"label"`
		Password    string `json:"password"`
		NFKC        string `json:"nfkc"`
		NFKCDiffers bool   `json:"nfkcDiffers"`
		JSLength    int    `json:"jsLength"`
		Hash        string `json:"hash"`
		Verifies    []struct {
			Password string `json:"password"`
			OK       bool   `json:"ok"`
		} `json:"verifies"`
	} `json:"passwordHashes"`
	DontRemember struct {
		Secret         string         `json:"secret"`
		Value          string         `json:"value"`
		CookieValue    string         `json:"cookieValue"`
		SetCookie      string         `json:"setCookie"`
		SignInResponse vectorResponse `json:"signInResponse"`
		SessionRow     map[string]any `json:"sessionRow"`
		GetSession     struct {
			Request struct {
				Headers map[string]string `json:"headers"`
			} `json:"request"`
			Response vectorResponse `json:"response"`
		} `json:"getSession"`
	} `json:"dontRemember"`
	Session struct {
		Secret       string                      `json:"secret"`
		BaseURL      string                      `json:"baseURL"`
		Password     string                      `json:"password"`
		Token        string                      `json:"token"`
		CookieValue  string                      `json:"cookieValue"`
		SetAuthToken string                      `json:"setAuthToken"`
		Response     vectorResponse              `json:"response"`
		DB           map[string][]map[string]any `json:"db"`
		DateFields   map[string][]string         `json:"dateFields"`
		GetSession   struct {
			Response vectorResponse `json:"response"`
		} `json:"getSession"`
	} `json:"session"`
}

type vectorResponse struct {
	Status    int               `json:"status"`
	Headers   map[string]string `json:"headers"`
	SetCookie []string          `json:"setCookie"`
	Body      json.RawMessage   `json:"body"`
}

var (
	vectorsOnce sync.Once
	vectorsVal  vectors
	vectorsErr  error
)

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	vectorsOnce.Do(func() {
		b, err := os.ReadFile("testdata/betterauth-vectors.json")
		if err != nil {
			vectorsErr = err
			return
		}
		vectorsErr = json.Unmarshal(b, &vectorsVal)
	})
	if vectorsErr != nil {
		t.Fatalf("loading vectors: %v", vectorsErr)
	}
	return &vectorsVal
}

// vectorRecord converts a row of the session vector into a storage.Record
// (ISO dates to time.Time).
func vectorRecord(t testing.TB, row map[string]any, dateFields []string) storage.Record {
	t.Helper()
	rec := storage.Record{}
	for k, v := range row {
		rec[k] = v
	}
	for _, f := range dateFields {
		s, ok := rec[f].(string)
		if !ok {
			continue
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("date %s=%q: %v", f, s, err)
		}
		rec[f] = tm
	}
	return rec
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// dropNullImage removes "image": null from user objects, as Better Auth's
// memory adapter never writes it while SQL adapters return null.
func dropNullImage(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if k == "image" && e == nil {
				continue
			}
			out[k] = dropNullImage(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = dropNullImage(e)
		}
		return out
	}
	return v
}

func readResp(resp *http.Response) ([]byte, error) { return io.ReadAll(resp.Body) }

// changeByte returns s with its i-th byte replaced by another letter.
func changeByte(s string, i int) string {
	c := byte('X')
	if s[i] == c {
		c = 'Y'
	}
	return s[:i] + string(c) + s[i+1:]
}

// newClock returns a test clock at 2030-01-02T03:04:05Z.
func newClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
}
