package oauth_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/internal/testoidc"
	"github.com/managarten/mana-auth/mail"
	"github.com/managarten/mana-auth/oauth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

const (
	testSecret   = "a-test-secret-that-is-long-enough-to-use"
	clientID     = "mana-client"
	clientSecret = "mana-client-secret"
	providerID   = "local-oidc"
	appOrigin    = "https://app.example.com"
)

// The provider's users.
var (
	alice   = testoidc.User{ID: "alice-sub", Email: "alice@example.com", EmailVerified: true, First: "Alice", Last: "Liddell"}
	bob     = testoidc.User{ID: "bob-sub", Email: "bob@example.com", EmailVerified: true, First: "Bob", Last: "Builder"}
	mallory = testoidc.User{ID: "mallory-sub", Email: "victim@example.com", EmailVerified: false, First: "Mal", Last: "Lory"}
	carol   = testoidc.User{ID: "carol-sub", Email: "carol@example.com", EmailVerified: true, First: "Carol", Last: "C"}
)

type envOpts struct {
	cfg     func(*oauth.Config)
	authCfg func(*auth.Config)
	plugins []auth.Plugin
	db      string // "memory" (default), "sqlite" or "postgres"
}

type env struct {
	t     testing.TB
	a     *auth.Auth
	p     *oauth.Plugin
	srv   *httptest.Server
	op    *testoidc.Provider
	db    storage.Adapter
	clock *testkit.Clock
	box   *mail.Recorder
}

func openDB(t testing.TB, kind string) storage.Adapter {
	return testkit.OpenDB(t, kind, "oauth_")
}

// newEnv starts an auth server with the oauth plugin and an OpenID
// provider at which it is the client clientID, with the users alice, bob,
// mallory and carol.
func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	e := &env{t: t, clock: testkit.NewClock(time.Now().UTC().Truncate(time.Second)), box: &mail.Recorder{}}
	e.srv = httptest.NewUnstartedServer(nil)
	base := "http://" + e.srv.Listener.Addr().String()
	e.op = testoidc.Start(t, []testoidc.Client{
		{ID: clientID, Secret: clientSecret, RedirectURIs: []string{base + "/api/auth/callback/" + providerID, base + "/api/auth/callback/second"}},
		{ID: "other-client", Secret: "other-secret", RedirectURIs: []string{"https://other.example.com/cb"}},
		{ID: "mobile-app", Secret: "mobile-secret", RedirectURIs: []string{"https://mobile.example.com/cb"}},
	}, alice, bob, mallory, carol)
	cfg := oauth.Config{Providers: []oauth.Provider{func() oauth.Provider {
		p := oauth.OIDC(providerID, e.op.DiscoveryURL(), clientID, clientSecret)
		p.Scopes = append(p.Scopes, "offline_access")
		return p
	}()}, Timeout: 3 * time.Second}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	p, err := oauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	e.db = openDB(t, o.db)
	acfg := auth.Config{BaseURL: base, Secret: testSecret, Now: e.clock.Now, Hasher: testkit.FastHasher{},
		RateLimit: auth.RateLimitConfig{Disabled: true}, TrustedOrigins: []string{appOrigin}, Mailer: e.box,
		Logger: slog.New(slog.DiscardHandler)}
	if o.authCfg != nil {
		o.authCfg(&acfg)
	}
	a, err := auth.New(acfg, e.db, append([]auth.Plugin{p}, o.plugins...)...)
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

// browser is a user agent with its own cookies that follows no redirects.
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
	status int
	header http.Header
	raw    string
	body   map[string]any
	list   []any
}

func (r reply) str(k string) string { s, _ := r.body[k].(string); return s }

func (b *browser) do(method, target string, body any) reply {
	b.e.t.Helper()
	var rd io.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		rd = strings.NewReader(string(js))
	}
	if !strings.HasPrefix(target, "http") {
		target = b.e.srv.URL + target
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", b.e.srv.URL)
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	_ = json.Unmarshal(raw, &r.list)
	return r
}

// signIn starts a flow with body (provider added) and returns the
// authorization URL.
func (b *browser) start(path string, body map[string]any) string {
	b.e.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	if _, ok := body["provider"]; !ok {
		body["provider"] = providerID
	}
	r := b.do("POST", path, body)
	if r.status != 200 || r.str("url") == "" {
		b.e.t.Fatalf("%s: %d %s", path, r.status, r.raw)
	}
	return r.str("url")
}

// callback delivers the provider's redirect to the server and returns the
// server's redirect.
func (b *browser) callback(u *url.URL) reply {
	b.e.t.Helper()
	if !strings.HasPrefix(u.String(), b.e.srv.URL) {
		b.e.t.Fatalf("the provider redirected to %s", u)
	}
	return b.do("GET", u.String(), nil)
}

// flow signs in at the provider as user through a flow started with body
// and returns the server's final redirect.
func (b *browser) flow(path string, body map[string]any, user testoidc.User) reply {
	b.e.t.Helper()
	return b.callback(b.e.op.Login(b.e.t, b.start(path, body), user.ID))
}

// session returns the browser's session (nil if none).
func (b *browser) session() map[string]any {
	b.e.t.Helper()
	r := b.do("GET", "/api/auth/get-session", nil)
	if r.status != 200 {
		b.e.t.Fatalf("get-session: %d %s", r.status, r.raw)
	}
	return r.body
}

func location(t *testing.T, r reply) *url.URL {
	t.Helper()
	if r.status != http.StatusFound {
		t.Fatalf("want a 302, got %d %s", r.status, r.raw)
	}
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// accounts returns the account rows of the user with the email.
func (e *env) accounts(email string) []*plugin.Account {
	e.t.Helper()
	u, err := e.a.Host().FindUserByEmail(context.Background(), email)
	if err != nil {
		return nil
	}
	accs, err := e.a.ListAccounts(context.Background(), u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return accs
}

func (e *env) count(table string) int64 {
	e.t.Helper()
	n, err := e.db.Count(context.Background(), table)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// sessionRequest returns a request carrying b's cookies for the server.
func sessionRequest(t *testing.T, b *browser) *http.Request {
	t.Helper()
	req, _ := http.NewRequest("GET", b.e.srv.URL+"/api/auth/get-session", nil)
	for _, c := range b.jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	return req
}
