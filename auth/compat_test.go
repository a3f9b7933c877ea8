package auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/storage"
)

// newVectorServer serves an Auth with the secret of the Better Auth
// session vector, whose store holds the rows Better Auth wrote for a real
// sign-up, and a clock one minute after that sign-up.
func newVectorServer(t *testing.T, hasher auth.Hasher, bearer bool) (*auth.Auth, *httptest.Server, *testkit.Clock) {
	t.Helper()
	v := loadVectors(t).Session
	clk := newClock()
	clk.Set(mustTime(t, v.DB["session"][0]["createdAt"].(string)).Add(time.Minute))
	a, srv := newTestServer(t, func(c *auth.Config) {
		c.Secret, c.Now, c.Bearer = v.Secret, clk.Now, bearer
		if hasher != nil {
			c.Hasher = hasher
		}
	})
	ctx := context.Background()
	for _, table := range []string{"user", "account", "session"} {
		for _, row := range v.DB[table] {
			if err := a.Host().DB().Create(ctx, table, vectorRecord(t, row, v.DateFields[table])); err != nil {
				t.Fatalf("inserting the vector's %s row: %v", table, err)
			}
		}
	}
	return a, srv, clk
}

func getSessionWith(t *testing.T, srv *httptest.Server, path string, hdr map[string]string) *response {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body []byte
	body, _ = readResp(resp)
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func jsonValue(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return v
}

// TestBetterAuthSessionCookie: a session Better Auth created is served by
// us from its cookie, exactly as Better Auth served it.
func TestBetterAuthSessionCookie(t *testing.T) {
	t.Parallel()
	v := loadVectors(t).Session
	_, srv, _ := newVectorServer(t, nil, false)
	r := getSessionWith(t, srv, "/api/auth/get-session", map[string]string{
		"Cookie": "better-auth.session_token=" + v.CookieValue,
	})
	want := v.GetSession.Response
	if r.Status != want.Status {
		t.Fatalf("status %d, want %d; body %s", r.Status, want.Status, r.Body)
	}
	if d := cmp.Diff(jsonValue(t, want.Body), dropNullImage(jsonValue(t, r.Body))); d != "" {
		t.Errorf("get-session body (-better-auth +ours):\n%s", d)
	}
	if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("Set-Cookie %q, want none (the session is not due for refresh)", sc)
	}
	for _, h := range []string{"cache-control", "pragma", "content-type"} {
		if got := r.Header.Get(h); got != want.Headers[h] {
			t.Errorf("header %s = %q, want %q", h, got, want.Headers[h])
		}
	}
}

// TestBetterAuthSessionBearer: the same session through the bearer forms.
func TestBetterAuthSessionBearer(t *testing.T) {
	t.Parallel()
	v := loadVectors(t).Session
	_, srv, _ := newVectorServer(t, nil, true)
	wantBody := jsonValue(t, v.GetSession.Response.Body)
	tests := []struct {
		name, auth string
		ok         bool
	}{
		{"signed, standard base64", "Bearer " + v.SetAuthToken, true},
		{"signed, percent-encoded", "Bearer " + v.CookieValue, true},
		{"signed, url-safe base64", "Bearer " + strings.NewReplacer("+", "-", "/", "_").Replace(v.SetAuthToken), true},
		{"raw token", "Bearer " + v.Token, true},
		{"scheme in lower case", "bearer " + v.SetAuthToken, true},
		{"scheme in upper case", "BEARER " + v.SetAuthToken, true},
		{"bad signature", "Bearer " + v.Token + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", false},
		{"unknown raw token", "Bearer " + strings.Repeat("x", 32), false},
		{"other scheme", "Basic " + v.SetAuthToken, false},
		{"empty", "Bearer ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := getSessionWith(t, srv, "/api/auth/get-session", map[string]string{"Authorization": tt.auth})
			if r.Status != 200 {
				t.Fatalf("status %d; body %s", r.Status, r.Body)
			}
			if !tt.ok {
				if string(r.Body) != "null" {
					t.Errorf("body %s, want null", r.Body)
				}
				return
			}
			if d := cmp.Diff(wantBody, dropNullImage(jsonValue(t, r.Body))); d != "" {
				t.Errorf("get-session body (-better-auth +ours):\n%s", d)
			}
		})
	}
}

// TestBetterAuthSessionBearerDisabled: without Config.Bearer the header is
// ignored.
func TestBetterAuthSessionBearerDisabled(t *testing.T) {
	t.Parallel()
	v := loadVectors(t).Session
	_, srv, _ := newVectorServer(t, nil, false)
	r := getSessionWith(t, srv, "/api/auth/get-session", map[string]string{"Authorization": "Bearer " + v.SetAuthToken})
	if r.Status != 200 || string(r.Body) != "null" {
		t.Errorf("get-session with bearer but Bearer off: %d %s, want 200 null", r.Status, r.Body)
	}
}

// TestBetterAuthDontRememberSession: the rememberMe:false session Better
// Auth created, sent with its dont_remember cookie, is served as is and
// never slid forward, even though it is due by the refresh rule.
func TestBetterAuthDontRememberSession(t *testing.T) {
	t.Parallel()
	vs := loadVectors(t)
	v := vs.DontRemember
	a, srv, clk := newVectorServer(t, nil, false)
	clk.Set(mustTime(t, v.SessionRow["createdAt"].(string)).Add(time.Minute))
	if err := a.Host().DB().Create(context.Background(), "session", vectorRecord(t, v.SessionRow, vs.Session.DateFields["session"])); err != nil {
		t.Fatal(err)
	}
	r := getSessionWith(t, srv, "/api/auth/get-session", v.GetSession.Request.Headers)
	if r.Status != 200 {
		t.Fatalf("status %d; body %s", r.Status, r.Body)
	}
	if d := cmp.Diff(jsonValue(t, v.GetSession.Response.Body), dropNullImage(jsonValue(t, r.Body))); d != "" {
		t.Errorf("get-session body (-better-auth +ours):\n%s", d)
	}
	if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("Set-Cookie %q, want none (dont_remember sessions are never refreshed)", sc)
	}
	// Without the dont_remember cookie the same session is due: it slides.
	cookie, _, _ := strings.Cut(v.GetSession.Request.Headers["cookie"], "; ")
	r = getSessionWith(t, srv, "/api/auth/get-session", map[string]string{"Cookie": cookie})
	sc := r.Header.Get("Set-Cookie")
	if !strings.HasPrefix(sc, "better-auth.session_token=") || !strings.Contains(sc, "Max-Age=604800") {
		t.Errorf("without dont_remember: Set-Cookie %q, want a refreshed session cookie", sc)
	}
	rec, err := a.Host().DB().FindOne(context.Background(), "session", storage.W("token", v.SessionRow["token"]))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec.Time("expiresAt"), clk.Now().Add(7*24*time.Hour); !got.Equal(want) {
		t.Errorf("refreshed expiresAt %v, want %v", got, want)
	}
}

// TestBetterAuthPasswordSignIn: the password hash Better Auth stored for
// the user verifies, so the user can sign in to our server.
func TestBetterAuthPasswordSignIn(t *testing.T) {
	// Not parallel: real scrypt (see serialHashing in helpers_test.go).
	v := loadVectors(t).Session
	a, srv, _ := newVectorServer(t, auth.ScryptHasher{}, false)
	c := newClient(t, a, srv)
	user := v.DB["user"][0]
	emails := []string{user["email"].(string)}
	if !raceEnabled {
		emails = append(emails, "  Ada@EXAMPLE.com ") // normalised before the look-up
	}
	for _, email := range emails {
		out := c.signIn(email, v.Password)
		u, _ := out["user"].(map[string]any)
		if u["id"] != user["id"] || u["email"] != user["email"] {
			t.Errorf("sign-in as %q returned user %v, want id %v", email, u, user["id"])
		}
		if tok, _ := out["token"].(string); len(tok) != 32 {
			t.Errorf("sign-in token %q", out["token"])
		}
		if out["redirect"] != false {
			t.Errorf("redirect = %v, want false", out["redirect"])
		}
		s := c.session()
		if s == nil || s["user"].(map[string]any)["id"] != user["id"] {
			t.Errorf("get-session after sign-in: %v", s)
		}
	}
	if !raceEnabled { // wrong passwords are covered by TestEnumeration
		r := c.post("/sign-in/email", map[string]any{"email": user["email"], "password": v.Password + "!"})
		wantError(t, r, 401, "INVALID_EMAIL_OR_PASSWORD")
	}
}
