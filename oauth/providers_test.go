package oauth_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/managarten/mana-auth/oauth"
)

// builtinAppleKeyPEM returns a new .p8-style key: PEM "PRIVATE KEY",
// PKCS #8, EC P-256.
func builtinAppleKeyPEM(t *testing.T) (string, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), k
}

// builtinProviders returns every built-in provider, by ID.
func builtinProviders(t *testing.T) map[string]oauth.Provider {
	t.Helper()
	key, _ := builtinAppleKeyPEM(t)
	apple, err := oauth.Apple(oauth.AppleConfig{ClientID: "com.example.web", TeamID: "TEAM123456", KeyID: "KEY1234567",
		PrivateKey: key, Audiences: []string{"com.example.ios"}})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]oauth.Provider{
		"google":    oauth.Google("google-client", "google-secret"),
		"github":    oauth.GitHub("github-client", "github-secret"),
		"apple":     apple,
		"microsoft": oauth.Microsoft(oauth.MicrosoftConfig{ClientID: "ms-client", ClientSecret: "ms-secret"}),
		"discord":   oauth.Discord("discord-client", "discord-secret"),
		"gitlab":    oauth.GitLab(oauth.GitLabConfig{ClientID: "gitlab-client", ClientSecret: "gitlab-secret"}),
	}
}

// profileVector is a provider's answer and the profile it must give
// (testdata/providers/profiles.json).
type profileVector struct {
	Provider string `json:"provider"`
	Name     string `json:"name"`
	// Claims are the ID token's claims, or the UserInfo answer (GitHub's
	// /user).
	Claims json.RawMessage `json:"claims"`
	// User is Apple's user parameter, as the callback receives it.
	User string `json:"user"`
	// Emails is GitHub's /user/emails answer; absent, it answers 404.
	Emails json.RawMessage `json:"emails"`
	Want   oauth.Profile   `json:"want"`
	Err    bool            `json:"err"`
}

func TestBuiltinProfiles(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/providers/profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []profileVector
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	providers := builtinProviders(t)
	covered := map[string]bool{}
	for _, v := range vectors {
		p, ok := providers[v.Provider]
		if !ok {
			t.Fatalf("vector %q: no provider %q", v.Name, v.Provider)
		}
		covered[v.Provider] = true
		t.Run(v.Provider+"/"+v.Name, func(t *testing.T) {
			t.Parallel()
			if v.Provider == "github" {
				// GitHub's profile is what its UserInfo makes of /user and
				// /user/emails.
				gh := newGitHubFake(t, githubAnswer{status: 200, body: string(v.Claims)}, emailsAnswer(v.Emails))
				claims, err := p.UserInfo(context.Background(), gh.client, p.UserInfoURL, &oauth2.Token{AccessToken: "gho_test"})
				if err != nil {
					t.Fatal(err)
				}
				checkProfile(t, p, claims, v)
				return
			}
			// ID tokens' claims are decoded to float64 numbers (go-oidc),
			// UserInfo answers to json.Number: both must map alike.
			for _, useNumber := range []bool{false, true} {
				d := json.NewDecoder(bytes.NewReader(v.Claims))
				if useNumber {
					d.UseNumber()
				}
				var claims map[string]any
				if err := d.Decode(&claims); err != nil {
					t.Fatal(err)
				}
				if v.User != "" {
					var user map[string]any
					if err := json.Unmarshal([]byte(v.User), &user); err != nil {
						t.Fatal(err)
					}
					claims["user"] = user
				}
				checkProfile(t, p, claims, v)
			}
		})
	}
	for id := range providers {
		if !covered[id] {
			t.Errorf("no profile vector for %q", id)
		}
	}
}

func checkProfile(t *testing.T, p oauth.Provider, claims map[string]any, v profileVector) {
	t.Helper()
	got, err := p.Profile(claims)
	if v.Err {
		if err == nil {
			t.Errorf("Profile = %+v, want an error", got)
		}
		return
	}
	if err != nil {
		t.Fatalf("Profile: %v", err)
	}
	if diff := cmp.Diff(v.Want, got); diff != "" {
		t.Errorf("Profile (-want +got):\n%s", diff)
	}
}

// githubAnswer is an answer of the fake GitHub API.
type githubAnswer struct {
	status int
	body   string
}

func emailsAnswer(raw json.RawMessage) githubAnswer {
	if raw == nil {
		return githubAnswer{status: 404, body: `{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`}
	}
	return githubAnswer{status: 200, body: string(raw)}
}

// githubRequest is what the fake GitHub API received.
type githubRequest struct {
	Method, URL                              string
	Authorization, Accept, UserAgent, APIVer string
}

// githubFake is GitHub's REST API at https://api.github.com, reached by
// client.
type githubFake struct {
	client *http.Client
	mu     sync.Mutex
	reqs   []githubRequest
}

func (g *githubFake) requests() []githubRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]githubRequest(nil), g.reqs...)
}

// newGitHubFake starts a server answering /user and /user/emails, and a
// client whose requests to https://api.github.com reach it (any other
// host is refused).
func newGitHubFake(t *testing.T, user, emails githubAnswer) *githubFake {
	t.Helper()
	g := &githubFake{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.reqs = append(g.reqs, githubRequest{Method: r.Method, URL: r.Header.Get("X-Test-Original-URL"),
			Authorization: r.Header.Get("Authorization"), Accept: r.Header.Get("Accept"),
			UserAgent: r.Header.Get("User-Agent"), APIVer: r.Header.Get("X-GitHub-Api-Version")})
		g.mu.Unlock()
		var a githubAnswer
		switch r.URL.Path {
		case "/user":
			a = user
		case "/user/emails":
			a = emails
		default:
			a = githubAnswer{status: 404, body: `{"message":"Not Found"}`}
		}
		if r.Header.Get("Authorization") != "Bearer gho_test" {
			a = githubAnswer{status: 401, body: `{"message":"Requires authentication"}`}
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
	}))
	t.Cleanup(srv.Close)
	target, _ := url.Parse(srv.URL)
	g.client = &http.Client{Timeout: 5 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Scheme != "https" || r.URL.Host != "api.github.com" {
			return nil, fmt.Errorf("request to %s, not to GitHub's API", r.URL)
		}
		r = r.Clone(r.Context())
		r.Header.Set("X-Test-Original-URL", r.URL.String())
		r.URL.Scheme, r.URL.Host, r.Host = target.Scheme, target.Host, ""
		return http.DefaultTransport.RoundTrip(r)
	})}
	return g
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestGitHubUserInfo(t *testing.T) {
	t.Parallel()
	const octocat = `{"login":"octocat","id":583231,"avatar_url":"https://avatars.githubusercontent.com/u/583231?v=4","name":"The Octocat","email":null}`
	const emails = `[{"email":"octocat@github.com","primary":true,"verified":true,"visibility":"private"}]`
	wantHeaders := func(u string) githubRequest {
		return githubRequest{Method: "GET", URL: u, Authorization: "Bearer gho_test", Accept: "application/vnd.github+json",
			UserAgent: "mana-auth", APIVer: "2022-11-28"}
	}
	both := []githubRequest{wantHeaders("https://api.github.com/user"), wantHeaders("https://api.github.com/user/emails")}
	for _, tc := range []struct {
		name          string
		token         string
		user, emails  githubAnswer
		wantErr       bool
		want          oauth.Profile
		wantRequests  []githubRequest
		wantNoRequest bool
	}{
		{name: "user and emails", token: "gho_test", user: githubAnswer{200, octocat}, emails: githubAnswer{200, emails},
			want: oauth.Profile{ID: "583231", Email: "octocat@github.com", EmailVerified: true, Name: "The Octocat",
				Image: "https://avatars.githubusercontent.com/u/583231?v=4"},
			wantRequests: both},
		{name: "emails failing: no address", token: "gho_test", user: githubAnswer{200, octocat},
			emails:       githubAnswer{500, `{"message":"Server Error"}`},
			want:         oauth.Profile{ID: "583231", Name: "The Octocat", Image: "https://avatars.githubusercontent.com/u/583231?v=4"},
			wantRequests: both},
		{name: "emails not a list", token: "gho_test", user: githubAnswer{200, octocat}, emails: githubAnswer{200, `{"email":"x@example.com"}`},
			want:         oauth.Profile{ID: "583231", Name: "The Octocat", Image: "https://avatars.githubusercontent.com/u/583231?v=4"},
			wantRequests: both},
		{name: "revoked token", token: "gho_revoked", user: githubAnswer{200, octocat}, emails: githubAnswer{200, emails},
			wantErr: true, wantRequests: []githubRequest{func() githubRequest {
				r := wantHeaders("https://api.github.com/user")
				r.Authorization = "Bearer gho_revoked"
				return r
			}()}},
		{name: "user answer not an object", token: "gho_test", user: githubAnswer{200, `null`}, emails: githubAnswer{200, emails},
			wantErr: true, wantRequests: both[:1]},
		{name: "user answer not JSON", token: "gho_test", user: githubAnswer{200, `<html>`}, emails: githubAnswer{200, emails},
			wantErr: true, wantRequests: both[:1]},
		{name: "server error", token: "gho_test", user: githubAnswer{502, `bad gateway`}, emails: githubAnswer{200, emails},
			wantErr: true, wantRequests: both[:1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := oauth.GitHub("github-client", "github-secret")
			gh := newGitHubFake(t, tc.user, tc.emails)
			claims, err := p.UserInfo(context.Background(), gh.client, p.UserInfoURL, &oauth2.Token{AccessToken: tc.token, TokenType: "bearer"})
			if diff := cmp.Diff(tc.wantRequests, gh.requests()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if tc.wantErr {
				if err == nil {
					t.Fatalf("UserInfo = %v, want an error", claims)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Profile(claims)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("profile (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAppleClientSecret(t *testing.T) {
	t.Parallel()
	keyPEM, key := builtinAppleKeyPEM(t)
	cfg := oauth.AppleConfig{ClientID: "com.example.web", TeamID: "TEAM123456", KeyID: "KEY1234567", PrivateKey: keyPEM,
		Audiences: []string{"com.example.ios"}}
	p, err := oauth.Apple(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.ClientSecretFunc == nil || p.ClientSecret != "" {
		t.Fatalf("ClientSecretFunc set %v, ClientSecret %q", p.ClientSecretFunc != nil, p.ClientSecret)
	}
	before := time.Now().Truncate(time.Second)
	secret, err := p.ClientSecretFunc(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()

	tok, err := jwt.ParseSigned(secret, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	h := tok.Headers[0]
	if diff := cmp.Diff([]string{"ES256", "KEY1234567"}, []string{h.Algorithm, h.KeyID}); diff != "" {
		t.Errorf("header alg, kid (-want +got):\n%s", diff)
	}
	var claims jwt.Claims
	var raw map[string]any
	if err := tok.Claims(&key.PublicKey, &claims, &raw); err != nil {
		t.Fatalf("the secret is not signed by the key: %v", err)
	}
	if err := claims.ValidateWithLeeway(jwt.Expected{Issuer: "TEAM123456", Subject: "com.example.web",
		AnyAudience: jwt.Audience{"https://appleid.apple.com"}, Time: time.Now()}, 0); err != nil {
		t.Error(err)
	}
	if aud, ok := raw["aud"].(string); !ok || aud != "https://appleid.apple.com" {
		t.Errorf("aud = %#v, want the string https://appleid.apple.com", raw["aud"])
	}
	iat, exp := claims.IssuedAt.Time(), claims.Expiry.Time()
	if iat.Before(before) || iat.After(after) {
		t.Errorf("iat %v is not now (%v to %v)", iat, before, after)
	}
	if !exp.After(after.Add(time.Minute)) || exp.Sub(iat) > 180*24*time.Hour {
		t.Errorf("exp %v: want after a minute from now, within 6 months of iat %v", exp, iat)
	}
	if _, ok := raw["nbf"]; ok {
		t.Errorf("unexpected nbf in %v", raw)
	}

	// The secret is reused, by concurrent callers too.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			again, err := p.ClientSecretFunc(context.Background())
			if err != nil || again != secret {
				t.Errorf("second secret %q, %v: want the first again", again, err)
			}
		})
	}
	wg.Wait()

	// A key pasted with its line breaks escaped, as in many .env files,
	// is accepted.
	escaped := cfg
	escaped.PrivateKey = strings.ReplaceAll(strings.TrimSpace(keyPEM), "\n", `\n`)
	if _, err := oauth.Apple(escaped); err != nil {
		t.Errorf("escaped key: %v", err)
	}
}

func TestAppleBadConfig(t *testing.T) {
	t.Parallel()
	good, key := builtinAppleKeyPEM(t)
	// pemOf(typ)(der, err) is the PEM of a marshalled key.
	pemOf := func(typ string) func([]byte, error) string {
		return func(der []byte, err error) string {
			if err != nil {
				t.Fatal(err)
			}
			return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
		}
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var (
		sec1PEM   = pemOf("EC PRIVATE KEY")(x509.MarshalECPrivateKey(key))
		publicPEM = pemOf("PUBLIC KEY")(x509.MarshalPKIXPublicKey(&key.PublicKey))
		rsaPEM    = pemOf("PRIVATE KEY")(x509.MarshalPKCS8PrivateKey(rsaKey))
		p384PEM   = pemOf("PRIVATE KEY")(x509.MarshalPKCS8PrivateKey(p384))
		x25519PEM = pemOf("PRIVATE KEY")(x509.MarshalPKCS8PrivateKey(x25519))
		junkPEM   = pemOf("PRIVATE KEY")([]byte("not DER"), nil)
		lines     = strings.Split(strings.TrimSpace(good), "\n")
	)
	for _, tc := range []struct {
		name    string
		edit    func(*oauth.AppleConfig)
		wantErr string
	}{
		{"no key", func(c *oauth.AppleConfig) { c.PrivateKey = "" }, "not PEM"},
		{"key file name", func(c *oauth.AppleConfig) { c.PrivateKey = "AuthKey_KEY1234567.p8" }, "not PEM"},
		{"base64 without the PEM armour", func(c *oauth.AppleConfig) { c.PrivateKey = strings.Join(lines[1:len(lines)-1], "") }, "not PEM"},
		{"SEC 1 EC key", func(c *oauth.AppleConfig) { c.PrivateKey = sec1PEM }, `"EC PRIVATE KEY"`},
		{"public key", func(c *oauth.AppleConfig) { c.PrivateKey = publicPEM }, `"PUBLIC KEY"`},
		{"RSA key", func(c *oauth.AppleConfig) { c.PrivateKey = rsaPEM }, "P-256"},
		{"P-384 key", func(c *oauth.AppleConfig) { c.PrivateKey = p384PEM }, "P-256"},
		{"X25519 key", func(c *oauth.AppleConfig) { c.PrivateKey = x25519PEM }, "P-256"},
		{"corrupt key", func(c *oauth.AppleConfig) { c.PrivateKey = junkPEM }, "PKCS #8"},
		{"no client ID", func(c *oauth.AppleConfig) { c.ClientID = "" }, "ClientID"},
		{"no team ID", func(c *oauth.AppleConfig) { c.TeamID = " " }, "TeamID"},
		{"no key ID", func(c *oauth.AppleConfig) { c.KeyID = "" }, "KeyID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := oauth.AppleConfig{ClientID: "com.example.web", TeamID: "TEAM123456", KeyID: "KEY1234567", PrivateKey: good}
			tc.edit(&cfg)
			p, err := oauth.Apple(cfg)
			if err == nil {
				t.Fatalf("Apple() = %+v, want an error", p)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "oauth: Apple: ") {
				t.Errorf("error %q: want it to name %q", err, tc.wantErr)
			}
		})
	}
}

func TestMicrosoftIssuerMatch(t *testing.T) {
	t.Parallel()
	const (
		contoso  = "72f988bf-86f1-41af-91ab-2d7cd011db47"
		fabrikam = "3c5b7d0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
		consumer = "9188040d-6c67-4c5b-b112-36a304b66dad"
	)
	iss := func(tid string) string { return "https://login.microsoftonline.com/" + tid + "/v2.0" }
	for _, tc := range []struct {
		name, tenant, iss string
		claims            map[string]any
		want              bool
	}{
		{"common: own tenant", "", iss(contoso), map[string]any{"tid": contoso}, true},
		{"common: personal account", "common", iss(consumer), map[string]any{"tid": consumer}, true},
		{"common: another tenant's issuer", "common", iss(fabrikam), map[string]any{"tid": contoso}, false},
		{"common: no tid", "common", iss(contoso), map[string]any{}, false},
		{"common: tid not a string", "common", iss(contoso), map[string]any{"tid": 42.0}, false},
		{"common: the common issuer", "common", iss("common"), map[string]any{"tid": contoso}, false},
		{"common: v1 issuer", "common", "https://sts.windows.net/" + contoso + "/", map[string]any{"tid": contoso}, false},
		{"common: another host", "common", "https://login.example.com/" + contoso + "/v2.0", map[string]any{"tid": contoso}, false},
		{"common: tid with a path", "common", iss(contoso + "/x"), map[string]any{"tid": contoso + "/x"}, false},
		{"Common is common", "Common", iss(contoso), map[string]any{"tid": contoso}, true},
		{"organizations: work account", "organizations", iss(contoso), map[string]any{"tid": contoso}, true},
		{"organizations: personal account", "organizations", iss(consumer), map[string]any{"tid": consumer}, false},
		{"consumers: personal account", "consumers", iss(consumer), map[string]any{"tid": consumer}, true},
		{"consumers: work account", "consumers", iss(contoso), map[string]any{"tid": contoso}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := oauth.Microsoft(oauth.MicrosoftConfig{ClientID: "ms-client", ClientSecret: "s", TenantID: tc.tenant})
			if p.IssuerMatch == nil {
				t.Fatal("no IssuerMatch for a multi-tenant endpoint")
			}
			if got := p.IssuerMatch(tc.iss, tc.claims); got != tc.want {
				t.Errorf("IssuerMatch(%q, %v) = %v, want %v", tc.iss, tc.claims, got, tc.want)
			}
		})
	}
	t.Run("fixed tenant", func(t *testing.T) {
		t.Parallel()
		p := oauth.Microsoft(oauth.MicrosoftConfig{ClientID: "ms-client", ClientSecret: "s", TenantID: contoso})
		if p.IssuerMatch != nil {
			t.Error("a fixed tenant has an IssuerMatch: want Issuer equality")
		}
		got := []string{p.Issuer, p.AuthURL, p.TokenURL, p.JWKSURL}
		want := []string{iss(contoso),
			"https://login.microsoftonline.com/" + contoso + "/oauth2/v2.0/authorize",
			"https://login.microsoftonline.com/" + contoso + "/oauth2/v2.0/token",
			"https://login.microsoftonline.com/" + contoso + "/discovery/v2.0/keys"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("endpoints (-want +got):\n%s", diff)
		}
	})
}

func TestGoogleIssuerMatch(t *testing.T) {
	t.Parallel()
	p := oauth.Google("c", "s")
	for iss, want := range map[string]bool{"https://accounts.google.com": true, "accounts.google.com": true,
		"https://accounts.google.com/": false, "http://accounts.google.com": false, "https://evil.example.com": false, "": false} {
		if got := p.IssuerMatch(iss, nil); got != want {
			t.Errorf("IssuerMatch(%q) = %v, want %v", iss, got, want)
		}
	}
}

// builtinShape is a provider's configuration without its functions.
type builtinShape struct {
	ID, Issuer, AuthURL, TokenURL, UserInfoURL, JWKSURL string
	Scopes, SigningAlgs, Audiences                      []string
	AuthParams                                          map[string]string
	HasSecret, HasSecretFunc, HasIssuerMatch            bool
	HasUserInfo, HasProfile                             bool
}

func shapeOf(p oauth.Provider) builtinShape {
	return builtinShape{ID: p.ID, Issuer: p.Issuer, AuthURL: p.AuthURL, TokenURL: p.TokenURL, UserInfoURL: p.UserInfoURL,
		JWKSURL: p.JWKSURL, Scopes: p.Scopes, SigningAlgs: p.SigningAlgs, Audiences: p.Audiences, AuthParams: p.AuthParams,
		HasSecret: p.ClientSecret != "", HasSecretFunc: p.ClientSecretFunc != nil, HasIssuerMatch: p.IssuerMatch != nil,
		HasUserInfo: p.UserInfo != nil, HasProfile: p.Profile != nil}
}

func TestBuiltinProviderConfig(t *testing.T) {
	t.Parallel()
	providers := builtinProviders(t)
	rs256 := []string{"RS256"}
	want := map[string]builtinShape{
		"google": {ID: "google", Issuer: "https://accounts.google.com", AuthURL: "https://accounts.google.com/o/oauth2/v2/auth",
			TokenURL: "https://oauth2.googleapis.com/token", UserInfoURL: "https://openidconnect.googleapis.com/v1/userinfo",
			JWKSURL: "https://www.googleapis.com/oauth2/v3/certs", Scopes: []string{"openid", "email", "profile"},
			SigningAlgs: rs256, AuthParams: map[string]string{"include_granted_scopes": "true"},
			HasSecret: true, HasIssuerMatch: true, HasProfile: true},
		"github": {ID: "github", AuthURL: "https://github.com/login/oauth/authorize",
			TokenURL: "https://github.com/login/oauth/access_token", UserInfoURL: "https://api.github.com/user",
			Scopes: []string{"read:user", "user:email"}, HasSecret: true, HasUserInfo: true, HasProfile: true},
		"apple": {ID: "apple", Issuer: "https://appleid.apple.com", AuthURL: "https://appleid.apple.com/auth/authorize",
			TokenURL: "https://appleid.apple.com/auth/token", JWKSURL: "https://appleid.apple.com/auth/keys",
			Scopes: []string{"name", "email"}, SigningAlgs: rs256, Audiences: []string{"com.example.ios"},
			AuthParams: map[string]string{"response_mode": "form_post"}, HasSecretFunc: true, HasProfile: true},
		"microsoft": {ID: "microsoft", Issuer: "https://login.microsoftonline.com/common/v2.0",
			AuthURL:  "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
			TokenURL: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
			JWKSURL:  "https://login.microsoftonline.com/common/discovery/v2.0/keys",
			Scopes:   []string{"openid", "profile", "email", "offline_access"}, SigningAlgs: rs256,
			HasSecret: true, HasIssuerMatch: true, HasProfile: true},
		"discord": {ID: "discord", AuthURL: "https://discord.com/api/oauth2/authorize", TokenURL: "https://discord.com/api/oauth2/token",
			UserInfoURL: "https://discord.com/api/users/@me", Scopes: []string{"identify", "email"},
			AuthParams: map[string]string{"prompt": "none"}, HasSecret: true, HasProfile: true},
		"gitlab": {ID: "gitlab", Issuer: "https://gitlab.com", AuthURL: "https://gitlab.com/oauth/authorize",
			TokenURL: "https://gitlab.com/oauth/token", UserInfoURL: "https://gitlab.com/oauth/userinfo",
			JWKSURL: "https://gitlab.com/oauth/discovery/keys", Scopes: []string{"openid", "email", "profile"},
			SigningAlgs: rs256, HasSecret: true, HasProfile: true},
	}
	got := map[string]builtinShape{}
	for id, p := range providers {
		got[id] = shapeOf(p)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("providers (-want +got):\n%s", diff)
	}

	self := shapeOf(oauth.GitLab(oauth.GitLabConfig{ClientID: "c", ClientSecret: "s", BaseURL: "https://gitlab.example.com/ "}))
	if diff := cmp.Diff([]string{"https://gitlab.example.com", "https://gitlab.example.com/oauth/authorize",
		"https://gitlab.example.com/oauth/token", "https://gitlab.example.com/oauth/userinfo",
		"https://gitlab.example.com/oauth/discovery/keys"},
		[]string{self.Issuer, self.AuthURL, self.TokenURL, self.UserInfoURL, self.JWKSURL}); diff != "" {
		t.Errorf("self-managed GitLab (-want +got):\n%s", diff)
	}
}

func TestBuiltinProvidersValid(t *testing.T) {
	t.Parallel()
	providers := builtinProviders(t)
	ids := []string{"google", "github", "apple", "microsoft", "discord", "gitlab"}
	var list []oauth.Provider
	for _, id := range ids {
		list = append(list, providers[id])
	}
	list = append(list,
		oauth.Microsoft(oauth.MicrosoftConfig{ClientID: "c", ClientSecret: "s", TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47"}),
		oauth.GitLab(oauth.GitLabConfig{ClientID: "c", ClientSecret: "s", BaseURL: "https://gitlab.example.com"}))
	list[6].ID, list[7].ID = "microsoft-contoso", "gitlab-self"
	p, err := oauth.New(oauth.Config{Providers: list})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append(ids, "microsoft-contoso", "gitlab-self"), p.Providers()); diff != "" {
		t.Errorf("Providers (-want +got):\n%s", diff)
	}
}
