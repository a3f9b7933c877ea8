package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/oauth"
	"github.com/managarten/mana-auth/plugin"
)

func TestSignInNewUser(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"memory", "sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: db})
			b := e.browser()
			r := b.do("POST", "/api/auth/sign-in/social", map[string]any{"provider": providerID,
				"callbackURL": "/dashboard", "newUserCallbackURL": "/welcome"})
			if r.status != 200 || r.body["redirect"] != true || r.header.Get("Location") != r.str("url") {
				t.Fatalf("sign-in/social: %d %v %s", r.status, r.header, r.raw)
			}
			au, _ := url.Parse(r.str("url"))
			q := au.Query()
			if got, want := au.Scheme+"://"+au.Host+au.Path, e.op.Issuer+"/authorize"; got != want {
				t.Errorf("authorization endpoint %s, want %s", got, want)
			}
			want := map[string]string{"response_type": "code", "client_id": clientID, "scope": "openid email profile offline_access",
				"redirect_uri": e.srv.URL + "/api/auth/callback/" + providerID, "code_challenge_method": "S256"}
			for k, v := range want {
				if q.Get(k) != v {
					t.Errorf("authorization URL %s=%q, want %q", k, q.Get(k), v)
				}
			}
			if len(q.Get("state")) != 32 || len(q.Get("nonce")) != 32 || len(q.Get("code_challenge")) != 43 {
				t.Errorf("state %q, nonce %q, code_challenge %q", q.Get("state"), q.Get("nonce"), q.Get("code_challenge"))
			}
			final := b.callback(e.op.Login(t, r.str("url"), alice.ID))
			if loc := location(t, final); loc.String() != "/welcome" {
				t.Fatalf("a new user goes to newUserCallbackURL, got %s", loc)
			}
			s := b.session()
			user, _ := s["user"].(map[string]any)
			if user["email"] != alice.Email || user["name"] != "Alice Liddell" || user["emailVerified"] != true {
				t.Fatalf("session user %v", user)
			}
			accs := e.accounts(alice.Email)
			if len(accs) != 1 || accs[0].ProviderID != providerID || accs[0].AccountID != alice.ID ||
				accs[0].AccessToken == nil || accs[0].RefreshToken == nil || accs[0].IDToken == nil ||
				accs[0].AccessTokenExpiresAt == nil || accs[0].Scope == nil {
				t.Fatalf("accounts %+v", accs)
			}
			if got := *accs[0].Scope; got != "openid,email,profile,offline_access" {
				t.Errorf("scope %q", got)
			}
			if n := e.count(plugin.TableVerification); n != 0 {
				t.Errorf("%d verification rows left: the state is consumed", n)
			}

			// Returning: same user, no new user or account, to callbackURL.
			b2 := e.browser()
			final = b2.flow("/api/auth/sign-in/social", map[string]any{"callbackURL": "/dashboard", "newUserCallbackURL": "/welcome"}, alice)
			if loc := location(t, final); loc.String() != "/dashboard" {
				t.Fatalf("a returning user goes to callbackURL, got %s", loc)
			}
			if n := e.count(plugin.TableUser); n != 1 {
				t.Fatalf("%d users", n)
			}
			if got := e.accounts(alice.Email); len(got) != 1 || got[0].ID != accs[0].ID || *got[0].AccessToken == *accs[0].AccessToken {
				t.Fatalf("the returning sign-in updates the tokens of the one account: %+v", got)
			}
		})
	}
}

func TestSignInDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	b := e.browser()
	r := b.do("POST", "/api/auth/sign-in/social", map[string]any{"provider": providerID, "disableRedirect": true})
	if r.status != 200 || r.body["redirect"] != false || r.header.Get("Location") != "" {
		t.Fatalf("disableRedirect: %d %v %s", r.status, r.header, r.raw)
	}
	var stateCookie string
	for _, c := range strings.Split(strings.Join(r.header.Values("Set-Cookie"), "\n"), "\n") {
		if strings.HasPrefix(c, "better-auth.state=") {
			stateCookie = c
		}
	}
	for _, part := range []string{"Max-Age=300", "Path=/", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(stateCookie, part) {
			t.Errorf("state cookie %q lacks %s", stateCookie, part)
		}
	}
	// Extra parameters and scopes; the reserved parameters cannot be set.
	r2 := e.browser().do("POST", "/api/auth/sign-in/social", map[string]any{"provider": providerID, "scopes": []string{"phone", "email"},
		"loginHint": "bob@example.com", "additionalParams": map[string]any{"prompt": "consent", "redirect_uri": "https://evil.example.com/cb", "state": "x"}})
	au, _ := url.Parse(r2.str("url"))
	q := au.Query()
	if q.Get("prompt") != "consent" || q.Get("login_hint") != "bob@example.com" || q.Get("redirect_uri") != e.srv.URL+"/api/auth/callback/"+providerID ||
		len(q.Get("state")) != 32 || q.Get("scope") != "openid email profile offline_access phone" {
		t.Fatalf("authorization URL %s", au)
	}
	final := b.callback(e.op.Login(t, r.str("url"), bob.ID))
	if loc := location(t, final); loc.String() != e.srv.URL {
		t.Fatalf("without callbackURL the flow ends at the base URL, got %s", loc)
	}
}

func TestUnknownProvider(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	b := e.browser()
	r := b.do("POST", "/api/auth/sign-in/social", map[string]any{"provider": "nope"})
	if r.status != 404 || r.str("code") != "PROVIDER_NOT_FOUND" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	for _, body := range []map[string]any{{}, {"provider": 7}, {"provider": nil}} {
		r = b.do("POST", "/api/auth/sign-in/social", body)
		if r.status != 400 || r.str("code") != "VALIDATION_ERROR" || r.str("message") != "[body.provider] Invalid input" {
			t.Fatalf("%v: %d %s", body, r.status, r.raw)
		}
	}
	r = b.do("POST", "/api/auth/sign-in/social", map[string]any{"provider": providerID, "scopes": "email"})
	if r.status != 400 || r.str("code") != "VALIDATION_ERROR" {
		t.Fatalf("scopes not an array: %d %s", r.status, r.raw)
	}
	r = b.do("POST", "/api/auth/sign-in/social", map[string]any{"provider": providerID, "additionalParams": map[string]any{"prompt": 1}})
	if r.status != 400 || r.str("code") != "INVALID_ADDITIONAL_PARAMS" {
		t.Fatalf("additionalParams not strings: %d %s", r.status, r.raw)
	}
	if r := e.browser().do("GET", "/api/auth/account-info", nil); r.status != 400 || r.str("message") != "[query] Invalid input" {
		t.Fatalf("account-info without accountId: %d %s", r.status, r.raw)
	}
}

func TestImplicitLinking(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name          string
		localVerified bool
		user          string // the provider's user
		trusted       bool
		allowUnverLoc bool
		wantError     string // "" = linked and signed in
	}{
		{name: "both verified", localVerified: true, wantError: ""},
		{name: "local unverified", localVerified: false, wantError: "account_not_linked"},
		{name: "local unverified, allowed", localVerified: false, allowUnverLoc: true, wantError: ""},
		{name: "provider unverified", localVerified: true, user: "mallory", wantError: "account_not_linked"},
		{name: "provider unverified but trusted", localVerified: true, user: "mallory", trusted: true, wantError: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{cfg: func(c *oauth.Config) {
				c.AccountLinking.AllowUnverifiedLocalEmail = tc.allowUnverLoc
				if tc.trusted {
					c.AccountLinking.TrustedProviders = []string{providerID}
				}
			}})
			pu := alice
			if tc.user == "mallory" {
				pu = mallory
			}
			// A password account with the provider user's address.
			res, err := e.a.SignUpEmail(ctx, auth.SignUpInput{Email: pu.Email, Password: "local-password-1", Name: "Local"})
			if err != nil {
				t.Fatal(err)
			}
			if tc.localVerified {
				if _, err := e.a.Host().MarkEmailVerified(ctx, res.User, true); err != nil {
					t.Fatal(err)
				}
			}
			b := e.browser()
			final := b.flow("/api/auth/sign-in/social", map[string]any{"callbackURL": "/home", "errorCallbackURL": "/oops"}, pu)
			loc := location(t, final)
			accs := e.accounts(pu.Email)
			if tc.wantError != "" {
				if loc.Path != "/oops" || loc.Query().Get("error") != tc.wantError {
					t.Fatalf("redirect %s, want /oops?error=%s", loc, tc.wantError)
				}
				if len(accs) != 1 || accs[0].ProviderID != plugin.CredentialProvider {
					t.Fatalf("nothing is linked on a refusal: %+v", accs)
				}
				if s := b.session(); s != nil {
					t.Fatalf("no session on a refusal: %v", s)
				}
				return
			}
			if loc.String() != "/home" {
				t.Fatalf("redirect %s", loc)
			}
			s := b.session()
			if u, _ := s["user"].(map[string]any); u["id"] != res.User.ID {
				t.Fatalf("signed in as %v, want the existing user %s", u, res.User.ID)
			}
			var providers []string
			for _, a := range e.accounts(pu.Email) {
				providers = append(providers, a.ProviderID)
			}
			want := []string{plugin.CredentialProvider, providerID}
			if !tc.localVerified && !tc.trusted {
				// The proven owner takes the unverified account over: the
				// password someone else may have set is gone.
				want = []string{providerID}
			}
			if diff := cmp.Diff(want, providers); diff != "" {
				t.Fatalf("accounts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFormPostCallback: a provider's form_post (Apple's) is a cross-site
// POST, answered with a redirect to the GET callback with the same
// parameters, where the browser's SameSite=Lax cookies come along.
func TestFormPostCallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	b := e.browser()
	back := e.op.Login(t, b.start("/api/auth/sign-in/social", map[string]any{"callbackURL": "/home"}), alice.ID)
	form := url.Values{"code": {back.Query().Get("code")}, "state": {back.Query().Get("state")},
		"user": {`{"name":{"firstName":"A","lastName":"L"}}`}}
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/auth/callback/"+providerID, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://appleid.apple.com")
	req.Header.Set("Cookie", "unrelated=1") // a cookie that is sent cross-site
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc.Path != "/api/auth/callback/"+providerID {
		t.Fatalf("%d %s", resp.StatusCode, loc)
	}
	if diff := cmp.Diff(form, loc.Query()); diff != "" {
		t.Fatalf("parameters (-posted +redirected):\n%s", diff)
	}
	if final := b.do("GET", loc.String(), nil); location(t, final).String() != "/home" {
		t.Fatalf("the GET callback: %s", location(t, final))
	}
}

func TestSignUpRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		disable       bool
		implicit      bool // DisableImplicitSignUp
		requestSignUp bool
		wantError     string
	}{
		{name: "open"},
		{name: "disabled", disable: true, wantError: "signup_disabled"},
		{name: "disabled, even when requested", disable: true, requestSignUp: true, wantError: "signup_disabled"},
		{name: "implicit disabled", implicit: true, wantError: "signup_disabled"},
		{name: "implicit disabled, requested", implicit: true, requestSignUp: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{cfg: func(c *oauth.Config) {
				c.Providers[0].DisableSignUp = tc.disable
				c.Providers[0].DisableImplicitSignUp = tc.implicit
			}})
			before := e.counts()
			r := e.browser().flow("/api/auth/sign-in/social", map[string]any{"callbackURL": "/home", "errorCallbackURL": "/err",
				"requestSignUp": tc.requestSignUp}, alice)
			if tc.wantError != "" {
				expectError(t, e, r, before, "/err", tc.wantError)
				return
			}
			if loc := location(t, r); loc.String() != "/home" || e.count(plugin.TableUser) != 1 {
				t.Fatalf("redirect %s, %d users", loc, e.count(plugin.TableUser))
			}
		})
	}
	// A returning user signs in whatever the sign-up rules.
	e := newEnv(t, envOpts{cfg: func(c *oauth.Config) { c.Providers[0].DisableSignUp = true }})
	ctx := context.Background()
	res, err := e.a.SignUpEmail(ctx, auth.SignUpInput{Email: alice.Email, Password: "local-password-1", Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Host().MarkEmailVerified(ctx, res.User, true); err != nil {
		t.Fatal(err)
	}
	if loc := location(t, e.browser().flow("/api/auth/sign-in/social", map[string]any{"callbackURL": "/home"}, alice)); loc.String() != "/home" {
		t.Fatalf("an existing user with sign-up disabled: %s", loc)
	}
}

// TestUnverifiedSignUpIsMailed: a new user whose provider did not verify
// the address is created unverified and, with SendOnSignUp, sent the
// verification mail, as Better Auth does.
func TestUnverifiedSignUpIsMailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{authCfg: func(c *auth.Config) { c.EmailVerification.SendOnSignUp = true }})
	b := e.browser()
	if loc := location(t, b.flow("/api/auth/sign-in/social", map[string]any{"callbackURL": "/home"}, mallory)); loc.String() != "/home" {
		t.Fatalf("redirect %s", loc)
	}
	u, _ := b.session()["user"].(map[string]any)
	if u["emailVerified"] != false {
		t.Fatalf("user %v", u)
	}
	sent := e.box.Sent()
	if len(sent) != 1 || sent[0].To != mallory.Email || sent[0].Kind != plugin.EmailVerification {
		t.Fatalf("mails %+v", sent)
	}
	// A verified one is not mailed.
	location(t, e.browser().flow("/api/auth/sign-in/social", nil, bob))
	if n := len(e.box.Sent()); n != 1 {
		t.Fatalf("%d mails", n)
	}
}
