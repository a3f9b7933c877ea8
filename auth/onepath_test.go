package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

func cookieShapes(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = shapeOf(l)
	}
	sort.Strings(out)
	return out
}

// cookieHeader renders cookies as a request Cookie header.
func cookieHeader(cookies []*http.Cookie) string {
	var parts []string
	for _, c := range cookies {
		if c.MaxAge >= 0 {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	return strings.Join(parts, "; ")
}

// TestOnePathSignIn: the Go call and the HTTP route produce the same
// cookies, and cookies from the Go call open the HTTP session.
func TestOnePathSignIn(t *testing.T) {
	t.Parallel()
	for _, remember := range []bool{true, false} {
		t.Run(map[bool]string{true: "remember", false: "dont-remember"}[remember], func(t *testing.T) {
			t.Parallel()
			a, srv := newTestServer(t, nil)
			c := newClient(t, a, srv)
			c.signUp("one@example.com", "password-123")

			ctx := plugin.WithRequestInfo(context.Background(), plugin.RequestInfo{IP: "198.51.100.4", UserAgent: "go-caller/1"})
			res, err := a.SignInEmail(ctx, auth.SignInInput{Email: "ONE@example.com ", Password: "password-123", RememberMe: &remember})
			if err != nil {
				t.Fatal(err)
			}
			if res.User == nil || res.User.Email != "one@example.com" || res.Session == nil || res.Token() != res.Session.Token {
				t.Fatalf("AuthResult %+v", res)
			}
			if got := *res.Session.IPAddress + "|" + *res.Session.UserAgent; got != "198.51.100.4|go-caller/1" {
				t.Errorf("session recorded %q, want the RequestInfo", got)
			}

			r := c.post("/sign-in/email", map[string]any{"email": "one@example.com", "password": "password-123", "rememberMe": remember})
			if r.Status != 200 {
				t.Fatalf("HTTP sign-in: %d %s", r.Status, r.Body)
			}
			if d := cmp.Diff(cookieShapes(r.SetCookies()), cookieShapes(setCookieLines(res.Cookies))); d != "" {
				t.Errorf("cookie shapes (-http +go):\n%s", d)
			}

			// The Go cookies open the same session over HTTP.
			g := getSessionWith(t, srv, "/api/auth/get-session", map[string]string{"Cookie": cookieHeader(res.Cookies)})
			var sd struct {
				Session struct{ Token, UserID string }
				User    struct{ ID, Email string }
			}
			if err := json.Unmarshal(g.Body, &sd); err != nil || sd.Session.Token != res.Session.Token || sd.User.ID != res.User.ID {
				t.Errorf("get-session with Go cookies: %s (err %v); want token %s", g.Body, err, res.Session.Token)
			}

			// And the Go view of an HTTP session is the same as HTTP's.
			httpTok, _ := r.Object(t)["token"].(string)
			sdGo, err := a.GetSession(context.Background(), httpTok)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(sdGo)
			g = getSessionWith(t, srv, "/api/auth/get-session?disableRefresh=true", map[string]string{"Cookie": sessCookie + "=" + plugin.SignCookieValue(testSecret, httpTok)})
			if d := cmp.Diff(jsonValue(t, g.Body), jsonValue(t, b)); d != "" {
				t.Errorf("GetSession vs get-session (-http +go):\n%s", d)
			}
		})
	}
}

// TestOnePathSignUp: SignUpEmail returns what the route returns.
func TestOnePathSignUp(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, nil)
	c := newClient(t, a, srv)
	res, err := a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "Go", Email: " Go@Example.com", Password: "password-123"})
	if err != nil {
		t.Fatal(err)
	}
	if res.User.Email != "go@example.com" || res.User.EmailVerified || res.Session == nil {
		t.Errorf("AuthResult user %+v session %+v", res.User, res.Session)
	}
	r := c.post("/sign-up/email", map[string]any{"name": "Http", "email": "http@example.com", "password": "password-123"})
	if r.Status != 200 {
		t.Fatalf("HTTP sign-up: %d %s", r.Status, r.Body)
	}
	if d := cmp.Diff(cookieShapes(r.SetCookies()), cookieShapes(setCookieLines(res.Cookies))); d != "" {
		t.Errorf("cookie shapes (-http +go):\n%s", d)
	}
	g := getSessionWith(t, srv, "/api/auth/get-session", map[string]string{"Cookie": cookieHeader(res.Cookies)})
	if !strings.Contains(string(g.Body), `"token":"`+res.Session.Token+`"`) {
		t.Errorf("get-session with Go sign-up cookies: %s", g.Body)
	}
	// A taken email: same error both ways.
	_, err = a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "Dup", Email: "HTTP@example.com", Password: "password-123"})
	if !errors.Is(err, auth.ErrUserAlreadyExistsUseAnother) {
		t.Errorf("Go duplicate sign-up: %v", err)
	}
	wantError(t, c.post("/sign-up/email", map[string]any{"name": "Dup", "email": "go@example.com", "password": "password-123"}), 422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL")
}

// TestSignUpNoAutoSignIn: with auto sign-in off there is no session and no
// cookie, and the route answers token null.
func TestSignUpNoAutoSignIn(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, func(c *auth.Config) { c.EmailPassword.DisableAutoSignIn = true })
	res, err := a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "N", Email: "n@example.com", Password: "password-123"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Session != nil || len(res.Cookies) != 0 || res.Token() != "" {
		t.Errorf("AuthResult %+v, want no session", res)
	}
	r := newClient(t, a, srv).post("/sign-up/email", map[string]any{"name": "M", "email": "m@example.com", "password": "password-123"})
	if r.Status != 200 || r.Object(t)["token"] != nil || len(r.SetCookies()) != 0 {
		t.Errorf("sign-up without auto sign-in: %d %s %q", r.Status, r.Body, r.SetCookies())
	}
	var nilRes *auth.AuthResult
	if nilRes.Token() != "" {
		t.Error("nil AuthResult has a token")
	}
}

func TestSessionOfRequest(t *testing.T) {
	t.Parallel()
	a := newAuth(t, func(c *auth.Config) { c.Bearer = true })
	res, err := a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "R", Email: "r@example.com", Password: "password-123"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		header map[string]string
		ok     bool
	}{
		{"cookie", map[string]string{"Cookie": cookieHeader(res.Cookies)}, true},
		{"bearer signed", map[string]string{"Authorization": "Bearer " + res.Token() + "." + strings.Split(plugin.SignCookieValue(testSecret, res.Token()), ".")[1]}, true},
		{"bearer raw", map[string]string{"Authorization": "Bearer " + res.Token()}, true},
		{"nothing", nil, false},
		{"tampered cookie", map[string]string{"Cookie": sessCookie + "=" + plugin.SignCookieValue("another-secret-another-secret-0123", res.Token())}, false},
		{"unsigned cookie", map[string]string{"Cookie": sessCookie + "=" + res.Token()}, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/anything", nil)
		for k, v := range tt.header {
			r.Header.Set(k, v)
		}
		sd, err := a.Session(r)
		if tt.ok {
			if err != nil || sd.Session.Token != res.Token() || sd.User.ID != res.User.ID {
				t.Errorf("%s: Session = %+v, %v", tt.name, sd, err)
			}
		} else if !errors.Is(err, auth.ErrUnauthorized) || sd != nil {
			t.Errorf("%s: Session = %+v, %v; want ErrUnauthorized", tt.name, sd, err)
		}
	}
	if _, err := a.GetSession(context.Background(), ""); !errors.Is(err, auth.ErrUnauthorized) {
		t.Errorf("GetSession(\"\"): %v", err)
	}
	if _, err := a.GetSession(context.Background(), strings.Repeat("x", 300)); !errors.Is(err, auth.ErrUnauthorized) {
		t.Errorf("GetSession(overlong): %v", err)
	}
}

// TestGetSessionNeverSlides: the Go GetSession reads without refreshing.
func TestGetSessionNeverSlides(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a := newAuth(t, func(c *auth.Config) { c.Now = clk.Now })
	res, err := a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "S", Email: "s@example.com", Password: "password-123"})
	if err != nil {
		t.Fatal(err)
	}
	exp := res.Session.ExpiresAt
	clk.Advance(3 * oneDay)
	sd, err := a.GetSession(context.Background(), res.Token())
	if err != nil {
		t.Fatal(err)
	}
	if !sd.Session.ExpiresAt.Equal(exp) || !sessionRow(t, a, res.Token()).Time("expiresAt").Equal(exp) {
		t.Errorf("GetSession slid the session to %v (was %v)", sd.Session.ExpiresAt, exp)
	}
}

// TestRequireSession: the middleware for embedding apps.
func TestRequireSession(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a := newAuth(t, func(c *auth.Config) { c.Now = clk.Now })
	var seen *auth.SessionData
	h := a.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = auth.SessionFrom(r.Context())
		w.Write([]byte("inner"))
	}))
	serve := func(cookie string) *httptest.ResponseRecorder {
		seen = nil
		r := httptest.NewRequest("GET", "/app", nil)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := serve("")
	if w.Code != 401 || w.Body.String() != `{"message":"Unauthorized","code":"UNAUTHORIZED"}` || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("no session: %d %q %q", w.Code, w.Body, w.Header())
	}
	if seen != nil || len(w.Header().Values("Set-Cookie")) != 0 {
		t.Errorf("no session: inner handler ran or cookies set")
	}
	if auth.SessionFrom(context.Background()) != nil {
		t.Error("SessionFrom of a bare context is not nil")
	}

	res, err := a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "M", Email: "mw@example.com", Password: "password-123"})
	if err != nil {
		t.Fatal(err)
	}
	ck := cookieHeader(res.Cookies)
	w = serve(ck)
	if w.Code != 200 || w.Body.String() != "inner" {
		t.Fatalf("with session: %d %q", w.Code, w.Body)
	}
	if seen == nil || seen.User.ID != res.User.ID || seen.Session.Token != res.Token() {
		t.Errorf("SessionFrom = %+v", seen)
	}
	if sc := w.Header().Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("fresh session re-issued cookies: %q", sc)
	}

	// Past updateAge the middleware slides the session and re-issues it.
	clk.Advance(oneDay + time.Second)
	w = serve(ck)
	sc := w.Header().Values("Set-Cookie")
	if w.Code != 200 || len(sc) != 1 || !strings.HasPrefix(sc[0], sessCookie+"="+plugin.SignCookieValue(testSecret, res.Token())+"; Max-Age=604800;") {
		t.Errorf("refresh through middleware: %d %q", w.Code, sc)
	}
	if !seen.Session.ExpiresAt.Equal(clk.Now().Truncate(time.Millisecond).Add(oneWeek)) {
		t.Errorf("inner handler saw expiresAt %v", seen.Session.ExpiresAt)
	}

	// An expired session: 401 and the cookies deleted.
	clk.Advance(oneWeek + time.Second)
	w = serve(ck)
	if w.Code != 401 || seen != nil {
		t.Errorf("expired: %d, inner ran: %v", w.Code, seen != nil)
	}
	if got := len(w.Header().Values("Set-Cookie")); got != 3 {
		t.Errorf("expired: %d Set-Cookie, want 3 deletions", got)
	}

	// dont_remember sessions are not slid.
	no := false
	res, err = a.SignInEmail(context.Background(), auth.SignInInput{Email: "mw@example.com", Password: "password-123", RememberMe: &no})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(23 * time.Hour)
	w = serve(cookieHeader(res.Cookies))
	if w.Code != 200 || len(w.Header().Values("Set-Cookie")) != 0 {
		t.Errorf("dont_remember through middleware: %d %q", w.Code, w.Header().Values("Set-Cookie"))
	}
}
