package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/oauth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// counts are the rows a refused callback must not have created.
type counts struct{ users, accounts, sessions int64 }

func (e *env) counts() counts {
	return counts{e.count(plugin.TableUser), e.count(plugin.TableAccount), e.count(plugin.TableSession)}
}

// expectError checks that r redirects to errorURL with the error code
// (and nothing was created).
func expectError(t *testing.T, e *env, r reply, before counts, errorURL, code string) {
	t.Helper()
	loc := location(t, r)
	base := loc.Scheme + "://" + loc.Host + loc.Path
	if loc.Scheme == "" {
		base = loc.Path
	}
	if base != errorURL || loc.Query().Get("error") != code {
		t.Fatalf("redirect %s, want %s?error=%s", loc, errorURL, code)
	}
	if strings.Contains(strings.Join(r.header.Values("Set-Cookie"), ";"), "session_token=") &&
		!strings.Contains(strings.Join(r.header.Values("Set-Cookie"), ";"), "session_token=;") {
		t.Fatalf("a refused callback sets a session cookie: %v", r.header.Values("Set-Cookie"))
	}
	if after := e.counts(); after != before {
		t.Fatalf("rows before %+v, after %+v: a refused callback created something", before, after)
	}
}

// withQuery returns u with the query parameter set.
func withQuery(u *url.URL, k, v string) *url.URL {
	c := *u
	q := c.Query()
	q.Set(k, v)
	c.RawQuery = q.Encode()
	return &c
}

// codeFor runs an authorization at the provider for another client (as
// that client's app would) and returns the code it receives.
func (e *env) codeFor(t *testing.T, client, secret, redirect string, user string, nonce string) (code string, conf *oauth2.Config) {
	t.Helper()
	conf = &oauth2.Config{ClientID: client, ClientSecret: secret, RedirectURL: redirect,
		Scopes:   []string{"openid", "email", "profile"},
		Endpoint: oauth2.Endpoint{AuthURL: e.op.Issuer + "/authorize", TokenURL: e.op.Issuer + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	back := e.op.Login(t, conf.AuthCodeURL("some-app-state", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce)), user)
	code = back.Query().Get("code")
	if code == "" {
		t.Fatalf("no code: %s", back)
	}
	return code, conf
}

// idTokenFor returns an ID token the provider issues to the client for
// the user, with the nonce.
func (e *env) idTokenFor(t *testing.T, client, secret, redirect, user, nonce string) (idToken, accessToken string) {
	t.Helper()
	conf := &oauth2.Config{ClientID: client, ClientSecret: secret, RedirectURL: redirect, Scopes: []string{"openid", "email", "profile"},
		Endpoint: oauth2.Endpoint{AuthURL: e.op.Issuer + "/authorize", TokenURL: e.op.Issuer + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	back := e.op.Login(t, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce)), user)
	tok, err := conf.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no id_token")
	}
	return raw, tok.AccessToken
}

func TestCallbackAttacks(t *testing.T) {
	t.Parallel()
	const errURL = "https://app.example.com/auth-error"
	start := map[string]any{"callbackURL": "/home", "errorCallbackURL": errURL}
	tests := []struct {
		name string
		run  func(t *testing.T, e *env) (reply, string, string) // the answer, the error URL and code expected
	}{
		{"missing state", func(t *testing.T, e *env) (reply, string, string) {
			b := e.browser()
			back := e.op.Login(t, b.start("/api/auth/sign-in/social", clone(start)), alice.ID)
			q := back.Query()
			q.Del("state")
			back.RawQuery = q.Encode()
			return b.callback(back), e.srv.URL + "/api/auth/error", "state_not_found"
		}},
		{"tampered state", func(t *testing.T, e *env) (reply, string, string) {
			b := e.browser()
			back := e.op.Login(t, b.start("/api/auth/sign-in/social", clone(start)), alice.ID)
			s := back.Query().Get("state")
			return b.callback(withQuery(back, "state", flip(s))), e.srv.URL + "/api/auth/error", "state_mismatch"
		}},
		{"state from another browser", func(t *testing.T, e *env) (reply, string, string) {
			victim, attacker := e.browser(), e.browser()
			back := e.op.Login(t, attacker.start("/api/auth/sign-in/social", clone(start)), mallory.ID)
			// Login CSRF: the attacker's callback URL opened in the victim's browser.
			r := victim.callback(back)
			// The state row survives: the browser that began the flow can finish it.
			if fin := attacker.callback(back); location(t, fin).String() != "/home" {
				t.Fatalf("the right browser cannot finish after a foreign attempt: %s", location(t, fin))
			}
			return r, errURL, "state_mismatch"
		}},
		{"replayed callback", func(t *testing.T, e *env) (reply, string, string) {
			b := e.browser()
			back := e.op.Login(t, b.start("/api/auth/sign-in/social", clone(start)), alice.ID)
			if loc := location(t, b.callback(back)); loc.String() != "/welcome" && loc.String() != "/home" {
				t.Fatalf("first callback: %s", loc)
			}
			return b.callback(back), e.srv.URL + "/api/auth/error", "state_mismatch"
		}},
		{"replayed code, new state", func(t *testing.T, e *env) (reply, string, string) {
			b := e.browser()
			back := e.op.Login(t, b.start("/api/auth/sign-in/social", clone(start)), alice.ID)
			location(t, b.callback(back))
			back2 := e.op.Login(t, b.start("/api/auth/sign-in/social", clone(start)), alice.ID)
			return b.callback(withQuery(back2, "code", back.Query().Get("code"))), errURL, "invalid_code"
		}},
		{"code of another flow", func(t *testing.T, e *env) (reply, string, string) {
			b := e.browser()
			a := e.op.Login(t, b.start("/api/auth/sign-in/social", clone(start)), bob.ID)
			bb := e.op.Login(t, b.start("/api/auth/sign-in/social", clone(start)), alice.ID)
			// B's state with A's code: A's PKCE challenge does not match B's verifier.
			return b.callback(withQuery(bb, "code", a.Query().Get("code"))), errURL, "invalid_code"
		}},
		{"code for another client", func(t *testing.T, e *env) (reply, string, string) {
			b := e.browser()
			back := e.op.Login(t, b.start("/api/auth/sign-in/social", clone(start)), alice.ID)
			foreign, _ := e.codeFor(t, "other-client", "other-secret", "https://other.example.com/cb", alice.ID, "n")
			return b.callback(withQuery(back, "code", foreign)), errURL, "invalid_code"
		}},
		{"access denied", func(t *testing.T, e *env) (reply, string, string) {
			b := e.browser()
			au, _ := url.Parse(b.start("/api/auth/sign-in/social", clone(start)))
			back, _ := url.Parse(e.srv.URL + "/api/auth/callback/" + providerID)
			back.RawQuery = url.Values{"state": {au.Query().Get("state")}, "error": {"access_denied"},
				"error_description": {"The user said no"}}.Encode()
			r := b.callback(back)
			if d := location(t, r).Query().Get("error_description"); d != "The user said no" {
				t.Errorf("error_description %q", d)
			}
			return r, errURL, "access_denied"
		}},
		{"no code", func(t *testing.T, e *env) (reply, string, string) {
			b := e.browser()
			back := e.op.Login(t, b.start("/api/auth/sign-in/social", clone(start)), alice.ID)
			q := back.Query()
			q.Del("code")
			back.RawQuery = q.Encode()
			return b.callback(back), errURL, "no_code"
		}},
		{"issuer mismatch (RFC 9207)", func(t *testing.T, e *env) (reply, string, string) {
			b := e.browser()
			back := e.op.Login(t, b.start("/api/auth/sign-in/social", clone(start)), alice.ID)
			return b.callback(withQuery(back, "iss", "https://evil.example.com")), errURL, "issuer_mismatch"
		}},
		{"state of another provider", func(t *testing.T, e *env) (reply, string, string) {
			b := e.browser()
			back := e.op.Login(t, b.start("/api/auth/sign-in/social", clone(start)), alice.ID)
			back.Path = strings.Replace(back.Path, providerID, "second", 1)
			return b.callback(back), errURL, "state_mismatch"
		}},
		{"nonce changed", func(t *testing.T, e *env) (reply, string, string) {
			b := e.browser()
			back := e.op.Login(t, b.start("/api/auth/sign-in/social", clone(start)), alice.ID)
			// The ID token's nonce no longer matches the flow's.
			state := back.Query().Get("state")
			rec, err := e.db.FindOne(context.Background(), plugin.TableVerification, storage.W("identifier", state))
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]any
			_ = json.Unmarshal([]byte(rec.String("value")), &v)
			v["idTokenNonce"] = "another-nonce-of-32-characters-x"
			js, _ := json.Marshal(v)
			if _, err := e.db.Update(context.Background(), plugin.TableVerification, storage.Record{"value": string(js)}, storage.W("identifier", state)); err != nil {
				t.Fatal(err)
			}
			return b.callback(back), errURL, "unable_to_get_user_info"
		}},
		{"expired state", func(t *testing.T, e *env) (reply, string, string) {
			b := e.browser()
			back := e.op.Login(t, b.start("/api/auth/sign-in/social", clone(start)), alice.ID)
			e.clock.Advance(11 * time.Minute)
			// The state cookie (5 minutes) would be gone too; send it anyway.
			return b.callback(back), e.srv.URL + "/api/auth/error", "state_mismatch"
		}},
		{"provider down", func(t *testing.T, e *env) (reply, string, string) {
			b := e.browser()
			back := e.op.Login(t, b.start("/api/auth/sign-in/social", clone(start)), alice.ID)
			e.op.SetDown(true)
			return b.callback(back), errURL, "invalid_code"
		}},
		{"provider slow", func(t *testing.T, e *env) (reply, string, string) {
			b := e.browser()
			back := e.op.Login(t, b.start("/api/auth/sign-in/social", clone(start)), alice.ID)
			e.op.SetDelay(2 * time.Second) // the plugin's Timeout is 300 ms here
			t0 := time.Now()
			r := b.callback(back)
			if d := time.Since(t0); d > 1500*time.Millisecond {
				t.Errorf("the callback took %v: the provider's answer is not bounded", d)
			}
			return r, errURL, "invalid_code"
		}},
		{"unverified email, verification required", func(t *testing.T, e *env) (reply, string, string) {
			b := e.browser()
			return b.flow("/api/auth/sign-in/social", clone(start), mallory), errURL, "email_not_verified"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{cfg: func(c *oauth.Config) {
				c.Timeout = 300 * time.Millisecond
				second := c.Providers[0]
				second.ID = "second"
				first := &c.Providers[0]
				if tc.name == "unverified email, verification required" {
					first.RequireEmailVerified = true
				}
				c.Providers = append(c.Providers, second)
			}})
			before := e.counts()
			r, errorURL, code := tc.run(t, e)
			if tc.name == "state from another browser" || strings.HasPrefix(tc.name, "replayed") {
				// One legitimate sign-in happened in the test itself.
				before = e.counts()
			}
			expectError(t, e, r, before, errorURL, code)
		})
	}
}

func TestUntrustedRedirects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	b := e.browser()
	for _, tc := range []struct{ field, code string }{
		{"callbackURL", "INVALID_CALLBACK_URL"},
		{"errorCallbackURL", "INVALID_ERROR_CALLBACK_URL"},
		{"newUserCallbackURL", "INVALID_NEW_USER_CALLBACK_URL"},
	} {
		for _, target := range []string{"https://evil.example.com/x", "//evil.example.com", "javascript:alert(1)"} {
			r := b.do("POST", "/api/auth/sign-in/social", map[string]any{"provider": providerID, tc.field: target})
			if r.status != 403 || r.str("code") != tc.code {
				t.Errorf("%s=%s: %d %s", tc.field, target, r.status, r.raw)
			}
		}
	}
	if n := e.count(plugin.TableVerification); n != 0 {
		t.Fatalf("refused sign-ins stored %d states", n)
	}
}

func TestConcurrentCallbacks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	b := e.browser()
	back := e.op.Login(t, b.start("/api/auth/sign-in/social", map[string]any{"callbackURL": "/home"}), alice.ID)
	const n = 8
	var wg sync.WaitGroup
	locs := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			locs[i] = b.callback(back).header.Get("Location")
		}()
	}
	wg.Wait()
	ok := 0
	for _, l := range locs {
		if l == "/home" {
			ok++
		} else if !strings.Contains(l, "error=state_mismatch") {
			t.Errorf("unexpected redirect %s", l)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent uses of one state succeeded, want 1: %v", ok, n, locs)
	}
	if s := e.count(plugin.TableSession); s != 1 {
		t.Fatalf("%d sessions", s)
	}
}

func TestIDTokenSignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: func(c *oauth.Config) {
		c.Providers[0].Audiences = []string{"mobile-app"}
		c.Providers[0].HashedNonce = true
		plain := c.Providers[0]
		plain.ID, plain.HashedNonce = "second", false
		c.Providers = append(c.Providers, plain)
		// A provider with the real provider's keys but another issuer.
		wrongIss := c.Providers[0]
		wrongIss.ID = "wrong-issuer"
		wrongIss.DiscoveryURL = ""
		wrongIss.Issuer = "https://not-the-issuer.example.com"
		wrongIss.AuthURL, wrongIss.TokenURL = "https://unused.example.com/a", "https://unused.example.com/t"
		wrongIss.JWKSURL = strings.TrimSuffix(c.Providers[0].DiscoveryURL, "/.well-known/openid-configuration") + "/keys"
		c.Providers = append(c.Providers, wrongIss)
	}})
	ownRedirect := e.srv.URL + "/api/auth/callback/" + providerID
	good, goodAccess := e.idTokenFor(t, clientID, clientSecret, ownRedirect, carol.ID, "nonce-1")
	mobile, mobileAccess := e.idTokenFor(t, "mobile-app", "mobile-secret", "https://mobile.example.com/cb", bob.ID, "nonce-2")
	foreign, _ := e.idTokenFor(t, "other-client", "other-secret", "https://other.example.com/cb", alice.ID, "nonce-3")
	parts := strings.Split(good, ".")
	badSig := parts[0] + "." + parts[1] + "." + flip(parts[2])
	before := e.counts()

	refused := []struct {
		name     string
		provider string
		token    string
		nonce    string
		advance  time.Duration
	}{
		{"another client's audience", providerID, foreign, "nonce-3", 0},
		{"wrong nonce", providerID, good, "nonce-X", 0},
		{"bad signature", providerID, badSig, "nonce-1", 0},
		{"not a JWT", providerID, "abc.def", "", 0},
		{"wrong issuer", "wrong-issuer", good, "nonce-1", 0},
	}
	for _, tc := range refused {
		r := e.browser().do("POST", "/api/auth/sign-in/social", map[string]any{"provider": tc.provider,
			"idToken": map[string]any{"token": tc.token, "nonce": tc.nonce}})
		if r.status != 401 || r.str("code") != "INVALID_TOKEN" {
			t.Errorf("%s: %d %s", tc.name, r.status, r.raw)
		}
	}
	if after := e.counts(); after != before {
		t.Fatalf("refused ID tokens created rows: %+v → %+v", before, after)
	}

	b := e.browser()
	r := b.do("POST", "/api/auth/sign-in/social", map[string]any{"provider": providerID, "idToken": map[string]any{"token": good, "nonce": "nonce-1", "accessToken": goodAccess}})
	if r.status != 200 || r.body["redirect"] != false || r.str("token") == "" {
		t.Fatalf("ID-token sign-in: %d %s", r.status, r.raw)
	}
	if u, _ := r.body["user"].(map[string]any); u["email"] != carol.Email {
		t.Fatalf("user %v", r.body["user"])
	}
	if s := b.session(); s == nil {
		t.Fatal("no session cookie after ID-token sign-in")
	}
	// A mobile app's own client ID is accepted as audience.
	if r := e.browser().do("POST", "/api/auth/sign-in/social", map[string]any{"provider": providerID, "idToken": map[string]any{"token": mobile, "accessToken": mobileAccess}}); r.status != 200 {
		t.Fatalf("mobile audience: %d %s", r.status, r.raw)
	}
	// A nonce the client sent the provider hashed (as Apple's iOS SDK
	// does) is accepted where the provider says so.
	sum := sha256.Sum256([]byte("raw-nonce"))
	hashed, hashedAccess := e.idTokenFor(t, clientID, clientSecret, ownRedirect, carol.ID, hex.EncodeToString(sum[:]))
	for provider, want := range map[string]int{providerID: 200, "second": 401} {
		r := e.browser().do("POST", "/api/auth/sign-in/social", map[string]any{"provider": provider,
			"idToken": map[string]any{"token": hashed, "nonce": "raw-nonce", "accessToken": hashedAccess}})
		if r.status != want {
			t.Errorf("hashed nonce at %s: %d %s, want %d", provider, r.status, r.raw, want)
		}
	}
	// An expired token.
	e.clock.Advance(2 * time.Hour)
	if r := e.browser().do("POST", "/api/auth/sign-in/social", map[string]any{"provider": providerID, "idToken": map[string]any{"token": good, "accessToken": goodAccess}}); r.status != 401 {
		t.Fatalf("expired: %d %s", r.status, r.raw)
	}
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{authCfg: func(c *auth.Config) { c.RateLimit.Disabled = false }})
	b := e.browser()
	var got []int
	for range 4 {
		got = append(got, b.do("POST", "/api/auth/sign-in/social", map[string]any{"provider": providerID}).status)
	}
	if got[3] != 429 {
		t.Fatalf("statuses %v: the 4th sign-in within 10 s is refused (Better Auth's /sign-in rule)", got)
	}
}

func clone(m map[string]any) map[string]any {
	c := map[string]any{}
	for k, v := range m {
		c[k] = v
	}
	return c
}

// flip changes one character of s (in the middle, keeping its alphabet).
func flip(s string) string {
	i := len(s) / 2
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}
