package auth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/ratelimit"
	"github.com/managarten/mana-auth/storage"
)

// sendRaw sends one request with exactly the given headers (no jar, no
// automatic Origin).
func sendRaw(t *testing.T, srv *httptest.Server, method, path, body string, hdr map[string]string) *response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// TestOriginCheck is the table of spec §5.1.
func TestOriginCheck(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, func(c *auth.Config) { c.TrustedOrigins = []string{"https://app.example.com"} })
	base := a.Config().BaseURL
	res, err := a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "O", Email: "o@example.com", Password: "password-123"})
	if err != nil {
		t.Fatal(err)
	}
	ck := cookieHeader(res.Cookies)
	const signIn = `{"email":"o@example.com","password":"password-123"}`
	tests := []struct {
		name         string
		method, path string
		body         string
		hdr          map[string]string
		status       int
		code         string
	}{
		{"cookie, no origin", "POST", "/sign-out", "", map[string]string{"Cookie": ck}, 403, "MISSING_OR_NULL_ORIGIN"},
		{"cookie, origin null", "POST", "/sign-out", "", map[string]string{"Cookie": ck, "Origin": "null"}, 403, "MISSING_OR_NULL_ORIGIN"},
		{"cookie, evil origin", "POST", "/sign-out", "", map[string]string{"Cookie": ck, "Origin": "https://evil.example"}, 403, "INVALID_ORIGIN"},
		{"cookie, evil referer", "POST", "/sign-out", "", map[string]string{"Cookie": ck, "Referer": "https://evil.example/page"}, 403, "INVALID_ORIGIN"},
		{"cookie, other port", "POST", "/sign-out", "", map[string]string{"Cookie": ck, "Origin": "http://127.0.0.1:1"}, 403, "INVALID_ORIGIN"},
		{"cookie, other scheme", "POST", "/sign-out", "", map[string]string{"Cookie": ck, "Origin": strings.Replace(base, "http:", "https:", 1)}, 403, "INVALID_ORIGIN"},
		{"cookie, lookalike host", "POST", "/sign-out", "", map[string]string{"Cookie": ck, "Origin": "https://app.example.com.evil.example"}, 403, "INVALID_ORIGIN"},
		{"cookie, origin with userinfo", "POST", "/sign-out", "", map[string]string{"Cookie": ck, "Origin": "https://app.example.com@evil.example"}, 403, "INVALID_ORIGIN"},
		{"cookie, null origin wins over trusted referer", "POST", "/sign-out", "", map[string]string{"Cookie": ck, "Origin": "null", "Referer": base + "/"}, 403, "MISSING_OR_NULL_ORIGIN"},
		{"cookie, null origin, cross-site", "POST", "/sign-out", "", map[string]string{"Cookie": ck, "Origin": "null", "Sec-Fetch-Site": "cross-site"}, 403, "MISSING_OR_NULL_ORIGIN"},
		{"cookie, trusted referer", "POST", "/sign-out", "", map[string]string{"Cookie": ck, "Referer": base + "/settings?tab=1"}, 200, ""},
		{"cookie, base origin", "POST", "/sign-out", "", map[string]string{"Cookie": ck, "Origin": base}, 200, ""},
		{"cookie, listed origin", "POST", "/sign-out", "", map[string]string{"Cookie": ck, "Origin": "https://app.example.com"}, 200, ""},
		{"cookie, listed origin in capitals", "POST", "/sign-out", "", map[string]string{"Cookie": ck, "Origin": "HTTPS://APP.EXAMPLE.COM"}, 200, ""},
		{"cookie, null origin, same-origin", "POST", "/sign-out", "", map[string]string{"Cookie": ck, "Origin": "null", "Sec-Fetch-Site": "same-origin"}, 200, ""},
		{"GET is never checked", "GET", "/get-session", "", map[string]string{"Cookie": ck, "Origin": "https://evil.example"}, 200, ""},
		{"cookie-less POST, evil origin", "POST", "/sign-out", "", map[string]string{"Origin": "https://evil.example"}, 200, ""},
		{"cookie-less POST, nothing", "POST", "/sign-out", "", nil, 200, ""},
		{"sign-in, nothing", "POST", "/sign-in/email", signIn, nil, 200, ""},
		{"sign-in, trusted origin", "POST", "/sign-in/email", signIn, map[string]string{"Origin": base}, 200, ""},
		{"sign-in, evil origin", "POST", "/sign-in/email", signIn, map[string]string{"Origin": "https://evil.example"}, 403, "INVALID_ORIGIN"},
		{"sign-in, evil referer", "POST", "/sign-in/email", signIn, map[string]string{"Referer": "https://evil.example/"}, 403, "INVALID_ORIGIN"},
		{"sign-in, cross-site navigation", "POST", "/sign-in/email", signIn, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED"},
		{"sign-in, cross-site navigation, trusted origin", "POST", "/sign-in/email", signIn, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Origin": base}, 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED"},
		{"sign-up, cross-site navigation", "POST", "/sign-up/email", `{"name":"x","email":"csrf@example.com","password":"password-123"}`, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED"},
		{"sign-in, fetch metadata, no origin", "POST", "/sign-in/email", signIn, map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}, 403, "MISSING_OR_NULL_ORIGIN"},
		{"sign-in, only Sec-Fetch-Dest, no origin", "POST", "/sign-in/email", signIn, map[string]string{"Sec-Fetch-Dest": "document"}, 403, "MISSING_OR_NULL_ORIGIN"},
		{"sign-in, fetch metadata, trusted origin", "POST", "/sign-in/email", signIn, map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Origin": base}, 200, ""},
		{"sign-in, cross-site cors, evil origin", "POST", "/sign-in/email", signIn, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors", "Origin": "https://evil.example"}, 403, "INVALID_ORIGIN"},
		{"sign-in, cookie, evil origin", "POST", "/sign-in/email", signIn, map[string]string{"Cookie": "x=y", "Origin": "https://evil.example"}, 403, "INVALID_ORIGIN"},
		{"sign-in, cookie, no origin", "POST", "/sign-in/email", signIn, map[string]string{"Cookie": "x=y"}, 403, "MISSING_OR_NULL_ORIGIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sendRaw(t, srv, tt.method, "/api/auth"+tt.path, tt.body, tt.hdr)
			if tt.code == "" {
				if r.Status != tt.status {
					t.Errorf("status %d, want %d; body %s", r.Status, tt.status, r.Body)
				}
				return
			}
			wantError(t, r, tt.status, tt.code)
		})
	}
	if n := rowCount(t, a, "user", storage.W("email", "csrf@example.com")); n != 0 {
		t.Errorf("a blocked sign-up created a user")
	}
}

func TestOriginCheckDisabled(t *testing.T) {
	t.Parallel()
	_, srv := newTestServer(t, func(c *auth.Config) { c.DisableOriginCheck = true })
	r := sendRaw(t, srv, "POST", "/api/auth/sign-out", "", map[string]string{"Cookie": "x=y", "Origin": "https://evil.example"})
	if r.Status != 200 {
		t.Errorf("cookie + evil origin with the check off: %d %s", r.Status, r.Body)
	}
	r = sendRaw(t, srv, "POST", "/api/auth/sign-up/email", `{"name":"x","email":"nav@example.com","password":"password-123"}`,
		map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
	if r.Status != 200 {
		t.Errorf("cross-site navigation with the check off: %d %s", r.Status, r.Body)
	}
}

// TestCheckOrigin is the exported check for embedding apps.
func TestCheckOrigin(t *testing.T) {
	t.Parallel()
	a := newAuth(t, nil)
	req := func(method string, hdr map[string]string) *http.Request {
		r := httptest.NewRequest(method, "/x", nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		return r
	}
	tests := []struct {
		r    *http.Request
		want error
	}{
		{req("POST", map[string]string{"Cookie": "a=b"}), auth.ErrMissingOrNullOrigin},
		{req("PUT", map[string]string{"Cookie": "a=b", "Origin": "http://evil.example"}), auth.ErrInvalidOrigin},
		{req("DELETE", map[string]string{"Cookie": "a=b", "Origin": "http://localhost:3000"}), nil},
		{req("POST", map[string]string{"Origin": "http://evil.example"}), nil},
		{req("GET", map[string]string{"Cookie": "a=b", "Origin": "http://evil.example"}), nil},
		{req("HEAD", map[string]string{"Cookie": "a=b"}), nil},
		{req("OPTIONS", map[string]string{"Cookie": "a=b"}), nil},
	}
	for i, tt := range tests {
		if err := a.CheckOrigin(tt.r); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("#%d %s: CheckOrigin = %v, want %v", i, tt.r.Method, err, tt.want)
		}
	}
}

func newOriginAuth(t *testing.T) *auth.Auth {
	return newAuth(t, func(c *auth.Config) {
		c.TrustedOrigins = []string{
			"https://app.example.com", "https://*.example.org", "*.example.net",
			"http://localhost:5173", "myapp://", "exp://192.168.1.5:8081", "HTTPS://UPPER.example.com", "  ",
		}
	})
}

func TestTrustedOrigin(t *testing.T) {
	t.Parallel()
	a := newOriginAuth(t)
	tests := []struct {
		url  string
		want bool
	}{
		{"http://localhost:3000", true}, // BaseURL
		{"http://localhost:3000/any/path?q=1", true},
		{"http://LOCALHOST:3000", true},
		{"https://localhost:3000", false},
		{"http://localhost:3001", false},
		{"http://localhost", false},
		{"https://app.example.com", true},
		{"https://app.example.com/cb?x=1#frag", true},
		{"HTTPS://APP.EXAMPLE.COM", true},
		{"http://app.example.com", false},
		{"https://app.example.com:8443", false},
		{"https://app.example.com.evil.com", false},
		{"https://evil.com/https://app.example.com", false},
		{"https://user@app.example.com", false},
		{"https://app.example.com@evil.com", false},
		{"https://upper.example.com", true}, // configured in capitals
		{"https://a.example.org", true},
		{"https://a.b.example.org", true}, // * spans dots
		{"https://A.EXAMPLE.ORG", true},
		{"http://a.example.org", false}, // the pattern has a scheme
		{"https://example.org", false},
		{"https://evilexample.org", false},
		{"https://a.example.org.evil.com", false},
		{"https://a.example.org:8443", false},
		{"https://a.example.net", true}, // host pattern: any scheme
		{"http://a.example.net", true},
		{"https://a.example.net:8080", false}, // host includes the port
		{"https://example.net", false},
		{"https://a.example.net.evil.com", false},
		{"http://localhost:5173", true},
		{"http://localhost:5174", false},
		{"myapp://", true},
		{"myapp://callback?code=1", true},
		{"MYAPP://callback", true},
		{"myapp2://callback", false},
		{"otherapp://callback", false},
		{"exp://192.168.1.5:8081", true},
		{"exp://192.168.1.5:8081/--/path", true},
		{"exp://192.168.1.5:80812", false},
		{"exp://192.168.1.5:8081@evil.com", false},
		{"exp://192.168.1.6:8081", false},
		{"javascript:alert(1)", false},
		{"data:text/html,hi", false},
		{"/relative", false}, // never for the Origin check
		{"//app.example.com", false},
		{"", false},
		{"null", false},
		{"not a url", false},
		{"https://", false},
	}
	for _, tt := range tests {
		if got := a.TrustedOrigin(tt.url); got != tt.want {
			t.Errorf("TrustedOrigin(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}

// TestTrustedOriginDefaultPort: a URL's origin elides the scheme's default
// port (WHATWG URL, which Better Auth's matching uses).
func TestTrustedOriginDefaultPort(t *testing.T) {
	t.Parallel()
	a := newOriginAuth(t)
	for _, u := range []string{"https://app.example.com:443/cb", "http://localhost:5173/x"} {
		if !a.TrustedOrigin(u) || !a.Host().TrustedRedirect(u) {
			t.Errorf("%q not trusted", u)
		}
	}
}

func TestTrustedRedirect(t *testing.T) {
	t.Parallel()
	a := newOriginAuth(t)
	tests := []struct {
		url  string
		want bool
	}{
		{"/ok", true},
		{"/", true},
		{"/ok?x=1&y=%20#frag", true},
		{"/a/b/c.html", true},
		{"//evil.com", false},
		{"///evil.com", false},
		{"/\\evil.com", false},
		{"\\\\evil.com", false},
		{"/%2F%2Fevil.com", false},
		{"/%2f%2fevil.com", false},
		{"/%5Cevil", false},
		{"/%5cevil", false},
		{"/ok/%2F/x", false},
		{"/ok\n", false},
		{"/ok\r\nSet-Cookie: x=y", false},
		{"/a\tb", false},
		{"/\x00", false},
		{"/\x7f", false},
		{"\t//evil.com", false},
		{" //evil.com", false},
		{"javascript:alert(1)", false},
		{"JavaScript:alert(1)", false},
		{"data:text/html,<script>alert(1)</script>", false},
		{"https://evil.com", false},
		{"https://localhost:3000.evil.com", false},
		{"http://localhost:3000.evil.com/cb", false},
		{"http://user@localhost:3000", false},
		{"http://localhost:3000@evil.com", false},
		{"http:evil.com", false},
		{"http:/evil.com", false},
		{"evil.com", false},
		{"http://localhost:3000", true},
		{"http://localhost:3000/dashboard?x=1", true},
		{"https://app.example.com/after", true},
		{"https://a.example.org/x", true},
		{"myapp://callback", true},
	}
	for _, tt := range tests {
		if got := a.Host().TrustedRedirect(tt.url); got != tt.want {
			t.Errorf("TrustedRedirect(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}

// TestRedirectParams: redirect targets in bodies and queries.
func TestRedirectParams(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, func(c *auth.Config) { c.TrustedOrigins = []string{"https://app.example.com"} })
	c := newClient(t, a, srv)
	c.signUp("cb@example.com", "password-123")
	c.post("/sign-out", nil)
	in := func(extra map[string]any) map[string]any {
		m := map[string]any{"email": "cb@example.com", "password": "password-123"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name   string
		path   string
		body   any
		status int
		code   string
	}{
		{"untrusted callbackURL", "/sign-in/email", in(map[string]any{"callbackURL": "https://evil.com/x"}), 403, "INVALID_CALLBACK_URL"},
		{"protocol-relative callbackURL", "/sign-in/email", in(map[string]any{"callbackURL": "//evil.com"}), 403, "INVALID_CALLBACK_URL"},
		{"javascript callbackURL", "/sign-in/email", in(map[string]any{"callbackURL": "javascript:alert(1)"}), 403, "INVALID_CALLBACK_URL"},
		{"numeric callbackURL", "/sign-in/email", in(map[string]any{"callbackURL": 42}), 400, "VALIDATION_ERROR"},
		{"object callbackURL", "/sign-in/email", in(map[string]any{"callbackURL": map[string]any{}}), 400, "VALIDATION_ERROR"},
		{"untrusted callbackURL on sign-up", "/sign-up/email", map[string]any{"name": "n", "email": "cb2@example.com", "password": "password-123", "callbackURL": "https://evil.com"}, 403, "INVALID_CALLBACK_URL"},
		{"redirectTo", "/sign-out", map[string]any{"redirectTo": "https://evil.com"}, 403, "INVALID_REDIRECT_URL"},
		{"errorCallbackURL", "/sign-out", map[string]any{"errorCallbackURL": "https://evil.com"}, 403, "INVALID_ERROR_CALLBACK_URL"},
		{"newUserCallbackURL", "/sign-out", map[string]any{"newUserCallbackURL": "https://evil.com"}, 403, "INVALID_NEW_USER_CALLBACK_URL"},
		{"callbackURL in the query", "/sign-out?callbackURL=https%3A%2F%2Fevil.com", nil, 403, "INVALID_CALLBACK_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := wantError(t, c.post(tt.path, tt.body), tt.status, tt.code)
			if tt.code == "VALIDATION_ERROR" && e.Message != "Invalid callbackURL: expected a string" {
				t.Errorf("message %q", e.Message)
			}
		})
	}
	if n := rowCount(t, a, "user", storage.W("email", "cb2@example.com")); n != 0 {
		t.Error("sign-up with an untrusted callbackURL created a user")
	}
	for _, cb := range []string{"/dashboard?x=1", "https://app.example.com/after"} {
		r := c.post("/sign-in/email", in(map[string]any{"callbackURL": cb}))
		if r.Status != 200 {
			t.Fatalf("trusted callbackURL %q: %d %s", cb, r.Status, r.Body)
		}
		o := r.Object(t)
		if o["redirect"] != true || o["url"] != cb || r.Header.Get("Location") != cb {
			t.Errorf("callbackURL %q: body %s, Location %q", cb, r.Body, r.Header.Get("Location"))
		}
	}
	for _, cb := range []any{"", nil} {
		r := c.post("/sign-in/email", in(map[string]any{"callbackURL": cb}))
		if r.Status != 200 || r.Object(t)["redirect"] != false || r.Header.Get("Location") != "" {
			t.Errorf("callbackURL %#v: %d %s", cb, r.Status, r.Body)
		}
		if _, has := r.Object(t)["url"]; has {
			t.Errorf("callbackURL %#v: url present in %s", cb, r.Body)
		}
	}
}

// TestRedirectParamsOnGET: Better Auth's origin/redirect middleware returns
// early for GET (spec §5.1: "for every method except GET/HEAD/OPTIONS"), so
// a stray callbackURL on get-session is not an error there.
func TestRedirectParamsOnGET(t *testing.T) {
	t.Parallel()
	_, srv := newTestServer(t, nil)
	r := sendRaw(t, srv, "GET", "/api/auth/get-session?callbackURL=https%3A%2F%2Fevil.com", "", nil)
	if r.Status != 200 {
		t.Errorf("status %d; body %s", r.Status, r.Body)
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	none := newAuth(t, nil)
	proxied := newAuth(t, func(c *auth.Config) {
		c.TrustedProxies = []string{"10.0.0.0/8", "192.168.1.1", "2001:db8:ffff::/48"}
	})
	realIP := newAuth(t, func(c *auth.Config) {
		c.TrustedProxies = []string{"10.0.0.0/8"}
		c.IPHeaders = []string{"X-Real-IP"}
	})
	tests := []struct {
		name   string
		a      *auth.Auth
		remote string
		xff    []string
		hdr    map[string]string
		want   string
	}{
		{"no proxies: peer, XFF ignored", none, "203.0.113.5:1234", []string{"1.2.3.4"}, nil, "203.0.113.5"},
		{"no proxies: single XFF from loopback ignored", none, "127.0.0.1:1", []string{"1.2.3.4"}, nil, "127.0.0.1"},
		{"no proxies: no XFF", none, "203.0.113.5:1234", nil, nil, "203.0.113.5"},
		{"untrusted peer: XFF ignored", proxied, "203.0.113.5:1", []string{"1.2.3.4"}, nil, "203.0.113.5"},
		{"trusted peer: XFF", proxied, "10.0.0.1:1", []string{"1.2.3.4"}, nil, "1.2.3.4"},
		{"trusted single-IP proxy", proxied, "192.168.1.1:1", []string{"1.2.3.4"}, nil, "1.2.3.4"},
		{"neighbour of a single-IP proxy", proxied, "192.168.1.2:1", []string{"1.2.3.4"}, nil, "192.168.1.2"},
		{"rightmost untrusted hop", proxied, "10.0.0.1:1", []string{"6.6.6.6, 1.2.3.4, 5.6.7.8, 10.0.0.2"}, nil, "5.6.7.8"},
		{"client-forged left entries", proxied, "10.0.0.1:1", []string{"10.9.9.9, 1.1.1.1, 5.6.7.8"}, nil, "5.6.7.8"},
		{"several XFF headers", proxied, "10.0.0.1:1", []string{"1.2.3.4", "5.6.7.8, 10.0.0.3"}, nil, "5.6.7.8"},
		{"spaces", proxied, "10.0.0.1:1", []string{"  1.2.3.4  ,   10.0.0.3 "}, nil, "1.2.3.4"},
		{"garbage left of the client", proxied, "10.0.0.1:1", []string{"garbage, 5.6.7.8"}, nil, "5.6.7.8"},
		{"garbage as nearest hop: peer", proxied, "10.0.0.1:1", []string{"1.2.3.4, garbage"}, nil, "10.0.0.1"},
		{"hop with a port is garbage", proxied, "10.0.0.1:1", []string{"1.2.3.4:5678"}, nil, "10.0.0.1"},
		{"empty XFF: peer", proxied, "10.0.0.1:1", []string{""}, nil, "10.0.0.1"},
		{"only trusted hops: peer", proxied, "10.0.0.1:1", []string{"10.0.0.5, 10.0.0.6"}, nil, "10.0.0.1"},
		{"IPv6 peer", none, "[2001:db8:1:2:3:4:5:6]:443", nil, nil, "2001:db8:1:2:3:4:5:6"},
		{"IPv6 loopback", none, "[::1]:443", nil, nil, "::1"},
		{"IPv6 peer with zone", none, "[fe80::1%eth0]:443", nil, nil, "fe80::1"},
		{"IPv6 in XFF", proxied, "10.0.0.1:1", []string{"2001:DB8:a:b:c:d:e:f"}, nil, "2001:db8:a:b:c:d:e:f"},
		{"IPv6 trusted proxy", proxied, "[2001:db8:ffff::1]:1", []string{"1.2.3.4"}, nil, "1.2.3.4"},
		{"IPv6 outside the proxy range", proxied, "[2001:db8:fffe::1]:1", []string{"1.2.3.4"}, nil, "2001:db8:fffe::1"},
		{"IPv4-mapped peer", none, "[::ffff:203.0.113.9]:1", nil, nil, "203.0.113.9"},
		{"IPv4-mapped trusted peer", proxied, "[::ffff:10.0.0.1]:1", []string{"1.2.3.4"}, nil, "1.2.3.4"},
		{"IPv4-mapped in XFF", proxied, "10.0.0.1:1", []string{"::ffff:1.2.3.4"}, nil, "1.2.3.4"},
		{"IPv4-mapped trusted hop skipped", proxied, "10.0.0.1:1", []string{"1.2.3.4, ::ffff:10.0.0.7"}, nil, "1.2.3.4"},
		{"peer without port", none, "203.0.113.5", nil, nil, "203.0.113.5"},
		{"garbage peer", none, "garbage", nil, nil, ""},
		{"empty peer", none, "", nil, nil, ""},
		{"custom header", realIP, "10.0.0.1:1", []string{"9.9.9.9"}, map[string]string{"X-Real-IP": "1.2.3.4"}, "1.2.3.4"},
		{"custom header only: XFF not read", realIP, "10.0.0.1:1", []string{"9.9.9.9"}, nil, "10.0.0.1"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		for k, v := range tt.hdr {
			r.Header.Set(k, v)
		}
		if got := tt.a.Host().ClientIP(r); got != tt.want {
			t.Errorf("%s: ClientIP = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestClientIPRecorded: the session row records the client IP and agent.
func TestClientIPRecorded(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, func(c *auth.Config) { c.TrustedProxies = []string{"127.0.0.1", "::1"} })
	c := newClient(t, a, srv)
	r := c.do("POST", "/sign-up/email", map[string]any{"name": "ip", "email": "ip@example.com", "password": "password-123"},
		map[string]string{"X-Forwarded-For": "198.51.100.77", "User-Agent": "ua-test/2"})
	if r.Status != 200 {
		t.Fatalf("sign-up: %d %s", r.Status, r.Body)
	}
	s := c.session()
	if got := sessionField(t, s, "ipAddress") + "|" + sessionField(t, s, "userAgent"); got != "198.51.100.77|ua-test/2" {
		t.Errorf("session recorded %q", got)
	}
}

func newLimitedServer(t *testing.T, mutate func(*auth.Config)) (*auth.Auth, *client, *testkit.Clock) {
	t.Helper()
	clk := newClock()
	a, srv := newTestServer(t, func(c *auth.Config) {
		c.Now = clk.Now
		c.RateLimit.Disabled = false
		c.TrustedProxies = []string{"127.0.0.1", "::1"}
		if mutate != nil {
			mutate(c)
		}
	})
	return a, newClient(t, a, srv), clk
}

func signInFrom(c *client, ip string) *response {
	c.t.Helper()
	hdr := map[string]string{}
	if ip != "" {
		hdr["X-Forwarded-For"] = ip
	}
	return c.do("POST", "/sign-in/email", map[string]any{"email": "nobody@example.com", "password": "password-123"}, hdr)
}

// TestRateLimitSignIn: 3 sign-ins per 10 s per IP; the 4th is refused with
// Better Auth's body and X-Retry-After.
func TestRateLimitSignIn(t *testing.T) {
	t.Parallel()
	_, c, clk := newLimitedServer(t, nil)
	for i := 0; i < 3; i++ {
		if i > 0 {
			clk.Advance(time.Second)
		}
		if r := signInFrom(c, "198.51.100.1"); r.Status != 401 {
			t.Fatalf("request %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	r := signInFrom(c, "198.51.100.1")
	if r.Status != 429 || string(r.Body) != `{"message":"Too many requests. Please try again later."}` {
		t.Errorf("4th request: %d %s", r.Status, r.Body)
	}
	if got := r.Header.Get("X-Retry-After"); got != "10" {
		t.Errorf("X-Retry-After %q, want 10 (window from the last allowed request)", got)
	}
	// Another IP has its own bucket; another path too.
	if r := signInFrom(c, "198.51.100.2"); r.Status != 401 {
		t.Errorf("other IP: %d %s", r.Status, r.Body)
	}
	if r := c.do("POST", "/sign-up/email", map[string]any{"name": "x", "email": "rl@example.com", "password": "password-123"},
		map[string]string{"X-Forwarded-For": "198.51.100.1"}); r.Status != 200 {
		t.Errorf("other path: %d %s", r.Status, r.Body)
	}
	clk.Advance(3500 * time.Millisecond)
	r = signInFrom(c, "198.51.100.1")
	if r.Status != 429 || r.Header.Get("X-Retry-After") != "7" {
		t.Errorf("3.5 s later: %d, X-Retry-After %q, want 429, 7 (rounded up)", r.Status, r.Header.Get("X-Retry-After"))
	}
	clk.Advance(6500 * time.Millisecond) // exactly 10 s after the last allowed request
	if r := signInFrom(c, "198.51.100.1"); r.Status != 401 {
		t.Errorf("after the window: %d %s", r.Status, r.Body)
	}
}

func TestRateLimitRules(t *testing.T) {
	t.Parallel()
	t.Run("custom rule overrides the default", func(t *testing.T) {
		t.Parallel()
		_, c, _ := newLimitedServer(t, func(cfg *auth.Config) {
			cfg.RateLimit.Rules = map[string]ratelimit.Rule{"/sign-in/email": {Window: time.Minute, Max: 1}}
		})
		signInFrom(c, "")
		r := signInFrom(c, "")
		if r.Status != 429 || r.Header.Get("X-Retry-After") != "60" {
			t.Errorf("2nd request: %d, X-Retry-After %q", r.Status, r.Header.Get("X-Retry-After"))
		}
	})
	t.Run("zero rule disables a path", func(t *testing.T) {
		t.Parallel()
		_, c, _ := newLimitedServer(t, func(cfg *auth.Config) {
			cfg.RateLimit.Rules = map[string]ratelimit.Rule{"/sign-in/email": {}}
		})
		for i := 0; i < 8; i++ {
			if r := signInFrom(c, ""); r.Status != 401 {
				t.Fatalf("request %d: %d", i+1, r.Status)
			}
		}
	})
	t.Run("default rule", func(t *testing.T) {
		t.Parallel()
		_, c, _ := newLimitedServer(t, func(cfg *auth.Config) { cfg.RateLimit.Window, cfg.RateLimit.Max = 10*time.Second, 2 })
		for i := 0; i < 2; i++ {
			if r := c.get("/get-session"); r.Status != 200 {
				t.Fatalf("request %d: %d", i+1, r.Status)
			}
		}
		if r := c.get("/get-session"); r.Status != 429 {
			t.Errorf("3rd get-session: %d", r.Status)
		}
		if r := c.get("/ok"); r.Status != 200 {
			t.Errorf("other path: %d", r.Status)
		}
	})
	t.Run("default rule is 100 per 10s", func(t *testing.T) {
		t.Parallel()
		_, c, _ := newLimitedServer(t, nil)
		for i := 0; i < 100; i++ {
			if r := c.get("/ok"); r.Status != 200 {
				t.Fatalf("request %d: %d", i+1, r.Status)
			}
		}
		if r := c.get("/ok"); r.Status != 429 {
			t.Errorf("101st request: %d", r.Status)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		_, c, _ := newLimitedServer(t, func(cfg *auth.Config) { cfg.RateLimit.Disabled = true })
		for i := 0; i < 8; i++ {
			if r := signInFrom(c, ""); r.Status != 401 {
				t.Fatalf("request %d: %d", i+1, r.Status)
			}
		}
	})
}

type recordingStore struct {
	mu   sync.Mutex
	keys []string
	err  error
}

func (s *recordingStore) Hit(_ context.Context, key string, _ ratelimit.Rule, _ time.Time) (bool, time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, key)
	return s.err == nil, 0, s.err
}

// TestRateLimitStore: keys are "<ip>|<path>"; a failing store lets
// requests through.
func TestRateLimitStore(t *testing.T) {
	t.Parallel()
	st := &recordingStore{}
	a := newAuth(t, func(c *auth.Config) { c.RateLimit = auth.RateLimitConfig{Store: st} })
	// IPv6 clients count by their /64 (two hosts of one subnet share a
	// key), IPv4-mapped ones as IPv4; sessions and logs keep the address.
	for _, remote := range []string{"192.0.2.9:1", "garbage", "[2001:db8:1:2:3:4:5:6]:1", "[2001:db8:1:2:ffff::9]:1", "[::ffff:192.0.2.9]:1"} {
		r := httptest.NewRequest("GET", "/api/auth/ok", nil)
		r.RemoteAddr = remote
		a.Handler().ServeHTTP(httptest.NewRecorder(), r)
	}
	if d := cmp.Diff([]string{"192.0.2.9|/ok", "no-trusted-ip|/ok", "2001:db8:1:2::/64|/ok", "2001:db8:1:2::/64|/ok", "192.0.2.9|/ok"}, st.keys); d != "" {
		t.Errorf("store keys (-want +got):\n%s", d)
	}

	failing := &recordingStore{err: errors.New("store down")}
	a = newAuth(t, func(c *auth.Config) { c.RateLimit = auth.RateLimitConfig{Store: failing} })
	for i := 0; i < 5; i++ {
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/api/auth/ok", nil))
		if w.Code != 200 {
			t.Fatalf("with a failing store: %d %s", w.Code, w.Body)
		}
	}
}

// TestEnumeration: an unknown email and a wrong password give the same
// answer after the same hashing work (the hasher's Verify runs both times).
func TestEnumeration(t *testing.T) {
	// Not parallel: real scrypt (see serialHashing in helpers_test.go).
	pv := loadVectors(t).PasswordHashes[0] // "correct horse" hashed by Better Auth
	ch := &countingHasher{Hasher: auth.ScryptHasher{}}
	a, srv := newTestServer(t, func(c *auth.Config) { c.Hasher = ch })
	ctx := context.Background()
	now := a.Host().Now()
	if err := a.Host().DB().Create(ctx, "user", storage.Record{"id": "u1", "name": "Known", "email": "known@example.com",
		"emailVerified": false, "createdAt": now, "updatedAt": now}); err != nil {
		t.Fatal(err)
	}
	if err := a.Host().DB().Create(ctx, "account", storage.Record{"id": "a1", "accountId": "u1", "providerId": "credential",
		"userId": "u1", "password": pv.Hash, "createdAt": now, "updatedAt": now}); err != nil {
		t.Fatal(err)
	}
	if err := a.Host().CreateUser(ctx, &auth.User{Name: "No password", Email: "oauth-only@example.com"}, nil); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, a, srv)
	signIn := func(email string) *response {
		before := ch.verifies.Load()
		r := c.post("/sign-in/email", map[string]any{"email": email, "password": "wrong password!"})
		if got := ch.verifies.Load() - before; got != 1 {
			t.Errorf("sign-in as %s ran Verify %d times, want 1", email, got)
		}
		return r
	}
	wrong := signIn("known@example.com")
	unknown := signIn("unknown@example.com")
	noPassword := signIn("oauth-only@example.com")
	for name, r := range map[string]*response{"unknown email": unknown, "no password": noPassword} {
		if r.Status != wrong.Status || string(r.Body) != string(wrong.Body) {
			t.Errorf("%s: %d %s; wrong password: %d %s", name, r.Status, r.Body, wrong.Status, wrong.Body)
		}
		if d := cmp.Diff(wrong.Header.Values("Content-Type"), r.Header.Values("Content-Type")); d != "" || len(r.SetCookies()) != 0 {
			t.Errorf("%s: headers differ: %s %q", name, d, r.SetCookies())
		}
	}
	wantError(t, wrong, 401, "INVALID_EMAIL_OR_PASSWORD")
	if got := ch.hashes.Load(); got != 1 {
		t.Errorf("Hash ran %d times, want 1 (the dummy hash at New)", got)
	}
	// The right password works (the vector hash is real).
	if !raceEnabled {
		c.signIn("known@example.com", pv.Password)
	}
	// An overlong password is refused without hashing, the same for all.
	long := strings.Repeat("x", 129)
	before := ch.verifies.Load()
	for _, email := range []string{"known@example.com", "unknown@example.com"} {
		wantError(t, c.post("/sign-in/email", map[string]any{"email": email, "password": long}), 400, "PASSWORD_TOO_LONG")
	}
	if ch.verifies.Load() != before {
		t.Error("an overlong password was hashed")
	}
}
