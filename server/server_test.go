package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/mail"
	"github.com/managarten/mana-auth/storage/memory"
)

// outbox is a Mailer that keeps the mails.
type outbox struct{ mail.Recorder }

// fakeCredits is an in-process mana-credits (an httptest server would test
// the HTTP client; that is TestHTTPCredits).
type fakeCredits struct {
	mu      sync.Mutex
	down    atomic.Bool
	inits   map[string]int
	gifts   map[string]int
	deleted map[string]bool
}

func newFakeCredits() *fakeCredits {
	return &fakeCredits{inits: map[string]int{}, gifts: map[string]int{}, deleted: map[string]bool{}}
}

var errDown = errors.New("connection refused")

func (f *fakeCredits) Init(_ context.Context, id string) error {
	if f.down.Load() {
		return errDown
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inits[id]++
	return nil
}
func (f *fakeCredits) RedeemPendingGifts(_ context.Context, id, _ string) error {
	if f.down.Load() {
		return errDown
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gifts[id]++
	return nil
}
func (f *fakeCredits) Balance(_ context.Context, id string) (Balance, error) {
	if f.down.Load() {
		return Balance{}, errDown
	}
	return Balance{Balance: 42, TotalEarned: 50, TotalSpent: 8}, nil
}
func (f *fakeCredits) DeleteUser(_ context.Context, id string) (int64, error) {
	if f.down.Load() {
		return 0, errDown
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted[id] = true
	return 1, nil
}

type testEnv struct {
	s       *Server
	srv     *httptest.Server
	box     *outbox
	credits *fakeCredits
}

func newTestEnv(t *testing.T, mutate func(*Config)) *testEnv {
	t.Helper()
	env := &testEnv{box: &outbox{}, credits: newFakeCredits()}
	env.srv = httptest.NewUnstartedServer(nil)
	cfg := Config{
		BaseURL: "http://localhost:" + port(env.srv.Listener.Addr().String()), Secret: "a-server-test-secret-of-enough-length",
		AutoMigrate: true, AdminEmails: []string{"admin@example.com"}, ServiceKey: "internal-service-key-123",
		JWTAudience: "mana", DataDir: t.TempDir(),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := NewWithStorage(context.Background(), cfg, memory.New(), Deps{Credits: env.credits, Mailer: env.box}, log)
	if err != nil {
		t.Fatal(err)
	}
	env.s = s
	env.srv.Config.Handler = s.Handler()
	env.srv.Start()
	t.Cleanup(func() { env.srv.Close(); s.Close() })
	return env
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (env *testEnv) call(t *testing.T, method, path, body string, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, env.srv.URL+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := env.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (env *testEnv) register(t *testing.T, email string) {
	t.Helper()
	r := env.call(t, "POST", "/api/v1/auth/register", `{"email":"`+email+`","password":"password123"}`)
	if r.status != 200 {
		t.Fatalf("register %s: %d %s", email, r.status, r.raw)
	}
}

func (env *testEnv) login(t *testing.T, email string) (accessToken string, cookie string) {
	t.Helper()
	r := env.call(t, "POST", "/api/v1/auth/login", `{"email":"`+email+`","password":"password123"}`)
	if r.status != 200 {
		t.Fatalf("login %s: %d %s", email, r.status, r.raw)
	}
	tok, _ := r.body["accessToken"].(string)
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "mana.session_token" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if tok == "" || cookie == "" {
		t.Fatalf("login gave no access token or cookie: %s", r.raw)
	}
	return tok, cookie
}

func TestRegisterLoginValidate(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	r := env.call(t, "POST", "/api/v1/auth/register", `{"email":"Ada@Example.com","password":"password123"}`)
	if r.status != 200 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	user := r.body["user"].(map[string]any)
	if user["name"] != "ada" || user["accessTier"] != "public" || user["role"] != "user" || user["emailVerified"] != false {
		t.Fatalf("registered user = %v", user)
	}
	tok, _ := env.login(t, "ada@example.com")
	r = env.call(t, "POST", "/api/v1/auth/validate", `{"token":"`+tok+`"}`)
	if r.status != 200 || r.body["valid"] != true {
		t.Fatalf("validate: %d %s", r.status, r.raw)
	}
	payload := r.body["payload"].(map[string]any)
	var keys []string
	for k := range payload {
		keys = append(keys, k)
	}
	want := []string{"aud", "email", "exp", "iat", "iss", "role", "sid", "sub"}
	if d := cmp.Diff(want, sortStrings(keys)); d != "" {
		t.Errorf("claims (-want +got):\n%s", d)
	}
	if payload["aud"] != "mana" || payload["iss"] != env.s.cfg.BaseURL || payload["email"] != "ada@example.com" {
		t.Errorf("payload = %v", payload)
	}
	for _, bad := range []string{`{"token":"garbage"}`, `{"token":"` + tok + `x"}`, `{}`} {
		r = env.call(t, "POST", "/api/v1/auth/validate", bad)
		if r.status != 200 || r.body["valid"] != false {
			t.Errorf("validate %s: %d %s", bad, r.status, r.raw)
		}
	}
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestLoginErrorsAndLockout(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	env.register(t, "lock@example.com")
	for i := range 5 {
		r := env.call(t, "POST", "/api/v1/auth/login", `{"email":"lock@example.com","password":"wrong-password"}`,
			"X-Forwarded-For", "203.0.113.9")
		want := map[string]any{"error": "INVALID_CREDENTIALS", "message": "Invalid email or password", "status": float64(401)}
		if d := cmp.Diff(want, r.body); r.status != 401 || d != "" {
			t.Fatalf("attempt %d: %d %s", i, r.status, d)
		}
	}
	r := env.call(t, "POST", "/api/v1/auth/login", `{"email":"lock@example.com","password":"password123"}`)
	if r.status != 429 || r.body["error"] != "ACCOUNT_LOCKED" || r.header.Get("Retry-After") == "" || r.body["retryAfterSec"] == nil {
		t.Fatalf("locked: %d %s", r.status, r.raw)
	}
	for _, tc := range []struct {
		body, code string
		status     int
	}{
		{`{"email":"x@example.com"`, "VALIDATION", 400},
		{`[1,2]`, "VALIDATION", 400},
		{`{"email":"not-an-email","password":"password123"}`, "VALIDATION", 400},
	} {
		r := env.call(t, "POST", "/api/v1/auth/login", tc.body)
		if r.status != tc.status || r.body["error"] != tc.code {
			t.Errorf("login %s: %d %s", tc.body, r.status, r.raw)
		}
	}
}

func TestMeDataAndErase(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	env.register(t, "me@example.com")
	tok, cookie := env.login(t, "me@example.com")
	r := env.call(t, "GET", "/api/v1/me/data", "")
	if r.status != 401 || r.body["statusCode"] != float64(401) {
		t.Fatalf("no auth: %d %s", r.status, r.raw)
	}
	for _, h := range [][]string{{"Authorization", "Bearer " + tok}, {"Cookie", cookie}} {
		r = env.call(t, "GET", "/api/v1/me/data", "", h...)
		if r.status != 200 {
			t.Fatalf("me/data with %s: %d %s", h[0], r.status, r.raw)
		}
		if got := r.body["credits"].(map[string]any)["balance"]; got != float64(42) {
			t.Errorf("credits balance = %v", got)
		}
		if u := r.body["user"].(map[string]any); u["email"] != "me@example.com" {
			t.Errorf("user = %v", u)
		}
	}
	r = env.call(t, "GET", "/api/v1/me/data/export", "", "Authorization", "Bearer "+tok)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Disposition"), `attachment; filename="meine-daten-`) || r.body["exportVersion"] != "2.0" {
		t.Fatalf("export: %d %v %s", r.status, r.header, r.raw[:min(200, len(r.raw))])
	}
	// With mana-credits down the erase stops before the auth account and
	// says so; once it is back a retry finishes.
	env.credits.down.Store(true)
	r = env.call(t, "DELETE", "/api/v1/me/data", "", "Authorization", "Bearer "+tok)
	if r.status != 503 || r.body["success"] != false {
		t.Fatalf("erase with credits down: %d %s", r.status, r.raw)
	}
	if _, err := env.s.auth.Host().FindUserByEmail(context.Background(), "me@example.com"); err != nil {
		t.Fatal("the account went although credits failed")
	}
	env.credits.down.Store(false)
	r = env.call(t, "DELETE", "/api/v1/me/data", "", "Authorization", "Bearer "+tok)
	if r.status != 200 || r.body["success"] != true {
		t.Fatalf("erase: %d %s", r.status, r.raw)
	}
	if _, err := env.s.auth.Host().FindUserByEmail(context.Background(), "me@example.com"); !errors.Is(err, auth.ErrUserNotFound) {
		t.Fatalf("user still there: %v", err)
	}
	r = env.call(t, "GET", "/api/v1/me/data", "", "Authorization", "Bearer "+tok)
	if r.status != 404 {
		t.Fatalf("me/data after erase: %d %s", r.status, r.raw)
	}
}

func TestAdminRoutes(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	env.register(t, "admin@example.com")
	env.register(t, "user@example.com")
	u, err := env.s.auth.Host().FindUserByEmail(context.Background(), "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	verifyAddress(t, env.s, u.ID) // MANA_ADMIN_EMAILS holds verified addresses only
	adminTok, _ := env.login(t, "admin@example.com")
	userTok, _ := env.login(t, "user@example.com")
	r := env.call(t, "GET", "/api/v1/admin/users", "", "Authorization", "Bearer "+userTok)
	if r.status != 403 || r.body["error"] != "Forbidden" {
		t.Fatalf("user on admin route: %d %s", r.status, r.raw)
	}
	r = env.call(t, "GET", "/api/v1/admin/users?search=USER&limit=1000", "", "Authorization", "Bearer "+adminTok)
	if r.status != 200 || r.body["total"] != float64(1) || r.body["limit"] != float64(100) {
		t.Fatalf("admin list: %d %s", r.status, r.raw)
	}
	uid := r.body["users"].([]any)[0].(map[string]any)["id"].(string)
	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/api/v1/admin/users?page=abc", "", 400},
		{"GET", "/api/v1/admin/users?tier=emperor", "", 400},
		{"PUT", "/api/v1/admin/users/" + uid + "/tier", `{"tier":"emperor"}`, 400},
		{"PUT", "/api/v1/admin/users/nope/tier", `{"tier":"beta"}`, 404},
		{"GET", "/api/v1/admin/users/nope/data", "", 404},
		{"PUT", "/api/v1/admin/users/" + uid + "/tier", `{"tier":"beta"}`, 200},
		{"GET", "/api/v1/admin/users/" + uid + "/tier", "", 200},
		{"GET", "/api/v1/admin/security-events", "", 200},
	} {
		r := env.call(t, tc.method, tc.path, tc.body, "Authorization", "Bearer "+adminTok)
		if r.status != tc.status {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, r.status, r.raw)
		}
	}
	r = env.call(t, "GET", "/api/v1/admin/users/"+uid+"/tier", "", "Authorization", "Bearer "+adminTok)
	if r.body["accessTier"] != "beta" {
		t.Errorf("tier = %v", r.body)
	}
}

func TestInternalServiceKey(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	for _, tc := range []struct {
		key    string
		status int
	}{{"", 401}, {"wrong", 401}, {"internal-service-key-123", 200}} {
		r := env.call(t, "GET", "/api/v1/internal/org/o1/member/u1", "", "X-Service-Key", tc.key)
		if r.status != tc.status {
			t.Errorf("key %q: %d %s", tc.key, r.status, r.raw)
		}
		if tc.status == 200 && (r.body["isMember"] != false || r.body["role"] != "") {
			t.Errorf("non-member: %s", r.raw)
		}
	}
}

// A mana-credits outage never blocks or loses a registration: the init is
// retried until it succeeds.
func TestCreditsInitRetried(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	env.credits.down.Store(true)
	env.register(t, "later@example.com")
	u, err := env.s.auth.Host().FindUserByEmail(context.Background(), "later@example.com")
	if err != nil {
		t.Fatal(err)
	}
	env.credits.down.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Make the row due and sweep, as the ticker would.
		env.s.db.Update(context.Background(), TableCreditsSync, map[string]any{"nextAttemptAt": env.s.auth.Host().Now()}, whereEq("userId", u.ID))
		env.s.credits.sweep(context.Background())
		env.credits.mu.Lock()
		n := env.credits.inits[u.ID]
		env.credits.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("credits init never succeeded")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rec, err := env.s.db.FindOne(context.Background(), TableCreditsSync, whereEq("userId", u.ID))
	if err != nil || rec["initializedAt"] == nil {
		t.Fatalf("creditsSync = %v, %v", rec, err)
	}
}

func TestHealthMetricsCORS(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) { c.TrustedOrigins = []string{"https://app.mana.how"} })
	if r := env.call(t, "GET", "/health", ""); r.status != 200 || r.body["status"] != "ok" {
		t.Errorf("health: %d %s", r.status, r.raw)
	}
	if r := env.call(t, "GET", "/ready", ""); r.status != 200 {
		t.Errorf("ready: %d %s", r.status, r.raw)
	}
	r := env.call(t, "OPTIONS", "/api/v1/auth/login", "", "Origin", "https://app.mana.how", "Access-Control-Request-Method", "POST")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.mana.how" || r.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
	r = env.call(t, "OPTIONS", "/api/v1/auth/login", "", "Origin", "https://evil.com", "Access-Control-Request-Method", "POST")
	if r.status != 403 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("untrusted preflight: %d %v", r.status, r.header)
	}
	env.call(t, "POST", "/api/v1/auth/login", `{"email":"nobody@example.com","password":"password123"}`)
	r = env.call(t, "GET", "/metrics", "")
	if !strings.Contains(r.raw, `mana_auth_sign_ins_total{outcome="invalid_credentials"} 1`) ||
		!strings.Contains(r.raw, `mana_auth_http_requests_total{route="POST /api/v1/auth/login",method="POST",status="401"} 1`) ||
		!strings.Contains(r.raw, "\nmana_auth_password_hashes_refused_total 0\n") ||
		!strings.Contains(r.raw, "\nmana_auth_password_hashes_waiting 0\n") ||
		!strings.Contains(r.raw, `mana_auth_mails_total{outcome="dropped"} 0`) ||
		!strings.Contains(r.raw, "\nmana_auth_session_lookups_total ") || !strings.Contains(r.raw, "\nmana_auth_session_reads_total ") {
		t.Errorf("metrics:\n%s", r.raw)
	}
}

// The SDK's protections guard /api/v1 too: Origin check for cookie
// requests, body limit, rate limit.
func TestV1Protected(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	env.register(t, "p@example.com")
	_, cookie := env.login(t, "p@example.com")
	r := env.call(t, "POST", "/api/v1/auth/change-password", `{"currentPassword":"password123","newPassword":"password456"}`,
		"Cookie", cookie, "Origin", "https://evil.com")
	if r.status != 403 || r.body["error"] != "INVALID_ORIGIN" || r.body["status"] != float64(403) {
		t.Errorf("cross-origin cookie POST: %d %s; want 403 in the v1 envelope", r.status, r.raw)
	}
	big := `{"email":"` + strings.Repeat("a", 100<<10) + `@x.com","password":"p"}`
	if r := env.call(t, "POST", "/api/v1/auth/login", big); r.status != 413 {
		t.Errorf("huge body: %d %s", r.status, r.raw[:min(200, len(r.raw))])
	}
	var last resp
	for range 6 {
		last = env.call(t, "POST", "/api/v1/auth/forgot-password", `{"email":"p@example.com"}`)
	}
	if last.status != 429 || last.body["error"] != "RATE_LIMITED" || last.header.Get("Retry-After") == "" {
		t.Errorf("rate limit on forgot-password: %d %s; want 429 RATE_LIMITED with Retry-After", last.status, last.raw)
	}
}

func port(addr string) string {
	_, p, _ := strings.Cut(addr, ":")
	return p
}

// The vault is mounted for the caller (JWT or session) behind the
// protections, and key reads reach the security log.
func TestVaultThroughServer(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	env.register(t, "v@example.com")
	tok, cookie := env.login(t, "v@example.com")
	r := env.call(t, "POST", "/api/v1/me/encryption-vault/init", "", "Authorization", "Bearer "+tok)
	if r.status != 200 || r.body["kekId"] != "env-v1" || len(r.body["masterKey"].(string)) != 44 {
		t.Fatalf("init: %d %s", r.status, r.raw)
	}
	mk := r.body["masterKey"]
	r = env.call(t, "GET", "/api/v1/me/encryption-vault/key", "", "Cookie", cookie)
	if r.status != 200 || r.body["masterKey"] != mk {
		t.Fatalf("key by cookie: %d %s", r.status, r.raw)
	}
	r = env.call(t, "POST", "/api/v1/me/encryption-vault/rotate", "", "Cookie", cookie, "Origin", "https://evil.com")
	if r.status != 403 || r.body["code"] != "INVALID_ORIGIN" {
		t.Fatalf("cross-site rotate: %d %s", r.status, r.raw)
	}
	r = env.call(t, "GET", "/api/v1/me/encryption-vault/key", "")
	if r.status != 401 {
		t.Fatalf("anonymous key read: %d %s", r.status, r.raw)
	}
	events, err := env.s.securityEvents(context.Background(), "", 50)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		found = found || e["eventType"] == EventVaultKeyRead
	}
	if !found {
		t.Fatalf("no %s event in %v", EventVaultKeyRead, events)
	}
}

func TestLogPathHidesTokens(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/api/auth/reset-password/abcDEF123": "/api/auth/reset-password/:token",
		"/api/auth/reset-password":           "/api/auth/reset-password",
		"/api/v1/auth/login":                 "/api/v1/auth/login",
	} {
		if got := logPath(in); got != want {
			t.Errorf("logPath(%q) = %q, want %q", in, got, want)
		}
	}
}
