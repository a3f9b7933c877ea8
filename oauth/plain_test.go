package oauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/managarten/mana-auth/oauth"
	"github.com/managarten/mana-auth/plugin"
)

// plainProvider is a plain OAuth 2.0 provider (no OpenID) whose answers
// the test writes: a provider that misbehaves, as no real provider
// running here can be made to.
type plainProvider struct {
	srv      *httptest.Server
	token    atomic.Value // func(w, r)
	userinfo atomic.Value // string: the JSON answer
}

func newPlainProvider(t *testing.T) *plainProvider {
	p := &plainProvider{}
	p.token.Store(func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("client_id") != "plain-id" || r.FormValue("client_secret") != "plain-secret" ||
			r.FormValue("code") != "good-code" || len(r.FormValue("code_verifier")) != 128 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"at-1","token_type":"bearer","expires_in":3600,"scope":"read email"}`))
	})
	p.userinfo.Store(`{"id": 12345, "email": "Dave@Example.com", "email_verified": true, "name": "Dave"}`)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		p.token.Load().(func(http.ResponseWriter, *http.Request))(w, r)
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at-1" {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(p.userinfo.Load().(string)))
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (pp *plainProvider) provider() oauth.Provider {
	return oauth.Provider{ID: "plain", ClientID: "plain-id", ClientSecret: "plain-secret",
		AuthURL: pp.srv.URL + "/authorize", TokenURL: pp.srv.URL + "/token", UserInfoURL: pp.srv.URL + "/userinfo",
		Scopes: []string{"read", "email"},
		Profile: func(c map[string]any) (oauth.Profile, error) {
			return oauth.Profile{ID: oauth.Claim(c, "id"), Email: oauth.Claim(c, "email"),
				EmailVerified: oauth.ClaimBool(c, "email_verified"), Name: oauth.Claim(c, "name")}, nil
		}}
}

// plainCallback starts a flow at the plain provider and returns the
// callback URL the provider would send the browser to with code.
func plainCallback(t *testing.T, e *env, b *browser, code string) *url.URL {
	t.Helper()
	au, _ := url.Parse(b.start("/api/auth/sign-in/social", map[string]any{"provider": "plain", "callbackURL": "/home", "errorCallbackURL": "/err"}))
	if au.Query().Get("nonce") != "" || au.Query().Get("code_challenge") == "" {
		t.Fatalf("a plain OAuth 2.0 flow has PKCE and no nonce: %s", au)
	}
	u, _ := url.Parse(e.srv.URL + "/api/auth/callback/plain")
	u.RawQuery = url.Values{"code": {code}, "state": {au.Query().Get("state")}}.Encode()
	return u
}

func TestPlainOAuth2Provider(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		userinfo  string
		token     string // the token endpoint's JSON answer, if not the default
		redirect  bool   // the token endpoint redirects
		code      string
		wantError string
		check     func(t *testing.T, e *env)
	}{
		{name: "signs up", check: func(t *testing.T, e *env) {
			accs := e.accounts("dave@example.com")
			if len(accs) != 1 || accs[0].AccountID != "12345" || *accs[0].Scope != "read,email" || *accs[0].AccessToken != "at-1" {
				t.Fatalf("accounts %+v", accs)
			}
		}},
		{name: "wrong code", code: "bad-code", wantError: "invalid_code"},
		{name: "token endpoint redirects", redirect: true, wantError: "invalid_code"},
		{name: "token endpoint error", token: `{"error":"server_error"}`, wantError: "invalid_code"},
		{name: "userinfo not JSON", userinfo: `<html>`, wantError: "unable_to_get_user_info"},
		{name: "no id", userinfo: `{"email":"dave@example.com"}`, wantError: "unable_to_get_user_info"},
		{name: "NUL in id", userinfo: `{"id":"12\u00003","email":"dave@example.com"}`, wantError: "unable_to_get_user_info"},
		{name: "id too long", userinfo: `{"id":"` + strings.Repeat("9", 300) + `","email":"dave@example.com"}`, wantError: "unable_to_get_user_info"},
		{name: "no email", userinfo: `{"id":1}`, wantError: "email_not_found"},
		{name: "invalid email", userinfo: `{"id":1,"email":"d\u0000ave@example.com"}`, wantError: "email_not_found"},
		{name: "non-ASCII email", userinfo: `{"id":1,"email":"dävé@example.com"}`, wantError: "email_not_found"},
		{name: "NUL in name", userinfo: `{"id":1,"email":"dave@example.com","email_verified":true,"name":"Da\u0000ve"}`, check: func(t *testing.T, e *env) {
			u, err := e.a.Host().FindUserByEmail(t.Context(), "dave@example.com")
			if err != nil || u.Name != "" {
				t.Fatalf("user %+v %v: a name the core refuses is dropped", u, err)
			}
		}},
		{name: "NUL in tokens and scope", token: `{"access_token":"at-1","token_type":"bearer","scope":"re\u0000ad","refresh_token":"r\u0000t"}`,
			check: func(t *testing.T, e *env) {
				accs := e.accounts("dave@example.com")
				if len(accs) != 1 || accs[0].Scope != nil || accs[0].RefreshToken != nil || *accs[0].AccessToken != "at-1" {
					t.Fatalf("accounts %+v: what cannot be stored is dropped", accs)
				}
			}},
	}
	for _, db := range []string{"sqlite", "postgres"} {
		for _, tc := range tests {
			t.Run(db+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				pp := newPlainProvider(t)
				if tc.userinfo != "" {
					pp.userinfo.Store(tc.userinfo)
				}
				if tc.token != "" {
					pp.token.Store(func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Content-Type", "application/json")
						if strings.Contains(tc.token, `"error"`) {
							w.WriteHeader(400)
						}
						w.Write([]byte(tc.token))
					})
				}
				if tc.redirect {
					pp.token.Store(func(w http.ResponseWriter, r *http.Request) {
						http.Redirect(w, r, pp.srv.URL+"/token2", http.StatusTemporaryRedirect)
					})
				}
				e := newEnv(t, envOpts{db: db, cfg: func(c *oauth.Config) { c.Providers = append(c.Providers, pp.provider()) }})
				code := tc.code
				if code == "" {
					code = "good-code"
				}
				b := e.browser()
				before := e.counts()
				r := b.callback(plainCallback(t, e, b, code))
				if tc.wantError != "" {
					expectError(t, e, r, before, "/err", tc.wantError)
					return
				}
				if loc := location(t, r); loc.String() != "/home" {
					t.Fatalf("redirect %s", loc)
				}
				if tc.check != nil {
					tc.check(t, e)
				}
			})
		}
	}
}

// TestProviderConfig: a configuration mistake is refused by New with a
// message that names it.
func TestProviderConfig(t *testing.T) {
	t.Parallel()
	ok := oauth.Provider{ID: "x", ClientID: "c", AuthURL: "https://a.example.com/a", TokenURL: "https://a.example.com/t", UserInfoURL: "https://a.example.com/u"}
	tests := []struct {
		name string
		mut  func(p *oauth.Provider)
		want string
	}{
		{"bad id", func(p *oauth.Provider) { p.ID = "a b" }, `provider id "a b"`},
		{"credential id", func(p *oauth.Provider) { p.ID = plugin.CredentialProvider }, "password account"},
		{"no client id", func(p *oauth.Provider) { p.ClientID = "" }, "ClientID is required"},
		{"no endpoints", func(p *oauth.Provider) { p.AuthURL = "" }, "DiscoveryURL, or AuthURL and TokenURL"},
		{"no profile source", func(p *oauth.Provider) { p.UserInfoURL = "" }, "UserInfoURL or UserInfo"},
		{"issuer without keys", func(p *oauth.Provider) { p.Issuer = "https://a.example.com" }, "JWKSURL or DiscoveryURL"},
		{"not a URL", func(p *oauth.Provider) { p.TokenURL = "ftp://a.example.com/t" }, "is not an http(s) URL"},
	}
	for _, tc := range tests {
		p := ok
		tc.mut(&p)
		_, err := oauth.New(oauth.Config{Providers: []oauth.Provider{p}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := oauth.New(oauth.Config{Providers: []oauth.Provider{ok, ok}}); err == nil || !strings.Contains(err.Error(), "used twice") {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := oauth.New(oauth.Config{Providers: []oauth.Provider{ok}}); err != nil {
		t.Fatal(err)
	}
}
