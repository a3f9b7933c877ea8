package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/auth"
)

const testSecret = "embed-example-test-secret-0123456789abcdef"

// start runs the app in-process on a loopback port over the SQLite files
// in dir and returns its URL.
func start(t *testing.T, dir string) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	baseURL := "http://" + srv.Listener.Addr().String()
	h, closeApp, err := newApp(t.Context(), Options{BaseURL: baseURL, DataDir: dir, Secret: testSecret,
		Hasher: auth.Argon2idHasher{Memory: 64, Time: 1}}) // cheap: fast under -race
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(func() { srv.Close(); closeApp() })
	return baseURL
}

// noRedirect is a client that returns redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func do(t *testing.T, method, u, contentType, body string, cookies []*http.Cookie) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "better-auth.session_token" {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", resp.Header["Set-Cookie"])
	return nil
}

func meEmail(t *testing.T, base string, c *http.Cookie) string {
	t.Helper()
	resp, body := do(t, "GET", base+"/api/me", "", "", []*http.Cookie{c})
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/me: %d %s", resp.StatusCode, body)
	}
	var me struct{ Email string }
	if err := json.Unmarshal([]byte(body), &me); err != nil {
		t.Fatal(err)
	}
	return me.Email
}

func TestEmbed(t *testing.T) {
	dir := t.TempDir()
	base := start(t, dir)

	// The protected route refuses requests without a session, with Better
	// Auth's JSON error.
	resp, body := do(t, "GET", base+"/api/me", "", "", nil)
	if resp.StatusCode != 401 || !strings.Contains(body, `"UNAUTHORIZED"`) {
		t.Fatalf("GET /api/me without a session: %d %s", resp.StatusCode, body)
	}

	// Sign up over HTTP (what Better Auth's JS client does); the cookie
	// opens the protected route.
	resp, body = do(t, "POST", base+"/api/auth/sign-up/email", "application/json",
		`{"name":"Ada","email":"ada@example.com","password":"correct horse"}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("sign-up: %d %s", resp.StatusCode, body)
	}
	if got := meEmail(t, base, sessionCookie(t, resp)); got != "ada@example.com" {
		t.Fatalf("/api/me = %q", got)
	}

	// The server-side form signs in the demo user seeded from Go.
	form := url.Values{"email": {demoEmail}, "password": {demoPassword}}.Encode()
	formResp, body := do(t, "POST", base+"/login", "application/x-www-form-urlencoded", form, nil)
	if formResp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /login: %d %s", formResp.StatusCode, body)
	}
	formCookie := sessionCookie(t, formResp)
	if got := meEmail(t, base, formCookie); got != demoEmail {
		t.Fatalf("/api/me after /login = %q", got)
	}
	if _, page := do(t, "GET", base+"/", "", "", nil); !strings.Contains(page, `action="/login"`) {
		t.Fatalf("home page without a session: %s", page)
	}
	_, page := do(t, "GET", base+"/", "", "", []*http.Cookie{formCookie})
	if !strings.Contains(page, "Signed in as "+demoEmail) {
		t.Fatalf("home page: %s", page)
	}

	// One path: the JSON route sets the same cookies, with the same
	// attributes, as the form that called a.SignInEmail.
	jsonResp, body := do(t, "POST", base+"/api/auth/sign-in/email", "application/json",
		`{"email":"`+demoEmail+`","password":"`+demoPassword+`"}`, nil)
	if jsonResp.StatusCode != 200 {
		t.Fatalf("sign-in: %d %s", jsonResp.StatusCode, body)
	}
	shape := func(resp *http.Response) []string {
		var out []string
		for _, c := range resp.Cookies() {
			c.Value, c.Raw = "", ""
			out = append(out, c.String())
		}
		return out
	}
	if f, j := shape(formResp), shape(jsonResp); strings.Join(f, "\n") != strings.Join(j, "\n") {
		t.Fatalf("cookies differ:\n/login:         %v\n/sign-in/email: %v", f, j)
	}

	// Wrong passwords get the SDK's error and no cookie, on both paths.
	form = url.Values{"email": {demoEmail}, "password": {"wrong password"}}.Encode()
	resp, body = do(t, "POST", base+"/login", "application/x-www-form-urlencoded", form, nil)
	if resp.StatusCode != 401 || !strings.Contains(body, "INVALID_EMAIL_OR_PASSWORD") || len(resp.Cookies()) != 0 {
		t.Fatalf("POST /login with a wrong password: %d %s %v", resp.StatusCode, body, resp.Cookies())
	}

	// A login form posted from another site is refused (login CSRF).
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"email": {demoEmail}, "password": {demoPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("cross-site POST /login: %d", resp.StatusCode)
	}

	// Everything is in SQLite: a second app over the same files (same
	// secret) knows the users and the session; migrating again is a no-op,
	// and the demo user is not seeded twice.
	base2 := start(t, dir)
	if got := meEmail(t, base2, formCookie); got != demoEmail {
		t.Fatalf("/api/me on the restarted app = %q", got)
	}
}
