package twofactor_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/mail"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/sqlite"
	"github.com/managarten/mana-auth/twofactor"
)

const (
	testSecret = "twofactor-test-secret-0123456789abcdef"
	password   = "correct horse battery"
)

// outbox is a capturing auth.Mailer; last first waits for the mails the
// host's queue still holds (magic links, the core's mails).
type outbox struct {
	mail.Recorder
	a *auth.Auth
}

func (o *outbox) last(t *testing.T, kind plugin.EmailKind) auth.Email {
	t.Helper()
	if o.a != nil {
		_ = o.a.Shutdown(context.Background())
	}
	sent := o.Sent()
	for i := len(sent) - 1; i >= 0; i-- {
		if sent[i].Kind == kind {
			return sent[i]
		}
	}
	t.Fatalf("no %s email sent", kind)
	return auth.Email{}
}

type env struct {
	t   *testing.T
	a   *auth.Auth
	p   *twofactor.Plugin
	db  storage.Adapter
	srv *httptest.Server
	box *outbox

	mu  sync.Mutex
	now time.Time
}

func (e *env) clock() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }

// advance moves the fake clock.
func (e *env) advance(d time.Duration) { e.mu.Lock(); e.now = e.now.Add(d); e.mu.Unlock() }

type envOpts struct {
	tf        twofactor.Options
	mailer    bool
	rateLimit bool
	cfg       func(*auth.Config)
	plugins   []auth.Plugin
	sqlite    bool            // a SQLite file instead of the memory adapter
	db        storage.Adapter // an existing database (another env's)
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	var db storage.Adapter = memory.New()
	if o.db != nil {
		db = o.db
	} else if o.sqlite {
		sq, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "auth.db"),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sq.Close() })
		db = sq
	}
	e := &env{t: t, db: db, box: &outbox{},
		// The middle of a 30 s step, so that a step boundary is 15 s away.
		now: time.Date(2026, 11, 26, 12, 0, 15, 0, time.UTC)}
	e.srv = httptest.NewUnstartedServer(nil)
	cfg := auth.Config{BaseURL: "http://" + e.srv.Listener.Addr().String(), Secret: testSecret, Now: e.clock,
		Hasher: testkit.FastHasher{}, HashConcurrency: 4, RateLimit: auth.RateLimitConfig{Disabled: !o.rateLimit},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if o.mailer {
		cfg.Mailer = e.box
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	e.p = twofactor.New(o.tf)
	a, err := auth.New(cfg, e.db, append([]auth.Plugin{e.p}, o.plugins...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.a, e.box.a = a, a
	if err := a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = a.Handler()
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// browser is a client with its own cookie jar that sends the server's
// origin, as a same-origin page does.
type browser struct {
	e   *env
	jar *cookiejar.Jar
	c   *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, jar: jar, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type reply struct {
	status  int
	header  http.Header
	raw     string
	body    map[string]any
	cookies map[string]*http.Cookie // Set-Cookie by name
}

func (r reply) code() string { s, _ := r.body["code"].(string); return s }

func (b *browser) do(t *testing.T, method, path string, body any) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, ok := body.(string)
		if !ok {
			bs, _ := json.Marshal(body)
			raw = string(bs)
		}
		rd = strings.NewReader(raw)
	}
	target := path
	if !strings.HasPrefix(path, "http") {
		target = b.e.srv.URL + "/api/auth" + path
	}
	req, _ := http.NewRequest(method, target, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", b.e.srv.URL)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw), cookies: map[string]*http.Cookie{}}
	_ = json.Unmarshal(raw, &r.body)
	for _, c := range resp.Cookies() {
		r.cookies[c.Name] = c
	}
	return r
}

func (b *browser) post(t *testing.T, path string, body any) reply {
	t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	return b.do(t, "POST", path, body)
}

// cookie returns the value of the cookie name in the jar.
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// setCookie puts a cookie into the jar (value as sent on the wire).
func (b *browser) setCookie(name, value string) {
	u, _ := url.Parse(b.e.srv.URL)
	b.jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

func want(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status || r.code() != code {
		t.Fatalf("got %d %s, want %d %q", r.status, r.raw, status, code)
	}
}

func ok(t *testing.T, r reply) reply {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("got %d %s, want 200", r.status, r.raw)
	}
	return r
}

// signUp creates a user with email and password; the browser is signed in.
func (b *browser) signUp(t *testing.T, email string) string {
	t.Helper()
	r := ok(t, b.post(t, "/sign-up/email", map[string]any{"name": "Jo", "email": email, "password": password}))
	return r.body["user"].(map[string]any)["id"].(string)
}

func (b *browser) signIn(t *testing.T, email string) reply {
	t.Helper()
	return ok(t, b.post(t, "/sign-in/email", map[string]any{"email": email, "password": password}))
}

// hotp is an independent RFC 4226 implementation (SHA-1, 6 digits).
func hotp(key []byte, counter uint64) string {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], counter)
	m := hmac.New(sha1.New, key)
	m.Write(buf[:])
	s := m.Sum(nil)
	o := s[len(s)-1] & 15
	v := binary.BigEndian.Uint32(s[o:o+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1000000)
}

// keyFromURI returns the TOTP key of an otpauth URI.
func keyFromURI(t *testing.T, uri string) []byte {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(u.Query().Get("secret"))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// code returns the TOTP code of key at the env's clock shifted by steps.
func (e *env) code(key []byte, steps int) string {
	return hotp(key, uint64(e.clock().Unix()/30+int64(steps)))
}

// user is a signed-up user with TOTP two-factor on, signed out.
type user struct {
	id, email string
	key       []byte
	codes     []string
}

// enroll signs a user up and turns TOTP on (advancing the clock one step
// past the enrolment code, so the next code is fresh).
func (e *env) enroll(t *testing.T, email string) user {
	t.Helper()
	b := e.browser()
	u := user{id: b.signUp(t, email), email: email}
	r := ok(t, b.post(t, "/two-factor/enable", map[string]any{"password": password}))
	u.key = keyFromURI(t, r.body["totpURI"].(string))
	for _, c := range r.body["backupCodes"].([]any) {
		u.codes = append(u.codes, c.(string))
	}
	ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}))
	e.advance(30 * time.Second)
	return u
}

// enrollOTP signs a user up and turns two-factor on with one-time codes
// (enable with method "otp"); the env needs Options.OTP and a mailer.
func (e *env) enrollOTP(t *testing.T, email string) user {
	t.Helper()
	b := e.browser()
	u := user{id: b.signUp(t, email), email: email}
	ok(t, b.post(t, "/two-factor/enable", map[string]any{"password": password, "method": "otp"}))
	return u
}

// pending signs u in on b and expects the second-factor answer.
func (b *browser) pending(t *testing.T, u user) reply {
	t.Helper()
	r := b.signIn(t, u.email)
	if r.body["twoFactorRedirect"] != true {
		t.Fatalf("sign-in not interrupted: %s", r.raw)
	}
	return r
}

func (e *env) countRows(t *testing.T, table string, where ...storage.Where) int64 {
	t.Helper()
	n, err := e.db.Count(context.Background(), table, where...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) twoFactorRow(t *testing.T, userID string) storage.Record {
	t.Helper()
	rec, err := e.db.FindOne(context.Background(), twofactor.TableTwoFactor, storage.W("userId", userID))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func (e *env) verifyEmail(t *testing.T, userID string) {
	t.Helper()
	if _, err := e.db.Update(context.Background(), plugin.TableUser, storage.Record{"emailVerified": true}, storage.W("id", userID)); err != nil {
		t.Fatal(err)
	}
}
