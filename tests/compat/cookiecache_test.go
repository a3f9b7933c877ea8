package compat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage/memory"
)

// runCookieCacheScript sends req to cookie-cache.mjs and decodes its
// answer into out.
func runCookieCacheScript(t *testing.T, req, out any) {
	t.Helper()
	node := requireNode(t)
	dir := compatDir(t)
	ensureNodeModules(t, dir)
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "cookie-cache.mjs")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cookie-cache.mjs: %v\nstderr:\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("cookie-cache.mjs answered %q: %v\nstderr:\n%s", stdout.String(), err, stderr.String())
	}
}

// cacheServer is an in-process auth handler with the cookie cache on.
type cacheServer struct {
	t *testing.T
	a *auth.Auth
}

func newCacheServer(t *testing.T, mutate func(*auth.Config)) *cacheServer {
	t.Helper()
	cfg := auth.Config{BaseURL: "http://localhost:3000", Secret: testSecret,
		RateLimit: auth.RateLimitConfig{Disabled: true}}
	cfg.Session.CookieCache.Enabled = true
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := auth.New(cfg, memory.New())
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	return &cacheServer{t, a}
}

// do serves one request and returns the recorder.
func (s *cacheServer) do(method, path, body, cookie string) *httptest.ResponseRecorder {
	s.t.Helper()
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, s.a.Config().BaseURL+"/api/auth"+path, nil)
	} else {
		r = httptest.NewRequest(method, s.a.Config().BaseURL+"/api/auth"+path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	s.a.Handler().ServeHTTP(w, r)
	return w
}

// cookieHeader is the Cookie header a browser sends after the Set-Cookie
// lines of w (deletions left out).
func cookieHeader(w *httptest.ResponseRecorder) string {
	var parts []string
	for _, line := range w.Header().Values("Set-Cookie") {
		nv, _, _ := strings.Cut(line, ";")
		if !strings.HasSuffix(nv, "=") {
			parts = append(parts, nv)
		}
	}
	return strings.Join(parts, "; ")
}

// decodeObject decodes a JSON object body.
func decodeObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return m
}

// TestBetterAuthReadsOurCookieCache: the session_data cookie our server
// sets is accepted by Better Auth's own getCookieCache (better-auth/cookies,
// what a Next.js middleware calls) for every strategy, given the same
// secret — chunked, "don't remember me", in secure mode, with another
// cookie prefix, with a version, and with a name JSON escapes differently
// in Go and JavaScript — and the session and user it reads are those our
// get-session answers. With another secret or version it is refused.
func TestBetterAuthReadsOurCookieCache(t *testing.T) {
	type readCase struct {
		Name         string `json:"name"`
		Cookie       string `json:"cookie"`
		Secret       string `json:"secret"`
		Strategy     string `json:"strategy"`
		IsSecure     bool   `json:"isSecure"`
		CookiePrefix string `json:"cookiePrefix,omitempty"`
		Version      string `json:"version,omitempty"`
	}
	type variant struct {
		name       string
		mutate     func(*auth.Config)
		userName   string
		image      string
		rememberMe bool
		read       func(*readCase) // adjusts what getCookieCache is told
		refused    bool
		chunked    bool
	}
	variants := []variant{
		{name: "plain", rememberMe: true},
		{name: "chunked", userName: strings.Repeat("ü", 250), image: "https://example.com/" + strings.Repeat("a", 2000),
			rememberMe: true, chunked: true},
		{name: "escapes", userName: `<b>Tom & "Jerry"</b> ü` + "\\ \U0001F600 \u00e9\u00a0", rememberMe: true},
		{name: "dont-remember", rememberMe: false},
		{name: "secure", rememberMe: true, mutate: func(c *auth.Config) { c.BaseURL = "https://auth.example.com" },
			read: func(rc *readCase) { rc.IsSecure = true }},
		{name: "prefix", rememberMe: true, mutate: func(c *auth.Config) { c.Cookies.Prefix = "mana" },
			read: func(rc *readCase) { rc.CookiePrefix = "mana" }},
		{name: "version", rememberMe: true, mutate: func(c *auth.Config) { c.Session.CookieCache.Version = "7" },
			read: func(rc *readCase) { rc.Version = "7" }},
		{name: "wrong-version", rememberMe: true, mutate: func(c *auth.Config) { c.Session.CookieCache.Version = "7" },
			read: func(rc *readCase) { rc.Version = "8" }, refused: true},
		{name: "wrong-secret", rememberMe: true,
			read: func(rc *readCase) { rc.Secret = "another-secret-0123456789abcdef-0123456789" }, refused: true},
	}
	type expect struct {
		want    map[string]any // our get-session answer
		refused bool
	}
	var cases []readCase
	expected := map[string]expect{}
	for _, strategy := range []auth.CookieCacheStrategy{auth.CookieCacheCompact, auth.CookieCacheJWT, auth.CookieCacheJWE} {
		for _, v := range variants {
			s := newCacheServer(t, func(c *auth.Config) {
				c.Session.CookieCache.Strategy = strategy
				if v.mutate != nil {
					v.mutate(c)
				}
			})
			name := v.userName
			if name == "" {
				name = "Cookie Cache"
			}
			in := map[string]any{"name": name, "email": "cache@example.com",
				"password": "correct horse battery", "rememberMe": v.rememberMe}
			if v.image != "" {
				in["image"] = v.image
			}
			body, _ := json.Marshal(in)
			w := s.do("POST", "/sign-up/email", string(body), "")
			if w.Code != 200 {
				t.Fatalf("%s/%s: sign-up %d %s", strategy, v.name, w.Code, w.Body)
			}
			cookie := cookieHeader(w)
			if got := strings.Contains(cookie, "session_data.1="); got != v.chunked {
				t.Errorf("%s/%s: chunked %v, want %v: %s", strategy, v.name, got, v.chunked, cookie)
			}
			g := s.do("GET", "/get-session", "", cookie)
			if g.Code != 200 {
				t.Fatalf("%s/%s: get-session %d %s", strategy, v.name, g.Code, g.Body)
			}
			rc := readCase{Name: string(strategy) + "/" + v.name, Cookie: cookie, Secret: testSecret, Strategy: string(strategy)}
			if v.read != nil {
				v.read(&rc)
			}
			cases = append(cases, rc)
			expected[rc.Name] = expect{want: decodeObject(t, g.Body.Bytes()), refused: v.refused}
		}
	}
	var out struct {
		Results []struct {
			Name    string         `json:"name"`
			Payload map[string]any `json:"payload"`
			Error   string         `json:"error"`
		} `json:"results"`
	}
	runCookieCacheScript(t, map[string]any{"mode": "read", "cases": cases}, &out)
	if len(out.Results) != len(cases) {
		t.Fatalf("%d results for %d cases", len(out.Results), len(cases))
	}
	for _, r := range out.Results {
		e := expected[r.Name]
		if e.refused {
			if r.Payload != nil {
				t.Errorf("%s: getCookieCache accepted %v, want null", r.Name, r.Payload)
			}
			continue
		}
		if r.Payload == nil {
			t.Errorf("%s: getCookieCache refused our cookie (%s)", r.Name, r.Error)
			continue
		}
		got := map[string]any{"session": r.Payload["session"], "user": r.Payload["user"]}
		if diff := cmp.Diff(e.want, got); diff != "" {
			t.Errorf("%s: getCookieCache payload differs from get-session (-ours +BA):\n%s", r.Name, diff)
		}
	}
}

// TestBetterAuthClientWithCookieCache runs Better Auth's own JS client
// (client.mjs) against our server with the cookie cache on, for each
// strategy.
func TestBetterAuthClientWithCookieCache(t *testing.T) {
	node := requireNode(t)
	dir := compatDir(t)
	ensureNodeModules(t, dir)
	for _, s := range []auth.CookieCacheStrategy{auth.CookieCacheCompact, auth.CookieCacheJWT, auth.CookieCacheJWE} {
		t.Run(string(s), func(t *testing.T) {
			cfg := auth.Config{Secret: testSecret}
			cfg.Session.CookieCache = auth.CookieCacheConfig{Enabled: true, Strategy: s}
			runScript(t, node, dir, "client.mjs", startAuthServer(t, cfg, nil))
		})
	}
}

// TestWeReadBetterAuthCookieCache: the cookies a Better Auth server sets
// with the cookie cache on (every strategy, chunked, "don't remember me")
// let our server, with the same secret and an empty database, answer
// get-session from the cache alone, with Better Auth's own answer; with
// ?disableCookieCache it reads the (empty) database and signs out.
func TestWeReadBetterAuthCookieCache(t *testing.T) {
	type mintCase struct {
		Name       string `json:"name"`
		Strategy   string `json:"strategy"`
		UserName   string `json:"userName,omitempty"`
		RememberMe bool   `json:"rememberMe"`
	}
	var cases []mintCase
	for _, strategy := range []string{"compact", "jwt", "jwe"} {
		cases = append(cases,
			mintCase{Name: strategy + "/plain", Strategy: strategy, RememberMe: true},
			mintCase{Name: strategy + "/chunked", Strategy: strategy, RememberMe: true, UserName: strings.Repeat("Long Name ", 600)},
			mintCase{Name: strategy + "/dont-remember", Strategy: strategy},
		)
	}
	var out struct {
		Results []struct {
			Name      string         `json:"name"`
			SetCookie []string       `json:"setCookie"`
			Cookie    string         `json:"cookie"`
			Session   map[string]any `json:"session"`
		} `json:"results"`
	}
	runCookieCacheScript(t, map[string]any{"mode": "mint", "secret": testSecret, "cases": cases}, &out)
	if len(out.Results) != len(cases) {
		t.Fatalf("%d results for %d cases", len(out.Results), len(cases))
	}
	for i, r := range out.Results {
		strategy := auth.CookieCacheStrategy(cases[i].Strategy)
		s := newCacheServer(t, func(c *auth.Config) { c.Session.CookieCache.Strategy = strategy })
		if cases[i].UserName != "" && !strings.Contains(r.Cookie, "session_data.1=") {
			t.Errorf("%s: Better Auth did not chunk: %q", r.Name, r.SetCookie)
		}
		w := s.do("GET", "/get-session", "", r.Cookie)
		if w.Code != 200 || w.Body.String() == "null" {
			t.Errorf("%s: get-session %d %s; Better Auth's cookies %q", r.Name, w.Code, w.Body, r.SetCookie)
			continue
		}
		if sc := w.Header().Values("Set-Cookie"); len(sc) != 0 {
			t.Errorf("%s: answering from the cache set cookies %q", r.Name, sc)
		}
		// Better Auth leaves out an image never set; we answer null.
		if diff := cmp.Diff(r.Session, dropNullImage(decodeObject(t, w.Body.Bytes()))); diff != "" {
			t.Errorf("%s: get-session differs from Better Auth's (-BA +ours):\n%s", r.Name, diff)
		}
		w = s.do("GET", "/get-session?disableCookieCache=true", "", r.Cookie)
		if w.Body.String() != "null" {
			t.Errorf("%s: get-session?disableCookieCache=true: %s, want null (empty database)", r.Name, w.Body)
		}
	}
}

// dropNullImage removes "image": null from the user of a get-session
// answer.
func dropNullImage(m map[string]any) map[string]any {
	if u, ok := m["user"].(map[string]any); ok {
		if v, ok := u["image"]; ok && v == nil {
			delete(u, "image")
		}
	}
	return m
}
