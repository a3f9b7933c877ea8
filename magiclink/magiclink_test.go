package magiclink_test

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

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/magiclink"
	"github.com/managarten/mana-auth/mail"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

// outbox keeps the mails; links waits first for those the host's mail
// queue still holds (the links leave in the background).
type outbox struct {
	mail.Recorder
	a *auth.Auth
}

func (o *outbox) links() []string {
	if o.a != nil {
		_ = o.a.Shutdown(context.Background())
	}
	var out []string
	for _, e := range o.Sent() {
		out = append(out, e.URL)
	}
	return out
}

type env struct {
	a   *auth.Auth
	p   *magiclink.Plugin
	srv *httptest.Server
	box *outbox
	db  storage.Adapter
	now time.Time
	mu  sync.Mutex
}

func (e *env) clock() time.Time    { e.mu.Lock(); defer e.mu.Unlock(); return e.now }
func (e *env) add(d time.Duration) { e.mu.Lock(); e.now = e.now.Add(d); e.mu.Unlock() }

func newEnv(t *testing.T, opts magiclink.Options) *env {
	t.Helper()
	e := &env{box: &outbox{}, db: memory.New(), now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	e.srv = httptest.NewUnstartedServer(nil)
	base := "http://" + e.srv.Listener.Addr().String()
	e.p = magiclink.New(opts)
	a, err := auth.New(auth.Config{BaseURL: base, Secret: "a-test-secret-that-is-long-enough-to-use", Mailer: e.box,
		Now: e.clock, HashConcurrency: 2, RateLimit: auth.RateLimitConfig{Disabled: true},
		TrustedOrigins: []string{"https://app.example.com"}}, e.db, e.p)
	if err != nil {
		t.Fatal(err)
	}
	e.a, e.box.a = a, a
	e.srv.Config.Handler = a.Handler()
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *env) do(t *testing.T, method, target string, body any) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	if !strings.HasPrefix(target, "http") {
		target = e.srv.URL + target
	}
	req, _ := http.NewRequest(method, target, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func hasSessionCookie(h http.Header) bool {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "better-auth.session_token" && c.Value != "" {
			return true
		}
	}
	return false
}

func TestNewUserSignsUpByLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t, magiclink.Options{})
	r := e.do(t, "POST", "/api/auth/sign-in/magic-link", map[string]any{
		"email": "New@Example.com", "name": "Newt", "callbackURL": "/dash", "newUserCallbackURL": "/welcome"})
	if r.status != 200 || r.body["status"] != true {
		t.Fatalf("send: %d %s", r.status, r.raw)
	}
	links := e.box.links()
	if len(links) != 1 || !strings.Contains(links[0], "/api/auth/magic-link/verify?token=") {
		t.Fatalf("links = %q", links)
	}
	r = e.do(t, "GET", links[0], nil)
	if r.status != 302 || r.header.Get("Location") != e.srv.URL+"/welcome" || !hasSessionCookie(r.header) {
		t.Fatalf("verify: %d Location %q cookie %v", r.status, r.header.Get("Location"), hasSessionCookie(r.header))
	}
	u, err := e.a.Host().FindUserByEmail(context.Background(), "new@example.com")
	if err != nil || !u.EmailVerified || u.Name != "Newt" {
		t.Fatalf("user = %+v, %v", u, err)
	}
	// The link works once.
	r = e.do(t, "GET", links[0], nil)
	if r.status != 302 || r.header.Get("Location") != e.srv.URL+"/dash?error=INVALID_TOKEN" || hasSessionCookie(r.header) {
		t.Fatalf("reuse: %d Location %q", r.status, r.header.Get("Location"))
	}
}

func TestLinkAnswersAndErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, magiclink.Options{})
	ctx := context.Background()
	if _, err := e.a.SignUpEmail(ctx, auth.SignUpInput{Name: "K", Email: "known@example.com", Password: "password123"}); err != nil {
		t.Fatal(err)
	}
	known := e.do(t, "POST", "/api/auth/sign-in/magic-link", map[string]any{"email": "known@example.com"})
	unknown := e.do(t, "POST", "/api/auth/sign-in/magic-link", map[string]any{"email": "unknown@example.com"})
	if known.status != unknown.status || known.raw != unknown.raw {
		t.Fatalf("known and unknown emails answer differently: %d %s / %d %s", known.status, known.raw, unknown.status, unknown.raw)
	}
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"untrusted callback", map[string]any{"email": "x@example.com", "callbackURL": "https://evil.com/"}, 403, "INVALID_CALLBACK_URL"},
		{"untrusted new-user callback", map[string]any{"email": "x@example.com", "newUserCallbackURL": "//evil.com"}, 403, "INVALID_NEW_USER_CALLBACK_URL"},
		{"untrusted error callback", map[string]any{"email": "x@example.com", "errorCallbackURL": "https://evil.com"}, 403, "INVALID_ERROR_CALLBACK_URL"},
		{"trusted origin", map[string]any{"email": "x@example.com", "callbackURL": "https://app.example.com/in"}, 200, ""},
		{"bad email", map[string]any{"email": "not-an-email"}, 400, "VALIDATION_ERROR"},
		{"no email", map[string]any{}, 400, "VALIDATION_ERROR"},
	} {
		r := e.do(t, "POST", "/api/auth/sign-in/magic-link", tc.body)
		if r.status != tc.status || (tc.code != "" && r.body["code"] != tc.code) {
			t.Errorf("%s: %d %s", tc.name, r.status, r.raw)
		}
	}
	// Unknown or garbage tokens; without any callback the answer is JSON.
	r := e.do(t, "GET", "/api/auth/magic-link/verify?token=nope", nil)
	if r.status != 401 || r.body["code"] != "INVALID_TOKEN" {
		t.Errorf("unknown token: %d %s", r.status, r.raw)
	}
	r = e.do(t, "GET", "/api/auth/magic-link/verify?token=nope&callbackURL=https%3A%2F%2Fevil.com", nil)
	if r.status != 403 || r.body["code"] != "INVALID_CALLBACK_URL" {
		t.Errorf("untrusted callback on verify: %d %s", r.status, r.raw)
	}
	// Expired links fail.
	links := e.box.links()
	e.add(5*time.Minute + time.Second)
	r = e.do(t, "GET", links[0], nil)
	if r.status != 302 || !strings.HasSuffix(r.header.Get("Location"), "?error=INVALID_TOKEN") {
		t.Errorf("expired: %d %q", r.status, r.header.Get("Location"))
	}
}

// An account registered with someone's address before they verified it
// loses its password and sessions when the owner signs in by link.
func TestUnverifiedAccountIsTakenBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, magiclink.Options{})
	ctx := context.Background()
	squatter, err := e.a.SignUpEmail(ctx, auth.SignUpInput{Name: "Squatter", Email: "owner@example.com", Password: "password123"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.p.Send(ctx, magiclink.SendInput{Email: "owner@example.com"}); err != nil {
		t.Fatal(err)
	}
	link, _ := url.Parse(e.box.links()[0])
	res, err := e.p.Verify(ctx, link.Query().Get("token"))
	if err != nil || res.NewUser || !res.User.EmailVerified {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	if _, err := e.a.GetSession(ctx, squatter.Token()); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("squatter's session survived: %v", err)
	}
	if _, err := e.a.SignInEmail(ctx, auth.SignInInput{Email: "owner@example.com", Password: "password123"}); !errors.Is(err, auth.ErrInvalidEmailOrPassword) {
		t.Fatalf("squatter's password still works: %v", err)
	}
}

func TestSingleUseUnderRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, magiclink.Options{StoreTokenHashed: true})
	ctx := context.Background()
	if err := e.p.Send(ctx, magiclink.SendInput{Email: "race@example.com"}); err != nil {
		t.Fatal(err)
	}
	link, _ := url.Parse(e.box.links()[0])
	token := link.Query().Get("token")
	if n, _ := e.db.Count(ctx, "verification", storage.W("identifier", "magic-link:"+token)); n != 0 {
		t.Fatal("hashed storage kept the token in the clear")
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.p.Verify(ctx, token); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent verifications succeeded, want 1", wins)
	}
	if n, _ := e.db.Count(ctx, "user", storage.W("email", "race@example.com")); n != 1 {
		t.Fatalf("%d users, want 1", n)
	}
}

func TestDisableSignUpAndMailFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, magiclink.Options{DisableSignUp: true})
	ctx := context.Background()
	r := e.do(t, "POST", "/api/auth/sign-in/magic-link", map[string]any{"email": "stranger@example.com", "callbackURL": "/in"})
	if r.status != 200 {
		t.Fatalf("send: %d %s", r.status, r.raw)
	}
	r = e.do(t, "GET", e.box.links()[0], nil)
	if r.status != 302 || !strings.HasSuffix(r.header.Get("Location"), "/in?error=new_user_signup_disabled") {
		t.Fatalf("disabled sign-up: %d %q", r.status, r.header.Get("Location"))
	}
	if n, _ := e.db.Count(ctx, "user"); n != 0 {
		t.Fatalf("%d users created", n)
	}
	// With the mail server down the answer is the same (the mail leaves
	// in the background), and the token goes once the mail has failed.
	e.box.SetErr(errors.New("smtp down"))
	r = e.do(t, "POST", "/api/auth/sign-in/magic-link", map[string]any{"email": "stranger@example.com"})
	if r.status != 200 {
		t.Fatalf("mail down: %d %s", r.status, r.raw)
	}
	if err := e.a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.db.Count(ctx, "verification"); n != 0 {
		t.Fatalf("%d tokens left behind", n)
	}
}

// heldMailer holds every mail until release is closed.
type heldMailer struct {
	entered chan string
	release chan struct{}
}

func (m *heldMailer) SendEmail(ctx context.Context, e auth.Email) error {
	m.entered <- e.URL
	select {
	case <-m.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestSendDoesNotWaitForTheMail: the link leaves in the background, so a
// hung mail server does not hold the answer; the token is live meanwhile.
func TestSendDoesNotWaitForTheMail(t *testing.T) {
	t.Parallel()
	m := &heldMailer{entered: make(chan string, 1), release: make(chan struct{})}
	p := magiclink.New(magiclink.Options{})
	a, err := auth.New(auth.Config{BaseURL: "http://localhost:3000", Secret: "a-test-secret-that-is-long-enough-to-use",
		Mailer: m, MailTimeout: 10 * time.Minute, RateLimit: auth.RateLimitConfig{Disabled: true}}, memory.New(), p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- p.Send(ctx, magiclink.SendInput{Email: "ada@example.com"}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Send waits for its mail")
	}
	link := <-m.entered // still held by the mail server
	if s := a.Stats(); s.MailQueued != 1 {
		t.Fatalf("stats %+v, want the mail pending", s)
	}
	close(m.release)
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(link, "/magic-link/verify?token=") {
		t.Fatalf("link %q", link)
	}
}
