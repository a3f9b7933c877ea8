package auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/ratelimit"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

// TestUpdateUserInput: update-user takes name and image only; email and
// core fields cannot be set through it.
func TestUpdateUserInput(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a, srv := newTestServer(t, func(c *auth.Config) { c.Now = clk.Now })
	c := newClient(t, a, srv)
	uid := c.signUp("upd@example.com", "password-123")["user"].(map[string]any)["id"].(string)
	tests := []struct {
		name   string
		body   any
		status int
		want   string // exact body
	}{
		{"email", map[string]any{"email": "new@example.com"}, 400, `{"message":"Email can not be updated","code":"EMAIL_CAN_NOT_BE_UPDATED"}`},
		{"empty object", map[string]any{}, 400, `{"message":"No fields to update"}`},
		{"only core fields", map[string]any{"emailVerified": true, "id": "x", "createdAt": "2000-01-01T00:00:00.000Z"}, 400, `{"message":"No fields to update"}`},
		{"name as number", map[string]any{"name": 5}, 400, `{"message":"[body.name] Invalid input: expected string, received number","code":"VALIDATION_ERROR"}`},
		{"image as object", map[string]any{"image": map[string]any{}}, 400, `{"message":"[body.image] Invalid input: expected string, received object","code":"VALIDATION_ERROR"}`},
		{"array body", `[]`, 400, `{"message":"[body] Invalid input: expected record, received array","code":"VALIDATION_ERROR"}`},
		{"no body", nil, 400, `{"message":"[body] Invalid input: expected record, received undefined","code":"VALIDATION_ERROR"}`},
		{"name with control character", map[string]any{"name": "a\x07b"}, 400, ""},
	}
	for _, tt := range tests {
		r := c.post("/update-user", tt.body)
		if r.Status != tt.status || (tt.want != "" && string(r.Body) != tt.want) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, r.Status, r.Body, tt.status, tt.want)
		}
	}

	clk.Advance(time.Minute)
	r := c.post("/update-user", map[string]any{"name": "New Name", "image": "https://img.example.com/a.png", "emailVerified": true})
	if r.Status != 200 || string(r.Body) != `{"status":true}` {
		t.Fatalf("update-user: %d %s", r.Status, r.Body)
	}
	if ck := parsedCookie(t, r, sessCookie); ck.MaxAge != 604800 {
		t.Errorf("re-issued cookie %+v", ck)
	}
	u, err := a.Host().FindUserByID(context.Background(), uid)
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "New Name" || u.Image == nil || *u.Image != "https://img.example.com/a.png" || u.EmailVerified || !u.UpdatedAt.Equal(clk.Now()) {
		t.Errorf("user after update %+v (emailVerified must stay false)", u)
	}
	if r := c.post("/update-user", map[string]any{"image": nil}); r.Status != 200 {
		t.Fatalf("clearing image: %d %s", r.Status, r.Body)
	}
	if u, _ := a.Host().FindUserByID(context.Background(), uid); u.Image != nil {
		t.Errorf("image not cleared: %q", *u.Image)
	}
	if s := c.session(); s["user"].(map[string]any)["name"] != "New Name" {
		t.Errorf("get-session user %v", s["user"])
	}
}

func TestVerifyPassword(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, nil)
	c := newClient(t, a, srv)
	c.signUp("vp@example.com", "password-123")
	if r := c.post("/verify-password", map[string]any{"password": "password-123"}); r.Status != 200 || string(r.Body) != `{"status":true}` {
		t.Errorf("right password: %d %s", r.Status, r.Body)
	}
	wantError(t, c.post("/verify-password", map[string]any{"password": "password-124"}), 400, "INVALID_PASSWORD")
	wantError(t, c.post("/verify-password", map[string]any{}), 400, "VALIDATION_ERROR")

	// A user without a password gets the same answer as a wrong password.
	if err := a.Host().CreateUser(context.Background(), &auth.User{Name: "S", Email: "social@example.com"}, nil); err != nil {
		t.Fatal(err)
	}
	u, _ := a.Host().FindUserByEmail(context.Background(), "social@example.com")
	res, err := a.Host().CreateSession(context.Background(), u, true)
	if err != nil {
		t.Fatal(err)
	}
	r := sendRaw(t, srv, "POST", "/api/auth/verify-password", `{"password":"anything-1"}`,
		map[string]string{"Cookie": cookieHeader(res.Cookies), "Origin": a.Config().BaseURL})
	wantError(t, r, 400, "INVALID_PASSWORD")
	if err := a.CheckPassword(context.Background(), u.ID, "anything-1"); !errors.Is(err, auth.ErrCredentialAccountNotFound) {
		t.Errorf("CheckPassword without account: %v", err)
	}
	wantError(t, sendRaw(t, srv, "POST", "/api/auth/change-password", `{"currentPassword":"anything-1","newPassword":"anything-2"}`,
		map[string]string{"Cookie": cookieHeader(res.Cookies), "Origin": a.Config().BaseURL}), 400, "CREDENTIAL_ACCOUNT_NOT_FOUND")
}

// TestErrorPage: the error page escapes its parameters.
func TestErrorPage(t *testing.T) {
	t.Parallel()
	_, srv := newTestServer(t, nil)
	r := sendRaw(t, srv, "GET", "/api/auth/error?error="+url.QueryEscape(`<script>alert(1)</script>`)+"&error_description="+url.QueryEscape(`"><img src=x onerror=alert(1)>`), "", nil)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("error page: %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	body := string(r.Body)
	for _, bad := range []string{"<script>", "<img"} {
		if strings.Contains(body, bad) {
			t.Errorf("error page reflects %q unescaped: %s", bad, body)
		}
	}
	if !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("error page lacks the escaped code: %s", body)
	}
}

// TestSignUpModes: disabled sign-up, disabled email/password, no auto
// sign-in with a taken email, required verification.
func TestSignUpModes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	seed := func(t *testing.T, a *auth.Auth, email string) {
		t.Helper()
		h, err := a.Host().HashPassword(ctx, "password-123")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Host().CreateUser(ctx, &auth.User{Name: "Seed", Email: email}, &plugin.Account{ID: plugin.NewID(), ProviderID: plugin.CredentialProvider, Password: &h}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("DisableSignUp", func(t *testing.T) {
		t.Parallel()
		a, srv := newTestServer(t, func(c *auth.Config) { c.EmailPassword.DisableSignUp = true })
		c := newClient(t, a, srv)
		wantError(t, c.post("/sign-up/email", map[string]any{"name": "x", "email": "x@example.com", "password": "password-123"}), 400, "EMAIL_PASSWORD_SIGN_UP_DISABLED")
		seed(t, a, "seed@example.com")
		c.signIn("seed@example.com", "password-123")
	})
	t.Run("Disabled", func(t *testing.T) {
		t.Parallel()
		a, srv := newTestServer(t, func(c *auth.Config) { c.EmailPassword.Disabled = true })
		c := newClient(t, a, srv)
		seed(t, a, "seed@example.com")
		wantError(t, c.post("/sign-up/email", map[string]any{"name": "x", "email": "x@example.com", "password": "password-123"}), 400, "EMAIL_PASSWORD_SIGN_UP_DISABLED")
		wantError(t, c.post("/sign-in/email", map[string]any{"email": "seed@example.com", "password": "password-123"}), 400, "EMAIL_PASSWORD_DISABLED")
	})
	t.Run("DisableAutoSignIn, taken email", func(t *testing.T) {
		t.Parallel()
		a, srv := newTestServer(t, func(c *auth.Config) { c.EmailPassword.DisableAutoSignIn = true })
		c := newClient(t, a, srv)
		first := c.post("/sign-up/email", map[string]any{"name": "One", "email": "taken@example.com", "password": "password-123"})
		again := c.post("/sign-up/email", map[string]any{"name": "Two", "email": "Taken@example.com", "password": "password-456"})
		if first.Status != 200 || again.Status != 200 {
			t.Fatalf("sign-ups: %d %s / %d %s", first.Status, first.Body, again.Status, again.Body)
		}
		f, g := first.Object(t), again.Object(t)
		if f["token"] != nil || g["token"] != nil {
			t.Errorf("tokens %v, %v; want null", f["token"], g["token"])
		}
		fu, gu := f["user"].(map[string]any), g["user"].(map[string]any)
		if fu["id"] == gu["id"] || gu["email"] != "taken@example.com" || gu["name"] != "Two" {
			t.Errorf("made-up user %v (real %v)", gu, fu)
		}
		keys := func(m map[string]any) []string {
			var out []string
			for k := range m {
				out = append(out, k)
			}
			return out
		}
		if d := cmp.Diff(keys(fu), keys(gu), sortStrings); d != "" {
			t.Errorf("made-up user has another shape:\n%s", d)
		}
		if n := rowCount(t, a, "user"); n != 1 {
			t.Errorf("%d users", n)
		}
		res, err := a.SignUpEmail(ctx, auth.SignUpInput{Name: "Three", Email: "taken@example.com", Password: "password-789"})
		if err != nil || !res.Existing || res.Session != nil {
			t.Errorf("Go sign-up of a taken email: %+v, %v; want Existing and no session", res, err)
		}
		// The first password still holds.
		c.signIn("taken@example.com", "password-123")
	})
	t.Run("RequireEmailVerification", func(t *testing.T) {
		t.Parallel()
		a, srv := newTestServer(t, func(c *auth.Config) { c.EmailPassword.RequireEmailVerification = true })
		c := newClient(t, a, srv)
		seed(t, a, "unverified@example.com")
		wantError(t, c.post("/sign-in/email", map[string]any{"email": "unverified@example.com", "password": "password-123"}), 403, "EMAIL_NOT_VERIFIED")
		wantError(t, c.post("/sign-in/email", map[string]any{"email": "unverified@example.com", "password": "password-999"}), 401, "INVALID_EMAIL_OR_PASSWORD")
		if n := rowCount(t, a, "session"); n != 0 {
			t.Errorf("%d sessions for an unverified user", n)
		}
	})
}

var sortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

var isoMillis = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// TestJSONDates: every date is ISO 8601 UTC with exactly three fractional
// digits, and a session answers Better Auth's field set.
func TestJSONDates(t *testing.T) {
	t.Parallel()
	clk := newClock()
	clk.Set(time.Date(2030, 5, 6, 7, 8, 9, 0, time.FixedZone("X", 3600))) // whole second, not UTC
	a, srv := newTestServer(t, func(c *auth.Config) { c.Now = clk.Now })
	c := newClient(t, a, srv)
	c.signUp("dates@example.com", "password-123")
	s := c.session()
	for _, part := range []string{"session", "user"} {
		for k, v := range s[part].(map[string]any) {
			if strings.HasSuffix(k, "At") && !isoMillis.MatchString(fmt.Sprint(v)) {
				t.Errorf("%s.%s = %v", part, k, v)
			}
		}
	}
	if got := sessionField(t, s, "createdAt"); got != "2030-05-06T06:08:09.000Z" {
		t.Errorf("createdAt %s", got)
	}
	var sk, uk []string
	for k := range s["session"].(map[string]any) {
		sk = append(sk, k)
	}
	for k := range s["user"].(map[string]any) {
		uk = append(uk, k)
	}
	if d := cmp.Diff([]string{"createdAt", "expiresAt", "id", "ipAddress", "token", "updatedAt", "userAgent", "userId"}, sk, sortStrings); d != "" {
		t.Errorf("session fields:\n%s", d)
	}
	if d := cmp.Diff([]string{"createdAt", "email", "emailVerified", "id", "image", "name", "updatedAt"}, uk, sortStrings); d != "" {
		t.Errorf("user fields:\n%s", d)
	}
	if got := plugin.FormatTime(time.Date(2030, 1, 1, 0, 0, 0, 123456789, time.UTC)); got != "2030-01-01T00:00:00.123Z" {
		t.Errorf("FormatTime truncation: %s", got)
	}
}

// TestBearer: the bearer plugin behaviour for native apps.
func TestBearer(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a, srv := newTestServer(t, func(c *auth.Config) { c.Now = clk.Now; c.Bearer = true })
	r := sendRaw(t, srv, "POST", "/api/auth/sign-up/email", `{"name":"B","email":"bearer@example.com","password":"password-123"}`, nil)
	if r.Status != 200 {
		t.Fatalf("sign-up: %d %s", r.Status, r.Body)
	}
	tok := r.Header.Get("Set-Auth-Token")
	ck := parsedCookie(t, r, sessCookie)
	if dec, _ := url.PathUnescape(ck.Value); tok == "" || tok != dec {
		t.Errorf("set-auth-token %q, want the decoded cookie %q", tok, dec)
	}
	if got := r.Header.Get("Access-Control-Expose-Headers"); got != "set-auth-token" {
		t.Errorf("Access-Control-Expose-Headers %q", got)
	}
	bearer := map[string]string{"Authorization": "Bearer " + tok}

	// Bearer-only requests carry no cookie: no origin check.
	hdr := map[string]string{"Authorization": "Bearer " + tok, "Origin": "https://evil.example"}
	if r := sendRaw(t, srv, "POST", "/api/auth/update-user", `{"name":"Native"}`, hdr); r.Status != 200 {
		t.Errorf("bearer update-user: %d %s", r.Status, r.Body)
	}
	// Reading needs no new token.
	if r := sendRaw(t, srv, "GET", "/api/auth/get-session", "", bearer); r.Header.Get("Set-Auth-Token") != "" || !strings.Contains(string(r.Body), `"name":"Native"`) {
		t.Errorf("bearer get-session: %s, set-auth-token %q", r.Body, r.Header.Get("Set-Auth-Token"))
	}
	// A refresh hands out the token again.
	clk.Advance(oneDay)
	r = sendRaw(t, srv, "GET", "/api/auth/get-session", "", bearer)
	if r.Header.Get("Set-Auth-Token") != tok {
		t.Errorf("refresh: set-auth-token %q, want %q", r.Header.Get("Set-Auth-Token"), tok)
	}
	// Sign-out with the bearer token ends that session; no token is handed out.
	r = sendRaw(t, srv, "POST", "/api/auth/sign-out", "", bearer)
	if r.Status != 200 || r.Header.Get("Set-Auth-Token") != "" {
		t.Errorf("sign-out: %d, set-auth-token %q", r.Status, r.Header.Get("Set-Auth-Token"))
	}
	if r := sendRaw(t, srv, "GET", "/api/auth/get-session", "", bearer); string(r.Body) != "null" {
		t.Errorf("after sign-out: %s", r.Body)
	}
	if n := rowCount(t, a, "session"); n != 0 {
		t.Errorf("%d sessions left", n)
	}
	// Without Config.Bearer there is no header.
	_, plain := newTestServer(t, nil)
	r = sendRaw(t, plain, "POST", "/api/auth/sign-up/email", `{"name":"P","email":"plain@example.com","password":"password-123"}`, nil)
	if r.Header.Get("Set-Auth-Token") != "" {
		t.Errorf("set-auth-token without Bearer: %q", r.Header.Get("Set-Auth-Token"))
	}
}

// faultyAdapter is a memory adapter whose reads fail on demand.
type faultyAdapter struct {
	*memory.Adapter
	fail atomic.Pointer[error]
}

func (f *faultyAdapter) FindOne(ctx context.Context, table string, where ...storage.Where) (storage.Record, error) {
	if p := f.fail.Load(); p != nil {
		return nil, *p
	}
	return f.Adapter.FindOne(ctx, table, where...)
}

// FindOneJoined fails on demand too: the embedded memory adapter is a
// storage.Joiner, which get-session uses instead of FindOne.
func (f *faultyAdapter) FindOneJoined(ctx context.Context, table, ref string, where ...storage.Where) (storage.Record, storage.Record, error) {
	if p := f.fail.Load(); p != nil {
		return nil, nil, *p
	}
	return f.Adapter.FindOneJoined(ctx, table, ref, where...)
}

// TestStorageFailures: a database outage is a 503 with Retry-After, any
// other storage error a 500; neither leaks the error's detail.
func TestStorageFailures(t *testing.T) {
	t.Parallel()
	db := &faultyAdapter{Adapter: memory.New()}
	cfg := testConfig("http://localhost:3000")
	a, err := auth.New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "F", Email: "f@example.com", Password: "password-123"})
	if err != nil {
		t.Fatal(err)
	}
	cookie := cookieHeader(res.Cookies)
	serve := func(method, path, body, cookie string) *httptest.ResponseRecorder {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		r := httptest.NewRequest(method, path, rd)
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
			r.Header.Set("Origin", "http://localhost:3000")
		}
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, r)
		return w
	}
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"outage", fmt.Errorf("pg: dial 10.1.2.3: connection refused: %w", storage.ErrUnavailable), 503, "SERVICE_UNAVAILABLE"},
		{"timeout", fmt.Errorf("pg: query on 10.1.2.3: %w", context.DeadlineExceeded), 503, "SERVICE_UNAVAILABLE"},
		{"other", errors.New("pg: 10.1.2.3: column secret_col does not exist"), 500, "INTERNAL_SERVER_ERROR"},
	}
	for _, tt := range tests {
		db.fail.Store(&tt.err)
		for _, rq := range []struct{ method, path, body, cookie string }{
			{"GET", "/api/auth/get-session", "", cookie},
			{"POST", "/api/auth/sign-in/email", `{"email":"f@example.com","password":"password-123"}`, ""},
			{"POST", "/api/auth/sign-up/email", `{"name":"G","email":"g@example.com","password":"password-123"}`, ""},
			{"GET", "/api/auth/list-sessions", "", cookie},
		} {
			w := serve(rq.method, rq.path, rq.body, rq.cookie)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), `"code":"`+tt.code+`"`) {
				t.Errorf("%s, %s %s: %d %s, want %d %s", tt.name, rq.method, rq.path, w.Code, w.Body, tt.status, tt.code)
			}
			if strings.Contains(w.Body.String(), "10.1.2.3") {
				t.Errorf("%s, %s: detail leaked: %s", tt.name, rq.path, w.Body)
			}
			if tt.status == 503 && w.Header().Get("Retry-After") == "" {
				t.Errorf("%s, %s: 503 without Retry-After", tt.name, rq.path)
			}
			if len(w.Header().Values("Set-Cookie")) != 0 {
				t.Errorf("%s, %s: a storage failure touched cookies: %q", tt.name, rq.path, w.Header().Values("Set-Cookie"))
			}
		}
		// Requests that need no database still work.
		if w := serve("GET", "/api/auth/get-session", "", ""); w.Code != 200 || w.Body.String() != "null" {
			t.Errorf("%s: cookie-less get-session: %d %s", tt.name, w.Code, w.Body)
		}
	}
	db.fail.Store(nil)
	if w := serve("GET", "/api/auth/get-session", "", cookie); !strings.Contains(w.Body.String(), res.Token()) {
		t.Errorf("after recovery: %s", w.Body)
	}
}

// TestHandlerErrors: handler errors that are not *auth.Error are 500s
// without detail; *auth.Error keeps its status and code.
func TestHandlerErrors(t *testing.T) {
	t.Parallel()
	p := mkRoutePlugin("errs",
		mkEndpoint("GET", "/plain-error"), mkEndpoint("GET", "/api-error"), mkEndpoint("GET", "/wrapped"))
	p.eps[0].Handler = func(*plugin.Context) (any, error) { return nil, errors.New("secret detail") }
	p.eps[1].Handler = func(*plugin.Context) (any, error) {
		return nil, plugin.NewError(418, "TEAPOT", "I'm a teapot").With(errors.New("secret detail"))
	}
	p.eps[2].Handler = func(*plugin.Context) (any, error) {
		return nil, fmt.Errorf("context: %w", auth.ErrUserNotFound)
	}
	_, srv := newTestServer(t, nil, p)
	tests := []struct {
		path string
		want string
		code int
	}{
		{"/plain-error", `{"message":"Internal server error","code":"INTERNAL_SERVER_ERROR"}`, 500},
		{"/api-error", `{"message":"I'm a teapot","code":"TEAPOT"}`, 418},
		{"/wrapped", `{"message":"User not found","code":"USER_NOT_FOUND"}`, 400},
	}
	for _, tt := range tests {
		r := sendRaw(t, srv, "GET", "/api/auth"+tt.path, "", nil)
		if r.Status != tt.code || string(r.Body) != tt.want {
			t.Errorf("%s: %d %s, want %d %s", tt.path, r.Status, r.Body, tt.code, tt.want)
		}
	}
	// Error helpers.
	e := auth.ErrInvalidEmailOrPassword.With(errors.New("cause"))
	if !errors.Is(e, auth.ErrInvalidEmailOrPassword) || errors.Is(e, auth.ErrInvalidEmail) || errors.Unwrap(e) == nil {
		t.Error("Error.Is / Unwrap")
	}
	if m := auth.ErrUnauthorized.WithMessage("x"); m.Code != "UNAUTHORIZED" || m.Message != "x" || auth.ErrUnauthorized.Message != "Unauthorized" {
		t.Error("WithMessage must copy")
	}
	if ae := plugin.AsError(errors.New("x")); ae.Status != 500 || ae.Code != "INTERNAL_SERVER_ERROR" {
		t.Errorf("AsError %+v", ae)
	}
	if plugin.AsError(nil) != nil {
		t.Error("AsError(nil)")
	}
}

func TestWriteCookies(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	plugin.WriteCookies(w, []*http.Cookie{
		{Name: "a", Value: "1", Path: "/", MaxAge: -1},
		{Name: "b", Value: "2", Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode, Partitioned: true},
		{Name: "a", Value: "3", Path: "/", MaxAge: 10, Domain: "example.com", SameSite: http.SameSiteNoneMode},
	})
	want := []string{
		"b=2; Path=/; HttpOnly; Secure; SameSite=Strict; Partitioned",
		"a=3; Max-Age=10; Domain=example.com; Path=/; SameSite=None",
	}
	if d := cmp.Diff(want, w.Header().Values("Set-Cookie")); d != "" {
		t.Errorf("Set-Cookie (-want +got):\n%s", d)
	}

	h := http.Header{}
	plugin.AddExposedHeader(h, "set-auth-token")
	plugin.AddExposedHeader(h, "Set-Auth-Token")
	plugin.AddExposedHeader(h, "set-auth-jwt")
	if got := h.Get("Access-Control-Expose-Headers"); got != "set-auth-token, set-auth-jwt" {
		t.Errorf("Access-Control-Expose-Headers %q", got)
	}
}

// TestProtect: the protections for app routes mounted beside the auth
// handler.
func TestProtect(t *testing.T) {
	t.Parallel()
	a := newAuth(t, func(c *auth.Config) {
		c.RateLimit = auth.RateLimitConfig{Rules: map[string]ratelimit.Rule{"/app/limited": {Window: time.Minute, Max: 1}}}
		c.MaxBodyBytes = 16
	})
	var info plugin.RequestInfo
	h := a.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info = plugin.RequestInfoFrom(r.Context())
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		w.Write([]byte("ok"))
	}))
	serve := func(method, path, body string, hdr map[string]string) *httptest.ResponseRecorder {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		r := httptest.NewRequest(method, path, rd)
		r.Header.Set("User-Agent", "protect-test")
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := serve("GET", "/app/x", "", nil); w.Body.String() != "ok" || info.IP != "192.0.2.1" || info.UserAgent != "protect-test" {
		t.Errorf("plain request: %s, info %+v", w.Body, info)
	}
	if w := serve("POST", "/app/x", "", map[string]string{"Cookie": "a=b", "Origin": "https://evil.example"}); w.Code != 403 {
		t.Errorf("cross-origin POST with cookie: %d", w.Code)
	}
	if w := serve("POST", "/app/x", "", map[string]string{"Cookie": "a=b", "Origin": "http://localhost:3000"}); w.Code != 200 {
		t.Errorf("same-origin POST with cookie: %d", w.Code)
	}
	if w := serve("POST", "/app/x", strings.Repeat("x", 64), nil); w.Code != 413 {
		t.Errorf("large body: %d", w.Code)
	}
	serve("GET", "/app/limited", "", nil)
	w := serve("GET", "/app/limited", "", nil)
	if w.Code != 429 || w.Header().Get("X-Retry-After") == "" {
		t.Errorf("rate limit: %d %q", w.Code, w.Header())
	}
}

// TestConcurrentTraffic: mixed requests from several clients while the
// clock moves (refreshes, expiries). Run under -race this checks the
// Auth's shared state; every answer must be a 2xx or an expected 4xx.
func TestConcurrentTraffic(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a, srv := newTestServer(t, func(c *auth.Config) {
		c.Now = clk.Now
		c.RateLimit = auth.RateLimitConfig{Max: 1000, Rules: map[string]ratelimit.Rule{"/sign-up/email": {}}}
	})
	const clients = 4
	cs := make([]*client, clients)
	for i := range cs {
		cs[i] = newClient(t, a, srv)
		cs[i].signUp(fmt.Sprintf("c%d@example.com", i), "password-123")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				clk.Advance(2 * time.Hour)
				time.Sleep(time.Millisecond)
			}
		}
	}()
	var bad atomic.Int64
	var cwg sync.WaitGroup
	for i, c := range cs {
		cwg.Add(1)
		go func(i int, c *client) {
			defer cwg.Done()
			email := fmt.Sprintf("c%d@example.com", i)
			for j := 0; j < 15; j++ {
				var r *response
				switch j % 5 {
				case 0:
					r = c.get("/get-session")
				case 1:
					r = c.post("/update-user", map[string]any{"name": fmt.Sprint("n", j)})
				case 2:
					r = c.get("/list-sessions")
				case 3:
					r = c.post("/sign-in/email", map[string]any{"email": email, "password": "password-123"})
				case 4:
					r = c.post("/revoke-other-sessions", nil)
				}
				if r.Status >= 500 || (r.Status >= 400 && r.Status != 401 && r.Status != 403 && r.Status != 429) {
					bad.Add(1)
					t.Errorf("client %d request %d: %d %s", i, j, r.Status, r.Body)
				}
			}
		}(i, c)
	}
	cwg.Wait()
	close(stop)
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d bad answers", bad.Load())
	}
}
