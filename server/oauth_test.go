package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/internal/testoidc"
	"github.com/managarten/mana-auth/oauth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// testAppleKey is a throwaway Sign in with Apple key: EC P-256, PKCS #8
// PEM, as Apple's .p8 files hold it.
const testAppleKey = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgfU/VJWixLmaL1dw5
EKfiywWuTb0wmnfmty1J+eiWPhahRANCAATJ7m61HzbS8HpxJ9Hwq78Su9WO2Hmz
WZ18enpU+C6aGYHLbM0tAXj5C8s3f2WMVTeAjuWM2Jma6CEDtsBZNsRy
-----END PRIVATE KEY-----`

// testAppleKeyFile is a file holding testAppleKey, for
// OAUTH_APPLE_PRIVATE_KEY_FILE. configCases need its path before any test
// runs, so it is one file of the system's temporary directory, written
// at start through a rename (test processes running at once never read
// a partial one) and left there for the next run.
var testAppleKeyFile = func() string {
	path := filepath.Join(os.TempDir(), "mana-auth-server-test-apple.p8")
	f, err := os.CreateTemp(os.TempDir(), "mana-auth-apple-*.p8")
	if err != nil {
		panic(err)
	}
	_, err = f.WriteString(testAppleKey + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		panic(err)
	}
	return path
}()

// environ lists m as os.Environ would.
func environ(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// The generic providers are found by their discovery URL's variable, their
// id read from its name; they follow the built-in ones.
func TestOAuthFromEnviron(t *testing.T) {
	t.Parallel()
	local := OAuthProvider{Kind: "oidc", ID: "local-oidc", DiscoveryURL: "http://127.0.0.1:9000/.well-known/openid-configuration",
		ClientID: "mana-client", ClientSecret: "mana-secret", Scopes: []string{"openid", "email", "profile"}}
	localEnv := map[string]string{"OAUTH_OIDC_LOCAL_OIDC_DISCOVERY_URL": local.DiscoveryURL,
		"OAUTH_OIDC_LOCAL_OIDC_CLIENT_ID": "mana-client", "OAUTH_OIDC_LOCAL_OIDC_CLIENT_SECRET": "mana-secret"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want OAuthConfig
	}{
		{"nothing set: off", map[string]string{"PATH": "/usr/bin", "HOME": "/root"}, OAuthConfig{}},
		{"LOCAL_OIDC is local-oidc, default scopes", localEnv, OAuthConfig{Providers: []OAuthProvider{local}}},
		{"custom scopes", with(localEnv, "OAUTH_OIDC_LOCAL_OIDC_SCOPES", "  openid email   groups "), OAuthConfig{Providers: []OAuthProvider{
			func() OAuthProvider { p := local; p.Scopes = []string{"openid", "email", "groups"}; return p }()}}},
		{"custom scopes, comma-separated", with(localEnv, "OAUTH_OIDC_LOCAL_OIDC_SCOPES", "openid,email, offline_access"), OAuthConfig{Providers: []OAuthProvider{
			func() OAuthProvider { p := local; p.Scopes = []string{"openid", "email", "offline_access"}; return p }()}}},
		{"public client: no secret", with(localEnv, "OAUTH_OIDC_LOCAL_OIDC_CLIENT_SECRET", ""), OAuthConfig{Providers: []OAuthProvider{
			func() OAuthProvider { p := local; p.ClientSecret = ""; return p }()}}},
		{"an empty OAUTH_ variable is unset", with(localEnv, "OAUTH_GOOGLE_CLIENTID", " ", "OAUTH_GOOGLE_CLIENT_ID", " "),
			OAuthConfig{Providers: []OAuthProvider{local}}},
		{"built-in first, generic ones by id, trusted", with(localEnv, "OAUTH_OIDC_Keycloak_DISCOVERY_URL", "https://sso.example.com/realms/mana/.well-known/openid-configuration",
			"OAUTH_OIDC_Keycloak_CLIENT_ID", "kc", "OAUTH_GITHUB_CLIENT_ID", "gh-id", "OAUTH_GITHUB_CLIENT_SECRET", "gh-secret",
			"OAUTH_TRUSTED_PROVIDERS", "local-oidc,keycloak"), OAuthConfig{Providers: []OAuthProvider{
			{Kind: "github", ID: "github", ClientID: "gh-id", ClientSecret: "gh-secret"},
			{Kind: "oidc", ID: "keycloak", DiscoveryURL: "https://sso.example.com/realms/mana/.well-known/openid-configuration", ClientID: "kc",
				Scopes: []string{"openid", "email", "profile"}},
			local}, TrustedProviders: []string{"local-oidc", "keycloak"}}},
		{"every built-in", map[string]string{
			"OAUTH_APPLE_CLIENT_ID": "com.example.web", "OAUTH_APPLE_TEAM_ID": "TEAM123456", "OAUTH_APPLE_KEY_ID": "KEY1234567",
			"OAUTH_APPLE_PRIVATE_KEY_FILE": testAppleKeyFile,
			"OAUTH_GITLAB_CLIENT_ID":       "gl", "OAUTH_GITLAB_CLIENT_SECRET": "gl-s", "OAUTH_MICROSOFT_CLIENT_ID": "ms", "OAUTH_MICROSOFT_CLIENT_SECRET": "ms-s",
			"OAUTH_DISCORD_CLIENT_ID": "d", "OAUTH_DISCORD_CLIENT_SECRET": "d-s", "OAUTH_GITHUB_CLIENT_ID": "gh", "OAUTH_GITHUB_CLIENT_SECRET": "gh-s",
			"OAUTH_GOOGLE_CLIENT_ID": "g", "OAUTH_GOOGLE_CLIENT_SECRET": "g-s", "OAUTH_ENCRYPT_TOKENS": "false"},
			OAuthConfig{PlainTokens: true, Providers: []OAuthProvider{
				{Kind: "google", ID: "google", ClientID: "g", ClientSecret: "g-s"},
				{Kind: "github", ID: "github", ClientID: "gh", ClientSecret: "gh-s"},
				{Kind: "discord", ID: "discord", ClientID: "d", ClientSecret: "d-s"},
				{Kind: "microsoft", ID: "microsoft", ClientID: "ms", ClientSecret: "ms-s", TenantID: "common"},
				{Kind: "gitlab", ID: "gitlab", ClientID: "gl", ClientSecret: "gl-s"},
				{Kind: "apple", ID: "apple", ClientID: "com.example.web", TeamID: "TEAM123456", KeyID: "KEY1234567", PrivateKey: testAppleKey},
			}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := FromEnviron(environ(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, c.OAuth); d != "" {
				t.Errorf("OAuth (-want +got):\n%s", d)
			}
			p, err := c.OAuth.Plugin()
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.want.Providers) == 0 {
				if p != nil {
					t.Errorf("a plugin without providers: %v", p.Providers())
				}
				return
			}
			var ids []string
			for _, pr := range tc.want.Providers {
				ids = append(ids, pr.ID)
			}
			if d := cmp.Diff(ids, p.Providers()); d != "" {
				t.Errorf("the plugin's providers (-want +got):\n%s", d)
			}
		})
	}
	// FromEnv cannot list the environment: it finds no generic provider.
	c, err := FromEnv(envOf(localEnv))
	if err != nil || len(c.OAuth.Providers) != 0 {
		t.Errorf("FromEnv: %v, %+v", err, c.OAuth)
	}
}

// A provider half configured, a misspelt OAUTH_ variable or a malformed
// value stops the start with the variable's name, never quoting a secret.
func TestOAuthFromEnvironErrors(t *testing.T) {
	t.Parallel()
	apple := map[string]string{"OAUTH_APPLE_CLIENT_ID": "com.example.web", "OAUTH_APPLE_TEAM_ID": "TEAM123456",
		"OAUTH_APPLE_KEY_ID": "KEY1234567", "OAUTH_APPLE_PRIVATE_KEY": testAppleKey}
	local := map[string]string{"OAUTH_OIDC_LOCAL_OIDC_DISCOVERY_URL": "http://127.0.0.1:9000/.well-known/openid-configuration",
		"OAUTH_OIDC_LOCAL_OIDC_CLIENT_ID": "mana-client", "OAUTH_OIDC_LOCAL_OIDC_CLIENT_SECRET": "mana-very-secret"}
	google := map[string]string{"OAUTH_GOOGLE_CLIENT_ID": "g-id", "OAUTH_GOOGLE_CLIENT_SECRET": "google-very-secret"}
	type errCase struct {
		name    string
		env     map[string]string
		wantVar string
		wantMsg string
	}
	cases := []errCase{
		{"Apple: no private key", with(apple, "OAUTH_APPLE_PRIVATE_KEY", ""), "OAUTH_APPLE_PRIVATE_KEY", "is required when OAUTH_APPLE_CLIENT_ID is set"},
		{"Apple: nothing but the client id", map[string]string{"OAUTH_APPLE_CLIENT_ID": "com.example.web"}, "OAUTH_APPLE_TEAM_ID",
			"OAUTH_APPLE_KEY_ID: is required"},
		{"Apple: no key id", with(apple, "OAUTH_APPLE_KEY_ID", ""), "OAUTH_APPLE_KEY_ID", "is required when OAUTH_APPLE_CLIENT_ID is set"},
		{"Apple: not a key", with(apple, "OAUTH_APPLE_PRIVATE_KEY", "apple-not-a-key"), "OAUTH_APPLE_PRIVATE_KEY", "not PEM"},
		{"Apple: key and key file", with(apple, "OAUTH_APPLE_PRIVATE_KEY_FILE", testAppleKeyFile), "OAUTH_APPLE_PRIVATE_KEY_FILE", "set one of them"},
		{"Apple: no key file", with(apple, "OAUTH_APPLE_PRIVATE_KEY", "", "OAUTH_APPLE_PRIVATE_KEY_FILE", "/nonexistent/apple.p8"),
			"OAUTH_APPLE_PRIVATE_KEY_FILE", "cannot read the key"},
		{"Apple: bundle ids without the client id", map[string]string{"OAUTH_APPLE_APP_BUNDLE_IDS": "com.example.ios"}, "OAUTH_APPLE_APP_BUNDLE_IDS",
			"is set but OAUTH_APPLE_CLIENT_ID is not"},
		{"unknown OAUTH_ variable", with(google, "OAUTH_GOOGLE_CLIENTID", "x"), "OAUTH_GOOGLE_CLIENTID", "is not a variable mana-auth reads"},
		{"a misspelt secret is named, not the missing one", map[string]string{"OAUTH_GOOGLE_CLIENT_ID": "g-id", "OAUTH_GOOGLE_CLIENT_SECRT": "google-very-secret"},
			"OAUTH_GOOGLE_CLIENT_SECRT", "is not a variable mana-auth reads"},
		{"unknown provider", map[string]string{"OAUTH_FACEBOOK_CLIENT_ID": "fb"}, "OAUTH_FACEBOOK_CLIENT_ID", "is not a variable mana-auth reads"},
		{"generic variable without the discovery URL", with(local, "OAUTH_OIDC_LOCAL_ODIC_CLIENT_SECRET", "local-odic-secret"), "OAUTH_OIDC_LOCAL_ODIC_CLIENT_SECRET",
			"is set but OAUTH_OIDC_LOCAL_ODIC_DISCOVERY_URL is not"},
		{"generic: no client id", with(local, "OAUTH_OIDC_LOCAL_OIDC_CLIENT_ID", ""), "OAUTH_OIDC_LOCAL_OIDC_CLIENT_ID",
			"is required when OAUTH_OIDC_LOCAL_OIDC_DISCOVERY_URL is set"},
		{"generic: malformed discovery URL", with(local, "OAUTH_OIDC_LOCAL_OIDC_DISCOVERY_URL", "sso.example.com/.well-known/openid-configuration"),
			"OAUTH_OIDC_LOCAL_OIDC_DISCOVERY_URL", "is not an absolute http(s) URL"},
		{"generic: discovery URL of another scheme", with(local, "OAUTH_OIDC_LOCAL_OIDC_DISCOVERY_URL", "ftp://sso.example.com/"),
			"OAUTH_OIDC_LOCAL_OIDC_DISCOVERY_URL", "is not an absolute http(s) URL"},
		{"generic: bad id", with(local, "OAUTH_OIDC_LOCAL__OIDC_DISCOVERY_URL", "https://sso.example.com/"), "OAUTH_OIDC_LOCAL__OIDC_DISCOVERY_URL",
			"letters and digits joined by single _"},
		{"generic: a built-in's id", with(google, "OAUTH_OIDC_GOOGLE_DISCOVERY_URL", "https://accounts.google.com/.well-known/openid-configuration",
			"OAUTH_OIDC_GOOGLE_CLIENT_ID", "g2"), "OAUTH_OIDC_GOOGLE_DISCOVERY_URL", `names provider "google", which OAUTH_GOOGLE_CLIENT_ID already configures`},
		{"generic: one id spelt twice", with(local, "OAUTH_OIDC_Local_Oidc_DISCOVERY_URL", "https://sso.example.com/", "OAUTH_OIDC_Local_Oidc_CLIENT_ID", "c"),
			"OAUTH_OIDC_Local_Oidc_DISCOVERY_URL", `names provider "local-oidc"`},
		{"generic: the password account's id", map[string]string{"OAUTH_OIDC_CREDENTIAL_DISCOVERY_URL": "https://sso.example.com/",
			"OAUTH_OIDC_CREDENTIAL_CLIENT_ID": "c"}, "OAUTH_OIDC_CREDENTIAL_DISCOVERY_URL", "the password account's"},
		{"trusted: not configured", with(google, "OAUTH_TRUSTED_PROVIDERS", "google,gogle"), "OAUTH_TRUSTED_PROVIDERS", `"gogle" is not a configured provider (configured: google)`},
		{"encrypt tokens: not a boolean", with(google, "OAUTH_ENCRYPT_TOKENS", "no thanks"), "OAUTH_ENCRYPT_TOKENS", "must be true or false"},
		{"GitLab: malformed base URL", map[string]string{"OAUTH_GITLAB_CLIENT_ID": "gl", "OAUTH_GITLAB_CLIENT_SECRET": "gitlab-very-secret",
			"OAUTH_GITLAB_BASE_URL": "gitlab.example.com"}, "OAUTH_GITLAB_BASE_URL", "is not an absolute http(s) URL"},
		{"Microsoft: malformed tenant", map[string]string{"OAUTH_MICROSOFT_CLIENT_ID": "ms", "OAUTH_MICROSOFT_CLIENT_SECRET": "ms-very-secret",
			"OAUTH_MICROSOFT_TENANT_ID": "contoso/../common"}, "OAUTH_MICROSOFT_TENANT_ID", "is not a tenant"},
	}
	for _, p := range []string{"GOOGLE", "GITHUB", "DISCORD", "MICROSOFT", "GITLAB"} {
		cases = append(cases, errCase{p + ": no secret", map[string]string{"OAUTH_" + p + "_CLIENT_ID": "id"}, "OAUTH_" + p + "_CLIENT_SECRET",
			"is required when OAUTH_" + p + "_CLIENT_ID is set"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := FromEnviron(environ(tc.env))
			assertConfigError(t, err, tc.wantVar)
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("%v; want it to say %q", err, tc.wantMsg)
			}
			if strings.Contains(err.Error(), "\n") && !strings.Contains(tc.name, "nothing but") {
				t.Errorf("not one line: %q", err)
			}
			for k, v := range tc.env {
				if (strings.HasSuffix(k, "_SECRET") || strings.HasSuffix(k, "_PRIVATE_KEY")) && strings.Contains(err.Error(), v) {
					t.Errorf("the error quotes %s: %v", k, err)
				}
			}
		})
	}
}

// oauthVars is exactly what config.go reads by name, so that FromEnviron
// refuses no variable it reads and knows every one it does.
func TestOAuthVarsAreTheOnesRead(t *testing.T) {
	t.Parallel()
	var read []string
	for _, v := range fromEnvVariables(t) {
		if strings.HasPrefix(v, "OAUTH_") {
			read = append(read, v)
		}
	}
	want := slices.Sorted(slices.Values(oauthVars))
	if d := cmp.Diff(want, read); d != "" {
		t.Errorf("oauthVars (-listed +read by getenv):\n%s", d)
	}
}

// Without OAUTH_ variables no oauth plugin is mounted: its routes are
// unknown routes.
func TestOAuthOffWithoutVariables(t *testing.T) {
	t.Parallel()
	cfg, err := FromEnviron([]string{"PATH=/usr/bin", "HOME=/root"})
	if err != nil {
		t.Fatal(err)
	}
	env := newE2E(t, func(c *Config) { c.OAuth = cfg.OAuth })
	if p := env.s.auth.Host().Plugin("oauth"); p != nil {
		t.Fatalf("oauth plugin mounted: %v", p)
	}
	unknown := env.post(t, "/api/auth/no-such-route", `{"provider":"google"}`)
	want(t, "an unknown route", unknown, http.StatusNotFound, "")
	for _, r := range []req{
		{method: "POST", path: "/api/auth/sign-in/social", body: `{"provider":"google","callbackURL":"/"}`},
		{method: "GET", path: "/api/auth/callback/google?code=c&state=s"},
		{method: "POST", path: "/api/auth/link-social", body: `{"provider":"google"}`},
	} {
		got := env.do(t, r)
		want(t, r.method+" "+r.path, got, http.StatusNotFound, errCode(unknown))
		if got.raw != unknown.raw {
			t.Errorf("%s %s: %s, unlike an unknown route (%s)", r.method, r.path, got.raw, unknown.raw)
		}
	}
}

// Every built-in provider mounts from its variables: sign-in/social
// sends the browser to the provider with the client id and the callback
// to register.
func TestOAuthBuiltInsMounted(t *testing.T) {
	t.Parallel()
	cfg, err := FromEnviron(environ(map[string]string{
		"OAUTH_GOOGLE_CLIENT_ID": "g-id", "OAUTH_GOOGLE_CLIENT_SECRET": "g-secret",
		"OAUTH_GITHUB_CLIENT_ID": "gh-id", "OAUTH_GITHUB_CLIENT_SECRET": "gh-secret",
		"OAUTH_DISCORD_CLIENT_ID": "d-id", "OAUTH_DISCORD_CLIENT_SECRET": "d-secret",
		"OAUTH_MICROSOFT_CLIENT_ID": "ms-id", "OAUTH_MICROSOFT_CLIENT_SECRET": "ms-secret", "OAUTH_MICROSOFT_TENANT_ID": "organizations",
		"OAUTH_GITLAB_CLIENT_ID": "gl-id", "OAUTH_GITLAB_CLIENT_SECRET": "gl-secret", "OAUTH_GITLAB_BASE_URL": "https://gitlab.example.com",
		"OAUTH_APPLE_CLIENT_ID": "com.example.web", "OAUTH_APPLE_TEAM_ID": "TEAM123456", "OAUTH_APPLE_KEY_ID": "KEY1234567",
		"OAUTH_APPLE_PRIVATE_KEY": strings.ReplaceAll(testAppleKey, "\n", `\n`), "OAUTH_APPLE_APP_BUNDLE_IDS": "com.example.ios",
		"OAUTH_OIDC_KEYCLOAK_DISCOVERY_URL": "https://sso.example.invalid/realms/mana/.well-known/openid-configuration",
		"OAUTH_OIDC_KEYCLOAK_CLIENT_ID":     "kc",
	}))
	if err != nil {
		t.Fatal(err)
	}
	env := newE2E(t, func(c *Config) { c.OAuth = cfg.OAuth })
	p, ok := env.s.auth.Host().Plugin("oauth").(*oauth.Plugin)
	if !ok {
		t.Fatal("no oauth plugin mounted")
	}
	if d := cmp.Diff([]string{"google", "github", "discord", "microsoft", "gitlab", "apple", "keycloak"}, p.Providers()); d != "" {
		t.Errorf("providers (-want +got):\n%s", d)
	}
	for _, tc := range []struct{ id, clientID, authURL, param string }{
		{"google", "g-id", "https://accounts.google.com/o/oauth2/v2/auth", ""},
		{"github", "gh-id", "https://github.com/login/oauth/authorize", ""},
		{"discord", "d-id", "https://discord.com/api/oauth2/authorize", ""},
		{"microsoft", "ms-id", "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize", ""},
		{"gitlab", "gl-id", "https://gitlab.example.com/oauth/authorize", ""},
		{"apple", "com.example.web", "https://appleid.apple.com/auth/authorize", "response_mode=form_post"},
	} {
		r := env.post(t, "/api/auth/sign-in/social", `{"provider":"`+tc.id+`","callbackURL":"/"}`)
		want(t, tc.id, r, http.StatusOK, "")
		raw, _ := r.body["url"].(string)
		u, err := url.Parse(raw)
		if err != nil || r.body["redirect"] != true {
			t.Fatalf("%s: %s", tc.id, r.raw)
		}
		q := u.Query()
		if got := u.Scheme + "://" + u.Host + u.Path; got != tc.authURL {
			t.Errorf("%s: authorization at %s, want %s", tc.id, got, tc.authURL)
		}
		if q.Get("client_id") != tc.clientID || q.Get("redirect_uri") != env.s.cfg.BaseURL+"/api/auth/callback/"+tc.id {
			t.Errorf("%s: client_id %q, redirect_uri %q", tc.id, q.Get("client_id"), q.Get("redirect_uri"))
		}
		if tc.param != "" && !strings.Contains(u.RawQuery, tc.param) {
			t.Errorf("%s: %s lacks %s", tc.id, u, tc.param)
		}
	}
}

// Apple returns with a form POST from its own origin: the server takes
// it without Apple's origin among the trusted ones, and sends the browser
// on to the GET callback.
func TestOAuthAppleFormPostNeedsNoTrustedOrigin(t *testing.T) {
	t.Parallel()
	cfg, err := FromEnviron(environ(map[string]string{"OAUTH_APPLE_CLIENT_ID": "com.example.web", "OAUTH_APPLE_TEAM_ID": "TEAM123456",
		"OAUTH_APPLE_KEY_ID": "KEY1234567", "OAUTH_APPLE_PRIVATE_KEY_FILE": testAppleKeyFile}))
	if err != nil {
		t.Fatal(err)
	}
	env := newE2E(t, func(c *Config) { c.OAuth = cfg.OAuth })
	r := env.do(t, req{method: "POST", path: "/api/auth/callback/apple", body: "code=the-code&state=the-state",
		hdr: []string{"Content-Type", "application/x-www-form-urlencoded", "Origin", "https://appleid.apple.com"}})
	want(t, "Apple's form POST", r, http.StatusFound, "")
	if loc := r.header.Get("Location"); loc != env.s.cfg.BaseURL+"/api/auth/callback/apple?code=the-code&state=the-state" {
		t.Errorf("redirected to %q", loc)
	}
}

// oauthBrowser is a browser, with its cookies and its own client IP,
// that signs in through the server at an OpenID provider.
type oauthBrowser struct {
	t    *testing.T
	base string
	ip   string
	c    *http.Client
}

func newOAuthBrowser(t *testing.T, base, ip string) *oauthBrowser {
	jar, _ := cookiejar.New(nil)
	return &oauthBrowser{t: t, base: base, ip: ip, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *oauthBrowser) do(method, target string, body any) resp {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		rd = strings.NewReader(string(js))
	}
	if strings.HasPrefix(target, "/") {
		target = b.base + target
	}
	hr, err := http.NewRequest(method, target, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("Origin", b.base)
	hr.Header.Set("X-Forwarded-For", b.ip)
	res, err := b.c.Do(hr)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

// signIn signs in at op as user, from POST /api/auth/sign-in/social to
// the server's answer to the provider's redirect.
func (b *oauthBrowser) signIn(op *testoidc.Provider, user testoidc.User) resp {
	b.t.Helper()
	r := b.do("POST", "/api/auth/sign-in/social", map[string]any{"provider": "local-oidc", "callbackURL": "/"})
	want(b.t, "sign-in/social", r, http.StatusOK, "")
	authURL, _ := r.body["url"].(string)
	back := op.Login(b.t, authURL, user.ID)
	if !strings.HasPrefix(back.String(), b.base+"/api/auth/callback/local-oidc?") {
		b.t.Fatalf("the provider sent the browser to %s", back)
	}
	return b.do("GET", back.String(), nil)
}

// newOAuthE2E starts an OpenID provider with the users and a reference
// server built from an environment that names it in
// OAUTH_OIDC_LOCAL_OIDC_* (and MANA_ADMIN_EMAILS, TRUSTED_PROXIES), plus
// the extra "NAME=value" variables.
func newOAuthE2E(t *testing.T, extra []string, users ...testoidc.User) (*e2e, *testoidc.Provider) {
	t.Helper()
	var op *testoidc.Provider
	env := newE2E(t, func(c *Config) {
		base := strings.Replace(c.BaseURL, "localhost", "127.0.0.1", 1)
		op = testoidc.Start(t, []testoidc.Client{{ID: "mana-client", Secret: "mana-client-secret",
			RedirectURIs: []string{base + "/api/auth/callback/local-oidc"}}}, users...)
		cfg, err := FromEnviron(append([]string{"PATH=/usr/bin", "BASE_URL=" + base, "AUTH_SECRET=" + goodSecret,
			"DATA_DIR=" + c.DataDir, "TRUSTED_PROXIES=127.0.0.1,::1", "MANA_ADMIN_EMAILS=boss@example.com, chief@example.com",
			"OAUTH_OIDC_LOCAL_OIDC_DISCOVERY_URL=" + op.DiscoveryURL(),
			"OAUTH_OIDC_LOCAL_OIDC_CLIENT_ID=mana-client", "OAUTH_OIDC_LOCAL_OIDC_CLIENT_SECRET=mana-client-secret"}, extra...))
		if err != nil {
			t.Fatal(err)
		}
		*c = cfg
	})
	return env, op
}

// The provider's users.
var (
	oidcAlice = testoidc.User{ID: "alice-sub", Email: "alice@example.com", EmailVerified: true, First: "Alice", Last: "Liddell"}
	oidcBoss  = testoidc.User{ID: "boss-sub", Email: "Boss@Example.com", EmailVerified: true, First: "The", Last: "Boss"}
	// oidcChief claims an admin's address that the provider did not
	// verify.
	oidcChief = testoidc.User{ID: "chief-sub", Email: "chief@example.com", EmailVerified: false, First: "Not", Last: "Chief"}
)

// A sign-in at an OpenID provider configured by environment, through the
// reference server: the browser comes back signed in, the user is made
// by the server's hooks (role, tier, REGISTER event), MANA_ADMIN_EMAILS
// makes a verified address admin and only a verified one, and the
// provider's tokens are stored sealed.
func TestOAuthSignInThroughServer(t *testing.T) {
	t.Parallel()
	env, op := newOAuthE2E(t, nil, oidcAlice, oidcBoss, oidcChief)
	base := env.s.cfg.BaseURL
	ctx := context.Background()
	for i, tc := range []struct {
		user     testoidc.User
		role     string
		verified bool
	}{
		{oidcAlice, RoleUser, true},
		{oidcBoss, RoleAdmin, true},
		{oidcChief, RoleUser, false},
	} {
		t.Run(tc.user.ID, func(t *testing.T) {
			b := newOAuthBrowser(t, base, "10.9.0."+string(rune('1'+i)))
			r := b.signIn(op, tc.user)
			want(t, "callback", r, http.StatusFound, "")
			if loc := r.header.Get("Location"); loc != "/" && loc != base+"/" {
				t.Fatalf("callback redirected to %q", loc)
			}
			if cookieOf(r, "mana.session_token") == "" {
				t.Fatalf("no session cookie: %v", r.header.Values("Set-Cookie"))
			}
			s := b.do("GET", "/api/auth/get-session", nil)
			user, _ := s.body["user"].(map[string]any)
			email := strings.ToLower(tc.user.Email)
			if s.status != http.StatusOK || user["email"] != email {
				t.Fatalf("get-session: %d %s", s.status, s.raw)
			}
			u, err := env.s.auth.Host().FindUserByEmail(ctx, email)
			if err != nil {
				t.Fatal(err)
			}
			if userRole(u) != tc.role || isAdmin(u) != (tc.role == RoleAdmin) || u.EmailVerified != tc.verified || userTier(u) != DefaultTier {
				t.Errorf("user: role %q, admin %v, verified %v, tier %q; want role %q, verified %v",
					userRole(u), isAdmin(u), u.EmailVerified, userTier(u), tc.role, tc.verified)
			}
			if u.Name != tc.user.First+" "+tc.user.Last {
				t.Errorf("name %q", u.Name)
			}
			if n := env.count(t, TableSecurityEvent, storage.W("userId", u.ID), storage.W("eventType", EventRegister)); n != 1 {
				t.Errorf("%d REGISTER events", n)
			}
			if n := env.count(t, TableSecurityEvent, storage.W("userId", u.ID), storage.W("eventType", EventLoginSuccess)); n != 1 {
				t.Errorf("%d LOGIN_SUCCESS events", n)
			}
			acc, err := env.s.db.FindOne(ctx, plugin.TableAccount, storage.W("userId", u.ID))
			if err != nil {
				t.Fatal(err)
			}
			if acc.String("providerId") != "local-oidc" || acc.String("accountId") != tc.user.ID {
				t.Errorf("account %v/%v", acc["providerId"], acc["accountId"])
			}
			// OAUTH_ENCRYPT_TOKENS is on by default: the row holds the
			// access token sealed, get-access-token opens it.
			tok := b.do("POST", "/api/auth/get-access-token", map[string]any{"accountId": acc.String("id")})
			plain, _ := tok.body["accessToken"].(string)
			if tok.status != http.StatusOK || plain == "" {
				t.Fatalf("get-access-token: %d %s", tok.status, tok.raw)
			}
			if stored := acc.String("accessToken"); stored == "" || stored == plain || strings.Contains(stored, plain) {
				t.Errorf("the access token is stored in plain text: %q", stored)
			}
		})
	}
	env.settleCredits(t)
}

// OAUTH_ENCRYPT_TOKENS=false stores the provider's tokens as they came.
func TestOAuthPlainTokens(t *testing.T) {
	t.Parallel()
	env, op := newOAuthE2E(t, []string{"OAUTH_ENCRYPT_TOKENS=false"}, oidcAlice)
	b := newOAuthBrowser(t, env.s.cfg.BaseURL, "10.9.1.1")
	want(t, "callback", b.signIn(op, oidcAlice), http.StatusFound, "")
	u, err := env.s.auth.Host().FindUserByEmail(context.Background(), oidcAlice.Email)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := env.s.db.FindOne(context.Background(), plugin.TableAccount, storage.W("userId", u.ID))
	if err != nil {
		t.Fatal(err)
	}
	tok := b.do("POST", "/api/auth/get-access-token", map[string]any{"accountId": acc.String("id")})
	if plain, _ := tok.body["accessToken"].(string); plain == "" || plain != acc.String("accessToken") {
		t.Errorf("stored %q, get-access-token %d %s", acc.String("accessToken"), tok.status, tok.raw)
	}
	env.settleCredits(t)
}

// isGenericOIDCVar reports whether name is a generic provider's variable,
// OAUTH_OIDC_<ID>_<suffix>: read by FromEnviron under a name of the
// operator's choosing, not by a getenv of its own.
func isGenericOIDCVar(name string) bool {
	rest, ok := strings.CutPrefix(name, oidcPrefix)
	if !ok {
		return false
	}
	for _, suf := range oidcSuffixes {
		if id, ok := strings.CutSuffix(rest, suf); ok && oidcEnvID.MatchString(id) {
			return true
		}
	}
	return false
}

// .env.example shows a generic provider with all its variables, and its
// example reads.
func TestEnvExampleShowsGenericProvider(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "#")), "="); ok && strings.HasPrefix(k, "OAUTH_") && !strings.Contains(k, " ") {
			env[k] = v
		}
	}
	for _, suf := range oidcSuffixes {
		if env["OAUTH_OIDC_KEYCLOAK"+suf] == "" && suf != "_CLIENT_SECRET" {
			t.Errorf(".env.example shows no OAUTH_OIDC_KEYCLOAK%s example", suf)
		}
	}
	// Its commented examples, uncommented with an Apple key, configure
	// every provider.
	env["OAUTH_APPLE_PRIVATE_KEY_FILE"] = testAppleKeyFile
	for k, v := range env {
		if v == "" {
			env[k] = strings.ToLower(k) + "-value"
		}
	}
	delete(env, "OAUTH_APPLE_PRIVATE_KEY")
	c, err := FromEnviron(environ(env))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := c.OAuth.Plugin(); err != nil || len(p.Providers()) != 7 {
		t.Fatalf("%v, %+v", err, c.OAuth)
	}
}

// The login lockout counts passwords. A sign-in through a provider checks
// none, so an email locked by wrong passwords still signs in there (as by
// a magic link), and whoever guesses passwords cannot keep the owner out;
// a refused callback records no sign-in.
func TestOAuthSignInWhileLocked(t *testing.T) {
	t.Parallel()
	env, op := newOAuthE2E(t, nil, oidcAlice)
	base := env.s.cfg.BaseURL
	ctx := context.Background()
	first := newOAuthBrowser(t, base, "10.9.1.1")
	want(t, "first sign-in", first.signIn(op, oidcAlice), http.StatusFound, "")
	u, err := env.s.auth.Host().FindUserByEmail(ctx, oidcAlice.Email)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		g := newOAuthBrowser(t, base, fmt.Sprintf("10.9.2.%d", i+1))
		g.do("POST", "/api/auth/sign-in/email", map[string]any{"email": oidcAlice.Email, "password": "wrong-password-1"})
	}
	locked := newOAuthBrowser(t, base, "10.9.3.1")
	if r := locked.do("POST", "/api/auth/sign-in/email", map[string]any{"email": oidcAlice.Email, "password": "wrong-password-1"}); r.status != http.StatusTooManyRequests {
		t.Fatalf("the email is not locked: %d %s", r.status, r.raw)
	}
	b := newOAuthBrowser(t, base, "10.9.4.1")
	want(t, "sign-in while locked", b.signIn(op, oidcAlice), http.StatusFound, "")
	if s := b.do("GET", "/api/auth/get-session", nil); s.status != http.StatusOK || !strings.Contains(s.raw, oidcAlice.Email) {
		t.Fatalf("get-session: %d %s", s.status, s.raw)
	}
	// A replayed callback ends in an error: no LOGIN_SUCCESS for it.
	before := env.count(t, TableSecurityEvent, storage.W("userId", u.ID), storage.W("eventType", EventLoginSuccess))
	if r := b.do("GET", "/api/auth/callback/local-oidc?state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&code=x", nil); r.status != http.StatusFound {
		t.Fatalf("replayed callback: %d", r.status)
	}
	if n := env.count(t, TableSecurityEvent, storage.W("userId", u.ID), storage.W("eventType", EventLoginSuccess)); n != before {
		t.Fatalf("a refused callback was logged as a sign-in (%d → %d)", before, n)
	}
}
