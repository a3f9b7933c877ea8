package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/mail"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

// outbox is a Mailer that keeps what it is given (and can be made to fail).
// Mails leave in the background: flush, if set, waits for those in flight,
// and last and count call it first.
type outbox struct {
	mail.Recorder
	flush func()
}

func (o *outbox) wait() {
	if o.flush != nil {
		o.flush()
	}
}

func (o *outbox) last(t *testing.T) auth.Email {
	t.Helper()
	o.wait()
	sent := o.Sent()
	if len(sent) == 0 {
		t.Fatal("no email was sent")
	}
	return sent[len(sent)-1]
}

func (o *outbox) count() int { o.wait(); return len(o.Sent()) }

type emClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *emClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *emClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newEmClock() *emClock             { return &emClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)} }

type emailEnv struct {
	a       *auth.Auth
	srv     *httptest.Server
	box     *outbox
	emClock *emClock
	db      storage.Adapter
}

func newEmailEnv(t *testing.T, mutate func(*auth.Config)) *emailEnv {
	t.Helper()
	env := &emailEnv{box: &outbox{}, emClock: newEmClock(), db: memory.New()}
	return env.start(t, mutate)
}

// start builds the Auth (with plugins) on env's database and serves it.
func (env *emailEnv) start(t *testing.T, mutate func(*auth.Config), plugins ...auth.Plugin) *emailEnv {
	t.Helper()
	// The base URL is the test server's own, so links in mails can be
	// followed as they are.
	env.srv = httptest.NewUnstartedServer(nil)
	base := "http://" + env.srv.Listener.Addr().String()
	cfg := auth.Config{
		BaseURL: base, Secret: "0123456789abcdef0123456789abcdef-secret-xyz",
		Mailer: env.box, Now: env.emClock.now, HashConcurrency: 2,
		RateLimit: auth.RateLimitConfig{Disabled: true},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := auth.New(cfg, env.db, plugins...)
	if err != nil {
		t.Fatal(err)
	}
	env.a = a
	env.box.flush = func() { _ = a.Shutdown(context.Background()) }
	env.srv.Config.Handler = a.Handler()
	env.srv.Start()
	t.Cleanup(env.srv.Close)
	return env
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (env *emailEnv) do(t *testing.T, method, path string, body any, cookies ...*http.Cookie) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	target := path
	if !strings.HasPrefix(path, "http") {
		target = env.srv.URL + path
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", env.srv.URL)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func TestSignUpRequiresVerification(t *testing.T) {
	t.Parallel()
	env := newEmailEnv(t, func(c *auth.Config) {
		c.EmailPassword.RequireEmailVerification = true
		c.EmailVerification.SendOnSignIn = true
	})
	r := env.do(t, "POST", "/api/auth/sign-up/email", map[string]any{"name": "Ada", "email": "ada@example.com", "password": "password123", "callbackURL": "/welcome"})
	if r.status != 200 || r.body["token"] != nil {
		t.Fatalf("sign-up: %d %s, want 200 with token null", r.status, r.raw)
	}
	mail := env.box.last(t)
	if mail.Kind != plugin.EmailVerification || mail.To != "ada@example.com" || !strings.Contains(mail.URL, "/api/auth/verify-email?token=") || !strings.Contains(mail.URL, "callbackURL=%2Fwelcome") {
		t.Fatalf("verification mail = %+v", mail)
	}

	r = env.do(t, "POST", "/api/auth/sign-in/email", map[string]any{"email": "ada@example.com", "password": "password123"})
	if r.status != 403 || r.body["code"] != "EMAIL_NOT_VERIFIED" {
		t.Fatalf("sign-in before verification: %d %s", r.status, r.raw)
	}
	if env.box.count() != 2 {
		t.Fatalf("sign-in should resend the link (SendOnSignIn); %d mails", env.box.count())
	}

	// Following the link redirects to the callback and verifies.
	r = env.do(t, "GET", mail.URL, nil)
	if r.status != 302 || r.header.Get("Location") != "/welcome" {
		t.Fatalf("verify: %d Location %q", r.status, r.header.Get("Location"))
	}
	u, err := env.a.Host().FindUserByEmail(context.Background(), "ada@example.com")
	if err != nil || !u.EmailVerified {
		t.Fatalf("user after verification: %+v, %v", u, err)
	}
	// Without callbackURL the answer is JSON; a second use is harmless.
	tok := strings.TrimPrefix(strings.Split(mail.URL, "token=")[1], "")
	tok = strings.Split(tok, "&")[0]
	r = env.do(t, "GET", "/api/auth/verify-email?token="+tok, nil)
	if d := cmp.Diff(map[string]any{"status": true, "user": nil}, r.body); r.status != 200 || d != "" {
		t.Fatalf("second verify: %d %s", r.status, d)
	}
	r = env.do(t, "POST", "/api/auth/sign-in/email", map[string]any{"email": "ada@example.com", "password": "password123"})
	if r.status != 200 {
		t.Fatalf("sign-in after verification: %d %s", r.status, r.raw)
	}
}

func TestVerifyEmailBadTokens(t *testing.T) {
	t.Parallel()
	env := newEmailEnv(t, nil)
	ctx := context.Background()
	res, err := env.a.SignUpEmail(ctx, auth.SignUpInput{Name: "B", Email: "b@example.com", Password: "password123"})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.a.SendVerificationEmail(ctx, res.User, ""); err != nil {
		t.Fatal(err)
	}
	link, _ := url.Parse(env.box.last(t).URL)
	good := link.Query().Get("token")
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	noneAlg := "eyJhbGciOiJub25lIn0." + parts[1] + "."
	for _, tc := range []struct {
		name, token, cb string
		status          int
		code, location  string
	}{
		{name: "garbage", token: "garbage", status: 401, code: "INVALID_TOKEN"},
		{name: "tampered", token: tampered, status: 401, code: "INVALID_TOKEN"},
		{name: "alg none", token: noneAlg, status: 401, code: "INVALID_TOKEN"},
		{name: "truncated", token: good[:len(good)-5], status: 401, code: "INVALID_TOKEN"},
		{name: "redirect on error", token: "garbage", cb: "/done", status: 302, location: "/done?error=INVALID_TOKEN"},
	} {
		q := "?token=" + url.QueryEscape(tc.token)
		if tc.cb != "" {
			q += "&callbackURL=" + url.QueryEscape(tc.cb)
		}
		r := env.do(t, "GET", "/api/auth/verify-email"+q, nil)
		if r.status != tc.status || (tc.code != "" && r.body["code"] != tc.code) || r.header.Get("Location") != tc.location {
			t.Errorf("%s: %d %s Location %q", tc.name, r.status, r.raw, r.header.Get("Location"))
		}
	}
	r := env.do(t, "GET", "/api/auth/verify-email", nil)
	if r.status != 400 || r.body["code"] != "VALIDATION_ERROR" {
		t.Errorf("missing token: %d %s", r.status, r.raw)
	}
	// Expired after an hour.
	env.emClock.add(time.Hour + time.Second)
	r = env.do(t, "GET", "/api/auth/verify-email?token="+good, nil)
	if r.status != 401 || r.body["code"] != "TOKEN_EXPIRED" {
		t.Errorf("expired: %d %s", r.status, r.raw)
	}
}

// A verification token made by Better Auth itself is accepted.
func TestVerifyEmailBetterAuthToken(t *testing.T) {
	t.Parallel()
	var vec struct {
		HS256 struct {
			Secret  string `json:"secret"`
			Token   string `json:"token"`
			Decoded struct {
				Email  string `json:"email"`
				UserID string `json:"userId"`
				Iat    int64  `json:"iat"`
			} `json:"decoded"`
		} `json:"hs256Jwt"`
	}
	b, _ := readTestdata("betterauth-vectors.json")
	if err := json.Unmarshal(b, &vec); err != nil {
		t.Fatal(err)
	}
	c := &emClock{t: time.Unix(vec.HS256.Decoded.Iat+60, 0)}
	db := memory.New()
	a, err := auth.New(auth.Config{BaseURL: "http://localhost:3000", Secret: vec.HS256.Secret, Now: c.now, Mailer: &outbox{}}, db)
	if err != nil {
		t.Fatal(err)
	}
	now := c.now()
	if err := db.Create(context.Background(), "user", storage.Record{"id": vec.HS256.Decoded.UserID, "name": "Ada", "email": vec.HS256.Decoded.Email,
		"emailVerified": false, "createdAt": now, "updatedAt": now}); err != nil {
		t.Fatal(err)
	}
	res, err := a.VerifyEmail(context.Background(), vec.HS256.Token, "", "")
	if err != nil || !res.User.EmailVerified {
		t.Fatalf("VerifyEmail(Better Auth token) = %+v, %v", res, err)
	}
}

func TestPasswordReset(t *testing.T) {
	t.Parallel()
	env := newEmailEnv(t, nil)
	ctx := context.Background()
	su, err := env.a.SignUpEmail(ctx, auth.SignUpInput{Name: "C", Email: "c@example.com", Password: "old-password"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"status": true, "message": "If this email exists in our system, check your email for the reset link"}

	// Unknown and known emails get the same answer; only the known one a mail.
	r := env.do(t, "POST", "/api/auth/request-password-reset", map[string]any{"email": "nobody@example.com", "redirectTo": "/reset"})
	if d := cmp.Diff(want, r.body); r.status != 200 || d != "" {
		t.Fatalf("unknown email: %d %s", r.status, d)
	}
	if env.box.count() != 0 {
		t.Fatal("a mail went to an unknown address")
	}
	r = env.do(t, "POST", "/api/auth/request-password-reset", map[string]any{"email": "C@Example.com", "redirectTo": "/reset"})
	if d := cmp.Diff(want, r.body); r.status != 200 || d != "" {
		t.Fatalf("known email: %d %s", r.status, d)
	}
	env.a.Shutdown(ctx) // the mail goes out in the background
	mail := env.box.last(t)
	if mail.Kind != plugin.EmailPasswordReset || !strings.Contains(mail.URL, "/api/auth/reset-password/") {
		t.Fatalf("reset mail = %+v", mail)
	}
	// The link redirects to the app with the token.
	r = env.do(t, "GET", mail.URL, nil)
	loc, _ := url.Parse(r.header.Get("Location"))
	token := loc.Query().Get("token")
	if r.status != 302 || loc.Path != "/reset" || len(token) != 24 {
		t.Fatalf("reset link: %d Location %q", r.status, r.header.Get("Location"))
	}
	// A bad token on the link redirects with an error.
	r = env.do(t, "GET", "/api/auth/reset-password/nope?callbackURL=%2Freset", nil)
	if r.status != 302 || !strings.HasSuffix(r.header.Get("Location"), "/reset?error=INVALID_TOKEN") {
		t.Fatalf("bad link: %d %q", r.status, r.header.Get("Location"))
	}

	r = env.do(t, "POST", "/api/auth/reset-password", map[string]any{"newPassword": "short", "token": token})
	if r.status != 400 || r.body["code"] != "PASSWORD_TOO_SHORT" {
		t.Fatalf("short password: %d %s", r.status, r.raw)
	}
	// Two concurrent uses of one token: exactly one wins.
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = env.do(t, "POST", "/api/auth/reset-password", map[string]any{"newPassword": "new-password", "token": token}).status
		}()
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		if c == 200 {
			ok++
		} else if c != 400 {
			t.Errorf("concurrent reset answered %d", c)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent resets succeeded, want 1 (%v)", ok, codes)
	}
	r = env.do(t, "POST", "/api/auth/reset-password", map[string]any{"newPassword": "new-password-2", "token": token})
	if r.status != 400 || r.body["code"] != "INVALID_TOKEN" {
		t.Fatalf("reused token: %d %s", r.status, r.raw)
	}
	if _, err := env.a.SignInEmail(ctx, auth.SignInInput{Email: "c@example.com", Password: "new-password"}); err != nil {
		t.Fatalf("sign-in with the new password: %v", err)
	}
	if _, err := env.a.GetSession(ctx, su.Token()); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("old session survived the reset: %v", err)
	}

	// An expired token fails.
	if err := env.a.RequestPasswordReset(ctx, "c@example.com", ""); err != nil {
		t.Fatal(err)
	}
	env.a.Shutdown(ctx)
	expired := strings.Split(strings.Split(env.box.last(t).URL, "/reset-password/")[1], "?")[0]
	env.emClock.add(time.Hour + time.Second)
	if err := env.a.ResetPassword(ctx, expired, "another-password"); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("expired token: %v", err)
	}
	// A token of another purpose does not work here.
	if err := env.a.ResetPassword(ctx, "verify-email-token-not-a-reset", "another-password"); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("foreign token: %v", err)
	}
}

// When the mail cannot be sent, the request fails clearly and leaves
// nothing half-made behind.
// With the mail server down, sign-up answers as always: the verification
// mail leaves in the background, so the answer (and its timing) cannot
// tell a new address from a taken one. The account stays; its owner asks
// for another link once mail is back.
func TestMailFailure(t *testing.T) {
	t.Parallel()
	env := newEmailEnv(t, func(c *auth.Config) { c.EmailPassword.RequireEmailVerification = true })
	ctx := context.Background()
	env.box.SetErr(errors.New("smtp: connection refused"))
	r := env.do(t, "POST", "/api/auth/sign-up/email", map[string]any{"name": "D", "email": "d@example.com", "password": "password123"})
	if r.status != 200 || r.body["token"] != nil {
		t.Fatalf("sign-up with mail down: %d %s", r.status, r.raw)
	}
	if err := env.a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := env.db.Count(ctx, "user"); n != 1 {
		t.Fatalf("%d users, want 1", n)
	}
	env.box.SetErr(nil)
	if err := env.a.ResendVerification(ctx, "d@example.com", ""); err != nil {
		t.Fatalf("resend once mail is back: %v", err)
	}
	if err := env.a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if m := env.box.last(t); m.Kind != plugin.EmailVerification || m.To != "d@example.com" {
		t.Fatalf("mail after the resend: %+v", m)
	}
	// A reset request answers the same for every email, mail down or not
	// (anything else would tell which emails have accounts); the mail goes
	// out in the background and its token is removed when it fails.
	env.box.SetErr(errors.New("smtp: timeout"))
	known := env.do(t, "POST", "/api/auth/request-password-reset", map[string]any{"email": "d@example.com"})
	unknown := env.do(t, "POST", "/api/auth/request-password-reset", map[string]any{"email": "nobody@example.com"})
	if known.status != 200 || known.raw != unknown.raw || known.status != unknown.status {
		t.Fatalf("reset with mail down: known %d %s, unknown %d %s", known.status, known.raw, unknown.status, unknown.raw)
	}
	if err := env.a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := env.db.Count(ctx, "verification"); n != 0 {
		t.Fatalf("%d reset tokens left behind", n)
	}
}

func TestChangeEmail(t *testing.T) {
	t.Parallel()
	env := newEmailEnv(t, func(c *auth.Config) { c.User.ChangeEmailEnabled = true })
	ctx := context.Background()
	su, err := env.a.SignUpEmail(ctx, auth.SignUpInput{Name: "E", Email: "e@example.com", Password: "password123"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.a.SignUpEmail(ctx, auth.SignUpInput{Name: "F", Email: "taken@example.com", Password: "password123"}); err != nil {
		t.Fatal(err)
	}
	cookies := su.Cookies
	r := env.do(t, "POST", "/api/auth/change-email", map[string]any{"newEmail": "e@example.com"}, cookies...)
	if r.status != 400 || r.body["message"] != "Email is the same" {
		t.Fatalf("same email: %d %s", r.status, r.raw)
	}
	before := env.box.count()
	r = env.do(t, "POST", "/api/auth/change-email", map[string]any{"newEmail": "taken@example.com"}, cookies...)
	if r.status != 200 || env.box.count() != before {
		t.Fatalf("taken email: %d %s, %d mails", r.status, r.raw, env.box.count()-before)
	}
	r = env.do(t, "POST", "/api/auth/change-email", map[string]any{"newEmail": "new@example.com", "callbackURL": "/settings"}, cookies...)
	if r.status != 200 {
		t.Fatalf("change: %d %s", r.status, r.raw)
	}
	mail := env.box.last(t)
	if mail.To != "new@example.com" {
		t.Fatalf("verification went to %q", mail.To)
	}
	r = env.do(t, "GET", mail.URL, nil, cookies...)
	if r.status != 302 || r.header.Get("Location") != "/settings" {
		t.Fatalf("apply change: %d %q %s", r.status, r.header.Get("Location"), r.raw)
	}
	if _, err := env.a.Host().FindUserByEmail(ctx, "new@example.com"); err != nil {
		t.Fatalf("email not changed: %v", err)
	}
	// The link works once: the old address no longer matches.
	r = env.do(t, "GET", strings.Split(mail.URL, "&callbackURL")[0], nil)
	if r.status != 401 || r.body["code"] != "INVALID_TOKEN" {
		t.Fatalf("replayed change link: %d %s", r.status, r.raw)
	}
}
