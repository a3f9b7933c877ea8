package emailotp_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/emailotp"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/mail"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

const testSecret = "a-test-secret-that-is-long-enough-to-use"

// dbs are the adapters the HTTP tests run on.
var dbs = []string{"memory", "sqlite", "postgres"}

type envOpts struct {
	opts    emailotp.Options
	authCfg func(*auth.Config)
	plugins []auth.Plugin
	db      string // "memory" (default), "sqlite" or "postgres"
}

type env struct {
	t     testing.TB
	a     *auth.Auth
	p     *emailotp.Plugin
	srv   *httptest.Server
	db    *countingDB
	clock *testkit.Clock
	box   *mail.Recorder
}

func openDB(t testing.TB, kind string) storage.Adapter {
	return testkit.OpenDB(t, kind, "emailotp_")
}

// newEnv starts an auth server with the email-otp plugin (and o.plugins),
// a mail recorder, a test clock, the rate limiter off.
func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	e := &env{t: t, clock: testkit.NewClock(time.Now().UTC().Truncate(time.Second)), box: &mail.Recorder{}}
	p, err := emailotp.New(o.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	e.db = &countingDB{Adapter: openDB(t, o.db)}
	e.srv = httptest.NewUnstartedServer(nil)
	cfg := auth.Config{BaseURL: "http://" + e.srv.Listener.Addr().String(), Secret: testSecret, Now: e.clock.Now,
		Hasher: testkit.FastHasher{}, RateLimit: auth.RateLimitConfig{Disabled: true}, Mailer: e.box,
		TrustedOrigins: []string{"https://app.example.com"}, Logger: slog.New(slog.DiscardHandler)}
	if o.authCfg != nil {
		o.authCfg(&cfg)
	}
	a, err := auth.New(cfg, e.db, append([]auth.Plugin{p}, o.plugins...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.a = a
	e.srv.Config.Handler = a.Handler()
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// flush waits for the codes being mailed.
func (e *env) flush() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.p.Shutdown(ctx); err != nil {
		e.t.Fatal(err)
	}
	if err := e.a.Shutdown(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// mails returns the codes mailed so far (after flush) to addr, of type typ
// ("" any), oldest first.
func (e *env) mails(addr string, typ emailotp.Type) []auth.Email {
	e.flush()
	var out []auth.Email
	for _, m := range e.box.Sent() {
		if m.Kind == plugin.EmailVerificationOTP && m.To == addr && (typ == "" || m.Data["type"] == string(typ)) {
			out = append(out, m)
		}
	}
	return out
}

// code asks for a code of typ for addr (through the route) and returns
// the code mailed.
func (e *env) code(addr string, typ emailotp.Type) string {
	e.t.Helper()
	before := len(e.mails(addr, typ))
	path, body := "/api/auth/email-otp/send-verification-otp", map[string]any{"email": addr, "type": string(typ)}
	if typ == emailotp.TypeForgetPassword {
		path, body = "/api/auth/email-otp/request-password-reset", map[string]any{"email": addr}
	}
	r := e.anon().do("POST", path, body)
	if r.status != 200 {
		e.t.Fatalf("%s: %d %s", path, r.status, r.raw)
	}
	got := e.mails(addr, typ)
	if len(got) != before+1 {
		e.t.Fatalf("%d codes of %s mailed to %s, want %d", len(got), typ, addr, before+1)
	}
	return got[len(got)-1].Code
}

// signUp signs up addr with a password through the core's route and
// returns the browser (signed in unless the config says otherwise).
func (e *env) signUp(addr, password string) *browser {
	e.t.Helper()
	b := e.browser()
	r := b.do("POST", "/api/auth/sign-up/email", map[string]any{"email": addr, "password": password, "name": "Someone"})
	if r.status != 200 {
		e.t.Fatalf("sign-up: %d %s", r.status, r.raw)
	}
	return b
}

func (e *env) user(addr string) *plugin.User {
	e.t.Helper()
	u, err := e.a.Host().FindUserByEmail(context.Background(), addr)
	if err != nil {
		return nil
	}
	return u
}

func (e *env) count(table string, where ...storage.Where) int64 {
	e.t.Helper()
	n, err := e.db.Count(context.Background(), table, where...)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// row returns the value of the code row of typ for addr ("" if none).
func (e *env) row(addr string, typ emailotp.Type) string {
	e.t.Helper()
	v, err := e.a.Host().FindVerification(context.Background(), string(typ)+"-otp-"+addr)
	if err != nil {
		return ""
	}
	return v.Value
}

// browser is a user agent with its own cookies.
type browser struct {
	e   *env
	jar *cookiejar.Jar
	c   *http.Client
	hdr http.Header
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, jar: jar, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}, hdr: http.Header{}}
}

// anon is a new browser without cookies.
func (e *env) anon() *browser { return e.browser() }

type reply struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (r reply) str(k string) string { s, _ := r.body[k].(string); return s }
func (r reply) code() string        { return r.str("code") }

func (b *browser) do(method, path string, body any) reply {
	b.e.t.Helper()
	r, err := b.try(method, path, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return r
}

// try is do for other goroutines than the test's: it returns the error.
func (b *browser) try(method, path string, body any) (reply, error) {
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		js, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = strings.NewReader(string(js))
	}
	req, err := http.NewRequest(method, b.e.srv.URL+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", b.e.srv.URL)
	for k, v := range b.hdr {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r, err
}

// session returns the browser's get-session answer (nil body if none).
func (b *browser) session() map[string]any {
	b.e.t.Helper()
	r := b.do("GET", "/api/auth/get-session", nil)
	if r.status != 200 {
		b.e.t.Fatalf("get-session: %d %s", r.status, r.raw)
	}
	return r.body
}

// countingDB is an adapter that counts the statements run, by operation
// and table, for tests that two paths do the same work.
type countingDB struct {
	storage.Adapter
	mu  sync.Mutex
	ops []string
}

func (d *countingDB) note(op, table string) {
	d.mu.Lock()
	d.ops = append(d.ops, op+" "+table)
	d.mu.Unlock()
}

// take returns the statements counted since the last take.
func (d *countingDB) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.ops
	d.ops = nil
	return out
}

func (d *countingDB) Create(ctx context.Context, table string, rec storage.Record) error {
	d.note("create", table)
	return d.Adapter.Create(ctx, table, rec)
}

func (d *countingDB) FindOne(ctx context.Context, table string, where ...storage.Where) (storage.Record, error) {
	d.note("find", table)
	return d.Adapter.FindOne(ctx, table, where...)
}

func (d *countingDB) FindMany(ctx context.Context, table string, q storage.Query) ([]storage.Record, error) {
	d.note("find", table)
	return d.Adapter.FindMany(ctx, table, q)
}

func (d *countingDB) Update(ctx context.Context, table string, set storage.Record, where ...storage.Where) (int64, error) {
	d.note("update", table)
	return d.Adapter.Update(ctx, table, set, where...)
}

func (d *countingDB) Delete(ctx context.Context, table string, where ...storage.Where) (int64, error) {
	d.note("delete", table)
	return d.Adapter.Delete(ctx, table, where...)
}

func (d *countingDB) Tx(ctx context.Context, fn func(tx storage.Adapter) error) error {
	d.note("tx", "")
	return d.Adapter.Tx(ctx, fn)
}

// Migrate passes the migration on to the adapter (the memory adapter
// needs none).
func (d *countingDB) Migrate(ctx context.Context, s storage.Schema) error {
	if m, ok := d.Adapter.(storage.Migrator); ok {
		return m.Migrate(ctx, s)
	}
	return nil
}
