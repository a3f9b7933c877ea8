// Package testoidc runs a real OpenID provider in the test process:
// zitadel/oidc's op package (a certified OpenID Connect implementation)
// over its example in-memory storage, on an httptest.Server. Tests sign
// users in at it as a browser would, with Login.
package testoidc

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// User is an account at the provider. Its ID is the sub of its tokens,
// its Email the login name.
type User struct {
	ID, Email     string
	EmailVerified bool
	First, Last   string
}

// Client is a client registered at the provider.
type Client struct {
	ID, Secret   string
	RedirectURIs []string
}

// Provider is a running OpenID provider.
type Provider struct {
	// Issuer is its issuer URL; the discovery document is at
	// Issuer + "/.well-known/openid-configuration".
	Issuer string
	srv    *httptest.Server
	store  *storage.Storage
	users  *users
	delay  atomic.Int64 // nanoseconds
	down   atomic.Bool
	busy   atomic.Int64 // nanoseconds spent answering
}

// Busy returns the total time the provider has spent answering requests
// (its handlers' time, delays included), so that a benchmark can tell
// the provider's share of a request from its own.
func (p *Provider) Busy() time.Duration { return time.Duration(p.busy.Load()) }

// DiscoveryURL returns the URL of the discovery document.
func (p *Provider) DiscoveryURL() string { return p.Issuer + "/.well-known/openid-configuration" }

// Start starts a provider with the clients and users; it stops with the
// test.
func Start(t testing.TB, clients []Client, us ...User) *Provider {
	t.Helper()
	p := &Provider{users: &users{m: map[string]*storage.User{}}}
	for _, u := range us {
		p.AddUser(u)
	}
	cs := map[string]*storage.Client{}
	for _, c := range clients {
		cs[c.ID] = storage.WebClient(c.ID, c.Secret, c.RedirectURIs...)
	}
	p.store = storage.NewStorageWithClients(p.users, cs)
	var handler http.Handler
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		defer func() { p.busy.Add(int64(time.Since(t0))) }()
		if d := time.Duration(p.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		if p.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		handler.ServeHTTP(w, r)
	}))
	p.Issuer = "http://" + p.srv.Listener.Addr().String()
	key := sha256.Sum256([]byte("testoidc"))
	prov, err := op.NewProvider(&op.Config{CryptoKey: key, CodeMethodS256: true, AuthMethodPost: true,
		GrantTypeRefreshToken: true, SupportedUILocales: []language.Tag{language.English}},
		p.store, op.StaticIssuer(p.Issuer), op.WithAllowInsecure(),
		op.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatalf("testoidc: %v", err)
	}
	handler = prov
	p.srv.Start() // after handler is set: no request reads it earlier
	t.Cleanup(p.srv.Close)
	return p
}

// AddUser adds (or replaces) a user.
func (p *Provider) AddUser(u User) {
	p.users.mu.Lock()
	defer p.users.mu.Unlock()
	p.users.m[u.ID] = &storage.User{ID: u.ID, Username: u.Email, Password: "pw-" + u.ID, FirstName: u.First,
		LastName: u.Last, Email: u.Email, EmailVerified: u.EmailVerified, PreferredLanguage: language.English}
}

// SetDelay delays every answer of the provider by d (0: none).
func (p *Provider) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// SetDown makes the provider answer 503 to everything (or not).
func (p *Provider) SetDown(down bool) { p.down.Store(down) }

// Login follows an authorization URL as the user's browser would: the
// provider asks the user to sign in, the user signs in as userID, and the
// provider redirects back to the client. It returns that redirect (the
// client's redirect_uri with code and state, or an error).
func (p *Provider) Login(t testing.TB, authURL, userID string) *url.URL {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	loc := get(t, c, authURL)
	lu, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("testoidc: login redirect %q: %v", loc, err)
	}
	id := lu.Query().Get("authRequestID")
	if id == "" {
		// The provider refused the request before any login: the
		// redirect is its answer.
		return lu
	}
	u := p.users.GetUserByID(userID)
	if u == nil {
		t.Fatalf("testoidc: no user %q", userID)
	}
	if err := p.store.CheckUsernamePassword(u.Username, u.Password, id); err != nil {
		t.Fatalf("testoidc: login: %v", err)
	}
	back, err := url.Parse(get(t, c, p.Issuer+"/authorize/callback?id="+url.QueryEscape(id)))
	if err != nil {
		t.Fatalf("testoidc: callback redirect: %v", err)
	}
	return back
}

func get(t testing.TB, c *http.Client, u string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("testoidc: GET %s: %v", u, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther || loc == "" {
		t.Fatalf("testoidc: GET %s: %s %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	if strings.HasPrefix(loc, "/") {
		ru, _ := url.Parse(u)
		loc = ru.Scheme + "://" + ru.Host + loc
	}
	return loc
}

// users is the provider's user store.
type users struct {
	mu sync.Mutex
	m  map[string]*storage.User
}

func (s *users) GetUserByID(id string) *storage.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.m[id]; ok {
		c := *u
		return &c
	}
	return nil
}

func (s *users) GetUserByUsername(name string) *storage.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.m {
		if u.Username == name {
			c := *u
			return &c
		}
	}
	return nil
}

func (s *users) ExampleClientID() string { return "service" }
